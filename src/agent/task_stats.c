/* task_stats — see task_stats.h. */
#include "agent/task_stats.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/util.h"

/* How deep below the attempt's cgroup a walk goes (a container runtime's cgroup is one or two
 * levels down), and how many processes it reads at most: a sample stays cheap whatever the
 * job does. */
#define WALK_DEPTH 8
#define WALK_PIDS 4096

int task_stats_parse_proc(const char *text, uint64_t ticks[4], long *threads)
{
    /* The command's name is in parentheses and may hold anything, parentheses too: the fields
     * start after the last ')'. */
    const char *p = text ? strrchr(text, ')') : NULL;
    if (!p) return -1;
    p++;
    /* After the name: state (field 3), ..., utime (14), stime, cutime, cstime (17), ...,
     * num_threads (20). */
    unsigned long long v[18];
    int field = 0;
    while (field < 18) {
        while (*p == ' ') p++;
        if (!*p || *p == '\n') return -1;
        if (field == 0) { /* the state: a letter */
            p++;
        } else {
            char *end;
            v[field] = strtoull(p, &end, 10);
            if (end == p) return -1;
            p = end;
        }
        field++;
    }
    for (int i = 0; i < 4; i++) ticks[i] = v[11 + i];
    *threads = (long)v[17];
    return 0;
}

uint64_t task_stats_parse_system(const char *text)
{
    if (!text || strncmp(text, "cpu ", 4) != 0) return 0;
    const char *p = text + 4;
    uint64_t sum = 0;
    while (*p && *p != '\n') {
        char *end;
        unsigned long long v = strtoull(p, &end, 10);
        if (end == p) break;
        sum += v;
        p = end;
    }
    return sum;
}

json_t *task_stats_parse_keyed(const char *text)
{
    json_t *o = json_object();
    for (const char *line = text; line && *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        const char *sp = memchr(line, ' ', len);
        if (sp && sp > line) {
            char *end;
            long long v = strtoll(sp + 1, &end, 10);
            if (end > sp + 1 && end == line + len) {
                char *key = xstrndup(line, (size_t)(sp - line));
                json_object_set_new(o, key, json_integer(v));
                free(key);
            }
        }
        line = nl ? nl + 1 : NULL;
    }
    return o;
}

/* Adds process pid's CPU ticks and threads to the sums. */
static void add_process(long pid, uint64_t ticks[4], long *threads)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    char *text = util_read_file(path);
    uint64_t t[4];
    long n;
    if (task_stats_parse_proc(text, t, &n) == 0) {
        for (int i = 0; i < 4; i++) ticks[i] += t[i];
        *threads += n;
    }
    free(text);
}

/* The processes of the cgroup dir and of those below it. */
static void walk(const char *dir, int depth, uint64_t ticks[4], long *threads, int *left)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/cgroup.procs", dir);
    char *procs = util_read_file(path);
    for (char *p = procs; p && *p && *left > 0;) {
        char *end;
        long pid = strtol(p, &end, 10);
        if (end == p) break;
        add_process(pid, ticks, threads);
        --*left;
        p = end;
        while (*p == '\n') p++;
    }
    free(procs);
    if (depth >= WALK_DEPTH) return;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) && *left > 0) {
        if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path) continue;
        walk(path, depth + 1, ticks, threads, left);
    }
    closedir(d);
}

/* A number in file name of dir (the first line's), or -1; "max" is unlimited (-1 too). */
static int64_t read_number(const char *dir, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *text = util_read_file(path);
    char *end = NULL;
    long long v = text ? strtoll(text, &end, 10) : -1;
    if (!text || end == text) v = -1;
    free(text);
    return v;
}

/* A "Name:   N kB" line of a /proc status or meminfo file, in bytes; -1 when not there. */
static int64_t read_kb(const char *file, const char *name)
{
    char *text = util_read_file(file);
    int64_t v = -1;
    size_t len = strlen(name);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, name, len) == 0 && line[len] == ':') {
            v = strtoll(line + len + 1, NULL, 10) * 1024;
            break;
        }
        line = strchr(line, '\n');
        if (line) line++;
    }
    free(text);
    return v;
}

