/* jobdef_check — the rules of RegisterJobDefinition beyond the types that the schema checks.
 *
 * The rules are AWS Batch's, from its API reference and user guide: what a container must
 * name (an image, a vCPU and a memory requirement), what does not apply on Fargate, the retry
 * patterns, the timeout minimum, the node ranges of multi-node definitions.  The members that
 * reach into the instance (privileged, user, volumes, devices) have their rules in
 * jobdef_host.c.  Every message names the member at fault by its path, so the caller can find it
 * in a large definition. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/catalog.h"
#include "common/imageref.h"
#include "common/mem.h"
#include "server/model/config.h"
#include "server/api/api.h"
#include "server/api/jobdef.h"
#include "server/api/jobdef_host.h"

/* Values that are plain numbers for the checks are bounded so that every consumer may hold
 * them in an int. */
#define MAX_WHOLE 2147483647LL

static const char *const ulimit_names[] = {
    "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
    "rss", "rtprio", "rttime", "sigpending", "stack", NULL};

static const char *const os_families[] = {
    "LINUX", "WINDOWS_SERVER_2019_CORE", "WINDOWS_SERVER_2019_FULL",
    "WINDOWS_SERVER_2022_CORE", "WINDOWS_SERVER_2022_FULL", NULL};

static int in_list(const char *v, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(v, *list) == 0) return 1;
    return 0;
}

void jobdef_define_shapes(void)
{
    schema_define("EnvironmentVariables", "[{name:s, value:s}]");
    schema_define("ResourceRequirements", "[{value:s!, type:e(GPU|VCPU|MEMORY)!}]");
    schema_define("SecretList", "[{name:s!, valueFrom:s!}]");
    /* SubmitJob's, and each node range's in a multi-node job's nodeOverrides. */
    schema_define("ContainerOverrides",
                  "{vcpus:" API_VCPUS_SHAPE ", memory:i, command:[s], instanceType:s,"
                  " environment:@EnvironmentVariables, resourceRequirements:@ResourceRequirements}");
    schema_define("Volumes",
                  "[{host:{sourcePath:s}, name:s,"
                  " efsVolumeConfiguration:{fileSystemId:s!, rootDirectory:s,"
                  "  transitEncryption:e(ENABLED|DISABLED), transitEncryptionPort:i(0..65535),"
                  "  authorizationConfig:{accessPointId:s, iam:e(ENABLED|DISABLED)}},"
                  " s3filesVolumeConfiguration:{fileSystemArn:s!, rootDirectory:s,"
                  "  transitEncryptionPort:i(0..65535), accessPointArn:s}}]");
    schema_define("MountPoints", "[{containerPath:s, readOnly:b, sourceVolume:s}]");
    /* -1 is unlimited, as ECS and Docker take it (AWS Batch's EFA example: memlock -1). */
    schema_define("Ulimits",
                  "[{hardLimit:i(-1..2147483647)!, name:s!, softLimit:i(-1..2147483647)!}]");
    schema_define("LinuxParameters",
                  "{devices:[{hostPath:s!, containerPath:s, permissions:[e(READ|WRITE|MKNOD)]}],"
                  " initProcessEnabled:b, sharedMemorySize:i,"
                  " tmpfs:[{containerPath:s!, size:i!, mountOptions:[s]}],"
                  " maxSwap:i, swappiness:i}");
    schema_define("LogConfiguration",
                  "{logDriver:e(json-file|syslog|journald|gelf|fluentd|awslogs|splunk|"
                  "awsfirelens)!, options:m<s>, secretOptions:@SecretList}");
    schema_define("NetworkConfiguration", "{assignPublicIp:e(ENABLED|DISABLED)}");
    schema_define("EphemeralStorage", "{sizeInGiB:i!}");
    schema_define("RuntimePlatform", "{operatingSystemFamily:s, cpuArchitecture:s}");
    schema_define("ContainerProperties",
                  "{image:s, vcpus:" API_VCPUS_SHAPE ", memory:i, command:[s], jobRoleArn:s,"
                  " executionRoleArn:s,"
                  " volumes:@Volumes, environment:@EnvironmentVariables,"
                  " mountPoints:@MountPoints, readonlyRootFilesystem:b, privileged:b,"
                  " ulimits:@Ulimits, user:s, instanceType:s,"
                  " resourceRequirements:@ResourceRequirements,"
                  " linuxParameters:@LinuxParameters, logConfiguration:@LogConfiguration,"
                  " secrets:@SecretList, networkConfiguration:@NetworkConfiguration,"
                  " fargatePlatformConfiguration:{platformVersion:s}, enableExecuteCommand:b,"
                  " ephemeralStorage:@EphemeralStorage, runtimePlatform:@RuntimePlatform,"
                  " repositoryCredentials:{credentialsParameter:s!}}");
    /* action is a plain string here: AWS accepts it in any case, which an enumeration would
     * refuse; and optional, as a rule with nothing in it is dropped: jobdef_check_retry checks
     * both. */
    schema_define("RetryStrategy",
                  "{attempts:i(1..10), evaluateOnExit:[{onStatusReason:s, onReason:s, onExitCode:s,"
                  " action:s}]}");
    schema_define("JobTimeout", "{attemptDurationSeconds:i}");
    /* ECS and EKS properties are taken as anything so that the handler can refuse them with a
     * sentence rather than a type error about a member barge never reads. */
    schema_define("NodeProperties",
                  "{numNodes:i!, mainNode:i!, nodeRangeProperties:[{targetNodes:s!,"
                  " container:@ContainerProperties, instanceTypes:[s], ecsProperties:*,"
                  " eksProperties:*, consumableResourceProperties:*}]!}");
}

