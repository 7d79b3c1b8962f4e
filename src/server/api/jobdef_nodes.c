/* jobdef_nodes — SubmitJob of a multi-node parallel job: nodeOverrides, and the job's
 * nodeProperties with every node range's container resolved.
 *
 * Decisions where AWS documents no rule barge could follow here: a nodePropertyOverrides entry
 * applies to the definition's node range whose targetNodes it spells the same way (an override
 * that names no range is refused, as an override that would split ranges could not be said
 * plainly); a multi-node job is not an array job (AWS refuses arrayProperties with it) and takes
 * nodeOverrides instead of containerOverrides; a retryStrategy attempts the whole job again, all
 * its nodes together (model/jobs.c).  FARGATE is refused, as AWS does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/catalog.h"
#include "common/mem.h"
#include "server/model/config.h"
#include "server/api/api.h"
#include "server/api/jobdef.h"

int jobdef_nodes_count(api_ctx *c, json_t *def, json_t *req, int *nodes)
{
    json_t *np = json_object_get(def, "nodeProperties");
    json_t *no = json_object_get(req, "nodeOverrides");
    if (json_object_get(req, "arrayProperties"))
        return api_client_error(c, "arrayProperties: a multi-node parallel job cannot be an "
                                   "array job; remove it");
    if (json_object_get(req, "containerOverrides"))
        return api_client_error(c, "containerOverrides: a multi-node parallel job's containers "
                                   "are overridden per node range with "
                                   "nodeOverrides.nodePropertyOverrides");
    json_t *caps = json_object_get(def, "platformCapabilities");
    for (size_t i = 0; i < json_array_size(caps); i++)
        if (strcmp(json_string_value(json_array_get(caps, i)), "FARGATE") == 0)
            return api_client_error(c, "jobDefinition: multi-node parallel jobs do not run on "
                                       "FARGATE, as on AWS");
    json_int_t n = json_integer_value(json_object_get(np, "numNodes"));
    if (json_object_get(no, "numNodes")) n = json_integer_value(json_object_get(no, "numNodes"));
    if (n < 1 || n > barge_cfg.max_array_size)
        return api_client_error(c, "nodeOverrides.numNodes: must be between 1 and %d (got %lld)",
                                barge_cfg.max_array_size, (long long)n);
    json_int_t main_node = json_integer_value(json_object_get(np, "mainNode"));
    if (main_node >= n)
        return api_client_error(c, "nodeOverrides.numNodes: %lld nodes leave out the main node "
                                   "(node %lld) of the job definition", (long long)n,
                                (long long)main_node);
    *nodes = (int)n;
    return 0;
}

/* The override of a range, by its targetNodes as written. */
static json_t *override_of(json_t *overrides, const char *target)
{
    size_t i;
    json_t *o;
    json_array_foreach(overrides, i, o) {
        const char *t = json_string_value(json_object_get(o, "targetNodes"));
        if (t && strcmp(t, target) == 0) return o;
    }
    return NULL;
}

