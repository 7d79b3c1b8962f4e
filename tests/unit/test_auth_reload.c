/* auth_reload: keys added and removed, a policy changed, a broken file refused with its name
 * and line while the old keys stay, a principal held by a request surviving the reload that
 * removed it, barge_rate_limit, a job role's session following a reload of its policies, and
 * verifications on other threads during reloads. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/sigv4.h"
#include "server/model/config.h"
#include "server/api/auth.h"
#include "server/api/auth_temp.h"
#include "check.h"

static char creds[] = "/tmp/barge-test-reload-XXXXXX";
static char pols[] = "/tmp/barge-test-reload-pol-XXXXXX";

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
}

static const char alice[] = "[alice]\naws_access_key_id = AKIAALICE\n"
                            "aws_secret_access_key = alicesecret\nbarge_policy = queues\n";
static const char bob[] = "[bob]\naws_access_key_id = AKIABOB\n"
                          "aws_secret_access_key = bobsecret\nbarge_policy = admin\n"
                          "barge_rate_limit = 5/s,10\n";

static void policies(const char *effect)
{
    char text[300];
    snprintf(text, sizeof text, "{\"queues\": {\"Statement\": {\"Effect\": \"%s\", \"Action\": "
                                "\"batch:DescribeJobQueues\", \"Resource\": \"*\"}}}", effect);
    write_file(pols, text);
}

/* Verifies a request signed with key, secret and token (NULL: none) now; who is held on
 * success. */
static int verify_token(const char *key, const char *secret, const char *token,
                        const auth_principal **who, auth_refusal *why)
{
    sigv4_header h[] = {{"Host", "127.0.0.1:8900"}, {"Content-Type", "application/json"}};
    sigv4_request req = {.method = "POST", .path = "/v1/describejobqueues", .headers = h,
                         .nheaders = 2, .body = "{}", .body_len = 2};
    sigv4_credentials cred = {.access_key = key, .secret_key = secret, .session_token = token,
                              .region = "us-east-1", .service = "batch"};
    sigv4_signed s;
    char err[200];
    time_t now = time(NULL);
    CHECK_EQ_INT(sigv4_sign(&req, &cred, now, &s, err, sizeof err), 0);
    sigv4_header got[5] = {{"Host", "127.0.0.1:8900"}, {"Content-Type", "application/json"},
                           {"X-Amz-Date", s.amz_date}, {"Authorization", s.authorization},
                           {"X-Amz-Security-Token", token}};
    auth_request r = {.method = "POST", .path = "/v1/describejobqueues", .headers = got,
                      .nheaders = token ? 5 : 4, .body = "{}", .body_len = 2, .service = "batch",
                      .now = now};
    int rc = auth_verify(&r, who, why);
    sigv4_signed_free(&s);
    return rc;
}

static int verify(const char *key, const char *secret, const auth_principal **who,
                  auth_refusal *why)
{
    return verify_token(key, secret, NULL, who, why);
}

static int allowed(const auth_principal *who)
{
    const char *res[] = {"*"};
    auth_refusal why;
    return auth_check(who, "batch:DescribeJobQueues", res, 1, NULL, 0, &why) == 0;
}

static void test_add_remove_change(void)
{
    const auth_principal *a, *b;
    auth_refusal why;
    char *err = NULL;
    CHECK_EQ_INT(verify("AKIAALICE", "alicesecret", &a, &why), 0);
    CHECK(allowed(a));
    CHECK(auth_principal_rate(a) == NULL);
    CHECK_EQ_INT(verify("AKIABOB", "bobsecret", &b, &why), -1);
    CHECK_STR(why.type, "UnrecognizedClientException");

    /* bob added, alice removed, and the queues policy now denies: alice's request, held
     * across the reload, still reads its principal (freed only when released). */
    char text[1000];
    snprintf(text, sizeof text, "%s", bob);
    write_file(creds, text);
    policies("Deny");
    if (auth_reload(&err) < 0) CHECK_FAIL_("auth_reload: %s", err);
    CHECK_EQ_INT(auth_principal_count(), 1);
    CHECK_STR(auth_principal_arn(a), "arn:aws:iam::123456789012:user/alice");
    CHECK(allowed(a)); /* the policies it came with */
    auth_principal_release(a);
    CHECK_EQ_INT(verify("AKIAALICE", "alicesecret", &a, &why), -1);
    CHECK_STR(why.type, "UnrecognizedClientException");
    CHECK_EQ_INT(verify("AKIABOB", "bobsecret", &b, &why), 0);
    const ratelimit_spec *rate = auth_principal_rate(b);
    CHECK(rate && rate->rate == 5 && rate->burst == 10);
    CHECK_STR(auth_principal_key(b), "AKIABOB");
    auth_principal_release(b);

    /* alice back, with the policy that now denies. */
    snprintf(text, sizeof text, "%s\n%s", alice, bob);
    write_file(creds, text);
    CHECK_EQ_INT(auth_reload(&err), 0);
    CHECK_EQ_INT(verify("AKIAALICE", "alicesecret", &a, &why), 0);
    CHECK(!allowed(a));
    auth_principal_release(a);
}

