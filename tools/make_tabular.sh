#!/usr/bin/env bash
# Three tabular fine-tuning tasks with an MLP, for benchmarks/accuracy.sh
# (tasks "bc", "wine" and "iris"): the kind of network and data a user
# brings, and unlike the bundled digits.
#   data      scikit-learn's bundled breast-cancer (569 x 30, 2 classes), wine
#             (178 x 13, 3 classes) and iris (150 x 4, 3 classes) tables, split
#             at random (numpy seed $TAB_SEED, default 0) into halves A and B;
#             `convert --npy-inputs` standardizes A and scales B like A
#             (--standardize-like)
#   network   an MLP in -> 64 -> 64 -> C (ReLU), initialized by torch
#             (seed $TAB_SEED) and exported to ONNX, converted by `convert --onnx`
#   pretrain  `train` on A: cross-entropy, SGD |B| = 32, lr 0.05, momentum
#             0.9, 300 steps; then a fresh C-output head with zero
#             training steps: the model fine-tuned on B (head seed $TAB_SEED + 1)
# Output: $1 (default out/accuracy/tabular)/{bc,wine,iris}-{ft,B}.nc.  Another
# TAB_SEED gives other halves, initial weights and heads: the same recipe on
# tasks nothing was tuned on.
#
#   bash tools/make_tabular.sh [out dir]      # TAB_SEED=7 bash tools/make_tabular.sh out/x
# The tool is $TTP_BIN, else ${TTP_BUILD_DIR:-build}/ttpredict; Python needs
# Debian's python3-sklearn, python3-torch and python3-onnx (/usr/bin/python3,
# or $TTP_PYTHON).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/out/accuracy/tabular}
bin=${TTP_BIN:-${TTP_BUILD_DIR:-$root/build}/ttpredict}
py=${TTP_PYTHON:-/usr/bin/python3}
[ -x "$bin" ] || { echo "make_tabular.sh: no ttpredict at $bin (build first: bash tools/build.sh)" >&2; exit 1; }
"$py" -c 'import sklearn, torch, onnx, numpy' 2>/dev/null ||
  { echo "make_tabular.sh: $py lacks sklearn, torch or onnx (Debian: python3-sklearn python3-torch python3-onnx)" >&2; exit 1; }
export OPENBLAS_NUM_THREADS=1
mkdir -p "$out"
seed=${TAB_SEED:-0}
[[ $seed =~ ^[0-9]+$ ]] || { echo "make_tabular.sh: TAB_SEED '$seed', expected a non-negative integer" >&2; exit 2; }
tmp=$(mktemp -d /tmp/ttp_tabular.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

"$py" - "$tmp" "$seed" <<'PY'
import sys, warnings
import numpy as np, torch, sklearn.datasets as ds
warnings.filterwarnings("ignore")
tmp, seed = sys.argv[1], int(sys.argv[2])
torch.manual_seed(seed)
for name, load in (("bc", ds.load_breast_cancer), ("wine", ds.load_wine), ("iris", ds.load_iris)):
    X, y = load(return_X_y=True)
    perm = np.random.default_rng(seed).permutation(len(y))
    half = len(y) // 2
    for part, idx in (("A", perm[:half]), ("B", perm[half:])):
        np.save(f"{tmp}/{name}-{part}-x.npy", X[idx].astype(np.float64))
        np.save(f"{tmp}/{name}-{part}-y.npy", y[idx].astype(np.int64))
    C = int(y.max()) + 1
    net = torch.nn.Sequential(torch.nn.Linear(X.shape[1], 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
                              torch.nn.ReLU(), torch.nn.Linear(64, C))
    torch.onnx.export(net, torch.zeros(1, X.shape[1]), f"{tmp}/{name}-mlp.onnx", input_names=["x"],
                      output_names=["y"])
PY

for name in bc wine iris; do
  classes=$("$py" -c "import numpy; print(int(numpy.load('$tmp/$name-A-y.npy').max()) + 1)")
  "$bin" convert --npy-inputs "$tmp/$name-A-x.npy" --npy-labels "$tmp/$name-A-y.npy" --standardize \
    --out "$tmp/$name-A.nc" >/dev/null
  "$bin" convert --npy-inputs "$tmp/$name-B-x.npy" --npy-labels "$tmp/$name-B-y.npy" \
    --standardize-like "$tmp/$name-A.nc" --out "$out/$name-B.nc" >/dev/null
  "$bin" convert --onnx "$tmp/$name-mlp.onnx" --out "$tmp/$name-mlp.nc" >/dev/null
  "$bin" train --model "$tmp/$name-mlp.nc" --data "$tmp/$name-A.nc" --loss ce --lr 0.05 --batch 32 \
    --momentum 0.9 --steps 300 --seed 1 --out-model "$tmp/$name-pre.nc" >/dev/null
  "$bin" train --model "$tmp/$name-pre.nc" --data "$out/$name-B.nc" --new-head "$classes" --head-seed $((seed + 1)) \
    --steps 0 --out-model "$out/$name-ft.nc" >/dev/null
  echo "make_tabular.sh: $out/$name-ft.nc on $out/$name-B.nc" >&2
done
