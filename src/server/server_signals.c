/* server_signals — see server_signals.h. */
#include "server/server_signals.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"

/* One watcher: its own record, so that a watcher still finishing its last wait never reads
 * the next one's. */
typedef struct watcher {
    sigset_t set;
    atomic_int done;
} watcher;

static watcher *current;

static void *watch(void *arg)
{
    watcher *w = arg;
    int hup = 0;
    /* A short timeout, so that the watcher ends soon after start-up does; start-up does not
     * wait for it. */
    struct timespec tick = {0, 100 * 1000 * 1000};
    while (!atomic_load(&w->done)) {
        int sig = sigtimedwait(&w->set, NULL, &tick);
        if (sig < 0) continue;
        if (atomic_load(&w->done)) {
            /* Start-up ended as it came: it is for whoever waits now. */
            kill(getpid(), sig);
            break;
        }
        if (sig == SIGHUP) {
            hup = 1;
        } else {
            log_info("received %s while starting; stopping now, before anything is served",
                     sig == SIGTERM ? "SIGTERM" : "SIGINT");
            _exit(1);
        }
    }
    if (hup) kill(getpid(), SIGHUP);
    free(w);
    return NULL;
}

void server_signals_starting(const sigset_t *set)
{
    watcher *w = xcalloc(1, sizeof *w);
    w->set = *set;
    pthread_t t;
    if (pthread_create(&t, NULL, watch, w) != 0) {
        log_warn("cannot watch for stop signals while starting");
        free(w);
        return;
    }
    pthread_detach(t);
    current = w;
}

void server_signals_starting_done(void)
{
    if (!current) return;
    atomic_store(&current->done, 1);
    current = NULL;
}
