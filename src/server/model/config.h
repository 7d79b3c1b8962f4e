/* config — the server's settings.  Set once at start-up, read-only afterwards, so every thread
 * may read them without locks. */
#ifndef BARGE_CONFIG_H
#define BARGE_CONFIG_H
#include <stddef.h>

#include "server/base/ratelimit.h"

typedef struct barge_config {
    char *listen_host;
    int listen_port;
    char *data_dir;
    char *region;
    char *account_id;
    int dev;               /* single-machine developer mode */
    int sync_full;         /* fsync every commit (default) */
    /* --store: a PostgreSQL URI shared by several servers, or NULL for DATA_DIR/barge.db. */
    const char *store_uri;
    int lease_ms, lease_renew_ms; /* the leader's lease on a shared store (pg_lease.h) */
    const char *role;             /* "leader" on a shared store once leading; NULL alone */
    int http_threads;
    /* Hostile clients (docs/operations.md). */
    int max_conns_per_addr;   /* connections one client address may hold at once */
    int max_conns;            /* in all: 4,000, or what the open-file limit has room for */
    int request_timeout_s;    /* a request must arrive whole within this */
    ratelimit_spec rate_limit; /* per access key (per source address without --credentials) */
    /* Limits AWS documents, kept as settings. */
    size_t max_body;       /* any request */
    size_t max_submit_body; /* SubmitJob */
    size_t max_jobdef_body; /* RegisterJobDefinition */
    int max_ce_per_queue;
    int max_depends_on;
    int max_active_shares; /* share identifiers a fair-share queue may have active (AWS: 500) */
    int max_array_size;
    /* Jobs and instances. */
    double spot_reclaim_per_hour; /* a drill: the chance per hour that a Spot instance is taken */
    int kill_grace_s;     /* SIGTERM to SIGKILL when an attempt is stopped */
    int idle_seconds;     /* an idle local instance is let go after this long */
    /* --retention-hours: a finished job and its logs are let go this long after it ended
     * (CONFIG_RETENTION_DEFAULT_HOURS unless given); 0 keeps them forever (retention.h). */
    long long retention_ms;
    /* --events-kept: job state change events kept for readers, in memory and in the store
     * (CONFIG_EVENTS_KEPT_DEFAULT unless given; model/events.h). */
    long events_kept;
    /* MiB kept free on the data directory's file system: job output is refused below it
     * (base/diskroom.h); -1: a tenth of the file system, 16 to 256 MiB. */
    long log_reserve_mib;
    /* --stop-local-agents: a clean stop also stops the local agents (by default they, and
     * their attempts, carry on for the next start to take back). */
    int stop_local_agents;
    char *metrics_token; /* --metrics-token: what a scrape of /metrics must carry, or NULL */
    char *agent_token;    /* --agent-token, or "" (join_tokens.h) */
    char *self_exe;       /* this program, to launch local agents */
    /* Options handed to every local agent (--executor, --registry-mirror, ...), in order;
     * NULL-terminated, or NULL. */
    char **agent_args;
    /* Containers. */
    /* Job definitions whose containers are privileged: refused, run so (--allow-privileged),
     * or run unprivileged like every other container (--ignore-privileged). */
    enum { PRIVILEGED_REFUSE, PRIVILEGED_ALLOW, PRIVILEGED_IGNORE } allow_privileged;
    char *secrets_file;   /* --secrets, or NULL */
    char *agent_work_root; /* local instances' work directories; NULL: $TMPDIR/barge-work */
    char *provider_commands; /* --provider-commands, or NULL (engine/provider_exec.h) */
    char *remote_url; /* --agent-url: the URL agents on other machines are given, or NULL */
} barge_config;

/* A week, as AWS Batch keeps finished jobs (docs/decisions.md, "Retention"). */
#define CONFIG_RETENTION_DEFAULT_HOURS 168

/* A burst of ten 10,000-child arrays makes 200,000 events at once; a webhook that takes one a
 * POST needs half a minute for them (docs/decisions.md, "Events"). */
#define CONFIG_EVENTS_KEPT_DEFAULT 1000000

extern barge_config barge_cfg;

void config_defaults(barge_config *c);
/* Where local instances keep their work directories: agent_work_root, else $TMPDIR/barge-work
 * (fresh). */
char *config_agent_work_root(const barge_config *c);
#endif
