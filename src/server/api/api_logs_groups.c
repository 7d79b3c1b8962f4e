/* api_logs_groups — CloudWatch Logs' log groups: CreateLogGroup, DeleteLogGroup, their
 * retention (PutRetentionPolicy, DeleteRetentionPolicy) and their tags (TagResource,
 * UntagResource, ListTagsForResource, and the older TagLogGroup, UntagLogGroup and
 * ListTagsLogGroup).  Terraform's aws_cloudwatch_log_group makes a group with its tags (the
 * provider's default_tags give every resource some), sets its retention, and reads both back.
 *
 * Tags are changed by the log store's writer, in queue order (logstore_tag_group), so that two
 * changes at once both count; the count of 50 is checked against the tags read before, so two
 * changes at once may together pass it by a few. */
#include "server/api/api_logs_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "server/api/api_logs.h"
#include "server/base/logstore.h"
#include "server/model/config.h"

static logstore *store_;
static schema *create_shape, *name_shape, *retention_shape, *tag_shape, *untag_shape,
    *arn_shape, *tag_group_shape, *untag_group_shape;

/* A tag's text with a NUL in it (the Logs API reads bodies with JSON_ALLOW_NUL, for job
 * output): refused, as no tag holds one and C strings would cut it short. */
static int has_nul(json_t *v)
{
    return json_is_string(v) && strlen(json_string_value(v)) != json_string_length(v);
}

/* CloudWatch Logs' tag rules are Batch's (api_check_tags), in its own error type. */
static int check_tags(api_ctx *c, json_t *tags, const char *field)
{
    const char *k;
    json_t *v;
    json_object_foreach(tags, k, v) {
        if (has_nul(v))
            return LOGS_INVALID(c, "%s: the value of tag '%.40s' holds a NUL character", field,
                                k);
    }
    if (api_check_tags(c, tags, field) == 0) return 0;
    c->err_type = "InvalidParameterException";
    return -1;
}

/* Queues a merge patch of the group's tags and waits for it: 0, or -1 when it was not stored. */
static int patch_tags(const char *group, json_t *patch)
{
    char *text = json_dumps(patch, JSON_COMPACT);
    int rc = logstore_wait(store_, logstore_tag_group(store_, group, text));
    free(text);
    return rc;
}

/* CreateLogGroup: a group of its own, for a definition's awslogs-group to name or a tool to
 * make before it runs jobs (aegea makes its groups on every submit and expects
 * ResourceAlreadyExistsException the second time).  What barge would not keep is refused rather
 * than dropped. */
static int create_log_group(api_ctx *c, json_t *req, json_t **resp)
{
    const char *name = api_str(req, "logGroupName"), *cls = api_str(req, "logGroupClass");
    if (!logstore_group_name_valid(name))
        return LOGS_INVALID(c, "logGroupName: '%.100s' is not a log group name; use 1 to 512 "
                               "of the characters A-Z a-z 0-9 . - _ / #", name);
    if (json_object_get(req, "kmsKeyId"))
        return LOGS_INVALID(c, "kmsKeyId: barge does not encrypt log groups with KMS keys; "
                               "leave it out");
    json_t *tags = json_object_get(req, "tags");
    if (check_tags(c, tags, "tags") < 0) return -1;
    if (json_is_true(json_object_get(req, "deletionProtectionEnabled")))
        return LOGS_INVALID(c, "deletionProtectionEnabled: barge does not protect log groups "
                               "from DeleteLogGroup; leave it out or false");
    if (cls && strcmp(cls, "STANDARD") != 0)
        return LOGS_INVALID(c, "logGroupClass: barge keeps every log group as STANDARD; give "
                               "STANDARD or leave it out");
    int rc = logstore_group_exists(store_, name);
    if (rc == LOGSTORE_OK)
        return api_fail(c, 400, "ResourceAlreadyExistsException",
                        "The specified log group already exists");
    if (rc != LOGSTORE_NOT_FOUND) return LOGS_UNREADABLE(c);
    /* Both queued before either is waited for: they go in one batch unless the writer took
     * the first just then, so a group is rarely made without the tags it was asked with. */
    uint64_t made = logstore_create_group(store_, name), tagged = 0;
    if (json_object_size(tags)) {
        char *text = json_dumps(tags, JSON_COMPACT);
        tagged = logstore_tag_group(store_, name, text);
        free(text);
    }
    if (logstore_wait(store_, made) < 0 || (tagged && logstore_wait(store_, tagged) < 0))
        return api_fail(c, 500, "ServiceUnavailableException",
                        "the server could not store the log group; retry");
    *resp = json_object();
    return 0;
}

