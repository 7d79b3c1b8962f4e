/* jobdesc — a job as DescribeJobs and ListJobs show it.
 *
 * The description is built from the job in memory: its spec as resolved at submit, its status
 * (a RUNNABLE job without a reason gets the engine's explanation), its attempts, and barge's own
 * member saying where and how it ran. */
#include "server/api/jobdesc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jtext.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/model/jobs.h"
#include "server/model/arn.h"
#include "server/model/config.h"
#include "server/model/instance.h"
#include "server/model/state.h"
#include "server/model/usage.h"
#include "server/engine/attempt.h"
#include "server/engine/explain.h"
#include "server/api/logs_held.h"

/* What a running job's output waits on (logs_held.h): since when, 0 for nothing. */
static int64_t output_waiting(const job *j, char *why, size_t n)
{
    if (j->status != JS_RUNNING && j->status != JS_STARTING) return 0;
    char held[200];
    int64_t since = logs_held_since(j->log_stream, held, sizeof held);
    if (since)
        snprintf(why, n, "its output is held by its agent, refused for now because %s; the job "
                 "ends (after a TerminateJob too) once its lines are stored", held);
    return since;
}

static void set_time(json_t *o, const char *key, int64_t t)
{
    if (t) json_object_set_new(o, key, json_integer(t));
}

static json_t *summary_object(const job *p)
{
    json_t *s = json_object();
    for (int i = 0; i < JS_COUNT; i++)
        json_object_set_new(s, job_status_name(i), json_integer(p->family->summary[i]));
    return s;
}

/* The job whose attempts a description lists: a multi-node job's are its main node's (AWS fills
 * a multi-node job's attempts and exit from its main node; every attempt runs all the nodes, so
 * the main node has one entry an attempt), any other job's its own. */
static const job *attempts_of(const job *j)
{
    if (!j->children || jobspec_num_nodes(j->spec) <= 0) return j;
    uint32_t m = (uint32_t)jobspec_main_node(j->spec);
    return m < j->array_size && j->children[m] ? j->children[m] : j;
}

/* What a description says the job used: an array's children or a multi-node job's nodes
 * together (as GetUsage counts them), any other job its own attempts. */
static job_usage usage_of(const job *j)
{
    return j->children ? usage_of_children(j) : usage_of_job(j);
}

/* The job's statusReason as a description shows it (fresh), or NULL: a RUNNABLE job without a
 * reason of its own gets the engine's explanation. */
static char *status_reason(state *st, job *j)
{
    if (j->reason) return xstrdup(j->reason);
    if (j->status == JS_RUNNABLE) return explain_runnable(st, j);
    /* Cancelled while PENDING: it fails once its dependencies complete, as AWS has it, and
     * until then says so rather than look like a job that will run. */
    if (j->status == JS_PENDING && j->cancel_pending)
        return xasprintf(j->children ? "%s (%s): it fails once its children have ended (those "
                                       "not started do not run)"
                                     : "%s (%s): it fails once its dependencies complete, "
                                       "without running",
                         j->is_terminated ? "terminated" : "cancelled",
                         j->stop_reason ? j->stop_reason : "no reason given");
    /* A multi-node job shown RUNNABLE waits as its nodes do (they are placed together): it
     * says why its main node waits. */
    const job *m = attempts_of(j);
    if (m != j && m->status == JS_RUNNABLE && jobs_shown_status(j) == JS_RUNNABLE)
        return m->reason ? xstrdup(m->reason) : explain_runnable(st, m);
    return NULL;
}

/* What a description computes from the job's state, as members that replace the spec's of the
 * same names (fresh), status and statusReason among them when with_status; and in *ctr the
 * members computed for the container (fresh), or NULL when the spec has no container. */
