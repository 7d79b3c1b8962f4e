"""Job state events of what the other event tests leave out: a multi-node job's own events as
its nodes go, and a queue deleted while readers follow it."""
import time

from test_events import Stream
from test_jobs_common import JobsCase


class MultiNode(JobsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.batch.register_job_definition(
            jobDefinitionName="mnp", type="multinode",
            nodeProperties={"numNodes": 2, "mainNode": 0, "nodeRangeProperties": [
                {"targetNodes": "0:", "container": {
                    "image": "busybox", "command": ["sh", "-c", "sleep 1"],
                    "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                             {"type": "MEMORY", "value": "64"}]}}]})

    def test_the_job_itself_tells_its_nodes_progress(self):
        # Only PENDING and SUCCEEDED were sent for the job while DescribeJobs said RUNNABLE,
        # STARTING and RUNNING.
        stream = Stream(self.server.port)
        try:
            jid = self.batch.submit_job(jobName="mnp", jobQueue="q",
                                        jobDefinition="mnp")["jobId"]
            self.wait_job(jid, timeout=60)
            got = self.wait_for(lambda: (lambda s: s if s[-1:] == ["SUCCEEDED"] else None)(
                stream.statuses(jid)), 10, "the job's last event")
            self.assertEqual(got, ["PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"])
            with stream.lock:
                running = [d["detail"] for _, _, d in stream.events
                           if d["detail"]["jobId"] == jid and d["detail"]["status"] == "RUNNING"]
            self.assertIn("nodeProperties", running[0])
        finally:
            stream.close()


class DeletedQueue(JobsCase):
    def test_a_deleted_queues_events_are_still_read_by_its_name(self):
        # Its name was refused once it was deleted: a stream following it could not resume
        # (Last-Event-ID), and a reader behind lost its jobs' last events.
        self.make_queue("going", ["ce"])
        self.wait_valid()
        stream = Stream(self.server.port, "/barge/v1/events?queue=going")
        try:
            jid = self.submit("in-going", queue="going", command="sleep 30")
            self.wait_job(jid, "RUNNING")
            self.batch.update_job_queue(jobQueue="going", state="DISABLED")
            self.batch.delete_job_queue(jobQueue="going")
            self.wait_job(jid, timeout=30)
            self.wait_for(lambda: stream.statuses(jid)[-1:] == ["FAILED"], 10,
                          "the stream to get the job's end")
        finally:
            stream.close()
        status, _, body = self.server.raw("POST", "/barge/v1/getevents",
                                          {"after": 0, "queue": "going"})
        self.assertEqual(status, 200, body)
        self.assertEqual([e["event"]["detail"]["status"] for e in body["events"]],
                         stream.statuses(jid))
        resumed = Stream(self.server.port, "/barge/v1/events?queue=going", last_id=0)
        try:
            self.assertEqual(resumed.resp.status, 200)
            self.wait_for(lambda: resumed.statuses(jid) == stream.statuses(jid), 10,
                          "the resumed stream to read the job's events again")
        finally:
            resumed.close()
        # A name no queue ever had is still refused.
        status, _, body = self.server.raw("POST", "/barge/v1/getevents", {"queue": "never"})
        self.assertEqual(status, 400)
        self.assertIn("no job queue named 'never'", body["message"])


class ReadLate(JobsCase):
    def test_an_event_read_late_describes_the_job_as_it_was(self):
        # An event's detail was the job as it was when the event was first read: read after
        # the job had ended (a webhook that was down), its STARTING and RUNNING events had
        # stoppedAt, the exit code and both attempts.
        start = self.server.raw("POST", "/barge/v1/getevents", {})[2]["lastSeq"]
        jid = self.submit("late", command="exit 3", retryStrategy={"attempts": 2})
        d = self.wait_job(jid, timeout=60)
        self.assertEqual((d["status"], len(d["attempts"])), ("FAILED", 2))
        status, _, body = self.server.raw("POST", "/barge/v1/getevents",
                                          {"after": start, "queue": "q"})
        self.assertEqual(status, 200, body)
        got = [e["event"]["detail"] for e in body["events"] if e["event"]["detail"]["jobId"] == jid]
        self.assertEqual([g["status"] for g in got],
                         ["RUNNABLE", "STARTING", "RUNNING", "RUNNABLE", "STARTING", "RUNNING",
                          "FAILED"])
        first, second = d["attempts"]
        # Per event: attempts ended by then, startedAt (the latest attempt that ran by then),
        # the exit code shown (the last ended attempt's, while none runs).
        want = [(0, None, None), (0, None, None), (0, first["startedAt"], None),
                (1, first["startedAt"], 3), (1, first["startedAt"], None),
                (1, second["startedAt"], None), (2, second["startedAt"], 3)]
        for g, (n, started, code) in zip(got, want):
            self.assertEqual((len(g["attempts"]), g.get("startedAt"),
                              g["container"].get("exitCode")), (n, started, code), g["status"])
            self.assertEqual("stoppedAt" in g, g["status"] == "FAILED", g["status"])
        # A running attempt's log stream is its own, not the next one's.
        self.assertEqual(got[2]["container"]["logStreamName"],
                         first["container"]["logStreamName"])
        self.assertEqual(got[5]["container"]["logStreamName"],
                         second["container"]["logStreamName"])
        self.assertNotEqual(first["container"]["logStreamName"],
                            second["container"]["logStreamName"])
        # Read again, the same (texts are kept for the readers that follow).
        again = self.server.raw("POST", "/barge/v1/getevents", {"after": start, "queue": "q"})[2]
        self.assertEqual([e["event"]["detail"] for e in again["events"]
                          if e["event"]["detail"]["jobId"] == jid], got)
