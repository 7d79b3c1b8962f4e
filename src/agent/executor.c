/* executor — the supervisor loop that every backend shares (see executor.h): it owns the
 * attempts, reads their output line by line, enforces timeouts and kill orders, reaps them and
 * keeps a pool of working directories. */
#include "agent/executor.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/job_uids.h"
#include "agent/kill_memo.h"
#include "agent/reaper.h"
#include "agent/workdirs.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

/* CloudWatch Logs takes events up to 256 KiB, 26 bytes of which are its own overhead; longer
 * lines become several events. */
#define LINE_MAX_BYTES (262144 - 26)
#define READ_CHUNK 65536
/* After the main process ends, output still in the pipes is read for this long at most: a
 * process that left the attempt's process group and cgroup may hold them open forever. */
#define DRAIN_MS 2000
/* A cgroup whose last processes are still dying is removed later, for this long at most. */
#define CGROUP_RETRY_MS 10000

void exec_spec_free(exec_spec *s)
{
    if (!s) return;
    for (char **p = s->argv; p && *p; p++) free(*p);
    for (char **p = s->envp; p && *p; p++) free(*p);
    free(s->argv);
    free(s->envp);
    free(s->job_id);
    free(s->log_stream);
    free(s->image);
    free(s->ca_bundle);
    json_decref(s->container);
    free(s);
}

typedef struct linebuf {
    int fd, source;
    int slot; /* its entry in the loop's pollfd array, or -1 */
    buf b;
} linebuf;

typedef struct run {
    struct run *next;
    exec_spec *spec;
    exec_attempt a;
    char *work_dir;
    int pidfd;
    int preparing; /* the backend's prepare runs on its own thread; the run is not started */
    int reported;  /* its end was reported while it was preparing (a stop order) */
    int running;   /* its start was reported (events->started) */
    int ready_slot; /* its ready_fd's entry in the loop's pollfd array, or -1 */
    int has_uid;   /* it holds uid, from exec_options.uids */
    uint32_t uid;
    int reaped, status, oom;
    double cpu_seconds;      /* from its main process's rusage, once reaped */
    long long max_rss_bytes; /* the same */
    exec_stop_cause cause;
    char *reason;
    int64_t started_at;                 /* epoch ms */
    int64_t deadline, kill_at, drain_until; /* monotonic ms; 0 when not set */
    linebuf out, err;
} run;

enum { CMD_SUBMIT, CMD_KILL, CMD_KILL_ALL, CMD_STOP, CMD_PREPARED };

typedef struct cmd {
    struct cmd *next;
    int kind;
    exec_spec *spec;
    run *run;          /* CMD_PREPARED: the run whose preparation ended */
    int failed;        /* CMD_PREPARED: it failed, and reason says why */
    char *job_id;
    int attempt;
    exec_stop_cause cause;
    char *reason;
} cmd;

typedef struct grave {
    struct grave *next;
    cgroup *cg;
    int64_t give_up_at;
} grave;

struct executor {
    exec_options o;
    pthread_mutex_t mu;
    pthread_cond_t idle;
    cmd *head, *tail; /* under mu */
    int active;       /* under mu: submitted and not yet ended */
    int wake_fd;
    /* The loop's own state, touched by its thread only. */
    run *runs;
    grave *graves;
    workdirs dirs;    /* the attempts' working directories, a few kept for the next */
    int stopping;
    kill_memo early; /* kill orders that came before their attempts */
    kill_memo ended; /* attempts ended here lately: a late order for one is not kept */
};

executor *executor_new(const exec_options *o)
{
    executor *ex = xcalloc(1, sizeof *ex);
    ex->o = *o;
    if (!ex->o.backend) ex->o.backend = &exec_process_backend;
    if (ex->o.idle_dirs <= 0) ex->o.idle_dirs = 8;
    workdirs_init(&ex->dirs, ex->o.work_dir, ex->o.idle_dirs,
                  ex->o.uids ? WORKDIRS_ANY_OWNER : ex->o.job_uid);
    pthread_mutex_init(&ex->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ex->idle, &ca);
    pthread_condattr_destroy(&ca);
    ex->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    BARGE_ASSERT(ex->wake_fd >= 0);
    return ex;
}

