/* api_ce — compute environments: Create, Describe, Update, Delete.
 *
 * A compute environment's status moves CREATING -> VALID, UPDATING -> VALID and
 * DELETING -> DELETED on the core's next turn, the way AWS reports its own provisioning; clients
 * that wait for VALID (as the AWS CLI's waiters and Terraform do) work unchanged. */
#include <stdlib.h>
#include <string.h>

#include "common/catalog.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/base/core.h"
#include "server/model/arn.h"
#include "server/model/config.h"
#include "server/model/registry.h"
#include "server/model/resource.h"
#include "server/model/state.h"
#include "server/engine/drain.h"
#include "server/engine/fleet.h"
#include "server/api/api.h"

#define USERDATA_TYPES "e(EKS_BOOTSTRAP_SH|EKS_NODEADM)"
#define RESOURCE_SHAPE_COMMON                                                                 \
    "minvCpus:" API_VCPUS_SHAPE ", maxvCpus:" API_VCPUS_SHAPE ", desiredvCpus:" API_VCPUS_SHAPE \
    ", instanceTypes:[s], imageId:s, subnets:[s],"                                            \
    "securityGroupIds:[s], ec2KeyPair:s, instanceRole:s, tags:m<s>, placementGroup:s,"        \
    "bidPercentage:i(0..100), spotIamFleetRole:s,"                                            \
    "launchTemplate:{launchTemplateId:s, launchTemplateName:s, version:s,"                    \
    "  userdataType:" USERDATA_TYPES ", overrides:[{launchTemplateId:s, launchTemplateName:s," \
    "  version:s, targetInstanceTypes:[s], userdataType:" USERDATA_TYPES "}]},"               \
    "ec2Configuration:[{imageType:s(1..256)!, imageIdOverride:s(1..256),"                     \
    "  imageKubernetesVersion:s(1..256)}],"                                                   \
    "scalingPolicy:{minScaleDownDelayMinutes:i}"

#define CR_TYPES "e(EC2|SPOT|FARGATE|FARGATE_SPOT)"

/* The environment v names (by name or ARN), or NULL after reporting the error. */
static ce_rec *find_ce(api_ctx *c, const char *v, const char *field)
{
    char *name = api_name_or_arn(c, v, ARN_CE, field);
    if (!name) return NULL;
    ce_rec *ce = res_ce(c->st, name);
    /* "does not exist", as AWS words it: Terraform's destroy of an environment already gone
     * looks for those words. */
    if (!ce) api_client_error(c, "%s: no compute environment named '%s' (it does not exist)", field,
                              name);
    free(name);
    return ce;
}

#define LINKED_ROLE "/aws-service-role/batch.amazonaws.com/AWSServiceRoleForBatch"

/* The service role an environment is described with: the one given, or AWS's service-linked
 * role when none is, or an empty one (which AWS takes for it; Terraform sends one). */
static json_t *service_role(const char *given)
{
    if (given && *given) return json_string(given);
    return json_sprintf("arn:aws:iam::%s:role" LINKED_ROLE, barge_cfg.account_id);
}

