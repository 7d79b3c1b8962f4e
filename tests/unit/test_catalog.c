/* catalog.c: the instance types, families and 'optimal'. */
#include "common/catalog.h"
#include "check.h"

static void test_find(void)
{
    const catalog_type *t = catalog_find("m5.large");
    CHECK(t != NULL);
    CHECK_STR(t->name, "m5.large");
    CHECK_EQ_INT(t->vcpus, 2);
    CHECK_EQ_INT(t->memory_mib, 8192);
    CHECK_EQ_INT(t->gpus, 0);
    t = catalog_find("p3.8xlarge");
    CHECK(t != NULL);
    CHECK_EQ_INT(t->gpus, 4);
    CHECK(catalog_find("m5") == NULL);
    CHECK(catalog_find("m5.huge") == NULL);
    CHECK(catalog_find("") == NULL);
    CHECK(catalog_find("M5.LARGE") == NULL);
}

static void test_iteration_is_sound(void)
{
    int n = 0;
    for (const catalog_type *t; (t = catalog_at(n)) != NULL; n++) {
        CHECK(t->vcpus > 0);
        CHECK(t->memory_mib > 0);
        CHECK(t->gpus >= 0);
        CHECK(strchr(t->name, '.') != NULL);
        /* Every type is found by its own name, and names are unique. */
        CHECK(catalog_find(t->name) == t);
        CHECK(catalog_spec_valid(t->name));
        CHECK(catalog_spec_allows(t->name, t));
    }
    CHECK(n > 20);
    CHECK(catalog_at(-1) == NULL);
    CHECK(catalog_at(n) == NULL);
}

static void test_specs(void)
{
    static const char *const good[] = {"optimal", "m5", "c5", "r5", "t3", "g4dn", "p3", "m6i",
                                       "m5.large", "c6i.8xlarge", NULL};
    for (const char *const *g = good; *g; g++)
        if (!catalog_spec_valid(*g)) CHECK_FAIL_("'%s' should be a valid spec", *g);
    /* A family is matched whole: "m6" is not a prefix of "m6i". */
    static const char *const bad[] = {"", "m", "m6", "m5.", ".large", "m5.huge", "optimal2",
                                      "Optimal", "x9.xlarge", NULL};
    for (const char *const *b = bad; *b; b++)
        if (catalog_spec_valid(*b)) CHECK_FAIL_("'%s' should not be a valid spec", *b);
}

static void test_allows(void)
{
    const catalog_type *m5 = catalog_find("m5.xlarge"), *c5 = catalog_find("c5.large"),
                       *r5 = catalog_find("r5.2xlarge"), *t3 = catalog_find("t3.micro"),
                       *c6i = catalog_find("c6i.large"), *g4 = catalog_find("g4dn.xlarge");
    CHECK(m5 && c5 && r5 && t3 && c6i && g4);
    /* 'optimal' is the c5, m5 and r5 families. */
    CHECK(catalog_spec_allows("optimal", m5));
    CHECK(catalog_spec_allows("optimal", c5));
    CHECK(catalog_spec_allows("optimal", r5));
    CHECK(!catalog_spec_allows("optimal", t3));
    CHECK(!catalog_spec_allows("optimal", c6i));
    CHECK(!catalog_spec_allows("optimal", g4));
    CHECK(catalog_spec_allows("c5", c5));
    CHECK(!catalog_spec_allows("c5", c6i));
    CHECK(!catalog_spec_allows("c", c5));
    CHECK(catalog_spec_allows("m5.xlarge", m5));
    CHECK(!catalog_spec_allows("m5.large", m5));
}

static void test_aws_families_and_defaults(void)
{
    /* The families AWS documents, sized as AWS sizes them. */
    const catalog_type *t = catalog_find("c4.8xlarge");
    CHECK(t && t->vcpus == 36 && t->memory_mib == 61440);
    t = catalog_find("p4d.24xlarge");
    CHECK(t && t->vcpus == 96 && t->gpus == 8);
    t = catalog_find("g5.48xlarge");
    CHECK(t && t->vcpus == 192 && t->gpus == 8);
    t = catalog_find("c6a.large");
    CHECK(t && t->vcpus == 2 && t->memory_mib == 4096);
    static const char *const fams[] = {"c4", "m4", "r4", "c6a", "c7i", "m7g", "g5", "p4d",
                                       "default_x86_64", "default_arm64", NULL};
    for (const char *const *f = fams; *f; f++)
        if (!catalog_spec_valid(*f)) CHECK_FAIL_("'%s' should be a valid spec", *f);
    /* The variants: local disks (d), AMD (a), more network (n), each at its own sizes; a
     * variant is not its base family's. */
    static const char *const variants[] = {"m5d", "c5d", "r5d", "m5a", "c5n", "t3a", "c6id",
                                           "c7a", "m6gd", "c8g", "i3", "z1d", "g6", "p2", "g3", "x1e",
                                           "inf1", "i3en", "m5zn", NULL};
    for (const char *const *f = variants; *f; f++)
        if (!catalog_spec_valid(*f)) CHECK_FAIL_("'%s' should be a valid spec", *f);
    t = catalog_find("c5n.large");
    CHECK(t && t->vcpus == 2 && t->memory_mib == 5376);
    t = catalog_find("p2.xlarge");
    CHECK(t && t->vcpus == 4 && t->memory_mib == 62464 && t->gpus == 1);
    t = catalog_find("c5a.large");
    CHECK(t && t->vcpus == 2 && t->memory_mib == 4096);
    t = catalog_find("m5d.24xlarge");
    CHECK(t && t->vcpus == 96 && t->memory_mib == 393216);
    CHECK(!catalog_spec_allows("m5", catalog_find("m5d.large")));
    CHECK(!catalog_spec_allows("optimal", catalog_find("c5d.large")));
    CHECK(!catalog_spec_allows("default_x86_64", catalog_find("m6id.large")));
    CHECK_STR(catalog_find("r8g.medium")->arch, "arm64");
    /* Architectures. */
    CHECK_STR(catalog_find("m7g.large")->arch, "arm64");
    CHECK_STR(catalog_find("m5.large")->arch, "x86_64");
    for (int i = 0; catalog_at(i); i++) {
        const catalog_type *c = catalog_at(i);
        CHECK(strcmp(c->arch, "x86_64") == 0 || strcmp(c->arch, "arm64") == 0);
        /* The defaults keep to their architecture. */
        if (catalog_spec_allows("default_arm64", c)) CHECK_STR(c->arch, "arm64");
        if (catalog_spec_allows("default_x86_64", c)) CHECK_STR(c->arch, "x86_64");
    }
    CHECK(catalog_spec_allows("default_x86_64", catalog_find("c7i.large")));
    CHECK(catalog_spec_allows("default_arm64", catalog_find("m6g.medium")));
    CHECK(!catalog_spec_allows("default_arm64", catalog_find("m5.large")));
    CHECK(!catalog_spec_allows("default_x86_64", catalog_find("m5.large")));
    /* This host's architecture in the catalogue's words. */
    CHECK(strlen(catalog_host_arch()) > 0);
}

int main(void)
{
    RUN(test_find);
    RUN(test_iteration_is_sound);
    RUN(test_specs);
    RUN(test_allows);
    RUN(test_aws_families_and_defaults);
    return 0;
}
