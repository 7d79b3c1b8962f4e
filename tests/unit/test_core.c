/* core.c: every call of a batch is answered exactly once, including a long poll that is parked
 * and answered within the batch that parked it; what waits for a commit (core_after_commit) runs
 * once it is known, on the core thread, and is told whether it held. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "server/base/core.h"
#include "server/base/store.h"
#include "server/base/store_pipe.h"
#include "check.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int answered[8];
static int statuses[8];
static core_call *parked;

static void op_park(core_call *call, void *ctx, int64_t now)
{
    parked = call;
    core_park(call);
}

static void op_wake(core_call *call, void *ctx, int64_t now)
{
    if (parked) core_reply(parked, json_pack("{s:b}", "woken", 1));
    parked = NULL;
    core_answer(call, json_object());
}

static void op_plain(core_call *call, void *ctx, int64_t now)
{
    core_answer(call, json_object());
}

/* The core is generic: these hooks stand in for the server's. */
static int commits, finals, reloads, fail_commit, wrote, fail_reloads;
/* When set, the first batch after each reload writes a record through it (before_commit), as
 * the server's first commit writes what loading changed. */
static store *leftover;
static int leftover_armed;
static atomic_int ticks; /* written by the core thread, watched by the test */
static int before_commit(void *ctx, int final)
{
    commits++;
    finals += final;
    /* What a state read back may leave to write (a record loading changed). */
    if (leftover && leftover_armed) {
        leftover_armed = 0;
        if (store_put(leftover, "test", "left", "{}", 2) != 0) return -1;
    }
    /* The batch that wrote fails, as if one of its writes had. */
    int fail = fail_commit && wrote;
    wrote = 0;
    return fail ? -1 : 0;
}

/* Set: every reload fails until the test clears it (after fail_reloads' ones). */
static int unreadable;

static int reload(void *ctx, char **err)
{
    reloads++;
    leftover_armed = 1;
    if (fail_reloads > 0 || __atomic_load_n(&unreadable, __ATOMIC_SEQ_CST)) {
        /* A store that cannot be read (a database gone away) */
        if (fail_reloads > 0) fail_reloads--;
        *err = strdup("the store cannot be read");
        return -1;
    }
    fail_commit = 0;
    return 0;
}

static void tick(void *ctx)
{
    ticks++;
}

/* A call that writes a record through the store given as the hooks' ctx. */
static int write_runs; /* op_write's, on the core thread */

static void op_write(core_call *call, void *ctx, int64_t now)
{
    write_runs++;
    wrote = 1;
    if (store_put(ctx, "test", "k", "{}", 2) != 0) {
        core_answer_error(call, 500, "ServerException", "the write failed");
        return;
    }
    core_answer(call, json_object());
}

static int count_one(void *arg, const char *key, const char *doc, size_t len)
{
    ++*(int *)arg;
    return 0;
}

static core_call calls[8];

static void done(core_call *call)
{
    int i = (int)(call - calls);
    pthread_mutex_lock(&mu);
    answered[i]++;
    statuses[i] = call->status;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    free(call->body);
    call->body = NULL;
}

static void prepare(int i, void (*op)(core_call *, void *, int64_t), void (*fn)(core_call *))
{
    calls[i].run = op;
    calls[i].req = json_object();
    calls[i].done = fn;
}

/* Runs on the core thread after the first batch: queues the next calls together, so that the
 * core takes them as one batch. */
static void trigger_done(core_call *call)
{
    done(call);
    for (int i = 1; i <= 4; i++) core_submit(&calls[i]);
}

/* Waits (up to timeout_s) until calls from..to-1 are answered; 0 when they were not. */
static int wait_calls(int from, int to, int timeout_s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_s;
    pthread_mutex_lock(&mu);
    int ok = 1;
    for (;;) {
        int all = 1;
        for (int i = from; i < to; i++) all &= answered[i] >= 1;
        if (all) break;
        if (pthread_cond_timedwait(&cv, &mu, &ts) != 0) {
            ok = 0;
            break;
        }
    }
    pthread_mutex_unlock(&mu);
    return ok;
}

static int wait_answered(int n, int timeout_s)
{
    return wait_calls(0, n, timeout_s);
}

static int wait_answered_one(int i, int timeout_s)
{
    return wait_calls(i, i + 1, timeout_s);
}

/* Each case has a store of its own in a fresh directory (over the commit thread's pipe when
 * `pipe`), removed after.  `fault`, when not NULL, is the BARGE_FAULT_STORE file the store
 * watches (made inside the directory). */