static json_t *computed_part(state *st, job *j, int with_status, json_t **ctr)
{
    json_t *d = json_object();
    char *arn = arn_make(ARN_JOB, j->id);
    json_object_set_new(d, "jobArn", json_string(arn));
    free(arn);
    json_object_set_new(d, "jobId", json_string(j->id));
    if (with_status) {
        json_object_set_new(d, "status", json_string(job_status_name(jobs_shown_status(j))));
        char *why = status_reason(st, j);
        if (why) json_object_set_new(d, "statusReason", json_string(why));
        free(why);
    }
    set_time(d, "createdAt", j->created_at);
    set_time(d, "startedAt", j->started_at);
    set_time(d, "stoppedAt", j->stopped_at);
    /* AWS's attempts[], and barge's facts about each (where and how it ran) apart from them. */
    const job *held = attempts_of(j);
    json_t *attempts = held->attempts ? json_deep_copy(held->attempts) : json_array();
    json_t *ran = json_array();
    size_t ai;
    json_t *a;
    job_usage u = usage_of(j);
    json_array_foreach(attempts, ai, a) {
        json_t *where = json_object_get(a, ATTEMPT_BARGE);
        json_array_append(ran, where ? where : json_object());
        json_object_del(a, ATTEMPT_BARGE);
    }
    json_t *usage = json_pack("{s:f, s:f}", "vcpuSeconds", jtext_finite(u.vcpu_s),
                              "memoryGiBSeconds", jtext_finite(u.gib_s));
    if (u.measured) json_object_set_new(usage, "cpuSeconds", json_real(jtext_finite(u.cpu_s)));
    if (u.peak) json_object_set_new(usage, "maxMemoryBytes", json_integer(u.peak));
    json_object_set_new(d, "attempts", attempts);
    json_object_set_new(d, "isCancelled", json_boolean(j->is_cancelled));
    json_object_set_new(d, "isTerminated", json_boolean(j->is_terminated));
    int nodes = jobspec_num_nodes(j->spec) > 0 || (j->parent && jobspec_num_nodes(j->parent->spec) > 0);
    if (nodes && j->parent) {
        json_object_set_new(d, "nodeDetails",
                            json_pack("{s:i, s:b}", "nodeIndex", job_index(j), "isMainNode",
                                      job_index(j) == jobspec_main_node(j->parent->spec)));
    } else if (nodes) {
        /* The job's nodeProperties come with its description; the nodes are its children. */
    } else if (j->children) {
        json_object_set_new(d, "arrayProperties",
                            json_pack("{s:i, s:o, s:I}", "size", (int)j->array_size,
                                      "statusSummary", summary_object(j),
                                      "statusSummaryLastUpdatedAt",
                                      (json_int_t)j->family->summary_at));
    } else if (j->parent) {
        /* As AWS describes a child: its index and an empty statusSummary, no size (tools tell a
         * parent by its size: ParallelCluster's awsbout and awsbstat). */
        json_object_set_new(d, "arrayProperties",
                            json_pack("{s:o, s:i}", "statusSummary", json_object(), "index",
                                      job_index(j)));
    }
    /* The container: the resolved spec, plus what the latest attempt left. */
    *ctr = NULL;
    if (jobspec_shared(j->spec, "container")) {
        json_t *c = *ctr = json_object();
        json_t *last = j->attempts ? json_array_get(j->attempts, json_array_size(j->attempts) - 1)
                                   : NULL;
        json_t *lc = json_object_get(last, "container");
        int current = j->status == JS_STARTING || j->status == JS_RUNNING;
        if (!current && json_object_get(lc, "exitCode"))
            json_object_set(c, "exitCode", json_object_get(lc, "exitCode"));
        if (!current && json_object_get(lc, "reason"))
            json_object_set(c, "reason", json_object_get(lc, "reason"));
        const char *stream = current ? j->log_stream : json_string_value(json_object_get(lc, "logStreamName"));
        if (stream) json_object_set_new(c, "logStreamName", json_string(stream));
        if (current && j->inst_id) {
            /* A Fargate task has no container instance, on AWS as here. */
            if (!j->spec->fargate)
                json_object_set_new(c, "containerInstanceArn",
                                    json_sprintf("arn:aws:ecs:%s:%s:container-instance/%s",
                                                 barge_cfg.region, barge_cfg.account_id,
                                                 j->inst_id));
            json_t *task = attempt_task_arn(st, j);
            if (task) json_object_set_new(c, "taskArn", task);
        } else {
            /* A finished job's container names where its last attempt ran, as AWS's does. */
            static const char *const where[] = {"containerInstanceArn", "taskArn"};
            for (size_t k = 0; k < 2; k++)
                if (json_object_get(lc, where[k]))
                    json_object_set(c, where[k], json_object_get(lc, where[k]));
        }
    }
    /* barge's own additions, kept apart from the AWS fields: where and how the job ran. */
    json_t *b = json_object();
    if (j->executor) json_object_set_new(b, "executor", json_string(j->executor));
    if (j->executor && strcmp(j->executor, EXECUTOR_PROCESS) == 0)
        json_object_set_new(b, "note", json_string("the command runs as a host process; the "
                                                   "image is recorded but no container is "
                                                   "started"));
    json_object_set_new(b, "attempts", ran);
    json_object_set_new(b, "usage", usage);
    /* The jobs that wait for this one (dependsOn names the other way), as far as this server
     * knows them: for the console's graph.  The first 100, and how many in all. */
    if (j->n_dependents) {
        json_t *deps = json_array();
        for (uint32_t i = 0; i < j->n_dependents && i < 100; i++)
            json_array_append_new(deps, json_string(j->dependents[i]->id));
        json_object_set_new(b, "dependents", deps);
        json_object_set_new(b, "dependentCount", json_integer(j->n_dependents));
    }
    const char *inst = j->inst_id;
    if (inst) json_object_set_new(b, "instanceId", json_string(inst));
    if (j->ce_name) json_object_set_new(b, "computeEnvironment", json_string(j->ce_name));
    /* The job keeps the note: its instance may be gone. */
    instance *in = j->mem_note ? NULL : instance_find(st->fleet, j->inst_id);
    const char *cg = j->mem_note ? j->mem_note : in ? in->mem_note : NULL;
    if (cg) json_object_set_new(b, "memoryLimit", json_string(cg));
    const instance_pull *pull = j->status == JS_STARTING ? instance_pull_of(j->inst, j) : NULL;
    if (pull)
        json_object_set_new(b, "pulling", json_pack("{s:s, s:I}", "image", pull->image, "since",
                                                    (json_int_t)pull->since));
    char why[400];
    int64_t waiting = output_waiting(j, why, sizeof why);
    if (waiting)
        json_object_set_new(b, "outputWaiting", json_pack("{s:I, s:s}", "since",
                                                          (json_int_t)waiting, "reason", why));
    json_object_set_new(d, "barge", b);
    return d;
}

