/* agent_ident — who an agent is (docs/agent-protocol.md, "Identities"): the join tokens that let
 * an agent register, the credential each registered instance receives, and the log streams each
 * instance may write to.
 *
 * A join token only lets an agent register: one for the whole server (--agent-token, or
 * DATA_DIR/agent-token), any number from the tokens file (--agent-tokens), each for the whole
 * server or for one compute environment, and one per agent the local provider launches, which
 * registers that one instance.  Registration hands the instance a credential of
 * its own, "ID:SECRET" with 32 random bytes of secret; only its SHA-256 is kept, and it is
 * compared in constant time.  The instance id in it lets the server find what to compare with,
 * and so derive the instance from the credential alone.
 *
 * Everything here is guarded by one mutex: the core thread issues and revokes credentials and
 * opens and closes streams, the log threads check uploads, the main thread reloads the tokens
 * on SIGHUP.  Nothing here knows the fleet; the caller keeps both in step (an instance removed
 * from the fleet is revoked here, model/instance.c). */
#ifndef BARGE_AGENT_IDENT_H
#define BARGE_AGENT_IDENT_H
#include <stddef.h>

/* The longest instance id (util.h's UTIL_INSTANCE_ID_MAX), and the longest credential. */
#define AGENT_IDENT_ID_MAX 128
#define AGENT_IDENT_CRED_MAX (AGENT_IDENT_ID_MAX + 1 + 64)

/* How long a credential is used before the server hands out the next (rotate_s), and how long
 * the one it replaces stays valid once the next has been used (grace_s).  Call before serving;
 * the defaults are 3600 and 300. */
void agent_ident_configure(int rotate_s, int grace_s);
/* Forgets everything (at stop). */
void agent_ident_free(void);

/* ---- join tokens ---- */

/* The server-wide token (today's --agent-token): set at start and again on reload. */
void agent_ident_set_server_token(const char *token);
/* A fresh join token for the launch of instance id, into out: it registers that instance and no
 * other, until the instance is revoked.  It says what it is (AGENT_IDENT_LAUNCH_PREFIX and 64
 * hexadecimal digits), so that a server can tell a launched agent that is not its own (one left
 * running by an earlier server at the same address, with another data directory) from an agent
 * joining, and refuse it even in developer mode: such an agent's work and image cache belong to
 * the server that launched it. */
#define AGENT_IDENT_LAUNCH_PREFIX "barge-launch-"
#define AGENT_IDENT_LAUNCH_TOKEN_LEN (sizeof AGENT_IDENT_LAUNCH_PREFIX - 1 + 64)
void agent_ident_launch_token(const char *id, char out[AGENT_IDENT_LAUNCH_TOKEN_LEN + 1]);
/* What the store keeps of the launch token of instance id while its agent has yet to register
 * (the token's SHA-256 in hexadecimal), so that a server started meanwhile still takes that
 * agent: 0, or -1 when id has no launch token.  Restore gives id the token again; -1 when hex
 * is not a digest. */
#define AGENT_IDENT_DIGEST_HEX 65
int agent_ident_launch_export(const char *id, char hex[AGENT_IDENT_DIGEST_HEX]);
int agent_ident_launch_restore(const char *id, const char *hex);
/* Whether token reads as a launch token (its prefix): a join token the operator sets must not,
 * or every server would take it for another server's launch token and refuse it. */
int agent_ident_launch_like(const char *token);
#define AGENT_IDENT_LAUNCH_LIKE_WHY                                                              \
    "starts with '" AGENT_IDENT_LAUNCH_PREFIX "', which marks the tokens a server gives the "   \
    "agents it launches"
/* Reads the tokens file: one token a line, alone (valid for the whole server) or followed by
 * the name of the one compute environment it registers agents for; blank lines and lines
 * starting with '#' are skipped.  The file's tokens replace those read before, atomically: on
 * an error nothing changes and *err (malloc'd) says what is wrong, naming the line but never a
 * token.  NULL path: no file tokens. */
int agent_ident_load_tokens(const char *path, char **err);

