/* model — see model.h. */
#include "server/model/model.h"
#include "server/model/retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/model/config.h"
#include "server/model/consumable.h"
#include "server/model/instance.h"
#include "server/model/events.h"
#include "server/model/instance_store.h"
#include "server/model/jobs.h"
#include "server/model/jobspec.h"
#include "server/model/registry.h"
#include "server/model/resource.h"

/* The server's own records, and the one a clean stop leaves. */
#define META_KIND "meta"
#define CLEAN_STOP_KEY "clean-stop"
#define EVENT_ID_KEY "event-id-prefix"

typedef struct {
    state *st;
    registry *r;
    char **err;
} load_arg;

static int load_one(void *arg, const char *key, const char *doc, size_t len)
{
    load_arg *la = arg;
    json_error_t e;
    json_t *v = json_loadb(doc, len, 0, &e);
    if (!json_is_object(v)) {
        *la->err = xasprintf("the store's %s record '%s' is not valid JSON: %s", la->r->kind,
                             key, e.text);
        json_decref(v);
        return -1;
    }
    /* One bad record should not keep the server from starting, nor crash it later. */
    char *why;
    if (la->r->fill && la->r->fill(la->st, la->r, key, v, &why) != 0) {
        log_error("store: skipping the %s record '%s': %s", la->r->kind, key, why);
        free(why);
        json_decref(v);
        return 0;
    }
    json_object_set_new(la->r->items, key, v);
    if (la->r == &la->st->jd) {
        const char *name = json_string_value(json_object_get(v, "jobDefinitionName"));
        json_int_t rev = json_integer_value(json_object_get(v, "revision"));
        if (name && rev > json_integer_value(json_object_get(la->st->jd_latest, name)))
            json_object_set_new(la->st->jd_latest, name, json_integer(rev));
    }
    return 0;
}

/* A status that was moving when the server stopped (CREATING, UPDATING, DELETING) completes at
 * start-up: the timer that would have completed it did not survive the stop. */
static void settle_transitional(state *st)
{
    registry *regs[] = {&st->ce, &st->jq};
    for (size_t r = 0; r < 2; r++) {
        size_t n;
        const char **keys = reg_sorted_keys(regs[r], strcmp, &n);
        for (size_t i = 0; i < n; i++) {
            /* A deleted environment whose instances the fleet still has (a reload after a
             * failed commit keeps the fleet) stays DELETING until they have gone
             * (engine/drain.c). */
            ce_rec *ce = r == 0 ? res_ce(st, keys[i]) : NULL;
            if (ce && ce->status == RES_DELETING && fleet_ce_mvcpus(st->fleet, ce->name) > 0)
                continue;
            res_settle(st, regs[r], keys[i]);
        }
        free(keys);
    }
}

/* A UUID's first four groups ("xxxxxxxx-xxxx-4xxx-yxxx", as util_uuid makes them): hex digits
 * and dashes in their places (a record written otherwise is made anew). */
static int event_id_prefix_valid(const char *p)
{
    if (strlen(p) != 23) return 0;
    for (int i = 0; i < 23; i++)
        if (i == 8 || i == 13 || i == 18 ? p[i] != '-' : !strchr("0123456789abcdef", p[i]))
            return 0;
    return 1;
}

static int read_meta(void *arg, const char *key, const char *doc, size_t len)
{
    state *st = arg;
    if (strcmp(key, EVENT_ID_KEY) == 0) {
        json_t *d = json_loadb(doc, len, 0, NULL);
        const char *p = json_string_value(json_object_get(d, "prefix"));
        if (p && event_id_prefix_valid(p))
            snprintf(st->event_id_prefix, sizeof st->event_id_prefix, "%s", p);
        json_decref(d);
        return 0;
    }
    if (strcmp(key, CLEAN_STOP_KEY) != 0) return 0;
    st->clean_stop = 1;
    json_t *d = json_loadb(doc, len, 0, NULL);
    json_t *at = json_object_get(d, "at");
    st->clean_stop_at = json_is_integer(at) ? (int64_t)json_integer_value(at) : 0;
    json_decref(d);
    return 0;
}

static job *find_job(state *st, const char *id)
{
    return jobs_find(st->jobs, id);
}

static void model_free_keeping(state *st, fleet *kept)
{
    /* A failed reload gives the kept fleet back to the state it came from. */
    if (kept) st->fleet = NULL;
    model_free(st);
}

