/* role_creds — see role_creds.h. */
#include "server/model/role_creds.h"

#include "common/log.h"
#include "server/base/store.h"
#include "server/model/state.h"

void role_creds_put(state *st, const char *access_key, const char *doc, size_t len)
{
    if (store_put(st->db, ROLE_CREDS_KIND, access_key, doc, len) != 0) {
        log_error("store: writing a job role's credentials failed: %s", store_errmsg(st->db));
        st->store_failed = 1;
    }
}

void role_creds_del(state *st, const char *access_key)
{
    if (store_del(st->db, ROLE_CREDS_KIND, access_key) != 0) {
        log_error("store: deleting a job role's credentials failed: %s", store_errmsg(st->db));
        st->store_failed = 1;
    }
}

int role_creds_scan(state *st, role_creds_fn fn, void *arg)
{
    return store_scan(st->db, ROLE_CREDS_KIND, fn, arg) != 0 ? -1 : 0;
}
