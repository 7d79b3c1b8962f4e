/* logstore_internal — what the log store's files share and nothing else: logstore.c (opening,
 * closing and the writer), logstore_drop.c (deleting streams and groups), logstore_settings.c
 * (a group's tags and retention, and the retention's passes over the streams),
 * logstore_read.c (the readers, positions and GetLogEvents), logstore_query.c
 * (FilterLogEvents and the listings, whose SQL is built per request) and logstore_pattern.c
 * (FilterLogEvents' filter patterns). */
#ifndef BARGE_LOGSTORE_INTERNAL_H
#define BARGE_LOGSTORE_INTERNAL_H
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sqlite3.h>
#include <stdint.h>

#include "server/base/logstore.h"

#define FAILED_RING 8
/* Positions print the timestamp in 16 digits; later timestamps are clamped to this. */
#define MAX_TS INT64_C(9999999999999999)

/* The writer's statements (logstore.c) and each reader's (logstore_read.c). */
enum {
    W_BEGIN, W_COMMIT, W_ROLLBACK, W_FIND, W_FIND_NAME, W_GROUP, W_MAKE, W_EVENT, W_UPDATE,
    W_MARK, W_DROP_EVENTS, W_DROP_STREAM, W_HIDE_GROUP, W_DROP_GROUP, W_GROUP_NEXT,
    W_RETAIN, W_RETAINED, W_STREAMS_AFTER, W_TRIM_EVENTS, W_TRIM_STREAM, W_TAGS_PATCH,
    W_TAGS_SET, W_HIDE_STREAM, W_COUNT
};
enum { R_FIND, R_FORWARD, R_BACKWARD, R_GROUP, R_RANK, R_NTH, R_TAGS, R_GROUP_EXISTS, R_COUNT };

/* One queued append: header, events, then the names and messages, in one allocation.  stream
 * is NULL when only the group is to be made; by_name says that the stream is looked up by its
 * name in any group, group being where it is made when no group holds it. */
struct logstore_trim {
    char *group, *stream;
    int64_t before;
};

/* A deleted group's streams, or a deleted stream, are moved at once to a group of this prefix,
 * which no group name has (':' is not allowed in one), and their events go from there a batch
 * at a time: a group or stream made again under the name meanwhile is a new one, which the
 * deletion leaves alone (even when SQLite gives it the rowid the deleted stream had). */
#define HIDDEN_PREFIX "deleted:"

typedef struct pending {
    struct pending *next;
    uint64_t ticket;
    int64_t ingest;
    size_t size;
    const char *group, *stream;
    int by_name;
    int drop; /* delete the stream and its events instead (logstore_delete_stream), or with
                 stream NULL the group, its streams and their events (logstore_delete_group) */
    int again; /* a drop with events left: queued again after the batch */
    int dropping; /* a drop queued again: its first batch is written (and copied) */
    /* Read back from the copy, so not copied again: > 0 for the last item of an import (the
     * copy's position it brings this store to), -1 for the others; 0 for the rest. */
    int64_t import_pos;
    char *resolved; /* by_name: the group the stream was found in; a drop: the hidden group
                       its streams went to (logstore.c); malloc'd, else NULL */
    /* A group's settings' items (logstore_settings.c): LOGSTORE_COPY_RETAIN (arg: the days),
     * LOGSTORE_COPY_TRIM (an import: the stream's events before arg go) or LOGSTORE_EXPIRE (a
     * pass: cursor is the last stream done; trims what its current slice let go of, for the
     * copy); LOGSTORE_COPY_TAGS (ev[0]: a merge patch, or for an import the whole tags; the
     * tags after a patch go to resolved, for the copy); 0 for the others. */
    int op;
    int64_t arg, cursor;
    struct logstore_trim *trims;
    size_t n_trims;
    size_t n;
    logstore_event ev[];
} pending;

/* A pass of logstore_expire, in pending.op. */
#define LOGSTORE_EXPIRE 'x'

typedef struct reader {
    sqlite3 *db;
    sqlite3_stmt *st[R_COUNT];
    struct reader *next_free, *next_all;
} reader;

struct logstore {
    char *path;
    /* The writer's connection and statements belong to the writer thread once it runs. */
    sqlite3 *w;
    sqlite3_stmt *wst[W_COUNT];
    pthread_t thread;
    /* The queue, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    struct pending *head, *tail;
    struct pending *parked; /* deletions a failed batch held back, queued with the next item */
    size_t queued;
    uint64_t issued, committed;
    struct { uint64_t lo, hi; } failed[FAILED_RING];
    unsigned n_failed;
    int stopping;
    int resuming; /* logstore_open's resume_drops queues past QUEUE_LIMIT */
    /* Events deleted since the free pages were last given back (the writer's). */
    uint64_t dropped;
    /* Free pages are being given back, a slice at a time (give_back_pages); writer only. */
    int vacuuming;
    /* logstore_set_copy's, under mu; the writer takes them with each batch. */
    logstore_copy_fn copy;
    void *copy_ctx;
    int writing; /* a batch is being written (under mu) */
    /* A test hook: while the file named by $BARGE_FAULT_LOGSTORE exists, commits fail (NULL
     * without it).  Read by the writer thread only. */
    char *fault_path;
    char failure[256]; /* why the last batch failed, read before its rollback (writer only) */
    /* logstore_expire's passes, under mu: one runs (expiring), another is asked for once it
     * ends (expire_again); counted for tests. */
    int expiring, expire_again;
    uint64_t expire_started, expire_ended;
    /* Read-only connections, lent to one caller at a time. */
    pthread_mutex_t rmu;
    reader *free_readers, *all_readers;
    /* logstore_aside.c: why the store takes no more writes (set once, by the writer), and the
     * file job output goes to then, under kmu.  failcode is SQLite's code of the last batch's
     * failure, or LOGSTORE__MOVED (writer only). */
    _Atomic(char *) broken;
    int failcode;
    char *kept_path;
    FILE *kept;
    pthread_mutex_t kmu;
};

