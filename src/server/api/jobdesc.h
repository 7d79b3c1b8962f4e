/* jobdesc — a job as DescribeJobs and ListJobs show it (AWS's JobDetail and JobSummary). */
#ifndef BARGE_JOBDESC_H
#define BARGE_JOBDESC_H
#include <jansson.h>

#include "common/mem.h"
#include "server/model/job.h"

struct state;

/* The DescribeJobs description (fresh). */
json_t *jobdesc_describe(struct state *st, job *j);
/* The same description as JSON text, for events: what it says whatever the event's status
 * (every member but status and statusReason, without the braces) appended to out by
 * jobdesc_event_rest; and the detail appended by jobdesc_event_detail from that rest, with
 * status in place of the job's own (and no statusReason unless the job's shown status is that
 * status).  Events describe the job as it is when they are read unless it has moved on since
 * (as_of below), so a job's events read in one core turn (a submit's PENDING and RUNNABLE) can
 * share one rest. */
/* An event read after its job moved on (another status, or more attempts ended since) is
 * described as the job was then, as far as the job still says: its status then, and of its
 * attempts only those that had ended (ended, -1 when not known), with the times, exit code and
 * log stream of that moment.  NULL: the job as it is. */
typedef struct jobdesc_as_of {
    int status;
    int ended;
} jobdesc_as_of;
void jobdesc_event_rest(struct state *st, job *j, const jobdesc_as_of *as_of, buf *out);
void jobdesc_event_detail(struct state *st, job *j, int status, const char *rest,
                          size_t rest_len, buf *out);
/* The ListJobs summary (fresh). */
json_t *jobdesc_summary(struct state *st, job *j);
#endif
