/* agent_clock — how far each agent's clock is from this server's, as its requests tell it.
 *
 * Every agent request carries sentAt, the agent's clock as it left (docs/agent-protocol.md);
 * the server's clock when it is handled, less sentAt, is the difference between the two clocks
 * plus the time the request took on the way, which is never negative and is sometimes seconds
 * (a server busy with a burst, a request tried at a standby first, a log upload stored and sent
 * again).  Taken alone, each request's figure would move the times it reports by its own delay:
 * a delayed log upload's lines would sort after the next upload's.  So the difference is the
 * smallest figure of the instance's recent requests (the last 30 to 60 seconds), the one that
 * spent least on the way, as NTP keeps its least-delayed samples; a clock that is set right
 * (or wrong) is followed within a minute.
 *
 * Guarded by one mutex: the core thread handles exchanges, the log threads log uploads. */
#ifndef BARGE_AGENT_CLOCK_H
#define BARGE_AGENT_CLOCK_H
#include <stdint.h>

/* Instance id's request, sent at sent_at by its clock, handled at now by this server's (both
 * epoch ms): how far the instance's clock is behind (negative: ahead), by the requests so far. */
int64_t agent_clock_offset(const char *id, int64_t sent_at, int64_t now);
/* The instance is gone (its credential revoked): its figures go too. */
void agent_clock_forget(const char *id);
/* Forgets every instance (at stop). */
void agent_clock_free(void);

#endif
