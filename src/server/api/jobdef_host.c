/* jobdef_host — the container members that reach into the instance a job runs on.
 *
 * Paths on the instance and in the container must be absolute, as runc wants them; a mount
 * point must name a volume of the same container; an Amazon EFS volume is bound from where the
 * instance has its file system mounted (common/efs_mounts.h); S3 Files, which barge does not
 * have, is refused with the host volume that replaces it; a privileged container needs
 * the operator's consent (--allow-privileged).  A volume with neither host nor a file system is
 * an empty volume that lives as long as the attempt, as Docker makes one.  docs/decisions.md
 * gives the reasons. */
#include "server/api/jobdef_host.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/efs_mounts.h"
#include "server/model/config.h"

/* Every message built here names a member nested a few levels below field. */
#define FIELD_MAX 256

static int check_absolute(api_ctx *c, const char *path, const char *field, const char *what)
{
    if (path[0] == '/') return 0;
    return api_client_error(c, "%s: '%.64s' is not an absolute path; give %s, starting with '/'",
                            field, path, what);
}

/* Whether a mount at path (absolute) would cover the container's root or its /proc: Docker
 * refuses a destination of "/", and runc fails such a container with words about descriptors.
 * "//", "/.", "/x/.." are the root too. */
static int covers_root_or_proc(const char *path)
{
    int depth = 0, proc = 0;
    for (const char *p = path; *p;) {
        while (*p == '/') p++;
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (depth > 0 && --depth == 0) proc = 0;
        } else if (n && !(n == 1 && p[0] == '.')) {
            if (depth++ == 0) proc = n == 4 && strncmp(p, "proc", 4) == 0;
        }
        p += n;
    }
    return depth == 0 || proc;
}

static int check_destination(api_ctx *c, const char *path, const char *field, const char *what)
{
    if (check_absolute(c, path, field, what) < 0) return -1;
    if (!covers_root_or_proc(path)) return 0;
    return api_client_error(c, "%s: '%.64s' would cover the container's root or its /proc, where "
                               "nothing may be mounted; give a path below them, such as /data",
                            field, path);
}

/* The user --------------------------------------------------------------------------------- */

static int user_part_valid(const char *s, size_t n)
{
    if (n == 0) return 0;
    size_t digits = 0;
    for (size_t i = 0; i < n; i++)
        digits += isdigit((unsigned char)s[i]) != 0;
    if (digits == n) {
        /* (uid_t)-1 means "no change" to the kernel, so it is no one's id. */
        return n <= 10 && strtoull(s, NULL, 10) <= 4294967294ULL;
    }
    if (s[0] == '-') return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (isalnum(ch) || ch == '.' || ch == '_' || ch == '-') continue;
        /* Samba's machine accounts end with '$'. */
        if (ch == '$' && i > 0 && i == n - 1) continue;
        return 0;
    }
    return 1;
}

int jobdef_user_valid(const char *user)
{
    const char *colon = strchr(user, ':');
    if (!colon) return user_part_valid(user, strlen(user));
    return user_part_valid(user, (size_t)(colon - user)) &&
           user_part_valid(colon + 1, strlen(colon + 1));
}

static int check_user(api_ctx *c, const char *user, const char *field)
{
    if (!user) return 0;
    if (!*user)
        return api_client_error(c, "%s.user: must not be empty; leave it out to run as the "
                                   "image's user", field);
    if (!jobdef_user_valid(user))
        return api_client_error(c, "%s.user: '%.64s' is not a user; write it as name, uid, "
                                   "name:group or uid:gid (for example nobody or 1000:1000), "
                                   "names made of letters, digits, '.', '_' and '-'",
                                field, user);
    return 0;
}

/* Volumes and mount points ----------------------------------------------------------------- */

static int check_volume_name(api_ctx *c, json_t *vols, size_t i, const char *name,
                             const char *field)
{
    size_t n = strlen(name);
    int ok = n >= 1 && n <= 255;
    for (size_t k = 0; ok && k < n; k++)
        ok = isalnum((unsigned char)name[k]) || name[k] == '-' || name[k] == '_';
    if (!ok)
        return api_client_error(c, "%s.volumes[%zu].name: '%.64s' is not a valid volume name; "
                                   "use 1 to 255 letters, digits, hyphens and underscores",
                                field, i, name);
    size_t j;
    json_t *w;
    json_array_foreach(vols, j, w) {
        if (j >= i) break;
        if (api_str(w, "name") && strcmp(api_str(w, "name"), name) == 0)
            return api_client_error(c, "%s.volumes[%zu].name: '%s' is already the name of "
                                       "volumes[%zu]; volume names must be unique",
                                    field, i, name, j);
    }
    return 0;
}

