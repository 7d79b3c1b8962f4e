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
/* A real as jansson writes one, always with a fraction or an exponent (jtext_finite's), in the
 * fewest digits that read back the same double: 0.811, not jansson's 0.81100000000000005. */
void jtext_real(buf *out, double v);
#define JTEXT_DIGITS_MIN 15 /* DBL_DIG: every decimal of this many digits reads back as written */
#define JTEXT_DIGITS_MAX 17 /* every double reads back */
/* The digits jtext_real would write the longest real in v with (15 when v has none): one
 * precision for all of v's reals, since jansson takes one a dump. */
int jtext_real_digits(json_t *v);
/* json_dumps with the reals in jtext_real_digits(v) digits (flags without a precision). */
char *jtext_dumps(json_t *v, size_t flags);
/* Any value, through jansson (compact), its reals as jtext_dumps writes them. */
void jtext_json(buf *out, json_t *v);
/* The JSON document in the regular file path, read as a file option's: duplicate keys refused
 * ({"a": 1, "a": 2} would keep the last silently).  NULL with *err ("OPTION PATH: why", or
 * "PATH: why" when option is NULL; allocated) when it cannot be read, is not a regular file or
 * is not JSON. */
json_t *jtext_load_file(const char *option, const char *path, char **err);
#endif
