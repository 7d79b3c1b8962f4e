/* agent_orphan — see agent_orphan.h. */
#include "agent/agent_orphan.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "agent/agent_logs.h"
#include "agent/agent_reports.h"
#include "agent/agent_state.h"

void agent_orphan_check(agent *ag)
{
    int64_t a = ag->poll_conn.last_answer, b = ag->send_conn.last_answer;
    int64_t last = a > b ? a : b, now = util_mono_ms();
    if (ag->orphan_s <= 0 || ag->stopping || !last) return;
    if (atomic_load(&ag->orphaned)) {
        if (last > ag->orphaned_at) {
            int left;
            size_t n = agent_logs_unspool(ag, &left);
            if (left)
                log_warn("the server at %s answers again; the output written to "
                         "%s/undelivered/logs.jsonl meanwhile is too big to ship and stays "
                         "there", agent_servers_current(&ag->servers), ag->work_dir);
            else
                log_warn("the server at %s answers again; the %zu lines written meanwhile "
                         "are shipped now", agent_servers_current(&ag->servers), n);
            return;
        }
    } else {
        if (now - last < (int64_t)ag->orphan_s * 1000) return;
        ag->orphaned_at = now;
        atomic_store(&ag->orphaned, 1);
        log_warn("the server at %s has not answered for %d seconds (--server-lost-seconds): "
                 "the %d attempts running here go on to their end, then the agent exits, "
                 "keeping what it could not deliver in %s/undelivered", agent_servers_current(&ag->servers),
                 ag->orphan_s, executor_active(ag->ex), ag->work_dir);
    }
    if (executor_active(ag->ex) > 0) return;
    agent_request_stop(ag, 0, "the server stayed away and nothing runs here any more");
}

void agent_orphan_keep(agent *ag)
{
    if (ag->rhead) {
        FILE *f = agent_open_kept(ag, "reports.jsonl");
        json_t *bodies = agent_reports_bodies(ag->rhead);
        size_t i;
        json_t *b;
        int err = f ? 0 : -1;
        json_array_foreach(bodies, i, b)
        {
            /* Said in the log too: the work directory may go with the host. */
            char *text = json_dumps(b, JSON_COMPACT);
            log_warn("not delivered to the server: %s", text);
            if (f && fprintf(f, "%s\n", text) < 0 && !err) err = errno;
            free(text);
        }
        json_decref(bodies);
        if (f && fclose(f) != 0 && !err) err = errno;
        if (err)
            log_error("the reports above could not be kept in %s/undelivered/reports.jsonl "
                      "(%s): this log alone holds them", ag->work_dir,
                      err > 0 ? strerror(err) : "it cannot be opened");
    }
    size_t lost, n = agent_logs_keep(ag, &lost);
    if (n) log_warn("%zu log lines not delivered to the server are kept in "
                    "%s/undelivered/logs.jsonl", n, ag->work_dir);
    if (lost)
        log_error("%zu log lines not delivered to the server could not be kept in "
                  "%s/undelivered/logs.jsonl, and are lost", lost, ag->work_dir);
}
