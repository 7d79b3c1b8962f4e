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
    /* What the blocker waits on itself: a commit held by a synchronous standby holds its
     * locks as long. */
    const char *event = PQgetvalue(r, i, 6);
    if (*event) buf_printf(out, "%swaiting on %s", out->len > start ? ", " : "", event);
    if (*since)
        buf_printf(out, "%s%s since %s", out->len > start ? ", " : "",
                   in_xact ? "in a transaction" : "its last statement", since);
    if (out->len == start) buf_puts(out, "what it runs is hidden from this database user");
    buf_puts(out, ")");
}

/* The longest a question on the side connection may take: on a database that answers no
 * statement, the side's question goes unanswered too, and the wait it watches goes on. */
#define SIDE_MS 5000

/* sql on the side connection, its answer within SIDE_MS; NULL (and the side closed, to be made
 * again at the next question) when none came. */
static PGresult *side_exec(PGconn **side, const char *sql, int nparams,
                           const char *const *params)
{
    if (!PQsendQueryParams(*side, sql, nparams, NULL, params, NULL, NULL, 0)) return NULL;
    int64_t until = util_mono_ms() + SIDE_MS;
    while (PQisBusy(*side)) {
        struct pollfd p = {PQsocket(*side), POLLIN, 0};
        int64_t left = until - util_mono_ms();
        int rc = p.fd < 0 || left <= 0 ? -1 : poll(&p, 1, (int)left);
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0 || !PQconsumeInput(*side)) {
            PQfinish(*side);
            *side = NULL;
            return NULL;
        }
    }
    PGresult *r = PQgetResult(*side), *more;
    while ((more = PQgetResult(*side))) PQclear(more);
    return r;
}

/* What a session waits on when no other session blocks it, in words, from its wait event (as
 * pg_stat_activity reports it); NULL for a wait not worth a word to a statement that may be
 * long (any 0: a scan that reads, a statement that works). */
static char *wait_words(const char *type, const char *event, const char *state, int any)
{
    if (strcmp(event, "SyncRep") == 0)
        return xstrdup("its session waits for a synchronous standby to confirm the commit (wait "
                       "event SyncRep): no commit of the database ends until a standby named in "
                       "synchronous_standby_names answers; bring one back, or change that "
                       "setting");
    if (!any) return NULL;
    if (strcmp(type, "IO") == 0)
        return xasprintf("its session waits on the database's disk (wait event IO %s)", event);
    /* The statement sent and not read: its process stopped before it read it, or the network
     * holds it. */
    if (strcmp(type, "Client") == 0)
        return xasprintf("its session has not read the statement (wait event Client %s): a "
                         "process of the database stopped, or the network between holding it",
                         event);
    if (*type)
        return xasprintf("its session waits inside the database (wait event %s %s)", type,
                         event);
    if (strcmp(state, "active") == 0)
        return xstrdup("its session runs and reports no wait (a process of the database "
                       "stopped, or starved of CPU)");
    return NULL;
}

/* Whether conn's statement waits on sessions that hold what it needs, or (any, or a wait
 * that always stalls) on something else; when it does, says so.  The side connection is
 * opened the first time and kept for the rest of the wait. */
