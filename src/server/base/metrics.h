/* metrics — what the server counts for Prometheus (GET /metrics, api/api_metrics.c): counters
 * and histograms any thread may add to (atomics, or one mutex for the per-operation table), and
 * their text in the exposition format.  The gauges (jobs, instances, vCPUs) are not kept here:
 * they are read from the state when a scrape comes, on the core. */
#ifndef BARGE_METRICS_H
#define BARGE_METRICS_H
#include <stddef.h>
#include <stdint.h>

/* The histograms, each with its own buckets (metrics.c). */
typedef enum {
    METRIC_SUBMIT_TO_START, /* seconds from SubmitJob to the job's first start */
    METRIC_RUN_TIME,        /* seconds an attempt ran */
    METRIC_SCHED_PASS,      /* seconds of a scheduling pass */
    METRIC_BATCH_SIZE,      /* calls in one group commit */
    METRIC_COMMIT_TIME,     /* seconds of one commit (the fsync) */
    METRIC_N_HISTOGRAMS
} metric_hist;
void metrics_observe(metric_hist h, double value);

/* The counters. */
typedef enum {
    METRIC_SUBMITS,    /* SubmitJob calls that made a job (an array counts once) */
    METRIC_DISPATCHES, /* attempts placed on an instance */
    METRIC_REMOVED,    /* finished jobs let go after the retention (an array counts once) */
    METRIC_COMMIT_FAILURES, /* batches answered 503: the store did not make them durable */
    METRIC_N_COUNTERS
} metric_counter;
void metrics_count(metric_counter c, uint64_t n);
/* An attempt ended; why is one of a few words (metrics.c): from its statusReason, or "stopped"
 * when stopped (a TerminateJob or CancelJob, whose reason is the caller's text). */
void metrics_attempt_ended(const char *status_reason, int stopped);
/* What the core's batch counts (counters, ends, histograms: on the thread that called
 * metrics_defer) is kept apart until its commit is known: a batch whose commit fails did
 * nothing (its calls are answered 503), and its submits, dispatches and ends were counted all
 * the same.  metrics_defer starts a batch's figures on this thread; metrics_take hands them
 * over (NULL when none), after which this thread counts directly again; metrics_settle adds them
 * when committed, drops them otherwise, and frees them (any thread). */
typedef struct metrics_pending metrics_pending;
void metrics_defer(void);
metrics_pending *metrics_take(void);
void metrics_settle(metrics_pending *p, int committed);
/* An HTTP request answered: its operation (or "unknown") and status code. */
void metrics_http(const char *operation, int status);

/* The text of every counter and histogram, appended to *buf (malloc'd, grown as needed). */
typedef struct metrics_buf {
    char *data;
    size_t len, cap;
} metrics_buf;
void metrics_printf(metrics_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A label value as the format wants it (backslash, quote and newline escaped). */
void metrics_label(metrics_buf *b, const char *value);
void metrics_render(metrics_buf *b);
/* barge_leader: 1 on the server that holds the lease (or the only one), 0 on a standby. */
void metrics_leader(metrics_buf *b, int leader);
#endif
