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
/* A real as jansson writes one: always with a fraction or an exponent. */
void jtext_real(buf *out, double v);
/* Any value, through jansson (compact). */
void jtext_json(buf *out, json_t *v);
#endif
