/* server_store — which store `barge server` runs on, and leadership when it is shared; the
 * data directory's lock and modes.
 *
 * Without --store the records live in DATA_DIR/barge.db and the server is alone.  With --store
 * postgresql://... several servers share one database: each starts HTTP as a standby
 * (http_standby), and the one that takes the lease (pg_lease.h) loads the state and serves.
 * A leader whose lease was taken over (it was paused, or cut off from the database, past its
 * lease) exits with status SERVER_STORE_FENCED at its next commit or renewal, writing nothing:
 * started again, it stands by. */
#ifndef BARGE_SERVER_STORE_H
#define BARGE_SERVER_STORE_H
#include <signal.h>

#include "server/base/logstore.h"
#include "server/base/store.h"
#include "server/model/config.h"

#define SERVER_STORE_FENCED 3

/* The store c names.  NULL with *err set (caller frees). */
store *server_store_open(const barge_config *c, char **err);
/* On a shared store: stands by, polling the lease and reading the job logs the leader copies
 * into logs (pg_logcopy.h), until this server leads (1) or a signal of stop arrives first (0);
 * -1 with *err set when the lease's or the log copy's connection cannot be opened (a takeover
 * that cannot read the log copy lets the lease go and stands by again).  holder names this server
 * to the others (its URL).  HTTP must be serving already, as a standby.  On DATA_DIR's store: 1
 * at once. */
int server_store_lead(barge_config *c, store *db, logstore *logs, const char *holder,
                      const sigset_t *stop, char **err);
/* How this server names itself to the others (in the lease row, and so in standbys' answers):
 * --agent-url when it is one URL, else the address it listens on, with this host's name for a
 * wildcard address.  Caller frees. */
char *server_store_holder(const barge_config *c, int tls);
/* On a clean stop, after the last commit: the lease ends so that a standby takes over at once. */
void server_store_release(void);
/* DATA_DIR made private to the server's user (server_store.c says how); 0, or -1 after a
 * sentence on standard error. */
int server_secure_data_dir(const char *dir);
/* Before anything is written to DATA_DIR (after its lock): refuses a barge.db of 0 bytes in a
 * data directory that a server ran in, which a first start would take as new (server_store.c
 * says how it tells).  0, or -1 after a sentence on standard error. */
int server_check_emptied_db(const char *dir);
/* The lock that keeps a second server off DATA_DIR: its descriptor (held until the process
 * exits), or -1 after a sentence on standard error saying why (another server, not a
 * directory, not writable). */
int server_lock_data_dir(const char *dir);
#endif
