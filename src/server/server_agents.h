/* server_agents — what the server hands the agents it launches (server_agents.c). */
#ifndef BARGE_SERVER_AGENTS_H
#define BARGE_SERVER_AGENTS_H

struct barge_config;

/* The host agents launched here reach the server at: the bound address, with a wildcard made
 * loopback. */
const char *server_agent_host(const struct barge_config *c);
/* --agent-url: "URL[,URL...]", each http:// or https://.  0, or -1 after saying why. */
int server_check_agent_urls(const char *list);
/* The --server value agents launched here are given (caller frees). */
char *server_agent_url(const struct barge_config *c, int tls);
/* Adds an option to those every local agent is started with. */
void server_add_agent_arg(struct barge_config *c, const char *name, const char *value);
/* The options handed to local agents, checked together once all are read (--job-uids against
 * the host's accounts and the containers' ids); -1 after saying why. */
int server_agent_options_check(const struct barge_config *c);
/* An option the server hands to its local agents (which: the table in server_agents.c, in
 * server.c's order), checked and added; -1 after saying why it is refused. */
int server_agent_option(struct barge_config *c, int opt_executor_relative, const char *v);
/* --efs-mounts FILE: checked now (a mistake stops the server rather than every local agent)
 * and handed to the local agents by its absolute path.  0, or -1 after saying what is wrong. */
int server_efs_mounts_option(struct barge_config *c, const char *path);
/* --allow-privileged (allow) or --ignore-privileged: 0, or -1 after saying that only one of
 * them may be given. */
int server_privileged_option(struct barge_config *c, int allow);
/* Says at start what becomes of privileged containers, when they are not refused. */
void server_privileged_say(const struct barge_config *c);
#endif
