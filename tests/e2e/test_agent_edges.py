"""The agent (src/agent/) at its edges, against the real server and real agents: reasons that
must survive their own truncation, jobs that share the process executor's user, a command found
in a PATH the job's user cannot all reach, a log queue that is full while the server is away,
the pids limit when no pids cgroup can be made, a disk that is full, an agent started in a
terminal, an agent killed while its jobs run, and a job's children that would outlive it.

The tests marked expectedFailure are limits the process executor still has, each named where it
is marked (and in docs/credentials.md, "Limits", and docs/decisions.md)."""
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import termios
import threading
import time
import unittest
import uuid

from harness import BARGE, Server
from test_jobs_common import FAST, JobsCase, pid_alive

# A job that writes this much output fills the agent's log queue (16 MiB, agent_logs.c) many
# times over.
CHATTY = "head -c 40000000 /dev/zero | tr '\\0' x | fold -w 200; echo written > \"$OUT/%s\""


def log_messages(case, jid):
    stream = case.job(jid)["container"]["logStreamName"]
    out = case.server.client("logs").get_log_events(
        logGroupName="/aws/batch/job", logStreamName=stream, startFromHead=True)
    return [e["message"] for e in out["events"]]


class Reasons(JobsCase):
    # The reason of an attempt that cannot start is cut to fit the agent's 1024-byte buffer,
    # which may cut a character in half: the report must still be made (JSON takes no half
    # character) and the reason kept, not the attempt ended as an assignment never received.
    def test_a_long_command_name_that_cannot_start_keeps_its_reason(self):
        name = "\u00e9" * 600  # 1200 bytes: the reason is cut inside a character
        jid = self.submit("long-name", command=[name])
        d = self.wait_job(jid, timeout=40)
        self.assertEqual(d["status"], "FAILED")
        reason = d["attempts"][0]["container"].get("reason", "")
        self.assertTrue(reason.startswith('CannotStartContainerError: exec: "\u00e9\u00e9'),
                        reason)
        self.assertNotIn("never received", reason)


    # The agent's report is whole (451 bytes of name), but the server keeps 280 bytes of a
    # reason, which here cuts a three-byte character: the reason is kept up to it.
    def test_a_reason_the_server_shortens_is_still_given(self):
        jid = self.submit("euro-name", command=["a" + "\u20ac" * 150])
        d = self.wait_job(jid, timeout=40)
        self.assertEqual(d["status"], "FAILED")
        self.assertTrue(d["attempts"][0]["container"].get("reason", "").startswith(
            'CannotStartContainerError: exec: "a\u20ac'), d["attempts"][0])


@unittest.skipUnless(os.geteuid() == 0, "needs a root agent")
class SeparateJobUsers(JobsCase):
    """Each process-executor attempt of a root agent runs as a host uid of its own (--job-uids):
    no job reaches another's processes."""

    # One job reads another's environment (its secrets, and a role's
    # AWS_CONTAINER_AUTHORIZATION_TOKEN) from /proc/PID/environ, which the same uid may read.
    def test_a_job_cannot_read_another_jobs_environment(self):
        secret = "secret-" + uuid.uuid4().hex
        victim = self.submit("env-victim", command=self.gate("env-victim") + "true",
                             env={"MY_SECRET": secret, "OUT": self.out_dir})
        self.wait_job(victim, "RUNNING")
        thief = self.submit("env-thief", command=(
            'for f in /proc/[0-9]*/environ; do { tr "\\0" "\\n" < $f; } 2>/dev/null; done | '
            'grep "^MY_SECRET=" || true'))
        self.wait_job(thief)
        self.open_gate("env-victim")
        self.assertNotIn("MY_SECRET=" + secret, log_messages(self, thief))

    # One job signals another's processes: found by its environment, killed with SIGKILL.  (A
    # job's `kill -9 -1` would kill every other job of its uid on the host the same way: not
    # tried here, where other tests' jobs may share nobody.)
    def test_a_job_cannot_kill_another_jobs_processes(self):
        mark = uuid.uuid4().hex
        victim = self.submit("kill-victim", command=self.gate("kill-victim") + "true",
                             env={"MARK": mark, "OUT": self.out_dir})
        self.wait_job(victim, "RUNNING")
        bully = self.submit("kill-bully", env={"WANT": "MARK=" + mark, "OUT": self.out_dir},
                            command=(
            'for p in /proc/[0-9]*; do '
            'if { tr "\\0" "\\n" < $p/environ; } 2>/dev/null | grep -qx "$WANT"; then '
            'kill -KILL ${p#/proc/} 2>/dev/null; fi; done; true'))
        self.wait_job(bully)
        self.open_gate("kill-victim")
        d = self.wait_job(victim, timeout=30)
        self.assertEqual(d["status"], "SUCCEEDED", d["container"].get("reason"))


