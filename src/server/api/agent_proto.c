/* agent_proto — the agent protocol's server side (docs/agent-protocol.md): registration, and
 * the exchange that carries an agent's reports and the list of attempts it holds one way and
 * assignments and kill orders the other, as a long poll.
 *
 * Reports become attempt events (engine/attempt.h); the held list is reconciled against what
 * this server expects on the instance.  Handlers run on the core thread like every API
 * handler. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"
#include "server/base/agent_clock.h"
#include "server/base/agent_ident.h"
#include "server/model/arn.h"
#include "server/model/config.h"
#include "server/model/instance.h"
#include "server/model/jobs.h"
#include "server/model/resource.h"
#include "server/model/state.h"
#include "server/engine/attempt.h"
#include "server/engine/drain.h"
#include "server/engine/fleet.h"
#include "server/engine/provider_local.h"
#include "server/api/api.h"

/* An assignment may still be on its way when the agent lists what it holds: only one sent this
 * long before the list was made and not listed was lost. */
#define ASSIGN_GRACE_MS 5000
/* A lost assignment goes again this many times before its attempt ends as never received. */
#define ASSIGN_RESENDS_MAX 3
/* A kill order for an attempt the server no longer expects goes again if the agent still lists
 * the attempt this much later (the order may have been lost too). */
#define STRAY_KILL_AGAIN_MS (FLEET_POLL_SECONDS * 1000)
/* How long an agent lists an attempt this server does not expect before it is told to stop it
 * (stray_held): far longer than a round trip of its exchanges. */
#define STRAY_GRACE_MS 2000
#define NOT_EXPECTED "this attempt is no longer expected"

/* ---- identities (docs/agent-protocol.md, "Identities") ---- */

#define CREDENTIAL_HELP "register again (with the join token) for a new one"

/* Within this, the two clocks are taken to agree: the request's own time on the way is in it. */
#define CLOCK_SKEW_IGNORED_MS 1000
/* More CPUs than a machine has: what bounds an attempt's reported CPU time (a container may use
 * more of its host than the instance registered, so the registration is no bound). */
#define MAX_HOST_VCPUS 4096

/* The skew as api_agent_clock_skew gives it, and into *late (when not NULL) how much later than
 * the agent's exchanges take this one arrived: its transit less the smallest (0 without
 * sentAt).  One look at the agent's clock for both. */
static int64_t clock_of(json_t *req, const char *id, int64_t *late)
{
    json_t *sent = json_object_get(req, "sentAt");
    if (late) *late = 0;
    if (!json_is_integer(sent) || json_integer_value(sent) <= 0) return 0;
    int64_t at = (int64_t)json_integer_value(sent), now = util_now_ms();
    int64_t skew = agent_clock_offset(id, at, now);
    if (late && now - at > skew) *late = now - at - skew;
    return skew > CLOCK_SKEW_IGNORED_MS || skew < -CLOCK_SKEW_IGNORED_MS ? skew : 0;
}

int64_t api_agent_clock_skew(json_t *req, const char *id)
{
    return clock_of(req, id, NULL);
}

int api_agent_refuse(api_ctx *c, int rc, const char *id)
{
    switch (rc) {
    case AGENT_CRED_MISSING:
        return api_fail(c, 401, "MissingAuthenticationTokenException",
                        "Authorization header: agent requests carry 'Bearer CREDENTIAL', the "
                        "instance credential that registration answered with");
    case AGENT_CRED_NO_INSTANCE:
        return api_fail(c, 404, "UnknownInstanceException",
                        "instance %s is not registered with this server; register again", id);
    case AGENT_CRED_EXPIRED:
        return api_fail(c, 401, "InvalidInstanceCredentialException",
                        "the credential presented for instance %s was replaced and its grace "
                        "period is over; use the newer one, or " CREDENTIAL_HELP, id);
    default:
        return api_fail(c, 401, "InvalidInstanceCredentialException",
                        "the credential presented for instance %s is not valid (revoked, or "
                        "replaced by a newer registration); " CREDENTIAL_HELP, id);
    }
}

