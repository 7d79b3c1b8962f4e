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
#include "server/api/api.h"
#include "server/base/metrics.h"
#include "server/model/instance.h"
#include "server/model/jobs.h"
#include "server/model/registry.h"
#include "server/model/resource.h"
#include "server/model/state.h"

/* What a RUNNABLE job waits for, as a label: the code its statusReason starts with
 * ("CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"...,
 * engine/explain.c), or "none" before the scheduler has said. */
static size_t reason_code(const char *reason, char *out, size_t cap)
{
    size_t n = 0;
    if (reason)
        while (n + 1 < cap && ((reason[n] >= 'A' && reason[n] <= 'Z') || reason[n] == '_' ||
                               reason[n] == ':'))
            n++;
    while (n > 0 && out && reason[n - 1] == ':') n--;
    if (n < 3) {
        snprintf(out, cap, "none");
        return 4;
    }
    memcpy(out, reason, n);
    out[n] = '\0';
    return n;
}

typedef struct wait_count {
    char code[80];
    uint64_t n;
} wait_count;

static void count_wait(wait_count **w, size_t *n, const char *reason)
{
    char code[80];
    reason_code(reason, code, sizeof code);
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*w)[i].code, code) == 0) {
            (*w)[i].n++;
            return;
        }
    *w = xrealloc(*w, (*n + 1) * sizeof **w);
    snprintf((*w)[*n].code, sizeof (*w)[*n].code, "%s", code);
    (*w)[(*n)++].n = 1;
}

static int cmp_names(const char *a, const char *b)
{
    return strcmp(a, b);
}

static void render_jobs(state *st, metrics_buf *b)
{
    metrics_printf(b, "# HELP barge_jobs Jobs by queue and status (plain jobs, array jobs and "
                      "multi-node jobs; array children apart).\n# TYPE barge_jobs gauge\n");
    metrics_buf kids = {0}, waits = {0};
    metrics_printf(&kids, "# HELP barge_array_child_jobs Array jobs' children by queue and "
                          "status.\n# TYPE barge_array_child_jobs gauge\n");
    metrics_printf(&waits, "# HELP barge_runnable_jobs RUNNABLE jobs by queue and by what they "
                           "wait for (the code their statusReason starts with).\n"
                           "# TYPE barge_runnable_jobs gauge\n");
    size_t nq;
    const char **names = reg_sorted_keys(&st->jq, cmp_names, &nq);
    for (size_t q = 0; q < nq; q++) {
        jq_rt *rt = dict_get(&st->jobs->queues, names[q]);
        uint64_t own[JS_COUNT] = {0}, children[JS_COUNT] = {0};
        wait_count *w = NULL;
        size_t nw = 0;
        for (size_t i = 0; rt && i < rt->n_all; i++) {
            const job *j = rt->all[i];
            int s = jobs_shown_status(j);
            own[s]++;
            if (s == JS_RUNNABLE) count_wait(&w, &nw, j->reason);
            if (j->children)
                for (int k = 0; k < JS_COUNT; k++) children[k] += j->summary[k];
        }
        /* RUNNABLE children wait in the queue's lists; each says why with its reason. */
        for (const job *j = rt ? rt->rq_head : NULL; j; j = j->rq_next)
            if (j->parent) count_wait(&w, &nw, j->reason);
        for (int k = 0; k < JS_COUNT; k++) {
            metrics_printf(b, "barge_jobs{queue=\"");
            metrics_label(b, names[q]);
            metrics_printf(b, "\",status=\"%s\"} %llu\n", job_status_name(k),
                           (unsigned long long)own[k]);
            metrics_printf(&kids, "barge_array_child_jobs{queue=\"");
            metrics_label(&kids, names[q]);
            metrics_printf(&kids, "\",status=\"%s\"} %llu\n", job_status_name(k),
                           (unsigned long long)children[k]);
        }
        for (size_t i = 0; i < nw; i++) {
            metrics_printf(&waits, "barge_runnable_jobs{queue=\"");
            metrics_label(&waits, names[q]);
            metrics_printf(&waits, "\",reason=\"%s\"} %llu\n", w[i].code,
                           (unsigned long long)w[i].n);
        }
        free(w);
    }
    free(names);
    metrics_printf(b, "%.*s%.*s", (int)kids.len, kids.data ? kids.data : "", (int)waits.len,
                   waits.data ? waits.data : "");
    free(kids.data);
    free(waits.data);
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
        double vals[] = {used_m / 1000.0, total_m / 1000.0,
                         ce && ce->managed ? ce->max_mvcpus / 1000.0 : total_m / 1000.0};
        for (int x = 0; x < 3; x++) {
            metrics_printf(&cap, "barge_compute_environment_vcpus{compute_environment=\"");
            metrics_label(&cap, names[c]);
            metrics_printf(&cap, "\",kind=\"%s\"} %g\n", kinds[x], vals[x]);
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
    metrics_buf b = {0};
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
