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

int consumable_fits(state *st, const job *j, const char **blocking, long long *need,
                    long long *available)
{
    const jobspec_need *needs;
    size_t n = jobspec_consumables(j->spec, &needs);
    for (size_t i = 0; i < n; i++) {
        json_t *desc = json_object_get(st->cr.items, needs[i].name);
        long long free_ = -1;
        if (desc) {
            free_ = json_integer_value(json_object_get(desc, "totalQuantity")) -
                    consumable_in_use(st, needs[i].name);
            if (free_ < 0) free_ = 0; /* the total was lowered below what is held */
        }
        if (!desc || free_ < needs[i].quantity) {
            if (blocking) *blocking = needs[i].name;
            if (need) *need = needs[i].quantity;
            if (available) *available = free_;
            return 0;
        }
    }
    return 1;
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
