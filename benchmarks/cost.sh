#!/usr/bin/env bash
# What a prediction costs next to the training it predicts, side by side in
# one run, on the bundled task (5,589 weights, N = 750, C = 5) and on a wide
# CNN (conv3x3 1→64→192→256→256, GAP, dense 5: 1,145,413 weights, built in C
# by bench_step_model, He-initialised, on the same 750 images).  For each
# task and each optimizer — GD (full batch, T = 150) and SGD (|B| = 50,
# T = 150) — it runs `ttpredict predict` and `ttpredict train` on RANKS ranks
# (default 2) and prints per-stage seconds and the ratio training /
# prediction (how many times cheaper the prediction is), against the whole
# training run and against its optimizer steps alone (`train` also
# evaluates the loss on the whole set after every step).  Then the step-time
# model against measured full steps (bench_step_model) on both tasks.
#   bash benchmarks/cost.sh [build dir] [output dir]
# TASKS may also name wide-task: the bundled wide task (`--task wide`,
# data/wide-model.nc: a pretrained wide ResNet, 1,226,501 weights, trained
# WIDE_TRAIN_STEPS steps like the wide CNN; benchmarks/wide_cost.sh
# measures that task alone).
# Environment: TASKS ("bundled wide"), RANKS (2), WIDE_TRAIN_STEPS (5: the
#   wide CNN trains for this many steps and its seconds are scaled to 150,
#   per step; say 150 for the full run, about half an hour on 2 cores),
#   REUSE_KERNEL (1: the SGD prediction reuses the GD prediction's kernel
#   file and is charged that kernel stage's seconds), STEP_BATCHES (the
#   batch sizes of the step-model check), SKIP_STEP_MODEL (1 skips it),
#   OPTS ("gd sgd"; sgd-auto adds SGD with `--subset auto`, its own kernel
#   on the subset the rule picks, so never the reused one).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
bin=$build/ttpredict
bsm=$build/benchmarks/bench_step_model
[ -x "$bin" ] && [ -x "$bsm" ] || { echo "cost.sh: build first (cmake --build <dir>)" >&2; exit 2; }
. "$root/tools/mpi-env.sh"
py=/usr/bin/python3
if [ -n "${2:-}" ]; then
  out=$2; mkdir -p "$out"
else
  out=$(mktemp -d /tmp/ttp_cost.XXXXXX)
  trap 'rm -rf "$out"' EXIT
fi
np=${RANKS:-2}
T=150
wide_steps=${WIDE_TRAIN_STEPS:-5}
reuse=${REUSE_KERNEL:-1}
"$bsm" write "$out" >/dev/null
data=$root/data/default-data.nc
t0=$(date +%s)

run() { # label, then the command; its stderr and stdout go to $out/label.log
  local label=$1; shift
  if ! "$@" >"$out/$label.log" 2>&1; then
    echo "cost.sh: $label failed:" >&2; tail -20 "$out/$label.log" >&2; exit 1
  fi
}

for task in ${TASKS:-bundled wide}; do
  case $task in
    bundled) model=$root/data/default-model.nc; tsteps=$T ;;
    wide) model=$out/wide-cnn.nc; tsteps=$wide_steps ;;
    wide-task) model=$root/data/wide-model.nc; tsteps=$wide_steps ;; # what --task wide reads
    *) echo "cost.sh: task '$task': expected bundled, wide or wide-task" >&2; exit 2 ;;
  esac
  for opt in ${OPTS:-gd sgd}; do
    bflag=(); [ "$opt" != gd ] && bflag=(--batch 50)
    kflag=(--save-kernel "$out/$task-kernel.nc")
    if [ "$opt" = sgd ] && [ "$reuse" = 1 ]; then kflag=(--kernel "$out/$task-kernel.nc"); fi
    [ "$opt" = sgd-auto ] && kflag=(--subset auto)
    run "$task-$opt-predict" mpirun -np "$np" "$bin" predict --model "$model" --data "$data" "${bflag[@]}" \
      --steps $T "${kflag[@]}" --json "$out/$task-$opt-predict.json"
    if [ "$opt" = sgd-auto ] && [ -f "$out/$task-sgd-train.json" ]; then
      cp "$out/$task-sgd-train.json" "$out/$task-$opt-train.json" # the same training run
    else
      run "$task-$opt-train" mpirun -np "$np" "$bin" train --model "$model" --data "$data" "${bflag[@]}" \
        --steps "$tsteps" --json "$out/$task-$opt-train.json"
    fi
  done