/* Rules that hold for the computeResources of a new or updated environment. */
static int check_resources(api_ctx *c, json_t *cr, const char *type, int creating)
{
    json_int_t minv = api_int(cr, "minvCpus", 0), maxv = api_int(cr, "maxvCpus", 0);
    if (minv < 0) return api_client_error(c, "computeResources.minvCpus: must be 0 or more");
    if (maxv < 0) return api_client_error(c, "computeResources.maxvCpus: must be 0 or more");
    if (minv > maxv)
        return api_client_error(c, "computeResources.minvCpus (%lld) must not exceed maxvCpus "
                                   "(%lld)", (long long)minv, (long long)maxv);
    json_t *dv = json_object_get(cr, "desiredvCpus");
    if (dv && (json_integer_value(dv) < minv || json_integer_value(dv) > maxv))
        return api_client_error(c, "computeResources.desiredvCpus (%lld) must be between "
                                   "minvCpus (%lld) and maxvCpus (%lld)",
                                (long long)json_integer_value(dv), (long long)minv,
                                (long long)maxv);
    if (res_is_fargate_type(type)) {
        static const char *const not_fargate[] = {
            "minvCpus", "desiredvCpus", "instanceTypes", "allocationStrategy", "bidPercentage",
            "imageId", "ec2KeyPair", "instanceRole", "placementGroup", "spotIamFleetRole",
            "launchTemplate", "ec2Configuration", "tags", NULL};
        for (const char *const *f = not_fargate; *f; f++) {
            /* An update may carry a zero minvCpus/desiredvCpus; AWS ignores those too. */
            json_t *v = json_object_get(cr, *f);
            if (v && !(creating == 0 && json_is_integer(v) && json_integer_value(v) == 0))
                return api_client_error(c, "computeResources.%s: does not apply to %s compute "
                                           "resources; remove it", *f, type);
        }
        return 0;
    }
    json_t *types = json_object_get(cr, "instanceTypes");
    if (types) {
        if (json_array_size(types) == 0)
            return api_client_error(c, "computeResources.instanceTypes: give at least one "
                                       "instance type, family or 'optimal'");
        size_t i;
        json_t *t;
        json_array_foreach(types, i, t) {
            if (!catalog_spec_valid(json_string_value(t)))
                return api_client_error(
                    c, "computeResources.instanceTypes[%zu]: '%.64s' is not an instance type "
                       "barge knows; use 'optimal', a family such as 'm5', or a type such as "
                       "'m5.large'", i, json_string_value(t));
        }
    }
    const char *strategy = api_str(cr, "allocationStrategy");
    if (type && strategy && strncmp(strategy, "SPOT_", 5) == 0 && strcmp(type, "SPOT") != 0)
        return api_client_error(c, "computeResources.allocationStrategy: %s applies only to "
                                   "SPOT compute resources", strategy);
    /* A bid on EC2 resources is accepted and kept, as AWS keeps it (it says only Fargate's must
     * not have one; Pegasus's sample environment gives EC2 one); it bids for nothing there. */
    json_t *bid = json_object_get(cr, "bidPercentage");
    if (bid) {
        if (json_integer_value(bid) < 0 || json_integer_value(bid) > 100)
            return api_client_error(c, "computeResources.bidPercentage: must be between 0 and "
                                       "100");
    }
    return 0;
}

/* The status transition that follows a create, update or delete. */
static void settle(void *ctx, void *arg)
{
    state *st = ctx;
    /* A deleted environment stays DELETING until its instances have gone: the fleet's
     * housekeeping settles it then (engine/drain.c). */
    ce_rec *ce = res_ce(st, arg);
    if (ce && ce->status == RES_DELETING && drain_ce_has_instances(st, ce->name)) return;
    res_settle(st, &st->ce, arg);
    /* Its minvCpus and desiredvCpus are launched now rather than at the next tick. */
    fleet_keep_capacity(st);
}

