/* api_events — reading the job state change events (model/events.h): GetEvents, a long poll
 * (POST /barge/v1/getevents, what `barge events` and the webhooks use), and the same as a stream
 * of Server-Sent Events (GET /barge/v1/events, http_sse.c).
 *
 * A request names where to start (after: the last seq seen; absent: from now on), and may keep
 * to one queue and some statuses.  The answer carries the events in order, each as EventBridge
 * delivers AWS Batch's (the job's description as its detail, with the status the event is
 * about), and lastSeq, where the next request starts (past events the filters skipped).  With
 * wait, a request that finds nothing waits that many seconds for an event it wants.  A request
 * that starts before the oldest event kept is told so (gap) and starts there; one that starts
 * past the newest event (ahead: the reader's numbers are from before the data directory was
 * made anew, or from another server) is told so and starts from now on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/mem.h"
#include "common/util.h"
#include "server/api/api.h"
#include "server/api/event_answer.h"
#include "server/api/jobdesc.h"
#include "server/base/core.h"
#include "server/model/arn.h"
#include "server/model/config.h"
#include "server/model/events.h"
#include "server/model/jobs.h"
#include "server/model/jobspec.h"
#include "server/model/resource.h"
#include "server/model/state.h"

#define MAX_DEFAULT 100
/* What an answer may hold a wanted event, in bytes, and a stream's at most in all (collect). */
#define ANSWER_BYTES_PER_EVENT 2048
#define ANSWER_BYTES_MAX (1024 * 1024)
/* Events an answer describes for its reader alone (older than the kept texts), at most. */
#define ALONE_MAX 100

typedef struct filter {
    char *queue;       /* NULL: every queue */
    unsigned statuses; /* bit per status; 0: every status */
    int max;
    int sse; /* the answer is the stream's text (http_sse.c), not JSON */
    /* An after past the newest event, as asked (0: none such); the answer says so, once. */
    uint64_t ahead;
    int from_now; /* no after was given: the reader has no position yet */
} filter;

static int matches(const filter *f, const event_rec *e)
{
    if (!e->j) return 0; /* a job that no longer exists */
    if (f->statuses && !(f->statuses >> e->status & 1u)) return 0;
    return !f->queue || strcmp(e->j->spec->queue, f->queue) == 0;
}

/* Appends v as 12 lowercase hex digits: the end of an event's id, a UUID as EventBridge's are. */
static void put_hex12(buf *b, uint64_t v)
{
    char h[12];
    for (int i = 11; i >= 0; i--, v >>= 4) h[i] = "0123456789abcdef"[v & 15];
    buf_append(b, h, sizeof h);
}

/* The last job whose description's rest (jobdesc.h) was made while collecting: a job's events
 * often come one after the other (STARTING then RUNNING, or an array's PENDING and its
 * children's RUNNABLE at submit), and are read in the same turn. */
typedef struct rest_cache {
    job *j;
    buf rest;
    /* The last event's time as written, to the second: events come thousands a second. */
    time_t secs;
    char when[UTIL_ISO_TIME_LEN];
} rest_cache;

/* The event's JSON text: one event as EventBridge delivers AWS Batch's, its detail the job's
 * description (jobdesc.h).  Written without printf: followers read every event, and this is
 * most of what following costs the core. */
/* What a description shows differently by status: waiting, STARTING, RUNNING, ended. */
static int stage_of(int status)
{
    return status == JS_STARTING ? 1 : status == JS_RUNNING ? 2 : job_status_done(status) ? 3 : 0;
}

