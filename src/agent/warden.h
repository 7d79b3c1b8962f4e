/* warden — what an agent's attempts leave when the agent dies abruptly.
 *
 * A parent-death signal ends a process-executor attempt's first process with its agent, but
 * not what that process started, nor a container (runc's processes are not the agent's
 * children), and the kernel gives nothing else to a `kill -9`.  Left alone they would run on
 * beside the attempt's retry until another agent on the host swept the dead agent's cgroups.
 * So every agent with cgroups starts a warden: a small process of its own (the same program,
 * started as `barge-warden`) that holds the read end of a pipe whose write end only the agent
 * holds.  When the agent ends, however it ends, the pipe reads end of file and the warden kills
 * everything in the agent's cgroups (its attempts, their descendants, their containers) and
 * removes them.  After a clean stop the agent has removed them already and the warden finds
 * nothing.  Without cgroups there is nothing to find the processes by, and no warden. */
#ifndef BARGE_WARDEN_H
#define BARGE_WARDEN_H

struct cgroup_host;

/* Starts the warden of this agent, whose attempts' cgroups are below h: 0, or -1 after logging
 * why not.  Called before the agent starts its threads; the pipe's write end stays open, and
 * unseen by the agent's children (close-on-exec), until the agent exits. */
int warden_start(const struct cgroup_host *h);
/* Every second, on the main thread: a warden that has ended (killed by someone) is said to
 * and replaced. */
void warden_check(void);
/* The warden's own program: argv is {"barge-warden", AGENT_PID, MODE, DIR}, the pipe is
 * descriptor 3. */
int warden_main(int argc, char **argv);
#endif
