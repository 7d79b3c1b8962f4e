/* workq — see workq.h. */
#include "server/base/workq.h"

#include <pthread.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/mem.h"

struct workq {
    pthread_mutex_t mu;
    pthread_cond_t work;
    workq_item *head, *tail;
    int stopping;
    int n_threads;
    pthread_t *threads;
};

static void *workq_thread(void *arg)
{
    pthread_setname_np(pthread_self(), "barge-work");
    workq *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->head && !q->stopping) pthread_cond_wait(&q->work, &q->mu);
        workq_item *it = q->head;
        if (!it) break; /* stopping, and nothing left */
        q->head = it->next;
        if (!q->head) q->tail = NULL;
        pthread_mutex_unlock(&q->mu);
        it->run(it);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

workq *workq_start(int threads, const char *name, char **err)
{
    workq *q = xcalloc(1, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->work, NULL);
    if (threads < 1) threads = 1;
    q->threads = xcalloc((size_t)threads, sizeof *q->threads);
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&q->threads[i], NULL, workq_thread, q) != 0) {
            if (q->n_threads == 0) {
                *err = xasprintf("cannot start the %s threads", name);
                workq_free(q);
                return NULL;
            }
            log_warn("%s: started %d of %d threads", name, q->n_threads, threads);
            break;
        }
        q->n_threads++;
    }
    return q;
}

void workq_submit(workq *q, workq_item *it)
{
    it->next = NULL;
    pthread_mutex_lock(&q->mu);
    if (q->stopping) {
        pthread_mutex_unlock(&q->mu);
        it->run(it);
        return;
    }
    if (q->tail) q->tail->next = it;
    else q->head = it;
    q->tail = it;
    pthread_cond_signal(&q->work);
    pthread_mutex_unlock(&q->mu);
}

void workq_stop(workq *q)
{
    if (!q) return;
    pthread_mutex_lock(&q->mu);
    q->stopping = 1;
    pthread_cond_broadcast(&q->work);
    pthread_mutex_unlock(&q->mu);
    for (int i = 0; i < q->n_threads; i++) pthread_join(q->threads[i], NULL);
    q->n_threads = 0;
}

void workq_free(workq *q)
{
    if (!q) return;
    workq_stop(q);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->work);
    free(q->threads);
    free(q);
}
