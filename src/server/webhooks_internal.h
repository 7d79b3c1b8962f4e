/* webhooks_internal — what webhooks.c (delivery: the threads, the polls, the lanes and windows,
 * the positions), webhooks_send.c (one POST signed, sent and tried again) and webhooks_config.c
 * (the --webhooks file read and checked) share, and nothing else: a target's record, its
 * sender, and the URL as the log shows it. */
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
    /* The file held no position (damaged): delivery starts from the oldest event kept, and
     * the gap before it is no news. */
    int from_oldest;
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

/* ---- webhooks_send.c ---------------------------------------------------------------------- */

/* How long a POST (or a pipelined window) waits for its answer. */
#define DELIVERY_TIMEOUT_MS 10000
/* An event's own header lines for a pipelined POST: at most this long (webhooks__event_head). */
#define EVENT_HEAD_MAX 192

/* Whether the server stops; webhooks__stop_naps says it does and ends every nap. */
int webhooks__stopping(void);
void webhooks__stop_naps(void);
/* Sleeps ms milliseconds (s seconds) unless the server stops; 1 when it does. */
int webhooks__nap_ms(long ms);
int webhooks__nap(int s);
/* A sender for the target (made before any thread runs: libcurl's global set-up is not
 * thread-safe); 0, or -1 after saying why.  Freed (all NULL after), or woken from a POST's
 * wait when the server stops. */
int webhooks__sender_init(target *x, sender *s);
void webhooks__sender_free(sender *s);
void webhooks__sender_wake(sender *s);
/* body's signature as lowercase hex into hex (65 bytes); 0, or -1 when OpenSSL failed. */
int webhooks__sign(sender *s, const char *body, size_t len, char *hex);
/* An event's own header lines for a pipelined POST (h1pipe adds the rest) into out (at least
 * EVENT_HEAD_MAX bytes): its length. */
size_t webhooks__event_head(char *out, uint64_t seq, const char *hex);
/* POSTs one event (or with a batch an array of count, the last numbered seq) through s until
 * it is delivered or refused for good (webhooks_send.c says when); an event of a pipelined
 * window comes with its window's answer (window_status, 0 for none) and whether it is the
 * window's first not delivered.  webhooks__deliver: not from a window.  0, or -1 when the
 * server stops first. */
int webhooks__deliver_from(target *x, sender *s, uint64_t seq, int count, const char *body,
                           size_t len, long window_status, int window_first);
int webhooks__deliver(target *x, sender *s, uint64_t seq, int count, const char *body,
                      size_t len);
#endif
