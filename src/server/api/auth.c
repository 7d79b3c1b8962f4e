#include "server/api/auth.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dict.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/model/config.h"
#include "server/api/auth_internal.h"

/* AWS's clock window: a request dated more than this before or after the server's clock is
 * refused. */
#define AUTH_SKEW_S (15 * 60)

/* Keys made at run time (auth_temp.c registers where they are). */
static auth_key_source key_source;

/* The keys in force (auth_internal.h's keyring). */
static struct {
    int enabled;
    pthread_mutex_t mu; /* guards cur and every keyring's refs */
    keyring *cur;
    char *credentials_file, *policies_file; /* read again by auth_reload */
} A = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Drops a reference; the last one frees the keyring. */
void auth_keyring_unref(keyring *k)
{
    if (!k) return;
    pthread_mutex_lock(&A.mu);
    int last = --k->refs == 0;
    pthread_mutex_unlock(&A.mu);
    if (last) auth_keyring_free(k);
}

int auth_load(const char *credentials_file, const char *policies_file, char **err)
{
    keyring *k = auth_keyring_load(credentials_file, policies_file, err);
    if (!k) return -1;
    A.cur = k;
    A.enabled = credentials_file != NULL;
    A.credentials_file = credentials_file ? xstrdup(credentials_file) : NULL;
    A.policies_file = policies_file ? xstrdup(policies_file) : NULL;
    return 0;
}

int auth_reload(char **err)
{
    if (!A.enabled) return 0;
    keyring *k = auth_keyring_load(A.credentials_file, A.policies_file, err);
    if (!k) return -1;
    pthread_mutex_lock(&A.mu);
    keyring *old = A.cur;
    A.cur = k;
    pthread_mutex_unlock(&A.mu);
    auth_keyring_unref(old);
    return 0;
}

int auth_enabled(void)
{
    return A.enabled;
}

size_t auth_principal_count(void)
{
    pthread_mutex_lock(&A.mu);
    size_t n = A.cur ? A.cur->n : 0;
    pthread_mutex_unlock(&A.mu);
    return n;
}

void auth_free(void)
{
    /* At the end nothing is in flight: the current keys go whatever requests took of them. */
    auth_keyring_free(A.cur);
    A.cur = NULL;
    free(A.credentials_file);
    free(A.policies_file);
    A.credentials_file = A.policies_file = NULL;
    A.enabled = 0;
}

void auth_principal_release(const auth_principal *who)
{
    if (!who) return;
    if (who->owner) {
        if (key_source.release) key_source.release((auth_principal *)who);
    } else {
        auth_keyring_unref(who->ring);
    }
}

int auth_still_allowed(const auth_principal *who, const char *op_name, json_t *req, time_t now)
{
    if (!who) return 0;
    auth_principal *p = NULL;
    if (who->owner) {
        int expired = 0;
        p = key_source.find ? key_source.find(who->access_key, now, &expired) : NULL;
    } else {
        pthread_mutex_lock(&A.mu);
        p = A.cur ? dict_get(&A.cur->by_key, who->access_key) : NULL;
        if (p) p->ring->refs++;
        pthread_mutex_unlock(&A.mu);
    }
    if (!p) return -1;
    /* The same key: one made at run time is the very principal (a key is never made twice);
     * one of the file may have been read again, and is the same if its secrets are. */
    int same = who->owner ? p == who
                          : strcmp(p->secret, who->secret) == 0 &&
                                strcmp(p->token ? p->token : "", who->token ? who->token : "") == 0;
    auth_refusal why;
    int rc = same ? auth_authorize(p, op_name, req, &why) : -1;
    auth_principal_release(p);
    return rc;
}

const char *auth_principal_key(const auth_principal *p)
{
    return p ? p->access_key : NULL;
}

const ratelimit_spec *auth_principal_rate(const auth_principal *p)
{
    return p && p->has_rate ? &p->rate : NULL;
}

const char *auth_principal_arn(const auth_principal *p)
{
    return p ? p->arn : "anonymous";
}

/* Verification ----------------------------------------------------------------------------- */

static int refuse(auth_refusal *why, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int refuse(auth_refusal *why, int status, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->msg, sizeof why->msg, fmt, ap);
    va_end(ap);
    why->status = status;
    why->type = type;
    return -1;
}

static const char bad_signature[] =
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.";
static const char bad_token[] = "The security token included in the request is invalid.";
static const char expired_token[] = "The security token included in the request is expired";

