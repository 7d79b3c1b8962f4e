/* http_uploads — see http_uploads.h. */
#include "server/http_uploads.h"

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "common/util.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int closed, unanswered;

void http_uploads_open(void)
{
    pthread_mutex_lock(&mu);
    closed = 0;
    pthread_mutex_unlock(&mu);
}

int http_uploads_take(void)
{
    pthread_mutex_lock(&mu);
    int taken = !closed;
    unanswered += taken;
    pthread_mutex_unlock(&mu);
    return taken;
}

void http_uploads_answered(void)
{
    pthread_mutex_lock(&mu);
    unanswered--;
    pthread_mutex_unlock(&mu);
}

void http_uploads_close(void)
{
    pthread_mutex_lock(&mu);
    closed = 1;
    pthread_mutex_unlock(&mu);
}

int http_uploads_drain(int ms)
{
    /* Each answer is a few bytes to a connection waiting for it: the bound is only for a
     * client that has stopped reading. */
    for (int64_t until = util_mono_ms() + ms;;) {
        pthread_mutex_lock(&mu);
        int left = unanswered;
        pthread_mutex_unlock(&mu);
        if (left <= 0 || util_mono_ms() >= until) return left > 0 ? left : 0;
        nanosleep(&(struct timespec){.tv_nsec = 5 * 1000 * 1000}, NULL);
    }
}
