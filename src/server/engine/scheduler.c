/* scheduler — queue priority across queues, computeEnvironmentOrder inside a queue, first in first
 * out inside a queue (or its shares' order in a fair-share queue: fairshare.h), and a job only
 * where its vCPUs, memory and GPUs fit. */
#include "server/base/metrics.h"
#include "server/engine/scheduler.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "server/model/consumable.h"
#include "server/model/jobs.h"
#include "server/model/resource.h"
#include "server/model/state.h"
#include "common/util.h"
#include "server/engine/attempt.h"
#include "server/engine/fairshare.h"
#include "server/engine/fleet.h"

/* How many jobs a pass may look at past the first one that could not be placed, per queue:
 * bounds the cost of a pass on a long queue whose head is waiting for capacity. */
#define SCAN_PAST_MISSES 64

/* The smallest requirement that failed, per resource. */
typedef struct need {
    int mvcpus, memory, gpus;
} need;

static int at_least(const job *j, const need *n)
{
    return j->spec->mvcpus >= n->mvcpus && j->spec->memory_mib >= n->memory &&
           j->spec->gpus >= n->gpus;
}

static void shrink(need *n, const job *j)
{
    /* Only a requirement no larger in any resource replaces the recorded one, so the
     * recorded one stays a single job's that failed. */
    if (j->spec->mvcpus <= n->mvcpus && j->spec->memory_mib <= n->memory &&
        j->spec->gpus <= n->gpus)
        *n = (need){j->spec->mvcpus, j->spec->memory_mib, j->spec->gpus};
}

/* Tries j in q's environments in order: the first with room takes the job; one that is
 * starting (or can start) an instance for it keeps it, so that a later environment whose
 * instance happens to come up first does not jump the order.  A DISABLED environment takes no
 * new jobs; what already runs there goes on.  1 when placed. */
static int place(state *st, jq_rec *q, job *j, need *no_fit, need *no_launch)
{
    /* A consumable resource it needs is all held: it waits (explain.c says for what). */
    if (!consumable_fits(st, j, NULL, NULL, NULL)) return 0;
    for (size_t k = 0; k < q->n_ces; k++) {
        ce_rec *ce = q->ces[k];
        if (!ce->live || !res_ce_usable(ce)) continue;
        if (!at_least(j, &no_fit[k])) {
            instance *in = fleet_fit(st, ce->name, j, 0);
            if (in) {
                attempt_start(st, in, j);
                return 1;
            }
            shrink(&no_fit[k], j);
        }
        if (!at_least(j, &no_launch[k])) {
            if (fleet_provide(st, ce, j)) return 0;
            shrink(&no_launch[k], j);
        }
    }
    return 0;
}

/* A multi-node job's nodes are placed together or not at all (gang scheduling), so that two
 * such jobs never each hold part of what both need, and in one compute environment (AWS keeps
 * a job's nodes in one, its cluster placement group), the first of the queue's where all have
 * room.  Each node gets an instance with room, nodes sharing one when it has room for several;
 * when some find none, the room found for the others stays held for this job, away from other
 * gangs, for the rest of this pass (unless the job is placed in a later environment) and
 * instances are launched for the others in the first environment that can ever hold them all.  The main node starts first,
 * so that the other nodes' assignments carry its address. */
