/* events — job state change events, as AWS Batch sends them to EventBridge (`source: aws.batch`,
 * `detail-type: Batch Job State Change`, `detail`: the job's description), kept in order and
 * durably, for streams (GET /barge/v1/events, Server-Sent Events), long polls and webhooks to
 * read from (api/api_events.c).
 *
 * Every change of a job's status makes one, but the submission itself (AWS makes none for it).
 * Each has a sequence number, one after the other for the whole server: a reader resumes after
 * the last one it saw (SSE's Last-Event-ID), across disconnects and restarts.  The events of a
 * batch are written in store records ("zevt", up to 128 events each, keyed by the first one's
 * number) inside the batch's transaction, so they are as durable as the changes they tell of and
 * cost a write per group commit (or per 128 events), not one per event.  The last `kept` (the
 * server's --events-kept) are kept, in memory and in the store; older ones are let go (a reader
 * that fell that far behind is told so).
 *
 * An event records the job, its status and when; its detail is the job's description made when
 * it is read, with that status (what else changed in the same batch shows with it).  Runs on the
 * core thread. */
#ifndef BARGE_EVENTS_H
#define BARGE_EVENTS_H
#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>

#include "common/mem.h"

#include "server/model/job.h"

struct state;
struct core_call;

/* An event's text is kept for the newest this many: readers that follow read them there, and
 * the texts of every kept event would hold a few hundred MiB.  A reader further behind gets the
 * older ones described again, as the job is when it reads them, made for it alone and not kept
 * (so one slow reader does not make the server hold them all). */
#define EVENTS_TEXT_KEPT 10000

/* An event's JSON text: made once, and shared by the ring (the newest EVENTS_TEXT_KEPT) and the
 * answers that carry it to readers (api/event_answer.h), which are written out by other threads
 * and may outlive the ring's hold on it.  Freed with its last reference; never changed once
 * made, so any thread may read it. */
typedef struct event_text {
    atomic_uint refs;
    uint32_t len;
    char data[]; /* len bytes and a NUL */
} event_text;

/* An event's text is written into b after event_text_begin (which leaves room for the header)
 * and taken from it by event_text_end, with one reference; b is left empty.  Written in place:
 * a text is a kilobyte or more, and copying it once more would cost its readers. */
void event_text_begin(buf *b);
event_text *event_text_end(buf *b);
/* Another reference to t (any thread); t. */
event_text *event_text_hold(event_text *t);
/* Lets one go (any thread); NULL is nothing. */
void event_text_drop(event_text *t);

typedef struct event_rec {
    uint64_t seq;
    int64_t at; /* epoch ms */
    job *j;
    uint8_t status;
    /* How many of the job's attempts had ended when it happened, so that an event read after
     * the job moved on describes it as it was (api/jobdesc.h, jobdesc_as_of); EVENTS_ENDED_UNKNOWN
     * for one read back from the store.  In what is padding. */
    uint16_t ended;
    /* How far back the same job's previous kept event is (0: none kept), so that a job's events
     * are found from its last_event without a scan (events_forget); in what is padding. */
    uint32_t prev;
    /* The event's text, made by its first reader and kept for the others (api/api_events.c):
     * however many follow closely, an event is described once. */
    event_text *text;
} event_rec;

#define EVENTS_ENDED_UNKNOWN UINT16_MAX

typedef struct events events;

/* A log that keeps the last `kept` events (at least 1). */
events *events_new(uint64_t kept);
void events_free(events *ev);

/* A job's status changed (to status). */
void events_note(events *ev, job *j, int status);
/* j is about to be freed: its kept events lose their job, and readers skip them as those of a
 * job that no longer exists.  Costs the job's own events, found through their links. */
void events_forget(events *ev, job *j);
/* Writes this batch's events, and deletes records all of whose events were let go; then answers
 * the waiting readers that have something new (their answers leave after the commit). */
void events_flush(struct state *st);
/* Reads the stored events (at start, after the jobs, which find gives by id). */
int events_load(struct state *st, job *(*find)(struct state *st, const char *id), char **err);

/* The seq of the newest event (0: none yet), and of the oldest kept. */
uint64_t events_last(const events *ev);
uint64_t events_first(const events *ev);
/* The kept event with seq, or NULL. */
event_rec *events_get(const events *ev, uint64_t seq);

/* A reader waiting for events after a seq: answered by events_flush (through fn) when one
 * comes, or by the caller's own timeout. */
typedef struct event_waiter {
    struct core_call *call;
    uint64_t after;
    /* The newest event wants() has looked at: each commit looks at the events since, not at
     * every event since after (a reader whose filter matched nothing cost each commit all the
     * events of its wait, and hundreds of them took most of the core). */
    uint64_t scanned;
    int64_t deadline; /* monotonic ms */
    /* Held until then (monotonic ms; 0: not held): a reader that asked to take what comes
     * meanwhile with what is there (GetEvents' holdMs). */
    int64_t not_before;
    uint64_t hold_id; /* its timer's: the waiter may be gone, its memory another's, by then */
    /* Whether the events since after hold one it wants; and its answer. */
    int (*wants)(struct state *st, struct event_waiter *w);
    void (*answer)(struct state *st, struct event_waiter *w);
    void *filter;
} event_waiter;
void events_wait(events *ev, event_waiter *w);
/* Loading again after a failed commit: the readers waiting on the old events wait on the new. */
void events_take_waiters(events *to, events *from);
/* Answers the waiters whose deadline passed, and (at stop) all of them. */
void events_expire(struct state *st, int all);
/* Holds w (whose events are there) until w->not_before, then answers it (a core timer). */
void events_hold(struct state *st, event_waiter *w);
#endif
