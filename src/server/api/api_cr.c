/* api_cr — consumable resources: Create, Describe, List, Update, Delete, and the jobs that need
 * one (ListJobsByConsumableResource).  model/consumable.h says how jobs hold them.
 *
 * Decisions where AWS documents no rule: totalQuantity is 0 to 10^15; a resource some
 * unfinished job still holds cannot be deleted (the job could otherwise never finish cleanly);
 * an update that would take the total below zero is refused; a clientToken makes an update
 * happen once for as long as the server runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"
#include "common/util.h"
#include "server/model/arn.h"
#include "server/model/consumable.h"
#include "server/model/jobs.h"
#include "server/model/registry.h"
#include "server/model/state.h"
#include "server/api/api.h"

#define QUANTITY_MAX CONSUMABLE_QUANTITY_MAX
#define LIST_MAX 100

static json_t *find_cr(api_ctx *c, const char *v, char **name_out)
{
    char *name = api_name_or_arn(c, v, ARN_CR, "consumableResource");
    if (!name) return NULL;
    json_t *cr = reg_get(&c->st->cr, name);
    if (!cr) {
        api_client_error(c, "consumableResource: no consumable resource named '%s'", name);
        free(name);
        return NULL;
    }
    *name_out = name;
    return cr;
}

static int check_quantity(api_ctx *c, json_t *v, const char *field)
{
    json_int_t q = json_integer_value(v);
    if (q < 0 || q > QUANTITY_MAX)
        return api_client_error(c, "%s: must be between 0 and %lld (got %lld)", field,
                                QUANTITY_MAX, (long long)q);
    return 0;
}

static int create_cr(api_ctx *c, json_t *req, json_t **resp)
{
    const char *name = api_str(req, "consumableResourceName");
    if (api_check_name(c, name, "consumableResourceName") < 0) return -1;
    if (reg_get(&c->st->cr, name))
        return api_client_error(c, "consumableResourceName: a consumable resource named '%s' "
                                   "already exists", name);
    json_t *total = json_object_get(req, "totalQuantity");
    if (total && check_quantity(c, total, "totalQuantity") < 0) return -1;
    if (api_check_tags(c, json_object_get(req, "tags"), "tags") < 0) return -1;
    const char *type = api_str(req, "resourceType");
    char *arn = arn_make(ARN_CR, name);
    json_t *cr = json_pack("{s:s, s:s, s:I, s:s, s:I}", "consumableResourceName", name,
                           "consumableResourceArn", arn, "totalQuantity",
                           total ? json_integer_value(total) : (json_int_t)0, "resourceType",
                           type ? type : CONSUMABLE_REPLENISHABLE, "createdAt",
                           (json_int_t)util_now_ms());
    json_object_set_new(cr, "tags", json_deep_copy(json_object_get(req, "tags")) ?: json_object());
    reg_put(c->st, &c->st->cr, name, cr);
    *resp = json_pack("{s:s, s:s}", "consumableResourceName", name, "consumableResourceArn", arn);
    free(arn);
    return 0;
}

/* The description with what is held now. */
static json_t *described(api_ctx *c, json_t *cr)
{
    json_t *d = json_copy(cr);
    const char *name = json_string_value(json_object_get(cr, "consumableResourceName"));
    long long total = json_integer_value(json_object_get(cr, "totalQuantity"));
    long long used = consumable_in_use(c->st, name);
    json_object_set_new(d, "inUseQuantity", json_integer(used));
    json_object_set_new(d, "availableQuantity", json_integer(total > used ? total - used : 0));
    return d;
}

static int describe_cr(api_ctx *c, json_t *req, json_t **resp)
{
    char *name;
    json_t *cr = find_cr(c, api_str(req, "consumableResource"), &name);
    if (!cr) return -1;
    free(name);
    *resp = described(c, cr);
    return 0;
}

/* CONSUMABLE_RESOURCE_NAME, and JOB_NAME: without regard to case; a trailing '*' matches any
 * rest. */
static int name_matches(const char *pattern, const char *name)
{
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*') return strncasecmp(pattern, name, n - 1) == 0;
    return strcasecmp(pattern, name) == 0;
}

