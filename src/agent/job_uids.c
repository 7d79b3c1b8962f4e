/* job_uids — see job_uids.h. */
#include "agent/job_uids.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

typedef struct held {
    uint32_t uid;
    int fd; /* its lock file, flock'ed */
} held;

struct job_uids {
    char *dir;
    char *shm_dir; /* where a uid's files go with it: JOB_UIDS_SHM_DIR */
    uint32_t first, count;
    uint32_t next; /* where the next take looks first (an offset in the range) */
    held *held;
    size_t nheld, cap;
};

static void lock_path(const job_uids *p, uint32_t uid, char *path, size_t len)
{
    snprintf(path, len, "%s/%u", p->dir, uid);
}

job_uids *job_uids_new(const char *lock_dir, uint32_t first, uint32_t count, char **err)
{
    if (util_make_dirs(lock_dir, 0700) < 0) {
        *err = xasprintf("cannot make %s, where the agents of this host lock the uids their "
                         "attempts run as: %s", lock_dir, strerror(errno));
        return NULL;
    }
    /* Root's alone: a job that could remove a lock file would let a second attempt take its
     * uid. */
    struct stat st;
    if (lstat(lock_dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
        (st.st_mode & 022)) {
        *err = xasprintf("%s, where the agents of this host lock the uids their attempts run "
                         "as, must be a directory of the agent's user that no one else may "
                         "write to", lock_dir);
        return NULL;
    }
    job_uids *p = xcalloc(1, sizeof *p);
    p->dir = xstrdup(lock_dir);
    p->shm_dir = xstrdup(JOB_UIDS_SHM_DIR);
    p->first = first;
    p->count = count;
    /* From a random place, so that an agent started again does not hand out the uids it (or
     * another agent of the host) handed out last. */
    uint32_t r = 0;
    if (getrandom(&r, sizeof r, 0) != sizeof r) r = (uint32_t)getpid() * 2654435761u;
    p->next = r % count;
    return p;
}

void job_uids_free(job_uids *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->nheld; i++) {
        char path[4096];
        lock_path(p, p->held[i].uid, path, sizeof path);
        unlink(path);
        close(p->held[i].fd);
    }
    free(p->held);
    free(p->dir);
    free(p->shm_dir);
    free(p);
}

/* The child of job_uids_kill_all: a process of its own (vfork's), so its uid is not the
 * agent's; only system calls, as a vfork child may make. */
static pid_t kill_as(uint32_t uid)
{
    pid_t pid = vfork();
    if (pid != 0) return pid;
    /* The raw call: glibc's setresuid would try to change every thread's ids, and this child
     * has one thread.  Real and effective both: with the real uid still root, kill(-1) would
     * reach every process of root's. */
    if (syscall(SYS_setresuid, uid, uid, uid) != 0) _exit(1);
    /* Twice: a process that was forking as the first reached it is reached by the second. */
    kill(-1, SIGKILL);
    kill(-1, SIGKILL);
    _exit(0);
}

int job_uids_kill_all(uint32_t uid)
{
    pid_t pid = kill_as(uid);
    if (pid < 0) return -1;
    int status = 0;
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {}
    if (w < 0) return -1;
    /* 1: it could not become uid.  (Only that: under valgrind, vfork is a fork whose child
     * exits with valgrind's own status.) */
    if (WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 1)) {
        errno = EPERM;
        return -1;
    }
    return 0;
}

void job_uids_set_shm_dir(job_uids *p, const char *dir)
{
    free(p->shm_dir);
    p->shm_dir = xstrdup(dir);
}

void job_uids_remove_files(const char *dir, uint32_t uid)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        if (fd >= 0) close(fd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || st.st_uid != uid)
            continue;
        if (!S_ISDIR(st.st_mode)) {
            unlinkat(dirfd(d), e->d_name, 0);
            continue;
        }
        /* A directory of the uid's goes whole, whoever made what is in it: util_remove_tree
         * goes by descriptors and never through a link, and dir is root's and sticky, so
         * its path names this entry. */
        char *path = xasprintf("%s/%s", dir, e->d_name);
        util_remove_tree(path);
        free(path);
    }
    closedir(d);
}

/* What a uid's processes leave beside them, once they are gone. */
static void clean_up_after(const job_uids *p, uint32_t uid)
{
    job_uids_remove_files(p->shm_dir, uid);
}

static int is_held(const job_uids *p, uint32_t uid)
{
    for (size_t i = 0; i < p->nheld; i++)
        if (p->held[i].uid == uid) return 1;
    return 0;
}

int job_uids_take(job_uids *p, uint32_t *uid)
{
    /* In turn through the range, not the lowest free one: what a uid leaves behind beside its
     * processes (files in /tmp, /dev/shm, IPC objects it made) goes to whoever next has the
     * uid, which is then many attempts later. */
    for (uint32_t k = 0; k < p->count; k++) {
        uint32_t off = (p->next + k) % p->count, u = p->first + off;
        if (is_held(p, u)) continue;
        char path[4096];
        lock_path(p, u, path, sizeof path);
        int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) return -1;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            int e = errno;
            close(fd);
            if (e == EWOULDBLOCK) continue; /* another agent's */
            errno = e;
            return -1;
        }
        /* The file is removed as its uid is given back: one opened before that and locked
         * after is no longer the uid's lock, which another may hold by now. */
        struct stat held_st, now_st;
        if (fstat(fd, &held_st) < 0 || stat(path, &now_st) < 0 ||
            held_st.st_ino != now_st.st_ino || held_st.st_dev != now_st.st_dev) {
            close(fd);
            continue;
        }
        if (job_uids_kill_all(u) < 0) {
            int e = errno;
            unlink(path);
            close(fd);
            errno = e;
            return -1;
        }
        clean_up_after(p, u); /* what an agent that died did not */
        if (p->nheld == p->cap) {
            p->cap = p->cap ? 2 * p->cap : 16;
            p->held = xrealloc(p->held, p->cap * sizeof *p->held);
        }
        p->held[p->nheld++] = (held){u, fd};
        p->next = (off + 1) % p->count;
        *uid = u;
        return 0;
    }
    errno = EAGAIN;
    return -1;
}

void job_uids_give(job_uids *p, uint32_t uid)
{
    for (size_t i = 0; i < p->nheld; i++) {
        if (p->held[i].uid != uid) continue;
        if (job_uids_kill_all(uid) < 0)
            log_warn("cannot stop what uid %u still runs: %s", uid, strerror(errno));
        else
            clean_up_after(p, uid);
        char path[4096];
        lock_path(p, uid, path, sizeof path);
        unlink(path); /* while held: see job_uids_take */
        close(p->held[i].fd);
        p->held[i] = p->held[--p->nheld];
        return;
    }
}
