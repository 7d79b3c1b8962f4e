/* fuzz_logs — the log requests, whole: CloudWatch Logs reads (GetLogEvents, FilterLogEvents with
 * its patterns and tokens, DescribeLogStreams, DescribeLogGroups), its writes (CreateLogGroup,
 * DeleteLogStream, DeleteLogGroup: what is deleted is made again by the next upload; the
 * retention, which starts a pass over the streams, and tags) and the
 * agent's log upload, through api_logs_serve against a log store in a fresh directory holding a
 * few streams.
 *
 * Every input is also a job's output line for util_utf8_repair, whose result must be UTF-8.
 *
 * Input: "NAME\nBODY".  NAME is a CloudWatch Logs operation (sent as X-Amz-Target
 * Logs_20140328.NAME), or AGENT for the agent's upload; BODY is the request body. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/log.h"
#include "common/util.h"
#include "server/api/api_logs.h"
#include "server/base/agent_ident.h"
#include "server/base/logstore.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static logstore *ls;
/* The upload is the agent's: it carries the credential of an instance whose running attempts
 * write to jd/default/a and jd/default/b (other/x and new streams are refused as no attempt's). */
static char agent_auth[AGENT_IDENT_CRED_MAX + 16];
static char dir[] = "/tmp/barge-fuzz-logs-XXXXXX";

/* The store's directory goes when the fuzzer ends normally (a crash leaves it, with the input). */
static void remove_store(void)
{
    static const char *const files[] = {"logs.db", "logs.db-wal", "logs.db-shm"};
    char path[sizeof dir + 16];
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    log_level = 99;
    char *err = NULL;
    if (!mkdtemp(dir)) {
        fprintf(stderr, "fuzz_logs: mkdtemp failed\n");
        exit(1);
    }
    atexit(remove_store);
    if (!(ls = logstore_open(dir, &err))) {
        fprintf(stderr, "fuzz_logs: %s\n", err);
        exit(1);
    }
    /* A few streams in two groups, so that reads find events, pages and tokens. */
    static const char *const streams[] = {"jd/default/a", "jd/default/b", "other/x"};
    for (int s = 0; s < 3; s++) {
        logstore_event ev[40];
        char msg[40][32];
        for (int i = 0; i < 40; i++) {
            snprintf(msg[i], sizeof msg[i], "line %d of %s %s", i, streams[s], i % 3 ? "ok" : "ERROR");
            ev[i] = (logstore_event){.timestamp = 1700000000000 + i * 7 + s, .message = msg[i],
                                     .len = strlen(msg[i])};
        }
        logstore_wait(ls, logstore_append(ls, s == 2 ? "/custom/group" : LOGSTORE_BATCH_GROUP,
                                             streams[s], ev, 40));
    }
    api_logs_init(ls);
    char cred[AGENT_IDENT_CRED_MAX + 1];
    agent_ident_issue("i-fuzz", 0, cred);
    snprintf(agent_auth, sizeof agent_auth, "Bearer %s", cred);
    agent_ident_stream_open("i-fuzz", "jd/default/a");
    agent_ident_stream_open("i-fuzz", "jd/default/b");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* What an agent makes of a job's output, whatever its bytes: text jansson takes whole. */
    size_t repaired_len;
    char *repaired = util_utf8_repair((const char *)data, size, &repaired_len);
    json_t *line = json_stringn(repaired, repaired_len);
    if (!line) abort();
    json_decref(line);
    free(repaired);

    const char *nl = memchr(data, '\n', size);
    if (!nl) return 0;
    size_t nlen = (size_t)(nl - (const char *)data);
    if (nlen > 64) return 0;
    char target[96];
    snprintf(target, sizeof target, "Logs_20140328.%.*s", (int)nlen, (const char *)data);
    int agent = strcmp(target, "Logs_20140328.AGENT") == 0;
    const api_op *op = agent ? api_logs_route("POST", "/barge/v1/agent/logs", NULL)
                             : api_logs_route("POST", "/", target);
    if (!op) return 0;
    api_logs_answer a;
    api_logs_serve(op, agent ? NULL : target, agent ? agent_auth : NULL, nl + 1, size - nlen - 1,
                   &a);
    if (!a.body || a.len != strlen(a.body) || (a.status != 200 && !a.err_type)) abort();
    free(a.body);
    return 0;
}
