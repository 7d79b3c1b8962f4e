/* jobs — the lifecycle of every job: SUBMITTED -> PENDING -> RUNNABLE -> STARTING -> RUNNING ->
 * SUCCEEDED | FAILED, with dependencies, arrays, retries, cancel and terminate, as the AWS Batch
 * user guide describes them. */
#include "server/model/jobs.h"
#include "server/model/events.h"
#include "server/model/jobs_internal.h"

#include <stdio.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/model/arn.h"
#include "server/model/config.h"
#include "server/model/consumable.h"
#include "server/model/retry.h"
#include "server/model/state.h"

static const char *const status_names[JS_COUNT] = {
    "SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED",
};

const char *job_status_name(int status)
{
    return status >= 0 && status < JS_COUNT ? status_names[status] : "UNKNOWN";
}

int job_status_parse(const char *s)
{
    for (int i = 0; s && i < JS_COUNT; i++)
        if (strcmp(status_names[i], s) == 0) return i;
    return -1;
}

jobs *jobs_new(void)
{
    jobs *js = xcalloc(1, sizeof *js);
    dict_init(&js->by_id);
    dict_init(&js->queues);
    js->next_seq = 1;
    return js;
}

void jobs__free_job(job *j)
{
    for (uint32_t i = 0; j->children && i < j->array_size; i++) jobs__free_job(j->children[i]);
    if (j->children && j->array_size) {
        free(j->children[0]->id); /* the block of the children's ids */
        free(j->children[0]);     /* and of the children (jobs__make_children) */
    }
    free(j->children);
    free(j->family);
    jobspec_release(j->spec);
    if (!j->parent) free(j->id);
    free(j->reason);
    free(j->stop_reason);
    json_decref(j->attempts);
    free(j->inst_id);
    free(j->ce_name);
    free(j->log_stream);
    free(j->mem_note);
    free(j->executor);
    free(j->dependents);
    if (!j->parent) free(j);
}

void jobs_free(jobs *js)
{
    if (!js) return;
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&js->by_id, &i, &k, &v)) jobs__free_job(v);
    dict_free(&js->by_id);
    i = 0;
    while (dict_next(&js->queues, &i, &k, &v)) {
        for (jq_rt *q = v, *former; q; q = former) {
            former = q->former;
            jobs__free_queue(q);
        }
    }
    dict_free(&js->queues);
    free(js->ended);
    free(js->finished);
    free(js->loaded_started);
    free(js);
}

job *jobs_find(jobs *js, const char *id)
{
    if (!id) return NULL;
    /* "UUID:N" names an array's child, "UUID#N" a multi-node job's node. */
    const char *colon = strpbrk(id, ":#");
    if (!colon) return dict_get(&js->by_id, id);
    /* Only the index as the child's id spells it: digits, without a sign, spaces or leading
     * zeros, so that one child has one id ("UUID:3", never "UUID:03" or "UUID:+3"). */
    const char *d = colon + 1;
    if (*d < '0' || *d > '9' || (*d == '0' && d[1])) return NULL;
    unsigned long idx = 0;
    for (; *d; d++) {
        if (*d < '0' || *d > '9' || idx > 100000000) return NULL;
        idx = idx * 10 + (unsigned long)(*d - '0');
    }
    char *base = xstrndup(id, (size_t)(colon - id));
    job *p = dict_get(&js->by_id, base);
    free(base);
    if (!p || !p->children || idx >= p->array_size) return NULL;
    if ((*colon == '#') != (jobspec_num_nodes(p->spec) > 0)) return NULL;
    return p->children[idx];
}



void jobs__status(jobs *js, job *j, int status)
{
    if (js->events && j->status != status) events_note(js->events, j, status);
    if (j->parent) {
        j->status = (uint8_t)status;
        return;
    }
    /* Counted as ListJobs shows the job (jobs_shown_status), which for a multi-node job that
     * is PENDING is its nodes' progress rather than j->status. */
    jq_rt *q = jobs_queue_of(js, j);
    int was_live = !job_status_done(j->status), live = !job_status_done(status);
    q->n_status[jobs_shown_status(j)]--;
    j->status = (uint8_t)status;
    q->n_status[jobs_shown_status(j)]++;
    if (live != was_live) jobs__share_live(q, j, live ? 1 : -1);
}

