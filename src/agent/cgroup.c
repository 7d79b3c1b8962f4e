/* cgroup — detection of the memory controller and one cgroup per attempt.  See cgroup.h. */
#include "agent/cgroup.h"
#include "agent/cgroup_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/util.h"

struct cgroup_host {
    cgroup_mode mode;
    char *own;    /* the agent's cgroup when it started */
    char *leaf;   /* v2: the leaf the agent moved itself into, or NULL */
    char *parent; /* the per-agent parent of the attempts' cgroups */
    char *note;
    int memsw;    /* v1: swap can be limited (memory.memsw.* exist) */
    int64_t limit;
    cgroup *idle;      /* the pool: empty cgroups waiting for their next attempt */
    int nidle, pool_max;
    unsigned next_slot; /* names the pool's cgroups "slot-N" */
};


const char *cgroup_mode_name(cgroup_mode m)
{
    return m == CGROUP_V1 ? "v1" : m == CGROUP_V2 ? "v2" : "none";
}

/* Small file helpers.  Control files are tiny; a short read means the whole file. */

static ssize_t read_text(const char *path, char *out, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t got = 0;
    while (got + 1 < n) {
        ssize_t r = read(fd, out + got, n - 1 - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    out[got] = '\0';
    return (ssize_t)got;
}

/* Writes s to dir/file; 0, or -1 with errno set. */
static int write_ctl(const char *dir, const char *file, const char *s)
{
    char *path = xasprintf("%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    free(path);
    if (fd < 0) return -1;
    ssize_t w = write(fd, s, strlen(s));
    int saved = errno;
    close(fd);
    if (w != (ssize_t)strlen(s)) {
        errno = w < 0 ? saved : EIO;
        return -1;
    }
    return 0;
}

static int ctl_exists(const char *dir, const char *file)
{
    char *path = xasprintf("%s/%s", dir, file);
    int ok = access(path, F_OK) == 0;
    free(path);
    return ok;
}

/* The value of "key N" in the text of a flat-keyed control file; 0 when key is absent. */
static long keyed_in(const char *text, const char *key)
{
    size_t klen = strlen(key);
    for (const char *line = text; *line;) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
            return strtol(line + klen + 1, NULL, 10);
        const char *nl = strchr(line, '\n');
        if (!nl) break;
        line = nl + 1;
    }
    return 0;
}

/* The value of "key N" in a flat-keyed control file (memory.events, memory.oom_control). */
static long keyed_value(const char *dir, const char *file, const char *key)
{
    char *path = xasprintf("%s/%s", dir, file);
    char text[4096];
    ssize_t n = read_text(path, text, sizeof text);
    free(path);
    if (n < 0) return 0;
    return keyed_in(text, key);
}

/* The value of "key N" in a flat-keyed control file read through a descriptor kept open (these
 * files are generated afresh on every read from offset 0), or -1 when it cannot be read. */
static long keyed_value_fd(int fd, const char *key)
{
    char text[1024];
    ssize_t n;
    do n = pread(fd, text, sizeof text - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) return -1;
    text[n] = '\0';
    return keyed_in(text, key);
}

/* The memory limit of dir and its ancestors, as far up as the limit file exists. */
static int64_t tightest_limit(const char *dir, const char *file)
{
    int64_t best = -1;
    char *d = xstrdup(dir);
    for (;;) {
        char *path = xasprintf("%s/%s", d, file);
        char text[64];
        ssize_t n = read_text(path, text, sizeof text);
        free(path);
        if (n <= 0) break;
        if (strncmp(text, "max", 3) != 0) {
            long long v = strtoll(text, NULL, 10);
            /* v1 spells "no limit" as a page-rounded LLONG_MAX. */
            if (v > 0 && v < (1LL << 62) && (best < 0 || v < best)) best = v;
        }
        char *slash = strrchr(d, '/');
        if (!slash || slash == d) break;
        *slash = '\0';
    }
    free(d);
    return best;
}

static int for_children(const char *dir, int (*fn)(const char *path));
static int remove_child(const char *path);

/* Kills what runs in cg until nothing is left (half a second at most): how many processes
 * were there at first. */
static int kill_until_empty(cgroup *cg)
{
    int found = cgroup_kill_all(cg);
    for (int i = 0, n = found; i < 50 && n > 0; i++) {
        usleep(10000);
        n = cgroup_kill_all(cg);
    }
    return found;
}

/* Kills and removes the cgroups below dir (what a previous agent with the same name left, or
 * a dead agent's attempts): how many processes were found in them at first. */
static int clear_children(const char *dir, cgroup_mode mode)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
        cgroup stale = {.mode = mode, .path = xasprintf("%s/%s", dir, e->d_name),
                        .procs_fd = -1, .oom_fd = -1, .events_fd = -1};
        found += kill_until_empty(&stale);
        /* A container runtime's cgroups below the attempt's go first. */
        for_children(stale.path, remove_child);
        rmdir(stale.path);
        free(stale.path);
    }
    closedir(d);
    return found;
}

