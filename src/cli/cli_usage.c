/* cli_usage — `barge usage`: what a queue's jobs reserved and used (their descriptions' barge.usage:
 * vCPU-seconds and memory GiB-seconds held, CPU seconds used, the peak of memory), summed by job
 * definition, by the value of a tag, or for the whole queue. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "cli/cli_cmd.h"
#include "cli/cli_text.h"

static const char usage_help[] =
    "usage: barge usage --queue Q [--by definition|queue|tag:KEY]\n"
    "\n"
    "Sums what the queue's jobs held and used over all their attempts: vCPU-seconds and memory\n"
    "GiB-seconds reserved (what they cost the compute environments), CPU seconds used and the\n"
    "largest peak of memory, as their agents measured them.  Array jobs count through their\n"
    "children.  Grouped by job definition (the default), by the value of a tag (jobs without\n"
    "it are under \"-\"), or not at all (queue).\n"
    "\n"
    "options:\n"
    "  --queue Q              the job queue (name or ARN)\n"
    "  --by definition|queue|tag:KEY   how to group (default definition)\n"
    "\n" CLI_COMMON_HELP;

typedef struct group {
    char *key;
    long long jobs;
    double vcpu_s, gib_s, cpu_s;
    long long peak;
} group;

static group *group_of(group **gs, size_t *n, const char *key)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*gs)[i].key, key) == 0) return &(*gs)[i];
    *gs = xrealloc(*gs, (*n + 1) * sizeof **gs);
    (*gs)[*n] = (group){.key = xstrdup(key)};
    return &(*gs)[(*n)++];
}

static char *key_of(json_t *job, const char *by)
{
    if (strcmp(by, "queue") == 0)
        return xstrdup(cli_arn_name(json_string_value(json_object_get(job, "jobQueue")) ?: "-"));
    if (strncmp(by, "tag:", 4) == 0) {
        const char *v = json_string_value(json_object_get(json_object_get(job, "tags"), by + 4));
        return xstrdup(v ? v : "-");
    }
    const char *def =
        cli_arn_name(json_string_value(json_object_get(job, "jobDefinition")) ?: "-");
    return xstrndup(def, strcspn(def, ":"));
}

static void add(group *g, json_t *job)
{
    json_t *u = json_object_get(json_object_get(job, "barge"), "usage");
    g->jobs++;
    g->vcpu_s += json_number_value(json_object_get(u, "vcpuSeconds"));
    g->gib_s += json_number_value(json_object_get(u, "memoryGiBSeconds"));
    g->cpu_s += json_number_value(json_object_get(u, "cpuSeconds"));
    long long m = (long long)json_integer_value(json_object_get(u, "maxMemoryBytes"));
    if (m > g->peak) g->peak = m;
}

/* Describes ids (up to 100 at once) and adds each job, or each array job's children, to its
 * group. */
static int describe_into(cli_ctx *c, json_t *ids, const char *by, group **gs, size_t *n)
{
    json_t *resp;
    json_t *req = json_pack("{s:O}", "jobs", ids);
    int rc = cli_batch(c, "DescribeJobs", req, &resp);
    json_decref(req);
    if (rc) return rc;
    json_t *job;
    size_t i;
    json_array_foreach(json_object_get(resp, "jobs"), i, job) {
        json_t *ap = json_object_get(job, "arrayProperties");
        long long size = cli_int(ap, "size");
        if (json_object_get(ap, "statusSummary") && size > 0) {
            /* An array job ran nothing itself: its children did, 100 described at a time. */
            const char *id = json_string_value(json_object_get(job, "jobId")) ?: "";
            for (long long k = 0; k < size && !rc; k += 100) {
                json_t *kids = json_array();
                for (long long x = k; x < size && x < k + 100; x++)
                    json_array_append_new(kids, json_sprintf("%s:%lld", id, x));
                rc = describe_into(c, kids, by, gs, n);
                json_decref(kids);
            }
            continue;
        }
        char *key = key_of(job, by);
        add(group_of(gs, n, key), job);
        free(key);
    }
    json_decref(resp);
    return rc;
}

