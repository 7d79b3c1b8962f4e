/* spawn_ceiling — how many trivial processes this machine can start and reap per second.
 *
 * Runs /bin/true TOTAL times with posix_spawn, keeping K in flight (a new one starts as soon as
 * one is reaped), for each K given, and prints one line per K:
 *
 *     inflight=4 total=10000 seconds=2.913 per_second=3433.0
 *
 * This is the ceiling for any scheduler that runs each job as a process on this machine: the
 * benchmark reports barge's end-to-end jobs per second as a share of the best of these rates.
 *
 * usage: spawn_ceiling [-n TOTAL] [-p PROGRAM] K...   (defaults: 10000, /bin/true, 2 4 8) */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int run(const char *prog, long total, long inflight, double *seconds)
{
    char *argv[] = {(char *)prog, NULL};
    long started = 0, reaped = 0, running = 0;
    double t0 = now_s();
    while (reaped < total) {
        while (running < inflight && started < total) {
            pid_t pid;
            int rc = posix_spawn(&pid, prog, NULL, NULL, argv, environ);
            if (rc != 0) {
                fprintf(stderr, "spawn_ceiling: posix_spawn %s: %s\n", prog, strerror(rc));
                return -1;
            }
            started++;
            running++;
        }
        int status;
        pid_t pid = wait(&status);
        if (pid < 0) {
            if (errno == EINTR) continue;
            perror("spawn_ceiling: wait");
            return -1;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "spawn_ceiling: %s did not exit 0\n", prog);
            return -1;
        }
        running--;
        reaped++;
    }
    *seconds = now_s() - t0;
    return 0;
}

int main(int argc, char **argv)
{
    long total = 10000;
    const char *prog = "/bin/true";
    int o;
    while ((o = getopt(argc, argv, "n:p:")) != -1) {
        switch (o) {
        case 'n': total = atol(optarg); break;
        case 'p': prog = optarg; break;
        default:
            fprintf(stderr, "usage: spawn_ceiling [-n TOTAL] [-p PROGRAM] INFLIGHT...\n");
            return 2;
        }
    }
    if (total < 1) {
        fprintf(stderr, "spawn_ceiling: -n must be at least 1\n");
        return 2;
    }
    static char *dflt[] = {"2", "4", "8"};
    char **ks = optind < argc ? argv + optind : dflt;
    int nk = optind < argc ? argc - optind : 3;
    for (int i = 0; i < nk; i++) {
        long k = atol(ks[i]);
        if (k < 1) {
            fprintf(stderr, "spawn_ceiling: in-flight count '%s' must be at least 1\n", ks[i]);
            return 2;
        }
        double s;
        if (run(prog, total, k, &s) < 0) return 1;
        printf("inflight=%ld total=%ld seconds=%.3f per_second=%.1f\n", k, total, s,
               (double)total / s);
        fflush(stdout);
    }
    return 0;
}
