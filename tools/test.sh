#!/usr/bin/env bash
# One command for the whole test suite: install what is missing, build with
# warnings as errors, run every test through ctest (unit, MPI at 1/2/4 ranks,
# command line; CUDA tests skip with a reason when no GPU answers).
#   bash tools/test.sh [ctest options, e.g. -L mpi]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/tools/install-deps.sh"
bash "$root/tools/build.sh" -DTTP_WERROR=ON
. "$root/tools/mpi-env.sh"
ctest --test-dir "${TTP_BUILD_DIR:-$root/build}" --output-on-failure "$@"
