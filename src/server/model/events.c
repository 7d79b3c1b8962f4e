/* events — see events.h. */
#include "server/model/events.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/base/core.h"
#include "server/base/store.h"
#include "server/model/state.h"

/* The records' kind sorts after every other: SQLite copies a record that does not fit in its
 * page whole to compare keys with it, so a large record beside the jobs' would cost every job
 * written near it a copy.  And a record holds EVENTS_PER_RECORD events at most. */
#define EVENT_KIND "zevt"
#define EVENTS_PER_RECORD 128

/* A stored record: its key's number (its first event) and its last event. */
typedef struct record {
    uint64_t first, last;
} record;

struct events {
    uint64_t kept;   /* events kept (events_new) */
    event_rec *ring; /* kept slots; ring[seq % kept] */
    uint64_t first, next; /* the oldest kept and the next to be made; first == next: none */
    uint64_t flushed;     /* events before this are written */
    record *recs;         /* stored records, oldest first */
    size_t n_recs, cap_recs;
    event_waiter **waiters;
    size_t n_waiters, cap_waiters;
};

void event_text_begin(buf *b)
{
    *b = (buf){0};
    /* 2 KiB in all, header and NUL included: a text is about 1.3 KB, and a request for a byte
     * more would double to the next size, 4 KiB for each of the ring's 10,000 kept texts. */
    buf_reserve(b, 2048 - 1);
    b->len = sizeof(event_text);
}

event_text *event_text_end(buf *b)
{
    event_text *t = (event_text *)(void *)b->data;
    atomic_init(&t->refs, 1);
    t->len = (uint32_t)(b->len - sizeof *t);
    *b = (buf){0};
    return t;
}

event_text *event_text_hold(event_text *t)
{
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    return t;
}

void event_text_drop(event_text *t)
{
    if (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) free(t);
}

events *events_new(uint64_t kept)
{
    events *ev = xcalloc(1, sizeof *ev);
    ev->kept = kept ? kept : 1;
    /* Zeroed pages the kernel gives as they are first written: a server that makes few events
     * does not hold the ring's whole size.  In huge pages where the kernel has them (advice
     * only): a 10,000-child array's 20,000 events wrote some 200 fresh 4 KiB pages of it, a
     * page fault each, which on some virtual machines leaves the guest (docs/performance.md,
     * figure 2); a huge page is 2 MiB of the ring, some 50,000 events. */
    ev->ring = xcalloc(ev->kept, sizeof *ev->ring);
    mem_advise_huge(ev->ring, ev->kept * sizeof *ev->ring);
    ev->first = ev->next = ev->flushed = 1;
    return ev;
}

void events_free(events *ev)
{
    if (!ev) return;
    for (uint64_t i = 0; i < ev->kept; i++) event_text_drop(ev->ring[i].text);
    free(ev->ring);
    free(ev->recs);
    free(ev->waiters);
    free(ev);
}

/* The link from event seq back to the same job's previous one (prev): 0 when there is none,
 * or when it is too far back to be kept. */
static uint32_t link_to(const events *ev, uint64_t prev, uint64_t seq)
{
    if (!prev || prev >= seq || seq - prev >= ev->kept || seq - prev > UINT32_MAX) return 0;
    return (uint32_t)(seq - prev);
}

void events_note(events *ev, job *j, int status)
{
    if (ev->next - ev->first == ev->kept) ev->first++; /* the oldest goes */
    /* Texts are kept for the newest EVENTS_TEXT_KEPT only (events.h). */
    if (ev->next - ev->first >= EVENTS_TEXT_KEPT) {
        event_rec *old = &ev->ring[(ev->next - EVENTS_TEXT_KEPT) % ev->kept];
        event_text_drop(old->text);
        old->text = NULL;
    }
    event_rec *e = &ev->ring[ev->next % ev->kept];
    /* Only a slot used before is read: a page of the ring never written is the kernel's shared
     * zero page until it is, and reading it first makes the write copy it and flush every CPU's
     * view of it (a per cent of the core's time while the ring fills). */
    if (ev->next > ev->kept) event_text_drop(e->text);
    size_t ended = json_array_size(j->attempts);
    *e = (event_rec){.seq = ev->next, .at = util_now_ms(), .j = j, .status = (uint8_t)status,
                     .ended = ended < EVENTS_ENDED_UNKNOWN ? (uint16_t)ended
                                                           : EVENTS_ENDED_UNKNOWN,
                     .prev = link_to(ev, j->last_event, ev->next)};
    j->last_event = ev->next;
    ev->next++;
}

