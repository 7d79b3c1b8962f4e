/* api_job — SubmitJob, DescribeJobs, ListJobs, CancelJob and TerminateJob. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"
#include "common/util.h"
#include "server/base/metrics.h"
#include "server/model/arn.h"
#include "server/model/config.h"
#include "server/model/jobs.h"
#include "server/model/params.h"
#include "server/model/registry.h"
#include "server/model/resource.h"
#include "server/model/retry.h"
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
    json_t *resolved = params_substitute(cmd ? cmd : json_array(), params,
                                         json_object_get(def, "parameters"));
    json_object_set_new(cont, "command", resolved);
    json_t *env = json_object_get(cont, "environment");
    if (!env) {
        env = json_array();
        json_object_set_new(cont, "environment", env);
    }
    merge_by_key(env, json_object_get(ov, "environment"), "name");
    /* Legacy vcpus and memory overrides stand for the matching requirements. */
    char num[32];
    json_t *rr_def = json_object_get(cont, "resourceRequirements");
    if (json_object_get(ov, "vcpus")) {
        snprintf(num, sizeof num, "%lld", (long long)api_int(ov, "vcpus", 0));
        if (rr_def || !json_object_get(cont, "vcpus")) set_requirement(cont, "VCPU", num);
        if (json_object_get(cont, "vcpus")) json_object_set(cont, "vcpus", json_object_get(ov, "vcpus"));
    }
    if (json_object_get(ov, "memory")) {
        snprintf(num, sizeof num, "%lld", (long long)api_int(ov, "memory", 0));
        if (rr_def || !json_object_get(cont, "memory")) set_requirement(cont, "MEMORY", num);
        if (json_object_get(cont, "memory")) json_object_set(cont, "memory", json_object_get(ov, "memory"));
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
    (void)c;
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
        if (type && strcmp(type, "N_TO_N") == 0) {
            if (!array_size)
                return api_client_error(c, "dependsOn[%zu].type: N_TO_N applies only to array "
                                           "jobs (give arrayProperties.size)", i);
            if (!on->children || on->array_size != (uint32_t)array_size)
                return api_client_error(c, "dependsOn[%zu]: an N_TO_N dependency needs an array "
                                           "job of the same size (%d); '%.80s' %s", i,
                                        array_size, id,
                                        on->children ? "has another size" : "is not an array job");
        }
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
        api_client_error(c, "jobQueue: no job queue named '%s'; create it with CreateJobQueue",
                         qname);
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
        api_client_error(c, "jobDefinition: no ACTIVE job definition '%.200s'; register it with "
                            "RegisterJobDefinition or name an existing NAME:REVISION", ref);
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
    if ((!multinode && json_object_get(req, "nodeOverrides")) ||
        json_object_get(req, "eksPropertiesOverride") ||
        json_object_get(req, "ecsPropertiesOverride")) {
        api_client_error(c, "nodeOverrides, eksPropertiesOverride and ecsPropertiesOverride do not "
                            "apply to container jobs; remove them");
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
                                 "containerOverrides.environment") < 0)
        goto out;
    int fargate = 0;
    size_t i;
    json_t *pc;
    json_array_foreach(json_object_get(def, "platformCapabilities"), i, pc)
        fargate |= strcmp(json_string_value(pc), "FARGATE") == 0;
    if (jobdef_check_requirements(c, json_object_get(ov, "resourceRequirements"), fargate,
                                  "containerOverrides.resourceRequirements") < 0)
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
        /* A job ARN names the job as well as its id does. */
        char *from_arn = id && strncmp(id, "arn:", 4) == 0 ? arn_resource(id, ARN_JOB) : NULL;
        job *j = jobs_find(c->st->jobs, from_arn ? from_arn : id);
        free(from_arn);
        if (j) json_array_append_new(list, jobdesc_describe(c->st, j));
    }
    *resp = json_pack("{s:o}", "jobs", list);
    return 0;
}

/* ListJobs ---------------------------------------------------------------------------------- */