static int pids_other_than_self(const char *dir)
{
    char *path = xasprintf("%s/cgroup.procs", dir);
    char *text = util_read_file(path);
    free(path);
    if (!text) return -1;
    int others = 0;
    for (char *p = text; *p;) {
        char *end;
        long pid = strtol(p, &end, 10);
        if (end == p) break;
        if (pid != (long)getpid()) others++;
        p = end;
        while (*p == '\n') p++;
    }
    free(text);
    return others;
}

static cgroup_host *give_up(cgroup_host *h, char *note)
{
    h->mode = CGROUP_NONE;
    free(h->note);
    h->note = note;
    return h;
}

/* cgroup v2: controllers are enabled for a cgroup's children in its cgroup.subtree_control, and
 * only a cgroup without processes may enable them (the root excepted).  So the agent moves
 * itself into a leaf below its cgroup, which must hold no other process. */
static cgroup_host *setup_v2(cgroup_host *h, const char *name)
{
    char text[1024];
    char *path = xasprintf("%s/cgroup.controllers", h->own);
    ssize_t n = read_text(path, text, sizeof text);
    free(path);
    if (n < 0 || !cgroup__has_word(text, "memory"))
        return give_up(h, xasprintf("cgroup v2: the memory controller is not available in the "
                                    "agent's cgroup %s (its parent does not delegate it)",
                                    h->own));
    path = xasprintf("%s/cgroup.subtree_control", h->own);
    n = read_text(path, text, sizeof text);
    free(path);
    if (n < 0 || !cgroup__has_word(text, "memory")) {
        int others = pids_other_than_self(h->own);
        if (others != 0)
            return give_up(h, xasprintf(
                "cgroup v2: the agent's cgroup %s also holds other processes, and v2 enables "
                "controllers for child cgroups only in a cgroup without processes; start the "
                "agent in a cgroup of its own (for example systemd-run --scope -p Delegate=yes) "
                "to enforce memory limits", h->own));
        char *leaf = xasprintf("%s/%s-agent", h->own, name);
        char pid[32];
        snprintf(pid, sizeof pid, "%ld", (long)getpid());
        if (mkdir(leaf, 0755) < 0 && errno != EEXIST) {
            int e = errno;
            free(leaf);
            return give_up(h, xasprintf("cgroup v2: cannot create %s/%s-agent: %s", h->own, name,
                                        strerror(e)));
        }
        if (write_ctl(leaf, "cgroup.procs", pid) < 0) {
            int e = errno;
            rmdir(leaf);
            free(leaf);
            return give_up(h, xasprintf("cgroup v2: cannot move the agent into a leaf cgroup "
                                        "below %s: %s", h->own, strerror(e)));
        }
        h->leaf = leaf;
        if (write_ctl(h->own, "cgroup.subtree_control", "+memory") < 0) {
            int e = errno;
            write_ctl(h->own, "cgroup.procs", pid);
            rmdir(leaf);
            free(leaf);
            h->leaf = NULL;
            return give_up(h, xasprintf("cgroup v2: cannot enable the memory controller in "
                                        "%s/cgroup.subtree_control: %s", h->own, strerror(e)));
        }
    }
    if (write_ctl(h->parent, "cgroup.subtree_control", "+memory") < 0)
        return give_up(h, xasprintf("cgroup v2: cannot enable the memory controller in "
                                    "%s/cgroup.subtree_control: %s", h->parent, strerror(errno)));
    return h;
}

