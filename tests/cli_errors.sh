#!/usr/bin/env bash
# cli_errors.sh — how `ttpredict` answers bad input on the command line:
# missing and wrong-format files (non-zero exit, stderr naming the file),
# unknown options and bad option values (exit 2, stderr naming the option),
# plus one good `convert` whose file is checked with ncdump, a failed
# convert that must leave an existing output file untouched, and the same
# convert under mpiexec at 2 ranks (only rank 0 writes).
# Run by ctest with TTP_BIN (the tool) and, optionally, TTP_MPIEXEC.
# Exit 77 (skip) only when the tool has not been built.

set -u
BIN=${TTP_BIN:-}
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
    echo "SKIP: ttpredict binary not found (TTP_BIN='$BIN')"
    exit 77
fi

T=$(mktemp -d /tmp/ttp_cli_errors.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
checks=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# run NAME WANT_RC NEEDLE... -- CMD...: exit status must be WANT_RC ("nonzero"
# accepted) and stderr must contain every needle.
run() {
    local name=$1 want=$2
    shift 2
    local needles=()
    while [ "$1" != "--" ]; do needles+=("$1"); shift; done
    shift
    checks=$((checks + 1))
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ "$want" = nonzero ]; then
        [ $rc -ne 0 ] || { fail "$name: exit 0, expected non-zero"; return; }
    elif [ $rc -ne "$want" ]; then
        fail "$name: exit $rc, expected $want; stderr: $(cat "$T/err")"
        return
    fi
    for n in "${needles[@]}"; do
        grep -qF -- "$n" "$T/err" || fail "$name: stderr lacks '$n': $(cat "$T/err")"
    done
}

printf 'f1,f2,f3,label\n0.5,1,2,0\n-1,3.25,4,2\n7,8,9,1\n' >"$T/good.csv"
printf 'this is a text file, not IDX\n' >"$T/text.idx"
printf '1,2,3\n4,5\n' >"$T/ragged.csv"
printf '1,2,3\n4,abc,6\n' >"$T/word.csv"

# --- missing and wrong-format files ------------------------------------------
run "missing csv" 1 "$T/missing.csv" "No such file" -- \
    "$BIN" convert --csv "$T/missing.csv" --out "$T/o.nc"
run "missing idx" 1 "$T/missing.idx" -- \
    "$BIN" convert --idx-images "$T/missing.idx" --out "$T/o.nc"
run "text as idx" 1 "$T/text.idx" "magic" -- \
    "$BIN" convert --idx-images "$T/text.idx" --out "$T/o.nc"
run "ragged csv" 1 "$T/ragged.csv" "line 2" -- \
    "$BIN" convert --csv "$T/ragged.csv" --out "$T/o.nc"
run "non-numeric cell" 1 "$T/word.csv" "line 2, column 2" "abc" -- \
    "$BIN" convert --csv "$T/word.csv" --out "$T/o.nc"
[ -e "$T/o.nc" ] && fail "a failed convert left $T/o.nc"

# --- options ----------------------------------------------------------------
run "unknown option" 2 "--no-such-option" -- \
    "$BIN" convert --no-such-option --csv "$T/good.csv" --out "$T/o.nc"
run "negative label column" 2 "--label-col" "-5" -- \
    "$BIN" convert --csv x.csv --label-col -5 --out "$T/o.nc"
# (not a number: the name of a header cell, which good.csv lacks)
run "label column not a number" 2 "--label-col" "abc" -- \
    "$BIN" convert --csv "$T/good.csv" --label-col abc --out "$T/o.nc"
run "label column past the end" 2 "label column 9" "4 columns" -- \
    "$BIN" convert --csv "$T/good.csv" --label-col 9 --out "$T/o.nc"
run "missing value" 2 "--out" -- \
    "$BIN" convert --csv "$T/good.csv" --out
run "no --out" 2 "--out" -- \
    "$BIN" convert --csv "$T/good.csv"
run "two inputs" 2 "exactly one input" -- \
    "$BIN" convert --csv "$T/good.csv" --idx-images "$T/text.idx" --out "$T/o.nc"
run "bad shape" 2 "--shape" -- \
    "$BIN" convert --csv "$T/good.csv" --label-col 4 --shape 1,2,2 --out "$T/o.nc"
run "unknown command" 2 "no-such-command" -- "$BIN" no-such-command
checks=$((checks + 1))
if ! "$BIN" convert --help >"$T/out" 2>&1 || ! grep -q -- "--idx-images" "$T/out"; then
    fail "convert --help: non-zero exit or no usage text"
fi

# --- a good conversion, checked with ncdump ---------------------------------
checks=$((checks + 1))
if "$BIN" convert --csv "$T/good.csv" --label-col 4 --class-names "a;b;c" --title "cli test" \
    --out "$T/good.nc" >"$T/out" 2>"$T/err"; then
    if command -v ncdump >/dev/null; then
        ncdump "$T/good.nc" >"$T/dump" || fail "ncdump cannot read the converted file"
        tr -d ' \n\t' <"$T/dump" >"$T/flat"
        for want in 'inputs=0.5,1,2,-1,3.25,4,7,8,9;' 'labels=0,2,1;' ':class_names="a;b;c";' \
            ':ttp_kind="dataset";' ':title="clitest";' 'sample=3;' 'feature=3;' 'class=3;'; do
            grep -qF -- "$want" "$T/flat" || fail "converted file lacks $want"
        done
    fi
else
    fail "good convert failed: $(cat "$T/err")"
