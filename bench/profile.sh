#!/bin/sh
# Profiles barge with perf on the two paths that the benchmarks time (docs/performance.md reads
# the results):
#
#   bench/profile.sh submit [OUT]   the server under wrk's SubmitJob load (figure 1)
#   bench/profile.sh e2e [OUT]      a 10,000-child array of `true` from submit to the last child
#                                   (figure 3): the server, its agents and the jobs
#   bench/profile.sh restart [OUT]  the start of a server whose store holds PROFILE_JOBS
#                                   (default 1,000,000) queued jobs, up to its first answer
#                                   to /healthz (figure 5's restart)
#   bench/profile.sh callgrind [OUT]
#                                   the submit path under valgrind --tool=callgrind instead of
#                                   perf (instructions, not time; works where perf cannot):
#                                   OUT/callgrind.submit.out and its callgrind_annotate reports
#   bench/profile.sh all [OUT]      submit and e2e (the default)
#
# perf samples the whole machine (-a) on the cpu-clock event with a fixed period: one sample per
# PROFILE_PERIOD_NS (default 2 ms) of CPU time on each CPU, whatever runs there.  So samples x
# period = CPU time, short-lived processes such as the jobs are counted in proportion to the CPU
# they use (a per-process profile misses most of them), and the client's share (wrk) is seen too.
# Call stacks come from DWARF unwinding (--call-graph dwarf), so the default -O2 -g build
# profiles as it is.
#
# OUT (default build/bench-profile) receives NAME.perf.data and two reports:
#   NAME.summary.txt    bench/perf_summary.py: CPU seconds by role (the server's core thread,
#                       its HTTP threads, the agents, the jobs, the client, the rest of the
#                       machine), and for each role the functions where its time goes (self)
#                       and the functions on whose stacks it goes (inclusive)
#   NAME.threads.txt    perf report: samples by process and thread, with counts
# Everything runs on 127.0.0.1 and is stopped at the end.
set -eu
cd "$(dirname "$0")/.."
BARGE=${BARGE:-$PWD/build/barge}
WHAT=${1:-all}
OUT=${2:-$PWD/build/bench-profile}
PERIOD=${PROFILE_PERIOD_NS:-2000000}
# How perf records call stacks: "dwarf,BYTES" (the default, dwarf,16384) unwinds a copy of each
# sample's user stack and works with the default build, but loses the frames above large stack
# buffers (the agent's); "fp" follows frame pointers, for a build made with
# CFLAGS="-O2 -g -fno-omit-frame-pointer", and is cheap and complete within barge's own code
# (docs/performance.md uses it).
CALLGRAPH=${PROFILE_CALLGRAPH:-dwarf,16384}
SECONDS_=${PROFILE_SECONDS:-10}
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/barge-profile.XXXXXX")
PERF_PID=""
SERVER_PID=""

stop() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        # A server started without perf is this shell's child: wait for it to let go of its
        # data directory.
        [ -n "$PERF_PID" ] || wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
    if [ -n "$PERF_PID" ]; then
        wait "$PERF_PID" 2>/dev/null || true
        PERF_PID=""
    fi
}
trap 'stop; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

[ "$WHAT" = callgrind ] || command -v perf >/dev/null ||
    { echo "perf is missing: bench/deps.sh installs linux-perf" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: bench/deps.sh installs it" >&2; exit 1; }

# start NAME [DATA_DIR [PORT [plain]]]: starts `barge server` under perf record, which samples
# the machine until the server exits (with "plain", without perf); sets URL, PERF_PID and
# SERVER_PID.
start() {
    name=$1
    data=${2:-$WORK/$name}
    port=${3:-0}
    : >"$WORK/$name.log"
    if [ "${4:-}" = callgrind ]; then
        valgrind -q --tool=callgrind --callgrind-out-file="$OUT/callgrind.$name.out" \
            "$BARGE" server --dev --listen "127.0.0.1:$port" --data-dir "$data" \
            >"$WORK/$name.log" 2>&1 &
        PERF_PID=""
        SERVER_PID=$!
    elif [ "${4:-}" = plain ]; then
        "$BARGE" server --dev --listen "127.0.0.1:$port" --data-dir "$data" \
            >"$WORK/$name.log" 2>&1 &
        PERF_PID=""
        SERVER_PID=$!
    else
        perf record -q -a -e cpu-clock -c "$PERIOD" --call-graph "$CALLGRAPH" \
            -o "$OUT/$name.perf.data" -- \
            "$BARGE" server --dev --listen "127.0.0.1:$port" --data-dir "$data" \
            >"$WORK/$name.log" 2>&1 &
        PERF_PID=$!
    fi
    URL=""
    for _ in $(seq 1200); do
        URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$WORK/$name.log" | head -n 1)
        [ -n "$URL" ] && break
        sleep 0.05
    done
    [ -n "$URL" ] || { echo "the server did not start:"; cat "$WORK/$name.log"; exit 1; } >&2
    [ -n "$PERF_PID" ] && SERVER_PID=$(pgrep -P "$PERF_PID" | head -n 1)
    return 0
}

api() {
    out=$(curl -sS -X POST "$URL/v1/$1" -H 'Content-Type: application/json' -d "$2")
    case "$out" in *'"__type"'*) echo "$1 failed: $out" >&2; exit 1 ;; esac
    printf '%s' "$out"
}

jobdef() {
    api registerjobdefinition '{"jobDefinitionName": "bench-true", "type": "container",
      "containerProperties": {"image": "busybox", "command": ["true"], "resourceRequirements":
        [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "16"}]}}' >/dev/null
}