static void event_make(state *st, const event_rec *e, rest_cache *rc, buf *b)
{
    /* What every event says alike, written once: account and region as JSON strings. */
    static char *account, *region;
    if (!account) {
        json_t *a = json_string(barge_cfg.account_id), *r = json_string(barge_cfg.region);
        account = json_dumps(a, JSON_ENCODE_ANY);
        region = json_dumps(r, JSON_ENCODE_ANY);
        json_decref(a);
        json_decref(r);
    }
    time_t secs = (time_t)(e->at / 1000);
    if (secs != rc->secs || !rc->when[0]) {
        util_iso_time(secs, rc->when);
        rc->secs = secs;
    }
    /* Read after the job moved on in a way its description shows (an attempt started, ran or
     * ended since: a reader that was behind): described as it was then, for this event alone;
     * else as it is, shared by the job's events read in this turn (a submit's PENDING and
     * RUNNABLE read together describe alike). */
    size_t ended = json_array_size(e->j->attempts);
    int moved = stage_of(jobs_shown_status(e->j)) != stage_of(e->status) ||
                (e->ended != EVENTS_ENDED_UNKNOWN && e->ended != ended);
    if (moved) {
        jobdesc_as_of as_of = {e->status, e->ended == EVENTS_ENDED_UNKNOWN ? -1 : e->ended};
        rc->rest.len = 0;
        jobdesc_event_rest(st, e->j, &as_of, &rc->rest);
        rc->j = NULL;
    } else if (rc->j != e->j) {
        rc->rest.len = 0;
        jobdesc_event_rest(st, e->j, NULL, &rc->rest);
        rc->j = e->j;
    }
    buf_reserve(b, rc->rest.len + 512);
    buf_puts(b, "{\"version\":\"0\",\"id\":\"");
    buf_puts(b, st->event_id_prefix);
    buf_puts(b, "-");
    put_hex12(b, e->seq);
    buf_puts(b, "\",\"detail-type\":\"Batch Job State Change\",\"source\":\"aws.batch\",\"account\":");
    buf_puts(b, account);
    buf_puts(b, ",\"time\":\"");
    buf_puts(b, rc->when);
    buf_puts(b, "\",\"region\":");
    buf_puts(b, region);
    /* Job ids need no escaping, nor the rest of an ARN (arn.h). */
    buf_puts(b, ",\"resources\":[\"");
    arn_put(b, ARN_JOB, e->j->id);
    buf_puts(b, "\"],\"detail\":");
    jobdesc_event_detail(st, e->j, e->status, rc->rest.data, rc->rest.len, b);
    buf_puts(b, "}");
}

/* The events after `after` that f wants, up to f->max, as an answer (event_answer.h): in
 * GetEvents' JSON ({"events": [{"seq", "event"}], "lastSeq", "gap"}), or with sse the stream's
 * own lines, which end with a comment saying how far it looked (": at SEQ"), where the next poll
 * starts.  The answer holds the events' texts; it copies none.
 *
 * An event's text is made by its first reader and kept for the others (events.h), for the
 * newest EVENTS_TEXT_KEPT events: a reader further behind has older ones made for it alone, so
 * that one slow reader cannot make the server hold the text of every event kept. */
static event_answer *collect(state *st, const filter *f, uint64_t after, uint64_t looked,
                             int sse)
{
    events *ev = st->events;
    /* From where the reader is, or past what a waiting reader already looked at and did not
     * want (wants): those events were seen while kept, so that they are no gap even when the
     * ring has let them go since. */
    uint64_t from = looked > after ? looked : after;
    int gap = from + 1 < events_first(ev) && events_last(ev) >= events_first(ev);
    uint64_t seq = gap ? events_first(ev) : from + 1, last = from;
    uint64_t kept_from = events_last(ev) > EVENTS_TEXT_KEPT ? events_last(ev) - EVENTS_TEXT_KEPT : 0;
    event_answer *a = event_answer_new(sse, (size_t)f->max);
    size_t bytes = 0;
    rest_cache rc = {0};
    /* An answer waits whole in memory until its reader takes it: about ANSWER_BYTES_PER_EVENT
     * a wanted event, and for a stream (whose polls are made for it, as many as there can be
     * streams) ANSWER_BYTES_MAX in all, however large the events are (at least one), bound
     * what a reader that never reads holds.  Old events are described for their reader
     * alone: ALONE_MAX of them bound what one that catches up costs the core a poll (400
     * streams from event 0 asking 1,000 each stalled the core for seconds), while a reader
     * that follows closely, whose events are shared, gets up to max: at 100 a poll a stream
     * fell behind a server making 40,000 events a second (each poll waits a batch's commit)
     * and lost most of them to the gap. */
    size_t budget = (size_t)f->max * ANSWER_BYTES_PER_EVENT;
    if (sse && budget > ANSWER_BYTES_MAX) budget = ANSWER_BYTES_MAX;
    int alone = 0;
    for (; seq <= events_last(ev) && a->n < (size_t)f->max && (!a->n || bytes < budget); seq++) {
        event_rec *e = events_get(ev, seq);
        if (e && !e->text && seq <= kept_from && alone == ALONE_MAX && matches(f, e)) break;
        last = seq;
        if (e && !e->j) a->removed++;
        if (!e || !matches(f, e)) continue;
        event_text *t = e->text;
        if (t) {
            event_text_hold(t);
        } else {
            buf scratch;
            event_text_begin(&scratch);
            event_make(st, e, &rc, &scratch);
            t = event_text_end(&scratch);
            alone += seq <= kept_from;
            if (seq > kept_from) e->text = event_text_hold(t);
        }
        event_answer_add(a, seq, t);
        bytes += t->len;
    }
    buf_free(&rc.rest);
    a->more = a->n && last < events_last(ev);
    if (!a->n && last < events_last(ev)) last = events_last(ev);
    a->last = last;
    a->gap = gap;
    a->ahead = f->ahead;
    if (gap && sse) {
        buf_puts(&a->head, "event: gap\ndata: {\"oldestSeq\":");
        buf_int(&a->head, (long long)events_first(ev));
        buf_puts(&a->head, "}\n\n");
    }
    if (f->ahead && sse) {
        buf_puts(&a->head, "event: ahead\ndata: {\"after\":");
        buf_int(&a->head, (long long)f->ahead);
        buf_puts(&a->head, ",\"newestSeq\":");
        buf_int(&a->head, (long long)after);
        buf_puts(&a->head, "}\n\n");
    }
    if (sse) {
        /* A position past the last event sent (events the filter passed over, a gap, the
         * newest looked at) is an id without data: EventSource takes it as its last event id
         * and fires nothing, so that a filtered stream's reconnection starts there, not at its
         * last wanted event, which may have left the kept range since (a false gap each time).
         * So is the position of a reader that had none (it started from now) or one past the
         * newest event (ahead): reconnecting, it would start from now again, and lose what
         * came meanwhile. */
        if (last > (a->n ? a->items[a->n - 1].seq : after) || (!a->n && (f->from_now ||
                                                                          f->ahead))) {
            buf_puts(&a->tail, "id: ");
            buf_int(&a->tail, (long long)last);
            buf_puts(&a->tail, "\n");
        }
        buf_puts(&a->tail, ": at ");
        buf_int(&a->tail, (long long)last);
        buf_puts(&a->tail, "\n\n");
        return a;
    }
    buf_puts(&a->head, "{\"events\":[");
    buf_puts(&a->tail, "],\"lastSeq\":");
    buf_int(&a->tail, (long long)last);
    if (gap) {
        buf_puts(&a->tail, ",\"gap\":{\"oldestSeq\":");
        buf_int(&a->tail, (long long)events_first(ev));
        buf_puts(&a->tail, "}");
    }
    if (f->ahead) {
        buf_puts(&a->tail, ",\"ahead\":{\"after\":");
        buf_int(&a->tail, (long long)f->ahead);
        buf_puts(&a->tail, ",\"newestSeq\":");
        buf_int(&a->tail, (long long)after);
        buf_puts(&a->tail, "}");
    }
    buf_puts(&a->tail, "}");
    return a;
}

