/* A log group's settings (logstore_settings.c).  Retention (PutRetentionPolicy): the events past
 * it go from every stream of the group and from no other group, the streams stay with their
 * summaries following what is left, a stream of many events goes over several batches, a
 * retention removed keeps events again, and the copy (the PostgreSQL store's, for standbys) is
 * told of the retention and of each stream's events let go, which a store reading the copy back
 * applies alike.  Tags: changed by merge patches in queue order, copied whole. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "server/base/logstore.h"
#include "check.h"
#include "logstore_testing.h"

#define DAY (24LL * 3600 * 1000)

static char root[] = "/tmp/barge-unit-logstore-settings-XXXXXX";

static logstore *fresh(void)
{
    static int n;
    char dir[256], cmd[300];
    snprintf(dir, sizeof dir, "%s/%d", root, n++);
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
    char *err = NULL;
    logstore *ls = logstore_open(dir, &err);
    if (!ls) CHECK_FAIL_("logstore_open: %s", err);
    return ls;
}

static void put(logstore *ls, const char *group, const char *stream, int64_t ts,
                const char *msg)
{
    logstore_event ev = {.timestamp = ts, .message = msg, .len = strlen(msg)};
    CHECK_EQ_INT(logstore_wait(ls, logstore_append(ls, group, stream, &ev, 1)), 0);
}

/* A stream's summary as DescribeLogStreams lists it. */
static logstore_stream_info info(logstore *ls, const char *group, const char *stream)
{
    logstore_streams_query q = {.group = group, .prefix = stream};
    logstore_stream_list l;
    char *err = NULL;
    CHECK_EQ_INT(logstore_streams(ls, &q, &l, &err), LOGSTORE_OK);
    CHECK(l.n >= 1);
    CHECK_STR(l.items[0].name, stream);
    logstore_stream_info out = l.items[0];
    out.name = NULL;
    logstore_stream_list_free(&l);
    return out;
}

/* Starts a pass and waits (up to 20 s) until it has ended. */
static void expire_now(logstore *ls)
{
    uint64_t s0, e0, s, e;
    logstore_expire_counts(ls, &s0, &e0);
    logstore_expire(ls);
    for (int i = 0; i < 2000; i++) {
        logstore_expire_counts(ls, &s, &e);
        if (s > s0 && e == s) return;
        usleep(10000);
    }
    CHECK_FAIL_("a retention pass did not end (started %llu, ended %llu)",
                (unsigned long long)s, (unsigned long long)e);
}

/* The copy: what a batch hands to it, kept as text. */
static char copied[64][200];
static int n_copied;

static int64_t keep(void *ctx, const logstore_copy_item *items, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n && n_copied < 64; i++) {
        if (!items[i].op) continue;
        /* A group's tags: their JSON in place of the arg. */
        if (items[i].op == LOGSTORE_COPY_TAGS)
            snprintf(copied[n_copied++], sizeof copied[0], "a %s %.*s", items[i].group,
                     (int)items[i].ev[0].len, items[i].ev[0].message);
        else
            snprintf(copied[n_copied++], sizeof copied[0], "%c %s %s %lld", items[i].op,
                     items[i].group, items[i].stream ? items[i].stream : "-",
                     (long long)items[i].arg);
    }
    static int64_t pos;
    return ++pos;
}

static void test_days(void)
{
    CHECK(logstore_retention_days_valid(1));
    CHECK(logstore_retention_days_valid(3653));
    CHECK(logstore_retention_days_valid(545));
    CHECK(!logstore_retention_days_valid(0));
    CHECK(!logstore_retention_days_valid(2));
    CHECK(!logstore_retention_days_valid(-1));
    CHECK(!logstore_retention_days_valid(3654));
}

