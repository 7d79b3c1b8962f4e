"""The web console (docs/console.md): its files as the server sends them, and the pages clicked
through in headless Chromium (Debian's, driven by Playwright from tests/e2e/js) against real
servers with real jobs: one started with --dev, one with --credentials whose requests the
console signs.

Screenshots of every page go to BARGE_SCREENSHOTS, else console-screenshots/ beside the barge
binary (build/console-screenshots for `make check`); the test prints where."""
import gzip
import http.client
import json
import os
import re
import shutil
import subprocess
import time
import unittest

from harness import ACCESS_KEY, BARGE, ROOT, SECRET_KEY
from test_jobs_common import JobsCase

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
JS = os.path.join(ROOT, "tests", "e2e", "js")
JSDIR = os.path.join(os.path.dirname(os.path.abspath(BARGE)), "js")
SHOTS = os.environ.get("BARGE_SCREENSHOTS") or os.path.join(
    os.path.dirname(os.path.abspath(BARGE)), "console-screenshots")


def get(server, path, headers=None, method="GET"):
    """One request without following redirects: (status, headers, body bytes)."""
    c = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def browser_ready(case):
    """The browser and Playwright: a missing one fails the test, as scripts/deps.sh installs
    chromium and npm."""
    if not os.path.exists(CHROMIUM):
        case.fail("%s is missing: scripts/deps.sh installs Debian's chromium" % CHROMIUM)
    if not shutil.which("node") or not shutil.which("npm"):
        case.fail("node and npm are missing: scripts/deps.sh installs npm")
    p = subprocess.run([os.path.join(JS, "install.sh"), JSDIR], capture_output=True, text=True,
                       timeout=600)
    case.assertEqual(p.returncode, 0, "npm could not install playwright-core: " + p.stderr[-800:])
    os.makedirs(SHOTS, exist_ok=True)


def drive(case, server, scenario, data):
    """Runs console_check.mjs; returns what it saw."""
    env = dict(os.environ, BARGE_URL=server.url, BARGE_JS_DIR=JSDIR, BARGE_SCREENSHOTS=SHOTS,
               CHROMIUM=CHROMIUM)
    p = subprocess.run(["node", os.path.join(JS, "console_check.mjs"), scenario,
                        json.dumps(data)], capture_output=True, text=True, env=env, timeout=300)
    case.assertEqual(p.returncode, 0, "console_check.mjs: " + p.stderr[-2000:])
    seen = json.loads(p.stdout.strip().splitlines()[-1])
    print("\n  console screenshots (%s): %s" % (scenario, SHOTS))
    case.assertIsNone(seen["failed"], "the console failed at %s\npage text:\n%s\nserver log:\n%s" % (
        seen["failed"], seen.get("page_text", "")[:3000], server.read_log()[-3000:]))
    case.assertEqual(seen["console_errors"], [], "the page logged errors")
    return seen


