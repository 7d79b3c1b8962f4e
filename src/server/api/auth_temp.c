/* auth_temp — see auth_temp.h. */
#include "server/api/auth_temp.h"

#include <ctype.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dict.h"
#include "common/jtext.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/model/config.h"
#include "server/api/auth.h"

/* A role of --roles: its ARN and the names of the policies its sessions are authorized by,
 * looked up when credentials are issued, so that a reload of --policies applies to the
 * sessions begun after it. */
typedef struct role {
    char *arn;
    char *name; /* the ARN's last part, as an assumed role's ARN names it */
    char **policies;
    size_t npolicies;
} role;

/* One set of credentials.  The table holds a reference while the entry is live; each request
 * that verified with it holds one more until it is answered. */
typedef struct temp_entry {
    auth_principal *p;
    char access_key[21];
    int64_t expires_ms;
    int refs;
    struct temp_entry *older; /* the attempt's credentials issued before these */
} temp_entry;

/* The credentials of one attempt, newest first.  Few (AUTH_TEMP_PER_ATTEMPT at most). */
typedef struct attempt_creds {
    char *key; /* "ATTEMPT JOBID" */
    temp_entry *newest;
    size_t n;
} attempt_creds;

static struct {
    pthread_mutex_t mu;
    role *roles;
    size_t nroles;
    int seconds;
    dict by_key;     /* access key id -> temp_entry */
    dict by_attempt; /* "ATTEMPT JOBID" -> attempt_creds */
    size_t live;
} T = {.mu = PTHREAD_MUTEX_INITIALIZER};

static const role *find_role(const char *arn)
{
    for (size_t i = 0; i < T.nroles; i++)
        if (strcmp(T.roles[i].arn, arn) == 0) return &T.roles[i];
    return NULL;
}

/* arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME, NAME being 1 to 64 of letters, digits and
 * +=,.@_- as IAM allows. */
static const char *role_name(const char *arn)
{
    if (strncmp(arn, "arn:", 4) != 0) return NULL;
    const char *p = strchr(arn + 4, ':');
    if (!p || strncmp(p, ":iam::", 6) != 0) return NULL;
    p += 6;
    size_t digits = 0;
    while (isdigit((unsigned char)p[digits])) digits++;
    if (digits != 12 || strncmp(p + 12, ":role/", 6) != 0) return NULL;
    const char *name = strrchr(p, '/') + 1;
    size_t n = strlen(name);
    if (n < 1 || n > 64) return NULL;
    for (const char *c = name; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("+=,.@_-", *c)) return NULL;
    return name;
}

static int add_role(const char *file, const char *arn, json_t *v, char **err)
{
    const char *name = role_name(arn);
    if (!name) {
        *err = xasprintf("--roles %s: '%.200s' is not a role ARN; write "
                         "arn:aws:iam::ACCOUNT:role/NAME, as job definitions' jobRoleArn does",
                         file, arn);
        return -1;
    }
    role r = {.arn = xstrdup(arn), .name = xstrdup(name)};
    json_t *list = json_is_string(v) ? json_pack("[O]", v) : json_incref(v);
    size_t i;
    json_t *e;
    int rc = 0;
    if (!json_is_array(list) || json_array_size(list) == 0) {
        *err = xasprintf("--roles %s: role %s: give a policy's name or a list of names, like "
                         "\"submit\" or [\"read\", \"one-queue\"]", file, arn);
        rc = -1;
    }
    json_array_foreach(list, i, e) {
        if (rc < 0) break;
        const char *p = json_is_string(e) && auth_policy_known(json_string_value(e))
                            ? json_string_value(e) : NULL;
        if (!p) {
            *err = xasprintf("--roles %s: role %s names %s%.60s%s, which is neither built in "
                             "(admin, submit, read) nor in --policies", file, arn,
                             json_is_string(e) ? "'" : "", json_is_string(e)
                             ? json_string_value(e) : "something other than a name",
                             json_is_string(e) ? "'" : "");
            rc = -1;
            break;
        }
        r.policies = xrealloc(r.policies, (r.npolicies + 1) * sizeof *r.policies);
        r.policies[r.npolicies++] = xstrdup(p);
    }
    json_decref(list);
    if (rc < 0) {
        free(r.arn);
        free(r.name);
        for (size_t k = 0; k < r.npolicies; k++) free(r.policies[k]);
        free(r.policies);
        return -1;
    }
    T.roles = xrealloc(T.roles, (T.nroles + 1) * sizeof *T.roles);
    T.roles[T.nroles++] = r;
    return 0;
}

static int load_roles(const char *file, char **err)
{
    json_t *doc = jtext_load_file("--roles", file, err);
    if (!doc) return -1;
    if (!json_is_object(doc)) {
        *err = xasprintf("--roles %s: must be a JSON object of role ARNs and the policies their "
                         "jobs get, like {\"arn:aws:iam::%s:role/pipeline\": \"submit\"}", file,
                         barge_cfg.account_id);
        json_decref(doc);
        return -1;
    }
    const char *arn;
    json_t *v;
    json_object_foreach(doc, arn, v) {
        if (add_role(file, arn, v, err) < 0) {
            json_decref(doc);
            return -1;
        }
    }
    json_decref(doc);
    return 0;
}

