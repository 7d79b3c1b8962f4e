/* fleet — instances, the agent protocol's server side, and the local provider. */
#include "server/engine/fleet.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/api/api_logs.h"
#include "server/model/arn.h"
#include "common/catalog.h"
#include "server/model/config.h"
#include "server/base/core.h"
#include "common/dict.h"
#include "server/http_server.h"
#include "server/model/jobs.h"
#include "common/log.h"
#include "common/mem.h"
#include "server/model/state.h"
#include "common/util.h"

extern char **environ;

/* Protocol timings (docs/agent-protocol.md). */
#define POLL_SECONDS 20
#define LOST_AFTER_SECONDS 30
#define REGISTER_WITHIN_SECONDS 30
/* An assignment may still be on its way when the agent lists what it holds: only one sent this
 * long ago and not listed was lost. */
#define ASSIGN_GRACE_MS 5000
/* A kill order for an attempt the server no longer expects goes again if the agent still lists
 * the attempt this much later (the order may have been lost too). */
#define STRAY_KILL_AGAIN_MS (POLL_SECONDS * 1000)

/* Launches that failed in a row for one compute environment: the local provider backs off
 * instead of starting a doomed agent every second. */
typedef struct launch_trouble {
    char *ce;
    int failures;
    int64_t retry_at; /* monotonic ms */
} launch_trouble;

/* An attempt an agent holds that this server does not expect, and when it was last told to
 * kill it. */
typedef struct stray {
    char *key; /* "ATTEMPT JOBID" */
    int64_t kill_sent;
    uint32_t seen; /* the reconciliation that last found it listed */
} stray;

struct fleet {
    dict instances; /* id -> instance */
    dict trouble;   /* compute environment name -> launch_trouble */
    uint32_t reconciliations;
    /* Local agents this server let go (lost instances) whose exit is still to be reaped. */
    pid_t *reap;
    size_t n_reap;
};

fleet *fleet_new(void)
{
    fleet *f = xcalloc(1, sizeof *f);
    dict_init(&f->instances);
    dict_init(&f->trouble);
    return f;
}

static void strays_clear(instance *in)
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

static void instance_free(instance *in)
{
    strays_clear(in);
    dict_free(&in->strays);
    free(in->id);
    free(in->ce);
    free(in->type);
    free(in->hostname);
    free(in->executor);
    free(in->mem_note);
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
    free(f->reap);
    free(f);
}

static int64_t mono(void)
{
    return util_mono_ms();
}

/* ---- answering agents ------------------------------------------------------------------ */

/* What the next answer carries, taken out of the instance.  The assignments in it count as
 * sent from now on (ASSIGN_GRACE_MS). */
static json_t *take_outbox(state *st, instance *in)
{
    int64_t now = mono();
    size_t i;
    json_t *a;
    json_array_foreach(in->assign, i, a) {
        job *j = jobs_find(st->jobs, json_string_value(json_object_get(a, "jobId")));
        if (j && j->inst == in && j->n_attempts == json_integer_value(json_object_get(a, "attempt")))
            j->assign_sent_at = now;
    }
    json_t *r = json_pack("{s:o, s:o, s:b}", "assign", in->assign ? in->assign : json_array(),
                          "kill", in->kill ? in->kill : json_array(), "shutdown",
                          in->draining && in->n_jobs == 0);
    in->assign = in->kill = NULL;
    return r;
}

static int outbox_empty(const instance *in)
{
    return json_array_size(in->assign) == 0 && json_array_size(in->kill) == 0 &&
           !(in->draining && in->n_jobs == 0);
}

/* Answers a parked long poll with whatever is waiting (after the batch commits). */
static void wake(state *st, instance *in)
{
    if (!in->poll) return;
    core_reply(in->poll, take_outbox(st, in));
    in->poll = NULL;
}

static void push(json_t **list, json_t *item)
{
    if (!*list) *list = json_array();
    json_array_append_new(*list, item);
}

/* ---- capacity -------------------------------------------------------------------------- */

static int fits(const instance *in, const job *j, int with_reserved)
{
    int rv = with_reserved ? in->reserved_mvcpus : 0, rm = with_reserved ? in->reserved_memory : 0,
        rg = with_reserved ? in->reserved_gpus : 0;
    return in->mvcpus - in->used_mvcpus - rv >= j->spec->mvcpus &&
           in->memory_mib - in->used_memory - rm >= j->spec->memory_mib &&
           in->gpus - in->used_gpus - rg >= j->spec->gpus;
}

static const char *ce_name(json_t *ce)
{
    return json_string_value(json_object_get(ce, "computeEnvironmentName"));
}

static int ce_usable(json_t *ce)
{
    const char *state_ = json_string_value(json_object_get(ce, "state"));
    const char *status = json_string_value(json_object_get(ce, "status"));
    return state_ && strcmp(state_, "ENABLED") == 0 && status &&
           (strcmp(status, "VALID") == 0 || strcmp(status, "UPDATING") == 0);
}

instance *fleet_fit(state *st, json_t *ce, const job *j)
{
    /* A DISABLED environment takes no new jobs; what already runs there goes on. */
    if (!ce_usable(ce)) return NULL;
    const char *name = ce_name(ce);
    instance *best = NULL;
    size_t i = 0;
    const char *k;
    void *v;
    /* Best fit: the busiest instance that still has room, so idle ones can be let go. */
    while (dict_next(&st->fleet->instances, &i, &k, &v)) {
        instance *in = v;
        if (!in->registered || in->draining || strcmp(in->ce, name) != 0) continue;
        if (!fits(in, j, 0)) continue;
        if (!best || in->mvcpus - in->used_mvcpus < best->mvcpus - best->used_mvcpus) best = in;
    }
    return best;
}

