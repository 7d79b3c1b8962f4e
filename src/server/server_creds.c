/* server_creds — see server_creds.h. */
#include "server/server_creds.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "server/api/auth_temp.h"
#include "server/engine/attempt.h"
#include "server/model/jobs.h"
#include "server/model/role_creds.h"
#include "server/model/state.h"

static void forget_key(void *arg, const char *access_key)
{
    role_creds_del(arg, access_key);
}

static void attempt_ended(state *st, const char *job_id, int attempt)
{
    auth_temp_revoke(job_id, attempt, forget_key, st);
}

void server_creds_wire(void)
{
    static const attempt_role_hooks hooks = {auth_temp_role_usable, attempt_ended,
                                             auth_temp_role_listed};
    attempt_set_role_hooks(&hooks);
}

typedef struct restoring {
    state *st;
    char **stale; /* access keys whose records go */
    size_t n_stale, cap;
    size_t restored;
} restoring;

static int restore_one(void *arg, const char *access_key, const char *doc, size_t len)
{
    restoring *r = arg;
    auth_temp_record *rec = xmalloc(sizeof *rec);
    const job *j = NULL;
    int keep = auth_temp_record_read(access_key, doc, len, rec) == 0 &&
               (j = jobs_find(r->st->jobs, rec->job_id)) != NULL &&
               (j->status == JS_STARTING || j->status == JS_RUNNING) &&
               (int)j->n_attempts == rec->attempt;
    if (keep && auth_temp_restore(rec) < 0) {
        log_warn("job %s: its role %s is no longer one jobs may assume here (--roles): the "
                 "credentials of its attempt %d stop working",
                 rec->job_id, rec->role, rec->attempt);
        keep = 0;
    }
    OPENSSL_cleanse(rec, sizeof *rec);
    free(rec);
    if (keep) {
        r->restored++;
        return 0;
    }
    if (r->n_stale == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 16;
        r->stale = xrealloc(r->stale, r->cap * sizeof *r->stale);
    }
    r->stale[r->n_stale++] = xstrdup(access_key);
    return 0;
}

void server_creds_restore(state *st)
{
    auth_temp_forget_all();
    restoring r = {.st = st};
    if (role_creds_scan(st, restore_one, &r) < 0)
        log_error("store: reading job roles' credentials failed; the running attempts' jobs "
                  "get new ones when their agents ask next");
    /* Deleted after the scan, which reads the records being walked. */
    for (size_t i = 0; i < r.n_stale; i++) {
        role_creds_del(st, r.stale[i]);
        free(r.stale[i]);
    }
    free(r.stale);
    if (r.restored)
        log_info("%zu job role credentials of running attempts are back in force", r.restored);
}