instance *api_agent_instance(api_ctx *c, json_t *req, int *rotate)
{
    char id[AGENT_IDENT_ID_MAX + 1];
    const char *named = api_str(req, "instanceId");
    if (api_check_instance_id(c, named, "instanceId") < 0) return NULL;
    agent_cred_rc rc = agent_ident_check(c->auth, id, rotate);
    if (rc != AGENT_CRED_OK) {
        api_agent_refuse(c, rc, id);
        return NULL;
    }
    if (named && strcmp(named, id) != 0) {
        api_fail(c, 403, "AccessDeniedException",
                 "instance %s may act only for itself; this request names instance %s", id,
                 named);
        return NULL;
    }
    instance *in = instance_find(c->st->fleet, id);
    if (!in || !in->registered) {
        api_agent_refuse(c, AGENT_CRED_NO_INSTANCE, id);
        return NULL;
    }
    return in;
}

/* Whether attempt (id, attempt) is, or was, another instance's: an agent reports only on its
 * own attempts and lists only those. */
static int foreign(state *st, const instance *in, const char *id, int attempt)
{
    job *j = id ? jobs_find(st->jobs, id) : NULL;
    return j && j->inst_id && j->n_attempts == attempt && strcmp(j->inst_id, in->id) != 0;
}

/* Refuses, before anything changes, an exchange whose reports or held list concern another
 * instance's attempts. */
static int check_concerns(api_ctx *c, const instance *in, json_t *req)
{
    static const char *const lists[] = {"reports", "holding"};
    for (size_t l = 0; l < 2; l++) {
        size_t i;
        json_t *r;
        json_array_foreach(json_object_get(req, lists[l]), i, r) {
            const char *id = api_str(r, "jobId");
            int attempt = (int)api_int(r, "attempt", 0);
            if (foreign(c->st, in, id, attempt))
                return api_fail(c, 403, "AccessDeniedException",
                                "instance %s may report on and hold only its own attempts; "
                                "%s[%zu] (attempt %d of job %.100s) is not one of them",
                                in->id, lists[l], i, attempt, id);
        }
    }
    return 0;
}

static int join_refused(api_ctx *c, agent_join_rc jr, const char *ce, const char *id)
{
    /* An agent another server launched (one left running at this address by a server with
     * another data directory, or one this server let go): its work directory and image cache
     * are that server's.  Refused, it stops; this server launches its own. */
    if (jr == AGENT_JOIN_FOREIGN)
        return api_fail(c, 403, "AccessDeniedException",
                        "the join token is a launch token this server did not give for instance "
                        "%.64s: it was launched by another barge server (or by this one before "
                        "it let the instance go), and a launched agent registers only the "
                        "instance it was launched for, with the server that launched it (an "
                        "agent joining this server gives one of its join tokens: --token)",
                        id && *id ? id : "(no id)");
    if (jr == AGENT_JOIN_MISSING)
        return api_fail(c, 401, "MissingAuthenticationTokenException",
                        "Authorization header: an agent registers with 'Bearer TOKEN', a join "
                        "token of this server (its --agent-token or --agent-tokens)");
    if (jr == AGENT_JOIN_OTHER_CE)
        return api_fail(c, 403, "AccessDeniedException",
                        "the join token does not register agents for compute environment '%s'",
                        ce);
    return api_fail(c, 403, "AccessDeniedException",
                    "the join token is not one of this server's (it may have been revoked)");
}

static void sha256(const char *s, unsigned char out[32])
{
    unsigned int n = 0;
    EVP_Digest(s, strlen(s), out, &n, EVP_sha256(), NULL);
}

