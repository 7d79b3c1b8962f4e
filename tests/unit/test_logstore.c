/* logstore.c: appends, GetLogEvents paging in both directions, limits, time ranges, stream
 * listings, FilterLogEvents, reopening, and appends from several threads at once. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "server/base/logstore.h"
#include "check.h"

#define G LOGSTORE_BATCH_GROUP

static char root[] = "/tmp/barge-unit-logstore-XXXXXX";

/* A store in a directory of its own; *dir_out keeps the path for reopening. */
static logstore *fresh(char **dir_out)
{
    static int n;
    char *dir = malloc(strlen(root) + 16);
    sprintf(dir, "%s/%d", root, n++);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
    char *err = NULL;
    logstore *ls = logstore_open(dir, &err);
    if (!ls) CHECK_FAIL_("logstore_open: %s", err);
    CHECK(err == NULL);
    if (dir_out) *dir_out = dir;
    else free(dir);
    return ls;
}

/* Appends one event per message, with the given timestamps, and waits for the commit. */
static void put(logstore *ls, const char *stream, const int64_t *ts, const char *const *msgs,
                size_t n)
{
    logstore_event ev[64];
    CHECK(n <= 64);
    for (size_t i = 0; i < n; i++)
        ev[i] = (logstore_event){.timestamp = ts[i], .message = msgs[i], .len = strlen(msgs[i])};
    CHECK_EQ_INT(logstore_wait(ls, logstore_append(ls, G, stream, ev, n)), 0);
}

/* Appends messages "<prefix>0" .. "<prefix>N-1" at timestamps t0, t0+1, ... */
static void put_seq(logstore *ls, const char *stream, const char *prefix, int n, int64_t t0)
{
    for (int i = 0; i < n; i++) {
        char msg[64];
        snprintf(msg, sizeof msg, "%s%d", prefix, i);
        int64_t ts = t0 + i;
        const char *m = msg;
        put(ls, stream, &ts, &m, 1);
    }
}

/* The page's messages joined with commas, for comparisons. */
static const char *joined(const logstore_page *p)
{
    static char out[4096];
    out[0] = '\0';
    for (size_t i = 0; i < p->n; i++) {
        if (i) strcat(out, ",");
        strncat(out, p->events[i].message, sizeof out - strlen(out) - 2);
    }
    return out;
}

static int get(logstore *ls, const logstore_get_query *q, logstore_page *p)
{
    char *err = NULL;
    int rc = logstore_get(ls, q, p, &err);
    CHECK((rc == LOGSTORE_OK) == (err == NULL));
    free(err);
    return rc;
}

static void test_append_and_read_from_head(void)
{
    logstore *ls = fresh(NULL);
    int64_t ts[] = {1000, 1001, 1002};
    const char *msgs[] = {"one", "two", "three"};
    put(ls, "def/default/a", ts, msgs, 3);
    logstore_page p;
    logstore_get_query q = {.group = G, .stream = "def/default/a", .start_from_head = 1};
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_STR(joined(&p), "one,two,three");
    CHECK_EQ_INT(p.events[0].timestamp, 1000);
    CHECK_EQ_INT(p.events[2].timestamp, 1002);
    CHECK(p.events[0].ingestion_time > 1700000000000LL);
    CHECK_EQ_INT(strncmp(p.forward, "f/", 2), 0);
    CHECK_EQ_INT(strncmp(p.backward, "b/", 2), 0);
    CHECK_EQ_INT(strlen(p.forward), 38);
    logstore_page_free(&p);
    /* Without startFromHead the newest events come back (all three here), in time order. */
    q.start_from_head = 0;
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_STR(joined(&p), "one,two,three");
    logstore_page_free(&p);
    /* A stream of another group is another stream. */
    q.group = "/other";
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_NOT_FOUND);
    CHECK_EQ_INT(p.n, 0);
    logstore_close(ls);
}

static void test_forward_paging_ends_with_the_same_token(void)
{
    logstore *ls = fresh(NULL);
    put_seq(ls, "s", "m", 5, 5000);
    logstore_get_query q = {.group = G, .stream = "s", .start_from_head = 1, .limit = 2};
    logstore_page p;
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_STR(joined(&p), "m0,m1");
    char tok[48];
    strcpy(tok, p.forward);
    logstore_page_free(&p);
    q.token = tok;
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_STR(joined(&p), "m2,m3");
    strcpy(tok, p.forward);
    logstore_page_free(&p);
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_STR(joined(&p), "m4");
    strcpy(tok, p.forward);
    logstore_page_free(&p);
    /* The end: no events, and the forward token comes back unchanged. */
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_EQ_INT(p.n, 0);
    CHECK_STR(p.forward, tok);
    logstore_page_free(&p);
    /* Events appended later are found with that same token. */
    put_seq(ls, "s", "late", 2, 9000);
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_STR(joined(&p), "late0,late1");
    CHECK(strcmp(p.forward, tok) != 0);
    logstore_page_free(&p);
    logstore_close(ls);
}

