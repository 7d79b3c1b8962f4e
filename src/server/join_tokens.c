/* join_tokens — see join_tokens.h. */
#include "server/join_tokens.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/base/agent_ident.h"

static const char *file_;    /* --agent-tokens, or NULL */
static char *token_path_;    /* DATA_DIR/agent-token, unless --agent-token was given */
static char server_token[65]; /* the one read from token_path_ */

int join_tokens_read_file(const char *tokens_file)
{
    char *err = NULL;
    if (agent_ident_load_tokens(tokens_file, &err) < 0) {
        fprintf(stderr, "barge server: --agent-tokens: %s\n", err);
        free(err);
        return 2;
    }
    struct stat st;
    if (tokens_file && stat(tokens_file, &st) == 0 && (st.st_mode & 077))
        log_warn("--agent-tokens %s may be read by other users (mode %03o); make it 0600",
                 tokens_file, (unsigned)(st.st_mode & 0777));
    file_ = tokens_file;
    return 0;
}

/* The first line of path into out (size n), without its line end; "" when unreadable. */
static void read_token(const char *path, char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (!fgets(out, (int)n, f)) out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
}

/* A server-wide token as SIGHUP and --agent-token take it: 8 characters or more, and none a
 * space or a control character (agents send it in an Authorization header, which cannot carry
 * those as given).  The buffer holds 64: a longer one would be cut. */
static const char *token_problem(const char *t)
{
    if (strlen(t) < 8) return "holds fewer than 8 characters";
    if (strlen(t) >= sizeof server_token - 1) return "holds 64 characters or more";
    if (agent_ident_launch_like(t)) return AGENT_IDENT_LAUNCH_LIKE_WHY;
    for (const unsigned char *p = (const unsigned char *)t; *p; p++)
        if (*p <= ' ' || *p == 0x7f) return "holds a space or a control character";
    return NULL;
}

/* The server-wide join token lives in the data directory so that operators can hand it to the
 * agents they start, and so that it stays the same across restarts. */
int join_tokens_server(const char *data_dir, const char *token)
{
    if (token && *token) {
        agent_ident_set_server_token(token);
        return 0;
    }
    token_path_ = xasprintf("%s/agent-token", data_dir);
    read_token(token_path_, server_token, sizeof server_token);
    /* An empty file is one whose writing was cut short: a new token is made, as for none. */
    const char *bad = server_token[0] ? token_problem(server_token) : NULL;
    if (bad) {
        fprintf(stderr, "barge server: %s %s; a join token is 8 to 63 characters without spaces: "
                        "write one there, or remove the file to have a new one made\n",
                token_path_, bad);
        explicit_bzero(server_token, sizeof server_token);
        return 1;
    }
    if (!server_token[0]) {
        char a[37], b[37];
        util_uuid(a);
        util_uuid(b);
        snprintf(server_token, sizeof server_token, "%.8s%.4s%.4s%.4s%.12s%.8s", a, a + 9,
                 a + 14, a + 19, a + 24, b);
        int fd = open(token_path_, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, server_token, strlen(server_token)) < 0 || fsync(fd) < 0) {
            fprintf(stderr, "barge server: cannot write the agent token to %s: %s\n",
                    token_path_, strerror(errno));
            if (fd >= 0) close(fd);
            return 1;
        }
        close(fd);
    }
    agent_ident_set_server_token(server_token);
    return 0;
}

int join_tokens_share(store *db)
{
    if (!token_path_) return 0; /* --agent-token: the operator gives every server the same */
    char *shared = NULL;
    if (store_pg_shared_value(db, "agent-token", server_token, &shared) < 0) {
        fprintf(stderr, "barge server: cannot read the shared agent token: %s\n",
                store_errmsg(db));
        return 1;
    }
    if (strcmp(shared, server_token) != 0) {
        snprintf(server_token, sizeof server_token, "%s", shared);
        agent_ident_set_server_token(server_token);
        int fd = open(token_path_, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, server_token, strlen(server_token)) < 0 || fsync(fd) < 0)
            log_warn("cannot write the shared agent token to %s: %s", token_path_,
                     strerror(errno));
        if (fd >= 0) close(fd);
        log_info("the agent token is the shared store's (written to %s)", token_path_);
    }
    explicit_bzero(shared, strlen(shared));
    free(shared);
    return 0;
}

void join_tokens_reload(void)
{
    char *why = NULL;
    if (agent_ident_load_tokens(file_, &why) < 0) {
        log_error("SIGHUP: --agent-tokens: %s; the join tokens are unchanged", why);
        free(why);
    } else if (file_) {
        log_info("SIGHUP: join tokens read again from %s", file_);
    }
    if (!token_path_) return;
    char fresh[sizeof server_token];
    read_token(token_path_, fresh, sizeof fresh);
    const char *bad = access(token_path_, R_OK) != 0 ? "cannot be read" : token_problem(fresh);
    if (bad) {
        log_warn("SIGHUP: %s %s; the server-wide join token is unchanged", token_path_, bad);
    } else if (strcmp(fresh, server_token) != 0) {
        memcpy(server_token, fresh, sizeof server_token);
        agent_ident_set_server_token(server_token);
        log_info("SIGHUP: the server-wide join token was replaced (from %s)", token_path_);
    }
    explicit_bzero(fresh, sizeof fresh);
}
