/* http_sse — GET /barge/v1/events: job state change events as Server-Sent Events.
 *
 * The stream is a chain of GetEvents long polls (api/api_events.c) that the connection makes
 * itself: each answer's events are written as `id: SEQ`, `event: Batch Job State Change` and
 * `data: EVENT` (one line of JSON), then the next poll starts after the last seq.  Between
 * events the connection is suspended, so a stream holds no HTTP thread; a poll that ends
 * without an event writes a comment line, which keeps proxies from closing the stream and lets
 * the server notice a client that went away.  A client resumes where it stopped with the
 * `Last-Event-ID` header (EventSource sends it by itself), or `after` in the query string;
 * `queue` and `status` (repeated, or separated by commas) filter. */
#ifndef BARGE_HTTP_SSE_H
#define BARGE_HTTP_SSE_H
#include <jansson.h>
#include <microhttpd.h>

#include "server/api/api.h"
#include "server/api/auth.h"

/* GetEvents' request from the stream's query string and headers, into *req (fresh); NULL, or a
 * sentence saying what is wrong (static, or this thread's until its next query). */
const char *http_sse_request(struct MHD_Connection *conn, json_t **req);
/* The same in two steps, for a caller that holds the query's parameters itself: each parameter
 * as libmicrohttpd hands them (decoded; value NULL for a key without '='), whose strings must
 * outlive the query, then the request with the Last-Event-ID header (NULL when absent), which
 * wins over after.  A query starts zeroed; http_sse_query_request ends it. */
typedef struct http_sse_query {
    json_t *status;
    const char *queue, *after, *bad;
} http_sse_query;
void http_sse_arg(http_sse_query *q, const char *key, const char *value);
const char *http_sse_query_request(http_sse_query *q, const char *last_event_id, json_t **req);
/* Where the poll after an answer of the stream (text, len) starts: the seq of its last line,
 * the comment ": at SEQ" (api_events.c), or -1 when it has none. */
long long http_sse_resume_at(const char *text, size_t len);
/* Starts the stream on conn for request req (taken), whose first poll (made with "wait": 0, so
 * that a bad request is refused before the stream starts) answered first: the answer's
 * headers, those events, then the others as they come.  who signed the request (NULL without
 * keys), held by the caller until the connection completes: each later poll is made only
 * while who may still make it (auth_still_allowed), so that a stream does not outlive its key.
 * MHD_queue_response's result; call it from the request's handler. */
enum MHD_Result http_sse_start(struct MHD_Connection *conn, const api_op *op, json_t *req,
                               const auth_principal *who, const char *first, size_t first_len);
#endif