/* Numbers -------------------------------------------------------------------------------- */

/* A whole number written with digits only, as AWS wants resource values on EC2. */
static int parse_whole(const char *s, long long *out)
{
    if (!*s || strlen(s) > 10) return -1;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p)) return -1;
    long long v = strtoll(s, NULL, 10);
    if (v > MAX_WHOLE) return -1;
    *out = v;
    return 0;
}

/* A decimal number such as "0.25" or "2": digits, at most one point, digits. */
static int parse_decimal(const char *s, double *out)
{
    int digits = 0, points = 0;
    if (strlen(s) > 16) return -1;
    for (const char *p = s; *p; p++) {
        if (isdigit((unsigned char)*p)) digits++;
        else if (*p == '.' && points == 0) points++;
        else return -1;
    }
    if (!digits) return -1;
    *out = strtod(s, NULL);
    return 0;
}

/* Fargate's vCPU steps and, for each, the memory sizes (MiB) it can have: from `lo` to `hi`
 * in steps of `step`, as the ResourceRequirement reference lists them.  0.25 vCPU is the one
 * step that is not a run (512, 1024 or 2048); fargate_pair_valid treats it apart. */
static const struct {
    double vcpu;
    long long lo, hi, step;
} fargate_sizes[] = {
    {0.25, 512, 2048, 0},   {0.5, 1024, 4096, 1024},  {1, 2048, 8192, 1024},
    {2, 4096, 16384, 1024}, {4, 8192, 30720, 1024},   {8, 16384, 61440, 4096},
    {16, 32768, 122880, 8192},
};
#define N_FARGATE (sizeof fargate_sizes / sizeof fargate_sizes[0])

static int fargate_step(double v)
{
    for (size_t i = 0; i < N_FARGATE; i++)
        if (fabs(fargate_sizes[i].vcpu - v) < 1e-9) return (int)i;
    return -1;
}

static int fargate_pair_valid(double vcpu, long long mem)
{
    int i = fargate_step(vcpu);
    if (i < 0) return 0;
    if (fargate_sizes[i].step == 0) return mem == 512 || mem == 1024 || mem == 2048;
    return mem >= fargate_sizes[i].lo && mem <= fargate_sizes[i].hi &&
           (mem - fargate_sizes[i].lo) % fargate_sizes[i].step == 0;
}

/* The memory sizes a Fargate vCPU step allows, as a short phrase. */
static void fargate_memory_hint(double vcpu, char *out, size_t n)
{
    int i = fargate_step(vcpu);
    if (i < 0) snprintf(out, n, "(none)");
    else if (fargate_sizes[i].step == 0) snprintf(out, n, "512, 1024 or 2048");
    else
        snprintf(out, n, "%lld to %lld in steps of %lld", fargate_sizes[i].lo,
                 fargate_sizes[i].hi, fargate_sizes[i].step);
}

void jobdef_resources(json_t *container, double *vcpus, long long *memory_mib, long long *gpus)
{
    *vcpus = 0;
    *memory_mib = 0;
    *gpus = 0;
    int have_v = 0, have_m = 0;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(container, "resourceRequirements"), i, r) {
        const char *type = api_str(r, "type"), *value = api_str(r, "value");
        if (!type || !value) continue;
        if (strcmp(type, "VCPU") == 0) {
            *vcpus = strtod(value, NULL);
            have_v = 1;
        } else if (strcmp(type, "MEMORY") == 0) {
            *memory_mib = strtoll(value, NULL, 10);
            have_m = 1;
        } else if (strcmp(type, "GPU") == 0) {
            *gpus = strtoll(value, NULL, 10);
        }
    }
    if (!have_v) *vcpus = (double)api_int(container, "vcpus", 0);
    if (!have_m) *memory_mib = api_int(container, "memory", 0);
}

