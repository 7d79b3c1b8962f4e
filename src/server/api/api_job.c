/* api_job — SubmitJob, DescribeJobs, CancelJob and TerminateJob and their bulk forms
 * (ListJobs: api_job_list.c). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/util.h"
#include "server/base/metrics.h"
#include "server/model/arn.h"
#include "server/model/config.h"
#include "server/model/jobs.h"
#include "server/model/params.h"
#include "server/model/registry.h"
#include "server/model/resource.h"
#include "server/model/state.h"
#include "server/model/tags.h"
#include "server/engine/attempt.h"
#include "server/api/api.h"
#include "server/api/jobdef.h"
#include "server/api/jobdef_host.h"
#include "server/api/jobdesc.h"

static int job_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 128 || !isalnum((unsigned char)s[0])) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_') return 0;
    return 1;
}

/* Replaces or adds the entries of over (a list of {name|type, value}) in base, by key. */
static void merge_by_key(json_t *base, json_t *over, const char *key)
{
    size_t i;
    json_t *o;
    json_array_foreach(over, i, o) {
        const char *k = json_string_value(json_object_get(o, key));
        size_t j;
        json_t *b;
        int replaced = 0;
        json_array_foreach(base, j, b) {
            const char *bk = json_string_value(json_object_get(b, key));
            if (bk && k && strcmp(bk, k) == 0) {
                json_array_set(base, j, o);
                replaced = 1;
                break;
            }
        }
        if (!replaced) json_array_append(base, o);
    }
}

static int has_requirement(json_t *container, const char *type)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(container, "resourceRequirements"), i, r)
        if (strcmp(json_string_value(json_object_get(r, "type")) ?: "", type) == 0) return 1;
    return 0;
}

static void set_requirement(json_t *container, const char *type, const char *value)
{
    json_t *rr = json_object_get(container, "resourceRequirements");
    if (!rr) {
        rr = json_array();
        json_object_set_new(container, "resourceRequirements", rr);
    }
    json_t *entry = json_pack("[{s:s, s:s}]", "type", type, "value", value);
    merge_by_key(rr, entry, "type");
    json_decref(entry);
}

/* The container the job runs: the definition's, with the submit's overrides and parameters. */
json_t *jobdef_resolve_container(api_ctx *c, json_t *def, json_t *req)
{
    json_t *cont = json_deep_copy(json_object_get(def, "containerProperties"));
    if (!cont) cont = json_object();
    json_t *ov = json_object_get(req, "containerOverrides");
    json_t *cmd = json_object_get(ov, "command");
    if (!cmd) cmd = json_object_get(cont, "command");
    json_t *params = json_object_get(req, "parameters");
    json_t *resolved = params_substitute_max(cmd ? cmd : json_array(), params,
                                             json_object_get(def, "parameters"),
                                             PARAMS_COMMAND_MAX);
    if (!resolved) {
        json_decref(cont);
        api_client_error(c, "parameters: substituted into the command they make it longer than "
                            "%d bytes; pass large values in a file or an environment variable",
                         PARAMS_COMMAND_MAX);
        return NULL;
    }
    json_object_set_new(cont, "command", resolved);
    json_t *env = json_object_get(cont, "environment");
    if (!env) {
        env = json_array();
        json_object_set_new(cont, "environment", env);
    }
    merge_by_key(env, json_object_get(ov, "environment"), "name");
    /* Legacy vcpus and memory overrides replace a definition's legacy values.  A definition
     * that gives the value as a resource requirement keeps it: AWS ignores the legacy override
     * then (saying so only in its console), so a job asks here what it would get there. */
    static const char *const legacy[][2] = {{"vcpus", "VCPU"}, {"memory", "MEMORY"}};
    for (size_t k = 0; k < 2; k++) {
        json_t *v = json_object_get(ov, legacy[k][0]);
        if (!v) continue;
        if (json_object_get(cont, legacy[k][0])) {
            json_object_set(cont, legacy[k][0], v);
        } else if (!has_requirement(cont, legacy[k][1])) {
            char num[32];
            snprintf(num, sizeof num, "%lld", (long long)api_int(ov, legacy[k][0], 0));
            set_requirement(cont, legacy[k][1], num);
        }
    }
    json_t *rr = json_object_get(ov, "resourceRequirements");
    if (rr) {
        if (!json_object_get(cont, "resourceRequirements"))
            json_object_set_new(cont, "resourceRequirements", json_array());
        merge_by_key(json_object_get(cont, "resourceRequirements"), rr, "type");
        /* The requirement now decides; a stale legacy value would contradict it. */
        size_t i;
        json_t *r;
        json_array_foreach(rr, i, r) {
            const char *t = api_str(r, "type");
            if (t && strcmp(t, "VCPU") == 0) json_object_del(cont, "vcpus");
            if (t && strcmp(t, "MEMORY") == 0) json_object_del(cont, "memory");
        }
    }
    if (api_str(ov, "instanceType")) json_object_set(cont, "instanceType", json_object_get(ov, "instanceType"));
    json_object_set_new(cont, "networkInterfaces", json_array());
    return cont;
}