void executor_free(executor *ex)
{
    if (!ex) return;
    for (cmd *c = ex->head, *next; c; c = next) {
        next = c->next;
        exec_spec_free(c->spec);
        free(c->job_id);
        free(c->reason);
        free(c);
    }
    for (grave *g = ex->graves, *next; g; g = next) {
        next = g->next;
        cgroup_free(g->cg);
        free(g);
    }
    kill_memo_clear(&ex->early);
    kill_memo_clear(&ex->ended);
    workdirs_free(&ex->dirs);
    close(ex->wake_fd);
    pthread_mutex_destroy(&ex->mu);
    pthread_cond_destroy(&ex->idle);
    free(ex);
}

static void push(executor *ex, cmd *c)
{
    pthread_mutex_lock(&ex->mu);
    if (c->kind == CMD_SUBMIT) ex->active++;
    if (ex->tail) ex->tail->next = c;
    else ex->head = c;
    ex->tail = c;
    pthread_mutex_unlock(&ex->mu);
    uint64_t one = 1;
    if (write(ex->wake_fd, &one, sizeof one) < 0) { /* already signalled: the loop will look */ }
}

void executor_submit(executor *ex, exec_spec *s)
{
    cmd *c = xcalloc(1, sizeof *c);
    c->kind = CMD_SUBMIT;
    c->spec = s;
    push(ex, c);
}

static void push_stop(executor *ex, int kind, const char *job_id, int attempt,
                      exec_stop_cause cause, const char *reason)
{
    cmd *c = xcalloc(1, sizeof *c);
    c->kind = kind;
    c->job_id = job_id ? xstrdup(job_id) : NULL;
    c->attempt = attempt;
    c->cause = cause;
    c->reason = reason ? xstrdup(reason) : NULL;
    push(ex, c);
}

void executor_kill(executor *ex, const char *job_id, int attempt, exec_stop_cause cause,
                   const char *reason)
{
    push_stop(ex, CMD_KILL, job_id, attempt, cause, reason);
}

void executor_kill_all(executor *ex, exec_stop_cause cause, const char *reason)
{
    push_stop(ex, CMD_KILL_ALL, NULL, 0, cause, reason);
}

void executor_stop(executor *ex, const char *reason)
{
    push_stop(ex, CMD_STOP, NULL, 0, EXEC_STOP_SHUTDOWN, reason);
}

int executor_active(executor *ex)
{
    pthread_mutex_lock(&ex->mu);
    int n = ex->active;
    pthread_mutex_unlock(&ex->mu);
    return n;
}

int executor_wait_idle(executor *ex, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    if (timeout_ms >= 0) {
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
    }
    int rc = 0;
    pthread_mutex_lock(&ex->mu);
    while (ex->active > 0 && rc == 0) {
        if (timeout_ms < 0) pthread_cond_wait(&ex->idle, &ex->mu);
        else if (pthread_cond_timedwait(&ex->idle, &ex->mu, &until) != 0) rc = -1;
    }
    if (ex->active == 0) rc = 0;
    pthread_mutex_unlock(&ex->mu);
    return rc;
}

/* Ends an attempt: the callback, then the cleanup, so that the report is not kept waiting. */
static void report_end(executor *ex, const exec_spec *s, exec_result *r)
{
    kill_memo_note(&ex->ended, s->job_id, s->attempt, 0, NULL);
    r->ended_at = util_now_ms();
    ex->o.events->ended(ex->o.ctx, s, r);
    pthread_mutex_lock(&ex->mu);
    ex->active--;
    pthread_cond_broadcast(&ex->idle);
    pthread_mutex_unlock(&ex->mu);
}

static void end_attempt(executor *ex, exec_spec *s, exec_result *r)
{
    kill_memo_note(&ex->ended, s->job_id, s->attempt, 0, NULL);
    r->ended_at = util_now_ms();
    ex->o.events->ended(ex->o.ctx, s, r);
    exec_spec_free(s);
    pthread_mutex_lock(&ex->mu);
    ex->active--;
    pthread_cond_broadcast(&ex->idle);
    pthread_mutex_unlock(&ex->mu);
}

/* Gives the cgroup back to the pool, or keeps it to remove once its last processes are gone.
 * Returns 1 when it was empty. */
