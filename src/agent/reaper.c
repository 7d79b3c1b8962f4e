/* reaper — see reaper.h. */
#include "agent/reaper.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "common/mem.h"

typedef struct claim {
    struct claim *next;
    pid_t pid;
    int done, status;
} claim;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static claim *claims; /* under mu; a handful at most (the tools in flight) */

void reaper_hold(void)
{
    pthread_mutex_lock(&mu);
}

void reaper_let_go(void)
{
    pthread_mutex_unlock(&mu);
}

void reaper_claim(pid_t pid)
{
    claim *c = xcalloc(1, sizeof *c);
    c->pid = pid;
    c->next = claims;
    claims = c;
}

static claim **find(pid_t pid)
{
    claim **cp = &claims;
    while (*cp && (*cp)->pid != pid) cp = &(*cp)->next;
    return cp;
}

pid_t reaper_wait(pid_t pid, int *status, int flags)
{
    for (;;) {
        pthread_mutex_lock(&mu);
        claim **cp = find(pid);
        pid_t got;
        if (*cp && (*cp)->done) {
            got = pid;
            if (status) *status = (*cp)->status;
        } else {
            /* Still a zombie or running: ours to reap (never blocking under the lock). */
            got = waitpid(pid, status, flags | WNOHANG);
            if (got < 0 && errno == EINTR) got = 0;
        }
        if (got != 0 && *cp) {
            claim *c = *cp;
            *cp = c->next;
            free(c);
        }
        pthread_mutex_unlock(&mu);
        if (got != 0 || (flags & WNOHANG)) return got;
        struct timespec nap = {0, 2 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
}

void reaper_collect(void (*fn)(void *ctx, pid_t pid, int status, const struct rusage *ru),
                    void *ctx)
{
    for (;;) {
        int status;
        struct rusage ru;
        pthread_mutex_lock(&mu);
        pid_t pid = wait4(-1, &status, WNOHANG, &ru);
        claim *c = pid > 0 ? *find(pid) : NULL;
        if (c) {
            c->done = 1;
            c->status = status;
        }
        pthread_mutex_unlock(&mu);
        if (pid <= 0) return;
        if (!c) fn(ctx, pid, status, &ru);
    }
}