static void test_backward_paging(void)
{
    logstore *ls = fresh(NULL);
    put_seq(ls, "s", "m", 5, 5000);
    logstore_get_query q = {.group = G, .stream = "s", .limit = 2};
    logstore_page p;
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_STR(joined(&p), "m3,m4"); /* the newest two, oldest first */
    char back[48], fwd[48];
    strcpy(back, p.backward);
    strcpy(fwd, p.forward);
    logstore_page_free(&p);
    q.token = back;
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_STR(joined(&p), "m1,m2");
    strcpy(back, p.backward);
    logstore_page_free(&p);
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_STR(joined(&p), "m0");
    strcpy(back, p.backward);
    char fwd_from_start[48];
    strcpy(fwd_from_start, p.forward);
    logstore_page_free(&p);
    /* The head: no events, and the backward token comes back unchanged. */
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_EQ_INT(p.n, 0);
    CHECK_STR(p.backward, back);
    logstore_page_free(&p);
    /* A forward token from a backward page reads on from there. */
    q.token = fwd_from_start;
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_STR(joined(&p), "m1,m2");
    logstore_page_free(&p);
    /* The forward token of the first (newest) page is at the end. */
    q.token = fwd;
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_EQ_INT(p.n, 0);
    CHECK_STR(p.forward, fwd);
    logstore_page_free(&p);
    logstore_close(ls);
}

static void test_tokens_and_unknown_streams(void)
{
    logstore *ls = fresh(NULL);
    put_seq(ls, "s", "m", 1, 1);
    logstore_page p;
    logstore_get_query q = {.group = G, .stream = "s", .start_from_head = 1};
    const char *bad[] = {"x", "f/", "f/123", "q/00000000000010010000000000000000002",
                         "f/0000000000001001000000000000000000x",
                         "f/00000000000010019999999999999999999", /* id past INT64_MAX */
                         "f/000000000000100100000000000000000021",
                         "f/0000000000001001.x000000000000000000",
                         "f/0000000000001001.9999999999999999999", /* rank past INT64_MAX */
                         "f/0000000000001001-0000000000000000001"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        q.token = bad[i];
        char *err = NULL;
        CHECK_EQ_INT(logstore_get(ls, &q, &p, &err), LOGSTORE_INVALID);
        CHECK_CONTAINS(err, "nextToken");
        free(err);
    }
    q.token = NULL;
    q.stream = "nope";
    char *err = NULL;
    CHECK_EQ_INT(logstore_get(ls, &q, &p, &err), LOGSTORE_NOT_FOUND);
    CHECK_STR(err, "The specified log stream does not exist.");
    free(err);
    CHECK_EQ_INT(logstore_stream_exists(ls, G, "s"), 1);
    CHECK_EQ_INT(logstore_stream_exists(ls, G, "nope"), 0);
    /* An empty stream exists and reads as empty; its forward token later finds events. */
    logstore_create_stream(ls, G, "empty");
    logstore_create_stream(ls, G, "empty"); /* twice is fine */
    CHECK_EQ_INT(logstore_wait(ls, logstore_append(ls, G, "other", NULL, 0)), 0);
    CHECK_EQ_INT(logstore_stream_exists(ls, G, "empty"), 1);
    q.stream = "empty";
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_EQ_INT(p.n, 0);
    char tok[48];
    strcpy(tok, p.forward);
    logstore_page_free(&p);
    put_seq(ls, "empty", "x", 2, 100);
    q.token = tok;
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_STR(joined(&p), "x0,x1");
    logstore_page_free(&p);
    logstore_close(ls);
}

static void test_limits(void)
{
    logstore *ls = fresh(NULL);
    /* 100-byte messages: with 26 bytes of overhead each, 1000 bytes hold 7 events. */
    char msg[101];
    memset(msg, 'a', 100);
    msg[100] = '\0';
    logstore_event ev[20];
    for (int i = 0; i < 20; i++)
        ev[i] = (logstore_event){.timestamp = 10 + i, .message = msg, .len = 100};
    CHECK_EQ_INT(logstore_wait(ls, logstore_append(ls, G, "s", ev, 20)), 0);
    logstore_get_query q = {.group = G, .stream = "s", .start_from_head = 1, .max_bytes = 1000};
    logstore_page p;
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_EQ_INT(p.n, 7);
    CHECK_EQ_INT(p.events[6].timestamp, 16);
    logstore_page_free(&p);
    q.start_from_head = 0; /* from the tail, the byte limit keeps the newest */
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_EQ_INT(p.n, 7);
    CHECK_EQ_INT(p.events[0].timestamp, 23);
    CHECK_EQ_INT(p.events[6].timestamp, 29);
    logstore_page_free(&p);
    /* A single event larger than the limit still comes back, alone. */
    q.max_bytes = 50;
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_EQ_INT(p.n, 1);
    logstore_page_free(&p);
    /* The default is 10,000 events, also for an out-of-range limit. */
    logstore_event *many = calloc(12000, sizeof *many);
    for (int i = 0; i < 12000; i++)
        many[i] = (logstore_event){.timestamp = 100000 + i, .message = "x", .len = 1};
    CHECK_EQ_INT(logstore_wait(ls, logstore_append(ls, G, "many", many, 12000)), 0);
    free(many);
    logstore_get_query m = {.group = G, .stream = "many", .start_from_head = 1};
    CHECK_EQ_INT(get(ls, &m, &p), LOGSTORE_OK);
    CHECK_EQ_INT(p.n, 10000);
    logstore_page_free(&p);
    m.limit = 50000;
    CHECK_EQ_INT(get(ls, &m, &p), LOGSTORE_OK);
    CHECK_EQ_INT(p.n, 10000);
    logstore_page_free(&p);
    /* The byte limit by default is 1 MiB: 1 MiB / (1 + 26) is 38,836 events, more than 10,000;
     * with 200-byte messages it is 4,681. */
    char big[201];
    memset(big, 'b', 200);
    big[200] = '\0';
    logstore_event *wide = calloc(6000, sizeof *wide);
    for (int i = 0; i < 6000; i++)
        wide[i] = (logstore_event){.timestamp = 5 + i, .message = big, .len = 200};
    CHECK_EQ_INT(logstore_wait(ls, logstore_append(ls, G, "wide", wide, 6000)), 0);
    free(wide);
    m.stream = "wide";
    CHECK_EQ_INT(get(ls, &m, &p), LOGSTORE_OK);
    CHECK_EQ_INT(p.n, 1024 * 1024 / 226);
    logstore_page_free(&p);
    logstore_close(ls);
}

