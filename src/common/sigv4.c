#include "common/sigv4.h"

#include <ctype.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/util.h"

/* Copies the value of "Name=" up to the next comma or end into out: -1 when there is none,
 * -2 when it does not fit. */
static int field(const char *h, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    const char *p = h;
    while ((p = strstr(p, name)) != NULL) {
        /* The name must start the header's parameter list or follow a separator. */
        if ((p == h || p[-1] == ' ' || p[-1] == ',') && p[nl] == '=') break;
        p += nl;
    }
    if (!p) return -1;
    p += nl + 1;
    size_t n = strcspn(p, ", ");
    if (n == 0) return -1;
    if (n >= outlen) return -2;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

int sigv4_parse(const char *header, sigv4_auth *out, char *err, size_t errlen)
{
    static const char algo[] = "AWS4-HMAC-SHA256 ";
    char cred[512];
    memset(out, 0, sizeof *out);
    if (strncmp(header, algo, sizeof algo - 1) != 0) {
        snprintf(err, errlen, "Authorization header: only AWS4-HMAC-SHA256 signatures are "
                              "accepted");
        return -1;
    }
    const char *params = header + sizeof algo - 1;
    int crc = field(params, "Credential", cred, sizeof cred);
    if (crc < 0) {
        snprintf(err, errlen, crc == -2 ? "Authorization header: the Credential is longer than "
                                          "511 characters"
                                        : "Authorization header: the Credential parameter is "
                                          "missing");
        return -1;
    }
    int rc = field(params, "SignedHeaders", out->signed_headers, sizeof out->signed_headers);
    if (rc < 0) {
        if (rc == -2)
            snprintf(err, errlen, "Authorization header: SignedHeaders is longer than %zu "
                                  "characters", sizeof out->signed_headers - 1);
        else
            snprintf(err, errlen, "Authorization header: the SignedHeaders parameter is missing");
        return -1;
    }
    rc = field(params, "Signature", out->signature, sizeof out->signature);
    if (rc < 0) {
        if (rc == -2)
            snprintf(err, errlen, "Authorization header: the Signature is longer than %zu "
                                  "characters (a SHA-256 HMAC is 64 hexadecimal digits)",
                     sizeof out->signature - 1);
        else
            snprintf(err, errlen, "Authorization header: the Signature parameter is missing");
        return -1;
    }
    for (const char *s = out->signature; *s; s++) {
        if (!isxdigit((unsigned char)*s)) {
            snprintf(err, errlen, "Authorization header: the Signature must be hexadecimal");
            return -1;
        }
    }
    /* Credential=AKID/YYYYMMDD/REGION/SERVICE/aws4_request */
    char *parts[5];
    int n = 0;
    char *save = NULL;
    /* Count every part, so that a sixth one is seen and refused. */
    for (char *tok = strtok_r(cred, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (n < 5) parts[n] = tok;
        n++;
    }
    if (n != 5 || strcmp(parts[4], "aws4_request") != 0 ||
        strlen(parts[1]) != 8 || strlen(parts[0]) >= sizeof out->access_key ||
        strlen(parts[2]) >= sizeof out->region || strlen(parts[3]) >= sizeof out->service) {
        snprintf(err, errlen, "Authorization header: the Credential must be "
                              "ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request");
        return -1;
    }
    for (const char *s = parts[1]; *s; s++) {
        if (!isdigit((unsigned char)*s)) {
            snprintf(err, errlen, "Authorization header: the Credential's date must be "
                                  "YYYYMMDD");
            return -1;
        }
    }
    strcpy(out->access_key, parts[0]);
    strcpy(out->date, parts[1]);
    strcpy(out->region, parts[2]);
    strcpy(out->service, parts[3]);
    return 0;
}

/* Signing ---------------------------------------------------------------------------------- */

/* Headers that hops may add, drop or rewrite on the way; AWS SDKs leave them out of the
 * signature so that a proxy does not break it, and the server side must agree. */
static const char *const unsigned_headers[] = {
    "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
};

typedef struct canon_header {
    char *name;  /* lower case */
    char *value; /* trimmed, inner runs of blanks collapsed */
    size_t order; /* position in the request, so that repeated headers keep their order */
} canon_header;

static int header_cmp(const void *a, const void *b)
{
    const canon_header *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int is_unsigned_header(const char *lname)
{
    for (size_t i = 0; i < sizeof unsigned_headers / sizeof *unsigned_headers; i++)
        if (strcmp(lname, unsigned_headers[i]) == 0) return 1;
    /* The caller's own copies of these are replaced by the ones this signature sets. */
    return strcmp(lname, "authorization") == 0 || strcmp(lname, "x-amz-date") == 0 ||
           strcmp(lname, "x-amz-security-token") == 0;
}

static char *lower_dup(const char *s)
{
    char *out = xstrdup(s);
    for (char *p = out; *p; p++) *p = (char)tolower((unsigned char)*p);
    return out;
}

/* "Trimall" in AWS's words: no blanks at either end, and every inner run of blanks becomes one
 * space. */
static char *trimall(const char *s)
{
    buf b = {0};
    buf_puts(&b, "");
    for (;;) {
        while (*s && isspace((unsigned char)*s)) s++;
        if (!*s) break;
        size_t n = 0;
        while (s[n] && !isspace((unsigned char)s[n])) n++;
        if (b.len) buf_puts(&b, " ");
        buf_append(&b, s, n);
        s += n;
    }
    return b.data;
}

/* The path without empty and "." segments and with ".." applied, as AWS services (all but S3)
 * see it: a request for "/v1//a/./b/../x" is signed as "/v1/a/x".  A trailing slash stays. */
static char *normalize_path(const char *path)
{
    if (!path || !*path) return xstrdup("/");
    size_t len = strlen(path);
    char **segs = xcalloc(len + 1, sizeof *segs);
    size_t n = 0;
    char *copy = xstrdup(path);
    char *save = NULL;
    for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (strcmp(t, ".") == 0) continue;
        if (strcmp(t, "..") == 0) {
            if (n) n--;
            continue;
        }
        segs[n++] = t;
    }
    buf b = {0};
    if (path[0] == '/') buf_puts(&b, "/");
    for (size_t i = 0; i < n; i++) {
        if (i) buf_puts(&b, "/");
        buf_puts(&b, segs[i]);
    }
    if (path[len - 1] == '/' && n) buf_puts(&b, "/");
    if (!b.data) buf_puts(&b, "");
    free(segs);
    free(copy);
    return b.data;
}

void sigv4_uri_encode(buf *b, const char *s, size_t n, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && keep_slash)) {
            buf_append(b, &c, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            buf_append(b, e, 3);
        }
    }
}

