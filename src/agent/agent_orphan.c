/* agent_orphan — see agent_orphan.h. */
#include "agent/agent_orphan.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "agent/agent_logs.h"
#include "agent/agent_reports.h"
#include "agent/agent_state.h"

void agent_orphan_answered(agent *ag)
{
    atomic_store(&ag->last_answer, util_mono_ms());
    if (atomic_exchange(&ag->orphaned, 0))
        log_warn("the server at %s answers again; lines written to %s/undelivered meanwhile "
                 "stay there", ag->server, ag->work_dir);
}

/* WORK_DIR/undelivered/NAME, opened to append (the work directory, when the agent made it,
 * goes at exit but for this). */
static FILE *open_kept(agent *ag, const char *name)
{
    ag->kept = 1;
    char *dir = xasprintf("%s/undelivered", ag->work_dir);
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        log_error("cannot create %s: %s", dir, strerror(errno));
        free(dir);
        return NULL;
    }
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "ae");
    if (!f) log_error("cannot open %s: %s", path, strerror(errno));
    free(path);
    free(dir);
    return f;
}

void agent_orphan_check(agent *ag)
{
    int64_t last = atomic_load(&ag->last_answer);
    if (ag->orphan_s <= 0 || ag->stopping || !last) return;
    if (!atomic_load(&ag->orphaned)) {
        if (util_mono_ms() - last < (int64_t)ag->orphan_s * 1000) return;
        atomic_store(&ag->orphaned, 1);
        log_warn("the server at %s has not answered for %d seconds (--server-lost-seconds): "
                 "the %d attempts running here go on to their end, then the agent exits, "
                 "keeping what it could not deliver in %s/undelivered", ag->server,
                 ag->orphan_s, executor_active(ag->ex), ag->work_dir);
    }
    if (executor_active(ag->ex) > 0) return;
    agent_request_stop(ag, 0, "the server stayed away and nothing runs here any more");
}

int agent_orphan_spool(agent *ag, const char *stream, int64_t at, const char *text, size_t len)
{
    if (!atomic_load(&ag->orphaned)) return 0;
    pthread_mutex_lock(&ag->mu);
    if (!ag->spool) ag->spool = open_kept(ag, "logs.jsonl");
    int kept = ag->spool != NULL;
    if (kept) {
        json_t *line = json_pack("{s:s, s:I, s:s%}", "logStreamName", stream, "timestamp",
                                 (json_int_t)at, "message", text, len);
        json_dumpf(line, ag->spool, JSON_COMPACT);
        fputc('\n', ag->spool);
        json_decref(line);
    }
    pthread_mutex_unlock(&ag->mu);
    return kept;
}

void agent_orphan_keep(agent *ag)
{
    if (ag->rhead) {
        FILE *f = open_kept(ag, "reports.jsonl");
        json_t *bodies = agent_reports_bodies(ag->rhead);
        size_t i;
        json_t *b;
        json_array_foreach(bodies, i, b)
        {
            /* Said in the log too: the work directory may go with the host. */
            char *text = json_dumps(b, JSON_COMPACT);
            log_warn("not delivered to the server: %s", text);
            if (f) fprintf(f, "%s\n", text);
            free(text);
        }
        json_decref(bodies);
        if (f) fclose(f);
    }
    if (ag->lhead) {
        if (!ag->spool) ag->spool = open_kept(ag, "logs.jsonl");
        size_t n = ag->spool ? agent_logs_dump(ag, ag->spool) : 0;
        if (n) log_warn("%zu log lines not delivered to the server are kept in "
                        "%s/undelivered/logs.jsonl", n, ag->work_dir);
    }
    if (ag->spool) fclose(ag->spool);
    ag->spool = NULL;
}