/* A multi-node job's nodeProperties as AWS has them, a new reference; NULL when they are so
 * already.  Jobs submitted before their node ranges' containers left out networkInterfaces
 * (AWS's ContainerProperties has none; each node's own ContainerDetail has) keep it in their
 * stored spec. */
static json_t *ranges_as_aws(json_t *np)
{
    json_t *ranges = json_object_get(np, "nodeRangeProperties"), *r;
    size_t i;
    int stale = 0;
    json_array_foreach(ranges, i, r)
        stale |= json_object_get(json_object_get(r, "container"), "networkInterfaces") != NULL;
    if (!stale) return NULL;
    json_t *out = json_deep_copy(np);
    json_array_foreach(json_object_get(out, "nodeRangeProperties"), i, r)
        json_object_del(json_object_get(r, "container"), "networkInterfaces");
    return out;
}

json_t *jobdesc_describe(state *st, job *j)
{
    json_t *ctr;
    json_t *computed = computed_part(st, j, 1, &ctr);
    json_t *d = jobspec_desc(j->spec);
    json_t *np = ranges_as_aws(json_object_get(d, "nodeProperties"));
    if (np) json_object_set_new(d, "nodeProperties", np);
    json_object_update(d, computed);
    json_decref(computed);
    if (ctr) {
        json_t *c = json_deep_copy(jobspec_shared(j->spec, "container"));
        json_object_update(c, ctr);
        json_decref(ctr);
        json_object_set_new(d, "container", c);
    }
    return d;
}

/* ---- the same description as text, for events ------------------------------------------------
 * An event describes its job as DescribeJobs would, and a busy server makes several a job: the
 * part that comes from the shared spec is kept as text with the shared part (its members one by
 * one, so that a computed member of the same name replaces it), and only what is computed from
 * the job's state is built and written each time. */

typedef struct member {
    char *key;
    char *text; /* "KEY":VALUE */
} member;

typedef struct spec_text {
    member *top, *ctr; /* the shared members but the container; the container's */
    size_t n_top, n_ctr;
} spec_text;

