/* server_limits — `barge server`'s options against hostile clients: --max-connections-per-address,
 * --request-timeout and --rate-limit (docs/decisions.md says what each does), and the check of
 * --retention-hours. */
#ifndef BARGE_SERVER_LIMITS_H
#define BARGE_SERVER_LIMITS_H
#include "server/model/config.h"

/* Sets the option named (without its dashes) from arg in c.  0, or -1 after a sentence on
 * standard error naming the option and what it takes. */
int server_limit_option(const char *name, const char *arg, barge_config *c);
/* A whole number option from min to max into *out: 0, or -1 after a sentence on standard
 * error naming the option (without its dashes) and its range. */
int server_number_option(const char *name, const char *arg, long min, long max, long *out);
/* A secret token option (16 characters at least) into *out (replacing it); 0, or -1 after
 * printing why. */
int server_token_option(const char *name, const char *arg, char **out);
/* Raises the open-file limit to its hard limit (at most 65,536) and fits c's connection limits
 * to what it leaves after the server's own files: at a limit libmicrohttpd had no descriptor
 * to accept with spun on EMFILE, a CPU at 100%, and a limit of 1,024 under 4,000 connections
 * let 1,200 clients lock everyone out.  Says so when the limit leaves fewer than asked. */
void server_fit_open_files(barge_config *c);
/* --retention-hours (retention.h): 0, or -1 after printing why. */
int server_retention_option(const char *arg, barge_config *c);
/* --store, --lease-ms and --lease-renew-ms (name without dashes) into c; 0, or -1 after a
 * sentence on standard error. */
int server_store_option(const char *name, const char *arg, barge_config *c);
/* Options of one store given with the other: --sync (the SQLite store in the data directory)
 * with --store, or a lease option (lease_given names it; NULL: none) without it.  Refused
 * rather than ignored: whoever gave one expects it to do something.  0, or -1 said on
 * stderr. */
int server_store_options_apply(const barge_config *c, int sync_given, const char *lease_given);
#endif
