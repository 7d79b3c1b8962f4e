#include "agent/agent_exchange.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "agent/agent_assign.h"
#include "agent/agent_creds.h"
#include "agent/agent_logs.h"
#include "agent/agent_reports.h"
#include "agent/agent_state.h"

/* ---- Assignments -------------------------------------------------------------------------- */

static void take_assignment(agent *ag, json_t *a, unsigned gen)
{
    const char *job;
    int attempt;
    if (agent_assign_ids(a, &job, &attempt) < 0) {
        log_warn("ignoring an assignment without a jobId and an attempt number");
        return;
    }
    int held_rc = agent_reports_hold(ag, job, attempt, gen);
    if (held_rc == 0)
        log_info("attempt %d of job %s is held already; ignoring its assignment", attempt, job);
    if (held_rc != 1) return;
    /* Room for PATH and HOME, and for the variables of a role's credentials. */
    size_t ne;
    const char *failure;
    exec_spec *s = agent_assign_read(a, ag->creds != NULL, 2 + AGENT_CREDS_ENV_MAX, &ne,
                                     &failure);
    if (failure) {
        agent_reports_queue(ag, json_pack("{s:s, s:i, s:s, s:I, s:s}", "jobId", job, "attempt",
                                          attempt, "event", "FAILED_TO_START", "at",
                                          (json_int_t)util_now_ms(), "reason", failure), s);
        exec_spec_free(s);
        return;
    }
    if (ag->backend == &exec_process_backend) {
        /* Jobs expect a usable PATH and HOME, as a container image provides them. */
        const char *path = getenv("PATH"), *home = getenv("HOME");
        if (!agent_assign_env_has(s->envp, ne, "PATH"))
            s->envp[ne++] = xasprintf("PATH=%s", path ? path : "/usr/local/bin:/usr/bin:/bin");
        /* A job that runs as another user gets that user's home, when it has one. */
        struct stat st;
        if (ag->job_uid >= 0)
            home = *ag->job_home && stat(ag->job_home, &st) == 0 && S_ISDIR(st.st_mode)
                       ? ag->job_home : "/tmp";
        /* A uid of its own has no account: its home is its directory (exec_process.c). */
        if (!ag->uids && !agent_assign_env_has(s->envp, ne, "HOME"))
            s->envp[ne++] = xasprintf("HOME=%s", home ? home : "/");
    }
    s->max_pids = ag->max_pids;
    /* Every attempt's task metadata, and a role's credentials (agent_assign_read failed an
     * attempt with a role when there is no endpoint to serve them). */
    if (ag->creds) {
        const char *role = json_string_value(json_object_get(a, "jobRoleArn"));
        const char *bundle = agent_creds_add(ag->creds, s->job_id, s->attempt, role, s->envp, &ne);
        s->ca_bundle = bundle ? xstrdup(bundle) : NULL;
    }
    log_debug("assigned attempt %d of job %s", s->attempt, s->job_id);
    executor_submit(ag->ex, s);
}

void agent_exchange_answer(agent *ag, json_t *answer, unsigned gen)
{
    /* The next credential, now and then (even to a stopping agent, which still reports). */
    if (ag->registered && ag->gen == gen) agent_take_credential(ag, answer);
    if (ag->stopping || !ag->registered || ag->gen != gen) return;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(answer, "assign"), i, v) take_assignment(ag, v, gen);
    json_array_foreach(json_object_get(answer, "kill"), i, v)
    {
        const char *job;
        int attempt;
        if (agent_assign_ids(v, &job, &attempt) < 0) continue;
        const char *reason = json_string_value(json_object_get(v, "reason"));
        log_info("the server asks to stop attempt %d of job %s%s%s", attempt, job,
                 reason ? ": " : "", reason ? reason : "");
        executor_kill(ag->ex, job, attempt, EXEC_STOP_KILLED,
                      reason ? reason : "stopped at the server's request");
    }
    if (json_is_true(json_object_get(answer, "shutdown"))) {
        const char *why = json_string_value(json_object_get(answer, "shutdownReason"));
        char text[300];
        snprintf(text, sizeof text, "the server asked this instance to shut down%s%.240s",
                 why ? ": " : "", why ? why : "");
        agent_request_stop(ag, 0, text);
    }
}

