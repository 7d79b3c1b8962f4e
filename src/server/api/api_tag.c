/* api_tag — TagResource, UntagResource and ListTagsForResource.
 *
 * Every taggable resource keeps its tags in its own description's "tags" object, so tags are
 * stored, described and deleted together with the resource.  The resource is found from its ARN
 * (compute-environment/NAME, job-queue/NAME, job-definition/NAME:REVISION,
 * scheduling-policy/NAME or job/ID) in any region and account, as the other operations accept
 * ARNs.  Jobs are reached through the functions of tags.h. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"
#include "common/util.h"
#include "server/model/arn.h"
#include "server/model/registry.h"
#include "server/model/state.h"
#include "server/model/tags.h"
#include "server/api/api.h"

/* AWS's limits: tags per resource, and keys per UntagResource call. */
#define MAX_TAGS 50
#define MAX_UNTAG_KEYS 50

static const tags_job_ops *job_ops;

void tags_set_job_ops(const tags_job_ops *ops)
{
    job_ops = ops;
}

/* The resource a request names, and its tags as they are now. */
typedef struct target {
    registry *reg; /* NULL for a job */
    char *key;     /* the registry key, or the job id */
    json_t *tags;  /* a private copy, always an object */
} target;

static void target_free(target *t)
{
    free(t->key);
    json_decref(t->tags);
}

static int all_digits(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

/* Checks the part of a registry ARN after "KIND/" and gives its registry key. */
static int registry_key(api_ctx *c, const char *arn, const char *kind, const char *res)
{
    if (strcmp(kind, ARN_JD) != 0) {
        if (arn_name_valid(res)) return 0;
        return api_client_error(c, "resourceArn: '%.200s' does not end in a valid %s name (1 to "
                                   "128 letters, digits, hyphens and underscores)", arn, kind);
    }
    /* Tags belong to one revision of a job definition, so the ARN must say which. */
    const char *colon = strrchr(res, ':');
    if (!colon)
        return api_client_error(c, "resourceArn: '%.200s' names no revision; tag a job "
                                   "definition as job-definition/NAME:REVISION", arn);
    char *name = xstrndup(res, (size_t)(colon - res));
    int ok = arn_name_valid(name) && all_digits(colon + 1);
    free(name);
    if (ok) return 0;
    return api_client_error(c, "resourceArn: '%.200s' is not a job definition ARN; expected "
                               "job-definition/NAME:REVISION with a numeric revision", arn);
}

static int resolve(api_ctx *c, const char *arn, target *t)
{
    static const struct {
        const char *kind, *what;
        size_t offset; /* of the registry in struct state */
    } kinds[] = {
        {ARN_CE, "compute environment", offsetof(state, ce)},
        {ARN_JQ, "job queue", offsetof(state, jq)},
        {ARN_JD, "job definition revision", offsetof(state, jd)},
        {ARN_SP, "scheduling policy", offsetof(state, sp)},
        {ARN_CR, "consumable resource", offsetof(state, cr)},
    };
    memset(t, 0, sizeof *t);
    char *kind = NULL, *res = NULL;
    if (!arn || arn_split(arn, &kind, &res) < 0)
        return api_client_error(c, "resourceArn: '%.200s' is not an AWS Batch ARN; expected "
                                   "arn:aws:batch:REGION:ACCOUNT:KIND/ID where KIND is "
                                   "compute-environment, job-queue, job-definition, "
                                   "scheduling-policy or job", arn ? arn : "");
    int rc = -1;
    if (strcmp(kind, ARN_JOB) == 0) {
        if (strpbrk(res, ":#")) {
            api_client_error(c, "resourceArn: '%.200s' names a child of an array job or a node "
                                "of a multi-node job; AWS Batch tags only the parent job, "
                                "job/JOB_ID", arn);
            goto out;
        }
        t->tags = job_ops ? job_ops->get(c->st, res) : NULL;
        if (!t->tags) {
            api_client_error(c, "resourceArn: no job with id '%.64s' exists", res);
            goto out;
        }
        t->key = res;
        res = NULL;
        rc = 0;
        goto out;
    }
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(kind, kinds[i].kind) != 0) continue;
        if (registry_key(c, arn, kind, res) < 0) goto out;
        t->reg = (registry *)((char *)c->st + kinds[i].offset);
        json_t *desc = reg_get(t->reg, res);
        if (!desc) {
            api_client_error(c, "resourceArn: no %s '%s' exists", kinds[i].what, res);
            goto out;
        }
        json_t *tags = json_object_get(desc, "tags");
        t->tags = json_is_object(tags) ? json_deep_copy(tags) : json_object();
        t->key = res;
        res = NULL;
        rc = 0;
        goto out;
    }
    api_client_error(c, "resourceArn: '%.200s' is a '%.40s' ARN; AWS Batch tags only compute "
                        "environments, job queues, job definitions, scheduling policies, "
                        "consumable resources and jobs", arn, kind);
