/* scheduler — the scheduler: places RUNNABLE jobs on instances.
 *
 * A pass runs at the end of a core batch in which something changed that may let a job run (a
 * submit, a finished attempt, new capacity, a queue or environment enabled).  Nothing polls. */
#ifndef BARGE_SCHEDULER_H
#define BARGE_SCHEDULER_H

struct state;

/* Runs on the core thread before each commit: a pass if one is needed, then the job writes. */
void sched_after_batch(struct state *st);
/* Runs once a second on the core thread. */
void sched_tick(struct state *st, void *arg);
/* At server stop. */
void sched_shutdown(struct state *st);
#endif
