#!/usr/bin/env bash
# Run one libFuzzer target for a fixed time (ctest label `fuzz`).
#   bash tools/fuzz-run.sh TARGET EXE SECONDS ARTIFACT_DIR
# Seeds: the bundled files of the target's kind, small files made here or
# kept in fuzz/seeds/TARGET/, and
# the regression inputs tests/corpus/fuzz_TARGET-*.  Fails on any crash,
# sanitizer report, per-input timeout (10 s; 45 s for nc4) or allocation over 2 GiB; the
# input that did it is left in ARTIFACT_DIR (copy it to tests/corpus/ as
# fuzz_TARGET-<what>.<ext> so that cli_hostile.sh replays it).  Exit 77 when
# the target was not built (no clang: tools/install-test-deps.sh installs it).
set -u
t=$1 exe=$2 secs=$3 art=$4
root=${TTP_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
if [ -z "$exe" ] || [ ! -x "$exe" ]; then
    echo "SKIP: fuzz target '$t' not built: libFuzzer needs clang (the build's compiler is not clang;" \
         "tools/install-test-deps.sh installs it and tools/test.sh builds build-asan with it)"
    exit 77
fi
seeds=$(mktemp -d /tmp/ttp_fuzz_seeds.XXXXXX)
trap 'rm -rf "$seeds"' EXIT
# A small kernel, as CDL: the kernel target's seed (CDF5) and nc4's (NetCDF-4).
kernel_cdl() {
    cat <<'CDL'
netcdf k {
dimensions:
	row = 4 ; sample = 2 ; mode = 2 ; col = 4 ;
variables:
	double f0(row) ; double u0(row) ; int labels(sample) ;
	double eigval(mode) ; double p_res(mode) ; double p_grad(mode) ;
	double eigvec(row, mode) ; double theta(row, col) ;
		:ttp_kind = "kernel" ; :projection = "exact" ; :backend = "cpu" ;
		:n = 2LL ; :c = 2 ; :d = 10LL ; :dproj = 10LL ; :seed = 1ULL ; :side = 0 ;
		:model_fingerprint = 1ULL ; :data_fingerprint = 2ULL ;
		:trace = 3. ; :res_energy = 1. ; :grad_energy = 1. ;
data:
 f0 = 0.1, -0.2, 0.3, 0.4 ; u0 = 0, 0, 0, 0 ; labels = 0, 1 ;
 eigval = 2, 1 ; p_res = 0.5, -0.5 ; p_grad = 0.1, 0.2 ;
 eigvec = 0.5, 0.5, 0.5, -0.5, 0.5, 0.5, 0.5, -0.5 ;
 theta = 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1 ;
}
CDL
}
case $t in
dataset)
    # the targets read the classic family only (fuzz/fuzz_common.h): CDF5 copies
    for f in default-data pretrain-data; do nccopy -k cdf5 "$root/data/$f.nc" "$seeds/$f.nc"; done ;;
model) cp "$root"/data/default-model.nc "$root"/data/pretrained.nc "$seeds"/ ;;
kernel)
    if command -v ncgen >/dev/null; then
        kernel_cdl >"$seeds/k.cdl"
        ncgen -k cdf5 -o "$seeds/k.nc" "$seeds/k.cdl" && rm "$seeds/k.cdl"
    fi ;;
nc4)
    # NetCDF-4 files behind a byte that picks the reader: 0 dataset, 1 model, 2 kernel
    { printf '\000'; cat "$root/data/default-data.nc"; } >"$seeds/data.nc4"
    if nccopy -k nc4 "$root/data/default-model.nc" "$seeds/m.nc" 2>/dev/null; then
        { printf '\001'; cat "$seeds/m.nc"; } >"$seeds/model.nc4"; rm -f "$seeds/m.nc"
    fi
    if command -v ncgen >/dev/null; then
        kernel_cdl >"$seeds/k.cdl" && ncgen -k nc4 -o "$seeds/k.nc" "$seeds/k.cdl" &&
            { printf '\002'; cat "$seeds/k.nc"; } >"$seeds/kernel.nc4"
        rm -f "$seeds/k.cdl" "$seeds/k.nc"
    fi ;;
csv) printf '\001a,b,label\n0.5,1,0\n2,3,1\n' >"$seeds/1.csv"; printf '\0001,2,3\n4,5,6\n' >"$seeds/2.csv" ;;
idx) printf '\000\020\000\000\010\003\000\000\000\002\000\000\000\002\000\000\000\002\001\002\003\004\005\006\007\010\000\000\010\001\000\000\000\002\001\002' >"$seeds/1.idx" ;;
npy) /usr/bin/python3 -c "import numpy as np, io, sys
x, y = io.BytesIO(), io.BytesIO()
np.save(x, np.arange(6, dtype='<f4').reshape(3, 2)); np.save(y, np.array([0, 1, 0], dtype='<i8'))
b = x.getvalue(); sys.stdout.buffer.write(len(b).to_bytes(2, 'big') + b + y.getvalue())" >"$seeds/1.npy" ;;
esac
for f in "$root"/fuzz/seeds/"$t"/*; do [ -f "$f" ] && cp "$f" "$seeds/"; done
# (a file on which libhdf5 loops costs the probe's whole time limit per
# reader: cli_hostile.sh replays it, the fuzzer's seconds go to the others)
for f in "$root"/tests/corpus/fuzz_"$t"-*; do
    case $f in *-loop*) continue ;; esac
    [ -f "$f" ] && cp "$f" "$seeds/"
done
mkdir -p "$art"
# Seconds one input may take: 10, but nc4's readers first probe a NetCDF-4
# file in a child for up to TTP_NC_PROBE_SECONDS (10 s) each, and a file that
# is itself NetCDF-4 goes to all three readers.
per_input=10
[ "$t" = nc4 ] && per_input=45
# detect_leaks=0: NetCDF/HDF5 keep global state on some error paths that
# LeakSanitizer reports as leaks outside ttpredict; ASan's other checks stay on.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} \
    "$exe" -max_total_time="$secs" -timeout="$per_input" -rss_limit_mb=4096 -malloc_limit_mb=2048 \
    -max_len=65536 -artifact_prefix="$art/$t-" -print_final_stats=1 "$seeds" 2>&1 | tail -40
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] && echo "fuzz_$t: no crash in $secs s" || echo "FAIL: fuzz_$t found a crash (rc $rc): see $art/"
exit "$rc"
