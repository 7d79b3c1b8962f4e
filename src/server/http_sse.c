/* http_sse — see http_sse.h. */
#include "server/http_sse.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/mem.h"
#include "common/util.h"
#include "server/api/event_answer.h"
#include "server/base/core.h"
#include "server/http_guard.h"

/* How long one poll of the stream waits for an event before writing a keep-alive comment. */
#define SSE_WAIT_S 15
/* Events a poll, as many as GetEvents gives: under load each poll waits for a batch's commit,
 * and at 100 a poll a stream fell behind the server's events and lost them to the gap.  A
 * stream's answer stays in memory until its client reads it, so a client that stops reading
 * holds one poll's worth, which api_events.c bounds by bytes (about 2 KiB an event, 1 MiB in
 * all).  With many streams open a poll asks for fewer, SSE_EVENTS_SHARED among them all but
 * never fewer than SSE_BATCH_MIN: what streams that never read hold together stays within
 * what it was at 100 a poll (4,000 connections of 200 KiB) while a few streams get 1,000. */
#define SSE_BATCH API_EVENTS_MAX
#define SSE_BATCH_MIN 100
#define SSE_EVENTS_SHARED 256000

/* The least time between two answers of a stream that has events waiting: fewer, fuller
 * answers under load, at most this much later; an event after a quiet spell goes at once. */
#define SSE_PACE_MS 20

/* Streams open now (any thread). */
static atomic_int open_streams;

/* What a poll asks for, with `more` streams about to open besides those open (a stream's
 * first poll is made before it starts). */
static int poll_max(int more)
{
    int n = atomic_load(&open_streams) + more, max = n > 0 ? SSE_EVENTS_SHARED / n : SSE_BATCH;
    return max > SSE_BATCH ? SSE_BATCH : max < SSE_BATCH_MIN ? SSE_BATCH_MIN : max;
}

typedef struct sse {
    core_call call; /* first member: the core hands it back to done() */
    struct MHD_Connection *conn;
    const api_op *op;
    const auth_principal *who; /* held by http_server.c's request until the connection ends */
    json_t *req; /* the request each poll starts from; "after" moves on */
    pthread_mutex_t mu;
    buf out; /* written, not yet read by libmicrohttpd */
    size_t off;
    /* A poll's answer, read after out: written straight from the events' texts into
     * libmicrohttpd's buffer (event_answer.h). */
    event_answer *ans;
    int unread;    /* ans is a new answer, not yet begun */
    int polling;   /* a poll is with the core */
    int suspended; /* the connection waits for it */
    int closed;    /* libmicrohttpd is done with the stream: the last one out frees it */
    int64_t answered_at; /* monotonic ms of the last poll's answer */
    int more;            /* a limit cut the last answer short: the next poll is not held */
    int gone;            /* its client has left (http_guard_watch): the stream ends */
} sse;