cgroup_host *cgroup_host_setup(const char *name)
{
    cgroup_host *h = xcalloc(1, sizeof *h);
    h->limit = -1;
    h->pool_max = 8;
    char *pc = util_read_file("/proc/self/cgroup"), *mi = util_read_file("/proc/self/mountinfo");
    char *why = NULL;
    if (!pc || !mi)
        why = xstrdup("cannot read /proc/self/cgroup or /proc/self/mountinfo");
    else
        h->mode = cgroup_locate(pc, mi, &h->own, &why);
    free(pc);
    free(mi);
    if (h->mode == CGROUP_NONE) return give_up(h, why);

    h->limit = tightest_limit(h->own,
                              h->mode == CGROUP_V1 ? "memory.limit_in_bytes" : "memory.max");
    if (h->mode == CGROUP_V1 && !ctl_exists(h->own, "memory.limit_in_bytes"))
        return give_up(h, xasprintf("cgroup v1: %s has no memory.limit_in_bytes", h->own));
    h->parent = xasprintf("%s/%s", h->own, name);
    if (mkdir(h->parent, 0755) < 0) {
        if (errno != EEXIST)
            return give_up(h, xasprintf("cgroup %s: cannot create %s: %s (the agent needs write "
                                        "access to its own cgroup: run it as root or in a "
                                        "delegated cgroup)", cgroup_mode_name(h->mode), h->parent,
                                        strerror(errno)));
        clear_children(h->parent, h->mode);
    }
    if (h->mode == CGROUP_V2 && setup_v2(h, name)->mode == CGROUP_NONE) {
        rmdir(h->parent);
        return h;
    }
    h->memsw = h->mode == CGROUP_V1 && ctl_exists(h->parent, "memory.memsw.limit_in_bytes");

    /* A probe proves, once, that limits can really be set, so that no attempt fails later for a
     * reason the agent could have found at start-up. */
    char err[512];
    cgroup *probe = cgroup_create(h, "probe", 64 << 20, err, sizeof err);
    if (!probe) {
        rmdir(h->parent);
        return give_up(h, xstrdup(err));
    }
    cgroup_remove(probe);
    cgroup_free(probe);
    h->note = xasprintf("memory limits enforced with cgroup %s under %s%s",
                        cgroup_mode_name(h->mode), h->parent,
                        h->mode == CGROUP_V1 && !h->memsw ? " (swap is not limited: the kernel "
                                                            "does not account it)" : "");
    return h;
}

cgroup_mode cgroup_host_mode(const cgroup_host *h)
{
    return h->mode;
}

const char *cgroup_host_note(const cgroup_host *h)
{
    return h->note;
}

int64_t cgroup_host_memory_limit(const cgroup_host *h)
{
    return h->limit;
}

/* Kills what runs in path and in the cgroups below it, then removes them: how many processes
 * were found at first. */
static int sweep_tree(const char *path, cgroup_mode mode)
{
    int found = clear_children(path, mode);
    cgroup stale = {.mode = mode, .path = (char *)path, .procs_fd = -1, .oom_fd = -1,
                    .events_fd = -1};
    found += kill_until_empty(&stale);
    rmdir(path);
    return found;
}

int cgroup_sweep_dead(const char *dir, const char *prefix, cgroup_mode mode)
{
    if (mode == CGROUP_NONE) return 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t plen = strlen(prefix);
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_type != DT_DIR || strncmp(e->d_name, prefix, plen) != 0) continue;
        char *end;
        long pid = strtol(e->d_name + plen, &end, 10);
        if (pid <= 0 || end == e->d_name + plen || (*end && strcmp(end, "-agent") != 0)) continue;
        /* A live process with that id may be another agent, or an unrelated process that got the
         * id again; either way the cgroup is left alone. */
        if (pid == (long)getpid() || util_process_alive(pid)) continue;
        char *path = xasprintf("%s/%s", dir, e->d_name);
        sweep_tree(path, mode);
        struct stat st;
        if (stat(path, &st) < 0) removed++;
        free(path);
    }
    closedir(d);
    return removed;
}

int cgroup_sweep_agent(const char *dir, const char *name, cgroup_mode mode)
{
    if (mode == CGROUP_NONE) return 0;
    char *path = xasprintf("%s/%s", dir, name);
    int found = sweep_tree(path, mode);
    free(path);
    return found;
}

const char *cgroup_host_dir(const cgroup_host *h)
{
    return h->own;
}

int cgroup_host_sweep(cgroup_host *h, const char *prefix)
{
    return cgroup_sweep_dead(h->own, prefix, h->mode);
}

void cgroup_host_set_pool(cgroup_host *h, int n)
{
    h->pool_max = n < 0 ? 0 : n;
}

