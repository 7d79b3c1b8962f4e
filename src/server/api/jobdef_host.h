/* jobdef_host — the rules for the container members that reach into the instance a job runs
 * on: privileged, volumes and their mount points, Linux devices and tmpfs mounts.
 *
 * On AWS, ECS honours these members; on barge the agent hands them to runc on an instance the
 * operator owns, so they have their own rules, kept apart from the rest of a definition's. */
#ifndef BARGE_JOBDEF_HOST_H
#define BARGE_JOBDEF_HOST_H
#include <jansson.h>

#include "server/api/api.h"

/* Checks those members of the container cp (a job definition's containerProperties, or a
 * multi-node range's container), whose path is field.  fargate: the definition runs on Fargate
 * resources, where host volumes, devices and privileged containers do not apply.  Returns 0, or
 * -1 through api_client_error naming the member and what to do. */
int jobdef_check_host(api_ctx *c, json_t *cp, int fargate, const char *field);
#endif
