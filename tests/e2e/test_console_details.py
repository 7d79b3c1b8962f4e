"""The console's job page and jobs list where test_console_probe.py does not look
(docs/console.md), driven the same way (tests/e2e/js/console_probe.mjs): what a job was
submitted with (resources, timeout, retry strategy, tags, parameters, environment, secrets, a
multi-node job's node ranges), a log longer than the page keeps while it is followed, and a list
of a queue or an array job that does not exist, which keeps its form."""
import unittest

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
