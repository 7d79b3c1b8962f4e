"""Jobs across a crash, a clean stop and an upgrade: every job SubmitJob acknowledged survives
kill -9 of the server, waiting jobs wait again after the restart, and running attempts outlive
the server (their agents carry on and the next server takes them back), ending once with their
own exit code and log.  Attempts whose agents went away too end with "Host EC2 (instance i-...)
terminated." and are retried as their strategy says (costing nothing after a clean stop); no
job stays RUNNING forever."""
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from harness import BARGE, Server
from test_jobs_common import FAST, JobsCase, OnTmpfs, pid_alive


class Submitter(threading.Thread):
    """Submits jobs on one keep-alive connection until the server goes away; records the ids
    it was given."""

    def __init__(self, port, n):
        super().__init__(daemon=True)
        self.port, self.n = port, n
        self.acked = []
        self.error = None

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            for i in range(self.n):
                conn.request("POST", "/v1/submitjob", json.dumps(
                    {"jobName": "burst-%d" % i, "jobQueue": "parked", "jobDefinition": "jd",
                     "arrayProperties": {"size": 2 + i % 3}} if i % 4 == 0 else
                    {"jobName": "burst-%d" % i, "jobQueue": "parked", "jobDefinition": "jd"}),
                    {"Content-Type": "application/json"})
                r = conn.getresponse()
                body = r.read()
                if r.status == 200:
                    self.acked.append(json.loads(body)["jobId"])
                elif r.status != 503:
                    self.error = "%d %s" % (r.status, body)
                    return
        except (OSError, http.client.HTTPException):
            pass  # the server was killed
        finally:
            conn.close()


def log_messages(case, jid):
    """The messages of the log of jid's (last) attempt."""
    stream = case.job(jid)["container"]["logStreamName"]
    out = case.server.client("logs").get_log_events(
        logGroupName="/aws/batch/job", logStreamName=stream, startFromHead=True)
    return [e["message"] for e in out["events"]]


