"""Job queues' jobStateTimeLimitActions: a RUNNABLE job at the head of its queue whose
statusReason carries one of AWS's reason codes for maxTimeSeconds is cancelled with AWS's reason,
and the jobs behind it move up; a code no action names, or a job that only waits its turn, is
left alone.  (--dev lowers AWS's 600-second minimum so that these run in seconds.)"""
import time

from test_jobs_common import JobsCase

CE_MAX = "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE"
JOB_REQ = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"
CAPACITY = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"


def action(reason, secs):
    return {"reason": reason, "state": "RUNNABLE", "maxTimeSeconds": secs, "action": "CANCEL"}


class TimeLimitActions(JobsCase):
    max_vcpus = 2

    @classmethod
    def setUpResources(cls):
        for name, actions in (("limited", [action(CE_MAX, 2), action(JOB_REQ, 2)]),
                              ("lenient", [action(CAPACITY, 1)])):
            cls.batch.create_job_queue(jobQueueName=name, priority=1,
                                       computeEnvironmentOrder=[{"order": 1,
                                                                 "computeEnvironment": "ce"}],
                                       jobStateTimeLimitActions=actions)

    def test_reason_codes_in_the_status_reason(self):
        big = self.submit("big", queue="lenient", overrides={"resourceRequirements": [
            {"type": "VCPU", "value": "4"}, {"type": "MEMORY", "value": "64"}]})
        huge = self.submit("huge", queue="lenient", overrides={"resourceRequirements": [
            {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "10000000"}]})
        reason = self.wait_for(lambda: self.job(big).get("statusReason"), what="a reason")
        self.assertTrue(reason.startswith(CE_MAX + " - needs 4 vCPUs"), reason)
        reason = self.job(huge)["statusReason"]
        self.assertTrue(reason.startswith(JOB_REQ + " - needs 10000000 MiB"), reason)
        # ListJobs says the same (AWS's troubleshooting sends users there for it).
        listed = {s["jobId"]: s.get("statusReason", "") for s in self.batch.list_jobs(
            jobQueue="lenient", jobStatus="RUNNABLE")["jobSummaryList"]}
        self.assertTrue(listed[big].startswith(CE_MAX + " - needs 4 vCPUs"), listed)
        self.assertEqual(listed[huge], reason)
        # The queue's only action is for another code: both keep waiting.
        time.sleep(2.5)
        self.assertEqual({self.status(big), self.status(huge)}, {"RUNNABLE"})
        for jid in (big, huge):
            self.batch.cancel_job(jobId=jid, reason="done looking")

    def test_heads_are_cancelled_and_the_next_moves_up(self):
        too_big = {"resourceRequirements": [{"type": "VCPU", "value": "4"},
                                            {"type": "MEMORY", "value": "64"}]}
        first = self.submit("first", queue="limited", overrides=too_big)
        second = self.submit("second", queue="limited", overrides=too_big)
        small = self.submit("small", queue="limited", command="true")
        # The small job runs meanwhile: a job that cannot fit holds up nobody.
        self.assertEqual(self.wait_job(small)["status"], "SUCCEEDED")
        d1 = self.wait_job(first, timeout=20)
        self.assertEqual(d1["status"], "FAILED")
        self.assertEqual(d1["statusReason"],
                         "Canceled by JobStateTimeLimit action due to reason: " + CE_MAX)
        self.assertIs(d1["isCancelled"], True)
        self.assertEqual(d1["attempts"], [])
        # The second became the head when the first went, and waited its own full time.
        d2 = self.wait_job(second, timeout=20)
        self.assertEqual(d2["statusReason"], d1["statusReason"])
        self.assertGreaterEqual(d2["stoppedAt"] - d1["stoppedAt"], 1500)
        # The CLI shows the same.
        out = self.server.aws("batch", "describe-jobs", "--jobs", second)["jobs"][0]
        self.assertEqual(out["statusReason"], d1["statusReason"])

    def test_a_requirement_no_instance_meets_is_cancelled(self):
        # (A platform the queue cannot run is refused at SubmitJob; memory no instance type of
        # the environment has is the job requirement that waits.)
        jid = self.submit("too-much-memory", queue="limited", overrides={"resourceRequirements": [
            {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "10000000"}]})
        d = self.wait_job(jid, timeout=20)
        self.assertEqual(d["statusReason"],
                         "Canceled by JobStateTimeLimit action due to reason: " + JOB_REQ)