class ConsoleFilesTest(JobsCase):
    """What the server sends for the console, without a browser."""

    def test_root_redirects_to_the_console(self):
        status, h, _ = get(self.server, "/")
        self.assertEqual(status, 302)
        self.assertEqual(h["location"], "/console/")
        status, h, _ = get(self.server, "/console")
        self.assertEqual(status, 301)
        self.assertEqual(h["location"], "/console/")

    def test_index_names_hashed_files_kept_for_a_year(self):
        status, h, body = get(self.server, "/console/")
        self.assertEqual(status, 200)
        self.assertEqual(h["content-type"], "text/html; charset=utf-8")
        self.assertEqual(h["cache-control"], "no-cache")
        self.assertIn("script-src 'self'", h["content-security-policy"])
        html = body.decode()
        js = re.search(r'src="(app-[A-Z0-9]+\.js)"', html).group(1)
        css = re.search(r'href="(app-[A-Z0-9]+\.css)"', html).group(1)
        for name, ctype in ((js, "text/javascript; charset=utf-8"), (css, "text/css; charset=utf-8")):
            status, h, raw = get(self.server, "/console/" + name)
            self.assertEqual(status, 200, name)
            self.assertEqual(h["content-type"], ctype)
            self.assertEqual(h["cache-control"], "public, max-age=31536000, immutable")
            self.assertNotIn("content-encoding", h)
            # Precompressed: the same bytes, gzip-encoded, to a client that takes gzip.
            status, hz, packed = get(self.server, "/console/" + name, {"Accept-Encoding": "gzip, br"})
            self.assertEqual(hz["content-encoding"], "gzip")
            self.assertEqual(gzip.decompress(packed), raw)
            self.assertLess(len(packed), len(raw))
            self.assertEqual(hz["etag"], h["etag"])
            # Refused gzip (q=0): the plain bytes.
            _, h0, plain = get(self.server, "/console/" + name, {"Accept-Encoding": "gzip;q=0"})
            self.assertNotIn("content-encoding", h0)
            self.assertEqual(plain, raw)
        # The bundle carries the signer: the console signs its requests itself.
        _, _, raw = get(self.server, "/console/" + js)
        self.assertIn(b"AWS4-HMAC-SHA256", raw)

    def test_etag_answers_not_modified(self):
        _, h, _ = get(self.server, "/console/")
        status, h2, body = get(self.server, "/console/", {"If-None-Match": h["etag"]})
        self.assertEqual(status, 304)
        self.assertEqual(body, b"")
        status, _, _ = get(self.server, "/console/", {"If-None-Match": '"other"'})
        self.assertEqual(status, 200)

    def test_head_and_unknown_files(self):
        status, h, body = get(self.server, "/console/", method="HEAD")
        self.assertEqual(status, 200)
        self.assertEqual(body, b"")
        status, h, body = get(self.server, "/console/nope.js")
        self.assertEqual(status, 404)
        self.assertIn(b"/console/", body)
        status, h, body = get(self.server, "/console/../metrics")
        self.assertIn(status, (400, 404))
        # Only GET and HEAD: anything else is the API's, which has no such operation.
        status, _, body = self.server.raw("POST", "/console/", {}, {"Content-Type": "application/json"})
        self.assertEqual(status, 400)
        self.assertEqual(body["__type"], "ClientException")

    def test_queue_description_counts_jobs_by_status(self):
        ids = [self.submit("counted", queue="parked") for _ in range(3)]
        self.wait_jobs(ids, "RUNNABLE")
        status, _, out = self.server.raw("POST", "/v1/describejobqueues", {"jobQueues": ["parked"]},
                                         {"Content-Type": "application/json"})
        self.assertEqual(status, 200, out)
        b = out["jobQueues"][0]["barge"]
        listed = len(self.batch.list_jobs(jobQueue="parked", jobStatus="RUNNABLE")["jobSummaryList"])
        self.assertEqual(b["jobsByStatus"]["RUNNABLE"], listed)
        self.assertGreaterEqual(listed, 3)
        self.assertEqual(set(b["jobsByStatus"]), {"SUBMITTED", "PENDING", "RUNNABLE", "STARTING",
                                                  "RUNNING", "SUCCEEDED", "FAILED"})