typedef struct {
    const char *name_glob;
    /* What the first bytes of a matching name must be (job.h's name_head): head_len of them. */
    char name_head[JOB_NAME_HEAD];
    size_t head_len;
    const char *share; /* SHARE_IDENTIFIER: exact */
    char *def_name;
    long def_rev;
    int def_glob;
    int64_t before, after;
    int any_filter;
    int status; /* -1: any */
    /* The filter as given, for the listing's key (list_key). */
    const char *flt_name, *flt_value;
} list_filter;

static int parse_filters(api_ctx *c, json_t *req, list_filter *f)
{
    f->status = -1;
    /* No bound: every time is before INT64_MAX and after INT64_MIN (0 is a time like any). */
    f->before = INT64_MAX;
    f->after = INT64_MIN;
    size_t i, nf = json_array_size(json_object_get(req, "filters"));
    if (nf > 1)
        return api_client_error(c, "filters: give one filter; AWS Batch applies one at a time "
                                   "(got %zu)", nf);
    json_t *flt;
    json_array_foreach(json_object_get(req, "filters"), i, flt) {
        const char *name = api_str(flt, "name");
        json_t *values = json_object_get(flt, "values");
        const char *value = json_string_value(json_array_get(values, 0));
        if (!name || !value || json_array_size(values) != 1)
            return api_client_error(c, "filters[%zu]: give a name and exactly one value", i);
        f->any_filter = 1;
        f->flt_name = name;
        f->flt_value = value;
        if (strcmp(name, "JOB_NAME") == 0) {
            f->name_glob = value;
            /* A prefix ("abc*") fixes its letters; an exact name its letters and the NUL that
             * ends it (a longer name does not match). */
            size_t len = strlen(value), lit = len && value[len - 1] == '*' ? len - 1 : len + 1;
            f->head_len = lit < JOB_NAME_HEAD ? lit : JOB_NAME_HEAD;
            for (size_t k = 0; k < f->head_len; k++)
                f->name_head[k] = (char)tolower((unsigned char)value[k]);
        } else if (strcmp(name, "SHARE_IDENTIFIER") == 0) {
            f->share = value;
        } else if (strcmp(name, "JOB_DEFINITION") == 0) {
            size_t n = strlen(value);
            char *v = xstrdup(value);
            if (n && v[n - 1] == '*') {
                f->def_glob = 1;
                f->def_name = v;
                f->def_rev = 0;
                continue;
            }
            free(v);
            if (jobdef_parse_ref(value, &f->def_name, &f->def_rev) < 0)
                return api_client_error(c, "filters[%zu].values: '%.100s' is not a job definition "
                                           "name, name:revision or ARN", i, value);
        } else if (strcmp(name, "BEFORE_CREATED_AT") == 0 || strcmp(name, "AFTER_CREATED_AT") == 0) {
            char *end;
            long long t = strtoll(value, &end, 10);
            if (*end || !*value)
                return api_client_error(c, "filters[%zu].values: '%.40s' is not a time in "
                                           "milliseconds since the epoch", i, value);
            if (name[0] == 'B') f->before = t;
            else f->after = t;
        } else {
            return api_client_error(c, "filters[%zu].name: '%.40s' is not one of JOB_NAME, "
                                       "JOB_DEFINITION, SHARE_IDENTIFIER, BEFORE_CREATED_AT, "
                                       "AFTER_CREATED_AT", i, name);
        }
    }
    const char *status = api_str(req, "jobStatus");
    if (!f->any_filter) {
        /* As AWS does: without filters and without a status, only RUNNING jobs are listed. */
        f->status = status ? job_status_parse(status) : JS_RUNNING;
    } else if (f->share && status) {
        /* A filter lists every status, except that SHARE_IDENTIFIER goes with jobStatus. */
        f->status = job_status_parse(status);
    }
    return 0;
}

/* JOB_NAME: without regard to case, as the API reference has it; a trailing '*' matches any
 * rest. */
