#include "server/model/jobspec.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dict.h"
#include "common/catalog.h"
#include "common/mem.h"
#include "server/base/logstore.h"
#include "server/model/arn.h"

/* The members that are each job's own; every other member is shared. */
static const char *const own_keys[] = {"jobName", "parameters", "dependsOn", "tags", NULL};

struct spec_shared {
    char *text; /* the canonical JSON: the intern table's key */
    json_t *v;
    int refs;
    unsigned long long id; /* its record's id once stored; 0 before */
    char *queue, *jd_name;
    char *log_group, *log_prefix;
    int mvcpus, memory_mib, gpus, attempts_max, timeout_s, fargate;
    const char *share; /* shareIdentifier (in v), or NULL */
    const char *foreign; /* a runtimePlatform this host's agents are not (in v), or NULL */
    jobspec_need *needs; /* consumableResourceProperties, by resource name */
    size_t n_needs;
    int num_nodes, main_node; /* nodeProperties of a multi-node parallel job; 0, 0 otherwise */
    int priority;      /* schedulingPriority, 0 when absent */
    void *slot;        /* a reader's (jobspec_shared_slot) */
    struct recipe *recipes; /* the recipes that produced it, which go with it */
};

static void (*slot_free)(void *);

/* The runtimePlatform member naming what this host's agents are not: a cpuArchitecture of the
 * other architecture, a Windows operatingSystemFamily; NULL when there is none. */
static const char *foreign_platform(json_t *rp)
{
    const char *arch = json_string_value(json_object_get(rp, "cpuArchitecture"));
    const char *os = json_string_value(json_object_get(rp, "operatingSystemFamily"));
    if (os && strncmp(os, "WINDOWS", 7) == 0) return os;
    if (!arch) return NULL;
    const char *host = catalog_host_arch();
    if (strcmp(arch, "ARM64") == 0) return strcmp(host, "arm64") == 0 ? NULL : arch;
    if (strcmp(arch, "X86_64") == 0) return strcmp(host, "x86_64") == 0 ? NULL : arch;
    return NULL;
}

/* The intern table: canonical text -> spec_shared.  Only the core thread builds specs. */
static dict interned;
static unsigned long long next_id = 1;

/* Recipes: submit inputs -> the shared part they produced.  An entry holds no reference: it goes
 * when the last job using its shared part goes, so that the part (the command, the environment:
 * often secrets) and its record are not kept past the jobs' retention.  The table is emptied when
 * it fills: recipes are a cache, and a workload repeats a few of them. */
typedef struct recipe {
    char *text;
    struct spec_shared *sh;
    struct recipe *next_same; /* the next recipe of the same shared part */
} recipe;
static dict recipes;
#define RECIPES_MAX 4096

/* Stored shared parts by record id (hex), so that loading a million jobs that share a few specs
 * looks each up instead of rebuilding and re-interning it. */
typedef struct ref_entry {
    char key[24];
    struct spec_shared *sh;
} ref_entry;
static dict by_ref;

static void ref_key(unsigned long long id, char out[24])
{
    snprintf(out, 24, "%016llx", id);
}

static void ref_forget(struct spec_shared *sh)
{
    if (!sh->id) return;
    char key[24];
    ref_key(sh->id, key);
    ref_entry *e = dict_get(&by_ref, key);
    if (e && e->sh == sh) {
        dict_del(&by_ref, key);
        free(e);
    }
}

/* Record ids of stored shared parts that no job uses any more (hex key -> the same key,
 * malloc'd), for jobs_flush to delete (jobspec_take_unused): without it, jobs submitted each with
 * overrides of their own would leave a record each behind once they are let go (retention.h).
 * An id loaded again (a reload after a failed commit, a unit test's) is taken off. */
static dict unused;

static void unused_note(unsigned long long id)
{
    char key[24];
    ref_key(id, key);
    if (dict_get(&unused, key)) return;
    char *k = xstrdup(key);
    dict_put(&unused, k, k);
}

static void unused_drop(unsigned long long id)
{
    char key[24];
    ref_key(id, key);
    free(dict_del(&unused, key));
}

int jobspec_take_unused(unsigned long long *id)
{
    size_t i = 0;
    const char *k;
    void *v;
    if (!dict_next(&unused, &i, &k, &v)) return 0;
    *id = strtoull(k, NULL, 16);
    dict_del(&unused, k);
    free(v);
    return 1;
}

static void ref_note(struct spec_shared *sh)
{
    char key[24];
    ref_key(sh->id, key);
    ref_entry *e = dict_get(&by_ref, key);
    if (!e) {
        e = xmalloc(sizeof *e);
        memcpy(e->key, key, sizeof key);
        dict_put(&by_ref, e->key, e);
    }
    e->sh = sh;
}

