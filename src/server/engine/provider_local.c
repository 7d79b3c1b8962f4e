/* provider_local — see provider_local.h. */
#include "server/engine/provider_local.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/catalog.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/base/agent_ident.h"
#include "server/model/config.h"
#include "server/model/jobs.h"
#include "server/model/state.h"

extern char **environ;

/* A Fargate environment has no instance types: a local instance just big enough for the job,
 * and for a few more like it, stands in for Fargate's per-job tasks, up to this many vCPUs. */
#define FARGATE_STANDIN_MAX_VCPUS 16
#define FARGATE_STANDIN_MIB_PER_VCPU 8192
/* Launch back-off: 2, 4, 8... seconds after each agent that died before registering, up to
 * 2^BACKOFF_MAX_SHIFT. */
#define BACKOFF_MAX_SHIFT 6

/* The types the environment names that an agent on this host can be: its architecture's. */
static int allows(const ce_rec *ce, const catalog_type *t)
{
    if (strcmp(t->arch, catalog_host_arch()) != 0) return 0;
    for (size_t n = 0; n < ce->n_instance_types; n++)
        if (catalog_spec_allows(ce->instance_types[n], t)) return 1;
    return 0;
}

/* The instance type the local provider would launch for j within budget_mvcpus, or NULL:
 * the largest that fits (fewer agent processes, room to pack more jobs), or with smallest the
 * smallest (an instance that takes the environment over maxvCpus is kept as small as it can
 * be). */
static int best_vcpus(const catalog_type *t)
{
    return t ? t->vcpus : INT_MAX;
}

/* What an instance must hold: a job's needs, or (to keep an environment's minimum) a number of
 * vCPUs alone. */
typedef struct needs {
    int mvcpus, memory_mib, gpus;
} needs;

static const catalog_type *choose_type(const ce_rec *ce, needs need, int budget_mvcpus,
                                       catalog_type *fargate, int smallest)
{
    if (ce->fargate) {
        int vcpus = (need.mvcpus + 999) / 1000;
        if (vcpus < 1) vcpus = 1;
        int room = budget_mvcpus / 1000;
        int want = room < FARGATE_STANDIN_MAX_VCPUS ? room : FARGATE_STANDIN_MAX_VCPUS;
        if (want < vcpus) return NULL;
        fargate->name = "fargate";
        fargate->vcpus = want;
        fargate->memory_mib = want * FARGATE_STANDIN_MIB_PER_VCPU;
        if (fargate->memory_mib < need.memory_mib) return NULL;
        fargate->gpus = 0;
        return need.gpus ? NULL : fargate;
    }
    const catalog_type *best = NULL;
    for (int i = 0; catalog_at(i); i++) {
        const catalog_type *t = catalog_at(i);
        if (!allows(ce, t) || t->vcpus * 1000 > budget_mvcpus) continue;
        if (t->vcpus * 1000 < need.mvcpus || t->memory_mib < need.memory_mib ||
            t->gpus < need.gpus)
            continue;
        int better = smallest ? t->vcpus < best_vcpus(best) ||
                                    (best && t->vcpus == best->vcpus &&
                                     t->memory_mib < best->memory_mib)
                              : !best || t->vcpus > best->vcpus ||
                                    (t->vcpus == best->vcpus && t->memory_mib > best->memory_mib);
        if (better) best = t;
    }
    return best;
}

void provider_local_largest(const ce_rec *ce, int *vcpus, int *memory_mib, int *gpus)
{
    int budget = ce->max_mvcpus;
    *vcpus = *memory_mib = *gpus = 0;
    if (ce->fargate) {
        *vcpus = budget / 1000 < FARGATE_STANDIN_MAX_VCPUS ? budget / 1000 : FARGATE_STANDIN_MAX_VCPUS;
        *memory_mib = *vcpus * FARGATE_STANDIN_MIB_PER_VCPU;
        return;
    }
    for (int i = 0; catalog_at(i); i++) {
        const catalog_type *t = catalog_at(i);
        if (!allows(ce, t) || t->vcpus * 1000 > budget) continue;
        if (t->vcpus > *vcpus) *vcpus = t->vcpus;
        if (t->memory_mib > *memory_mib) *memory_mib = t->memory_mib;
        if (t->gpus > *gpus) *gpus = t->gpus;
    }
}

