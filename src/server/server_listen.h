/* server_listen — `barge server --listen HOST:PORT`: read, and its host looked up and its port
 * tried before the server makes anything, so that an address that cannot be listened on
 * (999.1.1.1, a name no resolver knows, a port another server holds) leaves no data directory
 * or default queue behind. */
#ifndef BARGE_SERVER_LISTEN_H
#define BARGE_SERVER_LISTEN_H
#include "server/model/config.h"

/* HOST:PORT or [IPV6]:PORT into c (the last given counts).  0, or -1 after a sentence on
 * standard error. */
int server_listen_option(const char *arg, barge_config *c);
/* c's listen host resolves to an address, and its port can be bound there now.  0, or after
 * a sentence on standard error the exit code: 2 for a host that cannot resolve, 1 for a port
 * that cannot be bound (in use, or not this process's to bind). */
int server_listen_check(const barge_config *c);
#endif
