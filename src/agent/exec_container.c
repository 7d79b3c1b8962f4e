/* exec_container — see exec_container.h. */
#include "agent/exec_container.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "agent/container_config.h"
#include "agent/container_rlimits.h"
#include "agent/remover.h"
#include "agent/tool.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

#define RUNC "runc"
/* The runtime's own environment: it needs only to find itself. */
#define RUNTIME_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* runc's own commands (delete, kill) answer at once; a stuck one is not waited for longer. */
#define RUNC_TOOL_TIMEOUT_S 30
/* The staged EFS directories and their parent: the root's alone (runc opens them as the
 * host's root), so that no other user passes through to the file systems bound there. */
#define EFS_STAGE_MODE 0700
/* In the bundle: written by runc once the container runs. */
#define PID_FILE "container.pid"
/* How long runc may take to start a container, as ECS's ECS_CONTAINER_START_TIMEOUT (3 minutes
 * on Linux): a runc whose start blocks (its init opening the image's /etc/passwd, a FIFO) left
 * the job STARTING until it was terminated.  $BARGE_CONTAINER_START_TIMEOUT_S changes it. */
#define START_TIMEOUT_S 180

struct container_host {
    char *state_root;
    char *efs_root; /* where EFS volumes' directories are bound for runc: STATE_ROOT-efs */
    image_cache *images;
    char *init_path;
    idmap ids; /* size 0: containers share the host's ids */
    const json_t *efs_mounts;
    void (*pulling)(void *ctx, const exec_spec *s, const char *reference);
    void *pulling_ctx;
    void (*say)(void *ctx, const exec_spec *s, const char *line);
    void *say_ctx;
    int may_raise_rlimits; /* the agent holds CAP_SYS_RESOURCE */
    atomic_uint seq;
};

/* One attempt's container, from prepare to cleanup. */
typedef struct cattempt {
    image_cache_entry *image;
    char *id;        /* the runtime's name for it: barge-<agent pid>-<n> */
    char *rootfs;    /* the overlay's mount point, the container's root */
    int mounted;
    /* The EFS volumes' directories, each bound at a path of its own for runc (stage_efs). */
    char **staged;
    size_t n_staged;
    /* Until it runs: the watch for runc's pid file and the start's deadline, both under the
     * attempt's ready_fd (an epoll set); start_late once the deadline passed. */
    int watch, deadline, start_late, start_timeout_s;
    /* The signal that asks it to stop: the image's STOPSIGNAL, SIGTERM when it names none (as
     * Docker's stop, and so ECS's StopTask, sends it). */
    int stop_signal;
} cattempt;

const char *container_runtime_missing(void)
{
    char *path = exec_resolve(RUNC, NULL);
    if (!path) return "runc is not installed (scripts/deps.sh installs it)";
    free(path);
    return NULL;
}

int container_host_isolate_mounts(void)
{
    if (unshare(CLONE_NEWNS) < 0) return -1;
    /* Slave: the host's mounts still appear here; those made here stay here. */
    if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) return -1;
    return 0;
}

container_host *container_host_new(const container_options *o, char **err)
{
    if (util_make_dirs(o->state_root, 0700) < 0) {
        *err = xasprintf("cannot create the container state directory %s: %s", o->state_root,
                         strerror(errno));
        return NULL;
    }
    container_host *h = xcalloc(1, sizeof *h);
    h->state_root = xstrdup(o->state_root);
    h->efs_root = xasprintf("%s-efs", o->state_root);
    h->images = o->images;
    h->init_path = o->init_path ? xstrdup(o->init_path) : NULL;
    h->ids = o->ids;
    h->efs_mounts = o->efs_mounts;
    h->pulling = o->pulling;
    h->pulling_ctx = o->pulling_ctx;
    h->say = o->say;
    h->say_ctx = o->say_ctx;
    h->may_raise_rlimits = container_may_raise_rlimits();
    return h;
}

void container_host_free(container_host *h)
{
    if (!h) return;
    free(h->state_root);
    free(h->efs_root);
    free(h->init_path);
    free(h);
}

