"""Agent identities (docs/agent-protocol.md, "Identities"), against the real server.

A join token only registers; registration answers with a credential for that instance alone,
and every later agent request carries it.  Stand-in agents written here speak the protocol raw:
one (the victim) runs a job, another (the intruder), with a valid credential of its own, tries to
act for the victim — report its attempt's end, list it as held, long-poll as it, upload to its
log stream, register over it — and is refused, while the victim's job goes on untouched.  Then:
a registration retried with the same clientToken gets the same instance; per-compute-environment
join tokens; join tokens rotated and revoked with SIGHUP, without a restart; an operator revokes
an instance; credentials rotate, and a replaced one stops after its grace period, while real
agents under fast rotation keep running jobs.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

from harness import ACCESS_KEY, BARGE, SECRET_KEY, register_agent, write_credentials
from test_auth import signed_headers
from test_jobs_common import FAST, JobsCase


def now_ms():
    return int(time.time() * 1000)


class StandIn:
    """An agent that is only its protocol, with the credential its registration gave."""

    def __init__(self, case, ce, instance_id=None, token="any-token", client_token=None):
        self.case, self.server = case, case.server
        self.id, self.credential = register_agent(self.server, ce=ce, instance_id=instance_id,
                                                  token=token, client_token=client_token,
                                                  vcpus=4, memory=4096, create_ce=False)
        self.assigned = []

    def post(self, op, body, credential=None):
        return self.server.raw("POST", "/barge/v1/agent/" + op, body,
                               {"Content-Type": "application/json",
                                "Authorization": "Bearer " + (credential or self.credential)})

    def exchange(self, reports=(), holding=None, wait=False, instance_id=None, credential=None):
        """One exchange; returns (status, body).  holding defaults to what it was assigned."""
        if holding is None:
            holding = [(a["jobId"], a["attempt"]) for a in self.assigned]
        status, _, body = self.post("exchange", {
            "instanceId": instance_id or self.id, "wait": wait, "reports": list(reports),
            "holding": [{"jobId": j, "attempt": a} for j, a in holding]}, credential)
        if status == 200:
            self.assigned += body["assign"]
            if body.get("credential") and not credential:
                self.credential = body["credential"]
        return status, body

    def upload(self, stream, *messages, credential=None):
        status, _, body = self.post("logs", {"streams": [{
            "logStreamName": stream,
            "events": [{"timestamp": now_ms(), "message": m} for m in messages]}]}, credential)
        return status, body

    def take(self, timeout=15):
        """Exchanges until an assignment arrives; returns it."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            n = len(self.assigned)
            status, body = self.exchange()
            self.case.assertEqual(status, 200, body)
            if len(self.assigned) > n:
                return self.assigned[-1]
            time.sleep(0.05)
        self.case.fail("no assignment reached instance %s" % self.id)


def report(job_id, attempt, event, **extra):
    return dict({"jobId": job_id, "attempt": attempt, "event": event, "at": now_ms()}, **extra)


class IdentityCase(JobsCase):
    def env(self, name):
        """An UNMANAGED compute environment for stand-ins, with a queue of the same name."""
        self.batch.create_compute_environment(computeEnvironmentName=name, type="UNMANAGED",
                                              state="ENABLED")
        self.make_queue(name, [name])
        self.wait_valid()
        return name

    def refused(self, got, status, kind, *fragments):
        code, body = got
        self.assertEqual((code, body.get("__type")), (status, kind), body)
        for f in fragments:
            self.assertIn(f, body["message"])
        return body["message"]


