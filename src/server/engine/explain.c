/* explain — see explain.h. */
#include "server/engine/explain.h"

#include <stdlib.h>
#include <string.h>

#include "common/catalog.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/model/consumable.h"
#include "server/model/instance.h"
#include "server/model/jobs.h"
#include "server/model/resource.h"
#include "server/model/state.h"
#include "server/engine/fairshare.h"
#include "server/engine/provider_exec.h"
#include "server/engine/provider_local.h"

/* What a job needs to be placed: a multi-node job's nodes are placed together, so a node
 * needs what its job's largest node needs (each), and the vCPUs of all of them at once. */
typedef struct gang_need {
    int mvcpus, memory_mib, gpus; /* the largest node's (a plain job's own) */
    int big_v, big_m, big_g;      /* which node has them; -1 for a plain job */
    long long sum_mvcpus;
    uint32_t n;
} gang_need;

static gang_need need_of(const job *j)
{
    gang_need g = {j->spec->mvcpus, j->spec->memory_mib, j->spec->gpus, -1, -1, -1,
                   j->spec->mvcpus, 1};
    if (!jobs_is_node(j)) return g;
    const job *p = j->parent;
    g = (gang_need){0, 0, 0, 0, 0, 0, 0, p->array_size};
    for (uint32_t k = 0; k < p->array_size; k++) {
        const jobspec *s = p->children[k]->spec;
        g.sum_mvcpus += s->mvcpus;
        if (s->mvcpus > g.mvcpus) g.mvcpus = s->mvcpus, g.big_v = (int)k;
        if (s->memory_mib > g.memory_mib) g.memory_mib = s->memory_mib, g.big_m = (int)k;
        if (s->gpus > g.gpus) g.gpus = s->gpus, g.big_g = (int)k;
    }
    return g;
}

/* "node N " when the need is a node's, else "". */
static const char *who(int node, char *b, size_t n)
{
    if (node < 0) return "";
    snprintf(b, n, "node %d ", node);
    return b;
}

/* What to run to give an UNMANAGED environment an agent. */
static void say_start_agent(buf *out, const state *st, const char *name)
{
    buf_printf(out, "`barge agent --server %s --compute-environment %s`",
               st->fleet->url ? st->fleet->url : "URL", name);
}

/* Why j cannot run in ce, appended to out; the AWS reason code it amounts to, or
 * EXPLAIN_NONE when the job just waits its turn. */
