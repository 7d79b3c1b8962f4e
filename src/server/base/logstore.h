/* logstore — job logs: an append-only store of log events in DATA_DIR/logs.db.
 *
 * The log store is a SQLite file of its own, apart from the main store, so that heavy logging
 * never competes with the scheduler's commits for the main store's write lock.  Events belong to
 * a stream, named within a log group (AWS Batch writes a job's streams in /aws/batch/job unless
 * its definition names another group).
 *
 * Writes go through one writer thread with a queue and group commit: logstore_append copies the
 * events into the queue and returns at once; logstore_wait blocks until they are committed.
 * Reads (logstore_get, logstore_streams, logstore_filter) run on the caller's thread on a
 * read-only connection from a pool, beside the writer (WAL mode).  Every function may be called
 * from any thread.
 *
 * Groups are records of their own: a group exists once it is made, by logstore_create_group or
 * by the first stream made in it, and lists with its creation time.  Writes take only group
 * names that logstore_group_name_valid accepts (asserted): callers check names that come from
 * outside.  The store knows nothing of jobs: which group a job writes to is its caller's
 * business.
 *
 * Within a stream, events are ordered by (timestamp, arrival), as CloudWatch Logs orders them.
 * Paging tokens are "f/POSITION" (events after POSITION) and "b/POSITION" (events before it),
 * a position being the timestamp and the event's rank among those of its millisecond, so that
 * another store holding the same events (a standby's) reads a token alike
 * (logstore_internal.h). */
#ifndef BARGE_LOGSTORE_H
#define BARGE_LOGSTORE_H
#include <stddef.h>
#include <stdint.h>

/* The log group AWS Batch writes job logs to when a job definition names none. */
#define LOGSTORE_BATCH_GROUP "/aws/batch/job"

/* CloudWatch Logs' naming rules: a group name is 1 to 512 characters of [.-_/#A-Za-z0-9]; a
 * stream name 1 to 512 characters, none of them ':' or '*'.  1 when name follows them. */
#define LOGSTORE_NAME_MAX 512
int logstore_group_name_valid(const char *name);
int logstore_stream_name_valid(const char *name);

/* Defaults and limits of the reads, as CloudWatch Logs has them. */
#define LOGSTORE_MAX_EVENTS 10000
#define LOGSTORE_MAX_BYTES (1024 * 1024) /* per answer, counting 26 bytes per event */
#define LOGSTORE_EVENT_OVERHEAD 26
#define LOGSTORE_MAX_STREAMS 50 /* per DescribeLogStreams page */
#define LOGSTORE_MAX_GROUPS 50  /* per DescribeLogGroups page */
/* What one FilterLogEvents call may examine, matched or not: so many events, for so long.  A
 * call that runs out answers with the events found so far (perhaps none) and a nextToken to go
 * on, as CloudWatch does, so no pattern makes one call read the whole store. */
#define LOGSTORE_SCAN_EVENTS 50000
#define LOGSTORE_SCAN_MS 100

/* Return codes of the reads. */
enum { LOGSTORE_OK = 0, LOGSTORE_NOT_FOUND = -1, LOGSTORE_INVALID = -2, LOGSTORE_FAILED = -3 };

typedef struct logstore logstore;

/* An event to append; message need not be NUL-terminated and may hold NUL bytes. */
typedef struct logstore_event {
    int64_t timestamp;
    const char *message;
    size_t len;
} logstore_event;

/* An event read back.  stream and id are set by logstore_filter only. */
typedef struct logstore_record {
    int64_t timestamp, ingestion_time, id;
    char *message;
    size_t len;
    char *stream;
} logstore_record;

typedef struct logstore_page {
    logstore_record *events;
    size_t n;
    char forward[48], backward[48]; /* logstore_get: nextForwardToken, nextBackwardToken */
    char *next;                     /* logstore_filter: nextToken, NULL when nothing remains */
} logstore_page;

/* A time range: has_start / has_end say whether start / end apply.  Events with
 * start <= timestamp < end are in it. */
typedef struct logstore_range {
    int has_start, has_end;
    int64_t start, end;
} logstore_range;

