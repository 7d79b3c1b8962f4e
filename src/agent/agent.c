/* agent — `barge agent`: options, the protocol client and the threads that drive it.
 *
 * Four threads, each with one job:
 *   main        parses options, starts the others, waits for a stop (SIGTERM, SIGINT, or a
 *               "shutdown" from the server) and stops everything in order;
 *   supervisor  the executor's loop: starts attempts, reads their output, enforces limits;
 *   poller      registers, then keeps one waiting exchange open and hands what comes back
 *               (assignments, kill orders) to the supervisor;
 *   sender      ships log lines and reports on a second connection, so that a report never
 *               waits for a poll to return.  Logs go before reports: the lines an attempt wrote
 *               reach the server before the report that it ended, so a finished job's log is
 *               complete when a client sees it finished.
 * They share one mutex (the agent's), which guards the queues and the registration. */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/catalog.h"
#include "common/dict.h"
#include "common/httpc.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "agent/cgroup.h"
#include "agent/executor.h"

/* Logs are shipped when FLUSH_LINES lines or BATCH_BYTES are waiting, or when the oldest has
 * waited FLUSH_MS; one request carries up to BATCH_LINES, so that a backlog drains in few round
 * trips.  Past QUEUE_CAP bytes the supervisor stops reading jobs' output until the queue drains. */
#define LOG_FLUSH_LINES 500
#define LOG_BATCH_LINES 2000
/* The server takes bodies up to 4 MiB, and JSON escapes can make text up to six times larger. */
#define LOG_BATCH_BYTES (512 * 1024)
#define LOG_FLUSH_MS 200
#define LOG_QUEUE_CAP (16 * 1024 * 1024)
#define DEFAULT_GRACE_SECONDS 10
/* How long a stopping agent keeps trying to deliver its last reports and logs. */
#define FINAL_FLUSH_MS 10000
#define OOM_REASON "OutOfMemoryError: Container killed due to memory usage"

typedef struct report {
    struct report *next;
    json_t *body;
    unsigned gen;  /* the registration it belongs to */
    char *end_key; /* a report that an attempt ended: the attempt's held key */
} report;

/* An attempt this instance holds: from the moment its assignment is taken until the server has
 * answered the exchange that reported its end.  Every exchange lists them ("holding"), so that
 * the server can tell an assignment lost on the way from one still running. */
typedef struct held {
    char *key; /* "ATTEMPT JOBID" */
    char *job_id;
    int attempt;
    unsigned gen;
    int carried; /* only while a body is built: its end report goes in that body */
} held;

typedef struct logev {
    struct logev *next;
    char *stream, *text;
    size_t len;
    int64_t at, queued; /* epoch ms (the event's time); monotonic ms */
} logev;

/* A connection to the server.  Each belongs to one thread (the poller's, the sender's); the
 * agent owns them, so that other threads may wake them at any time (wake_connections). */
typedef struct http {
    httpc *c;
    struct agent *ag;
    unsigned gen;
    int poller;    /* this connection belongs to the poller */
    int watch_gen; /* abandon the request when registration gen ends (waiting exchanges) */
} http;

typedef struct agent {
    /* Options, fixed after start-up. */
    const char *server, *ce, *instance_type, *token;
    char *work_dir;
    int own_work_dir, exit_with_parent;
    int vcpus, gpus;
    long long memory_mib;
    char hostname[256];
    cgroup_host *cg;
    executor *ex;
    pthread_t main_thread;

    pthread_mutex_t mu;
    pthread_cond_t cond; /* any change below */
    /* The registration.  gen counts registrations; a report belongs to the one it was made in. */
    char *iid;
    atomic_uint gen;
    atomic_int registered, lost;
    int poll_s, heartbeat_s;
    /* Stopping. */
    atomic_int stopping, final_flush, sender_quit;
    int exit_code, sender_done;
    char *stop_why;
    http poll_conn, send_conn;
    /* Queues for the sender. */
    report *rhead, *rtail;
    logev *lhead, *ltail;
    size_t nlogs, log_bytes;
    int64_t last_exchange;
    dict held; /* key -> held */
} agent;

/* ---- Small helpers ------------------------------------------------------------------------ */

static void wake_connections(agent *ag);

static int64_t mono(void)
{
    return util_mono_ms();
}

/* Waits on the agent's condition until deadline (monotonic ms); mu must be held. */
static void wait_until(agent *ag, int64_t deadline)
{
    struct timespec ts = {(time_t)(deadline / 1000), (long)(deadline % 1000) * 1000000};
    pthread_cond_timedwait(&ag->cond, &ag->mu, &ts);
}

/* Sleeps ms unless *flag becomes set (the poller watches stopping, the sender sender_quit:
 * a stopping agent still delivers its reports); returns the flag. */
static int nap(agent *ag, int64_t ms, atomic_int *flag)
{
    int64_t deadline = mono() + ms;
    pthread_mutex_lock(&ag->mu);
    while (!*flag && mono() < deadline) wait_until(ag, deadline);
    pthread_mutex_unlock(&ag->mu);
    return *flag;
}

static void request_stop(agent *ag, int code, const char *why)
{
    pthread_mutex_lock(&ag->mu);
    if (!ag->stopping) {
        ag->stopping = 1;
        ag->exit_code = code;
        ag->stop_why = xstrdup(why);
    }
    pthread_cond_broadcast(&ag->cond);
    pthread_mutex_unlock(&ag->mu);
    wake_connections(ag);
    pthread_kill(ag->main_thread, SIGUSR1);
}

/* The server no longer knows the instance: drop the registration once, whoever noticed. */
static void registration_lost(agent *ag, unsigned gen)
{
    pthread_mutex_lock(&ag->mu);
    if (ag->registered && ag->gen == gen) {
        ag->registered = 0;
        ag->lost = 1;
        log_warn("the server no longer knows instance %s (it may have restarted); stopping what "
                 "runs and registering again", ag->iid);
    }
    pthread_cond_broadcast(&ag->cond);
    pthread_mutex_unlock(&ag->mu);
    wake_connections(ag);
}

