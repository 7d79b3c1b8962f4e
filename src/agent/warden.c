#include "agent/warden.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "agent/cgroup.h"
#include "agent/cgroup_pids.h"

#define WARDEN_FD 3

extern char **environ;

/* The warden running (main thread only): its pid and start time, the pipe's write end, and
 * what it watches, to start another should it end. */
static pid_t warden_pid;
static unsigned long long warden_started;
static int warden_wfd = -1;
static const cgroup_host *warden_host;

int warden_start(const cgroup_host *h)
{
    cgroup_mode mode = cgroup_host_mode(h);
    if (mode == CGROUP_NONE) return 0;
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) goto fail;
    /* Above the descriptor the warden reads, so that dup2 onto it is a real copy (which
     * clears close-on-exec) and cannot close the write end. */
    int rd = fcntl(p[0], F_DUPFD_CLOEXEC, WARDEN_FD + 1);
    close(p[0]);
    if (rd < 0) {
        close(p[1]);
        goto fail;
    }
    char pid[24];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    char *argv[] = {"barge-warden", pid, (char *)cgroup_mode_name(mode),
                    (char *)cgroup_host_dir(h), NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, rd, WARDEN_FD);
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    /* A session of its own: what signals the agent's process group (a terminal's ^C, a
     * kill of the group) leaves the warden to do its work. */
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSID);
    pid_t child;
    /* /proc/self/exe runs this program even when its file was replaced or removed since. */
    int rc = posix_spawn(&child, "/proc/self/exe", &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(rd);
    if (rc != 0) {
        close(p[1]);
        errno = rc;
        goto fail;
    }
    /* p[1] stays open, unused, until this process ends (or the warden does). */
    warden_pid = child;
    warden_started = util_process_start(child);
    warden_wfd = p[1];
    warden_host = h;
    log_debug("warden %ld watches this agent's cgroups", (long)child);
    return 0;
fail:
    log_warn("no warden: should this agent die abruptly, what its attempts started runs on "
             "until another agent on this host starts (%s)", strerror(errno));
    return -1;
}

void warden_check(void)
{
    /* Ended (a zombie until the supervisor reaps it, or gone), or its pid another's now. */
    if (warden_pid <= 0) return;
    if (warden_started ? util_process_start(warden_pid) == warden_started
                       : util_process_alive(warden_pid))
        return;
    log_warn("the warden of this agent (pid %ld) has ended; starting another, without which "
             "what this agent's attempts started would outlive a crash of the agent",
             (long)warden_pid);
    close(warden_wfd);
    warden_wfd = -1;
    warden_pid = 0;
    warden_start(warden_host);
}

int warden_main(int argc, char **argv)
{
    struct stat st;
    char *end = NULL;
    long agent = argc == 4 ? strtol(argv[1], &end, 10) : 0;
    cgroup_mode mode = argc == 4 && strcmp(argv[2], "v1") == 0   ? CGROUP_V1
                       : argc == 4 && strcmp(argv[2], "v2") == 0 ? CGROUP_V2
                                                                 : CGROUP_NONE;
    if (agent <= 0 || !end || *end || mode == CGROUP_NONE || fstat(WARDEN_FD, &st) < 0 ||
        !S_ISFIFO(st.st_mode)) {
        fprintf(stderr, "barge-warden: started by `barge agent` only\n");
        return 2;
    }
#ifdef SYS_close_range
    syscall(SYS_close_range, WARDEN_FD + 1u, ~0u, 0u);
#endif
    prctl(PR_SET_NAME, "barge-warden");
    /* It holds no directory busy (an agent's work directory may be a mount to take away). */
    if (chdir("/") < 0) return 1;
    /* Only the end of its agent ends it: a signal meant for the agent's stop would otherwise
     * end the warden first. */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    char b[64];
    for (;;) {
        ssize_t n = read(WARDEN_FD, b, sizeof b);
        if (n == 0 || (n < 0 && errno != EINTR)) break;
    }
    /* The agent's parent of its attempts' memory cgroups (on v2 the agent itself was in a
     * leaf beside it, where this process still is, and which the next agent's sweep removes:
     * this process cannot leave it for the agent's first cgroup, where a new agent started
     * meanwhile would count it as a process in its way and run without memory limits),
     * then its attempts' pids cgroups, which sit in the v1 pids hierarchy's cgroup this
     * process shares with the agent. */
    char name[48];
    snprintf(name, sizeof name, "barge-agent-%ld", agent);
    int found = cgroup_sweep_agent(argv[3], name, mode);
    char *pc = util_read_file("/proc/self/cgroup"), *mi = util_read_file("/proc/self/mountinfo");
    char *pids_dir = NULL;
    if (pc && mi && cgroup_pids_locate_v1(pc, mi, &pids_dir) == 0) {
        snprintf(name, sizeof name, "barge-pids-%ld", agent);
        /* The same processes, mostly, killed already: not counted again. */
        (void)cgroup_sweep_agent(pids_dir, name, CGROUP_V1);
    }
    free(pids_dir);
    free(pc);
    free(mi);
    if (found)
        log_warn("agent %ld ended while its attempts ran: killed the %d process%s left in its "
                 "cgroups, so that none runs beside a retry", agent, found,
                 found > 1 ? "es" : "");
    return 0;
}
