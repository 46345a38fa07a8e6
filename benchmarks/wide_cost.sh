#!/usr/bin/env bash
# What a prediction costs next to the training it predicts, on the bundled
# wide task (`--task wide`: the wide ResNet of tools/wide/export_wide.py,
# 1,226,501 weights, pretrained on digits 0-4 with a fresh 5-class head;
# fine-tuned on the 750 images of digits 5-9), in one run on RANKS ranks
# (default 2): for GD (full batch) and SGD (|B| = 50), both T = 150,
#   predict: the whole `ttpredict predict` (kernel, dynamics; --time-steps 0,
#            so no real steps are timed inside it), wall seconds it reports;
#   train:   `ttpredict train` for the same settings; its optimizer seconds per
#            step times T ("steps"), and its whole run including the loss on
#            the whole set after every step ("whole");
#   ratio:   training / prediction (how many times cheaper predicting is), also
#            against the kernel and dynamics stages alone.
# Full training for T = 150 is long on a small machine, so by default train
# runs GD_STEPS (3) and SGD_STEPS (10) steps and its per-step seconds are
# scaled to T (the printout says so); GD_STEPS=150 SGD_STEPS=150 run it all.
#   bash benchmarks/wide_cost.sh [build dir] [output dir]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
bin=$build/ttpredict
[ -x "$bin" ] || { echo "wide_cost.sh: build first (cmake --build <dir>)" >&2; exit 2; }
[ -f "$root/data/wide-model.nc" ] || { echo "wide_cost.sh: data/wide-model.nc is missing (bash tools/make_wide.sh)" >&2; exit 2; }
. "$root/tools/mpi-env.sh"
if [ -n "${2:-}" ]; then
  out=$2; mkdir -p "$out"
else
  out=$(mktemp -d /tmp/ttp_wide_cost.XXXXXX)
  trap 'rm -rf "$out"' EXIT
fi
np=${RANKS:-2}
T=150
t0=$(date +%s)
run() { # label, then the command; its output goes to $out/label.log
  local label=$1; shift
  if ! "$@" >"$out/$label.log" 2>&1; then
    echo "wide_cost.sh: $label failed:" >&2; tail -20 "$out/$label.log" >&2; exit 1
  fi
}
for opt in gd sgd; do
  bflag=(); steps=${GD_STEPS:-3}
  if [ "$opt" = sgd ]; then bflag=(--batch 50); steps=${SGD_STEPS:-10}; fi
  run "$opt-predict" mpirun -np "$np" "$bin" predict --task wide "${bflag[@]}" --steps $T --time-steps 0 \
    --json "$out/$opt-predict.json"
  run "$opt-train" mpirun -np "$np" "$bin" train --task wide "${bflag[@]}" --steps "$steps" \
    --json "$out/$opt-train.json"
done
/usr/bin/python3 - "$out" "$T" "$np" <<'PY'
import json, sys
out, T, np_ = sys.argv[1], int(sys.argv[2]), sys.argv[3]
print(f"\nwide_cost.sh: --task wide (1,226,501 weights, N = 750), T = {T}, {np_} ranks, seconds")
print(f"{'opt':10} {'predict':>8} {'kernel':>8} {'dynamics':>8} {'other':>7} {'train':>9} {'steps':>9} "
      f"{'s/step':>8} {'whole/pred':>10} {'steps/pred':>10} {'steps/k+d':>9}")
for opt, name in (("gd", "GD full"), ("sgd", "SGD |B|50")):
    p = json.load(open(f"{out}/{opt}-predict.json"))
    t = json.load(open(f"{out}/{opt}-train.json"))
    ran = t["settings"]["steps"]
    whole = t["seconds"] * T / ran
    steps = t["sec_per_step"] * T
    kd = p["seconds_kernel"] + p["seconds_dynamics"]
    other = p["seconds"] - kd - p["seconds_step_timing"]
    note = "" if ran == T else f"  (trained {ran} steps, scaled to {T})"
    print(f"{name:10} {p['seconds']:8.2f} {p['seconds_kernel']:8.2f} {p['seconds_dynamics']:8.2f} {other:7.2f} "
          f"{whole:9.2f} {steps:9.2f} {t['sec_per_step']:8.4f} {whole / p['seconds']:9.1f}x "
          f"{steps / p['seconds']:9.1f}x {steps / kd:8.1f}x{note}")
print("predict: the whole command; other: its reading, checks and the faithfulness check (the real\n"
      "network run at the linearized weights); train: `ttpredict train` with its per-step loss on\n"
      "the whole set (whole), or its optimizer steps alone (steps).  whole/pred and steps/pred:\n"
      "over the whole prediction; steps/k+d: over its kernel and dynamics stages.")
PY
echo "wide_cost.sh: whole script $(( $(date +%s) - t0 )) s"
