/* webhooks — see webhooks.h. */
#include "server/webhooks.h"
#include "server/webhooks_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "common/httpc.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/api/event_answer.h"
#include "server/base/core.h"

#define DELIVERY_TIMEOUT_MS 10000
#define BACKOFF_MAX_S 60
#define POLL_WAIT_S 15
#define SAVE_EVERY_MS 1000
#define PACE_MS 20 /* the least time between two polls that found events (run) */
/* Tries of an event its target refuses (refused() below) before it is let go. */
#define REFUSED_TRIES 3

/* An event of the poll being delivered: its number and its JSON text (inside the poll's
 * answer), and the lane it goes by. */
struct event_ref {
    uint64_t seq;
    const char *data;
    size_t len;
    int lane;
};

/* With "parallel": N, one of N threads that deliver a poll's events together: each job's events
 * go by one lane (by a hash of the job), so a job's events arrive in order while N POSTs are in
 * flight at once. */
struct lane {
    target *x;
    sender s;
    pthread_t thread;
    int started;
    size_t *idx; /* this poll's events for it, in order: indexes into the target's evs */
    size_t n, cap;
    size_t done; /* delivered so far (written by the lane, read once it is idle again) */
    int busy;    /* has this poll's events to deliver (mu) */
};

static target *targets;
static size_t n_targets;
static atomic_int stopping;
static const api_op *poll_op;
static pthread_mutex_t nap_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t nap_cv = PTHREAD_COND_INITIALIZER;

int webhooks_read(const char *path)
{
    return webhooks__load(path, &targets, &n_targets);
}

/* Sleeps ms milliseconds unless the server stops; 1 when it does. */
static int nap_ms(long ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&nap_mu);
    while (!atomic_load(&stopping) &&
           pthread_cond_timedwait(&nap_cv, &nap_mu, &until) != ETIMEDOUT) {
    }
    pthread_mutex_unlock(&nap_mu);
    return atomic_load(&stopping);
}

/* Sleeps s seconds unless the server stops; 1 when it does. */
static int nap(int s)
{
    return nap_ms(s * 1000L);
}

/* Writes the position; the time of the try is kept either way, so that a file that cannot be
 * written is tried (and its error logged) at most once a second. */
static void save_cursor(target *x)
{
    x->saved_at = util_mono_ms();
    char *tmp = xasprintf("%s.tmp", x->cursor_path);
    FILE *f = fopen(tmp, "we");
    if (f) {
        fprintf(f, "%llu\n", (unsigned long long)x->cursor);
        if (fclose(f) == 0 && rename(tmp, x->cursor_path) == 0) {
            free(tmp);
            x->saved = x->cursor;
            return;
        }
    }
    log_error("webhooks: %s: cannot record where delivery stands in %s: %s", x->name,
              x->cursor_path, strerror(errno));
    free(tmp);
}

/* After a delivery: writes the position at once the first time after a start (until then the
 * file holds where the last start began: a server killed soon after each start sent everything
 * since the first start again, every time), then at most once a second (the file's replacement
 * cost more than a POST: most of the delivery thread's time, docs/performance.md). */
static void delivered(target *x)
{
    if (x->cursor == x->saved ||
        (x->delivery_saved && util_mono_ms() - x->saved_at < SAVE_EVERY_MS))
        return;
    save_cursor(x);
    x->delivery_saved = 1;
}

static int abandon(void *ctx)
{
    return atomic_load(&stopping);
}

