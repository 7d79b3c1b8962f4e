/* job_uids.c: two pools on one lock directory (two agents of a host) never hold the same uid;
 * uids are taken in turn, their lock files removed as they are given back; a full range says
 * so; a uid is taken with nothing of its own still running, and given back with nothing left;
 * a lock directory others may write to is refused; what a uid owns at the top of the shm
 * directory goes as it is given back or taken, and nothing else does.  And idmap's parse of --job-uids and its
 * check against the host's accounts and the containers' ids. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/job_uids.h"
#include "common/idmap.h"
#include "common/mem.h"
#include "common/util.h"
#include "check.h"

/* Far from the default range, so that agents of tests running beside this one are not
 * touched. */
#define FIRST 2140000000u

static char root[] = "/tmp/barge-job-uids-test-XXXXXX";

static void test_parse(void)
{
    unsigned first = 0, count = 0;
    CHECK(idmap_parse_job_uids("2000000000", &first, &count) == NULL);
    CHECK_EQ_INT(first, 2000000000u);
    CHECK_EQ_INT(count, IDMAP_JOB_UIDS_COUNT);
    CHECK(idmap_parse_job_uids("5:3", &first, &count) == NULL);
    CHECK_EQ_INT(first, 5);
    CHECK_EQ_INT(count, 3);
    CHECK(idmap_parse_job_uids("0:3", &first, &count) != NULL);
    CHECK(idmap_parse_job_uids("5:0", &first, &count) != NULL);
    CHECK(idmap_parse_job_uids("", &first, &count) != NULL);
    CHECK(idmap_parse_job_uids("x", &first, &count) != NULL);
    CHECK(idmap_parse_job_uids("-5", &first, &count) != NULL);
    CHECK(idmap_parse_job_uids("5:", &first, &count) != NULL);
    /* uids are ints where barge runs processes (-1: none): above INT_MAX one would be root. */
    CHECK(idmap_parse_job_uids("3000000000:3", &first, &count) != NULL);
    CHECK(idmap_parse_job_uids("2147483000:65536", &first, &count) != NULL);
    CHECK(idmap_parse_job_uids("2147483647:2", &first, &count) != NULL);
    CHECK(idmap_parse_job_uids("2147483647:1", &first, &count) == NULL);

    /* root (0) is an account of every host; the containers' ids are checked when given. */
    char why[256];
    CHECK(idmap_job_uids_conflict(FIRST, 10, NULL, why, sizeof why) == NULL);
    CHECK(idmap_job_uids_conflict(0, 10, NULL, why, sizeof why) != NULL);
    CHECK(strstr(why, "the account root's"));
    idmap ids = {.uid_base = 1500000000u, .gid_base = 1500000000u, .size = 65536};
    CHECK(idmap_job_uids_conflict(1500065536u, 10, &ids, why, sizeof why) == NULL);
    CHECK(idmap_job_uids_conflict(1500065535u, 10, &ids, why, sizeof why) != NULL);
    CHECK(strstr(why, "overlaps the containers' host uids 1500000000 to 1500065535"));
    CHECK(idmap_job_uids_conflict(1499999990u, 10, &ids, why, sizeof why) == NULL);
}

static int lock_file_exists(const char *dir, uint32_t uid)
{
    char *path = xasprintf("%s/%u", dir, uid);
    struct stat st;
    int yes = stat(path, &st) == 0;
    free(path);
    return yes;
}

