/* events.c: numbering, the ring of the last EVENTS_KEPT, one store record per batch, records
 * whose events were all let go deleted, loading them back in order, and readers that wait. */
#include <stdlib.h>
#include <string.h>

#include "server/api/event_answer.h"
#include "server/base/core.h"
#include "server/base/store.h"
#include "server/model/events.h"
#include "server/model/state.h"
#include "check.h"

static char dir[] = "/tmp/barge-unit-events-XXXXXX";

static job jobs_[3];

/* An event's text as a reader makes it. */
static event_text *text_of(const char *json)
{
    buf b;
    event_text_begin(&b);
    buf_puts(&b, json);
    return event_text_end(&b);
}

static job *find(state *st, const char *id)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(jobs_[i].id, id) == 0) return &jobs_[i];
    return NULL;
}

static int count_records(void *arg, const char *key, const char *doc, size_t len)
{
    (*(int *)arg)++;
    return 0;
}

static int records(store *db)
{
    int n = 0;
    CHECK_EQ_INT(store_scan(db, "zevt", count_records, &n), 0);
    return n;
}

static int answered;
static int wants_any(state *st, event_waiter *w)
{
    return 1;
}
static void answer(state *st, event_waiter *w)
{
    answered++;
}

/* The ring's size here: the server's default is larger (--events-kept). */
#define EVENTS_KEPT 100000

/* A job let go loses its kept events, found through their links, and no other job's: in a ring
 * that wraps, a chain ends where a slot holds another job's event. */
/* An answer's text: the same written whole or a few bytes at a time, in either form. */
static void answers(void)
{
    for (int sse = 0; sse < 2; sse++) {
        event_answer *a = event_answer_new(sse, 3);
        buf_puts(&a->head, sse ? "event: gap\ndata: {}\n\n" : "{\"events\":[");
        event_answer_add(a, 7, text_of("{\"a\":1}"));
        event_answer_add(a, 18446744073709551615ULL, text_of("{\"b\":[2,3]}"));
        buf_puts(&a->tail, sse ? ": at 9\n\n" : "],\"lastSeq\":9}");
        const char *want =
            sse ? "event: gap\ndata: {}\n\nid: 7\nevent: Batch Job State Change\ndata: {\"a\":1}"
                  "\n\nid: 18446744073709551615\nevent: Batch Job State Change\ndata: "
                  "{\"b\":[2,3]}\n\n: at 9\n\n"
                : "{\"events\":[{\"seq\":7,\"event\":{\"a\":1}},{\"seq\":18446744073709551615,"
                  "\"event\":{\"b\":[2,3]}}],\"lastSeq\":9}";
        size_t len;
        char *whole = event_answer_text(a, &len);
        CHECK_STR(whole, want);
        CHECK_EQ_INT((int)len, (int)strlen(want));
        free(whole);
        /* Read again from the start, 5 bytes at a time (libmicrohttpd's buffer may be small). */
        event_answer *b = event_answer_new(sse, 2);
        buf_append(&b->head, a->head.data, a->head.len);
        buf_append(&b->tail, a->tail.data, a->tail.len);
        for (size_t i = 0; i < a->n; i++)
            event_answer_add(b, a->items[i].seq, event_text_hold(a->items[i].text));
        buf got = {0};
        char piece[5];
        size_t n;
        while ((n = event_answer_read(b, piece, sizeof piece)) > 0) {
            CHECK(n <= sizeof piece);
            buf_append(&got, piece, n);
        }
        CHECK_STR(got.data, want);
        CHECK_EQ_INT((int)event_answer_read(b, piece, sizeof piece), 0);
        buf_free(&got);
        event_answer_free(b);
        event_answer_free(a);
    }
    /* A text's buffer is made in the 2 KiB size (a byte more would double it, for each of the
     * ring's kept texts). */
    buf tb;
    event_text_begin(&tb);
    CHECK_EQ_INT(tb.cap, 2048);
    event_text_drop(event_text_end(&tb));
    /* None at all: head and tail. */
    event_answer *e = event_answer_new(1, 0);
    buf_puts(&e->tail, ": at 0\n\n");
    size_t len;
    char *t = event_answer_text(e, &len);
    CHECK_STR(t, ": at 0\n\n");
    free(t);
    event_answer_free(e);
}

