#include "server/base/pg_logcopy.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/base/pg_session.h"
#include "server/base/pg_wait.h"
#include "server/base/store_pg_schema.h"

/* How long a copy in doubt is given to find the database again (settle_doubt). */
#define DOUBT_MS 8000
/* How long the copy keeps the record of a stream's deletion, for standbys to read back. */
#define DROPS_KEPT_MS (7LL * 24 * 3600 * 1000)

struct pg_logcopy {
    PGconn *conn;
    pg_session session; /* the database's session serving conn */
    int64_t epoch;
    int lease_ms;
    void (*fenced)(void);
    int failing; /* the last catch-up failed: said once */
    int session_bounded; /* conn's session has the copy's lock bound as its lock_timeout */
    /* The newest row of the table this server knows stored (-1: not read yet): a copy in doubt
     * was stored if the table holds a newer one, since only the leader writes to it. */
    int64_t newest;
};

pg_logcopy *pg_logcopy_open(const char *uri, char **err)
{
    PGconn *conn = store_pg_open_conn(uri, " for the logs", err);
    if (!conn) return NULL;
    pg_logcopy *c = xcalloc(1, sizeof *c);
    c->conn = conn;
    c->newest = -1;
    pg_session_note(conn, &c->session);
    return c;
}

void pg_logcopy_close(pg_logcopy *c)
{
    if (!c) return;
    PQfinish(c->conn);
    free(c);
}

void pg_logcopy_lead(pg_logcopy *c, int64_t epoch, int lease_ms, void (*fenced)(void))
{
    c->newest = -1; /* read again: another leader may have written since */
    c->epoch = epoch;
    c->lease_ms = lease_ms;
    c->fenced = fenced;
}

/* Opened again when it broke, the old session ended first (pg_session.h). */
static int reachable(pg_logcopy *c)
{
    if (PQstatus(c->conn) == CONNECTION_OK) return 1;
    PQreset(c->conn);
    c->session_bounded = 0; /* a new session */
    if (PQstatus(c->conn) != CONNECTION_OK) return 0;
    pg_session old = c->session;
    pg_session_note(c->conn, &c->session);
    pg_session_settle(c->conn, &old, "logstore");
    return 1;
}

/* Sets (or resets to the database's) the session's lock_timeout for the copy's writes: a
 * quarter of the lease, as the store's commits have it (store_pg.c), and for the same reason:
 * the copy's statement fences, so that a row or table of barge_logs another session holds
 * (an operator's open transaction, a CREATE INDEX) held the lease's row behind it, and with it
 * every renewal, every commit of the store and every takeover, until that lock went.
 * Cancelled, the batch fails as a refused copy does and is sent again by its callers (agents
 * retry their uploads).  Set on the session, not in the statement, so that it bounds the
 * table locks taken as the statement is planned too; reset before the reads, which wait and
 * say who holds the lock (pg_wait.h).  Sent only when it changes. */
static void session_lock_bound(pg_logcopy *c, int bounded)
{
    if (c->session_bounded == bounded) return;
    char sql[64];
    if (bounded) snprintf(sql, sizeof sql, "SET lock_timeout = %d",
                          c->lease_ms / 4 > 0 ? c->lease_ms / 4 : 1);
    else snprintf(sql, sizeof sql, "RESET lock_timeout");
    PGresult *r = PQexec(c->conn, sql);
    if (PQresultStatus(r) == PGRES_COMMAND_OK) c->session_bounded = bounded;
    PQclear(r);
}

/* The newest row of the table, or -1; *epoch (when not NULL) the lease's epoch read with it. */
static int64_t newest_row(pg_logcopy *c, int64_t *epoch)
{
    session_lock_bound(c, 0);
    PGresult *r = PQexec(c->conn, "SELECT coalesce(max(seq), 0), "
                                  "(SELECT epoch FROM barge_lease WHERE id = 1) FROM barge_logs");
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    int64_t out = ok ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    if (epoch) *epoch = ok ? strtoll(PQgetvalue(r, 0, 1), NULL, 10) : -1;
    PQclear(r);
    return out;
}

/* A copy whose connection broke: was it stored?  The connection is opened again (its old
 * session ended first: reachable), tried for up to DOUBT_MS: a copy refused while in doubt,
 * stored after all, is sent again and copied twice (a database out of reach for longer leaves
 * that to chance).  A stopping server waits for it: DOUBT_MS, the last try's connect_timeout,
 * and the old session's end (pg_session_settle, 10 s at most).  Then, while this server still
 * holds the lease (only the leader writes the table), a row newer than the newest it knows
 * stored is the batch's.  Returns the newest row when it was stored, else -1. */
