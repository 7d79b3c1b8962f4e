/* params — `Ref::name` substitution in a job's command. */
#ifndef BARGE_PARAMS_H
#define BARGE_PARAMS_H
#include <jansson.h>

/* Returns a fresh array of strings: each element of command with every `Ref::name` replaced by
 * the value of name in the submit's parameters, else in the definition's; a reference with no
 * value stays as written.  Names are letters, digits, hyphens and underscores; the longest one
 * that has a value is taken ("Ref::out-1" with only "out" defined is its value, then "-1"). */
json_t *params_substitute(json_t *command, json_t *submit_params, json_t *def_params);
#endif
