/* store_sqlite — the embedded store: one SQLite file in WAL mode. */
#include "server/base/store.h"

#include <sqlite3.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/mem.h"
#include "server/base/sqlite_schema.h"

/* Each entry moves the schema from version i to i+1.  Never edit a released entry: append. */
static const char *const migrations[] = {
    /* 1: the record table every kind of resource lives in. */
    "CREATE TABLE records ("
    "  kind TEXT NOT NULL,"
    "  key  TEXT NOT NULL,"
    "  doc  TEXT NOT NULL,"
    "  PRIMARY KEY (kind, key)"
    ") WITHOUT ROWID;",
};
#define N_MIGRATIONS (int)(sizeof migrations / sizeof migrations[0])

typedef struct {
    store base;
    sqlite3 *db;
    sqlite3_stmt *put, *del, *scan, *begin, *commit, *rollback;
    long deleted; /* records deleted since the free pages were last given back */
    int vacuuming; /* free pages are being given back, a slice after each commit */
    char *fault_path; /* $BARGE_FAULT_STORE, or NULL (sq_commit) */
    int faulted;      /* the last commit failed by that fault */
    char *moved;      /* why the last commit was refused: barge.db is gone (sq_commit) */
} sqlite_store;

/* Records deleted (finished jobs let go, old events) free pages inside the file; once more than
 * FREE_PAGES_KEPT are free they are given back to the file system, down to half of that (kept
 * for the writes to come), so that the file's size follows what it holds.  They go back at most
 * VACUUM_SLICE pages after each commit: an incremental vacuum moves every page it gives back,
 * and tens of thousands at once held a commit, and the answers waiting for it, for up to a
 * second.  A file made by a barge older than auto_vacuum=INCREMENTAL reuses its free pages
 * instead: it stays at its largest size. */
#define FREE_PAGES_KEPT 4096
#define DELETES_PER_CHECK 1000
#define VACUUM_SLICE 256

