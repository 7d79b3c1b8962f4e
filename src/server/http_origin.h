/* http_origin — requests a web browser was made to send.
 *
 * A server that takes unsigned requests (--dev, without --credentials) would otherwise do what
 * any web page its user opens asks of it: a page of another site can POST a SubmitJob to
 * 127.0.0.1 without the browser asking the server first (a form, or a fetch whose body is
 * text/plain: "simple" requests, which CORS lets through and only hides the answer of), and the
 * job's command then runs on the user's machine; and a site that points its own name at
 * 127.0.0.1 (DNS rebinding) is then the server's own origin and reads the answers too.  A
 * signed request needs a key no page has, so with --credentials none of this applies.
 *
 * So an unsigned server refuses an API request that a browser says comes from another site
 * (Sec-Fetch-Site: cross-site or same-site, or an Origin that is not the server's as the request
 * names it), and one that names the server by a host name it does not answer to: an IP address,
 * localhost (and *.localhost), the --listen host and the machine's own name are taken.  The
 * AWS CLI, the SDKs and barge's own CLI send neither Sec-Fetch-Site nor Origin, and the console
 * is the server's own origin. */
#ifndef BARGE_HTTP_ORIGIN_H
#define BARGE_HTTP_ORIGIN_H

/* The --listen host, and the hosts of urls (the server's --agent-url, a comma-separated list
 * of URLs, or NULL), which the server hands its agents and their jobs: taken besides the names
 * always taken.  Call once before serving. */
void http_origin_init(const char *listen_host, const char *urls);

/* NULL when a request with these headers (each NULL when absent) may be answered by a server
 * that takes unsigned requests; else a sentence saying why not, for a 403. */
const char *http_origin_refusal(const char *host, const char *origin, const char *fetch_site);
/* Why an agent's endpoint refuses a request a browser sent (Origin or Sec-Fetch-Site) on a
 * --dev server, which takes any join token: a page could register an instance and be handed
 * jobs, their environments with them. */
extern const char http_origin_agent_refusal[];

#endif
