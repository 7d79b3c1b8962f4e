/* store_pipe.c, and the core over it: writes are committed on the writer thread in order, the
 * core runs the next batch while a commit is in flight, answers wait for their commit, and a
 * failed commit fails the batch built on it too and has the state read back. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "server/base/core.h"
#include "server/base/store.h"
#include "server/base/store_pipe.h"
#include "check.h"

/* A store in memory: keys committed, a transaction's writes, a gate that holds commits until
 * the test opens it, and commits that fail on demand. */
typedef struct {
    store base;
    char committed[16][16];
    int n_committed;
    char pending[16][16];
    int n_pending;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int gate_closed, in_commit, fail_next, commits;
    int fail_scan; /* scans fail, with errmsg's second message */
    pthread_t committer;
} mem_store;

static int m_begin(store *s)
{
    ((mem_store *)s)->n_pending = 0;
    return 0;
}

static int m_commit(store *s)
{
    mem_store *m = (mem_store *)s;
    pthread_mutex_lock(&m->mu);
    m->in_commit = 1;
    m->committer = pthread_self();
    pthread_cond_broadcast(&m->cv);
    while (m->gate_closed) pthread_cond_wait(&m->cv, &m->mu);
    m->in_commit = 0;
    int fail = m->fail_next;
    m->fail_next = 0;
    if (!fail) {
        for (int i = 0; i < m->n_pending; i++) {
            if (m->pending[i][0] == '-') {
                for (int k = 0; k < m->n_committed; k++)
                    if (strcmp(m->committed[k], m->pending[i] + 1) == 0)
                        memmove(m->committed[k], m->committed[--m->n_committed], 16);
            } else {
                strcpy(m->committed[m->n_committed++], m->pending[i]);
            }
        }
        m->commits++;
    }
    m->n_pending = 0;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    return fail ? -1 : 0;
}

static void m_rollback(store *s)
{
    ((mem_store *)s)->n_pending = 0;
}

static int m_put(store *s, const char *kind, const char *key, const char *doc, size_t len)
{
    mem_store *m = (mem_store *)s;
    snprintf(m->pending[m->n_pending++], 16, "%s", key);
    return 0;
}

static int m_del(store *s, const char *kind, const char *key)
{
    mem_store *m = (mem_store *)s;
    snprintf(m->pending[m->n_pending++], 16, "-%s", key);
    return 0;
}

static int m_scan(store *s, const char *kind, store_scan_fn fn, void *arg)
{
    mem_store *m = (mem_store *)s;
    if (m->fail_scan) return -1;
    for (int i = 0; i < m->n_committed; i++) fn(arg, m->committed[i], "{}", 2);
    return 0;
}

static const char *m_errmsg(store *s)
{
    return ((mem_store *)s)->fail_scan ? "the scan's own failure" : "an injected failure";
}

static void m_close(store *s)
{
    free(s);
}

static const struct store_ops mem_ops = {m_begin, m_commit, m_rollback, m_put,
                                         m_del,   m_scan,   m_errmsg,   m_close};

static mem_store *mem_new(void)
{
    mem_store *m = xcalloc(1, sizeof *m);
    m->base.ops = &mem_ops;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    return m;
}

