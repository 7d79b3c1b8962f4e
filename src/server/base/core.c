#include "server/base/core.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/errbody.h"
#include "common/jtext.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/base/metrics.h"
#include "server/base/store_pipe.h"

typedef struct timer {
    int64_t due; /* monotonic ms */
    void (*fn)(void *ctx, void *arg);
    void *arg;
    struct timer *next;
} timer;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    core_call *head, *tail;
    int stopping, stopped;
    int wake; /* a commit handed to the store's writer failed: run a turn to read the state back */
    pthread_t thread;
    store *db;
    core_hooks hooks;
    int failed; /* the current batch cannot be committed */
    int broken; /* the state could not be read back after a failed commit: every call gets a
                 * 503 until a reload succeeds (a store that went away and comes back) */
    int64_t next_reload; /* monotonic ms of the next try while broken */
    /* Commits that failed one after the other, and until when a turn the writer's failure woke
     * waits (reload_after_failure): a store that fails every commit (a full disk) is tried
     * again at a slowing pace, not as fast as the state can be read back. */
    atomic_int fail_streak; /* reset by a commit that held, on the writer's thread */
    int64_t quiet_until;
    timer *timers; /* sorted by due; touched only by the core thread */
    core_call *late, *late_tail; /* parked calls answered after the current batch commits */
} core = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

void core_after(int64_t delay_ms, void (*fn)(void *ctx, void *arg), void *arg)
{
    timer *t = xmalloc(sizeof *t);
    t->due = util_mono_ms() + delay_ms;
    t->fn = fn;
    t->arg = arg;
    timer **p = &core.timers;
    while (*p && (*p)->due <= t->due) p = &(*p)->next;
    t->next = *p;
    *p = t;
}

static void answer_error(core_call *call, int status, const char *type, const char *msg);
static void queue_late(core_call *call);

/* core_after_commit's: a call of the core's own, answered (with nothing) once its batch commits,
 * like a long poll, so that it learns the commit's outcome with the batch's answers; then
 * submitted again to run fn on the core thread. */
typedef struct after_commit {
    core_call call; /* first: done() gets the call */
    void (*fn)(void *ctx, void *arg, int durable);
    void *arg;
    int durable; /* the outcome, once known */
    int queued;  /* submitted again: its next done() is its last */
} after_commit;

static void after_commit_run(core_call *call, void *ctx, int64_t now)
{
    after_commit *a = (after_commit *)call;
    a->fn(ctx, a->arg, a->durable);
    free(a->arg);
    a->arg = NULL;
    core_answer_text(call, NULL, 0);
}

/* On the writer's thread (or the core's without a pipe): the batch's outcome is known. */
static void after_commit_done(core_call *call)
{
    after_commit *a = (after_commit *)call;
    free(call->body);
    call->body = NULL;
    if (!a->queued) {
        a->queued = 1;
        a->durable = call->status == 200;
        call->run = after_commit_run;
        core_submit(call); /* answered at once (done again) when the core has stopped */
        return;
    }
    free(a->arg);
    free(a);
}

void core_after_commit(void (*fn)(void *ctx, void *arg, int durable), void *arg)
{
    after_commit *a = xcalloc(1, sizeof *a);
    a->fn = fn;
    a->arg = arg;
    a->call.done = after_commit_done;
    a->call.status = 200;
    queue_late(&a->call);
}

/* core_call_wait's: one lock and one condition for every waiting thread (they are few). */
static pthread_mutex_t wait_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wait_cv = PTHREAD_COND_INITIALIZER;

static void waited(core_call *call)
{
    pthread_mutex_lock(&wait_mu);
    call->finished = 1;
    pthread_cond_broadcast(&wait_cv);
    pthread_mutex_unlock(&wait_mu);
}

void core_call_wait(core_call *call)
{
    call->done = waited;
    call->finished = 0;
    core_submit(call);
    pthread_mutex_lock(&wait_mu);
    while (!call->finished) pthread_cond_wait(&wait_cv, &wait_mu);
    pthread_mutex_unlock(&wait_mu);
}

