/* store_pg — the shared store: the records in a PostgreSQL database, reached with libpq.
 *
 * Several servers may point at one database; only the one holding the lease writes
 * (pg_lease.h).  A batch's writes are kept in memory, the last write of each record winning,
 * and store_commit sends them all as ONE statement: its deletes and upserts as arrays, and a
 * call of barge_fence(epoch), which renews the lease and raises an error when another server
 * took it over.  One statement is one implicit transaction and one round trip: a server paused
 * past its lease can never write after another one leads, and a batch costs the database one
 * commit (one WAL flush) however many records it changed. */
#include "server/base/store.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>
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

/* One pending write: doc NULL is a delete. */
typedef struct {
    char *kind, *key, *doc;
    size_t len;
} pending;

typedef struct {
    store base;
    PGconn *conn;
    char *conninfo;
    /* The core thread commits while the main thread may scan (start-up): one user at a time. */
    pthread_mutex_t mu;
    pending *w;
    size_t n, cap;
    size_t *slot; /* open addressing over w: index + 1, 0 empty */
    size_t nslot;
    char err[512];
    int64_t epoch; /* the lease's fencing number this server holds; 0: not leading */
    int lease_ms;
    void (*fenced)(void);
    void (*renewed)(int64_t asked_ms);
    pg_session session; /* the database's session serving conn */
    int serving; /* a batch has been stored: commits' lock waits are bounded (pg_commit) */
    int session_bounded; /* conn's session has that bound as its lock_timeout */
} pg_store;

static void set_err(pg_store *s, const char *what, const char *detail)
{
    snprintf(s->err, sizeof s->err, "%s: %s", what, detail && *detail ? detail : "unknown error");
    size_t n = strlen(s->err);
    while (n && (s->err[n - 1] == '\n' || s->err[n - 1] == ' ')) s->err[--n] = '\0';
}

/* A lost connection (the database restarted, a network cut) is opened again before the next
 * use; until it opens, every use fails and the core answers 503s.  The database's session of
 * the connection that broke may still be running its last statement (a commit waiting on a
 * lock, whose client gave up at the break) and commit after the server has read its state back
 * on the new connection, which would then lack a batch the database holds: it is ended (its
 * transaction, unless already committed, rolled back) and waited for before anything is read
 * again, so that what is read is final (pg_session.h). */
static int connected(pg_store *s)
{
    if (PQstatus(s->conn) == CONNECTION_OK) return 0;
    PQreset(s->conn);
    if (PQstatus(s->conn) == CONNECTION_OK) {
        log_info("store: connected to PostgreSQL again");
        pg_session old = s->session;
        s->session_bounded = 0; /* a new session, with the database's settings */
        pg_session_note(s->conn, &s->session);
        pg_session_settle(s->conn, &old, "store");
        return 0;
    }
    set_err(s, "PostgreSQL is unreachable", PQerrorMessage(s->conn));
    return -1;
}

static uint64_t hash2(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *a; a++) h = (h ^ (unsigned char)*a) * 1099511628211ULL;
    h = (h ^ 0x1f) * 1099511628211ULL;
    for (; *b; b++) h = (h ^ (unsigned char)*b) * 1099511628211ULL;
    return h;
}

static void clear_pending(pg_store *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->w[i].kind);
        free(s->w[i].key);
        free(s->w[i].doc);
    }
    s->n = 0;
    if (s->nslot) memset(s->slot, 0, s->nslot * sizeof *s->slot);
}

static void rehash(pg_store *s)
{
    size_t n = s->nslot ? s->nslot * 2 : 1024;
    free(s->slot);
    s->slot = xcalloc(n, sizeof *s->slot);
    s->nslot = n;
    for (size_t i = 0; i < s->n; i++) {
        size_t h = (size_t)hash2(s->w[i].kind, s->w[i].key) & (n - 1);
        while (s->slot[h]) h = (h + 1) & (n - 1);
        s->slot[h] = i + 1;
    }
}

/* The batch's write of (kind, key): the same record written twice in a batch is sent once. */
static void record_write(pg_store *s, const char *kind, const char *key, const char *doc,
                         size_t len)
{
    if ((s->n + 1) * 2 > s->nslot) rehash(s);
    size_t h = (size_t)hash2(kind, key) & (s->nslot - 1);
    for (; s->slot[h]; h = (h + 1) & (s->nslot - 1)) {
        pending *p = &s->w[s->slot[h] - 1];
        if (strcmp(p->kind, kind) == 0 && strcmp(p->key, key) == 0) {
            free(p->doc);
            p->doc = doc ? xstrndup(doc, len) : NULL;
            p->len = len;
            return;
        }
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 256;
        s->w = xrealloc(s->w, s->cap * sizeof *s->w);
    }
    s->w[s->n] = (pending){xstrdup(kind), xstrdup(key), doc ? xstrndup(doc, len) : NULL, len};
    s->slot[h] = ++s->n;
}

