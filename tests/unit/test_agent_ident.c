/* agent_ident.c: join tokens (server-wide and per compute environment, a tokens file read again
 * atomically), instance credentials (issued, checked, rotated with a grace period, revoked) and
 * the log streams an instance may write to. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/base/agent_ident.h"
#include "check.h"

static char dir[] = "/tmp/barge-unit-ident-XXXXXX";

static char *write_file(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
    return path;
}

static agent_join_rc join(const char *token, const char *ce)
{
    char h[600];
    snprintf(h, sizeof h, "Bearer %s", token);
    return agent_ident_join(h, ce, NULL, 0);
}

static agent_cred_rc check(const char *cred, char id[AGENT_IDENT_ID_MAX + 1], int *rotate)
{
    char h[600];
    snprintf(h, sizeof h, "Bearer %s", cred);
    return agent_ident_check(h, id, rotate);
}

static void test_join_tokens(void)
{
    agent_ident_set_server_token("server-wide-token");
    char *err = NULL;
    const char *path = write_file("tokens", "# comment\n\nfor-ce-a-0123456789 ce-a\n"
                                            "  any-ce-0123456789  \n");
    CHECK_EQ_INT(agent_ident_load_tokens(path, &err), 0);
    CHECK_EQ_INT(join("server-wide-token", "ce-b"), AGENT_JOIN_OK);
    CHECK_EQ_INT(join("for-ce-a-0123456789", "ce-a"), AGENT_JOIN_OK);
    CHECK_EQ_INT(join("for-ce-a-0123456789", "ce-b"), AGENT_JOIN_OTHER_CE);
    CHECK_EQ_INT(join("any-ce-0123456789", "ce-b"), AGENT_JOIN_OK);
    CHECK_EQ_INT(join("for-ce-a-012345678", "ce-a"), AGENT_JOIN_UNKNOWN);
    CHECK_EQ_INT(join("for-ce-a-0123456789x", "ce-a"), AGENT_JOIN_UNKNOWN);
    CHECK_EQ_INT(agent_ident_join(NULL, "ce-a", NULL, 0), AGENT_JOIN_MISSING);
    CHECK_EQ_INT(agent_ident_join("Basic abc", "ce-a", NULL, 0), AGENT_JOIN_MISSING);
    CHECK_EQ_INT(agent_ident_join(NULL, "ce-a", NULL, 1), AGENT_JOIN_OK); /* developer mode */
    /* A bad file names the line, never a token, and changes nothing. */
    path = write_file("bad", "good-token-0123456789\nshort-one ce-a\n");
    CHECK_EQ_INT(agent_ident_load_tokens(path, &err), -1);
    CHECK_CONTAINS(err, "line 2");
    CHECK(strstr(err, "short-one") == NULL);
    free(err);
    path = write_file("bad2", "a-token-0123456789 ce-a extra\n");
    CHECK_EQ_INT(agent_ident_load_tokens(path, &err), -1);
    free(err);
    /* A token that reads as a launch token would be refused as another server's. */
    path = write_file("bad3", "# ours\nbarge-launch-0123456789\n");
    CHECK_EQ_INT(agent_ident_load_tokens(path, &err), -1);
    CHECK_CONTAINS(err, "line 2: the token starts with 'barge-launch-'");
    free(err);
    CHECK(agent_ident_launch_like("barge-launch-x"));
    CHECK(!agent_ident_launch_like("barge-launc"));
    CHECK_EQ_INT(join("for-ce-a-0123456789", "ce-a"), AGENT_JOIN_OK);
    /* Read again: a token taken out stops, one put in starts. */
    path = write_file("tokens", "next-for-ce-a-0123 ce-a\n");
    CHECK_EQ_INT(agent_ident_load_tokens(path, &err), 0);
    CHECK_EQ_INT(join("for-ce-a-0123456789", "ce-a"), AGENT_JOIN_UNKNOWN);
    CHECK_EQ_INT(join("any-ce-0123456789", "ce-a"), AGENT_JOIN_UNKNOWN);
    CHECK_EQ_INT(join("next-for-ce-a-0123", "ce-a"), AGENT_JOIN_OK);
    /* The server-wide token, replaced. */
    agent_ident_set_server_token("server-wide-token-2");
    CHECK_EQ_INT(join("server-wide-token", "ce-a"), AGENT_JOIN_UNKNOWN);
    CHECK_EQ_INT(join("server-wide-token-2", "ce-a"), AGENT_JOIN_OK);
    CHECK_EQ_INT(agent_ident_load_tokens(NULL, &err), 0);
    CHECK_EQ_INT(join("next-for-ce-a-0123", "ce-a"), AGENT_JOIN_UNKNOWN);
}

