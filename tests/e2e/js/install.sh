#!/bin/sh
# Installs the AWS SDK for JavaScript v3 pinned by package-lock.json into DIR (default build/js),
# for the signature tests (tests/e2e/test_auth.py).  Idempotent: an install that matches the lock
# file is kept.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$here/../../../build/js}
mkdir -p "$dir"
if [ -f "$dir/node_modules/.package-lock.json" ] && cmp -s "$here/package-lock.json" "$dir/package-lock.json"; then
    exit 0
fi
cp "$here/package.json" "$here/package-lock.json" "$dir/"
cd "$dir"
npm ci --no-audit --no-fund --silent
