/* api_metrics — GET /metrics: Prometheus's text exposition format (version 0.0.4).
 *
 * The gauges are read from the state here, on the core, when the scrape comes: jobs by queue
 * and status, RUNNABLE jobs by what they wait for, instances and their capacity by compute
 * environment.  The counters and histograms are server/base/metrics.c's.  A scrape is not
 * signed (Prometheus does not sign requests), as /healthz is not; --metrics-token makes it carry
 * "Authorization: Bearer TOKEN" (http_server.c). */
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/util.h"
#include "server/api/api.h"
#include "server/base/metrics.h"
#include "server/engine/explain.h"
#include "server/model/instance.h"
#include "server/model/jobs.h"
#include "server/model/jobspec.h"
#include "server/model/registry.h"
#include "server/model/resource.h"
#include "server/model/state.h"

/* ---- RUNNABLE jobs by what they wait for ----------------------------------------------
 *
 * A RUNNABLE job's reason is worked out when asked (engine/explain.c), from its requirements and
 * its queue's environments.  Going through a million waiting jobs takes tens of milliseconds, too
 * long for every scrape: the breakdown is made on the core's tick at most every
 * WAITS_EVERY_MS while scrapes keep coming (a first scrape makes it at once), and a scrape gives
 * the last one.  Jobs submitted alike share their requirements (jobspec's shared part), so each
 * kind is explained once. */
#define WAITS_EVERY_MS 10000
#define WAITS_IDLE_MS 300000
#define WAITS_TICK_SLACK_MS 2000 /* the tick's period and a busy core's delay */

typedef struct wait_count {
    char queue[136]; /* a copy: the queue may be deleted before the next breakdown */
    char code[64];
    uint64_t n;
} wait_count;

static wait_count *waits;
static size_t n_waits;
static int64_t waits_at, scraped_at; /* monotonic ms; 0: never */

typedef struct kind {
    const void *shared;
    const char *share;
    const char *code;
} kind;

static const char *code_of(state *st, const job *j, kind *seen, size_t *n_seen)
{
    const char *share = jobspec_share(j->spec);
    const jobspec_need *needs;
    int alone = jobspec_consumables(j->spec, &needs) > 0; /* depends on the job's own needs */
    for (size_t i = 0; !alone && i < *n_seen; i++)
        if (seen[i].shared == j->spec->shared &&
            (seen[i].share == share || (share && seen[i].share && !strcmp(share, seen[i].share))))
            return seen[i].code;
    explain_code code;
    free(explain_runnable_code(st, j, &code));
    const char *name = explain_code_name(code) ? explain_code_name(code) : "none";
    if (!alone && *n_seen < 32) seen[(*n_seen)++] = (kind){j->spec->shared, share, name};
    return name;
}

static void add_wait(const char *queue, const char *code)
{
    for (size_t i = n_waits; i-- > 0 && !strcmp(waits[i].queue, queue);)
        if (!strcmp(waits[i].code, code)) {
            waits[i].n++;
            return;
        }
    waits = xrealloc(waits, (n_waits + 1) * sizeof *waits);
    waits[n_waits] = (wait_count){.n = 1};
    snprintf(waits[n_waits].queue, sizeof waits[n_waits].queue, "%s", queue);
    snprintf(waits[n_waits].code, sizeof waits[n_waits].code, "%s", code);
    n_waits++;
}

static int cmp_names(const char *a, const char *b)
{
    return strcmp(a, b);
}

static void count_waits(state *st)
{
    free(waits);
    waits = NULL;
    n_waits = 0;
    size_t nq;
    const char **names = reg_sorted_keys(&st->jq, cmp_names, &nq);
    for (size_t q = 0; q < nq; q++) {
        jq_rt *rt = dict_get(&st->jobs->queues, names[q]);
        /* Not by its count of RUNNABLE jobs, which leaves out array children and nodes: a
         * queue whose only waiting jobs were children was left out. */
        if (!rt) continue;
        kind seen[32];
        size_t n_seen = 0;
        /* The queue's RUNNABLE jobs are in its list, or in its shares' (fair share). */
        for (const job *j = rt->rq_head; j; j = j->rq_next)
            add_wait(names[q], code_of(st, j, seen, &n_seen));
        for (size_t s = 0; s < rt->n_shares; s++)
            for (const job *j = rt->share_v[s]->rq_head; j; j = j->rq_next)
                add_wait(names[q], code_of(st, j, seen, &n_seen));
    }
    free(names);
    waits_at = util_mono_ms();
}

void api_metrics_tick(state *st)
{
    int64_t now = util_mono_ms();
    if (scraped_at && now - scraped_at < WAITS_IDLE_MS && now - waits_at >= WAITS_EVERY_MS)
        count_waits(st);
}

