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

#include "common/jtext.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/base/store.h"
#include "server/model/consumable.h"
#include "server/model/arn.h"
#include "server/model/jobs.h"
#include "server/model/jobs_internal.h"
#include "server/model/state.h"
#include "server/model/usage.h"

/* ---- when a reloaded job began to wait ------------------------------------------------- */

/* When on, which x waited for, ended (0 while it has not). */
static int64_t ended_at(const job *on)
{
    return on && job_status_done(on->status) ? on->stopped_at : 0;
}

/* When x (a job, or child k of top: -1 for none) became RUNNABLE, as far as what the store
 * keeps tells (RUNNABLE itself is not written): the latest of its submission, its last
 * attempt's end (a retry waits again from there) and the end of what it waited for (top's
 * dependsOn; for a child, its N_TO_N partner and, in a SEQUENTIAL array, the child before it).
 * So GetJobQueueSnapshot's earliestTimeAtPosition says the same after a restart as before. */
static int64_t began_waiting(state *st, const job *top, json_t *deps, int32_t k, const job *x)
{
    int64_t t = x->created_at, e;
    size_t n = json_array_size(x->attempts);
    if (n) {
        e = json_integer_value(json_object_get(json_array_get(x->attempts, n - 1), "stoppedAt"));
        if (e > t) t = e;
    }
    size_t i;
    json_t *d;
    json_array_foreach(deps, i, d) {
        const char *type = json_string_value(json_object_get(d, "type"));
        if (type && strcmp(type, "SEQUENTIAL") == 0) {
            e = k > 0 ? ended_at(top->children[k - 1]) : 0;
        } else {
            const job *on = jobs_find(st->jobs, json_string_value(json_object_get(d, "jobId")));
            if (on && k >= 0 && type && strcmp(type, "N_TO_N") == 0 && jobs_is_array(on) &&
                jobs_is_array(top) && (uint32_t)k < on->array_size)
                on = on->children[k];
            e = ended_at(on);
        }
        if (e > t) t = e;
    }
    return t;
}

static void restore_runnable_at(state *st, job *j, json_t *deps, int64_t now)
{
    uint32_t n = j->children ? j->array_size : 1;
    for (uint32_t k = 0; k < n; k++) {
        job *x = j->children ? j->children[k] : j;
        if (x->status != JS_RUNNABLE) continue;
        int64_t t = began_waiting(st, j, deps, j->children ? (int32_t)k : -1, x);
        x->runnable_at = t < now ? t : now;
    }
}

/* ---- writing --------------------------------------------------------------------------- */

/* The job's changing state, as the members of the record's "s" object, written as text
 * (common/jtext.h): every change of every job writes it. */
static void put_str(buf *b, const char *k, const char *v)
{
    if (!v) return;
    buf_printf(b, ",\"%s\":", k);
    jtext_string(b, v);
}

static void put_int(buf *b, const char *k, int64_t v)
{
    if (v) buf_printf(b, ",\"%s\":%lld", k, (long long)v);
}

static void dynamic_state(job *j, buf *b)
{
    /* Waiting states are recomputed at start-up; only the others are meaningful on disk. */
    int status = j->status >= JS_STARTING ? j->status : JS_SUBMITTED;
    buf_printf(b, "{\"status\":\"%s\"", job_status_name(status));
    if (j->status >= JS_STARTING) put_str(b, "reason", j->reason);
    put_str(b, "stopReason", j->stop_reason);
    put_int(b, "cancelPending", j->cancel_pending);
    put_int(b, "isCancelled", j->is_cancelled);
    put_int(b, "isTerminated", j->is_terminated);
    put_int(b, "startedAt", j->started_at);
    put_int(b, "stoppedAt", j->stopped_at);
    put_int(b, "nAttempts", j->n_attempts);
    put_int(b, "freeAttempts", j->n_free_attempts);
    if (j->attempts) {
        buf_puts(b, ",\"attempts\":");
        jtext_json(b, j->attempts);
    }
    put_str(b, "memoryLimit", j->mem_note);
    put_str(b, "executor", j->executor);
    if (j->status == JS_STARTING || j->status == JS_RUNNING) {
        put_str(b, "instanceId", j->inst_id);
        put_str(b, "ce", j->ce_name);
        put_str(b, "logStream", j->log_stream);
        put_int(b, "attemptStartedAt", j->attempt_started_at);
        /* Stopped for another node's interrupted attempt: whatever its end, it runs again. */
        put_int(b, "nodeInterrupted", j->node_interrupted);
    }
    buf_puts(b, "}");
}

/* Records are keyed by submit order, not by id: a new job's record goes at the end of the
 * table, where a B-tree insert touches the pages it touched last time, instead of at a random
 * place that must be read from disk first.  A child's key follows its parent's. */
static void record_key(const job *j, char out[40])
{
    if (j->parent)
        snprintf(out, 40, "%016llx:%05d", (unsigned long long)j->parent->seq, job_index(j));
    else
        snprintf(out, 40, "%016llx", (unsigned long long)j->seq);
}