void events_forget(events *ev, job *j)
{
    uint64_t s = j->last_event;
    while (s && s >= ev->first && s < ev->next) {
        event_rec *e = &ev->ring[s % ev->kept];
        /* A slot that holds another job's event now: the chain went out of the ring. */
        if (e->j != j || e->seq != s) break;
        e->j = NULL;
        event_text_drop(e->text);
        e->text = NULL;
        s = e->prev ? s - e->prev : 0;
    }
}

uint64_t events_last(const events *ev)
{
    return ev->next - 1;
}

uint64_t events_first(const events *ev)
{
    return ev->first;
}

event_rec *events_get(const events *ev, uint64_t seq)
{
    if (seq < ev->first || seq >= ev->next) return NULL;
    return &ev->ring[seq % ev->kept];
}

static void key_of(uint64_t seq, char out[24])
{
    snprintf(out, 24, "%020" PRIu64, seq);
}

void events_flush(state *st)
{
    events *ev = st->events;
    if (ev->flushed < ev->first) ev->flushed = ev->first; /* a burst past the ring's size */
    while (ev->flushed < ev->next) {
        uint64_t end = ev->next - ev->flushed > EVENTS_PER_RECORD ? ev->flushed + EVENTS_PER_RECORD
                                                                 : ev->next;
        buf doc = {0};
        buf_puts(&doc, "[");
        /* Written piece by piece rather than with buf_printf: a 10,000-child array's 20,000
         * events a submit. */
        for (uint64_t s = ev->flushed; s < end; s++) {
            const event_rec *e = events_get(ev, s);
            buf_puts(&doc, s > ev->flushed ? ",[" : "[");
            buf_int(&doc, (long long)e->seq);
            buf_puts(&doc, ",");
            buf_int(&doc, (long long)e->at);
            /* Job ids are UUIDs, with ":N" or "#N": nothing in them needs escaping. */
            buf_puts(&doc, ",\"");
            buf_puts(&doc, e->j->id);
            buf_puts(&doc, "\",");
            buf_int(&doc, (long long)e->status);
            buf_puts(&doc, "]");
        }
        buf_puts(&doc, "]");
        char key[24];
        key_of(ev->flushed, key);
        if (store_put(st->db, EVENT_KIND, key, doc.data, doc.len) != 0) {
            log_error("store: writing events failed: %s", store_errmsg(st->db));
            st->store_failed = 1;
        }
        buf_free(&doc);
        if (ev->n_recs == ev->cap_recs) {
            ev->cap_recs = ev->cap_recs ? 2 * ev->cap_recs : 64;
            ev->recs = xrealloc(ev->recs, ev->cap_recs * sizeof *ev->recs);
        }
        ev->recs[ev->n_recs++] = (record){ev->flushed, end - 1};
        ev->flushed = end;
    }
    /* Records whose every event was let go. */
    size_t gone = 0;
    while (gone < ev->n_recs && ev->recs[gone].last < ev->first) {
        char key[24];
        key_of(ev->recs[gone].first, key);
        if (store_del(st->db, EVENT_KIND, key) != 0) st->store_failed = 1;
        gone++;
    }
    if (gone) {
        memmove(ev->recs, ev->recs + gone, (ev->n_recs - gone) * sizeof *ev->recs);
        ev->n_recs -= gone;
    }
    /* Readers that waited for something new. */
    int64_t now = ev->n_waiters ? util_mono_ms() : 0;
    for (size_t i = 0; i < ev->n_waiters;) {
        event_waiter *w = ev->waiters[i];
        if (w->not_before > now) {
            i++; /* held: answered by its timer (events_hold) */
        } else if (w->after < events_last(ev) && w->wants(st, w)) {
            ev->waiters[i] = ev->waiters[--ev->n_waiters];
            w->answer(st, w);
        } else {
            i++;
        }
    }
}