static int bury_cgroup(executor *ex, cgroup *cg)
{
    if (!cg) return 0;
    if (cgroup_release(ex->o.cgroups, cg) == 0) return 1;
    if (cgroup_remove(cg) == 0) {
        cgroup_free(cg);
        return 0;
    }
    grave *g = xcalloc(1, sizeof *g);
    g->cg = cg;
    g->give_up_at = util_mono_ms() + CGROUP_RETRY_MS;
    g->next = ex->graves;
    ex->graves = g;
    return 0;
}

/* The attempt's directory, and its own uid, go back; whatever still runs as the uid is killed
 * first (as a container ends with its first process), so that nothing writes into the
 * directory once it is judged fit for another attempt and taken from the uid. */
static void give_dir_and_uid(executor *ex, run *r, int clean)
{
    if (r->has_uid) job_uids_kill_all(r->uid);
    workdirs_give(&ex->dirs, r->work_dir, clean);
    if (r->has_uid) job_uids_give(ex->o.uids, r->uid);
    r->has_uid = 0;
}

/* A run that did not start: everything it took goes back, and its end is reported. */
static void abandon_run(executor *ex, run *r, exec_result *res)
{
    exec_spec *s = r->spec;
    if (r->reported) exec_spec_free(s);
    else end_attempt(ex, s, res);
    if (ex->o.backend->cleanup) ex->o.backend->cleanup(&r->a);
    give_dir_and_uid(ex, r, bury_cgroup(ex, r->a.cg));
    free(r->reason);
    free(r);
}

static void unlink_run(executor *ex, run *r)
{
    for (run **pp = &ex->runs; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            return;
        }
}

static void report_running(executor *ex, run *r)
{
    r->running = 1;
    r->started_at = util_now_ms();
    exec_started st = {.pid = r->a.pid, .at = r->started_at};
    if (r->a.cg) {
        st.cgroup_dir = cgroup_path(r->a.cg);
        st.cgroup_v2 = cgroup_host_mode(ex->o.cgroups) == CGROUP_V2;
        st.peak_known = cgroup_peak_known(r->a.cg);
    }
    ex->o.events->started(ex->o.ctx, r->spec, &st);
}

/* Asks the backend whether a run that started runs yet, and says so once it does. */
static void check_ready(executor *ex, run *r)
{
    if (!r->running && r->a.ready_fd >= 0 && ex->o.backend->ready(&r->a) == 1)
        report_running(ex, r);
}

/* Starts a run whose preparation (if any) is done. */
static void launch_run(executor *ex, run *r)
{
    char reason[1024];
    exec_spec *s = r->spec;
    if (ex->o.backend->start(&r->a, reason, sizeof reason) < 0) {
        unlink_run(ex, r);
        exec_result res = {.reason = reason};
        abandon_run(ex, r, &res);
        return;
    }
#ifdef SYS_pidfd_open
    r->pidfd = (int)syscall(SYS_pidfd_open, r->a.pid, 0);
#endif
    r->out = (linebuf){r->a.out_fd, 1, -1, {0}};
    r->err = (linebuf){r->a.err_fd, 2, -1, {0}};
    if (s->timeout_seconds > 0) r->deadline = util_mono_ms() + (int64_t)s->timeout_seconds * 1000;
    if (r->a.ready_fd < 0) report_running(ex, r);
}

typedef struct prep_job {
    executor *ex;
    run *r;
} prep_job;

static void *prepare_thread(void *arg)
{
    prep_job *pj = arg;
    char reason[1024];
    cmd *c = xcalloc(1, sizeof *c);
    c->kind = CMD_PREPARED;
    c->run = pj->r;
    if (pj->ex->o.backend->prepare(&pj->r->a, reason, sizeof reason) < 0) {
        c->failed = 1;
        c->reason = xstrdup(reason);
    }
    push(pj->ex, c);
    free(pj);
    return NULL;
}

/* The backend's preparation ended: the run starts, unless it failed or was stopped meanwhile. */
static void prepared(executor *ex, run *r, int failed, const char *reason)
{
    r->preparing = 0;
    if (!failed && r->cause == EXEC_STOP_NONE && !ex->stopping) {
        launch_run(ex, r);
        return;
    }
    unlink_run(ex, r);
    exec_result res = {0};
    res.cause = r->cause != EXEC_STOP_NONE ? r->cause : ex->stopping ? EXEC_STOP_SHUTDOWN
                                                                       : EXEC_STOP_NONE;
    res.reason = failed ? reason : r->reason ? r->reason
                                             : "the agent stopped before the attempt could start";
    abandon_run(ex, r, &res);
}