static void forgetting(void)
{
    job a = {.id = "a"}, b = {.id = "b"}, c = {.id = "c"};
    events *ev = events_new(8);
    events_note(ev, &a, JS_PENDING);   /* 1 */
    events_note(ev, &b, JS_PENDING);   /* 2 */
    events_note(ev, &a, JS_RUNNABLE);  /* 3 */
    events_note(ev, &c, JS_PENDING);   /* 4 */
    events_note(ev, &a, JS_STARTING);  /* 5 */
    events_note(ev, &b, JS_RUNNABLE);  /* 6 */
    events_get(ev, 3)->text = text_of("{}");
    events_forget(ev, &a);
    CHECK(events_get(ev, 1)->j == NULL && events_get(ev, 3)->j == NULL &&
          events_get(ev, 5)->j == NULL);
    CHECK(events_get(ev, 3)->text == NULL);
    CHECK(events_get(ev, 2)->j == &b && events_get(ev, 4)->j == &c && events_get(ev, 6)->j == &b);
    /* b's first event (2) leaves the ring and its slot goes to c: b's chain stops there. */
    for (int i = 0; i < 4; i++) events_note(ev, &c, JS_RUNNING); /* 7 to 10 */
    CHECK_EQ_INT((int)events_first(ev), 3);
    events_forget(ev, &b);
    CHECK(events_get(ev, 6)->j == NULL);
    CHECK(events_get(ev, 10)->j == &c && events_get(ev, 4)->j == &c);
    /* Events further apart than the ring holds are not linked: c's chain is whole. */
    events_forget(ev, &c);
    for (uint64_t s = events_first(ev); s <= events_last(ev); s++) CHECK(events_get(ev, s)->j == NULL);
    events_free(ev);
}