void events_wait(events *ev, event_waiter *w)
{
    if (ev->n_waiters == ev->cap_waiters) {
        ev->cap_waiters = ev->cap_waiters ? 2 * ev->cap_waiters : 16;
        ev->waiters = xrealloc(ev->waiters, ev->cap_waiters * sizeof *ev->waiters);
    }
    ev->waiters[ev->n_waiters++] = w;
}

void events_take_waiters(events *to, events *from)
{
    /* The events they looked at may not be the reloaded ring's (a failed batch's are gone, and
     * their numbers are made again): they look again from where they wait. */
    for (size_t i = 0; i < from->n_waiters; i++) {
        from->waiters[i]->scanned = 0;
        events_wait(to, from->waiters[i]);
    }
    from->n_waiters = 0;
}

void events_expire(state *st, int all)
{
    events *ev = st->events;
    int64_t now = util_mono_ms();
    for (size_t i = 0; i < ev->n_waiters;) {
        event_waiter *w = ev->waiters[i];
        if (all || now >= w->deadline) {
            ev->waiters[i] = ev->waiters[--ev->n_waiters];
            w->answer(st, w);
        } else {
            i++;
        }
    }
}

/* A held waiter's time has come: answered with what is there, unless it went meanwhile (its
 * deadline, or the server stopping, answered it; the timer then finds it no more). */
static void hold_due(void *ctx, void *arg)
{
    state *st = ctx;
    events *ev = st->events;
    uint64_t id = *(uint64_t *)arg;
    for (size_t i = 0; i < ev->n_waiters; i++) {
        event_waiter *held = ev->waiters[i];
        if (held->hold_id != id) continue;
        ev->waiters[i] = ev->waiters[--ev->n_waiters];
        held->answer(st, held);
        return;
    }
}

void events_hold(state *st, event_waiter *w)
{
    static uint64_t holds;
    w->hold_id = ++holds;
    events_wait(st->events, w);
    uint64_t *arg = xmalloc(sizeof *arg);
    *arg = w->hold_id;
    int64_t left = w->not_before - util_mono_ms();
    core_after(left > 0 ? left : 0, hold_due, arg);
}

/* ---- loading --------------------------------------------------------------------------- */

struct stored;
typedef struct load_arg {
    state *st;
    job *(*find)(struct state *st, const char *id);
    struct stored *buf; /* a record's events, as read */
    size_t cap;
} load_arg;

/* One stored event, as events_flush writes it. */
typedef struct stored {
    uint64_t seq;
    int64_t at;
    int status;
    char id[96];
} stored;

/* A whole number at *c (digits only, within end), or -1 when there is none or it is too large
 * for 63 bits. */
static int read_num(const char **c, const char *end, uint64_t *v)
{
    const char *p = *c;
    uint64_t n = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        if (n > (UINT64_MAX / 2 - 9) / 10) return -1;
        n = n * 10 + (uint64_t)(*p - '0');
    }
    if (p == *c) return -1;
    *c = p;
    *v = n;
    return 0;
}

/* Reads [SEQ,AT,"ID",STATUS] at *p (up to end) into *o, past the comma before it when more;
 * 0, or -1 when the text is not exactly what events_flush writes (the record is then read
 * with jansson).  By hand: a server with a million events kept spent a second of its start
 * reading them with jansson. */
static int read_stored(const char **p, const char *end, int more, stored *o)
{
    const char *c = *p;
    uint64_t seq, at, status;
    if (more && (c >= end || *c++ != ',')) return -1;
    if (c >= end || *c++ != '[' || read_num(&c, end, &seq) < 0) return -1;
    if (c >= end || *c++ != ',' || read_num(&c, end, &at) < 0) return -1;
    if (end - c < 2 || *c++ != ',' || *c++ != '"') return -1;
    const char *q = memchr(c, '"', (size_t)(end - c));
    if (!q || (size_t)(q - c) >= sizeof o->id || memchr(c, '\\', (size_t)(q - c))) return -1;
    memcpy(o->id, c, (size_t)(q - c));
    o->id[q - c] = '\0';
    c = q + 1;
    if (c >= end || *c++ != ',' || read_num(&c, end, &status) < 0 || status > 255) return -1;
    if (c >= end || *c++ != ']') return -1;
    o->seq = seq;
    o->at = (int64_t)at;
    o->status = (int)status;
    *p = c;
    return 0;
}

