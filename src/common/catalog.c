/* catalog — see catalog.h. */
#include "common/catalog.h"

#include <stddef.h>
#include <string.h>
#include <sys/utsname.h>

static const catalog_type types[] = {
/* Generated from data/instance-types.tsv. */
#include <catalog_types.inc>
};
#define N_TYPES (int)(sizeof types / sizeof types[0])

typedef struct alias {
    const char *name;
    const char *const *families;
} alias;

static const char *const optimal[] = {"c5", "m5", "r5", NULL};
static const char *const default_x86_64[] = {"m6i", "c6i", "r6i", "c7i", NULL};
static const char *const default_arm64[] = {"m6g", "c6g", "r6g", "c7g", NULL};
static const alias aliases[] = {
    {"optimal", optimal},
    {"default_x86_64", default_x86_64},
    {"default_arm64", default_arm64},
};

const catalog_type *catalog_at(int i)
{
    return i >= 0 && i < N_TYPES ? &types[i] : NULL;
}

const catalog_type *catalog_find(const char *name)
{
    for (int i = 0; i < N_TYPES; i++)
        if (strcmp(types[i].name, name) == 0) return &types[i];
    return NULL;
}

static int in_family(const char *family, const catalog_type *t)
{
    size_t n = strlen(family);
    return strncmp(t->name, family, n) == 0 && t->name[n] == '.';
}

int catalog_spec_allows(const char *spec, const catalog_type *t)
{
    for (size_t a = 0; a < sizeof aliases / sizeof aliases[0]; a++) {
        if (strcmp(spec, aliases[a].name) != 0) continue;
        for (const char *const *f = aliases[a].families; *f; f++)
            if (in_family(*f, t)) return 1;
        return 0;
    }
    return strcmp(spec, t->name) == 0 || in_family(spec, t);
}

int catalog_spec_valid(const char *spec)
{
    for (int i = 0; i < N_TYPES; i++)
        if (catalog_spec_allows(spec, &types[i])) return 1;
    return 0;
}

const char *catalog_host_arch(void)
{
    static struct utsname u;
    static int done;
    if (!done) {
        if (uname(&u) < 0) strcpy(u.machine, "x86_64");
        done = 1;
    }
    if (strcmp(u.machine, "aarch64") == 0) return "arm64";
    return u.machine;
}
