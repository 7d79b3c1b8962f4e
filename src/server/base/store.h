/* store — the durable half of barge's state, behind a small interface.
 *
 * The core thread is the only caller.  It opens a transaction, applies the writes of a whole
 * batch of requests, and commits once: one fsync acknowledges many requests (group commit).
 * Records are JSON documents addressed by (kind, key); the in-memory state is rebuilt from them
 * at start-up.  SQLite is the embedded implementation; PostgreSQL can implement the same table. */
#ifndef BARGE_STORE_H
#define BARGE_STORE_H
#include <stddef.h>

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
};

/* Durability of a commit: FULL fsyncs every commit (survives power loss); NORMAL survives a
 * killed process but not a lost machine. */
enum store_sync { STORE_SYNC_FULL, STORE_SYNC_NORMAL };

/* Opens (creating and migrating as needed) DIR/barge.db.  On failure returns NULL and sets *err
 * to a sentence for the operator (caller frees). */
store *store_sqlite_open(const char *dir, enum store_sync sync, char **err);

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