static char *answer_text(void *a, size_t *len)
{
    return event_answer_text(a, len);
}

/* A stream's answers (http_sse.c, webhooks.c) go to their reader as they are. */
static const core_obj_ops answer_ops = {answer_text, event_answer_free};

/* Answers with what collect found: GetEvents' JSON as text, written here; a stream's as the
 * answer, written by the thread that sends it.  c's call, or (c NULL) the parked call. */
static void put_answer(api_ctx *c, core_call *parked, event_answer *a)
{
    if (a->sse) {
        if (c) {
            c->obj = a;
            c->obj_ops = &answer_ops;
        } else {
            core_reply_obj(parked, a, &answer_ops);
        }
        return;
    }
    size_t len;
    char *text = event_answer_text(a, &len);
    event_answer_free(a);
    if (c) {
        c->text = text;
        c->text_len = len;
    } else {
        core_reply_text(parked, text, len);
    }
}

static int wants(state *st, event_waiter *w)
{
    const filter *f = w->filter;
    uint64_t last = events_last(st->events);
    for (uint64_t seq = (w->scanned > w->after ? w->scanned : w->after) + 1; seq <= last; seq++) {
        const event_rec *e = events_get(st->events, seq);
        /* An event of a removed job is news too: the reader is told at once that it will
         * never have it (a webhook logs it, event_answer.removed), and moves past it. */
        if (e && (!e->j || matches(f, e))) return 1;
    }
    w->scanned = last;
    return 0;
}

static void free_filter(filter *f)
{
    if (!f) return;
    free(f->queue);
    free(f);
}

static void answer(state *st, event_waiter *w)
{
    filter *f = w->filter;
    /* Past where it has looked: from `after`, a burst that the ring let go of meanwhile was a
     * gap told to a reader that had missed nothing it asked for. */
    put_answer(NULL, w->call, collect(st, f, w->after, f->ahead ? 0 : w->scanned, f->sse));
    free_filter(f);
    free(w);
}

