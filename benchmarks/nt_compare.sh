#!/usr/bin/env bash
# nt_compare.sh — ttpredict's exact Θ against neural-tangents' empirical NTK
# (JAX, CPU, float64, structured derivatives) on the same small CNN and the
# same inputs: values to 1e-10, and time as a ratio.
#
#   benchmarks/nt_compare.sh [N ...]          (default: 250 500)
#
# Environment: BUILD (default build), RANKS (2), NT_VENV (default
# $BUILD/nt-venv: created here with python3 -m venv and filled from PyPI
# with jax==0.4.25, jaxlib==0.4.25, numpy<2 and ml-dtypes<0.5 (jaxlib
# 0.4.25 is built against NumPy 1), netCDF4, and neural-tangents==0.6.5
# without its TensorFlow dependencies),
# PYTHON (the interpreter that makes the venv; default: python3 on PATH if
# it is 3.9–3.12, else /usr/bin/python3), REPS (timed calls after the
# first, default 2), OUT (work folder, default $BUILD/nt-compare).
#
# The network is benchmarks/bench_dyn.c's (8×8 inputs, conv3×3 1→16, ReLU,
# conv3×3 16→32, ReLU, global average pooling, dense 32→10, D = 5130), written
# with the model format by `bench_dyn --only-write`; the inputs are the first
# N images of data/digits.nc (stratified).  nt_compare.py rebuilds the net in
# JAX from that file's exact weights.  Per N it prints:
#   ttpredict: Θ-building (Jacobian + Gram) seconds, the kernel stage as the
#     prediction needs it (`predict --dynamics direct`: Jacobian, Gram,
#     top pairs by Lanczos) and with the full eigen-decomposition
#     (`kernel --theta`), all at RANKS ranks;
#   ttpredict's kernel stage of a default `predict` (projection auto: kron
#     at D′ = 1024 here, since D = 5130 > 2·1024; eigen or direct dynamics
#     by flops; GD, T = 150), with the relative error of its μ_max against
#     the exact Θ's (mu_err: the projection's own error);
#   neural-tangents: its Θ, first call (with compilation) and best of REPS;
#   the ratios t_nt / t_ttp and the largest |Θ_nt − Θ_ttp| / max|Θ_ttp|.
# SKIP_KEIG=1 skips `kernel --theta` (the full eigen-decomposition of the
# NC × NC Θ: hours at N = 1797 on 2 cores); ttp_theta then comes from the
# direct prediction's Jacobian and Gram stages.
# Exit status 1 when an error exceeds 1e-10.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
RANKS=${RANKS:-2}
REPS=${REPS:-2}
OUT=${OUT:-$BUILD/nt-compare}
NT_VENV=${NT_VENV:-$BUILD/nt-venv}
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(250 500)
TTP=$BUILD/ttpredict
BENCH=$BUILD/benchmarks/bench_dyn
for f in "$TTP" "$BENCH"; do
    [ -x "$f" ] || { echo "nt_compare: $f is not built (cmake --build $BUILD)" >&2; exit 2; }
done
[ -f "$ROOT/tools/mpi-env.sh" ] && source "$ROOT/tools/mpi-env.sh"
MPIRUN=${MPIRUN:-mpirun}

if [ ! -x "$NT_VENV/bin/python" ] || ! "$NT_VENV/bin/python" -c "import jax, frozendict, netCDF4, importlib.util as u; assert u.find_spec('neural_tangents')" 2>/dev/null; then
    if [ -z "${PYTHON:-}" ]; then
        PYTHON=/usr/bin/python3
        if command -v python3 >/dev/null &&
            python3 -c 'import sys; sys.exit(0 if (3, 9) <= sys.version_info[:2] <= (3, 12) else 1)'; then
            PYTHON=$(command -v python3)
        fi
    fi
    echo "nt_compare: creating $NT_VENV with $PYTHON and installing jax 0.4.25, neural-tangents 0.6.5 from PyPI" >&2
    "$PYTHON" -m venv "$NT_VENV"
    "$NT_VENV/bin/pip" install -q jax==0.4.25 jaxlib==0.4.25 "numpy<2" "ml-dtypes<0.5" frozendict netCDF4
    # without its TensorFlow dependencies: nt_compare.py uses only the JAX part
    "$NT_VENV/bin/pip" install -q --no-deps neural-tangents==0.6.5
