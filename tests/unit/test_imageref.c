/* imageref.c: image references read as Docker reads them, and refused when no registry could
 * serve them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/imageref.h"
#include "check.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void resolves(const char *in, const char *canonical, int loopback)
{
    imageref r;
    const char *why = imageref_parse(in, &r);
    if (why) CHECK_FAIL_("'%s' refused: %s", in, why);
    char *c = imageref_canonical(&r);
    if (strcmp(c, canonical) != 0) CHECK_FAIL_("'%s' resolved to '%s', not '%s'", in, c, canonical);
    CHECK_EQ_INT(imageref_loopback(&r), loopback);
    free(c);
    imageref_free(&r);
}

static void refused(const char *in, const char *fragment)
{
    imageref r;
    const char *why = imageref_parse(in, &r);
    if (!why) CHECK_FAIL_("'%s' was accepted", in);
    CHECK_CONTAINS(why, fragment);
    CHECK(r.domain == NULL && r.path == NULL && r.tag == NULL && r.digest == NULL);
}

static void test_docker_hub_defaults(void)
{
    resolves("busybox", "docker.io/library/busybox:latest", 0);
    resolves("busybox:1.36", "docker.io/library/busybox:1.36", 0);
    resolves("myorg/app", "docker.io/myorg/app:latest", 0);
    resolves("docker.io/library/busybox:latest", "docker.io/library/busybox:latest", 0);
    /* Docker Hub named, and by its older name: an official image is still under library/. */
    resolves("docker.io/ubuntu:22.04", "docker.io/library/ubuntu:22.04", 0);
    resolves("index.docker.io/ubuntu", "docker.io/library/ubuntu:latest", 0);
    resolves("index.docker.io/myorg/app", "docker.io/myorg/app:latest", 0);
    resolves("biocontainers/samtools:1.17--h00cdaf9_0",
             "docker.io/biocontainers/samtools:1.17--h00cdaf9_0", 0);
    resolves("org/a__b.c-d---e/f_g", "docker.io/org/a__b.c-d---e/f_g:latest", 0);
    /* A first component with a dot names a registry, and a registry host has no '_'. */
    refused("a__b.c/f", "registry host");
}

static void test_registries(void)
{
    resolves("localhost/app", "localhost/app:latest", 1);
    resolves("localhost:5000/app:2", "localhost:5000/app:2", 1);
    resolves("127.0.0.1:5000/team/app:2.3", "127.0.0.1:5000/team/app:2.3", 1);
    resolves("[::1]:5000/app", "[::1]:5000/app:latest", 1);
    resolves("registry.example.com/app", "registry.example.com/app:latest", 0);
    resolves("127.example.com/app", "127.example.com/app:latest", 0);
    resolves("123456789012.dkr.ecr.us-east-1.amazonaws.com/repo/x:1.2_3",
             "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo/x:1.2_3", 0);
    resolves("public.ecr.aws/docker/library/python:3.12",
             "public.ecr.aws/docker/library/python:3.12", 0);
}

static void test_digests(void)
{
    resolves("busybox@sha256:" HEX64, "docker.io/library/busybox@sha256:" HEX64, 0);
    resolves("busybox:1.36@sha256:" HEX64, "docker.io/library/busybox:1.36@sha256:" HEX64, 0);
    resolves("127.0.0.1:5000/app@sha256:" HEX64, "127.0.0.1:5000/app@sha256:" HEX64, 1);
    refused("busybox@sha256:", "digest");
    refused("busybox@sha256:abc", "too short");
    refused("busybox@sha256:" HEX64 "00", "64 hexadecimal");
    refused("busybox@sha256:" "zz" HEX64, "hexadecimal");
    refused("busybox@:" HEX64, "ALGORITHM:HEX");
    refused("@sha256:" HEX64, "no repository");
}

static void test_refused(void)
{
    refused("", "empty");
    refused("Busybox", "lowercase");
    refused("myorg/App", "lowercase");
    refused("bad image", "only lowercase letters");
    refused("repo/x:1.2_3#4", "tag may hold only");
    refused("busybox:", "tag after ':' is empty");
    refused("busybox:.hidden", "must not start");
    refused("app//x", "empty component");
    refused("app/", "empty component");
    refused("-app", "start and end");
    refused("app-", "end with a letter or digit");
    refused("a..b", "end with a letter or digit");
    refused("reg.example.com:port/app", "port must be digits");
    refused("-reg.example.com/app", "must not start or end with '-'");
    refused("[::1/app", "closed with ']'");
    char tag[140];
    memset(tag, 'a', sizeof tag - 1);
    tag[sizeof tag - 1] = '\0';
    char *long_tag = malloc(strlen(tag) + 16);
    strcpy(long_tag, "busybox:");
    strcat(long_tag, tag);
    refused(long_tag, "at most 128");
    free(long_tag);
    char name[300];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    refused(name, "at most 255");
    /* The limit counts the name as Docker normalizes it: docker.io/library/ is 18 characters,
     * so 237 more fit and 238 do not (found by fuzz/fuzz_imageref: the canonical form of the
     * longer one did not parse again). */
    char want[340];
    name[237] = '\0';
    snprintf(want, sizeof want, "docker.io/library/%s:latest", name);
    resolves(name, want, 0);
    name[237] = 'a';
    name[238] = '\0';
    refused(name, "at most 255");
    /* And so with docker.io/ given: the same name, the same limit. */
    char named[360];
    snprintf(named, sizeof named, "docker.io/%s", name);
    refused(named, "at most 255");
    name[237] = '\0';
    snprintf(named, sizeof named, "docker.io/%s", name);
    resolves(named, want, 0);
}

int main(void)
{
    RUN(test_docker_hub_defaults);
    RUN(test_registries);
    RUN(test_digests);
    RUN(test_refused);
    return 0;
}
