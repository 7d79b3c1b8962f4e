#include "sigv4.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Copies the value of "Name=" up to the next comma or end into out. */
static int field(const char *h, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    const char *p = h;
    while ((p = strstr(p, name)) != NULL) {
        /* The name must start the header's parameter list or follow a separator. */
        if ((p == h || p[-1] == ' ' || p[-1] == ',') && p[nl] == '=') break;
        p += nl;
    }
    if (!p) return -1;
    p += nl + 1;
    size_t n = strcspn(p, ", ");
    if (n == 0 || n >= outlen) return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

int sigv4_parse(const char *header, sigv4_auth *out, char *err, size_t errlen)
{
    static const char algo[] = "AWS4-HMAC-SHA256 ";
    char cred[512];
    memset(out, 0, sizeof *out);
    if (strncmp(header, algo, sizeof algo - 1) != 0) {
        snprintf(err, errlen, "Authorization header: only AWS4-HMAC-SHA256 signatures are "
                              "accepted");
        return -1;
    }
    const char *params = header + sizeof algo - 1;
    if (field(params, "Credential", cred, sizeof cred) < 0) {
        snprintf(err, errlen, "Authorization header: the Credential parameter is missing");
        return -1;
    }
    if (field(params, "SignedHeaders", out->signed_headers, sizeof out->signed_headers) < 0) {
        snprintf(err, errlen, "Authorization header: the SignedHeaders parameter is missing");
        return -1;
    }
    if (field(params, "Signature", out->signature, sizeof out->signature) < 0) {
        snprintf(err, errlen, "Authorization header: the Signature parameter is missing");
        return -1;
    }
    for (const char *s = out->signature; *s; s++) {
        if (!isxdigit((unsigned char)*s)) {
            snprintf(err, errlen, "Authorization header: the Signature must be hexadecimal");
            return -1;
        }
    }
    /* Credential=AKID/YYYYMMDD/REGION/SERVICE/aws4_request */
    char *parts[5];
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(cred, "/", &save); tok && n < 5; tok = strtok_r(NULL, "/", &save))
        parts[n++] = tok;
    if (n != 5 || strtok_r(NULL, "/", &save) || strcmp(parts[4], "aws4_request") != 0 ||
        strlen(parts[1]) != 8 || strlen(parts[0]) >= sizeof out->access_key ||
        strlen(parts[2]) >= sizeof out->region || strlen(parts[3]) >= sizeof out->service) {
        snprintf(err, errlen, "Authorization header: the Credential must be "
                              "ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request");
        return -1;
    }
    for (const char *s = parts[1]; *s; s++) {
        if (!isdigit((unsigned char)*s)) {
            snprintf(err, errlen, "Authorization header: the Credential's date must be "
                                  "YYYYMMDD");
            return -1;
        }
    }
    strcpy(out->access_key, parts[0]);
    strcpy(out->date, parts[1]);
    strcpy(out->region, parts[2]);
    strcpy(out->service, parts[3]);
    return 0;
}
