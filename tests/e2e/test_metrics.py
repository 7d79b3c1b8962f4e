"""GET /metrics: Prometheus's text format, checked by promtool (Debian's prometheus package),
with the jobs by queue and status, RUNNABLE jobs by what they wait for, instances and capacity by
compute environment, counters of submits, dispatches and ends, histograms of submit-to-start,
run time, scheduling passes and group commits, and HTTP requests by operation and code."""
import re
import shutil
import subprocess
import urllib.request

from harness import Server
from test_jobs_common import FAST, JobsCase

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def parse(text):
    """{(name, frozenset(labels)): value} of every sample."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


class Metrics(JobsCase):
    def scrape(self, server=None, headers=None):
        req = urllib.request.Request((server or self.server).url + "/metrics",
                                     headers=headers or {})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()

    def check_counts_match_list_jobs(self):
        s = parse(self.scrape()[2])
        for q in ("q", "parked"):
            for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING",
                           "SUCCEEDED", "FAILED"):
                listed = sum(len(p["jobSummaryList"]) for p in self.batch.get_paginator(
                    "list_jobs").paginate(jobQueue=q, jobStatus=status))
                self.assertEqual(value(s, "barge_jobs", queue=q, status=status), listed,
                                 "%s %s" % (q, status))

    def test_metrics_say_what_happened(self):
        ok = self.submit("m-ok", command="true")
        bad = self.submit("m-bad", command="exit 3")
        waiting = [self.submit("m-wait-%d" % i, queue="parked") for i in range(3)]
        self.wait_jobs([ok, bad])
        self.wait_for(lambda: all("CAPACITY" in (self.job(j).get("statusReason") or "") or
                                  "COMPUTE" in (self.job(j).get("statusReason") or "") or
                                  self.job(j).get("statusReason") for j in waiting), 10,
                      "the waiting jobs to say why")
        status, ctype, text = self.scrape()
        self.assertEqual(status, 200)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        if shutil.which("promtool"):
            p = subprocess.run(["promtool", "check", "metrics"], input=text,
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        else:
            self.fail("promtool is missing: scripts/deps.sh installs Debian's prometheus")
        s = parse(text)
        # A server alone serves: it is the leader.
        self.assertEqual(value(s, "barge_leader"), 1)
        self.assertGreaterEqual(value(s, "barge_jobs", queue="q", status="SUCCEEDED"), 1)
        self.assertGreaterEqual(value(s, "barge_jobs", queue="q", status="FAILED"), 1)
        self.assertEqual(value(s, "barge_jobs", queue="parked", status="RUNNABLE"), 3)
        waits = {dict(k[1])["reason"]: v for k, v in s.items()
                 if k[0] == "barge_runnable_jobs" and dict(k[1])["queue"] == "parked"}
        self.assertEqual(sum(waits.values()), 3, waits)
        self.assertGreaterEqual(value(s, "barge_jobs_submitted_total"), 5)
        self.assertGreaterEqual(value(s, "barge_attempts_dispatched_total"), 2)
        self.assertGreaterEqual(value(s, "barge_attempts_ended_total", reason="exited"), 2)
        for h in ("barge_job_submit_to_start_seconds", "barge_attempt_run_seconds",
                  "barge_scheduling_pass_seconds", "barge_group_commit_batch_calls",
                  "barge_group_commit_seconds"):
            self.assertGreaterEqual(value(s, h + "_count"), 1, h)
            self.assertEqual(value(s, h + "_count"), value(s, h + "_bucket", le="+Inf"), h)
        self.assertGreaterEqual(value(s, "barge_http_requests_total", operation="SubmitJob",
                                      code="200"), 5)
        registered = value(s, "barge_instances", compute_environment="ce", state="registered")
        self.assertIsNotNone(registered)
        self.assertEqual(value(s, "barge_compute_environment_vcpus", compute_environment="ce",
                               kind="max"), self.max_vcpus)
        self.assertEqual(value(s, "barge_instances", compute_environment="ce-off",
                               state="registered"), 0)
        # The counts are ListJobs's, status by status (array children apart), and stay so
        # through a restart, which loads them afresh.
        arr = self.submit("m-arr", arrayProperties={"size": 4}, command="true")
        self.wait_jobs([arr])
        self.check_counts_match_list_jobs()
        self.server.restart()
        self.check_counts_match_list_jobs()
        s = parse(self.scrape()[2])
        self.assertEqual(value(s, "barge_array_child_jobs", queue="q", status="SUCCEEDED"), 4)
        # A scrape counts as a request in the next one.
        s2 = parse(self.scrape()[2])
        self.assertGreaterEqual(value(s2, "barge_http_requests_total", operation="Metrics",
                                      code="200"), 1)


    def test_submit_to_start_counts_a_job_once(self):
        # Each attempt was counted from the submit: a retried job's third attempt reported the
        # two before it as time waited.
        before = value(parse(self.scrape()[2]), "barge_job_submit_to_start_seconds_count") or 0
        jid = self.submit("m-retried", command="exit 1", retryStrategy={"attempts": 3})
        self.assertEqual(self.wait_jobs([jid])[jid]["status"], "FAILED")
        self.assertEqual(len(self.job(jid)["attempts"]), 3)
        s = parse(self.scrape()[2])
        self.assertEqual(value(s, "barge_job_submit_to_start_seconds_count"), before + 1)


class Token(JobsCase):
    server_args = FAST + ("--metrics-token", "scrape-token-0123456789")

    def test_a_scrape_carries_the_token(self):
        req = urllib.request.Request(self.server.url + "/metrics")
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        self.assertEqual(e.exception.code, 401)
        self.assertIn("--metrics-token", e.exception.read().decode())
        req = urllib.request.Request(self.server.url + "/metrics", headers={
            "Authorization": "Bearer scrape-token-012345678X"})
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        self.assertEqual(e.exception.code, 401)
        req = urllib.request.Request(self.server.url + "/metrics", headers={
            "Authorization": "Bearer scrape-token-0123456789"})
        with urllib.request.urlopen(req, timeout=10) as r:
            self.assertEqual(r.status, 200)
            self.assertIn("barge_jobs{", r.read().decode())

    def test_the_scheme_is_any_case_and_a_refusal_says_bearer(self):
        # RFC 9110 11.1: the scheme's name is case-insensitive.
        for scheme in ("bearer", "BEARER", "Bearer "):
            status, _, body = self.server.raw("GET", "/metrics", headers={
                "Authorization": scheme + " scrape-token-0123456789"})
            self.assertEqual(status, 200, (scheme, body))
        # White space after the value is not part of it (RFC 9110 5.5); a word after it is.
        for tail, want in ((" ", 200), ("\t", 200), ("  \t ", 200), (" x", 401)):
            status, _, body = self.server.raw("GET", "/metrics", headers={
                "Authorization": "Bearer scrape-token-0123456789" + tail})
            self.assertEqual(status, want, (tail, body))
        # RFC 6750 3: a 401 names the scheme, and a token sent but wrong is invalid.
        status, headers, _ = self.server.raw("GET", "/metrics")
        self.assertEqual((status, headers.get("WWW-Authenticate")), (401, "Bearer"))
        status, headers, _ = self.server.raw("GET", "/metrics", headers={
            "Authorization": "bearer scrape-token-012345678X"})
        self.assertEqual((status, headers.get("WWW-Authenticate")),
                         (401, 'Bearer error="invalid_token"'))

    def test_head_is_answered_as_get_without_a_body(self):
        status, headers, body = self.server.raw("HEAD", "/metrics")
        self.assertEqual((status, headers.get("WWW-Authenticate"), body), (401, "Bearer", b""))
        status, headers, body = self.server.raw("HEAD", "/metrics", headers={
            "Authorization": "Bearer scrape-token-0123456789"})
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers)
        self.assertGreater(int(headers["Content-Length"]), 0)
        self.assertEqual(body, b"")

    def test_a_short_token_is_refused(self):
        p = subprocess.run([self.server.binary or __import__("harness").BARGE, "server",
                            "--metrics-token", "short"], capture_output=True, text=True,
                           timeout=10)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--metrics-token must be at least 16 characters", p.stderr)


class Signed(JobsCase):
    """A server that checks signatures still lets Prometheus scrape without one."""
    server_args = ("--idle-seconds", "2")

    def test_unsigned_scrape(self):
        with urllib.request.urlopen(self.server.url + "/metrics", timeout=10) as r:
            self.assertEqual(r.status, 200)


del Server  # imported for the harness's registry of servers only
