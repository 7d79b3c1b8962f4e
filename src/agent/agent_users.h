/* agent_users — who an agent's attempts run as on the host: the process executor's user
 * (--job-user), or a uid of its own for each attempt (--job-uids, job_uids.h); the containers'
 * user namespace (--container-userns, --container-id-map); and the work directory opened to
 * them, so that they can reach their attempts' directories below it. */
#ifndef BARGE_AGENT_USERS_H
#define BARGE_AGENT_USERS_H
#include "common/idmap.h"
#include "agent/agent_state.h"

/* The user namespace of containers: none with --container-userns off, else the mapping of
 * --container-id-map or the default one.  0, or -1 after saying why. */
int agent_setup_userns(agent *ag, idmap *ids);
/* Who process-executor attempts run as (after the backend is chosen).  0, or -1 after saying
 * why. */
int agent_setup_job_user(agent *ag);
#endif
