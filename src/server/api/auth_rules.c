/* auth_rules — each operation's IAM action and the resources AWS authorizes it on.
 *
 * The table follows the Service Authorization Reference for AWS Batch and CloudWatch Logs
 * where it names a resource type; CancelJob and TerminateJob (and their bulk forms) are
 * authorized on the job's ARN, made from the id as AWS makes it, whether or not there is such a
 * job (job_resources); operations that take none there (Describe*, List*) on "*".  docs/credentials.md shows the same table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "server/model/arn.h"
#include "server/model/config.h"
#include "server/api/api_logs.h"
#include "server/api/auth.h"
#include "server/api/auth_context.h"
#include "server/engine/attempt.h"

typedef struct rule {
    const char *op;
    const char *kind;    /* ARN kind of the resource, or NULL for "*" */
    const char *field;   /* the request member naming it */
    const char *kind2;   /* a second resource (SubmitJob's job definition), or NULL */
    const char *field2;
} rule;

static const rule rules[] = {
    {"CreateComputeEnvironment", ARN_CE, "computeEnvironmentName", NULL, NULL},
    {"UpdateComputeEnvironment", ARN_CE, "computeEnvironment", NULL, NULL},
    {"DeleteComputeEnvironment", ARN_CE, "computeEnvironment", NULL, NULL},
    {"CreateJobQueue", ARN_JQ, "jobQueueName", NULL, NULL},
    {"UpdateJobQueue", ARN_JQ, "jobQueue", NULL, NULL},
    {"DeleteJobQueue", ARN_JQ, "jobQueue", NULL, NULL},
    {"GetJobQueueSnapshot", ARN_JQ, "jobQueue", NULL, NULL},
    {"GetUsage", ARN_JQ, "jobQueue", NULL, NULL},
    {"RegisterJobDefinition", ARN_JD, "jobDefinitionName", NULL, NULL},
    {"DeregisterJobDefinition", ARN_JD, "jobDefinition", NULL, NULL},
    {"SubmitJob", ARN_JQ, "jobQueue", ARN_JD, "jobDefinition"},
    {"CreateSchedulingPolicy", ARN_SP, "name", NULL, NULL},
    {"UpdateSchedulingPolicy", ARN_SP, "arn", NULL, NULL},
    {"DeleteSchedulingPolicy", ARN_SP, "arn", NULL, NULL},
    {"CreateConsumableResource", ARN_CR, "consumableResourceName", NULL, NULL},
    {"UpdateConsumableResource", ARN_CR, "consumableResource", NULL, NULL},
    {"DeleteConsumableResource", ARN_CR, "consumableResource", NULL, NULL},
    {"TagResource", "", "resourceArn", NULL, NULL},
    {"UntagResource", "", "resourceArn", NULL, NULL},
    {"ListTagsForResource", "", "resourceArn", NULL, NULL},
};

/* v as this server's ARN.  A Batch ARN names the same resource whatever its partition, region
 * and account (the handlers take any: ARNs are pasted from AWS), so the policy sees it as this
 * server writes it: a Deny on "arn:aws:batch:*:*:job-queue/secret" must hold for the queue named
 * by an ARN of another region, account or partition.  Anything else is kept as given (no
 * handler takes it for one of barge's resources). */
static char *own_arn(const char *v)
{
    char *kind, *res;
    if (arn_split(v, &kind, &res) < 0) return xstrdup(v);
    char *own = arn_make(kind, res);
    free(kind);
    free(res);
    return own;
}

/* The ARN a member names: an ARN as this server writes it, a name made into this server's ARN
 * of kind. */
static char *resource_of(json_t *req, const char *kind, const char *field)
{
    const char *v = json_string_value(json_object_get(req, field));
    if (!v || !*v) return xstrdup("*");
    if (strncmp(v, "arn:", 4) == 0 || !*kind) return own_arn(v);
    return arn_make(kind, v);
}