#define LOGSTORE__MOVED (-2)
void logstore__aside_init(logstore *ls);
void logstore__aside_free(logstore *ls);
/* After a failed batch (the writer's): marks the store broken when code says the failure
 * will not pass. */
void logstore__check_broken(logstore *ls, int code);

/* The writer's (logstore.c): steps a statement whose rows are not needed and resets it (0, or
 * -1 on an error); and what an item with an op does in a batch (logstore_settings.c): 0 when
 * done, 1 when it goes on in a later batch, -1 on an error. */
int logstore__run(sqlite3_stmt *st);
/* The id of the stream that find (bound already) returns, in *id; 0 when there is none.  When
 * group is given, the stream's group (find's second column) goes there, malloc'd. */
int logstore__find_id(sqlite3_stmt *find, int64_t *id, char **group);
/* A deletion's batch (logstore_drop.c): 0 when it is done, 1 when events remain (the item is
 * queued again), -1 on error. */
int logstore__drop(logstore *ls, pending *p);
int logstore__settings_item(logstore *ls, pending *p);
/* Frees what a pass's slice let go of (p->trims), once it is copied. */
void logstore__trims_clear(pending *p);
/* A deleted stream's events, and those past a retention, go at most this many per writer
 * batch, so that deleting a stream of millions of lines never holds up the appends queued
 * behind it for long. */
#define DROP_BATCH 5000

/* Readers (logstore_read.c).  logstore__reader_take lends a connection (NULL with *err when none
 * can be opened); logstore__reader_give takes it back.  logstore__readers_close closes them all,
 * once no caller holds one. */
reader *logstore__reader_take(logstore *ls, char **err);
void logstore__reader_give(logstore *ls, reader *r);
void logstore__readers_close(logstore *ls);
/* Sets *err from the reader's last error; returns LOGSTORE_FAILED. */
int logstore__read_failed(reader *r, char **err);

/* Positions and ranges (logstore_read.c).
 *
 * Inside, a position is (ts, id): 'f' after it, every event at ts with an id above; 'b' before
 * it, every event at ts with an id below (0 and INT64_MAX stand before and after them all).
 * Ids are this file's own, though: a standby's log store holds the same events, in the same
 * order, under other ids.  So a token gives the event's rank among the events at ts instead:
 * "f/TS.RANK", 16 digits, a dot, 19 digits.  'f': after the RANK-th (0 before the first);
 * 'b': before it; LOGSTORE_RANK_ALL past the last either way.  A token of the older form
 * "f/TSID" (35 digits, an id of this file) is still read.
 *
 * The rank statements count (count: :ts, :pid; "SELECT count(*) ... ts = :ts AND id <= :pid")
 * and pick (nth: :ts, :n; "SELECT id ... ts = :ts ORDER BY id LIMIT 1 OFFSET :n") among the
 * events a read reads (its stream, or a search's streams), other parameters bound by the
 * caller.  logstore__token turns a position into a token (0, or -1 when the read failed);
 * logstore__parse_pos reads a token's direction, time and number (*is_rank: a rank or an
 * older id), -1 for anything else, and logstore__rank_to_id turns a rank into a position's id.
 *
 * logstore__range_bounds gives [lo, hi) of a range, its end excluded as GetLogEvents excludes
 * it, or with end_included (FilterLogEvents, whose endTime is the last time returned) within
 * it; timestamps are never negative, so neither are the bounds. */
#define LOGSTORE_RANK_ALL INT64_MAX
int logstore__token(sqlite3_stmt *count, char out[48], char dir, int64_t ts, int64_t id);
int logstore__parse_pos(const char *s, char *dir, int64_t *ts, int64_t *n, int *is_rank);
int logstore__rank_to_id(sqlite3_stmt *nth, int64_t ts, int64_t rank, int64_t *id);
void logstore__range_bounds(const logstore_range *r, int end_included, int64_t *lo,
                            int64_t *hi);
/* Adds the statement's current row (id, ts, ingest, msg[, stream]) to the page unless the
 * page is full; returns 0 if added, 1 if full.  The first event always fits. */
int logstore__page_add(logstore_page *p, size_t *cap, size_t *bytes, sqlite3_stmt *st, int limit,
                       size_t max_bytes, int with_stream);

/* A FilterLogEvents filter pattern (logstore_pattern.c), read once a call: parse gives it in
 * *out, or LOGSTORE_INVALID with the reason in *err (NULL or "" matches every event); match
 * says whether the message, len bytes that may hold NULs, matches it. */
typedef struct logstore_pattern logstore_pattern;
int logstore__pattern_parse(const char *s, logstore_pattern **out, char **err);
int logstore__pattern_match(const logstore_pattern *p, const char *msg, size_t len);
void logstore__pattern_free(logstore_pattern *p);
#endif