typedef struct logstore_get_query {
    const char *group, *stream;
    logstore_range range;
    int start_from_head;
    const char *token; /* NULL for the first page */
    int limit;         /* 0 means LOGSTORE_MAX_EVENTS */
    size_t max_bytes;  /* 0 means LOGSTORE_MAX_BYTES */
} logstore_get_query;

typedef struct logstore_filter_query {
    const char *group;
    const char *const *streams; /* n_streams names, or NULL */
    size_t n_streams;
    const char *prefix;  /* stream name prefix, or NULL */
    logstore_range range;
    const char *pattern; /* see logstore_filter; NULL or "" matches every event */
    int newest_first;    /* CloudWatch's startFromHead false */
    const char *token;
    int limit;
    size_t max_bytes;
    int scan_events; /* 0 means LOGSTORE_SCAN_EVENTS */
    int scan_ms;     /* 0 means LOGSTORE_SCAN_MS */
} logstore_filter_query;

typedef struct logstore_stream_info {
    char *name;
    int64_t creation_time, first_timestamp, last_timestamp, last_ingestion_time;
    int64_t events, stored_bytes; /* the timestamps are meaningful only when events > 0 */
} logstore_stream_info;

typedef struct logstore_streams_query {
    const char *group;
    const char *prefix;      /* NULL for every stream */
    int by_last_event_time;  /* else by name */
    int descending;
    int limit;               /* 0 means LOGSTORE_MAX_STREAMS */
    const char *token;
} logstore_streams_query;

typedef struct logstore_stream_list {
    logstore_stream_info *items;
    size_t n;
    char *next; /* NULL when nothing remains */
} logstore_stream_list;

/* DescribeLogGroups: groups by name, those whose name starts with prefix and holds pattern
 * (case-insensitive), each given once. */
typedef struct logstore_groups_query {
    const char *prefix;  /* NULL for every group */
    const char *pattern; /* NULL for every group */
    int limit;           /* 0 means LOGSTORE_MAX_GROUPS */
    const char *token;
} logstore_groups_query;

typedef struct logstore_group_summary {
    char *name;
    int64_t creation_time, stored_bytes;
    int retention_days; /* 0: events are kept for ever */
} logstore_group_summary;

typedef struct logstore_group_list {
    logstore_group_summary *items;
    size_t n;
    char *next; /* NULL when nothing remains */
} logstore_group_list;

/* A copy of what the store writes, kept elsewhere: the shared PostgreSQL store, so that the
 * next server to lead has the lines this one received (docs/operations.md).  An item is a group
 * made (stream NULL), a stream made (n 0), events of a stream, or (drop) a stream deleted with
 * its events (with stream NULL, a group deleted with its streams); group is the stream's own
 * group also for logstore_append_by_name's events.  Two more have an op of their own:
 * LOGSTORE_COPY_RETAIN, a group's retention set to arg days (0: none; stream NULL), and
 * LOGSTORE_COPY_TRIM, a stream's events older than arg (ms since the epoch) let go; and
 * LOGSTORE_COPY_TAGS, a group's tags after a change, as a JSON object in the item's one event. */
enum { LOGSTORE_COPY_RETAIN = 'r', LOGSTORE_COPY_TRIM = 't', LOGSTORE_COPY_TAGS = 'a' };
typedef struct logstore_copy_item {
    const char *group, *stream;
    const logstore_event *ev;
    size_t n;
    int drop;
    int op;      /* 0, or LOGSTORE_COPY_RETAIN or LOGSTORE_COPY_TRIM */
    int64_t arg; /* the op's days or time */
} logstore_copy_item;
/* Keeps items in the copy, in one transaction; returns the copy's position after them (> 0), or
 * -1 when they could not be kept there (the batch then fails here too, and its callers are told
 * so).  Runs on the writer thread. */
typedef int64_t (*logstore_copy_fn)(void *ctx, const logstore_copy_item *items, size_t n);
/* From the next batch on, every batch is copied first, and the position it returns recorded
 * with the batch (fn NULL: no more).  Returns once a batch in progress has ended. */
