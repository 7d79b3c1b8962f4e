/* cgroup.c: locating the memory controller on several machines' layouts, and, on this machine,
 * real cgroups: limits, OOM kills counted, every process killed, directories removed. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/mem.h"
#include "agent/cgroup.h"
#include "agent/cgroup_pids.h"
#include "check.h"

/* ---- Layouts -------------------------------------------------------------------------------- */

static const char *V1_MOUNTS =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

static void expect(const char *pc, const char *mi, cgroup_mode mode, const char *dir,
                   const char *why_fragment)
{
    char *d, *why;
    cgroup_mode m = cgroup_locate(pc, mi, &d, &why);
    CHECK_EQ_INT(m, mode);
    CHECK_STR(d, dir);
    if (why_fragment) CHECK_CONTAINS(why, why_fragment);
    else CHECK(why == NULL);
    free(d);
    free(why);
}

static void test_locate_v1_nested(void)
{
    /* This machine's shape: memory on v1, an empty v2 hierarchy beside it. */
    expect("9:name=systemd:/\n4:memory:/process_api/32de\n1:cpu:/\n0::/\n", V1_MOUNTS, CGROUP_V1,
           "/sys/fs/cgroup/memory/process_api/32de", NULL);
    /* Controllers mounted together (memory,cpu) are still found. */
    expect("3:cpu,memory:/a\n",
           "35 31 0:32 / /sys/fs/cgroup/cpu,memory rw - cgroup cgroup rw,cpu,memory\n",
           CGROUP_V1, "/sys/fs/cgroup/cpu,memory/a", NULL);
}

/* The pids controller, in a hierarchy of its own beside the memory controller's. */
static void test_locate_pids_v1(void)
{
    char *d;
    const char *mi = "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
                     "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
                     "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n";
    CHECK_EQ_INT(cgroup_pids_locate_v1("8:pids:/a/b\n4:memory:/m\n0::/\n", mi, &d), 0);
    CHECK_STR(d, "/sys/fs/cgroup/pids/a/b");
    free(d);
    CHECK_EQ_INT(cgroup_pids_locate_v1("8:pids:/\n", mi, &d), 0);
    CHECK_STR(d, "/sys/fs/cgroup/pids");
    free(d);
    /* Mounted with other controllers. */
    CHECK_EQ_INT(cgroup_pids_locate_v1("3:cpu,pids:/x\n",
                                       "35 31 0:32 / /c rw - cgroup cgroup rw,cpu,pids\n", &d), 0);
    CHECK_STR(d, "/c/x");
    free(d);
    /* v2 only, or a pids line without a mount: none. */
    CHECK_EQ_INT(cgroup_pids_locate_v1("0::/x\n",
                                       "25 1 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", &d),
                 -1);
    CHECK(d == NULL);
    CHECK_EQ_INT(cgroup_pids_locate_v1("8:pids:/a\n", V1_MOUNTS, &d), -1);
    /* "pidsx" is not "pids". */
    CHECK_EQ_INT(cgroup_pids_locate_v1("8:pidsx:/a\n", mi, &d), -1);
}

static void test_locate_v2(void)
{
    const char *mi = "25 1 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
    expect("0::/user.slice/user-1000.slice/session-2.scope\n", mi, CGROUP_V2,
           "/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope", NULL);
    expect("0::/\n", mi, CGROUP_V2, "/sys/fs/cgroup", NULL);
    /* Optional mountinfo fields (shared:N) sit before the separator. */
    expect("0::/x\n", "25 1 0:22 / /sys/fs/cgroup rw shared:9 master:2 - cgroup2 cgroup2 rw\n",
           CGROUP_V2, "/sys/fs/cgroup/x", NULL);
}

static void test_locate_container_roots(void)
{
    /* A container sees its own part of the hierarchy mounted: the mount's root is stripped. */
    expect("4:memory:/docker/abc/sub\n",
           "35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n",
           CGROUP_V1, "/sys/fs/cgroup/memory/sub", NULL);
    expect("4:memory:/docker/abc\n",
           "35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n",
           CGROUP_V1, "/sys/fs/cgroup/memory", NULL);
    /* A mount whose root is a sibling does not show the agent's cgroup. */
    expect("4:memory:/docker/abcd\n",
           "35 31 0:32 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n",
           CGROUP_NONE, NULL, "no mount");
    /* Mount points with spaces are escaped in mountinfo. */
    expect("0::/j\n", "25 1 0:22 / /mnt/cg\\040two rw - cgroup2 none rw\n", CGROUP_V2,
           "/mnt/cg two/j", NULL);
}

