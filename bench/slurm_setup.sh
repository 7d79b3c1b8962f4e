#!/bin/sh
# A single-node Slurm on this machine, the peer that bench/run.py measures barge against.
#
#   bench/slurm_setup.sh start DIR   install slurm-wlm and munge if missing, write DIR/slurm.conf,
#                                    start munged, slurmctld and slurmd (all state, logs and
#                                    sockets in DIR), wait until the node is idle
#   bench/slurm_setup.sh stop DIR    stop the daemons that `start DIR` started (by their pids)
#
# After `start`, use the cluster with SLURM_CONF=DIR/slurm.conf (sbatch, squeue, scontrol).
#
# Everything listens on loopback: munged on a Unix socket in DIR, slurmctld and slurmd on
# 127.0.0.1 (CommunicationParameters=NoInAddrAny,NoCtldInAddrAny binds them to the node's address,
# 127.0.0.1, instead of every address)
# on ports SLURM_CTLD_PORT and SLURM_CTLD_PORT+1 (default 16817, 16818).
#
# The node is described as it is (slurmd -C: its real CPUs and memory), so Slurm runs as many
# one-CPU tasks at once as the machine has CPUs.  The settings that make Slurm as quick as it can
# be for many tiny jobs, each documented where it is set below:
#   - sched/builtin: plain first in, first out, no backfill pass;
#   - SchedulerParameters: no batch launch delay, the whole queue looked at in each pass, no cap
#     on the jobs started by one pass;
#   - CPUs the only consumable resource (select/cons_tres with CR_Core);
#   - no accounting, no job completion log, no process tracking by cgroup, no prolog or epilog,
#     no task plugin: nothing per job beyond starting it;
#   - MaxArraySize and MaxJobCount large enough for a 10,000-task array.
# A Slurm that cannot start leaves the reason on stderr and in DIR/*.log, and exits non-zero.
set -eu

cmd=${1:-}
DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
PORT=${SLURM_CTLD_PORT:-16817}
SHARE=${SLURM_SHARE:-128}

stop_pid() {
    # $1: a pid file written by one of our daemons.
    [ -f "$1" ] || return 0
    pid=$(cat "$1" 2>/dev/null || true)
    rm -f "$1"
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
}

case "$cmd" in
stop)
    stop_pid "$DIR/slurmd.pid"
    stop_pid "$DIR/slurmctld.pid"
    stop_pid "$DIR/munged.pid"
    exit 0
    ;;
start) ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac

missing=""
command -v slurmctld >/dev/null 2>&1 || missing="$missing slurm-wlm"
command -v munged >/dev/null 2>&1 || missing="$missing munge"
if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -q $missing >/dev/null 2>&1 || {
        $SUDO apt-get update -q >/dev/null 2>&1 || true
        $SUDO apt-get install -y -q $missing >/dev/null
    } || { echo "cannot install$missing" >&2; exit 1; }
fi

mkdir -p "$DIR/state" "$DIR/spool"
chmod 700 "$DIR"
# The daemons run as root here: slurmd must (it starts jobs as their owner), and a
# root-only munge key in DIR keeps the whole cluster private to this directory.
if [ ! -f "$DIR/munge.key" ]; then
    dd if=/dev/urandom of="$DIR/munge.key" bs=1024 count=1 2>/dev/null
    chmod 400 "$DIR/munge.key"
fi

NODE=$(hostname -s)
# The node's real CPUs and memory, as slurmd itself sees them.
CONF_LINE=$(slurmd -C | head -n 1)
CPUS=$(echo "$CONF_LINE" | sed -n 's/.* CPUs=\([0-9]*\).*/\1/p')
MEM=$(echo "$CONF_LINE" | sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p')
[ -n "$CPUS" ] && [ -n "$MEM" ] || { echo "slurmd -C gave no CPUs or memory: $CONF_LINE" >&2; exit 1; }

cat >"$DIR/slurm.conf" <<EOF
# Written by bench/slurm_setup.sh: one node, controller and worker on this machine, loopback only.
ClusterName=bench
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge.sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool/slurmd-%n
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
SlurmctldDebug=error
SlurmdDebug=error
# Nothing per job beyond starting it: processes tracked by process group, no cgroup, no task
# binding, no accounting, no completion log, no prolog or epilog.
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
# Fast scheduling: first in, first out with no backfill pass; each pass looks at the whole queue
# and may start any number of jobs; batch jobs are launched at once (batch_sched_delay=0).  CPUs
# are the only consumable: with memory consumable too, a job that asks for none is given the
# whole node's.
SchedulerType=sched/builtin
SchedulerParameters=batch_sched_delay=0,default_queue_depth=10000,sched_max_job_start=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# A 10,000-task array, and room for every task as a job record of its own while it runs.
MaxArraySize=10001
MaxJobCount=100000
# Finished jobs stay visible to scontrol for a minute, then go.
MinJobAge=60
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
# Two partitions on the one node.  bench: each CPU shared by up to SLURM_SHARE jobs at once
# (OverSubscribe=FORCE, no gang scheduling, so jobs simply share the CPUs), as barge's local
# provider runs up to maxvCpus one-vCPU jobs on this machine's few cores.  strict: one job per
# CPU, Slurm's usual way.
PreemptMode=OFF
PartitionName=bench Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:$SHARE
PartitionName=strict Nodes=$NODE Default=NO MaxTime=INFINITE State=UP OverSubscribe=NO
EOF

# munged: its socket, pid, seed and log in DIR; --force because DIR sits under a world-writable
# /tmp, which munged would otherwise refuse.
munged --force --socket="$DIR/munge.sock" --key-file="$DIR/munge.key" --pid-file="$DIR/munged.pid" \
    --seed-file="$DIR/munged.seed" --log-file="$DIR/munged.log" ||
    { echo "munged did not start:"; cat "$DIR/munged.log" 2>/dev/null; exit 1; } >&2

export SLURM_CONF="$DIR/slurm.conf"
slurmctld -f "$DIR/slurm.conf" ||
    { echo "slurmctld did not start:"; tail -n 20 "$DIR/slurmctld.log" 2>/dev/null; exit 1; } >&2
slurmd -f "$DIR/slurm.conf" ||
    { echo "slurmd did not start:"; tail -n 20 "$DIR/slurmd.log" 2>/dev/null; exit 1; } >&2

for _ in $(seq 300); do
    state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
    case "$state" in idle*) echo "slurm: node $NODE idle ($CPUS CPUs, $MEM MiB), controller on 127.0.0.1:$PORT"; exit 0 ;; esac
    sleep 0.1
done
{
    echo "the Slurm node did not become idle (state '${state:-none}'):"
    tail -n 20 "$DIR/slurmctld.log" "$DIR/slurmd.log" 2>/dev/null
} >&2
exit 1
