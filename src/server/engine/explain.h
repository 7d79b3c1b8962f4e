/* explain — why a RUNNABLE job is not placed, in concrete terms.
 *
 * AWS Batch users' most common complaint is a job stuck in RUNNABLE without a reason; barge
 * names the queue or environment that is disabled, the requirement no instance can meet, the
 * instances still starting, or the capacity in use.  Runs on the core thread. */
#ifndef BARGE_EXPLAIN_H
#define BARGE_EXPLAIN_H
#include "server/model/job.h"

struct state;

/* A fresh string. */
char *explain_runnable(struct state *st, const job *j);
#endif
