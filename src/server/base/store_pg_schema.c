#include "server/base/store_pg_schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "server/base/pg_wait.h"

/* Each entry moves the schema from version i to i+1.  Never edit a released entry: append. */
static const char *const migrations[] = {
    /* 1: the records (as SQLite's table: keys compare as bytes, hence COLLATE "C"); the
     * leader's lease, whose epoch fences every write; settings every server shares. */
    "CREATE TABLE barge_records ("
    "  kind TEXT COLLATE \"C\" NOT NULL,"
    "  key  TEXT COLLATE \"C\" NOT NULL,"
    "  doc  TEXT NOT NULL,"
    "  PRIMARY KEY (kind, key));"
    "CREATE TABLE barge_lease ("
    "  id      INT PRIMARY KEY CHECK (id = 1),"
    "  holder  TEXT NOT NULL,"
    "  epoch   BIGINT NOT NULL,"
    "  expires TIMESTAMPTZ NOT NULL);"
    "INSERT INTO barge_lease VALUES (1, '', 0, '-infinity');"
    "CREATE TABLE barge_shared ("
    "  key   TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL);"
    /* Renews the lease of epoch mine, or raises BRG01 when another server holds it: called in
     * the statement that commits each batch, so the check and the writes are one transaction
     * (the row lock it takes makes a takeover wait for the commit). */
    "CREATE FUNCTION barge_fence(mine BIGINT, lease_ms INT) RETURNS BIGINT "
    "LANGUAGE plpgsql AS $$ BEGIN"
    "  UPDATE barge_lease SET expires = clock_timestamp() + lease_ms * interval '1 millisecond'"
    "   WHERE id = 1 AND epoch = mine;"
    "  IF NOT FOUND THEN"
    "    RAISE EXCEPTION 'the lease of epoch % was taken over by another server', mine"
    "      USING ERRCODE = '" STORE_PG_FENCED "';"
    "  END IF;"
    "  RETURN mine;"
    "END $$;",
    /* 2: job logs, copied by the leader as it stores them, so that the next leader reads back
     * what the old one received (pg_logcopy.h): one row a group made ('g'), a stream made ('s')
     * or an event ('e'), numbered in the order they were kept. */
    "CREATE TABLE barge_logs ("
    "  seq    BIGSERIAL PRIMARY KEY,"
    "  kind   \"char\" NOT NULL,"
    "  grp    TEXT NOT NULL,"
    "  stream TEXT,"
    "  ts     BIGINT,"
    "  msg    BYTEA);",
    /* 3: a stream's rows found by its name, for its deletion (a job let go after the
     * retention, model/retention.h): the deletion is a row of its own ('d'), for standbys to
     * read back, and the stream's earlier rows go. */
    ("CREATE INDEX barge_logs_stream ON barge_logs (grp, stream);"
     "CREATE INDEX barge_logs_drops ON barge_logs (ts) WHERE kind = 'd';"),
    /* 4: a log group's deletion (DeleteLogGroup) is a 'd' row without a stream.  Nothing to
     * change in the tables: the version is what keeps an older barge, which would take such a
     * row for one it cannot read and stop following the copy, from sharing the store. */
    "SELECT 1;",
    /* 5: log groups' retention (PutRetentionPolicy) and tags: a group's retention is an 'r'
     * row (its days in ts) and its tags an 'a' row (their JSON in msg), each found by this
     * index when the next replaces it; the events let go of in a stream are a 't' row (the
     * time before which they went), which takes the stream's events before then through the
     * index by stream, kind and time (it replaces the one by stream alone, of which it is an
     * extension).  The version keeps an older barge, which cannot read these rows, off the
     * store. */
    ("CREATE INDEX barge_logs_group_settings ON barge_logs (grp, kind) WHERE kind IN ('r', 'a');"
     "CREATE INDEX barge_logs_stream_kind_ts ON barge_logs (grp, stream, kind, ts);"
     "DROP INDEX barge_logs_stream;"),
};
#define N_MIGRATIONS (int)(sizeof migrations / sizeof migrations[0])

/* A key of barge's own for pg_advisory_xact_lock ("barge" in ASCII). */
#define MIGRATION_LOCK "426172676501"

