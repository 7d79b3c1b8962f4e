/* jobs_store — how jobs are written to the store and rebuilt from it.
 *
 * A plain job or array parent is one record (kind "job", key its id) holding the spec fixed at
 * submit and its changing state.  An array child has a record of its own ("UUID:7") only once
 * something happened to it that cannot be recomputed: an attempt, an outcome, a cancel.  Waiting
 * states (SUBMITTED, PENDING, RUNNABLE) are recomputed from the dependencies at start-up, so a
 * 10,000-child array is one record until its children run. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arn.h"
#include "fleet.h"
#include "jobs.h"
#include "jobs_internal.h"
#include "log.h"
#include "mem.h"
#include "state.h"
#include "store.h"
#include "util.h"

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

jobspec *jobspec_make(json_t *desc)
{
    jobspec *s = xcalloc(1, sizeof *s);
    s->refs = 1;
    s->desc = desc;
    json_t *c = json_object_get(desc, "container");
    double v;
    if (resource_value(c, "VCPU", &v)) s->mvcpus = (int)lround(v * 1000);
    else s->mvcpus = (int)json_integer_value(json_object_get(c, "vcpus")) * 1000;
    if (resource_value(c, "MEMORY", &v)) s->memory_mib = (int)v;
    else s->memory_mib = (int)json_integer_value(json_object_get(c, "memory"));
    if (resource_value(c, "GPU", &v)) s->gpus = (int)v;
    json_t *rs = json_object_get(desc, "retryStrategy");
    s->attempts_max = (int)json_integer_value(json_object_get(rs, "attempts"));
    if (s->attempts_max < 1) s->attempts_max = 1;
    s->evaluate_on_exit = json_object_get(rs, "evaluateOnExit");
    s->timeout_s = (int)json_integer_value(
        json_object_get(json_object_get(desc, "timeout"), "attemptDurationSeconds"));
    const char *q = json_string_value(json_object_get(desc, "jobQueue"));
    s->queue = q ? arn_resource(q, ARN_JQ) : NULL;
    if (!s->queue) s->queue = xstrdup(q ? q : "");
    const char *jd = json_string_value(json_object_get(desc, "jobDefinition"));
    char *name = jd ? arn_resource(jd, ARN_JD) : NULL;
    if (name && strrchr(name, ':')) *strrchr(name, ':') = '\0';
    s->jd_name = name ? name : xstrdup("job");
    return s;
}

/* ---- writing --------------------------------------------------------------------------- */

static void put_str(json_t *o, const char *k, const char *v)
{
    if (v) json_object_set_new(o, k, json_string(v));
}

static void put_int(json_t *o, const char *k, int64_t v)
{
    if (v) json_object_set_new(o, k, json_integer(v));
}

static json_t *dynamic_state(job *j)
{
    json_t *s = json_object();
    /* Waiting states are recomputed at start-up; only the others are meaningful on disk. */
    int status = j->status >= JS_STARTING ? j->status : JS_SUBMITTED;
    json_object_set_new(s, "status", json_string(job_status_name(status)));
    if (j->status >= JS_STARTING) put_str(s, "reason", j->reason);
    put_str(s, "stopReason", j->stop_reason);
    put_int(s, "cancelPending", j->cancel_pending);
    put_int(s, "isCancelled", j->is_cancelled);
    put_int(s, "isTerminated", j->is_terminated);
    put_int(s, "startedAt", j->started_at);
    put_int(s, "stoppedAt", j->stopped_at);
    put_int(s, "nAttempts", j->n_attempts);
    if (j->attempts) json_object_set(s, "attempts", j->attempts);
    put_str(s, "memoryLimit", j->mem_note);
    if (j->status == JS_STARTING || j->status == JS_RUNNING) {
        put_str(s, "instanceId", j->inst_id);
        put_str(s, "ce", j->ce_name);
        put_str(s, "logStream", j->log_stream);
        put_int(s, "attemptStartedAt", j->attempt_started_at);
    }
    return s;
}

/* Records are keyed by submit order, not by id: a new job's record goes at the end of the
 * table, where a B-tree insert touches the pages it touched last time, instead of at a random
 * place that must be read from disk first.  A child's key follows its parent's. */