/* runc --root ROOT VERB [args] ID; 0 when it succeeded. */
static int runc_tool(container_host *h, const char *verb, const char *arg, const char *id)
{
    char *argv[8];
    int n = 0;
    argv[n++] = RUNC;
    argv[n++] = "--root";
    argv[n++] = h->state_root;
    argv[n++] = (char *)verb;
    if (arg) argv[n++] = (char *)arg;
    argv[n++] = (char *)id;
    argv[n] = NULL;
    buf err = {0};
    int rc = tool_run(argv, RUNC_TOOL_TIMEOUT_S, &err);
    if (rc != 0) log_debug("runc %s %s: %s", verb, id, err.data ? err.data : "failed");
    buf_free(&err);
    return rc;
}

static int state_exists(container_host *h, const char *id)
{
    char *path = xasprintf("%s/%s", h->state_root, id);
    int yes = access(path, F_OK) == 0;
    free(path);
    return yes;
}

/* The bundle of a container whose root is rootfs, as runc's state records it: an attempt's
 * directory (WORK_DIR/slot-N/rootfs, executor.h), or NULL.  That record is a file the agent
 * reads back after a crash, and what it names is removed as root: nothing else goes. */
static char *bundle_of(const char *rootfs)
{
    size_t n = strlen(rootfs);
    if (n < 8 || rootfs[0] != '/' || strcmp(rootfs + n - 7, "/rootfs") != 0 ||
        strstr(rootfs, "/../") || strstr(rootfs, "/./"))
        return NULL;
    char *bundle = xstrndup(rootfs, n - 7);
    const char *name = strrchr(bundle, '/') + 1;
    char *end;
    if (name == bundle + 1 || strncmp(name, "slot-", 5) != 0 || !isdigit((unsigned char)name[5]) ||
        (strtoul(name + 5, &end, 10), *end)) {
        free(bundle);
        return NULL;
    }
    return bundle;
}

/* Kills and deletes container id, and, when the mount is visible here, unmounts its root and
 * removes its bundle. */
static void destroy(container_host *h, const char *id, int remove_bundle)
{
    char *state = xasprintf("%s/%s/state.json", h->state_root, id);
    char *text = util_read_file(state);
    json_t *st = text ? json_loads(text, 0, NULL) : NULL;
    const char *rootfs = json_string_value(json_object_get(json_object_get(st, "config"),
                                                           "rootfs"));
    runc_tool(h, "kill", "KILL", id);
    runc_tool(h, "delete", "--force", id);
    char *bundle = rootfs && remove_bundle ? bundle_of(rootfs) : NULL;
    if (bundle) {
        umount2(rootfs, MNT_DETACH);
        util_remove_tree(bundle);
        free(bundle);
    }
    json_decref(st);
    free(text);
    free(state);
}

/* Unbinds a staged EFS directory and removes its mount point: never a recursive removal,
 * which would reach into the file system while it is bound there. */
static void unstage(const char *dir)
{
    if (umount2(dir, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        log_warn("cannot unmount %s: %s", dir, strerror(errno));
    if (rmdir(dir) < 0 && errno != ENOENT)
        log_warn("cannot remove %s: %s", dir, strerror(errno));
}

int container_host_sweep(container_host *h)
{
    DIR *d = opendir(h->state_root);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "barge-");
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        long pid = strtol(e->d_name + strlen(prefix), NULL, 10);
        if (pid <= 0 || pid == (long)getpid() || util_process_alive(pid)) continue;
        log_info("removing container %s, left by an agent that is gone", e->d_name);
        destroy(h, e->d_name, 1);
        n++;
    }
    closedir(d);
    /* And the EFS directories they had bound (when the agent's mounts were the host's).  This
     * agent has bound none yet: one named with its pid is a predecessor's. */
    d = opendir(h->efs_root);
    while (d && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        long pid = strtol(e->d_name + strlen(prefix), NULL, 10);
        if (pid <= 0 || (pid != (long)getpid() && util_process_alive(pid))) continue;
        char *p = xasprintf("%s/%s", h->efs_root, e->d_name);
        unstage(p);
        free(p);
    }
    if (d) closedir(d);
    return n;
}