static void render_jobs(state *st, metrics_buf *b)
{
    metrics_printf(b, "# HELP barge_jobs Jobs by queue and status (plain jobs, array jobs and "
                      "multi-node jobs; array children apart).\n# TYPE barge_jobs gauge\n");
    metrics_buf kids = {0};
    metrics_printf(&kids, "# HELP barge_array_child_jobs Children of array and multi-node jobs by queue and "
                          "status.\n# TYPE barge_array_child_jobs gauge\n");
    /* The queues that exist: a deleted queue's jobs stay in the model until the retention
     * lets them go, but its series go with it. */
    size_t nq;
    const char **names = reg_sorted_keys(&st->jq, cmp_names, &nq);
    for (size_t q = 0; q < nq; q++) {
        jq_rt *rt = dict_get(&st->jobs->queues, names[q]);
        for (int k = 0; k < JS_COUNT; k++) {
            metrics_printf(b, "barge_jobs{queue=\"");
            metrics_label(b, names[q]);
            metrics_printf(b, "\",status=\"%s\"} %u\n", job_status_name(k),
                           rt ? rt->n_status[k] : 0);
        }
        if (!rt) continue;
        /* The children, from their parents' summaries: one look per array, not per child. */
        uint64_t children[JS_COUNT] = {0};
        int any = 0;
        for (size_t a = 0; a < rt->n_arrays; a++) {
            const job *p = rt->arrays[a];
            for (int s = 0; s < JS_COUNT; s++) children[s] += p->family->summary[s];
            any = 1;
        }
        if (!any) continue;
        for (int s = 0; s < JS_COUNT; s++) {
            metrics_printf(&kids, "barge_array_child_jobs{queue=\"");
            metrics_label(&kids, names[q]);
            metrics_printf(&kids, "\",status=\"%s\"} %llu\n", job_status_name(s),
                           (unsigned long long)children[s]);
        }
    }
    free(names);
    metrics_printf(b, "%.*s", (int)kids.len, kids.data);
    free(kids.data);
    metrics_printf(b, "# HELP barge_runnable_jobs RUNNABLE jobs by queue and by the AWS reason "
                      "code they wait with (\"none\": waiting their turn, or for an operator), "
                      "as of at most %d seconds ago.\n# TYPE barge_runnable_jobs gauge\n",
                   WAITS_EVERY_MS / 1000);
    /* Made now for the first scrape, and for one after scrapes stopped long enough that the
     * tick stopped making it (its figures would be from before). */
    if (!waits_at || util_mono_ms() - waits_at > WAITS_EVERY_MS + WAITS_TICK_SLACK_MS)
        count_waits(st);
    for (size_t w = 0; w < n_waits; w++) {
        metrics_printf(b, "barge_runnable_jobs{queue=\"");
        metrics_label(b, waits[w].queue);
        metrics_printf(b, "\",reason=\"%s\"} %llu\n", waits[w].code,
                       (unsigned long long)waits[w].n);
    }
}

static void render_fleet(state *st, metrics_buf *b)
{
    static const char *const states[] = {"launching", "registered", "draining"};
    metrics_printf(b, "# HELP barge_instances Instances by compute environment and state.\n"
                      "# TYPE barge_instances gauge\n");
    metrics_buf cap = {0};
    metrics_printf(&cap, "# HELP barge_compute_environment_vcpus vCPUs of a compute "
                         "environment: used by attempts, of its instances, and its maxvCpus.\n"
                         "# TYPE barge_compute_environment_vcpus gauge\n");
    metrics_buf mem = {0};
    metrics_printf(&mem, "# HELP barge_compute_environment_memory_bytes Memory of a compute "
                         "environment's instances: used by attempts, and in all.\n"
                         "# TYPE barge_compute_environment_memory_bytes gauge\n");
    size_t nc;
    const char **names = reg_sorted_keys(&st->ce, cmp_names, &nc);
    for (size_t c = 0; c < nc; c++) {
        uint64_t count[3] = {0};
        long long used_m = 0, total_m = 0, used_mib = 0, total_mib = 0;
        size_t i = 0;
        const char *k;
        void *v;
        while (dict_next(&st->fleet->instances, &i, &k, &v)) {
            const instance *in = v;
            if (strcmp(in->ce, names[c]) != 0) continue;
            count[!in->registered ? 0 : in->draining ? 2 : 1]++;
            used_m += in->used_mvcpus;
            total_m += in->mvcpus;
            used_mib += in->used_memory;
            total_mib += in->memory_mib;
        }
        for (int s = 0; s < 3; s++) {
            metrics_printf(b, "barge_instances{compute_environment=\"");
            metrics_label(b, names[c]);
            metrics_printf(b, "\",state=\"%s\"} %llu\n", states[s], (unsigned long long)count[s]);
        }
        const ce_rec *ce = res_ce(st, names[c]);
        const char *kinds[] = {"used", "total", "max"};
        long long vals[] = {used_m, total_m, ce && ce->managed ? ce->max_mvcpus : total_m};
        for (int x = 0; x < 3; x++) {
            metrics_printf(&cap, "barge_compute_environment_vcpus{compute_environment=\"");
            metrics_label(&cap, names[c]);
            /* Exact: thousandths of a vCPU are what is counted, and %g kept six digits
             * (1,237,035 vCPUs was 1.23704e+06). */
            long long m = vals[x], whole = m / 1000, frac = m % 1000;
            metrics_printf(&cap, "\",kind=\"%s\"} %lld", kinds[x], whole);
            if (frac) metrics_printf(&cap, ".%03lld", frac);
            metrics_printf(&cap, "\n");
        }
        for (int x = 0; x < 2; x++) {
            metrics_printf(&mem, "barge_compute_environment_memory_bytes{compute_environment=\"");
            metrics_label(&mem, names[c]);
            metrics_printf(&mem, "\",kind=\"%s\"} %lld\n", kinds[x],
                           (x ? total_mib : used_mib) * 1048576LL);
        }
    }
    free(names);
    metrics_printf(b, "%.*s%.*s", (int)cap.len, cap.data, (int)mem.len, mem.data);
    free(cap.data);
    free(mem.data);
}

static int metrics(api_ctx *c, json_t *req, json_t **resp)
{
    scraped_at = util_mono_ms();
    metrics_buf b = {0};
    metrics_leader(&b, 1);
    render_jobs(c->st, &b);
    render_fleet(c->st, &b);
    metrics_render(&b);
    c->text = b.data;
    c->text_len = b.len;
    return 0;
}

api_op api_metrics_ops[] = {
    {"Metrics", "GET", "/metrics", NULL, metrics, 0, NULL},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