static void give_back_pages(sqlite_store *s)
{
    sqlite3_stmt *st;
    long long free_pages = 0;
    if (sqlite3_prepare_v2(s->db, "PRAGMA freelist_count", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        free_pages = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    s->deleted = 0;
    if (!s->vacuuming && free_pages <= FREE_PAGES_KEPT) return;
    long long n = free_pages - FREE_PAGES_KEPT / 2;
    if (n > VACUUM_SLICE) n = VACUUM_SLICE;
    s->vacuuming = free_pages - n > FREE_PAGES_KEPT / 2;
    if (n <= 0) return;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA incremental_vacuum(%lld)", n);
    /* Its own transaction, after the batch's commit: a failure here loses nothing. */
    sqlite3_exec(s->db, sql, NULL, NULL, NULL);
}

static int exec_step(sqlite_store *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/* barge.db is gone from under the server: what the file it still has open holds (the write-
 * ahead log's part included) is copied beside the path, never over whatever is there now (a
 * restore put in its place on purpose), so that a start after this one loses nothing that was
 * acknowledged.  Returns the sentence every refused commit is logged with. */
static char *save_moved_store(sqlite_store *s)
{
    const char *path = sqlite3_db_filename(s->db, "main");
    char *copy = xasprintf("%s.saved-%lld", path, (long long)time(NULL));
    char *sql = sqlite3_mprintf("VACUUM INTO %Q", copy);
    int rc = sql ? sqlite3_exec(s->db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    char *why;
    if (rc == SQLITE_OK)
        why = xasprintf("%s was removed or replaced while this server ran, so it stores no "
                        "change any more; what it had stored is copied to %s: stop this server, "
                        "put that copy in its place (unless what is there now was put there on "
                        "purpose) and start it again", path, copy);
    else
        why = xasprintf("%s was removed or replaced while this server ran, so it stores no "
                        "change any more, and what it had stored could not be copied to %s (%s): "
                        "the file it opened is still in /proc/%ld/fd; copy it back before "
                        "stopping this server, or restore it from a backup", path, copy,
                        sqlite3_errmsg(s->db), (long)getpid());
    free(copy);
    return why;
}

static int sq_begin(store *b)
{
    sqlite_store *s = (sqlite_store *)b;
    return exec_step(s, s->begin);
}

static int sq_commit(store *b)
{
    sqlite_store *s = (sqlite_store *)b;
    /* Fault injection, as the log store's ($BARGE_FAULT_LOGSTORE): while the file named by
     * $BARGE_FAULT_STORE exists, every commit fails as on a full disk, so that tests can see
     * what a failed commit leaves behind (nothing must act on state that was never stored). */
    s->faulted = s->fault_path && access(s->fault_path, F_OK) == 0;
    if (s->faulted) {
        exec_step(s, s->rollback);
        return -1;
    }
    /* barge.db removed or replaced under the server (rm, a restore copied over it): a commit
     * would go into the file it still has open, which no later start sees, and every change
     * acknowledged from then on would be lost.  Refused instead, as a failed commit is (its
     * batch's calls answered 503).  One stat a commit. */
    int has_moved = 0;
    sqlite3_file_control(s->db, "main", SQLITE_FCNTL_HAS_MOVED, &has_moved);
    if (has_moved) {
        exec_step(s, s->rollback);
        if (!s->moved) s->moved = save_moved_store(s);
        return -1;
    }
    int rc = exec_step(s, s->commit);
    if (rc == 0 && (s->deleted >= DELETES_PER_CHECK || s->vacuuming)) give_back_pages(s);
    return rc;
}

static void sq_rollback(store *b)
{
    sqlite_store *s = (sqlite_store *)b;
    if (!sqlite3_get_autocommit(s->db)) exec_step(s, s->rollback);
}

static int sq_put(store *b, const char *kind, const char *key, const char *doc, size_t len)
{
    sqlite_store *s = (sqlite_store *)b;
    sqlite3_bind_text(s->put, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s->put, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s->put, 3, doc, (int)len, SQLITE_STATIC);
    int rc = exec_step(s, s->put);
    sqlite3_clear_bindings(s->put);
    return rc;
}

static int sq_del(store *b, const char *kind, const char *key)
{
    sqlite_store *s = (sqlite_store *)b;
    sqlite3_bind_text(s->del, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(s->del, 2, key, -1, SQLITE_STATIC);
    int rc = exec_step(s, s->del);
    sqlite3_clear_bindings(s->del);
    s->deleted++;
    return rc;
}

static int sq_scan(store *b, const char *kind, store_scan_fn fn, void *arg)
{
    sqlite_store *s = (sqlite_store *)b;
    int rc, out = 0;
    sqlite3_bind_text(s->scan, 1, kind, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(s->scan)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(s->scan, 0);
        const char *doc = (const char *)sqlite3_column_text(s->scan, 1);
        size_t len = (size_t)sqlite3_column_bytes(s->scan, 1);
        if ((out = fn(arg, key, doc, len)) != 0) break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) out = -1;
    sqlite3_reset(s->scan);
    sqlite3_clear_bindings(s->scan);
    return out;
}

static const char *sq_errmsg(store *b)
{
    sqlite_store *s = (sqlite_store *)b;
    return s->faulted ? "an injected fault ($BARGE_FAULT_STORE)"
           : s->moved ? s->moved
                      : sqlite3_errmsg(s->db);
}

static void sq_close(store *b)
{
    sqlite_store *s = (sqlite_store *)b;
    sqlite3_stmt *all[] = {s->put, s->del, s->scan, s->begin, s->commit, s->rollback};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) sqlite3_finalize(all[i]);
    sqlite3_close(s->db);
    free(s->fault_path);
    free(s->moved);
    free(s);
}

static const struct store_ops sqlite_ops = {
    sq_begin, sq_commit, sq_rollback, sq_put, sq_del, sq_scan, sq_errmsg, sq_close,
};


store *store_sqlite_open(const char *dir, enum store_sync sync, char **err)
{
    char *path = xasprintf("%s/barge.db", dir);
    sqlite3 *db = NULL;
    sqlite_store *s = NULL;
    *err = NULL;
    /* The core thread is the only user, so SQLite's own mutexes would only cost time. */
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                            SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        *err = xasprintf("cannot open the store %s: %s", path, db ? sqlite3_errmsg(db) : "no memory");
        goto fail;
    }
    /* auto_vacuum first: it takes effect only in a file that holds no table yet. */
    const char *pragmas = sync == STORE_SYNC_FULL
                              ? "PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL; "
                                "PRAGMA synchronous=FULL; "
                                "PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;"
                              : "PRAGMA auto_vacuum=INCREMENTAL; PRAGMA journal_mode=WAL; "
                                "PRAGMA synchronous=NORMAL; "
                                "PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;";
    /* A page cache of 8 MiB, and checkpoints of the WAL every 4,000 pages instead of 1,000.
     * Records are keyed in the order they are made (jobs by submit order, events by number),
     * so a commit touches the tables' ends and the interior pages above them, which 8 MiB holds
     * (with room for an array's 1.4 MB of events).  A larger cache costs every commit: at its
     * end SQLite drops cached pages past the file's end by walking its hash of cached pages,
     * in proportion to the cache's size.  At 64 MiB that walk was 20 to 27% of the commit
     * thread's time with 250,000 to 1,000,000 jobs stored (SubmitJob's commit 27 us a job at
     * 240,000 stored, 15 us at 8 MiB; bench/ figure 5). */
    static const char tuning[] = "PRAGMA cache_size=-8192; PRAGMA wal_autocheckpoint=4000;";
    if (sqlite3_exec(db, pragmas, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(db, tuning, NULL, NULL, NULL) != SQLITE_OK) {
        /* Opening the write-ahead log makes files: on a full disk that is where it stops. */
        *err = xasprintf("cannot configure the store %s: %s%s", path, sqlite3_errmsg(db),
                         sqlite3_errcode(db) == SQLITE_FULL || sqlite3_system_errno(db) == ENOSPC
                             ? " (the data directory's file system has no room: free some and "
                               "start again; the store is kept as it was)"
                             : "");
        goto fail;
    }
    if (sqlite_schema_migrate(db, migrations, N_MIGRATIONS, "the data directory's store", err) < 0)
        goto fail;

    s = xcalloc(1, sizeof *s);
    s->base.ops = &sqlite_ops;
    const char *fault = getenv("BARGE_FAULT_STORE");
    s->fault_path = fault && *fault ? xstrdup(fault) : NULL;
    s->db = db;
    struct {
        sqlite3_stmt **st;
        const char *sql;
    } stmts[] = {
        {&s->put, "INSERT INTO records(kind, key, doc) VALUES (?1, ?2, ?3) "
                  "ON CONFLICT(kind, key) DO UPDATE SET doc = excluded.doc"},
        {&s->del, "DELETE FROM records WHERE kind = ?1 AND key = ?2"},
        {&s->scan, "SELECT key, doc FROM records WHERE kind = ?1 ORDER BY key"},
        {&s->begin, "BEGIN IMMEDIATE"},
        {&s->commit, "COMMIT"},
        {&s->rollback, "ROLLBACK"},
    };
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        if (sqlite3_prepare_v3(db, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT, stmts[i].st,
                               NULL) != SQLITE_OK) {
            *err = xasprintf("cannot prepare the store's statements: %s", sqlite3_errmsg(db));
            free(path);
            sq_close(&s->base);
            return NULL;
        }
    }
    free(path);
    return &s->base;
fail:
    free(path);
    sqlite3_close(db);
    return NULL;
}
