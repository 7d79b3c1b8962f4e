/* api_sp — scheduling policies: Create, Describe, List, Update, Delete.
 *
 * A policy is kept as its AWS description (name, arn, fairsharePolicy or quotaSharePolicy,
 * tags) under its name; it is what fair-share scheduling of the queues that name it follows.
 * These operations check it, complete it with the defaults AWS documents and echo it back.
 *
 * Decisions where AWS's documentation is silent:
 * - A policy created with neither fairsharePolicy nor quotaSharePolicy is a fair-share policy
 *   with every default (no decay, no reservation, weight 1.0 for every share), which is what an
 *   empty fairsharePolicy means.
 * - quotaSharePolicy is stored and echoed like fairsharePolicy; the two are exclusive and a
 *   policy never changes from one kind to the other, as the API reference says.
 * - UpdateSchedulingPolicy replaces the policy's fairsharePolicy as a whole (members left out
 *   take their defaults again) rather than merging, so the result is what the caller sent.
 * - The "arn" fields take a scheduling-policy ARN in any region and account, or a bare name,
 *   as the other resources' name-or-ARN fields do.  DescribeSchedulingPolicies skips ARNs of
 *   policies that do not exist (as the other Describe operations do) but refuses malformed
 *   ones, which are always a caller's mistake. */
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "server/model/arn.h"
#include "server/model/registry.h"
#include "server/model/state.h"
#include "server/api/api.h"

/* The fair-share limits of the API reference (SchedulingPolicyDetail, ShareAttributes). */
#define MAX_DECAY_SECONDS 604800 /* one week */
#define MAX_COMPUTE_RESERVATION 99
#define MAX_SHARES 500
#define MAX_SHARE_ID 255
#define MIN_WEIGHT 0.0001
#define MAX_WEIGHT 999.9999

#define FAIRSHARE_SHAPE                                                                       \
    "{shareDecaySeconds:i, computeReservation:i,"                                             \
    " shareDistribution:[{shareIdentifier:s!, weightFactor:f}]}"
#define QUOTASHARE_SHAPE "{idleResourceAssignmentStrategy:e(FIFO)!}"

/* The policy name in an "arn" field (an ARN or a bare name), fresh; NULL if it is neither. */
static char *policy_name(const char *v)
{
    char *name = api_key_of(v, ARN_SP);
    if (name && !arn_name_valid(name)) {
        free(name);
        return NULL;
    }
    return name;
}

static json_t *find_sp(api_ctx *c, const char *v, const char *field, char **name_out)
{
    char *name = policy_name(v);
    if (!name) {
        api_client_error(c, "%s: '%.200s' is not a scheduling policy ARN "
                            "(arn:aws:batch:REGION:ACCOUNT:scheduling-policy/NAME)", field,
                         v ? v : "");
        return NULL;
    }
    json_t *sp = reg_get(&c->st->sp, name);
    if (!sp) {
        api_client_error(c, "%s: no scheduling policy named '%s'", field, name);
        free(name);
        return NULL;
    }
    *name_out = name;
    return sp;
}

/* Checks a share identifier: 1 to 255 letters and digits, optionally followed by '*' to make
 * it a prefix. */
static int share_id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n && s[n - 1] == '*') n--;
    if (n < 1 || n > MAX_SHARE_ID) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return 0;
    }
    return 1;
}

/* Two entries overlap when some share identifier would match both: a job could not tell which
 * weight applies, which is why AWS refuses "UserA*" next to "UserA1". */
static int shares_overlap(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    int pa = a[la - 1] == '*', pb = b[lb - 1] == '*';
    la -= (size_t)pa;
    lb -= (size_t)pb;
    if (pa && lb >= la && strncmp(a, b, la) == 0) return 1;
    if (pb && la >= lb && strncmp(a, b, lb) == 0) return 1;
    return la == lb && strncmp(a, b, la) == 0;
}

/* Checks a fairsharePolicy (NULL means an empty one) and returns a fresh copy with the
 * defaults filled in, or NULL after reporting what is wrong. */
