/* fuzz_imageref — image references as Docker reads them (imageref_parse), with two properties:
 * a reference that parses prints a canonical form that parses again to the same form, and the
 * loopback test never reads outside the parsed domain. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/imageref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    imageref r;
    const char *why = imageref_parse(s, &r);
    if (!why) {
        char *canon = imageref_canonical(&r);
        (void)imageref_loopback(&r);
        imageref again;
        if (imageref_parse(canon, &again)) abort();
        char *canon2 = imageref_canonical(&again);
        if (strcmp(canon, canon2) != 0) abort();
        free(canon2);
        free(canon);
        imageref_free(&again);
        imageref_free(&r);
    }
    free(s);
    return 0;
}
