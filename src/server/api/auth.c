#include "server/api/auth.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/dict.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/model/config.h"
#include "server/api/policy.h"
#include "server/base/ratelimit.h"

/* AWS's clock window: a request dated more than this before or after the server's clock is
 * refused. */
#define AUTH_SKEW_S (15 * 60)

/* A derived signing key, good for one day, region and service. */
typedef struct key_slot {
    char date[9];
    char region[64];
    char service[64];
    unsigned char key[32];
} key_slot;

struct auth_principal {
    char *name;
    char *arn;
    char *access_key;
    char *secret;
    char *token;         /* NULL without temporary credentials */
    char *policy_names;  /* as written, for messages */
    const policy **policies;
    size_t npolicies;
    pthread_mutex_t mu;  /* guards slots */
    key_slot slots[2];   /* batch and logs: the two services a server answers */
    struct keyring *ring; /* the keys loaded with it, kept alive while a request holds it */
    int has_rate;        /* barge_rate_limit given: rate overrides --rate-limit */
    ratelimit_spec rate;
};

typedef struct named_policy {
    char *name;
    policy *p;
} named_policy;

/* What one reading of --credentials and --policies gave.  A reload (SIGHUP) builds a new one
 * and puts it in place of the old in one step; a request holds the one its principal came from
 * (refs) until it is answered, so the old one goes only with its last request. */
typedef struct keyring {
    int refs; /* guarded by A.mu */
    auth_principal **ps;
    size_t n;
    dict by_key;
    named_policy *pols;
    size_t npols;
} keyring;

static struct {
    int enabled;
    pthread_mutex_t mu; /* guards cur and every keyring's refs */
    keyring *cur;
    char *credentials_file, *policies_file; /* read again by auth_reload */
} A = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* The built-in policies (docs/credentials.md).  submit is what a pipeline needs to run jobs on
 * queues and definitions an administrator set up, and to follow them: no creating, updating or
 * deleting of environments, queues, definitions or scheduling policies. */
static const char *const builtin[][2] = {
    {"admin", "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\","
              "\"Resource\":\"*\"}]}"},
    {"submit", "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":["
               "\"batch:SubmitJob\",\"batch:CancelJob\",\"batch:TerminateJob\","
               "\"batch:TagResource\",\"batch:Describe*\",\"batch:List*\",\"logs:Get*\","
               "\"logs:Describe*\",\"logs:FilterLogEvents\"],\"Resource\":\"*\"}]}"},
    {"read", "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":["
             "\"batch:Describe*\",\"batch:List*\",\"logs:Get*\",\"logs:Describe*\","
             "\"logs:FilterLogEvents\"],\"Resource\":\"*\"}]}"},
};

static const policy *find_policy(const keyring *k, const char *name)
{
    for (size_t i = 0; i < k->npols; i++)
        if (strcmp(k->pols[i].name, name) == 0) return k->pols[i].p;
    return NULL;
}

static void add_policy(keyring *k, const char *name, policy *p)
{
    k->pols = xrealloc(k->pols, (k->npols + 1) * sizeof *k->pols);
    k->pols[k->npols].name = xstrdup(name);
    k->pols[k->npols++].p = p;
}

static int load_policies(keyring *k, const char *file, char **err)
{
    char e[400];
    for (size_t i = 0; i < sizeof builtin / sizeof *builtin; i++) {
        policy *p = policy_parse_text(builtin[i][1], e, sizeof e);
        BARGE_ASSERT(p);
        add_policy(k, builtin[i][0], p);
    }
    if (!file) return 0;
    json_error_t je;
    json_t *doc = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        *err = xasprintf("--policies %s: %s (line %d)", file, je.text, je.line);
        return -1;
    }
    if (!json_is_object(doc)) {
        *err = xasprintf("--policies %s: must be a JSON object of policy names and IAM policy "
                         "documents, like {\"one-queue\": {\"Version\": \"2012-10-17\", "
                         "\"Statement\": [...]}}", file);
        json_decref(doc);
        return -1;
    }
    const char *name;
    json_t *v;
    json_object_foreach(doc, name, v) {
        if (find_policy(k, name)) {
            *err = xasprintf("--policies %s: '%.60s' is a built-in policy's name (admin, "
                             "submit, read); give yours another", file, name);
            json_decref(doc);
            return -1;
        }
        policy *p = policy_parse(v, e, sizeof e);
        if (!p) {
            *err = xasprintf("--policies %s: policy '%.60s': %s", file, name, e);
            json_decref(doc);
            return -1;
        }
        add_policy(k, name, p);
    }
    json_decref(doc);
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

/* IAM user names: 1 to 64 of letters, digits and +=,.@_- */
static int user_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("+=,.@_-", *s)) return 0;
    return 1;
}

