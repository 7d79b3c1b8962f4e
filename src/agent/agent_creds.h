/* agent_creds — the endpoint the agent runs for its jobs, as the ECS agent does for tasks: the
 * credentials of a job's role, and every job's task metadata and statistics (agent_creds_add,
 * task_stats.h).
 *
 * An attempt whose assignment carries jobRoleArn gets, in its environment,
 * AWS_CONTAINER_CREDENTIALS_FULL_URI (a loopback URL of this agent: the AWS SDKs accept only
 * loopback over plain HTTP) and AWS_CONTAINER_AUTHORIZATION_TOKEN (a random token of its own,
 * which the endpoint requires in the Authorization header), so that the SDKs' default credential
 * chain finds its role's credentials with no key in the job's environment; and the endpoints of
 * AWS Batch and CloudWatch Logs (AWS_ENDPOINT_URL_BATCH, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: the
 * server this agent speaks to) and, for an https server verified with --ca-file, AWS_CA_BUNDLE,
 * unless the job's environment sets them already.  Only those two services' endpoints are set:
 * the global AWS_ENDPOINT_URL would send the job's calls to S3 and every other service to barge.
 *
 * The endpoint answers GET with the ECS shape ({AccessKeyId, SecretAccessKey, Token,
 * Expiration, RoleArn}), from the server's credentials call (docs/agent-protocol.md).  It asks
 * the server for the first credentials when the job first asks, and for new ones once those
 * served have lived half their life, so that a job always gets credentials with at least half
 * their life ahead.  The attempt's entry goes when the attempt ends; the server revokes its
 * credentials then too.
 *
 * The endpoint runs on threads of its own (libmicrohttpd, one per connection); its table has a
 * mutex of its own, and any thread may add and drop attempts. */
#ifndef BARGE_AGENT_CREDS_H
#define BARGE_AGENT_CREDS_H
#include <stddef.h>

#include "agent/executor.h"

struct agent;
typedef struct agent_creds agent_creds;

/* The environment variables agent_creds_add may add. */
#define AGENT_CREDS_ENV_MAX 7

/* Starts the endpoint on 127.0.0.1 (a port the system picks).  NULL with a sentence in err when
 * it cannot: jobs with a role then fail to start, saying why. */
agent_creds *agent_creds_start(struct agent *ag, char *err, size_t errlen);
void agent_creds_stop(agent_creds *cr);

/* Registers attempt (job_id, attempt), any attempt, and adds its variables to envp, which has
 * *n entries and room for AGENT_CREDS_ENV_MAX more: its task metadata's URLs (ECS's endpoint,
 * version 4 and 3's ECS_CONTAINER_METADATA_URI: GET ID for its container's, ID/task for its
 * task's, asked of the server the first time, api/agent_creds.c; ID/stats and ID/task/stats
 * once it runs, agent_creds_running), and with role_arn (else NULL)
 * its role's credentials.  Returns the CA bundle that AWS_CA_BUNDLE names (a container must see
 * it), or NULL. */
const char *agent_creds_add(agent_creds *cr, const char *job_id, int attempt,
                            const char *role_arn, char **envp, size_t *n);
/* The attempt runs, where st says: its statistics (ID/stats, ID/task/stats) may be read.
 * Unknown attempts are fine. */
void agent_creds_running(agent_creds *cr, const char *job_id, int attempt,
                         const exec_started *st);
/* The attempt has ended: its token and its metadata's URL no longer open the endpoint.  Unknown
 * attempts are fine. */
void agent_creds_drop(agent_creds *cr, const char *job_id, int attempt);
#endif
