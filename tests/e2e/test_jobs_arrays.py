"""Array jobs: 2 to 10,000 children, a 10,000-child array accepted at once, children described
as PARENT:INDEX, a live status summary on the parent, and the parent's outcome: SUCCEEDED when
every child has, FAILED once all are done and one failed."""
import sys
import time

from test_jobs_common import JobsCase


class BigArrays(JobsCase):
    """The children wait on the "parked" queue: the point is what SubmitJob and DescribeJobs
    cost, not running 10,000 processes."""

    def test_ten_thousand_children_are_accepted_quickly(self):
        t0 = time.perf_counter()
        out = self.batch.submit_job(jobName="huge", jobQueue="parked", jobDefinition="jd",
                                    arrayProperties={"size": 10000})
        took = time.perf_counter() - t0
        sys.stderr.write("\n  SubmitJob of a 10,000-child array took %.1f ms\n" % (took * 1000))
        # Tens of milliseconds here; the bound catches work that grows faster than the children
        # (bench/ measures it), not a slow machine.
        self.assertLess(took, 5.0, "SubmitJob of a 10,000-child array took %.2f s" % took)
        jid = out["jobId"]
        t0 = time.perf_counter()
        kids = self.batch.describe_jobs(jobs=[jid + ":0", jid + ":5000", jid + ":9999"])["jobs"]
        took = time.perf_counter() - t0
        sys.stderr.write("  DescribeJobs of three of its children took %.1f ms\n" % (took * 1000))
        # A child as AWS describes one: its index, an empty summary, no size (ParallelCluster's
        # tools take a job with a size for a parent).
        self.assertEqual([k["arrayProperties"] for k in kids],
                         [{"statusSummary": {}, "index": i} for i in (0, 5000, 9999)])
        self.assertTrue(all(k["status"] == "RUNNABLE" for k in kids))
        parent = self.job(jid)
        self.assertEqual(parent["arrayProperties"]["size"], 10000)
        self.assertEqual(parent["arrayProperties"]["statusSummary"]["RUNNABLE"], 10000)
        self.assertEqual(self.batch.describe_jobs(jobs=[jid + ":10000"])["jobs"], [])
        # The whole array can be listed page by page.
        n, token = 0, None
        while True:
            kw = {"nextToken": token} if token else {}
            page = self.batch.list_jobs(arrayJobId=jid, jobStatus="RUNNABLE", maxResults=1000,
                                        **kw)
            n += len(page["jobSummaryList"])
            token = page.get("nextToken")
            if not token:
                break
        self.assertEqual(n, 10000)
        # Cancelling it fails every child at once.
        t0 = time.perf_counter()
        self.batch.cancel_job(jobId=jid, reason="too big")
        self.assertEqual(self.wait_job(jid, "FAILED", timeout=10)["statusReason"], "too big")
        sys.stderr.write("  CancelJob of the array took %.1f ms\n" % (
            (time.perf_counter() - t0) * 1000))
        self.assertEqual(self.job(jid + ":9999")["status"], "FAILED")
        self.assertEqual(self.job(jid)["arrayProperties"]["statusSummary"]["FAILED"], 10000)

    def test_the_summarys_time_is_kept_across_a_restart(self):
        # Its children waiting again at load moved the summary: its time became the restart's.
        jid = self.submit("kept-summary", queue="parked", arrayProperties={"size": 3})
        self.wait_for(lambda: self.job(jid)["arrayProperties"]["statusSummary"]["RUNNABLE"] == 3,
                      20, "the children waiting")
        before = self.job(jid)["arrayProperties"]["statusSummaryLastUpdatedAt"]
        time.sleep(1.1)
        restarted = int(time.time() * 1000)
        self.server.restart()
        after = self.job(jid)["arrayProperties"]["statusSummaryLastUpdatedAt"]
        self.assertLess(after, restarted)
        self.assertLess(abs(after - before), 1000)
        self.batch.terminate_job(jobId=jid, reason="test over")


