/* events.c: numbering, the ring of the last EVENTS_KEPT, one store record per batch, records
 * whose events were all let go deleted, loading them back in order, and readers that wait. */
#include <stdlib.h>
#include <string.h>

#include "server/base/core.h"
#include "server/base/store.h"
#include "server/model/events.h"
#include "server/model/state.h"
#include "check.h"

static char dir[] = "/tmp/barge-unit-events-XXXXXX";

static job jobs_[3];

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

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    char *err = NULL;
    store *db = store_sqlite_open(dir, STORE_SYNC_FULL, &err);
    CHECK(db != NULL);
    jobs_[0].id = "job-a";
    jobs_[1].id = "job-b";
    jobs_[2].id = "job-c";
    state st = {.db = db};
    st.events = events_new();
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
    events_get(st.events, 3)->text = strdup("{}");
    for (int i = 0; i < EVENTS_TEXT_KEPT - 1; i++) events_note(st.events, &jobs_[2], JS_RUNNING);
    CHECK(events_get(st.events, 3)->text != NULL);
    events_note(st.events, &jobs_[2], JS_RUNNING);
    CHECK(events_get(st.events, 3)->text == NULL);
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
    /* Loaded again: the same numbers, the same jobs. */
    state again = {.db = db};
    again.events = events_new();
    CHECK_EQ_INT(events_load(&again, find, &err), 0);
    CHECK_EQ_INT((int)events_last(again.events), EVENTS_KEPT + 3);
    CHECK_EQ_INT((int)events_first(again.events), 4);
    CHECK(events_get(again.events, EVENTS_KEPT + 3)->j == &jobs_[2]);
    /* A waiter whose time is up is answered; the next event goes on from the last. */
    event_waiter late = {.after = EVENTS_KEPT + 3, .deadline = 0, .wants = wants_any,
                         .answer = answer};
    events_wait(again.events, &late);
    events_expire(&again, 0);
    CHECK_EQ_INT(answered, 2);
    events_note(again.events, &jobs_[1], JS_SUCCEEDED);
    CHECK_EQ_INT((int)events_last(again.events), EVENTS_KEPT + 4);
    events_free(st.events);
    events_free(again.events);
    store_close(db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
    return 0;
}
