"""GET /metrics series that said something else than the jobs and the fleet: a queue whose only
waiting jobs are an array's children, a deleted queue's children, an attempt stopped with a
reason of the caller's own words, and vCPU figures past six digits."""
from harness import ServerTestCase, register_agent
from test_metrics import parse, value
from test_jobs_common import JobsCase


class Series(JobsCase):
    def scrape(self):
        status, _, body = self.server.raw("GET", "/metrics")
        self.assertEqual(status, 200)
        return parse(body.decode())

    def test_an_arrays_waiting_children_are_counted_alone(self):
        # The queue was skipped when none of its own jobs (the array is PENDING) was RUNNABLE.
        arr = self.submit("waiting-children", queue="parked", arrayProperties={"size": 5})
        self.wait_for(lambda: self.job(arr + ":4")["status"] == "RUNNABLE", 10, "the children")

        def counted():
            s = self.scrape()
            waits = sum(v for k, v in s.items()
                        if k[0] == "barge_runnable_jobs" and dict(k[1])["queue"] == "parked")
            children = value(s, "barge_array_child_jobs", queue="parked", status="RUNNABLE")
            return waits if waits == children else None
        # The breakdown is at most 10 seconds old, 12 when a scrape makes it (another test's
        # scrape may have made it before the children waited).
        self.assertGreaterEqual(self.wait_for(counted, 30, "the children among the waits"), 5)

    def test_a_deleted_queue_leaves_no_series(self):
        # Its children's stayed until the retention let its jobs go (a week by default).
        self.make_queue("gone", ["ce"])
        self.wait_valid()
        arr = self.submit("gone-array", queue="gone", command="true", arrayProperties={"size": 3})
        self.wait_jobs([arr])
        s = self.scrape()
        self.assertEqual(value(s, "barge_array_child_jobs", queue="gone", status="SUCCEEDED"), 3)
        self.batch.update_job_queue(jobQueue="gone", state="DISABLED")
        self.batch.delete_job_queue(jobQueue="gone")
        self.wait_for(lambda: all(q["status"] == "DELETED" for q in self.batch.describe_job_queues(
            jobQueues=["gone"])["jobQueues"]), 10, "the queue to be deleted")
        left = [k for k in self.scrape() if dict(k[1]).get("queue") == "gone"]
        self.assertEqual(left, [])

    def test_a_stop_counts_as_stopped_whatever_its_reason_says(self):
        # Counted by the reason's words: "timeout" in it made a timeout, "Host EC2" a lost host.
        def ended():
            return {dict(k[1])["reason"]: v for k, v in self.scrape().items()
                    if k[0] == "barge_attempts_ended_total"}
        before = ended()
        for i, reason in enumerate(("cancelled: upstream timeout in the pipeline",
                                    "Host EC2 is needed by another team",
                                    "Essential container in task exited")):
            jid = self.submit("stopped-%d" % i, command="exec sleep 60")
            self.wait_job(jid, "RUNNING", timeout=20)
            self.batch.terminate_job(jobId=jid, reason=reason)
            self.assertEqual(self.wait_job(jid, timeout=20)["statusReason"], reason)
        after = ended()
        self.assertEqual({k: after[k] - before.get(k, 0) for k in after
                          if after[k] != before.get(k, 0)}, {"stopped": 3})


class Capacity(ServerTestCase):
    def test_vcpus_are_exact(self):
        # %g kept six digits: 1,237,035 vCPUs were 1.23704e+06.
        register_agent(self.server, ce="big", vcpus=999999, memory=1024)
        register_agent(self.server, ce="big", vcpus=237036, memory=1024)
        status, _, body = self.server.raw("GET", "/metrics")
        self.assertIn('barge_compute_environment_vcpus{compute_environment="big",kind="total"} '
                      '1237035\n', body.decode())