static int agent_register(api_ctx *c, json_t *req, json_t **resp)
{
    const char *ce_arg = api_str(req, "computeEnvironment");
    char *name = api_name_or_arn(c, ce_arg, ARN_CE, "computeEnvironment");
    if (!name) return -1;
    /* The join token first: who has none learns nothing of the compute environments. */
    const char *id = api_str(req, "instanceId"), *client = api_str(req, "clientToken");
    agent_join_rc jr = agent_ident_join(c->auth, name, id, barge_cfg.dev);
    if (jr != AGENT_JOIN_OK && jr != AGENT_JOIN_LAUNCH) {
        join_refused(c, jr, name, id);
        free(name);
        return -1;
    }
    if (!res_ce(c->st, name)) {
        api_client_error(c, "computeEnvironment: no compute environment named '%s'", name);
        free(name);
        return -1;
    }
    json_int_t vcpus = api_int(req, "vcpus", 0), mem = api_int(req, "memoryMiB", 0);
    if (vcpus < 1 || mem < 1) {
        free(name);
        return api_client_error(c, "vcpus and memoryMiB: an agent must offer at least 1 vCPU "
                                   "and 1 MiB");
    }
    if (api_check_instance_id(c, id, "instanceId") < 0) {
        free(name);
        return -1;
    }
    unsigned char client_hash[32] = {0};
    if (client) sha256(client, client_hash);
    char cred[AGENT_IDENT_CRED_MAX + 1];
    instance *in = instance_find(c->st->fleet, id);
    if (in && in->registered) {
        int retry = client && in->has_client_token && strcmp(in->ce, name) == 0 &&
                    CRYPTO_memcmp(client_hash, in->client_token, sizeof client_hash) == 0;
        free(name);
        if (!retry)
            return api_fail(c, 409, "InstanceInUseException",
                            "instanceId: instance %s is registered and its agent is alive; a "
                            "retry of its registration carries the same clientToken, and "
                            "another agent may take the id once the server has declared the "
                            "instance lost (%d seconds without an exchange)",
                            in->id, FLEET_LOST_AFTER_SECONDS);
        /* The same registration again (its answer was lost): the same instance, with a new
         * credential; the one the lost answer carried stops. */
        agent_ident_issue(in->id, 0, cred);
        instance_mark_dirty(c->st->fleet, in);
        in->last_seen = util_mono_ms();
        log_info("fleet: instance %s registered again with the same clientToken; it keeps its "
                 "attempts", in->id);
        goto answer;
    }
    if (in && strcmp(in->ce, name) != 0) {
        free(name);
        return api_client_error(c, "computeEnvironment: instance %s was launched for '%s'",
                                id, in->ce);
    }
    /* An instance this server launched is registered by the agent it launched, which alone
     * has its launch token. */
    if (in && (in->local || in->exec) && jr != AGENT_JOIN_LAUNCH && !barge_cfg.dev) {
        free(name);
        return api_fail(c, 403, "AccessDeniedException",
                        "instance %s is being launched by this server; only the agent it "
                        "launched registers it", in->id);
    }
    /* An environment being deleted takes no new instance: its own finish what they run and go
     * (engine/drain.h). */
    if (!in && res_ce(c->st, name)->status == RES_DELETING) {
        api_client_error(c, "computeEnvironment: '%s' is being deleted and takes no new "
                            "instance", name);
        free(name);
        return -1;
    }
    if (!in) in = instance_new(c->st->fleet, id, name);
    free(name);
    in->has_client_token = client != NULL;
    memcpy(in->client_token, client_hash, sizeof client_hash);
    const char *type = api_str(req, "instanceType");
    if (type || !in->type) {
        free(in->type);
        in->type = xstrdup(type ? type : "custom");
    }
    /* The request's shape bounds both (vcpus to API_MAX_VCPUS), so neither narrows. */
    in->mvcpus = (int)vcpus * 1000;
    in->memory_mib = (int)mem;
    in->gpus = (int)api_int(req, "gpus", 0);
    free(in->hostname);
    in->hostname = xstrdup(api_str(req, "hostname") ? api_str(req, "hostname") : "");
    /* Where other instances reach it (a multi-node job's main node): the IPv4 address its
     * registration came from. */
    free(in->address);
    struct in_addr v4;
    in->address = c->peer && inet_pton(AF_INET, c->peer, &v4) == 1 ? xstrdup(c->peer) : NULL;
    free(in->executor);
    in->executor = xstrdup(api_str(req, "executor") ? api_str(req, "executor") : "process");
    const char *cg = api_str(req, "cgroups"), *note = api_str(req, "cgroupsNote");
    free(in->mem_note);
    if (cg && strcmp(cg, "none") != 0)
        in->mem_note = xasprintf("enforced with cgroup %s", cg);
    else
        in->mem_note = xasprintf("not enforced on instance %s: %s", in->id,
                                 note ? note : "the agent cannot use cgroups");
    in->registered = 1;
    in->recovered = 0; /* launched before a restart (instance_store.h): it has no attempts */
    in->last_seen = in->idle_since = in->registered_at = util_mono_ms();
    provider_local_registered(c->st, in);
    c->st->jobs->sched_needed = 1;
    log_info("fleet: instance %s registered for compute environment %s (%s, %d vCPUs, %d MiB; "
             "memory limits %s)", in->id, in->ce, in->type, (int)vcpus, (int)mem, in->mem_note);
    /* A new registration: whatever credential the id had before stops. */
    agent_ident_issue(in->id, 0, cred);
    instance_mark_dirty(c->st->fleet, in);
answer:
    *resp = json_pack("{s:s, s:s, s:i, s:i, s:i}", "instanceId", in->id, "credential", cred,
                      "pollSeconds", FLEET_POLL_SECONDS, "heartbeatSeconds",
                      FLEET_HEARTBEAT_SECONDS, "lostAfterSeconds", FLEET_LOST_AFTER_SECONDS);
    explicit_bzero(cred, sizeof cred);
    return 0;
}