/* A line is read whole, however long: a token of 512 characters after 600 spaces was cut in
 * pieces, the second read as a line of its own, and a later line's number came out wrong. */
static void test_long_lines_and_files_that_are_not(void)
{
    char *err = NULL;
    char text[2400];
    char tok[513];
    memset(tok, 't', 512);
    tok[512] = '\0';
    snprintf(text, sizeof text, "%*s%s ce-a\n", 600, "", tok);
    const char *path = write_file("long", text);
    CHECK_EQ_INT(agent_ident_load_tokens(path, &err), 0);
    CHECK_EQ_INT(join(tok, "ce-a"), AGENT_JOIN_OK);
    /* The line after a 1,100-character one is line 2. */
    snprintf(text, sizeof text, "%*s%s\nshort-one\n", 600, "", tok);
    path = write_file("long-bad", text);
    CHECK_EQ_INT(agent_ident_load_tokens(path, &err), -1);
    CHECK_CONTAINS(err, "line 2:");
    free(err);
    /* A directory read as no tokens at all, and /dev/zero without end. */
    CHECK_EQ_INT(agent_ident_load_tokens(dir, &err), -1);
    CHECK_CONTAINS(err, "is a directory, not a file");
    free(err);
    CHECK_EQ_INT(agent_ident_load_tokens("/dev/zero", &err), -1);
    CHECK_CONTAINS(err, "is not a regular file");
    free(err);
    CHECK_EQ_INT(join(tok, "ce-a"), AGENT_JOIN_OK); /* a refused file changes nothing */
    CHECK_EQ_INT(agent_ident_load_tokens(NULL, &err), 0);
}

/* A launch token registers its instance and no other, until the instance is revoked; one this
 * server did not give is refused for what it is, in developer mode too (an agent another server
 * launched). */
static void test_launch_tokens(void)
{
    char t[AGENT_IDENT_LAUNCH_TOKEN_LEN + 1], u[AGENT_IDENT_LAUNCH_TOKEN_LEN + 1], h[100];
    agent_ident_launch_token("i-local", t);
    agent_ident_launch_token("i-other", u);
    CHECK_EQ_INT(strlen(t), AGENT_IDENT_LAUNCH_TOKEN_LEN);
    CHECK(strcmp(t, u) != 0);
    snprintf(h, sizeof h, "Bearer %s", t);
    CHECK_EQ_INT(agent_ident_join(h, "ce", "i-local", 0), AGENT_JOIN_LAUNCH);
    CHECK(strncmp(t, AGENT_IDENT_LAUNCH_PREFIX, strlen(AGENT_IDENT_LAUNCH_PREFIX)) == 0);
    CHECK_EQ_INT(agent_ident_join(h, "ce", "i-local", 1), AGENT_JOIN_LAUNCH);
    CHECK_EQ_INT(agent_ident_join(h, "ce", "i-other", 0), AGENT_JOIN_FOREIGN);
    CHECK_EQ_INT(agent_ident_join(h, "ce", "i-other", 1), AGENT_JOIN_FOREIGN);
    CHECK_EQ_INT(agent_ident_join(h, "ce", NULL, 0), AGENT_JOIN_FOREIGN);
    CHECK_EQ_INT(agent_ident_join("Bearer any-token", "ce", "i-other", 1), AGENT_JOIN_OK);
    agent_ident_revoke("i-local");
    CHECK_EQ_INT(agent_ident_join(h, "ce", "i-local", 0), AGENT_JOIN_FOREIGN);
    CHECK_EQ_INT(agent_ident_join(h, "ce", "i-local", 1), AGENT_JOIN_FOREIGN);
    snprintf(h, sizeof h, "Bearer %s", u);
    CHECK_EQ_INT(agent_ident_join(h, "ce", "i-other", 0), AGENT_JOIN_LAUNCH);
    /* What the store keeps of a launch token brings it back to a restarted server, and is not
     * the token itself. */
    char digest[AGENT_IDENT_DIGEST_HEX];
    CHECK_EQ_INT(agent_ident_launch_export("i-local", digest), -1); /* revoked above */
    CHECK_EQ_INT(agent_ident_launch_export("i-other", digest), 0);
    CHECK_EQ_INT((int)strlen(digest), 64);
    CHECK(strstr(u, digest) == NULL);
    agent_ident_free(); /* the server stops */
    CHECK_EQ_INT(agent_ident_join(h, "ce", "i-other", 0), AGENT_JOIN_FOREIGN);
    CHECK_EQ_INT(agent_ident_launch_restore("i-other", "not a digest"), -1);
    CHECK_EQ_INT(agent_ident_join(h, "ce", "i-other", 0), AGENT_JOIN_FOREIGN);
    CHECK_EQ_INT(agent_ident_launch_restore("i-other", digest), 0);
    CHECK_EQ_INT(agent_ident_join(h, "ce", "i-other", 0), AGENT_JOIN_LAUNCH);
    CHECK_EQ_INT(agent_ident_join(h, "ce", "i-local", 0), AGENT_JOIN_FOREIGN);
    char again[AGENT_IDENT_DIGEST_HEX];
    CHECK_EQ_INT(agent_ident_launch_export("i-other", again), 0);
    CHECK_STR(again, digest);
    agent_ident_revoke("i-other");
    CHECK_EQ_INT(agent_ident_join(h, "ce", "i-other", 0), AGENT_JOIN_FOREIGN);
}

