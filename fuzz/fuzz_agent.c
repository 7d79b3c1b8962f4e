/* fuzz_agent — the server's answers as `barge agent` takes them, without a server and without
 * running anything: registrations (agent_exchange_registered), exchanges with their
 * assignments, kill orders, shutdowns and next credentials (agent_exchange_answer, which holds
 * attempts, reads assignments with agent_assign.c, fails them with reports, adds a role's
 * credentials through the real credential endpoint and hands the rest to an executor whose loop
 * never runs), and the spool of undelivered log lines the agent reads back after the server was
 * away (agent_logs_unspool).  After each input, the next exchange's body (its reports and the
 * attempts held) is built and must serialise, and everything is let go.
 *
 * Input: lines, each "register JSON", "exchange JSON" (an answer of the current registration)
 * or "stale JSON" (one of the registration before); or "spool" alone on a line, after which the
 * rest of the input is the spool file's text; or "procfs" alone on a line, after which the rest
 * is a /proc/PID/stat, /proc/stat or memory.stat text for task_stats' readers. */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "agent/agent_assign.h"
#include "agent/agent_creds.h"
#include "agent/agent_exchange.h"
#include "agent/agent_logs.h"
#include "agent/agent_reports.h"
#include "agent/agent_state.h"
#include "agent/task_stats.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static agent ag;
static char dir[] = "/tmp/barge-fuzz-agent-XXXXXX";

static void remove_dir(void)
{
    util_remove_tree(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    log_level = 99;
    if (!mkdtemp(dir)) {
        fprintf(stderr, "fuzz_agent: mkdtemp failed\n");
        exit(1);
    }
    atexit(remove_dir);
    /* A shutdown order signals the main thread (agent_request_stop): kept pending here. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    char err[256];
    if (agent_servers_parse(&ag.servers, "http://127.0.0.1:9", err, sizeof err) < 0) abort();
    ag.ce = "fuzz";
    ag.work_dir = dir;
    ag.backend = &exec_process_backend;
    ag.job_uid = ag.job_gid = -1;
    ag.max_pids = AGENT_MAX_PIDS;
    ag.main_thread = pthread_self();
    pthread_mutex_init(&ag.mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ag.cond, &ca);
    dict_init(&ag.held);
    /* The real endpoint, on loopback: a role's assignment registers its attempt there. */
    ag.creds = agent_creds_start(&ag, err, sizeof err);
    if (!ag.creds) {
        fprintf(stderr, "fuzz_agent: %s\n", err);
        exit(1);
    }
    return 0;
}

/* The attempts an answer may have given a role's credentials: the endpoint forgets them, as
 * their ends would make it. */
static void drop_creds(json_t *answer)
{
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(answer, "assign"), i, a) {
        const char *job;
        int attempt;
        if (agent_assign_ids(a, &job, &attempt) == 0) agent_creds_drop(ag.creds, job, attempt);
    }
}

/* What the next exchange would carry: every report queued and the attempts still held. */
static void next_exchange(void)
{
    pthread_mutex_lock(&ag.mu);
    agent_report *stale, *mine = agent_reports_take(&ag, ag.gen, &stale);
    json_t *held = agent_reports_holding_without(&ag, mine, ag.gen);
    pthread_mutex_unlock(&ag.mu);
    json_t *body = json_pack("{s:s?, s:o, s:o}", "instanceId", ag.iid, "reports",
                             agent_reports_bodies(mine), "holding", held);
    char *text = json_dumps(body, JSON_COMPACT);
    if (!text) abort(); /* every string in it must be UTF-8 */
    free(text);
    json_decref(body);
    agent_reports_free(stale);
    agent_reports_delivered(&ag, mine);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    exec_options eo = {.backend = &exec_process_backend, .work_dir = dir, .ctx = &ag,
                       .job_uid = -1, .job_gid = -1};
    ag.ex = executor_new(&eo);
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        size_t len = (size_t)(eol - p);
        if (len == 5 && memcmp(p, "spool", 5) == 0) {
            /* The agent's own spool, as a crash or an absent server left it. */
            const char *text = nl ? nl + 1 : end;
            pthread_mutex_lock(&ag.mu);
            ag.spool = agent_open_kept(&ag, "logs.jsonl");
            if (ag.spool) fwrite(text, 1, (size_t)(end - text), ag.spool);
            pthread_mutex_unlock(&ag.mu);
            int left;
            agent_logs_unspool(&ag, &left);
            break;
        }
        if (len == 6 && memcmp(p, "procfs", 6) == 0) {
            /* What a job's statistics read from files its processes can shape (their names). */
            char *text = xstrndup(nl ? nl + 1 : end, (size_t)(end - (nl ? nl + 1 : end)));
            uint64_t ticks[4];
            long threads;
            task_stats_parse_proc(text, ticks, &threads);
            task_stats_parse_system(text);
            json_decref(task_stats_parse_keyed(text));
            free(text);
            break;
        }
        const char *sp = memchr(p, ' ', len);
        json_t *answer = sp ? json_loadb(sp + 1, (size_t)(eol - sp - 1), 0, NULL) : NULL;
        size_t kind = sp ? (size_t)(sp - p) : 0;
        if (answer && kind == 8 && memcmp(p, "register", 8) == 0) {
            agent_exchange_registered(&ag, answer);
        } else if (answer && kind == 8 && memcmp(p, "exchange", 8) == 0) {
            agent_exchange_answer(&ag, answer, ag.gen);
            drop_creds(answer);
        } else if (answer && kind == 5 && memcmp(p, "stale", 5) == 0) {
            agent_exchange_answer(&ag, answer, ag.gen - 1);
            drop_creds(answer);
        }
        json_decref(answer);
        p = eol + 1;
    }
    next_exchange();
    /* Everything goes: the executor with what it was handed, the held attempts, the queues. */
    executor_free(ag.ex);
    ag.ex = NULL;
    agent_reports_clear(&ag);
    dict_init(&ag.held);
    agent_logs_clear(&ag);
    free(ag.iid);
    ag.iid = NULL;
    free(ag.cred);
    ag.cred = NULL;
    free(ag.stop_why);
    ag.stop_why = NULL;
    ag.stopping = ag.registered = ag.lost = 0;
    return 0;
}
