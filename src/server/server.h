/* server — the `barge server` command. */
#ifndef BARGE_SERVER_H
#define BARGE_SERVER_H
int server_main(int argc, char **argv);
#endif
