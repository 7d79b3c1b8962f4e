/* task_stats — a running attempt's statistics in the shape of Docker's stats API, which ECS's
 * task metadata endpoint serves at ${ECS_CONTAINER_METADATA_URI_V4}/stats (and /task/stats,
 * keyed by container id) and which monitoring tools inside jobs read for their own CPU and
 * memory.
 *
 * A sample reads the attempt's cgroup (memory: current, peak and limit, and memory.stat as it
 * is) and the processes in it and below it (a container's runtime makes its own cgroup under
 * the attempt's): their CPU time, with that of the children each has waited for, as
 * /proc/PID/stat says it, and their threads.  So CPU spent by a process that exited without a
 * parent in the attempt to wait for it is not counted; the usage report at the attempt's end
 * counts the same way.  Without a cgroup (an agent where limits cannot be set) a sample reads
 * the attempt's main process alone.  Everything is read from files, so a sample may be taken
 * on any thread, and one of an attempt that has just ended reads what is left (nothing). */
#ifndef BARGE_TASK_STATS_H
#define BARGE_TASK_STATS_H
#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

/* Where an attempt runs. */
typedef struct task_stats_src {
    const char *cgroup_dir; /* the attempt's memory cgroup, or NULL */
    int v2;                 /* the cgroup is on the unified hierarchy */
    int peak_known;         /* its peak file holds this attempt's peak (cgroup_peak_known) */
    pid_t pid;              /* the attempt's main process */
} task_stats_src;

typedef struct task_sample {
    int64_t at_ns;                /* wall clock */
    uint64_t user_ns, kernel_ns;  /* the attempt's CPU time (above) */
    uint64_t system_ns;           /* every CPU's time since boot, as Docker's system_cpu_usage */
    int online_cpus;
    int64_t usage, max_usage, limit; /* bytes; max_usage -1 when not known */
    long threads;
} task_sample;

/* Takes a sample; *mem_stats (the cgroup's memory.stat as an object, or NULL) is the
 * caller's. */
void task_stats_sample(const task_stats_src *src, task_sample *out, json_t **mem_stats);

/* Docker's stats object for sample now, prev (NULL for none: zeros, as Docker's first sample
 * has) the one served before; takes mem_stats.  name is the container's name, id its id. */
json_t *task_stats_json(const task_sample *now, const task_sample *prev, json_t *mem_stats,
                        const char *name, const char *id);

/* Parsing, apart for tests.  The CPU ticks of a /proc/PID/stat text (utime, stime, cutime,
 * cstime) and its threads: 0, or -1 when the text is not one. */
int task_stats_parse_proc(const char *text, uint64_t ticks[4], long *threads);
/* The sum of the first line's fields of a /proc/stat text, in ticks; 0 when not there. */
uint64_t task_stats_parse_system(const char *text);
/* "key value" lines (memory.stat) as an object of integers; lines of another shape are
 * skipped. */
json_t *task_stats_parse_keyed(const char *text);
#endif