/* ---- HTTP --------------------------------------------------------------------------------- */

/* Whether the request in flight should be abandoned: the agent is stopping (the poller's), the
 * last delivery attempt is over (the sender's), or the registration it belongs to ended. */
static int should_abandon(void *ctx)
{
    http *h = ctx;
    agent *ag = h->ag;
    if (ag->sender_quit) return 1;
    if (h->poller && ag->stopping) return 1;
    return h->watch_gen && (!ag->registered || ag->gen != h->gen);
}

/* Interrupts both connections' waits, so that they look at should_abandon at once. */
static void wake_connections(agent *ag)
{
    httpc_wake(ag->poll_conn.c);
    httpc_wake(ag->send_conn.c);
}

static void http_init(http *h, agent *ag, int poller)
{
    memset(h, 0, sizeof *h);
    h->ag = ag;
    h->poller = poller;
    /* Interruptible, so that a stop does not wait for a long poll to end. */
    httpc_options o = {.connect_timeout_ms = 5000, .tcp_keepalive = 1, .abandon = should_abandon,
                       .ctx = h};
    h->c = httpc_new(&o);
    BARGE_ASSERT(h->c != NULL);
    httpc_header(h->c, "Content-Type: application/json");
    if (ag->token) httpc_header(h->c, "Authorization: Bearer %s", ag->token);
}

static void http_cleanup(http *h)
{
    httpc_free(h->c);
    h->c = NULL;
}

enum { HTTP_UNREACHABLE = 0, HTTP_ABORTED = -1 };

/* POSTs body (taken) to path.  Returns the HTTP status, HTTP_UNREACHABLE with err set, or
 * HTTP_ABORTED.  *answer receives the parsed JSON answer, or NULL. */
static long post(http *h, const char *path, json_t *body, long timeout_s, json_t **answer,
                 char *err, size_t errlen)
{
    *answer = NULL;
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char *url = xasprintf("%s%s", h->ag->server, path);
    httpc_rc rc = httpc_post(h->c, url, text, text ? strlen(text) : 0, timeout_s * 1000);
    free(url);
    free(text);
    if (rc == HTTPC_ABORTED) return HTTP_ABORTED;
    if (rc != HTTPC_OK) {
        snprintf(err, errlen, "%s", httpc_error(h->c));
        return HTTP_UNREACHABLE;
    }
    long status = httpc_status(h->c);
    size_t len;
    const char *resp = httpc_body(h->c, &len);
    if (len) *answer = json_loadb(resp, len, 0, NULL);
    const char *msg = json_string_value(json_object_get(*answer, "message"));
    snprintf(err, errlen, "HTTP %ld%s%s", status, msg ? ": " : "", msg ? msg : "");
    return status;
}

static int unknown_instance(long status, json_t *answer)
{
    const char *type = json_string_value(json_object_get(answer, "__type"));
    return status == 404 && type && strcmp(type, "UnknownInstanceException") == 0;
}

/* ---- What the instance holds ------------------------------------------------------------- */

static char *held_key(const char *job_id, int attempt)
{
    return xasprintf("%d %s", attempt, job_id);
}

static void held_free(held *h)
{
    free(h->key);
    free(h->job_id);
    free(h);
}

/* Takes hold of an attempt for registration gen: 1, or 0 when it is held already (the server
 * sent its assignment again), or -1 when gen has ended. */
static int hold(agent *ag, const char *job_id, int attempt, unsigned gen)
{
    char *key = held_key(job_id, attempt);
    pthread_mutex_lock(&ag->mu);
    int rc = ag->gen != gen || !ag->registered ? -1 : dict_get(&ag->held, key) ? 0 : 1;
    if (rc != 1) {
        pthread_mutex_unlock(&ag->mu);
        free(key);
        return rc;
    }
    held *h = xcalloc(1, sizeof *h);
    h->key = key;
    h->job_id = xstrdup(job_id);
    h->attempt = attempt;
    h->gen = gen;
    dict_put(&ag->held, h->key, h);
    pthread_mutex_unlock(&ag->mu);
    return 1;
}

/* The server has the end report of registration gen's attempt key.  mu held. */
static void release_held(agent *ag, const char *key, unsigned gen)
{
    held *h = dict_get(&ag->held, key);
    if (!h || h->gen != gen) return;
    dict_del(&ag->held, key);
    held_free(h);
}

/* A new registration starts afresh: nothing held for an earlier one means anything.  mu held. */
static void release_all_held(agent *ag)
{
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&ag->held, &i, &k, &v)) {
        dict_del(&ag->held, k);
        held_free(v);
    }
}

/* The exchange's "holding" member: registration gen's attempts, but those whose end report the
 * same body carries.  mu held. */
static json_t *holding(agent *ag, unsigned gen)
{
    json_t *list = json_array();
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&ag->held, &i, &k, &v)) {
        held *h = v;
        if (h->gen != gen || h->carried) continue;
        json_array_append_new(list, json_pack("{s:s, s:i}", "jobId", h->job_id, "attempt",
                                              h->attempt));
    }
    return list;
}

/* ---- Queues ------------------------------------------------------------------------------- */

/* Queues a report for the sender; end is the attempt whose end it reports, or NULL. */
static void queue_report(agent *ag, json_t *body, const exec_spec *end)
{
    report *r = xcalloc(1, sizeof *r);
    r->body = body;
    r->end_key = end ? held_key(end->job_id, end->attempt) : NULL;
    pthread_mutex_lock(&ag->mu);
    r->gen = ag->gen;
    if (ag->rtail) ag->rtail->next = r;
    else ag->rhead = r;
    ag->rtail = r;
    pthread_cond_broadcast(&ag->cond);
    pthread_mutex_unlock(&ag->mu);
}

/* An attempt's start and end are debug lines: they cost the agent a write each, the job's own
 * description holds the same facts, and for the local provider's agents this log is the
 * server's. */
