#!/usr/bin/env bash
# cli_validate.sh — `ttpredict validate --quick` at 2 ranks on the bundled
# task: the JSON holds every case and the totals, times are in [-1, T], the
# relative errors equal |pred - real| / real recomputed here, the totals
# agree with the cases, and bad list values are refused naming the option.
set -u
BIN=${TTP_BIN:-}
MPIEXEC=${TTP_MPIEXEC:-mpiexec}
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then echo "SKIP: ttpredict binary not found"; exit 77; fi
T=$(mktemp -d /tmp/ttp_cli_validate.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0 checks=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
checks=$((checks + 1))
timeout 300 "$MPIEXEC" -n 2 "$BIN" validate --quick -q --json "$T/v.json" --report "$T/r" >"$T/out" 2>"$T/err" \
  || fail "validate --quick failed: $(cat "$T/err")"
checks=$((checks + 1))
[ -s "$T/r/report.md" ] && [ -s "$T/r/scatter.svg" ] && [ -s "$T/r/example.svg" ] || fail "report files missing"
checks=$((checks + 1))
grep -q "GD within 13%" "$T/out" || fail "table lacks the GD total: $(cat "$T/out")"
checks=$((checks + 1))
python3 - "$T/v.json" <<'PY' || fail "JSON checks"
import json, sys, math
# (the JSON writer keeps 10 significant digits: compare to 1e-9)
v = json.load(open(sys.argv[1])); T = v["steps"]; bad = 0
def check(c, what):
    global bad
    if not c: print("FAIL:", what); bad += 1
check(len(v["cases"]) == 2, "quick grid has 2 cases (GD, SGD)")
n = gd = gdw = sgd = sgdw = 0
for c in v["cases"]:
    for t in c["times"]:
        for k in ("predicted", "real", "predicted_lo", "predicted_hi"):
            check(isinstance(t[k], int) and -1 <= t[k] <= T, "%s = %s outside [-1, T]" % (k, t[k]))
        if t["real"] > 0 and t["predicted"] >= 0 and not c["real_diverged"]:
            e = abs(t["predicted"] - t["real"]) / t["real"]
            check(abs(t["rel_error"] - e) < 1e-9, "rel_error %s, recomputed %s" % (t["rel_error"], e))
            check(abs(t["abs_error"] - abs(t["predicted"] - t["real"])) < 1e-12, "abs_error")
            n += 1
            if c["optimizer"] == "GD": gd += 1; gdw += e <= 0.13
            else: sgd += 1; sgdw += e <= 0.20
tot = v["totals"]
check(tot["compared"] == n, "compared %s, recount %s" % (tot["compared"], n))
check(tot["gd_pairs"] == gd and abs(tot["gd_within_13pct"] - gdw / gd) < 1e-12, "GD total")
check(tot["sgd_pairs"] == sgd and abs(tot["sgd_within_20pct"] - sgdw / sgd) < 1e-12, "SGD total")
check(tot["cost_ratio_oneoff"] > 0 and tot["cost_ratio_amortized"] >= tot["cost_ratio_oneoff"], "cost ratios")
sys.exit(1 if bad else 0)
PY
for bad in "--lrs 0:--lrs" "--lrs 0.1,abc:--lrs" "--momenta 1:--momenta" "--batches 0:--batches" "--losses hinge:--losses" \
           "--optimizers adam:--optimizers" "--sizes 100000:--sizes" "--tt rel:2:--tt"; do
  opt=${bad%:*}; needle=${bad##*:}
  checks=$((checks + 1))
  # shellcheck disable=SC2086
  timeout 120 "$BIN" validate --quick -q $opt >/dev/null 2>"$T/e"; rc=$?
  [ $rc -eq 2 ] && grep -qF -- "$needle" "$T/e" || fail "validate $opt: exit $rc, stderr: $(cat "$T/e")"
done
echo "cli_validate: $checks checks, $fails failed"
[ $fails -eq 0 ]
