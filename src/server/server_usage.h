/* server_usage — the text of `barge server --help`, kept apart from the option parsing in
 * server.c so that each reads whole. */
#ifndef BARGE_SERVER_USAGE_H
#define BARGE_SERVER_USAGE_H
#include <stdio.h>

void server_usage(FILE *out);
#endif
