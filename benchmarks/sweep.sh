#!/usr/bin/env bash
# Cost of a sweep against one prediction on the bundled task: one `predict`
# at its defaults, then `sweep` over 24 settings (4 learning rates x 3 batch
# sizes x 2 momenta) from one kernel, in the same run.  Both the wall-clock
# and the CPU seconds (user + system, which a shared machine does not
# inflate) are printed, with their ratios; then the same sweep with
# --faith best (faithfulness measured only up to the best setting), and a
# breakdown of where a sweep's time goes (kernel, step timing, settings).
#   bash benchmarks/sweep.sh [build dir] [ranks]     (a few minutes on 2 cores)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build}/ttpredict
np=${2:-1}
[ -x "$bin" ] || { echo "sweep.sh: build first (bash tools/build.sh)" >&2; exit 2; }
. "$root/tools/mpi-env.sh"
out=$(mktemp -d /tmp/ttp_sweep.XXXXXX)
trap 'rm -rf "$out"' EXIT
export OPENBLAS_NUM_THREADS=1
GRID=(--lrs 0.002,0.005,0.01,0.02 --batches 0,64,256 --momenta 0,0.9)

run() { # name, then the command; records wall and CPU seconds
  local name=$1; shift
  /usr/bin/time -f "%e %U %S" -o "$out/$name.time" "$@" >"$out/$name.out" 2>"$out/$name.err" \
    || { echo "sweep.sh: $name failed:" >&2; cat "$out/$name.err" >&2; exit 1; }
}
run predict mpirun -np "$np" "$bin" predict -q --json "$out/predict.json"
run sweep mpirun -np "$np" "$bin" sweep -q "${GRID[@]}" --json "$out/sweep.json"
run sweep_best mpirun -np "$np" "$bin" sweep -q "${GRID[@]}" --faith best --json "$out/sweep_best.json"

python3 - "$out" "$np" <<'PY'
import json, os, sys
d, np = sys.argv[1], sys.argv[2]
def t(name):
    e, u, s = (float(x) for x in open(os.path.join(d, name + ".time")).read().split()[-3:])
    return e, u + s
p = json.load(open(os.path.join(d, "predict.json")))
pw, pc = t("predict")
print(f"bundled task, {np} rank(s); predict at its defaults (GD, lr 0.01, T 150, 5 timed steps)")
print(f"  predict            wall {pw:7.2f} s   cpu {pc:7.2f} s   "
      f"(kernel {p['seconds_kernel']:.2f}, dynamics {p['seconds_dynamics']:.2f}, "
      f"faithfulness {p['faithfulness']['seconds']:.2f}, step timing {p['seconds_step_timing']:.2f})")
for name, what in (("sweep", "sweep, 24 settings"), ("sweep_best", "sweep --faith best")):
    s = json.load(open(os.path.join(d, name + ".json")))
    sw, sc = t(name)
    n = s["count"]
    best = s.get("best_lr")
    print(f"  {what:18s} wall {sw:7.2f} s   cpu {sc:7.2f} s   ratio to predict: wall {sw / pw:.2f}x, "
          f"cpu {sc / pc:.2f}x   (kernel {s['seconds_kernel']:.2f}, step timing "
          f"{s['seconds_step_timing']:.2f}, settings {s['seconds_settings']:.2f} = "
          f"{s['seconds_settings'] / n:.3f} each)")
    if best is not None:
        print(f"  {'':18s} best: lr {best}, batch {s['best_batch']}, momentum {s['best_momentum']}: "
              f"{s['best_tt_steps']} steps, {s['best_wall_seconds']:.3g} s")
    else:
        print(f"  {'':18s} best: none valid")
a, b = (json.load(open(os.path.join(d, n + ".json"))) for n in ("sweep", "sweep_best"))
same = a.get("best") == b.get("best")
print(f"  --faith best names the same best setting as checking all: {'yes' if same else 'NO'}")
print("target: a 24-setting sweep below 2x one predict")
PY
