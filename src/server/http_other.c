#include "server/http_other.h"

#include <string.h>
#include <strings.h>

#include "common/errbody.h"
#include "common/mem.h"
#include "common/sigv4.h"
#include "server/model/config.h"

#define POINT_AT_BARGE                                                                        \
    "point AWS_ENDPOINT_URL_BATCH and AWS_ENDPOINT_URL_CLOUDWATCH_LOGS at barge rather than "   \
    "AWS_ENDPOINT_URL"

/* The server-wide body limit: another service's call (a CloudFormation template, say) is read
 * whole to find its action, and refused in its own XML.  Counted in /metrics as any request
 * barge does not serve ("unknown"), until its form is found to ask for GetCallerIdentity. */
const api_op http_other_query_op = {.name = "unknown", .method = "POST", .path = "/"};
static const api_op caller_identity_op = {.name = "GetCallerIdentity", .method = "POST",
                                          .path = "/"};

const api_op *http_other_route(struct MHD_Connection *conn, const char *method,
                               const char *url)
{
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    /* A call naming its operation in X-Amz-Target is a JSON protocol's, whatever its type. */
    if (strcmp(method, "POST") == 0 && strcmp(url, "/") == 0 && ct &&
        strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0 &&
        !MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Amz-Target"))
        return &http_other_query_op;
    return NULL;
}

/* The form's value of name, decoded (fresh), or NULL. */
static char *form_value(const char *body, size_t len, const char *name)
{
    size_t n = strlen(name);
    for (size_t at = 0; body && at < len;) {
        const char *amp = memchr(body + at, '&', len - at);
        size_t stop = amp ? (size_t)(amp - body) : len;
        if (stop - at > n && memcmp(body + at, name, n) == 0 && body[at + n] == '=') {
            char *v = xstrndup(body + at + n + 1, stop - at - n - 1);
            for (char *c = v; *c; c++)
                if (*c == '+') *c = ' ';
            MHD_http_unescape(v);
            return v;
        }
        at = stop + 1;
    }
    return NULL;
}

int http_other_is_caller_identity(const char *body, size_t len)
{
    char *action = form_value(body, len, "Action");
    int yes = action && strcmp(action, "GetCallerIdentity") == 0;
    free(action);
    return yes;
}

const api_op *http_other_read_op(const char *body, size_t len)
{
    return http_other_is_caller_identity(body, len) ? &caller_identity_op : &http_other_query_op;
}

static void element(buf *b, const char *name, const char *text)
{
    buf_printf(b, "<%s>", name);
    errbody_xml_text(b, text);
    buf_printf(b, "</%s>", name);
}

char *http_other_query(const char *body, size_t len, const auth_principal *who,
                       const char *request_id, int *status, const char **err_type)
{
    if (!http_other_is_caller_identity(body, len)) {
        *status = 400;
        *err_type = "InvalidAction";
        return errbody_xml(*err_type,
                           "barge serves AWS Batch, CloudWatch Logs and STS's "
                           "GetCallerIdentity only, not the service or action this call is "
                           "for; " POINT_AT_BARGE, request_id, 0);
    }
    /* Without --credentials any key is taken: the caller is the account itself, as AWS says
     * of its root user. */
    char *root = xasprintf("arn:aws:iam::%s:root", barge_cfg.account_id);
    buf b = {0};
    buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<GetCallerIdentityResponse "
                 "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>");
    element(&b, "Arn", who ? auth_principal_arn(who) : root);
    element(&b, "UserId", who ? auth_principal_key(who) : barge_cfg.account_id);
    element(&b, "Account", barge_cfg.account_id);
    buf_puts(&b, "</GetCallerIdentityResult><ResponseMetadata>");
    element(&b, "RequestId", request_id);
    buf_puts(&b, "</ResponseMetadata></GetCallerIdentityResponse>\n");
    free(root);
    *status = 200;
    *err_type = NULL;
    return b.data;
}

char *http_other_refusal(const char *json_body, size_t len, const char *err_type,
                         const char *request_id)
{
    char *msg = errbody_header_message(json_body, len);
    char *out = errbody_xml(err_type, msg ? msg : err_type, request_id, 0);
    free(msg);
    return out;
}

char *http_other_service(struct MHD_Connection *conn, const char **err_type,
                         char *request_id)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!auth) return NULL;
    if (strstr(auth, "/s3/aws4_request"))
        return errbody_xml(*err_type = "NotImplemented",
                           "barge serves AWS Batch and CloudWatch Logs only, not S3; "
                           POINT_AT_BARGE, request_id, 1);
    /* Another REST service's call (Amazon EFS's DescribeAccessPoints, which miniwdl-aws makes
     * to find an access point's file system) would otherwise be told it is a Batch operation
     * barge lacks.  Its signature names its service; REST services answer errors in JSON, as
     * Batch does.  Calls signed for Batch itself are left to the caller. */
    sigv4_auth a;
    char err[160];
    if (sigv4_parse(auth, &a, err, sizeof err) < 0 || strcmp(a.service, "batch") == 0 ||
        strcmp(a.service, "logs") == 0)
        return NULL;
    request_id[0] = '\0'; /* a JSON answer */
    *err_type = "NotImplemented";
    char *msg = xasprintf("barge serves AWS Batch and CloudWatch Logs only, not %s, which this "
                          "call is signed for; " POINT_AT_BARGE, a.service);
    char *out = errbody_new(*err_type, msg);
    free(msg);
    return out;
}
