/* http_uploads — agents' log uploads a stopping server still owes an answer.
 *
 * An agent's log upload is stored before it is answered, and the agent sends a batch again when
 * no answer comes.  A server that stops must therefore not close a connection between the two:
 * the agent would send a stored batch again to the next server, and the stream would hold those
 * lines twice.  So once the server stops taking uploads (http_uploads_close) a new one is
 * refused (answered 503, stored nowhere; the agent sends it again later), and the server waits
 * (http_uploads_drain), before it stops its HTTP daemon, until the answer of every upload it
 * took has gone out. */
#ifndef BARGE_HTTP_UPLOADS_H
#define BARGE_HTTP_UPLOADS_H

/* Uploads are taken (at start, and again after a stop). */
void http_uploads_open(void);
/* An upload arrives: 1 when it is taken (and must be counted answered later), 0 when the
 * server is stopping and it must be refused. */
int http_uploads_take(void);
/* The answer of an upload taken went out, or its connection is gone. */
void http_uploads_answered(void);
/* No upload is taken from now on. */
void http_uploads_close(void);
/* Waits until every upload taken has been answered, at most ms; how many were still
 * unanswered when it gave up (0: none). */
int http_uploads_drain(int ms);
#endif
