/* auth_rules — each operation's IAM action and the resources AWS authorizes it on.
 *
 * The table follows the Service Authorization Reference for AWS Batch and CloudWatch Logs
 * where it names a resource type (CancelJob and TerminateJob on the job's ARN, made from the id
 * as AWS makes it, whether or not there is such a job); operations that take none there
 * (Describe*, List*) are authorized on "*".  docs/credentials.md shows the same table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "server/model/arn.h"
#include "server/model/config.h"
#include "server/api/auth.h"

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
    {"CancelJob", ARN_JOB, "jobId", NULL, NULL},
    {"TerminateJob", ARN_JOB, "jobId", NULL, NULL},
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

/* The ARN a member names: an ARN as given, a name made into this server's ARN of kind. */
static char *resource_of(json_t *req, const char *kind, const char *field)
{
    const char *v = json_string_value(json_object_get(req, field));
    if (!v || !*v) return xstrdup("*");
    if (strncmp(v, "arn:", 4) == 0 || !*kind) return xstrdup(v);
    return arn_make(kind, v);
}

/* CancelJobs and TerminateJobs: the action on each job's ARN, every one of which must be
 * allowed (AWS answers a refused one in the answer's errors; barge refuses the call). */
static int authorize_each_job(const auth_principal *who, const char *action, json_t *req,
                              auth_refusal *why)
{
    json_t *ids = json_object_get(req, "jobs");
    size_t n = json_array_size(ids);
    /* More than the 50 the handler takes: "*" here, and the handler refuses the call. */
    if (!n || n > 50) return auth_check(who, action, (const char *const[]){"*"}, 1, why);
    char **res = xcalloc(n, sizeof *res);
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_array_get(ids, i));
        res[i] = arn_make(ARN_JOB, id ? id : "");
    }
    int rc = auth_check(who, action, (const char *const *)res, n, why);
    for (size_t i = 0; i < n; i++) free(res[i]);
    free(res);
    return rc;
}

int auth_authorize(const auth_principal *who, const char *op_name, json_t *req,
                   auth_refusal *why)
{
    if (!who) return 0;
    char action[80];
    snprintf(action, sizeof action, "batch:%s", op_name);
    if (strcmp(op_name, "CancelJobs") == 0 || strcmp(op_name, "TerminateJobs") == 0)
        return authorize_each_job(who, action, req, why);
    char *res[2] = {NULL, NULL};
    size_t n = 1;
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
        if (strcmp(rules[i].op, op_name) != 0) continue;
        res[0] = resource_of(req, rules[i].kind, rules[i].field);
        if (rules[i].kind2) res[n++] = resource_of(req, rules[i].kind2, rules[i].field2);
        break;
    }
    if (!res[0]) res[0] = xstrdup("*");
    int rc = auth_check(who, action, (const char *const *)res, n, why);
    free(res[0]);
    free(res[1]);
    return rc;
}

int auth_authorize_logs(const auth_principal *who, const char *target, const char *body,
                        size_t len, auth_refusal *why)
{
    if (!who) return 0;
    const char *dot = target ? strchr(target, '.') : NULL;
    char action[100];
    snprintf(action, sizeof action, "logs:%.80s", dot ? dot + 1 : "");
    /* The log group (and for GetLogEvents the stream) the request reads; "*" for listings and
     * for a body that is not JSON (the handler then says what is wrong with it, if allowed). */
    json_t *req = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    /* TagResource, UntagResource, ListTagsForResource act on resourceArn alone (their shapes
     * drop any other member): that is what is authorized, whatever else the body says. */
    int by_arn = dot && (strcmp(dot + 1, "TagResource") == 0 ||
                         strcmp(dot + 1, "UntagResource") == 0 ||
                         strcmp(dot + 1, "ListTagsForResource") == 0);
    const char *group = by_arn ? json_string_value(json_object_get(req, "resourceArn"))
                               : json_string_value(json_object_get(req, "logGroupName"));
    if (!group && !by_arn)
        group = json_string_value(json_object_get(req, "logGroupIdentifier"));
    const char *stream = json_string_value(json_object_get(req, "logStreamName"));
    char *res;
    size_t glen = group ? strlen(group) : 0;
    if (!group || (dot && strcmp(dot + 1, "DescribeLogGroups") == 0))
        res = xstrdup("*");
    else if (strncmp(group, "arn:", 4) == 0 && strstr(group, ":log-group:") &&
             (glen < 2 || strcmp(group + glen - 2, ":*") != 0))
        res = xasprintf("%s:*", group); /* a group's ARN as its actions name it */
    else if (strncmp(group, "arn:", 4) == 0)
        res = xstrdup(group);
    else if (stream && dot &&
             (strcmp(dot + 1, "GetLogEvents") == 0 || strcmp(dot + 1, "DeleteLogStream") == 0 ||
              strcmp(dot + 1, "CreateLogStream") == 0))
        res = xasprintf("arn:aws:logs:%s:%s:log-group:%s:log-stream:%s", barge_cfg.region,
                        barge_cfg.account_id, group, stream);
    else
        res = xasprintf("arn:aws:logs:%s:%s:log-group:%s:*", barge_cfg.region,
                        barge_cfg.account_id, group);
    json_decref(req);
    const char *one[1] = {res};
    int rc = auth_check(who, action, one, 1, why);
    free(res);
    return rc;
}
