/* attempt_meta — see attempt_meta.h. */
#include "server/engine/attempt_meta.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "server/engine/attempt.h"
#include "server/model/arn.h"
#include "server/model/config.h"
#include "server/model/jobspec.h"
#include "server/model/registry.h"
#include "server/model/state.h"

/* AWS Batch names a job's container "default" (its log stream is PREFIX/default/TASKID). */
#define CONTAINER_NAME "default"

json_t *attempt_meta_make(struct state *st, const instance *in, const job *j, json_t *image)
{
    /* The environment's record even while it is being deleted, as attempt_task_arn reads it. */
    json_t *ce = reg_get_any(&st->ce, in->ce);
    json_t *cluster = json_object_get(ce, "ecsClusterArn");
    json_t *task = attempt_task_arn(st, j);
    /* The task definition is the job definition's: its name and revision (ARN NAME:REV). */
    const char *jd = json_string_value(jobspec_shared(j->spec, "jobDefinition"));
    char *jd_res = jd ? arn_resource(jd, ARN_JD) : NULL;
    const char *colon = jd_res ? strrchr(jd_res, ':') : NULL;
    const char *family = j->spec->jd_name ? j->spec->jd_name : "";
    json_t *labels = json_pack("{s:O*, s:s, s:O*, s:s, s:s}", "com.amazonaws.ecs.cluster", cluster,
                               "com.amazonaws.ecs.container-name", CONTAINER_NAME,
                               "com.amazonaws.ecs.task-arn", task,
                               "com.amazonaws.ecs.task-definition-family", family,
                               "com.amazonaws.ecs.task-definition-version",
                               colon ? colon + 1 : "");
    /* A container's CPU limit is in ECS's units (1,024 a vCPU); the task's in vCPUs. */
    json_t *container = json_pack(
        "{s:s, s:O*, s:o, s:s, s:s, s:{s:I, s:i}, s:s, s:s, s:{s:s, s:s, s:s}}", "Name",
        CONTAINER_NAME, "Image", image, "Labels", labels, "DesiredStatus", "RUNNING",
        "KnownStatus", "RUNNING", "Limits", "CPU", (json_int_t)j->spec->mvcpus * 1024 / 1000,
        "Memory", j->spec->memory_mib, "Type", "NORMAL", "LogDriver", "awslogs", "LogOptions",
        "awslogs-group", jobspec_log_group(j->spec), "awslogs-region", barge_cfg.region,
        "awslogs-stream", j->log_stream ? j->log_stream : "");
    if (in->address)
        json_object_set_new(container, "Networks",
                            json_pack("[{s:s, s:[s]}]", "NetworkMode", "host", "IPv4Addresses",
                                      in->address));
    json_t *ce_res = json_object_get(ce, "computeResources");
    const char *type = json_string_value(json_object_get(ce_res, "type"));
    json_t *out = json_pack(
        "{s:O*, s:o*, s:s, s:s, s:s, s:s, s:s, s:{s:f, s:i}, s:[o]}", "Cluster", cluster,
        "TaskARN", task, "Family", family, "Revision", colon ? colon + 1 : "", "DesiredStatus",
        "RUNNING", "KnownStatus", "RUNNING", "LaunchType",
        type && strncmp(type, "FARGATE", 7) == 0 ? "FARGATE" : "EC2", "Limits", "CPU",
        j->spec->mvcpus / 1000.0, "Memory", j->spec->memory_mib, "Containers", container);
    free(jd_res);
    return out;
}