static int ce_mvcpus(state *st, const char *name)
{
    int total = 0;
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->fleet->instances, &i, &k, &v)) {
        instance *in = v;
        if (strcmp(in->ce, name) == 0) total += in->mvcpus;
    }
    return total;
}

static int is_fargate(json_t *cr)
{
    const char *t = json_string_value(json_object_get(cr, "type"));
    return t && strncmp(t, "FARGATE", 7) == 0;
}

/* The instance type the local provider would launch for j within budget_mvcpus, or NULL. */
static const catalog_type *choose_type(json_t *cr, const job *j, int budget_mvcpus,
                                       catalog_type *fargate)
{
    if (is_fargate(cr)) {
        /* Fargate has no instance types: a local instance just big enough for the job, and for a
         * few more like it, stands in for Fargate's per-job tasks. */
        int vcpus = (j->spec->mvcpus + 999) / 1000;
        if (vcpus < 1) vcpus = 1;
        int room = budget_mvcpus / 1000;
        int want = room < 16 ? room : 16;
        if (want < vcpus) return NULL;
        fargate->name = "fargate";
        fargate->vcpus = want;
        fargate->memory_mib = want * 8192;
        if (fargate->memory_mib < j->spec->memory_mib) return NULL;
        fargate->gpus = 0;
        return j->spec->gpus ? NULL : fargate;
    }
    const catalog_type *best = NULL;
    json_t *specs = json_object_get(cr, "instanceTypes");
    for (int i = 0; catalog_at(i); i++) {
        const catalog_type *t = catalog_at(i);
        int allowed = 0;
        size_t n;
        json_t *s;
        json_array_foreach(specs, n, s) allowed |= catalog_spec_allows(json_string_value(s), t);
        if (!allowed || t->vcpus * 1000 > budget_mvcpus) continue;
        if (t->vcpus * 1000 < j->spec->mvcpus || t->memory_mib < j->spec->memory_mib ||
            t->gpus < j->spec->gpus)
            continue;
        /* The largest fitting type: fewer agent processes, and room to pack more jobs. */
        if (!best || t->vcpus > best->vcpus ||
            (t->vcpus == best->vcpus && t->memory_mib > best->memory_mib))
            best = t;
    }
    return best;
}

static char *server_url(void)
{
    const char *h = barge_cfg.listen_host;
    if (strcmp(h, "0.0.0.0") == 0 || strcmp(h, "") == 0) h = "127.0.0.1";
    if (strcmp(h, "::") == 0) h = "::1";
    /* The first scheduling pass after a restart may run before the listener has bound. */
    int port = http_port() ? http_port() : barge_cfg.listen_port;
    if (strchr(h, ':')) return xasprintf("http://[%s]:%d", h, port);
    return xasprintf("http://%s:%d", h, port);
}

/* The local provider: starts `barge agent` on this host as a new instance of ce. */
static instance *launch(state *st, json_t *ce, const catalog_type *t)
{
    char id[20], rnd[37];
    util_uuid(rnd);
    snprintf(id, sizeof id, "i-%.8s%.9s", rnd, rnd + 9);
    id[11] = id[11] == '-' ? '0' : id[11];
    for (char *p = id + 2; *p; p++)
        if (*p == '-') *p = '0';
    char vcpus[16], mem[16], gpus[16];
    snprintf(vcpus, sizeof vcpus, "%d", t->vcpus);
    snprintf(mem, sizeof mem, "%d", t->memory_mib);
    snprintf(gpus, sizeof gpus, "%d", t->gpus);
    char *url = server_url();
    char *agents = xasprintf("%s/agents", barge_cfg.data_dir);
    if (mkdir(agents, 0755) < 0 && errno != EEXIST)
        log_warn("fleet: cannot create %s: %s", agents, strerror(errno));
    free(agents);
    char *workdir = xasprintf("%s/agents/%s", barge_cfg.data_dir, id);
    char *argv[] = {"barge", "agent", "--server", url, "--compute-environment",
                    (char *)ce_name(ce), "--instance-id", id, "--vcpus", vcpus, "--memory", mem,
                    "--gpus", gpus, "--token", barge_cfg.agent_token, "--work-dir", workdir,
                    "--exit-with-parent", "--instance-type", (char *)t->name, NULL};
    /* A Fargate stand-in has no catalogue type for the agent to look up: its size is given. */
    if (strcmp(t->name, "fargate") == 0) argv[sizeof argv / sizeof argv[0] - 3] = NULL;
    pid_t pid;
    int rc = posix_spawn(&pid, barge_cfg.self_exe, NULL, NULL, argv, environ);
    free(url);
    free(workdir);
    if (rc != 0) {
        log_error("fleet: cannot start an agent for compute environment %s: %s", ce_name(ce),
                  strerror(rc));
        return NULL;
    }
    instance *in = xcalloc(1, sizeof *in);
    in->id = xstrdup(id);
    in->ce = xstrdup(ce_name(ce));
    in->type = xstrdup(t->name);
    in->mvcpus = t->vcpus * 1000;
    in->memory_mib = t->memory_mib;
    in->gpus = t->gpus;
    in->local = 1;
    in->pid = pid;
    in->launched_at = in->last_seen = in->idle_since = mono();
    dict_put(&st->fleet->instances, in->id, in);
    log_info("fleet: launched instance %s (%s, %d vCPUs, %d MiB) for compute environment %s, "
             "agent pid %d", in->id, in->type, t->vcpus, t->memory_mib, in->ce, (int)pid);
    return in;
}

