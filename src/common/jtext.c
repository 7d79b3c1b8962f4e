/* jtext — see jtext.h. */
#include "common/jtext.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

void jtext_string(buf *out, const char *s)
{
    jtext_stringn(out, s, strlen(s));
}

void jtext_stringn(buf *out, const char *s, size_t len)
{
    buf_append(out, "\"", 1);
    const char *run = s, *end = s + len;
    for (; s < end; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x80) {
            /* A byte that is not well-formed UTF-8 becomes '?', as util_utf8_scrub makes it:
             * a record jansson cannot read back would lose the job at the next start. */
            size_t n = util_utf8_len((const unsigned char *)s);
            if (n) {
                s += n - 1;
                continue;
            }
            buf_append(out, run, (size_t)(s - run));
            buf_append(out, "?", 1);
            run = s + 1;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        buf_append(out, run, (size_t)(s - run));
        if (c == '"' || c == '\\') buf_printf(out, "\\%c", c);
        else if (c == '\n') buf_puts(out, "\\n");
        else if (c == '\t') buf_puts(out, "\\t");
        else if (c == '\r') buf_puts(out, "\\r");
        else if (c == '\b') buf_puts(out, "\\b");
        else if (c == '\f') buf_puts(out, "\\f");
        else buf_printf(out, "\\u%04x", c);
        run = s + 1;
    }
    buf_append(out, run, (size_t)(s - run));
    buf_append(out, "\"", 1);
}

double jtext_finite(double v)
{
    if (isfinite(v)) return v;
    return v < 0 ? -DBL_MAX : DBL_MAX;
}

/* The fewest significant digits, from 15, that write v so that it reads back the same: 15 for
 * any decimal of up to 15 digits (0.811, not 0.81100000000000005), 16 or 17 for a double that
 * only arithmetic made (0.1 + 0.2). */
static int real_digits(double v)
{
    char num[40];
    for (int d = JTEXT_DIGITS_MIN; d < JTEXT_DIGITS_MAX; d++) {
        snprintf(num, sizeof num, "%.*g", d, v);
        if (strtod(num, NULL) == v) return d;
    }
    return JTEXT_DIGITS_MAX;
}

void jtext_real(buf *out, double v)
{
    v = jtext_finite(v);
    /* Whole numbers (usage's seconds are often 0) as %.15g writes them, without printf. */
    if (v > -1e15 && v < 1e15 && v == (double)(long long)v && !(v == 0 && signbit(v))) {
        buf_int(out, (long long)v);
        buf_puts(out, ".0");
        return;
    }
    char num[40];
    snprintf(num, sizeof num, "%.*g", real_digits(v), v);
    buf_puts(out, num);
    if (!strpbrk(num, ".eEni")) buf_puts(out, ".0");
}

/* Each real in its own fewest digits, which jansson cannot do: it takes one precision a dump,
 * so one sum that needs 17 digits would write every other figure of an answer in 17 too. */
static void value_text(buf *out, json_t *v, int indent, int compact, int depth)
{
    /* jansson's separators: ", " and ": " unless compact, a new line and the depth's indent
     * after "," or an opening bracket when indented. */
    const char *sep = compact || indent ? "," : ", ", *colon = compact ? ":" : ": ";
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (json_object_size(v) == 0) {
            buf_puts(out, "{}");
            return;
        }
        buf_puts(out, "{");
        const char *k;
        json_t *x;
        int first = 1;
        json_object_foreach(v, k, x) {
            if (!first) buf_puts(out, sep);
            first = 0;
            if (indent) buf_printf(out, "\n%*s", indent * (depth + 1), "");
            jtext_string(out, k);
            buf_puts(out, colon);
            value_text(out, x, indent, compact, depth + 1);
        }
        if (indent) buf_printf(out, "\n%*s", indent * depth, "");
        buf_puts(out, "}");
        return;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (n == 0) {
            buf_puts(out, "[]");
            return;
        }
        buf_puts(out, "[");
        for (size_t i = 0; i < n; i++) {
            if (i) buf_puts(out, sep);
            if (indent) buf_printf(out, "\n%*s", indent * (depth + 1), "");
            value_text(out, json_array_get(v, i), indent, compact, depth + 1);
        }
        if (indent) buf_printf(out, "\n%*s", indent * depth, "");
        buf_puts(out, "]");
        return;
    }
    case JSON_STRING:
        jtext_stringn(out, json_string_value(v), json_string_length(v));
        return;
    case JSON_INTEGER:
        buf_int(out, (long long)json_integer_value(v));
        return;
    case JSON_REAL:
        jtext_real(out, json_real_value(v));
        return;
    case JSON_TRUE:
        buf_puts(out, "true");
        return;
    case JSON_FALSE:
        buf_puts(out, "false");
        return;
    case JSON_NULL:
        buf_puts(out, "null");
        return;
    }
}

void jtext_value(buf *out, json_t *v, size_t flags)
{
    if (!v) {
        buf_puts(out, "null");
        return;
    }
    value_text(out, v, (int)(flags & JSON_MAX_INDENT), (flags & JSON_COMPACT) != 0, 0);
}

char *jtext_dumps(json_t *v, size_t flags)
{
    buf b = {0};
    jtext_value(&b, v, flags);
    return b.data;
}

void jtext_json(buf *out, json_t *v)
{
    jtext_value(out, v, JSON_COMPACT);
}

json_t *jtext_load_file(const char *option, const char *path, char **err)
{
    const char *why;
    FILE *f = util_open_regular(path, &why);
    const char *sep = option ? " " : "";
    if (!option) option = "";
    if (!f) {
        *err = xasprintf("%s%s%s %s", option, sep, path, why);
        return NULL;
    }
    json_error_t je;
    json_t *doc = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    /* jansson names its own option for a NUL; the file's writer needs what is wrong. */
    const char *text = strstr(je.text, "JSON_ALLOW_NUL")
                           ? "a string holds \\u0000 (a NUL character), which no setting takes"
                           : je.text;
    if (!doc) *err = xasprintf("%s%s%s: %s (line %d)", option, sep, path, text, je.line);
    return doc;
}

int jtext_kept_line(FILE *f, const char *stream, int64_t at, const char *msg, size_t len)
{
    json_t *line = json_pack("{s:s, s:I, s:s%}", "logStreamName", stream, "timestamp",
                             (json_int_t)at, "message", msg, len);
    int rc = line && json_dumpf(line, f, JSON_COMPACT) == 0 && fputc('\n', f) != EOF ? 0 : -1;
    json_decref(line);
    return rc;
}
