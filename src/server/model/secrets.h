/* secrets — the values that job definitions name by ARN or name, such as the registry
 * credentials of repositoryCredentials.credentialsParameter.
 *
 * Until barge keeps secrets of its own they come from a file named by `barge server --secrets`:
 * a JSON object whose keys are secret names or full Secrets Manager ARNs and whose values are
 * the secrets' strings (for registry credentials, a JSON object {"username", "password"}, as
 * in Secrets Manager; an object value is taken as its JSON text).  Loaded at start-up, and read
 * again on the server's SIGHUP: secrets_read builds the new table on any thread, and the core
 * thread, the only reader of secrets_get, puts it in place with secrets_install. */
#ifndef BARGE_SECRETS_H
#define BARGE_SECRETS_H
#include <jansson.h>

/* Loads path (NULL: no secrets).  0, or -1 with *err (allocated) saying what is wrong. */
int secrets_load(const char *path, char **err);
/* Reads path into a table for secrets_install; NULL with *err (allocated) naming the file and
 * the line or secret that is wrong. */
json_t *secrets_read(const char *path, char **err);
/* Puts table (taking its reference) in force in place of the one before.  Core thread only. */
void secrets_install(json_t *table);
void secrets_free(void);
/* The value of the secret named by an ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)
 * or a name, or NULL. */
const char *secrets_get(const char *name_or_arn);
#endif
