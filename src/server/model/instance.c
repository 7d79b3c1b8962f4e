/* instance — see instance.h. */
#include "server/model/instance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/base/agent_clock.h"
#include "server/base/agent_ident.h"
#include "server/base/core.h"
#include "server/model/jobs.h"
#include "server/model/state.h"

fleet *fleet_new(void)
{
    fleet *f = xcalloc(1, sizeof *f);
    dict_init(&f->instances);
    dict_init(&f->trouble);
    return f;
}

void instance_clear_strays(instance *in)
{
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&in->strays, &i, &k, &v)) {
        stray *s = v;
        dict_del(&in->strays, k);
        free(s->key);
        free(s);
    }
}

static void pull_free(instance_pull *p)
{
    free(p->job_id);
    free(p->image);
    free(p);
}

static void pulls_clear(instance *in)
{
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&in->pulls, &i, &k, &v)) {
        dict_del(&in->pulls, k);
        pull_free(v);
    }
}

static void instance_free(instance *in)
{
    instance_clear_strays(in);
    dict_free(&in->strays);
    pulls_clear(in);
    dict_free(&in->pulls);
    free(in->id);
    free(in->type);
    free(in->hostname);
    free(in->address);
    free(in->executor);
    free(in->mem_note);
    free(in->profile);
    free(in->gone_why);
    free(in->drain_why);
    free(in->terminate_cmd);
    json_decref(in->assign);
    json_decref(in->kill);
    free(in);
}

void fleet_free(fleet *f)
{
    if (!f) return;
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&f->instances, &i, &k, &v)) instance_free(v);
    dict_free(&f->instances);
    i = 0;
    while (dict_next(&f->trouble, &i, &k, &v)) {
        launch_trouble *t = v;
        free(t->ce);
        free(t);
    }
    dict_free(&f->trouble);
    for (size_t r = 0; r < f->n_removed; r++) free(f->removed[r]);
    free(f->removed);
    free(f->reap);
    free(f->url);
    free(f);
}

void fleet_set_url(fleet *f, const char *url)
{
    free(f->url);
    f->url = url ? xstrdup(url) : NULL;
}

void instance_new_id(char out[20])
{
    char rnd[37];
    util_uuid(rnd);
    /* 17 hexadecimal digits, as EC2's ids have: the uuid's digits without its dashes. */
    int n = 0;
    out[n++] = 'i';
    out[n++] = '-';
    for (const char *p = rnd; *p && n < 19; p++)
        if (*p != '-') out[n++] = *p;
    out[n] = '\0';
}

const char *instance_ce_name(const char *ce)
{
    static dict names; /* zeroed: an empty dict (dict.h); the core thread's alone */
    const char *name = dict_get(&names, ce);
    if (!name) {
        char *copy = xstrdup(ce);
        dict_put(&names, copy, copy);
        name = copy;
    }
    return name;
}

void instance_pull_set(instance *in, const char *job_id, int attempt, const char *image,
                       int64_t since)
{
    instance_pull *p = xcalloc(1, sizeof *p);
    p->job_id = xstrdup(job_id);
    p->attempt = attempt;
    p->image = xstrdup(image);
    p->since = since;
    instance_pull *old = dict_put(&in->pulls, p->job_id, p);
    if (old) pull_free(old);
}

const instance_pull *instance_pull_of(const instance *in, const job *j)
{
    const instance_pull *p = dict_get(&in->pulls, job_id(j));
    return p && p->attempt == j->n_attempts ? p : NULL;
}

void instance_pull_end(instance *in, const char *job_id)
{
    instance_pull *p = dict_del(&in->pulls, job_id);
    if (p) pull_free(p);
}

instance *instance_new(fleet *f, const char *id, const char *ce)
{
    instance *in = xcalloc(1, sizeof *in);
    char gen[20];
    if (!id) instance_new_id(gen);
    in->id = xstrdup(id ? id : gen);
    in->ce = instance_ce_name(ce);
    in->launched_at = in->last_seen = in->idle_since = util_mono_ms();
    dict_init(&in->strays);
    dict_init(&in->pulls);
    dict_put(&f->instances, in->id, in);
    return in;
}

