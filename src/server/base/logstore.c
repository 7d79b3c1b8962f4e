/* logstore — see logstore.h.
 *
 * Why a writer thread rather than a mutex around one writer connection: appends come from
 * several HTTP threads at once, each carrying a batch of lines from one agent.  With a mutex,
 * each caller would pay a whole transaction of its own, or one caller would have to commit for
 * the others while they wait on the lock.  With a queue, a caller only copies its events and
 * returns; the writer takes everything that queued up during its previous commit and writes it
 * in one transaction, so the number of commits falls as the load rises (group commit), and no
 * caller ever does disk I/O.  Callers that need to know their events are stored (the agent's
 * upload, whose answer tells the agent it may drop them) wait for their ticket on a condition
 * variable; that wait is one commit long.
 *
 * The file is opened with synchronous=NORMAL: a commit survives a killed server but not a lost
 * machine.  Logs are the highest-volume data barge keeps, and an fsync per log batch would
 * compete for the disk with the main store, whose commits decide what jobs do. */
#include "server/base/logstore.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "server/base/sqlite_schema.h"
#include "common/util.h"

#define QUEUE_LIMIT ((size_t)64 << 20)
#define FAILED_RING 8
/* Positions print the timestamp in 16 digits; later timestamps are clamped to this. */
#define MAX_TS INT64_C(9999999999999999)