void fleet_pass_begin(state *st)
{
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->fleet->instances, &i, &k, &v)) {
        instance *in = v;
        in->reserved_mvcpus = in->reserved_memory = in->reserved_gpus = 0;
    }
}

int fleet_provide(state *st, json_t *ce, const job *j)
{
    if (!ce_usable(ce)) return 0;
    if (strcmp(json_string_value(json_object_get(ce, "type")), "MANAGED") != 0) return 0;
    const char *name = ce_name(ce);
    size_t i = 0;
    const char *k;
    void *v;
    /* An instance still starting that will have room for j once it registers. */
    while (dict_next(&st->fleet->instances, &i, &k, &v)) {
        instance *in = v;
        if (in->registered || strcmp(in->ce, name) != 0 || !fits(in, j, 1)) continue;
        in->reserved_mvcpus += j->spec->mvcpus;
        in->reserved_memory += j->spec->memory_mib;
        in->reserved_gpus += j->spec->gpus;
        return 1;
    }
    launch_trouble *trouble = dict_get(&st->fleet->trouble, name);
    if (trouble && mono() < trouble->retry_at) return 0;
    /* Until the listener has bound (the first passes after a start run before it), an agent
     * would not know where to register: ask for another pass instead. */
    if (!http_port()) {
        st->jobs->sched_needed = 1;
        return 0;
    }
    json_t *cr = json_object_get(ce, "computeResources");
    int budget = (int)json_integer_value(json_object_get(cr, "maxvCpus")) * 1000 - ce_mvcpus(st, name);
    catalog_type fargate;
    const catalog_type *t = choose_type(cr, j, budget, &fargate);
    if (!t) return 0;
    instance *in = launch(st, ce, t);
    if (!in) return 0;
    in->reserved_mvcpus = j->spec->mvcpus;
    in->reserved_memory = j->spec->memory_mib;
    in->reserved_gpus = j->spec->gpus;
    return 1;
}

/* ---- assignments ----------------------------------------------------------------------- */

static void env_add(json_t *env, const char *k, const char *v)
{
    json_object_set_new(env, k, json_string(v));
}

static json_t *assignment(state *st, instance *in, job *j)
{
    json_t *c = jobspec_shared(j->spec, "container");
    json_t *env = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(c, "environment"), i, e) {
        const char *n = json_string_value(json_object_get(e, "name"));
        const char *val = json_string_value(json_object_get(e, "value"));
        if (n && val) env_add(env, n, val);
    }
    char num[32];
    env_add(env, "AWS_BATCH_JOB_ID", j->id);
    env_add(env, "AWS_BATCH_JQ_NAME", j->spec->queue);
    env_add(env, "AWS_BATCH_CE_NAME", in->ce);
    snprintf(num, sizeof num, "%u", j->n_attempts);
    env_add(env, "AWS_BATCH_JOB_ATTEMPT", num);
    if (j->parent) {
        snprintf(num, sizeof num, "%d", j->index);
        env_add(env, "AWS_BATCH_JOB_ARRAY_INDEX", num);
        snprintf(num, sizeof num, "%u", j->parent->array_size);
        env_add(env, "AWS_BATCH_JOB_ARRAY_SIZE", num);
    }
    json_t *cmd = json_object_get(c, "command");
    return json_pack("{s:s, s:i, s:O, s:o, s:f, s:i, s:i, s:i, s:i, s:s}", "jobId", j->id,
                     "attempt", (int)j->n_attempts, "command", cmd ? cmd : json_array(),
                     "environment", env, "vcpus", j->spec->mvcpus / 1000.0, "memoryMiB",
                     j->spec->memory_mib, "gpus", j->spec->gpus, "timeoutSeconds",
                     j->spec->timeout_s, "killGraceSeconds", barge_cfg.kill_grace_s,
                     "logStreamName", j->log_stream);
}

/* Links j into in's jobs and accounts for what it uses there. */
static void attach(instance *in, job *j)
{
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
}

void fleet_assign(state *st, instance *in, job *j)
{
    char task[37], stream[256];
    util_uuid(task);
    char hex[33];
    int n = 0;
    for (const char *p = task; *p && n < 32; p++)
        if (*p != '-') hex[n++] = *p;
    hex[n] = '\0';
    snprintf(stream, sizeof stream, "%s/default/%s", j->spec->jd_name, hex);
    free(j->log_stream);
    j->log_stream = xstrdup(stream);
    /* The stream exists from the start, as the awslogs driver makes it: a job that prints
     * nothing has an empty log, not a missing one. */
    logstore *ls = api_logs_store();
    if (ls) logstore_create_stream(ls, LOGSTORE_BATCH_GROUP, stream);
    free(j->inst_id);
    j->inst_id = xstrdup(in->id);
    free(j->ce_name);
    j->ce_name = xstrdup(in->ce);
    free(j->mem_note);
    j->mem_note = in->mem_note ? xstrdup(in->mem_note) : NULL;
    j->n_attempts++;
    j->attempt_started_at = 0;
    j->assign_sent_at = 0;
    attach(in, j);
    jobs_set_status(st, j, JS_STARTING, NULL);
    push(&in->assign, assignment(st, in, j));
    wake(st, in);
}