static void put_record(state *st, const char *kind, const char *key, const char *doc,
                       size_t len)
{
    if (store_put(st->db, kind, key, doc, len) != 0) {
        log_error("store: writing %s record %s failed: %s", kind, key, store_errmsg(st->db));
        st->store_failed = 1;
    }
}

/* The record is assembled as text: the job's own part and the dynamic state are small, and
 * the shared part is a reference to a record of its own ("spec"), written once for all the jobs
 * that share it. */
static void write_job(state *st, job *j)
{
    buf b = {0};
    if (!j->parent) {
        const char *unstored;
        unsigned long long ref = jobspec_shared_ref(j->spec, &unstored);
        char key[24];
        snprintf(key, sizeof key, "%016llx", ref);
        if (unstored) put_record(st, "spec", key, unstored, strlen(unstored));
        buf_printf(&b, "{\"id\":\"%s\",\"seq\":%llu,\"createdAt\":%lld,\"shared\":%llu,\"own\":%s",
                   j->id, (unsigned long long)j->seq, (long long)j->created_at, ref, j->spec->own);
        if (j->array_size) buf_printf(&b, ",\"arraySize\":%u", j->array_size);
        buf_puts(&b, ",");
    } else {
        j->stored = 1;
        buf_puts(&b, "{");
    }
    buf_puts(&b, "\"s\":");
    dynamic_state(j, &b);
    buf_puts(&b, "}");
    char key[40];
    record_key(j, key);
    put_record(st, "job", key, b.data, b.len);
    buf_free(&b);
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
    /* Shared parts whose last job went (retention.h): their records go too. */
    unsigned long long unused;
    while (jobspec_take_unused(&unused)) {
        char key[24];
        snprintf(key, sizeof key, "%016llx", unused);
        if (store_del(st->db, "spec", key) != 0) st->store_failed = 1;
    }
}

void jobs_forget_stored(state *st, job *j)
{
    char key[40];
    for (uint32_t k = 0; j->children && k < j->array_size; k++) {
        if (!j->children[k]->stored) continue;
        record_key(j->children[k], key);
        if (store_del(st->db, "job", key) != 0) st->store_failed = 1;
    }
    record_key(j, key);
    if (store_del(st->db, "job", key) != 0) st->store_failed = 1;
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
    j->n_free_attempts = (uint16_t)json_integer_value(json_object_get(s, "freeAttempts"));
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
    r = json_string_value(json_object_get(s, "executor"));
    j->executor = r ? xstrdup(r) : NULL;
    j->attempt_started_at = json_integer_value(json_object_get(s, "attemptStartedAt"));
    j->node_interrupted = json_integer_value(json_object_get(s, "nodeInterrupted")) != 0;
}

typedef struct {
    state *st;
    job **tops;
    size_t n, cap;
    job *last;      /* the latest plain job or array parent read */
    json_t *shared; /* spec record id (hex) -> shared part */
    char **err;
} load_ctx;

static const char *key_of(unsigned long long ref)
{
    static char key[24];
    snprintf(key, sizeof key, "%016llx", ref);
    return key;
}

