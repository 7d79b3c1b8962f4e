/* retention.c, and the log store's deletion of streams: finished jobs are let go with their
 * children and records, unfinished ones and those an unfinished job may still tell are kept,
 * their events lose them, slices stop at their limit, the submit order goes on after a reload;
 * a deleted stream goes in batches and the file gives its pages back. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/base/logstore.h"
#include "server/base/store.h"
#include "server/engine/attempt.h"
#include "server/model/config.h"
#include "server/model/events.h"
#include "server/model/jobs.h"
#include "server/model/model.h"
#include "server/model/retention.h"
#include "server/model/state.h"
#include "model_testing.h"

static char dir[] = "/tmp/barge-unit-retention-XXXXXX";
static store *db;
static state *st;
static instance inst;
/* Every job here ended before this; retention_pass is asked about a time long after it. */
#define LATER (util_now_ms() + 3600 * 1000)
#define KEEP (60 * 1000)

static void begin(void)
{
    CHECK_EQ_INT(store_begin(db), 0);
}

static void commit(void)
{
    jobs_flush(st);
    events_flush(st);
    CHECK_EQ_INT(st->store_failed, 0);
    CHECK_EQ_INT(store_commit(db), 0);
}

static void reload(void)
{
    model_free(st);
    st = mt_load(db);
}

static job *submit(const char *id, uint32_t size, const char *deps_json)
{
    return mt_create(st, mt_job_desc(id, MT_QUEUE_ARN("q1"), "true", "1", "64"), id, size,
                     deps_json);
}

static void run(job *j)
{
    attempt_start(st, &inst, j);
    attempt_running(st, j, 2000);
}

static void end(job *j, int exit_code)
{
    attempt_end e = {.has_exit_code = 1, .exit_code = exit_code, .status_reason = "exited"};
    attempt_finish(st, j, &e, 3000);
}

static void run_to_end(job *j, int exit_code)
{
    run(j);
    end(j, exit_code);
}

static jq_rt *q1(void)
{
    return jobs_queue(st->jobs, "q1");
}

static int listed(const char *id)
{
    jq_rt *q = q1();
    for (size_t i = 0; i < q->n_all; i++)
        if (strcmp(q->all[i]->id, id) == 0) return 1;
    return 0;
}

/* Every event kept names a job that is still known (or none). */
static void check_events_valid(void)
{
    for (uint64_t s = events_first(st->events); s <= events_last(st->events); s++) {
        event_rec *e = events_get(st->events, s);
        if (e && e->j) CHECK(jobs_find(st->jobs, e->j->id) == e->j);
    }
}

/* The queue's lists hold the jobs still known, in submit order, as many as its counts say. */
static void check_lists(void)
{
    jq_rt *q = q1();
    uint32_t counted = 0;
    for (int s = 0; s < JS_COUNT; s++) counted += q->n_status[s];
    CHECK_EQ_INT(q->n_all, counted);
    for (size_t i = 0; i < q->n_all; i++) {
        CHECK(jobs_find(st->jobs, q->all[i]->id) == q->all[i]);
        if (i) CHECK(q->all[i - 1]->seq < q->all[i]->seq);
    }
    for (size_t i = 0; i < q->n_arrays; i++) {
        CHECK(jobs_find(st->jobs, q->arrays[i]->id) == q->arrays[i]);
        if (i) CHECK(q->arrays[i - 1]->seq < q->arrays[i]->seq);
    }
}

static retention_stats pass(int64_t now, size_t max)
{
    begin();
    retention_stats rs = retention_pass(st, now, KEEP, max);
    commit();
    check_events_valid();
    check_lists();
    return rs;
}

