/* exec_process.c: the process backend and the supervisor, with real processes: exit codes,
 * signals, output lines, the environment, process-group kills, timeouts (SIGTERM, then SIGKILL
 * after the grace period), kill orders, start failures and, where cgroups work, OOM kills.
 *
 * The test binary doubles as a helper program: `test_exec_process --alloc N` touches N MiB. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/util.h"
#include "agent/cgroup.h"
#include "agent/executor.h"
#include "check.h"

/* ---- What the callbacks saw, per job ----------------------------------------------------- */

typedef struct seen {
    char job[64];
    int started, ended;
    pid_t pid;
    exec_result res;
    char reason[1024];
    char **lines;
    int *sources;
    int nlines;
    int64_t ended_mono;
} seen;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static seen records[256];
static int nrecords;
static int order_errors;

static seen *record(const char *job)
{
    for (int i = 0; i < nrecords; i++)
        if (strcmp(records[i].job, job) == 0) return &records[i];
    CHECK(nrecords < 256);
    seen *s = &records[nrecords++];
    memset(s, 0, sizeof *s);
    snprintf(s->job, sizeof s->job, "%s", job);
    return s;
}

static void on_started(void *ctx, const exec_spec *s, const exec_started *st)
{
    pid_t pid = st->pid;
    pthread_mutex_lock(&mu);
    seen *r = record(s->job_id);
    if (r->started || r->ended) order_errors++;
    r->started = 1;
    r->pid = pid;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&mu);
}

static void on_line(void *ctx, const exec_spec *s, int source, int64_t at, const char *text,
                    size_t len)
{
    pthread_mutex_lock(&mu);
    seen *r = record(s->job_id);
    if (!r->started || r->ended) order_errors++;
    r->lines = xrealloc(r->lines, (size_t)(r->nlines + 1) * sizeof *r->lines);
    r->sources = xrealloc(r->sources, (size_t)(r->nlines + 1) * sizeof *r->sources);
    r->lines[r->nlines] = xstrndup(text, len);
    r->sources[r->nlines++] = source;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&mu);
}

static void on_ended(void *ctx, const exec_spec *s, const exec_result *res)
{
    pthread_mutex_lock(&mu);
    seen *r = record(s->job_id);
    if (r->ended || (res->started && !r->started)) order_errors++;
    r->ended = 1;
    r->res = *res;
    snprintf(r->reason, sizeof r->reason, "%s", res->reason ? res->reason : "");
    r->res.reason = r->reason;
    r->ended_mono = util_mono_ms();
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&mu);
}

static const exec_events events = {on_started, on_line, on_ended, NULL};

static void forget_records(void)
{
    for (int i = 0; i < nrecords; i++) {
        for (int j = 0; j < records[i].nlines; j++) free(records[i].lines[j]);
        free(records[i].lines);
        free(records[i].sources);
    }
    nrecords = 0;
}

/* Waits for the job to end; returns its record. */
static seen *wait_ended(const char *job, int timeout_ms)
{
    int64_t deadline = util_mono_ms() + timeout_ms;
    pthread_mutex_lock(&mu);
    seen *r = record(job);
    while (!r->ended && util_mono_ms() < deadline) {
        pthread_mutex_unlock(&mu);
        usleep(5000);
        pthread_mutex_lock(&mu);
    }
    pthread_mutex_unlock(&mu);
    if (!r->ended) CHECK_FAIL_("job %s did not end within %d ms", job, timeout_ms);
    CHECK_EQ_INT(order_errors, 0);
    return r;
}

static void wait_lines(const char *job, int n, int timeout_ms)
{
    int64_t deadline = util_mono_ms() + timeout_ms;
    pthread_mutex_lock(&mu);
    while (record(job)->nlines < n && util_mono_ms() < deadline) {
        pthread_mutex_unlock(&mu);
        usleep(5000);
        pthread_mutex_lock(&mu);
    }
    int got = record(job)->nlines;
    pthread_mutex_unlock(&mu);
    if (got < n)
        CHECK_FAIL_("job %s wrote %d lines, not %d, within %d ms", job, got, n, timeout_ms);
}

/* ---- Running things ------------------------------------------------------------------------ */

