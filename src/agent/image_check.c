/* image_check — see image_check.h. */
#include "agent/image_check.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/image_names.h"
#include "common/httpc.h"
#include "common/mem.h"
#include "common/util.h"

/* What skopeo accepts, so that the registry names the manifest a pull would get. */
#define ACCEPT "Accept: application/vnd.oci.image.index.v1+json, " \
               "application/vnd.docker.distribution.manifest.list.v2+json, " \
               "application/vnd.oci.image.manifest.v1+json, " \
               "application/vnd.docker.distribution.manifest.v2+json"
#define TOKEN_MAX ((size_t)64 << 10)
#define CONNECT_TIMEOUT_MS 5000
/* A token's lifetime when its answer does not say (the distribution project's default). */
#define TOKEN_DEFAULT_S 60
/* Basic authentication that worked is sent at once for this long. */
#define BASIC_KEEP_MS (10 * 60 * 1000LL)

/* Authorizations that a registry took, by registry, repository and credentials: the next
 * question is one HEAD instead of a HEAD refused, a token fetched and a HEAD again.  A bearer
 * token is kept until ten seconds before it expires; a refused one is replaced. */
#define KEPT_MAX 64
typedef struct kept {
    char *key, *authorization;
    long long until_ms; /* monotonic */
} kept;
static kept kept_auth[KEPT_MAX];
static pthread_mutex_t kept_mu = PTHREAD_MUTEX_INITIALIZER;

static char *kept_key(const char *host, const char *path, const char *auth)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    char hex[65] = "";
    if (auth) {
        EVP_Digest(auth, strlen(auth), md, &n, EVP_sha256(), NULL);
        util_hex(md, 32, hex);
    }
    return xasprintf("%s\n%s\n%s", host, path, hex);
}

static char *kept_get(const char *key)
{
    char *found = NULL;
    long long now = util_mono_ms();
    pthread_mutex_lock(&kept_mu);
    for (size_t i = 0; i < KEPT_MAX && !found; i++)
        if (kept_auth[i].key && !strcmp(kept_auth[i].key, key) && kept_auth[i].until_ms > now)
            found = xstrdup(kept_auth[i].authorization);
    pthread_mutex_unlock(&kept_mu);
    return found;
}

static void kept_put(const char *key, const char *authorization, long long until_ms)
{
    pthread_mutex_lock(&kept_mu);
    size_t at = 0;
    for (size_t i = 0; i < KEPT_MAX; i++) {
        if (kept_auth[i].key && !strcmp(kept_auth[i].key, key)) {
            at = i;
            break;
        }
        if (kept_auth[i].until_ms < kept_auth[at].until_ms) at = i; /* the first to expire */
    }
    free(kept_auth[at].key);
    free(kept_auth[at].authorization);
    kept_auth[at] = (kept){xstrdup(key), xstrdup(authorization), until_ms};
    pthread_mutex_unlock(&kept_mu);
}

void image_challenge_free(image_challenge *c)
{
    free(c->scheme);
    free(c->realm);
    free(c->service);
    free(c->scope);
    memset(c, 0, sizeof *c);
}

/* RFC 7235: SCHEME, then NAME=VALUE pairs separated by commas, each value a token or a quoted
 * string (whose backslash quotes the next character). */
int image_check_challenge(const char *h, image_challenge *out)
{
    memset(out, 0, sizeof *out);
    while (*h == ' ' || *h == '\t') h++;
    size_t n = strcspn(h, " \t,");
    if (!n) return -1;
    out->scheme = xstrndup(h, n);
    h += n;
    while (*h) {
        while (*h == ' ' || *h == '\t' || *h == ',') h++;
        size_t k = strcspn(h, "= \t,");
        const char *name = h;
        h += k;
        while (*h == ' ' || *h == '\t') h++;
        if (*h != '=') continue; /* a bare token: nothing barge reads */
        h++;
        while (*h == ' ' || *h == '\t') h++;
        buf v = {0};
        buf_puts(&v, "");
        if (*h == '"') {
            for (h++; *h && *h != '"'; h++) {
                if (*h == '\\' && h[1]) h++;
                buf_append(&v, h, 1);
            }
            if (*h == '"') h++;
        } else {
            size_t m = strcspn(h, " \t,");
            buf_append(&v, h, m);
            h += m;
        }
        char **slot = k == 5 && !strncasecmp(name, "realm", 5)     ? &out->realm
                      : k == 7 && !strncasecmp(name, "service", 7) ? &out->service
                      : k == 5 && !strncasecmp(name, "scope", 5)   ? &out->scope
                                                                   : NULL;
        if (slot && !*slot) {
            *slot = v.data; /* the buffer's text, NUL-terminated by buf_puts above */
            v.data = NULL;
        }
        buf_free(&v);
    }
    return 0;
}

/* Appends s percent-encoded for a query's value. */
static void put_query_value(buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-._~", c)) buf_append(b, s, 1);
        else buf_printf(b, "%%%02X", c);
    }
}

static long left_ms(long long deadline)
{
    long long left = deadline - util_mono_ms();
    return left > 1 ? (long)left : 1;
}

/* A token from the challenge's realm for the repository (the realm's scope, or pull of path);
 * NULL with why. */