class SharedJobUser(SeparateJobUsers):
    """The limit of one user named for every attempt (--job-user nobody): 0700 on each attempt's
    directory keeps other users out, not other jobs.  (docs/credentials.md, "Limits".)"""
    server_args = FAST + ("--job-user", "nobody")

    @unittest.expectedFailure
    def test_a_job_cannot_read_another_jobs_environment(self):
        super().test_a_job_cannot_read_another_jobs_environment()

    @unittest.expectedFailure
    def test_a_job_cannot_kill_another_jobs_processes(self):
        super().test_a_job_cannot_kill_another_jobs_processes()


class CommandSearch(JobsCase):
    # A bare command is looked for in the job's PATH as the job's user would look: a match that
    # user may not run sends the search on, as execvp and the job's own shell do.  A root agent
    # hands its own PATH to jobs, which may start with root's directories (pyenv, conda, cargo
    # under /root): ["python3", ...] must start as nobody as ["sh", "-c", "python3 ..."] does.
    @unittest.skipUnless(os.geteuid() == 0, "needs a root agent (jobs run as nobody)")
    def test_a_command_is_found_as_the_jobs_user_would_find_it(self):
        top = tempfile.mkdtemp(prefix="barge-edges-path-")
        self.addCleanup(shutil.rmtree, top, True)
        os.chmod(top, 0o755)
        private, public = os.path.join(top, "private"), os.path.join(top, "public")
        for d, mode, word in ((private, 0o700, "private"), (public, 0o755, "public")):
            os.mkdir(d)
            os.chmod(d, mode)
            prog = os.path.join(d, "barge-edges-prog")
            with open(prog, "w") as f:
                f.write("#!/bin/sh\necho %s\n" % word)
            os.chmod(prog, 0o755)
        jid = self.submit("search", command=["barge-edges-prog"],
                          env={"PATH": "%s:%s:/usr/bin:/bin" % (private, public)})
        d = self.wait_job(jid)
        self.assertEqual(d["status"], "SUCCEEDED", d["container"].get("reason"))
        self.assertEqual(log_messages(self, jid), ["public"])


class FullLogQueueOrphaned(JobsCase):
    # Once the agent has given up on its server it writes the jobs' output to
    # WORK_DIR/undelivered, so that an attempt that writes much is never held up by a full
    # queue: the queue filled before the agent gave up must not keep the job blocked on its
    # stdout, nor the agent from exiting once its attempts end.
    server_args = FAST + ("--agent-server-lost-seconds", "2")

    def test_an_orphaned_agent_spools_a_chatty_job_and_exits(self):
        done = self.out("orphan-written")
        jid = self.submit("chatty-orphan", command=self.gate("chatty-orphan") +
                          CHATTY % "orphan-written")
        self.wait_job(jid, "RUNNING")
        agents = self.server.agent_pids()
        self.assertTrue(agents)
        self.server.kill9()
        try:
            self.open_gate("chatty-orphan")
            deadline = time.time() + 40
            while time.time() < deadline and any(pid_alive(p) for p in agents):
                time.sleep(0.2)
            self.assertTrue(os.path.exists(done), "the job is still blocked on its output")
            self.assertFalse(any(pid_alive(p) for p in agents),
                             "the agent did not exit once its attempt could have ended")
        finally:
            self.server.start()


class FullLogQueueStop(JobsCase):
    # SIGTERM stops the attempts, and an attempt ends once its output is drained: a log queue
    # over its cap (the server away) must not hold the drain, or the final flush, which ships
    # or keeps the lines, would never start and the agent never exit.
    server_args = FAST + ("--agent-server-lost-seconds", "0")

    def test_sigterm_stops_an_agent_whose_log_queue_is_full_while_its_server_is_away(self):
        jid = self.submit("chatty-stop", command=self.gate("chatty-stop") +
                          CHATTY % "stop-written")
        self.wait_job(jid, "RUNNING")
        agents = self.server.agent_pids()
        self.assertTrue(agents)
        self.server.kill9()
        try:
            self.open_gate("chatty-stop")
            time.sleep(5)  # the queue fills; the job blocks on its stdout
            for p in agents:
                os.kill(p, signal.SIGTERM)
            # The grace (1 s) and the final flush (10 s) with room to spare.
            deadline = time.time() + 30
            while time.time() < deadline and any(pid_alive(p) for p in agents):
                time.sleep(0.2)
            self.assertFalse(any(pid_alive(p) for p in agents),
                             "the agent still runs 30 s after SIGTERM")
        finally:
            self.server.start()