# report NAME SERVER_PID [AGENT_PIDS]
report() {
    name=$1
    data="$OUT/$name.perf.data"
    perf report -i "$data" --stdio -g none --no-children --sort comm,pid -n --percent-limit 0.3 \
        2>/dev/null >"$OUT/$name.threads.txt"
    perf script -i "$data" -F comm,pid,tid,ip,sym,dso 2>/dev/null |
        python3 bench/perf_summary.py --server "$2" --agents "${3:-}" --period-ns "$PERIOD" \
            >"$OUT/$name.summary.txt"
    echo "profile $name: $OUT/$name.summary.txt, $OUT/$name.threads.txt"
}

profile_submit() {
    start submit
    api createcomputeenvironment '{"computeEnvironmentName": "hold", "type": "UNMANAGED"}' >/dev/null
    api createjobqueue '{"jobQueueName": "hold", "priority": 1,
      "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "hold"}]}' >/dev/null
    jobdef
    BENCH_QUEUE=hold wrk -t2 -c256 -d"${SECONDS_}s" -s bench/submit.lua "$URL/v1/submitjob" |
        grep '^WRK'
    server=$SERVER_PID
    stop
    report submit "$server"
}

profile_e2e() {
    start e2e
    api createcomputeenvironment '{"computeEnvironmentName": "run", "type": "MANAGED",
      "computeResources": {"type": "EC2", "minvCpus": 0, "maxvCpus": 256,
        "instanceTypes": ["optimal"], "subnets": [], "securityGroupIds": []}}' >/dev/null
    api createjobqueue '{"jobQueueName": "run", "priority": 1,
      "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "run"}]}' >/dev/null
    jobdef
    start_s=$(date +%s.%N)
    # Light polling (one curl a second, parsed with sed) so that the profile is barge's.
    id=$(api submitjob '{"jobName": "e2e", "jobQueue": "run", "jobDefinition": "bench-true",
      "arrayProperties": {"size": 10000}}' | sed -n 's/.*"jobId":"\([^"]*\)".*/\1/p')
    status=""
    for _ in $(seq 600); do
        # The job's own status comes first in its description.
        status=$(api describejobs "{\"jobs\": [\"$id\"]}" |
            grep -o '"status":"[A-Z]*"' | head -n 1 | sed 's/.*:"\(.*\)"/\1/')
        case "$status" in SUCCEEDED|FAILED) break ;; esac
        sleep 1
    done
    echo "e2e: the array ended $status after" \
        "$(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $start_s }") s (under perf)"
    server=$SERVER_PID
    agents=$(pgrep -P "$SERVER_PID" | paste -sd, -)
    stop
    report e2e "$server" "$agents"
}

profile_restart() {
    jobs=${PROFILE_JOBS:-1000000}
    start fill "$WORK/restart" 0 plain
    port=${URL##*:}
    api createcomputeenvironment '{"computeEnvironmentName": "hold", "type": "UNMANAGED"}' >/dev/null
    api createjobqueue '{"jobQueueName": "hold", "priority": 1,
      "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "hold"}]}' >/dev/null
    jobdef
    have=0
    while [ "$have" -lt "$jobs" ]; do
        n=$(BENCH_QUEUE=hold wrk -t2 -c256 -d10s -s bench/submit.lua "$URL/v1/submitjob" |
            sed -n 's/^WRK requests=\([0-9]*\) .* non2xx=\([0-9]*\) .*/\1 \2/p')
        have=$((have + ${n% *} - ${n#* }))
        echo "restart: $have jobs queued"
    done
    stop
    t0=$(date +%s.%N)
    start restart "$WORK/restart" "$port"
    until curl -fsS "$URL/healthz" >/dev/null 2>&1; do sleep 0.01; done
    echo "restart: serving after" \
        "$(awk "BEGIN { printf \"%.2f\", $(date +%s.%N) - $t0 }") s with $have jobs (under perf)"
    server=$SERVER_PID
    stop
    report restart "$server"
}

profile_callgrind() {
    command -v valgrind >/dev/null || { echo "valgrind is missing: bench/deps.sh installs it" >&2; exit 1; }
    start submit "$WORK/callgrind" 0 callgrind
    api createcomputeenvironment '{"computeEnvironmentName": "hold", "type": "UNMANAGED"}' >/dev/null
    api createjobqueue '{"jobQueueName": "hold", "priority": 1,
      "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "hold"}]}' >/dev/null
    jobdef
    # Under callgrind the server runs some fifty times slower: a few thousand submits suffice.
    BENCH_QUEUE=hold wrk -t1 -c16 -d"${SECONDS_}s" -s bench/submit.lua "$URL/v1/submitjob" |
        grep '^WRK'
    stop
    callgrind_annotate "$OUT/callgrind.submit.out" >"$OUT/callgrind.submit.self.txt" 2>/dev/null
    callgrind_annotate --inclusive=yes "$OUT/callgrind.submit.out" \
        >"$OUT/callgrind.submit.inclusive.txt" 2>/dev/null
    echo "callgrind: $OUT/callgrind.submit.self.txt, $OUT/callgrind.submit.inclusive.txt"
}

case "$WHAT" in
submit) profile_submit ;;
callgrind) profile_callgrind ;;
e2e) profile_e2e ;;
restart) profile_restart ;;
all) profile_submit; profile_e2e ;;
*) echo "usage: $0 [submit|e2e|restart|callgrind|all] [OUT]" >&2; exit 2 ;;
esac
