#!/usr/bin/env bash
# Size a ttpredict job from the problem and submit it.
#
#   slurm/submit.sh --n 50000 --c 10 --dproj 8192 [--top-k 512] [--mem-per-task-gb 8] [--dry-run] -- predict --data d.nc ...
#   slurm/submit.sh --model m.nc --n 50000 --dproj 8192 [--top-k 512] ... -- predict --model m.nc ...
#
# With --model, `ttpredict plan` sizes the job (the library's estimate, the
# one predict checks before it starts; C and D from the model, --proj auto at D′,
# the runtime and the ensemble counted); without it, the model below.
#
# Memory model (docs/large-n.md, per rank): the projected Jacobian rows
# NC·D′/P, the block-cyclic Gram min(NC, D′)² and its eigenvectors,
# ScaLAPACK workspace (~ another min(NC,D′)²), all doubles, divided over P
# ranks; plus rank 0's gathered top-K eigenvectors NC·K (K = --top-k, else
# all min(NC, D′)) and the model.  The task
# count is the smallest P whose per-rank share fits the memory per task.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=750 c=5 dproj=2048 topk=0 memgb=4 dry=0 maxp=1024 model=
while [ $# -gt 0 ]; do
  case "$1" in
    --n) n=$2; shift 2 ;;
    --c) c=$2; shift 2 ;;
    --dproj) dproj=$2; shift 2 ;;
    --top-k) topk=$2; shift 2 ;;
    --mem-per-task-gb) memgb=$2; shift 2 ;;
    --max-tasks) maxp=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --dry-run) dry=1; shift ;;
    --) shift; break ;;
    -h|--help) sed -n "2,18p" "$0"; exit 0 ;;
    *) echo "submit.sh: unknown option '$1' (expected --model, --n, --c, --dproj, --top-k, --mem-per-task-gb, --max-tasks, --dry-run, then -- and the ttpredict arguments)" >&2; exit 2 ;;
  esac
done
[[ "$topk" =~ ^[0-9]+$ ]] || { echo "submit.sh: --top-k must be a non-negative integer, got '$topk'" >&2; exit 2; }
for v in "$n" "$c" "$dproj" "$memgb" "$maxp"; do
  [[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -gt 0 ] || { echo "submit.sh: sizes must be positive integers, got '$v'" >&2; exit 2; }
done
if [ -n "$model" ]; then
  bin=${TTP_BIN:-$here/../build/ttpredict}
  . "$here/../tools/mpi-env.sh" 2>/dev/null || true
  [ -x "$bin" ] || { echo "submit.sh: --model needs ttpredict (no executable at $bin; build it or set TTP_BIN)" >&2; exit 2; }
  json=$(mktemp /tmp/ttp_submit.XXXXXX.json)
  trap 'rm -f "$json"' EXIT
  field() { sed -n "s/^ *\"$1\": *\([0-9.e+]*\|true\|false\),*$/\1/p" "$json" | head -1; }
  plan() { "$bin" plan -q --model "$model" --n "$n" --proj auto --dproj "$dproj" \
             $([ "$topk" -gt 0 ] && echo --top-k "$topk") --mem-per-rank "${memgb}G" --ranks "$1" --json "$json" >/dev/null; }
  plan 1 || { echo "submit.sh: ttpredict plan failed" >&2; exit 2; }
  p=1
  if [ "$(field fits)" != true ]; then
    p=$(field fit_ranks)
    if [ -z "$p" ] || [ "$p" = 0 ] || [ "$p" -gt "$maxp" ]; then
      echo "submit.sh: no task count up to $maxp fits ${memgb} GB per task (ttpredict plan: fit_dproj $(field fit_dproj), fit_top_k $(field fit_top_k), fit_subset $(field fit_subset)); raise --mem-per-task-gb or lower --dproj/--top-k" >&2
      exit 2
    fi
    plan "$p" || { echo "submit.sh: ttpredict plan failed" >&2; exit 2; }
  fi
  c=$(field C)
  mem_mb=$(awk -v b="$(field peak)" -v g="$memgb" 'BEGIN { m = b / 1048576 * 1.25 + 256; if (m > g * 1024) m = g * 1024; printf "%d", m }')
else
read -r p mem_mb < <(awk -v n="$n" -v c="$c" -v d="$dproj" -v g="$memgb" -v maxp="$maxp" -v k="$topk" 'BEGIN {
  nc = n * c; s = (nc < d) ? nc : d; if (k <= 0 || k > s) k = s
  dist = 8 * (nc * d + 3 * s * s)          # bytes spread over the ranks
  root = 8 * (nc * k) + 256 * 1024 * 1024  # rank 0: eigenvectors + slack
  budget = g * 1024 * 1024 * 1024
  if (root >= budget) { print "ERR", 0; exit }
  p = 1; while (dist / p + root > budget && p < maxp) p *= 2
  per = dist / p + root
  m = per / 1048576 * 1.25 + 256; if (m > g * 1024) m = g * 1024
  printf "%d %d\n", p, m
}')
if [ "$p" = ERR ]; then
  echo "submit.sh: rank 0 alone needs more than ${memgb} GB for the NC=$((n*c)) x K eigenvectors it gathers; raise --mem-per-task-gb or pass a smaller --top-k" >&2
  exit 2
fi
fi
echo "submit.sh: N=$n C=$c D'=$dproj -> $p task(s), ${mem_mb} MB per task"
cmd=(sbatch --ntasks="$p" --mem-per-cpu="${mem_mb}M" "$here/ttpredict.sbatch" "$@")
if [ "$dry" = 1 ]; then echo "${cmd[*]}"; else "${cmd[@]}"; fi