void core_submit(core_call *call)
{
    call->next = NULL;
    pthread_mutex_lock(&core.mu);
    if (core.stopped) {
        /* Requests still arriving on open connections while the server stops. */
        pthread_mutex_unlock(&core.mu);
        json_decref(call->req);
        call->req = NULL;
        answer_error(call, 503, "ServiceUnavailableException", "the server is shutting down");
        call->done(call);
        return;
    }
    if (core.tail) core.tail->next = call;
    else core.head = call;
    core.tail = call;
    pthread_cond_signal(&core.cv);
    pthread_mutex_unlock(&core.mu);
}

static void answer_error(core_call *call, int status, const char *type, const char *msg)
{
    call->status = status;
    call->err_type = type;
    call->body = errbody_new(type, msg);
    call->body_len = strlen(call->body);
}

void core_answer(core_call *call, json_t *resp)
{
    call->status = 200;
    call->err_type = NULL;
    call->body = jtext_dumps(resp, JSON_COMPACT);
    call->body_len = strlen(call->body);
    call->answered = 1;
    if (call->keep_tree)
        call->tree = resp;
    else
        json_decref(resp);
}

void core_answer_text(core_call *call, char *text, size_t len)
{
    call->status = 200;
    call->err_type = NULL;
    call->body = text ? text : xstrdup("");
    call->body_len = text ? len : 0;
    call->answered = 1;
}

/* A 200 whose answer is an object rather than text. */
static void set_obj(core_call *call, void *obj, const core_obj_ops *ops)
{
    call->status = 200;
    call->err_type = NULL;
    call->body = NULL;
    call->body_len = 0;
    call->obj = obj;
    call->obj_ops = ops;
}

void core_answer_obj(core_call *call, void *obj, const core_obj_ops *ops)
{
    set_obj(call, obj, ops);
    call->answered = 1;
}

void core_call_flatten(core_call *call)
{
    if (!call->obj) return;
    free(call->body);
    call->body = call->obj_ops->text(call->obj, &call->body_len);
    call->obj_ops->free(call->obj);
    call->obj = NULL;
}

/* An answer object that will not be read (its batch failed). */
static void drop_obj(core_call *call)
{
    if (!call->obj) return;
    call->obj_ops->free(call->obj);
    call->obj = NULL;
}

void core_answer_error(core_call *call, int status, const char *type, const char *msg)
{
    answer_error(call, status, type, msg);
    call->answered = 1;
}

void core_park(core_call *call)
{
    call->parked = 1;
}

/* Runs one call; its answer is kept in the call until the batch commits. */
static void execute(core_call *call, int64_t now)
{
    call->parked = call->answered = 0;
    call->run(call, core.hooks.ctx, now);
    if (!call->parked && !call->answered)
        answer_error(call, 500, "ServerException", "the call ended without an answer");
}

static void queue_late(core_call *call)
{
    call->late_next = NULL;
    if (core.late_tail) core.late_tail->late_next = call;
    else core.late = call;
    core.late_tail = call;
}

void core_reply(core_call *call, json_t *resp)
{
    call->status = 200;
    call->err_type = NULL;
    call->body = jtext_dumps(resp, JSON_COMPACT);
    call->body_len = strlen(call->body);
    json_decref(resp);
    queue_late(call);
}

void core_reply_text(core_call *call, char *text, size_t len)
{
    call->status = 200;
    call->err_type = NULL;
    call->body = text;
    call->body_len = len;
    queue_late(call);
}

void core_reply_obj(core_call *call, void *obj, const core_obj_ops *ops)
{
    set_obj(call, obj, ops);
    queue_late(call);
}

void core_reply_error(core_call *call, int status, const char *type, const char *msg)
{
    answer_error(call, status, type, msg);
    queue_late(call);
}

static void answer_late(void)
{
    core_call *c = core.late;
    core.late = core.late_tail = NULL;
    for (core_call *next; c; c = next) {
        next = c->late_next;
        json_decref(c->req);
        c->req = NULL;
        c->done(c);
    }
}

static void run_timers(void)
{
    int64_t now = util_mono_ms();
    while (core.timers && core.timers->due <= now) {
        timer *t = core.timers;
        core.timers = t->next;
        t->fn(core.hooks.ctx, t->arg);
        free(t->arg);
        free(t);
    }
}