static char *fetch_token(httpc *h, const image_challenge *ch, const char *path, const char *auth,
                         int plain, long long deadline, long long *expires_in_s, char *why,
                         size_t why_len)
{
    if (!ch->realm || (strncasecmp(ch->realm, "https://", 8) && strncasecmp(ch->realm, "http://",
                                                                              7))) {
        snprintf(why, why_len, "the registry asked for a token without an http(s) realm to get "
                 "it from");
        return NULL;
    }
    /* The credentials would cross in clear what the registry itself is spoken to over TLS. */
    if (!plain && auth && strncasecmp(ch->realm, "http://", 7) == 0) {
        snprintf(why, why_len, "the registry's token service %s is plain http: its credentials "
                 "are not sent there", ch->realm);
        return NULL;
    }
    buf url = {0};
    buf_puts(&url, ch->realm);
    char sep = strchr(ch->realm, '?') ? '&' : '?';
    if (ch->service) {
        buf_printf(&url, "%cservice=", sep);
        put_query_value(&url, ch->service);
        sep = '&';
    }
    buf_printf(&url, "%cscope=", sep);
    if (ch->scope) {
        put_query_value(&url, ch->scope);
    } else {
        char *scope = xasprintf("repository:%s:pull", path);
        put_query_value(&url, scope);
        free(scope);
    }
    httpc_clear_headers(h);
    if (auth) {
        char *b = util_base64(auth, strlen(auth));
        httpc_header(h, "Authorization: Basic %s", b);
        free(b);
    }
    httpc_rc rc = httpc_get(h, url.data, left_ms(deadline));
    char *token = NULL;
    if (rc != HTTPC_OK) {
        snprintf(why, why_len, "its token service %s: %s", ch->realm, httpc_error(h));
    } else if (httpc_status(h) != 200) {
        snprintf(why, why_len, "its token service %s answered HTTP %ld", ch->realm,
                 httpc_status(h));
    } else {
        size_t len;
        const char *body = httpc_body(h, &len);
        json_t *doc = json_loadb(body, len, 0, NULL);
        const char *t = json_string_value(json_object_get(doc, "token"));
        if (!t || !*t) t = json_string_value(json_object_get(doc, "access_token"));
        if (t && *t && !strpbrk(t, "\r\n")) token = xstrdup(t);
        else snprintf(why, why_len, "its token service %s gave no token", ch->realm);
        json_t *ttl = json_object_get(doc, "expires_in");
        *expires_in_s = json_is_integer(ttl) && json_integer_value(ttl) > 0
                            ? json_integer_value(ttl) : TOKEN_DEFAULT_S;
        json_decref(doc);
    }
    buf_free(&url);
    return token;
}

char *image_check_digest(const char *host, int plain, const char *path, const char *tag,
                         const char *auth, long timeout_ms, int (*abandon)(void *), void *arg,
                         char *why, size_t why_len)
{
    long long deadline = util_mono_ms() + timeout_ms;
    httpc_options o = {.connect_timeout_ms = timeout_ms < CONNECT_TIMEOUT_MS ? timeout_ms
                                                                             : CONNECT_TIMEOUT_MS,
                       .user_agent = "barge-agent", .max_body = TOKEN_MAX,
                       .abandon = abandon, .ctx = arg};
    httpc *h = httpc_new(&o);
    if (!h) {
        snprintf(why, why_len, "cannot make an HTTP client");
        return NULL;
    }
    char *url = xasprintf("%s://%s/v2/%s/manifests/%s", plain ? "http" : "https", host, path,
                          tag);
    char *key = kept_key(host, path, auth), *authorization = kept_get(key);
    long long keep_until = 0; /* an authorization made here, kept once it is taken */
    httpc_header(h, ACCEPT);
    if (authorization) httpc_header(h, "Authorization: %s", authorization);
    free(authorization);
    authorization = NULL;
    httpc_rc rc = httpc_head(h, url, left_ms(deadline));
    char *digest = NULL, *www = NULL;
    if (rc == HTTPC_OK && httpc_status(h) == 401 &&
        (www = httpc_header_value(h, "WWW-Authenticate")) != NULL) {
        image_challenge ch;
        if (image_check_challenge(www, &ch) == 0 && !strcasecmp(ch.scheme, "Bearer")) {
            long long ttl_s = TOKEN_DEFAULT_S;
            char *token = fetch_token(h, &ch, path, auth, plain, deadline, &ttl_s, why,
                                      why_len);
            if (token) {
                authorization = xasprintf("Bearer %s", token);
                keep_until = util_mono_ms() + (ttl_s > 10 ? ttl_s - 10 : 0) * 1000;
            }
            free(token);
        } else if (ch.scheme && !strcasecmp(ch.scheme, "Basic") && auth) {
            char *b = util_base64(auth, strlen(auth));
            authorization = xasprintf("Basic %s", b);
            keep_until = util_mono_ms() + BASIC_KEEP_MS;
            free(b);
        } else {
            snprintf(why, why_len, "the registry asks for %s authentication%s",
                     ch.scheme ? ch.scheme : "an unknown", auth ? "" : " and none was given");
        }
        image_challenge_free(&ch);
        if (!authorization) {
            free(www);
            free(url);
            free(key);
            httpc_free(h);
            return NULL;
        }
        httpc_clear_headers(h);
        httpc_header(h, ACCEPT);
        httpc_header(h, "Authorization: %s", authorization);
        rc = httpc_head(h, url, left_ms(deadline));
    }
    if (authorization && rc == HTTPC_OK && httpc_status(h) == 200)
        kept_put(key, authorization, keep_until);
    free(authorization);
    free(key);
    if (rc != HTTPC_OK) {
        snprintf(why, why_len, "%s", httpc_error(h));
    } else if (httpc_status(h) != 200) {
        snprintf(why, why_len, "the registry answered HTTP %ld%s", httpc_status(h),
                 httpc_status(h) == 404 ? " (manifest unknown)" : "");
    } else {
        char *d = httpc_header_value(h, "Docker-Content-Digest");
        if (image_digest_valid(d)) digest = d;
        else {
            snprintf(why, why_len, "the registry's answer names no sha256 digest");
            free(d);
        }
    }
    free(www);
    free(url);
    httpc_free(h);
    return digest;
}