static int access_key_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 128) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-') return 0;
    return 1;
}

static void principal_free(auth_principal *p)
{
    if (!p) return;
    free(p->name);
    free(p->arn);
    free(p->access_key);
    if (p->secret) OPENSSL_cleanse(p->secret, strlen(p->secret));
    free(p->secret);
    if (p->token) OPENSSL_cleanse(p->token, strlen(p->token));
    free(p->token);
    free(p->policy_names);
    free(p->policies);
    pthread_mutex_destroy(&p->mu);
    OPENSSL_cleanse(p->slots, sizeof p->slots);
    free(p);
}

/* Checks a finished section; 0, or -1 with *err. */
static int section_done(keyring *k, const char *file, auth_principal *p, char **err)
{
    if (!p->access_key || !p->secret) {
        *err = xasprintf("--credentials %s: section [%s] needs both aws_access_key_id and "
                         "aws_secret_access_key", file, p->name);
        return -1;
    }
    if (!p->policy_names) {
        *err = xasprintf("--credentials %s: section [%s] names no policy; add a line "
                         "'barge_policy = admin' (or submit, read, or a policy of --policies)",
                         file, p->name);
        return -1;
    }
    if (dict_get(&k->by_key, p->access_key)) {
        *err = xasprintf("--credentials %s: section [%s] repeats the access key id %s of "
                         "another section; every principal needs a key of its own", file,
                         p->name, p->access_key);
        return -1;
    }
    /* barge_policy = a, b: every name must be known. */
    char *copy = xstrdup(p->policy_names), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *name = trim(t);
        const policy *pol = find_policy(k, name);
        if (!pol) {
            *err = xasprintf("--credentials %s: section [%s]: barge_policy names '%.60s', which "
                             "is neither built in (admin, submit, read) nor in --policies",
                             file, p->name, name);
            free(copy);
            return -1;
        }
        p->policies = xrealloc(p->policies, (p->npolicies + 1) * sizeof *p->policies);
        p->policies[p->npolicies++] = pol;
    }
    free(copy);
    if (!p->npolicies) {
        *err = xasprintf("--credentials %s: section [%s]: barge_policy is empty", file, p->name);
        return -1;
    }
    p->arn = xasprintf("arn:aws:iam::%s:user/%s", barge_cfg.account_id, p->name);
    p->ring = k;
    dict_put(&k->by_key, p->access_key, p);
    k->ps = xrealloc(k->ps, (k->n + 1) * sizeof *k->ps);
    k->ps[k->n++] = p;
    return 0;
}

/* barge_rate_limit = N[/s|/m][,BURST] or off: this principal's limit instead of --rate-limit. */
static int rate_line(const char *file, int lineno, auth_principal *p, const char *val, char **err)
{
    char why[200];
    if (p->has_rate) {
        *err = xasprintf("--credentials %s line %d: section [%s] sets barge_rate_limit twice",
                         file, lineno, p->name);
        return -1;
    }
    if (ratelimit_parse(val, &p->rate, why, sizeof why) < 0) {
        *err = xasprintf("--credentials %s line %d: barge_rate_limit %s", file, lineno, why);
        return -1;
    }
    p->has_rate = 1;
    return 0;
}

