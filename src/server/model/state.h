/* state — the scheduler's state in memory, owned by the core thread.
 *
 * Resources (compute environments, queues, job definitions, scheduling policies) are kept as
 * their AWS descriptions, in registries indexed by key.  Every change goes through reg_put or
 * reg_del, which also writes the record to the store inside the core's open transaction, so the
 * memory and the disk cannot drift apart. */
#ifndef BARGE_STATE_H
#define BARGE_STATE_H
#include <jansson.h>
#include <stddef.h>

#include "server/base/store.h"

typedef struct registry {
    const char *kind; /* the store's record kind */
    json_t *items;    /* key -> description */
    json_t *deleted;  /* key -> last description, status DELETED, kept for Describe */
} registry;

typedef struct state {
    store *db;
    int store_failed; /* a write of the current batch failed; the core rolls back */
    registry ce, jq, jd, sp;
    json_t *jd_latest; /* job definition name -> highest revision ever registered */
    struct jobs *jobs;   /* every job (jobs.h) */
    struct fleet *fleet; /* every instance (instance.h) */
    struct logstore *logs; /* job logs; the server hands it over (NULL in some unit tests) */
    struct res_index *res; /* typed records of ce and jq (resource.h), kept by reg_put/reg_del */
    int clean_stop;        /* the server was stopped cleanly before this start */
    int forget_clean_stop; /* the record that says so is deleted by the next commit */
} state;

/* Loads every record from the store.  NULL and *err on failure. */
state *state_load(store *db, char **err);
/* Loads the state again after a failed commit, in place (st stays the same object), keeping its
 * fleet and log store: the agents still run what the store says they run, and the engine puts
 * those attempts back on them (attempt_recover) before the parked polls are answered
 * (fleet_resume).  On failure returns -1 with *err, and st must not be used again. */
int state_reload(state *st, char **err);
void state_free(state *st);

/* A clean stop leaves a record in its final transaction; the next start reads it and deletes it
 * with its first commit (state_forget_clean_stop), so that a crash after that start is a crash
 * again. */
void state_note_clean_stop(state *st);
void state_forget_clean_stop(state *st);

json_t *reg_get(registry *r, const char *key); /* borrowed; NULL if absent */
/* Stores desc under key (taking the caller's reference) in memory and in the store, and parses
 * an environment's or queue's into its record (resource.h).  A description the record cannot be
 * parsed from is a bug: it is logged and dropped, and the batch fails (store_failed). */
void reg_put(state *st, registry *r, const char *key, json_t *desc);
/* Removes key; its last description stays visible with status DELETED, its record not live. */
void reg_del(state *st, registry *r, const char *key);
/* A description visible under key, live or deleted (borrowed); NULL if neither. */
json_t *reg_get_any(registry *r, const char *key);

/* The live keys in order (cmp), as a fresh array of borrowed strings; *n receives the count. */
const char **reg_sorted_keys(registry *r, int (*cmp)(const char *, const char *), size_t *n);

/* "name:revision" ordering: by name, then by revision number. */
int state_jd_key_cmp(const char *a, const char *b);
#endif