static int name_matches(const char *pattern, const char *name)
{
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*') return strncasecmp(pattern, name, n - 1) == 0;
    return strcasecmp(pattern, name) == 0;
}

static int matches(const list_filter *f, job *j)
{
    if (f->status >= 0 && jobs_shown_status(j) != f->status) return 0;
    if (f->name_glob && (memcmp(j->name_head, f->name_head, f->head_len) != 0 ||
                         !name_matches(f->name_glob, j->spec->name)))
        return 0;
    if (f->share) {
        const char *share = json_string_value(jobspec_shared(j->spec, "shareIdentifier"));
        if (!share || strcmp(share, f->share) != 0) return 0;
    }
    if (f->def_name) {
        const char *arn = json_string_value(jobspec_shared(j->spec, "jobDefinition"));
        char *nr = arn_resource(arn, ARN_JD);
        if (!nr) return 0;
        char *colon = strrchr(nr, ':');
        long rev = colon ? atol(colon + 1) : 0;
        if (colon) *colon = '\0';
        int ok = f->def_glob ? retry_glob(f->def_name, nr)
                             : strcmp(nr, f->def_name) == 0 && (!f->def_rev || rev == f->def_rev);
        free(nr);
        if (!ok) return 0;
    }
    if (j->created_at >= f->before || j->created_at <= f->after) return 0;
    return 1;
}

/* How many jobs ahead a listing's scan asks for the next one's memory. */
#define LIST_PREFETCH 16

/* What a listing is: its source (a queue's name, an array's or a multi-node job's id), the
 * status it lists (as parse_filters settled it) and its filter, hashed (FNV-1a, 64 bits) into
 * the key its tokens carry.  A position alone does not say which listing it belongs to: a queue's
 * "pos:" is a submit number and an array's an index, so a token of one listing handed to another
 * was read as a position there and answered a page that silently skipped jobs, or an empty page
 * without a nextToken, which a client takes for the end.  The key is not a secret (a client can
 * forge any position anyway); it tells listings apart so that such a token is refused. */
static void key_add(uint64_t *h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); ; p++) {
        *h = (*h ^ *p) * 1099511628211ull;
        if (!*p) break; /* the NUL too: ("ab", "c") and ("a", "bc") differ */
    }
}