/* Every value of header lname (case-insensitive), each without the blanks around it, joined by
 * commas; NULL when absent.  Each value is trimmed before the join, as SDKs sign a repeated
 * header (libmicrohttpd keeps the blanks that end a value: "a ,b" would not be "a,b"). */
static char *header_values(const auth_request *r, const char *lname)
{
    buf b = {0};
    int found = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, lname) != 0) continue;
        const char *v = r->headers[i].value ? r->headers[i].value : "";
        size_t n = strlen(v);
        while (n && isspace((unsigned char)v[n - 1])) n--;
        while (n && isspace((unsigned char)*v)) v++, n--;
        if (found) buf_puts(&b, ",");
        buf_append(&b, v, n);
        if (!b.data) buf_puts(&b, "");
        found = 1;
    }
    return found ? b.data : NULL;
}

static void format_amz(time_t t, char out[17])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* The request's time from X-Amz-Date (YYYYMMDDTHHMMSSZ) or Date (RFC 1123); -1 if unreadable. */
static time_t request_time(const char *amz, const char *date)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (amz) {
        if (strlen(amz) != 16) return -1;
        const char *e = strptime(amz, "%Y%m%dT%H%M%SZ", &tm);
        if (!e || *e) return -1;
    } else {
        const char *e = strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        if (!e || *e) return -1;
    }
    return timegm(&tm);
}

/* The signing key for the scope, from the principal's cache or derived and cached. */
static void signing_key(auth_principal *p, const sigv4_auth *a, unsigned char out[32])
{
    key_slot *s = &p->slots[strcmp(a->service, "logs") == 0];
    pthread_mutex_lock(&p->mu);
    if (strcmp(s->date, a->date) != 0 || strcmp(s->region, a->region) != 0 ||
        strcmp(s->service, a->service) != 0) {
        sigv4_signing_key(p->secret, a->date, a->region, a->service, s->key);
        snprintf(s->date, sizeof s->date, "%s", a->date);
        snprintf(s->region, sizeof s->region, "%s", a->region);
        snprintf(s->service, sizeof s->service, "%s", a->service);
    }
    memcpy(out, s->key, 32);
    pthread_mutex_unlock(&p->mu);
}

static int tokens_equal(const char *a, const char *b)
{
    size_t n = strlen(a);
    return n == strlen(b) && CRYPTO_memcmp(a, b, n) == 0;
}