static void test_credentials(void)
{
    agent_ident_configure(3600, 300);
    char a[AGENT_IDENT_CRED_MAX + 1], b[AGENT_IDENT_CRED_MAX + 1], id[AGENT_IDENT_ID_MAX + 1];
    agent_ident_issue("i-a", 0, a);
    agent_ident_issue("i-b", 0, b);
    CHECK(strncmp(a, "i-a:", 4) == 0);
    CHECK_EQ_INT(strlen(a), 4 + 64);
    int rotate = -1;
    CHECK_EQ_INT(check(a, id, &rotate), AGENT_CRED_OK);
    CHECK_STR(id, "i-a");
    CHECK_EQ_INT(rotate, 0);
    CHECK_EQ_INT(check(b, id, NULL), AGENT_CRED_OK);
    CHECK_STR(id, "i-b");
    /* b's secret under a's name, a changed secret, garbage. */
    char forged[AGENT_IDENT_CRED_MAX + 1];
    snprintf(forged, sizeof forged, "i-a:%s", strchr(b, ':') + 1);
    CHECK_EQ_INT(check(forged, id, NULL), AGENT_CRED_WRONG);
    CHECK_STR(id, "i-a");
    snprintf(forged, sizeof forged, "%s", a);
    forged[10] = forged[10] == '0' ? '1' : '0';
    CHECK_EQ_INT(check(forged, id, NULL), AGENT_CRED_WRONG);
    char nobody[AGENT_IDENT_CRED_MAX + 8];
    snprintf(nobody, sizeof nobody, "i-nobody:%s", strchr(a, ':') + 1);
    CHECK_EQ_INT(check(nobody, id, NULL), AGENT_CRED_NO_INSTANCE);
    CHECK_STR(id, "i-nobody");
    /* Only a well-formed credential is read: no part of anything else is named. */
    CHECK_EQ_INT(check("i-nobody:00", id, NULL), AGENT_CRED_MISSING);
    CHECK_STR(id, "");
    snprintf(nobody, sizeof nobody, "a/b:%s", strchr(a, ':') + 1);
    CHECK_EQ_INT(check(nobody, id, NULL), AGENT_CRED_MISSING);
    snprintf(nobody, sizeof nobody, "%sx", a);
    CHECK_EQ_INT(check(nobody, id, NULL), AGENT_CRED_MISSING);
    CHECK_EQ_INT(check("no-colon", id, NULL), AGENT_CRED_MISSING);
    CHECK_EQ_INT(check(":abc", id, NULL), AGENT_CRED_MISSING);
    CHECK_EQ_INT(agent_ident_check(NULL, id, NULL), AGENT_CRED_MISSING);
    /* A new registration: the earlier credential stops at once. */
    char a2[AGENT_IDENT_CRED_MAX + 1];
    agent_ident_issue("i-a", 0, a2);
    CHECK_EQ_INT(check(a, id, NULL), AGENT_CRED_WRONG);
    CHECK_EQ_INT(check(a2, id, NULL), AGENT_CRED_OK);
    /* Revoked: gone. */
    agent_ident_revoke("i-b");
    CHECK_EQ_INT(check(b, id, NULL), AGENT_CRED_NO_INSTANCE);
}