static void test_time_ranges_and_order(void)
{
    logstore *ls = fresh(NULL);
    /* Arrival order differs from time order: reads follow time, then arrival. */
    int64_t ts[] = {300, 100, 200, 200, 400};
    const char *msgs[] = {"c", "a", "b1", "b2", "d"};
    put(ls, "s", ts, msgs, 5);
    logstore_page p;
    logstore_get_query q = {.group = G, .stream = "s", .start_from_head = 1};
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_STR(joined(&p), "a,b1,b2,c,d");
    logstore_page_free(&p);
    /* start <= timestamp < end. */
    q.range = (logstore_range){.has_start = 1, .start = 200, .has_end = 1, .end = 400};
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_STR(joined(&p), "b1,b2,c");
    logstore_page_free(&p);
    q.start_from_head = 0;
    q.limit = 2;
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_STR(joined(&p), "b2,c");
    char back[48];
    strcpy(back, p.backward);
    logstore_page_free(&p);
    q.token = back; /* the range still applies to later pages */
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_STR(joined(&p), "b1");
    logstore_page_free(&p);
    q.token = NULL;
    q.start_from_head = 1;
    q.limit = 1;
    q.range = (logstore_range){.has_start = 1, .start = 250};
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_STR(joined(&p), "c");
    char fwd[48];
    strcpy(fwd, p.forward);
    logstore_page_free(&p);
    q.token = fwd;
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_STR(joined(&p), "d");
    logstore_page_free(&p);
    /* An empty range gives no events, and tokens that still work. */
    q.token = NULL;
    q.limit = 0;
    q.range = (logstore_range){.has_start = 1, .start = 1000};
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_EQ_INT(p.n, 0);
    strcpy(fwd, p.forward);
    logstore_page_free(&p);
    int64_t later = 1500;
    const char *lm = "late";
    put(ls, "s", &later, &lm, 1);
    q.token = fwd;
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_STR(joined(&p), "late");
    logstore_page_free(&p);
    logstore_close(ls);
}

static void test_messages_keep_their_bytes(void)
{
    logstore *ls = fresh(NULL);
    logstore_event ev[] = {{.timestamp = 1, .message = "a\0b", .len = 3},
                           {.timestamp = 2, .message = "", .len = 0},
                           {.timestamp = 3, .message = "caf\xc3\xa9", .len = 5}};
    CHECK_EQ_INT(logstore_wait(ls, logstore_append(ls, G, "s", ev, 3)), 0);
    logstore_get_query q = {.group = G, .stream = "s", .start_from_head = 1};
    logstore_page p;
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_EQ_INT(p.n, 3);
    CHECK_EQ_INT(p.events[0].len, 3);
    CHECK_EQ_INT(memcmp(p.events[0].message, "a\0b", 3), 0);
    CHECK_EQ_INT(p.events[1].len, 0);
    CHECK_STR(p.events[2].message, "caf\xc3\xa9");
    logstore_page_free(&p);
    /* Negative timestamps are stored as 0. */
    logstore_event neg = {.timestamp = -5, .message = "n", .len = 1};
    CHECK_EQ_INT(logstore_wait(ls, logstore_append(ls, G, "neg", &neg, 1)), 0);
    q.stream = "neg";
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_EQ_INT(p.events[0].timestamp, 0);
    logstore_page_free(&p);
    logstore_close(ls);
}

/* The names of a listing, joined with commas. */
static const char *names(logstore *ls, logstore_streams_query *q, char **next)
{
    static char out[1024];
    logstore_stream_list l;
    char *err = NULL;
    CHECK_EQ_INT(logstore_streams(ls, q, &l, &err), LOGSTORE_OK);
    out[0] = '\0';
    for (size_t i = 0; i < l.n; i++) {
        if (i) strcat(out, ",");
        strcat(out, l.items[i].name);
    }
    *next = l.next ? strdup(l.next) : NULL;
    logstore_stream_list_free(&l);
    return out;
}