fi
for f in "$T"/*.tmp.*; do
    [ -e "$f" ] && fail "temporary file left behind: $f"
done

# A failed convert onto an existing file leaves it as it was.
checks=$((checks + 1))
cp "$T/good.nc" "$T/keep.nc" 2>/dev/null
"$BIN" convert --csv "$T/word.csv" --out "$T/good.nc" >/dev/null 2>&1 &&
    fail "convert of a bad csv succeeded"
cmp -s "$T/good.nc" "$T/keep.nc" || fail "a failed convert changed the existing output file"

# --- under MPI: 2 ranks, one file --------------------------------------------
if [ -n "${TTP_MPIEXEC:-}" ] && [ -x "${TTP_MPIEXEC}" ]; then
    checks=$((checks + 1))
    if timeout 120 "$TTP_MPIEXEC" -n 2 "$BIN" convert --csv "$T/good.csv" --label-col 4 \
        --out "$T/mpi.nc" >"$T/out" 2>"$T/err"; then
        [ "$(grep -c '^wrote' "$T/out")" = 1 ] || fail "mpi convert: expected one 'wrote' line: $(cat "$T/out")"
        if command -v ncdump >/dev/null; then
            ncdump "$T/mpi.nc" | tr -d ' \n\t' | grep -qF 'labels=0,2,1;' || fail "mpi convert: wrong file"
        fi
    else
        fail "mpi convert failed: $(cat "$T/err")"
    fi
    checks=$((checks + 1))
    timeout 120 "$TTP_MPIEXEC" -n 2 "$BIN" convert --csv "$T/missing.csv" --out "$T/mpi2.nc" \
        >"$T/out" 2>"$T/err"
    rc=$?
    if [ $rc -eq 0 ] || [ $rc -eq 124 ]; then fail "mpi convert of a missing file: exit $rc"; fi
    grep -qF "$T/missing.csv" "$T/err" || fail "mpi convert: stderr lacks the file name: $(cat "$T/err")"
fi

# Output paths are checked before any work: an output that is an input or
# another output, a directory as a file, a missing directory.  Each exits 2
# (or 1 for a file-system error), names both options, and leaves the input
# untouched.
"$BIN" convert --csv "$T/good.csv" --label-col 4 --out "$T/in.nc" >/dev/null 2>&1 || fail "convert for the path checks"
cp "$T/in.nc" "$T/in.ref"
mkdir -p "$T/adir"
run "predict --out = --data" 2 "--out" "same file as the input --data" -- \
    "$BIN" predict --data "$T/in.nc" --out "$T/./in.nc" -q
cmp -s "$T/in.nc" "$T/in.ref" || fail "predict --out = --data changed the dataset"
run "convert --out = --csv" 2 "--out" "--csv" "destroy the input" -- \
    "$BIN" convert --csv "$T/good.csv" --label-col 4 --out "$T/good.csv"
run "predict --out = --json" 2 "--out" "--json" "one output would replace the other" -- \
    "$BIN" predict --out "$T/a.nc" --json "$T/a.nc" -q
run "train --out-model = --out" 2 "--out-model" "--out" "one output would replace the other" -- \
    "$BIN" train --steps 1 --out-model "$T/m.nc" --out "$T/m.nc"
run "kernel --out is a directory" 2 "--out '$T/adir' is a directory" -- \
    "$BIN" kernel --out "$T/adir"
run "validate --report is a file" 2 "--report" "not a directory" -- \
    "$BIN" validate --quick --report "$T/in.nc" -q
run "predict --json in a missing directory" 1 "--json" "directory does not exist" -- \
    "$BIN" predict --json "$T/nowhere/p.json" -q
[ -e "$T/a.nc" ] || [ -e "$T/m.nc" ] && fail "a refused run wrote an output"

# Absurd sizes are option errors (exit 2) naming both options, before any work.
run "predict steps x ensemble" 2 "--steps/--ensemble" "more than 2^31 curve values" -- \
    "$BIN" predict --steps 100000000 --ensemble 100 -q

# --train-layers: an unknown layer name is an option error (exit 2) naming
# it and listing the layers that have weights; so is last:K out of range.
# A kernel built with one choice is refused by predict with another.
run "train-layers unknown name" 2 "--train-layers" "no layer named 'nope'" "'stem_conv' (conv2d)" "'head' (dense)" -- \
    "$BIN" predict --train-layers head,nope -q
run "train-layers parameter-free layer" 2 "--train-layers" "'stem_relu' (relu) has no parameters" -- \
    "$BIN" kernel --train-layers stem_relu --out "$T/k_relu.nc"
run "train-layers last:0" 2 "--train-layers" "last:K with K an integer in 1..8" -- \
    "$BIN" train --train-layers last:0 --steps 1
run "train-layers last:x" 2 "--train-layers" "'last:x'" -- \
    "$BIN" validate --quick --train-layers last:x -q
[ -e "$T/k_relu.nc" ] && fail "a refused kernel run wrote its output"
checks=$((checks + 1))
if "$BIN" kernel --train-layers last:1 --out "$T/k_head.nc" -q >"$T/out" 2>"$T/err"; then
    run "kernel reused with other trainable layers" 2 "trainable layers head" "trainable layers all" \
        "--train-layers" -- "$BIN" predict --kernel "$T/k_head.nc" -q
else
    fail "kernel --train-layers last:1: $(cat "$T/err")"
fi

# --backend cuda never falls back to the CPU: without a device the run fails,
# naming the option and the runtime's reason, and writes nothing.
checks=$((checks + 1))
if ! "$BIN" kernel --backend cuda --proj kron --dproj 64 --out "$T/k_cuda.nc" -q >"$T/out" 2>"$T/err"; then
    grep -q "option --backend: 'cuda' requested, but" "$T/err" || fail "backend cuda: stderr $(cat "$T/err")"
    [ -e "$T/k_cuda.nc" ] && fail "a refused --backend cuda run wrote its output"
fi

echo "cli_errors: $checks checks, $fails failed"
[ $fails -eq 0 ]
