#include "common/catalog.h"

#include <stddef.h>
#include <string.h>

#define GIB 1024
static const catalog_type types[] = {
    {"t3.nano", 2, GIB / 2, 0},     {"t3.micro", 2, GIB, 0},        {"t3.small", 2, 2 * GIB, 0},
    {"t3.medium", 2, 4 * GIB, 0},   {"t3.large", 2, 8 * GIB, 0},    {"t3.xlarge", 4, 16 * GIB, 0},
    {"t3.2xlarge", 8, 32 * GIB, 0},
    {"m5.large", 2, 8 * GIB, 0},    {"m5.xlarge", 4, 16 * GIB, 0},  {"m5.2xlarge", 8, 32 * GIB, 0},
    {"m5.4xlarge", 16, 64 * GIB, 0}, {"m5.8xlarge", 32, 128 * GIB, 0},
    {"m5.12xlarge", 48, 192 * GIB, 0}, {"m5.16xlarge", 64, 256 * GIB, 0},
    {"m5.24xlarge", 96, 384 * GIB, 0},
    {"c5.large", 2, 4 * GIB, 0},    {"c5.xlarge", 4, 8 * GIB, 0},   {"c5.2xlarge", 8, 16 * GIB, 0},
    {"c5.4xlarge", 16, 32 * GIB, 0}, {"c5.9xlarge", 36, 72 * GIB, 0},
    {"c5.12xlarge", 48, 96 * GIB, 0}, {"c5.18xlarge", 72, 144 * GIB, 0},
    {"c5.24xlarge", 96, 192 * GIB, 0},
    {"r5.large", 2, 16 * GIB, 0},   {"r5.xlarge", 4, 32 * GIB, 0},  {"r5.2xlarge", 8, 64 * GIB, 0},
    {"r5.4xlarge", 16, 128 * GIB, 0}, {"r5.8xlarge", 32, 256 * GIB, 0},
    {"r5.12xlarge", 48, 384 * GIB, 0}, {"r5.16xlarge", 64, 512 * GIB, 0},
    {"r5.24xlarge", 96, 768 * GIB, 0},
    {"m6i.large", 2, 8 * GIB, 0},   {"m6i.xlarge", 4, 16 * GIB, 0}, {"m6i.2xlarge", 8, 32 * GIB, 0},
    {"m6i.4xlarge", 16, 64 * GIB, 0}, {"m6i.8xlarge", 32, 128 * GIB, 0},
    {"c6i.large", 2, 4 * GIB, 0},   {"c6i.xlarge", 4, 8 * GIB, 0},  {"c6i.2xlarge", 8, 16 * GIB, 0},
    {"c6i.4xlarge", 16, 32 * GIB, 0}, {"c6i.8xlarge", 32, 64 * GIB, 0},
    {"r6i.large", 2, 16 * GIB, 0},  {"r6i.xlarge", 4, 32 * GIB, 0}, {"r6i.2xlarge", 8, 64 * GIB, 0},
    {"g4dn.xlarge", 4, 16 * GIB, 1}, {"g4dn.2xlarge", 8, 32 * GIB, 1},
    {"g4dn.4xlarge", 16, 64 * GIB, 1}, {"g4dn.8xlarge", 32, 128 * GIB, 1},
    {"g4dn.12xlarge", 48, 192 * GIB, 4}, {"g4dn.16xlarge", 64, 256 * GIB, 1},
    {"p3.2xlarge", 8, 61 * GIB, 1}, {"p3.8xlarge", 32, 244 * GIB, 4},
    {"p3.16xlarge", 64, 488 * GIB, 8},
};
#define N_TYPES (int)(sizeof types / sizeof types[0])

static const char *const optimal_families[] = {"c5", "m5", "r5", NULL};

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
    if (strcmp(spec, "optimal") == 0) {
        for (const char *const *f = optimal_families; *f; f++)
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