void fleet_release(state *st, job *j)
{
    instance *in = j->inst;
    if (!in) return;
    if (j->inst_prev) j->inst_prev->inst_next = j->inst_next;
    else in->jobs = j->inst_next;
    if (j->inst_next) j->inst_next->inst_prev = j->inst_prev;
    j->inst_prev = j->inst_next = NULL;
    j->inst = NULL;
    in->n_jobs--;
    in->used_mvcpus -= j->spec->mvcpus;
    in->used_memory -= j->spec->memory_mib;
    in->used_gpus -= j->spec->gpus;
    if (in->n_jobs == 0) in->idle_since = mono();
    st->jobs->sched_needed = 1;
    if (in->draining && in->n_jobs == 0) wake(st, in);
}

void fleet_kill(state *st, job *j, const char *reason)
{
    instance *in = j->inst;
    if (!in) {
        /* No instance holds it (it was never dispatched): end the attempt here. */
        attempt_end e = {.status_reason = reason};
        jobs_attempt_end(st, j, &e, util_now_ms());
        return;
    }
    push(&in->kill, json_pack("{s:s, s:i, s:s}", "jobId", j->id, "attempt", (int)j->n_attempts,
                              "reason", reason ? reason : "Terminated"));
    wake(st, in);
}

fleet *fleet_detach(state *st)
{
    fleet *f = st->fleet;
    st->fleet = NULL;
    size_t i = 0;
    const char *k;
    void *v;
    /* The old jobs are about to be freed; what the instances were to send was computed from
     * them, and fleet_reattach computes it again from the jobs as stored. */
    while (dict_next(&f->instances, &i, &k, &v)) {
        instance *in = v;
        in->jobs = NULL;
        in->n_jobs = 0;
        in->used_mvcpus = in->used_memory = in->used_gpus = 0;
        in->reserved_mvcpus = in->reserved_memory = in->reserved_gpus = 0;
        json_decref(in->assign);
        json_decref(in->kill);
        in->assign = in->kill = NULL;
        strays_clear(in);
        if (!in->idle_since) in->idle_since = mono();
    }
    return f;
}

int fleet_reattach(state *st, job *j)
{
    instance *in = j->inst_id ? dict_get(&st->fleet->instances, j->inst_id) : NULL;
    if (!in || !in->registered) return 0;
    attach(in, j);
    if (j->status == JS_STARTING) {
        /* Whether its assignment reached the agent is not known: it goes again, and an agent
         * that already holds the attempt ignores it. */
        j->assign_sent_at = 0;
        push(&in->assign, assignment(st, in, j));
    } else {
        j->assign_sent_at = mono();
    }
    if (j->is_terminated) {
        push(&in->kill, json_pack("{s:s, s:i, s:s}", "jobId", j->id, "attempt",
                                  (int)j->n_attempts, "reason",
                                  j->stop_reason ? j->stop_reason : "Terminated"));
    }
    return 1;
}

void fleet_resume(state *st)
{
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->fleet->instances, &i, &k, &v)) {
        instance *in = v;
        if (!outbox_empty(in)) wake(st, in);
    }
}

/* An instance that is gone: its attempts end as AWS reports a terminated host. */
static void lose(state *st, instance *in, const char *why)
{
    log_warn("fleet: instance %s of compute environment %s is lost: %s", in->id, in->ce, why);
    if (!in->registered && in->local) {
        launch_trouble *t = dict_get(&st->fleet->trouble, in->ce);
        if (!t) {
            t = xcalloc(1, sizeof *t);
            t->ce = xstrdup(in->ce);
            dict_put(&st->fleet->trouble, t->ce, t);
        }
        t->failures++;
        int shift = t->failures < 6 ? t->failures : 6;
        t->retry_at = mono() + (1000LL << shift);
    }
    char reason[160];
    snprintf(reason, sizeof reason, "Host EC2 (instance %s) terminated.", in->id);
    while (in->jobs) {
        job *j = in->jobs;
        attempt_end e = {.status_reason = reason};
        jobs_attempt_end(st, j, &e, util_now_ms());
        if (in->jobs == j) fleet_release(st, j); /* never loop forever */
    }
    if (in->poll) {
        core_reply_error(in->poll, 404, "UnknownInstanceException",
                         "this instance was declared lost; register again");
        in->poll = NULL;
    }
    if (in->local && in->pid > 0) {
        kill(in->pid, SIGTERM);
        /* Its exit is reaped later (fleet_tick), so that it leaves no zombie behind. */
        fleet *f = st->fleet;
        f->reap = xrealloc(f->reap, (f->n_reap + 1) * sizeof *f->reap);
        f->reap[f->n_reap++] = in->pid;
    }
    dict_del(&st->fleet->instances, in->id);
    instance_free(in);
    st->jobs->sched_needed = 1;
}

/* ---- the protocol ---------------------------------------------------------------------- */

static instance *find_instance(api_ctx *c, json_t *req)
{
    const char *id = api_str(req, "instanceId");
    instance *in = id ? dict_get(&c->st->fleet->instances, id) : NULL;
    if (!in) {
        c->status = 404;
        c->err_type = "UnknownInstanceException";
        snprintf(c->err_msg, sizeof c->err_msg,
                 "instanceId: '%.64s' is not registered with this server; register again",
                 id ? id : "");
    }
    return in;
}

