/* jobs — every job in memory, their lifecycle, dependencies and persistence.
 *
 * All functions run on the core thread.  A change marks the job dirty; jobs_flush writes every
 * dirty job once at the end of the core's batch, inside its transaction, so a job that moves
 * through several states in one batch costs one write. */
#ifndef BARGE_JOBS_H
#define BARGE_JOBS_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dict.h"
#include "server/model/job.h"

struct state;

/* A queue's jobs: the RUNNABLE ones in order, and all parents and plain jobs for ListJobs.
 * Jobs with a shareIdentifier wait in their share's list instead (shares.h). */
typedef struct jq_rt {
    char *name;
    job *rq_head, *rq_tail;
    uint32_t n_runnable; /* in rq and in every share */
    job **all;
    size_t n_all, cap_all;
    dict shares; /* shareIdentifier -> jq_share */
    struct jq_share **share_v;
    size_t n_shares, cap_shares;
    int running_mvcpus; /* of the attempts of its shares' jobs */
    /* Its jobs in all (array children apart) by the status ListJobs shows them with
     * (jobs_shown_status: a multi-node job's nodes' progress while it is PENDING), kept as they
     * change, so that GET /metrics costs nothing per job (jobs__status, jobs__summary_move). */
    uint32_t n_status[JS_COUNT];
    job **arrays; /* the array jobs among them, whose summaries count their children */
    size_t n_arrays, cap_arrays;
    /* The head of rq as last seen by the time-limit check (engine/timelimit.c): since when it
     * has been the head with its reason code. */
    const job *head_seen;
    int64_t head_since;
    int head_code;
    int heads_kept; /* head_seen, or a share's, may be set */
    /* A queue deleted and then created again under its name is a new queue, as in AWS: the
     * jobs of the one before (those submitted before first_seq, the submit number the new one
     * began at; its record keeps it) stay in the lists of the former, found through `former`
     * by their submit number, so they neither show in the new queue's lists and counts nor
     * take part in its scheduling. */
    uint64_t first_seq;
    struct jq_rt *former;
} jq_rt;

typedef struct jobs {
    /* Where status changes are told (events.h); NULL while loading, whose changes are none. */
    struct events *events;
    dict by_id;  /* plain jobs and array parents */
    dict queues; /* queue name -> jq_rt */
    uint64_t next_seq;
    job *dirty_head;
    int sched_needed; /* something changed that may let a job be placed */
    /* Jobs that have ended and whose dependents are still to be told (jobs.c). */
    job **ended;
    size_t n_ended, cap_ended;
    int resolving;
    /* Plain jobs and array parents that have finished, in the order they finished (those
     * loaded finished first, by their end), for the retention to let go of (retention.h):
     * finished[fin_head] to finished[n_finished - 1]. */
    job **finished;
    size_t fin_head, n_finished, cap_finished;
    /* STARTING and RUNNING jobs as loaded, in submit order, until the engine has put them back
     * on their instances or ended their attempts (engine/attempt.c, attempt_recover). */
    job **loaded_started;
    size_t n_loaded_started;
    /* The job last put into a RUNNABLE list, and that list's head (jobs.c, jobs__rq_insert). */
    job *rq_hint;
    job **rq_hint_head;
} jobs;

/* Shares of fair-share queues (jobs_shares.c): each share's RUNNABLE jobs and its usage.
 *
 * A job submitted with a shareIdentifier waits in its share's list (schedulingPriority highest
 * first, then submit order) instead of its queue's first-in-first-out list; the scheduler
 * (engine/fairshare.c) picks the share to serve next by usage and weight.  A share's usage is
 * the vCPU-seconds its attempts have held, decayed exponentially with the policy's
 * shareDecaySeconds as time constant, so that recent use counts more than old use; it survives
 * restarts in "share" records, written at most every JOBS_SHARE_WRITE_MS while it changes (and
 * at a clean stop), so a crash forgets a few seconds of usage at most. */