/* ---- The backend ------------------------------------------------------------------------- */

#define fail(reason, len, ...) (snprintf(reason, len, __VA_ARGS__), -1)

typedef struct stage_arg {
    container_host *h;
    cattempt *c;
} stage_arg;

/* container_inputs.stage_dir: binds the directory open as fd at STATE_ROOT-efs/ID-N, in the
 * agent's mount namespace, which the container's is made from.  runc then binds that mount:
 * the directory found, whatever a job has changed in the file system since.  (runc cannot
 * take a /proc/PID/fd path: it opens mount sources in the container's new namespace, where a
 * mount of the agent's is not its own.) */
static char *stage_efs(void *ctx, int fd, char *reason, size_t reason_len)
{
    stage_arg *sa = ctx;
    char *dir = xasprintf("%s/%s-%zu", sa->h->efs_root, sa->c->id, sa->c->n_staged);
    char *src = xasprintf("/proc/self/fd/%d", fd);
    /* Not recursive: the directory alone, so that a read-only mount point is read-only
     * throughout (runc's "ro" applies to the top of a bind). */
    int ok = util_make_dirs(sa->h->efs_root, EFS_STAGE_MODE) >= 0 &&
             mkdir(dir, EFS_STAGE_MODE) == 0;
    if (ok && mount(src, dir, NULL, MS_BIND, NULL) < 0) {
        int e = errno;
        rmdir(dir);
        errno = e;
        ok = 0;
    }
    if (!ok) snprintf(reason, reason_len, "cannot bind it at %s: %s", dir, strerror(errno));
    close(fd);
    free(src);
    if (!ok) {
        free(dir);
        return NULL;
    }
    sa->c->staged = xrealloc(sa->c->staged, (sa->c->n_staged + 1) * sizeof *sa->c->staged);
    sa->c->staged[sa->c->n_staged++] = xstrdup(dir);
    return dir;
}

/* All of text to fd; -1 with errno set otherwise. */
static int write_text(int fd, const char *text)
{
    for (size_t left = strlen(text); left;) {
        ssize_t n = write(fd, text, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            if (n == 0) errno = EIO;
            return -1;
        }
        text += n;
        left -= (size_t)n;
    }
    return 0;
}

static void note_pulling(void *arg, const char *reference)
{
    exec_attempt *a = arg;
    container_host *h = a->backend_ctx;
    if (h->pulling) h->pulling(h->pulling_ctx, a->spec, reference);
}