/* Each entry moves the schema from version i to i+1.  Never edit a released entry: append. */
static const char *const migrations[] = {
    /* 1: streams with their summary (kept current by the writer, so that listings and
     * FilterLogEvents never scan events), and events with an index by stream and time. */
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE streams ("
    "  id          INTEGER PRIMARY KEY,"
    "  grp         TEXT NOT NULL,"
    "  name        TEXT NOT NULL,"
    "  created     INTEGER NOT NULL,"
    "  first_ts    INTEGER NOT NULL DEFAULT -1,"
    "  last_ts     INTEGER NOT NULL DEFAULT -1,"
    "  last_ingest INTEGER NOT NULL DEFAULT -1,"
    "  events      INTEGER NOT NULL DEFAULT 0,"
    "  bytes       INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE (grp, name));"
    "CREATE INDEX streams_by_last ON streams(grp, last_ts);"
    "CREATE TABLE events ("
    "  id     INTEGER PRIMARY KEY,"
    "  stream INTEGER NOT NULL,"
    "  ts     INTEGER NOT NULL,"
    "  ingest INTEGER NOT NULL,"
    "  msg    TEXT NOT NULL);"
    "CREATE INDEX events_by_time ON events(stream, ts);",
};
#define N_MIGRATIONS (int)(sizeof migrations / sizeof migrations[0])

/* One queued append: header, events, then the names and messages, in one allocation. */
typedef struct pending {
    struct pending *next;
    uint64_t ticket;
    int64_t ingest;
    size_t size;
    const char *group, *stream;
    size_t n;
    logstore_event ev[];
} pending;

enum { W_BEGIN, W_COMMIT, W_ROLLBACK, W_FIND, W_MAKE, W_EVENT, W_UPDATE, W_COUNT };
static const char *const writer_sql[W_COUNT] = {
    [W_BEGIN] = "BEGIN IMMEDIATE",
    [W_COMMIT] = "COMMIT",
    [W_ROLLBACK] = "ROLLBACK",
    [W_FIND] = "SELECT id FROM streams WHERE grp = ?1 AND name = ?2",
    [W_MAKE] = "INSERT INTO streams(grp, name, created) VALUES (?1, ?2, ?3)",
    [W_EVENT] = "INSERT INTO events(stream, ts, ingest, msg) VALUES (?1, ?2, ?3, ?4)",
    [W_UPDATE] = "UPDATE streams SET"
                 "  first_ts = CASE WHEN events = 0 THEN ?2 ELSE min(first_ts, ?2) END,"
                 "  last_ts = max(last_ts, ?3), last_ingest = ?4,"
                 "  events = events + ?5, bytes = bytes + ?6 WHERE id = ?1",
};

enum { R_FIND, R_FORWARD, R_BACKWARD, R_GROUP, R_COUNT };
static const char *const reader_sql[R_COUNT] = {
    [R_FIND] = "SELECT id FROM streams WHERE grp = ?1 AND name = ?2",
    /* (ts > ?4 OR id > ?5) is "after the position"; the ts bound keeps it an index range. */
    [R_FORWARD] = "SELECT id, ts, ingest, msg FROM events WHERE stream = ?1 AND ts >= ?2 AND "
                  "ts < ?3 AND (ts > ?4 OR id > ?5) ORDER BY ts, id LIMIT ?6",
    [R_BACKWARD] = "SELECT id, ts, ingest, msg FROM events WHERE stream = ?1 AND ts >= ?2 AND "
                   "ts <= ?3 AND (ts < ?4 OR id < ?5) ORDER BY ts DESC, id DESC LIMIT ?6",
    [R_GROUP] = "SELECT coalesce(sum(bytes), 0) FROM streams WHERE grp = ?1",
};

typedef struct reader {
    sqlite3 *db;
    sqlite3_stmt *st[R_COUNT];
    struct reader *next_free, *next_all;
} reader;

struct logstore {
    char *path;
    int64_t created;
    /* The writer's connection and statements belong to the writer thread once it runs. */
    sqlite3 *w;
    sqlite3_stmt *wst[W_COUNT];
    pthread_t thread;
    /* The queue, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    pending *head, *tail;
    size_t queued;
    uint64_t issued, committed;
    struct { uint64_t lo, hi; } failed[FAILED_RING];
    unsigned n_failed;
    int stopping;
    /* Read-only connections, lent to one caller at a time. */
    pthread_mutex_t rmu;
    reader *free_readers, *all_readers;
};

/* Steps a statement that returns no rows we need and resets it. */
static int run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/* The writer ---------------------------------------------------------------------------- */

static int write_item(logstore *ls, pending *p)
{
    sqlite3_stmt *find = ls->wst[W_FIND], *make = ls->wst[W_MAKE];
    sqlite3_bind_text(find, 1, p->group, -1, SQLITE_STATIC);
    sqlite3_bind_text(find, 2, p->stream, -1, SQLITE_STATIC);
    int rc = sqlite3_step(find);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(find, 0) : 0;
    sqlite3_reset(find);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return -1;
    if (!id) {
        sqlite3_bind_text(make, 1, p->group, -1, SQLITE_STATIC);
        sqlite3_bind_text(make, 2, p->stream, -1, SQLITE_STATIC);
        sqlite3_bind_int64(make, 3, p->ingest);
        if (run(make) < 0) return -1;
        id = sqlite3_last_insert_rowid(ls->w);
    }
    if (p->n == 0) return 0;
    sqlite3_stmt *ins = ls->wst[W_EVENT], *upd = ls->wst[W_UPDATE];
    int64_t lo = INT64_MAX, hi = INT64_MIN, bytes = 0;
    sqlite3_bind_int64(ins, 1, id);
    sqlite3_bind_int64(ins, 3, p->ingest);
    for (size_t i = 0; i < p->n; i++) {
        const logstore_event *e = &p->ev[i];
        sqlite3_bind_int64(ins, 2, e->timestamp);
        sqlite3_bind_text(ins, 4, e->message, (int)e->len, SQLITE_STATIC);
        if (run(ins) < 0) return -1;
        if (e->timestamp < lo) lo = e->timestamp;
        if (e->timestamp > hi) hi = e->timestamp;
        bytes += (int64_t)e->len;
    }
    sqlite3_bind_int64(upd, 1, id);
    sqlite3_bind_int64(upd, 2, lo);
    sqlite3_bind_int64(upd, 3, hi);
    sqlite3_bind_int64(upd, 4, p->ingest);
    sqlite3_bind_int64(upd, 5, (int64_t)p->n);
    sqlite3_bind_int64(upd, 6, bytes);
    return run(upd);
}

static int write_batch(logstore *ls, pending *batch)
{
    if (run(ls->wst[W_BEGIN]) < 0) return -1;
    for (pending *p = batch; p; p = p->next)
        if (write_item(ls, p) < 0) goto fail;
    if (run(ls->wst[W_COMMIT]) < 0) goto fail;
    return 0;
fail:
    if (!sqlite3_get_autocommit(ls->w)) run(ls->wst[W_ROLLBACK]);
    return -1;
}

static void *writer_main(void *arg)
{
    logstore *ls = arg;
    for (;;) {
        pthread_mutex_lock(&ls->mu);
        while (!ls->head && !ls->stopping) pthread_cond_wait(&ls->work, &ls->mu);
        pending *batch = ls->head;
        ls->head = ls->tail = NULL;
        pthread_mutex_unlock(&ls->mu);
        if (!batch) break; /* stopping, and everything is written */

        int rc = write_batch(ls, batch);
        if (rc < 0)
            log_error("logstore: writing log events to %s failed: %s; they are lost", ls->path,
                      sqlite3_errmsg(ls->w));
        uint64_t first = batch->ticket, last = first;
        size_t size = 0;
        for (pending *p = batch, *next; p; p = next) {
            next = p->next;
            last = p->ticket;
            size += p->size;
            free(p);
        }
        pthread_mutex_lock(&ls->mu);
        ls->queued -= size;
        ls->committed = last;
        if (rc < 0) {
            unsigned slot = ls->n_failed++ % FAILED_RING;
            ls->failed[slot].lo = first;
            ls->failed[slot].hi = last;
        }
        pthread_cond_broadcast(&ls->done);
        pthread_mutex_unlock(&ls->mu);
    }
    return NULL;
}

uint64_t logstore_append(logstore *ls, const char *group, const char *stream,
                         const logstore_event *ev, size_t n)
{
    size_t glen = strlen(group) + 1, slen = strlen(stream) + 1, size = sizeof(pending) +
                  n * sizeof(logstore_event) + glen + slen;
    for (size_t i = 0; i < n; i++) size += ev[i].len;
    pending *p = xmalloc(size);
    p->next = NULL;
    p->size = size;
    p->n = n;
    p->ingest = util_now_ms();
    char *at = (char *)&p->ev[n];
    memcpy(at, group, glen);
    p->group = at;
    at += glen;
    memcpy(at, stream, slen);
    p->stream = at;
    at += slen;
    for (size_t i = 0; i < n; i++) {
        /* CloudWatch timestamps are not negative; positions print them in 16 digits. */
        int64_t ts = ev[i].timestamp;
        p->ev[i].timestamp = ts < 0 ? 0 : ts > MAX_TS ? MAX_TS : ts;
        p->ev[i].len = ev[i].len;
        p->ev[i].message = at;
        if (ev[i].len) memcpy(at, ev[i].message, ev[i].len);
        at += ev[i].len;
    }
    pthread_mutex_lock(&ls->mu);
    BARGE_ASSERT(!ls->stopping);
    while (ls->queued > QUEUE_LIMIT) pthread_cond_wait(&ls->done, &ls->mu);
    uint64_t ticket = p->ticket = ++ls->issued;
    if (ls->tail) ls->tail->next = p;
    else ls->head = p;
    ls->tail = p;
    ls->queued += size;
    pthread_cond_signal(&ls->work);
    pthread_mutex_unlock(&ls->mu);
    return ticket; /* not p->ticket: the writer may have freed p already */
}

int logstore_wait(logstore *ls, uint64_t ticket)
{
    int rc = 0;
    pthread_mutex_lock(&ls->mu);
    while (ls->committed < ticket) pthread_cond_wait(&ls->done, &ls->mu);
    unsigned n = ls->n_failed < FAILED_RING ? ls->n_failed : FAILED_RING;
    for (unsigned i = 0; i < n; i++)
        if (ticket >= ls->failed[i].lo && ticket <= ls->failed[i].hi) rc = -1;
    pthread_mutex_unlock(&ls->mu);
    return rc;
}

void logstore_create_stream(logstore *ls, const char *group, const char *stream)
{
    logstore_append(ls, group, stream, NULL, 0);
}

/* Opening and closing ------------------------------------------------------------------- */


/* The store's creation time, recorded once: it is the log group's creationTime. */
static int read_created(logstore *ls, char **err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(ls->w, "INSERT INTO meta(key, value) VALUES ('created', ?1) "
                                       "ON CONFLICT(key) DO NOTHING", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, util_now_ms());
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_OK &&
        sqlite3_prepare_v2(ls->w, "SELECT value FROM meta WHERE key = 'created'", -1, &st,
                           NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        ls->created = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return 0;
    }
    sqlite3_finalize(st);
    *err = xasprintf("cannot read the log store's creation time: %s", sqlite3_errmsg(ls->w));
    return -1;
}

static void close_connections(logstore *ls)
{
    for (int i = 0; i < W_COUNT; i++) sqlite3_finalize(ls->wst[i]);
    sqlite3_close(ls->w);
    for (reader *r = ls->all_readers, *next; r; r = next) {
        next = r->next_all;
        for (int i = 0; i < R_COUNT; i++) sqlite3_finalize(r->st[i]);
        sqlite3_close(r->db);
        free(r);
    }
}

logstore *logstore_open(const char *dir, char **err)
{
    logstore *ls = xcalloc(1, sizeof *ls);
    *err = NULL;
    ls->path = xasprintf("%s/logs.db", dir);
    /* Only the writer thread uses this connection once the store is open. */
    int rc = sqlite3_open_v2(ls->path, &ls->w, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                                   SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        *err = xasprintf("cannot open the log store %s: %s", ls->path,
                         ls->w ? sqlite3_errmsg(ls->w) : "no memory");
        goto fail;
    }
    /* journal_size_limit gives back the disk a burst of logs took in the WAL. */
    if (sqlite3_exec(ls->w, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                            "PRAGMA busy_timeout=5000; PRAGMA journal_size_limit=67108864;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        *err = xasprintf("cannot configure the log store %s: %s", ls->path,
                         sqlite3_errmsg(ls->w));
        goto fail;
    }
    if (sqlite_schema_migrate(ls->w, migrations, N_MIGRATIONS, "the log store", err) < 0 ||
        read_created(ls, err) < 0)
        goto fail;
    for (int i = 0; i < W_COUNT; i++) {
        if (sqlite3_prepare_v3(ls->w, writer_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &ls->wst[i],
                               NULL) != SQLITE_OK) {
            *err = xasprintf("cannot prepare the log store's statements: %s",
                             sqlite3_errmsg(ls->w));
            goto fail;
        }
    }
    pthread_mutex_init(&ls->mu, NULL);
    pthread_mutex_init(&ls->rmu, NULL);
    pthread_cond_init(&ls->work, NULL);
    pthread_cond_init(&ls->done, NULL);
    if (pthread_create(&ls->thread, NULL, writer_main, ls) != 0) {
        *err = xstrdup("cannot start the log store's writer thread");
        pthread_mutex_destroy(&ls->mu);
        pthread_mutex_destroy(&ls->rmu);
        pthread_cond_destroy(&ls->work);
        pthread_cond_destroy(&ls->done);
        goto fail;
    }
    return ls;
fail:
    close_connections(ls);
    free(ls->path);
    free(ls);
    return NULL;
}

void logstore_close(logstore *ls)
{
    if (!ls) return;
    pthread_mutex_lock(&ls->mu);
    ls->stopping = 1;
    pthread_cond_signal(&ls->work);
    pthread_mutex_unlock(&ls->mu);
    pthread_join(ls->thread, NULL);
    close_connections(ls);
    pthread_mutex_destroy(&ls->mu);
    pthread_mutex_destroy(&ls->rmu);
    pthread_cond_destroy(&ls->work);
    pthread_cond_destroy(&ls->done);
    free(ls->path);
    free(ls);
}

/* Readers ------------------------------------------------------------------------------- */

static reader *reader_take(logstore *ls, char **err)
{
    pthread_mutex_lock(&ls->rmu);
    reader *r = ls->free_readers;
    if (r) ls->free_readers = r->next_free;
    pthread_mutex_unlock(&ls->rmu);
    if (r) return r;
    r = xcalloc(1, sizeof *r);
    if (sqlite3_open_v2(ls->path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(r->db, "PRAGMA busy_timeout=5000", NULL, NULL, NULL) != SQLITE_OK) {
        *err = xasprintf("cannot open the log store %s for reading: %s", ls->path,
                         r->db ? sqlite3_errmsg(r->db) : "no memory");
        sqlite3_close(r->db);
        free(r);
        return NULL;
    }
    pthread_mutex_lock(&ls->rmu);
    r->next_all = ls->all_readers;
    ls->all_readers = r;
    pthread_mutex_unlock(&ls->rmu);
    return r;
}

static void reader_give(logstore *ls, reader *r)
{
    pthread_mutex_lock(&ls->rmu);
    r->next_free = ls->free_readers;
    ls->free_readers = r;
    pthread_mutex_unlock(&ls->rmu);
}

static sqlite3_stmt *reader_stmt(reader *r, int which, char **err)
{
    if (!r->st[which] &&
        sqlite3_prepare_v3(r->db, reader_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
                           &r->st[which], NULL) != SQLITE_OK) {
        *err = xasprintf("reading the log store failed: %s", sqlite3_errmsg(r->db));
        return NULL;
    }
    return r->st[which];
}

static int read_failed(reader *r, char **err)
{
    *err = xasprintf("reading the log store failed: %s", sqlite3_errmsg(r->db));
    return LOGSTORE_FAILED;
}

/* The stream's id in *id (0 when it does not exist). */
static int find_stream(reader *r, const char *group, const char *stream, int64_t *id,
                       char **err)
{
    sqlite3_stmt *st = reader_stmt(r, R_FIND, err);
    if (!st) return LOGSTORE_FAILED;
    sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, stream, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return read_failed(r, err);
    return LOGSTORE_OK;
}

int logstore_stream_exists(logstore *ls, const char *group, const char *stream)
{
    char *err = NULL;
    int64_t id = 0;
    reader *r = reader_take(ls, &err);
    int rc = r ? find_stream(r, group, stream, &id, &err) : LOGSTORE_FAILED;
    if (r) reader_give(ls, r);
    if (rc != LOGSTORE_OK) {
        log_error("logstore: %s", err);
        free(err);
        return -1;
    }
    return id != 0;
}

int logstore_group_info(logstore *ls, const char *group, int64_t *creation_time,
                        int64_t *stored_bytes)
{
    char *err = NULL;
    *creation_time = ls->created;
    *stored_bytes = 0;
    reader *r = reader_take(ls, &err);
    sqlite3_stmt *st = r ? reader_stmt(r, R_GROUP, &err) : NULL;
    int rc = -1;
    if (st) {
        sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *stored_bytes = sqlite3_column_int64(st, 0);
            rc = 0;
        } else {
            err = xasprintf("reading the log store failed: %s", sqlite3_errmsg(r->db));
        }
        sqlite3_reset(st);
    }
    if (r) reader_give(ls, r);
    if (rc < 0) {
        log_error("logstore: %s", err);
        free(err);
    }
    return rc;
}

/* Positions and tokens ------------------------------------------------------------------ */

static void format_pos(char out[48], char dir, int64_t ts, int64_t id)
{
    ts = ts < 0 ? 0 : ts > MAX_TS ? MAX_TS : ts;
    snprintf(out, 48, "%c/%016lld%019lld", dir, (long long)ts, (long long)(id < 0 ? 0 : id));
}

static int parse_digits(const char *s, int n, int64_t *out)
{
    unsigned long long v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (unsigned long long)(s[i] - '0');
    }
    if (v > (unsigned long long)INT64_MAX) return -1;
    *out = (int64_t)v;
    return 0;
}

