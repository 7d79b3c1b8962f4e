/* barge-init — PID 1 of a container whose job asks for linuxParameters.initProcessEnabled, as
 * Docker's --init runs tini.
 *
 *     barge-init [--] COMMAND [ARG...]
 *
 * The agent bind-mounts this file read-only at /dev/init and runs it as the container's first
 * process, the job's command as its arguments.  /dev rather than Docker's /sbin/docker-init
 * because runc gives every container a fresh tmpfs there: the mount point never has to be made
 * in the image's root filesystem, which the image cache unpacks once and shares.  Images hold no
 * barge files, not even a libc that fits, so this is a program of its own, linked statically
 * against libc alone, and it includes nothing from the rest of src/.
 *
 * It does what tini does by default: it runs the command as its child, in a process group of
 * its own; forwards every signal it may catch to that child; reaps every process that ends
 * beneath it (in a pid namespace orphans are reparented to PID 1, and a PID 1 that does not wait
 * for them leaves zombies); and exits as the child did, with 128 + the signal's number when a
 * signal ended it.  It prints nothing unless the command cannot be run. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The init's own exit statuses, for when the command never ran.  126 and 127 are a shell's (and
 * Docker's) for a command found but not runnable and for one not found. */
enum { INIT_FAILED = 1, INIT_USAGE = 2, INIT_CANNOT_RUN = 126, INIT_NOT_FOUND = 127 };

/* Signals the init keeps rather than forwards.  The synchronous ones report a fault of its own
 * and must stay deliverable; SIGTTIN and SIGTTOU it ignores (see init_signals). */
static const int init_own_signals[] = {SIGFPE,  SIGILL,  SIGSEGV, SIGBUS, SIGABRT,
                                       SIGTRAP, SIGSYS,  SIGTTIN, SIGTTOU};

/* What the command gets back: the signal state the init found, undone from init_signals. */
typedef struct init_saved {
    sigset_t mask;
    struct sigaction ttin, ttou;
} init_saved;

static void init_fail(const char *what)
{
    fprintf(stderr, "barge-init: %s: %s\n", what, strerror(errno));
    exit(INIT_FAILED);
}

/* Blocks every signal the init forwards, so that each waits in the queue for sigwaitinfo.
 * Blocking is also what lets a pid namespace's PID 1 receive them at all: the kernel discards a
 * signal sent to such a process when it has no handler for it, unless the signal is blocked. */
static void init_signals(sigset_t *waited, init_saved *saved)
{
    sigfillset(waited);
    for (size_t i = 0; i < sizeof init_own_signals / sizeof init_own_signals[0]; i++)
        sigdelset(waited, init_own_signals[i]);
    if (sigprocmask(SIG_SETMASK, waited, &saved->mask) < 0) init_fail("sigprocmask");

    /* The child takes the terminal's foreground, if there is a terminal; the init, then in the
     * background, must not be stopped for touching it. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, dfl = {.sa_handler = SIG_DFL};
    sigaction(SIGTTIN, &ign, &saved->ttin);
    sigaction(SIGTTOU, &ign, &saved->ttou);
    /* Were SIGCHLD ignored by whoever started the init, the kernel would reap its children
     * itself and the command's status would be lost. */
    sigaction(SIGCHLD, &dfl, NULL);
}

/* In the child, between fork and exec.  A group of its own, as tini makes, so that a terminal's
 * ^C reaches the command once rather than again through the init; then the caller's signal
 * state back, and the command. */
static void init_exec(char **argv, const init_saved *saved)
{
    setpgid(0, 0);
    /* Fails with ENOTTY when there is no terminal, a batch job's usual case, and that is fine.
     * SIGTTOU is still ignored here, so a process in a background group may take the terminal. */
    tcsetpgrp(STDIN_FILENO, getpgrp());
    sigaction(SIGTTIN, &saved->ttin, NULL);
    sigaction(SIGTTOU, &saved->ttou, NULL);
    sigprocmask(SIG_SETMASK, &saved->mask, NULL);

    execvp(argv[0], argv);
    int e = errno;
    fprintf(stderr, "barge-init: exec %s failed: %s\n", argv[0], strerror(e));
    _exit(e == EACCES || e == EPERM || e == ENOEXEC ? INIT_CANNOT_RUN : INIT_NOT_FOUND);
}

/* Reaps every process that has ended.  Returns the exit status for the command's end, when the
 * command is among them, else -1. */
static int init_reap(pid_t child)
{
    int result = -1, status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid != child) continue; /* an orphan: waiting was all it needed */
        result = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    }
    if (pid < 0 && errno != ECHILD) init_fail("waitpid");
    return result;
}

int main(int argc, char **argv)
{
    char **cmd = argv + 1;
    if (argc > 1 && strcmp(*cmd, "--") == 0) cmd++;
    if (!*cmd) {
        fputs("usage: barge-init [--] COMMAND [ARG...]\n", stderr);
        return INIT_USAGE;
    }

    sigset_t waited;
    init_saved saved;
    init_signals(&waited, &saved);

    pid_t child = fork();
    if (child < 0) init_fail("fork");
    if (child == 0) init_exec(cmd, &saved);

    /* Signals sent before this point were blocked and queued, so none is lost; the same holds
     * for a SIGCHLD of a command that has already ended. */
    for (;;) {
        int sig = sigwaitinfo(&waited, NULL);
        if (sig < 0) {
            if (errno == EINTR) continue; /* a SIGSTOP and SIGCONT of the init itself */
            init_fail("sigwaitinfo");
        }
        if (sig != SIGCHLD) {
            /* To the child alone, not its group, as tini does by default: the command decides
             * what its own children hear.  ESRCH means it has just ended; its SIGCHLD follows. */
            kill(child, sig);
            continue;
        }
        /* The command's end ends the init.  Had the init been PID 1 of a pid namespace, the
         * kernel now kills whatever is left in it. */
        int status = init_reap(child);
        if (status >= 0) return status;
    }
}
