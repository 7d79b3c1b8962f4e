/* registry — a kind of resource kept by key: every change goes through reg_put or reg_del, which
 * also write the record to the store inside the core's open transaction, so the memory and the
 * disk cannot drift apart.  Runs on the core thread. */
#ifndef BARGE_REGISTRY_H
#define BARGE_REGISTRY_H
#include <jansson.h>
#include <stddef.h>

#include "server/model/state.h"

json_t *reg_get(registry *r, const char *key); /* borrowed; NULL if absent */
/* Stores desc under key (taking the caller's reference) in memory and in the store, and has the
 * registry's fill hook parse it into its typed record (resource.h).  A description the record cannot be
 * parsed from is a bug: it is logged and dropped, and the batch fails (store_failed). */
void reg_put(state *st, registry *r, const char *key, json_t *desc);
/* Removes key; its last description stays visible with status DELETED, its record not live. */
void reg_del(state *st, registry *r, const char *key);
/* A description visible under key, live or deleted (borrowed); NULL if neither. */
json_t *reg_get_any(registry *r, const char *key);

/* The live keys in order (cmp), as a fresh array of borrowed strings; *n receives the count. */
const char **reg_sorted_keys(registry *r, int (*cmp)(const char *, const char *), size_t *n);

/* "name:revision" ordering: by name, then by revision number. */
int reg_jd_key_cmp(const char *a, const char *b);
#endif
