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
    event_rec *ring; /* EVENTS_KEPT slots; ring[seq % EVENTS_KEPT] */
    uint64_t first, next; /* the oldest kept and the next to be made; first == next: none */
    uint64_t flushed;     /* events before this are written */
    record *recs;         /* stored records, oldest first */
    size_t n_recs, cap_recs;
    event_waiter **waiters;
    size_t n_waiters, cap_waiters;
};

events *events_new(void)
{
    events *ev = xcalloc(1, sizeof *ev);
    ev->ring = xcalloc(EVENTS_KEPT, sizeof *ev->ring);
    ev->first = ev->next = ev->flushed = 1;
    return ev;
}

void events_free(events *ev)
{
    if (!ev) return;
    for (size_t i = 0; i < EVENTS_KEPT; i++) free(ev->ring[i].text);
    free(ev->ring);
    free(ev->recs);
    free(ev->waiters);
    free(ev);
}

void events_note(events *ev, job *j, int status)
{
    if (ev->next - ev->first == EVENTS_KEPT) ev->first++; /* the oldest goes */
    /* Texts are kept for the newest EVENTS_TEXT_KEPT only (events.h). */
    if (ev->next - ev->first >= EVENTS_TEXT_KEPT) {
        event_rec *old = &ev->ring[(ev->next - EVENTS_TEXT_KEPT) % EVENTS_KEPT];
        free(old->text);
        old->text = NULL;
    }
    event_rec *e = &ev->ring[ev->next % EVENTS_KEPT];
    free(e->text);
    *e = (event_rec){.seq = ev->next, .at = util_now_ms(), .j = j, .status = (uint8_t)status};
    j->last_event = ev->next;
    ev->next++;
}

void events_forget_gone(events *ev, uint64_t upto)
{
    for (uint64_t s = ev->first; s <= upto && s < ev->next; s++) {
        event_rec *e = &ev->ring[s % EVENTS_KEPT];
        if (!e->j || !(e->j->parent ? e->j->parent : e->j)->gone) continue;
        e->j = NULL;
        free(e->text);
        e->text = NULL;
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
    return &ev->ring[seq % EVENTS_KEPT];
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
        for (uint64_t s = ev->flushed; s < end; s++) {
            const event_rec *e = events_get(ev, s);
            /* Job ids are UUIDs, with ":N" or "#N": nothing in them needs escaping. */
            buf_printf(&doc, "%s[%" PRIu64 ",%lld,\"%s\",%d]", s > ev->flushed ? "," : "",
                       e->seq, (long long)e->at, e->j->id, (int)e->status);
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
    for (size_t i = 0; i < ev->n_waiters;) {
        event_waiter *w = ev->waiters[i];
        if (w->after < events_last(ev) && w->wants(st, w)) {
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
    for (size_t i = 0; i < from->n_waiters; i++) events_wait(to, from->waiters[i]);
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

/* ---- loading --------------------------------------------------------------------------- */

typedef struct load_arg {
    state *st;
    job *(*find)(struct state *st, const char *id);
} load_arg;

static int load_record(void *arg, const char *key, const char *doc, size_t len)
{
    load_arg *la = arg;
    events *ev = la->st->events;
    json_t *list = json_loadb(doc, len, 0, NULL);
    uint64_t first = strtoull(key, NULL, 10), last = first;
    size_t i;
    json_t *e;
    json_array_foreach(list, i, e) {
        uint64_t seq = (uint64_t)json_integer_value(json_array_get(e, 0));
        job *j = la->find(la->st, json_string_value(json_array_get(e, 2)));
        int status = (int)json_integer_value(json_array_get(e, 3));
        if (seq < ev->next || status < 0 || status >= JS_COUNT) continue; /* out of order */
        /* The numbers go on where they stopped, gaps (a job that no longer exists) and all. */
        while (ev->next < seq) {
            if (ev->next - ev->first == EVENTS_KEPT) ev->first++;
            free(ev->ring[ev->next % EVENTS_KEPT].text);
            ev->ring[ev->next % EVENTS_KEPT] = (event_rec){.seq = ev->next};
            ev->next++;
        }
        if (ev->next - ev->first == EVENTS_KEPT) ev->first++;
        free(ev->ring[ev->next % EVENTS_KEPT].text);
        ev->ring[ev->next % EVENTS_KEPT] =
            (event_rec){.seq = seq, .at = json_integer_value(json_array_get(e, 1)), .j = j,
                        .status = (uint8_t)status};
        if (j) j->last_event = seq;
        ev->next++;
        last = seq;
    }
    json_decref(list);
    if (ev->n_recs == ev->cap_recs) {
        ev->cap_recs = ev->cap_recs ? 2 * ev->cap_recs : 64;
        ev->recs = xrealloc(ev->recs, ev->cap_recs * sizeof *ev->recs);
    }
    ev->recs[ev->n_recs++] = (record){first, last};
    return 0;
}

int events_load(state *st, job *(*find)(struct state *st, const char *id), char **err)
{
    load_arg la = {st, find};
    if (store_scan(st->db, EVENT_KIND, load_record, &la) != 0) {
        *err = xasprintf("reading events from the store failed: %s", store_errmsg(st->db));
        return -1;
    }
    st->events->flushed = st->events->next;
    return 0;
}
