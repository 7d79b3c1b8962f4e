/* container_config — see container_config.h. */
#include "agent/container_config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/container_mounts.h"
#include "agent/container_rlimits.h"
#include "common/efs_mounts.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

/* Docker's PATH when the image names none. */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* The largest /etc/passwd or /etc/group of an image that is read; a larger one counts as
 * missing (an image's author could make it any size). */
#define ETC_FILE_MAX (4 * 1024 * 1024)
/* The most CPU shares a cgroup takes (the kernel's MAX_SHARES). */
#define CPU_SHARES_MAX 262144

/* Docker's default capabilities. */
static const char *const default_caps[] = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE", NULL};

/* Every capability, in the kernel's order (capability.h): bit i of a capability mask is
 * all_caps[i]. */
static const char *const all_caps[] = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE", NULL};

/* Docker's masked and read-only paths for containers that are not privileged. */
static const char *const masked_paths[] = {
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap", NULL};
static const char *const readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL};

static json_t *strings(const char *const *list)
{
    json_t *a = json_array();
    for (; *list; list++) json_array_append_new(a, json_string(*list));
    return a;
}

/* ---- Users ------------------------------------------------------------------------------- */

static int all_digits(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

/* Finds the line of an /etc/passwd or /etc/group file whose name (field 0) or, when by_id, id
 * (field 2) is key; returns its fields split in place (up to nf), or 0. */
static int find_entry(char *text, const char *key, int by_id, char **f, int nf)
{
    for (char *line = text; line && *line;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        int n = 0;
        for (char *p = line; n < nf;) {
            f[n++] = p;
            char *colon = strchr(p, ':');
            if (!colon) break;
            *colon = '\0';
            p = colon + 1;
        }
        if (n >= 3 && strcmp(f[by_id ? 2 : 0], key) == 0) return n;
        line = next;
    }
    return 0;
}

/* Opens etc/FILE of the image at root (a directory descriptor) without reading it (O_PATH): its
 * links resolve inside the image's root, as the container will see them, never to the host's
 * files.  Kernels before 5.6 lack openat2: there, no link is followed at all. */
static int open_etc(int root, const char *file)
{
    char rel[32];
    snprintf(rel, sizeof rel, "etc/%s", file);
    struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                           .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, root, rel, &how, sizeof how);
    if (fd >= 0 || errno != ENOSYS) return fd;
    int etc = openat(root, "etc", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    fd = etc < 0 ? -1 : openat(etc, file, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (etc >= 0) close(etc);
    return fd;
}

/* The image's /etc/FILE (passwd, group), or NULL when it has none that can be read: missing,
 * not a regular file (opening a FIFO would wait for a writer, a device may never end, and
 * opening some has effects of its own) or larger than ETC_FILE_MAX. */
static char *read_etc(const char *rootfs, const char *file)
{
    int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int at = root < 0 ? -1 : open_etc(root, file);
    if (root >= 0) close(root);
    struct stat st;
    char *text = NULL;
    if (at >= 0 && fstat(at, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= ETC_FILE_MAX) {
        /* Reopened for reading through its descriptor: the very file just looked at. */
        char self[64];
        snprintf(self, sizeof self, "/proc/self/fd/%d", at);
        int fd = open(self, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        text = fd < 0 ? NULL : xmalloc((size_t)st.st_size + 1);
        size_t n = 0;
        ssize_t got = 0;
        while (text && n < (size_t)st.st_size &&
               (got = read(fd, text + n, (size_t)st.st_size - n)) > 0)
            n += (size_t)got;
        if (text && got < 0) {
            free(text);
            text = NULL;
        } else if (text) {
            text[n] = '\0'; /* a file that shrank meanwhile is read as it is now */
        }
        if (fd >= 0) close(fd);
    }
    if (at >= 0) close(at);
    return text;
}

/* An id from the definition or the image: decimal, at most 4294967294 ((uid_t)-1 means "no
 * change" to the kernel).  Anything else is refused rather than wrapped into another id. */
static int parse_id(const char *text, unsigned *id)
{
    if (!*text || !all_digits(text) || strlen(text) > 10) return -1;
    unsigned long long v = strtoull(text, NULL, 10);
    if (v > 4294967294ULL) return -1;
    *id = (unsigned)v;
    return 0;
}

#define bad_id(what, name, value)                                                             \
    snprintf(reason, reason_len, "CannotStartContainerError: %s %s has the id '%.32s', which "  \
             "is not a number from 0 to 4294967294", what, name, value)

int container_resolve_user(const char *rootfs, const char *spec, unsigned *uid, unsigned *gid,
                           char **home, char *reason, size_t reason_len)
{
    char *user = xstrdup(spec && *spec ? spec : "0");
    char *group = strchr(user, ':');
    if (group) *group++ = '\0';
    char *passwd = read_etc(rootfs, "passwd");
    char *f[7];
    int n = passwd ? find_entry(passwd, user, all_digits(user), f, 7) : 0;
    int rc = -1;
    *home = NULL;
    if (n >= 4) {
        if (parse_id(f[2], uid) < 0 || parse_id(f[3], gid) < 0) {
            int which = parse_id(f[2], uid) < 0 ? 2 : 3;
            bad_id(which == 2 ? "the image's /etc/passwd: user" : "the image's /etc/passwd: "
                   "the group of user", user, f[which]);
            goto out;
        }
        *home = xstrdup(n >= 6 && *f[5] ? f[5] : "/");
    } else if (all_digits(user)) {
        /* A numeric user the image does not list runs as itself, in group 0, as in Docker. */
        if (parse_id(user, uid) < 0) {
            snprintf(reason, reason_len, "CannotStartContainerError: user %.32s is not an id "
                     "from 0 to 4294967294", user);
            goto out;
        }
        *gid = 0;
        *home = xstrdup("/");
    } else {
        snprintf(reason, reason_len, "CannotStartContainerError: unable to find user %s: no "
                 "matching entries in passwd file", user);
        goto out;
    }
    if (group) {
        char *groups = read_etc(rootfs, "group");
        char *g[4];
        const char *id = NULL;
        if (groups && find_entry(groups, group, all_digits(group), g, 4) >= 3) id = g[2];
        else if (all_digits(group)) id = group;
        if (!id) {
            snprintf(reason, reason_len, "CannotStartContainerError: unable to find group %s: "
                     "no matching entries in group file", group);
        } else if (parse_id(id, gid) < 0) {
            if (id == group)
                snprintf(reason, reason_len, "CannotStartContainerError: group %.32s is not an "
                         "id from 0 to 4294967294", group);
            else
                bad_id("the image's /etc/group: group", group, id);
            id = NULL;
        }
        free(groups);
        if (!id) {
            free(*home);
            *home = NULL;
            goto out;
        }
    }
    rc = 0;
out:
    free(passwd);
    free(user);
    return rc;
}

/* Whether name is one of list's comma-separated names (an /etc/group entry's members). */
static int member_of(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, name, n) == 0) return 1;
        p += len + (p[len] == ',');
    }
    return 0;
}

json_t *container_user_groups(const char *rootfs, const char *spec, unsigned gid)
{
    json_t *out = json_array();
    const char *user = spec && *spec ? spec : "0";
    if (strchr(user, ':')) return out; /* a group given: that group alone, as runc has it */
    char *passwd = read_etc(rootfs, "passwd"), *groups = NULL, *f[7], *g[4];
    if (!passwd || find_entry(passwd, user, all_digits(user), f, 7) < 4 ||
        !(groups = read_etc(rootfs, "group")))
        goto done;
    for (char *line = groups; line && *line;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        int k = 0;
        for (char *p = line; k < 4;) {
            g[k++] = p;
            char *colon = strchr(p, ':');
            if (!colon) break;
            *colon = '\0';
            p = colon + 1;
        }
        unsigned id;
        if (k == 4 && parse_id(g[2], &id) == 0 && id != gid && member_of(g[3], f[0]) &&
            json_array_size(out) < CONTAINER_GROUPS_MAX)
            json_array_append_new(out, json_integer(id));
        line = next;
    }
done:
    free(passwd);
    free(groups);
    return out;
}

/* ---- Process ----------------------------------------------------------------------------- */

/* Sets NAME=value in env, replacing an earlier value of NAME; at maps each name to its index
 * in env, so that each entry is merged at once (an image's Env is as long as its author
 * likes). */
static void env_put(json_t *env, json_t *at, const char *entry)
{
    const char *eq = strchr(entry, '=');
    json_t *value = eq && eq != entry ? json_string(entry) : NULL;
    if (!value) return;
    char *name = xstrndup(entry, (size_t)(eq - entry));
    json_t *i = json_object_get(at, name);
    if (i) {
        json_array_set_new(env, (size_t)json_integer_value(i), value);
    } else {
        json_object_set_new(at, name, json_integer((json_int_t)json_array_size(env)));
        json_array_append_new(env, value);
    }
    free(name);
}

/* The image's environment, then the job's (the definition's, the overrides', AWS_BATCH_*, in
 * the order the server sent), and HOME and PATH when neither gave them. */
static json_t *environment(const container_inputs *in, const char *home)
{
    json_t *env = json_array(), *at = json_object(), *v;
    size_t i;
    json_array_foreach(json_object_get(in->image, "Env"), i, v)
        if (json_is_string(v)) env_put(env, at, json_string_value(v));
    for (char **e = in->spec->envp; e && *e; e++) env_put(env, at, *e);
    if (!json_object_get(at, "PATH")) env_put(env, at, "PATH=" DEFAULT_PATH);
    if (!json_object_get(at, "HOME")) {
        char *h = xasprintf("HOME=%s", home);
        env_put(env, at, h);
        free(h);
    }
    json_decref(at);
    return env;
}

/* Docker's rule: the entrypoint, then the job's command, or the image's Cmd without one. */
static json_t *arguments(const container_inputs *in)
{
    json_t *args = json_array(), *v;
    size_t i;
    json_array_foreach(json_object_get(in->image, "Entrypoint"), i, v)
        if (json_is_string(v)) json_array_append(args, v);
    if (in->spec->argv && in->spec->argv[0]) {
        for (char **a = in->spec->argv; *a; a++) json_array_append_new(args, json_string(*a));
    } else {
        json_array_foreach(json_object_get(in->image, "Cmd"), i, v)
            if (json_is_string(v)) json_array_append(args, v);
    }
    return args;
}

static json_t *capabilities(int privileged)
{
    json_t *set;
    if (privileged) {
        /* Every capability the agent itself may hold (its bounding set): a runtime cannot give
         * more, and some hosts withhold a few even from root. */
        unsigned long long bound = 0;
        char *text = util_read_file("/proc/self/status");
        const char *line = text ? strstr(text, "\nCapBnd:") : NULL;
        if (line) bound = strtoull(line + 8, NULL, 16);
        free(text);
        set = json_array();
        for (int i = 0; all_caps[i] && i < 64; i++)
            if (bound & (1ULL << i)) json_array_append_new(set, json_string(all_caps[i]));
    } else {
        set = strings(default_caps);
    }
    return json_pack("{s:O, s:O, s:o}", "bounding", set, "permitted", set, "effective", set);
}

/* ---- The whole ---------------------------------------------------------------------------- */

json_t *container_config(const container_inputs *in, char *said, size_t said_len, char *reason,
                         size_t reason_len)
{
    json_t *cont = in->spec->container; /* may be NULL: the image as it is */
    json_t *lp = json_object_get(cont, "linuxParameters");
    int privileged = json_is_true(json_object_get(cont, "privileged"));
    /* The runtime resolves the working directory inside the container's root; Docker refuses
     * one that is not absolute, and so does barge, in Docker's words. */
    const char *cwd = json_string_value(json_object_get(in->image, "WorkingDir"));
    if (cwd && *cwd && cwd[0] != '/') {
        snprintf(reason, reason_len, "CannotStartContainerError: the working directory '%s' is "
                 "invalid, it needs to be an absolute path", cwd);
        return NULL;
    }
    const char *user_spec = json_string_value(json_object_get(cont, "user"));
    if (!user_spec || !*user_spec) user_spec = json_string_value(json_object_get(in->image, "User"));
    unsigned uid, gid;
    char *home;
    if (container_resolve_user(in->lower_rootfs, user_spec, &uid, &gid, &home, reason,
                               reason_len) < 0)
        return NULL;

    json_t *args = arguments(in);
    if (json_array_size(args) == 0) {
        snprintf(reason, reason_len, "CannotStartContainerError: no command specified");
        json_decref(args);
        free(home);
        return NULL;
    }
    if (json_is_true(json_object_get(lp, "initProcessEnabled")) && !in->init_path) {
        snprintf(reason, reason_len, "CannotStartContainerError: initProcessEnabled: barge-init "
                 "is not installed beside barge on this instance");
        json_decref(args);
        free(home);
        return NULL;
    }
    if (in->init_path && json_is_true(json_object_get(lp, "initProcessEnabled"))) {
        json_array_insert_new(args, 0, json_string("--"));
        json_array_insert_new(args, 0, json_string("/dev/init"));
    }

    json_t *env = environment(in, home);
    free(home);
    json_t *groups = container_user_groups(in->lower_rootfs, user_spec, gid);

    json_t *rlimits = container_rlimits(json_object_get(cont, "ulimits"), in->may_raise_rlimits,
                                        said, said_len);
    json_t *process = json_pack(
        "{s:b, s:{s:I, s:I}, s:o, s:o, s:s, s:o, s:o, s:b}", "terminal", 0, "user", "uid",
        (json_int_t)uid, "gid", (json_int_t)gid, "args", args, "env", env, "cwd", cwd && *cwd ? cwd : "/",
        "capabilities", capabilities(privileged), "rlimits",
        rlimits, "noNewPrivileges", 0);
    if (json_array_size(groups))
        json_object_set(json_object_get(process, "user"), "additionalGids", groups);
    json_decref(groups);

    /* A privileged container is the host's root, as its definition asked and the server
     * allowed: it gets no user namespace. */
    int userns = !privileged && in->ids && in->ids->size > 0;
    json_t *devs = json_array(), *rules = json_array();
    json_array_append_new(rules, json_pack("{s:b, s:s}", "allow", privileged, "access", "rwm"));
    json_t *mounts = container_mounts(in, privileged, userns, devs, rules, reason, reason_len);
    if (!mounts) {
        json_decref(process);
        json_decref(devs);
        json_decref(rules);
        return NULL;
    }

    /* vCPUs are a CPU weight, as ECS gives them on EC2 (1024 shares a vCPU): a busy host shares
     * its CPUs in proportion, an idle one lets a job use more.  Memory is limited on the
     * attempt's own cgroup, which holds the runtime and so the container's cgroup below it;
     * the container's cgroup carries the same limit, so that what runs inside reads it where
     * it looks (memory.limit_in_bytes, memory.max: a JVM sizes its heap from it). */
    json_t *vcpus = json_object_get(cont, "vcpus");
    json_t *resources = json_pack("{s:o}", "devices", rules);
    if (json_is_number(vcpus) && json_number_value(vcpus) > 0) {
        /* Within the shares a cgroup takes, and so within a long long before it is one. */
        double want = json_number_value(vcpus) * 1024;
        long long shares = want >= CPU_SHARES_MAX ? CPU_SHARES_MAX : want < 2 ? 2 : (long long)want;
        json_object_set_new(resources, "cpu", json_pack("{s:I}", "shares", (json_int_t)shares));
    }
    if (in->spec->max_pids > 0)
        json_object_set_new(resources, "pids",
                            json_pack("{s:I}", "limit", (json_int_t)in->spec->max_pids));
    json_t *memory = json_object();
    if (in->spec->memory_mib > 0)
        json_object_set_new(memory, "limit", json_integer((json_int_t)in->spec->memory_mib << 20));
    json_t *swappiness = json_object_get(lp, "swappiness");
    if (json_is_integer(swappiness)) json_object_set(memory, "swappiness", swappiness);
    if (json_object_size(memory)) json_object_set(resources, "memory", memory);
    json_decref(memory);
    /* The host's network and hostname; a PID, IPC and mount namespace of its own (and a user
     * namespace, below, unless it is privileged or the agent was told not to). */
    json_t *linux_ = json_pack("{s:[{s:s},{s:s},{s:s}], s:o, s:o}", "namespaces", "type", "pid",
                               "type", "ipc", "type", "mount", "resources", resources,
                               "devices", devs);
    if (userns) {
        /* Container ids 0 .. size-1 are host ids base .. base+size-1: its root is nobody
         * special on the host. */
        json_array_append_new(json_object_get(linux_, "namespaces"),
                              json_pack("{s:s}", "type", "user"));
        json_object_set_new(linux_, "uidMappings",
                            json_pack("[{s:i, s:I, s:I}]", "containerID", 0, "hostID",
                                      (json_int_t)in->ids->uid_base, "size",
                                      (json_int_t)in->ids->size));
        json_object_set_new(linux_, "gidMappings",
                            json_pack("[{s:i, s:I, s:I}]", "containerID", 0, "hostID",
                                      (json_int_t)in->ids->gid_base, "size",
                                      (json_int_t)in->ids->size));
    }
    if (!privileged) {
        json_object_set_new(linux_, "maskedPaths", strings(masked_paths));
        json_object_set_new(linux_, "readonlyPaths", strings(readonly_paths));
    }
    return json_pack("{s:s, s:o, s:{s:s, s:b}, s:o, s:o}", "ociVersion", "1.0.2", "process",
                     process, "root", "path", "rootfs", "readonly",
                     json_is_true(json_object_get(cont, "readonlyRootFilesystem")), "mounts",
                     mounts, "linux", linux_);
}