static void test_stream_listing(void)
{
    logstore *ls = fresh(NULL);
    put_seq(ls, "job/default/b", "x", 3, 3000); /* last event 3002 */
    put_seq(ls, "job/default/a", "y", 2, 5000); /* last event 5001 */
    put_seq(ls, "other/default/c", "z", 1, 1000);
    logstore_create_stream(ls, G, "job/default/empty");
    put_seq(ls, "elsewhere", "w", 1, 1);
    char *next;
    logstore_streams_query q = {.group = G};
    CHECK_STR(names(ls, &q, &next), "elsewhere,job/default/a,job/default/b,job/default/empty,"
                                    "other/default/c");
    CHECK(next == NULL);
    q.descending = 1;
    CHECK_STR(names(ls, &q, &next), "other/default/c,job/default/empty,job/default/b,"
                                    "job/default/a,elsewhere");
    q = (logstore_streams_query){.group = G, .prefix = "job/"};
    CHECK_STR(names(ls, &q, &next), "job/default/a,job/default/b,job/default/empty");
    q.prefix = "job/default/b";
    CHECK_STR(names(ls, &q, &next), "job/default/b");
    q.prefix = "zzz";
    CHECK_STR(names(ls, &q, &next), "");
    /* Paging by name, both directions. */
    q = (logstore_streams_query){.group = G, .limit = 2};
    CHECK_STR(names(ls, &q, &next), "elsewhere,job/default/a");
    CHECK(next != NULL);
    q.token = next;
    char *next2;
    CHECK_STR(names(ls, &q, &next2), "job/default/b,job/default/empty");
    free(next);
    q.token = next2;
    CHECK_STR(names(ls, &q, &next), "other/default/c");
    CHECK(next == NULL);
    free(next2);
    q = (logstore_streams_query){.group = G, .limit = 3, .descending = 1, .prefix = "job/"};
    CHECK_STR(names(ls, &q, &next), "job/default/empty,job/default/b,job/default/a");
    CHECK(next == NULL);
    /* By last event time; an empty stream has none and comes first. */
    q = (logstore_streams_query){.group = G, .by_last_event_time = 1};
    CHECK_STR(names(ls, &q, &next), "job/default/empty,elsewhere,other/default/c,"
                                    "job/default/b,job/default/a");
    q = (logstore_streams_query){.group = G, .by_last_event_time = 1, .descending = 1,
                                 .limit = 2};
    CHECK_STR(names(ls, &q, &next), "job/default/a,job/default/b");
    q.token = next;
    CHECK_STR(names(ls, &q, &next2), "other/default/c,elsewhere");
    free(next);
    q.token = next2;
    CHECK_STR(names(ls, &q, &next), "job/default/empty");
    CHECK(next == NULL);
    /* A token of one ordering is refused by the other. */
    q = (logstore_streams_query){.group = G, .token = next2};
    logstore_stream_list l;
    char *err = NULL;
    CHECK_EQ_INT(logstore_streams(ls, &q, &l, &err), LOGSTORE_INVALID);
    CHECK_CONTAINS(err, "nextToken");
    free(err);
    free(next2);
    /* The summary of a stream. */
    q = (logstore_streams_query){.group = G, .prefix = "job/default/b"};
    CHECK_EQ_INT(logstore_streams(ls, &q, &l, &err), LOGSTORE_OK);
    CHECK_EQ_INT(l.n, 1);
    CHECK_EQ_INT(l.items[0].first_timestamp, 3000);
    CHECK_EQ_INT(l.items[0].last_timestamp, 3002);
    CHECK_EQ_INT(l.items[0].events, 3);
    CHECK_EQ_INT(l.items[0].stored_bytes, 6);
    CHECK(l.items[0].creation_time > 1700000000000LL);
    CHECK(l.items[0].last_ingestion_time >= l.items[0].creation_time);
    logstore_stream_list_free(&l);
    int64_t created, bytes;
    CHECK_EQ_INT(logstore_group_info(ls, G, &created, &bytes, NULL), 0);
    CHECK_EQ_INT(bytes, 6 + 4 + 2 + 2);
    CHECK(created > 1700000000000LL);
    logstore_close(ls);
}

static const char *filtered(logstore *ls, logstore_filter_query *q, char **next)
{
    static char out[32768];
    logstore_page p;
    char *err = NULL;
    int rc = logstore_filter(ls, q, &p, &err);
    if (rc != LOGSTORE_OK) CHECK_FAIL_("logstore_filter: %s", err);
    out[0] = '\0';
    for (size_t i = 0; i < p.n; i++) {
        if (i) strcat(out, ",");
        strcat(out, p.events[i].stream);
        strcat(out, ":");
        strcat(out, p.events[i].message);
        CHECK(p.events[i].id > 0);
    }
    *next = p.next ? strdup(p.next) : NULL;
    logstore_page_free(&p);
    return out;
}

/* The same events in two stores under other ids (as a standby's log store holds the leader's
 * lines): B's events of "s" and "t" are interleaved with another stream's, written between
 * them.  Many share one millisecond, so tokens must say which of them a page ended at. */
static void fill_twin(logstore *ls, int with_noise)
{
    logstore_event ev[1];
    char msg[32];
    for (int i = 0; i < 40; i++) {
        const char *stream = i % 3 == 0 ? "t" : "s";
        snprintf(msg, sizeof msg, "%s-%02d", stream, i);
        ev[0] = (logstore_event){.timestamp = 1000 + i / 10, .message = msg, .len = strlen(msg)};
        if (with_noise) {
            for (int k = 0; k < 1 + i % 4; k++)
                CHECK_EQ_INT(logstore_wait(ls, logstore_append(ls, G, "noise", ev, 1)), 0);
        }
        CHECK_EQ_INT(logstore_wait(ls, logstore_append(ls, G, stream, ev, 1)), 0);
    }
}

static const char *messages(const logstore_page *p)
{
    static char out[4096];
    out[0] = '\0';
    for (size_t i = 0; i < p->n; i++) {
        if (i) strcat(out, ",");
        strcat(out, p->events[i].message);
    }
    return out;
}

/* A token from one store reads on in the other exactly where it would have in the first:
 * forward, backward, and through a search of two streams. */
