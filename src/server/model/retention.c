/* retention — see retention.h. */
#include "server/model/retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/base/core.h"
#include "server/base/logstore.h"
#include "server/base/metrics.h"
#include "server/base/store.h"
#include "server/model/config.h"
#include "server/model/events.h"
#include "server/model/jobs.h"
#include "server/model/state.h"

/* The record that carries the submit order on (model.c's kind for records about the server). */
#define META_KIND "meta"
#define NEXT_SEQ_KEY "next-seq"

static int64_t end_of(const job *j)
{
    return j->stopped_at ? j->stopped_at : j->created_at;
}

/* Whether a job j names in its dependsOn is still unfinished: j may then still be on its list
 * of dependents (it failed because another dependency did), and must outlive it. */
static int waits_on_unfinished(state *st, const job *j)
{
    const char *own = j->spec->own;
    if (!strstr(own, "\"dependsOn\"") || strstr(own, "\"dependsOn\":[]")) return 0;
    json_t *deps = jobspec_own(j->spec, "dependsOn");
    int found = 0;
    size_t i;
    json_t *d;
    json_array_foreach(deps, i, d) {
        job *on = jobs_find(st->jobs, json_string_value(json_object_get(d, "jobId")));
        if (on && !job_status_done(on->status)) found = 1;
    }
    json_decref(deps);
    return found;
}

/* Takes j, marked gone, off the lists of dependents of the jobs it named in its dependsOn that
 * stay, so that no list points at freed memory. */
static void unhook(state *st, const job *j)
{
    const char *own = j->spec->own;
    if (!strstr(own, "\"dependsOn\"") || strstr(own, "\"dependsOn\":[]")) return;
    json_t *deps = jobspec_own(j->spec, "dependsOn");
    size_t i;
    json_t *d;
    json_array_foreach(deps, i, d) {
        job *on = jobs_find(st->jobs, json_string_value(json_object_get(d, "jobId")));
        if (on && !(on->parent ? on->parent : on)->gone) jobs_forget_gone_dependents(on);
    }
    json_decref(deps);
}

static int removable(state *st, const job *j)
{
    if (!job_status_done(j->status) || j->dirty) return 0;
    for (uint32_t k = 0; j->children && k < j->array_size; k++)
        if (!job_status_done(j->children[k]->status) || j->children[k]->dirty) return 0;
    return !waits_on_unfinished(st, j);
}

/* A removed job's log streams are deleted by the log store, on its own thread and in its own
 * transactions, a few thousand events a batch: a crash between its batches, or a batch that
 * fails (a full disk), would leave the rest of a stream for ever, its job already gone.  So
 * each deletion is also a record ("GROUP:STREAM": neither name may hold ':'), written with the
 * job's removal and deleted once the stream is found gone; until then the deletion is queued
 * again every LOGDEL_RECHECK_MS (again and again while the log store fails), and at start. */
#define LOGDEL_KIND "ldel"
#define LOGDEL_RECHECK_MS 5000
/* The streams looked up a tick at most: each is a read of the log store on the core. */
#define LOGDEL_CHECKS_PER_TICK 200

typedef struct logdel {
    char *key; /* GROUP:STREAM, the record's key */
    int64_t due;
    uint64_t ticket; /* the deletion last queued (0: none since the start) */
} logdel;

/* Deletions to be seen through, oldest due first (a queue: dels[head..n)).  The core's. */
static logdel *dels;
static size_t n_dels, head_dels, cap_dels;

static void logdel_push(char *key, int64_t due, uint64_t ticket)
{
    if (head_dels && head_dels * 2 >= n_dels) {
        memmove(dels, dels + head_dels, (n_dels - head_dels) * sizeof *dels);
        n_dels -= head_dels;
        head_dels = 0;
    }
    if (n_dels == cap_dels) {
        cap_dels = cap_dels ? 2 * cap_dels : 64;
        dels = xrealloc(dels, cap_dels * sizeof *dels);
    }
    dels[n_dels++] = (logdel){.key = key, .due = due, .ticket = ticket};
}

static void logdel_clear(void)
{
    for (size_t i = head_dels; i < n_dels; i++) free(dels[i].key);
    n_dels = head_dels = 0;
}

/* Queues the deletion of one stream of a removed job, and records it. */
static void drop_stream(state *st, const char *group, const char *stream)
{
    uint64_t ticket = logstore_delete_stream(st->logs, group, stream);
    char *key = xasprintf("%s:%s", group, stream);
    if (store_put(st->db, LOGDEL_KIND, key, "{}", 2) != 0) {
        log_error("store: recording the deletion of log stream %s failed: %s", key,
                  store_errmsg(st->db));
        st->store_failed = 1;
    }
    logdel_push(key, util_now_ms() + LOGDEL_RECHECK_MS, ticket);
}

