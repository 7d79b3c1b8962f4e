/* cli_submit — the options that shape a submitted job, shared by `barge submit` and `barge run`
 * (cli_cmd.h): each fills its part of the SubmitJob request.  An option of one value given twice
 * counts the last time, as every option of one value does; so does a variable's name given twice
 * in --env or --param, and a resource type (--vcpus, --memory), whose two items the server would
 * refuse. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_cmd.h"
#include "cli/cli_text.h"

/* The containerOverrides object of req, created on first use. */
static json_t *overrides(json_t *req)
{
    json_t *o = json_object_get(req, "containerOverrides");
    if (!o) {
        o = json_object();
        json_object_set_new(req, "containerOverrides", o);
    }
    return o;
}

static json_t *member_array(json_t *obj, const char *key)
{
    json_t *a = json_object_get(obj, key);
    if (!a) {
        a = json_array();
        json_object_set_new(obj, key, a);
    }
    return a;
}

/* Puts entry (an object of a string member key) into arr in place of the item of the same key,
 * else at the end.  A resource type or a variable named again replaces what it gave before: the
 * last one counts, as for every option of one value.  Two items would be refused for a resource
 * type ("VCPU is given more than once"), and for a variable would leave which one the job gets
 * to whoever reads the list. */
static void set_by_key(json_t *arr, const char *key, json_t *entry)
{
    const char *k = json_string_value(json_object_get(entry, key));
    size_t i;
    json_t *item;
    json_array_foreach(arr, i, item)
        if (strcmp(json_string_value(json_object_get(item, key)) ?: "", k) == 0) {
            json_array_set_new(arr, i, entry);
            return;
        }
    json_array_append_new(arr, entry);
}

/* --param K=V and --env K=V: 1, or -1 after saying what is wrong.  Parameters are an object,
 * whose key given again is replaced; the environment a list, replaced by name (set_by_key). */
static int key_value_option(cli_ctx *c, int o, const char *arg, json_t *req)
{
    char *k, *v;
    if (cli_parse_kv(arg, &k, &v) < 0) {
        cli_usage_error(c, "%s '%s' is not KEY=VALUE", o == CLI_SUB_PARAM ? "--param" : "--env",
                        arg);
        return -1;
    }
    if (o == CLI_SUB_PARAM) {
        json_t *p = json_object_get(req, "parameters");
        if (!p) json_object_set_new(req, "parameters", p = json_object());
        json_object_set_new(p, k, json_string(v));
    } else {
        set_by_key(member_array(overrides(req), "environment"), "name",
                   json_pack("{s:s,s:s}", "name", k, "value", v));
    }
    free(k);
    free(v);
    return 1;
}

int cli_command_at(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) return i;
    return argc;
}

int cli_submit_finish(const cli_ctx *c, json_t *req, int at, int argc, char **argv)
{
    /* SEQUENTIAL orders an array's children: the server's refusal would name its API field. */
    size_t k;
    json_t *d;
    json_array_foreach(json_object_get(req, "dependsOn"), k, d)
        if (!json_object_get(req, "arrayProperties") && !json_object_get(d, "jobId")) {
            cli_usage_error(c, "--depends-on SEQUENTIAL runs an array's children one after "
                               "another: give --array-size N too");
            return -1;
        }
    if (at == argc) return 0;
    if (at + 1 == argc) {
        cli_usage_error(c, "`--` must be followed by the job's command");
        return -1;
    }
    /* The first word is the program to run: empty (an unset shell variable), the job would be
     * submitted and fail only once started, with `exec: ""`. */
    if (!*argv[at + 1]) {
        cli_usage_error(c, "the job's command after `--` starts with an empty word (an unset "
                           "shell variable?); its first word is the program to run: give it");
        return -1;
    }
    /* Any other empty word: AWS Batch refuses it ("Command cannot be empty"), and so does the
     * server; said here in the command line's terms. */
    for (int i = at + 2; i < argc; i++)
        if (!*argv[i]) {
            cli_usage_error(c, "word %d of the job's command after `--` is empty; AWS Batch "
                               "refuses an empty string in a command: leave it out", i - at);
            return -1;
        }
    json_t *cmd = json_array();
    for (int i = at + 1; i < argc; i++) json_array_append_new(cmd, json_string(argv[i]));
    json_object_set_new(overrides(req), "command", cmd);
    return 0;
}