static int check_depends_on(api_ctx *c, json_t *deps, int array_size)
{
    if (json_array_size(deps) > (size_t)barge_cfg.max_depends_on)
        return api_client_error(c, "dependsOn: at most %d dependencies per job (got %zu)",
                                barge_cfg.max_depends_on, json_array_size(deps));
    size_t i;
    json_t *d;
    json_array_foreach(deps, i, d) {
        const char *id = api_str(d, "jobId"), *type = api_str(d, "type");
        if (type && strcmp(type, "SEQUENTIAL") == 0) {
            if (!array_size)
                return api_client_error(c, "dependsOn[%zu].type: SEQUENTIAL applies only to "
                                           "array jobs (give arrayProperties.size)", i);
            if (id)
                return api_client_error(c, "dependsOn[%zu]: a SEQUENTIAL dependency names no "
                                           "jobId; its children wait for each other", i);
            continue;
        }
        if (!id)
            return api_client_error(c, "dependsOn[%zu].jobId: this field is required", i);
        job *on = jobs_find(c->st->jobs, id);
        if (!on)
            return api_client_error(c, "dependsOn[%zu].jobId: no job with id '%.80s' (or it "
                                       "ended before --retention-hours and was removed)", i, id);
        /* N_TO_N pairs children when both jobs are arrays; with a plain or multi-node job on
         * either side it waits for the whole job, as a dependency without a type does (AWS
         * takes it so, and scripts written for AWS give N_TO_N to plain jobs).  array_size is
         * 0 for a multi-node job here. */
        if (type && strcmp(type, "N_TO_N") == 0 && array_size && jobs_is_array(on) &&
            on->array_size != (uint32_t)array_size)
            return api_client_error(c, "dependsOn[%zu]: an N_TO_N dependency of an array job "
                                       "on another pairs their children, so it needs one of "
                                       "the same size (%d); '%.80s' has %u children", i,
                                    array_size, id, on->array_size);
    }
    return 0;
}

/* A fair-share queue (one with a scheduling policy) needs every job's shareIdentifier, and a
 * first-in-first-out queue takes none, as AWS has it. */
