/* logstore.c's groups: making them, their summaries and listing, appends that find a stream by
 * its name alone, CloudWatch's naming rules, and the upgrade of a store written before groups
 * were records of their own. */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "server/base/logstore.h"
#include "check.h"
#include "logstore_testing.h"

#define G LOGSTORE_BATCH_GROUP

static char root[] = "/tmp/barge-unit-logstore-groups-XXXXXX";

static char *fresh_dir(void)
{
    static int n;
    char *dir = malloc(strlen(root) + 16);
    sprintf(dir, "%s/%d", root, n++);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
    return dir;
}

static logstore *open_at(const char *dir)
{
    char *err = NULL;
    logstore *ls = logstore_open(dir, &err);
    if (!ls) CHECK_FAIL_("logstore_open: %s", err);
    return ls;
}

static void put(logstore *ls, const char *group, const char *stream, const char *msg)
{
    logstore_event ev = {.timestamp = 1000, .message = msg, .len = strlen(msg)};
    CHECK_EQ_INT(logstore_wait(ls, logstore_append(ls, group, stream, &ev, 1)), 0);
}

static void put_by_name(logstore *ls, const char *stream, const char *msg)
{
    logstore_event ev = {.timestamp = 2000, .message = msg, .len = strlen(msg)};
    CHECK_EQ_INT(logstore_wait(ls, logstore_append_by_name(ls, G, stream, &ev, 1)), 0);
}

static void test_names(void)
{
    CHECK(logstore_group_name_valid("/aws/batch/job"));
    CHECK(logstore_group_name_valid("a.b-c_d/e#f09AZ"));
    CHECK(!logstore_group_name_valid(""));
    CHECK(!logstore_group_name_valid(NULL));
    CHECK(!logstore_group_name_valid("has space"));
    CHECK(!logstore_group_name_valid("a:b"));
    CHECK(!logstore_group_name_valid("\xc3\xa9t\xc3\xa9"));
    char name[LOGSTORE_NAME_MAX + 2];
    memset(name, 'g', sizeof name);
    name[LOGSTORE_NAME_MAX] = '\0';
    CHECK(logstore_group_name_valid(name));
    CHECK(logstore_stream_name_valid(name));
    name[LOGSTORE_NAME_MAX] = 'g';
    name[LOGSTORE_NAME_MAX + 1] = '\0';
    CHECK(!logstore_group_name_valid(name));
    CHECK(!logstore_stream_name_valid(name));
    CHECK(logstore_stream_name_valid("p/default/0123 with space"));
    CHECK(!logstore_stream_name_valid("a*b"));
    CHECK(!logstore_stream_name_valid(""));
}

static void test_groups_exist_once_made(void)
{
    char *dir = fresh_dir();
    logstore *ls = open_at(dir);
    int64_t created, bytes;
    CHECK_EQ_INT(logstore_group_info(ls, "/made", &created, &bytes, NULL), LOGSTORE_NOT_FOUND);
    CHECK_EQ_INT(logstore_wait(ls, logstore_create_group(ls, "/made")), 0);
    CHECK_EQ_INT(logstore_group_info(ls, "/made", &created, &bytes, NULL), LOGSTORE_OK);
    CHECK(created > 1700000000000LL);
    CHECK_EQ_INT(bytes, 0);
    /* Making it again keeps its creation time. */
    int64_t again;
    usleep(2000);
    CHECK_EQ_INT(logstore_wait(ls, logstore_create_group(ls, "/made")), 0);
    CHECK_EQ_INT(logstore_group_info(ls, "/made", &again, &bytes, NULL), LOGSTORE_OK);
    CHECK_EQ_INT(again, created);
    /* The first stream makes its group; bytes add up per group. */
    put(ls, "/by/stream", "s", "abc");
    put(ls, "/by/stream", "t", "de");
    put(ls, "/made", "s", "x");
    CHECK_EQ_INT(logstore_group_info(ls, "/by/stream", &created, &bytes, NULL), LOGSTORE_OK);
    CHECK_EQ_INT(bytes, 5);
    CHECK_EQ_INT(logstore_group_info(ls, "/made", &created, &bytes, NULL), LOGSTORE_OK);
    CHECK_EQ_INT(bytes, 1);
    /* Streams of the same name in two groups are apart. */
    CHECK_STR(lt_read_all(ls, "/by/stream", "s"), "abc");
    CHECK_STR(lt_read_all(ls, "/made", "s"), "x");
    logstore_close(ls);
    /* Groups survive a reopen, with their creation times. */
    ls = open_at(dir);
    int64_t reopened;
    CHECK_EQ_INT(logstore_group_info(ls, "/made", &reopened, &bytes, NULL), LOGSTORE_OK);
    CHECK_EQ_INT(reopened, again);
    CHECK_EQ_INT(logstore_group_info(ls, "/by/stream", &created, &bytes, NULL), LOGSTORE_OK);
    CHECK_EQ_INT(bytes, 5);
    logstore_close(ls);
    free(dir);
}

