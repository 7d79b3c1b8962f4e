/* container_rlimits — a container's resource limits from its job's ulimits (container_rlimits.h). */
#include "agent/container_rlimits.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

/* The ulimit names ECS takes, and their resources. */
static const struct {
    const char *name;
    const char *oci;
    int resource;
} ulimit_names[] = {
    {"core", "RLIMIT_CORE", RLIMIT_CORE},       {"cpu", "RLIMIT_CPU", RLIMIT_CPU},
    {"data", "RLIMIT_DATA", RLIMIT_DATA},       {"fsize", "RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"locks", "RLIMIT_LOCKS", RLIMIT_LOCKS},    {"memlock", "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"msgqueue", "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"nice", "RLIMIT_NICE", RLIMIT_NICE},
    {"nofile", "RLIMIT_NOFILE", RLIMIT_NOFILE}, {"nproc", "RLIMIT_NPROC", RLIMIT_NPROC},
    {"rss", "RLIMIT_RSS", RLIMIT_RSS},          {"rtprio", "RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"rttime", "RLIMIT_RTTIME", RLIMIT_RTTIME}, {"sigpending", "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"stack", "RLIMIT_STACK", RLIMIT_STACK},
};

#define CAP_SYS_RESOURCE_BIT 24

int container_may_raise_rlimits(void)
{
    char *text = util_read_file("/proc/self/status");
    const char *line = text ? strstr(text, "\nCapEff:") : NULL;
    unsigned long long eff = line ? strtoull(line + 8, NULL, 16) : 0;
    free(text);
    return (eff >> CAP_SYS_RESOURCE_BIT) & 1;
}

/* The most a hard limit of resource can be here: the kernel refuses a nofile above fs.nr_open
 * even to a holder of CAP_SYS_RESOURCE. */
static rlim_t ceiling(int resource, int may_raise)
{
    if (may_raise) {
        if (resource != RLIMIT_NOFILE) return RLIM_INFINITY;
        char *text = util_read_file("/proc/sys/fs/nr_open");
        rlim_t open_max = text ? (rlim_t)strtoull(text, NULL, 10) : 0;
        free(text);
        return open_max ? open_max : 1048576; /* the kernel's default */
    }
    struct rlimit own;
    return getrlimit(resource, &own) == 0 ? own.rlim_max : RLIM_INFINITY;
}

static json_t *entry(const char *type, rlim_t soft, rlim_t hard)
{
    json_int_t s = soft == RLIM_INFINITY ? CONTAINER_RLIM_UNLIMITED
                   : soft > INT64_MAX    ? INT64_MAX
                                         : (json_int_t)soft,
               h = hard == RLIM_INFINITY ? CONTAINER_RLIM_UNLIMITED
                   : hard > INT64_MAX    ? INT64_MAX
                                         : (json_int_t)hard;
    return json_pack("{s:s, s:I, s:I}", "type", type, "soft", s, "hard", h);
}

static void limit_text(char *out, size_t len, rlim_t v)
{
    if (v == RLIM_INFINITY)
        snprintf(out, len, "unlimited");
    else
        snprintf(out, len, "%llu", (unsigned long long)v);
}

/* Adds "name asked soft/hard, ..." to said. */
static void say_lowered(char *said, size_t said_len, const char *name, rlim_t soft, rlim_t hard,
                        rlim_t got_soft, rlim_t got_hard, int may_raise)
{
    char a[24], b[24], c[24], d[24];
    limit_text(a, sizeof a, soft);
    limit_text(b, sizeof b, hard);
    limit_text(c, sizeof c, got_soft);
    limit_text(d, sizeof d, got_hard);
    size_t used = strlen(said);
    if (used + 1 >= said_len) return;
    snprintf(said + used, said_len - used,
             "%sulimit %s: asked %s (soft) and %s (hard), given %s and %s, the most %s", used ? "; "
             : "", name, a, b, c, d,
             may_raise ? "the kernel takes (fs.nr_open)"
                       : "this instance's agent may give (it lacks CAP_SYS_RESOURCE)");
}

json_t *container_rlimits(const json_t *ulimits, int may_raise, char *said, size_t said_len)
{
    json_t *out = json_array(), *u;
    size_t i;
    int have_nofile = 0;
    if (said_len) said[0] = '\0';
    json_array_foreach(ulimits, i, u) {
        const char *name = json_string_value(json_object_get(u, "name"));
        for (size_t k = 0; name && k < sizeof ulimit_names / sizeof ulimit_names[0]; k++) {
            if (strcmp(name, ulimit_names[k].name) != 0) continue;
            json_int_t s = json_integer_value(json_object_get(u, "softLimit")),
                       h = json_integer_value(json_object_get(u, "hardLimit"));
            /* The server takes -1 (unlimited) and up; a value below (from a server that did not
             * check) is left out, and the container keeps its default. */
            if (s < -1 || h < -1) {
                log_warn("ulimit %s: %lld/%lld is below -1; the container keeps its default",
                         name, (long long)s, (long long)h);
                break;
            }
            rlim_t soft = s < 0 ? RLIM_INFINITY : (rlim_t)s,
                   hard = h < 0 ? RLIM_INFINITY : (rlim_t)h;
            rlim_t most = ceiling(ulimit_names[k].resource, may_raise);
            rlim_t got_hard = hard > most ? most : hard;
            rlim_t got_soft = soft > got_hard ? got_hard : soft;
            if (got_hard != hard)
                say_lowered(said, said_len, name, soft, hard, got_soft, got_hard, may_raise);
            json_array_append_new(out, entry(ulimit_names[k].oci, got_soft, got_hard));
            have_nofile |= ulimit_names[k].resource == RLIMIT_NOFILE;
        }
    }
    /* Without a nofile ulimit the container gets the agent's, as Docker's get the daemon's. */
    struct rlimit nofile;
    if (!have_nofile && getrlimit(RLIMIT_NOFILE, &nofile) == 0)
        json_array_append_new(out, entry("RLIMIT_NOFILE", nofile.rlim_cur, nofile.rlim_max));
    return out;
}

/* In compact JSON a key's quotes are never escaped and a string's inner quotes always are, so
 * `"soft":-1` followed by ',' or '}' is that member and nothing else. */
char *container_rlimits_text(const json_t *config)
{
    char *text = json_dumps(config, JSON_COMPACT);
    if (!text) return NULL;
    static const char *const keys[] = {"\"soft\":-1", "\"hard\":-1"};
    static const char infinity[] = "18446744073709551615";
    buf b = {0};
    const char *p = text;
    for (;;) {
        const char *hit = NULL;
        size_t key_len = 0;
        for (size_t k = 0; k < 2; k++) {
            const char *h = p;
            while ((h = strstr(h, keys[k])) != NULL) {
                char next = h[strlen(keys[k])];
                if (next == ',' || next == '}') break;
                h++;
            }
            if (h && (!hit || h < hit)) {
                hit = h;
                key_len = strlen(keys[k]);
            }
        }
        if (!hit) break;
        buf_append(&b, p, (size_t)(hit - p) + key_len - 2); /* through the colon */
        buf_append(&b, infinity, sizeof infinity - 1);
        p = hit + key_len;
    }
    buf_puts(&b, p);
    free(text);
    return b.data;
}
