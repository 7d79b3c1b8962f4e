/* tags — how TagResource, UntagResource and ListTagsForResource reach a job's tags.
 *
 * Compute environments, job queues, job definitions and scheduling policies live in the state's
 * registries, which api_tag reads and writes itself.  Jobs are kept by the jobs module in
 * structures of its own, so that module lends api_tag two functions instead.  Until it does,
 * every job ARN is answered as a job that does not exist. */
#ifndef BARGE_TAGS_H
#define BARGE_TAGS_H
#include <jansson.h>

struct state;

typedef struct tags_job_ops {
    /* A new reference to the tags of the job with this id (an object, empty when it has none),
     * or NULL when there is no such job.  The id is never an array child or a node of a
     * multi-node job: AWS does not tag those, and api_tag refuses them before asking. */
    json_t *(*get)(struct state *st, const char *job_id);
    /* Replaces the job's tags, taking the caller's reference.  Runs on the core thread inside
     * the open batch, so the change must reach the store the way reg_put does. */
    void (*set)(struct state *st, const char *job_id, json_t *tags);
} tags_job_ops;

/* Installs the jobs module's functions; ops must outlive the server.  Call before core_start:
 * the core thread reads the pointer without a lock. */
void tags_set_job_ops(const tags_job_ops *ops);
#endif
