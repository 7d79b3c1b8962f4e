/* attempt — see attempt.h. */
#include "server/base/metrics.h"
#include "server/engine/attempt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/base/logstore.h"
#include "server/model/arn.h"
#include "server/model/config.h"
#include "server/model/consumable.h"
#include "server/model/jobs.h"
#include "server/model/registry.h"
#include "server/model/retry.h"
#include "server/model/secrets.h"
#include "server/model/state.h"

void attempt_host_lost(char *out, size_t len, const char *instance_id)
{
    snprintf(out, len, "Host EC2 (instance %s) terminated.", instance_id ? instance_id : "unknown");
}

static attempt_role_hooks role_hooks;

void attempt_set_role_hooks(const attempt_role_hooks *h)
{
    role_hooks = h ? *h : (attempt_role_hooks){0};
}

/* ---- starting -------------------------------------------------------------------------- */

static void env_add(json_t *env, const char *k, const char *v)
{
    json_object_set_new(env, k, json_string(v));
}

/* repositoryCredentials: the secret its credentialsParameter names, as the agent shows it to
 * the registry ("user:password"), or why there is none, which fails the pull as ECS fails it. */
static void registry_auth(json_t *container, json_t *creds)
{
    const char *param = json_string_value(json_object_get(creds, "credentialsParameter"));
    if (!param) return;
    const char *value = secrets_get(param);
    json_t *doc = value ? json_loads(value, 0, NULL) : NULL;
    const char *user = json_string_value(json_object_get(doc, "username"));
    const char *pass = json_string_value(json_object_get(doc, "password"));
    char *why = NULL;
    if (!value)
        why = xasprintf("unable to retrieve the registry credentials: ResourceNotFoundException: "
                        "barge can't find the secret %s (start barge server with --secrets "
                        "naming it)", param);
    else if (!user || !pass)
        why = xasprintf("the secret %s must be a JSON object with username and password",
                        param);
    if (why) {
        json_object_set_new(container, "registryAuthError", json_string(why));
        free(why);
    } else {
        char *auth = xasprintf("%s:%s", user, pass);
        json_object_set_new(container, "registryAuth", json_string(auth));
        free(auth);
    }
    json_decref(doc);
}

/* The value a secrets[].valueFrom names, or NULL.  A Secrets Manager ARN may end in
 * ":json-key:version-stage:version-id", as in ECS: the value is then that key of the JSON
 * secret (versions are not kept: barge has one value per secret). */
static char *secret_value(const char *from)
{
    const char *mark = strncmp(from, "arn:", 4) == 0 ? strstr(from, ":secret:") : NULL;
    const char *key_at = mark ? strchr(mark + 8, ':') : NULL;
    if (!key_at) {
        const char *v = secrets_get(from);
        return v ? xstrdup(v) : NULL;
    }
    char *arn = xstrndup(from, (size_t)(key_at - from));
    const char *key_end = strchr(key_at + 1, ':');
    char *key = key_end ? xstrndup(key_at + 1, (size_t)(key_end - key_at - 1))
                        : xstrdup(key_at + 1);
    const char *whole = secrets_get(arn);
    char *out = NULL;
    if (whole && !*key) {
        out = xstrdup(whole);
    } else if (whole) {
        json_t *doc = json_loads(whole, 0, NULL), *v = json_object_get(doc, key);
        if (json_is_string(v)) out = xstrdup(json_string_value(v));
        else if (v) out = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        json_decref(doc);
    }
    free(arn);
    free(key);
    return out;
}

/* containerProperties.secrets: each becomes an environment variable of the job, valued here, at
 * dispatch, so that no description or stored record holds it; a secret that cannot be had fails
 * the attempt as ECS fails the task. */
static void secret_env(json_t *env, json_t *container, json_t *secrets)
{
    size_t i;
    json_t *s;
    json_array_foreach(secrets, i, s) {
        const char *name = json_string_value(json_object_get(s, "name"));
        const char *from = json_string_value(json_object_get(s, "valueFrom"));
        if (!name || !from) continue;
        char *value = secret_value(from);
        if (!value) {
            char *why = xasprintf("ResourceInitializationError: unable to pull secrets or "
                                  "registry auth: unable to retrieve secret from asm: "
                                  "ResourceNotFoundException: barge can't find the specified "
                                  "secret %s (start barge server with --secrets naming it)",
                                  from);
            json_object_set_new(container, "secretsError", json_string(why));
            free(why);
            return;
        }
        env_add(env, name, value);
        free(value);
    }
}

