/* fairshare — which job of a fair-share queue the scheduler tries next, as AWS Batch's fair-share
 * scheduling policies say.
 *
 * A share's claim is its usage (shares.h: decayed vCPU-seconds) plus what its running attempts
 * would add over one decay period, times its weightFactor: the share with the smallest claim is
 * served next, so a share of weight 1 receives three times the capacity of a share of weight 3
 * while both have work.  Within a share, jobs go by schedulingPriority, then submit order (the
 * share's list keeps them so).  computeReservation holds back (reservation/100)^active of the
 * queue's maximum vCPUs for shares that are not active yet.  The policy is read at every pass,
 * so UpdateSchedulingPolicy applies to the jobs already queued.  Core thread only. */
#ifndef BARGE_FAIRSHARE_H
#define BARGE_FAIRSHARE_H
#include <stdint.h>

#include "server/model/job.h"
#include "server/model/resource.h"

struct state;
typedef struct fs_pass fs_pass;

/* A pass over q's shares; NULL when q has none with RUNNABLE jobs. */
fs_pass *fairshare_begin(struct state *st, jq_rec *q, int64_t now_ms);
/* The next job to try, or NULL when every share is done for this pass. */
job *fairshare_next(fs_pass *p);
/* What became of the job fairshare_next gave: placed (its share's claim grows) or not (the
 * share's next job is tried; after too many misses the share waits for the next pass). */
void fairshare_result(fs_pass *p, int placed);
/* Whether the queue may take j now under its computeReservation. */
int fairshare_room(const fs_pass *p, const job *j);
void fairshare_end(fs_pass *p);

/* The order q's shares' jobs would be tried in if each were placed in turn (the front of the
 * queue GetJobQueueSnapshot shows): up to max of them into out; returns how many. */
size_t fairshare_front(struct state *st, jq_rec *q, const job **out, size_t max,
                       int64_t now_ms);

/* Why j waits, when q's computeReservation is what holds it back (a fresh sentence), else NULL. */
char *fairshare_explain(struct state *st, jq_rec *q, const job *j);

/* A share's weightFactor under a scheduling policy's description (an exact shareIdentifier,
 * else the longest matching prefix entry "PREFIX*", else 1). */
double fairshare_weight(json_t *policy, const char *share);
#endif
