#!/usr/bin/env bash
# cli_data.sh — your own data on the command line: `convert` of wine- and
# breast-cancer-shaped CSV files (a numeric first line of another width, a
# textual header, an id column, M/B labels) with nothing beyond the label
# column (and --drop-cols), .npy arrays (written by /usr/bin/python3's numpy
# when it has it), --standardize and --standardize-like (values checked with
# ncdump against a direct computation in awk), and `split` by classes,
# fractions and N per class (counts, union = input, provenance), at 1 rank and
# under mpiexec at 2; then each class of bad input: non-zero exit, stderr
# naming the file, line, cell, header field or option, and no output written.
# Run by ctest with TTP_BIN (the tool) and, optionally, TTP_MPIEXEC.
set -u
BIN=${TTP_BIN:-}
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then
    echo "SKIP: ttpredict binary not found (TTP_BIN='$BIN')"
    exit 77
fi
command -v ncdump >/dev/null || { echo "SKIP: ncdump not found"; exit 77; }
T=$(mktemp -d /tmp/ttp_cli_data.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
checks=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { checks=$((checks + 1)); "$@" >"$T/out" 2>"$T/err" || fail "$*: exit $?: $(cat "$T/err")"; }
# run NAME WANT_RC NEEDLE... -- CMD...: exit status WANT_RC, every needle on stderr
run() {
    local name=$1 want=$2
    shift 2
    local needles=()
    while [ "$1" != "--" ]; do needles+=("$1"); shift; done
    shift
    checks=$((checks + 1))
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    [ $rc -eq "$want" ] || { fail "$name: exit $rc, expected $want; stderr: $(cat "$T/err")"; return; }
    for n in "${needles[@]}"; do
        grep -qF -- "$n" "$T/err" || fail "$name: stderr lacks '$n': $(cat "$T/err")"
    done
}
has() { # has NAME FILE NEEDLE: FILE contains NEEDLE
    checks=$((checks + 1))
    grep -qF -- "$3" "$2" || fail "$1: '$3' not in $(cat "$2")"
}
# values of variable $2 in file $1, one per line
values() { ncdump -v "$2" -p 17 "$1" | awk -v v=" $2 =" 'index($0, v) == 1 { on = 1; sub(v, "") } on { if (sub(/;.*/, "")) { print; exit } print }' | tr ',' '\n' | tr -d ' ' | grep -v '^$'; }

# --- wine-shaped: a first line "178,13,3", label in column 1 -----------------
{
    echo "178,13,3"
    echo "1,14.23,1.71,2.43,15.6,127,2.8,3.06,.28,2.29,5.64,1.04,3.92,1065"
    echo "0,13.2,1.78,2.14,11.2,100,2.65,2.76,.26,1.28,4.38,1.05,3.4,1050"
    echo "2,12.37,.94,1.36,10.6,88,1.98,.57,.28,.42,1.95,1.05,1.82,520"
    echo "1,13.16,2.36,2.67,18.6,101,2.8,3.24,.3,2.81,5.68,1.03,3.17,1185"
} >"$T/wine.csv"
ok "$BIN" convert --csv "$T/wine.csv" --label-col 1 --out "$T/wine.nc"
has "wine" "$T/out" "4 samples of shape (13), 3 classes (0;1;2)"
# the same data, label last, textual header
awk -F, 'NR == 1 { print "a,b,c,d,e,f,g,h,i,j,k,l,m,Class"; next } { s = $2; for (i = 3; i <= NF; i++) s = s "," $i; print s "," $1 }' \
    "$T/wine.csv" >"$T/wine2.csv"
ok "$BIN" convert --csv "$T/wine2.csv" --label-col 14 --out "$T/wine2.nc"
has "wine2" "$T/out" "4 samples of shape (13), 3 classes"
values "$T/wine.nc" inputs >"$T/v1"
values "$T/wine2.nc" inputs >"$T/v2"
checks=$((checks + 1))
cmp -s "$T/v1" "$T/v2" || fail "wine and wine2 inputs differ"
ok "$BIN" convert --csv "$T/wine2.csv" --label-col Class --out "$T/wine3.nc"
# one-based labels (UCI wine numbers its classes 1..3): renumbered to 0..2 by default,
# the names keep the labels; --relabel no keeps 4 classes with class 0 empty
awk -F, 'NR == 1 { print; next } { $1 = $1 + 1; print }' OFS=, "$T/wine.csv" >"$T/wine1.csv"
ok "$BIN" convert --csv "$T/wine1.csv" --label-col 1 --out "$T/wine1.nc"
has "one-based" "$T/out" "4 samples of shape (13), 3 classes (1;2;3)"
has "one-based note" "$T/out" "renumbered to classes 0..2"
values "$T/wine1.nc" labels | tr '\n' ' ' >"$T/l1"
values "$T/wine.nc" labels | tr '\n' ' ' >"$T/l0"
checks=$((checks + 1))
cmp -s "$T/l0" "$T/l1" || fail "one-based labels: $(cat "$T/l1") where $(cat "$T/l0") expected"
ok "$BIN" convert --csv "$T/wine1.csv" --label-col 1 --relabel no --out "$T/wine1n.nc"
has "relabel no" "$T/out" "4 classes (0;1;2;3)"
has "relabel no note" "$T/out" "1 of the 4 classes have no samples"
# labels 0, 2, 5: auto keeps them (not one-based), yes renumbers to 0..2 named 0;2;5
printf '1.5,0\n2.5,2\n3.5,5\n4.5,2\n' >"$T/gap.csv"
ok "$BIN" convert --csv "$T/gap.csv" --label-col 2 --out "$T/gap.nc"
has "gap auto" "$T/out" "6 classes"
ok "$BIN" convert --csv "$T/gap.csv" --label-col 2 --relabel yes --class-names "x;y;z" --out "$T/gapy.nc"
has "gap yes" "$T/out" "3 classes (x;y;z)"
checks=$((checks + 1))
[ "$(values "$T/gapy.nc" labels | tr '\n' ' ')" = "0 1 2 1 " ] || fail "relabel yes: labels $(values "$T/gapy.nc" labels | tr '\n' ' ')"
run "relabel value" 2 "expected auto, yes or no" -- "$BIN" convert --csv "$T/gap.csv" --label-col 2 --relabel maybe --out "$T/x.nc"

# --- breast-cancer-shaped: textual header, id column, M/B labels -------------
printf 'id,diagnosis,radius_mean,texture_mean,area\n842302,M,17.99,10.38,1001\n842517,B,20.57,17.77,1326\n84300903,M,19.69,21.25,1203\n84348301,B,11.42,20.38,386.1\n' >"$T/bc.csv"
ok "$BIN" convert --csv "$T/bc.csv" --label-col 2 --drop-cols 1 --standardize --out "$T/bc.nc"
has "bc" "$T/out" "4 samples of shape (3), 2 classes (B;M)"
has "bc" "$T/out" "standardized"
ok "$BIN" info "$T/bc.nc"
has "bc info" "$T/out" "0 B"
has "bc info" "$T/out" "standardized: inputs = (raw - input_mean)"
# input_mean / input_scale against awk's population mean and deviation
awk -F, 'NR > 1 { for (j = 3; j <= 5; j++) { s[j] += $j; q[j] += $j * $j } n++ }
     END { for (j = 3; j <= 5; j++) { m = s[j] / n; printf "%.10g %.10g\n", m, sqrt(q[j] / n - m * m) } }' \
    "$T/bc.csv" >"$T/want"
paste -d' ' <(values "$T/bc.nc" input_mean) <(values "$T/bc.nc" input_scale) >"$T/got"
checks=$((checks + 1))
paste -d' ' "$T/want" "$T/got" | awk '{ for (i = 1; i <= 2; i++) if ((($i - $(i + 2)) ^ 2) > (1e-9 * $i) ^ 2) bad = 1 } END { exit bad }' ||
    fail "bc mean/scale: want $(cat "$T/want"), got $(cat "$T/got")"
# a constant column: scale 1, and convert says which
printf 'a,b,c\n1,5,2\n2,5,-1\n3,5,4\n' >"$T/const.csv"
ok "$BIN" convert --csv "$T/const.csv" --standardize --out "$T/const.nc"
has "constant" "$T/out" "1 input value has zero variance, so scale 1 (only centred): 2 (counting from 1)"
checks=$((checks + 1))
[ "$(values "$T/const.nc" input_scale | sed -n 2p)" = "1" ] || fail "constant column: scale $(values "$T/const.nc" input_scale | sed -n 2p)"
# a second file scaled like the first
printf 'id,diagnosis,radius_mean,texture_mean,area\n1,B,17.99,10.38,1001\n' >"$T/bc2.csv"
ok "$BIN" convert --csv "$T/bc2.csv" --label-col diagnosis --drop-cols 1 --standardize-like "$T/bc.nc" --out "$T/bc2.nc"
checks=$((checks + 1))
[ "$(values "$T/bc2.nc" inputs | head -3)" = "$(values "$T/bc.nc" inputs | head -3)" ] ||
    fail "standardize-like: the same raw sample scales differently"
run "like unstandardized" 2 "$T/wine.nc" "is not standardized" -- \
    "$BIN" convert --csv "$T/bc2.csv" --label-col 2 --drop-cols 1 --standardize-like "$T/wine.nc" --out "$T/x.nc"
run "like other width" 2 "$T/bc.nc" "3 values per sample but this dataset 13" -- \
    "$BIN" convert --csv "$T/wine.csv" --label-col 1 --standardize-like "$T/bc.nc" --out "$T/x.nc"
run "standardize both" 2 "not both" -- \
    "$BIN" convert --csv "$T/wine.csv" --standardize --standardize-like "$T/bc.nc" --out "$T/x.nc"

# --- bad CSV input -----------------------------------------------------------
printf '1,2,3\n4,5\n' >"$T/ragged.csv"
run "ragged" 1 "$T/ragged.csv" "line 2: 2 columns, expected 3" "option --header" -- \
    "$BIN" convert --csv "$T/ragged.csv" --out "$T/x.nc"
printf 'a,b\n1,2\n3,x\n' >"$T/word.csv"
run "word" 1 "$T/word.csv" "line 3, column 2: 'x' is not a finite number" -- \
    "$BIN" convert --csv "$T/word.csv" --out "$T/x.nc"
printf 'a,b,\n1,2,\n' >"$T/trail.csv"
run "trailing comma" 1 "line 2, column 3: empty cell" "--drop-cols" -- \
    "$BIN" convert --csv "$T/trail.csv" --out "$T/x.nc"
ok "$BIN" convert --csv "$T/trail.csv" --drop-cols 3 --out "$T/trail.nc"
run "label col" 2 "label column 15 (1-based) does not exist" "have 14 columns" -- \
    "$BIN" convert --csv "$T/wine.csv" --label-col 15 --out "$T/x.nc"
run "label name" 2 "is 'klass'" -- "$BIN" convert --csv "$T/wine2.csv" --label-col klass --out "$T/x.nc"
run "drop col" 2 "dropped column 9" "--drop-cols" -- \
    "$BIN" convert --csv "$T/bc.csv" --drop-cols 9 --out "$T/x.nc"
run "drop range" 2 "--drop-cols" "runs backwards" -- \
    "$BIN" convert --csv "$T/bc.csv" --drop-cols 3-1 --out "$T/x.nc"
run "header value" 2 "--header" "expected auto, yes or no" -- \
    "$BIN" convert --csv "$T/bc.csv" --header maybe --out "$T/x.nc"
run "header no" 1 "line 2: 14 columns, expected 3 (as on line 1)" -- \
    "$BIN" convert --csv "$T/wine.csv" --header no --out "$T/x.nc"
checks=$((checks + 1))
[ ! -e "$T/x.nc" ] || fail "a failed convert left $T/x.nc"

# --- .npy ----------------------------------------------------------------------
if /usr/bin/python3 -c "import numpy" 2>/dev/null; then
    /usr/bin/python3 - "$T" <<'PY'
import sys, numpy as np
d = sys.argv[1]
x = np.arange(30, dtype=np.float32).reshape(5, 6) / 4
np.save(d + "/x.npy", x)
np.save(d + "/img.npy", x.reshape(5, 1, 2, 3).astype(np.float64))
np.save(d + "/y.npy", np.array([0, 2, 1, 2, 0], dtype=np.int32))
np.save(d + "/xbe.npy", x.astype(">f4"))
np.save(d + "/xf.npy", np.asfortranarray(x.astype(np.float64)))
np.save(d + "/yf.npy", np.array([0.0, 1, 1, 0, 1]))
PY
    ok "$BIN" convert --npy-inputs "$T/x.npy" --npy-labels "$T/y.npy" --out "$T/npy.nc"
    has "npy" "$T/out" "5 samples of shape (6), 3 classes"
    checks=$((checks + 1))
    [ "$(values "$T/npy.nc" inputs | sed -n 7p)" = "1.5" ] || fail "npy: value (1, 0) is $(values "$T/npy.nc" inputs | sed -n 7p), expected 1.5"
    ok "$BIN" convert --npy-inputs "$T/img.npy" --npy-labels "$T/y.npy" --standardize --out "$T/img.nc"
    has "npy img" "$T/out" "shape (1,2,3)"
    run "npy big-endian" 1 "$T/xbe.npy" "'descr' is '>f4', big-endian" -- \
        "$BIN" convert --npy-inputs "$T/xbe.npy" --out "$T/x.nc"
    run "npy fortran" 1 "$T/xf.npy" "'fortran_order' is True" -- \
        "$BIN" convert --npy-inputs "$T/xf.npy" --out "$T/x.nc"
    run "npy float labels" 1 "$T/yf.npy" "labels must be of an integer type" -- \
        "$BIN" convert --npy-inputs "$T/x.npy" --npy-labels "$T/yf.npy" --out "$T/x.nc"
    run "npy labels alone" 2 "--npy-labels needs --npy-inputs" -- \
        "$BIN" convert --npy-labels "$T/y.npy" --out "$T/x.nc"
else
    echo "note: /usr/bin/python3 without numpy; .npy checks skipped"
fi
run "npy not npy" 1 "$T/wine.csv" "no NumPy magic" -- "$BIN" convert --npy-inputs "$T/wine.csv" --out "$T/x.nc"

# --- split ---------------------------------------------------------------------
# 12 samples, classes 0..3 with 4, 3, 3, 2 samples; feature = sample index
{
    echo "f,label"
    i=0
    for y in 0 1 2 0 3 1 0 2 2 1 3 0; do echo "$i,$y"; i=$((i + 1)); done
} >"$T/s.csv"
ok "$BIN" convert --csv "$T/s.csv" --label-col 2 --class-names "a;b;c;d" --standardize --out "$T/s.nc"
ok "$BIN" split --data "$T/s.nc" --classes 2-3/0 --relabel --out "$T/g1.nc,$T/g2.nc" --rest "$T/g3.nc"
has "split classes" "$T/out" "g1.nc: 5 samples, 2 classes: c=3 d=2"
has "split classes" "$T/out" "g2.nc: 4 samples, 1 classes: a=4"
has "split classes" "$T/out" "g3.nc: 3 samples, 1 classes: b=3"
# union = input, disjoint: every standardized input value once
cat <(values "$T/g1.nc" inputs) <(values "$T/g2.nc" inputs) <(values "$T/g3.nc" inputs) | sort -g >"$T/u"
values "$T/s.nc" inputs | sort -g >"$T/all"
checks=$((checks + 1))
cmp -s "$T/u" "$T/all" || fail "split classes: the parts are not a partition of the input"
ncdump -h "$T/g1.nc" >"$T/h1"
has "split provenance" "$T/h1" "ttpredict split --data"
has "split provenance" "$T/h1" "ttpredict convert --csv"
has "split keeps scaling" "$T/h1" "input_scale"
has "split relabel" "$T/h1" 'class_names = "c;d"'
ok "$BIN" split --data "$T/s.nc" --fraction 0.5 --pick random --seed 3 --out "$T/h1.nc" --rest "$T/h2.nc"
has "split fraction" "$T/out" "h1.nc: 7 samples, 4 classes: a=2 b=2 c=2 d=1"
has "split fraction" "$T/out" "h2.nc: 5 samples, 4 classes: a=2 b=1 c=1 d=1"
ok "$BIN" split --data "$T/s.nc" --per-class 2 --out "$T/p.nc"
has "split per class" "$T/out" "p.nc: 8 samples, 4 classes: a=2 b=2 c=2 d=2"
checks=$((checks + 1))
[ "$(values "$T/p.nc" labels | tr '\n' ' ')" = "0 1 2 0 3 1 2 3 " ] || fail "per-class first: labels $(values "$T/p.nc" labels | tr '\n' ' ')"
run "split too many" 2 "--per-class" "class 3 ('d') has only 2" -- \
    "$BIN" split --data "$T/s.nc" --per-class 3 --out "$T/x.nc"
run "split outs" 2 "--out names 1 file, expected 2" -- \
    "$BIN" split --data "$T/s.nc" --classes 0/1 --out "$T/x.nc"
run "split class range" 2 "class 7 (group 1) does not exist" -- \
    "$BIN" split --data "$T/s.nc" --classes 7 --out "$T/x.nc"
run "split twice" 2 "class 1 is in group 1 and again in group 2" -- \
    "$BIN" split --data "$T/s.nc" --classes 0-1/1 --out "$T/x.nc,$T/y.nc"
run "split seed" 2 "--seed applies to --pick random" -- \
    "$BIN" split --data "$T/s.nc" --fraction 0.5 --seed 1 --out "$T/x.nc"
run "split how" 2 "say how to split" -- "$BIN" split --data "$T/s.nc" --out "$T/x.nc"
run "split fraction range" 2 "--fraction" -- "$BIN" split --data "$T/s.nc" --fraction 1 --out "$T/x.nc"
run "split empty" 2 "part 1 of 2 would hold no samples" -- \
    "$BIN" split --data "$T/s.nc" --fraction 0.1 --out "$T/x.nc"
run "split same file" 2 "--out" -- "$BIN" split --data "$T/s.nc" --fraction 0.5 --out "$T/s.nc"
run "split missing" 1 "$T/none.nc" -- "$BIN" split --data "$T/none.nc" --fraction 0.5 --out "$T/x.nc"
checks=$((checks + 1))
[ ! -e "$T/x.nc" ] && [ ! -e "$T/y.nc" ] || fail "a failed split left an output"

# --- under mpiexec: only rank 0 writes, the same files -------------------------
if [ -n "${TTP_MPIEXEC:-}" ] && [ -x "${TTP_MPIEXEC}" ]; then
    checks=$((checks + 1))
    if timeout 120 "$TTP_MPIEXEC" -n 2 "$BIN" split --data "$T/s.nc" --classes 2-3/0 --relabel \
        --out "$T/m1.nc,$T/m2.nc" >"$T/out" 2>"$T/err"; then
        cmp -s <(values "$T/m1.nc" inputs) <(values "$T/g1.nc" inputs) || fail "split at 2 ranks differs"
    else
        fail "split at 2 ranks: $(cat "$T/err")"
    fi
fi

echo "cli_data: $checks checks, $fails failed"
[ $fails -eq 0 ]
