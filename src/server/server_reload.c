/* server_reload — see server_reload.h. */
#include "server/server_reload.h"

#include <jansson.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/mem.h"
#include "server/api/auth.h"
#include "server/base/audit.h"
#include "server/base/core.h"
#include "server/engine/provider_exec.h"
#include "server/model/secrets.h"

/* SIGHUP: the secrets change on the core thread, which reads them; the call carries the table. */
static void install_secrets(core_call *call, void *ctx, int64_t now_ms)
{
    secrets_install((json_t *)call->arg);
    core_answer(call, json_object());
}

static void secrets_installed(core_call *call)
{
    free(call->body);
    free(call);
}

/* SIGHUP: the exec provider's commands change on the core thread, which runs them. */
static void install_commands(core_call *call, void *ctx, int64_t now_ms)
{
    provider_exec_install((json_t *)call->arg);
    core_answer(call, json_object());
}

static void reload_commands(const char *path)
{
    char *err = NULL;
    json_t *table = provider_exec_read(path, &err);
    if (!table) {
        log_error("SIGHUP: --provider-commands %s; the commands read before stay in force", err);
        free(err);
        return;
    }
    core_call *call = xcalloc(1, sizeof *call);
    *call = (core_call){.run = install_commands, .arg = table, .done = secrets_installed};
    core_submit(call);
    log_info("SIGHUP: provider commands read again from %s", path);
}

/* SIGHUP: --credentials, --policies, --secrets and --provider-commands read again.  Each is put
 * in force whole or not at all; a mistake is logged with the file and line and the old one
 * stays. */
void server_reload(const barge_config *c)
{
    char *err = NULL;
    if (audit_reopen() == 0) log_info("SIGHUP: the audit trail's file opened again");
    if (c->provider_commands) reload_commands(c->provider_commands);
    if (!auth_enabled() && !c->secrets_file) {
        if (c->provider_commands) return;
        log_info("SIGHUP: nothing to read again (no --credentials, no --secrets)");
        return;
    }
    if (auth_enabled()) {
        if (auth_reload(&err) < 0) {
            log_error("SIGHUP: %s; the keys and policies loaded before stay in force", err);
            free(err);
            err = NULL;
        } else {
            log_info("SIGHUP: keys and policies read again: %zu keys now", auth_principal_count());
        }
    }
    if (c->secrets_file) {
        json_t *table = secrets_read(c->secrets_file, &err);
        if (!table) {
            log_error("SIGHUP: --secrets %s; the secrets loaded before stay in force", err);
            free(err);
            return;
        }
        core_call *call = xcalloc(1, sizeof *call);
        *call = (core_call){.run = install_secrets, .arg = table, .done = secrets_installed};
        core_submit(call);
        log_info("SIGHUP: secrets read again from %s", c->secrets_file);
    }
}
