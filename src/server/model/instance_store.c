/* instance_store — see instance_store.h. */
#include "server/model/instance_store.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/base/agent_ident.h"
#include "server/base/store.h"
#include "server/model/instance.h"
#include "server/model/state.h"

#define INSTANCE_KIND "inst"

/* An instance the exec provider launched whose agent has yet to register: what the launch
 * made of it, the digest of its launch token (which its agent registers with, to this server or
 * the next) and its terminate command (which runs should it never register). */
static json_t *launching_record(const instance *in)
{
    char launch[AGENT_IDENT_DIGEST_HEX];
    if (agent_ident_launch_export(in->id, launch) != 0) return NULL;
    json_t *r = json_pack("{s:s, s:s, s:i, s:i, s:i, s:b, s:b, s:s}", "ce", in->ce, "type",
                          in->type ? in->type : "custom", "mvcpus", in->mvcpus, "memoryMiB",
                          in->memory_mib, "gpus", in->gpus, "exec", 1, "launching", 1,
                          "launchToken", launch);
    if (in->terminate_cmd) json_object_set_new(r, "terminate", json_string(in->terminate_cmd));
    return r;
}

static json_t *record(const instance *in)
{
    if (!in->registered) return launching_record(in);
    char cur[AGENT_IDENT_DIGEST_HEX], prev[AGENT_IDENT_DIGEST_HEX];
    if (agent_ident_export(in->id, cur, prev) != 0) return NULL;
    json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:b, s:b, s:s}", "ce", in->ce,
                          "type", in->type ? in->type : "custom", "hostname",
                          in->hostname ? in->hostname : "", "executor",
                          in->executor ? in->executor : "process", "mvcpus", in->mvcpus,
                          "memoryMiB", in->memory_mib, "gpus", in->gpus, "local", in->local,
                          "draining", in->draining, "credential", cur);
    if (*prev) json_object_set_new(r, "previousCredential", json_string(prev));
    if (in->address) json_object_set_new(r, "address", json_string(in->address));
    if (in->exec) {
        json_object_set_new(r, "exec", json_true());
        if (in->terminate_cmd)
            json_object_set_new(r, "terminate", json_string(in->terminate_cmd));
    }
    if (in->mem_note) json_object_set_new(r, "memNote", json_string(in->mem_note));
    if (in->drain_why) json_object_set_new(r, "drainReason", json_string(in->drain_why));
    if (in->profile) json_object_set_new(r, "instanceRole", json_string(in->profile));
    if (in->stopped_by_server) json_object_set_new(r, "stoppedByServer", json_true());
    if (in->local && in->pid > 0) {
        json_object_set_new(r, "pid", json_integer(in->pid));
        json_object_set_new(r, "pidStart", json_integer((json_int_t)in->pid_start));
        if (in->pid_view[0]) json_object_set_new(r, "pidView", json_string(in->pid_view));
    }
    if (in->has_client_token) {
        char tok[2 * sizeof in->client_token + 1];
        util_hex(in->client_token, sizeof in->client_token, tok);
        json_object_set_new(r, "clientToken", json_string(tok));
    }
    return r;
}

void instance_store_flush(state *st)
{
    fleet *f = st->fleet;
    for (size_t r = 0; r < f->n_removed; r++) {
        if (store_del(st->db, INSTANCE_KIND, f->removed[r]) != 0) {
            log_error("store: deleting instance %s failed: %s", f->removed[r],
                      store_errmsg(st->db));
            st->store_failed = 1;
        }
        free(f->removed[r]);
    }
    f->n_removed = 0;
    size_t i = 0;
    const char *k;
    void *v;
    while (f->n_dirty && dict_next(&f->instances, &i, &k, &v)) {
        instance *in = v;
        if (!in->dirty) continue;
        in->dirty = 0;
        f->n_dirty--;
        /* Only a registered instance has an agent that can come back to it (registering marks
         * it dirty again), and one the exec provider launched, whose agent may register with the
         * next server and whose machine goes by its terminate command if it does not (a local
         * agent still starting stops when the next server refuses it: it leaves nothing). */
        if (!in->registered && !in->exec) continue;
        json_t *r = record(in);
        if (!r) continue;
        char *doc = json_dumps(r, JSON_COMPACT);
        json_decref(r);
        if (store_put(st->db, INSTANCE_KIND, in->id, doc, strlen(doc)) != 0) {
            log_error("store: writing instance %s failed: %s", in->id, store_errmsg(st->db));
            st->store_failed = 1;
        } else {
            in->stored = 1;
        }
        free(doc);
    }
}

