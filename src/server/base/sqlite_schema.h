/* sqlite_schema — versioned schemas for barge's SQLite files (the store and the log store). */
#ifndef BARGE_SQLITE_SCHEMA_H
#define BARGE_SQLITE_SCHEMA_H
#include <sqlite3.h>

/* Brings db from its PRAGMA user_version up to n by running migrations[version..n-1], each in
 * its own transaction.  A file newer than n is refused.  what names the file in messages ("the
 * store", "the log store").  Returns 0, or -1 with *err set (caller frees). */
int sqlite_schema_migrate(sqlite3 *db, const char *const *migrations, int n, const char *what,
                          char **err);
#endif
