#include "server/model/params.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

static int by_length_desc(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The distinct lengths of the names with a string value, longest first. */
static size_t name_lengths(json_t *a, json_t *b, size_t **out)
{
    size_t n = 0, cap = json_object_size(a) + json_object_size(b);
    size_t *lens = xcalloc(cap ? cap : 1, sizeof *lens);
    json_t *objs[2] = {a, b};
    for (int o = 0; o < 2; o++) {
        const char *k;
        json_t *v;
        json_object_foreach(objs[o], k, v)
            if (json_is_string(v)) lens[n++] = strlen(k);
    }
    qsort(lens, n, sizeof *lens, by_length_desc);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!m || lens[m - 1] != lens[i]) lens[m++] = lens[i];
    *out = lens;
    return m;
}

json_t *params_substitute(json_t *command, json_t *submit_params, json_t *def_params)
{
    return params_substitute_max(command, submit_params, def_params, (size_t)-1);
}

json_t *params_substitute_max(json_t *command, json_t *submit_params, json_t *def_params,
                              size_t max)
{
    json_t *out = json_array();
    size_t total = 0;
    /* Only the lengths of names that have a value are tried: trying every prefix of a long
     * placeholder hashes it once per prefix, quadratic in the command's length. */
    size_t *lens;
    size_t n_lens = name_lengths(submit_params, def_params, &lens);
    size_t i;
    json_t *arg;
    json_array_foreach(command, i, arg) {
        const char *s = json_string_value(arg);
        if (!s || !strstr(s, "Ref::")) {
            total += json_string_length(arg);
            if (total > max) goto too_long;
            json_array_append(out, arg);
            continue;
        }
        buf b = {0};
        buf_puts(&b, "");
        while (*s) {
            const char *ref = strstr(s, "Ref::");
            if (!ref) {
                buf_puts(&b, s);
                break;
            }
            buf_append(&b, s, (size_t)(ref - s));
            const char *name = ref + 5;
            /* The placeholder is the longest name with a value that the text starts with, so
             * "Ref::out-1" uses "out" when only "out" is defined, and "Ref::in.file" uses
             * "in.file" when that is defined (a name may hold any character), as a plain
             * replacement of each parameter's placeholder would. */
            json_t *v = NULL;
            size_t run = strnlen(name, n_lens ? lens[0] : 0), n = 0;
            for (size_t k = 0; k < n_lens; k++) {
                if (lens[k] > run || lens[k] == 0) continue;
                v = json_object_getn(submit_params, name, lens[k]);
                if (!json_is_string(v)) v = json_object_getn(def_params, name, lens[k]);
                if (json_is_string(v)) {
                    n = lens[k];
                    break;
                }
            }
            if (n > 0) {
                buf_puts(&b, json_string_value(v));
                s = name + n;
            } else {
                buf_puts(&b, "Ref::"); /* no name with a value: the text stays as written */
                s = name;
            }
            if (total + b.len > max) {
                buf_free(&b);
                goto too_long;
            }
        }
        total += b.len;
        json_array_append_new(out, json_string(b.data));
        buf_free(&b);
    }
    free(lens);
    return out;
too_long:
    free(lens);
    json_decref(out);
    return NULL;
}
