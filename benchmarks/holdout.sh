#!/usr/bin/env bash
# Hold-out check of the extrapolation (DESIGN.md §4): build the kernel on
# N0 = N/4 and N/2 of the bundled task, extrapolate to N through the fitted
# power laws, and compare the training times with (a) the prediction from
# the full-N kernel and (b) real training at N.  Per optimizer and per
# training-time definition it prints the relative errors; the headline
# (median and worst relative error against real training) comes last.
#   bash benchmarks/holdout.sh [build dir]     (about 2 minutes on 2 cores)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build}/ttpredict
[ -x "$bin" ] || { echo "holdout.sh: build first (bash tools/build.sh)" >&2; exit 2; }
. "$root/tools/mpi-env.sh"
out=$(mktemp -d /tmp/ttp_holdout.XXXXXX)
trap 'rm -rf "$out"' EXIT
N=750
TT="rel:0.3,rel:0.2,rel:0.1,rel:0.05"
# MSE: the spectrum-only dynamics model MSE (docs/METHOD.md); learning rates
# inside the linear regime (eta*mu_max ~ 0.6 of the limit 2).
cases=("gd:--lr 0.005" "sgd64:--lr 0.005 --batch 64" "sgd64m:--lr 0.0025 --batch 64 --momentum 0.5")
for c in "${cases[@]}"; do
  name=${c%%:*}; args=${c#*:}
  # shellcheck disable=SC2086
  mpirun -np 2 "$bin" train --loss mse $args --json "$out/$name-real.json" >/dev/null
  for n0 in $N $((N / 2)) $((N / 4)); do
    sub=""; [ "$n0" -lt "$N" ] && sub="--subset $n0"
    # shellcheck disable=SC2086
    mpirun -np 2 "$bin" predict -q --loss mse $args $sub --tt "$TT" --time-steps 0 --json "$out/$name-$n0.json" >/dev/null
  done
done
python3 - "$out" "$N" "$TT" <<'PY'
import json, sys, statistics
out, N, tt = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fracs = [float(x.split(":")[1]) for x in tt.split(",")]
def ttime(L, f):   # the definition ttp_ttime implements (rel kind)
    e = L[-1]; t = len(L) - 1
    while t >= 0 and L[t] - e <= f * (L[0] - e): t -= 1
    return t + 1
rows, errs_real, errs_full = [], [], []
for name in ("gd", "sgd64", "sgd64m"):
    real = json.load(open(f"{out}/{name}-real.json"))["loss"]
    pred = {n0: json.load(open(f"{out}/{name}-{n0}.json")) for n0 in (N, N // 2, N // 4)}
    for i, f in enumerate(fracs):
        r = ttime(real, f)
        full = pred[N]["training_times"][i]["steps"]
        for n0 in (N // 2, N // 4):
            x = pred[n0]["training_times"][i]["steps"]
            er, ef = abs(x - r) / r, abs(x - full) / max(full, 1)
            errs_real.append(er); errs_full.append(ef)
            rows.append((name, f, n0, x, full, r, ef, er))
print(f"{'optimizer':9} {'rel eps':>7} {'N0':>5} {'extrap':>7} {'full-N':>7} {'real':>5} {'err vs full':>12} {'err vs real':>12}")
for name, f, n0, x, full, r, ef, er in rows:
    print(f"{name:9} {f:7.2f} {n0:5d} {x:7d} {full:7d} {r:5d} {100*ef:11.1f}% {100*er:11.1f}%")
within = sum(e <= 0.20 for e in errs_real) / len(errs_real)
print(f"\nextrapolated from N/4 and N/2 to N = {N}: {len(rows)} cases")
print(f"  vs the full-N prediction: median {100*statistics.median(errs_full):.1f}%, worst {100*max(errs_full):.1f}%")
print(f"  vs real training at N:    median {100*statistics.median(errs_real):.1f}%, worst {100*max(errs_real):.1f}%, "
      f"{100*within:.0f}% of cases within 20%")
PY
