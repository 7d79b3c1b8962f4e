/* container_mounts — see container_mounts.h. */
#include "agent/container_mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/efs_mounts.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

/* Docker's /dev/shm when linuxParameters.sharedMemorySize is not given. */
#define DEFAULT_SHM_MIB 64

static json_t *mount(const char *dest, const char *type, const char *source, json_t *options)
{
    return json_pack("{s:s, s:s, s:s, s:o}", "destination", dest, "type", type, "source", source,
                     "options", options);
}

static json_t *bind(const char *dest, const char *source, int ro)
{
    json_t *o = json_pack("[s, s]", "rbind", "rprivate");
    if (ro) json_array_append_new(o, json_string("ro"));
    return mount(dest, "bind", source, o);
}

static void base_mounts(json_t *m, json_t *linux_params, int privileged, int userns)
{
    long long shm = DEFAULT_SHM_MIB;
    json_t *v = json_object_get(linux_params, "sharedMemorySize");
    if (json_is_integer(v) && json_integer_value(v) > 0) shm = json_integer_value(v);
    char shm_size[48];
    snprintf(shm_size, sizeof shm_size, "size=%lldm", shm);
    json_array_append_new(m, mount("/proc", "proc", "proc", json_array()));
    json_array_append_new(m, mount("/dev", "tmpfs", "tmpfs",
                                   json_pack("[s,s,s,s]", "nosuid", "strictatime", "mode=755",
                                             "size=65536k")));
    json_array_append_new(m, mount("/dev/pts", "devpts", "devpts",
                                   json_pack("[s,s,s,s,s,s]", "nosuid", "noexec", "newinstance",
                                             "ptmxmode=0666", "mode=0620", "gid=5")));
    json_array_append_new(m, mount("/dev/shm", "tmpfs", "shm",
                                   json_pack("[s,s,s,s,s]", "nosuid", "noexec", "nodev",
                                             "mode=1777", shm_size)));
    json_array_append_new(m, mount("/dev/mqueue", "mqueue", "mqueue",
                                   json_pack("[s,s,s]", "nosuid", "noexec", "nodev")));
    /* The kernel lets a user namespace mount sysfs only with a network namespace of its own;
     * on the host's network the host's /sys is bound instead, as rootless podman does. */
    if (userns)
        json_array_append_new(m, mount("/sys", "bind", "/sys",
                                       json_pack("[s,s,s,s,s,s]", "rbind", "rprivate", "nosuid",
                                                 "noexec", "nodev", "ro")));
    else
        json_array_append_new(m, mount("/sys", "sysfs", "sysfs",
                                       json_pack("[s,s,s,s]", "nosuid", "noexec", "nodev",
                                                 privileged ? "rw" : "ro")));
    json_array_append_new(m, mount("/sys/fs/cgroup", "cgroup", "cgroup",
                                   json_pack("[s,s,s,s,s]", "nosuid", "noexec", "nodev",
                                             "relatime", privileged ? "rw" : "ro")));
    /* The host's network, so the host's resolver and names (read-only, as the host owns
     * them). */
    const char *etc[] = {"/etc/resolv.conf", "/etc/hosts", NULL};
    for (int i = 0; etc[i]; i++)
        if (access(etc[i], R_OK) == 0) json_array_append_new(m, bind(etc[i], etc[i], 1));
}

static int absolute(const char *p)
{
    return p && p[0] == '/';
}

/* Makes a volume's missing source directory (and its missing parents, the host root's).  A
 * directory made for a container in a user namespace is its root's, wherever that root is:
 * given through a descriptor of the directory made here, never by its path, which a job that
 * can write where it is made (another job's volume holding it) could swap for a link to any
 * host file between the mkdir and a chown by path (chown follows links: the host file would
 * have become the container root's).  Returns 1 when made, 0 when it was there, -1 with
 * errno. */
void (*container_between_for_tests)(const char *src);

