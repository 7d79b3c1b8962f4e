/* drain — compute environments that shrink or go.  The instances an environment no longer needs
 * are drained: they take no new attempt, the attempts under way finish where they are, and then
 * the instances go (a local agent exits; a remote one is told to shut down and leaves the fleet
 * once it has fallen silent).  No attempt is ever stopped to make an environment smaller.
 *
 * - maxvCpus lowered below what the environment's instances have: instances are drained, those
 *   still starting, then the idle, then the least busy, until the ones left fit within the new
 *   maximum (with BEST_FIT_PROGRESSIVE and the SPOT strategies, until giving one more up would
 *   leave the environment below it, since those may exceed maxvCpus by one instance).
 * - DeleteComputeEnvironment: every instance is drained; the environment stays DELETING until
 *   the last one has gone, and then is DELETED.
 * - DISABLED: nothing is drained.  Placement stops (scheduler.c), the attempts under way go on,
 *   and idle instances go as usual, down to minvCpus (provider_local.c), as AWS scales a disabled
 *   environment down.
 *
 * Everything here runs on the core thread. */
#ifndef BARGE_DRAIN_H
#define BARGE_DRAIN_H
#include "server/model/resource.h"

struct state;
struct instance;

/* Why an instance drains, for `barge fleet` (instance.drain_why). */
/* (maxvCpus lowered, or an agent joined an environment its instances already fill) */
#define DRAIN_WHY_MAX_VCPUS "its compute environment's instances have more vCPUs than its maxvCpus"
#define DRAIN_WHY_DELETED "its compute environment is being deleted"
#define DRAIN_WHY_OPERATOR "an operator drains it"
#define DRAIN_WHY_AGENT_STOPPING "its agent is stopping"

/* Drains one instance for why (one of the above), unless it drains already: it takes no new
 * attempt, its agent is told to shut down once its attempts have ended, and the change is
 * written.  An operator's drain, an agent that is stopping, and the rules below use it. */
void drain_instance(struct state *st, struct instance *in, const char *why);
/* Applies the rules above to ce now (after an update or a delete, before the next placement). */
void drain_ce(struct state *st, ce_rec *ce);
/* Whether any instance, starting, running or draining, still belongs to the environment. */
int drain_ce_has_instances(struct state *st, const char *ce);
/* Every second (the server's tick): the rules for every environment; a DELETING environment
 * whose instances have all gone becomes DELETED; an instance whose environment is gone is
 * drained; a drained remote instance silent for two heartbeat periods leaves the fleet. */
void drain_tick(struct state *st);
#endif
