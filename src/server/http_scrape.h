/* http_scrape — whether a scrape of /metrics may be answered: always without --metrics-token,
 * else when it carries "Authorization: Bearer TOKEN" with that token (compared in constant
 * time). */
#ifndef BARGE_HTTP_SCRAPE_H
#define BARGE_HTTP_SCRAPE_H
#include <microhttpd.h>

/* NULL when the scrape may be answered; else the 401's WWW-Authenticate challenge (RFC 6750:
 * a token that was sent and is wrong is said to be invalid). */
const char *http_scrape_refused(struct MHD_Connection *conn);
#endif
