/* cgroup_pids — the pids limit of the attempts the process executor runs.
 *
 * cgroup.c finds the hierarchy of the memory controller; the pids controller may live in another
 * one (a cgroup v1 or hybrid host mounts each controller on its own), so this module finds its
 * own: the v1 hierarchy whose mount options name "pids", or the unified v2 hierarchy when its
 * root lists "pids" in cgroup.controllers.  Nothing is assumed; where neither can be used the
 * attempt gets RLIMIT_NPROC instead (which the kernel does not enforce on root, and which counts
 * every process of the user; cgroup_pids_note says so). */
#ifndef BARGE_CGROUP_PIDS_H
#define BARGE_CGROUP_PIDS_H
#include <stddef.h>

/* Finds, from the texts of /proc/self/cgroup and /proc/self/mountinfo, the directory of this
 * process's cgroup in a v1 hierarchy that holds the pids controller: 0 with *dir (allocated),
 * or -1.  Pure, for tests. */
int cgroup_pids_locate_v1(const char *proc_cgroup, const char *mountinfo, char **dir);

/* "cgroup v1 pids", "cgroup v2 pids" or "RLIMIT_NPROC (...)": how attempts are limited.  The
 * first call detects and creates the agent's parent cgroup (thread-safe). */
const char *cgroup_pids_note(void);

/* A cgroup for one attempt limited to max processes: a descriptor of its cgroup.procs
 * (close-on-exec) that the child writes "0" to, or -1 when the pids controller is not in use
 * (then the child sets RLIMIT_NPROC).  Empty cgroups of earlier attempts are removed first. */
int cgroup_pids_open(const char *name, long max);

/* Removes the agent's empty pids cgroups (at exit). */
void cgroup_pids_teardown(void);
#endif
