#!/usr/bin/env bash
# Size a ttpredict job from the problem and submit it.
#
#   slurm/submit.sh --n 50000 --c 10 --dproj 8192 [--top-k 512] [--mem-per-task-gb 8] [--dry-run] -- predict --data d.nc ...
#
# Memory model (docs/large-n.md, per rank): the projected Jacobian rows
# NC·D′/P, the block-cyclic Gram min(NC, D′)² and its eigenvectors,
# ScaLAPACK workspace (~ another min(NC,D′)²), all doubles, divided over P
# ranks; plus rank 0's gathered top-K eigenvectors NC·K (K = --top-k, else
# all min(NC, D′)) and the model.  The task
# count is the smallest P whose per-rank share fits the memory per task.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=750 c=5 dproj=2048 topk=0 memgb=4 dry=0 maxp=1024
while [ $# -gt 0 ]; do
  case "$1" in
    --n) n=$2; shift 2 ;;
    --c) c=$2; shift 2 ;;
    --dproj) dproj=$2; shift 2 ;;
    --top-k) topk=$2; shift 2 ;;
    --mem-per-task-gb) memgb=$2; shift 2 ;;
    --max-tasks) maxp=$2; shift 2 ;;
    --dry-run) dry=1; shift ;;
    --) shift; break ;;
    -h|--help) sed -n "2,13p" "$0"; exit 0 ;;
    *) echo "submit.sh: unknown option '$1' (expected --n, --c, --dproj, --top-k, --mem-per-task-gb, --max-tasks, --dry-run, then -- and the ttpredict arguments)" >&2; exit 2 ;;
  esac
done
[[ "$topk" =~ ^[0-9]+$ ]] || { echo "submit.sh: --top-k must be a non-negative integer, got '$topk'" >&2; exit 2; }
for v in "$n" "$c" "$dproj" "$memgb" "$maxp"; do
  [[ "$v" =~ ^[0-9]+$ ]] && [ "$v" -gt 0 ] || { echo "submit.sh: sizes must be positive integers, got '$v'" >&2; exit 2; }
done
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
echo "submit.sh: N=$n C=$c D'=$dproj -> $p task(s), ${mem_mb} MB per task"
cmd=(sbatch --ntasks="$p" --mem-per-cpu="${mem_mb}M" "$here/ttpredict.sbatch" "$@")
if [ "$dry" = 1 ]; then echo "${cmd[*]}"; else "${cmd[@]}"; fi