/* Shared checks -------------------------------------------------------------------------- */

int jobdef_check_requirements(api_ctx *c, json_t *reqs, int fargate, const char *field)
{
    int seen_v = 0, seen_m = 0, seen_g = 0;
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r) {
        const char *type = api_str(r, "type"), *value = api_str(r, "value");
        int *seen = strcmp(type, "VCPU") == 0 ? &seen_v : strcmp(type, "MEMORY") == 0 ? &seen_m
                                                                                       : &seen_g;
        if (*seen)
            return api_client_error(c, "%s[%zu].type: %s is given more than once; give each "
                                       "resource type once", field, i, type);
        *seen = 1;
        long long whole;
        double dec;
        if (strcmp(type, "VCPU") == 0) {
            if (fargate) {
                if (parse_decimal(value, &dec) < 0 || fargate_step(dec) < 0)
                    return api_client_error(c, "%s[%zu].value: '%.32s' is not a Fargate vCPU "
                                               "value; use one of 0.25, 0.5, 1, 2, 4, 8 or 16",
                                            field, i, value);
            } else if (parse_whole(value, &whole) < 0 || whole < 1 || whole > API_MAX_VCPUS) {
                return api_client_error(c, "%s[%zu].value: '%.32s' is not a valid VCPU value on "
                                           "EC2; give a whole number of vCPUs, at least 1 and at "
                                           "most %d (for example \"2\")", field, i, value,
                                        API_MAX_VCPUS);
            }
        } else if (strcmp(type, "MEMORY") == 0) {
            if (parse_whole(value, &whole) < 0 || whole < 4)
                return api_client_error(c, "%s[%zu].value: '%.32s' is not a valid MEMORY value; "
                                           "give a whole number of MiB, at least 4 (for example "
                                           "\"2048\")", field, i, value);
        } else {
            if (fargate)
                return api_client_error(c, "%s[%zu]: GPUs are not available on Fargate "
                                           "resources; remove the GPU requirement or use EC2",
                                        field, i);
            if (parse_whole(value, &whole) < 0)
                return api_client_error(c, "%s[%zu].value: '%.32s' is not a valid GPU value; "
                                           "give a whole number of GPUs (for example \"1\")",
                                        field, i, value);
        }
    }
    return 0;
}

int jobdef_check_environment(api_ctx *c, json_t *env, const char *field)
{
    size_t i;
    json_t *kv;
    json_array_foreach(env, i, kv) {
        const char *name = api_str(kv, "name");
        if (!name || !*name)
            return api_client_error(c, "%s[%zu].name: every environment variable needs a "
                                       "name", field, i);
        /* The agent can set no such variable ("A=B" would be A, of value "B=..."): it was
         * accepted, described, and left out of the job's environment with a word in the
         * agent's log alone. */
        if (strchr(name, '='))
            return api_client_error(c, "%s[%zu].name: '%.64s' holds '=', which no environment "
                                       "variable's name can (it separates the name from the "
                                       "value); rename it", field, i, name);
        if (strncmp(name, "AWS_BATCH", 9) == 0)
            return api_client_error(c, "%s[%zu].name: '%.64s' starts with AWS_BATCH, which is "
                                       "reserved for the variables AWS Batch sets; rename it",
                                    field, i, name);
    }
    return 0;
}

int jobdef_check_command(api_ctx *c, json_t *cmd, const char *field)
{
    size_t i;
    json_t *arg;
    json_array_foreach(cmd, i, arg)
        if (json_string_length(arg) == 0)
            return api_client_error(c, "%s[%zu]: Command cannot be empty: AWS Batch refuses an "
                                       "empty string in a command; leave the argument out",
                                    field, i);
    return 0;
}

const char *jobdef_retry_action(const char *action)
{
    if (!action) return NULL;
    if (strcasecmp(action, "RETRY") == 0) return "RETRY";
    if (strcasecmp(action, "EXIT") == 0) return "EXIT";
    return NULL;
}

/* An evaluateOnExit pattern: up to 512 characters, an optional '*' only at the end; exit-code
 * patterns hold digits, the others letters, digits, white space, periods and colons. */