static char *dup_member(json_t *r, const char *name, const char *dflt)
{
    const char *s = json_string_value(json_object_get(r, name));
    return s ? xstrdup(s) : dflt ? xstrdup(dflt) : NULL;
}

/* The 32 bytes whose hexadecimal s is; -1 when it is not. */
static int unhex32(const char *s, unsigned char out[32])
{
    return util_unhex_bytes(s, out, 32);
}

static int load_one(void *arg, const char *key, const char *doc, size_t len)
{
    state *st = arg;
    json_t *r = json_loadb(doc, len, 0, NULL);
    const char *ce = json_string_value(json_object_get(r, "ce"));
    json_int_t mvcpus = json_integer_value(json_object_get(r, "mvcpus"));
    json_int_t mem = json_integer_value(json_object_get(r, "memoryMiB"));
    int launching = json_is_true(json_object_get(r, "launching"));
    if (!ce || mvcpus < 1 || mem < 1 || instance_find(st->fleet, key) ||
        (launching && !json_is_true(json_object_get(r, "exec")))) {
        log_error("store: skipping the instance record '%s': it is not one this server wrote",
                  key);
        json_decref(r);
        return 0;
    }
    /* Without its credential its agent cannot be told from an intruder: the instance is lost
     * at the heartbeat deadline (and its record deleted), and its agent registers again.  An
     * instance still launching has its launch token instead: without it, it is lost at the
     * registration deadline and its terminate command runs. */
    if (launching) {
        if (agent_ident_launch_restore(key, json_string_value(json_object_get(r, "launchToken")))
            != 0)
            log_error("store: instance %s has no launch token on record; its agent cannot "
                      "register and the instance will be terminated", key);
    } else if (agent_ident_restore(key, json_string_value(json_object_get(r, "credential")),
                            json_string_value(json_object_get(r, "previousCredential"))) != 0)
        log_error("store: instance %s has no credential on record; its agent must register "
                  "again", key);
    instance *in = instance_new(st->fleet, key, ce);
    in->type = dup_member(r, "type", "custom");
    in->hostname = dup_member(r, "hostname", "");
    in->executor = dup_member(r, "executor", "process");
    in->address = dup_member(r, "address", NULL);
    in->mem_note = dup_member(r, "memNote", NULL);
    in->profile = dup_member(r, "instanceRole", NULL);
    in->mvcpus = (int)mvcpus;
    in->memory_mib = (int)mem;
    in->gpus = (int)json_integer_value(json_object_get(r, "gpus"));
    in->local = json_is_true(json_object_get(r, "local"));
    in->exec = json_is_true(json_object_get(r, "exec"));
    in->terminate_cmd = dup_member(r, "terminate", NULL);
    in->draining = json_is_true(json_object_get(r, "draining"));
    in->drain_why = in->draining ? dup_member(r, "drainReason", NULL) : NULL;
    in->stopped_by_server = json_is_true(json_object_get(r, "stoppedByServer"));
    in->pid = (pid_t)json_integer_value(json_object_get(r, "pid"));
    in->pid_start = (unsigned long long)json_integer_value(json_object_get(r, "pidStart"));
    const char *view = json_string_value(json_object_get(r, "pidView"));
    snprintf(in->pid_view, sizeof in->pid_view, "%s", view ? view : "");
    in->has_client_token =
        unhex32(json_string_value(json_object_get(r, "clientToken")), in->client_token) == 0;
    /* A launching one keeps the registration deadline, counted from this start: the time the
     * server was down is not time its agent was silent (engine/fleet.c). */
    in->registered = !launching;
    in->stored = 1;
    in->recovered = 1;
    json_decref(r);
    return 0;
}

int instance_store_load(state *st, char **err)
{
    if (store_scan(st->db, INSTANCE_KIND, load_one, st) != 0) {
        *err = xasprintf("reading the store failed: %s", store_errmsg(st->db));
        return -1;
    }
    return 0;
}
