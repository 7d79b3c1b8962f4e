/* logstore — opening and closing the log store, and its writer; see logstore.h.  The reads are
 * in logstore_read.c and logstore_query.c.
 *
 * Why a writer thread rather than a mutex around one writer connection: appends come from
 * several HTTP threads at once, each carrying a batch of lines from one agent.  With a mutex,
 * each caller would pay a whole transaction of its own, or one caller would have to commit for
 * the others while they wait on the lock.  With a queue, a caller only copies its events and
 * returns; the writer takes everything that queued up during its previous commit and writes it
 * in one transaction, so the number of commits falls as the load rises (group commit), and no
 * caller ever does disk I/O.  Callers that need to know their events are stored (the agent's
 * upload, whose answer tells the agent it may drop them) wait for their ticket on a condition
 * variable; that wait is one commit long.
 *
 * The file is opened with synchronous=NORMAL: a commit survives a killed server but not a lost
 * machine.  Logs are the highest-volume data barge keeps, and an fsync per log batch would
 * compete for the disk with the main store, whose commits decide what jobs do. */
#include "server/base/logstore.h"
#include "server/base/logstore_internal.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/base/sqlite_schema.h"

#define QUEUE_LIMIT ((size_t)64 << 20)

/* Each entry moves the schema from version i to i+1.  Never edit a released entry: append. */
static const char *const migrations[] = {
    /* 1: streams with their summary (kept current by the writer, so that listings and
     * FilterLogEvents never scan events), and events with an index by stream and time. */
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE streams ("
    "  id          INTEGER PRIMARY KEY,"
    "  grp         TEXT NOT NULL,"
    "  name        TEXT NOT NULL,"
    "  created     INTEGER NOT NULL,"
    "  first_ts    INTEGER NOT NULL DEFAULT -1,"
    "  last_ts     INTEGER NOT NULL DEFAULT -1,"
    "  last_ingest INTEGER NOT NULL DEFAULT -1,"
    "  events      INTEGER NOT NULL DEFAULT 0,"
    "  bytes       INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE (grp, name));"
    "CREATE INDEX streams_by_last ON streams(grp, last_ts);"
    "CREATE TABLE events ("
    "  id     INTEGER PRIMARY KEY,"
    "  stream INTEGER NOT NULL,"
    "  ts     INTEGER NOT NULL,"
    "  ingest INTEGER NOT NULL,"
    "  msg    TEXT NOT NULL);"
    "CREATE INDEX events_by_time ON events(stream, ts);",
    /* 2: log groups as records of their own, each with its creation time, and streams found by
     * name alone (an agent's upload names the stream, not its group).  Until now
     * /aws/batch/job was the only group and existed from the store's creation: it keeps that
     * time; any other group takes the creation time of its first stream. */
    "CREATE TABLE groups (name TEXT PRIMARY KEY, created INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO groups(name, created) SELECT '" LOGSTORE_BATCH_GROUP "', value FROM meta"
    "  WHERE key = 'created';"
    "INSERT OR IGNORE INTO groups(name, created) SELECT grp, min(created) FROM streams"
    "  GROUP BY grp;"
    "CREATE INDEX streams_by_name ON streams(name);",
    /* 3: a group's retention in days (PutRetentionPolicy; 0 keeps its events for ever) and its
     * tags (a JSON object). */
    ("ALTER TABLE groups ADD COLUMN retention INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE groups ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';"),
};
#define N_MIGRATIONS (int)(sizeof migrations / sizeof migrations[0])


static const char *const writer_sql[W_COUNT] = {
    [W_BEGIN] = "BEGIN IMMEDIATE",
    [W_COMMIT] = "COMMIT",
    [W_ROLLBACK] = "ROLLBACK",
    [W_FIND] = "SELECT id FROM streams WHERE grp = ?1 AND name = ?2",
    [W_FIND_NAME] = ("SELECT id, grp FROM streams WHERE name = ?1"
                     " AND substr(grp, 1, 8) <> '" HIDDEN_PREFIX "' ORDER BY id DESC LIMIT 1"),
    [W_GROUP] = "INSERT INTO groups(name, created) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
    [W_MAKE] = "INSERT INTO streams(grp, name, created) VALUES (?1, ?2, ?3)",
    [W_EVENT] = "INSERT INTO events(stream, ts, ingest, msg) VALUES (?1, ?2, ?3, ?4)",
    [W_UPDATE] = "UPDATE streams SET"
                 "  first_ts = CASE WHEN events = 0 THEN ?2 ELSE min(first_ts, ?2) END,"
                 "  last_ts = max(last_ts, ?3), last_ingest = ?4,"
                 "  events = events + ?5, bytes = bytes + ?6 WHERE id = ?1",
    [W_MARK] = ("INSERT INTO meta(key, value) VALUES ('copied', ?1)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
    [W_DROP_EVENTS] = ("DELETE FROM events WHERE id IN"
                       " (SELECT id FROM events WHERE stream = ?1 LIMIT ?2)"),
    [W_DROP_STREAM] = "DELETE FROM streams WHERE id = ?1",
    [W_HIDE_GROUP] = "UPDATE streams SET grp = ?2 WHERE grp = ?1",
    [W_DROP_GROUP] = "DELETE FROM groups WHERE name = ?1",
    [W_GROUP_NEXT] = "SELECT id FROM streams WHERE grp = ?1 LIMIT 1",
    /* A group's settings (logstore_settings.c). */
    [W_RETAIN] = "UPDATE groups SET retention = ?2 WHERE name = ?1",
    [W_RETAINED] = "SELECT name, retention FROM groups WHERE retention > 0",
    [W_STREAMS_AFTER] = ("SELECT id, grp, name, first_ts FROM streams WHERE id > ?1 AND events > 0"
                         " ORDER BY id LIMIT ?2"),
    [W_TRIM_EVENTS] = ("DELETE FROM events WHERE id IN (SELECT id FROM events WHERE stream = ?1"
                       " AND ts < ?2 LIMIT ?3) RETURNING length(CAST(msg AS BLOB))"),
    [W_TRIM_STREAM] = ("UPDATE streams SET events = max(events - ?2, 0),"
                       "  bytes = max(bytes - ?3, 0),"
                       "  first_ts = coalesce((SELECT min(ts) FROM events WHERE stream = ?1), -1)"
                       " WHERE id = ?1"),
    /* A stream being deleted is hidden and holds nothing from its first batch on: no retention
     * pass takes it for one to trim (and copy a trim of). */
    [W_HIDE_STREAM] = ("UPDATE streams SET grp = ?2, events = 0, bytes = 0, first_ts = -1"
                       " WHERE id = ?1"),
    /* Tags: a merge patch (SQLite's json_patch is RFC 7396's), or a copy's whole tags. */
    [W_TAGS_PATCH] = "UPDATE groups SET tags = json_patch(tags, ?2) WHERE name = ?1 RETURNING tags",
    [W_TAGS_SET] = "UPDATE groups SET tags = ?2 WHERE name = ?1 AND json_valid(?2)",
};

/* Pages freed by deletes are given back to the file system once more than this many are free,
 * keeping half of them for the appends to come (the file is made with auto_vacuum=INCREMENTAL;
 * a file made by an older barge reuses its free pages instead). */
#define FREE_PAGES_KEPT 2048
/* Pages given back at a time (8 MiB of 4 KiB pages): an incremental vacuum moves every page it
 * gives back, and the appends queued meanwhile wait for it, so a large deletion's pages go in
 * slices between batches (and while the writer is idle) rather than in one go. */
#define VACUUM_SLICE 2048

int logstore__run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/* The writer ---------------------------------------------------------------------------- */

int logstore__find_id(sqlite3_stmt *find, int64_t *id, char **group)
{
    int rc = sqlite3_step(find);
    *id = rc == SQLITE_ROW ? sqlite3_column_int64(find, 0) : 0;
    if (group && rc == SQLITE_ROW) *group = xstrdup((const char *)sqlite3_column_text(find, 1));
    sqlite3_reset(find);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

static int make_group(logstore *ls, const char *group, int64_t now)
{
    sqlite3_stmt *st = ls->wst[W_GROUP];
    sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    return logstore__run(st);
}

static int write_item(logstore *ls, pending *p)
{
    if (p->op) {
        int rc = logstore__settings_item(ls, p);
        p->again = rc == 1;
        return rc < 0 ? -1 : 0;
    }
    if (p->drop) {
        int rc = logstore__drop(ls, p);
        p->again = rc == 1;
        return rc < 0 ? -1 : 0;
    }
    if (!p->stream) return make_group(ls, p->group, p->ingest);
    sqlite3_stmt *find = ls->wst[W_FIND], *make = ls->wst[W_MAKE];
    int64_t id = 0;
    if (p->by_name) {
        /* Looked up here, in queue order, so a stream made by an earlier call is found. */
        sqlite3_bind_text(ls->wst[W_FIND_NAME], 1, p->stream, -1, SQLITE_STATIC);
        free(p->resolved);
        p->resolved = NULL;
        if (logstore__find_id(ls->wst[W_FIND_NAME], &id, &p->resolved) < 0) return -1;
    }
    if (!id) {
        sqlite3_bind_text(find, 1, p->group, -1, SQLITE_STATIC);
        sqlite3_bind_text(find, 2, p->stream, -1, SQLITE_STATIC);
        if (logstore__find_id(find, &id, NULL) < 0) return -1;
    }
    if (!id) {
        if (make_group(ls, p->group, p->ingest) < 0) return -1;
        sqlite3_bind_text(make, 1, p->group, -1, SQLITE_STATIC);
        sqlite3_bind_text(make, 2, p->stream, -1, SQLITE_STATIC);
        sqlite3_bind_int64(make, 3, p->ingest);
        if (logstore__run(make) < 0) return -1;
        id = sqlite3_last_insert_rowid(ls->w);
    }
    if (p->n == 0) return 0;
    sqlite3_stmt *ins = ls->wst[W_EVENT], *upd = ls->wst[W_UPDATE];
    int64_t lo = INT64_MAX, hi = INT64_MIN, bytes = 0;
    sqlite3_bind_int64(ins, 1, id);
    sqlite3_bind_int64(ins, 3, p->ingest);
    for (size_t i = 0; i < p->n; i++) {
        const logstore_event *e = &p->ev[i];
        sqlite3_bind_int64(ins, 2, e->timestamp);
        sqlite3_bind_text(ins, 4, e->message, (int)e->len, SQLITE_STATIC);
        if (logstore__run(ins) < 0) return -1;
        if (e->timestamp < lo) lo = e->timestamp;
        if (e->timestamp > hi) hi = e->timestamp;
        bytes += (int64_t)e->len;
    }
    sqlite3_bind_int64(upd, 1, id);
    sqlite3_bind_int64(upd, 2, lo);
    sqlite3_bind_int64(upd, 3, hi);
    sqlite3_bind_int64(upd, 4, p->ingest);
    sqlite3_bind_int64(upd, 5, (int64_t)p->n);
    sqlite3_bind_int64(upd, 6, bytes);
    return logstore__run(upd);
}

/* How many items of the copy a batch's item makes: a deletion goes to the copy once, with its
 * first batch (a large one takes several here), so that the copy lets the stream go too and the
 * next leader does not read it back; a retention pass's slice goes as the streams it let go of
 * events of; a tags change as the tags after it (none when the group was not there); nothing
 * read back from the copy goes to it again. */
static size_t copies_of(const pending *p)
{
    if (p->op == LOGSTORE_EXPIRE) return p->n_trims;
    if (p->import_pos || (p->drop && p->dropping)) return 0;
    if (p->op == LOGSTORE_COPY_TAGS) return p->resolved != NULL;
    return 1;
}

/* The batch's items that were not read back from the copy, for the copy. */
static int64_t copy_batch(logstore_copy_fn copy, void *ctx, pending *batch)
{
    size_t n = 0;
    for (pending *p = batch; p; p = p->next) n += copies_of(p);
    if (!n) return 0;
    logstore_copy_item *items = xcalloc(n, sizeof *items);
    logstore_event *texts = xcalloc(n, sizeof *texts); /* tags' */
    size_t i = 0;
    for (pending *p = batch; p; p = p->next) {
        if (!copies_of(p)) continue;
        if (p->op == LOGSTORE_EXPIRE) {
            for (size_t t = 0; t < p->n_trims; t++)
                items[i++] = (logstore_copy_item){.group = p->trims[t].group,
                                                  .stream = p->trims[t].stream,
                                                  .op = LOGSTORE_COPY_TRIM,
                                                  .arg = p->trims[t].before};
        } else if (p->op == LOGSTORE_COPY_TAGS) {
            texts[i] = (logstore_event){.message = p->resolved, .len = strlen(p->resolved)};
            items[i] = (logstore_copy_item){.group = p->group, .ev = &texts[i], .n = 1,
                                            .op = p->op};
            i++;
        } else if (p->op == LOGSTORE_COPY_RETAIN) {
            items[i++] = (logstore_copy_item){.group = p->group, .op = p->op, .arg = p->arg};
        } else {
            /* resolved is a by-name stream's group, or a deletion's hidden group (not
             * copied). */
            items[i++] = (logstore_copy_item){
                .group = p->resolved && !p->drop ? p->resolved : p->group, .stream = p->stream,
                .ev = p->ev, .n = p->n, .drop = p->drop};
        }
    }
    int64_t pos = copy(ctx, items, n);
    free(items);
    free(texts);
    return pos;
}

/* The items first, so that by-name streams are resolved; then the copy, inside the local
 * transaction: a batch the copy refused is not written here either, and one written here
 * records the copy's position with it, so reading the copy back later skips exactly it. */
static int write_batch(logstore *ls, pending *batch, logstore_copy_fn copy, void *ctx)
{
    ls->failcode = 0;
    /* logs.db removed or replaced under the server: written on, the lines would go into a
     * file no later start sees, acknowledged (logstore_aside.c).  One stat a batch. */
    int moved = 0;
    sqlite3_file_control(ls->w, "main", SQLITE_FCNTL_HAS_MOVED, &moved);
    if (moved) {
        ls->failcode = LOGSTORE__MOVED;
        snprintf(ls->failure, sizeof ls->failure, "the file was removed or replaced");
        return -1;
    }
    if (logstore__run(ls->wst[W_BEGIN]) < 0) goto fail;
    int64_t mark = 0;
    for (pending *p = batch; p; p = p->next) {
        if (write_item(ls, p) < 0) goto fail;
        if (p->import_pos > mark) mark = p->import_pos;
    }
    if (copy) {
        int64_t pos = copy_batch(copy, ctx, batch);
        if (pos < 0) {
            /* Not SQLite's failure, whose message would say "not an error": the batch is
             * refused, and its sender sends it again. */
            snprintf(ls->failure, sizeof ls->failure, "the copy to the shared store refused "
                     "it; its sender is told to send it again");
            if (!sqlite3_get_autocommit(ls->w)) logstore__run(ls->wst[W_ROLLBACK]);
            return -1;
        }
        if (pos > mark) mark = pos;
    }
    if (mark > 0) {
        sqlite3_bind_int64(ls->wst[W_MARK], 1, mark);
        if (logstore__run(ls->wst[W_MARK]) < 0) goto fail;
    }
    if (logstore__run(ls->wst[W_COMMIT]) < 0) goto fail;
    return 0;
fail:
    snprintf(ls->failure, sizeof ls->failure, "%s", sqlite3_errmsg(ls->w));
    ls->failcode = sqlite3_extended_errcode(ls->w);
    if (!sqlite3_get_autocommit(ls->w)) logstore__run(ls->wst[W_ROLLBACK]);
    return -1;
}

/* Fault injection, as SQLite's own tests fail their VFS: while the file named by
 * $BARGE_FAULT_LOGSTORE exists, every commit fails as on a full disk, so that tests can hold the
 * log store down for a while and let it recover without filling a real disk. */
static int fault_now(const logstore *ls)
{
    return ls->fault_path && access(ls->fault_path, F_OK) == 0;
}

/* Gives the pages that deletes freed back to the file system, beyond FREE_PAGES_KEPT, so that
 * the file's size follows what it holds (PRAGMA incremental_vacuum; a no-op for a file made
 * without auto_vacuum, whose free pages the next appends reuse): at most slice pages now, and
 * ls->vacuuming says whether more are to go. */
static void give_back_pages(logstore *ls, int64_t slice)
{
    sqlite3_stmt *st;
    int64_t free_pages = 0;
    if (sqlite3_prepare_v2(ls->w, "PRAGMA freelist_count", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        free_pages = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    ls->dropped = 0;
    if (!ls->vacuuming && free_pages <= FREE_PAGES_KEPT) return;
    int64_t n = free_pages - FREE_PAGES_KEPT / 2;
    if (n > slice) n = slice;
    ls->vacuuming = free_pages - n > FREE_PAGES_KEPT / 2;
    if (n <= 0) return;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA incremental_vacuum(%lld)", (long long)n);
    if (sqlite3_exec(ls->w, sql, NULL, NULL, NULL) != SQLITE_OK) {
        log_warn("logstore: giving free pages of %s back failed: %s", ls->path,
                 sqlite3_errmsg(ls->w));
        /* Not again until the next deletion: an idle writer would retry it without end. */
        ls->vacuuming = 0;
    }
}

/* Puts p at the queue's end with the next ticket (under mu). */
static void queue_item(logstore *ls, pending *p)
{
    p->next = NULL;
    p->ticket = ++ls->issued;
    if (ls->tail) ls->tail->next = p;
    else ls->head = p;
    ls->tail = p;
    ls->queued += p->size;
}

static void *writer_main(void *arg)
{
    pthread_setname_np(pthread_self(), "barge-logs");
    logstore *ls = arg;
    for (;;) {
        pthread_mutex_lock(&ls->mu);
        while (!ls->head && !ls->stopping && !ls->vacuuming)
            pthread_cond_wait(&ls->work, &ls->mu);
        pending *batch = ls->head;
        ls->head = ls->tail = NULL;
        logstore_copy_fn copy = ls->copy;
        void *copy_ctx = ls->copy_ctx;
        ls->writing = batch != NULL;
        int stopping = ls->stopping;
        pthread_mutex_unlock(&ls->mu);
        if (!batch && ls->vacuuming) {
            /* Idle: the next slice; at stop, what is left in one go. */
            give_back_pages(ls, stopping ? INT64_MAX : VACUUM_SLICE);
            continue;
        }
        if (!batch) break; /* stopping, and everything is written */

        int fault = fault_now(ls);
        int rc = fault ? -1 : write_batch(ls, batch, copy, copy_ctx);
        if (rc < 0 && !atomic_load(&ls->broken))
            log_error("logstore: writing log events to %s failed: %s", ls->path,
                      fault ? "an injected fault ($BARGE_FAULT_LOGSTORE)" : ls->failure);
        if (rc < 0 && !fault) logstore__check_broken(ls, ls->failcode);
        uint64_t first = batch->ticket, last = first;
        size_t size = 0;
        pending *again = NULL, **again_tail = &again, *pass = NULL, *parked = NULL;
        for (pending *p = batch, *next; p; p = next) {
            next = p->next;
            last = p->ticket;
            size += p->size;
            if (p->op == LOGSTORE_EXPIRE) {
                /* At most one is queued (logstore_expire): what follows is decided below. */
                logstore__trims_clear(p);
                pass = p;
                continue;
            }
            if (rc == 0 && p->again) {
                p->next = NULL;
                *again_tail = p;
                again_tail = &p->next;
            } else if (rc < 0 && p->drop && p->dropping) {
                /* A deletion past its first batch (its caller told, what it deletes hidden)
                 * is not lost with a failed batch: it waits for the next item queued, so that
                 * a store that keeps failing is not retried without end. */
                p->next = parked;
                parked = p;
            } else {
                free(p->resolved);
                free(p);
            }
        }
        pthread_mutex_lock(&ls->mu);
        ls->writing = 0;
        ls->queued -= size;
        for (pending *p = parked, *next; p; p = next) {
            next = p->next;
            p->next = ls->parked;
            ls->parked = p;
        }
        ls->committed = last;
        /* A retention pass goes on; or it has ended (a failed batch ends it too, and a stop:
         * the first tick after the next start runs one), and starts again from the top when
         * another was asked for meanwhile, decided here under the lock logstore_expire takes
         * so that no request falls between. */
        if (pass) {
            int more = rc == 0 && pass->again && !ls->stopping;
            if (!more) {
                ls->expire_ended++;
                more = ls->expire_again && !ls->stopping;
                ls->expire_again = 0;
                if (more) {
                    ls->expire_started++;
                    pass->cursor = 0;
                    pass->ingest = util_now_ms();
                } else {
                    ls->expiring = 0;
                }
            }
            if (more) {
                pass->again = 0;
                queue_item(ls, pass);
                pass = NULL;
            }
        }
        /* Deletes with events left go on in the next batch, behind what queued meanwhile. */
        for (pending *p = again, *next; p; p = next) {
            next = p->next;
            p->again = 0;
            p->dropping = 1;
            /* Its position in the copy (an import's last item) was recorded with the batch
             * just written; recorded again later, it would take the mark back. */
            if (p->import_pos > 0) p->import_pos = -1;
            queue_item(ls, p);
        }
        if (rc < 0) {
            unsigned slot = ls->n_failed++ % FAILED_RING;
            ls->failed[slot].lo = first;
            ls->failed[slot].hi = last;
        }
        pthread_cond_broadcast(&ls->done);
        pthread_mutex_unlock(&ls->mu);
        free(pass); /* one that ended */
        /* After the batch's writers are told: they do not wait for it. */
        if (rc == 0 && (ls->dropped || ls->vacuuming)) give_back_pages(ls, VACUUM_SLICE);
    }
    return NULL;
}

static uint64_t enqueue(logstore *ls, const char *group, const char *stream, int by_name,
                        const logstore_event *ev, size_t n, int64_t import_pos, int drop, int op,
                        int64_t arg)
{
    /* Callers check names where they come from outside; the listings rely on it. */
    BARGE_ASSERT(logstore_group_name_valid(group));
    size_t glen = strlen(group) + 1, slen = stream ? strlen(stream) + 1 : 0,
           size = sizeof(pending) + n * sizeof(logstore_event) + glen + slen;
    for (size_t i = 0; i < n; i++) size += ev[i].len;
    pending *p = xmalloc(size);
    p->next = NULL;
    p->size = size;
    p->n = n;
    p->by_name = by_name;
    p->import_pos = import_pos;
    p->resolved = NULL;
    p->drop = drop;
    p->again = 0;
    p->dropping = 0;
    p->op = op;
    p->arg = arg;
    p->cursor = 0;
    p->trims = NULL;
    p->n_trims = 0;
    p->ingest = util_now_ms();
    char *at = (char *)&p->ev[n];
    memcpy(at, group, glen);
    p->group = at;
    at += glen;
    p->stream = NULL;
    if (stream) {
        memcpy(at, stream, slen);
        p->stream = at;
        at += slen;
    }
    for (size_t i = 0; i < n; i++) {
        /* CloudWatch timestamps are not negative; positions print them in 16 digits. */
        int64_t ts = ev[i].timestamp;
        p->ev[i].timestamp = ts < 0 ? 0 : ts > MAX_TS ? MAX_TS : ts;
        p->ev[i].len = ev[i].len;
        p->ev[i].message = at;
        if (ev[i].len) memcpy(at, ev[i].message, ev[i].len);
        at += ev[i].len;
    }
    pthread_mutex_lock(&ls->mu);
    BARGE_ASSERT(!ls->stopping);
    while (ls->queued > QUEUE_LIMIT && !ls->resuming) pthread_cond_wait(&ls->done, &ls->mu);
    /* Deletions a failed batch parked (writer_main) go on with this item. */
    while (ls->parked) {
        pending *d = ls->parked;
        ls->parked = d->next;
        queue_item(ls, d);
    }
    queue_item(ls, p);
    uint64_t ticket = p->ticket;
    pthread_cond_signal(&ls->work);
    pthread_mutex_unlock(&ls->mu);
    return ticket; /* not p->ticket: the writer may have freed p already */
}

uint64_t logstore_append(logstore *ls, const char *group, const char *stream,
                         const logstore_event *ev, size_t n)
{
    return enqueue(ls, group, stream, 0, ev, n, 0, 0, 0, 0);
}

uint64_t logstore_append_by_name(logstore *ls, const char *fallback_group, const char *stream,
                                 const logstore_event *ev, size_t n)
{
    return enqueue(ls, fallback_group, stream, 1, ev, n, 0, 0, 0, 0);
}

uint64_t logstore_create_group(logstore *ls, const char *group)
{
    return enqueue(ls, group, NULL, 0, NULL, 0, 0, 0, 0, 0);
}

uint64_t logstore_delete_stream(logstore *ls, const char *group, const char *stream)
{
    return enqueue(ls, group, stream, 0, NULL, 0, 0, 1, 0, 0);
}

uint64_t logstore_delete_group(logstore *ls, const char *group)
{
    return enqueue(ls, group, NULL, 0, NULL, 0, 0, 1, 0, 0);
}

/* Groups and streams whose deletion a stop cut short (still in a hidden group) are queued
 * to be finished, before the writer starts: as items already past their first batch, so they
 * are neither renamed again nor copied again. */
static void resume_drops(logstore *ls)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(ls->w,
                           "SELECT DISTINCT grp FROM streams WHERE grp >= '" HIDDEN_PREFIX "'"
                           " AND grp < 'deleted;'", -1, &st, NULL) != SQLITE_OK)
        return;
    /* However many there are: the writer, which would take them off the queue, is not
     * running yet. */
    ls->resuming = 1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        enqueue(ls, LOGSTORE_BATCH_GROUP, NULL, 0, NULL, 0, 0, 1, 0, 0);
        ls->tail->resolved = xstrdup((const char *)sqlite3_column_text(st, 0));
        ls->tail->dropping = 1;
    }
    ls->resuming = 0;
    sqlite3_finalize(st);
}

int logstore_wait(logstore *ls, uint64_t ticket)
{
    int rc = 0;
    pthread_mutex_lock(&ls->mu);
    while (ls->committed < ticket) pthread_cond_wait(&ls->done, &ls->mu);
    unsigned n = ls->n_failed < FAILED_RING ? ls->n_failed : FAILED_RING;
    for (unsigned i = 0; i < n; i++)
        if (ticket >= ls->failed[i].lo && ticket <= ls->failed[i].hi) rc = -1;
    pthread_mutex_unlock(&ls->mu);
    return rc;
}

int logstore_passed(logstore *ls, uint64_t ticket)
{
    pthread_mutex_lock(&ls->mu);
    int passed = ls->committed >= ticket;
    pthread_mutex_unlock(&ls->mu);
    return passed;
}

uint64_t logstore_tag_group(logstore *ls, const char *group, const char *patch)
{
    logstore_event ev = {.message = patch, .len = strlen(patch)};
    return enqueue(ls, group, NULL, 0, &ev, 1, 0, 0, LOGSTORE_COPY_TAGS, 0);
}

uint64_t logstore_set_retention(logstore *ls, const char *group, int days)
{
    return enqueue(ls, group, NULL, 0, NULL, 0, 0, 0, LOGSTORE_COPY_RETAIN, days);
}

void logstore_expire(logstore *ls)
{
    pthread_mutex_lock(&ls->mu);
    int running = ls->expiring;
    if (running) ls->expire_again = 1;
    else ls->expiring = 1, ls->expire_started++;
    pthread_mutex_unlock(&ls->mu);
    /* The group is a placeholder: a pass goes over every group with a retention. */
    if (!running) enqueue(ls, LOGSTORE_BATCH_GROUP, NULL, 0, NULL, 0, 0, 0, LOGSTORE_EXPIRE, 0);
}

void logstore_expire_counts(logstore *ls, uint64_t *started, uint64_t *ended)
{
    pthread_mutex_lock(&ls->mu);
    *started = ls->expire_started;
    *ended = ls->expire_ended;
    pthread_mutex_unlock(&ls->mu);
}

void logstore_create_stream(logstore *ls, const char *group, const char *stream)
{
    logstore_append(ls, group, stream, NULL, 0);
}

void logstore_set_copy(logstore *ls, logstore_copy_fn fn, void *ctx)
{
    pthread_mutex_lock(&ls->mu);
    ls->copy = fn;
    ls->copy_ctx = ctx;
    /* A batch taken before this call may still use the old copy. */
    while (ls->writing) pthread_cond_wait(&ls->done, &ls->mu);
    pthread_mutex_unlock(&ls->mu);
}

uint64_t logstore_import(logstore *ls, const logstore_copy_item *items, size_t n, int64_t pos)
{
    uint64_t ticket = 0;
    for (size_t i = 0; i < n; i++)
        ticket = enqueue(ls, items[i].group, items[i].stream, 0, items[i].ev, items[i].n,
                         i + 1 == n ? pos : -1, items[i].drop, items[i].op, items[i].arg);
    return ticket;
}

int64_t logstore_copied(logstore *ls)
{
    char *err = NULL;
    reader *r = logstore__reader_take(ls, &err);
    if (!r) {
        log_error("logstore: %s", err);
        free(err);
        return -1;
    }
    sqlite3_stmt *st;
    int64_t out = -1;
    if (sqlite3_prepare_v2(r->db, "SELECT value FROM meta WHERE key = 'copied'", -1, &st,
                           NULL) == SQLITE_OK) {
        int rc = sqlite3_step(st);
        out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : rc == SQLITE_DONE ? 0 : -1;
        sqlite3_finalize(st);
    }
    logstore__reader_give(ls, r);
    return out;
}

/* Opening and closing ------------------------------------------------------------------- */

static void close_connections(logstore *ls)
{
    for (int i = 0; i < W_COUNT; i++) sqlite3_finalize(ls->wst[i]);
    sqlite3_close(ls->w);
    logstore__readers_close(ls);
}

logstore *logstore_open(const char *dir, char **err)
{
    logstore *ls = xcalloc(1, sizeof *ls);
    *err = NULL;
    ls->path = xasprintf("%s/logs.db", dir);
    const char *fault = getenv("BARGE_FAULT_LOGSTORE");
    ls->fault_path = fault && *fault ? xstrdup(fault) : NULL;
    /* Only the writer thread uses this connection once the store is open. */
    int rc = sqlite3_open_v2(ls->path, &ls->w, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                                   SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        *err = xasprintf("cannot open the log store %s: %s", ls->path,
                         ls->w ? sqlite3_errmsg(ls->w) : "no memory");
        goto fail;
    }
    /* journal_size_limit gives back the disk a burst of logs took in the WAL. */
    /* auto_vacuum first: it takes effect only in a file that holds no table yet. */
    if (sqlite3_exec(ls->w, "PRAGMA auto_vacuum=INCREMENTAL; "
                            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                            "PRAGMA busy_timeout=5000; PRAGMA journal_size_limit=67108864;",
                     NULL, NULL, NULL) != SQLITE_OK) {
        *err = xasprintf("cannot configure the log store %s: %s%s", ls->path,
                         sqlite3_errmsg(ls->w),
                         sqlite3_errcode(ls->w) == SQLITE_FULL ||
                                 sqlite3_system_errno(ls->w) == ENOSPC
                             ? " (the data directory's file system has no room: free some and "
                               "start again; the log store is kept as it was)"
                             : "");
        goto fail;
    }
    if (sqlite_schema_migrate(ls->w, migrations, N_MIGRATIONS, "the log store", err) < 0)
        goto fail;
    for (int i = 0; i < W_COUNT; i++) {
        if (sqlite3_prepare_v3(ls->w, writer_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &ls->wst[i],
                               NULL) != SQLITE_OK) {
            *err = xasprintf("cannot prepare the log store's statements: %s",
                             sqlite3_errmsg(ls->w));
            goto fail;
        }
    }
    pthread_mutex_init(&ls->mu, NULL);
    pthread_mutex_init(&ls->rmu, NULL);
    logstore__aside_init(ls);
    pthread_cond_init(&ls->work, NULL);
    pthread_cond_init(&ls->done, NULL);
    resume_drops(ls);
    if (pthread_create(&ls->thread, NULL, writer_main, ls) != 0) {
        *err = xstrdup("cannot start the log store's writer thread");
        logstore__aside_free(ls);
        pthread_mutex_destroy(&ls->mu);
        pthread_mutex_destroy(&ls->rmu);
        pthread_cond_destroy(&ls->work);
        pthread_cond_destroy(&ls->done);
        goto fail;
    }
    return ls;
fail:
    close_connections(ls);
    free(ls->fault_path);
    free(ls->path);
    free(ls);
    return NULL;
}

void logstore_close(logstore *ls)
{
    if (!ls) return;
    pthread_mutex_lock(&ls->mu);
    ls->stopping = 1;
    pthread_cond_signal(&ls->work);
    pthread_mutex_unlock(&ls->mu);
    pthread_join(ls->thread, NULL);
    /* Parked deletions are finished by the next open (resume_drops). */
    for (pending *p = ls->parked, *next; p; p = next) {
        next = p->next;
        free(p->resolved);
        free(p);
    }
    close_connections(ls);
    logstore__aside_free(ls);
    pthread_mutex_destroy(&ls->mu);
    pthread_mutex_destroy(&ls->rmu);
    pthread_cond_destroy(&ls->work);
    pthread_cond_destroy(&ls->done);
    free(ls->fault_path);
    free(ls->path);
    free(ls);
}
