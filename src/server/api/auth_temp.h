/* auth_temp — job roles and the temporary credentials the server issues for them.
 *
 * A job definition's jobRoleArn names an IAM role; `barge server --roles FILE` maps each role
 * ARN this server lets jobs assume to policies (names as barge_policy gives them:
 * built in, or of --policies).  Each attempt of a job with a role gets temporary credentials for
 * it, as an ECS task does: an access key id ASIA..., a secret, a session token and an
 * expiration (--role-session-seconds after issue, 1 hour by default).  Their principal is
 * arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION (SESSION: the attempt's task id), authorized by
 * the role's policies.  They stop working when they expire (ExpiredTokenException) and as soon
 * as the attempt ends (then, unknown, UnrecognizedClientException).  docs/credentials.md.
 *
 * Attempts outlive their server (a restart, a failover to another server), and so must their
 * credentials: a job's SDK keeps them until they expire.  The caller keeps each set in the
 * store as auth_temp_record_text writes it, in the batch that issues it, and drops it with the
 * attempt (server_creds.h); a server starting puts back those of the attempts still running
 * (auth_temp_restore).  auth_verify finds a key here through the lookup this module registers with auth.h
 * (auth_temp_init), and a request holds a reference on its principal until it is answered
 * (auth_principal_release), so that revoking credentials never frees a principal in use.
 * Issuing and revoking happen on the core thread, lookups on HTTP threads; one mutex guards the
 * table. */
#ifndef BARGE_AUTH_TEMP_H
#define BARGE_AUTH_TEMP_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/util.h"

/* AWS's bounds on a role session's duration, but for the lower one: a short session is what a
 * test of expiry needs. */
#define AUTH_TEMP_DEFAULT_SECONDS 3600
#define AUTH_TEMP_MAX_SECONDS 43200
/* Credentials one attempt may hold at once: the agent asks for new ones half-way through the
 * old ones' life, so two or three are live; more means a misbehaving agent, and the oldest go. */
#define AUTH_TEMP_PER_ATTEMPT 8

/* Reads the roles file (NULL: none) and registers the lookup with auth.  session_seconds is the
 * credentials' lifetime.  0, or -1 with a sentence in *err (malloc'd) naming the file, the role
 * and what to write instead.  Call after auth_load (the roles name its policies). */
int auth_temp_init(const char *roles_file, int session_seconds, char **err);
void auth_temp_free(void);
size_t auth_temp_role_count(void);

/* Whether jobs may assume role_arn here: it is in --roles, or keys are not checked at all
 * (--dev without --credentials, where any credentials work).  Else 0 and why (ECS's words, then
 * what is missing) in why. */
int auth_temp_role_usable(const char *role_arn, char *why, size_t len);
/* Whether --roles names role_arn (whatever --dev lets jobs assume). */
int auth_temp_role_listed(const char *role_arn);

/* Temporary credentials, as the ECS credential endpoint answers them. */
typedef struct auth_temp_creds {
    char access_key[21];
    char secret[41];
    char token[129];
    char expiration[UTIL_ISO_TIME_LEN]; /* ISO 8601, UTC: 2026-12-01T06:00:00Z */
    int64_t expires_ms;
    /* Issuing: the access key of the attempt's oldest credentials, retired to keep it within
     * AUTH_TEMP_PER_ATTEMPT ("" when none), for the caller to drop from the store. */
    char dropped[21];
} auth_temp_creds;

/* Issues credentials of role_arn to attempt (job_id, attempt); session names the role session.
 * now is the wall clock.  0, or -1 with why (the role is not usable). */
int auth_temp_issue(const char *role_arn, const char *session, const char *job_id, int attempt,
                    time_t now, auth_temp_creds *out, char *why, size_t len);
/* The attempt has ended: its credentials stop working now; each (when not NULL) is told each
 * one's access key. */
void auth_temp_revoke(const char *job_id, int attempt,
                      void (*each)(void *arg, const char *access_key), void *arg);

/* Issued credentials as the store keeps them (keyed by their access key): a JSON text holding
 * the secret and the token, malloc'd. */
char *auth_temp_record_text(const char *role_arn, const char *session, const char *job_id,
                       int attempt, const auth_temp_creds *c);
typedef struct auth_temp_record {
    char role[2048];
    char session[256];
    char job_id[256];
    int attempt;
    auth_temp_creds creds;
} auth_temp_record;
/* Reads a stored record back; 0, or -1 when it is not one. */
int auth_temp_record_read(const char *access_key, const char *doc, size_t len,
                          auth_temp_record *out);
/* Puts stored credentials back in the table, working as when they were issued (until they
 * expire, or the attempt ends); 0, or -1 when the role is no longer one jobs may assume. */
int auth_temp_restore(const auth_temp_record *rec);
/* Every issued credential stops working (a reload of the state, which restores them from the
 * store again). */
void auth_temp_forget_all(void);
/* Credentials live (issued, not yet revoked nor purged after expiry): for tests and stats. */
size_t auth_temp_live(void);
#endif