/* Starts `barge agent` on this host as a new instance of ce. */
static instance *launch(state *st, const ce_rec *ce, const catalog_type *t)
{
    char id[20];
    instance_new_id(id);
    char vcpus[16], mem[16], gpus[16];
    snprintf(vcpus, sizeof vcpus, "%d", t->vcpus);
    snprintf(mem, sizeof mem, "%d", t->memory_mib);
    snprintf(gpus, sizeof gpus, "%d", t->gpus);
    /* Outside DATA_DIR, which jobs must never reach; passable, not listable, by job users. */
    char *agents = config_agent_work_root(&barge_cfg);
    if (mkdir(agents, 0711) < 0 && errno != EEXIST)
        log_warn("fleet: cannot create %s: %s", agents, strerror(errno));
    char *workdir = xasprintf("%s/%s", agents, id);
    free(agents);
    /* The local instances share a few image caches in DATA_DIR (an agent takes the first
     * free one), so that images outlive the instances that pulled them. */
    char *images = xasprintf("%s/images/cache", barge_cfg.data_dir);
    char *fixed[] = {"barge", "agent", "--server", st->fleet->url, "--compute-environment",
                     (char *)ce->name, "--instance-id", id, "--vcpus", vcpus, "--memory", mem,
                     "--gpus", gpus, "--work-dir", workdir,
                     "--image-cache", images};
    size_t nfixed = sizeof fixed / sizeof fixed[0], nextra = 0;
    while (barge_cfg.agent_args && barge_cfg.agent_args[nextra]) nextra++;
    char **argv = xcalloc(nfixed + nextra + 3, sizeof *argv);
    memcpy(argv, fixed, sizeof fixed);
    size_t n = nfixed;
    for (size_t i = 0; i < nextra; i++) argv[n++] = barge_cfg.agent_args[i];
    /* A Fargate stand-in has no catalogue type for the agent to look up: its size is given. */
    if (strcmp(t->name, "fargate") != 0) {
        argv[n++] = "--instance-type";
        argv[n++] = (char *)t->name;
    }
    /* The token goes in the environment, which only this user may read in /proc; a command
     * line is readable by every local user. */
    size_t nenv = 0;
    while (environ[nenv]) nenv++;
    char **env = xcalloc(nenv + 2, sizeof *env);
    size_t e = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], "BARGE_AGENT_TOKEN=", 18) != 0) env[e++] = environ[i];
    /* A join token for this launch alone: it registers this instance and no other, so the
     * agent never holds one that could add or take over instances. */
    char join[AGENT_IDENT_LAUNCH_TOKEN_LEN + 1];
    agent_ident_launch_token(id, join);
    char *token = xasprintf("BARGE_AGENT_TOKEN=%s", join);
    explicit_bzero(join, sizeof join);
    env[e++] = token;
    /* The agent outlives this server (docs/decisions.md, "Restarts"): a session of its own,
     * so that neither a signal to the server's process group nor the end of its terminal
     * reaches it, and no death signal tied to the server. */
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    pid_t pid;
    int rc = posix_spawn(&pid, barge_cfg.self_exe, NULL, &attr, argv, env);
    posix_spawnattr_destroy(&attr);
    explicit_bzero(token, strlen(token));
    free(token);
    free(env);
    free(argv);
    free(images);
    free(workdir);
    if (rc != 0) {
        agent_ident_revoke(id);
        log_error("fleet: cannot start an agent for compute environment %s: %s", ce->name,
                  strerror(rc));
        return NULL;
    }
    instance *in = instance_new(st->fleet, id, ce->name);
    in->type = xstrdup(t->name);
    in->mvcpus = t->vcpus * 1000;
    in->memory_mib = t->memory_mib;
    in->gpus = t->gpus;
    in->local = 1;
    in->profile = res_ce_profile(st, ce->name);
    in->pid = pid;
    in->pid_start = util_process_start(pid);
    util_pid_view(in->pid_view);
    log_info("fleet: launched instance %s (%s, %d vCPUs, %d MiB) for compute environment %s, "
             "agent pid %d", in->id, in->type, t->vcpus, t->memory_mib, in->ce, (int)pid);
    return in;
}

const catalog_type *provider_local_choose(state *st, const ce_rec *ce, const job *j,
                                          catalog_type *fargate)
{
    int budget = ce->max_mvcpus - fleet_ce_mvcpus(st->fleet, ce->name);
    needs need = {j->spec->mvcpus, j->spec->memory_mib, j->spec->gpus};
    const catalog_type *t = choose_type(ce, need, budget, fargate, 0);
    /* BEST_FIT_PROGRESSIVE and the SPOT strategies may go over maxvCpus by one instance, as on
     * AWS: while the environment is below it, the smallest type that fits the job. */
    if (!t && ce->overshoot && budget > 0 && !ce->fargate)
        t = choose_type(ce, need, INT_MAX, fargate, 1);
    return t;
}