static void on_started(void *ctx, const exec_spec *s, pid_t pid, int64_t at)
{
    log_debug("attempt %d of job %s started (pid %ld)", s->attempt, s->job_id, (long)pid);
    queue_report(ctx, json_pack("{s:s, s:i, s:s, s:I, s:i}", "jobId", s->job_id, "attempt",
                                s->attempt, "event", "RUNNING", "at", (json_int_t)at, "pid",
                                (int)pid), NULL);
}

static void on_ended(void *ctx, const exec_spec *s, const exec_result *r)
{
    json_t *j;
    if (!r->started && r->cause != EXEC_STOP_SHUTDOWN) {
        log_debug("attempt %d of job %s failed to start: %s", s->attempt, s->job_id, r->reason);
        j = json_pack("{s:s, s:i, s:s, s:I, s:s}", "jobId", s->job_id, "attempt", s->attempt,
                      "event", "FAILED_TO_START", "at", (json_int_t)r->ended_at, "reason",
                      r->reason ? r->reason : "CannotStartContainerError");
    } else {
        j = json_pack("{s:s, s:i, s:s, s:I, s:i, s:b, s:b, s:b}", "jobId", s->job_id, "attempt",
                      s->attempt, "event", "EXITED", "at", (json_int_t)r->ended_at, "signal",
                      r->signal, "oom", r->oom, "timedOut", r->cause == EXEC_STOP_TIMEOUT,
                      "killed", r->cause == EXEC_STOP_KILLED);
        if (r->started && r->exited) json_object_set_new(j, "exitCode", json_integer(r->exit_code));
        if (r->cause == EXEC_STOP_SHUTDOWN) json_object_set_new(j, "agentStopped", json_true());
        const char *reason = r->oom ? OOM_REASON : r->reason;
        if (reason) json_object_set_new(j, "reason", json_string(reason));
        if (r->exited)
            log_debug("attempt %d of job %s exited with status %d", s->attempt, s->job_id,
                     r->exit_code);
        else
            log_debug("attempt %d of job %s ended by signal %d%s%s", s->attempt, s->job_id,
                     r->signal, r->oom ? " (out of memory)" : "",
                     r->cause == EXEC_STOP_TIMEOUT ? " (timed out)" : "");
    }
    queue_report(ctx, j, s);
}

static void on_line(void *ctx, const exec_spec *s, int source, int64_t at, const char *text,
                    size_t len)
{
    agent *ag = ctx;
    logev *e = xcalloc(1, sizeof *e);
    e->stream = xstrdup(s->log_stream ? s->log_stream : s->job_id);
    e->text = xstrndup(text, len);
    e->len = len;
    /* JSON strings must be UTF-8: scrub each NUL-separated piece (NULs themselves are kept). */
    for (size_t i = 0; i < len; i += strlen(e->text + i) + 1) util_utf8_scrub(e->text + i);
    e->at = at;
    e->queued = mono();
    pthread_mutex_lock(&ag->mu);
    if (ag->ltail) ag->ltail->next = e;
    else ag->lhead = e;
    ag->ltail = e;
    ag->nlogs++;
    ag->log_bytes += len + 64;
    /* The sender needs waking only for a first line (to start the flush timer) or a full batch. */
    if (ag->nlogs == 1 || ag->nlogs == LOG_FLUSH_LINES || ag->log_bytes >= LOG_BATCH_BYTES)
        pthread_cond_broadcast(&ag->cond);
    pthread_mutex_unlock(&ag->mu);
}

static int on_backlog(void *ctx)
{
    agent *ag = ctx;
    pthread_mutex_lock(&ag->mu);
    int full = ag->log_bytes > LOG_QUEUE_CAP;
    pthread_mutex_unlock(&ag->mu);
    return full;
}

/* ---- Assignments -------------------------------------------------------------------------- */

static int env_has(char **envp, size_t n, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (strncmp(envp[i], name, len) == 0 && envp[i][len] == '=') return 1;
    return 0;
}

static void take_assignment(agent *ag, json_t *a, unsigned gen)
{
    const char *job = json_string_value(json_object_get(a, "jobId"));
    json_t *att = json_object_get(a, "attempt");
    if (!job || !json_is_integer(att) || json_integer_value(att) < 1 ||
        json_integer_value(att) > 1000000) {
        log_warn("ignoring an assignment without a jobId and an attempt number");
        return;
    }
    int held_rc = hold(ag, job, (int)json_integer_value(att), gen);
    if (held_rc == 0)
        log_info("attempt %d of job %s is held already; ignoring its assignment",
                 (int)json_integer_value(att), job);
    if (held_rc != 1) return;
    exec_spec *s = xcalloc(1, sizeof *s);
    s->job_id = xstrdup(job);
    s->attempt = (int)json_integer_value(att);
    const char *stream = json_string_value(json_object_get(a, "logStreamName"));
    s->log_stream = xstrdup(stream ? stream : job);
    json_t *cmd = json_object_get(a, "command");
    size_t n = json_array_size(cmd);
    s->argv = xcalloc(n + 1, sizeof *s->argv);
    for (size_t i = 0; i < n; i++) {
        const char *arg = json_string_value(json_array_get(cmd, i));
        if (!arg) {
            queue_report(ag, json_pack("{s:s, s:i, s:s, s:I, s:s}", "jobId", job, "attempt",
                                       s->attempt, "event", "FAILED_TO_START", "at",
                                       (json_int_t)util_now_ms(), "reason",
                                       "CannotStartContainerError: the command is not a list "
                                       "of strings"), s);
            exec_spec_free(s);
            return;
        }
        s->argv[i] = xstrdup(arg);
    }
    json_t *env = json_object_get(a, "environment");
    s->envp = xcalloc(json_object_size(env) + 3, sizeof *s->envp);
    size_t ne = 0;
    const char *key;
    json_t *val;
    json_object_foreach(env, key, val)
    {
        if (!json_is_string(val) || !*key || strchr(key, '=')) {
            log_warn("job %s: ignoring the environment variable '%s' (its name or value is not "
                     "usable)", job, key);
            continue;
        }
        s->envp[ne++] = xasprintf("%s=%s", key, json_string_value(val));
    }
    /* Jobs expect a usable PATH and HOME, as a container image provides them. */
    const char *path = getenv("PATH"), *home = getenv("HOME");
    if (!env_has(s->envp, ne, "PATH"))
        s->envp[ne++] = xasprintf("PATH=%s", path ? path : "/usr/local/bin:/usr/bin:/bin");
    if (!env_has(s->envp, ne, "HOME")) s->envp[ne++] = xasprintf("HOME=%s", home ? home : "/");
    s->memory_mib = (int64_t)json_number_value(json_object_get(a, "memoryMiB"));
    s->timeout_seconds = (int)json_number_value(json_object_get(a, "timeoutSeconds"));
    json_t *grace = json_object_get(a, "killGraceSeconds");
    s->kill_grace_seconds = json_is_number(grace) ? (int)json_number_value(grace)
                                                  : DEFAULT_GRACE_SECONDS;
    log_debug("assigned attempt %d of job %s", s->attempt, s->job_id);
    executor_submit(ag->ex, s);
}