typedef struct query_pair {
    char *key, *value;
} query_pair;

static int pair_cmp(const void *a, const void *b)
{
    const query_pair *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

/* The query's pairs sorted by key, then value, each written key=value.  The pairs are already
 * encoded for the wire and are signed as sent. */
static void canonical_query(buf *b, const char *q)
{
    if (!q || !*q) return;
    size_t n = 1;
    for (const char *p = q; *p; p++) n += *p == '&';
    query_pair *pairs = xcalloc(n, sizeof *pairs);
    const char *p = q;
    for (size_t i = 0; i < n; i++) {
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        if (eq) {
            pairs[i].key = xstrndup(p, (size_t)(eq - p));
            pairs[i].value = xstrndup(eq + 1, len - (size_t)(eq - p) - 1);
        } else {
            pairs[i].key = xstrndup(p, len);
            pairs[i].value = xstrdup("");
        }
        p += len + (p[len] == '&');
    }
    qsort(pairs, n, sizeof *pairs, pair_cmp);
    for (size_t i = 0; i < n; i++) {
        buf_printf(b, "%s%s=%s", i ? "&" : "", pairs[i].key, pairs[i].value);
        free(pairs[i].key);
        free(pairs[i].value);
    }
    free(pairs);
}

static void hmac_sha256(const void *key, size_t keylen, const char *msg, unsigned char out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &len);
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256(p, n, d);
    util_hex(d, sizeof d, out);
}