static int check_share(api_ctx *c, json_t *req, const jq_rec *q)
{
    const char *share = api_str(req, "shareIdentifier");
    if (!q->policy) {
        if (share)
            return api_client_error(c, "shareIdentifier: job queue %s has no scheduling policy, "
                                       "so its jobs take no share identifier; remove it", q->name);
        return 0;
    }
    if (!share)
        return api_client_error(c, "shareIdentifier: job queue %s has the fair-share scheduling "
                                   "policy %s; give the share the job belongs to", q->name,
                                q->policy);
    size_t n = strlen(share);
    int ok = n >= 1 && n <= 255;
    for (size_t i = 0; ok && i < n; i++) {
        char ch = share[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             ch == '_';
    }
    if (!ok)
        return api_client_error(c, "shareIdentifier: '%.64s' is not valid; use 1 to 255 "
                                   "letters, digits and underscores", share);
    /* AWS: "When the limit has been reached, submissions of any jobs that add a new share
     * identifier fail." */
    if (!jobs_share_may_join(q->jobs, share, barge_cfg.max_active_shares))
        return api_client_error(c, "shareIdentifier: job queue %s has %d active share "
                                   "identifiers, the most a fair-share queue may have "
                                   "(--max-active-shares); a job of a new share can be "
                                   "submitted once one of them has no job left", q->name,
                                barge_cfg.max_active_shares);
    return 0;
}

static int submit_job(api_ctx *c, json_t *req, json_t **resp)
{
    const char *name = api_str(req, "jobName");
    if (!job_name_valid(name))
        return api_client_error(c, "jobName: '%.140s' is not valid; use 1 to 128 letters, digits, "
                                   "hyphens and underscores, starting with a letter or digit",
                                name);
    char *qname = api_name_or_arn(c, api_str(req, "jobQueue"), ARN_JQ, "jobQueue");
    if (!qname) return -1;
    json_t *q = reg_get(&c->st->jq, qname);
    jq_rec *qr = res_jq(c->st, qname);
    int rc = -1;
    json_t *desc = NULL, *consumables = NULL;
    if (!q || !qr) {
        /* AWS's words first: clients match them (aegea creates its default queue on them). */
        api_client_error(c, "jobQueue: JobQueue %s not found; no job queue has that name, "
                            "create it with CreateJobQueue", qname);
        goto out;
    }
    if (qr->state != RES_ENABLED) {
        api_client_error(c, "jobQueue: '%s' is DISABLED and accepts no new jobs; enable it with "
                            "UpdateJobQueue", qname);
        goto out;
    }
    if (!res_jq_usable(qr)) { /* enabled, so DELETING */
        api_client_error(c, "jobQueue: '%s' is being deleted", qname);
        goto out;
    }
    if (check_share(c, req, qr) < 0) goto out;
    const char *ref = api_str(req, "jobDefinition");
    json_t *def = jobdef_resolve(c->st, ref);
    if (!def) {
        api_client_error(c, "jobDefinition: JobDefinition %.200s does not exist or is not in "
                            "ACTIVE status; register it with RegisterJobDefinition or name an "
                            "existing NAME:REVISION", ref);
        goto out;
    }
    if (!jobdef_is_active(def)) {
        api_client_error(c, "jobDefinition: '%.200s' is INACTIVE (deregistered); register a new "
                            "revision", ref);
        goto out;
    }
    const char *type = json_string_value(json_object_get(def, "type"));
    int multinode = type && strcmp(type, "multinode") == 0, nodes = 0;
    if (!type || (!multinode && strcmp(type, "container") != 0)) {
        api_client_error(c, "jobDefinition: '%.200s' is a %s job definition; barge runs "
                            "container and multinode job definitions", ref,
                         type ? type : "unknown");
        goto out;
    }
    if (jobdef_check_host_allows(c, def, ref) < 0) goto out;
    /* Named one at a time, for the job's own type (a multinode job takes nodeOverrides). */
    const char *misfit = !multinode && json_object_get(req, "nodeOverrides") ? "nodeOverrides"
                         : json_object_get(req, "eksPropertiesOverride") ? "eksPropertiesOverride"
                         : json_object_get(req, "ecsPropertiesOverride") ? "ecsPropertiesOverride"
                                                                          : NULL;
    if (misfit) {
        api_client_error(c, "%s does not apply to %s jobs; remove it", misfit, type);
        goto out;
    }
    if (multinode && jobdef_nodes_count(c, def, req, &nodes) < 0) goto out;
    json_int_t size = 0;
    json_t *ap = json_object_get(req, "arrayProperties");
    if (ap && json_object_get(ap, "size")) {
        size = api_int(ap, "size", 0);
        if (size < 2 || size > barge_cfg.max_array_size) {
            api_client_error(c, "arrayProperties.size: must be between 2 and %d (got %lld)",
                             barge_cfg.max_array_size, (long long)size);
            goto out;
        }
    }
    json_t *deps = json_object_get(req, "dependsOn");
    if (check_depends_on(c, deps, (int)size) < 0) goto out;
    /* A multi-node job's nodes are children of it, as an array's are (jobs.c). */
    if (multinode) size = nodes;
    json_t *ov = json_object_get(req, "containerOverrides");
    if (jobdef_check_environment(c, json_object_get(ov, "environment"),
                                 "containerOverrides.environment") < 0 ||
        jobdef_check_command(c, json_object_get(ov, "command"), "containerOverrides.command") < 0)
        goto out;
    int fargate = 0;
    size_t i;
    json_t *pc;
    json_array_foreach(json_object_get(def, "platformCapabilities"), i, pc)
        fargate |= strcmp(json_string_value(pc), "FARGATE") == 0;
    /* A queue holds one kind of environment; a job of the other kind is refused at once, in
     * AWS's words (aegea registers a FARGATE revision when it reads them). */
    int kind = res_jq_fargate(qr);
    if (kind >= 0 && kind != fargate) {
        const char *want = kind ? "FARGATE" : "EC2";
        api_client_error(c, "jobDefinition: Job Queue is attached to Compute Environment that can "
                            "not run Jobs with capability %s; '%s' has %s compute environments: "
                            "register a revision with platformCapabilities [\"%s\"], or submit "
                            "to a queue of %s environments", fargate ? "FARGATE" : "EC2", qname,
                         want, want, fargate ? "FARGATE" : "EC2");
        goto out;
    }
    if (fargate && (json_object_get(ov, "vcpus") || json_object_get(ov, "memory"))) {
        api_client_error(c, "containerOverrides.%s: not applicable for Fargate; give the vCPUs "
                            "and memory in containerOverrides.resourceRequirements",
                         json_object_get(ov, "vcpus") ? "vcpus" : "memory");
        goto out;
    }
    if (jobdef_check_requirements(c, json_object_get(ov, "resourceRequirements"), fargate,
                                  "containerOverrides.resourceRequirements") < 0 ||
        (fargate && jobdef_check_fargate_overrides(c, json_object_get(def, "containerProperties"),
                                                   ov, "containerOverrides.resourceRequirements") <
                        0))
        goto out;
    if (json_object_get(req, "retryStrategy") &&
        jobdef_check_retry(c, json_object_get(req, "retryStrategy"), "retryStrategy") < 0)
        goto out;
    if (json_object_get(req, "timeout") &&
        jobdef_check_timeout(c, json_object_get(req, "timeout"), "timeout") < 0)
        goto out;
    if (api_check_tags(c, json_object_get(req, "tags"), "tags") < 0) goto out;
    /* The resources the job needs: the override's, else the definition's; they must exist
     * now, whatever a remembered recipe says. */
    json_t *crp = json_object_get(req, "consumableResourcePropertiesOverride");
    if (jobdef_check_consumables(c, crp ? crp : json_object_get(def, "consumableResourceProperties"),
                                 crp ? "consumableResourcePropertiesOverride"
                                     : "consumableResourceProperties",
                                 &consumables) < 0)
        goto out;
    json_int_t prio = api_int(req, "schedulingPriorityOverride", 0);
    if (prio < 0 || prio > 9999) {
        api_client_error(c, "schedulingPriorityOverride: must be between 0 and 9999");
        goto out;
    }

    /* The job's own members, and the recipe: every input that decides the shared part. */
    json_t *own = json_object();
    json_object_set_new(own, "jobName", json_string(name));
    json_t *own_params = json_deep_copy(json_object_get(def, "parameters"));
    if (!own_params) own_params = json_object();
    json_object_update(own_params, json_object_get(req, "parameters"));
    json_object_set_new(own, "parameters", own_params);
    json_object_set_new(own, "dependsOn", deps ? json_deep_copy(deps) : json_array());
    json_t *own_tags = json_deep_copy(json_object_get(req, "tags"));
    json_object_set_new(own, "tags", own_tags ? own_tags : json_object());
    json_t *inputs = json_copy(req);
    static const char *const not_inputs[] = {"jobName", "dependsOn", "tags", "arrayProperties"};
    for (size_t k = 0; k < sizeof not_inputs / sizeof not_inputs[0]; k++)
        json_object_del(inputs, not_inputs[k]);
    char *in_text = json_dumps(inputs, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(inputs);
    char *recipe = xasprintf("%s\n%s\n%s", json_string_value(json_object_get(q, "jobQueueArn")),
                             json_string_value(json_object_get(def, "jobDefinitionArn")), in_text);
    free(in_text);
    /* Inputs seen before resolve to the same shared part: no need to resolve them again. */
    jobspec *spec = jobspec_from_recipe(recipe, json_incref(own));
    json_t *node_props = NULL;
    if (!spec && multinode && !(node_props = jobdef_nodes_resolve(c, def, req, nodes))) {
        json_decref(own);
        free(recipe);
        goto out;
    }
    if (!spec) {
        json_t *container = multinode ? NULL : jobdef_resolve_container(c, def, req);
        if (!multinode && !container) {
            json_decref(own);
            free(recipe);
            goto out;
        }
        double vcpus = 1;
        long long mem = 1, gpus;
        if (container) jobdef_resources(container, &vcpus, &mem, &gpus);
        if (vcpus <= 0 || mem <= 0) {
            json_decref(container);
            json_decref(own);
            free(recipe);
            api_client_error(c, "containerOverrides: the job needs a VCPU and a MEMORY "
                                "requirement above 0 (the definition and overrides give %g vCPUs "
                                "and %lld MiB); set them in the definition or the overrides",
                             vcpus, mem);
            goto out;
        }
        /* The whole description: the job's own members, then the shared ones. */
        desc = json_copy(own);
        json_object_set(desc, "jobQueue", json_object_get(q, "jobQueueArn"));
        json_object_set(desc, "jobDefinition", json_object_get(def, "jobDefinitionArn"));
        json_t *retry = json_object_get(req, "retryStrategy");
        if (!retry) retry = json_object_get(def, "retryStrategy");
        if (retry) json_object_set_new(desc, "retryStrategy", json_deep_copy(retry));
        json_t *timeout = json_object_get(req, "timeout");
        if (!timeout) timeout = json_object_get(def, "timeout");
        if (timeout) json_object_set_new(desc, "timeout", json_deep_copy(timeout));
        int propagate = json_is_true(json_object_get(req, "propagateTags")) ||
                        (!json_object_get(req, "propagateTags") &&
                         json_is_true(json_object_get(def, "propagateTags")));
        json_object_set_new(desc, "propagateTags", json_boolean(propagate));
        json_t *caps = json_object_get(def, "platformCapabilities");
        if (caps) json_object_set(desc, "platformCapabilities", caps);
        json_t *sched_prio = json_object_get(req, "schedulingPriorityOverride");
        if (!sched_prio) sched_prio = json_object_get(def, "schedulingPriority");
        if (sched_prio) json_object_set(desc, "schedulingPriority", sched_prio);
        if (api_str(req, "shareIdentifier"))
            json_object_set(desc, "shareIdentifier", json_object_get(req, "shareIdentifier"));
        if (consumables) json_object_set(desc, "consumableResourceProperties", consumables);
        /* A multi-node job runs no container of its own: each node runs its range's. */
        if (container) json_object_set_new(desc, "container", container);
        else json_object_set_new(desc, "nodeProperties", node_props);
        spec = jobspec_make(desc);
        desc = NULL;
        jobspec_remember_recipe(recipe, spec);
    }
    json_decref(own);
    free(recipe);

    char id[37];
    util_uuid(id);
    jobs_create(c->st, spec, id, (uint32_t)size, deps, c->now_ms);
    metrics_count(METRIC_SUBMITS, 1);
    char *arn = arn_make(ARN_JOB, id);
    *resp = json_pack("{s:s, s:s, s:s}", "jobArn", arn, "jobName", name, "jobId", id);
    free(arn);
    rc = 0;
out:
    json_decref(desc);
    json_decref(consumables);
    free(qname);
    return rc;
}

/* A job ARN names the job as well as its id does: the id it holds (fresh), or NULL when id is
 * no job ARN. */
static char *id_of_arn(const char *id)
{
    return id && strncmp(id, "arn:", 4) == 0 ? arn_resource(id, ARN_JOB) : NULL;
}

static int describe_jobs(api_ctx *c, json_t *req, json_t **resp)
{
    json_t *ids = json_object_get(req, "jobs");
    if (json_array_size(ids) > API_DESCRIBE_MAX)
        return api_client_error(c, "jobs: at most %d job ids per call (got %zu)",
                                API_DESCRIBE_MAX, json_array_size(ids));
    json_t *list = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        const char *id = json_string_value(v);
        char *from_arn = id_of_arn(id);
        job *j = jobs_find(c->st->jobs, from_arn ? from_arn : id);
        free(from_arn);
        if (j) json_array_append_new(list, jobdesc_describe(c->st, j));
    }
    *resp = json_pack("{s:o}", "jobs", list);
    return 0;
}

/* Whether id has the shape of a job's id: a UUID, perhaps with ":INDEX" (an array's child) or
 * "#NODE" (a multi-node job's node). */
static int job_id_shaped(const char *id)
{
    for (int i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? id[i] != '-' : !isxdigit((unsigned char)id[i])) return 0;
    }
    if (!id[36]) return 1;
    if ((id[36] != ':' && id[36] != '#') || !id[37]) return 0;
    for (const char *p = id + 37; *p; p++)
        if (!isdigit((unsigned char)*p)) return 0;
    return strlen(id + 37) <= 5;
}

