/* ratelimit — token buckets, one per caller, for `barge server --rate-limit`.
 *
 * A bucket holds up to `burst` tokens and gains `rate` tokens a second; a request takes one, and
 * one that finds the bucket empty is refused (the HTTP front end answers it with AWS's throttling
 * error).  Buckets are found by a string key (an access key id, or a source address) in a table
 * with a lock of its own, so any HTTP thread may charge them.  A bucket that has filled up again
 * is the same as no bucket at all, so when the table grows past its bound such buckets are
 * dropped: a client that changes its key or address on every request cannot grow it without
 * end.  The rate and burst are given on every charge, so a reload of the credentials that
 * changes a principal's limit takes effect on its next request. */
#ifndef BARGE_RATELIMIT_H
#define BARGE_RATELIMIT_H
#include <stddef.h>
#include <stdint.h>

/* A limit: rate tokens a second, at most burst at once.  rate 0 means no limit. */
typedef struct ratelimit_spec {
    double rate;
    double burst;
} ratelimit_spec;

/* Reads N[/s|/m][,BURST] (N requests a second or a minute; BURST defaults to one second's worth
 * and at least 1) or "off".  0, or -1 with a sentence in err naming what is wrong. */
int ratelimit_parse(const char *text, ratelimit_spec *out, char *err, size_t errlen);

typedef struct ratelimit ratelimit;

/* A table that keeps at most about max_keys buckets that are not full (0: a default). */
ratelimit *ratelimit_new(size_t max_keys);
void ratelimit_free(ratelimit *rl);
/* Charges one token to key's bucket at time now_ns (a monotonic clock): 1 if the request may
 * go on, 0 if it is over the limit.  A spec with rate 0 always allows. */
int ratelimit_take(ratelimit *rl, const char *key, const ratelimit_spec *spec, int64_t now_ns);
/* Buckets held: for tests. */
size_t ratelimit_size(ratelimit *rl);
#endif
