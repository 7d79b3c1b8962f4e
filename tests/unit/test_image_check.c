/* image_check.c: the WWW-Authenticate challenge as registries write it, and the HEAD of a
 * manifest against tests/e2e/registry.py serve-token-auth, a stand-in for a registry that hands
 * out bearer tokens (Docker Hub's way), one that takes basic authentication, and one whose
 * answer names no digest. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/image_check.h"
#include "common/httpc.h"
#include "common/mem.h"
#include "check.h"

static void test_challenge(void)
{
    image_challenge c;
    CHECK_EQ_INT(image_check_challenge("Bearer realm=\"https://auth.docker.io/token\","
                                       "service=\"registry.docker.io\","
                                       "scope=\"repository:library/busybox:pull\"", &c), 0);
    CHECK_STR(c.scheme, "Bearer");
    CHECK_STR(c.realm, "https://auth.docker.io/token");
    CHECK_STR(c.service, "registry.docker.io");
    CHECK_STR(c.scope, "repository:library/busybox:pull");
    image_challenge_free(&c);
    /* Tokens unquoted, blanks around the '=', a quoted backslash, names in any case, an
     * unknown parameter and a bare token among them. */
    CHECK_EQ_INT(image_check_challenge("  bearer Realm = https://r/t , error=\"insufficient_scope\""
                                       ", stray, SCOPE=\"a\\\"b\"", &c), 0);
    CHECK_STR(c.scheme, "bearer");
    CHECK_STR(c.realm, "https://r/t");
    CHECK(c.service == NULL);
    CHECK_STR(c.scope, "a\"b");
    image_challenge_free(&c);
    CHECK_EQ_INT(image_check_challenge("Basic realm=\"Registry Realm\"", &c), 0);
    CHECK_STR(c.scheme, "Basic");
    CHECK_STR(c.realm, "Registry Realm");
    image_challenge_free(&c);
    /* An unterminated quote ends with the header. */
    CHECK_EQ_INT(image_check_challenge("Bearer realm=\"https://r", &c), 0);
    CHECK_STR(c.realm, "https://r");
    image_challenge_free(&c);
    CHECK_EQ_INT(image_check_challenge("", &c), -1);
    CHECK_EQ_INT(image_check_challenge("   ", &c), -1);
}

static int never(void *arg)
{
    (void)arg;
    return 0;
}

static void test_against_the_stand_in(void)
{
    int in[2], out[2];
    CHECK(pipe(in) == 0 && pipe(out) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        execlp("python3", "python3", "tests/e2e/registry.py", "serve-token-auth", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    FILE *f = fdopen(out[0], "r");
    char line[256], host[64], digest[80], why[256];
    CHECK(f && fgets(line, sizeof line, f));
    fclose(f);
    CHECK_EQ_INT(sscanf(line, "%63s %79s", host, digest), 2);

    /* A token from the realm, for the registry's credentials; then the manifest's digest. */
    char *d = image_check_digest(host, 1, "team/app", "latest", "puller:s3cret", 5000, never, NULL,
                                 why, sizeof why);
    CHECK(d);
    CHECK_STR(d, digest);
    free(d);
    /* The token is kept: the next question is one HEAD. */
    d = image_check_digest(host, 1, "team/app", "latest", "puller:s3cret", 5000, never, NULL,
                           why, sizeof why);
    CHECK(d);
    free(d);
    httpc_options o = {.connect_timeout_ms = 5000, .max_body = 1024};
    httpc *h = httpc_new(&o);
    char *count_url = xasprintf("http://%s/tokens-given", host);
    CHECK(h && httpc_get(h, count_url, 5000) == HTTPC_OK && httpc_status(h) == 200);
    size_t len;
    CHECK_STR(httpc_body(h, &len), "1");
    /* Without credentials (or wrong ones) the token service refuses, and that is said. */
    CHECK(!image_check_digest(host, 1, "team/app", "latest", NULL, 5000, never, NULL, why,
                              sizeof why));
    CHECK_CONTAINS(why, "token service");
    CHECK_CONTAINS(why, "HTTP 401");
    CHECK(!image_check_digest(host, 1, "team/app", "latest", "puller:nope", 5000, never, NULL,
                              why, sizeof why));
    CHECK_CONTAINS(why, "HTTP 401");
    /* Basic authentication where the registry asks for it; none given: said. */
    d = image_check_digest(host, 1, "team/basic", "latest", "puller:s3cret", 5000, never, NULL,
                           why, sizeof why);
    CHECK(d);
    CHECK_STR(d, digest);
    free(d);
    CHECK(!image_check_digest(host, 1, "team/basic", "latest", NULL, 5000, never, NULL, why,
                              sizeof why));
    CHECK_CONTAINS(why, "Basic authentication and none was given");
    /* A manifest larger than any token answer is no answer too long: a HEAD has no body. */
    d = image_check_digest(host, 1, "team/big", "latest", NULL, 5000, never, NULL, why,
                           sizeof why);
    CHECK(d);
    CHECK_STR(d, digest);
    free(d);
    /* No digest in the answer; an unknown manifest. */
    CHECK(!image_check_digest(host, 1, "team/nodigest", "latest", NULL, 5000, never, NULL, why,
                              sizeof why));
    CHECK_CONTAINS(why, "names no sha256 digest");
    CHECK(!image_check_digest(host, 1, "team/none", "latest", NULL, 5000, never, NULL, why,
                              sizeof why));
    CHECK_CONTAINS(why, "HTTP 404");

    httpc_free(h);
    free(count_url);
    int status;
    close(in[1]);
    CHECK_EQ_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(test_challenge);
    RUN(test_against_the_stand_in);
    return 0;
}