static void test_finished_jobs_go_with_their_children(void)
{
    begin();
    job *a = submit("a", 0, NULL);
    job *arr = submit("arr", 3, NULL);
    job *lng = submit("long", 0, NULL);
    run_to_end(a, 0);
    job *waiting = submit("waiting", 0, "[{\"jobId\":\"a\"},{\"jobId\":\"long\"}]");
    for (int k = 0; k < 3; k++) run_to_end(arr->children[k], k == 1);
    run(lng);
    commit();
    CHECK_STR(job_status_name(arr->status), "FAILED");
    uint64_t a_event = a->last_event;
    CHECK(a_event > 0);
    /* Not yet: they ended (at 3000, the attempt's time; the array now) less than KEEP ago. */
    retention_stats rs = pass(3000 + KEEP - 1, 100);
    CHECK_EQ_INT(rs.jobs, 0);
    rs = pass(LATER, 100);
    CHECK_EQ_INT(rs.jobs, 2);
    CHECK_EQ_INT(rs.records, 1 + 4);
    CHECK(jobs_find(st->jobs, "a") == NULL);
    CHECK(jobs_find(st->jobs, "arr") == NULL);
    CHECK(jobs_find(st->jobs, "arr:1") == NULL);
    CHECK(events_get(st->events, a_event)->j == NULL);
    CHECK(!listed("a") && !listed("arr"));
    CHECK(listed("waiting") && listed("long"));
    CHECK_EQ_INT(q1()->n_arrays, 0);
    CHECK_EQ_INT(q1()->n_status[JS_SUCCEEDED] + q1()->n_status[JS_FAILED], 0);
    CHECK_EQ_INT(q1()->n_status[JS_PENDING], 1);
    CHECK_EQ_INT(q1()->n_status[JS_RUNNING], 1);
    /* The waiting job runs once "long" succeeds, "a" gone. */
    begin();
    end(lng, 0);
    commit();
    CHECK_STR(job_status_name(waiting->status), "RUNNABLE");
    /* The records went too: a reload finds neither, and the dependency on "a" counts as met. */
    reload();
    CHECK(jobs_find(st->jobs, "a") == NULL);
    CHECK(jobs_find(st->jobs, "arr") == NULL);
    CHECK(jobs_find(st->jobs, "long") != NULL);
    CHECK_STR(job_status_name(jobs_find(st->jobs, "waiting")->status), "RUNNABLE");
    begin();
    jobs_cancel(st, jobs_find(st->jobs, "waiting"), "done with it", 0);
    commit();
}

static void test_a_job_an_unfinished_one_may_tell_stays(void)
{
    begin();
    job *bad = submit("bad", 0, NULL);
    job *slow = submit("slow", 0, NULL);
    job *w = submit("w", 0, "[{\"jobId\":\"bad\"},{\"jobId\":\"slow\"}]");
    run(slow);
    run_to_end(bad, 1);
    commit();
    CHECK_STR(job_status_name(w->status), "FAILED");
    pass(LATER, 100);
    CHECK(jobs_find(st->jobs, "bad") == NULL);
    CHECK(jobs_find(st->jobs, "w") == w);
    /* slow ends (an hour from now, by its agent's clock) and tells w (finished: nothing
     * happens to it); then w may go, and goes off slow's list of dependents, which stays. */
    begin();
    int64_t hour = util_now_ms() + 3600 * 1000;
    attempt_end e = {.has_exit_code = 1, .exit_code = 0, .status_reason = "exited"};
    attempt_finish(st, slow, &e, hour);
    commit();
    CHECK_EQ_INT(slow->n_dependents, 1);
    pass(util_now_ms() + 2 * KEEP, 100);
    CHECK(jobs_find(st->jobs, "w") == NULL);
    CHECK(jobs_find(st->jobs, "slow") == slow);
    CHECK_EQ_INT(slow->n_dependents, 0);
    pass(hour + KEEP, 100);
    CHECK(jobs_find(st->jobs, "slow") == NULL);
    /* A job that still waits for its dependencies of course stays: it is not finished. */
}

static void test_slices_stop_at_their_limit(void)
{
    begin();
    const char *ids[] = {"s0", "s1", "s2"};
    job *stays[3];
    for (int i = 0; i < 3; i++) {
        job *p = submit(ids[i], 4, NULL);
        for (int k = 0; k < 4; k++) run_to_end(p->children[k], 0);
        /* Between the arrays, jobs that stay: the lists close up around what goes. */
        char id[24];
        snprintf(id, sizeof id, "keep%d", i);
        stays[i] = submit(id, i == 1 ? 2 : 0, NULL);
    }
    commit();
    retention_stats rs = pass(LATER, 6);
    CHECK_EQ_INT(rs.jobs, 1);
    CHECK(rs.more);
    rs = pass(LATER, 11);
    CHECK_EQ_INT(rs.jobs, 2);
    CHECK(!rs.more);
    for (int i = 0; i < 3; i++) CHECK(jobs_find(st->jobs, stays[i]->id) == stays[i]);
    CHECK_EQ_INT(q1()->n_arrays, 1);
    begin();
    for (int i = 0; i < 3; i++) jobs_cancel(st, stays[i], "done with it", 0);
    commit();
    CHECK_EQ_INT(pass(LATER, 100).jobs, 3);
    CHECK_EQ_INT(q1()->n_all, 0);
    /* An array larger than a slice goes alone. */
    begin();
    job *big = submit("big", 8, NULL);
    for (int k = 0; k < 8; k++) run_to_end(big->children[k], 0);
    commit();
    rs = pass(LATER, 2);
    CHECK_EQ_INT(rs.jobs, 1);
    CHECK(jobs_find(st->jobs, "big") == NULL);
}

