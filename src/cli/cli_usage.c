/* cli_usage — `barge usage`: what a queue's jobs reserved and used (their descriptions' barge.usage:
 * vCPU-seconds and memory GiB-seconds held, CPU seconds used, the peak of memory), summed by job
 * definition, by the value of a tag, or for the whole queue. */
#include <limits.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/dict.h"
#include "common/mem.h"
#include "common/util.h"
#include "cli/cli_cmd.h"
#include "cli/cli_text.h"

/* How the table shows the group of the jobs without the tag (GetUsage's key null): no value a tag
 * may have, "-" included, is taken for it in --json, where the key is null. */
#define UNTAGGED "(untagged)"

static const char usage_help[] =
    "usage: barge usage --queue Q [--by definition|queue|tag:KEY] [--since WHEN] [--until WHEN]\n"
    "\n"
    "Sums what the queue's jobs held and used over their finished attempts: vCPU-seconds and\n"
    "memory GiB-seconds reserved (what they cost the compute environments), CPU seconds used and\n"
    "the largest peak of memory, as their agents measured them.  Every job the queue holds\n"
    "counts, whatever its status (with --since or --until, the jobs with an attempt that\n"
    "ended then); array jobs count through their children, a multi-node job as one.  The server sums (GetUsage, batch:GetUsage), so a queue of a million jobs takes a\n"
    "few calls.  Grouped by job definition (the default), by the value of a tag (jobs without\n"
    "it in a group of their own: " UNTAGGED ", null with --json; a value that reads as that,\n"
    "or as nothing, is shown in quotes), or not at all (queue).\n"
    "\n"
    "options:\n"
    "  --queue Q              the job queue (name or ARN)\n"
    "  --by definition|queue|tag:KEY   how to group (default definition)\n"
    "  --since WHEN           only the attempts that ended at WHEN or later, and the jobs\n"
    "                         they are of: \"7d\" (7 days ago; also s, m, h), \"2026-11-01\",\n"
    "                         \"2026-11-01 09:30\" (local time), \"2026-11-01T09:30:00Z\" (UTC)\n"
    "  --until WHEN           only the attempts that ended before WHEN (\"now\" is taken too);\n"
    "                         adjacent windows add up to the whole\n"
    "\n" CLI_COMMON_HELP;

typedef struct group {
    char *key; /* NULL: the jobs without the tag */
    long long jobs;
    double vcpu_s, gib_s, cpu_s;
    long long peak;
} group;

/* The groups in the order the server first gave them, and where each key is: a group a job
 * (--by tag:KEY with a value a job) is found at once among a million. */
typedef struct groups {
    group *all;
    size_t n, cap;
    dict at;          /* key -> index + 1 */
    size_t untagged;  /* index + 1 of the group of jobs without the tag; 0 */
} groups;

static group *group_of(groups *gs, const char *key)
{
    size_t at = key ? (size_t)(uintptr_t)dict_get(&gs->at, key) : gs->untagged;
    if (at) return &gs->all[at - 1];
    if (gs->n == gs->cap) {
        gs->cap = gs->cap ? 2 * gs->cap : 16;
        gs->all = xrealloc(gs->all, gs->cap * sizeof *gs->all);
    }
    group *g = &gs->all[gs->n++];
    *g = (group){.key = key ? xstrdup(key) : NULL};
    if (key) dict_put(&gs->at, g->key, (void *)(uintptr_t)gs->n);
    else gs->untagged = gs->n;
    return g;
}

/* Adds one page of GetUsage's groups (the server sums; a queue of many jobs comes in pages). */
static void add_page(json_t *resp, groups *gs)
{
    json_t *g;
    size_t i;
    json_array_foreach(json_object_get(resp, "groups"), i, g) {
        group *to = group_of(gs, json_string_value(json_object_get(g, "key")));
        /* The server's counts, added up over pages: a sum past the largest integer stays
         * there, rather than wrap. */
        long long jobs = cli_int(g, "jobs");
        if (__builtin_add_overflow(to->jobs, jobs, &to->jobs))
            to->jobs = jobs < 0 ? LLONG_MIN : LLONG_MAX;
        to->vcpu_s += json_number_value(json_object_get(g, "vcpuSeconds"));
        to->gib_s += json_number_value(json_object_get(g, "memoryGiBSeconds"));
        to->cpu_s += json_number_value(json_object_get(g, "cpuSeconds"));
        long long m = cli_int(g, "maxMemoryBytes");
        if (m > to->peak) to->peak = m;
    }
}

