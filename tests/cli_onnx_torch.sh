#!/usr/bin/env bash
# The ONNX reader checked against PyTorch: tests/onnx_torch.py builds an MLP,
# a conv net with batch norm, a residual block and a narrow ResNet-18 in
# torch, exports them (float64 and float32) into the build tree with
# reference values, and onnx_check (tests/onnx_check.c) compares forward
# outputs, Jacobian rows, Θ and one training step.  Skips (77) when
# /usr/bin/python3 cannot import torch and onnx (tools/install-test-deps.sh).
set -u
py=/usr/bin/python3
if ! "$py" -c 'import torch, onnx, numpy' >/dev/null 2>&1; then
    echo "SKIP: $py cannot import torch, onnx and numpy (tools/install-test-deps.sh installs python3-torch)"
    exit 77
fi
[ -n "${TTP_ONNX_CHECK:-}" ] && [ -x "$TTP_ONNX_CHECK" ] || { echo "FAIL: onnx_check not built"; exit 1; }
out=$PWD/onnx_torch
rm -rf "$out" && mkdir -p "$out"
"$py" "$TTP_SOURCE_DIR/tests/onnx_torch.py" "$out" 2> "$out/python.log" || {
    tail -20 "$out/python.log"
    echo "FAIL: onnx_torch.py"; exit 1; }
if [ -n "${TTP_BIN:-}" ] && "$TTP_BIN" info "$out/mlp.onnx" 2>&1 | grep -q "without ONNX support"; then
    echo "SKIP: this ttpredict was built without ONNX support"
    exit 77
fi
OPENBLAS_NUM_THREADS=1 "$TTP_ONNX_CHECK" "$out" 9
