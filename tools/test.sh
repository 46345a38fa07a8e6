#!/usr/bin/env bash
# One command for the whole test suite: install what is missing, build with
# warnings as errors, run every test through ctest (unit, MPI at 1/2/4 ranks,
# command line; CUDA tests skip with a reason when no GPU answers).
#   bash tools/test.sh [ctest options, e.g. -L mpi]
# Then a second stage (skipped with TTP_SKIP_SANITIZE=1, or when ctest
# options are given): build-asan, everything built with clang (gcc without
# it) under -fsanitize=address,undefined -fno-sanitize-recover=all, runs the
# unit and command-line tests and the libFuzzer targets (label fuzz,
# TTP_FUZZ_SECONDS each, default 25).  The MPI tests stay in the first
# stage: under ASan they take several times longer and exercise Open MPI's
# code more than ttpredict's; the command-line tests still run mpiexec.
# ASAN_OPTIONS=detect_leaks=0: Open MPI and HDF5 keep allocations alive
# until exit by design, which LeakSanitizer would report on every run;
# ASan's memory-error checks and UBSan stay on.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/tools/install-deps.sh"
bash "$root/tools/build.sh" -DTTP_WERROR=ON
. "$root/tools/mpi-env.sh"
t0=$(date +%s)
ctest --test-dir "${TTP_BUILD_DIR:-$root/build}" --output-on-failure "$@"
echo "test.sh: first stage (tests) took $(( $(date +%s) - t0 )) s"

if [ "${TTP_SKIP_SANITIZE:-0}" = 1 ] || [ $# -gt 0 ]; then exit 0; fi
t1=$(date +%s)
bash "$root/tools/install-test-deps.sh"
cc=gcc
command -v clang >/dev/null 2>&1 && cc=clang
CC=$cc TTP_BUILD_DIR="$root/build-asan" bash "$root/tools/build.sh" -DTTP_WERROR=ON -DTTP_SANITIZE=ON \
    -DTTP_FUZZ=ON -DTTP_ENABLE_CUDA=OFF -DTTP_FUZZ_SECONDS="${TTP_FUZZ_SECONDS:-25}"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    ctest --test-dir "$root/build-asan" --output-on-failure -L 'unit|cli|fuzz'
echo "test.sh: sanitizer stage ($cc: build, unit, cli, fuzz) took $(( $(date +%s) - t1 )) s"
