/* image_names — see image_names.h. */
#include "agent/image_names.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

static int is_hex64(const char *s)
{
    size_t i;
    for (i = 0; s[i]; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return i == 64;
}

int image_digest_valid(const char *d)
{
    return d && strncmp(d, "sha256:", 7) == 0 && is_hex64(d + 7);
}

char *image_bundle_name(const char *hex, const idmap *map)
{
    if (!map || map->size == 0) return xstrndup(hex, 64);
    return xasprintf("%.64s-u%u-g%u-n%u", hex, map->uid_base, map->gid_base, map->size);
}

int image_bundle_name_valid(const char *name)
{
    if (strlen(name) < 64) return 0;
    char hex[65];
    memcpy(hex, name, 64);
    hex[64] = '\0';
    if (!is_hex64(hex)) return 0;
    if (name[64] == '\0') return 1;
    idmap m;
    int used = 0;
    if (sscanf(name + 64, "-u%u-g%u-n%u%n", &m.uid_base, &m.gid_base, &m.size, &used) != 3)
        return 0;
    char *again = image_bundle_name(hex, &m);
    int same = strcmp(again, name) == 0 && m.size > 0;
    free(again);
    return same;
}
