#include "agent/agent_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

void agent_conn_init(agent_conn *h, struct agent *ag, const char *server, const char *ca_file,
                     int poller, int (*abandon)(void *conn),
                     char *(*bearer)(struct agent *ag, int join))
{
    memset(h, 0, sizeof *h);
    h->ag = ag;
    h->server = server;
    h->poller = poller;
    h->bearer = bearer;
    /* Interruptible, so that a stop does not wait for a long poll to end. */
    httpc_options o = {.connect_timeout_ms = 5000, .tcp_keepalive = 1, .ca_file = ca_file,
                       .abandon = abandon, .ctx = h};
    h->c = httpc_new(&o);
    BARGE_ASSERT(h->c != NULL);
}

void agent_conn_close(agent_conn *h)
{
    httpc_free(h->c);
    h->c = NULL;
}

long agent_conn_post(agent_conn *h, const char *path, json_t *body, long timeout_s,
                     json_t **answer, char *err, size_t errlen)
{
    *answer = NULL;
    /* The agent's clock as the request leaves: the server tells from it how far this host's
     * clock is from its own, and moves the times the agent reports by as much. */
    if (json_is_object(body)) json_object_set_new(body, "sentAt", json_integer(util_now_ms()));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char *url = xasprintf("%s%s", h->server, path);
    /* The headers of this request: the credential may have changed since the last. */
    char *bearer = h->bearer(h->ag, strcmp(path, AGENT_REGISTER_PATH) == 0);
    httpc_clear_headers(h->c);
    httpc_header(h->c, "Content-Type: application/json");
    if (bearer) {
        httpc_header(h->c, "Authorization: Bearer %s", bearer);
        explicit_bzero(bearer, strlen(bearer));
        free(bearer);
    }
    httpc_rc rc = httpc_post(h->c, url, text, text ? strlen(text) : 0, timeout_s * 1000);
    free(url);
    free(text);
    if (rc == HTTPC_ABORTED) return AGENT_CONN_ABORTED;
    if (rc == HTTPC_UNTRUSTED) {
        /* Said in full each time: an agent that cannot trust its server waits until an
         * operator fixes the certificate or the agent's --ca-file. */
        snprintf(err, errlen, "%s; give the agent the certificate of the CA that signed the "
                              "server's (or the server's own) with --ca-file FILE",
                 httpc_error(h->c));
        return AGENT_CONN_UNREACHABLE;
    }
    if (rc != HTTPC_OK) {
        snprintf(err, errlen, "%s", httpc_error(h->c));
        return AGENT_CONN_UNREACHABLE;
    }
    long status = httpc_status(h->c);
    h->last_answer = util_mono_ms();
    size_t len;
    const char *resp = httpc_body(h->c, &len);
    if (len) *answer = json_loadb(resp, len, 0, NULL);
    const char *msg = json_string_value(json_object_get(*answer, "message"));
    snprintf(err, errlen, "HTTP %ld%s%s", status, msg ? ": " : "", msg ? msg : "");
    return status;
}

int agent_conn_unknown_instance(long status, json_t *answer)
{
    const char *type = json_string_value(json_object_get(answer, "__type"));
    return (status == 404 && type && strcmp(type, "UnknownInstanceException") == 0) ||
           status == 401;
}