static int pg_begin(store *b)
{
    clear_pending((pg_store *)b);
    return 0;
}

static int pg_put(store *b, const char *kind, const char *key, const char *doc, size_t len)
{
    record_write((pg_store *)b, kind, key, doc, len);
    return 0;
}

static int pg_del(store *b, const char *kind, const char *key)
{
    record_write((pg_store *)b, kind, key, NULL, 0);
    return 0;
}

static void pg_rollback(store *b)
{
    clear_pending((pg_store *)b);
}

/* The longest a serving commit waits on a lock: a quarter of the lease, so that a renewal
 * queued behind it (on the lease's row, which the commit's fence holds) still comes within the
 * lease while renewals come at least every half lease (--lease-renew-ms; a renewal rarer than
 * that may miss it by up to this bound). */
static int lock_bound_ms(const pg_store *s)
{
    return s->lease_ms / 4 > 0 ? s->lease_ms / 4 : 1;
}

/* Sets (or resets to the database's) the session's lock_timeout: a serving commit's bound, set
 * on the session (not in the statement) so that it also bounds the table locks taken as the
 * statement is planned; reset before the other statements, which wait and say who holds the
 * lock (pg_wait.h).  Sent only when it changes. */
static void session_lock_bound(pg_store *s, int bounded)
{
    if (s->session_bounded == bounded) return;
    char sql[64];
    if (bounded) snprintf(sql, sizeof sql, "SET lock_timeout = %d", lock_bound_ms(s));
    else snprintf(sql, sizeof sql, "RESET lock_timeout");
    PGresult *r = PQexec(s->conn, sql);
    if (PQresultStatus(r) == PGRES_COMMAND_OK) s->session_bounded = bounded;
    PQclear(r);
}

