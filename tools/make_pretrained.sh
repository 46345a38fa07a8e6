#!/usr/bin/env bash
# Reproduce the bundled models bit for bit with the built ttpredict:
#   data/pretrained.nc     resnet-small trained from scratch (init seed 1) on
#                          data/pretrain-data.nc (8x8 digits 0-4), cross-entropy,
#                          SGD |B| = 64 with momentum 0.9 and weight decay 5e-3,
#                          150 steps (about 10 s on one core; train accuracy > 99 %)
#   data/default-model.nc  that body with a fresh 5-class head (std 1/sqrt(3 fan_in), seed 1),
#                          zero training steps: the model `ttpredict` fine-tunes by
#                          default on data/default-data.nc (digits 5-9)
# Weight decay keeps the pretrained features moderate, so the fresh head's
# initial outputs (and the fine-tuning kernel's top eigenvalue) stay in the
# range where the default learning rate is inside the linearized regime.
#
# Bit-for-bit: the run is serial and deterministic (seeded counter-based RNG,
# fixed batch order); OpenBLAS runs single-threaded here so that the summation
# order cannot change.  The files record the exact commands in their history
# attribute (relative paths, so they do not depend on where the tree lives).
# A different CPU kernel in OpenBLAS can change the last bits; the check at
# the end compares with the committed files when asked to (--check).
#
#   bash tools/make_pretrained.sh           # rewrite data/pretrained.nc, data/default-model.nc
#   bash tools/make_pretrained.sh --check   # rebuild in a temp dir and compare with data/
# The tool is $TTP_BIN, else ${TTP_BUILD_DIR:-build}/ttpredict.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${TTP_BIN:-${TTP_BUILD_DIR:-$root/build}/ttpredict}
[ -x "$bin" ] || { echo "make_pretrained.sh: no ttpredict at $bin (build first: bash tools/build.sh)" >&2; exit 1; }
[ -f data/pretrain-data.nc ] || { echo "make_pretrained.sh: data/pretrain-data.nc is missing (tools/make_digits.py makes it)" >&2; exit 1; }
export OPENBLAS_NUM_THREADS=1

check=0
[ "${1:-}" = "--check" ] && check=1
if [ $check = 1 ]; then
  # Keep the committed files aside, rebuild in place (same relative paths,
  # hence the same history attribute), compare, and put the originals back.
  keep=$(mktemp -d)
  cp data/pretrained.nc data/default-model.nc "$keep/"
  trap 'mv -f "$keep/pretrained.nc" "$keep/default-model.nc" data/; rm -rf "$keep"' EXIT
fi

"$bin" train --arch resnet-small --init-seed 1 --data data/pretrain-data.nc \
  --loss ce --lr 0.05 --batch 64 --momentum 0.9 --wd 5e-3 --steps 150 --seed 1 \
  --out-model data/pretrained.nc
"$bin" train --model data/pretrained.nc --data data/default-data.nc \
  --new-head 5 --head-seed 1 --steps 0 --out-model data/default-model.nc

if [ $check = 1 ]; then
  status=0
  for f in pretrained default-model; do
    if cmp -s "data/$f.nc" "$keep/$f.nc"; then echo "data/$f.nc: identical"
    else echo "data/$f.nc: DIFFERS from the rebuilt file"; status=1; fi
  done
  exit $status
fi
echo "wrote data/pretrained.nc and data/default-model.nc"
