/* api_fleet — barge's own operations on its instances, for operators (`barge fleet`):
 * ListInstances, DrainInstance, TerminateInstance and ReclaimInstance, under /barge/v1/, signed
 * as the AWS API is and authorized as batch:<operation>.
 *
 * Draining lets an instance's attempts finish and takes no new ones; the instance then goes
 * (a local one's agent exits; a remote agent is told to shut down).  Terminating ends it at
 * once, its attempts as a lost host's.  Reclaiming is the Spot drill: only an instance of a
 * SPOT environment, ended as EC2 ends reclaimed Spot capacity (the same statusReason, which
 * evaluateOnExit rules such as onStatusReason "Host EC2*" match). */
#include <stdlib.h>
#include <string.h>

#include "common/dict.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/model/instance.h"
#include "server/model/jobs.h"
#include "server/model/state.h"
#include "server/engine/drain.h"
#include "server/engine/fleet.h"
#include "server/api/api.h"

static const char *state_of(const instance *in)
{
    if (!in->registered) return "STARTING";
    return in->draining ? "DRAINING" : "READY";
}

static json_t *describe_instance(const instance *in, int64_t now)
{
    json_t *held = json_array();
    for (const job *j = in->jobs; j; j = j->inst_next)
        json_array_append_new(held, json_string(j->id));
    json_t *d = json_pack(
        "{s:s, s:s, s:s, s:s, s:f, s:f, s:i, s:i, s:i, s:i, s:o, s:b, s:s, s:s}", "instanceId",
        in->id, "computeEnvironment", in->ce, "instanceType", in->type ? in->type : "",
        "state", state_of(in), "vcpus", in->mvcpus / 1000.0, "vcpusUsed",
        in->used_mvcpus / 1000.0, "memoryMiB", in->memory_mib, "memoryUsedMiB",
        in->used_memory, "gpus", in->gpus, "gpusUsed", in->used_gpus, "jobs", held, "local",
        in->local, "hostname", in->hostname ? in->hostname : "", "executor",
        in->executor ? in->executor : "");
    if (in->address) json_object_set_new(d, "address", json_string(in->address));
    /* Which provider launched it (none: an operator started its agent). */
    if (in->local || in->exec)
        json_object_set_new(d, "provider", json_string(in->local ? "local" : "exec"));
    if (in->draining && in->drain_why)
        json_object_set_new(d, "drainReason", json_string(in->drain_why));
    if (in->registered)
        json_object_set_new(d, "lastHeartbeatSecondsAgo",
                            json_real((double)(now - in->last_seen) / 1000.0));
    return d;
}

static int by_ce_then_id(const void *a, const void *b)
{
    const instance *x = *(const instance *const *)a, *y = *(const instance *const *)b;
    int c = strcmp(x->ce, y->ce);
    return c ? c : strcmp(x->id, y->id);
}

static int list_instances(api_ctx *c, json_t *req, json_t **resp)
{
    const char *ce = api_str(req, "computeEnvironment");
    dict *all = &c->st->fleet->instances;
    instance **v = malloc((all->len ? all->len : 1) * sizeof *v);
    size_t n = 0, i = 0;
    const char *k;
    void *val;
    while (dict_next(all, &i, &k, &val)) {
        instance *in = val;
        if (!ce || strcmp(in->ce, ce) == 0) v[n++] = in;
    }
    qsort(v, n, sizeof *v, by_ce_then_id);
    json_t *list = json_array();
    int64_t now = util_mono_ms();
    for (size_t x = 0; x < n; x++) json_array_append_new(list, describe_instance(v[x], now));
    free(v);
    *resp = json_pack("{s:o}", "instances", list);
    return 0;
}

static instance *find(api_ctx *c, json_t *req)
{
    const char *id = api_str(req, "instanceId");
    if (api_check_instance_id(c, id, "instanceId") < 0) return NULL;
    instance *in = instance_find(c->st->fleet, id);
    if (!in) api_client_error(c, "instanceId: no instance '%s' in this server's fleet", id);
    return in;
}

static int drain_op(api_ctx *c, json_t *req, json_t **resp)
{
    instance *in = find(c, req);
    if (!in) return -1;
    drain_instance(c->st, in, DRAIN_WHY_OPERATOR);
    *resp = json_pack("{s:s, s:s, s:i}", "instanceId", in->id, "state", state_of(in), "attempts",
                      in->n_jobs);
    return 0;
}

static int terminate_instance(api_ctx *c, json_t *req, json_t **resp)
{
    instance *in = find(c, req);
    if (!in) return -1;
    char *id = xstrdup(in->id);
    fleet_end(c->st, in, "an operator terminated it");
    *resp = json_pack("{s:s}", "instanceId", id);
    free(id);
    return 0;
}

static int reclaim_instance(api_ctx *c, json_t *req, json_t **resp)
{
    instance *in = find(c, req);
    if (!in) return -1;
    char *id = xstrdup(in->id), *ce = xstrdup(in->ce);
    int rc = 0;
    if (fleet_reclaim(c->st, in) < 0)
        rc = api_client_error(c, "instanceId: instance %s belongs to compute environment %s, "
                                 "which is not SPOT; only Spot capacity is reclaimed (terminate "
                                 "the instance instead)", id, ce);
    else
        *resp = json_pack("{s:s}", "instanceId", id);
    free(id);
    free(ce);
    return rc;
}

api_op api_fleet_ops[] = {
    {"ListInstances", "POST", "/barge/v1/listinstances", "{computeEnvironment:s}",
     list_instances, 0, NULL},
    {"DrainInstance", "POST", "/barge/v1/draininstance", "{instanceId:s!}", drain_op, 0,
     NULL},
    {"TerminateInstance", "POST", "/barge/v1/terminateinstance", "{instanceId:s!}",
     terminate_instance, 0, NULL},
    {"ReclaimInstance", "POST", "/barge/v1/reclaiminstance", "{instanceId:s!}",
     reclaim_instance, 0, NULL},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