static int is_own(const char *key)
{
    for (const char *const *k = own_keys; *k; k++)
        if (strcmp(*k, key) == 0) return 1;
    return 0;
}

static int resource_value(json_t *container, const char *type, double *out)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(container, "resourceRequirements"), i, r) {
        const char *t = json_string_value(json_object_get(r, "type"));
        const char *v = json_string_value(json_object_get(r, "value"));
        if (t && v && strcmp(t, type) == 0) {
            *out = atof(v);
            return 1;
        }
    }
    return 0;
}

/* Where the attempts' logs go: the awslogs driver's group and stream prefix when the container
 * names them, else AWS Batch's defaults.  RegisterJobDefinition refuses names CloudWatch would
 * refuse; a definition stored before it did falls back on the defaults rather than write where
 * no client could read. */
static void derive_logs(struct spec_shared *sh, json_t *container)
{
    json_t *lc = json_object_get(container, "logConfiguration");
    const char *driver = json_string_value(json_object_get(lc, "logDriver"));
    json_t *opts = driver && strcmp(driver, "awslogs") == 0 ? json_object_get(lc, "options") : NULL;
    const char *group = json_string_value(json_object_get(opts, JOBSPEC_AWSLOGS_GROUP));
    const char *prefix = json_string_value(json_object_get(opts, JOBSPEC_AWSLOGS_PREFIX));
    sh->log_group = xstrdup(group && logstore_group_name_valid(group) ? group
                                                                       : LOGSTORE_BATCH_GROUP);
    sh->log_prefix = xstrdup(prefix && jobspec_log_prefix_valid(prefix) ? prefix : sh->jd_name);
}

int jobspec_log_prefix_valid(const char *prefix)
{
    size_t n = strlen(prefix);
    return n >= 1 && n <= JOBSPEC_LOG_PREFIX_MAX && !strpbrk(prefix, ":*");
}

/* The scalars are ints; a description holds what its checks let through, and a value out of
 * an int's range must saturate rather than wrap (or, from a double, be undefined behaviour):
 * a job asking for more than any instance has then waits, as AWS's would, instead of asking
 * for a negative amount. */
static int clamp_int(double v)
{
    if (!(v == v)) return 0; /* NaN */
    return v >= INT_MAX ? INT_MAX : v <= INT_MIN ? INT_MIN : (int)v;
}

static int clamp_ll(long long v)
{
    return v > INT_MAX ? INT_MAX : v < INT_MIN ? INT_MIN : (int)v;
}

static void derive(struct spec_shared *sh)
{
    json_t *desc = sh->v;
    json_t *c = json_object_get(desc, "container");
    double v;
    if (resource_value(c, "VCPU", &v)) sh->mvcpus = clamp_int(round(v * 1000));
    else sh->mvcpus = clamp_int((double)json_integer_value(json_object_get(c, "vcpus")) * 1000);
    if (resource_value(c, "MEMORY", &v)) sh->memory_mib = clamp_int(v);
    else sh->memory_mib = clamp_ll(json_integer_value(json_object_get(c, "memory")));
    if (resource_value(c, "GPU", &v)) sh->gpus = clamp_int(v);
    json_t *rs = json_object_get(desc, "retryStrategy");
    sh->attempts_max = clamp_ll(json_integer_value(json_object_get(rs, "attempts")));
    if (sh->attempts_max < 1) sh->attempts_max = 1;
    sh->timeout_s = clamp_ll(json_integer_value(
        json_object_get(json_object_get(desc, "timeout"), "attemptDurationSeconds")));
    sh->share = json_string_value(json_object_get(desc, "shareIdentifier"));
    json_t *np = json_object_get(desc, "nodeProperties");
    sh->num_nodes = clamp_ll(json_integer_value(json_object_get(np, "numNodes")));
    sh->main_node = clamp_ll(json_integer_value(json_object_get(np, "mainNode")));
    json_t *crl = json_object_get(json_object_get(desc, "consumableResourceProperties"),
                                  "consumableResourceList");
    if (json_array_size(crl)) {
        sh->needs = xcalloc(json_array_size(crl), sizeof *sh->needs);
        size_t k;
        json_t *e;
        json_array_foreach(crl, k, e) {
            const char *r = json_string_value(json_object_get(e, "consumableResource"));
            if (!r) continue;
            char *name = strncmp(r, "arn:", 4) == 0 ? arn_resource(r, ARN_CR) : NULL;
            sh->needs[sh->n_needs].name = name ? name : xstrdup(r);
            sh->needs[sh->n_needs++].quantity = json_integer_value(json_object_get(e, "quantity"));
        }
    }
    sh->priority = clamp_ll(json_integer_value(json_object_get(desc, "schedulingPriority")));
    sh->foreign = foreign_platform(json_object_get(json_object_get(desc, "container"),
                                                   "runtimePlatform"));
    size_t i;
    json_t *pc;
    json_array_foreach(json_object_get(desc, "platformCapabilities"), i, pc)
        sh->fargate |= json_is_string(pc) && strcmp(json_string_value(pc), "FARGATE") == 0;
    const char *q = json_string_value(json_object_get(desc, "jobQueue"));
    sh->queue = q ? arn_resource(q, ARN_JQ) : NULL;
    if (!sh->queue) sh->queue = xstrdup(q ? q : "");
    const char *jd = json_string_value(json_object_get(desc, "jobDefinition"));
    char *name = jd ? arn_resource(jd, ARN_JD) : NULL;
    if (name && strrchr(name, ':')) *strrchr(name, ':') = '\0';
    sh->jd_name = name ? name : xstrdup("job");
    derive_logs(sh, c);
}

