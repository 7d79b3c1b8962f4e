/* store_sqlite.c: records, transactions, reopening, and the schema-version check. */
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "server/base/store.h"
#include "check.h"

static char dir[] = "/tmp/barge-unit-store-XXXXXX";

static store *open_ok(void)
{
    char *err = NULL;
    store *s = store_sqlite_open(dir, STORE_SYNC_FULL, &err);
    if (!s) CHECK_FAIL_("store_sqlite_open: %s", err);
    CHECK(err == NULL);
    return s;
}

/* Collects a scan as "key=doc;key=doc;" and stops after `stop_after` records when set. */
typedef struct {
    char out[1024];
    int seen, stop_after;
} collected;

static int collect(void *arg, const char *key, const char *doc, size_t len)
{
    collected *c = arg;
    size_t used = strlen(c->out);
    snprintf(c->out + used, sizeof c->out - used, "%s=%.*s;", key, (int)len, doc);
    c->seen++;
    return c->stop_after && c->seen >= c->stop_after ? 7 : 0;
}

static const char *scan(store *s, const char *kind)
{
    static collected c;
    memset(&c, 0, sizeof c);
    CHECK_EQ_INT(store_scan(s, kind, collect, &c), 0);
    return c.out;
}

static void put(store *s, const char *kind, const char *key, const char *doc)
{
    CHECK_EQ_INT(store_put(s, kind, key, doc, strlen(doc)), 0);
}

static void test_put_del_scan(void)
{
    store *s = open_ok();
    CHECK_STR(scan(s, "ce"), "");
    CHECK_EQ_INT(store_begin(s), 0);
    put(s, "ce", "b", "{\"n\":2}");
    put(s, "ce", "a", "{\"n\":1}");
    put(s, "jq", "a", "{\"q\":1}");
    CHECK_EQ_INT(store_commit(s), 0);
    /* Key order, and kinds kept apart. */
    CHECK_STR(scan(s, "ce"), "a={\"n\":1};b={\"n\":2};");
    CHECK_STR(scan(s, "jq"), "a={\"q\":1};");
    CHECK_EQ_INT(store_begin(s), 0);
    put(s, "ce", "a", "{\"n\":11}"); /* replaces */
    CHECK_EQ_INT(store_del(s, "ce", "b"), 0);
    CHECK_EQ_INT(store_del(s, "ce", "absent"), 0);
    CHECK_EQ_INT(store_commit(s), 0);
    CHECK_STR(scan(s, "ce"), "a={\"n\":11};");
    /* A length shorter than the string stores only that much. */
    CHECK_EQ_INT(store_begin(s), 0);
    CHECK_EQ_INT(store_put(s, "sp", "p", "{}trailing", 2), 0);
    CHECK_EQ_INT(store_commit(s), 0);
    CHECK_STR(scan(s, "sp"), "p={};");
    /* A scan stops when the callback says so, and passes its value on. */
    CHECK_EQ_INT(store_begin(s), 0);
    put(s, "ce", "b", "{}");
    put(s, "ce", "c", "{}");
    CHECK_EQ_INT(store_commit(s), 0);
    collected c = {.stop_after = 2};
    CHECK_EQ_INT(store_scan(s, "ce", collect, &c), 7);
    CHECK_EQ_INT(c.seen, 2);
    /* The statement was reset: the next scan starts from the beginning. */
    CHECK_STR(scan(s, "ce"), "a={\"n\":11};b={};c={};");
    store_close(s);
}

static void test_rollback(void)
{
    store *s = open_ok();
    CHECK_EQ_INT(store_begin(s), 0);
    put(s, "ce", "x", "{}");
    CHECK_EQ_INT(store_del(s, "ce", "a"), 0);
    store_rollback(s);
    CHECK_STR(scan(s, "ce"), "a={\"n\":11};b={};c={};");
    /* A rollback outside a transaction is harmless. */
    store_rollback(s);
    /* A transaction cannot be begun twice. */
    CHECK_EQ_INT(store_begin(s), 0);
    CHECK_EQ_INT(store_begin(s), -1);
    CHECK(strlen(store_errmsg(s)) > 0);
    store_rollback(s);
    /* And commit without a transaction fails. */
    CHECK_EQ_INT(store_commit(s), -1);
    store_close(s);
}

static void test_reopen_keeps_everything(void)
{
    store *s = open_ok();
    CHECK_EQ_INT(store_begin(s), 0);
    for (int i = 0; i < 500; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%04d", i);
        put(s, "jd", key, "{\"big\":true}");
    }
    CHECK_EQ_INT(store_commit(s), 0);
    store_close(s);
    s = open_ok();
    collected c = {0};
    CHECK_EQ_INT(store_scan(s, "jd", collect, &c), 0);
    CHECK_EQ_INT(c.seen, 500);
    CHECK_STR(scan(s, "jq"), "a={\"q\":1};");
    store_close(s);
}

