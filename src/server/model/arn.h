/* arn — AWS-shaped resource names: arn:aws:batch:REGION:ACCOUNT:KIND/NAME[:REVISION]. */
#ifndef BARGE_ARN_H
#define BARGE_ARN_H

#define ARN_CE "compute-environment"
#define ARN_JQ "job-queue"
#define ARN_JD "job-definition"
#define ARN_SP "scheduling-policy"
#define ARN_JOB "job"

/* A fresh ARN for a resource of this server's region and account. */
char *arn_make(const char *kind, const char *name);

/* If s is an ARN of the given kind (any region and account), returns a fresh copy of the part
 * after "KIND/"; otherwise NULL. */
char *arn_resource(const char *s, const char *kind);
/* Splits any batch ARN into a fresh kind and resource; returns 0, or -1 if s is not one. */
int arn_split(const char *s, char **kind, char **resource);

/* Names of compute environments, queues, definitions, policies: 1 to 128 letters, digits,
 * hyphens and underscores. */
int arn_name_valid(const char *s);
#endif