/* AWS's console makes the profile ecsInstanceRole for the role of that name, and barge, which
 * sees no profiles, takes every profile to hold the role of its own name (and path). */
const char *attempt_profile_role(const char *profile, char *out)
{
    static const char kind[] = ":instance-profile/";
    const char *at = profile ? strstr(profile, kind) : NULL;
    if (!profile || !*profile || strlen(profile) >= ATTEMPT_ROLE_MAX - 64) return NULL;
    if (strncmp(profile, "arn:", 4) == 0 && strstr(profile, ":role/")) return strcpy(out, profile);
    if (strncmp(profile, "arn:", 4) == 0 && at)
        snprintf(out, ATTEMPT_ROLE_MAX, "%.*s:role/%s", (int)(at - profile), profile,
                 at + sizeof kind - 1);
    else if (!strchr(profile, ':') && !strchr(profile, '/'))
        snprintf(out, ATTEMPT_ROLE_MAX, "arn:aws:iam::%s:role/%s", barge_cfg.account_id,
                 profile);
    else
        return NULL;
    return out;
}

const char *attempt_role(const job *j, const instance *in, char *out,
                         int *by_instance)
{
    *by_instance = 0;
    const char *role =
        json_string_value(json_object_get(jobspec_shared(j->spec, "container"), "jobRoleArn"));
    if (role || !in) return role;
    role = attempt_profile_role(in->profile, out);
    /* A job that names no role does not fail for want of one: it gets no credentials.  Only a
     * role --roles names: a --dev server, which lets jobs assume any role they name, would
     * otherwise give every job of an environment with an instanceRole (AWS wants one on every
     * EC2 environment) credentials that work only here, ahead of what the SDKs' chain found
     * before (on an EC2 host, its instance's own). */
    if (!role || !role_hooks.listed || !role_hooks.listed(role)) return NULL;
    *by_instance = 1;
    return role;
}

/* jobRoleArn: the agent gets the role's credentials for the attempt (agent_creds.c) and points
 * the job's SDKs at them, and this server, in the job's region.  A role jobs may not assume
 * fails the attempt before anything runs, as ECS fails a task whose role it cannot assume. */
static void role_setup(json_t *a, json_t *env, json_t *container, const char *role)
{
    json_object_set_new(a, "jobRoleArn", json_string(role));
    if (!json_object_get(env, "AWS_REGION")) env_add(env, "AWS_REGION", barge_cfg.region);
    if (!json_object_get(env, "AWS_DEFAULT_REGION"))
        env_add(env, "AWS_DEFAULT_REGION", barge_cfg.region);
    char why[600];
    if (role_hooks.usable && !role_hooks.usable(role, why, sizeof why)) {
        char *reason = xasprintf("CannotStartContainerError: %s", why);
        json_object_set_new(container, "credentialsError", json_string(reason));
        free(reason);
    }
}

/* What the agent is told to run (docs/agent-protocol.md). */
/* The address other nodes reach an instance at: the IPv4 address its agent registered from
 * (a local agent's is loopback, as it runs on this host); failing that, loopback for a local
 * agent and the host name any other registered with. */
static const char *node_address(const instance *in)
{
    if (in->address) return in->address;
    return in->local || !in->hostname || !*in->hostname ? "127.0.0.1" : in->hostname;
}

