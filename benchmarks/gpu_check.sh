#!/usr/bin/env bash
# The device check of the CUDA backend, in one run (well under 10 minutes on
# one H200 with 16 cores):
#   1. configure and build with CUDA (sm_90 code plus compute_90 PTX),
#      warnings as errors: only the targets used below;
#   2. the GPU tests (ctest label cuda: test_gpu_proj, test_gpu_net), which
#      compare every device kernel with its CPU twin; a failed parity test,
#      or a skip on a machine that has a device, fails this script;
#   3. bench_gpu on the bundled task and on --task wide: the Jacobian stage
#      per sample against the device's FP64 GEMM rate measured in the same
#      run (the same GEMM shapes alone, and a square DGEMM), the projection's
#      generator against the measured device copy bandwidth, the CPU path per
#      sample, and a parity check of G (fails the script above 1e-10);
#   4. the whole kernel stage (`ttpredict kernel`, kron D' = 1024) with
#      --backend cuda on one rank against --backend cpu on CPU_RANKS ranks
#      (default 2, the 2-core CPU path), bundled task and --task wide.
# Usage:
#   bash benchmarks/gpu_check.sh [--dry-run] [build dir]
# --dry-run (also taken when no device answers): build, run the tests (they
# skip with the reason), run bench_gpu on the CPU twin for a few samples
# (its parity logic) and the CPU side of step 4 on the bundled task; report
# what was skipped.  Exit status: 0 all passed, 1 a check failed, 2 set-up.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dry=0
if [ "${1:-}" = "--dry-run" ]; then dry=1; shift; fi
build=${1:-$root/build-gpu}
jobs=${JOBS:-$(nproc)}
cpu_ranks=${CPU_RANKS:-2}
t0=$(date +%s)
say() { printf '[gpu_check %4ds] %s\n' $(( $(date +%s) - t0 )) "$*"; }
fail() { say "FAIL: $*"; exit 1; }

# ---- 1. build ------------------------------------------------------------------
command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] || { say "nvcc not found"; exit 2; }
mkdir -p "$build"
say "configure $build (CUDA, sm_90 + PTX, -DTTP_WERROR=ON)"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DTTP_WERROR=ON -DTTP_ENABLE_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES=90 >"$build/gpu_check.configure.log" 2>&1 || { tail -30 "$build/gpu_check.configure.log"; exit 2; }
grep -q "CUDA backend ON" "$build/gpu_check.configure.log" || { say "CMake did not enable CUDA:"; grep ttpredict "$build/gpu_check.configure.log"; exit 2; }
say "build ttpredict test_gpu_net test_gpu_proj bench_gpu (-j$jobs)"
cmake --build "$build" -j"$jobs" --target ttpredict test_gpu_net test_gpu_proj bench_gpu \
  >"$build/gpu_check.build.log" 2>&1 || { tail -40 "$build/gpu_check.build.log"; fail "build"; }
bin=$build/ttpredict
. "$root/tools/mpi-env.sh"
export OPENBLAS_NUM_THREADS=1

# Is there a device?  nvidia-smi says so; the GPU tests then must not skip.
smi=0
if nvidia-smi -L >/dev/null 2>&1; then
  smi=1
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | sed 's/^/device: /'
fi

# ---- 2. tests ------------------------------------------------------------------
say "GPU tests (ctest -L cuda)"
out=$(cd "$build" && ctest -L cuda -V 2>&1) && rc=0 || rc=$?
echo "$out" | grep -E "Test +#|tests passed|SKIP|checks|FAIL|forward|kron|exact|rademacher|gaussian|every layer|model.nc|finite" | grep -v "^ *$" | tail -80 || true
[ $rc = 0 ] || fail "a GPU parity test failed (ctest exit $rc)"
have_dev=1
if echo "$out" | grep -q "(Skipped)"; then
  have_dev=0
  if [ $smi = 1 ] && [ $dry = 0 ]; then fail "a GPU test skipped on a machine with a device"; fi
  say "GPU tests skipped: $(grep -h -m1 '^SKIP' "$build/Testing/Temporary/LastTest.log" 2>/dev/null || true)"
