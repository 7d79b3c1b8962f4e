/* efs_mounts — where the Amazon EFS file systems that job definitions name are mounted on an
 * instance.
 *
 * barge mounts no network file systems itself: the operator mounts them on the instances (as
 * amazon-efs-utils or any NFS client does) and says where, in a file of a JSON object whose
 * keys are file system ids ("fs-...") or access point ids ("fsap-...") and whose values are
 * absolute directories of the instance:
 *
 *     {"fs-0123456789abcdef0": "/mnt/efs", "fsap-0123456789abcdef0": "/mnt/efs/shared"}
 *
 * `barge agent --efs-mounts FILE` reads it; `barge server --efs-mounts FILE` hands it to the
 * local agents.  A volume's efsVolumeConfiguration then binds the directory of its access point,
 * or its file system's directory and rootDirectory below it, as ECS mounts the file system. */
#ifndef BARGE_EFS_MOUNTS_H
#define BARGE_EFS_MOUNTS_H
#include <jansson.h>
#include <stddef.h>

/* The table in path (a fresh JSON object), or NULL with *err set (fresh): a file that cannot be
 * read, is not such an object, or names a key or a directory that is not valid. */
json_t *efs_mounts_load(const char *path, char **err);

/* Why a volume's rootDirectory cannot be used, or NULL: it must be a path below the file
 * system's root, without "." or ".." components. */
const char *efs_root_directory_invalid(const char *root);

/* Opens the instance's directory for a volume's efsVolumeConfiguration: its access point's
 * directory when it names one, else its file system's directory and rootDirectory below it.
 * Returns an O_PATH descriptor for the caller to bind (the agent binds it at a path of its own
 * for runc), or -1 with reason set.  The table's directory is taken without following symbolic
 * links, and rootDirectory is resolved inside the file system (a link in it leads nowhere
 * outside, as on an NFS server; without openat2, before Linux 5.6, links are refused); what is
 * bound is the descriptor, so that nothing a job changes in the file system meanwhile
 * redirects it.
 * The directory must exist: ECS's mount fails on one that does not. */
int efs_mounts_open(const json_t *mounts, const json_t *efs, char *reason, size_t reason_len);
#endif