int main(void)
{
    forgetting();
    answers();
    CHECK(mkdtemp(dir) != NULL);
    char *err = NULL;
    store *db = store_sqlite_open(dir, STORE_SYNC_FULL, &err);
    CHECK(db != NULL);
    jobs_[0].id = "job-a";
    jobs_[1].id = "job-b";
    jobs_[2].id = "job-c";
    state st = {.db = db};
    st.events = events_new(EVENTS_KEPT);
    CHECK_EQ_INT((int)events_last(st.events), 0);
    /* A batch of three changes: one record, numbers 1 to 3. */
    CHECK_EQ_INT(store_begin(db), 0);
    events_note(st.events, &jobs_[0], JS_PENDING);
    events_note(st.events, &jobs_[0], JS_RUNNABLE);
    events_note(st.events, &jobs_[1], JS_RUNNABLE);
    event_waiter w = {.after = 0, .wants = wants_any, .answer = answer};
    events_wait(st.events, &w);
    events_flush(&st);
    CHECK_EQ_INT(store_commit(db), 0);
    CHECK_EQ_INT(answered, 1);
    CHECK_EQ_INT(records(db), 1);
    CHECK_EQ_INT((int)events_last(st.events), 3);
    CHECK(events_get(st.events, 2)->j == &jobs_[0]);
    CHECK_EQ_INT(events_get(st.events, 3)->status, JS_RUNNABLE);
    CHECK(events_get(st.events, 4) == NULL);
    /* A text a reader made is kept while the event is among the newest EVENTS_TEXT_KEPT, and
     * let go after (a text each of 100,000 events would hold hundreds of MiB). */
    events_get(st.events, 3)->text = text_of("{}");
    /* An answer that holds it keeps it after the ring lets it go. */
    event_answer *held = event_answer_new(1, 1);
    event_answer_add(held, 3, event_text_hold(events_get(st.events, 3)->text));
    for (int i = 0; i < EVENTS_TEXT_KEPT - 1; i++) events_note(st.events, &jobs_[2], JS_RUNNING);
    CHECK(events_get(st.events, 3)->text != NULL);
    events_note(st.events, &jobs_[2], JS_RUNNING);
    CHECK(events_get(st.events, 3)->text == NULL);
    size_t held_len;
    char *held_text = event_answer_text(held, &held_len);
    CHECK_STR(held_text, "id: 3\nevent: Batch Job State Change\ndata: {}\n\n");
    free(held_text);
    event_answer_free(held);
    /* More than the ring holds: the oldest go, and so do records all of whose events went. */
    CHECK_EQ_INT(store_begin(db), 0);
    for (int i = 0; i < EVENTS_KEPT - EVENTS_TEXT_KEPT; i++)
        events_note(st.events, &jobs_[2], JS_RUNNING);
    events_flush(&st);
    CHECK_EQ_INT(store_commit(db), 0);
    CHECK_EQ_INT((int)events_first(st.events), 4);
    CHECK(events_get(st.events, 3) == NULL);
    CHECK_EQ_INT(records(db), (EVENTS_KEPT + 127) / 128);
    CHECK_EQ_INT((int)events_last(st.events), EVENTS_KEPT + 3);
    /* A record not written as events_flush writes them (blanks, an event whose job is gone,
     * a string with an escape) is read all the same, as JSON. */
    CHECK_EQ_INT(store_begin(db), 0);
    char key[24], doc[160];
    snprintf(key, sizeof key, "%020d", EVENTS_KEPT + 4);
    snprintf(doc, sizeof doc, "[ [%d, 5, \"job-b\", %d], [%d,6,\"gone\\u0041\",%d] ]",
             EVENTS_KEPT + 4, JS_RUNNING, EVENTS_KEPT + 5, JS_FAILED);
    CHECK_EQ_INT(store_put(db, "zevt", key, doc, strlen(doc)), 0);
    CHECK_EQ_INT(store_commit(db), 0);
    /* Loaded again: the same numbers, the same jobs. */
    state again = {.db = db};
    again.events = events_new(EVENTS_KEPT);
    CHECK_EQ_INT(events_load(&again, find, &err), 0);
    CHECK_EQ_INT((int)events_last(again.events), EVENTS_KEPT + 5);
    CHECK_EQ_INT((int)events_first(again.events), 6);
    CHECK(events_get(again.events, EVENTS_KEPT + 3)->j == &jobs_[2]);
    CHECK(events_get(again.events, EVENTS_KEPT + 4)->j == &jobs_[1]);
    CHECK_EQ_INT(events_get(again.events, EVENTS_KEPT + 4)->status, JS_RUNNING);
    CHECK_EQ_INT((int)events_get(again.events, EVENTS_KEPT + 4)->at, 5);
    CHECK(events_get(again.events, EVENTS_KEPT + 5)->j == NULL);
    /* Loaded events are linked as made ones are: a job let go loses every one of them. */
    events_forget(again.events, &jobs_[2]);
    for (uint64_t s = events_first(again.events); s <= events_last(again.events); s++)
        CHECK(events_get(again.events, s)->j == (s == EVENTS_KEPT + 4 ? &jobs_[1] : NULL));
    /* A waiter whose time is up is answered; the next event goes on from the last. */
    event_waiter late = {.after = EVENTS_KEPT + 5, .deadline = 0, .wants = wants_any,
                         .answer = answer};
    events_wait(again.events, &late);
    events_expire(&again, 0);
    CHECK_EQ_INT(answered, 2);
    events_note(again.events, &jobs_[1], JS_SUCCEEDED);
    CHECK_EQ_INT((int)events_last(again.events), EVENTS_KEPT + 6);
    events_free(st.events);
    events_free(again.events);
    store_close(db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
    return 0;
}
