/* sigv4 — the AWS Signature Version 4 Authorization header.
 *
 * barge parses the header on every request so that malformed credentials are refused the way AWS
 * refuses them.  sigv4_sign computes the header the way AWS SDKs do (botocore's SigV4Auth is the
 * reference the unit tests compare against); the CLI signs every request with it.  The server
 * recomputes a client's signature from the same pieces (sigv4_canonical_request,
 * sigv4_signing_key, sigv4_signature) in server/api/auth.c. */
#ifndef BARGE_SIGV4_H
#define BARGE_SIGV4_H
#include <stddef.h>
#include <time.h>

#include "common/mem.h"

typedef struct sigv4_auth {
    char access_key[129];
    char date[9];      /* YYYYMMDD */
    char region[64];
    char service[64];
    char signed_headers[1024];
    char signature[129];
} sigv4_auth;

/* Parses "AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/SERVICE/aws4_request, SignedHeaders=...,
 * Signature=...".  Returns 0, or -1 with a sentence in err. */
int sigv4_parse(const char *header, sigv4_auth *out, char *err, size_t errlen);

typedef struct sigv4_header {
    const char *name;
    const char *value;
} sigv4_header;

/* One HTTP request, as it will be sent. */
typedef struct sigv4_request {
    const char *method;
    const char *path;            /* as sent: already percent-encoded; "" means "/" */
    const char *query;           /* as sent, without '?'; NULL or "" when there is none */
    const sigv4_header *headers; /* must hold Host; X-Amz-Date and the token are added */
    size_t nheaders;
    const void *body;
    size_t body_len;
} sigv4_request;

typedef struct sigv4_credentials {
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL or "" without temporary credentials */
    const char *region;
    const char *service;       /* "batch", "logs", ... */
} sigv4_credentials;

typedef struct sigv4_signed {
    char amz_date[17];         /* send as X-Amz-Date: YYYYMMDDTHHMMSSZ */
    char payload_sha256[65];   /* hex SHA-256 of the body, or the caller's X-Amz-Content-Sha256 */
    char *authorization;       /* send as Authorization */
    char *canonical_request;   /* what was signed, for debugging and tests */
} sigv4_signed;

/* Signs req at time `when`.  The caller sends out->amz_date as X-Amz-Date and, with a session
 * token, the token as X-Amz-Security-Token: both are signed.  Headers that proxies rewrite
 * (User-Agent, Expect, Connection, ...) are left out of the signature, as AWS SDKs leave them.
 * A caller's X-Amz-Content-Sha256 header stands for the body's hash, as a verifier takes it. 
 * Returns 0, or -1 with a sentence in err; free the result with sigv4_signed_free. */
int sigv4_sign(const sigv4_request *req, const sigv4_credentials *cred, time_t when,
               sigv4_signed *out, char *err, size_t errlen);
void sigv4_signed_free(sigv4_signed *s);

/* The pieces of a signature, for a server that recomputes a client's.  The canonical request of
 * method, path (as sent, percent-encoded), query (as sent) and the signed headers: names[i] in
 * lower case, in the order of SignedHeaders, values[i] as received (repeated headers joined with
 * commas); malloc'd. */
char *sigv4_canonical_request(const char *method, const char *path, const char *query,
                              const char *const *names, const char *const *values, size_t n,
                              const char *payload_sha256);
/* The key of secret_key for a day (YYYYMMDD), region and service: what a server caches. */
void sigv4_signing_key(const char *secret_key, const char *date, const char *region,
                       const char *service, unsigned char out[32]);
/* The hex signature of a canonical request at amz_date (YYYYMMDDTHHMMSSZ) within scope
 * (DATE/REGION/SERVICE/aws4_request). */
void sigv4_signature(const unsigned char key[32], const char *amz_date, const char *scope,
                     const char *canonical_request, char out[65]);
void sigv4_sha256_hex(const void *p, size_t n, char out[65]);
/* Appends n bytes of s percent-encoded as SigV4 encodes a URI's parts: RFC 3986's unreserved
 * characters as they are, '/' too when keep_slash (a path's separators), every other byte as
 * %XX in upper case.  How SDKs put a path and a query's keys and values on the wire, and how the
 * canonical request encodes the path once more. */
void sigv4_uri_encode(buf *b, const char *s, size_t n, int keep_slash);
/* The longest region taken: as the server's --region (a host name's label, and a part of every
 * ARN), far past AWS's longest. */
#define SIGV4_REGION_MAX 50

/* 1 when s names a region as AWS names them (us-east-1): 1 to SIGV4_REGION_MAX lowercase
 * letters, digits and '-', neither first nor last (a host name's label; botocore refuses "-1"
 * and "east-" before it signs).  Any other would be signed into a credential scope that no
 * server of the name matches, or one too long to sign at all; and every ARN carries the region,
 * written into JSON texts as it is. */
int sigv4_region_valid(const char *s);

#endif
