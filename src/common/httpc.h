/* httpc — the HTTP client of the agent and the CLI: a connection to one server, kept open from
 * one request to the next, that POSTs a body and keeps the answer's status, headers and body.
 * It is the only code that speaks to libcurl, so that both programs send requests the same
 * way and libcurl is set up in one place.
 *
 * A handle made with an abandon check is interruptible: its request runs on a multi handle of
 * its own, whose wait httpc_wake cuts short, and the check decides whether to give the request
 * up.  The agent keeps a long poll open this way and can still stop at once.
 *
 * Threading: a handle is used by one thread at a time; only httpc_wake may be called from any
 * thread, at any time between httpc_new and httpc_free.  httpc_new and httpc_free set libcurl
 * up and down (curl_global_init and curl_global_cleanup, which libcurl before 7.84 does not make
 * thread-safe): make and free handles while no other thread does, for example before starting
 * threads and after joining them. */
#ifndef BARGE_HTTPC_H
#define BARGE_HTTPC_H
#include <stddef.h>

typedef struct httpc httpc;

typedef struct httpc_options {
    long connect_timeout_ms;
    int tcp_keepalive;      /* send keep-alive probes on the connection while it is idle */
    const char *user_agent; /* NULL: no User-Agent header */
    /* PEM file of the certificates that https:// servers are verified against (CURLOPT_CAINFO);
     * NULL: the system's.  The server's certificate must also name the URL's host. */
    const char *ca_file;
    /* Optional: makes the handle interruptible.  Called while a request is in flight, after
     * every httpc_wake and at least once a second; nonzero abandons the request. */
    int (*abandon)(void *ctx);
    void *ctx;
    /* The longest answer body taken (0: any), so that a peer cannot fill the memory: a longer
     * answer fails the request (HTTPC_TOO_LONG, and httpc_error says so), as soon as its
     * Content-Length announces it or its body passes the limit.  With discard_body the
     * body is not kept at all (httpc_body gives ""), for a peer whose status alone counts. */
    size_t max_body;
    int discard_body;
    /* A connection closed with a request not yet delivered (given up on a timeout, abandoned)
     * is reset (SO_LINGER 0) rather than closed: the kernel drops what it still had to send
     * instead of delivering it once the network heals, so that a request the caller sends again
     * is not also handled late in its first form (a log batch stored twice).  Set by callers
     * that retry what did not get an answer. */
    int reset_on_close;
} httpc_options;

/* A new handle, or NULL when libcurl cannot make one.  The options are copied. */
httpc *httpc_new(const httpc_options *o);
/* Closes the connection and frees the handle; NULL is ignored. */
void httpc_free(httpc *h);

/* Adds a request header, "Name: value", sent with every request until httpc_clear_headers.
 * No request sends "Expect: 100-continue": libcurl would wait for an answer to it before
 * sending a large body. */
void httpc_header(httpc *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void httpc_clear_headers(httpc *h);

typedef enum {
    HTTPC_OK = 0,           /* an answer came, whatever its status */
    HTTPC_UNREACHABLE = -1, /* no connection was made: refused, unresolvable, TLS failed, or
                             * timed out before connecting */
    HTTPC_FAILED = -2,      /* connected, but no complete answer: reset, or timed out waiting */
    HTTPC_ABORTED = -3,     /* the abandon check gave the request up */
    HTTPC_UNTRUSTED = -4,   /* the server's TLS certificate did not verify (or the CA file
                             * could not be read): no request was sent */
    HTTPC_TOO_LONG = -5,    /* the answer's body is longer than max_body: asking again would
                             * bring the same */
} httpc_rc;

/* POSTs len bytes of body to url; the whole exchange must end within timeout_ms (0: no limit).
 * What the previous request brought back is forgotten first.  After a failure httpc_error says
 * why. */
httpc_rc httpc_post(httpc *h, const char *url, const char *body, size_t len, long timeout_ms);
/* GETs url, as httpc_post POSTs. */
httpc_rc httpc_get(httpc *h, const char *url, long timeout_ms);
/* Asks url with HEAD: the answer's status and headers, no body. */
httpc_rc httpc_head(httpc *h, const char *url, long timeout_ms);

/* The answer's HTTP status; 0 when none came. */
long httpc_status(const httpc *h);
/* The answer's body (NUL-terminated, "" when empty) and its length. */
const char *httpc_body(const httpc *h, size_t *len);
/* The value of the answer's last header called name (any case), without surrounding blanks, in
 * a fresh string; NULL when there is none. */
char *httpc_header_value(const httpc *h, const char *name);
/* Why the last request failed, for people. */
const char *httpc_error(const httpc *h);

/* Interrupts the wait of an interruptible handle's request, so that its abandon check runs at
 * once; a wake that comes while no request is in flight cuts the next wait short.  Any thread;
 * does nothing for a handle that is not interruptible. */
void httpc_wake(httpc *h);
#endif