class Crash(JobsCase):
    def restart_after_kill9(self):
        self.server.kill9()
        self.server.start()

    def test_acknowledged_submits_survive_kill9(self):
        w = Submitter(self.server.port, 100000)
        w.start()
        self.wait_for(lambda: len(w.acked) >= 300, 20, "300 acknowledged submits")
        self.restart_after_kill9()
        w.join(10)
        self.assertIsNone(w.error)
        found = self.describe(*w.acked)
        missing = [j for j in w.acked if j not in found]
        self.assertEqual(missing, [], "%d of %d acknowledged jobs were lost" % (
            len(missing), len(w.acked)))
        for jid in w.acked[:50]:
            d = found[jid]
            self.assertIn(d["status"], ("RUNNABLE", "PENDING"))
            self.assertRegex(d["jobName"], r"^burst-\d+$")
        listed = set()
        for page in self.batch.get_paginator("list_jobs").paginate(
                jobQueue="parked", filters=[{"name": "JOB_NAME", "values": ["burst-*"]}]):
            listed.update(s["jobId"] for s in page["jobSummaryList"])
        self.assertTrue(set(w.acked) <= listed)

    def test_waiting_jobs_are_as_they_were(self):
        plain = self.submit("plain", queue="parked", tags={"k": "v"}, parameters={"p": "1"},
                            retryStrategy={"attempts": 3})
        arr = self.submit("arr", queue="parked", arrayProperties={"size": 5})
        dep = self.submit("dep", queue="parked", dependsOn=[{"jobId": plain}])
        cancelled = self.submit("cancelled", queue="parked")
        self.batch.cancel_job(jobId=cancelled, reason="cancelled before the crash")
        before = self.describe(plain, arr, arr + ":3", dep, cancelled)
        self.restart_after_kill9()
        after = self.describe(plain, arr, arr + ":3", dep, cancelled)
        self.assertEqual(set(after), set(before))
        for jid, d in before.items():
            a = after[jid]
            for k in ("jobArn", "jobName", "jobQueue", "jobDefinition", "status", "createdAt",
                      "container", "tags", "parameters", "retryStrategy", "dependsOn",
                      "isCancelled", "isTerminated"):
                self.assertEqual(a.get(k), d.get(k), "%s of %s" % (k, d["jobName"]))
        self.assertEqual(after[cancelled]["statusReason"], "cancelled before the crash")
        self.assertEqual(after[arr]["arrayProperties"]["statusSummary"]["RUNNABLE"], 5)
        self.assertEqual(after[dep]["status"], "PENDING")
        # They still behave: cancelling the dependency fails the dependent.
        self.batch.cancel_job(jobId=plain, reason="after restart")
        self.assertEqual(self.wait_job(dep, timeout=5)["statusReason"], "Dependent Job failed")

    def test_running_attempts_outlive_a_crash(self):
        # Two jobs run when the server is killed: one ends while the server is away, the other
        # after it is back.  Each ends once, with its own exit code and its whole log, on its
        # first and only attempt.
        script = ('echo "attempt $AWS_BATCH_JOB_ATTEMPT" >> "$OUT/runs-$NAME"; echo begin; '
                  'sleep $NAP; echo end; exit $CODE')
        early = self.submit("early", command=script, retryStrategy={"attempts": 3},
                            env={"NAME": "early", "NAP": "2", "CODE": "0"})
        # Exit code 3 ends it; anything else (a lost host) would retry it.
        late = self.submit("late", command=script, env={"NAME": "late", "NAP": "6", "CODE": "3"},
                           retryStrategy={"attempts": 3, "evaluateOnExit": [
                               {"onExitCode": "3", "action": "EXIT"},
                               {"onReason": "*", "action": "RETRY"}]})
        before = self.wait_jobs([early, late], "RUNNING", timeout=20)
        self.server.kill9()
        self.assertTrue(self.server.agent_pids(), "the local agent died with the server")
        time.sleep(3)  # early ends meanwhile
        self.server.start()
        ds = self.wait_jobs([early, late], timeout=30)
        for jid, status, code in ((early, "SUCCEEDED", 0), (late, "FAILED", 3)):
            d = ds[jid]
            self.assertEqual(d["status"], status, d.get("statusReason"))
            self.assertEqual(len(d["attempts"]), 1, d["attempts"])
            self.assertEqual(d["attempts"][0]["container"]["exitCode"], code)
            self.assertEqual(d["startedAt"], before[jid]["startedAt"])
            self.assertEqual(log_messages(self, jid), ["begin", "end"])
        for name in ("early", "late"):
            self.assertEqual(self.read_lines(os.path.join(self.out_dir, "runs-" + name)),
                             ["attempt 1"])

    def test_attempts_whose_agent_died_too_end_as_host_terminated_and_retry(self):
        script = ('echo $$ > "$OUT/pid-$NAME-$AWS_BATCH_JOB_ATTEMPT"; '
                  '[ "$AWS_BATCH_JOB_ATTEMPT" = 1 ] && exec sleep 60; exit 0')
        for name in ("retried", "once"):
            self.out("pid-%s-1" % name)
        retried = self.submit("retried", command=script, env={"NAME": "retried"},
                              retryStrategy={"attempts": 2})
        once = self.submit("once", command=script, env={"NAME": "once"})
        done = self.submit("done", command="true")
        self.assertSucceeded(done)
        self.wait_jobs([retried, once], "RUNNING", timeout=20)
        pids = [int(self.wait_for(lambda: self.read_lines(os.path.join(
            self.out_dir, "pid-%s-1" % n)), 5, "pid file")[0]) for n in ("retried", "once")]
        instance = self.raw_job(retried)["barge"]["instanceId"]
        # The host goes down with the server: its agent is killed as well.
        self.server.kill9()
        for p in self.server.agent_pids():
            os.kill(p, signal.SIGKILL)
        self.server.start()
        reason = "Host EC2 (instance %s) terminated." % instance
        d = self.wait_job(once, timeout=20)
        self.assertEqual((d["status"], d["statusReason"]), ("FAILED", reason))
        self.assertEqual([a["statusReason"] for a in d["attempts"]], [reason])
        d = self.wait_job(retried, timeout=30)
        self.assertEqual(d["status"], "SUCCEEDED")
        self.assertEqual(d["attempts"][0]["statusReason"], reason)
        self.assertEqual(d["attempts"][1]["container"]["exitCode"], 0)
        self.assertEqual(len(d["attempts"]), 2)
        # A finished job is unchanged.
        self.assertEqual(self.job(done)["status"], "SUCCEEDED")
        # Nothing is left RUNNING, and the attempts' processes did not outlive their agent.
        self.assertEqual(self.batch.list_jobs(jobQueue="q")["jobSummaryList"], [])
        for pid in pids:
            self.wait_for(lambda: not pid_alive(pid), 10,
                          "process %d of an attempt whose agent is gone to end" % pid)
        self.assertIn("did not outlive the last server", self.server.read_log())

    def test_running_array_children_outlive_a_crash(self):
        # Child 0 is done before the crash; children 1 and 2 run through it.
        script = ('[ "$AWS_BATCH_JOB_ARRAY_INDEX" = 0 ] && exit 0; '
                  '[ "$AWS_BATCH_JOB_ATTEMPT" = 1 ] && exec sleep 4; exit 1')
        arr = self.submit("crash-arr", arrayProperties={"size": 3}, command=script,
                          retryStrategy={"attempts": 2})
        kids = ["%s:%d" % (arr, i) for i in range(3)]
        self.assertSucceeded(kids[0])
        self.wait_jobs(kids[1:], "RUNNING", timeout=20)
        self.restart_after_kill9()
        ds = self.wait_jobs(kids + [arr], timeout=30)
        self.assertEqual([ds[k]["status"] for k in kids], ["SUCCEEDED"] * 3)
        for k in kids:
            self.assertEqual(len(ds[k]["attempts"]), 1, ds[k]["attempts"])
        self.assertEqual(ds[arr]["status"], "SUCCEEDED")
        self.assertEqual(ds[arr]["arrayProperties"]["statusSummary"]["SUCCEEDED"], 3)

    def test_a_job_terminated_while_the_server_was_away_is_stopped(self):
        jid = self.submit("stop-me", command="exec sleep 60")
        self.wait_jobs([jid], "RUNNING", timeout=20)
        self.restart_after_kill9()
        self.batch.terminate_job(jobId=jid, reason="no longer wanted")
        d = self.wait_job(jid, timeout=20)
        self.assertEqual((d["status"], d["statusReason"]), ("FAILED", "no longer wanted"))
        self.assertEqual(len(d["attempts"]), 1)

    def test_a_cancel_waiting_for_dependencies_survives_a_crash(self):
        first = self.submit("first", queue="parked")
        second = self.submit("second", queue="parked", dependsOn=[{"jobId": first}])
        self.batch.cancel_job(jobId=second, reason="cancelled while pending")
        self.assertEqual(self.status(second), "PENDING")
        self.restart_after_kill9()
        self.assertEqual(self.status(second), "PENDING")
        self.batch.cancel_job(jobId=first, reason="first cancelled")
        d = self.wait_job(second, timeout=5)
        self.assertEqual((d["status"], d["statusReason"], d["isCancelled"]),
                         ("FAILED", "cancelled while pending", True))

    def test_clean_stop_and_start(self):
        jid = self.submit("before-stop", command="true")
        self.assertSucceeded(jid)
        before = self.job(jid)
        self.server.restart()
        after = self.job(jid)
        for k in ("status", "statusReason", "attempts", "startedAt", "stoppedAt", "container"):
            self.assertEqual(after.get(k), before.get(k), k)
        # And the restarted server runs jobs.
        self.assertSucceeded(self.submit("after-start", command="true"))

    def test_running_attempts_outlive_a_clean_stop_and_an_upgrade(self):
        # The next server is another binary on the same data directory, as an upgrade is.
        script = ('echo "attempt $AWS_BATCH_JOB_ATTEMPT" >> "$OUT/runs-upgrade"; echo begin; '
                  'sleep 4; echo end; exit 0')
        jid = self.submit("upgrade", command=script)
        before = self.wait_job(jid, "RUNNING", timeout=20)
        self.server.stop()
        upgraded = os.path.join(self.server.data_dir, "barge-next")
        shutil.copy(BARGE, upgraded)
        self.server.binary = upgraded
        try:
            self.server.start()
            d = self.wait_job(jid, timeout=30)
        finally:
            self.server.binary = None
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertEqual(len(d["attempts"]), 1)
        self.assertEqual(d["startedAt"], before["startedAt"])
        self.assertEqual(log_messages(self, jid), ["begin", "end"])
        self.assertEqual(self.read_lines(os.path.join(self.out_dir, "runs-upgrade")),
                         ["attempt 1"])

    def test_an_agent_gone_after_a_clean_stop_costs_no_attempt(self):
        # One attempt only: an attempt that a clean stop interrupted (its agent did not outlive
        # the stop) is recorded, not counted, so the job runs again and can succeed.
        script = ('echo $$ > "$OUT/pid-clean-$AWS_BATCH_JOB_ATTEMPT"; '
                  '[ "$AWS_BATCH_JOB_ATTEMPT" = 1 ] && exec sleep 60; exit 0')
        self.out("pid-clean-1")
        jid = self.submit("clean", command=script)
        self.wait_jobs([jid], "RUNNING", timeout=20)
        pid = int(self.wait_for(lambda: self.read_lines(os.path.join(
            self.out_dir, "pid-clean-1")), 5, "pid file")[0])
        instance = self.raw_job(jid)["barge"]["instanceId"]
        self.server.stop()
        self.server.stop_agents()
        self.server.start()
        d = self.wait_job(jid, timeout=30)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertEqual([a["statusReason"] for a in d["attempts"]],
                         ["Host EC2 (instance %s) terminated." % instance,
                          "Essential container in task exited"])
        self.assertEqual(d["attempts"][1]["container"]["exitCode"], 0)
        self.wait_for(lambda: not pid_alive(pid), 10, "the first attempt's process to end")

    def test_after_a_clean_restart_a_crash_counts_again(self):
        # The record of the clean stop goes with the first commit after the start: an attempt
        # lost to a crash after that counts.
        jid = self.submit("clean-then-crash", command="exec sleep 60")
        self.wait_jobs([jid], "RUNNING", timeout=20)
        self.server.restart()
        time.sleep(1.5)
        self.assertEqual(self.status(jid), "RUNNING")
        instance = self.raw_job(jid)["barge"]["instanceId"]
        self.server.kill9()
        for p in self.server.agent_pids():
            os.kill(p, signal.SIGKILL)
        self.server.start()
        d = self.wait_job(jid, timeout=30)
        self.assertEqual((d["status"], d["statusReason"]),
                         ("FAILED", "Host EC2 (instance %s) terminated." % instance))
        self.assertEqual(len(d["attempts"]), 1)


