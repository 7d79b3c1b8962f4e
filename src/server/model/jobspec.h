/* jobspec — what a job is, fixed at submit, held compactly.
 *
 * A million queued jobs must fit in well under a gigabyte, so a spec is split in two: the part
 * that jobs submitted alike share (queue, definition, the resolved container, retry strategy,
 * timeout...) is interned, one copy per distinct value; the part that is the job's own (its
 * name, parameters, dependencies and tags) is kept as compact JSON text and parsed only when
 * someone asks for it.  The scalars the scheduler reads on every pass are copied out. */
#ifndef BARGE_JOBSPEC_H
#define BARGE_JOBSPEC_H
#include <jansson.h>

#include "server/base/logstore.h"

struct spec_shared;

typedef struct jobspec {
    int refs;
    struct spec_shared *shared;
    char *own;  /* {"jobName":..., "parameters":..., "dependsOn":..., "tags":...} */
    char *name; /* jobName */
    /* From the shared part (the strings are the shared part's). */
    const char *queue;   /* queue name */
    const char *jd_name; /* job definition name (log stream prefix) */
    int mvcpus;          /* thousandths of a vCPU */
    int memory_mib;
    int gpus;
    int attempts_max;
    int timeout_s;            /* 0: none */
    int fargate;              /* platformCapabilities FARGATE: runs only on FARGATE environments */
    /* runtimePlatform's cpuArchitecture (or Windows operatingSystemFamily) when this host is not
     * of it, or NULL: a Fargate environment's agents run on the server's host, so such a job
     * never runs there. */
    const char *foreign_platform;
    json_t *evaluate_on_exit; /* may be NULL */
} jobspec;

/* A consumable resource the job needs (consumableResourceProperties), by name. */
typedef struct jobspec_need {
    char *name;
    long long quantity;
} jobspec_need;

/* Builds a spec from a whole description (taking the reference to desc). */
jobspec *jobspec_make(json_t *desc);

/* Recipes.  SubmitJob resolves the same inputs (queue, definition revision, overrides...) to
 * the same shared part; a recipe is those inputs as text, and remembering what they produced
 * spares the next submit the resolution.  jobspec_from_recipe returns NULL when the recipe is
 * unknown, else a spec with that shared part and the given own part; it takes own's reference
 * either way. */
jobspec *jobspec_from_recipe(const char *recipe, json_t *own);
void jobspec_remember_recipe(const char *recipe, const jobspec *s);
void jobspec_release(jobspec *s);
/* The record id of a stored shared part that no job uses any more (1), or 0 when there is none;
 * each is given once, for its record to be deleted (jobs_flush). */
int jobspec_take_unused(unsigned long long *id);

/* The whole description (fresh). */
json_t *jobspec_desc(const jobspec *s);
/* The shared part's members (borrowed). */
json_t *jobspec_shared_all(const jobspec *s);
/* A slot for what a reader derives from the shared part alone (its description as text, say),
 * kept with the shared part and freed with it by the function given once at start: jobs
 * submitted alike derive it once.  NULL until the reader fills it; core thread only. */
void **jobspec_shared_slot(const jobspec *s);
void jobspec_set_slot_free(void (*fn)(void *));
/* A member of the shared part (borrowed), e.g. "container", "jobDefinition"; NULL if absent. */
json_t *jobspec_shared(const jobspec *s, const char *key);
/* Where the job's attempts write their logs, as AWS Batch has it: an attempt's stream is
 * PREFIX/default/TASKID (default is the name AWS Batch gives the job's container; TASKID is 32
 * hex digits) in the log group.  An awslogs logConfiguration's awslogs-group and
 * awslogs-stream-prefix options name the group and the prefix; without them the group is
 * /aws/batch/job and the prefix the job definition's name.  Borrowed. */
#define JOBSPEC_AWSLOGS_GROUP "awslogs-group"
#define JOBSPEC_AWSLOGS_PREFIX "awslogs-stream-prefix"
/* The job's shareIdentifier (NULL without one) and schedulingPriority (the override given at
 * submit, else the definition's, else 0): what a fair-share queue orders it by.  Borrowed. */
const char *jobspec_share(const jobspec *s);
/* A multi-node parallel job: its numNodes and mainNode (0 and 0 for any other job), and the
 * spec of its node index: the job's with the container of the node range that takes the node
 * (a new reference). */
int jobspec_num_nodes(const jobspec *s);
int jobspec_main_node(const jobspec *s);
jobspec *jobspec_node(const jobspec *parent, int index);
/* The consumable resources the job needs: how many, and the list in *out (borrowed). */
size_t jobspec_consumables(const jobspec *s, const jobspec_need **out);
int jobspec_priority(const jobspec *s);
const char *jobspec_log_group(const jobspec *s);
const char *jobspec_log_prefix(const jobspec *s);
/* The longest prefix that keeps a stream name within CloudWatch's 512 characters. */
#define JOBSPEC_LOG_PREFIX_MAX (LOGSTORE_NAME_MAX - 9 - 32) /* 9: "/default/" */
/* 1 when a stream prefix makes valid stream names: 1 to JOBSPEC_LOG_PREFIX_MAX characters,
 * none of them ':' or '*'. */
int jobspec_log_prefix_valid(const char *prefix);
/* A member of the job's own part (a new reference), e.g. "dependsOn", "tags"; NULL if absent. */
json_t *jobspec_own(const jobspec *s, const char *key);
/* Replaces the job's tags (takes the reference). */
void jobspec_set_tags(jobspec *s, json_t *tags);
/* Persistence of the shared part: it is stored once, as its own record, and job records refer
 * to it by id.  jobspec_shared_ref returns that id; when the part has no record yet, it also
 * sets *text to what the caller must store under that id in the same transaction. */
unsigned long long jobspec_shared_ref(jobspec *s, const char **text);
/* At load: the shared part of s is the stored record id. */
void jobspec_adopt_ref(jobspec *s, unsigned long long id);
/* At load: a spec whose shared part is the stored record id, already known; NULL when that
 * record has not been seen yet.  Takes own's reference either way. */
jobspec *jobspec_from_ref(unsigned long long id, json_t *own);
/* After a rolled-back transaction: no shared part may be assumed stored any more. */
void jobspec_forget_stored(void);
/* How many distinct shared parts are held (for tests and statistics). */
size_t jobspec_shared_count(void);
#endif