static int create_ce(api_ctx *c, json_t *req, json_t **resp)
{
    const char *name = api_str(req, "computeEnvironmentName");
    const char *type = api_str(req, "type");
    json_t *cr = json_object_get(req, "computeResources");
    if (api_check_name(c, name, "computeEnvironmentName") < 0) return -1;
    if (res_ce(c->st, name))
        return api_client_error(c, "computeEnvironmentName: a compute environment named '%s' "
                                   "already exists", name);
    if (json_object_get(req, "eksConfiguration"))
        return api_client_error(c, "eksConfiguration: barge runs jobs itself and does not "
                                   "support EKS compute environments; remove it");
    if (api_check_tags(c, json_object_get(req, "tags"), "tags") < 0) return -1;
    if (strcmp(type, "MANAGED") == 0) {
        if (!cr)
            return api_client_error(c, "computeResources: required for a MANAGED compute "
                                       "environment");
        if (!json_object_get(cr, "type"))
            return api_client_error(c, "computeResources.type: this field is required");
        if (!json_object_get(cr, "maxvCpus"))
            return api_client_error(c, "computeResources.maxvCpus: this field is required");
        if (check_resources(c, cr, api_str(cr, "type"), 1) < 0) return -1;
        if (json_object_get(req, "unmanagedvCpus"))
            return api_client_error(c, "unmanagedvCpus: applies only to UNMANAGED compute "
                                       "environments");
    } else {
        if (cr)
            return api_client_error(c, "computeResources: an UNMANAGED compute environment has "
                                       "no compute resources; remove it, or use type MANAGED");
        if (api_int(req, "unmanagedvCpus", 0) < 0)
            return api_client_error(c, "unmanagedvCpus: must be 0 or more");
    }

    char uuid[37];
    util_uuid(uuid);
    char *arn = arn_make(ARN_CE, name), *cluster = arn_ecs_cluster(name, uuid);
    const char *state_ = api_str(req, "state") ? api_str(req, "state")
                                               : res_state_name(RES_ENABLED);
    json_t *ce = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "computeEnvironmentName",
                           name, "computeEnvironmentArn", arn, "type", type, "state", state_,
                           "status", res_status_name(RES_CREATING), "statusReason",
                           "Creating the compute environment", "containerOrchestrationType",
                           "ECS", "uuid", uuid);
    json_object_set_new(ce, "ecsClusterArn", json_string_nocheck(cluster));
    free(cluster);
    json_object_set_new(ce, "tags", json_deep_copy(json_object_get(req, "tags")) ?: json_object());
    json_object_set_new(ce, "serviceRole", service_role(api_str(req, "serviceRole")));
    if (cr) {
        json_t *res = json_deep_copy(cr);
        const char *crtype = api_str(cr, "type");
        if (!res_is_fargate_type(crtype)) {
            if (!json_object_get(res, "minvCpus")) json_object_set_new(res, "minvCpus", json_integer(0));
            if (!json_object_get(res, "desiredvCpus"))
                json_object_set_new(res, "desiredvCpus", json_integer(api_int(res, "minvCpus", 0)));
            if (!json_object_get(res, "instanceTypes"))
                json_object_set_new(res, "instanceTypes", json_pack("[s]", "optimal"));
            /* No allocationStrategy (BEST_FIT is meant) or bidPercentage (100) is described
             * unless given, as AWS's are: Terraform replaces an environment whose description
             * has one it did not send. */
        }
        if (!json_object_get(res, "subnets")) json_object_set_new(res, "subnets", json_array());
        if (!json_object_get(res, "securityGroupIds"))
            json_object_set_new(res, "securityGroupIds", json_array());
        json_object_set_new(ce, "computeResources", res);
    } else {
        json_object_set_new(ce, "unmanagedvCpus", json_integer(api_int(req, "unmanagedvCpus", 0)));
    }
    if (json_object_get(req, "context"))
        json_object_set(ce, "context", json_object_get(req, "context"));
    /* Container Insights is CloudWatch's and does nothing here, but the setting is described
     * back as AWS describes it: a client that sets it and reads it back (the newest SDKs model
     * it) saw it vanish, which a declarative tool takes for drift. */
    if (json_object_get(req, "ecsSettings"))
        json_object_set(ce, "ecsSettings", json_object_get(req, "ecsSettings"));
    /* AWS describes every environment with its update policy, the defaults until one is set. */
    json_object_set_new(ce, "updatePolicy", json_pack("{s:b, s:i}", "terminateJobsOnUpdate", 0,
                                                      "jobExecutionTimeoutMinutes", 30));
    reg_put(c->st, &c->st->ce, name, ce);
    core_after(0, settle, xstrdup(name));
    *resp = json_pack("{s:s, s:s}", "computeEnvironmentName", name, "computeEnvironmentArn", arn);
    free(arn);
    return 0;
}

/* desiredvCpus as AWS reports it: the capacity the environment has or is getting (its
 * instances that stay, those still starting included), and at least what it keeps. */
static json_int_t current_desired(api_ctx *c, const ce_rec *rec, json_t *cr)
{
    json_int_t stored = api_int(cr, "desiredvCpus", 0);
    json_int_t have = (fleet_ce_kept_mvcpus(c->st->fleet, rec->name) + 999) / 1000;
    return have > stored ? have : stored;
}