int fleet_register(api_ctx *c, json_t *req, json_t **resp)
{
    const char *ce_arg = api_str(req, "computeEnvironment");
    char *name = api_name_or_arn(c, ce_arg, ARN_CE, "computeEnvironment");
    if (!name) return -1;
    json_t *ce = reg_get(&c->st->ce, name);
    if (!ce) {
        api_client_error(c, "computeEnvironment: no compute environment named '%s'", name);
        free(name);
        return -1;
    }
    json_int_t vcpus = api_int(req, "vcpus", 0), mem = api_int(req, "memoryMiB", 0);
    if (vcpus < 1 || mem < 1) {
        free(name);
        return api_client_error(c, "vcpus and memoryMiB: an agent must offer at least 1 vCPU "
                                   "and 1 MiB");
    }
    const char *id = api_str(req, "instanceId");
    instance *in = id ? dict_get(&c->st->fleet->instances, id) : NULL;
    if (in && in->registered) {
        /* The same agent again (it lost its answer): its old attempts are gone with it. */
        lose(c->st, in, "it registered again");
        in = NULL;
    }
    if (in && strcmp(in->ce, name) != 0) {
        free(name);
        return api_client_error(c, "computeEnvironment: instance %s was launched for '%s'",
                                id, in->ce);
    }
    if (!in) {
        in = xcalloc(1, sizeof *in);
        char rnd[37], gen[20];
        util_uuid(rnd);
        snprintf(gen, sizeof gen, "i-%.8s%.4s%.5s", rnd, rnd + 9, rnd + 14);
        for (char *p = gen; *p; p++)
            if (*p == '-' && p > gen + 1) *p = '0';
        in->id = xstrdup(id ? id : gen);
        in->ce = xstrdup(name);
        in->launched_at = mono();
        dict_put(&c->st->fleet->instances, in->id, in);
    }
    free(name);
    const char *type = api_str(req, "instanceType");
    if (type || !in->type) {
        free(in->type);
        in->type = xstrdup(type ? type : "custom");
    }
    in->mvcpus = (int)vcpus * 1000;
    in->memory_mib = (int)mem;
    in->gpus = (int)api_int(req, "gpus", 0);
    free(in->hostname);
    in->hostname = xstrdup(api_str(req, "hostname") ? api_str(req, "hostname") : "");
    free(in->executor);
    in->executor = xstrdup(api_str(req, "executor") ? api_str(req, "executor") : "process");
    const char *cg = api_str(req, "cgroups"), *note = api_str(req, "cgroupsNote");
    free(in->mem_note);
    if (cg && strcmp(cg, "none") != 0)
        in->mem_note = xasprintf("enforced with cgroup %s", cg);
    else
        in->mem_note = xasprintf("not enforced on instance %s: %s", in->id,
                                 note ? note : "the agent cannot use cgroups");
    in->registered = 1;
    in->last_seen = in->idle_since = mono();
    launch_trouble *t = dict_del(&c->st->fleet->trouble, in->ce);
    if (t) {
        free(t->ce);
        free(t);
    }
    c->st->jobs->sched_needed = 1;
    log_info("fleet: instance %s registered for compute environment %s (%s, %d vCPUs, %d MiB; "
             "memory limits %s)", in->id, in->ce, in->type, (int)vcpus, (int)mem, in->mem_note);
    *resp = json_pack("{s:s, s:i, s:i, s:i}", "instanceId", in->id, "pollSeconds", POLL_SECONDS,
                      "heartbeatSeconds", 5, "lostAfterSeconds", LOST_AFTER_SECONDS);
    return 0;
}

static void handle_report(state *st, instance *in, json_t *r)
{
    const char *id = api_str(r, "jobId"), *event = api_str(r, "event");
    int attempt = (int)api_int(r, "attempt", 0);
    int64_t at = api_int(r, "at", 0);
    if (at <= 0) at = util_now_ms();
    job *j = jobs_find(st->jobs, id);
    if (!j || j->inst != in || j->n_attempts != attempt) {
        /* An attempt this server no longer expects: make sure it stops. */
        if (id && event && strcmp(event, "RUNNING") == 0)
            push(&in->kill, json_pack("{s:s, s:i, s:s}", "jobId", id, "attempt", attempt,
                                      "reason", "this attempt is no longer expected"));
        return;
    }
    if (strcmp(event, "RUNNING") == 0) {
        jobs_attempt_running(st, j, at);
        return;
    }
    attempt_end e = {0};
    char reason[300];
    if (strcmp(event, "FAILED_TO_START") == 0) {
        snprintf(reason, sizeof reason, "%.280s",
                 api_str(r, "reason") ? api_str(r, "reason") : "CannotStartContainerError");
        e.reason = reason;
        e.status_reason = "Task failed to start";
    } else if (strcmp(event, "EXITED") == 0) {
        json_t *code = json_object_get(r, "exitCode");
        if (json_is_integer(code)) {
            e.has_exit_code = 1;
            e.exit_code = (int)json_integer_value(code);
        } else if (api_int(r, "signal", 0) > 0) {
            /* A container runtime reports a death by signal as 128 + the signal (137 for
             * SIGKILL, and so for a memory kill); tools built on AWS Batch read that code. */
            e.has_exit_code = 1;
            e.exit_code = 128 + (int)api_int(r, "signal", 0);
        }
        if (json_is_true(json_object_get(r, "oom"))) {
            e.reason = "OutOfMemoryError: Container killed due to memory usage";
        } else if (api_int(r, "signal", 0) > 0) {
            snprintf(reason, sizeof reason, "Container killed by signal %d (%s)",
                     (int)api_int(r, "signal", 0), strsignal((int)api_int(r, "signal", 0)));
            e.reason = reason;
        } else if (api_str(r, "reason")) {
            snprintf(reason, sizeof reason, "%.280s", api_str(r, "reason"));
            e.reason = reason;
        }
        char lost[160];
        if (json_is_true(json_object_get(r, "agentStopped"))) {
            /* The agent itself was stopped: to the job, its host went away. */
            snprintf(lost, sizeof lost, "Host EC2 (instance %s) terminated.", in->id);
            e.status_reason = lost;
        } else if (json_is_true(json_object_get(r, "timedOut")))
            e.status_reason = "Job attempt duration exceeded timeout";
        else if (json_is_true(json_object_get(r, "killed")) && j->stop_reason)
            e.status_reason = j->stop_reason;
        else
            e.status_reason = "Essential container in task exited";
    } else {
        return;
    }
    jobs_attempt_end(st, j, &e, at);
}