static int64_t settle_doubt(pg_logcopy *c)
{
    int64_t until = util_mono_ms() + DOUBT_MS;
    while (!reachable(c) && util_mono_ms() < until) usleep(200 * 1000);
    int64_t epoch = -1, now = PQstatus(c->conn) == CONNECTION_OK ? newest_row(c, &epoch) : -1;
    if (now >= 0 && epoch != c->epoch) {
        log_error("logstore: the lease is another server's (epoch %lld): this server no longer "
                  "leads", (long long)epoch);
        if (c->fenced) c->fenced();
        return -1;
    }
    if (now > c->newest) {
        log_info("logstore: the log copy whose connection to PostgreSQL broke was stored (rows "
                 "up to %lld)", (long long)now);
        return c->newest = now;
    }
    log_error("logstore: copying log events to PostgreSQL failed: %s",
              PQstatus(c->conn) != CONNECTION_OK ? "PostgreSQL is unreachable"
              : now < 0 ? "the table's newest row cannot be read"
                        : "the connection broke before the copy was stored");
    return -1;
}

/* A message as a bytea element: "\\x" and its hex (messages may hold any byte). */
static void bytes_element(buf *a, const char *s, size_t len)
{
    if (a->len > 1) buf_append(a, ",", 1);
    buf_append(a, "\"\\\\x", 4);
    char hex[2 * 256 + 1];
    for (size_t at = 0; at < len; at += 256) {
        size_t n = len - at < 256 ? len - at : 256;
        util_hex(s + at, n, hex);
        buf_append(a, hex, 2 * n);
    }
    buf_append(a, "\"", 1);
}