static void test_rotation(void)
{
    /* Due at once, and a replaced one valid 1 s after its successor is first used. */
    agent_ident_configure(0, 1);
    char c1[AGENT_IDENT_CRED_MAX + 1], c2[AGENT_IDENT_CRED_MAX + 1],
        c3[AGENT_IDENT_CRED_MAX + 1], id[AGENT_IDENT_ID_MAX + 1];
    agent_ident_issue("i-r", 0, c1);
    int rotate = 0;
    CHECK_EQ_INT(check(c1, id, &rotate), AGENT_CRED_OK);
    CHECK_EQ_INT(rotate, 1);
    agent_ident_issue("i-r", 1, c2);
    /* The answer carrying c2 was lost: c1 goes on, and asks for another rotation. */
    CHECK_EQ_INT(check(c1, id, &rotate), AGENT_CRED_OK);
    CHECK_EQ_INT(rotate, 1);
    agent_ident_issue("i-r", 1, c3);
    CHECK_EQ_INT(check(c2, id, NULL), AGENT_CRED_WRONG); /* replaced before any use */
    CHECK_EQ_INT(check(c1, id, NULL), AGENT_CRED_OK);
    CHECK_EQ_INT(check(c3, id, NULL), AGENT_CRED_OK); /* the grace starts now */
    CHECK_EQ_INT(check(c1, id, NULL), AGENT_CRED_OK);
    usleep(1100 * 1000);
    CHECK_EQ_INT(check(c1, id, NULL), AGENT_CRED_EXPIRED);
    CHECK_EQ_INT(check(c1, id, NULL), AGENT_CRED_WRONG); /* and forgotten */
    CHECK_EQ_INT(check(c3, id, NULL), AGENT_CRED_OK);
}

static void test_streams(void)
{
    agent_ident_issue("i-s", 0, (char[AGENT_IDENT_CRED_MAX + 1]){0});
    agent_ident_stream_open("i-s", "def/default/1");
    agent_ident_stream_open("i-t", "def/default/2");
    CHECK_EQ_INT(agent_ident_stream_owner("i-s", "def/default/1"), AGENT_STREAM_MINE);
    CHECK_EQ_INT(agent_ident_stream_owner("i-s", "def/default/2"), AGENT_STREAM_OTHER);
    CHECK_EQ_INT(agent_ident_stream_owner("i-s", "def/default/3"), AGENT_STREAM_NONE);
    /* Only its owner closes a stream. */
    agent_ident_stream_close("i-s", "def/default/2");
    CHECK_EQ_INT(agent_ident_stream_owner("i-t", "def/default/2"), AGENT_STREAM_MINE);
    agent_ident_stream_close("i-t", "def/default/2");
    CHECK_EQ_INT(agent_ident_stream_owner("i-t", "def/default/2"), AGENT_STREAM_NONE);
    /* Revoking an instance closes its streams. */
    agent_ident_revoke("i-s");
    CHECK_EQ_INT(agent_ident_stream_owner("i-s", "def/default/1"), AGENT_STREAM_NONE);
}

/* A lost instance's credential may still write to the streams its attempts wrote to when it
 * was lost, and to no other, until its time is up; it is no instance any more otherwise. */
