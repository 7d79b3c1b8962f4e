/* pg_logcopy — job logs kept in the shared PostgreSQL store as well as in DATA_DIR/logs.db.
 *
 * The leader's log store copies every batch it writes into the table barge_logs, in the same
 * batch (logstore_set_copy), checking the leader's epoch as every write of the shared store
 * does.  A standby reads the table back into its own log store as it grows (pg_logcopy_catch_up),
 * and once more when it takes over, so a new leader serves the lines the old one received.
 * Each log store records the position in the table up to which it holds it (logstore_copied),
 * written with the lines themselves, so nothing is read back twice or skipped. */
#ifndef BARGE_PG_LOGCOPY_H
#define BARGE_PG_LOGCOPY_H
#include <stdint.h>

#include "server/base/logstore.h"

typedef struct pg_logcopy pg_logcopy;

/* A connection of its own to the database uri names.  NULL with *err (caller frees). */
pg_logcopy *pg_logcopy_open(const char *uri, char **err);
void pg_logcopy_close(pg_logcopy *c);
/* Reads what the table holds beyond ls's position into ls (max_rows or a little more at most;
 * 0: everything), and waits until it is written.  Returns the number of rows read, or -1 (the
 * log says why). */
long pg_logcopy_catch_up(pg_logcopy *c, logstore *ls, long max_rows);
/* From now on copies are written under this epoch; fenced() runs (and does not return) when
 * another server took the lease over. */
void pg_logcopy_lead(pg_logcopy *c, int64_t epoch, int lease_ms, void (*fenced)(void));
/* logstore_copy_fn: ctx is the pg_logcopy. */
int64_t pg_logcopy_keep(void *ctx, const logstore_copy_item *items, size_t n);
#endif
