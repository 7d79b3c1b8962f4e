/* http_server — the HTTP front end (libmicrohttpd).
 *
 * HTTP threads read the body, parse and type-check it, and hand the call to the core; the
 * connection is suspended until the core has committed and answered, so no thread waits.  Log
 * requests (CloudWatch Logs reads, agents' uploads) go to log threads of their own the same way,
 * since they may block on the log store: an HTTP thread polls many connections, agents'
 * exchanges and /healthz among them, and never runs anything that blocks. */
#ifndef BARGE_HTTP_SERVER_H
#define BARGE_HTTP_SERVER_H

/* Serves HTTPS with this certificate (and chain) and key, PEM text that must outlive the
 * server; call before http_start.  Returns 0, or -1 with *err set when this libmicrohttpd was
 * built without TLS. */
int http_use_tls(const char *cert_pem, const char *key_pem, char **err);
/* Starts listening on host:port (port 0 picks a free one).  Returns 0, or -1 with *err set. */
int http_start(const char *host, int port, int threads, char **err);
/* The port actually bound. */
int http_port(void);
/* Stops accepting new connections (answers already queued still go out). */
void http_quiesce(void);
/* Refuses agents' log uploads from now on (503: send them again) and answers those taken, each
 * once it is stored: before a leader lets go of the shared store, so that every line it
 * acknowledged was copied there for the next one.  http_stop does it too. */
void http_stop_uploads(void);
void http_stop(void);
#endif
