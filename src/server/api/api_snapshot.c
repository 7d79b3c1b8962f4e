/* api_snapshot — GetJobQueueSnapshot: the front of a queue and what its shares use.
 *
 * The front is the first 100 RUNNABLE jobs in the order the scheduler tries them: submit order
 * on a first-in-first-out queue; on a fair-share queue, the order its shares' claims give
 * (engine/fairshare.c), as if each job were placed in turn.  earliestTimeAtPosition is when the
 * job last became RUNNABLE.  Capacity is in vCPUs.  barge adds, under "barge", each share's
 * weight, decayed usage (vCPU-seconds), running vCPUs and waiting jobs: what the scheduler
 * weighs, for operators who ask why a share waits. */
#include <stdlib.h>
#include <string.h>

#include "common/dict.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/model/arn.h"
#include "server/model/instance.h"
#include "server/model/jobs.h"
#include "server/model/registry.h"
#include "server/model/resource.h"
#include "server/model/state.h"
#include "server/engine/fairshare.h"
#include "server/api/api.h"

#define FRONT_MAX 100 /* AWS: the first 100 jobs */
#define TOP_SHARES 20

static json_t *vcpus(double quantity)
{
    return json_pack("[{s:s, s:f}]", "capacityUnit", "VCPU", "quantity", quantity);
}

static void add_front(json_t *list, const job *j)
{
    char *arn = arn_make(ARN_JOB, j->id);
    json_array_append_new(list, json_pack("{s:s, s:I}", "jobArn", arn, "earliestTimeAtPosition",
                                          (json_int_t)j->runnable_at));
    free(arn);
}

/* The vCPUs the queue's attempts hold now, across its instances. */
static double queue_usage(state *st, const jq_rt *queue)
{
    long long used = 0;
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&st->fleet->instances, &i, &k, &v)) {
        const instance *in = v;
        for (const job *j = in->jobs; j; j = j->inst_next)
            if (jobs_queue_of(st->jobs, j) == queue) used += j->spec->mvcpus;
    }
    return used / 1000.0;
}

static int by_running(const void *a, const void *b)
{
    const jq_share *x = *(const jq_share *const *)a, *y = *(const jq_share *const *)b;
    if (x->running_mvcpus != y->running_mvcpus) return x->running_mvcpus > y->running_mvcpus ? -1 : 1;
    return strcmp(x->id, y->id);
}

static int get_snapshot(api_ctx *c, json_t *req, json_t **resp)
{
    char *name = api_name_or_arn(c, api_str(req, "jobQueue"), ARN_JQ, "jobQueue");
    if (!name) return -1;
    jq_rec *q = res_jq(c->st, name);
    if (!q) {
        /* A deleted queue's description stays (DescribeJobQueues shows it DELETED), and its
         * jobs are listed; it has no line to show. */
        if (reg_get_any(&c->st->jq, name))
            api_client_error(c, "jobQueue: the job queue '%s' was deleted: it places no jobs "
                                "(ListJobs still lists those it held)", name);
        else
            api_client_error(c, "jobQueue: no job queue named '%s'", name);
        free(name);
        return -1;
    }
    free(name);
    int64_t now = util_now_ms();
    jq_rt *rt = q->jobs;
    json_t *front = json_array();
    size_t n = 0;
    if (rt && rt->n_shares) {
        const job **out = xmalloc(FRONT_MAX * sizeof *out);
        n = fairshare_front(c->st, q, out, FRONT_MAX, now);
        for (size_t i = 0; i < n; i++) add_front(front, out[i]);
        free(out);
    }
    for (const job *j = rt ? rt->rq_head : NULL; j && n < FRONT_MAX; j = j->rq_next, n++)
        add_front(front, j);
    json_t *util = json_pack("{s:o, s:I}", "totalCapacityUsage",
                             vcpus(rt ? queue_usage(c->st, rt) : 0), "lastUpdatedAt",
                             (json_int_t)now);
    json_t *out = json_pack("{s:{s:o, s:I}, s:o}", "frontOfQueue", "jobs", front,
                            "lastUpdatedAt", (json_int_t)now, "queueUtilization", util);
    /* barge's own: the queue's jobs by status (array children apart), which the queue keeps as
     * they change, so this costs nothing per job (`barge watch` shows them). */
    json_t *counts = json_object();
    for (int s = 0; s < JS_COUNT; s++)
        json_object_set_new(counts, job_status_name(s), json_integer(rt ? rt->n_status[s] : 0));
    json_t *mine_b = json_pack("{s:o}", "jobsByStatus", counts);
    json_object_set_new(out, "barge", mine_b);
    if (q->policy) {
        json_t *policy = reg_get(&c->st->sp, q->policy);
        size_t ns = rt ? rt->n_shares : 0;
        jq_share **sorted = xmalloc((ns ? ns : 1) * sizeof *sorted);
        int active = 0;
        for (size_t i = 0; i < ns; i++) {
            sorted[i] = rt->share_v[i];
            if (jobs_share_active(sorted[i])) active++;
        }
        qsort(sorted, ns, sizeof *sorted, by_running);
        json_t *top = json_array(), *mine = json_array();
        for (size_t i = 0; i < ns; i++) {
            jq_share *s = sorted[i];
            if (i < TOP_SHARES && s->running_mvcpus)
                json_array_append_new(top, json_pack("{s:s, s:o}", "shareIdentifier", s->id,
                                                     "capacityUsage",
                                                     vcpus(s->running_mvcpus / 1000.0)));
            json_array_append_new(mine, json_pack(
                "{s:s, s:f, s:f, s:f, s:i}", "shareIdentifier", s->id, "weightFactor",
                fairshare_weight(policy, s->id), "usageVcpuSeconds", jobs_share_usage(s, now),
                "runningVcpus", s->running_mvcpus / 1000.0, "runnableJobs", (int)s->n_runnable));
        }
        free(sorted);
        json_object_set_new(util, "fairshareUtilization",
                            json_pack("{s:i, s:o}", "activeShareCount", active,
                                      "topCapacityUtilization", top));
        json_object_set_new(mine_b, "shares", mine);
    }
    *resp = out;
    return 0;
}

api_op api_snapshot_ops[] = {
    {"GetJobQueueSnapshot", "POST", "/v1/getjobqueuesnapshot", "{jobQueue:s!}", get_snapshot, 0,
     NULL},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