static int check_pattern(api_ctx *c, const char *v, int exit_code, const char *field)
{
    size_t n = strlen(v);
    if (n == 0)
        return api_client_error(c, "%s: must not be empty; use \"*\" to match anything, or "
                                   "leave the condition out", field);
    if (n > 512)
        return api_client_error(c, "%s: at most 512 characters (got %zu)", field, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch == '*' && i == n - 1) break;
        int ok = exit_code ? isdigit(ch)
                           : (isalnum(ch) || ch == ' ' || ch == '\t' || ch == '.' || ch == ':');
        if (ok) continue;
        if (ch == '*')
            return api_client_error(c, "%s: '%.64s' has '*' before the end; a '*' may only end "
                                       "the pattern", field, v);
        if (exit_code)
            return api_client_error(c, "%s: '%.64s' may hold only digits, optionally ending "
                                       "with '*'", field, v);
        return api_client_error(c, "%s: '%.64s' may hold only letters, digits, white space, "
                                   "periods and colons, optionally ending with '*' (found '%c')",
                                field, v, isprint(ch) ? ch : '?');
    }
    return 0;
}

int jobdef_check_retry(api_ctx *c, json_t *retry, const char *field)
{
    if (!retry) return 0;
    json_t *attempts = json_object_get(retry, "attempts");
    if (attempts && (json_integer_value(attempts) < 1 || json_integer_value(attempts) > 10))
        return api_client_error(c, "%s.attempts: must be between 1 and 10 (got %lld)", field,
                                (long long)json_integer_value(attempts));
    json_t *rules = json_object_get(retry, "evaluateOnExit");
    size_t given = 0;
    for (size_t k = 0; k < json_array_size(rules); k++)
        given += json_object_size(json_array_get(rules, k)) > 0;
    if (given > 5)
        return api_client_error(c, "%s.evaluateOnExit: at most 5 conditions are allowed (got "
                                   "%zu)", field, given);
    size_t i;
    json_t *rule;
    json_array_foreach(rules, i, rule) {
        char f[200];
        if (!json_object_size(rule)) continue; /* dropped below */
        const char *action = api_str(rule, "action");
        if (!action)
            return api_client_error(c, "%s.evaluateOnExit[%zu].action: this field is required "
                                       "(RETRY or EXIT)", field, i);
        if (!jobdef_retry_action(action))
            return api_client_error(c, "%s.evaluateOnExit[%zu].action: '%.32s' is not RETRY or "
                                       "EXIT", field, i, action);
        static const char *const members[] = {"onStatusReason", "onReason", "onExitCode", NULL};
        for (const char *const *m = members; *m; m++) {
            const char *v = api_str(rule, *m);
            if (!v) continue;
            snprintf(f, sizeof f, "%s.evaluateOnExit[%zu].%s", field, i, *m);
            if (check_pattern(c, v, strcmp(*m, "onExitCode") == 0, f) < 0) return -1;
        }
    }
    /* A rule with nothing in it is dropped: Cromwell sends [{}] whenever it retries without
     * rules of its own (its default), meaning "retry up to attempts", which is what no rule
     * does.  A rule with conditions still needs its action (above). */
    for (size_t k = json_array_size(rules); k-- > 0;)
        if (!json_object_size(json_array_get(rules, k))) json_array_remove(rules, k);
    return 0;
}

int jobdef_check_timeout(api_ctx *c, json_t *timeout, const char *field)
{
    json_t *secs = json_object_get(timeout, "attemptDurationSeconds");
    if (!secs) return 0;
    /* AWS's minimum is 60 seconds; developer mode lowers it so that tests of timeouts run
     * quickly. */
    json_int_t min = barge_cfg.dev ? 1 : 60;
    if (json_integer_value(secs) < min)
        return api_client_error(
            c, "%s.attemptDurationSeconds: must be at least %lld second%s (got %lld)%s", field,
            (long long)min, min == 1 ? "" : "s", (long long)json_integer_value(secs),
            barge_cfg.dev ? "" : "; a server started with --dev accepts 1 second or more");
    return 0;
}

/* Containers ----------------------------------------------------------------------------- */

static int check_image(api_ctx *c, const char *image, const char *field)
{
    size_t n = strlen(image);
    if (n < 1 || n > 255)
        return api_client_error(c, "%s.image: must be 1 to 255 characters long (got %zu)", field,
                                n);
    /* Read as the agent will pull it: what no registry could serve is refused now rather than
     * failing every attempt with CannotPullContainerError (docs/decisions.md). */
    imageref ref;
    const char *why = imageref_parse(image, &ref);
    if (why)
        return api_client_error(c, "%s.image: '%.64s' is not an image reference: %s; write it as "
                                   "Docker does, for example busybox, myorg/app:1.2 or "
                                   "registry.example.com:5000/app@sha256:<digest>",
                                field, image, why);
    imageref_free(&ref);
    return 0;
}