/* The one value of each filter this call knows; -1 after reporting a bad one. */
static int read_filters(api_ctx *c, json_t *req, const char *const *names, const char **values)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(req, "filters"), i, f) {
        const char *name = api_str(f, "name");
        json_t *vs = json_object_get(f, "values");
        size_t k = 0;
        while (names[k] && (!name || strcmp(names[k], name) != 0)) k++;
        if (!names[k])
            return api_client_error(c, "filters[%zu].name: '%.40s' is not one this call takes "
                                       "(%s%s%s)", i, name ? name : "", names[0],
                                    names[1] ? " or " : "", names[1] ? names[1] : "");
        if (json_array_size(vs) != 1 || !json_is_string(json_array_get(vs, 0)))
            return api_client_error(c, "filters[%zu].values: give exactly one value", i);
        values[k] = json_string_value(json_array_get(vs, 0));
    }
    return 0;
}

static int list_cr(api_ctx *c, json_t *req, json_t **resp)
{
    static const char *const names[] = {"CONSUMABLE_RESOURCE_NAME", NULL};
    const char *values[1] = {NULL};
    if (read_filters(c, req, names, values) < 0) return -1;
    json_t *out = json_object(), *list = json_array();
    json_object_set_new(out, "consumableResources", list);
    *resp = out;
    size_t n, start, end, kept = 0;
    const char **all = reg_sorted_keys(&c->st->cr, strcmp, &n);
    const char **keys = xmalloc((n ? n : 1) * sizeof *keys);
    for (size_t i = 0; i < n; i++)
        if (!values[0] || name_matches(values[0], all[i])) keys[kept++] = all[i];
    int rc = api_page(c, req, out, "consumable-resource", keys, kept, strcmp,
                      LIST_MAX, &start, &end);
    for (size_t i = start; rc == 0 && i < end; i++) {
        json_t *d = described(c, reg_get(&c->st->cr, keys[i]));
        json_array_append_new(list, json_pack(
            "{s:O, s:O, s:O, s:O, s:O}", "consumableResourceArn",
            json_object_get(d, "consumableResourceArn"), "consumableResourceName",
            json_object_get(d, "consumableResourceName"), "totalQuantity",
            json_object_get(d, "totalQuantity"), "inUseQuantity",
            json_object_get(d, "inUseQuantity"), "resourceType",
            json_object_get(d, "resourceType")));
        json_decref(d);
    }
    free(keys);
    free(all);
    return rc;
}

/* "NAME\nclientToken" -> {"body": the update, "at": ms}: the same update sent twice within
 * TOKEN_KEPT_MS happens once (AWS keeps a token 8 hours).  Kept while the server runs; tokens
 * past their time go at most once a minute, and a resource's with it. */
static json_t *seen_tokens;
static int64_t tokens_swept_ms;
#define TOKEN_KEPT_MS (8 * 3600 * INT64_C(1000))
#define TOKEN_MAX 64

static void forget_tokens(int64_t now_ms, const char *name)
{
    const char *key;
    json_t *v;
    void *tmp;
    size_t n = name ? strlen(name) : 0;
    json_object_foreach_safe(seen_tokens, tmp, key, v) {
        if (name ? strncmp(key, name, n) == 0 && key[n] == '\n'
                 : now_ms - json_integer_value(json_object_get(v, "at")) >= TOKEN_KEPT_MS)
            json_object_del(seen_tokens, key);
    }
}