static void handle_report(state *st, instance *in, json_t *r, int64_t skew)
{
    const char *id = api_str(r, "jobId"), *event = api_str(r, "event");
    int attempt = (int)api_int(r, "attempt", 0);
    int64_t at = api_int(r, "at", 0), now = util_now_ms();
    at = at <= 0 ? now : at + skew;
    if (at > now) at = now;
    job *j = jobs_find(st->jobs, id);
    if (!j || j->inst != in || j->n_attempts != attempt) {
        /* An attempt this server no longer expects: make sure it stops. */
        if (id && event && strcmp(event, "RUNNING") == 0)
            instance_push_kill(in, id, attempt, NOT_EXPECTED);
        return;
    }
    /* Nor before the job was made, nor an end before its start: a time that is wrong by
     * days (a clock set wrong, a lying agent) would otherwise charge the attempt for them. */
    int64_t floor = j->attempt_started_at > j->created_at ? j->attempt_started_at : j->created_at;
    if (at < floor) at = floor;
    if (strcmp(event, "PULLING") == 0) {
        char image[512];
        snprintf(image, sizeof image, "%s", api_str(r, "image") ? api_str(r, "image") : "");
        util_utf8_cut(image); /* (a reference of over 511 bytes is cut) */
        if (j->status == JS_STARTING) instance_pull_set(in, id, attempt, image, at);
        return;
    }
    if (strcmp(event, "RUNNING") == 0) {
        instance_pull_end(in, id);
        attempt_running(st, j, at);
        return;
    }
    attempt_end e = {0};
    /* Both are read by attempt_finish, after the branches below: kept at this scope. */
    char reason[300], lost[160];
    if (strcmp(event, "FAILED_TO_START") == 0) {
        snprintf(reason, sizeof reason, "%.280s",
                 api_str(r, "reason") ? api_str(r, "reason") : "CannotStartContainerError");
        util_utf8_cut(reason); /* 280 bytes may end inside a character */
        e.reason = reason;
        e.status_reason = "Task failed to start";
    } else if (strcmp(event, "EXITED") == 0) {
        json_t *cpu = json_object_get(r, "cpuSeconds");
        /* At most the attempt's time on every vCPU there can be: a larger figure is no
         * measurement (and one past a double's range made the job's sums infinite, which no
         * JSON can say). */
        double most = (double)(at - floor) / 1000.0 * MAX_HOST_VCPUS + 1;
        if (json_is_number(cpu) && json_number_value(cpu) > most)
            log_warn("agents: instance %s reported %g CPU seconds for job %s attempt %d, more "
                     "than its %.0f s could use; not kept", in->id, json_number_value(cpu), id,
                     attempt, (double)(at - floor) / 1000.0);
        else if (json_is_number(cpu) && json_number_value(cpu) >= 0) {
            e.has_usage = 1;
            e.cpu_seconds = json_number_value(cpu);
            e.max_memory_bytes = (long long)api_int(r, "maxMemoryBytes", 0);
        }
        json_t *code = json_object_get(r, "exitCode");
        if (json_is_integer(code)) {
            e.has_exit_code = 1;
            e.exit_code = (int)json_integer_value(code);
        } else if (api_int(r, "signal", 0) > 0) {
            /* A container runtime reports a death by signal as 128 + the signal (137 for
             * SIGKILL, and so for a memory kill); tools built on AWS Batch read that code. */
            e.has_exit_code = 1;
            e.exit_code = 128 + (int)api_int(r, "signal", 0);
        }
        /* A stop barge ordered (a kill, a timeout, the agent's own stop) is told by the status
         * reason alone, as ECS leaves the container's reason empty when it stops a task: tools
         * that show the container's reason first (Metaflow) would show the signal instead. */
        int ordered = json_is_true(json_object_get(r, "killed")) ||
                      json_is_true(json_object_get(r, "timedOut")) ||
                      json_is_true(json_object_get(r, "agentStopped"));
        if (json_is_true(json_object_get(r, "oom"))) {
            e.reason = "OutOfMemoryError: Container killed due to memory usage";
        } else if (ordered) {
            e.reason = NULL; /* a container runtime's exit (143) as a signal's */
        } else if (api_int(r, "signal", 0) > 0) {
            snprintf(reason, sizeof reason, "Container killed by signal %d (%s)",
                     (int)api_int(r, "signal", 0), strsignal((int)api_int(r, "signal", 0)));
            e.reason = reason;
        } else if (api_str(r, "reason")) {
            snprintf(reason, sizeof reason, "%.280s", api_str(r, "reason"));
            util_utf8_cut(reason);
            e.reason = reason;
        }
        e.killed = ordered;
        e.timed_out = json_is_true(json_object_get(r, "timedOut"));
        if (json_is_true(json_object_get(r, "agentStopped"))) {
            /* The agent itself was stopped: to the job, its host went away, which leaves no
             * exit code (an onExitCode "*" rule must not make a lost host final), but for a 0:
             * the job had ended, or ended cleanly on the stop, as for a kill.  Stopped by a
             * clean stop of the server, the operator's act: recorded, not counted. */
            attempt_host_lost(lost, sizeof lost, in->id);
            e.status_reason = lost;
            e.has_exit_code = e.has_exit_code && e.exit_code == 0;
            e.uncharged = in->stopped_by_server;
        } else if (json_is_true(json_object_get(r, "timedOut")))
            e.status_reason = "Job attempt duration exceeded timeout";
        else if (json_is_true(json_object_get(r, "killed")) && j->stop_reason)
            e.status_reason = j->stop_reason;
        else
            e.status_reason = "Essential container in task exited";
    } else {
        return;
    }
    instance_pull_end(in, id);
    attempt_finish(st, j, &e, at);
}