/* "f/POSITION" or "b/POSITION"; *dir gets 'f' or 'b'. */
static int parse_pos(const char *s, char *dir, int64_t *ts, int64_t *id)
{
    if ((s[0] != 'f' && s[0] != 'b') || s[1] != '/' || strlen(s) != 2 + 16 + 19) return -1;
    *dir = s[0];
    return parse_digits(s + 2, 16, ts) < 0 || parse_digits(s + 18, 19, id) < 0 ? -1 : 0;
}

/* [lo, hi) of a range; timestamps are never negative, so neither are the bounds. */
static void range_bounds(const logstore_range *r, int64_t *lo, int64_t *hi)
{
    *lo = r->has_start && r->start > 0 ? r->start : 0;
    *hi = !r->has_end ? INT64_MAX : r->end > 0 ? r->end : 0;
}

/* Reads ------------------------------------------------------------------------------- */

void logstore_page_free(logstore_page *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->events[i].message);
        free(p->events[i].stream);
    }
    free(p->events);
    free(p->next);
    memset(p, 0, sizeof *p);
}

/* Adds the statement's current row (id, ts, ingest, msg[, stream]) to the page unless the
 * page is full; returns 0 if added, 1 if full.  The first event always fits. */
static int page_add(logstore_page *p, size_t *cap, size_t *bytes, sqlite3_stmt *st, int limit,
                    size_t max_bytes, int with_stream)
{
    size_t len = (size_t)sqlite3_column_bytes(st, 3);
    if (p->n >= (size_t)limit || (p->n && *bytes + len + LOGSTORE_EVENT_OVERHEAD > max_bytes))
        return 1;
    if (p->n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        p->events = xrealloc(p->events, *cap * sizeof *p->events);
    }
    logstore_record *e = &p->events[p->n++];
    e->id = sqlite3_column_int64(st, 0);
    e->timestamp = sqlite3_column_int64(st, 1);
    e->ingestion_time = sqlite3_column_int64(st, 2);
    e->message = xmalloc(len + 1);
    if (len) memcpy(e->message, sqlite3_column_blob(st, 3), len);
    e->message[len] = '\0';
    e->len = len;
    e->stream = with_stream ? xstrdup((const char *)sqlite3_column_text(st, 4)) : NULL;
    *bytes += len + LOGSTORE_EVENT_OVERHEAD;
    return 0;
}

