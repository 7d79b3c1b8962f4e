/* instance — the instances that run jobs, as the server holds them: the fleet.
 *
 * An instance is a `barge agent` that registered (or, launched by the local provider, is about
 * to register) for a compute environment.  This module owns the records: their capacity and
 * what it is used for, the jobs placed on them, and what the next answer to their agent carries
 * (the outbox).  Who launches them and when they are lost is the engine's business
 * (engine/fleet.c, engine/provider_local.c); the agent protocol is the API's (api/agent_proto.c).
 * Everything here runs on the core thread. */
#ifndef BARGE_INSTANCE_H
#define BARGE_INSTANCE_H
#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/dict.h"
#include "common/util.h"
#include "server/model/job.h"

struct state;
struct core_call;

typedef struct instance {
    char *id, *type, *hostname, *executor;
    const char *ce; /* interned (instance_ce_name): compared by pointer */
    char *address; /* the IPv4 address its agent registered from, or NULL (api/agent_proto.c) */
    char *mem_note; /* how memory limits are enforced, or why they are not */
    int mvcpus, memory_mib, gpus;
    int used_mvcpus, used_memory, used_gpus;
    int reserved_mvcpus, reserved_memory, reserved_gpus; /* promised to waiting jobs, per pass */
    job *jobs; /* the attempts placed on it, linked through job.inst_next */
    int n_jobs;
    int64_t launched_at, last_seen, idle_since; /* monotonic ms */
    int64_t registered_at; /* monotonic ms: when its agent last registered (0: not here) */
    struct core_call *poll; /* a parked long poll */
    int64_t poll_deadline;
    /* poll is an exchange that asked not to wait: answered after the batch's scheduling pass
     * (fleet_answer_now), with what the pass placed there. */
    int poll_now;
    json_t *assign, *kill;  /* what the next answer carries */
    dict strays; /* attempts its agent holds that this server no longer expects (stray) */
    dict pulls;  /* job id -> instance_pull: attempts whose image its agent pulls */
    int registered, draining, local;
    int silent; /* lost for want of a heartbeat (fleet_tick), not let go by anyone */
    /* Launched (and terminated) by the operator's commands: engine/provider_exec.c.  Like a
     * local one it is registered only by the agent it launched; unlike one it has no pid. */
    int exec;
    /* An exec instance's terminate command as configured at its launch (NULL: none), kept in
     * its record so that a restarted server still runs it when the instance goes. */
    char *terminate_cmd;
    /* Its environment's computeResources.instanceRole (an instance profile) as it was when the
     * instance was launched, kept in its record: an EC2 instance keeps the profile it was
     * launched with, whatever the environment says later (engine/attempt.c, attempt_role). */
    char *profile;
    /* Why it drains (engine/drain.h's words), or NULL; kept in its record, so that a restarted
     * server still tells its agent and `barge fleet` why. */
    char *drain_why;
    /* The SHA-256 of the clientToken its registration carried (has_client_token): a retry of
     * that registration gets the instance again, another registration of the id is refused. */
    unsigned char client_token[32];
    int has_client_token;
    pid_t pid;
    /* The local agent's start time (/proc/PID/stat), which tells it from a later process that
     * got the same pid; adopted: found running at start, a child of an earlier server (its
     * exit is watched through /proc, not waitpid). */
    unsigned long long pid_start;
    /* The pid view (util_pid_view) of the server that launched its agent: a server that sees
     * pids otherwise (on another host, as a new leader of a shared store may be) cannot look
     * for that pid, and knows the agent by its exchanges alone.  Empty: not noted. */
    char pid_view[UTIL_PID_VIEW_MAX];
    int adopted;
    /* Stopped by a clean stop of the server (--stop-local-agents), in its last transaction:
     * the attempts its agent ends for that stop, reported to the next server, were the
     * operator's stop and cost their jobs nothing (docs/decisions.md, "Restarts"). */
    int stopped_by_server;
    /* The store's record of it (model/instance_store.c): stored once written, dirty when it
     * no longer says what the record does.  recovered: read from the store at start, and its
     * agent has not been heard from since. */
    int stored, dirty, recovered;
    /* Set when the instance is found gone (its local agent exited): the fleet's next
     * housekeeping declares it lost, saying why. */
    char *gone_why;
} instance;

/* An attempt an agent holds that this server does not expect, and when it was last told to
 * kill it (api/agent_proto.c). */
typedef struct stray {
    char *key; /* "ATTEMPT JOBID" */
    int64_t first_seen; /* util_mono_ms() of the first listing */
    int64_t kill_sent;
    uint32_t seen; /* the reconciliation that last found it listed */
} stray;