static void test_lost(void)
{
    agent_ident_configure(3600, 300);
    char l[AGENT_IDENT_CRED_MAX + 1], o[AGENT_IDENT_CRED_MAX + 1], id[AGENT_IDENT_ID_MAX + 1];
    char h[600], ho[600];
    agent_ident_issue("i-l", 0, l);
    agent_ident_issue("i-o", 0, o);
    snprintf(h, sizeof h, "Bearer %s", l);
    snprintf(ho, sizeof ho, "Bearer %s", o);
    agent_ident_stream_open("i-l", "def/default/l1");
    agent_ident_stream_open("i-o", "def/default/o1");
    CHECK(!agent_ident_lost_may_write(h, "def/default/l1")); /* not lost */
    agent_ident_lose("i-l", 1000);
    agent_ident_stream_close("i-l", "def/default/l1");
    agent_ident_revoke("i-l");
    CHECK_EQ_INT(check(l, id, NULL), AGENT_CRED_NO_INSTANCE);
    CHECK(agent_ident_lost_may_write(h, "def/default/l1"));
    CHECK(!agent_ident_lost_may_write(h, "def/default/o1"));   /* another's */
    CHECK(!agent_ident_lost_may_write(h, "def/default/new"));  /* opened later */
    CHECK(!agent_ident_lost_may_write(ho, "def/default/l1"));  /* another's credential */
    char forged[AGENT_IDENT_CRED_MAX + 1];
    snprintf(forged, sizeof forged, "i-l:%s", strchr(o, ':') + 1);
    snprintf(ho, sizeof ho, "Bearer %s", forged);
    CHECK(!agent_ident_lost_may_write(ho, "def/default/l1"));
    CHECK(!agent_ident_lost_may_write(NULL, "def/default/l1"));
    usleep(1100 * 1000);
    CHECK(!agent_ident_lost_may_write(h, "def/default/l1")); /* its time is up */
    agent_ident_revoke("i-o");
}

/* What the store keeps (the digests) gives a restarted server its instances' credentials back;
 * the credentials themselves are in no record. */
static void test_export_restore(void)
{
    char id[AGENT_IDENT_ID_MAX + 1], cur[AGENT_IDENT_DIGEST_HEX], prev[AGENT_IDENT_DIGEST_HEX];
    char first[AGENT_IDENT_CRED_MAX + 1], second[AGENT_IDENT_CRED_MAX + 1];
    CHECK_EQ_INT(agent_ident_export("i-none", cur, prev), -1);
    agent_ident_issue("i-kept", 0, first);
    agent_ident_issue("i-kept", 1, second); /* a rotation: both valid for now */
    CHECK_EQ_INT(agent_ident_export("i-kept", cur, prev), 0);
    CHECK_EQ_INT((int)strlen(cur), 64);
    CHECK_EQ_INT((int)strlen(prev), 64);
    CHECK(strstr(first, cur) == NULL && strstr(second, cur) == NULL);
    agent_ident_free(); /* the server stops */
    CHECK_EQ_INT(check(second, id, NULL), AGENT_CRED_NO_INSTANCE);
    CHECK_EQ_INT(agent_ident_restore("i-kept", cur, prev), 0);
    CHECK_EQ_INT(check(first, id, NULL), AGENT_CRED_OK);
    CHECK_EQ_INT(check(second, id, NULL), AGENT_CRED_OK);
    CHECK_STR(id, "i-kept");
    char forged[AGENT_IDENT_CRED_MAX + 1];
    snprintf(forged, sizeof forged, "i-kept:%s", cur); /* the digest is not the credential */
    CHECK_EQ_INT(check(forged, id, NULL), AGENT_CRED_WRONG);
    CHECK_EQ_INT(agent_ident_restore("i-bad", "not hex", NULL), -1);
    /* Any digest comes back, those holding a zero byte too. */
    char zeros[AGENT_IDENT_DIGEST_HEX];
    snprintf(zeros, sizeof zeros, "00%062d", 0);
    CHECK_EQ_INT(agent_ident_restore("i-zero", zeros, zeros), 0);
    CHECK_EQ_INT(agent_ident_export("i-zero", cur, prev), 0);
    CHECK_STR(cur, zeros);
    CHECK_STR(prev, zeros);
    agent_ident_revoke("i-zero");
    CHECK_EQ_INT(agent_ident_export("i-bad", cur, prev), -1);
    agent_ident_revoke("i-kept");
}

int main(void)
{
    CHECK(mkdtemp(dir) != NULL);
    RUN(test_join_tokens);
    RUN(test_long_lines_and_files_that_are_not);
    RUN(test_launch_tokens);
    RUN(test_credentials);
    RUN(test_rotation);
    RUN(test_streams);
    RUN(test_lost);
    RUN(test_export_restore);
    agent_ident_free();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_EQ_INT(system(cmd), 0);
    return 0;
}