static int update_cr(api_ctx *c, json_t *req, json_t **resp)
{
    const char *token = api_str(req, "clientToken");
    size_t token_chars = token ? util_utf8_chars(token) : 0;
    if (token && (token_chars < 1 || token_chars > TOKEN_MAX))
        return api_client_error(c, "clientToken: must be 1 to %d characters long (got %zu)",
                                TOKEN_MAX, token_chars);
    char *name;
    json_t *cr = find_cr(c, api_str(req, "consumableResource"), &name);
    if (!cr) return -1;
    char *key = token ? xasprintf("%s\n%s", name, token) : NULL;
    json_t *body = json_copy(req);
    json_object_del(body, "clientToken");
    if (key && !seen_tokens) seen_tokens = json_object();
    if (seen_tokens && c->now_ms - tokens_swept_ms >= 60000) {
        forget_tokens(c->now_ms, NULL);
        tokens_swept_ms = c->now_ms;
    }
    json_t *seen = key ? json_object_get(seen_tokens, key) : NULL;
    json_t *before = seen ? json_object_get(seen, "body") : NULL;
    int rc = -1;
    if (before && !json_equal(before, body)) {
        api_client_error(c, "clientToken: '%.64s' was already used for a different update of "
                            "consumable resource '%s'", token, name);
        goto out;
    }
    long long total = json_integer_value(json_object_get(cr, "totalQuantity"));
    json_t *qv = json_object_get(req, "quantity");
    if (qv && check_quantity(c, qv, "quantity") < 0) goto out;
    if (!before && qv) {
        const char *op = api_str(req, "operation");
        long long q = json_integer_value(qv), next = total;
        if (!op || strcmp(op, "SET") == 0) next = q;
        else if (strcmp(op, "ADD") == 0) next = total + q;
        else next = total - q;
        if (next < 0 || next > QUANTITY_MAX) {
            api_client_error(c, "quantity: %s %lld would make the total %lld; it must stay "
                                "between 0 and %lld", op ? op : "SET", q, next, QUANTITY_MAX);
            goto out;
        }
        if (next != total) {
            json_t *upd = json_deep_copy(cr);
            json_object_set_new(upd, "totalQuantity", json_integer(next));
            reg_put(c->st, &c->st->cr, name, upd);
            /* Quantity that came back may let a waiting job run. */
            c->st->jobs->sched_needed = 1;
            total = next;
        }
    }
    if (key && !seen)
        json_object_set_new(seen_tokens, key,
                            json_pack("{s:O, s:I}", "body", body, "at", (json_int_t)c->now_ms));
    /* Read again: an update replaced the description cr pointed at. */
    cr = reg_get(&c->st->cr, name);
    *resp = json_pack("{s:s, s:O, s:I}", "consumableResourceName", name, "consumableResourceArn",
                      json_object_get(cr, "consumableResourceArn"), "totalQuantity",
                      (json_int_t)total);
    rc = 0;
out:
    json_decref(body);
    free(key);
    free(name);
    return rc;
}

static int delete_cr(api_ctx *c, json_t *req, json_t **resp)
{
    char *name;
    json_t *cr = find_cr(c, api_str(req, "consumableResource"), &name);
    if (!cr) return -1;
    long long held = consumable_in_use(c->st, name);
    if (held > 0) {
        api_client_error(c, "consumableResource: %lld of '%s' is held by running jobs; delete it "
                            "once they end", held, name);
        free(name);
        return -1;
    }
    reg_del(c->st, &c->st->cr, name);
    if (seen_tokens) forget_tokens(c->now_ms, name);
    free(name);
    *resp = json_object();
    return 0;
}

/* Whether j needs the resource; *quantity how much. */
static int needs(const job *j, const char *name, long long *quantity)
{
    const jobspec_need *n;
    size_t k = jobspec_consumables(j->spec, &n);
    for (size_t i = 0; i < k; i++) {
        if (strcmp(n[i].name, name) == 0) {
            *quantity = n[i].quantity;
            return 1;
        }
    }
    return 0;
}

