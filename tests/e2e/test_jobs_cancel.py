"""CancelJob and TerminateJob, through boto3 and the AWS CLI: cancel fails jobs that have not
reached STARTING (a RUNNABLE job at once, a PENDING job once its dependencies complete) and
leaves started ones running; terminate also stops running ones; the reason becomes the job's
statusReason."""
import os
import time

from test_jobs_common import JobsCase, pid_alive
from test_metrics import parse, value


class Cancel(JobsCase):
    max_vcpus = 4

    def test_a_reason_longer_than_awss_limit_is_refused(self):
        """AWS takes at most 1,024 characters of reason (it becomes the statusReason); a longer
        one was kept whole."""
        import botocore.exceptions
        jid = self.submit("reasoned", queue="parked")
        for call in (lambda r: self.batch.cancel_job(jobId=jid, reason=r),
                     lambda r: self.batch.terminate_job(jobId=jid, reason=r)):
            with self.assertRaises(botocore.exceptions.ClientError) as cm:
                call("é" * 1025)
            self.assertEqual(cm.exception.response["Error"]["Code"], "ClientException")
            self.assertIn("reason: at most 1024 characters (got 1025)",
                          cm.exception.response["Error"]["Message"])
        self.assertEqual(self.status(jid), "RUNNABLE")
        status, _, _ = self.server.raw("POST", "/v1/canceljobs",
                                       {"jobs": [jid], "reason": "x" * 1025})
        self.assertEqual(status, 400)
        self.batch.cancel_job(jobId=jid, reason="é" * 1024)
        self.assertEqual(self.job(jid)["statusReason"], "é" * 1024)

    def test_a_job_is_stopped_by_its_arn_as_by_its_id(self):
        # DescribeJobs took a job's ARN; CancelJob and TerminateJob refused it as no job id.
        first, second, third = (self.submit("by-arn-%d" % i, queue="parked") for i in range(3))
        arns = {j: self.job(j)["jobArn"] for j in (first, second, third)}
        self.batch.cancel_job(jobId=arns[first], reason="cancelled by ARN")
        self.batch.terminate_job(jobId=arns[second], reason="terminated by ARN")
        status, _, body = self.server.raw("POST", "/v1/canceljobs",
                                          {"jobs": [arns[third]], "reason": "cancelled by ARN"})
        self.assertEqual((status, body["errors"]), (200, []), body)
        for j, why in ((first, "cancelled by ARN"), (second, "terminated by ARN"),
                       (third, "cancelled by ARN")):
            d = self.job(j)
            self.assertEqual((d["status"], d["statusReason"]), ("FAILED", why))

    def test_cancel_runnable_fails_at_once(self):
        jid = self.submit("waiting", queue="parked")
        self.assertEqual(self.status(jid), "RUNNABLE")
        self.assertEqual(self.batch.cancel_job(jobId=jid, reason="not needed")["ResponseMetadata"]
                         ["HTTPStatusCode"], 200)
        d = self.job(jid)
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(d["statusReason"], "not needed")
        self.assertIs(d["isCancelled"], True)
        self.assertIs(d["isTerminated"], False)
        self.assertEqual(d["attempts"], [])
        self.assertIn("stoppedAt", d)
        self.assertNotIn("startedAt", d)
        # ListJobs' summary says so too, as AWS's does (raw: botocore's model predates them).
        status, _, out = self.server.raw("POST", "/v1/listjobs",
                                         {"jobQueue": "parked", "jobStatus": "FAILED"})
        self.assertEqual(status, 200)
        mine = [s for s in out["jobSummaryList"] if s["jobId"] == jid]
        self.assertEqual([(s["isCancelled"], s["isTerminated"]) for s in mine], [(True, False)])

    def test_cancel_pending_fails_once_its_dependencies_complete(self):
        self.out("second-ran")
        first = self.submit("first", command=self.gate("first").rstrip("; "))
        second = self.submit("second", command='touch "$OUT/second-ran"',
                             dependsOn=[{"jobId": first}])
        self.wait_job(first, "RUNNING", timeout=20)
        self.batch.cancel_job(jobId=second, reason="changed my mind")
        # As AWS documents: the PENDING job is cancelled once its dependencies complete.
        time.sleep(0.2)
        self.assertEqual(self.status(second), "PENDING")
        # Meanwhile it says so, rather than look like a job that will run.
        self.assertEqual(self.job(second)["statusReason"],
                         "cancelled (changed my mind): it fails once its dependencies "
                         "complete, without running")
        self.open_gate("first")
        self.assertSucceeded(first)
        d = self.wait_job(second, timeout=5)
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(d["statusReason"], "changed my mind")
        self.assertIs(d["isCancelled"], True)
        self.assertEqual(d["attempts"], [])
        self.assertFalse(os.path.exists(os.path.join(self.out_dir, "second-ran")))

    def test_cancel_leaves_running_jobs_alone(self):
        jid = self.submit("busy", command=self.gate("busy").rstrip("; "))
        self.wait_job(jid, "RUNNING", timeout=20)
        self.batch.cancel_job(jobId=jid, reason="too late")
        self.open_gate("busy")
        d = self.assertSucceeded(jid)
        self.assertIs(d["isCancelled"], False)
        self.assertEqual(d["statusReason"], "Essential container in task exited")

    def test_terminate_stops_a_running_job(self):
        pidfile = self.out("term-pid")
        jid = self.submit("long", command='echo $$ > "$OUT/term-pid"; exec sleep 60')
        self.wait_job(jid, "RUNNING", timeout=20)
        pid = int(self.wait_for(lambda: self.read_lines(pidfile), 5, "the pid file")[0])
        self.assertTrue(pid_alive(pid))
        t0 = time.time()
        self.batch.terminate_job(jobId=jid, reason="stop it now")
        d = self.wait_job(jid, timeout=10)
        self.assertLess(time.time() - t0, 5)
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(d["statusReason"], "stop it now")
        self.assertIs(d["isTerminated"], True)
        self.assertEqual(len(d["attempts"]), 1)
        self.assertEqual(d["attempts"][0]["statusReason"], "stop it now")
        # Told by the status reason alone: no container reason naming the signal.
        self.assertEqual(d["container"]["exitCode"], 143)
        self.assertNotIn("reason", d["container"])
        self.wait_for(lambda: not pid_alive(pid), 5, "the job's process to end")

    def test_terminate_at_any_moment(self):
        # Right after the submit the job is RUNNABLE, STARTING or RUNNING; whichever it is, it
        # ends FAILED with the reason given, after one attempt at most.
        ids = []
        for delay in (0, 0.002, 0.005, 0.01, 0.02, 0.05):
            jid = self.submit("abrupt", command="sleep 30", retryStrategy={"attempts": 2})
            time.sleep(delay)
            self.batch.terminate_job(jobId=jid, reason="abrupt %s" % delay)
            ids.append((jid, "abrupt %s" % delay))
        ds = self.wait_jobs([j for j, _ in ids], timeout=15)
        for jid, reason in ids:
            d = ds[jid]
            self.assertEqual((d["status"], d["statusReason"]), ("FAILED", reason))
            self.assertLessEqual(len(d["attempts"]), 1)

    def test_terminate_does_not_retry(self):
        jid = self.submit("no-retry", command="sleep 60", retryStrategy={"attempts": 3})
        self.wait_job(jid, "RUNNING", timeout=20)
        self.batch.terminate_job(jobId=jid, reason="enough")
        d = self.wait_job(jid, timeout=10)
        self.assertEqual(d["status"], "FAILED")
        time.sleep(0.3)
        d = self.job(jid)
        self.assertEqual((d["status"], len(d["attempts"])), ("FAILED", 1))

    def test_terminate_runnable_and_pending(self):
        runnable = self.submit("t-runnable", queue="parked")
        pending = self.submit("t-pending", queue="parked", dependsOn=[{"jobId": runnable}])
        self.assertEqual(self.status(pending), "PENDING")
        self.batch.terminate_job(jobId=pending, reason="terminated while pending")
        self.batch.terminate_job(jobId=runnable, reason="terminated while runnable")
        d = self.job(runnable)
        self.assertEqual((d["status"], d["statusReason"]), ("FAILED", "terminated while runnable"))
        self.assertIs(d["isTerminated"], True)
        d = self.wait_job(pending, timeout=5)
        self.assertEqual(d["status"], "FAILED")
        self.assertIn(d["statusReason"], ("terminated while pending", "Dependent Job failed"))

    def test_terminate_an_array_stops_its_running_children(self):
        jid = self.submit("arr", arrayProperties={"size": 3}, command="sleep 60")
        self.wait_for(lambda: self.job(jid)["arrayProperties"]["statusSummary"]["RUNNING"] >= 1,
                      20, "a child to run")
        self.batch.terminate_job(jobId=jid, reason="whole array")
        d = self.wait_job(jid, timeout=10)
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(d["statusReason"], "whole array")
        for i in range(3):
            c = self.job("%s:%d" % (jid, i))
            self.assertEqual(c["status"], "FAILED")
            self.assertEqual(c["statusReason"], "whole array")

    def test_cancel_an_array_that_waits(self):
        jid = self.submit("parked-arr", queue="parked", arrayProperties={"size": 5})
        self.batch.cancel_job(jobId=jid, reason="array cancelled")
        d = self.wait_job(jid, timeout=5)
        self.assertEqual((d["status"], d["statusReason"]), ("FAILED", "array cancelled"))
        self.assertIs(d["isCancelled"], True)
        self.assertEqual(d["arrayProperties"]["statusSummary"]["FAILED"], 5)
        c = self.job(jid + ":4")
        self.assertEqual((c["status"], c["statusReason"]), ("FAILED", "array cancelled"))

    def test_cancel_an_array_with_running_children(self):
        # maxvCpus 4: four children run, two wait.  The waiting ones are cancelled at once; the
        # running ones finish; the parent is cancelled when all are done.
        jid = self.submit("half", arrayProperties={"size": 6},
                          command=self.gate("half").rstrip("; "))
        self.wait_for(lambda: self.job(jid)["arrayProperties"]["statusSummary"]["RUNNING"] == 4,
                      20, "four children to run")
        self.batch.cancel_job(jobId=jid, reason="half cancelled")
        summary = self.job(jid)["arrayProperties"]["statusSummary"]
        self.assertEqual((summary["RUNNING"], summary["FAILED"]), (4, 2))
        self.assertNotIn(self.status(jid), ("SUCCEEDED", "FAILED"))
        self.open_gate("half")
        d = self.wait_job(jid, timeout=20)
        self.assertEqual((d["status"], d["statusReason"], d["isCancelled"]),
                         ("FAILED", "half cancelled", True))
        kids = self.describe(*["%s:%d" % (jid, i) for i in range(6)]).values()
        self.assertEqual(sorted((k["status"], k.get("statusReason")) for k in kids),
                         [("FAILED", "half cancelled")] * 2 +
                         [("SUCCEEDED", "Essential container in task exited")] * 4)

    def test_cancel_an_array_whose_children_all_run_changes_nothing(self):
        # Nothing is cancelled (started jobs are not), yet the parent said it would fail
        # "once its dependencies complete, without running", and ended with the cancel's
        # reason and isCancelled when a child failed on its own.
        jid = self.submit("all-run", arrayProperties={"size": 2}, command=self.gate(
            "all-run") + '[ "$AWS_BATCH_JOB_ARRAY_INDEX" = 0 ]')
        self.wait_for(lambda: self.job(jid)["arrayProperties"]["statusSummary"]["RUNNING"] == 2,
                      20, "both children to run")
        self.batch.cancel_job(jobId=jid, reason="too late")
        d = self.job(jid)
        self.assertNotIn("too late", d.get("statusReason") or "")
        self.open_gate("all-run")
        d = self.wait_job(jid, timeout=20)
        self.assertEqual((d["status"], d["statusReason"], d["isCancelled"]),
                         ("FAILED", "Array Child Job failed", False))

    def test_a_cancelled_array_says_it_waits_for_its_children(self):
        # Its started children run on; it said it waited for "dependencies" it did not have.
        jid = self.submit("some-run", arrayProperties={"size": 6},
                          command=self.gate("some-run").rstrip("; "))
        self.wait_for(lambda: self.job(jid)["arrayProperties"]["statusSummary"]["RUNNING"] == 4,
                      20, "four children to run")
        self.batch.cancel_job(jobId=jid, reason="stop the rest")
        reason = self.job(jid).get("statusReason") or ""
        self.open_gate("some-run")
        self.assertEqual(reason, "cancelled (stop the rest): it fails once its children have "
                                 "ended (those not started do not run)")
        d = self.wait_job(jid, timeout=20)
        self.assertEqual((d["status"], d["statusReason"], d["isCancelled"]),
                         ("FAILED", "stop the rest", True))

    def test_dependents_of_a_cancelled_job_fail(self):
        a = self.submit("cancelled-dep", queue="parked")
        b = self.submit("after-cancelled", queue="parked", dependsOn=[{"jobId": a}])
        self.batch.cancel_job(jobId=a, reason="gone")
        d = self.wait_job(b, timeout=5)
        self.assertEqual((d["status"], d["statusReason"]), ("FAILED", "Dependent Job failed"))

    def test_finished_jobs_do_not_change(self):
        jid = self.submit("done", command="true")
        before = self.assertSucceeded(jid)
        self.batch.cancel_job(jobId=jid, reason="late")
        self.batch.terminate_job(jobId=jid, reason="later")
        after = self.job(jid)
        for k in ("status", "statusReason", "isCancelled", "isTerminated", "stoppedAt",
                  "attempts"):
            self.assertEqual(after.get(k), before.get(k), k)

    def test_unknown_job(self):
        # An id no job can have is refused; one a job could have (it may have ended and been
        # let go) is answered with success and nothing done, as AWS answers it (Flyte and
        # Galaxy stop jobs that ended long ago and take an error for a failure).
        for bad in ("nope", "6f1c2d3e-0000-4000-8000-00000000000", "6f1c2d3e-0000-4000-8000-"
                    "000000000000:x", "6f1c2d3e-0000-4000-8000-000000000000#"):
            self.assertClientError(self.batch.cancel_job, "jobId", "is not a job id",
                                   jobId=bad, reason="x")
            self.assertClientError(self.batch.terminate_job, "jobId", "is not a job id",
                                   jobId=bad, reason="x")
        for gone in ("6f1c2d3e-0000-4000-8000-000000000000", "6f1c2d3e-0000-4000-8000-"
                     "000000000000:7", "6f1c2d3e-0000-4000-8000-000000000000#2"):
            for call in (self.batch.cancel_job, self.batch.terminate_job):
                out = call(jobId=gone, reason="x")
                self.assertEqual(out["ResponseMetadata"]["HTTPStatusCode"], 200)
            self.assertEqual(self.batch.describe_jobs(jobs=[gone])["jobs"], [])

    def test_aws_cli_cancel_and_terminate(self):
        waiting = self.submit("cli-wait", queue="parked")
        self.assertIsNone(self.server.aws("batch", "cancel-job", "--job-id", waiting,
                                          "--reason", "cli cancel") or None)
        d = self.server.aws("batch", "describe-jobs", "--jobs", waiting)["jobs"][0]
        self.assertEqual((d["status"], d["statusReason"], d["isCancelled"]),
                         ("FAILED", "cli cancel", True))
        running = self.submit("cli-run", command="sleep 60")
        self.wait_job(running, "RUNNING", timeout=20)
        self.server.aws("batch", "terminate-job", "--job-id", running, "--reason", "cli terminate")
        d = self.wait_job(running, timeout=10)
        self.assertEqual((d["status"], d["statusReason"], d["isTerminated"]),
                         ("FAILED", "cli terminate", True))
        rc, _, err = self.server.aws("batch", "cancel-job", "--job-id", "nope", "--reason", "x",
                                     check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("jobId", err)


class InBulk(JobsCase):
    """CancelJobs and TerminateJobs (AWS, 2026): up to 50 ids, each answered on its own with
    HTTP 200 (raw requests: this machine's botocore predates them)."""

    def bulk(self, op, jobs, reason="bulk"):
        return self.server.raw("POST", "/v1/%s" % op.lower(), {"jobs": jobs, "reason": reason})

    def test_cancel_jobs(self):
        a = self.submit("bulk-a", queue="parked")
        b = self.submit("bulk-b", queue="parked")
        gone = "00000000-0000-4000-8000-000000000000"
        status, _, out = self.bulk("CancelJobs", [a, b, gone, "not-a-job"], "no longer needed")
        self.assertEqual(status, 200, out)
        self.assertEqual(out["successful"], [a, b, gone])
        self.assertEqual([(e["job"], e["code"]) for e in out["errors"]],
                         [("not-a-job", "ValidationException")])
        self.assertIn("not a job id", out["errors"][0]["message"])
        for jid in (a, b):
            d = self.job(jid)
            self.assertEqual((d["status"], d["statusReason"], d["isCancelled"]),
                             ("FAILED", "no longer needed", True))

    def test_terminate_jobs(self):
        jid = self.submit("bulk-run", command="sleep 60")
        self.wait_job(jid, "RUNNING", timeout=20)
        status, _, out = self.bulk("TerminateJobs", [jid], "stop it")
        self.assertEqual((status, out), (200, {"successful": [jid], "errors": []}))
        d = self.wait_job(jid, timeout=10)
        self.assertEqual((d["status"], d["statusReason"], d["isTerminated"]),
                         ("FAILED", "stop it", True))

    def test_limits(self):
        for jobs, fragment in (([], "got 0"), (["x"] * 51, "got 51")):
            status, _, out = self.bulk("CancelJobs", jobs)
            self.assertEqual((status, out["__type"]), (400, "ClientException"))
            self.assertIn(fragment, out["message"])
        status, _, out = self.server.raw("POST", "/v1/terminatejobs", {"jobs": ["x"]})
        self.assertEqual((status, out["__type"]), (400, "ClientException"))
        self.assertIn("reason", out["message"])


class DeletedQueue(JobsCase):
    """A queue deleted and made again under its name is a new queue: the jobs of the one before
    are still described by id but are not in the new queue's lists, counts or metrics, before
    and after a restart."""

    def listed(self, queue):
        b = self.batch
        return sorted(j["jobId"] for s in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING",
                                           "RUNNING", "SUCCEEDED", "FAILED")
                      for j in b.list_jobs(jobQueue=queue, jobStatus=s)["jobSummaryList"])

    def counts(self, queue):
        # boto3 drops the member its model does not name: read the answer itself.
        status, _, body = self.server.raw("POST", "/v1/describejobqueues",
                                          {"jobQueues": [queue]})
        self.assertEqual(status, 200)
        d = body["jobQueues"][0]["barge"]
        return ({k: v for k, v in d["jobsByStatus"].items() if v},
                {k: v for k, v in d["arrayChildrenByStatus"].items() if v})

    def metric(self, queue, status):
        status_, _, text = self.server.raw("GET", "/metrics")
        self.assertEqual(status_, 200)
        return value(parse(text.decode()), "barge_jobs", queue=queue, status=status)

    def recreate(self, queue):
        b = self.batch
        b.update_job_queue(jobQueue=queue, state="DISABLED")
        b.delete_job_queue(jobQueue=queue)
        self.wait_for(lambda: not b.describe_job_queues(jobQueues=[queue])["jobQueues"] or
                      b.describe_job_queues(jobQueues=[queue])["jobQueues"][0]["status"]
                      == "DELETED", 10, "the queue to be deleted")
        self.make_queue(queue, ["ce"])
        self.wait_valid()

    def test_a_queue_made_again_starts_empty(self):
        self.make_queue("redo", ["ce"])
        self.wait_valid()
        done = self.submit("old-done", queue="redo", command="true")
        array = self.submit("old-array", queue="redo", command="true", arrayProperties={"size": 2})
        self.wait_jobs([done, array])
        running = self.submit("old-running", queue="redo", command="exec sleep 60")
        self.wait_job(running, "RUNNING", timeout=20)
        self.assertEqual(self.counts("redo")[0], {"SUCCEEDED": 2, "RUNNING": 1})

        self.recreate("redo")
        d = self.wait_job(running, timeout=10)
        self.assertEqual((d["status"], d["statusReason"]),
                         ("FAILED", "The job queue was deleted"))
        # The former queue's jobs are described by id, and nowhere in the new queue.
        self.assertEqual(self.status(done), "SUCCEEDED")
        self.assertEqual(self.listed("redo"), [])
        self.assertEqual(self.counts("redo"), ({}, {}))
        self.assertEqual(self.metric("redo", "SUCCEEDED"), 0)
        self.assertEqual(self.metric("redo", "FAILED"), 0)

        fresh = self.submit("new-done", queue="redo", command="true")
        self.assertSucceeded(fresh)
        self.assertEqual(self.listed("redo"), [fresh])
        self.assertEqual(self.counts("redo"), ({"SUCCEEDED": 1}, {}))

        self.server.restart()
        type(self).batch = self.server.client()
        self.assertEqual(self.listed("redo"), [fresh])
        self.assertEqual(self.counts("redo"), ({"SUCCEEDED": 1}, {}))
        self.assertEqual(self.metric("redo", "SUCCEEDED"), 1)
        self.assertEqual(self.status(running), "FAILED")
        self.assertEqual(self.status(array), "SUCCEEDED")

        # Made again a second time, with the server's restart between: still each its own.
        self.recreate("redo")
        self.assertEqual(self.listed("redo"), [])
        newest = self.submit("newest", queue="redo", command="true")
        self.assertSucceeded(newest)
        self.server.restart()
        type(self).batch = self.server.client()
        self.assertEqual(self.listed("redo"), [newest])
        self.assertEqual(self.counts("redo"), ({"SUCCEEDED": 1}, {}))
