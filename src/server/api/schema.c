#include "server/api/schema.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

enum kind { K_STRING, K_INT, K_BOOL, K_NUMBER, K_ENUM, K_LIST, K_MAP, K_OBJECT, K_REF, K_ANY };

/* AWS's Integer is 32 bits; a plain "i" is refused outside it, so no handler narrows a wider
 * value.  "l" is AWS's Long (timestamps) and takes what JSON's integers can hold. */
#define INT32_LO (-2147483647LL - 1)
#define INT32_HI 2147483647LL

typedef struct member {
    char *name;
    schema *shape;
    int required;
} member;

struct schema {
    enum kind kind;
    schema *item;   /* list and map values */
    member *members; /* objects */
    int n_members;
    char **enums; /* enumerations, NULL-terminated */
    char *ref;    /* references */
    long long lo, hi; /* integers: the allowed range, both ends included */
};

typedef struct named {
    char *name;
    schema *shape;
    struct named *next;
} named;
static named *definitions;

typedef struct {
    const char *src, *p;
} parser;

static void syntax(parser *ps, const char *what)
{
    log_panic(__FILE__, __LINE__, xasprintf("schema: %s at offset %ld of \"%s\"", what,
                                            (long)(ps->p - ps->src), ps->src));
}

static void skip(parser *ps)
{
    while (isspace((unsigned char)*ps->p)) ps->p++;
}

static char *ident(parser *ps)
{
    skip(ps);
    const char *start = ps->p;
    while (isalnum((unsigned char)*ps->p) || *ps->p == '_' || *ps->p == '-' || *ps->p == '.')
        ps->p++;
    if (ps->p == start) syntax(ps, "expected a name");
    return xstrndup(start, (size_t)(ps->p - start));
}

static void expect(parser *ps, char c)
{
    skip(ps);
    if (*ps->p != c) {
        char what[32];
        snprintf(what, sizeof what, "expected '%c'", c);
        syntax(ps, what);
    }
    ps->p++;
}

static long long bound(parser *ps)
{
    skip(ps);
    char *end;
    long long v = strtoll(ps->p, &end, 10);
    if (end == ps->p) syntax(ps, "expected a number");
    ps->p = end;
    return v;
}

/* i(LO..HI): an integer in a range narrower than AWS's Integer; s(LO..HI): a string of LO to
 * HI characters. */
static void range(parser *ps, schema *s, long long min, long long max)
{
    expect(ps, '(');
    s->lo = bound(ps);
    expect(ps, '.');
    expect(ps, '.');
    s->hi = bound(ps);
    expect(ps, ')');
    if (s->lo > s->hi || s->lo < min || s->hi > max) syntax(ps, "bad range");
}

static schema *parse(parser *ps)
{
    schema *s = xcalloc(1, sizeof *s);
    skip(ps);
    char c = *ps->p++;
    switch (c) {
    case 's':
        s->kind = K_STRING;
        s->lo = 0;
        s->hi = LLONG_MAX;
        skip(ps);
        if (*ps->p == '(') range(ps, s, 0, INT32_HI);
        break;
    case 'i':
        s->kind = K_INT;
        s->lo = INT32_LO;
        s->hi = INT32_HI;
        skip(ps);
        if (*ps->p == '(') range(ps, s, INT32_LO, INT32_HI);
        break;
    case 'l':
        s->kind = K_INT;
        s->lo = LLONG_MIN;
        s->hi = LLONG_MAX;
        break;
    case 'b': s->kind = K_BOOL; break;
    case 'f': s->kind = K_NUMBER; break;
    case '*': s->kind = K_ANY; break;
    case 'e': {
        s->kind = K_ENUM;
        expect(ps, '(');
        int n = 0;
        for (;;) {
            s->enums = xrealloc(s->enums, sizeof(char *) * (size_t)(n + 2));
            s->enums[n++] = ident(ps);
            s->enums[n] = NULL;
            skip(ps);
            if (*ps->p == '|') { ps->p++; continue; }
            break;
        }
        expect(ps, ')');
        break;
    }
    case '[':
        s->kind = K_LIST;
        s->item = parse(ps);
        expect(ps, ']');
        s->lo = 0;
        s->hi = LLONG_MAX;
        skip(ps);
        if (*ps->p == '(') range(ps, s, 0, INT32_HI);
        break;
    case 'm':
        s->kind = K_MAP;
        expect(ps, '<');
        s->item = parse(ps);
        expect(ps, '>');
        break;
    case '@':
        s->kind = K_REF;
        s->ref = ident(ps);
        break;
    case '{':
        s->kind = K_OBJECT;
        skip(ps);
        while (*ps->p != '}') {
            s->members = xrealloc(s->members, sizeof(member) * (size_t)(s->n_members + 1));
            member *m = &s->members[s->n_members++];
            m->name = ident(ps);
            expect(ps, ':');
            m->shape = parse(ps);
            skip(ps);
            m->required = 0;
            if (*ps->p == '!') { m->required = 1; ps->p++; skip(ps); }
            if (*ps->p == ',') { ps->p++; skip(ps); }
            else if (*ps->p != '}') syntax(ps, "expected ',' or '}'");
        }
        ps->p++;
        break;
    default:
        ps->p--;
        syntax(ps, "unknown shape");
    }
    return s;
}

