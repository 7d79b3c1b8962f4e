#include "common/errbody.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/mem.h"

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

void errbody_xml_text(buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': buf_puts(b, "&lt;"); break;
        case '>': buf_puts(b, "&gt;"); break;
        case '&': buf_puts(b, "&amp;"); break;
        case '"': buf_puts(b, "&quot;"); break;
        case '\'': buf_puts(b, "&apos;"); break;
        default: buf_append(b, s, 1);
        }
    }
}

char *errbody_xml(const char *code, const char *msg, const char *request_id, int s3)
{
    char clean[700];
    snprintf(clean, sizeof clean, "%s", msg);
    util_utf8_scrub(clean);
    /* Control characters are not allowed in XML 1.0 text. */
    for (char *p = clean; *p; p++)
        if ((unsigned char)*p < 0x20 && *p != '\t' && *p != '\n') *p = ' ';
    buf b = {0};
    buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    buf_puts(&b, s3 ? "<Error><Code>" : "<ErrorResponse><Error><Type>Sender</Type><Code>");
    errbody_xml_text(&b, code);
    buf_puts(&b, "</Code><Message>");
    errbody_xml_text(&b, clean);
    buf_puts(&b, s3 ? "</Message><RequestId>" : "</Message></Error><RequestId>");
    errbody_xml_text(&b, request_id);
    buf_puts(&b, s3 ? "</RequestId></Error>\n" : "</RequestId></ErrorResponse>\n");
    return b.data;
}

char *errbody_header_message(const char *body, size_t len)
{
    json_t *e = json_loadb(body, len, 0, NULL);
    const char *msg = json_string_value(json_object_get(e, "message"));
    /* At most 256 bytes: the header is made in the connection's memory, which a request's
     * own headers may have nearly filled (the body says it whole). */
    char *out = msg ? xstrndup(msg, strnlen(msg, 256)) : NULL;
    json_decref(e);
    for (unsigned char *p = (unsigned char *)out; p && *p; p++)
        if (*p < 0x20 || *p == 0x7f) *p = ' ';
        else if (*p >= 0x80) *p = '?';
    return out;
}
