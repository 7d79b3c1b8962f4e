/* policy_cond — a statement's Condition block (policy_cond.h). */
#include "server/api/policy_cond.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"

enum cond_op { OP_STR, OP_STR_NOCASE, OP_LIKE, OP_NUM_EQ, OP_NUM_LT, OP_NUM_LE, OP_NUM_GT,
               OP_NUM_GE, OP_BOOL, OP_NULL };
enum cond_set { SET_NONE, SET_ANY, SET_ALL };

static const struct {
    const char *name;
    enum cond_op op;
    int negate;
} operators[] = {
    {"StringEquals", OP_STR, 0},           {"StringNotEquals", OP_STR, 1},
    {"StringEqualsIgnoreCase", OP_STR_NOCASE, 0}, {"StringNotEqualsIgnoreCase", OP_STR_NOCASE, 1},
    {"StringLike", OP_LIKE, 0},            {"StringNotLike", OP_LIKE, 1},
    /* IAM's ArnEquals takes wildcards as ArnLike does. */
    {"ArnEquals", OP_LIKE, 0},             {"ArnLike", OP_LIKE, 0},
    {"ArnNotEquals", OP_LIKE, 1},          {"ArnNotLike", OP_LIKE, 1},
    {"NumericEquals", OP_NUM_EQ, 0},       {"NumericNotEquals", OP_NUM_EQ, 1},
    {"NumericLessThan", OP_NUM_LT, 0},     {"NumericLessThanEquals", OP_NUM_LE, 0},
    {"NumericGreaterThan", OP_NUM_GT, 0},  {"NumericGreaterThanEquals", OP_NUM_GE, 0},
    {"Bool", OP_BOOL, 0},                  {"Null", OP_NULL, 0},
};

/* A policy variable's name (between "${" and "}"): the single-valued keys barge fills in that
 * name the caller, and "$" for a literal '$'. */
static int var_known(const char *name, size_t len)
{
    static const char *const vars[] = {"aws:username", "aws:PrincipalArn", "$", NULL};
    for (size_t i = 0; vars[i]; i++)
        if (strlen(vars[i]) == len && strncasecmp(name, vars[i], len) == 0) return 1;
    return 0;
}

int policy_vars_check(const char *s, const char *where, char *err, size_t errlen)
{
    for (const char *p = strstr(s, "${"); p; p = strstr(p + 2, "${")) {
        const char *end = strchr(p + 2, '}');
        if (!end || !var_known(p + 2, (size_t)(end - p - 2))) {
            snprintf(err, errlen, "%s: '%.60s': the policy variables barge fills in are "
                                  "${aws:username}, ${aws:PrincipalArn} and ${$}; a variable "
                                  "never filled in would make the statement mean less than it "
                                  "says", where, p);
            return -1;
        }
    }
    return 0;
}

char *policy_expand(const char *s, const policy_ctx *ctx)
{
    buf b = {0};
    buf_puts(&b, "");
    for (const char *p = s;;) {
        const char *v = strstr(p, "${");
        if (!v) {
            buf_puts(&b, p);
            return b.data;
        }
        buf_append(&b, p, (size_t)(v - p));
        const char *end = strchr(v + 2, '}');
        if (!end) { /* checked when read; kept as written */
            buf_puts(&b, v);
            return b.data;
        }
        size_t len = (size_t)(end - v - 2);
        const char *value = NULL;
        if (len == 1 && v[2] == '$') value = "$";
        for (size_t i = 0; !value && ctx && i < ctx->n; i++)
            if (strlen(ctx->kv[i].key) == len && strncasecmp(ctx->kv[i].key, v + 2, len) == 0)
                value = ctx->kv[i].value;
        /* A value that would read as a wildcard is no name of the caller's. */
        if (!value || (strcmp(value, "$") != 0 && strpbrk(value, "*?"))) {
            buf_free(&b);
            return NULL;
        }
        buf_puts(&b, value);
        p = end + 1;
    }
}

/* The keys barge fills in (auth_context.c); aws:RequestTag/ takes any tag key after it. */
static const char *const known_keys[] = {
    "aws:PrincipalArn", "aws:username", "aws:TagKeys", "batch:ShareIdentifier", "batch:Image",
    "batch:Privileged", "batch:User", "batch:LogDriver", "batch:AWSLogsGroup",
    "batch:AWSLogsRegion", "batch:AWSLogsStreamPrefix", "batch:AWSLogsCreateGroup", NULL};
#define REQUEST_TAG "aws:RequestTag/"