/* A held attempt this server does not expect: the agent is told to kill it, once, and again
 * only if it still lists the attempt STRAY_KILL_AGAIN_MS later. */
static void stray_held(instance *in, const char *id, int attempt, uint32_t pass, int64_t now)
{
    char *key = xasprintf("%d %s", attempt, id);
    stray *s = dict_get(&in->strays, key);
    if (!s) {
        s = xcalloc(1, sizeof *s);
        s->key = key;
        dict_put(&in->strays, s->key, s);
    } else {
        free(key);
    }
    s->seen = pass;
    if (s->kill_sent && now - s->kill_sent < STRAY_KILL_AGAIN_MS) return;
    s->kill_sent = now;
    log_info("fleet: instance %s holds attempt %d of job %s, which this server does not expect; "
             "asking it to stop", in->id, attempt, id);
    push(&in->kill, json_pack("{s:s, s:i, s:s}", "jobId", id, "attempt", attempt, "reason",
                              "this attempt is no longer expected"));
}

/* Whether reports holds the end of attempt (id, attempt): the exchange that reports an end may
 * still list the attempt as held. */
static int reports_end(json_t *reports, const char *id, int attempt)
{
    size_t i;
    json_t *r;
    json_array_foreach(reports, i, r) {
        const char *rid = api_str(r, "jobId"), *event = api_str(r, "event");
        if (rid && event && strcmp(rid, id) == 0 && api_int(r, "attempt", 0) == attempt &&
            (strcmp(event, "EXITED") == 0 || strcmp(event, "FAILED_TO_START") == 0))
            return 1;
    }
    return 0;
}

/* Reconciliation (docs/agent-protocol.md): the attempts the agent says it holds against those
 * this server expects on the instance.  An attempt it does not hold, and whose assignment left
 * long enough ago, was lost on the way (or, once running, by the agent): it ends, and its job is
 * retried as its strategy says.  Costs O(listed) lookups, and a walk of the instance's jobs only
 * when some are missing from the list. */
static void reconcile(state *st, instance *in, json_t *holding, json_t *reports)
{
    if (!json_is_array(holding)) return; /* an agent that does not say what it holds */
    fleet *f = st->fleet;
    if (++f->reconciliations == 0) f->reconciliations = 1; /* 0 marks "never listed" */
    uint32_t pass = f->reconciliations;
    int64_t now = mono();
    int listed = 0;
    size_t i;
    json_t *h;
    json_array_foreach(holding, i, h) {
        const char *id = api_str(h, "jobId");
        int attempt = (int)api_int(h, "attempt", 0);
        if (!id) continue;
        job *j = jobs_find(st->jobs, id);
        if (j && j->inst == in && j->n_attempts == attempt) {
            if (j->held_seen != pass) listed++;
            j->held_seen = pass;
        } else if (!reports_end(reports, id, attempt)) {
            stray_held(in, id, attempt, pass, now);
        }
    }
    /* Strays no longer listed have ended. */
    i = 0;
    const char *k;
    void *v;
    while (in->strays.len && dict_next(&in->strays, &i, &k, &v)) {
        stray *s = v;
        if (s->seen == pass) continue;
        dict_del(&in->strays, k);
        free(s->key);
        free(s);
    }
    if (listed == in->n_jobs) return;
    job **lost = NULL;
    size_t n_lost = 0;
    for (job *j = in->jobs; j; j = j->inst_next) {
        if (j->held_seen == pass || !j->assign_sent_at || now - j->assign_sent_at < ASSIGN_GRACE_MS)
            continue;
        lost = xrealloc(lost, (n_lost + 1) * sizeof *lost);
        lost[n_lost++] = j;
    }
    /* Ended apart from the walk: ending an attempt unlinks it from the instance. */
    for (size_t n = 0; n < n_lost; n++) {
        job *j = lost[n];
        char why[160];
        attempt_end e = {0};
        if (j->status == JS_STARTING) {
            log_warn("fleet: instance %s never received attempt %d of job %s", in->id,
                     (int)j->n_attempts, j->id);
            e.status_reason = "Task failed to start";
            e.reason = "CannotStartContainerError: the instance never received the assignment";
        } else {
            log_warn("fleet: instance %s no longer holds attempt %d of job %s", in->id,
                     (int)j->n_attempts, j->id);
            /* The agent lost it as a terminated host loses its tasks: retry rules written for
             * lost hosts apply. */
            snprintf(why, sizeof why, "Host EC2 (instance %s) terminated.", in->id);
            e.status_reason = why;
            e.reason = "the agent no longer holds this attempt";
        }
        jobs_attempt_end(st, j, &e, util_now_ms());
    }
    free(lost);
}

