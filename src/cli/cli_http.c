#include "cli/cli_http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/mem.h"
#include "common/sigv4.h"

#define DEFAULT_ENDPOINT "http://127.0.0.1:8900"

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

void cli_ctx_init(cli_ctx *c, const char *prog)
{
    memset(c, 0, sizeof *c);
    c->prog = prog;
    c->endpoint = env_or("BARGE_ENDPOINT", DEFAULT_ENDPOINT);
    c->region = env_or("AWS_REGION", env_or("AWS_DEFAULT_REGION", "us-east-1"));
    /* A server in --dev accepts any key, so the CLI works out of the box without AWS setup. */
    c->access_key = env_or("AWS_ACCESS_KEY_ID", "barge");
    c->secret_key = env_or("AWS_SECRET_ACCESS_KEY", "barge");
    c->session_token = env_or("AWS_SESSION_TOKEN", NULL);
}

int cli_ctx_open(cli_ctx *c)
{
    const char *e = c->endpoint;
    size_t scheme = strncmp(e, "http://", 7) == 0 ? 7 : strncmp(e, "https://", 8) == 0 ? 8 : 0;
    size_t auth_len = scheme ? strcspn(e + scheme, "/?#") : 0;
    const char *rest = e + scheme + auth_len;
    if (!scheme || auth_len == 0 || strchr(rest, '?') || strchr(rest, '#') ||
        strpbrk(e, " \t\r\n")) {
        fprintf(stderr, "%s: the endpoint '%s' is not a URL like %s (set by --endpoint or "
                        "$BARGE_ENDPOINT)\n", c->prog, e, DEFAULT_ENDPOINT);
        return 2;
    }
    c->base = xstrndup(e, scheme + auth_len);
    c->host = xstrndup(e + scheme, auth_len);
    /* A trailing slash on the endpoint is common and means nothing. */
    size_t plen = strlen(rest);
    while (plen && rest[plen - 1] == '/') plen--;
    c->prefix = xstrndup(rest, plen);
    return 0;
}

void cli_ctx_close(cli_ctx *c)
{
    if (c->curl) {
        curl_easy_cleanup(c->curl);
        curl_global_cleanup();
    }
    free(c->base);
    free(c->host);
    free(c->prefix);
    c->curl = NULL;
    c->base = c->host = c->prefix = NULL;
}

void cli_error_free(cli_error *e)
{
    free(e->type);
    free(e->message);
    memset(e, 0, sizeof *e);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    buf_append(ud, p, size * n);
    return size * n;
}

/* Keeps the x-amzn-ErrorType header: AWS puts the error's type there, and some errors have
 * no body to carry it. */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    static const char name[] = "x-amzn-errortype:";
    size_t len = size * n;
    char **type = ud;
    if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
        const char *v = p + sizeof name - 1;
        const char *end = p + len;
        while (v < end && isspace((unsigned char)*v)) v++;
        /* "ClientException:http://internal.amazon.com/coral/..." names the type first. */
        size_t vl = 0;
        while (v + vl < end && v[vl] != ':' && !isspace((unsigned char)v[vl])) vl++;
        free(*type);
        *type = vl ? xstrndup(v, vl) : NULL;
    }
    return len;
}

/* Reads an error answer: the type from the header or the body's __type (which may be
 * "namespace#Type"), the message from "message" or "Message". */
static void parse_error(long status, const buf *body, char *header_type, cli_error *err)
{
    err->http_status = status;
    err->type = header_type;
    json_t *j = body->len ? json_loadb(body->data, body->len, 0, NULL) : NULL;
    if (json_is_object(j)) {
        const char *t = json_string_value(json_object_get(j, "__type"));
        if (!err->type && t && *t) {
            const char *hash = strrchr(t, '#');
            err->type = xstrdup(hash ? hash + 1 : t);
        }
        const char *m = json_string_value(json_object_get(j, "message"));
        if (!m) m = json_string_value(json_object_get(j, "Message"));
        if (m) err->message = xstrdup(m);
    }
    json_decref(j);
    if (!err->message) {
        /* Not an AWS-shaped error: a proxy or another program answered.  Show the start of
         * what it said, on one line. */
        char snippet[161] = "";
        size_t n = body->len < sizeof snippet - 1 ? body->len : sizeof snippet - 1;
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)body->data[i];
            snippet[i] = (char)(ch < 0x20 ? ' ' : ch);
        }
        snippet[n] = '\0';
        err->message = n ? xasprintf("HTTP %ld: %s", status, snippet)
                         : xasprintf("HTTP %ld with an empty body", status);
    }
}

static char *lower(const char *s)
{
    char *out = xstrdup(s);
    for (char *p = out; *p; p++) *p = (char)tolower((unsigned char)*p);
    return out;
}

