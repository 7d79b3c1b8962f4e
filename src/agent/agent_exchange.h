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

void *agent_exchange_poller(void *ag);
void *agent_exchange_sender(void *ag);
#endif
