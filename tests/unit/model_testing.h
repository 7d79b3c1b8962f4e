/* model_testing — what the unit tests of the model and the engine share: a store in a
 * directory of their own, the state loaded from it as the server loads it, and jobs made from
 * a description as SubmitJob makes them, without a server or an agent. */
#ifndef BARGE_TEST_MODEL_TESTING_H
#define BARGE_TEST_MODEL_TESTING_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/util.h"
#include "server/base/store.h"
#include "server/model/jobs.h"
#include "server/model/jobspec.h"
#include "server/model/model.h"
#include "server/model/state.h"
#include "server/engine/attempt.h"
#include "check.h"

#define MT_QUEUE_ARN(name) "arn:aws:batch:us-east-1:123456789012:job-queue/" name
#define MT_DEF_ARN "arn:aws:batch:us-east-1:123456789012:job-definition/def:1"

/* A SQLite store in a new directory made from dir ("...XXXXXX", filled in place). */
static inline store *mt_store_open(char *dir)
{
    CHECK(mkdtemp(dir) != NULL);
    char *err = NULL;
    store *db = store_sqlite_open(dir, STORE_SYNC_NORMAL, &err);
    if (!db) CHECK_FAIL_("store_sqlite_open: %s", err);
    return db;
}

/* The state in db, and, as the server does after loading, the end of attempts that were under
 * way (their instances are gone). */
static inline state *mt_load(store *db)
{
    char *err = NULL;
    state *st = model_load(db, &err);
    if (!st) CHECK_FAIL_("model_load: %s", err);
    attempt_recover(st);
    return st;
}

static inline void mt_store_close(store *db, const char *dir)
{
    store_close(db);
    util_remove_tree(dir);
}

static inline json_t *mt_parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, 0, &e);
    if (!v) CHECK_FAIL_("bad JSON in the test: %s: %s", e.text, text);
    return v;
}

static inline job *mt_find(state *st, const char *id)
{
    job *j = jobs_find(st->jobs, id);
    if (!j) CHECK_FAIL_("no job %s", id);
    return j;
}

/* A container job's description: its name, queue ARN, command (one word), vCPUs and MiB. */
static inline json_t *mt_job_desc(const char *name, const char *queue_arn, const char *command,
                                  const char *vcpus, const char *memory)
{
    return json_pack("{s:s, s:s, s:s, s:{s:[s], s:[{s:s, s:s}, {s:s, s:s}]}}", "jobName", name,
                     "jobQueue", queue_arn, "jobDefinition", MT_DEF_ARN, "container", "command",
                     command, "resourceRequirements", "type", "VCPU", "value", vcpus, "type",
                     "MEMORY", "value", memory);
}

/* A multi-node job's description: two nodes of one vCPU and memory MiB each. */
static inline json_t *mt_nodes_desc(const char *name, const char *queue_arn, const char *memory)
{
    return json_pack(
        "{s:s, s:s, s:s, s:{s:i, s:i, s:[{s:s, s:{s:[s], s:[{s:s, s:s}, {s:s, s:s}]}}]}}",
        "jobName", name, "jobQueue", queue_arn, "jobDefinition",
        "arn:aws:batch:us-east-1:123456789012:job-definition/mn:1", "nodeProperties",
        "numNodes", 2, "mainNode", 0, "nodeRangeProperties", "targetNodes", "0:", "container",
        "command", "true", "resourceRequirements", "type", "VCPU", "value", "1", "type",
        "MEMORY", "value", memory);
}

/* Makes job id (an array of size children, or nodes of a multi-node job, when size > 0) from
 * desc, which it takes; deps_json is its dependsOn (or NULL), kept in the description as the
 * server keeps it, so that a reload wires the same dependencies. */
static inline job *mt_create(state *st, json_t *desc, const char *id, uint32_t size,
                             const char *deps_json)
{
    json_t *deps = mt_parse(deps_json ? deps_json : "[]");
    json_object_set(desc, "dependsOn", deps);
    job *j = jobs_create(st, jobspec_make(desc), id, size, deps, 1000);
    json_decref(deps);
    return j;
}

#endif