static void test_tokens_outlive_the_store_that_issued_them(void)
{
    logstore *a = fresh(NULL), *b = fresh(NULL);
    fill_twin(a, 0);
    fill_twin(b, 1);
    char *err = NULL;
    for (int dir = 0; dir < 2; dir++) {
        logstore_get_query q = {.group = G, .stream = "s", .start_from_head = !dir, .limit = 4};
        char tok[48] = "";
        for (int page = 0; page < 10; page++) {
            q.token = page ? tok : NULL;
            logstore_page pa, pb;
            CHECK_EQ_INT(logstore_get(a, &q, &pa, &err), LOGSTORE_OK);
            CHECK_EQ_INT(logstore_get(b, &q, &pb, &err), LOGSTORE_OK);
            CHECK_STR(messages(&pb), messages(&pa));
            CHECK_STR(pb.forward, pa.forward);
            CHECK_STR(pb.backward, pa.backward);
            /* From here on, each store reads on from the other's token. */
            strcpy(tok, dir ? (page % 2 ? pb.backward : pa.backward)
                            : (page % 2 ? pb.forward : pa.forward));
            logstore_page_free(&pa);
            logstore_page_free(&pb);
        }
    }
    const char *both[] = {"s", "t"};
    char seen[2][4096];
    for (int back = 0; back < 2; back++) {
        logstore_filter_query fq = {.group = G, .streams = both, .n_streams = 2, .limit = 7,
                                    .newest_first = back};
        char *next = NULL, seen_b[4096] = "";
        char *seen_a = seen[back];
        int pages = 0;
        seen_a[0] = '\0';
        do {
            /* Pages alternate between the stores, each going on from the other's token. */
            fq.token = next;
            const char *page = filtered(pages % 2 ? b : a, &fq, &next);
            strcat(seen_a, page);
            strcat(seen_a, "|");
            free((char *)fq.token);
            pages++;
        } while (next && pages < 20);
        fq.token = NULL;
        pages = 0;
        do {
            fq.token = next;
            strcat(seen_b, filtered(b, &fq, &next));
            strcat(seen_b, "|");
            free((char *)fq.token);
            pages++;
        } while (next && pages < 20);
        CHECK_STR(seen_a, seen_b);
    }
    /* Within a millisecond, stream by stream; newest first the exact reverse. */
    CHECK_CONTAINS(seen[0], "s:s-01,s:s-02,s:s-04,s:s-05,s:s-07,s:s-08,t:t-00|t:t-03,t:t-06,"
                            "t:t-09,s:s-10,");
    CHECK_STR(seen[1], "t:t-39,t:t-36,t:t-33,t:t-30,s:s-38,s:s-37,s:s-35|s:s-34,s:s-32,s:s-31,"
                       "t:t-27,t:t-24,t:t-21,s:s-29|s:s-28,s:s-26,s:s-25,s:s-23,s:s-22,s:s-20,"
                       "t:t-18|t:t-15,t:t-12,s:s-19,s:s-17,s:s-16,s:s-14,s:s-13|s:s-11,s:s-10,"
                       "t:t-09,t:t-06,t:t-03,t:t-00,s:s-08|s:s-07,s:s-05,s:s-04,s:s-02,s:s-01|");
    logstore_close(a);
    logstore_close(b);
}

/* Streams deleted between a search's pages (retention removing finished jobs' logs) take
 * none of the kept streams' events with them: every one is read once, whichever streams go,
 * the one the last page ended in included. */
static void test_filter_pages_outlive_deleted_streams(void)
{
    logstore *ls = fresh(NULL);
    enum { STREAMS = 12, EACH = 20 };
    char name[16], msg[32];
    /* Appended in turns, so that each millisecond's ids alternate between the streams. */
    for (int i = 0; i < EACH; i++)
        for (int k = 0; k < STREAMS; k++) {
            snprintf(name, sizeof name, "job/%02d", k);
            snprintf(msg, sizeof msg, "%02d-%02d", k, i);
            logstore_event ev = {.timestamp = 5000 + i / 10, .message = msg, .len = strlen(msg)};
            CHECK_EQ_INT(logstore_wait(ls, logstore_append(ls, G, name, &ev, 1)), 0);
        }
    int count[STREAMS] = {0}, deleted[STREAMS] = {0};
    logstore_filter_query q = {.group = G, .limit = 9};
    char *token = NULL, *next = NULL;
    int pages = 0;
    do {
        q.token = token;
        logstore_page p;
        char *err = NULL;
        CHECK_EQ_INT(logstore_filter(ls, &q, &p, &err), LOGSTORE_OK);
        for (size_t i = 0; i < p.n; i++) count[atoi(p.events[i].stream + 4)]++;
        next = p.next ? strdup(p.next) : NULL;
        if (token && next) CHECK(strcmp(next, token) > 0); /* tokens only move on */
        /* After some pages, a stream already read, one not yet read, and the one this page
         * ended in. */
        int gone = pages == 2 ? 0 : pages == 4 ? 11 : -1;
        if (pages == 6 && p.n) gone = atoi(p.events[p.n - 1].stream + 4);
        if (gone >= 0 && !deleted[gone]) {
            snprintf(name, sizeof name, "job/%02d", gone);
            CHECK_EQ_INT(logstore_wait(ls, logstore_delete_stream(ls, G, name)), 0);
            deleted[gone] = 1;
        }
        logstore_page_free(&p);
        free(token);
        token = next;
        CHECK(++pages < 100);
    } while (token);
    for (int k = 0; k < STREAMS; k++) {
        if (!deleted[k]) CHECK_EQ_INT(count[k], EACH);
        CHECK(count[k] <= EACH);
    }
    int n_deleted = 0;
    for (int k = 0; k < STREAMS; k++) n_deleted += deleted[k];
    CHECK(deleted[0] && deleted[11] && n_deleted == 3);
    /* Tokens of other forms and bad ones. */
    const char *ok[] = {"f/0000000000005000.0000000000000000003", /* older: from 5000 on */
                        "f/0000000000005001..0000000000000000000"};
    for (int i = 0; i < 2; i++) {
        q.token = ok[i];
        logstore_page p;
        char *err = NULL;
        CHECK_EQ_INT(logstore_filter(ls, &q, &p, &err), LOGSTORE_OK);
        CHECK(p.n > 0);
        CHECK_EQ_INT((int)p.events[0].timestamp, 5000 + i);
        logstore_page_free(&p);
    }
    const char *bad[] = {"f/0000000000005000..0000000000000000003", /* a rank of no stream */
                         "f/0000000000005000.zz.0000000000000000003",
                         "f/0000000000005000.00.0000000000000000003",
                         "f/0000000000005000.6a.000000000000000003",
                         "b/0000000000005000.6a.0000000000000000003"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        q.token = bad[i];
        logstore_page p;
        char *err = NULL;
        if (logstore_filter(ls, &q, &p, &err) != LOGSTORE_INVALID)
            CHECK_FAIL_("token %s was taken", bad[i]);
        free(err);
    }
    logstore_close(ls);
}

