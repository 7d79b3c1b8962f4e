/* http_tags — the members Batch's tag operations carry in their request line rather than their
 * body: /v1/tags/{resourceArn}, and UntagResource's ?tagKeys=K&tagKeys=K... */
#ifndef BARGE_HTTP_TAGS_H
#define BARGE_HTTP_TAGS_H
#include <jansson.h>
#include <microhttpd.h>
#include <stddef.h>

/* Sets req's resourceArn from arn (the path's part after /v1/tags/, which libmicrohttpd has
 * percent-decoded) and, for DELETE, its tagKeys from the query string.  0, or -1 with a
 * sentence in err naming the member that is not UTF-8 once decoded: such a key was left out
 * while the call untagged the others, and such an ARN was said to be missing. */
int http_tags_members(struct MHD_Connection *conn, const char *method, const char *arn,
                      json_t *req, char *err, size_t errlen);
#endif
