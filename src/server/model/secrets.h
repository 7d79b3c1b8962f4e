/* secrets — the values that job definitions name by ARN or name, such as the registry
 * credentials of repositoryCredentials.credentialsParameter.
 *
 * Until barge keeps secrets of its own they come from a file named by `barge server --secrets`:
 * a JSON object whose keys are secret names or full Secrets Manager ARNs and whose values are
 * the secrets' strings (for registry credentials, a JSON object {"username", "password"}, as
 * in Secrets Manager; an object value is taken as its JSON text).  Loaded once at start-up,
 * read-only afterwards. */
#ifndef BARGE_SECRETS_H
#define BARGE_SECRETS_H

/* Loads path (NULL: no secrets).  0, or -1 with *err (allocated) saying what is wrong. */
int secrets_load(const char *path, char **err);
void secrets_free(void);
/* The value of the secret named by an ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)
 * or a name, or NULL. */
const char *secrets_get(const char *name_or_arn);
#endif