class ConsoleBrowserTest(JobsCase):
    """The pages, clicked through against a --dev server."""

    def test_pages(self):
        browser_ready(self)
        before_jobs_ms = int(time.time() * 1000)
        parked = [self.submit("park-%03d" % i, queue="parked") for i in range(120)]
        # The needles come after a whole second that the older jobs precede: the time filter's.
        boundary = int(time.time()) + 1
        time.sleep(boundary - time.time() + 0.2)
        needles = [self.submit("needle-%d" % i, queue="parked") for i in range(3)]
        first = self.submit("first", command="echo first was here", tags={"team": "red"})
        second = self.submit("second", command="echo second", dependsOn=[{"jobId": first}])
        failing = self.submit("failing", command="echo about to fail; exit 3",
                              tags={"team": "blue"})
        after_failing = self.submit("after-failing", dependsOn=[{"jobId": failing}])
        array = self.submit("array", command="echo child $AWS_BATCH_JOB_ARRAY_INDEX",
                            arrayProperties={"size": 3})
        self.wait_jobs([first, second, failing, after_failing, array])
        running = self.submit("ticker", command="i=0; while [ $i -lt 900 ]; do i=$((i+1)); "
                                                "echo tick $i; sleep 0.4; done")
        self.wait_job(running, "RUNNING")
        self.wait_jobs(parked + needles, "RUNNABLE")
        expected = {q: {s: sum(len(p["jobSummaryList"]) for p in self.batch.get_paginator(
            "list_jobs").paginate(jobQueue=q, jobStatus=s)) for s in ("RUNNABLE", "RUNNING",
                                                                      "SUCCEEDED", "FAILED")}
                    for q in ("q", "parked")}

        seen = drive(self, self.server, "dev", {
            "list_queue": "parked", "done_queue": "q", "name_filter": "needle*",
            "failed_job": failing, "dependent_job": second, "array_job": array,
            "running_job": running, "line_prefix": "tick ", "cancel_job": parked[0],
            "created_after": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(boundary)),
            "reason": "stopped from test_console", "usage_tag": "team",
            "before_jobs_ms": before_jobs_ms})

        # GET / led to the console's queues page.
        self.assertTrue(seen["root"]["url"].endswith("/console/"), seen["root"])
        self.assertEqual(seen["root"]["page"], "queues")
        # The queues page's counts are ListJobs's.
        for q, counts in expected.items():
            for s, n in counts.items():
                self.assertEqual(seen["queues"][q][s], n, (q, s, seen["queues"]))
        self.assertEqual(seen["queues"]["parked"]["RUNNABLE"], 123)
        self.assertEqual(seen["queues"]["q"]["FAILED"], 2)  # failing, and after-failing
        self.assertEqual(seen["queues"]["q"]["RUNNING"], 1)  # the ticker
        # The environment "ce" (4 vCPUs at most) with the ticker's instance.
        ce = [e for e in seen["environments"] if e["name"] == "ce"][0]
        self.assertIn("of 4 maximum", ce["vcpus"])
        self.assertGreaterEqual(ce["instances"], 1)
        self.assertRegex(ce["vcpus"], r"vCPUs used [1-4]")
        # Paging: 123 RUNNABLE jobs in pages of 50, in submit order, each once; back goes back.
        self.assertEqual([len(p) for p in seen["paging"]], [50, 50, 23])
        self.assertEqual(sum(seen["paging"], []), parked + needles)
        self.assertEqual(seen["paging_back"], seen["paging"][1])
        # The name filter (any status), newest first.
        self.assertEqual(seen["by_name"], ["needle-2", "needle-1", "needle-0"])
        # Created after the boundary (any status): the needles alone.
        self.assertEqual(seen["by_time"], ["needle-2", "needle-1", "needle-0"])
        self.assertIn("after=", seen["by_time_hash"])
        self.assertEqual(sorted(seen["failed_list"]), sorted([failing, after_failing]))
        # The failed job: its exit code, its attempt, and the job that waited for it.
        fj = seen["failed_job"]
        self.assertEqual(fj["status"], "FAILED")
        self.assertEqual(fj["exit_code"], "3")
        self.assertEqual(fj["attempts"], ["3"])
        self.assertEqual(fj["graph_dependents"], [after_failing])
        # The dependency drawn: first -> second, and its node leads to first's page.
        dj = seen["dependent_job"]
        self.assertEqual(dj["graph_dependencies"], [first])
        self.assertEqual(dj["graph_self"], [second])
        self.assertEqual(dj["edges"], 1)
        self.assertTrue(any("vCPU-seconds" in r for r in dj["usage"]), dj["usage"])
        self.assertEqual(seen["dependency_page"], first)
        self.assertIn("SUCCEEDED 3", seen["array_job"]["children"])
        self.assertIn("3 children", seen["array_job"]["node"])
        self.assertEqual(seen["array_children"], ["%s:%d" % (array, i) for i in range(3)])
        # Usage in queue q: first, second, failing, after-failing, the array's three children
        # and the ticker, all of definition jd; by tag team, red and blue one each.
        self.assertEqual([(u["key"], u["jobs"]) for u in seen["usage_by_definition"]], [("jd", 8)])
        self.assertGreater(seen["usage_by_definition"][0]["vcpu"], 0)
        self.assertEqual(seen["usage_by_shown"], "definition")
        by_tag = {u["key"]: u for u in seen["usage_by_tag"]}
        self.assertEqual({k: u["jobs"] for k, u in by_tag.items()}, {"red": 1, "blue": 1, "": 6})  # "" : the untagged
        self.assertIn("by=tag%3Ateam", seen["usage_hash"])
        # The attempts that ended in the last hour, by the same tag: not the ticker, which
        # runs, nor after-failing, which never ran (both among the untagged six).
        self.assertEqual({u["key"]: u["jobs"] for u in seen["usage_last_hour"]},
                         {"red": 1, "blue": 1, "": 4})
        self.assertIn("ended=1h", seen["usage_last_hour_hash"])
        self.assertIn("6 jobs with an attempt that ended in the window",
                      seen["usage_last_hour_total"])
        # Before any job ran: nothing.
        self.assertEqual(seen["usage_before_jobs"], [])
        # The live log followed: lines came in after the page first showed some.
        log = seen["live_log"]
        firsts = [int(n) for n in re.findall(r"tick (\d+)", log["first_text"])]
        laters = [int(n) for n in re.findall(r"tick (\d+)", log["later_text"])]
        self.assertEqual(firsts, list(range(1, len(firsts) + 1)))
        self.assertEqual(laters[:len(firsts)], firsts)
        self.assertGreaterEqual(len(laters), len(firsts) + 3, log)
        self.assertIn("following", log["note"])
        # Terminate: the job ends FAILED with the reason typed.
        self.assertEqual(seen["terminated"]["status"], "FAILED")
        self.assertIn("TerminateJob sent", seen["terminated"]["result"])
        d = self.wait_job(running, "FAILED")
        self.assertEqual(d["statusReason"], "stopped from test_console")
        self.assertEqual(seen["terminated"]["reason"], "stopped from test_console")
        # Cancel: a RUNNABLE job of the parked queue ends FAILED, cancelled.
        self.assertEqual(seen["cancelled"]["status"], "FAILED")
        d = self.job(seen["cancelled"]["job"])
        self.assertEqual(d["status"], "FAILED")
        self.assertTrue(d["isCancelled"])
        self.assertEqual(len(seen["screenshots"]), 11)


