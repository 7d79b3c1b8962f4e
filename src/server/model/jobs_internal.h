/* jobs_internal — what jobs.c shares with jobs_store.c and jobs_shares.c and nothing else. */
#ifndef BARGE_JOBS_INTERNAL_H
#define BARGE_JOBS_INTERNAL_H
#include "server/model/jobs.h"

job *jobs__alloc(jobspec *spec, char *id, int64_t now, uint64_t seq);
void jobs__make_children(job *p, int64_t now);
void jobs__list(jq_rt *q, job *j);
/* Every change of a listed job's status goes through here, which keeps its queue's n_status. */
void jobs__status(jobs *js, job *j, int status);
void jobs__enter_lifecycle(struct state *st, job *j, json_t *deps);
void jobs__free_job(job *j);
void jobs__free_shares(jq_rt *q); /* jobs_shares.c */
void jobs__free_queue(jq_rt *q);  /* jobs_queues.c */
#endif
