/* jobdef_host — the rules for the container members that reach into the instance a job runs
 * on: privileged, the user, volumes and their mount points, Linux devices and tmpfs mounts.
 *
 * On AWS, ECS honours these members; on barge the agent hands them to runc on an instance the
 * operator owns, so what the agent could not honour, or what the operator has not allowed, is
 * refused when the definition is registered rather than failing every attempt. */
#ifndef BARGE_JOBDEF_HOST_H
#define BARGE_JOBDEF_HOST_H
#include <jansson.h>

#include "server/api/api.h"

/* Checks those members of the container cp (a job definition's containerProperties, or a
 * multi-node range's container), whose path is field.  fargate: the definition runs on Fargate
 * resources, where host volumes, devices and privileged containers do not apply.  Returns 0, or
 * -1 through api_client_error naming the member and what to do. */
int jobdef_check_host(api_ctx *c, json_t *cp, int fargate, const char *field);

/* Whether this server may run jobs of the stored definition def (named ref in the request): a
 * definition registered with a privileged container while --allow-privileged was given is
 * refused at SubmitJob once the server runs without it.  Returns 0, or -1 through
 * api_client_error. */
int jobdef_check_host_allows(api_ctx *c, json_t *def, const char *ref);

/* Whether user is one of the forms `name`, `uid`, `name:group` or `uid:gid` (a name and a
 * number may be mixed, as Docker allows).  Names hold letters, digits, '.', '_' and '-', do not
 * start with '-', and may end with '$' after at least one other character; numbers are 0 to
 * 4294967294. */
int jobdef_user_valid(const char *user);
#endif
