/* workq — a few threads that run queued work in arrival order.
 *
 * For work that may block (a log store read, a wait for a commit) and must not do it on a
 * thread that others depend on: the HTTP front end hands such requests here so that its own
 * threads, which also carry agents' exchanges and health checks, never wait on them.
 *
 * The item is the caller's (embed it in the request it stands for); the queue only links it.
 * run is called on one of the queue's threads, once, and may free the item. */
#ifndef BARGE_WORKQ_H
#define BARGE_WORKQ_H

typedef struct workq_item {
    void (*run)(struct workq_item *it);
    struct workq_item *next;
} workq_item;

typedef struct workq workq;

/* Starts `threads` threads (at least one); name is for the server log.  NULL with *err if no
 * thread could start. */
workq *workq_start(int threads, const char *name, char **err);
/* Queues it; never blocks while the queue runs.  Once workq_stop has begun, it runs the item
 * on the caller's thread instead, so that no item is ever left unrun. */
void workq_submit(workq *q, workq_item *it);
/* Runs what is queued to the end and stops the threads.  Accepts NULL. */
void workq_stop(workq *q);
/* Frees a stopped queue, once nothing can submit to it any more.  Accepts NULL. */
void workq_free(workq *q);
#endif