/* The value of the first requirement of a type, or NULL. */
static const char *requirement(json_t *cp, const char *type)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(cp, "resourceRequirements"), i, r)
        if (strcmp(api_str(r, "type"), type) == 0) return api_str(r, "value");
    return NULL;
}

int jobdef_check_fargate_overrides(api_ctx *c, json_t *def_container, json_t *overrides,
                                   const char *field)
{
    const char *ov = requirement(overrides, "VCPU"), *om = requirement(overrides, "MEMORY");
    if (!ov && !om) return 0;
    const char *rv = ov ? ov : requirement(def_container, "VCPU");
    const char *rm = om ? om : requirement(def_container, "MEMORY");
    if (!rv || !rm || fargate_pair_valid(strtod(rv, NULL), strtoll(rm, NULL, 10))) return 0;
    char hint[64];
    fargate_memory_hint(strtod(rv, NULL), hint, sizeof hint);
    return api_client_error(c, "%s: Fargate resource requirements (%s vCPU%s, %s MiB%s) are not "
                               "valid; with %s vCPU the memory must be %s MiB", field, rv,
                            ov ? "" : " from the job definition", rm,
                            om ? "" : " from the job definition", rv, hint);
}

/* node: the container of a multi-node range, which may leave the image and the resources to
 * another range covering the same nodes and may name an instance type. */
