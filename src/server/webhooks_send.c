/* webhooks_send — one delivery to a webhook's target (webhooks_internal.h): the target's sender
 * (its connection and its keyed HMAC), an event signed and POSTed until it is delivered or
 * refused, and the waits between tries, which end as soon as the server stops. */
#include "server/webhooks_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/util.h"

#define BACKOFF_MAX_S 60
/* Tries of an event its target refuses (refused() below) before it is let go. */
#define REFUSED_TRIES 3

static atomic_int stopping;
static pthread_mutex_t nap_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t nap_cv;
static pthread_once_t nap_once = PTHREAD_ONCE_INIT;

static void nap_init(void)
{
    util_cond_init_mono(&nap_cv); /* naps last what they say, whatever the wall clock does */
}

int webhooks__stopping(void)
{
    return atomic_load(&stopping);
}

void webhooks__stop_naps(void)
{
    pthread_once(&nap_once, nap_init);
    pthread_mutex_lock(&nap_mu);
    atomic_store(&stopping, 1);
    pthread_cond_broadcast(&nap_cv);
    pthread_mutex_unlock(&nap_mu);
}

/* Sleeps ms milliseconds unless the server stops; 1 when it does. */
int webhooks__nap_ms(long ms)
{
    pthread_once(&nap_once, nap_init);
    struct timespec until = util_mono_deadline(ms);
    pthread_mutex_lock(&nap_mu);
    while (!webhooks__stopping() &&
           pthread_cond_timedwait(&nap_cv, &nap_mu, &until) != ETIMEDOUT) {
    }
    pthread_mutex_unlock(&nap_mu);
    return webhooks__stopping();
}

/* Sleeps s seconds unless the server stops; 1 when it does. */
int webhooks__nap(int s)
{
    return webhooks__nap_ms(s * 1000L);
}

static int abandon(void *ctx)
{
    return webhooks__stopping();
}