static executor *ex;
static pthread_t loop;
static char *work_dir;
static char *data_dir; /* holds "data", a file that is not a program */
static cgroup_host *cgroups;
static char self_exe[4096];

static void *loop_main(void *arg)
{
    executor_run(arg);
    return NULL;
}

static void start_executor(cgroup_host *cg)
{
    exec_options o = {&exec_process_backend, work_dir, cg, &events, NULL, 0, NULL, -1, -1, NULL};
    ex = executor_new(&o);
    pthread_create(&loop, NULL, loop_main, ex);
}

static void stop_executor(void)
{
    executor_stop(ex, "the test is over");
    pthread_join(loop, NULL);
    executor_free(ex);
    ex = NULL;
}

/* Builds a spec from a NULL-terminated argument list. */
static exec_spec *spec(const char *job, char **env, const char *arg0, ...)
{
    exec_spec *s = xcalloc(1, sizeof *s);
    s->job_id = xstrdup(job);
    s->attempt = 1;
    s->log_stream = xstrdup("def/default/x");
    s->kill_grace_seconds = 10;
    va_list ap;
    size_t n = 0;
    s->argv = xcalloc(16, sizeof *s->argv);
    va_start(ap, arg0);
    for (const char *a = arg0; a && n < 15; a = va_arg(ap, const char *)) s->argv[n++] = xstrdup(a);
    va_end(ap);
    static char *default_env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", NULL};
    if (!env) env = default_env;
    size_t ne = 0;
    while (env[ne]) ne++;
    s->envp = xcalloc(ne + 1, sizeof *s->envp);
    for (size_t i = 0; i < ne; i++) s->envp[i] = xstrdup(env[i]);
    return s;
}

