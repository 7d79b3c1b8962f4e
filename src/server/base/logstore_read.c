/* logstore_read — the log store's readers: a pool of read-only connections, positions and
 * tokens, and the reads that need no SQL of their own making (GetLogEvents, whether a stream
 * exists, a group's summary).  See logstore.h. */
#include "server/base/logstore.h"
#include "server/base/logstore_internal.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"

static const char *const reader_sql[R_COUNT] = {
    [R_FIND] = "SELECT id FROM streams WHERE grp = ?1 AND name = ?2",
    /* (ts > ?4 OR id > ?5) is "after the position"; the ts bound keeps it an index range. */
    [R_FORWARD] = "SELECT id, ts, ingest, msg FROM events WHERE stream = ?1 AND ts >= ?2 AND "
                  "ts < ?3 AND (ts > ?4 OR id > ?5) ORDER BY ts, id LIMIT ?6",
    [R_BACKWARD] = "SELECT id, ts, ingest, msg FROM events WHERE stream = ?1 AND ts >= ?2 AND "
                   "ts <= ?3 AND (ts < ?4 OR id < ?5) ORDER BY ts DESC, id DESC LIMIT ?6",
    [R_GROUP] = "SELECT created, (SELECT coalesce(sum(bytes), 0) FROM streams WHERE grp = ?1), "
                "retention FROM groups WHERE name = ?1",
    /* Ranks among a stream's events at one time, for tokens (logstore_internal.h). */
    [R_RANK] = "SELECT count(*) FROM events WHERE stream = :s AND ts = :ts AND id <= :pid",
    [R_NTH] = "SELECT id FROM events WHERE stream = :s AND ts = :ts ORDER BY id LIMIT 1 "
              "OFFSET :n",
    [R_TAGS] = "SELECT tags FROM groups WHERE name = ?1",
    [R_GROUP_EXISTS] = "SELECT 1 FROM groups WHERE name = ?1",
};

/* Readers ------------------------------------------------------------------------------- */

reader *logstore__reader_take(logstore *ls, char **err)
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

void logstore__reader_give(logstore *ls, reader *r)
{
    pthread_mutex_lock(&ls->rmu);
    r->next_free = ls->free_readers;
    ls->free_readers = r;
    pthread_mutex_unlock(&ls->rmu);
}

void logstore__readers_close(logstore *ls)
{
    for (reader *r = ls->all_readers, *next; r; r = next) {
        next = r->next_all;
        for (int i = 0; i < R_COUNT; i++) sqlite3_finalize(r->st[i]);
        sqlite3_close(r->db);
        free(r);
    }
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

int logstore__read_failed(reader *r, char **err)
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
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return logstore__read_failed(r, err);
    return LOGSTORE_OK;
}

int logstore_stream_exists(logstore *ls, const char *group, const char *stream)
{
    char *err = NULL;
    int64_t id = 0;
    reader *r = logstore__reader_take(ls, &err);
    int rc = r ? find_stream(r, group, stream, &id, &err) : LOGSTORE_FAILED;
    if (r) logstore__reader_give(ls, r);
    if (rc != LOGSTORE_OK) {
        log_error("logstore: %s", err);
        free(err);
        return -1;
    }
    return id != 0;
}

/* Runs the reader's statement `which` on a group's name and hands its row to take:
 * LOGSTORE_OK, LOGSTORE_NOT_FOUND, or LOGSTORE_FAILED (written to the server log). */
static int group_row(logstore *ls, int which, const char *group,
                     void (*take)(sqlite3_stmt *st, void *out), void *out)
{
    char *err = NULL;
    reader *r = logstore__reader_take(ls, &err);
    sqlite3_stmt *st = r ? reader_stmt(r, which, &err) : NULL;
    int rc = LOGSTORE_FAILED;
    if (st) {
        sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            take(st, out);
            rc = LOGSTORE_OK;
        } else if (step == SQLITE_DONE) {
            rc = LOGSTORE_NOT_FOUND;
        } else {
            logstore__read_failed(r, &err);
        }
        sqlite3_reset(st);
    }
    if (r) logstore__reader_give(ls, r);
    if (rc == LOGSTORE_FAILED) {
        log_error("logstore: %s", err);
        free(err);
    }
    return rc;
}

typedef struct {
    int64_t *creation_time, *stored_bytes;
    int *retention_days;
} group_info_out;