static void sse_free_now(sse *s)
{
    atomic_fetch_sub(&open_streams, 1);
    json_decref(s->req);
    buf_free(&s->out);
    event_answer_free(s->ans);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

long long http_sse_resume_at(const char *text, size_t len)
{
    /* The comment is the answer's last line: looked for from the end, not through the events. */
    for (size_t i = len; i-- > 0;)
        if ((i == 0 || text[i - 1] == '\n') && len - i >= 5 && memcmp(text + i, ": at ", 5) == 0)
            return strtoll(text + i + 5, NULL, 10);
    return -1;
}

/* The first poll's answer, made before the stream started (as text: http_server.c flattens
 * it), which ends with a comment saying where the next poll starts (": at SEQ").  The later
 * polls' answers are objects (take_answer). */
static void write_answer(sse *s, const char *text, size_t len)
{
    buf_append(&s->out, text, len);
    long long at = http_sse_resume_at(text, len);
    if (at >= 0) json_object_set_new(s->req, "after", json_integer(at));
    json_object_set_new(s->req, "wait", json_integer(SSE_WAIT_S));
}

/* What a later poll brought: its answer, read as it is written out (polls are made only once
 * the last answer is all written, so there is none before it).  mu held. */
static void take_answer(sse *s, event_answer *a)
{
    event_answer_free(s->ans);
    s->ans = a;
    s->unread = 1;
    s->more = a->more;
    json_object_set_new(s->req, "after", json_integer((json_int_t)a->last));
    json_object_set_new(s->req, "wait", json_integer(SSE_WAIT_S));
}

/* Runs on the core thread once the poll's answer is durable. */
static void poll_done(core_call *call)
{
    sse *s = (sse *)call;
    pthread_mutex_lock(&s->mu);
    s->polling = 0;
    s->answered_at = util_mono_ms();
    if (s->call.status == 200 && s->call.obj) {
        take_answer(s, s->call.obj);
        s->call.obj = NULL;
    } else {
        /* The server is stopping (or could not answer): the stream ends here. */
        s->closed |= 2;
    }
    free(s->call.body);
    s->call.body = NULL;
    if (s->closed & 1) {
        pthread_mutex_unlock(&s->mu);
        sse_free_now(s);
        return;
    }
    /* Resumed outside the lock: libmicrohttpd may take locks of its own to do it, and the
     * stream is not freed while its connection is suspended. */
    int resume = s->suspended;
    s->suspended = 0;
    struct MHD_Connection *conn = s->conn;
    pthread_mutex_unlock(&s->mu);
    if (resume) MHD_resume_connection(conn);
}

/* The sweeper found the client gone: a suspended stream is resumed to end (a poll still with
 * the core ends on its own and frees what is left). */
static void client_gone(void *arg)
{
    sse *s = arg;
    pthread_mutex_lock(&s->mu);
    s->gone = 1;
    int resume = s->suspended;
    s->suspended = 0;
    struct MHD_Connection *conn = s->conn;
    pthread_mutex_unlock(&s->mu);
    if (resume) MHD_resume_connection(conn);
}

/* libmicrohttpd asks for the next bytes of the stream. */
static ssize_t sse_read(void *cls, uint64_t pos, char *out, size_t max)
{
    sse *s = cls;
    pthread_mutex_lock(&s->mu);
    if (s->gone) {
        pthread_mutex_unlock(&s->mu);
        /* libmicrohttpd 0.9.75 marks the connection closed here but frees it (its socket, and
         * its place under --max-connections-per-address) only once it reaches the tail of the
         * timeout list, behind every older connection still open: a stream resumed to end
         * this way held its place until the idle timeout.  A timeout of its own puts it on the
         * list that is looked at whole each turn, and wakes the loop for it within a second. */
        MHD_set_connection_option(s->conn, MHD_CONNECTION_OPTION_TIMEOUT, 1u);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (s->off < s->out.len) {
        size_t n = s->out.len - s->off < max ? s->out.len - s->off : max;
        memcpy(out, s->out.data + s->off, n);
        s->off += n;
        if (s->off == s->out.len) s->off = s->out.len = 0;
        pthread_mutex_unlock(&s->mu);
        return (ssize_t)n;
    }
    /* Each answer goes out, and each poll is made, only while the stream's key still allows
     * it: removed or changed by a reload, its credentials revoked or expired, or its policies
     * no longer allowing it, the stream ends, and the client's next request is refused with a
     * reason. */
    if ((s->unread || (!s->ans && !s->polling && !(s->closed & 2))) &&
        auth_still_allowed(s->who, s->op->name, s->req, time(NULL)) < 0) {
        event_answer_free(s->ans);
        s->ans = NULL;
        s->unread = 0;
        s->closed |= 2;
        buf_puts(&s->out, ": the key this stream was opened with no longer allows it\n\n");
        pthread_mutex_unlock(&s->mu);
        return sse_read(cls, pos, out, max); /* that line, then the end */
    }
    s->unread = 0;
    if (s->ans) {
        size_t n = event_answer_read(s->ans, out, max);
        if (n) {
            pthread_mutex_unlock(&s->mu);
            return (ssize_t)n;
        }
        event_answer_free(s->ans);
        s->ans = NULL;
    }
    if (s->closed & 2) {
        pthread_mutex_unlock(&s->mu);
        /* The connection may serve another request: no longer this stream's to watch. */
        http_guard_unwatch(s->conn);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    if (!s->polling) {
        s->polling = 1;
        s->call = (core_call){.run = api_run, .arg = s->op, .req = json_deep_copy(s->req),
                              .done = poll_done};
        json_object_set_new(s->call.req, "max", json_integer(poll_max(0)));
        /* Asked again within SSE_PACE_MS of its last answer (under load, after every commit),
         * a poll waits out the rest of that time for what comes meanwhile; not when that
         * answer was cut short: a stream 50,000 events behind the newest 10,000 gets a
         * hundred of them a poll (api_events.c), and held each time it caught up at 5,000
         * events a second. */
        int64_t since = util_mono_ms() - s->answered_at;
        if (since < SSE_PACE_MS && !s->more)
            json_object_set_new(s->call.req, "holdMs", json_integer(SSE_PACE_MS - since));
        /* Suspended first: the answer may come before this returns. */
        s->suspended = 1;
        MHD_suspend_connection(s->conn);
        pthread_mutex_unlock(&s->mu);
        core_submit(&s->call);
        return 0;
    }
    s->suspended = 1;
    MHD_suspend_connection(s->conn);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* libmicrohttpd is done with the stream (the client left, or the server stops). */
static void sse_done(void *cls)
{
    sse *s = cls;
    http_guard_unwatch(s->conn); /* before s may go */
    pthread_mutex_lock(&s->mu);
    s->closed |= 1;
    int polling = s->polling;
    pthread_mutex_unlock(&s->mu);
    if (!polling) sse_free_now(s);
}

void http_sse_arg(http_sse_query *q, const char *key, const char *value)
{
    if (!q->status) q->status = json_array();
    if (!value) value = "";
    if (q->bad) return;
    if (strcmp(key, "queue") == 0 || strcmp(key, "after") == 0) {
        /* Given twice, one would be dropped unseen: which is the client's mistake to mend. */
        const char **slot = key[0] == 'q' ? &q->queue : &q->after;
        if (*slot)
            q->bad = key[0] == 'q' ? "queue: given twice; the stream follows one queue (leave it "
                                     "out for every queue)"
                                   : "after: given twice; give one event's id";
        *slot = value;
    } else if (strcmp(key, "status") == 0) {
        /* status=A,B (or status=A&status=B): any of them.  An empty name would be left out of
         * the filter, and an empty filter widens the stream to every status. */
        const char *p = value;
        for (;;) {
            size_t n = strcspn(p, ",");
            if (n == 0) {
                q->bad = "status: an empty status; name one or more of PENDING, RUNNABLE, "
                         "STARTING, RUNNING, SUCCEEDED and FAILED, separated by commas (leave "
                         "status out for every status)";
                return;
            }
            /* A status JSON cannot hold would be left out of the filter, as would an empty
             * one. */
            json_t *v = json_stringn(p, n);
            if (!v) {
                q->bad = "status: not UTF-8 text, so no status";
                return;
            }
            json_array_append_new(q->status, v);
            if (!p[n]) break;
            p += n + 1;
        }
    } else {
        /* Named, as far as it can be shown (a key is the client's text: cut, made UTF-8); the
         * sentence lives until this thread's next query, after the caller has answered. */
        static __thread char unknown[160];
        snprintf(unknown, sizeof unknown, "%.60s: not a parameter of the stream, which takes "
                 "queue, status and after", *key ? key : "(an empty name)");
        util_utf8_scrub(unknown);
        q->bad = unknown;
    }
}

/* An event's id: decimal digits only (strtoull would also take blanks and a sign before). */
static int parse_seq(const char *s, json_int_t *out)
{
    if (!isdigit((unsigned char)s[0])) return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno || v > (unsigned long long)INT64_MAX) return -1;
    *out = (json_int_t)v;
    return 0;
}

const char *http_sse_query_request(http_sse_query *q, const char *last_event_id, json_t **req)
{
    *req = json_pack("{s:i, s:i}", "wait", SSE_WAIT_S, "max", poll_max(1));
    if (json_array_size(q->status)) json_object_set(*req, "status", q->status);
    json_decref(q->status);
    q->status = NULL;
    json_t *queue = q->queue ? json_string(q->queue) : NULL;
    /* As for a status: a queue left out would widen the stream to every queue. */
    if (q->queue && !queue) return "queue: not UTF-8 text, so no queue's name";
    if (queue) json_object_set_new(*req, "queue", queue);
    /* Blanks around a header's value are not part of it (RFC 9110, 5.5). */
    char id[32] = "";
    if (last_event_id) {
        last_event_id += strspn(last_event_id, " \t");
        size_t n = strlen(last_event_id);
        while (n && (last_event_id[n - 1] == ' ' || last_event_id[n - 1] == '\t')) n--;
        /* Leading zeros are the number's still (?after= takes them): only its digits count
         * toward the copy's size. */
        while (n > 1 && last_event_id[0] == '0' && last_event_id[1] >= '0' &&
               last_event_id[1] <= '9') {
            last_event_id++;
            n--;
        }
        if (n >= sizeof id) return "Last-Event-ID: not an event's id (a number)";
        memcpy(id, last_event_id, n);
        id[n] = '\0';
        last_event_id = id;
    }
    const char *after = last_event_id ? last_event_id : q->after;
    json_int_t seq;
    /* A reconnection's Last-Event-ID goes before the URL's after, which must still be an
     * event's id: refused with a Last-Event-ID too, as without one, rather than dropped. */
    if (last_event_id && q->after && parse_seq(q->after, &seq) < 0)
        return "after: not an event's id (a number)";
    if (after && parse_seq(after, &seq) < 0)
        return last_event_id ? "Last-Event-ID: not an event's id (a number)"
                             : "after: not an event's id (a number)";
    /* Without either, the stream starts with the next event. */
    if (after) json_object_set_new(*req, "after", json_integer(seq));
    return q->bad;
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    http_sse_arg(cls, key, value);
    return MHD_YES;
}

const char *http_sse_request(struct MHD_Connection *conn, json_t **req)
{
    http_sse_query q = {0};
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_arg, &q);
    return http_sse_query_request(
        &q, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Last-Event-ID"), req);
}

enum MHD_Result http_sse_start(struct MHD_Connection *conn, const api_op *op, json_t *req,
                                const auth_principal *who, const char *first, size_t first_len)
{
    sse *s = xcalloc(1, sizeof *s);
    atomic_fetch_add(&open_streams, 1);
    s->conn = conn;
    s->op = op;
    s->who = who;
    s->req = req;
    pthread_mutex_init(&s->mu, NULL);
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, sse_read, s, sse_done);
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    /* The first poll's answer (made before the stream started, so that a bad request could
     * still be refused) fixes where the stream stands; the waits after it are long. */
    buf_printf(&s->out, "retry: 3000\n\n");
    write_answer(s, first, first_len);
    enum MHD_Result ret = MHD_queue_response(conn, 200, resp);
    MHD_destroy_response(resp);
    if (ret == MHD_YES) http_guard_watch(conn, client_gone, s);
    return ret;
}
