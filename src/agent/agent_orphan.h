/* agent_orphan — an agent whose server stays away (docs/agent-protocol.md, "When the server is
 * away").
 *
 * While its server cannot be reached (stopped, upgraded, restarting, cut off) an agent keeps
 * running what it holds and keeps the reports and log lines for when the server answers again.
 * After --server-lost-seconds without an answer it stops counting on that: its attempts still
 * run to their end, but their output from then on is written to WORK_DIR/undelivered/logs.jsonl
 * instead of memory (a chatty job must not block on a full queue), and once nothing runs the
 * agent exits, writing what it could not deliver (end reports, queued lines) to
 * WORK_DIR/undelivered/ for the operator.  A server that answers before then gets the spooled
 * lines after all: they go back into the queue, in order. */
#ifndef BARGE_AGENT_ORPHAN_H
#define BARGE_AGENT_ORPHAN_H
#include <stddef.h>
#include <stdint.h>

struct agent;

/* The default of --server-lost-seconds. */
#define AGENT_ORPHAN_DEFAULT_SECONDS 900

/* Every second, on the main thread: starts the orphan's course once the server has been away
 * too long, and asks for the stop once its attempts are done. */
void agent_orphan_check(struct agent *ag);
/* After the agent's threads have stopped: what was not delivered is written down. */
void agent_orphan_keep(struct agent *ag);
#endif
