/* resource — compute environments and job queues as typed records.
 *
 * The registries (state.h) keep each environment and queue as its AWS description, which is what
 * Describe returns.  Everything that decides something (is this queue usable, which environments
 * does it draw on, in what order) reads these records instead: they are parsed once, when
 * reg_put stores a description or the store is loaded, and reg_del marks them deleted (through
 * the registries' fill and forget hooks, which model.c sets to res_fill and res_forget), so they
 * cannot fall out of step with the registry.
 *
 * Records are never freed before model_free.  A ce_rec is allocated once per name and keeps its
 * address through deletion and re-creation, so a queue's ces[] pointers never dangle and need no
 * re-resolution when an environment changes; an order entry that names no environment gets a
 * record with live = 0, which users skip.  A jq_rec is likewise stable per name. */
#ifndef BARGE_RESOURCE_H
#define BARGE_RESOURCE_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "server/model/registry.h"
#include "server/model/state.h"

typedef enum res_state { RES_ENABLED, RES_DISABLED } res_state;
typedef enum res_status {
    RES_CREATING,
    RES_UPDATING,
    RES_VALID,
    RES_INVALID,
    RES_DELETING,
    RES_DELETED
} res_status;

typedef struct ce_rec {
    const char *name;
    res_state state;
    res_status status;
    int managed;                /* type MANAGED; 0 for UNMANAGED */
    int fargate;                /* computeResources.type FARGATE or FARGATE_SPOT */
    int spot;                   /* computeResources.type SPOT or FARGATE_SPOT */
    int overshoot; /* allocationStrategy BEST_FIT_PROGRESSIVE or a SPOT one: maxvCpus may be
                    * exceeded by one instance, as AWS allows them */
    int min_mvcpus, max_mvcpus; /* computeResources.minvCpus/maxvCpus x 1000 (milli-vCPUs); 0
                                 * when absent; INT_MAX when larger */
    int desired_mvcpus;         /* computeResources.desiredvCpus x 1000: the capacity the
                                 * fleet keeps while ENABLED, lowered as idle instances go */
    const char **instance_types; /* computeResources.instanceTypes */
    size_t n_instance_types;
    int live; /* in the registry now (not deleted) */
} ce_rec;

typedef struct jq_rec {
    const char *name;
    res_state state;
    res_status status;
    int priority;
    /* computeEnvironmentOrder, sorted by order; each entry resolved once (ARN or name -> the
     * record). */
    ce_rec **ces;
    size_t n_ces;
    struct jq_rt *jobs; /* the queue's jobs (jobs.h), found once: one queue, not two joined by name */
    char *policy;       /* the name of its scheduling policy (fair share), or NULL */
    int live;
} jq_rec;

/* The description members the records are parsed from. */
#define RES_M_STATE "state"
#define RES_M_STATUS "status"
#define RES_M_STATUS_REASON "statusReason"
/* A queue's record keeps, under its own member, the submit number its jobs begin at (jobs.h,
 * jq_rt's first_seq); DescribeJobQueues puts the queue's counts in that member instead. */
#define RES_M_BARGE "barge"
#define RES_M_FIRST_SEQ "firstSeq"
/* The statusReasons a settle writes, as AWS words them. */
#define RES_CE_HEALTHY "ComputeEnvironment Healthy"
#define RES_JQ_HEALTHY "JobQueue Healthy"
#define RES_JQ_DELETED "JobQueue Deleted"
#define RES_CE_DELETED "ComputeEnvironment Deleted" /* barge's words, in the queue's pattern */

int res_is_fargate_type(const char *type); /* "FARGATE" / "FARGATE_SPOT" */
int res_ce_usable(const ce_rec *ce);        /* ENABLED and (VALID or UPDATING) */
int res_jq_usable(const jq_rec *q);         /* ENABLED and neither DELETING nor DELETED */
/* Neither DELETING nor DELETED: its jobs are placed.  A DISABLED queue's are too, as on AWS
 * ("new jobs can't be added to the queue, but jobs already in the queue can finish"), so that
 * disabling a queue before deleting it lets it drain. */
int res_jq_places(const jq_rec *q);
/* The platform a queue's environments give (a queue holds one kind): 1 FARGATE, 0 EC2, -1 none
 * live. */
int res_jq_fargate(const jq_rec *q);
ce_rec *res_ce(struct state *st, const char *name); /* live record, or NULL */
/* The environment's computeResources.instanceRole (fresh), or NULL: what its instances are
 * launched with (instance.h, profile). */
char *res_ce_profile(struct state *st, const char *name);
jq_rec *res_jq(struct state *st, const char *name); /* live record, or NULL */
/* Live queues by priority, highest first, then by name; re-sorted only when a queue changed.
 * The array belongs to the state and is valid until the next change to a queue. */
jq_rec *const *res_queues_by_priority(struct state *st, size_t *n);
const char *res_status_name(res_status s);
const char *res_state_name(res_state s);

/* Sets a description's status and statusReason, the pair every transition changes. */
void res_set_status(json_t *desc, res_status s, const char *reason);

/* Completes the transition a create, update or delete started on the environment (r = &st->ce)
 * or queue (r = &st->jq) named name: CREATING and UPDATING become VALID with the kind's healthy
 * statusReason, DELETING leaves the registry.  Any other status, or an absent name, is left
 * alone, so a late or repeated call is harmless. */
void res_settle(struct state *st, registry *r, const char *name);

/* The ce and jq registries' hooks (model.c installs them).  res_fill parses desc, the
 * description of key in r, into its record.  A description missing
 * a member the records need, or holding one of the wrong type, leaves the record untouched: -1,
 * with *why a fresh sentence naming the member. */
int res_fill(struct state *st, registry *r, const char *key, json_t *desc, char **why);
void res_forget(struct state *st, registry *r, const char *key); /* key was deleted */
void res_free(struct state *st);
#endif
