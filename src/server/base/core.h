/* core — the one thread that owns barge's state, and its group commit.
 *
 * HTTP threads hand it calls; it takes every call waiting, runs them in order inside one store
 * transaction, commits once (one fsync for the whole batch: group commit) and only then answers
 * them.  Over a store_pipe the commit and the answers are the pipe's writer thread's, while the
 * core runs the next batch.  So an acknowledged write is always durable, and a read never sees
 * a write that could still be lost.  Timers run in the same loop and the same transactions.
 *
 * The core knows nothing of AWS Batch: what a call does is its run function, and what must
 * happen before each commit, after a failed one and every tick is registered by the server as
 * hooks (core_hooks).  The state the hooks, calls and timers work on is the hooks' ctx. */
#ifndef BARGE_CORE_H
#define BARGE_CORE_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "server/base/store.h"

typedef struct core_call core_call;

/* An answer its receiver reads in its own way rather than as text: the events a stream or a
 * webhook polled (api/event_answer.h), whose texts are shared with other answers, not copied,
 * until the thread that sends them writes them out. */
typedef struct core_obj_ops {
    char *(*text)(void *obj, size_t *len); /* the answer as text (malloc'd) */
    void (*free)(void *obj);
} core_obj_ops;
struct core_call {
    /* Runs on the core thread inside the batch: answers with core_answer or core_answer_error,
     * or keeps the call with core_park and answers it later with core_reply. */
    void (*run)(core_call *call, void *ctx, int64_t now_ms);
    const void *arg; /* what run needs besides req (the API operation) */
    json_t *req;     /* owned by the call; the core releases it */
    /* The request's credential as sent (an Authorization header), for run functions that check
     * it themselves; NULL for the rest.  Owned by the sender, valid until done() runs. */
    const char *auth;
    /* The client's address as text (agents' requests), or "": where an agent is reached. */
    char peer[48];
    /* The answer, filled before done() runs. */
    int status;
    const char *err_type; /* NULL on success */
    char *body;           /* JSON text, malloc'd; the receiver frees it */
    size_t body_len;
    /* Or, for a 200 only, an answer object instead of body (core_call_flatten makes it text);
     * the receiver frees it with obj_ops->free. */
    void *obj;
    const core_obj_ops *obj_ops;
    /* Set by the sender when it wants the answer's JSON as well as its text (the HTTP server's
     * audit record names what a call made): then a 200 made from JSON (core_answer) leaves its
     * tree in tree, which the receiver releases, instead of the receiver parsing the text again.
     * The tree is read on the receiver's thread: its scalars are the call's own, and jansson's
     * reference counts are atomic. */
    int keep_tree;
    json_t *tree;
    /* Runs on the core thread, or on the store's writer thread when the store is a pipe
     * (store_pipe.h); must not block. */
    void (*done)(core_call *call);
    int parked;      /* kept by its run function, answered later with core_reply */
    int finished;    /* core_call_wait's: the answer is in */
    int answered;    /* run gave an answer */
    core_call *next; /* the submit queue and the batch */
    /* The answers waiting for the batch to commit.  A link of its own: a call parked and answered
     * within one batch is still on the batch's list, which must stay intact. */
    core_call *late_next;
};

typedef struct core_hooks {
    void *ctx; /* handed to every hook, call and timer */
    /* After the batch's calls and timers, before the commit, inside the transaction: the work
     * that must be durable with them.  final: the last batch before the core stops.  Returns 0,
     * or -1 when a write failed and the batch must be rolled back. */
    int (*before_commit)(void *ctx, int final);
    /* After a rollback memory is ahead of the disk: rebuild it from the store.  Returns 0, or -1
     * when that is impossible (the core then stops the process: it cannot serve a state it
     * does not know). */
    int (*reload)(void *ctx, char **err);
    /* Every tick_ms, the first time at once (so the first commit writes what loading changed). */
    void (*tick)(void *ctx);
    int64_t tick_ms;
} core_hooks;

/* Starts the core thread.  The hooks are copied.  On failure returns -1 and sets *err. */
int core_start(store *db, const core_hooks *hooks, char **err);
void core_submit(core_call *call);
/* Submits call and waits for its answer, from a thread that is not the core (its done is the
 * waiter's own): call->status and call->body (the receiver frees it) are set when it returns. */
void core_call_wait(core_call *call);
/* Answers everything queued, then stops the thread. */
void core_stop(void);
/* How long (ms) the core has answered every call 503 because its store cannot be read back (a
 * database out of reach), 0 while it serves.  Any thread. */
int64_t core_unserved_ms(void);

/* For run functions: the call's answer, sent once the batch is durable.  core_answer takes the
 * reference to resp. */
void core_answer(core_call *call, json_t *resp);
/* A 200 whose body is text (malloc'd; the call takes it), for the few answers that are not
 * JSON. */
void core_answer_text(core_call *call, char *text, size_t len);
/* A 200 whose answer is an object (the call takes it). */
void core_answer_obj(core_call *call, void *obj, const core_obj_ops *ops);
void core_answer_error(core_call *call, int status, const char *type, const char *msg);
/* For run functions: the call is kept (a long poll); it is answered later with core_reply. */
void core_park(core_call *call);

/* For code running on the core thread: answer a parked call once the current batch is durable.
 * core_reply takes the reference to resp. */
void core_reply(core_call *call, json_t *resp);
void core_reply_error(core_call *call, int status, const char *type, const char *msg);
/* core_reply with a body that is text already (malloc'd; the call takes it). */
void core_reply_text(core_call *call, char *text, size_t len);
/* core_reply with an answer object (the call takes it). */
void core_reply_obj(core_call *call, void *obj, const core_obj_ops *ops);
/* For a receiver: an answer object made text (body), for one that reads answers as text. */
void core_call_flatten(core_call *call);

/* For code running on the core thread: run fn(ctx, arg) after delay_ms, inside a batch.  arg is
 * malloc'd (or NULL) and is freed by the core after fn runs. */
void core_after(int64_t delay_ms, void (*fn)(void *ctx, void *arg), void *arg);
/* For code running on the core thread: run fn(ctx, arg, durable) on the core thread, in a later
 * batch, once the current batch's commit is known: durable 1 when it held, 0 when it failed (and
 * what the batch did was rolled back).  For what must not happen before the state that names it
 * is on record: a command that starts a machine, say.  A batch the core refuses because it
 * cannot read its store tells fn 0 too.  arg is malloc'd (or NULL) and freed by the core after
 * fn runs; when the core stops before that later batch, fn does not run and arg is freed. */
void core_after_commit(void (*fn)(void *ctx, void *arg, int durable), void *arg);
#endif
