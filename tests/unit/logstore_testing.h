/* logstore_testing — what the log store's unit tests share: reading a stream back whole, and a
 * gate that holds the store's writer inside a batch (the writer calls the copy inside it), so
 * that a test can queue work while a batch is surely being written. */
#ifndef BARGE_TEST_LOGSTORE_TESTING_H
#define BARGE_TEST_LOGSTORE_TESTING_H
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/base/logstore.h"
#include "check.h"

/* The messages of a stream joined with commas, or "missing". */
static inline const char *lt_read_all(logstore *ls, const char *group, const char *stream)
{
    static char out[4096];
    logstore_get_query q = {.group = group, .stream = stream, .start_from_head = 1};
    logstore_page p;
    char *err = NULL;
    int rc = logstore_get(ls, &q, &p, &err);
    free(err);
    if (rc == LOGSTORE_NOT_FOUND) return "missing";
    CHECK_EQ_INT(rc, LOGSTORE_OK);
    out[0] = '\0';
    for (size_t i = 0; i < p.n && strlen(out) + p.events[i].len + 2 < sizeof out; i++) {
        if (i) strcat(out, ",");
        strncat(out, p.events[i].message, p.events[i].len);
    }
    logstore_page_free(&p);
    return out;
}

/* n one-byte events "x", from `from` on, a millisecond apart, stored. */
static inline void lt_put_many(logstore *ls, const char *group, const char *stream,
                               int64_t from, int n)
{
    logstore_event *ev = calloc((size_t)n, sizeof *ev);
    for (int i = 0; i < n; i++) ev[i] = (logstore_event){from + i, "x", 1};
    CHECK_EQ_INT(logstore_wait(ls, logstore_append(ls, group, stream, ev, (size_t)n)), 0);
    free(ev);
}

/* The gate: lt_gate_close(ls) makes the next batch stop inside the copy until lt_gate_open;
 * lt_gate_wait waits until a batch has stopped there.  Later batches pass once it is open. */
static pthread_mutex_t lt_gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lt_gate_cv = PTHREAD_COND_INITIALIZER;
static int lt_gate_entered, lt_gate_is_open;
/* The deletions the gate was handed, since it was closed: "GROUP STREAM" or "GROUP -". */
static char lt_gate_drops[16][128];
static int lt_gate_n_drops;

static inline int64_t lt_gate(void *ctx, const logstore_copy_item *items, size_t n)
{
    (void)ctx;
    pthread_mutex_lock(&lt_gate_mu);
    for (size_t i = 0; i < n && lt_gate_n_drops < 16; i++)
        if (items[i].drop)
            snprintf(lt_gate_drops[lt_gate_n_drops++], sizeof lt_gate_drops[0], "%s %s",
                     items[i].group, items[i].stream ? items[i].stream : "-");
    lt_gate_entered = 1;
    pthread_cond_broadcast(&lt_gate_cv);
    while (!lt_gate_is_open) pthread_cond_wait(&lt_gate_cv, &lt_gate_mu);
    pthread_mutex_unlock(&lt_gate_mu);
    static int64_t pos;
    return ++pos;
}

static inline void lt_gate_close(logstore *ls)
{
    pthread_mutex_lock(&lt_gate_mu);
    lt_gate_entered = lt_gate_is_open = lt_gate_n_drops = 0;
    pthread_mutex_unlock(&lt_gate_mu);
    logstore_set_copy(ls, lt_gate, NULL);
}

static inline void lt_gate_wait(void)
{
    pthread_mutex_lock(&lt_gate_mu);
    while (!lt_gate_entered) pthread_cond_wait(&lt_gate_cv, &lt_gate_mu);
    pthread_mutex_unlock(&lt_gate_mu);
}

static inline void lt_gate_open(void)
{
    pthread_mutex_lock(&lt_gate_mu);
    lt_gate_is_open = 1;
    pthread_cond_broadcast(&lt_gate_cv);
    pthread_mutex_unlock(&lt_gate_mu);
}

#endif