class ConsoleSignedTest(JobsCase):
    """A server started with --credentials: the console asks for a key and signs with it."""

    server_args = ("--idle-seconds", "2", "--kill-grace-seconds", "1")

    def test_sign_in(self):
        browser_ready(self)
        job = self.submit("signed", command="echo signed and delivered")
        self.wait_job(job, "SUCCEEDED")
        seen = drive(self, self.server, "signin", {
            "access_key": ACCESS_KEY, "secret_key": SECRET_KEY, "job": job,
            "log_line": "signed and delivered"})
        # Before signing in: the server refused the console's placeholder key, and said so.
        self.assertEqual(seen["first"]["page"], "queues")
        self.assertTrue(seen["first"]["form"])
        self.assertIn("UnrecognizedClientException", seen["first"]["error"])
        # A wrong secret: the server's refusal, shown as it came.
        self.assertIn("InvalidSignatureException", seen["wrong"])
        self.assertIn("signature", seen["wrong"].lower())
        # The right one: the pages, signed.
        self.assertEqual(sorted(seen["queues"]), ["parked", "q"])
        self.assertEqual(seen["who"], ACCESS_KEY)
        self.assertEqual(seen["job"]["id"], job)
        self.assertEqual(seen["job"]["status"], "SUCCEEDED")
        self.assertIn("signed and delivered", seen["job"]["log"])
        self.assertEqual(seen["signed_out"], [k for k in seen["signed_out"]
                                              if k != "barge.console.credentials"])
        # The console's files need no signature; the API still does.
        status, _, _ = get(self.server, "/console/")
        self.assertEqual(status, 200)
        status, _, body = self.server.raw("POST", "/v1/describejobqueues", {},
                                          {"Content-Type": "application/json"})
        self.assertEqual(status, 403, body)


if __name__ == "__main__":
    unittest.main()
