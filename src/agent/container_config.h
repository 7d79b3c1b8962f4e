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

#include "agent/container_inputs.h"

/* The configuration, or NULL with reason set ("CannotStartContainerError: ..."): a user the
 * image does not know, no command at all, a device the host does not have.  Directories the
 * container needs on the host (a volume's source, an attempt-scoped volume under work_dir) are
 * created here; in a user namespace, those made here are given to the container's root, as
 * Docker's userns-remap does (a host directory that exists keeps its owner).  What the
 * container is given other than its job asked (a ulimit above what this instance may give) is
 * said in said, for the job's log ("" when nothing is). */
json_t *container_config(const container_inputs *in, char *said, size_t said_len, char *reason,
                         size_t reason_len);

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
#endif
