#!/usr/bin/env bash
# cli_task.sh — the bundled tasks by name (`--task`, src/core/ttp_task.h):
# `info --task wide` describes a model of at least a million trainable
# weights and the digits 5-9 dataset; a cheap prediction on it (--subset,
# small --dproj, few steps) exits 0 and gives the same numbers at 1 and 2
# ranks; `--task default` is the task used without --task (the same
# prediction, value for value); --model given with --task replaces the
# task's model; an unknown name is refused listing the known ones, before
# any work; `cmake --install` puts the tasks' files in share/ttpredict.
set -u
BIN=${TTP_BIN:-}
MPIEXEC=${TTP_MPIEXEC:-mpiexec}
SRC=${TTP_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then echo "SKIP: ttpredict binary not found"; exit 77; fi
[ -f "$SRC/data/wide-model.nc" ] || { echo "SKIP: data/wide-model.nc not found"; exit 77; }
T=$(mktemp -d /tmp/ttp_cli_task.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0 checks=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { checks=$((checks + 1)); }

# info --task wide: the model's trainable count and the dataset
if "$BIN" info --task wide >"$T/info.txt" 2>&1; then ok; else fail "info --task wide exited non-zero"; cat "$T/info.txt"; fi
ntr=$(grep -o '([0-9]* trainable)' "$T/info.txt" | head -1 | tr -dc 0-9)
if [ -n "$ntr" ] && [ "$ntr" -ge 1000000 ]; then ok; else fail "info --task wide: trainable weights '$ntr', expected >= 1000000"; fi
grep -q "wide-model.nc" "$T/info.txt" && grep -q "default-data.nc" "$T/info.txt" && ok ||
  fail "info --task wide does not name wide-model.nc and default-data.nc"
grep -q "750" "$T/info.txt" && ok || fail "info --task wide: the dataset's 750 samples are not shown"

# a cheap prediction on the wide task, at 1 and 2 ranks: the same numbers
P=(predict -q --task wide --subset 40 --proj kron --dproj 32 --steps 20 --ensemble 2 --time-steps 0)
for np in 1 2; do
  if "$MPIEXEC" -n $np "$BIN" "${P[@]}" --json "$T/wide$np.json" >"$T/wide$np.log" 2>&1; then ok
  else fail "predict --task wide at $np ranks exited non-zero"; tail -5 "$T/wide$np.log"; fi
done
/usr/bin/python3 - "$T/wide1.json" "$T/wide2.json" <<'PY' && ok || fail "predict --task wide differs between 1 and 2 ranks"
import json, math, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for k in ("tt_steps", "final_loss"):
    x, y = a[k], b[k]
    if isinstance(x, float) and not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12) or \
       not isinstance(x, float) and x != y:
        sys.exit(f"{k}: {x} at 1 rank, {y} at 2 ranks")
PY

# --task default is the task without --task; --model with --task wins
Q=(predict -q --subset 40 --dproj 16 --proj kron --steps 10 --ensemble 2 --time-steps 0)
"$BIN" "${Q[@]}" --json "$T/none.json" >/dev/null 2>&1 || fail "predict without --task failed"
"$BIN" "${Q[@]}" --task default --json "$T/default.json" >/dev/null 2>&1 || fail "predict --task default failed"
"$BIN" "${Q[@]}" --task wide --model "$SRC/data/default-model.nc" --json "$T/override.json" >/dev/null 2>&1 ||
  fail "predict --task wide --model FILE failed"
/usr/bin/python3 - "$T/none.json" "$T/default.json" "$T/override.json" <<'PY' && ok || fail "--task default / --model override"
import json, sys
a, b, c = (json.load(open(p)) for p in sys.argv[1:4])
for k in ("tt_steps", "final_loss"):
    if not (a[k] == b[k] == c[k]):
        sys.exit(f"{k}: no --task {a[k]}, --task default {b[k]}, --task wide --model default-model.nc {c[k]}")
PY

# an unknown task: refused, naming the option and the known tasks
for cmd in predict train kernel info; do
  if "$BIN" $cmd --task nope >"$T/bad.txt" 2>&1; then fail "$cmd --task nope exited 0"
  elif grep -q -- "--task" "$T/bad.txt" && grep -q "default, wide" "$T/bad.txt"; then ok
  else fail "$cmd --task nope: message '$(cat "$T/bad.txt")'"; fi
done

# installed: the tasks' files next to the executable
BUILD=$(cd "$(dirname "$BIN")" && pwd)
if [ -f "$BUILD/cmake_install.cmake" ] && command -v cmake >/dev/null; then
  cmake --install "$BUILD" --prefix "$T/inst" >/dev/null 2>&1 || fail "cmake --install failed"
  for f in default-model.nc default-data.nc wide-model.nc; do
    [ -f "$T/inst/share/ttpredict/$f" ] && ok || fail "installed tree lacks share/ttpredict/$f"
  done
fi

echo "cli_task: $checks checks, $fails failures"
[ $fails -eq 0 ]