/* 0 when name is a log group that exists; else -1 with CloudWatch's error: a name no group can
 * have is a bad parameter (CloudWatch checks its pattern before it looks), as for the calls on
 * streams (api_logs.c). */
static int existing_group(api_ctx *c, const char *name)
{
    if (!logstore_group_name_valid(name))
        return LOGS_INVALID(c, "logGroupName: '%.100s' is not a log group name; use 1 to 512 "
                               "of the characters A-Z a-z 0-9 . - _ / #", name);
    int rc = logstore_group_exists(store_, name);
    if (rc == LOGSTORE_NOT_FOUND) return LOGS_NO_GROUP(c);
    return rc == LOGSTORE_OK ? 0 : LOGS_UNREADABLE(c);
}

/* DeleteLogGroup: the group, its streams and their events go (Airflow's example DAGs clean up
 * with it; Terraform destroys a log group with it).  A job still writing to one of its streams
 * makes the stream again with its next lines, in /aws/batch/job as after DeleteLogStream. */
static int delete_log_group(api_ctx *c, json_t *req, json_t **resp)
{
    const char *name = api_str(req, "logGroupName");
    if (existing_group(c, name) < 0) return -1;
    if (logstore_wait(store_, logstore_delete_group(store_, name)) < 0)
        return api_fail(c, 500, "ServiceUnavailableException",
                        "the server could not delete the log group; retry");
    *resp = json_object();
    return 0;
}

/* PutRetentionPolicy and DeleteRetentionPolicy: a group's events older than so many days go
 * (Terraform's log groups with retention_in_days set it after CreateLogGroup).  They go within
 * the hour, and the first time at once: the setting starts a pass over the streams
 * (logstore_expire), where CloudWatch takes up to three days. */
static int set_retention(api_ctx *c, const char *name, int days, json_t **resp)
{
    if (existing_group(c, name) < 0) return -1;
    if (logstore_wait(store_, logstore_set_retention(store_, name, days)) < 0)
        return api_fail(c, 500, "ServiceUnavailableException",
                        "the server could not store the retention policy; retry");
    if (days) logstore_expire(store_);
    *resp = json_object();
    return 0;
}

static int put_retention_policy(api_ctx *c, json_t *req, json_t **resp)
{
    json_int_t days = api_int(req, "retentionInDays", 0);
    if (!logstore_retention_days_valid(days))
        return LOGS_INVALID(c, "retentionInDays: %lld is not a retention CloudWatch Logs "
                               "offers; give one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, "
                               "365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653 "
                               "(days), or call DeleteRetentionPolicy to keep events for ever",
                            (long long)days);
    return set_retention(c, api_str(req, "logGroupName"), (int)days, resp);
}

static int delete_retention_policy(api_ctx *c, json_t *req, json_t **resp)
{
    return set_retention(c, api_str(req, "logGroupName"), 0, resp);
}

/* The group a tagging request names, by resourceArn (TagResource and its kin: a log group's
 * ARN, with or without ":*") or by logGroupName (the older calls); it must exist.  Its tags go
 * to *tags when asked for. */
static int tagged_group(api_ctx *c, json_t *req, char group[LOGSTORE_NAME_MAX + 1], json_t **tags)
{
    const char *arn = api_str(req, "resourceArn"), *name = api_str(req, "logGroupName");
    /* Another resource's ARN (a log stream's, a destination's) or another region's or
     * account's is a bad parameter: barge tags its own log groups only. */
    if (arn && (strncmp(arn, "arn:", 4) != 0 || api_logs_group_named(arn, group) < 0))
        return LOGS_INVALID(c, "resourceArn: '%.200s' is not the ARN of a log group here (barge "
                               "tags its log groups only: arn:aws:logs:%s:%s:log-group:NAME)",
                            arn, barge_cfg.region, barge_cfg.account_id);
    if (!arn && name && !logstore_group_name_valid(name))
        return LOGS_INVALID(c, "logGroupName: '%.100s' is not a log group name; use 1 to 512 "
                               "of the characters A-Z a-z 0-9 . - _ / #", name);
    if (api_logs_group_named(arn ? arn : name, group) < 0) return LOGS_NO_GROUP(c);
    char *text = NULL;
    int rc = logstore_group_tags(store_, group, &text);
    if (rc == LOGSTORE_NOT_FOUND) return LOGS_NO_GROUP(c);
    if (rc != LOGSTORE_OK) return LOGS_UNREADABLE(c);
    if (tags) {
        *tags = json_loads(text, JSON_ALLOW_NUL, NULL);
        if (!json_is_object(*tags)) {
            json_decref(*tags);
            free(text);
            log_error("logs: the tags of log group %s are not a JSON object", group);
            return LOGS_UNREADABLE(c);
        }
    }
    free(text);
    return 0;
}

