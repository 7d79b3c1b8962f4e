/* secrets — see secrets.h. */
#include "server/model/secrets.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/jtext.h"
#include "common/log.h"
#include "common/mem.h"

static json_t *secrets; /* name or ARN -> string */

json_t *secrets_read(const char *path, char **err)
{
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077))
        log_warn("%s may be read by other users (mode %03o): chmod 600 it, it holds secrets",
                 path, (unsigned)(st.st_mode & 0777));
    /* A name given twice would silently take its last value. */
    json_t *doc = jtext_load_file(NULL, path, err);
    if (!doc) return NULL;
    if (!json_is_object(doc)) {
        *err = xasprintf("%s must hold a JSON object of secret names and values", path);
        json_decref(doc);
        return NULL;
    }
    json_t *out = json_object(), *v;
    const char *k;
    json_object_foreach(doc, k, v) {
        if (json_is_string(v)) {
            json_object_set(out, k, v);
        } else if (json_is_object(v)) {
            char *text = json_dumps(v, JSON_COMPACT);
            json_object_set_new(out, k, json_string(text));
            free(text);
        } else {
            *err = xasprintf("%s: the secret %s must be a string or an object", path, k);
            json_decref(out);
            json_decref(doc);
            return NULL;
        }
    }
    json_decref(doc);
    return out;
}

void secrets_install(json_t *table)
{
    json_decref(secrets);
    secrets = table;
}

int secrets_load(const char *path, char **err)
{
    if (!path) return 0;
    json_t *t = secrets_read(path, err);
    if (!t) return -1;
    secrets_install(t);
    return 0;
}

void secrets_free(void)
{
    json_decref(secrets);
    secrets = NULL;
}

const char *secrets_get(const char *name_or_arn)
{
    if (!secrets || !name_or_arn) return NULL;
    const char *v = json_string_value(json_object_get(secrets, name_or_arn));
    if (v) return v;
    /* An ARN whose name is a key: arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME.  Secrets
     * Manager adds a random "-XXXXXX" suffix to ARNs; the name without it also matches. */
    /* An SSM parameter: arn:aws:ssm:REGION:ACCOUNT:parameter/NAME names NAME (or /NAME). */
    const char *param = strncmp(name_or_arn, "arn:", 4) == 0 ? strstr(name_or_arn, ":parameter/")
                                                             : NULL;
    if (param) {
        if ((v = json_string_value(json_object_get(secrets, param + 11)))) return v;
        return json_string_value(json_object_get(secrets, param + 10));
    }
    const char *mark = strstr(name_or_arn, ":secret:");
    if (strncmp(name_or_arn, "arn:", 4) != 0 || !mark) return NULL;
    const char *name = mark + 8;
    if ((v = json_string_value(json_object_get(secrets, name)))) return v;
    const char *dash = strrchr(name, '-');
    if (dash && strlen(dash) == 7) {
        char *base = xstrndup(name, (size_t)(dash - name));
        v = json_string_value(json_object_get(secrets, base));
        free(base);
    }
    return v;
}