static void spec_text_free(void *p)
{
    spec_text *t = p;
    for (size_t i = 0; i < t->n_top; i++) {
        free(t->top[i].key);
        free(t->top[i].text);
    }
    for (size_t i = 0; i < t->n_ctr; i++) {
        free(t->ctr[i].key);
        free(t->ctr[i].text);
    }
    free(t->top);
    free(t->ctr);
    free(t);
}

static void members_of(json_t *o, const char *skip, member **out, size_t *n)
{
    const char *k;
    json_t *v;
    *out = xcalloc(json_object_size(o) + 1, sizeof **out);
    *n = 0;
    json_object_foreach(o, k, v) {
        if (skip && strcmp(k, skip) == 0) continue;
        json_t *one = json_pack("{s:O}", k, v);
        char *text = json_dumps(one, JSON_COMPACT);
        json_decref(one);
        size_t len = strlen(text);
        memmove(text, text + 1, len - 2); /* without the braces */
        text[len - 2] = '\0';
        (*out)[*n].key = xstrdup(k);
        (*out)[(*n)++].text = text;
    }
}

static const spec_text *spec_text_of(const jobspec *s)
{
    void **slot = jobspec_shared_slot(s);
    if (!*slot) {
        static int registered;
        if (!registered++) jobspec_set_slot_free(spec_text_free);
        spec_text *t = xcalloc(1, sizeof *t);
        json_t *all = jobspec_shared_all(s);
        json_t *np = ranges_as_aws(json_object_get(all, "nodeProperties"));
        if (np) {
            all = json_copy(all);
            json_object_set_new(all, "nodeProperties", np);
        } else {
            json_incref(all);
        }
        members_of(all, "container", &t->top, &t->n_top);
        json_decref(all);
        json_t *c = jobspec_shared(s, "container");
        if (c) members_of(c, NULL, &t->ctr, &t->n_ctr);
        *slot = t;
    }
    return *slot;
}

/* ---- the computed members as text --------------------------------------------------------
 * What computed_part builds, written straight into the text: an event is described for every
 * change of every job, and building the members as a tree only to write it out cost the core
 * several times what writing them does.  test_events checks the two against each other. */

/* An object's members being written, and the names written (a spec member of the same name is
 * left out: the computed one replaces it). */
typedef struct tw {
    buf *out;
    int first;
    const char *names[16];
    int n;
} tw;

static void tw_key(tw *w, const char *k)
{
    buf_puts(w->out, w->first ? "\"" : ",\"");
    buf_puts(w->out, k);
    buf_puts(w->out, "\":");
    w->first = 0;
    if (w->n < (int)(sizeof w->names / sizeof *w->names)) w->names[w->n++] = k;
}

static int tw_wrote(const tw *w, const char *k)
{
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->names[i], k) == 0) return 1;
    return 0;
}

static void tw_str(tw *w, const char *k, const char *v)
{
    tw_key(w, k);
    jtext_string(w->out, v);
}

static void tw_int(tw *w, const char *k, long long v)
{
    tw_key(w, k);
    buf_int(w->out, v);
}

static void tw_json(tw *w, const char *k, json_t *v)
{
    tw_key(w, k);
    jtext_json(w->out, v);
}

/* The container's computed members (computed_part's *ctr). */
static void container_text(state *st, job *j, const jobdesc_as_of *as_of, tw *w)
{
    size_t n = json_array_size(j->attempts), ended = n;
    int current = j->status == JS_STARTING || j->status == JS_RUNNING;
    if (as_of) {
        current = as_of->status == JS_STARTING || as_of->status == JS_RUNNING;
        if (as_of->ended >= 0 && (size_t)as_of->ended < n) ended = (size_t)as_of->ended;
    }
    json_t *last = ended ? json_array_get(j->attempts, ended - 1) : NULL;
    json_t *lc = json_object_get(last, "container");
    /* The attempt that ran then has ended since: where it ran is in its record. */
    json_t *then = current && ended < n ? json_array_get(j->attempts, ended) : NULL;
    if (then) {
        lc = json_object_get(then, "container");
        current = 0;
    } else if (current && !(j->status == JS_STARTING || j->status == JS_RUNNING)) {
        lc = NULL; /* (not known) */
    }
    if (!then && !current && json_object_get(lc, "exitCode"))
        tw_json(w, "exitCode", json_object_get(lc, "exitCode"));
    if (!then && !current && json_object_get(lc, "reason"))
        tw_json(w, "reason", json_object_get(lc, "reason"));
    const char *stream = current ? j->log_stream
                                 : json_string_value(json_object_get(lc, "logStreamName"));
    if (stream) tw_str(w, "logStreamName", stream);
    if (current && j->inst_id) {
        if (!j->spec->fargate) {
            tw_key(w, "containerInstanceArn");
            buf_puts(w->out, "\"arn:aws:ecs:");
            buf_puts(w->out, barge_cfg.region);
            buf_puts(w->out, ":");
            buf_puts(w->out, barge_cfg.account_id);
            buf_puts(w->out, ":container-instance/");
            buf_puts(w->out, j->inst_id);
            buf_puts(w->out, "\"");
        }
        json_t *task = attempt_task_arn(st, j);
        if (task) tw_json(w, "taskArn", task);
        json_decref(task);
    } else {
        static const char *const where[] = {"containerInstanceArn", "taskArn"};
        for (size_t k = 0; k < 2; k++)
            if (json_object_get(lc, where[k])) tw_json(w, where[k], json_object_get(lc, where[k]));
    }
}

