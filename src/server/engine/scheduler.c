/* scheduler — queue priority across queues, computeEnvironmentOrder inside a queue, first in first
 * out inside a queue, and a job only where its vCPUs, memory and GPUs fit. */
#include "server/engine/scheduler.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "server/model/arn.h"
#include "server/base/core.h"
#include "server/engine/fleet.h"
#include "server/model/jobs.h"
#include "common/mem.h"
#include "server/model/state.h"

/* How many jobs a pass may look at past the first one that could not be placed, per queue:
 * bounds the cost of a pass on a long queue whose head is waiting for capacity. */
#define SCAN_PAST_MISSES 64

typedef struct {
    json_t *q;
    json_int_t priority;
    const char *name;
} queue_ref;

static int by_priority(const void *a, const void *b)
{
    const queue_ref *x = a, *y = b;
    if (x->priority != y->priority) return x->priority > y->priority ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int by_order(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "order"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "order"));
    return x < y ? -1 : x > y;
}

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

static int queue_usable(json_t *q)
{
    const char *s = json_string_value(json_object_get(q, "state"));
    const char *status = json_string_value(json_object_get(q, "status"));
    return s && strcmp(s, "ENABLED") == 0 && status && strcmp(status, "DELETING") != 0 &&
           strcmp(status, "DELETED") != 0;
}

static void pass(state *st)
{
    jobs *js = st->jobs;
    js->sched_needed = 0;
    size_t nq = json_object_size(st->jq.items), n = 0;
    if (!nq) return;
    queue_ref *qs = xmalloc(nq * sizeof *qs);
    const char *name;
    json_t *q;
    json_object_foreach(st->jq.items, name, q) {
        jq_rt *rt = dict_get(&js->queues, name);
        if (!rt || !rt->rq_head || !queue_usable(q)) continue;
        qs[n].q = q;
        qs[n].name = name;
        qs[n].priority = json_integer_value(json_object_get(q, "priority"));
        n++;
    }
    qsort(qs, n, sizeof *qs, by_priority);
    fleet_pass_begin(st);
    for (size_t i = 0; i < n; i++) {
        jq_rt *rt = dict_get(&js->queues, qs[i].name);
        json_t *order = json_object_get(qs[i].q, "computeEnvironmentOrder");
        size_t nce = json_array_size(order);
        json_t **ces = xmalloc((nce ? nce : 1) * sizeof *ces);
        json_t **entries = xmalloc((nce ? nce : 1) * sizeof *entries);
        for (size_t k = 0; k < nce; k++) entries[k] = json_array_get(order, k);
        qsort(entries, nce, sizeof *entries, by_order);
        size_t m = 0;
        for (size_t k = 0; k < nce; k++) {
            char *ce_name = arn_resource(
                json_string_value(json_object_get(entries[k], "computeEnvironment")), ARN_CE);
            json_t *ce = ce_name ? reg_get(&st->ce, ce_name) : NULL;
            free(ce_name);
            if (ce) ces[m++] = ce;
        }
        /* Within a pass capacity only shrinks, so once a job found no room (or no launch) in an
         * environment, no job at least as large will: it need not be tried again.  This keeps a
         * pass over a long queue behind a full environment cheap. */
        need *no_fit = xmalloc((m ? m : 1) * sizeof *no_fit);
        need *no_launch = xmalloc((m ? m : 1) * sizeof *no_launch);
        for (size_t k = 0; k < m; k++) no_fit[k] = no_launch[k] = (need){INT_MAX, INT_MAX, INT_MAX};
        int misses = 0;
        for (job *j = rt->rq_head, *next; j && misses <= SCAN_PAST_MISSES; j = next) {
            next = j->rq_next;
            int placed = 0;
            /* Environments in order: the first with room takes the job; one that is starting
             * (or can start) an instance for it keeps it, so that a later environment whose
             * instance happens to come up first does not jump the order. */
            for (size_t k = 0; k < m; k++) {
                if (!at_least(j, &no_fit[k])) {
                    instance *in = fleet_fit(st, ces[k], j);
                    if (in) {
                        fleet_assign(st, in, j);
                        placed = 1;
                        break;
                    }
                    shrink(&no_fit[k], j);
                }
                if (!at_least(j, &no_launch[k])) {
                    if (fleet_provide(st, ces[k], j)) break;
                    shrink(&no_launch[k], j);
                }
            }
            if (!placed) misses++;
        }
        free(no_fit);
        free(no_launch);
        free(ces);
        free(entries);
    }
    free(qs);
}

void sched_after_batch(state *st)
{
    if (st->jobs->sched_needed) pass(st);
    jobs_flush(st);
    /* The start after a clean stop has written what it made of the interrupted attempts. */
    if (st->forget_clean_stop) state_forget_clean_stop(st);
}

void sched_tick(state *st, void *arg)
{
    fleet_tick(st);
    core_after(1000, sched_tick, NULL);
}

void sched_shutdown(state *st)
{
    fleet_stop(st);
    /* The agents are stopping: a job placed now would only lose an attempt at the restart. */
    st->jobs->sched_needed = 0;
    jobs_flush(st);
    /* What still runs is stopped by the operator's hand, not lost: the next start gives those
     * attempts back to their jobs (docs/decisions.md). */
    state_note_clean_stop(st);
}
