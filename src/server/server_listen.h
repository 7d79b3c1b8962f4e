/* server_listen — `barge server --listen HOST:PORT`: read, and its host looked up before the
 * server makes anything, so that an address that can never be listened on (999.1.1.1, a name
 * no resolver knows) leaves no data directory or default queue behind. */
#ifndef BARGE_SERVER_LISTEN_H
#define BARGE_SERVER_LISTEN_H
#include "server/model/config.h"

/* HOST:PORT or [IPV6]:PORT into c (the last given counts).  0, or -1 after a sentence on
 * standard error. */
int server_listen_option(const char *arg, barge_config *c);
/* c's listen host resolves to an address.  0, or -1 after a sentence on standard error. */
int server_listen_resolves(const barge_config *c);
#endif
