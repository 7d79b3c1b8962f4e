/* attempt_meta — what an attempt's job reads from ECS's task metadata endpoint (version 4), as
 * a container of an AWS Batch job reads it from $ECS_CONTAINER_METADATA_URI_V4: its task's ARN
 * and cluster, its container's image, limits, labels and log options (the stream the awslogs
 * driver writes to), the networks it is on.  Jobs use it to find their own task id and log
 * stream.  The agent serves it (agent/agent_creds.h), asking the server for it
 * (api/agent_creds.c) the first time its job asks.
 *
 * Only what barge knows is said: no Docker ids, availability zone or VPC, and no statistics. */
#ifndef BARGE_ATTEMPT_META_H
#define BARGE_ATTEMPT_META_H
#include <jansson.h>

#include "server/model/instance.h"
#include "server/model/job.h"

struct state;

/* The task metadata of j's attempt starting on in (its stream and compute environment set),
 * with its one container in Containers[]: fresh. */
json_t *attempt_meta_make(struct state *st, const instance *in, const job *j, json_t *image);
#endif
