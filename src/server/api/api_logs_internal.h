/* api_logs_internal — what the CloudWatch Logs API's two files share and nothing else:
 * api_logs.c (routing, the reads, streams and the agent's upload) and api_logs_groups.c (log
 * groups: making and deleting them, their retention and their tags). */
#ifndef BARGE_API_LOGS_INTERNAL_H
#define BARGE_API_LOGS_INTERNAL_H
#include "server/api/api.h"
#include "server/api/schema.h"
#include "server/base/logstore.h"

/* CloudWatch Logs' errors (its own types: Batch's are ClientException and ServerException). */
#define LOGS_INVALID(c, ...) api_fail(c, 400, "InvalidParameterException", __VA_ARGS__)
#define LOGS_NO_GROUP(c) api_fail(c, 400, "ResourceNotFoundException", \
                                  "The specified log group does not exist.")
#define LOGS_UNREADABLE(c) api_fail(c, 500, "ServiceUnavailableException", \
                                    "the log store could not be read; retry")

/* api_logs_groups.c: takes the store and compiles its shapes (once, from api_logs_init); then
 * finds its operation by name (NULL when it has none of that name). */
typedef struct api_logs_op {
    const char *name;
    api_handler fn;
    schema **shape;
} api_logs_op;
void api_logs__groups_init(logstore *ls);
const api_logs_op *api_logs__group_op(const char *name);
#endif