static int get_events(api_ctx *c, json_t *req, json_t **resp, int sse)
{
    filter *f = xcalloc(1, sizeof *f);
    const char *q = api_str(req, "queue");
    if (q) {
        f->queue = api_name_or_arn(c, q, ARN_JQ, "queue");
        if (!f->queue) {
            free_filter(f);
            return -1;
        }
        /* A queue deleted since still names the jobs it held, and their events are kept: a
         * stream or webhook that follows it reads them on (its last events are its jobs'
         * cancellations). */
        if (!res_jq(c->st, f->queue) && !dict_get(&c->st->jobs->queues, f->queue)) {
            api_client_error(c, "queue: no job queue named '%s'", f->queue);
            free_filter(f);
            return -1;
        }
    }
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(req, "status"), i, s) {
        int st = job_status_parse(json_string_value(s));
        if (st < 0 || st == JS_SUBMITTED) {
            free_filter(f);
            /* Not only requests reach here (their shape is checked first): a webhook's filter
             * does too, and its status may hold a number. */
            const char *given = json_string_value(s);
            return api_client_error(c, "status[%zu]: %s%.40s%s is not a status events are made "
                                       "for (PENDING, RUNNABLE, STARTING, RUNNING, SUCCEEDED "
                                       "or FAILED; none is made for a submission)", i,
                                    given ? "'" : "", given ? given : "a non-string",
                                    given ? "'" : "");
        }
        f->statuses |= 1u << st;
    }
    f->max = (int)api_int(req, "max", MAX_DEFAULT);
    f->sse = sse;
    /* Absent: from now on; and so for a number past the newest event (one kept from before
     * the data directory was made anew), rather than skipping every event up to it. */
    json_t *a = json_object_get(req, "after");
    if (a && json_integer_value(a) < 0) {
        free_filter(f);
        return api_client_error(c, "after: must be an event's id (0 or more), got %lld",
                                (long long)json_integer_value(a));
    }
    f->from_now = !a;
    uint64_t after = events_last(c->st->events);
    if (a && (uint64_t)json_integer_value(a) < after) after = (uint64_t)json_integer_value(a);
    /* Past the newest: a reader of this server's events before its data directory was made
     * anew, or of another server's.  Told so at once (ahead), as a gap is, rather than left to
     * wait, or to skip the events until the number it gave. */
    if (a && (uint64_t)json_integer_value(a) > after) f->ahead = (uint64_t)json_integer_value(a);
    json_int_t wait = api_int(req, "wait", 0);
    /* Whether anything is there for it now: what it wants, or a gap to be told of. */
    int gap = after + 1 < events_first(c->st->events) &&
              events_last(c->st->events) >= events_first(c->st->events);
    event_waiter probe = {.after = after, .filter = f};
    json_int_t hold = api_int(req, "holdMs", 0);
    int there = !gap && !f->ahead && wants(c->st, &probe);
    if (there && hold > 0 && wait > 0) {
        /* What is there waits holdMs for what comes meanwhile: one fuller answer rather than
         * one a commit (a stream under load took a few events an answer, a wake-up, a write
         * and a poll each). */
        event_waiter *w = xcalloc(1, sizeof *w);
        w->call = c->call;
        w->after = after;
        w->deadline = util_mono_ms() + wait * 1000;
        w->not_before = util_mono_ms() + hold;
        w->wants = wants;
        w->answer = answer;
        w->filter = f;
        events_hold(c->st, w);
        c->deferred = 1;
        return 0;
    }
    if (wait <= 0 || gap || f->ahead || there) {
        put_answer(c, NULL, collect(c->st, f, after, 0, f->sse));
        free_filter(f);
        return 0;
    }
    /* Nothing yet: wait for an event it wants, past the ones it does not. */
    event_waiter *w = xcalloc(1, sizeof *w);
    w->call = c->call;
    w->after = events_last(c->st->events);
    w->deadline = util_mono_ms() + wait * 1000;
    w->wants = wants;
    w->answer = answer;
    w->filter = f;
    events_wait(c->st->events, w);
    c->deferred = 1;
    return 0;
}

/* GetEvents' JSON answer. */
static int get_events_json(api_ctx *c, json_t *req, json_t **resp)
{
    return get_events(c, req, resp, 0);
}

/* The stream's text: what GET /barge/v1/events (http_sse.c) and the webhooks read.  A request
 * that reaches it is made by the server from a query string or a webhook's filter, never sent
 * whole by a client, so no client gets the stream's text from a POST. */
static int get_events_stream(api_ctx *c, json_t *req, json_t **resp)
{
    return get_events(c, req, resp, 1);
}

#define EVENTS_SHAPE \
    "{after:l, queue:s, status:[s], max:i(1.." API_STR(API_EVENTS_MAX) "), wait:i(0..60), " \
    "holdMs:i(0..1000)}"

api_op api_events_ops[] = {
    {"GetEvents", "POST", "/barge/v1/getevents", EVENTS_SHAPE, get_events_json, 0, NULL},
    /* The stream (http_sse.c): the same request, made from the query string. */
    {"GetEvents", "GET", "/barge/v1/events", EVENTS_SHAPE, get_events_stream, 0, NULL},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
