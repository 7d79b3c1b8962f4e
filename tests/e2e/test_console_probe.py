"""The console (docs/console.md) where a user's data or the server's state is out of the ordinary,
in headless Chromium as test_console.py drives it (tests/e2e/js/console_probe.mjs): free text
that holds markup is shown as text, words longer than the window do not widen the page, a
multi-node job's page lists its nodes and a node's page (JOBID#N) works, Cancel and Terminate say
what they would do, a job with many dependents keeps a graph of a screen, addresses that name no
job say so, and a followed job outlives a server restart and notices its own removal."""
import json
import os
import select
import subprocess
import time
import unittest

from harness import BARGE
from test_console import CHROMIUM, JS, JSDIR, SHOTS, browser_ready
from test_jobs_common import FAST, JobsCase, resources

MARKUP = '<img src=x onerror="window.__pwned=1"><b>bold</b>'


def probe(case, scenario, data, talk=None):
    """Runs console_probe.mjs; returns what it saw.  talk(line) answers the lines it prints
    before its last (the follow scenario's "restart")."""
    env = dict(os.environ, BARGE_URL=case.server.url, BARGE_JS_DIR=JSDIR, BARGE_SCREENSHOTS=SHOTS,
               CHROMIUM=CHROMIUM)
    p = subprocess.Popen(["node", os.path.join(JS, "console_probe.mjs"), scenario, json.dumps(data)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    out = []
    deadline = time.time() + 300
    try:
        while True:
            ready, _, _ = select.select([p.stdout], [], [], max(0.0, deadline - time.time()))
            if not ready:
                case.fail("console_probe.mjs %s took over 300 s" % scenario)
            line = p.stdout.readline()
            if not line:
                break
            out.append(line)
            if talk and line.strip() != "" and not line.startswith("{"):
                p.stdin.write(talk(line.strip()) + "\n")
                p.stdin.flush()
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = p.stderr.read()
    case.assertEqual(p.returncode, 0, "console_probe.mjs: " + err[-2000:])
    seen = json.loads(out[-1])
    print("\n  console screenshots (probe %s): %s" % (scenario, SHOTS))
    case.assertIsNone(seen["failed"], "the console failed at %s\npage text:\n%s\nserver log:\n%s" % (
        seen["failed"], seen.get("page_text", "")[:3000], case.server.read_log()[-3000:]))
    case.assertEqual(seen["console_errors"], [], "the page logged errors")
    return seen


class ConsoleProbeTest(JobsCase):
    """Against a --dev server, as test_console's ConsoleBrowserTest."""

    @classmethod
    def setUpResources(cls):
        node = {"image": "busybox", "resourceRequirements": resources(),
                "command": ["sh", "-c", "echo node $AWS_BATCH_JOB_NODE_INDEX; sleep 120"]}
        cls.batch.register_job_definition(
            jobDefinitionName="mn", type="multinode", nodeProperties={
                "numNodes": 3, "mainNode": 0,
                "nodeRangeProperties": [{"targetNodes": "0:", "container": node}]})

    def setUp(self):
        browser_ready(self)

    def stop_later(self, job):
        self.addCleanup(self.batch.terminate_job, jobId=job, reason="the test is over")

    def test_free_text_is_shown_as_text_and_long_words_wrap(self):
        marked = self.submit("marked", command="echo '%s'; sleep 60" % MARKUP, env={"E": MARKUP},
                             tags={"owner": MARKUP}, parameters={MARKUP: MARKUP})
        self.wait_job(marked, "RUNNING")
        self.wait_for(lambda: self.server.client("logs").get_log_events(
            logGroupName="/aws/batch/job", logStreamName=self.job(marked)["container"]["logStreamName"],
            startFromHead=True)["events"], what="the marked job's log line")
        self.batch.terminate_job(jobId=marked, reason=MARKUP)
        # A log line of 300,000 characters (CloudWatch Logs cuts events at 256 KiB), a command
        # of one 3,000-character word and a reason of 1,024 (the longest AWS takes).
        long = self.submit("long", command="head -c 300000 /dev/zero | tr '\\0' x; echo; "
                                           "echo " + "y" * 3000 + "; sleep 60")
        self.wait_job(long, "RUNNING")
        self.wait_for(lambda: len(self.server.client("logs").get_log_events(
            logGroupName="/aws/batch/job", logStreamName=self.job(long)["container"]["logStreamName"],
            startFromHead=True)["events"]) >= 2, what="the long lines logged")
        self.batch.terminate_job(jobId=long, reason="r" * 1024)
        self.wait_jobs([marked, long])

        seen = probe(self, "text", {"marked": marked, "long": long, "markup": MARKUP, "queue": "q",
                                    "tag": "owner"})
        m = seen["marked"]
        self.assertIsNone(m["pwned"])
        self.assertEqual(m["injected"], 0)
        self.assertEqual(m["reason"], MARKUP)
        self.assertIn(MARKUP, m["log"])
        self.assertIn(MARKUP, m["command"])
        self.assertIn(MARKUP, m["attempts"])
        self.assertIsNone(seen["list"]["pwned"])
        self.assertEqual(seen["list"]["injected"], 0)
        self.assertIn(MARKUP, seen["list"]["reasons"])
        self.assertIn(MARKUP, seen["usage"]["keys"])
        self.assertIn(MARKUP, seen["usage"]["cells"])
        self.assertIsNone(seen["usage"]["pwned"])
        # The page is no wider than the window: the long words break.
        for k in ("long_job", "long_list"):
            self.assertLessEqual(seen[k]["scroll"], seen[k]["client"], (k, seen[k]))

    def test_multinode_job_lists_its_nodes_and_a_node_page_works(self):
        job = self.submit("mnp", definition="mn")
        self.stop_later(job)
        nodes = ["%s#%d" % (job, i) for i in range(3)]
        self.wait_jobs(nodes, "RUNNING")
        seen = probe(self, "multinode", {"job": job, "queue": "q", "status": "RUNNING"})
        self.assertEqual([n["job"] for n in seen["nodes"]], nodes)
        self.assertEqual([n["status"] for n in seen["nodes"]], ["RUNNING"] * 3)
        self.assertIn("main", seen["nodes"][0]["text"])
        # The '#' of a node's id is escaped in its address.
        self.assertEqual([n["href"] for n in seen["nodes"]], ["#/job/%s%%23%d" % (job, i) for i in range(3)])
        self.assertEqual(seen["graph_nodes"], nodes)
        self.assertIn("multi-node job has no log of its own", seen["log_note"])
        self.assertEqual(seen["node"]["id"], nodes[1])
        self.assertEqual(seen["node"]["hash"], "#/job/%s%%231" % job)
        self.assertIn("node 1 of multi-node job", seen["node"]["node_of"])
        self.assertEqual(seen["node"]["parent_href"], "#/job/" + job)
        self.assertEqual(seen["node"]["graph_parent"], [job])
        self.assertEqual(seen["typed"], nodes[2])
        self.assertIn("3 nodes", seen["listed"])

    def test_actions_follow_the_job_state(self):
        done = self.submit("done", command="true")
        running = self.submit("running", command="sleep 60")
        self.stop_later(running)
        waiting = self.submit("waiting", queue="parked")
        self.wait_job(done)
        self.wait_job(running, "RUNNING")
        self.wait_job(waiting, "RUNNABLE")
        seen = probe(self, "actions", {"done": done, "running": running, "waiting": waiting})
        self.assertEqual((seen["done"]["cancel"], seen["done"]["terminate"]), (True, True))
        self.assertIn("has ended", seen["done"]["note"])
        # CancelJob leaves a started job running: only Terminate is offered.
        self.assertEqual((seen["running"]["cancel"], seen["running"]["terminate"]), (True, False))
        self.assertIn("Terminate stops it", seen["running"]["note"])
        self.assertEqual((seen["waiting"]["cancel"], seen["waiting"]["terminate"]), (False, False))
        self.assertIn("CancelJob sent: the job is FAILED", seen["cancelled"]["result"])
        self.assertEqual((seen["cancelled"]["after"]["cancel"], seen["cancelled"]["after"]["terminate"]),
                         (True, True))
        self.assertEqual(self.status(running), "RUNNING")

    def test_graph_of_many_jobs_stays_a_screen(self):
        root = self.submit("root", queue="parked")
        after = [self.submit("after-%03d" % i, queue="parked", dependsOn=[{"jobId": root}])
                 for i in range(150)]
        deps = [self.submit("dep-%02d" % i, queue="parked") for i in range(20)]
        most = self.submit("most", queue="parked", dependsOn=[{"jobId": d} for d in deps])
        array = self.submit("big-array", queue="parked", arrayProperties={"size": 10000})
        seen = probe(self, "graph", {"jobs": {"root": root, "most": most, "array": array}})
        r = seen["root"]
        # At most 12 drawn a side, the rest one node, and all the server lists listed below.
        self.assertEqual(r["drawn"].count("dependent"), 11)
        self.assertEqual(r["more"][0], "139 more jobs")
        self.assertEqual(r["listed"], after[:100])
        self.assertIn("All 150 jobs that wait for it", r["summary"])
        self.assertLess(r["graph_height"], 900)
        self.assertLess(r["height"], 3000)
        m = seen["most"]
        self.assertEqual(m["drawn"].count("dependency"), 11)
        self.assertEqual(m["more"][0], "9 more dependencies")
        self.assertEqual(m["listed"], deps)
        self.assertEqual(seen["array"]["drawn"], ["children", "self"])
        self.assertLess(seen["array"]["height"], 1500)

    def test_addresses_that_name_no_job(self):
        seen = probe(self, "unknown", {"hashes": {"nope": "#/job/nope", "bad": "#/job/%E0%A4%A",
                                                  "empty": "#/job/"}})
        self.assertIn("No job with id 'nope'", seen["nope"])
        self.assertIn("retention", seen["nope"])
        self.assertIn("No job with id '%E0%A4%A'", seen["bad"])
        self.assertNotIn("URIError", seen["bad"])
        self.assertIn("No job with id ''", seen["empty"])


class ConsoleFollowTest(JobsCase):
    """A followed job whose server restarts, then whose job the retention (3 s here) removes
    while its page is open."""

    server_args = FAST + ("--retention-hours", "%.9f" % (3.0 / 3600))

    def test_restart_and_removal_while_following(self):
        browser_ready(self)
        running = self.submit("ticker", command="i=0; while [ $i -lt 300 ]; do i=$((i+1)); "
                                                "echo tick $i; sleep 0.3; done")
        self.wait_job(running, "RUNNING")

        def talk(line):
            self.assertEqual(line, "restart")
            self.server.stop()
            time.sleep(2)
            self.server.start()
            return "restarted"
        seen = probe(self, "follow", {"running": running}, talk)
        self.assertIn("does not answer", seen["down_note"])
        self.assertIn("following", seen["resumed"]["note"])
        # Every line once, in order, across the restart.
        ticks = [int(line.split()[1]) for line in seen["resumed"]["log"].split("\n")
                 if line.startswith("tick ")]
        self.assertEqual(ticks, list(range(1, len(ticks) + 1)))
        g = seen["gone"]
        self.assertIn("no longer known to the server", g["head"])
        self.assertIn("no more lines", g["note"])
        self.assertEqual((g["buttons"]["cancel"], g["buttons"]["terminate"]), (True, True))
        self.assertIn("no longer known", g["result"])
        self.assertEqual(g["requests_after"], 0)


# A driver of its own for ConsoleEdgesTest (the same browser.mjs): opens each address of
# input.pages afresh in a window input.width wide and says what it saw, then tries the Usage
# form's "tag" without a key.


class ConsoleEdgesTest(JobsCase):
    """Pages of jobs AWS's model allows and a browser window of a phone's width: an array whose
    children run one after another (SEQUENTIAL, a dependency that names no job) and the children
    of an N_TO_N array, each drawn as itself; an ended job's log opened at its newest line; a
    list filtered by a name and both creation times at once (ListJobs takes one filter); a time
    in the address that is not one; the longest job name; every page 400 px wide."""

    def setUp(self):
        browser_ready(self)

    def edges(self, data):
        env = dict(os.environ, BARGE_URL=self.server.url, BARGE_JS_DIR=JSDIR,
                   BARGE_SCREENSHOTS=SHOTS, CHROMIUM=CHROMIUM)
        p = subprocess.run(["node", os.path.join(JS, "console_edges.mjs"), json.dumps(data)],
                           capture_output=True, text=True, env=env, timeout=300)
        self.assertEqual(p.returncode, 0, "the edges driver: " + p.stderr[-2000:])
        seen = json.loads(p.stdout.strip().splitlines()[-1])
        self.assertIsNone(seen["failed"], seen)
        self.assertEqual(seen["console_errors"], [], "the page logged errors")
        return seen

    def test_edges(self):
        start = time.time()
        seq = self.submit("seq", command="echo $AWS_BATCH_JOB_ARRAY_INDEX",
                          arrayProperties={"size": 3}, dependsOn=[{"type": "SEQUENTIAL"}])
        fan = self.submit("fan", command="true", arrayProperties={"size": 3})
        n2n = self.submit("n2n", command="true", arrayProperties={"size": 3},
                          dependsOn=[{"jobId": fan, "type": "N_TO_N"}])
        chatty = self.submit("chatty", command="seq 1 300")
        # N_TO_N on a plain job: each child waits for all of it.
        n2plain = self.submit("n2plain", command="true", arrayProperties={"size": 2},
                              dependsOn=[{"jobId": chatty, "type": "N_TO_N"}])
        longest = self.submit("L" * 128, command="true")
        stopped = self.submit("stopped", queue="parked")
        self.batch.terminate_job(jobId=stopped, reason="stopped by the test")
        self.wait_jobs([seq, n2n, n2plain, chatty, longest, stopped])
        after = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(start - 2))
        before = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(time.time() + 60))
        pages = {"seq": "#/job/" + seq, "seq_child": "#/job/%s%%3A1" % seq,
                 "n2n_child": "#/job/%s%%3A2" % n2n, "chatty": "#/job/" + chatty,
                 "n2plain_child": "#/job/%s%%3A1" % n2plain,
                 "named_between": "#/jobs?queue=q&name=fan*&after=%s&before=%s" % (after, before),
                 "between": "#/jobs?queue=q&status=SUCCEEDED&after=%s&before=%s" % (after, before),
                 "bad_time": "#/jobs?queue=q&after=yesterday",
                 "usage_refused": "#/usage?queue=nope", "stopped": "#/job/" + stopped}
        seen = self.edges({"width": 1280, "pages": pages, "usage_queue": "q"})
        got = seen["pages"]
        for k in pages:
            if k not in ("bad_time", "usage_refused"):
                self.assertIsNone(got[k]["error"], (k, got[k]))
        # SEQUENTIAL names no job: the array's page says it, a child's draws the one before it.
        self.assertIn("SEQUENTIAL", got["seq"]["children"])
        child = {g["role"]: g for g in got["seq_child"]["graph"]}
        self.assertEqual(child["dependency"]["job"], seq + ":0")
        self.assertEqual(child["parent"]["job"], seq)
        self.assertEqual(child["self"]["text"][0], "seq · child 1")
        self.assertIn(seq[:8] + ":1", child["self"]["text"][1])
        self.assertIn("child 1 of array job " + seq, got["seq_child"]["child_of"])
        # An N_TO_N child waits for the other array's child of its index, not for its parent.
        child = {g["role"]: g for g in got["n2n_child"]["graph"]}
        self.assertEqual(child["dependency"]["job"], fan + ":2")
        self.assertEqual(child["dependency"]["text"][0], "fan · child 2")
        # One on an array's parent: the child waits for the whole of it.
        child = {g["role"]: g for g in got["n2plain_child"]["graph"]}
        self.assertEqual(child["dependency"]["job"], chatty)
        # An ended job's log opens at its last line.
        log = got["chatty"]["log"]
        self.assertEqual(log["lines"], "300")
        self.assertTrue(log["scrolls"])
        self.assertTrue(log["at_bottom"], "the log of an ended job opens at its newest line")
        # A name and two times, or a status and two times: one filter to the server, the rest
        # kept in the browser.
        self.assertEqual(got["named_between"]["jobs"], [fan])
        self.assertEqual(sorted(got["between"]["jobs"]),
                         sorted([seq, fan, n2n, n2plain, chatty, longest]))
        self.assertIn("'yesterday' is not a date and time", got["bad_time"]["error"])
        self.assertEqual(seen["usage_tag"], "Give the key of the tag to sum by.")
        # A usage call refused is said above its form, which stays to choose another queue.
        self.assertIn("nope", got["usage_refused"]["error"])
        self.assertEqual(got["usage_refused"]["forms"], 1)
        # A job terminated while it waited (TerminateJob cancels it too, as AWS's does).
        self.assertIn(got["stopped"]["facts"].get("Cancelled / terminated"),
                      ("terminated", "cancelled, terminated"), got["stopped"]["facts"])

        narrow = self.edges({"width": 400, "pages": {
            "queues": "#/queues", "environments": "#/environments", "jobs": "#/jobs?queue=q",
            "job": "#/job/" + seq + "%3A1", "longest": "#/job/" + longest, "usage": "#/usage?queue=q"}})
        for k, page in narrow["pages"].items():
            self.assertEqual(page["width"], [400, 400], "%s is wider than the window" % k)
        wide = self.edges({"width": 1280, "pages": {"jobs": "#/jobs?queue=q"}})
        self.assertEqual(wide["pages"]["jobs"]["width"], [1280, 1280], "the longest name widens the list")


if __name__ == "__main__":
    unittest.main()