/* What the database tells a session that is no error (a WARNING as its connection is ended,
 * a NOTICE): into the server's log, not libpq's own line on stderr. */
static void notice(void *arg, const char *message)
{
    (void)arg;
    log_info("postgresql: %s", message);
}

PGconn *store_pg_connect(const char *uri)
{
    /* With expand_dbname, the URI's own settings override these earlier ones. */
    const char *const keys[] = {"connect_timeout", "tcp_user_timeout", "keepalives_idle",
                                "keepalives_interval", "keepalives_count", "application_name",
                                "dbname", NULL};
    const char *const values[] = {"5", "10000", "5", "2", "3", "barge", uri, NULL};
    PGconn *conn = PQconnectdbParams(keys, values, 1);
    if (conn) PQsetNoticeProcessor(conn, notice, NULL);
    return conn;
}

/* Replaces every copy of the n bytes at secret in *msg with "****". */
static void scrub_one(char **msg, const char *secret, size_t n)
{
    if (!n) return;
    buf out = {0};
    const char *m = *msg, *hit;
    char *needle = xstrndup(secret, n);
    while ((hit = strstr(m, needle))) {
        buf_append(&out, m, (size_t)(hit - m));
        buf_puts(&out, "****");
        m = hit + n;
    }
    buf_puts(&out, m);
    free(needle);
    free(*msg);
    *msg = out.data ? out.data : xstrdup("");
}

/* The password a URI carries (user:PASSWORD@host, or password=... in its query), and the
 * pieces of it that a URI split at the wrong place would show (an unencoded '/' or '@' in it
 * makes libpq read part of it as the host or the port), taken out of msg. */
static char *scrub(const char *uri, const char *msg)
{
    char *out = xstrdup(msg);
    const char *p = strstr(uri, "://");
    if (p) {
        p += 3;
        size_t end = strcspn(p, "?");
        const char *at = NULL, *colon = NULL;
        for (const char *q = p; q < p + end; q++)
            if (*q == '@') at = q;
        if (at) colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            const char *pw = colon + 1;
            size_t len = (size_t)(at - pw);
            scrub_one(&out, pw, len);
            for (size_t i = 0; i < len;) {
                size_t piece = strcspn(pw + i, "/@:?#");
                if (piece > len - i) piece = len - i;
                if (piece >= 3) scrub_one(&out, pw + i, piece);
                i += piece + 1;
            }
        }
    }
    for (const char *q = strstr(uri, "password="); q; q = strstr(q + 1, "password="))
        if (q > uri && (q[-1] == '?' || q[-1] == '&'))
            scrub_one(&out, q + 9, strcspn(q + 9, "&"));
    return out;
}

PGconn *store_pg_open_conn(const char *uri, const char *what, char **err)
{
    PGconn *conn = store_pg_connect(uri);
    if (conn && PQstatus(conn) == CONNECTION_OK) return conn;
    /* libpq's messages about a URI it cannot parse quote it, password and all. */
    char *e = scrub(uri, conn ? PQerrorMessage(conn) : "out of memory");
    for (size_t n = strlen(e); n && (e[n - 1] == '\n' || e[n - 1] == ' ');) e[--n] = '\0';
    *err = xasprintf("cannot connect to the PostgreSQL store%s: %s", what, e);
    free(e);
    PQfinish(conn);
    return NULL;
}

/* Every statement of the migration may wait on a lock: another server migrating holds the
 * advisory one, and any session may hold a table (pg_wait.h).  state (6 bytes) takes the
 * SQLSTATE of a statement that failed. */
static int run(PGconn *conn, const char *sql, PGresult **keep, char *state)
{
    PGresult *r = pg_wait_exec(conn, "migrating the store's schema (table barge_schema)", sql, 0,
                               NULL);
    ExecStatusType st = PQresultStatus(r);
    if (keep && st == PGRES_TUPLES_OK) {
        *keep = r;
        return 0;
    }
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && state) {
        const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        snprintf(state, 6, "%s", code ? code : "");
    }
    PQclear(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : -1;
}

