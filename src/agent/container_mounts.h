/* container_mounts — what a container attempt's file system is made of (config.json's
 * "mounts"): the base a container has (/proc, /dev and its parts, /sys, the host's resolver
 * files), linuxParameters' tmpfs mounts and devices, the job's volumes and mount points, the
 * init binary and a job role's CA bundle, in an order in which none hides another. */
#ifndef BARGE_CONTAINER_MOUNTS_H
#define BARGE_CONTAINER_MOUNTS_H
#include <jansson.h>
#include <stddef.h>

#include "agent/container_inputs.h"
#include "common/idmap.h"

/* The mounts (a fresh array), with the devices' entries added to devs (no user namespace) and
 * their device cgroup rules to rules; NULL with reason set ("CannotStartContainerError: ...")
 * for a volume or device that cannot be had.  userns: the container runs in a user namespace
 * (in->ids), where a device is a bind of the host's node. */
json_t *container_mounts(const container_inputs *in, int privileged, int userns, json_t *devs,
                         json_t *rules, char *reason, size_t reason_len);
/* Exposed for tests: makes a volume's missing source directory src, given to ids' root when
 * ids is not NULL (1 made, 0 there already, -1 with errno: EBUSY when what is at src changed
 * as it was made).  between_for_tests, when set, runs between the mkdir and the chown. */
int container_make_volume_dir(const char *src, const idmap *ids);
extern void (*container_between_for_tests)(const char *src);
#endif
