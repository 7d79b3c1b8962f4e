#include "common/httpc.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "common/mem.h"

/* An interruptible request's wait ends at least this often, so that its abandon check runs even
 * when nobody wakes it. */
#define WAIT_SLICE_MS 1000

struct httpc {
    httpc_options o;
    CURL *curl;
    CURLM *multi; /* interruptible handles only */
    struct curl_slist *headers;
    buf body, resp_headers;
    long status;
    int too_long; /* the answer's body passed max_body */
    char error[CURL_ERROR_SIZE];
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    buf_append(ud, p, size * n);
    return size * n;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    httpc *h = ud;
    size_t len = size * n;
    if (h->o.discard_body) return len;
    if (h->o.max_body && len > h->o.max_body - h->body.len) {
        h->too_long = 1;
        return 0; /* libcurl ends the transfer */
    }
    buf_append(&h->body, p, len);
    return len;
}

/* CURLOPT_SOCKOPTFUNCTION for reset_on_close: a close resets the connection and drops what is
 * unsent.  A connection closed after its answer came has nothing unsent, so only the peer's
 * view of the close changes (a reset rather than a FIN). */
static int reset_on_close(void *ud, curl_socket_t fd, curlsocktype purpose)
{
    (void)ud;
    if (purpose == CURLSOCKTYPE_IPCXN) {
        struct linger l = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    return CURL_SOCKOPT_OK;
}

/* An empty Expect: header keeps libcurl from sending one of its own. */
static struct curl_slist *fresh_headers(void)
{
    return curl_slist_append(NULL, "Expect:");
}

httpc *httpc_new(const httpc_options *o)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return NULL;
    httpc *h = xcalloc(1, sizeof *h);
    h->o = *o;
    h->curl = curl_easy_init();
    if (o->abandon) h->multi = curl_multi_init();
    if (!h->curl || (o->abandon && !h->multi)) {
        httpc_free(h);
        return NULL;
    }
    h->headers = fresh_headers();
    CURL *c = h->curl;
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    if (o->tcp_keepalive) curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    if (o->user_agent) curl_easy_setopt(c, CURLOPT_USERAGENT, o->user_agent);
    if (o->reset_on_close) curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, reset_on_close);
    /* Verification is libcurl's default; it is never turned off here.  A CA file replaces the
     * system's bundle, and libcurl also accepts a certificate in it that is not a CA's (the
     * server's own, self-signed or not), which is how a server's local agents trust it. */
    if (o->ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, o->ca_file);
    /* A Content-Length past the limit ends the request before any of the body is read. */
    if (o->max_body && !o->discard_body)
        curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h->resp_headers);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->error);
    return h;
}

void httpc_free(httpc *h)
{
    if (!h) return;
    if (h->curl) curl_easy_cleanup(h->curl);
    if (h->multi) curl_multi_cleanup(h->multi);
    curl_slist_free_all(h->headers);
    buf_free(&h->body);
    buf_free(&h->resp_headers);
    free(h);
    curl_global_cleanup();
}

void httpc_header(httpc *h, const char *fmt, ...)
{
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *line = xmalloc((size_t)(n > 0 ? n : 0) + 1);
    vsnprintf(line, (size_t)(n > 0 ? n : 0) + 1, fmt, again);
    va_end(again);
    struct curl_slist *l = curl_slist_append(h->headers, line);
    if (l) h->headers = l;
    free(line);
}

void httpc_clear_headers(httpc *h)
{
    curl_slist_free_all(h->headers);
    h->headers = fresh_headers();
}

/* Runs the request on the handle's multi interface rather than curl_easy_perform, because its
 * wait can be interrupted (httpc_wake).  Returns the transfer's result; *aborted is set when
 * the abandon check gave it up. */
static CURLcode perform_interruptible(httpc *h, int *aborted)
{
    CURLcode rc = CURLE_OK;
    CURLMcode mc = curl_multi_add_handle(h->multi, h->curl);
    int running = mc == CURLM_OK;
    while (running) {
        if ((mc = curl_multi_perform(h->multi, &running)) != CURLM_OK) break;
        if (!running) break;
        if (h->o.abandon(h->o.ctx)) {
            *aborted = 1;
            break;
        }
        curl_multi_poll(h->multi, NULL, 0, WAIT_SLICE_MS, NULL);
    }
    int left;
    CURLMsg *m;
    while ((m = curl_multi_info_read(h->multi, &left)) != NULL)
        if (m->msg == CURLMSG_DONE) rc = m->data.result;
    curl_multi_remove_handle(h->multi, h->curl);
    if (mc != CURLM_OK && rc == CURLE_OK) {
        snprintf(h->error, sizeof h->error, "%s", curl_multi_strerror(mc));
        rc = CURLE_FAILED_INIT;
    }
    return rc;
}

