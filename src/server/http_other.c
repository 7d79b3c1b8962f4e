#include "server/http_other.h"

#include <string.h>
#include <strings.h>

#include "common/errbody.h"

char *http_other_service(struct MHD_Connection *conn, const char *url, const char **err_type,
                         const char *request_id)
{
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    int query = strcmp(url, "/") == 0 && ct &&
                strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0;
    if (!query && !(auth && strstr(auth, "/s3/aws4_request"))) return NULL;
    *err_type = query ? "InvalidAction" : "NotImplemented";
    return errbody_xml(*err_type,
                       query ? "barge serves AWS Batch and CloudWatch Logs only, not the "
                               "service this call is for; point AWS_ENDPOINT_URL_BATCH and "
                               "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS at barge rather than "
                               "AWS_ENDPOINT_URL"
                             : "barge serves AWS Batch and CloudWatch Logs only, not S3; point "
                               "AWS_ENDPOINT_URL_BATCH and AWS_ENDPOINT_URL_CLOUDWATCH_LOGS "
                               "at barge rather than AWS_ENDPOINT_URL",
                       request_id, !query);
}