static void test_two_pools_share_a_range(void)
{
    char *dir = xasprintf("%s/locks", root), *err = NULL;
    job_uids *a = job_uids_new(dir, FIRST, 3, &err);
    CHECK(a);
    job_uids *b = job_uids_new(dir, FIRST, 3, &err);
    CHECK(b);
    struct stat st;
    CHECK(stat(dir, &st) == 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0700);
    uint32_t u1, u2, u3, u4;
    CHECK(job_uids_take(a, &u1) == 0);
    CHECK(job_uids_take(b, &u2) == 0); /* the other agent skips what a holds */
    CHECK(job_uids_take(a, &u3) == 0);
    CHECK(u1 >= FIRST && u1 < FIRST + 3 && u2 >= FIRST && u2 < FIRST + 3);
    CHECK(u3 >= FIRST && u3 < FIRST + 3);
    CHECK(u1 != u2 && u1 != u3 && u2 != u3);
    CHECK(lock_file_exists(dir, u1));
    errno = 0;
    CHECK(job_uids_take(b, &u4) < 0);
    CHECK_EQ_INT(errno, EAGAIN);
    /* Given back: its lock file goes, and it is the one free. */
    job_uids_give(a, u1);
    CHECK(!lock_file_exists(dir, u1));
    CHECK(job_uids_take(b, &u4) == 0);
    CHECK_EQ_INT(u4, u1);
    /* A pool freed (an agent that stopped or died) lets its uids go. */
    job_uids_free(a);
    CHECK(!lock_file_exists(dir, u3));
    CHECK(job_uids_take(b, &u1) == 0);
    CHECK_EQ_INT(u1, u3);
    job_uids_free(b);
    free(dir);
}

/* In turn: an attempt does not get the uid the last one gave back while others are free. */
static void test_uids_in_turn(void)
{
    char *dir = xasprintf("%s/turn", root), *err = NULL;
    job_uids *p = job_uids_new(dir, FIRST + 20, 5, &err);
    CHECK(p);
    uint32_t seen[5], u;
    for (int i = 0; i < 5; i++) {
        CHECK(job_uids_take(p, &seen[i]) == 0);
        job_uids_give(p, seen[i]);
        for (int j = 0; j < i; j++) CHECK(seen[j] != seen[i]);
    }
    CHECK(job_uids_take(p, &u) == 0);
    CHECK_EQ_INT(u, seen[0]); /* round again */
    job_uids_give(p, u);
    job_uids_free(p);
    free(dir);
}

static void test_lock_directory_must_be_closed(void)
{
    char *dir = xasprintf("%s/open", root), *err = NULL;
    CHECK(mkdir(dir, 0777) == 0);
    CHECK(chmod(dir, 0777) == 0);
    CHECK(job_uids_new(dir, FIRST, 3, &err) == NULL);
    CHECK(err && strstr(err, "no one else may write to"));
    free(err);
    free(dir);
}

/* A process of uid (as a job's would be), sleeping until killed. */
static pid_t process_of(uint32_t uid)
{
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (syscall(SYS_setresgid, uid, uid, uid) != 0 ||
            syscall(SYS_setresuid, uid, uid, uid) != 0)
            _exit(3);
        for (;;) pause();
    }
    /* Once it is the uid: before, a kill as the uid would not reach it. */
    char path[64], want[32];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    snprintf(want, sizeof want, "\nUid:\t%u\t", uid);
    for (int i = 0; i < 5000; i++) {
        char *st = util_read_file(path);
        int done = st && strstr(st, want);
        free(st);
        if (done) return pid;
        struct timespec ms = {0, 1000 * 1000};
        nanosleep(&ms, NULL);
    }
    CHECK_FAIL_("process %d did not become uid %u", (int)pid, uid);
}