/* What an exchange of registration gen brings back: assignments, kill orders, and perhaps a
 * shutdown.  Work for an ended registration is not taken: the server has forgotten it. */
static void handle_answer(agent *ag, json_t *answer, unsigned gen)
{
    if (ag->stopping || !ag->registered || ag->gen != gen) return;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(answer, "assign"), i, v) take_assignment(ag, v, gen);
    json_array_foreach(json_object_get(answer, "kill"), i, v)
    {
        const char *job = json_string_value(json_object_get(v, "jobId"));
        json_t *att = json_object_get(v, "attempt");
        if (!job || !json_is_integer(att)) continue;
        const char *reason = json_string_value(json_object_get(v, "reason"));
        log_info("the server asks to stop attempt %d of job %s%s%s",
                 (int)json_integer_value(att), job, reason ? ": " : "", reason ? reason : "");
        executor_kill(ag->ex, job, (int)json_integer_value(att), EXEC_STOP_KILLED,
                      reason ? reason : "stopped at the server's request");
    }
    if (json_is_true(json_object_get(answer, "shutdown")))
        request_stop(ag, 0, "the server asked this instance to shut down");
}

/* ---- Registration and the poller ---------------------------------------------------------- */

static json_t *register_body(agent *ag)
{
    json_t *b = json_pack("{s:s, s:i, s:I, s:i, s:s, s:s, s:s, s:s}", "computeEnvironment",
                          ag->ce, "vcpus", ag->vcpus, "memoryMiB", (json_int_t)ag->memory_mib,
                          "gpus", ag->gpus, "hostname", ag->hostname, "executor",
                          exec_process_backend.name, "cgroups",
                          cgroup_mode_name(cgroup_host_mode(ag->cg)), "cgroupsNote",
                          cgroup_host_note(ag->cg));
    pthread_mutex_lock(&ag->mu);
    if (ag->iid) json_object_set_new(b, "instanceId", json_string(ag->iid));
    pthread_mutex_unlock(&ag->mu);
    if (ag->instance_type) json_object_set_new(b, "instanceType", json_string(ag->instance_type));
    return b;
}

/* Registers, retrying while the server cannot be reached.  0, or -1 when the agent must stop. */
static int do_register(agent *ag, http *h)
{
    int64_t backoff = 250, last_note = 0;
    int failures = 0;
    for (;;) {
        if (ag->stopping) return -1;
        json_t *answer;
        char err[512];
        long status = post(h, "/barge/v1/agent/register", register_body(ag), 15, &answer, err,
                           sizeof err);
        const char *iid = json_string_value(json_object_get(answer, "instanceId"));
        if (status == 200 && iid) {
            pthread_mutex_lock(&ag->mu);
            free(ag->iid);
            ag->iid = xstrdup(iid);
            json_t *v;
            if (json_is_integer(v = json_object_get(answer, "pollSeconds")))
                ag->poll_s = (int)json_integer_value(v);
            if (json_is_integer(v = json_object_get(answer, "heartbeatSeconds")))
                ag->heartbeat_s = (int)json_integer_value(v);
            if (ag->poll_s < 1) ag->poll_s = 20;
            if (ag->heartbeat_s < 1) ag->heartbeat_s = 5;
            release_all_held(ag);
            ag->gen++;
            ag->registered = 1;
            ag->lost = 0;
            ag->last_exchange = mono();
            pthread_cond_broadcast(&ag->cond);
            pthread_mutex_unlock(&ag->mu);
            log_info("registered with %s as instance %s of compute environment %s", ag->server,
                     iid, ag->ce);
            json_decref(answer);
            return 0;
        }
        json_decref(answer);
        if (status >= 400 && status < 500 && status != 429) {
            /* The server understood and refused (unknown compute environment, bad token):
             * retrying would not change its mind. */
            char *why = xasprintf("the server at %s refused to register this instance: %s",
                                  ag->server, err);
            log_error("%s", why);
            request_stop(ag, 1, why);
            free(why);
            return -1;
        }
        if (status == 200) snprintf(err, sizeof err, "the answer has no instanceId");
        if (status != HTTP_ABORTED && (failures++ == 0 || mono() - last_note >= 30000)) {
            log_warn("cannot register with the barge server at %s (%s); retrying until it "
                     "answers", ag->server, err);
            last_note = mono();
        }
        if (nap(ag, backoff, &ag->stopping)) return -1;
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
    }
}