int64_t pg_logcopy_keep(void *ctx, const logstore_copy_item *items, size_t n)
{
    pg_logcopy *c = ctx;
    buf arr[5] = {{0}};
    for (int i = 0; i < 5; i++) buf_append(&arr[i], "{", 1);
    for (size_t i = 0; i < n; i++) {
        const logstore_copy_item *it = &items[i];
        size_t rows = it->stream && it->n ? it->n : 1;
        for (size_t e = 0; e < rows; e++) {
            /* A deleted group is a 'd' row without a stream; a retention ('r') or a trim ('t')
             * has its days or time in ts, a group's tags ('a') their JSON in msg. */
            char op = (char)it->op;
            const char *kind = it->op       ? &op
                               : it->drop   ? "d"
                               : !it->stream ? "g"
                               : it->n      ? "e"
                                            : "s";
            store_pg_array_add(&arr[0], kind, 1);
            store_pg_array_add(&arr[1], it->group, strlen(it->group));
            store_pg_array_add(&arr[2], it->stream, it->stream ? strlen(it->stream) : 0);
            if (it->op == LOGSTORE_COPY_TAGS) {
                store_pg_array_add(&arr[3], NULL, 0);
                bytes_element(&arr[4], it->ev[0].message, it->ev[0].len);
            } else if (it->op) {
                char ts[24];
                snprintf(ts, sizeof ts, "%lld", (long long)it->arg);
                store_pg_array_add(&arr[3], ts, strlen(ts));
                store_pg_array_add(&arr[4], NULL, 0);
            } else if (it->drop) {
                /* When it was deleted: deletions are let go of after DROPS_KEPT_MS. */
                char ts[24];
                snprintf(ts, sizeof ts, "%lld", (long long)util_now_ms());
                store_pg_array_add(&arr[3], ts, strlen(ts));
                store_pg_array_add(&arr[4], NULL, 0);
            } else if (it->stream && it->n) {
                char ts[24];
                snprintf(ts, sizeof ts, "%lld", (long long)it->ev[e].timestamp);
                store_pg_array_add(&arr[3], ts, strlen(ts));
                bytes_element(&arr[4], it->ev[e].message, it->ev[e].len);
            } else {
                store_pg_array_add(&arr[3], NULL, 0);
                store_pg_array_add(&arr[4], NULL, 0);
            }
        }
    }
    for (int i = 0; i < 5; i++) buf_append(&arr[i], "}", 2);
    char epoch[24], lease[16];
    snprintf(epoch, sizeof epoch, "%lld", (long long)c->epoch);
    snprintf(lease, sizeof lease, "%d", c->lease_ms);
    char old[24];
    snprintf(old, sizeof old, "%lld", (long long)(util_now_ms() - DROPS_KEPT_MS));
    char bound[24];
    snprintf(bound, sizeof bound, "%dms", c->lease_ms / 4 > 0 ? c->lease_ms / 4 : 1);
    const char *params[9] = {epoch, lease, arr[0].data, arr[1].data, arr[2].data, arr[3].data,
                             arr[4].data, old, bound};
    /* Numbered in the batch's order (ORDER BY the arrays' ordinality).  A deletion ('d') takes
     * the stream's earlier rows with it, and a group's ('d' without a stream, apart so that a
     * stream's finds its rows by the (grp, stream) index) every row of the group: rows of this
     * same batch are not seen by the DELETE, and a standby that reads them back deletes them
     * again with the 'd' after them.  Deletions older than DROPS_KEPT_MS go: a standby away
     * that long keeps the lines it had of a stream deleted meanwhile.  A trim ('t') takes the
     * stream's events before its time, and its trims up to that time; a retention ('r') or a
     * group's tags ('a') the group's earlier one: what is left is what a standby reading the
     * copy from the start needs. */
    static const char sql[] =
        "WITH i AS (INSERT INTO barge_logs(kind, grp, stream, ts, msg)"
        "  SELECT k, g, s, t, m FROM unnest($3::\"char\"[], $4::text[], $5::text[],"
        "                                   $6::bigint[], $7::bytea[])"
        "    WITH ORDINALITY AS x(k, g, s, t, m, o) ORDER BY o RETURNING seq),"
        " d AS (DELETE FROM barge_logs l USING unnest($3::\"char\"[], $4::text[], $5::text[])"
        "         AS x(k, g, s)"
        "       WHERE x.k = 'd' AND x.s IS NOT NULL AND l.grp = x.g AND l.stream = x.s"
        "         AND l.kind <> 'd'),"
        " dg AS (DELETE FROM barge_logs l USING unnest($3::\"char\"[], $4::text[], $5::text[])"
        "          AS x(k, g, s)"
        "        WHERE x.k = 'd' AND x.s IS NULL AND l.grp = x.g AND l.kind <> 'd'),"
        " t AS (DELETE FROM barge_logs l USING unnest($3::\"char\"[], $4::text[], $5::text[],"
        "                                         $6::bigint[]) AS x(k, g, s, t)"
        "       WHERE x.k = 't' AND l.grp = x.g AND l.stream = x.s"
        "         AND ((l.kind = 't' AND l.ts <= x.t) OR (l.kind = 'e' AND l.ts < x.t))),"
        " r AS (DELETE FROM barge_logs l USING unnest($3::\"char\"[], $4::text[]) AS x(k, g)"
        "       WHERE x.k IN ('r', 'a') AND l.kind IN ('r', 'a') AND l.kind = x.k"
        "         AND l.grp = x.g),"
        " old AS (DELETE FROM barge_logs WHERE kind = 'd' AND ts < $8::bigint"
        "         AND 'd' = ANY($3::\"char\"[]))"
        /* The fence's own wait on the lease's row is not bounded (as the store's). */
        " SELECT (SELECT max(seq) FROM i), f.e, set_config('lock_timeout', $9, true)"
        "   FROM (SELECT barge_fence($1::bigint, $2::int) AS e"
        "           FROM (SELECT set_config('lock_timeout', '0', true)) AS z) AS f";
    int64_t out = -1;
    if (reachable(c) && (c->newest >= 0 || (c->newest = newest_row(c, NULL)) >= 0)) {
        session_lock_bound(c, 1);
        PGresult *r = pg_wait_quick_exec(c->conn, "copying log events (table barge_logs)", sql,
                                         9, params);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
            out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
            if (out > c->newest) c->newest = out;
        } else if (PQstatus(c->conn) != CONNECTION_OK) {
            /* In doubt: the statement may have been committed before (or after) the break.
             * Refused when it was not stored, the batch is sent again and copied once; taken
             * when it was, it is not sent again (where it would be copied a second time). */
            out = settle_doubt(c);
        } else {
            const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            if (state && strcmp(state, STORE_PG_FENCED) == 0 && c->fenced) c->fenced();
            log_error("logstore: copying log events to PostgreSQL failed: %s",
                      PQresultErrorMessage(r));
        }
        PQclear(r);
    } else if (PQstatus(c->conn) != CONNECTION_OK) {
        log_error("logstore: PostgreSQL is unreachable for the log copy: %s",
                  PQerrorMessage(c->conn));
    } else {
        log_error("logstore: the log copy's table cannot be read: %s", PQerrorMessage(c->conn));
    }
    for (int i = 0; i < 5; i++) buf_free(&arr[i]);
    return out;
}

/* Rows read back from the table: items of consecutive events of one stream. */
typedef struct {
    logstore_copy_item *items;
    logstore_event *ev;
    size_t n_items, n_ev;
} readback;

static int bytea_value(const char *v, char **out, size_t *len)
{
    /* Hex format: \x then two digits a byte. */
    size_t n = strlen(v);
    if (n < 2 || v[0] != '\\' || v[1] != 'x' || (n - 2) % 2) return -1;
    *len = (n - 2) / 2;
    *out = xmalloc(*len + 1);
    if (*len && util_unhex_bytes(v + 2, *out, *len) < 0) {
        free(*out);
        return -1;
    }
    return 0;
}

