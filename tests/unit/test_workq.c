/* workq.c: every item runs once, on the queue's threads; stopping runs what is queued, and what
 * comes after runs on its caller's thread. */
#include <pthread.h>
#include <stdatomic.h>

#include "server/base/workq.h"
#include "check.h"

typedef struct job {
    workq_item it;
    int ran;
} job;

static atomic_int total;

static void run(workq_item *it)
{
    job *j = (job *)it;
    j->ran++;
    atomic_fetch_add(&total, 1);
}

static void test_every_item_runs_once(void)
{
    static job jobs[2000];
    char *err = NULL;
    workq *q = workq_start(3, "test", &err);
    CHECK(q != NULL);
    for (int i = 0; i < 2000; i++) {
        jobs[i].it.run = run;
        workq_submit(q, &jobs[i].it);
    }
    workq_stop(q); /* runs what is still queued before it returns */
    CHECK_EQ_INT(atomic_load(&total), 2000);
    for (int i = 0; i < 2000; i++) CHECK_EQ_INT(jobs[i].ran, 1);
    /* Once stopped, an item runs at once on the caller's thread. */
    static job late = {.it.run = run};
    workq_submit(q, &late.it);
    CHECK_EQ_INT(late.ran, 1);
    workq_free(q);
    workq_stop(NULL);
    workq_free(NULL);
}

int main(void)
{
    RUN(test_every_item_runs_once);
    return 0;
}
