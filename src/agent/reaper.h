/* reaper — one place that collects the agent's dead children.
 *
 * The executor's supervisor reaps with waitpid(-1): the agent is a subreaper, so orphans of jobs
 * land on it and must not stay zombies.  Other threads start short-lived tools (skopeo, umoci)
 * and need their own children's exit status, which that waitpid(-1) would otherwise take.  So a
 * thread that starts a child claims its pid while holding the reaper (reaper_hold ... spawn ...
 * reaper_claim ... reaper_let_go), and waits for it with reaper_wait; when the supervisor reaps
 * a claimed pid it keeps the status for the claimant instead of dropping it as an orphan's.
 * Claiming under the hold closes the window in which a fast child could be reaped before it is
 * known. */
#ifndef BARGE_REAPER_H
#define BARGE_REAPER_H
#include <sys/types.h>

void reaper_hold(void);
void reaper_let_go(void);
/* Only between reaper_hold and reaper_let_go. */
void reaper_claim(pid_t pid);
/* waitpid(pid, status, flags) for a claimed pid, whoever reaped it: pid once it has ended (and
 * the claim is gone), 0 with WNOHANG while it runs, -1 on error. */
pid_t reaper_wait(pid_t pid, int *status, int flags);
/* For the supervisor: reaps every ended child; claimed ones are kept for their claimants, the
 * others are handed to fn with what they used (their own and their waited-for descendants'). */
struct rusage;
void reaper_collect(void (*fn)(void *ctx, pid_t pid, int status, const struct rusage *ru),
                    void *ctx);
#endif