instance *instance_find(fleet *f, const char *id)
{
    return id ? dict_get(&f->instances, id) : NULL;
}

void instance_remove(fleet *f, instance *in)
{
    BARGE_ASSERT(in->n_jobs == 0 && in->jobs == NULL);
    /* An instance the fleet no longer has has no credential either. */
    agent_ident_revoke(in->id);
    agent_clock_forget(in->id);
    if (in->stored) {
        f->removed = xrealloc(f->removed, (f->n_removed + 1) * sizeof *f->removed);
        f->removed[f->n_removed++] = xstrdup(in->id);
    }
    if (in->dirty) f->n_dirty--;
    dict_del(&f->instances, in->id);
    instance_free(in);
}

void instance_mark_dirty(fleet *f, instance *in)
{
    if (in->dirty) return;
    in->dirty = 1;
    f->n_dirty++;
}

/* The milli-vCPUs of ce's instances, the draining ones too or not.  Instances hold the
 * interned name: a pointer compare, for a fleet of thousands described environment by
 * environment. */
static int ce_mvcpus(fleet *f, const char *ce, int draining_too)
{
    const char *name = instance_ce_name(ce);
    int total = 0;
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&f->instances, &i, &k, &v)) {
        instance *in = v;
        if (in->ce == name && (draining_too || !in->draining)) total += in->mvcpus;
    }
    return total;
}

int fleet_ce_mvcpus(fleet *f, const char *ce)
{
    return ce_mvcpus(f, ce, 1);
}

int fleet_ce_kept_mvcpus(fleet *f, const char *ce)
{
    return ce_mvcpus(f, ce, 0);
}

/* ---- capacity -------------------------------------------------------------------------- */

int instance_fits(const instance *in, const job *j, int with_reserved)
{
    int rv = with_reserved ? in->reserved_mvcpus : 0, rm = with_reserved ? in->reserved_memory : 0,
        rg = with_reserved ? in->reserved_gpus : 0;
    return in->mvcpus - in->used_mvcpus - rv >= j->spec->mvcpus &&
           in->memory_mib - in->used_memory - rm >= j->spec->memory_mib &&
           in->gpus - in->used_gpus - rg >= j->spec->gpus;
}

void instance_reserve(instance *in, const job *j)
{
    in->reserved_mvcpus += j->spec->mvcpus;
    in->reserved_memory += j->spec->memory_mib;
    in->reserved_gpus += j->spec->gpus;
}

void instance_unreserve(instance *in, const job *j)
{
    in->reserved_mvcpus -= j->spec->mvcpus;
    in->reserved_memory -= j->spec->memory_mib;
    in->reserved_gpus -= j->spec->gpus;
    BARGE_ASSERT(in->reserved_mvcpus >= 0 && in->reserved_memory >= 0 && in->reserved_gpus >= 0);
}

void fleet_clear_reservations(fleet *f)
{
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&f->instances, &i, &k, &v)) {
        instance *in = v;
        in->reserved_mvcpus = in->reserved_memory = in->reserved_gpus = 0;
    }
}

void instance_attach(instance *in, job *j)
{
    BARGE_ASSERT(j->inst == NULL);
    j->inst = in;
    j->inst_prev = NULL;
    j->inst_next = in->jobs;
    if (in->jobs) in->jobs->inst_prev = j;
    in->jobs = j;
    in->n_jobs++;
    in->used_mvcpus += j->spec->mvcpus;
    in->used_memory += j->spec->memory_mib;
    in->used_gpus += j->spec->gpus;
    in->idle_since = 0;
    /* The attempt's agent, and it alone, may write to the attempt's log stream. */
    agent_ident_stream_open(in->id, j->log_stream);
}