static void test_broken_files_keep_the_old(void)
{
    const auth_principal *a;
    auth_refusal why;
    char *err = NULL;
    char text[1000];
    /* Line 12 has no '='. */
    snprintf(text, sizeof text, "%s\n%s[carol]\nthis line is wrong\n", alice, bob);
    write_file(creds, text);
    CHECK_EQ_INT(auth_reload(&err), -1);
    CHECK_CONTAINS(err, creds);
    CHECK_CONTAINS(err, "line 12");
    free(err);
    err = NULL;
    CHECK_EQ_INT(auth_principal_count(), 2);
    CHECK_EQ_INT(verify("AKIAALICE", "alicesecret", &a, &why), 0);
    auth_principal_release(a);

    snprintf(text, sizeof text, "%s\n%s", alice, bob);
    write_file(creds, text);
    write_file(pols, "{\"queues\": {\"Statement\": [}\n");
    CHECK_EQ_INT(auth_reload(&err), -1);
    CHECK_CONTAINS(err, pols);
    free(err);
    err = NULL;

    snprintf(text, sizeof text, "%s\n%s[carol]\naws_access_key_id = AKIACAROL\n"
             "aws_secret_access_key = c\nbarge_policy = read\nbarge_rate_limit = lots\n",
             alice, bob);
    write_file(creds, text);
    policies("Allow");
    CHECK_EQ_INT(auth_reload(&err), -1);
    CHECK_CONTAINS(err, "barge_rate_limit");
    CHECK_CONTAINS(err, "line 15");
    free(err);
    err = NULL;
    /* The set in force is still the one before all three. */
    CHECK_EQ_INT(verify("AKIAALICE", "alicesecret", &a, &why), 0);
    CHECK(!allowed(a));
    auth_principal_release(a);
}

static void write_bytes(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    CHECK(fwrite(text, 1, len, f) == len);
    fclose(f);
}

/* The file is read whole into one buffer (wiped once parsed): a line is whole however long, the
 * lines after it keep their numbers, a NUL byte is refused with its line, and a file past
 * 16 MiB is refused before it is read. */
static void test_long_lines_and_big_files(void)
{
    const auth_principal *a;
    auth_refusal why;
    char *err = NULL;
    size_t cap = 20000, n;
    char *text = malloc(cap), token[9001];
    memset(token, 'T', sizeof token - 1);
    token[sizeof token - 1] = '\0';
    /* Line 14 is a session token of 9,000 characters; line 16 has no '='. */
    n = (size_t)snprintf(text, cap, "%s\n%s[carol]\naws_access_key_id = ASIACAROL\n"
                         "aws_secret_access_key = carolsecret\naws_session_token = %s\n"
                         "barge_policy = admin\nthis line is wrong\n", alice, bob, token);
    write_bytes(creds, text, n);
    CHECK_EQ_INT(auth_reload(&err), -1);
    CHECK_CONTAINS(err, "line 16:");
    free(err);
    err = NULL;
    n = (size_t)snprintf(text, cap, "%s\n%s[carol]\naws_access_key_id = ASIACAROL\n"
                         "aws_secret_access_key = carolsecret\naws_session_token = %s\n"
                         "barge_policy = admin", alice, bob, token);
    write_bytes(creds, text, n); /* no newline at the end */
    if (auth_reload(&err) < 0) CHECK_FAIL_("auth_reload: %s", err);
    CHECK_EQ_INT(auth_principal_count(), 3);
    CHECK_EQ_INT(verify_token("ASIACAROL", "carolsecret", token, &a, &why), 0);
    auth_principal_release(a);
    token[8999] = 'X';
    CHECK_EQ_INT(verify_token("ASIACAROL", "carolsecret", token, &a, &why), -1);

    /* A NUL byte in line 3 (after a long line 2). */
    n = (size_t)snprintf(text, cap, "# %s\n[dave]\naws_access_key_id = AKIADAVE", token);
    text[n++] = '\0';
    n += (size_t)snprintf(text + n, cap - n, "\naws_secret_access_key = d\n");
    write_bytes(creds, text, n);
    CHECK_EQ_INT(auth_reload(&err), -1);
    CHECK_CONTAINS(err, "line 3: holds a NUL byte");
    free(err);
    err = NULL;
    free(text);

    /* 16 MiB and one byte, of comments after a good section. */
    size_t big = ((size_t)16 << 20) + 1;
    text = malloc(big);
    memset(text, '#', big);
    n = strlen(alice);
    memcpy(text, alice, n);
    for (size_t i = n + 100; i < big; i += 100) text[i] = '\n';
    write_bytes(creds, text, big);
    CHECK_EQ_INT(auth_reload(&err), -1);
    CHECK_CONTAINS(err, "is over 16 MiB");
    free(err);
    err = NULL;
    write_bytes(creds, text, big - 1); /* the bound itself is read */
    if (auth_reload(&err) < 0) CHECK_FAIL_("auth_reload: %s", err);
    CHECK_EQ_INT(auth_principal_count(), 1);
    free(text);
    write_file(creds, alice);
    CHECK_EQ_INT(auth_reload(&err), 0);
}