static int container_prepare(exec_attempt *a, char *reason, size_t reason_len)
{
    container_host *h = a->backend_ctx;
    const exec_spec *s = a->spec;
    cattempt *c = xcalloc(1, sizeof *c);
    c->watch = c->deadline = -1;
    a->priv = c;
    c->id = xasprintf("barge-%ld-%u", (long)getpid(), atomic_fetch_add(&h->seq, 1));
    if (!s->image || !*s->image)
        return fail(reason, reason_len, "CannotPullContainerError: %s%s",
                    "the job definition names no image", "");
    const char *auth = json_string_value(json_object_get(s->container, "registryAuth"));
    const char *auth_error = json_string_value(json_object_get(s->container,
                                                               "registryAuthError"));
    if (auth_error)
        return fail(reason, reason_len, "CannotPullContainerError: %s%s", auth_error, "");
    /* Every container but a privileged one has a user namespace unless the agent was told
     * otherwise, and its image unpacked with the namespace's ids. */
    const idmap *ids = h->ids.size && !json_is_true(json_object_get(s->container, "privileged"))
                           ? &h->ids : NULL;
    image_cache_note note = {note_pulling, a};
    if (image_cache_get(h->images, s->image, auth, ids, &note, &c->image, reason, reason_len) < 0)
        return -1;

    /* The attempt's own writable layer over the shared image.  Its upper directory is the
     * merged root's inode, so it takes the image root's owner and mode. */
    char *upper = xasprintf("%s/upper", a->work_dir), *work = xasprintf("%s/work", a->work_dir);
    c->rootfs = xasprintf("%s/rootfs", a->work_dir);
    char *lower = xasprintf("%s/rootfs", c->image->bundle);
    char *opts = xasprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work);
    struct stat root;
    int rc = 0;
    if (stat(lower, &root) < 0 || mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0 ||
        mkdir(c->rootfs, 0755) < 0 || chown(upper, root.st_uid, root.st_gid) < 0 ||
        chmod(upper, root.st_mode & 07777) < 0 ||
        /* runc's init, already the container's root in its user namespace, must pass through
         * the bundle to reach the rootfs; the directory stays unlistable. */
        chmod(a->work_dir, 0711) < 0) {
        rc = fail(reason, reason_len, "CannotStartContainerError: cannot create the container's "
                  "layer in %s: %s", a->work_dir, strerror(errno));
    } else if (mount("overlay", c->rootfs, "overlay", 0, opts) < 0) {
        rc = fail(reason, reason_len, "CannotStartContainerError: cannot mount the container's "
                  "writable layer on %s: %s", c->rootfs, strerror(errno));
    } else {
        c->mounted = 1;
    }
    free(opts);
    free(upper);
    free(work);
    if (rc < 0) {
        free(lower);
        return -1;
    }

    char *image_path = xasprintf("%s/image.json", c->image->bundle);
    json_t *image = json_load_file(image_path, 0, NULL);
    free(image_path);
    if (!image) image = json_object();
    const char *stop = json_string_value(json_object_get(image, "StopSignal"));
    c->stop_signal = stop ? util_signal_parse(stop) : SIGTERM;
    if (c->stop_signal < 0) {
        /* Said before the image's configuration, which holds the name, goes. */
        snprintf(reason, reason_len, "CannotStartContainerError: the image's STOPSIGNAL '%.64s' is "
             "not a signal", stop);
        json_decref(image);
        free(lower);
        return -1;
    }
    stage_arg sa = {h, c};
    container_inputs in = {s,         image,          lower, a->work_dir,         h->init_path,
                           ids,       h->efs_mounts, stage_efs, &sa, h->may_raise_rlimits};
    char said[512];
    json_t *config = container_config(&in, said, sizeof said, reason, reason_len);
    json_decref(image);
    free(lower);
    if (!config) return -1;
    /* The job is told in its own log, where one looking for why it ran short will look. */
    if (said[0] && h->say) {
        char *line = xasprintf("barge: %s", said);
        h->say(h->say_ctx, s, line);
        free(line);
    }
    if (said[0]) log_info("job %s attempt %d: %s", s->job_id, s->attempt, said);
    /* The agent's alone: it holds the job's environment, secrets included. */
    char *path = xasprintf("%s/config.json", a->work_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    char *text = container_rlimits_text(config);
    if (fd < 0 || !text || write_text(fd, text) < 0)
        rc = fail(reason, reason_len, "CannotStartContainerError: cannot write %s: %s", path,
                  strerror(errno));
    free(text);
    if (fd >= 0 && close(fd) < 0 && rc == 0)
        rc = fail(reason, reason_len, "CannotStartContainerError: cannot write %s: %s", path,
                  strerror(errno));
    free(path);
    json_decref(config);
    return rc;
}

static void container_kill(exec_attempt *a, int sig);