void cgroup_host_teardown(cgroup_host *h)
{
    if (!h) return;
    for (cgroup *cg = h->idle, *next; cg; cg = next) {
        next = cg->next;
        cgroup_remove(cg);
        cgroup_free(cg);
    }
    h->idle = NULL;
    h->nidle = 0;
    if (h->mode != CGROUP_NONE && h->parent) {
        clear_children(h->parent, h->mode);
        rmdir(h->parent);
    }
    if (h->leaf) {
        /* The agent's old cgroup can take it back only once it enables no controller. */
        char pid[32];
        snprintf(pid, sizeof pid, "%ld", (long)getpid());
        write_ctl(h->own, "cgroup.subtree_control", "-memory");
        if (write_ctl(h->own, "cgroup.procs", pid) == 0) rmdir(h->leaf);
    }
    free(h->own);
    free(h->leaf);
    free(h->parent);
    free(h->note);
    free(h);
}

/* Sets the memory limit (0: none) and forbids swap under a limit.  On v1 the kernel requires
 * memory.limit_in_bytes <= memory.memsw.limit_in_bytes at every step, so a limit that grows
 * moves memsw first and one that shrinks moves it last.  Returns the failing step's verb, or
 * NULL. */
static const char *set_limit(cgroup *cg, int64_t limit_bytes)
{
    char v[32];
    if (limit_bytes > 0) snprintf(v, sizeof v, "%lld", (long long)limit_bytes);
    else snprintf(v, sizeof v, "%s", cg->mode == CGROUP_V1 ? "-1" : "max");
    const char *what = "set the memory limit of";
    if (cg->mode == CGROUP_V1) {
        int grows = limit_bytes <= 0 || (cg->limit > 0 && limit_bytes > cg->limit);
        /* memsw bounds memory plus swap; equal to the limit, it forbids swap. */
        if (cg->memsw && grows && write_ctl(cg->path, "memory.memsw.limit_in_bytes", v) < 0)
            return what;
        if (write_ctl(cg->path, "memory.limit_in_bytes", v) < 0) return what;
        if (cg->memsw && !grows && write_ctl(cg->path, "memory.memsw.limit_in_bytes", v) < 0)
            return what;
        if (!cg->memsw && limit_bytes > 0) write_ctl(cg->path, "memory.swappiness", "0");
    } else {
        if (write_ctl(cg->path, "memory.max", v) < 0) return what;
        if (write_ctl(cg->path, "memory.swap.max", limit_bytes > 0 ? "0" : "max") < 0 &&
            errno != ENOENT)
            return what;
    }
    cg->limit = limit_bytes > 0 ? limit_bytes : 0;
    return NULL;
}

static int open_ctl(const char *dir, const char *file, int flags)
{
    char *path = xasprintf("%s/%s", dir, file);
    int fd = open(path, flags | O_CLOEXEC);
    free(path);
    return fd;
}

/* v1: asks for an eventfd notification of OOM in this cgroup (cgroup.event_control). */
static void watch_oom(cgroup *cg)
{
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int ctl = efd >= 0 ? open_ctl(cg->path, "cgroup.event_control", O_WRONLY) : -1;
    char line[32];
    int n = snprintf(line, sizeof line, "%d %d", efd, cg->oom_fd);
    if (ctl >= 0 && write(ctl, line, (size_t)n) == n) {
        cg->oom_efd = efd;
        efd = -1;
    }
    if (ctl >= 0) close(ctl);
    if (efd >= 0) close(efd);
}

/* v1: adds the OOM notifications that arrived since the last look. */
static void read_oom_events(cgroup *cg)
{
    uint64_t v;
    if (cg->oom_efd >= 0 && read(cg->oom_efd, &v, sizeof v) == (ssize_t)sizeof v)
        cg->oom_events += (long)v;
}

