/* store — the durable half of barge's state, behind a small interface.
 *
 * One thread uses a store at a time: the core thread, or for the store it wraps store_pipe's
 * writer thread, which commits the core's batches while the core runs the next.  A batch's writes
 * go in one transaction, committed once: one fsync acknowledges many requests (group commit).
 * Records are JSON documents addressed by (kind, key); the in-memory state is rebuilt from them
 * at start-up.  SQLite is the embedded implementation (store_sqlite.c); PostgreSQL the shared one
 * (store_pg.c), which several servers reach and only the leader writes to. */
#ifndef BARGE_STORE_H
#define BARGE_STORE_H
#include <stddef.h>
#include <stdint.h>

typedef struct store store;
typedef int (*store_scan_fn)(void *arg, const char *key, const char *doc, size_t len);

struct store_ops {
    int (*begin)(store *s);
    int (*commit)(store *s);
    void (*rollback)(store *s);
    int (*put)(store *s, const char *kind, const char *key, const char *doc, size_t len);
    int (*del)(store *s, const char *kind, const char *key);
    /* Calls fn for every record of kind, in key order; stops early when fn returns nonzero. */
    int (*scan)(store *s, const char *kind, store_scan_fn fn, void *arg);
    const char *(*errmsg)(store *s);
    void (*close)(store *s);
};

struct store {
    const struct store_ops *ops;
    /* A commit with nothing written still checks something the answers depend on (PostgreSQL:
     * that this server still holds the lease, so that a leader cut off answers no stale reads):
     * every batch commits, reads too. */
    int reads_commit;
};

/* Durability of a commit: FULL fsyncs every commit (survives power loss); NORMAL survives a
 * killed process but not a lost machine. */
enum store_sync { STORE_SYNC_FULL, STORE_SYNC_NORMAL };

/* Opens (creating and migrating as needed) DIR/barge.db.  On failure returns NULL and sets *err
 * to a sentence for the operator (caller frees). */
store *store_sqlite_open(const char *dir, enum store_sync sync, char **err);

/* Whether --store names a PostgreSQL database (postgresql:// or postgres://). */
int store_is_pg(const char *spec);
/* Connects to the database conninfo names (a libpq URI), creating and migrating its tables as
 * needed.  A schema newer than this binary knows is refused.  On failure returns NULL and sets
 * *err to a sentence (caller frees). */
store *store_pg_open(const char *conninfo, char **err);
/* From now on every commit renews, in its own transaction, the lease of this epoch (lease_ms
 * more), and is refused when another server has taken the lease over: then fenced() runs (it
 * must not return); renewed(asked) (when not NULL) is told of each commit that renewed it,
 * with the monotonic ms its statement was sent at. */
void store_pg_lead(store *s, int64_t epoch, int lease_ms, void (*fenced)(void),
                   void (*renewed)(int64_t asked_ms));
/* Whether this binary still understands the schema the database holds: 0 it does, 1 a newer
 * barge migrated it since this one opened it (*err says so), -1 it cannot be read now (*err
 * says why).  Caller frees *err. */
int store_pg_schema_check(store *s, char **err);
/* A setting every server must share, such as the agent token: the stored value of key, or
 * proposed stored now when there is none.  Returns 0 and *out (caller frees), or -1. */
int store_pg_shared_value(store *s, const char *key, const char *proposed, char **out);

static inline int store_begin(store *s) { return s->ops->begin(s); }
static inline int store_commit(store *s) { return s->ops->commit(s); }
static inline void store_rollback(store *s) { s->ops->rollback(s); }
static inline int store_put(store *s, const char *kind, const char *key, const char *doc, size_t len)
{
    return s->ops->put(s, kind, key, doc, len);
}
static inline int store_del(store *s, const char *kind, const char *key)
{
    return s->ops->del(s, kind, key);
}
static inline int store_scan(store *s, const char *kind, store_scan_fn fn, void *arg)
{
    return s->ops->scan(s, kind, fn, arg);
}
static inline const char *store_errmsg(store *s) { return s->ops->errmsg(s); }
static inline void store_close(store *s)
{
    if (s) s->ops->close(s);
}
#endif