/* ---- Registration and the poller ---------------------------------------------------------- */

static json_t *register_body(agent *ag)
{
    json_t *b = json_pack("{s:s, s:i, s:I, s:i, s:s, s:s, s:s, s:s}", "computeEnvironment",
                          ag->ce, "vcpus", ag->vcpus, "memoryMiB", (json_int_t)ag->memory_mib,
                          "gpus", ag->gpus, "hostname", ag->hostname, "executor",
                          ag->backend->name, "cgroups",
                          cgroup_mode_name(cgroup_host_mode(ag->cg)), "cgroupsNote",
                          cgroup_host_note(ag->cg));
    pthread_mutex_lock(&ag->mu);
    if (ag->iid) json_object_set_new(b, "instanceId", json_string(ag->iid));
    json_object_set_new(b, "clientToken", json_string(ag->client_token));
    pthread_mutex_unlock(&ag->mu);
    if (ag->instance_type) json_object_set_new(b, "instanceType", json_string(ag->instance_type));
    return b;
}

/* Registers, retrying while the server cannot be reached.  0, or -1 when the agent must stop. */
/* A random clientToken for a new registration: its retries carry the same one. */
static void new_client_token(agent *ag)
{
    unsigned char rnd[32];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        /* Unique enough to tell this registration from another agent's. */
        char uuid[37];
        util_uuid(uuid);
        pthread_mutex_lock(&ag->mu);
        snprintf(ag->client_token, sizeof ag->client_token, "%s", uuid);
        pthread_mutex_unlock(&ag->mu);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    pthread_mutex_lock(&ag->mu);
    for (size_t i = 0; i < sizeof rnd; i++) {
        ag->client_token[2 * i] = hex[rnd[i] >> 4];
        ag->client_token[2 * i + 1] = hex[rnd[i] & 15];
    }
    ag->client_token[2 * sizeof rnd] = '\0';
    pthread_mutex_unlock(&ag->mu);
}

/* A period the server gives, in seconds: def when it gives none or one below 1, and at most
 * AGENT_PERIOD_MAX_SECONDS, so that the deadlines made of it stay far from overflowing. */
static int period(json_t *answer, const char *name, int def)
{
    json_t *v = json_object_get(answer, name);
    json_int_t s = json_is_integer(v) ? json_integer_value(v) : def;
    return s < 1 ? def : s > AGENT_PERIOD_MAX_SECONDS ? AGENT_PERIOD_MAX_SECONDS : (int)s;
}

int agent_exchange_registered(agent *ag, json_t *answer)
{
    const char *iid = json_string_value(json_object_get(answer, "instanceId"));
    const char *cred = json_string_value(json_object_get(answer, "credential"));
    if (!iid || !*iid || !cred || !*cred) return -1;
    agent_take_credential(ag, answer);
    pthread_mutex_lock(&ag->mu);
    free(ag->iid);
    ag->iid = xstrdup(iid);
    ag->poll_s = period(answer, "pollSeconds", 20);
    ag->heartbeat_s = period(answer, "heartbeatSeconds", 5);
    agent_reports_release_all(ag);
    ag->gen++;
    ag->registered = 1;
    ag->lost = 0;
    ag->lost_logs_done = 0;
    ag->last_exchange = util_mono_ms();
    pthread_cond_broadcast(&ag->cond);
    pthread_mutex_unlock(&ag->mu);
    return 0;
}

