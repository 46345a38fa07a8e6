#!/usr/bin/env bash
# cli_onnx.sh — ONNX models on the command line: --model reads ONNX or NetCDF
# by the file's first bytes (not its name), `convert --onnx` writes a model
# file whose provenance names the ONNX file and its producer, `--new-head`
# works on an imported network, the forms torch does not export read right,
# and every bad file of tests/onnx_bad.py
# (truncated, not protobuf, a cycle, a missing initializer, an unsupported
# operator, grouped or dilated convolution, asymmetric pads, ceil_mode, two
# outputs, a dynamic spatial dimension, an old opset) is refused with a
# clear message naming the file and what is wrong.
# Skips (77) when the tool is not built or /usr/bin/python3 lacks onnx.
set -u
BIN=${TTP_BIN:-}
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
    echo "SKIP: ttpredict binary not found (TTP_BIN='$BIN')"
    exit 77
fi
py=/usr/bin/python3
if ! "$py" -c 'import onnx, numpy' >/dev/null 2>&1; then
    echo "SKIP: $py cannot import onnx and numpy (tools/install-test-deps.sh installs them)"
    exit 77
fi
T=$(mktemp -d /tmp/ttp_cli_onnx.XXXXXX)
trap 'rm -rf "$T"' EXIT
"$py" "$TTP_SOURCE_DIR/tests/onnx_bad.py" "$T" >/dev/null || { echo "FAIL: onnx_bad.py"; exit 1; }
if "$BIN" info "$T/good.onnx" 2>&1 | grep -q "without ONNX support"; then
    echo "SKIP: this ttpredict was built without ONNX support"
    exit 77
fi
fails=0
checks=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# run NAME WANT_RC NEEDLE... -- CMD...: exit status and every needle in stdout+stderr
run() {
    local name=$1 want=$2
    shift 2
    local needles=()
    while [ "$1" != "--" ]; do needles+=("$1"); shift; done
    shift
    checks=$((checks + 1))
    "$@" >"$T/out" 2>&1
    local rc=$?
    if [ "$want" = nonzero ]; then
        [ $rc -ne 0 ] || { fail "$name: exit 0, expected non-zero"; return; }
    elif [ $rc -ne "$want" ]; then
        fail "$name: exit $rc, expected $want: $(cat "$T/out")"
        return
    fi
    for n in "${needles[@]}"; do
        grep -qF -- "$n" "$T/out" || fail "$name: output lacks '$n': $(cat "$T/out")"
    done
}

# --- good files: info, convert, detection by content --------------------------
run "info onnx" 0 "5 layers" "conv2d" "dense" "producer onnx_bad.py 1" -- "$BIN" info "$T/good.onnx"
run "convert --onnx" 0 "wrote $T/good.nc" -- "$BIN" convert --onnx "$T/good.onnx" --out "$T/good.nc"
run "converted provenance" 0 "good.onnx" "producer onnx_bad.py 1" "convert --onnx" -- "$BIN" info "$T/good.nc"
cp "$T/good.nc" "$T/netcdf_named.onnx"
run "NetCDF named .onnx" 0 "5 layers" -- "$BIN" info "$T/netcdf_named.onnx"
cp "$T/good.onnx" "$T/onnx_named.nc"
run "ONNX named .nc" 0 "5 layers" "imported from ONNX" -- "$BIN" info "$T/onnx_named.nc"
run "convert needs one input" 2 "exactly one input" -- \
    "$BIN" convert --onnx "$T/good.onnx" --csv x.csv --out "$T/x.nc"
[ -e "$T/x.nc" ] && fail "a refused convert left $T/x.nc"
# the bundled digits are 1x8x8, five classes: fine-tune the imported network
# with a fresh 5-output head, from the ONNX file and from its NetCDF copy
data=${TTP_DATA_DIR:-$TTP_SOURCE_DIR/data}/default-data.nc
run "train --new-head on ONNX" 0 -- "$BIN" train --model "$T/good.onnx" --data "$data" --new-head 5 \
    --steps 2 --lr 0.01 --out-model "$T/ft.nc" -q
run "trained model" 0 "5 layers" -- "$BIN" info "$T/ft.nc"
run "predict with ONNX" 0 -- "$BIN" predict --model "$T/good.onnx" --data "$data" --steps 3 --lr 0.01 \
    --out "$T/p.nc" -q
run "same model, NetCDF" 0 -- "$BIN" predict --model "$T/good.nc" --data "$data" --steps 3 --lr 0.01 \
    --out "$T/q.nc" -q

# --- forms torch does not export (Gelu of opset 20, MatMul without bias, a
# scalar Gemm bias, Reshape (0, -1) from a Constant, typed data): forward
# outputs against numpy (onnx_check, tests/onnx_check.c)
if [ -n "${TTP_ONNX_CHECK:-}" ] && [ -x "$TTP_ONNX_CHECK" ]; then
    checks=$((checks + 1))
    OPENBLAS_NUM_THREADS=1 "$TTP_ONNX_CHECK" "$T" 2 || fail "onnx_check on the good variants"
else
    fail "onnx_check not built (TTP_ONNX_CHECK)"
fi

# --- bad files ---------------------------------------------------------------
bad() { run "$1" nonzero "$T/$1.onnx" "${@:2}" -- "$BIN" info "$T/$1.onnx"; }
bad bad_truncated "not a valid ONNX file" "truncated"
bad bad_notprotobuf "not a valid ONNX file"
bad bad_cycle "cycle" "relu"
bad bad_missing_init "node 0 'conv'" "'W'" "missing initializer"
bad bad_unsupported_op "'Softmax' is not supported" "node 5 'softmax'" "supported: Gemm"
bad bad_grouped_conv "node 0 'conv'" "attribute group = 2"
bad bad_dilated_conv "attribute dilations"
bad bad_asymmetric_pads "attribute pads (1, 1, 0, 0)"
bad bad_ceil_mode "node 2 'pool'" "ceil_mode"
bad bad_two_outputs "2 outputs, expected exactly one"
bad bad_dynamic_shape "dimension 2 is dynamic"
bad bad_opset "opset 7"
run "bad model in predict" nonzero "attribute group = 2" -- \
    "$BIN" predict --model "$T/bad_grouped_conv.onnx" --data "$data" --steps 3 -q
run "bad model in convert" nonzero "cycle" -- "$BIN" convert --onnx "$T/bad_cycle.onnx" --out "$T/c.nc"
[ -e "$T/c.nc" ] && fail "a failed convert left $T/c.nc"

echo "cli_onnx: $checks checks, $fails failed"
[ $fails -eq 0 ]
