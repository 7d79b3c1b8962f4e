"""Reconciliation of what an agent holds with what the server expects (docs/agent-protocol.md,
"holding"), against the real server.

Each test has an UNMANAGED compute environment of its own, served by a stand-in agent written
here, which speaks the
protocol over HTTP and can lose an assignment on purpose: the server must end such an attempt as
a task that failed to start once the agent's list has lacked it past the grace, retry it as its
strategy says, and let TerminateJob finish it; and it must order the kill of an attempt the agent
holds but the server does not expect.  A job on a real agent outlives the grace untouched.
"""
import time

from harness import arn
from test_jobs_common import JobsCase

GRACE = 5  # seconds: ASSIGN_GRACE_MS in src/server/api/agent_proto.c
LOST_REASON = "CannotStartContainerError: the instance never received the assignment"


class StandInAgent:
    """An agent that is only its protocol: every exchange says what it holds, as told."""

    def __init__(self, server, ce, instance_id, vcpus=4, memory=8192, executor=None):
        self.server = server
        self.id = instance_id
        reg = {"computeEnvironment": ce, "instanceId": instance_id, "vcpus": vcpus,
               "memoryMiB": memory, "cgroups": "none", "cgroupsNote": "a stand-in"}
        if executor:
            reg["executor"] = executor
        self.credential = None
        status, _, body = self.call("register", reg)
        assert status == 200, body
        self.credential = body["credential"]
        self.assigned = []  # every assignment received, in order
        self.killed = []    # every kill order received, in order

    def call(self, op, body):
        return self.server.raw("POST", "/barge/v1/agent/" + op, body,
                               {"Content-Type": "application/json",
                                "Authorization": "Bearer " + (self.credential or "stand-in")})

    def exchange(self, holding, reports=(), sent_at=None):
        body = {"instanceId": self.id, "wait": False, "reports": list(reports),
                "holding": [{"jobId": j, "attempt": a} for j, a in holding]}
        if sent_at is not None:
            body["sentAt"] = sent_at
        status, _, body = self.call("exchange", body)
        assert status == 200, body
        self.assigned += body["assign"]
        self.killed += body["kill"]
        return body


def stand_in(case, name, executor=None):
    """A stand-in agent of case's server, alone in compute environment NAME behind queue
    NAME."""
    case.batch.create_compute_environment(computeEnvironmentName=name, type="UNMANAGED",
                                          state="ENABLED")
    case.make_queue(name, [name])
    case.wait_valid()
    return StandInAgent(case.server, arn("compute-environment", name), "i-" + name,
                        executor=executor)


