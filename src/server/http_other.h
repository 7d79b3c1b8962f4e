/* http_other — calls of other AWS services than the two barge serves, from a client pointed at
 * barge for every service (AWS_ENDPOINT_URL).  STS's GetCallerIdentity is answered (workflow
 * tools call it to check their credentials, or to learn the account for the roles they name,
 * before they submit anything): the caller is the principal whose key signed the call.  Any
 * other call gets an error in its service's own protocol, which its SDK can read, saying to
 * point only AWS_ENDPOINT_URL_BATCH and AWS_ENDPOINT_URL_CLOUDWATCH_LOGS at barge: the query
 * protocol's form posted to / (STS, SQS, IAM, EC2...), or a request signed for S3 or another
 * REST service such as Amazon EFS (its signature's scope names the service; the JavaScript SDK
 * sends S3's payload hash header with every service's calls). */
#ifndef BARGE_HTTP_OTHER_H
#define BARGE_HTTP_OTHER_H
#include <microhttpd.h>
#include <stddef.h>

#include "server/api/api.h"
#include "server/api/auth.h"

/* The query protocol's calls (a form posted to /): read whole, signed for "sts", answered by
 * http_other_query. */
extern const api_op http_other_query_op;
/* The call's operation once its form is read: GetCallerIdentity's, or http_other_query_op
 * itself (named "unknown" in /metrics, as any request barge does not serve). */
const api_op *http_other_read_op(const char *body, size_t len);
const api_op *http_other_route(struct MHD_Connection *conn, const char *method,
                               const char *url);
/* Whether a query call's form asks for GetCallerIdentity: only it is signed for STS and
 * checked; any other is refused as not served, whatever its signature. */
int http_other_is_caller_identity(const char *body, size_t len);
/* The answer to a query call whose signature was checked (who: its principal, NULL without
 * --credentials), as XML (fresh), with its status and its error type (NULL for none). */
char *http_other_query(const char *body, size_t len, const auth_principal *who,
                       const char *request_id, int *status, const char **err_type);
/* The same for a refusal made before the call was read (its JSON body): in XML. */
char *http_other_refusal(const char *json_body, size_t len, const char *err_type,
                         const char *request_id);

/* The body of the answer to a call signed for another service than Batch and CloudWatch Logs
 * (fresh; its status is 400, its error type in *err_type), or NULL when the request is not one:
 * XML for S3; JSON for any other (REST services such as Amazon EFS answer in JSON), with
 * request_id emptied to say so. */
char *http_other_service(struct MHD_Connection *conn, const char **err_type,
                         char *request_id);
#endif
