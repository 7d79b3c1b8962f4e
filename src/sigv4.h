/* sigv4 — the AWS Signature Version 4 Authorization header.
 *
 * barge parses the header on every request so that malformed credentials are refused the way AWS
 * refuses them.  Checking the signature against configured keys is not implemented yet: the
 * server accepts any well-formed header, and says so at start-up unless --dev is given. */
#ifndef BARGE_SIGV4_H
#define BARGE_SIGV4_H
#include <stddef.h>

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
#endif
