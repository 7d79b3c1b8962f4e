/* provider_exec — the exec provider: MANAGED compute environments whose instances are machines
 * barge does not own, launched and terminated by commands the operator configures
 * (`barge server --provider-commands FILE`): ssh to a pool of hosts, a cloud CLI, anything.
 *
 * The file is a JSON object mapping a compute environment's name, or "*" for every MANAGED one
 * not named, to {"launch": "shell command", "terminate": "shell command"} (terminate may be left
 * out).  When the scheduler needs capacity in such an environment, the instance type is chosen
 * as the local provider chooses it (provider_local_choose), the instance's record is made, and
 * the launch command runs with /bin/sh -c, in a session of its own, with BARGE_INSTANCE_ID,
 * BARGE_INSTANCE_TYPE, BARGE_VCPUS, BARGE_MEMORY_MIB, BARGE_GPUS, BARGE_COMPUTE_ENVIRONMENT,
 * BARGE_SERVER_URL and BARGE_AGENT_TOKEN (a join token for that instance alone) in its
 * environment.  Its job is to start `barge agent --instance-id $BARGE_INSTANCE_ID ...`
 * somewhere; it may return once it has, or stay in the foreground as long as the agent runs.
 * The instance must register within FLEET_REGISTER_WITHIN_SECONDS or it is lost; a launch
 * command that exits non-zero is a failed launch; either way launches for the environment back
 * off as the local provider's do.  When an instance goes (let go when idle, lost, drained,
 * terminated by an operator) the terminate command runs with the same variables.
 *
 * Commands never block the core thread: they are spawned, and reaped in the fleet's tick.  Their
 * output goes to DATA_DIR/provider-exec/, and the last line of a failed command's output to the
 * server's log.  Everything here runs on the core thread but provider_exec_read. */
#ifndef BARGE_PROVIDER_EXEC_H
#define BARGE_PROVIDER_EXEC_H
#include <jansson.h>

#include "server/model/instance.h"
#include "server/model/job.h"
#include "server/model/resource.h"

struct state;

/* Reads and checks the commands file into a table for provider_exec_install; NULL with *err
 * (allocated) saying what is wrong.  Any thread. */
json_t *provider_exec_read(const char *path, char **err);
/* Puts a table from provider_exec_read in force (taking it), or none with NULL.  Instances
 * already launched keep the terminate command they were launched with. */
void provider_exec_install(json_t *table);
/* Whether the commands serve compute environment ce (a MANAGED one). */
int provider_exec_serves(const ce_rec *ce);
/* As provider_local_provide, for an environment the commands serve. */
int provider_exec_provide(struct state *st, ce_rec *ce, const job *j);
/* As provider_local_grow, for an environment the commands serve. */
int provider_exec_grow(struct state *st, ce_rec *ce, int mvcpus);
/* An instance of the exec provider was lost or let go: back off if it never registered, stop
 * its launch command if that still runs, run its terminate command. */
void provider_exec_gone(struct state *st, instance *in);
/* Every second: commands that ended, and drained instances whose agent was told to stop (they
 * are terminated and leave the fleet). */
void provider_exec_tick(struct state *st);
/* At start, after loading: the exec instances of the last server that its store knows are this
 * one's, to terminate with their commands when they go. */
void provider_exec_adopt(struct state *st);
/* Why the last launch for ce failed, or NULL (for explanations). */
const char *provider_exec_trouble(const char *ce);
#endif