static void list_key(char kind, const char *source, const list_filter *f, char out[17])
{
    char status[16], k[2] = {kind, 0};
    snprintf(status, sizeof status, "%d", f->status);
    uint64_t h = 14695981039346656037ull;
    key_add(&h, k);
    key_add(&h, source);
    key_add(&h, status);
    key_add(&h, f->flt_name);
    key_add(&h, f->flt_value);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static void page_token(json_t *out, const char *kind, uint64_t pos, const char *key)
{
    char plain[64], hex[129];
    snprintf(plain, sizeof plain, "%s%llu:%s", kind, (unsigned long long)pos, key);
    util_hex(plain, strlen(plain), hex);
    json_object_set_new(out, "nextToken", json_string(hex));
}

/* The position a nextToken names, or 0 if it is not one this listing could have given: KIND, a
 * number without sign or leading zero below limit (the next submit number, or an array's size),
 * ':' and this listing's key. */
static uint64_t token_pos(const char *token, const char *kind, const char *key, uint64_t limit)
{
    char *plain = util_unhex(token);
    uint64_t pos = 0;
    const char *p = plain;
    size_t kn = strlen(kind);
    if (!p || strncmp(p, kind, kn) != 0) goto out;
    p += kn;
    if (*p < '1' || *p > '9') goto out;
    for (; *p >= '0' && *p <= '9'; p++)
        if (__builtin_mul_overflow(pos, 10, &pos) || __builtin_add_overflow(pos, *p - '0', &pos)) {
            pos = 0;
            goto out;
        }
    if (*p != ':' || strcmp(p + 1, key) != 0 || pos >= limit) pos = 0;
out:
    free(plain);
    return pos;
}

static int list_jobs(api_ctx *c, json_t *req, json_t **resp)
{
    const char *queue = api_str(req, "jobQueue"), *array = api_str(req, "arrayJobId");
    const char *mnp = api_str(req, "multiNodeJobId");
    if (!!queue + !!array + !!mnp != 1)
        return api_client_error(c, "jobQueue, arrayJobId and multiNodeJobId: give exactly one "
                                   "of them (a queue to list its jobs, an array job to list its "
                                   "children, a multi-node job to list its nodes)");
    int by_nodes = mnp != NULL;
    if (mnp) array = mnp;
    list_filter f = {0};
    if (parse_filters(c, req, &f) < 0) {
        free(f.def_name);
        return -1;
    }
    /* Without maxResults a page holds up to 1000 jobs, or 100 with filters, as the API
     * reference says: a caller that does not page sees as many as on AWS. */
    json_int_t max = api_int(req, "maxResults", f.any_filter ? 100 : 1000);
    if (max < 1 || max > 1000) {
        free(f.def_name);
        return api_client_error(c, "maxResults: must be between 1 and 1000 (got %lld)",
                                (long long)max);
    }
    /* With a filter, a queue's jobs come newest first, as the API reference says; otherwise (and
     * an array's children always) in submit order. */
    int newest_first = f.any_filter && !array;
    job **items = NULL;
    size_t n = 0;
    char key[17];
    uint64_t limit;
    if (array) {
        job *p = jobs_find(c->st->jobs, array);
        if (!p || p->gone) {
            /* Never made, or let go by the retention: not "not an array job", which would
             * send the caller looking for what is wrong with a job that is not there. */
            free(f.def_name);
            return api_client_error(c, "%s: no job with id '%.80s' (it never existed, or it "
                                       "ended and was removed after --retention-hours)",
                                    by_nodes ? "multiNodeJobId" : "arrayJobId", array);
        }
        if (!p->children || (jobspec_num_nodes(p->spec) > 0) != by_nodes) {
            free(f.def_name);
            return by_nodes ? api_client_error(c, "multiNodeJobId: '%.80s' is not a multi-node "
                                                  "parallel job", array)
                            : api_client_error(c, "arrayJobId: '%.80s' is not an array job",
                                               array);
        }
        items = p->children;
        n = p->array_size;
        list_key(by_nodes ? 'n' : 'a', p->id, &f, key);
        limit = n;
    } else {
        char *qname = api_name_or_arn(c, queue, ARN_JQ, "jobQueue");
        if (!qname) {
            free(f.def_name);
            return -1;
        }
        jq_rt *rt = dict_get(&c->st->jobs->queues, qname);
        if (!reg_get(&c->st->jq, qname) && !rt) {
            free(f.def_name);
            api_client_error(c, "jobQueue: no job queue named '%s'", qname);
            free(qname);
            return -1;
        }
        list_key('q', qname, &f, key);
        free(qname);
        if (rt) {
            items = rt->all;
            n = rt->n_all;
        }
        limit = c->st->jobs->next_seq;
    }
    /* Tokens carry the position after which the next page starts ("pos:", an index in an
     * array, a submit sequence in a queue), or, newest first, the submit sequence below which
     * it starts ("below:"), and the listing's key. */
    const char *kind = newest_first ? "below:" : "pos:";
    uint64_t after = 0;
    const char *token = api_str(req, "nextToken");
    if (token && *token && !(after = token_pos(token, kind, key, limit))) {
        free(f.def_name);
        return api_client_error(c, "nextToken: '%.64s' is not a token this server issued "
                                   "for this listing; pass the nextToken of the previous "
                                   "page, with the same source, status and filters, "
                                   "unchanged", token);
    }
    json_t *list = json_array();
    json_t *out = json_pack("{s:o}", "jobSummaryList", list);
    /* Positions are 1-based: the index in the array, or the submit sequence in a queue. */
    size_t start = 0;
    if (after && !newest_first) {
        if (array) {
            start = (size_t)after;
        } else {
            size_t lo = 0, hi = n;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (items[mid]->seq <= after) lo = mid + 1;
                else hi = mid;
            }
            start = lo;
        }
    }
    if (newest_first) {
        /* Down from the newest job, or from the last one below the token's sequence. */
        size_t top = n;
        if (after) {
            size_t lo = 0, hi = n;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (items[mid]->seq < after) lo = mid + 1;
                else hi = mid;
            }
            top = lo;
        }
        for (size_t i = top; i-- > 0;) {
            job *j = items[i];
            /* A filter turns most jobs down on what they hold in one cache line (status,
             * name_head): asked for jobs ahead, a million jobs' lines come in parallel rather
             * than one miss at a time. */
            if (i >= LIST_PREFETCH) __builtin_prefetch(&items[i - LIST_PREFETCH]->status);
            if (!matches(&f, j)) continue;
            if (json_array_size(list) == (size_t)max) {
                /* The page ends at j's successor: the next one resumes below it. */
                page_token(out, "below:", items[i + 1]->seq, key);
                break;
            }
            json_array_append_new(list, jobdesc_summary(j));
        }
        start = n; /* done */
    }
    for (size_t i = start; i < n; i++) {
        job *j = items[i];
        if (i + LIST_PREFETCH < n) __builtin_prefetch(&items[i + LIST_PREFETCH]->status);
        if (!matches(&f, j)) continue;
        if (json_array_size(list) == (size_t)max) {
            /* The page ends before j: the next one resumes at it (at its index in an array; in a
             * queue, after the submit sequence of the job before it). */
            page_token(out, "pos:", array ? (uint64_t)i : items[i - 1]->seq, key);
            break;
        }
        json_array_append_new(list, jobdesc_summary(j));
    }
    free(f.def_name);
    *resp = out;
    return 0;
}

