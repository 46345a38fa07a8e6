#!/usr/bin/env bash
# cli_docs.sh — the documentation and the commands' --help agree:
#   1. docs/cli.md lists, under "## `ttpredict CMD`", exactly the options of
#      `ttpredict CMD --help` (every option documented; none documented that
#      the command refuses);
#   2. wherever the docs, tools/*.sh or benchmarks/*.sh show a command line
#      `ttpredict CMD ...` (or the README's `$B CMD ...`, a script's
#      "$bin" CMD ...), its options are options of CMD;
#   3. every --flag anywhere in the docs (README.md, docs/*.md,
#      docs/formats/*.md, slurm/*, benchmarks/README.md) is an option of some
#      ttpredict command, or of another tool the docs show: the benchmark
#      programs and scripts (their flags read from their own sources) and
#      cmake/sbatch (a short list below).
# Options in --help are the "--flag" words in the option column, left of
# the description column (TTP_CLI_HELP_COL, src/cli/cli.h).
set -u
BIN=${TTP_BIN:-}
SRC=${TTP_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then echo "SKIP: ttpredict binary not found"; exit 77; fi
if ! command -v python3 >/dev/null; then echo "SKIP: python3 not found"; exit 77; fi
T=$(mktemp -d /tmp/ttp_cli_docs.XXXXXX)
trap 'rm -rf "$T"' EXIT
for c in predict sweep kernel train validate info convert split plan; do
    "$BIN" "$c" --help >"$T/$c.help" 2>&1 || { echo "FAIL: ttpredict $c --help exited non-zero"; exit 1; }
done
python3 - "$SRC" "$T" <<'PY'
import glob, os, re, sys

src, tmp = sys.argv[1], sys.argv[2]
cmds = ["predict", "sweep", "kernel", "train", "validate", "info", "convert", "split", "plan"]
HELP_COL = 24
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
fails = []
checks = 0

def check(ok, msg):
    global checks
    checks += 1
    if not ok:
        fails.append(msg)

# --help: options of each command
helps = {}
for c in cmds:
    opts = set()
    for line in open(os.path.join(tmp, c + ".help"), encoding="utf-8"):
        if line.startswith("  -"):
            opts.update(FLAG.findall(line[:HELP_COL]))
    check(len(opts) > 0, f"ttpredict {c} --help lists no options")
    helps[c] = opts
every = set().union(*helps.values())

# 1. docs/cli.md, one section per command
path = os.path.join(src, "docs", "cli.md")
text = open(path, encoding="utf-8").read()
sections = {}
cur = None
# ("$B CMD" too: the README's examples set B=build/ttpredict; the scripts'
# "$bin" CMD and ttpredict.sbatch CMD)
CMDLINE = re.compile(r'(?:\bttpredict(?:\.sbatch)?"?|\$B|"\$bin") (' + "|".join(cmds) + r")\b([^`|;&#]*)")
for line in text.splitlines():
    m = re.match(r"^## `ttpredict (\w+)`", line)
    if m:
        cur = m.group(1)
        sections[cur] = set()
    elif line.startswith("## "):
        cur = None
    elif cur:
        # another command's line quoted here is that command's (check 2)
        line = CMDLINE.sub(lambda m: m.group(0) if m.group(1) == cur else "", line)
        sections[cur].update(FLAG.findall(line))
for c in cmds:
    check(c in sections, f"docs/cli.md has no section '## `ttpredict {c}`'")
    doc = sections.get(c, set())
    for o in sorted(helps[c] - doc):
        check(False, f"ttpredict {c} {o}: in --help but not documented in docs/cli.md")
    for o in sorted(doc - helps[c]):
        check(False, f"docs/cli.md documents {o} for ttpredict {c}, which its --help lacks")

# the documentation files
docs = [os.path.join(src, "README.md"), os.path.join(src, "benchmarks", "README.md")]
docs += sorted(glob.glob(os.path.join(src, "docs", "*.md")))
docs += sorted(glob.glob(os.path.join(src, "docs", "formats", "*.md")))
docs += sorted(f for f in glob.glob(os.path.join(src, "slurm", "*")) if os.path.isfile(f))

# 2. command lines: `ttpredict CMD ...` up to the end of the line (joined
# over trailing backslashes), an inline code span's end, or a shell separator
scripts = sorted(glob.glob(os.path.join(src, "tools", "*.sh")) + glob.glob(os.path.join(src, "benchmarks", "*.sh")))
for d in docs + scripts:
    lines = open(d, encoding="utf-8").read().replace("\\\n", " ").splitlines()
    for n, line in enumerate(lines, 1):
        for m in CMDLINE.finditer(line):
            for o in FLAG.findall(m.group(2)):
                check(o in helps[m.group(1)],
                      f"{os.path.relpath(d, src)}: 'ttpredict {m.group(1)} ... {o}': not an option of {m.group(1)}")

# 3. every --flag: some ttpredict command's, or another tool's the docs show
others = set()
for f in glob.glob(os.path.join(src, "benchmarks", "*.c")):
    others.update(re.findall(r'"(--[a-z][a-z0-9-]*)"', open(f, encoding="utf-8").read()))
for f in glob.glob(os.path.join(src, "benchmarks", "*.sh")) + [os.path.join(src, "slurm", "submit.sh")]:
    others.update(re.findall(r"(--[a-z][a-z0-9-]*)\)", open(f, encoding="utf-8").read()))
# cmake --build/--target; sbatch/srun resources; mpirun --oversubscribe
others.update(["--build", "--target", "--ntasks", "--cpus-per-task", "--mem-per-cpu", "--job-name",
               "--time", "--output", "--mpi", "--oversubscribe"])
for d in docs:
    for n, line in enumerate(open(d, encoding="utf-8"), 1):
        for o in FLAG.findall(line):
            check(o in every or o in others,
                  f"{os.path.relpath(d, src)}:{n}: {o} is no option of any ttpredict command (nor of the "
                  "benchmarks, slurm/submit.sh, cmake or sbatch)")

for f in fails:
    print("FAIL:", f)
print(f"cli_docs: {checks} checks, {len(fails)} failed")
sys.exit(1 if fails else 0)
PY
