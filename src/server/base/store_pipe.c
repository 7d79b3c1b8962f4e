/* store_pipe — see store_pipe.h. */
#include "server/base/store_pipe.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

enum { OP_PUT = 1, OP_DEL = 2 };

/* A recorded write: this head, then kind, key and doc, each followed by a NUL. */
typedef struct {
    uint32_t op, kind_len, key_len, doc_len;
} rec_head;

/* A batch with nothing to commit, answered when the commit in flight is done. */
typedef struct after {
    void (*done)(void *arg, int ok);
    void *arg;
    struct after *next;
} after;

typedef struct {
    store base;
    store *inner;
    buf rec;    /* the core's: writes recorded since the last hand-over */
    buf flight; /* the writer's: the batch being committed */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    int busy;     /* a batch is handed over and not yet done */
    int failed;   /* a commit failed and the core was not told yet */
    int stopping;
    void (*done)(void *arg, int ok);
    void *done_arg;
    after *afters, **afters_tail; /* waiting on the commit in flight, in order */
    char *err;    /* the last failure's message */
} pipe_store;

static const struct store_ops pipe_ops;

/* When the commit in flight was handed over (monotonic ms), 0 while none is: the process's one
 * pipe's, for the lease's keeper (store_pipe_stuck_ms). */
static _Atomic int64_t flight_since;

int store_is_pipe(const store *s)
{
    return s && s->ops == &pipe_ops;
}

static void record(pipe_store *p, uint32_t op, const char *kind, const char *key,
                   const char *doc, size_t len)
{
    rec_head h = {op, (uint32_t)strlen(kind), (uint32_t)strlen(key), (uint32_t)len};
    buf_reserve(&p->rec, sizeof h + h.kind_len + h.key_len + len + 3);
    buf_append(&p->rec, &h, sizeof h);
    buf_append(&p->rec, kind, h.kind_len + 1);
    buf_append(&p->rec, key, h.key_len + 1);
    buf_append(&p->rec, doc ? doc : "", len);
    buf_append(&p->rec, "", 1);
}

/* Replays the batch on the wrapped store and commits it: 1 when it held. */
static int replay(pipe_store *p)
{
    store *in = p->inner;
    if (store_begin(in) != 0) return 0;
    for (size_t at = 0; at < p->flight.len;) {
        rec_head h;
        memcpy(&h, p->flight.data + at, sizeof h);
        const char *kind = p->flight.data + at + sizeof h;
        const char *key = kind + h.kind_len + 1;
        const char *doc = key + h.key_len + 1;
        at += sizeof h + h.kind_len + h.key_len + h.doc_len + 3;
        int rc = h.op == OP_PUT ? store_put(in, kind, key, doc, h.doc_len)
                                : store_del(in, kind, key);
        if (rc != 0) {
            store_rollback(in);
            return 0;
        }
    }
    if (store_commit(in) != 0) {
        store_rollback(in);
        return 0;
    }
    return 1;
}

static void *writer_main(void *arg)
{
    pthread_setname_np(pthread_self(), "barge-commit");
    pipe_store *p = arg;
    long failing = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->busy && !p->stopping) pthread_cond_wait(&p->cv, &p->mu);
        if (!p->busy) break;
        pthread_mutex_unlock(&p->mu);
        int wrote = p->flight.len > 0;
        int ok = replay(p);
        char *err = ok ? NULL : xstrdup(store_errmsg(p->inner));
        /* A store that refuses every commit (its disk full) would log a line for each batch
         * while clients retry: the first, then one each 10 s with the count held back, and a
         * line once one that wrote goes through again (one that wrote nothing may go through
         * while the rest fail: a full disk takes no new rows). */
        if (!ok) {
            static log_limit limit = LOG_LIMIT_INIT;
            log_limited(&limit, 10000, LOG_ERROR, "store: a commit failed: %s", err);
            failing++;
        } else if (failing && wrote) {
            log_info("store: commits go through again (%ld failed before)", failing);
            failing = 0;
        }
        p->flight.len = 0;
        if (p->done) p->done(p->done_arg, ok);
        pthread_mutex_lock(&p->mu);
        if (!ok) {
            free(p->err);
            p->err = err;
            p->failed = 1;
        }
        /* The batches that waited on this commit, and any queued while they run (the flight
         * stays busy meanwhile, so no later batch's answers leave before theirs). */
        while (p->afters) {
            after *a = p->afters;
            p->afters = NULL;
            p->afters_tail = &p->afters;
            pthread_mutex_unlock(&p->mu);
            for (after *next; a; a = next) {
                next = a->next;
                a->done(a->arg, ok);
                free(a);
            }
            pthread_mutex_lock(&p->mu);
        }
        p->busy = 0;
        atomic_store(&flight_since, 0);
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Waits until no commit is in flight (p->mu held). */
static void idle_locked(pipe_store *p)
{
    while (p->busy) pthread_cond_wait(&p->cv, &p->mu);
}