static void test_locate_nothing_usable(void)
{
    expect("1:cpu:/\n", "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n",
           CGROUP_NONE, NULL, "neither");
    expect("4:memory:/a\n", "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n",
           CGROUP_NONE, NULL, "cgroup v1");
    expect("0::/../../x\n", "25 1 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", CGROUP_NONE,
           NULL, "outside its cgroup namespace");
    expect("0::/x\n", "", CGROUP_NONE, NULL, "no cgroup2 mount");
    expect("", "", CGROUP_NONE, NULL, "neither");
    CHECK_STR(cgroup_mode_name(CGROUP_NONE), "none");
    CHECK_STR(cgroup_mode_name(CGROUP_V1), "v1");
    CHECK_STR(cgroup_mode_name(CGROUP_V2), "v2");
}

/* ---- This machine ------------------------------------------------------------------------- */

static cgroup_host *host;

/* A child that joins cg and then runs fn; returns its wait status. */
static int run_in(cgroup *cg, void (*fn)(void))
{
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (write(cgroup_procs_fd(cg), "0", 1) != 1) _exit(100);
        fn();
        _exit(0);
    }
    int st;
    CHECK_EQ_INT(waitpid(pid, &st, 0), pid);
    return st;
}

static void touch_200_mib(void)
{
    size_t n = (size_t)200 << 20;
    volatile char *p = malloc(n);
    if (!p) _exit(101);
    for (size_t i = 0; i < n; i += 4096) p[i] = 1;
    _exit(0);
}

static void touch_100_mib(void)
{
    size_t n = (size_t)100 << 20;
    volatile char *p = malloc(n);
    if (!p) _exit(101);
    for (size_t i = 0; i < n; i += 4096) p[i] = 1;
    _exit(0);
}

static void test_limit_and_oom(void)
{
    cgroup_host *h = host;
    char err[512];
    /* 200 MiB under a 50 MiB limit: the OOM killer ends the child, and the cgroup counts it. */
    cgroup *cg = cgroup_create(h, "oom", 50 << 20, err, sizeof err);
    if (!cg) CHECK_FAIL_("cgroup_create: %s", err);
    CHECK_CONTAINS(cgroup_path(cg), "/oom");
    char limit_file[512], text[64];
    snprintf(limit_file, sizeof limit_file, "%s/%s", cgroup_path(cg),
             cgroup_host_mode(h) == CGROUP_V1 ? "memory.limit_in_bytes" : "memory.max");
    FILE *f = fopen(limit_file, "r");
    CHECK(f != NULL);
    CHECK(fgets(text, sizeof text, f) != NULL);
    fclose(f);
    CHECK_EQ_INT(atoll(text), 50 << 20);
    CHECK_EQ_INT(cgroup_oom_kills(cg), 0);
    int st = run_in(cg, touch_200_mib);
    CHECK(WIFSIGNALED(st));
    CHECK_EQ_INT(WTERMSIG(st), SIGKILL);
    CHECK(cgroup_oom_kills(cg) >= 1);
    CHECK_EQ_INT(cgroup_remove(cg), 0);
    struct stat sb;
    CHECK(stat(limit_file, &sb) < 0);
    cgroup_free(cg);

    /* Without a limit the same kind of program runs to its end. */
    cg = cgroup_create(h, "free", 0, err, sizeof err);
    if (!cg) CHECK_FAIL_("cgroup_create: %s", err);
    st = run_in(cg, touch_100_mib);
    CHECK(WIFEXITED(st));
    CHECK_EQ_INT(WEXITSTATUS(st), 0);
    CHECK_EQ_INT(cgroup_oom_kills(cg), 0);
    CHECK_EQ_INT(cgroup_remove(cg), 0);
    cgroup_free(cg);
}

static void test_kill_all_reaches_escaped_processes(void)
{
    cgroup_host *h = host;
    char err[512];
    cgroup *cg = cgroup_create(h, "escape", 0, err, sizeof err);
    if (!cg) CHECK_FAIL_("cgroup_create: %s", err);
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        if (write(cgroup_procs_fd(cg), "0", 1) != 1) _exit(100);
        setsid(); /* out of any process group a group kill would reach */
        if (write(ready[1], "r", 1) != 1) _exit(101);
        for (;;) pause();
    }
    char c;
    CHECK_EQ_INT(read(ready[0], &c, 1), 1);
    close(ready[0]);
    close(ready[1]);
    /* A busy cgroup cannot be removed. */
    CHECK_EQ_INT(cgroup_remove(cg), -1);
    CHECK_EQ_INT(cgroup_kill_all(cg), 1);
    int st;
    CHECK_EQ_INT(waitpid(pid, &st, 0), pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    int removed = -1;
    for (int i = 0; i < 100 && (removed = cgroup_remove(cg)) < 0; i++) usleep(10000);
    CHECK_EQ_INT(removed, 0);
    CHECK_EQ_INT(cgroup_kill_all(cg), 0);
    cgroup_free(cg);
}

