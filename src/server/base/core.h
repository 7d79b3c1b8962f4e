/* core — the one thread that owns barge's state.
 *
 * HTTP threads hand it calls; it takes every call waiting, applies them in order inside one
 * store transaction, commits once (one fsync for the whole batch: group commit) and only then
 * answers them.  So an acknowledged write is always durable, and a read never sees a write that
 * could still be lost.  Timers (status transitions, later the scheduler) run in the same loop. */
#ifndef BARGE_CORE_H
#define BARGE_CORE_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "server/api/api.h"
#include "server/base/store.h"

typedef struct core_call core_call;
struct core_call {
    const api_op *op;
    json_t *req; /* owned by the call; the core releases it */
    /* The answer, filled by the core before done() runs. */
    int status;
    const char *err_type; /* NULL on success */
    char *body;           /* JSON text, malloc'd; the receiver frees it */
    size_t body_len;
    void (*done)(core_call *call); /* runs on the core thread; must not block */
    void *udata;
    int parked; /* kept by a handler, answered later with core_reply */
    core_call *next;      /* the submit queue and the batch */
    /* The answers waiting for the batch to commit.  A link of its own: a call parked and answered
     * within one batch is still on the batch's list, which must stay intact. */
    core_call *late_next;
};

/* Loads the state from db and starts the core thread.  On failure returns -1 and sets *err. */
int core_start(store *db, char **err);
void core_submit(core_call *call);
/* Answers everything queued, then stops the thread and frees the state. */
void core_stop(void);

/* For code running on the core thread: run fn(st, arg) after delay_ms, inside a batch.  arg is
 * malloc'd (or NULL) and is freed by the core after fn runs. */
/* For code running on the core thread: answer a call that a handler parked (api_ctx.deferred)
 * once the current batch is durable.  core_reply takes the reference to resp. */
void core_reply(core_call *call, json_t *resp);
void core_reply_error(core_call *call, int status, const char *type, const char *msg);

struct state;
void core_after(int64_t delay_ms, void (*fn)(struct state *st, void *arg), void *arg);
#endif
