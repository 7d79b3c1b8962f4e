#!/bin/sh
# Builds the console: installs the npm packages pinned by package-lock.json into DIR (once: an
# install that matches the lock file is kept), bundles src/ with esbuild into DIR/dist, and
# writes the files as C initializers to INC, which src/server/http_console.c includes.
# usage: console/build.sh DIR INC   (make runs it: DIR is $(BUILD)/console)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir=$1
inc=$2
mkdir -p "$dir" "$(dirname "$inc")"
if ! [ -f "$dir/node_modules/.package-lock.json" ] || ! cmp -s "$here/package-lock.json" "$dir/package-lock.json"; then
    command -v npm >/dev/null 2>&1 || { echo "console: npm is missing (scripts/deps.sh installs it)" >&2; exit 1; }
    cp "$here/package.json" "$here/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --no-audit --no-fund --silent)
fi
# build.mjs imports esbuild: it runs beside the packages it needs.
cp "$here/build.mjs" "$dir/build.mjs"
node "$dir/build.mjs" "$here/src" "$dir/dist" "$inc"