int logstore_get(logstore *ls, const logstore_get_query *q, logstore_page *out, char **err)
{
    memset(out, 0, sizeof *out);
    *err = NULL;
    int limit = q->limit > 0 && q->limit <= LOGSTORE_MAX_EVENTS ? q->limit : LOGSTORE_MAX_EVENTS;
    size_t max_bytes = q->max_bytes ? q->max_bytes : LOGSTORE_MAX_BYTES;
    int64_t lo, hi;
    range_bounds(&q->range, &lo, &hi);
    /* With no token, reading from the head starts just before the range, and reading from the
     * tail just after every possible event. */
    char dir = q->start_from_head ? 'f' : 'b';
    int64_t pts = q->range.has_start && q->range.start > 0 ? q->range.start : 0, pid = 0;
    int64_t head_ts = pts;
    if (q->token) {
        if (parse_pos(q->token, &dir, &pts, &pid) < 0) {
            *err = xasprintf("The specified nextToken is invalid: '%.60s' is not a token this "
                             "server issued.", q->token);
            return LOGSTORE_INVALID;
        }
    } else if (dir == 'b') {
        pts = MAX_TS;
        pid = INT64_MAX;
    }
    reader *r = reader_take(ls, err);
    if (!r) return LOGSTORE_FAILED;
    int64_t sid;
    int rc = find_stream(r, q->group, q->stream, &sid, err);
    if (rc == LOGSTORE_OK && !sid) {
        *err = xstrdup("The specified log stream does not exist.");
        rc = LOGSTORE_NOT_FOUND;
    }
    sqlite3_stmt *st = NULL;
    if (rc == LOGSTORE_OK) {
        st = reader_stmt(r, dir == 'f' ? R_FORWARD : R_BACKWARD, err);
        if (!st) rc = LOGSTORE_FAILED;
    }
    if (rc != LOGSTORE_OK) {
        reader_give(ls, r);
        return rc;
    }
    sqlite3_bind_int64(st, 1, sid);
    if (dir == 'f') {
        sqlite3_bind_int64(st, 2, lo > pts ? lo : pts);
        sqlite3_bind_int64(st, 3, hi);
    } else {
        sqlite3_bind_int64(st, 2, lo);
        sqlite3_bind_int64(st, 3, hi - 1 < pts ? hi - 1 : pts);
    }
    sqlite3_bind_int64(st, 4, pts);
    sqlite3_bind_int64(st, 5, pid);
    sqlite3_bind_int64(st, 6, limit);
    size_t cap = 0, bytes = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW)
        if (page_add(out, &cap, &bytes, st, limit, max_bytes, 0)) break;
    if (step != SQLITE_ROW && step != SQLITE_DONE) rc = read_failed(r, err);
    sqlite3_reset(st);
    reader_give(ls, r);
    if (rc != LOGSTORE_OK) {
        logstore_page_free(out);
        return rc;
    }
    if (dir == 'b') {
        /* Read newest first; answer in time order. */
        for (size_t i = 0, j = out->n ? out->n - 1 : 0; i < j; i++, j--) {
            logstore_record t = out->events[i];
            out->events[i] = out->events[j];
            out->events[j] = t;
        }
    }
    if (out->n) {
        const logstore_record *first = &out->events[0], *last = &out->events[out->n - 1];
        format_pos(out->forward, 'f', last->timestamp, last->id);
        format_pos(out->backward, 'b', first->timestamp, first->id);
    } else if (!q->token) {
        format_pos(out->forward, 'f', head_ts, 0);
        format_pos(out->backward, 'b', head_ts, 0);
    } else if (dir == 'f') {
        /* The end of the stream: the same forward token tells the client to stop. */
        format_pos(out->forward, 'f', pts, pid);
        format_pos(out->backward, 'b', pts, pid < INT64_MAX ? pid + 1 : pid);
    } else {
        format_pos(out->backward, 'b', pts, pid);
        format_pos(out->forward, 'f', pts, pid > 0 ? pid - 1 : 0);
    }
    return LOGSTORE_OK;
}

