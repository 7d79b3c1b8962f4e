#include "server/http_scrape.h"

#include <openssl/crypto.h>
#include <string.h>
#include <strings.h>

#include "server/model/config.h"

const char *http_scrape_refused(struct MHD_Connection *conn)
{
    const char *t = barge_cfg.metrics_token,
               *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (!t) return NULL;
    /* The scheme's name is case-insensitive and may be followed by several spaces (RFC 9110
     * 11.4): "bearer TOKEN" is the same credential. */
    const char *given = h && strncasecmp(h, "Bearer ", 7) == 0 ? h + 7 : NULL;
    while (given && *given == ' ') given++;
    /* White space after a field's value is not part of it (RFC 9110 5.5). */
    size_t n = given ? strlen(given) : 0;
    while (n && (given[n - 1] == ' ' || given[n - 1] == '\t')) n--;
    if (given && n == strlen(t) && CRYPTO_memcmp(given, t, n) == 0) return NULL;
    return given ? "Bearer error=\"invalid_token\"" : "Bearer";
}