static void *poller_main(void *arg)
{
    agent *ag = arg;
    http *h = &ag->poll_conn;
    int64_t backoff = 250, last_note = 0;
    while (!ag->stopping) {
        if (!ag->registered) {
            if (ag->lost) {
                /* A new registration means a fresh instance: nothing of the old one runs on. */
                while (!ag->stopping && executor_active(ag->ex) > 0) {
                    executor_kill_all(ag->ex, EXEC_STOP_SHUTDOWN,
                                      "the server no longer knew this instance");
                    executor_wait_idle(ag->ex, 500);
                }
            }
            if (do_register(ag, h) < 0) break;
            continue;
        }
        pthread_mutex_lock(&ag->mu);
        h->gen = ag->gen;
        json_t *body = json_pack("{s:s, s:b, s:[], s:o}", "instanceId", ag->iid, "wait", 1,
                                 "reports", "holding", holding(ag, h->gen));
        long timeout = ag->poll_s + 15;
        pthread_mutex_unlock(&ag->mu);
        json_t *answer;
        char err[512];
        h->watch_gen = 1;
        long status = post(h, "/barge/v1/agent/exchange", body, timeout, &answer, err,
                           sizeof err);
        h->watch_gen = 0;
        if (status == 200) {
            backoff = 250;
            handle_answer(ag, answer, h->gen);
        } else if (unknown_instance(status, answer)) {
            registration_lost(ag, h->gen);
        } else if (status != HTTP_ABORTED) {
            if (mono() - last_note >= 30000) {
                log_warn("waiting for work from %s failed (%s); retrying", ag->server, err);
                last_note = mono();
            }
            nap(ag, backoff, &ag->stopping);
            backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
        }
        json_decref(answer);
    }
    return NULL;
}

/* ---- The sender --------------------------------------------------------------------------- */

/* Ships the oldest batch of log lines.  1 when shipped (or dropped as refused) with their count
 * in *sent, 0 when the server could not take them (try again later), -1 when the registration
 * is gone. */
static int send_logs(agent *ag, http *h, const char *iid, size_t *sent)
{
    *sent = 0;
    pthread_mutex_lock(&ag->mu);
    size_t n = 0, bytes = 0;
    logev *last = NULL;
    for (logev *e = ag->lhead;
         e && n < LOG_BATCH_LINES && (n == 0 || bytes + e->len + 64 <= LOG_BATCH_BYTES);
         e = e->next) {
        n++;
        bytes += e->len + 64;
        last = e;
    }
    logev *first = ag->lhead;
    pthread_mutex_unlock(&ag->mu);
    if (n == 0) return 1;
    /* Only the sender removes lines, so the first n stay put while the lock is released. */
    json_t *streams = json_array(), *index = json_object();
    for (logev *e = first;; e = e->next) {
        json_t *events = json_object_get(index, e->stream);
        if (!events) {
            events = json_array();
            json_array_append_new(streams, json_pack("{s:s, s:o}", "logStreamName", e->stream,
                                                     "events", events));
            json_object_set(index, e->stream, events);
        }
        json_array_append_new(events, json_pack("{s:I, s:s%}", "timestamp", (json_int_t)e->at,
                                                "message", e->text, e->len));
        if (e == last) break;
    }
    json_decref(index);
    json_t *answer;
    char err[512];
    unsigned gen = h->gen;
    long status = post(h, "/barge/v1/agent/logs",
                       json_pack("{s:s, s:o}", "instanceId", iid, "streams", streams), 30, &answer,
                       err, sizeof err);
    int unknown = unknown_instance(status, answer);
    json_decref(answer);
    if (unknown) {
        registration_lost(ag, gen);
        return -1;
    }
    if (status == HTTP_UNREACHABLE || status == HTTP_ABORTED || status >= 500 || status == 429) {
        if (status != HTTP_ABORTED)
            log_warn("cannot ship logs to %s (%s); retrying", ag->server, err);
        return 0;
    }
    if (status != 200)
        log_warn("the server refused %zu log lines (%s); they are dropped", n, err);
    pthread_mutex_lock(&ag->mu);
    for (size_t i = 0; i < n; i++) {
        logev *e = ag->lhead;
        ag->lhead = e->next;
        ag->nlogs--;
        ag->log_bytes -= e->len + 64;
        free(e->stream);
        free(e->text);
        free(e);
    }
    if (!ag->lhead) ag->ltail = NULL;
    pthread_cond_broadcast(&ag->cond);
    pthread_mutex_unlock(&ag->mu);
    *sent = n;
    return 1;
}

static void requeue_reports(agent *ag, report *list)
{
    if (!list) return;
    report *tail = list;
    while (tail->next) tail = tail->next;
    pthread_mutex_lock(&ag->mu);
    tail->next = ag->rhead;
    ag->rhead = list;
    if (!ag->rtail) ag->rtail = tail;
    pthread_mutex_unlock(&ag->mu);
}

static void free_reports(report *r)
{
    while (r) {
        report *next = r->next;
        json_decref(r->body);
        free(r->end_key);
        free(r);
        r = next;
    }
}

/* The "holding" member of a body that carries the reports list: an attempt whose end report
 * is in it is no longer held as far as the server is concerned.  mu held. */
static json_t *holding_without(agent *ag, report *list, unsigned gen)
{
    for (report *r = list; r; r = r->next) {
        held *h = r->end_key ? dict_get(&ag->held, r->end_key) : NULL;
        if (h) h->carried = 1;
    }
    json_t *out = holding(ag, gen);
    for (report *r = list; r; r = r->next) {
        held *h = r->end_key ? dict_get(&ag->held, r->end_key) : NULL;
        if (h) h->carried = 0;
    }
    return out;
}

/* The server has taken (or refused for good) the reports of list: the attempts whose end they
 * report are held no more. */
static void delivered(agent *ag, report *list)
{
    pthread_mutex_lock(&ag->mu);
    for (report *r = list; r; r = r->next)
        if (r->end_key) release_held(ag, r->end_key, r->gen);
    pthread_mutex_unlock(&ag->mu);
    free_reports(list);
}

