#!/usr/bin/env bash
# cli_resume.sh — long runs survive preemption (`--checkpoint DIR`,
# `--resume DIR`): at 2 ranks (and 1, 4) a kernel run that stops after its second
# checkpointed Jacobian block (the test hook TTP_TEST_KILL_AFTER_BLOCK, as a
# preempted job would) is resumed and gives the same numbers, bit for bit
# (Θ, eigenvalues, eigenvectors, projections, F0), as an uninterrupted run;
# a rerun on the finished checkpoint (the eigen stage read back) too.  A run
# with other options on that DIR is refused naming the difference (exit 2),
# and so is a predict resumed on the other dynamics path (eigen / direct),
# --resume on an empty DIR is refused, a damaged piece is an error naming it.
# Also: a tiny --mem-per-rank makes predict refuse before any work, with the
# estimate and the options that would fit; `plan --json` has its fields;
# slurm/submit.sh --model sizes a job with `ttpredict plan`.
set -u
BIN=${TTP_BIN:-}
MPIEXEC=${TTP_MPIEXEC:-mpiexec}
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then echo "SKIP: ttpredict binary not found"; exit 77; fi
command -v ncdump >/dev/null || { echo "SKIP: ncdump not found"; exit 77; }
T=$(mktemp -d /tmp/ttp_cli_resume.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0 checks=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { checks=$((checks + 1)); }

/usr/bin/python3 - "$T/small.csv" <<'PY'
import random, sys
random.seed(3)
with open(sys.argv[1], "w") as f:
    for i in range(40):
        f.write(",".join("%.6f" % random.gauss(0, 1) for _ in range(64)) + ",%d\n" % (i % 5))
PY
"$BIN" convert --csv "$T/small.csv" --label-col 65 --shape 1,8,8 --out "$T/small.nc" >/dev/null 2>"$T/cerr"
ok; [ -s "$T/small.nc" ] || { fail "convert: $(cat "$T/cerr")"; # slurm/submit.sh sizes a job with `ttpredict plan` when given the model
SRC=${TTP_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
MODEL=${TTP_DATA_DIR:-$SRC/data}/default-model.nc
line=$(TTP_BIN=$BIN bash "$SRC/slurm/submit.sh" --model "$MODEL" --n 50000 --dproj 1024 --top-k 256 --mem-per-task-gb 4 \
       --dry-run -- predict 2>&1 | tail -1)
ok; echo "$line" | grep -Eq -- "--ntasks=[0-9]+ --mem-per-cpu=[0-9]+M" || fail "submit.sh --model: $line"
TTP_BIN=$BIN bash "$SRC/slurm/submit.sh" --model "$MODEL" --n 50000 --dproj 1024 --mem-per-task-gb 1 --dry-run \
  -- predict >/dev/null 2>"$T/serr"
rc=$?; ok
[ $rc -eq 2 ] && grep -q "fit_subset" "$T/serr" || fail "submit.sh --model with too little memory: exit $rc, $(cat "$T/serr")"

echo "cli_resume: $checks checks, $fails failed"; exit 1; }

K=(kernel --data "$T/small.nc" --proj kron --dproj 256 --theta --vectors -q)
run() { timeout 300 "$MPIEXEC" -n 2 "$BIN" "${K[@]}" "$@"; }
# numbers only: the data section of one variable
nums() { ncdump -v "$2" "$1" | sed -n '/^data:/,$p'; }
same() {
  for v in eigval eigvec theta p_res p_grad f0; do
    ok; [ "$(nums "$1" $v)" = "$(nums "$2" $v)" ] || fail "$3: variable $v differs from the uninterrupted run"
  done
}

run --out "$T/ref.nc" >/dev/null 2>"$T/err_ref"
ok; [ -s "$T/ref.nc" ] || fail "uninterrupted run: $(cat "$T/err_ref")"

TTP_TEST_KILL_AFTER_BLOCK=2 run --checkpoint "$T/ck" --out "$T/a.nc" >/dev/null 2>"$T/err_kill"
rc=$?; ok
[ $rc -ne 0 ] && [ ! -e "$T/a.nc" ] || fail "the stopped run exited $rc or wrote its output"
ok; [ -s "$T/ck/manifest.txt" ] && [ -s "$T/ck/jac-r0-b1.bin" ] && [ -s "$T/ck/jac-r1-b1.bin" ] \
  || fail "no checkpoint pieces after the stop: $(ls "$T/ck" 2>&1)"
ok; [ ! -e "$T/ck/jac-r0-b2.bin" ] && [ ! -e "$T/ck/eigen-r0.bin" ] || fail "the stopped run went past block 2"
ok; ls "$T/ck" | grep -q tmp && fail "a temporary file is left in the checkpoint directory: $(ls "$T/ck")"

# what a SIGKILL'ed writer leaves: its temporary file, removed on resume
: >"$T/ck/jac-r0-b2.bin.tmp.99999"
run --resume "$T/ck" --out "$T/a.nc" >/dev/null 2>"$T/err_resume"
rc=$?; ok
[ $rc -eq 0 ] && [ -s "$T/a.nc" ] || fail "resumed run exited $rc: $(cat "$T/err_resume")"
ok; ls "$T/ck" | grep -q tmp && fail "a stale temporary file survived the resume: $(ls "$T/ck")"
same "$T/ref.nc" "$T/a.nc" "resumed run"
ok; [ -s "$T/ck/eigen-r0.bin" ] && [ -s "$T/ck/eigen-r1.bin" ] || fail "no eigen-stage checkpoint"

# the finished checkpoint: the eigen stage is read back
run --checkpoint "$T/ck" --out "$T/b.nc" >/dev/null 2>"$T/err_b"
rc=$?; ok
[ $rc -eq 0 ] || fail "rerun on the finished checkpoint exited $rc: $(cat "$T/err_b")"
same "$T/ref.nc" "$T/b.nc" "run from the eigen checkpoint"

# at 1 and 4 ranks too: stop after the first block, resume, the same bits
for np in 1 4; do
  timeout 300 "$MPIEXEC" -n $np "$BIN" "${K[@]}" --out "$T/ref$np.nc" >/dev/null 2>"$T/err_ref$np"
  TTP_TEST_KILL_AFTER_BLOCK=1 timeout 300 "$MPIEXEC" -n $np "$BIN" "${K[@]}" --checkpoint "$T/ck$np" \
    --out "$T/r$np.nc" >/dev/null 2>&1
  timeout 300 "$MPIEXEC" -n $np "$BIN" "${K[@]}" --resume "$T/ck$np" --out "$T/r$np.nc" >/dev/null 2>"$T/err_r$np"
  rc=$?; ok
  [ $rc -eq 0 ] && [ -s "$T/ref$np.nc" ] || fail "$np rank(s): resume exited $rc: $(cat "$T/err_ref$np" "$T/err_r$np")"
  same "$T/ref$np.nc" "$T/r$np.nc" "resumed run at $np rank(s)"
done

# another run's options on this directory: refused, naming the difference
run --proj-seed 7 --checkpoint "$T/ck" --out "$T/c.nc" >/dev/null 2>"$T/err_c"
rc=$?; ok
[ $rc -eq 2 ] && grep -q "projection_seed is 1, this run's 7" "$T/err_c" \
  || fail "a mismatching fingerprint: exit $rc, $(cat "$T/err_c")"
timeout 300 "$MPIEXEC" -n 1 "$BIN" "${K[@]}" --checkpoint "$T/ck" --out "$T/c.nc" >/dev/null 2>"$T/err_c1"
rc=$?; ok
[ $rc -eq 2 ] && grep -q "ranks is 2, this run's 1" "$T/err_c1" || fail "another rank count: exit $rc, $(cat "$T/err_c1")"
# --resume with nothing to resume
run --resume "$T/empty" --out "$T/c.nc" >/dev/null 2>"$T/err_e"
rc=$?; ok
[ $rc -eq 2 ] && grep -q "no checkpointed run" "$T/err_e" || fail "--resume of an empty directory: exit $rc, $(cat "$T/err_e")"
# a damaged piece
rm -f "$T/ck/eigen-r0.bin" "$T/ck/eigen-r1.bin"
printf 'xxxx' | dd of="$T/ck/jac-r1-b0.bin" bs=1 seek=100 conv=notrunc 2>/dev/null
run --resume "$T/ck" --out "$T/c.nc" >/dev/null 2>"$T/err_d"
rc=$?; ok
[ $rc -ne 0 ] && grep -q "jac-r1-b0.bin is damaged" "$T/err_d" || fail "a damaged piece: exit $rc, $(cat "$T/err_d")"

# the dynamics path fixes what the eigen stage holds (all pairs, or Θ and
# its top pairs by Lanczos): a resume on the other path is refused, naming it
P=(predict --data "$T/small.nc" --steps 5 --ensemble 2 -q)
"$BIN" "${P[@]}" --dynamics eigen --checkpoint "$T/ckd" --out "$T/pe.nc" >/dev/null 2>"$T/err_pe"
rc=$?; ok
[ $rc -eq 0 ] && grep -q "^dynamics eigen$" "$T/ckd/manifest.txt" \
  || fail "predict --dynamics eigen --checkpoint: exit $rc, manifest: $(cat "$T/ckd/manifest.txt" 2>&1) $(cat "$T/err_pe")"
"$BIN" "${P[@]}" --dynamics direct --resume "$T/ckd" --out "$T/pd.nc" >/dev/null 2>"$T/err_pd"
rc=$?; ok
[ $rc -eq 2 ] && grep -q "dynamics is eigen, this run's direct:32" "$T/err_pd" && [ ! -e "$T/pd.nc" ] \
  || fail "a resume on the other dynamics path: exit $rc, $(cat "$T/err_pd")"
"$BIN" "${P[@]}" --dynamics direct --checkpoint "$T/ckd2" --out "$T/pd2.nc" >/dev/null 2>"$T/err_pd2"
rc=$?; ok
[ $rc -eq 0 ] && grep -q "^dynamics direct:32$" "$T/ckd2/manifest.txt" || fail "predict --dynamics direct --checkpoint: exit $rc, $(cat "$T/err_pd2")"
"$BIN" "${P[@]}" --dynamics eigen --resume "$T/ckd2" --out "$T/pe2.nc" >/dev/null 2>"$T/err_pe2"
rc=$?; ok
[ $rc -eq 2 ] && grep -q "dynamics is direct:32, this run's eigen" "$T/err_pe2" \
  || fail "a resume of a direct-path checkpoint on the eigen path: exit $rc, $(cat "$T/err_pe2")"
"$BIN" "${P[@]}" --dynamics direct --resume "$T/ckd2" --out "$T/pd3.nc" >/dev/null 2>"$T/err_pd3"
rc=$?; ok
[ $rc -eq 0 ] && [ "$(nums "$T/pd2.nc" loss 2>/dev/null)" = "$(nums "$T/pd3.nc" loss 2>/dev/null)" ] \
  || fail "a resume on the same direct path: exit $rc or another result, $(cat "$T/err_pd3")"

# ---- the estimate before the heavy stages ----------------------------------
"$BIN" predict --data "$T/small.nc" --mem-per-rank 163M -q --out "$T/p.nc" >"$T/pout" 2>"$T/perr"
rc=$?; ok
[ $rc -ne 0 ] && [ ! -e "$T/p.nc" ] || fail "predict with --mem-per-rank 64K exited $rc"
ok; grep -q "per rank" "$T/perr" && grep -q "would fit with" "$T/perr" && grep -q -- "--mem-per-rank" "$T/perr" \
  || fail "predict's refusal lacks the estimate or the suggestions: $(cat "$T/perr")"
ok; grep -Eq -- "--dproj [0-9]+|--subset [0-9]+|--top-k [0-9]+|[0-9]+ ranks" "$T/perr" || fail "no option that fits: $(cat "$T/perr")"
"$BIN" plan --data "$T/small.nc" --mem-per-rank 64K --json "$T/plan.json" >"$T/plan.out" 2>&1
rc=$?; ok
[ $rc -eq 0 ] || fail "plan exited $rc: $(cat "$T/plan.out")"
/usr/bin/python3 - "$T/plan.json" <<'PY' || fail "plan's JSON (above)"
import json, sys
j = json.load(open(sys.argv[1]))
bad = 0
for k in ("N", "C", "D", "Dproj", "ranks", "side", "kept", "bytes_per_rank", "flops_per_rank", "seconds",
          "rate_flops_per_rank", "available_bytes_per_rank", "fits", "fit_ranks", "fit_dproj", "fit_top_k",
          "fit_subset", "efficiency"):
    if k not in j: print("FAIL: plan JSON lacks", k); bad += 1
b = j.get("bytes_per_rank", {})
for k in ("runtime", "model", "jacobian", "gram", "eigen", "theta_row_blocks", "gathered", "gather_transit",
          "ensemble", "peak"):
    if k not in b: print("FAIL: plan JSON bytes_per_rank lacks", k); bad += 1
# the seconds are the flops at each stage's share of the rate
f, sec, e, r = j.get("flops_per_rank", {}), j.get("seconds", {}), j.get("efficiency", {}), j.get("rate_flops_per_rank", 0)
for k in ("jacobian", "gram", "eigen"):
    if not (0 < e.get(k, 0) <= 1) or abs(sec.get(k, -1) - f.get(k, 0) / (r * e.get(k, 1))) > 1e-9 * (1 + sec.get(k, 0)):
        print("FAIL: plan seconds of", k, sec.get(k), "flops", f.get(k), "rate", r, "efficiency", e.get(k)); bad += 1
if j.get("N") != 40 or j.get("C") != 5: print("FAIL: plan N/C", j.get("N"), j.get("C")); bad += 1
if j.get("available_bytes_per_rank") != 65536: print("FAIL: available", j.get("available_bytes_per_rank")); bad += 1
if j.get("fits") is not False: print("FAIL: 64K should not fit"); bad += 1
if b and b["peak"] < b["jacobian"]: print("FAIL: peak below the Jacobian block"); bad += 1
sys.exit(1 if bad else 0)
PY
"$BIN" plan --data "$T/small.nc" --mem-per-rank 64G --json "$T/plan2.json" >/dev/null 2>&1
ok; grep -q '"fits": true' "$T/plan2.json" || fail "64G per rank does not fit: $(cat "$T/plan2.json")"
"$BIN" plan --mem-per-rank 12Q >/dev/null 2>"$T/qerr"
rc=$?; ok
[ $rc -eq 2 ] && grep -q -- "--mem-per-rank" "$T/qerr" || fail "a bad size: exit $rc, $(cat "$T/qerr")"

# slurm/submit.sh sizes a job with `ttpredict plan` when given the model
SRC=${TTP_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
MODEL=${TTP_DATA_DIR:-$SRC/data}/default-model.nc
line=$(TTP_BIN=$BIN bash "$SRC/slurm/submit.sh" --model "$MODEL" --n 50000 --dproj 1024 --top-k 256 --mem-per-task-gb 4 \
       --dry-run -- predict 2>&1 | tail -1)
ok; echo "$line" | grep -Eq -- "--ntasks=[0-9]+ --mem-per-cpu=[0-9]+M" || fail "submit.sh --model: $line"
TTP_BIN=$BIN bash "$SRC/slurm/submit.sh" --model "$MODEL" --n 50000 --dproj 1024 --mem-per-task-gb 1 --dry-run \
  -- predict >/dev/null 2>"$T/serr"
rc=$?; ok
[ $rc -eq 2 ] && grep -q "fit_subset" "$T/serr" || fail "submit.sh --model with too little memory: exit $rc, $(cat "$T/serr")"

echo "cli_resume: $checks checks, $fails failed"
[ $fails -eq 0 ]
