/* executor — runs the attempts assigned to this instance and watches over them.
 *
 * Two layers.  A backend knows how to start one attempt and how to signal it: `process` runs
 * the command as a host process in its own process group and memory cgroup; a container
 * backend would start an OCI runtime instead.  The supervisor, shared by every backend, owns
 * the attempts: one thread runs its loop (executor_run), which reads their output line by
 * line, enforces timeouts and kill orders (SIGTERM to everything, SIGKILL after the grace
 * period), reaps the processes and reports through callbacks.  Other threads talk to it only
 * through executor_submit and executor_kill, which queue a command and wake the loop.
 *
 * The supervisor reaps every child of the process (through reaper.h), so a program that uses
 * it and starts children elsewhere must claim them there (reaper_claim). */
#ifndef BARGE_EXECUTOR_H
#define BARGE_EXECUTOR_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <sys/types.h>

#include "agent/cgroup.h"

/* One attempt, as the server assigned it.  The executor owns it once submitted. */
typedef struct exec_spec {
    char *job_id;           /* "UUID" or "UUID:INDEX" */
    int attempt;            /* from 1 */
    char **argv;            /* NULL-terminated; run exactly, without a shell */
    char **envp;            /* NULL-terminated "NAME=value": the job's whole environment */
    int64_t memory_mib;     /* hard limit; 0 for none */
    int timeout_seconds;    /* 0 for none */
    int kill_grace_seconds; /* between SIGTERM and SIGKILL */
    int max_pids;           /* processes the attempt may have at once; 0 for no limit */
    char *log_stream;
    char *image;            /* the container image's reference, or NULL */
    json_t *container;      /* the assignment's "container" member (docs/agent-protocol.md),
                             * or NULL: how a container backend runs the image */
    char *ca_bundle;        /* a host file the job's environment names (AWS_CA_BUNDLE), which a
                             * container sees at the same path; or NULL */
} exec_spec;

void exec_spec_free(exec_spec *s);

/* Why the supervisor stopped an attempt (it stops none on its own but for a timeout). */
typedef enum {
    EXEC_STOP_NONE,
    EXEC_STOP_TIMEOUT,  /* timeout_seconds passed */
    EXEC_STOP_KILLED,   /* the server asked (executor_kill) */
    EXEC_STOP_SHUTDOWN, /* the agent is stopping or lost its registration */
} exec_stop_cause;

/* How an attempt ended. */
typedef struct exec_result {
    int started;           /* 0: it never ran; reason says why */
    int exited;            /* 1: exit_code holds its status; 0: signal ended it */
    int exit_code, signal;
    int oom;               /* the memory limit's OOM killer ended a process of the attempt */
    exec_stop_cause cause;
    const char *reason;    /* why it did not start, or the stop order's reason; may be NULL */
    int64_t started_at, ended_at; /* epoch milliseconds */
    /* What it used (has_usage: it ran): CPU time of its main process and of the descendants
     * that process waited for, and the peak of its memory (its cgroup's, else its main
     * process's largest resident set; 0 when not known). */
    int has_usage;
    double cpu_seconds;
    long long max_memory_bytes;
} exec_result;

/* An attempt that runs: its main process, when it started and where. */
typedef struct exec_started {
    pid_t pid;
    int64_t at;             /* epoch milliseconds */
    const char *cgroup_dir; /* its cgroup (valid until ended is called), or NULL */
    int cgroup_v2;
    int peak_known; /* cgroup_peak_known */
} exec_started;

/* Callbacks, all made from the supervisor's thread, in order for each attempt: started (unless
 * it failed to start), line for each line of output, then ended. */
typedef struct exec_events {
    void (*started)(void *ctx, const exec_spec *s, const exec_started *st);
    /* One line of stdout (source 1) or stderr (source 2), without its newline. */
    void (*line)(void *ctx, const exec_spec *s, int source, int64_t at, const char *text,
                 size_t len);
    void (*ended)(void *ctx, const exec_spec *s, const exec_result *r);
    /* Optional: nonzero while the consumer of lines is full; output is then left in the pipes,
     * so a job that writes faster than logs can be shipped waits instead of filling memory. */
    int (*backlog)(void *ctx);
} exec_events;

