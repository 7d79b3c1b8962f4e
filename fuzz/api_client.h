/* api_client — fuzz_api's requests as a client sends them and the server receives them: the
 * input's lines (who signs, the header lines, the request line, the body), the headers, the
 * query as libmicrohttpd decodes it, and the signature an SDK puts on a request.  fuzz_api.c
 * says what an input holds. */
#ifndef BARGE_FUZZ_API_CLIENT_H
#define BARGE_FUZZ_API_CLIENT_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/sigv4.h"

#define CLIENT_HEADERS 16 /* header lines an input may give */
#define CLIENT_PAIRS 32   /* query parameters */

/* A header line: '+' sent (and signed), '=' put in place of every header of its name once the
 * request is signed, '-' every header of its name removed then. */
typedef struct client_edit {
    char kind;
    const char *name, *value;
} client_edit;

/* One input, read: its lines are held here until client_input_free. */
typedef struct client_input {
    char *held[CLIENT_HEADERS + 3];
    size_t nheld;
    int fresh;  /* a first line "!": on a state made anew */
    char *who;  /* what follows '@' on the line before the headers, or NULL */
    client_edit ed[CLIENT_HEADERS];
    size_t ned;
    char *line; /* the request line */
    const char *body;
    size_t blen;
    char *made[CLIENT_HEADERS]; /* '=' values with %T and %D put in (client_sign) */
} client_input;

/* Reads the lines before the body; 0, or -1 when the input has no request line (a line too
 * long, holding a NUL, or a '+' header whose name is not HTTP's). */
int client_read(client_input *in, const uint8_t *data, size_t size);
void client_input_free(client_input *in);

/* A request's headers, in order, as libmicrohttpd hands them to the server. */
typedef struct client_headers {
    sigv4_header h[CLIENT_HEADERS + 8];
    size_t n;
} client_headers;

/* The headers a request without a signature sends: the '+' ones, then the edits applied. */
void client_unsigned(const client_input *in, client_headers *out);
/* The first header of that name (as libmicrohttpd looks one up), or NULL. */
const char *client_header(const client_headers *hs, const char *name);

/* The query's parameters as libmicrohttpd hands them: split at '&' and the first '=', '+' made
 * a space, percent-decoded; a key without '=' has no value (NULL).  s is decoded in place. */
typedef struct client_query {
    char *key[CLIENT_PAIRS], *value[CLIENT_PAIRS];
    size_t n;
} client_query;
void client_query_parse(client_query *q, char *s);
/* The query as the server puts it back together to check a signature (http_server.c), and as
 * an SDK sends it; NULL when there is none (malloc'd). */
char *client_query_text(const client_query *q);

/* Signs the request as an SDK signs it, with cred at when: into sent what it sends (Host,
 * Content-Type, the input's '+' headers, X-Amz-Date, the token, Authorization), with the
 * input's '=' and '-' lines then applied; in an '=' header, %T stands for the signature's time
 * and %D for its day, so that an Authorization written by hand gets past the clock's checks.
 * label_at: where the path's URI label starts (0: none), whose slashes the SDK encodes too.
 * 0, or -1 when nothing a client could send comes of it.  sig is freed by the caller
 * (sigv4_signed_free). */
int client_sign(client_input *in, const sigv4_credentials *cred, time_t when,
                const char *method, const char *url, size_t label_at, const char *query,
                client_headers *sent, sigv4_signed *sig);
/* Whether the input leaves the signed request as the SDK made it: no '=' or '-' line, and no
 * X-Amz-Content-Sha256 of its own but the body's. */
int client_untouched(const client_input *in);
#endif
