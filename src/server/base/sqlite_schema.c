#include "server/base/sqlite_schema.h"

#include <stdio.h>

#include "common/mem.h"

int sqlite_schema_migrate(sqlite3 *db, const char *const *migrations, int n, const char *what,
                          char **err)
{
    sqlite3_stmt *st;
    int version = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) {
        *err = xasprintf("reading %s's schema version failed: %s", what, sqlite3_errmsg(db));
        return -1;
    }
    if (sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > n) {
        *err = xasprintf("%s holds schema version %d, newer than this barge understands (%d); "
                         "run a newer barge", what, version, n);
        return -1;
    }
    for (int v = version; v < n; v++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", v + 1);
        if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db, migrations[v], NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db, pragma, NULL, NULL, NULL) != SQLITE_OK ||
            sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
            *err = xasprintf("migrating %s to schema version %d failed: %s", what, v + 1,
                             sqlite3_errmsg(db));
            sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
    }
    return 0;
}