/* An attempt whose agent said it must pull (and unpack) its image before it can start: its job
 * says so while it is STARTING (api/jobdesc.c), so that a pull that hangs is seen as one. */
typedef struct instance_pull {
    char *job_id; /* its key */
    int attempt;
    char *image;
    int64_t since; /* epoch ms */
} instance_pull;
void instance_pull_set(instance *in, const char *job_id, int attempt, const char *image,
                       int64_t since);
/* The pull of j's current attempt on in, or NULL. */
const instance_pull *instance_pull_of(const instance *in, const job *j);
/* The attempt runs or ended: its pull is over. */
void instance_pull_end(instance *in, const char *job_id);

/* Launches that failed in a row for one compute environment: the local provider backs off
 * instead of starting a doomed agent every second. */
typedef struct launch_trouble {
    char *ce;
    int failures;
    int64_t retry_at; /* monotonic ms */
} launch_trouble;

typedef struct fleet {
    dict instances; /* id -> instance */
    dict trouble;   /* compute environment name -> launch_trouble */
    uint32_t reconciliations;
    /* Local agents let go (lost instances) whose exit is still to be reaped. */
    pid_t *reap;
    size_t n_reap;
    /* Where agents reach this server; NULL until the listener has bound (fleet_set_url). */
    char *url;
    int64_t last_tick; /* monotonic ms of the fleet's last tick (engine/fleet.c), 0 before */
    /* Stored instances that left the fleet, whose records the next commit deletes. */
    char **removed;
    size_t n_removed;
    /* Instances whose exchange is answered after this batch's scheduling pass (poll_now). */
    size_t n_poll_now;
    /* Instances marked dirty (instance_mark_dirty): a commit with none writes no instance and
     * need not look at the fleet. */
    size_t n_dirty;
} fleet;

fleet *fleet_new(void);
void fleet_free(fleet *f);
/* The URL agents are given; the server sets it once it listens. */
void fleet_set_url(fleet *f, const char *url);

/* A new record with a fresh id (or the given one), entered in the fleet. */
instance *instance_new(fleet *f, const char *id, const char *ce);
/* The one copy of a compute environment's name that instances hold, so that a placement that
 * looks through a thousand instances compares pointers, not names.  Kept for the life of the
 * process (a name each environment ever made). */
const char *instance_ce_name(const char *ce);
instance *instance_find(fleet *f, const char *id);
/* Removes the instance from the fleet and frees it.  It must hold no job. */
void instance_remove(fleet *f, instance *in);
/* The instance's stored record is out of date: the next commit writes it. */
void instance_mark_dirty(fleet *f, instance *in);
/* An EC2-style instance id ("i-" and 17 hexadecimal digits), fresh. */
void instance_new_id(char out[20]);
/* The milli-vCPUs of every instance of a compute environment. */
int fleet_ce_mvcpus(fleet *f, const char *ce);
/* The milli-vCPUs of its instances that stay (not draining): its capacity as AWS's
 * desiredvCpus counts it. */
int fleet_ce_kept_mvcpus(fleet *f, const char *ce);

/* Capacity.  with_reserved counts what the current pass promised to waiting jobs. */
int instance_fits(const instance *in, const job *j, int with_reserved);
void instance_reserve(instance *in, const job *j);
/* Gives back what instance_reserve promised j: its attempt now holds the room itself. */
void instance_unreserve(instance *in, const job *j);
void fleet_clear_reservations(fleet *f);
/* Places j's attempt on in (j->inst = in) and accounts for what it uses; and the reverse.  An
 * attempt is on exactly one instance: attaching an attached job, or detaching from another
 * instance, breaks an invariant. */
void instance_attach(instance *in, job *j);
void instance_detach(instance *in, job *j);

/* The outbox: what the next answer to the agent carries. */
void instance_push_assign(instance *in, json_t *assignment);
void instance_push_kill(instance *in, const char *job_id, int attempt, const char *reason);
int instance_outbox_empty(const instance *in);
/* Takes the outbox out as an answer; the assignments in it count as sent from now on. */
json_t *instance_take_outbox(struct state *st, instance *in);
/* Answers a parked long poll with whatever is waiting (after the batch commits). */
void instance_wake(struct state *st, instance *in);
void instance_clear_strays(instance *in);

/* Loading the state again after a failed commit: the fleet leaves the old state without its
 * jobs (the engine attaches the jobs as stored again), and then the parked polls carry what the
 * instances are to do again. */
fleet *fleet_detach(struct state *st);
void fleet_resume(struct state *st);
#endif
