/* cli_answer — whether a 2xx answer is the answer of the operation asked, or something else's.
 * An endpoint that is no barge server (a web server, a proxy's page, another API) may answer
 * 200 with an empty body or JSON of its own; taken as an answer, it read as "no jobs" or "no
 * events" (exit 0), and `events -f` polled it for ever.  Every answer a barge server gives to
 * the operations the CLI calls has the members below (so has AWS's): one without them is said
 * not to be an answer, naming the operation. */
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "cli/cli_http.h"

/* The members every answer to each operation has (src/server/api/), and their JSON types.
 * An operation not listed (CancelJob, TerminateJob, DeregisterJobDefinition answer {}) needs
 * a JSON object only. */
static const struct {
    const char *op;
    const char *member;
    json_type type;
} needed[] = {
    {"SubmitJob", "jobId", JSON_STRING},
    {"DescribeJobs", "jobs", JSON_ARRAY},
    {"ListJobs", "jobSummaryList", JSON_ARRAY},
    {"DescribeJobQueues", "jobQueues", JSON_ARRAY},
    {"DescribeComputeEnvironments", "computeEnvironments", JSON_ARRAY},
    {"DescribeJobDefinitions", "jobDefinitions", JSON_ARRAY},
    {"RegisterJobDefinition", "jobDefinitionArn", JSON_STRING},
    {"GetJobQueueSnapshot", "frontOfQueue", JSON_OBJECT},
    {"GetLogEvents", "events", JSON_ARRAY},
    {"GetEvents", "events", JSON_ARRAY},
    {"GetEvents", "lastSeq", JSON_INTEGER},
    {"GetUsage", "groups", JSON_ARRAY},
    {"ListInstances", "instances", JSON_ARRAY},
    {"DrainInstance", "instanceId", JSON_STRING},
    {"TerminateInstance", "instanceId", JSON_STRING},
    {"ReclaimInstance", "instanceId", JSON_STRING},
    {"RevokeInstance", "instanceId", JSON_STRING},
};

/* A JSON type as the message names it. */
static const char *type_name(json_type t)
{
    switch (t) {
    case JSON_STRING: return "a string";
    case JSON_ARRAY: return "an array";
    case JSON_OBJECT: return "an object";
    default: return "an integer";
    }
}

/* What is wrong with j as op's answer (fresh), or NULL when nothing is. */
static char *wrong_with(const char *op, const json_t *j)
{
    if (!json_is_object(j)) return xstrdup("not a JSON object");
    for (size_t i = 0; i < sizeof needed / sizeof *needed; i++) {
        if (strcmp(needed[i].op, op) != 0) continue;
        json_t *m = json_object_get(j, needed[i].member);
        if (!m) return xasprintf("a JSON object without \"%s\"", needed[i].member);
        if (json_typeof(m) != needed[i].type)
            return xasprintf("its \"%s\" is not %s", needed[i].member,
                             type_name(needed[i].type));
    }
    return NULL;
}

/* Whose answers the service's are, as the message names them. */
static const char *answers_of(const char *service)
{
    if (strcmp(service, "logs") == 0) return "a CloudWatch Logs answer";
    if (strcmp(service, "barge") == 0) return "a barge answer";
    return "an AWS Batch answer";
}

json_t *cli_answer_read(const char *service, const char *op, const char *body, size_t len,
                        char **why)
{
    *why = NULL;
    /* A job's log may hold NUL bytes, which the server sends as \u0000. */
    json_t *j = len ? json_loadb(body, len, JSON_ALLOW_NUL, NULL) : NULL;
    char *wrong = len ? wrong_with(op, j) : xstrdup("an empty body");
    if (!wrong) return j;
    json_decref(j);
    *why = xasprintf("the answer to %s is not %s (%s)", op, answers_of(service), wrong);
    free(wrong);
    return NULL;
}