int auth_verify(const auth_request *r, const auth_principal **who, auth_refusal *why)
{
    *who = NULL;
    const char *h = NULL;
    for (size_t i = 0; i < r->nheaders && !h; i++)
        if (strcasecmp(r->headers[i].name, "Authorization") == 0) h = r->headers[i].value;
    if (!h)
        return refuse(why, 403, "MissingAuthenticationTokenException",
                      "Missing Authentication Token: the Authorization header is missing; sign "
                      "requests with AWS Signature Version 4 and a key of the server's "
                      "--credentials file");
    sigv4_auth a;
    char err[256];
    if (sigv4_parse(h, &a, err, sizeof err) < 0)
        return refuse(why, 403, "IncompleteSignatureException", "%s", err);
    /* A principal of the keyring comes with a hold on it: a reload meanwhile frees neither. */
    pthread_mutex_lock(&A.mu);
    auth_principal *p = A.cur ? dict_get(&A.cur->by_key, a.access_key) : NULL;
    if (p) p->ring->refs++;
    pthread_mutex_unlock(&A.mu);
    if (!p && key_source.find) {
        int expired = 0;
        p = key_source.find(a.access_key, r->now, &expired);
        if (!p && expired)
            return refuse(why, 403, "ExpiredTokenException", "%s", expired_token);
    }
    if (!p) return refuse(why, 403, "UnrecognizedClientException", "%s", bad_token);

    int rc = -1;
    char *token = header_values(r, "x-amz-security-token");
    char *amz = header_values(r, "x-amz-date");
    char *date = amz ? NULL : header_values(r, "date");
    char *sha = header_values(r, "x-amz-content-sha256");
    char *cr = NULL;
    const char **names = NULL;
    char **values = NULL;
    size_t n = 0;
    buf path = {0};

    /* Temporary credentials are valid only with their token, and a token only with its key. */
    if ((p->token == NULL) != (token == NULL) || (token && !tokens_equal(token, p->token))) {
        refuse(why, 403, "UnrecognizedClientException", "%s", bad_token);
        goto done;
    }
    if (strcmp(a.region, barge_cfg.region) != 0) {
        refuse(why, 403, "InvalidSignatureException", "Credential should be scoped to a valid "
               "region, not '%.60s'. This server's region is '%s'.", a.region, barge_cfg.region);
        goto done;
    }
    if (strcmp(a.service, r->service) != 0) {
        refuse(why, 403, "InvalidSignatureException", "Credential should be scoped to correct "
               "service: '%s'. ", r->service);
        goto done;
    }
    if (!amz && !date) {
        refuse(why, 400, "IncompleteSignatureException", "Authorization header requires "
               "existence of either a 'X-Amz-Date' or a 'Date' header.");
        goto done;
    }
    time_t t = request_time(amz, date);
    if (t == (time_t)-1) {
        refuse(why, 400, "IncompleteSignatureException", "%s: '%.40s' is not a date (%s)",
               amz ? "X-Amz-Date" : "Date", amz ? amz : date,
               amz ? "YYYYMMDDTHHMMSSZ" : "RFC 1123, like 'Tue, 01 Dec 2026 03:00:00 GMT'");
        goto done;
    }
    char when[17], edge[17], now[17];
    format_amz(t, when);
    format_amz(r->now, now);
    if (strncmp(a.date, when, 8) != 0) {
        refuse(why, 403, "InvalidSignatureException", "Date in Credential scope does not match "
               "YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%.8s', from '%s'.",
               a.date, when, when);
        goto done;
    }
    if (t < r->now - AUTH_SKEW_S) {
        format_amz(r->now - AUTH_SKEW_S, edge);
        refuse(why, 403, "InvalidSignatureException", "Signature expired: %s is now earlier than "
               "%s (%s - 15 min.)", when, edge, now);
        goto done;
    }
    if (t > r->now + AUTH_SKEW_S) {
        format_amz(r->now + AUTH_SKEW_S, edge);
        refuse(why, 403, "InvalidSignatureException", "Signature not yet current: %s is still "
               "later than %s (%s + 15 min.)", when, edge, now);
        goto done;
    }

    /* The signed headers, in the order the client listed them. */
    char *list = a.signed_headers, *save = NULL;
    int have_host = 0, have_target = 0;
    names = xcalloc(strlen(list) / 2 + 2, sizeof *names);
    values = xcalloc(strlen(list) / 2 + 2, sizeof *values);
    for (char *t2 = strtok_r(list, ";", &save); t2; t2 = strtok_r(NULL, ";", &save)) {
        for (char *c = t2; *c; c++) *c = (char)tolower((unsigned char)*c);
        have_host |= strcmp(t2, "host") == 0;
        have_target |= strcmp(t2, "x-amz-target") == 0;
        names[n] = t2;
        values[n] = header_values(r, t2);
        if (!values[n]) {
            refuse(why, 403, "InvalidSignatureException", "%s", bad_signature);
            n++;
            goto done;
        }
        n++;
    }
    if (!have_host) {
        refuse(why, 400, "IncompleteSignatureException", "'Host' or ':authority' must be a "
               "'SignedHeader' in the AWS Authorization.");
        goto done;
    }
    /* X-Amz-Target names a CloudWatch Logs call's operation (a Batch call's is in its signed
     * path): unsigned, one signature would do for every operation whose body fits, a read's
     * for a delete.  Every SDK signs it. */
    if (!have_target) {
        char *target = header_values(r, "x-amz-target");
        int sent = target != NULL;
        free(target);
        if (sent) {
            refuse(why, 400, "IncompleteSignatureException", "'X-Amz-Target' must be a "
                   "'SignedHeader' in the AWS Authorization: it names the operation.");
            goto done;
        }
    }
    char body_sha[65];
    sigv4_sha256_hex(r->body ? r->body : "", r->body ? r->body_len : 0, body_sha);
    if (sha && strcasecmp(sha, body_sha) != 0) {
        refuse(why, 403, "InvalidSignatureException", "%s", bad_signature);
        goto done;
    }
    /* The path as SDKs put it on the wire: a URI label has its slashes encoded too. */
    sigv4_uri_encode(&path, r->path, r->label_at ? r->label_at : strlen(r->path), 1);
    if (r->label_at)
        sigv4_uri_encode(&path, r->path + r->label_at, strlen(r->path + r->label_at), 0);
    if (!path.data) buf_puts(&path, "/");
    cr = sigv4_canonical_request(r->method, path.data, r->query, names,
                                 (const char *const *)values, n, sha ? sha : body_sha);
    unsigned char key[32];
    char scope[160], sig[65];
    snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", a.date, a.region, a.service);
    signing_key(p, &a, key);
    sigv4_signature(key, when, scope, cr, sig);
    OPENSSL_cleanse(key, sizeof key);
    for (char *c = a.signature; *c; c++) *c = (char)tolower((unsigned char)*c);
    if (strlen(a.signature) != 64 || CRYPTO_memcmp(sig, a.signature, 64) != 0) {
        refuse(why, 403, "InvalidSignatureException", "%s", bad_signature);
        goto done;
    }
    *who = p;
    rc = 0;
done:
    if (rc < 0) auth_principal_release(p);
    for (size_t i = 0; i < n; i++) free(values[i]);
    free(names);
    free(values);
    free(cr);
    buf_free(&path);
    free(token);
    free(amz);
    free(date);
    free(sha);
    return rc;
}

