"""The console's job page and jobs list where test_console_probe.py does not look
(docs/console.md), driven the same way (tests/e2e/js/console_probe.mjs): what a job was
submitted with (resources, timeout, retry strategy, tags, parameters, environment, secrets, a
multi-node job's node ranges), a log longer than the page keeps while it is followed, and a list
of a queue or an array job that does not exist, which keeps its form; an ended job's log of
more lines than the page reads at once, filtered lists that look past the first 2,000 jobs, the
times an address may give, Previous and Next, a list of dependents kept open, how Cancel and
Terminate look when off, and signing in from a job's address."""
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

from harness import ACCESS_KEY, SECRET_KEY
from test_console import browser_ready
from test_console_probe import MARKUP, probe
from test_jobs_common import JobsCase, resources

SSM = "arn:aws:ssm:us-east-1:123456789012:parameter/team/token"


class ConsoleDetailsTest(JobsCase):
    """Against a --dev server, as test_console_probe's ConsoleProbeTest.  The jobs whose inputs
    are looked at wait in the queue "parked": a secret's value is never read (the server has no
    --secrets; DescribeJobs shows only where each value would come from)."""

    def setUp(self):
        browser_ready(self)

    def test_job_page_shows_what_the_job_was_submitted_with(self):
        env = {"V%02d" % i: "value %d" % i for i in range(15)}
        env["E"] = MARKUP
        job = self.submit("inputs", queue="parked", env=env, tags={"owner": MARKUP, "team": "data"},
                          parameters={"p1": "v1", MARKUP: MARKUP},
                          overrides={"resourceRequirements": [{"type": "VCPU", "value": "2"},
                                                              {"type": "MEMORY", "value": "2048"},
                                                              {"type": "GPU", "value": "1"}]},
                          timeout={"attemptDurationSeconds": 600},
                          retryStrategy={"attempts": 3, "evaluateOnExit": [
                              {"onExitCode": "1*", "action": "RETRY"},
                              {"onReason": "*", "action": "EXIT"}]})
        self.addCleanup(self.batch.terminate_job, jobId=job, reason="the test is over")
        self.wait_job(job, "RUNNABLE")
        seen = probe(self, "inputs", {"job": job})
        settings = dict(seen["settings"])
        self.assertEqual(settings.get("Resources"), "2 vCPU · 2,048 MiB memory · 1 GPU")
        self.assertEqual(settings.get("Timeout"), "600 seconds an attempt")
        self.assertEqual(settings.get("Retry strategy"), "3 attempts; RETRY on exit code 1*; EXIT on reason *")
        lists = seen["lists"]
        self.assertEqual(sorted(lists), ["job-env", "job-parameters", "job-tags"])
        # Short lists open, a long one (17 variables: the definition's OUT and the 16 given) folded.
        self.assertEqual(lists["job-tags"]["summary"], "Tags (2)")
        self.assertTrue(lists["job-tags"]["open"])
        self.assertEqual(sorted(map(tuple, lists["job-tags"]["rows"])), [("owner", MARKUP), ("team", "data")])
        self.assertTrue(lists["job-parameters"]["open"])
        self.assertIn([MARKUP, MARKUP], lists["job-parameters"]["rows"])
        self.assertIn(["p1", "v1"], lists["job-parameters"]["rows"])
        self.assertEqual(lists["job-env"]["summary"], "Environment variables (17)")
        self.assertFalse(lists["job-env"]["open"])
        rows = dict(map(tuple, lists["job-env"]["rows"]))
        self.assertEqual({k: rows.get(k) for k in env}, env)
        self.assertIn("OUT", rows)
        # Markup in a tag, a parameter or a variable is text.
        self.assertIsNone(seen["pwned"])
        self.assertEqual(seen["injected"], 0)
        # Opened by the reader, the list stays open while the page reads the job again.
        self.assertGreaterEqual(seen["reread"], 1)
        self.assertTrue(seen["after"]["lists"]["job-env"]["open"])
        self.assertTrue(seen["after"]["same_node"])

    def test_job_page_shows_the_secrets_names_and_where_their_values_come_from(self):
        self.make_definition("with-secrets", container={"secrets": [
            {"name": "DB_PASSWORD", "valueFrom": "db-password"},
            {"name": "TOKEN", "valueFrom": SSM},
            {"name": "MARKED", "valueFrom": MARKUP}]})
        job = self.submit("secrets", queue="parked", definition="with-secrets", env={"PLAIN": "v"})
        self.addCleanup(self.batch.terminate_job, jobId=job, reason="the test is over")
        self.wait_job(job, "RUNNABLE")
        seen = probe(self, "submitted", {"queue": "parked", "status": "RUNNABLE", "job": job,
                                          "name": "secrets"})
        self.assertEqual(seen["id"], job)
        secrets = seen["lists"].get("job-secrets")
        self.assertIsNotNone(secrets, seen["lists"])
        self.assertEqual(secrets["summary"], "Secrets (3)")
        self.assertTrue(secrets["open"])
        self.assertEqual(secrets["rows"], [["DB_PASSWORD", "db-password"], ["TOKEN", SSM],
                                           ["MARKED", MARKUP]])
        # A secret is not an environment variable the job was given a value for.
        env = dict(map(tuple, seen["lists"]["job-env"]["rows"]))
        self.assertEqual(env.get("PLAIN"), "v")
        self.assertNotIn("DB_PASSWORD", env)
        self.assertEqual(seen["ranges"], [])
        self.assertIsNone(seen["pwned"])
        self.assertEqual(seen["injected"], 0)

    def test_a_multinode_jobs_page_shows_its_node_ranges(self):
        def container(command, **more):
            return dict({"image": "busybox", "command": command, "resourceRequirements": resources()},
                        **more)
        many = [{"name": "W%02d" % i, "value": str(i)} for i in range(12)]
        self.batch.register_job_definition(
            jobDefinitionName="mn-inputs", type="multinode", nodeProperties={
                "numNodes": 5, "mainNode": 0, "nodeRangeProperties": [
                    {"targetNodes": "0", "container": container(
                        ["sh", "-c", "echo '%s'" % MARKUP],
                        resourceRequirements=resources(2, 512), instanceType="m5.large",
                        environment=[{"name": "ROLE", "value": MARKUP}],
                        secrets=[{"name": "DB_PASSWORD", "valueFrom": "db-password"}])},
                    {"targetNodes": "1:3", "container": container(["worker", "--fast"], environment=many)},
                    {"targetNodes": "4:", "container": container(["true"])}]})
        job = self.submit("mn-inputs", queue="parked", definition="mn-inputs")
        self.addCleanup(self.batch.terminate_job, jobId=job, reason="the test is over")
        self.wait_job(job, "RUNNABLE")
        seen = probe(self, "submitted", {"queue": "parked", "status": "RUNNABLE", "job": job,
                                          "name": "multinode"})
        self.assertEqual(seen["id"], job)
        self.assertEqual(dict(seen["settings"]).get("Nodes"), "5 nodes; the main node is node 0")
        self.assertNotIn("Resources", dict(seen["settings"]))
        self.assertEqual(seen["lists"], {})
        self.assertEqual(seen["empty"], ["No tags or parameters."])
        self.assertEqual(seen["ranges_title"], "Node ranges (3)")
        main, workers, last = seen["ranges"]
        self.assertEqual([r["target"] for r in seen["ranges"]], ["0", "1:3", "4:"])
        # Three ranges: each folded to its summary.
        self.assertEqual([r["open"] for r in seen["ranges"]], [False, False, False])
        self.assertEqual(main["summary"], "Target nodes 0 (node 0, the main node) · busybox")
        self.assertEqual(workers["summary"], "Target nodes 1:3 (nodes 1 to 3) · busybox")
        self.assertEqual(last["summary"], "Target nodes 4: (node 4) · busybox")
        self.assertEqual(dict(map(tuple, main["facts"])), {
            "Image": "busybox", "Command": "sh -c echo '%s'" % MARKUP,
            "Resources": "2 vCPU · 512 MiB memory", "Instance type": "m5.large"})
        self.assertEqual(main["lists"]["job-node-env-0"]["rows"], [["ROLE", MARKUP]])
        self.assertEqual(main["lists"]["job-node-secrets-0"]["summary"], "Secrets (1)")
        self.assertEqual(main["lists"]["job-node-secrets-0"]["rows"], [["DB_PASSWORD", "db-password"]])
        self.assertEqual(dict(map(tuple, workers["facts"])), {
            "Image": "busybox", "Command": "worker --fast", "Resources": "1 vCPU · 64 MiB memory"})
        # A long list in a range starts folded, as the job's own lists do.
        wenv = workers["lists"]["job-node-env-1"]
        self.assertEqual((wenv["summary"], wenv["open"]), ("Environment variables (12)", False))
        self.assertEqual(dict(map(tuple, wenv["rows"])), {e["name"]: e["value"] for e in many})
        self.assertNotIn("job-node-secrets-1", workers["lists"])
        self.assertEqual(last["lists"], {})
        self.assertEqual(last["empty"], ["No environment variables or secrets."])
        self.assertIsNone(seen["pwned"])
        self.assertEqual(seen["injected"], 0)
        # Opened by the reader, a range stays open while the page reads the job again.
        self.assertGreaterEqual(seen["reread"], 1)
        self.assertEqual(seen["after"]["opened"], "job-node-range-0")
        self.assertEqual([r["open"] for r in seen["after"]["ranges"]], [True, False, False])
        self.assertTrue(seen["after"]["same_node"])

    def test_a_long_log_keeps_its_newest_lines_while_followed(self):
        # 12,000 lines at once, then 400 more one by one, followed by the page: it keeps the
        # newest 10,000, each once and in order, and says how many it let go.
        last = 12400
        job = self.submit("chatty", command="seq 1 12000; i=12000; while [ $i -lt %d ]; do "
                                            "i=$((i+1)); echo $i; sleep 0.02; done; sleep 120" % last)
        self.addCleanup(self.batch.terminate_job, jobId=job, reason="the test is over")
        self.wait_job(job, "RUNNING")
        seen = probe(self, "longlog", {"job": job, "last": last})
        log = seen["log"]
        self.assertEqual((log["count"], log["first"], log["last"]), (10000, str(last - 9999), str(last)))
        self.assertTrue(log["consecutive"])
        self.assertEqual((log["read"], log["shown"], log["dropped"]), (str(last), "10000", str(last - 10000)))
        self.assertTrue(log["at_bottom"], "the followed log stays scrolled to its newest line")
        self.assertTrue(seen["trimmed_above"])
        self.assertIn("2,400 earlier lines are not shown", seen["trimmed"])
        self.assertIn("barge logs " + job, seen["trimmed"])
        self.assertIn("GetLogEvents", seen["trimmed"])
        self.assertIn("following", seen["note"])

    def test_an_ended_jobs_log_is_read_to_its_end(self):
        # The page reads a log 50 answers of GetLogEvents at a time (10,000 lines each).  It read
        # no more of a job that had ended when the page opened, so that the "newest" lines shown
        # were the 500,000th and those before it, with nothing said.  Every line must be read and
        # the count exact.
        lines = 520000
        job = self.submit("huge", command="seq 1 %d" % lines)
        self.wait_job(job, "SUCCEEDED", timeout=60)
        self.wait_for(lambda: self.server.client("logs").get_log_events(
            logGroupName="/aws/batch/job", logStreamName=self.job(job)["container"]["logStreamName"],
            startTime=0, limit=1, startFromHead=False)["events"], timeout=30, what="the log's last line")
        seen = probe(self, "endedlog", {"job": job, "lines": lines, "wait": 60000})
        self.assertEqual((seen["log"]["read"], seen["log"]["last"]), (lines, str(lines)))
        self.assertEqual(seen["log"]["shown"], 10000)
        self.assertIn("510,000 earlier lines are not shown", seen["trimmed"])
        self.assertNotIn("reading", seen["note"])
        self.assertNotIn("following", seen["note"])

    def test_a_list_of_what_does_not_exist_keeps_its_form(self):
        done = self.submit("listed", command="true")
        self.wait_job(done)
        seen = probe(self, "badlist", {"queue": "q", "hashes": {
            "queue": "#/jobs?queue=nope", "array": "#/jobs?array=nope&status=SUCCEEDED",
            "not_array": "#/jobs?array=" + done}})
        self.assertIn("nope", seen["queue"]["error"])
        self.assertIn("no job with id 'nope'", seen["array"]["error"])
        self.assertIn("is not an array job", seen["not_array"]["error"])
        for k in ("queue", "array", "not_array"):
            self.assertTrue(seen[k]["form"], (k, seen[k]))
            # An array that is not one has no children to filter: the form offers a queue.
            self.assertTrue(seen[k]["queue_shown"], k)
            self.assertIsNone(seen[k]["then"]["error"], k)
            self.assertIn(done, seen[k]["then"]["jobs"], k)
        self.assertEqual(seen["queue"]["then"]["hash"], "#/jobs?queue=q")
        # The status asked for is kept; the array is dropped.
        self.assertEqual(seen["array"]["then"]["hash"], "#/jobs?queue=q&status=SUCCEEDED")


