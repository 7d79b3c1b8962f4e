/* metrics — see metrics.h. */
#include "server/base/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dict.h"
#include "common/mem.h"

#define MAX_BUCKETS 16

typedef struct hist {
    const char *name, *help;
    int n;
    double bounds[MAX_BUCKETS];
    _Atomic uint64_t counts[MAX_BUCKETS + 1]; /* the last: above every bound (+Inf only) */
    _Atomic uint64_t total;
    _Atomic uint64_t sum_micro; /* the sum, in millionths, so that it adds atomically */
} hist;

static hist hists[METRIC_N_HISTOGRAMS] = {
    [METRIC_SUBMIT_TO_START] = {.name = "barge_job_submit_to_start_seconds",
                                .help = "Time from SubmitJob to the job's first start "
                                        "(waiting on dependencies included).",
                                .n = 12,
                                .bounds = {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800,
                                           3600}},
    [METRIC_RUN_TIME] = {.name = "barge_attempt_run_seconds",
                         .help = "How long attempts ran.",
                         .n = 12,
                         .bounds = {0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600, 21600}},
    [METRIC_SCHED_PASS] = {.name = "barge_scheduling_pass_seconds",
                           .help = "How long a scheduling pass took.",
                           .n = 10,
                           .bounds = {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5}},
    [METRIC_BATCH_SIZE] = {.name = "barge_group_commit_batch_calls",
                           .help = "Calls committed together in one transaction.",
                           .n = 10,
                           .bounds = {1, 2, 4, 8, 16, 32, 64, 128, 256, 1024}},
    [METRIC_COMMIT_TIME] = {.name = "barge_group_commit_seconds",
                            .help = "How long a commit (its fsync) took.",
                            .n = 10,
                            .bounds = {0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5,
                                       1}},
};

static const struct {
    const char *name, *help;
} counter_info[METRIC_N_COUNTERS] = {
    [METRIC_SUBMITS] = {.name = "barge_jobs_submitted_total",
                        .help = "Jobs submitted (an array counts once)."},
    [METRIC_DISPATCHES] = {.name = "barge_attempts_dispatched_total",
                           .help = "Attempts placed on instances."},
    [METRIC_REMOVED] = {.name = "barge_jobs_removed_total",
                        .help = "Finished jobs removed after the retention (an array counts "
                                "once)."},
    [METRIC_COMMIT_FAILURES] = {.name = "barge_store_commit_failures_total",
                                .help = "Batches of calls answered 503 because the store could "
                                        "not make them durable (a full disk, a store out of "
                                        "reach)."},
};
static _Atomic uint64_t counters[METRIC_N_COUNTERS];

/* Why attempts end, in a few words: the label's values stay few whatever the reasons say. */
static const char *const end_reasons[] = {"exited", "host_terminated", "timeout",
                                          "failed_to_start", "stopped", "other"};
#define N_END_REASONS (sizeof end_reasons / sizeof end_reasons[0])
static _Atomic uint64_t ends[N_END_REASONS];

/* A batch's figures, counted apart until its commit is known (metrics_defer). */
struct metrics_pending {
    uint64_t counters[METRIC_N_COUNTERS];
    uint64_t ends[N_END_REASONS];
    struct {
        uint64_t counts[MAX_BUCKETS + 1], total, sum_micro;
    } hists[METRIC_N_HISTOGRAMS];
};
static __thread metrics_pending *pending; /* the core's batch under way, or NULL */

static pthread_mutex_t http_mu = PTHREAD_MUTEX_INITIALIZER;
static dict http_counts; /* "OPERATION CODE" -> uint64_t* */
static int http_ready;

void metrics_observe(metric_hist h, double value)
{
    hist *x = &hists[h];
    int b = 0;
    while (b < x->n && value > x->bounds[b]) b++;
    uint64_t micro = value > 0 ? (uint64_t)(value * 1e6 + 0.5) : 0;
    if (pending) {
        pending->hists[h].counts[b]++;
        pending->hists[h].total++;
        pending->hists[h].sum_micro += micro;
        return;
    }
    atomic_fetch_add(&x->counts[b], 1);
    atomic_fetch_add(&x->total, 1);
    atomic_fetch_add(&x->sum_micro, micro);
}

void metrics_count(metric_counter c, uint64_t n)
{
    if (pending) pending->counters[c] += n;
    else atomic_fetch_add(&counters[c], n);
}

void metrics_defer(void)
{
    if (!pending) pending = xcalloc(1, sizeof *pending);
}

metrics_pending *metrics_take(void)
{
    metrics_pending *p = pending;
    pending = NULL;
    return p;
}

void metrics_settle(metrics_pending *p, int committed)
{
    if (!p) return;
    for (size_t c = 0; committed && c < METRIC_N_COUNTERS; c++)
        if (p->counters[c]) atomic_fetch_add(&counters[c], p->counters[c]);
    for (size_t k = 0; committed && k < N_END_REASONS; k++)
        if (p->ends[k]) atomic_fetch_add(&ends[k], p->ends[k]);
    for (size_t h = 0; committed && h < METRIC_N_HISTOGRAMS; h++) {
        if (!p->hists[h].total) continue;
        for (int b = 0; b <= MAX_BUCKETS; b++)
            if (p->hists[h].counts[b]) atomic_fetch_add(&hists[h].counts[b], p->hists[h].counts[b]);
        atomic_fetch_add(&hists[h].total, p->hists[h].total);
        atomic_fetch_add(&hists[h].sum_micro, p->hists[h].sum_micro);
    }
    free(p);
}

