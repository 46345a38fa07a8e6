#!/usr/bin/env bash
# cli_validate.sh — `ttpredict validate --quick` at 2 ranks on the bundled
# task: the JSON holds every case and the totals, times are in [-1, T], the
# relative errors equal |pred - real| / real recomputed here, the totals
# agree with the cases (a diverging real run recorded, the grid going on; an
# unreached prediction a miss), and bad list values are refused naming the option.
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
tail -1 "$T/out" | grep -q "cost ratio" || fail "the headline figures do not come last: $(tail -3 "$T/out")"
checks=$((checks + 1))
# A case whose real run diverges (MSE at lr 50: eta*mu_max ~ 6000) is recorded
# and the grid goes on; a prediction that never meets the criterion while the
# real run does (lr 0.02, outside the linear regime) is a miss, not an exclusion.
checks=$((checks + 1))
timeout 300 "$MPIEXEC" -n 2 "$BIN" validate --quick -q --lrs 0.005,0.02,50 --json "$T/d.json" >"$T/dout" 2>"$T/derr" \
  || fail "validate with a diverging case failed: $(cat "$T/derr")"
checks=$((checks + 1))
grep -q "real run diverged" "$T/dout" || fail "table does not mark the diverged case: $(cat "$T/dout")"
checks=$((checks + 1))
# --relinearize 10 (T = 30): three linearizations per case; the one-linearization
# times it keeps alongside are those of the plain run above (same real runs, kernel).
checks=$((checks + 1))
timeout 300 "$MPIEXEC" -n 2 "$BIN" validate --quick -q --relinearize 10 --json "$T/rl.json" >/dev/null 2>"$T/rlerr" \
  || fail "validate --relinearize 10 failed: $(cat "$T/rlerr")"
checks=$((checks + 1))
python3 - "$T/v.json" "$T/rl.json" <<'PY' || fail "relinearize JSON checks"
import json, sys
v, r = (json.load(open(f)) for f in sys.argv[1:3])
bad = 0
for a, b in zip(v["cases"], r["cases"]):
    if b["segments"] != 3 or a["segments"] != 1:
        print("FAIL: segments %s (plain %s), expected 3 (1)" % (b["segments"], a["segments"])); bad += 1
    if [t["predicted"] for t in a["times"]] != [t["predicted_one_linearization"] for t in b["times"]]:
        print("FAIL: one-linearization times differ from the plain run"); bad += 1
    if [t["real"] for t in a["times"]] != [t["real"] for t in b["times"]]:
        print("FAIL: real times differ between the runs"); bad += 1
sys.exit(1 if bad else 0)
PY
python3 - "$T/v.json" "$T/d.json" <<'PY' || fail "JSON checks"
import json, sys, math
# (the JSON writer keeps 10 significant digits: compare to 1e-9)
bad = 0
def check(c, what):
    global bad
    if not c: print("FAIL:", what); bad += 1
def recount(v, name):
    """The totals recomputed from the cases: pairs whose real run met the
    criterion are compared; a predicted -1 there is a miss."""
    T = v["steps"]; n = excl = unreached = gd = gdw = sgd = sgdw = inb = 0
    for c in v["cases"]:
        check(c["status"] == ("real run diverged" if c["real_diverged"] else "ok"), name + ": status " + c["status"])
        for t in c["times"]:
            for k in ("predicted", "real", "predicted_lo", "predicted_hi"):
                check(isinstance(t[k], int) and -1 <= t[k] <= T, "%s: %s = %s outside [-1, T]" % (name, k, t[k]))
            if c["real_diverged"]:
                check(t["real"] == -1, name + ": a diverged run has a real time")
            if c["real_diverged"] or t["real"] <= 0:
                excl += 1
                check(not t["compared"] and t["rel_error"] is None, name + ": excluded pair compared")
                continue
            check(t["compared"], name + ": pair not marked compared")
            n += 1
            if t["predicted"] >= 0:
                e = abs(t["predicted"] - t["real"]) / t["real"]
                check(abs(t["rel_error"] - e) < 1e-9, "%s: rel_error %s, recomputed %s" % (name, t["rel_error"], e))
                check(abs(t["abs_error"] - abs(t["predicted"] - t["real"])) < 1e-12, name + ": abs_error")
            else:
                e = math.inf; unreached += 1
                check(t["rel_error"] is None, name + ": rel_error of an unreached prediction")
            if c["optimizer"] == "GD": gd += 1; gdw += e <= 0.13
            else:
                sgd += 1; sgdw += e <= 0.20
                lo = t["predicted_lo"] if t["predicted_lo"] >= 0 else T + 1
                hi = t["predicted_hi"] if t["predicted_hi"] >= 0 else T + 1
                check(t["in_band"] == (lo <= t["real"] <= hi), name + ": in_band")
                inb += lo <= t["real"] <= hi
    tot = v["totals"]
    check(tot["compared"] == n, "%s: compared %s, recount %s" % (name, tot["compared"], n))
    check(tot["excluded"] == excl, "%s: excluded %s, recount %s" % (name, tot["excluded"], excl))
    check(tot["predicted_unreached"] == unreached, name + ": predicted_unreached")
    check(tot["gd_pairs"] == gd and abs(tot["gd_within_13pct"] - gdw / gd) < 1e-12, name + ": GD total")
    check(tot["sgd_pairs"] == sgd and abs(tot["sgd_within_20pct"] - sgdw / sgd) < 1e-12, name + ": SGD total")
    check(abs(tot["sgd_real_in_band"] - inb / sgd) < 1e-12, name + ": band total")
    check(tot["cost_ratio_oneoff"] > 0 and tot["cost_ratio_amortized"] >= tot["cost_ratio_oneoff"], name + ": cost ratios")
    return unreached
v, d = (json.load(open(f)) for f in sys.argv[1:3])
check(len(v["cases"]) == 2, "quick grid has 2 cases (GD, SGD)")
recount(v, "quick")
check(len(d["cases"]) == 6, "3 learning rates x (GD, SGD) = 6 cases")
div = [c for c in d["cases"] if c["real_diverged"]]
check(len(div) == 2 and all(c["lr"] == 50 for c in div), "the lr-50 cases (and only they) diverged")
check(d["totals"]["cases_real_diverged"] == 2, "cases_real_diverged")
check(all(not c["valid"] and c["warning"] for c in d["cases"] if c["lr"] >= 0.02), "outside-regime cases carry a warning")
unreached = recount(d, "diverging grid")
check(unreached > 0, "the lr-0.02 predictions (outside the regime) should never meet the criterion")
sys.exit(1 if bad else 0)
PY
for bad in "--lrs 0:--lrs" "--lrs 0.1,abc:--lrs" "--momenta 1:--momenta" "--batches 0:--batches" "--losses hinge:--losses" \
           "--optimizers adam:--optimizers" "--sizes 100000:--sizes" "--tt rel:2:--tt" \
           "--relinearize sometimes:--relinearize" "--relinearize -3:--relinearize"; do
  opt=${bad%:*}; needle=${bad##*:}
  checks=$((checks + 1))
  # shellcheck disable=SC2086
  timeout 120 "$BIN" validate --quick -q $opt >/dev/null 2>"$T/e"; rc=$?
  [ $rc -eq 2 ] && grep -qF -- "$needle" "$T/e" || fail "validate $opt: exit $rc, stderr: $(cat "$T/e")"
done
echo "cli_validate: $checks checks, $fails failed"
[ $fails -eq 0 ]