class ConsoleListsTest(JobsCase):
    """The jobs list with more than one filter, the times an address gives, paging, and the job
    page's list of dependents and buttons (--dev).  Jobs wait in the queue "parked"."""

    def setUp(self):
        browser_ready(self)

    def submit_many(self, n, name):
        """n jobs into "parked", four SubmitJobs at a time."""
        with ThreadPoolExecutor(4) as pool:
            return list(pool.map(lambda _: self.submit(name, queue="parked"), range(n)))

    @staticmethod
    def local(t):
        """A time as the form's datetime-local input writes it (the browser's zone is this one)."""
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t))

    def test_filtered_lists_look_past_the_first_jobs(self):
        # A status and a name, picked out of filtered ListJobs calls: the server answers 100 jobs
        # a call with a filter, and the page asked for 1,000 and stopped after 20 calls, so it
        # looked at 2,000 jobs and said "No jobs match." with a Next link.  It must look at
        # 5,000, and say, when none matched so far and there are more, that none did so far.
        arr = self.submit("many", queue="parked", arrayProperties={"size": 6000})
        self.addCleanup(self.batch.terminate_job, jobId=arr, reason="the test is over")
        self.wait_for(lambda: self.job(arr + ":2999"), what="the array's children")
        self.batch.cancel_job(jobId=arr + ":2999", reason="picked")
        self.wait_job(arr + ":2999", "FAILED")
        seen = probe(self, "lists", {"next": ["none"], "hashes": {
            "picked": "#/jobs?array=%s&status=FAILED&name=many" % arr,
            # The name as the form sends it: trimmed.
            "spaced": "#/jobs?array=%s&status=FAILED&name=%%20many%%20" % arr,
            "none": "#/jobs?array=%s&status=SUCCEEDED&name=many" % arr}})
        with self.subTest("past the first 2,000"):
            self.assertEqual(seen["picked"]["jobs"], [arr + ":2999"])
        with self.subTest("the name in the address trimmed"):
            self.assertEqual(seen["spaced"]["form"]["name"], "many")
            self.assertEqual(seen["spaced"]["jobs"], [arr + ":2999"])
        self.assertEqual(seen["none"]["jobs"], [])
        self.assertTrue(seen["none"]["next"])
        self.assertEqual(seen["none"]["none"], "None of the 5,000 jobs looked at so far match; "
                                               "the next page looks at the jobs after them.")
        self.assertEqual(seen["none"]["then"]["none"], "No jobs match.")
        self.assertFalse(seen["none"]["then"]["next"])

    def test_both_times_list_the_jobs_between_them(self):
        # Both creation times: the page sent AFTER_CREATED_AT and kept the jobs before the other
        # bound itself, so 2,100 jobs newer than the window filled its 2,000 and it said "No jobs
        # match.".  It must send BEFORE_CREATED_AT (the listing is newest first) and stop at the
        # first job older than the window.
        time.sleep(1.1 - time.time() % 1)  # the window starts on a second of its own
        start = time.time()
        inside = self.submit("inside", queue="parked")
        time.sleep(2.1 - time.time() % 1)
        end = time.time()
        self.submit_many(2100, "later")
        seen = probe(self, "lists", {"hashes": {
            "window": "#/jobs?queue=parked&after=%s&before=%s" % (self.local(start - 1), self.local(end)),
            "named": "#/jobs?queue=parked&name=inside&after=%s" % self.local(start - 1)}})
        self.assertEqual(seen["window"]["jobs"], [inside])
        self.assertFalse(seen["window"]["next"])
        self.assertEqual(seen["named"]["jobs"], [inside])

    def test_times_the_form_cannot_show_are_refused(self):
        # A time Date() reads but the form's datetime-local input cannot show (a year alone, a
        # month's name, a bare number) filtered the list unseen.  Only YYYY-MM-DDTHH:MM[:SS] is
        # taken; a date alone is its midnight, shown in the form.
        seen = probe(self, "lists", {"hashes": {
            k: "#/jobs?queue=parked&after=" + v for k, v in {
                "year": "2099", "words": "Dec%207%202099", "number": "1", "no_day": "2099-02-30T10:00",
                "date": "2099-01-01", "minutes": "2099-01-01T10:30"}.items()}})
        for k, v in (("year", "2099"), ("words", "Dec 7 2099"), ("number", "1"), ("no_day", "2099-02-30T10:00")):
            self.assertIn("Created after: '%s' is not a date and time" % v, seen[k]["error"] or "", k)
        self.assertIsNone(seen["date"]["error"])
        self.assertEqual(seen["date"]["form"]["after"], "2099-01-01T00:00")
        self.assertEqual(seen["date"]["none"], "No jobs match.")
        self.assertIsNone(seen["minutes"]["error"])
        self.assertEqual(seen["minutes"]["form"]["after"], "2099-01-01T10:30")

    def test_previous_stays_in_the_console(self):
        # Previous was history.back(): on a page opened from a link it left the console.  It
        # must go to the page before within the console, or be off when that is not known.
        arr = self.submit("paged", queue="parked", arrayProperties={"size": 200})
        self.addCleanup(self.batch.terminate_job, jobId=arr, reason="the test is over")
        self.wait_for(lambda: self.job(arr + ":199"), what="the array's children")
        listing = "#/jobs?array=%s&status=RUNNABLE" % arr
        token = self.batch.list_jobs(arrayJobId=arr, jobStatus="RUNNABLE", maxResults=50)["nextToken"]
        seen = probe(self, "paging", {"hash": listing + "&token=" + token, "first": listing})
        second = ["%s:%d" % (arr, i) for i in range(50, 100)]
        self.assertEqual(seen["linked"]["jobs"], second)
        self.assertIsNone(seen["linked"]["prev"], "Previous is off on a page opened from a link")
        self.assertIn("/console/", seen["linked_prev_clicked"])
        self.assertEqual(seen["third"]["jobs"], ["%s:%d" % (arr, i) for i in range(100, 150)])
        self.assertEqual(seen["back"]["jobs"], second)
        self.assertEqual(seen["second"]["jobs"], second)
        self.assertEqual(seen["first_again"]["jobs"], seen["first"]["jobs"])
        self.assertNotIn("token=", seen["first_again"]["hash"])

    def test_a_list_opened_stays_open_and_off_buttons_look_off(self):
        # The list of the jobs that wait for a job folded shut each time the page read the job
        # again (every 2 s until it ends); it must stay as the reader left it.  A disabled
        # Terminate looked as the enabled one (its colours and pointer won over the disabled look).
        waited = self.submit("waited", queue="parked")
        self.addCleanup(self.batch.terminate_job, jobId=waited, reason="the test is over")
        for _ in range(13):
            self.submit("waits", queue="parked", dependsOn=[{"jobId": waited}])
        ended = self.submit("ended", queue="parked")
        self.batch.cancel_job(jobId=ended, reason="over")
        self.wait_job(ended, "FAILED")
        seen = probe(self, "looks", {"waiting": waited, "ended": ended})
        with self.subTest("the list kept open"):
            self.assertTrue(seen["list_open"])
            self.assertTrue(seen["same_page"])
        self.assertFalse(seen["on"]["disabled"])
        self.assertTrue(seen["off"]["disabled"])
        self.assertEqual(seen["off"]["cursor"], "not-allowed")
        self.assertNotEqual(seen["off"]["color"], seen["on"]["color"])
        self.assertEqual(seen["off"]["color"], seen["cancel_off"]["color"])


