/* server_alive — when the server was last known to run, for the start after a crash.
 *
 * A clean stop records its time in the store; a crash records nothing, and an instance whose
 * agent never came back after it had its attempts charged until the restarted server gave up on
 * it: the downtime too, days for a server that crashed on a Friday.  So the server touches
 * DATA_DIR/alive every few seconds (its modification time, no write, no fsync), and at the next
 * start that time says when the server was last alive, within those few seconds. */
#ifndef BARGE_SERVER_ALIVE_H
#define BARGE_SERVER_ALIVE_H
#include <stdint.h>

/* Reads when the server in data_dir last touched the file (epoch ms; 0 for never, or when it
 * cannot be read) and keeps the path for server_alive_touch. */
int64_t server_alive_open(const char *data_dir);
/* Touches the file at most every SERVER_ALIVE_EVERY_MS (called every tick); creates it when it
 * is missing.  Said once in the log when it fails. */
void server_alive_touch(void);
#define SERVER_ALIVE_EVERY_MS 5000
#endif
