/* container_config — the OCI runtime configuration (config.json) of one container attempt.
 *
 * From three sources, as Docker and ECS combine them: the image's own configuration
 * (Entrypoint, Cmd, Env, User, WorkingDir), the job's container properties as the server
 * assigned them (command, environment, user, privileged, readonlyRootFilesystem, mount points
 * and volumes, ulimits, linuxParameters, vCPUs) and the host's (its resolver files, the init
 * binary, its resource limits).  What a container sees is written down in
 * docs/decisions.md ("Containers"): the host's network, its own PID, IPC and mount namespaces,
 * Docker's default capabilities and masked paths unless privileged. */
#ifndef BARGE_CONTAINER_CONFIG_H
#define BARGE_CONTAINER_CONFIG_H
#include <jansson.h>
#include <stddef.h>

#include "agent/executor.h"
#include "common/idmap.h"

typedef struct container_inputs {
    const exec_spec *spec;   /* argv: the job's command (may be empty); envp: its environment */
    json_t *image;           /* the image configuration's "config" object ({} for none) */
    const char *lower_rootfs; /* the unpacked image, for /etc/passwd and /etc/group */
    const char *work_dir;    /* the attempt's bundle directory: rootfs/ is its root */
    const char *init_path;   /* a static init for initProcessEnabled, or NULL */
    /* NULL (or size 0): no user namespace, the container's ids are the host's.  Else the
     * container runs in a user namespace with this mapping, its root an unprivileged host
     * user; the caller has unpacked the image with the same mapping. */
    const idmap *ids;
    /* Where this instance has the Amazon EFS file systems mounted (common/efs_mounts.h), or
     * NULL for none. */
    const json_t *efs_mounts;
    /* Makes a path runc can bind for an EFS volume's directory, open as fd (an O_PATH
     * descriptor, which it takes): a mount of that very directory, so that nothing a job
     * changes in the file system redirects the bind.  A fresh path, or NULL with reason set.
     * NULL: no EFS volume can start here. */
    char *(*stage_dir)(void *ctx, int fd, char *reason, size_t reason_len);
    void *stage_ctx;
} container_inputs;

/* The configuration, or NULL with reason set ("CannotStartContainerError: ..."): a user the
 * image does not know, no command at all, a device the host does not have.  Directories the
 * container needs on the host (a volume's source, an attempt-scoped volume under work_dir) are
 * created here; in a user namespace, those made here are given to the container's root, as
 * Docker's userns-remap does (a host directory that exists keeps its owner). */
json_t *container_config(const container_inputs *in, char *reason, size_t reason_len);

/* Exposed for tests: resolves a Docker user spec ("name", "uid", "name:group", "uid:gid")
 * against the passwd and group files of rootfs.  0 with *uid, *gid and *home (allocated, "/"
 * when unknown), or -1 with reason set. */
int container_resolve_user(const char *rootfs, const char *spec, unsigned *uid, unsigned *gid,
                           char **home, char *reason, size_t reason_len);
/* The supplementary groups of the image's user spec, as Docker gives them: the ids of the
 * image's /etc/group entries that list the user's name (from its /etc/passwd entry) as a
 * member, its primary group gid apart, at most CONTAINER_GROUPS_MAX; none when the spec names
 * a group.  A JSON array (fresh). */
#define CONTAINER_GROUPS_MAX 256
json_t *container_user_groups(const char *rootfs, const char *spec, unsigned gid);
/* Exposed for tests: makes a volume's missing source directory src, given to ids' root when
 * ids is not NULL (1 made, 0 there already, -1 with errno: EBUSY when what is at src changed
 * as it was made).  between_for_tests, when set, runs between the mkdir and the chown. */
int container_make_volume_dir(const char *src, const idmap *ids);
extern void (*container_between_for_tests)(const char *src);
#endif