/* j comes after `after` in a RUNNABLE list: in a queue's list by submit order, so the
 * scheduler serves it first in, first out; in a share's, by schedulingPriority (highest first)
 * and then submit order.  A retried attempt goes back in its original place. */
static int goes_after(const job *after, const job *j, int by_priority)
{
    if (by_priority) {
        int pa = jobspec_priority(after->spec), pj = jobspec_priority(j->spec);
        if (pa != pj) return pa > pj;
    }
    return after->seq <= j->seq;
}

/* The list j waits in: its share's, or its queue's. */
static void rq_of(jobs *js, const job *j, jq_rt **q, jq_share **s, job ***head, job ***tail)
{
    *q = jobs_queue_of(js, j);
    const char *share = jobspec_share(j->spec);
    *s = share ? jobs_share(*q, share) : NULL;
    *head = *s ? &(*s)->rq_head : &(*q)->rq_head;
    *tail = *s ? &(*s)->rq_tail : &(*q)->rq_tail;
}

void jobs__rq_insert(jobs *js, job *j)
{
    jq_rt *q;
    jq_share *s;
    job **head, **tail;
    rq_of(js, j, &q, &s, &head, &tail);
    /* Right after the last job put into this list when j goes there (an array's children come
     * in order), else searched from both ends at once: a new job goes at the tail, a retried
     * one or one whose dependencies ended back to its place, often near a deep list's head. */
    int p = s != NULL;
    job *after = js->rq_hint, *next, *back, *fwd;
    if (!after || js->rq_hint_head != head || !goes_after(after, j, p) ||
        ((next = after->rq_next) && goes_after(next, j, p))) {
        for (after = NULL, back = *tail, fwd = *head; back && !goes_after(back, j, p); back = back->rq_prev) {
            if (!fwd || !goes_after(fwd, j, p)) break; /* after: fwd's predecessor */
            after = fwd;
            fwd = fwd->rq_next;
        }
        if (!back || goes_after(back, j, p)) after = back;
    }
    js->rq_hint = j;
    js->rq_hint_head = head;
    j->rq_prev = after;
    j->rq_next = after ? after->rq_next : *head;
    if (j->rq_next) j->rq_next->rq_prev = j;
    else *tail = j;
    if (after) after->rq_next = j;
    else *head = j;
    q->n_runnable++;
    if (s) s->n_runnable++;
}

static void rq_remove(jobs *js, job *j)
{
    jq_rt *q;
    jq_share *s;
    job **head, **tail;
    rq_of(js, j, &q, &s, &head, &tail);
    if (j->rq_prev) j->rq_prev->rq_next = j->rq_next;
    else *head = j->rq_next;
    if (j->rq_next) j->rq_next->rq_prev = j->rq_prev;
    else *tail = j->rq_prev;
    j->rq_prev = j->rq_next = NULL;
    if (js->rq_hint == j) js->rq_hint = NULL;
    q->n_runnable--;
    if (s) s->n_runnable--;
}

static int holds_capacity(int status)
{
    return status == JS_STARTING || status == JS_RUNNING;
}

void jobs_charge_share(jobs *js, job *j, int sign)
{
    const char *share = jobspec_share(j->spec);
    if (!share) return;
    jobs_share_charge(jobs_share(jobs_queue_of(js, j), share), sign * j->spec->mvcpus,
                  util_now_ms());
}

int jobs_shown_status(const job *j)
{
    if (j->status != JS_PENDING || !j->children || jobspec_num_nodes(j->spec) == 0)
        return j->status;
    if (j->family->summary[JS_RUNNING]) return JS_RUNNING;
    if (j->family->summary[JS_STARTING]) return JS_STARTING;
    if (j->family->summary[JS_RUNNABLE]) return JS_RUNNABLE;
    return JS_PENDING;
}

