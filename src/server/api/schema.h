/* schema — type checking of request bodies against the API's shapes.
 *
 * Shapes are written in a small notation so that an operation's whole request reads on a few
 * lines next to its handler:
 *
 *   s           string              i   integer        b  boolean      f  number
 *   s(LO..HI)   string of LO to HI characters (code points, as AWS counts them)
 *   i(LO..HI)   integer in a range  l   long integer
 *   e(A|B|C)    string enumeration  [x] list of x      m<x> map of string to x
 *   [x](LO..HI) list of LO to HI items
 *   {a:x, b:y!} object; "!" marks a required member; members not named are removed, as AWS
 *               drops what its model does not define ("{}": any object, kept as it is)
 *   @Name       a shape defined with schema_define (may be recursive)
 *   *           anything nested at most 32 levels deep
 *
 * The checker names the offending member by its path ("computeResources.maxvCpus: expected an
 * integer, got a string"), which becomes the ClientException message.  JSON null members are
 * treated as absent and removed, as AWS does.
 *
 * "i" is AWS's Integer: a value outside 32 bits is refused ("must be between -2147483648 and
 * 2147483647 (got ...)"), so handlers may narrow an "i" member to int without a check of their
 * own; "i(LO..HI)" narrows the range further; "l" is AWS's Long (times in milliseconds). */
#ifndef BARGE_SCHEMA_H
#define BARGE_SCHEMA_H
#include <jansson.h>
#include <stddef.h>

typedef struct schema schema;

/* Compiles a shape; a syntax error is a programming error and aborts with the position. */
schema *schema_compile(const char *src);
/* Defines a named shape for @Name references.  Call before any validation (not thread-safe). */
void schema_define(const char *name, const char *src);

/* Returns 0 if v fits s; otherwise -1 with a sentence in err. */
int schema_check(const schema *s, json_t *v, char *err, size_t errlen);
#endif
