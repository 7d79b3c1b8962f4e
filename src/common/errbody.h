/* errbody — the body of an AWS error answer: {"__type": type, "message": msg}.
 *
 * The core, the HTTP front end and every API (AWS Batch, CloudWatch Logs, the agent protocol)
 * answer errors in this one shape, so it is built in one place. */
#ifndef BARGE_ERRBODY_H
#define BARGE_ERRBODY_H
#include <stddef.h>

/* Fresh text.  The message is cut to fit and made valid UTF-8 first: it often echoes request
 * text. */
char *errbody_new(const char *type, const char *msg);
/* The same in the XML of AWS's query protocol (STS, SQS, EC2...):
 * <ErrorResponse><Error><Type>Sender</Type><Code>...</Code><Message>...</Message></Error>
 * <RequestId>...</RequestId></ErrorResponse>; or with s3 in S3's own shape,
 * <Error><Code>...</Code><Message>...</Message><RequestId>...</RequestId></Error>, which S3's
 * parsers read (barge serves none of those services, but a client pointed at it for all of
 * them should learn why). */
char *errbody_xml(const char *code, const char *msg, const char *request_id, int s3);
/* The message of a JSON error body, fit for an HTTP header (x-amzn-ErrorMessage): its first 256
 * bytes, controls made spaces and bytes past ASCII '?'; fresh, or NULL when the body has none.  The AWS SDK for Go
 * before 1.44.222 reads a REST-JSON error's message from that header alone once the type
 * header is there. */
char *errbody_header_message(const char *body, size_t len);
/* Appends s with XML's five special characters escaped. */
struct buf;
void errbody_xml_text(struct buf *b, const char *s);
#endif
