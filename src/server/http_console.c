#include "server/http_console.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/base/metrics.h"

/* One built file: its bytes as they are and gzip-compressed, and how a browser may keep it. */
typedef struct console_asset {
    const char *path;
    const char *type;
    const char *etag; /* quoted, from the file's SHA-256 */
    int immutable;    /* its name carries its hash: it never changes under that name */
    const unsigned char *raw;
    size_t raw_len;
    const unsigned char *gz;
    size_t gz_len;
} console_asset;

/* console_assets[], written by console/build.mjs. */
#include <console_assets.inc>

int http_console_wants(const char *method, const char *url)
{
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) return 0;
    return strcmp(url, "/") == 0 || strcmp(url, "/console") == 0 ||
           strncmp(url, "/console/", 9) == 0;
}

/* Whether the client takes gzip: named in Accept-Encoding and not refused with q=0. */
static int takes_gzip(struct MHD_Connection *conn)
{
    const char *ae = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept-Encoding");
    const char *g = ae ? strcasestr(ae, "gzip") : NULL;
    if (!g) return 0;
    g += 4;
    while (*g == ' ') g++;
    if (*g != ';') return 1;
    g++;
    while (*g == ' ') g++;
    if (strncasecmp(g, "q=", 2) != 0) return 1;
    return strtod(g + 2, NULL) > 0;
}

static enum MHD_Result queue(struct MHD_Connection *conn, unsigned status, const void *data,
                             size_t len, const char *type)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
    if (type) MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    metrics_http("Console", (int)status);
    return ret;
}

static enum MHD_Result redirect(struct MHD_Connection *conn, unsigned status)
{
    static const char body[] = "See /console/\n";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "Location", "/console/");
    MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    metrics_http("Console", (int)status);
    return ret;
}

enum MHD_Result http_console_answer(struct MHD_Connection *conn, const char *url)
{
    /* The root's redirect may change (a server could serve something else there one day), so
     * it is temporary; /console without its slash is always /console/. */
    if (strcmp(url, "/") == 0) return redirect(conn, MHD_HTTP_FOUND);
    if (strcmp(url, "/console") == 0) return redirect(conn, MHD_HTTP_MOVED_PERMANENTLY);
    const console_asset *a = NULL;
    for (size_t i = 0; i < sizeof console_assets / sizeof console_assets[0]; i++)
        if (strcmp(console_assets[i].path, url) == 0) a = &console_assets[i];
    if (!a) {
        static const char nf[] = "404: no such file in barge's console; it starts at /console/\n";
        return queue(conn, MHD_HTTP_NOT_FOUND, nf, sizeof nf - 1, "text/plain; charset=utf-8");
    }
    const char *inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
    int fresh = inm && (strstr(inm, a->etag) || strcmp(inm, "*") == 0);
    int gz = !fresh && takes_gzip(conn);
    struct MHD_Response *resp =
        fresh ? MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT)
              : MHD_create_response_from_buffer(gz ? a->gz_len : a->raw_len,
                                                (void *)(gz ? a->gz : a->raw),
                                                MHD_RESPMEM_PERSISTENT);
    if (!fresh) MHD_add_response_header(resp, "Content-Type", a->type);
    if (gz) MHD_add_response_header(resp, "Content-Encoding", "gzip");
    MHD_add_response_header(resp, "Vary", "Accept-Encoding");
    MHD_add_response_header(resp, "ETag", a->etag);
    /* Files named by their hash are kept for a year; the page that names them is checked
     * again each time (a 304 when unchanged), so a new barge's console is seen at once. */
    MHD_add_response_header(resp, "Cache-Control", a->immutable
                                                       ? "public, max-age=31536000, immutable"
                                                       : "no-cache");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    /* The console runs only its own script, and talks only to this server. */
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'none'; script-src 'self'; style-src 'self'; "
                            "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
                            "form-action 'none'; frame-ancestors 'none'");
    unsigned status = fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK;
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    metrics_http("Console", (int)status);
    return ret;
}
