#include "server/api/logs_held.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dict.h"
#include "common/mem.h"
#include "common/util.h"

/* An agent refused sends its lines again within seconds; one silent for this long is not
 * trying any more (its instance gone, its attempt ended elsewhere). */
#define STALE_MS 120000
/* Streams held at once: the running attempts that print while the disk is short.  Past it,
 * more are not noted (their jobs only lack the note). */
#define MAX_HELD 100000

typedef struct held {
    char *stream;
    char why[256];
    int64_t since, last; /* ms since the epoch */
} held;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static dict streams; /* stream name -> held; zeroed: an empty table */
/* Entries in streams: a description of a running job asks nothing while there are none (every
 * description, every time, but for a short while in a disk's life). */
static _Atomic size_t count;

static void drop(held *h)
{
    dict_del(&streams, h->stream);
    free(h->stream);
    free(h);
    atomic_fetch_sub(&count, 1);
}

void logs_held_note(const char *stream, const char *why)
{
    int64_t now = util_now_ms();
    pthread_mutex_lock(&mu);
    held *h = dict_get(&streams, stream);
    if (!h && atomic_load(&count) < MAX_HELD) {
        h = xcalloc(1, sizeof *h);
        h->stream = xstrdup(stream);
        h->since = now;
        dict_put(&streams, h->stream, h);
        atomic_fetch_add(&count, 1);
    }
    if (h) {
        /* One that fell silent and came back is held anew. */
        if (now - h->last > STALE_MS && h->last) h->since = now;
        h->last = now;
        snprintf(h->why, sizeof h->why, "%s", why);
    }
    pthread_mutex_unlock(&mu);
}

void logs_held_clear(const char *stream)
{
    if (!atomic_load(&count)) return;
    pthread_mutex_lock(&mu);
    held *h = dict_get(&streams, stream);
    if (h) drop(h);
    pthread_mutex_unlock(&mu);
}

int64_t logs_held_since(const char *stream, char *why, size_t n)
{
    if (!atomic_load(&count) || !stream) return 0;
    int64_t out = 0;
    pthread_mutex_lock(&mu);
    held *h = dict_get(&streams, stream);
    if (h && util_now_ms() - h->last > STALE_MS) {
        drop(h);
        h = NULL;
    }
    if (h) {
        out = h->since;
        snprintf(why, n, "%s", h->why);
    }
    pthread_mutex_unlock(&mu);
    return out;
}