/* Waits until there is something to send; returns 0 when the sender should quit.  mu held. */
static int sender_wait(agent *ag, int *logs_due, int *hb_due)
{
    for (;;) {
        if (ag->sender_quit) return 0;
        int final = ag->final_flush;
        if (!ag->registered) {
            if (final) return 0; /* nowhere to deliver to any more */
            pthread_cond_wait(&ag->cond, &ag->mu);
            continue;
        }
        int64_t now = mono(), wake = ag->last_exchange + (int64_t)ag->heartbeat_s * 1000;
        *logs_due = ag->nlogs >= LOG_FLUSH_LINES || ag->log_bytes >= LOG_BATCH_BYTES ||
                    (ag->nlogs && (final || ag->rhead || now >= ag->lhead->queued + LOG_FLUSH_MS));
        *hb_due = !final && now >= wake;
        if (ag->rhead || *logs_due || *hb_due) return 1;
        if (final) return 0; /* everything is delivered */
        if (ag->nlogs && ag->lhead->queued + LOG_FLUSH_MS < wake)
            wake = ag->lhead->queued + LOG_FLUSH_MS;
        wait_until(ag, wake);
    }
}

static void *sender_main(void *arg)
{
    agent *ag = arg;
    http *h = &ag->send_conn;
    int64_t backoff = 250;
    pthread_mutex_lock(&ag->mu);
    for (;;) {
        int logs_due = 0, hb_due = 0;
        if (!sender_wait(ag, &logs_due, &hb_due)) break;
        /* Take the reports first, then ship every line queued before them. */
        unsigned gen = ag->gen;
        char *iid = xstrdup(ag->iid);
        report *mine = NULL, **tailp = &mine, *stale = NULL;
        for (report *r = ag->rhead, *next; r; r = next) {
            next = r->next;
            r->next = NULL;
            if (r->gen == gen) {
                *tailp = r;
                tailp = &r->next;
            } else {
                r->next = stale;
                stale = r;
            }
        }
        ag->rhead = ag->rtail = NULL;
        size_t lines = mine || logs_due ? ag->nlogs : 0;
        pthread_mutex_unlock(&ag->mu);
        free_reports(stale); /* reports of an earlier registration mean nothing to the server */
        h->gen = gen;
        int ok = 1;
        while (ok == 1 && lines > 0) {
            size_t sent;
            ok = send_logs(ag, h, iid, &sent);
            lines = lines > sent ? lines - sent : 0;
            if (ok == 1 && sent == 0) break;
        }
        if (ok == 1 && (mine || hb_due)) {
            json_t *list = json_array();
            for (report *r = mine; r; r = r->next) json_array_append(list, r->body);
            /* What the instance holds, as of now: an assignment taken while logs were shipped
             * is in it. */
            pthread_mutex_lock(&ag->mu);
            json_t *held_now = holding_without(ag, mine, gen);
            pthread_mutex_unlock(&ag->mu);
            json_t *answer;
            char err[512];
            long status = post(h, "/barge/v1/agent/exchange",
                               json_pack("{s:s, s:b, s:o, s:o}", "instanceId", iid, "wait", 0,
                                         "reports", list, "holding", held_now),
                               30, &answer, err, sizeof err);
            if (status == 200) {
                delivered(ag, mine);
                mine = NULL;
                pthread_mutex_lock(&ag->mu);
                ag->last_exchange = mono();
                pthread_mutex_unlock(&ag->mu);
                handle_answer(ag, answer, gen);
            } else if (unknown_instance(status, answer)) {
                registration_lost(ag, gen);
                ok = -1;
            } else if (status >= 400 && status < 500 && status != 429) {
                log_warn("the server refused a batch of reports (%s); they are dropped", err);
                delivered(ag, mine);
                mine = NULL;
            } else {
                if (status != HTTP_ABORTED)
                    log_warn("cannot send reports to %s (%s); retrying", ag->server, err);
                ok = 0;
            }
            json_decref(answer);
        }
        requeue_reports(ag, mine);
        free(iid);
        if (ok == 0) {
            /* A stopping agent does not wait long for a server that is gone. */
            if (ag->final_flush) {
                pthread_mutex_lock(&ag->mu);
                break;
            }
            nap(ag, backoff, &ag->sender_quit);
            backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
        } else
            backoff = 250;
        pthread_mutex_lock(&ag->mu);
    }
    ag->sender_done = 1;
    pthread_cond_broadcast(&ag->cond);
    pthread_mutex_unlock(&ag->mu);
    return NULL;
}