/* A stop's reason, which becomes the job's statusReason: at most 1,024 characters, AWS's
 * limit.  -1 after refusing it. */
#define REASON_MAX 1024
static int check_reason(api_ctx *c, const char *reason)
{
    size_t n = util_utf8_chars(reason ? reason : "");
    if (n <= REASON_MAX) return 0;
    return api_client_error(c, "reason: at most %d characters (got %zu)", REASON_MAX, n);
}

/* CancelJob and TerminateJob.  A job id barge does not hold is answered as AWS answers it, with
 * success (Flyte and Galaxy stop jobs that ended long ago, and retention may have let them go);
 * only an id that cannot be any job's is refused.  A job's ARN names it too, as it does for
 * DescribeJobs. */
static int stop_job(api_ctx *c, json_t *req, json_t **resp, int terminate)
{
    const char *given = api_str(req, "jobId");
    if (check_reason(c, api_str(req, "reason")) < 0) return -1;
    char *from_arn = id_of_arn(given);
    const char *id = from_arn ? from_arn : given;
    job *j = jobs_find(c->st->jobs, id);
    if (!j && !job_id_shaped(id)) {
        free(from_arn);
        return api_client_error(c, "jobId: '%.80s' is not a job id (a job's id is a UUID, "
                                   "with :INDEX for an array's child or #NODE for a node, or "
                                   "its ARN)", given);
    }
    free(from_arn);
    if (j) attempt_cancel(c->st, j, api_str(req, "reason"), terminate);
    *resp = json_object();
    return 0;
}