static void test_filter(void)
{
    logstore *ls = fresh(NULL);
    int64_t ta[] = {10, 30, 50};
    const char *ma[] = {"ERROR disk full", "INFO ok", "ERROR again, WARN"};
    int64_t tb[] = {20, 40};
    const char *mb[] = {"WARN slow", "INFO \"quoted\" done"};
    put(ls, "job/a", ta, ma, 3);
    put(ls, "job/b", tb, mb, 2);
    put_seq(ls, "other", "INFO o", 1, 35);
    char *next;
    logstore_filter_query q = {.group = G};
    CHECK_STR(filtered(ls, &q, &next), "job/a:ERROR disk full,job/b:WARN slow,job/a:INFO ok,"
                                       "other:INFO o0,job/b:INFO \"quoted\" done,"
                                       "job/a:ERROR again, WARN");
    CHECK(next == NULL);
    q.pattern = "ERROR";
    CHECK_STR(filtered(ls, &q, &next), "job/a:ERROR disk full,job/a:ERROR again, WARN");
    q.pattern = "ERROR WARN"; /* every term */
    CHECK_STR(filtered(ls, &q, &next), "job/a:ERROR again, WARN");
    q.pattern = "\"disk full\"";
    CHECK_STR(filtered(ls, &q, &next), "job/a:ERROR disk full");
    q.pattern = "INFO -quoted";
    CHECK_STR(filtered(ls, &q, &next), "job/a:INFO ok,other:INFO o0");
    q.pattern = "?slow ?full";
    CHECK_STR(filtered(ls, &q, &next), "job/a:ERROR disk full,job/b:WARN slow");
    q.pattern = "error"; /* case-sensitive, as CloudWatch's terms are */
    CHECK_STR(filtered(ls, &q, &next), "");
    q.pattern = "  ";
    CHECK_STR(filtered(ls, &q, &next), "job/a:ERROR disk full,job/b:WARN slow,job/a:INFO ok,"
                                       "other:INFO o0,job/b:INFO \"quoted\" done,"
                                       "job/a:ERROR again, WARN");
    /* Streams by name or prefix, and a time range. */
    const char *both[] = {"job/b", "nope"};
    q = (logstore_filter_query){.group = G, .streams = both, .n_streams = 2};
    CHECK_STR(filtered(ls, &q, &next), "job/b:WARN slow,job/b:INFO \"quoted\" done");
    q = (logstore_filter_query){.group = G, .prefix = "job/"};
    /* The end included, as FilterLogEvents' endTime is ("later than this time are not
     * returned"); GetLogEvents' is not. */
    q.range = (logstore_range){.has_start = 1, .start = 20, .has_end = 1, .end = 50};
    CHECK_STR(filtered(ls, &q, &next), "job/b:WARN slow,job/a:INFO ok,"
                                       "job/b:INFO \"quoted\" done,job/a:ERROR again, WARN");
    q.range.end = 49;
    CHECK_STR(filtered(ls, &q, &next), "job/b:WARN slow,job/a:INFO ok,"
                                       "job/b:INFO \"quoted\" done");
    /* Paging. */
    q = (logstore_filter_query){.group = G, .limit = 4};
    CHECK_STR(filtered(ls, &q, &next), "job/a:ERROR disk full,job/b:WARN slow,job/a:INFO ok,"
                                       "other:INFO o0");
    CHECK(next != NULL);
    q.token = next;
    char *next2;
    CHECK_STR(filtered(ls, &q, &next2), "job/b:INFO \"quoted\" done,job/a:ERROR again, WARN");
    CHECK(next2 == NULL);
    free(next);
    /* Unsupported patterns and bad tokens are refused with a reason. */
    const char *unsupported[] = {"{ $.level = \"ERROR\" }", "[ip, user]"};
    for (int i = 0; i < 2; i++) {
        q = (logstore_filter_query){.group = G, .pattern = unsupported[i]};
        logstore_page p;
        char *err = NULL;
        CHECK_EQ_INT(logstore_filter(ls, &q, &p, &err), LOGSTORE_INVALID);
        CHECK_CONTAINS(err, "filterPattern");
        free(err);
    }
    q = (logstore_filter_query){.group = G, .token = "b/00000000000010010000000000000000002"};
    logstore_page p;
    char *err = NULL;
    CHECK_EQ_INT(logstore_filter(ls, &q, &p, &err), LOGSTORE_INVALID);
    free(err);
    logstore_close(ls);
}

