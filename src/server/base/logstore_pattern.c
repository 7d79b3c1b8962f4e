/* logstore_pattern — FilterLogEvents' filter patterns: terms, "quoted phrases", -exclusions,
 * ?alternatives with the terms that follow each, and %regular expressions%.  See
 * logstore_internal.h. */
#include "server/base/logstore_internal.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

/* A term's place in the pattern: every line must hold it, no line may, or it belongs to the
 * ?group of that number (0 on). */
enum { TERM_ALL = -1, TERM_NONE = -2 };

typedef struct term {
    char *text;
    size_t len;
    int group;
} term;

struct logstore_pattern {
    term *terms;
    size_t n;
    int groups; /* how many ?groups */
    int has_re; /* a %regular expression%: re alone decides */
    regex_t re;
};

void logstore__pattern_free(logstore_pattern *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) free(p->terms[i].text);
    free(p->terms);
    if (p->has_re) regfree(&p->re);
    free(p);
}

static int refuse(logstore_pattern *p, char **err, char *why)
{
    logstore__pattern_free(p);
    *err = why;
    return LOGSTORE_INVALID;
}

/* Regular expressions ------------------------------------------------------------------- */

/* What CloudWatch Logs allows in a regular expression besides letters and digits: its symbols
 * and its operators.  Not parentheses, spaces or bytes past ASCII, which it refuses: a pattern
 * that works here then works on AWS too. */
#define RE_SYMBOLS ":_#=@/;,-"
#define RE_OPERATORS "^$?[]{}|\\*+."

static int re_char_allowed(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr(RE_SYMBOLS RE_OPERATORS, c));
}

static int is_punct(unsigned char c)
{
    return c > ' ' && c < 0x7f && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                    (c >= '0' && c <= '9'));
}

/* \d \w \s and their negations, which POSIX EREs lack, as bracket expressions; inside [ ] the
 * class's members alone (a negation cannot be said there). */
static const char *re_class(char c, int in_bracket)
{
    switch (c) {
    case 'd': return in_bracket ? "0-9" : "[0-9]";
    case 'w': return in_bracket ? "A-Za-z0-9_" : "[A-Za-z0-9_]";
    case 's': return in_bracket ? "[:space:]" : "[[:space:]]";
    case 'D': return in_bracket ? NULL : "[^0-9]";
    case 'W': return in_bracket ? NULL : "[^A-Za-z0-9_]";
    case 'S': return in_bracket ? NULL : "[^[:space:]]";
    default: return NULL;
    }
}

/* A backslash and the character after it, as ERE: a class, or the character taken literally.
 * NULL when it cannot be said, with the reason in *why. */
static int re_escape(char c, int in_bracket, buf *out, const char **why)
{
    const char *cls = re_class(c, in_bracket);
    if (cls) {
        buf_puts(out, cls);
    } else if (strchr("DWS", c)) {
        *why = "\\D, \\W and \\S cannot be used inside [ ]";
        return -1;
    } else if (!is_punct((unsigned char)c)) {
        *why = "a backslash escapes a symbol, or makes \\d \\D \\w \\W \\s \\S";
        return -1;
    } else if (in_bracket) {
        /* A collating symbol: the character itself, whatever its place in the brackets (a
         * bare - would make a range there, a bare ] end them, a leading ^ negate them). */
        buf_printf(out, "[.%c.]", c);
    } else if (strchr(".[]{}()*+?|^$\\", c)) {
        buf_printf(out, "\\%c", c); /* special in an ERE: escaped, so literal */
    } else {
        buf_append(out, &c, 1); /* not special in an ERE: itself */
    }
    return 0;
}

/* A bound {n}, {n,} or {n,m} at re[i]: refused past 1000, or after another quantifier, as the
 * compiled expression grows with the product of its bounds (a{1000}{1000} takes a second and
 * hundreds of MiB to compile; one more bound, the machine). */
static int re_bound_ok(const char *re, size_t n, size_t i, const char **why)
{
    if (i > 0 && strchr("}*+?", re[i - 1])) {
        *why = "a bound {n,m} cannot follow another quantifier";
        return 0;
    }
    for (size_t j = i + 1; j < n && re[j] != '}'; j++) {
        long v = 0;
        while (j < n && re[j] >= '0' && re[j] <= '9' && v <= 1000) v = v * 10 + (re[j++] - '0');
        if (v > 1000) {
            *why = "a bound {n,m} is at most 1000";
            return 0;
        }
        if (j >= n || re[j] == '}') break;
    }
    return 1;
}

/* CloudWatch's regular expression (the text between the %s) as a POSIX extended one. */
static int re_translate(const char *re, size_t n, buf *out, const char **why)
{
    int in_bracket = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)re[i];
        if (!re_char_allowed(c)) {
            *why = c >= 0x80 ? "multi-byte characters are not allowed"
                   : c == '(' || c == ')' ? "parentheses are not allowed"
                                          : "a character other than letters, digits, "
                                            ": _ # = @ / ; , - and the operators "
                                            "^ $ ? [ ] { } | \\ * + .";
            return -1;
        }
        if (c == '\\') {
            if (++i == n) {
                *why = "it ends with a lone backslash";
                return -1;
            }
            if (re_escape(re[i], in_bracket, out, why) < 0) return -1;
            continue;
        }
        if (!in_bracket && c == '[') {
            in_bracket = 1;
            buf_puts(out, "[");
            if (i + 1 < n && re[i + 1] == '^') {
                buf_puts(out, "^");
                i++;
            }
            if (i + 1 < n && re[i + 1] == ']') {
                *why = "[ ] holds nothing";
                return -1;
            }
            continue;
        }
        if (in_bracket && c == ']') in_bracket = 0;
        if (!in_bracket && c == '{' && !re_bound_ok(re, n, i, why)) return -1;
        buf_append(out, &c, 1);
    }
    if (in_bracket) {
        *why = "a [ is not closed";
        return -1;
    }
    return 0;
}