static json_t *fairshare_of(api_ctx *c, json_t *fp)
{
    json_int_t decay = api_int(fp, "shareDecaySeconds", 0);
    if (decay < 0 || decay > MAX_DECAY_SECONDS) {
        api_client_error(c, "fairsharePolicy.shareDecaySeconds: must be between 0 and %d "
                            "seconds (one week); got %lld", MAX_DECAY_SECONDS, (long long)decay);
        return NULL;
    }
    json_int_t reserve = api_int(fp, "computeReservation", 0);
    if (reserve < 0 || reserve > MAX_COMPUTE_RESERVATION) {
        api_client_error(c, "fairsharePolicy.computeReservation: must be between 0 and %d "
                            "(a percentage); got %lld", MAX_COMPUTE_RESERVATION,
                         (long long)reserve);
        return NULL;
    }
    json_t *dist = json_object_get(fp, "shareDistribution");
    if (json_array_size(dist) > MAX_SHARES) {
        api_client_error(c, "fairsharePolicy.shareDistribution: at most %d share identifiers "
                            "are allowed (got %zu)", MAX_SHARES, json_array_size(dist));
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    json_t *e;
    json_array_foreach(dist, i, e) {
        const char *id = api_str(e, "shareIdentifier");
        if (!share_id_valid(id)) {
            api_client_error(c, "fairsharePolicy.shareDistribution[%zu].shareIdentifier: "
                                "'%.64s' is not valid; use 1 to %d letters, digits and "
                                "underscores, "
                                "optionally followed by '*' to match every identifier that "
                                "starts with them", i, id, MAX_SHARE_ID);
            goto fail;
        }
        json_t *wv = json_object_get(e, "weightFactor");
        double w = wv ? json_number_value(wv) : 1.0;
        /* 0 is what Terraform sends for a weight left out: kept as given, it means the
         * default, 1.0 (fairshare_weight). */
        if (w != 0 && (w < MIN_WEIGHT || w > MAX_WEIGHT)) {
            api_client_error(c, "fairsharePolicy.shareDistribution[%zu].weightFactor: must be "
                                "between 0.0001 and 999.9999 (or 0 for the default, 1.0); got "
                                "%.10g", i, w);
            goto fail;
        }
        for (size_t j = 0; j < i; j++) {
            const char *other = api_str(json_array_get(dist, j), "shareIdentifier");
            if (shares_overlap(id, other)) {
                api_client_error(c, "fairsharePolicy.shareDistribution[%zu].shareIdentifier: "
                                    "'%.64s' overlaps '%.64s' of shareDistribution[%zu]; share "
                                    "identifiers and prefixes must not match the same "
                                    "identifier", i, id, other, j);
                goto fail;
            }
        }
        json_array_append_new(out, json_pack("{s:s, s:f}", "shareIdentifier", id,
                                             "weightFactor", w));
    }
    return json_pack("{s:I, s:I, s:o}", "shareDecaySeconds", (json_int_t)decay,
                     "computeReservation", (json_int_t)reserve, "shareDistribution", out);
fail:
    json_decref(out);
    return NULL;
}

static int create_sp(api_ctx *c, json_t *req, json_t **resp)
{
    const char *name = api_str(req, "name");
    json_t *fp = json_object_get(req, "fairsharePolicy");
    json_t *qp = json_object_get(req, "quotaSharePolicy");
    json_t *tags = json_object_get(req, "tags");
    if (api_check_name(c, name, "name") < 0) return -1;
    if (reg_get(&c->st->sp, name))
        return api_client_error(c, "name: a scheduling policy named '%s' already exists", name);
    if (fp && qp)
        return api_client_error(c, "quotaSharePolicy: a scheduling policy has either a "
                                   "fairsharePolicy or a quotaSharePolicy, not both");
    if (api_check_tags(c, tags, "tags") < 0) return -1;
    json_t *policy = qp ? json_deep_copy(qp) : fairshare_of(c, fp);
    if (!policy) return -1;
    char *arn = arn_make(ARN_SP, name);
    json_t *sp = json_pack("{s:s, s:s, s:o, s:o}", "name", name, "arn", arn,
                           qp ? "quotaSharePolicy" : "fairsharePolicy", policy, "tags",
                           tags ? json_deep_copy(tags) : json_object());
    reg_put(c->st, &c->st->sp, name, sp);
    *resp = json_pack("{s:s, s:s}", "name", name, "arn", arn);
    free(arn);
    return 0;
}

static int describe_sp(api_ctx *c, json_t *req, json_t **resp)
{
    json_t *arns = json_object_get(req, "arns");
    if (json_array_size(arns) > API_DESCRIBE_MAX)
        return api_client_error(c, "arns: at most %d ARNs per call (got %zu)", API_DESCRIBE_MAX,
                                json_array_size(arns));
    json_t *list = json_array(), *seen = json_object();
    size_t i;
    json_t *v;
    json_array_foreach(arns, i, v) {
        char *name = policy_name(json_string_value(v));
        if (!name) {
            api_client_error(c, "arns[%zu]: '%.200s' is not a scheduling policy ARN "
                                "(arn:aws:batch:REGION:ACCOUNT:scheduling-policy/NAME)", i,
                             json_string_value(v));
            json_decref(list);
            json_decref(seen);
            return -1;
        }
        /* A policy named twice is described once. */
        json_t *sp = reg_get(&c->st->sp, name);
        if (sp && !json_object_get(seen, name)) {
            json_array_append(list, sp);
            json_object_set_new(seen, name, json_true());
        }
        free(name);
    }
    json_decref(seen);
    *resp = json_pack("{s:o}", "schedulingPolicies", list);
    return 0;
}

static int list_sp(api_ctx *c, json_t *req, json_t **resp)
{
    json_t *out = json_object(), *list = json_array();
    json_object_set_new(out, "schedulingPolicies", list);
    *resp = out;
    size_t n, start, end;
    const char **keys = reg_sorted_keys(&c->st->sp, strcmp, &n);
    int rc = api_page(c, req, out, "scheduling-policy", keys, n, strcmp,
                      API_DESCRIBE_MAX, &start, &end);
    for (size_t i = start; rc == 0 && i < end; i++)
        json_array_append_new(list, json_pack("{s:O}", "arn",
                                              json_object_get(reg_get(&c->st->sp, keys[i]),
                                                              "arn")));
    free(keys);
    return rc;
}

static int update_sp(api_ctx *c, json_t *req, json_t **resp)
{
    char *name = NULL;
    json_t *sp = find_sp(c, api_str(req, "arn"), "arn", &name);
    if (!sp) return -1;
    int rc = -1;
    json_t *fp = json_object_get(req, "fairsharePolicy");
    json_t *qp = json_object_get(req, "quotaSharePolicy");
    if (fp && qp) {
        api_client_error(c, "quotaSharePolicy: a scheduling policy has either a "
                            "fairsharePolicy or a quotaSharePolicy, not both");
        goto out;
    }
    /* The kind of a policy is fixed when it is created. */
    const char *has = json_object_get(sp, "quotaSharePolicy") ? "quotaSharePolicy"
                                                               : "fairsharePolicy";
    const char *given = fp ? "fairsharePolicy" : qp ? "quotaSharePolicy" : NULL;
    if (given && strcmp(given, has) != 0) {
        api_client_error(c, "%s: scheduling policy '%s' has a %s, and a policy's kind cannot "
                            "change; create a new scheduling policy instead", given, name, has);
        goto out;
    }
    if (given) {
        json_t *policy = qp ? json_deep_copy(qp) : fairshare_of(c, fp);
        if (!policy) goto out;
        if (json_equal(policy, json_object_get(sp, has))) {
            json_decref(policy);
        } else {
            json_t *next = json_deep_copy(sp);
            json_object_set_new(next, has, policy);
            reg_put(c->st, &c->st->sp, name, next);
        }
    }
    *resp = json_object();
    rc = 0;
out:
    free(name);
    return rc;
}

static int delete_sp(api_ctx *c, json_t *req, json_t **resp)
{
    char *name = NULL;
    json_t *sp = find_sp(c, api_str(req, "arn"), "arn", &name);
    if (!sp) return -1;
    /* A queue scheduled by this policy would be left without its fair-share rules; AWS
     * refuses, and the caller must delete the queue first (a queue's policy can be replaced
     * but not removed). */
    buf users = {0};
    const char *qname;
    json_t *q;
    json_object_foreach(c->st->jq.items, qname, q) {
        char *used = policy_name(api_str(q, "schedulingPolicyArn"));
        if (used && strcmp(used, name) == 0)
            buf_printf(&users, "%s'%s'", users.len ? ", " : "", qname);
        free(used);
    }
    int rc = 0;
    if (users.len) {
        rc = api_client_error(c, "arn: scheduling policy '%s' is used by job queue %s; delete "
                                 "those queues or give them another scheduling policy first",
                              name, users.data);
    } else {
        reg_del(c->st, &c->st->sp, name);
        *resp = json_object();
    }
    buf_free(&users);
    free(name);
    return rc;
}

api_op api_sp_ops[] = {
    {"CreateSchedulingPolicy", "POST", "/v1/createschedulingpolicy",
     "{name:s!, fairsharePolicy:" FAIRSHARE_SHAPE ", quotaSharePolicy:" QUOTASHARE_SHAPE
     ", tags:@Tags}",
     create_sp, 0, NULL},
    {"DescribeSchedulingPolicies", "POST", "/v1/describeschedulingpolicies", "{arns:@Strings!}",
     describe_sp, 0, NULL},
    {"ListSchedulingPolicies", "POST", "/v1/listschedulingpolicies",
     "{maxResults:i, nextToken:s}", list_sp, 0, NULL},
    {"UpdateSchedulingPolicy", "POST", "/v1/updateschedulingpolicy",
     "{arn:s!, fairsharePolicy:" FAIRSHARE_SHAPE ", quotaSharePolicy:" QUOTASHARE_SHAPE "}",
     update_sp, 0, NULL},
    {"DeleteSchedulingPolicy", "POST", "/v1/deleteschedulingpolicy", "{arn:s!}", delete_sp, 0,
     NULL},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