class OnlyItsOwnAttempts(IdentityCase):
    def test_an_intruder_cannot_act_for_another_instance(self):
        victim = StandIn(self, self.env("victim"))
        intruder = StandIn(self, self.env("intruder"))
        job = self.submit("victim-job", queue="victim", command="true")
        a = victim.take()
        self.assertEqual(a["jobId"], job)
        stream = a["logStreamName"]
        self.assertEqual(victim.exchange([report(job, 1, "RUNNING", pid=4242)])[0], 200)
        self.assertEqual(victim.upload(stream, "the victim's line"), (200, {}))
        secret = intruder.credential.split(":")[1]

        # Reports, held lists and exchanges naming the victim, each refused as a whole.
        forged = report(job, 1, "EXITED", exitCode=0)
        for got in (intruder.exchange([forged], holding=[]),
                    intruder.exchange(holding=[(job, 1)]),
                    intruder.exchange([forged], instance_id=victim.id),
                    intruder.exchange(instance_id=victim.id, wait=True)):
            msg = self.refused(got, 403, "AccessDeniedException", intruder.id)
            self.assertNotIn(secret, msg)
        # Its log stream.
        msg = self.refused(intruder.upload(stream, "forged line"), 403, "AccessDeniedException",
                           intruder.id, stream)
        self.assertNotIn(secret, msg)
        # Its registration: the id is taken while the victim lives.
        status, _, out = self.server.raw(
            "POST", "/barge/v1/agent/register",
            {"computeEnvironment": "victim", "instanceId": victim.id, "vcpus": 1,
             "memoryMiB": 64, "clientToken": "not-the-victims"},
            {"Authorization": "Bearer any-token"})
        self.assertEqual((status, out["__type"]), (409, "InstanceInUseException"), out)
        self.assertIn("clientToken", out["message"])
        # A credential made up for the victim, or the victim's with another secret.
        tampered = victim.credential[:-4] + ("0000" if victim.credential[-4:] != "0000"
                                             else "1111")
        self.refused(intruder.exchange(credential=tampered, instance_id=victim.id), 401,
                     "InvalidInstanceCredentialException", victim.id)
        self.refused(intruder.exchange(credential=victim.id + ":" + secret,
                                       instance_id=victim.id),
                     401, "InvalidInstanceCredentialException")

        # The victim's job is untouched: still RUNNING, and the victim finishes it.
        self.assertEqual(self.status(job), "RUNNING")
        # A second job goes to the victim, not to a poll that named it.
        job2 = self.submit("victim-job-2", queue="victim", command="true")
        self.assertEqual(victim.take()["jobId"], job2)
        self.assertEqual(intruder.exchange()[1]["assign"], [])
        self.assertEqual(victim.exchange([report(job, 1, "EXITED", exitCode=0),
                                          report(job2, 1, "EXITED", exitCode=0)],
                                         holding=[])[0], 200)
        d = self.assertSucceeded(job)
        self.assertEqual(d["attempts"][0]["container"]["exitCode"], 0)
        self.assertSucceeded(job2)
        events = self.server.client("logs").get_log_events(
            logGroupName="/aws/batch/job", logStreamName=stream, startFromHead=True)["events"]
        self.assertEqual([e["message"] for e in events], ["the victim's line"])

    def test_register_retry_with_the_same_client_token(self):
        first = StandIn(self, self.env("retry"), instance_id="i-retry",
                        client_token="token-of-one-try")
        job = self.submit("retry-job", queue="retry", command="true")
        self.assertEqual(first.take()["jobId"], job)
        self.assertEqual(first.exchange([report(job, 1, "RUNNING", pid=1)])[0], 200)
        # Its answer "was lost": the same registration again.
        again = StandIn(self, "retry", instance_id="i-retry", client_token="token-of-one-try")
        self.assertEqual(again.id, "i-retry")
        self.assertNotEqual(again.credential, first.credential)
        # The credential of the lost answer stops; the instance keeps its attempt.
        self.refused(first.exchange(), 401, "InvalidInstanceCredentialException", "i-retry")
        self.assertEqual(again.exchange(holding=[(job, 1)])[0], 200)
        self.assertEqual(self.status(job), "RUNNING")
        self.assertEqual(again.exchange([report(job, 1, "EXITED", exitCode=0)], holding=[])[0],
                         200)
        self.assertSucceeded(job)
        # Another clientToken, or none, for the live instance is refused.
        for token in ("token-of-another", None):
            body = {"computeEnvironment": "retry", "instanceId": "i-retry", "vcpus": 1,
                    "memoryMiB": 64}
            if token:
                body["clientToken"] = token
            status, _, out = self.server.raw("POST", "/barge/v1/agent/register", body,
                                             {"Authorization": "Bearer any-token"})
            self.assertEqual((status, out["__type"]), (409, "InstanceInUseException"))
        self.assertEqual(again.exchange()[0], 200)

    def test_operator_revokes_an_instance(self):
        victim = StandIn(self, self.env("revoked"))
        job = self.submit("revoked-job", queue="revoked", command="true")
        self.assertEqual(victim.take()["jobId"], job)
        self.assertEqual(victim.exchange([report(job, 1, "RUNNING", pid=1)])[0], 200)
        # The operator's command.
        out = subprocess.run([BARGE, "revoke-instance", "--endpoint", self.server.url, victim.id],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual((out.returncode, out.stdout), (0, "Instance %s revoked.\n" % victim.id),
                         out.stderr)
        # Its credential is refused at once, for every kind of request.
        self.refused(victim.exchange(), 404, "UnknownInstanceException", victim.id)
        self.refused(victim.upload("x/default/y", "z"), 404, "UnknownInstanceException")
        # Its attempt ended as a terminated host's does.
        d = self.wait_job(job, ("FAILED",))
        self.assertIn("terminated", d["attempts"][0]["statusReason"])
        status, _, out = self.server.raw("POST", "/barge/v1/revokeinstance",
                                         {"instanceId": victim.id},
                                         {"Content-Type": "application/json"})
        self.assertEqual((status, out["__type"]), (400, "ClientException"))
        out = subprocess.run([BARGE, "revoke-instance", "--endpoint", self.server.url, victim.id],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 1)
        self.assertIn("no instance '%s'" % victim.id, out.stderr)


class RealAgent(IdentityCase):
    """A real `barge agent` (process executor) beside the server."""

    def start_agent(self, ce, *extra, work_dir=None):
        """Starts an agent for ce in a fresh directory (its cwd); returns (process, stop), stop
        ending it and giving its log, checked for sanitizer reports."""
        tmp = tempfile.mkdtemp(prefix="barge-identity-agent-")
        os.chmod(tmp, 0o711)  # jobs run as nobody, who must pass through
        log = open(os.path.join(tmp, "agent.log"), "wb")
        agent = subprocess.Popen([BARGE, "agent", "--server", self.server.url,
                                  "--compute-environment", ce, "--executor", "process",
                                  "--vcpus", "2", "--memory", "1024", "--token", "any",
                                  "--work-dir", work_dir or os.path.join(tmp, "w")] + list(extra),
                                 stdout=log, stderr=subprocess.STDOUT, cwd=tmp)

        def stop():
            agent.terminate()
            agent.wait(timeout=30)
            log.close()
            with open(os.path.join(tmp, "agent.log"), errors="replace") as f:
                text = f.read()
            shutil.rmtree(tmp, ignore_errors=True)
            for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
                self.assertNotIn(marker, text)
            return text
        return agent, stop

    def test_a_revoked_agent_stops_its_attempt_and_registers_again(self):
        ce = self.env("real")
        agent, stop = self.start_agent(ce, "--instance-id", "i-real")
        try:
            job = self.submit("long", queue=ce, command="sleep 60")
            self.wait_job(job, ("RUNNING",))
            out = subprocess.run([BARGE, "revoke-instance", "--endpoint", self.server.url,
                                  "i-real"], capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 0, out.stderr)
            d = self.wait_job(job, ("FAILED",))
            self.assertIn("terminated", d["statusReason"])
            # The agent learns it, stops the attempt, and registers again as a new instance.
            self.wait_for(lambda: self.server.read_log().count(
                "instance i-real registered for compute environment real") == 2, 30,
                "the agent to register again")
            again = self.submit("again", queue=ce, command="echo again")
            self.assertSucceeded(again)
            self.assertIsNone(agent.poll())
        finally:
            text = stop()
        self.assertIn("registering again", text)

    def test_a_relative_work_dir_runs_jobs(self):
        # --work-dir given relative to the directory the agent starts in, which its attempts
        # leave for their own.
        _, stop = self.start_agent(self.env("rel"), work_dir="w")
        try:
            self.assertSucceeded(self.submit("rel", queue="rel", command="echo relative"))
        finally:
            stop()


class JoinTokens(JobsCase):
    """Join tokens from --agent-tokens and DATA_DIR/agent-token, re-read on SIGHUP."""

    @classmethod
    def setUpClass(cls):
        cls.tokens_dir = tempfile.mkdtemp(prefix="barge-tokens-")
        cls.tokens = os.path.join(cls.tokens_dir, "tokens")
        cls.write_tokens("# join tokens\n"
                         "ce-a-token-0123456789 ce-a\n"
                         "every-ce-token-0123456789\n")
        # Without --dev: the harness signs with the admin key; a reader may only read.
        creds = write_credentials(os.path.join(cls.tokens_dir, "credentials"), {
            "tester": {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY,
                       "barge_policy": "admin"},
            "reader": {"aws_access_key_id": "AKIDREADER", "aws_secret_access_key": "rsecret",
                       "barge_policy": "read"}})
        cls.server_args = ("--idle-seconds", "2", "--kill-grace-seconds", "1",
                           "--agent-tokens", cls.tokens, "--credentials", creds)
        super().setUpClass()

    @classmethod
    def setUpResources(cls):
        for name in ("ce-a", "ce-b"):
            cls.batch.create_compute_environment(computeEnvironmentName=name,
                                                 type="UNMANAGED", state="ENABLED")

    @classmethod
    def write_tokens(cls, text):
        with open(cls.tokens + ".new", "w") as f:
            f.write(text)
        os.chmod(cls.tokens + ".new", 0o600)
        os.rename(cls.tokens + ".new", cls.tokens)

    def register(self, ce, token):
        status, _, out = self.server.raw("POST", "/barge/v1/agent/register",
                                         {"computeEnvironment": ce, "vcpus": 1,
                                          "memoryMiB": 64},
                                         {"Authorization": "Bearer " + token})
        return status, out

    def until(self, ce, token, status, timeout=10):
        """SIGHUP is asynchronous: waits until registering with token answers status."""
        deadline = time.time() + timeout
        while True:
            got = self.register(ce, token)
            if got[0] == status:
                return got
            self.assertLess(time.time(), deadline, got)
            time.sleep(0.05)

    def test_per_compute_environment_token(self):
        status, out = self.register("ce-a", "ce-a-token-0123456789")
        self.assertEqual(status, 200, out)
        self.assertTrue(out["credential"].startswith(out["instanceId"] + ":"))
        status, out = self.register("ce-b", "ce-a-token-0123456789")
        self.assertEqual((status, out["__type"]), (403, "AccessDeniedException"))
        self.assertIn("ce-b", out["message"])
        self.assertNotIn("ce-a-token", out["message"])
        for ce in ("ce-a", "ce-b"):
            self.assertEqual(self.register(ce, "every-ce-token-0123456789")[0], 200)
        status, out = self.register("ce-a", "no-such-token-0123456789")
        self.assertEqual((status, out["__type"]), (403, "AccessDeniedException"))
        status, out = self.register("ce-a", "")
        self.assertEqual((status, out["__type"]), (401, "MissingAuthenticationTokenException"))

    def test_rotate_and_revoke_without_a_restart(self):
        status, out = self.register("ce-a", "ce-a-token-0123456789")
        self.assertEqual(status, 200, out)
        cred = out["credential"]
        pid = self.server.proc.pid
        # Rotation: the next token is added, then the old one taken out.
        self.write_tokens("ce-a-token-0123456789 ce-a\nce-a-next-token-01234 ce-a\n"
                          "every-ce-token-0123456789\n")
        self.server.proc.send_signal(signal.SIGHUP)
        self.until("ce-a", "ce-a-next-token-01234", 200)
        self.write_tokens("ce-a-next-token-01234 ce-a\n")
        self.server.proc.send_signal(signal.SIGHUP)
        self.until("ce-a", "ce-a-token-0123456789", 403)
        self.assertEqual(self.register("ce-a", "every-ce-token-0123456789")[0], 403)
        self.assertEqual(self.register("ce-a", "ce-a-next-token-01234")[0], 200)
        # A file that does not parse leaves the tokens as they were.
        self.write_tokens("short ce-a\n")
        self.server.proc.send_signal(signal.SIGHUP)
        self.wait_for(lambda: "line 1" in self.server.read_log(), 10, "the refusal logged")
        self.assertEqual(self.register("ce-a", "ce-a-next-token-01234")[0], 200)
        # The server-wide token in DATA_DIR is replaced the same way; the agents the server
        # launches have tokens of their own and are not affected.
        path = os.path.join(self.server.data_dir, "agent-token")
        with open(path) as f:
            old = f.read().strip()
        self.assertEqual(self.register("ce-b", old)[0], 200)
        with open(path, "w") as f:
            f.write("replaced-server-token-0123\n")
        self.server.proc.send_signal(signal.SIGHUP)
        self.until("ce-b", old, 403)
        self.assertEqual(self.register("ce-b", "replaced-server-token-0123")[0], 200)
        # A file gone is said to be so (it was said to hold fewer than 8 characters), and the
        # token stays.
        os.rename(path, path + ".away")
        self.server.proc.send_signal(signal.SIGHUP)
        self.wait_for(lambda: "%s cannot be read; the server-wide join token is unchanged"
                      % path in self.server.read_log(), 10, "the missing file said")
        os.rename(path + ".away", path)
        self.assertEqual(self.register("ce-b", "replaced-server-token-0123")[0], 200)
        self.assertSucceeded(self.submit("after-rotation", command="echo ok"), timeout=60)
        # Instances registered before keep their credentials; the server never restarted.
        status, _, out = self.server.raw("POST", "/barge/v1/agent/exchange", {},
                                         {"Authorization": "Bearer " + cred})
        self.assertEqual(status, 200, out)
        self.assertEqual(self.server.proc.pid, pid)

    def test_local_agents_get_a_token_for_their_instance_alone(self):
        job = self.submit("sleeper", command="sleep 3")
        self.wait_for(lambda: self.status(job) == "RUNNING", 30, "the job to run")
        tokens = set()
        for pid in self.agent_pids("ce"):
            with open("/proc/%d/environ" % pid, "rb") as f:
                for item in f.read().split(b"\0"):
                    if item.startswith(b"BARGE_AGENT_TOKEN="):
                        tokens.add(item.split(b"=", 1)[1].decode())
        self.assertTrue(tokens)
        with open(os.path.join(self.server.data_dir, "agent-token")) as f:
            server_token = f.read().strip()
        for token in tokens:
            self.assertNotEqual(token, server_token)
            self.assertRegex(token, "^barge-launch-[0-9a-f]{64}$")
            # It registers no instance but the one it was made for, which is taken.
            for ce in ("ce", "ce-a"):
                status, out = self.register(ce, token)
                self.assertEqual((status, out["__type"]), (403, "AccessDeniedException"))
                self.assertIn("a launch token this server did not give", out["message"])
        self.assertSucceeded(job)
        # No join token the operator sets may read as one.
        out = subprocess.run([BARGE, "server", "--dev", "--agent-token", "barge-launch-mine-0123",
                              "--data-dir", self.server.data_dir + "-unused"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn("--agent-token starts with 'barge-launch-'", out.stderr)

    def test_revoking_an_instance_needs_the_permission(self):
        status, out = self.register("ce-a", "ce-a-token-0123456789")
        self.assertEqual(status, 200, out)
        body = json.dumps({"instanceId": out["instanceId"]})

        def revoke(key, secret):
            headers = signed_headers(self.server.url, "POST", "/barge/v1/revokeinstance", body,
                                     key, secret)
            return self.server.raw("POST", "/barge/v1/revokeinstance", body, headers)
        status, _, got = self.server.raw("POST", "/barge/v1/revokeinstance", body,
                                         {"Content-Type": "application/json"})
        self.assertEqual((status, got["__type"]), (403, "MissingAuthenticationTokenException"))
        status, _, got = revoke("AKIDREADER", "rsecret")
        self.assertEqual((status, got["__type"]), (403, "AccessDeniedException"))
        self.assertIn("batch:RevokeInstance", got["message"])
        self.assertEqual(self.server.raw("POST", "/barge/v1/agent/exchange", {}, {
            "Authorization": "Bearer " + out["credential"]})[0], 200)
        status, _, got = revoke(ACCESS_KEY, SECRET_KEY)
        self.assertEqual((status, got), (200, {"instanceId": out["instanceId"]}))
        status, _, got = self.server.raw("POST", "/barge/v1/agent/exchange", {}, {
            "Authorization": "Bearer " + out["credential"]})
        self.assertEqual((status, got["__type"]), (404, "UnknownInstanceException"))
        # The revocation is in the audit trail, with who asked.
        with open(os.path.join(self.server.data_dir, "audit.log")) as f:
            trail = [json.loads(line) for line in f if "RevokeInstance" in line]
        self.assertEqual([e.get("errorCode") for e in trail],
                         ["MissingAuthenticationTokenException", "AccessDeniedException", None])


class CredentialRotation(IdentityCase):
    server_args = FAST + ("--instance-credential-seconds", "2",
                          "--instance-credential-grace-seconds", "3")

    def test_replaced_credential_stops_after_its_grace_period(self):
        agent = StandIn(self, self.env("rotated"))
        first = agent.credential
        time.sleep(2.1)
        status, body = agent.exchange()
        self.assertEqual(status, 200, body)
        second = body["credential"]
        self.assertNotEqual(second, first)
        self.assertTrue(second.startswith(agent.id + ":"))
        # Until the next one is used, the first goes on working (its answer may be lost).
        self.assertEqual(agent.exchange(credential=first)[0], 200)
        used = time.time()
        self.assertEqual(agent.exchange(credential=second)[0], 200)
        self.assertEqual(agent.exchange(credential=first)[0], 200)  # within the grace
        deadline = time.time() + 15
        while True:
            status, body = agent.exchange(credential=first)
            if status != 200:
                break
            self.assertLess(time.time(), deadline)
            time.sleep(0.1)
        self.assertGreaterEqual(time.time() - used, 2.5)
        self.refused((status, body), 401, "InvalidInstanceCredentialException", "grace period")
        self.assertNotIn(first.split(":")[1], body["message"])
        # The newest one handed out works.
        self.assertEqual(agent.exchange()[0], 200)

    def test_real_agents_keep_working_while_credentials_rotate(self):
        jobs = [self.submit("rot-%d" % i, command="sleep 8; echo done %d" % i)
                for i in range(2)]
        for i, j in enumerate(jobs):
            d = self.assertSucceeded(j, timeout=60)
            self.assertEqual(len(d["attempts"]), 1)
            stream = d["container"]["logStreamName"]
            events = self.wait_for(lambda: self.server.client("logs").get_log_events(
                logGroupName="/aws/batch/job", logStreamName=stream)["events"], 10, "a line")
            self.assertEqual([e["message"] for e in events], ["done %d" % i])
        # The agents' credentials rotated, and no agent lost its registration to a rotation:
        # each registered once, when launched.
        log = self.server.read_log()
        self.assertGreaterEqual(log.count("is handed its next credential"), 1, log)
        launched = log.count("fleet: launched instance")
        self.assertGreaterEqual(launched, 1)
        self.assertEqual(log.count("registered for compute environment ce ("), launched, log)