void logstore_set_copy(logstore *ls, logstore_copy_fn fn, void *ctx);
/* The copy's position up to which this store holds what was copied (its own copies and
 * imports): 0 when none; -1 on a read error. */
int64_t logstore_copied(logstore *ls);
/* Writes items read back from the copy, up to its position pos, without copying them again;
 * returns a ticket for logstore_wait. */
uint64_t logstore_import(logstore *ls, const logstore_copy_item *items, size_t n, int64_t pos);

/* Why the store takes no more writes until the server starts again (its file damaged, or
 * removed or replaced under the server: logstore_aside.c), or NULL.  Any thread. */
const char *logstore_broken(logstore *ls);
/* DIR/logs-kept.jsonl, where logstore_keep_aside appends. */
const char *logstore_kept_path(logstore *ls);
/* Appends n events of the stream to that file, flushed; 0, or -1 (said in the log). */
int logstore_keep_aside(logstore *ls, const char *stream, const logstore_event *ev, size_t n);

/* Opens (creating if needed) DIR/logs.db and starts the writer.  NULL with *err on failure. */
logstore *logstore_open(const char *dir, char **err);
/* Commits everything queued, stops the writer and closes every connection.  Accepts NULL. */
void logstore_close(logstore *ls);

/* Queues n events for the stream (created, empty, when n is 0 and it does not exist yet) and
 * returns a ticket for logstore_wait.  The events are copied; the ingestion time is now.  Blocks
 * only while the queue holds more than its limit (64 MiB), so a flood of logs slows its senders
 * rather than growing the server without bound. */
uint64_t logstore_append(logstore *ls, const char *group, const char *stream,
                         const logstore_event *ev, size_t n);
/* Like logstore_append, for a caller that knows a stream by its name alone (an agent, which is
 * told the stream's name and not its group): the events go to the stream of that name made
 * last, whichever its group; when no group holds one, it is made in fallback_group.  The
 * stream is looked up when the events are written, after every earlier call, so a stream that
 * an earlier logstore_create_stream made is always found. */
uint64_t logstore_append_by_name(logstore *ls, const char *fallback_group, const char *stream,
                                 const logstore_event *ev, size_t n);
/* Queues the making of a group, if it does not exist yet, and returns a ticket for
 * logstore_wait.  Its creation time is now. */
uint64_t logstore_create_group(logstore *ls, const char *group);
/* Waits until the append with this ticket (and every earlier one) is committed.  Returns 0, or
 * -1 when its commit failed (the events are lost; the error is in the server log). */
int logstore_wait(logstore *ls, uint64_t ticket);
/* Whether the writer is past the request with this ticket (committed or failed), without
 * waiting: 1 or 0. */
int logstore_passed(logstore *ls, uint64_t ticket);
/* Creates an empty stream, and its group, if they do not exist (a job's stream exists from the
 * moment its attempt starts, so reading it before its first line is not an error). */
void logstore_create_stream(logstore *ls, const char *group, const char *stream);

/* Queues the deletion of a stream and all its events (a job's log once the job is let go,
 * model/retention.h); nothing happens when it does not exist.  The writer deletes its events a
 * few thousand per batch, so that appends queued behind a large deletion wait one batch, not
 * the whole deletion; the pages they held are given back to the file system.  The ticket is
 * committed with the first batch, which takes the stream from every lookup (logstore_drop.c);
 * a stream made again under the name after it is another.  A later batch that fails is tried
 * again with the next item queued (on an idle store, the next hourly retention pass at the
 * latest); one a stop cut short, at the next open. */
uint64_t logstore_delete_stream(logstore *ls, const char *group, const char *stream);

/* The same for a group: its streams and their events, then the group (DeleteLogGroup).  A stream
 * written to meanwhile goes with it; one written after is made again, in a group made again. */
uint64_t logstore_delete_group(logstore *ls, const char *group);

/* CloudWatch Logs' retention (PutRetentionPolicy): a group's events older than so many days
 * go, those of every stream, by their timestamps; the streams stay, emptied.  The days are one
 * of CloudWatch's values (logstore_retention_days_valid); 0 keeps events for ever.  The group
 * must exist; nothing happens otherwise. */