typedef struct {
    char dir[64];
    char fault[96];
    store *db;
} fixture;

static void fixture_open(fixture *fx, int pipe, int fault)
{
    snprintf(fx->dir, sizeof fx->dir, "/tmp/barge-unit-core-XXXXXX");
    CHECK(mkdtemp(fx->dir) != NULL);
    snprintf(fx->fault, sizeof fx->fault, "%s/fault", fx->dir);
    if (fault) setenv("BARGE_FAULT_STORE", fx->fault, 1);
    char *err = NULL;
    fx->db = store_sqlite_open(fx->dir, STORE_SYNC_NORMAL, &err);
    if (fault) unsetenv("BARGE_FAULT_STORE");
    if (!fx->db) CHECK_FAIL_("store_sqlite_open: %s", err);
    if (pipe) fx->db = store_pipe_new(fx->db);
}

static void fixture_close(fixture *fx)
{
    store_close(fx->db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", fx->dir);
    CHECK_EQ_INT(system(cmd), 0);
}

static void test_parked_and_answered_in_one_batch(void)
{
    fixture fx;
    fixture_open(&fx, 0, 0);
    store *db = fx.db;
    char *err = NULL;
    core_hooks hooks = {.before_commit = before_commit, .reload = reload};
    CHECK_EQ_INT(core_start(db, &hooks, &err), 0);

    /* The batch: a plain call, a long poll that parks, a call that answers the poll, and two
     * plain calls after it.  Every one of them must be answered once. */
    prepare(0, op_plain, trigger_done);
    prepare(1, op_plain, done);
    prepare(2, op_park, done);
    prepare(3, op_wake, done);
    prepare(4, op_plain, done);
    core_submit(&calls[0]);
    CHECK(wait_answered(5, 10));
    /* Nothing is answered twice, even a moment later. */
    usleep(100 * 1000);
    pthread_mutex_lock(&mu);
    for (int i = 0; i < 5; i++) {
        CHECK_EQ_INT(answered[i], 1);
        CHECK_EQ_INT(statuses[i], 200);
    }
    pthread_mutex_unlock(&mu);

    core_stop();
    /* Every batch, the last one included, ran the before-commit hook. */
    CHECK(commits >= 2);
    fixture_close(&fx);
}

/* A batch whose before-commit hook reports a failed write is rolled back, answered with a
 * ServerException, and the state reloaded; the next batch commits.  The tick hook runs at once
 * and then on its period; the last batch is the final one. */
static void test_failed_batch_rolls_back_and_reloads(void)
{
    fixture fx;
    fixture_open(&fx, 0, 0);
    store *db = fx.db;
    char *err = NULL;
    memset(answered, 0, sizeof answered);
    commits = finals = reloads = ticks = wrote = 0;
    fail_commit = 1;
    core_hooks hooks = {.ctx = db, .before_commit = before_commit, .reload = reload,
                        .tick = tick, .tick_ms = 50};
    CHECK_EQ_INT(core_start(db, &hooks, &err), 0);
    prepare(5, op_write, done);
    core_submit(&calls[5]);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    pthread_mutex_lock(&mu);
    while (!answered[5] && pthread_cond_timedwait(&cv, &mu, &ts) == 0) {}
    CHECK_EQ_INT(answered[5], 1);
    CHECK_EQ_INT(statuses[5], 503);
    pthread_mutex_unlock(&mu);
    /* The tick hook keeps running on its period (waited for, not timed: machines are busy). */
    for (int i = 0; i < 1000 && ticks < 3; i++) usleep(10 * 1000);
    core_stop();
    /* The batch of the write failed and the state was reloaded once; the write is gone. */
    CHECK_EQ_INT(reloads, 1);
    CHECK(ticks >= 3);
    CHECK_EQ_INT(finals, 1);
    int n = 0;
    CHECK_EQ_INT(store_scan(db, "test", count_one, &n), 0);
    CHECK_EQ_INT(n, 0);
    fixture_close(&fx);
}

/* A failed commit whose state cannot be read back leaves the core broken: calls are answered
 * 503 without running, until a reload succeeds (tried every half second); then they run.  The
 * store stays unreadable until the test has seen a call refused, however slowly it runs. */
static void test_unreadable_store_answers_503_until_it_reads(void)
{
    fixture fx;
    fixture_open(&fx, 0, 0);
    store *db = fx.db;
    char *err = NULL;
    memset(answered, 0, sizeof answered);
    commits = finals = reloads = ticks = wrote = 0;
    fail_commit = 1;
    fail_reloads = 0;
    __atomic_store_n(&unreadable, 1, __ATOMIC_SEQ_CST);
    core_hooks hooks = {.ctx = db, .before_commit = before_commit, .reload = reload};
    int64_t t0 = util_mono_ms();
    CHECK_EQ_INT(core_start(db, &hooks, &err), 0);
    prepare(0, op_write, done);
    core_submit(&calls[0]);
    CHECK(wait_answered(1, 10));
    CHECK_EQ_INT(statuses[0], 503);
    /* Broken now: a write is refused without running. */
    pthread_mutex_lock(&mu);
    int ran = write_runs;
    pthread_mutex_unlock(&mu);
    prepare(1, op_write, done);
    core_submit(&calls[1]);
    CHECK(wait_answered(2, 10));
    CHECK_EQ_INT(statuses[1], 503);
    CHECK_EQ_INT(write_runs, ran);
    int n = 0;
    CHECK_EQ_INT(store_scan(db, "test", count_one, &n), 0);
    CHECK_EQ_INT(n, 0);
    /* The store can be read again: the next reload (half a second after the last) succeeds,
     * and a write then commits. */
    __atomic_store_n(&unreadable, 0, __ATOMIC_SEQ_CST);
    int ok = 0;
    for (int i = 0; i < 100 && !ok; i++) {
        answered[2] = 0;
        prepare(2, op_write, done);
        core_submit(&calls[2]);
        pthread_mutex_lock(&mu);
        while (!answered[2]) pthread_cond_wait(&cv, &mu);
        ok = statuses[2] == 200;
        pthread_mutex_unlock(&mu);
        if (!ok) usleep(100 * 1000);
    }
    CHECK(ok);
    /* The failed commit's, failed; then one every half second, not one a call. */
    CHECK(reloads >= 2);
    CHECK(reloads <= 3 + (util_mono_ms() - t0) / 500);
    core_stop();
    n = 0;
    CHECK_EQ_INT(store_scan(db, "test", count_one, &n), 0);
    CHECK_EQ_INT(n, 1);
    fixture_close(&fx);
}

/* core_after_commit: a call writes a record and asks to be told of its commit. */
static pthread_t core_thread;
static int after_runs, after_durable, after_seen, after_on_core;
static void after_fn(void *ctx, void *arg, int durable)
{
    pthread_mutex_lock(&mu);
    after_runs++;
    pthread_mutex_unlock(&mu);
    after_durable = durable;
    after_on_core = pthread_equal(pthread_self(), core_thread);
    /* What the store holds by then (over a pipe, the scan waits for the commit in flight). */
    after_seen = 0;
    CHECK_EQ_INT(store_scan(ctx, "test", count_one, &after_seen), 0);
    CHECK_EQ_INT(*(int *)arg, 42);
    pthread_mutex_lock(&mu);
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static int after_runs_now(void)
{
    pthread_mutex_lock(&mu);
    int n = after_runs;
    pthread_mutex_unlock(&mu);
    return n;
}

static void op_write_after(core_call *call, void *ctx, int64_t now)
{
    core_thread = pthread_self();
    int *arg = malloc(sizeof *arg);
    *arg = 42;
    core_after_commit(after_fn, arg);
    op_write(call, ctx, now);
    /* Not within the batch: it waits for the commit. */
    CHECK_EQ_INT(after_runs_now(), 0);
}

static void wait_after(int runs)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    pthread_mutex_lock(&mu);
    while (after_runs < runs && pthread_cond_timedwait(&cv, &mu, &ts) == 0) {}
    pthread_mutex_unlock(&mu);
}

static void after_commit_case(int pipe, int fail)
{
    fixture fx;
    fixture_open(&fx, pipe, 0);
    store *db = fx.db;
    char *err = NULL;
    memset(answered, 0, sizeof answered);
    commits = finals = reloads = wrote = after_runs = 0;
    after_durable = after_seen = after_on_core = -1;
    fail_commit = fail;
    core_hooks hooks = {.ctx = db, .before_commit = before_commit, .reload = reload};
    CHECK_EQ_INT(core_start(db, &hooks, &err), 0);
    prepare(6, op_write_after, done);
    core_submit(&calls[6]);
    wait_after(1);
    /* Told once, on the core thread, of what happened to the write (and not again a moment
     * later). */
    usleep(50 * 1000);
    core_stop();
    CHECK_EQ_INT(answered[6], 1);
    CHECK_EQ_INT(after_runs, 1);
    CHECK_EQ_INT(after_on_core, 1);
    CHECK_EQ_INT(statuses[6], fail ? 503 : 200);
    CHECK_EQ_INT(after_durable, !fail);
    CHECK_EQ_INT(after_seen, !fail);
    fixture_close(&fx);
}

static void test_after_commit_runs_once_the_commit_held(void)
{
    after_commit_case(0, 0);
    after_commit_case(1, 0);
}

static void test_after_commit_is_told_of_a_failed_commit(void)
{
    after_commit_case(0, 1);
    after_commit_case(1, 1);
}

/* The batch fails and its state cannot be read back: the core is broken when the waiting call
 * comes back to run, and refuses it; it is still told (0), not forgotten. */
static void test_after_commit_is_told_while_the_core_is_broken(void)
{
    fixture fx;
    fixture_open(&fx, 0, 0);
    store *db = fx.db;
    char *err = NULL;
    memset(answered, 0, sizeof answered);
    commits = finals = reloads = wrote = after_runs = 0;
    after_durable = after_seen = after_on_core = -1;
    fail_commit = 1;
    fail_reloads = 1;
    core_hooks hooks = {.ctx = db, .before_commit = before_commit, .reload = reload};
    CHECK_EQ_INT(core_start(db, &hooks, &err), 0);
    prepare(6, op_write_after, done);
    core_submit(&calls[6]);
    wait_after(1);
    core_stop();
    CHECK_EQ_INT(after_runs, 1);
    CHECK_EQ_INT(after_durable, 0);
    CHECK_EQ_INT(after_on_core, 1);
    CHECK_EQ_INT(statuses[6], 503);
    fixture_close(&fx);
}

/* A store whose every commit fails, under a state that always has something to write: the
 * core reads the state back after each failure, but the turns that only a failure woke slow
 * down (10 ms, 20 ms... 1 s) instead of failing as fast as the store answers. */
static void test_a_store_that_keeps_failing_is_tried_at_a_slowing_pace(void)
{
    fixture fx;
    fixture_open(&fx, 1, 1);
    store *db = fx.db;
    const char *fault = fx.fault;
    char *err = NULL;
    memset(answered, 0, sizeof answered);
    commits = finals = reloads = wrote = fail_commit = 0;
    core_hooks hooks = {.ctx = db, .before_commit = before_commit, .reload = reload};
    CHECK_EQ_INT(core_start(db, &hooks, &err), 0);
    FILE *f = fopen(fault, "w");
    CHECK(f != NULL);
    fclose(f);
    leftover = db;
    prepare(7, op_write, done);
    core_submit(&calls[7]);
    CHECK(wait_answered_one(7, 10));
    CHECK_EQ_INT(statuses[7], 503);
    /* A second and a half of a store that fails every commit: 10+20+...+640 ms is 8 turns,
     * where reading back at once would make hundreds. */
    usleep(1500 * 1000);
    int during = reloads;
    CHECK(during >= 2);
    CHECK(during <= 20);
    /* The store writes again: a call commits, at the latest after the turn that had already
     * failed before the file went (a slow turn may have tried it just before). */
    unlink(fault);
    int ok = 0;
    for (int i = 0; i < 50 && !ok; i++) {
        pthread_mutex_lock(&mu);
        answered[7] = 0;
        pthread_mutex_unlock(&mu);
        prepare(7, op_write, done);
        core_submit(&calls[7]);
        CHECK(wait_answered_one(7, 10));
        ok = statuses[7] == 200;
        if (!ok) {
            CHECK_EQ_INT(statuses[7], 503);
            CHECK(i < 2); /* one turn at most had tried the store before the file went */
            usleep(100 * 1000);
        }
    }
    CHECK(ok);
    leftover = NULL;
    core_stop();
    fixture_close(&fx);
}

int main(void)
{
    log_level = LOG_ERROR + 1;
    RUN(test_parked_and_answered_in_one_batch);
    RUN(test_failed_batch_rolls_back_and_reloads);
    RUN(test_unreadable_store_answers_503_until_it_reads);
    RUN(test_after_commit_runs_once_the_commit_held);
    RUN(test_after_commit_is_told_of_a_failed_commit);
    RUN(test_after_commit_is_told_while_the_core_is_broken);
    RUN(test_a_store_that_keeps_failing_is_tried_at_a_slowing_pace);
    return 0;
}