class StopLocalAgents(JobsCase):
    """--stop-local-agents: a clean stop ends the local agents' attempts, which cost their jobs
    nothing."""
    server_args = FAST + ("--stop-local-agents",)

    def test_a_clean_stop_ends_attempts_uncounted(self):
        script = '[ "$AWS_BATCH_JOB_ATTEMPT" = 1 ] && exec sleep 60; exit 0'
        jid = self.submit("stopped", command=script)
        self.wait_jobs([jid], "RUNNING", timeout=20)
        instance = self.raw_job(jid)["barge"]["instanceId"]
        self.server.stop()
        self.wait_for(lambda: not self.server.agent_pids(), 10, "the local agent to stop")
        self.server.start()
        d = self.wait_job(jid, timeout=30)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertEqual([a["statusReason"] for a in d["attempts"]],
                         ["Host EC2 (instance %s) terminated." % instance,
                          "Essential container in task exited"])

    def test_an_agent_still_stopping_when_the_next_server_starts_costs_nothing(self):
        # The job is slow to end on SIGTERM, so the agent lives on into the next server, which
        # adopts it and hears its report of the stopped attempt: that report counted the
        # attempt (a job of attempts 1 failed for a restart) with the exit code of the stop.
        script = ('[ "$AWS_BATCH_JOB_ATTEMPT" = 1 ] || exit 0; '
                  'trap "sleep 0.5; exit 3" TERM; sleep 60 & wait')
        jid = self.submit("slow-to-stop", command=script)
        self.wait_jobs([jid], "RUNNING", timeout=20)
        instance = self.raw_job(jid)["barge"]["instanceId"]
        self.server.stop()
        self.server.start()
        d = self.wait_job(jid, timeout=30)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertEqual([a["statusReason"] for a in d["attempts"]],
                         ["Host EC2 (instance %s) terminated." % instance,
                          "Essential container in task exited"])
        self.assertNotIn("exitCode", d["attempts"][0]["container"])


