/* logstore_drop — what the log store's writer does to delete a stream or a group
 * (DeleteLogStream, DeleteLogGroup); see logstore.h.
 *
 * The first batch of a deletion moves what it deletes to a hidden group of its own, so that it
 * is gone from every lookup once that batch is committed, and a stream or group made again
 * under the name meanwhile is another, which the deletion leaves alone (even when SQLite gives
 * a new stream the row id a deleted one had).  The events then go from the hidden group a
 * batch at a time, each stream with its last: a large deletion does not hold the appends
 * queued behind it for long. */
#include <sqlite3.h>

#include "common/mem.h"
#include "common/util.h"
#include "server/base/logstore.h"
#include "server/base/logstore_internal.h"

/* A name for the hidden group of one deletion (p->resolved).  Tickets start again at each
 * open: the time makes the name this deletion's alone, beside one an earlier run left to
 * finish. */
static void hidden_name(pending *p)
{
    p->resolved = xasprintf(HIDDEN_PREFIX "%lld.%llu:%s", (long long)util_now_ms(),
                            (unsigned long long)p->ticket, p->group);
}

/* Deletes up to DROP_BATCH of the hidden group's events, stream by stream, each found through
 * the group's index (a batch costs what it deletes, however many streams were emptied before
 * it), and each stream with its last.  Returns 0 when the hidden group is empty, 1 when events
 * remain (the item is queued again), -1 on error. */
static int drop_hidden(logstore *ls, pending *p)
{
    for (int budget = DROP_BATCH; budget > 0;) {
        int64_t id = 0;
        sqlite3_stmt *next = ls->wst[W_GROUP_NEXT];
        sqlite3_bind_text(next, 1, p->resolved, -1, SQLITE_STATIC);
        if (logstore__find_id(next, &id, NULL) < 0) return -1;
        if (!id) return 0;
        sqlite3_stmt *del = ls->wst[W_DROP_EVENTS];
        sqlite3_bind_int64(del, 1, id);
        sqlite3_bind_int(del, 2, budget);
        if (logstore__run(del) < 0) return -1;
        int gone = sqlite3_changes(ls->w);
        ls->dropped += (uint64_t)gone;
        budget -= gone;
        if (budget <= 0) return 1;
        sqlite3_bind_int64(ls->wst[W_DROP_STREAM], 1, id);
        if (logstore__run(ls->wst[W_DROP_STREAM]) < 0) return -1;
        budget--; /* an empty stream costs a little too */
    }
    return 1;
}

/* A stream's deletion: its first batch moves the stream to a hidden group of its own, so it is
 * gone from every lookup once its ticket is committed; its events go from there. */
static int drop_stream(logstore *ls, pending *p)
{
    if (!p->resolved) {
        int64_t id = 0;
        sqlite3_stmt *find = ls->wst[W_FIND];
        sqlite3_bind_text(find, 1, p->group, -1, SQLITE_STATIC);
        sqlite3_bind_text(find, 2, p->stream, -1, SQLITE_STATIC);
        if (logstore__find_id(find, &id, NULL) < 0) return -1;
        if (!id) return 0;
        hidden_name(p);
        sqlite3_stmt *hide = ls->wst[W_HIDE_STREAM];
        sqlite3_bind_int64(hide, 1, id);
        sqlite3_bind_text(hide, 2, p->resolved, -1, SQLITE_STATIC);
        if (logstore__run(hide) < 0) return -1;
    }
    return drop_hidden(ls, p);
}

/* The same for a group: its first batch removes the group and moves its streams to a hidden
 * group of their own.  An item resumed after a restart (logstore_open) comes with its hidden
 * group already. */
static int drop_group(logstore *ls, pending *p)
{
    if (!p->resolved) {
        hidden_name(p);
        sqlite3_stmt *hide = ls->wst[W_HIDE_GROUP];
        sqlite3_bind_text(hide, 1, p->group, -1, SQLITE_STATIC);
        sqlite3_bind_text(hide, 2, p->resolved, -1, SQLITE_STATIC);
        if (logstore__run(hide) < 0) return -1;
        sqlite3_bind_text(ls->wst[W_DROP_GROUP], 1, p->group, -1, SQLITE_STATIC);
        if (logstore__run(ls->wst[W_DROP_GROUP]) < 0) return -1;
    }
    return drop_hidden(ls, p);
}

int logstore__drop(logstore *ls, pending *p)
{
    return p->stream ? drop_stream(ls, p) : drop_group(ls, p);
}
