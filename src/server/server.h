/* server — the `barge server` command. */
#ifndef BARGE_SERVER_H
#define BARGE_SERVER_H
#include "server/base/core.h"

struct state;

int server_main(int argc, char **argv);
/* What the core runs for the server on st: the work before each commit, the reload after a
 * failed one, and the tick (every tick_ms).  fuzz/fuzz_api.c runs the API through the same. */
core_hooks server_core_hooks(struct state *st);
#endif