static void test_events_past_retention_go(void)
{
    logstore *ls = fresh();
    int64_t now = util_now_ms(), old = now - 2 * DAY, late = now - 1000;
    put(ls, "/ret", "a", old, "old1");
    put(ls, "/ret", "a", old + 1, "old2");
    put(ls, "/ret", "a", late, "new1");
    put(ls, "/ret", "a", late + 1, "new22");
    put(ls, "/ret", "b", old, "gone");
    put(ls, "/keep", "c", old, "kept");
    /* Without a retention, a pass lets nothing go. */
    expire_now(ls);
    CHECK_STR(lt_read_all(ls, "/ret", "a"), "old1,old2,new1,new22");

    int64_t created, bytes;
    int days = -1;
    CHECK_EQ_INT(logstore_group_info(ls, "/ret", &created, &bytes, &days), LOGSTORE_OK);
    CHECK_EQ_INT(days, 0);
    CHECK_EQ_INT(logstore_wait(ls, logstore_set_retention(ls, "/ret", 1)), 0);
    CHECK_EQ_INT(logstore_group_info(ls, "/ret", &created, &bytes, &days), LOGSTORE_OK);
    CHECK_EQ_INT(days, 1);
    expire_now(ls);

    CHECK_STR(lt_read_all(ls, "/ret", "a"), "new1,new22");
    CHECK_STR(lt_read_all(ls, "/ret", "b"), ""); /* the stream stays, emptied */
    CHECK_STR(lt_read_all(ls, "/keep", "c"), "kept");
    logstore_stream_info a = info(ls, "/ret", "a"), b = info(ls, "/ret", "b");
    CHECK_EQ_INT(a.events, 2);
    CHECK_EQ_INT(a.stored_bytes, 9);
    CHECK_EQ_INT(a.first_timestamp, late);
    CHECK_EQ_INT(a.last_timestamp, late + 1);
    CHECK_EQ_INT(b.events, 0);
    CHECK_EQ_INT(b.stored_bytes, 0);
    CHECK_EQ_INT(logstore_group_info(ls, "/ret", &created, &bytes, NULL), LOGSTORE_OK);
    CHECK_EQ_INT(bytes, 9);

    /* The listing says the retention. */
    logstore_groups_query gq = {.prefix = "/ret"};
    logstore_group_list gl;
    char *err = NULL;
    CHECK_EQ_INT(logstore_groups(ls, &gq, &gl, &err), LOGSTORE_OK);
    CHECK_EQ_INT(gl.n, 1);
    CHECK_EQ_INT(gl.items[0].retention_days, 1);
    logstore_group_list_free(&gl);

    /* An emptied stream takes new events as before. */
    put(ls, "/ret", "b", late, "again");
    b = info(ls, "/ret", "b");
    CHECK_EQ_INT(b.events, 1);
    CHECK_EQ_INT(b.first_timestamp, late);

    /* Without the retention again, old events are kept. */
    CHECK_EQ_INT(logstore_wait(ls, logstore_set_retention(ls, "/ret", 0)), 0);
    put(ls, "/ret", "a", old, "old3");
    expire_now(ls);
    CHECK_STR(lt_read_all(ls, "/ret", "a"), "old3,new1,new22");
    logstore_close(ls);
}

/* More events than one batch deletes go over several, and every stream is reached. */
static void test_many_events_and_streams(void)
{
    logstore *ls = fresh();
    int64_t now = util_now_ms(), old = now - 10 * DAY;
    lt_put_many(ls, "/big", "many", old, 12000);
    put(ls, "/big", "many", now, "kept");
    /* Streams of other groups between them, more than a slice looks at. */
    uint64_t t = 0;
    for (int i = 0; i < 2500; i++) {
        char name[32];
        snprintf(name, sizeof name, "other-%d", i);
        logstore_event one = {old, "o", 1};
        t = logstore_append(ls, "/other", name, &one, 1);
    }
    CHECK_EQ_INT(logstore_wait(ls, t), 0);
    put(ls, "/big", "last", old, "gone");
    CHECK_EQ_INT(logstore_wait(ls, logstore_set_retention(ls, "/big", 7)), 0);
    expire_now(ls);
    CHECK_STR(lt_read_all(ls, "/big", "many"), "kept");
    CHECK_EQ_INT(info(ls, "/big", "many").events, 1);
    CHECK_STR(lt_read_all(ls, "/big", "last"), "");
    CHECK_STR(lt_read_all(ls, "/other", "other-2499"), "o"); /* no retention there */
    logstore_close(ls);
}

/* A pass asked for while one runs runs once that one ends, from the top: a retention set
 * meanwhile reaches streams the running pass had already passed.  The running pass is held in
 * its first batch (by the copy, which the writer calls inside it) while the retention is set
 * and the second pass asked for, so that the one is surely running when the other is asked. */
