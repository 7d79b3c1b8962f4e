/* exec_process — the `process` backend (see executor.h): an attempt is a host process in its own
 * process group and memory cgroup.
 *
 * Starting a job must stay cheap however large the agent grows, so the backend does not fork:
 * it clones with CLONE_VM | CLONE_VFORK onto a small dedicated stack, as posix_spawn does, and
 * the child only makes async-signal-safe calls before it execs.  Unlike posix_spawn, the child
 * can join the attempt's memory cgroup (a write of "0" to a cgroup.procs descriptor the parent
 * opened), so the job is limited from its first instruction. */
#include "agent/executor.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/mem.h"
#include "agent/cgroup_pids.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define SPAWN_STACK (256 * 1024)

static int is_executable_file(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) return -1;
    return faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0 ? 1 : 0;
}

char *exec_resolve(const char *argv0, const char *path_var)
{
    if (!*argv0) {
        errno = ENOENT;
        return NULL;
    }
    if (strchr(argv0, '/')) return xstrdup(argv0);
    int denied = 0;
    for (const char *p = path_var ? path_var : DEFAULT_PATH;;) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        /* An empty entry means the current directory, as in execvp. */
        char *cand = n ? xasprintf("%.*s/%s", (int)n, p, argv0) : xasprintf("./%s", argv0);
        int ok = is_executable_file(cand);
        if (ok == 1) return cand;
        if (ok == 0) denied = 1;
        free(cand);
        if (!colon) break;
        p = colon + 1;
    }
    errno = denied ? EACCES : ENOENT;
    return NULL;
}

/* ---- The spawner ------------------------------------------------------------------------- */

enum { STAGE_NONE, STAGE_PGID, STAGE_PARENT, STAGE_CGROUP, STAGE_USER, STAGE_CHDIR, STAGE_FDS,
       STAGE_EXEC, STAGE_SEARCH, STAGE_USERNS };

/* Shared between parent and child (CLONE_VM): the parent prepares everything, so the child
 * only makes system calls; a failing child leaves its stage and errno here and exits. */
typedef struct spawn_args {
    /* Where the command may be: itself when it names a path, else each PATH entry's file of
     * its name (a relative entry is relative to the working directory, which the child enters
     * first).  The child tries them in turn, as the job's user: root finds files the job's
     * user may not run, and the first match is not always the one that user would run. */
    char **paths;
    int tried; /* the last path execve was tried on */
    char *const *argv, *const *envp;
    const char *cwd;
    int in_fd, out_fd, err_fd, cg_fd;
    int pids_fd;        /* the attempt's pids cgroup, or -1: then nproc applies */
    struct rlimit nproc; /* rlim_cur 0: none */
    /* The nproc limit is counted in a user namespace of the attempt's own, its id maps
     * written as map_uid and map_gid (each "ID ID 1"); "" for none. */
    char map_uid[32], map_gid[32];
    int uid, gid; /* -1: stay the agent's user */
    int umask;    /* -1: the agent's */
    int no_new_privs; /* the job may gain no uid or capability by exec (a setuid file) */
    int own_ipc;      /* an IPC namespace of the attempt's own */
    int max_fd;
    pid_t parent;
    struct sigaction dfl;
    sigset_t empty;
    volatile int stage, err;
} spawn_args;

static int __attribute__((noreturn)) child_fail(spawn_args *a, int stage)
{
    a->err = errno ? errno : EIO;
    a->stage = stage;
    _exit(127);
}

__attribute__((no_sanitize_address)) static int write_all(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t n = strlen(text);
    int ok = write(fd, text, n) == (ssize_t)n;
    close(fd);
    return ok ? 0 : -1;
}

/* RLIMIT_NPROC counts the processes of a uid in one user namespace (and the namespace's as a
 * whole against its creator's limit in the parent): in a namespace of its own, mapping only its
 * own ids, an attempt's limit counts the attempt's processes, not every process of the user it
 * shares with other jobs and the agent.  Made before the limit is set, so the parent's count
 * is held to the agent's own limit.  Where user namespaces cannot be made, the shared count it
 * is. */
__attribute__((no_sanitize_address)) static void own_userns(spawn_args *a)
{
    if (unshare(CLONE_NEWUSER) < 0) return;
    if (write_all("/proc/self/uid_map", a->map_uid) < 0 ||
        write_all("/proc/self/setgroups", "deny") < 0 ||
        write_all("/proc/self/gid_map", a->map_gid) < 0)
        child_fail(a, STAGE_USERNS);
}

