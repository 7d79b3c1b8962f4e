/* agent — `barge agent`, the program that runs on an instance: it registers with the server,
 * takes assignments, runs them through an executor, reports, and ships their logs.  It speaks
 * only the protocol in docs/agent-protocol.md. */
#ifndef BARGE_AGENT_H
#define BARGE_AGENT_H

int agent_main(int argc, char **argv);
#endif
