#include "agent/cgroup_pids.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "agent/cgroup.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char *parent; /* the agent's pids cgroup, or NULL */
static char note[256];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Whether word is one of the comma-separated names in list. */
static int listed(const char *list, size_t len, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list, *end = list + len; p < end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t l = comma ? (size_t)(comma - p) : (size_t)(end - p);
        if (l == n && strncmp(p, word, n) == 0) return 1;
        p += l + 1;
    }
    return 0;
}

int cgroup_pids_locate_v1(const char *proc_cgroup, const char *mountinfo, char **dir)
{
    *dir = NULL;
    char *path = NULL;
    for (const char *line = proc_cgroup; line && *line;) {
        const char *nl = strchr(line, '\n');
        const char *end = nl ? nl : line + strlen(line);
        const char *c1 = memchr(line, ':', (size_t)(end - line));
        const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
        if (c2 && listed(c1 + 1, (size_t)(c2 - c1 - 1), "pids")) {
            free(path);
            path = xstrndup(c2 + 1, (size_t)(end - c2 - 1));
        }
        line = nl ? nl + 1 : NULL;
    }
    if (path && strncmp(path, "/..", 3) != 0)
        *dir = cgroup_mount_dir(mountinfo, "cgroup", "pids", path);
    free(path);
    return *dir ? 0 : -1;
}

static int write_file(const char *dir, const char *file, const char *s)
{
    char *path = xasprintf("%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    free(path);
    if (fd < 0) return -1;
    ssize_t n = write(fd, s, strlen(s));
    close(fd);
    return n == (ssize_t)strlen(s) ? 0 : -1;
}

static void setup(void)
{
    char *pc = util_read_file("/proc/self/cgroup"), *mi = util_read_file("/proc/self/mountinfo");
    char *dir = NULL;
    if (pc && mi && cgroup_pids_locate_v1(pc, mi, &dir) == 0) {
        char *p = xasprintf("%s/barge-pids-%d", dir, (int)getpid());
        if (mkdir(p, 0755) == 0 || errno == EEXIST) {
            parent = p;
            snprintf(note, sizeof note, "cgroup v1 pids");
            /* Those of agents killed with SIGKILL (a clean stop removes its own), and their
             * attempts', as their memory cgroups are swept (cgroup_host_sweep). */
            int swept = cgroup_sweep_dead(dir, "barge-pids-", CGROUP_V1);
            if (swept) log_info("removed %d pids cgroup%s left by agents that are gone", swept,
                                swept > 1 ? "s" : "");
        } else {
            snprintf(note, sizeof note, "RLIMIT_NPROC (cannot create %.150s: %s)", p,
                     strerror(errno));
            free(p);
        }
    } else {
        snprintf(note, sizeof note, "RLIMIT_NPROC (no cgroup v1 hierarchy holds the pids "
                                    "controller for this process)");
    }
    free(dir);
    free(pc);
    free(mi);
    log_info("attempts' pids limits: %s", note);
}

const char *cgroup_pids_note(void)
{
    pthread_once(&once, setup);
    return note;
}

/* Removes the empty cgroups of ended attempts; a busy one stays (rmdir fails with EBUSY). */
static void sweep(void)
{
    DIR *d = opendir(parent);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
        char *p = xasprintf("%s/%s", parent, e->d_name);
        rmdir(p);
        free(p);
    }
    closedir(d);
}

int cgroup_pids_open(const char *name, long max)
{
    pthread_once(&once, setup);
    if (!parent) return -1;
    pthread_mutex_lock(&lock);
    sweep();
    char *dir = xasprintf("%s/%s", parent, name);
    int fd = -1;
    char v[32];
    snprintf(v, sizeof v, "%ld", max);
    if ((mkdir(dir, 0755) == 0 || errno == EEXIST) && write_file(dir, "pids.max", v) == 0) {
        char *procs = xasprintf("%s/cgroup.procs", dir);
        fd = open(procs, O_WRONLY | O_CLOEXEC);
        free(procs);
    }
    if (fd < 0) log_warn("attempt %s: cannot set up its pids cgroup %s: %s", name, dir,
                         strerror(errno));
    free(dir);
    pthread_mutex_unlock(&lock);
    return fd;
}

void cgroup_pids_teardown(void)
{
    if (!parent) return;
    pthread_mutex_lock(&lock);
    sweep();
    rmdir(parent);
    pthread_mutex_unlock(&lock);
}