/* Filter patterns ----------------------------------------------------------------------- */

typedef struct pattern {
    char **all, **none, **any;
    size_t n_all, n_none, n_any;
} pattern;

static void pattern_free(pattern *p)
{
    for (size_t i = 0; i < p->n_all; i++) free(p->all[i]);
    for (size_t i = 0; i < p->n_none; i++) free(p->none[i]);
    for (size_t i = 0; i < p->n_any; i++) free(p->any[i]);
    free(p->all);
    free(p->none);
    free(p->any);
    memset(p, 0, sizeof *p);
}

static void terms_add(char ***list, size_t *n, char *term)
{
    *list = xrealloc(*list, (*n + 1) * sizeof **list);
    (*list)[(*n)++] = term;
}

static int pattern_parse(const char *s, pattern *p, char **err)
{
    memset(p, 0, sizeof *p);
    if (!s) return 0;
    while (*s == ' ' || *s == '\t') s++;
    if (*s == '{' || *s == '[') {
        *err = xstrdup("filterPattern: JSON ({ $.field = value }) and space-delimited ([a, b]) "
                       "patterns are not supported by barge; use terms, \"quoted phrases\", "
                       "-term to exclude and ?term for alternatives");
        return LOGSTORE_INVALID;
    }
    while (*s) {
        while (*s == ' ' || *s == '\t') s++;
        if (!*s) break;
        char kind = 0;
        if ((*s == '-' || *s == '?') && s[1] && s[1] != ' ' && s[1] != '\t') kind = *s++;
        const char *start = s;
        size_t len;
        if (*s == '"') {
            start = ++s;
            while (*s && *s != '"') s++;
            len = (size_t)(s - start);
            if (*s == '"') s++;
        } else {
            while (*s && *s != ' ' && *s != '\t') s++;
            len = (size_t)(s - start);
        }
        if (!len) continue; /* "" matches everything */
        char *term = xstrndup(start, len);
        if (kind == '-') terms_add(&p->none, &p->n_none, term);
        else if (kind == '?') terms_add(&p->any, &p->n_any, term);
        else terms_add(&p->all, &p->n_all, term);
    }
    return 0;
}