int fleet_exchange(api_ctx *c, json_t *req, json_t **resp)
{
    instance *in = find_instance(c, req);
    if (!in) return -1;
    in->last_seen = mono();
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(req, "reports"), i, r) handle_report(c->st, in, r);
    /* After the reports: an attempt whose end this exchange reports is no longer expected. */
    reconcile(c->st, in, json_object_get(req, "holding"), json_object_get(req, "reports"));
    /* A report may have left an order (a kill for an attempt no longer expected): the parked
     * poll carries it now rather than at its deadline. */
    if (!outbox_empty(in)) wake(c->st, in);
    int wait = json_is_true(json_object_get(req, "wait"));
    if (wait && outbox_empty(in)) {
        if (in->poll) core_reply(in->poll, take_outbox(c->st, in));
        in->poll = c->call;
        in->poll_deadline = mono() + POLL_SECONDS * 1000;
        c->deferred = 1;
        return 0;
    }
    if (in->poll && !wait) {
        /* Reports go on their own connection; the parked poll keeps waiting for work. */
        *resp = json_pack("{s:[], s:[], s:b}", "assign", "kill", "shutdown", 0);
        return 0;
    }
    *resp = take_outbox(c->st, in);
    return 0;
}

/* ---- explaining RUNNABLE jobs ---------------------------------------------------------- */

static void explain_ce(state *st, json_t *ce, const job *j, buf *out)
{
    const char *name = ce_name(ce);
    const char *state_ = json_string_value(json_object_get(ce, "state"));
    const char *status = json_string_value(json_object_get(ce, "status"));
    if (strcmp(state_, "ENABLED") != 0) {
        buf_printf(out, "compute environment %s is DISABLED", name);
        return;
    }
    if (strcmp(status, "VALID") != 0 && strcmp(status, "UPDATING") != 0) {
        buf_printf(out, "compute environment %s is %s", name, status);
        return;
    }
    double need = j->spec->mvcpus / 1000.0;
    int managed = strcmp(json_string_value(json_object_get(ce, "type")), "MANAGED") == 0;
    int maxv = 0, maxm = 0, maxg = 0, registered = 0, starting = 0;
    if (managed) {
        json_t *cr = json_object_get(ce, "computeResources");
        int budget = (int)json_integer_value(json_object_get(cr, "maxvCpus")) * 1000;
        if (is_fargate(cr)) {
            maxv = budget / 1000 < 16 ? budget / 1000 : 16;
            maxm = maxv * 8192;
        } else {
            for (int i = 0; catalog_at(i); i++) {
                const catalog_type *t = catalog_at(i);
                int allowed = 0;
                size_t n;
                json_t *s;
                json_array_foreach(json_object_get(cr, "instanceTypes"), n, s)
                    allowed |= catalog_spec_allows(json_string_value(s), t);
                if (!allowed || t->vcpus * 1000 > budget) continue;
                if (t->vcpus > maxv) maxv = t->vcpus;
                if (t->memory_mib > maxm) maxm = t->memory_mib;
                if (t->gpus > maxg) maxg = t->gpus;
            }
        }
        if (j->spec->mvcpus > maxv * 1000) {
            buf_printf(out, "needs %g vCPUs, the largest instance compute environment %s can run "
                            "has %d (maxvCpus %d)", need, name, maxv,
                       (int)json_integer_value(json_object_get(cr, "maxvCpus")));
            return;
        }
        if (j->spec->memory_mib > maxm) {
            buf_printf(out, "needs %d MiB of memory, the largest instance compute environment %s "
                            "can run has %d MiB", j->spec->memory_mib, name, maxm);
            return;
        }
        if (j->spec->gpus > maxg) {
            buf_printf(out, "needs %d GPUs, the largest instance compute environment %s can run "
                            "has %d", j->spec->gpus, name, maxg);
            return;
        }
    }
    int used = 0, total = 0;
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->fleet->instances, &i, &k, &v)) {
        instance *in = v;
        if (strcmp(in->ce, name) != 0) continue;
        total += in->mvcpus;
        used += in->used_mvcpus;
        if (in->registered) {
            registered++;
            if (!managed) {
                if (in->mvcpus > maxv * 1000) maxv = in->mvcpus / 1000;
                if (in->memory_mib > maxm) maxm = in->memory_mib;
            }
        } else {
            starting++;
        }
    }
    if (!managed) {
        if (!registered) {
            char *url = server_url();
            buf_printf(out, "compute environment %s is UNMANAGED and no agent has registered; "
                            "start one with `barge agent --server %s --compute-environment %s`",
                       name, url, name);
            free(url);
            return;
        }
        if (j->spec->mvcpus > maxv * 1000 || j->spec->memory_mib > maxm) {
            buf_printf(out, "needs %g vCPUs and %d MiB, the largest agent registered in compute "
                            "environment %s has %d vCPUs and %d MiB", need, j->spec->memory_mib,
                       name, maxv, maxm);
            return;
        }
    }
    launch_trouble *t = dict_get(&st->fleet->trouble, name);
    if (t && !registered && !starting) {
        int64_t wait_ms = t->retry_at - mono();
        buf_printf(out, "the last %d agent%s launched for compute environment %s stopped before "
                        "registering (the server's log says why); next launch in %lld s",
                   t->failures, t->failures > 1 ? "s" : "", name,
                   (long long)(wait_ms > 0 ? (wait_ms + 999) / 1000 : 0));
        return;
    }
    if (starting)
        buf_printf(out, "waiting for %d instance%s of compute environment %s to start", starting,
                   starting > 1 ? "s" : "", name);
    else
        buf_printf(out, "waiting for capacity in compute environment %s: %g of %g vCPUs in use%s",
                   name, used / 1000.0, total / 1000.0,
                   managed ? " (maxvCpus reached or no instance fits)" : "");
}

