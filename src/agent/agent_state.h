/* agent_state — what the parts of `barge agent` share: the options, the registration, the queues
 * and one mutex (struct agent), and the few calls every part makes on them.  Internal to the
 * agent's files.
 *
 * Four threads, each with one job:
 *   main        parses options, starts the others, waits for a stop (SIGTERM, SIGINT, or a
 *               "shutdown" from the server) and stops everything in order (agent.c);
 *   supervisor  the executor's loop: starts attempts, reads their output, enforces limits;
 *   poller      registers, then keeps one waiting exchange open and hands what comes back
 *               (assignments, kill orders) to the supervisor (agent_exchange.c);
 *   sender      ships log lines and reports on a second connection, so that a report never
 *               waits for a poll to return.  Logs go before reports: the lines an attempt wrote
 *               reach the server before the report that it ended, so a finished job's log is
 *               complete when a client sees it finished (agent_exchange.c, agent_logs.c).
 * They share one mutex (the agent's), which guards the queues and the registration. */
#ifndef BARGE_AGENT_STATE_H
#define BARGE_AGENT_STATE_H
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "common/dict.h"
#include "agent/agent_conn.h"
#include "agent/cgroup.h"
#include "agent/executor.h"

/* Processes one attempt may have at once, unless --max-pids says otherwise. */
#define AGENT_MAX_PIDS 4096

typedef struct agent {
    /* Options, fixed after start-up. */
    const char *server, *ce, *instance_type, *token; /* server: --server as given */
    agent_servers servers; /* --server's URLs (agent_conn.h) */
    const char *ca_file; /* --ca-file, or NULL for the system's CA bundle */
    char *work_dir;
    int own_work_dir, exit_with_parent;
    int work_lock_fd; /* WORK_DIR/.agent-lock, held (flock) for the agent's life; -1 before */
    int vcpus, gpus;
    int max_pids; /* per attempt */
    long long memory_mib;
    char hostname[256];
    cgroup_host *cg;
    executor *ex;
    const exec_backend *backend;
    /* The container executor's (agent.c): options, then what they set up. */
    const char *executor_opt, *image_cache_dir, *registry_mirror, *runtime_root;
    char **plain_registries; /* NULL-terminated */
    long long image_cache_mib, pull_timeout_s;
    const char *job_user;    /* --job-user, or NULL */
    json_t *efs_mounts;      /* --efs-mounts's table (common/efs_mounts.h), or NULL */
    const char *container_id_map; /* --container-id-map, or NULL for the default */
    int container_userns_off;     /* --container-userns off */
    int job_uid, job_gid;    /* process-executor attempts' user, -1 for the agent's */
    /* A root agent's default: each process-executor attempt a uid of its own, from --job-uids
     * (job_uids.h); NULL when one user (or the agent's) runs them all. */
    struct job_uids *uids;
    unsigned uids_first, uids_count;
    int uids_given;
    char job_home[256];      /* that user's home, "" when unknown */
    struct image_cache *images;
    struct container_host *containers;
    struct agent_creds *creds; /* jobs' credential endpoint (agent_creds.h), or NULL */
    pthread_t main_thread;

    pthread_mutex_t mu;
    pthread_cond_t cond; /* any change below */
    /* The registration.  gen counts registrations; a report belongs to the one it was made in. */
    char *iid;
    /* The instance's credential (docs/agent-protocol.md, "Identities"), in memory only: an
     * agent that restarts registers afresh.  client_token marks one registration, so that a
     * retry whose first answer was lost gets the same instance. */
    char *cred;
    char client_token[65];
    atomic_uint gen;
    atomic_int registered, lost;
    /* Lost (the server declared the instance lost), the queued lines still go with its
     * credential to its attempts' streams, which the server takes for a while; set once they
     * are refused or the poller stops waiting for them, so that it registers again. */
    int lost_logs_done;
    int poll_s, heartbeat_s;
    /* Stopping. */
    atomic_int stopping, final_flush, sender_quit;
    int exit_code, sender_done;
    int stop_told; /* an exchange saying "stopping" was answered: the server places no more */
    char *stop_why;
    /* The poller's and the sender's connections to the server. */
    agent_conn poll_conn, send_conn;
    /* Queues for the sender: reports (agent_reports.c) and log lines (agent_logs.c). */
    struct agent_report *rhead, *rtail;
    struct agent_logev *lhead, *ltail;
    size_t nlogs, log_bytes;
    /* The server answered the last log upload but could not store it (its log store cannot
     * write): reports and heartbeats then go without waiting for the lines.  The sender's. */
    int logs_refused;
    /* The most lines the next upload carries (0: LOG_BATCH_LINES): halved each time one gets
     * no answer, doubled back each time one is stored.  The sender's. */
    size_t log_batch_lines;
    int64_t last_exchange;
    /* The server's absence (agent_orphan.c): --server-lost-seconds, when it last answered
     * (monotonic ms, 0 before it ever did), whether the agent has given up waiting for it, and
     * where output goes meanwhile (mu). */
    int orphan_s;
    atomic_int orphaned;
    int64_t orphaned_at; /* monotonic ms; main thread */
    FILE *spool;
    int spool_failed; /* it could not be opened: an orphan's lines go to the queue */
    int kept; /* WORK_DIR/undelivered holds something */
    dict held; /* key -> the attempt held (agent_reports.c) */
} agent;

/* WORK_DIR/undelivered/NAME opened to append, for what could not be delivered to the server
 * (agent_orphan.h); NULL (logged) when it cannot be. */
FILE *agent_open_kept(agent *ag, const char *name);

/* Waits on the agent's condition until deadline (monotonic ms); mu must be held. */
void agent_wait_until(agent *ag, int64_t deadline);

/* Sleeps ms unless *flag becomes set (the poller watches stopping, the sender sender_quit:
 * a stopping agent still delivers its reports); returns the flag. */
int agent_nap(agent *ag, int64_t ms, atomic_int *flag);

/* Stops the agent with exit code code, for the reason why (the first request wins): every
 * thread is woken, the main one by SIGUSR1. */
void agent_request_stop(agent *ag, int code, const char *why);

/* The server no longer knows the instance: drop the registration once, whoever noticed. */
void agent_registration_lost(agent *ag, unsigned gen);

/* What a request to the server carries as "Authorization: Bearer ...": the join token (join)
 * or the instance's credential.  A fresh copy, or NULL; the caller wipes and frees it. */
char *agent_bearer(agent *ag, int join);
/* Takes the credential an answer hands out (a registration's, or the next one), if any. */
void agent_take_credential(agent *ag, json_t *answer);

/* For agent_conn_init: whether a connection's request in flight should be abandoned. */
int agent_conn_should_abandon(void *conn);

/* Interrupts both connections' waits, so that they see at once whether to abandon their
 * requests. */
void agent_wake_connections(agent *ag);

#endif
