#include "server/model/resource.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/catalog.h"
#include "common/dict.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/model/arn.h"
#include "server/model/jobs.h"
#include "server/model/registry.h"

/* The records of one state.  Created on first use, so that loading needs no step of its own. */
typedef struct res_index {
    dict ces; /* name -> ce_rec, live or not; keyed by the record's own name */
    dict jqs; /* name -> jq_rec */
    jq_rec **by_priority; /* the live queues, sorted when sorted is 0 */
    size_t n_by_priority;
    int sorted;
} res_index;

static const char *const status_names[] = {"CREATING", "UPDATING", "VALID",
                                           "INVALID",  "DELETING", "DELETED"};
static const char *const state_names[] = {"ENABLED", "DISABLED"};
#define N_STATUS (sizeof status_names / sizeof status_names[0])

const char *res_status_name(res_status s)
{
    BARGE_ASSERT((size_t)s < N_STATUS);
    return status_names[s];
}

const char *res_state_name(res_state s)
{
    return s == RES_DISABLED ? state_names[1] : state_names[0];
}

int res_jq_fargate(const jq_rec *q)
{
    for (size_t i = 0; i < q->n_ces; i++)
        if (q->ces[i]->live) return q->ces[i]->fargate;
    return -1;
}

int res_is_fargate_type(const char *type)
{
    return type && (strcmp(type, "FARGATE") == 0 || strcmp(type, "FARGATE_SPOT") == 0);
}

int res_ce_usable(const ce_rec *ce)
{
    return ce->state == RES_ENABLED && (ce->status == RES_VALID || ce->status == RES_UPDATING);
}

int res_jq_usable(const jq_rec *q)
{
    return q->state == RES_ENABLED && res_jq_places(q);
}

int res_jq_places(const jq_rec *q)
{
    return q->status != RES_DELETING && q->status != RES_DELETED;
}

static res_index *index_of(state *st)
{
    if (!st->res) {
        st->res = xcalloc(1, sizeof *st->res);
        dict_init(&st->res->ces);
        dict_init(&st->res->jqs);
    }
    return st->res;
}

ce_rec *res_ce(state *st, const char *name)
{
    ce_rec *ce = dict_get(&index_of(st)->ces, name);
    return ce && ce->live ? ce : NULL;
}

char *res_ce_profile(state *st, const char *name)
{
    json_t *cr = json_object_get(reg_get(&st->ce, name), "computeResources");
    const char *p = json_string_value(json_object_get(cr, "instanceRole"));
    return p && *p ? xstrdup(p) : NULL;
}

jq_rec *res_jq(state *st, const char *name)
{
    jq_rec *q = dict_get(&index_of(st)->jqs, name);
    return q && q->live ? q : NULL;
}

/* The record of name, created not live (and unusable) if there is none yet. */
static ce_rec *ce_slot(res_index *ix, const char *name)
{
    ce_rec *ce = dict_get(&ix->ces, name);
    if (!ce) {
        ce = xcalloc(1, sizeof *ce);
        ce->name = xstrdup(name);
        ce->state = RES_DISABLED;
        ce->status = RES_DELETED;
        dict_put(&ix->ces, ce->name, ce);
    }
    return ce;
}

static jq_rec *jq_slot(res_index *ix, const char *name)
{
    jq_rec *q = dict_get(&ix->jqs, name);
    if (!q) {
        q = xcalloc(1, sizeof *q);
        q->name = xstrdup(name);
        q->state = RES_DISABLED;
        q->status = RES_DELETED;
        dict_put(&ix->jqs, q->name, q);
    }
    return q;
}

/* 0 for records written before it was kept. */
static uint64_t res_jq_first_seq(json_t *desc)
{
    json_int_t n = json_integer_value(
        json_object_get(json_object_get(desc, RES_M_BARGE), RES_M_FIRST_SEQ));
    return n > 0 ? (uint64_t)n : 0;
}

/* ---- parsing ---------------------------------------------------------------------------- */

/* Each getter returns 0, or -1 with *why naming the member (path is its place, as
 * "computeEnvironmentOrder[2].order"). */