/* An environment's description, its desiredvCpus the current one (a new reference). */
static json_t *described_ce(api_ctx *c, json_t *ce)
{
    ce_rec *rec = res_ce(c->st, api_str(ce, "computeEnvironmentName"));
    json_t *cr = json_object_get(ce, "computeResources");
    if (!rec || !rec->live || !rec->managed || rec->fargate || !cr) return json_incref(ce);
    json_int_t desired = current_desired(c, rec, cr);
    if (desired == api_int(cr, "desiredvCpus", 0)) return json_incref(ce);
    json_t *out = json_copy(ce), *res = json_copy(cr);
    json_object_set_new(res, "desiredvCpus", json_integer(desired));
    json_object_set_new(out, "computeResources", res);
    return out;
}

static int describe_ce(api_ctx *c, json_t *req, json_t **resp)
{
    json_t *names = json_object_get(req, "computeEnvironments");
    json_t *out = json_object(), *list = json_array();
    json_object_set_new(out, "computeEnvironments", list);
    *resp = out;
    if (names && json_array_size(names) > 0) {
        if (json_array_size(names) > API_DESCRIBE_MAX)
            return api_client_error(c, "computeEnvironments: at most %d names or ARNs per call "
                                       "(got %zu)", API_DESCRIBE_MAX, json_array_size(names));
        size_t i;
        json_t *v;
        json_array_foreach(names, i, v) {
            char *name = api_key_of(json_string_value(v), ARN_CE);
            json_t *ce = name ? reg_get_any(&c->st->ce, name) : NULL;
            if (ce) json_array_append_new(list, described_ce(c, ce));
            free(name);
        }
        return 0;
    }
    size_t n, start, end;
    const char **keys = reg_sorted_keys(&c->st->ce, strcmp, &n);
    int rc = api_page(c, req, out, "compute-environment", keys, n, strcmp,
                      API_DESCRIBE_MAX, &start, &end);
    for (size_t i = start; rc == 0 && i < end; i++)
        json_array_append_new(list, described_ce(c, reg_get(&c->st->ce, keys[i])));
    free(keys);
    return rc;
}

/* An update's launchTemplate that names no template (an empty id or name): AWS's way to go
 * back to the default template, that is to have none. */
static int removes_template(json_t *lt)
{
    const char *id = api_str(lt, "launchTemplateId"), *name = api_str(lt, "launchTemplateName");
    return (id && !*id) || (name && !*name);
}

/* The first member of an update's computeResources that changes what AWS calls the
 * infrastructure (anything but the vCPU counts), or NULL.  A member given with the value it
 * has, or an empty list (which keeps the current one), changes nothing. */
static const char *infrastructure_change(json_t *cr, json_t *upd)
{
    const char *k;
    json_t *v;
    json_object_foreach(upd, k, v) {
        if (strcmp(k, "minvCpus") == 0 || strcmp(k, "maxvCpus") == 0 ||
            strcmp(k, "desiredvCpus") == 0)
            continue;
        if (strcmp(k, "updateToLatestImageVersion") == 0) {
            if (json_is_true(v)) return k;
            continue;
        }
        if (json_is_array(v) && json_array_size(v) == 0 &&
            (strcmp(k, "subnets") == 0 || strcmp(k, "securityGroupIds") == 0 ||
             strcmp(k, "instanceTypes") == 0))
            continue;
        if (strcmp(k, "launchTemplate") == 0 && removes_template(v) &&
            !json_object_get(cr, k))
            continue;
        if (!json_equal(json_object_get(cr, k), v)) return k;
    }
    return NULL;
}

/* AWS's rules for an update that replaces instances: none on a Fargate environment beyond its
 * network, none under BEST_FIT, and only with the service-linked role, left as it is. */