/* The child, on its own stack in the parent's memory; the parent is suspended until it execs or
 * exits.  Every call here is async-signal-safe. */
__attribute__((no_sanitize_address)) static int spawn_child(void *arg)
{
    spawn_args *a = arg;
    /* Signal dispositions and the mask survive exec: give the job the defaults. */
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &a->dfl, NULL);
    sigprocmask(SIG_SETMASK, &a->empty, NULL);
    /* Its own session and process group: one signal reaches everything the job starts, and
     * the agent's terminal, when it has one, is not the job's (a job that opened /dev/tty
     * would be stopped by SIGTTIN for as long as it runs, where in a container the open
     * fails). */
    if (setsid() < 0) child_fail(a, STAGE_PGID);
    if (a->cg_fd >= 0 && write(a->cg_fd, "0", 1) != 1) child_fail(a, STAGE_CGROUP);
    if (a->pids_fd >= 0 && write(a->pids_fd, "0", 1) != 1) child_fail(a, STAGE_CGROUP);
    if (*a->map_uid) own_userns(a);
    /* SysV shared memory, semaphores and message queues, and POSIX message queues, are the
     * attempt's alone (no other job attaches to a segment made 0666) and go with its last
     * process, as in a container, rather than staying in the host's tables for whoever next
     * has the uid.  Where it cannot be made (a host that forbids it to root) the job shares
     * the agent's, as before. */
    if (a->own_ipc) (void)unshare(CLONE_NEWIPC);
    if (a->pids_fd < 0 && a->nproc.rlim_cur > 0 && setrlimit(RLIMIT_NPROC, &a->nproc) < 0)
        child_fail(a, STAGE_CGROUP);
    /* The job's user, with no supplementary group of the agent's, after joining the cgroup
     * (which takes the agent's rights). */
    if (a->uid >= 0) {
        gid_t g = (gid_t)a->gid;
        if (setgroups(1, &g) < 0 || setresgid(g, g, g) < 0 ||
            setresuid((uid_t)a->uid, (uid_t)a->uid, (uid_t)a->uid) < 0)
            child_fail(a, STAGE_USER);
    }
    /* If the agent dies abruptly its jobs die too, instead of running on unsupervised while the
     * server retries them elsewhere.  After the change of user and user namespace, each of
     * which clears the setting: set before them, a job of a per-attempt uid outlived a killed
     * agent and ran beside its own retry. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != a->parent)
        child_fail(a, STAGE_PARENT);
    if (a->umask >= 0) umask((mode_t)a->umask);
    if (a->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) child_fail(a, STAGE_USER);
    if (chdir(a->cwd) < 0) child_fail(a, STAGE_CHDIR);
    if (dup2(a->in_fd, 0) < 0 || dup2(a->out_fd, 1) < 0 || dup2(a->err_fd, 2) < 0)
        child_fail(a, STAGE_FDS);
    /* Descriptors the agent's libraries opened without close-on-exec must not leak into jobs. */
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3u, ~0u, 0u) < 0)
#endif
        for (int fd = 3; fd < a->max_fd; fd++) close(fd);
    int denied = 0;
    for (int i = 0; a->paths[i]; i++) {
        a->tried = i;
        execve(a->paths[i], a->argv, a->envp);
        /* As execvp: a file that is not there (or not a file one may run) sends the search on;
         * any other failure is this file's, and the job's.  A refusal is the file's only when
         * the job's user can see it: a PATH entry it may not enter (root's /root/.pyenv) holds
         * nothing for it, as a shell that searches would say ("not found"). */
        struct stat st;
        if (errno == EACCES) denied |= stat(a->paths[i], &st) == 0;
        else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ELOOP &&
                 errno != ENAMETOOLONG)
            child_fail(a, STAGE_EXEC);
    }
    errno = denied ? EACCES : ENOENT;
    child_fail(a, STAGE_SEARCH);
}

