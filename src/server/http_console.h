/* http_console — the web console's files under /console/, and GET / sent there.
 *
 * The files are built from console/ by `make` (esbuild bundles the npm packages pinned by
 * console/package-lock.json) and embedded in the binary as $(BUILD)/gen/console_assets.inc, each
 * as it is and gzip-compressed (docs/console.md).  They are static and unsigned, as any web
 * page's files are; every call the console makes for data goes through the AWS API, signed in
 * the browser like any other client's requests. */
#ifndef BARGE_HTTP_CONSOLE_H
#define BARGE_HTTP_CONSOLE_H
#include <microhttpd.h>

/* Whether a request is the console's to answer: GET or HEAD of /, /console or below it. */
int http_console_wants(const char *method, const char *url);
/* Answers such a request: the file, a redirect, 304 Not Modified or 404.  MHD_queue_response's
 * result. */
enum MHD_Result http_console_answer(struct MHD_Connection *conn, const char *url);
#endif
