/* exec_container — the `container` backend (see executor.h): each attempt runs its job's image
 * with runc.
 *
 * Preparation (on its own thread): the image from the cache (image_cache.h: pulled once per
 * digest, unpacked once for each mapping of ids: a container that is not privileged runs in a
 * user namespace whose root is an unprivileged host user, common/idmap.h), an overlay mount
 * that gives the attempt its own writable layer over the shared unpacked image, and
 * config.json (container_config.h), all in the attempt's working directory, which is the
 * runtime bundle.  Start: `runc run` in the attempt's memory cgroup, so that the limit covers
 * the container's cgroup, which runc makes below its own; the container's output is runc's.  A stop order's SIGTERM goes to runc, which forwards it to the
 * container's first process; SIGKILL goes to every process in the cgroup.  Cleanup removes
 * the runtime's state, the mount and the layer.
 *
 * Nothing may survive an attempt, also when the agent dies: containers are named after their
 * agent's pid, and a starting agent kills and deletes those of agents that are gone
 * (container_host_sweep); the agent's mounts live in a mount namespace of its own
 * (container_host_isolate_mounts), which the kernel removes with its last process. */
#ifndef BARGE_EXEC_CONTAINER_H
#define BARGE_EXEC_CONTAINER_H
#include "agent/executor.h"
#include "common/idmap.h"
#include "agent/image_cache.h"

extern const exec_backend exec_container_backend;

typedef struct container_host container_host;

typedef struct container_options {
    const char *state_root;   /* runc --root; shared by the agents of a host */
    image_cache *images;      /* not owned */
    const char *init_path;    /* a static init for initProcessEnabled, or NULL */
    /* The user namespace of every container that is not privileged (size 0: none, the
     * container's root is the host's). */
    idmap ids;
    /* Where this instance has the Amazon EFS file systems mounted (common/efs_mounts.h), or
     * NULL; not owned. */
    const json_t *efs_mounts;
    /* Or NULL: told, from the attempt's preparing thread, when its image must be pulled or
     * unpacked before it can start (the reference), so that its job can say why it waits. */
    void (*pulling)(void *ctx, const exec_spec *s, const char *reference);
    void *pulling_ctx;
    /* Or NULL: told, from the attempt's preparing thread, a line for the job's own log (what
     * its container is given other than it asked). */
    void (*say)(void *ctx, const exec_spec *s, const char *line);
    void *say_ctx;
} container_options;

/* NULL when a usable OCI runtime is on PATH, else why not (a static sentence). */
const char *container_runtime_missing(void);
/* Moves the calling process into a mount namespace of its own (mounts from the host still
 * propagate in, its own stay out), so that every mount it makes goes away with it.  Call
 * before any thread starts.  0, or -1 when that is not possible (mounts are then unmounted
 * one by one). */
int container_host_isolate_mounts(void);
container_host *container_host_new(const container_options *o, char **err);
/* Kills and deletes the containers in the state root whose agent process is gone.  Returns
 * how many. */
int container_host_sweep(container_host *h);
/* Stops what still runs (nothing, after an orderly stop) and frees h. */
void container_host_free(container_host *h);
#endif
