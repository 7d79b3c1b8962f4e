/* jobdesc — a job as DescribeJobs and ListJobs show it (AWS's JobDetail and JobSummary). */
#ifndef BARGE_JOBDESC_H
#define BARGE_JOBDESC_H
#include <jansson.h>

#include "common/mem.h"
#include "server/model/job.h"

struct state;

/* The DescribeJobs description (fresh). */
json_t *jobdesc_describe(struct state *st, job *j);
/* The same description as JSON text appended to out, with status in place of the job's own
 * (and no statusReason unless the job's shown status is that status): an event's detail. */
void jobdesc_event_detail(struct state *st, job *j, int status, buf *out);
/* The ListJobs summary (fresh). */
json_t *jobdesc_summary(job *j);
#endif