static int do_register(agent *ag, agent_conn *h)
{
    int64_t backoff = 250, last_note = 0;
    int failures = 0;
    new_client_token(ag);
    for (;;) {
        if (ag->stopping) return -1;
        json_t *answer;
        char err[512];
        long status = agent_conn_post(h, "/barge/v1/agent/register", register_body(ag), 15,
                                      &answer, err, sizeof err);
        const char *iid = json_string_value(json_object_get(answer, "instanceId"));
        const char *type = json_string_value(json_object_get(answer, "__type"));
        if (status == 200 && agent_exchange_registered(ag, answer) == 0) {
            log_info("registered with %s as instance %s of compute environment %s",
                     agent_servers_current(&ag->servers), iid, ag->ce);
            json_decref(answer);
            return 0;
        }
        int in_use = status == 409 && type && strcmp(type, "InstanceInUseException") == 0;
        /* barge answers every error as JSON: an answer that is not came from something else at
         * that address (another web server, a proxy with nothing behind it). */
        int not_barge = status >= 300 && !json_is_object(answer);
        json_decref(answer);
        if (status >= 400 && status < 500 && status != 429 && !in_use) {
            /* The server understood and refused (unknown compute environment, bad token):
             * retrying would not change its mind. */
            char *why = xasprintf("the server at %s refused to register this instance: %s%s",
                                  agent_servers_current(&ag->servers), err,
                                  not_barge ? " (the answer is not a barge server's: is --server "
                                              "the address of `barge server`?)" : "");
            log_error("%s", why);
            agent_request_stop(ag, 1, why);
            free(why);
            return -1;
        }
        if (status == 200) snprintf(err, sizeof err, "the answer has no instanceId or credential");
        /* The id is still registered to an agent the server believes alive (this one, before
         * it restarted): the server lets it go after lostAfterSeconds without an exchange. */
        if (in_use) snprintf(err, sizeof err, "instance %s is still registered; waiting until "
                                              "the server lets it go", ag->iid ? ag->iid : "");
        if (status != AGENT_CONN_ABORTED &&
            (failures++ == 0 || util_mono_ms() - last_note >= 30000)) {
            log_warn("cannot register with the barge server at %s (%s%s); retrying until it "
                     "answers", agent_servers_current(&ag->servers), err,
                     not_barge ? "; the answer is not a barge server's: is --server the "
                                 "address of `barge server`?" : "");
            last_note = util_mono_ms();
        }
        if (agent_nap(ag, backoff, &ag->stopping)) return -1;
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
    }
}

/* How long a lost agent waits for its lines to be shipped before it registers again. */
#define LOST_LINES_WAIT_MS 30000

void *agent_exchange_poller(void *arg)
{
    agent *ag = arg;
    agent_conn *h = &ag->poll_conn;
    int64_t backoff = 250, last_note = 0;
    while (!ag->stopping) {
        if (!ag->registered) {
            if (ag->lost) {
                /* A new registration means a fresh instance: nothing of the old one runs on. */
                while (!ag->stopping && executor_active(ag->ex) > 0) {
                    executor_kill_all(ag->ex, EXEC_STOP_SHUTDOWN,
                                      "the server no longer knew this instance");
                    executor_wait_idle(ag->ex, 500);
                }
                /* Their lines first, with this instance's credential (the sender ships them
                 * while it is lost): registered again, the agent is another instance, which
                 * may not write to the old one's streams.  At most LOST_LINES_WAIT_MS. */
                pthread_mutex_lock(&ag->mu);
                int64_t until = util_mono_ms() + LOST_LINES_WAIT_MS;
                pthread_cond_broadcast(&ag->cond);
                while (!ag->stopping && ag->nlogs > 0 && !ag->lost_logs_done &&
                       util_mono_ms() < until)
                    agent_wait_until(ag, until);
                pthread_mutex_unlock(&ag->mu);
            }
            if (do_register(ag, h) < 0) break;
            continue;
        }
        pthread_mutex_lock(&ag->mu);
        h->gen = ag->gen;
        json_t *body = json_pack("{s:s, s:b, s:[], s:o}", "instanceId", ag->iid, "wait", 1,
                                 "reports", "holding", agent_reports_holding(ag, h->gen));
        long timeout = ag->poll_s + 15;
        pthread_mutex_unlock(&ag->mu);
        json_t *answer;
        char err[512];
        h->watch_gen = 1;
        long status = agent_conn_post(h, "/barge/v1/agent/exchange", body, timeout, &answer,
                                      err, sizeof err);
        h->watch_gen = 0;
        if (status == 200) {
            backoff = 250;
            agent_exchange_answer(ag, answer, h->gen);
        } else if (agent_conn_unknown_instance(status, answer)) {
            agent_registration_lost(ag, h->gen);
        } else if (status != AGENT_CONN_ABORTED) {
            if (util_mono_ms() - last_note >= 30000) {
                log_warn("waiting for work from %s failed (%s); retrying", agent_servers_current(&ag->servers), err);
                last_note = util_mono_ms();
            }
            agent_nap(ag, backoff, &ag->stopping);
            backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
        }
        json_decref(answer);
    }
    return NULL;
}

