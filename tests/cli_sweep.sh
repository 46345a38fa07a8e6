#!/usr/bin/env bash
# cli_sweep.sh — `ttpredict sweep` end to end on the bundled task: each of
# its settings gives the numbers of a `predict` run with the same options
# (at 1 and at 2 ranks; steps, validity and warnings exactly, losses to
# rounding), the table is sorted and the best setting
# within a budget is the one the rules name, the largest stable learning
# rate matches its closed form, and bad lists are clear errors with no
# output left behind.
# Run by ctest with TTP_BIN and TTP_MPIEXEC; exit 77 only without the tool.
set -u
BIN=${TTP_BIN:-}
MPIEXEC=${TTP_MPIEXEC:-mpiexec}
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then echo "SKIP: ttpredict binary not found"; exit 77; fi
T=$(mktemp -d /tmp/ttp_cli_sweep.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0 checks=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { checks=$((checks + 1)); }
# Quick settings; no step timing, so that the numbers compared are all
# deterministic (the wall-clock is measured, hence never equal twice).
Q=(--steps 40 --dproj 256 --proj rademacher --time-steps 0 --ensemble 4 --tt rel:0.1 -q)
LRS=(0.005 0.04)
BATCHES=(750 50)

for np in 1 2; do
  timeout 300 "$MPIEXEC" -n $np "$BIN" sweep "${Q[@]}" --lrs "$(IFS=,; echo "${LRS[*]}")" \
      --batches "$(IFS=,; echo "${BATCHES[*]}")" --momentum 0.5 --budget-steps 30 \
      --json "$T/s$np.json" --out "$T/s$np.nc" --report "$T/r$np" >"$T/out$np" 2>"$T/err$np"
  rc=$?; ok
  [ $rc -eq 0 ] || fail "sweep at $np rank(s) exited $rc: $(cat "$T/err$np")"
  for lr in "${LRS[@]}"; do
    for b in "${BATCHES[@]}"; do
      timeout 300 "$MPIEXEC" -n $np "$BIN" predict "${Q[@]}" --lr "$lr" --batch "$b" --momentum 0.5 \
          --json "$T/p${np}_${lr}_$b.json" --out "$T/p${np}_${lr}_$b.nc" >"$T/pout" 2>"$T/perr"
      rc=$?; ok
      [ $rc -eq 0 ] || fail "predict --lr $lr --batch $b at $np rank(s) exited $rc: $(cat "$T/perr")"
    done
  done
done
ok; grep -q "BEST" "$T/out1" || fail "the sweep names no best setting: $(cat "$T/out1")"
ok; [ -s "$T/r1/report.md" ] && [ -s "$T/r1/sweep_time.svg" ] && [ -s "$T/r1/sweep_loss.svg" ] \
  || fail "report files missing"
ok; ncdump -h "$T/s1.nc" | grep -q 'ttp_kind = "sweep"' || fail "result file is not a sweep file"
ok; ncdump -h "$T/s1.nc" | grep -q 'lr_stable' || fail "result file lacks the stable learning rates"

python3 - "$T" "${LRS[*]}" "${BATCHES[*]}" <<'PY' || fail "JSON checks (see above)"
import json, sys, os
d, lrs, batches = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
bad = 0
def check(cond, what):
    global bad
    if not cond:
        print("FAIL:", what); bad += 1
# every number a setting reports: the decisions exactly (same kernel, same
# rules), the curves' values to rounding (the sweep advances the settings
# that share a batch size together, ttp_sim_run_many: the same recurrences
# with the products' sums in another order, ~1e-15 relative a step)
KEYS = ("tt_steps", "tt_steps_lo", "tt_steps_hi", "stability", "lr_stable", "lr_stable_full_batch",
        "batch_stability_mean", "batch_stability_max", "valid", "warning")
NEAR = ("final_loss", "final_loss_lo", "final_loss_hi", "final_accuracy", "loss_growth")
def near(x, y, rel=1e-9):
    return x == y or abs(x - y) <= rel * max(abs(x), abs(y))
for np in (1, 2):
    s = json.load(open(os.path.join(d, "s%d.json" % np)))
    check(s["count"] == len(lrs) * len(batches), "np %d: %s settings" % (np, s["count"]))
    rows = s["settings"]
    n = s["n"]
    for lr in lrs:
        for b in batches:
            p = json.load(open(os.path.join(d, "p%d_%s_%s.json" % (np, lr, b))))
            bb = int(b) or n
            m = [r for r in rows if r["lr"] == float(lr) and r["batch"] == bb]
            check(len(m) == 1, "np %d: setting lr %s batch %s not found once" % (np, lr, b))
            if not m: continue
            r = m[0]
            for k in KEYS:
                check(r[k] == p[k], "np %d lr %s batch %s: %s sweep %r, predict %r" % (np, lr, b, k, r[k], p[k]))
            for k in NEAR:
                check(near(r[k], p[k]), "np %d lr %s batch %s: %s sweep %r, predict %r" % (np, lr, b, k, r[k], p[k]))
            fa = p["faithfulness"]
            check(near(r["faith_worst_output_gap"], fa["worst_output_gap"]),
                  "np %d: faithfulness differs: %r, %r" % (np, r["faith_worst_output_gap"], fa["worst_output_gap"]))
            # the largest stable lr: heavy ball m = 0.5, CE (kappa = 1/2):
            # 2 (1 + m) / (kappa mu_max); SGD: no larger than that
            full = 2 * 1.5 / (0.5 * p["mu_max"])
            check(abs(p["lr_stable_full_batch"] - full) <= 1e-9 * full,
                  "lr_stable_full_batch %r, closed form %r" % (p["lr_stable_full_batch"], full))
            if bb == n:
                check(p["lr_stable"] == p["lr_stable_full_batch"], "GD: lr_stable is not the full-batch limit")
            else:  # the lr at which the mean per-batch stability reaches its limit (2 on this scale)
                lb = float(lr) * 2 / p["batch_stability_mean"]
                check(abs(p["lr_stable"] - min(full, lb)) <= 1e-9 * full,
                      "SGD lr_stable %r, expected min(%r, %r)" % (p["lr_stable"], full, lb))
    # sorted by steps (not timed); unconverged last
    keys = [r["tt_steps"] if r["tt_steps"] >= 0 else float("inf") for r in rows]
    check(keys == sorted(keys), "np %d: table not sorted by steps: %s" % (np, keys))
    # the best within the budget: the first valid converged row with steps <= 30
    want = next((r for r in rows if r["valid"] and 0 <= r["tt_steps"] <= 30), None)
    if want is None:
        check(s["best"] is None, "np %d: best %r although no row qualifies" % (np, s["best"]))
    else:
        check(s["best"] == want["index"], "np %d: best %r, expected %r" % (np, s["best"], want["index"]))
# rank-count independence of the decisions (the Gram's rounding differs)
a, b = (json.load(open(os.path.join(d, "s%d.json" % np))) for np in (1, 2))
check([r["index"] for r in a["settings"]] == [r["index"] for r in b["settings"]], "order differs across ranks")
sys.exit(1 if bad else 0)
PY
ok

# The same at full precision (JSON rounds to 10 digits): the NetCDF files'
# doubles printed with 17 significant digits (the final loss to rounding,
# 1e-10 relative; the stable learning rate exactly).
python3 - "$T" "${LRS[*]}" "${BATCHES[*]}" <<'PY' || fail "NetCDF full-precision checks (see above)"
import os, re, subprocess, sys
d, lrs, batches = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
def dump(path):
    return subprocess.run(["ncdump", "-p", "17,17", path], capture_output=True, text=True, check=True).stdout
def var(text, name):
    m = re.search(r"\n " + name + r" =([^;]*);", text)
    return [float(x) for x in m.group(1).replace("\n", " ").split(",")]
def att(text, name):
    return float(re.search(r":" + name + r" = ([^ ;]+) ;", text).group(1))
bad = 0
for np in (1, 2):
    s = dump(os.path.join(d, "s%d.nc" % np))
    lr, b, fl, ls = var(s, "lr"), var(s, "batch"), var(s, "final_loss"), var(s, "lr_stable")
    for l in lrs:
        for bb in batches:
            p = dump(os.path.join(d, "p%d_%s_%s.nc" % (np, l, bb)))
            i = next(k for k in range(len(lr)) if lr[k] == float(l) and b[k] == float(bb))
            pl = var(p, "loss")
            for what, x, y, rel in (("final loss", fl[i], pl[-1], 1e-10), ("lr_stable", ls[i], att(p, "lr_stable"), 0)):
                if x != y and not abs(x - y) <= rel * max(abs(x), abs(y)):
                    print("FAIL: np %d lr %s batch %s: %s sweep %r, predict %r" % (np, l, bb, what, x, y))
                    bad += 1
sys.exit(1 if bad else 0)
PY
ok

# Bad lists: a clear message naming the option, exit 2, nothing written.
bad_case() { # expected-text args...
  local want=$1; shift
  "$BIN" sweep "${Q[@]}" --json "$T/bad.json" "$@" >"$T/bout" 2>"$T/berr"
  local rc=$?; ok
  [ $rc -eq 2 ] || fail "sweep $* exited $rc (expected 2): $(cat "$T/berr")"
  ok; grep -q -- "$want" "$T/berr" || fail "sweep $*: message lacks '$want': $(cat "$T/berr")"
  ok; [ ! -e "$T/bad.json" ] || fail "sweep $* left $T/bad.json"
}
bad_case "option --lrs: empty list" --lrs ,
bad_case "option --lrs: missing value" --lrs ""
bad_case "option --lrs: -0.01 is out of range" --lrs 0.01,-0.01
bad_case "option --batches: value 2 is 5000" --batches 10,5000
bad_case "option --momenta: value 1 is 1" --momenta 1
bad_case "option --wds: -1 is out of range" --wds -1
bad_case "more than the limit of 256" --lrs 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17 \
  --batches 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16
bad_case "option --budget: a budget in seconds needs the wall-clock" --budget 10
bad_case "unknown option" --relinearize 10

echo "$checks checks, $fails failures"
[ $fails -eq 0 ]