static json_t *assignment(instance *in, job *j)
{
    json_t *c = jobspec_shared(j->spec, "container");
    json_t *env = json_object();
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(c, "environment"), i, e) {
        const char *n = json_string_value(json_object_get(e, "name"));
        const char *val = json_string_value(json_object_get(e, "value"));
        if (n && val) env_add(env, n, val);
    }
    json_t *container = json_object();
    secret_env(env, container, json_object_get(c, "secrets"));
    char num[32];
    env_add(env, "AWS_BATCH_JOB_ID", j->id);
    env_add(env, "AWS_BATCH_JQ_NAME", j->spec->queue);
    env_add(env, "AWS_BATCH_CE_NAME", in->ce);
    snprintf(num, sizeof num, "%u", j->n_attempts);
    env_add(env, "AWS_BATCH_JOB_ATTEMPT", num);
    /* What ECS's agent tells every container it runs, which tools read to know where they run
     * (Metaflow's task set-up requires it); a value the job gives is kept, as ECS keeps it. */
    if (!json_object_get(env, "AWS_EXECUTION_ENV"))
        env_add(env, "AWS_EXECUTION_ENV", j->spec->fargate ? "AWS_ECS_FARGATE" : "AWS_ECS_EC2");
    if (j->parent && jobspec_num_nodes(j->parent->spec) > 0) {
        /* A node of a multi-node parallel job: which, of how many, and where the main node
         * runs (its nodes are placed together, the main one first: scheduler.c). */
        int main_index = jobspec_main_node(j->parent->spec);
        snprintf(num, sizeof num, "%d", job_index(j));
        env_add(env, "AWS_BATCH_JOB_NODE_INDEX", num);
        snprintf(num, sizeof num, "%u", j->parent->array_size);
        env_add(env, "AWS_BATCH_JOB_NUM_NODES", num);
        snprintf(num, sizeof num, "%d", main_index);
        env_add(env, "AWS_BATCH_JOB_MAIN_NODE_INDEX", num);
        const instance *main_in = j->parent->children[main_index]->inst;
        if (job_index(j) != main_index && main_in)
            env_add(env, "AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS", node_address(main_in));
    } else if (j->parent) {
        snprintf(num, sizeof num, "%d", job_index(j));
        env_add(env, "AWS_BATCH_JOB_ARRAY_INDEX", num);
        snprintf(num, sizeof num, "%u", j->parent->array_size);
        env_add(env, "AWS_BATCH_JOB_ARRAY_SIZE", num);
    }
    json_t *cmd = json_object_get(c, "command");
    json_t *image = json_object_get(c, "image");
    /* How a container executor runs the image: the members of containerProperties that apply
     * off AWS, as the definition and the overrides set them. */
    static const char *const members[] = {"user", "privileged", "readonlyRootFilesystem",
                                          "mountPoints", "volumes", "ulimits",
                                          "linuxParameters", NULL};
    for (const char *const *m = members; *m; m++) {
        json_t *v = json_object_get(c, *m);
        /* Privileged only with --allow-privileged: with --ignore-privileged, or for a job
         * queued while it was given, the container runs unprivileged. */
        if (v && !(strcmp(*m, "privileged") == 0 &&
                   barge_cfg.allow_privileged != PRIVILEGED_ALLOW))
            json_object_set(container, *m, v);
    }
    json_object_set_new(container, "vcpus", json_real(j->spec->mvcpus / 1000.0));
    registry_auth(container, json_object_get(c, "repositoryCredentials"));
    /* A multi-node job's timeout is the whole job's (AWS), not each node's: the main node's
     * attempt carries it, and its end stops the others (stop_other_nodes). */
    int timeout_s = j->spec->timeout_s;
    if (jobs_is_node(j) && job_index(j) != jobspec_main_node(j->parent->spec))
        timeout_s = 0;
    json_t *a = json_pack("{s:s, s:i, s:o, s:o, s:f, s:i, s:i, s:i, s:i, s:s, s:O*, s:o}",
                     "jobId", j->id,
                     "attempt", (int)j->n_attempts, "command",
                     cmd ? json_incref(cmd) : json_array(),
                     "environment", env, "vcpus", j->spec->mvcpus / 1000.0, "memoryMiB",
                     j->spec->memory_mib, "gpus", j->spec->gpus, "timeoutSeconds",
                     timeout_s, "killGraceSeconds", barge_cfg.kill_grace_s,
                     "logStreamName", j->log_stream, "image", image, "container", container);
    char role_arn[ATTEMPT_ROLE_MAX];
    int by_instance;
    const char *role = attempt_role(j, in, role_arn, &by_instance);
    if (role) role_setup(a, env, container, role);
    return a;
}

static void set_str(char **slot, const char *v)
{
    free(*slot);
    *slot = v ? xstrdup(v) : NULL;
}