static int get_enum(json_t *obj, const char *path, const char *member, const char *const *names,
                    size_t n, int *out, char **why)
{
    json_t *v = json_object_get(obj, member);
    const char *s = json_string_value(v);
    if (!v) {
        *why = xasprintf("member '%s%s' is missing", path, member);
        return -1;
    }
    if (!s) {
        *why = xasprintf("member '%s%s' is not a string", path, member);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    *why = xasprintf("member '%s%s' has the unknown value '%.64s'", path, member, s);
    return -1;
}

/* An integer member that fits an int; absent gives dflt unless required. */
static int get_int(json_t *obj, const char *path, const char *member, int required, int dflt,
                   json_int_t *out, char **why)
{
    json_t *v = json_object_get(obj, member);
    if (!v && !required) {
        *out = dflt;
        return 0;
    }
    if (!v) {
        *why = xasprintf("member '%s%s' is missing", path, member);
        return -1;
    }
    if (!json_is_integer(v)) {
        *why = xasprintf("member '%s%s' is not an integer", path, member);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

/* vCPUs as milli-vCPUs, saturated rather than wrapped for absurd sizes. */
static int to_mvcpus(json_int_t vcpus)
{
    if (vcpus <= 0) return 0;
    return vcpus > INT_MAX / 1000 ? INT_MAX : (int)vcpus * 1000;
}

static void free_types(ce_rec *ce)
{
    for (size_t i = 0; i < ce->n_instance_types; i++) free((char *)ce->instance_types[i]);
    free(ce->instance_types);
    ce->instance_types = NULL;
    ce->n_instance_types = 0;
}

/* Parses an environment's description into *out (a record of its own, not yet in the index). */
static int parse_ce(json_t *desc, ce_rec *out, char **why)
{
    static const char *const types[] = {"MANAGED", "UNMANAGED"};
    int state_, status, type;
    if (get_enum(desc, "", RES_M_STATE, state_names, 2, &state_, why) < 0 ||
        get_enum(desc, "", RES_M_STATUS, status_names, N_STATUS, &status, why) < 0 ||
        get_enum(desc, "", "type", types, 2, &type, why) < 0)
        return -1;
    out->state = (res_state)state_;
    out->status = (res_status)status;
    out->managed = type == 0;
    json_t *cr = json_object_get(desc, "computeResources");
    if (!cr) return 0;
    const char *p = "computeResources.";
    if (!json_is_object(cr)) {
        *why = xasprintf("member 'computeResources' is not an object");
        return -1;
    }
    json_t *t = json_object_get(cr, "type");
    if (t && !json_is_string(t)) {
        *why = xasprintf("member '%stype' is not a string", p);
        return -1;
    }
    json_int_t minv, maxv, desired;
    if (get_int(cr, p, "minvCpus", 0, 0, &minv, why) < 0 ||
        get_int(cr, p, "maxvCpus", 0, 0, &maxv, why) < 0 ||
        get_int(cr, p, "desiredvCpus", 0, 0, &desired, why) < 0)
        return -1;
    json_t *types_in = json_object_get(cr, "instanceTypes");
    if (types_in && !json_is_array(types_in)) {
        *why = xasprintf("member '%sinstanceTypes' is not an array", p);
        return -1;
    }
    size_t i, n = json_array_size(types_in);
    json_t *v;
    json_array_foreach(types_in, i, v) {
        if (!json_is_string(v)) {
            *why = xasprintf("member '%sinstanceTypes[%zu]' is not a string", p, i);
            return -1;
        }
    }
    out->fargate = res_is_fargate_type(json_string_value(t));
    out->spot = json_string_value(t) && strstr(json_string_value(t), "SPOT") != NULL;
    const char *strategy = json_string_value(json_object_get(cr, "allocationStrategy"));
    out->overshoot = strategy && strcmp(strategy, "BEST_FIT") != 0;
    out->min_mvcpus = to_mvcpus(minv);
    out->max_mvcpus = to_mvcpus(maxv);
    out->desired_mvcpus = to_mvcpus(desired);
    out->instance_types = xmalloc((n ? n : 1) * sizeof *out->instance_types);
    json_array_foreach(types_in, i, v) out->instance_types[i] = xstrdup(json_string_value(v));
    out->n_instance_types = n;
    return 0;
}

typedef struct {
    json_int_t order;
    size_t index; /* the entry's place in the description: ties keep it */
    const char *ce;
} order_entry;

static int by_order(const void *a, const void *b)
{
    const order_entry *x = a, *y = b;
    if (x->order != y->order) return x->order < y->order ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Parses a queue's description into *out; its order entries are checked here and left in
 * *entries (sorted, strings borrowed from desc) to be resolved once the whole record is good. */
static int parse_jq(json_t *desc, jq_rec *out, order_entry **entries, size_t *n_entries,
                    char **why)
{
    int state_, status;
    json_int_t priority;
    if (get_enum(desc, "", RES_M_STATE, state_names, 2, &state_, why) < 0 ||
        get_enum(desc, "", RES_M_STATUS, status_names, N_STATUS, &status, why) < 0 ||
        get_int(desc, "", "priority", 1, 0, &priority, why) < 0)
        return -1;
    if (priority < INT_MIN || priority > INT_MAX) {
        *why = xasprintf("member 'priority' (%lld) is out of range", (long long)priority);
        return -1;
    }
    json_t *order = json_object_get(desc, "computeEnvironmentOrder");
    if (!order) {
        *why = xasprintf("member 'computeEnvironmentOrder' is missing");
        return -1;
    }
    if (!json_is_array(order)) {
        *why = xasprintf("member 'computeEnvironmentOrder' is not an array");
        return -1;
    }
    size_t n = json_array_size(order), i;
    order_entry *e = xmalloc((n ? n : 1) * sizeof *e);
    json_t *o;
    json_array_foreach(order, i, o) {
        char path[64];
        snprintf(path, sizeof path, "computeEnvironmentOrder[%zu].", i);
        if (!json_is_object(o)) {
            *why = xasprintf("member 'computeEnvironmentOrder[%zu]' is not an object", i);
            goto fail;
        }
        if (get_int(o, path, "order", 1, 0, &e[i].order, why) < 0) goto fail;
        json_t *ce = json_object_get(o, "computeEnvironment");
        if (!json_is_string(ce)) {
            *why = xasprintf("member '%scomputeEnvironment' is %s", path,
                             ce ? "not a string" : "missing");
            goto fail;
        }
        e[i].ce = json_string_value(ce);
        e[i].index = i;
    }
    qsort(e, n, sizeof *e, by_order);
    out->state = (res_state)state_;
    out->status = (res_status)status;
    out->priority = (int)priority;
    *entries = e;
    *n_entries = n;
    return 0;
fail:
    free(e);
    return -1;
}

/* The environment an order entry names: its ARN (as the API stores it) or its bare name. */
static ce_rec *resolve(res_index *ix, const char *entry)
{
    char *name = arn_resource(entry, ARN_CE);
    ce_rec *ce = ce_slot(ix, name ? name : entry);
    free(name);
    return ce;
}

int res_fill(state *st, registry *r, const char *key, json_t *desc, char **why)
{
    /* Installed as the fill hook of these two registries only (model.c). */
    BARGE_ASSERT(r == &st->ce || r == &st->jq);
    *why = NULL;
    if (!json_is_object(desc)) {
        *why = xasprintf("the description is not an object");
        return -1;
    }
    res_index *ix = index_of(st);
    if (r == &st->ce) {
        ce_rec parsed = {0};
        if (parse_ce(desc, &parsed, why) < 0) return -1;
        ce_rec *ce = ce_slot(ix, key);
        free_types(ce);
        parsed.name = ce->name;
        parsed.live = 1;
        *ce = parsed;
        return 0;
    }
    jq_rec parsed = {0};
    order_entry *entries;
    size_t n;
    if (parse_jq(desc, &parsed, &entries, &n, why) < 0) return -1;
    jq_rec *q = jq_slot(ix, key);
    q->state = parsed.state;
    q->status = parsed.status;
    q->priority = parsed.priority;
    q->ces = xrealloc(q->ces, (n ? n : 1) * sizeof *q->ces);
    for (size_t i = 0; i < n; i++) q->ces[i] = resolve(ix, entries[i].ce);
    q->n_ces = n;
    free(q->policy);
    const char *policy = json_string_value(json_object_get(desc, "schedulingPolicyArn"));
    q->policy = policy ? arn_resource(policy, ARN_SP) : NULL;
    uint64_t first_seq = res_jq_first_seq(desc);
    /* A record is written before any job is submitted to it, so the submit numbers go on from
     * its first one whatever the store kept of the jobs before it. */
    if (first_seq > st->jobs->next_seq) st->jobs->next_seq = first_seq;
    jq_rt *before = q->jobs;
    q->jobs = jobs_queue_from(st->jobs, q->name, first_seq);
    if (before && before != q->jobs) jobs_forget_shares(st, before);
    q->live = 1;
    free(entries);
    ix->sorted = 0;
    return 0;
}

void res_forget(state *st, registry *r, const char *key)
{
    res_index *ix = index_of(st);
    if (r == &st->ce) {
        ce_rec *ce = dict_get(&ix->ces, key);
        if (ce) {
            ce->live = 0;
            ce->status = RES_DELETED;
        }
    } else if (r == &st->jq) {
        jq_rec *q = dict_get(&ix->jqs, key);
        if (q) {
            q->live = 0;
            q->status = RES_DELETED;
            ix->sorted = 0;
        }
    }
}

void res_free(state *st)
{
    res_index *ix = st->res;
    if (!ix) return;
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&ix->ces, &i, &k, &v)) {
        ce_rec *ce = v;
        free_types(ce);
        free((char *)ce->name);
        free(ce);
    }
    i = 0;
    while (dict_next(&ix->jqs, &i, &k, &v)) {
        jq_rec *q = v;
        free(q->ces);
        free(q->policy);
        free((char *)q->name);
        free(q);
    }
    dict_free(&ix->ces);
    dict_free(&ix->jqs);
    free(ix->by_priority);
    free(ix);
    st->res = NULL;
}

/* ---- queue priority --------------------------------------------------------------------- */

static int by_priority(const void *a, const void *b)
{
    const jq_rec *x = *(jq_rec *const *)a, *y = *(jq_rec *const *)b;
    if (x->priority != y->priority) return x->priority > y->priority ? -1 : 1;
    return strcmp(x->name, y->name);
}

jq_rec *const *res_queues_by_priority(state *st, size_t *n)
{
    res_index *ix = index_of(st);
    if (!ix->sorted) {
        /* Queues change rarely and passes are many: sort here, not in every pass. */
        size_t count = 0, i = 0;
        const char *k;
        void *v;
        ix->by_priority = xrealloc(ix->by_priority,
                                   (ix->jqs.len ? ix->jqs.len : 1) * sizeof *ix->by_priority);
        while (dict_next(&ix->jqs, &i, &k, &v))
            if (((jq_rec *)v)->live) ix->by_priority[count++] = v;
        qsort(ix->by_priority, count, sizeof *ix->by_priority, by_priority);
        ix->n_by_priority = count;
        ix->sorted = 1;
    }
    *n = ix->n_by_priority;
    return ix->by_priority;
}

/* ---- transitions ------------------------------------------------------------------------ */

void res_set_status(json_t *desc, res_status s, const char *reason)
{
    json_object_set_new(desc, RES_M_STATUS, json_string(res_status_name(s)));
    json_object_set_new(desc, RES_M_STATUS_REASON, json_string(reason));
}

/* Why a managed environment can launch no instance here, as AWS words a CLIENT_ERROR, or NULL:
 * the local provider runs agents of this host's architecture only, so instance types all of
 * another one can never be launched.  (Fresh.) */
static char *ce_cannot_run(const ce_rec *ce)
{
    if (!ce || !ce->managed || ce->fargate || ce->n_instance_types == 0) return NULL;
    const char *host = catalog_host_arch();
    for (int i = 0; catalog_at(i); i++) {
        const catalog_type *t = catalog_at(i);
        if (strcmp(t->arch, host) != 0) continue;
        for (size_t n = 0; n < ce->n_instance_types; n++)
            if (catalog_spec_allows(ce->instance_types[n], t)) return NULL;
    }
    buf b = {0};
    buf_printf(&b, "CLIENT_ERROR - none of the instanceTypes (");
    for (size_t n = 0; n < ce->n_instance_types; n++)
        buf_printf(&b, "%s%s", n ? ", " : "", ce->instance_types[n]);
    buf_printf(&b, ") is a %s type, and this server launches its agents on this %s host; name "
                   "%s types (default_%s, optimal or a family such as m6i)",
               host, host, host, host);
    return b.data;
}

void res_settle(state *st, registry *r, const char *name)
{
    res_status status;
    const char *key, *healthy, *deleted_reason = NULL;
    if (r == &st->ce) {
        ce_rec *ce = res_ce(st, name);
        if (!ce) return;
        status = ce->status;
        key = ce->name;
        healthy = RES_CE_HEALTHY;
        deleted_reason = RES_CE_DELETED; /* not the DELETING one, which said what was to come */
    } else if (r == &st->jq) {
        jq_rec *q = res_jq(st, name);
        if (!q) return;
        status = q->status;
        key = q->name;
        healthy = RES_JQ_HEALTHY;
        deleted_reason = RES_JQ_DELETED;
    } else {
        return;
    }
    /* key is the record's own copy of the name: name may be the registry's, which the writes
     * below free. */
    json_t *desc = reg_get(r, key);
    if (status == RES_DELETING) {
        /* The record leaves the store here; only the copy reg_del keeps for Describe holds the
         * reason, so it is set on the live description just before. */
        if (deleted_reason)
            json_object_set_new(desc, RES_M_STATUS_REASON, json_string(deleted_reason));
        reg_del(st, r, key);
    } else if (status == RES_CREATING || status == RES_UPDATING) {
        json_t *next = json_deep_copy(desc);
        char *why = r == &st->ce ? ce_cannot_run(res_ce(st, key)) : NULL;
        if (why) res_set_status(next, RES_INVALID, why);
        else res_set_status(next, RES_VALID, healthy);
        free(why);
        reg_put(st, r, key, next);
    }
}