cgroup *cgroup_create(cgroup_host *h, const char *name, int64_t limit_bytes, char *err,
                      size_t errlen)
{
    if (h->mode == CGROUP_NONE) {
        snprintf(err, errlen, "cgroups are not in use: %s", h->note);
        return NULL;
    }
    cgroup *cg = xcalloc(1, sizeof *cg);
    cg->mode = h->mode;
    cg->memsw = h->memsw;
    cg->procs_fd = cg->oom_fd = cg->events_fd = cg->oom_efd = -1;
    cg->path = xasprintf("%s/%s", h->parent, name);
    const char *what = "create";
    if (mkdir(cg->path, 0755) < 0) {
        if (errno != EEXIST) goto fail;
        /* Left over from an earlier run of the same attempt name: empty it and start afresh. */
        for (int i = 0; i < 50 && cgroup_kill_all(cg) > 0; i++) usleep(10000);
        rmdir(cg->path);
        if (mkdir(cg->path, 0755) < 0 && errno != EEXIST) goto fail;
    }
    if (limit_bytes > 0 && (what = set_limit(cg, limit_bytes)) != NULL) goto fail;
    what = "open cgroup.procs of";
    /* Read and write: the spawner's child writes to it, the pool reads it (v1) to see whether
     * the cgroup is empty. */
    cg->procs_fd = open_ctl(cg->path, "cgroup.procs", O_RDWR);
    if (cg->procs_fd < 0) goto fail;
    /* The OOM counter and v2's populated flag are read around every attempt: kept open, each
     * read costs one system call. */
    cg->oom_fd = open_ctl(cg->path, h->mode == CGROUP_V1 ? "memory.oom_control" : "memory.events",
                          O_RDONLY);
    if (h->mode == CGROUP_V2) cg->events_fd = open_ctl(cg->path, "cgroup.events", O_RDONLY);
    if (h->mode == CGROUP_V1 && cg->oom_fd >= 0) watch_oom(cg);
    return cg;
fail:
    snprintf(err, errlen, "cannot %s the memory cgroup %s: %s", what, cg->path, strerror(errno));
    rmdir(cg->path);
    cgroup_free(cg);
    return NULL;
}

cgroup *cgroup_acquire(cgroup_host *h, int64_t limit_bytes, char *err, size_t errlen)
{
    while (h->idle) {
        cgroup *cg = h->idle;
        h->idle = cg->next;
        h->nidle--;
        cg->next = NULL;
        cg->empty = 0;
        if (cg->limit == (limit_bytes > 0 ? limit_bytes : 0) || !set_limit(cg, limit_bytes))
            return cg;
        /* A cgroup that refuses the new limit (it may hold more than that already, charged
         * for caches) is let go, and the next one tried. */
        if (cgroup_remove(cg) == 0) cgroup_free(cg);
        else {
            cg->next = h->idle;
            h->idle = cg;
            h->nidle++;
            break;
        }
    }
    char name[32];
    snprintf(name, sizeof name, "slot-%u", h->next_slot++);
    return cgroup_create(h, name, limit_bytes, err, errlen);
}

/* v2's cgroup.events says whether any process is in the cgroup or below.  v1 has no such flag:
 * cgroup.procs lists the cgroup's own processes (read afresh: a descriptor kept open would show
 * a cached list), and a child cgroup, which an attempt running as root could make, shows as a
 * link count above 2. */
static int known_empty(cgroup *cg)
{
    if (cg->mode == CGROUP_V2)
        return cg->empty || (cg->events_fd >= 0 && keyed_value_fd(cg->events_fd, "populated") == 0);
    if (!cg->empty) {
        int fd = open_ctl(cg->path, "cgroup.procs", O_RDONLY);
        if (fd < 0) return 0;
        char c;
        ssize_t n = read(fd, &c, 1);
        close(fd);
        if (n != 0) return 0;
    }
    struct stat st;
    return stat(cg->path, &st) == 0 && st.st_nlink == 2;
}

int cgroup_release(cgroup_host *h, cgroup *cg)
{
    if (!cg) return 0;
    if (!known_empty(cg)) return -1;
    /* Empty now, so the counter cannot move before the next attempt starts. */
    long oom = cg->oom_fd >= 0 ? keyed_value_fd(cg->oom_fd, "oom_kill") : -1;
    if (h->nidle < h->pool_max && oom >= 0 && cg->procs_fd >= 0) {
        cg->oom_base = oom;
        /* v1's peak starts again from what is charged now; v2's cannot be reset everywhere. */
        if (cg->mode == CGROUP_V1) {
            int fd = open_ctl(cg->path, "memory.max_usage_in_bytes", O_WRONLY);
            if (fd >= 0) {
                if (write(fd, "0", 1) < 0) cg->reused = 1;
                close(fd);
            }
        } else {
            cg->reused = 1;
        }
        read_oom_events(cg);
        cg->oom_events = 0;
        cg->next = h->idle;
        h->idle = cg;
        h->nidle++;
        return 0;
    }
    if (cgroup_remove(cg) < 0) return -1;
    cgroup_free(cg);
    return 0;
}

int cgroup_peak_known(const cgroup *cg)
{
    return !cg->reused; /* reused: its peak could not be started again (cgroup_release) */
}

