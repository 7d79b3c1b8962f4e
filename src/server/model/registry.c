/* registry — see registry.h. */
#include "server/model/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "server/model/jobs.h"

/* How many deleted descriptions are kept for Describe; the oldest go first. */
#define GRAVEYARD_MAX 1000

json_t *reg_get(registry *r, const char *key)
{
    return json_object_get(r->items, key);
}

json_t *reg_get_any(registry *r, const char *key)
{
    json_t *v = json_object_get(r->items, key);
    return v ? v : json_object_get(r->deleted, key);
}

void reg_put(state *st, registry *r, const char *key, json_t *desc)
{
    char *why;
    if (r->fill && r->fill(st, r, key, desc, &why) != 0) {
        log_error("state: not storing %s '%s', a malformed description (a bug): %s; the batch "
                  "is rolled back", r->kind, key, why);
        free(why);
        json_decref(desc);
        st->store_failed = 1;
        return;
    }
    char *doc = json_dumps(desc, JSON_COMPACT);
    if (store_put(st->db, r->kind, key, doc, strlen(doc)) != 0) {
        log_error("store: writing %s '%s' failed: %s", r->kind, key, store_errmsg(st->db));
        st->store_failed = 1;
    }
    free(doc);
    json_object_set_new(r->items, key, desc);
    /* A name that is in use again is no longer reported as deleted. */
    json_object_del(r->deleted, key);
    /* A changed queue or environment may let a waiting job run. */
    if (st->jobs) st->jobs->sched_needed = 1;
}

void reg_del(state *st, registry *r, const char *key)
{
    json_t *v = json_object_get(r->items, key);
    if (!v) return;
    if (store_del(st->db, r->kind, key) != 0) {
        log_error("store: deleting %s '%s' failed: %s", r->kind, key, store_errmsg(st->db));
        st->store_failed = 1;
    }
    json_t *dead = json_deep_copy(v);
    json_object_set_new(dead, "status", json_string("DELETED"));
    if (json_object_size(r->deleted) >= GRAVEYARD_MAX) {
        void *first = json_object_iter(r->deleted);
        json_object_del(r->deleted, json_object_iter_key(first));
    }
    json_object_set_new(r->deleted, key, dead);
    if (r->forget) r->forget(st, r, key);
    json_object_del(r->items, key);
    if (st->jobs) st->jobs->sched_needed = 1;
}

static int (*sort_cmp)(const char *, const char *);
static int sort_thunk(const void *a, const void *b)
{
    return sort_cmp(*(const char *const *)a, *(const char *const *)b);
}

const char **reg_sorted_keys(registry *r, int (*cmp)(const char *, const char *), size_t *n)
{
    size_t count = json_object_size(r->items), i = 0;
    const char **keys = xmalloc(sizeof(char *) * (count + 1));
    const char *k;
    json_t *v;
    json_object_foreach(r->items, k, v) keys[i++] = k;
    /* Only the core thread sorts, so the comparator may live in a static. */
    sort_cmp = cmp;
    qsort(keys, count, sizeof(char *), sort_thunk);
    *n = count;
    return keys;
}

int reg_jd_key_cmp(const char *a, const char *b)
{
    const char *ca = strrchr(a, ':'), *cb = strrchr(b, ':');
    size_t la = ca ? (size_t)(ca - a) : strlen(a), lb = cb ? (size_t)(cb - b) : strlen(b);
    int c = strncmp(a, b, la < lb ? la : lb);
    if (c) return c;
    if (la != lb) return la < lb ? -1 : 1;
    long ra = ca ? atol(ca + 1) : 0, rb = cb ? atol(cb + 1) : 0;
    return ra < rb ? -1 : ra > rb;
}
