#include "server/api/policy.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

typedef struct statement {
    int deny;
    char **actions;
    size_t nactions;
    char **resources;
    size_t nresources;
    policy_cond *cond; /* NULL: none */
    int vars;          /* a resource holds a policy variable (Version 2012-10-17) */
} statement;

struct policy {
    statement *st;
    size_t n;
};

/* A string or a non-empty list of strings, copied into *out. */
static int strings(json_t *v, const char *what, size_t i, char ***out, size_t *n, char *err,
                   size_t errlen)
{
    if (json_is_string(v)) {
        *out = xcalloc(1, sizeof **out);
        (*out)[0] = xstrdup(json_string_value(v));
        *n = 1;
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0) {
        snprintf(err, errlen, "Statement[%zu].%s: must be a string or a non-empty list of "
                              "strings", i, what);
        return -1;
    }
    *out = xcalloc(json_array_size(v), sizeof **out);
    size_t k;
    json_t *e;
    json_array_foreach(v, k, e) {
        if (!json_is_string(e)) {
            snprintf(err, errlen, "Statement[%zu].%s[%zu]: must be a string", i, what, k);
            *n = k;
            return -1;
        }
        (*out)[k] = xstrdup(json_string_value(e));
    }
    *n = json_array_size(v);
    return 0;
}

policy *policy_parse(json_t *doc, char *err, size_t errlen)
{
    if (!json_is_object(doc)) {
        snprintf(err, errlen, "a policy document must be a JSON object with a Statement list");
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach(doc, k, v) {
        if (strcmp(k, "Version") != 0 && strcmp(k, "Statement") != 0 && strcmp(k, "Id") != 0) {
            snprintf(err, errlen, "'%.40s': not a member of the policy documents barge reads "
                                  "(Version, Id, Statement)", k);
            return NULL;
        }
    }
    json_t *ver = json_object_get(doc, "Version");
    if (ver && (!json_is_string(ver) || (strcmp(json_string_value(ver), "2012-10-17") != 0 &&
                                         strcmp(json_string_value(ver), "2008-10-17") != 0))) {
        snprintf(err, errlen, "Version: must be \"2012-10-17\" (or \"2008-10-17\")");
        return NULL;
    }
    json_t *sts = json_object_get(doc, "Statement");
    json_t *one = NULL;
    if (json_is_object(sts)) {
        one = json_array();
        json_array_append(one, sts);
        sts = one;
    }
    if (!json_is_array(sts)) {
        snprintf(err, errlen, "Statement: must be a statement or a list of statements");
        return NULL;
    }
    /* Policy variables are IAM's in documents of this version only; in others "${" is text. */
    int vars = ver && strcmp(json_string_value(ver), "2012-10-17") == 0;
    policy *p = xcalloc(1, sizeof *p);
    p->st = xcalloc(json_array_size(sts) + 1, sizeof *p->st);
    size_t i;
    json_t *s;
    json_array_foreach(sts, i, s) {
        if (!json_is_object(s)) {
            snprintf(err, errlen, "Statement[%zu]: must be an object", i);
            goto fail;
        }
        json_object_foreach(s, k, v) {
            if (strcmp(k, "Sid") && strcmp(k, "Effect") && strcmp(k, "Action") &&
                strcmp(k, "Resource") && strcmp(k, "Condition")) {
                snprintf(err, errlen, "Statement[%zu].%.40s: barge evaluates Effect, Action, "
                                      "Resource and Condition only; a policy that relies on "
                                      "%.40s would allow more here than it says, so it is "
                                      "refused", i, k, k);
                goto fail;
            }
        }
        statement *t = &p->st[p->n++];
        const char *eff = json_string_value(json_object_get(s, "Effect"));
        if (!eff || (strcmp(eff, "Allow") != 0 && strcmp(eff, "Deny") != 0)) {
            snprintf(err, errlen, "Statement[%zu].Effect: must be \"Allow\" or \"Deny\"", i);
            goto fail;
        }
        t->deny = strcmp(eff, "Deny") == 0;
        if (strings(json_object_get(s, "Action"), "Action", i, &t->actions, &t->nactions, err,
                    errlen) < 0 ||
            strings(json_object_get(s, "Resource"), "Resource", i, &t->resources,
                    &t->nresources, err, errlen) < 0)
            goto fail;
        json_t *cond = json_object_get(s, "Condition");
        if (cond && !(t->cond = policy_cond_parse(cond, i, vars, err, errlen))) goto fail;
        for (size_t r = 0; vars && r < t->nresources; r++) {
            if (!strstr(t->resources[r], "${")) continue;
            char where[64];
            snprintf(where, sizeof where, "Statement[%zu].Resource", i);
            if (policy_vars_check(t->resources[r], where, err, errlen) < 0) goto fail;
            t->vars = 1;
        }
        for (size_t a = 0; a < t->nactions; a++) {
            if (strcmp(t->actions[a], "*") != 0 && !strchr(t->actions[a], ':')) {
                snprintf(err, errlen, "Statement[%zu].Action: '%.60s' is not SERVICE:ACTION "
                                      "(for example batch:SubmitJob or logs:Get*)", i,
                         t->actions[a]);
                goto fail;
            }
        }
    }
    json_decref(one);
    return p;
fail:
    json_decref(one);
    policy_free(p);
    return NULL;
}

policy *policy_parse_text(const char *text, char *err, size_t errlen)
{
    json_error_t e;
    json_t *doc = json_loads(text, JSON_REJECT_DUPLICATES, &e);
    if (!doc) {
        snprintf(err, errlen, "not valid JSON (line %d: %s)", e.line, e.text);
        return NULL;
    }
    policy *p = policy_parse(doc, err, errlen);
    json_decref(doc);
    return p;
}

void policy_free(policy *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        for (size_t a = 0; a < p->st[i].nactions; a++) free(p->st[i].actions[a]);
        for (size_t r = 0; r < p->st[i].nresources; r++) free(p->st[i].resources[r]);
        free(p->st[i].actions);
        free(p->st[i].resources);
        policy_cond_free(p->st[i].cond);
    }
    free(p->st);
    free(p);
}

