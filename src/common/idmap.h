/* idmap — the host ids a container's user namespace maps its own ids to (the agent maps them;
 * the server checks the option it hands its local agents).
 *
 * A container that is not privileged runs in a user namespace of its own: its ids 0 .. size-1
 * are the host's uid_base .. uid_base+size-1 (and gid_base .. for groups), so its root is an
 * unprivileged user of the host, as under rootless podman or Docker's userns-remap.  The range
 * is `barge agent --container-id-map HOSTBASE[:SIZE]`, else the first ranges of the user
 * IDMAP_SUBID_USER in /etc/subuid and /etc/subgid (which scripts/deps.sh creates), else
 * IDMAP_DEFAULT_BASE:IDMAP_DEFAULT_SIZE (docs/decisions.md, "Containers", says why). */
#ifndef BARGE_IDMAP_H
#define BARGE_IDMAP_H
#include <stddef.h>

/* Outside the ranges useradd hands out (SUB_UID_MIN 100000 to SUB_UID_MAX 600100000 on
 * Debian), so that no user's rootless containers share these ids, and below 2^31, which some
 * tools still store in a signed int. */
#define IDMAP_DEFAULT_BASE 1000000000u
/* Every id a Linux distribution's image uses, nobody (65534) included. */
#define IDMAP_DEFAULT_SIZE 65536u
/* The user whose subordinate ids containers get, as Docker's userns-remap uses dockremap's. */
#define IDMAP_SUBID_USER "barge"

typedef struct idmap {
    unsigned uid_base, gid_base; /* the host ids of the container's uid 0 and gid 0 */
    unsigned size;               /* ids mapped; 0: no user namespace */
} idmap;

/* Parses HOSTBASE[:SIZE] (SIZE IDMAP_DEFAULT_SIZE when absent) into *out, the same base for
 * users and groups.  NULL, or why not (a static phrase, to follow the option's name). */
const char *idmap_parse(const char *text, idmap *out);
/* The process executor's attempts each run as a host uid of their own (agent/job_uids.h), from
 * `--job-uids FIRST[:COUNT]`, by default this range: above the containers' default and
 * systemd's container ranges (524288 to 1879048191), below 2^31. */
#define IDMAP_JOB_UIDS_FIRST 2000000000u
#define IDMAP_JOB_UIDS_COUNT 65536u
/* Parses FIRST[:COUNT] (COUNT IDMAP_JOB_UIDS_COUNT when absent).  NULL, or why not (a static
 * phrase, to follow the option's name). */
const char *idmap_parse_job_uids(const char *text, unsigned *first, unsigned *count);
/* Why first..first+count-1 may not be the jobs' uids on this host, or NULL: an account's uid
 * is in it (so each attempt's start and end would kill that user's processes), or containers'
 * ids are (containers: their map, NULL or size 0 for none).  The sentence is written into why
 * (len bytes).  Reads the accounts (getpwent): not for threads. */
const char *idmap_job_uids_conflict(unsigned first, unsigned count, const idmap *containers,
                                    char *why, size_t len);
/* The first range of user (its name, or its uid as a number) in a subordinate-id file such as
 * /etc/subuid ("name:start:count" lines): 0 with *base and *size, -1 when there is none. */
int idmap_subid_range(const char *path, const char *user, unsigned *base, unsigned *size);
/* The default mapping: the ranges of IDMAP_SUBID_USER in subuid_path and subgid_path when both
 * files have one (the smaller size of the two), else the fixed default.  *source says which,
 * for the log. */
void idmap_default(const char *subuid_path, const char *subgid_path, idmap *out,
                   const char **source);
#endif