/* Builds SQL with positional parameters and remembers what to bind to each, in order. */
typedef struct param {
    int is_text, len;
    int64_t i;
    const char *s;
} param;

typedef struct query {
    buf sql;
    param *params;
    int n, cap;
} query;

static param *q_param(query *q)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? 2 * q->cap : 16;
        q->params = xrealloc(q->params, (size_t)q->cap * sizeof *q->params);
    }
    buf_puts(&q->sql, "?");
    return &q->params[q->n++];
}

static void q_int(query *q, int64_t v)
{
    param *p = q_param(q);
    p->is_text = 0;
    p->i = v;
}

static void q_text(query *q, const char *s, int len)
{
    param *p = q_param(q);
    p->is_text = 1;
    p->s = s;
    p->len = len;
}

static void q_free(query *q)
{
    buf_free(&q->sql);
    free(q->params);
}

static sqlite3_stmt *q_prepare(query *q, reader *r, char **err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(r->db, q->sql.data, -1, &st, NULL) != SQLITE_OK) {
        *err = xasprintf("reading the log store failed: %s", sqlite3_errmsg(r->db));
        return NULL;
    }
    for (int i = 0; i < q->n; i++) {
        if (q->params[i].is_text)
            sqlite3_bind_text(st, i + 1, q->params[i].s, q->params[i].len, SQLITE_STATIC);
        else
            sqlite3_bind_int64(st, i + 1, q->params[i].i);
    }
    return st;
}

/* Restricts "name" to names starting with prefix: a range (so the index serves it) and an
 * exact byte comparison (so the range's upper bound need not be exact). */
