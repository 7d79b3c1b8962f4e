/* api_client — see api_client.h. */
#include "api_client.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"

/* The next line of the input, without its '\n' (malloc'd); NULL when there is none, or when it
 * is too long or holds a NUL. */
static char *take_line(const char **p, const char *end)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = nl ? (size_t)(nl - *p) : 0;
    if (!nl || n > 2048 || memchr(*p, '\0', n)) return NULL;
    char *line = xstrndup(*p, n);
    *p = nl + 1;
    return line;
}

/* Whether a header's name is one a client may sign: HTTP's token characters. */
static int token_name(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", *s))
            return 0;
    return 1;
}

int client_read(client_input *in, const uint8_t *data, size_t size)
{
    memset(in, 0, sizeof *in);
    const char *p = (const char *)data, *end = p + size;
    char *line;
    while (in->nheld < CLIENT_HEADERS + 3 && (line = take_line(&p, end)) != NULL) {
        in->held[in->nheld++] = line;
        if (in->nheld == 1 && strcmp(line, "!") == 0) {
            in->fresh = 1;
            continue;
        }
        if (in->nheld == 1 + (size_t)in->fresh && line[0] == '@') {
            in->who = line + 1;
            continue;
        }
        if (line[0] != '+' && line[0] != '=' && line[0] != '-') {
            in->line = line;
            in->body = p;
            in->blen = (size_t)(end - p);
            return 0;
        }
        /* libmicrohttpd drops the blanks that start a value, and keeps those that end it. */
        char *colon = strchr(line, ':');
        const char *v = colon ? colon + 1 : "";
        if (colon) *colon = '\0';
        while (*v == ' ' || *v == '\t') v++;
        if (line[0] == '+' && !token_name(line + 1)) return -1;
        if (in->ned < CLIENT_HEADERS) in->ed[in->ned++] = (client_edit){line[0], line + 1, v};
    }
    return -1;
}

void client_input_free(client_input *in)
{
    for (size_t i = 0; i < in->nheld; i++) free(in->held[i]);
    for (size_t i = 0; i < CLIENT_HEADERS; i++) free(in->made[i]);
    memset(in, 0, sizeof *in);
}

static void headers_add(client_headers *hs, const char *name, const char *value)
{
    if (hs->n < sizeof hs->h / sizeof *hs->h) hs->h[hs->n++] = (sigv4_header){name, value};
}

static void headers_edit(client_headers *hs, const client_edit *ed, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (ed[i].kind == '+') continue;
        size_t k = 0;
        for (size_t j = 0; j < hs->n; j++)
            if (strcasecmp(hs->h[j].name, ed[i].name) != 0) hs->h[k++] = hs->h[j];
        hs->n = k;
        if (ed[i].kind == '=') headers_add(hs, ed[i].name, ed[i].value);
    }
}

void client_unsigned(const client_input *in, client_headers *out)
{
    out->n = 0;
    for (size_t i = 0; i < in->ned; i++)
        if (in->ed[i].kind == '+') headers_add(out, in->ed[i].name, in->ed[i].value);
    headers_edit(out, in->ed, in->ned);
}

const char *client_header(const client_headers *hs, const char *name)
{
    for (size_t i = 0; i < hs->n; i++)
        if (strcasecmp(hs->h[i].name, name) == 0) return hs->h[i].value;
    return NULL;
}

static void decode(char *s)
{
    for (char *c = s; *c; c++)
        if (*c == '+') *c = ' ';
    MHD_http_unescape(s);
}

void client_query_parse(client_query *q, char *s)
{
    q->n = 0;
    /* Every part between '&'s counts, an empty one too, but for one after a last '&'. */
    while (s && *s && q->n < CLIENT_PAIRS) {
        char *amp = strchr(s, '&');
        if (amp) *amp = '\0';
        char *eq = strchr(s, '=');
        if (eq) *eq++ = '\0';
        decode(s);
        if (eq) decode(eq);
        q->key[q->n] = s;
        q->value[q->n++] = eq;
        s = amp ? amp + 1 : NULL;
    }
}

char *client_query_text(const client_query *q)
{
    buf b = {0};
    for (size_t i = 0; i < q->n; i++) {
        const char *v = q->value[i] ? q->value[i] : "";
        if (i) buf_puts(&b, "&");
        sigv4_uri_encode(&b, q->key[i], strlen(q->key[i]), 0);
        buf_puts(&b, "=");
        sigv4_uri_encode(&b, v, strlen(v), 0);
    }
    return b.data;
}

int client_untouched(const client_input *in)
{
    char sha[65];
    sigv4_sha256_hex(in->body, in->blen, sha);
    for (size_t i = 0; i < in->ned; i++) {
        if (in->ed[i].kind != '+') return 0;
        if (!strcasecmp(in->ed[i].name, "x-amz-content-sha256") && strcmp(in->ed[i].value, sha))
            return 0;
    }
    return 1;
}

int client_sign(client_input *in, const sigv4_credentials *cred, time_t when,
                const char *method, const char *url, size_t label_at, const char *query,
                client_headers *sent, sigv4_signed *sig)
{
    sent->n = 0;
    headers_add(sent, "Host", "barge.fuzz:8000");
    headers_add(sent, "Content-Type", "application/json");
    for (size_t i = 0; i < in->ned; i++) {
        const client_edit *e = &in->ed[i];
        /* The signer sets these itself, in place of the caller's. */
        if (e->kind == '+' && strcasecmp(e->name, "authorization") &&
            strcasecmp(e->name, "x-amz-date") && strcasecmp(e->name, "x-amz-security-token"))
            headers_add(sent, e->name, e->value);
    }
    buf path = {0};
    sigv4_uri_encode(&path, url, label_at ? label_at : strlen(url), 1);
    if (label_at) sigv4_uri_encode(&path, url + label_at, strlen(url + label_at), 0);
    sigv4_request sr = {.method = method, .path = path.data ? path.data : "/", .query = query,
                        .headers = sent->h, .nheaders = sent->n, .body = in->body,
                        .body_len = in->blen};
    char err[256];
    int rc = sigv4_sign(&sr, cred, when, sig, err, sizeof err);
    buf_free(&path);
    if (rc < 0) return -1;
    headers_add(sent, "X-Amz-Date", sig->amz_date);
    if (cred->session_token) headers_add(sent, "X-Amz-Security-Token", cred->session_token);
    headers_add(sent, "Authorization", sig->authorization);
    client_edit ed[CLIENT_HEADERS];
    for (size_t i = 0; i < in->ned; i++) {
        ed[i] = in->ed[i];
        if (ed[i].kind != '=' || !strchr(ed[i].value, '%')) continue;
        buf b = {0};
        for (const char *c = ed[i].value; *c; c++) {
            if (c[0] == '%' && (c[1] == 'T' || c[1] == 'D'))
                buf_append(&b, sig->amz_date, *++c == 'T' ? 16 : 8);
            else
                buf_append(&b, c, 1);
        }
        free(in->made[i]);
        ed[i].value = in->made[i] = b.data;
    }
    headers_edit(sent, ed, in->ned);
    return 0;
}