static int count_record(void *arg, const char *key, const char *doc, size_t len)
{
    (*(int *)arg)++;
    return 0;
}

static void test_submit_order_goes_on(void)
{
    begin();
    job *j = submit("last", 0, NULL);
    uint64_t seq = j->seq;
    run_to_end(j, 0);
    commit();
    pass(LATER, 100);
    /* No job is left in the store, nor the record of the spec they shared; the next one still
     * comes after every earlier one. */
    int specs = 0;
    CHECK_EQ_INT(store_scan(db, "spec", count_record, &specs), 0);
    CHECK_EQ_INT(specs, 0);
    reload();
    CHECK_EQ_INT(q1()->n_all, 0);
    CHECK(st->jobs->next_seq > seq);
}

static int64_t file_size(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0 ? (int64_t)s.st_size : -1;
}

/* The events a log store's file holds, read beside the store. */
static long long count_events(const char *path)
{
    sqlite3 *file;
    sqlite3_stmt *q;
    long long n = -1;
    CHECK_EQ_INT(sqlite3_open_v2(path, &file, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(file, 5000);
    if (sqlite3_prepare_v2(file, "SELECT count(*) FROM events", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(file);
    return n;
}

static void test_a_log_stream_is_deleted_in_batches(void)
{
    char *err = NULL;
    logstore *ls = logstore_open(dir, &err);
    if (!ls) CHECK_FAIL_("logstore_open: %s", err);
    static char line[1024];
    memset(line, 'x', sizeof line);
    logstore_event ev[500];
    for (int i = 0; i < 500; i++) ev[i] = (logstore_event){.timestamp = i, .message = line,
                                                          .len = sizeof line};
    uint64_t t = 0;
    for (int b = 0; b < 30; b++) t = logstore_append(ls, "/g", "big", ev, 500);
    t = logstore_append(ls, "/g", "other", ev, 1);
    CHECK_EQ_INT(logstore_wait(ls, t), 0);
    char *path = xasprintf("%s/logs.db", dir);
    logstore_close(ls);
    int64_t full = file_size(path);
    CHECK(full > 15 * 1000 * 1000);
    ls = logstore_open(dir, &err);
    CHECK(ls != NULL);
    logstore_delete_stream(ls, "/g", "big");
    logstore_delete_stream(ls, "/g", "no-such-stream");
    /* The stream is gone at once; its 15,000 events go in three batches and more, while the
     * writer goes on with what comes meanwhile. */
    CHECK_EQ_INT(logstore_wait(ls, logstore_append(ls, "/g", "other", ev, 1)), 0);
    CHECK_EQ_INT(logstore_stream_exists(ls, "/g", "big"), 0);
    CHECK_EQ_INT(logstore_stream_exists(ls, "/g", "other"), 1);
    int64_t deadline = util_mono_ms() + 20000;
    while (count_events(path) > 2 && util_mono_ms() < deadline) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    CHECK_EQ_INT(count_events(path), 2);
    logstore_close(ls);
    /* The freed pages went back to the file system but a few (FREE_PAGES_KEPT / 2). */
    int64_t after = file_size(path);
    if (after > full / 2)
        CHECK_FAIL_("logs.db is %lld bytes after the deletion, %lld before", (long long)after,
                    (long long)full);
    free(path);
}

int main(void)
{
    log_level = LOG_ERROR;
    config_defaults(&barge_cfg);
    db = mt_store_open(dir);
    st = mt_load(db);
    inst.id = "i-test";
    inst.ce = "ce1";
    inst.mvcpus = 64000;
    inst.memory_mib = 262144;
    inst.registered = 1;
    RUN(test_finished_jobs_go_with_their_children);
    RUN(test_a_job_an_unfinished_one_may_tell_stays);
    RUN(test_slices_stop_at_their_limit);
    RUN(test_submit_order_goes_on);
    RUN(test_a_log_stream_is_deleted_in_batches);
    model_free(st);
    mt_store_close(db, dir);
    return 0;
}
