/* pg_session — see pg_session.h. */
#include "server/base/pg_session.h"

#include <stdio.h>
#include <unistd.h>

#include "common/log.h"

void pg_session_note(PGconn *conn, pg_session *s)
{
    s->pid = PQbackendPID(conn);
    s->start[0] = '\0';
    PGresult *r = PQexec(conn, "SELECT backend_start::text FROM pg_stat_activity "
                               "WHERE pid = pg_backend_pid()");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        snprintf(s->start, sizeof s->start, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
}

void pg_session_settle(PGconn *conn, const pg_session *old, const char *what)
{
    if (old->pid <= 0 || !old->start[0]) return;
    char pid[16];
    snprintf(pid, sizeof pid, "%d", old->pid);
    const char *params[2] = {pid, old->start};
    static const char session[] = "FROM pg_stat_activity WHERE pid = $1::int AND "
                                  "backend_start::text = $2";
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(pid) %s", session);
    PQclear(PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0));
    snprintf(sql, sizeof sql, "SELECT 1 %s", session);
    for (int i = 0; i < 100 && PQstatus(conn) == CONNECTION_OK; i++) {
        PGresult *r = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);
        int gone = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 0;
        PQclear(r);
        if (gone) return;
        usleep(100000);
    }
    log_warn("%s: the database session of the connection that broke (process %d) has not "
             "ended after 10 s; reading what the database holds anyway", what, old->pid);
}