/* ---- Start-up ----------------------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: barge agent --server URL --compute-environment NAME [options]\n"
            "\n"
            "Runs on an instance: registers with the barge server, takes the jobs it assigns,\n"
            "runs each attempt as a host process with its memory limit, reports and ships the\n"
            "logs.  SIGTERM or SIGINT stops the jobs and the agent cleanly.\n"
            "\n"
            "options:\n"
            "  --server URL                 the barge server (for example http://10.0.0.5:8900)\n"
            "  --compute-environment NAME   the compute environment this instance serves\n"
            "  --instance-id ID             this instance's id (default: the server picks one)\n"
            "  --instance-type TYPE         report this instance type (for example m5.large); its\n"
            "                               size is the default for --vcpus and --memory\n"
            "  --vcpus N                    vCPUs to offer (default: the CPUs this process may\n"
            "                               use, or the instance type's)\n"
            "  --memory MIB                 memory to offer in MiB (default: the machine's,\n"
            "                               within the agent's own cgroup limit, or the instance\n"
            "                               type's)\n"
            "  --gpus N                     GPUs to offer (default 0, or the instance type's)\n"
            "  --token T                    the token the server expects (default: the\n"
            "                               BARGE_AGENT_TOKEN environment variable)\n"
            "  --work-dir DIR               where attempts get their working directories\n"
            "                               (default: a fresh directory under $TMPDIR, removed at\n"
            "                               exit)\n"
            "  --exit-with-parent           stop (as on SIGTERM) when the parent process dies\n"
            "  --log-level LEVEL            debug, info (default), warn or error\n"
            "  -h, --help                   show this help\n");
}

static int parse_count(const char *opt, const char *s, long long min, long long max,
                       long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) {
        fprintf(stderr, "barge agent: %s must be a whole number from %lld to %lld (got '%s')\n",
                opt, min, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int machine_vcpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static long long machine_memory_mib(const cgroup_host *cg)
{
    long long bytes = (long long)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE);
    long long limit = cgroup_host_memory_limit(cg);
    if (limit > 0 && limit < bytes) bytes = limit;
    return bytes / (1024 * 1024);
}

static int parse_options(agent *ag, int argc, char **argv)
{
    enum { O_SERVER = 256, O_CE, O_IID, O_TYPE, O_VCPUS, O_MEM, O_GPUS, O_TOKEN, O_WORK,
           O_PARENT, O_LOGLEVEL };
    static const struct option opts[] = {
        {"server", required_argument, NULL, O_SERVER},
        {"compute-environment", required_argument, NULL, O_CE},
        {"instance-id", required_argument, NULL, O_IID},
        {"instance-type", required_argument, NULL, O_TYPE},
        {"vcpus", required_argument, NULL, O_VCPUS},
        {"memory", required_argument, NULL, O_MEM},
        {"gpus", required_argument, NULL, O_GPUS},
        {"token", required_argument, NULL, O_TOKEN},
        {"work-dir", required_argument, NULL, O_WORK},
        {"exit-with-parent", no_argument, NULL, O_PARENT},
        {"log-level", required_argument, NULL, O_LOGLEVEL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    long long vcpus = -1, memory = -1, gpus = -1;
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case O_SERVER: ag->server = optarg; break;
        case O_CE: ag->ce = optarg; break;
        case O_IID:
            if (!*optarg || strlen(optarg) > 128) {
                fprintf(stderr, "barge agent: --instance-id must be 1 to 128 characters\n");
                return 2;
            }
            ag->iid = xstrdup(optarg);
            break;
        case O_TYPE:
            if (!catalog_find(optarg)) {
                fprintf(stderr, "barge agent: --instance-type '%s' is not an instance type barge "
                                "knows (for example m5.large or c5.xlarge)\n", optarg);
                return 2;
            }
            ag->instance_type = optarg;
            break;
        case O_VCPUS:
            if (parse_count("--vcpus", optarg, 1, 4096, &vcpus) < 0) return 2;
            break;
        case O_MEM:
            if (parse_count("--memory", optarg, 1, 1LL << 32, &memory) < 0) return 2;
            break;
        case O_GPUS:
            if (parse_count("--gpus", optarg, 0, 1024, &gpus) < 0) return 2;
            break;
        case O_TOKEN: ag->token = optarg; break;
        case O_WORK: ag->work_dir = xstrdup(optarg); break;
        case O_PARENT: ag->exit_with_parent = 1; break;
        case O_LOGLEVEL:
            if (strcmp(optarg, "debug") == 0) log_level = LOG_DEBUG;
            else if (strcmp(optarg, "info") == 0) log_level = LOG_INFO;
            else if (strcmp(optarg, "warn") == 0) log_level = LOG_WARN;
            else if (strcmp(optarg, "error") == 0) log_level = LOG_ERROR;
            else {
                fprintf(stderr, "barge agent: --log-level must be debug, info, warn or error\n");
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "barge agent: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (!ag->server) {
        fprintf(stderr, "barge agent: --server is required (the barge server's URL, for example "
                        "http://127.0.0.1:8900)\n");
        return 2;
    }
    if (strncmp(ag->server, "http://", 7) != 0 && strncmp(ag->server, "https://", 8) != 0) {
        fprintf(stderr, "barge agent: --server must be an http:// or https:// URL (got '%s')\n",
                ag->server);
        return 2;
    }
    if (!ag->ce || !*ag->ce) {
        fprintf(stderr, "barge agent: --compute-environment is required (the name of the "
                        "compute environment this instance serves)\n");
        return 2;
    }
    if (!ag->token) ag->token = getenv("BARGE_AGENT_TOKEN");
    const catalog_type *t = ag->instance_type ? catalog_find(ag->instance_type) : NULL;
    ag->vcpus = (int)(vcpus > 0 ? vcpus : t ? t->vcpus : machine_vcpus());
    ag->memory_mib = memory > 0 ? memory : t ? t->memory_mib : 0; /* 0: measured later */
    ag->gpus = (int)(gpus >= 0 ? gpus : t ? t->gpus : 0);
    return -1;
}

/* Jobs get /dev/null as stdin; a closed descriptor 0, 1 or 2 here would confuse the spawner. */
static void ensure_std_fds(void)
{
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0) {
            int n = open("/dev/null", O_RDWR);
            if (n >= 0 && n != fd) close(n);
        }
}

/* mkdir -p; 1 if it created the last directory, 0 if it existed, -1 on failure. */
static int make_dirs(const char *path)
{
    char *p = xstrdup(path);
    for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *s = '/';
    }
    free(p);
    if (mkdir(path, 0755) == 0) return 1;
    return errno == EEXIST ? 0 : -1;
}

static int prepare_work_dir(agent *ag)
{
    if (ag->work_dir) {
        int made = make_dirs(ag->work_dir);
        /* A directory the agent made is its own, and goes when the agent stops. */
        ag->own_work_dir = made == 1;
        if (made < 0) {
            fprintf(stderr, "barge agent: --work-dir %s cannot be created: %s\n", ag->work_dir,
                    strerror(errno));
            return -1;
        }
        struct stat st;
        if (stat(ag->work_dir, &st) < 0 || !S_ISDIR(st.st_mode) || access(ag->work_dir, W_OK)) {
            fprintf(stderr, "barge agent: --work-dir %s is not a writable directory\n",
                    ag->work_dir);
            return -1;
        }
        return 0;
    }
    const char *tmp = getenv("TMPDIR");
    char *tmpl = xasprintf("%s/barge-agent-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tmpl)) {
        fprintf(stderr, "barge agent: cannot create a work directory (%s): %s; choose one with "
                        "--work-dir\n", tmpl, strerror(errno));
        free(tmpl);
        return -1;
    }
    ag->work_dir = tmpl;
    ag->own_work_dir = 1;
    return 0;
}