/* What stopping the job id (or its ARN) acts on, into res: the job's ARN; for a multi-node
 * job's node ("ID#N") its job's ARN too, since a node stopped before it starts takes its whole
 * job down (engine/attempt.c): a Deny on the job must hold for its nodes.  Returns how many. */
static size_t job_resources(const char *id, char *res[2])
{
    if (!id || !*id) {
        res[0] = xstrdup("*");
        return 1;
    }
    res[0] = strncmp(id, "arn:", 4) == 0 ? own_arn(id) : arn_make(ARN_JOB, id);
    const char *hash = strchr(res[0], '#');
    if (!hash) return 1;
    res[1] = xstrndup(res[0], (size_t)(hash - res[0]));
    return 2;
}

/* CancelJobs and TerminateJobs: the action on each job's ARN, every one of which must be
 * allowed (AWS answers a refused one in the answer's errors; barge refuses the call). */
static int authorize_each_job(const auth_principal *who, const char *action, json_t *req,
                              const auth_context *cx, auth_refusal *why)
{
    json_t *ids = json_object_get(req, "jobs");
    size_t n = json_array_size(ids);
    /* More than the 50 the handler takes: "*" here, and the handler refuses the call. */
    if (!n || n > 50)
        return auth_check(who, action, (const char *const[]){"*"}, 1, cx->ctx, cx->nctx, why);
    char **res = xcalloc(2 * n, sizeof *res);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += job_resources(json_string_value(json_array_get(ids, i)), res + k);
    int rc = auth_check(who, action, (const char *const *)res, k, cx->ctx, cx->nctx, why);
    for (size_t i = 0; i < k; i++) free(res[i]);
    free(res);
    return rc;
}

/* The roles a call lets jobs act as: a definition's jobRoleArn (its nodes' too), a compute
 * environment's instanceRole (the role its profile holds: engine/attempt.h).  On AWS the caller
 * needs iam:PassRole on each, or anyone allowed to register a definition would run jobs as any
 * role --roles names, an administrator's included. */
static int authorize_roles(const auth_principal *who, const char *op_name, json_t *req,
                           const auth_context *cx, auth_refusal *why)
{
    const char **roles = NULL;
    size_t n = 0, cap = 0;
    char held[ATTEMPT_ROLE_MAX];
#define ADD_ROLE(v)                                                                          \
    do {                                                                                     \
        const char *r_ = (v);                                                                \
        if (!r_ || !*r_) break;                                                              \
        if (n == cap) roles = xrealloc(roles, (cap = cap ? cap * 2 : 4) * sizeof *roles);     \
        roles[n++] = r_;                                                                     \
    } while (0)
    if (strcmp(op_name, "RegisterJobDefinition") == 0) {
        ADD_ROLE(json_string_value(
            json_object_get(json_object_get(req, "containerProperties"), "jobRoleArn")));
        json_t *ranges =
            json_object_get(json_object_get(req, "nodeProperties"), "nodeRangeProperties");
        size_t i;
        json_t *r;
        json_array_foreach(ranges, i, r)
            ADD_ROLE(json_string_value(
                json_object_get(json_object_get(r, "container"), "jobRoleArn")));
    } else if (strcmp(op_name, "CreateComputeEnvironment") == 0 ||
               strcmp(op_name, "UpdateComputeEnvironment") == 0) {
        ADD_ROLE(attempt_profile_role(
            json_string_value(
                json_object_get(json_object_get(req, "computeResources"), "instanceRole")),
            held));
    }
#undef ADD_ROLE
    int rc = n ? auth_check(who, "iam:PassRole", (const char *const *)roles, n, cx->ctx, cx->nctx,
                            why)
               : 0;
    free(roles);
    return rc;
}