schema *schema_compile(const char *src)
{
    parser ps = {src, src};
    schema *s = parse(&ps);
    skip(&ps);
    if (*ps.p) syntax(&ps, "trailing text");
    return s;
}

void schema_define(const char *name, const char *src)
{
    named *n = xmalloc(sizeof *n);
    n->name = xstrdup(name);
    n->shape = schema_compile(src);
    n->next = definitions;
    definitions = n;
}

static const schema *resolve(const schema *s)
{
    while (s->kind == K_REF) {
        const named *n;
        for (n = definitions; n && strcmp(n->name, s->ref) != 0; n = n->next) {}
        if (!n) log_panic(__FILE__, __LINE__, xasprintf("schema: @%s is not defined", s->ref));
        s = n->shape;
    }
    return s;
}

static const char *type_name(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

static const char *wanted(const schema *s)
{
    switch (s->kind) {
    case K_STRING: return "a string";
    case K_INT: return "an integer";
    case K_BOOL: return "a boolean (true or false)";
    case K_NUMBER: return "a number";
    case K_ENUM: return "a string";
    case K_LIST: return "a list";
    case K_MAP: return "an object (a map of names to values)";
    case K_OBJECT: return "an object";
    default: return "a value";
    }
}

/* How deep a value taken as anything ("*") may nest: shapes that take anything are the parts
 * of a request a handler reads itself (or refuses), never deeper than a few levels on AWS. */
#define ANY_DEPTH_MAX 32

/* 0 when v nests at most levels deep (a scalar is one level), -1 otherwise. */
static int depth(json_t *v, int levels)
{
    if (!json_is_object(v) && !json_is_array(v)) return 0;
    if (levels <= 1) return -1;
    size_t i;
    const char *key;
    json_t *item;
    if (json_is_array(v)) {
        json_array_foreach(v, i, item) if (depth(item, levels - 1) < 0) return -1;
    } else {
        json_object_foreach(v, key, item) if (depth(item, levels - 1) < 0) return -1;
    }
    return 0;
}

static int named_member(const schema *s, const char *key)
{
    for (int i = 0; i < s->n_members; i++)
        if (strcmp(s->members[i].name, key) == 0) return 1;
    return 0;
}

/* An integer written as a number with an exponent or a fraction of zero (1e+05, 3600.0):
 * R's JSON writers (paws, jsonlite) print round doubles so, and the parser keeps them as reals.
 * 1 with the value in *out when v is one, else 0. */
static int integral_real(const json_t *v, json_int_t *out)
{
    if (!json_is_real(v)) return 0;
    double d = json_real_value(v);
    /* 2^63 is exact as a double; anything at or past it does not fit. */
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != floor(d)) return 0;
    *out = (json_int_t)d;
    return 1;
}

/* path is the dotted location so far; err receives the sentence.  Returns 0, -1 (err set), or
 * 1 when v is an integer written as a real (integral_real), which the caller, holding v's
 * container, replaces with the integer, so that handlers read it as any other. */
