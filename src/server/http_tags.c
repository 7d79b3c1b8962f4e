/* http_tags — see http_tags.h. */
#include "server/http_tags.h"

#include <stdio.h>
#include <string.h>

/* A key that is not UTF-8 is kept as null, to be refused by its place. */
static enum MHD_Result add_tag_key(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    if (strcmp(key, "tagKeys") == 0 && value) {
        json_t *k = json_string(value);
        json_array_append_new(cls, k ? k : json_null());
    }
    return MHD_YES;
}

int http_tags_members(struct MHD_Connection *conn, const char *method, const char *arn,
                      json_t *req, char *err, size_t errlen)
{
    json_t *a = json_string(arn);
    if (!a) {
        snprintf(err, errlen, "resourceArn: the path's ARN is not valid UTF-8 once "
                              "percent-decoded");
        return -1;
    }
    json_object_set_new(req, "resourceArn", a);
    if (strcmp(method, "DELETE") != 0) return 0;
    json_t *keys = json_array(), *k;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_tag_key, keys);
    json_object_set_new(req, "tagKeys", keys);
    size_t i;
    json_array_foreach(keys, i, k) if (json_is_null(k)) {
        snprintf(err, errlen, "tagKeys[%zu]: not valid UTF-8 once percent-decoded", i);
        return -1;
    }
    return 0;
}
