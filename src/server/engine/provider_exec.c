/* provider_exec — see provider_exec.h. */
#include "server/engine/provider_exec.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/catalog.h"
#include "common/dict.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/base/agent_ident.h"
#include "server/base/core.h"
#include "server/model/config.h"
#include "server/model/jobs.h"
#include "server/model/state.h"
#include "server/engine/provider_local.h"

extern char **environ;

/* Launch back-off, as the local provider's: 2, 4, 8... seconds after each failed launch, up to
 * 2^BACKOFF_MAX_SHIFT. */
#define BACKOFF_MAX_SHIFT 6
/* A drained instance's agent is told to stop; its terminate command runs this long after, so
 * that the agent stops on its own first (or at once when the agent was not waiting for work). */
#define DRAIN_GRACE_MS 2000
#define DRAIN_MAX_MS 10000
/* A terminate command running longer than this is killed: it holds nothing barge waits for,
 * and a stuck one would otherwise live as long as the server. */
#define TERMINATE_MAX_MS (600 * 1000)

/* What this provider keeps of an instance it launched. */
typedef struct exec_inst {
    char *id;
    char *terminate; /* its terminate command, as configured at launch, or NULL */
    pid_t launch_pid; /* its launch command while it runs, else 0 */
    int launch_failed; /* the launch command exited non-zero: nothing to terminate */
    int launch_pending; /* on record once its batch commits; its launch command runs then */
    char *launch;       /* that command, as configured when the instance was made */
    /* Its agent's join token while the launch is pending (zeroed once handed to the command,
     * and when let go): kept here, not in the core's calls, whose arguments the core frees. */
    char join[AGENT_IDENT_LAUNCH_TOKEN_LEN + 1];
    int64_t drained_at; /* monotonic ms it was found drained and idle, 0 before */
} exec_inst;

/* A command that runs. */
typedef struct child {
    pid_t pid;
    int launch; /* 1: a launch command, 0: a terminate command */
    char *id;   /* its instance */
    char *out;  /* the file its output goes to */
    int64_t started;
} child;

/* Why the last launch for a compute environment failed; one per environment, kept. */
typedef struct trouble_note {
    char *ce, *why;
} trouble_note;

static json_t *table_;  /* the commands in force, or NULL */
static dict insts_;     /* instance id -> exec_inst */
static dict trouble_;   /* compute environment -> trouble_note */
static int init_;
static child *children_;
static size_t n_children_;

static void init(void)
{
    if (init_) return;
    dict_init(&insts_);
    dict_init(&trouble_);
    init_ = 1;
}

/* ---- The file ---------------------------------------------------------------------------- */

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 128) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_') return 0;
    return 1;
}

json_t *provider_exec_read(const char *path, char **err)
{
    json_error_t je;
    json_t *t = json_load_file(path, 0, &je);
    if (!t) {
        *err = xasprintf("%s line %d: %s", path, je.line, je.text);
        return NULL;
    }
    const char *why = NULL, *key = "";
    json_t *v;
    if (!json_is_object(t)) why = "must be a JSON object of compute environment names (or \"*\")";
    json_object_foreach(t, key, v) {
        if (why) break;
        const char *launch = json_string_value(json_object_get(v, "launch"));
        json_t *term = json_object_get(v, "terminate");
        if (strcmp(key, "*") != 0 && !valid_name(key))
            why = "is not a compute environment name (letters, digits, '-' and '_') or \"*\"";
        else if (!json_is_object(v))
            why = "must be an object with \"launch\" (and \"terminate\") commands";
        else if (!launch || !*launch)
            why = "needs \"launch\": the shell command that starts an instance's agent";
        else if (term && (!json_is_string(term) || !*json_string_value(term)))
            why = "\"terminate\" must be a shell command (or be left out)";
        else if (json_object_size(v) != (size_t)(term ? 2 : 1))
            why = "may hold only \"launch\" and \"terminate\"";
        if (why) break;
    }
    if (why) {
        *err = json_is_object(t) ? xasprintf("%s: \"%s\" %s", path, key, why)
                                 : xasprintf("%s %s", path, why);
        json_decref(t);
        return NULL;
    }
    return t;
}

void provider_exec_install(json_t *table)
{
    json_decref(table_);
    table_ = table;
}

static json_t *commands_for(const char *ce)
{
    if (!table_) return NULL;
    json_t *c = json_object_get(table_, ce);
    return c ? c : json_object_get(table_, "*");
}

int provider_exec_serves(const ce_rec *ce)
{
    return ce->managed && commands_for(ce->name) != NULL;
}