static int any(char **pats, size_t n, const char *s, int nocase)
{
    for (size_t i = 0; i < n; i++)
        if (pats[i] && policy_glob(pats[i], s, nocase)) return 1;
    return 0;
}

/* A statement's resources, with their policy variables filled in from the request's first
 * context (the caller's keys, which every context holds); one whose variable the request
 * lacks matches nothing. */
static int any_resource(const statement *t, const char *s, const policy_ctx *ctxs, size_t nctx)
{
    if (!t->vars) return any(t->resources, t->nresources, s, 0);
    for (size_t i = 0; i < t->nresources; i++) {
        if (!strstr(t->resources[i], "${")) {
            if (policy_glob(t->resources[i], s, 0)) return 1;
            continue;
        }
        char *pat = policy_expand(t->resources[i], nctx ? &ctxs[0] : NULL);
        int hit = pat && policy_glob(pat, s, 0);
        free(pat);
        if (hit) return 1;
    }
    return 0;
}

/* A statement's condition over a request of several contexts (a multi-node definition's node
 * ranges): an Allow must hold in every one, a Deny applies if it holds in any, so that no part
 * of a request is allowed that a statement about it alone would not allow. */
static int cond_applies(const statement *t, const policy_ctx *ctxs, size_t nctx)
{
    if (!t->cond) return 1;
    if (nctx == 0) return policy_cond_holds(t->cond, NULL);
    for (size_t c = 0; c < nctx; c++) {
        int holds = policy_cond_holds(t->cond, &ctxs[c]);
        if (t->deny && holds) return 1;
        if (!t->deny && !holds) return 0;
    }
    return !t->deny;
}

int policy_eval(const policy *p, const char *action, const char *resource,
                const policy_ctx *ctxs, size_t nctx)
{
    int allowed = 0;
    for (size_t i = 0; i < p->n; i++) {
        const statement *t = &p->st[i];
        if (!any(t->actions, t->nactions, action, 1) ||
            !any_resource(t, resource, ctxs, nctx) || !cond_applies(t, ctxs, nctx))
            continue;
        if (t->deny) return POLICY_DENY;
        allowed = 1;
    }
    return allowed ? POLICY_ALLOW : POLICY_NO_MATCH;
}