void attempt_start(state *st, instance *in, job *j)
{
    BARGE_ASSERT(j->status == JS_RUNNABLE && j->inst == NULL);
    char hex[33], stream[LOGSTORE_NAME_MAX + 1];
    /* 32 hex digits as AWS's task ids, but in the order they were made: a stream's name goes in
     * the log store's indexes by name, where random names would each dirty a page of their own. */
    util_sorted_id(hex);
    /* PREFIX/default/TASKID in the job's log group (jobspec.h).  The agent is told only the
     * stream's name; its uploads find the stream, and so the group, by that name. */
    snprintf(stream, sizeof stream, "%s/default/%s", jobspec_log_prefix(j->spec), hex);
    set_str(&j->log_stream, stream);
    /* The stream exists from the start, as the awslogs driver makes it (and its group, as
     * awslogs-create-group would): a job that prints nothing has an empty log, not a missing
     * one. */
    if (st->logs) logstore_create_stream(st->logs, jobspec_log_group(j->spec), stream);
    set_str(&j->inst_id, in->id);
    set_str(&j->ce_name, in->ce);
    set_str(&j->mem_note, in->mem_note);
    set_str(&j->executor, in->executor ? in->executor : EXECUTOR_PROCESS);
    j->n_attempts++;
    j->attempt_started_at = 0;
    j->assign_sent_at = 0;
    j->assign_resends = 0;
    instance_attach(in, j);
    jobs_set_status(st, j, JS_STARTING, NULL);
    metrics_count(METRIC_DISPATCHES, 1);
    instance_push_assign(in, assignment(in, j));
    instance_wake(st, in);
}

void attempt_running(state *st, job *j, int64_t at)
{
    if (j->status != JS_STARTING) return;
    /* A job's startedAt (and stoppedAt) are its latest attempt's, as AWS reports them; each
     * attempt keeps its own in attempts[].  An array's parent keeps its first child's start
     * (jobs_note_started). */
    /* The job's first start only: a retry's would count the attempts before it as waiting. */
    if (!j->started_at)
        metrics_observe(METRIC_SUBMIT_TO_START, (double)(at - j->created_at) / 1000.0);
    j->started_at = at;
    j->attempt_started_at = at;
    jobs_note_started(st, j);
    jobs_set_status(st, j, JS_RUNNING, NULL);
}

/* ---- ending ---------------------------------------------------------------------------- */

/* A NON_REPLENISHABLE consumable resource's quantity is used up by the attempt that held it
 * (model/consumable.h): its total goes down as the attempt ends, however it ends. */
static void use_up_consumables(state *st, const job *j)
{
    const jobspec_need *needs;
    size_t n = jobspec_consumables(j->spec, &needs);
    for (size_t i = 0; i < n; i++) {
        json_t *desc = reg_get(&st->cr, needs[i].name);
        const char *type = json_string_value(json_object_get(desc, "resourceType"));
        if (!type || strcmp(type, CONSUMABLE_NON_REPLENISHABLE) != 0) continue;
        json_t *next = json_deep_copy(desc);
        long long total = json_integer_value(json_object_get(next, "totalQuantity"));
        total -= needs[i].quantity;
        json_object_set_new(next, "totalQuantity", json_integer(total < 0 ? 0 : total));
        reg_put(st, &st->cr, needs[i].name, next);
    }
}

/* The attempt leaves its instance: its capacity is free for the next pass. */
static void release(state *st, job *j)
{
    instance *in = j->inst;
    if (!in) return;
    instance_detach(in, j);
    st->jobs->sched_needed = 1;
    if (in->draining && in->n_jobs == 0) instance_wake(st, in);
}

static json_t *container_instance_arn(const char *instance_id)
{
    return json_sprintf("arn:aws:ecs:%s:%s:container-instance/%s", barge_cfg.region,
                        barge_cfg.account_id, instance_id);
}

json_t *attempt_task_arn(state *st, const job *j)
{
    if (!j->ce_name || !j->log_stream) return NULL;
    const char *uuid = json_string_value(json_object_get(reg_get_any(&st->ce, j->ce_name), "uuid"));
    const char *task = strrchr(j->log_stream, '/');
    if (!uuid || !task) return NULL;
    char *arn = arn_ecs_task(j->ce_name, uuid, task + 1);
    json_t *v = json_string(arn);
    free(arn);
    return v;
}

