/* tool — runs the helper programs the agent drives (skopeo, umoci, runc) with a deadline.
 *
 * A tool runs in its own process group, with default signal handling whatever the agent's
 * threads block, standard input and output on /dev/null, and its standard error kept to say
 * why it failed.  Its pid is claimed from the reaper (reaper.h) as it starts, so the executor's
 * supervisor, which reaps every child, leaves its exit status to the caller. */
#ifndef BARGE_TOOL_H
#define BARGE_TOOL_H
#include <stdatomic.h>
#include <stddef.h>

#include "common/mem.h"

/* Runs argv (argv[0] looked up in PATH) and waits for it, for timeout_s seconds at most (then
 * its whole process group is killed).  0 when it exited with status 0; -1 otherwise, with its
 * standard error (up to a bound) and a line on how it ended in err. */
int tool_run(char *const argv[], int timeout_s, buf *err);
/* tool_run, also ended (its process group killed, within a tenth of a second) once *stop is
 * set, and not started when it already is; the error then says so. */
int tool_run_stoppable(char *const argv[], int timeout_s, const atomic_int *stop, buf *err);
/* One line of why a tool failed, from its standard error err: the last logrus msg="..."
 * (skopeo's and runc's fatal message), else the last non-empty line; prefix (e.g.
 * "CannotPullContainerError: ") before it, and what (NULL or a subject) before the message. */
void tool_reason(const char *prefix, const char *what, const char *err, char *reason,
                 size_t len);
#endif
