/* explain — why a RUNNABLE job is not placed, in concrete terms.
 *
 * AWS Batch users' most common complaint is a job stuck in RUNNABLE without a reason; barge
 * names the queue or environment that is disabled, the requirement no instance can meet, the
 * instances still starting, or the capacity in use.  Runs on the core thread. */
#ifndef BARGE_EXPLAIN_H
#define BARGE_EXPLAIN_H
#include "server/model/job.h"

struct state;

/* The reason codes AWS gives a job that cannot run, which queues' jobStateTimeLimitActions
 * match (engine/timelimit.c); the statusReason starts with the code, then " - " and barge's
 * sentence. */
typedef enum explain_code {
    EXPLAIN_NONE,                  /* waiting its turn, or for something an operator is doing */
    EXPLAIN_CE_MAX_RESOURCE,       /* over every environment's maxvCpus */
    EXPLAIN_JOB_REQUIREMENT,       /* no instance any environment can have fits it */
    EXPLAIN_INSUFFICIENT_CAPACITY, /* instances are asked for and cannot be had */
} explain_code;
const char *explain_code_name(explain_code code); /* NULL for EXPLAIN_NONE */

/* A fresh string. */
char *explain_runnable(struct state *st, const job *j);
char *explain_runnable_code(struct state *st, const job *j, explain_code *code);
#endif