/* Since when (monotonic ms) the core has been broken, 0 while it serves: read by other threads
 * (core_unserved_ms). */
static _Atomic int64_t broken_since;

/* After a rollback, or while broken: the state read back from the store.  A store that cannot
 * be read (a database that went away) leaves the core broken, answering 503s and trying again
 * every half second, instead of serving a state that is not the stored one. */
#define RETRY_QUIET_MAX_MS 1000

static void reload_after_failure(void)
{
    /* The first failure is read back at once; each one right after it waits twice as long
     * (10 ms, 20 ms... 1 s) before a turn that only the failure woke.  Calls still run at once. */
    int streak = ++core.fail_streak;
    int64_t quiet = 0;
    if (streak > 1) {
        int shift = streak - 2 < 7 ? streak - 2 : 7;
        quiet = (int64_t)10 << shift;
        if (quiet > RETRY_QUIET_MAX_MS) quiet = RETRY_QUIET_MAX_MS;
    }
    core.quiet_until = util_mono_ms() + quiet;
    char *err = NULL;
    if (core.hooks.reload(core.hooks.ctx, &err) != 0) {
        if (!core.broken)
            log_error("core: cannot reload the state after a failed commit: %s; answering 503 "
                      "until the store answers again", err);
        free(err);
        if (!core.broken) atomic_store(&broken_since, util_mono_ms());
        core.broken = 1;
        core.next_reload = util_mono_ms() + 500;
        return;
    }
    if (core.broken) log_info("core: the state is read back from the store; serving again");
    core.broken = 0;
    atomic_store(&broken_since, 0);
}

int64_t core_unserved_ms(void)
{
    int64_t since = atomic_load(&broken_since);
    return since ? util_mono_ms() - since : 0;
}

/* A batch that arrives while the core is broken: nothing runs, every call is answered.  What
 * waited for a commit (core_after_commit) is told it did not hold, so that it can try again
 * rather than be forgotten. */
static void refuse_batch(core_call *batch)
{
    for (core_call *c = batch, *next; c; c = next) {
        next = c->next;
        if (c->run == after_commit_run) {
            after_commit *a = (after_commit *)c;
            a->fn(core.hooks.ctx, a->arg, 0);
            free(a->arg);
            a->arg = NULL;
        }
        json_decref(c->req);
        c->req = NULL;
        answer_error(c, 503, "ServerException",
                     "the server cannot reach its store; nothing was changed, retry the request");
        c->done(c);
    }
}

static void tick(void *ctx, void *arg)
{
    core.hooks.tick(ctx);
    core_after(core.hooks.tick_ms, tick, NULL);
}

/* A batch whose commit failed: its calls get a 503 (nothing of them happened), and so do the
 * long polls answered in it, which carried what was rolled back (assignments, kill orders): the
 * agents ask again. */
static void fail_answers(core_call *batch, core_call *late)
{
    for (core_call *c = batch; c; c = c->next) {
        if (c->parked) continue;
        free(c->body);
        drop_obj(c);
        /* 503: the AWS SDKs retry it, and nothing of it happened. */
        answer_error(c, 503, "ServerException",
                     "the server could not make this change durable (its log says why: a "
                     "full disk, a store out of reach); nothing was changed, retry the request");
    }
    for (core_call *c = late; c; c = c->late_next) {
        if (c->status != 200) continue;
        free(c->body);
        drop_obj(c);
        answer_error(c, 503, "ServerException",
                     "the server could not make this change durable; ask again");
    }
}

/* A batch handed to the store's writer (store_pipe): its answers leave once it is committed,
 * from the writer's thread, while the core runs the next batch. */
typedef struct flight {
    core_call *calls; /* the batch's answered calls, linked by next */
    core_call *late;  /* parked calls answered in the batch, linked by late_next */
    size_t n;         /* clients' calls in the batch (the batch-size histogram's figure) */
    int any;          /* any call at all: the commit's time is observed (not a timers' alone) */
    int64_t t0;       /* monotonic us when handed over */
    int commits;      /* 0: nothing to commit; the batch waited on the commit before it */
    metrics_pending *figures; /* what the batch counted, added once it is committed */
} flight;