static void take_info(sqlite3_stmt *st, void *arg)
{
    group_info_out *o = arg;
    *o->creation_time = sqlite3_column_int64(st, 0);
    *o->stored_bytes = sqlite3_column_int64(st, 1);
    if (o->retention_days) *o->retention_days = sqlite3_column_int(st, 2);
}

int logstore_group_info(logstore *ls, const char *group, int64_t *creation_time,
                        int64_t *stored_bytes, int *retention_days)
{
    *creation_time = *stored_bytes = 0;
    if (retention_days) *retention_days = 0;
    group_info_out o = {creation_time, stored_bytes, retention_days};
    return group_row(ls, R_GROUP, group, take_info, &o);
}

static void take_nothing(sqlite3_stmt *st, void *arg)
{
    (void)st, (void)arg;
}

int logstore_group_exists(logstore *ls, const char *group)
{
    return group_row(ls, R_GROUP_EXISTS, group, take_nothing, NULL);
}

static void take_tags(sqlite3_stmt *st, void *arg)
{
    *(char **)arg = xstrdup((const char *)sqlite3_column_text(st, 0));
}

int logstore_group_tags(logstore *ls, const char *group, char **json)
{
    *json = NULL;
    return group_row(ls, R_TAGS, group, take_tags, json);
}

/* Names --------------------------------------------------------------------------------- */

int logstore_group_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n < 1 || n > LOGSTORE_NAME_MAX) return 0;
    for (const char *p = name; *p; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 strchr(".-_/#", c) != NULL;
        if (!ok) return 0;
    }
    return 1;
}

int logstore_stream_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return n >= 1 && n <= LOGSTORE_NAME_MAX && !strpbrk(name, ":*");
}

/* Positions and tokens ------------------------------------------------------------------ */

static void bind_named(sqlite3_stmt *st, const char *name, int64_t v)
{
    int i = sqlite3_bind_parameter_index(st, name);
    if (i) sqlite3_bind_int64(st, i, v);
}

/* The statement's one integer after binding :ts, :pid and :n: 1 with *out, 0 for no row, -1 on
 * a read error. */
