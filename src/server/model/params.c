#include "server/model/params.h"

#include <ctype.h>
#include <string.h>

#include "common/mem.h"

static int name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '-';
}

json_t *params_substitute(json_t *command, json_t *submit_params, json_t *def_params)
{
    json_t *out = json_array();
    size_t i;
    json_t *arg;
    json_array_foreach(command, i, arg) {
        const char *s = json_string_value(arg);
        if (!s || !strstr(s, "Ref::")) {
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
            const char *name = ref + 5, *end = name;
            while (name_char(*end)) end++;
            /* The placeholder is the longest name with a value that the text starts with, so
             * "Ref::out-1" uses "out" when only "out" is defined, as a plain replacement of each
             * parameter's placeholder would. */
            json_t *v = NULL;
            size_t n = (size_t)(end - name);
            for (; n > 0; n--) {
                v = json_object_getn(submit_params, name, n);
                if (!json_is_string(v)) v = json_object_getn(def_params, name, n);
                if (json_is_string(v)) break;
            }
            if (n > 0) {
                buf_puts(&b, json_string_value(v));
                end = name + n;
            } else {
                buf_append(&b, ref, (size_t)(end - ref));
            }
            s = end;
        }
        json_array_append_new(out, json_string(b.data));
        buf_free(&b);
    }
    return out;
}
