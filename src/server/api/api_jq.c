/* api_jq — job queues: Create, Describe, Update, Delete.
 *
 * A queue is kept as its AWS JobQueueDetail, under its name.  Its computeEnvironmentOrder always
 * holds compute environment ARNs, whatever the caller wrote (name or ARN), so that the scheduler
 * and DeleteComputeEnvironment's "still used by a queue" check compare one spelling.  Status moves
 * CREATING -> VALID, UPDATING -> VALID and DELETING -> DELETED on the core's next turn, as with
 * compute environments.
 *
 * Decisions where AWS documents no rule: priority is 0 to 1000; an order is 0 or more; a queue
 * may use compute environments that are still CREATING or UPDATING (they settle on the core's
 * next turn) but not DELETING or INVALID ones; jobQueueType ECS or ECS_FARGATE is accepted when it
 * matches the environments, is echoed, and then pins the queue to that kind of compute, while
 * the types and fields of other AWS products (EKS, SageMaker service environments) are refused;
 * computeEnvironmentOrder is required, as a queue without one could run nothing here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "server/base/core.h"
#include "server/model/arn.h"
#include "server/model/config.h"
#include "server/model/jobs.h"
#include "server/model/registry.h"
#include "server/model/resource.h"
#include "server/model/state.h"
#include "server/engine/attempt.h"
#include "server/api/api.h"

#define PRIORITY_MAX 1000
#define TIME_LIMIT_MIN 600    /* jobStateTimeLimitActions[].maxTimeSeconds, per the model */
#define TIME_LIMIT_MAX 86400

#define ORDER_SHAPE "computeEnvironmentOrder:[{order:i!, computeEnvironment:s!}]"
#define SERVICE_ORDER_SHAPE "serviceEnvironmentOrder:[{order:i!, serviceEnvironment:s!}]"
#define TIME_LIMITS_SHAPE                                                                       \
    "jobStateTimeLimitActions:[{reason:s!, state:e(RUNNABLE)!, maxTimeSeconds:i!,"              \
    " action:e(CANCEL|TERMINATE)!}]"

/* The two kinds of compute a queue may draw on; AWS forbids mixing them in one queue. */
enum { KIND_ANY = -1, KIND_EC2 = 0, KIND_FARGATE = 1 };

static const char *kind_name(int kind)
{
    return kind == KIND_FARGATE ? "FARGATE/FARGATE_SPOT" : "EC2/SPOT";
}

/* UNMANAGED environments have no computeResources; they run on machines like EC2 ones do. */
static int ce_kind(const ce_rec *ce)
{
    return ce->fargate ? KIND_FARGATE : KIND_EC2;
}

/* The jobQueueType that goes with a kind of compute environment. */
static const char *kind_queue_type(int kind)
{
    return kind == KIND_FARGATE ? "ECS_FARGATE" : "ECS";
}

/* The queue v names (by name or ARN), or NULL after reporting the error. */
static jq_rec *find_jq(api_ctx *c, const char *v, const char *field)
{
    char *name = api_name_or_arn(c, v, ARN_JQ, field);
    if (!name) return NULL;
    jq_rec *jq = res_jq(c->st, name);
    /* "does not exist", as AWS words it: Terraform's destroy of a queue already gone looks
     * for those words. */
    if (!jq) api_client_error(c, "%s: no job queue named '%s' (it does not exist)", field, name);
    free(name);
    return jq;
}

/* Checks a computeEnvironmentOrder and returns a fresh copy whose computeEnvironment members are
 * the environments' ARNs; NULL on bad input.  want is the kind of compute environment the queue
 * is pinned to (by its jobQueueType), or KIND_ANY. */
