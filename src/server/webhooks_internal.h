/* webhooks_internal — what webhooks.c (delivery: the threads, the POSTs, the positions) shares
 * with webhooks_config.c (the --webhooks file read and checked) and nothing else: a target's
 * record, and the URL as the log shows it. */
#ifndef BARGE_WEBHOOKS_INTERNAL_H
#define BARGE_WEBHOOKS_INTERNAL_H
#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "common/h1pipe.h"
#include "common/httpc.h"
#include "server/webhooks.h"

/* What POSTs: a connection kept alive (libcurl's, or with "pipeline" barge's own), and the
 * target's HMAC-SHA256 keyed with its secret, made once (the one-shot call fetches the algorithm
 * and sets the key each time: about twice what copying a keyed context costs).  One a thread. */
typedef struct sender {
    httpc *http;
    h1pipe *pipe;
    EVP_MAC_CTX *mac;
} sender;

/* Delivery's own (webhooks.c): a lane of a parallel target, and an event of a poll. */
typedef struct lane lane;
typedef struct event_ref event_ref;
struct pipelined;

typedef struct target {
    /* The file's (webhooks_config.c); the rest is delivery's. */
    char *name, *url, *secret;
    char *log_url; /* url as the log shows it: its credentials masked */
    json_t *filter; /* GetEvents' request members: queue, status */
    int batch;      /* events a POST: 1 (the event as the body), or up to this many in an array */
    int parallel;   /* POSTs in flight at once (batch 1 only); 1: one after the other */
    int pipeline;   /* POSTs written at once on one connection (batch 1, http:// only); 1: off */
    char *cursor_path;
    uint64_t cursor; /* the last seq delivered or passed */
    int has_cursor;
    /* What the file holds and when it was written; when delivery started, and whether a
     * delivery's position has been written since.  The delivery thread's alone. */
    uint64_t saved;
    int64_t saved_at, started_at;
    int delivery_saved;
    sender s;
    pthread_t thread;
    int started;
    /* With parallel > 1: the lanes, the poll's events (with pipeline > 1 too), and how many
     * lanes are still busy. */
    lane *lanes;
    event_ref *evs;
    size_t n_evs, cap_evs;
    int lanes_busy;
    struct pipelined *pl; /* with pipeline > 1 */
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    int synced; /* mu and the conditions are made (webhooks_start) */
} target;

/* Reads and checks the targets file at path (webhooks_read's contract) and appends its targets
 * to *targets (*n of them), names unique among them all, only the file's members filled in (the
 * rest zero); 0, or -1 after printing what is wrong. */
int webhooks__load(const char *path, target **targets, size_t *n);
/* url as the log shows it, in a fresh string: its credentials masked, control characters as
 * '?'. */
char *webhooks__url_for_log(const char *url);
#endif