/* AWS's rules for an EFS volume: an access point is its own root, and it and IAM
 * authorization need transit encryption. */
static int check_efs(api_ctx *c, json_t *v, json_t *efs, const char *field, size_t i)
{
    if (json_object_get(v, "host"))
        return api_client_error(c, "%s.volumes[%zu]: give one of host and "
                                   "efsVolumeConfiguration, not both", field, i);
    const char *root = api_str(efs, "rootDirectory"), *enc = api_str(efs, "transitEncryption");
    json_t *auth = json_object_get(efs, "authorizationConfig");
    const char *ap = api_str(auth, "accessPointId"), *iam = api_str(auth, "iam");
    const char *why = efs_root_directory_invalid(root);
    if (why)
        return api_client_error(c, "%s.volumes[%zu].efsVolumeConfiguration.rootDirectory: %s",
                                field, i, why);
    if (ap && *ap && root && strcmp(root, "/") != 0)
        return api_client_error(c, "%s.volumes[%zu].efsVolumeConfiguration.rootDirectory: must "
                                   "be / or left out with an access point, whose own path is "
                                   "the root", field, i);
    int encrypted = enc && strcmp(enc, "ENABLED") == 0;
    if (((ap && *ap) || (iam && strcmp(iam, "ENABLED") == 0)) && !encrypted)
        return api_client_error(c, "%s.volumes[%zu].efsVolumeConfiguration.transitEncryption: "
                                   "must be ENABLED with an access point or IAM authorization",
                                field, i);
    return 0;
}

static int check_volumes(api_ctx *c, json_t *cp, int fargate, const char *field)
{
    json_t *vols = json_object_get(cp, "volumes");
    char f[FIELD_MAX];
    size_t i, j;
    json_t *v, *w;
    json_array_foreach(vols, i, v) {
        const char *name = api_str(v, "name");
        if (name && check_volume_name(c, vols, i, name, field) < 0) return -1;
        /* An EFS volume is bound from where the instance has its file system mounted
         * (barge agent --efs-mounts); an attempt on an instance without it fails to start,
         * as ECS's mount would. */
        json_t *efs = json_object_get(v, "efsVolumeConfiguration");
        if (efs && check_efs(c, v, efs, field, i) < 0) return -1;
        if (json_object_get(v, "s3filesVolumeConfiguration"))
            return api_client_error(c, "%s.volumes[%zu].s3filesVolumeConfiguration: barge has no "
                                       "Amazon S3 Files file systems; mount a directory of the "
                                       "instance instead, with host.sourcePath, or give neither "
                                       "for an empty volume", field, i);
        json_t *host = json_object_get(v, "host");
        if (fargate && host)
            return api_client_error(c, "%s.volumes[%zu].host: host volumes are not available on "
                                       "Fargate resources; remove it", field, i);
        /* A host without sourcePath is Docker's empty volume, like a volume without host. */
        const char *src = api_str(host, "sourcePath");
        snprintf(f, sizeof f, "%s.volumes[%zu].host.sourcePath", field, i);
        if (src && check_absolute(c, src, f, "the directory on the instance (or leave host out "
                                             "for an empty volume)") < 0)
            return -1;
    }
    json_array_foreach(json_object_get(cp, "mountPoints"), i, v) {
        const char *src = api_str(v, "sourceVolume"), *path = api_str(v, "containerPath");
        if (!src)
            return api_client_error(c, "%s.mountPoints[%zu].sourceVolume: required; name the "
                                       "entry of %s.volumes to mount", field, i, field);
        if (!path)
            return api_client_error(c, "%s.mountPoints[%zu].containerPath: required; give the "
                                       "path in the container where the volume appears",
                                    field, i);
        int found = 0;
        json_array_foreach(vols, j, w)
            if (api_str(w, "name") && strcmp(api_str(w, "name"), src) == 0) found = 1;
        if (!found)
            return api_client_error(c, "%s.mountPoints[%zu].sourceVolume: '%.64s' is not the "
                                       "name of any entry in %s.volumes; add a volume of that "
                                       "name or mount one that exists", field, i, src, field);
        snprintf(f, sizeof f, "%s.mountPoints[%zu].containerPath", field, i);
        if (check_destination(c, path, f, "the path in the container where the volume appears") <
            0)
            return -1;
    }
    return 0;
}