char *sigv4_canonical_request(const char *method, const char *path, const char *query,
                              const char *const *names, const char *const *values, size_t n,
                              const char *payload_sha256)
{
    buf cr = {0};
    buf_printf(&cr, "%s\n", method);
    /* The path arrives already encoded for the wire, so '%' itself is encoded again: AWS signs
     * non-S3 paths doubly encoded. */
    char *np = normalize_path(path);
    sigv4_uri_encode(&cr, np, strlen(np), 1);
    free(np);
    buf_puts(&cr, "\n");
    canonical_query(&cr, query);
    buf_puts(&cr, "\n");
    for (size_t i = 0; i < n; i++) {
        char *v = trimall(values[i] ? values[i] : "");
        buf_printf(&cr, "%s:%s\n", names[i], v);
        free(v);
    }
    buf_puts(&cr, "\n");
    for (size_t i = 0; i < n; i++) buf_printf(&cr, "%s%s", i ? ";" : "", names[i]);
    buf_printf(&cr, "\n%s", payload_sha256);
    return cr.data;
}

void sigv4_signing_key(const char *secret_key, const char *date, const char *region,
                       const char *service, unsigned char out[32])
{
    /* The signing key is derived from the secret, narrowed by date, region and service. */
    unsigned char k1[32], k2[32];
    char *secret = xasprintf("AWS4%s", secret_key);
    hmac_sha256(secret, strlen(secret), date, k1);
    OPENSSL_cleanse(secret, strlen(secret));
    free(secret);
    hmac_sha256(k1, sizeof k1, region, k2);
    hmac_sha256(k2, sizeof k2, service, k1);
    hmac_sha256(k1, sizeof k1, "aws4_request", out);
    OPENSSL_cleanse(k1, sizeof k1);
    OPENSSL_cleanse(k2, sizeof k2);
}

