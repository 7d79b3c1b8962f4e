/* api_jd — job definitions: Register, Describe, Deregister.
 *
 * A definition is stored under "name:revision".  Registering a name again adds the next
 * revision; deregistering marks a revision INACTIVE and keeps it, as AWS does, so that jobs and
 * clients that name it can still read it and so that its number is never given out again.
 * state->jd_latest remembers the highest revision of each name. */
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "server/model/arn.h"
#include "server/model/config.h"
#include "server/model/registry.h"
#include "server/model/state.h"
#include "server/api/api.h"
#include "server/api/jobdef.h"

int jobdef_parse_ref(const char *ref, char **name, long *revision)
{
    char *body = NULL;
    if (!ref) return -1;
    if (strncmp(ref, "arn:", 4) == 0) {
        body = arn_resource(ref, ARN_JD);
        if (!body) return -1;
    } else {
        body = xstrdup(ref);
    }
    long rev = 0;
    char *colon = strchr(body, ':');
    if (colon) {
        const char *p = colon + 1;
        /* Revisions are written in plain digits from 1 up; "07" or "+7" would name a key that
         * does not exist, so they are refused rather than silently missed. */
        int ok = *p >= '1' && *p <= '9' && strlen(p) <= 9;
        for (; ok && *p; p++) ok = *p >= '0' && *p <= '9';
        if (!ok) {
            free(body);
            return -1;
        }
        rev = strtol(colon + 1, NULL, 10);
        *colon = '\0';
    }
    if (!arn_name_valid(body)) {
        free(body);
        return -1;
    }
    *name = body;
    *revision = rev;
    return 0;
}

/* Whether the definition has the status given; a stored record without one has none. */
static int has_status(json_t *jd, const char *status)
{
    const char *s = json_string_value(json_object_get(jd, "status"));
    return s && strcmp(s, status) == 0;
}

int jobdef_is_active(json_t *jd)
{
    return has_status(jd, JOBDEF_ACTIVE);
}

static json_t *get_rev(state *st, const char *name, long rev)
{
    char *key = xasprintf("%s:%ld", name, rev);
    json_t *jd = reg_get(&st->jd, key);
    free(key);
    return jd;
}

json_t *jobdef_resolve(state *st, const char *ref)
{
    char *name;
    long rev;
    if (jobdef_parse_ref(ref, &name, &rev) < 0) return NULL;
    json_t *jd = NULL;
    if (rev > 0) {
        jd = get_rev(st, name, rev);
    } else {
        for (long r = (long)json_integer_value(json_object_get(st->jd_latest, name)); r > 0; r--) {
            json_t *cand = get_rev(st, name, r);
            if (cand && jobdef_is_active(cand)) {
                jd = cand;
                break;
            }
        }
    }
    free(name);
    return jd;
}

/* Registering ---------------------------------------------------------------------------- */

static void set_default(json_t *obj, const char *key, json_t *v)
{
    if (!json_object_get(obj, key)) json_object_set_new(obj, key, v);
    else json_decref(v);
}

/* A container as the description shows it: what was given, plus the empty lists AWS reports
 * for members left out, so readers never have to tell "absent" from "empty". */
static json_t *describe_container(json_t *given, int fargate)
{
    json_t *cp = json_deep_copy(given);
    static const char *const lists[] = {"command", "volumes", "environment", "mountPoints",
                                        "ulimits", "resourceRequirements", "secrets", NULL};
    for (const char *const *l = lists; *l; l++) set_default(cp, *l, json_array());
    /* AWS fills in the platform version, not the network configuration (whose absence means
     * DISABLED): Terraform compares what it reads back with what it sent, less the former. */
    if (fargate)
        set_default(cp, "fargatePlatformConfiguration",
                    json_pack("{s:s}", "platformVersion", "LATEST"));
    return cp;
}