/* ---- The table ------------------------------------------------------------------------ */

static void entry_unref(temp_entry *e)
{
    if (--e->refs > 0) return;
    auth_principal_free(e->p);
    OPENSSL_cleanse(e, sizeof *e);
    free(e);
}

/* Takes e out of the key table (mu held); requests still holding it keep it until answered. */
static void entry_retire(temp_entry *e)
{
    dict_del(&T.by_key, e->access_key);
    T.live--;
    entry_unref(e);
}

static void attempt_key(char *out, size_t len, const char *job_id, int attempt)
{
    snprintf(out, len, "%d %.200s", attempt, job_id);
}

/* Random text of n characters from alphabet (of 32 or 64 characters: a byte's low bits pick
 * one without bias). */
static void random_text(char *out, size_t n, const char *alphabet, unsigned mask)
{
    unsigned char raw[128];
    BARGE_ASSERT(n <= sizeof raw && RAND_bytes(raw, (int)n) == 1);
    for (size_t i = 0; i < n; i++) out[i] = alphabet[raw[i] & mask];
    out[n] = '\0';
    OPENSSL_cleanse(raw, sizeof raw);
}

static auth_principal *find_key(const char *access_key, time_t now, int *expired)
{
    pthread_mutex_lock(&T.mu);
    temp_entry *e = dict_get(&T.by_key, access_key);
    auth_principal *p = NULL;
    if (e && e->expires_ms <= (int64_t)now * 1000) {
        *expired = 1;
    } else if (e) {
        e->refs++;
        p = e->p;
    }
    pthread_mutex_unlock(&T.mu);
    return p;
}

static void release_key(auth_principal *p)
{
    pthread_mutex_lock(&T.mu);
    entry_unref(auth_principal_owner(p));
    pthread_mutex_unlock(&T.mu);
}

int auth_temp_init(const char *roles_file, int session_seconds, char **err)
{
    dict_init(&T.by_key);
    dict_init(&T.by_attempt);
    T.seconds = session_seconds > 0 ? session_seconds : AUTH_TEMP_DEFAULT_SECONDS;
    if (roles_file && load_roles(roles_file, err) < 0) return -1;
    static const auth_key_source src = {find_key, release_key};
    auth_set_key_source(&src);
    return 0;
}

size_t auth_temp_role_count(void)
{
    return T.nroles;
}

size_t auth_temp_live(void)
{
    pthread_mutex_lock(&T.mu);
    size_t n = T.live;
    pthread_mutex_unlock(&T.mu);
    return n;
}

void auth_temp_free(void)
{
    auth_set_key_source(NULL);
    auth_temp_forget_all();
    dict_free(&T.by_attempt);
    dict_free(&T.by_key);
    for (size_t r = 0; r < T.nroles; r++) {
        free(T.roles[r].arn);
        free(T.roles[r].name);
        for (size_t j = 0; j < T.roles[r].npolicies; j++) free(T.roles[r].policies[j]);
        free(T.roles[r].policies);
    }
    free(T.roles);
    T.roles = NULL;
    T.nroles = 0;
    T.live = 0;
}

int auth_temp_role_listed(const char *role_arn)
{
    return find_role(role_arn) != NULL;
}

int auth_temp_role_usable(const char *role_arn, char *why, size_t len)
{
    if (find_role(role_arn) || !auth_enabled()) return 1;
    /* ECS's words, then barge's reason, short enough to be kept whole as a container reason. */
    snprintf(why, len, "ECS was unable to assume the role '%.150s' that was provided for this "
             "task: the barge server's --roles names no such role", role_arn);
    return 0;
}

/* The name an assumed role's ARN gives the role: --roles' own, or (keys not checked) the
 * ARN's last part. */
static const char *session_role_name(const role *r, const char *role_arn)
{
    if (r) return r->name;
    const char *slash = strrchr(role_arn, '/');
    return slash ? slash + 1 : role_arn;
}

/* Puts credentials in the table as the attempt's newest; the attempt's oldest go when it holds
 * more than AUTH_TEMP_PER_ATTEMPT, their access key into dropped ("" when none). */
static void table_add(const role *r, const char *role_arn, const char *session,
                      const char *job_id, int attempt, const auth_temp_creds *c,
                      char dropped[21])
{
    char *arn = xasprintf("arn:aws:sts::%s:assumed-role/%s/%.64s", barge_cfg.account_id,
                          session_role_name(r, role_arn), session);
    temp_entry *e = xcalloc(1, sizeof *e);
    memcpy(e->access_key, c->access_key, sizeof e->access_key);
    e->expires_ms = c->expires_ms;
    e->refs = 1; /* the table's */
    e->p = auth_principal_new(arn, c->access_key, c->secret, c->token,
                              r ? (const char *const *)r->policies : NULL,
                              r ? r->npolicies : 0, e);
    free(arn);

    char key[256];
    attempt_key(key, sizeof key, job_id, attempt);
    dropped[0] = '\0';
    pthread_mutex_lock(&T.mu);
    attempt_creds *a = dict_get(&T.by_attempt, key);
    if (!a) {
        a = xcalloc(1, sizeof *a);
        a->key = xstrdup(key);
        dict_put(&T.by_attempt, a->key, a);
    }
    e->older = a->newest;
    a->newest = e;
    a->n++;
    dict_put(&T.by_key, e->access_key, e);
    T.live++;
    if (a->n > AUTH_TEMP_PER_ATTEMPT) {
        temp_entry **pp = &a->newest;
        while ((*pp)->older) pp = &(*pp)->older;
        memcpy(dropped, (*pp)->access_key, sizeof e->access_key);
        entry_retire(*pp);
        *pp = NULL;
        a->n--;
    }
    pthread_mutex_unlock(&T.mu);
}

