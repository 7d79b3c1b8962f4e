/* retention — finished jobs, and their logs, are kept for a while and then let go.
 *
 * AWS Batch keeps a finished job about a week and then forgets it: DescribeJobs no longer
 * returns it.  barge does the same after --retention-hours (CONFIG_RETENTION_DEFAULT_HOURS
 * unless given; 0 keeps jobs forever; docs/decisions.md says why a week), so that a server that
 * runs jobs for months holds in memory and on disk what the last week ran, not all it ever ran.
 *
 * Letting go runs on the core thread, in its tick, in slices of at most RETENTION_PASS_JOBS
 * jobs (an array's children counted), so that a request that arrives meanwhile waits for one
 * slice at most; the records are deleted in the tick's own transaction (group commit), the
 * logs by the log store's writer (logstore_delete_stream).
 *
 * A job is let go when it has been SUCCEEDED or FAILED for the retention: a plain job or an
 * array or multi-node parent, with all its children (which are never let go alone).  What points
 * at a job is taken care of first: its events lose it (readers skip them, as those of a job
 * that no longer exists: events.h), its queue's lists and the index forget it, and so do the
 * lists of dependents of the jobs it depended on that stay (DescribeJobs names them).  A job
 * that waits holds no pointer to what it depends on, and a finished dependency has told its
 * dependents already; but a job that failed while a dependency of its own still runs (another
 * one failed) is still on that dependency's list of dependents, which will be walked when it
 * ends, so it is kept until that dependency has finished too.
 *
 * Submit order numbers (job.h, seq) go on across removals and restarts: the next one is kept
 * in the store with each removal, so that a removed job's number is never given again (paging
 * tokens of ListJobs name positions by it). */
#ifndef BARGE_RETENTION_H
#define BARGE_RETENTION_H
#include <stddef.h>
#include <stdint.h>

struct state;

#define RETENTION_PASS_JOBS 5000

typedef struct retention_stats {
    size_t jobs;    /* plain jobs and parents let go */
    size_t records; /* jobs counted with their children */
    size_t streams; /* log streams deleted */
    int more;       /* the slice stopped at its limit: more jobs are due */
} retention_stats;

/* One slice: lets go of finished jobs whose end is keep_ms or more before now_ms, up to
 * max_jobs (children counted; an array larger than that goes alone in a slice of its own). */
retention_stats retention_pass(struct state *st, int64_t now_ms, int64_t keep_ms,
                               size_t max_jobs);
/* The core's tick: a slice with the server's retention (barge_cfg.retention_ms; none when 0). */
void retention_tick(struct state *st);
/* At load, after the jobs: the submit order goes on after every number given before. */
int retention_load(struct state *st, char **err);
#endif
