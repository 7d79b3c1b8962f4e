/* agent_ident — see agent_ident.h. */
#include "server/base/agent_ident.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/dict.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

#define HASH_LEN 32
#define SECRET_BYTES 32

typedef struct join_token {
    unsigned char hash[HASH_LEN];
    char *ce; /* NULL: every compute environment */
} join_token;

/* One instance's credentials: the current one and, during a rotation, the one before. */
typedef struct ident {
    char *id;
    unsigned char cur[HASH_LEN], prev[HASH_LEN];
    int has_prev, cur_used;
    int64_t cur_issued; /* monotonic ms */
    int64_t prev_until; /* monotonic ms; 0 while the current one has not been used */
} ident;

typedef struct stream_owner {
    char *stream, *id;
} stream_owner;

/* A lost instance's credentials and the streams its attempts wrote to when it was lost
 * (agent_ident_lose), until `until`. */
typedef struct lost_ident {
    char *id;
    unsigned char cur[HASH_LEN], prev[HASH_LEN];
    int has_prev;
    int64_t until; /* monotonic ms */
    dict streams;  /* stream name -> the same name, malloc'd */
} lost_ident;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int rotate_ms = 3600 * 1000, grace_ms = 300 * 1000;
static int has_server_token;
static unsigned char server_hash[HASH_LEN];
static dict launches; /* instance id -> the SHA-256 of its launch token (malloc'd key first) */
static join_token *tokens;
static size_t n_tokens;
static dict idents;  /* instance id -> ident */
static dict streams; /* stream name -> stream_owner */
static dict lost;    /* instance id -> lost_ident */
static int ready;

static void init_locked(void)
{
    if (ready) return;
    dict_init(&idents);
    dict_init(&streams);
    dict_init(&launches);
    dict_init(&lost);
    ready = 1;
}

static void free_lost(lost_ident *l)
{
    size_t i = 0;
    const char *k;
    void *v;
    while (dict_next(&l->streams, &i, &k, &v)) free(v);
    dict_free(&l->streams);
    free(l->id);
    free(l);
}

/* Forgets the lost instances whose time is up. */
static void expire_lost_locked(int64_t now)
{
    size_t i = 0;
    const char *k;
    void *v;
    while (lost.len && dict_next(&lost, &i, &k, &v)) {
        lost_ident *l = v;
        if (now < l->until) continue;
        dict_del(&lost, l->id);
        free_lost(l);
        i = 0; /* the table changed under the walk */
    }
}

static void sha256(const void *data, size_t len, unsigned char out[HASH_LEN])
{
    unsigned int n = 0;
    if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) || n != HASH_LEN)
        BARGE_ASSERT(!"SHA-256 is always available");
}

/* The value of "Bearer VALUE", or NULL. */
static const char *bearer(const char *authorization)
{
    if (!authorization || strncmp(authorization, "Bearer ", 7) != 0) return NULL;
    const char *v = authorization + 7;
    while (*v == ' ') v++;
    return *v ? v : NULL;
}

void agent_ident_configure(int rotate_s, int grace_s)
{
    pthread_mutex_lock(&mu);
    rotate_ms = rotate_s * 1000;
    grace_ms = grace_s * 1000;
    pthread_mutex_unlock(&mu);
}

static void free_tokens(join_token *t, size_t n)
{
    for (size_t i = 0; i < n; i++) free(t[i].ce);
    free(t);
}

void agent_ident_free(void)
{
    pthread_mutex_lock(&mu);
    if (ready) {
        size_t i = 0;
        const char *k;
        void *v;
        while (dict_next(&idents, &i, &k, &v)) {
            ident *in = v;
            free(in->id);
            free(in);
        }
        dict_free(&idents);
        i = 0;
        while (dict_next(&streams, &i, &k, &v)) {
            stream_owner *s = v;
            free(s->stream);
            free(s->id);
            free(s);
        }
        dict_free(&streams);
        i = 0;
        while (dict_next(&launches, &i, &k, &v)) free(v);
        dict_free(&launches);
        i = 0;
        while (dict_next(&lost, &i, &k, &v)) free_lost(v);
        dict_free(&lost);
        ready = 0;
    }
    free_tokens(tokens, n_tokens);
    tokens = NULL;
    n_tokens = 0;
    has_server_token = 0;
    pthread_mutex_unlock(&mu);
}