static int one_value(sqlite3_stmt *st, int64_t ts, int64_t pid, int64_t n, int64_t *out)
{
    sqlite3_reset(st);
    bind_named(st, ":ts", ts);
    bind_named(st, ":pid", pid);
    bind_named(st, ":n", n);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int logstore__token(sqlite3_stmt *count, char out[48], char dir, int64_t ts, int64_t id)
{
    ts = ts < 0 ? 0 : ts > MAX_TS ? MAX_TS : ts;
    int64_t rank = 0;
    if (id == INT64_MAX) {
        rank = LOGSTORE_RANK_ALL;
    } else if (dir == 'f' ? id > 0 : id > 1) {
        /* 'f': the events up to id are behind; 'b': those below id are ahead, and id's own rank
         * is one more. */
        if (one_value(count, ts, dir == 'f' ? id : id - 1, 0, &rank) < 0) return -1;
    }
    if (dir == 'b' && rank != LOGSTORE_RANK_ALL) rank++;
    snprintf(out, 48, "%c/%016lld.%019lld", dir, (long long)ts, (long long)rank);
    return 0;
}

int logstore__rank_to_id(sqlite3_stmt *nth, int64_t ts, int64_t rank, int64_t *id)
{
    if (rank <= 0 || rank == LOGSTORE_RANK_ALL) {
        *id = rank <= 0 ? 0 : INT64_MAX;
        return 0;
    }
    int rc = one_value(nth, ts, 0, rank - 1, id);
    /* Fewer events at ts than the rank: past them all. */
    if (rc == 0) *id = INT64_MAX;
    return rc < 0 ? -1 : 0;
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

int logstore__parse_pos(const char *s, char *dir, int64_t *ts, int64_t *n, int *is_rank)
{
    if ((s[0] != 'f' && s[0] != 'b') || s[1] != '/') return -1;
    size_t len = strlen(s);
    *dir = s[0];
    if (len == 2 + 16 + 1 + 19 && s[18] == '.') {
        *is_rank = 1;
        return parse_digits(s + 2, 16, ts) < 0 || parse_digits(s + 19, 19, n) < 0 ? -1 : 0;
    }
    if (len != 2 + 16 + 19) return -1;
    *is_rank = 0;
    return parse_digits(s + 2, 16, ts) < 0 || parse_digits(s + 18, 19, n) < 0 ? -1 : 0;
}

void logstore__range_bounds(const logstore_range *r, int end_included, int64_t *lo,
                            int64_t *hi)
{
    *lo = r->has_start && r->start > 0 ? r->start : 0;
    int64_t end = r->end > 0 ? r->end : 0;
    if (!r->has_end || (end_included && end >= MAX_TS)) *hi = INT64_MAX;
    else *hi = end_included ? end + 1 : end;
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

int logstore__page_add(logstore_page *p, size_t *cap, size_t *bytes, sqlite3_stmt *st, int limit,
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
    logstore__range_bounds(&q->range, 0, &lo, &hi);
    /* With no token, reading from the head starts just before the range, and reading from the
     * tail just after every possible event. */
    char dir = q->start_from_head ? 'f' : 'b';
    int64_t pts = q->range.has_start && q->range.start > 0 ? q->range.start : 0, pid = 0;
    int64_t head_ts = pts;
    int by_rank = 0;
    if (q->token) {
        if (logstore__parse_pos(q->token, &dir, &pts, &pid, &by_rank) < 0) {
            *err = xasprintf("The specified nextToken is invalid: '%.60s' is not a token this "
                             "server issued.", q->token);
            return LOGSTORE_INVALID;
        }
    } else if (dir == 'b') {
        pts = MAX_TS;
        pid = INT64_MAX;
    }
    reader *r = logstore__reader_take(ls, err);
    if (!r) return LOGSTORE_FAILED;
    int64_t sid;
    int rc = find_stream(r, q->group, q->stream, &sid, err);
    if (rc == LOGSTORE_OK && !sid) {
        *err = xstrdup("The specified log stream does not exist.");
        rc = LOGSTORE_NOT_FOUND;
    }
    sqlite3_stmt *st = NULL, *rank = NULL, *nth = NULL;
    if (rc == LOGSTORE_OK) {
        st = reader_stmt(r, dir == 'f' ? R_FORWARD : R_BACKWARD, err);
        rank = st ? reader_stmt(r, R_RANK, err) : NULL;
        nth = rank ? reader_stmt(r, R_NTH, err) : NULL;
        if (!nth) rc = LOGSTORE_FAILED;
    }
    if (rc == LOGSTORE_OK) {
        bind_named(rank, ":s", sid);
        bind_named(nth, ":s", sid);
        /* The token's rank among the stream's events at its time, as this store numbers them. */
        if (by_rank && logstore__rank_to_id(nth, pts, pid, &pid) < 0)
            rc = logstore__read_failed(r, err);
    }
    if (rc != LOGSTORE_OK) {
        logstore__reader_give(ls, r);
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
        if (logstore__page_add(out, &cap, &bytes, st, limit, max_bytes, 0)) break;
    if (step != SQLITE_ROW && step != SQLITE_DONE) rc = logstore__read_failed(r, err);
    sqlite3_reset(st);
    if (rc != LOGSTORE_OK) {
        logstore__reader_give(ls, r);
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
    int bad;
    if (out->n) {
        const logstore_record *first = &out->events[0], *last = &out->events[out->n - 1];
        bad = logstore__token(rank, out->forward, 'f', last->timestamp, last->id) < 0 ||
              logstore__token(rank, out->backward, 'b', first->timestamp, first->id) < 0;
    } else if (!q->token) {
        bad = logstore__token(rank, out->forward, 'f', head_ts, 0) < 0 ||
              logstore__token(rank, out->backward, 'b', head_ts, 0) < 0;
    } else if (dir == 'f') {
        /* The end of the stream: the same forward token tells the client to stop. */
        snprintf(out->forward, sizeof out->forward, "%s", q->token);
        bad = logstore__token(rank, out->backward, 'b', pts, pid < INT64_MAX ? pid + 1 : pid) < 0;
    } else {
        snprintf(out->backward, sizeof out->backward, "%s", q->token);
        bad = logstore__token(rank, out->forward, 'f', pts, pid > 0 ? pid - 1 : 0) < 0;
    }
    if (bad) {
        rc = logstore__read_failed(r, err);
        logstore_page_free(out);
    }
    logstore__reader_give(ls, r);
    return rc;
}