static void record_key(const job *j, char out[40])
{
    if (j->parent)
        snprintf(out, 40, "%016llx:%05d", (unsigned long long)j->parent->seq, j->index);
    else
        snprintf(out, 40, "%016llx", (unsigned long long)j->seq);
}

static void write_job(state *st, job *j)
{
    json_t *rec = json_object();
    if (!j->parent) {
        json_object_set_new(rec, "id", json_string(j->id));
        json_object_set_new(rec, "seq", json_integer((json_int_t)j->seq));
        json_object_set_new(rec, "createdAt", json_integer(j->created_at));
        json_object_set(rec, "spec", j->spec->desc);
        if (j->array_size) json_object_set_new(rec, "arraySize", json_integer(j->array_size));
    } else {
        j->stored = 1;
    }
    json_object_set_new(rec, "s", dynamic_state(j));
    char *doc = json_dumps(rec, JSON_COMPACT);
    char key[40];
    record_key(j, key);
    if (store_put(st->db, "job", key, doc, strlen(doc)) != 0) {
        log_error("store: writing job %s failed: %s", j->id, store_errmsg(st->db));
        st->store_failed = 1;
    }
    free(doc);
    json_decref(rec);
}

void jobs_flush(state *st)
{
    job *j = st->jobs->dirty_head;
    st->jobs->dirty_head = NULL;
    while (j) {
        job *next = j->dirty_next;
        j->dirty = 0;
        j->dirty_next = NULL;
        write_job(st, j);
        j = next;
    }
}

/* ---- loading --------------------------------------------------------------------------- */

static int status_of(json_t *s)
{
    int st = job_status_parse(json_string_value(json_object_get(s, "status")));
    return st < 0 ? JS_SUBMITTED : st;
}

static void apply_state(job *j, json_t *s)
{
    j->status = (uint8_t)status_of(s);
    const char *r = json_string_value(json_object_get(s, "reason"));
    j->reason = r ? xstrdup(r) : NULL;
    r = json_string_value(json_object_get(s, "stopReason"));
    j->stop_reason = r ? xstrdup(r) : NULL;
    j->cancel_pending = (uint8_t)json_integer_value(json_object_get(s, "cancelPending"));
    j->is_cancelled = (uint8_t)json_integer_value(json_object_get(s, "isCancelled"));
    j->is_terminated = (uint8_t)json_integer_value(json_object_get(s, "isTerminated"));
    j->started_at = json_integer_value(json_object_get(s, "startedAt"));
    j->stopped_at = json_integer_value(json_object_get(s, "stoppedAt"));
    j->n_attempts = (uint16_t)json_integer_value(json_object_get(s, "nAttempts"));
    json_t *a = json_object_get(s, "attempts");
    if (json_is_array(a)) j->attempts = json_incref(a);
    r = json_string_value(json_object_get(s, "instanceId"));
    j->inst_id = r ? xstrdup(r) : NULL;
    r = json_string_value(json_object_get(s, "ce"));
    j->ce_name = r ? xstrdup(r) : NULL;
    r = json_string_value(json_object_get(s, "logStream"));
    j->log_stream = r ? xstrdup(r) : NULL;
    r = json_string_value(json_object_get(s, "memoryLimit"));
    j->mem_note = r ? xstrdup(r) : NULL;
    j->attempt_started_at = json_integer_value(json_object_get(s, "attemptStartedAt"));
}

typedef struct {
    state *st;
    job **tops;
    size_t n, cap;
    job *last; /* the latest plain job or array parent read */
    char **err;
} load_ctx;