int auth_temp_issue(const char *role_arn, const char *session, const char *job_id, int attempt,
                    time_t now, auth_temp_creds *out, char *why, size_t len)
{
    /* Without keys checked (--dev), credentials of any role work, since any do; they are
     * issued alike so that the job's SDK finds them where it looks. */
    if (!auth_temp_role_usable(role_arn, why, len)) return -1;
    static const char upper[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    memcpy(out->access_key, "ASIA", 4);
    random_text(out->access_key + 4, 16, upper, 31);
    random_text(out->secret, 40, b64, 63);
    random_text(out->token, 128, b64, 63);
    out->expires_ms = ((int64_t)now + T.seconds) * 1000;
    util_iso_time((int64_t)now + T.seconds, out->expiration);
    table_add(find_role(role_arn), role_arn, session, job_id, attempt, out, out->dropped);
    return 0;
}

char *auth_temp_record_text(const char *role_arn, const char *session, const char *job_id,
                       int attempt, const auth_temp_creds *c)
{
    json_t *doc = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:I}", "role", role_arn, "session",
                            session, "job", job_id, "attempt", attempt, "secret", c->secret,
                            "token", c->token, "expires", (json_int_t)c->expires_ms);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc); /* its strings are freed, not cleansed: the store keeps the same text */
    return text;
}

int auth_temp_record_read(const char *access_key, const char *doc, size_t len,
                          auth_temp_record *out)
{
    memset(out, 0, sizeof *out);
    json_t *d = json_loadb(doc, len, 0, NULL);
    const char *role_arn = json_string_value(json_object_get(d, "role"));
    const char *session = json_string_value(json_object_get(d, "session"));
    const char *job = json_string_value(json_object_get(d, "job"));
    const char *secret = json_string_value(json_object_get(d, "secret"));
    const char *token = json_string_value(json_object_get(d, "token"));
    json_t *attempt = json_object_get(d, "attempt"), *expires = json_object_get(d, "expires");
    int ok = role_arn && session && job && secret && token && json_is_integer(attempt) &&
             json_is_integer(expires) && strlen(access_key) < sizeof out->creds.access_key &&
             strlen(secret) < sizeof out->creds.secret &&
             strlen(token) < sizeof out->creds.token &&
             strlen(role_arn) < sizeof out->role && strlen(session) < sizeof out->session &&
             strlen(job) < sizeof out->job_id;
    if (ok) {
        strcpy(out->role, role_arn);
        strcpy(out->session, session);
        strcpy(out->job_id, job);
        out->attempt = (int)json_integer_value(attempt);
        strcpy(out->creds.access_key, access_key);
        strcpy(out->creds.secret, secret);
        strcpy(out->creds.token, token);
        out->creds.expires_ms = json_integer_value(expires);
        util_iso_time(out->creds.expires_ms / 1000, out->creds.expiration);
    }
    json_decref(d);
    return ok ? 0 : -1;
}

int auth_temp_restore(const auth_temp_record *rec)
{
    char why[400];
    if (!auth_temp_role_usable(rec->role, why, sizeof why)) return -1;
    char dropped[21];
    table_add(find_role(rec->role), rec->role, rec->session, rec->job_id, rec->attempt,
              &rec->creds, dropped);
    return 0;
}

/* Retires an attempt's credentials (mu held), telling each's access key to each. */
static void attempt_retire(attempt_creds *a, void (*each)(void *arg, const char *access_key),
                           void *arg)
{
    for (temp_entry *e = a->newest, *older; e; e = older) {
        older = e->older;
        if (each) each(arg, e->access_key);
        entry_retire(e);
    }
    free(a->key);
    free(a);
}

void auth_temp_revoke(const char *job_id, int attempt,
                      void (*each)(void *arg, const char *access_key), void *arg)
{
    char key[256];
    attempt_key(key, sizeof key, job_id, attempt);
    pthread_mutex_lock(&T.mu);
    attempt_creds *a = dict_del(&T.by_attempt, key);
    if (a) attempt_retire(a, each, arg);
    pthread_mutex_unlock(&T.mu);
}

void auth_temp_forget_all(void)
{
    pthread_mutex_lock(&T.mu);
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&T.by_attempt, &i, &k, &v)) attempt_retire(v, NULL, NULL);
    dict_free(&T.by_attempt);
    dict_init(&T.by_attempt);
    pthread_mutex_unlock(&T.mu);
}