static int alive(pid_t pid)
{
    /* A zombie still answers kill(0); look at its state instead. */
    char path[64], text[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int ok = fgets(text, sizeof text, f) != NULL;
    fclose(f);
    char *close_paren = ok ? strrchr(text, ')') : NULL;
    return close_paren && close_paren[2] != 'Z' && close_paren[2] != 'X';
}

static void wait_gone(pid_t pid)
{
    for (int i = 0; i < 200 && alive(pid); i++) usleep(10000);
    if (alive(pid)) CHECK_FAIL_("process %ld is still alive", (long)pid);
}

/* ---- Tests ---------------------------------------------------------------------------------- */

static void test_exit_code_and_lines(void)
{
    executor_submit(ex, spec("exit3", NULL, "sh", "-c", "echo out; echo err >&2; printf 'no "
                                                         "newline'; exit 3", NULL));
    seen *r = wait_ended("exit3", 5000);
    CHECK(r->started);
    CHECK(r->pid > 0);
    CHECK(r->res.started);
    CHECK(r->res.exited);
    CHECK_EQ_INT(r->res.exit_code, 3);
    CHECK_EQ_INT(r->res.signal, 0);
    CHECK_EQ_INT(r->res.cause, EXEC_STOP_NONE);
    CHECK_EQ_INT(r->res.oom, 0);
    CHECK(r->res.started_at > 0 && r->res.ended_at >= r->res.started_at);
    CHECK_EQ_INT(r->nlines, 3);
    /* stdout and stderr are separate pipes: order holds within each. */
    int out = -1, err = -1, tail = -1;
    for (int i = 0; i < 3; i++) {
        if (strcmp(r->lines[i], "out") == 0) out = i;
        if (strcmp(r->lines[i], "err") == 0) err = i;
        if (strcmp(r->lines[i], "no newline") == 0) tail = i;
    }
    CHECK(out >= 0 && err >= 0 && tail >= 0);
    CHECK_EQ_INT(r->sources[out], 1);
    CHECK_EQ_INT(r->sources[err], 2);
    CHECK(out < tail);
}

static void test_environment_is_exact(void)
{
    char *env[] = {"A=1", "B=two words", "PATH=/usr/bin:/bin", NULL};
    executor_submit(ex, spec("env", env, "env", NULL));
    seen *r = wait_ended("env", 5000);
    CHECK_EQ_INT(r->res.exit_code, 0);
    CHECK_EQ_INT(r->nlines, 3);
    CHECK_STR(r->lines[0], "A=1");
    CHECK_STR(r->lines[1], "B=two words");
    CHECK_STR(r->lines[2], "PATH=/usr/bin:/bin");
}

static void test_working_directory(void)
{
    executor_submit(ex, spec("cwd:7", NULL, "sh", "-c", "pwd; touch made; ls", NULL));
    seen *r = wait_ended("cwd:7", 5000);
    CHECK_EQ_INT(r->res.exit_code, 0);
    CHECK_EQ_INT(r->nlines, 2);
    /* A directory of its own below the agent's, removed after the attempt since the job left
     * a file in it. */
    char *prefix = xasprintf("%s/", work_dir);
    CHECK(strncmp(r->lines[0], prefix, strlen(prefix)) == 0);
    CHECK(strchr(r->lines[0] + strlen(prefix), '/') == NULL);
    CHECK_STR(r->lines[1], "made");
    /* The cleanup follows the end's report (so that the report is not kept waiting): the
     * directory goes a moment after the end is seen. */
    struct stat st;
    int gone = 0;
    for (int i = 0; i < 500 && !gone; i++) {
        gone = stat(r->lines[0], &st) < 0 && errno == ENOENT;
        if (!gone) usleep(10 * 1000);
    }
    CHECK(gone);
    free(prefix);

    /* A directory left empty may serve a later attempt, but every attempt starts in an empty
     * one. */
    executor_submit(ex, spec("cwd:8", NULL, "sh", "-c", "ls -A; pwd", NULL));
    r = wait_ended("cwd:8", 5000);
    CHECK_EQ_INT(r->res.exit_code, 0);
    CHECK_EQ_INT(r->nlines, 1);
    executor_submit(ex, spec("cwd:9", NULL, "sh", "-c", "ls -A; mkdir d; touch .hidden", NULL));
    r = wait_ended("cwd:9", 5000);
    CHECK_EQ_INT(r->res.exit_code, 0);
    CHECK_EQ_INT(r->nlines, 0);
    executor_submit(ex, spec("cwd:10", NULL, "sh", "-c", "ls -A; pwd", NULL));
    r = wait_ended("cwd:10", 5000);
    CHECK_EQ_INT(r->res.exit_code, 0);
    CHECK_EQ_INT(r->nlines, 1);
}

static void test_start_failures(void)
{
    executor_submit(ex, spec("nosuch", NULL, "no-such-program-barge", NULL));
    seen *r = wait_ended("nosuch", 5000);
    CHECK(!r->started);
    CHECK(!r->res.started);
    CHECK_STR(r->reason, "CannotStartContainerError: exec: \"no-such-program-barge\": executable "
                         "file not found in $PATH");
    executor_submit(ex, spec("abs", NULL, "/no/such", NULL));
    r = wait_ended("abs", 5000);
    CHECK(!r->res.started);
    CHECK_STR(r->reason, "CannotStartContainerError: exec /no/such: No such file or directory");
    exec_spec *s = spec("empty", NULL, NULL);
    executor_submit(ex, s);
    r = wait_ended("empty", 5000);
    CHECK_CONTAINS(r->reason, "no command specified");
    /* A file that is not a program. */
    char *data = xasprintf("%s/data", data_dir);
    executor_submit(ex, spec("noexec", NULL, data, NULL));
    r = wait_ended("noexec", 5000);
    char *want = xasprintf("CannotStartContainerError: exec %s: Permission denied", data);
    CHECK_STR(r->reason, want);
    free(want);
    free(data);
}

static void test_resolve(void)
{
    char *p = exec_resolve("sh", "/nonexistent:/bin:/usr/bin");
    CHECK_STR(p, "/bin/sh");
    free(p);
    errno = 0;
    CHECK(exec_resolve("sh", "/nonexistent") == NULL);
    CHECK_EQ_INT(errno, ENOENT);
    CHECK(exec_resolve("data", data_dir) == NULL); /* found, but not executable */
    CHECK_EQ_INT(errno, EACCES);
    p = exec_resolve("./x", "/bin");
    CHECK_STR(p, "./x");
    free(p);
    CHECK(exec_resolve("", "/bin") == NULL);
}

static void test_signal_ends_it(void)
{
    executor_submit(ex, spec("usr1", NULL, "sh", "-c", "kill -USR1 $$", NULL));
    seen *r = wait_ended("usr1", 5000);
    CHECK(!r->res.exited);
    CHECK_EQ_INT(r->res.signal, SIGUSR1);
}

static void test_kill_order_reaches_the_group(void)
{
    /* The background sleep is in the job's process group; the kill order must reach it. */
    executor_submit(ex, spec("group", NULL, "sh", "-c", "sleep 60 & echo $!; wait", NULL));
    wait_lines("group", 1, 5000);
    pthread_mutex_lock(&mu);
    pid_t child = (pid_t)atol(record("group")->lines[0]);
    pthread_mutex_unlock(&mu);
    CHECK(alive(child));
    int64_t t0 = util_mono_ms();
    executor_kill(ex, "group", 1, EXEC_STOP_KILLED, "Terminated by user");
    seen *r = wait_ended("group", 8000);
    CHECK(r->ended_mono - t0 < 6000); /* not the sleep's 60 s */
    CHECK_EQ_INT(r->res.cause, EXEC_STOP_KILLED);
    CHECK_STR(r->reason, "Terminated by user");
    CHECK_EQ_INT(r->res.signal, SIGTERM);
    wait_gone(child);
    /* A kill order for something not running is ignored. */
    executor_kill(ex, "group", 1, EXEC_STOP_KILLED, "again");
    executor_kill(ex, "never", 3, EXEC_STOP_KILLED, NULL);
}

static void test_leftovers_die_with_the_main_process(void)
{
    /* The main process exits at once; the sleep it left holds stdout open.  As in a container,
     * the attempt ends with its main process and takes the rest with it. */
    executor_submit(ex, spec("left", NULL, "sh", "-c", "sleep 60 & echo $!", NULL));
    int64_t t0 = util_mono_ms();
    seen *r = wait_ended("left", 8000);
    /* Ended with its main process: not after the sleep's 60 s, nor once the output's drain
     * (DRAIN_MS, 2 s) ran out. */
    CHECK(r->ended_mono - t0 < 1900);
    CHECK_EQ_INT(r->res.exit_code, 0);
    CHECK_EQ_INT(r->nlines, 1);
    wait_gone((pid_t)atol(r->lines[0]));
}

static void test_timeout_term(void)
{
    exec_spec *s = spec("timeout", NULL, "sleep", "60", NULL);
    s->timeout_seconds = 1;
    s->kill_grace_seconds = 5;
    int64_t t0 = util_mono_ms();
    executor_submit(ex, s);
    seen *r = wait_ended("timeout", 8000);
    int64_t took = r->ended_mono - t0;
    CHECK(took >= 900 && took < 5500); /* SIGTERM ended it, before the 5 s grace ran out */
    CHECK_EQ_INT(r->res.cause, EXEC_STOP_TIMEOUT);
    CHECK_EQ_INT(r->res.signal, SIGTERM);
}

static void test_timeout_kill_after_grace(void)
{
    /* SIGTERM is ignored (by sh and the sleep it becomes): SIGKILL follows the grace period.
     * Two seconds' timeout give sh the time to ignore it, however loaded the machine. */
    exec_spec *s = spec("stubborn", NULL, "sh", "-c", "trap '' TERM; echo ready; exec sleep 60",
                        NULL);
    s->timeout_seconds = 2;
    s->kill_grace_seconds = 1;
    int64_t t0 = util_mono_ms();
    executor_submit(ex, s);
    seen *r = wait_ended("stubborn", 10000);
    int64_t took = r->ended_mono - t0;
    CHECK(took >= 2900 && took < 8000);
    CHECK_EQ_INT(r->res.cause, EXEC_STOP_TIMEOUT);
    CHECK_EQ_INT(r->res.signal, SIGKILL);
    CHECK_STR(r->lines[0], "ready");
}

static void test_kill_before_the_assignment(void)
{
    /* The order came first (an exchange's answer read before the one with the assignment):
     * the attempt ends at once with its cause and reason, and its command never runs. */
    executor_kill(ex, "early", 1, EXEC_STOP_KILLED, "stopped early");
    executor_submit(ex, spec("early", NULL, "sh", "-c", "echo ran; sleep 60", NULL));
    int64_t t0 = util_mono_ms();
    seen *r = wait_ended("early", 8000);
    CHECK(r->ended_mono - t0 < 6000); /* not the sleep's 60 s */
    CHECK_EQ_INT(r->res.cause, EXEC_STOP_KILLED);
    CHECK_STR(r->reason, "stopped early");
    pthread_mutex_lock(&mu);
    CHECK_EQ_INT(record("early")->nlines, 0);
    pthread_mutex_unlock(&mu);
    /* A late order for an attempt that ended here is not kept: the same attempt assigned
     * again (a server that rebuilt its state dispatches it anew) runs. */
    executor_submit(ex, spec("again", NULL, "true", NULL));
    wait_ended("again", 5000);
    executor_kill(ex, "again", 1, EXEC_STOP_KILLED, "late");
    pthread_mutex_lock(&mu);
    forget_records();
    pthread_mutex_unlock(&mu);
    executor_submit(ex, spec("again", NULL, "sh", "-c", "echo ran", NULL));
    r = wait_ended("again", 5000);
    CHECK_EQ_INT(r->res.cause, EXEC_STOP_NONE);
    pthread_mutex_lock(&mu);
    CHECK_EQ_INT(record("again")->nlines, 1);
    pthread_mutex_unlock(&mu);
}

static void test_zero_grace_kills_at_once(void)
{
    exec_spec *s = spec("nograce", NULL, "sh", "-c", "trap '' TERM; echo ready; exec sleep 60",
                        NULL);
    s->kill_grace_seconds = 0;
    executor_submit(ex, s);
    wait_lines("nograce", 1, 5000);
    executor_kill(ex, "nograce", 1, EXEC_STOP_KILLED, NULL);
    seen *r = wait_ended("nograce", 8000);
    CHECK_EQ_INT(r->res.signal, SIGKILL);
    CHECK(r->reason[0] == '\0');
}

static void test_long_lines_are_split(void)
{
    executor_submit(ex, spec("long", NULL, "sh", "-c",
                             "head -c 600000 /dev/zero | tr '\\0' a; echo; printf tail", NULL));
    seen *r = wait_ended("long", 5000);
    CHECK_EQ_INT(r->nlines, 4);
    CHECK_EQ_INT(strlen(r->lines[0]), 262118);
    CHECK_EQ_INT(strlen(r->lines[1]), 262118);
    CHECK_EQ_INT(strlen(r->lines[2]), 600000 - 2 * 262118);
    CHECK_STR(r->lines[3], "tail");
}

static void test_duplicate_and_many(void)
{
    /* The second comes while the first runs (for a second, so surely). */
    exec_spec *a = spec("dup", NULL, "sh", "-c", "sleep 1; echo once", NULL);
    exec_spec *b = spec("dup", NULL, "sh", "-c", "echo twice", NULL);
    executor_submit(ex, a);
    executor_submit(ex, b);
    seen *r = wait_ended("dup", 5000);
    CHECK_EQ_INT(r->nlines, 1);
    CHECK_STR(r->lines[0], "once");
    /* Many short attempts at once, each reported exactly once. */
    char name[32];
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "many-%d", i);
        char code[8];
        snprintf(code, sizeof code, "%d", i % 7);
        executor_submit(ex, spec(name, NULL, "sh", "-c", "echo $0; exit $0", code, NULL));
    }
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "many-%d", i);
        r = wait_ended(name, 10000);
        CHECK_EQ_INT(r->res.exit_code, i % 7);
        CHECK_EQ_INT(r->nlines, 1);
        CHECK_EQ_INT(atoi(r->lines[0]), i % 7);
    }
    CHECK(executor_wait_idle(ex, 5000) == 0);
    CHECK_EQ_INT(executor_active(ex), 0);
}