/* The connection's last error, and what to do when it was a right the database user lacks. */
static char *error_of(PGconn *conn, const char *state)
{
    char *e = xstrdup(PQerrorMessage(conn));
    for (size_t n = strlen(e); n && e[n - 1] == '\n';) e[--n] = '\0';
    if (strcmp(state, "42501") == 0) {
        char *hinted = xasprintf("%s (this database user may not create or change barge's "
                                 "tables: start barge once as their owner, or as a user that may "
                                 "create tables in the database's schema, to bring them to "
                                 "version %d; a user with rights on the tables' rows alone then "
                                 "serves)", e, N_MIGRATIONS);
        free(e);
        e = hinted;
    }
    return e;
}

int store_pg_schema_version(PGconn *conn, char **err)
{
    PGresult *r = NULL;
    char state[6] = "";
    int version = -1;
    if (run(conn, "SELECT to_regclass('barge_schema') IS NOT NULL", &r, state) == 0) {
        int exists = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
        r = NULL;
        if (!exists) return 0;
        if (run(conn, "SELECT version FROM barge_schema", &r, state) == 0) {
            version = PQntuples(r) ? atoi(PQgetvalue(r, 0, 0)) : 0;
            PQclear(r);
            return version;
        }
    }
    char *e = error_of(conn, state);
    *err = xasprintf("cannot read the PostgreSQL store's schema version: %s", e);
    free(e);
    return -1;
}

int store_pg_schema_newest(void)
{
    return N_MIGRATIONS;
}

static char *too_new(int version)
{
    return xasprintf("the PostgreSQL store holds schema version %d, newer than this barge "
                     "understands (%d); run a newer barge", version, N_MIGRATIONS);
}

int store_pg_migrate(PGconn *conn, char **err)
{
    /* Read first without a lock or a right to create: a store already at this version (every
     * start but an upgrade's) needs nothing more, so a database user with rights on the
     * tables' rows alone can serve. */
    int version = store_pg_schema_version(conn, err);
    if (version < 0) return -1;
    if (version == N_MIGRATIONS) return 0;
    if (version > N_MIGRATIONS) {
        *err = too_new(version);
        return -1;
    }
    PGresult *r = NULL;
    char state[6] = "";
    /* CREATE ... IF NOT EXISTS's notices would reach standard error. */
    if (run(conn, "SET client_min_messages = warning", NULL, state) < 0 ||
        run(conn, "BEGIN", NULL, state) < 0 ||
        run(conn, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ")", NULL, state) < 0 ||
        run(conn, "CREATE TABLE IF NOT EXISTS barge_schema (version INT NOT NULL)", NULL, state) <
            0 ||
        run(conn, "SELECT version FROM barge_schema", &r, state) < 0) {
        char *e = error_of(conn, state);
        *err = xasprintf("cannot read the PostgreSQL store's schema version: %s", e);
        free(e);
        run(conn, "ROLLBACK", NULL, NULL);
        return -1;
    }
    /* Again under the lock: another server may have migrated meanwhile. */
    version = PQntuples(r) ? atoi(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    if (version < 0 && run(conn, "INSERT INTO barge_schema VALUES (0)", NULL, state) < 0)
        goto failed;
    if (version < 0) version = 0;
    if (version > N_MIGRATIONS) {
        *err = too_new(version);
        run(conn, "ROLLBACK", NULL, NULL);
        return -1;
    }
    for (int v = version; v < N_MIGRATIONS; v++)
        if (run(conn, migrations[v], NULL, state) < 0) goto failed;
    char set[64];
    snprintf(set, sizeof set, "UPDATE barge_schema SET version = %d", N_MIGRATIONS);
    if (run(conn, set, NULL, state) < 0 || run(conn, "COMMIT", NULL, state) < 0) goto failed;
    return 0;
failed:;
    char *e = error_of(conn, state);
    *err = xasprintf("migrating the PostgreSQL store to schema version %d failed: %s",
                     N_MIGRATIONS, e);
    free(e);
    run(conn, "ROLLBACK", NULL, NULL);
    return -1;
}

void store_pg_array_add(buf *a, const char *s, size_t len)
{
    if (a->len > 1) buf_append(a, ",", 1);
    if (!s) {
        buf_append(a, "NULL", 4);
        return;
    }
    buf_append(a, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            buf_append(a, s + run, i - run);
            buf_append(a, "\\", 1);
            run = i;
        }
    }
    buf_append(a, s + run, len - run);
    buf_append(a, "\"", 1);
}
