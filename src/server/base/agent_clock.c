/* agent_clock — see agent_clock.h. */
#include "server/base/agent_clock.h"

#include <pthread.h>
#include <stdlib.h>

#include "common/dict.h"
#include "common/mem.h"

/* The smallest figure is kept for the current window and the one before, so that the figure in
 * use always covers between one and two windows of requests. */
#define WINDOW_MS 30000

typedef struct clock_obs {
    char *id;
    int64_t start;   /* when the current window began (server's clock) */
    int64_t cur_min; /* the smallest figure in it */
    int64_t prev_min;
    int has_prev;
} clock_obs;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static dict clocks; /* instance id -> clock_obs */
static int ready;

int64_t agent_clock_offset(const char *id, int64_t sent_at, int64_t now)
{
    int64_t d = now - sent_at;
    pthread_mutex_lock(&mu);
    if (!ready) {
        dict_init(&clocks);
        ready = 1;
    }
    clock_obs *c = dict_get(&clocks, id);
    if (!c) {
        c = xcalloc(1, sizeof *c);
        c->id = xstrdup(id);
        c->start = now;
        c->cur_min = d;
        dict_put(&clocks, c->id, c);
    } else if (now - c->start >= WINDOW_MS || now < c->start) {
        /* A new window; the one before counts only if it just ended (an instance quiet for
         * longer is measured afresh), and not when the server's clock went back. */
        c->has_prev = now >= c->start && now - c->start < 2 * WINDOW_MS;
        c->prev_min = c->cur_min;
        c->start = now;
        c->cur_min = d;
    } else if (d < c->cur_min) {
        c->cur_min = d;
    }
    int64_t off = c->has_prev && c->prev_min < c->cur_min ? c->prev_min : c->cur_min;
    pthread_mutex_unlock(&mu);
    return off;
}

void agent_clock_forget(const char *id)
{
    pthread_mutex_lock(&mu);
    clock_obs *c = ready ? dict_del(&clocks, id) : NULL;
    pthread_mutex_unlock(&mu);
    if (c) {
        free(c->id);
        free(c);
    }
}

void agent_clock_free(void)
{
    pthread_mutex_lock(&mu);
    if (ready) {
        size_t i = 0;
        const char *k;
        void *v;
        while (dict_next(&clocks, &i, &k, &v)) {
            clock_obs *c = v;
            free(c->id);
            free(c);
        }
        dict_free(&clocks);
        ready = 0;
    }
    pthread_mutex_unlock(&mu);
}