/* Sees the deletions due through: a stream gone loses its record; one still there is queued
 * for deletion again. */
static void check_logdels(state *st, int64_t now)
{
    if (!st->logs) return;
    int again = 0;
    for (int k = 0; k < LOGDEL_CHECKS_PER_TICK && head_dels < n_dels; k++) {
        logdel d = dels[head_dels];
        if (d.due > now) break;
        head_dels++;
        /* Still queued behind other work (a large removal's backlog): looked at later. */
        if (d.ticket && !logstore_passed(st->logs, d.ticket)) {
            logdel_push(d.key, now + LOGDEL_RECHECK_MS, d.ticket);
            continue;
        }
        char *colon = strchr(d.key, ':');
        if (!colon) { /* not a key this file writes: dropped */
            store_del(st->db, LOGDEL_KIND, d.key);
            free(d.key);
            continue;
        }
        *colon = '\0';
        int there = logstore_stream_exists(st->logs, d.key, colon + 1);
        /* Still there: its deletion's first batch failed.  Once that batch is written the
         * stream is gone from every lookup; the log store finishes deleting its events itself
         * (after a failed later batch, or at the next open after a stop). */
        if (there == 1) d.ticket = logstore_delete_stream(st->logs, d.key, colon + 1);
        *colon = ':';
        if (there == 0) {
            if (store_del(st->db, LOGDEL_KIND, d.key) != 0) st->store_failed = 1;
            free(d.key);
            continue;
        }
        again += there == 1;
        logdel_push(d.key, now + LOGDEL_RECHECK_MS, d.ticket);
    }
    if (again)
        log_info("retention: %d log stream%s of removed jobs %s still there; deleting %s again",
                 again, again == 1 ? "" : "s", again == 1 ? "was" : "were",
                 again == 1 ? "it" : "them");
}

static int read_logdel(void *arg, const char *key, const char *doc, size_t len)
{
    logdel_push(xstrdup(key), 0, 0);
    return 0;
}

/* Queues the deletion of the log streams of j's attempts; returns how many. */
static size_t drop_logs(state *st, const job *j)
{
    if (!st->logs) return 0;
    const char *group = jobspec_log_group(j->spec);
    const char *last = NULL;
    size_t n = 0, i;
    json_t *a;
    json_array_foreach(j->attempts, i, a) {
        const char *stream = json_string_value(
            json_object_get(json_object_get(a, "container"), "logStreamName"));
        if (!stream) continue;
        drop_stream(st, group, stream);
        last = stream;
        n++;
    }
    /* The latest attempt's stream is also the job's own until the next attempt starts. */
    if (j->log_stream && (!last || strcmp(last, j->log_stream) != 0)) {
        drop_stream(st, group, j->log_stream);
        n++;
    }
    return n;
}

static void note_next_seq(state *st)
{
    char doc[48];
    int len = snprintf(doc, sizeof doc, "{\"next\":%llu}",
                       (unsigned long long)st->jobs->next_seq);
    if (store_put(st->db, META_KIND, NEXT_SEQ_KEY, doc, (size_t)len) != 0) {
        log_error("store: writing the next submit number failed: %s", store_errmsg(st->db));
        st->store_failed = 1;
    }
}

