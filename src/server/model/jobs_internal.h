/* jobs_internal — what jobs.c shares with jobs_store.c, jobs_shares.c and jobs_nodes.c and
 * nothing else. */
#ifndef BARGE_JOBS_INTERNAL_H
#define BARGE_JOBS_INTERNAL_H
#include "server/model/jobs.h"

job *jobs__alloc(jobspec *spec, char *id, int64_t now, uint64_t seq);
void jobs__make_children(job *p, int64_t now);
void jobs__list(jq_rt *q, job *j);
/* Every change of a listed job's status goes through here, which keeps its queue's n_status. */
void jobs__status(jobs *js, job *j, int status);
/* A child of p moves from one status to another in p's summary.  A multi-node job is shown
 * with its nodes' progress while it is PENDING (jobs_shown_status), so its queue's n_status,
 * which counts jobs as ListJobs shows them, moves with it (jobs_queues.c). */
void jobs__summary_move(jobs *js, job *p, int from, int to);
void jobs__enter_lifecycle(struct state *st, job *j, json_t *deps);
/* A reloaded job that no longer waits (it has ended, or started): listed among the dependents
 * of the jobs it waited for, as it was before the restart. */
void jobs__list_told(struct state *st, job *j, json_t *deps);
void jobs__free_job(job *j);
void jobs__free_shares(jq_rt *q); /* jobs_shares.c */
/* jobs_shares.c: a listed job of a fair-share queue begins (delta 1) or ends (-1) to count in
 * its share's n_live. */
void jobs__share_live(jq_rt *q, const job *j, int delta);
void jobs__free_queue(jq_rt *q);  /* jobs_queues.c */
/* A RUNNABLE job into its queue's (or share's) list, in order. */
void jobs__rq_insert(jobs *js, job *j);
/* Sets a reason (a fresh copy, or NULL), unchanged when it is the same text. */
void jobs__set_reason(char **slot, const char *reason);
/* jobs_nodes.c: whether a node of multi-node job p is starting or running; and what p becomes
 * once all its nodes have ended. */
int jobs__nodes_started(const job *p);
void jobs__nodes_done(struct state *st, job *p);
#endif