/* A held attempt this server does not expect: the agent is told to kill it once it has been
 * listed for STRAY_GRACE_MS, and again only if it still lists the attempt STRAY_KILL_AGAIN_MS
 * later.  Not at once: an agent's long poll carries the list it held when the poll began, and
 * may reach the core after the exchange that reported the attempt's end (on the agent's other
 * connection), and the agent lets the attempt go only when that exchange's answer is back.
 * Such a list is followed within a round trip by one without the attempt, which forgets it. */
static void stray_held(instance *in, const char *id, int attempt, uint32_t pass, int64_t now)
{
    char *key = xasprintf("%d %s", attempt, id);
    stray *s = dict_get(&in->strays, key);
    if (!s) {
        s = xcalloc(1, sizeof *s);
        s->key = key;
        s->first_seen = now;
        dict_put(&in->strays, s->key, s);
    } else {
        free(key);
    }
    s->seen = pass;
    if (now - s->first_seen < STRAY_GRACE_MS) return;
    if (s->kill_sent && now - s->kill_sent < STRAY_KILL_AGAIN_MS) return;
    s->kill_sent = now;
    log_info("fleet: instance %s holds attempt %d of job %s, which this server does not expect; "
             "asking it to stop", in->id, attempt, id);
    instance_push_kill(in, id, attempt, NOT_EXPECTED);
}

/* Whether reports holds the end of attempt (id, attempt): the exchange that reports an end may
 * still list the attempt as held. */
static int reports_end(json_t *reports, const char *id, int attempt)
{
    size_t i;
    json_t *r;
    json_array_foreach(reports, i, r) {
        const char *rid = api_str(r, "jobId"), *event = api_str(r, "event");
        if (rid && event && strcmp(rid, id) == 0 && api_int(r, "attempt", 0) == attempt &&
            (strcmp(event, "EXITED") == 0 || strcmp(event, "FAILED_TO_START") == 0))
            return 1;
    }
    return 0;
}

/* Reconciliation (docs/agent-protocol.md): the attempts the agent says it holds against those
 * this server expects on the instance.  An attempt it does not hold, and whose assignment left
 * long enough ago, was lost on the way (or, once running, by the agent): it ends, and its job is
 * retried as its strategy says.  Costs O(listed) lookups, and a walk of the instance's jobs only
 * when some are missing from the list. */