/* The members computed_part computes but status and statusReason. */
/* The job's startedAt as of an event: the latest attempt that ran by then (an attempt STARTING
 * had not), from its record when it has ended since; 0 when none had. */
static int64_t started_as_of(const job *j, const jobdesc_as_of *as_of, size_t n)
{
    long idx = as_of->status == JS_RUNNING ? as_of->ended : as_of->ended - 1;
    if (idx < 0) return 0;
    if ((size_t)idx >= n) return j->started_at;
    return json_integer_value(json_object_get(json_array_get(j->attempts, (size_t)idx),
                                              "startedAt"));
}

static void computed_text(state *st, job *j, const jobdesc_as_of *as_of, tw *w)
{
    buf *out = w->out;
    /* Job ids (a UUID, ":N" or "#N") need no escaping, nor does the rest of an ARN (arn.h). */
    tw_key(w, "jobArn");
    buf_puts(out, "\"");
    arn_put(out, ARN_JOB, j->id);
    buf_puts(out, "\"");
    tw_str(w, "jobId", j->id);
    const job *held = attempts_of(j);
    /* As of an event: the attempts that had ended then (a multi-node job's are its main
     * node's, whose count the event does not know: all shown), and no end before the end. */
    size_t shown = json_array_size(held->attempts);
    int64_t started = j->started_at, stopped = j->stopped_at;
    if (as_of) {
        if (!job_status_done(as_of->status)) stopped = 0;
        if (held == j && as_of->ended >= 0) {
            started = started_as_of(j, as_of, shown);
            if ((size_t)as_of->ended < shown) shown = (size_t)as_of->ended;
        }
    }
    if (j->created_at) tw_int(w, "createdAt", j->created_at);
    if (started) tw_int(w, "startedAt", started);
    if (stopped) tw_int(w, "stoppedAt", stopped);
    /* AWS's attempts[] without barge's member of each, which goes to barge.attempts[]. */
    size_t ai;
    json_t *a;
    tw_key(w, "attempts");
    buf_puts(out, "[");
    json_array_foreach(held->attempts, ai, a) {
        if (ai == shown) break;
        json_t *copy = json_copy(a);
        json_object_del(copy, ATTEMPT_BARGE);
        if (ai) buf_puts(out, ",");
        jtext_json(out, copy);
        json_decref(copy);
    }
    buf_puts(out, "]");
    tw_key(w, "isCancelled");
    buf_puts(out, j->is_cancelled ? "true" : "false");
    tw_key(w, "isTerminated");
    buf_puts(out, j->is_terminated ? "true" : "false");
    int nodes = jobspec_num_nodes(j->spec) > 0 ||
                (j->parent && jobspec_num_nodes(j->parent->spec) > 0);
    if (nodes && j->parent) {
        tw_key(w, "nodeDetails");
        buf_printf(out, "{\"nodeIndex\":%u,\"isMainNode\":%s}", job_index(j),
                   (int)job_index(j) == jobspec_main_node(j->parent->spec) ? "true" : "false");
    } else if (nodes) {
        /* The job's nodeProperties come with its description; the nodes are its children. */
    } else if (j->children) {
        tw_key(w, "arrayProperties");
        buf_printf(out, "{\"size\":%u,\"statusSummary\":{", j->array_size);
        for (int i = 0; i < JS_COUNT; i++)
            buf_printf(out, "%s\"%s\":%lld", i ? "," : "", job_status_name(i),
                       (long long)j->family->summary[i]);
        buf_printf(out, "},\"statusSummaryLastUpdatedAt\":%lld}",
                   (long long)j->family->summary_at);
    } else if (j->parent) {
        tw_key(w, "arrayProperties");
        buf_printf(out, "{\"statusSummary\":{},\"index\":%u}", job_index(j));
    }
    /* barge's own member: where and how the job ran. */
    tw_key(w, "barge");
    tw b = {.out = out, .first = 1};
    buf_puts(out, "{");
    if (j->executor) tw_str(&b, "executor", j->executor);
    if (j->executor && strcmp(j->executor, EXECUTOR_PROCESS) == 0)
        tw_str(&b, "note", "the command runs as a host process; the image is recorded but no "
                           "container is started");
    tw_key(&b, "attempts");
    buf_puts(out, "[");
    json_array_foreach(held->attempts, ai, a) {
        if (ai == shown) break;
        json_t *where = json_object_get(a, ATTEMPT_BARGE);
        if (ai) buf_puts(out, ",");
        if (where) jtext_json(out, where);
        else buf_puts(out, "{}");
    }
    buf_puts(out, "]");
    job_usage u = usage_of(j);
    tw_key(&b, "usage");
    buf_puts(out, "{\"vcpuSeconds\":");
    jtext_real(out, u.vcpu_s);
    buf_puts(out, ",\"memoryGiBSeconds\":");
    jtext_real(out, u.gib_s);
    if (u.measured) {
        buf_puts(out, ",\"cpuSeconds\":");
        jtext_real(out, u.cpu_s);
    }
    if (u.peak) buf_printf(out, ",\"maxMemoryBytes\":%lld", u.peak);
    buf_puts(out, "}");
    if (j->n_dependents) {
        tw_key(&b, "dependents");
        buf_puts(out, "[");
        for (uint32_t i = 0; i < j->n_dependents && i < 100; i++)
            buf_printf(out, "%s\"%s\"", i ? "," : "", j->dependents[i]->id);
        buf_puts(out, "]");
        tw_int(&b, "dependentCount", j->n_dependents);
    }
    if (j->inst_id) tw_str(&b, "instanceId", j->inst_id);
    if (j->ce_name) tw_str(&b, "computeEnvironment", j->ce_name);
    instance *in = j->mem_note ? NULL : instance_find(st->fleet, j->inst_id);
    const char *cg = j->mem_note ? j->mem_note : in ? in->mem_note : NULL;
    if (cg) tw_str(&b, "memoryLimit", cg);
    /* The image its agent pulls before it can start (instance.h, instance_pull). */
    const instance_pull *pull = j->status == JS_STARTING ? instance_pull_of(j->inst, j) : NULL;
    if (pull) {
        tw_key(&b, "pulling");
        buf_puts(out, "{");
        tw p = {.out = out, .first = 1};
        tw_str(&p, "image", pull->image);
        tw_int(&p, "since", pull->since);
        buf_puts(out, "}");
    }
    char why[400];
    int64_t waiting = output_waiting(j, why, sizeof why);
    if (waiting) {
        tw_key(&b, "outputWaiting");
        buf_puts(out, "{");
        tw p = {.out = out, .first = 1};
        tw_int(&p, "since", waiting);
        tw_str(&p, "reason", why);
        buf_puts(out, "}");
    }
    buf_puts(out, "}");
}