const char *provider_exec_trouble(const char *ce)
{
    init();
    trouble_note *n = dict_get(&trouble_, ce);
    return n ? n->why : NULL;
}

/* ---- Commands ---------------------------------------------------------------------------- */

static char *out_path(const char *id, const char *what)
{
    char *dir = xasprintf("%s/provider-exec", barge_cfg.data_dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        log_warn("fleet: cannot create %s: %s", dir, strerror(errno));
    char *p = xasprintf("%s/%s-%s.log", dir, id, what);
    free(dir);
    return p;
}

/* The last line of what a command wrote, or a note that it wrote nothing. */
static char *last_line(const char *path)
{
    char text[4096];
    ssize_t n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        off_t size = lseek(fd, 0, SEEK_END);
        off_t from = size > (off_t)sizeof text - 1 ? size - (off_t)sizeof text + 1 : 0;
        if (size > 0 && lseek(fd, from, SEEK_SET) >= 0) n = read(fd, text, sizeof text - 1);
        close(fd);
    }
    if (n < 0) n = 0;
    text[n] = '\0';
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' ')) text[--n] = 0;
    char *nl = strrchr(text, '\n');
    const char *line = nl ? nl + 1 : text;
    return xstrdup(*line ? line : "(it wrote nothing)");
}

/* STATUS_UNKNOWN: the command was reaped by someone else. */
#define STATUS_UNKNOWN (-1)

static char *status_text(int status)
{
    if (status == STATUS_UNKNOWN) return xstrdup("its status is unknown");
    if (WIFEXITED(status)) return xasprintf("exit status %d", WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return xasprintf("killed by signal %d", WTERMSIG(status));
    return xasprintf("status %d", status);
}

/* Runs cmd with /bin/sh -c in a session of its own, with in's variables (and token, for a
 * launch) in its environment; records it among the children.  0, or -1 with errno's text in
 * *err. */
static int run(state *st, const char *cmd, const instance *in, const char *token, int launch,
               pid_t *pid_out, char **err)
{
    char *vars[8];
    size_t nv = 0;
    vars[nv++] = xasprintf("BARGE_INSTANCE_ID=%s", in->id);
    vars[nv++] = xasprintf("BARGE_INSTANCE_TYPE=%s", in->type ? in->type : "");
    vars[nv++] = xasprintf("BARGE_VCPUS=%d", in->mvcpus / 1000);
    vars[nv++] = xasprintf("BARGE_MEMORY_MIB=%d", in->memory_mib);
    vars[nv++] = xasprintf("BARGE_GPUS=%d", in->gpus);
    vars[nv++] = xasprintf("BARGE_COMPUTE_ENVIRONMENT=%s", in->ce);
    /* Where agents on other machines reach this server, when the operator said. */
    const char *url = barge_cfg.remote_url ? barge_cfg.remote_url : st->fleet->url;
    vars[nv++] = xasprintf("BARGE_SERVER_URL=%s", url ? url : "");
    if (token) vars[nv++] = xasprintf("BARGE_AGENT_TOKEN=%s", token);
    size_t nenv = 0;
    while (environ[nenv]) nenv++;
    char **env = xcalloc(nenv + nv + 1, sizeof *env);
    size_t e = 0;
    /* The server's own BARGE_ variables are not the instance's. */
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], "BARGE_", 6) != 0) env[e++] = environ[i];
    for (size_t i = 0; i < nv; i++) env[e++] = vars[i];
    char *out = out_path(in->id, launch ? "launch" : "terminate");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    /* A session of its own, so that the server's terminal signals do not reach what it starts
     * and the whole of it can be stopped; and the signals the server blocks or ignores are the
     * command's to handle. */
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGTERM);
    sigaddset(&dfl, SIGINT);
    sigaddset(&dfl, SIGHUP);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
    char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, &at, argv, env);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    for (size_t i = 0; i < nv; i++) {
        explicit_bzero(vars[i], strlen(vars[i]));
        free(vars[i]);
    }
    free(env);
    if (rc != 0) {
        *err = xasprintf("cannot run /bin/sh: %s", strerror(rc));
        free(out);
        return -1;
    }
    children_ = xrealloc(children_, (n_children_ + 1) * sizeof *children_);
    children_[n_children_++] = (child){pid, launch, xstrdup(in->id), out, util_mono_ms()};
    *pid_out = pid;
    return 0;
}

