#include "agent/agent_conn.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

int agent_servers_parse(agent_servers *s, const char *list, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    for (const char *u = list;; u++) {
        size_t len = strcspn(u, ",");
        /* Refused here, not retried without end: libcurl could never reach such a URL. */
        const char *why = util_http_url_problem(u, len);
        if (why) {
            snprintf(err, errlen, "--server '%.*s' %s: give an http:// or https:// URL, or "
                                  "several separated by commas (got '%s')", (int)len, u, why,
                     list);
            agent_servers_free(s);
            return -1;
        }
        size_t keep = len;
        while (keep > 0 && u[keep - 1] == '/') keep--; /* paths are appended */
        s->url = xrealloc(s->url, (s->n + 1) * sizeof *s->url);
        s->url[s->n++] = util_http_scheme_lower(xstrndup(u, keep));
        u += len;
        if (!*u) return 0;
    }
}

void agent_servers_free(agent_servers *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->url[i]);
    free(s->url);
    s->url = NULL;
    s->n = 0;
}

const char *agent_servers_current(agent_servers *s)
{
    return s->url[atomic_load(&s->at) % s->n];
}

void agent_conn_init(agent_conn *h, struct agent *ag, agent_servers *servers, const char *ca_file,
                     int poller, int (*abandon)(void *conn),
                     char *(*bearer)(struct agent *ag, int join))
{
    memset(h, 0, sizeof *h);
    h->ag = ag;
    h->servers = servers;
    h->poller = poller;
    h->bearer = bearer;
    /* Interruptible, so that a stop does not wait for a long poll to end.  Reset on close:
     * a request given up (a partition outlasting its timeout) is sent again, and its first
     * copy, still queued in the kernel, must not reach the server when the link heals (log
     * lines stored twice, a stale exchange). */
    httpc_options o = {.connect_timeout_ms = 5000, .tcp_keepalive = 1, .ca_file = ca_file,
                       .abandon = abandon, .ctx = h, .max_body = AGENT_CONN_ANSWER_MAX,
                       .reset_on_close = 1};
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
    char *text = NULL;
    agent_servers *sv = h->servers;
    httpc_rc rc;
    size_t first = atomic_load(&sv->at) % sv->n, at = first;
    int standby = 0, unserved = 0;
    for (size_t tried = 0;; tried++) {
        at = atomic_load(&sv->at) % sv->n;
        /* The agent's clock as the request leaves, each time it is tried: the server tells from
         * it how far this host's clock is from its own, and moves the times the agent reports
         * by as much (a time from before a try that waited out a server would count the wait). */
        if (json_is_object(body)) json_object_set_new(body, "sentAt", json_integer(util_now_ms()));
        free(text);
        text = json_dumps(body, JSON_COMPACT);
        char *url = xasprintf("%s%s", sv->url[at], path);
        /* The headers of this request: the credential may have changed since the last. */
        char *bearer = h->bearer(h->ag, strcmp(path, AGENT_REGISTER_PATH) == 0);
        httpc_clear_headers(h->c);
        httpc_header(h->c, "Content-Type: application/json");
        if (bearer) {
            httpc_header(h->c, "Authorization: Bearer %s", bearer);
            explicit_bzero(bearer, strlen(bearer));
            free(bearer);
        }
        rc = httpc_post(h->c, url, text, text ? strlen(text) : 0, timeout_s * 1000);
        free(url);
        standby = 0;
        /* Any 503 is a server that does not serve now: a standby, or a leader that cannot
         * reach the shared store or confirm its lease (cut off from the database, it cannot
         * know that a standby leads by now, and says neither). */
        unserved = rc == HTTPC_OK && httpc_status(h->c) == 503;
        if (unserved) {
            char *role = httpc_header_value(h->c, "X-Barge-Role");
            standby = role && strcmp(role, "standby") == 0;
            free(role);
        }
        if (rc == HTTPC_ABORTED || (rc == HTTPC_OK && !unserved) || tried + 1 >= sv->n) break;
        /* Not the leader, not serving, or not there: the next one may lead now.  Another
         * thread may have moved on already, from the same server; then its choice stands. */
        size_t expect = at;
        atomic_compare_exchange_strong(&sv->at, &expect, (at + 1) % sv->n);
    }
    if (rc == HTTPC_OK && !unserved && at != first)
        log_info("%s answers as the leader: requests go there now (%s did not)", sv->url[at],
                 sv->url[first]);
    free(text);
    json_decref(body);
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
    /* A standby's answer does not count: the server the agent needs is the leader. */
    if (!standby) h->last_answer = util_mono_ms();
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
