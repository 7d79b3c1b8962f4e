"""What an attempt is charged (its description's barge.usage, GetUsage's sums) when what it is
told is wrong or missing: an agent's times from before the job was made, CPU seconds no machine
could use, a host that went away while the server was down; and an array's own description,
which sums its children as GetUsage does."""
import os
import signal
import time

from test_jobs_common import JobsCase
from test_jobs_reconcile import stand_in

JSON = {"Content-Type": "application/json"}


class AgentReports(JobsCase):
    def agent(self, name):
        return stand_in(self, name)

    def until_assigned(self, agent, n=1):
        deadline = time.time() + 10
        while len(agent.assigned) < n:
            self.assertLess(time.time(), deadline, "no assignment")
            agent.exchange([])
            time.sleep(0.05)

    def test_a_start_before_the_job_was_made_is_taken_as_its_making(self):
        # A RUNNING time of 1970 made the attempt 1.8e9 vCPU-seconds; one a day before the
        # request was sent, 86,400.
        agent = self.agent("past")
        old = self.submit("past", queue="past", command="true")
        self.until_assigned(agent)
        agent.exchange([(old, 1)], [{"jobId": old, "attempt": 1, "event": "RUNNING", "at": 1000}])
        agent.exchange([], [{"jobId": old, "attempt": 1, "event": "EXITED", "exitCode": 0}])
        t = int(time.time() * 1000)
        day = self.submit("day-before", queue="past", command="true")
        self.until_assigned(agent, 2)
        agent.exchange([(day, 1)], [{"jobId": day, "attempt": 1, "event": "RUNNING",
                                     "at": t - 86400000}], sent_at=t)
        agent.exchange([], [{"jobId": day, "attempt": 1, "event": "EXITED", "exitCode": 0,
                             "at": t + 10}], sent_at=t + 10)
        for jid in (old, day):
            self.wait_job(jid, timeout=5)
            raw = self.raw_job(jid)
            self.assertGreaterEqual(raw["startedAt"], raw["createdAt"])
            self.assertLess(raw["barge"]["usage"]["vcpuSeconds"], 60)

    def test_cpu_seconds_no_machine_could_use_are_not_kept(self):
        # 1e308 twice summed to infinity: the event's JSON said "inf", DescribeJobs left the
        # member out, and GetUsage left the job's whole group out.
        agent = self.agent("huge")
        jid = self.submit("huge", queue="huge", command="true", retryStrategy={"attempts": 2})
        self.until_assigned(agent)
        agent.exchange([(jid, 1)], [
            {"jobId": jid, "attempt": 1, "event": "RUNNING"},
            {"jobId": jid, "attempt": 1, "event": "EXITED", "exitCode": 1, "cpuSeconds": 1e308}])
        self.until_assigned(agent, 2)
        agent.exchange([(jid, 2)], [
            {"jobId": jid, "attempt": 2, "event": "RUNNING"},
            {"jobId": jid, "attempt": 2, "event": "EXITED", "exitCode": 0, "cpuSeconds": 0.25,
             "maxMemoryBytes": 4096}])
        self.wait_job(jid, timeout=5)
        usage = self.raw_job(jid)["barge"]["usage"]
        self.assertEqual(usage["cpuSeconds"], 0.25)
        status, _, page = self.server.raw("POST", "/barge/v1/getusage", {"jobQueue": "huge"},
                                          JSON)
        self.assertEqual(status, 200, page)
        self.assertEqual([(g["jobs"], g["cpuSeconds"]) for g in page["groups"]], [(1, 0.25)])
        status, _, events = self.server.raw("POST", "/barge/v1/getevents", {"after": 0}, JSON)
        self.assertEqual(status, 200)
        self.assertIsInstance(events, dict)  # JSON, which "inf" is not
        self.assertRegex(self.server.read_log(), r"reported 1e\+308 CPU seconds for job %s "
                                                 r"attempt 1, more than its [0-9]+ s could "
                                                 r"use; not kept" % jid)


class ArrayUsage(JobsCase):
    def test_an_arrays_description_sums_its_children(self):
        # Child 1 fails its first attempt: every attempt of every child is summed.
        jid = self.submit("summed", command='[ "$AWS_BATCH_JOB_ARRAY_INDEX" = 1 ] && '
                                            '[ "$AWS_BATCH_JOB_ATTEMPT" = 1 ] && exit 1; '
                                            'sleep 0.3',
                          arrayProperties={"size": 3}, retryStrategy={"attempts": 2})
        self.wait_job(jid, timeout=60)
        parent = self.raw_job(jid)["barge"]["usage"]
        kids = [self.raw_job("%s:%d" % (jid, i))["barge"] for i in range(3)]
        self.assertEqual([len(k["attempts"]) for k in kids], [1, 2, 1])
        children = [k["usage"] for k in kids]
        self.assertGreater(parent["vcpuSeconds"], 0)
        self.assertAlmostEqual(parent["vcpuSeconds"],
                               sum(c["vcpuSeconds"] for c in children), places=6)
        self.assertAlmostEqual(parent["memoryGiBSeconds"],
                               sum(c["memoryGiBSeconds"] for c in children), places=6)
        # The parent's sum is kept as its children's attempts end, and made again from them
        # when the server reads its state back: the same after a clean stop and after a crash.
        self.server.stop()
        self.server.start()
        self.assertEqual(self.raw_job(jid)["barge"]["usage"], parent)
        self.server.kill9()
        self.server.start()
        self.assertEqual(self.raw_job(jid)["barge"]["usage"], parent)


class HostsLostWhileDown(JobsCase):
    """An attempt whose host went while the server was down was charged the server's downtime:
    its end was when the restarted server gave up on the host."""

    def charged(self, jid):
        return self.raw_job(jid)["barge"]["attempts"][0]["usage"]["vcpuSeconds"]

    def test_after_a_crash_until_the_server_was_last_alive(self):
        jid = self.submit("crashed", command="sleep 60")
        self.wait_job(jid, want="RUNNING")
        time.sleep(1)
        self.server.kill9()
        for pid in self.server.agent_pids():
            os.kill(pid, signal.SIGKILL)
        time.sleep(8)
        self.server.start()
        self.wait_job(jid, timeout=60)
        # Running about a second, and the server last alive up to 5 s (its touch) after.
        self.assertLess(self.charged(jid), 7)

    def test_after_a_clean_stop_until_the_stop(self):
        jid = self.submit("stopped", command='[ "$AWS_BATCH_JOB_ATTEMPT" = 1 ] && exec sleep 60; '
                                            'exit 0')
        self.wait_job(jid, want="RUNNING")
        time.sleep(1)
        self.server.stop()
        self.server.stop_agents()
        time.sleep(8)
        self.server.start()
        self.wait_job(jid, timeout=60)
        self.assertLess(self.charged(jid), 4)