static int cancel_job(api_ctx *c, json_t *req, json_t **resp)
{
    return stop_job(c, req, resp, 0);
}

static int terminate_job(api_ctx *c, json_t *req, json_t **resp)
{
    return stop_job(c, req, resp, 1);
}

/* CancelJobs and TerminateJobs: up to 50 ids, each answered on its own, as AWS answers them
 * (HTTP 200 whatever each one's fate; an id barge does not hold is successful, as for
 * CancelJob).  An id that cannot be any job's is in "errors" with AWS's code for it. */
#define STOP_JOBS_MAX 50
static int stop_jobs(api_ctx *c, json_t *req, json_t **resp, int terminate)
{
    json_t *ids = json_object_get(req, "jobs"), *v;
    size_t n = json_array_size(ids), i;
    if (n < 1 || n > STOP_JOBS_MAX)
        return api_client_error(c, "jobs: give 1 to %d job ids (got %zu)", STOP_JOBS_MAX, n);
    const char *reason = api_str(req, "reason");
    if (check_reason(c, reason) < 0) return -1;
    json_t *ok = json_array(), *errors = json_array();
    json_array_foreach(ids, i, v) {
        const char *id = json_string_value(v);
        char *from_arn = id_of_arn(id);
        job *j = jobs_find(c->st->jobs, from_arn ? from_arn : id);
        int shaped = j || job_id_shaped(from_arn ? from_arn : id);
        free(from_arn);
        if (!shaped) {
            json_array_append_new(
                errors, json_pack("{s:s, s:s, s:s}", "job", id, "code", "ValidationException",
                                  "message", "not a job id (a job's id is a UUID, with :INDEX "
                                             "for an array's child or #NODE for a node, or its "
                                             "ARN)"));
            continue;
        }
        if (j) attempt_cancel(c->st, j, reason, terminate);
        json_array_append_new(ok, json_string(id));
    }
    *resp = json_pack("{s:o, s:o}", "successful", ok, "errors", errors);
    return 0;
}

