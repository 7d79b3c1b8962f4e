#include "server/model/config.h"

#include <stdlib.h>

#include "common/mem.h"

barge_config barge_cfg;

void config_defaults(barge_config *c)
{
    c->listen_host = "127.0.0.1";
    c->listen_port = 8900;
    c->data_dir = "./barge-data";
    c->region = "us-east-1";
    c->account_id = "123456789012";
    c->dev = 0;
    c->sync_full = 1;
    c->lease_ms = 3000;
    c->lease_renew_ms = 1000;
    c->http_threads = 2;
    c->max_conns_per_addr = 512;
    c->max_conns = 4000;
    c->request_timeout_s = 30;
    c->max_body = 1024 * 1024;
    c->max_submit_body = 30 * 1024;
    c->max_jobdef_body = 24 * 1024;
    c->max_ce_per_queue = 3;
    c->max_depends_on = 20;
    c->max_active_shares = 500;
    c->max_array_size = 10000;
    c->kill_grace_s = 30; /* ECS stops a task so: SIGTERM, then SIGKILL 30 s later */
    c->idle_seconds = 60;
    c->retention_ms = CONFIG_RETENTION_DEFAULT_HOURS * 3600LL * 1000;
    c->events_kept = CONFIG_EVENTS_KEPT_DEFAULT;
    c->log_reserve_mib = -1;
    c->agent_token = "";
    c->self_exe = "/proc/self/exe";
    c->allow_privileged = PRIVILEGED_REFUSE;
}

char *config_agent_work_root(const barge_config *c)
{
    if (c->agent_work_root) return xstrdup(c->agent_work_root);
    const char *tmp = getenv("TMPDIR");
    return xasprintf("%s/barge-work", tmp && *tmp ? tmp : "/tmp");
}