static int add_tags(api_ctx *c, json_t *req, json_t **resp)
{
    char group[LOGSTORE_NAME_MAX + 1];
    json_t *tags = json_object_get(req, "tags"), *have;
    if (!json_object_size(tags))
        return LOGS_INVALID(c, "tags: give at least one tag");
    if (check_tags(c, tags, "tags") < 0 || tagged_group(c, req, group, &have) < 0) return -1;
    const char *k;
    json_t *v;
    size_t n = json_object_size(have);
    json_object_foreach(tags, k, v) n += !json_object_get(have, k);
    json_decref(have);
    if (n > 50)
        return api_fail(c, 400, "TooManyTagsException",
                        "A resource can have no more than 50 tags (this one would have %zu).", n);
    if (patch_tags(group, tags) < 0)
        return api_fail(c, 500, "ServiceUnavailableException",
                        "the server could not store the tags; retry");
    *resp = json_object();
    return 0;
}

static int remove_tags(api_ctx *c, json_t *req, json_t **resp)
{
    char group[LOGSTORE_NAME_MAX + 1];
    if (tagged_group(c, req, group, NULL) < 0) return -1;
    /* TagResource's tagKeys, TagLogGroup's tags: a list of keys either way.  A key the group
     * does not have is no error, as CloudWatch answers. */
    json_t *keys = json_object_get(req, "tagKeys");
    const char *field = keys ? "tagKeys" : "tags";
    if (!keys) keys = json_object_get(req, "tags");
    if (!json_array_size(keys)) return LOGS_INVALID(c, "%s: give at least one tag key", field);
    json_t *patch = json_object(), *key;
    size_t i;
    json_array_foreach(keys, i, key) {
        if (has_nul(key)) {
            json_decref(patch);
            return LOGS_INVALID(c, "%s[%zu]: a tag key holds no NUL character", field, i);
        }
    }
    json_array_foreach(keys, i, key)
        json_object_set_new(patch, json_string_value(key), json_null());
    int rc = json_object_size(patch) ? patch_tags(group, patch) : 0;
    json_decref(patch);
    if (rc < 0)
        return api_fail(c, 500, "ServiceUnavailableException",
                        "the server could not store the tags; retry");
    *resp = json_object();
    return 0;
}

static int list_tags(api_ctx *c, json_t *req, json_t **resp)
{
    char group[LOGSTORE_NAME_MAX + 1];
    json_t *tags;
    if (tagged_group(c, req, group, &tags) < 0) return -1;
    *resp = json_pack("{s:o}", "tags", tags);
    return 0;
}

static const api_logs_op operations[] = {
    {"CreateLogGroup", create_log_group, &create_shape},
    {"DeleteLogGroup", delete_log_group, &name_shape},
    {"PutRetentionPolicy", put_retention_policy, &retention_shape},
    {"DeleteRetentionPolicy", delete_retention_policy, &name_shape},
    {"TagResource", add_tags, &tag_shape},
    {"UntagResource", remove_tags, &untag_shape},
    {"ListTagsForResource", list_tags, &arn_shape},
    {"TagLogGroup", add_tags, &tag_group_shape},
    {"UntagLogGroup", remove_tags, &untag_group_shape},
    {"ListTagsLogGroup", list_tags, &name_shape},
};

void api_logs__groups_init(logstore *ls)
{
    store_ = ls;
    create_shape = schema_compile("{logGroupName:s!, kmsKeyId:s, tags:m<s>, logGroupClass:s, "
                                  "deletionProtectionEnabled:b}");
    name_shape = schema_compile("{logGroupName:s!}");
    retention_shape = schema_compile("{logGroupName:s!, retentionInDays:i!}");
    tag_shape = schema_compile("{resourceArn:s!, tags:m<s>!}");
    untag_shape = schema_compile("{resourceArn:s!, tagKeys:[s(1..128)](0..50)!}");
    arn_shape = schema_compile("{resourceArn:s!}");
    tag_group_shape = schema_compile("{logGroupName:s!, tags:m<s>!}");
    untag_group_shape = schema_compile("{logGroupName:s!, tags:[s(1..128)]!}");
}

const api_logs_op *api_logs__group_op(const char *name)
{
    for (size_t i = 0; i < sizeof operations / sizeof operations[0]; i++)
        if (strcmp(name, operations[i].name) == 0) return &operations[i];
    return NULL;
}