static int load_spec(void *arg, const char *key, const char *doc, size_t len)
{
    load_ctx *lc = arg;
    json_t *v = json_loadb(doc, len, 0, NULL);
    if (!json_is_object(v)) {
        *lc->err = xasprintf("the store's spec record '%s' is not valid JSON", key);
        json_decref(v);
        return -1;
    }
    json_object_set_new(lc->shared, key, v);
    return 0;
}

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
    json_t *own = json_object_get(rec, "own");
    unsigned long long ref = (unsigned long long)json_integer_value(json_object_get(rec, "shared"));
    json_t *shared = ref ? json_object_get(lc->shared, key_of(ref)) : NULL;
    if (own && !shared) {
        *lc->err = xasprintf("the store's job record '%s' refers to a spec record %016llx that "
                             "is missing", key, ref);
        json_decref(rec);
        return -1;
    }
    if (spec || own) {
        /* Most jobs share a spec record seen a moment ago: look it up rather than rebuild it. */
        jobspec *s = own && ref ? jobspec_from_ref(ref, json_incref(own)) : NULL;
        if (!s) {
            json_t *desc = spec ? json_incref(spec) : json_deep_copy(shared);
            if (own) json_object_update(desc, own);
            s = jobspec_make(desc);
            if (ref) jobspec_adopt_ref(s, ref);
        }
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

/* A job's end; one without (written before ends were kept) counts as made when submitted. */
static int64_t end_of(const job *j)
{
    return j->stopped_at ? j->stopped_at : j->created_at;
}

static int by_end(const void *a, const void *b)
{
    int64_t x = end_of(*(const job *const *)a), y = end_of(*(const job *const *)b);
    return x < y ? -1 : x > y;
}

int jobs_load(state *st, char **err)
{
    load_ctx lc = {.st = st, .err = err, .shared = json_object()};
    int64_t t0 = util_mono_ms();
    if (store_scan(st->db, "spec", load_spec, &lc) != 0 ||
        store_scan(st->db, "job", load_record, &lc) != 0) {
        if (!*err) *err = xasprintf("reading jobs from the store failed: %s", store_errmsg(st->db));
        free(lc.tops);
        json_decref(lc.shared);
        return -1;
    }
    /* Every spec now lives in the jobs that use it. */
    json_decref(lc.shared);
    int64_t t_read = util_mono_ms();
    /* An empty store leaves tops NULL, which qsort must not be given. */
    if (lc.n) qsort(lc.tops, lc.n, sizeof *lc.tops, by_seq);
    jobs *js = st->jobs;
    /* The jobs loaded finished, by their end, go first in the finished list; those that end
     * while their dependencies are wired below follow. */
    job **done = xmalloc((lc.n ? lc.n : 1) * sizeof *done);
    size_t n_done = 0;
    for (size_t i = 0; i < lc.n; i++)
        if (job_status_done(lc.tops[i]->status)) done[n_done++] = lc.tops[i];
    if (n_done) qsort(done, n_done, sizeof *done, by_end);
    for (size_t i = 0; i < n_done; i++) jobs_note_finished(js, done[i]);
    free(done);
    for (size_t i = 0; i < lc.n; i++) {
        job *j = lc.tops[i];
        if (j->seq >= js->next_seq) js->next_seq = j->seq + 1;
        if (j->children) {
            /* The summary is rebuilt from the children's own states, before the job is listed:
             * a multi-node job is counted by its nodes' progress (jobs_shown_status). */
            job_family *f = j->family;
            memset(f, 0, sizeof *f);
            /* When it last changed is not stored: the latest start or end among the children
             * (or the array's submission) stands for it. */
            f->summary_at = j->created_at;
            for (uint32_t k = 0; k < j->array_size; k++) {
                const job *c = j->children[k];
                f->summary[c->status]++;
                if (c->started_at > f->summary_at) f->summary_at = c->started_at;
                if (c->stopped_at > f->summary_at) f->summary_at = c->stopped_at;
            }
            /* And so is the children's usage, from their attempts as loaded. */
            for (uint32_t k = 0; k < j->array_size; k++) {
                size_t ai;
                json_t *a;
                json_array_foreach(j->children[k]->attempts, ai, a)
                    usage_child_attempt(j->children[k], a);
            }
        }
        jobs__list(jobs_queue_of(js, j), j);
    }
    /* Oldest first, so every dependency is already in place when its dependents are wired,
     * and each list of dependents is in the order of their submission, as it was. */
    for (size_t i = 0; i < lc.n; i++) {
        job *j = lc.tops[i];
        /* Most jobs have no dependencies; their own part need not be parsed to know it. */
        int none = strstr(j->spec->own, "\"dependsOn\":[]") != NULL;
        if (job_status_done(j->status) || (!j->children && j->status >= JS_STARTING)) {
            if (none) continue;
            json_t *deps = jobspec_own(j->spec, "dependsOn");
            jobs__list_told(st, j, deps);
            json_decref(deps);
            continue;
        }
        if (j->children) {
            /* Children that had not started go back to waiting with the parent. */
            jobs__status(js, j, JS_SUBMITTED);
        }
        json_t *deps = none ? NULL : jobspec_own(j->spec, "dependsOn");
        /* Its children's waiting again moves their summary: not a change to tell of. */
        int64_t summary_at = j->family ? j->family->summary_at : 0;
        jobs__enter_lifecycle(st, j, deps);
        if (j->family) j->family->summary_at = summary_at;
        restore_runnable_at(st, j, deps, util_now_ms());
        json_decref(deps);
    }
    /* Attempts that were under way: the engine decides what becomes of them. */
    size_t cap = 0;
    for (size_t i = 0; i < lc.n; i++) {
        job *j = lc.tops[i];
        uint32_t n = j->children ? j->array_size : 1;
        for (uint32_t k = 0; k < n; k++) {
            job *a = j->children ? j->children[k] : j;
            if (a->status != JS_STARTING && a->status != JS_RUNNING) continue;
            jobs_charge_share(js, a, 1);
            consumable_charge(st, a, 1);
            if (js->n_loaded_started == cap) {
                cap = cap ? cap * 2 : 16;
                js->loaded_started = xrealloc(js->loaded_started, cap * sizeof *js->loaded_started);
            }
            js->loaded_started[js->n_loaded_started++] = a;
        }
    }
    free(lc.tops);
    if (lc.n)
        log_info("loaded %zu jobs in %lld ms (%lld ms reading the store)", lc.n,
                 (long long)(util_mono_ms() - t0), (long long)(t_read - t0));
    return 0;
}
