/* tool — see tool.h. */
#include "agent/tool.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/reaper.h"
#include "common/mem.h"
#include "common/util.h"

/* Enough of a tool's standard error to say why it failed. */
#define TOOL_ERR_MAX 16384

extern char **environ;


/* Runs argv with standard error captured into *err and a deadline, waiting for that child only
 * (the agent reaps its attempts' processes elsewhere).  Returns 0 when it exited with 0. */
int tool_run(char *const argv[], int timeout_s, buf *err)
{
    return tool_run_stoppable(argv, timeout_s, NULL, err);
}

int tool_run_stoppable(char *const argv[], int timeout_s, const atomic_int *stop, buf *err)
{
    if (stop && atomic_load(stop)) {
        buf_printf(err, "%s: not run: the agent is stopping", argv[0]);
        return -1;
    }
    int p[2], rc = -1;
    pid_t pid;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, defaults;

    if (pipe2(p, O_CLOEXEC) < 0) {
        buf_printf(err, "pipe: %s", strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    posix_spawnattr_init(&attr);
    /* The tool gets default signal handling, whatever the agent's threads block, and its own
     * process group so that a deadline kills whatever it started too. */
    sigemptyset(&none);
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGCHLD);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETPGROUP);
    /* Claimed before the executor's supervisor could reap it (see reaper.h). */
    reaper_hold();
    int e = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
    if (e == 0) reaper_claim(pid);
    reaper_let_go();
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(p[1]);
    if (e != 0) {
        close(p[0]);
        buf_printf(err, "cannot run %s: %s", argv[0], strerror(e));
        return -1;
    }

    int64_t deadline = util_mono_ms() + (int64_t)timeout_s * 1000;
    int open_pipe = 1, status = 0, done = 0, timed_out = 0, stopped = 0;
    while (!done) {
        int64_t left = deadline - util_mono_ms();
        if (left <= 0 || (stop && atomic_load(stop))) {
            kill(-pid, SIGKILL);
            reaper_wait(pid, &status, 0);
            stopped = left > 0;
            timed_out = !stopped;
            done = 1;
            break;
        }
        if (open_pipe) {
            struct pollfd pfd = {.fd = p[0], .events = POLLIN};
            int n = poll(&pfd, 1, left > 100 ? 100 : (int)left);
            if (n > 0) {
                char chunk[4096];
                ssize_t got = read(p[0], chunk, sizeof chunk);
                if (got > 0 && err->len < TOOL_ERR_MAX)
                    buf_append(err, chunk, (size_t)got);
                else if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN))
                    open_pipe = 0;
            }
            continue;
        }
        pid_t w = reaper_wait(pid, &status, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR)) {
            done = 1;
        } else {
            struct timespec nap = {0, 5 * 1000 * 1000};
            nanosleep(&nap, NULL);
        }
    }
    close(p[0]);
    if (timed_out)
        buf_printf(err, "\n%s: no answer within %d s", argv[0], timeout_s);
    else if (stopped)
        buf_printf(err, "\n%s: stopped: the agent is stopping", argv[0]);
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        rc = 0;
    else if (WIFSIGNALED(status))
        buf_printf(err, "\n%s: killed by signal %d", argv[0], WTERMSIG(status));
    return rc;
}

/* One line of why a tool failed, from its standard error: the last logrus msg="..." (skopeo's
 * fatal message), else the last non-empty line; "CannotPullContainerError: " before it. */
void tool_reason(const char *prefix, const char *what, const char *err, char *reason,
                 size_t len)
{
    buf line = {0};
    const char *m = NULL, *s;
    for (s = err; (s = strstr(s, "msg=\"")) != NULL; s += 5) m = s + 5;
    if (m) {
        for (; *m && *m != '"' && *m != '\n'; m++) {
            if (*m == '\\' && m[1] && m[1] != '\n') m++;
            buf_append(&line, m, 1);
        }
    } else {
        const char *start = NULL, *end = NULL, *p = err;
        while (*p) {
            const char *eol = strchr(p, '\n');
            if (!eol) eol = p + strlen(p);
            const char *q = p;
            /* umoci starts its lines with blanks and a mark. */
            while (q < eol && (*q == ' ' || *q == '\t' || (unsigned char)*q >= 0x80)) q++;
            if (q < eol) start = q, end = eol;
            p = *eol ? eol + 1 : eol;
        }
        if (start) buf_append(&line, start, (size_t)(end - start));
    }
    snprintf(reason, len, "%s%s%s%s", prefix, what ? what : "",
             what ? ": " : "", line.len ? line.data : "failed without saying why");
    buf_free(&line);
}