def _root_with(*tools):
    return os.geteuid() == 0 and all(shutil.which(t) for t in tools)


class ManualAgent(unittest.TestCase):
    """A server with an UNMANAGED compute environment "um" and queue "q", served by an agent
    this test starts itself."""

    def setUp(self):
        self.srv = Server(args=("--dev",))
        self.srv.start()
        self.addCleanup(self.srv.cleanup)
        self.b = self.srv.client()
        self.b.create_compute_environment(computeEnvironmentName="um", type="UNMANAGED")
        self.b.create_job_queue(jobQueueName="q", priority=1, computeEnvironmentOrder=[
            {"order": 1, "computeEnvironment": "um"}])
        self.b.register_job_definition(
            jobDefinitionName="jd", type="container", containerProperties={
                "image": "busybox", "command": ["true"], "resourceRequirements": [
                    {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]})
        self.agent = None

    def start_agent(self, *extra, prefix=(), **popen):
        if not popen:
            log = open(os.path.join(self.srv.data_dir, "agent.log"), "wb")
            self.addCleanup(log.close)
            popen = {"stdout": log, "stderr": subprocess.STDOUT}
        self.agent = subprocess.Popen(
            list(prefix) + [BARGE, "agent", "--server", self.srv.url, "--compute-environment",
                            "um", "--token", "t", "--vcpus", "2", "--memory", "1024",
                            "--executor", "process"] + list(extra), **popen)
        self.addCleanup(self.stop_agent)

    def stop_agent(self):
        if self.agent and self.agent.poll() is None:
            self.agent.terminate()
            try:
                self.agent.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.agent.kill()
                self.agent.wait()

    def run_job(self, script, wait=30, **submit):
        jid = self.b.submit_job(jobName="j", jobQueue="q", jobDefinition="jd",
                                containerOverrides={"command": ["sh", "-c", script]},
                                **submit)["jobId"]
        deadline = time.time() + wait
        while time.time() < deadline:
            d = self.b.describe_jobs(jobs=[jid])["jobs"][0]
            if d["status"] in ("SUCCEEDED", "FAILED"):
                return d
            time.sleep(0.1)
        self.fail("job %s did not end within %ss" % (jid, wait))


class SharedWorkDir(ManualAgent):
    # Two agents given one --work-dir took each other's attempt directories (each names them
    # slot-0, slot-1... and removes one it finds as a dead agent's): the second is refused.
    def test_a_second_agent_on_a_work_dir_is_refused(self):
        work = tempfile.mkdtemp(prefix="barge-edges-")
        self.addCleanup(shutil.rmtree, work, True)
        self.start_agent("--work-dir", work)
        self.assertEqual(self.run_job("echo x > f")["status"], "SUCCEEDED")
        p = subprocess.run([BARGE, "agent", "--server", self.srv.url, "--compute-environment",
                            "um", "--token", "t", "--vcpus", "1", "--memory", "512",
                            "--executor", "process", "--work-dir", work],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--work-dir %s is in use by another agent on this host" % work, p.stderr)
        # The first goes on, and once it has stopped the directory is free.
        self.assertEqual(self.run_job("echo y > f")["status"], "SUCCEEDED")
        self.stop_agent()
        self.start_agent("--work-dir", work)
        self.assertEqual(self.run_job("echo z > f")["status"], "SUCCEEDED")


class RemovedWorkDir(ManualAgent):
    # A work directory removed under a live agent (a cleaner of old files in /tmp): every
    # attempt from then on failed, "cannot create the working directory ...: No such file or
    # directory", and the agent went on taking work.  It is made again.
    def test_a_work_dir_removed_under_the_agent_is_made_again(self):
        parent = tempfile.mkdtemp(prefix="barge-edges-")
        self.addCleanup(shutil.rmtree, parent, True)
        os.chmod(parent, 0o711)
        work = os.path.join(parent, "agent")
        self.start_agent("--work-dir", work)
        self.assertEqual(self.run_job("echo x > f")["status"], "SUCCEEDED")
        shutil.rmtree(work)
        for n in range(3):  # the idle directory kept for reuse went too
            d = self.run_job("echo y > f; pwd")
            self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        with open(os.path.join(self.srv.data_dir, "agent.log")) as f:
            self.assertIn("the work directory %s was removed while the agent ran; it is made "
                          "again" % work, f.read())


NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]


@unittest.skipUnless(_root_with("setpriv", "sleep"), "needs root and setpriv")
class PidsLimitWithoutACgroup(ManualAgent):
    # Where the agent cannot make a pids cgroup (an unprivileged agent; any host without a
    # cgroup v1 pids hierarchy, since the v2 pids controller is not used yet), --max-pids
    # becomes RLIMIT_NPROC, which counts every process and thread of a uid: the agent's user's
    # other processes (a desktop session, the other jobs, the agent itself) would use up the
    # attempt's limit and its first fork fail.  The attempt's processes are counted in a user
    # namespace of their own.
    def test_other_processes_of_the_user_do_not_count_against_an_attempt(self):
        work = tempfile.mkdtemp(prefix="barge-edges-")
        self.addCleanup(shutil.rmtree, work, True)
        os.chown(work, 65534, 65534)
        self.start_agent("--work-dir", os.path.join(work, "agent"), "--max-pids", "40",
                         prefix=NOBODY)
        self.assertEqual(self.run_job("ls / | wc -l")["status"], "SUCCEEDED")
        others = [subprocess.Popen(NOBODY + ["sleep", "120"]) for _ in range(45)]
        try:
            d = self.run_job("ls / | wc -l")
        finally:
            for p in others:
                p.kill()
                p.wait()
        self.assertEqual(d["status"], "SUCCEEDED", "a job of two processes could not fork")
        # The limit still holds the attempt's own processes.
        d = self.run_job("for i in $(seq 60); do sleep 5 & done; wait")
        self.assertEqual(d["status"], "FAILED", "60 processes started under --max-pids 40")


@unittest.skipUnless(_root_with("mount", "umount"), "needs root to mount a tmpfs")
class FullDisk(ManualAgent):
    # A working directory that cannot be made for a full disk is said to be so (mkdir's own
    # error), not "No such file or directory".
    def test_a_full_disk_is_named_when_a_working_directory_cannot_be_made(self):
        mnt = tempfile.mkdtemp(prefix="barge-edges-fs-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,nr_inodes=64", "tmpfs", mnt],
                       check=True)
        self.addCleanup(os.rmdir, mnt)
        self.addCleanup(subprocess.run, ["umount", "-l", mnt])
        self.start_agent("--work-dir", os.path.join(mnt, "wd"))
        # A directory left with a file in it is removed, not kept for the next attempt, which
        # then needs a new one.
        self.assertEqual(self.run_job("echo x > f")["status"], "SUCCEEDED")
        n = 0
        try:
            while True:  # every inode taken, as by another user of the disk
                open(os.path.join(mnt, "fill-%d" % n), "w").close()
                n += 1
        except OSError:
            pass
        d = self.run_job("echo hi > out")
        self.assertEqual(d["status"], "FAILED")
        self.assertIn("No space left on device", d["container"].get("reason", ""))