/* ---- The sender --------------------------------------------------------------------------- */

/* Waits until there is something to send; returns 0 when the sender should quit.  mu held. */
static int sender_wait(agent *ag, int *logs_due, int *hb_due)
{
    for (;;) {
        if (ag->sender_quit) return 0;
        int final = ag->final_flush;
        if (!ag->registered) {
            /* Lost: what its attempts printed still goes, with the lost instance's credential,
             * to their streams (docs/agent-protocol.md), before it registers again or exits. */
            if (ag->lost && ag->nlogs > 0 && !ag->lost_logs_done) {
                *logs_due = 1;
                *hb_due = 0;
                return 1;
            }
            if (final) return 0; /* nowhere to deliver to any more */
            pthread_cond_wait(&ag->cond, &ag->mu);
            continue;
        }
        int64_t now = util_mono_ms(), wake = ag->last_exchange + (int64_t)ag->heartbeat_s * 1000;
        *logs_due = agent_logs_due(ag, now, final || ag->rhead != NULL);
        /* A stopping agent tells the server once, with reports or without (an idle one has
         * none), so that nothing more is placed on it. */
        *hb_due = final ? !ag->stop_told : now >= wake;
        /* Reports wait while output goes to the spool (agent_orphan.h): a report must not
         * overtake its job's lines, which are there, not in the queue. */
        int reports = ag->rhead && (!atomic_load(&ag->orphaned) || final);
        if (reports || *logs_due || *hb_due) return 1;
        if (final) return 0; /* everything is delivered */
        int64_t flush_at = agent_logs_flush_at(ag);
        if (flush_at && flush_at < wake) wake = flush_at;
        agent_wait_until(ag, wake);
    }
}