void task_stats_sample(const task_stats_src *src, task_sample *out, json_t **mem_stats)
{
    memset(out, 0, sizeof *out);
    *mem_stats = NULL;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    out->at_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0) hz = 100;
    uint64_t ns_per_tick = 1000000000ull / (uint64_t)hz;
    uint64_t ticks[4] = {0};
    if (src->cgroup_dir) {
        int left = WALK_PIDS;
        walk(src->cgroup_dir, 0, ticks, &out->threads, &left);
    } else if (src->pid > 0) {
        add_process(src->pid, ticks, &out->threads);
    }
    out->user_ns = (ticks[0] + ticks[2]) * ns_per_tick;
    out->kernel_ns = (ticks[1] + ticks[3]) * ns_per_tick;
    char *stat = util_read_file("/proc/stat");
    out->system_ns = task_stats_parse_system(stat) * ns_per_tick;
    free(stat);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    out->online_cpus = cpus > 0 ? (int)cpus : 1;
    /* An unlimited cgroup's limit is the machine's memory, as Docker says it. */
    int64_t total = read_kb("/proc/meminfo", "MemTotal");
    out->max_usage = -1;
    if (src->cgroup_dir) {
        const char *d = src->cgroup_dir;
        out->usage = read_number(d, src->v2 ? "memory.current" : "memory.usage_in_bytes");
        if (src->peak_known)
            out->max_usage = read_number(d, src->v2 ? "memory.peak" : "memory.max_usage_in_bytes");
        out->limit = read_number(d, src->v2 ? "memory.max" : "memory.limit_in_bytes");
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/memory.stat", d);
        char *text = util_read_file(path);
        if (text) *mem_stats = task_stats_parse_keyed(text);
        free(text);
    } else if (src->pid > 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%ld/status", (long)src->pid);
        out->usage = read_kb(path, "VmRSS");
        out->max_usage = read_kb(path, "VmHWM");
    }
    if (out->usage < 0) out->usage = 0;
    if (out->limit <= 0 || (total > 0 && out->limit > total)) out->limit = total > 0 ? total : 0;
}

/* Docker's time: RFC 3339 with nanoseconds; its zero time for none. */
static json_t *docker_time(int64_t ns)
{
    if (ns <= 0) return json_string("0001-01-01T00:00:00Z");
    time_t secs = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char out[64];
    size_t n = strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, sizeof out - n, ".%09lldZ", (long long)(ns % 1000000000));
    return json_string(out);
}

static json_t *cpu_json(const task_sample *s)
{
    json_t *usage = json_pack("{s:I, s:I, s:I}", "total_usage",
                              (json_int_t)(s ? s->user_ns + s->kernel_ns : 0),
                              "usage_in_kernelmode", (json_int_t)(s ? s->kernel_ns : 0),
                              "usage_in_usermode", (json_int_t)(s ? s->user_ns : 0));
    json_t *o = json_pack("{s:o, s:{s:i, s:i, s:i}}", "cpu_usage", usage, "throttling_data",
                          "periods", 0, "throttled_periods", 0, "throttled_time", 0);
    if (s) {
        json_object_set_new(o, "system_cpu_usage", json_integer((json_int_t)s->system_ns));
        json_object_set_new(o, "online_cpus", json_integer(s->online_cpus));
    }
    return o;
}

json_t *task_stats_json(const task_sample *now, const task_sample *prev, json_t *mem_stats,
                        const char *name, const char *id)
{
    json_t *mem = json_pack("{s:I, s:o, s:I}", "usage", (json_int_t)now->usage, "stats",
                            mem_stats ? mem_stats : json_object(), "limit",
                            (json_int_t)now->limit);
    if (now->max_usage >= 0)
        json_object_set_new(mem, "max_usage", json_integer((json_int_t)now->max_usage));
    char *slash_name = xasprintf("/%s", name);
    /* The block devices' counters are not read: null, as Docker answers them on cgroup v2. */
    json_t *o = json_pack(
        "{s:o, s:o, s:{s:I}, s:{s:n, s:n, s:n, s:n, s:n, s:n, s:n, s:n}, s:i, s:{}, s:o, s:o, "
        "s:o, s:s, s:s}",
        "read", docker_time(now->at_ns), "preread", docker_time(prev ? prev->at_ns : 0),
        "pids_stats", "current", (json_int_t)now->threads, "blkio_stats",
        "io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
        "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
        "io_time_recursive", "sectors_recursive", "num_procs", 0, "storage_stats",
        "cpu_stats", cpu_json(now), "precpu_stats", cpu_json(prev), "memory_stats", mem, "name",
        slash_name, "id", id);
    free(slash_name);
    return o;
}
