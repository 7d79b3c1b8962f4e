/* http_origin.c: which requests a server that takes unsigned requests answers, by what a browser
 * says of where they come from (Sec-Fetch-Site, Origin) and the name they give it (Host). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "server/http_origin.h"
#include "check.h"

#define OK(host, origin, site) CHECK(http_origin_refusal(host, origin, site) == NULL)
#define REFUSED(host, origin, site) CHECK(http_origin_refusal(host, origin, site) != NULL)

static void test_tools_and_the_console(void)
{
    /* The CLI and the SDKs: a Host, nothing of a browser's. */
    OK("127.0.0.1:8000", NULL, NULL);
    OK("localhost:8000", NULL, NULL);
    OK("LOCALHOST", NULL, NULL);
    OK("[::1]:8000", NULL, NULL);
    OK("10.1.2.3", NULL, NULL);
    OK("barge.listen.example:8000", NULL, NULL); /* the --listen host */
    OK("agents.example:8900", NULL, NULL);       /* --agent-url's hosts */
    OK("AGENTS.example", NULL, NULL);
    OK(NULL, NULL, NULL);                         /* HTTP/1.0: no Host */
    /* The console, the server's own origin. */
    OK("127.0.0.1:8000", "http://127.0.0.1:8000", "same-origin");
    OK("localhost:8000", "https://localhost:8000", NULL);
    /* Typed into the address bar, or a bookmark. */
    OK("127.0.0.1:8000", NULL, "none");
    OK("api.localhost:8000", NULL, NULL);
}

static void test_the_machines_own_name(void)
{
    char name[256];
    if (gethostname(name, sizeof name) < 0 || !*name) return;
    char host[300];
    snprintf(host, sizeof host, "%s:8000", name);
    OK(host, NULL, NULL);
    char *dot = strchr(name, '.');
    if (dot) {
        snprintf(host, sizeof host, "%.*s:8000", (int)(dot - name), name);
        OK(host, NULL, NULL);
    }
}

static void test_pages_of_other_sites(void)
{
    /* A form or a no-cors fetch of another site's page. */
    REFUSED("127.0.0.1:8000", "http://attacker.example", "cross-site");
    REFUSED("127.0.0.1:8000", NULL, "cross-site");
    REFUSED("127.0.0.1:8000", NULL, "same-site");
    REFUSED("127.0.0.1:8000", "http://attacker.example", NULL);
    REFUSED("127.0.0.1:8000", "null", NULL); /* a sandboxed frame, a file: page */
    REFUSED("127.0.0.1:8000", "http://127.0.0.1:9000", NULL);
    REFUSED("127.0.0.1:8000", "ftp://127.0.0.1:8000", NULL);
    /* A name pointed at the server by its site's DNS (rebinding): same-origin to the browser,
     * and the page reads the answers. */
    REFUSED("attacker.example:8000", "http://attacker.example:8000", "same-origin");
    REFUSED("attacker.example:8000", NULL, NULL);
    REFUSED("localhost.attacker.example", NULL, NULL);
    REFUSED("agents.example.attacker.example", NULL, NULL);
    REFUSED("x", NULL, NULL);
    REFUSED("[::1", NULL, NULL);
    REFUSED("::1", NULL, NULL);
}

int main(void)
{
    http_origin_init("barge.listen.example", "http://agents.example:8900,https://[fd00::5]:443/x");
    RUN(test_tools_and_the_console);
    RUN(test_the_machines_own_name);
    RUN(test_pages_of_other_sites);
    return 0;
}