class RunningArrays(JobsCase):
    max_vcpus = 4

    def test_every_child_runs_once_with_its_index(self):
        path = self.out("indexes")
        jid = self.submit("idx", arrayProperties={"size": 6},
                          command='echo "$AWS_BATCH_JOB_ARRAY_INDEX/$AWS_BATCH_JOB_ARRAY_SIZE" '
                                  '>> "$OUT/indexes"')
        d = self.assertSucceeded(jid, timeout=40)
        self.assertEqual(sorted(self.read_lines(path)), sorted("%d/6" % i for i in range(6)))
        summary = d["arrayProperties"]["statusSummary"]
        self.assertEqual(summary["SUCCEEDED"], 6)
        self.assertEqual(sum(summary.values()), 6)
        # The parent never runs itself: no attempts, no container outcome.
        self.assertEqual(d["attempts"], [])
        kids = self.batch.list_jobs(arrayJobId=jid, jobStatus="SUCCEEDED")["jobSummaryList"]
        self.assertEqual(sorted(k["arrayProperties"]["index"] for k in kids), list(range(6)))
        for k in self.describe(*["%s:%d" % (jid, i) for i in range(6)]).values():
            self.assertEqual(len(k["attempts"]), 1)
            self.assertEqual(k["container"]["exitCode"], 0)
            self.assertLessEqual(k["stoppedAt"], d["stoppedAt"])

    def test_parent_times_span_its_children(self):
        jid = self.submit("starts", arrayProperties={"size": 3}, command="sleep 0.1")
        d = self.assertSucceeded(jid, timeout=40)
        kids = self.describe(*["%s:%d" % (jid, i) for i in range(3)]).values()
        # The parent starts with its first child and stops with its last.
        self.assertEqual(d["startedAt"], min(k["startedAt"] for k in kids))
        self.assertGreaterEqual(d["stoppedAt"], max(k["stoppedAt"] for k in kids))
        self.assertLessEqual(d["createdAt"], d["startedAt"])

    def test_smallest_array(self):
        jid = self.submit("two", arrayProperties={"size": 2}, command="true")
        d = self.assertSucceeded(jid)
        self.assertEqual(d["arrayProperties"]["statusSummary"]["SUCCEEDED"], 2)

    def test_live_summary_and_failure_once_all_are_done(self):
        # Child 1 fails at once; child 2 is still running when it does.
        jid = self.submit("mixed", arrayProperties={"size": 3}, command=(
            'case $AWS_BATCH_JOB_ARRAY_INDEX in 1) exit 1;; 2) sleep 1.5;; esac'))
        child1, child2 = jid + ":1", jid + ":2"
        self.wait_job(child1, timeout=20)
        self.assertEqual(self.status(child1), "FAILED")
        self.wait_job(child2, "RUNNING", timeout=20)
        p = self.job(jid)
        self.assertNotIn(p["status"], ("SUCCEEDED", "FAILED"),
                         "the parent ended while a child was still running")
        summary = p["arrayProperties"]["statusSummary"]
        self.assertEqual(sum(summary.values()), 3)
        self.assertEqual(summary["FAILED"], 1)
        self.assertGreaterEqual(summary["RUNNING"] + summary["STARTING"], 1)
        d = self.wait_job(jid, timeout=20)
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(self.status(child2), "SUCCEEDED")
        summary = d["arrayProperties"]["statusSummary"]
        self.assertEqual((summary["SUCCEEDED"], summary["FAILED"]), (2, 1))
        self.assertGreaterEqual(d["stoppedAt"], self.job(child2)["stoppedAt"])
        # The summary was last updated when the last child ended, not whenever it is read; the
        # queue's list gives the same summary (AWS's ArrayPropertiesSummary has it too).
        at = d["arrayProperties"]["statusSummaryLastUpdatedAt"]
        self.assertGreaterEqual(at, self.job(child2)["stoppedAt"])
        self.assertLessEqual(at, d["stoppedAt"])
        time.sleep(0.05)
        self.assertEqual(self.job(jid)["arrayProperties"]["statusSummaryLastUpdatedAt"], at)
        listed = [s for s in self.batch.list_jobs(jobQueue="q", jobStatus="FAILED")["jobSummaryList"]
                  if s["jobId"] == jid]
        self.assertEqual(len(listed), 1)
        self.assertEqual(listed[0]["arrayProperties"],
                         {"size": 3, "statusSummary": summary, "statusSummaryLastUpdatedAt": at})

    def test_a_burst_of_jobs_each_runs_once(self):
        path = self.out("burst")
        cmd = 'echo "$AWS_BATCH_JOB_ID" >> "$OUT/burst"'
        ids = [self.submit("burst-%d" % i, command=cmd) for i in range(100)]
        arr = self.submit("burst-arr", command=cmd, arrayProperties={"size": 300})
        t0 = time.time()
        ds = self.wait_jobs(ids + [arr], timeout=60)
        sys.stderr.write("\n  100 jobs and a 300-child array ran in %.1f s\n" % (time.time() - t0))
        self.assertEqual({d["status"] for d in ds.values()}, {"SUCCEEDED"})
        ran = self.read_lines(path)
        self.assertEqual(sorted(ran), sorted(ids + ["%s:%d" % (arr, i) for i in range(300)]))
