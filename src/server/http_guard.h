/* http_guard — time limits on what clients send, so that a slow or silent client cannot hold a
 * connection (and, with enough of them, the server) for long.
 *
 * libmicrohttpd's own timeout is an idle one: any byte resets it, so a client that trickles a
 * byte now and then keeps a connection forever.  Here every connection is timed by phase:
 *
 *   receiving  from the moment it opens (its first request) or its request line arrives (a
 *              later one) until the whole request (headers and body) is in: at most
 *              --request-timeout seconds;
 *   held       from then until the answer is sent: not timed here, since the server, not the
 *              client, holds it (an agent's long poll, a call waiting for its commit);
 *   between    after an answer, until the next request line: at most the idle timeout, which
 *              libmicrohttpd also applies to a connection that sends nothing at all.
 *
 * A sweeper thread closes (shutdown) the connections over their deadline, a quarter of a second
 * at most after it, and those receiving or between whose client has shut its side and left
 * nothing unread (it can send no more), a second or so after.  The front end also asks http_guard_late whenever libmicrohttpd hands it a
 * request: headers that complete late are answered 408 RequestTimeoutException (libmicrohttpd
 * takes an answer then, not in the middle of a body), and a piece of body that comes late closes
 * the connection at once.  The connection records are the sockets' contexts in libmicrohttpd;
 * one mutex guards their list, taken by the HTTP threads when a connection opens or closes and by
 * the sweeper; a request's phase changes are atomics, with no lock. */
#ifndef BARGE_HTTP_GUARD_H
#define BARGE_HTTP_GUARD_H
#include <microhttpd.h>

/* Seconds a request may take to arrive whole, and a kept-alive connection to start its next. */
int http_guard_start(int request_timeout_s, int idle_timeout_s, char **err);
void http_guard_stop(void);

/* libmicrohttpd's MHD_OPTION_NOTIFY_CONNECTION callback. */
void http_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                       enum MHD_ConnectionNotificationCode code);
/* libmicrohttpd's MHD_OPTION_URI_LOG_CALLBACK: a request line is in.  Returns the request's first
 * context: NULL, or for a target no request may have (an encoded NUL, a '%' that starts no
 * escape) a marker that http_guard_fault turns into the sentence to refuse it with. */
void *http_guard_request_line(void *cls, const char *uri, struct MHD_Connection *c);
const char *http_guard_fault(const void *ctx);
/* 1 when the request now being received is past its deadline. */
int http_guard_late(struct MHD_Connection *c);
/* The whole request is in: the server holds it until it answers. */
void http_guard_received(struct MHD_Connection *c);
/* The answer is sent (or the request abandoned): the connection waits for its next request. */
void http_guard_answered(struct MHD_Connection *c);
/* Watches a held connection (an event stream, which waits for the server, not its client):
 * about once a second the sweeper looks whether its client has closed its side and, once it
 * has, calls gone(arg), once, on the sweeper's thread, with no lock of the caller's held.  A
 * suspended connection is not read, so libmicrohttpd does not see its client leave: 500
 * streams dropped at once kept their connections, and with them the address's
 * --max-connections-per-address and every API call from it, until their next keep-alive 15 s
 * later.  gone must not call http_guard_*; unwatch before what arg points to goes (no call
 * is made or under way once it returns). */
void http_guard_watch(struct MHD_Connection *c, void (*gone)(void *arg), void *arg);
void http_guard_unwatch(struct MHD_Connection *c);
/* libmicrohttpd closed a new connection at once, over a limit (per_address, or in_all): it says
 * so for every one, and a client opening thousands would fill the log, so they are counted
 * here and said at most every 10 seconds. */
void http_guard_refused(int per_address, int in_all);

/* A request line and headers larger than this are refused before the request is served: the
 * connection's memory (16 KiB, http_server.c) holds them and the answer's headers, and an
 * answer that does not fit was never sent, after the request had been carried out (an
 * UntagResource of many long tag keys). */
#define HTTP_GUARD_HEAD_MAX 12288
/* A body over its operation's limit is read and dropped, and the refusal sent once it is in,
 * when its Content-Length is at most this: a client still writing when the answer came and the
 * connection closed got a broken pipe instead of the answer, and retried (the Go SDK). */
#define HTTP_GUARD_DRAIN_MAX (8u << 20)
/* The bytes of the request's line (path and query) and headers as a client sends them, the
 * decoded path and query counted as percent-encoded (3 bytes for every byte an SDK escapes). */
size_t http_guard_head_bytes(struct MHD_Connection *c, const char *url);
#endif