static void reconcile(state *st, instance *in, json_t *holding, json_t *reports, int64_t late)
{
    if (!json_is_array(holding)) return; /* an agent that does not say what it holds */
    fleet *f = st->fleet;
    if (++f->reconciliations == 0) f->reconciliations = 1; /* 0 marks "never listed" */
    uint32_t pass = f->reconciliations;
    int64_t now = util_mono_ms();
    /* When the list was made, by this server's clock: an exchange held up by the network (TCP
     * sending it again after a drop) lists what its agent held then, before assignments that
     * have reached it since. */
    int64_t listed_at = now - late;
    int listed = 0;
    size_t i;
    json_t *h;
    json_array_foreach(holding, i, h) {
        const char *id = api_str(h, "jobId");
        int attempt = (int)api_int(h, "attempt", 0);
        if (!id) continue;
        job *j = jobs_find(st->jobs, id);
        if (j && j->inst == in && j->n_attempts == attempt) {
            if (j->held_seen != pass) listed++;
            j->held_seen = pass;
        } else if (!reports_end(reports, id, attempt)) {
            stray_held(in, id, attempt, pass, now);
        }
    }
    /* Strays no longer listed have ended. */
    i = 0;
    const char *k;
    void *v;
    while (in->strays.len && dict_next(&in->strays, &i, &k, &v)) {
        stray *s = v;
        if (s->seen == pass) continue;
        dict_del(&in->strays, k);
        free(s->key);
        free(s);
    }
    if (listed == in->n_jobs) return;
    job **lost = NULL;
    size_t n_lost = 0;
    for (job *j = in->jobs; j; j = j->inst_next) {
        if (j->held_seen == pass || !j->assign_sent_at ||
            listed_at - j->assign_sent_at < ASSIGN_GRACE_MS)
            continue;
        lost = xrealloc(lost, (n_lost + 1) * sizeof *lost);
        lost[n_lost++] = j;
    }
    /* Ended apart from the walk: ending an attempt unlinks it from the instance. */
    for (size_t n = 0; n < n_lost; n++) {
        job *j = lost[n];
        char why[160];
        attempt_end e = {0};
        if (j->status == JS_STARTING && j->assign_resends < ASSIGN_RESENDS_MAX &&
            !j->is_terminated && !j->node_interrupted) {
            /* The answer that carried it was lost (its agent's poll gave up on it after a
             * drop): it goes again, as after a restart; one told to stop meanwhile ends. */
            log_warn("fleet: instance %s did not receive attempt %d of job %s: it goes again",
                     in->id, (int)j->n_attempts, j->id);
            attempt_assign_again(j);
            continue;
        }
        if (j->status == JS_STARTING) {
            log_warn("fleet: instance %s never received attempt %d of job %s", in->id,
                     (int)j->n_attempts, j->id);
            e.status_reason = "Task failed to start";
            e.reason = "CannotStartContainerError: the instance never received the assignment";
        } else {
            log_warn("fleet: instance %s no longer holds attempt %d of job %s", in->id,
                     (int)j->n_attempts, j->id);
            /* The agent lost it as a terminated host loses its tasks: retry rules written for
             * lost hosts apply. */
            attempt_host_lost(why, sizeof why, in->id);
            e.status_reason = why;
            e.reason = "the agent no longer holds this attempt";
        }
        attempt_finish(st, j, &e, util_now_ms());
    }
    free(lost);
}

