#!/usr/bin/env bash
# The large-N path (docs/large-n.md): generate the augmented
# digits 5–9 dataset (up to N = 50 000, derived from data/digits.nc; never
# committed), then run bench_large under mpirun at 1 and 2 ranks: the
# kernel stage on the D′ × D′ side with the top K eigenpairs, and rank 0's
# SGD ensemble on Θ ≈ V_K Λ_K V_Kᵀ, for growing N.  Per N it prints the
# seconds per stage, peak memory per rank beside the design's model, the
# share of trace(Θ) in the top K, and how far the peak is from a dense Θ;
# each run's headline comes last.  About 5 minutes on 2 cores.
#   bash benchmarks/large.sh [build dir] [output dir]
# Environment: NS (default 2000,8000,20000,50000), PROJ (kron), DPROJ (1024),
#   K (256), STEPS (300), ENSEMBLE (4), RANKS ("1 2").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build}/benchmarks/bench_large
[ -x "$bin" ] || { echo "large.sh: build first (cmake --build <dir> --target bench_large)" >&2; exit 2; }
. "$root/tools/mpi-env.sh"
if [ -n "${2:-}" ]; then
  out=$2; mkdir -p "$out"
else
  out=$(mktemp -d /tmp/ttp_large.XXXXXX)
  trap 'rm -rf "$out"' EXIT
fi
NS=${NS:-2000,8000,20000,50000}
nmax=$(echo "$NS" | tr ',' '\n' | sort -n | tail -1)
data=$out/digits59-$nmax.nc
t0=$(date +%s)
"$bin" --make-data "$data" --n "$nmax" --seed 7 --digits "$root/data/digits.nc"
for np in ${RANKS:-1 2}; do
  echo
  echo "=== mpirun -np $np ==="
  mpirun -np "$np" "$bin" --data "$data" --model "$root/data/default-model.nc" --ns "$NS" \
    --proj "${PROJ:-kron}" --dproj "${DPROJ:-1024}" --k "${K:-256}" --steps "${STEPS:-300}" \
    --ensemble "${ENSEMBLE:-4}" | tee "$out/bench_large_np$np.txt"
done
echo
echo "large.sh: whole script $(( $(date +%s) - t0 )) s; headlines:"
grep -h HEADLINE "$out"/bench_large_np*.txt
