/* ratelimit — see ratelimit.h. */
#include "server/base/ratelimit.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dict.h"
#include "common/mem.h"

#define RATELIMIT_DEFAULT_KEYS 10000

typedef struct bucket {
    char *key;
    double tokens;
    double burst;  /* of the last charge: what "full" means when the table is swept */
    double rate;
    int64_t at_ns; /* when tokens was last brought up to date */
} bucket;

struct ratelimit {
    pthread_mutex_t mu;
    dict buckets;
    size_t max_keys;
};

int ratelimit_parse(const char *text, ratelimit_spec *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (strcmp(text, "off") == 0 || strcmp(text, "0") == 0) return 0;
    char *end;
    errno = 0;
    double n = strtod(text, &end);
    if (end == text || errno || !isfinite(n) || n <= 0 || n > 1e6) {
        snprintf(err, errlen, "'%.60s' is not N[/s|/m][,BURST] with N a number of requests "
                              "above 0 and at most 1000000 (or 'off')", text);
        return -1;
    }
    double per = 1;
    if (strncmp(end, "/s", 2) == 0) end += 2;
    else if (strncmp(end, "/m", 2) == 0) {
        per = 60;
        end += 2;
    }
    double burst = n / per < 1 ? 1 : n / per;
    if (*end == ',') {
        char *b = end + 1;
        errno = 0;
        long v = strtol(b, &end, 10);
        if (end == b || errno || v < 1 || v > 1000000) {
            snprintf(err, errlen, "'%.60s': the burst after the comma must be a whole number "
                                  "of requests, 1 to 1000000", text);
            return -1;
        }
        burst = (double)v;
    }
    if (*end) {
        snprintf(err, errlen, "'%.60s' is not N[/s|/m][,BURST] (for example 50/s,100)", text);
        return -1;
    }
    out->rate = n / per;
    out->burst = burst;
    return 0;
}

ratelimit *ratelimit_new(size_t max_keys)
{
    ratelimit *rl = xcalloc(1, sizeof *rl);
    pthread_mutex_init(&rl->mu, NULL);
    dict_init(&rl->buckets);
    rl->max_keys = max_keys ? max_keys : RATELIMIT_DEFAULT_KEYS;
    return rl;
}

void ratelimit_free(ratelimit *rl)
{
    if (!rl) return;
    const char *k;
    void *v;
    for (size_t i = 0; dict_next(&rl->buckets, &i, &k, &v);) {
        free(((bucket *)v)->key);
        free(v);
    }
    dict_free(&rl->buckets);
    pthread_mutex_destroy(&rl->mu);
    free(rl);
}

static void refill(bucket *b, int64_t now_ns)
{
    if (now_ns > b->at_ns) {
        b->tokens += b->rate * (double)(now_ns - b->at_ns) / 1e9;
        if (b->tokens > b->burst) b->tokens = b->burst;
    }
    b->at_ns = now_ns;
}

/* Drops the buckets that have filled up again: they hold nothing a new bucket would not. */
static void sweep(ratelimit *rl, int64_t now_ns)
{
    const char *k;
    void *v;
    for (size_t i = 0; dict_next(&rl->buckets, &i, &k, &v);) {
        bucket *b = v;
        refill(b, now_ns);
        if (b->tokens >= b->burst) {
            dict_del(&rl->buckets, b->key);
            free(b->key);
            free(b);
        }
    }
}

int ratelimit_take(ratelimit *rl, const char *key, const ratelimit_spec *spec, int64_t now_ns)
{
    if (!spec || spec->rate <= 0) return 1;
    pthread_mutex_lock(&rl->mu);
    bucket *b = dict_get(&rl->buckets, key);
    if (!b) {
        if (rl->buckets.len >= rl->max_keys) sweep(rl, now_ns);
        b = xcalloc(1, sizeof *b);
        b->key = xstrdup(key);
        b->tokens = spec->burst;
        b->at_ns = now_ns;
        dict_put(&rl->buckets, b->key, b);
    }
    b->rate = spec->rate;
    b->burst = spec->burst;
    refill(b, now_ns);
    int ok = b->tokens >= 1;
    if (ok) b->tokens -= 1;
    pthread_mutex_unlock(&rl->mu);
    return ok;
}

size_t ratelimit_size(ratelimit *rl)
{
    pthread_mutex_lock(&rl->mu);
    size_t n = rl->buckets.len;
    pthread_mutex_unlock(&rl->mu);
    return n;
}