#define JOBS_SHARE_WRITE_MS 5000
/* AWS: a shareDecaySeconds of 0 is the default window, 600 seconds. */
#define JOBS_SHARE_DEFAULT_DECAY_S 600

typedef struct jq_share {
    char *id;
    jq_rt *queue;
    job *rq_head, *rq_tail; /* RUNNABLE: schedulingPriority highest first, then submit order */
    uint32_t n_runnable;
    /* Its jobs (not array children or nodes) that have not ended, SUBMITTED to RUNNING: AWS
     * counts a share with any as active for computeReservation, one whose jobs all wait for
     * their dependencies too (jobs_share_active). */
    uint32_t n_live;
    int running_mvcpus; /* of its STARTING and RUNNING attempts */
    double usage;       /* vCPU-seconds, decayed, as of usage_at */
    int64_t usage_at;   /* epoch ms; 0 before any use */
    double decay_s;     /* the time constant the usage decays with (the policy's, as last seen) */
    int dirty;          /* usage changed since it was written */
    int64_t written_at; /* epoch ms */
    const job *head_seen; /* as jq_rt's, for this share's list */
    int64_t head_since;
    int head_code;
} jq_share;

/* The share of queue q named id, made on first use. */
jq_share *jobs_share(jq_rt *q, const char *id);
/* Whether s is one of the queue's ActiveFairShares, which computeReservation's
 * (computeReservation/100)^ActiveFairShares counts: AWS's user guide calls a share active while
 * it has a job in SUBMITTED, PENDING, RUNNABLE, STARTING or RUNNING. */
int jobs_share_active(const jq_share *s);
/* Whether a job of share id may join queue q, which may have limit active shares (AWS Batch's
 * 500): always when id is active already; q may be NULL (no job yet). */
int jobs_share_may_join(const jq_rt *q, const char *id, int limit);
/* Lets go of the shares that hold nothing (no RUNNABLE job, no running attempt) and whose usage
 * has decayed below JOBS_SHARE_IDLE_USAGE vCPU-seconds, with their records: a share for every
 * identifier ever used would otherwise stay for ever, in memory and in the store.  The next job
 * that names one makes it again, from nothing, which is all it had left. */
#define JOBS_SHARE_IDLE_USAGE 0.001
void jobs_drop_idle_shares(struct state *st, int64_t now_ms);
/* Its usage at now: what it had at usage_at, decayed, plus what its running attempts have
 * added since. */
double jobs_share_usage(const jq_share *s, int64_t now_ms);
/* Attempts of the share started (delta > 0) or ended (< 0) holding |delta| milli-vCPUs. */
void jobs_share_charge(jq_share *s, int delta_mvcpus, int64_t now_ms);
/* Sets the time constant (the policy's shareDecaySeconds; 0 is the default window), first
 * bringing the usage up to now under the old one. */
void jobs_share_set_decay(jq_share *s, double decay_s, int64_t now_ms);

/* Writes changed usage (all of it when final) inside the core's transaction. */
void jobs_flush_shares(struct state *st, int final);
/* Removes the usage records of a queue's shares: a queue made again under its name starts with
 * no usage, as a new queue does (its former's shares stay in memory, unwritten). */
void jobs_forget_shares(struct state *st, jq_rt *q);
/* Reads the usage records; 0, or -1 with *err. */
int jobs_load_shares(struct state *st, char **err);

jobs *jobs_new(void);
void jobs_free(jobs *js);

/* A job by id: "UUID" or "UUID:INDEX"; NULL if unknown. */
job *jobs_find(jobs *js, const char *id);
/* The queue of that name now (its newest generation), created on first use. */
jq_rt *jobs_queue(jobs *js, const char *name);
/* The queue named name that began at submit number first_seq (a queue's record: resource.c):
 * the current one, or a new one that the current becomes the former of. */
jq_rt *jobs_queue_from(jobs *js, const char *name, uint64_t first_seq);
/* The queue j was submitted to: the current one of its name or a former one. */
jq_rt *jobs_queue_of(jobs *js, const job *j);
/* Calls fn for every queue, former ones included (ListJobsByConsumableResource). */
void jobs_each_queue(jobs *js, void (*fn)(jq_rt *q, void *arg), void *arg);
/* Frees the former queues that no longer list a job (the retention let them go). */
void jobs_drop_empty_formers(jobs *js);