typedef struct cond_test {
    enum cond_op op;
    int negate, if_exists;
    enum cond_set set;
    int vars; /* its values may hold policy variables */
    char *key;
    char **values;
    size_t n;
} cond_test;

struct policy_cond {
    cond_test *t;
    size_t n;
};

int policy_glob(const char *p, const char *s, int nocase)
{
    /* Iterative matching with one backtrack point: linear in practice, and no recursion that a
     * pattern of many stars could make exponential. */
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*p == '*') {
            star = p++;
            resume = s;
        } else if (*p == '?' ||
                   (nocase ? tolower((unsigned char)*p) == tolower((unsigned char)*s)
                           : *p == *s)) {
            if (!*p) break;
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++resume;
        } else {
            return 0;
        }
    }
    while (*p == '*') p++;
    return *p == '\0';
}

static int key_known(const char *k)
{
    if (strncasecmp(k, REQUEST_TAG, strlen(REQUEST_TAG)) == 0) return k[strlen(REQUEST_TAG)] != 0;
    for (size_t i = 0; known_keys[i]; i++)
        if (strcasecmp(k, known_keys[i]) == 0) return 1;
    return 0;
}

/* The operator's name into t: its set prefix, its base and its IfExists suffix; -1 when barge
 * does not evaluate it. */
static int read_operator(const char *name, cond_test *t)
{
    char base[64];
    if (strncmp(name, "ForAllValues:", 13) == 0) {
        t->set = SET_ALL;
        name += 13;
    } else if (strncmp(name, "ForAnyValue:", 12) == 0) {
        t->set = SET_ANY;
        name += 12;
    }
    size_t len = strlen(name);
    if (len >= sizeof base) return -1;
    memcpy(base, name, len + 1);
    if (len > 8 && strcmp(base + len - 8, "IfExists") == 0) {
        t->if_exists = 1;
        base[len - 8] = '\0';
    }
    for (size_t i = 0; i < sizeof operators / sizeof *operators; i++) {
        if (strcmp(base, operators[i].name) != 0) continue;
        t->op = operators[i].op;
        t->negate = operators[i].negate;
        return t->op == OP_NULL && (t->if_exists || t->set) ? -1 : 0;
    }
    return -1;
}

/* A condition value as the request's values are written: strings as they are, numbers in
 * decimal, JSON's booleans as "true" and "false". */
static char *value_text(json_t *v)
{
    if (json_is_string(v)) return xstrdup(json_string_value(v));
    if (json_is_integer(v)) return xasprintf("%lld", (long long)json_integer_value(v));
    if (json_is_real(v)) return xasprintf("%.17g", json_real_value(v));
    if (json_is_boolean(v)) return xstrdup(json_is_true(v) ? "true" : "false");
    return NULL;
}

static int read_values(json_t *v, cond_test *t, int vars, char *err, size_t errlen,
                       const char *where)
{
    json_t *one = NULL;
    if (!json_is_array(v)) v = one = json_pack("[O]", v);
    if (json_array_size(v) == 0) {
        snprintf(err, errlen, "%s: must be a value or a non-empty list of values", where);
        json_decref(one);
        return -1;
    }
    t->values = xcalloc(json_array_size(v), sizeof *t->values);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        char *s = value_text(e);
        if (!s) {
            snprintf(err, errlen, "%s: each value must be a string, a number or a boolean",
                     where);
            json_decref(one);
            return -1;
        }
        if (vars && policy_vars_check(s, where, err, errlen) < 0) {
            free(s);
            json_decref(one);
            return -1;
        }
        t->values[t->n++] = s;
    }
    json_decref(one);
    if (t->op == OP_NULL || t->op == OP_BOOL) {
        for (size_t k = 0; k < t->n; k++) {
            if (strcasecmp(t->values[k], "true") != 0 && strcasecmp(t->values[k], "false") != 0) {
                snprintf(err, errlen, "%s: must be true or false", where);
                return -1;
            }
        }
    }
    if (t->op >= OP_NUM_EQ && t->op <= OP_NUM_GE) {
        for (size_t k = 0; k < t->n; k++) {
            char *end;
            strtod(t->values[k], &end);
            if (end == t->values[k] || *end) {
                snprintf(err, errlen, "%s: '%.40s' is not a number", where, t->values[k]);
                return -1;
            }
        }
    }
    return 0;
}