/* A comma-separated list in the reverse order, in place. */
static void reverse_list(char *list)
{
    size_t n = strlen(list);
    char *copy = strdup(list), *save = NULL;
    list[0] = '\0';
    size_t at = n;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        size_t len = strlen(item);
        at -= len;
        memcpy(list + at, item, len);
        if (at) list[--at] = ',';
    }
    list[n] = '\0';
    free(copy);
}

/* Every page of a budgeted walk together gives what one unbudgeted call gives, in order, even
 * where many events share a millisecond; a pattern that matches nothing gives empty pages with
 * tokens that always move on, then an end.  Newest first, the same events in the exact reverse
 * order, and a token goes on only in the order it was issued in. */
static void test_filter_budget(void)
{
    logstore *ls = fresh(NULL);
    static char msgs[600][32];
    logstore_event ev[300];
    for (int s = 0; s < 2; s++) {
        for (int i = 0; i < 300; i++) {
            char *m = msgs[s * 300 + i];
            snprintf(m, 32, "%s %d %s", s ? "b" : "a", i, i % 7 ? "ok" : "hit");
            /* Spread out, then 60 events in one millisecond, then a gap. */
            int64_t ts = i < 100 ? 1000 + 3 * i + s : i < 160 ? 2000 : 900000 + 5 * i;
            ev[i] = (logstore_event){.timestamp = ts, .message = m, .len = strlen(m)};
        }
        CHECK_EQ_INT(logstore_wait(ls, logstore_append(ls, G, s ? "s/b" : "s/a", ev, 300)), 0);
    }
    const char *patterns[] = {"hit", "", "nothing-matches"};
    char *tokens[2] = {NULL, NULL};
    for (int k = 0; k < 6; k++) {
        int back = k >= 3;
        char *next;
        logstore_filter_query q = {.group = G, .pattern = patterns[k % 3],
                                   .scan_events = 1000000, .newest_first = back};
        char *whole = strdup(filtered(ls, &q, &next));
        CHECK(next == NULL);
        if (back) {
            /* The same pattern's list oldest first, reversed. */
            static char again[65536];
            q.newest_first = 0;
            strcpy(again, filtered(ls, &q, &next));
            q.newest_first = 1;
            reverse_list(again);
            CHECK_STR(whole, again);
        }
        static char paged[65536];
        paged[0] = '\0';
        q.scan_events = 7;
        q.limit = 5;
        int pages = 0, empty = 0;
        char *token = NULL;
        do {
            q.token = token;
            const char *got = filtered(ls, &q, &next);
            if (*got && *paged) strcat(paged, ",");
            strcat(paged, got);
            empty += !*got;
            /* Tokens only move on: up oldest first, down newest first. */
            if (token && next) CHECK(back ? strcmp(next, token) < 0 : strcmp(next, token) > 0);
            if (next && pages == 3 && !tokens[back]) tokens[back] = strdup(next);
            free(token);
            token = next;
            CHECK(++pages < 1000);
        } while (token);
        CHECK_STR(paged, whole);
        CHECK(pages >= 600 / 7);
        if (k % 3 == 2) CHECK(empty == pages);
        free(whole);
    }
    /* A token read the other way is refused, saying how to go on. */
    for (int back = 0; back < 2; back++) {
        logstore_filter_query q = {.group = G, .newest_first = back, .token = tokens[!back]};
        logstore_page p;
        char *err = NULL;
        CHECK_EQ_INT(logstore_filter(ls, &q, &p, &err), LOGSTORE_INVALID);
        CHECK_CONTAINS(err, back ? "startFromHead true" : "startFromHead false");
        free(err);
    }
    free(tokens[0]);
    free(tokens[1]);
    logstore_close(ls);
}

/* Newest first within a range: the newest event at endTime (included, as FilterLogEvents'
 * endTime is) first, nothing before startTime, and a page that ends in the middle of a
 * millisecond goes on inside it. */
static void test_filter_newest_first_in_a_range(void)
{
    logstore *ls = fresh(NULL);
    put_seq(ls, "s", "m", 6, 100); /* m0..m5 at 100..105 */
    logstore_event same[3];
    const char *msgs[] = {"x0", "x1", "x2"};
    for (int i = 0; i < 3; i++)
        same[i] = (logstore_event){.timestamp = 103, .message = msgs[i], .len = 2};
    CHECK_EQ_INT(logstore_wait(ls, logstore_append(ls, G, "s", same, 3)), 0);
    char *next;
    logstore_filter_query q = {.group = G, .newest_first = 1,
                               .range = {.has_start = 1, .start = 101, .has_end = 1, .end = 103}};
    CHECK_STR(filtered(ls, &q, &next), "s:x2,s:x1,s:x0,s:m3,s:m2,s:m1");
    CHECK(next == NULL);
    q.limit = 2;
    CHECK_STR(filtered(ls, &q, &next), "s:x2,s:x1");
    q.token = next;
    CHECK_STR(filtered(ls, &q, &next), "s:x0,s:m3");
    free((char *)q.token);
    q.token = next;
    CHECK_STR(filtered(ls, &q, &next), "s:m2,s:m1");
    free((char *)q.token);
    CHECK(next == NULL);
    logstore_close(ls);
}