class ConsoleSignInTest(JobsCase):
    """A server started with --credentials, as test_console's ConsoleSignedTest."""

    server_args = ("--idle-seconds", "2", "--kill-grace-seconds", "1")

    def test_sign_in_from_a_jobs_address(self):
        # Signed in from a job's address opened in a fresh tab, the page stayed at "Checking…":
        # the address was set to itself, which fires no hashchange.  The job's page must show.
        # A key pasted with a zero-width space read as a server that does not answer: invisible
        # characters are dropped, and one that no key has is named.
        browser_ready(self)
        job = self.submit("deep", queue="parked")
        self.addCleanup(self.batch.terminate_job, jobId=job, reason="the test is over")
        seen = probe(self, "signin", {"job": job, "access_key": ACCESS_KEY, "secret_key": SECRET_KEY})
        self.assertEqual(seen["first"], {"page": "job", "form": True})
        with self.subTest("from the job's address"):
            self.assertEqual(seen["job"], job, seen["said"])
            self.assertEqual(seen["hash"], "#/job/" + job)
        with self.subTest("a key pasted with invisible characters"):
            self.assertEqual(seen["pasted"], "queues", seen["pasted_said"])
        self.assertIn("The access key ID holds '\u2019' (U+2019), a character keys never have", seen["strange"])


if __name__ == "__main__":
    unittest.main()