void jobs_mark_dirty(state *st, job *j)
{
    if (j->dirty) return;
    j->dirty = 1;
    j->dirty_next = st->jobs->dirty_head;
    st->jobs->dirty_head = j;
}

void jobs__set_reason(char **slot, const char *reason)
{
    if (*slot && reason && strcmp(*slot, reason) == 0) return;
    free(*slot);
    *slot = reason ? xstrdup(reason) : NULL;
}

/* The list grows to 2 and then doubles when full, so that its capacity need not be kept: it is
 * the power of two at or above its count (at least that after a removal, which only shortens
 * it). */
static void add_dependent(job *on, job *waiter)
{
    uint32_t n = on->n_dependents;
    if (n == 0 || (n >= 2 && (n & (n - 1)) == 0))
        on->dependents = xrealloc(on->dependents, (n ? 2 * (size_t)n : 2) * sizeof *on->dependents);
    on->dependents[on->n_dependents++] = waiter;
}

static void parent_update(state *st, job *p);

/* A waiting job whose dependencies are all met: it becomes RUNNABLE, or fails if it was
 * cancelled while it waited (AWS cancels a PENDING job once its dependencies complete). */
static void ready(state *st, job *j)
{
    if (j->status != JS_PENDING && j->status != JS_SUBMITTED) return;
    if (j->cancel_pending) {
        j->is_cancelled = 1;
        jobs_set_status(st, j, JS_FAILED, j->stop_reason);
    } else {
        jobs_set_status(st, j, JS_RUNNABLE, NULL);
    }
}

static void child_gate_open(state *st, job *p)
{
    for (uint32_t i = 0; i < p->array_size; i++) {
        job *c = p->children[i];
        if (--c->deps_pending == 0) ready(st, c);
    }
}

static void dep_met(state *st, job *d)
{
    if (job_status_done(d->status) || d->deps_pending <= 0) return;
    if (--d->deps_pending > 0) return;
    if (d->children) child_gate_open(st, d);
    else ready(st, d);
}

/* A dependency failed: the waiting job fails too, and so, in turn, do the jobs that wait for it.
 * For an array parent, every child that has not started fails, and the parent follows. */
static void dep_failed(state *st, job *d)
{
    if (job_status_done(d->status)) return;
    const char *reason = "Dependent Job failed";
    if (d->children) {
        d->deps_pending = 0;
        for (uint32_t i = 0; i < d->array_size; i++) {
            job *c = d->children[i];
            if (c->status <= JS_RUNNABLE) {
                if (c->cancel_pending) c->is_cancelled = 1;
                jobs_set_status(st, c, JS_FAILED, c->cancel_pending ? c->stop_reason : reason);
            }
        }
        /* The array failed because of its own dependency: it says so, as a plain job does,
         * rather than counting the children that failed with it. */
        if (d->status == JS_FAILED && !d->cancel_pending) jobs__set_reason(&d->reason, reason);
        return;
    }
    if (d->status > JS_RUNNABLE) return;
    if (d->cancel_pending) {
        d->is_cancelled = 1;
        jobs_set_status(st, d, JS_FAILED, d->stop_reason);
    } else {
        jobs_set_status(st, d, JS_FAILED, reason);
    }
}

static void resolve_dependents(state *st, job *j)
{
    /* Copy first: resolving may append to lists while cascading. */
    uint32_t n = j->n_dependents;
    job **ds = xmalloc(sizeof(job *) * (n ? n : 1));
    memcpy(ds, j->dependents, sizeof(job *) * n);
    for (uint32_t i = 0; i < n; i++) {
        if (j->status == JS_SUCCEEDED) dep_met(st, ds[i]);
        else dep_failed(st, ds[i]);
    }
    free(ds);
}

/* A job has ended: its dependents learn it.  A failure cascades down chains of any length (a
 * 10,000-child SEQUENTIAL array, a long pipeline), so the cascade runs from a work list, not by
 * recursion, which overflowed the stack.  The outermost call drains the list, so the cascade is
 * complete when the status change that started it returns. */
static void ended(state *st, job *j);