int cli_call(cli_ctx *c, const char *service, const char *op, json_t *req, json_t **resp,
             cli_error *err)
{
    memset(err, 0, sizeof *err);
    *resp = NULL;
    if (!c->curl) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        c->curl = curl_easy_init();
        if (!c->curl) {
            err->message = xstrdup("cannot initialise libcurl");
            return -1;
        }
    }
    int logs = strcmp(service, "logs") == 0;
    char *path;
    char *target = NULL;
    if (logs) {
        path = xasprintf("%s/", c->prefix);
        target = xasprintf("Logs_20140328.%s", op);
    } else {
        char *lop = lower(op);
        path = xasprintf("%s/v1/%s", c->prefix, lop);
        free(lop);
    }
    char *body = json_dumps(req, JSON_COMPACT);
    if (!body) body = xstrdup("{}");
    const char *ctype = logs ? "application/x-amz-json-1.1" : "application/json";

    sigv4_header hs[3] = {{"Host", c->host}, {"Content-Type", ctype}, {"X-Amz-Target", target}};
    sigv4_request sreq = {"POST", path, NULL, hs, logs ? 3 : 2, body, strlen(body)};
    sigv4_credentials cred = {c->access_key, c->secret_key, c->session_token, c->region,
                              service};
    sigv4_signed sig;
    char sigerr[200];
    int rc = -1;
    struct curl_slist *hl = NULL;
    buf out = {0}, line = {0};
    char *header_type = NULL;
    char *url = xasprintf("%s%s", c->base, path);
    if (sigv4_sign(&sreq, &cred, time(NULL), &sig, sigerr, sizeof sigerr) < 0) {
        err->message = xstrdup(sigerr);
        goto done;
    }

#define ADD_HEADER(...)                                                                       \
    do {                                                                                      \
        line.len = 0;                                                                         \
        buf_printf(&line, __VA_ARGS__);                                                       \
        hl = curl_slist_append(hl, line.data);                                                \
    } while (0)
    ADD_HEADER("Host: %s", c->host);
    ADD_HEADER("Content-Type: %s", ctype);
    if (target) ADD_HEADER("X-Amz-Target: %s", target);
    ADD_HEADER("X-Amz-Date: %s", sig.amz_date);
    if (c->session_token) ADD_HEADER("X-Amz-Security-Token: %s", c->session_token);
    ADD_HEADER("Authorization: %s", sig.authorization);
    /* Without this curl waits for "100 Continue" before sending a large body. */
    hl = curl_slist_append(hl, "Expect:");
#undef ADD_HEADER

    char curlerr[CURL_ERROR_SIZE] = "";
    CURL *h = c->curl;
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "barge-cli");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &header_type);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curlerr);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    /* The server answers every call promptly (it never long-polls the CLI); a minute means it
     * is stuck, and the user should hear about it rather than wait forever. */
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        /* A timeout counts as unreachable only if no connection was made: a server that
         * accepted the request and went quiet is stuck, not absent. */
        curl_off_t connected = 0;
        curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connected);
        err->unreachable = cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
                           cc == CURLE_COULDNT_RESOLVE_PROXY || cc == CURLE_SSL_CONNECT_ERROR ||
                           (cc == CURLE_OPERATION_TIMEDOUT && connected == 0);
        err->message = xstrdup(*curlerr ? curlerr : curl_easy_strerror(cc));
        goto done;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        parse_error(status, &out, header_type, err);
        header_type = NULL;
        goto done;
    }
    json_error_t jerr;
    json_t *j = out.len ? json_loadb(out.data, out.len, 0, &jerr) : json_object();
    if (!json_is_object(j)) {
        json_decref(j);
        err->http_status = status;
        err->message = xasprintf("the answer to %s is not a JSON object; is %s a barge server?",
                                 op, c->endpoint);
        goto done;
    }
    *resp = j;
    rc = 0;
done:
    curl_slist_free_all(hl);
    sigv4_signed_free(&sig);
    buf_free(&out);
    buf_free(&line);
    free(header_type);
    free(url);
    free(body);
    free(path);
    free(target);
    return rc;
}

void cli_error_print(const cli_ctx *c, const char *op, const cli_error *e)
{
    if (e->unreachable) {
        fprintf(stderr, "%s: cannot reach a barge server at %s (%s).\n"
                        "Start one with `barge server --dev`, or point --endpoint (or "
                        "$BARGE_ENDPOINT) at a running server.\n",
                c->prog, c->endpoint, e->message);
    } else if (!e->http_status) {
        fprintf(stderr, "%s: %s failed against %s: %s\n", c->prog, op, c->endpoint, e->message);
    } else if (e->type && strcmp(e->type, "ClientException") == 0) {
        /* The caller's mistake: the server's sentence names the field and what is wrong. */
        fprintf(stderr, "%s: %s\n", c->prog, e->message);
    } else if (e->type) {
        fprintf(stderr, "%s: %s: %s\n", c->prog, e->type, e->message);
    } else if (e->http_status == 404) {
        fprintf(stderr, "%s: the server at %s does not offer %s (%s); is it a barge server, "
                        "and a recent one?\n", c->prog, c->endpoint, op, e->message);
    } else {
        fprintf(stderr, "%s: %s failed: %s\n", c->prog, op, e->message);
    }
}

int cli_batch(cli_ctx *c, const char *op, json_t *req, json_t **resp)
{
    cli_error e;
    if (cli_call(c, "batch", op, req, resp, &e) == 0) return 0;
    cli_error_print(c, op, &e);
    cli_error_free(&e);
    return 1;
}