json_t *jobdef_nodes_resolve(api_ctx *c, json_t *def, json_t *req, int nodes)
{
    json_t *np = json_object_get(def, "nodeProperties");
    json_t *ranges = json_object_get(np, "nodeRangeProperties");
    json_t *overrides = json_object_get(json_object_get(req, "nodeOverrides"),
                                        "nodePropertyOverrides");
    size_t i;
    json_t *o, *r;
    json_array_foreach(overrides, i, o) {
        const char *t = json_string_value(json_object_get(o, "targetNodes"));
        int found = 0;
        json_t *x;
        size_t k;
        json_array_foreach(ranges, k, x)
            found |= t && strcmp(t, json_string_value(json_object_get(x, "targetNodes"))) == 0;
        if (!found) {
            api_client_error(c, "nodeOverrides.nodePropertyOverrides[%zu].targetNodes: '%.32s' "
                                "is not one of the job definition's node ranges; write it as "
                                "the definition does", i, t ? t : "");
            return NULL;
        }
        if (override_of(overrides, t) != o) {
            api_client_error(c, "nodeOverrides.nodePropertyOverrides[%zu].targetNodes: '%.32s' "
                                "is overridden twice; give one override per node range", i, t);
            return NULL;
        }
        /* As the definition's node ranges are refused them (jobdef_check.c). */
        static const char *const others[] = {"ecsPropertiesOverride", "eksPropertiesOverride",
                                             "consumableResourcePropertiesOverride", NULL};
        for (const char *const *m = others; *m; m++) {
            if (json_object_get(o, *m)) {
                api_client_error(c, "nodeOverrides.nodePropertyOverrides[%zu].%s: barge runs "
                                    "each node as one container and does not support %s; "
                                    "override the node's container in containerOverrides "
                                    "instead", i, *m, *m);
                return NULL;
            }
        }
        json_t *types = json_object_get(o, "instanceTypes");
        const char *type0 = json_string_value(json_array_get(types, 0));
        if (json_array_size(types) > 1 || (type0 && !catalog_spec_valid(type0))) {
            api_client_error(c, "nodeOverrides.nodePropertyOverrides[%zu].instanceTypes: at most "
                                "one instance type barge knows (for example m5.large)", i);
            return NULL;
        }
        char f[96], g[128];
        snprintf(f, sizeof f, "nodeOverrides.nodePropertyOverrides[%zu].containerOverrides", i);
        json_t *ov = json_object_get(o, "containerOverrides");
        snprintf(g, sizeof g, "%s.environment", f);
        if (jobdef_check_environment(c, json_object_get(ov, "environment"), g) < 0) return NULL;
        snprintf(g, sizeof g, "%s.command", f);
        if (jobdef_check_command(c, json_object_get(ov, "command"), g) < 0) return NULL;
        snprintf(g, sizeof g, "%s.resourceRequirements", f);
        if (jobdef_check_requirements(c, json_object_get(ov, "resourceRequirements"), 0, g) < 0)
            return NULL;
        const char *itype = json_string_value(json_object_get(ov, "instanceType"));
        if (itype && !catalog_find(itype)) {
            api_client_error(c, "%s.instanceType: '%.64s' is not an instance type barge knows "
                                "(for example m5.large)", f, itype);
            return NULL;
        }
    }
    json_t *out = json_array();
    json_array_foreach(ranges, i, r) {
        const char *t = json_string_value(json_object_get(r, "targetNodes"));
        long long lo, hi;
        if (!t || jobdef_parse_node_range(t, nodes, &lo, &hi) < 0) {
            api_client_error(c, "nodeProperties.nodeRangeProperties[%zu].targetNodes: '%.32s' is "
                                "not a node range", i, t ? t : "");
            goto fail;
        }
        if (lo >= nodes) continue; /* a range beyond an overridden numNodes runs no node */
        json_t *d = json_pack("{s:O, s:O*}", "containerProperties",
                              json_object_get(r, "container"), "parameters",
                              json_object_get(def, "parameters"));
        json_t *ov = override_of(overrides, t);
        json_t *rq = json_pack("{s:O*, s:O*}", "containerOverrides",
                               json_object_get(ov, "containerOverrides"), "parameters",
                               json_object_get(req, "parameters"));
        json_t *cont = jobdef_resolve_container(c, d, rq);
        json_decref(d);
        json_decref(rq);
        if (!cont) goto fail;
        /* A range's container is AWS's ContainerProperties, which has no networkInterfaces;
         * each node's own container is a ContainerDetail and gets them (jobspec_node). */
        json_object_del(cont, "networkInterfaces");
        double vcpus;
        long long mem, gpus;
        jobdef_resources(cont, &vcpus, &mem, &gpus);
        if (vcpus <= 0 || mem <= 0) {
            json_decref(cont);
            api_client_error(c, "nodeProperties.nodeRangeProperties[%zu]: the nodes %s need a "
                                "VCPU and a MEMORY requirement above 0", i, t);
            goto fail;
        }
        /* AWS: all node groups of a job use the same instance type; an override may not
         * make them differ. */
        const char *ct = json_string_value(json_object_get(cont, "instanceType"));
        json_t *x;
        size_t k;
        json_array_foreach(out, k, x) {
            const char *xt = json_string_value(
                json_object_get(json_object_get(x, "container"), "instanceType"));
            if (ct && xt && strcmp(ct, xt) != 0) {
                api_client_error(c, "nodeOverrides.nodePropertyOverrides: the nodes %s would run "
                                    "on %s and the nodes %s on %s; all node groups must use the "
                                    "same instance type", t, ct,
                                 json_string_value(json_object_get(x, "targetNodes")), xt);
                json_decref(cont);
                goto fail;
            }
        }
        json_array_append_new(out, json_pack("{s:s, s:o}", "targetNodes", t, "container", cont));
    }
    /* Every node in exactly the ranges the definition gives it; one at least. */
    for (int node = 0; node < nodes; node++) {
        int covered = 0;
        json_array_foreach(out, i, r) {
            long long lo, hi;
            jobdef_parse_node_range(json_string_value(json_object_get(r, "targetNodes")), nodes,
                                    &lo, &hi);
            covered |= node >= lo && node <= hi;
        }
        if (!covered) {
            api_client_error(c, "nodeOverrides.numNodes: node %d is in none of the job "
                                "definition's node ranges; give fewer nodes or a definition "
                                "whose ranges cover them", node);
            goto fail;
        }
    }
    return json_pack("{s:i, s:O, s:o}", "numNodes", nodes, "mainNode",
                     json_object_get(np, "mainNode"), "nodeRangeProperties", out);
fail:
    json_decref(out);
    return NULL;
}