class AgentStopped(JobsCase):
    """An agent stopped (SIGTERM: its host shutting down) while the server runs: to its jobs
    their host went away; the attempt counts, as on AWS, and leaves no exit code."""
    server_args = FAST

    def test_a_stopped_agents_attempt_has_no_exit_code_for_rules_to_match(self):
        # It ended with the stop's 143, which an onExitCode "*" EXIT rule took as final.
        script = '[ "$AWS_BATCH_JOB_ATTEMPT" = 1 ] && exec sleep 60; exit 0'
        jid = self.submit("host-went", command=script, retryStrategy={
            "attempts": 2, "evaluateOnExit": [{"onExitCode": "*", "action": "EXIT"}]})
        self.wait_jobs([jid], "RUNNING", timeout=20)
        agents = self.server.agent_pids()
        self.assertEqual(len(agents), 1)
        os.kill(agents[0], signal.SIGTERM)
        d = self.wait_job(jid, timeout=60)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertEqual(len(d["attempts"]), 2)
        self.assertTrue(d["attempts"][0]["statusReason"].startswith("Host EC2 (instance "),
                        d["attempts"][0])
        self.assertNotIn("exitCode", d["attempts"][0]["container"])


class ServerAway(JobsCase):
    """A local agent whose server stays away longer than --server-lost-seconds lets its attempts
    finish, keeps what it could not deliver in WORK_DIR/undelivered, and exits."""
    server_args = FAST + ("--agent-server-lost-seconds", "2")

    @classmethod
    def setUpClass(cls):
        cls.work_root = tempfile.mkdtemp(prefix="barge-away-")
        os.chmod(cls.work_root, 0o711)  # jobs' users pass through it
        cls.server_args = cls.server_args + ("--agent-work-dir", cls.work_root)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.work_root, ignore_errors=True)

    def test_an_orphaned_agent_finishes_keeps_and_exits(self):
        script = 'echo begin; sleep 4; echo end; exit 7'
        jid = self.submit("orphan", command=script)
        self.wait_job(jid, "RUNNING", timeout=20)
        instance = self.raw_job(jid)["barge"]["instanceId"]
        self.server.kill9()
        agents = self.server.agent_pids()
        self.assertTrue(agents)
        self.wait_for(lambda: not any(pid_alive(p) for p in agents), 20,
                      "the agent to exit once its attempt ended")
        kept = os.path.join(self.work_root, instance, "undelivered")
        reports = [json.loads(line) for line in self.read_lines(
            os.path.join(kept, "reports.jsonl"))]
        ends = [r for r in reports if r.get("jobId") == jid and r.get("event") == "EXITED"]
        self.assertEqual(len(ends), 1, reports)
        self.assertEqual(ends[0].get("exitCode"), 7, ends[0])
        lines = [json.loads(line)["message"] for line in self.read_lines(
            os.path.join(kept, "logs.jsonl"))]
        self.assertIn("end", lines)
        log = self.server.read_log()
        self.assertIn("--server-lost-seconds", log)
        # The server that comes back has lost the instance, as a host gone away.
        self.server.start()
        d = self.wait_job(jid, timeout=45)
        self.assertEqual((d["status"], d["statusReason"]),
                         ("FAILED", "Host EC2 (instance %s) terminated." % instance))


