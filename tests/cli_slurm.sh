#!/usr/bin/env bash
# cli_slurm.sh — slurm/ttpredict.sbatch runs as it is on a real single-node
# Slurm (slurmctld + slurmd + munge started here in a private directory):
# `sbatch --wait` of a kernel job at 2 tasks must succeed and write its file,
# and slurm/submit.sh must size jobs from N, C, D′ and K.  Skips (77) when
# the Slurm daemons are not installed.
set -u
BIN=${TTP_BIN:-}
SRC=${TTP_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
[ -n "$BIN" ] && [ -x "$BIN" ] || { echo "SKIP: ttpredict binary not found"; exit 77; }
for t in slurmctld slurmd sbatch munged; do
  command -v $t >/dev/null 2>&1 || [ -x /usr/sbin/$t ] || { echo "SKIP: $t not installed (apt-get install slurmctld slurmd slurm-client munge)"; exit 77; }
done
fails=0 checks=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# submit.sh sizing needs no daemons.
checks=$((checks + 1))
line=$(bash "$SRC/slurm/submit.sh" --n 50000 --c 10 --dproj 8192 --top-k 512 --mem-per-task-gb 8 --dry-run -- predict | tail -1)
echo "$line" | grep -q -- "--ntasks=8 " || fail "submit.sh sizing: $line"
checks=$((checks + 1))
bash "$SRC/slurm/submit.sh" --n 0 --dry-run >/dev/null 2>&1 && fail "submit.sh accepted --n 0"

D=$(mktemp -d /tmp/ttp_slurm.XXXXXX)
chmod 0755 "$D"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; sleep 1; rm -rf "$D"; }
trap cleanup EXIT
host=$(hostname -s)
mkdir -p "$D/munge" "$D/state" "$D/spool" "$D/log"
chown munge:munge "$D/munge" 2>/dev/null; chmod 0755 "$D/munge"
[ -f "$D/munge/munge.key" ] || { dd if=/dev/urandom bs=1 count=1024 of="$D/munge/munge.key" 2>/dev/null; chown munge:munge "$D/munge/munge.key"; chmod 0400 "$D/munge/munge.key"; }
runuser -u munge -- /usr/sbin/munged -F --key-file="$D/munge/munge.key" --socket="$D/munge/munge.socket.2" \
  --pid-file="$D/munge/munged.pid" --log-file="$D/munge/munged.log" --seed-file="$D/munge/munged.seed" >/dev/null 2>&1 &
pids+=($!)
cat >"$D/slurm.conf" <<CONF
ClusterName=ttptest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.socket.2
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmctldPort=$((17000 + RANDOM % 1000))
SlurmdPort=$((18000 + RANDOM % 1000))
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF=$D/slurm.conf
sleep 1
slurmctld -D -f "$SLURM_CONF" >/dev/null 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 1 30); do sinfo -h -o %T 2>/dev/null | grep -q idle && break; sleep 1; done
checks=$((checks + 1))
if ! sinfo -h -o %T 2>/dev/null | grep -q idle; then
  fail "the test Slurm did not come up: $(tail -3 "$D/log/slurmctld.log" 2>/dev/null)"
else
  cd "$D"
  checks=$((checks + 1))
  TTP_ROOT=$SRC TTP_BIN=$BIN timeout 300 sbatch --wait --ntasks=2 --mem-per-cpu=1000M --output="$D/job.out" \
    "$SRC/slurm/ttpredict.sbatch" kernel --proj rademacher --dproj 128 --out "$D/theta.nc" >/dev/null 2>"$D/sbatch.err"
  rc=$?
  [ $rc -eq 0 ] || fail "sbatch job exit $rc: $(cat "$D/sbatch.err" "$D/job.out" 2>/dev/null | tail -5)"
  checks=$((checks + 1))
  grep -q "2 task(s)" "$D/job.out" 2>/dev/null || fail "job did not run 2 tasks: $(cat "$D/job.out")"
  checks=$((checks + 1))
  "$BIN" info "$D/theta.nc" 2>/dev/null | grep -q "on 2 rank(s)" || fail "kernel file from the job is missing or not from 2 ranks"
fi
echo "cli_slurm: $checks checks, $fails failed"
[ $fails -eq 0 ]
