/* jobs — every job in memory, their lifecycle, dependencies and persistence.
 *
 * All functions run on the core thread.  A change marks the job dirty; jobs_flush writes every
 * dirty job once at the end of the core's batch, inside its transaction, so a job that moves
 * through several states in one batch costs one write. */
#ifndef BARGE_JOBS_H
#define BARGE_JOBS_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dict.h"
#include "server/model/job.h"

struct state;

/* A queue's jobs: the RUNNABLE ones in order, and all parents and plain jobs for ListJobs. */
typedef struct jq_rt {
    char *name;
    job *rq_head, *rq_tail;
    uint32_t n_runnable;
    job **all;
    size_t n_all, cap_all;
} jq_rt;

typedef struct jobs {
    dict by_id;  /* plain jobs and array parents */
    dict queues; /* queue name -> jq_rt */
    uint64_t next_seq;
    job *dirty_head;
    int sched_needed; /* something changed that may let a job be placed */
    /* Jobs that have ended and whose dependents are still to be told (jobs.c). */
    job **ended;
    size_t n_ended, cap_ended;
    int resolving;
} jobs;

jobs *jobs_new(void);
void jobs_free(jobs *js);

/* A job by id: "UUID" or "UUID:INDEX"; NULL if unknown. */
job *jobs_find(jobs *js, const char *id);
jq_rt *jobs_queue(jobs *js, const char *name); /* created on first use */

/* Creates a plain job or an array (children included) from a spec (whose reference it takes)
 * and enters it into the lifecycle.  deps is the request's dependsOn (validated). */
job *jobs_create(struct state *st, jobspec *spec, const char *id, uint32_t array_size,
                 json_t *deps, int64_t now);

/* Lifecycle.  reason may be NULL. */
void jobs_set_status(struct state *st, job *j, int status, const char *reason);
/* CancelJob and TerminateJob; terminate also stops STARTING and RUNNING attempts. */
void jobs_cancel(struct state *st, job *j, const char *reason, int terminate);
/* DeleteJobQueue: AWS terminates every job of a deleted queue that has not finished. */
void jobs_queue_deleted(struct state *st, const char *queue);

/* The attempt's outcome, as the agent (or the loss of its instance) reports it. */
typedef struct attempt_end {
    int has_exit_code;
    int exit_code;
    const char *status_reason; /* e.g. "Essential container in task exited" */
    const char *reason;        /* container reason, e.g. the OOM message; may be NULL */
    int uncharged; /* an operator's clean stop interrupted it: recorded, not counted, requeued */
} attempt_end;
void jobs_attempt_running(struct state *st, job *j, int64_t at);
void jobs_attempt_end(struct state *st, job *j, const attempt_end *e, int64_t at);

void jobs_mark_dirty(struct state *st, job *j);
/* Writes every dirty job to the store. */
void jobs_flush(struct state *st);
/* Rebuilds every job from the store; attempts that were running end as their instance lost. */
int jobs_load(struct state *st, char **err);

/* The DescribeJobs description (fresh). */
json_t *jobs_describe(struct state *st, job *j);
/* The ListJobs summary (fresh). */
json_t *jobs_summary(job *j);
#endif