class ServerAwayFullDisk(OnTmpfs, JobsCase):
    """As ServerAway, with the work directory's file system full: what could not be kept is
    said to be lost, where the agent said it was "kept in" an empty file.  Needs the right to
    mount a tmpfs (root); skipped without."""
    server_args = FAST + ("--agent-server-lost-seconds", "2")
    tmpfs_size = "8m"

    @classmethod
    def on_tmpfs(cls):
        os.chmod(cls.mnt, 0o711)  # jobs' users pass through it
        cls.server_args = cls.server_args + ("--agent-work-dir", cls.mnt)

    def test_what_cannot_be_kept_is_said_lost(self):
        script = 'for i in $(seq 1 12); do echo "line $i"; sleep 0.5; done; exit 3'
        jid = self.submit("away-full", command=script)
        self.wait_job(jid, "RUNNING", timeout=20)
        self.server.kill9()
        agents = self.server.agent_pids()
        self.assertTrue(agents)
        try:
            with open(os.path.join(self.mnt, "filler"), "wb") as f:
                while True:
                    f.write(b"\0" * (1 << 20))
        except OSError:
            pass
        self.wait_for(lambda: not any(pid_alive(p) for p in agents), 30,
                      "the agent to exit once its attempt ended")
        log = self.server.read_log()
        self.assertRegex(log, r"log lines not delivered to the server could not be kept in "
                              r"\S+/undelivered/logs.jsonl, and are lost")
        self.assertIn("/undelivered/reports.jsonl", log)
        self.assertIn("this log alone holds them", log)
        self.assertNotIn("not delivered to the server are kept in", log)
        os.remove(os.path.join(self.mnt, "filler"))
        self.server.start()
        d = self.wait_job(jid, timeout=45)
        self.assertEqual(d["status"], "FAILED")