/* The target's keyed HMAC-SHA256; NULL when OpenSSL cannot make it. */
static EVP_MAC_CTX *mac_new(const char *secret)
{
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
    EVP_MAC_free(hmac); /* the context keeps its own reference */
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    if (ctx && EVP_MAC_init(ctx, (const unsigned char *)secret, strlen(secret), params) != 1) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

/* A sender for the target (made before any thread runs: libcurl's global set-up is not
 * thread-safe); 0, or -1 after saying why. */
int webhooks__sender_init(target *x, sender *s)
{
    if (x->pipeline > 1) {
        char *err = NULL;
        s->pipe = h1pipe_new(x->url, "barge-webhooks", 5000, &err);
        if (!s->pipe) {
            log_error("webhooks: %s: %s; nothing is delivered to it", x->name, err);
            free(err);
            return -1;
        }
    } else {
        /* Only the status of a receiver's answer counts: its body, which could be of any
         * length, is not kept. */
        httpc_options o = {.connect_timeout_ms = 5000, .user_agent = "barge-webhooks",
                           .abandon = abandon, .discard_body = 1};
        s->http = httpc_new(&o);
        if (!s->http) return -1;
    }
    s->mac = mac_new(x->secret);
    if (!s->mac)
        log_error("webhooks: %s: OpenSSL cannot make HMAC-SHA256; nothing is delivered to it",
                  x->name);
    if (s->mac) return 0;
    httpc_free(s->http);
    h1pipe_free(s->pipe);
    s->http = NULL;
    s->pipe = NULL;
    return -1;
}

void webhooks__sender_free(sender *s)
{
    httpc_free(s->http);
    h1pipe_free(s->pipe);
    EVP_MAC_CTX_free(s->mac);
    s->http = NULL;
    s->pipe = NULL;
    s->mac = NULL;
}

void webhooks__sender_wake(sender *s)
{
    if (s->http) httpc_wake(s->http);
    if (s->pipe) h1pipe_wake(s->pipe);
}

/* body's signature as lowercase hex into hex (65 bytes); 0, or -1 when OpenSSL failed. */
int webhooks__sign(sender *s, const char *body, size_t len, char *hex)
{
    unsigned char mac[32];
    size_t mac_len = 0;
    /* Started again with the key it holds (no key given): a context duplicated an event, as
     * before, cost allocations and reference counts a few times the hashing of a 1.5 KB
     * event. */
    EVP_MAC_CTX *c = s->mac;
    int ok = EVP_MAC_init(c, NULL, 0, NULL) == 1 &&
             EVP_MAC_update(c, (const unsigned char *)body, len) == 1 &&
             EVP_MAC_final(c, mac, &mac_len, sizeof mac) == 1 && mac_len == sizeof mac;
    if (!ok) return -1;
    util_hex(mac, mac_len, hex);
    return 0;
}

/* Why a POST did not deliver, for the log, in a fresh string: the answer's status when one
 * came (a 302 and a 500 call for different fixes), and for a redirect where it pointed. */
static char *failure_of(sender *s, long status)
{
    if (!status) return xstrdup(s->pipe ? h1pipe_error(s->pipe) : httpc_error(s->http));
    if (status < 300 || status >= 400) return xasprintf("it answered HTTP %ld", status);
    /* Not followed: the signed event would go to a URL the operator never named.  A pipelined
     * connection's answers are read for their status alone: where it points is not known. */
    char *location = s->http ? httpc_header_value(s->http, "Location") : NULL;
    char *shown = location ? webhooks__url_for_log(location) : NULL;
    char *why = xasprintf("it answered HTTP %ld, a redirect%s%.200s, which is not followed: "
                          "signed events go to the url configured only", status,
                          shown ? " to " : s->pipe ? "" : " without a Location",
                          shown ? shown : "");
    free(shown);
    free(location);
    return why;
}

/* Whether an answer refuses the event itself rather than says the target cannot take it now:
 * a request it cannot read (400), too large (413), of a type (415) or content (422) it does
 * not take.  Tried again for ever, such an event held back every later one of its target for
 * good; EventBridge does not retry these at all.  Missing or wrong credentials (401, 403), a
 * wrong URL (404), throttling (429) and the server's errors (5xx) are the target's to fix and
 * are retried for ever. */
static int refused(long status)
{
    return status == 400 || status == 413 || status == 415 || status == 422;
}

size_t webhooks__event_head(char *out, uint64_t seq, const char *hex)
{
    return (size_t)snprintf(out, EVENT_HEAD_MAX, "Content-Type: application/json\r\n"
                            "X-Barge-Event-Id: %llu\r\nX-Barge-Signature: sha256=%s\r\n",
                            (unsigned long long)seq, hex);
}

/* One POST of body through s: the answer's status, or 0 when none came. */
static long post(target *x, sender *s, uint64_t seq, int count, const char *hex, const char *body,
                 size_t len)
{
    if (s->pipe) {
        char head[EVENT_HEAD_MAX];
        h1pipe_req r = {.head = head, .head_len = webhooks__event_head(head, seq, hex), .body = body,
                        .len = len};
        h1pipe_post(s->pipe, &r, 1, DELIVERY_TIMEOUT_MS);
        return r.status;
    }
    httpc_clear_headers(s->http);
    httpc_header(s->http, "Content-Type: application/json");
    httpc_header(s->http, "X-Barge-Event-Id: %llu", (unsigned long long)seq);
    if (x->batch > 1) httpc_header(s->http, "X-Barge-Event-Count: %d", count);
    httpc_header(s->http, "X-Barge-Signature: sha256=%s", hex);
    httpc_rc rc = httpc_post(s->http, x->url, body, len, DELIVERY_TIMEOUT_MS);
    return rc == HTTPC_OK ? httpc_status(s->http) : 0;
}

/* POSTs one event (its JSON text, len bytes), or with a batch an array of count events, the last
 * numbered seq, through s until it is delivered, or refused REFUSED_TRIES times (then let go
 * with an error in the log).  An event of a pipelined window that was not delivered comes with
 * its window's answer (status, 0 for none): the first such event of a window takes that answer
 * as its first try (failed: logged, and the back-off waited), and the others try again at once
 * (the target may be back by then) with a refusal counted.  0, or -1 when the server stops
 * first. */
int webhooks__deliver_from(target *x, sender *s, uint64_t seq, int count, const char *body,
                        size_t len, long window_status, int window_first)
{
    char hex[65];
    while (webhooks__sign(s, body, len, hex) < 0) {
        /* Nothing unsigned goes out; the target waits as for one that is down. */
        log_error("webhooks: %s: signing event %llu failed; retrying in %d s", x->name,
                  (unsigned long long)seq, BACKOFF_MAX_S);
        if (webhooks__nap(BACKOFF_MAX_S)) return -1;
    }
    int backoff = 1, failures = 0, refusals = !window_first && refused(window_status);
    int use_window = window_first;
    while (!webhooks__stopping()) {
        long status = use_window ? window_status : post(x, s, seq, count, hex, body, len);
        use_window = 0;
        if (status == 0 && webhooks__stopping()) {
            /* Its wait ended by the stop, not by the target: no failure of the target's. */
            log_info("webhooks: %s: the delivery of event %llu to %s, not answered yet, ends "
                     "as the server stops; it is sent again at the next start", x->name,
                     (unsigned long long)seq, x->log_url);
            break;
        }
        if (status >= 200 && status < 300) {
            if (failures)
                log_info("webhooks: %s: event %llu delivered after %d failed tries", x->name,
                         (unsigned long long)seq, failures);
            return 0;
        }
        if (refused(status) && ++refusals == REFUSED_TRIES) {
            if (count > 1)
                log_error("webhooks: %s: %s refused the batch of %d events ending with event "
                          "%llu %d times (HTTP %ld); they are let go and delivery goes on with "
                          "the next%s", x->name, x->log_url, count, (unsigned long long)seq,
                          refusals, status,
                          status == 413 ? " (a smaller \"batch\" would fit)" : "");
            else
                log_error("webhooks: %s: %s refused event %llu %d times (HTTP %ld); it is let "
                          "go and delivery goes on with the next", x->name, x->log_url,
                          (unsigned long long)seq, refusals, status);
            return 0;
        }
        if (failures++ == 0 || backoff == BACKOFF_MAX_S) {
            char *why = failure_of(s, status);
            log_warn("webhooks: %s: delivering event %llu to %s failed (%s); retrying in %d s",
                     x->name, (unsigned long long)seq, x->log_url, why, backoff);
            free(why);
        }
        if (webhooks__nap(backoff)) break;
        backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
    }
    return -1;
}

int webhooks__deliver(target *x, sender *s, uint64_t seq, int count, const char *body, size_t len)
{
    return webhooks__deliver_from(x, s, seq, count, body, len, 0, 0);
}