int auth_authorize(const auth_principal *who, const char *op_name, json_t *req,
                   auth_refusal *why)
{
    if (!who) return 0;
    char action[80];
    snprintf(action, sizeof action, "batch:%s", op_name);
    auth_context cx;
    auth_context_batch(&cx, auth_principal_arn(who), op_name, req);
    int rc;
    if (strcmp(op_name, "CancelJobs") == 0 || strcmp(op_name, "TerminateJobs") == 0) {
        rc = authorize_each_job(who, action, req, &cx, why);
        auth_context_free(&cx);
        return rc;
    }
    char *res[2] = {NULL, NULL};
    size_t n = 1;
    if (strcmp(op_name, "CancelJob") == 0 || strcmp(op_name, "TerminateJob") == 0)
        n = job_resources(json_string_value(json_object_get(req, "jobId")), res);
    for (size_t i = 0; !res[0] && i < sizeof rules / sizeof *rules; i++) {
        if (strcmp(rules[i].op, op_name) != 0) continue;
        res[0] = resource_of(req, rules[i].kind, rules[i].field);
        if (rules[i].kind2) res[n++] = resource_of(req, rules[i].kind2, rules[i].field2);
        break;
    }
    if (!res[0]) res[0] = xstrdup("*");
    rc = auth_check(who, action, (const char *const *)res, n, cx.ctx, cx.nctx, why);
    free(res[0]);
    free(res[1]);
    if (rc == 0) rc = authorize_roles(who, op_name, req, &cx, why);
    auth_context_free(&cx);
    return rc;
}

int auth_authorize_logs(const auth_principal *who, const char *target, const char *body,
                        size_t len, auth_refusal *why)
{
    if (!who) return 0;
    const char *dot = target ? strchr(target, '.') : NULL;
    const char *op = dot ? dot + 1 : "";
    char action[100];
    snprintf(action, sizeof action, "logs:%.80s", op);
    /* The log group (and for the calls on one stream, the stream) the request acts on; "*" for
     * listings and for a body that is no JSON object, which the handler, reading it alike,
     * refuses. */
    json_t *req = body && len ? json_loadb(body, len, API_LOGS_JSON_FLAGS, NULL) : NULL;
    /* TagResource, UntagResource, ListTagsForResource act on resourceArn alone (their shapes
     * drop any other member): that is what is authorized, whatever else the body says. */
    int by_arn = strcmp(op, "TagResource") == 0 || strcmp(op, "UntagResource") == 0 ||
                 strcmp(op, "ListTagsForResource") == 0;
    const char *group = by_arn ? json_string_value(json_object_get(req, "resourceArn"))
                               : json_string_value(json_object_get(req, "logGroupName"));
    if (!group && !by_arn)
        group = json_string_value(json_object_get(req, "logGroupIdentifier"));
    const char *stream = json_string_value(json_object_get(req, "logStreamName"));
    int on_stream = strcmp(op, "GetLogEvents") == 0 || strcmp(op, "DeleteLogStream") == 0 ||
                    strcmp(op, "CreateLogStream") == 0;
    char name[LOGSTORE_NAME_MAX + 1];
    char *res;
    if (!group || strcmp(op, "DescribeLogGroups") == 0)
        res = xstrdup("*");
    else if (api_logs_group_named(group, name) < 0)
        res = xstrdup(group); /* no group of this server's: the handler finds none */
    else if (stream && on_stream)
        /* A group named by its ARN is the same group: its streams are authorized as such. */
        res = xasprintf("arn:aws:logs:%s:%s:log-group:%s:log-stream:%s", barge_cfg.region,
                        barge_cfg.account_id, name, stream);
    else
        res = xasprintf("arn:aws:logs:%s:%s:log-group:%s:*", barge_cfg.region,
                        barge_cfg.account_id, name);
    auth_context cx;
    auth_context_logs(&cx, auth_principal_arn(who), req);
    const char *one[1] = {res};
    int rc = auth_check(who, action, one, 1, cx.ctx, cx.nctx, why);
    auth_context_free(&cx);
    json_decref(req);
    free(res);
    return rc;
}
