#include "agent/agent_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "agent/agent_state.h"

/* Whether the request in flight should be abandoned: the agent is stopping (the poller's), the
 * last delivery attempt is over (the sender's), or the registration it belongs to ended. */
static int should_abandon(void *ctx)
{
    agent_conn *h = ctx;
    agent *ag = h->ag;
    if (ag->sender_quit) return 1;
    if (h->poller && ag->stopping) return 1;
    return h->watch_gen && (!ag->registered || ag->gen != h->gen);
}

void agent_conn_init(agent_conn *h, agent *ag, int poller)
{
    memset(h, 0, sizeof *h);
    h->ag = ag;
    h->poller = poller;
    /* Interruptible, so that a stop does not wait for a long poll to end. */
    httpc_options o = {.connect_timeout_ms = 5000, .tcp_keepalive = 1, .abandon = should_abandon,
                       .ctx = h};
    h->c = httpc_new(&o);
    BARGE_ASSERT(h->c != NULL);
    httpc_header(h->c, "Content-Type: application/json");
    if (ag->token) httpc_header(h->c, "Authorization: Bearer %s", ag->token);
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
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char *url = xasprintf("%s%s", h->ag->server, path);
    httpc_rc rc = httpc_post(h->c, url, text, text ? strlen(text) : 0, timeout_s * 1000);
    free(url);
    free(text);
    if (rc == HTTPC_ABORTED) return AGENT_CONN_ABORTED;
    if (rc != HTTPC_OK) {
        snprintf(err, errlen, "%s", httpc_error(h->c));
        return AGENT_CONN_UNREACHABLE;
    }
    long status = httpc_status(h->c);
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
    return status == 404 && type && strcmp(type, "UnknownInstanceException") == 0;
}
