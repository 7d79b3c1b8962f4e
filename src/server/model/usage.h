/* usage — what a job's attempts reserved and used, read back from the attempts as recorded
 * (engine/attempt.c writes each attempt's barge.usage) and summed: a description's barge.usage
 * and GetUsage's sums.
 *
 * An array's children (a multi-node job's nodes) are summed as each of their attempts is
 * recorded, into their parent, so that describing the parent reads one sum: adding up 100,000
 * children's attempts at each description held the core for tens of milliseconds, and a client
 * following an array (barge run, barge watch, the console) describes it several times a
 * second. */
#ifndef BARGE_USAGE_H
#define BARGE_USAGE_H
#include <jansson.h>
#include <stdint.h>

#include "server/model/job.h"

/* The member of a recorded attempt that holds barge's own facts about it (its usage among
 * them). */
#define ATTEMPT_BARGE "barge"


/* Adds u to sum, in whole units: a sum of many jobs is exact too (seconds added as doubles
 * came back as 0.24248999999999998). */
void usage_add(job_usage *sum, const job_usage *u);
/* j's own attempts summed. */
job_usage usage_of_job(const job *j);
/* The same of the attempts that ended (stoppedAt, epoch ms) from `from` up to, not including,
 * `to`: each attempt in exactly one of adjacent windows, so that their sums add up. */
job_usage usage_ended(const job *j, int64_t from, int64_t to);
/* An array's or a multi-node job's children's attempts summed (all zero before the first). */
job_usage usage_of_children(const job *parent);
/* A child's attempt is now in its attempts (recorded at its end, or loaded): adds it to the
 * parent's sum.  Each attempt is added once. */
void usage_child_attempt(job *child, const json_t *attempt);
#endif