int cli_submit_option(cli_ctx *c, int o, const char *arg, json_t *req)
{
    long n;
    switch (o) {
    case CLI_SUB_ARRAY:
        /* AWS Batch's range, which the server holds to: refused here rather than after the
         * other options are checked and the server is called. */
        if (cli_parse_count(arg, &n) < 0 || n < CLI_ARRAY_MIN || n > CLI_ARRAY_MAX) {
            cli_usage_error(c, "--array-size must be a whole number of children, from %d to %d "
                                "(got '%s'); leave it out for a job that is not an array",
                            CLI_ARRAY_MIN, CLI_ARRAY_MAX, arg);
            return -1;
        }
        json_object_set_new(req, "arrayProperties", json_pack("{s:I}", "size", (json_int_t)n));
        break;
    case CLI_SUB_DEP: {
        char *id;
        const char *type;
        /* No job id holds a comma: a list here would reach the server as one id it lacks. */
        if (strchr(arg, ',')) {
            cli_usage_error(c, "--depends-on '%s': give each job with a --depends-on of its own",
                            arg);
            return -1;
        }
        int parsed = cli_parse_dependency(arg, &id, &type);
        if (parsed == -2) {
            cli_usage_error(c, "--depends-on '%s': a SEQUENTIAL dependency names no job (an "
                                "array's children wait for each other); give `--depends-on "
                                "SEQUENTIAL` with --array-size", arg);
            return -1;
        }
        if (parsed < 0) {
            cli_usage_error(c, "--depends-on '%s' is not JOBID, JOBID:N_TO_N or SEQUENTIAL",
                            arg);
            return -1;
        }
        json_t *d = json_object();
        if (id) json_object_set_new(d, "jobId", json_string(id));
        if (type) json_object_set_new(d, "type", json_string(type));
        json_array_append_new(member_array(req, "dependsOn"), d);
        free(id);
        break;
    }
    case CLI_SUB_PARAM:
    case CLI_SUB_ENV: return key_value_option(c, o, arg, req);
    case CLI_SUB_VCPUS:
        /* The server's ranges (which platform the job is for is the queue's, known there). */
        if (!cli_vcpus_kind(arg)) {
            cli_usage_error(c, "--vcpus must be a whole number of vCPUs from 1 to %d for an EC2 "
                                "queue, or 0.25, 0.5, 1, 2, 4, 8 or 16 for a Fargate one (got "
                                "'%s')", CLI_VCPUS_MAX, arg);
            return -1;
        }
        set_by_key(member_array(overrides(req), "resourceRequirements"), "type",
                   json_pack("{s:s,s:s}", "type", "VCPU", "value", arg));
        break;
    case CLI_SUB_MEMORY:
        /* The server reads at most 10 digits. */
        if (cli_parse_count(arg, &n) < 0 || n < CLI_MEMORY_MIN || strlen(arg) > 10) {
            cli_usage_error(c, "--memory must be a whole number of MiB, from %d to %d (got "
                                "'%s')", CLI_MEMORY_MIN, INT_MAX, arg);
            return -1;
        }
        set_by_key(member_array(overrides(req), "resourceRequirements"), "type",
                   json_pack("{s:s,s:s}", "type", "MEMORY", "value", arg));
        break;
    case CLI_SUB_ATTEMPTS:
        if (cli_parse_count(arg, &n) < 0 || n > CLI_ATTEMPTS_MAX) {
            cli_usage_error(c, "--attempts must be a whole number, from 1 to %d (got '%s')",
                            CLI_ATTEMPTS_MAX, arg);
            return -1;
        }
        json_object_set_new(req, "retryStrategy", json_pack("{s:I}", "attempts",
                                                            (json_int_t)n));
        break;
    case CLI_SUB_TIMEOUT:
        if (cli_parse_count(arg, &n) < 0) {
            cli_usage_error(c, "--timeout must be a whole number of seconds, from 1 to %d (got "
                                "'%s')", INT_MAX, arg);
            return -1;
        }
        json_object_set_new(req, "timeout", json_pack("{s:I}", "attemptDurationSeconds",
                                                      (json_int_t)n));
        break;
    default: return 0;
    }
    return 1;
}
