#include "common/errbody.h"

#include <jansson.h>
#include <stdio.h>

#include "common/util.h"

char *errbody_new(const char *type, const char *msg)
{
    char clean[700];
    snprintf(clean, sizeof clean, "%s", msg);
    util_utf8_scrub(clean);
    json_t *e = json_pack("{s:s, s:s}", "__type", type, "message", clean);
    char *body = json_dumps(e, JSON_COMPACT);
    json_decref(e);
    return body;
}
