/* cgroup — memory limits for the attempts an agent runs.
 *
 * The agent never assumes a layout: it reads /proc/self/cgroup and /proc/self/mountinfo to find
 * the hierarchy that holds the memory controller (cgroup v1, or the unified v2 hierarchy) and its
 * own cgroup in it.  Below its own cgroup it makes one parent per agent, and below that the
 * attempts' cgroups.  Making and removing a memory cgroup is among the dearest things an agent
 * does per attempt, so an attempt's cgroup, once empty, waits in a small pool for the next
 * attempt, which only sets its limit (when it differs) and notes its OOM counter.  Where none of this is possible the agent still runs
 * jobs, without limits, and says why (cgroup_host_note). */
#ifndef BARGE_CGROUP_H
#define BARGE_CGROUP_H
#include <stddef.h>
#include <stdint.h>

typedef enum { CGROUP_NONE, CGROUP_V1, CGROUP_V2 } cgroup_mode;

/* "none", "v1" or "v2", the register body's spelling. */
const char *cgroup_mode_name(cgroup_mode m);

/* Finds, from the texts of /proc/self/cgroup and /proc/self/mountinfo, the hierarchy holding the
 * memory controller and the directory of this process's cgroup in it.  Returns v1 or v2 with
 * *dir (allocated), or CGROUP_NONE with *why (allocated).  Pure, so that tests can feed it the
 * layouts of other machines. */
cgroup_mode cgroup_locate(const char *proc_cgroup, const char *mountinfo, char **dir, char **why);

/* The directory of cgroup path cgpath in a mount of fstype ("cgroup" or "cgroup2") whose super
 * options hold superopt (unless NULL), from the text of /proc/self/mountinfo; or NULL. */
char *cgroup_mount_dir(const char *mountinfo, const char *fstype, const char *superopt,
                       const char *cgpath);

/* The agent's own place: detected once at start-up. */
typedef struct cgroup_host cgroup_host;

/* Detects the controller and creates the per-agent parent cgroup called name below the agent's
 * own cgroup (on v2 the agent first moves itself into a leaf, because a v2 cgroup that holds
 * processes cannot enable controllers for its children).  Never fails: the mode is
 * CGROUP_NONE, with a note saying why, when limits cannot be enforced. */
cgroup_host *cgroup_host_setup(const char *name);
cgroup_mode cgroup_host_mode(const cgroup_host *h);
/* What the agent found, in one sentence (for the log and the register body). */
const char *cgroup_host_note(const cgroup_host *h);
/* The tightest memory limit on the agent's own cgroup and its ancestors, in bytes; -1 when none
 * (or unknown).  It bounds the memory an instance may offer. */
int64_t cgroup_host_memory_limit(const cgroup_host *h);
/* Removes what agents that died without cleaning up left beside this one: cgroups named
 * prefix + PID (with any "-agent" leaf) whose process no longer exists, after killing whatever
 * still runs in them.  Returns how many it removed. */
int cgroup_host_sweep(cgroup_host *h, const char *prefix);
/* The same in any directory of a hierarchy of the given mode (the v1 pids hierarchy's, whose
 * cgroups cgroup_pids makes). */
int cgroup_sweep_dead(const char *dir, const char *prefix, cgroup_mode mode);
/* Kills what runs in dir/name and below it, whether or not its agent lives, and removes them:
 * how many processes were found (the warden's sweep of its dead agent's cgroups). */
int cgroup_sweep_agent(const char *dir, const char *name, cgroup_mode mode);
/* The directory the per-agent parents are made in (the agent's cgroup when it started). */
const char *cgroup_host_dir(const cgroup_host *h);
/* How many empty cgroups the pool keeps for reuse (default 8; 0 keeps none).  The agent keeps
 * as many as it has vCPUs, enough for the attempts it runs at once. */
void cgroup_host_set_pool(cgroup_host *h, int n);
/* Removes the pooled cgroups and the per-agent parent (it must be empty by then) and frees h.
 * NULL is fine. */
void cgroup_host_teardown(cgroup_host *h);

/* One attempt's cgroup. */
typedef struct cgroup cgroup;

/* Creates the cgroup called name below the per-agent parent, limited to limit_bytes of memory
 * with no swap (0: no limit).  NULL with a message in err when it cannot. */
cgroup *cgroup_create(cgroup_host *h, const char *name, int64_t limit_bytes, char *err,
                      size_t errlen);
/* A cgroup for one attempt, limited as cgroup_create does: an empty one from the pool, or a
 * new one.  NULL with a message in err when it cannot. */
cgroup *cgroup_acquire(cgroup_host *h, int64_t limit_bytes, char *err, size_t errlen);
/* Ends an attempt's use of cg: an empty cgroup goes back to the pool (or is removed when the
 * pool is full) and is freed: 0.  -1 while processes may remain in it: the caller still owns
 * it, and removes it later with cgroup_remove. */
int cgroup_release(cgroup_host *h, cgroup *cg);
/* A descriptor of the cgroup's cgroup.procs (close-on-exec): a process that writes
 * "0" to it joins the cgroup.  The spawner's child does so between clone and exec. */
int cgroup_procs_fd(const cgroup *cg);
const char *cgroup_path(const cgroup *cg);
/* How many processes the kernel's OOM killer ended in this cgroup since its current attempt
 * began. */
long cgroup_oom_kills(const cgroup *cg);
/* The most memory the cgroup's processes have used since it was acquired, in bytes; -1 when
 * the kernel does not say (cgroup v2 before memory.peak). */
long long cgroup_memory_peak(const cgroup *cg);
/* Whether the cgroup's peak file (memory.max_usage_in_bytes, memory.peak) holds the current
 * attempt's peak: not a reused cgroup's whose peak could not be reset (v2's cannot be). */
int cgroup_peak_known(const cgroup *cg);
/* Sends SIGKILL to every process in the cgroup, including those that left the attempt's
 * process group.  Returns how many it found. */
int cgroup_kill_all(cgroup *cg);
/* Removes the cgroup's directory: 0, or -1 while processes remain (try again later). */
int cgroup_remove(cgroup *cg);
/* Frees the handle (the directory stays if cgroup_remove did not succeed).  NULL is fine. */
void cgroup_free(cgroup *cg);
#endif