static int killed(pid_t pid)
{
    int status;
    CHECK(waitpid(pid, &status, 0) == pid);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

static void test_nothing_of_a_uid_outlives_it(void)
{
    char *dir = xasprintf("%s/kill", root), *err = NULL;
    job_uids *p = job_uids_new(dir, FIRST + 10, 1, &err);
    CHECK(p);
    /* Left by an attempt of an agent that died: killed as the uid is taken. */
    pid_t left = process_of(FIRST + 10);
    pid_t other = process_of(FIRST + 11); /* another uid's: not touched */
    uint32_t u;
    CHECK(job_uids_take(p, &u) == 0);
    CHECK_EQ_INT(u, FIRST + 10);
    CHECK(killed(left));
    /* Started by the attempt and left running: killed as the uid is given back. */
    pid_t daemon = process_of(FIRST + 10);
    job_uids_give(p, u);
    CHECK(killed(daemon));
    CHECK(util_process_alive(other));
    kill(other, SIGKILL);
    CHECK(killed(other));
    job_uids_free(p);
    free(dir);
}

static int exists(const char *dir, const char *name)
{
    char *path = xasprintf("%s/%s", dir, name);
    struct stat st;
    int yes = lstat(path, &st) == 0;
    free(path);
    return yes;
}

/* name in dir, a file (or a directory, or a link to target), owned by uid. */
static void make_owned(const char *dir, const char *name, int kind, const char *target,
                       uint32_t uid)
{
    char *path = xasprintf("%s/%s", dir, name);
    if (kind == 'd') CHECK(mkdir(path, 0777) == 0);
    else if (kind == 'l') CHECK(symlink(target, path) == 0);
    else {
        FILE *f = fopen(path, "w");
        CHECK(f);
        fclose(f);
    }
    CHECK(lchown(path, uid, uid) == 0);
    free(path);
}

static void test_a_uids_shm_files_go_with_it(void)
{
    char *shm = xasprintf("%s/shm", root), *err = NULL, *keep = xasprintf("%s/keep", root);
    CHECK(mkdir(shm, 01777) == 0);
    CHECK(chmod(shm, 01777) == 0);
    CHECK(mkdir(keep, 0755) == 0);
    uint32_t mine = FIRST + 30, other = FIRST + 31;
    make_owned(keep, "target", 'f', NULL, 0);
    make_owned(shm, "sem.mine", 'f', NULL, mine);        /* sem_open's */
    make_owned(shm, "segment", 'f', NULL, mine);         /* shm_open's */
    make_owned(shm, "a-dir", 'd', NULL, mine);
    make_owned(shm, "a-dir/roots", 'f', NULL, 0);        /* in the uid's directory: goes too */
    make_owned(shm, "a-link", 'l', keep, mine);          /* the link goes, not what it names */
    make_owned(shm, "theirs", 'f', NULL, other);
    make_owned(shm, "their-dir", 'd', NULL, other);
    make_owned(shm, "their-dir/mine", 'f', NULL, mine); /* only the top is looked at */
    make_owned(shm, "roots", 'f', NULL, 0);

    char *lock = xasprintf("%s/shm-locks", root);
    job_uids *p = job_uids_new(lock, mine, 1, &err);
    CHECK(p);
    job_uids_set_shm_dir(p, shm);
    uint32_t u;
    CHECK(job_uids_take(p, &u) == 0); /* left by an agent that died: gone as it is taken */
    CHECK_EQ_INT(u, mine);
    CHECK(!exists(shm, "sem.mine") && !exists(shm, "segment") && !exists(shm, "a-dir"));
    CHECK(!exists(shm, "a-link"));
    CHECK(exists(keep, "target"));
    CHECK(exists(shm, "theirs") && exists(shm, "their-dir/mine") && exists(shm, "roots"));
    /* Made while the attempt ran: gone as it is given back. */
    make_owned(shm, "during", 'f', NULL, mine);
    job_uids_give(p, u);
    CHECK(!exists(shm, "during"));
    CHECK(exists(shm, "theirs"));
    job_uids_free(p);
    free(lock);
    free(keep);
    free(shm);
}

int main(void)
{
    test_parse();
    if (geteuid() != 0) {
        fprintf(stderr, "  SKIPPED the pools' tests: they need root\n");
        return 0;
    }
    CHECK(mkdtemp(root));
    test_two_pools_share_a_range();
    test_uids_in_turn();
    test_lock_directory_must_be_closed();
    test_nothing_of_a_uid_outlives_it();
    test_a_uids_shm_files_go_with_it();
    util_remove_tree(root);
    return 0;
}
