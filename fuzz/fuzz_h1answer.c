/* fuzz_h1answer — the answers a webhook target sends to pipelined POSTs (h1answer_feed, what
 * h1pipe reads from any server a webhooks file names), with two properties: the bytes give the
 * same answers and the same verdict however the reads split them (the first byte picks the
 * read size), and each read is handed over in an allocation of its exact size, so that a read
 * past what was received is caught. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/h1pipe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct outcome {
    long status[64];
    int close[64];
    int n, error, cut;
} outcome;

/* Reads s[0..len) step bytes at a time, as h1pipe_post does: what was not taken is kept and
 * handed again with the next read. */
static outcome run(const char *s, size_t len, size_t step)
{
    outcome o = {0};
    h1answer a;
    h1answer_init(&a);
    size_t have = 0, used = 0;
    int started = 0; /* a byte of the current answer was taken */
    while (used < len && o.n < 64) {
        size_t more = len - have < step ? len - have : step;
        have += more;
        for (;;) {
            size_t n = have - used;
            char *copy = malloc(n ? n : 1);
            memcpy(copy, s + used, n);
            int done;
            const char *why = NULL;
            ssize_t took = h1answer_feed(&a, copy, n, &done, &why);
            free(copy);
            if (took < 0) {
                if (!why) abort();
                o.error = 1;
                return o;
            }
            if ((size_t)took > n) abort();
            used += (size_t)took;
            started |= took > 0;
            if (!done) {
                /* Nothing taken means more is needed: only while reads remain, or at the end
                 * of the bytes. */
                break;
            }
            o.status[o.n] = a.status;
            o.close[o.n++] = a.close;
            if (a.status < 200 || a.status > 599) abort();
            h1answer_init(&a);
            started = 0;
            if (used == have || o.n == 64) break;
        }
        if (!more) break;
    }
    if (o.n < 64 && (started || used < len)) {
        if (h1answer_eof(&a) && a.state != 0) {
            o.status[o.n] = a.status;
            o.close[o.n++] = a.close;
        } else {
            o.cut = 1;
        }
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t step = (size_t)data[0] % 64 + 1;
    const char *s = (const char *)data + 1;
    size_t len = size - 1;
    outcome whole = run(s, len, len ? len : 1), split = run(s, len, step);
    if (whole.error != split.error) abort();
    if (whole.error) return 0;
    if (whole.n != split.n || whole.cut != split.cut) abort();
    for (int i = 0; i < whole.n; i++)
        if (whole.status[i] != split.status[i] || whole.close[i] != split.close[i]) abort();
    return 0;
}