policy_cond *policy_cond_parse(json_t *block, size_t i, int vars, char *err, size_t errlen)
{
    if (!json_is_object(block) || json_object_size(block) == 0) {
        snprintf(err, errlen, "Statement[%zu].Condition: must be an object of condition "
                              "operators", i);
        return NULL;
    }
    policy_cond *c = xcalloc(1, sizeof *c);
    const char *opname, *key;
    json_t *keys, *v;
    json_object_foreach(block, opname, keys) {
        cond_test probe = {0};
        if (read_operator(opname, &probe) < 0) {
            snprintf(err, errlen, "Statement[%zu].Condition.%.60s: not a condition operator barge "
                                  "evaluates (String*, Arn*, Numeric*, Bool, Null, with IfExists, "
                                  "ForAllValues: or ForAnyValue:); dates and IP addresses are not",
                     i, opname);
            goto fail;
        }
        if (!json_is_object(keys) || json_object_size(keys) == 0) {
            snprintf(err, errlen, "Statement[%zu].Condition.%.60s: must be an object of condition "
                                  "keys and values", i, opname);
            goto fail;
        }
        json_object_foreach(keys, key, v) {
            char where[200];
            snprintf(where, sizeof where, "Statement[%zu].Condition.%.60s.%.60s", i, opname, key);
            if (!key_known(key)) {
                snprintf(err, errlen, "%s: not a condition key barge fills in (aws:PrincipalArn, "
                                      "aws:username, aws:RequestTag/KEY, aws:TagKeys, "
                                      "batch:ShareIdentifier, batch:Image, batch:Privileged, "
                                      "batch:User, batch:LogDriver, batch:AWSLogs*): a key never "
                                      "present would make the statement mean less than it says",
                         where);
                goto fail;
            }
            c->t = xrealloc(c->t, (c->n + 1) * sizeof *c->t);
            cond_test *t = &c->t[c->n++];
            *t = probe;
            t->key = xstrdup(key);
            t->vars = vars;
            if (read_values(v, t, vars, err, errlen, where) < 0) goto fail;
        }
    }
    return c;
fail:
    policy_cond_free(c);
    return NULL;
}

void policy_cond_free(policy_cond *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) {
        for (size_t k = 0; k < c->t[i].n; k++) free(c->t[i].values[k]);
        free(c->t[i].values);
        free(c->t[i].key);
    }
    free(c->t);
    free(c);
}

static int number(const char *s, double *out)
{
    char *end;
    *out = strtod(s, &end);
    return end != s && !*end;
}

/* Whether the request's value v matches the condition's value want, the operator not negated. */
static int one(const cond_test *t, const char *v, const char *want)
{
    double a, b;
    switch (t->op) {
    case OP_STR: return strcmp(v, want) == 0;
    case OP_STR_NOCASE:
    case OP_BOOL: return strcasecmp(v, want) == 0;
    case OP_LIKE: return policy_glob(want, v, 0);
    case OP_NULL: return 0;
    default: break;
    }
    if (!number(v, &a) || !number(want, &b)) return 0;
    switch (t->op) {
    case OP_NUM_EQ: return a == b;
    case OP_NUM_LT: return a < b;
    case OP_NUM_LE: return a <= b;
    case OP_NUM_GT: return a > b;
    default: return a >= b;
    }
}

/* The test for one of the request's values: any of the condition's values matches (none, for
 * a negated operator).  A value with a policy variable the request lacks matches nothing. */
static int value_holds(const cond_test *t, const char *v, const policy_ctx *ctx)
{
    int hit = 0;
    for (size_t k = 0; k < t->n && !hit; k++) {
        if (!t->vars || !strstr(t->values[k], "${")) {
            hit = one(t, v, t->values[k]);
            continue;
        }
        char *want = policy_expand(t->values[k], ctx);
        hit = want && one(t, v, want);
        free(want);
    }
    return t->negate ? !hit : hit;
}

static int test_holds(const cond_test *t, const policy_ctx *ctx)
{
    size_t present = 0;
    int any = 0, all = 1;
    for (size_t i = 0; ctx && i < ctx->n; i++) {
        if (strcasecmp(ctx->kv[i].key, t->key) != 0) continue;
        present++;
        if (value_holds(t, ctx->kv[i].value, ctx))
            any = 1;
        else
            all = 0;
    }
    if (t->op == OP_NULL) return (present == 0) == (strcasecmp(t->values[0], "true") == 0);
    if (!present) {
        /* IAM: ForAllValues holds over no values; IfExists holds when the key is absent; a
         * negated operator holds for a key the request does not have. */
        if (t->set == SET_ALL || t->if_exists) return 1;
        return t->set == SET_NONE && t->negate;
    }
    return t->set == SET_ALL ? all : any;
}

int policy_cond_holds(const policy_cond *c, const policy_ctx *ctx)
{
    for (size_t i = 0; c && i < c->n; i++)
        if (!test_holds(&c->t[i], ctx)) return 0;
    return 1;
}
