#!/bin/sh
# Installs what the benchmarks need on Debian 12, beside what scripts/deps.sh installs for the
# build: wrk (HTTP load), slurm-wlm and munge (the single-node Slurm that figure 3 compares
# with), linux-perf and valgrind (bench/profile.sh), python3 (bench/run.py, standard library
# only), podman (bench/container_tools.py compares its `podman run` with runc's; barge itself
# runs containers without it).  The tests never need these.
set -eu
exec "$(dirname "$0")/../scripts/deps.sh" wrk slurm-wlm munge linux-perf valgrind python3 podman