static int check_infrastructure(api_ctx *c, const ce_rec *rec, json_t *ce, json_t *cr,
                                json_t *upd, json_t *req)
{
    const char *k = infrastructure_change(cr, upd);
    if (!k) return 0;
    if (rec->fargate) {
        if (strcmp(k, "subnets") == 0 || strcmp(k, "securityGroupIds") == 0) return 0;
        return api_client_error(c, "computeResources.%s: a %s compute environment's subnets, "
                                   "securityGroupIds and maxvCpus can be updated, not its %s; "
                                   "create a new compute environment instead", k,
                                api_str(cr, "type"), k);
    }
    const char *strategy = api_str(cr, "allocationStrategy");
    if (!strategy || strcmp(strategy, "BEST_FIT") == 0)
        return api_client_error(c, "computeResources.%s: compute environment '%s' uses "
                                   "allocationStrategy BEST_FIT, which takes scaling updates "
                                   "only (minvCpus, maxvCpus, desiredvCpus, serviceRole, state); "
                                   "create a new compute environment for other settings", k,
                                rec->name);
    json_t *now = json_object_get(ce, "serviceRole");
    json_t *role = api_str(req, "serviceRole") ? service_role(api_str(req, "serviceRole"))
                                               : json_incref(now);
    const char *r = json_string_value(role);
    size_t n = r ? strlen(r) : 0, nl = strlen(LINKED_ROLE);
    int linked = n >= nl && strcmp(r + n - nl, LINKED_ROLE) == 0, same = json_equal(role, now);
    json_decref(role);
    if (!linked || !same)
        return api_client_error(c, "computeResources.%s: an update of the instances' settings "
                                   "needs the service-linked role AWSServiceRoleForBatch, left "
                                   "unchanged in the same update; change serviceRole in an "
                                   "update of its own", k);
    return 0;
}

