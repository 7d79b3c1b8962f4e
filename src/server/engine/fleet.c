/* fleet — see fleet.h. */
#include "server/engine/fleet.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/base/agent_ident.h"
#include "server/base/core.h"
#include "server/model/config.h"
#include "server/model/jobs.h"
#include "server/model/resource.h"
#include "server/model/state.h"
#include "server/engine/attempt.h"
#include "server/engine/provider_exec.h"
#include "server/engine/provider_local.h"

int fleet_provide(state *st, ce_rec *ce, const job *j)
{
    /* The operator's commands serve the environments they name; the local provider the rest. */
    if (provider_exec_serves(ce)) return provider_exec_provide(st, ce, j);
    return provider_local_provide(st, ce, j);
}

instance *fleet_fit(state *st, const char *ce, const job *j, int with_reserved)
{
    instance *best = NULL;
    size_t i = 0;
    const char *k;
    void *v;
    const char *name = instance_ce_name(ce);
    while (dict_next(&st->fleet->instances, &i, &k, &v)) {
        instance *in = v;
        if (in->ce != name || !in->registered || in->draining) continue;
        if (!instance_fits(in, j, with_reserved)) continue;
        int r = with_reserved ? in->reserved_mvcpus : 0;
        int rb = best && with_reserved ? best->reserved_mvcpus : 0;
        if (!best || in->mvcpus - in->used_mvcpus - r < best->mvcpus - best->used_mvcpus - rb)
            best = in;
        /* Nothing fits tighter than an instance the job fills: the first is the one the scan
         * would keep, so a busy fleet's placement need not look at every instance. */
        if (in->mvcpus - in->used_mvcpus - r == j->spec->mvcpus) break;
    }
    return best;
}

void fleet_answer_now(state *st)
{
    fleet *f = st->fleet;
    if (!f->n_poll_now) return;
    f->n_poll_now = 0;
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&f->instances, &i, &k, &v)) {
        instance *in = v;
        if (!in->poll_now) continue;
        in->poll_now = 0;
        instance_wake(st, in);
    }
}

/* How long a lost instance's agent may still upload its attempts' output: the time a stalled
 * host takes to come back and find it lost is a few minutes at most; fifteen leave room. */
#define FLEET_LOST_LOGS_MS (15 * 60 * 1000)

void fleet_lose(state *st, instance *in, const char *why)
{
    log_warn("fleet: instance %s of compute environment %s is lost: %s", in->id, in->ce, why);
    /* Before its attempts end: the streams they write to are the ones its agent may still
     * fill with what it holds of their output (agent_ident.h). */
    agent_ident_lose(in->id, FLEET_LOST_LOGS_MS);
    if (in->local) provider_local_lost(st, in);
    if (in->exec) provider_exec_gone(st, in);
    attempt_end_all_lost(st, in);
    if (in->poll) {
        core_reply_error(in->poll, 404, "UnknownInstanceException",
                         "this instance was declared lost; register again");
        in->poll = NULL;
    }
    instance_remove(st->fleet, in);
    st->jobs->sched_needed = 1;
}

/* Time the server did not see pass (it was stopped with SIGSTOP, its host froze, a batch ran
 * long) is not time an agent was silent: its requests waited for the server, not the other way
 * round.  A tick that comes this much later than the previous one moves every deadline on by the
 * time the server missed, so an agent that answers in time after the server resumes keeps its
 * instance. */
#define FLEET_STALL_MS 3000


static void forgive_stall(state *st, int64_t now)
{
    fleet *f = st->fleet;
    int64_t gap = f->last_tick ? now - f->last_tick : 0;
    f->last_tick = now;
    if (gap <= FLEET_STALL_MS) return;
    int64_t unseen = gap - 1000; /* the tick's own second was seen */
    log_warn("fleet: the server did not run for %lld ms; agents' deadlines move on by as much",
             (long long)unseen);
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&f->instances, &i, &k, &v)) {
        instance *in = v;
        in->last_seen += unseen;
        in->launched_at += unseen;
        if (in->registered_at) in->registered_at += unseen;
    }
}

void fleet_end(state *st, instance *in, const char *why)
{
    /* An agent whose long poll is parked here is there now, though last heard from when the
     * poll began (up to a poll's length ago): its attempts ran until now, and are charged so. */
    if (in->poll && !in->recovered) in->last_seen = util_mono_ms();
    fleet_lose(st, in, why);
}

int fleet_reclaim(state *st, instance *in)
{
    ce_rec *ce = res_ce(st, in->ce);
    if (!ce || !ce->spot) return -1;
    /* EC2 ends a reclaimed Spot instance's tasks as a terminated host's. */
    fleet_end(st, in, "its Spot capacity was reclaimed");
    return 0;
}

/* --spot-reclaim-per-hour: each registered Spot instance is taken back at random, at that rate
 * on average (a tick is a second), so that retry rules for reclaimed hosts get exercised. */
static void spot_drill(state *st)
{
    if (barge_cfg.spot_reclaim_per_hour <= 0) return;
    static int seeded;
    if (!seeded) {
        srandom((unsigned)(util_now_ms() ^ getpid()));
        seeded = 1;
    }
    double p = barge_cfg.spot_reclaim_per_hour / 3600.0;
    instance **taken = NULL;
    size_t n = 0, i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->fleet->instances, &i, &k, &v)) {
        instance *in = v;
        ce_rec *ce = res_ce(st, in->ce);
        if (!in->registered || !ce || !ce->spot) continue;
        if ((double)random() / ((double)RAND_MAX + 1.0) >= p) continue;
        taken = xrealloc(taken, (n + 1) * sizeof *taken);
        taken[n++] = in;
    }
    for (size_t t = 0; t < n; t++) fleet_reclaim(st, taken[t]);
    free(taken);
}