static int place_gang(state *st, jq_rec *q, job *p)
{
    uint32_t n = p->array_size;
    for (uint32_t i = 0; i < n; i++)
        if (p->children[i]->status != JS_RUNNABLE) return 0;
    /* Waits, as a job does, while what the resources hold leaves too little for all nodes. */
    if (!consumable_gang_fits(st, p, NULL, NULL, NULL)) return 0;
    long long all_mvcpus = 0;
    for (uint32_t i = 0; i < n; i++) all_mvcpus += p->children[i]->spec->mvcpus;
    /* Where each node found room, one row per environment tried: a gang placed in a later
     * environment gives back what the earlier ones promised it. */
    size_t rows = q->n_ces ? q->n_ces : 1;
    instance **where = xcalloc(rows * n, sizeof *where), **row = where;
    uint8_t *missed = NULL; /* which nodes found no room in the environment to grow */
    ce_rec *grow = NULL;
    int placed = 0;
    size_t k = 0;
    for (; k < q->n_ces; k++) {
        ce_rec *ce = q->ces[k];
        if (!ce->live || !res_ce_usable(ce)) continue;
        /* More vCPUs together than maxvCpus: never here (explain.c says so), and no node is
         * tried, however many there are. */
        if (ce->managed && all_mvcpus > ce->max_mvcpus) continue;
        row = where + k * n;
        uint32_t missing = 0;
        for (uint32_t i = 0; i < n; i++) {
            row[i] = fleet_fit(st, ce->name, p->children[i], 1);
            if (row[i]) instance_reserve(row[i], p->children[i]);
            else missing++;
        }
        placed = missing == 0;
        if (placed) break;
        if (!grow && ce->managed) {
            grow = ce;
            missed = xcalloc(n, 1);
            for (uint32_t i = 0; i < n; i++) missed[i] = !row[i];
        }
    }
    if (placed) {
        /* The nodes' attempts hold their room from now on: what was promised to them is given
         * back, here and in the environments tried before, or later gangs of this pass would
         * find that room counted twice, or held for nothing. */
        for (size_t r = 0; r <= k; r++)
            for (uint32_t i = 0; i < n; i++)
                if (where[r * n + i]) instance_unreserve(where[r * n + i], p->children[i]);
        uint32_t main_index = (uint32_t)jobspec_main_node(p->spec);
        attempt_start(st, row[main_index], p->children[main_index]);
        for (uint32_t i = 0; i < n; i++)
            if (i != main_index) attempt_start(st, row[i], p->children[i]);
    } else if (grow) {
        for (uint32_t i = 0; i < n; i++)
            if (missed[i]) fleet_provide(st, grow, p->children[i]);
    }
    free(where);
    free(missed);
    return placed;
}

/* A job whose runtimePlatform this host is not never runs on a queue of Fargate environments,
 * whose agents run here (explain.c says why); not a miss either. */
static int runs_here(const job *j, int kind)
{
    return kind != 1 || !j->spec->foreign_platform;
}

/* The jobs of q's shares, the share with the smallest claim first (fairshare.h). */
static void pass_shares(state *st, jq_rec *q, int kind, need *no_fit, need *no_launch)
{
    fs_pass *p = fairshare_begin(st, q, util_now_ms());
    if (!p) return;
    job *j;
    while ((j = fairshare_next(p))) {
        int ok = (kind < 0 || j->spec->fargate == kind) && runs_here(j, kind) &&
                 fairshare_room(p, j);
        /* A multi-node job's first node stands for the whole gang (fairshare_next). */
        if (ok)
            ok = jobs_is_node(j) ? place_gang(st, q, j->parent)
                                 : place(st, q, j, no_fit, no_launch);
        fairshare_result(p, ok);
    }
    fairshare_end(p);
}

static void pass(state *st)
{
    jobs *js = st->jobs;
    js->sched_needed = 0;
    size_t nq;
    jq_rec *const *qs = res_queues_by_priority(st, &nq);
    fleet_clear_reservations(st->fleet);
    for (size_t i = 0; i < nq; i++) {
        jq_rec *q = qs[i];
        jq_rt *rt = q->jobs;
        if (!rt || !rt->n_runnable || !res_jq_places(q)) continue;
        size_t m = q->n_ces;
        /* Within a pass capacity only shrinks, so once a job found no room (or no launch) in an
         * environment, no job at least as large will: it need not be tried again.  This keeps a
         * pass over a long queue behind a full environment cheap. */
        need *no_fit = xmalloc((m ? m : 1) * sizeof *no_fit);
        need *no_launch = xmalloc((m ? m : 1) * sizeof *no_launch);
        for (size_t k = 0; k < m; k++) no_fit[k] = no_launch[k] = (need){INT_MAX, INT_MAX, INT_MAX};
        int misses = 0;
        int kind = res_jq_fargate(q);
        pass_shares(st, q, kind, no_fit, no_launch);
        for (job *j = rt->rq_head, *next; j && misses <= SCAN_PAST_MISSES; j = next) {
            next = j->rq_next;
            /* A job for the other platform never runs here (explain.c says why); it is not a
             * miss either, as no capacity would change that. */
            if ((kind >= 0 && j->spec->fargate != kind) || !runs_here(j, kind)) continue;
            if (jobs_is_node(j)) {
                /* The whole gang at once; the list goes on after its nodes, whose links change
                 * as they are placed. */
                while (next && next->parent == j->parent) next = next->rq_next;
                if (!place_gang(st, q, j->parent)) misses++;
                continue;
            }
            if (!place(st, q, j, no_fit, no_launch)) misses++;
        }
        free(no_fit);
        free(no_launch);
    }
}

void sched_pass(state *st)
{
    if (!st->jobs->sched_needed) return;
    int64_t t0 = util_mono_us();
    pass(st);
    metrics_observe(METRIC_SCHED_PASS, (double)(util_mono_us() - t0) / 1e6);
}