static int load_record(void *arg, const char *key, const char *doc, size_t len)
{
    load_ctx *lc = arg;
    json_error_t e;
    json_t *rec = json_loadb(doc, len, 0, &e);
    if (!json_is_object(rec)) {
        *lc->err = xasprintf("the store's job record '%s' is not valid JSON: %s", key, e.text);
        json_decref(rec);
        return -1;
    }
    json_t *spec = json_object_get(rec, "spec");
    if (spec) {
        jobspec *s = jobspec_make(json_incref(spec));
        const char *id = json_string_value(json_object_get(rec, "id"));
        job *j = jobs__alloc(s, xstrdup(id ? id : key), json_integer_value(json_object_get(rec, "createdAt")),
                             (uint64_t)json_integer_value(json_object_get(rec, "seq")));
        jobspec_release(s);
        json_int_t n = json_integer_value(json_object_get(rec, "arraySize"));
        if (n > 0) {
            j->array_size = (uint32_t)n;
            jobs__make_children(j, j->created_at);
        }
        apply_state(j, json_object_get(rec, "s"));
        dict_put(&lc->st->jobs->by_id, j->id, j);
        if (lc->n == lc->cap) {
            lc->cap = lc->cap ? lc->cap * 2 : 256;
            lc->tops = xrealloc(lc->tops, lc->cap * sizeof *lc->tops);
        }
        lc->tops[lc->n++] = j;
        lc->last = j;
    } else {
        /* "SEQ:INDEX": the parent's record came just before, in key order. */
        job *c = NULL;
        const char *colon = strchr(key, ':');
        if (colon && lc->last && lc->last->children) {
            unsigned long idx = strtoul(colon + 1, NULL, 10);
            if (idx < lc->last->array_size &&
                strtoull(key, NULL, 16) == (unsigned long long)lc->last->seq)
                c = lc->last->children[idx];
        }
        if (c && c->parent) {
            apply_state(c, json_object_get(rec, "s"));
            c->stored = 1;
            c->created_at = c->parent->created_at;
        } else {
            log_warn("store: job record '%s' belongs to no known array; ignored", key);
        }
    }
    json_decref(rec);
    return 0;
}

static int by_seq(const void *a, const void *b)
{
    const job *x = *(const job *const *)a, *y = *(const job *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* An attempt that was STARTING or RUNNING when the server stopped ran on an instance that is
 * gone now (local agents stop with the server; remote ones register again as new instances). */
static void end_interrupted(state *st, job *j, int64_t now)
{
    if (j->status != JS_STARTING && j->status != JS_RUNNING) return;
    char reason[160];
    snprintf(reason, sizeof reason, "Host EC2 (instance %s) terminated.",
             j->inst_id ? j->inst_id : "unknown");
    attempt_end e = {.status_reason = reason};
    jobs_attempt_end(st, j, &e, now);
}

int jobs_load(state *st, char **err)
{
    load_ctx lc = {.st = st, .err = err};
    if (store_scan(st->db, "job", load_record, &lc) != 0) {
        if (!*err) *err = xasprintf("reading jobs from the store failed: %s", store_errmsg(st->db));
        free(lc.tops);
        return -1;
    }
    /* An empty store leaves tops NULL, which qsort must not be given. */
    if (lc.n) qsort(lc.tops, lc.n, sizeof *lc.tops, by_seq);
    jobs *js = st->jobs;
    for (size_t i = 0; i < lc.n; i++) {
        job *j = lc.tops[i];
        if (j->seq >= js->next_seq) js->next_seq = j->seq + 1;
        jobs__list(jobs_queue(js, j->spec->queue), j);
        if (j->children) {
            /* The summary is rebuilt from the children's own states. */
            memset(j->summary, 0, sizeof j->summary);
            for (uint32_t k = 0; k < j->array_size; k++) j->summary[j->children[k]->status]++;
        }
    }
    /* Oldest first, so every dependency is already in place when its dependents are wired. */
    for (size_t i = 0; i < lc.n; i++) {
        job *j = lc.tops[i];
        if (job_status_done(j->status)) continue;
        if (!j->children && j->status >= JS_STARTING) continue;
        if (j->children) {
            /* Children that had not started go back to waiting with the parent. */
            j->status = JS_SUBMITTED;
        }
        jobs__enter_lifecycle(st, j, json_object_get(j->spec->desc, "dependsOn"));
    }
    int64_t now = util_now_ms();
    for (size_t i = 0; i < lc.n; i++) {
        job *j = lc.tops[i];
        if (j->children) {
            for (uint32_t k = 0; k < j->array_size; k++) end_interrupted(st, j->children[k], now);
        } else {
            end_interrupted(st, j, now);
        }
    }
    free(lc.tops);
    return 0;
}