static int load_credentials(keyring *k, const char *file, char **err)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        *err = xasprintf("--credentials %s: cannot read it: %s", file, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) == 0 && (sb.st_mode & 077))
        log_warn("--credentials %s can be read by other users (mode %03o); chmod 600 it", file,
                 (unsigned)(sb.st_mode & 0777));
    char line[4096];
    int lineno = 0, rc = -1;
    auth_principal *cur = NULL;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#' || *s == ';') continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (!end || trim(end + 1)[0]) {
                *err = xasprintf("--credentials %s line %d: a section header is [NAME]", file,
                                 lineno);
                goto done;
            }
            *end = '\0';
            char *name = trim(s + 1);
            if (!user_name_valid(name)) {
                *err = xasprintf("--credentials %s line %d: [%.80s] is not a valid principal "
                                 "name (1 to 64 letters, digits and +=,.@_-)", file, lineno,
                                 name);
                goto done;
            }
            for (size_t i = 0; i <= k->n; i++) {
                const char *seen = i < k->n ? k->ps[i]->name : cur ? cur->name : "";
                if (strcmp(seen, name) == 0) {
                    *err = xasprintf("--credentials %s line %d: section [%s] appears twice",
                                     file, lineno, name);
                    goto done;
                }
            }
            if (cur && section_done(k, file, cur, err) < 0) goto done;
            cur = xcalloc(1, sizeof *cur);
            pthread_mutex_init(&cur->mu, NULL);
            cur->name = xstrdup(name);
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            *err = xasprintf("--credentials %s line %d: expected 'key = value' or [NAME]", file,
                             lineno);
            goto done;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        if (!cur) {
            *err = xasprintf("--credentials %s line %d: '%.60s' comes before any [NAME] section",
                             file, lineno, key);
            goto done;
        }
        char **slot = NULL;
        if (strcmp(key, "aws_access_key_id") == 0) slot = &cur->access_key;
        else if (strcmp(key, "aws_secret_access_key") == 0) slot = &cur->secret;
        else if (strcmp(key, "aws_session_token") == 0 || strcmp(key, "aws_security_token") == 0)
            slot = &cur->token;
        else if (strcmp(key, "barge_policy") == 0) slot = &cur->policy_names;
        else if (strcmp(key, "barge_rate_limit") == 0) {
            if (rate_line(file, lineno, cur, val, err) < 0) goto done;
            continue;
        } else if (strncmp(key, "barge_", 6) == 0) {
            *err = xasprintf("--credentials %s line %d: '%.60s' is not a setting barge knows "
                             "(barge_policy and barge_rate_limit are)", file, lineno, key);
            goto done;
        } else {
            continue; /* region, output and the like belong to the clients */
        }
        if (*slot) {
            *err = xasprintf("--credentials %s line %d: section [%s] sets %s twice", file,
                             lineno, cur->name, key);
            goto done;
        }
        if (!*val) {
            *err = xasprintf("--credentials %s line %d: %s is empty", file, lineno, key);
            goto done;
        }
        if (slot == &cur->access_key && !access_key_valid(val)) {
            *err = xasprintf("--credentials %s line %d: the access key id must be 1 to 128 "
                             "letters, digits, hyphens and underscores", file, lineno);
            goto done;
        }
        *slot = xstrdup(val);
    }
    if (cur && section_done(k, file, cur, err) < 0) goto done;
    cur = NULL;
    if (k->n == 0) {
        *err = xasprintf("--credentials %s: no [NAME] section with keys in it", file);
        goto done;
    }
    rc = 0;
done:
    OPENSSL_cleanse(line, sizeof line);
    /* cur is a section not yet added to the table (section_done adds it last). */
    principal_free(cur);
    fclose(f);
    return rc;
}

static void keyring_free(keyring *k)
{
    if (!k) return;
    for (size_t i = 0; i < k->n; i++) principal_free(k->ps[i]);
    free(k->ps);
    for (size_t i = 0; i < k->npols; i++) {
        free(k->pols[i].name);
        policy_free(k->pols[i].p);
    }
    free(k->pols);
    dict_free(&k->by_key);
    free(k);
}

/* Reads both files into a new keyring; NULL with *err when either is wrong. */
static keyring *keyring_load(const char *credentials_file, const char *policies_file, char **err)
{
    keyring *k = xcalloc(1, sizeof *k);
    k->refs = 1; /* the server's, while it is the current one */
    dict_init(&k->by_key);
    if (load_policies(k, policies_file, err) < 0 ||
        (credentials_file && load_credentials(k, credentials_file, err) < 0)) {
        keyring_free(k);
        return NULL;
    }
    return k;
}

