#!/bin/sh
# barge's main job, end to end: a server with the embedded default (one machine, the SQLite
# store, the local provider launching `barge agent` instances), a real workload submitted with
# the barge CLI, and its result shown.  `make demo` runs it after setting up the machine.
#
# The jobs run in containers: their image, busybox, is a Docker Hub name, which the agents pull
# through a registry on loopback (--registry-mirror) that tests/e2e/registry.py starts and fills
# with a busybox image built from Debian's busybox-static, so no internet is needed.
#
# The workload is a fan-out and a fan-in: an array job whose 8 children each square their index
# and write it to a file in a host directory mounted into their containers, and a job that
# depends on the whole array and adds the parts up.  Then one job shows what it sees from inside
# its container.
set -eu
cd "$(dirname "$0")/.."
BARGE=${BARGE:-$PWD/build/barge}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/barge-demo.XXXXXX")
# The containers' root is an unprivileged host user (a user namespace maps it), which must pass
# through this directory to the agents' work directories below it.
chmod 711 "$WORK"
SERVER_PID=""
REGISTRY_PID=""

stop() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    # The registry serves until its standard input closes; then it stops and removes its files.
    if [ -n "$REGISTRY_PID" ]; then
        exec 3>&-
        wait "$REGISTRY_PID" 2>/dev/null || true
    fi
    # BARGE_DEMO_KEEP=1 keeps the data directory and the jobs' output for a look afterwards.
    if [ "${BARGE_DEMO_KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap stop EXIT
trap 'stop; exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Starting a local registry that serves busybox (built from Debian's busybox-static)"
mkfifo "$WORK/registry.in"
python3 tests/e2e/registry.py serve-busybox library/busybox:latest \
    <"$WORK/registry.in" >"$WORK/registry.out" 2>&1 &
REGISTRY_PID=$!
# Held open until stop(); nothing else may inherit it, or the registry would outlive the demo.
exec 3>"$WORK/registry.in"
REGISTRY=""
for _ in $(seq 300); do
    REGISTRY=$(awk 'NR == 1 && $1 ~ /^127\.0\.0\.1:[0-9]+$/ { print $1 }' "$WORK/registry.out")
    [ -n "$REGISTRY" ] && break
    kill -0 "$REGISTRY_PID" 2>/dev/null || { cat "$WORK/registry.out"; exit 1; }
    sleep 0.1
done
[ -n "$REGISTRY" ] || { echo "the registry did not start:"; cat "$WORK/registry.out"; exit 1; }
echo "registry on $REGISTRY holding library/busybox:latest ($(awk 'NR == 1 { print $2 }' "$WORK/registry.out"))"

say "Starting a barge server (developer mode, containers, data in $WORK/data)"
# --stop-local-agents: the demo leaves nothing running (a server's agents otherwise outlive it,
# for the next server on the data directory to take back).
"$BARGE" server --dev --listen 127.0.0.1:0 --data-dir "$WORK/data" --idle-seconds 5 \
    --stop-local-agents --executor container --registry-mirror "http://$REGISTRY" --agent-work-dir "$WORK/agents" \
    >"$WORK/server.log" 2>&1 3>&- &
SERVER_PID=$!
URL=""
for _ in $(seq 100); do
    URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$WORK/server.log" | head -n 1)
    [ -n "$URL" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log"; exit 1; }
    sleep 0.1
done
[ -n "$URL" ] || { echo "the server did not start:"; cat "$WORK/server.log"; exit 1; }
echo "serving the AWS Batch API on $URL"
export BARGE_ENDPOINT="$URL"

# Resources through the AWS Batch API itself (the server in --dev accepts unsigned requests;
# `aws --endpoint-url $URL batch ...` does the same).
api() {
    out=$(curl -sS -X POST "$URL/v1/$1" -H 'Content-Type: application/json' -d "$2")
    case "$out" in *'"__type"'*) echo "$1 failed: $out" >&2; exit 1 ;; esac
}