/* Linux parameters ------------------------------------------------------------------------- */

static int check_linux(api_ctx *c, json_t *lp, int fargate, const char *field)
{
    if (!lp) return 0;
    if (fargate) {
        static const char *const not_fargate[] = {"devices", "sharedMemorySize", "tmpfs",
                                                  "maxSwap", "swappiness", NULL};
        for (const char *const *m = not_fargate; *m; m++)
            if (json_object_get(lp, *m))
                return api_client_error(c, "%s.linuxParameters.%s: does not apply to jobs on "
                                           "Fargate resources; remove it", field, *m);
    }
    json_int_t v;
    if ((v = api_int(lp, "sharedMemorySize", 1)) < 1)
        return api_client_error(c, "%s.linuxParameters.sharedMemorySize: must be at least 1 MiB "
                                   "(got %lld)", field, (long long)v);
    if ((v = api_int(lp, "maxSwap", 0)) < 0)
        return api_client_error(c, "%s.linuxParameters.maxSwap: must be 0 or more (got %lld)",
                                field, (long long)v);
    if ((v = api_int(lp, "swappiness", 60)) < 0 || v > 100)
        return api_client_error(c, "%s.linuxParameters.swappiness: must be between 0 and 100 "
                                   "(got %lld)", field, (long long)v);
    char f[FIELD_MAX];
    size_t i;
    json_t *d, *t;
    /* The schema has checked the permissions (READ, WRITE, MKNOD) and that hostPath is given. */
    json_array_foreach(json_object_get(lp, "devices"), i, d) {
        const char *host = api_str(d, "hostPath"), *path = api_str(d, "containerPath");
        snprintf(f, sizeof f, "%s.linuxParameters.devices[%zu].hostPath", field, i);
        if (check_absolute(c, host, f, "the device's path on the instance (for example "
                                       "/dev/fuse)") < 0)
            return -1;
        snprintf(f, sizeof f, "%s.linuxParameters.devices[%zu].containerPath", field, i);
        if (path && check_absolute(c, path, f, "the device's path in the container (or leave it "
                                               "out to use hostPath)") < 0)
            return -1;
    }
    json_array_foreach(json_object_get(lp, "tmpfs"), i, t) {
        snprintf(f, sizeof f, "%s.linuxParameters.tmpfs[%zu].containerPath", field, i);
        if (check_destination(c, api_str(t, "containerPath"), f, "the path in the container "
                                                                 "where the tmpfs is mounted") < 0)
            return -1;
        if (api_int(t, "size", 0) < 1)
            return api_client_error(c, "%s.linuxParameters.tmpfs[%zu].size: must be at least 1 "
                                       "MiB (got %lld)", field, i,
                                    (long long)api_int(t, "size", 0));
    }
    return 0;
}

/* The container as a whole ----------------------------------------------------------------- */

int jobdef_check_host(api_ctx *c, json_t *cp, int fargate, const char *field)
{
    if (json_is_true(json_object_get(cp, "privileged"))) {
        if (fargate)
            return api_client_error(c, "%s.privileged: does not apply to jobs on Fargate "
                                       "resources; remove it or set it to false", field);
        if (barge_cfg.allow_privileged == PRIVILEGED_REFUSE)
            return api_client_error(c, "%s.privileged: this server does not run privileged "
                                       "containers; set it to false, or start barge server with "
                                       "--allow-privileged to allow them (or --ignore-privileged "
                                       "to run them unprivileged)", field);
    }
    if (check_user(c, api_str(cp, "user"), field) < 0) return -1;
    if (check_volumes(c, cp, fargate, field) < 0) return -1;
    return check_linux(c, json_object_get(cp, "linuxParameters"), fargate, field);
}

int jobdef_check_host_allows(api_ctx *c, json_t *def, const char *ref)
{
    json_t *cp = json_object_get(def, "containerProperties");
    if (barge_cfg.allow_privileged != PRIVILEGED_REFUSE ||
        !json_is_true(json_object_get(cp, "privileged")))
        return 0;
    return api_client_error(c, "jobDefinition: '%.200s' has a privileged container "
                               "(containerProperties.privileged), and this server does not run "
                               "privileged containers; register a revision without it, or start "
                               "barge server with --allow-privileged to allow them", ref);
}
