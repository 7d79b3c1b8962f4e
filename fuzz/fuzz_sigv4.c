/* fuzz_sigv4 — the SigV4 Authorization header parser (sigv4_parse), and the signer fed with
 * hostile request parts (sigv4_sign), as a verifying server would call it with what a client
 * sent.
 *
 * Input: the whole input is parsed as a header; split at NUL bytes, it is also read as METHOD,
 * PATH, QUERY, a header NAME and VALUE and a BODY for the signer. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    sigv4_auth auth;
    char err[256];
    err[0] = '\0';
    if (sigv4_parse(s, &auth, err, sizeof err) < 0) {
        if (!err[0]) abort(); /* every refusal says why */
    } else if (!memchr(auth.access_key, '\0', sizeof auth.access_key) ||
               !memchr(auth.signature, '\0', sizeof auth.signature) ||
               !memchr(auth.signed_headers, '\0', sizeof auth.signed_headers)) {
        abort();
    }

    /* The parts, NUL-separated; what is missing is empty. */
    const char *part[6];
    size_t off = 0;
    for (int i = 0; i < 6; i++) {
        part[i] = off <= size ? s + off : "";
        if (off <= size) off += strlen(s + off) + 1;
    }
    /* Header names come from the signer's caller (the CLI names its own), never from the wire:
     * only names made of HTTP's token characters are given. */
    int name_ok = part[3][0] != '\0';
    for (const char *c = part[3]; *c; c++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", *c))
            name_ok = 0;
    sigv4_header h[2] = {{"Host", "127.0.0.1:8000"}, {part[3], part[4]}};
    sigv4_request req = {.method = part[0], .path = part[1], .query = part[2], .headers = h,
                         .nheaders = name_ok ? 2 : 1, .body = part[5],
                         .body_len = strlen(part[5])};
    sigv4_credentials cred = {.access_key = "AKID", .secret_key = "secret",
                              .session_token = part[4], .region = "us-east-1",
                              .service = "batch"};
    sigv4_signed out;
    if (sigv4_sign(&req, &cred, 1700000000, &out, err, sizeof err) == 0) {
        sigv4_auth back;
        /* What the signer writes, the parser reads. */
        if (sigv4_parse(out.authorization, &back, err, sizeof err) < 0) {
            fprintf(stderr, "signed %s\nrefused: %s\n", out.authorization, err);
            abort();
        }
        sigv4_signed_free(&out);
    }
    free(s);
    return 0;
}
