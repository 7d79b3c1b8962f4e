"""The console (docs/console.md) and the API it calls, against someone hostile, in headless
Chromium as test_console.py drives it (tests/e2e/js/console_hostile.mjs).

- Markup in everything the API hands back that a user can write (tags, parameters, environment
  variables and their names, secrets, a cancel or terminate reason, log lines, a log stream's
  prefix, a multi-node job's ranges) and in the page's own address (a queue, an array, a time, a
  status, a token, a job id, a page, a usage grouping, the sign-in form's next address) stays
  text: no element is made of it, the Content-Security-Policy refuses nothing, no link leaves
  the console.
- Another site's page cannot have a --dev server act (a no-cors fetch or a text/plain form POSTs
  a SubmitJob without a preflight), nor read it under another host name (DNS rebinding), nor frame
  the console; the console's files are served by exact name with their headers.
- A --credentials server's secret stays in the tab's sessionStorage: no request, address, cookie
  or localStorage holds it; the region the console signs for is not taken from a refusal's free
  text."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest
from urllib.parse import quote as urlquote

from harness import ACCESS_KEY, BARGE, SECRET_KEY, write_credentials
from test_console import CHROMIUM, JS, JSDIR, browser_ready, get
from test_jobs_common import FAST, JobsCase, resources

# Markup of every kind a page could be made to run: an image's and an SVG's handlers, a script,
# a javascript: link, and quotes that would end an attribute.
MARKUP = ('<img src=x onerror="window.__pwned=1"><svg onload="window.__pwned=2"></svg>"\'>'
          '<script>window.__pwned=3</script><a href="javascript:window.__pwned=4">link</a>')
# For the names AWS bounds at 128 characters (a tag's key) or that are split at '=' (an
# environment variable's), and a log stream's prefix (no ':').
SHORT = '<img src=x onerror="window.__pwned=5">'
NAME = "<b>env</b><script>window.__pwned</script>"


def hostile(case, scenario, data, server=None):
    """Runs console_hostile.mjs; returns what it saw."""
    server = server or case.server
    env = dict(os.environ, BARGE_URL=server.url, BARGE_JS_DIR=JSDIR, CHROMIUM=CHROMIUM)
    p = subprocess.run(["node", os.path.join(JS, "console_hostile.mjs"), scenario, json.dumps(data)],
                       capture_output=True, text=True, env=env, timeout=300)
    case.assertEqual(p.returncode, 0, "console_hostile.mjs: " + p.stderr[-2000:])
    seen = json.loads(p.stdout.strip().splitlines()[-1])
    case.assertIsNone(seen["failed"], "the scenario %s failed at %s\npage text:\n%s\nserver log:\n%s" % (
        scenario, seen["failed"], seen.get("page_text", "")[:3000], server.read_log()[-3000:]))
    return seen


def quote(s):
    return urlquote(s, safe="")


class ConsoleHostileTextTest(JobsCase):
    """Markup from the API and from the address, on every page that shows it (--dev)."""

    @classmethod
    def setUpResources(cls):
        cls.make_definition(
            "hostile-inputs",
            command=["sh", "-c", 'printf "%s\\n" "$X" "</pre><script>window.__pwned=6</script>"; sleep 60'],
            environment=[{"name": NAME, "value": MARKUP}, {"name": "X", "value": MARKUP}],
            container={"logConfiguration": {"logDriver": "awslogs",
                                            "options": {"awslogs-stream-prefix": SHORT}}})
        # A secret that cannot be read: the job fails to start, its page shows the secret's name
        # and where it was to come from.
        cls.make_definition("hostile-secrets", container={"secrets": [{"name": NAME, "valueFrom": MARKUP}]})
        node = {"image": "busybox", "command": ["sh", "-c", "true"], "resourceRequirements": resources(),
                "environment": [{"name": "E", "value": MARKUP}],
                "secrets": [{"name": "S", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/" + MARKUP}]}
        cls.batch.register_job_definition(
            jobDefinitionName="hostile-mn", type="multinode", nodeProperties={
                "numNodes": 2, "mainNode": 0, "nodeRangeProperties": [{"targetNodes": "0:", "container": node}]})

    def setUp(self):
        browser_ready(self)

    def test_markup_from_the_api_and_the_address_stays_text(self):
        x = self.submit("hostile-x", definition="hostile-inputs", tags={SHORT: MARKUP, "k": MARKUP},
                        parameters={MARKUP: MARKUP})
        self.wait_job(x, "RUNNING")
        logs = self.server.client("logs")
        self.wait_for(lambda: len(logs.get_log_events(
            logGroupName="/aws/batch/job", logStreamName=self.job(x)["container"]["logStreamName"],
            startFromHead=True)["events"]) >= 2, what="the hostile job's log lines")
        y = self.submit("hostile-y", dependsOn=[{"jobId": x}], tags={"k": MARKUP})
        self.wait_job(y, "PENDING")
        self.batch.cancel_job(jobId=y, reason=MARKUP)
        self.batch.terminate_job(jobId=x, reason=MARKUP)
        z = self.submit("hostile-z", definition="hostile-secrets")
        mn = self.submit("hostile-mn", definition="hostile-mn")
        self.wait_jobs([x, y, z, mn])
        self.assertEqual(self.job(y)["statusReason"], MARKUP)

        hashes = {
            "job_x": "#/job/" + x, "job_y": "#/job/" + y, "job_z": "#/job/" + z, "job_mn": "#/job/" + mn,
            "node_mn": "#/job/%s%%230" % mn,
            "failed_list": "#/jobs?queue=q&status=FAILED", "any_list": "#/jobs?queue=q",
            "queues": "#/queues", "environments": "#/environments",
            "queue_in_address": "#/jobs?queue=" + quote(MARKUP),
            "array_in_address": "#/jobs?array=" + quote(MARKUP),
            "times_in_address": "#/jobs?queue=q&after=%s&before=%s" % (quote(MARKUP), quote(MARKUP)),
            "status_in_address": "#/jobs?queue=q&status=" + quote(MARKUP),
            "token_in_address": "#/jobs?queue=q&token=" + quote(MARKUP),
            "name_in_address": "#/jobs?queue=q&status=FAILED&name=" + quote(MARKUP),
            "job_in_address": "#/job/" + quote(MARKUP),
            "job_typed": "#/job/" + MARKUP,
            "page_in_address": "#/" + MARKUP,
            "usage_by_tag": "#/usage?queue=q&by=" + quote("tag:" + SHORT),
            "usage_by_markup": "#/usage?queue=q&by=" + quote(MARKUP),
            "usage_queue_in_address": "#/usage?queue=" + quote(MARKUP),
        }
        seen = hostile(self, "text", {"hashes": hashes})
        # Refused listings and usage sums (400) are the browser's own errors; anything else, such
        # as a policy's refusal of a script or image, is not.
        errors = [e for e in seen["console_errors"] if not e.startswith("Failed to load resource")]
        self.assertEqual(errors, [])
        self.assertEqual(seen["dialogs"], [])
        for k, page in seen["pages"].items():
            with self.subTest(page=k):
                self.assertEqual(page["injected"], [])
                self.assertEqual(page["foreign_links"], [])
                self.assertEqual(page["csp"], [])
                self.assertIsNone(page["pwned"])
                self.assertEqual(page["title"], "barge console")
        # The markup reached each page, as text.
        pages = seen["pages"]
        for k, want in (("job_x", MARKUP), ("job_x", NAME), ("job_x", SHORT), ("job_x", "</pre><script>"),
                        ("job_y", MARKUP), ("job_z", NAME), ("job_z", MARKUP), ("job_mn", MARKUP),
                        ("failed_list", MARKUP), ("usage_by_tag", SHORT), ("usage_by_tag", MARKUP),
                        ("queue_in_address", MARKUP), ("array_in_address", MARKUP),
                        ("times_in_address", MARKUP), ("job_in_address", MARKUP), ("job_typed", MARKUP)):
            with self.subTest(page=k, text=want[:20]):
                self.assertIn(want, pages[k]["text"])
        for k in ("status_in_address", "token_in_address", "usage_by_markup", "usage_queue_in_address",
                  "page_in_address"):
            self.assertIn("onerror", pages[k]["text"], k)
        # A javascript: address to go to after signing in is a hash like any other.
        self.assertIsNone(seen["then"]["pwned"])
        self.assertTrue(seen["then"]["url"].startswith(self.server.url + "/console/"), seen["then"]["url"])
        self.assertEqual(seen["then"]["injected"], [])


class ConsoleCrossSiteTest(JobsCase):
    """Another site's page against a --dev server, which takes requests signed with any key or
    none: it must not be able to act through the visitor's browser."""

    _attack = None

    def attack(self):
        """The other site's page, visited once for the class: what it saw."""
        if ConsoleCrossSiteTest._attack is None:
            browser_ready(self)
            ConsoleCrossSiteTest._attack = hostile(self, "crosssite", {
                "job": {"queue": "q", "definition": "jd"},
                "names": {"fetch": "cross-site-fetch", "form": "cross-site-form"}})
        return ConsoleCrossSiteTest._attack

    def submitted_by_the_other_site(self, name):
        """Jobs of that name in queue q, and whether their command ran on this machine."""
        listed = self.batch.list_jobs(jobQueue="q", filters=[{"name": "JOB_NAME", "values": [name]}])
        ids = [j["jobId"] for j in listed["jobSummaryList"]]
        if ids:
            self.wait_jobs(ids)
        marker = os.path.join(self.out_dir, name)
        return ids, os.path.exists(marker)

    def test_the_other_sites_page_ran(self):
        # What the tests below rely on: the page sent its requests and the server answered them.
        seen = self.attack()
        self.assertEqual(seen["fetch"], "opaque", seen)
        self.assertEqual(seen["form"], "answered", seen)

    def test_other_site_cannot_read_the_api(self):
        # No CORS grant: the preflight of a JSON POST is refused, and with it the read.
        self.assertIn("error", self.attack()["cors_read"])

    def test_console_cannot_be_framed(self):
        # X-Frame-Options DENY and frame-ancestors 'none': no clickjacking of Terminate.
        seen = self.attack()
        self.assertEqual(seen["framed"]["drawn"], 0, seen["framed"])

    # A --dev server reads any POST's body as JSON, whatever its Content-Type: another site's
    # no-cors fetch (text/plain, no preflight) must not submit a job whose command would run on
    # this machine.
    def test_cross_site_fetch_cannot_submit_a_job(self):
        self.attack()
        ids, ran = self.submitted_by_the_other_site("cross-site-fetch")
        self.assertEqual(ids, [], "another site's fetch submitted a job; its command %s" % (
            "ran on this machine" if ran else "did not run"))

    # As above, with a text/plain form (the JSON split at its '=' into the field's name and
    # value), which needs no script and no CORS at all.
    def test_cross_site_form_cannot_submit_a_job(self):
        self.attack()
        ids, ran = self.submitted_by_the_other_site("cross-site-form")
        self.assertEqual(ids, [], "another site's form submitted a job; its command %s" % (
            "ran on this machine" if ran else "did not run"))

    # A page whose host name has been pointed at 127.0.0.1 (DNS rebinding) is same-origin with a
    # --dev server: the server must not answer that name, or the page reads and does anything
    # the API does.
    def test_another_host_name_is_not_answered(self):
        browser_ready(self)
        job = self.submit("rebound-secret")
        seen = hostile(self, "rebind", {"queue": "q"})
        self.assertNotEqual(seen["api"]["status"], 200, seen)
        self.assertNotIn("rebound-secret", seen["api"]["names"])
        self.assertTrue(job)

    # The rule is told where the option is.
    def test_the_help_says_which_host_names_are_answered(self):
        out = subprocess.run([BARGE, "server", "--help"], capture_output=True, text=True,
                             timeout=30)
        text = " ".join(out.stdout.split())
        self.assertIn("host names other than an IP address, localhost, the --listen and "
                      "--agent-url hosts and this machine's name", text)

    def test_api_grants_no_cross_origin_access(self):
        origin = {"Origin": "http://attacker.test"}
        status, h, _ = get(self.server, "/v1/submitjob", dict(origin, **{
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,authorization"}), method="OPTIONS")
        self.assertNotIn("access-control-allow-origin", h)
        self.assertNotIn("access-control-allow-credentials", h)
        status, h, _ = get(self.server, "/v1/describejobqueues", origin, method="POST")
        self.assertNotIn("access-control-allow-origin", h)
        self.assertNotIn("set-cookie", h)

    def test_console_files_only_by_exact_name(self):
        for path in ("/console/../", "/console/%2e%2e/", "/console/%2e%2e%2fmetrics",
                     "/console/..%2f..%2fetc%2fpasswd", "/console/./index.html", "/console//",
                     "/console/index.html/", "/console/INDEX.HTML", "/console/index.html;x",
                     "/console/%5c..%5cmetrics", "/console/" + "a" * 4000):
            with self.subTest(path=path[:40]):
                status, h, body = get(self.server, path)
                self.assertEqual(status, 404, body[:200])
                self.assertEqual(h["content-type"], "text/plain; charset=utf-8")
                self.assertEqual(h["x-content-type-options"], "nosniff")
        for path in ("/console/index.html%00.js", "/console/%00"):
            status, _, _ = get(self.server, path)
            self.assertEqual(status, 400, path)
        # A path longer than the server takes: refused, the server still serving.
        status, _, _ = get(self.server, "/console/" + "a" * 20000)
        self.assertIn(status, (400, 404, 414))
        status, _, _ = get(self.server, "/console/")
        self.assertEqual(status, 200)
        # Redirects go to the console alone.
        for path in ("/", "/console"):
            _, h, _ = get(self.server, path)
            self.assertEqual(h["location"], "/console/")

    def test_console_headers(self):
        _, _, html = get(self.server, "/console/")
        names = ["/console/", "/console/index.html",
                 "/console/" + re.search(rb'src="(app-[A-Z0-9]+\.js)"', html).group(1).decode(),
                 "/console/" + re.search(rb'href="(app-[A-Z0-9]+\.css)"', html).group(1).decode()]
        for path in names:
            for method in ("GET", "HEAD"):
                with self.subTest(path=path, method=method):
                    status, h, _ = get(self.server, path, method=method)
                    self.assertEqual(status, 200)
                    csp = [d.strip() for d in h["content-security-policy"].split(";")]
                    for d in ("default-src 'none'", "script-src 'self'", "style-src 'self'",
                              "connect-src 'self'", "base-uri 'none'", "form-action 'none'",
                              "frame-ancestors 'none'"):
                        self.assertIn(d, csp)
                    self.assertEqual(h["x-frame-options"], "DENY")
                    self.assertEqual(h["x-content-type-options"], "nosniff")
                    self.assertEqual(h["referrer-policy"], "no-referrer")


class ConsoleSecretTest(JobsCase):
    """A --credentials server: the secret typed into the sign-in form goes nowhere but the tab's
    sessionStorage."""

    CONSOLE_KEY = "AKIDCONSOLEHOSTILE"
    CONSOLE_SECRET = "console-secret-8b1d7f0e"  # distinctive: searched for in every request

    @classmethod
    def setUpClass(cls):
        cls.creds_dir = tempfile.mkdtemp(prefix="barge-console-creds-")
        path = write_credentials(os.path.join(cls.creds_dir, "credentials"), {
            "tester": {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY,
                       "barge_policy": "admin"},
            "console": {"aws_access_key_id": cls.CONSOLE_KEY, "aws_secret_access_key": cls.CONSOLE_SECRET,
                        "barge_policy": "admin"}})
        cls.server_args = tuple(a for a in FAST if a != "--dev") + ("--credentials", path)
        try:
            super().setUpClass()
        except BaseException:
            shutil.rmtree(cls.creds_dir, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.creds_dir, ignore_errors=True)

    def setUp(self):
        browser_ready(self)

    def test_secret_stays_in_session_storage(self):
        job = self.submit("signed", command="echo signed")
        self.wait_job(job)
        seen = hostile(self, "secret", {"access_key": self.CONSOLE_KEY, "secret_key": self.CONSOLE_SECRET,
                                        "job": job})
        self.assertGreater(seen["requests"], 5)
        self.assertEqual(seen["leaks"], [])
        self.assertEqual(seen["referers"], [])
        self.assertIn("barge.console.credentials", seen["kept"]["session"])
        self.assertEqual(seen["kept"]["local"], [])
        self.assertEqual(seen["kept"]["cookie"], "")
        self.assertNotIn(self.CONSOLE_SECRET, seen["kept"]["url"])
        self.assertEqual(seen["cookies"], 0)
        # The form sent without its script (form-action 'none'): the address keeps no secret.
        self.assertNotIn(self.CONSOLE_SECRET, seen["native_submit_url"])
        self.assertTrue(seen["native_submit_url"].endswith("/console/#/signin"), seen["native_submit_url"])

    def test_cross_site_request_is_refused(self):
        status, _, _ = get(self.server, "/v1/describejobqueues",
                           {"Origin": "http://attacker.test", "Content-Type": "text/plain"}, method="POST")
        self.assertEqual(status, 403)

    # api.js takes the region to sign for from the refusal that names the server's region; a
    # queue name in a crafted link is echoed in ListJobs's refusal, and must not choose the
    # region (the signed-in reader would be shown the sign-in form, refused for that region).
    def test_refusal_text_does_not_choose_the_region(self):
        seen = hostile(self, "region", {"access_key": self.CONSOLE_KEY, "secret_key": self.CONSOLE_SECRET})
        # The queue's refusal said above the jobs form, as for any queue that does not exist.
        self.assertFalse(seen["crafted"]["signin_form"], seen["crafted"])
        self.assertIn("is not a valid name", seen["crafted"]["text"])
        self.assertIn(seen["crafted"]["region"], (None, "us-east-1"))


if __name__ == "__main__":
    unittest.main()