static int tell(PGconn *conn, PGconn **side, const char *what, int64_t waited_ms, int any)
{
    if (!*side) *side = connect_like(conn);
    if (!*side || PQstatus(*side) != CONNECTION_OK) {
        char *e = xstrdup(*side ? PQerrorMessage(*side) : "out of memory");
        for (size_t n = strlen(e); n && (e[n - 1] == '\n' || e[n - 1] == ' ');) e[--n] = '\0';
        /* Not a lock, as far as can be told: the database, or the network to it, does not
         * answer a new connection either (or refuses one: its slots taken). */
        log_warn("store: %s has waited %lld s, and a second connection to the database, to ask "
                 "what it waits on, cannot be made either: %s", what,
                 (long long)(waited_ms / 1000), e);
        free(e);
        PQfinish(*side);
        *side = NULL;
        return 1;
    }
    char pid[16];
    snprintf(pid, sizeof pid, "%d", PQbackendPID(conn));
    const char *params[1] = {pid};
    PGresult *r = side_exec(
        side,
        "SELECT b.pid, coalesce(a.application_name, ''),"
        " coalesce(host(a.client_addr), CASE WHEN a.client_port = -1 THEN 'a local socket' END,"
        "          ''),"
        " coalesce(a.state, ''),"
        " coalesce(to_char(coalesce(a.xact_start, a.query_start) AT TIME ZONE 'UTC',"
        "                  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''),"
        " a.xact_start IS NOT NULL, coalesce(a.wait_event, '')"
        " FROM unnest(pg_blocking_pids($1::int)) AS b(pid)"
        " LEFT JOIN pg_stat_activity a ON a.pid = b.pid"
        " UNION ALL SELECT NULL, '', '', coalesce(state, ''), '', false,"
        "  coalesce(wait_event_type, '') || ' ' || coalesce(wait_event, '')"
        " FROM pg_stat_activity WHERE pid = $1::int ORDER BY 1 NULLS LAST",
        1, params);
    if (!r) {
        log_warn("store: %s has waited %lld s; a second connection's question about it had no "
                 "answer in %d s either: the database answers no statement (stopped, its disk "
                 "stuck, or its host overloaded)", what, (long long)(waited_ms / 1000),
                 SIDE_MS / 1000);
        return 1;
    }
    int told = 0, n = PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r) : 0;
    /* The blockers first; the waiting session's own row last. */
    int blockers = n && PQgetisnull(r, n - 1, 0) ? n - 1 : n;
    if (blockers > 0) {
        buf who = {0};
        for (int i = 0; i < blockers; i++) describe(&who, r, i);
        log_warn("store: %s has waited %lld s for a lock that another session of the database "
                 "holds: %s; it goes on once %s, rolls back or ends (pg_terminate_backend(PID) "
                 "ends one)", what, (long long)(waited_ms / 1000), who.data,
                 blockers > 1 ? "they commit" : "that session commits");
        buf_free(&who);
        told = 1;
    } else if (n) {
        const char *ev = PQgetvalue(r, n - 1, 6), *sp = strchr(ev, ' ');
        char type[64];
        snprintf(type, sizeof type, "%.*s", sp ? (int)(sp - ev) : 0, ev);
        char *words = wait_words(type, sp ? sp + 1 : "", PQgetvalue(r, n - 1, 3), any);
        if (words) {
            log_warn("store: %s has waited %lld s: %s", what, (long long)(waited_ms / 1000),
                     words);
            free(words);
            told = 1;
        }
    }
    PQclear(r);
    return told;
}

/* pg_wait_result and pg_wait_quick_result: quick tells any wait, and takes no stop. */
static PGresult *wait_result(PGconn *conn, const char *what, int quick)
{
    int64_t start = util_mono_ms(), next = start + PG_WAIT_TELL_MS;
    PGconn *side = NULL;
    int told = 0;
    int (*stop)(void) = quick ? NULL : stop_fn;
    while (PQisBusy(conn)) {
        struct pollfd p = {PQsocket(conn), POLLIN, 0};
        if (p.fd < 0) break; /* PQgetResult says why */
        /* A short tick, so that a stop asked meanwhile is seen soon. */
        int rc = poll(&p, 1, 250);
        if (rc < 0 && errno != EINTR) break;
        if (rc > 0 && !PQconsumeInput(conn)) break;
        if (stop && stop()) {
            log_info("store: %s is given up: the server stops", what);
            char why[256];
            PGcancel *c = PQgetCancel(conn);
            if (c) PQcancel(c, why, sizeof why);
            PQfreeCancel(c);
            break; /* the statement's answer, cancelled, follows at once */
        }
        int64_t now = util_mono_ms();
        if (now < next) continue;
        if (tell(conn, &side, what, now - start, quick)) {
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

PGresult *pg_wait_result(PGconn *conn, const char *what)
{
    return wait_result(conn, what, 0);
}

PGresult *pg_wait_quick_result(PGconn *conn, const char *what)
{
    return wait_result(conn, what, 1);
}

static PGresult *wait_exec(PGconn *conn, const char *what, const char *sql, int nparams,
                           const char *const *params, int quick)
{
    int sent = nparams ? PQsendQueryParams(conn, sql, nparams, NULL, params, NULL, NULL, 0)
                       : PQsendQuery(conn, sql);
    if (!sent) return PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
    /* As PQexec: the last result, or the error. */
    PGresult *out = NULL, *r;
    while ((r = wait_result(conn, what, quick))) {
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

PGresult *pg_wait_exec(PGconn *conn, const char *what, const char *sql, int nparams,
                       const char *const *params)
{
    return wait_exec(conn, what, sql, nparams, params, 0);
}

PGresult *pg_wait_quick_exec(PGconn *conn, const char *what, const char *sql, int nparams,
                             const char *const *params)
{
    return wait_exec(conn, what, sql, nparams, params, 1);
}
