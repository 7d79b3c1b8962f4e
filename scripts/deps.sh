#!/bin/sh
# Installs what barge needs to build and test on Debian 12, and nothing else.  Idempotent: when
# every package is already present it only checks.  Extra package names given as arguments are
# installed too (bench/deps.sh adds the benchmarks' own).
set -eu

# Build: compiler, make, pkg-config and the libraries barge links.
# Tests: Python with boto3 and the AWS CLI (the machine image's own Python has them; Debian's
# python3-boto3 and awscli are the fallback).
PACKAGES="gcc make pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev libcurl4-openssl-dev
          libssl-dev curl $*"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if ! python3 -c "import boto3" 2>/dev/null; then missing="$missing python3-boto3"; fi
if ! command -v aws >/dev/null 2>&1; then missing="$missing awscli"; fi

if [ -n "$missing" ]; then
    echo "deps: installing$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -q $missing >/dev/null 2>&1 || {
        $SUDO apt-get update -q >/dev/null
        $SUDO apt-get install -y -q $missing
    }
fi
echo "deps: all present"
