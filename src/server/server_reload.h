/* server_reload — what `barge server` does on SIGHUP: --credentials, --policies, --secrets and
 * --provider-commands read again, each put in force whole or not at all (a file with a mistake
 * is logged with its name and line, and the old one stays).  Runs on the main thread, which only
 * waits for signals; the keys are swapped under auth's lock, the secrets and the commands by a
 * call to the core thread. */
#ifndef BARGE_SERVER_RELOAD_H
#define BARGE_SERVER_RELOAD_H
#include "server/model/config.h"

void server_reload(const barge_config *c);
#endif
