/* agent_assign — an assignment from the server (docs/agent-protocol.md, "Exchange") read into
 * the attempt it asks this agent to run.
 *
 * Only reading: nothing is held, queued or started here (agent_exchange.c does that), so that
 * what the server sends can be checked and fuzzed apart from the threads that act on it.  The
 * server's numbers are clamped before they are narrowed, and its strings are copied. */
#ifndef BARGE_AGENT_ASSIGN_H
#define BARGE_AGENT_ASSIGN_H
#include <jansson.h>
#include <stddef.h>

#include "agent/executor.h"

/* The attempt number an assignment or a kill order may carry, at most (the server's own
 * bound, docs/agent-protocol.md). */
#define AGENT_ASSIGN_ATTEMPT_MAX 1000000

/* The job and attempt number that assignment or kill order a names: 0, or -1 when it names no
 * job or no attempt from 1 to AGENT_ASSIGN_ATTEMPT_MAX.  *job points into a. */
int agent_assign_ids(json_t *a, const char **job, int *attempt);

/* The attempt assignment a asks for (a names it: agent_assign_ids), its environment with room
 * for extra entries more, their number now in *nenv.  When it must fail before anything runs (a
 * secret or a role the server could not value, a role when roles is 0: this agent cannot serve
 * its credentials, a command that is not a list of strings),
 * *failure says why, as its FAILED_TO_START report gives it, and only the spec's ids and log
 * stream are set; else *failure is NULL.  max_pids is not the server's to say: it stays 0. */
exec_spec *agent_assign_read(json_t *a, int roles, size_t extra, size_t *nenv,
                             const char **failure);

/* Whether envp (n entries) sets name. */
int agent_assign_env_has(char *const *envp, size_t n, const char *name);
#endif