/* An environment's desiredvCpus follows its capacity down as idle instances go, as AWS lowers
 * it (never below minvCpus): what a user asked for is kept until then, not for ever. */
static void lower_desired(state *st, ce_rec *ce, int kept_mvcpus)
{
    int floor = kept_mvcpus > ce->min_mvcpus ? kept_mvcpus : ce->min_mvcpus;
    if (ce->desired_mvcpus <= floor) return;
    json_t *next = json_deep_copy(reg_get(&st->ce, ce->name));
    json_object_set_new(json_object_get(next, "computeResources"), "desiredvCpus",
                        json_integer((floor + 999) / 1000));
    reg_put(st, &st->ce, ce->name, next);
}

/* Scale in: an idle instance a provider launched goes once the environment keeps minvCpus.  It
 * drains: its agent is told to stop, and the provider that launched it lets it go. */
static void scale_in(state *st, int64_t now)
{
    fleet *f = st->fleet;
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&f->instances, &i, &k, &v)) {
        instance *in = v;
        if (!(in->local || in->exec) || !in->registered || in->draining || in->n_jobs) continue;
        ce_rec *ce = res_ce(st, in->ce);
        int gone_ce = !ce || ce->status == RES_DELETING;
        if (!gone_ce && now - in->idle_since < barge_cfg.idle_seconds * 1000) continue;
        int kept = gone_ce ? 0 : fleet_ce_kept_mvcpus(f, in->ce) - in->mvcpus;
        if (!gone_ce && kept < ce->min_mvcpus) continue;
        in->draining = 1;
        log_info("fleet: instance %s of %s is idle; letting it go", in->id, in->ce);
        instance_wake(st, in);
        if (!gone_ce) lower_desired(st, ce, kept);
    }
}

/* The capacity a MANAGED environment keeps: minvCpus always (AWS keeps it while the
 * environment is DISABLED too), and desiredvCpus while it is ENABLED. */
static int kept_floor(const ce_rec *ce)
{
    int floor = ce->min_mvcpus;
    if (ce->state == RES_ENABLED && ce->desired_mvcpus > floor) floor = ce->desired_mvcpus;
    return floor;
}

static int grow(state *st, ce_rec *ce, int mvcpus)
{
    if (provider_exec_serves(ce)) return provider_exec_grow(st, ce, mvcpus);
    return provider_local_grow(st, ce, mvcpus);
}

void fleet_hold_idle(state *st, const char *ce)
{
    const char *name = instance_ce_name(ce);
    int64_t now = util_mono_ms();
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->fleet->instances, &i, &k, &v)) {
        instance *in = v;
        if (in->ce == name && !in->n_jobs && !in->draining) in->idle_since = now;
    }
}

void fleet_keep_capacity(state *st)
{
    const char *name;
    json_t *unused;
    json_object_foreach(st->ce.items, name, unused) {
        ce_rec *ce = res_ce(st, name);
        if (!ce || !ce->managed || ce->fargate) continue;
        if (ce->status != RES_VALID && ce->status != RES_UPDATING) continue;
        int floor = kept_floor(ce);
        if (!floor || !provider_may_launch(st, ce)) continue;
        /* Instances still starting count: each tick launches only what is still missing. */
        int have = fleet_ce_kept_mvcpus(st->fleet, ce->name);
        for (int n = 0; have < floor && n < FLEET_GROW_PER_TICK; n++) {
            int got = grow(st, ce, floor - have);
            if (!got) break;
            have += got;
        }
    }
}

void fleet_tick(state *st)
{
    int64_t now = util_mono_ms();
    forgive_stall(st, now);
    spot_drill(st);
    provider_local_tick(st);
    scale_in(st, now);
    fleet_keep_capacity(st);
    provider_exec_tick(st);
    instance **doomed = NULL;
    size_t n_doomed = 0;
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->fleet->instances, &i, &k, &v)) {
        instance *in = v;
        if (in->poll && now >= in->poll_deadline) {
            core_reply(in->poll, instance_take_outbox(st, in));
            in->poll = NULL;
        }
        int lost = in->gone_why ||
                   (in->registered ? now - in->last_seen > FLEET_LOST_AFTER_SECONDS * 1000
                                   : now - in->launched_at > FLEET_REGISTER_WITHIN_SECONDS * 1000);
        if (lost) {
            doomed = xrealloc(doomed, (n_doomed + 1) * sizeof *doomed);
            doomed[n_doomed++] = in;
        }
    }
    /* Lost apart from the walk: losing an instance removes it from the fleet. */
    for (size_t d = 0; d < n_doomed; d++) {
        instance *in = doomed[d];
        in->silent = !in->gone_why && in->registered;
        fleet_lose(st, in, in->gone_why         ? in->gone_why
                           : in->registered ? "no heartbeat"
                                            : "its agent never registered");
    }
    free(doomed);
}

void fleet_stop(state *st)
{
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->fleet->instances, &i, &k, &v)) {
        instance *in = v;
        if (in->poll) {
            json_t *r = json_pack("{s:[], s:[], s:b}", "assign", "kill", "shutdown",
                                  in->local && barge_cfg.stop_local_agents);
            core_reply(in->poll, r);
            in->poll = NULL;
        }
    }
    provider_local_stop(st);
}