/* Drops a reference; the last one frees the keyring. */
static void keyring_unref(keyring *k)
{
    if (!k) return;
    pthread_mutex_lock(&A.mu);
    int last = --k->refs == 0;
    pthread_mutex_unlock(&A.mu);
    if (last) keyring_free(k);
}

int auth_load(const char *credentials_file, const char *policies_file, char **err)
{
    keyring *k = keyring_load(credentials_file, policies_file, err);
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
    keyring *k = keyring_load(A.credentials_file, A.policies_file, err);
    if (!k) return -1;
    pthread_mutex_lock(&A.mu);
    keyring *old = A.cur;
    A.cur = k;
    pthread_mutex_unlock(&A.mu);
    keyring_unref(old);
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
    keyring_free(A.cur);
    A.cur = NULL;
    free(A.credentials_file);
    free(A.policies_file);
    A.credentials_file = A.policies_file = NULL;
    A.enabled = 0;
}

void auth_principal_release(const auth_principal *who)
{
    if (who && who->ring) keyring_unref(who->ring);
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

/* Every value of header lname (case-insensitive), joined by commas; NULL when absent. */
static char *header_values(const auth_request *r, const char *lname)
{
    buf b = {0};
    int found = 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (strcasecmp(r->headers[i].name, lname) != 0) continue;
        if (found) buf_puts(&b, ",");
        buf_puts(&b, r->headers[i].value ? r->headers[i].value : "");
        if (!b.data) buf_puts(&b, "");
        found = 1;
    }
    return found ? b.data : NULL;
}

/* Percent-encodes all but RFC 3986's unreserved characters, and '/' unless strict: how SDKs put
 * a path on the wire (a URI label, strict, has its slashes encoded). */
static void wire_encode(buf *b, const char *s, size_t n, int strict)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !strict))
            buf_append(b, &c, 1);
        else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            buf_append(b, e, 3);
        }
    }
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
    /* The principal comes with a hold on its keyring: a reload meanwhile frees neither. */
    pthread_mutex_lock(&A.mu);
    auth_principal *p = A.cur ? dict_get(&A.cur->by_key, a.access_key) : NULL;
    if (p) p->ring->refs++;
    pthread_mutex_unlock(&A.mu);
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
    int have_host = 0;
    names = xcalloc(strlen(list) / 2 + 2, sizeof *names);
    values = xcalloc(strlen(list) / 2 + 2, sizeof *values);
    for (char *t2 = strtok_r(list, ";", &save); t2; t2 = strtok_r(NULL, ";", &save)) {
        for (char *c = t2; *c; c++) *c = (char)tolower((unsigned char)*c);
        have_host |= strcmp(t2, "host") == 0;
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
    char body_sha[65];
    sigv4_sha256_hex(r->body ? r->body : "", r->body ? r->body_len : 0, body_sha);
    if (sha && strcasecmp(sha, body_sha) != 0) {
        refuse(why, 403, "InvalidSignatureException", "%s", bad_signature);
        goto done;
    }
    wire_encode(&path, r->path, r->label_at ? r->label_at : strlen(r->path), 0);
    if (r->label_at) wire_encode(&path, r->path + r->label_at, strlen(r->path + r->label_at), 1);
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

int auth_check(const auth_principal *who, const char *action, const char *const *resources,
               size_t n, auth_refusal *why)
{
    if (!who) return 0; /* developer mode: no keys, no policies */
    for (size_t r = 0; r < n; r++) {
        int verdict = POLICY_NO_MATCH;
        for (size_t i = 0; i < who->npolicies && verdict != POLICY_DENY; i++) {
            int v = policy_eval(who->policies[i], action, resources[r]);
            if (v > verdict) verdict = v;
        }
        if (verdict == POLICY_ALLOW) continue;
        if (verdict == POLICY_DENY)
            return refuse(why, 403, "AccessDeniedException", "User: %s is not authorized to "
                          "perform: %s on resource: %.300s with an explicit deny in an "
                          "identity-based policy", who->arn, action, resources[r]);
        return refuse(why, 403, "AccessDeniedException", "User: %s is not authorized to perform: "
                      "%s on resource: %.300s because no identity-based policy allows the %s "
                      "action", who->arn, action, resources[r], action);
    }
    return 0;
}
