#!/usr/bin/env bash
# Reproduce the bundled wide task's model bit for bit with the built ttpredict:
#   data/wide-model.nc   the wide ResNet of tools/wide/export_wide.py
#                        (conv3x3 1->64, BasicBlocks 64->64, 64->128/2, 128->256/2,
#                        global average pool, dense 256->5; 1,226,501 weights,
#                        He-normal from torch seed 1, exported to ONNX in float64),
#                        pretrained by `ttpredict train` on data/pretrain-data.nc
#                        (8x8 digits 0-4): cross-entropy, SGD |B| = 64, lr 0.05,
#                        momentum 0.9, weight decay 5e-4, 60 steps; then given a
#                        fresh 5-class head (seed 1) with zero training steps:
#                        the model `ttpredict --task wide` fine-tunes on
#                        data/default-data.nc (digits 5-9)
# The ONNX file and the pretrained body are intermediate files (removed at the
# end); only data/wide-model.nc is kept.
#
# Bit-for-bit: torch's export is deterministic for a fixed seed (same torch
# version), and the training run is serial and deterministic (seeded batches,
# OpenBLAS single-threaded).  A different torch or OpenBLAS build can change
# the last bits; --check rebuilds and compares with the committed file.
#
#   bash tools/make_wide.sh           # rewrite data/wide-model.nc (a few minutes on one core)
#   bash tools/make_wide.sh --check   # rebuild and compare with data/wide-model.nc
# The tool is $TTP_BIN, else ${TTP_BUILD_DIR:-build}/ttpredict; the exporter
# needs Debian's python3-torch and python3-onnx (/usr/bin/python3, or $TTP_PYTHON).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${TTP_BIN:-${TTP_BUILD_DIR:-$root/build}/ttpredict}
py=${TTP_PYTHON:-/usr/bin/python3}
[ -x "$bin" ] || { echo "make_wide.sh: no ttpredict at $bin (build first: bash tools/build.sh)" >&2; exit 1; }
[ -f data/pretrain-data.nc ] || { echo "make_wide.sh: data/pretrain-data.nc is missing (tools/make_digits.py makes it)" >&2; exit 1; }
"$py" -c 'import torch, onnx' 2>/dev/null ||
  { echo "make_wide.sh: $py lacks torch or onnx (Debian: python3-torch python3-onnx)" >&2; exit 1; }
export OPENBLAS_NUM_THREADS=1

check=0
[ "${1:-}" = "--check" ] && check=1
keep=""
cleanup() {
  rm -f data/wide-init.onnx data/wide-pretrained.nc
  if [ -n "$keep" ]; then mv -f "$keep/wide-model.nc" data/; rm -rf "$keep"; fi
}
trap cleanup EXIT
if [ $check = 1 ]; then
  # Keep the committed file aside, rebuild in place (same relative paths,
  # hence the same history attribute), compare, and put the original back.
  keep=$(mktemp -d)
  cp data/wide-model.nc "$keep/"
fi

"$py" tools/wide/export_wide.py data/wide-init.onnx --classes 5 --seed 1 2>/dev/null
"$bin" train --model data/wide-init.onnx --data data/pretrain-data.nc \
  --loss ce --lr 0.05 --batch 64 --momentum 0.9 --wd 5e-4 --steps 60 --seed 1 \
  --out-model data/wide-pretrained.nc
"$bin" train --model data/wide-pretrained.nc --data data/default-data.nc \
  --new-head 5 --head-seed 1 --steps 0 --out-model data/wide-model.nc

if [ $check = 1 ]; then
  if cmp -s data/wide-model.nc "$keep/wide-model.nc"; then echo "data/wide-model.nc: identical"; exit 0; fi
  echo "data/wide-model.nc: DIFFERS from the rebuilt file"; exit 1
fi
echo "wrote data/wide-model.nc"