static void test_reopen(void)
{
    char *dir;
    logstore *ls = fresh(&dir);
    put_seq(ls, "s", "before", 3, 100);
    logstore_get_query q = {.group = G, .stream = "s", .start_from_head = 1};
    logstore_page p;
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    char fwd[48];
    strcpy(fwd, p.forward);
    logstore_page_free(&p);
    int64_t c1, c2, b;
    CHECK_EQ_INT(logstore_group_info(ls, G, &c1, &b, NULL), 0);
    /* Queued appends are committed by close, without a wait. */
    logstore_event ev = {.timestamp = 200, .message = "queued", .len = 6};
    logstore_append(ls, G, "s", &ev, 1);
    logstore_close(ls);

    char *err = NULL;
    ls = logstore_open(dir, &err);
    if (!ls) CHECK_FAIL_("logstore_open: %s", err);
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_STR(joined(&p), "before0,before1,before2,queued");
    logstore_page_free(&p);
    /* Tokens from before the restart still work; the group keeps its creation time. */
    put_seq(ls, "s", "after", 1, 300);
    q.token = fwd;
    CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
    CHECK_STR(joined(&p), "queued,after0");
    logstore_page_free(&p);
    CHECK_EQ_INT(logstore_group_info(ls, G, &c2, &b, NULL), 0);
    CHECK_EQ_INT(c1, c2);
    logstore_close(ls);
    free(dir);
}

/* Several threads append to their own streams while others read. */
typedef struct {
    logstore *ls;
    int id;
} worker;

#define WRITERS 4
#define BATCHES 200
#define PER_BATCH 25

static void *writer(void *arg)
{
    worker *w = arg;
    char stream[32], msgs[PER_BATCH][32];
    snprintf(stream, sizeof stream, "w%d", w->id);
    for (int b = 0; b < BATCHES; b++) {
        logstore_event ev[PER_BATCH];
        for (int i = 0; i < PER_BATCH; i++) {
            snprintf(msgs[i], sizeof msgs[i], "%d", b * PER_BATCH + i);
            ev[i] = (logstore_event){.timestamp = 1000000 + b * PER_BATCH + i,
                                     .message = msgs[i], .len = strlen(msgs[i])};
        }
        uint64_t t = logstore_append(w->ls, G, stream, ev, PER_BATCH);
        if (b % 50 == 0) CHECK_EQ_INT(logstore_wait(w->ls, t), 0);
    }
    return NULL;
}

static void *reader_thread(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 200; i++) {
        logstore_get_query q = {.group = G, .stream = "w0", .start_from_head = 1, .limit = 100};
        logstore_page p;
        char *err = NULL;
        int rc = logstore_get(w->ls, &q, &p, &err);
        CHECK(rc == LOGSTORE_OK || rc == LOGSTORE_NOT_FOUND);
        free(err);
        /* Whatever is visible is a prefix of the stream, in order. */
        for (size_t j = 0; j < p.n; j++) CHECK_EQ_INT(atoi(p.events[j].message), (int)j);
        logstore_page_free(&p);
    }
    return NULL;
}

static void test_threads(void)
{
    logstore *ls = fresh(NULL);
    pthread_t t[WRITERS + 2];
    worker w[WRITERS + 2];
    for (int i = 0; i < WRITERS + 2; i++) {
        w[i] = (worker){ls, i};
        CHECK_EQ_INT(pthread_create(&t[i], NULL, i < WRITERS ? writer : reader_thread, &w[i]),
                     0);
    }
    for (int i = 0; i < WRITERS + 2; i++) pthread_join(t[i], NULL);
    /* Flush: a wait on a new ticket covers every earlier append. */
    CHECK_EQ_INT(logstore_wait(ls, logstore_append(ls, G, "flush", NULL, 0)), 0);
    for (int i = 0; i < WRITERS; i++) {
        char stream[32];
        snprintf(stream, sizeof stream, "w%d", i);
        logstore_get_query q = {.group = G, .stream = stream, .start_from_head = 1};
        logstore_page p;
        int total = 0;
        char tok[48] = "";
        for (;;) {
            q.token = tok[0] ? tok : NULL;
            CHECK_EQ_INT(get(ls, &q, &p), LOGSTORE_OK);
            for (size_t j = 0; j < p.n; j++) CHECK_EQ_INT(atoi(p.events[j].message), total + (int)j);
            total += (int)p.n;
            int end = strcmp(tok, p.forward) == 0;
            strcpy(tok, p.forward);
            logstore_page_free(&p);
            if (end) break;
        }
        CHECK_EQ_INT(total, BATCHES * PER_BATCH);
    }
    logstore_close(ls);
}

int main(void)
{
    CHECK(mkdtemp(root) != NULL);
    RUN(test_append_and_read_from_head);
    RUN(test_forward_paging_ends_with_the_same_token);
    RUN(test_backward_paging);
    RUN(test_tokens_and_unknown_streams);
    RUN(test_limits);
    RUN(test_time_ranges_and_order);
    RUN(test_messages_keep_their_bytes);
    RUN(test_stream_listing);
    RUN(test_filter);
    RUN(test_filter_budget);
    RUN(test_filter_newest_first_in_a_range);
    RUN(test_filter_pages_outlive_deleted_streams);
    RUN(test_tokens_outlive_the_store_that_issued_them);
    RUN(test_reopen);
    RUN(test_threads);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK_EQ_INT(system(cmd), 0);
    return 0;
}
