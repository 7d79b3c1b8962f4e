"""The console's job page and jobs list where test_console_probe.py does not look
(docs/console.md), driven the same way (tests/e2e/js/console_probe.mjs): what a job was
submitted with (resources, timeout, retry strategy, tags, parameters, environment), a log longer
than the page keeps while it is followed, and a list of a queue or an array job that does not
exist, which keeps its form."""
import unittest

from test_console import browser_ready
from test_console_probe import MARKUP, probe
from test_jobs_common import JobsCase


class ConsoleDetailsTest(JobsCase):
    """Against a --dev server, as test_console_probe's ConsoleProbeTest."""

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


if __name__ == "__main__":
    unittest.main()