out:
    free(kind);
    free(res);
    return rc;
}

/* Makes tags (taking the reference) the resource's tags, durably within the batch. */
static void store_tags(api_ctx *c, target *t, json_t *tags)
{
    if (!t->reg) {
        job_ops->set(c->st, t->key, tags);
        return;
    }
    json_t *next = json_deep_copy(reg_get(t->reg, t->key));
    json_object_set_new(next, "tags", tags);
    reg_put(c->st, t->reg, t->key, next);
}

static int tag_resource(api_ctx *c, json_t *req, json_t **resp)
{
    json_t *add = json_object_get(req, "tags");
    target t;
    if (resolve(c, api_str(req, "resourceArn"), &t) < 0) return -1;
    int rc = -1;
    if (json_object_size(add) == 0) {
        api_client_error(c, "tags: give at least one tag to add");
        goto out;
    }
    if (api_check_tags(c, add, "tags") < 0) goto out;
    json_t *next = json_deep_copy(t.tags);
    json_object_update(next, add);
    if (json_object_size(next) > MAX_TAGS) {
        api_client_error(c, "tags: the resource would have %zu tags after this change, and at "
                            "most %d are allowed (it has %zu); remove some with UntagResource "
                            "first", json_object_size(next), MAX_TAGS,
                         json_object_size(t.tags));
        json_decref(next);
        goto out;
    }
    /* Writing the same tags again changes nothing, so it costs no write. */
    if (json_equal(next, t.tags)) json_decref(next);
    else store_tags(c, &t, next);
    *resp = json_object();
    rc = 0;
out:
    target_free(&t);
    return rc;
}

static int untag_resource(api_ctx *c, json_t *req, json_t **resp)
{
    json_t *keys = json_object_get(req, "tagKeys");
    target t;
    if (resolve(c, api_str(req, "resourceArn"), &t) < 0) return -1;
    int rc = -1;
    if (json_array_size(keys) == 0) {
        api_client_error(c, "tagKeys: give at least one tag key to remove (as the query "
                            "parameter tagKeys, once per key)");
        goto out;
    }
    if (json_array_size(keys) > MAX_UNTAG_KEYS) {
        api_client_error(c, "tagKeys: at most %d keys per call (got %zu)", MAX_UNTAG_KEYS,
                         json_array_size(keys));
        goto out;
    }
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        const char *key = json_string_value(k);
        size_t len = util_utf8_chars(key); /* characters, as AWS counts them */
        if (len < 1 || len > 128) {
            api_client_error(c, "tagKeys[%zu]: a tag key is 1 to 128 characters long", i);
            goto out;
        }
        if (strncasecmp(key, "aws:", 4) == 0) {
            api_client_error(c, "tagKeys[%zu]: tag keys starting with 'aws:' are reserved and "
                                "cannot be removed (got '%.40s')", i, key);
            goto out;
        }
    }
    /* Keys the resource does not have are simply not there afterwards, as AWS treats them. */
    json_t *next = json_deep_copy(t.tags);
    json_array_foreach(keys, i, k) json_object_del(next, json_string_value(k));
    if (json_object_size(next) == json_object_size(t.tags)) json_decref(next);
    else store_tags(c, &t, next);
    *resp = json_object();
    rc = 0;
out:
    target_free(&t);
    return rc;
}

static int list_tags(api_ctx *c, json_t *req, json_t **resp)
{
    target t;
    if (resolve(c, api_str(req, "resourceArn"), &t) < 0) return -1;
    *resp = json_pack("{s:O}", "tags", t.tags);
    target_free(&t);
    return 0;
}

/* The path's '*' gives "resourceArn" (percent-decoded); UntagResource's "tagKeys" come from the
 * query string.  Both are filled in by the HTTP front end before the shape is checked. */
api_op api_tag_ops[] = {
    {"TagResource", "POST", "/v1/tags/*", "{resourceArn:s!, tags:@Tags!}", tag_resource, 0,
     NULL},
    {"UntagResource", "DELETE", "/v1/tags/*", "{resourceArn:s!, tagKeys:@Strings!}",
     untag_resource, 0, NULL},
    {"ListTagsForResource", "GET", "/v1/tags/*", "{resourceArn:s!}", list_tags, 0, NULL},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