/* Whether reason is one stop_other_nodes gave (not a TerminateJob's that happens to begin the
 * same way: the whole text is matched). */
static int stopped_by_another_node(const char *reason)
{
    int node, end = 0;
    if (!reason) return 0;
    if (sscanf(reason, JOBS_NODE_STOPPED "the main node (node %d) ended%n", &node, &end) == 1 &&
        end && !reason[end])
        return 1;
    end = 0;
    return sscanf(reason, JOBS_NODE_STOPPED "node %d was cancelled%n", &node, &end) == 1 && end &&
           !reason[end];
}

/* A multi-node job ends with its main node, as on AWS: once it has ended, the other nodes are
 * stopped (their reason says why, and is not taken for a failure of their own: jobs.c).  Any
 * other node that ends changes nothing for the rest: AWS leaves a job that lost a node to its
 * application, which may go on with fewer nodes.  One exception: a node cancelled before it
 * started (cancelled) takes the job down, as its other nodes, placed only together with it,
 * would wait for it for ever. */
static void stop_other_nodes(state *st, job *j, int cancelled)
{
    if (!jobs_is_node(j)) return;
    /* A node cancelled while its job waits for its dependencies fails once they are met (as a
     * waiting job does): its other nodes, waiting with it, are cancelled with it now. */
    int done = job_status_done(j->status);
    if (!done && !(cancelled && j->cancel_pending)) return;
    job *p = j->parent;
    int main_index = jobspec_main_node(p->spec);
    if (job_index(j) != main_index && !cancelled) return;
    if (j->stop_reason && strncmp(j->stop_reason, JOBS_NODE_STOPPED,
                                  strlen(JOBS_NODE_STOPPED)) == 0)
        return; /* stopped by another node's end: that one stopped the rest */
    char reason[128];
    if (job_index(j) == main_index)
        snprintf(reason, sizeof reason, JOBS_NODE_STOPPED "the main node (node %d) ended",
                 main_index);
    else
        snprintf(reason, sizeof reason, JOBS_NODE_STOPPED "node %d was cancelled", job_index(j));
    for (uint32_t k = 0; k < p->array_size && job_status_done(j->status) == done; k++) {
        /* (A node that ends here may be the job's last: if the job is then attempted again,
         * j is RUNNABLE with the others, which are not to be stopped.) */
        job *c = p->children[k];
        if (c != j && !job_status_done(c->status)) attempt_cancel(st, c, reason, 1);
    }
}

/* A node's attempt that a clean stop of the server interrupted (its agent did not come back)
 * costs nothing and goes back to RUNNABLE; but its job's other nodes are placed only together
 * with it, and would go on without it (or wait for it) for ever.  So the whole attempt runs
 * again, at no cost: the nodes still running are stopped and go back to RUNNABLE when their
 * attempts end, and those that already ended (a node other than the main one may end first)
 * are put back. */
static void interrupt_other_nodes(state *st, job *j)
{
    if (!jobs_is_node(j)) return;
    job *p = j->parent;
    char reason[128];
    snprintf(reason, sizeof reason, JOBS_NODE_STOPPED "node %d's attempt was interrupted",
             job_index(j));
    for (uint32_t k = 0; k < p->array_size; k++) {
        job *c = p->children[k];
        if (c == j) continue;
        if (c->status == JS_STARTING || c->status == JS_RUNNING) {
            if (c->node_interrupted || c->is_terminated) continue;
            c->node_interrupted = 1;
            set_str(&c->stop_reason, reason); /* what its attempt ended with (attempt_finish) */
            jobs_mark_dirty(st, c); /* kept, should the server stop before the attempt ends */
            attempt_kill(st, c, reason);
        } else if (job_status_done(c->status)) {
            jobs_node_rerun(st, c);
        }
    }
}

/* When the server last ran before this start, if earlier than t: the clean stop's time, or
 * after a crash its last touch of DATA_DIR/alive (server_alive.h); else t. */
static int64_t last_ran(const state *st, int64_t t)
{
    int64_t stopped = st->clean_stop ? st->clean_stop_at : st->alive_at;
    return stopped > 0 && stopped < t ? stopped : t;
}

