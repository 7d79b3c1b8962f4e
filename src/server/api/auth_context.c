/* auth_context — a request's condition keys (auth_context.h). */
#include "server/api/auth_context.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

static void add(auth_context *c, const char *key, const char *value)
{
    if (!value) return;
    if (c->nkv == c->cap) c->kv = xrealloc(c->kv, (c->cap = c->cap ? 2 * c->cap : 16) * sizeof *c->kv);
    c->kv[c->nkv++] = (policy_kv){key, value};
}

static const char *own(auth_context *c, char *s)
{
    c->owned = xrealloc(c->owned, (c->nowned + 1) * sizeof *c->owned);
    return c->owned[c->nowned++] = s;
}

/* The principal's keys: its ARN, and a user's name (arn:aws:iam::ACCOUNT:user/NAME), which IAM
 * gives as aws:username to users only. */
static void add_principal(auth_context *c, const char *arn)
{
    if (!arn) return;
    add(c, "aws:PrincipalArn", arn);
    const char *user = strstr(arn, ":user/");
    if (user) {
        const char *name = strrchr(user, '/') + 1;
        snprintf(c->user, sizeof c->user, "%s", name);
        add(c, "aws:username", c->user);
    }
}

/* The tags a call gives (a map: aws:RequestTag/KEY and aws:TagKeys) or takes away (a list of
 * keys: aws:TagKeys). */
static void add_tags(auth_context *c, json_t *tags)
{
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_object(tags)) {
        json_object_foreach(tags, k, v) {
            if (!json_is_string(v)) continue;
            add(c, own(c, xasprintf("aws:RequestTag/%s", k)), json_string_value(v));
            add(c, "aws:TagKeys", k);
        }
    } else {
        json_array_foreach(tags, i, v) add(c, "aws:TagKeys", json_string_value(v));
    }
}

/* A container's keys, as AWS Batch names them for RegisterJobDefinition. */
static void add_container(auth_context *c, json_t *cp)
{
    add(c, "batch:Image", json_string_value(json_object_get(cp, "image")));
    /* Not given is not privileged: a Deny on true must not apply, an Allow on false must. */
    add(c, "batch:Privileged",
        json_is_true(json_object_get(cp, "privileged")) ? "true" : "false");
    add(c, "batch:User", json_string_value(json_object_get(cp, "user")));
    json_t *lc = json_object_get(cp, "logConfiguration");
    add(c, "batch:LogDriver", json_string_value(json_object_get(lc, "logDriver")));
    json_t *o = json_object_get(lc, "options");
    add(c, "batch:AWSLogsGroup", json_string_value(json_object_get(o, "awslogs-group")));
    add(c, "batch:AWSLogsRegion", json_string_value(json_object_get(o, "awslogs-region")));
    add(c, "batch:AWSLogsStreamPrefix",
        json_string_value(json_object_get(o, "awslogs-stream-prefix")));
    add(c, "batch:AWSLogsCreateGroup",
        json_string_value(json_object_get(o, "awslogs-create-group")));
}

/* Ends the contexts: each is a run of kv; the pointers are set once kv no longer moves. */
static void finish(auth_context *c, const size_t *starts, size_t n)
{
    c->nctx = n;
    c->ctx = xcalloc(n, sizeof *c->ctx);
    for (size_t i = 0; i < n; i++) {
        size_t end = i + 1 < n ? starts[i + 1] : c->nkv;
        c->ctx[i] = (policy_ctx){c->kv + starts[i], end - starts[i]};
    }
}

void auth_context_batch(auth_context *c, const char *principal_arn, const char *op, json_t *req)
{
    memset(c, 0, sizeof *c);
    add_principal(c, principal_arn);
    add_tags(c, json_object_get(req, strcmp(op, "UntagResource") == 0 ? "tagKeys" : "tags"));
    if (strcmp(op, "SubmitJob") == 0)
        add(c, "batch:ShareIdentifier", json_string_value(json_object_get(req, "shareIdentifier")));
    json_t *ranges = strcmp(op, "RegisterJobDefinition") == 0
                         ? json_object_get(json_object_get(req, "nodeProperties"),
                                           "nodeRangeProperties")
                         : NULL;
    if (strcmp(op, "RegisterJobDefinition") != 0 || json_array_size(ranges) == 0) {
        if (strcmp(op, "RegisterJobDefinition") == 0)
            add_container(c, json_object_get(req, "containerProperties"));
        finish(c, (size_t[]){0}, 1);
        return;
    }
    /* One context a node range: the call's keys again, then that range's container's. */
    size_t base = c->nkv, n = json_array_size(ranges);
    size_t *starts = xcalloc(n, sizeof *starts);
    for (size_t r = 0; r < n; r++) {
        starts[r] = c->nkv;
        for (size_t k = 0; k < base; k++) add(c, c->kv[k].key, c->kv[k].value);
        add_container(c, json_object_get(json_array_get(ranges, r), "container"));
    }
    /* The first run (the call's keys alone) is not a context of its own. */
    finish(c, starts, n);
    free(starts);
}

void auth_context_logs(auth_context *c, const char *principal_arn, json_t *req)
{
    memset(c, 0, sizeof *c);
    add_principal(c, principal_arn);
    json_t *tags = json_object_get(req, "tags");
    add_tags(c, tags ? tags : json_object_get(req, "tagKeys"));
    finish(c, (size_t[]){0}, 1);
}

void auth_context_free(auth_context *c)
{
    for (size_t i = 0; i < c->nowned; i++) free(c->owned[i]);
    free(c->owned);
    free(c->kv);
    free(c->ctx);
    memset(c, 0, sizeof *c);
}