const catalog_type *provider_local_choose_vcpus(state *st, const ce_rec *ce, int mvcpus)
{
    if (ce->fargate) return NULL;
    int budget = ce->max_mvcpus - fleet_ce_mvcpus(st->fleet, ce->name);
    /* The smallest type that covers what is missing, else the largest there is room for (the
     * next one makes up the rest). */
    const catalog_type *t = choose_type(ce, (needs){mvcpus, 0, 0}, budget, NULL, 1);
    if (!t) t = choose_type(ce, (needs){1, 0, 0}, budget, NULL, 0);
    return t;
}

int provider_may_launch(state *st, const ce_rec *ce)
{
    launch_trouble *trouble = dict_get(&st->fleet->trouble, ce->name);
    if (trouble && util_mono_ms() < trouble->retry_at) return 0;
    return st->fleet->url != NULL;
}

int provider_before_launch(state *st, const ce_rec *ce, const job *j)
{
    size_t i = 0;
    const char *k;
    void *v;
    /* An instance still starting that will have room for j once it registers. */
    while (dict_next(&st->fleet->instances, &i, &k, &v)) {
        instance *in = v;
        if (in->registered || in->draining || strcmp(in->ce, ce->name) != 0 ||
            !instance_fits(in, j, 1))
            continue;
        instance_reserve(in, j);
        return 1;
    }
    if (provider_may_launch(st, ce)) return 0;
    /* Until the listener has bound (the first passes after a start run before it), an agent
     * would not know where to register: ask for another pass instead. */
    if (!st->fleet->url) st->jobs->sched_needed = 1;
    return -1;
}

int provider_local_provide(state *st, ce_rec *ce, const job *j)
{
    if (!res_ce_usable(ce) || !ce->managed) return 0;
    int before = provider_before_launch(st, ce, j);
    if (before) return before > 0;
    catalog_type fargate;
    const catalog_type *t = provider_local_choose(st, ce, j, &fargate);
    if (!t) return 0;
    instance *in = launch(st, ce, t);
    if (!in) return 0;
    instance_reserve(in, j);
    return 1;
}

int provider_local_grow(state *st, ce_rec *ce, int mvcpus)
{
    /* Every local agent runs on this host: a minimum of a million vCPUs (a typo, or a
     * definition written for AWS) must not start thousands of them. */
    int n = 0;
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->fleet->instances, &i, &k, &v)) {
        const instance *in = v;
        n += in->local && !in->draining && strcmp(in->ce, ce->name) == 0;
    }
    if (n >= PROVIDER_LOCAL_KEEP_MAX) {
        static int64_t warned_at;
        int64_t now = util_mono_ms();
        if (!warned_at || now - warned_at > 60000) {
            log_warn("fleet: compute environment %s keeps %d local instances, the most this "
                     "host starts for its minvCpus (%d) or desiredvCpus (%d); jobs still get "
                     "instances as they need them", ce->name, n, ce->min_mvcpus / 1000,
                     ce->desired_mvcpus / 1000);
            warned_at = now;
        }
        return 0;
    }
    const catalog_type *t = provider_local_choose_vcpus(st, ce, mvcpus);
    instance *in = t ? launch(st, ce, t) : NULL;
    return in ? in->mvcpus : 0;
}

void provider_local_lost(state *st, instance *in)
{
    fleet *f = st->fleet;
    /* An agent that died before registering, or soon after, is a failed launch: launching
     * again at once (for a job, or for the environment's minvCpus) would only repeat it. */
    if (!in->registered || util_mono_ms() - in->launched_at < PROVIDER_LASTING_MS) {
        launch_trouble *t = dict_get(&f->trouble, in->ce);
        if (!t) {
            t = xcalloc(1, sizeof *t);
            t->ce = xstrdup(in->ce);
            dict_put(&f->trouble, t->ce, t);
        }
        t->failures++;
        int shift = t->failures < BACKOFF_MAX_SHIFT ? t->failures : BACKOFF_MAX_SHIFT;
        t->retry_at = util_mono_ms() + (1000LL << shift);
    }
    if (in->pid > 0) {
        kill(in->pid, SIGTERM);
        /* Its exit is reaped later (provider_local_tick), so that it leaves no zombie behind. */
        f->reap = xrealloc(f->reap, (f->n_reap + 1) * sizeof *f->reap);
        f->reap[f->n_reap++] = in->pid;
        in->pid = 0;
    }
}

void provider_local_registered(state *st, instance *in)
{
    /* Launches work again at once; the count of failures is forgotten only once an instance
     * has lasted (provider_local_tick), so that agents that die soon after registering back
     * off longer and longer. */
    launch_trouble *t = dict_get(&st->fleet->trouble, in->ce);
    if (t) t->retry_at = 0;
}