/* A job role's session begun before a reload: authorized by its role's policies as the reload
 * left them, at its next call. */
static void test_role_sessions_follow_reloads(void)
{
    char text[1000];
    snprintf(text, sizeof text, "%s\n%s", alice, bob);
    write_file(creds, text);
    policies("Allow");
    char *err = NULL;
    if (auth_reload(&err) < 0) CHECK_FAIL_("auth_reload: %s", err);
    static char roles[] = "/tmp/barge-test-reload-roles-XXXXXX";
    int fd = mkstemp(roles);
    CHECK(fd >= 0);
    close(fd);
    write_file(roles, "{\"arn:aws:iam::123456789012:role/lister\": \"queues\"}");
    if (auth_temp_init(roles, 0, &err) < 0) CHECK_FAIL_("auth_temp_init: %s", err);
    auth_temp_creds c;
    char why_text[300];
    CHECK_EQ_INT(auth_temp_issue("arn:aws:iam::123456789012:role/lister", "task-1", "job-1", 1,
                                 time(NULL), &c, why_text, sizeof why_text), 0);
    const auth_principal *who;
    auth_refusal why;
    CHECK_EQ_INT(verify_token(c.access_key, c.secret, c.token, &who, &why), 0);
    CHECK(allowed(who));
    policies("Deny");
    CHECK_EQ_INT(auth_reload(&err), 0);
    CHECK(!allowed(who)); /* the same session, held across the reload */
    auth_principal_release(who);
    policies("Allow");
    CHECK_EQ_INT(auth_reload(&err), 0);
    CHECK_EQ_INT(verify_token(c.access_key, c.secret, c.token, &who, &why), 0);
    CHECK(allowed(who));
    auth_principal_release(who);
    auth_temp_free();
    unlink(roles);
}

static volatile int stop;
/* How many verifications each verifier has made: the reloads go on until every one has made
 * some, however late a loaded machine runs it. */
static atomic_long verified[3];

static void *verifier(void *arg)
{
    atomic_long *count = arg;
    long n = 0;
    while (!stop) {
        const auth_principal *who;
        auth_refusal why;
        if (verify("AKIABOB", "bobsecret", &who, &why) != 0)
            CHECK_FAIL_("%s: %s", why.type, why.msg);
        CHECK_STR(auth_principal_arn(who), "arn:aws:iam::123456789012:user/bob");
        auth_principal_release(who);
        n++;
        atomic_store(count, n);
    }
    return (void *)n;
}

static void test_reloads_while_verifying(void)
{
    char text[1000];
    snprintf(text, sizeof text, "%s\n%s", alice, bob);
    write_file(creds, text);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(pthread_create(&t[i], NULL, verifier, &verified[i]), 0);
    char *err = NULL;
    for (long i = 0; i < 200 || !atomic_load(&verified[0]) || !atomic_load(&verified[1]) ||
                     !atomic_load(&verified[2]);
         i++) {
        if (auth_reload(&err) < 0) CHECK_FAIL_("auth_reload: %s", err);
        if (i > 200) usleep(1000); /* a verifier not yet run: leave it the CPU */
    }
    stop = 1;
    for (int i = 0; i < 3; i++) {
        void *n;
        pthread_join(t[i], &n);
        CHECK((long)n > 0);
    }
}

int main(void)
{
    config_defaults(&barge_cfg);
    int fd = mkstemp(creds);
    CHECK(fd >= 0);
    close(fd);
    fd = mkstemp(pols);
    CHECK(fd >= 0);
    close(fd);
    write_file(creds, alice);
    policies("Allow");
    char *err = NULL;
    if (auth_load(creds, pols, &err) < 0) CHECK_FAIL_("auth_load: %s", err);
    test_add_remove_change();
    test_broken_files_keep_the_old();
    test_long_lines_and_big_files();
    test_role_sessions_follow_reloads();
    test_reloads_while_verifying();
    auth_free();
    unlink(creds);
    unlink(pols);
    printf("auth_reload: ok\n");
    return 0;
}