static int user_version(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/barge.db", dir);
    sqlite3 *db;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    CHECK_EQ_INT(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static void set_user_version(int v)
{
    char path[256], sql[64];
    snprintf(path, sizeof path, "%s/barge.db", dir);
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v);
    sqlite3 *db;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void test_schema_version(void)
{
    int current = user_version();
    CHECK(current >= 1);
    /* A store written by a newer barge is refused, with both versions in the message. */
    set_user_version(current + 41);
    char *err = NULL;
    CHECK(store_sqlite_open(dir, STORE_SYNC_FULL, &err) == NULL);
    CHECK_CONTAINS(err, "schema version");
    char num[16];
    snprintf(num, sizeof num, "%d", current + 41);
    CHECK_CONTAINS(err, num);
    CHECK_CONTAINS(err, "newer");
    free(err);
    /* Refusing changed nothing: the data is still there at the right version. */
    set_user_version(current);
    store *s = open_ok();
    CHECK_STR(scan(s, "jq"), "a={\"q\":1};");
    store_close(s);
    CHECK_EQ_INT(user_version(), current);
}

static void test_unopenable(void)
{
    char *err = NULL;
    CHECK(store_sqlite_open("/nonexistent-barge-dir/x", STORE_SYNC_NORMAL, &err) == NULL);
    CHECK_CONTAINS(err, "/nonexistent-barge-dir/x/barge.db");
    free(err);
    /* A file that is not a database. */
    char other[] = "/tmp/barge-unit-junk-XXXXXX";
    CHECK(mkdtemp(other) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/barge.db", other);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    for (int i = 0; i < 200; i++) fputs("this is not an SQLite database\n", f);
    fclose(f);
    err = NULL;
    CHECK(store_sqlite_open(other, STORE_SYNC_NORMAL, &err) == NULL);
    CHECK(err != NULL);
    CHECK_CONTAINS(err, path);
    free(err);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", other);
    CHECK_EQ_INT(system(cmd), 0);
}

/* The free pages of the committed file, read as another connection sees them. */
static long long free_pages(const char *d)
{
    char path[128];
    snprintf(path, sizeof path, "%s/barge.db", d);
    sqlite3 *db;
    sqlite3_stmt *st;
    long long n = -1;
    CHECK_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    if (sqlite3_prepare_v2(db, "PRAGMA freelist_count", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Deleting many records frees thousands of pages; they go back to the file system a slice
 * after each commit, not all in the commit after the deletes (which held it for up to a
 * second), and in the end all but the few kept for the writes to come. */
static void test_free_pages_go_back_a_slice_at_a_time(void)
{
    char d[] = "/tmp/barge-unit-vacuum-XXXXXX";
    CHECK(mkdtemp(d) != NULL);
    char *err = NULL;
    store *s = store_sqlite_open(d, STORE_SYNC_NORMAL, &err);
    if (!s) CHECK_FAIL_("store_sqlite_open: %s", err);
    static char doc[1001];
    memset(doc, 'x', 1000);
    char key[16];
    CHECK_EQ_INT(store_begin(s), 0);
    for (int i = 0; i < 40000; i++) {
        snprintf(key, sizeof key, "%08d", i);
        put(s, "big", key, doc);
    }
    CHECK_EQ_INT(store_commit(s), 0);
    CHECK_EQ_INT(store_begin(s), 0);
    for (int i = 0; i < 40000; i++) {
        snprintf(key, sizeof key, "%08d", i);
        CHECK_EQ_INT(store_del(s, "big", key), 0);
    }
    CHECK_EQ_INT(store_commit(s), 0);
    long long after_delete = free_pages(d);
    /* About 45,000 pages were freed (the documents take overflow pages); one slice went back. */
    CHECK(after_delete > 30000);
    for (int i = 0; i < 300; i++) {
        CHECK_EQ_INT(store_begin(s), 0);
        put(s, "small", "k", "{}");
        CHECK_EQ_INT(store_commit(s), 0);
    }
    long long later = free_pages(d);
    if (later > 4096)
        CHECK_FAIL_("%lld pages still free after 300 commits (%lld after the deletes)", later,
                    after_delete);
    store_close(s);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", d);
    CHECK_EQ_INT(system(cmd), 0);
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    RUN(test_free_pages_go_back_a_slice_at_a_time);
    RUN(test_put_del_scan);
    RUN(test_rollback);
    RUN(test_reopen_keeps_everything);
    RUN(test_schema_version);
    RUN(test_unopenable);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
    return 0;
}