/* One attempt, as a backend sees it. */
typedef struct exec_attempt {
    const exec_spec *spec;
    const char *work_dir; /* its own working directory, already created */
    cgroup *cg;           /* its memory cgroup, or NULL when cgroups are not in use */
    pid_t pid;            /* set by start: the main process, leader of its process group */
    int out_fd, err_fd;   /* set by start: read ends of its stdout and stderr (non-blocking) */
    /* Set by start: -1 when the attempt runs once start returns; else a descriptor that turns
     * readable when the backend should be asked (ready) whether it runs yet.  A container
     * runtime's process starts before the container does, and a job counts as RUNNING only
     * once its container exists. */
    int ready_fd;
    /* The host user the attempt's processes run as (exec_options.job_uid), -1: the agent's. */
    int run_uid, run_gid;
    /* run_uid is the attempt's own (exec_options.uids), its group shared with the others': its
     * files are made group-writable (umask 002). */
    int own_uid;
    /* The process is a container runtime (exec_container), not a job: the process backend
     * makes it no user namespace, which the runtime makes itself. */
    int runtime;
    void *backend_ctx;    /* exec_options.backend_ctx */
    void *priv;           /* the backend's own, from prepare to cleanup */
} exec_attempt;

typedef struct exec_backend {
    const char *name; /* the register body's "executor" */
    /* Starts the attempt.  0, or -1 with a reason in the style of AWS's
     * "CannotStartContainerError: ..." (and nothing left running). */
    int (*start)(exec_attempt *a, char *reason, size_t reason_len);
    /* Sends sig to everything the attempt runs. */
    void (*kill)(exec_attempt *a, int sig);
    /* Optional (with ready_fd): 1 once the attempt runs, 0 while not yet; closes ready_fd and
     * sets it to -1 when it answers 1. */
    int (*ready)(exec_attempt *a);
    /* Optional: what may take long before start (pulling an image), on a thread of its own so
     * that the supervisor goes on; stop orders that arrive meanwhile take effect when it
     * returns.  0, or -1 with a reason as start gives one.  cleanup follows either way. */
    int (*prepare)(exec_attempt *a, char *reason, size_t reason_len);
    /* Optional: looks at an attempt that ran before its end is reported, and may correct the
     * result (a container whose runtime failed before the job's program ran did not start:
     * started 0 and a reason, written into reason_buf). */
    void (*examine)(exec_attempt *a, exec_result *r, char *reason_buf, size_t reason_len);
    /* Optional: after the attempt has ended (or failed to prepare or start) and its end was
     * reported, on the supervisor's thread: removes what prepare and start made. */
    void (*cleanup)(exec_attempt *a);
} exec_backend;

/* The host-process backend. */
extern const exec_backend exec_process_backend;

/* Finds argv0 as execvp would, in the PATH given (NULL: the default path); relative results are
 * relative to the working directory the program will run in.  Returns an allocated path, or
 * NULL with errno ENOENT (not found) or EACCES (found, not executable). */
char *exec_resolve(const char *argv0, const char *path_var);

typedef struct executor executor;

typedef struct exec_options {
    const exec_backend *backend;
    /* Each attempt starts in an empty directory of its own below work_dir.  One the attempt
     * left empty, in a cgroup left empty, is kept for a later attempt (up to idle_dirs of them,
     * 0 for 8): creating and removing a directory is a journalled change on most filesystems;
     * any other is removed. */
    const char *work_dir;
    cgroup_host *cgroups;   /* NULL, or a host whose mode may be CGROUP_NONE */
    const exec_events *events;
    void *ctx;              /* passed to the callbacks */
    int idle_dirs;
    void *backend_ctx;      /* handed to the backend in exec_attempt.backend_ctx */
    /* The host user and group attempts run as, -1 for the agent's own: each attempt's
     * directory is then the user's, and the process backend drops to it before exec. */
    int job_uid, job_gid;
    /* Or, when not NULL, each attempt a uid of its own from this pool (in group job_gid),
     * taken as it starts and given back, what it left running killed, as it ends. */
    struct job_uids *uids;
} exec_options;

executor *executor_new(const exec_options *o);
/* Frees an executor whose loop has returned. */
void executor_free(executor *ex);
/* The supervision loop.  Returns once executor_stop was called and every attempt has ended. */
void executor_run(executor *ex);
/* Queues an attempt to start (takes s).  A second submit of a running (job, attempt) is
 * dropped.  Any thread. */
void executor_submit(executor *ex, exec_spec *s);
/* Stops one attempt: SIGTERM, SIGKILL after its grace period; the result carries cause and
 * reason.  An attempt that is not running is ignored.  Any thread. */
void executor_kill(executor *ex, const char *job_id, int attempt, exec_stop_cause cause,
                   const char *reason);
/* Stops every attempt, as executor_kill.  Any thread. */
void executor_kill_all(executor *ex, exec_stop_cause cause, const char *reason);
/* Stops every attempt (cause SHUTDOWN) and makes executor_run return once all have ended;
 * attempts submitted afterwards end without starting.  Any thread. */
void executor_stop(executor *ex, const char *reason);
/* Attempts submitted and not yet ended. */
int executor_active(executor *ex);
/* Waits until no attempt is active: 0, or -1 after timeout_ms (negative: no limit). */
int executor_wait_idle(executor *ex, int timeout_ms);
#endif