long long cgroup_memory_peak(const cgroup *cg)
{
    if (!cgroup_peak_known(cg)) return -1;
    int fd = open_ctl(cg->path, cg->mode == CGROUP_V1 ? "memory.max_usage_in_bytes"
                                                      : "memory.peak", O_RDONLY);
    if (fd < 0) return -1;
    char text[32];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return -1;
    text[n] = '\0';
    char *end;
    long long v = strtoll(text, &end, 10);
    return end == text || v < 0 ? -1 : v;
}

int cgroup_procs_fd(const cgroup *cg)
{
    return cg->procs_fd;
}

const char *cgroup_path(const cgroup *cg)
{
    return cg->path;
}

long cgroup_oom_kills(const cgroup *cg)
{
    long n = cg->oom_fd >= 0 ? keyed_value_fd(cg->oom_fd, "oom_kill") : -1;
    if (n < 0)
        n = cg->mode == CGROUP_V1 ? keyed_value(cg->path, "memory.oom_control", "oom_kill")
                                  : keyed_value(cg->path, "memory.events", "oom_kill");
    n -= cg->oom_base;
    if (cg->mode == CGROUP_V1) {
        read_oom_events((cgroup *)cg);
        if (cg->oom_events > n) n = cg->oom_events;
    }
    return n;
}

static int kill_procs(cgroup *cg);
static int kill_child(const char *path);
static int remove_child(const char *path);

/* Calls fn on every cgroup directory below dir, deepest first; returns the sum of its answers. */
static int for_children(const char *dir, int (*fn)(const char *path))
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int sum = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
        char *sub = xasprintf("%s/%s", dir, e->d_name);
        sum += for_children(sub, fn) + fn(sub);
        free(sub);
    }
    closedir(d);
    return sum;
}

static int kill_child(const char *path)
{
    cgroup c = {.mode = CGROUP_V1, .path = (char *)path, .procs_fd = -1, .oom_fd = -1,
                .events_fd = -1, .oom_efd = -1};
    return kill_procs(&c);
}

static int remove_child(const char *path)
{
    return rmdir(path) == 0;
}

/* SIGKILL to each process listed in the cgroup's own cgroup.procs; how many were listed. */
static int kill_procs(cgroup *cg)
{
    char *path = xasprintf("%s/cgroup.procs", cg->path);
    /* Most often the list is empty or short: a buffer on the stack, without stdio. */
    char small[4096], *text = small;
    ssize_t n = read_text(path, small, sizeof small);
    if (n >= (ssize_t)sizeof small - 1) text = util_read_file(path);
    free(path);
    if (n < 0 || !text) return 0;
    int found = 0;
    for (char *p = text; *p;) {
        char *end;
        long pid = strtol(p, &end, 10);
        if (end == p) break;
        if (pid > 0) {
            kill((pid_t)pid, SIGKILL);
            found++;
        }
        p = end;
        while (*p == '\n') p++;
    }
    if (text != small) free(text);
    return found;
}

int cgroup_kill_all(cgroup *cg)
{
    if (!cg->path) return 0; /* removed already */
    /* The usual end of an attempt finds the cgroup empty already: v2 says so in one read. */
    if (cg->mode == CGROUP_V2 && cg->events_fd >= 0 &&
        keyed_value_fd(cg->events_fd, "populated") == 0) {
        cg->empty = 1;
        return 0;
    }
    cg->empty = 0;
    /* cgroup.kill (v2, Linux 5.14) kills atomically, forks in flight included, and below. */
    int killed_below = cg->mode == CGROUP_V2 && write_ctl(cg->path, "cgroup.kill", "1") == 0;
    int found = kill_procs(cg);
    /* Without it (v1, or an older kernel's v2) the cgroups below this one (a container
     * runtime makes one for its container) are emptied one by one. */
    if (!killed_below) found += for_children(cg->path, kill_child);
    /* No process can enter it once none is left: only the spawner's children join it. */
    if (found == 0) cg->empty = 1;
    return found;
}

int cgroup_remove(cgroup *cg)
{
    if (!cg->path) return 0;
    for_children(cg->path, remove_child);
    if (rmdir(cg->path) < 0 && errno != ENOENT) return -1;
    free(cg->path);
    cg->path = NULL;
    return 0;
}

void cgroup_free(cgroup *cg)
{
    if (!cg) return;
    if (cg->procs_fd >= 0) close(cg->procs_fd);
    if (cg->oom_fd >= 0) close(cg->oom_fd);
    if (cg->events_fd >= 0) close(cg->events_fd);
    if (cg->oom_efd >= 0) close(cg->oom_efd);
    free(cg->path);
    free(cg);
}
