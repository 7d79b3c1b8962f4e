/* image_names — the names the image cache gives what it keeps, and checks of names it reads
 * back from disk (refs.json and the bundles directory may have been spoilt by a crash or a
 * hand). */
#ifndef BARGE_IMAGE_NAMES_H
#define BARGE_IMAGE_NAMES_H

#include "common/idmap.h"

/* Whether d is "sha256:" and 64 lowercase hex digits. */
int image_digest_valid(const char *d);
/* A bundle's directory name (fresh): the digest's hex, and for an image unpacked with its ids
 * mapped, the mapping after it (hex-uUID-gGID-nSIZE), since its files' owners differ from the
 * plain one's. */
char *image_bundle_name(const char *hex, const idmap *map);
/* Whether name is one that image_bundle_name gives. */
int image_bundle_name_valid(const char *name);
#endif
