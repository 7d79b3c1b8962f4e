/* cli_fleet — `barge fleet`: the server's instances, and draining, terminating or (for Spot
 * capacity) reclaiming one, through barge's own signed operations (api/api_fleet.c). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/mem.h"
#include "cli/cli_cmd.h"
#include "cli/cli_text.h"

static const char fleet_help[] =
    "usage: barge fleet [options] [list]\n"
    "       barge fleet [options] drain|terminate|reclaim INSTANCE_ID...\n"
    "\n"
    "list (the default) shows every instance: its compute environment, type, state (STARTING,\n"
    "READY or DRAINING), vCPUs and memory used of its total, the attempts it runs and how long\n"
    "ago its agent was last heard from.  drain lets an instance's attempts finish and gives it\n"
    "no new ones; it then goes.  terminate ends an instance now: its attempts end as on a lost\n"
    "host ('Host EC2 (instance ID) terminated.') and retry as their strategies say; an\n"
    "UNMANAGED instance's agent, which runs on the operator's host, registers again at once:\n"
    "stop that agent, or revoke its join token, to take the host out.  reclaim\n"
    "takes back an instance of a SPOT environment as EC2 takes back Spot capacity (a drill).\n"
    "Under the table, each draining instance is listed with why it drains (an operator, a\n"
    "lowered maxvCpus, its compute environment being deleted).\n"
    "Needs batch:ListInstances, batch:DrainInstance, batch:TerminateInstance or\n"
    "batch:ReclaimInstance.\n"
    "\n"
    "options:\n"
    "  --compute-environment NAME   list only this environment's instances (list only)\n"
    CLI_COMMON_HELP;

static void print_instances(json_t *list)
{
    /* ADDRESS: where its agent registered from, which tells hosts apart. */
    static const char *const headers[] = {"INSTANCE", "ENVIRONMENT", "TYPE", "STATE", "ADDRESS",
                                          "VCPUS", "MEMORY MIB", "ATTEMPTS", "HEARD"};
    cli_table t;
    cli_table_init(&t, 9, headers);
    size_t i;
    json_t *in;
    json_array_foreach(list, i, in) {
        char vcpus[48], mem[48], attempts[16], heard[32] = "-";
        snprintf(vcpus, sizeof vcpus, "%g/%g", json_number_value(json_object_get(in, "vcpusUsed")),
                 json_number_value(json_object_get(in, "vcpus")));
        snprintf(mem, sizeof mem, "%lld/%lld",
                 (long long)json_integer_value(json_object_get(in, "memoryUsedMiB")),
                 (long long)json_integer_value(json_object_get(in, "memoryMiB")));
        snprintf(attempts, sizeof attempts, "%zu", json_array_size(json_object_get(in, "jobs")));
        json_t *ago = json_object_get(in, "lastHeartbeatSecondsAgo");
        if (ago) snprintf(heard, sizeof heard, "%.0fs ago", json_number_value(ago));
        const char *address = json_string_value(json_object_get(in, "address"));
        const char *row[] = {json_string_value(json_object_get(in, "instanceId")),
                             json_string_value(json_object_get(in, "computeEnvironment")),
                             json_string_value(json_object_get(in, "instanceType")),
                             json_string_value(json_object_get(in, "state")),
                             address ? address : "-", vcpus, mem, attempts, heard};
        cli_table_add(&t, row);
    }
    buf out = {0};
    /* On a terminal, a long environment name gives way to the ids, states and figures. */
    cli_table_fit(&t, 1, cli_term_width(STDOUT_FILENO));
    cli_table_render(&t, &out);
    fputs(out.data, stdout);
    buf_free(&out);
    cli_table_free(&t);
    /* Why each draining instance drains: too long for a column. */
    json_array_foreach(list, i, in) {
        const char *why = json_string_value(json_object_get(in, "drainReason"));
        if (why)
            printf("%s drains: %s\n", json_string_value(json_object_get(in, "instanceId")), why);
    }
}

/* Whether a compute environment is named ce: ListInstances answers an unknown one as one
 * without instances.  1 when it cannot tell (a policy with batch:ListInstances alone), so
 * that the table, empty, is shown as it was asked for. */
