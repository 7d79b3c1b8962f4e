/* container_inputs — what one container attempt's configuration is made from: the job's spec,
 * the image's configuration and unpacked root, and this instance's settings.  Read by
 * container_config (config.json) and container_mounts (its mounts). */
#ifndef BARGE_CONTAINER_INPUTS_H
#define BARGE_CONTAINER_INPUTS_H
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
    /* Whether the agent holds CAP_SYS_RESOURCE: then a container's ulimits may be above its
     * own (container_rlimits.h). */
    int may_raise_rlimits;
} container_inputs;
#endif
