/* agent_exchange — the agent's two protocol loops (docs/agent-protocol.md), each the body of a
 * thread that takes the agent (struct agent) as its argument.
 *
 * The poller registers, then keeps one waiting exchange open and hands what comes back
 * (assignments, kill orders, a shutdown) to the supervisor.  The sender, on a second connection
 * so that a report never waits for a poll to return, ships queued log lines, then the reports
 * that follow them and heartbeats.  Both end once the agent stops (the sender after its last
 * delivery attempt). */
#ifndef BARGE_AGENT_EXCHANGE_H
#define BARGE_AGENT_EXCHANGE_H
#include <jansson.h>

struct agent;

/* The longest poll and heartbeat period the agent takes from its server, in seconds. */
#define AGENT_PERIOD_MAX_SECONDS 3600

void *agent_exchange_poller(void *ag);
void *agent_exchange_sender(void *ag);

/* What the poller and the sender do with the server's answers, apart from the wire so that
 * tests and the fuzzing harness can feed answers to an agent that talks to no server.
 *
 * A registration's answer (HTTP 200): 0 when it names the instance and its credential, which
 * the agent takes (a new registration: nothing held before it counts), or -1. */
int agent_exchange_registered(struct agent *ag, json_t *answer);
/* An exchange's answer (HTTP 200) for registration gen: its next credential, its assignments
 * (held, then failed at once or handed to the executor), its kill orders and its shutdown.
 * Work for an ended registration is not taken: the server has forgotten it. */
void agent_exchange_answer(struct agent *ag, json_t *answer, unsigned gen);
#endif
