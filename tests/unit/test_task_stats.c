/* task_stats.c: /proc/PID/stat read past a name holding parentheses and spaces, /proc/stat's
 * sum, memory.stat as an object; a sample of this very process (no cgroup) sees the CPU it
 * spent and the memory it holds; the JSON has Docker's shape, with Docker's zero time and zero
 * CPU before a first sample, and no max_usage when it is not known. */
#include "agent/task_stats.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static void test_parsing(void)
{
    uint64_t t[4];
    long threads;
    /* A name such as a job may give its process: ") 1 2 (" and spaces. */
    const char *stat = "4242 (a) 1 2 (b c) S 1 4242 4242 0 -1 4194560 120 0 0 0 "
                       "17 5 3 2 20 0 3 0 1000 10000000 300 18446744073709551615\n";
    CHECK_EQ_INT(task_stats_parse_proc(stat, t, &threads), 0);
    CHECK_EQ_INT((long)t[0], 17);
    CHECK_EQ_INT((long)t[1], 5);
    CHECK_EQ_INT((long)t[2], 3);
    CHECK_EQ_INT((long)t[3], 2);
    CHECK_EQ_INT(threads, 3);
    CHECK_EQ_INT(task_stats_parse_proc("4242 (short) S 1 2 3\n", t, &threads), -1);
    CHECK_EQ_INT(task_stats_parse_proc("no parenthesis", t, &threads), -1);
    CHECK_EQ_INT(task_stats_parse_proc(NULL, t, &threads), -1);

    CHECK_EQ_INT((long)task_stats_parse_system("cpu  10 1 20 300 4 0 5 0 0 0\ncpu0 1 2\n"), 340);
    CHECK_EQ_INT((long)task_stats_parse_system("intr 5\n"), 0);
    CHECK_EQ_INT((long)task_stats_parse_system(NULL), 0);

    json_t *o = task_stats_parse_keyed("cache 4096\nrss 8192\nodd line here\n\nhierarchical_memory_limit"
                                       " 9223372036854771712\nnot-a-number x\n");
    CHECK_EQ_INT(json_object_size(o), 3);
    CHECK_EQ_INT(json_integer_value(json_object_get(o, "rss")), 8192);
    CHECK(json_integer_value(json_object_get(o, "hierarchical_memory_limit")) > 0);
    json_decref(o);
}

static void test_a_sample_of_this_process(void)
{
    task_stats_src src = {.pid = getpid()};
    task_sample first, now;
    json_t *mem;
    task_stats_sample(&src, &first, &mem);
    CHECK(mem == NULL); /* no cgroup, no memory.stat */
    /* Spend CPU and hold memory. */
    size_t held = 16 << 20;
    volatile char *p = malloc(held);
    for (size_t i = 0; i < held; i += 4096) p[i] = 1;
    clock_t c0 = clock();
    while (clock() - c0 < CLOCKS_PER_SEC / 5) {
    }
    task_stats_sample(&src, &now, &mem);
    CHECK(now.user_ns + now.kernel_ns >= first.user_ns + first.kernel_ns + 100000000ull);
    CHECK(now.usage >= (int64_t)held);
    CHECK(now.max_usage >= now.usage);
    CHECK(now.limit > now.usage);
    CHECK(now.system_ns > first.system_ns);
    CHECK(now.online_cpus >= 1);
    CHECK(now.threads >= 1);
    CHECK(now.at_ns > first.at_ns);

    json_t *j = task_stats_json(&now, &first, NULL, "ecs-jd-1-default-ab", "ab");
    CHECK_STR(json_string_value(json_object_get(j, "name")), "/ecs-jd-1-default-ab");
    CHECK_STR(json_string_value(json_object_get(j, "id")), "ab");
    json_t *cpu = json_object_get(json_object_get(j, "cpu_stats"), "cpu_usage");
    CHECK_EQ_INT(json_integer_value(json_object_get(cpu, "total_usage")),
                 (long long)(now.user_ns + now.kernel_ns));
    json_t *pre = json_object_get(json_object_get(j, "precpu_stats"), "cpu_usage");
    CHECK_EQ_INT(json_integer_value(json_object_get(pre, "total_usage")),
                 (long long)(first.user_ns + first.kernel_ns));
    const char *read = json_string_value(json_object_get(j, "read"));
    CHECK(read && strlen(read) == strlen("2026-12-06T01:02:03.123456789Z"));
    json_t *m = json_object_get(j, "memory_stats");
    CHECK_EQ_INT(json_integer_value(json_object_get(m, "max_usage")), now.max_usage);
    CHECK(json_is_object(json_object_get(m, "stats")));
    json_decref(j);

    /* The first read: Docker's zero time and zero CPU before it; a peak not known is left
     * out. */
    now.max_usage = -1;
    j = task_stats_json(&now, NULL, json_pack("{s:i}", "rss", 1), "n", "i");
    CHECK_STR(json_string_value(json_object_get(j, "preread")), "0001-01-01T00:00:00Z");
    pre = json_object_get(json_object_get(j, "precpu_stats"), "cpu_usage");
    CHECK_EQ_INT(json_integer_value(json_object_get(pre, "total_usage")), 0);
    m = json_object_get(j, "memory_stats");
    CHECK(json_object_get(m, "max_usage") == NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(m, "stats"), "rss")), 1);
    json_decref(j);
    free((void *)p);
}

int main(void)
{
    RUN(test_parsing);
    RUN(test_a_sample_of_this_process);
    return 0;
}
