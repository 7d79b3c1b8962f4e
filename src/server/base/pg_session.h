/* pg_session — which session of the database serves a connection, and the end of one whose
 * connection broke.
 *
 * A statement sent on a connection that then broke may still run in its session (it waits on
 * a lock, say) and commit after the client has given up on it: its outcome is in doubt until
 * that session has ended.  A connection opened again therefore ends the old session first
 * (pg_terminate_backend), and waits until it is gone, before reading what the database holds
 * (store_pg's state read back, pg_logcopy's copy in doubt). */
#ifndef BARGE_PG_SESSION_H
#define BARGE_PG_SESSION_H
#include <libpq-fe.h>

typedef struct pg_session {
    /* Its process and when it started: a process id alone may be another session's after a
     * restart of PostgreSQL.  pid 0: not known. */
    int pid;
    char start[64];
} pg_session;

/* Notes which session serves conn now. */
void pg_session_note(PGconn *conn, pg_session *s);
/* Over conn (a new session), ends old (noted earlier, on the connection that broke) and waits
 * up to 10 s until it is gone; what says whose session it was, for the log. */
void pg_session_settle(PGconn *conn, const pg_session *old, const char *what);
#endif