static void q_prefix(query *q, const char *prefix, char upper[])
{
    size_t n = strlen(prefix);
    memcpy(upper, prefix, n + 1);
    while (n && (unsigned char)upper[n - 1] == 0xff) upper[--n] = '\0';
    buf_puts(&q->sql, " AND name >= ");
    q_text(q, prefix, -1);
    if (n) {
        upper[n - 1] = (char)((unsigned char)upper[n - 1] + 1);
        buf_puts(&q->sql, " AND name < ");
        q_text(q, upper, (int)n);
    }
    buf_puts(&q->sql, " AND substr(CAST(name AS BLOB), 1, ");
    q_int(q, (int64_t)strlen(prefix));
    buf_puts(&q->sql, ") = CAST(");
    q_text(q, prefix, -1);
    buf_puts(&q->sql, " AS BLOB)");
}

int logstore_filter(logstore *ls, const logstore_filter_query *fq, logstore_page *out,
                    char **err)
{
    memset(out, 0, sizeof *out);
    *err = NULL;
    int limit = fq->limit > 0 && fq->limit <= LOGSTORE_MAX_EVENTS ? fq->limit
                                                                   : LOGSTORE_MAX_EVENTS;
    size_t max_bytes = fq->max_bytes ? fq->max_bytes : LOGSTORE_MAX_BYTES;
    char dir = 'f';
    int64_t pts = 0, pid = 0;
    if (fq->token && (parse_pos(fq->token, &dir, &pts, &pid) < 0 || dir != 'f')) {
        *err = xasprintf("The specified nextToken is invalid: '%.60s' is not a token this "
                         "server issued.", fq->token);
        return LOGSTORE_INVALID;
    }
    if (fq->n_streams > 100) {
        *err = xstrdup("logStreamNames: at most 100 names are allowed");
        return LOGSTORE_INVALID;
    }
    pattern pat;
    int rc = pattern_parse(fq->pattern, &pat, err);
    if (rc != LOGSTORE_OK) return rc;
    int64_t lo, hi;
    range_bounds(&fq->range, &lo, &hi);
    if (lo < pts) lo = pts;

    /* The streams: those of the group whose events overlap the range, so that following
     * recent events (aws logs tail) never reads the streams of finished jobs. */
    query q = {0};
    char *upper = fq->prefix ? xmalloc(strlen(fq->prefix) + 1) : NULL;
    buf_puts(&q.sql, "SELECT e.id, e.ts, e.ingest, e.msg, s.name FROM events e JOIN streams s "
                     "ON s.id = e.stream WHERE e.stream IN (SELECT id FROM streams WHERE "
                     "grp = ");
    q_text(&q, fq->group, -1);
    buf_puts(&q.sql, " AND events > 0 AND last_ts >= ");
    q_int(&q, lo);
    buf_puts(&q.sql, " AND first_ts < ");
    q_int(&q, hi);
    if (fq->streams) {
        buf_puts(&q.sql, " AND name IN (");
        for (size_t i = 0; i < fq->n_streams; i++) {
            if (i) buf_puts(&q.sql, ", ");
            q_text(&q, fq->streams[i], -1);
        }
        buf_puts(&q.sql, ")");
    }
    if (fq->prefix) q_prefix(&q, fq->prefix, upper);
    buf_puts(&q.sql, ") AND e.ts >= ");
    q_int(&q, lo);
    buf_puts(&q.sql, " AND e.ts < ");
    q_int(&q, hi);
    buf_puts(&q.sql, " AND (e.ts > ");
    q_int(&q, pts);
    buf_puts(&q.sql, " OR e.id > ");
    q_int(&q, pid);
    buf_puts(&q.sql, ")");
    for (size_t i = 0; i < pat.n_all; i++) {
        buf_puts(&q.sql, " AND instr(e.msg, ");
        q_text(&q, pat.all[i], -1);
        buf_puts(&q.sql, ") > 0");
    }
    for (size_t i = 0; i < pat.n_none; i++) {
        buf_puts(&q.sql, " AND instr(e.msg, ");
        q_text(&q, pat.none[i], -1);
        buf_puts(&q.sql, ") = 0");
    }
    for (size_t i = 0; i < pat.n_any; i++) {
        buf_puts(&q.sql, i ? " OR instr(e.msg, " : " AND (instr(e.msg, ");
        q_text(&q, pat.any[i], -1);
        buf_puts(&q.sql, ") > 0");
    }
    if (pat.n_any) buf_puts(&q.sql, ")");
    /* One row more than the page holds tells whether another page follows. */
    buf_puts(&q.sql, " ORDER BY e.ts, e.id LIMIT ");
    q_int(&q, (int64_t)limit + 1);

    reader *r = reader_take(ls, err);
    sqlite3_stmt *st = r ? q_prepare(&q, r, err) : NULL;
    rc = st ? LOGSTORE_OK : LOGSTORE_FAILED;
    int more = 0;
    if (st) {
        size_t cap = 0, bytes = 0;
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            if (page_add(out, &cap, &bytes, st, limit, max_bytes, 1)) {
                more = 1;
                break;
            }
        }
        if (step != SQLITE_ROW && step != SQLITE_DONE) rc = read_failed(r, err);
        sqlite3_finalize(st);
    }
    if (r) reader_give(ls, r);
    q_free(&q);
    free(upper);
    pattern_free(&pat);
    if (rc != LOGSTORE_OK) {
        logstore_page_free(out);
        return rc;
    }
    if (more) {
        const logstore_record *last = &out->events[out->n - 1];
        out->next = xmalloc(48);
        format_pos(out->next, 'f', last->timestamp, last->id);
    }
    return LOGSTORE_OK;
}