static void start_run(executor *ex, exec_spec *s)
{
    exec_result res = {0};
    char reason[1024], cg_err[800];
    if (ex->stopping) {
        res.cause = EXEC_STOP_SHUTDOWN;
        res.reason = "the agent stopped before the attempt could start";
        end_attempt(ex, s, &res);
        return;
    }
    char *early_reason;
    int early_cause;
    if (kill_memo_take(&ex->early, s->job_id, s->attempt, &early_cause, &early_reason)) {
        log_info("attempt %d of job %s was stopped before it came; it does not start",
                 s->attempt, s->job_id);
        res.cause = (exec_stop_cause)early_cause;
        res.reason = early_reason;
        end_attempt(ex, s, &res);
        free(early_reason);
        return;
    }
    for (run *r = ex->runs; r; r = r->next)
        if (r->spec->attempt == s->attempt && strcmp(r->spec->job_id, s->job_id) == 0) {
            log_warn("attempt %d of job %s is already running; ignoring the second assignment",
                     s->attempt, s->job_id);
            exec_spec_free(s);
            pthread_mutex_lock(&ex->mu);
            ex->active--;
            pthread_cond_broadcast(&ex->idle);
            pthread_mutex_unlock(&ex->mu);
            return;
        }
    run *r = xcalloc(1, sizeof *r);
    r->spec = s;
    r->a.spec = s;
    r->a.backend_ctx = ex->o.backend_ctx;
    r->a.ready_fd = -1;
    r->a.run_uid = ex->o.job_uid;
    r->a.run_gid = ex->o.job_gid;
    int uid_err = ex->o.uids && job_uids_take(ex->o.uids, &r->uid) < 0 ? errno : 0;
    if (ex->o.uids && !uid_err) {
        r->has_uid = 1;
        r->a.run_uid = (int)r->uid;
        r->a.own_uid = 1;
    }
    r->pidfd = r->out.fd = r->err.fd = -1;
    r->out.slot = r->err.slot = -1;
    int64_t limit = s->memory_mib > 0 ? s->memory_mib * 1024 * 1024 : 0;
    int dir_err;
    r->work_dir = workdirs_take(&ex->dirs, &dir_err);
    r->a.work_dir = r->work_dir;
    const char *fail = NULL;
    /* The attempt's directory is its user's alone. */
    if (!dir_err && r->a.run_uid >= 0 &&
        (chown(r->work_dir, (uid_t)r->a.run_uid, (gid_t)r->a.run_gid) < 0 ||
         chmod(r->work_dir, 0700) < 0))
        log_warn("cannot give %s to uid %d: %s", r->work_dir, r->a.run_uid, strerror(errno));
    /* mkdir's own error: a full disk is said to be one (what access() said after it was
     * "No such file or directory"). */
    if (uid_err) {
        snprintf(reason, sizeof reason, "CannotStartContainerError: no host uid for the attempt "
                 "(--job-uids): %s", uid_err == EAGAIN ? "every one of the range is taken by "
                 "the attempts running on this host" : strerror(uid_err));
        fail = reason;
    } else if (dir_err) {
        snprintf(reason, sizeof reason, "CannotStartContainerError: cannot create the working "
                 "directory %s: %s", r->work_dir, strerror(dir_err));
        fail = reason;
    } else if (ex->o.cgroups && cgroup_host_mode(ex->o.cgroups) != CGROUP_NONE &&
               !(r->a.cg = cgroup_acquire(ex->o.cgroups, limit, cg_err, sizeof cg_err))) {
        snprintf(reason, sizeof reason, "CannotStartContainerError: %s", cg_err);
        fail = reason;
    }
    if (fail) {
        res.reason = fail;
        abandon_run(ex, r, &res);
        return;
    }
    r->next = ex->runs;
    ex->runs = r;
    if (!ex->o.backend->prepare) {
        launch_run(ex, r);
        return;
    }
    r->preparing = 1;
    prep_job *pj = xcalloc(1, sizeof *pj);
    pj->ex = ex;
    pj->r = r;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int e = pthread_create(&t, &attr, prepare_thread, pj);
    pthread_attr_destroy(&attr);
    if (e != 0) {
        free(pj);
        snprintf(reason, sizeof reason, "CannotStartContainerError: cannot start a thread to "
                 "prepare the attempt: %s", strerror(e));
        prepared(ex, r, 1, reason);
    }
}

