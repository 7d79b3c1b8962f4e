/* logstore_settings — what the log store's writer does with a group's settings: its tags
 * (TagResource and its kin), its retention (PutRetentionPolicy), and the passes that let go of
 * the events past it; see logstore.h.
 *
 * A pass walks the streams in id order, a slice at a time, and in each stream of a group with a
 * retention deletes the events older than the group's cutoff (now, at the pass's start, less
 * the retention), through the (stream, ts) index, so that its cost is what it deletes plus one
 * look at each stream.  Walking every stream rather than only those of groups with a retention
 * needs no index more on the streams (every append updates its stream's row, and an index on
 * first_ts would be written with it); a pass is hourly, so a look at each stream an hour is
 * cheap beside the appends.
 *
 * The streams stay, emptied, as CloudWatch keeps them; a stream's summary (events, bytes, first
 * timestamp) follows what is left.  Positions stay valid: once a stream's trim is done (a
 * large one takes several batches, and may part a millisecond between two of them for that
 * while), events have gone by whole milliseconds, so the rank of an event left among those of
 * its millisecond (logstore_internal.h) is the same here and on a standby that lets go of the
 * same events. */
#include "server/base/logstore.h"
#include "server/base/logstore_internal.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/util.h"

/* Streams looked at per slice. */
#define EXPIRE_SCAN 2000
#define DAY_MS (24LL * 3600 * 1000)

int logstore_retention_days_valid(int64_t days)
{
    /* CloudWatch Logs' values, and only those (its API refuses the others). */
    static const int valid[] = {1,   3,   5,   7,   14,   30,   60,   90,   120,  150,  180,
                                365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653};
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
        if (days == valid[i]) return 1;
    return 0;
}

void logstore__trims_clear(pending *p)
{
    for (size_t i = 0; i < p->n_trims; i++) {
        free(p->trims[i].group);
        free(p->trims[i].stream);
    }
    free(p->trims);
    p->trims = NULL;
    p->n_trims = 0;
}

/* Deletes up to max of the stream's events older than before and updates its summary; *gone
 * says how many went. */
static int trim_stream(logstore *ls, int64_t id, int64_t before, int max, int *gone)
{
    sqlite3_stmt *del = ls->wst[W_TRIM_EVENTS];
    sqlite3_bind_int64(del, 1, id);
    sqlite3_bind_int64(del, 2, before);
    sqlite3_bind_int(del, 3, max);
    int64_t n = 0, bytes = 0;
    int rc;
    while ((rc = sqlite3_step(del)) == SQLITE_ROW) {
        n++;
        bytes += sqlite3_column_int64(del, 0);
    }
    sqlite3_reset(del);
    *gone = (int)n;
    if (rc != SQLITE_DONE) return -1;
    if (!n) return 0;
    ls->dropped += (uint64_t)n;
    sqlite3_stmt *upd = ls->wst[W_TRIM_STREAM];
    sqlite3_bind_int64(upd, 1, id);
    sqlite3_bind_int64(upd, 2, n);
    sqlite3_bind_int64(upd, 3, bytes);
    return logstore__run(upd);
}

/* An import's trim (a LOGSTORE_COPY_TRIM read back from the copy): the stream's events before
 * p->arg, DROP_BATCH a batch. */
static int trim_item(logstore *ls, pending *p)
{
    sqlite3_stmt *find = ls->wst[W_FIND];
    sqlite3_bind_text(find, 1, p->group, -1, SQLITE_STATIC);
    sqlite3_bind_text(find, 2, p->stream, -1, SQLITE_STATIC);
    int step = sqlite3_step(find);
    int64_t id = step == SQLITE_ROW ? sqlite3_column_int64(find, 0) : 0;
    sqlite3_reset(find);
    if (step != SQLITE_ROW && step != SQLITE_DONE) return -1;
    if (!id) return 0;
    int gone;
    if (trim_stream(ls, id, p->arg, DROP_BATCH, &gone) < 0) return -1;
    return gone >= DROP_BATCH;
}

typedef struct {
    char *name;
    int64_t before;
} retained;

typedef struct {
    int64_t id, first_ts;
    size_t group; /* in the retained groups */
    char *stream;
} candidate;

/* The groups with a retention and their cutoffs as of now_ms, in *out (freed by the caller). */
static int retained_groups(logstore *ls, int64_t now_ms, retained **out, size_t *n)
{
    sqlite3_stmt *st = ls->wst[W_RETAINED];
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) *out = xrealloc(*out, (cap = cap ? 2 * cap : 8) * sizeof **out);
        (*out)[*n].name = xstrdup((const char *)sqlite3_column_text(st, 0));
        (*out)[(*n)++].before = now_ms - sqlite3_column_int64(st, 1) * DAY_MS;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return 0;
    for (size_t i = 0; i < *n; i++) free((*out)[i].name);
    free(*out);
    *out = NULL;
    *n = 0;
    return -1;
}