/* The spec's members (as text, spec_text) but those written in w, and the event's own status
 * and statusReason. */
static void put_members(buf *out, const member *m, size_t n, const tw *w, int *first)
{
    for (size_t i = 0; i < n; i++) {
        if (tw_wrote(w, m[i].key) || strcmp(m[i].key, "status") == 0 ||
            strcmp(m[i].key, "statusReason") == 0)
            continue;
        if (!*first) buf_puts(out, ",");
        buf_puts(out, m[i].text);
        *first = 0;
    }
}

void jobdesc_event_rest(state *st, job *j, const jobdesc_as_of *as_of, buf *out)
{
    const spec_text *t = spec_text_of(j->spec);
    /* The computed members go first, so that the spec's of the same names can be left out. */
    tw w = {.out = out, .first = 1};
    computed_text(st, j, as_of, &w);
    int first = w.first;
    put_members(out, t->top, t->n_top, &w, &first);
    const char *own = j->spec->own;
    size_t own_len = own ? strlen(own) : 0;
    if (own_len > 2) {
        if (!first) buf_puts(out, ",");
        buf_append(out, own + 1, own_len - 2);
        first = 0;
    }
    if (jobspec_shared(j->spec, "container")) {
        buf_puts(out, first ? "\"container\":{" : ",\"container\":{");
        tw c = {.out = out, .first = 1};
        container_text(st, j, as_of, &c);
        int cfirst = c.first;
        put_members(out, t->ctr, t->n_ctr, &c, &cfirst);
        buf_puts(out, "}");
    }
}

