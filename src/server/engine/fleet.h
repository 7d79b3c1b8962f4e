/* fleet — what happens to instances: placement on them, their loss, their housekeeping.
 *
 * The records are the model's (model/instance.h); launching is the providers' (provider_local.h,
 * provider_exec.h); the agent protocol is the API's (api/agent_proto.c).  Everything here runs
 * on the core thread. */
#ifndef BARGE_FLEET_H
#define BARGE_FLEET_H
#include "server/model/instance.h"
#include "server/model/job.h"
#include "server/model/resource.h"

struct state;

/* Protocol timings (docs/agent-protocol.md). */
#define FLEET_POLL_SECONDS 20
#define FLEET_HEARTBEAT_SECONDS 5
#define FLEET_LOST_AFTER_SECONDS 30
#define FLEET_REGISTER_WITHIN_SECONDS 30

/* Arranges capacity for j in ce, a MANAGED environment, through the provider that serves it (the
 * exec provider's commands, or the local provider); 1 when capacity is on its way. */
int fleet_provide(struct state *st, ce_rec *ce, const job *j);
/* The registered instance of compute environment ce that j fits best (the busiest that still
 * has room, so that idle ones can be let go), or NULL.  With with_reserved, room promised to
 * other jobs in this pass (instance_reserve) counts as taken. */
instance *fleet_fit(struct state *st, const char *ce, const job *j, int with_reserved);
/* An instance that is gone: its attempts end as AWS reports a terminated host, its parked poll
 * is refused, a local agent is stopped. */
void fleet_lose(struct state *st, instance *in, const char *why);
/* The same for an instance an operator ends (terminated, revoked, its Spot capacity
 * reclaimed): an agent still there has run its attempts until now, not until it was last
 * heard from, as a lost one's are counted. */
void fleet_end(struct state *st, instance *in, const char *why);
/* Takes a Spot instance back, as EC2 reclaims Spot capacity: its attempts end as a lost host's
 * ("Host EC2 (instance ID) terminated.").  -1 when its environment is not SPOT. */
int fleet_reclaim(struct state *st, instance *in);
/* After the batch's scheduling pass: answers the exchanges that asked not to wait (poll_now),
 * each with what the pass placed on its instance. */
void fleet_answer_now(struct state *st);
/* At most this many launches a tick for one environment's minvCpus or desiredvCpus: a large
 * minimum fills over a few seconds rather than in one burst of agents. */
#define FLEET_GROW_PER_TICK 4

/* Launches what MANAGED environments lack of the capacity they keep: minvCpus, and
 * desiredvCpus while ENABLED (instances still starting count).  Runs every second, and when an
 * environment settles after a create or an update. */
void fleet_keep_capacity(struct state *st);
/* desiredvCpus was raised by hand: ce's idle instances count as idle from now, so that the
 * capacity asked for is kept for --idle-seconds, the ones already there included, rather than
 * the warm ones going as the new ones start. */
void fleet_hold_idle(struct state *st, const char *ce);
/* Runs every second: lost instances, expired polls, the local provider's housekeeping. */
void fleet_tick(struct state *st);
/* At server stop: answers parked polls; with --stop-local-agents, stops the agents this server
 * launched (by default they carry on, and the next start adopts them). */
void fleet_stop(struct state *st);
#endif
