/* jtext — JSON written as text into a buffer (mem.h's buf), for records and descriptions made
 * many times a second, where building a jansson tree only to dump it costs several times what
 * writing the text does.  The text is what jansson would write (compact), give or take the
 * order of members. */
#ifndef BARGE_JTEXT_H
#define BARGE_JTEXT_H
#include <jansson.h>

#include "common/mem.h"

/* A string, escaped as JSON requires (UTF-8 passes as it is; a byte that is not well-formed
 * UTF-8 is written as '?'). */
void jtext_string(buf *out, const char *s);
/* v, or for infinity and NaN the largest finite double of its sign: JSON has no word for them,
 * jansson makes no number of them (json_real answers NULL, and the member or the array item
 * is silently left out), and what is summed from stored figures must still be said. */
double jtext_finite(double v);
/* A real as jansson writes one: always with a fraction or an exponent (jtext_finite's). */
void jtext_real(buf *out, double v);
/* Any value, through jansson (compact). */
void jtext_json(buf *out, json_t *v);
/* The JSON document in the regular file path, read as a file option's: duplicate keys refused
 * ({"a": 1, "a": 2} would keep the last silently).  NULL with *err ("OPTION PATH: why", or
 * "PATH: why" when option is NULL; allocated) when it cannot be read, is not a regular file or
 * is not JSON. */
json_t *jtext_load_file(const char *option, const char *path, char **err);
#endif
