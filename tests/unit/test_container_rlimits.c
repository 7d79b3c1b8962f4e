/* container_rlimits.c: a container's rlimits from its job's ulimits: -1 is unlimited, a limit
 * above what this instance may give is lowered to it and said, and config.json carries
 * RLIM_INFINITY as the number runc reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "agent/container_rlimits.h"
#include "common/mem.h"
#include "common/util.h"
#include "check.h"

static json_t *find(json_t *rlimits, const char *type)
{
    json_t *rl;
    size_t i;
    json_array_foreach(rlimits, i, rl)
        if (strcmp(json_string_value(json_object_get(rl, "type")), type) == 0) return rl;
    return NULL;
}

static long long soft_of(json_t *rl)
{
    return json_integer_value(json_object_get(rl, "soft"));
}

static long long hard_of(json_t *rl)
{
    return json_integer_value(json_object_get(rl, "hard"));
}

/* -1 is unlimited where the agent may raise limits (as root with CAP_SYS_RESOURCE): AWS Batch's
 * EFA example, memlock -1/-1. */
static void test_unlimited(void)
{
    json_t *u = json_loads("[{\"name\":\"memlock\",\"softLimit\":-1,\"hardLimit\":-1},"
                           "{\"name\":\"core\",\"softLimit\":0,\"hardLimit\":-1}]", 0, NULL);
    char said[512];
    json_t *r = container_rlimits(u, 1, said, sizeof said);
    CHECK_STR(said, "");
    CHECK_EQ_INT(soft_of(find(r, "RLIMIT_MEMLOCK")), CONTAINER_RLIM_UNLIMITED);
    CHECK_EQ_INT(hard_of(find(r, "RLIMIT_MEMLOCK")), CONTAINER_RLIM_UNLIMITED);
    CHECK_EQ_INT(soft_of(find(r, "RLIMIT_CORE")), 0);
    CHECK_EQ_INT(hard_of(find(r, "RLIMIT_CORE")), CONTAINER_RLIM_UNLIMITED);
    /* No nofile asked: the agent's own is given. */
    struct rlimit own;
    CHECK_EQ_INT(getrlimit(RLIMIT_NOFILE, &own), 0);
    CHECK_EQ_INT(hard_of(find(r, "RLIMIT_NOFILE")), (long long)own.rlim_max);

    /* In the configuration's text the marker is RLIM_INFINITY, and only where it is an
     * rlimit's: a string holding the same characters is left as it is. */
    json_t *config = json_pack("{s:{s:o, s:[s]}}", "process", "rlimits", r, "env",
                               "X=\"soft\":-1,");
    char *text = container_rlimits_text(config);
    CHECK(text != NULL);
    CHECK(strstr(text, "{\"type\":\"RLIMIT_MEMLOCK\",\"soft\":18446744073709551615,"
                       "\"hard\":18446744073709551615}") != NULL);
    CHECK(strstr(text, "{\"type\":\"RLIMIT_CORE\",\"soft\":0,\"hard\":18446744073709551615}")
          != NULL);
    CHECK(strstr(text, "\"X=\\\"soft\\\":-1,\"") != NULL);
    free(text);
    json_decref(config);
    json_decref(u);
}

/* Without CAP_SYS_RESOURCE no hard limit can be above the agent's own: it is lowered, the soft
 * one with it, and the sentence says what was asked and given. */
static void test_lowered_to_the_agents(void)
{
    struct rlimit own;
    CHECK_EQ_INT(getrlimit(RLIMIT_NOFILE, &own), 0);
    if (own.rlim_max == RLIM_INFINITY || own.rlim_max > 1000000000ULL) {
        printf("  (the hard nofile limit is unbounded here: the lowering is not checked)\n");
        return;
    }
    char *ask = xasprintf("[{\"name\":\"nofile\",\"softLimit\":%llu,\"hardLimit\":%llu},"
                          "{\"name\":\"nproc\",\"softLimit\":5,\"hardLimit\":6}]",
                          (unsigned long long)own.rlim_max + 1,
                          (unsigned long long)own.rlim_max + 2);
    json_t *u = json_loads(ask, 0, NULL);
    char said[512];
    json_t *r = container_rlimits(u, 0, said, sizeof said);
    CHECK_EQ_INT(hard_of(find(r, "RLIMIT_NOFILE")), (long long)own.rlim_max);
    CHECK_EQ_INT(soft_of(find(r, "RLIMIT_NOFILE")), (long long)own.rlim_max);
    char *want = xasprintf("ulimit nofile: asked %llu (soft) and %llu (hard), given %llu and %llu, "
                           "the most this instance's agent may give (it lacks CAP_SYS_RESOURCE)",
                           (unsigned long long)own.rlim_max + 1,
                           (unsigned long long)own.rlim_max + 2,
                           (unsigned long long)own.rlim_max, (unsigned long long)own.rlim_max);
    CHECK_STR(said, want);
    /* What is within the agent's own is given as asked, and not said. */
    CHECK_EQ_INT(soft_of(find(r, "RLIMIT_NPROC")), 5);
    free(want);
    free(ask);
    json_decref(r);
    json_decref(u);

    /* Unlimited asked where the agent's own is bounded: the sentence says "unlimited". */
    u = json_loads("[{\"name\":\"nofile\",\"softLimit\":-1,\"hardLimit\":-1}]", 0, NULL);
    r = container_rlimits(u, 0, said, sizeof said);
    CHECK_EQ_INT(hard_of(find(r, "RLIMIT_NOFILE")), (long long)own.rlim_max);
    CHECK(strstr(said, "asked unlimited (soft) and unlimited (hard)") != NULL);
    json_decref(r);
    json_decref(u);
}

/* With CAP_SYS_RESOURCE the kernel still takes no nofile above fs.nr_open: an unlimited one is
 * that, and said. */
static void test_nofile_within_nr_open(void)
{
    char *text = util_read_file("/proc/sys/fs/nr_open");
    CHECK(text != NULL);
    long long nr_open = strtoll(text, NULL, 10);
    free(text);
    json_t *u = json_loads("[{\"name\":\"nofile\",\"softLimit\":1024,\"hardLimit\":-1}]", 0, NULL);
    char said[512];
    json_t *r = container_rlimits(u, 1, said, sizeof said);
    CHECK_EQ_INT(hard_of(find(r, "RLIMIT_NOFILE")), nr_open);
    CHECK_EQ_INT(soft_of(find(r, "RLIMIT_NOFILE")), 1024);
    CHECK(strstr(said, "the most the kernel takes (fs.nr_open)") != NULL);
    json_decref(r);
    json_decref(u);
}

/* Below -1 (a server that did not check) is left out: runc refuses a negative number. */
static void test_below_minus_one(void)
{
    json_t *u = json_loads("[{\"name\":\"core\",\"softLimit\":-2,\"hardLimit\":-1}]", 0, NULL);
    char said[512];
    json_t *r = container_rlimits(u, 1, said, sizeof said);
    CHECK(find(r, "RLIMIT_CORE") == NULL);
    CHECK(find(r, "RLIMIT_NOFILE") != NULL);
    json_decref(r);
    json_decref(u);
}

int main(void)
{
    RUN(test_unlimited);
    RUN(test_lowered_to_the_agents);
    RUN(test_nofile_within_nr_open);
    RUN(test_below_minus_one);
    printf("container_rlimits: ok\n");
    return 0;
}