void *agent_exchange_sender(void *arg)
{
    agent *ag = arg;
    agent_conn *h = &ag->send_conn;
    int64_t backoff = 250;
    pthread_mutex_lock(&ag->mu);
    for (;;) {
        int logs_due = 0, hb_due = 0;
        if (!sender_wait(ag, &logs_due, &hb_due)) break;
        /* Take the reports first, then ship every line queued before them. */
        unsigned gen = ag->gen;
        char *iid = xstrdup(ag->iid);
        agent_report *stale = NULL, *mine = NULL;
        int lost_lines = !ag->registered; /* the lines of a lost instance, alone */
        if ((!atomic_load(&ag->orphaned) || ag->final_flush) && !lost_lines)
            mine = agent_reports_take(ag, gen, &stale);
        size_t lines = mine || logs_due ? ag->nlogs : 0;
        pthread_mutex_unlock(&ag->mu);
        /* Reports of an earlier registration mean nothing to the server. */
        agent_reports_free(stale);
        h->gen = gen;
        int ok = 1;
        while (ok == 1 && lines > 0) {
            size_t sent;
            ok = agent_logs_ship(ag, h, iid, &sent);
            lines = lines > sent ? lines - sent : 0;
            if (ok == 1 && sent == 0) break;
        }
        if (lost_lines) {
            /* Refused (the server keeps a lost instance's streams open only for a while, and
             * not across a restart) or out of reach: the rest waits for the next registration,
             * or is kept at exit (agent_orphan_keep). */
            pthread_mutex_lock(&ag->mu);
            if (ok != 1) ag->lost_logs_done = 1;
            pthread_cond_broadcast(&ag->cond);
            free(iid);
            continue;
        }
        /* The server answers but cannot store lines (its log store cannot write).  The instance
         * must not fall silent for that: heartbeats and the reports that wait for no line go
         * on.  An end report still waits for its attempt's lines, so that a job is seen
         * finished with its log complete; the attempt stays held meanwhile, so the server
         * keeps it running.  A stopping agent sends every report: the lines it cannot ship go
         * with it anyway, and the reports must not. */
        int logs_stuck = ok == 0 && ag->logs_refused;
        agent_report *behind = NULL;
        if (logs_stuck) {
            if (!ag->final_flush) {
                pthread_mutex_lock(&ag->mu);
                behind = agent_reports_behind_lines(ag, &mine);
                pthread_mutex_unlock(&ag->mu);
            }
            ok = 1;
        }
        if (ok == 1 && (mine || hb_due)) {
            json_t *list = agent_reports_bodies(mine);
            /* What the instance holds, as of now: an assignment taken while logs were shipped
             * is in it. */
            pthread_mutex_lock(&ag->mu);
            json_t *held_now = agent_reports_holding_without(ag, mine, gen);
            int stopping = ag->stopping;
            pthread_mutex_unlock(&ag->mu);
            json_t *answer;
            char err[512];
            /* A stopping agent says so: the server places nothing more here. */
            long status = agent_conn_post(h, "/barge/v1/agent/exchange",
                                          json_pack("{s:s, s:b, s:o, s:o, s:b}", "instanceId",
                                                    iid, "wait", 0, "reports", list, "holding",
                                                    held_now, "stopping", stopping),
                                          30, &answer, err, sizeof err);
            if (status == 200) {
                agent_reports_delivered(ag, mine);
                mine = NULL;
                pthread_mutex_lock(&ag->mu);
                ag->last_exchange = util_mono_ms();
                if (stopping) ag->stop_told = 1;
                pthread_mutex_unlock(&ag->mu);
                agent_exchange_answer(ag, answer, gen);
            } else if (agent_conn_unknown_instance(status, answer)) {
                agent_registration_lost(ag, gen);
                ok = -1;
            } else if (status >= 400 && status < 500 && status != 429) {
                log_warn("the server refused a batch of reports (%s); they are dropped", err);
                agent_reports_delivered(ag, mine);
                mine = NULL;
            } else {
                static int64_t last_note;
                if (status != AGENT_CONN_ABORTED && util_mono_ms() - last_note >= 30000) {
                    log_warn("cannot send reports to %s (%s); retrying", agent_servers_current(&ag->servers), err);
                    last_note = util_mono_ms();
                }
                ok = 0;
            }
            json_decref(answer);
        }
        /* Back at the head of the queue, before what was queued meanwhile. */
        agent_reports_requeue(ag, behind);
        agent_reports_requeue(ag, mine);
        free(iid);
        if (ok == 0 || (ok == 1 && logs_stuck)) {
            /* A stopping agent does not wait long for a server that is gone; one that answers
             * still gets the reports queued since (the attempts it stopped), lines or not. */
            if (ag->final_flush) {
                pthread_mutex_lock(&ag->mu);
                if (ok == 1 && ag->rhead) continue;
                break;
            }
            /* Lines that cannot be stored hold no heartbeat back: the nap ends when one is due. */
            int64_t nap = backoff;
            if (logs_stuck && ok == 1) {
                pthread_mutex_lock(&ag->mu);
                int64_t due = ag->last_exchange + (int64_t)ag->heartbeat_s * 1000 - util_mono_ms();
                pthread_mutex_unlock(&ag->mu);
                if (due < nap) nap = due > 50 ? due : 50;
            }
            agent_nap(ag, nap, &ag->sender_quit);
            backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
        } else
            backoff = 250;
        pthread_mutex_lock(&ag->mu);
    }
    ag->sender_done = 1;
    pthread_cond_broadcast(&ag->cond);
    pthread_mutex_unlock(&ag->mu);
    return NULL;
}
