/* reaper.c: a claimed child's exit status reaches its claimant even when the supervisor's
 * collection reaps it first; unclaimed children (orphans) go to the collector's callback. */
#include <pthread.h>
#include <sys/resource.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/reaper.h"
#include "check.h"

static atomic_int stop, orphans;
static pid_t orphan_pid = -1;

static void on_orphan(void *ctx, pid_t pid, int status, const struct rusage *ru)
{
    (void)ctx;
    if (pid == orphan_pid && WIFEXITED(status) && WEXITSTATUS(status) == 9) atomic_fetch_add(&orphans, 1);
}

/* The supervisor's part: collect as fast as it can. */
static void *collector(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) reaper_collect(on_orphan, NULL);
    return NULL;
}

static pid_t spawn_exit(int code)
{
    reaper_hold();
    pid_t pid = fork();
    if (pid == 0) _exit(code);
    CHECK(pid > 0);
    reaper_claim(pid);
    reaper_let_go();
    return pid;
}

int main(void)
{
    pthread_t t;
    pthread_create(&t, NULL, collector, NULL);
    /* Many short children, each claimed: every status arrives, none is lost to the collector. */
    for (int i = 0; i < 200; i++) {
        pid_t pid = spawn_exit(i % 100);
        int status = -1;
        CHECK_EQ_INT(reaper_wait(pid, &status, 0), pid);
        CHECK(WIFEXITED(status));
        CHECK_EQ_INT(WEXITSTATUS(status), i % 100);
    }
    /* WNOHANG on a running child: 0 until it ends.  The child runs until told (its pipe
     * closed), and is claimed before the collector can see it, however slow this thread. */
    int gate[2];
    CHECK_EQ_INT(pipe(gate), 0);
    reaper_hold();
    pid_t slow = fork();
    if (slow == 0) {
        char c;
        close(gate[1]);
        while (read(gate[0], &c, 1) < 0) {}
        _exit(4);
    }
    CHECK(slow > 0);
    close(gate[0]);
    reaper_claim(slow);
    reaper_let_go();
    int status = -1;
    CHECK_EQ_INT(reaper_wait(slow, &status, WNOHANG), 0);
    close(gate[1]);
    CHECK_EQ_INT(reaper_wait(slow, &status, 0), slow);
    CHECK_EQ_INT(WEXITSTATUS(status), 4);
    /* An unclaimed child goes to the callback. */
    reaper_hold(); /* not collected before its pid is known here */
    orphan_pid = fork();
    if (orphan_pid == 0) _exit(9);
    reaper_let_go();
    for (int i = 0; i < 500 && atomic_load(&orphans) == 0; i++) usleep(2000);
    CHECK_EQ_INT(atomic_load(&orphans), 1);
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    printf("reaper: ok\n");
    return 0;
}
