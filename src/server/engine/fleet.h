/* fleet — the instances that run jobs, and the local provider that launches them.
 *
 * An instance is a `barge agent` that registered for a compute environment.  For a MANAGED
 * environment the local provider starts agents on this host as the scheduler asks for capacity,
 * within maxvCpus, sized from the instance catalogue, and lets them go when they have been idle;
 * UNMANAGED environments are served by agents operators start themselves.  Everything here runs
 * on the core thread. */
#ifndef BARGE_FLEET_H
#define BARGE_FLEET_H
#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#include "server/api/api.h"
#include "common/dict.h"
#include "server/model/job.h"

struct state;
struct core_call;

typedef struct instance {
    char *id, *ce, *type, *hostname, *executor;
    char *mem_note; /* how memory limits are enforced, or why they are not */
    int mvcpus, memory_mib, gpus;
    int used_mvcpus, used_memory, used_gpus;
    int reserved_mvcpus, reserved_memory, reserved_gpus; /* promised to waiting jobs, per pass */
    job *jobs;
    int n_jobs;
    int64_t launched_at, last_seen, idle_since; /* monotonic ms */
    struct core_call *poll; /* a parked long poll */
    int64_t poll_deadline;
    json_t *assign, *kill;  /* what the next answer carries */
    dict strays; /* attempts its agent holds that this server no longer expects (fleet.c) */
    int registered, draining, local;
    pid_t pid;
    struct instance *ce_next;
} instance;

typedef struct fleet fleet;
fleet *fleet_new(void);
void fleet_free(fleet *f);

/* The agent protocol (docs/agent-protocol.md). */
int fleet_register(api_ctx *c, json_t *req, json_t **resp);
int fleet_exchange(api_ctx *c, json_t *req, json_t **resp);

/* Scheduler support. */
instance *fleet_fit(struct state *st, json_t *ce, const job *j); /* a registered instance */
/* Arranges capacity for j in ce (a launching instance that will fit it, or a new launch);
 * returns 1 when capacity is on its way. */
int fleet_provide(struct state *st, json_t *ce, const job *j);
void fleet_pass_begin(struct state *st);
void fleet_assign(struct state *st, instance *in, job *j);
void fleet_release(struct state *st, job *j);
void fleet_kill(struct state *st, job *j, const char *reason);
/* Loading the state again after a failed commit (state_reload): the fleet leaves the old state
 * without its jobs, and each job the store says is STARTING or RUNNING on one of its instances
 * is attached to it again (1), or is not (0: the instance is gone). */
fleet *fleet_detach(struct state *st);
int fleet_reattach(struct state *st, job *j);
/* Then the parked polls carry what the instances are to do again. */
void fleet_resume(struct state *st);
/* Why j (RUNNABLE) is not placed, in concrete terms (fresh string). */
char *fleet_explain(struct state *st, job *j);
const char *fleet_cgroups_note(struct state *st, job *j);

/* Runs every second on the core thread: lost instances, expired polls, idle instances. */
void fleet_tick(struct state *st);
/* At server stop: answers parked polls and stops the agents this server launched. */
void fleet_stop(struct state *st);
#endif