static void back_off(state *st, const char *ce, char *why)
{
    fleet *f = st->fleet;
    launch_trouble *t = dict_get(&f->trouble, ce);
    if (!t) {
        t = xcalloc(1, sizeof *t);
        t->ce = xstrdup(ce);
        dict_put(&f->trouble, t->ce, t);
    }
    t->failures++;
    int shift = t->failures < BACKOFF_MAX_SHIFT ? t->failures : BACKOFF_MAX_SHIFT;
    t->retry_at = util_mono_ms() + (1000LL << shift);
    if (!why) return;
    trouble_note *n = dict_get(&trouble_, ce);
    if (!n) {
        n = xcalloc(1, sizeof *n);
        n->ce = xstrdup(ce);
        dict_put(&trouble_, n->ce, n);
    }
    free(n->why);
    n->why = why;
}

/* ---- Launching --------------------------------------------------------------------------- */

static void free_inst(exec_inst *x)
{
    if (!x) return;
    free(x->id);
    free(x->terminate);
    free(x->launch);
    explicit_bzero(x->join, sizeof x->join);
    free(x);
}

/* Once the batch that put instance id on record has committed (core_after_commit): its launch
 * command runs.  Not before: a server that stopped, or a commit that failed, between the two
 * would leave a machine started that no server knows of, so that none would ever terminate it.
 * The agent it starts registers with the launch token made with the instance (whose digest the
 * instance's record holds). */
typedef struct pending_launch {
    char id[20];
    int tries; /* commits that failed since */
} pending_launch;

static void start_launch(void *ctx, void *arg, int durable);

/* p handed to a later call (the core frees p when the call that held it returns). */
static pending_launch *hand_on(const pending_launch *p)
{
    pending_launch *again = xmalloc(sizeof *again);
    *again = *p;
    return again;
}

/* After a failed commit the record is written again RECORD_AGAIN_MS later, twice as long after
 * each failure that follows, up to RECORD_AGAIN_MAX_MS. */
#define RECORD_AGAIN_MS 200
#define RECORD_AGAIN_MAX_MS 2000

/* core_after's: the record of a launching instance, rolled back, is written again (the fleet
 * read back marks its instances to be written; this makes a commit to write them). */
static void record_again(void *ctx, void *arg)
{
    state *st = ctx;
    pending_launch *p = arg;
    instance *in = instance_find(st->fleet, p->id);
    pending_launch *again = hand_on(p);
    if (in) instance_mark_dirty(st->fleet, in);
    /* Gone meanwhile: start_launch lets it go. */
    core_after_commit(start_launch, again);
}

static void start_launch(void *ctx, void *arg, int durable)
{
    state *st = ctx;
    pending_launch *p = arg;
    const char *id = p->id;
    exec_inst *x = dict_get(&insts_, id);
    instance *in = instance_find(st->fleet, id);
    if (!x || !x->launch_pending || !in) {
        /* Gone meanwhile (provider_exec_gone, or a fleet read back from the store). */
        if (x && x->launch_pending) free_inst(dict_del(&insts_, id));
        return;
    }
    if (!durable) {
        /* The fleet outlives a failed commit (model_reload keeps it): the instance is still
         * launching here, but its record was rolled back.  It is written again a moment later
         * (not at once: a store that fails every commit would be asked again and again), and
         * the launch waits for that commit. */
        pending_launch *again = hand_on(p);
        again->tries++;
        int64_t delay = RECORD_AGAIN_MS;
        for (int i = 1; i < again->tries && delay < RECORD_AGAIN_MAX_MS; i++) delay *= 2;
        core_after(delay < RECORD_AGAIN_MAX_MS ? delay : RECORD_AGAIN_MAX_MS, record_again,
                   again);
        return;
    }
    if (in->draining) {
        /* Let go before it started (its environment deleted, maxvCpus lowered): nothing to
         * start, and provider_exec_gone, which comes next, has nothing to terminate. */
        explicit_bzero(x->join, sizeof x->join);
        return;
    }
    x->launch_pending = 0;
    /* Its registration deadline counts from now, not from when the pass chose it: a store
     * that failed for a while in between is not the machine's time to come up. */
    in->launched_at = util_mono_ms();
    pid_t pid = 0;
    char *err = NULL;
    int rc = run(st, x->launch, in, x->join, 1, &pid, &err);
    explicit_bzero(x->join, sizeof x->join);
    if (rc < 0) {
        /* As a launch command that failed: the fleet's housekeeping declares it lost. */
        char *why = err;
        log_error("fleet: cannot launch instance %s for compute environment %s: %s", id, in->ce,
                  why);
        x->launch_failed = 1;
        if (!in->gone_why) in->gone_why = xasprintf("its launch command could not start: %s", why);
        back_off(st, in->ce, xasprintf("its launch command could not start: %s", why));
        free(why);
        return;
    }
    x->launch_pid = pid;
    log_info("fleet: launching instance %s (%s, %d vCPUs, %d MiB) for compute environment %s "
             "with its launch command, pid %d", in->id, in->type, in->mvcpus / 1000,
             in->memory_mib, in->ce, (int)pid);
}

