/* http_other — the answer to a call of another AWS service than the two barge serves, in that
 * service's own protocol: the query protocol's form posted to / (STS, SQS, IAM, EC2...), or a
 * request signed for S3 (its signature's scope names the service; the JavaScript SDK sends
 * S3's payload hash header with every service's calls).  A client pointed at barge for every
 * service (AWS_ENDPOINT_URL) gets an error its SDK can read, in XML, saying so, rather than
 * JSON it fails to parse. */
#ifndef BARGE_HTTP_OTHER_H
#define BARGE_HTTP_OTHER_H
#include <microhttpd.h>

/* The XML body of the answer (fresh; its status is 400, its error type in *err_type), or NULL
 * when the request is none of those. */
char *http_other_service(struct MHD_Connection *conn, const char *url, const char **err_type,
                         const char *request_id);
#endif
