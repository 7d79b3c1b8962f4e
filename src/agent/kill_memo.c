/* kill_memo — see kill_memo.h. */
#include "agent/kill_memo.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/util.h"

static void clear_slot(kill_memo_entry *e)
{
    free(e->job_id);
    free(e->reason);
    memset(e, 0, sizeof *e);
}

void kill_memo_note(kill_memo *m, const char *job_id, int attempt, int cause,
                    const char *reason)
{
    kill_memo_entry *e = &m->slot[m->next++ % KILL_MEMO_SLOTS];
    clear_slot(e);
    e->job_id = xstrdup(job_id);
    e->reason = reason ? xstrdup(reason) : NULL;
    e->attempt = attempt;
    e->cause = cause;
    e->until = util_mono_ms() + KILL_MEMO_MS;
}

static int find(const kill_memo *m, const char *job_id, int attempt)
{
    int64_t now = util_mono_ms();
    for (int i = 0; i < KILL_MEMO_SLOTS; i++) {
        const kill_memo_entry *e = &m->slot[i];
        if (e->job_id && e->attempt == attempt && e->until >= now && !strcmp(e->job_id, job_id))
            return i;
    }
    return -1;
}

int kill_memo_has(const kill_memo *m, const char *job_id, int attempt)
{
    return find(m, job_id, attempt) >= 0;
}

int kill_memo_take(kill_memo *m, const char *job_id, int attempt, int *cause, char **reason)
{
    int i = find(m, job_id, attempt);
    if (i >= 0) {
        kill_memo_entry *e = &m->slot[i];
        *cause = e->cause;
        *reason = e->reason;
        e->reason = NULL;
        clear_slot(e);
        return 1;
    }
    return 0;
}

void kill_memo_clear(kill_memo *m)
{
    for (int i = 0; i < KILL_MEMO_SLOTS; i++) clear_slot(&m->slot[i]);
}
