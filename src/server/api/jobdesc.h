/* jobdesc — a job as DescribeJobs and ListJobs show it (AWS's JobDetail and JobSummary). */
#ifndef BARGE_JOBDESC_H
#define BARGE_JOBDESC_H
#include <jansson.h>

#include "server/model/job.h"

struct state;

/* The DescribeJobs description (fresh). */
json_t *jobdesc_describe(struct state *st, job *j);
/* The ListJobs summary (fresh). */
json_t *jobdesc_summary(job *j);
#endif