/* One request: a POST of body, or a GET (a HEAD with head) when body is NULL. */
static httpc_rc exchange(httpc *h, const char *url, const char *body, size_t len, int head,
                         long timeout_ms)
{
    CURL *c = h->curl;
    h->body.len = h->resp_headers.len = 0;
    if (h->body.data) h->body.data[0] = '\0';
    h->status = 0;
    h->too_long = 0;
    h->error[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
    /* A handle that made a HEAD must be told the next is not one.  A HEAD's answer has no
     * body, whatever its Content-Length says (libcurl would hold it to max_body too). */
    curl_easy_setopt(c, CURLOPT_NOBODY, head ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)(head || h->o.discard_body ? 0 : h->o.max_body));
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (!head) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    int aborted = 0;
    CURLcode rc = h->multi ? perform_interruptible(h, &aborted) : curl_easy_perform(c);
    if (aborted) {
        snprintf(h->error, sizeof h->error, "the request was abandoned");
        return HTTPC_ABORTED;
    }
    if (rc != CURLE_OK) {
        if (h->too_long || rc == CURLE_FILESIZE_EXCEEDED) {
            snprintf(h->error, sizeof h->error, "the answer is longer than %zu bytes",
                     h->o.max_body);
            return HTTPC_TOO_LONG;
        }
        if (!h->error[0]) snprintf(h->error, sizeof h->error, "%s", curl_easy_strerror(rc));
        if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE) {
            char why[CURL_ERROR_SIZE];
            snprintf(why, sizeof why, "%s", h->error);
            snprintf(h->error, sizeof h->error, "%s (%.180s)",
                     rc == CURLE_SSL_CACERT_BADFILE
                         ? "the CA file cannot be read as PEM certificates"
                         : "the server's TLS certificate is not trusted",
                     why);
            return HTTPC_UNTRUSTED;
        }
        /* A TLS server closes a connection that does not start with a TLS handshake. */
        if (rc == CURLE_GOT_NOTHING && strncmp(url, "http://", 7) == 0)
            snprintf(h->error, sizeof h->error, "the server closed the connection without an "
                                                "answer; if it serves HTTPS, use an https:// URL");
        /* A timeout counts as unreachable only if no connection was made: a server that
         * accepted the request and went quiet is stuck, not absent. */
        curl_off_t connected = 0;
        curl_easy_getinfo(c, CURLINFO_CONNECT_TIME_T, &connected);
        int unreachable = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
                          rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_SSL_CONNECT_ERROR ||
                          (rc == CURLE_OPERATION_TIMEDOUT && connected == 0);
        return unreachable ? HTTPC_UNREACHABLE : HTTPC_FAILED;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &h->status);
    return HTTPC_OK;
}

httpc_rc httpc_post(httpc *h, const char *url, const char *body, size_t len, long timeout_ms)
{
    return exchange(h, url, body ? body : "", len, 0, timeout_ms);
}

httpc_rc httpc_get(httpc *h, const char *url, long timeout_ms)
{
    return exchange(h, url, NULL, 0, 0, timeout_ms);
}

httpc_rc httpc_head(httpc *h, const char *url, long timeout_ms)
{
    return exchange(h, url, NULL, 0, 1, timeout_ms);
}

long httpc_status(const httpc *h)
{
    return h->status;
}

const char *httpc_body(const httpc *h, size_t *len)
{
    *len = h->body.len;
    return h->body.len ? h->body.data : "";
}

char *httpc_header_value(const httpc *h, const char *name)
{
    size_t nlen = strlen(name);
    const char *found = NULL, *found_end = NULL;
    const char *p = h->resp_headers.data, *end = p + h->resp_headers.len;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *next = nl ? nl + 1 : end;
        if ((size_t)(next - p) > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1, *ve = next;
            while (v < ve && isspace((unsigned char)*v)) v++;
            while (ve > v && isspace((unsigned char)ve[-1])) ve--;
            found = v;
            found_end = ve;
        }
        p = next;
    }
    return found ? xstrndup(found, (size_t)(found_end - found)) : NULL;
}

const char *httpc_error(const httpc *h)
{
    return h->error;
}

void httpc_wake(httpc *h)
{
    if (h && h->multi) curl_multi_wakeup(h->multi);
}