/* ---- join tokens ---------------------------------------------------------------------- */

void agent_ident_set_server_token(const char *token)
{
    pthread_mutex_lock(&mu);
    has_server_token = token && *token;
    if (has_server_token) sha256(token, strlen(token), server_hash);
    pthread_mutex_unlock(&mu);
}

/* Random bytes as hexadecimal into out (2 * n + 1 bytes). */
static void random_hex(char *out, size_t n)
{
    unsigned char b[SECRET_BYTES];
    BARGE_ASSERT(n <= sizeof b);
    if (RAND_bytes(b, (int)n) != 1) BARGE_ASSERT(!"the system's random generator failed");
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * n] = '\0';
    explicit_bzero(b, sizeof b);
}

/* The launch's entry for id: the token's digest first, the id after it (launch_token). */
static void put_launch_locked(const char *id, const unsigned char digest[HASH_LEN])
{
    unsigned char *h = xmalloc(HASH_LEN + strlen(id) + 1);
    memcpy(h, digest, HASH_LEN);
    char *key = (char *)h + HASH_LEN;
    strcpy(key, id);
    free(dict_put(&launches, key, h));
}

void agent_ident_launch_token(const char *id, char out[AGENT_IDENT_LAUNCH_TOKEN_LEN + 1])
{
    size_t pre = sizeof AGENT_IDENT_LAUNCH_PREFIX - 1;
    memcpy(out, AGENT_IDENT_LAUNCH_PREFIX, pre);
    random_hex(out + pre, (AGENT_IDENT_LAUNCH_TOKEN_LEN - pre) / 2);
    unsigned char h[HASH_LEN];
    sha256(out, strlen(out), h);
    pthread_mutex_lock(&mu);
    init_locked();
    put_launch_locked(id, h);
    pthread_mutex_unlock(&mu);
}

int agent_ident_launch_export(const char *id, char hex[AGENT_IDENT_DIGEST_HEX])
{
    hex[0] = '\0';
    pthread_mutex_lock(&mu);
    init_locked();
    const unsigned char *h = dict_get(&launches, id);
    if (h) util_hex(h, HASH_LEN, hex);
    pthread_mutex_unlock(&mu);
    return h ? 0 : -1;
}

static int name_char(int c)
{
    return isalnum(c) || c == '-' || c == '_';
}

int agent_ident_load_tokens(const char *path, char **err)
{
    join_token *t = NULL;
    size_t n = 0;
    if (path) {
        const char *open_why;
        size_t size, len;
        /* Read whole into one buffer, wiped at the end: the tokens are in no other copy. */
        char *text = util_read_secret_file(path, UTIL_SECRET_FILE_MAX, &size, NULL, &open_why);
        if (!text) {
            *err = xasprintf("%s %s", path, open_why);
            return -1;
        }
        /* Whole lines, however long: a piece of a cut line would be read as a line of its own
         * (and the line numbers in messages would drift). */
        char *at = text, *line;
        int lineno = 0;
        while ((line = util_next_line(&at, text + size, &len))) {
            lineno++;
            /* A NUL byte would end the token early: what was meant is not what is read. */
            const char *why = strlen(line) != len ? "the line holds a NUL byte" : NULL;
            char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save);
            if (!why && (!tok || *tok == '#')) continue;
            char *ce = strtok_r(NULL, " \t\r\n", &save);
            char *extra = strtok_r(NULL, " \t\r\n", &save);
            if (!why && (strlen(tok) < 16 || strlen(tok) > 512))
                why = "a token is 16 to 512 characters";
            if (!why && agent_ident_launch_like(tok)) why = "the token " AGENT_IDENT_LAUNCH_LIKE_WHY;
            if (!why && extra)
                why = "a line holds a token and at most one compute environment name";
            for (const char *p = ce; !why && p && *p; p++)
                if (!name_char((unsigned char)*p))
                    why = "a compute environment name is letters, digits, '-' and '_'";
            if (why) {
                util_secret_free(text, size);
                free_tokens(t, n);
                *err = xasprintf("%s line %d: %s", path, lineno, why);
                return -1;
            }
            t = xrealloc(t, (n + 1) * sizeof *t);
            sha256(tok, strlen(tok), t[n].hash);
            t[n].ce = ce ? xstrdup(ce) : NULL;
            n++;
        }
        util_secret_free(text, size);
    }
    pthread_mutex_lock(&mu);
    join_token *old = tokens;
    size_t n_old = n_tokens;
    tokens = t;
    n_tokens = n;
    pthread_mutex_unlock(&mu);
    free_tokens(old, n_old);
    return 0;
}

