/* jobdef — job definitions as the rest of barge sees them: lookup, resources and the checks
 * that SubmitJob shares with RegisterJobDefinition.
 *
 * Definitions live in state->jd under "name:revision"; a definition is never removed, only
 * marked INACTIVE, so revision numbers are never reused.  The named shapes defined here use the
 * names of botocore's batch model ("ContainerProperties", "RetryStrategy", "JobTimeout",
 * "ResourceRequirements", "EnvironmentVariables", ...), so other operations may reference them
 * with @Name and mean exactly the model's shape. */
#ifndef BARGE_JOBDEF_H
#define BARGE_JOBDEF_H
#include <jansson.h>

#include "server/api/api.h"

struct state;

#define JOBDEF_ACTIVE "ACTIVE"
#define JOBDEF_INACTIVE "INACTIVE"
/* Whether a definition is ACTIVE (not deregistered). */
int jobdef_is_active(json_t *jd);

/* Defines the named shapes above and applies the configured size limit of
 * RegisterJobDefinition.  api_init calls it before compiling the operations' shapes. */
void jobdef_init(void);
/* The named shapes alone (part of jobdef_init). */
void jobdef_define_shapes(void);

/* The definition that ref names: "name:revision" or its ARN gives that revision, ACTIVE or
 * INACTIVE (the caller decides what an INACTIVE one means); a bare name, or an ARN without a
 * revision, gives the latest ACTIVE revision.  Borrowed; NULL when there is none. */
json_t *jobdef_resolve(struct state *st, const char *ref);

/* Splits ref into a fresh name and a revision (0 when ref has none).  Returns 0, or -1 when ref
 * is neither "name", "name:revision" nor a job-definition ARN of either form. */
int jobdef_parse_ref(const char *ref, char **name, long *revision);

/* The VCPU, MEMORY (MiB) and GPU requirements of a container, from resourceRequirements or,
 * failing that, the older vcpus and memory members.  Absent ones give 0. */
void jobdef_resources(json_t *container, double *vcpus, long long *memory_mib, long long *gpus);

/* Checks shared with SubmitJob.  Each names the offending member under field and returns -1
 * through api_client_error, or 0. */
int jobdef_check_retry(api_ctx *c, json_t *retry, const char *field);
int jobdef_check_timeout(api_ctx *c, json_t *timeout, const char *field);
int jobdef_check_environment(api_ctx *c, json_t *env, const char *field);
/* An override's command: AWS's SubmitJob refuses an empty string in it ("Command cannot be
 * empty"), so a pipeline that passes here does not fail there. */
int jobdef_check_command(api_ctx *c, json_t *cmd, const char *field);
/* resourceRequirements: each type at most once, values that are numbers in the platform's
 * terms (whole numbers on EC2; Fargate's vCPU steps on FARGATE). */
int jobdef_check_requirements(api_ctx *c, json_t *reqs, int fargate, const char *field);
/* A Fargate job's overrides (containerOverrides) with the definition's container: the vCPU and
 * memory it would run with must be a pair Fargate offers, as the definition's own were. */
int jobdef_check_fargate_overrides(api_ctx *c, json_t *def_container, json_t *overrides,
                                   const char *field);

/* A container's logConfiguration (jobdef_logs.c): with the awslogs driver, its options. */
int jobdef_check_log_configuration(api_ctx *c, json_t *lc, const char *field);

/* consumableResourceProperties (jobdef_consumables.c).  With resolved, every resource must
 * exist and *resolved receives the properties with ARNs (fresh); without, only the form is
 * checked. */
int jobdef_check_consumables(api_ctx *c, json_t *props, const char *field, json_t **resolved);

/* A targetNodes range ("2", "0:3", ":3", "4:") of a job of nodes nodes: 0, or -1 when it is
 * not one. */
int jobdef_parse_node_range(const char *s, long long nodes, long long *lo, long long *hi);
/* The container a job runs: the definition's containerProperties with the request's
 * containerOverrides and parameters applied (fresh), or NULL after refusing a command that
 * substitution makes longer than PARAMS_COMMAND_MAX.  (api_job.c) */
json_t *jobdef_resolve_container(api_ctx *c, json_t *def, json_t *req);
/* SubmitJob of a multinode definition (jobdef_nodes.c).  jobdef_nodes_count checks what only a
 * multi-node job may and may not be given, and sets *nodes to its numNodes (the override's or
 * the definition's); jobdef_nodes_resolve gives the job's nodeProperties with each range's
 * container resolved as jobdef_resolve_container does, its nodeOverrides applied (fresh), or
 * NULL after refusing.  Both return -1/NULL through api_client_error. */
int jobdef_nodes_count(api_ctx *c, json_t *def, json_t *req, int *nodes);
json_t *jobdef_nodes_resolve(api_ctx *c, json_t *def, json_t *req, int nodes);

/* The whole RegisterJobDefinition request, apart from the name and revision bookkeeping. */
int jobdef_check_register(api_ctx *c, json_t *req);

/* RETRY or EXIT in upper case, the form descriptions carry; NULL if action is neither. */
const char *jobdef_retry_action(const char *action);
#endif
