/* fuzz_request — the HTTP request path up to the core: the route, the JSON body and the check
 * against the operation's request shape, as http_server.c's dispatch runs them.
 *
 * Input: "PATH\nBODY".  PATH is routed as POST, then GET, then DELETE (so every operation of
 * the AWS Batch API and of the agent protocol is reachable); BODY is the request body.  The
 * PATH "/" takes BODY as a query-protocol form (STS's and other services' calls posted to /,
 * http_other.c): its action read, answered in XML, and as JSON a refusal made into XML. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "server/api/api.h"
#include "server/api/jobdef.h"
#include "server/api/schema.h"
#include "server/http_other.h"
#include "server/model/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    log_level = 99; /* quiet: only the sanitizers speak */
    jobdef_init();
    api_init();
    config_defaults(&barge_cfg);
    return 0;
}

/* A form posted to /: only GetCallerIdentity is answered with a 200, every answer is XML. */
static void query_form(const char *body, size_t blen)
{
    int status;
    const char *type;
    const api_op *op = http_other_read_op(body, blen);
    char *x = http_other_query(body, blen, NULL, "req", &status, &type);
    if ((status == 200) != (op != &http_other_query_op) || (status == 200) != !type ||
        strncmp(x, "<?xml ", 6) != 0)
        abort();
    free(x);
    x = http_other_refusal(body, blen, "T", "req");
    /* The message (the JSON's, any text) is escaped: no markup of its own. */
    const char *m = strstr(x, "<Message>"), *end = m ? strstr(m, "</Message>") : NULL;
    if (strncmp(x, "<?xml ", 6) != 0 || !end || memchr(m + 9, '<', (size_t)(end - m - 9)))
        abort();
    free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size);
    if (!nl) return 0;
    size_t plen = (size_t)(nl - (const char *)data);
    char *path = strndup((const char *)data, plen);
    const char *body = nl + 1;
    size_t blen = size - plen - 1;
    if (strcmp(path, "/") == 0) {
        query_form(body, blen);
        free(path);
        return 0;
    }
    const api_op *op = api_route("POST", path);
    if (!op) op = api_route("GET", path);
    if (!op) op = api_route("DELETE", path);
    if (!op) {
        free(path);
        return 0;
    }
    json_error_t e;
    json_t *req = blen ? json_loadb(body, blen, JSON_REJECT_DUPLICATES, &e) : json_object();
    if (req && json_is_object(req)) {
        size_t n = strlen(op->path);
        if (op->path[n - 1] == '*') json_object_set_new(req, "resourceArn", json_string(path + n - 1));
        char err[600];
        if (schema_check(op->compiled, req, err, sizeof err) < 0 && !err[0]) abort();
    }
    json_decref(req);
    free(path);
    return 0;
}