done

# ---- neural-tangents comparison (exact Θ against empirical_ntk_fn): its
# ---- place is here, reading the same $out/wide-cnn.nc and $data.

$py - "$out" "$T" "$wide_steps" "$reuse" "${OPTS:-gd sgd}" ${TASKS:-bundled wide} <<'PY'
import json, sys
out, T, wide_steps, reuse, opts, tasks = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1",
                                          sys.argv[5].split(), sys.argv[6:])
rows = []
print("\ncost.sh: prediction and training side by side, seconds (2 ranks unless RANKS says otherwise)")
print(f"{'task':9} {'opt':8} {'predict':>8} {'kernel':>8} {'dynamics':>8} {'timing':>7} {'how':>8} "
      f"{'train':>9} {'steps':>9} {'s/step':>8} {'train/pred':>10} {'steps/pred':>10}")
for task in tasks:
    kernel_gd = None
    for opt in opts:
        p = json.load(open(f"{out}/{task}-{opt}-predict.json"))
        t = json.load(open(f"{out}/{task}-{opt}-train.json"))
        pk = p["seconds_kernel"]
        pred = p["seconds"]
        if opt == "gd":
            kernel_gd = pk
        elif reuse and opt == "sgd" and kernel_gd is not None:  # the GD run's kernel file: charge its build
            pred += kernel_gd - pk
            pk = kernel_gd
        ran = t["settings"]["steps"]
        scale = T / ran
        train = t["seconds"] * scale
        steps = t["sec_per_step"] * T
        note = "" if ran == T else f"  (trained {ran} steps, scaled to {T})"
        print(f"{task:9} {opt:8} {pred:8.2f} {pk:8.2f} {p['seconds_dynamics']:8.2f} "
              f"{p['seconds_step_timing']:7.2f} {p.get('step_timing', '?'):>8} {train:9.2f} {steps:9.2f} "
              f"{t['sec_per_step']:8.4f} {train / pred:9.1f}x {steps / pred:9.1f}x{note}")
        if p.get("subset_rule"):
            print(f"{'':13} {p['subset_rule']}: kernel on {p['n_kernel']} of {p['n']}, "
                  f"training time {p['tt_steps']} steps [{p['tt_steps_lo']} .. {p['tt_steps_hi']}]")
        pm = p.get("seconds_per_step")
        if pm:
            print(f"{'':13} step time: predicted {pm:.4g} s ({p.get('step_timing', '?')}), "
                  f"training measured {t['sec_per_step']:.4g} s: error {100 * (pm - t['sec_per_step']) / t['sec_per_step']:+.1f}%")
print("train/pred: whole training run over whole prediction; steps/pred: the optimizer steps alone.")
if reuse:
    print("SGD predictions reuse the GD run's kernel file and are charged that kernel's seconds.")
PY

if [ "${SKIP_STEP_MODEL:-0}" != 1 ]; then
  for task in ${TASKS:-bundled wide}; do
    # bench_step_model knows bundled, wide and wide-task
    echo
    mpirun -np "$np" "$bsm" compare "$task" --reps 3 \
      --batches "${STEP_BATCHES:-1,10,50,100,250,500,0}" | tee "$out/step-model-$task.txt"
  done
fi
echo
echo "cost.sh: whole script $(( $(date +%s) - t0 )) s"