static json_t *resolve_order(api_ctx *c, json_t *order, int want)
{
    size_t n = json_array_size(order);
    if (n == 0) {
        api_client_error(c, "computeEnvironmentOrder: give at least one compute environment "
                            "({order, computeEnvironment})");
        return NULL;
    }
    if (n > (size_t)barge_cfg.max_ce_per_queue) {
        api_client_error(c, "computeEnvironmentOrder: a job queue may use at most %d compute "
                            "environments (got %zu)", barge_cfg.max_ce_per_queue, n);
        return NULL;
    }
    json_t *out = json_array();
    int kind = want;
    size_t i;
    json_t *o;
    json_array_foreach(order, i, o) {
        char field[80];
        json_int_t ord = api_int(o, "order", 0);
        if (ord < 0) {
            api_client_error(c, "computeEnvironmentOrder[%zu].order: must be 0 or more (got "
                                "%lld)", i, (long long)ord);
            goto fail;
        }
        for (size_t j = 0; j < i; j++) {
            if (api_int(json_array_get(order, j), "order", 0) == ord) {
                api_client_error(c, "computeEnvironmentOrder[%zu].order: %lld is also the order "
                                    "of computeEnvironmentOrder[%zu]; give each compute "
                                    "environment its own order", i, (long long)ord, j);
                goto fail;
            }
        }
        snprintf(field, sizeof field, "computeEnvironmentOrder[%zu].computeEnvironment", i);
        char *name = api_name_or_arn(c, api_str(o, "computeEnvironment"), ARN_CE, field);
        if (!name) goto fail;
        ce_rec *ce = res_ce(c->st, name);
        if (!ce) {
            api_client_error(c, "%s: no compute environment named '%s'; create it first", field,
                             name);
            free(name);
            goto fail;
        }
        if (ce->status == RES_DELETING || ce->status == RES_INVALID) {
            api_client_error(c, "%s: compute environment '%s' is %s and cannot take jobs; use "
                                "another one", field, name, res_status_name(ce->status));
            free(name);
            goto fail;
        }
        const char *arn = api_str(reg_get(&c->st->ce, name), "computeEnvironmentArn");
        for (size_t j = 0; j < i; j++) {
            if (strcmp(api_str(json_array_get(out, j), "computeEnvironment"), arn) == 0) {
                api_client_error(c, "%s: compute environment '%s' is already listed at "
                                    "computeEnvironmentOrder[%zu]; list each environment once",
                                 field, name, j);
                free(name);
                goto fail;
            }
        }
        int k = ce_kind(ce);
        if (kind == KIND_ANY) {
            kind = k;
        } else if (k != kind) {
            if (want != KIND_ANY)
                api_client_error(c, "%s: compute environment '%s' is %s, but this queue's "
                                    "jobQueueType is %s, which needs %s compute environments",
                                 field, name, kind_name(k), kind_queue_type(want),
                                 kind_name(want));
            else
                api_client_error(c, "%s: compute environment '%s' is %s, but "
                                    "computeEnvironmentOrder[0] is %s; a queue's compute "
                                    "environments must be all EC2/SPOT or all "
                                    "FARGATE/FARGATE_SPOT", field, name, kind_name(k),
                                 kind_name(kind));
            free(name);
            goto fail;
        }
        free(name);
        json_array_append_new(out, json_pack("{s:I, s:s}", "order", ord, "computeEnvironment",
                                             arn));
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

/* The scheduling policy's ARN as the policy records it, or NULL after reporting the error. */
static char *resolve_policy(api_ctx *c, const char *v)
{
    const char *field = "schedulingPolicyArn";
    if (strncmp(v, "arn:", 4) != 0) {
        api_client_error(c, "%s: '%.200s' is not an ARN; give the policy's ARN "
                            "(arn:aws:batch:REGION:ACCOUNT:scheduling-policy/NAME)", field, v);
        return NULL;
    }
    char *name = api_name_or_arn(c, v, ARN_SP, field);
    if (!name) return NULL;
    json_t *sp = reg_get(&c->st->sp, name);
    if (!sp) {
        api_client_error(c, "%s: no scheduling policy named '%s'; create it with "
                            "CreateSchedulingPolicy first", field, name);
        free(name);
        return NULL;
    }
    const char *arn = api_str(sp, "arn");
    char *out = arn ? xstrdup(arn) : arn_make(ARN_SP, name);
    free(name);
    return out;
}

static int check_time_limits(api_ctx *c, json_t *actions)
{
    size_t i;
    json_t *a;
    json_array_foreach(actions, i, a) {
        const char *reason = api_str(a, "reason");
        json_int_t secs = api_int(a, "maxTimeSeconds", 0);
        if (!*reason)
            return api_client_error(c, "jobStateTimeLimitActions[%zu].reason: must not be "
                                       "empty; it becomes the statusReason of the jobs it "
                                       "cancels", i);
        /* Developer mode lowers AWS's minimum so that tests of the actions run quickly. */
        int min = barge_cfg.dev ? 1 : TIME_LIMIT_MIN;
        if (secs < min || secs > TIME_LIMIT_MAX)
            return api_client_error(c, "jobStateTimeLimitActions[%zu].maxTimeSeconds: must be "
                                       "between %d and %d (got %lld)%s", i, min, TIME_LIMIT_MAX,
                                    (long long)secs,
                                    barge_cfg.dev ? ""
                                                  : "; a server started with --dev accepts 1 "
                                                    "second or more");
        if (strcmp(api_str(a, "action"), "CANCEL") != 0)
            return api_client_error(c, "jobStateTimeLimitActions[%zu].action: %s applies only "
                                       "to SageMaker service environments, which barge does "
                                       "not support; use CANCEL", i, api_str(a, "action"));
    }
    return 0;
}

static int check_priority(api_ctx *c, json_t *req)
{
    json_int_t p = api_int(req, "priority", 0);
    if (p < 0 || p > PRIORITY_MAX)
        return api_client_error(c, "priority: must be between 0 and %d (got %lld); higher "
                                   "values are scheduled first", PRIORITY_MAX, (long long)p);
    return 0;
}

/* Service environments belong to an AWS product (SageMaker Training) that barge does not run. */
static int refuse_service_order(api_ctx *c, json_t *req)
{
    if (json_object_get(req, "serviceEnvironmentOrder"))
        return api_client_error(c, "serviceEnvironmentOrder: service environments (SageMaker "
                                   "Training) are not supported by barge; use "
                                   "computeEnvironmentOrder");
    return 0;
}

/* The kind of compute environment a queue type pins a queue to. */
static int type_kind(const char *type)
{
    return !type ? KIND_ANY : strcmp(type, "ECS_FARGATE") == 0 ? KIND_FARGATE : KIND_EC2;
}

/* The status transition that follows a create, update or delete. */
static void settle(void *ctx, void *arg)
{
    state *st = ctx;
    res_settle(st, &st->jq, arg);
}

static int create_jq(api_ctx *c, json_t *req, json_t **resp)
{
    const char *name = api_str(req, "jobQueueName");
    if (api_check_name(c, name, "jobQueueName") < 0) return -1;
    if (res_jq(c->st, name))
        return api_client_error(c, "jobQueueName: a job queue named '%s' already exists", name);
    if (refuse_service_order(c, req) < 0) return -1;
    const char *type = api_str(req, "jobQueueType");
    if (type && strcmp(type, "ECS") != 0 && strcmp(type, "ECS_FARGATE") != 0)
        return api_client_error(c, "jobQueueType: %s queues are not supported by barge; use "
                                   "ECS (EC2/SPOT compute environments) or ECS_FARGATE "
                                   "(FARGATE/FARGATE_SPOT), or leave it out", type);
    if (check_priority(c, req) < 0) return -1;
    json_t *order_in = json_object_get(req, "computeEnvironmentOrder");
    if (!order_in)
        return api_client_error(c, "computeEnvironmentOrder: this field is required; give 1 to "
                                   "%d compute environments", barge_cfg.max_ce_per_queue);
    json_t *tla = json_object_get(req, "jobStateTimeLimitActions");
    if (check_time_limits(c, tla) < 0) return -1;
    if (api_check_tags(c, json_object_get(req, "tags"), "tags") < 0) return -1;
    json_t *order = resolve_order(c, order_in, type_kind(type));
    if (!order) return -1;
    char *policy = NULL;
    const char *policy_in = api_str(req, "schedulingPolicyArn");
    if (policy_in && !(policy = resolve_policy(c, policy_in))) {
        json_decref(order);
        return -1;
    }

    char *arn = arn_make(ARN_JQ, name);
    json_t *jq = json_pack("{s:s, s:s, s:s}", "jobQueueName", name, "jobQueueArn", arn, "state",
                           api_str(req, "state") ? api_str(req, "state")
                                                 : res_state_name(RES_ENABLED));
    if (policy) json_object_set_new(jq, "schedulingPolicyArn", json_string(policy));
    res_set_status(jq, RES_CREATING, "Creating the job queue");
    json_object_set_new(jq, "priority", json_integer(api_int(req, "priority", 0)));
    json_object_set_new(jq, "computeEnvironmentOrder", order);
    if (type) json_object_set_new(jq, "jobQueueType", json_string(type));
    json_object_set_new(jq, "tags", json_deep_copy(json_object_get(req, "tags")) ?: json_object());
    json_object_set_new(jq, "jobStateTimeLimitActions", json_deep_copy(tla) ?: json_array());
    /* Jobs submitted from here on are this queue's; a former queue of the same name keeps its
     * own (jobs.h). */
    json_object_set_new(jq, RES_M_BARGE,
                        json_pack("{s:I}", RES_M_FIRST_SEQ, (json_int_t)c->st->jobs->next_seq));
    reg_put(c->st, &c->st->jq, name, jq);
    core_after(0, settle, xstrdup(name));
    *resp = json_pack("{s:s, s:s}", "jobQueueName", name, "jobQueueArn", arn);
    free(arn);
    free(policy);
    return 0;
}

/* barge's own member of a queue's description: its jobs counted by status, kept as they change
 * (jq_rt's n_status), and its arrays' children from their parents' summaries: one look per
 * queue and per array, never per job, so that the console's queues page costs the same with a
 * million jobs as with ten. */
static json_t *queue_counts(api_ctx *c, const char *name)
{
    jq_rt *rt = dict_get(&c->st->jobs->queues, name);
    uint64_t kids[JS_COUNT] = {0};
    json_t *counts = json_object(), *children = json_object();
    for (size_t a = 0; rt && a < rt->n_arrays; a++)
        for (int s = 0; s < JS_COUNT; s++) kids[s] += rt->arrays[a]->family->summary[s];
    for (int s = 0; s < JS_COUNT; s++) {
        json_object_set_new(counts, job_status_name(s), json_integer(rt ? rt->n_status[s] : 0));
        json_object_set_new(children, job_status_name(s), json_integer((json_int_t)kids[s]));
    }
    return json_pack("{s:o, s:o}", "jobsByStatus", counts, "arrayChildrenByStatus", children);
}

/* A queue as Describe gives it (a new object).  AWS describes every queue with its type; one
 * created without a jobQueueType is not pinned to a kind of compute (it may move to the other
 * kind), so its type is the one its environments give now. */
static json_t *described(api_ctx *c, json_t *jq)
{
    json_t *d = json_copy(jq);
    const char *name = json_string_value(json_object_get(jq, "jobQueueName"));
    if (!json_object_get(jq, "jobQueueType")) {
        jq_rec *q = res_jq(c->st, name);
        int kind = q ? res_jq_fargate(q) : -1;
        json_object_set_new(d, "jobQueueType",
                            json_string(kind_queue_type(kind == 1 ? KIND_FARGATE : KIND_EC2)));
    }
    json_object_set_new(d, "barge", queue_counts(c, name ? name : ""));
    return d;
}

static int describe_jq(api_ctx *c, json_t *req, json_t **resp)
{
    json_t *names = json_object_get(req, "jobQueues");
    json_t *out = json_object(), *list = json_array();
    json_object_set_new(out, "jobQueues", list);
    *resp = out;
    if (json_array_size(names) > 0) {
        if (json_array_size(names) > API_DESCRIBE_MAX)
            return api_client_error(c, "jobQueues: at most %d names or ARNs per call (got %zu)",
                                    API_DESCRIBE_MAX, json_array_size(names));
        /* As AWS does, names that match nothing are left out rather than refused. */
        size_t i;
        json_t *v;
        json_array_foreach(names, i, v) {
            char *name = api_key_of(json_string_value(v), ARN_JQ);
            json_t *jq = name ? reg_get_any(&c->st->jq, name) : NULL;
            if (jq) json_array_append_new(list, described(c, jq));
            free(name);
        }
        return 0;
    }
    size_t n, start, end;
    const char **keys = reg_sorted_keys(&c->st->jq, strcmp, &n);
    int rc = api_page(c, req, out, "job-queue", keys, n, strcmp, API_DESCRIBE_MAX, &start, &end);
    for (size_t i = start; rc == 0 && i < end; i++)
        json_array_append_new(list, described(c, reg_get(&c->st->jq, keys[i])));
    free(keys);
    return rc;
}

static int update_jq(api_ctx *c, json_t *req, json_t **resp)
{
    jq_rec *rec = find_jq(c, api_str(req, "jobQueue"), "jobQueue");
    if (!rec) return -1;
    const char *name = rec->name;
    json_t *jq = reg_get(&c->st->jq, name);
    int rc = -1;
    json_t *order = NULL;
    char *policy = NULL;
    if (rec->status == RES_DELETING) {
        api_client_error(c, "jobQueue: '%s' is being deleted and cannot be updated", name);
        goto out;
    }
    if (refuse_service_order(c, req) < 0) goto out;
    if (json_object_get(req, "priority") && check_priority(c, req) < 0) goto out;
    json_t *tla = json_object_get(req, "jobStateTimeLimitActions");
    if (check_time_limits(c, tla) < 0) goto out;
    json_t *order_in = json_object_get(req, "computeEnvironmentOrder");
    if (order_in) {
        order = resolve_order(c, order_in, type_kind(api_str(jq, "jobQueueType")));
        if (!order) goto out;
    }
    const char *policy_in = api_str(req, "schedulingPolicyArn");
    /* As AWS: a queue made without a policy is first in, first out for good (its jobs have no
     * share identifier, which a fair-share queue requires); a policy can be replaced, not
     * added. */
    if (policy_in && !api_str(jq, "schedulingPolicyArn")) {
        api_client_error(c, "schedulingPolicyArn: job queue '%s' was created without a "
                            "scheduling policy and is first in, first out; a policy cannot be "
                            "added to it. Create a new job queue with the policy instead", name);
        goto out;
    }
    if (policy_in && !(policy = resolve_policy(c, policy_in))) goto out;

    json_t *next = json_deep_copy(jq);
    if (api_str(req, "state"))
        json_object_set_new(next, "state", json_string(api_str(req, "state")));
    if (json_object_get(req, "priority"))
        json_object_set_new(next, "priority", json_integer(api_int(req, "priority", 0)));
    if (order) {
        json_object_set_new(next, "computeEnvironmentOrder", order);
        order = NULL;
    }
    if (policy) json_object_set_new(next, "schedulingPolicyArn", json_string(policy));
    if (tla) json_object_set_new(next, "jobStateTimeLimitActions", json_deep_copy(tla));
    res_set_status(next, RES_UPDATING, "Updating the job queue");
    *resp = json_pack("{s:s, s:O}", "jobQueueName", name, "jobQueueArn",
                      json_object_get(next, "jobQueueArn"));
    reg_put(c->st, &c->st->jq, name, next);
    core_after(0, settle, xstrdup(name));
    rc = 0;
out:
    json_decref(order);
    free(policy);
    return rc;
}

static int delete_jq(api_ctx *c, json_t *req, json_t **resp)
{
    jq_rec *jq = find_jq(c, api_str(req, "jobQueue"), "jobQueue");
    if (!jq) return -1;
    if (jq->state != RES_DISABLED)
        return api_client_error(c, "jobQueue: '%s' must be DISABLED before it is deleted; call "
                                   "UpdateJobQueue with state DISABLED first", jq->name);
    /* Deleting twice is not an error: the second call finds the queue already on its way. */
    if (jq->status != RES_DELETING) {
        json_t *next = json_deep_copy(reg_get(&c->st->jq, jq->name));
        res_set_status(next, RES_DELETING, "Deleting the job queue");
        reg_put(c->st, &c->st->jq, jq->name, next);
        core_after(0, settle, xstrdup(jq->name));
        attempt_cancel_queue(c->st, jq->name);
    }
    *resp = json_object();
    return 0;
}

api_op api_jq_ops[] = {
    {"CreateJobQueue", "POST", "/v1/createjobqueue",
     "{jobQueueName:s!, state:e(ENABLED|DISABLED), schedulingPolicyArn:s, priority:i!, "
     ORDER_SHAPE ", " SERVICE_ORDER_SHAPE ","
     " jobQueueType:e(EKS|ECS|ECS_FARGATE|SAGEMAKER_TRAINING), tags:@Tags, " TIME_LIMITS_SHAPE "}",
     create_jq, 0, NULL},
    {"DescribeJobQueues", "POST", "/v1/describejobqueues",
     "{jobQueues:[s], maxResults:i, nextToken:s}", describe_jq, 0, NULL},
    {"UpdateJobQueue", "POST", "/v1/updatejobqueue",
     "{jobQueue:s!, state:e(ENABLED|DISABLED), schedulingPolicyArn:s, priority:i, "
     ORDER_SHAPE ", " SERVICE_ORDER_SHAPE ", " TIME_LIMITS_SHAPE "}",
     update_jq, 0, NULL},
    {"DeleteJobQueue", "POST", "/v1/deletejobqueue", "{jobQueue:s!}", delete_jq, 0, NULL},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
