/* logstore_aside — a log store that can take no more writes for good (its file damaged, or
 * removed or replaced under the server), and the file job output goes to meanwhile.
 *
 * Job ends wait for their output to be stored (docs/agent-protocol.md): with every batch
 * refused as if the failure would pass, an agent held each end report, and every job that
 * printed stayed RUNNING for as long as the server ran.  Such a store is told from a passing
 * failure (a full disk) by what SQLite says of it; from then on an agent's lines are appended
 * to DATA_DIR/logs-kept.jsonl, one JSON object a line as an agent's own undelivered file holds
 * them, and acknowledged, so that jobs end. */
#include "server/base/logstore.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jtext.h"
#include "common/log.h"
#include "common/mem.h"
#include "server/base/logstore_internal.h"

const char *logstore_broken(logstore *ls)
{
    return ls ? atomic_load(&ls->broken) : NULL;
}

const char *logstore_kept_path(logstore *ls)
{
    return ls->kept_path;
}

void logstore__aside_init(logstore *ls)
{
    char *dir = xstrdup(ls->path);
    ls->kept_path = xasprintf("%s/logs-kept.jsonl", dirname(dir));
    free(dir);
    pthread_mutex_init(&ls->kmu, NULL);
}

void logstore__aside_free(logstore *ls)
{
    if (ls->kept) fclose(ls->kept);
    pthread_mutex_destroy(&ls->kmu);
    free(atomic_load(&ls->broken));
    free(ls->kept_path);
}

void logstore__check_broken(logstore *ls, int code)
{
    if (atomic_load(&ls->broken)) return;
    char *why;
    if (code == LOGSTORE__MOVED)
        why = xasprintf("%s was removed or replaced while this server ran: job output goes to "
                        "%s until the server starts again, with a new log store", ls->path,
                        ls->kept_path);
    else if ((code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB)
        why = xasprintf("%s is damaged (%s): job output goes to %s until the server starts "
                        "again; stop it, move %s aside (a new one is made at start, and "
                        "sqlite3's .recover may save the old one's lines) or restore it from a "
                        "backup, and start it again", ls->path, sqlite3_errstr(code),
                        ls->kept_path, ls->path);
    else
        return; /* may pass: the batch's senders send it again */
    log_error("logstore: %s", why);
    atomic_store(&ls->broken, why);
}

int logstore_keep_aside(logstore *ls, const char *stream, const logstore_event *ev, size_t n)
{
    int rc = 0;
    pthread_mutex_lock(&ls->kmu);
    if (!ls->kept) ls->kept = fopen(ls->kept_path, "ae");
    if (!ls->kept) rc = -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = jtext_kept_line(ls->kept, stream, ev[i].timestamp, ev[i].message, ev[i].len);
    }
    /* Acknowledged only once written: the agent drops what it is told was taken. */
    if (ls->kept && fflush(ls->kept) != 0) rc = -1;
    if (rc < 0) log_error("logstore: cannot write to %s: %s", ls->kept_path, strerror(errno));
    pthread_mutex_unlock(&ls->kmu);
    return rc;
}
