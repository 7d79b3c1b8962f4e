/* remover — directory trees removed off the thread that lets go of them.
 *
 * An attempt's working directory, a container's layer and an evicted image are let go of by the
 * supervisor, whose one thread reads every attempt's output, enforces timeouts and kill orders
 * and starts attempts: a job that left 300,000 files held all of that up for seconds while they
 * were removed.  So a tree is first put out of the way (renamed into the trash directory, one
 * system call, or handed over already renamed), and one thread of the remover's removes it.
 * Without that thread (before remover_start, or in programs that never start it) trees are
 * removed where they are let go of, as before. */
#ifndef BARGE_AGENT_REMOVER_H
#define BARGE_AGENT_REMOVER_H

/* Starts the thread, with trash (made if need be) where trees are renamed to; what a stopped
 * or killed agent left there is removed first.  0, or -1 (then trees are removed in place). */
int remover_start(const char *trash);
/* Removes what is queued, then ends the thread. */
void remover_stop(void);

/* Removes the tree at path: renamed into the trash and removed by the thread, or here when it
 * cannot be renamed (another filesystem) or no thread runs. */
void remover_discard(const char *path);
/* The same for a tree already out of the way (its path, taken). */
void remover_queue(char *path);

#endif
