#!/bin/sh
# barge's benchmarks: `make bench` runs this after building build/barge.
#
#   bench/run.sh                    every figure (about 18 minutes; figure 5 with 1,000,000 queued)
#   bench/run.sh --only scale --scale-jobs 100000   figure 5 with a smaller queue
#   bench/run.sh --only submit,e2e  some figures (submit, array, e2e, latency, scale, containers)
#   bench/run.sh --only containers --containers-smoke   figure 6 small, in about 10 seconds
#   bench/run.sh --help             every option
#
# BARGE names the binary to measure (default build/barge).  The table goes to stdout, and to
# bench/results/latest.md when every figure ran.  See bench/README.md.
set -eu
cd "$(dirname "$0")/.."
export BARGE="${BARGE:-$PWD/build/barge}"
[ -n "${BENCH_NO_DEPS:-}" ] || ./bench/deps.sh
exec python3 bench/run.py "$@"
