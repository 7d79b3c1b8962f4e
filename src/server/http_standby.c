/* http_standby — see http_standby.h. */
#include "server/http_standby.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "common/errbody.h"
#include "common/mem.h"
#include "server/base/metrics.h"

static pthread_mutex_t standby_mu = PTHREAD_MUTEX_INITIALIZER;
static int standby_on;
static char standby_leader[256];
static int (*lease_held)(void);

void http_standby_lease(int (*held)(void))
{
    pthread_mutex_lock(&standby_mu);
    lease_held = held;
    pthread_mutex_unlock(&standby_mu);
}

void http_standby(int on, const char *leader)
{
    pthread_mutex_lock(&standby_mu);
    standby_on = on;
    snprintf(standby_leader, sizeof standby_leader, "%s", leader ? leader : "");
    pthread_mutex_unlock(&standby_mu);
}

int http_standby_reply(const char *method, const char *url, standby_reply *out)
{
    pthread_mutex_lock(&standby_mu);
    int on = standby_on;
    char leader[sizeof standby_leader];
    memcpy(leader, standby_leader, sizeof leader);
    /* Asked under the lock (an atomic load and a clock read): the lease is freed only after
     * http_standby_lease(NULL) has taken it. */
    int doubt = !on && lease_held && !lease_held();
    pthread_mutex_unlock(&standby_mu);
    int unconfirmed = doubt && strcmp(url, "/healthz") == 0;
    /* Log reads and uploads are answered from this server's own log store, not after a
     * commit, which the store's epoch fences: while the lease is in doubt a standby may have
     * taken over, and this server would serve logs older than the new leader's, or take lines
     * the new leader never sees. */
    if (doubt && strcmp(method, "POST") == 0 &&
        (strcmp(url, "/") == 0 || strcmp(url, "/barge/v1/agent/logs") == 0)) {
        memset(out, 0, sizeof *out);
        out->status = 503;
        out->leader = 1;
        out->err_type = "ServerException";
        out->body = errbody_new(out->err_type, "this server cannot confirm it still leads (its "
                                               "lease on the shared store is not renewed yet); "
                                               "retry");
        return 1;
    }
    if (unconfirmed) {
        /* A leader whose lease may have passed to a standby by now: a load balancer should
         * send to that one, not to both, until this server knows (it renews or stops). */
        memset(out, 0, sizeof *out);
        out->status = 503;
        out->leader = 1;
        out->body = xstrdup("{\"status\":\"lease-unconfirmed\",\"role\":\"leader\"}");
        return 1;
    }
    if (!on) return 0;
    memset(out, 0, sizeof *out);
    if (strcmp(url, "/healthz") == 0) {
        json_t *body = json_pack("{s:s, s:s}", "status", "standby", "leader",
                                 leader[0] ? leader : "unknown");
        out->status = 503;
        out->body = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        return 1;
    }
    if (strcmp(url, "/metrics") == 0 && (!strcmp(method, "GET") || !strcmp(method, "HEAD"))) {
        out->status = 200;
        out->scrape = 1;
        return 1;
    }
    char *msg = xasprintf("this barge server is a standby and does not serve requests; retry "
                          "(the leader is %s)", leader[0] ? leader : "not known yet");
    out->status = 503;
    out->err_type = "ServerException";
    out->body = errbody_new(out->err_type, msg);
    free(msg);
    return 1;
}

char *http_standby_scrape(void)
{
    metrics_buf b = {0};
    metrics_leader(&b, 0);
    metrics_render(&b);
    return b.data ? b.data : xstrdup("");
}
