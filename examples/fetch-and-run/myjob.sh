#!/bin/sh
# A job for fetch_and_run.sh: says where it runs and with which arguments.  Sleeps for the
# number of seconds in $SLEEP_SECONDS first, if set.
echo "myjob.sh: arguments: $*"
echo "myjob.sh: job $AWS_BATCH_JOB_ID, attempt $AWS_BATCH_JOB_ATTEMPT, queue $AWS_BATCH_JQ_NAME, compute environment $AWS_BATCH_CE_NAME"
echo "myjob.sh: running as $(id -un) in $(pwd)"
sleep "${SLEEP_SECONDS:-0}"
echo "myjob.sh: done"
