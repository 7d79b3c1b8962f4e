/* pg_wait — statements of the PostgreSQL store that may wait on a lock, made visible.
 *
 * At start a server reads and writes tables that any session of the database can hold locked
 * (a LOCK TABLE typed in psql, a transaction left open, a VACUUM FULL, another server migrating
 * the schema): the statement then waits, and a server that only waits looks hung.  A statement
 * run through pg_wait_exec or pg_wait_result still waits as long as the lock is held (a standby
 * that waits is doing its job), but once it has waited PG_WAIT_TELL_MS, a second connection
 * asks the database which sessions block it (pg_blocking_pids) and a warning names them, from
 * pg_stat_activity as far as this database user may read it: again at most every
 * PG_WAIT_REPEAT_MS while the wait lasts, and once more, as information, when it ends.
 *
 * The statements of the server's normal running (a commit, the lease's renewal, the log copy's
 * write) take milliseconds on a database that is well; one that waits longer waits on
 * something that stalls the server, and pg_wait_quick_exec says what at once: a lock as above,
 * a synchronous standby that does not confirm commits, the disk, a process of the database that
 * runs and reports no wait, or a database that answers no question at all.
 *
 * The wait is watched rather than bounded by a lock_timeout: a statement cancelled by one
 * would have to be sent again, a scan that had already handed out rows could not be, and once
 * cancelled it no longer waits, so pg_blocking_pids has nothing left to name.  Nothing is set on
 * the connection.  The second connection's questions get 5 s for an answer each. */
#ifndef BARGE_PG_WAIT_H
#define BARGE_PG_WAIT_H
#include <libpq-fe.h>

#define PG_WAIT_TELL_MS 3000
#define PG_WAIT_REPEAT_MS 30000

/* As PQexecParams (text parameters, text results), or with no parameters as PQexec (several
 * statements in sql, the last result or the error); what names the work and its table for the
 * log ("reading the records (table barge_records)"). */
PGresult *pg_wait_exec(PGconn *conn, const char *what, const char *sql, int nparams,
                       const char *const *params);
/* As PQgetResult, for a statement sent with PQsendQuery or PQsendQueryParams. */
PGresult *pg_wait_result(PGconn *conn, const char *what);
/* As pg_wait_exec and pg_wait_result for a statement of the normal running: any wait past
 * PG_WAIT_TELL_MS is told, whatever the session waits on, and no stop is taken (any thread). */
PGresult *pg_wait_quick_exec(PGconn *conn, const char *what, const char *sql, int nparams,
                             const char *const *params);
PGresult *pg_wait_quick_result(PGconn *conn, const char *what);
/* While stop is set and answers nonzero, a wait is given up: its statement is cancelled (and so
 * fails).  For a caller that takes the stop signals itself between statements (a standby's
 * loop); NULL again after it. */
void pg_wait_set_stop(int (*stop)(void));
#endif
