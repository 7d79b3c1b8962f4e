/* params — `Ref::name` substitution in a job's command. */
#ifndef BARGE_PARAMS_H
#define BARGE_PARAMS_H
#include <jansson.h>

/* Returns a fresh array of strings: each element of command with every `Ref::name` replaced by
 * the value of name in the submit's parameters, else in the definition's; a reference with no
 * value stays as written.  Names are letters, digits, hyphens and underscores; the longest one
 * that has a value is taken ("Ref::out-1" with only "out" defined is its value, then "-1"). */
json_t *params_substitute(json_t *command, json_t *submit_params, json_t *def_params);

/* The most bytes a command's arguments may add up to once substituted.  A parameter's value
 * goes in at every placeholder of its name, so a request of a few kilobytes could make a
 * command of megabytes, stored with the job and sent in every description of it; and Linux
 * runs no single argument over 128 KiB (MAX_ARG_STRLEN) anyway. */
#define PARAMS_COMMAND_MAX (128 * 1024)
/* The same, NULL when the result would be over max bytes. */
json_t *params_substitute_max(json_t *command, json_t *submit_params, json_t *def_params,
                              size_t max);
#endif
