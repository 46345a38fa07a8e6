#!/usr/bin/env bash
# The default validation grid on the bundled task at 2 ranks: 36 optimizer
# settings (CE and MSE; GD and SGD |B| = 32, 128; lr 0.0025, 0.005, 0.01;
# momentum 0, 0.5) x 3 training-time definitions, each trained for real and
# predicted.  Prints the table, then the headline figures last.
#   bash benchmarks/validate.sh [build dir] [extra validate options]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
[ $# -gt 0 ] && shift
[ -x "$build/ttpredict" ] || { echo "validate.sh: build first (bash tools/build.sh)" >&2; exit 2; }
. "$root/tools/mpi-env.sh"
mkdir -p "$root/out"
mpirun -np 2 "$build/ttpredict" validate -q --json "$root/out/validate.json" --report "$root/out/validate" "$@"