static void test_memory_limit_oom(void)
{
    if (!cgroups || cgroup_host_mode(cgroups) == CGROUP_NONE) {
        fprintf(stderr, "    SKIPPED: %s\n",
                cgroups ? cgroup_host_note(cgroups) : "no cgroups in this run");
        return;
    }
    exec_spec *s = spec("oom", NULL, self_exe, "--alloc", "200", NULL);
    s->memory_mib = 50;
    executor_submit(ex, s);
    seen *r = wait_ended("oom", 10000);
    CHECK(r->res.started);
    CHECK_EQ_INT(r->res.signal, SIGKILL);
    CHECK_EQ_INT(r->res.oom, 1);
    /* Within its limit the same program finishes, and the job sees its own cgroup. */
    s = spec("fits", NULL, self_exe, "--alloc", "20", NULL);
    s->memory_mib = 100;
    executor_submit(ex, s);
    r = wait_ended("fits", 10000);
    CHECK_EQ_INT(r->res.exit_code, 0);
    CHECK_EQ_INT(r->res.oom, 0);
    executor_submit(ex, spec("where", NULL, "cat", "/proc/self/cgroup", NULL));
    r = wait_ended("where", 5000);
    /* Its cgroup is one of the per-agent parent's, which the pool reuses. */
    char *want = xasprintf("/barge-exec-test-%ld/slot-", (long)getpid());
    int found = 0;
    for (int i = 0; i < r->nlines; i++) found |= strstr(r->lines[i], want) != NULL;
    free(want);
    CHECK(found);
}