static int register_jd(api_ctx *c, json_t *req, json_t **resp)
{
    if (jobdef_check_register(c, req) < 0) return -1;
    state *st = c->st;
    const char *name = api_str(req, "jobDefinitionName");
    const char *type = api_str(req, "type");
    json_t *caps = json_object_get(req, "platformCapabilities");
    const char *cap = json_string_value(json_array_get(caps, 0));
    int fargate = cap && strcmp(cap, "FARGATE") == 0;
    long rev = (long)json_integer_value(json_object_get(st->jd_latest, name)) + 1;
    char *key = xasprintf("%s:%ld", name, rev);
    char *arn = arn_make(ARN_JD, key);

    json_t *jd = json_pack("{s:s, s:s, s:I, s:s, s:s}", "jobDefinitionName", name,
                           "jobDefinitionArn", arn, "revision", (json_int_t)rev, "status",
                           JOBDEF_ACTIVE, "type", type);
    json_t *v;
    if ((v = json_object_get(req, "schedulingPriority")))
        json_object_set_new(jd, "schedulingPriority", json_deep_copy(v));
    v = json_object_get(req, "parameters");
    json_object_set_new(jd, "parameters", v ? json_deep_copy(v) : json_object());
    /* The evaluateOnExit actions are described as they were given, in any case, as AWS's
     * are: Terraform sends them in lower case and compares what it reads back. */
    if ((v = json_object_get(req, "retryStrategy")))
        json_object_set_new(jd, "retryStrategy", json_deep_copy(v));
    if ((v = json_object_get(req, "containerProperties")))
        json_object_set_new(jd, "containerProperties", describe_container(v, fargate));
    if ((v = json_object_get(req, "timeout")))
        json_object_set_new(jd, "timeout", json_deep_copy(v));
    if ((v = json_object_get(req, "nodeProperties"))) {
        json_t *np = json_deep_copy(v);
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(np, "nodeRangeProperties"), i, r)
            json_object_set_new(r, "container",
                                describe_container(json_object_get(r, "container"), 0));
        json_object_set_new(jd, "nodeProperties", np);
    }
    v = json_object_get(req, "tags");
    json_object_set_new(jd, "tags", v ? json_deep_copy(v) : json_object());
    json_object_set_new(jd, "propagateTags",
                        json_boolean(json_is_true(json_object_get(req, "propagateTags"))));
    /* As given, and absent when not (EC2 is meant then): AWS describes no default here, and
     * Terraform would register a new revision at every apply for one it did not send. */
    if (caps) json_object_set_new(jd, "platformCapabilities", json_deep_copy(caps));
    json_object_set_new(jd, "containerOrchestrationType", json_string("ECS"));
    if ((v = json_object_get(req, "consumableResourceProperties")))
        json_object_set_new(jd, "consumableResourceProperties", json_deep_copy(v));

    reg_put(st, &st->jd, key, jd);
    json_object_set_new(st->jd_latest, name, json_integer(rev));
    *resp = json_pack("{s:s, s:s, s:I}", "jobDefinitionName", name, "jobDefinitionArn", arn,
                      "revision", (json_int_t)rev);
    free(arn);
    free(key);
    return 0;
}

/* Describing ----------------------------------------------------------------------------- */

typedef struct keylist {
    char **keys;
    size_t n, cap;
} keylist;

static void keys_add(keylist *kl, char *key)
{
    if (kl->n == kl->cap) {
        kl->cap = kl->cap ? 2 * kl->cap : 16;
        kl->keys = xrealloc(kl->keys, sizeof(char *) * kl->cap);
    }
    kl->keys[kl->n++] = key;
}

static void keys_free(keylist *kl)
{
    for (size_t i = 0; i < kl->n; i++) free(kl->keys[i]);
    free(kl->keys);
}

/* Every stored revision of name, in revision order. */
static void keys_of_name(state *st, keylist *kl, const char *name)
{
    long latest = (long)json_integer_value(json_object_get(st->jd_latest, name));
    for (long r = 1; r <= latest; r++) {
        char *key = xasprintf("%s:%ld", name, r);
        if (reg_get(&st->jd, key)) keys_add(kl, key);
        else free(key);
    }
}

static int key_qsort_cmp(const void *a, const void *b)
{
    return reg_jd_key_cmp(*(char *const *)a, *(char *const *)b);
}