int container_make_volume_dir(const char *src, const idmap *ids)
{
    char *parent = xstrdup(src);
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/') parent[--n] = '\0';
    char *slash = strrchr(parent, '/');
    const char *base = slash + 1;
    *slash = '\0';
    int out = -1, pfd = -1, fd = -1;
    if (!*base) errno = EINVAL;
    if (!*base || (*parent && util_make_dirs(parent, 0755) < 0)) goto done;
    pfd = open(*parent ? parent : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0) goto done;
    if (mkdirat(pfd, base, 0755) < 0) {
        out = errno == EEXIST ? 0 : -1;
        goto done;
    }
    if (!ids) {
        out = 1;
        goto done;
    }
    if (container_between_for_tests) container_between_for_tests(src);
    /* What is at that name in that same directory now: the directory made here, unless it
     * was swapped meanwhile for a link (refused by O_NOFOLLOW) or for a directory of the job's
     * (not the host root's).  Any other directory the job could put there is one it already
     * holds, in its own volume.  (A directory's link count says nothing: btrfs gives 1.) */
    struct stat st;
    fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && (errno == ELOOP || errno == ENOTDIR || errno == ENOENT)) errno = EBUSY;
    if (fd < 0 || fstat(fd, &st) < 0) goto done;
    if (st.st_uid != 0 || !S_ISDIR(st.st_mode)) {
        errno = EBUSY;
        goto done;
    }
    if (fchown(fd, (uid_t)ids->uid_base, (gid_t)ids->gid_base) == 0) out = 1;
done:;
    int saved = errno;
    if (fd >= 0) close(fd);
    if (pfd >= 0) close(pfd);
    free(parent);
    errno = saved;
    return out;
}

/* mountPoints with their volumes: a host volume's sourcePath (created when missing, as the
 * Docker daemon does for ECS), an Amazon EFS volume's directory where the instance has its file
 * system mounted (which must exist, as ECS's mount of it must succeed), or a directory of the
 * attempt's own for a volume without one. */
static int volume_mounts(const container_inputs *in, int userns, json_t *m, json_t *cont,
                         char *reason, size_t reason_len)
{
    json_t *mp, *vol;
    size_t i, k;
    json_array_foreach(json_object_get(cont, "mountPoints"), i, mp) {
        const char *name = json_string_value(json_object_get(mp, "sourceVolume"));
        const char *dest = json_string_value(json_object_get(mp, "containerPath"));
        json_t *found = NULL;
        size_t index = 0;
        json_array_foreach(json_object_get(cont, "volumes"), k, vol) {
            const char *vn = json_string_value(json_object_get(vol, "name"));
            if (name && vn && strcmp(name, vn) == 0) {
                found = vol;
                index = k;
            }
        }
        if (!found || !absolute(dest)) {
            snprintf(reason, reason_len, "CannotStartContainerError: mountPoints[%zu]: %s", i,
                     !found ? "sourceVolume names no volume of the job definition"
                            : "containerPath must be an absolute path");
            return -1;
        }
        const char *src = json_string_value(
            json_object_get(json_object_get(found, "host"), "sourcePath"));
        char *scratch = NULL;
        json_t *efs = json_object_get(found, "efsVolumeConfiguration");
        if (efs) {
            /* The directory found here, open, is what gets bound (stage_dir): whatever a job
             * changes in the file system before runc mounts it. */
            char why[512];
            int fd = in->stage_dir ? efs_mounts_open(in->efs_mounts, efs, why, sizeof why) : -1;
            char *staged = fd >= 0 ? in->stage_dir(in->stage_ctx, fd, why, sizeof why) : NULL;
            if (!staged) {
                snprintf(reason, reason_len, "CannotStartContainerError: volume %s: %s", name,
                         in->stage_dir ? why : "this executor binds no EFS volumes");
                return -1;
            }
            json_array_append_new(m, bind(dest, staged, json_is_true(json_object_get(mp,
                                                                                    "readOnly"))));
            free(staged);
            continue;
        }
        if (!src) {
            scratch = xasprintf("%s/volume-%zu", in->work_dir, index);
            src = scratch;
        }
        int made = absolute(src) ? container_make_volume_dir(src, userns ? in->ids : NULL) : -1;
        if (made < 0) {
            snprintf(reason, reason_len, "CannotStartContainerError: volume %s: cannot create "
                     "its source %s: %s", name, src,
                     !absolute(src)  ? "not an absolute path"
                     : errno == EBUSY ? "something else was put in its place as it was made"
                                      : strerror(errno));
            free(scratch);
            return -1;
        }
        json_array_append_new(m, bind(dest, src, json_is_true(json_object_get(mp, "readOnly"))));
        free(scratch);
    }
    return 0;
}