/* Authorization ---------------------------------------------------------------------------- */

/* A role session's policies: its role's, by name, as the keys in force define them now (IAM
 * too evaluates a role's current policies for sessions begun before a change).  Returns the
 * keyring they belong to, held until auth_keyring_unref; a name no longer defined allows
 * nothing. */
static keyring *session_policies(const auth_principal *who, const policy ***out, size_t *n)
{
    pthread_mutex_lock(&A.mu);
    keyring *k = A.cur;
    if (k) k->refs++;
    pthread_mutex_unlock(&A.mu);
    *out = xcalloc(who->npolicies + 1, sizeof **out);
    *n = 0;
    for (size_t i = 0; k && i < who->npolicies; i++) {
        const policy *pol = auth_keyring_policy(k, who->role_policies[i]);
        if (pol) (*out)[(*n)++] = pol;
    }
    return k;
}

int auth_check(const auth_principal *who, const char *action, const char *const *resources,
               size_t n, const policy_ctx *ctxs, size_t nctx, auth_refusal *why)
{
    if (!who) return 0; /* developer mode: no keys, no policies */
    const policy **pols = who->policies, **own = NULL;
    size_t npols = who->npolicies;
    keyring *k = who->owner ? session_policies(who, &own, &npols) : NULL;
    if (own) pols = own;
    int rc = 0;
    for (size_t r = 0; r < n && rc == 0; r++) {
        int verdict = POLICY_NO_MATCH;
        for (size_t i = 0; i < npols && verdict != POLICY_DENY; i++) {
            int v = policy_eval(pols[i], action, resources[r], ctxs, nctx);
            if (v > verdict) verdict = v;
        }
        if (verdict == POLICY_ALLOW) continue;
        if (verdict == POLICY_DENY)
            rc = refuse(why, 403, "AccessDeniedException", "User: %s is not authorized to "
                        "perform: %s on resource: %.300s with an explicit deny in an "
                        "identity-based policy", who->arn, action, resources[r]);
        else
            rc = refuse(why, 403, "AccessDeniedException", "User: %s is not authorized to "
                        "perform: %s on resource: %.300s because no identity-based policy "
                        "allows the %s action", who->arn, action, resources[r], action);
    }
    free(own);
    auth_keyring_unref(k);
    return rc;
}

/* Principals made at run time ------------------------------------------------------------- */

auth_principal *auth_principal_new(const char *arn, const char *access_key, const char *secret,
                                   const char *token, const char *const *policy_names,
                                   size_t npolicies, void *owner)
{
    auth_principal *p = xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    p->arn = xstrdup(arn);
    /* The ARN's last part, as the session name of an assumed role is. */
    const char *slash = strrchr(arn, '/');
    p->name = xstrdup(slash ? slash + 1 : arn);
    p->access_key = xstrdup(access_key);
    p->secret = xstrdup(secret);
    p->token = token ? xstrdup(token) : NULL;
    p->policy_names = xstrdup("");
    /* Names, looked up at each call (session_policies): a reload of --policies applies to the
     * sessions already begun. */
    p->role_policies = xcalloc(npolicies + 1, sizeof *p->role_policies);
    for (size_t i = 0; i < npolicies; i++) p->role_policies[i] = xstrdup(policy_names[i]);
    p->npolicies = npolicies;
    p->owner = owner;
    return p;
}

void auth_principal_free(auth_principal *p)
{
    auth_principal_destroy(p);
}

void *auth_principal_owner(const auth_principal *p)
{
    return p ? p->owner : NULL;
}

int auth_policy_known(const char *name)
{
    pthread_mutex_lock(&A.mu);
    int known = A.cur && auth_keyring_policy(A.cur, name) != NULL;
    pthread_mutex_unlock(&A.mu);
    return known;
}

void auth_set_key_source(const auth_key_source *s)
{
    key_source = s ? *s : (auth_key_source){0};
}

