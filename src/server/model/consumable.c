/* consumable — see consumable.h. */
#include "server/model/consumable.h"

#include <stdlib.h>
#include <string.h>

#include "common/dict.h"
#include "common/mem.h"

typedef struct held {
    char *name;
    long long quantity;
} held;

struct consumable_index {
    dict held; /* name -> held */
};

static held *slot(state *st, const char *name, int make)
{
    if (!st->consumables) {
        if (!make) return NULL;
        st->consumables = xcalloc(1, sizeof *st->consumables);
    }
    held *h = dict_get(&st->consumables->held, name);
    if (!h && make) {
        h = xcalloc(1, sizeof *h);
        h->name = xstrdup(name);
        dict_put(&st->consumables->held, h->name, h);
    }
    return h;
}

long long consumable_in_use(state *st, const char *name)
{
    held *h = slot(st, name, 0);
    return h ? h->quantity : 0;
}

/* What is free of a resource now; -1 when it no longer exists. */
static long long free_of(state *st, const char *name)
{
    json_t *desc = json_object_get(st->cr.items, name);
    if (!desc) return -1;
    long long f = json_integer_value(json_object_get(desc, "totalQuantity")) -
                  consumable_in_use(st, name);
    return f < 0 ? 0 : f; /* the total was lowered below what is held */
}

int consumable_fits(state *st, const job *j, const char **blocking, long long *need,
                    long long *available)
{
    const jobspec_need *needs;
    size_t n = jobspec_consumables(j->spec, &needs);
    for (size_t i = 0; i < n; i++) {
        long long free_ = free_of(st, needs[i].name);
        if (free_ < 0 || free_ < needs[i].quantity) {
            if (blocking) *blocking = needs[i].name;
            if (need) *need = needs[i].quantity;
            if (available) *available = free_;
            return 0;
        }
    }
    return 1;
}

int consumable_gang_fits(state *st, job *p, const char **blocking, long long *need,
                         long long *available)
{
    uint32_t n = p->array_size, fit = 0;
    const char *res = NULL;
    long long one = 0, avail = 0;
    while (fit < n && consumable_fits(st, p->children[fit], &res, &one, &avail))
        consumable_charge(st, p->children[fit++], 1);
    for (uint32_t i = 0; i < fit; i++) consumable_charge(st, p->children[i], -1);
    if (fit == n) return 1;
    /* What all the nodes need of it, and what is free of it before any of them holds it. */
    long long all = 0;
    for (uint32_t i = 0; i < n; i++) {
        const jobspec_need *needs;
        size_t k = jobspec_consumables(p->children[i]->spec, &needs);
        while (k--)
            if (strcmp(needs[k].name, res) == 0) all += needs[k].quantity;
    }
    avail = free_of(st, res);
    if (blocking) *blocking = res;
    if (need) *need = all;
    if (available) *available = avail;
    return 0;
}

void consumable_charge(state *st, job *j, int sign)
{
    const jobspec_need *needs;
    size_t n = jobspec_consumables(j->spec, &needs);
    for (size_t i = 0; i < n; i++) {
        held *h = slot(st, needs[i].name, 1);
        h->quantity += sign * needs[i].quantity;
        if (h->quantity < 0) h->quantity = 0;
    }
}

void consumable_free(state *st)
{
    if (!st->consumables) return;
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->consumables->held, &i, &k, &v)) {
        held *h = v;
        free(h->name);
        free(h);
    }
    dict_free(&st->consumables->held);
    free(st->consumables);
    st->consumables = NULL;
}
