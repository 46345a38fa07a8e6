#!/usr/bin/env bash
# cli_predict.sh — `ttpredict predict` end to end on the bundled task:
# results identical at 1 and 2 ranks, the JSON's training time recomputed
# from its own loss curve, a reused kernel file giving the same answer, and
# every bad input answered with a clear error, a non-zero exit, all ranks
# ended, and no output file left behind.
# Run by ctest with TTP_BIN and TTP_MPIEXEC; exit 77 only without the tool.
set -u
BIN=${TTP_BIN:-}
MPIEXEC=${TTP_MPIEXEC:-mpiexec}
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then echo "SKIP: ttpredict binary not found"; exit 77; fi
T=$(mktemp -d /tmp/ttp_cli_predict.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0 checks=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { checks=$((checks + 1)); }
# Quick settings: a short budget, a small projection, one timed step.
Q=(--steps 40 --dproj 256 --proj rademacher --time-steps 1 -q)

for np in 1 2; do
  timeout 300 "$MPIEXEC" -n $np "$BIN" predict "${Q[@]}" --batch 50 --ensemble 4 --lr 0.01 \
      --tt rel:0.1,eps:0.01 --json "$T/p$np.json" --out "$T/p$np.nc" --report "$T/r$np" >"$T/out$np" 2>"$T/err$np"
  rc=$?; ok
  [ $rc -eq 0 ] || fail "predict at $np rank(s) exited $rc: $(cat "$T/err$np")"
done
ok; grep -q "TRAINING TIME" "$T/out1" || fail "summary lacks the headline: $(cat "$T/out1")"
ok; [ -s "$T/r1/report.md" ] && [ -s "$T/r1/loss.svg" ] && [ -s "$T/r1/spectrum.svg" ] || fail "report files missing"
ok; ncdump -h "$T/p1.nc" | grep -q 'ttp_kind = "prediction"' || fail "result file is not a prediction file"
ok; ncdump -h "$T/p1.nc" | grep -q 'faith_worst_loss_gap' || fail "result file lacks the faithfulness figures"
ok; grep -q "faithful" "$T/out1" || fail "summary lacks the faithfulness lines: $(cat "$T/out1")"

python3 - "$T/p1.json" "$T/p2.json" "$T/out1" <<'PY' || fail "JSON checks (see above)"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
bad = 0
def check(cond, what):
    global bad
    if not cond:
        print("FAIL:", what); bad += 1
for k in ("tt_steps", "tt_steps_lo", "tt_steps_hi", "final_loss", "wall_seconds_predicted", "seconds"):
    check(k in a, "missing key " + k)
# rank-count independence (up to rounding in the distributed Gram)
check(a["tt_steps"] == b["tt_steps"], "tt_steps differ between 1 and 2 ranks: %s vs %s" % (a["tt_steps"], b["tt_steps"]))
check(abs(a["final_loss"] - b["final_loss"]) <= 1e-9 * abs(a["final_loss"]), "final loss differs across ranks")
check(a["tt_steps_lo"] <= a["tt_steps"] <= a["tt_steps_hi"] or a["tt_steps_hi"] < 0, "band does not hold the time")
# the headline time recomputed from the mean curve: first step from which
# L_t - L_T <= 0.1 (L_0 - L_T) holds up to T
L = a["loss"]; T = len(L) - 1; e = L[-1]
t = T
while t >= 0 and L[t] - e <= 0.1 * (L[0] - e):
    t -= 1
check(a["tt_steps"] == t + 1, "tt_steps %s, recomputed %s" % (a["tt_steps"], t + 1))
eps = a["training_times"][1]
t = T
while t >= 0 and abs(L[t] - e) < 0.01:
    t -= 1
check(eps["steps"] == t + 1, "eps time %s, recomputed %s" % (eps["steps"], t + 1))
# issue 12: the measured faithfulness and the guard's figures are reported
fa = a.get("faithfulness", {})
check(fa.get("points") == 3 and len(fa.get("loss_gap", [])) == 3, "faithfulness not measured: %s" % fa)
check(all(abs(g) < 1 for g in fa.get("output_gap", [1])), "output gaps out of range: %s" % fa.get("output_gap"))
check("batch_stability_max" in a and a["batch_stability_max"] > 0, "SGD per-batch stability not reported")
check(a.get("loss_growth") is not None and a["loss_growth"] <= 1 + 1e-6, "a converging prediction reports growth %s" % a.get("loss_growth"))
check(abs(a["wall_seconds_predicted"] - a["tt_steps"] * a["seconds_per_step"]) <= 1e-9 * a["wall_seconds_predicted"] + 1e-12,
      "wall-clock is not steps x seconds per step")
# what the prediction cost against the training it predicts (issue 17): the
# training to the headline time (all T steps where it is not reached) over
# the prediction's seconds, and the summary's note exactly where that is below 1
tr = a["wall_seconds_predicted"] if a["tt_steps"] >= 0 else T * a["seconds_per_step"]
check(abs(a.get("training_seconds_predicted", -1) - tr) <= 1e-9 * tr, "training_seconds_predicted %s, expected %s" % (a.get("training_seconds_predicted"), tr))
check(abs(a.get("cost_ratio", -1) - tr / a["seconds"]) <= 1e-9 * tr / a["seconds"], "cost_ratio %s, expected %s" % (a.get("cost_ratio"), tr / a["seconds"]))
summary = open(sys.argv[3]).read()
check(("this prediction cost more than the training it predicts" in summary) == (a["cost_ratio"] < 1),
      "the cost note does not follow cost_ratio %s" % a["cost_ratio"])
check(" is %.2gx this" % a["cost_ratio"] in summary, "the cost line lacks the ratio %.2g" % a["cost_ratio"])
# the default seconds per step: the probe and the cost model, its parts reported
sm = a.get("step_model", {})
check(a.get("step_timing") == "model", "step_timing %s, expected model" % a.get("step_timing"))
check(sm.get("flops_per_sample", 0) > 0 and sm.get("flops_per_second", 0) > 0 and sm.get("seconds_update", -1) >= 0,
      "step model figures missing: %s" % sm)
sys.exit(1 if bad else 0)
PY
ok

# A faithfulness warning names the projection when the kernel gap (the
# projected kernel's own share of the output gap) is at least half the
# output-gap limit: a coarse kron sketch (D' = 83 of 5,589) has it, the
# run above (rademacher D' = 256) is held to the same rule.
timeout 300 "$BIN" predict --steps 60 --lr 0.002 --proj kron --dproj 16 --time-steps 0 --relinearize 0 -q \
    --json "$T/kg.json" >/dev/null 2>"$T/kgerr"
ok; python3 - "$T/kg.json" "$T/p1.json" <<'PY' || fail "kernel gap named in the warning (see above)"
import json, sys
bad = 0
for i, path in enumerate(sys.argv[1:]):
    a = json.load(open(path)); fa = a["faithfulness"]
    og, kg = fa["output_gap"], fa["kernel_gap"]
    iw = max(j for j in range(len(og)) if og[j] >= max(og))
    unfaithful = fa["worst_loss_gap"] > fa["loss_gap_limit"] or fa["worst_output_gap"] > fa["output_gap_limit"]
    want = unfaithful and a["dproj"] < a["d"] and kg[iw] >= 0.5 * fa["output_gap_limit"]
    has = "projected kernel's own error" in a["warning"]
    if i == 0 and not (want and "D' = %d of %d weights" % (a["dproj"], a["d"]) in a["warning"]):
        print("FAIL: D' %s, kernel gaps %s, output gaps %s: the warning should name the projection: %s"
              % (a["dproj"], kg, og, a["warning"])); bad += 1
    if has != want:
        print("FAIL: %s: named %s, the rule says %s (kernel gap %s at the worst point of %s)" % (path, has, want, kg[iw], og)); bad += 1
sys.exit(1 if bad else 0)
PY

# The projected dimension from the kernel gap (docs/METHOD.md 6l): a given
# --dproj stays (kg.json above, kernel gap past 15 %), --dproj-raise 1
# rebuilds the kernel at 4 x the asked D' (16 -> 64 keeps the kron sketch's
# floor of 83, so 256 is asked, D' 257), on 2 ranks, and the result equals
# a 1-rank prediction made at --dproj 256 from the start.
timeout 300 "$MPIEXEC" -n 2 "$BIN" predict --steps 60 --lr 0.002 --proj kron --dproj 16 --dproj-raise 1 \
    --time-steps 0 --relinearize 0 -q --json "$T/kr.json" >/dev/null 2>"$T/krerr"
ok; timeout 300 "$BIN" predict --steps 60 --lr 0.002 --proj kron --dproj 256 --time-steps 0 --relinearize 0 -q \
    --json "$T/k256.json" >/dev/null 2>"$T/k256err"
ok; python3 - "$T/kg.json" "$T/kr.json" "$T/k256.json" <<'PY' || fail "D' raised from the kernel gap (see above)"
import json, sys
g, a, b = (json.load(open(p)) for p in sys.argv[1:])
kg = lambda x: max(x["faithfulness"]["kernel_gap"])
bad = []
if g["dproj_raises"] != 0: bad.append("a given --dproj was raised: %s" % g["dproj_raises"])
if kg(g) < 0.15: bad.append("the D' = %d kernel gap %.3f is below 15 %%: the case tests nothing" % (g["dproj"], kg(g)))
if (a["dproj_raises"], a["dproj_raised_from"], a["dproj"]) != (1, g["dproj"], b["dproj"]):
    bad.append("raises %s from %s to %s, expected 1 from %s to %s" % (a["dproj_raises"], a["dproj_raised_from"], a["dproj"], g["dproj"], b["dproj"]))
if abs(a.get("dproj_raised_kernel_gap", -1) - kg(g)) > 1e-9 * kg(g):
    bad.append("recorded gap %s, the first kernel's %s" % (a.get("dproj_raised_kernel_gap"), kg(g)))
if a["tt_steps"] != b["tt_steps"] or abs(a["final_loss"] - b["final_loss"]) > 1e-9 * abs(b["final_loss"]):
    bad.append("raised %s / %s against --dproj 256's %s / %s" % (a["tt_steps"], a["final_loss"], b["tt_steps"], b["final_loss"]))
if any(abs(x - y) > 1e-6 * max(abs(y), 1e-3) for x, y in zip(a["faithfulness"]["kernel_gap"], b["faithfulness"]["kernel_gap"])):
    bad.append("kernel gaps %s against %s" % (a["faithfulness"]["kernel_gap"], b["faithfulness"]["kernel_gap"]))
if not kg(a) < kg(g): bad.append("the kernel gap did not fall: %s -> %s" % (kg(g), kg(a)))
for m in bad: print("FAIL:", m)
sys.exit(1 if bad else 0)
PY

# ... but not where the linear model blows up (MSE far past its figure):
# there the kernel gap is J Δw's over a huge Δw, not the projection's.
timeout 300 "$BIN" predict --steps 30 --loss mse --lr 0.05 --proj kron --dproj 16 --dproj-raise 2 --time-steps 0 \
    --relinearize 0 -q --json "$T/kb.json" >/dev/null 2>"$T/kberr"
ok; python3 - "$T/kb.json" <<'PY' || fail "D' raised where the linear model blows up (see above)"
import json, math, sys
a = json.load(open(sys.argv[1]))
g = [x for x in a["faithfulness"]["kernel_gap"] if x is not None and math.isfinite(x)]
ok = a["loss_growth"] > 1 and g and max(g) >= 0.15 and a["dproj_raises"] == 0 and a["dproj_raised_from"] == 0
if not ok: print("FAIL: growth %s, kernel gaps %s, raises %s" % (a["loss_growth"], g, a["dproj_raises"]))
sys.exit(0 if ok else 1)
PY

# A kernel file reused by predict gives the same prediction.
timeout 300 "$MPIEXEC" -n 2 "$BIN" kernel --proj rademacher --dproj 256 --proj-seed 1 --vectors --out "$T/k.nc" >/dev/null 2>"$T/kerr"
ok; [ -s "$T/k.nc" ] || fail "kernel file not written: $(cat "$T/kerr")"
timeout 300 "$BIN" predict "${Q[@]}" --batch 50 --ensemble 4 --lr 0.01 --tt rel:0.1,eps:0.01 --kernel "$T/k.nc" \
    --json "$T/pk.json" >/dev/null 2>"$T/pkerr"
ok; python3 -c "
import json,sys; a=json.load(open('$T/p1.json')); b=json.load(open('$T/pk.json'))
sys.exit(0 if a['tt_steps']==b['tt_steps'] and abs(a['final_loss']-b['final_loss'])<=1e-9*abs(a['final_loss']) else 1)" \
  || fail "prediction from the kernel file differs: $(cat "$T/pkerr")"

# The direct dynamics path (products with Θ, top pairs by Lanczos) gives the
# same prediction as the eigen path that auto takes here, and says so.
timeout 300 "$MPIEXEC" -n 2 "$BIN" predict "${Q[@]}" --batch 50 --ensemble 4 --lr 0.01 --tt rel:0.1,eps:0.01 \
    --dynamics direct --json "$T/pd.json" >"$T/pdout" 2>"$T/pderr"
ok; python3 -c "
import json,sys; a=json.load(open('$T/p2.json')); b=json.load(open('$T/pd.json'))
sys.exit(0 if a['dynamics_path']=='eigen' and b['dynamics_path']=='direct' and a['tt_steps']==b['tt_steps'] and
         abs(a['final_loss']-b['final_loss'])<=1e-9*abs(a['final_loss']) else 1)" \
  || fail "direct dynamics path differs from the eigen path: $(cat "$T/pderr")"
ok; grep -q "dynamics    direct" "$T/pdout" || fail "summary does not name the direct path: $(cat "$T/pdout")"

# Cross-entropy from a subset: the exact dynamics on N0 re-timed by the
# spectrum (same answer at 1 and 2 ranks; the extrapolation at N0 itself is
# the exact N0 prediction, not re-timed).
for np in 1 2; do
  timeout 300 "$MPIEXEC" -n $np "$BIN" predict "${Q[@]}" --loss ce --subset 300 --extrapolate 300,1500 \
      --json "$T/ce$np.json" >/dev/null 2>"$T/ceerr$np"
  ok; [ -s "$T/ce$np.json" ] || fail "cross-entropy extrapolation at $np rank(s): $(cat "$T/ceerr$np")"
done
ok; python3 - "$T/ce1.json" "$T/ce2.json" <<'PY' || fail "cross-entropy extrapolation JSON (see above)"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
bad = []
if not 0 < a.get("ce_curvature", 0) <= 0.5: bad.append("ce_curvature %s not in (0, 1/2]" % a.get("ce_curvature"))
if a["n"] != 750 or a["n_kernel"] != 300: bad.append("sizes %s/%s" % (a["n"], a["n_kernel"]))
if [e["n"] for e in a["extrapolation"]] != [300, 1500]: bad.append("extrapolation sizes")
if a["tt_steps"] != b["tt_steps"] or abs(a["final_loss"] - b["final_loss"]) > 1e-8 * abs(a["final_loss"]):
    bad.append("1 vs 2 ranks: %s/%s vs %s/%s" % (a["tt_steps"], a["final_loss"], b["tt_steps"], b["final_loss"]))
if not all(e["tt_steps"] > 0 for e in a["extrapolation"]): bad.append("an extrapolated time was not reached")
# the faithfulness check runs on the subset's own training, alike on 1 and 2 ranks
fa, fb = a["faithfulness"], b["faithfulness"]
if fa.get("points") != 3 or "300 samples" not in fa.get("note", ""): bad.append("subset faithfulness: %s" % fa)
elif any(abs(x - y) > 1e-8 * abs(y) for x, y in zip(fa["loss_real"], fb["loss_real"])):
    bad.append("subset faithfulness 1 vs 2 ranks: %s vs %s" % (fa["loss_real"], fb["loss_real"]))
for x in bad: print("FAIL:", x)
sys.exit(1 if bad else 0)
PY

# --- bad input: exit code, message naming the option, no output left --------
expect() { # NAME RC NEEDLE -- CMD...
  local name=$1 want=$2 needle=$3; shift 4
  ok
  timeout 120 "$@" >"$T/o" 2>"$T/e"; local rc=$?
  if [ "$want" = nonzero ]; then [ $rc -ne 0 ] && [ $rc -ne 124 ] || { fail "$name: exit $rc"; return; }
  elif [ $rc -ne "$want" ]; then fail "$name: exit $rc, expected $want: $(cat "$T/e")"; return; fi
  grep -qF -- "$needle" "$T/e" || fail "$name: stderr lacks '$needle': $(cat "$T/e")"
}
expect "lr 0" 2 "--lr" -- "$BIN" predict --lr 0
expect "relinearize with a subset" nonzero "--relinearize" -- "$BIN" predict "${Q[@]}" --subset 300 --relinearize 10
expect "relinearize negative" 2 "--relinearize" -- "$BIN" predict "${Q[@]}" --relinearize -1
expect "relinearize text" 2 "--relinearize" -- "$BIN" predict "${Q[@]}" --relinearize sometimes
expect "dynamics text" 2 "--dynamics" -- "$BIN" predict "${Q[@]}" --dynamics fast
expect "dynamics direct with a subset" nonzero "dynamics" -- "$BIN" predict "${Q[@]}" --subset 300 --dynamics direct

# Re-linearization (issue 12): K >= T is the ordinary prediction; K = 10
# over T = 40 runs four segments and reports them.
for K in 0 40 10; do
  timeout 300 "$MPIEXEC" -n 2 "$BIN" predict "${Q[@]}" --lr 0.01 --tt rel:0.1 --relinearize $K \
      --json "$T/rl$K.json" >/dev/null 2>"$T/rlerr$K"
  ok; [ -s "$T/rl$K.json" ] || fail "--relinearize $K: $(cat "$T/rlerr$K")"
done
ok; python3 - "$T/rl0.json" "$T/rl40.json" "$T/rl10.json" <<'PY' || fail "re-linearization JSON (see above)"
import json, sys
a, b, c = (json.load(open(f)) for f in sys.argv[1:4])
bad = 0
if a["tt_steps"] != b["tt_steps"] or a["loss"] != b["loss"]:
    print("FAIL: --relinearize T differs from the ordinary prediction"); bad += 1
f = c["faithfulness"]
if f.get("segments") != 4 or f.get("relinearize_every") != 10:
    print("FAIL: segments %s, every %s" % (f.get("segments"), f.get("relinearize_every"))); bad += 1
if not (c["tt_steps_lo"] <= c["tt_steps"] <= c["tt_steps_hi"] or c["tt_steps_hi"] < 0):
    print("FAIL: the band does not hold the time"); bad += 1
sys.exit(1 if bad else 0)
PY
# With momentum, J v of the carried velocity is computed on every rank's shard:
# 1 and 2 ranks give the same re-linearized prediction.
for np_ in 1 2; do
  timeout 300 "$MPIEXEC" -n $np_ "$BIN" predict "${Q[@]}" --lr 0.005 --momentum 0.9 --tt rel:0.1 --relinearize 10 \
      --json "$T/rlm$np_.json" >/dev/null 2>"$T/rlmerr$np_"
  ok; [ -s "$T/rlm$np_.json" ] || fail "--relinearize 10 --momentum 0.9 at $np_ rank(s): $(cat "$T/rlmerr$np_")"
done
ok; python3 - "$T/rlm1.json" "$T/rlm2.json" <<'PY' || fail "re-linearization with momentum depends on the rank count"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
la, lb = a["loss"], b["loss"]
bad = a["tt_steps"] != b["tt_steps"] or a["faithfulness"]["segments"] != 4
bad = bad or max(abs(x - y) / abs(y) for x, y in zip(la, lb)) > 1e-9
print("FAIL" if bad else "ok", a["tt_steps"], b["tt_steps"], a["faithfulness"]["segments"])
sys.exit(1 if bad else 0)
PY
# Re-linearization in function space (--relinearize kernel[:K], METHOD.md 6d):
# the segments' kernels and the midpoint weights are built on every rank's
# shard; 1 and 2 ranks give the same prediction, with momentum.
for np_ in 1 2; do
  timeout 300 "$MPIEXEC" -n $np_ "$BIN" predict "${Q[@]}" --lr 0.005 --momentum 0.9 --tt rel:0.1 \
      --relinearize kernel:10 --json "$T/rlk$np_.json" >/dev/null 2>"$T/rlkerr$np_"
  ok; [ -s "$T/rlk$np_.json" ] || fail "--relinearize kernel:10 at $np_ rank(s): $(cat "$T/rlkerr$np_")"
done
ok; python3 - "$T/rlk1.json" "$T/rlk2.json" <<'PY' || fail "function-space re-linearization depends on the rank count"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
la, lb = a["loss"], b["loss"]
bad = a["tt_steps"] != b["tt_steps"] or a["faithfulness"]["segments"] != 4
bad = bad or max(abs(x - y) / abs(y) for x, y in zip(la, lb)) > 1e-9
bad = bad or "relinearize_kernel_sensitivity" not in a
print("FAIL" if bad else "ok", a["tt_steps"], b["tt_steps"], a["faithfulness"]["segments"])
sys.exit(1 if bad else 0)
PY
# --relinearize auto past the stability limit (stability 2.5).  CE at lr 0.04:
# the figure's bound (kappa = 1/2) is all that makes the linearization at w0
# invalid, and the function-space loss never grows, so that prediction stands
# (METHOD.md 6i), alike at 1 and 2 ranks.  MSE at lr 0.02: the linear model
# blows up, so the segments restart from the real network's outputs (6e); the
# JSON says so, alike at 1 and 2 ranks, and `real` alone gives the same curve.
for v in ce:auto:1 ce:auto:2 ce:real:1 mse:auto:1 mse:auto:2 mse:real:1; do
  IFS=: read -r loss mode np_ <<<"$v"
  lr=0.04; [ "$loss" = mse ] && lr=0.02
  timeout 300 "$MPIEXEC" -n "$np_" "$BIN" predict "${Q[@]}" --steps 8 --loss "$loss" --lr $lr --tt rel:0.1 \
      --relinearize "$mode" --json "$T/rla-$loss-$mode$np_.json" >/dev/null 2>"$T/rlaerr"
  ok; [ -s "$T/rla-$loss-$mode$np_.json" ] || fail "--relinearize $v: $(cat "$T/rlaerr")"
done
# ... and real training itself: with one-step segments every step of the
# curve is the real network at the real weights (a one-step segment is the
# real gradient step, w_s + J^T a_1 with a_1 = -lr dL/dF), so where the
# segments are single steps the predicted curve is `train`'s.
timeout 300 "$BIN" train --steps 8 --lr 0.04 -q --json "$T/rlatrain.json" >/dev/null 2>"$T/rlaerr"
ok; [ -s "$T/rlatrain.json" ] || fail "train for the auto check: $(cat "$T/rlaerr")"
ok; python3 - "$T" <<'PY' || fail "--relinearize auto (see above)"
import json, sys
d = sys.argv[1]
J = lambda n: json.load(open("%s/rla-%s.json" % (d, n)))
ka, kb, kr, ma, mb, mr = (J(n) for n in ("ce-auto1", "ce-auto2", "ce-real1", "mse-auto1", "mse-auto2", "mse-real1"))
t = json.load(open(d + "/rlatrain.json"))
gap = lambda x, y: max(abs(p - q) / abs(q) for p, q in zip(x["loss"], y["loss"]))
bad = []
# CE: past the figures, the function-space prediction stands (6i)
for x in (ka, kb):
    f = x["faithfulness"]
    if not (x["valid"] and f.get("relinearize_past_figures") and f.get("relinearize_mode") == "kernel"
            and not f.get("relinearize_fallback") and x["stability"] > 2 and "6i" in x["warning"]):
        bad.append("CE past the figures: valid %s, %s" % (x["valid"], f))
if ka["tt_steps"] != kb["tt_steps"] or gap(ka, kb) > 1e-9:
    bad.append("CE 1 vs 2 ranks: %s vs %s" % (ka["tt_steps"], kb["tt_steps"]))
# MSE: the linear model blows up, auto falls back to real-output restarts (6e)
fa, fb, fr = ma["faithfulness"], mb["faithfulness"], mr["faithfulness"]
if not (fa.get("relinearize_fallback") and fa.get("relinearize_mode") == "real" and fa.get("relinearize_fallback_why")):
    bad.append("no fallback recorded: %s" % fa)
if fa.get("relinearize_past_figures"): bad.append("MSE marked past the figures")
if fr.get("relinearize_mode") != "real" or fr.get("relinearize_fallback"): bad.append("real: %s" % fr)
if ma["tt_steps"] != mb["tt_steps"] or gap(ma, mb) > 1e-9:
    bad.append("MSE 1 vs 2 ranks: %s vs %s" % (ma["tt_steps"], mb["tt_steps"]))
if ma["tt_steps"] != mr["tt_steps"] or gap(ma, mr) > 1e-12:
    bad.append("auto's fallback differs from real: %s vs %s" % (ma["tt_steps"], mr["tt_steps"]))
# the segment-halving check (METHOD.md 6g) ran under the cap, alike at 1 and 2 ranks
if fa.get("relinearize_halving") not in ("agreed", "refined") or \
        fa.get("relinearize_halving") != fb.get("relinearize_halving") or \
        fa.get("relinearize_halving_tt_steps") != fb.get("relinearize_halving_tt_steps"):
    bad.append("halving check: %s %s vs %s %s" % (fa.get("relinearize_halving"), fa.get("relinearize_halving_tt_steps"),
                                                 fb.get("relinearize_halving"), fb.get("relinearize_halving_tt_steps")))
# CE with real-output segments: all one step at stability 2.5, so the curve is real training's
if kr["faithfulness"].get("segments") == 8:
    worst = gap(kr, t)
    if worst > 1e-9: bad.append("one-step real-output segments vs train: %.2e" % worst)
else:
    bad.append("expected 8 one-step segments at stability 2.5, got %s" % kr["faithfulness"].get("segments"))
for x in bad: print("FAIL:", x)
print("auto past the limit: CE %s (function space, %s segments); MSE %s (%s segments; %s)"
      % (ka["tt_steps"], ka["faithfulness"].get("segments"), ma["tt_steps"], fa.get("segments"),
         fa.get("relinearize_fallback_why")))
sys.exit(1 if bad else 0)
PY
# The batch-order check (METHOD.md 6j): re-linearized SGD whose per-batch
# stability passes 2 is redone with member 1's batches; the check, its other
# times and the band holding both are alike at 1 and 2 ranks.
for np_ in 1 2; do
  timeout 300 "$MPIEXEC" -n $np_ "$BIN" predict "${Q[@]}" --steps 8 --batch 16 --lr 0.04 --tt rel:0.1 \
      --relinearize auto --json "$T/rlo$np_.json" >/dev/null 2>"$T/rloerr"
  ok; [ -s "$T/rlo$np_.json" ] || fail "batch-order check at $np_ rank(s): $(cat "$T/rloerr")"
done
ok; python3 - "$T/rlo1.json" "$T/rlo2.json" <<'PY' || fail "the batch-order check (see above)"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
fa, fb = a["faithfulness"], b["faithfulness"]
bad = []
if a["batch_stability_max"] <= 2 or fa.get("batch_order_check") not in ("agreed", "disagreed"):
    bad.append("not run: per-batch stability %s, %s" % (a["batch_stability_max"], fa.get("batch_order_check")))
for k in ("batch_order_check", "batch_order_tt_steps", "batch_order_seed"):
    if fa.get(k) != fb.get(k): bad.append("%s: %s vs %s" % (k, fa.get(k), fb.get(k)))
if a["tt_steps"] != b["tt_steps"] or a["valid"] != b["valid"]: bad.append("1 vs 2 ranks: %s vs %s" % (a["tt_steps"], b["tt_steps"]))
o, lo, hi = fa.get("batch_order_tt_steps", [None])[0], a["tt_steps_lo"], a["tt_steps_hi"]
if o is not None and o >= 0 and not (lo <= o and (hi < 0 or o <= hi)): bad.append("band %s..%s misses %s" % (lo, hi, o))
if (fa.get("batch_order_check") == "disagreed") == a["valid"]: bad.append("verdict %s with %s" % (a["valid"], fa.get("batch_order_check")))
for x in bad: print("FAIL:", x)
print("batch order:", fa.get("batch_order_check"), a["tt_steps"], "vs", fa.get("batch_order_tt_steps"), "band", lo, hi)
sys.exit(1 if bad else 0)
PY
expect "relinearize kernel:text" 2 "--relinearize" -- "$BIN" predict "${Q[@]}" --relinearize kernel:often
expect "relinearize kernelx" 2 "--relinearize" -- "$BIN" predict "${Q[@]}" --relinearize kernels
expect "lr negative" 2 "--lr" -- "$BIN" predict --lr -0.1
expect "lr text" 2 "--lr" -- "$BIN" predict --lr fast
expect "batch 0" 2 "--batch" -- "$BIN" predict --batch 0
expect "batch > N" 2 "larger than the 750" -- "$BIN" predict --batch 751 -q
expect "steps 0" 2 "--steps" -- "$BIN" predict --steps 0
expect "eps 0" 2 "--tt" -- "$BIN" predict --tt eps:0
expect "tt kind" 2 "training-time kind 'fast'" -- "$BIN" predict --tt fast:1
expect "ensemble 0" 2 "--ensemble" -- "$BIN" predict --ensemble 0
expect "unknown option" 2 "--frobnicate" -- "$BIN" predict --frobnicate
expect "missing model" 1 "$T/none.nc" -- "$BIN" predict --model "$T/none.nc"
printf 'not netcdf\n' >"$T/text.nc"
expect "not netcdf" 1 "$T/text.nc" -- "$BIN" predict --data "$T/text.nc"
expect "dproj > D" 2 "exceeds" -- "$BIN" predict --proj rademacher --dproj 100000 -q
expect "kernel for another dataset" 2 "another dataset" -- "$BIN" predict -q --kernel "$T/k.nc" --time-steps 0 \
    --data "${TTP_DATA_DIR:-data}/pretrain-data.nc"
expect "subset > N" 2 "--subset" -- "$BIN" predict --subset 5000
expect "step timing word" 2 "--step-timing" -- "$BIN" predict --step-timing guess

# Real full steps timed on request (--step-timing measure): the same
# prediction in steps, the summary saying how the seconds were found.
timeout 300 "$BIN" predict "${Q[@]}" --batch 50 --ensemble 4 --lr 0.01 --tt rel:0.1,eps:0.01 --kernel "$T/k.nc" \
    --step-timing measure --json "$T/pm.json" >/dev/null 2>"$T/pmerr"
ok; python3 -c "
import json; a=json.load(open('$T/pm.json')); b=json.load(open('$T/pk.json'))
assert a['step_timing'] == 'measure' and 'step_model' not in a, a.get('step_timing')
assert a['tt_steps'] == b['tt_steps'] and a['seconds_per_step'] > 0
" || fail "--step-timing measure: $(cat "$T/pmerr")"
expect "extrapolate below N" 2 "smaller than" -- "$BIN" predict --extrapolate 10
expect "wd extrapolation" 1 "weight decay" -- "$BIN" predict --wd 0.001 --extrapolate 3000

# A failing run leaves an existing output untouched and creates no new one.
echo '{"keep": true}' >"$T/keep.json"
expect "failed run keeps file" 2 "--lr" -- "$BIN" predict --lr 0 --json "$T/keep.json" --out "$T/new.nc"
ok; grep -q '"keep": true' "$T/keep.json" || fail "existing JSON was modified by a failed run"
ok; [ ! -e "$T/new.nc" ] || fail "a failed run left $T/new.nc"
expect "unwritable output" 1 "/nonexistent-dir" -- "$BIN" predict "${Q[@]}" --json /nonexistent-dir/p.json
ok; ls "$T" | grep -q '\.tmp\.' && fail "temporary files left in $T: $(ls "$T")"

# Under MPI an error on the ranks ends every rank promptly (no hang).
ok; start=$(date +%s)
timeout 60 "$MPIEXEC" -n 2 "$BIN" predict --model "$T/none.nc" >/dev/null 2>"$T/e"; rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "2-rank run with a missing file: exit $rc (124 = hung)"
[ $(( $(date +%s) - start )) -lt 30 ] || fail "2-rank failure took over 30 s to end"

echo "cli_predict: $checks checks, $fails failed"
[ $fails -eq 0 ]