static int update_ce(api_ctx *c, json_t *req, json_t **resp)
{
    ce_rec *rec = find_ce(c, api_str(req, "computeEnvironment"), "computeEnvironment");
    if (!rec) return -1;
    const char *name = rec->name;
    json_t *ce = reg_get(&c->st->ce, name);
    int rc = -1, raised = 0;
    json_t *next = NULL;
    if (rec->status == RES_DELETING) {
        api_client_error(c, "computeEnvironment: '%s' is being deleted and cannot be updated",
                         name);
        goto out;
    }
    int managed = rec->managed;
    json_t *upd = json_object_get(req, "computeResources");
    if (upd && !managed) {
        api_client_error(c, "computeResources: '%s' is UNMANAGED and has no compute resources",
                         name);
        goto out;
    }
    if (json_object_get(req, "unmanagedvCpus") && managed) {
        api_client_error(c, "unmanagedvCpus: applies only to UNMANAGED compute environments");
        goto out;
    }
    if (api_int(req, "unmanagedvCpus", 0) < 0) {
        api_client_error(c, "unmanagedvCpus: must be 0 or more");
        goto out;
    }
    json_t *policy = json_object_get(req, "updatePolicy");
    json_int_t minutes = api_int(policy, "jobExecutionTimeoutMinutes", 30);
    if (minutes < 1 || minutes > 360) {
        api_client_error(c, "updatePolicy.jobExecutionTimeoutMinutes: must be between 1 and "
                            "360");
        goto out;
    }
    next = json_deep_copy(ce);
    if (upd) {
        json_t *cr = json_object_get(next, "computeResources");
        const char *from = api_str(cr, "type"), *to = api_str(upd, "type");
        if (to && rec->fargate != res_is_fargate_type(to)) {
            api_client_error(c, "computeResources.type: cannot change between %s and %s; create "
                                "a new compute environment instead", from, to);
            goto out;
        }
        const char *strategy = api_str(upd, "allocationStrategy");
        if (strategy && rec->fargate) {
            api_client_error(c, "computeResources.allocationStrategy: does not apply to %s "
                                "compute resources", from);
            goto out;
        }
        if (check_infrastructure(c, rec, ce, cr, upd, req) < 0) goto out;
        /* As AWS: desiredvCpus may be raised by hand, not lowered (idle instances go by
         * themselves, down to minvCpus). */
        json_t *desired = json_object_get(upd, "desiredvCpus");
        raised = desired && !rec->fargate &&
                 json_integer_value(desired) > current_desired(c, rec, cr);
        if (desired && !rec->fargate && json_integer_value(desired) < current_desired(c, rec, cr)) {
            api_client_error(c, "computeResources.desiredvCpus (%lld) is below the environment's "
                                "current desiredvCpus (%lld): an environment is not scaled down "
                                "by hand; lower minvCpus, and idle instances go by themselves",
                             (long long)json_integer_value(desired),
                             (long long)current_desired(c, rec, cr));
            goto out;
        }
        /* An update names only what changes; merge it, then check the result as a whole. */
        json_t *merged = json_deep_copy(cr);
        const char *k;
        json_t *v;
        json_object_foreach(upd, k, v) {
            if (strcmp(k, "updateToLatestImageVersion") == 0) continue;
            /* AWS treats an empty list as "keep the current value" for these. */
            if ((strcmp(k, "subnets") == 0 || strcmp(k, "securityGroupIds") == 0 ||
                 strcmp(k, "instanceTypes") == 0) && json_array_size(v) == 0)
                continue;
            if (strcmp(k, "launchTemplate") == 0 && removes_template(v)) {
                json_object_del(merged, k);
                continue;
            }
            json_object_set(merged, k, v);
        }
        /* An environment that is no longer SPOT keeps no bid: an update that makes it EC2
         * clears it by leaving it out or by sending 0, as Terraform does. */
        const char *to_type = api_str(merged, "type");
        json_t *bid = json_object_get(upd, "bidPercentage");
        if (to_type && strcmp(to_type, "SPOT") != 0 && (!bid || json_integer_value(bid) == 0))
            json_object_del(merged, "bidPercentage");
        if (rec->fargate) {
            /* Fargate resources have no minimum or desired count to keep. */
            if (check_resources(c, upd, from, 0) < 0) {
                json_decref(merged);
                goto out;
            }
            json_object_del(merged, "minvCpus");
            json_object_del(merged, "desiredvCpus");
        } else {
            /* Moving the bounds past desiredvCpus drags it along, as AWS does. */
            json_int_t minv = api_int(merged, "minvCpus", 0), maxv = api_int(merged, "maxvCpus", 0);
            json_int_t want = api_int(merged, "desiredvCpus", 0);
            if (!json_object_get(upd, "desiredvCpus") && (want < minv || want > maxv))
                json_object_set_new(merged, "desiredvCpus", json_integer(want < minv ? minv : maxv));
            if (check_resources(c, merged, api_str(merged, "type"), 0) < 0) {
                json_decref(merged);
                goto out;
            }
        }
        json_object_set_new(next, "computeResources", merged);
    }
    if (api_str(req, "state")) json_object_set_new(next, "state", json_string(api_str(req, "state")));
    if (json_object_get(req, "unmanagedvCpus"))
        json_object_set(next, "unmanagedvCpus", json_object_get(req, "unmanagedvCpus"));
    if (api_str(req, "serviceRole"))
        json_object_set_new(next, "serviceRole", service_role(api_str(req, "serviceRole")));
    if (policy) {
        json_t *p = json_deep_copy(policy);
        if (!json_object_get(p, "jobExecutionTimeoutMinutes"))
            json_object_set_new(p, "jobExecutionTimeoutMinutes", json_integer(30));
        if (!json_object_get(p, "terminateJobsOnUpdate"))
            json_object_set_new(p, "terminateJobsOnUpdate", json_false());
        json_object_set_new(next, "updatePolicy", p);
    }
    if (json_object_get(req, "context"))
        json_object_set(next, "context", json_object_get(req, "context"));
    if (json_object_get(req, "ecsSettings")) /* described back, as at creation */
        json_object_set(next, "ecsSettings", json_object_get(req, "ecsSettings"));
    res_set_status(next, RES_UPDATING, "Updating the compute environment");
    *resp = json_pack("{s:s, s:O}", "computeEnvironmentName", name, "computeEnvironmentArn",
                      json_object_get(next, "computeEnvironmentArn"));
    reg_put(c->st, &c->st->ce, name, next);
    next = NULL;
    /* A lower maxvCpus drains what no longer fits before the next placement. */
    drain_ce(c->st, rec);
    if (raised) fleet_hold_idle(c->st, name);
    core_after(0, settle, xstrdup(name));
    rc = 0;
out:
    json_decref(next);
    return rc;
}