void metrics_attempt_ended(const char *r, int stopped)
{
    /* The system's own reasons, word for word: a reason a caller gave TerminateJob is any text
     * ("cancelled: upstream timeout" counted as a timeout), so a stop is said by the caller. */
    size_t k;
    if (stopped) k = 4;
    else if (!r) k = 5;
    else if (strcmp(r, "Essential container in task exited") == 0) k = 0;
    else if (strncmp(r, "Host EC2 (instance ", 19) == 0) k = 1;
    else if (strcmp(r, "Job attempt duration exceeded timeout") == 0) k = 2;
    else if (strcmp(r, "Task failed to start") == 0) k = 3;
    else k = 4; /* the operator's: a queue or environment deleted, a drain's deadline... */
    if (pending) pending->ends[k]++;
    else atomic_fetch_add(&ends[k], 1);
}

void metrics_http(const char *operation, int status)
{
    char key[160];
    snprintf(key, sizeof key, "%.120s %d", operation ? operation : "unknown", status);
    pthread_mutex_lock(&http_mu);
    if (!http_ready) {
        dict_init(&http_counts);
        http_ready = 1;
    }
    uint64_t *n = dict_get(&http_counts, key);
    if (!n) {
        /* The key's text lives just after the count, freed with it (never: the table only
         * grows, and operations and codes are few). */
        size_t len = strlen(key) + 1;
        char *block = xcalloc(1, sizeof(uint64_t) + len);
        memcpy(block + sizeof(uint64_t), key, len);
        n = (uint64_t *)(void *)block;
        dict_put(&http_counts, block + sizeof(uint64_t), n);
    }
    (*n)++;
    pthread_mutex_unlock(&http_mu);
}

void metrics_printf(metrics_buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->data ? b->data + b->len : NULL, b->data ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (b->data && (size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        b->cap = (b->cap + (size_t)n + 1) * 2;
        b->data = xrealloc(b->data, b->cap);
    }
}

void metrics_label(metrics_buf *b, const char *v)
{
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\') metrics_printf(b, "\\\\");
        else if (*p == '"') metrics_printf(b, "\\\"");
        else if (*p == '\n') metrics_printf(b, "\\n");
        else metrics_printf(b, "%c", *p);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void render_http(metrics_buf *b)
{
    metrics_printf(b, "# HELP barge_http_requests_total HTTP requests answered, by operation "
                      "and status code.\n# TYPE barge_http_requests_total counter\n");
    pthread_mutex_lock(&http_mu);
    if (http_ready) {
        size_t n = 0, i = 0;
        const char **keys = xcalloc(http_counts.len + 1, sizeof *keys);
        const char *k;
        void *v;
        while (dict_next(&http_counts, &i, &k, &v)) keys[n++] = k;
        qsort(keys, n, sizeof *keys, cmp_str);
        for (size_t j = 0; j < n; j++) {
            const char *sp = strrchr(keys[j], ' ');
            metrics_printf(b, "barge_http_requests_total{operation=\"%.*s\",code=\"%s\"} %llu\n",
                           (int)(sp - keys[j]), keys[j], sp + 1,
                           (unsigned long long)*(uint64_t *)dict_get(&http_counts, keys[j]));
        }
        free(keys);
    }
    pthread_mutex_unlock(&http_mu);
}

void metrics_render(metrics_buf *b)
{
    for (int c = 0; c < METRIC_N_COUNTERS; c++)
        metrics_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", counter_info[c].name,
                       counter_info[c].help, counter_info[c].name, counter_info[c].name,
                       (unsigned long long)atomic_load(&counters[c]));
    metrics_printf(b, "# HELP barge_attempts_ended_total Attempts ended, by why.\n"
                      "# TYPE barge_attempts_ended_total counter\n");
    for (size_t k = 0; k < N_END_REASONS; k++)
        metrics_printf(b, "barge_attempts_ended_total{reason=\"%s\"} %llu\n", end_reasons[k],
                       (unsigned long long)atomic_load(&ends[k]));
    for (int h = 0; h < METRIC_N_HISTOGRAMS; h++) {
        hist *x = &hists[h];
        metrics_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", x->name, x->help, x->name);
        uint64_t cum = 0;
        for (int i = 0; i < x->n; i++) {
            cum += atomic_load(&x->counts[i]);
            metrics_printf(b, "%s_bucket{le=\"%g\"} %llu\n", x->name, x->bounds[i],
                           (unsigned long long)cum);
        }
        cum += atomic_load(&x->counts[x->n]);
        /* Read apart from the buckets, the total may be ahead of them: +Inf and _count are the
         * same number, as the format requires. */
        metrics_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", x->name,
                       (unsigned long long)cum, x->name,
                       (double)atomic_load(&x->sum_micro) / 1e6, x->name,
                       (unsigned long long)cum);
    }
    render_http(b);
}

void metrics_leader(metrics_buf *b, int leader)
{
    metrics_printf(b, "# HELP barge_leader 1 on the server that serves (the lease's holder, or "
                      "a server alone), 0 on a standby.\n# TYPE barge_leader gauge\n"
                      "barge_leader %d\n", leader ? 1 : 0);
}
