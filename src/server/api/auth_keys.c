/* auth_keys — the credentials and policies files read into a keyring (auth_internal.h);
 * docs/credentials.md says how to write them.  Every mistake is a sentence that names the file
 * and the line or section, and never holds a secret. */
#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
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
#include "server/api/auth_internal.h"

/* The built-in policies (docs/credentials.md).  submit is what a pipeline needs to run jobs on
 * queues and definitions an administrator set up, and to follow them: no creating, updating or
 * deleting of environments, queues, definitions or scheduling policies. */
static const char *const builtin[][2] = {
    {"admin", "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\","
              "\"Resource\":\"*\"}]}"},
    {"submit", "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":["
               "\"batch:SubmitJob\",\"batch:CancelJob\",\"batch:TerminateJob\","
               "\"batch:CancelJobs\",\"batch:TerminateJobs\","
               "\"batch:TagResource\",\"batch:Describe*\",\"batch:List*\","
               "\"batch:GetJobQueueSnapshot\",\"batch:GetEvents\",\"batch:GetUsage\","
               "\"logs:Get*\",\"logs:Describe*\",\"logs:FilterLogEvents\"],"
               "\"Resource\":\"*\"}]}"},
    {"read", "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":["
             "\"batch:Describe*\",\"batch:List*\",\"batch:GetJobQueueSnapshot\",\"batch:GetEvents\","
             "\"batch:GetUsage\",\"logs:Get*\",\"logs:Describe*\","
             "\"logs:FilterLogEvents\"],\"Resource\":\"*\"}]}"},
};

const policy *auth_keyring_policy(const keyring *k, const char *name)
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
    json_t *doc = jtext_load_file("--policies", file, err);
    if (!doc) return -1;
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
        if (auth_keyring_policy(k, name)) {
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

void auth_principal_destroy(auth_principal *p)
{
    if (!p) return;
    for (size_t i = 0; p->role_policies && i < p->npolicies; i++) free(p->role_policies[i]);
    free(p->role_policies);
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
        const policy *pol = auth_keyring_policy(k, name);
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
    const char *why;
    size_t size, len;
    unsigned mode;
    /* Read whole into one buffer, wiped at the end: the keys are in no other copy. */
    char *text = util_read_secret_file(file, UTIL_SECRET_FILE_MAX, &size, &mode, &why);
    if (!text) {
        *err = xasprintf("--credentials %s %s", file, why);
        return -1;
    }
    if (mode & 077)
        log_warn("--credentials %s can be read by other users (mode %03o); chmod 600 it", file,
                 mode & 0777);
    /* Whole lines, however long: a session token runs to thousands of characters, and a line
     * cut in two would be read as two. */
    char *at = text, *line;
    int lineno = 0, rc = -1;
    auth_principal *cur = NULL;
    while ((line = util_next_line(&at, text + size, &len))) {
        lineno++;
        if (strlen(line) != len) {
            *err = xasprintf("--credentials %s line %d: holds a NUL byte; it is a text file",
                             file, lineno);
            goto done;
        }
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
    util_secret_free(text, size);
    /* cur is a section not yet added to the table (section_done adds it last). */
    auth_principal_destroy(cur);
    return rc;
}

void auth_keyring_free(keyring *k)
{
    if (!k) return;
    for (size_t i = 0; i < k->n; i++) auth_principal_destroy(k->ps[i]);
    free(k->ps);
    for (size_t i = 0; i < k->npols; i++) {
        free(k->pols[i].name);
        policy_free(k->pols[i].p);
    }
    free(k->pols);
    dict_free(&k->by_key);
    free(k);
}

keyring *auth_keyring_load(const char *credentials_file, const char *policies_file, char **err)
{
    keyring *k = xcalloc(1, sizeof *k);
    k->refs = 1; /* the server's, while it is the current one */
    dict_init(&k->by_key);
    if (load_policies(k, policies_file, err) < 0 ||
        (credentials_file && load_credentials(k, credentials_file, err) < 0)) {
        auth_keyring_free(k);
        return NULL;
    }
    return k;
}
