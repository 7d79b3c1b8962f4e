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

void jtext_real(buf *out, double v)
{
    v = jtext_finite(v);
    /* Whole numbers (usage's seconds are often 0) as %.17g writes them, without printf. */
    if (v > -1e15 && v < 1e15 && v == (double)(long long)v && !(v == 0 && signbit(v))) {
        buf_int(out, (long long)v);
        buf_puts(out, ".0");
        return;
    }
    char num[40];
    snprintf(num, sizeof num, "%.17g", v);
    buf_puts(out, num);
    if (!strpbrk(num, ".eEni")) buf_puts(out, ".0");
}

void jtext_json(buf *out, json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
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
