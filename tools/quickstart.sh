#!/usr/bin/env bash
# One command for a new user: install what is missing, build, and run the
# main job on the bundled default task with 2 MPI ranks.
#   bash tools/quickstart.sh [extra ttpredict predict options]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/tools/install-deps.sh"
bash "$root/tools/build.sh"
. "$root/tools/mpi-env.sh"
mkdir -p "$root/out"
set -x
mpirun -np 2 "$root/build/ttpredict" predict --json "$root/out/predict.json" --report "$root/out/report" "$@"