/* One slice of a pass: up to EXPIRE_SCAN streams looked at, DROP_BATCH events deleted. */
static int expire_slice(logstore *ls, pending *p)
{
    retained *groups;
    size_t n_groups;
    if (retained_groups(ls, p->ingest, &groups, &n_groups) < 0) return -1;
    candidate *cands = NULL;
    size_t n_cands = 0, cap = 0, scanned = 0;
    int rc = SQLITE_DONE;
    int64_t last = p->cursor;
    if (n_groups) {
        /* Read first, delete after: a statement that reads the streams while their rows
         * change would see the changes or not. */
        sqlite3_stmt *st = ls->wst[W_STREAMS_AFTER];
        sqlite3_bind_int64(st, 1, p->cursor);
        sqlite3_bind_int(st, 2, EXPIRE_SCAN);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            scanned++;
            last = sqlite3_column_int64(st, 0);
            const char *grp = (const char *)sqlite3_column_text(st, 1);
            int64_t first = sqlite3_column_int64(st, 3);
            for (size_t g = 0; g < n_groups; g++) {
                if (strcmp(groups[g].name, grp) != 0) continue;
                if (first >= groups[g].before) break;
                if (n_cands == cap)
                    cands = xrealloc(cands, (cap = cap ? 2 * cap : 16) * sizeof *cands);
                cands[n_cands++] = (candidate){
                    last, first, g, xstrdup((const char *)sqlite3_column_text(st, 2))};
                break;
            }
        }
        sqlite3_reset(st);
    }
    int out = rc == SQLITE_DONE ? 0 : -1;
    int budget = DROP_BATCH;
    size_t i = 0;
    for (; out == 0 && i < n_cands && budget > 0; i++) {
        int gone;
        const candidate *c = &cands[i];
        if (trim_stream(ls, c->id, groups[c->group].before, budget, &gone) < 0) {
            out = -1;
            break;
        }
        if (gone) {
            p->trims = xrealloc(p->trims, (p->n_trims + 1) * sizeof *p->trims);
            p->trims[p->n_trims++] = (struct logstore_trim){
                xstrdup(groups[c->group].name), xstrdup(c->stream), groups[c->group].before};
        }
        budget -= gone;
        /* Out of budget: the next slice starts at this stream again, which may have more. */
        p->cursor = budget > 0 ? c->id : c->id - 1;
    }
    if (out == 0) {
        if (budget > 0) p->cursor = last;
        /* At the end of the streams the pass is over (the writer starts another if one was
         * asked for meanwhile). */
        out = budget > 0 && scanned < EXPIRE_SCAN ? 0 : 1;
    }
    for (size_t c = 0; c < n_cands; c++) free(cands[c].stream);
    free(cands);
    for (size_t g = 0; g < n_groups; g++) free(groups[g].name);
    free(groups);
    return out;
}

/* A tags item: a patch, whose result is kept for the copy; or an import's whole tags. */
static int write_tags(logstore *ls, pending *p)
{
    sqlite3_stmt *st = ls->wst[p->import_pos ? W_TAGS_SET : W_TAGS_PATCH];
    sqlite3_bind_text(st, 1, p->group, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->ev[0].message, (int)p->ev[0].len, SQLITE_STATIC);
    if (p->import_pos) return logstore__run(st);
    int rc = sqlite3_step(st);
    free(p->resolved);
    p->resolved = rc == SQLITE_ROW ? xstrdup((const char *)sqlite3_column_text(st, 0)) : NULL;
    /* Step to the end: an UPDATE ... RETURNING completes only when stepped to SQLITE_DONE. */
    while (rc == SQLITE_ROW) rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int logstore__settings_item(logstore *ls, pending *p)
{
    switch (p->op) {
    case LOGSTORE_COPY_TAGS: return write_tags(ls, p);
    case LOGSTORE_COPY_RETAIN: {
        sqlite3_stmt *st = ls->wst[W_RETAIN];
        sqlite3_bind_text(st, 1, p->group, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, p->arg);
        return logstore__run(st);
    }
    case LOGSTORE_COPY_TRIM: return p->stream ? trim_item(ls, p) : 0;
    case LOGSTORE_EXPIRE: return expire_slice(ls, p);
    default: return -1;
    }
}
