/* peer_uid — whose process opened a TCP connection on loopback: the uid owning the client's
 * socket, as the kernel's socket tables say (sock_diag's inet_diag, the table `ss -e` reads).
 * The jobs' metadata endpoint counts connections by it, so that one job (each attempt runs as a
 * uid of its own) cannot take every connection the others need for their role credentials. */
#ifndef BARGE_AGENT_PEER_UID_H
#define BARGE_AGENT_PEER_UID_H
#include <netinet/in.h>
#include <sys/types.h>

/* The owner of the IPv4 TCP socket client (address and port, as accept gave it) connected to
 * 127.0.0.1:server_port in this network namespace: 0 with *uid, or -1 (no such socket, or the
 * kernel has no socket diagnostics). */
int peer_uid_of(const struct sockaddr_in *client, unsigned server_port, uid_t *uid);
#endif
