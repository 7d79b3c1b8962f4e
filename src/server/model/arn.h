/* arn — AWS-shaped resource names: arn:aws:batch:REGION:ACCOUNT:KIND/NAME[:REVISION]. */
#ifndef BARGE_ARN_H
#define BARGE_ARN_H
#include "common/mem.h"

#define ARN_CE "compute-environment"
#define ARN_JQ "job-queue"
#define ARN_JD "job-definition"
#define ARN_SP "scheduling-policy"
#define ARN_JOB "job"
#define ARN_CR "consumable-resource"

/* A fresh ARN for a resource of this server's region and account. */
char *arn_make(const char *kind, const char *name);
/* The same appended to b: for texts made many times a second (events, descriptions).  Region
 * and account need no JSON escaping (server.c checks them), so neither does an ARN of a name
 * that needs none. */
void arn_put(buf *b, const char *kind, const char *name);

/* The ECS cluster behind a compute environment, as AWS Batch names it (AWSBatch-NAME-UUID), and
 * the ARN of a task in it: AWS Batch runs each attempt as an ECS task, and clients read these
 * from DescribeComputeEnvironments and DescribeJobs.  barge has no ECS, but keeps the names so
 * that an attempt's task id (the last part of its log stream's name) reads the same in both. */
char *arn_ecs_cluster(const char *ce_name, const char *ce_uuid);
char *arn_ecs_task(const char *ce_name, const char *ce_uuid, const char *task_id);

/* If s is an ARN of the given kind (any region and account), returns a fresh copy of the part
 * after "KIND/"; otherwise NULL. */
char *arn_resource(const char *s, const char *kind);
/* Splits any batch ARN into a fresh kind and resource; returns 0, or -1 if s is not one. */
int arn_split(const char *s, char **kind, char **resource);

/* Names of compute environments, queues, definitions, policies: 1 to 128 letters, digits,
 * hyphens and underscores. */
int arn_name_valid(const char *s);
#endif