void sigv4_signature(const unsigned char key[32], const char *amz_date, const char *scope,
                     const char *canonical_request, char out[65])
{
    char cr_hash[65];
    sha256_hex(canonical_request, strlen(canonical_request), cr_hash);
    char *sts = xasprintf("AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, cr_hash);
    unsigned char sig[32];
    hmac_sha256(key, 32, sts, sig);
    free(sts);
    util_hex(sig, sizeof sig, out);
}

void sigv4_sha256_hex(const void *p, size_t n, char out[65])
{
    sha256_hex(p, n, out);
}

int sigv4_sign(const sigv4_request *req, const sigv4_credentials *cred, time_t when,
               sigv4_signed *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct tm tm;
    if (!gmtime_r(&when, &tm) || strftime(out->amz_date, sizeof out->amz_date, "%Y%m%dT%H%M%SZ",
                                          &tm) != 16) {
        snprintf(err, errlen, "sigv4: the signing time is out of range");
        return -1;
    }
    sha256_hex(req->body ? req->body : "", req->body ? req->body_len : 0, out->payload_sha256);

    /* The headers to sign: the caller's, less the unsigned ones, plus the date and token. */
    canon_header *hs = xcalloc(req->nheaders + 2, sizeof *hs);
    size_t n = 0;
    int have_host = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        char *lname = lower_dup(req->headers[i].name);
        if (is_unsigned_header(lname)) {
            free(lname);
            continue;
        }
        have_host |= strcmp(lname, "host") == 0;
        hs[n].name = lname;
        hs[n].value = trimall(req->headers[i].value ? req->headers[i].value : "");
        hs[n].order = n;
        n++;
    }
    hs[n].name = xstrdup("x-amz-date");
    hs[n].value = xstrdup(out->amz_date);
    hs[n].order = n;
    n++;
    if (cred->session_token && *cred->session_token) {
        hs[n].name = xstrdup("x-amz-security-token");
        hs[n].value = trimall(cred->session_token);
        hs[n].order = n;
        n++;
    }
    int rc = -1;
    buf cr = {0}, signed_names = {0}, auth = {0};
    char *path = NULL;
    if (!have_host) {
        snprintf(err, errlen, "sigv4: the request has no Host header to sign");
        goto done;
    }
    qsort(hs, n, sizeof *hs, header_cmp);

    /* Repeated headers become one line, their values joined by commas in request order. */
    const char **names = xcalloc(n ? n : 1, sizeof *names);
    char **values = xcalloc(n ? n : 1, sizeof *values);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m && strcmp(hs[i].name, names[m - 1]) == 0) {
            char *j = xasprintf("%s,%s", values[m - 1], hs[i].value);
            free(values[m - 1]);
            values[m - 1] = j;
            continue;
        }
        names[m] = hs[i].name;
        values[m++] = xstrdup(hs[i].value);
    }
    for (size_t i = 0; i < m; i++) buf_printf(&signed_names, "%s%s", i ? ";" : "", names[i]);
    /* A caller's own X-Amz-Content-Sha256 is what the canonical request ends with, as a
     * verifier reads it (in its case, or a value that is not the body's hash at all). */
    const char *given = NULL;
    for (size_t i = 0; i < m; i++)
        if (strcmp(names[i], "x-amz-content-sha256") == 0) given = values[i];
    int bad = 0;
    if (given && strlen(given) >= sizeof out->payload_sha256) {
        snprintf(err, errlen, "sigv4: X-Amz-Content-Sha256 is longer than %zu characters",
                 sizeof out->payload_sha256 - 1);
        bad = 1;
    } else if (given) {
        snprintf(out->payload_sha256, sizeof out->payload_sha256, "%s", given);
    }
    /* What a verifier reads back (sigv4_parse) must hold the names. */
    if (!bad && signed_names.len >= sizeof ((sigv4_auth *)0)->signed_headers) {
        snprintf(err, errlen, "sigv4: the signed header names are longer than %zu characters",
                 sizeof ((sigv4_auth *)0)->signed_headers - 1);
        bad = 1;
    }
    if (bad) {
        for (size_t i = 0; i < m; i++) free(values[i]);
        free(names);
        free(values);
        goto done;
    }
    path = sigv4_canonical_request(req->method, req->path, req->query, names,
                                   (const char *const *)values, m, out->payload_sha256);
    for (size_t i = 0; i < m; i++) free(values[i]);
    free(names);
    free(values);
    buf_puts(&cr, path);

    char date[9], scope[256];
    memcpy(date, out->amz_date, 8);
    date[8] = '\0';
    if ((size_t)snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", date, cred->region,
                         cred->service) >= sizeof scope) {
        snprintf(err, errlen, "sigv4: the region or service name is too long");
        goto done;
    }
    unsigned char key[32];
    char sig_hex[65];
    sigv4_signing_key(cred->secret_key, date, cred->region, cred->service, key);
    sigv4_signature(key, out->amz_date, scope, cr.data, sig_hex);
    OPENSSL_cleanse(key, sizeof key);

    buf_printf(&auth, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
               cred->access_key, scope, signed_names.data, sig_hex);
    out->authorization = auth.data;
    out->canonical_request = cr.data;
    auth.data = cr.data = NULL;
    rc = 0;
done:
    for (size_t i = 0; i < n; i++) {
        free(hs[i].name);
        free(hs[i].value);
    }
    free(hs);
    free(path);
    buf_free(&cr);
    buf_free(&signed_names);
    buf_free(&auth);
    return rc;
}

void sigv4_signed_free(sigv4_signed *s)
{
    if (!s) return;
    free(s->authorization);
    free(s->canonical_request);
    s->authorization = s->canonical_request = NULL;
}

int sigv4_region_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > SIGV4_REGION_MAX || s[0] == '-' || s[n - 1] == '-') return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-')) return 0;
    return 1;
}