class AgentOnATerminal(ManualAgent):
    # An operator may start `barge agent` in a terminal.  Each job has a session of its own, so
    # the agent's terminal is not the job's: a job that opens /dev/tty (ssh asking about a host
    # key, sudo or gpg asking for a password) fails at once, as in a container without a
    # terminal, as on AWS Batch, rather than being stopped by SIGTTIN until its timeout.
    def test_a_job_that_opens_dev_tty_is_not_stopped_by_the_agents_terminal(self):
        master, slave = os.openpty()
        self.addCleanup(os.close, master)

        def controlling_terminal():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        self.start_agent(stdin=slave, stdout=slave, stderr=slave,
                         preexec_fn=controlling_terminal)
        os.close(slave)

        def drain():  # the agent's log goes to the terminal, which must not fill up
            while True:
                try:
                    if not os.read(master, 65536):
                        return
                except OSError:
                    return
        threading.Thread(target=drain, daemon=True).start()
        # A job stopped by SIGTTIN runs into its timeout and fails: SUCCEEDED is the proof,
        # with no clock read that a loaded machine could push past a bound.
        d = self.run_job("head -c 1 < /dev/tty; echo $?", wait=60,
                         timeout={"attemptDurationSeconds": 10})
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))


def marked(mark):
    """The live processes whose command line holds mark."""
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                if mark.encode() in f.read() and pid_alive(int(p)):
                    found.append(int(p))
        except OSError:
            pass
    return found