class Stall(JobsCase):
    """A server stopped (SIGSTOP) for longer than an agent's heartbeat deadline did not see the
    agent's silence happen: once it runs again, the agent that answers keeps its instance and
    its job runs on."""

    def test_a_stopped_server_does_not_lose_healthy_agents(self):
        import signal
        import time
        jid = self.submit("through-a-stall", command="sleep 45")
        first = self.wait_job(jid, "RUNNING", timeout=30)
        self.server.proc.send_signal(signal.SIGSTOP)
        try:
            time.sleep(35)  # longer than the 30 s after which a silent agent is lost
        finally:
            self.server.proc.send_signal(signal.SIGCONT)
        d = self.wait_job(jid, timeout=60)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertEqual(len(d["attempts"]), 1)
        self.assertEqual(d["attempts"][0]["startedAt"], first["startedAt"])
        self.assertIn("did not run for", self.server.read_log())


class AgentStall(JobsCase):
    """An agent stopped (SIGSTOP: a paused VM, a partition) for longer than the 30 s after
    which its instance is lost: its job ran on meanwhile, printing into its pipe.  Those lines
    were refused with the lost instance (404), kept in the agent's work directory alone, and the
    attempt's log ended where the agent stopped.  The lost instance's credential may still
    write to its attempts' streams for a while, so they reach the log, as the awslogs driver
    would have shipped them.  Signed requests: an instance writes only to its own streams."""
    server_args = ("--idle-seconds", "2", "--kill-grace-seconds", "1")

    def test_what_a_lost_agent_holds_reaches_the_attempts_log(self):
        script = 'i=0; while [ $i -lt 400 ]; do i=$((i+1)); echo "line $i"; sleep 0.25; done'
        jid = self.submit("stalled", command=script)
        self.wait_job(jid, "RUNNING", timeout=20)
        self.wait_for(lambda: len(log_messages(self, jid)) >= 4, 20, "the first lines")
        agents = self.server.agent_pids()
        self.assertTrue(agents)
        for pid in agents:
            os.kill(pid, signal.SIGSTOP)
        try:
            d = self.wait_job(jid, timeout=60)
            stopped_at = len(log_messages(self, jid))
        finally:
            for pid in agents:
                os.kill(pid, signal.SIGCONT)
        self.assertEqual(d["status"], "FAILED")
        self.assertTrue(d["statusReason"].startswith("Host EC2 (instance "), d["statusReason"])
        # The job printed four lines a second all along: what it printed while its agent was
        # stopped (some 120 lines) is shipped once the agent runs again.
        self.wait_for(lambda: len(log_messages(self, jid)) >= stopped_at + 60, 30,
                      "the lines printed while the agent was stopped")
        lines = log_messages(self, jid)
        self.assertEqual(lines, ["line %d" % i for i in range(1, len(lines) + 1)])


    def test_a_lost_agent_that_registers_again_ships_first(self):
        # An agent of its own (UNMANAGED) is not stopped with its lost instance: told so (404),
        # it stops what ran and registers again, as another instance, which may not write to
        # the old one's streams.  Its lines go first, with the lost instance's credential.
        self.batch.create_compute_environment(computeEnvironmentName="own",
                                              type="UNMANAGED")
        self.make_queue("own-q", ["own"])
        with open(os.path.join(self.server.data_dir, "agent-token")) as f:
            token = f.read().strip()
        log = open(os.path.join(self.server.data_dir, "own-agent.log"), "wb")
        self.addCleanup(log.close)
        work = tempfile.mkdtemp(prefix="barge-own-")
        os.chmod(work, 0o711)
        self.addCleanup(shutil.rmtree, work, True)
        agent = subprocess.Popen([BARGE, "agent", "--server", self.server.url,
                                  "--compute-environment", "own", "--token", token,
                                  "--vcpus", "2", "--memory", "1024", "--executor", "process",
                                  "--work-dir", os.path.join(work, "agent")],
                                 stdout=log, stderr=subprocess.STDOUT)

        def stop_agent():
            agent.terminate()
            agent.wait(timeout=20)
        self.addCleanup(stop_agent)
        script = 'i=0; while [ $i -lt 400 ]; do i=$((i+1)); echo "line $i"; sleep 0.25; done'
        jid = self.submit("stalled-own", queue="own-q", command=script)
        self.wait_job(jid, "RUNNING", timeout=20)
        self.wait_for(lambda: len(log_messages(self, jid)) >= 4, 20, "the first lines")
        agent.send_signal(signal.SIGSTOP)
        try:
            d = self.wait_job(jid, timeout=60)
            stopped_at = len(log_messages(self, jid))
        finally:
            agent.send_signal(signal.SIGCONT)
        self.assertEqual(d["status"], "FAILED")
        self.wait_for(lambda: len(log_messages(self, jid)) >= stopped_at + 60, 30,
                      "the lines printed while the agent was stopped")
        lines = log_messages(self, jid)
        self.assertEqual(lines, ["line %d" % i for i in range(1, len(lines) + 1)])
        # And it serves again, as a new instance.
        jid = self.submit("after", queue="own-q", command="echo again")
        self.assertEqual(self.wait_job(jid, timeout=30)["status"], "SUCCEEDED")


