/* store_pg_schema — the PostgreSQL store's tables, versioned as the SQLite files are. */
#ifndef BARGE_STORE_PG_SCHEMA_H
#define BARGE_STORE_PG_SCHEMA_H
#include <libpq-fe.h>

/* The SQLSTATE barge_fence raises when the lease's epoch is no longer the caller's. */
#define STORE_PG_FENCED "BRG01"

/* Brings the database's schema up to this binary's version, in one transaction under an
 * advisory lock (servers starting together migrate once).  A schema newer than this binary
 * knows is refused.  Returns 0, or -1 with *err set to a sentence (caller frees). */
int store_pg_migrate(PGconn *conn, char **err);
#endif
