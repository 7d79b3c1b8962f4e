#!/bin/sh
# fetch_and_run.sh: the entrypoint of AWS Batch's "fetch & run" example image, for barge.
#
# Downloads a script, or a zip file holding scripts, and runs it with the job's arguments:
#
#   BATCH_FILE_TYPE=script  BATCH_FILE_URL=http://host/myjob.sh   fetch_and_run.sh NAME [ARG...]
#       runs myjob.sh with ARG... (NAME names the script, as in AWS's version)
#   BATCH_FILE_TYPE=zip     BATCH_FILE_URL=http://host/myjob.zip  fetch_and_run.sh SCRIPT [ARG...]
#       unpacks myjob.zip into a temporary directory and runs SCRIPT from it with ARG...
#
# AWS's original reads BATCH_FILE_S3_URL and downloads with the AWS CLI.  barge has no S3, so
# the file comes over http(s) instead: BATCH_FILE_URL, or BATCH_FILE_S3_URL when it holds an
# http(s) URL.  The download uses curl when the image has it, busybox's or GNU wget otherwise.
#
# The exit status is the script's.  Errors of use (a missing variable, an unknown type, a file
# that cannot be downloaded or a script missing from the zip) are reported on standard error
# with status 1.  Plain POSIX sh: it runs under busybox sh, dash and bash.
set -u

NAME=fetch_and_run.sh

fail() {
    echo "$NAME: $*" >&2
    exit 1
}

usage() {
    echo "$NAME: $*" >&2
    cat >&2 <<EOF
usage: BATCH_FILE_TYPE=script BATCH_FILE_URL=http(s)://... $NAME SCRIPT-NAME [ARG...]
       BATCH_FILE_TYPE=zip    BATCH_FILE_URL=http(s)://... $NAME SCRIPT [ARG...]
EOF
    exit 1
}

TYPE=${BATCH_FILE_TYPE:-}
URL=${BATCH_FILE_URL:-}
if [ -z "$URL" ] && [ -n "${BATCH_FILE_S3_URL:-}" ]; then
    case "$BATCH_FILE_S3_URL" in
    http://* | https://*) URL=$BATCH_FILE_S3_URL ;;
    s3://*) usage "BATCH_FILE_S3_URL is an s3:// URL ($BATCH_FILE_S3_URL), which is not" \
                  "supported: serve the file over http(s) and set BATCH_FILE_URL to its URL" ;;
    *) usage "BATCH_FILE_S3_URL must be an http:// or https:// URL, not '$BATCH_FILE_S3_URL'" ;;
    esac
fi

[ -n "$TYPE" ] || usage "BATCH_FILE_TYPE is not set: set it to script or zip"
[ -n "$URL" ] || usage "BATCH_FILE_URL is not set: set it to the http(s) URL of the file to run"
case "$URL" in
http://* | https://*) ;;
s3://*) usage "BATCH_FILE_URL is an s3:// URL ($URL), which is not supported: serve the file" \
              "over http(s) and give its URL" ;;
*) usage "BATCH_FILE_URL must be an http:// or https:// URL, not '$URL'" ;;
esac
case "$TYPE" in
script) ;;
zip) [ $# -gt 0 ] || usage "BATCH_FILE_TYPE=zip needs the name of the script to run from the" \
                           "zip as the first argument" ;;
*) usage "BATCH_FILE_TYPE must be script or zip, not '$TYPE'" ;;
esac

WORK=$(mktemp -d "${TMPDIR:-/tmp}/fetch_and_run.XXXXXX") || fail "cannot create a temporary directory"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

FILE=$WORK/batch-file
if command -v curl >/dev/null 2>&1; then
    curl -fsSL -o "$FILE" "$URL" || fail "cannot download $URL (curl exited with $?)"
elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$FILE" "$URL" || fail "cannot download $URL (wget exited with $?)"
else
    fail "neither curl nor wget is installed: the image needs one of them to download $URL"
fi

if [ "$TYPE" = script ]; then
    SCRIPT=$FILE
    # As in AWS's script, the first argument names the script (for the job's own reading) and
    # the others are its arguments.
    [ "$#" -gt 0 ] && shift
else
    command -v unzip >/dev/null 2>&1 || fail "unzip is not installed: the image needs it for BATCH_FILE_TYPE=zip"
    { mkdir "$WORK/zip" && cd "$WORK/zip"; } || fail "cannot create a directory for the zip's contents"
    unzip -q "$FILE" || fail "cannot unpack the zip file from $URL"
    SCRIPT=./$1
    shift
    [ -f "$SCRIPT" ] || fail "the zip file from $URL holds no script '${SCRIPT#./}'"
fi
chmod u+x "$SCRIPT" || fail "cannot make $SCRIPT executable"

# The script runs as a child rather than in this shell's place, so that the temporary directory
# is removed when it ends.  In a container this shell is process 1, which the kernel shields
# from signals it does not handle: SIGTERM (barge's terminate, cancel and timeout) is therefore
# caught here and passed on to the script.
# (Its standard input is /dev/null, as a batch job's is.)
CHILD=""
trap '[ -z "$CHILD" ] || kill -TERM "$CHILD" 2>/dev/null' TERM INT HUP
"$SCRIPT" "$@" &
CHILD=$!
STATUS=0
wait "$CHILD" || STATUS=$?
# A caught signal interrupts wait; wait again until the script itself has ended.
while kill -0 "$CHILD" 2>/dev/null; do
    STATUS=0
    wait "$CHILD" || STATUS=$?
done
exit "$STATUS"