static int check(const schema *s, json_t *v, buf *path, char *err, size_t errlen)
{
    s = resolve(s);
    const char *where = path->len ? path->data : "request body";
    switch (s->kind) {
    case K_ANY:
        if (depth(v, ANY_DEPTH_MAX) < 0) {
            snprintf(err, errlen, "%s: nested more than %d levels deep", where, ANY_DEPTH_MAX);
            return -1;
        }
        return 0;
    case K_STRING: {
        if (!json_is_string(v)) break;
        if (s->lo == 0 && s->hi == LLONG_MAX) return 0;
        /* In characters, as AWS's limits count them, not bytes. */
        long long n = (long long)util_utf8_chars(json_string_value(v));
        if (n >= s->lo && n <= s->hi) return 0;
        if (s->lo == s->hi)
            snprintf(err, errlen, "%s: must be %lld characters long (got %lld)", where, s->lo, n);
        else
            snprintf(err, errlen, "%s: must be %lld to %lld characters long (got %lld)", where,
                     s->lo, s->hi, n);
        return -1;
    }
    case K_INT: {
        json_int_t n;
        int real = integral_real(v, &n);
        if (!real && !json_is_integer(v)) break;
        if (!real) n = json_integer_value(v);
        if (n < s->lo || n > s->hi) {
            snprintf(err, errlen, "%s: must be between %lld and %lld (got %lld)", where, s->lo,
                     s->hi, (long long)n);
            return -1;
        }
        return real;
    }
    case K_BOOL:
        if (json_is_boolean(v)) return 0;
        break;
    case K_NUMBER:
        if (json_is_number(v)) return 0;
        break;
    case K_ENUM:
        if (!json_is_string(v)) break;
        for (char **e = s->enums; *e; e++)
            if (strcmp(*e, json_string_value(v)) == 0) return 0;
        {
            buf allowed = {0};
            for (char **e = s->enums; *e; e++) buf_printf(&allowed, "%s%s", e == s->enums ? "" : ", ", *e);
            snprintf(err, errlen, "%s: '%.64s' is not one of %s", where, json_string_value(v),
                     allowed.data);
            buf_free(&allowed);
        }
        return -1;
    case K_LIST: {
        if (!json_is_array(v)) break;
        size_t i, base = path->len;
        json_t *item;
        long long n = (long long)json_array_size(v);
        if (n < s->lo || n > s->hi) {
            snprintf(err, errlen, "%s: must hold %lld to %lld items (got %lld)", where,
                     s->lo, s->hi, n);
            return -1;
        }
        json_array_foreach(v, i, item) {
            buf_printf(path, "[%zu]", i);
            if (json_is_null(item)) {
                snprintf(err, errlen, "%s: expected %s, got null", path->data, wanted(resolve(s->item)));
                return -1;
            }
            int rc = check(s->item, item, path, err, errlen);
            if (rc < 0) return -1;
            if (rc == 1) json_array_set_new(v, i, json_integer((json_int_t)json_real_value(item)));
            path->len = base;
            path->data[base] = '\0';
        }
        return 0;
    }
    case K_MAP:
    case K_OBJECT: {
        if (!json_is_object(v)) break;
        size_t base = path->len;
        const char *key;
        json_t *member_v;
        void *tmp;
        /* Null members mean "absent" on AWS's wire; dropping them keeps handlers simple. */
        json_object_foreach_safe(v, tmp, key, member_v) {
            if (json_is_null(member_v)) json_object_del(v, key);
        }
        if (s->kind == K_MAP) {
            json_object_foreach(v, key, member_v) {
                buf_printf(path, "%s%s", base ? "." : "", key);
                int rc = check(s->item, member_v, path, err, errlen);
                if (rc < 0) return -1;
                /* Setting a key that is there replaces its value in place: the walk goes on. */
                if (rc == 1)
                    json_object_set_new(v, key,
                                        json_integer((json_int_t)json_real_value(member_v)));
                path->len = base;
                path->data[base] = '\0';
            }
            return 0;
        }
        size_t found = 0;
        for (int i = 0; i < s->n_members; i++) {
            const member *m = &s->members[i];
            json_t *mv = json_object_get(v, m->name);
            found += mv != NULL;
            buf_printf(path, "%s%s", base ? "." : "", m->name);
            if (!mv) {
                if (m->required) {
                    snprintf(err, errlen, "%s: this field is required", path->data);
                    return -1;
                }
            } else {
                int rc = check(m->shape, mv, path, err, errlen);
                if (rc < 0) return -1;
                if (rc == 1)
                    json_object_set_new(v, m->name, json_integer((json_int_t)json_real_value(mv)));
            }
            path->len = base;
            path->data[base] = '\0';
        }
        /* Members the shape does not name are dropped, as AWS drops what its model does not
         * define: nothing a client made up is stored and described back to every other client
         * (a member nested 1,500 deep once made every describe fail in Python's JSON reader).
         * "{}" names none and takes any object as it is. */
        if (s->n_members && found < json_object_size(v)) {
            json_object_foreach_safe(v, tmp, key, member_v) {
                if (!named_member(s, key)) json_object_del(v, key);
            }
        }
        return 0;
    }
    case K_REF: break;
    }
    snprintf(err, errlen, "%s: expected %s, got %s", where, wanted(s), type_name(v));
    return -1;
}

int schema_check(const schema *s, json_t *v, char *err, size_t errlen)
{
    buf path = {0};
    buf_puts(&path, "");
    int rc = check(s, v, &path, err, errlen);
    buf_free(&path);
    if (rc == 1) {
        /* A whole body that is an integer written as a real cannot be replaced here (the
         * caller holds it); no operation's body is a number anyway. */
        snprintf(err, errlen, "request body: expected an integer, got a number");
        return -1;
    }
    return rc;
}