class KilledAgent(ManualAgent):
    # An agent killed with SIGKILL takes with it everything its attempts started (its warden,
    # agent/warden.h, sweeps its cgroups), not only their first processes, and at once: no
    # other agent starts on the host here to sweep for it, and the retry elsewhere must not
    # run beside what is left.
    def test_what_an_attempt_started_dies_with_its_killed_agent(self):
        self.start_agent()
        mark = uuid.uuid4().hex
        # sh -c's $0 carries the mark; "; :" keeps each sh from exec'ing its sleep.
        jid = self.b.submit_job(jobName="j", jobQueue="q", jobDefinition="jd",
                                containerOverrides={"command": ["sh", "-c", (
                                    "nohup sh -c 'sleep 300; :' %s-a >/dev/null 2>&1 & "
                                    "setsid sh -c 'sleep 300; :' %s-b >/dev/null 2>&1 & "
                                    "exec sleep 300" % (mark, mark))]})["jobId"]
        deadline = time.time() + 30
        while len(marked(mark)) < 2 and time.time() < deadline:
            time.sleep(0.1)
        self.addCleanup(lambda: [os.kill(p, signal.SIGKILL) for p in marked(mark)])
        def log():
            with open(os.path.join(self.srv.data_dir, "agent.log"), errors="replace") as f:
                return f.read()
        if "memory limits are not enforced" in log():
            self.skipTest("the agent has no cgroups here: " + log())
        self.assertEqual(len(marked(mark)), 2, "the job's two background shells to start")
        self.assertEqual(self.b.describe_jobs(jobs=[jid])["jobs"][0]["status"], "RUNNING")
        self.agent.kill()
        self.agent.wait()
        deadline = time.time() + 10
        while marked(mark) and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(marked(mark), [], "what the attempt started outlived its agent")
        deadline = time.time() + 10
        while "killed the" not in log() and time.time() < deadline:
            time.sleep(0.1)
        self.assertIn("ended while its attempts ran: killed the", log())
        # The warden went with its work done.
        deadline = time.time() + 10
        while marked("barge-warden\0%d\0" % self.agent.pid) and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(marked("barge-warden\0%d\0" % self.agent.pid), [])


class WardenKilled(ManualAgent):
    # A warden killed while its agent runs is said to and replaced (it was reaped silently,
    # and the agent ran on without one).
    def test_a_killed_warden_is_replaced(self):
        self.start_agent()
        mark = "barge-warden\0%d\0" % self.agent.pid
        deadline = time.time() + 20
        while not marked(mark):
            self.assertLess(time.time(), deadline, "the agent's warden to start")
            time.sleep(0.1)
        [first] = marked(mark)
        os.kill(first, signal.SIGKILL)
        deadline = time.time() + 10
        while not [p for p in marked(mark) if p != first]:
            self.assertLess(time.time(), deadline, "another warden to start")
            time.sleep(0.1)
        with open(os.path.join(self.srv.data_dir, "agent.log"), errors="replace") as f:
            self.assertIn("the warden of this agent (pid %d) has ended; starting another" % first,
                          f.read())


