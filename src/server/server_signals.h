/* server_signals — the stop signals while the server starts.
 *
 * The server blocks SIGTERM, SIGINT and SIGHUP in every thread and, once it serves, waits for
 * them in its main thread (server.c).  Before that, start-up may wait on what it does not
 * control: a PostgreSQL store whose table another session holds locked answers the first read
 * only when that session lets go, and the stop signals, blocked and not yet waited for, did
 * nothing meanwhile (a `systemctl stop` hung until the kill).  A watcher thread takes them
 * during start-up: SIGTERM or SIGINT ends the process at once (nothing is served yet, and what
 * the store holds is as a crash would leave it, which barge is built to start from); a SIGHUP
 * is kept and raised again once the main thread waits for it. */
#ifndef BARGE_SERVER_SIGNALS_H
#define BARGE_SERVER_SIGNALS_H
#include <signal.h>

/* Starts watching set (SIGTERM, SIGINT and SIGHUP, blocked in every thread) until
 * server_signals_starting_done. */
void server_signals_starting(const sigset_t *set);
/* Start-up is over (or gives way to a wait that takes the signals itself): the watcher stops
 * soon after, without being waited for; a signal it takes from now on, and a SIGHUP it kept,
 * it raises again for whoever waits next. */
void server_signals_starting_done(void);
#endif