/* Whether compute environment ce has an instance that was heard from PROVIDER_LASTING_MS or
 * more after it registered (launched, for one registered before a restart): its launches work.
 * By its last sign of life, not by the clock: an agent that died on start is still registered
 * until it is found silent, and must not clear the trouble its loss is about to add to. */
static int has_lasting(fleet *f, const char *ce, int64_t now)
{
    const char *name = instance_ce_name(ce);
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&f->instances, &i, &k, &v)) {
        const instance *in = v;
        if (in->ce == name && in->registered &&
            in->last_seen - (in->registered_at ? in->registered_at : in->launched_at) >=
                PROVIDER_LASTING_MS)
            return 1;
    }
    return 0;
}

void provider_local_tick(state *st)
{
    int64_t now = util_mono_ms();
    fleet *f = st->fleet;
    /* A launch back-off that has run out: the waiting jobs may be given capacity again.  A
     * trouble whose environment has an instance that lasted is over. */
    size_t ti = 0;
    const char *tk;
    void *tv;
    while (dict_next(&f->trouble, &ti, &tk, &tv)) {
        launch_trouble *t = tv;
        if (t->retry_at && now >= t->retry_at) {
            st->jobs->sched_needed = 1;
            t->retry_at = 0;
        }
        if (!t->retry_at && has_lasting(f, t->ce, now)) {
            dict_del(&f->trouble, tk);
            free(t->ce);
            free(t);
        }
    }
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
    instance **exited = NULL;
    size_t n_exited = 0;
    int *statuses = NULL;
    while (dict_next(&f->instances, &i, &k, &v)) {
        instance *in = v;
        if (!in->local || in->pid <= 0) continue;
        if (in->adopted) {
            /* Not this server's child: its exit is seen in /proc, its status is not. */
            if (util_process_start(in->pid) == in->pid_start) continue;
            in->pid = 0;
            exited = xrealloc(exited, (n_exited + 1) * sizeof *exited);
            statuses = xrealloc(statuses, (n_exited + 1) * sizeof *statuses);
            statuses[n_exited] = -1;
            exited[n_exited++] = in;
            continue;
        }
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
            /* Declared lost by the fleet's housekeeping, which runs next. */
            int ws = statuses[e];
            /* What a reader can act on: the agent's exit code (its message is in the server's
             * output), or the signal that ended it; not the raw wait status (256 for code 1). */
            if (ws == -1)
                in->gone_why = xstrdup("its agent process exited (how is not known)");
            else if (WIFSIGNALED(ws))
                in->gone_why = xasprintf("its agent process was killed by signal %d (%s)",
                                         WTERMSIG(ws), strsignal(WTERMSIG(ws)));
            else
                in->gone_why = xasprintf("its agent process exited with code %d",
                                         WEXITSTATUS(ws));
        } else {
            log_info("fleet: instance %s stopped", in->id);
            instance_remove(f, in);
            st->jobs->sched_needed = 1; /* its vCPUs count against maxvCpus no more */
        }
    }
    free(exited);
    free(statuses);
}

void provider_local_adopt(state *st)
{
    char mine[UTIL_PID_VIEW_MAX];
    util_pid_view(mine);
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->fleet->instances, &i, &k, &v)) {
        instance *in = v;
        if (!in->local || !in->recovered) continue;
        if (in->pid > 0 && in->pid_view[0] && strcmp(in->pid_view, mine) != 0) {
            /* Launched by a server on another host (this one leads a shared store now): its
             * pid is that host's.  Its agent follows the leader (it has every server's URL)
             * and is known by its exchanges, or lost when it is silent, as a remote one. */
            log_info("fleet: instance %s's agent (pid %d) was launched on another host; this "
                     "server knows it by its exchanges", in->id, (int)in->pid);
            in->pid = 0;
            continue;
        }
        if (in->pid > 0 && in->pid_start && util_process_start(in->pid) == in->pid_start) {
            in->adopted = 1;
            log_info("fleet: instance %s's agent (pid %d) outlived the last server; it is this "
                     "one's now", in->id, (int)in->pid);
        } else {
            if (!in->gone_why)
                in->gone_why = xasprintf("its agent (pid %d) did not outlive the last server",
                                         (int)in->pid);
            in->pid = 0;
        }
    }
}

void provider_local_stop(state *st)
{
    /* By default the agents carry on, and the next start adopts them. */
    if (!barge_cfg.stop_local_agents) return;
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->fleet->instances, &i, &k, &v)) {
        instance *in = v;
        if (in->local && in->pid > 0 && kill(in->pid, SIGTERM) == 0) {
            in->stopped_by_server = 1;
            instance_mark_dirty(st->fleet, in);
        }
    }
}
