/* drain — see drain.h. */
#include "server/engine/drain.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/model/instance.h"
#include "server/model/jobs.h"
#include "server/model/state.h"
#include "server/engine/fleet.h"

void drain_instance(state *st, instance *in, const char *why)
{
    if (in->draining) return;
    in->draining = 1;
    in->drain_why = xstrdup(why);
    instance_mark_dirty(st->fleet, in);
    log_info("fleet: instance %s of %s drains (%s); %d attempts finish there first", in->id,
             in->ce, why, in->n_jobs);
    /* An idle one's agent learns it at once and shuts down; a busy one's when its last attempt
     * ends (the answer to that report says so). */
    instance_wake(st, in);
    st->jobs->sched_needed = 1;
}

/* The order in which instances are given up: one still starting (nothing runs there), then
 * one with fewer attempts, then one with less in use, so that capacity comes free soonest. */
static int cheaper(const instance *a, const instance *b)
{
    if (a->registered != b->registered) return !a->registered;
    if (a->n_jobs != b->n_jobs) return a->n_jobs < b->n_jobs;
    return a->used_mvcpus < b->used_mvcpus;
}

/* Drains instances of a managed environment until those left fit within maxvCpus. */
static void fit_max(state *st, ce_rec *ce)
{
    for (;;) {
        int kept = 0, largest = 0;
        instance *victim = NULL;
        size_t i = 0;
        const char *k;
        void *v;
        while (dict_next(&st->fleet->instances, &i, &k, &v)) {
            instance *in = v;
            if (in->draining || strcmp(in->ce, ce->name) != 0) continue;
            kept += in->mvcpus;
            if (in->mvcpus > largest) largest = in->mvcpus;
            if (!victim || cheaper(in, victim)) victim = in;
        }
        /* The strategies that may exceed maxvCpus by one instance launch one only while the
         * environment is below it: such an environment is given up to only as far as that
         * rule allows, so that a launch is never drained again at once. */
        int over = ce->overshoot ? kept - largest >= ce->max_mvcpus && kept > ce->max_mvcpus
                                 : kept > ce->max_mvcpus;
        if (!victim || !over) return;
        drain_instance(st, victim, DRAIN_WHY_MAX_VCPUS);
    }
}

static void drain_all(state *st, const char *ce, const char *why)
{
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->fleet->instances, &i, &k, &v)) {
        instance *in = v;
        if (!ce || strcmp(in->ce, ce) == 0) drain_instance(st, in, why);
    }
}

void drain_ce(state *st, ce_rec *ce)
{
    if (!ce || !ce->live) return;
    if (ce->status == RES_DELETING) drain_all(st, ce->name, DRAIN_WHY_DELETED);
    else if (ce->managed) fit_max(st, ce);
}

int drain_ce_has_instances(state *st, const char *ce)
{
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->fleet->instances, &i, &k, &v))
        if (strcmp(((instance *)v)->ce, ce) == 0) return 1;
    return 0;
}

/* A remote agent told to shut down falls silent; it left rather than was lost, and its
 * environment need not wait lostAfterSeconds for it.  A live one exchanges every
 * heartbeatSeconds, and one that missed the order gets it again at its next exchange. */
#define DRAIN_LEFT_AFTER_MS (2 * FLEET_HEARTBEAT_SECONDS * 1000)

static void let_go_silent(state *st)
{
    int64_t now = util_mono_ms();
    instance **gone = NULL;
    size_t n = 0, i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->fleet->instances, &i, &k, &v)) {
        instance *in = v;
        if (in->local || !in->registered || !in->draining || in->n_jobs || in->poll ||
            now - in->last_seen <= DRAIN_LEFT_AFTER_MS)
            continue;
        gone = xrealloc(gone, (n + 1) * sizeof *gone);
        gone[n++] = in;
    }
    for (size_t g = 0; g < n; g++) {
        log_info("fleet: instance %s of %s was drained and has shut down", gone[g]->id,
                 gone[g]->ce);
        instance_remove(st->fleet, gone[g]);
    }
    if (n) st->jobs->sched_needed = 1; /* their vCPUs count against maxvCpus no more */
    free(gone);
}

void drain_tick(state *st)
{
    /* Instances of an environment that is no longer there (deleted before this server
     * learnt of them, or while it had none) go the same way. */
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->fleet->instances, &i, &k, &v)) {
        instance *in = v;
        if (!in->draining && !res_ce(st, in->ce)) drain_instance(st, in, DRAIN_WHY_DELETED);
    }
    let_go_silent(st);
    /* Names first: settling a deleted environment changes the registry being walked. */
    size_t n = 0;
    char **deleted = NULL;
    const char *name;
    json_t *unused;
    json_object_foreach(st->ce.items, name, unused) {
        ce_rec *ce = res_ce(st, name);
        if (!ce) continue;
        drain_ce(st, ce);
        if (ce->status == RES_DELETING && !drain_ce_has_instances(st, ce->name)) {
            deleted = xrealloc(deleted, (n + 1) * sizeof *deleted);
            deleted[n++] = xstrdup(ce->name);
        }
    }
    for (size_t d = 0; d < n; d++) {
        log_info("compute environment %s: its last instance has gone; it is deleted", deleted[d]);
        res_settle(st, &st->ce, deleted[d]);
        free(deleted[d]);
    }
    free(deleted);
}
