/* model — the whole model at once: loading it from the store, loading it again after a failed
 * commit, freeing it, and the record a clean stop leaves.  Runs on the core thread (or before it
 * starts). */
#ifndef BARGE_MODEL_H
#define BARGE_MODEL_H
#include "server/base/store.h"
#include "server/model/state.h"

/* Loads every record from the store.  NULL and *err on failure. */
state *model_load(store *db, char **err);
/* Loads the state again after a failed commit, in place (st stays the same object), keeping its
 * fleet and log store: the agents still run what the store says they run, and the engine puts
 * those attempts back on them (attempt_recover) before the parked polls are answered
 * (fleet_resume).  On failure returns -1 with *err, and st must not be used again. */
int model_reload(state *st, char **err);
void model_free(state *st);

/* A clean stop leaves a record in its final transaction; the next start reads it and deletes it
 * with its first commit (model_forget_clean_stop), so that a crash after that start is a crash
 * again. */
void model_note_clean_stop(state *st);
void model_forget_clean_stop(state *st);
/* Stores the events' id prefix made at this start (state.h), in the batch being committed. */
void model_save_event_id_prefix(state *st);
#endif