/* An attempt's end at t, but never before it could have started, nor after now. */
static int64_t end_at(const job *j, int64_t t, int64_t now)
{
    if (t < j->created_at) t = j->created_at;
    if (t < j->runnable_at) t = j->runnable_at;
    if (t < j->attempt_started_at) t = j->attempt_started_at;
    return t > now ? now : t;
}

/* held * ms / per: one division of whole numbers, so that the figure is the double nearest its
 * decimal and is written as that decimal (0.204, not 0.20399999999999999); a product past 2^63
 * (two billion MiB held for two months) in doubles. */
static double held_for(long long held, long long ms, double per)
{
    long long product;
    return __builtin_mul_overflow(held, ms, &product) ? (double)held * (double)ms / per
                                                       : (double)product / per;
}

/* What an attempt held and used: the vCPUs and memory it reserved for as long as it ran (what
 * capacity it cost), and what its agent measured it used. */
static json_t *attempt_usage(const job *j, const attempt_end *e, int64_t at)
{
    int64_t from = j->attempt_started_at ? j->attempt_started_at : at;
    long long ms = at > from ? (long long)(at - from) : 0;
    json_t *u = json_pack("{s:f, s:f}", "vcpuSeconds", held_for(j->spec->mvcpus, ms, 1e6),
                          "memoryGiBSeconds", held_for(j->spec->memory_mib, ms, 1024000.0));
    /* The measured CPU time to the microsecond rusage has (an agent of another version may
     * send a sum of its parts). */
    if (e->has_usage) {
        json_object_set_new(u, "cpuSeconds", json_real(round(e->cpu_seconds * 1e6) / 1e6));
        if (e->max_memory_bytes > 0)
            json_object_set_new(u, "maxMemoryBytes", json_integer(e->max_memory_bytes));
    }
    return u;
}