long pg_logcopy_catch_up(pg_logcopy *c, logstore *ls, long max_rows)
{
    long total = 0;
    for (;;) {
        if (max_rows > 0 && total >= max_rows) return total;
        int64_t from = logstore_copied(ls);
        if (from < 0) return -1;
        if (!reachable(c)) {
            if (!c->failing) log_warn("logstore: PostgreSQL is unreachable for the log copy");
            c->failing = 1;
            return -1;
        }
        char pos[24];
        snprintf(pos, sizeof pos, "%lld", (long long)from);
        const char *params[1] = {pos};
        session_lock_bound(c, 0);
        PGresult *r = pg_wait_exec(c->conn, "reading the log copy (table barge_logs)",
                                   "SELECT seq, kind, grp, stream, ts, msg FROM barge_logs"
                                   " WHERE seq > $1::bigint ORDER BY seq LIMIT 5000",
                                   1, params);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            if (!c->failing)
                log_warn("logstore: reading the log copy failed: %s", PQresultErrorMessage(r));
            c->failing = 1;
            PQclear(r);
            return -1;
        }
        c->failing = 0;
        int rows = PQntuples(r);
        if (rows == 0) {
            PQclear(r);
            return total;
        }
        readback rb = {xcalloc((size_t)rows, sizeof *rb.items),
                       xcalloc((size_t)rows, sizeof *rb.ev), 0, 0};
        int64_t last = from;
        int bad = 0;
        for (int i = 0; i < rows && !bad; i++) {
            last = strtoll(PQgetvalue(r, i, 0), NULL, 10);
            char kind = PQgetvalue(r, i, 1)[0];
            const char *grp = PQgetvalue(r, i, 2);
            const char *stream = PQgetisnull(r, i, 3) ? NULL : PQgetvalue(r, i, 3);
            /* Every kind but a group's and a retention names a stream; a kind this barge does
             * not know is not read past (the schema's version keeps an older barge off). */
            if (!logstore_group_name_valid(grp) || !strchr("gsedrta", kind) || !kind ||
                (kind != 'g' && kind != 'd' && kind != 'r' && kind != 'a' && !stream) ||
                ((kind == 'r' || kind == 't') && PQgetisnull(r, i, 4)) ||
                (kind == 'a' && PQgetisnull(r, i, 5))) {
                bad = 1;
                break;
            }
            logstore_copy_item *prev = rb.n_items ? &rb.items[rb.n_items - 1] : NULL;
            if (kind == 'a') {
                /* A group's tags: their JSON, as an event's message. */
                logstore_event *e = &rb.ev[rb.n_ev++];
                char *msg;
                if (bytea_value(PQgetvalue(r, i, 5), &msg, &e->len) < 0) {
                    rb.n_ev--;
                    bad = 1;
                    break;
                }
                msg[e->len] = '\0';
                e->message = msg;
                e->timestamp = 0;
                rb.items[rb.n_items++] = (logstore_copy_item){.group = grp, .ev = e, .n = 1,
                                                              .op = 'a'};
                continue;
            }
            if (kind == 'e') {
                logstore_event *e = &rb.ev[rb.n_ev++];
                e->timestamp = strtoll(PQgetvalue(r, i, 4), NULL, 10);
                char *msg;
                if (bytea_value(PQgetvalue(r, i, 5), &msg, &e->len) < 0) {
                    rb.n_ev--;
                    bad = 1;
                    break;
                }
                e->message = msg;
                /* Events follow each other in one item while they are of one stream (a group's
                 * tags, an item with an event too, are no stream's). */
                if (prev && !prev->op && prev->stream && prev->n && prev->ev + prev->n == e &&
                    strcmp(prev->group, grp) == 0 && strcmp(prev->stream, stream) == 0) {
                    prev->n++;
                    continue;
                }
                rb.items[rb.n_items++] =
                    (logstore_copy_item){.group = grp, .stream = stream, .ev = e, .n = 1};
            } else if (kind == 'r' || kind == 't') {
                rb.items[rb.n_items++] = (logstore_copy_item){
                    .group = grp, .stream = kind == 'r' ? NULL : stream, .op = kind,
                    .arg = strtoll(PQgetvalue(r, i, 4), NULL, 10)};
            } else {
                rb.items[rb.n_items++] = (logstore_copy_item){
                    .group = grp, .stream = kind == 'g' ? NULL : stream, .drop = kind == 'd'};
            }
        }
        long got = 0;
        if (!bad) {
            got = (long)rows;
            if (logstore_wait(ls, logstore_import(ls, rb.items, rb.n_items, last)) < 0) got = -1;
        } else {
            log_error("logstore: the log copy holds a row this barge cannot read (after "
                      "position %lld)", (long long)from);
        }
        for (size_t i = 0; i < rb.n_ev; i++) free((char *)rb.ev[i].message);
        free(rb.items);
        free(rb.ev);
        PQclear(r);
        if (got < 0 || bad) return -1;
        total += got;
    }
}