void jobdesc_event_detail(state *st, job *j, int status, const char *rest, size_t rest_len,
                          buf *out)
{
    /* The job as it is now, with the status the event is about; a reason that came with a
     * later status is not this event's. */
    buf_puts(out, "{\"status\":\"");
    buf_puts(out, job_status_name(status));
    buf_puts(out, "\"");
    char *why = jobs_shown_status(j) == status ? status_reason(st, j) : NULL;
    if (why) {
        buf_puts(out, ",\"statusReason\":");
        jtext_string(out, why);
        free(why);
    }
    if (rest_len) buf_puts(out, ",");
    buf_append(out, rest, rest_len);
    buf_puts(out, "}");
}

json_t *jobdesc_summary(state *st, job *j)
{
    json_t *s = json_object();
    char *arn = arn_make(ARN_JOB, j->id);
    json_object_set_new(s, "jobArn", json_string(arn));
    free(arn);
    json_object_set_new(s, "jobId", json_string(j->id));
    json_object_set_new(s, "jobName", json_string(j->spec->name));
    json_object_set(s, "jobDefinition", jobspec_shared(j->spec, "jobDefinition"));
    set_time(s, "createdAt", j->created_at);
    json_t *share = jobspec_shared(j->spec, "shareIdentifier");
    if (share) json_object_set(s, "shareIdentifier", share);
    json_object_set_new(s, "status", json_string(job_status_name(jobs_shown_status(j))));
    /* A RUNNABLE job's says why it waits, as in its description: AWS's troubleshooting
     * sends users to ListJobs for it. */
    char *reason = status_reason(st, j);
    if (reason) json_object_set_new(s, "statusReason", json_string(reason));
    free(reason);
    /* As in the description (AWS's summaries carry them too, since 2026). */
    json_object_set_new(s, "isCancelled", json_boolean(j->is_cancelled));
    json_object_set_new(s, "isTerminated", json_boolean(j->is_terminated));
    set_time(s, "startedAt", j->started_at);
    set_time(s, "stoppedAt", j->stopped_at);
    if (jobspec_num_nodes(j->spec) > 0)
        json_object_set_new(s, "nodeProperties", json_pack("{s:i}", "numNodes", (int)j->array_size));
    else if (j->parent && jobspec_num_nodes(j->parent->spec) > 0)
        json_object_set_new(s, "nodeProperties",
                            json_pack("{s:b, s:i}", "isMainNode",
                                      job_index(j) == jobspec_main_node(j->parent->spec),
                                      "nodeIndex", job_index(j)));
    else if (j->children)
        json_object_set_new(s, "arrayProperties",
                            json_pack("{s:i, s:o, s:I}", "size", (int)j->array_size,
                                      "statusSummary", summary_object(j),
                                      "statusSummaryLastUpdatedAt",
                                      (json_int_t)j->family->summary_at));
    else if (j->parent)
        json_object_set_new(s, "arrayProperties", json_pack("{s:i}", "index", job_index(j)));
    json_t *last = j->attempts ? json_array_get(j->attempts, json_array_size(j->attempts) - 1) : NULL;
    json_t *lc = json_object_get(last, "container");
    if (lc && job_status_done(j->status)) {
        json_t *c = json_object();
        if (json_object_get(lc, "exitCode")) json_object_set(c, "exitCode", json_object_get(lc, "exitCode"));
        if (json_object_get(lc, "reason")) json_object_set(c, "reason", json_object_get(lc, "reason"));
        json_object_set_new(s, "container", c);
    }
    return s;
}
