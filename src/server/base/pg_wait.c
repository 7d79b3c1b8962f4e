/* pg_wait — see pg_wait.h. */
#include "server/base/pg_wait.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

/* Set and read by the one thread that runs the start (server_store_lead). */
static int (*stop_fn)(void);

void pg_wait_set_stop(int (*stop)(void))
{
    stop_fn = stop;
}

/* A connection with conn's own parameters (the URI's, and barge's defaults). */
static PGconn *connect_like(PGconn *conn)
{
    PQconninfoOption *opts = PQconninfo(conn);
    if (!opts) return NULL;
    size_t n = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++) n++;
    const char **keys = xcalloc(n + 1, sizeof *keys), **values = xcalloc(n + 1, sizeof *values);
    size_t k = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !*o->val) continue;
        keys[k] = o->keyword;
        values[k++] = o->val;
    }
    PGconn *side = PQconnectdbParams(keys, values, 0);
    free(keys);
    free(values);
    PQconninfoFree(opts);
    return side;
}

/* One blocking session as "session PID (APP from ADDRESS, STATE, in a transaction since T)",
 * with what this database user may read of it. */
static void describe(buf *out, PGresult *r, int i)
{
    const char *app = PQgetvalue(r, i, 1), *from = PQgetvalue(r, i, 2),
               *state = PQgetvalue(r, i, 3), *since = PQgetvalue(r, i, 4);
    int in_xact = strcmp(PQgetvalue(r, i, 5), "t") == 0;
    if (out->len) buf_puts(out, "; ");
    buf_printf(out, "session %s (", PQgetvalue(r, i, 0));
    size_t start = out->len;
    if (*app) buf_printf(out, "%s", app);
    if (*from) buf_printf(out, "%sfrom %s", out->len > start ? " " : "", from);
    if (*state) buf_printf(out, "%s%s", out->len > start ? ", " : "", state);
    if (*since)
        buf_printf(out, "%s%s since %s", out->len > start ? ", " : "",
                   in_xact ? "in a transaction" : "its last statement", since);
    if (out->len == start) buf_puts(out, "what it runs is hidden from this database user");
    buf_puts(out, ")");
}

/* Whether conn's statement waits on sessions that hold what it needs; when it does, says who.
 * The side connection is opened the first time and kept for the rest of the wait. */
static int tell(PGconn *conn, PGconn **side, const char *what, int64_t waited_ms)
{
    if (!*side) *side = connect_like(conn);
    if (!*side || PQstatus(*side) != CONNECTION_OK) {
        char *e = xstrdup(*side ? PQerrorMessage(*side) : "out of memory");
        for (size_t n = strlen(e); n && (e[n - 1] == '\n' || e[n - 1] == ' ');) e[--n] = '\0';
        log_warn("store: %s has waited %lld s; which sessions it waits for cannot be asked on a "
                 "second connection: %s", what, (long long)(waited_ms / 1000), e);
        free(e);
        PQfinish(*side);
        *side = NULL;
        return 1;
    }
    char pid[16];
    snprintf(pid, sizeof pid, "%d", PQbackendPID(conn));
    const char *params[1] = {pid};
    PGresult *r = PQexecParams(
        *side,
        "SELECT b.pid, coalesce(a.application_name, ''),"
        " coalesce(host(a.client_addr), CASE WHEN a.client_port = -1 THEN 'a local socket' END,"
        "          ''),"
        " coalesce(a.state, ''),"
        " coalesce(to_char(coalesce(a.xact_start, a.query_start) AT TIME ZONE 'UTC',"
        "                  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''),"
        " a.xact_start IS NOT NULL"
        " FROM unnest(pg_blocking_pids($1::int)) AS b(pid)"
        " LEFT JOIN pg_stat_activity a ON a.pid = b.pid ORDER BY b.pid",
        1, NULL, params, NULL, NULL, 0);
    int told = 0;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) {
        buf who = {0};
        for (int i = 0; i < PQntuples(r); i++) describe(&who, r, i);
        log_warn("store: %s has waited %lld s for a lock that another session of the database "
                 "holds: %s; it goes on once %s, rolls back or ends (pg_terminate_backend(PID) "
                 "ends one)", what, (long long)(waited_ms / 1000), who.data,
                 PQntuples(r) > 1 ? "they commit" : "that session commits");
        buf_free(&who);
        told = 1;
    }
    PQclear(r);
    return told;
}

PGresult *pg_wait_result(PGconn *conn, const char *what)
{
    int64_t start = util_mono_ms(), next = start + PG_WAIT_TELL_MS;
    PGconn *side = NULL;
    int told = 0;
    while (PQisBusy(conn)) {
        struct pollfd p = {PQsocket(conn), POLLIN, 0};
        if (p.fd < 0) break; /* PQgetResult says why */
        /* A short tick, so that a stop asked meanwhile is seen soon. */
        int rc = poll(&p, 1, 250);
        if (rc < 0 && errno != EINTR) break;
        if (rc > 0 && !PQconsumeInput(conn)) break;
        if (stop_fn && stop_fn()) {
            log_info("store: %s is given up: the server stops", what);
            char why[256];
            PGcancel *c = PQgetCancel(conn);
            if (c) PQcancel(c, why, sizeof why);
            PQfreeCancel(c);
            break; /* the statement's answer, cancelled, follows at once */
        }
        int64_t now = util_mono_ms();
        if (now < next) continue;
        if (tell(conn, &side, what, now - start)) {
            told = 1;
            next = now + PG_WAIT_REPEAT_MS;
        } else {
            next = now + 1000; /* slow, not blocked: asked again in a second */
        }
    }
    PQfinish(side);
    if (told)
        log_info("store: %s goes on; it waited %lld s", what,
                 (long long)((util_mono_ms() - start) / 1000));
    return PQgetResult(conn);
}

PGresult *pg_wait_exec(PGconn *conn, const char *what, const char *sql, int nparams,
                       const char *const *params)
{
    int sent = nparams ? PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0)
                       : PQsendQuery(conn, sql);
    if (!sent) return PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
    /* As PQexec: the last result, or the error. */
    PGresult *out = NULL, *r;
    while ((r = pg_wait_result(conn, what))) {
        ExecStatusType st = PQresultStatus(r);
        if (out && PQresultStatus(out) == PGRES_FATAL_ERROR && st != PGRES_FATAL_ERROR) {
            PQclear(r);
            continue;
        }
        PQclear(out);
        out = r;
    }
    return out ? out : PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
}