int agent_ident_launch_like(const char *token)
{
    return strncmp(token, AGENT_IDENT_LAUNCH_PREFIX, sizeof AGENT_IDENT_LAUNCH_PREFIX - 1) == 0;
}

agent_join_rc agent_ident_join(const char *authorization, const char *ce, const char *id,
                               int any)
{
    const char *given = bearer(authorization);
    int launched = given && agent_ident_launch_like(given);
    if (any && !launched) return AGENT_JOIN_OK;
    if (!given) return AGENT_JOIN_MISSING;
    unsigned char h[HASH_LEN];
    sha256(given, strlen(given), h);
    /* Every token is compared, each in constant time, so that timing tells nothing. */
    int found = 0, for_ce = 0;
    pthread_mutex_lock(&mu);
    init_locked();
    const unsigned char *launch = id ? dict_get(&launches, id) : NULL;
    if (launch && CRYPTO_memcmp(h, launch, HASH_LEN) == 0) {
        pthread_mutex_unlock(&mu);
        return AGENT_JOIN_LAUNCH;
    }
    if (launched) {
        pthread_mutex_unlock(&mu);
        return AGENT_JOIN_FOREIGN;
    }
    if (has_server_token && CRYPTO_memcmp(h, server_hash, HASH_LEN) == 0) found = for_ce = 1;
    for (size_t i = 0; i < n_tokens; i++) {
        if (CRYPTO_memcmp(h, tokens[i].hash, HASH_LEN) != 0) continue;
        found = 1;
        if (!tokens[i].ce || (ce && strcmp(tokens[i].ce, ce) == 0)) for_ce = 1;
    }
    pthread_mutex_unlock(&mu);
    return !found ? AGENT_JOIN_UNKNOWN : for_ce ? AGENT_JOIN_OK : AGENT_JOIN_OTHER_CE;
}

/* ---- instance credentials ------------------------------------------------------------- */

/* A digest from its hexadecimal, as agent_ident_export writes it. */
static int from_hex(const char *s, unsigned char h[HASH_LEN])
{
    return util_unhex_bytes(s, h, HASH_LEN);
}

/* Instance id's record, made on first use.  mu held. */
static ident *ident_of_locked(const char *id)
{
    ident *in = dict_get(&idents, id);
    if (!in) {
        in = xcalloc(1, sizeof *in);
        in->id = xstrdup(id);
        dict_put(&idents, in->id, in);
    }
    return in;
}

void agent_ident_issue(const char *id, int keep_previous, char out[AGENT_IDENT_CRED_MAX + 1])
{
    int n = snprintf(out, AGENT_IDENT_CRED_MAX + 1, "%.*s:", AGENT_IDENT_ID_MAX, id);
    random_hex(out + n, SECRET_BYTES);
    n += 2 * SECRET_BYTES;
    unsigned char h[HASH_LEN];
    sha256(out, (size_t)n, h);
    pthread_mutex_lock(&mu);
    init_locked();
    ident *in = dict_get(&idents, id);
    if (!in) {
        in = ident_of_locked(id);
    } else if (keep_previous && in->has_prev && !in->cur_used) {
        /* The agent never used the last one handed out (its answer was lost): the one it
         * still uses stays the previous one. */
    } else if (keep_previous && in->cur_issued) {
        memcpy(in->prev, in->cur, HASH_LEN);
        in->has_prev = 1;
        /* Valid until the agent shows it has the new one, then for the grace period: an
         * answer lost on the way costs nothing. */
        in->prev_until = 0;
    } else {
        in->has_prev = 0;
    }
    memcpy(in->cur, h, HASH_LEN);
    in->cur_used = 0;
    in->cur_issued = util_mono_ms();
    pthread_mutex_unlock(&mu);
}

