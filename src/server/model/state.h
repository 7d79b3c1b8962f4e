/* state — the scheduler's state in memory, owned by the core thread: what it is made of.
 *
 * A header alone, so that every part of the model can know the whole without the whole knowing
 * its parts: the registries' functions are in registry.h, loading and freeing it all in
 * model.h.  Resources (compute environments, queues, job definitions, scheduling policies) are
 * kept as their AWS descriptions, in registries indexed by key. */
#ifndef BARGE_STATE_H
#define BARGE_STATE_H
#include <jansson.h>
#include <stddef.h>

#include "server/base/store.h"

struct state;

typedef struct registry {
    const char *kind; /* the store's record kind */
    json_t *items;    /* key -> description */
    json_t *deleted;  /* key -> last description, status DELETED, kept for Describe */
    /* Hooks of the module that keeps typed records of this kind (resource.h), so that the
     * records follow every change.  fill parses desc (0), or refuses it (-1 and *why, fresh). */
    int (*fill)(struct state *st, struct registry *r, const char *key, json_t *desc, char **why);
    void (*forget)(struct state *st, struct registry *r, const char *key);
} registry;

typedef struct state {
    store *db;
    int store_failed; /* a write of the current batch failed; the core rolls back */
    registry ce, jq, jd, sp;
    registry cr;       /* consumable resources (consumable.h) */
    struct consumable_index *consumables; /* what their jobs hold (consumable.h) */
    json_t *jd_latest; /* job definition name -> highest revision ever registered */
    struct jobs *jobs;   /* every job (jobs.h) */
    struct fleet *fleet; /* every instance (instance.h) */
    struct events *events; /* job state change events (events.h) */
    struct logstore *logs; /* job logs; the server hands it over (NULL in some unit tests) */
    struct res_index *res; /* typed records of ce and jq (resource.h), kept by reg_put/reg_del */
    int clean_stop;        /* the server was stopped cleanly before this start */
    int64_t clean_stop_at; /* when (epoch ms; 0: not said, a record older than the time) */
    int64_t alive_at;      /* when the server last ran before this start (server_alive.h), 0 */
    int forget_clean_stop; /* the record that says so is deleted by the next commit */
    /* The first four groups of every event's id (a UUID, as EventBridge's), random and kept
     * with the store, the event's number the last: ids differ between data directories. */
    char event_id_prefix[24];
    int save_event_id_prefix; /* made at this start: stored by the next commit */
} state;

#endif
