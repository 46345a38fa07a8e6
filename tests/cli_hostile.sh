#!/usr/bin/env bash
# cli_hostile.sh — the corpus of hostile files (issue 14), generated at run
# time from small good files: truncated classic and NetCDF-4 files, values
# altered behind a checksum, headers claiming absurd sizes (2^28 modes,
# 2·10^9-wide inputs, a label of 10^9, a pad of 2^30), non-finite inputs, and
# the regression inputs found by fuzzing (tests/corpus/).  Every case must
# exit non-zero with a message naming the file and the cause; none may crash
# (exit ≥ 128), hang (timeout) or succeed.  `info` reads every file with the
# same reader as the other commands, so both are run on each file.
# Run by ctest with TTP_BIN; needs ncdump/ncgen (netcdf-bin, as the rest of
# the suite).  Exit 77 (skip) only when the tool or ncgen is missing.

set -u
BIN=${TTP_BIN:-}
SRC=${TTP_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
DATA=${TTP_DATA_DIR:-$SRC/data}
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then echo "SKIP: ttpredict binary not found"; exit 77; fi
command -v ncgen >/dev/null && command -v ncdump >/dev/null || { echo "SKIP: ncgen/ncdump not found"; exit 77; }

T=$(mktemp -d /tmp/ttp_hostile.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
checks=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# refuse NAME NEEDLE... -- CMD...: non-zero exit below 128 (no signal), within
# 60 s, stderr holding every needle.
refuse() {
    local name=$1 n
    shift
    local needles=()
    while [ "$1" != "--" ]; do needles+=("$1"); shift; done
    shift
    checks=$((checks + 1))
    timeout 60 "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    if [ $rc -eq 0 ]; then fail "$name: exit 0 on a hostile file"; return; fi
    if [ $rc -ge 124 ]; then fail "$name: exit $rc (crash or hang); stderr: $(tail -3 "$T/err")"; return; fi
    for n in "${needles[@]}"; do
        grep -qF -- "$n" "$T/err" || fail "$name: stderr lacks '$n': $(cat "$T/err")"
    done
}
# info and kernel on a file: both refuse it, naming it.
refuse_model() { local n=$1 f=$2; shift 2
    refuse "$n (info)" "$f" "$@" -- "$BIN" info "$f"
    refuse "$n (kernel)" "$f" "$@" -- "$BIN" kernel --model "$f" --data "$T/small.nc" --proj rademacher --dproj 8 --out "$T/o.nc"; }
refuse_data() { local n=$1 f=$2; shift 2
    refuse "$n (info)" "$f" "$@" -- "$BIN" info "$f"
    refuse "$n (kernel)" "$f" "$@" -- "$BIN" kernel --model "$DATA/default-model.nc" --data "$f" --proj rademacher --dproj 8 --out "$T/o.nc"; }
refuse_kernel() { local n=$1 f=$2; shift 2
    refuse "$n (info)" "$f" "$@" -- "$BIN" info "$f"
    refuse "$n (predict)" "$f" "$@" -- "$BIN" predict --kernel "$f" --model "$T/model.nc" --data "$T/small.nc" --out "$T/o.nc"; }

# Change the first value of variable $2 in CDL $1 (ncdump's layout: " v =" then values).
alter() { awk -v v="$2" -v to="$3" '
    f && !done { if (sub(/-?[0-9][0-9.e+-]*/, to)) done = 1 }
    $0 ~ "^ " v " =" { f = 1; if (sub("= -?[0-9][0-9.e+-]*", "= " to)) done = 1 }
    { print }' "$1"; }

# --- good small files: a 20-sample dataset, a model with checksums, a kernel --
ncdump "$DATA/default-data.nc" | awk '/^\tsample = /{print "\tsample = 20 ;"; next} {print}' \
    >"$T/full.cdl"
# keep the first 20 samples: 20*64 input values and 20 labels
awk '/^ inputs =/ { mode = "x"; cnt = 0; print; next }
     /^ labels =/ { mode = "y"; cnt = 0; print; next }
     mode != "" { line = $0; gsub(/[;,]/, " ", line); k = split(line, a, " ");
                  out = ""; for (i = 1; i <= k; i++) { lim = mode == "x" ? 1280 : 20;
                      if (cnt < lim) { out = out (cnt ? ", " : "  ") a[i]; cnt++ } }
                  if (out != "") printf "%s", (mode_started[mode]++ ? "\n" : "") out;
                  if ($0 ~ /;/) { print " ;"; mode = "" } next }
     { print }' "$T/full.cdl" >"$T/small.cdl"
ncgen -k nc4 -o "$T/small.nc" "$T/small.cdl" || { echo "FAIL: cannot make the small dataset"; exit 1; }
"$BIN" info "$T/small.nc" >/dev/null || { echo "FAIL: the small dataset is not readable"; exit 1; }
# a ttpredict-written model (with checksums): retrain 1 step from the bundled one
"$BIN" train --model "$DATA/default-model.nc" --data "$T/small.nc" --steps 1 --out-model "$T/model.nc" \
    >/dev/null 2>"$T/err" || { echo "FAIL: train: $(cat "$T/err")"; exit 1; }
"$BIN" kernel --model "$T/model.nc" --data "$T/small.nc" --vectors --theta --out "$T/k.nc" >/dev/null 2>"$T/err" \
    || { echo "FAIL: kernel: $(cat "$T/err")"; exit 1; }
ncdump -p 9,17 "$T/k.nc" >"$T/k.cdl" # all 17 digits: the text round trip keeps every value
ncdump -p 9,17 "$T/model.nc" >"$T/model.cdl"
grep -q ttp_checksum "$T/k.cdl" || fail "the kernel file carries no checksums"
grep -q ttp_checksum "$T/model.cdl" || fail "the model file carries no checksums"

# --- truncation ----------------------------------------------------------------
sz=$(stat -c %s "$T/model.nc")
for cut in 1 7 100 $((sz / 2)) $((sz - 200)); do
    head -c $((sz - cut)) "$T/model.nc" >"$T/trunc$cut.nc"
    refuse_model "model truncated by $cut bytes" "$T/trunc$cut.nc"
done
sz=$(stat -c %s "$DATA/default-model.nc") # no checksums: the size check alone
head -c $((sz - 1)) "$DATA/default-model.nc" >"$T/btrunc.nc"
refuse_model "bundled model truncated by 1 byte" "$T/btrunc.nc" "truncated"
sz=$(stat -c %s "$T/k.nc")
for cut in 1 1000 $((sz / 2)); do
    head -c $((sz - cut)) "$T/k.nc" >"$T/ktrunc$cut.nc"
    refuse_kernel "kernel truncated by $cut bytes" "$T/ktrunc$cut.nc"
done

# --- content altered behind its checksum ----------------------------------------
# control: the unaltered text round trip is accepted (the checksums are of the values)
ncgen -k nc4 -o "$T/kround.nc" "$T/k.cdl"
checks=$((checks + 1))
"$BIN" info "$T/kround.nc" >/dev/null 2>"$T/err" || fail "control: the round-tripped kernel is refused: $(cat "$T/err")"
for v in theta eigvec labels eigval f0 p_res; do
    alter "$T/k.cdl" $v 0.123456 >"$T/kalt_$v.cdl"
    [ $v = labels ] && alter "$T/k.cdl" labels 3 >"$T/kalt_$v.cdl"
    ncgen -k nc4 -o "$T/kalt_$v.nc" "$T/kalt_$v.cdl" || { fail "ncgen kalt_$v"; continue; }
    cmp -s "$T/kalt_$v.cdl" "$T/k.cdl" && { fail "alter did not change $v"; continue; }
    refuse_kernel "kernel with $v altered" "$T/kalt_$v.nc" "variable '$v' is corrupted"
done
printf 'a,b,label\n0.5,1,0\n2,3,1\n4,5,1\n' >"$T/conv.csv"
"$BIN" convert --csv "$T/conv.csv" --label-col 3 --out "$T/conv.nc" >/dev/null 2>"$T/err" ||
    fail "convert of a good CSV: $(cat "$T/err")"
ncdump -p 9,17 "$T/conv.nc" >"$T/conv.cdl"
alter "$T/conv.cdl" inputs 7.5 >"$T/dalt.cdl"
ncgen -k nc4 -o "$T/dalt.nc" "$T/dalt.cdl"
refuse "dataset with an input altered (info)" "$T/dalt.nc" "variable 'inputs' is corrupted" -- "$BIN" info "$T/dalt.nc"
alter "$T/model.cdl" params 0.5 >"$T/malt.cdl"
ncgen -k 64-bit-offset -o "$T/malt.nc" "$T/malt.cdl"
refuse_model "model with a weight altered" "$T/malt.nc" "variable 'params' is corrupted"

# --- attributes altered behind their checksum (ttp_att_checksum) ------------------
# control: the same files with the attribute checksums removed (as files
# written before them) are read as before
grep -q ttp_att_checksum "$T/k.cdl" || fail "the kernel file carries no attribute checksums"
grep -v ttp_att_checksum "$T/k.cdl" >"$T/kold.cdl"
ncgen -k nc4 -o "$T/kold.nc" "$T/kold.cdl"
checks=$((checks + 1))
"$BIN" info "$T/kold.nc" >/dev/null 2>"$T/err" || fail "control: a kernel without attribute checksums is refused: $(cat "$T/err")"
attr() { sed -E "s/^(\t\t:$2 = )$3/\1$4/" "$1"; }
for spec in "seed 1ULL 2ULL" "projection \"[a-z]+\" \"gaussian\"" "side [01] 1" "trace [-0-9.e+]+ 1.5"; do
    set -- $spec
    attr "$T/k.cdl" "$1" "$2" "$3" >"$T/katt_$1.cdl"
    cmp -s "$T/katt_$1.cdl" "$T/k.cdl" && { fail "attr did not change $1"; continue; }
    ncgen -k nc4 -o "$T/katt_$1.nc" "$T/katt_$1.cdl" || { fail "ncgen katt_$1"; continue; }
    refuse_kernel "kernel with attribute $1 altered" "$T/katt_$1.nc" "attributes of the file (global attributes) are corrupted"
done
attr "$T/model.cdl" num_outputs 5 4 >"$T/matt.cdl"
ncgen -k 64-bit-offset -o "$T/matt.nc" "$T/matt.cdl"
refuse_model "model with num_outputs altered" "$T/matt.nc" "attributes of the file (global attributes) are corrupted"
attr "$T/model.cdl" input_shape "1, 8, 8" "1, 4, 16" >"$T/matt2.cdl"
ncgen -k 64-bit-offset -o "$T/matt2.nc" "$T/matt2.cdl"
refuse_model "model with input_shape altered" "$T/matt2.nc" "attributes of the file (global attributes) are corrupted"
sed -E 's/(layer_kind:flag_meanings = ")0 dense/\10 conv2d/' "$T/model.cdl" >"$T/matt3.cdl"
ncgen -k 64-bit-offset -o "$T/matt3.nc" "$T/matt3.cdl"
cmp -s "$T/matt3.cdl" "$T/model.cdl" && fail "the layer attribute was not altered"
refuse_model "model with a layer attribute altered" "$T/matt3.nc" "attributes of variable 'layer_kind' are corrupted"
"$BIN" convert --csv "$T/conv.csv" --label-col 3 --standardize --class-names "cat;dog" --out "$T/convs.nc" >/dev/null 2>"$T/err" ||
    fail "convert --standardize --class-names: $(cat "$T/err")"
ncdump -p 9,17 "$T/convs.nc" >"$T/convs.cdl"
sed -E 's/(:class_names = ")cat/\1cow/' "$T/convs.cdl" >"$T/datt.cdl"
ncgen -k nc4 -o "$T/datt.nc" "$T/datt.cdl"
cmp -s "$T/datt.cdl" "$T/convs.cdl" && fail "class_names was not altered"
refuse "dataset with class_names altered (info)" "$T/datt.nc" "attributes of the file (global attributes) are corrupted" -- "$BIN" info "$T/datt.nc"
refuse "dataset with class_names altered (kernel)" "$T/datt.nc" "attributes of the file (global attributes) are corrupted" -- \
    "$BIN" kernel --model "$T/model.nc" --data "$T/datt.nc" --out "$T/o.nc"

# --- absurd sizes in headers (refused before anything is allocated) -------------
# (without the attribute checksums, as a file from another tool: the size
# checks are what must refuse it)
ncdump -h "$T/k.nc" | grep -v ttp_att_checksum | sed -E 's/^(\tmode = )[0-9]+/\1268435456/' >"$T/kmodes.cdl"
ncgen -k nc4 -o "$T/kmodes.nc" "$T/kmodes.cdl"
refuse_kernel "kernel claiming 2^28 modes" "$T/kmodes.nc" "modes <= min(N·C, D')"
ncdump -h "$T/k.nc" | grep -v ttp_att_checksum | sed -E 's/^(\t\t:n = )[0-9]+/\14611686018427387904/; s/^(\tsample = )[0-9]+/\11/' >"$T/kn.cdl"
ncgen -k nc4 -o "$T/kn.nc" "$T/kn.cdl"
refuse_kernel "kernel claiming N = 2^62" "$T/kn.nc" "beyond the limit"
ncdump "$DATA/default-model.nc" | sed -E 's/input_shape = 1, 8, 8/input_shape = 1, 2000000000, 2000000000/' >"$T/mshape.cdl"
ncgen -k 64-bit-offset -o "$T/mshape.nc" "$T/mshape.cdl"
refuse_model "model with a 2e9 x 2e9 input" "$T/mshape.nc" "beyond the limit"
ncdump "$DATA/default-model.nc" | awk '/^ layer_pad =/{print " layer_pad = 1073741824, 1073741824, 1073741824, 1073741824, 1073741824, 1073741824, 1073741824, 1073741824, 1073741824, 1073741824, 1073741824, 1073741824, 1073741824, 1073741824, 1073741824 ;"; skip=1; next} skip && /;/{skip=0; next} skip{next} {print}' >"$T/mpad.cdl"
ncgen -k 64-bit-offset -o "$T/mpad.nc" "$T/mpad.cdl"
refuse_model "model with a pad of 2^30" "$T/mpad.nc" "pad"
cat >"$T/biglabel.cdl" <<'EOF'
netcdf biglabel {
dimensions:
	sample = 2 ;
	feature = 3 ;
variables:
	double inputs(sample, feature) ;
	int labels(sample) ;
// global attributes:
		:ttp_kind = "dataset" ;
data:
 inputs = 1, 2, 3, 4, 5, 6 ;
 labels = 0, 1000000000 ;
}
EOF
ncgen -k nc4 -o "$T/biglabel.nc" "$T/biglabel.cdl"
refuse "dataset with a label of 10^9 (info)" "$T/biglabel.nc" "at most 100000" -- "$BIN" info "$T/biglabel.nc"
printf 'a,b,label\n1,2,0\n3,4,1000000000\n' >"$T/biglabel.csv"
refuse "CSV with a label of 10^9" "$T/biglabel.csv" "class index" -- \
    "$BIN" convert --csv "$T/biglabel.csv" --label-col 3 --out "$T/o.nc"
printf '\x00\x00\x08\x03\x7f\xff\xff\xff\x00\x00\x00\x1c\x00\x00\x00\x1c' >"$T/huge.idx"
refuse "IDX claiming 2^31 images" "$T/huge.idx" -- "$BIN" convert --idx-images "$T/huge.idx" --out "$T/o.nc"

# --- non-finite inputs: the kernel stage refuses, naming the cause -----------------
awk '/^ inputs =/{f=1; print; next} f{gsub(/-?[0-9][0-9.e+-]*/, "1e308"); if (/;/) f=0} {print}' "$T/small.cdl" >"$T/inf.cdl"
ncgen -k nc4 -o "$T/inf.nc" "$T/inf.cdl"
refuse "kernel on inputs of 1e308" "non-finite" "overflow" -- \
    "$BIN" kernel --model "$DATA/default-model.nc" --data "$T/inf.nc" --out "$T/o.nc"
[ -e "$T/o.nc" ] && fail "kernel on inputs of 1e308 left an output file"

# --- regression inputs found by fuzzing ---------------------------------------------
for f in "$SRC"/tests/corpus/*; do
    [ -f "$f" ] || continue
    case "$f" in
    *.csv) refuse "corpus $(basename "$f")" "$f" -- "$BIN" convert --csv "$f" --label-col 1 --out "$T/o.nc" ;;
    *.idx) refuse "corpus $(basename "$f")" "$f" -- "$BIN" convert --idx-images "$f" --out "$T/o.nc" ;;
    *.md) ;;
    *) refuse "corpus $(basename "$f") (info)" "$f" -- "$BIN" info "$f" ;;
    esac
done

echo "$checks checks, $fails failures"
[ $fails -eq 0 ]