static void *supervisor_main(void *ex)
{
    executor_run(ex);
    return NULL;
}

/* Waits for SIGTERM, SIGINT or the internal SIGUSR1 of request_stop. */
static void wait_for_stop(agent *ag, const sigset_t *set)
{
    while (!ag->stopping) {
        int sig;
        if (sigwait(set, &sig) != 0) continue;
        if (sig == SIGTERM || sig == SIGINT) {
            char why[64];
            snprintf(why, sizeof why, "the agent received %s",
                     sig == SIGTERM ? "SIGTERM" : "SIGINT");
            request_stop(ag, 0, why);
        }
    }
}

static void stop_everything(agent *ag, pthread_t supervisor, pthread_t poller, pthread_t sender)
{
    log_info("stopping: %s", ag->stop_why);
    executor_stop(ag->ex, ag->stop_why);
    pthread_join(supervisor, NULL);
    /* Every attempt has ended and queued its report: deliver them, within limits. */
    int64_t deadline = mono() + FINAL_FLUSH_MS;
    pthread_mutex_lock(&ag->mu);
    ag->final_flush = 1;
    pthread_cond_broadcast(&ag->cond);
    while (!ag->sender_done && mono() < deadline) wait_until(ag, deadline);
    if (!ag->sender_done) log_warn("giving up on delivering the last reports to %s", ag->server);
    ag->sender_quit = 1;
    pthread_cond_broadcast(&ag->cond);
    pthread_mutex_unlock(&ag->mu);
    wake_connections(ag);
    pthread_join(sender, NULL);
    pthread_join(poller, NULL);
}

int agent_main(int argc, char **argv)
{
    pid_t parent = getppid();
    agent *ag = xcalloc(1, sizeof *ag);
    int rc = parse_options(ag, argc, argv);
    if (rc >= 0) {
        free(ag->iid);
        free(ag->work_dir);
        free(ag);
        return rc;
    }
    ensure_std_fds();
    /* Signals are taken synchronously by the main thread; every thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (ag->exit_with_parent) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) kill(getpid(), SIGTERM); /* it died before the call above */
    }
    /* Orphans of jobs are reparented here and reaped by the supervisor, not left as zombies. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    if (prepare_work_dir(ag) < 0) {
        free(ag->iid);
        free(ag->work_dir);
        free(ag);
        return 1;
    }
    if (gethostname(ag->hostname, sizeof ag->hostname - 1) < 0) strcpy(ag->hostname, "localhost");
    char *cg_name = xasprintf("barge-agent-%ld", (long)getpid());
    ag->cg = cgroup_host_setup(cg_name);
    free(cg_name);
    int swept = cgroup_host_sweep(ag->cg, "barge-agent-");
    if (swept) log_info("removed %d cgroup%s left by agents that are gone", swept,
                        swept > 1 ? "s" : "");
    if (cgroup_host_mode(ag->cg) == CGROUP_NONE)
        log_warn("memory limits are not enforced: %s", cgroup_host_note(ag->cg));
    if (ag->memory_mib == 0) ag->memory_mib = machine_memory_mib(ag->cg);
    log_info("agent for compute environment %s: %d vCPUs, %lld MiB, %d GPUs, executor %s, %s",
             ag->ce, ag->vcpus, ag->memory_mib, ag->gpus, exec_process_backend.name,
             cgroup_host_note(ag->cg));

    pthread_mutex_init(&ag->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ag->cond, &ca);
    pthread_condattr_destroy(&ca);
    ag->poll_s = 20;
    ag->heartbeat_s = 5;
    ag->main_thread = pthread_self();
    http_init(&ag->poll_conn, ag, 1);
    http_init(&ag->send_conn, ag, 0);
    static const exec_events events = {on_started, on_line, on_ended, on_backlog};
    /* As many idle cgroups and directories as attempts can run at once (one vCPU each, at
     * most), so that a steady stream of jobs creates none after the first few.  A pooled cgroup
     * keeps its control files open and a running attempt holds its pipes, so the pool is also
     * bounded by the descriptors the process may open (raised to the hard limit first). */
    struct rlimit nofile = {1024, 1024};
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max < 65536 ? nofile.rlim_max : 65536;
        setrlimit(RLIMIT_NOFILE, &nofile);
        getrlimit(RLIMIT_NOFILE, &nofile);
    }
    long by_fds = ((long)nofile.rlim_cur - 64) / 8;
    int pool = ag->vcpus < 256 ? ag->vcpus : 256;
    if (by_fds < pool) pool = by_fds > 1 ? (int)by_fds : 1;
    cgroup_host_set_pool(ag->cg, pool);
    exec_options eo = {&exec_process_backend, ag->work_dir, ag->cg, &events, ag, pool};
    ag->ex = executor_new(&eo);

    pthread_t supervisor, poller, sender;
    pthread_create(&supervisor, NULL, supervisor_main, ag->ex);
    pthread_create(&sender, NULL, sender_main, ag);
    pthread_create(&poller, NULL, poller_main, ag);
    wait_for_stop(ag, &set);
    stop_everything(ag, supervisor, poller, sender);

    executor_free(ag->ex);
    cgroup_host_teardown(ag->cg);
    if (ag->own_work_dir) rmdir(ag->work_dir);
    free_reports(ag->rhead);
    release_all_held(ag);
    dict_free(&ag->held);
    for (logev *e = ag->lhead, *next; e; e = next) {
        next = e->next;
        free(e->stream);
        free(e->text);
        free(e);
    }
    rc = ag->exit_code;
    log_info("agent stopped");
    http_cleanup(&ag->poll_conn);
    http_cleanup(&ag->send_conn);
    pthread_mutex_destroy(&ag->mu);
    pthread_cond_destroy(&ag->cond);
    free(ag->iid);
    free(ag->stop_why);
    free(ag->work_dir);
    free(ag);
    return rc;
}