/* Whether the run's process has exited, reaped or not (its pidfd is readable once it has). */
static int has_exited(const run *r)
{
    if (r->reaped) return 1;
    struct pollfd p = {.fd = r->pidfd, .events = POLLIN};
    return r->pidfd >= 0 && poll(&p, 1, 0) == 1;
}

static void stop_run(executor *ex, run *r, exec_stop_cause cause, const char *reason)
{
    /* One that exited by itself before the order came is not stopped: its end is its own (a
     * multi-node worker that exited 0 as its main node did succeeded). */
    if (has_exited(r)) return;
    if (r->cause == EXEC_STOP_NONE) {
        r->cause = cause;
        r->reason = reason ? xstrdup(reason) : NULL;
    }
    if (r->preparing) {
        /* It ends now, without starting; what its preparation made is removed once that
         * returns (a pull may take until its deadline). */
        if (!r->reported) {
            exec_result res = {.cause = r->cause, .reason = r->reason};
            report_end(ex, r->spec, &res);
            r->reported = 1;
        }
        return;
    }
    if (r->kill_at) return; /* already on its way out */
    int grace = r->spec->kill_grace_seconds;
    if (grace <= 0) {
        ex->o.backend->kill(&r->a, SIGKILL);
        return;
    }
    ex->o.backend->kill(&r->a, SIGTERM);
    r->kill_at = util_mono_ms() + (int64_t)grace * 1000;
}

/* An empty line is no event: CloudWatch stores no empty message, and Docker's awslogs driver
 * (AWS Batch's) sends none. */
static void emit(executor *ex, run *r, linebuf *lb, const char *p, size_t n, int64_t at)
{
    if (n) ex->o.events->line(ex->o.ctx, r->spec, lb->source, at, p, n);
}

/* Emits the complete lines in lb, and cuts overlong ones at a character boundary. */
static void split_lines(executor *ex, run *r, linebuf *lb, int64_t at, int final)
{
    size_t start = 0;
    for (;;) {
        char *nl = memchr(lb->b.data + start, '\n', lb->b.len - start);
        size_t end = nl ? (size_t)(nl - lb->b.data) : lb->b.len;
        if (end - start > LINE_MAX_BYTES) {
            size_t cut = start + LINE_MAX_BYTES;
            for (int i = 0; i < 3 && (lb->b.data[cut] & 0xc0) == 0x80; i++) cut--;
            emit(ex, r, lb, lb->b.data + start, cut - start, at);
            start = cut;
            continue;
        }
        if (!nl) break;
        emit(ex, r, lb, lb->b.data + start, end - start, at);
        start = end + 1;
    }
    if (final && start < lb->b.len) {
        emit(ex, r, lb, lb->b.data + start, lb->b.len - start, at);
        start = lb->b.len;
    }
    memmove(lb->b.data, lb->b.data + start, lb->b.len - start);
    lb->b.len -= start;
}

static void close_stream(executor *ex, run *r, linebuf *lb)
{
    if (lb->fd < 0) return;
    if (lb->b.len) split_lines(ex, r, lb, util_now_ms(), 1);
    close(lb->fd);
    lb->fd = -1;
    buf_free(&lb->b);
}