class StoppingAgent(ManualAgent):
    # An agent stopped with SIGTERM reports its attempts stopped; the capacity those reports
    # freed was given, in the same exchange, to the next job, which the stopping agent ignored:
    # the job sat STARTING until the instance was lost (30 s) and then failed, its attempt
    # counted.  A stopping agent says so, and nothing more is placed there.
    def submit(self, name, script):
        return self.b.submit_job(jobName=name, jobQueue="q", jobDefinition="jd",
                                 containerOverrides={"command": ["sh", "-c", script]})["jobId"]

    def describe(self, jid):
        return self.b.describe_jobs(jobs=[jid])["jobs"][0]

    def instances(self):
        status, _, body = self.srv.raw("POST", "/barge/v1/listinstances",
                                       {"computeEnvironment": "um"},
                                       {"Content-Type": "application/json"})
        self.assertEqual(status, 200, body)
        return body["instances"]

    def test_an_idle_agent_that_stops_says_so(self):
        # With no report to send, it sent nothing: its instance stayed READY and took jobs
        # until it was lost (30 s), and their attempts counted.
        self.start_agent("--vcpus", "1")
        deadline = time.time() + 20
        while not self.instances():
            self.assertLess(time.time(), deadline, "the agent to register")
            time.sleep(0.05)
        self.agent.terminate()
        self.agent.wait(timeout=30)
        [me] = self.instances()
        self.assertEqual((me["state"], me.get("drainReason")),
                         ("DRAINING", "its agent is stopping"), me)

    def test_nothing_is_placed_on_a_stopping_agent(self):
        self.start_agent("--vcpus", "1")
        first = self.submit("first", "sleep 60")
        deadline = time.time() + 30
        while self.describe(first)["status"] != "RUNNING":
            self.assertLess(time.time(), deadline, "the first job to start")
            time.sleep(0.1)
        second = self.submit("second", "true")
        time.sleep(0.5)
        self.assertEqual(self.describe(second)["status"], "RUNNABLE")
        self.agent.terminate()
        self.agent.wait(timeout=30)
        deadline = time.time() + 10
        while self.describe(first)["status"] != "FAILED":
            self.assertLess(time.time(), deadline, "the stopped attempt to be reported")
            time.sleep(0.1)
        time.sleep(1)
        d = self.describe(second)
        self.assertEqual((d["status"], d.get("attempts")), ("RUNNABLE", []), d)
        # Another agent runs it, on its first attempt.
        self.start_agent("--vcpus", "1")
        deadline = time.time() + 30
        while self.describe(second)["status"] not in ("SUCCEEDED", "FAILED"):
            self.assertLess(time.time(), deadline, "the second job to run")
            time.sleep(0.1)
        d = self.describe(second)
        self.assertEqual((d["status"], len(d["attempts"])), ("SUCCEEDED", 1), d)


class WaitingForMemory(ManualAgent):
    # A job that waits because no instance has the memory left said only how many vCPUs were
    # in use ("1 of 2 vCPUs in use"), as if vCPUs were short.
    def test_the_reason_says_the_room_left_in_vcpus_and_memory(self):
        self.start_agent()

        def submit(name, mib, script):
            return self.b.submit_job(
                jobName=name, jobQueue="q", jobDefinition="jd", containerOverrides={
                    "command": ["sh", "-c", script], "resourceRequirements": [
                        {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": str(mib)}]}
            )["jobId"]
        big = submit("big", 900, "sleep 60")
        self.addCleanup(self.b.terminate_job, jobId=big, reason="test over")
        deadline = time.time() + 30
        while self.b.describe_jobs(jobs=[big])["jobs"][0]["status"] != "RUNNING":
            self.assertLess(time.time(), deadline, "the big job to start")
            time.sleep(0.1)
        small = submit("small", 512, "true")
        self.addCleanup(self.b.cancel_job, jobId=small, reason="test over")
        deadline = time.time() + 10
        while not self.b.describe_jobs(jobs=[small])["jobs"][0].get("statusReason"):
            self.assertLess(time.time(), deadline, "a reason")
            time.sleep(0.1)
        reason = self.b.describe_jobs(jobs=[small])["jobs"][0]["statusReason"]
        self.assertIn("the most free on one instance 1 vCPUs and 124 MiB (the job needs 1 and "
                      "512)", reason)


class Descendants(JobsCase):
    """What a job leaves behind goes with it, as with a container: its background children
    (in its process group or a session of their own) are killed when it ends, and the agent,
    their subreaper, leaves no zombie."""

    def test_children_that_would_outlive_the_job_are_killed_and_reaped(self):
        mark = uuid.uuid4().hex
        # sh -c's $0 carries the mark into each child's command line.
        jid = self.submit("leaves-children", command=(
            "nohup sh -c 'sleep 300' %s-a >/dev/null 2>&1 & "
            "setsid sh -c 'sleep 300' %s-b >/dev/null 2>&1 & sleep 0.2; exit 0" % (mark, mark)))
        self.assertEqual(self.wait_job(jid)["status"], "SUCCEEDED")

        deadline = time.time() + 10
        while marked(mark) and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(marked(mark), [])

        def zombies(parent):
            out = []
            for p in os.listdir("/proc"):
                if not p.isdigit():
                    continue
                try:
                    with open("/proc/%s/stat" % p) as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if fields[0] == "Z" and int(fields[1]) == parent:
                    out.append(int(p))
            return out
        for agent in self.agent_pids("ce"):
            deadline = time.time() + 5
            while zombies(agent) and time.time() < deadline:
                time.sleep(0.1)
            self.assertEqual(zombies(agent), [])


if __name__ == "__main__":
    unittest.main()