fi
[ $dry = 1 ] && have_dev=0

# ---- 3. the stage against the device's own rates -------------------------------
if [ $have_dev = 1 ]; then
  for task in default wide; do
    say "bench_gpu --task $task (kron D' = 1024)"
    TTP_DATA_DIR=$root/data "$build/benchmarks/bench_gpu" --task $task --proj kron --dproj 1024 --reps 3 \
      --cpu-samples 8 || fail "bench_gpu --task $task"
  done
else
  say "bench_gpu on the CPU twin (no device: its parity logic only)"
  TTP_DATA_DIR=$root/data "$build/benchmarks/bench_gpu" --gnet ref --task default --samples 4 --cpu-samples 4 \
    --reps 1 --dproj 256 || fail "bench_gpu (twin)"
fi

# ---- 4. the whole kernel stage: cuda against the CPU path ----------------------
tmp=$(mktemp -d /tmp/ttp_gpu_check.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
field() { sed -n "s/.*\"$2\": *\([0-9.eE+-]*\).*/\1/p" "$1" | head -1; }
kernel() { # label backend ranks task
  local label=$1 be=$2 np=$3 task=$4
  timeout "${KERNEL_TIMEOUT:-240}" mpirun -np "$np" "$bin" kernel --task "$task" --proj kron --dproj 1024 \
    --backend "$be" --out "$tmp/$label.nc" --json "$tmp/$label.json" >"$tmp/$label.log" 2>&1
}
for task in default wide; do
  if [ $have_dev = 0 ] && [ $task = wide ]; then say "kernel --task wide: skipped (no device; the CPU side alone is benchmarks/wide_cost.sh)"; continue; fi
  say "kernel --task $task: --backend cpu on $cpu_ranks ranks"
  if kernel "cpu-$task" cpu "$cpu_ranks" "$task"; then
    cpu_j=$(field "$tmp/cpu-$task.json" jacobian); cpu_t=$(field "$tmp/cpu-$task.json" total)
    say "  cpu: jacobian $cpu_j s, total $cpu_t s"
  else
    cpu_j=; cpu_t=; say "  cpu: did not finish within ${KERNEL_TIMEOUT:-240} s (or failed): $(tail -2 "$tmp/cpu-$task.log")"
  fi
  if [ $have_dev = 1 ]; then
    say "kernel --task $task: --backend cuda on 1 rank"
    kernel "cuda-$task" cuda 1 "$task" || { tail -5 "$tmp/cuda-$task.log"; fail "kernel --backend cuda --task $task"; }
    grep -q '"backend": *"cuda"' "$tmp/cuda-$task.json" || fail "the kernel stage did not report backend cuda"
    gpu_j=$(field "$tmp/cuda-$task.json" jacobian); gpu_t=$(field "$tmp/cuda-$task.json" total)
    say "  cuda: jacobian $gpu_j s, total $gpu_t s"
    if [ -n "$cpu_t" ]; then
      awk -v a="$cpu_j" -v b="$gpu_j" -v c="$cpu_t" -v d="$gpu_t" -v t="$task" -v r="$cpu_ranks" 'BEGIN {
        printf "ratio kernel-stage cpu(%d ranks)/cuda, task %s: jacobian %.1fx, whole stage %.1fx\n", r, t, a / b, c / d }'
      # the two kernels agree (same plan; rows to rounding): largest eigenvalue
      awk -v a="$(field "$tmp/cpu-$task.json" largest_eigenvalue)" -v b="$(field "$tmp/cuda-$task.json" largest_eigenvalue)" \
        'BEGIN { e = (a - b) / a; if (e < 0) e = -e; printf "largest eigenvalue cpu %.12g cuda %.12g (rel. diff %.1e)\n", a, b, e; exit !(e < 1e-10) }' \
        || fail "the cuda and cpu kernels differ (task $task)"
    fi
  else
    say "kernel --task $task --backend cuda: skipped (no device)"
  fi
done
say "done: $([ $have_dev = 1 ] && echo 'all device checks passed' || echo 'dry run: build, twin checks and CPU side passed; device checks skipped')"