static state *load(store *db, fleet *kept, char **err)
{
    state *st = xcalloc(1, sizeof *st);
    st->db = db;
    st->fleet = kept ? kept : fleet_new(); /* freed with st if loading fails */
    registry *regs[] = {&st->ce, &st->jq, &st->jd, &st->sp, &st->cr};
    const char *kinds[] = {"ce", "jq", "jd", "sp", "cr"};
    st->jd_latest = json_object();
    /* Before the registries: a queue's typed record holds its jobs' index. */
    st->jobs = jobs_new();
    *err = NULL;
    for (size_t i = 0; i < 5; i++) {
        regs[i]->kind = kinds[i];
        regs[i]->items = json_object();
        regs[i]->deleted = json_object();
    }
    /* Environments and queues have typed records that follow every change (resource.h). */
    for (size_t i = 0; i < 2; i++) {
        regs[i]->fill = res_fill;
        regs[i]->forget = res_forget;
    }
    for (size_t i = 0; i < 5; i++) {
        load_arg la = {st, regs[i], err};
        if (store_scan(db, kinds[i], load_one, &la) != 0) {
            if (!*err)
                *err = xasprintf("reading the store failed: %s", store_errmsg(db));
            model_free_keeping(st, kept);
            return NULL;
        }
    }
    settle_transitional(st);
    if (store_scan(db, META_KIND, read_meta, st) != 0) {
        *err = xasprintf("reading the store failed: %s", store_errmsg(db));
        model_free_keeping(st, kept);
        return NULL;
    }
    if (!st->event_id_prefix[0]) {
        char uuid[37];
        util_uuid(uuid);
        snprintf(st->event_id_prefix, sizeof st->event_id_prefix, "%.23s", uuid);
        st->save_event_id_prefix = 1;
    }
    st->forget_clean_stop = st->clean_stop;
    /* The instances before the jobs: the attempts under way go back on them (attempt_recover).
     * After a failed commit the fleet is the one kept, not the store's. */
    if (!kept && instance_store_load(st, err) != 0) {
        model_free_keeping(st, kept);
        return NULL;
    }
    /* Shares first: the attempts jobs_load finds under way add to their usage from now on. */
    if (jobs_load_shares(st, err) != 0 || jobs_load(st, err) != 0 ||
        retention_load(st, err) != 0) {
        model_free_keeping(st, kept);
        return NULL;
    }
    /* The events after the jobs they name; from now on every change of status makes one. */
    st->events = events_new((uint64_t)barge_cfg.events_kept);
    if (events_load(st, find_job, err) != 0) {
        model_free_keeping(st, kept);
        return NULL;
    }
    st->jobs->events = st->events;
    return st;
}

state *model_load(store *db, char **err)
{
    return load(db, NULL, err);
}

static void free_members(state *st);

int model_reload(state *st, char **err)
{
    /* The transaction was rolled back, so spec records written in it are gone too; loading
     * marks again those that are stored. */
    jobspec_forget_stored();
    fleet *kept = fleet_detach(st);
    state *fresh = load(st->db, kept, err);
    if (!fresh) {
        /* The store could not be read (a database gone away): the core stands still and tries
         * again; the fleet stays with the old state, which is freed or replaced later. */
        st->fleet = kept;
        return -1;
    }
    fresh->logs = st->logs;
    state old = *st;
    events_take_waiters(fresh->events, old.events);
    *st = *fresh;
    free(fresh);
    /* What the old state held, its fleet excepted (it moved to the fresh one). */
    old.fleet = NULL;
    free_members(&old);
    return 0;
}

void model_note_clean_stop(state *st)
{
    char doc[64];
    snprintf(doc, sizeof doc, "{\"at\":%lld}", (long long)util_now_ms());
    if (store_put(st->db, META_KIND, CLEAN_STOP_KEY, doc, strlen(doc)) != 0) {
        log_error("store: recording the clean stop failed: %s", store_errmsg(st->db));
        st->store_failed = 1;
    }
    st->forget_clean_stop = 0;
}

void model_save_event_id_prefix(state *st)
{
    char doc[64];
    snprintf(doc, sizeof doc, "{\"prefix\":\"%s\"}", st->event_id_prefix);
    if (store_put(st->db, META_KIND, EVENT_ID_KEY, doc, strlen(doc)) != 0) {
        log_error("store: recording the events' id prefix failed: %s", store_errmsg(st->db));
        st->store_failed = 1;
    }
    st->save_event_id_prefix = 0;
}

void model_forget_clean_stop(state *st)
{
    if (store_del(st->db, META_KIND, CLEAN_STOP_KEY) != 0) {
        log_error("store: deleting the clean stop record failed: %s", store_errmsg(st->db));
        st->store_failed = 1;
    }
    st->forget_clean_stop = 0;
}

static void free_members(state *st)
{
    registry *regs[] = {&st->ce, &st->jq, &st->jd, &st->sp, &st->cr};
    for (size_t i = 0; i < 5; i++) {
        json_decref(regs[i]->items);
        json_decref(regs[i]->deleted);
    }
    json_decref(st->jd_latest);
    events_free(st->events);
    consumable_free(st);
    res_free(st);
    jobs_free(st->jobs);
    fleet_free(st->fleet);
}

void model_free(state *st)
{
    if (!st) return;
    free_members(st);
    free(st);
}