int logstore_retention_days_valid(int64_t days);
uint64_t logstore_set_retention(logstore *ls, const char *group, int days);
/* Starts a pass over every stream that lets go of the events past their group's retention,
 * as of now, a slice of streams and a few thousand events per writer batch (so that appends
 * wait one slice at most); each stream's deletion is copied as a LOGSTORE_COPY_TRIM.  A pass
 * asked for while one runs starts again once it ends (so a retention just set is applied).
 * The leader asks every hour (model/retention.c) and after each PutRetentionPolicy; a standby
 * lets go of what the copy tells it. */
void logstore_expire(logstore *ls);
/* Passes started and passes ended (tests wait for a pass with them). */
void logstore_expire_counts(logstore *ls, uint64_t *started, uint64_t *ended);

/* A group's tags (CreateLogGroup's, TagResource, UntagResource): patch is a JSON object whose
 * string members set tags and whose null members remove them (a JSON merge patch, RFC 7396),
 * applied in queue order, so that changes made at once all count; nothing happens when the
 * group does not exist.  The caller checks the patch (logstore does not).  A group made again
 * after a deletion starts without tags. */
uint64_t logstore_tag_group(logstore *ls, const char *group, const char *patch);
/* The group's tags as a JSON object's text in *json (malloc'd; "{}" for none): LOGSTORE_OK,
 * LOGSTORE_NOT_FOUND, or LOGSTORE_FAILED (written to the server log). */
int logstore_group_tags(logstore *ls, const char *group, char **json);

/* 1 if the stream exists (committed), 0 if not, -1 on a read error. */
int logstore_stream_exists(logstore *ls, const char *group, const char *stream);
/* Whether a group exists, without summing what it stores: LOGSTORE_OK, LOGSTORE_NOT_FOUND, or
 * LOGSTORE_FAILED (written to the server log). */
int logstore_group_exists(logstore *ls, const char *group);
/* A group's creation time, the bytes stored in it and its retention in days (0: none; NULL
 * when not wanted): LOGSTORE_OK, LOGSTORE_NOT_FOUND when the group does not exist, or
 * LOGSTORE_FAILED on a read error (written to the server log). */
int logstore_group_info(logstore *ls, const char *group, int64_t *creation_time,
                        int64_t *stored_bytes, int *retention_days);

/* GetLogEvents.  Returns LOGSTORE_OK and fills *out; LOGSTORE_NOT_FOUND for an unknown stream,
 * LOGSTORE_INVALID for a token this store did not issue, LOGSTORE_FAILED on a read error; *err
 * then holds a sentence (free it).  At the end of a stream the forward token is the one passed
 * in, which is how clients know to stop. */
int logstore_get(logstore *ls, const logstore_get_query *q, logstore_page *out, char **err);
/* FilterLogEvents, across the streams of a group in (timestamp, arrival) order, or the reverse
 * with newest_first (a token goes on in the order it was issued in; the other order's token is
 * LOGSTORE_INVALID), within the query's scan budget: out->next is set whenever events may
 * remain, also on a page that holds none.  Its range's end is included (GetLogEvents'
 * is not).  The pattern is a subset of CloudWatch's: space-separated terms that must all
 * appear, "quoted phrases", -term for a term that must not appear, and ?term groups (each ?term
 * and the plain terms after it; one group must appear whole), case-sensitive substrings; or a
 * %regular expression% alone.  JSON ({ $.x = 1 }) and space-delimited ([a, b]) patterns, and
 * regular expressions CloudWatch or POSIX would not take, give LOGSTORE_INVALID. */
int logstore_filter(logstore *ls, const logstore_filter_query *q, logstore_page *out,
                    char **err);
void logstore_page_free(logstore_page *p);

/* DescribeLogStreams. */
int logstore_streams(logstore *ls, const logstore_streams_query *q, logstore_stream_list *out,
                     char **err);
void logstore_stream_list_free(logstore_stream_list *l);

/* DescribeLogGroups.  LOGSTORE_INVALID for a token this listing did not issue. */
int logstore_groups(logstore *ls, const logstore_groups_query *q, logstore_group_list *out,
                    char **err);
void logstore_group_list_free(logstore_group_list *l);
#endif