say "Creating a compute environment (MANAGED, up to 4 vCPUs), a job queue and three job definitions"
api createcomputeenvironment '{"computeEnvironmentName": "demo", "type": "MANAGED",
  "computeResources": {"type": "EC2", "minvCpus": 0, "maxvCpus": 4, "instanceTypes": ["optimal"],
                       "subnets": [], "securityGroupIds": []}}'
api createjobqueue '{"jobQueueName": "demo", "priority": 1,
  "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "demo"}]}'
# The parts go to a directory of the host, which both definitions mount at /out.
mkdir -p "$WORK/out"
chmod 777 "$WORK/out" # written by the containers' root, an unprivileged host user
OUT_VOLUME='"volumes": [{"name": "out", "host": {"sourcePath": "'"$WORK/out"'"}}],
    "mountPoints": [{"sourceVolume": "out", "containerPath": "/out"}]'
api registerjobdefinition '{"jobDefinitionName": "square", "type": "container",
  "containerProperties": {"image": "busybox", '"$OUT_VOLUME"',
    "command": ["sh", "-c", "i=$AWS_BATCH_JOB_ARRAY_INDEX; echo $((i * i)) > /out/part-$i; echo \"child $i of $AWS_BATCH_JOB_ARRAY_SIZE: $i squared is $((i * i))\""],
    "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "256"}]}}'
api registerjobdefinition '{"jobDefinitionName": "total", "type": "container",
  "containerProperties": {"image": "busybox", '"$OUT_VOLUME"',
    "command": ["sh", "-c", "echo \"adding $(ls /out | wc -l) parts\"; cat /out/part-* | awk \"{ s += \\$1 } END { print \\\"sum of the squares of 0..7 =\\\", s }\""],
    "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "256"}]}}'
api registerjobdefinition '{"jobDefinitionName": "inside", "type": "container",
  "containerProperties": {"image": "busybox",
    "command": ["sh", "-c", "echo \"the image: $(busybox | head -n 1)\"; echo \"the host name (shared with the instance): $(busybox uname -n)\"; echo \"my process id: $$ (the container has its own process ids)\"; echo \"the root directory holds:\" $(ls /)"],
    "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]}}'

say "Submitting an array of 8 children, and a job that depends on the whole array"
ARRAY=$("$BARGE" submit --queue demo --definition square --name squares --array-size 8 | awk 'NR == 1 { print $1 }')
TOTAL=$("$BARGE" submit --queue demo --definition total --name total --depends-on "$ARRAY" | awk 'NR == 1 { print $1 }')
echo "array job $ARRAY; dependent job $TOTAL"

say "Following the dependent job's log until it ends (barge logs -f)"
"$BARGE" logs -f "$TOTAL"

say "The jobs (barge jobs --all)"
"$BARGE" jobs --queue demo --all
say "The array's children (barge jobs --array)"
"$BARGE" jobs --array "$ARRAY" --all
say "The dependent job in full (barge describe)"
"$BARGE" describe "$TOTAL"
say "One child's log (barge logs)"
"$BARGE" logs "$ARRAY:3"

say "One job in its container: what it sees from inside (barge submit, barge logs -f)"
INSIDE=$("$BARGE" submit --queue demo --definition inside --name inside | awk 'NR == 1 { print $1 }')
"$BARGE" logs -f "$INSIDE"
# The description's barge member says how the job ran (barge describe --json shows it whole).
"$BARGE" describe --json "$INSIDE" | python3 -c '
import json, sys
job = json.load(sys.stdin)["jobs"][0]
print("job %s %s; image %s; barge.executor: %s; instance %s" % (
    job["jobName"], job["status"], job["container"]["image"], job["barge"]["executor"],
    job["barge"]["instanceId"]))'

status() { "$BARGE" describe --json "$1" | sed -n 's/.*"status": *"\([A-Z]*\)".*/\1/p' | head -n 1; }
total=$(status "$TOTAL")
inside=$(status "$INSIDE")
say "Done: the dependent job $total, the container job $inside"
[ "$total" = SUCCEEDED ] && [ "$inside" = SUCCEEDED ]
