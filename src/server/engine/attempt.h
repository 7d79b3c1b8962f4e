/* attempt — the one owner of attempts: the link between a job and the instance that runs it.
 *
 * An attempt starts when the scheduler places a job on an instance (STARTING), runs when the
 * agent reports it (RUNNING), and ends once: with the agent's exit report, a failure to start,
 * the loss of its instance, or a kill.  Its end is recorded in the job's attempts[] and decides
 * the job's next status (SUCCEEDED, FAILED, or RUNNABLE again as its retry strategy says).
 * Nothing else starts, ends or moves an attempt (the instance's outbox and the agent protocol's
 * reconciliation only note when an assignment left and when the agent last listed it).
 * Everything here runs on the core thread. */
#ifndef BARGE_ATTEMPT_H
#define BARGE_ATTEMPT_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "server/model/instance.h"
#include "server/model/job.h"
#include "server/model/usage.h" /* ATTEMPT_BARGE */

struct state;

/* The executor an instance that does not say runs (agents before executors were named). */
#define EXECUTOR_PROCESS "process"

/* The attempt's outcome, as the agent (or the loss of its instance) reports it. */
typedef struct attempt_end {
    int has_exit_code;
    int exit_code;
    const char *status_reason; /* e.g. "Essential container in task exited" */
    const char *reason;        /* container reason, e.g. the OOM message; may be NULL */
    int uncharged; /* an operator's clean stop interrupted it: recorded, not counted, requeued */
    int killed;    /* the agent stopped it (an order, a timeout, its own stop), rather than it
                    * ending by itself */
    int timed_out; /* its attemptDurationSeconds ran out: it failed, whatever its exit code */
    /* What the attempt used, as its agent measured it (has_usage): CPU time, and the peak of
     * its memory (0: not known). */
    int has_usage;
    double cpu_seconds;
    long long max_memory_bytes;
} attempt_end;

/* The ARN of the ECS task AWS Batch would have run j's current (or last) attempt as (arn.h), or
 * NULL when it has none or its environment is gone.  Fresh. */
json_t *attempt_task_arn(struct state *st, const job *j);
/* Starts j's next attempt on in: STARTING, and its assignment in the instance's outbox. */
void attempt_start(struct state *st, instance *in, job *j);
/* A STARTING attempt's assignment, which its agent did not receive (an answer lost to the
 * network), goes in its instance's outbox again; an agent that holds the attempt already
 * ignores it, as after a restart.  Counted in j->assign_resends. */
void attempt_assign_again(job *j);
/* The agent reports the attempt running (at: the agent's clock, epoch ms). */
void attempt_running(struct state *st, job *j, int64_t at);
/* Ends j's current attempt. */
void attempt_finish(struct state *st, job *j, const attempt_end *e, int64_t at);
/* Asks the instance to stop j's current attempt (or ends it here when no instance holds it). */
void attempt_kill(struct state *st, job *j, const char *reason);
/* Every attempt on in ends as its host lost (the instance is gone). */
void attempt_end_all_lost(struct state *st, instance *in);

/* CancelJob and TerminateJob: waiting jobs fail through the lifecycle; with terminate, started
 * attempts are stopped as well.  An array's children are cancelled with it. */
void attempt_cancel(struct state *st, job *j, const char *reason, int terminate);
/* DeleteJobQueue: AWS terminates every job of a deleted queue that has not finished. */
void attempt_cancel_queue(struct state *st, const char *queue);

/* After the state is loaded: each job the store says is STARTING or RUNNING goes back on its
 * instance when the fleet still has it (a reload after a failed commit), or its attempt ends as
 * its host lost (the server restarted; after a clean stop it costs the job no attempt). */
void attempt_recover(struct state *st);

/* Jobs' roles (job definitions' jobRoleArn): what the server wires in at start-up from the
 * API's credentials module, which the engine does not know.  Without hooks a role is passed on
 * and nothing is revoked. */
typedef struct attempt_role_hooks {
    /* Whether jobs may assume role_arn; else 0 and why, as the attempt's container reason. */
    int (*usable)(const char *role_arn, char *why, size_t len);
    /* The attempt (job_id, attempt) has ended: its role's credentials stop working (and leave
     * the store, in the batch that ends it). */
    void (*ended)(struct state *st, const char *job_id, int attempt);
    /* Whether --roles names role_arn (an instance role is assumed only then). */
    int (*listed)(const char *role_arn);
} attempt_role_hooks;
void attempt_set_role_hooks(const attempt_role_hooks *h);

/* The role j's attempt on in acts as, in out (at least ATTEMPT_ROLE_MAX bytes), or NULL: its
 * container's jobRoleArn; or else, when --roles names it, the role of the instance profile in
 * was launched with (its environment's computeResources.instanceRole then), as a container on
 * AWS without a task role gets its instance's credentials.  *by_instance says which. */
#define ATTEMPT_ROLE_MAX 2048
/* The role an instance profile (a compute environment's instanceRole) holds, as an ARN in out
 * (at least ATTEMPT_ROLE_MAX bytes), or NULL: a profile named by name or by ARN holds the role
 * of its own name; a role's ARN given instead is taken as it is. */
const char *attempt_profile_role(const char *profile, char *out);
const char *attempt_role(const job *j, const instance *in, char *out, int *by_instance);

/* AWS's statusReason for an attempt whose host went away: "Host EC2 (instance ID) terminated." */
void attempt_host_lost(char *out, size_t len, const char *instance_id);
#endif