class ServerAwaySigned(JobsCase):
    """As ServerAway, on a server that checks signatures: outside --dev an instance may write
    only to the streams of its running attempts, so a line that comes after its attempt's end
    report is refused, and the order matters."""
    server_args = ("--idle-seconds", "2", "--kill-grace-seconds", "1",
                   "--agent-server-lost-seconds", "2")

    def test_a_server_back_in_time_gets_the_spooled_lines(self):
        # The agent gives up on its server after 2 s and spools the jobs' output to a file;
        # "short" ends meanwhile, "long" is still running when the server is back.  Each ends
        # once, and its log is whole and in order: a held end report never overtakes its
        # job's spooled lines.
        script = 'for i in $(seq 1 $N); do echo "line $i"; sleep 0.5; done'
        short = self.submit("spooled-short", command=script, env={"N": "10"})
        # "long" outlasts the absence by far: an agent that has given up on its server exits as
        # soon as nothing runs, and after a restart it may take its back-off (5 s) to call.
        long_ = self.submit("spooled-long", command=script, env={"N": "40"})
        self.wait_jobs([short, long_], "RUNNING", timeout=20)
        self.server.kill9()
        time.sleep(6.5)
        self.server.start()
        ds = self.wait_jobs([short, long_], timeout=60)
        for jid, n in ((short, 10), (long_, 40)):
            d = ds[jid]
            self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
            self.assertEqual(len(d["attempts"]), 1)
            self.assertEqual(log_messages(self, jid), ["line %d" % i for i in range(1, n + 1)])
        self.assertIn("are shipped now", self.server.read_log())