retention_stats retention_pass(state *st, int64_t now_ms, int64_t keep_ms, size_t max_jobs)
{
    jobs *js = st->jobs;
    retention_stats rs = {0};
    job **batch = NULL;
    size_t n_batch = 0, cap_batch = 0;
    /* Each finished job is looked at once per slice at most: one that must stay goes to the
     * back of the list. */
    size_t left = js->n_finished - js->fin_head;
    while (left && js->fin_head < js->n_finished) {
        job *j = js->finished[js->fin_head];
        if (end_of(j) > now_ms - keep_ms) break;
        size_t weight = 1 + (j->children ? j->array_size : 0);
        if (n_batch && rs.records + weight > max_jobs) {
            rs.more = 1;
            break;
        }
        js->fin_head++;
        left--;
        if (!removable(st, j)) {
            jobs_note_finished(js, j);
            continue;
        }
        j->gone = 1;
        if (n_batch == cap_batch) {
            cap_batch = cap_batch ? cap_batch * 2 : 64;
            batch = xrealloc(batch, cap_batch * sizeof *batch);
        }
        batch[n_batch++] = j;
        rs.records += weight;
    }
    if (!n_batch) return rs;
    /* Their events lose them (the job's own, found through their links: no scan of the
     * kept events, which may be millions). */
    for (size_t i = 0; st->events && i < n_batch; i++) {
        job *j = batch[i];
        events_forget(st->events, j);
        for (uint32_t k = 0; j->children && k < j->array_size; k++)
            events_forget(st->events, j->children[k]);
    }
    for (size_t i = 0; i < n_batch; i++) {
        job *j = batch[i];
        rs.streams += drop_logs(st, j);
        for (uint32_t k = 0; j->children && k < j->array_size; k++)
            rs.streams += drop_logs(st, j->children[k]);
        jobs_forget_stored(st, j);
        unhook(st, j);
    }
    /* Out of their queues' lists, a queue at a time (a slice's jobs are most often of one). */
    job **of_queue = xmalloc(n_batch * sizeof *of_queue);
    unsigned char *unlisted = xcalloc(n_batch, 1);
    for (size_t i = 0; i < n_batch; i++) {
        if (unlisted[i]) continue;
        jq_rt *q = jobs_queue_of(js, batch[i]);
        size_t n = 0;
        for (size_t k = i; k < n_batch; k++) {
            if (unlisted[k] || jobs_queue_of(js, batch[k]) != q) continue;
            of_queue[n++] = batch[k];
            unlisted[k] = 1;
        }
        jobs_unlist_gone(q, of_queue, n);
    }
    free(unlisted);
    free(of_queue);
    for (size_t i = 0; i < n_batch; i++) jobs_unlink_gone(js, batch[i]);
    jobs_drop_empty_formers(js);
    free(batch);
    note_next_seq(st);
    rs.jobs = n_batch;
    metrics_count(METRIC_REMOVED, n_batch);
    log_debug("retention: let go of %zu jobs (%zu with their children) and %zu log streams",
              rs.jobs, rs.records, rs.streams);
    return rs;
}

/* A slice that stopped at its limit goes on in the next turn of the core, after the requests
 * that arrived meanwhile, rather than a tick later: a backlog (a long stop, a shortened
 * retention) clears at the speed of the slices without ever holding a request for more than
 * one of them. */
static int continuing;

static void go_on(void *ctx, void *arg)
{
    continuing = 0;
    retention_tick(ctx);
}

/* How often the log store lets go of events past their group's retention (PutRetentionPolicy:
 * CloudWatch deletes them within about three days; barge within the hour, the first pass at
 * the first tick after a start). */
#define LOG_EXPIRY_EVERY_MS (3600 * 1000)

/* How often idle fair-share shares are looked for (jobs_drop_idle_shares): every share of
 * every queue is looked at. */
#define SHARES_EVERY_MS 10000

void retention_tick(state *st)
{
    static int64_t shares_at, expired_at;
    int64_t now = util_now_ms();
    check_logdels(st, now);
    if (st->logs && (!expired_at || now - expired_at >= LOG_EXPIRY_EVERY_MS || now < expired_at)) {
        logstore_expire(st->logs);
        expired_at = now;
    }
    if (now - shares_at >= SHARES_EVERY_MS || now < shares_at) {
        jobs_drop_idle_shares(st, now);
        shares_at = now;
    }
    if (barge_cfg.retention_ms <= 0 || continuing) return;
    retention_stats rs =
        retention_pass(st, util_now_ms(), barge_cfg.retention_ms, RETENTION_PASS_JOBS);
    if (rs.more) {
        continuing = 1;
        core_after(0, go_on, NULL);
    }
}

static int read_next_seq(void *arg, const char *key, const char *doc, size_t len)
{
    if (strcmp(key, NEXT_SEQ_KEY) != 0) return 0;
    jobs *js = arg;
    json_t *v = json_loadb(doc, len, 0, NULL);
    json_int_t next = json_integer_value(json_object_get(v, "next"));
    json_decref(v);
    if (next > 0 && (uint64_t)next > js->next_seq) js->next_seq = (uint64_t)next;
    return 0;
}

int retention_load(state *st, char **err)
{
    logdel_clear();
    if (store_scan(st->db, LOGDEL_KIND, read_logdel, NULL) != 0 ||
        store_scan(st->db, META_KIND, read_next_seq, st->jobs) != 0) {
        *err = xasprintf("reading the store failed: %s", store_errmsg(st->db));
        return -1;
    }
    return 0;
}
