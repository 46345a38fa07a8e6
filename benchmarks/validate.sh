#!/usr/bin/env bash
# The default validation grid on the bundled task at 2 ranks: 16 optimizer
# settings (CE and MSE; GD and SGD |B| = 32; lr 0.005, 0.01; momentum 0, 0.5)
# x 3 training-time definitions (rel:0.2, 0.1, 0.05), each trained for real
# and predicted from one shared kernel (kron D' = 1024).  About 4-5 minutes
# on 2 cores.  Prints the table, then the headline figures last.
#   bash benchmarks/validate.sh [build dir] [extra validate options]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
[ $# -gt 0 ] && shift
[ -x "$build/ttpredict" ] || { echo "validate.sh: build first (bash tools/build.sh)" >&2; exit 2; }
. "$root/tools/mpi-env.sh"
mkdir -p "$root/out"
mpirun -np 2 "$build/ttpredict" validate -q --json "$root/out/validate.json" --report "$root/out/validate" "$@"