static int container_start(exec_attempt *a, char *reason, size_t reason_len)
{
    container_host *h = a->backend_ctx;
    cattempt *c = a->priv;
    char *log_path = xasprintf("%s/runc.log", a->work_dir);
    char *pid_path = xasprintf("%s/" PID_FILE, a->work_dir);
    char *argv[] = {RUNC, "--root", h->state_root, "--log", log_path, "--log-format", "json",
                    "run", "--pid-file", pid_path, "--bundle", (char *)a->work_dir, c->id, NULL};
    /* runc writes the pid file (by a rename) once the container exists and its program is
     * found; the job runs from then on.  The watch is set before runc starts. */
    int watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (watch < 0 || inotify_add_watch(watch, a->work_dir, IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
        snprintf(reason, reason_len, "CannotStartContainerError: cannot watch %s: %s",
                 a->work_dir, strerror(errno));
        if (watch >= 0) close(watch);
        free(log_path);
        free(pid_path);
        return -1;
    }
    char *envp[] = {RUNTIME_PATH, NULL};
    /* runc is started as the process backend starts a job: its own process group, the
     * attempt's cgroup from the first instruction, killed if the agent dies. */
    exec_spec runtime = *a->spec;
    runtime.argv = argv;
    runtime.envp = envp;
    exec_attempt ra = *a;
    ra.spec = &runtime;
    ra.run_uid = ra.run_gid = -1; /* runc runs as the agent; the container as its user */
    ra.own_uid = 0;
    ra.runtime = 1;
    int rc = exec_process_backend.start(&ra, reason, reason_len);
    free(log_path);
    free(pid_path);
    if (rc < 0) {
        close(watch);
        return -1;
    }
    a->pid = ra.pid;
    a->out_fd = ra.out_fd;
    a->err_fd = ra.err_fd;
    const char *t = getenv("BARGE_CONTAINER_START_TIMEOUT_S");
    c->start_timeout_s = t && atoi(t) > 0 ? atoi(t) : START_TIMEOUT_S;
    c->watch = watch;
    c->deadline = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec when = {.it_value = {c->start_timeout_s, 0}};
    int set = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    if (c->deadline < 0 || timerfd_settime(c->deadline, 0, &when, NULL) < 0 || set < 0 ||
        epoll_ctl(set, EPOLL_CTL_ADD, watch, &ev) < 0 ||
        epoll_ctl(set, EPOLL_CTL_ADD, c->deadline, &ev) < 0) {
        /* Without a deadline: the watch alone, as before. */
        if (set >= 0) close(set);
        if (c->deadline >= 0) close(c->deadline);
        a->ready_fd = watch;
        c->watch = c->deadline = -1;
        return 0;
    }
    a->ready_fd = set;
    return 0;
}

/* The watch, the deadline and the set that holds them, once the container runs or goes. */
static void close_start(exec_attempt *a, cattempt *c)
{
    if (a->ready_fd >= 0) close(a->ready_fd);
    a->ready_fd = -1;
    if (c && c->watch >= 0) close(c->watch);
    if (c && c->deadline >= 0) close(c->deadline);
    if (c) c->watch = c->deadline = -1;
}

static int container_ready(exec_attempt *a)
{
    cattempt *c = a->priv;
    char events[4096];
    int watch = c->watch >= 0 ? c->watch : a->ready_fd;
    while (read(watch, events, sizeof events) > 0) { /* drained; the file says */ }
    char *path = xasprintf("%s/" PID_FILE, a->work_dir);
    int yes = access(path, F_OK) == 0;
    free(path);
    uint64_t passed = 0;
    if (yes) {
        close_start(a, c);
    } else if (c->deadline >= 0 && read(c->deadline, &passed, sizeof passed) == sizeof passed &&
               passed && !c->start_late) {
        /* runc's exit then ends the attempt (container_examine says why). */
        c->start_late = 1;
        log_warn("container %s did not start within %d seconds; stopping its runtime", c->id,
                 c->start_timeout_s);
        container_kill(a, SIGKILL);
    }
    return yes;
}

static void container_kill(exec_attempt *a, int sig)
{
    container_host *h = a->backend_ctx;
    cattempt *c = a->priv;
    if (sig != SIGKILL) {
        /* runc forwards what it receives to the container's first process.  An order to stop
         * is the image's own stop signal. */
        if (sig == SIGTERM && c && c->stop_signal > 0) sig = c->stop_signal;
        if (a->pid > 0) kill(a->pid, sig);
        return;
    }
    /* Everything in the attempt's cgroup and below: runc, and the container's processes in the
     * cgroup runc made. */
    if (a->cg) cgroup_kill_all(a->cg);
    else if (c && state_exists(h, c->id)) runc_tool(h, "kill", "KILL", c->id);
    if (a->pid > 0) kill(-a->pid, SIGKILL);
}

/* A container that never ran (runc ended before it wrote the pid file): runc says why in its
 * log, at level error. */
static void container_examine(exec_attempt *a, exec_result *r, char *buf_, size_t len)
{
    /* Only a container that never ran needs a reason: it failed between runc's start and
     * its own (a stop order's own reason stands). */
    if (r->started || r->cause != EXEC_STOP_NONE) return;
    cattempt *c = a->priv;
    if (c && c->start_late) {
        snprintf(buf_, len, "CannotStartContainerError: the container did not start within %d "
                 "seconds", c->start_timeout_s);
        r->reason = buf_;
        return;
    }
    char *path = xasprintf("%s/runc.log", a->work_dir);
    char *text = util_read_file(path);
    free(path);
    const char *msg = NULL;
    json_t *last = NULL;
    for (char *line = text; line && *line;) {
        char *next = strchr(line, '\n');
        if (next) *next++ = '\0';
        json_t *j = json_loads(line, 0, NULL);
        const char *level = json_string_value(json_object_get(j, "level"));
        if (level && (!strcmp(level, "error") || !strcmp(level, "fatal"))) {
            json_decref(last);
            last = j;
        } else {
            json_decref(j);
        }
        line = next;
    }
    msg = json_string_value(json_object_get(last, "msg"));
    if (msg) {
        const char *m = msg;
        /* "runc run failed: unable to start container process: exec: ..." reads as Docker's
         * message once runc's own words are gone. */
        const char *cut = strstr(m, "unable to start container process: ");
        if (cut) m = cut + strlen("unable to start container process: ");
        snprintf(buf_, len, "CannotStartContainerError: %s", m);
    } else if (r->exited) {
        snprintf(buf_, len, "CannotStartContainerError: runc exited with status %d before the "
                 "container started", r->exit_code);
    } else {
        snprintf(buf_, len, "CannotStartContainerError: runc was killed by signal %d before the "
                 "container started", r->signal);
    }
    r->reason = buf_;
    json_decref(last);
    free(text);
}

/* The cgroups runc made for container id at the top of each hierarchy, removed when empty (as
 * they are once its processes are gone): a runc the memory limit killed as it made the
 * container left a state that does not name them, and `runc delete` left them behind. */
static void remove_runtime_cgroups(const char *id)
{
    DIR *d = opendir("/sys/fs/cgroup");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char *p = xasprintf("/sys/fs/cgroup/%s/%s", e->d_name, id);
        rmdir(p);
        free(p);
    }
    if (d) closedir(d);
    char *unified = xasprintf("/sys/fs/cgroup/%s", id);
    rmdir(unified);
    free(unified);
}