int store_pipe_wait(store *s)
{
    pipe_store *p = (pipe_store *)s;
    pthread_mutex_lock(&p->mu);
    idle_locked(p);
    int failed = p->failed;
    p->failed = 0;
    pthread_mutex_unlock(&p->mu);
    return failed ? -1 : 0;
}

int store_pipe_send(store *s, void (*done)(void *arg, int ok), void *arg)
{
    pipe_store *p = (pipe_store *)s;
    pthread_mutex_lock(&p->mu);
    idle_locked(p);
    if (p->failed) {
        p->failed = 0;
        pthread_mutex_unlock(&p->mu);
        return -1;
    }
    buf t = p->flight;
    p->flight = p->rec;
    p->rec = t;
    p->rec.len = 0;
    p->done = done;
    p->done_arg = arg;
    p->busy = 1;
    atomic_store(&flight_since, util_mono_ms());
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

int store_pipe_must_commit(const store *s)
{
    const pipe_store *p = (const pipe_store *)s;
    return p->rec.len > 0 || p->inner->reads_commit;
}

int store_pipe_after(store *s, void (*done)(void *arg, int ok), void *arg)
{
    pipe_store *p = (pipe_store *)s;
    pthread_mutex_lock(&p->mu);
    /* While the flight is busy (its commit, or the batches that waited on it, being answered)
     * this one queues behind them and learns that commit's outcome: answers leave in order,
     * 503s too. */
    if (p->busy) {
        after *a = xmalloc(sizeof *a);
        *a = (after){done, arg, NULL};
        *p->afters_tail = a;
        p->afters_tail = &a->next;
        pthread_mutex_unlock(&p->mu);
        return 0;
    }
    if (p->failed) {
        p->failed = 0;
        pthread_mutex_unlock(&p->mu);
        return -1;
    }
    pthread_mutex_unlock(&p->mu);
    done(arg, 1);
    return 0;
}

static int pipe_begin(store *s)
{
    (void)s;
    return 0;
}

static int pipe_commit(store *s)
{
    if (store_pipe_send(s, NULL, NULL) != 0) return -1;
    return store_pipe_wait(s);
}

static void pipe_rollback(store *s)
{
    ((pipe_store *)s)->rec.len = 0;
}

static int pipe_put(store *s, const char *kind, const char *key, const char *doc, size_t len)
{
    record((pipe_store *)s, OP_PUT, kind, key, doc, len);
    return 0;
}

static int pipe_del(store *s, const char *kind, const char *key)
{
    record((pipe_store *)s, OP_DEL, kind, key, NULL, 0);
    return 0;
}

static int pipe_scan(store *s, const char *kind, store_scan_fn fn, void *arg)
{
    pipe_store *p = (pipe_store *)s;
    pthread_mutex_lock(&p->mu);
    idle_locked(p);
    pthread_mutex_unlock(&p->mu);
    int rc = store_scan(p->inner, kind, fn, arg);
    if (rc != 0) {
        /* The scan's own failure is what store_errmsg tells from now on, not the last failed
         * commit's: a reload after it named the commit's cause (a connection closed) while the
         * store failed for another (the database gone, a password changed). */
        pthread_mutex_lock(&p->mu);
        free(p->err);
        p->err = NULL;
        pthread_mutex_unlock(&p->mu);
    }
    return rc;
}

static const char *pipe_errmsg(store *s)
{
    pipe_store *p = (pipe_store *)s;
    pthread_mutex_lock(&p->mu);
    idle_locked(p);
    const char *e = p->err ? p->err : store_errmsg(p->inner);
    pthread_mutex_unlock(&p->mu);
    return e;
}

static void pipe_close(store *s)
{
    pipe_store *p = (pipe_store *)s;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    store_close(p->inner);
    buf_free(&p->rec);
    buf_free(&p->flight);
    free(p->err);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

static const struct store_ops pipe_ops = {
    pipe_begin, pipe_commit, pipe_rollback, pipe_put, pipe_del, pipe_scan, pipe_errmsg, pipe_close,
};

store *store_pipe_new(store *inner)
{
    pipe_store *p = xcalloc(1, sizeof *p);
    p->base.ops = &pipe_ops;
    p->inner = inner;
    p->afters_tail = &p->afters;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->thread, NULL, writer_main, p) != 0) {
        store_close(inner);
        free(p);
        return NULL;
    }
    return &p->base;
}

int64_t store_pipe_stuck_ms(void)
{
    int64_t since = atomic_load(&flight_since);
    return since ? util_mono_ms() - since : 0;
}
