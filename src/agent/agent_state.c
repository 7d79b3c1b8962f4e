#include "agent/agent_state.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/httpc.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

void agent_wait_until(agent *ag, int64_t deadline)
{
    struct timespec ts = {(time_t)(deadline / 1000), (long)(deadline % 1000) * 1000000};
    pthread_cond_timedwait(&ag->cond, &ag->mu, &ts);
}

int agent_nap(agent *ag, int64_t ms, atomic_int *flag)
{
    int64_t deadline = util_mono_ms() + ms;
    pthread_mutex_lock(&ag->mu);
    while (!*flag && util_mono_ms() < deadline) agent_wait_until(ag, deadline);
    pthread_mutex_unlock(&ag->mu);
    return *flag;
}

void agent_request_stop(agent *ag, int code, const char *why)
{
    pthread_mutex_lock(&ag->mu);
    if (!ag->stopping) {
        ag->stopping = 1;
        ag->exit_code = code;
        ag->stop_why = xstrdup(why);
    }
    pthread_cond_broadcast(&ag->cond);
    pthread_mutex_unlock(&ag->mu);
    agent_wake_connections(ag);
    pthread_kill(ag->main_thread, SIGUSR1);
}

void agent_registration_lost(agent *ag, unsigned gen)
{
    pthread_mutex_lock(&ag->mu);
    if (ag->registered && ag->gen == gen) {
        ag->registered = 0;
        ag->lost = 1;
        log_warn("the server no longer knows instance %s or its credential (it may have "
                 "restarted, or the instance was revoked); stopping what runs and registering "
                 "again", ag->iid);
    }
    pthread_cond_broadcast(&ag->cond);
    pthread_mutex_unlock(&ag->mu);
    agent_wake_connections(ag);
}

char *agent_bearer(agent *ag, int join)
{
    if (join) return ag->token ? xstrdup(ag->token) : NULL;
    pthread_mutex_lock(&ag->mu);
    char *b = ag->cred ? xstrdup(ag->cred) : NULL;
    pthread_mutex_unlock(&ag->mu);
    return b;
}

void agent_take_credential(agent *ag, json_t *answer)
{
    const char *cred = json_string_value(json_object_get(answer, "credential"));
    if (!cred || !*cred) return;
    pthread_mutex_lock(&ag->mu);
    if (ag->cred) explicit_bzero(ag->cred, strlen(ag->cred));
    free(ag->cred);
    ag->cred = xstrdup(cred);
    pthread_mutex_unlock(&ag->mu);
}

void agent_wake_connections(agent *ag)
{
    httpc_wake(ag->poll_conn.c);
    httpc_wake(ag->send_conn.c);
}

/* The agent is stopping (the poller's), the last delivery attempt is over (the sender's), or the
 * registration the request belongs to ended. */
int agent_conn_should_abandon(void *conn)
{
    agent_conn *h = conn;
    agent *ag = h->ag;
    if (ag->sender_quit) return 1;
    if (h->poller && ag->stopping) return 1;
    return h->watch_gen && (!ag->registered || ag->gen != h->gen);
}

FILE *agent_open_kept(agent *ag, const char *name)
{
    ag->kept = 1; /* the work directory keeps this part when it goes (agent.c) */
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
