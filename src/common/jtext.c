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
    buf_append(out, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
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

int jtext_real_digits(json_t *v)
{
    int most = JTEXT_DIGITS_MIN;
    if (json_is_real(v)) return real_digits(jtext_finite(json_real_value(v)));
    if (json_is_array(v)) {
        for (size_t i = 0, n = json_array_size(v); i < n && most < JTEXT_DIGITS_MAX; i++) {
            int d = jtext_real_digits(json_array_get(v, i));
            if (d > most) most = d;
        }
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            if (!json_is_object(x) && !json_is_array(x) && !json_is_real(x)) continue;
            int d = jtext_real_digits(x);
            if (d > most) most = d;
            if (most == JTEXT_DIGITS_MAX) break;
        }
    }
    return most;
}

char *jtext_dumps(json_t *v, size_t flags)
{
    return json_dumps(v, flags | JSON_REAL_PRECISION(jtext_real_digits(v)));
}

void jtext_json(buf *out, json_t *v)
{
    char *text = jtext_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text) buf_puts(out, text);
    else buf_puts(out, "null");
    free(text);
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
    if (!doc) *err = xasprintf("%s%s%s: %s (line %d)", option, sep, path, je.text, je.line);
    return doc;
}