static int delete_ce(api_ctx *c, json_t *req, json_t **resp)
{
    ce_rec *ce = find_ce(c, api_str(req, "computeEnvironment"), "computeEnvironment");
    if (!ce) return -1;
    if (ce->state != RES_DISABLED)
        return api_client_error(c, "computeEnvironment: '%s' must be DISABLED before it is "
                                   "deleted; call UpdateComputeEnvironment with state DISABLED "
                                   "first", ce->name);
    /* A queue that still orders this environment would be left pointing at nothing. */
    buf users = {0};
    const char *qname;
    json_t *unused;
    json_object_foreach(c->st->jq.items, qname, unused) {
        jq_rec *q = res_jq(c->st, qname);
        for (size_t i = 0; i < q->n_ces; i++) {
            if (q->ces[i] == ce) {
                buf_printf(&users, "%s'%s'", users.len ? ", " : "", qname);
                break;
            }
        }
    }
    if (users.len) {
        /* AWS's words first: Terraform's provider retries a destroy on them. */
        api_client_error(c, "computeEnvironment: Cannot delete, found existing JobQueue "
                            "relationship: '%s' is still used by job queue %s; remove it from "
                            "their computeEnvironmentOrder or delete them first",
                         ce->name, users.data);
        buf_free(&users);
        return -1;
    }
    if (ce->status != RES_DELETING) {
        json_t *next = json_deep_copy(reg_get(&c->st->ce, ce->name));
        res_set_status(next, RES_DELETING,
                       drain_ce_has_instances(c->st, ce->name)
                           ? "Deleting the compute environment once its instances have finished "
                             "the jobs they run"
                           : "Deleting the compute environment");
        reg_put(c->st, &c->st->ce, ce->name, next);
        /* Its instances take no new attempt; those under way finish first (engine/drain.h). */
        drain_ce(c->st, ce);
        core_after(0, settle, xstrdup(ce->name));
    }
    *resp = json_object();
    return 0;
}

#define ECS_SETTINGS_SHAPE "{containerInsights:e(ENABLED|ENHANCED|DISABLED)}"

api_op api_ce_ops[] = {
    {"CreateComputeEnvironment", "POST", "/v1/createcomputeenvironment",
     "{computeEnvironmentName:s!, type:e(MANAGED|UNMANAGED)!, state:e(ENABLED|DISABLED),"
     " unmanagedvCpus:" API_VCPUS_SHAPE ", serviceRole:s, tags:@Tags, context:s,"
     " ecsSettings:" ECS_SETTINGS_SHAPE ","
     " eksConfiguration:{eksClusterArn:s!, kubernetesNamespace:s!},"
     " computeResources:{type:" CR_TYPES ", allocationStrategy:"
     "e(BEST_FIT|BEST_FIT_PROGRESSIVE|SPOT_CAPACITY_OPTIMIZED|SPOT_PRICE_CAPACITY_OPTIMIZED), "
     RESOURCE_SHAPE_COMMON "}}",
     create_ce, 0, NULL},
    {"DescribeComputeEnvironments", "POST", "/v1/describecomputeenvironments",
     "{computeEnvironments:[s], maxResults:i, nextToken:s}", describe_ce, 0, NULL},
    {"UpdateComputeEnvironment", "POST", "/v1/updatecomputeenvironment",
     "{computeEnvironment:s!, state:e(ENABLED|DISABLED), unmanagedvCpus:" API_VCPUS_SHAPE ","
     " serviceRole:s,"
     " context:s, updatePolicy:{terminateJobsOnUpdate:b, jobExecutionTimeoutMinutes:i(1..360)},"
     " ecsSettings:" ECS_SETTINGS_SHAPE ","
     " computeResources:{type:" CR_TYPES ", allocationStrategy:"
     "e(BEST_FIT_PROGRESSIVE|SPOT_CAPACITY_OPTIMIZED|SPOT_PRICE_CAPACITY_OPTIMIZED), "
     "updateToLatestImageVersion:b, " RESOURCE_SHAPE_COMMON "}}",
     update_ce, 0, NULL},
    {"DeleteComputeEnvironment", "POST", "/v1/deletecomputeenvironment",
     "{computeEnvironment:s!}", delete_ce, 0, NULL},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