static explain_code explain_ce(state *st, const ce_rec *ce, const job *j, buf *out)
{
    const char *name = ce->name;
    gang_need g = need_of(j);
    char wb[32];
    if (ce->state != RES_ENABLED) {
        buf_printf(out, "compute environment %s is DISABLED", name);
        return EXPLAIN_NONE;
    }
    if (!res_ce_usable(ce)) {
        /* With the environment's own reason (an INVALID one's says what to mend). */
        const char *why = json_string_value(
            json_object_get(reg_get(&st->ce, name), RES_M_STATUS_REASON));
        buf_printf(out, "compute environment %s is %s%s%.300s", name,
                   res_status_name(ce->status), why && *why ? ": " : "", why ? why : "");
        return EXPLAIN_NONE;
    }
    double need = g.mvcpus / 1000.0;
    int maxv = 0, maxm = 0, maxg = 0, registered = 0, starting = 0, draining = 0;
    if (ce->managed) {
        provider_local_largest(ce, &maxv, &maxm, &maxg);
        if (g.mvcpus > maxv * 1000) {
            buf_printf(out, "%sneeds %g vCPU%s, the largest instance compute environment %s "
                            "can run has %d (maxvCpus %d)", who(g.big_v, wb, sizeof wb), need,
                       need == 1 ? "" : "s", name, maxv, ce->max_mvcpus / 1000);
            /* Over maxvCpus itself, or over every instance type the environment allows. */
            return g.mvcpus > ce->max_mvcpus ? EXPLAIN_CE_MAX_RESOURCE : EXPLAIN_JOB_REQUIREMENT;
        }
        if (g.memory_mib > maxm) {
            buf_printf(out, "%sneeds %d MiB of memory, the largest instance compute environment "
                            "%s can run has %d MiB", who(g.big_m, wb, sizeof wb), g.memory_mib,
                       name, maxm);
            return EXPLAIN_JOB_REQUIREMENT;
        }
        if (g.gpus > maxg) {
            buf_printf(out, "%sneeds %d GPUs, the largest instance compute environment %s can "
                            "run has %d", who(g.big_g, wb, sizeof wb), g.gpus, name, maxg);
            return EXPLAIN_JOB_REQUIREMENT;
        }
        if (g.sum_mvcpus > ce->max_mvcpus) {
            buf_printf(out, "its %u nodes need %g vCPUs together, more than compute environment "
                            "%s's maxvCpus %d", g.n, g.sum_mvcpus / 1000.0, name,
                       ce->max_mvcpus / 1000);
            return EXPLAIN_CE_MAX_RESOURCE;
        }
    }
    int used = 0, total = 0, open = 0, free_v = 0, free_m = 0;
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->fleet->instances, &i, &k, &v)) {
        instance *in = v;
        if (strcmp(in->ce, name) != 0) continue;
        total += in->mvcpus;
        used += in->used_mvcpus;
        /* One whose attempts have all ended is only going away (its agent stopping). */
        draining += in->draining && in->n_jobs > 0;
        if (in->registered && !in->draining) {
            /* The most room one instance that takes work has: what a job must fit in. */
            open++;
            int fv = in->mvcpus - in->used_mvcpus, fm = in->memory_mib - in->used_memory;
            if (fv > free_v) free_v = fv;
            if (fm > free_m) free_m = fm;
        }
        if (in->registered) {
            registered++;
            if (!ce->managed) {
                if (in->mvcpus > maxv * 1000) maxv = in->mvcpus / 1000;
                if (in->memory_mib > maxm) maxm = in->memory_mib;
            }
        } else {
            starting++;
        }
    }
    if (!ce->managed) {
        if (!registered) {
            buf_printf(out, "compute environment %s is UNMANAGED and no agent is registered; "
                            "start one with ", name);
            say_start_agent(out, st, name);
            return EXPLAIN_NONE;
        }
        if (g.mvcpus > maxv * 1000 || g.memory_mib > maxm) {
            buf_printf(out, "%sneeds %g vCPU%s and %d MiB, the largest agent registered in "
                            "compute environment %s has %d vCPUs and %d MiB",
                       who(g.mvcpus > maxv * 1000 ? g.big_v : g.big_m, wb, sizeof wb), need,
                       need == 1 ? "" : "s", g.memory_mib, name, maxv, maxm);
            return EXPLAIN_JOB_REQUIREMENT;
        }
    }
    if (!ce->managed && registered && !open) {
        buf_printf(out, "every agent registered in compute environment %s is draining (they "
                        "take no new attempt); start another with ", name);
        say_start_agent(out, st, name);
        return EXPLAIN_NONE;
    }
    launch_trouble *t = dict_get(&st->fleet->trouble, name);
    if (t && !registered) {
        /* Said while the next launch is under way too: the code must not come and go with each
         * launch, or the queue's time limits would start their count again every time. */
        int64_t wait_ms = t->retry_at - util_mono_ms();
        char next[64];
        if (starting)
            snprintf(next, sizeof next, "another is starting");
        else
            snprintf(next, sizeof next, "next launch in %lld s",
                     (long long)(wait_ms > 0 ? (wait_ms + 999) / 1000 : 0));
        const char *why = provider_exec_serves(ce) ? provider_exec_trouble(name) : NULL;
        if (why)
            buf_printf(out, "the last %d launch%s for compute environment %s failed (%s); %s",
                       t->failures, t->failures > 1 ? "es" : "", name, why, next);
        else
            buf_printf(out, "the last %d agent%s launched for compute environment %s stopped "
                            "before registering or soon after (the server's log says why); %s",
                       t->failures, t->failures > 1 ? "s" : "", name, next);
        /* Instances that cannot be had: what EC2's capacity errors are on AWS. */
        return EXPLAIN_INSUFFICIENT_CAPACITY;
    }
    if (starting)
        buf_printf(out, "waiting for %d instance%s of compute environment %s to start", starting,
                   starting > 1 ? "s" : "", name);
    else if (open)
        /* The room left on the roomiest instance, vCPUs and memory: either may be short. */
        buf_printf(out, "waiting for capacity in compute environment %s: %g of %g vCPUs in use, "
                        "the most free on one instance %g vCPUs and %d MiB (the job needs %g "
                        "and %d)%s", name, used / 1000.0, total / 1000.0, free_v / 1000.0, free_m,
                   need, g.memory_mib, ce->managed ? "; maxvCpus reached or no instance fits" : "");
    else
        buf_printf(out, "waiting for capacity in compute environment %s: %g of %g vCPUs in use%s",
                   name, used / 1000.0, total / 1000.0,
                   ce->managed ? " (maxvCpus reached or no instance fits)" : "");
    /* Draining instances still count against maxvCpus until their attempts end. */
    if (draining)
        buf_printf(out, "; %d instance%s draining, the attempts there finishing first",
                   draining, draining > 1 ? "s" : "");
    return EXPLAIN_NONE;
}