static struct spec_shared *intern(json_t *shared)
{
    char *text = json_dumps(shared, JSON_COMPACT | JSON_SORT_KEYS);
    struct spec_shared *sh = dict_get(&interned, text);
    if (sh) {
        free(text);
        json_decref(shared);
        sh->refs++;
        return sh;
    }
    sh = xcalloc(1, sizeof *sh);
    sh->text = text;
    sh->v = shared;
    sh->refs = 1;
    derive(sh);
    dict_put(&interned, sh->text, sh);
    return sh;
}

static void unintern(struct spec_shared *sh)
{
    if (--sh->refs > 0) return;
    for (recipe *r = sh->recipes, *next; r; r = next) {
        next = r->next_same;
        dict_del(&recipes, r->text);
        free(r->text);
        free(r);
    }
    if (sh->id) unused_note(sh->id);
    ref_forget(sh);
    dict_del(&interned, sh->text);
    if (sh->slot && slot_free) slot_free(sh->slot);
    free(sh->text);
    json_decref(sh->v);
    free(sh->queue);
    free(sh->jd_name);
    free(sh->log_group);
    free(sh->log_prefix);
    for (size_t i = 0; i < sh->n_needs; i++) free(sh->needs[i].name);
    free(sh->needs);
    free(sh);
}

static jobspec *make(struct spec_shared *sh, json_t *own)
{
    jobspec *s = xcalloc(1, sizeof *s);
    s->refs = 1;
    s->own = json_dumps(own, JSON_COMPACT);
    const char *name = json_string_value(json_object_get(own, "jobName"));
    s->name = xstrdup(name ? name : "");
    json_decref(own);
    s->shared = sh;
    s->queue = sh->queue;
    s->jd_name = sh->jd_name;
    s->mvcpus = sh->mvcpus;
    s->memory_mib = sh->memory_mib;
    s->gpus = sh->gpus;
    s->attempts_max = sh->attempts_max;
    s->timeout_s = sh->timeout_s;
    s->fargate = sh->fargate;
    s->foreign_platform = sh->foreign;
    s->evaluate_on_exit = json_object_get(json_object_get(sh->v, "retryStrategy"), "evaluateOnExit");
    return s;
}

jobspec *jobspec_make(json_t *desc)
{
    json_t *own = json_object(), *shared = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(desc, k, v) json_object_set(is_own(k) ? own : shared, k, v);
    json_decref(desc);
    return make(intern(shared), own);
}

jobspec *jobspec_from_recipe(const char *text, json_t *own)
{
    recipe *r = dict_get(&recipes, text);
    if (!r) {
        json_decref(own); /* the reference is taken either way */
        return NULL;
    }
    r->sh->refs++;
    return make(r->sh, own);
}

void jobspec_remember_recipe(const char *text, const jobspec *s)
{
    if (dict_get(&recipes, text)) return;
    if (recipes.len >= RECIPES_MAX) {
        size_t i = 0;
        const char *k;
        void *v;
        while (dict_next(&recipes, &i, &k, &v)) {
            recipe *old = v;
            old->sh->recipes = NULL;
            free(old->text);
            free(old);
        }
        dict_free(&recipes);
    }
    recipe *r = xmalloc(sizeof *r);
    r->text = xstrdup(text);
    r->sh = s->shared;
    r->next_same = r->sh->recipes;
    r->sh->recipes = r;
    dict_put(&recipes, r->text, r);
}

void jobspec_release(jobspec *s)
{
    if (!s || --s->refs > 0) return;
    unintern(s->shared);
    free(s->own);
    free(s->name);
    free(s);
}

static json_t *own_object(const jobspec *s)
{
    json_t *o = json_loads(s->own, 0, NULL);
    return o ? o : json_object();
}

json_t *jobspec_desc(const jobspec *s)
{
    json_t *d = json_object();
    json_object_update(d, s->shared->v);
    json_t *o = own_object(s);
    json_object_update(d, o);
    json_decref(o);
    return d;
}

json_t *jobspec_shared_all(const jobspec *s)
{
    return s->shared->v;
}