/* Stream listings ----------------------------------------------------------------------- */

void logstore_stream_list_free(logstore_stream_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->items[i].name);
    free(l->items);
    free(l->next);
    memset(l, 0, sizeof *l);
}

/* Listing tokens: "n/HEX" resumes after a name, "t/LAST/ID" after a stream in time order. */
static char *stream_token(const logstore_streams_query *q, const char *name, int64_t last_ts,
                          int64_t id)
{
    if (q->by_last_event_time) return xasprintf("t/%lld/%lld", (long long)last_ts, (long long)id);
    size_t n = strlen(name);
    char *t = xmalloc(2 * n + 3);
    t[0] = 'n';
    t[1] = '/';
    util_hex(name, n, t + 2);
    return t;
}

int logstore_streams(logstore *ls, const logstore_streams_query *sq, logstore_stream_list *out,
                     char **err)
{
    memset(out, 0, sizeof *out);
    *err = NULL;
    int limit = sq->limit > 0 && sq->limit <= LOGSTORE_MAX_STREAMS ? sq->limit
                                                                    : LOGSTORE_MAX_STREAMS;
    const char *cmp = sq->descending ? " < " : " > ";
    const char *cmp_eq = sq->descending ? " <= " : " >= ";
    const char *order = sq->descending ? " DESC" : "";
    query q = {0};
    char *after = NULL, *upper = sq->prefix ? xmalloc(strlen(sq->prefix) + 1) : NULL;
    long long t_last = 0, t_id = 0;
    int bad_token = 0;
    if (sq->token) {
        int n = -1;
        if (sq->by_last_event_time)
            bad_token = sscanf(sq->token, "t/%lld/%lld%n", &t_last, &t_id, &n) != 2 ||
                        sq->token[n] != '\0';
        else
            bad_token = strncmp(sq->token, "n/", 2) != 0 || !(after = util_unhex(sq->token + 2));
    }
    if (bad_token) {
        *err = xasprintf("The specified nextToken is invalid: '%.60s' is not a token of this "
                         "listing (pass the nextToken of the previous page, with the same "
                         "orderBy and descending).", sq->token);
        free(upper);
        return LOGSTORE_INVALID;
    }
    buf_puts(&q.sql, "SELECT name, created, first_ts, last_ts, last_ingest, events, bytes, id "
                     "FROM streams WHERE grp = ");
    q_text(&q, sq->group, -1);
    if (sq->prefix) q_prefix(&q, sq->prefix, upper);
    if (sq->token && sq->by_last_event_time) {
        buf_printf(&q.sql, " AND last_ts%s", cmp_eq);
        q_int(&q, t_last);
        buf_printf(&q.sql, " AND (last_ts%s", cmp);
        q_int(&q, t_last);
        buf_printf(&q.sql, " OR id%s", cmp);
        q_int(&q, t_id);
        buf_puts(&q.sql, ")");
    } else if (sq->token) {
        buf_printf(&q.sql, " AND name%s", cmp);
        q_text(&q, after, -1);
    }
    if (sq->by_last_event_time) buf_printf(&q.sql, " ORDER BY last_ts%s, id%s", order, order);
    else buf_printf(&q.sql, " ORDER BY name%s", order);
    buf_puts(&q.sql, " LIMIT ");
    q_int(&q, limit + 1);

    reader *r = reader_take(ls, err);
    sqlite3_stmt *st = r ? q_prepare(&q, r, err) : NULL;
    int rc = st ? LOGSTORE_OK : LOGSTORE_FAILED;
    if (st) {
        int step;
        out->items = xcalloc((size_t)limit, sizeof *out->items);
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            if (out->n == (size_t)limit) {
                const logstore_stream_info *last = &out->items[out->n - 1];
                out->next = stream_token(sq, last->name, last->last_timestamp, t_id);
                break;
            }
            logstore_stream_info *s = &out->items[out->n++];
            s->name = xstrdup((const char *)sqlite3_column_text(st, 0));
            s->creation_time = sqlite3_column_int64(st, 1);
            s->first_timestamp = sqlite3_column_int64(st, 2);
            s->last_timestamp = sqlite3_column_int64(st, 3);
            s->last_ingestion_time = sqlite3_column_int64(st, 4);
            s->events = sqlite3_column_int64(st, 5);
            s->stored_bytes = sqlite3_column_int64(st, 6);
            t_id = sqlite3_column_int64(st, 7); /* the id of the last row kept, for the token */
        }
        if (step != SQLITE_ROW && step != SQLITE_DONE) rc = read_failed(r, err);
        sqlite3_finalize(st);
    }
    if (r) reader_give(ls, r);
    q_free(&q);
    free(after);
    free(upper);
    if (rc != LOGSTORE_OK) logstore_stream_list_free(out);
    return rc;
}