const char *explain_code_name(explain_code code)
{
    switch (code) {
    case EXPLAIN_CE_MAX_RESOURCE: return "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE";
    case EXPLAIN_JOB_REQUIREMENT: return "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT";
    case EXPLAIN_INSUFFICIENT_CAPACITY: return "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY";
    default: return NULL;
    }
}

char *explain_runnable_code(state *st, const job *j, explain_code *code)
{
    *code = EXPLAIN_NONE;
    jq_rec *q = res_jq(st, j->spec->queue);
    if (!q) return xasprintf("job queue %s no longer exists", j->spec->queue);
    /* A DISABLED queue's jobs are placed all the same (res_jq_places). */
    if (!res_jq_places(q))
        return xasprintf("job queue %s is being deleted; its jobs are terminated",
                         j->spec->queue);
    int kind = res_jq_fargate(q);
    if (kind >= 0 && j->spec->fargate != kind) {
        *code = EXPLAIN_JOB_REQUIREMENT;
        return xasprintf("%s - the job's platformCapabilities is %s but job queue %s has %s "
                         "compute environments; submit it to a queue of %s environments",
                         explain_code_name(*code), j->spec->fargate ? "FARGATE" : "EC2",
                         j->spec->queue, kind ? "FARGATE" : "EC2",
                         j->spec->fargate ? "FARGATE" : "EC2");
    }
    if (kind == 1 && j->spec->foreign_platform) {
        *code = EXPLAIN_JOB_REQUIREMENT;
        return xasprintf("%s - the job's runtimePlatform asks for %s, but job queue %s's Fargate "
                         "resources run on the barge server's host, which is %s",
                         explain_code_name(*code), j->spec->foreign_platform, j->spec->queue,
                         catalog_host_arch());
    }
    /* What the queue's compute environments say comes first when it has a code (the job can
     * never be placed as it is, whatever else it waits for): a consumable resource or a
     * fair-share reservation would otherwise hide it, and the queue's time limits act on the
     * code. */
    buf out = {0};
    /* A reason code applies when every environment of the queue gives it, as AWS's do ("all
     * compute environments ..."). */
    int first = 1;
    for (size_t i = 0; i < q->n_ces; i++) {
        if (!q->ces[i]->live) continue;
        if (out.len) buf_puts(&out, "; ");
        explain_code c = explain_ce(st, q->ces[i], j, &out);
        if (first) *code = c;
        else if (c != *code) *code = EXPLAIN_NONE;
        first = 0;
    }
    if (!out.len) buf_printf(&out, "job queue %s has no usable compute environment", j->spec->queue);
    if (*code != EXPLAIN_NONE) {
        char *s = xasprintf("%s - %s", explain_code_name(*code), out.data);
        free(out.data);
        return s;
    }
    const char *res;
    long long need, avail;
    /* A multi-node job's nodes hold their quantities together (scheduler.c place_gang). */
    int gang = jobs_is_node(j);
    if (gang ? !consumable_gang_fits(st, j->parent, &res, &need, &avail)
             : !consumable_fits(st, j, &res, &need, &avail)) {
        free(out.data);
        char nodes[48] = "";
        if (gang) snprintf(nodes, sizeof nodes, " (its %u nodes together)", j->parent->array_size);
        if (avail < 0)
            return xasprintf("needs %lld of consumable resource %s%s, which no longer exists; "
                             "create it again or cancel the job", need, res, nodes);
        long long in_use = consumable_in_use(st, res);
        if (need > avail + in_use)
            return xasprintf("needs %lld of consumable resource %s%s, which has %lld in all: it "
                             "cannot run until the resource's quantity is raised "
                             "(UpdateConsumableResource), or cancel it", need, res, nodes,
                             avail + in_use);
        return xasprintf("waiting for consumable resource %s: needs %lld%s, %lld available "
                         "(%lld held by running jobs)", res, need, nodes, avail, in_use);
    }
    /* A fair-share reservation holds the job back; what the environments say besides (all in
     * use, an agent missing) is said after it. */
    char *held = fairshare_explain(st, q, j);
    if (held) {
        char *s = xasprintf("%s; %s", held, out.data);
        free(held);
        free(out.data);
        return s;
    }
    return out.data;
}

char *explain_runnable(state *st, const job *j)
{
    explain_code code;
    return explain_runnable_code(st, j, &code);
}
