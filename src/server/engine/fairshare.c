/* fairshare — see fairshare.h. */
#include "server/engine/fairshare.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/dict.h"
#include "common/log.h"
#include "common/mem.h"
#include "server/model/instance.h"
#include "server/model/jobs.h"
#include "server/model/registry.h"
#include "server/model/state.h"

/* How many jobs of one share a pass may try past those that did not fit: a share whose first
 * jobs are too large for the room left still lets smaller ones behind them run, at a bounded
 * cost. */
#define SHARE_SCAN_PAST_MISSES 16

typedef struct fs_entry {
    jq_share *s;
    double weight;
    job *cursor; /* the next job to try */
    job *after;  /* the one after the job handed out (the list changes when it is placed) */
    int misses;
    double assumed; /* claim of the jobs fairshare_front counted as placed */
    double key;     /* its claim (claim()), as of the last change of its share */
} fs_entry;

/* The shares with a job to try are kept in a binary heap, the smallest claim on top: a pass
 * tries up to SHARE_SCAN_PAST_MISSES + 1 jobs of every share, and finding the next share by a
 * walk over all of them made a pass over a queue of many shares quadratic in their number.  A
 * share's claim changes only when one of its own jobs is handed out (placed, or counted as
 * placed), and that share is then the one on top. */
struct fs_pass {
    jq_rt *rt;
    int64_t now;
    fs_entry *e;
    size_t n;
    fs_entry **heap;
    size_t n_heap;
    fs_entry *current;
    int64_t cap_mvcpus; /* what the queue may hold now under computeReservation */
};

double fairshare_weight(json_t *policy, const char *share)
{
    json_t *dist = json_object_get(json_object_get(policy, "fairsharePolicy"), "shareDistribution");
    size_t i, best_len = 0;
    json_t *e;
    double w = 1.0;
    int found = 0;
    json_array_foreach(dist, i, e) {
        const char *id = json_string_value(json_object_get(e, "shareIdentifier"));
        json_t *wf = json_object_get(e, "weightFactor");
        if (!id) continue;
        size_t n = strlen(id);
        int match;
        if (n && id[n - 1] == '*') match = strncmp(id, share, n - 1) == 0;
        else match = strcmp(id, share) == 0;
        if (!match) continue;
        size_t len = id[n - 1] == '*' ? n - 1 : SIZE_MAX; /* an exact entry beats any prefix */
        if (found && len <= best_len) continue;
        found = 1;
        best_len = len;
        w = wf ? json_number_value(wf) : 1.0;
    }
    return w > 0 ? w : 1.0;
}

/* The most vCPUs the queue's environments can hold: a managed one's maxvCpus, an unmanaged
 * one's registered instances. */
static int64_t queue_max_mvcpus(state *st, const jq_rec *q)
{
    int64_t total = 0;
    for (size_t i = 0; i < q->n_ces; i++) {
        const ce_rec *ce = q->ces[i];
        if (!ce->live) continue;
        if (ce->managed) {
            total += ce->max_mvcpus;
            continue;
        }
        size_t k = 0;
        const char *key;
        void *v;
        while (dict_next(&st->fleet->instances, &k, &key, &v)) {
            const instance *in = v;
            if (in->registered && strcmp(in->ce, ce->name) == 0) total += in->mvcpus;
        }
    }
    return total;
}

static double claim(const fs_pass *p, const fs_entry *e)
{
    const jq_share *s = e->s;
    return e->weight * (jobs_share_usage(s, p->now) + s->running_mvcpus / 1000.0 * s->decay_s) +
           e->assumed;
}

/* Whether a goes before b: the smaller claim; equal claims, the share whose next job was
 * submitted first. */
static int before(const fs_entry *a, const fs_entry *b)
{
    return a->key < b->key || (a->key == b->key && a->cursor->seq < b->cursor->seq);
}

static void sift_down(fs_pass *p, size_t i)
{
    fs_entry **h = p->heap;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < p->n_heap && before(h[l], h[m])) m = l;
        if (r < p->n_heap && before(h[r], h[m])) m = r;
        if (m == i) return;
        fs_entry *t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* (reservation/100)^active of the queue's maximum is held back; what remains, in milli-vCPUs. */
static int64_t reservation_cap(state *st, jq_rec *q, json_int_t reserve, int active,
                               int64_t *max_out)
{
    int64_t max = queue_max_mvcpus(st, q);
    if (max_out) *max_out = max;
    if (reserve <= 0) return INT64_MAX;
    return (int64_t)((double)max * (1.0 - pow((double)reserve / 100.0, active)));
}

static int active_shares(const jq_rt *rt)
{
    int active = 0;
    for (size_t i = 0; i < rt->n_shares; i++)
        if (jobs_share_active(rt->share_v[i])) active++;
    return active;
}

/* The vCPUs a job placed now takes: a multi-node job's nodes all at once. */
static int64_t placed_mvcpus(const job *j)
{
    if (!jobs_is_node(j)) return j->spec->mvcpus;
    int64_t sum = 0;
    for (uint32_t k = 0; k < j->parent->array_size; k++)
        sum += j->parent->children[k]->spec->mvcpus;
    return sum;
}