/* The names of a listing page joined with commas. */
static const char *listed(logstore *ls, logstore_groups_query *q, char **next)
{
    static char out[1024];
    logstore_group_list l;
    char *err = NULL;
    int rc = logstore_groups(ls, q, &l, &err);
    if (rc != LOGSTORE_OK) CHECK_FAIL_("logstore_groups: %s", err);
    out[0] = '\0';
    for (size_t i = 0; i < l.n; i++) {
        if (i) strcat(out, ",");
        strcat(out, l.items[i].name);
        CHECK(l.items[i].creation_time > 1700000000000LL);
    }
    *next = l.next ? strdup(l.next) : NULL;
    logstore_group_list_free(&l);
    return out;
}

static void test_group_listing(void)
{
    char *dir = fresh_dir();
    logstore *ls = open_at(dir);
    const char *names[] = {"/b/two", "/a/one", "/b/three", "/c/Four", G};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        CHECK_EQ_INT(logstore_wait(ls, logstore_create_group(ls, names[i])), 0);
    char *next;
    logstore_groups_query q = {0};
    CHECK_STR(listed(ls, &q, &next), "/a/one,/aws/batch/job,/b/three,/b/two,/c/Four");
    CHECK(next == NULL);
    q = (logstore_groups_query){.prefix = "/b/"};
    CHECK_STR(listed(ls, &q, &next), "/b/three,/b/two");
    q = (logstore_groups_query){.pattern = "FOUR"};
    CHECK_STR(listed(ls, &q, &next), "/c/Four");
    q = (logstore_groups_query){.pattern = "E"};
    CHECK_STR(listed(ls, &q, &next), "/a/one,/b/three");
    q = (logstore_groups_query){.prefix = "/b/", .pattern = "w"};
    CHECK_STR(listed(ls, &q, &next), "/b/two");
    /* Pages of two, each resuming after the last name of the one before. */
    q = (logstore_groups_query){.limit = 2};
    CHECK_STR(listed(ls, &q, &next), "/a/one,/aws/batch/job");
    CHECK(next != NULL);
    q.token = next;
    char *next2;
    CHECK_STR(listed(ls, &q, &next2), "/b/three,/b/two");
    free(next);
    q.token = next2;
    CHECK_STR(listed(ls, &q, &next), "/c/Four");
    CHECK(next == NULL);
    free(next2);
    /* A token this listing did not issue. */
    logstore_group_list l;
    char *err = NULL;
    q = (logstore_groups_query){.token = "n/2f61"};
    CHECK_EQ_INT(logstore_groups(ls, &q, &l, &err), LOGSTORE_INVALID);
    CHECK_CONTAINS(err, "nextToken");
    free(err);
    logstore_close(ls);
    free(dir);
}

static void test_append_by_name(void)
{
    char *dir = fresh_dir();
    logstore *ls = open_at(dir);
    /* A stream made in a group of its own is found by its name; queued after its making,
     * without a wait in between, it is still found. */
    logstore_create_stream(ls, "/jobs/mine", "app/default/1");
    put_by_name(ls, "app/default/1", "one");
    CHECK_STR(lt_read_all(ls, "/jobs/mine", "app/default/1"), "one");
    CHECK_STR(lt_read_all(ls, G, "app/default/1"), "missing");
    /* An unknown stream is made in the fallback group. */
    put_by_name(ls, "new/default/2", "two");
    CHECK_STR(lt_read_all(ls, G, "new/default/2"), "two");
    /* With the name in two groups, the stream made last takes the events. */
    logstore_create_stream(ls, "/jobs/other", "new/default/2");
    put_by_name(ls, "new/default/2", "three");
    CHECK_STR(lt_read_all(ls, "/jobs/other", "new/default/2"), "three");
    CHECK_STR(lt_read_all(ls, G, "new/default/2"), "two");
    logstore_close(ls);
    /* After a reopen, as after a restart of the server. */
    ls = open_at(dir);
    put_by_name(ls, "app/default/1", "four");
    CHECK_STR(lt_read_all(ls, "/jobs/mine", "app/default/1"), "one,four");
    logstore_close(ls);
    free(dir);
}