static void close_streams_locked(const char *id)
{
    size_t i = 0;
    const char *k;
    void *v;
    while (streams.len && dict_next(&streams, &i, &k, &v)) {
        stream_owner *s = v;
        if (strcmp(s->id, id) != 0) continue;
        dict_del(&streams, k);
        free(s->stream);
        free(s->id);
        free(s);
    }
}

void agent_ident_revoke(const char *id)
{
    pthread_mutex_lock(&mu);
    init_locked();
    ident *in = dict_del(&idents, id);
    if (in) {
        free(in->id);
        free(in);
    }
    free(dict_del(&launches, id));
    close_streams_locked(id);
    pthread_mutex_unlock(&mu);
}

int agent_ident_export(const char *id, char cur[AGENT_IDENT_DIGEST_HEX],
                       char prev[AGENT_IDENT_DIGEST_HEX])
{
    cur[0] = prev[0] = '\0';
    pthread_mutex_lock(&mu);
    init_locked();
    ident *in = dict_get(&idents, id);
    if (in) {
        util_hex(in->cur, HASH_LEN, cur);
        if (in->has_prev) util_hex(in->prev, HASH_LEN, prev);
    }
    pthread_mutex_unlock(&mu);
    return in ? 0 : -1;
}

int agent_ident_restore(const char *id, const char *cur, const char *prev)
{
    unsigned char c[HASH_LEN], p[HASH_LEN];
    if (from_hex(cur, c) != 0) return -1;
    int has_prev = prev && *prev && from_hex(prev, p) == 0;
    pthread_mutex_lock(&mu);
    init_locked();
    ident *in = ident_of_locked(id);
    memcpy(in->cur, c, HASH_LEN);
    in->has_prev = has_prev;
    if (has_prev) memcpy(in->prev, p, HASH_LEN);
    in->cur_used = 0;
    in->prev_until = 0;
    in->cur_issued = util_mono_ms();
    pthread_mutex_unlock(&mu);
    return 0;
}

int agent_ident_launch_restore(const char *id, const char *hex)
{
    unsigned char h[HASH_LEN];
    if (from_hex(hex, h) != 0) return -1;
    pthread_mutex_lock(&mu);
    init_locked();
    put_launch_locked(id, h);
    pthread_mutex_unlock(&mu);
    return 0;
}

/* Whether s looks like a credential: an instance id, ':', and the secret in hexadecimal.
 * Anything else (a join token sent by mistake) is not read further, so that no part of it is
 * ever named in an answer. */