void attempt_finish(state *st, job *j, const attempt_end *e, int64_t at)
{
    if (j->status != JS_STARTING && j->status != JS_RUNNING) return;
    /* Stopped because another node's attempt was interrupted (interrupt_other_nodes): runs
     * again, whatever its end, and its attempt says why it ended. */
    int interrupted = j->node_interrupted;
    j->node_interrupted = 0;
    const char *why = interrupted && j->stop_reason ? j->stop_reason : e->status_reason;
    /* How the attempt ended, for the metrics; the stop reason a node's own end replaces is
     * freed last (the report's status reason may be that very text). */
    const char *ended = e->status_reason;
    char *dropped = NULL;
    /* A node that another node's end (or cancel) stopped, but whose attempt had ended by itself
     * before the order reached its agent: its own end stands (a worker that exits 0 as its main
     * node does succeeded, whichever report comes first).  Exit code 0 stands even when the
     * agent sent the stop: the process had exited unreaped as the order came, or ended cleanly
     * on the SIGTERM, as its job was done. */
    if (j->is_terminated && !interrupted && e->has_exit_code && (!e->killed || !e->exit_code) &&
        jobs_is_node(j) && stopped_by_another_node(j->stop_reason)) {
        j->is_terminated = 0;
        dropped = j->stop_reason;
        j->stop_reason = NULL;
        why = ended = "Essential container in task exited";
    }
    if (role_hooks.ended) role_hooks.ended(st, j->id, (int)j->n_attempts);
    metrics_attempt_ended(ended, j->is_terminated || j->is_cancelled ||
                                                (j->stop_reason && why == j->stop_reason));
    if (j->attempt_started_at && at >= j->attempt_started_at)
        metrics_observe(METRIC_RUN_TIME, (double)(at - j->attempt_started_at) / 1000.0);
    json_t *container = json_object();
    if (e->has_exit_code) json_object_set_new(container, "exitCode", json_integer(e->exit_code));
    if (e->reason) json_object_set_new(container, "reason", json_string(e->reason));
    if (j->log_stream) json_object_set_new(container, "logStreamName", json_string(j->log_stream));
    /* A Fargate task has no container instance, on AWS as here. */
    if (j->inst_id && !j->spec->fargate)
        json_object_set_new(container, "containerInstanceArn", container_instance_arn(j->inst_id));
    json_t *task = attempt_task_arn(st, j);
    if (task) json_object_set_new(container, "taskArn", task);
    json_object_set_new(container, "networkInterfaces", json_array());
    json_t *attempt = json_pack("{s:o, s:I, s:I, s:s}", "container", container, "startedAt",
                                (json_int_t)(j->attempt_started_at ? j->attempt_started_at : at),
                                "stoppedAt", (json_int_t)at, "statusReason", why ? why : "");
    /* Where and how this attempt ran, for the description's barge member (api/jobdesc.c keeps it
     * out of AWS's attempts[]). */
    json_t *where = json_object();
    if (j->executor) json_object_set_new(where, "executor", json_string(j->executor));
    if (j->inst_id) json_object_set_new(where, "instanceId", json_string(j->inst_id));
    json_object_set_new(where, "usage", attempt_usage(j, e, at));
    json_object_set_new(attempt, ATTEMPT_BARGE, where);
    if (!j->attempts) j->attempts = json_array();
    json_array_append_new(j->attempts, attempt);
    usage_child_attempt(j, attempt);
    release(st, j);
    /* An attempt a clean stop of the server interrupted has used nothing up: it runs again. */
    if (!e->uncharged) use_up_consumables(st, j);
    /* The latest attempt that ran started the job; one that never ran (its host went before
     * it started) leaves an earlier attempt's start, or gives its end when none ran. */
    if (j->attempt_started_at) j->started_at = j->attempt_started_at;
    else if (!j->started_at) j->started_at = at;
    jobs_note_started(st, j);

    /* A job that timed out failed, as on AWS, even when it caught the SIGTERM and exited 0. */
    int success = e->has_exit_code && e->exit_code == 0 && !j->is_terminated && !interrupted &&
                  !e->timed_out;
    if (success) {
        j->stopped_at = at;
        jobs_set_status(st, j, JS_SUCCEEDED, why);
    } else if (j->is_terminated) {
        j->stopped_at = at;
        jobs_set_status(st, j, JS_FAILED, j->stop_reason ? j->stop_reason : e->status_reason);
    } else if (e->uncharged || interrupted) {
        /* The operator stopped the server: not the job's doing, so it costs no attempt and
         * the job runs again whatever its retry strategy says. */
        j->n_free_attempts++;
        if (interrupted) set_str(&j->stop_reason, NULL);
        jobs_set_status(st, j, JS_RUNNABLE, NULL);
        if (e->uncharged) interrupt_other_nodes(st, j);
    } else {
        char code[16];
        if (e->has_exit_code) snprintf(code, sizeof code, "%d", e->exit_code);
        /* A node of a multi-node job is not attempted again alone: the whole job is, once all
         * its nodes have ended (model/jobs.c). */
        int retry = !jobs_is_node(j) &&
                    j->n_attempts - j->n_free_attempts < j->spec->attempts_max &&
                    retry_decide(j->spec->evaluate_on_exit, e->status_reason, e->reason,
                                 e->has_exit_code ? code : NULL);
        if (retry) {
            jobs_set_status(st, j, JS_RUNNABLE, NULL);
        } else {
            j->stopped_at = at;
            jobs_set_status(st, j, JS_FAILED, e->status_reason);
        }
    }
    jobs_mark_dirty(st, j);
    stop_other_nodes(st, j, 0);
    free(dropped);
}

void attempt_kill(state *st, job *j, const char *reason)
{
    instance *in = j->inst;
    if (!in) {
        /* No instance holds it (it was never dispatched): end the attempt here. */
        attempt_end e = {.status_reason = reason};
        attempt_finish(st, j, &e, util_now_ms());
        return;
    }
    instance_push_kill(in, j->id, (int)j->n_attempts, reason ? reason : "Terminated");
    instance_wake(st, in);
}