static int ce_exists(cli_ctx *c, const char *ce)
{
    json_t *req = json_pack("{s:[s]}", "computeEnvironments", ce), *resp = NULL;
    cli_error e;
    int found = 1;
    if (cli_call(c, "batch", "DescribeComputeEnvironments", req, &resp, &e) == 0)
        found = json_array_size(json_object_get(resp, "computeEnvironments")) > 0;
    else
        cli_error_free(&e);
    json_decref(req);
    json_decref(resp);
    return found;
}

int cli_fleet(int argc, char **argv)
{
    enum { O_CE = 256 };
    static const struct option opts[] = {
        {"compute-environment", required_argument, NULL, O_CE}, CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0}};
    cli_ctx c;
    cli_ctx_init(&c, "barge fleet");
    const char *ce = NULL;
    int o;
    opterr = 0;
    optind = 1;
    while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (cli_common_option(&c, o, optarg)) continue;
        if (o == O_CE) {
            ce = optarg;
            continue;
        }
        if (o == 'h') {
            fputs(fleet_help, stdout);
            return 0;
        }
        return cli_option_error(&c, o, argv, opts);
    }
    const char *verb = optind < argc ? argv[optind++] : "list";
    static const char *const verbs[][3] = {{"drain", "DrainInstance", "is draining"},
                                           {"terminate", "TerminateInstance", "terminated"},
                                           {"reclaim", "ReclaimInstance", "reclaimed"}};
    int which = -1;
    for (int v = 0; v < 3; v++)
        if (strcmp(verb, verbs[v][0]) == 0) which = v;
    if (which < 0 && strcmp(verb, "list") != 0)
        return cli_usage_error(&c, "'%s' is not list, drain, terminate or reclaim", verb);
    if (which >= 0 && optind == argc)
        return cli_usage_error(&c, "give the id of the instance to %s (barge fleet lists them)",
                               verb);
    if (which < 0 && optind < argc)
        return cli_usage_error(&c, "unexpected argument '%.200s'; `barge fleet list` takes no "
                                   "instance ids (--compute-environment NAME narrows it)",
                               argv[optind]);
    if (which >= 0 && ce)
        return cli_usage_error(&c, "--compute-environment only narrows `barge fleet list`; "
                                   "`barge fleet %s` takes instance ids alone", verb);
    if (ce && !*ce)
        return cli_usage_error(&c, "--compute-environment must not be empty (an unset shell "
                                   "variable?); give a compute environment's name, or leave it "
                                   "out for every instance");
    int rc = cli_ctx_open(&c);
    if (rc) return rc;
    if (which < 0) {
        json_t *req = ce ? json_pack("{s:s}", "computeEnvironment", ce) : json_object(), *resp;
        cli_error e;
        if (cli_call(&c, "barge", "ListInstances", req, &resp, &e) == 0) {
            json_t *list = json_object_get(resp, "instances");
            if (ce && !json_array_size(list) && !ce_exists(&c, ce)) {
                fprintf(stderr, "%s: --compute-environment: no compute environment is named "
                                "'%s'; `aws batch describe-compute-environments` lists them\n",
                        c.prog, ce);
                rc = 1;
            } else if (c.json) cli_print_json(resp);
            else print_instances(list);
            json_decref(resp);
        } else {
            cli_error_print(&c, "ListInstances", &e);
            cli_error_free(&e);
            rc = 1;
        }
        json_decref(req);
    }
    for (int i = optind; which >= 0 && i < argc && !c.gone; i++) {
        json_t *req = json_pack("{s:s}", "instanceId", argv[i]), *resp = NULL;
        cli_error e;
        if (cli_call(&c, "barge", verbs[which][1], req, &resp, &e) == 0) {
            if (c.json) cli_print_json(resp);
            else printf("Instance %s %s.\n", argv[i], verbs[which][2]);
        } else {
            cli_error_print(&c, verbs[which][1], &e);
            cli_error_free(&e);
            rc = 1;
        }
        json_decref(req);
        json_decref(resp);
    }
    cli_ctx_close(&c);
    return rc;
}