void instance_detach(instance *in, job *j)
{
    BARGE_ASSERT(j->inst == in && in->n_jobs > 0);
    agent_ident_stream_close(in->id, j->log_stream);
    if (j->inst_prev) j->inst_prev->inst_next = j->inst_next;
    else in->jobs = j->inst_next;
    if (j->inst_next) j->inst_next->inst_prev = j->inst_prev;
    j->inst_prev = j->inst_next = NULL;
    j->inst = NULL;
    in->n_jobs--;
    in->used_mvcpus -= j->spec->mvcpus;
    in->used_memory -= j->spec->memory_mib;
    in->used_gpus -= j->spec->gpus;
    /* Capacity in use is never negative, and an idle instance uses none. */
    BARGE_ASSERT(in->used_mvcpus >= 0 && in->used_memory >= 0 && in->used_gpus >= 0);
    BARGE_ASSERT(in->n_jobs > 0 || (in->used_mvcpus == 0 && in->used_memory == 0 &&
                                    in->used_gpus == 0 && in->jobs == NULL));
    if (in->n_jobs == 0) in->idle_since = util_mono_ms();
}

/* ---- the outbox ------------------------------------------------------------------------ */

static void push(json_t **list, json_t *item)
{
    if (!*list) *list = json_array();
    json_array_append_new(*list, item);
}

void instance_push_assign(instance *in, json_t *assignment)
{
    push(&in->assign, assignment);
}

void instance_push_kill(instance *in, const char *job_id, int attempt, const char *reason)
{
    push(&in->kill, json_pack("{s:s, s:i, s:s}", "jobId", job_id, "attempt", attempt, "reason",
                              reason));
}

json_t *instance_take_outbox(state *st, instance *in)
{
    int64_t now = util_mono_ms();
    size_t i;
    json_t *a;
    json_array_foreach(in->assign, i, a) {
        job *j = jobs_find(st->jobs, json_string_value(json_object_get(a, "jobId")));
        if (j && j->inst == in && j->status == JS_STARTING &&
            j->n_attempts == json_integer_value(json_object_get(a, "attempt"))) {
            j->assign_sent_at = now;
            continue;
        }
        /* Its attempt is no longer STARTING here: reported running or ended since it was
         * queued (an assignment sent again after a restart, behind the agent's held reports),
         * or ended by a kill or a lost host.  Sent, it would run the attempt again beside (or
         * after) the one that ran: an agent forgets an attempt once its end is answered. */
        json_array_remove(in->assign, i);
        i--;
    }
    int shutdown = in->draining && in->n_jobs == 0;
    json_t *r = json_pack("{s:o, s:o, s:b}", "assign", in->assign ? in->assign : json_array(),
                          "kill", in->kill ? in->kill : json_array(), "shutdown", shutdown);
    /* The agent says why it stops, where its operator looks. */
    if (shutdown && in->drain_why)
        json_object_set_new(r, "shutdownReason", json_string(in->drain_why));
    in->assign = in->kill = NULL;
    return r;
}

int instance_outbox_empty(const instance *in)
{
    return json_array_size(in->assign) == 0 && json_array_size(in->kill) == 0 &&
           !(in->draining && in->n_jobs == 0);
}

void instance_wake(state *st, instance *in)
{
    if (!in->poll) return;
    core_reply(in->poll, instance_take_outbox(st, in));
    in->poll = NULL;
}

/* ---- reload ---------------------------------------------------------------------------- */

fleet *fleet_detach(state *st)
{
    fleet *f = st->fleet;
    st->fleet = NULL;
    size_t i = 0;
    const char *k;
    void *v;
    /* The old jobs are about to be freed; what the instances were to send was computed from
     * them, and the engine computes it again from the jobs as stored. */
    while (dict_next(&f->instances, &i, &k, &v)) {
        instance *in = v;
        in->jobs = NULL;
        in->n_jobs = 0;
        in->used_mvcpus = in->used_memory = in->used_gpus = 0;
        in->reserved_mvcpus = in->reserved_memory = in->reserved_gpus = 0;
        json_decref(in->assign);
        json_decref(in->kill);
        in->assign = in->kill = NULL;
        instance_clear_strays(in);
        pulls_clear(in);
        /* The failed commit took the records written in it along. */
        instance_mark_dirty(f, in);
        if (!in->idle_since) in->idle_since = util_mono_ms();
    }
    return f;
}

void fleet_resume(state *st)
{
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->fleet->instances, &i, &k, &v)) {
        instance *in = v;
        if (!instance_outbox_empty(in)) instance_wake(st, in);
    }
}