static void read_stream(executor *ex, run *r, linebuf *lb)
{
    char chunk[READ_CHUNK];
    /* A few chunks per turn, so that one chatty job does not starve the others. */
    for (int i = 0; i < 4 && lb->fd >= 0; i++) {
        ssize_t n = read(lb->fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        if (n <= 0) {
            close_stream(ex, r, lb);
            return;
        }
        buf_append(&lb->b, chunk, (size_t)n);
        split_lines(ex, r, lb, util_now_ms(), 0);
    }
}

static void reaped_one(void *ctx, pid_t pid, int status, const struct rusage *ru)
{
    executor *ex = ctx;
    run *r = ex->runs;
    while (r && (r->reaped || r->preparing || r->a.pid != pid)) r = r->next;
    if (!r) return; /* an orphan the agent adopted as subreaper */
    {
        /* A container that ran and ended before its readiness was looked at still ran. */
        check_ready(ex, r);
        r->reaped = 1;
        r->status = status;
        /* Whole microseconds, then one division: the decimal rusage says, not a sum's noise. */
        long long us = ((long long)ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1000000 +
                       ru->ru_utime.tv_usec + ru->ru_stime.tv_usec;
        r->cpu_seconds = (double)us / 1e6;
        r->max_rss_bytes = (long long)ru->ru_maxrss * 1024;
        r->kill_at = 0;
        r->drain_until = util_mono_ms() + DRAIN_MS;
        if (r->pidfd >= 0) close(r->pidfd);
        r->pidfd = -1;
        /* The job is its main process, as a container is: what it leaves behind goes too. */
        ex->o.backend->kill(&r->a, SIGKILL);
        if (r->a.cg) r->oom = cgroup_oom_kills(r->a.cg) > 0;
    }
}

static void reap(executor *ex)
{
    reaper_collect(reaped_one, ex);
}

static void finish(executor *ex, run *r)
{
    exec_result res = {0};
    res.started = r->running;
    res.exited = WIFEXITED(r->status);
    res.exit_code = res.exited ? WEXITSTATUS(r->status) : 0;
    res.signal = WIFSIGNALED(r->status) ? WTERMSIG(r->status) : 0;
    res.oom = r->oom;
    res.cause = r->cause;
    res.reason = r->reason;
    res.started_at = r->started_at;
    if (r->running && r->reaped) {
        res.has_usage = 1;
        res.cpu_seconds = r->cpu_seconds;
        long long peak = r->a.cg ? cgroup_memory_peak(r->a.cg) : -1;
        res.max_memory_bytes = peak > 0 ? peak : r->max_rss_bytes;
    }
    char why[1024];
    if (ex->o.backend->examine) ex->o.backend->examine(&r->a, &res, why, sizeof why);
    exec_spec *s = r->spec;
    end_attempt(ex, s, &res);
    if (ex->o.backend->cleanup) ex->o.backend->cleanup(&r->a);
    /* Without a cgroup known to be empty, something of the job may still write into the
     * directory: only then may it serve another attempt. */
    give_dir_and_uid(ex, r, bury_cgroup(ex, r->a.cg));
    free(r->reason);
    free(r);
}

static void handle_commands(executor *ex)
{
    pthread_mutex_lock(&ex->mu);
    cmd *c = ex->head;
    ex->head = ex->tail = NULL;
    pthread_mutex_unlock(&ex->mu);
    while (c) {
        cmd *next = c->next;
        switch (c->kind) {
        case CMD_SUBMIT:
            start_run(ex, c->spec);
            c->spec = NULL;
            break;
        case CMD_KILL: {
            int found = 0;
            for (run *r = ex->runs; r; r = r->next)
                if (r->spec->attempt == c->attempt && strcmp(r->spec->job_id, c->job_id) == 0) {
                    stop_run(ex, r, c->cause, c->reason);
                    found = 1;
                }
            if (!found && !kill_memo_has(&ex->ended, c->job_id, c->attempt))
                kill_memo_note(&ex->early, c->job_id, c->attempt, c->cause, c->reason);
            break;
        }
        case CMD_PREPARED:
            prepared(ex, c->run, c->failed, c->reason);
            break;
        case CMD_STOP:
            ex->stopping = 1;
            /* fall through */
        case CMD_KILL_ALL:
            for (run *r = ex->runs; r; r = r->next) stop_run(ex, r, c->cause, c->reason);
            break;
        }
        free(c->job_id);
        free(c->reason);
        free(c);
        c = next;
    }
}

static int64_t earliest(int64_t a, int64_t b)
{
    return a == 0 ? b : b == 0 ? a : a < b ? a : b;
}

void executor_run(executor *ex)
{
    struct pollfd *pfd = NULL;
    size_t pfd_cap = 0;
    for (;;) {
        handle_commands(ex);
        int64_t now = util_mono_ms();
        /* Timers: the attempt's timeout, the end of the grace period, the end of draining. */
        /* Output waits in the pipes while the log queue is full; not once the executor stops,
         * whose attempts must end, and whose lines the final flush ships or keeps. */
        int backlog = !ex->stopping && ex->o.events->backlog && ex->o.events->backlog(ex->o.ctx);
        int64_t next = 0;
        for (run *r = ex->runs; r; r = r->next) {
            if (r->preparing) continue;
            if (!r->reaped && r->deadline && now >= r->deadline) {
                r->deadline = 0;
                stop_run(ex, r, EXEC_STOP_TIMEOUT, NULL);
            }
            if (!r->reaped && r->kill_at && now >= r->kill_at) {
                r->kill_at = 0;
                ex->o.backend->kill(&r->a, SIGKILL);
            }
            if (r->reaped && backlog) r->drain_until = now + DRAIN_MS;
            if (r->reaped && now >= r->drain_until) {
                close_stream(ex, r, &r->out);
                close_stream(ex, r, &r->err);
            }
            next = earliest(next, r->reaped ? r->drain_until : earliest(r->deadline, r->kill_at));
            /* Without a pidfd (Linux before 5.3) the loop looks for exits on a short tick. */
            if (!r->reaped && r->pidfd < 0) next = earliest(next, now + 100);
        }
        for (run **pp = &ex->runs; *pp;) {
            run *r = *pp;
            if (r->reaped && r->out.fd < 0 && r->err.fd < 0) {
                *pp = r->next;
                finish(ex, r);
            } else
                pp = &r->next;
        }
        for (grave **gp = &ex->graves; *gp;) {
            grave *g = *gp;
            if (cgroup_remove(g->cg) == 0 || now >= g->give_up_at) {
                if (now >= g->give_up_at)
                    log_warn("cannot remove the cgroup %s: processes remain in it",
                             cgroup_path(g->cg));
                *gp = g->next;
                cgroup_free(g->cg);
                free(g);
            } else {
                next = earliest(next, now + 50);
                gp = &g->next;
            }
        }
        if (backlog) next = earliest(next, now + 20);
        if (ex->stopping && !ex->runs && executor_active(ex) == 0) break;

        size_t n = 0, need = 1;
        for (run *r = ex->runs; r; r = r->next) need += 4;
        if (need > pfd_cap) {
            pfd_cap = need * 2;
            pfd = xrealloc(pfd, pfd_cap * sizeof *pfd);
        }
        pfd[n++] = (struct pollfd){ex->wake_fd, POLLIN, 0};
        for (run *r = ex->runs; r; r = r->next) {
            if (r->pidfd >= 0) pfd[n++] = (struct pollfd){r->pidfd, POLLIN, 0};
            r->ready_slot = -1;
            if (!r->running && !r->reaped && r->a.ready_fd >= 0) {
                r->ready_slot = (int)n;
                pfd[n++] = (struct pollfd){r->a.ready_fd, POLLIN, 0};
            }
            linebuf *streams[] = {&r->out, &r->err};
            for (int i = 0; i < 2; i++) {
                streams[i]->slot = -1;
                if (backlog || streams[i]->fd < 0) continue;
                streams[i]->slot = (int)n;
                pfd[n++] = (struct pollfd){streams[i]->fd, POLLIN, 0};
            }
        }
        int timeout = next == 0 ? -1 : next <= now ? 0 : (int)(next - now);
        int ready = poll(pfd, n, timeout);
        if (ready < 0 && errno != EINTR) {
            log_error("the supervisor's poll failed: %s", strerror(errno));
            usleep(10000);
        }
        uint64_t v;
        if (read(ex->wake_fd, &v, sizeof v) < 0) { /* nothing queued */ }
        for (run *r = ex->runs; r && ready > 0; r = r->next) {
            if (r->ready_slot >= 0 && pfd[r->ready_slot].revents) check_ready(ex, r);
            if (r->out.slot >= 0 && pfd[r->out.slot].revents) read_stream(ex, r, &r->out);
            if (r->err.slot >= 0 && pfd[r->err.slot].revents) read_stream(ex, r, &r->err);
        }
        reap(ex);
    }
    free(pfd);
    for (grave *g = ex->graves, *gnext; g; g = gnext) {
        gnext = g->next;
        cgroup_remove(g->cg);
        cgroup_free(g->cg);
        free(g);
    }
    ex->graves = NULL;
    workdirs_drop_idle(&ex->dirs);
}