/* A store of schema version 1, as barge wrote it before groups had records: /aws/batch/job
 * keeps the store's creation time, another group takes its first stream's, and its streams are
 * found by name. */
static void test_upgrade_from_version_1(void)
{
    char *dir = fresh_dir();
    char path[256];
    snprintf(path, sizeof path, "%s/logs.db", dir);
    sqlite3 *db;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    const char *v1 =
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE streams (id INTEGER PRIMARY KEY, grp TEXT NOT NULL, name TEXT NOT NULL,"
        "  created INTEGER NOT NULL, first_ts INTEGER NOT NULL DEFAULT -1,"
        "  last_ts INTEGER NOT NULL DEFAULT -1, last_ingest INTEGER NOT NULL DEFAULT -1,"
        "  events INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,"
        "  UNIQUE (grp, name));"
        "CREATE INDEX streams_by_last ON streams(grp, last_ts);"
        "CREATE TABLE events (id INTEGER PRIMARY KEY, stream INTEGER NOT NULL,"
        "  ts INTEGER NOT NULL, ingest INTEGER NOT NULL, msg TEXT NOT NULL);"
        "CREATE INDEX events_by_time ON events(stream, ts);"
        "INSERT INTO meta VALUES ('created', 1700000000001);"
        "INSERT INTO streams(grp, name, created, events, bytes) VALUES"
        "  ('/aws/batch/job', 'jd/default/1', 1700000000500, 0, 0),"
        "  ('/old', 'x/default/1', 1700000000700, 0, 0),"
        "  ('/old', 'x/default/2', 1700000000600, 0, 0);"
        "PRAGMA user_version = 1;";
    CHECK_EQ_INT(sqlite3_exec(db, v1, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    logstore *ls = open_at(dir);
    int64_t created, bytes;
    CHECK_EQ_INT(logstore_group_info(ls, G, &created, &bytes, NULL), LOGSTORE_OK);
    CHECK_EQ_INT(created, 1700000000001LL);
    CHECK_EQ_INT(logstore_group_info(ls, "/old", &created, &bytes, NULL), LOGSTORE_OK);
    CHECK_EQ_INT(created, 1700000000600LL);
    put_by_name(ls, "x/default/1", "late");
    CHECK_STR(lt_read_all(ls, "/old", "x/default/1"), "late");
    logstore_close(ls);
    free(dir);
}

/* Rows of the store's file, counted by a query of its own (the store is open: WAL). */
static long long count_rows(const char *dir, const char *sql)
{
    char path[256];
    snprintf(path, sizeof path, "%s/logs.db", dir);
    sqlite3 *db;
    sqlite3_stmt *st;
    long long n = -1;
    CHECK_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Runs sql on the store's file while no logstore has it open (a state an earlier run left). */
static void exec_sql(const char *dir, const char *sql)
{
    char path[256];
    snprintf(path, sizeof path, "%s/logs.db", dir);
    sqlite3 *db;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* Waits (up to 20 s) until no deleted group's streams are left. */
static void wait_hidden_gone(const char *dir)
{
    for (int i = 0; i < 2000; i++) {
        if (count_rows(dir, "SELECT count(*) FROM streams WHERE grp LIKE 'deleted:%'") == 0)
            return;
        usleep(10000);
    }
    CHECK_FAIL_("a deleted group's streams were not removed");
}

/* DeleteLogGroup: the group and its streams go from every lookup with the first batch, their
 * events over several; a group made again under the name meanwhile (before the later batches)
 * is a new one that the deletion leaves alone, and an upload by name does not find the deleted
 * streams.  A deletion cut short (a killed server) is finished by the next open. */
static void test_delete_group(void)
{
    char *dir = fresh_dir();
    logstore *ls = open_at(dir);
    lt_put_many(ls, "/gone", "a", 0, 12000); /* more than one batch of the writer's deletion */
    put(ls, "/gone", "b", "old b");
    put(ls, "/kept", "k", "kept");
    uint64_t del = logstore_delete_group(ls, "/gone");
    logstore_create_group(ls, "/gone");
    put(ls, "/gone", "a", "new a");
    CHECK_EQ_INT(logstore_wait(ls, del), 0);
    wait_hidden_gone(dir);
    int64_t created, bytes;
    CHECK_EQ_INT(logstore_group_info(ls, "/gone", &created, &bytes, NULL), LOGSTORE_OK);
    CHECK_STR(lt_read_all(ls, "/gone", "a"), "new a");
    CHECK_STR(lt_read_all(ls, "/gone", "b"), "missing");
    CHECK_STR(lt_read_all(ls, "/kept", "k"), "kept");
    put_by_name(ls, "b", "b by name");
    CHECK_STR(lt_read_all(ls, G, "b"), "b by name");
    CHECK_EQ_INT(count_rows(dir, "SELECT count(*) FROM events"), 3);
    /* Deleted, and nothing made again: gone. */
    CHECK_EQ_INT(logstore_wait(ls, logstore_delete_group(ls, "/kept")), 0);
    CHECK_EQ_INT(logstore_group_info(ls, "/kept", &created, &bytes, NULL), LOGSTORE_NOT_FOUND);
    CHECK_STR(lt_read_all(ls, "/kept", "k"), "missing");
    logstore_close(ls);
    /* A deletion cut short: its streams are still in their hidden group when the store opens. */
    exec_sql(dir, "INSERT INTO streams(id, grp, name, created) VALUES"
                  "  (900, 'deleted:7:/cut', 's', 1), (901, 'deleted:7:/cut', 't', 1);"
                  "INSERT INTO events(stream, ts, ingest, msg) VALUES"
                  "  (900, 1, 1, 'a'), (900, 2, 1, 'b'), (901, 1, 1, 'c');");
    ls = open_at(dir);
    wait_hidden_gone(dir);
    CHECK_EQ_INT(count_rows(dir, "SELECT count(*) FROM events WHERE stream IN (900, 901)"), 0);
    CHECK_STR(lt_read_all(ls, "/gone", "a"), "new a");
    logstore_close(ls);
    free(dir);
}

/* A stream's deletion goes on with the stream it found, even when the stream's row is gone
 * meanwhile (its group's deletion finished it) and SQLite gives the row's id to a stream made
 * again under the name: that one keeps its events.  The writer is held in the stream
 * deletion's first batch while the rest is queued, so that the group's deletion comes before
 * the stream deletion's second batch. */
static void test_a_stream_deleted_keeps_to_its_own_row(void)
{
    char *dir = fresh_dir();
    logstore *ls = open_at(dir);
    lt_put_many(ls, "/g4", "s", 0, 8000); /* more than one batch of the deletion, less than two */
    lt_gate_close(ls);
    uint64_t del = logstore_delete_stream(ls, "/g4", "s");
    lt_gate_wait();
    logstore_delete_group(ls, "/g4");
    logstore_create_group(ls, "/g4");
    logstore_event again = {.timestamp = 1000, .message = "new s", .len = 5};
    uint64_t made = logstore_append(ls, "/g4", "s", &again, 1);
    lt_gate_open();
    CHECK_EQ_INT(logstore_wait(ls, del), 0);
    CHECK_EQ_INT(logstore_wait(ls, made), 0);
    wait_hidden_gone(dir);
    put(ls, "/other", "o", "after"); /* queued behind whatever deletion is left */
    CHECK_EQ_INT(count_rows(dir, "SELECT count(*) FROM events"), 2);
    CHECK_STR(lt_read_all(ls, "/g4", "s"), "new s");
    /* The copy is told of each deletion once, by the names deleted (not the hidden group). */
    pthread_mutex_lock(&lt_gate_mu);
    CHECK_EQ_INT(lt_gate_n_drops, 2);
    CHECK_STR(lt_gate_drops[0], "/g4 s");
    CHECK_STR(lt_gate_drops[1], "/g4 -");
    pthread_mutex_unlock(&lt_gate_mu);
    logstore_set_copy(ls, NULL, NULL);
    logstore_close(ls);
    free(dir);
}

/* A deletion's later batch that fails (a full disk, a copy that refused it) is not lost: the
 * deleted stream is hidden already and its caller told, so its events go once the store
 * writes again, with the next item queued.  The writer is held in the deletion's first batch
 * while the store is made to fail. */
static void test_a_deletion_outlives_a_failed_batch(void)
{
    char *dir = fresh_dir();
    char fault[300];
    snprintf(fault, sizeof fault, "%s/fault", dir);
    setenv("BARGE_FAULT_LOGSTORE", fault, 1);
    logstore *ls = open_at(dir);
    unsetenv("BARGE_FAULT_LOGSTORE");
    lt_put_many(ls, "/g5", "s", 0, 12000);
    lt_gate_close(ls);
    uint64_t del = logstore_delete_stream(ls, "/g5", "s");
    lt_gate_wait();
    FILE *f = fopen(fault, "w");
    CHECK(f != NULL);
    fclose(f);
    lt_gate_open();
    CHECK_EQ_INT(logstore_wait(ls, del), 0); /* its first batch: the stream is gone */
    CHECK_STR(lt_read_all(ls, "/g5", "s"), "missing");
    /* The next batch fails (waited for through an append that fails with it). */
    logstore_event one = {.timestamp = 1, .message = "lost", .len = 4};
    CHECK_EQ_INT(logstore_wait(ls, logstore_append(ls, "/g5", "t", &one, 1)), -1);
    CHECK(count_rows(dir, "SELECT count(*) FROM events") > 0);
    unlink(fault);
    put(ls, "/g5", "u", "after");
    wait_hidden_gone(dir);
    CHECK_EQ_INT(count_rows(dir, "SELECT count(*) FROM events"), 1);
    logstore_set_copy(ls, NULL, NULL);
    logstore_close(ls);
    free(dir);
}

/* A stream's deletion that takes several batches goes on with that stream, whatever is made
 * under its name meanwhile; a group deleted while an earlier run's deletion of it is still
 * being finished does not collide with it. */
static void test_deletions_keep_to_what_they_found(void)
{
    char *dir = fresh_dir();
    logstore *ls = open_at(dir);
    lt_put_many(ls, "/g2", "s", 0, 12000);
    uint64_t del = logstore_delete_stream(ls, "/g2", "s");
    logstore_delete_group(ls, "/g2");
    logstore_create_group(ls, "/g2");
    put(ls, "/g2", "s", "new s");
    CHECK_EQ_INT(logstore_wait(ls, del), 0);
    wait_hidden_gone(dir);
    for (int i = 0; i < 2000 && count_rows(dir, "SELECT count(*) FROM events") != 1; i++)
        usleep(10000);
    CHECK_EQ_INT(count_rows(dir, "SELECT count(*) FROM events"), 1);
    CHECK_STR(lt_read_all(ls, "/g2", "s"), "new s");
    logstore_close(ls);
    /* An earlier run's deletion of /g3, cut short, and a new one of /g3 at once. */
    exec_sql(dir, "INSERT INTO streams(id, grp, name, created) VALUES"
                  "  (950, 'deleted:1.1:/g3', 's', 1), (951, 'deleted:3:/g3', 's', 1);"
                  "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 11999)"
                  " INSERT INTO events(stream, ts, ingest, msg) SELECT 950, i, 1, 'o' FROM n;");
    ls = open_at(dir);
    put(ls, "/g3", "s", "x");
    CHECK_EQ_INT(logstore_wait(ls, logstore_delete_group(ls, "/g3")), 0);
    put(ls, "/kept3", "k", "still here");
    wait_hidden_gone(dir);
    CHECK_STR(lt_read_all(ls, "/kept3", "k"), "still here");
    logstore_close(ls);
    free(dir);
}

int main(void)
{
    CHECK(mkdtemp(root) != NULL);
    RUN(test_names);
    RUN(test_groups_exist_once_made);
    RUN(test_group_listing);
    RUN(test_append_by_name);
    RUN(test_upgrade_from_version_1);
    RUN(test_delete_group);
    RUN(test_deletions_keep_to_what_they_found);
    RUN(test_a_stream_deleted_keeps_to_its_own_row);
    RUN(test_a_deletion_outlives_a_failed_batch);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    CHECK_EQ_INT(system(cmd), 0);
    return 0;
}