/* On the writer's thread: the batch is committed (ok) or not. */
static void flight_done(void *arg, int ok)
{
    flight *f = arg;
    metrics_settle(f->figures, ok);
    if (ok && f->commits) core.fail_streak = 0;
    if (ok && f->any && f->commits) {
        if (f->n) metrics_observe(METRIC_BATCH_SIZE, (double)f->n);
        metrics_observe(METRIC_COMMIT_TIME, (double)(util_mono_us() - f->t0) / 1e6);
    }
    if (!ok) {
        metrics_count(METRIC_COMMIT_FAILURES, 1);
        fail_answers(f->calls, f->late);
        /* Memory is ahead of the store: the core reads it back at its next turn. */
        pthread_mutex_lock(&core.mu);
        core.wake = 1;
        pthread_cond_signal(&core.cv);
        pthread_mutex_unlock(&core.mu);
    }
    for (core_call *c = f->calls, *next; c; c = next) {
        next = c->next;
        c->done(c);
    }
    for (core_call *c = f->late, *next; c; c = next) {
        next = c->late_next;
        c->done(c);
    }
    free(f);
}

/* Hands the batch's writes and answers to the store's writer.  A batch with nothing to commit
 * (it wrote nothing: a reader's poll answered, a describe; over a store whose reads need no
 * commit, store.h) is not a commit: its answers wait on the commit in flight, which they may
 * tell of, but the core does not, and runs the next batch meanwhile.  Waiting there would leave
 * the writer idle for a whole batch: the next batch of submits would run only after that
 * commit, not beside it.  A batch that commits is sent once the commit before it is done
 * (store_pipe_wait).  -1: a batch with nothing to commit was built on a commit that failed; its
 * calls are answered (503s). */
static int send_flight(core_call *batch, size_t calls, int commits, metrics_pending *figures)
{
    flight *f = xcalloc(1, sizeof *f);
    f->figures = figures;
    core_call **tail = &f->calls;
    for (core_call *c = batch, *next; c; c = next) {
        next = c->next;
        if (c->parked) continue;
        json_decref(c->req);
        c->req = NULL;
        c->next = NULL;
        *tail = c;
        tail = &c->next;
    }
    for (core_call *c = core.late; c; c = c->late_next) {
        json_decref(c->req);
        c->req = NULL;
    }
    f->late = core.late;
    core.late = core.late_tail = NULL;
    f->n = calls;
    f->any = batch != NULL;
    f->t0 = util_mono_us();
    f->commits = commits;
    if (commits) {
        /* The commit before this one is done, so this cannot be refused. */
        if (store_pipe_send(core.db, flight_done, f) != 0) BARGE_ASSERT(!"store_pipe_send refused");
    } else if (store_pipe_after(core.db, flight_done, f) != 0) {
        /* The batch read what a failed commit had written: its answers are 503s, and the core
         * reads the state back (flight_done wakes it). */
        flight_done(f, 0);
        return -1;
    }
    return 0;
}