static int describe_jd(api_ctx *c, json_t *req, json_t **resp)
{
    state *st = c->st;
    json_t *refs = json_object_get(req, "jobDefinitions");
    const char *only_name = api_str(req, "jobDefinitionName");
    const char *status = api_str(req, "status");
    json_t *out = json_object(), *list = json_array();
    json_object_set_new(out, "jobDefinitions", list);
    *resp = out;
    if (status && strcmp(status, JOBDEF_ACTIVE) != 0 && strcmp(status, JOBDEF_INACTIVE) != 0)
        return api_client_error(c, "status: '%.32s' is not one of ACTIVE, INACTIVE", status);
    if (only_name && api_check_name(c, only_name, "jobDefinitionName") < 0) return -1;
    if (json_array_size(refs) > API_DESCRIBE_MAX)
        return api_client_error(c, "jobDefinitions: at most %d entries per call (got %zu)",
                                API_DESCRIBE_MAX, json_array_size(refs));
    if (json_array_size(refs) > 0 && only_name)
        return api_client_error(c, "jobDefinitions: cannot be combined with jobDefinitionName; "
                                   "list the definitions in one or the other");

    keylist kl = {0};
    if (json_array_size(refs) > 0) {
        size_t i;
        json_t *ref;
        json_array_foreach(refs, i, ref) {
            char *name;
            long rev;
            if (jobdef_parse_ref(json_string_value(ref), &name, &rev) < 0) {
                keys_free(&kl);
                return api_client_error(c, "jobDefinitions[%zu]: '%.200s' is not a job "
                                           "definition name, name:revision or ARN "
                                           "(arn:aws:batch:REGION:ACCOUNT:job-definition/"
                                           "NAME:REVISION)", i, json_string_value(ref));
            }
            if (rev == 0) {
                keys_of_name(st, &kl, name);
            } else {
                char *key = xasprintf("%s:%ld", name, rev);
                if (reg_get(&st->jd, key)) keys_add(&kl, key);
                else free(key);
            }
            free(name);
        }
        /* A definition named twice (by name and by ARN, say) is described once. */
        if (kl.n) qsort(kl.keys, kl.n, sizeof(char *), key_qsort_cmp);
        size_t w = 0;
        for (size_t r = 0; r < kl.n; r++) {
            if (w > 0 && strcmp(kl.keys[w - 1], kl.keys[r]) == 0) free(kl.keys[r]);
            else kl.keys[w++] = kl.keys[r];
        }
        kl.n = w;
    } else if (only_name) {
        keys_of_name(st, &kl, only_name);
    } else {
        size_t n;
        const char **all = reg_sorted_keys(&st->jd, reg_jd_key_cmp, &n);
        for (size_t i = 0; i < n; i++) keys_add(&kl, xstrdup(all[i]));
        free(all);
    }
    if (status) {
        size_t w = 0;
        for (size_t r = 0; r < kl.n; r++) {
            json_t *jd = reg_get(&st->jd, kl.keys[r]);
            if (has_status(jd, status))
                kl.keys[w++] = kl.keys[r];
            else
                free(kl.keys[r]);
        }
        kl.n = w;
    }
    size_t start, end;
    int rc = api_page(c, req, out, "job-definition", (const char *const *)kl.keys, kl.n,
                      reg_jd_key_cmp, API_DESCRIBE_MAX, &start, &end);
    for (size_t i = start; rc == 0 && i < end; i++)
        json_array_append(list, reg_get(&st->jd, kl.keys[i]));
    keys_free(&kl);
    return rc;
}

/* Deregistering -------------------------------------------------------------------------- */

static int deregister_jd(api_ctx *c, json_t *req, json_t **resp)
{
    const char *ref = api_str(req, "jobDefinition");
    char *name;
    long rev;
    if (jobdef_parse_ref(ref, &name, &rev) < 0)
        return api_client_error(c, "jobDefinition: '%.200s' is not a job definition "
                                   "name:revision or ARN", ref);
    if (rev == 0) {
        api_client_error(c, "jobDefinition: '%.200s' has no revision; give name:revision (for "
                            "example %.128s:1) or the definition's full ARN", ref, name);
        free(name);
        return -1;
    }
    char *key = xasprintf("%s:%ld", name, rev);
    free(name);
    json_t *jd = reg_get(&c->st->jd, key);
    if (!jd) {
        api_client_error(c, "jobDefinition: no job definition '%s'", key);
        free(key);
        return -1;
    }
    /* Deregistering twice is not an error: the definition is INACTIVE either way. */
    if (jobdef_is_active(jd)) {
        json_t *next = json_deep_copy(jd);
        json_object_set_new(next, "status", json_string(JOBDEF_INACTIVE));
        reg_put(c->st, &c->st->jd, key, next);
    }
    free(key);
    *resp = json_object();
    return 0;
}

api_op api_jd_ops[] = {
    /* The table's limit is AWS's 24 KiB; jobdef_init replaces it with the configured one. */
    {"RegisterJobDefinition", "POST", "/v1/registerjobdefinition",
     "{jobDefinitionName:s!, type:e(container|multinode)!, parameters:m<s>,"
     " schedulingPriority:i(0..9999), containerProperties:@ContainerProperties,"
     " nodeProperties:@NodeProperties, retryStrategy:@RetryStrategy, propagateTags:b,"
     " timeout:@JobTimeout, tags:@Tags, platformCapabilities:[e(EC2|FARGATE)],"
     " eksProperties:*, ecsProperties:*, consumableResourceProperties:*}",
     register_jd, 24 * 1024, NULL},
    {"DescribeJobDefinitions", "POST", "/v1/describejobdefinitions",
     "{jobDefinitions:[s], maxResults:i, jobDefinitionName:s, status:s, nextToken:s}",
     describe_jd, 0, NULL},
    {"DeregisterJobDefinition", "POST", "/v1/deregisterjobdefinition", "{jobDefinition:s!}",
     deregister_jd, 0, NULL},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};

void jobdef_init(void)
{
    jobdef_define_shapes();
    for (api_op *op = api_jd_ops; op->name; op++)
        if (strcmp(op->name, "RegisterJobDefinition") == 0 && barge_cfg.max_jobdef_body)
            op->max_body = barge_cfg.max_jobdef_body;
}