static int check_container(api_ctx *c, json_t *cp, int fargate, int node, const char *field)
{
    const char *image = api_str(cp, "image");
    if (image && check_image(c, image, field) < 0) return -1;
    json_t *vcpus = json_object_get(cp, "vcpus"), *memory = json_object_get(cp, "memory");
    if (fargate && vcpus)
        return api_client_error(c, "%s.vcpus: not applicable for Fargate; use "
                                   "resourceRequirements with type VCPU instead", field);
    if (fargate && memory)
        return api_client_error(c, "%s.memory: not applicable for Fargate; use "
                                   "resourceRequirements with type MEMORY instead", field);
    if (vcpus && json_integer_value(vcpus) < 1)
        return api_client_error(c, "%s.vcpus: must be at least 1 (got %lld)", field,
                                (long long)json_integer_value(vcpus));
    if (memory && json_integer_value(memory) < 4)
        return api_client_error(c, "%s.memory: must be at least 4 MiB (got %lld)", field,
                                (long long)json_integer_value(memory));
    char f[200];
    snprintf(f, sizeof f, "%s.resourceRequirements", field);
    if (jobdef_check_requirements(c, json_object_get(cp, "resourceRequirements"), fargate, f) < 0)
        return -1;
    /* Both forms may be given, as some tools do, but must then say the same thing. */
    const char *rv = requirement(cp, "VCPU"), *rm = requirement(cp, "MEMORY");
    if (rv && vcpus && strtod(rv, NULL) != (double)json_integer_value(vcpus))
        return api_client_error(c, "%s.vcpus: %lld contradicts the VCPU requirement \"%s\" in "
                                   "resourceRequirements; give the vCPUs once, in "
                                   "resourceRequirements", field,
                                (long long)json_integer_value(vcpus), rv);
    if (rm && memory && strtoll(rm, NULL, 10) != json_integer_value(memory))
        return api_client_error(c, "%s.memory: %lld contradicts the MEMORY requirement \"%s\" in "
                                   "resourceRequirements; give the memory once, in "
                                   "resourceRequirements", field,
                                (long long)json_integer_value(memory), rm);
    if (!node) {
        if (!image)
            return api_client_error(c, "%s.image: required; give the container image to run "
                                       "(for example \"busybox\" or "
                                       "\"public.ecr.aws/docker/library/python:3.12\")", field);
        if (!rv && !vcpus)
            return api_client_error(c, "%s.resourceRequirements: vCPU is not provided; add "
                                       "{\"type\": \"VCPU\", \"value\": \"1\"}%s", field,
                                    fargate ? "" : " (or the older vcpus member)");
        if (!rm && !memory)
            return api_client_error(c, "%s.resourceRequirements: memory is not provided; add "
                                       "{\"type\": \"MEMORY\", \"value\": \"2048\"}%s", field,
                                    fargate ? "" : " (or the older memory member)");
    }
    if (fargate && rv && rm && !fargate_pair_valid(strtod(rv, NULL), strtoll(rm, NULL, 10))) {
        char hint[64];
        fargate_memory_hint(strtod(rv, NULL), hint, sizeof hint);
        return api_client_error(c, "%s.resourceRequirements: Fargate resource requirements "
                                   "(%s vCPU, %s MiB) are not valid; with %s vCPU the memory "
                                   "must be %s MiB", field, rv, rm, rv, hint);
    }
    snprintf(f, sizeof f, "%s.environment", field);
    if (jobdef_check_environment(c, json_object_get(cp, "environment"), f) < 0) return -1;
    if (jobdef_check_host(c, cp, fargate, field) < 0) return -1;
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(cp, "ulimits"), i, u) {
        if (fargate)
            return api_client_error(c, "%s.ulimits: does not apply to jobs on Fargate "
                                       "resources; remove it", field);
        if (!in_list(api_str(u, "name"), ulimit_names))
            return api_client_error(c, "%s.ulimits[%zu].name: '%.32s' is not a ulimit; use one "
                                       "of core, cpu, data, fsize, locks, memlock, msgqueue, "
                                       "nice, nofile, nproc, rss, rtprio, rttime, sigpending, "
                                       "stack", field, i, api_str(u, "name"));
        /* Compared as unsigned, so that -1 (unlimited) is above every other. */
        if ((unsigned long long)api_int(u, "softLimit", 0) >
            (unsigned long long)api_int(u, "hardLimit", 0))
            return api_client_error(c, "%s.ulimits[%zu].softLimit: must not exceed hardLimit "
                                       "(-1 is unlimited)", field, i);
    }
    const char *driver = api_str(json_object_get(cp, "logConfiguration"), "logDriver");
    if (fargate && driver && strcmp(driver, "awslogs") != 0 && strcmp(driver, "splunk") != 0)
        return api_client_error(c, "%s.logConfiguration.logDriver: jobs on Fargate resources "
                                   "may use only awslogs or splunk (got %s)", field, driver);
    if (jobdef_check_log_configuration(c, json_object_get(cp, "logConfiguration"), field) < 0)
        return -1;
    const char *itype = api_str(cp, "instanceType");
    if (itype && !node)
        return api_client_error(c, "%s.instanceType: applies only to the containers of "
                                   "multi-node parallel job definitions; remove it", field);
    if (itype && !catalog_find(itype))
        return api_client_error(c, "%s.instanceType: '%.64s' is not an instance type barge "
                                   "knows (for example m5.large)", field, itype);
    if (!fargate) {
        if (json_object_get(cp, "networkConfiguration"))
            return api_client_error(c, "%s.networkConfiguration: applies only to jobs on "
                                       "Fargate resources; remove it or set platformCapabilities "
                                       "to [\"FARGATE\"]", field);
        if (json_object_get(cp, "fargatePlatformConfiguration"))
            return api_client_error(c, "%s.fargatePlatformConfiguration: applies only to jobs on "
                                       "Fargate resources; remove it or set platformCapabilities "
                                       "to [\"FARGATE\"]", field);
    }
    json_t *eph = json_object_get(cp, "ephemeralStorage");
    if (eph && (api_int(eph, "sizeInGiB", 0) < 21 || api_int(eph, "sizeInGiB", 0) > 200))
        return api_client_error(c, "%s.ephemeralStorage.sizeInGiB: must be between 21 and 200 "
                                   "(got %lld)", field, (long long)api_int(eph, "sizeInGiB", 0));
    json_t *rp = json_object_get(cp, "runtimePlatform");
    const char *os = api_str(rp, "operatingSystemFamily"), *arch = api_str(rp, "cpuArchitecture");
    if (os && !in_list(os, os_families))
        return api_client_error(c, "%s.runtimePlatform.operatingSystemFamily: '%.40s' is not "
                                   "one of LINUX, WINDOWS_SERVER_2019_CORE, "
                                   "WINDOWS_SERVER_2019_FULL, WINDOWS_SERVER_2022_CORE, "
                                   "WINDOWS_SERVER_2022_FULL", field, os);
    if (arch && strcmp(arch, "X86_64") != 0 && strcmp(arch, "ARM64") != 0)
        return api_client_error(c, "%s.runtimePlatform.cpuArchitecture: '%.40s' is not X86_64 "
                                   "or ARM64", field, arch);
    if (arch && os && strncmp(os, "WINDOWS", 7) == 0 && strcmp(arch, "X86_64") != 0)
        return api_client_error(c, "%s.runtimePlatform.cpuArchitecture: Windows containers "
                                   "need X86_64", field);
    return 0;
}

/* Multi-node ----------------------------------------------------------------------------- */

