/* workdirs — see workdirs.h. */
#include "agent/workdirs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "agent/remover.h"

void workdirs_init(workdirs *w, const char *root, int max, int job_uid)
{
    memset(w, 0, sizeof *w);
    w->root = root;
    w->max = max;
    w->job_uid = job_uid;
    w->spare = xcalloc((size_t)max, sizeof *w->spare);
}

/* 1 if path is still a directory fit for another attempt: empty, ours and not writable by
 * others.  It is opened by name, so a directory the job renamed or replaced is judged as what
 * the name now holds. */
static int reusable_dir(const char *path, int job_uid)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return 0;
    struct stat st;
    int ok = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) &&
             (job_uid == WORKDIRS_ANY_OWNER ||
              st.st_uid == (job_uid >= 0 ? (uid_t)job_uid : geteuid())) &&
             (st.st_mode & 07022) == 0;
    if (ok) {
        /* One getdents answers: an empty directory holds "." and ".." only. */
        char ents[1024];
        long n = syscall(SYS_getdents64, fd, ents, sizeof ents);
        int count = 0;
        for (long off = 0; n > 0 && off < n;) {
            const char *name = ents + off + 19; /* d_ino 8, d_off 8, d_reclen 2, d_type 1 */
            unsigned short reclen;
            memcpy(&reclen, ents + off + 16, sizeof reclen);
            if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) count++;
            off += reclen;
        }
        ok = n > 0 && count == 0;
    }
    /* Kept for any attempt's uid: the agent's meanwhile, so that the uid it had, handed to
     * another attempt, cannot leave files in it for the attempt that gets it next. */
    if (ok && job_uid == WORKDIRS_ANY_OWNER)
        ok = fchown(fd, geteuid(), getegid()) == 0 && fchmod(fd, 0700) == 0;
    close(fd);
    return ok;
}

char *workdirs_take(workdirs *w, int *err)
{
    *err = 0;
    struct stat st;
    while (w->nidle > 0) {
        char *spare = w->spare[--w->nidle];
        if (lstat(spare, &st) == 0 && S_ISDIR(st.st_mode)) return spare;
        free(spare); /* removed meanwhile (below) */
    }
    char *dir = xasprintf("%s/slot-%u", w->root, w->next++);
    int rc = mkdir(dir, 0755);
    if (rc < 0 && errno == ENOENT && util_make_dirs(w->root, 0711) == 1) {
        /* The work directory was removed under the agent (a cleaner of old files in /tmp, an
         * operator): made again, or every attempt from then on failed to start.  0711: the
         * attempts' users pass through it to their own directories. */
        log_warn("the work directory %s was removed while the agent ran; it is made again",
                 w->root);
        rc = mkdir(dir, 0755);
    }
    if (rc < 0 && errno == EEXIST) {
        /* Left by an agent that used the same directory and died. */
        util_remove_tree(dir);
        rc = mkdir(dir, 0755);
    }
    if (rc < 0) *err = errno;
    return dir;
}

void workdirs_give(workdirs *w, char *dir, int clean)
{
    if (clean && w->nidle < w->max && reusable_dir(dir, w->job_uid)) {
        w->spare[w->nidle++] = dir;
        return;
    }
    remover_discard(dir); /* off the supervisor's thread: a job may leave many files */
    free(dir);
}

void workdirs_drop_idle(workdirs *w)
{
    for (int i = 0; i < w->nidle; i++) {
        rmdir(w->spare[i]);
        free(w->spare[i]);
    }
    w->nidle = 0;
}

void workdirs_free(workdirs *w)
{
    workdirs_drop_idle(w);
    free(w->spare);
    w->spare = NULL;
}