static stored *room(stored **out, size_t *cap, long n)
{
    if ((size_t)n == *cap) {
        *cap = *cap ? 2 * *cap : EVENTS_PER_RECORD;
        *out = xrealloc(*out, *cap * sizeof **out);
    }
    return &(*out)[n];
}

/* A record's events into *out (grown as needed); their count, or -1 when it holds none that
 * can be read (it is skipped, as an unreadable record always was). */
static long read_record(const char *doc, size_t len, stored **out, size_t *cap)
{
    long n = 0;
    const char *p = doc, *end = doc + len;
    if (p < end && *p == '[') {
        p++;
        while (p < end && *p != ']' && read_stored(&p, end, n > 0, room(out, cap, n)) == 0) n++;
        if (p + 1 == end && *p == ']') return n;
    }
    /* Not as events_flush writes it: read as JSON, whatever it holds. */
    json_t *list = json_loadb(doc, len, 0, NULL);
    if (!json_is_array(list)) {
        json_decref(list);
        return -1;
    }
    n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        stored *o = room(out, cap, n++);
        o->seq = (uint64_t)json_integer_value(json_array_get(e, 0));
        o->at = json_integer_value(json_array_get(e, 1));
        o->status = (int)json_integer_value(json_array_get(e, 3));
        const char *id = json_string_value(json_array_get(e, 2));
        snprintf(o->id, sizeof o->id, "%s", id ? id : "");
    }
    json_decref(list);
    return n;
}

static int load_record(void *arg, const char *key, const char *doc, size_t len)
{
    load_arg *la = arg;
    events *ev = la->st->events;
    uint64_t first = strtoull(key, NULL, 10), last = first;
    long n = read_record(doc, len, &la->buf, &la->cap);
    for (long i = 0; i < n; i++) {
        const stored *e = &la->buf[i];
        uint64_t seq = e->seq;
        int status = e->status;
        if (seq < ev->next || status < 0 || status >= JS_COUNT) continue; /* out of order */
        job *j = la->find(la->st, e->id);
        /* The oldest kept: those before it were let go, and a reader behind it is told of the
         * gap.  (Filled with empty events, they read as events of removed jobs when the ring
         * had grown past them with --events-kept: the gap went unsaid.) */
        if (ev->next == ev->first && seq > ev->next) ev->first = ev->next = seq;
        /* The numbers go on where they stopped, gaps (a job that no longer exists) and all. */
        while (ev->next < seq) {
            if (ev->next - ev->first == ev->kept) ev->first++;
            event_text_drop(ev->ring[ev->next % ev->kept].text);
            ev->ring[ev->next % ev->kept] = (event_rec){.seq = ev->next};
            ev->next++;
        }
        if (ev->next - ev->first == ev->kept) ev->first++;
        event_text_drop(ev->ring[ev->next % ev->kept].text);
        ev->ring[ev->next % ev->kept] =
            (event_rec){.seq = seq, .at = e->at, .j = j, .status = (uint8_t)status,
                        .ended = EVENTS_ENDED_UNKNOWN,
                        .prev = j ? link_to(ev, j->last_event, seq) : 0};
        if (j) j->last_event = seq;
        ev->next++;
        last = seq;
    }
    if (ev->n_recs == ev->cap_recs) {
        ev->cap_recs = ev->cap_recs ? 2 * ev->cap_recs : 64;
        ev->recs = xrealloc(ev->recs, ev->cap_recs * sizeof *ev->recs);
    }
    ev->recs[ev->n_recs++] = (record){first, last};
    return 0;
}

int events_load(state *st, job *(*find)(struct state *st, const char *id), char **err)
{
    load_arg la = {st, find, NULL, 0};
    int rc = store_scan(st->db, EVENT_KIND, load_record, &la);
    free(la.buf);
    if (rc != 0) {
        *err = xasprintf("reading events from the store failed: %s", store_errmsg(st->db));
        return -1;
    }
    st->events->flushed = st->events->next;
    return 0;
}