/* The target's keyed HMAC-SHA256; NULL when OpenSSL cannot make it. */
static EVP_MAC_CTX *mac_new(const char *secret)
{
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
    EVP_MAC_free(hmac); /* the context keeps its own reference */
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    if (ctx && EVP_MAC_init(ctx, (const unsigned char *)secret, strlen(secret), params) != 1) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

/* A sender for the target (made before any thread runs: libcurl's global set-up is not
 * thread-safe); 0, or -1 after saying why. */
static int sender_init(target *x, sender *s)
{
    if (x->pipeline > 1) {
        char *err = NULL;
        s->pipe = h1pipe_new(x->url, "barge-webhooks", 5000, &err);
        if (!s->pipe) {
            log_error("webhooks: %s: %s; nothing is delivered to it", x->name, err);
            free(err);
            return -1;
        }
    } else {
        /* Only the status of a receiver's answer counts: its body, which could be of any
         * length, is not kept. */
        httpc_options o = {.connect_timeout_ms = 5000, .user_agent = "barge-webhooks",
                           .abandon = abandon, .discard_body = 1};
        s->http = httpc_new(&o);
        if (!s->http) return -1;
    }
    s->mac = mac_new(x->secret);
    if (!s->mac)
        log_error("webhooks: %s: OpenSSL cannot make HMAC-SHA256; nothing is delivered to it",
                  x->name);
    if (s->mac) return 0;
    httpc_free(s->http);
    h1pipe_free(s->pipe);
    s->http = NULL;
    s->pipe = NULL;
    return -1;
}

static void sender_free(sender *s)
{
    httpc_free(s->http);
    h1pipe_free(s->pipe);
    EVP_MAC_CTX_free(s->mac);
    s->http = NULL;
    s->pipe = NULL;
    s->mac = NULL;
}

static void sender_wake(sender *s)
{
    if (s->http) httpc_wake(s->http);
    if (s->pipe) h1pipe_wake(s->pipe);
}

/* body's signature as lowercase hex into hex (65 bytes); 0, or -1 when OpenSSL failed. */
static int sign(sender *s, const char *body, size_t len, char *hex)
{
    unsigned char mac[32];
    size_t mac_len = 0;
    /* Started again with the key it holds (no key given): a context duplicated an event, as
     * before, cost allocations and reference counts a few times the hashing of a 1.5 KB
     * event. */
    EVP_MAC_CTX *c = s->mac;
    int ok = EVP_MAC_init(c, NULL, 0, NULL) == 1 &&
             EVP_MAC_update(c, (const unsigned char *)body, len) == 1 &&
             EVP_MAC_final(c, mac, &mac_len, sizeof mac) == 1 && mac_len == sizeof mac;
    if (!ok) return -1;
    util_hex(mac, mac_len, hex);
    return 0;
}

/* Why a POST did not deliver, for the log, in a fresh string: the answer's status when one
 * came (a 302 and a 500 call for different fixes), and for a redirect where it pointed. */
static char *failure_of(sender *s, long status)
{
    if (!status) return xstrdup(s->pipe ? h1pipe_error(s->pipe) : httpc_error(s->http));
    if (status < 300 || status >= 400) return xasprintf("it answered HTTP %ld", status);
    /* Not followed: the signed event would go to a URL the operator never named. */
    char *location = s->http ? httpc_header_value(s->http, "Location") : NULL;
    char *shown = location ? webhooks__url_for_log(location) : NULL;
    char *why = xasprintf("it answered HTTP %ld, a redirect%s%.200s, which is not followed: "
                          "signed events go to the url configured only", status,
                          shown ? " to " : " without a Location", shown ? shown : "");
    free(shown);
    free(location);
    return why;
}

/* Whether an answer refuses the event itself rather than says the target cannot take it now:
 * a request it cannot read (400), too large (413), of a type (415) or content (422) it does
 * not take.  Tried again for ever, such an event held back every later one of its target for
 * good; EventBridge does not retry these at all.  Missing or wrong credentials (401, 403), a
 * wrong URL (404), throttling (429) and the server's errors (5xx) are the target's to fix and
 * are retried for ever. */
static int refused(long status)
{
    return status == 400 || status == 413 || status == 415 || status == 422;
}

/* An event's own header lines for a pipelined POST (h1pipe adds the rest) into out (at least
 * EVENT_HEAD_MAX bytes): its length. */
#define EVENT_HEAD_MAX 192
static size_t event_head(char *out, uint64_t seq, const char *hex)
{
    return (size_t)snprintf(out, EVENT_HEAD_MAX, "Content-Type: application/json\r\n"
                            "X-Barge-Event-Id: %llu\r\nX-Barge-Signature: sha256=%s\r\n",
                            (unsigned long long)seq, hex);
}

/* One POST of body through s: the answer's status, or 0 when none came. */
static long post(target *x, sender *s, uint64_t seq, int count, const char *hex, const char *body,
                 size_t len)
{
    if (s->pipe) {
        char head[EVENT_HEAD_MAX];
        h1pipe_req r = {.head = head, .head_len = event_head(head, seq, hex), .body = body,
                        .len = len};
        h1pipe_post(s->pipe, &r, 1, DELIVERY_TIMEOUT_MS);
        return r.status;
    }
    httpc_clear_headers(s->http);
    httpc_header(s->http, "Content-Type: application/json");
    httpc_header(s->http, "X-Barge-Event-Id: %llu", (unsigned long long)seq);
    if (x->batch > 1) httpc_header(s->http, "X-Barge-Event-Count: %d", count);
    httpc_header(s->http, "X-Barge-Signature: sha256=%s", hex);
    httpc_rc rc = httpc_post(s->http, x->url, body, len, DELIVERY_TIMEOUT_MS);
    return rc == HTTPC_OK ? httpc_status(s->http) : 0;
}

/* POSTs one event (its JSON text, len bytes), or with a batch an array of count events, the last
 * numbered seq, through s until it is delivered, or refused REFUSED_TRIES times (then let go
 * with an error in the log).  An event of a pipelined window that was not delivered comes with
 * its window's answer (status, 0 for none): the first such event of a window takes that answer
 * as its first try (failed: logged, and the back-off waited), and the others try again at once
 * (the target may be back by then) with a refusal counted.  0, or -1 when the server stops
 * first. */
static int deliver_from(target *x, sender *s, uint64_t seq, int count, const char *body,
                        size_t len, long window_status, int window_first)
{
    char hex[65];
    while (sign(s, body, len, hex) < 0) {
        /* Nothing unsigned goes out; the target waits as for one that is down. */
        log_error("webhooks: %s: signing event %llu failed; retrying in %d s", x->name,
                  (unsigned long long)seq, BACKOFF_MAX_S);
        if (nap(BACKOFF_MAX_S)) return -1;
    }
    int backoff = 1, failures = 0, refusals = !window_first && refused(window_status);
    int use_window = window_first;
    while (!atomic_load(&stopping)) {
        long status = use_window ? window_status : post(x, s, seq, count, hex, body, len);
        use_window = 0;
        if (status >= 200 && status < 300) {
            if (failures)
                log_info("webhooks: %s: event %llu delivered after %d failed tries", x->name,
                         (unsigned long long)seq, failures);
            return 0;
        }
        if (refused(status) && ++refusals == REFUSED_TRIES) {
            if (count > 1)
                log_error("webhooks: %s: %s refused the batch of %d events ending with event "
                          "%llu %d times (HTTP %ld); they are let go and delivery goes on with "
                          "the next%s", x->name, x->log_url, count, (unsigned long long)seq,
                          refusals, status,
                          status == 413 ? " (a smaller \"batch\" would fit)" : "");
            else
                log_error("webhooks: %s: %s refused event %llu %d times (HTTP %ld); it is let "
                          "go and delivery goes on with the next", x->name, x->log_url,
                          (unsigned long long)seq, refusals, status);
            return 0;
        }
        if (failures++ == 0 || backoff == BACKOFF_MAX_S) {
            char *why = failure_of(s, status);
            log_warn("webhooks: %s: delivering event %llu to %s failed (%s); retrying in %d s",
                     x->name, (unsigned long long)seq, x->log_url, why, backoff);
            free(why);
        }
        if (nap(backoff)) break;
        backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
    }
    return -1;
}

static int deliver(target *x, sender *s, uint64_t seq, int count, const char *body, size_t len)
{
    return deliver_from(x, s, seq, count, body, len, 0, 0);
}

/* A new target starts with the events after the newest there is now: asked without a filter,
 * so that a filter the server cannot take yet (a queue still to be made) loses nothing.  poll_op
 * is the stream's GetEvents (GET /barge/v1/events), whose answers are event_answer objects. */
static void start_now(target *x)
{
    while (!x->has_cursor && !atomic_load(&stopping)) {
        core_call call = {.run = api_run, .arg = poll_op, .req = json_object()};
        core_call_wait(&call);
        event_answer *a = call.status == 200 ? call.obj : NULL;
        if (a) {
            x->cursor = a->last;
            x->has_cursor = 1;
            save_cursor(x);
        }
        event_answer_free(call.obj);
        free(call.body);
        if (!a && nap(1)) return;
    }
}

/* Delivers a batch's array (n events, the last numbered last) and empties it. */
static int flush_batch(target *x, buf *arr, int *n, uint64_t last)
{
    buf_append(arr, "]", 1);
    int rc = deliver(x, &x->s, last, *n, arr->data, arr->len);
    arr->len = 0;
    *n = 0;
    if (rc == 0) {
        x->cursor = last;
        x->has_cursor = 1;
        delivered(x);
    }
    return rc;
}

/* A hash of an event's job (the "resources" ARN, which event texts carry near their start). */
static uint32_t job_hash(const char *data, size_t len)
{
    static const char key[] = "\"resources\":[\"";
    const char *p = memmem(data, len, key, sizeof key - 1);
    uint32_t h = 2166136261u; /* FNV-1a */
    if (p)
        for (p += sizeof key - 1; p < data + len && *p != '"'; p++)
            h = (h ^ (unsigned char)*p) * 16777619u;
    return h;
}

/* The lane of an event: by its job, so that one job's events always go by the same lane. */
static int lane_of(const target *x, const char *data, size_t len)
{
    return (int)(job_hash(data, len) % (uint32_t)x->parallel);
}

/* How far below the API deliveries run (nice steps): on CPUs the API saturates they take what
 * it leaves, falling behind and catching up after, in order and nothing lost (the events are
 * durable), rather than slowing SubmitJob; on CPUs that jobs saturate they still get a share
 * by weight, about a tenth of a nice-0 thread's at 10. */
#define DELIVERY_NICE 10

static void delivery_thread(void)
{
    pthread_setname_np(pthread_self(), "barge-webhook");
    if (util_thread_nice(DELIVERY_NICE) < 0)
        log_warn("webhooks: cannot lower the delivery thread's priority: %s", strerror(errno));
}

static void *lane_main(void *arg)
{
    delivery_thread();
    lane *l = arg;
    target *x = l->x;
    pthread_mutex_lock(&x->mu);
    for (;;) {
        while (!l->busy && !atomic_load(&stopping)) pthread_cond_wait(&x->work_cv, &x->mu);
        if (!l->busy) break;
        pthread_mutex_unlock(&x->mu);
        while (l->done < l->n) {
            const event_ref *e = &x->evs[l->idx[l->done]];
            if (deliver(x, &l->s, e->seq, 1, e->data, e->len) < 0) break;
            l->done++;
        }
        pthread_mutex_lock(&x->mu);
        l->busy = 0;
        if (--x->lanes_busy == 0) pthread_cond_signal(&x->done_cv);
    }
    pthread_mutex_unlock(&x->mu);
    return NULL;
}

/* Delivers the poll's events (x->evs) by the lanes, all at once, and waits for them; then the
 * position is the last of them.  A lane that could not finish (the server stops) leaves the
 * position before the first event it did not deliver: every event before it went, since each
 * lane delivers its own in order.  0, or -1 when the server stops first. */
static int deliver_lanes(target *x)
{
    for (int k = 0; k < x->parallel; k++) x->lanes[k].n = x->lanes[k].done = 0;
    for (size_t i = 0; i < x->n_evs; i++) {
        lane *l = &x->lanes[x->evs[i].lane];
        if (l->n == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 64;
            l->idx = xrealloc(l->idx, l->cap * sizeof *l->idx);
        }
        l->idx[l->n++] = i;
    }
    pthread_mutex_lock(&x->mu);
    /* A lane leaves once it sees the server stop while it has nothing to do (under mu): work
     * handed out after that would wait for a lane that is gone. */
    if (atomic_load(&stopping)) {
        pthread_mutex_unlock(&x->mu);
        x->n_evs = 0;
        return -1;
    }
    for (int k = 0; k < x->parallel; k++) {
        if (!x->lanes[k].n) continue;
        x->lanes[k].busy = 1;
        x->lanes_busy++;
    }
    pthread_cond_broadcast(&x->work_cv);
    while (x->lanes_busy) pthread_cond_wait(&x->done_cv, &x->mu);
    pthread_mutex_unlock(&x->mu);
    uint64_t first_left = UINT64_MAX;
    for (int k = 0; k < x->parallel; k++) {
        const lane *l = &x->lanes[k];
        if (l->done < l->n && x->evs[l->idx[l->done]].seq < first_left)
            first_left = x->evs[l->idx[l->done]].seq;
    }
    uint64_t last = x->n_evs ? x->evs[x->n_evs - 1].seq : x->cursor;
    x->n_evs = 0;
    x->cursor = first_left == UINT64_MAX ? last : first_left - 1;
    x->has_cursor = 1;
    return first_left == UINT64_MAX ? 0 : -1;
}

/* With "pipeline": N, what a window needs, made once: its requests, their header lines, and
 * the poll's events in the order they go.  A job's events are numbered by rank within the poll
 * (its first event 0, its second 1, ...) in a table of job hashes. */
#define RANK_SLOTS 4096 /* a power of two, over twice the events of a poll (API_EVENTS_MAX) */
struct pipelined {
    h1pipe_req *reqs;
    char (*heads)[EVENT_HEAD_MAX];
    size_t *order; /* indexes into the target's evs, by rank and then by number */
    size_t cap_order;
    int *rank;     /* each event's */
    size_t *bucket; /* where each rank's events start in order (n + 1) */
    uint32_t keys[RANK_SLOTS];
    int counts[RANK_SLOTS]; /* events of the job seen so far in this poll; 0: a free slot */
};

static void pipelined_free(struct pipelined *pl)
{
    if (!pl) return;
    free(pl->reqs);
    free(pl->heads);
    free(pl->order);
    free(pl->rank);
    free(pl->bucket);
    free(pl);
}

/* The rank of an event of job h among its job's events of this poll so far. */
static int rank_of(struct pipelined *pl, uint32_t h)
{
    for (uint32_t i = h & (RANK_SLOTS - 1);; i = (i + 1) & (RANK_SLOTS - 1)) {
        if (!pl->counts[i]) pl->keys[i] = h;
        if (pl->keys[i] == h) return pl->counts[i]++;
    }
}

/* Delivers the poll's events (x->evs) pipelined: windows of up to x->pipeline events written at
 * once on one connection.  No window holds two events of one job, so that an event a window
 * failed, which goes again alone (deliver_from) before the next window, cannot arrive after a
 * later event of its job: the poll's first event of each job goes first (in the order of their
 * numbers, by windows), then the second of each, and so on.  Different jobs' events may so
 * arrive in another order than their numbers, as with "parallel"; under load a job's PENDING
 * and RUNNABLE come in one poll, and windows of one event each are what keeping them apart in
 * number order would give.  The position moves once the whole poll is delivered; a server
 * stopped in the middle records it before the first event not yet delivered.  0, or -1 when
 * the server stops first. */
static int deliver_pipelined(target *x)
{
    struct pipelined *pl = x->pl;
    size_t n = x->n_evs;
    if (n > pl->cap_order) {
        pl->cap_order = n;
        pl->order = xrealloc(pl->order, n * sizeof *pl->order);
        pl->rank = xrealloc(pl->rank, n * sizeof *pl->rank);
        pl->bucket = xrealloc(pl->bucket, (n + 1) * sizeof *pl->bucket);
    }
    memset(pl->counts, 0, sizeof pl->counts);
    int max_rank = 0;
    for (size_t i = 0; i < n; i++) {
        pl->rank[i] = rank_of(pl, job_hash(x->evs[i].data, x->evs[i].len));
        if (pl->rank[i] > max_rank) max_rank = pl->rank[i];
    }
    /* By rank, and by number within a rank (the events come in number order): where each
     * rank starts, then each event in its place. */
    memset(pl->bucket, 0, ((size_t)max_rank + 2) * sizeof *pl->bucket);
    for (size_t i = 0; i < n; i++) pl->bucket[pl->rank[i] + 1]++;
    for (int r = 0; r <= max_rank; r++) pl->bucket[r + 1] += pl->bucket[r];
    for (size_t i = 0; i < n; i++) pl->order[pl->bucket[pl->rank[i]]++] = i;
    int rc = 0;
    size_t at = 0; /* order[0..at) delivered */
    while (at < n && rc == 0) {
        int w = 0;
        int r = pl->rank[pl->order[at]];
        for (; at + (size_t)w < n && w < x->pipeline && pl->rank[pl->order[at + w]] == r; w++) {
            const event_ref *e = &x->evs[pl->order[at + w]];
            char hex[65];
            if (sign(&x->s, e->data, e->len, hex) < 0) break; /* deliver_from waits for it */
            pl->reqs[w] = (h1pipe_req){.head = pl->heads[w],
                                       .head_len = event_head(pl->heads[w], e->seq, hex),
                                       .body = e->data, .len = e->len};
        }
        if (!w) { /* signing failed: the event goes alone, waiting as for a target down */
            const event_ref *e = &x->evs[pl->order[at]];
            rc = deliver(x, &x->s, e->seq, 1, e->data, e->len);
            at += rc == 0;
            continue;
        }
        int answered = h1pipe_post(x->s.pipe, pl->reqs, w, DELIVERY_TIMEOUT_MS);
        /* A server may close its connection after so many requests (nginx after 1,000): the
         * events after its last answer go in the next window, at once.  With none answered,
         * the first goes alone, as to a target that is down. */
        int redo = answered ? answered : 1, first = 1;
        for (int i = 0; i < redo && rc == 0; i++) {
            long status = pl->reqs[i].status;
            if (status >= 200 && status < 300) continue;
            const event_ref *e = &x->evs[pl->order[at + i]];
            rc = deliver_from(x, &x->s, e->seq, 1, e->data, e->len, status, first);
            first = 0;
            if (rc < 0) at += (size_t)i; /* the first not delivered */
        }
        if (rc == 0) at += (size_t)redo;
    }
    uint64_t first_left = UINT64_MAX;
    for (size_t i = at; i < n; i++)
        if (x->evs[pl->order[i]].seq < first_left) first_left = x->evs[pl->order[i]].seq;
    uint64_t last = n ? x->evs[n - 1].seq : x->cursor;
    x->n_evs = 0;
    x->cursor = first_left == UINT64_MAX ? last : first_left - 1;
    x->has_cursor = 1;
    return rc;
}

/* Delivers the poll's events (an event_answer: the events' texts as the server keeps them, so
 * that nothing is parsed and written again), each counted in *n_events (with parallel, all of them
 * together once the answer is read), and then moves the position to where the poll looked up
 * to.  -1 when the server stops first. */
static int deliver_all(target *x, const event_answer *a, int *n_events)
{
    /* With a batch: the array being filled, of held events, the last numbered last. */
    buf arr = {0};
    int held = 0;
    uint64_t last = 0;
    int rc = 0;
    for (size_t i = 0; i < a->n && rc == 0; i++) {
        uint64_t seq = a->items[i].seq;
        const char *data = a->items[i].text->data;
        size_t data_len = a->items[i].text->len;
        (*n_events)++;
        if (x->parallel > 1 || x->pipeline > 1) {
            if (x->n_evs == x->cap_evs) {
                x->cap_evs = x->cap_evs ? 2 * x->cap_evs : 256;
                x->evs = xrealloc(x->evs, x->cap_evs * sizeof *x->evs);
            }
            x->evs[x->n_evs++] = (event_ref){.seq = seq, .data = data, .len = data_len,
                                             .lane = x->parallel > 1 ? lane_of(x, data, data_len)
                                                                     : 0};
        } else if (x->batch == 1) {
            if (deliver(x, &x->s, seq, 1, data, data_len) < 0) return -1;
            x->cursor = seq;
            x->has_cursor = 1;
            delivered(x);
        } else {
            /* Sized once for the whole batch: each event is a kilobyte or more. */
            if (!held) buf_reserve(&arr, (size_t)x->batch * (data_len + 1) + 2);
            buf_append(&arr, held ? "," : "[", 1);
            buf_append(&arr, data, data_len);
            last = seq;
            if (++held == x->batch) rc = flush_batch(x, &arr, &held, last);
        }
    }
    /* The end of the answer: what is in the batch (or held for the lanes) goes before the
     * position moves. */
    if (rc == 0 && held) rc = flush_batch(x, &arr, &held, last);
    if (rc == 0 && x->n_evs) {
        rc = x->pipeline > 1 ? deliver_pipelined(x) : deliver_lanes(x);
        if (rc == 0) delivered(x);
    }
    if (rc == 0) {
        x->cursor = a->last;
        x->has_cursor = 1;
    }
    buf_free(&arr);
    return rc;
}

static void *run(void *arg)
{
    delivery_thread();
    target *x = arg;
    start_now(x);
    int refused = 0;
    x->saved = x->cursor; /* read from the file, or written there by start_now */
    x->started_at = util_mono_ms();
    /* Events a poll: as many as GetEvents gives.  Under load a poll waits its turn behind the
     * submits of a batch and its commit (milliseconds): at 50 or 100 events a poll a target
     * fell behind a server making 30,000 events a second while its receiver idled. */
    const int max = API_EVENTS_MAX;
    while (!atomic_load(&stopping)) {
        json_t *req = json_deep_copy(x->filter);
        /* With a position not yet recorded, a quiet second is enough to record it. */
        json_object_set_new(req, "wait", json_integer(x->cursor != x->saved ? 1 : POLL_WAIT_S));
        json_object_set_new(req, "max", json_integer(max));
        if (x->has_cursor) json_object_set_new(req, "after", json_integer((json_int_t)x->cursor));
        core_call call = {.run = api_run, .arg = poll_op, .req = req};
        core_call_wait(&call);
        if (call.status != 200 || !call.obj) {
            if (call.status >= 400 && call.status < 500 && !refused++)
                log_error("webhooks: %s: the server refuses its filter (%s); trying again every "
                          "second", x->name, call.body ? call.body : "");
            free(call.body);
            if (nap(1)) break;
            continue;
        }
        refused = 0;
        uint64_t before = x->cursor;
        event_answer *a = call.obj;
        int gap = a->gap, more = a->more, n_events = 0;
        int stopped = deliver_all(x, a, &n_events) < 0;
        event_answer_free(a);
        if (gap)
            log_warn("webhooks: %s: events after %llu were let go before they were delivered",
                     x->name, (unsigned long long)before);
        /* Not once an event, nor once a poll: a target that keeps up gets a POST or two a poll,
         * and a file replaced each time cost more than the POSTs.  As delivered() says, and
         * once a poll has found nothing new (within a second of the last delivery: the poll's
         * wait is short while the position is unrecorded), and after every poll of the first
         * second after a start, so that a server killed again and again within a second of
         * starting sends again only the poll it was killed in.  A server killed in the middle
         * delivers what came after the saved position again, which the receiver tells by the
         * numbers; a server stopped records where it stood. */
        int64_t now = util_mono_ms();
        int due = stopped || n_events == 0 || now - x->started_at < SAVE_EVERY_MS ||
                  now - x->saved_at >= SAVE_EVERY_MS;
        if (x->cursor != x->saved && due) save_cursor(x);
        if (stopped) break;
        /* Under load every commit brings a few events: polled at once, each poll took that
         * few, a POST each.  A short pause after a poll that found some (and all there were)
         * lets the next take what came meanwhile, in fuller batches and fewer POSTs and
         * polls; an event after a quiet spell still goes at once (the poll waits for it).
         * Not after a poll a limit cut short (more): a target behind by 200,000 events got
         * ALONE_MAX (api_events.c) of them a pause and took 45 s to catch up on an idle
         * server. */
        if (n_events > 0 && !more && nap_ms(PACE_MS)) break;
    }
    if (x->cursor != x->saved) save_cursor(x);
    return NULL;
}

void webhooks_start(const char *data_dir, const api_op *op)
{
    poll_op = op;
    if (!n_targets) return;
    char *dir = xasprintf("%s/webhooks", data_dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        log_error("webhooks: cannot create %s: %s", dir, strerror(errno));
    for (size_t i = 0; i < n_targets; i++) {
        target *x = &targets[i];
        x->cursor_path = xasprintf("%s/%s", dir, x->name);
        FILE *f = fopen(x->cursor_path, "re");
        unsigned long long c;
        if (f && fscanf(f, "%llu", &c) == 1) {
            x->cursor = c;
            x->has_cursor = 1;
        }
        if (f) fclose(f);
        pthread_mutex_init(&x->mu, NULL);
        pthread_cond_init(&x->work_cv, NULL);
        pthread_cond_init(&x->done_cv, NULL);
        x->synced = 1;
        /* Made before any thread runs: libcurl's global set-up is not thread-safe. */
        int ok = sender_init(x, &x->s) == 0;
        if (x->parallel > 1) {
            x->lanes = xcalloc((size_t)x->parallel, sizeof *x->lanes);
            for (int k = 0; k < x->parallel; k++) {
                x->lanes[k].x = x;
                if (ok && sender_init(x, &x->lanes[k].s) < 0) ok = 0;
            }
        }
        if (ok && x->pipeline > 1) {
            x->pl = xcalloc(1, sizeof *x->pl);
            x->pl->reqs = xcalloc((size_t)x->pipeline, sizeof *x->pl->reqs);
            x->pl->heads = xcalloc((size_t)x->pipeline, sizeof *x->pl->heads);
        }
        if (!ok) sender_free(&x->s);
    }
    for (size_t i = 0; i < n_targets; i++) {
        target *x = &targets[i];
        if (!x->s.mac) continue;
        int lanes_ok = 1;
        for (int k = 0; k < x->parallel && x->lanes; k++) {
            x->lanes[k].started =
                pthread_create(&x->lanes[k].thread, NULL, lane_main, &x->lanes[k]) == 0;
            lanes_ok &= x->lanes[k].started;
        }
        if (!lanes_ok) {
            /* Its events would wait for a lane that does not run. */
            log_error("webhooks: %s: cannot start its %d delivery threads; nothing is delivered "
                      "to it", x->name, x->parallel);
            continue;
        }
        /* Said before the thread starts: it sets has_cursor from its first poll. */
        log_info("webhooks: delivering events to %s (%s)%s", x->name, x->log_url,
                 x->has_cursor ? ", going on where delivery stopped" : ", from now on");
        x->started = pthread_create(&x->thread, NULL, run, x) == 0;
        if (!x->started)
            log_error("webhooks: %s: cannot start its delivery thread; nothing is delivered to "
                      "it", x->name);
    }
    free(dir);
}

void webhooks_stop(void)
{
    pthread_mutex_lock(&nap_mu);
    atomic_store(&stopping, 1);
    pthread_cond_broadcast(&nap_cv);
    pthread_mutex_unlock(&nap_mu);
    for (size_t i = 0; i < n_targets; i++) {
        target *x = &targets[i];
        sender_wake(&x->s);
        for (int k = 0; k < x->parallel && x->lanes; k++) sender_wake(&x->lanes[k].s);
        if (!x->synced) continue;
        /* Lanes waiting for work look at stopping under mu. */
        pthread_mutex_lock(&x->mu);
        pthread_cond_broadcast(&x->work_cv);
        pthread_mutex_unlock(&x->mu);
    }
}

void webhooks_join(void)
{
    for (size_t i = 0; i < n_targets; i++) {
        target *x = &targets[i];
        if (x->started) pthread_join(x->thread, NULL);
        for (int k = 0; k < x->parallel && x->lanes; k++) {
            if (x->lanes[k].started) pthread_join(x->lanes[k].thread, NULL);
            sender_free(&x->lanes[k].s);
            free(x->lanes[k].idx);
        }
        free(x->lanes);
        free(x->evs);
        pipelined_free(x->pl);
        sender_free(&x->s);
        if (x->synced) {
            pthread_mutex_destroy(&x->mu);
            pthread_cond_destroy(&x->work_cv);
            pthread_cond_destroy(&x->done_cv);
        }
        free(x->name);
        free(x->url);
        free(x->log_url);
        free(x->secret);
        free(x->cursor_path);
        json_decref(x->filter);
    }
    free(targets);
    targets = NULL;
    n_targets = 0;
}
