/* server_defaults — what a first start makes, so that a newcomer's first job is one command after
 * `barge server`: a compute environment `local` sized to this machine and a job queue `default`
 * in front of it (`barge run --image IMAGE -- COMMAND` submits there).  Made once, through the
 * same API calls a client would make, on a store that has no compute environment, no queue and
 * no record of having made them; deleting them later does not bring them back.
 * --no-default-queue skips it. */
#ifndef BARGE_SERVER_DEFAULTS_H
#define BARGE_SERVER_DEFAULTS_H

struct state;

#define SERVER_DEFAULT_CE "local"
#define SERVER_DEFAULT_QUEUE "default"

/* Call with the core running, before the listener opens.  0, or -1 after logging why. */
int server_defaults(struct state *st);
#endif
