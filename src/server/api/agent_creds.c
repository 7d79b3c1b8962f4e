/* agent_creds — the agent protocol's calls on behalf of an attempt's job (docs/agent-protocol.md),
 * which the agent serves to the job on its own endpoint: temporary credentials of the attempt's
 * role (attempt_role: its job's, or its instance's; auth_temp.h issues them), and the task
 * metadata of ECS's endpoint (attempt_meta.h).  Apart from agent_proto.c: the only thing the two
 * share is how an instance is found (api_agent_instance, from the request's credential). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "common/mem.h"
#include "server/model/instance.h"
#include "server/model/jobs.h"
#include "server/model/role_creds.h"
#include "server/model/state.h"
#include "server/api/api.h"
#include "server/api/auth_temp.h"
#include "server/engine/attempt.h"
#include "server/engine/attempt_meta.h"
#include "server/model/jobspec.h"

/* The job of the attempt the request names, when the asking instance runs it, or NULL (the call
 * failed). */
static job *running_here(api_ctx *c, json_t *req, instance **in)
{
    *in = api_agent_instance(c, req, NULL);
    if (!*in) return NULL;
    const char *id = api_str(req, "jobId");
    int attempt = (int)api_int(req, "attempt", 0);
    job *j = jobs_find(c->st->jobs, id);
    /* Only the instance running the attempt, and only while it runs: what the job is given
     * goes to it, never to another agent. */
    if (!j || j->inst != *in || j->n_attempts != attempt ||
        (j->status != JS_STARTING && j->status != JS_RUNNING)) {
        api_fail(c, 403, "AccessDeniedException",
                 "attempt %d of job %.100s is not running on instance %s", attempt, id, (*in)->id);
        return NULL;
    }
    return j;
}

static int agent_task_metadata(api_ctx *c, json_t *req, json_t **resp)
{
    instance *in;
    job *j = running_here(c, req, &in);
    if (!j) return -1;
    *resp = attempt_meta_make(c->st, in, j,
                              json_object_get(jobspec_shared(j->spec, "container"), "image"));
    return 0;
}

static int agent_credentials(api_ctx *c, json_t *req, json_t **resp)
{
    instance *in;
    job *j = running_here(c, req, &in);
    if (!j) return -1;
    const char *id = j->id;
    int attempt = (int)j->n_attempts;
    char role_arn[ATTEMPT_ROLE_MAX];
    int by_instance;
    const char *role = attempt_role(j, in, role_arn, &by_instance);
    if (!role)
        return api_fail(c, 403, "AccessDeniedException",
                        "job %.100s has no jobRoleArn, nor an instance role jobs may assume: "
                        "its attempts get no credentials", id);
    /* The role session is named after the attempt's task, as ECS names it (the log stream ends
     * with the task's id); an instance role's after the instance, as EC2 names it. */
    const char *slash = j->log_stream ? strrchr(j->log_stream, '/') : NULL;
    const char *session = by_instance ? in->id : slash ? slash + 1 : j->id;
    auth_temp_creds cr;
    char why[600];
    if (auth_temp_issue(role, session, j->id, attempt, time(NULL), &cr, why, sizeof why) < 0)
        return api_fail(c, 403, "AccessDeniedException", "%s", why);
    /* Kept in the store, in this batch (the answer leaves once it is committed): the attempt
     * may outlive this server, and its job's SDK keeps these until they expire. */
    char *doc = auth_temp_record_text(role, session, j->id, attempt, &cr);
    if (doc) {
        role_creds_put(c->st, cr.access_key, doc, strlen(doc));
        OPENSSL_cleanse(doc, strlen(doc));
        free(doc);
    }
    if (cr.dropped[0]) role_creds_del(c->st, cr.dropped);
    /* The ECS credential endpoint's answer, which the agent hands to the job as it is. */
    *resp = json_pack("{s:s, s:s, s:s, s:s, s:s}", "AccessKeyId", cr.access_key,
                      "SecretAccessKey", cr.secret, "Token", cr.token, "Expiration",
                      cr.expiration, "RoleArn", role);
    OPENSSL_cleanse(&cr, sizeof cr);
    return 0;
}

api_op api_agent_creds_ops[] = {
    {"AgentCredentials", "POST", "/barge/v1/agent/credentials",
     "{instanceId:s, jobId:s!, attempt:i(1..1000000)!}", agent_credentials, 0, NULL},
    {"AgentTaskMetadata", "POST", "/barge/v1/agent/taskmetadata",
     "{instanceId:s, jobId:s!, attempt:i(1..1000000)!}", agent_task_metadata, 0, NULL},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
