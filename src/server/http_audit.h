/* http_audit — the audit trail's record of an API call (audit.h keeps the trail), made from
 * the request's connection and its answer: who called (the key that signed, the principal),
 * from where, what was asked (the request's naming members) and what came of it. */
#ifndef BARGE_HTTP_AUDIT_H
#define BARGE_HTTP_AUDIT_H
#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stddef.h>

#include "server/api/api.h"
#include "server/api/auth.h"

/* Whether a call of op goes in the trail: those that change something (not Describe*, List*,
 * Get*, agents' calls, health checks or scrapes). */
int http_audit_wanted(const api_op *op);

typedef struct http_audit_args {
    struct MHD_Connection *conn;
    const api_op *op;
    const auth_principal *who; /* NULL without --credentials */
    json_t *params;            /* the request's naming members (audit_params) */
    int status;
    const char *err_type;
    const char *resp;          /* the answer's text */
    size_t resp_len;
    json_t *resp_tree;         /* the answer as JSON when the core kept it, else NULL */
    const char *request_id;
} http_audit_args;
void http_audit_call(const http_audit_args *a);

/* The client's address as text, or "" when unknown. */
void http_client_ip(struct MHD_Connection *conn, char ip[INET6_ADDRSTRLEN]);
#endif
