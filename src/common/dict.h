/* dict — a string-keyed hash table of pointers (open addressing, linear probing).
 *
 * The table does not own keys or values: a key must stay valid while its entry exists, which is
 * natural when the key is a field of the value (a job's id).  Used on the hot paths where a
 * jansson object would cost an allocation per entry. */
#ifndef BARGE_DICT_H
#define BARGE_DICT_H
#include <stddef.h>
#include <stdint.h>

typedef struct dict {
    const char **keys;
    void **vals;
    uint64_t *hashes;
    size_t cap, len, tombs;
} dict;

void dict_init(dict *d);
void dict_free(dict *d); /* frees the table, not the keys or values */
void *dict_get(const dict *d, const char *key);
/* Inserts or replaces; returns the previous value or NULL. */
void *dict_put(dict *d, const char *key, void *val);
void *dict_del(dict *d, const char *key);
/* Iteration: for (size_t i = 0; dict_next(d, &i, &k, &v);) ... */
int dict_next(const dict *d, size_t *i, const char **key, void **val);
#endif