static void tmpfs_mounts(json_t *m, json_t *linux_params)
{
    json_t *t, *o;
    size_t i, k;
    json_array_foreach(json_object_get(linux_params, "tmpfs"), i, t) {
        const char *dest = json_string_value(json_object_get(t, "containerPath"));
        if (!absolute(dest)) continue;
        json_t *opts = json_array();
        json_array_foreach(json_object_get(t, "mountOptions"), k, o)
            if (json_is_string(o)) json_array_append(opts, o);
        char size[48];
        snprintf(size, sizeof size, "size=%lldm",
                 (long long)json_integer_value(json_object_get(t, "size")));
        json_array_append_new(opts, json_string(size));
        json_array_append_new(m, mount(dest, "tmpfs", "tmpfs", opts));
    }
}

/* ---- Devices ----------------------------------------------------------------------------- */

/* The node a user namespace's container binds for device i, whose host node st describes: a
 * node of the same device made in the attempt's directory, owned by the container's root, with
 * the host node's mode.  A bind of the host's own node keeps the host's owner and mode, which
 * the container's root (an unprivileged host user) may not open when it is not open to all
 * (/dev/kvm, /dev/dri's, a disk: 0660, root's); without a user namespace the container's root
 * owns the node runc makes.  The host's node when one cannot be made here (a directory on a
 * file system mounted nodev, where no node opens). */
static char *own_node(const container_inputs *in, size_t i, const char *host,
                      const struct stat *st)
{
    struct statvfs fs;
    if (!in->work_dir || !in->ids || statvfs(in->work_dir, &fs) < 0 || (fs.f_flag & ST_NODEV))
        return xstrdup(host);
    char *node = xasprintf("%s/device-%zu", in->work_dir, i);
    unlink(node);
    if (mknod(node, (st->st_mode & S_IFMT) | (st->st_mode & 0777), st->st_rdev) == 0 &&
        chown(node, (uid_t)in->ids->uid_base, (gid_t)in->ids->gid_base) == 0 &&
        chmod(node, st->st_mode & 0777) == 0)
        return node;
    log_warn("cannot make a node of %s for a container in %s (%s); its root may not open the "
             "host's", host, in->work_dir, strerror(errno));
    unlink(node);
    free(node);
    return xstrdup(host);
}

/* linuxParameters.devices: each a device entry (runc makes the node), or in a user namespace,
 * where nodes cannot be made, a bind mount at its container path of a node the container's root
 * owns (own_node; runc's own fallback binds the host file of the container path, which is not
 * the host path when the two differ); the device cgroup allows it either way. */