/* targetNodes: "N", "N:M", ":M", "N:" or ":"; an open end is the first or the last node. */
int jobdef_parse_node_range(const char *s, long long nodes, long long *lo, long long *hi)
{
    const char *colon = strchr(s, ':');
    char *end;
    if (!colon) {
        if (!isdigit((unsigned char)*s)) return -1;
        errno = 0;
        *lo = *hi = strtoll(s, &end, 10);
        return *end || errno ? -1 : 0;
    }
    *lo = 0;
    *hi = nodes - 1;
    if (colon != s) {
        if (!isdigit((unsigned char)*s)) return -1;
        errno = 0;
        *lo = strtoll(s, &end, 10);
        if (end != colon || errno) return -1;
    }
    if (colon[1]) {
        if (!isdigit((unsigned char)colon[1])) return -1;
        errno = 0;
        *hi = strtoll(colon + 1, &end, 10);
        if (*end || errno) return -1;
    }
    return 0;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static int check_nodes(api_ctx *c, json_t *np)
{
    long long nodes = api_int(np, "numNodes", 0), main_node = api_int(np, "mainNode", 0);
    json_t *ranges = json_object_get(np, "nodeRangeProperties");
    size_t n = json_array_size(ranges);
    if (nodes < 1)
        return api_client_error(c, "nodeProperties.numNodes: must be at least 1 (got %lld)",
                                nodes);
    if (nodes > barge_cfg.max_array_size)
        return api_client_error(c, "nodeProperties.numNodes: at most %d nodes (got %lld)",
                                barge_cfg.max_array_size, nodes);
    if (main_node < 0 || main_node >= nodes)
        return api_client_error(c, "nodeProperties.mainNode: must be a node index from 0 to "
                                   "numNodes-1 (%lld) (got %lld)", nodes - 1, main_node);
    if (n == 0)
        return api_client_error(c, "nodeProperties.nodeRangeProperties: give at least one node "
                                   "range");
    if (n > 5) /* AWS: "up to five distinct node groups for each job" */
        return api_client_error(c, "nodeProperties.nodeRangeProperties: at most 5 node ranges "
                                   "(got %zu)", n);
    long long *lo = xmalloc(sizeof(long long) * n), *hi = xmalloc(sizeof(long long) * n);
    long long *cuts = xmalloc(sizeof(long long) * (2 * n + 2));
    size_t ncuts = 0;
    int rc = -1;
    const char *itype = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(ranges, i, r) {
        char f[160];
        const char *target = api_str(r, "targetNodes");
        if (jobdef_parse_node_range(target, nodes, &lo[i], &hi[i]) < 0 || lo[i] > hi[i] || hi[i] >= nodes) {
            api_client_error(c, "nodeProperties.nodeRangeProperties[%zu].targetNodes: '%.32s' "
                                "is not a range of node indexes within 0 to %lld (write it as "
                                "\"0:3\", \":3\", \"4:\" or \"2\")", i, target, nodes - 1);
            goto out;
        }
        static const char *const others[] = {"ecsProperties", "eksProperties",
                                             "consumableResourceProperties", NULL};
        for (const char *const *m = others; *m; m++) {
            if (json_object_get(r, *m)) {
                api_client_error(c, "nodeProperties.nodeRangeProperties[%zu].%s: barge runs "
                                    "each node as one container and does not support %s; "
                                    "describe the node's container in container instead",
                                 i, *m, *m);
                goto out;
            }
        }
        json_t *cont = json_object_get(r, "container");
        if (!cont) {
            api_client_error(c, "nodeProperties.nodeRangeProperties[%zu].container: required; "
                                "describe the container these nodes run", i);
            goto out;
        }
        snprintf(f, sizeof f, "nodeProperties.nodeRangeProperties[%zu].container", i);
        if (check_container(c, cont, 0, 1, f) < 0) goto out;
        json_t *types = json_object_get(r, "instanceTypes");
        if (json_array_size(types) > 1) {
            api_client_error(c, "nodeProperties.nodeRangeProperties[%zu].instanceTypes: at most "
                                "one instance type (got %zu)", i, json_array_size(types));
            goto out;
        }
        const char *t = json_string_value(json_array_get(types, 0));
        if (t && !catalog_spec_valid(t)) {
            api_client_error(c, "nodeProperties.nodeRangeProperties[%zu].instanceTypes[0]: "
                                "'%.64s' is not an instance type barge knows (for example "
                                "m5.large)", i, t);
            goto out;
        }
        const char *ct = api_str(cont, "instanceType");
        if (ct && itype && strcmp(ct, itype) != 0) {
            api_client_error(c, "%s.instanceType: '%.64s' differs from '%.64s' of an earlier "
                                "range; all node groups must use the same instance type",
                             f, ct, itype);
            goto out;
        }
        if (ct) itype = ct;
        cuts[ncuts++] = lo[i];
        cuts[ncuts++] = hi[i] + 1;
    }
    /* The cut points split 0..numNodes-1 into stretches that the same ranges cover, so checking
     * one node per stretch checks them all, however many nodes there are. */
    cuts[ncuts++] = 0;
    cuts[ncuts++] = nodes;
    qsort(cuts, ncuts, sizeof cuts[0], cmp_ll);
    for (size_t k = 0; k + 1 < ncuts; k++) {
        long long node = cuts[k];
        if (node == cuts[k + 1] || node >= nodes) continue;
        int covered = 0, image = 0, vcpu = 0, memory = 0;
        json_array_foreach(ranges, i, r) {
            if (node < lo[i] || node > hi[i]) continue;
            json_t *cont = json_object_get(r, "container");
            covered = 1;
            image |= api_str(cont, "image") != NULL;
            vcpu |= requirement(cont, "VCPU") || json_object_get(cont, "vcpus");
            memory |= requirement(cont, "MEMORY") || json_object_get(cont, "memory");
        }
        if (!covered) {
            api_client_error(c, "nodeProperties.nodeRangeProperties: node %lld is in no "
                                "targetNodes range; together the ranges must cover nodes 0 to "
                                "%lld", node, nodes - 1);
            goto out;
        }
        const char *missing = !image ? "an image" : !vcpu ? "a vCPU requirement"
                              : !memory ? "a memory requirement" : NULL;
        if (missing) {
            api_client_error(c, "nodeProperties.nodeRangeProperties: no range that covers node "
                                "%lld gives its container %s; every node needs an image, a vCPU "
                                "and a memory requirement", node, missing);
            goto out;
        }
    }
    rc = 0;
out:
    free(lo);
    free(hi);
    free(cuts);
    return rc;
}

/* The request as a whole --------------------------------------------------------------- */

int jobdef_check_register(api_ctx *c, json_t *req)
{
    if (api_check_name(c, api_str(req, "jobDefinitionName"), "jobDefinitionName") < 0) return -1;
    if (json_object_get(req, "ecsProperties"))
        return api_client_error(c, "ecsProperties: barge runs each job as one container and "
                                   "does not support ECS task properties; describe the "
                                   "container in containerProperties instead");
    if (json_object_get(req, "eksProperties"))
        return api_client_error(c, "eksProperties: barge does not run jobs on Amazon EKS; "
                                   "describe the container in containerProperties instead");
    if (jobdef_check_consumables(c, json_object_get(req, "consumableResourceProperties"),
                                 "consumableResourceProperties", NULL) < 0)
        return -1;
    json_t *caps = json_object_get(req, "platformCapabilities");
    if (json_array_size(caps) > 1)
        return api_client_error(c, "platformCapabilities: give one of EC2 or FARGATE (got %zu "
                                   "entries)", json_array_size(caps));
    const char *cap = json_string_value(json_array_get(caps, 0));
    int fargate = cap && strcmp(cap, "FARGATE") == 0;
    json_t *prio = json_object_get(req, "schedulingPriority");
    if (prio && (json_integer_value(prio) < 0 || json_integer_value(prio) > 9999))
        return api_client_error(c, "schedulingPriority: must be between 0 and 9999 (got %lld)",
                                (long long)json_integer_value(prio));
    if (api_check_tags(c, json_object_get(req, "tags"), "tags") < 0) return -1;
    if (jobdef_check_retry(c, json_object_get(req, "retryStrategy"), "retryStrategy") < 0)
        return -1;
    if (jobdef_check_timeout(c, json_object_get(req, "timeout"), "timeout") < 0) return -1;
    json_t *cp = json_object_get(req, "containerProperties");
    json_t *np = json_object_get(req, "nodeProperties");
    if (strcmp(api_str(req, "type"), "container") == 0) {
        if (np)
            return api_client_error(c, "nodeProperties: applies only to multinode job "
                                       "definitions; remove it or set type to multinode");
        if (!cp)
            return api_client_error(c, "containerProperties: required for a container job "
                                       "definition; describe the container to run");
        return check_container(c, cp, fargate, 0, "containerProperties");
    }
    if (fargate)
        return api_client_error(c, "platformCapabilities: multinode job definitions cannot run "
                                   "on Fargate resources; use EC2");
    if (cp)
        return api_client_error(c, "containerProperties: a multinode job definition describes "
                                   "its containers in nodeProperties.nodeRangeProperties; "
                                   "remove it");
    if (!np)
        return api_client_error(c, "nodeProperties: required for a multinode job definition");
    return check_nodes(c, np);
}