static void container_cleanup(exec_attempt *a)
{
    container_host *h = a->backend_ctx;
    cattempt *c = a->priv;
    close_start(a, c);
    if (!c) return;
    /* A container whose runc was killed keeps its state: it is deleted here. */
    if (c->id && state_exists(h, c->id)) runc_tool(h, "delete", "--force", c->id);
    if (c->id) remove_runtime_cgroups(c->id);
    if (c->mounted && umount2(c->rootfs, MNT_DETACH) < 0)
        log_warn("cannot unmount %s: %s", c->rootfs, strerror(errno));
    /* The layer, the mount point and the bundle's files: the directory is left empty, fit for
     * another attempt. */
    DIR *d = opendir(a->work_dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = xasprintf("%s/%s", a->work_dir, e->d_name);
        remover_discard(p); /* a layer may hold many files: off the supervisor's thread */
        free(p);
    }
    if (d) closedir(d);
    if (c->image) image_cache_release(h->images, c->image);
    for (size_t i = 0; i < c->n_staged; i++) {
        unstage(c->staged[i]);
        free(c->staged[i]);
    }
    free(c->staged);
    free(c->id);
    free(c->rootfs);
    free(c);
    a->priv = NULL;
}

const exec_backend exec_container_backend = {
    .name = "container",
    .start = container_start,
    .kill = container_kill,
    .prepare = container_prepare,
    .ready = container_ready,
    .examine = container_examine,
    .cleanup = container_cleanup,
};