class Reconcile(JobsCase):
    def agent(self, name, executor=None):
        return stand_in(self, name, executor)

    def test_the_description_names_each_attempts_executor(self):
        # The assignment carries the image; the description says which executor ran each
        # attempt, as the instance registered it, in barge's member and not in AWS's attempts.
        agent = self.agent("reconcile-exec", executor="stand-in")
        jid = self.submit("exec", queue=agent.id[2:], command="true",
                          retryStrategy={"attempts": 2})
        agent.exchange([])
        self.assertEqual(agent.assigned[0]["image"], "busybox:latest")  # the definition's
        agent.exchange([(jid, 1)], [
            {"jobId": jid, "attempt": 1, "event": "RUNNING"},
            {"jobId": jid, "attempt": 1, "event": "EXITED", "exitCode": 1}])
        self.exchange_until(agent, [], lambda: len(agent.assigned) == 2, 5, "attempt 2")
        agent.exchange([(jid, 2)], [
            {"jobId": jid, "attempt": 2, "event": "EXITED", "exitCode": 0}])
        self.assertEqual(self.wait_job(jid, timeout=5)["status"], "SUCCEEDED")
        raw = self.raw_job(jid)
        where = {"executor": "stand-in", "instanceId": agent.id}
        # Each attempt's usage: what it reserved (a stand-in measures nothing it used).
        for a in raw["barge"]["attempts"]:
            self.assertEqual(set(a.pop("usage")), {"vcpuSeconds", "memoryGiBSeconds"})
        self.assertEqual(raw["barge"]["attempts"], [where, where])
        self.assertEqual(raw["barge"]["executor"], "stand-in")
        self.assertNotIn("note", raw["barge"])  # the host-process note is the process executor's
        for a in raw["attempts"]:
            self.assertNotIn("barge", a)

    def test_an_agents_clock_is_its_own(self):
        # The agent's host is two hours behind: the times it reports, and its log lines', are
        # moved onto the server's clock by what its requests' sentAt says.
        agent = self.agent("reconcile-clock")
        jid = self.submit("clock", queue=agent.id[2:], command="true")
        agent.exchange([])
        skew = 2 * 3600 * 1000
        t = int(time.time() * 1000) - skew
        agent.exchange([(jid, 1)], [{"jobId": jid, "attempt": 1, "event": "RUNNING",
                                     "at": t}], sent_at=t)
        stream = self.job(jid)["container"]["logStreamName"]
        status, _, body = agent.call("logs", {"instanceId": agent.id, "sentAt": t + 50, "streams": [
            {"logStreamName": stream, "events": [{"timestamp": t + 40, "message": "hello"}]}]})
        self.assertEqual(status, 200, body)
        agent.exchange([], [{"jobId": jid, "attempt": 1, "event": "EXITED", "exitCode": 0,
                             "at": t + 100}], sent_at=t + 100)
        d = self.wait_job(jid, timeout=5)
        now = int(time.time() * 1000)
        self.assertEqual(d["status"], "SUCCEEDED")
        self.assertGreaterEqual(d["startedAt"], d["createdAt"])
        self.assertLessEqual(d["stoppedAt"], now)
        self.assertLess(now - d["startedAt"], 60000)
        self.assertGreaterEqual(d["stoppedAt"], d["startedAt"])
        ev = self.server.client("logs").get_log_events(
            logGroupName="/aws/batch/job", logStreamName=stream, startFromHead=True)["events"]
        self.assertEqual([e["message"] for e in ev], ["hello"])
        self.assertLess(abs(ev[0]["timestamp"] - d["startedAt"]), 60000)
        # Without sentAt (an agent from before it), the times are taken as they come, but
        # never in the server's future.
        jid2 = self.submit("clock-old", queue=agent.id[2:], command="true")
        self.exchange_until(agent, [], lambda: any(a["jobId"] == jid2 for a in agent.assigned),
                            5, "the second assignment")
        future = int(time.time() * 1000) + skew
        agent.exchange([], [{"jobId": jid2, "attempt": 1, "event": "RUNNING", "at": future},
                            {"jobId": jid2, "attempt": 1, "event": "EXITED", "exitCode": 0,
                             "at": future}])
        d = self.wait_job(jid2, timeout=5)
        self.assertLessEqual(d["stoppedAt"], int(time.time() * 1000))

    def test_a_delayed_request_does_not_move_the_times_it_reports(self):
        # The agent's clock agrees with the server's; its last log upload and its report of the
        # job's end spent 5 s on the way (a busy server, a standby tried first): their times are
        # kept as they were written, since the agent's quicker requests show its clock is right.
        agent = self.agent("reconcile-delay")
        jid = self.submit("delay", queue=agent.id[2:], command="true")
        agent.exchange([], sent_at=int(time.time() * 1000))
        now = int(time.time() * 1000)
        agent.exchange([(jid, 1)], [{"jobId": jid, "attempt": 1, "event": "RUNNING",
                                     "at": now - 10}], sent_at=now)
        stream = self.job(jid)["container"]["logStreamName"]
        deadline = time.time() + 5.5
        while time.time() < deadline:
            agent.exchange([(jid, 1)], sent_at=int(time.time() * 1000))
            time.sleep(0.5)
        now = int(time.time() * 1000)
        status, _, body = agent.call("logs", {"instanceId": agent.id, "sentAt": now - 5000,
                                              "streams": [{"logStreamName": stream, "events": [
                                                  {"timestamp": now - 5010, "message": "late"}]}]})
        self.assertEqual(status, 200, body)
        agent.exchange([], [{"jobId": jid, "attempt": 1, "event": "EXITED", "exitCode": 0,
                             "at": now - 5005}], sent_at=now - 5000)
        d = self.wait_job(jid, timeout=5)
        self.assertEqual(d["status"], "SUCCEEDED")
        ev = self.server.client("logs").get_log_events(
            logGroupName="/aws/batch/job", logStreamName=stream, startFromHead=True)["events"]
        self.assertEqual([e["message"] for e in ev], ["late"])
        # Moved by the delay, each would be 5 s later than written.
        self.assertLess(abs(ev[0]["timestamp"] - (now - 5010)), 1000, ev)
        self.assertLess(abs(d["stoppedAt"] - (now - 5005)), 1000, d)

    def running_nodes(self, name, nodes):
        """A stand-in agent in an environment NAME of its own, and a multi-node job of NODES
        nodes it runs; returns (agent, job id, [(node id, 1), ...]), every node RUNNING."""
        agent = self.agent(name)
        self.batch.register_job_definition(
            jobDefinitionName=name, type="multinode",
            nodeProperties={"numNodes": nodes, "mainNode": 0, "nodeRangeProperties": [
                {"targetNodes": "0:%d" % (nodes - 1), "container": {
                    "image": "busybox", "command": ["true"], "resourceRequirements": [
                        {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]}}]})
        jid = self.batch.submit_job(jobName="mnp", jobQueue=name, jobDefinition=name)["jobId"]
        self.exchange_until(agent, [], lambda: len(agent.assigned) == nodes, 5,
                            "%d nodes" % nodes)
        held = [(jid + "#%d" % k, 1) for k in range(nodes)]
        agent.exchange(held, [{"jobId": n, "attempt": 1, "event": "RUNNING"} for n, _ in held])
        return agent, jid, held

    def test_a_node_that_ended_by_itself_as_its_main_node_did_keeps_its_end(self):
        # The main node's end reaches the server before a worker's that exited by itself at
        # the same moment: the server has ordered the workers stopped, but the one whose
        # attempt ended on its own (no kill in its report) keeps its end, as does the one
        # that exited 0 though its agent sent the stop (it had exited unreaped, or ended
        # cleanly on the SIGTERM); the one the order stopped says why.
        agent, jid, held = self.running_nodes("reconcile-mnp", 4)
        main, ended, cleanly, stopped = (n for n, _ in held)
        agent.exchange(held[1:], [{"jobId": main, "attempt": 1, "event": "EXITED",
                                   "exitCode": 0, "signal": 0, "killed": False}])
        self.exchange_until(agent, held[1:], lambda: len(agent.killed) >= 3, 5, "kill orders")
        agent.exchange([], [
            {"jobId": ended, "attempt": 1, "event": "EXITED", "exitCode": 0, "signal": 0,
             "killed": False},
            {"jobId": cleanly, "attempt": 1, "event": "EXITED", "exitCode": 0, "signal": 0,
             "killed": True},
            {"jobId": stopped, "attempt": 1, "event": "EXITED", "signal": 15, "killed": True}])
        self.assertEqual(self.wait_job(jid, timeout=5)["status"], "SUCCEEDED")
        for n in (ended, cleanly):
            d = self.job(n)
            self.assertEqual((d["status"], d["isTerminated"], d["statusReason"]),
                             ("SUCCEEDED", False, "Essential container in task exited"), n)
            self.assertEqual(d["container"]["exitCode"], 0)
        d = self.job(stopped)
        self.assertEqual((d["status"], d["isTerminated"], d["statusReason"]),
                         ("FAILED", True, "Stopped: the main node (node 0) ended"))
        self.assertEqual(d["container"]["exitCode"], 143)

    def test_a_terminate_whose_reason_reads_like_a_node_stop_still_terminates(self):
        # Only the reasons barge gives its nodes' stops keep a node's own end: a TerminateJob
        # reason that happens to begin the same way ends the job as terminated.
        agent, jid, held = self.running_nodes("reconcile-mnp-t", 2)
        self.batch.terminate_job(jobId=jid, reason="Stopped: maintenance")
        agent.exchange([], [{"jobId": n, "attempt": 1, "event": "EXITED", "exitCode": 0,
                             "signal": 0, "killed": False} for n, _ in held])
        d = self.wait_job(jid, timeout=5)
        self.assertEqual((d["status"], d["statusReason"]), ("FAILED", "Stopped: maintenance"))
        for n, _ in held:
            self.assertEqual(self.job(n)["status"], "FAILED")

    def exchange_until(self, agent, holding, done, timeout, what):
        """Exchanges with holding every 200 ms until done() returns something true."""
        deadline = time.time() + timeout
        while True:
            agent.exchange(holding)
            got = done()
            if got:
                return got
            if time.time() > deadline:
                self.fail("waited %ss for %s; the server's log ends with:\n%s" % (
                    timeout, what, self.log_tail()))
            time.sleep(0.2)

    def test_a_lost_assignment_fails_to_start_and_is_retried(self):
        agent = self.agent("reconcile-lost")
        jid = self.submit("lost", queue=agent.id[2:], command="true",
                          retryStrategy={"attempts": 2})
        sent = time.time()
        # The answer carrying the assignment is "lost": the agent never holds it.
        agent.exchange([])
        self.assertEqual([(a["jobId"], a["attempt"]) for a in agent.assigned], [(jid, 1)])
        # Within the grace it may still be on its way: nothing happens.
        agent.exchange([])
        self.assertEqual(self.status(jid), "STARTING")
        # Past it, the assignment goes again (the answer was lost), three times, a grace
        # apart; then the attempt ends.
        d = self.exchange_until(agent, [], lambda: (self.job(jid) or {}).get("attempts"),
                                4 * GRACE + 10, "the lost attempt to end")
        self.assertGreaterEqual(time.time() - sent, 4 * GRACE - 0.5)
        self.assertEqual([(a["jobId"], a["attempt"]) for a in agent.assigned[:4]],
                         [(jid, 1)] * 4)
        agent.assigned = agent.assigned[3:]
        self.assertEqual(d[0]["statusReason"], "Task failed to start")
        self.assertEqual(d[0]["container"]["reason"], LOST_REASON)
        # Retried as its strategy says: attempt 2 comes to the agent, which runs it.
        self.exchange_until(agent, [], lambda: len(agent.assigned) == 2, 5, "attempt 2")
        self.assertEqual((agent.assigned[1]["jobId"], agent.assigned[1]["attempt"]), (jid, 2))
        # An exchange that reports an attempt's end may still list it.
        agent.exchange([(jid, 2)], [{"jobId": jid, "attempt": 2, "event": "RUNNING"}])
        agent.exchange([(jid, 2)], [
            {"jobId": jid, "attempt": 2, "event": "EXITED", "exitCode": 0}])
        d = self.wait_job(jid, timeout=5)
        self.assertEqual(d["status"], "SUCCEEDED")
        self.assertEqual(len(d["attempts"]), 2)
        self.assertEqual(agent.killed, [])

    def test_terminating_a_lost_assignment_ends_it(self):
        agent = self.agent("reconcile-term")
        jid = self.submit("lost-term", queue=agent.id[2:], command="true",
                          retryStrategy={"attempts": 3})
        agent.exchange([])
        self.batch.terminate_job(jobId=jid, reason="not needed any more")
        # The kill order reaches an agent that does not have the attempt, which ignores it.
        agent.exchange([])
        self.assertEqual([(k["jobId"], k["attempt"]) for k in agent.killed], [(jid, 1)])
        self.assertEqual(self.status(jid), "STARTING")
        d = self.exchange_until(agent, [], lambda: self.job(jid)["status"] == "FAILED" and
                                self.job(jid), GRACE + 10, "the terminated job to fail")
        self.assertEqual(d["statusReason"], "not needed any more")
        self.assertEqual([a["statusReason"] for a in d["attempts"]], ["Task failed to start"])

    def test_an_attempt_the_server_does_not_expect_is_killed(self):
        agent = self.agent("reconcile-stray")
        done = self.submit("done-before", queue=agent.id[2:], command="true")
        agent.exchange([])
        agent.exchange([(done, 1)], [
            {"jobId": done, "attempt": 1, "event": "RUNNING"},
            {"jobId": done, "attempt": 1, "event": "EXITED", "exitCode": 0}])
        self.assertEqual(self.wait_job(done, timeout=5)["status"], "SUCCEEDED")
        self.assertEqual(agent.killed, [])
        # Still listed after its end was reported, and a job the server never had: not at
        # once (a long poll's list may be older than the end report on the other connection),
        # and not if the next list has them no more.
        held = [(done, 1), ("not-a-job", 1)]
        self.assertEqual(agent.exchange(held)["kill"], [])
        self.assertEqual(agent.exchange([])["kill"], [])
        # Listed on for a while, they are to be stopped.
        start = time.time()
        kills = self.exchange_until(agent, held, lambda: list(agent.killed), 30, "kill orders")
        self.assertGreater(time.time() - start, 1.5)
        self.assertEqual(sorted((k["jobId"], k["attempt"], k["reason"]) for k in kills),
                         sorted([(done, 1, "this attempt is no longer expected"),
                                 ("not-a-job", 1, "this attempt is no longer expected")]))
        # The order is not repeated on every exchange.
        self.assertEqual(agent.exchange(held)["kill"], [])
        self.assertEqual(self.job(done)["status"], "SUCCEEDED")

    def test_a_job_on_a_real_agent_outlives_the_grace(self):
        jid = self.submit("long", command="sleep %d" % (GRACE + 3))
        d = self.wait_job(jid, timeout=GRACE + 30)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertEqual(len(d["attempts"]), 1)