fi

mkdir -p "$OUT"
json() { "$NT_VENV/bin/python" -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
fail=0
printf '%6s %6s | %9s %9s %9s %9s | %9s %9s | %9s %9s %9s %9s | %9s %9s\n' N NC "ttp_theta" "ttp_kdir" \
    "ttp_keig" "ttp_kauto" "nt_first" "nt_best" "r_theta" "r_kdir" "r_keig" "r_kauto" "max_rel" "mu_err"
for N in "${SIZES[@]}"; do
    M=$OUT/cnn.nc D=$OUT/data-$N.nc
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$BENCH" --n "$N" --only-write --write-model "$M" --write-data "$D"
    # kernel stage as the prediction needs it: the direct path saves Θ
    OPENBLAS_NUM_THREADS=1 "$MPIRUN" -np "$RANKS" "$TTP" predict --model "$M" --data "$D" --proj exact \
        --dynamics direct --steps 1 --time-steps 0 --save-kernel "$OUT/k-$N.nc" --json "$OUT/p-$N.json" -q \
        >"$OUT/predict-$N.log" 2>&1
    # the same Θ with the full eigen-decomposition (the eigen path's kernel stage)
    [ "${SKIP_KEIG:-0}" = 1 ] || OPENBLAS_NUM_THREADS=1 "$MPIRUN" -np "$RANKS" "$TTP" kernel --model "$M" \
        --data "$D" --proj exact --out "$OUT/ke-$N.nc" --json "$OUT/k-$N.json" -q >"$OUT/kernel-$N.log" 2>&1
    # the default prediction's kernel stage (projection auto)
    OPENBLAS_NUM_THREADS=1 "$MPIRUN" -np "$RANKS" "$TTP" predict --model "$M" --data "$D" --time-steps 0 \
        --json "$OUT/pa-$N.json" -q >"$OUT/predict-auto-$N.log" 2>&1
    line=$("$NT_VENV/bin/python" "$ROOT/benchmarks/nt_compare.py" "$M" "$D" \
        "$OUT/k-$N.nc" --reps "$REPS")
    echo "$line" >"$OUT/nt-$N.txt"
    read -r _ _ n _ c _ d _ err _ tf _ tb <<<"$line"
    if [ "${SKIP_KEIG:-0}" = 1 ]; then
        t_theta=$(json "$OUT/p-$N.json" "d['seconds_kernel_jacobian'] + d['seconds_kernel_gram']")
        t_keig=nan
    else
        t_theta=$(json "$OUT/k-$N.json" "d['seconds']['jacobian'] + d['seconds']['gram']")
        t_keig=$(json "$OUT/k-$N.json" "d['seconds']['total']")
    fi
    t_kdir=$(json "$OUT/p-$N.json" "d['seconds_kernel']")
    t_kauto=$(json "$OUT/pa-$N.json" "d['seconds_kernel']")
    mu_err=$(json "$OUT/pa-$N.json" "'%.2e' % (d['mu_max'] / json.load(open('$OUT/p-$N.json'))['mu_max'] - 1)")
    r() { "$NT_VENV/bin/python" -c "print('%.2f' % (float('$1') / float('$2')))"; }
    printf '%6s %6s | %9.2f %9.2f %9.2f %9.2f | %9.2f %9.2f | %9s %9s %9s %9s | %9s %9s\n' "$N" "$((N * c))" \
        "$t_theta" "$t_kdir" "$t_keig" "$t_kauto" "$tf" "$tb" "$(r "$tb" "$t_theta")" "$(r "$tb" "$t_kdir")" \
        "$(r "$tb" "$t_keig")" "$(r "$tb" "$t_kauto")" "$err" "$mu_err"
    "$NT_VENV/bin/python" -c "import sys; sys.exit(0 if float('$err') <= 1e-10 else 1)" || fail=1
done
echo "(seconds; r_* = neural-tangents' best Θ time / ttpredict's: > 1 means ttpredict is faster; D = $d," \
    "$RANKS rank(s) for ttpredict; XLA uses every core of the machine)"
exit $fail