static int by_seq(const void *a, const void *b)
{
    const job *x = *(const job *const *)a, *y = *(const job *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

typedef struct gather {
    const char *cr;
    job **jobs;
    size_t n, cap;
} gather;

static void gather_needing(jq_rt *q, void *arg)
{
    gather *g = arg;
    for (size_t i = 0; i < q->n_all; i++) {
        long long qty;
        if (!needs(q->all[i], g->cr, &qty)) continue;
        if (g->n == g->cap) {
            g->cap = g->cap ? g->cap * 2 : 64;
            g->jobs = xrealloc(g->jobs, g->cap * sizeof *g->jobs);
        }
        g->jobs[g->n++] = q->all[i];
    }
}

static int list_jobs_by_cr(api_ctx *c, json_t *req, json_t **resp)
{
    static const char *const names[] = {"JOB_STATUS", "JOB_NAME", NULL};
    const char *values[2] = {NULL, NULL};
    if (read_filters(c, req, names, values) < 0) return -1;
    int status = values[0] ? job_status_parse(values[0]) : -1;
    if (values[0] && status < 0)
        return api_client_error(c, "filters: JOB_STATUS '%.20s' is not a job status", values[0]);
    char *name;
    if (!find_cr(c, api_str(req, "consumableResource"), &name)) return -1;
    json_int_t max = api_int(req, "maxResults", LIST_MAX);
    if (max < 1 || max > LIST_MAX) {
        free(name);
        return api_client_error(c, "maxResults: must be between 1 and %d", LIST_MAX);
    }
    /* Pages follow the jobs' submit order (and children's index): the token is where the next
     * one starts. */
    unsigned long long from_seq = 0, from_index = 0;
    const char *token = api_str(req, "nextToken");
    if (token && *token && sscanf(token, "%llu.%llu", &from_seq, &from_index) != 2) {
        free(name);
        return api_client_error(c, "nextToken: '%.64s' is not a token this server issued", token);
    }
    /* Every queue's jobs (a deleted queue's too), in submit order across queues. */
    gather g = {name, NULL, 0, 0};
    jobs_each_queue(c->st->jobs, gather_needing, &g);
    job **all = g.jobs;
    size_t n = g.n;
    if (n > 1) qsort(all, n, sizeof *all, by_seq); /* all is NULL when no job needs it */
    json_t *list = json_array(), *out = json_pack("{s:o}", "jobs", list);
    for (size_t i = 0; i < n; i++) {
        job *top = all[i];
        uint32_t count = top->children ? top->array_size : 1;
        for (uint32_t x = 0; x < count; x++) {
            job *j = top->children ? top->children[x] : top;
            if (top->seq < from_seq || (top->seq == from_seq && x < from_index)) continue;
            if (status >= 0 && j->status != status) continue;
            if (values[1] && !name_matches(values[1], j->spec->name)) continue;
            if (json_array_size(list) == (size_t)max) {
                char next[48];
                snprintf(next, sizeof next, "%llu.%u", (unsigned long long)top->seq, x);
                json_object_set_new(out, "nextToken", json_string(next));
                goto done;
            }
            long long qty = 0;
            needs(j, name, &qty);
            char *jarn = arn_make(ARN_JOB, j->id);
            json_t *s = json_pack("{s:s, s:o, s:s, s:o, s:s, s:I, s:I, s:o}", "jobArn", jarn,
                                  "jobQueueArn", jobspec_shared(j->spec, "jobQueue")
                                                     ? json_incref(jobspec_shared(j->spec, "jobQueue"))
                                                     : json_string(""),
                                  "jobName", j->spec->name, "jobDefinitionArn",
                                  jobspec_shared(j->spec, "jobDefinition")
                                      ? json_incref(jobspec_shared(j->spec, "jobDefinition"))
                                      : json_string(""),
                                  "jobStatus", job_status_name(j->status), "quantity",
                                  (json_int_t)qty, "createdAt", (json_int_t)j->created_at,
                                  "consumableResourceProperties",
                                  json_incref(jobspec_shared(j->spec,
                                                             "consumableResourceProperties")));
            free(jarn);
            if (jobspec_share(j->spec))
                json_object_set_new(s, "shareIdentifier", json_string(jobspec_share(j->spec)));
            if (j->reason) json_object_set_new(s, "statusReason", json_string(j->reason));
            if (j->started_at) json_object_set_new(s, "startedAt", json_integer(j->started_at));
            json_array_append_new(list, s);
        }
    }
done:
    free(all);
    free(name);
    *resp = out;
    return 0;
}

#define QTY "l"
api_op api_cr_ops[] = {
    {"CreateConsumableResource", "POST", "/v1/createconsumableresource",
     "{consumableResourceName:s!, totalQuantity:" QTY ", "
     "resourceType:e(REPLENISHABLE|NON_REPLENISHABLE), tags:@Tags}",
     create_cr, 0, NULL},
    {"DescribeConsumableResource", "POST", "/v1/describeconsumableresource",
     "{consumableResource:s!}", describe_cr, 0, NULL},
    {"ListConsumableResources", "POST", "/v1/listconsumableresources",
     "{filters:[{name:s, values:[s]}], maxResults:i, nextToken:s}", list_cr, 0, NULL},
    {"UpdateConsumableResource", "POST", "/v1/updateconsumableresource",
     "{consumableResource:s!, operation:e(SET|ADD|REMOVE), quantity:" QTY ", clientToken:s}",
     update_cr, 0, NULL},
    {"DeleteConsumableResource", "POST", "/v1/deleteconsumableresource",
     "{consumableResource:s!}", delete_cr, 0, NULL},
    {"ListJobsByConsumableResource", "POST", "/v1/listjobsbyconsumableresource",
     "{consumableResource:s!, filters:[{name:s, values:[s]}], maxResults:i, nextToken:s}",
     list_jobs_by_cr, 0, NULL},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