static void test_stop_ends_everything(void)
{
    executor_submit(ex, spec("last", NULL, "sleep", "60", NULL));
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&mu);
        int started = record("last")->started;
        pthread_mutex_unlock(&mu);
        if (started) break;
        usleep(2000);
    }
    stop_executor();
    seen *r = wait_ended("last", 0);
    CHECK_EQ_INT(r->res.cause, EXEC_STOP_SHUTDOWN);
    CHECK_STR(r->reason, "the test is over");
}

static int alloc_main(int mib)
{
    size_t n = (size_t)mib << 20;
    volatile char *p = malloc(n);
    if (!p) return 2;
    for (size_t i = 0; i < n; i += 4096) p[i] = 1;
    free((void *)p);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--alloc") == 0) return alloc_main(atoi(argv[2]));
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    CHECK(n > 0);
    self_exe[n] = '\0';
    char tmpl[] = "/tmp/barge-exec-test-XXXXXX";
    work_dir = mkdtemp(tmpl);
    CHECK(work_dir != NULL);
    char dtmpl[] = "/tmp/barge-exec-data-XXXXXX";
    data_dir = mkdtemp(dtmpl);
    CHECK(data_dir != NULL);
    char *data = xasprintf("%s/data", data_dir);
    FILE *f = fopen(data, "w");
    CHECK(f != NULL);
    fputs("not a program\n", f);
    fclose(f);
    chmod(data, 0644);
    RUN(test_resolve);

    char name[64];
    snprintf(name, sizeof name, "barge-exec-test-%ld", (long)getpid());
    cgroups = cgroup_host_setup(name);
    cgroup_host_sweep(cgroups, "barge-exec-test-"); /* what failed runs left */
    fprintf(stderr, "  with cgroups: %s\n", cgroup_host_note(cgroups));
    start_executor(cgroups);
    RUN(test_exit_code_and_lines);
    RUN(test_environment_is_exact);
    RUN(test_working_directory);
    RUN(test_start_failures);
    RUN(test_signal_ends_it);
    RUN(test_kill_order_reaches_the_group);
    RUN(test_leftovers_die_with_the_main_process);
    RUN(test_timeout_term);
    RUN(test_timeout_kill_after_grace);
    RUN(test_kill_before_the_assignment);
    RUN(test_zero_grace_kills_at_once);
    RUN(test_long_lines_are_split);
    RUN(test_duplicate_and_many);
    RUN(test_memory_limit_oom);
    RUN(test_stop_ends_everything);
    cgroup_host_teardown(cgroups);

    /* The same supervisor without cgroups: process groups alone. */
    fprintf(stderr, "  without cgroups:\n");
    forget_records();
    start_executor(NULL);
    RUN(test_exit_code_and_lines);
    RUN(test_kill_order_reaches_the_group);
    RUN(test_leftovers_die_with_the_main_process);
    RUN(test_timeout_kill_after_grace);
    RUN(test_stop_ends_everything);
    CHECK(rmdir(work_dir) == 0); /* every attempt's directory is gone */
    forget_records();
    unlink(data);
    rmdir(data_dir);
    free(data);
    return 0;
}