typedef enum {
    AGENT_JOIN_OK = 0,
    AGENT_JOIN_LAUNCH,   /* the launch token of the instance registering */
    AGENT_JOIN_MISSING,  /* no "Bearer TOKEN" */
    AGENT_JOIN_UNKNOWN,  /* no such token (or revoked) */
    AGENT_JOIN_OTHER_CE, /* a token for another compute environment */
    AGENT_JOIN_FOREIGN,  /* a launch token this server did not give for that instance */
} agent_join_rc;
/* Whether the Authorization header carries a join token that registers instance id (NULL: a
 * new one) for compute environment ce.  any: accept every token (developer mode) but another
 * server's launch token. */
agent_join_rc agent_ident_join(const char *authorization, const char *ce, const char *id,
                               int any);

/* ---- instance credentials ---- */

/* A fresh credential for instance id, into out.  keep_previous: the one it replaces stays valid
 * until the new one is first used and grace_s after (a rotation); otherwise every earlier one of
 * the instance stops now (a new registration). */
void agent_ident_issue(const char *id, int keep_previous, char out[AGENT_IDENT_CRED_MAX + 1]);
/* Every credential of instance id stops now, and its streams are closed. */
void agent_ident_revoke(const char *id);
/* Instance id is being declared lost (before its attempts end and it is revoked): for keep_ms
 * its credentials may still write to the log streams its attempts write to now, and to no
 * other.  An agent that stalled (a paused VM, a partition) still holds what its jobs printed
 * before the server gave up on it; as the awslogs driver ships a container's output whatever
 * becomes of its host's agent, those lines belong in the attempts' logs. */
void agent_ident_lose(const char *id, int keep_ms);
/* Whether the credential in the Authorization header is a lost instance's (within its keep_ms)
 * and stream one of the streams it may still write to. */
int agent_ident_lost_may_write(const char *authorization, const char *stream);
/* What the store keeps of instance id's credentials, so that a restarted server still knows
 * its instances' agents: the digests of the current one and (during a rotation) the one before,
 * in hexadecimal ("" when there is none).  0, or -1 when the instance has no credential. */
int agent_ident_export(const char *id, char cur[AGENT_IDENT_DIGEST_HEX],
                       char prev[AGENT_IDENT_DIGEST_HEX]);
/* Gives instance id the credentials agent_ident_export wrote (prev may be "" or NULL); the
 * rotation clock starts again now, and a previous one stays valid until the current one is
 * used.  -1 when cur is not a digest. */
int agent_ident_restore(const char *id, const char *cur, const char *prev);

typedef enum {
    AGENT_CRED_OK = 0,
    AGENT_CRED_MISSING,   /* no "Bearer ID:SECRET" */
    AGENT_CRED_NO_INSTANCE, /* well formed, for an instance that has no credential here */
    AGENT_CRED_WRONG,     /* not the instance's credential (a join token, a revoked one) */
    AGENT_CRED_EXPIRED,   /* replaced, and its grace period is over */
} agent_cred_rc;
/* Checks the credential an Authorization header carries.  On AGENT_CRED_OK, NO_INSTANCE, WRONG
 * and EXPIRED, id receives the instance it names; *rotate (when not NULL) is set when the
 * current credential is due to be replaced. */
agent_cred_rc agent_ident_check(const char *authorization, char id[AGENT_IDENT_ID_MAX + 1],
                                int *rotate);

/* ---- log streams ---- */

/* The attempt writing to stream runs on instance id (from its assignment to its end). */
void agent_ident_stream_open(const char *id, const char *stream);
void agent_ident_stream_close(const char *id, const char *stream);
typedef enum {
    AGENT_STREAM_MINE = 0, /* an attempt of instance id writes to it */
    AGENT_STREAM_NONE,     /* no running attempt writes to it */
    AGENT_STREAM_OTHER,    /* another instance's attempt writes to it */
} agent_stream_rc;
/* Whose running attempt writes to stream, as seen from instance id. */
agent_stream_rc agent_ident_stream_owner(const char *id, const char *stream);
#endif
