/* jtext — JSON written as text into a buffer (mem.h's buf), for records and descriptions made
 * many times a second, where building a jansson tree only to dump it costs several times what
 * writing the text does.  The text is what jansson would write (compact), give or take the
 * order of members. */
#ifndef BARGE_JTEXT_H
#define BARGE_JTEXT_H
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "common/mem.h"

/* A string, escaped as JSON requires (UTF-8 passes as it is; a byte that is not well-formed
 * UTF-8 is written as '?'). */
void jtext_string(buf *out, const char *s);
/* The same for len bytes (a NUL among them written as \u0000). */
void jtext_stringn(buf *out, const char *s, size_t len);
/* v, or for infinity and NaN the largest finite double of its sign: JSON has no word for them,
 * jansson makes no number of them (json_real answers NULL, and the member or the array item
 * is silently left out), and what is summed from stored figures must still be said. */
double jtext_finite(double v);
/* A real as jansson writes one, always with a fraction or an exponent (jtext_finite's), in the
 * fewest digits that read back the same double: 0.811, not jansson's 0.81100000000000005. */
void jtext_real(buf *out, double v);
#define JTEXT_DIGITS_MIN 15 /* DBL_DIG: every decimal of this many digits reads back as written */
#define JTEXT_DIGITS_MAX 17 /* every double reads back */
/* Any value (NULL as null) laid out as json_dumps lays it out with these flags (JSON_COMPACT,
 * JSON_INDENT; members in their order, any value at the top), the same JSON (a control
 * character may be spelled \u001f where jansson writes \u001F), but each real as jtext_real
 * writes it: jansson takes one precision a dump, which would write every figure of an answer in
 * 17 digits when one of them needs that many. */
void jtext_value(buf *out, json_t *v, size_t flags);
/* jtext_value into a string of its own (the caller frees it). */
char *jtext_dumps(json_t *v, size_t flags);
/* jtext_value, compact. */
void jtext_json(buf *out, json_t *v);
/* The JSON document in the regular file path, read as a file option's: duplicate keys refused
 * ({"a": 1, "a": 2} would keep the last silently).  NULL with *err ("OPTION PATH: why", or
 * "PATH: why" when option is NULL; allocated) when it cannot be read, is not a regular file or
 * is not JSON. */
json_t *jtext_load_file(const char *option, const char *path, char **err);
/* One line of job output as the files of lines kept aside hold it (an agent's
 * undelivered/logs.jsonl, the server's logs-kept.jsonl: the same shape, read back alike), a JSON
 * object {"logStreamName", "timestamp", "message"} and a newline, written to f (not flushed).
 * 0, or -1 with errno. */
int jtext_kept_line(FILE *f, const char *stream, int64_t at, const char *msg, size_t len);
#endif
