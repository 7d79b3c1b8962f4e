/* container_rlimits — a container's resource limits (the OCI configuration's process.rlimits)
 * from its job's ulimits.
 *
 * runc sets them from its parent process, outside the container's user namespace, with the
 * agent's privileges: with CAP_SYS_RESOURCE any value the kernel takes (nofile at most
 * fs.nr_open), without it no hard limit above the agent's own.  A ulimit asked above that is
 * given as the most that can be, and said (Docker's daemon would fail the start with "operation
 * not permitted"; a job that asked for room it cannot have runs with what there is, and its log
 * says so).  A limit of -1 is unlimited (ECS's and Docker's `memlock=-1`). */
#ifndef BARGE_CONTAINER_RLIMITS_H
#define BARGE_CONTAINER_RLIMITS_H
#include <jansson.h>
#include <stddef.h>

/* The value config.json holds for an unlimited ulimit: RLIM_INFINITY, 2^64-1, is beyond a JSON
 * integer of jansson's, so the rlimits carry this marker and container_rlimits_text writes the
 * number in its place. */
#define CONTAINER_RLIM_UNLIMITED (-1)

/* The rlimits for ulimits (the job's list, may be NULL); may_raise: whether the agent holds
 * CAP_SYS_RESOURCE.  What was lowered is said in said (one sentence, "" when nothing was). */
json_t *container_rlimits(const json_t *ulimits, int may_raise, char *said, size_t said_len);

/* Whether this process holds CAP_SYS_RESOURCE in its effective set. */
int container_may_raise_rlimits(void);

/* config's text with each unlimited marker of an rlimit written as 18446744073709551615; an
 * allocated string, or NULL when it cannot be dumped. */
char *container_rlimits_text(const json_t *config);
#endif
