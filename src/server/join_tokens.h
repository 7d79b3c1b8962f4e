/* join_tokens — where the server's join tokens come from (docs/agent-protocol.md,
 * "Identities"): the server-wide one (--agent-token, or DATA_DIR/agent-token, made at the first
 * start) and the tokens file (--agent-tokens), read at start and again on SIGHUP.  What they
 * let an agent do is server/base/agent_ident.h's business. */
#ifndef BARGE_JOIN_TOKENS_H
#define BARGE_JOIN_TOKENS_H
#include "server/base/store.h"

/* Reads the tokens file (NULL: none) once the options are parsed, before anything starts.
 * Returns 0, or 2 after saying why on stderr. */
int join_tokens_read_file(const char *tokens_file);
/* The server-wide token, once DATA_DIR exists: given (token, from --agent-token) or read from
 * DATA_DIR/agent-token, which is made when missing.  Returns 0, or 1 after saying why. */
int join_tokens_server(const char *data_dir, const char *token);
/* On a store that several servers share, without --agent-token: the server-wide token is the
 * database's (the first server's), so that an agent joins whichever server leads; it replaces
 * DATA_DIR/agent-token's when they differ.  Returns 0, or 1 after saying why. */
int join_tokens_share(store *db);
/* SIGHUP: the tokens file again, and DATA_DIR/agent-token unless --agent-token gave the
 * server-wide token.  A file that does not parse changes nothing (the log says why). */
void join_tokens_reload(void);
#endif
