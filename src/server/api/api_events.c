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
 * come one after the other (PENDING then RUNNABLE at submit), and are read in the same turn. */
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
    if (rc->j != e->j) {
        rc->rest.len = 0;
        jobdesc_event_rest(st, e->j, &rc->rest);
        rc->j = e->j;
    }
    buf_reserve(b, rc->rest.len + 512);
    buf_puts(b, "{\"version\":\"0\",\"id\":\"00000000-0000-4000-8000-");
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

/* An event picked for an answer: its text, kept by the event (a close reader's) or owned here. */
typedef struct picked {
    uint64_t seq;
    const char *text;
    size_t len;
    char *owned;
} picked;

/* The events after `after` that f wants, up to f->max, as the answer's text: GetEvents' JSON
 * ({"events": [{"seq", "event"}], "lastSeq", "gap"}), or with sse the stream's own lines, which
 * end with a comment saying how far it looked (": at SEQ"), where the next poll starts.
 *
 * An event's text is made by its first reader and kept for the others (events.h), for the
 * newest EVENTS_TEXT_KEPT events: a reader further behind has older ones made for it alone, so
 * that one slow reader cannot make the server hold the text of every event kept.  The answer is
 * sized before it is written: it is tens of kilobytes to megabytes, grown by doubling it would
 * be copied over and over. */
static char *collect(state *st, const filter *f, uint64_t after, int sse, size_t *len)
{
    events *ev = st->events;
    int gap = after + 1 < events_first(ev) && events_last(ev) >= events_first(ev);
    uint64_t seq = gap ? events_first(ev) : after + 1, last = after;
    uint64_t kept_from = events_last(ev) > EVENTS_TEXT_KEPT ? events_last(ev) - EVENTS_TEXT_KEPT : 0;
    picked *pick = xmalloc((size_t)f->max * sizeof *pick);
    int n = 0;
    size_t bytes = 0;
    rest_cache rc = {0};
    buf scratch = {0};
    /* An answer waits whole in memory until its reader takes it: about ANSWER_BYTES_PER_EVENT
     * a wanted event, and for a stream (whose polls are made for it, as many as there can be
     * streams) ANSWER_BYTES_MAX in all, however large the events are (at least one), bound
     * what a reader that never reads holds.  Old events are described for their reader
     * alone: ALONE_MAX of them bound what one that catches up costs the core a poll (400
     * streams from event 0 asking 1,000 each stalled the core for seconds), while a reader
     * that follows closely, whose events are copied, gets up to max: at 100 a poll a stream
     * fell behind a server making 40,000 events a second (each poll waits a batch's commit)
     * and lost most of them to the gap. */
    size_t budget = (size_t)f->max * ANSWER_BYTES_PER_EVENT;
    if (sse && budget > ANSWER_BYTES_MAX) budget = ANSWER_BYTES_MAX;
    int alone = 0;
    for (; seq <= events_last(ev) && n < f->max && (!n || bytes < budget); seq++) {
        event_rec *e = events_get(ev, seq);
        if (e && !e->text && seq <= kept_from && alone == ALONE_MAX && matches(f, e)) break;
        last = seq;
        if (!e || !matches(f, e)) continue;
        picked *p = &pick[n++];
        p->seq = seq;
        p->owned = NULL;
        if (e->text) {
            p->text = e->text;
            p->len = e->text_len;
        } else {
            scratch = (buf){0};
            event_make(st, e, &rc, &scratch);
            alone += seq <= kept_from;
            if (seq > kept_from) {
                e->text = scratch.data;
                e->text_len = scratch.len;
            } else {
                p->owned = scratch.data;
            }
            p->text = scratch.data;
            p->len = scratch.len;
        }
        bytes += p->len;
    }
    buf_free(&rc.rest);
    if (!n && last < events_last(ev)) last = events_last(ev);
    buf out = {0};
    /* Each event's framing ("id: N\nevent: ...\ndata: " or {"seq":N,"event":...}) is under 64
     * bytes; the head and the tail under 128. */
    buf_reserve(&out, bytes + 64 * (size_t)n + 128);
    if (gap && sse) {
        buf_puts(&out, "event: gap\ndata: {\"oldestSeq\":");
        buf_int(&out, (long long)events_first(ev));
        buf_puts(&out, "}\n\n");
    }
    if (f->ahead && sse) {
        buf_puts(&out, "event: ahead\ndata: {\"after\":");
        buf_int(&out, (long long)f->ahead);
        buf_puts(&out, ",\"newestSeq\":");
        buf_int(&out, (long long)after);
        buf_puts(&out, "}\n\n");
    }
    if (!sse) buf_puts(&out, "{\"events\":[");
    for (int i = 0; i < n; i++) {
        picked *p = &pick[i];
        if (sse) {
            buf_puts(&out, "id: ");
            buf_int(&out, (long long)p->seq);
            buf_puts(&out, "\nevent: Batch Job State Change\ndata: ");
            buf_append(&out, p->text, p->len);
            buf_puts(&out, "\n\n");
        } else {
            buf_puts(&out, i ? ",{\"seq\":" : "{\"seq\":");
            buf_int(&out, (long long)p->seq);
            buf_puts(&out, ",\"event\":");
            buf_append(&out, p->text, p->len);
            buf_puts(&out, "}");
        }
        free(p->owned);
    }
    free(pick);
    if (sse) {
        buf_puts(&out, ": at ");
        buf_int(&out, (long long)last);
        buf_puts(&out, "\n\n");
    } else {
        buf_puts(&out, "],\"lastSeq\":");
        buf_int(&out, (long long)last);
        if (gap) {
            buf_puts(&out, ",\"gap\":{\"oldestSeq\":");
            buf_int(&out, (long long)events_first(ev));
            buf_puts(&out, "}");
        }
        if (f->ahead) {
            buf_puts(&out, ",\"ahead\":{\"after\":");
            buf_int(&out, (long long)f->ahead);
            buf_puts(&out, ",\"newestSeq\":");
            buf_int(&out, (long long)after);
            buf_puts(&out, "}");
        }
        buf_puts(&out, "}");
    }
    *len = out.len;
    return out.data;
}

static int wants(state *st, event_waiter *w)
{
    const filter *f = w->filter;
    for (uint64_t seq = w->after + 1; seq <= events_last(st->events); seq++) {
        const event_rec *e = events_get(st->events, seq);
        if (e && matches(f, e)) return 1;
    }
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
    size_t len;
    char *text = collect(st, f, w->after, f->sse, &len);
    core_reply_text(w->call, text, len);
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
        if (!res_jq(c->st, f->queue)) {
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
    if (wait <= 0 || gap || f->ahead || wants(c->st, &probe)) {
        c->text = collect(c->st, f, after, f->sse, &c->text_len);
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
    "{after:l, queue:s, status:[s], max:i(1.." API_STR(API_EVENTS_MAX) "), wait:i(0..60)}"

api_op api_events_ops[] = {
    {"GetEvents", "POST", "/barge/v1/getevents", EVENTS_SHAPE, get_events_json, 0, NULL},
    /* The stream (http_sse.c): the same request, made from the query string. */
    {"GetEvents", "GET", "/barge/v1/events", EVENTS_SHAPE, get_events_stream, 0, NULL},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