static job *find_job_arg(api_ctx *c, json_t *req)
{
    const char *id = api_str(req, "jobId");
    job *j = jobs_find(c->st->jobs, id);
    if (!j) api_client_error(c, "jobId: no job with id '%.80s'", id);
    return j;
}

static int cancel_job(api_ctx *c, json_t *req, json_t **resp)
{
    job *j = find_job_arg(c, req);
    if (!j) return -1;
    attempt_cancel(c->st, j, api_str(req, "reason"), 0);
    *resp = json_object();
    return 0;
}

static int terminate_job(api_ctx *c, json_t *req, json_t **resp)
{
    job *j = find_job_arg(c, req);
    if (!j) return -1;
    attempt_cancel(c->st, j, api_str(req, "reason"), 1);
    *resp = json_object();
    return 0;
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
     " parameters:m<s>, containerOverrides:{vcpus:" API_VCPUS_SHAPE ", memory:i, command:[s],"
     " instanceType:s,"
     " environment:@EnvironmentVariables, resourceRequirements:@ResourceRequirements},"
     " nodeOverrides:*, retryStrategy:@RetryStrategy, propagateTags:b, timeout:@JobTimeout,"
     " tags:m<s>, eksPropertiesOverride:*, ecsPropertiesOverride:*,"
     " consumableResourcePropertiesOverride:*}",
     submit_job, 30 * 1024, NULL},
    {"DescribeJobs", "POST", "/v1/describejobs", "{jobs:[s]!}", describe_jobs, 0, NULL},
    {"ListJobs", "POST", "/v1/listjobs",
     "{jobQueue:s, arrayJobId:s, multiNodeJobId:s,"
     " jobStatus:e(SUBMITTED|PENDING|RUNNABLE|STARTING|RUNNING|SUCCEEDED|FAILED), maxResults:i,"
     " nextToken:s, filters:[{name:s, values:[s]}]}",
     list_jobs, 0, NULL},
    {"CancelJob", "POST", "/v1/canceljob", "{jobId:s!, reason:s!}", cancel_job, 0, NULL},
    {"TerminateJob", "POST", "/v1/terminatejob", "{jobId:s!, reason:s!}", terminate_job, 0, NULL},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
