#!/bin/sh
# Installs what the benchmarks need on Debian 12, beside what scripts/deps.sh installs for the
# build: wrk (HTTP load), slurm-wlm and munge (the single-node Slurm that figure 3 compares
# with), linux-perf and valgrind (bench/profile.sh), python3 (bench/run.py, standard library
# only).  The tests never need these.  Idempotent: when every package is present it only checks.
set -eu

PACKAGES="wrk slurm-wlm munge linux-perf valgrind"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
command -v python3 >/dev/null 2>&1 || missing="$missing python3"

if [ -n "$missing" ]; then
    echo "bench deps: installing$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -q $missing >/dev/null 2>&1 || {
        $SUDO apt-get update -q >/dev/null
        $SUDO apt-get install -y -q $missing
    }
fi
echo "bench deps: all present"