/* A time given with --since or --until, as local "YYYY-MM-DD HH:MM:SS": 1970-01-01 00:00 UTC
 * (0) and before are times too, not the "-" of cli_fmt_time, which stands for one a job does
 * not have. */
static void given_time(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000 - (ms % 1000 < 0));
    struct tm tm;
    if (!localtime_r(&t, &tm) || strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(out, 32, "%lld ms", (long long)ms);
}

/* A figure for the table: one decimal, or past a quadrillion in exponent form (a fixed
 * point of 1e40 did not fit, and was cut to its first 31 digits). */
static void figure(char *out, size_t size, double v)
{
    snprintf(out, size, v > -1e15 && v < 1e15 ? "%.1f" : "%.4g", v);
}

/* A sum for --json, in the unit its figures are counted in (model/usage.c: a millionth of a
 * vCPU-second or CPU second, 1/1,024,000 of a GiB-second, a MiB for a millisecond).  Sums of
 * doubles (these over the server's pages) gather digits of their own, 0.2840000000000002 for
 * 0.284, which a script would show or compare.  Past 2^53 units a double holds no unit: such a
 * sum stays. */
static double to_units(double v, double per)
{
    return fabs(v) < 9007199254740992.0 / per ? round(v * per) / per : v;
}

int cli_usage(int argc, char **argv)
{
    enum { O_QUEUE = 256, O_BY, O_SINCE, O_UNTIL };
    static const struct option opts[] = {
        {"queue", required_argument, NULL, O_QUEUE},
        {"by", required_argument, NULL, O_BY},
        {"since", required_argument, NULL, O_SINCE},
        {"until", required_argument, NULL, O_UNTIL},
        CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    cli_ctx c;
    cli_ctx_init(&c, "barge usage");
    const char *queue = NULL, *by = "definition";
    /* The window's ends, epoch ms; given: 1 for --since, 2 for --until. */
    int64_t since = 0, until = 0, now = util_now_ms();
    int given = 0, o;
    opterr = 0;
    optind = 1;
    while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (cli_common_option(&c, o, optarg)) continue;
        switch (o) {
        case 'h': fputs(usage_help, stdout); return 0;
        case O_QUEUE: queue = optarg; break;
        case O_BY: by = optarg; break;
        case O_SINCE:
        case O_UNTIL:
            if (cli_parse_when(optarg, now, o == O_SINCE ? &since : &until) < 0)
                return cli_usage_error(&c, "%s takes a time: \"7d\" (days ago; also s, m, h), "
                                           "\"2026-11-01\" or \"2026-11-01 09:30\" (local), "
                                           "\"2026-11-01T09:30:00Z\" (UTC) or \"now\" (got '%s')",
                                       o == O_SINCE ? "--since" : "--until", optarg);
            given |= o == O_SINCE ? 1 : 2;
            break;
        default: return cli_option_error(&c, o, argv, opts);
        }
    }
    if (strcmp(by, "definition") != 0 && strcmp(by, "queue") != 0 &&
        !(strncmp(by, "tag:", 4) == 0 && by[4]))
        return cli_usage_error(&c, "--by must be definition, queue or tag:KEY (got '%s')", by);
    /* No tag has a longer key (AWS's limit, in characters): every job would be untagged. */
    if (strncmp(by, "tag:", 4) == 0 && util_utf8_chars(by + 4) > 128)
        return cli_usage_error(&c, "--by tag:KEY: KEY is a tag's key, at most 128 characters "
                                   "(got %zu)", util_utf8_chars(by + 4));
    if (!queue) return cli_usage_error(&c, "--queue is required (the job queue to sum up)");
    if (!cli_names_ok(&c, queue, NULL, NULL)) return 2;
    if (optind != argc)
        return cli_usage_error(&c, "unexpected argument '%.200s'", argv[optind]);
    if (given == 3 && since >= until)
        return cli_usage_error(&c, "--until must be later than --since (the window holds the "
                                   "attempts that ended from --since up to --until)");
    int rc = cli_ctx_open(&c);
    if (rc) return rc;
    groups all = {0};
    dict_init(&all.at);
    json_t *req = json_pack("{s:s, s:s}", "jobQueue", queue, "by", by);
    if (given & 1) json_object_set_new(req, "endedAfter", json_integer(since));
    if (given & 2) json_object_set_new(req, "endedBefore", json_integer(until));
    json_t *tokens = json_object();
    for (;;) {
        json_t *resp;
        cli_error e;
        if (cli_call(&c, "barge", "GetUsage", req, &resp, &e) != 0) {
            cli_error_print(&c, "GetUsage", &e);
            cli_error_free(&e);
            rc = 1;
            break;
        }
        add_page(resp, &all);
        json_t *next = json_object_get(resp, "nextToken");
        if (!json_is_string(next)) {
            json_decref(resp);
            break;
        }
        if (cli_next_page(&c, "GetUsage", tokens, json_string_value(next)) < 0) {
            json_decref(resp);
            rc = 1;
            break;
        }
        json_object_set(req, "nextToken", next);
        json_decref(resp);
    }
    json_decref(tokens);
    json_decref(req);
    group *gs = all.all;
    size_t n = all.n;
    if (!rc) {
        json_t *out = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(out, json_pack("{s:s?, s:I, s:f, s:f, s:f, s:I}", "group",
                                                 gs[i].key, "jobs", (json_int_t)gs[i].jobs,
                                                 "vcpuSeconds", to_units(gs[i].vcpu_s, 1e6),
                                                 "memoryGiBSeconds", to_units(gs[i].gib_s, 1024000.0),
                                                 "cpuSeconds", to_units(gs[i].cpu_s, 1e6),
                                                 "maxMemoryBytes",
                                                 (json_int_t)gs[i].peak));
        if (c.json) {
            cli_print_json(out);
        } else if (!n) {
            /* Not a table's header alone, which reads like a failure to sum. */
            char from[32], to[32];
            given_time(since, from);
            given_time(until, to);
            if (given & 1 && since > now)
                printf("No usage: --since %s is in the future.\n", from);
            else if (given)
                printf("No job of queue %s had an attempt that ended %s%s%s%s.\n",
                       cli_arn_name(queue), given & 1 ? "from " : "", given & 1 ? from : "",
                       given == 3 ? " up to " : given & 2 ? "before " : "",
                       given & 2 ? to : "");
            else
                printf("Queue %s has no jobs to sum up.\n", cli_arn_name(queue));
        } else {
            static const char *const headers[] = {"GROUP", "JOBS", "VCPU-S", "MEM-GIB-S",
                                                  "CPU-S", "PEAK-MIB"};
            cli_table t;
            cli_table_init(&t, 6, headers);
            for (size_t i = 0; i < n; i++) {
                char jobs[24], v[40], m[40], cpu[40], peak[40];
                snprintf(jobs, sizeof jobs, "%lld", gs[i].jobs);
                figure(v, sizeof v, gs[i].vcpu_s);
                figure(m, sizeof m, gs[i].gib_s);
                figure(cpu, sizeof cpu, gs[i].cpu_s);
                figure(peak, sizeof peak, gs[i].peak / 1048576.0);
                /* A tag's value is anyone's text: no escape sequence reaches the terminal;
                 * and one that reads as the untagged group, as nothing, or as such a value
                 * quoted, is shown in quotes. */
                const char *k = gs[i].key;
                char *key = !k ? xstrdup(UNTAGGED)
                            : !*k || !strcmp(k, UNTAGGED) || *k == '"' ? xasprintf("\"%s\"", k)
                                                                       : xstrdup(k);
                cli_text_plain(key);
                const char *row[] = {key, jobs, v, m, cpu, peak};
                cli_table_add(&t, row);
                free(key);
            }
            buf b = {0};
            /* On a terminal, a long group key gives way to the figures. */
            cli_table_fit(&t, 0, cli_term_width(STDOUT_FILENO));
            cli_table_render(&t, &b);
            fwrite(b.data, 1, b.len, stdout);
            free(b.data);
            cli_table_free(&t);
        }
        json_decref(out);
    }
    for (size_t i = 0; i < n; i++) free(gs[i].key);
    dict_free(&all.at);
    free(all.all);
    cli_ctx_close(&c);
    return rc;
}
