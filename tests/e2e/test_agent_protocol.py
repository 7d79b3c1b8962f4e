"""`barge agent` against a fake server that speaks docs/agent-protocol.md.

The fake server (http.server on a free loopback port) records every request in arrival order
and answers as the protocol says: it registers the agent and hands it a credential, refuses with
401 a request without a valid one, parks waiting exchanges until it has work, answers 404
UnknownInstanceException once told to forget the instance, can hand the agent its next credential
(a rotation), refuse a registration (409 InstanceInUseException, or 500) a few times, and can ask
for a shutdown.  The agent is the real binary; its jobs really run.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import BARGE, free_port

POLL_SECONDS = 2


class FakeServer:
    def __init__(self, port=None):
        self.port = port or free_port()
        self.cond = threading.Condition()
        self.registers = []      # (body, headers)
        self.requests = []       # (kind, body) in arrival order: "register", "exchange", "logs"
        self.assign, self.kill = [], []
        self.shutdown = False
        self.refuse_reports = False  # answer 500 to exchanges that carry reports
        self.refuse_logs = False     # answer 500 to log uploads (a log store that cannot write)
        self.instance = None     # the id the server knows, None when forgotten
        self.count = 0
        self.valid = set()       # the credentials accepted now
        self.credential = None   # the newest one handed out
        self.next_credential = None  # handed out with the next exchange answer (a rotation)
        self.refuse_registers = []   # statuses for the next registrations (409, 500)
        self.pad_registers = []      # blanks before the JSON of the next registrations' answers
        self.refused = []        # (path, headers) of the requests refused for their credential
        self.seen = []           # (path, headers) of the exchanges and uploads accepted
        self.standby = False     # answer everything as a standby server does (503)
        self.says_standby = True  # with X-Barge-Role: standby (a leader cut off from the
                                  # database answers 503 without it)
        self.standby_answers = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n) or b"{}")
                with fake.cond:
                    standby = fake.standby
                    if standby:
                        fake.standby_answers += 1
                        fake.cond.notify_all()
                if standby:
                    status, answer = 503, {"__type": "ServerException",
                                           "message": "this barge server is a standby; retry"}
                else:
                    status, answer = fake.handle(self.path, body, dict(self.headers))
                data = json.dumps(answer).encode()
                with fake.cond:
                    pad = (fake.pad_registers.pop(0) if fake.pad_registers
                           and self.path == "/barge/v1/agent/register" else 0)
                try:
                    self.send_response(status)
                    if standby and fake.says_standby:
                        self.send_header("X-Barge-Role", "standby")
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(pad + len(data)))
                    self.end_headers()
                    blanks = b" " * (1 << 20)
                    for at in range(0, pad, len(blanks)):
                        self.wfile.write(blanks[:min(len(blanks), pad - at)])
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the agent abandoned a long poll (it is stopping)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def close(self):
        with self.cond:
            self.instance = None
            self.cond.notify_all()
        self.httpd.shutdown()
        self.httpd.server_close()

    # The protocol -----------------------------------------------------------------------------

    def unknown(self):
        return 404, {"__type": "UnknownInstanceException",
                     "message": "instanceId: not registered with this server; register again"}

    def handle(self, path, body, headers):
        with self.cond:
            if path == "/barge/v1/agent/register":
                self.count += 1
                self.registers.append((body, headers))
                self.requests.append(("register", body))
                self.cond.notify_all()
                if self.refuse_registers:
                    status = self.refuse_registers.pop(0)
                    return status, {"__type": "InstanceInUseException" if status == 409
                                    else "ServerException", "message": "refused by the test"}
                self.instance = body.get("instanceId") or "i-fake%d" % self.count
                self.credential = "%s:secret-%d" % (self.instance, self.count)
                self.valid = {self.credential}
                return 200, {"instanceId": self.instance, "credential": self.credential,
                             "pollSeconds": POLL_SECONDS, "heartbeatSeconds": 1,
                             "lostAfterSeconds": 30}
            if body.get("instanceId") != self.instance or self.instance is None:
                return self.unknown()
            bearer = (headers.get("Authorization") or "")[len("Bearer "):]
            if bearer not in self.valid:
                self.refused.append((path, headers))
                self.cond.notify_all()
                return 401, {"__type": "InvalidInstanceCredentialException",
                             "message": "the credential presented is not valid"}
            self.seen.append((path, headers))
            if path == "/barge/v1/agent/logs":
                if self.refuse_logs:
                    self.requests.append(("logs-refused", body))
                    self.cond.notify_all()
                    return 500, {"__type": "ServerException",
                                 "message": "the server could not store these log events"}
                self.requests.append(("logs", body))
                self.cond.notify_all()
                return 200, {}
            if path != "/barge/v1/agent/exchange":
                return 404, {"__type": "NotFound", "message": path}
            if self.refuse_reports and body.get("reports"):
                self.requests.append(("refused", body))
                self.cond.notify_all()
                return 500, {"__type": "ServerException", "message": "refused by the test"}
            self.requests.append(("exchange", body))
            self.cond.notify_all()
            me = (self.instance, self.count)  # a registration, even of the same id
            if body.get("wait"):
                deadline = time.time() + POLL_SECONDS
                while (not (self.assign or self.kill or self.shutdown)
                       and (self.instance, self.count) == me and time.time() < deadline):
                    self.cond.wait(deadline - time.time())
                if (self.instance, self.count) != me:
                    return self.unknown()
            answer = {"assign": self.assign, "kill": self.kill, "shutdown": self.shutdown}
            self.assign, self.kill = [], []
            if self.next_credential:
                answer["credential"] = self.credential = self.next_credential
                self.valid.add(self.next_credential)
                self.next_credential = None
            return 200, answer

    # Driving it ----------------------------------------------------------------------------

    def give(self, job_id, command, attempt=1, **extra):
        a = {"jobId": job_id, "attempt": attempt, "command": command,
             "environment": {"AWS_BATCH_JOB_ID": job_id}, "vcpus": 1, "memoryMiB": 0,
             "gpus": 0, "timeoutSeconds": 0, "killGraceSeconds": 5,
             "logStreamName": "def/default/" + job_id.replace(":", "-")}
        a.update(extra)
        with self.cond:
            self.assign.append(a)
            self.cond.notify_all()
        return a

    def order_kill(self, job_id, attempt=1, reason="Terminated by user"):
        with self.cond:
            self.kill.append({"jobId": job_id, "attempt": attempt, "reason": reason})
            self.cond.notify_all()

    def ask_shutdown(self):
        with self.cond:
            self.shutdown = True
            self.cond.notify_all()

    def rotate(self, credential):
        """The next exchange answer hands out credential; the one in use stays valid."""
        with self.cond:
            self.next_credential = credential

    def revoke(self):
        """Every credential handed out stops being accepted."""
        with self.cond:
            self.valid = set()
            self.cond.notify_all()

    def authorizations(self, since=0):
        """The Authorization headers of the exchanges and uploads accepted, from since on."""
        return [h.get("Authorization") for _, h in self.seen[since:]]

    def forget(self):
        """Acts like a restarted server: the instance is unknown from now on."""
        with self.cond:
            self.instance = None
            self.cond.notify_all()

    def wait_for(self, predicate, timeout=10, what="a condition"):
        deadline = time.time() + timeout
        with self.cond:
            while True:
                got = predicate()
                if got:
                    return got
                if time.time() >= deadline:
                    raise AssertionError("waited %ss for %s; requests: %s" % (
                        timeout, what, json.dumps(self.requests)[-3000:]))
                self.cond.wait(min(0.2, max(0.01, deadline - time.time())))

    def reports(self):
        """Every report received, with the index of the request that carried it."""
        out = []
        for i, (kind, body) in enumerate(self.requests):
            if kind == "exchange":
                out += [(i, r) for r in body.get("reports", [])]
        return out

    def report(self, job_id, event, timeout=10):
        def find():
            for i, r in self.reports():
                if r["jobId"] == job_id and r["event"] == event:
                    return i, r
            return None
        return self.wait_for(find, timeout, "a %s report for %s" % (event, job_id))

    def holdings(self, kind="exchange", wait=None, since=0):
        """The "holding" lists of the requests of kind from index since on, as lists of
        (jobId, attempt), optionally only those of waiting (or not waiting) exchanges."""
        return [[(h["jobId"], h["attempt"]) for h in b.get("holding", [])]
                for k, b in self.requests[since:]
                if k == kind and (wait is None or bool(b.get("wait")) == wait)]

    def log_lines(self, stream):
        """(request index, message) for every event of stream, in arrival order."""
        out = []
        for i, (kind, body) in enumerate(self.requests):
            if kind == "logs":
                for s in body["streams"]:
                    if s["logStreamName"] == stream:
                        out += [(i, e["message"]) for e in s["events"]]
        return out


class Agent:
    def __init__(self, server_url, *extra, work_dir=None, token="tok-123"):
        self.tmp = tempfile.mkdtemp(prefix="barge-agent-test-")
        # Jobs run as nobody, who must pass through to the work directory.
        os.chmod(self.tmp, 0o711)
        self.work_dir = work_dir or os.path.join(self.tmp, "work")
        self.log_path = os.path.join(self.tmp, "agent.log")
        self.args = [BARGE, "agent", "--server", server_url, "--compute-environment", "ce1",
                     "--work-dir", self.work_dir] + (["--token", token] if token else [])
        self.args += list(extra)
        if "--executor" not in extra:
            self.args += ["--executor", "process"]
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT)

    def read_log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_exit(self, timeout=15):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("the agent did not exit within %ss:\n%s"
                                 % (timeout, self.read_log()))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        log = self.read_log()
        shutil.rmtree(self.tmp, ignore_errors=True)
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if marker in log:
                raise AssertionError("sanitizer report in the agent's output:\n" + log[-6000:])
        return log


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return False


def wait_gone(pid, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not alive(pid):
            return
        time.sleep(0.02)
    raise AssertionError("process %d still runs" % pid)


class AgentTestCase(unittest.TestCase):
    agent_args = ("--vcpus", "2", "--memory", "2048")

    def setUp(self):
        # Cleanups, unlike tearDown, also run when setUp fails: no agent outlives its test.
        self.fake = FakeServer()
        self.addCleanup(self.fake.close)
        self.agent = Agent(self.fake.url, *self.agent_args)
        self.addCleanup(self.agent.stop)
        self.fake.wait_for(lambda: self.fake.registers, what="the agent to register")


class Options(unittest.TestCase):
    def run_agent(self, *args):
        return subprocess.run([BARGE, "agent"] + list(args), capture_output=True, text=True,
                              timeout=10)

    def test_help_lists_every_option(self):
        out = self.run_agent("--help")
        self.assertEqual(out.returncode, 0)
        for opt in ("--server", "--compute-environment", "--instance-id", "--instance-type",
                    "--vcpus", "--memory", "--gpus", "--token", "--work-dir",
                    "--exit-with-parent", "--log-level"):
            self.assertIn(opt, out.stdout)
        self.assertIn("agent", subprocess.run([BARGE, "help"], capture_output=True,
                                              text=True).stdout)

    def test_bad_options_name_the_option(self):
        base = ["--server", "http://127.0.0.1:1", "--compute-environment", "ce"]
        for args, fragment in ((["--compute-environment", "ce"], "--server is required"),
                               (["--server", "http://127.0.0.1:1"], "--compute-environment"),
                               (["--server", "ftp://x", "--compute-environment", "ce"], "--server"),
                               (base + ["--vcpus", "0"], "--vcpus"),
                               (base + ["--memory", "lots"], "--memory"),
                               (base + ["--gpus", "-1"], "--gpus"),
                               (base + ["--instance-type", "m9.huge"], "--instance-type"),
                               # It started, and every registration was refused.
                               (base + ["--instance-id", "a/b"], "--instance-id must be 1 to "
                                                                  "128 letters, digits"),
                               (base + ["--instance-id", "x" * 129], "--instance-id must be"),
                               (base + ["--log-level", "loud"], "--log-level"),
                               (base + ["stray"], "barge agent: unexpected argument 'stray' "
                                                  "(every option starts with --); see `barge "
                                                  "agent --help`"),
                               (base + ["--bogus"], "barge agent: unknown option '--bogus'; see "
                                                    "`barge agent --help`"),
                               (base + ["--vcpus"], "barge agent: --vcpus needs a value"),
                               (base + ["--exit-with-parent=1"],
                                "--exit-with-parent takes no value (got '--exit-with-parent=1')"),
                               (base + ["--ins"], "'--ins' is ambiguous: it matches "
                                                  "--instance-id, --instance-type, --insecure-registry")):
            out = self.run_agent(*args)
            self.assertEqual(out.returncode, 2, (args, out.stderr))
            self.assertIn(fragment, out.stderr, args)
            # One sentence, not the whole usage after it.
            self.assertLessEqual(len(out.stderr.splitlines()), 2, (args, out.stderr))


class Registration(AgentTestCase):
    def test_register_body_and_token(self):
        body, headers = self.fake.registers[0]
        self.assertEqual(headers.get("Authorization"), "Bearer tok-123")
        self.assertEqual(body["computeEnvironment"], "ce1")
        self.assertEqual((body["vcpus"], body["memoryMiB"], body["gpus"]), (2, 2048, 0))
        self.assertEqual(body["executor"], "process")
        self.assertIn(body["cgroups"], ("v1", "v2", "none"))
        self.assertTrue(body["cgroupsNote"])
        self.assertTrue(body["hostname"])
        self.assertNotIn("instanceId", body)
        self.assertNotIn("instanceType", body)
        # Every exchange names the instance the server gave; one waits, heartbeats do not.
        self.fake.wait_for(lambda: any(k == "exchange" and not b["wait"]
                                       for k, b in self.fake.requests), 5, "a heartbeat")
        exchanges = [b for k, b in self.fake.requests if k == "exchange"]
        self.assertTrue(any(b["wait"] for b in exchanges))
        self.assertTrue(all(b["instanceId"] == "i-fake1" for b in exchanges))
        # Each request says when it left, by the agent's clock (the server's own may differ).
        for b in exchanges + [body]:
            self.assertLess(abs(b["sentAt"] - time.time() * 1000), 60000)
        # Only the registration carries the join token; the rest carry the credential it gave.
        self.assertRegex(body["clientToken"], "^[0-9a-f]{64}$")
        self.assertEqual(set(self.fake.authorizations()), {"Bearer i-fake1:secret-1"})
        self.assertEqual(self.fake.refused, [])

    def test_rotated_credential_is_used_from_then_on(self):
        self.fake.wait_for(lambda: len(self.fake.seen) >= 2, 5, "exchanges")
        self.fake.rotate("i-fake1:secret-next")
        self.fake.wait_for(lambda: "Bearer i-fake1:secret-next" in self.fake.authorizations(),
                           10, "a request with the next credential")
        self.fake.give("rot-1", ["sh", "-c", "echo rotated"])
        _, r = self.fake.report("rot-1", "EXITED")
        self.assertEqual(r["exitCode"], 0)
        self.assertEqual([l for _, l in self.fake.log_lines("def/default/rot-1")], ["rotated"])
        # Every request made since carries the next credential.
        n = len(self.fake.seen)
        self.fake.wait_for(lambda: len(self.fake.seen) >= n + 3, 10, "more exchanges")
        self.assertEqual(set(self.fake.authorizations(n)), {"Bearer i-fake1:secret-next"})
        # The grace period is over: the first one stops, which the agent does not notice.
        with self.fake.cond:
            self.fake.valid = {"i-fake1:secret-next"}
        n = len(self.fake.seen)
        self.fake.wait_for(lambda: len(self.fake.seen) >= n + 2, 10, "more exchanges")
        self.assertEqual(self.fake.refused, [])
        self.assertEqual(len(self.fake.registers), 1)

    def test_job_user_with_containers_says_it_does_nothing(self):
        # Containers run as their image's or definition's user: a --job-user given with them
        # would be dropped silently; the agent says so at start and goes on.
        fake = FakeServer()
        a = Agent(fake.url, "--executor", "container", "--job-user", "nobody")
        try:
            fake.wait_for(lambda: fake.registers, 30, "the agent to register")
            self.assertIn("--job-user nobody does nothing with the container executor",
                          a.read_log())
            self.assertIsNone(a.proc.poll())
        finally:
            a.stop()
            fake.close()
        fake = FakeServer()
        a = Agent(fake.url, "--job-user", "nobody")
        try:
            fake.wait_for(lambda: fake.registers, 30, "the agent to register")
            self.assertNotIn("does nothing", a.read_log())
        finally:
            a.stop()
            fake.close()

    def test_registration_retried_with_the_same_client_token(self):
        fake = FakeServer()
        fake.refuse_registers = [500, 409, 409]
        a = Agent(fake.url, "--instance-id", "i-retried")
        try:
            fake.wait_for(lambda: fake.credential, 30, "the agent to register at last")
            tokens = [b["clientToken"] for b, _ in fake.registers]
            self.assertEqual(len(tokens), 4)
            self.assertEqual(len(set(tokens)), 1, tokens)
            self.assertIsNone(a.proc.poll())
        finally:
            a.stop()
            fake.close()

    def test_an_answer_too_long_is_refused(self):
        # 300 MiB of blanks before a good answer: past the most the agent takes (256 MiB), so
        # it fails the request rather than fill its host's memory, and registers again.
        fake = FakeServer()
        fake.pad_registers = [300 << 20]
        a = Agent(fake.url)
        try:
            fake.wait_for(lambda: len(fake.registers) >= 2, 60, "a second registration")
            fake.wait_for(lambda: fake.seen, 15, "an exchange after it")
            self.assertIn("the answer is longer than 268435456 bytes", a.read_log())
            self.assertIsNone(a.proc.poll())
        finally:
            a.stop()
            fake.close()

    def test_sizes_from_instance_type_and_machine(self):
        fake = FakeServer()
        a = Agent(fake.url, "--instance-type", "m5.large", "--instance-id", "i-given")
        b = Agent(fake.url, "--gpus", "1")
        try:
            fake.wait_for(lambda: len(fake.registers) == 2, what="two agents to register")
            bodies = {r[0].get("instanceId", "none"): r[0] for r in fake.registers}
            typed = bodies["i-given"]
            self.assertEqual((typed["instanceType"], typed["vcpus"], typed["memoryMiB"]),
                             ("m5.large", 2, 8192))
            machine = bodies["none"]
            self.assertEqual(machine["vcpus"], len(os.sched_getaffinity(0)))
            total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // (1 << 20)
            self.assertTrue(0 < machine["memoryMiB"] <= total, machine)
            self.assertEqual(machine["gpus"], 1)
        finally:
            a.stop()
            b.stop()
            fake.close()


class Jobs(AgentTestCase):
    def test_job_runs_reports_and_ships_logs_first(self):
        self.fake.give("job-1", ["sh", "-c", "echo hello; echo oops >&2; exit 3"])
        i_run, running = self.fake.report("job-1", "RUNNING")
        i_exit, exited = self.fake.report("job-1", "EXITED")
        self.assertGreater(running["pid"], 0)
        self.assertEqual(running["attempt"], 1)
        self.assertLessEqual(i_run, i_exit)
        self.assertEqual(exited["exitCode"], 3)
        self.assertEqual(exited["signal"], 0)
        self.assertFalse(exited["oom"] or exited["timedOut"] or exited["killed"])
        self.assertGreaterEqual(exited["at"], running["at"])
        lines = self.fake.log_lines("def/default/job-1")
        self.assertEqual(sorted(m for _, m in lines), ["hello", "oops"])
        # The logs arrived before the report that the attempt ended.
        self.assertTrue(all(i < i_exit for i, _ in lines), (lines, i_exit))
        # Each event carries the time it was read.
        for kind, body in self.fake.requests:
            if kind == "logs":
                for s in body["streams"]:
                    for e in s["events"]:
                        self.assertLess(abs(e["timestamp"] / 1000 - time.time()), 60)

    def test_environment_is_exactly_the_assignment(self):
        self.fake.give("env-1", ["env"], environment={"AWS_BATCH_JOB_ID": "env-1", "X": "a b"})
        self.fake.report("env-1", "EXITED")
        env = sorted(m for _, m in self.fake.log_lines("def/default/env-1"))
        names = [e.split("=", 1)[0] for e in env]
        # PATH and HOME come from the agent, as the assignment lacks them, and the task
        # metadata endpoint, which every attempt has.
        self.assertEqual(names, ["AWS_BATCH_JOB_ID", "ECS_CONTAINER_METADATA_URI",
                                 "ECS_CONTAINER_METADATA_URI_V4", "HOME", "PATH", "X"])
        self.assertIn("X=a b", env)
        self.fake.give("env-2", ["env"], environment={"PATH": "/bin:/usr/bin", "HOME": "/h"})
        self.fake.report("env-2", "EXITED")
        env = sorted(m for _, m in self.fake.log_lines("def/default/env-2"))
        self.assertEqual([e for e in env if not e.startswith("ECS_CONTAINER_METADATA_URI")],
                         ["HOME=/h", "PATH=/bin:/usr/bin"])

    def test_command_that_cannot_start(self):
        self.fake.give("bad-1", ["/no/such/program"])
        self.fake.give("bad-2", ["no-such-program-anywhere"])
        _, r = self.fake.report("bad-1", "FAILED_TO_START")
        self.assertEqual(r["reason"], "CannotStartContainerError: exec /no/such/program: "
                                      "No such file or directory")
        _, r = self.fake.report("bad-2", "FAILED_TO_START")
        self.assertIn("executable file not found in $PATH", r["reason"])
        self.assertFalse([x for _, x in self.fake.reports() if x["event"] == "RUNNING"])

    def test_kill_order(self):
        self.fake.give("kill-1", ["sh", "-c", "sleep 60 & sleep 60; wait"])
        _, running = self.fake.report("kill-1", "RUNNING")
        self.fake.order_kill("kill-1", reason="Terminated by user")
        _, r = self.fake.report("kill-1", "EXITED", timeout=8)
        self.assertTrue(r["killed"])
        self.assertFalse(r["timedOut"])
        self.assertEqual(r["signal"], signal.SIGTERM)
        self.assertNotIn("exitCode", r)
        self.assertEqual(r["reason"], "Terminated by user")
        wait_gone(running["pid"])

    def test_timeout_term_then_kill(self):
        self.fake.give("slow-1", ["sh", "-c", "trap '' TERM; exec sleep 60"], timeoutSeconds=1,
                       killGraceSeconds=1)
        _, r = self.fake.report("slow-1", "EXITED", timeout=8)
        self.assertTrue(r["timedOut"])
        self.assertFalse(r["killed"])
        self.assertEqual(r["signal"], signal.SIGKILL)

    def test_memory_limit(self):
        body = self.fake.registers[0][0]
        if body["cgroups"] == "none":
            self.skipTest("memory limits are not enforced here: " + body["cgroupsNote"])
        self.fake.give("oom-1", ["sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a)"],
                       memoryMiB=50)
        _, r = self.fake.report("oom-1", "EXITED", timeout=20)
        self.assertTrue(r["oom"], r)
        self.assertEqual(r["signal"], signal.SIGKILL)
        self.assertEqual(r["reason"], "OutOfMemoryError: Container killed due to memory usage")

    def test_many_lines_arrive_in_order_in_batches(self):
        self.fake.give("chatty-1", ["sh", "-c", "i=0; while [ $i -lt 3000 ]; do echo line $i; "
                                                "i=$((i+1)); done"])
        i_exit, r = self.fake.report("chatty-1", "EXITED", timeout=20)
        self.assertEqual(r["exitCode"], 0)
        lines = self.fake.log_lines("def/default/chatty-1")
        self.assertEqual([m for _, m in lines], ["line %d" % i for i in range(3000)])
        self.assertTrue(all(i < i_exit for i, _ in lines))
        batches = [sum(len(s["events"]) for s in b["streams"])
                   for k, b in self.fake.requests if k == "logs"]
        self.assertLessEqual(max(batches), 2000)

    def test_array_child_and_second_attempt(self):
        self.fake.give("arr:3", ["sh", "-c", "exit 0"], attempt=2)
        _, r = self.fake.report("arr:3", "EXITED")
        self.assertEqual((r["attempt"], r["exitCode"]), (2, 0))


class Holding(AgentTestCase):
    def test_an_attempt_is_held_until_its_end_is_delivered(self):
        self.fake.give("hold-1", ["sleep", "60"])
        _, running = self.fake.report("hold-1", "RUNNING")
        # Every kind of exchange lists it: the waiting one and the heartbeat.
        n = len(self.fake.requests)
        for wait in (True, False):
            self.fake.wait_for(lambda: any(("hold-1", 1) in h for h in self.fake.holdings(
                wait=wait, since=n)), 8, "an exchange (wait %s) listing hold-1" % wait)
        # The server does not take the report of its end: it stays held.
        self.fake.refuse_reports = True
        self.fake.order_kill("hold-1")
        wait_gone(running["pid"])
        self.fake.wait_for(lambda: self.fake.holdings("refused"), 8, "the EXITED report")
        n = len(self.fake.requests)
        self.fake.wait_for(lambda: any(("hold-1", 1) in h for h in self.fake.holdings(
            wait=True, since=n)), 8, "a waiting exchange still listing hold-1")
        # ... but an exchange that carries the report leaves it out.
        for h in self.fake.holdings("refused"):
            self.assertNotIn(("hold-1", 1), h)
        # A second assignment of an attempt it holds is not run again.
        self.fake.give("hold-1", ["sh", "-c", "echo twice"])
        self.fake.wait_for(lambda: "held already" in self.agent.read_log(), 8,
                           "the agent to ignore the second assignment")
        # Once the report is delivered, the attempt is held no more.
        self.fake.refuse_reports = False
        self.fake.report("hold-1", "EXITED")
        n = len(self.fake.requests)
        self.fake.wait_for(lambda: len(self.fake.holdings(since=n)) >= 3, 8, "more exchanges")
        self.assertEqual([h for h in self.fake.holdings(since=n) if h], [])
        self.assertEqual([r for _, r in self.fake.reports()
                          if r["jobId"] == "hold-1" and r["event"] == "RUNNING"], [running])
        self.assertEqual(self.fake.log_lines("def/default/hold-1"), [])

    def test_an_attempt_that_cannot_start_is_held_until_reported(self):
        self.fake.refuse_reports = True
        self.fake.give("nostart-1", ["/no/such/program"])
        self.fake.wait_for(lambda: self.fake.holdings("refused"), 8, "the FAILED_TO_START report")
        n = len(self.fake.requests)
        self.fake.wait_for(lambda: any(("nostart-1", 1) in h for h in self.fake.holdings(
            wait=True, since=n)), 8, "a waiting exchange listing nostart-1")
        self.fake.refuse_reports = False
        self.fake.report("nostart-1", "FAILED_TO_START")
        n = len(self.fake.requests)
        self.fake.wait_for(lambda: len(self.fake.holdings(since=n)) >= 3, 8, "more exchanges")
        self.assertEqual([h for h in self.fake.holdings(since=n) if h], [])


class Lifecycle(AgentTestCase):
    def test_unknown_instance_means_register_again(self):
        self.fake.give("lost-1", ["sleep", "60"])
        _, running = self.fake.report("lost-1", "RUNNING")
        self.fake.forget()
        self.fake.wait_for(lambda: len(self.fake.registers) == 2, 15, "a second register")
        # What ran for the old registration is gone, and the instance keeps its id.
        wait_gone(running["pid"])
        self.assertEqual(self.fake.registers[1][0]["instanceId"], "i-fake1")
        # The new registration holds nothing of the old one.
        n = self.fake.requests.index(("register", self.fake.registers[1][0]))
        self.fake.wait_for(lambda: len(self.fake.holdings(since=n)) >= 2, 8, "exchanges")
        self.assertEqual([h for h in self.fake.holdings(since=n) if h], [])
        self.fake.give("after-1", ["sh", "-c", "echo again"])
        _, r = self.fake.report("after-1", "EXITED")
        self.assertEqual(r["exitCode"], 0)
        self.assertIn("register", self.agent.read_log())

    def test_revoked_credential_means_register_again(self):
        self.fake.give("rev-1", ["sleep", "60"])
        _, running = self.fake.report("rev-1", "RUNNING")
        self.fake.revoke()
        self.fake.wait_for(lambda: len(self.fake.registers) == 2, 15, "a second register")
        wait_gone(running["pid"])
        self.assertTrue(self.fake.refused)
        first, second = self.fake.registers[0][0], self.fake.registers[1][0]
        # A new registration, not a retry of the first: another clientToken.
        self.assertNotEqual(first["clientToken"], second["clientToken"])
        self.assertEqual(second["instanceId"], "i-fake1")
        self.fake.give("rev-2", ["sh", "-c", "echo again"])
        _, r = self.fake.report("rev-2", "EXITED")
        self.assertEqual(r["exitCode"], 0)
        self.assertIn("Bearer i-fake1:secret-2", self.fake.authorizations())

    def test_shutdown_stops_jobs_reports_and_exits(self):
        self.fake.give("long-1", ["sleep", "60"])
        _, running = self.fake.report("long-1", "RUNNING")
        self.fake.ask_shutdown()
        self.assertEqual(self.agent.wait_exit(), 0)
        _, r = self.fake.report("long-1", "EXITED", timeout=1)
        self.assertTrue(r["agentStopped"])
        self.assertEqual(r["signal"], signal.SIGTERM)
        wait_gone(running["pid"])
        self.assertFalse(os.path.exists(self.agent.work_dir))

    def test_logs_that_cannot_be_stored_hold_no_heartbeat_back(self):
        # The server answers uploads with 500 (its log store cannot write): the instance keeps
        # exchanging, reports its attempt running, and holds the end report until the lines
        # are stored, so that the job's log is complete when the job is seen finished.
        self.fake.refuse_logs = True
        self.fake.give("stuck-1", ["sh", "-c", "echo one; sleep 0.5; echo two"])
        self.fake.report("stuck-1", "RUNNING")
        self.fake.wait_for(lambda: any(k == "logs-refused" for k, _ in self.fake.requests), 5,
                           "a refused upload")
        start = len(self.fake.requests)
        time.sleep(4)
        beats = [b for k, b in self.fake.requests[start:] if k == "exchange" and not b["wait"]]
        self.assertGreaterEqual(len(beats), 2, self.fake.requests[start:])
        # Every heartbeat lists the attempt as held: it ended, but its end is not reported.
        self.assertTrue(all(("stuck-1", 1) in [(h["jobId"], h["attempt"]) for h in b["holding"]]
                            for b in beats), beats)
        self.assertFalse([r for _, r in self.fake.reports()
                          if r["jobId"] == "stuck-1" and r["event"] == "EXITED"])
        # The store writes again: the lines, then the end report.
        self.fake.refuse_logs = False
        i_exit, exited = self.fake.report("stuck-1", "EXITED", timeout=15)
        self.assertEqual(exited["exitCode"], 0)
        lines = self.fake.log_lines("def/default/stuck-1")
        self.assertEqual([m for _, m in lines], ["one", "two"])
        self.assertTrue(all(i < i_exit for i, _ in lines), (lines, i_exit))

    def test_a_stopping_agent_reports_although_its_logs_cannot_be_stored(self):
        self.fake.refuse_logs = True
        self.fake.give("gone-1", ["sh", "-c", "echo started; exec sleep 60"])
        _, running = self.fake.report("gone-1", "RUNNING")
        self.fake.wait_for(lambda: any(k == "logs-refused" for k, _ in self.fake.requests), 5,
                           "a refused upload")
        self.agent.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.agent.wait_exit(), 0)
        try:
            _, r = self.fake.report("gone-1", "EXITED", timeout=1)
        except AssertionError as e:
            raise AssertionError("%s\nthe agent's log:\n%s" % (e, self.agent.read_log()))
        self.assertTrue(r["agentStopped"])
        wait_gone(running["pid"])

    def test_sigterm_stops_cleanly(self):
        self.fake.give("term-1", ["sh", "-c", "echo started; exec sleep 60"])
        _, running = self.fake.report("term-1", "RUNNING")
        self.fake.wait_for(lambda: self.fake.log_lines("def/default/term-1"), 5, "a log line")
        self.agent.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.agent.wait_exit(), 0)
        _, r = self.fake.report("term-1", "EXITED", timeout=1)
        self.assertTrue(r["agentStopped"])
        wait_gone(running["pid"])
        self.assertIn("SIGTERM", self.agent.read_log())


class Leaders(unittest.TestCase):
    """Several servers on one database: the agent follows whichever leads, and passes over
    those that answer as standbys (503 with X-Barge-Role: standby), its credential and its
    running attempts intact."""

    def test_the_agent_follows_the_leader(self):
        self.follow(cut_off=False)

    def test_the_agent_leaves_a_leader_cut_off_from_the_database(self):
        # Such a leader answers 503 ("cannot reach its store", "cannot confirm it still
        # leads") without saying it is a standby: the agent stayed with it, and the new leader
        # declared its instance lost and failed its running attempts.
        self.follow(cut_off=True)

    def follow(self, cut_off):
        first, second = FakeServer(), FakeServer()
        first.standby = True
        agent = Agent("%s,%s" % (first.url, second.url))
        try:
            second.wait_for(lambda: second.registers, 15, "the agent to register with the leader")
            self.assertEqual(first.registers, [])
            self.assertGreater(first.standby_answers, 0)
            second.give("j-long", ["sh", "-c", "echo begin; sleep 3; echo end; exit 4"])
            second.report("j-long", "RUNNING")
            # The leader changes: the first takes over the database (the instance and its
            # credential are there), the second stands by.
            with first.cond:
                first.instance, first.count = second.instance, second.count
                first.credential, first.valid = second.credential, set(second.valid)
                first.standby = False
            with second.cond:
                second.standby = True
                second.says_standby = not cut_off
                second.cond.notify_all()
            _, exited = first.report("j-long", "EXITED", timeout=20)
            self.assertEqual(exited["exitCode"], 4, exited)
            self.assertEqual(first.registers, [], "the agent registered again")
            lines = [m for _, m in second.log_lines("def/default/j-long")] + \
                [m for _, m in first.log_lines("def/default/j-long")]
            self.assertEqual(lines, ["begin", "end"])
            self.assertIn("answers as the leader", agent.read_log())
        finally:
            agent.stop()
            first.close()
            second.close()


class Unreachable(unittest.TestCase):
    def test_retries_until_the_server_answers(self):
        port = free_port()
        agent = Agent("http://127.0.0.1:%d" % port)
        fake = None
        try:
            deadline = time.time() + 10
            while "cannot register" not in agent.read_log():
                self.assertLess(time.time(), deadline, agent.read_log())
                time.sleep(0.05)
            self.assertIsNone(agent.proc.poll())
            fake = FakeServer(port=port)
            fake.wait_for(lambda: fake.registers, 15, "the agent to register once the server is up")
        finally:
            agent.stop()
            if fake:
                fake.close()

    def test_a_server_that_cannot_be_reached_is_passed_over(self):
        fake = FakeServer()
        agent = Agent("http://127.0.0.1:%d,%s" % (free_port(), fake.url))
        try:
            fake.wait_for(lambda: fake.registers, 15, "the agent to register with the second server")
            fake.give("j-over", ["sh", "-c", "echo over"])
            _, exited = fake.report("j-over", "EXITED")
            self.assertEqual(exited["exitCode"], 0)
        finally:
            agent.stop()
            fake.close()

    def test_bad_server_lists_are_refused(self):
        for servers in ("http://a,ftp://b", ",", "http://a,,http://b"):
            p = subprocess.run([BARGE, "agent", "--server", servers, "--compute-environment", "c"],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 2, servers)
            self.assertIn("--server", p.stderr)

    def test_exit_with_parent(self):
        fake = FakeServer()
        tmp = tempfile.mkdtemp(prefix="barge-agent-test-")
        os.chmod(tmp, 0o711)  # jobs run as nobody, who must pass through
        parent = None
        try:
            parent = subprocess.Popen(
                ["sh", "-c", '"$@" >/dev/null 2>&1 & echo $!; exec sleep 60', "sh", BARGE, "agent",
                 "--server", fake.url, "--compute-environment", "ce1", "--work-dir",
                 os.path.join(tmp, "w"), "--exit-with-parent", "--executor", "process"],
                stdout=subprocess.PIPE, text=True)
            pid = int(parent.stdout.readline())
            fake.wait_for(lambda: fake.registers, what="the agent to register")
            parent.kill()
            parent.wait()
            wait_gone(pid, timeout=10)
        finally:
            if parent and parent.poll() is None:
                parent.kill()  # the agent follows its parent
                parent.wait()
            if parent:
                parent.stdout.close()
            fake.close()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