static int agent_exchange(api_ctx *c, json_t *req, json_t **resp)
{
    int rotate = 0;
    instance *in = api_agent_instance(c, req, &rotate);
    if (!in || check_concerns(c, in, req) < 0) return -1;
    in->last_seen = util_mono_ms();
    in->recovered = 0; /* its agent carried on through a restart */
    /* An agent that is stopping (SIGTERM) takes no new attempt: placed there by this batch's
     * pass, with the capacity its stopped attempts' reports free, a job would wait for the
     * instance to be lost and then count the attempt. */
    if (json_is_true(json_object_get(req, "stopping")))
        drain_instance(c->st, in, DRAIN_WHY_AGENT_STOPPING);
    size_t i;
    json_t *r;
    int64_t late;
    int64_t skew = clock_of(req, in->id, &late);
    json_array_foreach(json_object_get(req, "reports"), i, r) handle_report(c->st, in, r, skew);
    /* After the reports: an attempt whose end this exchange reports is no longer expected. */
    reconcile(c->st, in, json_object_get(req, "holding"), json_object_get(req, "reports"), late);
    /* A report may have left an order (a kill for an attempt no longer expected): the parked
     * poll carries it now rather than at its deadline. */
    if (!instance_outbox_empty(in)) instance_wake(c->st, in);
    int wait = json_is_true(json_object_get(req, "wait"));
    if (wait && instance_outbox_empty(in)) {
        if (in->poll) core_reply(in->poll, instance_take_outbox(c->st, in));
        in->poll = c->call;
        in->poll_now = 0;
        in->poll_deadline = util_mono_ms() + FLEET_POLL_SECONDS * 1000;
        c->deferred = 1;
        return 0;
    }
    if (!wait && !in->poll && !rotate && instance_outbox_empty(in)) {
        /* Answered after this batch's scheduling pass, which runs before the same commit: the
         * vCPUs its reports freed come back with work in this very answer, not at the next
         * exchange (an agent with no poll open would otherwise not hear of it until then). */
        in->poll = c->call;
        in->poll_now = 1;
        in->poll_deadline = util_mono_ms();
        c->st->fleet->n_poll_now++;
        c->deferred = 1;
        return 0;
    }
    if (in->poll && !wait) {
        /* Reports go on their own connection; the parked poll keeps waiting for work. */
        *resp = json_pack("{s:[], s:[], s:b}", "assign", "kill", "shutdown", 0);
    } else {
        *resp = instance_take_outbox(c->st, in);
    }
    if (rotate) {
        /* The next credential, in an answer that goes out now (a parked poll's may wait until
         * its deadline); the one in use stays valid for a grace period once this one is used. */
        char cred[AGENT_IDENT_CRED_MAX + 1];
        agent_ident_issue(in->id, 1, cred);
        instance_mark_dirty(c->st->fleet, in);
        json_object_set_new(*resp, "credential", json_string(cred));
        explicit_bzero(cred, sizeof cred);
        log_info("fleet: instance %s is handed its next credential", in->id);
    }
    return 0;
}

/* An operator's order (signed like the AWS API, action batch:RevokeInstance): the instance's
 * credential stops now and the instance is lost, as a terminated host is.  Its agent learns it
 * at its next request and registers again if its join token is still valid. */
static int revoke_instance(api_ctx *c, json_t *req, json_t **resp)
{
    const char *id = api_str(req, "instanceId");
    if (api_check_instance_id(c, id, "instanceId") < 0) return -1;
    instance *in = instance_find(c->st->fleet, id);
    if (!in)
        return api_client_error(c, "instanceId: no instance '%s' in this server's fleet", id);
    fleet_end(c->st, in, "an operator revoked its credential");
    *resp = json_pack("{s:s}", "instanceId", id);
    return 0;
}

api_op api_agent_ops[] = {
    {"AgentRegister", "POST", "/barge/v1/agent/register",
     "{computeEnvironment:s!, instanceId:s, instanceType:s, vcpus:i(1..1000000)!,"
     " memoryMiB:i(1..2147483647)!, gpus:i(0..1000000),"
     " hostname:s, executor:s, cgroups:s, cgroupsNote:s, clientToken:s}",
     agent_register, 0, NULL},
    {"AgentExchange", "POST", "/barge/v1/agent/exchange",
     "{instanceId:s, wait:b, reports:[{jobId:s!, attempt:i(1..1000000)!, event:s!, at:l,"
     " pid:i, exitCode:i,"
     " signal:i(0..128), oom:b, timedOut:b, killed:b, agentStopped:b, reason:s,"
     " cpuSeconds:f, maxMemoryBytes:l, image:s}],"
     " holding:[{jobId:s!, attempt:i(1..1000000)!}], sentAt:l, stopping:b}",
     agent_exchange, 4 * 1024 * 1024, NULL},
    {"RevokeInstance", "POST", "/barge/v1/revokeinstance", "{instanceId:s!}", revoke_instance, 0,
     NULL},
    {NULL, NULL, NULL, NULL, NULL, 0, NULL},
};