char *fleet_explain(state *st, job *j)
{
    json_t *q = reg_get(&st->jq, j->spec->queue);
    if (!q) return xasprintf("job queue %s no longer exists", j->spec->queue);
    if (strcmp(json_string_value(json_object_get(q, "state")), "ENABLED") != 0)
        return xasprintf("job queue %s is DISABLED; its jobs wait until it is ENABLED",
                         j->spec->queue);
    buf out = {0};
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(q, "computeEnvironmentOrder"), i, o) {
        char *name = arn_resource(json_string_value(json_object_get(o, "computeEnvironment")), ARN_CE);
        json_t *ce = name ? reg_get(&st->ce, name) : NULL;
        free(name);
        if (!ce) continue;
        if (out.len) buf_puts(&out, "; ");
        explain_ce(st, ce, j, &out);
    }
    if (!out.len) buf_printf(&out, "job queue %s has no usable compute environment", j->spec->queue);
    return out.data;
}

const char *fleet_cgroups_note(state *st, job *j)
{
    instance *in = j->inst_id ? dict_get(&st->fleet->instances, j->inst_id) : NULL;
    return in ? in->mem_note : NULL;
}

/* ---- housekeeping ---------------------------------------------------------------------- */

static int ce_min_mvcpus(state *st, const char *name)
{
    json_t *ce = reg_get(&st->ce, name);
    return (int)json_integer_value(
               json_object_get(json_object_get(ce, "computeResources"), "minvCpus")) * 1000;
}

void fleet_tick(state *st)
{
    int64_t now = mono();
    fleet *f = st->fleet;
    /* A launch back-off that has run out: the waiting jobs may be given capacity again. */
    size_t ti = 0;
    const char *tk;
    void *tv;
    while (dict_next(&f->trouble, &ti, &tk, &tv))
        if (now >= ((launch_trouble *)tv)->retry_at) st->jobs->sched_needed = 1;
    /* Local agents that exited.  Only their own pids are waited for: the exit status of any
     * other child of the server belongs to whoever started it. */
    int status;
    for (size_t r = 0; r < f->n_reap;) {
        if (waitpid(f->reap[r], &status, WNOHANG) != 0) f->reap[r] = f->reap[--f->n_reap];
        else r++;
    }
    size_t i = 0;
    const char *k;
    void *v;
    instance **doomed = NULL, **exited = NULL;
    size_t n_doomed = 0, n_exited = 0;
    int *statuses = NULL;
    while (dict_next(&f->instances, &i, &k, &v)) {
        instance *in = v;
        if (!in->local || in->pid <= 0) continue;
        pid_t w = waitpid(in->pid, &status, WNOHANG);
        if (w == 0 || (w < 0 && errno != ECHILD)) continue;
        if (w < 0) status = -1; /* reaped by someone else: gone, its status unknown */
        in->pid = 0;
        exited = xrealloc(exited, (n_exited + 1) * sizeof *exited);
        statuses = xrealloc(statuses, (n_exited + 1) * sizeof *statuses);
        statuses[n_exited] = status;
        exited[n_exited++] = in;
    }
    for (size_t e = 0; e < n_exited; e++) {
        instance *in = exited[e];
        if (!(in->draining && in->n_jobs == 0)) {
            char why[96];
            snprintf(why, sizeof why, "its agent process exited (status %d)", statuses[e]);
            lose(st, in, why);
        } else {
            dict_del(&f->instances, in->id);
            log_info("fleet: instance %s stopped", in->id);
            instance_free(in);
            st->jobs->sched_needed = 1; /* its vCPUs count against maxvCpus no more */
        }
    }
    free(exited);
    free(statuses);
    i = 0;
    while (dict_next(&f->instances, &i, &k, &v)) {
        instance *in = v;
        if (in->poll && now >= in->poll_deadline) {
            core_reply(in->poll, take_outbox(st, in));
            in->poll = NULL;
        }
        int lost = in->registered ? now - in->last_seen > LOST_AFTER_SECONDS * 1000
                                  : now - in->launched_at > REGISTER_WITHIN_SECONDS * 1000;
        if (lost) {
            doomed = xrealloc(doomed, (n_doomed + 1) * sizeof *doomed);
            doomed[n_doomed++] = in;
            continue;
        }
        /* Scale down: an idle local instance goes once the environment keeps minvCpus. */
        json_t *ce = reg_get(&st->ce, in->ce);
        int gone_ce = !ce || strcmp(json_string_value(json_object_get(ce, "status")), "DELETING") == 0;
        if (in->local && in->registered && !in->draining && in->n_jobs == 0 &&
            (gone_ce || now - in->idle_since >= barge_cfg.idle_seconds * 1000) &&
            (gone_ce || ce_mvcpus(st, in->ce) - in->mvcpus >= ce_min_mvcpus(st, in->ce))) {
            in->draining = 1;
            log_info("fleet: instance %s of %s is idle; letting it go", in->id, in->ce);
            wake(st, in);
        }
    }
    for (size_t d = 0; d < n_doomed; d++)
        lose(st, doomed[d], doomed[d]->registered ? "no heartbeat" : "its agent never registered");
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
            json_t *r = json_pack("{s:[], s:[], s:b}", "assign", "kill", "shutdown", in->local);
            core_reply(in->poll, r);
            in->poll = NULL;
        }
        if (in->local && in->pid > 0) kill(in->pid, SIGTERM);
    }
}