/* The pattern %RE%, RE being n bytes at re. */
static int re_compile(logstore_pattern *p, const char *re, size_t n, char **err)
{
    const char *why = NULL;
    buf ere = {0};
    char msg[200] = "";
    if (!n) why = "it is empty";
    else if (re_translate(re, n, &ere, &why) == 0) {
        int rc = regcomp(&p->re, ere.data, REG_EXTENDED | REG_NOSUB);
        if (rc == 0) {
            p->has_re = 1;
        } else {
            regerror(rc, &p->re, msg, sizeof msg);
            why = msg;
        }
    }
    buf_free(&ere);
    if (!why) return LOGSTORE_OK;
    return refuse(p, err, xasprintf("filterPattern: '%%%.*s%%' is not a regular expression barge "
                                    "can match: %s", (int)(n > 200 ? 200 : n), re, why));
}

/* Terms --------------------------------------------------------------------------------- */

static void term_add(logstore_pattern *p, const char *text, size_t len, int group)
{
    p->terms = xrealloc(p->terms, (p->n + 1) * sizeof *p->terms);
    p->terms[p->n++] = (term){.text = xstrndup(text, len), .len = len, .group = group};
}

/* The next term at *s, into *start and *len, *s moved past it; -1 for a phrase left open. */
static int next_term(const char **s, const char **start, size_t *len)
{
    const char *at = *s;
    if (*at == '"') {
        *start = ++at;
        while (*at && *at != '"') at++;
        *len = (size_t)(at - *start);
        if (*at != '"') return -1;
        *s = at + 1;
        return 0;
    }
    *start = at;
    while (*at && *at != ' ' && *at != '\t') at++;
    *len = (size_t)(at - *start);
    *s = at;
    return 0;
}

/* The pattern s into p; on an error p is freed. */
static int pattern_read(logstore_pattern *p, const char *s, char **err)
{
    while (*s == ' ' || *s == '\t') s++;
    if (*s == '{' || *s == '[')
        return refuse(p, err,
                      xstrdup("filterPattern: JSON ({ $.field = value }) and space-delimited "
                              "([a, b]) patterns are not supported by barge; use terms, "
                              "\"quoted phrases\", -term to exclude, ?term for alternatives "
                              "or a %regular expression%"));
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    if (n >= 2 && s[0] == '%' && s[n - 1] == '%') return re_compile(p, s + 1, n - 2, err);
    int group = TERM_ALL;
    while (*s) {
        while (*s == ' ' || *s == '\t') s++;
        if (!*s) break;
        char kind = 0;
        if ((*s == '-' || *s == '?') && s[1] && s[1] != ' ' && s[1] != '\t') kind = *s++;
        int quoted = *s == '"';
        const char *start;
        size_t len;
        /* CloudWatch Logs refuses a phrase left open; matching every line instead would answer
         * a typo with the whole log. */
        if (next_term(&s, &start, &len) < 0)
            return refuse(p, err, xstrdup("filterPattern: a quoted phrase is not closed; end "
                                          "it with \""));
        if (!quoted && len >= 2 && start[0] == '%' && start[len - 1] == '%')
            return refuse(p, err, xasprintf("filterPattern: '%.*s': a %%regular expression%% "
                                            "is a pattern of its own, as on CloudWatch Logs, "
                                            "not one term among others", (int)len, start));
        /* Each ?term starts a group, which the plain terms after it join: a line matches when
         * it holds every term of some group (AWS CDK's FilterPattern.anyTermGroup). */
        if (kind == '?') group = p->groups++;
        if (!len) continue; /* "" is in every line */
        term_add(p, start, len, kind == '-' ? TERM_NONE : group);
    }
    return LOGSTORE_OK;
}

int logstore__pattern_parse(const char *s, logstore_pattern **out, char **err)
{
    logstore_pattern *p = xcalloc(1, sizeof *p);
    *out = NULL;
    int rc = s ? pattern_read(p, s, err) : LOGSTORE_OK;
    if (rc == LOGSTORE_OK) *out = p;
    return rc;
}

static int holds(const char *msg, size_t len, const term *t)
{
    return memmem(msg, len, t->text, t->len) != NULL;
}

int logstore__pattern_match(const logstore_pattern *p, const char *msg, size_t len)
{
    if (p->has_re) {
        /* The message's length, not a NUL, ends it: job output may hold NULs. */
        regmatch_t m = {.rm_so = 0, .rm_eo = (regoff_t)len};
        return regexec(&p->re, msg, 1, &m, REG_STARTEND) == 0;
    }
    for (size_t i = 0; i < p->n; i++) {
        const term *t = &p->terms[i];
        if (t->group == TERM_ALL && !holds(msg, len, t)) return 0;
        if (t->group == TERM_NONE && holds(msg, len, t)) return 0;
    }
    if (!p->groups) return 1;
    for (int g = 0; g < p->groups; g++) {
        int all = 1;
        for (size_t i = 0; i < p->n && all; i++)
            if (p->terms[i].group == g) all = holds(msg, len, &p->terms[i]);
        if (all) return 1;
    }
    return 0;
}
