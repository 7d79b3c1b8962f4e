/* store_pg_schema — the PostgreSQL store's tables, versioned as the SQLite files are. */
#ifndef BARGE_STORE_PG_SCHEMA_H
#define BARGE_STORE_PG_SCHEMA_H
#include <libpq-fe.h>
#include <stddef.h>

#include "common/mem.h"

/* The SQLSTATE barge_fence raises when the lease's epoch is no longer the caller's. */
#define STORE_PG_FENCED "BRG01"

/* Connects to uri (a libpq URI) with barge's defaults for what the URI does not set: a connection
 * attempt gives up after 5 s (connect_timeout) and a connection whose sent data goes
 * unacknowledged for 10 s is closed (tcp_user_timeout), so a database cut off by the network
 * costs a few seconds of 503s rather than the kernel's minutes of retransmissions. */
PGconn *store_pg_connect(const char *uri);
/* store_pg_connect, or NULL with *err a sentence (caller frees): "cannot connect to the
 * PostgreSQL store" and what (" for the logs", or ""), then libpq's reason with the URI's
 * password taken out. */
PGconn *store_pg_open_conn(const char *uri, const char *what, char **err);
/* Brings the database's schema up to this binary's version, in one transaction under an
 * advisory lock (servers starting together migrate once); a schema already at it is only read,
 * so a database user without the right to create tables serves a store its owner made.  A
 * schema newer than this binary knows is refused.  Returns 0, or -1 with *err set to a sentence
 * (caller frees). */
int store_pg_migrate(PGconn *conn, char **err);
/* The schema version the database holds (0: barge's tables are not there), or -1 with *err set
 * (caller frees). */
int store_pg_schema_version(PGconn *conn, char **err);
/* This binary's version: the newest schema it knows. */
int store_pg_schema_newest(void);
/* Appends an element to a PostgreSQL array literal being built in a (which starts with "{"):
 * s quoted with " and \ escaped, or NULL (s NULL).  Batches travel as arrays: one statement
 * whatever their size. */
void store_pg_array_add(buf *a, const char *s, size_t len);
#endif