void **jobspec_shared_slot(const jobspec *s)
{
    return &s->shared->slot;
}

void jobspec_set_slot_free(void (*fn)(void *))
{
    slot_free = fn;
}

json_t *jobspec_shared(const jobspec *s, const char *key)
{
    return json_object_get(s->shared->v, key);
}

const char *jobspec_share(const jobspec *s)
{
    return s->shared->share;
}

int jobspec_num_nodes(const jobspec *s)
{
    return s->shared->num_nodes;
}

int jobspec_main_node(const jobspec *s)
{
    return s->shared->main_node;
}

/* The nodes targetNodes ("2", "0:3", ":3", "4:") takes of n nodes, lo to hi; 0 for none. */
static int target_span(const char *t, int n, long *lo, long *hi)
{
    if (!t) return 0;
    const char *colon = strchr(t, ':');
    char *end;
    if (!colon) {
        *lo = *hi = strtol(t, &end, 10);
        return *t && !*end;
    }
    *lo = colon == t ? 0 : strtol(t, &end, 10);
    *hi = colon[1] ? strtol(colon + 1, &end, 10) : n - 1;
    return 1;
}

jobspec *jobspec_node(const jobspec *parent, int index)
{
    json_t *d = jobspec_desc(parent);
    json_t *ranges = json_object_get(json_object_get(d, "nodeProperties"), "nodeRangeProperties");
    /* The ranges that take the node (the submit checked that there is one at least), a range
     * nested in another over it, as AWS has it ("0:10" and "4:5": 4:5's properties override
     * 0:10's) whichever comes first in the list: the widest first, the narrowest last; of
     * ranges as wide, later ones over earlier ones.  There are 5 at most. */
    json_t *container = json_object();
    size_t i, n = json_array_size(ranges);
    long *width = xmalloc((n ? n : 1) * sizeof *width);
    json_t *r;
    json_array_foreach(ranges, i, r) {
        long lo, hi;
        int takes = target_span(json_string_value(json_object_get(r, "targetNodes")),
                                parent->shared->num_nodes, &lo, &hi) &&
                    index >= lo && index <= hi;
        width[i] = takes ? hi - lo + 1 : 0;
    }
    for (;;) {
        size_t next = n;
        for (i = 0; i < n; i++)
            if (width[i] > 0 && (next == n || width[i] > width[next])) next = i;
        if (next == n) break;
        json_object_update(container, json_object_get(json_array_get(ranges, next), "container"));
        width[next] = 0;
    }
    free(width);
    if (!json_object_get(container, "networkInterfaces"))
        json_object_set_new(container, "networkInterfaces", json_array());
    json_object_set_new(d, "container", container);
    json_object_del(d, "nodeProperties");
    return jobspec_make(d);
}

size_t jobspec_consumables(const jobspec *s, const jobspec_need **out)
{
    *out = s->shared->needs;
    return s->shared->n_needs;
}

int jobspec_priority(const jobspec *s)
{
    return s->shared->priority;
}

const char *jobspec_log_group(const jobspec *s)
{
    return s->shared->log_group;
}

const char *jobspec_log_prefix(const jobspec *s)
{
    return s->shared->log_prefix;
}

json_t *jobspec_own(const jobspec *s, const char *key)
{
    json_t *o = own_object(s);
    json_t *v = json_object_get(o, key);
    if (v) json_incref(v);
    json_decref(o);
    return v;
}

void jobspec_set_tags(jobspec *s, json_t *tags)
{
    json_t *o = own_object(s);
    json_object_set_new(o, "tags", tags);
    free(s->own);
    s->own = json_dumps(o, JSON_COMPACT);
    json_decref(o);
}

unsigned long long jobspec_shared_ref(jobspec *s, const char **text)
{
    struct spec_shared *sh = s->shared;
    *text = NULL;
    if (!sh->id) {
        sh->id = next_id++;
        *text = sh->text;
        ref_note(sh);
    }
    return sh->id;
}

void jobspec_adopt_ref(jobspec *s, unsigned long long id)
{
    ref_forget(s->shared);
    s->shared->id = id;
    unused_drop(id);
    ref_note(s->shared);
    if (id >= next_id) next_id = id + 1;
}

jobspec *jobspec_from_ref(unsigned long long id, json_t *own)
{
    char key[24];
    ref_key(id, key);
    ref_entry *e = dict_get(&by_ref, key);
    if (!e) {
        json_decref(own);
        return NULL;
    }
    e->sh->refs++;
    return make(e->sh, own);
}

void jobspec_forget_stored(void)
{
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&interned, &i, &k, &v)) ((struct spec_shared *)v)->id = 0;
    i = 0;
    while (dict_next(&by_ref, &i, &k, &v)) free(v);
    dict_free(&by_ref);
}

size_t jobspec_shared_count(void)
{
    return interned.len;
}