static int well_formed(const char *s)
{
    const char *colon = s ? strchr(s, ':') : NULL;
    if (!colon || colon == s || colon - s > AGENT_IDENT_ID_MAX) return 0;
    for (const char *p = s; p < colon; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.') return 0;
    size_t n = 0;
    for (const char *p = colon + 1; *p; p++, n++)
        if (!isxdigit((unsigned char)*p)) return 0;
    return n == 2 * SECRET_BYTES;
}

agent_cred_rc agent_ident_check(const char *authorization, char id[AGENT_IDENT_ID_MAX + 1],
                                int *rotate)
{
    if (rotate) *rotate = 0;
    id[0] = '\0';
    const char *given = bearer(authorization);
    if (!well_formed(given)) return AGENT_CRED_MISSING;
    const char *colon = strchr(given, ':');
    memcpy(id, given, (size_t)(colon - given));
    id[colon - given] = '\0';
    unsigned char h[HASH_LEN];
    sha256(given, strlen(given), h);
    int64_t now = util_mono_ms();
    agent_cred_rc rc;
    pthread_mutex_lock(&mu);
    init_locked();
    ident *in = dict_get(&idents, id);
    if (!in) {
        rc = AGENT_CRED_NO_INSTANCE;
    } else if (CRYPTO_memcmp(h, in->cur, HASH_LEN) == 0) {
        rc = AGENT_CRED_OK;
        if (!in->cur_used && in->has_prev) in->prev_until = now + grace_ms;
        in->cur_used = 1;
        if (rotate) *rotate = now - in->cur_issued >= rotate_ms;
    } else if (in->has_prev && CRYPTO_memcmp(h, in->prev, HASH_LEN) == 0) {
        rc = in->prev_until && now > in->prev_until ? AGENT_CRED_EXPIRED : AGENT_CRED_OK;
        if (rc == AGENT_CRED_EXPIRED) in->has_prev = 0;
        /* Still in use long after the next one was handed out: that one went astray. */
        else if (rotate && !in->cur_used) *rotate = now - in->cur_issued >= rotate_ms;
    } else {
        rc = AGENT_CRED_WRONG;
    }
    pthread_mutex_unlock(&mu);
    return rc;
}

void agent_ident_lose(const char *id, int keep_ms)
{
    pthread_mutex_lock(&mu);
    init_locked();
    int64_t now = util_mono_ms();
    expire_lost_locked(now);
    ident *in = dict_get(&idents, id);
    if (in && keep_ms > 0) {
        lost_ident *l = dict_del(&lost, id);
        if (l) free_lost(l);
        l = xcalloc(1, sizeof *l);
        l->id = xstrdup(id);
        memcpy(l->cur, in->cur, HASH_LEN);
        memcpy(l->prev, in->prev, HASH_LEN);
        l->has_prev = in->has_prev;
        l->until = now + keep_ms;
        dict_init(&l->streams);
        size_t i = 0;
        const char *k;
        void *v;
        while (dict_next(&streams, &i, &k, &v)) {
            stream_owner *o = v;
            if (strcmp(o->id, id) == 0) {
                char *name = xstrdup(o->stream);
                dict_put(&l->streams, name, name);
            }
        }
        dict_put(&lost, l->id, l);
    }
    pthread_mutex_unlock(&mu);
}

int agent_ident_lost_may_write(const char *authorization, const char *stream)
{
    const char *given = bearer(authorization);
    if (!well_formed(given) || !stream) return 0;
    const char *colon = strchr(given, ':');
    char id[AGENT_IDENT_ID_MAX + 1];
    memcpy(id, given, (size_t)(colon - given));
    id[colon - given] = '\0';
    unsigned char h[HASH_LEN];
    sha256(given, strlen(given), h);
    pthread_mutex_lock(&mu);
    init_locked();
    expire_lost_locked(util_mono_ms());
    lost_ident *l = dict_get(&lost, id);
    int ok = l &&
             (CRYPTO_memcmp(h, l->cur, HASH_LEN) == 0 ||
              (l->has_prev && CRYPTO_memcmp(h, l->prev, HASH_LEN) == 0)) &&
             dict_get(&l->streams, stream) != NULL;
    pthread_mutex_unlock(&mu);
    return ok;
}

/* ---- log streams ---------------------------------------------------------------------- */

void agent_ident_stream_open(const char *id, const char *stream)
{
    if (!id || !stream) return;
    pthread_mutex_lock(&mu);
    init_locked();
    stream_owner *s = dict_get(&streams, stream);
    if (!s) {
        s = xcalloc(1, sizeof *s);
        s->stream = xstrdup(stream);
        dict_put(&streams, s->stream, s);
    } else {
        free(s->id);
    }
    s->id = xstrdup(id);
    pthread_mutex_unlock(&mu);
}

void agent_ident_stream_close(const char *id, const char *stream)
{
    if (!id || !stream) return;
    pthread_mutex_lock(&mu);
    init_locked();
    stream_owner *s = dict_get(&streams, stream);
    if (s && strcmp(s->id, id) == 0) {
        dict_del(&streams, stream);
        free(s->stream);
        free(s->id);
        free(s);
    }
    pthread_mutex_unlock(&mu);
}

agent_stream_rc agent_ident_stream_owner(const char *id, const char *stream)
{
    pthread_mutex_lock(&mu);
    init_locked();
    stream_owner *s = stream ? dict_get(&streams, stream) : NULL;
    agent_stream_rc rc = !s ? AGENT_STREAM_NONE
                         : strcmp(s->id, id) == 0 ? AGENT_STREAM_MINE : AGENT_STREAM_OTHER;
    pthread_mutex_unlock(&mu);
    return rc;
}