static instance *launch(state *st, const ce_rec *ce, const catalog_type *t, json_t *cmds)
{
    char id[20];
    instance_new_id(id);
    instance *in = instance_new(st->fleet, id, ce->name);
    in->type = xstrdup(t->name);
    in->mvcpus = t->vcpus * 1000;
    in->memory_mib = t->memory_mib;
    in->gpus = t->gpus;
    in->exec = 1;
    in->profile = res_ce_profile(st, ce->name);
    pending_launch *p = xcalloc(1, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", id);
    exec_inst *x = xcalloc(1, sizeof *x);
    x->id = xstrdup(id);
    const char *term = json_string_value(json_object_get(cmds, "terminate"));
    x->terminate = term ? xstrdup(term) : NULL;
    in->terminate_cmd = term ? xstrdup(term) : NULL;
    /* Both commands as configured now: a SIGHUP before the launch runs does not pair a new
     * launch command with the terminate command on record. */
    x->launch = xstrdup(json_string_value(json_object_get(cmds, "launch")));
    x->launch_pending = 1;
    /* A join token for this launch alone, as the local provider hands its agents. */
    agent_ident_launch_token(id, x->join);
    dict_put(&insts_, x->id, x);
    /* On record from this batch's commit, and launched only then (start_launch): should the
     * server stop before the agent registers, the next one still takes that agent, or
     * terminates the machine (model/instance_store.c). */
    instance_mark_dirty(st->fleet, in);
    core_after_commit(start_launch, p);
    return in;
}

int provider_exec_provide(state *st, ce_rec *ce, const job *j)
{
    init();
    json_t *cmds = commands_for(ce->name);
    if (!cmds || !res_ce_usable(ce) || !ce->managed) return 0;
    int before = provider_before_launch(st, ce, j);
    if (before) return before > 0;
    catalog_type fargate;
    const catalog_type *t = provider_local_choose(st, ce, j, &fargate);
    if (!t) return 0;
    instance *in = launch(st, ce, t, cmds);
    if (!in) return 0;
    instance_reserve(in, j);
    return 1;
}

int provider_exec_grow(state *st, ce_rec *ce, int mvcpus)
{
    init();
    json_t *cmds = commands_for(ce->name);
    if (!cmds) return 0;
    const catalog_type *t = provider_local_choose_vcpus(st, ce, mvcpus);
    instance *in = t ? launch(st, ce, t, cmds) : NULL;
    return in ? in->mvcpus : 0;
}

/* ---- Going ------------------------------------------------------------------------------- */

void provider_exec_gone(state *st, instance *in)
{
    init();
    exec_inst *x = dict_del(&insts_, in->id);
    /* Gone before its launch command ran (its compute environment went in the same batch, or
     * the command could not start): nothing to wait for, nothing to terminate. */
    int launched = x && !x->launch_failed && !x->launch_pending;
    if (!in->registered && !(x && !launched))
        back_off(st, in->ce, xasprintf("instance %s did not register in time after its launch "
                                       "command ran (its agent's log, or the command's output "
                                       "in DATA_DIR/provider-exec/, says why)", in->id));
    /* One whose agent went silent soon after registering (it dies on start, or its machine
     * does) is a failed launch too: launching again at once, for a job or for minvCpus, would
     * only pay for another machine that does the same.  Not one let go on purpose (drained,
     * terminated, revoked or reclaimed): only one found silent. */
    else if (in->silent && in->registered_at &&
             in->last_seen - in->registered_at < PROVIDER_LASTING_MS)
        back_off(st, in->ce, xasprintf("instance %s was lost %lld s after its agent registered "
                                       "(its agent's log says why)", in->id,
                                       (long long)((in->last_seen - in->registered_at) / 1000)));
    char *out = out_path(in->id, "launch");
    unlink(out);
    free(out);
    if (!x) return;
    /* A launch command still in the foreground (ssh HOST barge agent ...) holds the agent. */
    if (x->launch_pid > 0) kill(-x->launch_pid, SIGTERM);
    if (x->terminate && launched) {
        pid_t pid;
        char *err = NULL;
        if (run(st, x->terminate, in, NULL, 0, &pid, &err) < 0) {
            log_error("fleet: cannot terminate instance %s: %s", in->id, err);
            free(err);
        } else {
            log_info("fleet: terminating instance %s with its terminate command, pid %d", in->id,
                     (int)pid);
        }
    }
    free_inst(x);
}

/* A command ended with status. */
static void ended(state *st, child *c, int status)
{
    int ok = status != STATUS_UNKNOWN && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    char *how = status_text(status);
    char *line = ok ? NULL : last_line(c->out);
    if (c->launch) {
        exec_inst *x = dict_get(&insts_, c->id);
        instance *in = instance_find(st->fleet, c->id);
        if (x && x->launch_pid == c->pid) x->launch_pid = 0;
        if (!ok && x && in && !in->registered && !in->gone_why) {
            /* A failed launch: the fleet's housekeeping, which runs next, declares it lost. */
            x->launch_failed = 1;
            in->gone_why = xasprintf("its launch command failed (%s): %s", how, line);
            back_off(st, in->ce, xasprintf("the launch command failed (%s): %s", how, line));
            log_error("fleet: the launch command of instance %s failed (%s): %s", c->id, how,
                      line);
        } else if (!ok && x) {
            log_warn("fleet: the launch command of instance %s ended (%s): %s", c->id, how, line);
        }
    } else if (!ok) {
        log_warn("fleet: the terminate command of instance %s failed (%s): %s", c->id, how, line);
    } else {
        log_info("fleet: instance %s terminated by its terminate command", c->id);
    }
    free(how);
    free(line);
    /* A launch's output is kept while its instance is in the fleet (provider_exec_gone removes
     * it); a failed terminate's until the operator looks. */
    if (!c->launch && ok) unlink(c->out);
}

void provider_exec_tick(state *st)
{
    init();
    int64_t now = util_mono_ms();
    for (size_t r = 0; r < n_children_;) {
        child *c = &children_[r];
        int status = 0;
        pid_t w = waitpid(c->pid, &status, WNOHANG);
        if (w == 0) {
            if (!c->launch && now - c->started > TERMINATE_MAX_MS) {
                log_warn("fleet: the terminate command of instance %s ran for %d s; killing it",
                         c->id, TERMINATE_MAX_MS / 1000);
                kill(-c->pid, SIGKILL);
                c->started = now; /* killed once; reaped at a later tick */
            }
            r++;
            continue;
        }
        if (w < 0) status = STATUS_UNKNOWN;
        ended(st, c, status);
        free(c->id);
        free(c->out);
        children_[r] = children_[--n_children_];
    }
    /* Drained instances whose agent has been told to stop: they leave the fleet, and their
     * terminate command runs.  Apart from the walk: removing changes the fleet. */
    instance **done = NULL;
    size_t n_done = 0, i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->fleet->instances, &i, &k, &v)) {
        instance *in = v;
        exec_inst *x = in->exec ? dict_get(&insts_, in->id) : NULL;
        if (!x || !in->draining || in->n_jobs) continue;
        if (!x->drained_at) x->drained_at = now;
        int told = !in->poll && now - x->drained_at >= DRAIN_GRACE_MS;
        if (!told && now - x->drained_at < DRAIN_MAX_MS) continue;
        done = xrealloc(done, (n_done + 1) * sizeof *done);
        done[n_done++] = in;
    }
    for (size_t d = 0; d < n_done; d++) {
        log_info("fleet: instance %s stopped", done[d]->id);
        provider_exec_gone(st, done[d]);
        instance_remove(st->fleet, done[d]);
        st->jobs->sched_needed = 1; /* its vCPUs count against maxvCpus no more */
    }
    free(done);
}

void provider_exec_adopt(state *st)
{
    init();
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->fleet->instances, &i, &k, &v)) {
        instance *in = v;
        if (!in->exec || !in->recovered || dict_get(&insts_, in->id)) continue;
        /* Its launch command belonged to the last server; its terminate command is on record. */
        if (!in->registered)
            log_info("fleet: instance %s was launching when the last server stopped; its agent "
                     "may still register, and if it does not in time the instance is "
                     "terminated", in->id);
        exec_inst *x = xcalloc(1, sizeof *x);
        x->id = xstrdup(in->id);
        x->terminate = in->terminate_cmd ? xstrdup(in->terminate_cmd) : NULL;
        dict_put(&insts_, x->id, x);
    }
}
