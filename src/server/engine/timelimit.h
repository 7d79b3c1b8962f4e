/* timelimit — job queues' jobStateTimeLimitActions: a job at the head of its queue that has
 * waited RUNNABLE for maxTimeSeconds with one of the reason codes an action names (explain.h)
 * is cancelled, with AWS's statusReason "Canceled by JobStateTimeLimit action due to reason:
 * CODE", so that the jobs behind it move up.
 *
 * The head is the first job of a first-in-first-out queue, and the first job of each share of a
 * fair-share queue (each share is a line of its own).  The clock of a head starts when it became
 * the head with that code, and starts again when either changes; the check runs every tick, so
 * the time is approximate to a second, as AWS says its is.  Core thread only. */
#ifndef BARGE_TIMELIMIT_H
#define BARGE_TIMELIMIT_H

struct state;

void timelimit_tick(struct state *st);
#endif