void attempt_end_all_lost(state *st, instance *in)
{
    char reason[160];
    attempt_host_lost(reason, sizeof reason, in->id);
    /* An instance whose agent did not come back after a clean stop of the server (it was
     * stopped with it, or its host went meanwhile) lost its attempts to the operator's stop,
     * not to the jobs: recorded, not counted, as below. */
    int uncharged = in->recovered && st->clean_stop;
    /* Its attempts end when it was last heard from, not now: it was declared lost a heartbeat
     * timeout later, or, read from the store at start, after the server's downtime, which
     * was charged to each attempt (days for a server stopped over a weekend).  An instance
     * not heard from since a clean stop ended with it; one not heard from since a crash,
     * when the server was last alive (server_alive.h). */
    int64_t now = util_now_ms(), end = now - (util_mono_ms() - in->last_seen);
    if (in->recovered) end = last_ran(st, end);
    while (in->jobs) {
        job *j = in->jobs;
        attempt_end e = {.status_reason = reason, .uncharged = uncharged};
        attempt_finish(st, j, &e, end_at(j, end, now));
        /* Ending the attempt released it; a job that was not in an attempt's status would
         * stay linked and loop here forever. */
        BARGE_ASSERT(in->jobs != j);
    }
}

/* ---- cancel and terminate -------------------------------------------------------------- */

static int started(const job *j)
{
    return j->status == JS_STARTING || j->status == JS_RUNNING;
}

void attempt_cancel(state *st, job *j, const char *reason, int terminate)
{
    jobs_cancel(st, j, reason, terminate);
    /* A node cancelled before it started fails, and takes its job down: its other nodes,
     * waiting to be placed with it, would wait for ever. */
    if (!started(j)) stop_other_nodes(st, j, 1);
    if (!terminate) return; /* CancelJob leaves started jobs alone, as AWS does */
    if (j->children) {
        for (uint32_t k = 0; k < j->array_size; k++)
            if (started(j->children[k])) attempt_kill(st, j->children[k], reason);
    } else if (started(j)) {
        attempt_kill(st, j, reason);
    }
}

void attempt_cancel_queue(state *st, const char *queue)
{
    jq_rt *q = dict_get(&st->jobs->queues, queue);
    if (!q) return;
    for (size_t i = 0; i < q->n_all; i++)
        attempt_cancel(st, q->all[i], "The job queue was deleted", 1);
}

void attempt_assign_again(job *j)
{
    if (!j->inst || j->status != JS_STARTING) return;
    j->assign_sent_at = 0;
    if (j->assign_resends < 127) j->assign_resends++;
    instance_push_assign(j->inst, assignment(j->inst, j));
}

/* ---- after loading --------------------------------------------------------------------- */

/* Puts a stored STARTING or RUNNING attempt back on its instance; 0 when the fleet does not
 * have it (any more). */
static int reattach(state *st, job *j)
{
    instance *in = instance_find(st->fleet, j->inst_id);
    if (!in || !in->registered) return 0;
    instance_attach(in, j);
    if (j->status == JS_STARTING) {
        /* Whether its assignment reached the agent is not known: it goes again, and an agent
         * that already holds the attempt ignores it. */
        j->assign_sent_at = 0;
        instance_push_assign(in, assignment(in, j));
    } else {
        j->assign_sent_at = util_mono_ms();
    }
    if (j->is_terminated || j->node_interrupted)
        instance_push_kill(in, j->id, (int)j->n_attempts,
                           j->stop_reason ? j->stop_reason : "Terminated");
    return 1;
}

/* An attempt that was STARTING or RUNNING when the server stopped ran on an instance that is
 * gone now (local agents stop with the server; remote ones register again as new instances).
 * After a clean stop it costs the job no attempt.  When the state is rebuilt after a failed
 * commit, the instances are still there and the attempt goes on where it runs. */
static void recover(state *st, job *j, int64_t now)
{
    if (!started(j)) return;
    if (reattach(st, j)) return;
    char reason[160];
    attempt_host_lost(reason, sizeof reason, j->inst_id);
    attempt_end e = {.status_reason = reason, .uncharged = st->clean_stop};
    /* Its instance went with the server: the attempt ended then, not at this start. */
    attempt_finish(st, j, &e, end_at(j, last_ran(st, now), now));
}

void attempt_recover(state *st)
{
    int64_t now = util_now_ms();
    jobs *js = st->jobs;
    /* In submit order, as loading found them. */
    for (size_t i = 0; i < js->n_loaded_started; i++) recover(st, js->loaded_started[i], now);
    free(js->loaded_started);
    js->loaded_started = NULL;
    js->n_loaded_started = 0;
}