static void *core_main(void *unused)
{
    pthread_setname_np(pthread_self(), "barge-core");
    /* With a pipe the commit runs on the store's writer thread while the next batch runs here;
     * with another store the core commits and answers itself. */
    int pipe = store_is_pipe(core.db);
    for (;;) {
        pthread_mutex_lock(&core.mu);
        for (;;) {
            if (core.head || core.stopping) break;
            int quiet = core.wake && atomic_load(&core.fail_streak) > 0 &&
                        util_mono_ms() < core.quiet_until;
            if (core.wake && !quiet) break;
            if (core.timers || core.broken || quiet) {
                int64_t due = core.broken ? core.next_reload
                              : core.timers ? core.timers->due : core.quiet_until;
                if (quiet && core.quiet_until < due) due = core.quiet_until;
                int64_t wait = due - util_mono_ms();
                if (wait <= 0) break;
                struct timespec ts = util_mono_deadline(wait);
                pthread_cond_timedwait(&core.cv, &core.mu, &ts);
                break;
            }
            pthread_cond_wait(&core.cv, &core.mu);
        }
        core_call *batch = core.head;
        core.head = core.tail = NULL;
        core.wake = 0;
        int stopping = core.stopping;
        pthread_mutex_unlock(&core.mu);

        int final = stopping && !batch;
        if (core.broken) {
            if (util_mono_ms() >= core.next_reload) reload_after_failure();
            if (core.broken) {
                refuse_batch(batch);
                if (stopping) break;
                continue;
            }
        }

        /* One transaction for the whole batch and the timers that are due. */
        core.failed = 0;
        if (store_begin(core.db) != 0) {
            log_error("core: cannot begin a transaction: %s", store_errmsg(core.db));
            core.failed = 1;
        }
        int64_t now = util_now_ms();
        metrics_defer();
        run_timers();
        for (core_call *c = batch; c; c = c->next) execute(c, now);
        if (core.hooks.before_commit(core.hooks.ctx, final) != 0) core.failed = 1;
        metrics_pending *figures = metrics_take();
        /* The batch's calls from clients (the core's own after-commit calls are not one). */
        size_t calls = 0;
        for (core_call *c = batch; c; c = c->next) calls += c->run != after_commit_run;
        if (pipe && !core.failed) {
            int commits = store_pipe_must_commit(core.db);
            /* The commit in flight must have held if this batch, built on it, commits. */
            if (commits && store_pipe_wait(core.db) != 0) {
                core.failed = 1;
            } else {
                if (send_flight(batch, calls, commits, figures) != 0) reload_after_failure();
                if (final) {
                    store_pipe_wait(core.db);
                    break;
                }
                continue;
            }
        }
        int64_t t0 = util_mono_us();
        if (!core.failed && store_commit(core.db) != 0) {
            static log_limit limit = LOG_LIMIT_INIT;
            log_limited(&limit, 10000, LOG_ERROR, "core: commit failed: %s",
                        store_errmsg(core.db));
            core.failed = 1;
        }
        if (!core.failed) core.fail_streak = 0;
        metrics_settle(figures, !core.failed);
        if (!core.failed && batch) {
            if (calls) metrics_observe(METRIC_BATCH_SIZE, (double)calls);
            metrics_observe(METRIC_COMMIT_TIME, (double)(util_mono_us() - t0) / 1e6);
        }
        if (core.failed) {
            metrics_count(METRIC_COMMIT_FAILURES, 1);
            store_rollback(core.db);
            fail_answers(batch, core.late);
            /* A commit in flight that failed too is read back by this same reload. */
            if (pipe) store_pipe_wait(core.db);
            reload_after_failure();
        }
        for (core_call *c = batch, *next; c; c = next) {
            next = c->next;
            if (c->parked) continue;
            json_decref(c->req);
            c->req = NULL;
            c->done(c);
        }
        answer_late();
        if (final) break;
    }
    return NULL;
}

int core_start(store *db, const core_hooks *hooks, char **err)
{
    core.db = db;
    core.hooks = *hooks;
    /* A core started again (the unit tests) starts as new, whatever the last one ended in. */
    core.stopping = core.stopped = core.wake = core.broken = core.failed = 0;
    atomic_store(&broken_since, 0);
    core.fail_streak = 0;
    core.quiet_until = 0;
    util_cond_init_mono(&core.cv); /* its timers' waits (nothing waits on it yet) */
    if (core.hooks.tick) core_after(0, tick, NULL);
    if (pthread_create(&core.thread, NULL, core_main, NULL) != 0) {
        *err = xstrdup("cannot start the core thread");
        return -1;
    }
    return 0;
}

void core_stop(void)
{
    pthread_mutex_lock(&core.mu);
    core.stopping = 1;
    pthread_cond_signal(&core.cv);
    pthread_mutex_unlock(&core.mu);
    pthread_join(core.thread, NULL);
    pthread_mutex_lock(&core.mu);
    core.stopped = 1;
    core_call *late = core.head;
    core.head = core.tail = NULL;
    pthread_mutex_unlock(&core.mu);
    for (core_call *c = late, *next; c; c = next) {
        next = c->next;
        json_decref(c->req);
        c->req = NULL;
        answer_error(c, 503, "ServiceUnavailableException", "the server is shutting down");
        c->done(c);
    }
    while (core.timers) {
        timer *t = core.timers;
        core.timers = t->next;
        free(t->arg);
        free(t);
    }
}
