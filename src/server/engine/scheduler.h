/* scheduler — places RUNNABLE jobs on instances.
 *
 * Queue priority across queues, computeEnvironmentOrder inside a queue, first in first out
 * inside a queue, and a job only where its vCPUs, memory and GPUs fit.  A pass runs before the
 * commit of a core batch in which something changed that may let a job run (a submit, a finished
 * attempt, new capacity, a queue or environment enabled: jobs.sched_needed).  Nothing polls. */
#ifndef BARGE_SCHEDULER_H
#define BARGE_SCHEDULER_H

struct state;

/* A pass, if one is needed.  Runs on the core thread. */
void sched_pass(struct state *st);
#endif