/* Sends the batch: deletes, upserts and the lease's check in one statement. */
static int pg_commit(store *b)
{
    pg_store *s = (pg_store *)b;
    buf arr[5] = {{0}};
    for (int i = 0; i < 5; i++) buf_append(&arr[i], "{", 1);
    for (size_t i = 0; i < s->n; i++) {
        pending *p = &s->w[i];
        int put = p->doc != NULL;
        store_pg_array_add(&arr[put ? 2 : 0], p->kind, strlen(p->kind));
        store_pg_array_add(&arr[put ? 3 : 1], p->key, strlen(p->key));
        if (put) store_pg_array_add(&arr[4], p->doc, p->len);
    }
    for (int i = 0; i < 5; i++) buf_append(&arr[i], "}", 2); /* with the NUL */
    char epoch[24], lease[16];
    snprintf(epoch, sizeof epoch, "%lld", (long long)s->epoch);
    snprintf(lease, sizeof lease, "%d", s->lease_ms);
    char bound[24];
    snprintf(bound, sizeof bound, "%dms", lock_bound_ms(s));
    const char *params[8] = {epoch, lease, arr[0].data, arr[1].data, arr[2].data, arr[3].data,
                             arr[4].data, bound};
    /* The CTEs that change data run whether or not the outer query reads them (after it); a
     * record is in one of the two lists only, so their order does not matter.
     *
     * Once the server serves, the writes wait on a lock for a quarter of the lease at most
     * (lock_bound_ms: the session's lock_timeout, and $8 inside the statement): a
     * session holding a record's row (an operator's open transaction, a migration) held the
     * core, every call unanswered, and, since barge_fence has locked the lease's row by then,
     * every renewal and takeover behind it, so that no server served until the lock went.
     * Cancelled, the batch fails as any refused commit does: its calls are answered 503
     * (retried by clients) and the state is read back.  barge_fence's own wait on the lease's
     * row is not bounded (lock_timeout 0 around it, nested subqueries evaluated inside out): a
     * lease table held by another session is the lease's business (the renewals say it is
     * unconfirmed; a takeover fences this server), and a timeout there would only read the
     * state back over and over.  Not before serving: the start's statements wait on locks and
     * name who holds them (pg_wait.h). */
    static const char sql[] =
        "WITH d AS (DELETE FROM barge_records r USING unnest($3::text[], $4::text[]) AS x(k, y)"
        "           WHERE r.kind = x.k AND r.key = x.y),"
        " i AS (INSERT INTO barge_records(kind, key, doc)"
        "       SELECT * FROM unnest($5::text[], $6::text[], $7::text[])"
        "       ON CONFLICT (kind, key) DO UPDATE SET doc = excluded.doc)"
        " SELECT barge_fence($1::bigint, $2::int)";
    static const char sql_bounded[] =
        "WITH d AS (DELETE FROM barge_records r USING unnest($3::text[], $4::text[]) AS x(k, y)"
        "           WHERE r.kind = x.k AND r.key = x.y),"
        " i AS (INSERT INTO barge_records(kind, key, doc)"
        "       SELECT * FROM unnest($5::text[], $6::text[], $7::text[])"
        "       ON CONFLICT (kind, key) DO UPDATE SET doc = excluded.doc)"
        " SELECT f.e, set_config('lock_timeout', $8, true)"
        "   FROM (SELECT barge_fence($1::bigint, $2::int) AS e"
        "           FROM (SELECT set_config('lock_timeout', '0', true)) AS z) AS f";
    /* A batch that wrote nothing still checks the epoch (its answers are reads of a state
     * that must still be the stored one), but need not wait for a WAL flush: the lease's new
     * expiry may be lost with the database without harm.  Its wait on the lease's row is not
     * bounded either. */
    static const char fence_only[] =
        "SELECT set_config('synchronous_commit', 'off', true), f.e"
        "  FROM (SELECT barge_fence($1::bigint, $2::int) AS e"
        "          FROM (SELECT set_config('lock_timeout', '0', true)) AS z) AS f";
    int rc = -1;
    pthread_mutex_lock(&s->mu);
    if (connected(s) == 0) {
        if (s->serving) session_lock_bound(s, 1);
        int64_t asked = util_mono_ms();
        PGresult *r = pg_wait_quick_exec(
            s->conn, "committing a batch (table barge_records)",
            !s->n ? fence_only : s->serving ? sql_bounded : sql, !s->n ? 2 : s->serving ? 8 : 7,
            params);
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            rc = 0;
            s->serving = 1;
            /* barge_fence set the lease's expiry: a renewal, which the lease's own connection
             * (lost, its slot taken) may not be making. */
            if (s->renewed) s->renewed(asked);
        } else {
            const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            set_err(s, "PostgreSQL refused the commit", PQresultErrorMessage(r));
            if (state && strcmp(state, STORE_PG_FENCED) == 0 && s->fenced) {
                PQclear(r);
                pthread_mutex_unlock(&s->mu);
                for (int i = 0; i < 5; i++) buf_free(&arr[i]);
                s->fenced(); /* does not return */
                return -1;
            }
        }
        PQclear(r);
    }
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < 5; i++) buf_free(&arr[i]);
    clear_pending(s);
    return rc;
}

/* Rows arrive one at a time (single-row mode): a store of millions of records is never held
 * whole in libpq's memory.  A connection the database dropped while it was idle (a standby's,
 * across a restart of PostgreSQL) is seen dead only when used: a scan that fails so before its
 * first row is made again on a new connection, once, rather than failing the takeover that
 * asked for it. */
static int pg_scan(store *b, const char *kind, store_scan_fn fn, void *arg)
{
    pg_store *s = (pg_store *)b;
    int out = -1;
    pthread_mutex_lock(&s->mu);
    /* For tests: while the file $BARGE_FAULT_PG_READ names exists, reads fail as on a
     * database that went away (a takeover's read of the state, server.c). */
    const char *fault = getenv("BARGE_FAULT_PG_READ");
    if (fault && *fault && access(fault, F_OK) == 0) {
        set_err(s, "PostgreSQL refused the read", "an injected fault ($BARGE_FAULT_PG_READ)");
        pthread_mutex_unlock(&s->mu);
        return -1;
    }
    for (int attempt = 0; attempt < 2 && connected(s) == 0; attempt++) {
        session_lock_bound(s, 0);
        const char *params[1] = {kind};
        long rows = 0;
        int failed = 0, stop = 0;
        if (!PQsendQueryParams(s->conn,
                               "SELECT key, doc FROM barge_records WHERE kind = $1 ORDER BY key",
                               1, NULL, params, NULL, NULL, 0) ||
            !PQsetSingleRowMode(s->conn)) {
            set_err(s, "PostgreSQL refused the read", PQerrorMessage(s->conn));
            failed = 1;
        } else {
            PGresult *r;
            /* The first row waits for whoever holds the table locked (pg_wait.h). */
            while ((r = pg_wait_result(s->conn, "reading the records (table barge_records)"))) {
                ExecStatusType st = PQresultStatus(r);
                if (st == PGRES_SINGLE_TUPLE && !stop) {
                    rows++;
                    stop = fn(arg, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1),
                              (size_t)PQgetlength(r, 0, 1));
                } else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK) {
                    set_err(s, "PostgreSQL refused the read", PQresultErrorMessage(r));
                    failed = 1;
                }
                PQclear(r);
            }
        }
        if (!failed) {
            out = stop;
            break;
        }
        if (rows > 0 || PQstatus(s->conn) == CONNECTION_OK) break;
        log_info("store: the connection to PostgreSQL was lost while idle; reading again on a "
                 "new one");
    }
    pthread_mutex_unlock(&s->mu);
    return out;
}