/* A multi-node job has ended: the jobs that wait for its nodes learn how each ended. */
static void nodes_ended(state *st, job *p)
{
    for (uint32_t k = 0; k < p->array_size; k++)
        if (p->children[k]->n_dependents) ended(st, p->children[k]);
}

static void ended(state *st, job *j)
{
    jobs *js = st->jobs;
    if (!j->n_dependents) return;
    if (js->n_ended == js->cap_ended) {
        js->cap_ended = js->cap_ended ? js->cap_ended * 2 : 64;
        js->ended = xrealloc(js->ended, js->cap_ended * sizeof *js->ended);
    }
    js->ended[js->n_ended++] = j;
    if (js->resolving) return;
    js->resolving = 1;
    while (js->n_ended) resolve_dependents(st, js->ended[--js->n_ended]);
    js->resolving = 0;
}

/* Statuses that live only in memory: a job's waiting state is recomputed from its
 * dependencies when the server starts, so moving between them is not written. */
static int persistent_status(int s)
{
    return s >= JS_STARTING;
}

/* The AWS Batch job state machine, SUBMITTED -> PENDING -> RUNNABLE -> STARTING -> RUNNING ->
 * SUCCEEDED | FAILED, with the ways back and out that it allows: a waiting job fails (a failed
 * dependency, a cancel), an attempt that ends may go back to RUNNABLE (a retry), an array parent
 * ends from PENDING with its children.  Nothing leaves SUCCEEDED or FAILED, but the nodes of a
 * multi-node job that is attempted again (jobs_node_rerun). */
int jobs_transition_allowed(int from, int to)
{
    static const uint8_t allowed[JS_COUNT] = {
        [JS_SUBMITTED] = 1u << JS_PENDING | 1u << JS_RUNNABLE | 1u << JS_FAILED,
        [JS_PENDING] = 1u << JS_RUNNABLE | 1u << JS_SUCCEEDED | 1u << JS_FAILED,
        [JS_RUNNABLE] = 1u << JS_STARTING | 1u << JS_FAILED,
        [JS_STARTING] = 1u << JS_RUNNING | 1u << JS_RUNNABLE | 1u << JS_SUCCEEDED | 1u << JS_FAILED,
        [JS_RUNNING] = 1u << JS_RUNNABLE | 1u << JS_SUCCEEDED | 1u << JS_FAILED,
    };
    if (from < 0 || from >= JS_COUNT || to < 0 || to >= JS_COUNT) return 0;
    return from == to || (allowed[from] >> to & 1u);
}

void jobs_set_status(state *st, job *j, int status, const char *reason)
{
    int old = j->status;
    jobs__set_reason(&j->reason, reason);
    if (old == status) return;
    BARGE_ASSERT(jobs_transition_allowed(old, status));
    /* An attempt starts on its instance and leaves it before it ends (engine/attempt.c). */
    BARGE_ASSERT(status != JS_STARTING || j->inst != NULL);
    BARGE_ASSERT(status == JS_STARTING || status == JS_RUNNING || j->inst == NULL);
    if (old == JS_RUNNABLE) rq_remove(st->jobs, j);
    /* A share's usage counts the vCPUs its attempts hold. */
    if (holds_capacity(old) != holds_capacity(status)) {
        jobs_charge_share(st->jobs, j, holds_capacity(status) ? 1 : -1);
        consumable_charge(st, j, holds_capacity(status) ? 1 : -1);
    }
    jobs__status(st->jobs, j, status);
    if (status == JS_RUNNABLE) {
        j->runnable_at = util_now_ms();
        jobs__rq_insert(st->jobs, j);
        st->jobs->sched_needed = 1;
    }
    if (job_status_done(status) && !j->stopped_at) j->stopped_at = util_now_ms();
    if (persistent_status(status) || persistent_status(old)) jobs_mark_dirty(st, j);
    if (j->parent) {
        job *p = j->parent;
        jobs__summary_move(st->jobs, p, old, status);
        parent_update(st, p);
    }
    /* (parent_update may have put j back: a multi-node job attempted again.) */
    if (job_status_done(status) && job_status_done(j->status)) {
        if (!j->parent) jobs_note_finished(st->jobs, j);
        if (!jobs_is_node(j)) ended(st, j);
        /* A node's end is final only with its job's: the whole job may be attempted again.
         * Jobs that wait for a node learn of its end then. */
        else if (job_status_done(j->parent->status)) nodes_ended(st, j->parent);
    }
}

