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
    /* STARTING and RUNNING jobs as loaded, in submit order, until the engine has put them back
     * on their instances or ended their attempts (engine/attempt.c, attempt_recover). */
    job **loaded_started;
    size_t n_loaded_started;
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

/* Lifecycle.  reason may be NULL.  Only the transitions AWS Batch allows are made; any other
 * breaks an invariant (jobs_transition_allowed). */
void jobs_set_status(struct state *st, job *j, int status, const char *reason);
int jobs_transition_allowed(int from, int to);
/* CancelJob and TerminateJob as far as the lifecycle goes: waiting jobs fail (a PENDING one once
 * its dependencies complete); with terminate, a started job is marked terminated, and stopping
 * its attempt is the engine's part (engine/attempt.c, attempt_cancel). */
void jobs_cancel(struct state *st, job *j, const char *reason, int terminate);
/* An attempt of j started (at j->started_at): an array parent started with its first child. */
void jobs_note_started(struct state *st, job *j);

void jobs_mark_dirty(struct state *st, job *j);
/* Writes every dirty job to the store. */
void jobs_flush(struct state *st);
/* Rebuilds every job from the store.  Jobs that were STARTING or RUNNING are listed in
 * loaded_started for the engine. */
int jobs_load(struct state *st, char **err);
#endif