static int devices(const container_inputs *in, json_t *linux_params, int userns, json_t *mounts,
                   json_t *out_devices, json_t *rules, char *reason, size_t reason_len)
{
    json_t *d, *p;
    size_t i, k;
    json_array_foreach(json_object_get(linux_params, "devices"), i, d) {
        const char *host = json_string_value(json_object_get(d, "hostPath"));
        const char *dest = json_string_value(json_object_get(d, "containerPath"));
        if (!dest) dest = host;
        struct stat st;
        if (!host || stat(host, &st) < 0 || !(S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))) {
            snprintf(reason, reason_len, "CannotStartContainerError: linuxParameters.devices[%zu]:"
                     " %s is not a device on this host", i, host ? host : "(no hostPath)");
            return -1;
        }
        const char *type = S_ISCHR(st.st_mode) ? "c" : "b";
        char access[4] = "";
        json_array_foreach(json_object_get(d, "permissions"), k, p) {
            const char *perm = json_string_value(p);
            char c = !perm ? 0 : !strcmp(perm, "READ") ? 'r' : !strcmp(perm, "WRITE") ? 'w'
                               : !strcmp(perm, "MKNOD") ? 'm' : 0;
            size_t used = strlen(access);
            if (c && !strchr(access, c) && used < 3) {
                access[used] = c;
                access[used + 1] = '\0';
            }
        }
        if (!*access) strcpy(access, "rwm"); /* ECS: all three when none are listed */
        if (userns) {
            char *node = own_node(in, i, host, &st);
            json_array_append_new(mounts, bind(dest, node, 0));
            free(node);
        } else
            json_array_append_new(
                out_devices, json_pack("{s:s, s:s, s:I, s:I, s:i, s:i, s:i}", "path", dest,
                                       "type", type, "major", (json_int_t)major(st.st_rdev),
                                       "minor", (json_int_t)minor(st.st_rdev), "fileMode",
                                       (int)(st.st_mode & 07777), "uid", 0, "gid", 0));
        json_array_append_new(rules, json_pack("{s:b, s:s, s:I, s:I, s:s}", "allow", 1, "type",
                                               type, "major", (json_int_t)major(st.st_rdev),
                                               "minor", (json_int_t)minor(st.st_rdev), "access",
                                               access));
    }
    return 0;
}

/* ---- Their order -------------------------------------------------------------------------- */

/* The path components of a destination: "/data/sub" and "/data//sub/" are 2. */
static size_t depth(const char *p)
{
    size_t n = 0;
    while (*p) {
        while (*p == '/') p++;
        if (!*p) break;
        n++;
        while (*p && *p != '/') p++;
    }
    return n;
}

typedef struct {
    size_t depth, at;
} mount_rank;

static int by_depth(const void *a, const void *b)
{
    const mount_rank *x = a, *y = b;
    if (x->depth != y->depth) return x->depth < y->depth ? -1 : 1;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* The mounts in an order in which none hides another: each covers what was mounted below its
 * destination before it, so the shallower go first, those of one depth in the order made.
 * Docker orders them so; in the order listed, a volume at /data/sub listed before one at /data
 * was hidden by it, a tmpfs under a volume's path wrote to the host's disk, and a volume at
 * /etc hid the resolver's files. */
static void order_mounts(json_t *m)
{
    size_t n = json_array_size(m);
    mount_rank *r = xcalloc(n ? n : 1, sizeof *r);
    for (size_t i = 0; i < n; i++) {
        const char *dest = json_string_value(json_object_get(json_array_get(m, i), "destination"));
        r[i] = (mount_rank){depth(dest ? dest : ""), i};
    }
    qsort(r, n, sizeof *r, by_depth);
    json_t *was = json_copy(m);
    json_array_clear(m);
    for (size_t i = 0; i < n; i++) json_array_append(m, json_array_get(was, r[i].at));
    json_decref(was);
    free(r);
}


json_t *container_mounts(const container_inputs *in, int privileged, int userns, json_t *devs,
                         json_t *rules, char *reason, size_t reason_len)
{
    json_t *cont = in->spec->container;
    json_t *lp = json_object_get(cont, "linuxParameters");
    json_t *mounts = json_array();
    base_mounts(mounts, lp, privileged, userns);
    tmpfs_mounts(mounts, lp);
    if (in->init_path && json_is_true(json_object_get(lp, "initProcessEnabled")))
        json_array_append_new(mounts, bind("/dev/init", in->init_path, 1));
    /* The CA bundle of a job with a role (agent_creds.h): where its environment says. */
    if (in->spec->ca_bundle)
        json_array_append_new(mounts, bind(in->spec->ca_bundle, in->spec->ca_bundle, 1));
    if (volume_mounts(in, userns, mounts, cont, reason, reason_len) < 0 ||
        devices(in, lp, userns, mounts, devs, rules, reason, reason_len) < 0) {
        json_decref(mounts);
        return NULL;
    }
    order_mounts(mounts);
    return mounts;
}