static int cancel_jobs(api_ctx *c, json_t *req, json_t **resp)
{
    return stop_jobs(c, req, resp, 0);
}

static int terminate_jobs(api_ctx *c, json_t *req, json_t **resp)
{
    return stop_jobs(c, req, resp, 1);
}

/* Tags of jobs, for TagResource and friends. */
static json_t *job_tags_get(state *st, const char *id)
{
    job *j = jobs_find(st->jobs, id);
    if (!j || j->parent) return NULL;
    json_t *t = jobspec_own(j->spec, "tags");
    return t ? t : json_object();
}

static void job_tags_set(state *st, const char *id, json_t *tags)
{
    job *j = jobs_find(st->jobs, id);
    if (!j) {
        json_decref(tags);
        return;
    }
    jobspec_set_tags(j->spec, tags);
    jobs_mark_dirty(st, j);
}

static const tags_job_ops job_tag_ops = {job_tags_get, job_tags_set};

void api_job_init(void)
{
    tags_set_job_ops(&job_tag_ops);
}

api_op api_job_ops[] = {
    {"SubmitJob", "POST", "/v1/submitjob",
     "{jobName:s!, jobQueue:s!, jobDefinition:s!, shareIdentifier:s,"
     " schedulingPriorityOverride:i(0..9999),"
     " arrayProperties:{size:i}, dependsOn:[{jobId:s, type:e(N_TO_N|SEQUENTIAL)}],"
     " parameters:m<s>, containerOverrides:@ContainerOverrides,"
     " nodeOverrides:{numNodes:i, nodePropertyOverrides:[{targetNodes:s!,"
     " containerOverrides:@ContainerOverrides, instanceTypes:[s], ecsPropertiesOverride:*,"
     " eksPropertiesOverride:*, consumableResourcePropertiesOverride:*}]},"
     " retryStrategy:@RetryStrategy, propagateTags:b, timeout:@JobTimeout,"
     " tags:m<s>, eksPropertiesOverride:*, ecsPropertiesOverride:*,"
     " consumableResourcePropertiesOverride:*}",
     submit_job, 30 * 1024, NULL},
    {"DescribeJobs", "POST", "/v1/describejobs", "{jobs:[s]!}", describe_jobs, 0, NULL},
    {"CancelJob", "POST", "/v1/canceljob", "{jobId:s!, reason:s!}", cancel_job, 0, NULL},
    {"TerminateJob", "POST", "/v1/terminatejob", "{jobId:s!, reason:s!}", terminate_job, 0, NULL},
    {"CancelJobs", "POST", "/v1/canceljobs", "{jobs:[s]!, reason:s!}", cancel_jobs, 0, NULL},
    {"TerminateJobs", "POST", "/v1/terminatejobs", "{jobs:[s]!, reason:s!}", terminate_jobs, 0,
     NULL},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
