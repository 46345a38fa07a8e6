#!/usr/bin/env bash
# cli_kernel.sh — `ttpredict kernel --assembly`: on a small dataset (300
# samples of the bundled model's 1×8×8 input, so NC = 1500 < D and the NC
# side is assembled), the node-shared assembly, the ring and PBLAS give the
# same spectrum and projections at 2 ranks, and the same as one rank; the
# JSON says which assembly ran; with no room for the shared windows auto
# falls back to the ring and `shared` stops clearly; a bad value is exit 2
# naming the option.
# Run by ctest with TTP_BIN and TTP_MPIEXEC; exit 77 only without the tool.
set -u
BIN=${TTP_BIN:-}
MPIEXEC=${TTP_MPIEXEC:-mpiexec}
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then echo "SKIP: ttpredict binary not found"; exit 77; fi
T=$(mktemp -d /tmp/ttp_cli_kernel.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0 checks=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { checks=$((checks + 1)); }

python3 - "$T/small.csv" <<'PY'
import random, sys
random.seed(5)
with open(sys.argv[1], "w") as f:
    for i in range(300):
        f.write(",".join("%.6f" % random.gauss(0, 1) for _ in range(64)) + ",%d\n" % (i % 5))
PY
"$BIN" convert --csv "$T/small.csv" --label-col 65 --shape 1,8,8 --out "$T/small.nc" >/dev/null 2>"$T/cerr"
ok; [ -s "$T/small.nc" ] || { fail "convert: $(cat "$T/cerr")"; echo "cli_kernel: $checks checks, $fails failed"; exit 1; }

K=(kernel --data "$T/small.nc" --vectors)
timeout 300 "$BIN" "${K[@]}" --out "$T/k1.nc" --json "$T/k1.json" >/dev/null 2>"$T/err1"
rc=$?; ok
[ $rc -eq 0 ] && [ -s "$T/k1.json" ] || fail "kernel at 1 rank exited $rc: $(cat "$T/err1")"
for a in shared ring pdsyrk; do
  timeout 300 "$MPIEXEC" -n 2 "$BIN" "${K[@]}" --assembly $a --out "$T/k_$a.nc" --json "$T/k_$a.json" \
      >/dev/null 2>"$T/err_$a"
  rc=$?; ok
  [ $rc -eq 0 ] && [ -s "$T/k_$a.json" ] || fail "kernel --assembly $a at 2 ranks exited $rc: $(cat "$T/err_$a")"
done

python3 - "$T" <<'PY' || fail "kernel results across assemblies (see above)"
import json, subprocess, sys
T = sys.argv[1]
bad = 0
def check(cond, what):
    global bad
    if not cond:
        print("FAIL:", what); bad += 1
def var(path, name):
    out = subprocess.run(["ncdump", "-v", name, path], capture_output=True, text=True, check=True).stdout
    body = out.split("data:", 1)[1].split("=", 1)[1].rsplit(";", 1)[0]
    return [float(x) for x in body.replace("\n", " ").split(",") if x.strip()]
ref = json.load(open(T + "/k1.json"))
lam1 = var(T + "/k1.nc", "eigval")
p1 = var(T + "/k1.nc", "p_res")
check(ref["side"] == "nc", "side %s, expected nc (NC 1500 < D)" % ref["side"])
for a in ("shared", "ring", "pdsyrk"):
    j = json.load(open("%s/k_%s.json" % (T, a)))
    check(j["assembly"] == a, "asked for %s, JSON says %s" % (a, j["assembly"]))
    check(j["kept_eigenvalues"] == ref["kept_eigenvalues"],
          "%s: %d kept eigenvalues, 1 rank %d" % (a, j["kept_eigenvalues"], ref["kept_eigenvalues"]))
    check(abs(j["trace"] - ref["trace"]) <= 1e-12 * ref["trace"], "%s: trace %r vs %r" % (a, j["trace"], ref["trace"]))
    lam = var("%s/k_%s.nc" % (T, a), "eigval")
    lmax = max(abs(x) for x in lam1)
    err = max(abs(x - y) for x, y in zip(lam, lam1)) / lmax
    check(len(lam) == len(lam1) and err <= 1e-10, "%s: eigenvalues differ from 1 rank by %.2e of the largest" % (a, err))
    # projections agree up to eigenvector signs, on the well-separated leading modes
    p = var("%s/k_%s.nc" % (T, a), "p_res")
    nrm = sum(x * x for x in p1) ** 0.5
    perr = max(abs(abs(x) - abs(y)) for x, y in zip(p[:50], p1[:50])) / nrm
    check(perr <= 1e-8, "%s: leading projections differ from 1 rank by %.2e of their norm" % (a, perr))
sys.exit(1 if bad else 0)
PY
ok

# No room for the shared windows (here: a backing directory that does not
# exist): auto falls back to the ring with the same spectrum; shared asked
# for stops with a message naming the directory, and writes nothing.
export OMPI_MCA_osc_sm_backing_directory="$T/no-such-dir"
timeout 300 "$MPIEXEC" -n 2 "$BIN" "${K[@]}" --out "$T/k_fb.nc" --json "$T/k_fb.json" >/dev/null 2>"$T/err_fb"
rc=$?; ok
[ $rc -eq 0 ] || fail "auto with no shared memory exited $rc: $(cat "$T/err_fb")"
ok; python3 -c "
import json, sys
a = json.load(open('$T/k_fb.json')); r = json.load(open('$T/k1.json'))
sys.exit(0 if a['assembly'] == 'ring' and abs(a['largest_eigenvalue'] - r['largest_eigenvalue'])
         <= 1e-10 * r['largest_eigenvalue'] else 1)" || fail "auto with no shared memory: not the ring's answer"
timeout 60 "$MPIEXEC" -n 2 "$BIN" "${K[@]}" --assembly shared --out "$T/k_ns.nc" >/dev/null 2>"$T/err_ns"
rc=$?; ok
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "--assembly shared with no shared memory: exit $rc (124 = hung)"
ok; grep -q "no-such-dir" "$T/err_ns" || fail "--assembly shared with no shared memory: stderr lacks the directory: $(cat "$T/err_ns")"
ok; [ ! -e "$T/k_ns.nc" ] || fail "--assembly shared with no shared memory left an output file"
unset OMPI_MCA_osc_sm_backing_directory

# a value that is not an assembly: exit 2, the option named, every rank ended
timeout 60 "$MPIEXEC" -n 2 "$BIN" "${K[@]}" --assembly fastest --out "$T/bad.nc" >/dev/null 2>"$T/badc"
rc=$?; ok
[ $rc -eq 2 ] || fail "--assembly fastest: exit $rc, expected 2"
ok; grep -q "option --assembly: 'fastest'" "$T/badc" || fail "--assembly fastest: stderr lacks the option: $(cat "$T/badc")"
ok; [ ! -e "$T/bad.nc" ] || fail "--assembly fastest left an output file"

echo "cli_kernel: $checks checks, $fails failed"
[ $fails -eq 0 ]
