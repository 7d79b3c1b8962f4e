/* provider_local — the local provider: MANAGED compute environments served by `barge agent`
 * processes this server starts on its own host.
 *
 * It launches an agent as the scheduler asks for capacity, within maxvCpus, sized from the
 * instance catalogue (a Fargate environment gets a stand-in just big enough), backs off when
 * launched agents die before registering, and reaps the agents' exits (when an idle instance
 * goes is the fleet's decision: fleet.c).  The agents reach the server through the fleet's URL
 * (fleet_set_url), exactly as agents on other machines do.  Everything here runs on the core thread. */
#ifndef BARGE_PROVIDER_LOCAL_H
#define BARGE_PROVIDER_LOCAL_H
#include "common/catalog.h"
#include "server/model/instance.h"
#include "server/model/job.h"
#include "server/model/resource.h"

struct state;

/* Arranges capacity for j in ce (a launching instance that will fit it, or a new launch);
 * returns 1 when capacity is on its way. */
int provider_local_provide(struct state *st, ce_rec *ce, const job *j);
/* The instance type a launch for j in ce gets: the largest the catalogue has within what is
 * left of maxvCpus, or (BEST_FIT_PROGRESSIVE, SPOT) the smallest that fits j when none does; a
 * Fargate environment's stand-in is written into *fargate.  NULL when none can be launched.
 * The exec provider sizes its instances with it too (provider_exec.h). */
const catalog_type *provider_local_choose(struct state *st, const ce_rec *ce, const job *j,
                                          catalog_type *fargate);
/* The instance type a launch that adds mvcpus to ce's capacity gets (to keep its minvCpus or
 * reach its desiredvCpus): the smallest that covers them within maxvCpus, else the largest
 * there is room for; NULL when none (a Fargate environment keeps no minimum). */
const catalog_type *provider_local_choose_vcpus(struct state *st, const ce_rec *ce, int mvcpus);
/* The most local instances one environment's minvCpus or desiredvCpus starts (they all run on
 * this host); jobs that need more capacity still launch it, within maxvCpus. */
#define PROVIDER_LOCAL_KEEP_MAX 16
/* Launches one instance toward mvcpus more in ce; returns the vCPUs (milli) it has, 0 when none
 * could be launched.  The caller has asked provider_may_launch. */
int provider_local_grow(struct state *st, ce_rec *ce, int mvcpus);
/* Whether a launch for ce may be made now: no back-off after failed launches, and the listener
 * has bound (agents know where to register). */
int provider_may_launch(struct state *st, const ce_rec *ce);
/* What both providers do before launching for j in ce: 1 when an instance still starting will
 * take it (reserved there), -1 when no launch may be made now (a back-off after failed launches,
 * or agents would not yet know where to register), 0 when one may. */
int provider_before_launch(struct state *st, const ce_rec *ce, const job *j);
/* The largest instance the provider could launch for ce (for explanations). */
void provider_local_largest(const ce_rec *ce, int *vcpus, int *memory_mib, int *gpus);
/* An instance that registered and lasted this long is a launch that worked. */
#define PROVIDER_LASTING_MS 30000
/* A local instance was lost: back off if it never registered or was lost soon after, stop its
 * agent. */
void provider_local_lost(struct state *st, instance *in);
/* An instance registered: launches for its environment work again (the back-off is the fleet's,
 * shared with the exec provider, so this serves instances of both). */
void provider_local_registered(struct state *st, instance *in);
/* Every second: launch back-offs that ran out, exited agents (an instance that
 * was let go is removed; one whose agent died gets gone_why, for the fleet to declare it lost). */
void provider_local_tick(struct state *st);
/* At start, after loading: the local instances of the last server whose agents still run are
 * adopted (same pid, same start time); the others are found gone, for the fleet to declare them
 * lost. */
void provider_local_adopt(struct state *st);
/* At server stop, with --stop-local-agents: the agents this server launched are stopped. */
void provider_local_stop(struct state *st);
#endif
