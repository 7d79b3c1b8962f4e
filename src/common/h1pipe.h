/* h1pipe — POSTs pipelined on one HTTP/1.1 connection: a window of requests written at once,
 * their answers read in the order they were sent.
 *
 * Every other request barge makes goes through libcurl (common/httpc.h), which stopped
 * pipelining in 7.65.  A webhook target taking one event a POST paid a whole round trip an
 * event through it: a write, three polls and a read, and libcurl's own setting up of each
 * request, about 40 µs of the server's CPU an event on loopback, as much as the SubmitJob that
 * made it.  A window written by one writev and answered in a read or two costs a seventh of
 * that (docs/performance.md).  HTTP/1.1 servers answer pipelined requests one after the other
 * in order (RFC 9112, 9.3.2); one that closes the connection leaves the requests after its
 * last answer unanswered, and the caller sends them again.
 *
 * http:// only: no TLS, and no proxy (the environment's http_proxy is not read).  User
 * information in the URL ("http://user:password@host/") is sent as Basic authorization, as
 * libcurl sends it.  An idle connection the server closed between two calls is noticed when
 * no answer at all comes, and the window is sent once more on a new connection.
 *
 * Threading: a handle is used by one thread; only h1pipe_wake may be called from another. */
#ifndef BARGE_H1PIPE_H
#define BARGE_H1PIPE_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct h1pipe h1pipe;

typedef struct h1pipe_req {
    /* The request's own header lines, each ending "\r\n" (the request line, Host, User-Agent,
     * Authorization and Content-Length are h1pipe's). */
    const char *head;
    size_t head_len;
    const char *body;
    size_t len;
    long status; /* set by h1pipe_post: the answer's status, or 0 when none came */
} h1pipe_req;

/* A handle for POSTs to url (not connected yet), or NULL with *err set to a fresh sentence when
 * url is not an http:// URL it can post to.  user_agent may be NULL (no User-Agent header). */
h1pipe *h1pipe_new(const char *url, const char *user_agent, long connect_timeout_ms,
                   char **err);
void h1pipe_free(h1pipe *p);

/* Sends reqs[0..n) pipelined (connecting first when there is no connection), and reads their
 * answers in order, each one's status into its req; the answers' bodies are read and dropped.
 * Returns how many were answered (a prefix): n, or fewer when the connection failed, closed,
 * sent something that is not HTTP, or went timeout_ms without a whole answer (the rest have
 * status 0; h1pipe_error says why, and the connection is closed, to be opened again by the
 * next call), or when h1pipe_wake was called.  Each answer must be whole within timeout_ms of
 * the one before it (of the call, for the first), however its bytes trickle in. */
int h1pipe_post(h1pipe *p, h1pipe_req *reqs, int n, long timeout_ms);

/* Why the last h1pipe_post answered fewer than it was given. */
const char *h1pipe_error(const h1pipe *p);

/* From any thread: the call in flight, and every call after, returns at once. */
void h1pipe_wake(h1pipe *p);

/* One answer being read: the parser of h1pipe_post, exposed for its tests. */
typedef struct h1answer {
    int state;      /* H1A_HEAD ... (h1pipe.c) */
    long status;    /* the final answer's status, once its head is read */
    int close;      /* the server closes the connection after this answer */
    uint64_t left;  /* bytes of the body (or of the chunk) still to skip */
    int informational; /* 1xx heads read before it */
} h1answer;

/* Starts reading the next answer. */
void h1answer_init(h1answer *a);
/* Takes what of data[0..len) belongs to the answer being read; returns how many bytes it took
 * (the rest are the next answer's), or -1 with *why set when the bytes are not an HTTP/1.x
 * answer.  *done is set once the answer is complete.  A head must be whole in data to be
 * taken: with none taken and no error, the caller reads more and calls again with all of it.
 * An answer whose body runs to the connection's end takes everything; h1answer_eof ends it. */
ssize_t h1answer_feed(h1answer *a, const char *data, size_t len, int *done, const char **why);
/* The connection ended: 1 when that completes the answer (a body delimited by the end), 0 when
 * the answer is cut short. */
int h1answer_eof(const h1answer *a);

/* The most requests one h1pipe_post takes (a window larger than this gains nothing: the round
 * trip is already shared by as many). */
#define H1PIPE_WINDOW_MAX 256

/* The longest answer head taken: a server sending more without a blank line is not speaking
 * HTTP. */
#define H1PIPE_HEAD_MAX 65536
#endif