/* Creates a plain job or an array (children included) from a spec (whose reference it takes)
 * and enters it into the lifecycle.  deps is the request's dependsOn (validated). */
job *jobs_create(struct state *st, jobspec *spec, const char *id, uint32_t array_size,
                 json_t *deps, int64_t now);

/* Lifecycle.  reason may be NULL.  Only the transitions AWS Batch allows are made; any other
 * breaks an invariant (jobs_transition_allowed). */
void jobs_set_status(struct state *st, job *j, int status, const char *reason);
/* How the statusReason of a multi-node job's node starts when the node was stopped because
 * another node ended (engine/attempt.c), so that such a stop is not taken for the node's own
 * failure when its job's outcome is decided. */
#define JOBS_NODE_STOPPED "Stopped: "
/* The status a job is shown with: its own, except that a multi-node job (kept PENDING while its
 * nodes run, as an array is) is RUNNABLE while its nodes wait, STARTING while one starts and
 * RUNNING while one runs, as AWS shows it. */
int jobs_shown_status(const job *j);
/* Whether j is a node of a multi-node job: placed with the other nodes, never attempted again
 * alone. */
int jobs_is_node(const job *j);
/* Whether j is an array job's parent: it has children that are no multi-node job's nodes (the
 * children N_TO_N pairs; with a plain or multi-node job on either side it waits for the whole
 * job). */
int jobs_is_array(const job *j);
/* A node of a multi-node job back to RUNNABLE from SUCCEEDED or FAILED: the one way out of those
 * (jobs_transition_allowed), for a job that is attempted again once every node has ended, or
 * whose attempt was interrupted (engine/attempt.c), so that its nodes are placed together
 * again (engine/scheduler.c). */
void jobs_node_rerun(struct state *st, job *c);
/* j's attempt starts (sign 1) or stops (-1) holding its vCPUs, for its share's usage; the
 * status changes do this, and loading for the attempts that were under way. */
void jobs_charge_share(jobs *js, job *j, int sign);
int jobs_transition_allowed(int from, int to);
/* CancelJob and TerminateJob as far as the lifecycle goes: waiting jobs fail (a PENDING one once
 * its dependencies complete); with terminate, a started job is marked terminated, and stopping
 * its attempt is the engine's part (engine/attempt.c, attempt_cancel). */
void jobs_cancel(struct state *st, job *j, const char *reason, int terminate);
/* An attempt of j started (at j->started_at): an array parent started with its first child. */
void jobs_note_started(struct state *st, job *j);

void jobs_mark_dirty(struct state *st, job *j);
/* Appends a finished plain job or array parent to the finished list (jobs_set_status does it
 * as they end; loading, for those loaded finished). */
void jobs_note_finished(jobs *js, job *j);
/* The retention's (retention.c), which has deleted the jobs' records and logs and told the
 * events: jobs_unlist_gone takes finished plain jobs and array parents of queue q out of its
 * lists (q->all, q->arrays); jobs_unlink_gone then takes one, marked gone, out of the index and
 * its queue's counts, and frees it with its children. */
void jobs_unlist_gone(jq_rt *q, job *const *gone, size_t n);
/* Takes the jobs marked gone (and their children) off the lists of dependents of on and of its
 * children: a finished job keeps its list, which DescribeJobs shows (api/jobdesc.c). */
void jobs_forget_gone_dependents(job *on);
void jobs_unlink_gone(jobs *js, job *j);
/* Deletes the store's records of j and its children, inside the core's transaction. */
void jobs_forget_stored(struct state *st, job *j);
/* Writes every dirty job to the store. */
void jobs_flush(struct state *st);
/* Rebuilds every job from the store.  Jobs that were STARTING or RUNNING are listed in
 * loaded_started for the engine. */
int jobs_load(struct state *st, char **err);
#endif