void jobs_note_finished(jobs *js, job *j)
{
    if (js->n_finished == js->cap_finished) {
        /* The front has been let go: move the rest down before growing. */
        if (js->fin_head > js->n_finished / 2) {
            memmove(js->finished, js->finished + js->fin_head,
                    (js->n_finished - js->fin_head) * sizeof *js->finished);
            js->n_finished -= js->fin_head;
            js->fin_head = 0;
        } else {
            js->cap_finished = js->cap_finished ? js->cap_finished * 2 : 256;
            js->finished = xrealloc(js->finished, js->cap_finished * sizeof *js->finished);
        }
    }
    js->finished[js->n_finished++] = j;
}

/* Where j is in a list kept in submit order (q->all, q->arrays): a binary search by seq; n when
 * it is not there. */
static size_t list_index(job *const *v, size_t n, const job *j)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v[mid]->seq < j->seq) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && v[lo] == j ? lo : n;
}

static int by_index(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Takes the jobs out of a list kept in submit order: each found by a binary search in the list
 * as it is, then the list closed up around them in one pass of moves, without reading a job
 * that stays (a queue of a million costs a few milliseconds, not a million cache misses). */
static size_t list_remove(job **v, size_t n, job *const *gone, size_t n_gone)
{
    size_t *at = xmalloc((n_gone ? n_gone : 1) * sizeof *at), k = 0;
    for (size_t i = 0; i < n_gone; i++) {
        size_t x = list_index(v, n, gone[i]);
        if (x < n) at[k++] = x;
    }
    if (k) qsort(at, k, sizeof *at, by_index);
    size_t w = k ? at[0] : n;
    for (size_t i = 0; i < k; i++) {
        size_t from = at[i] + 1, to = i + 1 < k ? at[i + 1] : n;
        memmove(v + w, v + from, (to - from) * sizeof *v);
        w += to - from;
    }
    free(at);
    return k ? w : n;
}

void jobs_unlist_gone(jq_rt *q, job *const *gone, size_t n)
{
    q->n_all = list_remove(q->all, q->n_all, gone, n);
    size_t n_arrays = 0;
    job **arrays = xmalloc((n ? n : 1) * sizeof *arrays);
    for (size_t i = 0; i < n; i++)
        if (gone[i]->children) arrays[n_arrays++] = gone[i];
    q->n_arrays = list_remove(q->arrays, q->n_arrays, arrays, n_arrays);
    free(arrays);
}

static void drop_gone_dependents(job *on)
{
    uint32_t w = 0;
    for (uint32_t r = 0; r < on->n_dependents; r++) {
        job *d = on->dependents[r];
        if (!(d->parent ? d->parent : d)->gone) on->dependents[w++] = d;
    }
    on->n_dependents = w;
}

void jobs_forget_gone_dependents(job *on)
{
    drop_gone_dependents(on);
    for (uint32_t k = 0; on->children && k < on->array_size; k++)
        drop_gone_dependents(on->children[k]);
}

static void forget_head(const job **seen, const job *j)
{
    if (*seen && (*seen == j || (*seen)->parent == j)) *seen = NULL;
}

void jobs_unlink_gone(jobs *js, job *j)
{
    BARGE_ASSERT(j->gone && !j->parent && job_status_done(j->status) && !j->dirty);
    dict_del(&js->by_id, j->id);
    jq_rt *q = jobs_queue_of(js, j);
    q->n_status[jobs_shown_status(j)]--;
    /* The time-limit check remembers the head it saw last by address (engine/timelimit.c);
     * a job made later at the same address must not pass for it. */
    forget_head(&q->head_seen, j);
    for (size_t k = 0; k < q->n_shares; k++) forget_head(&q->share_v[k]->head_seen, j);
    jobs__free_job(j);
}

/* An array parent is PENDING while its children run, and ends once all of them have: SUCCEEDED
 * if every child did, FAILED otherwise. */
static void parent_update(state *st, job *p)
{
    if (job_status_done(p->status)) return;
    const uint32_t *summary = p->family->summary;
    if (summary[JS_SUCCEEDED] + summary[JS_FAILED] < p->array_size) return;
    if (jobspec_num_nodes(p->spec) > 0) {
        jobs__nodes_done(st, p);
        return;
    }
    if (summary[JS_FAILED] == 0) {
        jobs_set_status(st, p, JS_SUCCEEDED, NULL);
    } else {
        /* AWS's words, which tools match (event handlers skip a parent's failure by them); how
         * many failed is in the parent's statusSummary. */
        if (p->cancel_pending) p->is_cancelled = 1;
        jobs_set_status(st, p, JS_FAILED, p->cancel_pending && p->stop_reason
                                              ? p->stop_reason
                                              : "Array Child Job failed");
    }
}

/* j (zeroed) made a job of spec, with id (taken), created at now, in submit order seq. */
static void init_job(job *j, jobspec *spec, char *id, int64_t now, uint64_t seq)
{
    j->id = id;
    j->spec = spec;
    spec->refs++;
    for (size_t i = 0; i < JOB_NAME_HEAD && spec->name && spec->name[i]; i++)
        j->name_head[i] = (char)tolower((unsigned char)spec->name[i]);
    j->seq = seq;
    j->created_at = now;
    j->status = JS_SUBMITTED;
}

/* A million queued jobs are a million of these: at 256 bytes a job takes 256, one byte more
 * and it takes 320 (jemalloc's size classes), 61 MiB more at a million (docs/performance.md). */
_Static_assert(sizeof(job) <= 256, "a job over 256 bytes takes 320: find the bytes elsewhere");

job *jobs__alloc(jobspec *spec, char *id, int64_t now, uint64_t seq)
{
    job *j = xcalloc(1, sizeof *j);
    init_job(j, spec, id, now, seq);
    return j;
}

/* A job that no longer waits for on (on has ended, or the job itself has) stays on on's list
 * of dependents if it was submitted before on ended: it waited for it, and was told.  So a job's
 * dependents read the same after a restart as before one, where the lists are made again from
 * the jobs' dependsOn (jobs_store.c).  Within the millisecond on ended it is taken to have
 * waited: the children of a SEQUENTIAL array whose dependency had failed wait for each other,
 * and fail, in the millisecond they are made. */
static void add_told(job *on, const job *waiter)
{
    if (!job_status_done(on->status) || waiter->created_at <= on->stopped_at)
        add_dependent(on, (job *)waiter);
}

/* Wires j's dependsOn: with waits, j waits for what has not ended (a freshly made job, or one
 * reloaded still waiting); else j no longer waits (reloaded after it ended or started) and is
 * only listed where it was.  Returns 1 when a dependency has already failed. */
static int wire_deps(state *st, job *j, json_t *deps, int waits)
{
    int failed = 0;
    size_t i;
    json_t *d;
    json_array_foreach(deps, i, d) {
        const char *type = json_string_value(json_object_get(d, "type"));
        const char *on_id = json_string_value(json_object_get(d, "jobId"));
        if (type && strcmp(type, "SEQUENTIAL") == 0) {
            for (uint32_t k = 1; k < j->array_size; k++) {
                job *prev = j->children[k - 1], *c = j->children[k];
                /* A failed one was handled when it failed. */
                if (!waits || prev->status == JS_SUCCEEDED || prev->status == JS_FAILED) {
                    add_told(prev, c);
                    continue;
                }
                c->deps_pending++;
                add_dependent(prev, c);
            }
            continue;
        }
        job *on = jobs_find(st->jobs, on_id);
        if (!on) continue; /* refused at submit; gone only if the store lost it */
        if (type && strcmp(type, "N_TO_N") == 0 && jobs_is_array(on) && jobs_is_array(j)) {
            for (uint32_t k = 0; k < j->array_size && k < on->array_size; k++) {
                job *c = j->children[k], *o = on->children[k];
                if (!waits || o->status == JS_SUCCEEDED) {
                    add_told(o, c);
                    continue;
                }
                if (o->status == JS_FAILED) {
                    c->deps_pending = -1000000; /* marks the child as failed below */
                    add_told(o, c);
                    continue;
                }
                c->deps_pending++;
                add_dependent(o, c);
            }
            continue;
        }
        /* A node's end counts once its job's has (it may be attempted again). */
        int over = job_status_done(on->status) &&
                   (!jobs_is_node(on) || job_status_done(on->parent->status));
        if (!waits || over) {
            add_told(on, j);
            if (waits && on->status != JS_SUCCEEDED) failed = 1;
            continue;
        }
        j->deps_pending++;
        add_dependent(on, j);
    }
    return failed;
}

void jobs__list_told(state *st, job *j, json_t *deps)
{
    wire_deps(st, j, deps, 0);
}

/* Puts a freshly created (or reloaded, still waiting) job into its first waiting state. */
void jobs__enter_lifecycle(state *st, job *j, json_t *deps)
{
    int failed = wire_deps(st, j, deps, 1);
    if (!j->children) {
        if (failed) {
            jobs_set_status(st, j, JS_FAILED, "Dependent Job failed");
        } else if (j->deps_pending > 0) {
            jobs_set_status(st, j, JS_PENDING, NULL);
        } else {
            ready(st, j); /* SUBMITTED to RUNNABLE, as AWS: no PENDING (nor its event) */
        }
        return;
    }
    jobs_set_status(st, j, JS_PENDING, NULL);
    int gate = j->deps_pending > 0;
    for (uint32_t k = 0; k < j->array_size; k++) {
        job *c = j->children[k];
        if (c->status != JS_SUBMITTED) continue;
        if (failed || c->deps_pending < 0) {
            jobs_set_status(st, c, JS_FAILED, "Dependent Job failed");
            continue;
        }
        if (gate) c->deps_pending++;
        if (c->deps_pending > 0) jobs_set_status(st, c, JS_PENDING, NULL);
        else ready(st, c);
    }
    if (failed && j->status == JS_FAILED && !j->cancel_pending)
        jobs__set_reason(&j->reason, "Dependent Job failed");
}

/* n children's block, zeroed; freed with free().  A large one (a 10,000-child array's 3 MB, some
 * 750 page faults in 4 KiB pages) is aligned to huge pages and advised them
 * (docs/performance.md, figure 2). */
static job *children_block(size_t n)
{
    size_t size = n * sizeof(job);
    void *b = NULL;
    if (size < MEM_HUGE_PAGE || posix_memalign(&b, MEM_HUGE_PAGE, size) != 0)
        return xcalloc(n, sizeof(job));
    mem_advise_huge(b, size);
    memset(b, 0, size);
    return b;
}

/* k in decimal, NUL-terminated, at out (11 bytes at most). */
static void put_index(char *out, uint32_t k)
{
    char digits[10];
    int n = 0;
    do digits[n++] = (char)('0' + k % 10); while (k /= 10);
    while (n) *out++ = digits[--n];
    *out = '\0';
}

void jobs__make_children(job *p, int64_t now)
{
    p->children = xmalloc(sizeof(job *) * p->array_size);
    size_t idlen = strlen(p->id), idcap = idlen + 12;
    /* A multi-node parallel job's nodes are JOBID#N, each with its node range's container; an
     * array's children are JOBID:N and share the parent's spec.  The children are made in one
     * block and their ids in another, freed with the parent (no child is freed alone): a
     * 10,000-child array made one at a time spent a fifth of its SubmitJob zeroing and
     * faulting in ten thousand small blocks, and formatting each id with snprintf. */
    int nodes = jobspec_num_nodes(p->spec) > 0;
    job *block = children_block(p->array_size);
    char *ids = xmalloc(idcap * p->array_size);
    for (uint32_t k = 0; k < p->array_size; k++) {
        char *cid = ids + idcap * k;
        memcpy(cid, p->id, idlen);
        cid[idlen] = nodes ? '#' : ':';
        put_index(cid + idlen + 1, k);
        jobspec *spec = nodes ? jobspec_node(p->spec, (int)k) : p->spec;
        job *c = &block[k];
        init_job(c, spec, cid, now, p->seq);
        if (nodes) jobspec_release(spec); /* init_job took its own reference */
        c->parent = p;
        p->children[k] = c;
    }
    p->family = xcalloc(1, sizeof *p->family);
    p->family->summary[JS_SUBMITTED] = p->array_size;
    p->family->summary_at = now;
}

job *jobs_create(state *st, jobspec *spec, const char *id, uint32_t array_size, json_t *deps,
                 int64_t now)
{
    jobs *js = st->jobs;
    job *j = jobs__alloc(spec, xstrdup(id), now, js->next_seq++);
    jobspec_release(spec); /* job_alloc took its own reference */
    dict_put(&js->by_id, j->id, j);
    if (array_size) {
        j->array_size = array_size;
        jobs__make_children(j, now);
    }
    jobs__list(jobs_queue_of(js, j), j); /* after its children: it is listed as an array */
    jobs_mark_dirty(st, j); /* the submit itself is always written */
    jobs__enter_lifecycle(st, j, deps);
    return j;
}

void jobs_cancel(state *st, job *j, const char *reason, int terminate)
{
    if (job_status_done(j->status)) return;
    /* A multi-node job whose nodes run is a running job, which CancelJob leaves alone, as AWS
     * does (its attempt ends as its main node decides, and may be retried). */
    if (j->children && !terminate && jobspec_num_nodes(j->spec) > 0 && jobs__nodes_started(j)) return;
    if (j->children) {
        /* An array all of whose children have started (or ended) has nothing CancelJob stops:
         * it ends as its children do, not as cancelled (a child's own failure is the array's
         * "Array Child Job failed"). */
        const uint32_t *n = j->family->summary;
        if (!terminate && !n[JS_SUBMITTED] && !n[JS_PENDING] && !n[JS_RUNNABLE]) return;
        jobs__set_reason(&j->stop_reason, reason);
        j->cancel_pending = 1;
        if (terminate) j->is_terminated = 1;
        jobs_mark_dirty(st, j);
        for (uint32_t k = 0; k < j->array_size; k++)
            jobs_cancel(st, j->children[k], reason, terminate);
        return;
    }
    switch (j->status) {
    case JS_SUBMITTED:
    case JS_RUNNABLE:
        jobs__set_reason(&j->stop_reason, reason);
        j->is_cancelled = 1;
        if (terminate) j->is_terminated = 1;
        jobs_set_status(st, j, JS_FAILED, reason);
        jobs_mark_dirty(st, j);
        break;
    case JS_PENDING:
        /* AWS cancels a PENDING job once its dependencies complete. */
        jobs__set_reason(&j->stop_reason, reason);
        j->cancel_pending = 1;
        if (terminate) j->is_terminated = 1;
        jobs_mark_dirty(st, j);
        break;
    case JS_STARTING:
    case JS_RUNNING:
        if (!terminate) break; /* CancelJob leaves started jobs alone, as AWS does */
        jobs__set_reason(&j->stop_reason, reason);
        j->is_terminated = 1;
        jobs_mark_dirty(st, j);
        break;
    }
}

/* An array child started: its parent started then, unless an earlier child did, by the agent's
 * clock (the server's, when it handles the report, is a little later).  A parent none of whose
 * children ran has no start time.  The parent is written now: waiting for its children, it is
 * otherwise not written again until it ends, and a restart would lose the time. */
void jobs_note_started(state *st, job *c)
{
    job *p = c->parent;
    if (!p || !c->started_at || (p->started_at && p->started_at <= c->started_at)) return;
    p->started_at = c->started_at;
    jobs_mark_dirty(st, p);
}
