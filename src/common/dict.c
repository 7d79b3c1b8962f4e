#include "common/dict.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

/* A deleted slot keeps probing chains intact until the next resize. */
static const char tomb_marker;
#define TOMB (&tomb_marker)

static uint64_t hash_str(const char *s)
{
    /* FNV-1a: short keys (UUIDs, names), good enough spread, no allocation. */
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

void dict_init(dict *d)
{
    memset(d, 0, sizeof *d);
}

void dict_free(dict *d)
{
    free(d->keys);
    free(d->vals);
    free(d->hashes);
    memset(d, 0, sizeof *d);
}

static size_t find(const dict *d, const char *key, uint64_t h, int *found)
{
    size_t mask = d->cap - 1, i = h & mask, first_tomb = (size_t)-1;
    for (;;) {
        const char *k = d->keys[i];
        if (!k) {
            *found = 0;
            return first_tomb != (size_t)-1 ? first_tomb : i;
        }
        if (k == TOMB) {
            if (first_tomb == (size_t)-1) first_tomb = i;
        } else if (d->hashes[i] == h && strcmp(k, key) == 0) {
            *found = 1;
            return i;
        }
        i = (i + 1) & mask;
    }
}

static void grow(dict *d)
{
    dict old = *d;
    size_t cap = old.cap ? old.cap : 16;
    while (cap < (old.len + 1) * 2) cap *= 2;
    d->cap = cap;
    d->keys = xcalloc(cap, sizeof *d->keys);
    d->vals = xcalloc(cap, sizeof *d->vals);
    d->hashes = xcalloc(cap, sizeof *d->hashes);
    d->len = d->tombs = 0;
    for (size_t i = 0; i < old.cap; i++) {
        if (!old.keys[i] || old.keys[i] == TOMB) continue;
        int found;
        size_t j = find(d, old.keys[i], old.hashes[i], &found);
        d->keys[j] = old.keys[i];
        d->vals[j] = old.vals[i];
        d->hashes[j] = old.hashes[i];
        d->len++;
    }
    free(old.keys);
    free(old.vals);
    free(old.hashes);
}

void *dict_get(const dict *d, const char *key)
{
    if (!d->len) return NULL;
    int found;
    size_t i = find(d, key, hash_str(key), &found);
    return found ? d->vals[i] : NULL;
}

void *dict_put(dict *d, const char *key, void *val)
{
    /* Keep the load (live entries and tombstones) under 70%. */
    if ((d->len + d->tombs + 1) * 10 >= d->cap * 7) grow(d);
    uint64_t h = hash_str(key);
    int found;
    size_t i = find(d, key, h, &found);
    if (found) {
        void *prev = d->vals[i];
        d->keys[i] = key;
        d->vals[i] = val;
        return prev;
    }
    if (d->keys[i] == TOMB) d->tombs--;
    d->keys[i] = key;
    d->vals[i] = val;
    d->hashes[i] = h;
    d->len++;
    return NULL;
}

void *dict_del(dict *d, const char *key)
{
    if (!d->len) return NULL;
    int found;
    size_t i = find(d, key, hash_str(key), &found);
    if (!found) return NULL;
    void *prev = d->vals[i];
    d->keys[i] = TOMB;
    d->vals[i] = NULL;
    d->len--;
    d->tombs++;
    return prev;
}

int dict_next(const dict *d, size_t *i, const char **key, void **val)
{
    for (; *i < d->cap; (*i)++) {
        if (d->keys[*i] && d->keys[*i] != TOMB) {
            *key = d->keys[*i];
            *val = d->vals[*i];
            (*i)++;
            return 1;
        }
    }
    return 0;
}