static void gate(mem_store *m, int closed)
{
    pthread_mutex_lock(&m->mu);
    m->gate_closed = closed;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

/* Waits until a commit is held at the gate. */
static void wait_in_commit(mem_store *m)
{
    pthread_mutex_lock(&m->mu);
    while (!m->in_commit) pthread_cond_wait(&m->cv, &m->mu);
    pthread_mutex_unlock(&m->mu);
}

static int has(mem_store *m, const char *key)
{
    pthread_mutex_lock(&m->mu);
    int found = 0;
    for (int i = 0; i < m->n_committed; i++) found |= strcmp(m->committed[i], key) == 0;
    pthread_mutex_unlock(&m->mu);
    return found;
}

static atomic_int dones, done_ok;
static pthread_t done_thread;

static void on_done(void *arg, int ok)
{
    done_thread = pthread_self();
    done_ok = ok;
    dones++;
}

static void test_writes_commit_in_order_on_the_writer(void)
{
    mem_store *m = mem_new();
    store *p = store_pipe_new(&m->base);
    CHECK(store_is_pipe(p));
    CHECK(!store_is_pipe(&m->base));
    dones = 0;
    gate(m, 1);
    CHECK_EQ_INT(store_begin(p), 0);
    store_put(p, "k", "a", "{}", 2);
    store_put(p, "k", "b", "{}", 2);
    CHECK_EQ_INT(store_pipe_send(p, on_done, NULL), 0);
    wait_in_commit(m);
    /* The caller goes on while the commit is held: its next writes are recorded, not sent. */
    store_del(p, "k", "a");
    store_put(p, "k", "c", "{}", 2);
    CHECK_EQ_INT(dones, 0);
    CHECK(!has(m, "b"));
    gate(m, 0);
    CHECK_EQ_INT(store_pipe_wait(p), 0);
    CHECK_EQ_INT(dones, 1);
    CHECK_EQ_INT(done_ok, 1);
    CHECK(!pthread_equal(done_thread, pthread_self()));
    CHECK(pthread_equal(m->committer, done_thread));
    CHECK(has(m, "a") && has(m, "b") && !has(m, "c"));
    CHECK_EQ_INT(store_pipe_send(p, on_done, NULL), 0);
    CHECK_EQ_INT(store_pipe_wait(p), 0);
    CHECK(!has(m, "a") && has(m, "b") && has(m, "c"));
    CHECK_EQ_INT(m->commits, 2);
    /* Through the store interface: commit hands over and waits. */
    store_put(p, "k", "d", "{}", 2);
    CHECK_EQ_INT(store_commit(p), 0);
    CHECK(has(m, "d"));
    store_close(p);
}

static void test_a_failed_commit_is_told_once(void)
{
    mem_store *m = mem_new();
    store *p = store_pipe_new(&m->base);
    dones = 0;
    m->fail_next = 1;
    store_put(p, "k", "a", "{}", 2);
    CHECK_EQ_INT(store_pipe_send(p, on_done, NULL), 0);
    CHECK_EQ_INT(store_pipe_wait(p), -1);
    CHECK_EQ_INT(dones, 1);
    CHECK_EQ_INT(done_ok, 0);
    CHECK(!has(m, "a"));
    CHECK_EQ_INT(store_pipe_wait(p), 0);
    /* A batch handed over after a failure nobody was told of is refused, and dropped. */
    m->fail_next = 1;
    store_put(p, "k", "b", "{}", 2);
    CHECK_EQ_INT(store_pipe_send(p, on_done, NULL), 0);
    store_put(p, "k", "c", "{}", 2);
    CHECK_EQ_INT(store_pipe_send(p, on_done, NULL), -1);
    store_rollback(p);
    store_put(p, "k", "d", "{}", 2);
    CHECK_EQ_INT(store_pipe_send(p, on_done, NULL), 0);
    CHECK_EQ_INT(store_pipe_wait(p), 0);
    CHECK(!has(m, "b") && !has(m, "c") && has(m, "d"));
    CHECK(strstr(store_errmsg(p), "injected") != NULL);
    /* A scan that fails after it is told by its own cause, not the last commit's. */
    m->fail_scan = 1;
    CHECK_EQ_INT(store_scan(p, "k", NULL, NULL), -1);
    CHECK_STR(store_errmsg(p), "the scan's own failure");
    m->fail_scan = 0;
    store_close(p);
}

static void test_a_batch_with_nothing_to_commit_waits_on_the_commit_in_flight(void)
{
    mem_store *m = mem_new();
    store *p = store_pipe_new(&m->base);
    dones = 0;
    /* None in flight: it runs at once, here. */
    CHECK(!store_pipe_must_commit(p));
    CHECK_EQ_INT(store_pipe_after(p, on_done, NULL), 0);
    CHECK_EQ_INT(dones, 1);
    CHECK_EQ_INT(done_ok, 1);
    CHECK(pthread_equal(done_thread, pthread_self()));
    /* One in flight: the caller is not held, and done runs after that commit, on the writer. */
    gate(m, 1);
    store_put(p, "k", "a", "{}", 2);
    CHECK(store_pipe_must_commit(p));
    CHECK_EQ_INT(store_pipe_send(p, on_done, NULL), 0);
    CHECK(!store_pipe_must_commit(p));
    wait_in_commit(m);
    CHECK_EQ_INT(store_pipe_after(p, on_done, NULL), 0);
    CHECK_EQ_INT(store_pipe_after(p, on_done, NULL), 0);
    usleep(20 * 1000);
    CHECK_EQ_INT(dones, 1);
    gate(m, 0);
    CHECK_EQ_INT(store_pipe_wait(p), 0);
    CHECK_EQ_INT(dones, 4);
    CHECK_EQ_INT(done_ok, 1);
    CHECK(!pthread_equal(done_thread, pthread_self()));
    /* Behind a commit that fails: done is told so, and so is the caller's next hand-over. */
    gate(m, 1);
    m->fail_next = 1;
    store_put(p, "k", "b", "{}", 2);
    CHECK_EQ_INT(store_pipe_send(p, on_done, NULL), 0);
    wait_in_commit(m);
    CHECK_EQ_INT(store_pipe_after(p, on_done, NULL), 0);
    gate(m, 0);
    /* (store_errmsg waits until nothing is in flight, and tells no one of the failure.) */
    CHECK(strstr(store_errmsg(p), "injected") != NULL);
    CHECK_EQ_INT(dones, 6);
    CHECK_EQ_INT(done_ok, 0);
    CHECK_EQ_INT(store_pipe_after(p, on_done, NULL), -1);
    CHECK_EQ_INT(dones, 6);
    CHECK_EQ_INT(store_pipe_after(p, on_done, NULL), 0);
    CHECK_EQ_INT(dones, 7);
    store_close(p);
}

/* The core over a pipe. */
static core_call calls[4];
static atomic_int answered[4], statuses[4], runs, reloads;
static store *core_db;

static void op_write(core_call *call, void *ctx, int64_t now)
{
    char key[8];
    snprintf(key, sizeof key, "w%d", (int)(call - calls));
    store_put(core_db, "k", key, "{}", 2);
    runs++;
    core_answer(call, json_object());
}

static void op_read(core_call *call, void *ctx, int64_t now)
{
    runs++;
    core_answer(call, json_object());
}

static void call_done(core_call *call)
{
    int i = (int)(call - calls);
    statuses[i] = call->status;
    answered[i]++;
    free(call->body);
    call->body = NULL;
}

static int before_commit(void *ctx, int final)
{
    return 0;
}

static int reload(void *ctx, char **err)
{
    reloads++;
    return 0;
}

static void submit(int i)
{
    calls[i] = (core_call){.run = op_write, .req = json_object(), .done = call_done};
    core_submit(&calls[i]);
}

static void wait_for(atomic_int *v, int at_least)
{
    for (int i = 0; i < 2000 && *v < at_least; i++) usleep(5000);
    CHECK(*v >= at_least);
}

static void test_the_core_runs_the_next_batch_while_one_commits(void)
{
    mem_store *m = mem_new();
    core_db = store_pipe_new(&m->base);
    core_hooks hooks = {.before_commit = before_commit, .reload = reload};
    char *err = NULL;
    gate(m, 1);
    CHECK_EQ_INT(core_start(core_db, &hooks, &err), 0);
    submit(0);
    wait_in_commit(m);
    /* Call 0's commit is held: call 1 still runs, in the next batch, but neither is answered
     * before its commit. */
    submit(1);
    wait_for(&runs, 2);
    usleep(50 * 1000);
    CHECK_EQ_INT(answered[0] + answered[1], 0);
    CHECK(!has(m, "w0"));
    gate(m, 0);
    wait_for(&answered[1], 1);
    CHECK_EQ_INT(answered[0], 1);
    CHECK_EQ_INT(statuses[0], 200);
    CHECK_EQ_INT(statuses[1], 200);
    CHECK(has(m, "w0") && has(m, "w1"));

    /* A commit that fails: its call and the one run on top of it get a 503, the state is read
     * back once, and the next call commits. */
    gate(m, 1);
    m->fail_next = 1;
    submit(2);
    wait_in_commit(m);
    submit(3);
    wait_for(&runs, 4);
    gate(m, 0);
    wait_for(&answered[3], 1);
    wait_for(&answered[2], 1);
    CHECK_EQ_INT(statuses[2], 503);
    CHECK_EQ_INT(statuses[3], 503);
    wait_for(&reloads, 1);
    CHECK(!has(m, "w2") && !has(m, "w3"));
    answered[0] = 0;
    submit(0);
    wait_for(&answered[0], 1);
    CHECK_EQ_INT(statuses[0], 200);

    /* A call that writes nothing, run while a commit is held: it is answered only after that
     * commit, but the core does not wait for it, and the next call that writes runs at once. */
    memset(answered, 0, sizeof answered);
    runs = 0;
    gate(m, 1);
    submit(0);
    wait_in_commit(m);
    calls[1] = (core_call){.run = op_read, .req = json_object(), .done = call_done};
    core_submit(&calls[1]);
    wait_for(&runs, 2);
    submit(2);
    wait_for(&runs, 3);
    usleep(20 * 1000);
    CHECK_EQ_INT(answered[0] + answered[1] + answered[2], 0);
    gate(m, 0);
    wait_for(&answered[2], 1);
    CHECK_EQ_INT(answered[0], 1);
    CHECK_EQ_INT(answered[1], 1);
    CHECK_EQ_INT(statuses[1], 200);
    CHECK(has(m, "w0") && has(m, "w2"));
    core_stop();
    CHECK_EQ_INT(reloads, 1);
    store_close(core_db);
}

/* Over a store whose reads need a commit (PostgreSQL's lease check, store.h), a batch that wrote
 * nothing still commits, and is answered only if that commit held. */
static void test_reads_commit_where_the_store_says_so(void)
{
    mem_store *m = mem_new();
    m->base.reads_commit = 1;
    core_db = store_pipe_new(&m->base);
    CHECK(store_pipe_must_commit(core_db));
    core_hooks hooks = {.before_commit = before_commit, .reload = reload};
    char *err = NULL;
    CHECK_EQ_INT(core_start(core_db, &hooks, &err), 0);
    int before = m->commits;
    memset(answered, 0, sizeof answered);
    calls[1] = (core_call){.run = op_read, .req = json_object(), .done = call_done};
    core_submit(&calls[1]);
    wait_for(&answered[1], 1);
    CHECK_EQ_INT(statuses[1], 200);
    CHECK(m->commits > before);
    /* A failed check fails the read. */
    m->fail_next = 1;
    answered[1] = 0;
    calls[1] = (core_call){.run = op_read, .req = json_object(), .done = call_done};
    core_submit(&calls[1]);
    wait_for(&answered[1], 1);
    CHECK_EQ_INT(statuses[1], 503);
    core_stop();
    store_close(core_db);
}

int main(void)
{
    log_level = LOG_ERROR + 1;
    RUN(test_writes_commit_in_order_on_the_writer);
    RUN(test_a_failed_commit_is_told_once);
    RUN(test_a_batch_with_nothing_to_commit_waits_on_the_commit_in_flight);
    RUN(test_the_core_runs_the_next_batch_while_one_commits);
    RUN(test_reads_commit_where_the_store_says_so);
    return 0;
}