static void test_stale_cgroup_is_replaced(void)
{
    cgroup_host *h = host;
    char err[512];
    cgroup *a = cgroup_create(h, "again", 10 << 20, err, sizeof err);
    CHECK(a != NULL);
    cgroup *b = cgroup_create(h, "again", 20 << 20, err, sizeof err);
    if (!b) CHECK_FAIL_("a second cgroup_create of the same name: %s", err);
    CHECK_EQ_INT(cgroup_remove(b), 0);
    cgroup_free(b);
    cgroup_free(a);
}

static void test_sweep_removes_what_dead_agents_left(void)
{
    /* A child's id is free once it is reaped: cgroups named after it belong to nobody. */
    pid_t dead = fork();
    CHECK(dead >= 0);
    if (dead == 0) _exit(0);
    CHECK_EQ_INT(waitpid(dead, NULL, 0), dead);
    char err[512];
    cgroup *probe = cgroup_create(host, "p", 0, err, sizeof err);
    CHECK(probe != NULL);
    char *own = xstrdup(cgroup_path(probe));
    cgroup_remove(probe);
    cgroup_free(probe);
    *strrchr(own, '/') = '\0';
    *strrchr(own, '/') = '\0'; /* from .../own/barge-test-N/p to .../own */
    char *stale = xasprintf("%s/barge-test-%ld", own, (long)dead);
    char *stale_child = xasprintf("%s/attempt-1", stale);
    char *alive_one = xasprintf("%s/barge-test-%ld", own, (long)getppid());
    char *other = xasprintf("%s/barge-test-%ldx", own, (long)dead);
    CHECK_EQ_INT(mkdir(stale, 0755), 0);
    CHECK_EQ_INT(mkdir(stale_child, 0755), 0);
    CHECK_EQ_INT(mkdir(alive_one, 0755), 0);
    CHECK_EQ_INT(mkdir(other, 0755), 0);
    CHECK_EQ_INT(cgroup_host_sweep(host, "barge-test-"), 1);
    struct stat sb;
    CHECK(stat(stale, &sb) < 0);
    CHECK_EQ_INT(stat(alive_one, &sb), 0); /* its process lives */
    CHECK_EQ_INT(stat(other, &sb), 0);     /* not a name the sweep owns */
    rmdir(alive_one);
    rmdir(other);
    free(stale);
    free(stale_child);
    free(alive_one);
    free(other);
    free(own);
}

int main(void)
{
    RUN(test_locate_v1_nested);
    RUN(test_locate_pids_v1);
    RUN(test_locate_v2);
    RUN(test_locate_container_roots);
    RUN(test_locate_nothing_usable);

    char name[64];
    snprintf(name, sizeof name, "barge-test-%ld", (long)getpid());
    cgroup_host *h = cgroup_host_setup(name);
    CHECK(cgroup_host_note(h) != NULL);
    if (cgroup_host_mode(h) == CGROUP_NONE) {
        fprintf(stderr, "  SKIPPED the tests of real cgroups: %s\n", cgroup_host_note(h));
        cgroup_host_teardown(h);
        return 0;
    }
    fprintf(stderr, "  (%s)\n", cgroup_host_note(h));
    host = h;
    cgroup_host_sweep(h, "barge-test-"); /* what failed runs left */
    RUN(test_limit_and_oom);
    RUN(test_kill_all_reaches_escaped_processes);
    RUN(test_stale_cgroup_is_replaced);
    RUN(test_sweep_removes_what_dead_agents_left);
    /* The per-agent parent goes with the host, even with a cgroup left in it. */
    char err[512];
    cgroup *left = cgroup_create(h, "left", 0, err, sizeof err);
    CHECK(left != NULL);
    char *parent = xstrdup(cgroup_path(left));
    *strrchr(parent, '/') = '\0';
    struct stat sb;
    CHECK_EQ_INT(stat(parent, &sb), 0);
    cgroup_free(left);
    cgroup_host_teardown(h);
    CHECK(stat(parent, &sb) < 0 && errno == ENOENT);
    free(parent);
    return 0;
}