class AnotherServersAgent(unittest.TestCase):
    """An agent a server launched registers with that server alone: a server started later at the
    same address with another data directory (--dev too, which takes any join token) refuses it,
    and it stops, rather than serving the new server with the old one's work directory and image
    cache.  The new server's jobs run on an agent of its own."""

    def test_an_agent_left_by_another_server_is_refused_and_stops(self):
        first = Server(args=FAST + ("--idle-seconds", "120"))
        first.defaults = True
        second = None
        try:
            first.start()
            jid = submit_default(first, "first")
            old = wait_done(first, jid)["barge"]["instanceId"]
            agents = first.agent_pids()
            self.assertEqual(len(agents), 1, "one local agent, idle and kept for 120 s")
            # The server goes (its agent carries on, as by design) and another comes up at its
            # address with a data directory of its own.
            first.kill9()
            second = Server(args=FAST, port=first.port)
            second.defaults = True
            second.start()
            deadline = time.time() + 30
            while time.time() < deadline and any(pid_alive(p) for p in agents):
                time.sleep(0.1)
            self.assertFalse(any(pid_alive(p) for p in agents),
                             "the first server's agent still runs")
            # The agent writes to the log its server gave it, the first's.
            self.assertIn("it was launched by another barge server", first.read_log())
            status, _, body = second.raw("POST", "/barge/v1/listinstances", {})
            self.assertEqual(status, 200, body)
            self.assertNotIn(old, [i["instanceId"] for i in body["instances"]])
            jid = submit_default(second, "second")
            d = wait_done(second, jid)
            self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
            self.assertNotEqual(d["barge"]["instanceId"], old)
        finally:
            first.cleanup()
            if second:
                second.cleanup()


def submit_default(server, name):
    """A job of `true` on the default queue, with a definition registered for it."""
    status, _, body = server.raw("POST", "/v1/registerjobdefinition", {
        "jobDefinitionName": "true", "type": "container",
        "containerProperties": {"image": "busybox", "command": ["true"],
                                "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                         {"type": "MEMORY", "value": "64"}]}})
    assert status == 200, body
    status, _, body = server.raw("POST", "/v1/submitjob", {
        "jobName": name, "jobQueue": "default", "jobDefinition": "true"})
    assert status == 200, body
    return body["jobId"]


def wait_done(server, jid, timeout=60):
    """Waits until jid has ended; returns its description."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, _, body = server.raw("POST", "/v1/describejobs", {"jobs": [jid]})
        d = body["jobs"][0]
        if d["status"] in ("SUCCEEDED", "FAILED"):
            return d
        time.sleep(0.1)
    raise AssertionError("job %s did not end in %d s" % (jid, timeout))