static void test_a_pass_asked_for_during_one(void)
{
    logstore *ls = fresh();
    int64_t old = util_now_ms() - 10 * DAY;
    /* /late's stream first, so that the running pass has looked at it (empty) already. */
    logstore_create_stream(ls, "/late", "first");
    lt_put_many(ls, "/busy", "big", old, 100);
    CHECK_EQ_INT(logstore_wait(ls, logstore_set_retention(ls, "/busy", 1)), 0);
    uint64_t s0, e0, s, e;
    logstore_expire_counts(ls, &s0, &e0);
    lt_gate_close(ls);
    logstore_expire(ls);
    lt_gate_wait();
    /* Held: queued, not waited for. */
    logstore_event ev = {old, "old", 3};
    uint64_t t1 = logstore_append(ls, "/late", "first", &ev, 1);
    uint64_t t2 = logstore_set_retention(ls, "/late", 1);
    logstore_expire(ls);
    logstore_expire_counts(ls, &s, &e);
    CHECK_EQ_INT((int)(s - s0), 1); /* asked for, not started: one runs */
    lt_gate_open();
    CHECK_EQ_INT(logstore_wait(ls, t1), 0);
    CHECK_EQ_INT(logstore_wait(ls, t2), 0);
    for (int i = 0; i < 2000; i++) {
        logstore_expire_counts(ls, &s, &e);
        if (s >= s0 + 2 && e == s) break;
        usleep(10000);
    }
    CHECK(s >= s0 + 2 && e == s);
    CHECK_STR(lt_read_all(ls, "/late", "first"), "");
    CHECK_STR(lt_read_all(ls, "/busy", "big"), "");
    logstore_set_copy(ls, NULL, NULL);
    logstore_close(ls);
}

/* A stream being deleted (a large one takes several batches) is no stream to trim: a pass
 * meanwhile neither fails (its summary still counted the events already gone) nor copies a
 * trim of it; what was queued with them is stored. */
static void test_a_stream_being_deleted(void)
{
    logstore *ls = fresh();
    n_copied = 0;
    logstore_set_copy(ls, keep, NULL);
    int64_t old = util_now_ms() - 10 * DAY;
    lt_put_many(ls, "/del", "going", old, 8000);
    CHECK_EQ_INT(logstore_wait(ls, logstore_set_retention(ls, "/del", 1)), 0);
    logstore_delete_stream(ls, "/del", "going");
    expire_now(ls);
    put(ls, "/del", "after", util_now_ms(), "kept");
    CHECK_STR(lt_read_all(ls, "/del", "after"), "kept");
    CHECK_STR(lt_read_all(ls, "/del", "going"), "missing");
    for (int i = 0; i < n_copied; i++) CHECK(strncmp(copied[i], "t ", 2) != 0);
    logstore_set_copy(ls, NULL, NULL);
    logstore_close(ls);
}

static void test_copied_and_read_back(void)
{
    logstore *ls = fresh();
    logstore_set_copy(ls, keep, NULL);
    int64_t now = util_now_ms(), old = now - 5 * DAY;
    put(ls, "/cp", "s", old, "old");
    put(ls, "/cp", "s", now, "new");
    int64_t before = util_now_ms();
    CHECK_EQ_INT(logstore_wait(ls, logstore_set_retention(ls, "/cp", 3)), 0);
    expire_now(ls);
    int64_t after = util_now_ms();
    CHECK_EQ_INT(n_copied, 2);
    CHECK_STR(copied[0], "r /cp - 3");
    long long cut = 0;
    CHECK_EQ_INT(sscanf(copied[1], "t /cp s %lld", &cut), 1);
    CHECK(cut >= before - 3 * DAY && cut <= after - 3 * DAY);
    logstore_set_copy(ls, NULL, NULL);
    logstore_close(ls);

    /* Another store reading the copy back: the retention and the trim apply there too. */
    logstore *sb = fresh();
    logstore_event ev[2] = {{old, "old", 3}, {now, "new", 3}};
    logstore_copy_item items[4] = {
        {.group = "/cp", .stream = "s", .ev = ev, .n = 2},
        {.group = "/cp", .op = LOGSTORE_COPY_RETAIN, .arg = 3},
        {.group = "/cp", .stream = "s", .op = LOGSTORE_COPY_TRIM, .arg = cut},
        {.group = "/cp", .stream = "nothing", .op = LOGSTORE_COPY_TRIM, .arg = cut},
    };
    CHECK_EQ_INT(logstore_wait(sb, logstore_import(sb, items, 4, 42)), 0);
    CHECK_STR(lt_read_all(sb, "/cp", "s"), "new");
    CHECK_EQ_INT(info(sb, "/cp", "s").events, 1);
    int64_t created, bytes;
    int days;
    CHECK_EQ_INT(logstore_group_info(sb, "/cp", &created, &bytes, &days), LOGSTORE_OK);
    CHECK_EQ_INT(days, 3);
    CHECK_EQ_INT(logstore_copied(sb), 42);
    logstore_close(sb);
}