char *fairshare_explain(state *st, jq_rec *q, const job *j)
{
    jq_rt *rt = q->jobs;
    json_t *policy = q->policy ? reg_get(&st->sp, q->policy) : NULL;
    json_int_t reserve = json_integer_value(
        json_object_get(json_object_get(policy, "fairsharePolicy"), "computeReservation"));
    if (!rt || !jobspec_share(j->spec) || reserve <= 0) return NULL;
    int active = active_shares(rt);
    int64_t max, cap = reservation_cap(st, q, reserve, active, &max);
    /* Nothing to hold back where there is nothing at all: the environments say why. */
    if (max <= 0 || (int64_t)rt->running_mvcpus + placed_mvcpus(j) <= cap) return NULL;
    return xasprintf("waiting for capacity in job queue %s: its scheduling policy %s holds %g of "
                     "its %g vCPUs back for shares not yet active (computeReservation %d with %d "
                     "active share%s), and its shares use %g",
                     q->name, q->policy, (double)(max - cap) / 1000.0, (double)max / 1000.0,
                     (int)reserve, active, active == 1 ? "" : "s", rt->running_mvcpus / 1000.0);
}

fs_pass *fairshare_begin(state *st, jq_rec *q, int64_t now_ms)
{
    jq_rt *rt = q->jobs;
    if (!rt || rt->n_shares == 0) return NULL;
    json_t *policy = q->policy ? reg_get(&st->sp, q->policy) : NULL;
    json_t *fp = json_object_get(policy, "fairsharePolicy");
    double decay = (double)json_integer_value(json_object_get(fp, "shareDecaySeconds"));
    json_int_t reserve = json_integer_value(json_object_get(fp, "computeReservation"));
    fs_pass *p = xcalloc(1, sizeof *p);
    p->rt = rt;
    p->now = now_ms;
    p->e = xmalloc(rt->n_shares * sizeof *p->e);
    for (size_t i = 0; i < rt->n_shares; i++) {
        jq_share *s = rt->share_v[i];
        jobs_share_set_decay(s, decay, now_ms);
        if (!s->rq_head) continue;
        p->e[p->n++] = (fs_entry){.s = s, .weight = fairshare_weight(policy, s->id),
                                  .cursor = s->rq_head};
    }
    if (p->n == 0) {
        fairshare_end(p);
        return NULL;
    }
    p->cap_mvcpus = reservation_cap(st, q, reserve, active_shares(rt), NULL);
    p->heap = xmalloc(p->n * sizeof *p->heap);
    for (size_t i = 0; i < p->n; i++) {
        p->e[i].key = claim(p, &p->e[i]);
        p->heap[p->n_heap++] = &p->e[i];
    }
    for (size_t i = p->n_heap / 2; i-- > 0;) sift_down(p, i);
    return p;
}

job *fairshare_next(fs_pass *p)
{
    fs_entry *best = p->n_heap ? p->heap[0] : NULL;
    p->current = best;
    if (!best) return NULL;
    /* A multi-node job's nodes wait side by side and are tried as one (the scheduler places
     * them together): the share goes on after the last of them. */
    job *j = best->cursor, *after = j->rq_next;
    if (jobs_is_node(j))
        while (after && after->parent == j->parent) after = after->rq_next;
    best->after = after;
    return j;
}

void fairshare_result(fs_pass *p, int placed)
{
    fs_entry *e = p->current;
    if (!e) return;
    e->cursor = e->after;
    if (!placed && ++e->misses > SHARE_SCAN_PAST_MISSES) e->cursor = NULL;
    p->current = NULL;
    /* e is on top (fairshare_next gave its job): it leaves the heap when it has no job left to
     * try, else goes down as far as its new claim takes it (a smaller one keeps it on top). */
    BARGE_ASSERT(p->n_heap && p->heap[0] == e);
    if (!e->cursor) p->heap[0] = p->heap[--p->n_heap];
    else e->key = claim(p, e);
    sift_down(p, 0);
}

int fairshare_room(const fs_pass *p, const job *j)
{
    return (int64_t)p->rt->running_mvcpus + placed_mvcpus(j) <= p->cap_mvcpus;
}

size_t fairshare_front(state *st, jq_rec *q, const job **out, size_t max, int64_t now_ms)
{
    fs_pass *p = fairshare_begin(st, q, now_ms);
    size_t n = 0;
    job *j;
    while (p && n < max && (j = fairshare_next(p))) {
        out[n++] = j;
        /* A multi-node job's other nodes with it, as the queue's list shows them. */
        for (const job *c = j->rq_next; jobs_is_node(j) && c && c->parent == j->parent && n < max;
             c = c->rq_next)
            out[n++] = c;
        /* As if it were placed: its share's claim grows by what its vCPUs add. */
        fs_entry *e = p->current;
        e->assumed += e->weight * (double)placed_mvcpus(j) / 1000.0 * e->s->decay_s;
        fairshare_result(p, 1);
    }
    fairshare_end(p);
    return n;
}

void fairshare_end(fs_pass *p)
{
    if (!p) return;
    free(p->heap);
    free(p->e);
    free(p);
}
