/* webhooks — see webhooks.h. */
#include "server/webhooks.h"
#include "server/webhooks_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/api/event_answer.h"
#include "server/base/core.h"

#define POLL_WAIT_S 15
#define SAVE_EVERY_MS 1000
#define PACE_MS 20 /* the least time between two polls that found events (run) */

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
static const api_op *poll_op;

int webhooks_read(const char *path)
{
    return webhooks__load(path, &targets, &n_targets);
}

/* Writes the position; the time of the try is kept either way, so that a file that cannot be
 * written is tried (and its error logged) at most once a second. */
static void save_cursor(target *x)
{
    x->saved_at = util_mono_ms();
    char *tmp = xasprintf("%s.tmp", x->cursor_path);
    /* 0600, as the data directory's other files. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (fd >= 0 && !f) close(fd);
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

/* A new target starts with the events after the newest there is now: asked without a filter,
 * so that a filter the server cannot take yet (a queue still to be made) loses nothing.  poll_op
 * is the stream's GetEvents (GET /barge/v1/events), whose answers are event_answer objects. */
static void start_now(target *x)
{
    while (!x->has_cursor && !webhooks__stopping()) {
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
        if (!a && webhooks__nap(1)) return;
    }
}

/* Delivers a batch's array (n events, the last numbered last) and empties it. */
static int flush_batch(target *x, buf *arr, int *n, uint64_t last)
{
    buf_append(arr, "]", 1);
    int rc = webhooks__deliver(x, &x->s, last, *n, arr->data, arr->len);
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
        while (!l->busy && !webhooks__stopping()) pthread_cond_wait(&x->work_cv, &x->mu);
        if (!l->busy) break;
        pthread_mutex_unlock(&x->mu);
        while (l->done < l->n) {
            const event_ref *e = &x->evs[l->idx[l->done]];
            if (webhooks__deliver(x, &l->s, e->seq, 1, e->data, e->len) < 0) break;
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
    if (webhooks__stopping()) {
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
 * arrive in another order than their numbers, as with "parallel"; under load a job's STARTING
 * and RUNNING often come in one poll, and windows of one event each are what keeping them apart
 * in number order would give.  The position moves once the whole poll is delivered; a server
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
            if (webhooks__sign(&x->s, e->data, e->len, hex) < 0) break; /* deliver_from waits for it */
            pl->reqs[w] = (h1pipe_req){.head = pl->heads[w],
                                       .head_len = webhooks__event_head(pl->heads[w], e->seq, hex),
                                       .body = e->data, .len = e->len};
        }
        if (!w) { /* signing failed: the event goes alone, waiting as for a target down */
            const event_ref *e = &x->evs[pl->order[at]];
            rc = webhooks__deliver(x, &x->s, e->seq, 1, e->data, e->len);
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
            rc = webhooks__deliver_from(x, &x->s, e->seq, 1, e->data, e->len, status, first);
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
            if (webhooks__deliver(x, &x->s, seq, 1, data, data_len) < 0) return -1;
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

/* What a poll found that the target will never get, or a position that was not this server's:
 * said in the log, as the target cannot say it. */
static void told_behind(target *x, uint64_t before, int gap, size_t removed, uint64_t ahead)
{
    if (gap)
        log_warn("webhooks: %s: events after %llu were let go before they were delivered",
                 x->name, (unsigned long long)before);
    if (removed)
        log_warn("webhooks: %s: passed over %zu events after %llu whose jobs were removed "
                 "(--retention-hours) before they could be delivered (counted whatever its "
                 "filter, which they may not have matched)", x->name, removed,
                 (unsigned long long)before);
    if (ahead)
        log_warn("webhooks: %s: its recorded position, event %llu, is past this server's newest "
                 "(%llu: a data directory made anew or restored?); delivering from there",
                 x->name, (unsigned long long)ahead, (unsigned long long)x->cursor);
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
    while (!webhooks__stopping()) {
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
            if (webhooks__nap(1)) break;
            continue;
        }
        refused = 0;
        uint64_t before = x->cursor;
        event_answer *a = call.obj;
        int gap = a->gap && !x->from_oldest, more = a->more, n_events = 0;
        size_t removed = x->from_oldest ? 0 : a->removed; /* (from the oldest: old news) */
        uint64_t ahead = a->ahead;
        int stopped = deliver_all(x, a, &n_events) < 0;
        event_answer_free(a);
        x->from_oldest = 0;
        told_behind(x, before, gap, removed, ahead);
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
        if (n_events > 0 && !more && webhooks__nap_ms(PACE_MS)) break;
    }
    if (x->cursor != x->saved) save_cursor(x);
    return NULL;
}

/* Where delivery stopped, from the target's file: none for a new target (no file); a file that
 * holds no position (emptied by a crash, edited) is said and delivery starts from the oldest
 * event kept, so that what the target missed is sent again rather than lost (the receiver tells
 * repeats by their numbers). */
static void read_cursor(target *x)
{
    FILE *f = fopen(x->cursor_path, "re");
    if (!f) {
        int e = errno;
        if (e != ENOENT)
            log_error("webhooks: %s: cannot read %s (%s); delivering from the oldest event "
                      "kept", x->name, x->cursor_path, strerror(e));
        x->from_oldest = x->has_cursor = e != ENOENT;
        return;
    }
    char line[40] = "", *end;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    errno = 0;
    unsigned long long c = strtoull(line, &end, 10);
    if (n && line[0] >= '0' && line[0] <= '9' && !errno && c <= (unsigned long long)INT64_MAX &&
        (!*end || !strcmp(end, "\n"))) {
        x->cursor = c;
        x->has_cursor = 1;
        return;
    }
    util_utf8_scrub(line);
    log_error("webhooks: %s: %s holds no event's number ('%.24s'); delivering every event "
              "still kept, from the oldest, so that none is lost (the target may get some "
              "again)", x->name, x->cursor_path, line);
    x->cursor = 0;
    x->has_cursor = x->from_oldest = 1;
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
        read_cursor(x);
        pthread_mutex_init(&x->mu, NULL);
        pthread_cond_init(&x->work_cv, NULL);
        pthread_cond_init(&x->done_cv, NULL);
        x->synced = 1;
        /* Made before any thread runs: libcurl's global set-up is not thread-safe. */
        int ok = webhooks__sender_init(x, &x->s) == 0;
        if (x->parallel > 1) {
            x->lanes = xcalloc((size_t)x->parallel, sizeof *x->lanes);
            for (int k = 0; k < x->parallel; k++) {
                x->lanes[k].x = x;
                if (ok && webhooks__sender_init(x, &x->lanes[k].s) < 0) ok = 0;
            }
        }
        if (ok && x->pipeline > 1) {
            x->pl = xcalloc(1, sizeof *x->pl);
            x->pl->reqs = xcalloc((size_t)x->pipeline, sizeof *x->pl->reqs);
            x->pl->heads = xcalloc((size_t)x->pipeline, sizeof *x->pl->heads);
        }
        if (!ok) webhooks__sender_free(&x->s);
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
    webhooks__stop_naps();
    for (size_t i = 0; i < n_targets; i++) {
        target *x = &targets[i];
        webhooks__sender_wake(&x->s);
        for (int k = 0; k < x->parallel && x->lanes; k++) webhooks__sender_wake(&x->lanes[k].s);
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
            webhooks__sender_free(&x->lanes[k].s);
            free(x->lanes[k].idx);
        }
        free(x->lanes);
        free(x->evs);
        pipelined_free(x->pl);
        webhooks__sender_free(&x->s);
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