/* Starts the child; returns its pid (the child has exec'd or failed by then), or -1. */
static pid_t spawn(spawn_args *a)
{
    /* One stack per spawning thread, made once and kept: the parent waits while the child uses it
     * (CLONE_VFORK), so no two children share it, and its pages stay mapped from one attempt
     * to the next. */
    static __thread char *stack;
    if (!stack) {
        char *s = mmap(NULL, SPAWN_STACK, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        if (s == MAP_FAILED) return -1;
        mprotect(s, 4096, PROT_NONE); /* a guard page below the stack */
        stack = s;
    }
    memset(&a->dfl, 0, sizeof a->dfl);
    a->dfl.sa_handler = SIG_DFL;
    sigemptyset(&a->empty);
    struct rlimit rl;
    a->max_fd = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur
                                                                          : 65536;
    a->parent = getpid();
    a->stage = STAGE_NONE;
    /* No signal handler may run in the child while it shares the parent's memory. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pid_t pid = clone(spawn_child, stack + SPAWN_STACK, CLONE_VM | CLONE_VFORK | SIGCHLD, a);
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return pid;
}

/* Keeps a descriptor off 0, 1 and 2, where the child's dup2 would clobber it. */
static int above_stdio(int fd)
{
    if (fd < 0 || fd > 2) return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return moved;
}

static const char *env_get(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (; envp && *envp; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=') return *envp + n + 1;
    return NULL;
}

/* The jobs' standard input, opened once: every attempt reads the same /dev/null.  Opened again
 * while it could not be (descriptors ran out for a moment): once failed is not failed for
 * good. */
static int null_fd = -1;
static pthread_mutex_t null_mu = PTHREAD_MUTEX_INITIALIZER;

static int open_null(void)
{
    pthread_mutex_lock(&null_mu);
    if (null_fd < 0) null_fd = above_stdio(open("/dev/null", O_RDONLY | O_CLOEXEC));
    int fd = null_fd;
    pthread_mutex_unlock(&null_mu);
    return fd;
}

/* Where the child looks for argv0 (spawn_args.paths), NULL-terminated and fresh. */
static char **search_paths(const char *argv0, const char *path_var)
{
    if (!*argv0) return xcalloc(1, sizeof(char *)); /* nowhere: not found */
    if (strchr(argv0, '/')) {
        char **one = xcalloc(2, sizeof *one);
        one[0] = xstrdup(argv0);
        return one;
    }
    const char *p = path_var ? path_var : DEFAULT_PATH;
    size_t n = 2;
    for (const char *c = p; *c; c++) n += *c == ':';
    char **paths = xcalloc(n, sizeof *paths);
    size_t k = 0;
    for (;;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        /* An empty entry means the current directory, as in execvp. */
        paths[k++] = len ? xasprintf("%.*s/%s", (int)len, p, argv0) : xasprintf("./%s", argv0);
        if (!colon) break;
        p = colon + 1;
    }
    return paths;
}

static void free_paths(char **paths)
{
    for (size_t i = 0; paths && paths[i]; i++) free(paths[i]);
    free(paths);
}

static int process_start(exec_attempt *a, char *reason, size_t reason_len)
{
    const exec_spec *s = a->spec;
    if (!s->argv || !s->argv[0]) {
        snprintf(reason, reason_len, "CannotStartContainerError: no command specified");
        return -1;
    }
    char **paths = search_paths(s->argv[0], env_get(s->envp, "PATH"));
    int out[2] = {-1, -1}, err[2] = {-1, -1};
    int in_fd = open_null();
    if (in_fd < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
        snprintf(reason, reason_len, "CannotStartContainerError: cannot create pipes: %s",
                 strerror(errno));
        goto fail;
    }
    out[1] = above_stdio(out[1]);
    err[1] = above_stdio(err[1]);
    /* A uid of the attempt's own has no account and no home: its directory is its home, where
     * no other job may leave a ~/.local or a ~/.gitconfig for it to run. */
    char **envp = s->envp, *home = NULL;
    if (a->own_uid && !env_get(s->envp, "HOME")) {
        size_t n = 0;
        while (s->envp && s->envp[n]) n++;
        envp = xcalloc(n + 2, sizeof *envp);
        for (size_t i = 0; i < n; i++) envp[i] = s->envp[i];
        envp[n] = home = xasprintf("HOME=%s", a->work_dir);
    }
    spawn_args args = {
        .paths = paths, .argv = s->argv, .envp = envp, .cwd = a->work_dir,
        .in_fd = in_fd, .out_fd = out[1], .err_fd = err[1],
        .cg_fd = a->cg ? cgroup_procs_fd(a->cg) : -1, .pids_fd = -1,
        .uid = a->run_uid, .gid = a->run_gid, .umask = a->own_uid ? 002 : -1,
        /* A uid of its own is the attempt's alone only if no other job can become it: a
         * setuid copy of a shell that a job of that uid left in /tmp would let any later job
         * in, and to whichever attempt has the uid when the range comes round. */
        .no_new_privs = a->own_uid,
    };
    if (s->max_pids > 0) {
        /* Every attempt gets a pids limit: the pids controller where the host has one, else
         * RLIMIT_NPROC (weaker: per user, and not enforced on root). */
        char name[96];
        snprintf(name, sizeof name, "%s-%d", s->job_id, s->attempt);
        for (char *p = name; *p; p++)
            if (*p == ':') *p = '_';
        args.pids_fd = cgroup_pids_open(name, s->max_pids);
        args.nproc.rlim_cur = args.nproc.rlim_max = (rlim_t)s->max_pids;
        /* An unprivileged agent's own user runs its jobs, beside its other processes. */
        if (args.pids_fd < 0 && a->run_uid < 0 && !a->runtime && geteuid() != 0) {
            snprintf(args.map_uid, sizeof args.map_uid, "%u %u 1", (unsigned)geteuid(),
                     (unsigned)geteuid());
            snprintf(args.map_gid, sizeof args.map_gid, "%u %u 1", (unsigned)getegid(),
                     (unsigned)getegid());
        }
    }
    /* Root may make one; an unprivileged agent only within a user namespace of the attempt's.
     * A container runtime makes the container's own as its configuration says. */
    args.own_ipc = !a->runtime && (geteuid() == 0 || *args.map_uid);
    pid_t pid = spawn(&args);
    if (envp != s->envp) free(envp);
    free(home);
    if (args.pids_fd >= 0) close(args.pids_fd);
    if (pid < 0) {
        snprintf(reason, reason_len, "CannotStartContainerError: cannot create a process: %s",
                 strerror(errno));
        goto fail;
    }
    if (args.stage != STAGE_NONE) {
        waitpid(pid, NULL, 0);
        const char *e = strerror(args.err);
        switch (args.stage) {
        case STAGE_EXEC:
            snprintf(reason, reason_len, "CannotStartContainerError: exec %s: %s",
                     paths[args.tried], e);
            break;
        case STAGE_SEARCH:
            /* Docker's words, which tools match. */
            if (strchr(s->argv[0], '/'))
                snprintf(reason, reason_len, "CannotStartContainerError: exec %s: %s",
                         s->argv[0], e);
            else if (args.err == EACCES)
                snprintf(reason, reason_len, "CannotStartContainerError: exec: \"%s\": "
                         "permission denied", s->argv[0]);
            else
                snprintf(reason, reason_len, "CannotStartContainerError: exec: \"%s\": "
                         "executable file not found in $PATH", s->argv[0]);
            break;
        case STAGE_CHDIR:
            snprintf(reason, reason_len, "CannotStartContainerError: cannot enter the working "
                                         "directory %s: %s", a->work_dir, e);
            break;
        case STAGE_USER:
            snprintf(reason, reason_len, "CannotStartContainerError: cannot become uid %d, gid "
                                         "%d: %s", a->run_uid, a->run_gid, e);
            break;
        case STAGE_USERNS:
            snprintf(reason, reason_len, "CannotStartContainerError: cannot map the ids of the "
                                         "user namespace its process limit is counted in: %s", e);
            break;
        case STAGE_CGROUP:
            snprintf(reason, reason_len, "CannotStartContainerError: cannot join the memory "
                                         "cgroup %s: %s", cgroup_path(a->cg), e);
            break;
        default:
            snprintf(reason, reason_len, "CannotStartContainerError: cannot prepare the "
                                         "process (step %d): %s", args.stage, e);
        }
        goto fail;
    }
    close(out[1]);
    close(err[1]);
    free_paths(paths);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(err[0], F_SETFL, O_NONBLOCK);
    a->pid = pid;
    a->out_fd = out[0];
    a->err_fd = err[0];
    return 0;
fail:
    free_paths(paths);
    int fds[] = {out[0], out[1], err[0], err[1]};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0) close(fds[i]);
    return -1;
}

static void process_kill(exec_attempt *a, int sig)
{
    if (a->pid > 0) kill(-a->pid, sig);
    /* A process that left the group (setsid) is still in the cgroup. */
    if (sig == SIGKILL && a->cg) cgroup_kill_all(a->cg);
}

const exec_backend exec_process_backend = {
    .name = "process", .start = process_start, .kill = process_kill};
