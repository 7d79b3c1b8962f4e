/* job — a job as the scheduler holds it in memory.
 *
 * A plain job and an array parent are indexed by id; an array's children live in the parent's
 * vector and are found through it ("UUID:7"), so a 10,000-child array costs one index entry and
 * one stored record at submit.  What never changes after submit (name, queue, resolved
 * container, retry strategy...) is a jobspec shared by the parent and all its children. */
#ifndef BARGE_JOB_H
#define BARGE_JOB_H
#include <jansson.h>
#include <stdint.h>

#include "server/model/jobspec.h"

typedef enum job_status {
    JS_SUBMITTED,
    JS_PENDING,
    JS_RUNNABLE,
    JS_STARTING,
    JS_RUNNING,
    JS_SUCCEEDED,
    JS_FAILED,
    JS_COUNT
} job_status;

const char *job_status_name(int status);
int job_status_parse(const char *s); /* -1 if unknown */
static inline int job_status_done(int s)
{
    return s == JS_SUCCEEDED || s == JS_FAILED;
}


/* What a job's attempts reserved and used, summed (usage.h).  The peak of memory is the
 * largest, the rest are added, in whole units (millionths of a vCPU-second, MiB-milliseconds,
 * microseconds: what an attempt's figures are made of), so that a sum does not depend on the
 * order its attempts were added in; the seconds are those sums divided once. */
typedef struct job_usage {
    double vcpu_s, gib_s, cpu_s;
    long long peak;
    int measured; /* an attempt had its CPU time measured (cgroups) */
    int attempts; /* the attempts summed */
    long long vcpu_units, mem_units, cpu_units;
} job_usage;

/* What only an array's or a multi-node job's parent has, made with its children and freed with
 * them: the children by status, and their attempts' usage summed as each is recorded (usage.h).
 * Apart from the job, so that the jobs that are not parents (most of a million) do not carry
 * it. */
typedef struct job_family {
    uint32_t summary[JS_COUNT];
    int64_t summary_at; /* when summary last changed: statusSummaryLastUpdatedAt */
    job_usage usage;
} job_family;

struct instance;
#define JOB_NAME_HEAD 4
typedef struct job job;
struct job {
    char *id;
    /* Array child or node: its parent.  Made in one block with its siblings, and its id in
     * another (jobs__make_children), both freed with the parent, never alone. */
    job *parent;
    uint32_t array_size;
    /* The last reconciliation whose agent listed this attempt (here to pair with array_size: a
     * job of 256 bytes is a size its allocator has, one of 260 takes 320). */
    uint32_t held_seen;
    job **children;    /* array parent: array_size children */
    job_family *family; /* array parent (with children): what it keeps of them */
    jobspec *spec;
    uint64_t seq;      /* submit order, for first in, first out */
    uint64_t last_event; /* the seq of its latest state change event (events.h); 0: none */
    uint8_t status;
    uint8_t cancel_pending; /* cancelled while PENDING: fails once its dependencies complete */
    uint8_t is_cancelled, is_terminated;
    uint8_t dirty;
    uint8_t stored;    /* array child: the store has a record of its own */
    uint8_t gone;      /* being let go by the retention (retention.h), with its children */
    /* A node of a multi-node job stopped because another node's attempt was interrupted
     * (engine/attempt.c): its own attempt ends at no cost, back to RUNNABLE.  Stored with its
     * state, for a server that stops again before that attempt ends. */
    uint8_t node_interrupted : 1;
    /* Times the current attempt's assignment went again, its agent not having received it
     * (api/agent_proto.c reconcile); 0 at each start.  Beside a flag: a job's 256 bytes are
     * full. */
    uint8_t assign_resends : 7;
    uint16_t n_attempts;
    uint16_t n_free_attempts; /* attempts a clean server stop interrupted: not counted */
    /* jobName's first bytes lower-cased, NUL-padded (JOB_NAME_HEAD), kept where the scan of a
     * queue reads anyway: ListJobs's JOB_NAME filter turns most jobs down without reading their
     * spec (in what would be padding). */
    char name_head[JOB_NAME_HEAD];
    char *reason;      /* statusReason */
    char *stop_reason; /* reason given to CancelJob/TerminateJob */
    int64_t created_at, started_at, stopped_at;
    int64_t runnable_at; /* epoch ms it last became RUNNABLE (at load: jobs_store.c) */
    json_t *attempts;  /* finished attempts, NULL until the first */
    /* The current attempt, while STARTING or RUNNING. */
    struct instance *inst;
    char *inst_id;
    char *ce_name;
    char *log_stream;
    char *mem_note;    /* how the instance of the latest attempt enforced memory limits */
    char *executor;    /* the executor of the latest attempt's instance ("process", ...) */
    int64_t attempt_started_at;
    int64_t assign_sent_at; /* monotonic ms the assignment left in an answer; 0 before */
    /* Dependencies: how many are unmet, and who waits for this job. */
    int deps_pending;
    /* Its capacity is the power of two at or above n (jobs.c add_dependent). */
    uint32_t n_dependents;
    job **dependents;
    /* Links in the queue's RUNNABLE list, the instance's job list and the dirty list. */
    job *rq_prev, *rq_next;
    job *inst_prev, *inst_next;
    job *dirty_next;
};

/* An array child's (a node's) index, -1 for any other job: the children are made in one block
 * (jobs__make_children), so the index is where a child stands in it. */
static inline int32_t job_index(const job *j)
{
    return j->parent ? (int32_t)(j - j->parent->children[0]) : -1;
}

/* The job's full id, e.g. "UUID" or "UUID:3" (borrowed). */
static inline const char *job_id(const job *j)
{
    return j->id;
}
#endif