static const char *pg_errmsg(store *b)
{
    return ((pg_store *)b)->err;
}

static void pg_close(store *b)
{
    pg_store *s = (pg_store *)b;
    clear_pending(s);
    free(s->w);
    free(s->slot);
    PQfinish(s->conn);
    free(s->conninfo);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static const struct store_ops pg_ops = {
    pg_begin, pg_commit, pg_rollback, pg_put, pg_del, pg_scan, pg_errmsg, pg_close,
};

int store_is_pg(const char *spec)
{
    return spec && (strncmp(spec, "postgresql://", 13) == 0 || strncmp(spec, "postgres://", 11) == 0);
}

store *store_pg_open(const char *conninfo, char **err)
{
    *err = NULL;
    PGconn *conn = store_pg_open_conn(conninfo, "", err);
    if (!conn) return NULL;
    if (store_pg_migrate(conn, err) < 0) {
        PQfinish(conn);
        return NULL;
    }
    pg_store *s = xcalloc(1, sizeof *s);
    s->base.ops = &pg_ops;
    s->base.reads_commit = 1; /* the fence (commit, below) */
    s->conn = conn;
    s->conninfo = xstrdup(conninfo);
    s->lease_ms = 3000;
    pg_session_note(s->conn, &s->session);
    pthread_mutex_init(&s->mu, NULL);
    return &s->base;
}

void store_pg_lead(store *b, int64_t epoch, int lease_ms, void (*fenced)(void),
                   void (*renewed)(int64_t asked_ms))
{
    pg_store *s = (pg_store *)b;
    pthread_mutex_lock(&s->mu);
    s->epoch = epoch;
    s->lease_ms = lease_ms;
    s->fenced = fenced;
    s->renewed = renewed;
    pthread_mutex_unlock(&s->mu);
}

int store_pg_schema_check(store *b, char **err)
{
    pg_store *s = (pg_store *)b;
    int rc = -1;
    *err = NULL;
    pthread_mutex_lock(&s->mu);
    if (connected(s) == 0) {
        session_lock_bound(s, 0);
        int version = store_pg_schema_version(s->conn, err);
        rc = version < 0 ? -1 : version > store_pg_schema_newest();
        if (rc > 0)
            *err = xasprintf("the PostgreSQL store's schema is now version %d, newer than this "
                             "barge understands (%d): a newer barge migrated it while this one "
                             "stood by; run the newer barge here too", version,
                             store_pg_schema_newest());
    } else {
        *err = xstrdup(s->err);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int store_pg_shared_value(store *b, const char *key, const char *proposed, char **out)
{
    pg_store *s = (pg_store *)b;
    int rc = -1;
    *out = NULL;
    const char *params[2] = {key, proposed};
    pthread_mutex_lock(&s->mu);
    /* The first server to propose one sets it; every later one reads it.  Two servers that
     * start together can both miss it: the second's insert waits for the first's to commit and
     * then does nothing, and its read sees the table as the statement began, without the
     * first's row, so the statement gives no row at all.  A statement of its own, after the
     * first's commit, reads it: tried again, once or twice. */
    for (int tries = 0; rc != 0 && tries < 3 && connected(s) == 0; tries++) {
        session_lock_bound(s, 0);
        PGresult *r = pg_wait_exec(
            s->conn, "reading the shared settings (table barge_shared)",
            "WITH i AS (INSERT INTO barge_shared(key, value) VALUES ($1, $2) "
            "           ON CONFLICT (key) DO NOTHING RETURNING value) "
            "SELECT value FROM i UNION ALL SELECT value FROM barge_shared WHERE key = $1",
            2, params);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) >= 1) {
            *out = xstrdup(PQgetvalue(r, 0, 0));
            rc = 0;
        } else if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            set_err(s, "reading a shared setting failed",
                    "neither set nor found (another server setting it at the same moment)");
        } else {
            set_err(s, "reading a shared setting failed", PQresultErrorMessage(r));
            PQclear(r);
            break;
        }
        PQclear(r);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}