int cli_usage(int argc, char **argv)
{
    enum { O_QUEUE = 256, O_BY };
    static const struct option opts[] = {
        {"queue", required_argument, NULL, O_QUEUE},
        {"by", required_argument, NULL, O_BY},
        CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    cli_ctx c;
    cli_ctx_init(&c, "barge usage");
    const char *queue = NULL, *by = "definition";
    int o;
    opterr = 0;
    optind = 1;
    while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (cli_common_option(&c, o, optarg)) continue;
        switch (o) {
        case 'h': fputs(usage_help, stdout); return 0;
        case O_QUEUE: queue = optarg; break;
        case O_BY: by = optarg; break;
        default: return cli_option_error(&c, o, argv);
        }
    }
    if (strcmp(by, "definition") != 0 && strcmp(by, "queue") != 0 &&
        !(strncmp(by, "tag:", 4) == 0 && by[4]))
        return cli_usage_error(&c, "--by must be definition, queue or tag:KEY (got '%s')", by);
    if (!queue) return cli_usage_error(&c, "--queue is required (the job queue to sum up)");
    if (optind != argc) return cli_usage_error(&c, "unexpected argument '%s'", argv[optind]);
    int rc = cli_ctx_open(&c);
    if (rc) return rc;
    /* Finished jobs: their attempts are all counted. */
    int wanted[7] = {0, 0, 0, 0, 0, 1, 1};
    json_t *list = json_array(), *seen = json_object();
    json_t *req = json_pack("{s:s}", "jobQueue", queue);
    for (int k = 5; k < 7 && !rc; k++) {
        json_object_set_new(req, "jobStatus", json_string(cli_job_statuses[k]));
        json_object_del(req, "nextToken");
        rc = cli_list_jobs(&c, req, wanted, seen, list);
    }
    json_decref(req);
    json_decref(seen);
    group *gs = NULL;
    size_t n = 0;
    for (size_t k = 0; k < json_array_size(list) && !rc; k += 100) {
        json_t *ids = json_array();
        for (size_t x = k; x < json_array_size(list) && x < k + 100; x++)
            json_array_append(ids, json_object_get(json_array_get(list, x), "jobId"));
        rc = describe_into(&c, ids, by, &gs, &n);
        json_decref(ids);
    }
    json_decref(list);
    if (!rc) {
        json_t *out = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(out, json_pack("{s:s, s:I, s:f, s:f, s:f, s:I}", "group",
                                                 gs[i].key, "jobs", (json_int_t)gs[i].jobs,
                                                 "vcpuSeconds", gs[i].vcpu_s,
                                                 "memoryGiBSeconds", gs[i].gib_s, "cpuSeconds",
                                                 gs[i].cpu_s, "maxMemoryBytes",
                                                 (json_int_t)gs[i].peak));
        if (c.json) {
            cli_print_json(out);
        } else {
            static const char *const headers[] = {"GROUP", "JOBS", "VCPU-S", "MEM-GIB-S",
                                                  "CPU-S", "PEAK-MIB"};
            cli_table t;
            cli_table_init(&t, 6, headers);
            for (size_t i = 0; i < n; i++) {
                char jobs[24], v[32], m[32], cpu[32], peak[32];
                snprintf(jobs, sizeof jobs, "%lld", gs[i].jobs);
                snprintf(v, sizeof v, "%.1f", gs[i].vcpu_s);
                snprintf(m, sizeof m, "%.1f", gs[i].gib_s);
                snprintf(cpu, sizeof cpu, "%.1f", gs[i].cpu_s);
                snprintf(peak, sizeof peak, "%.1f", gs[i].peak / 1048576.0);
                const char *row[] = {gs[i].key, jobs, v, m, cpu, peak};
                cli_table_add(&t, row);
            }
            buf b = {0};
            cli_table_render(&t, &b);
            fwrite(b.data, 1, b.len, stdout);
            free(b.data);
            cli_table_free(&t);
        }
        json_decref(out);
    }
    for (size_t i = 0; i < n; i++) free(gs[i].key);
    free(gs);
    cli_ctx_close(&c);
    return rc;
}