static const char *tags_of(logstore *ls, const char *group)
{
    static char out[1024];
    char *json = NULL;
    int rc = logstore_group_tags(ls, group, &json);
    if (rc == LOGSTORE_NOT_FOUND) return "missing";
    CHECK_EQ_INT(rc, LOGSTORE_OK);
    snprintf(out, sizeof out, "%s", json);
    free(json);
    return out;
}

static void test_tags(void)
{
    logstore *ls = fresh();
    n_copied = 0;
    logstore_set_copy(ls, keep, NULL);
    CHECK_EQ_INT(logstore_wait(ls, logstore_create_group(ls, "/t")), 0);
    CHECK_STR(tags_of(ls, "/t"), "{}");
    CHECK_STR(tags_of(ls, "/none"), "missing");
    /* Changes queued together all count, in order. */
    logstore_tag_group(ls, "/t", "{\"a\":\"1\",\"b\":\"2\"}");
    logstore_tag_group(ls, "/t", "{\"b\":null,\"c\":\"3\"}");
    CHECK_EQ_INT(logstore_wait(ls, logstore_tag_group(ls, "/t", "{\"a\":\"one\"}")), 0);
    CHECK_STR(tags_of(ls, "/t"), "{\"a\":\"one\",\"c\":\"3\"}");
    /* A group that does not exist gets nothing, and nothing goes to the copy for it. */
    CHECK_EQ_INT(logstore_wait(ls, logstore_tag_group(ls, "/none", "{\"x\":\"y\"}")), 0);
    CHECK_STR(tags_of(ls, "/none"), "missing");
    /* The copy has the tags after each change, whole. */
    CHECK_EQ_INT(n_copied, 3);
    CHECK_STR(copied[0], "a /t {\"a\":\"1\",\"b\":\"2\"}");
    CHECK_STR(copied[1], "a /t {\"a\":\"1\",\"c\":\"3\"}");
    CHECK_STR(copied[2], "a /t {\"a\":\"one\",\"c\":\"3\"}");
    logstore_set_copy(ls, NULL, NULL);
    /* A group deleted and made again starts without tags. */
    CHECK_EQ_INT(logstore_wait(ls, logstore_delete_group(ls, "/t")), 0);
    CHECK_EQ_INT(logstore_wait(ls, logstore_create_group(ls, "/t")), 0);
    CHECK_STR(tags_of(ls, "/t"), "{}");
    logstore_close(ls);

    /* Read back from the copy: the whole tags replace the group's. */
    logstore *sb = fresh();
    const char *whole = "{\"k\":\"v\"}";
    logstore_event ev = {.message = whole, .len = strlen(whole)};
    logstore_copy_item items[2] = {
        {.group = "/t"},
        {.group = "/t", .ev = &ev, .n = 1, .op = LOGSTORE_COPY_TAGS},
    };
    CHECK_EQ_INT(logstore_wait(sb, logstore_import(sb, items, 2, 7)), 0);
    CHECK_STR(tags_of(sb, "/t"), "{\"k\":\"v\"}");
    logstore_close(sb);
}

int main(void)
{
    CHECK(mkdtemp(root) != NULL);
    RUN(test_days);
    RUN(test_events_past_retention_go);
    RUN(test_many_events_and_streams);
    RUN(test_copied_and_read_back);
    RUN(test_a_stream_being_deleted);
    RUN(test_a_pass_asked_for_during_one);
    RUN(test_tags);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK_EQ_INT(system(cmd), 0);
    return 0;
}
