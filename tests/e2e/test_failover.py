"""Several servers on one PostgreSQL store (tests/e2e/pg.py): one leads, the others stand by and
answer 503 as docs/agent-protocol.md ("Standby servers") says.  The leader killed with -9 under
submit load: a standby leads within seconds and every acknowledged SubmitJob is there.  The
leader paused with SIGSTOP past its lease: a standby takes over, and the old one, resumed, is
fenced: the SubmitJob it was handed while paused is never written, and it stops (exit status
3).  A clean stop hands over at once.  Never two leaders at once.  An attempt that runs through
two changes of leader ends once, its log served by each leader.  And the whole set-up behind
HAProxy, with an agent given both servers' URLs: kill -9 under load while jobs run."""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import boto3
import botocore.config

from harness import BARGE, Server
from pg import PostgreSQL


def healthz(server):
    """(status, body) of GET /healthz; (None, None) when it does not answer."""
    try:
        with urllib.request.urlopen(server.url + "/healthz", timeout=0.5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
    except (OSError, ValueError):
        return None, None


class Submitter(threading.Thread):
    """Submits to queue "parked" through whichever server leads: on a connection error or a
    standby's 503 it moves to the next URL, as a client behind a load balancer would."""

    def __init__(self, ports):
        super().__init__(daemon=True)
        self.ports = ports
        self.acked, self.standby_refusals = [], 0
        self.stopping = False
        self.error = None

    def run(self):
        i = n = 0
        conn = None
        while not self.stopping:
            port = self.ports[i % len(self.ports)]
            try:
                conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                n += 1
                conn.request("POST", "/v1/submitjob", json.dumps(
                    {"jobName": "load-%d" % n, "jobQueue": "parked", "jobDefinition": "jd"}),
                    {"Content-Type": "application/json"})
                r = conn.getresponse()
                body = json.loads(r.read())
                if r.status == 200:
                    self.acked.append(body["jobId"])
                    continue
                if r.status != 503:
                    self.error = (r.status, body)
                    return
                if r.getheader("X-Barge-Role") == "standby":
                    self.standby_refusals += 1
            except (OSError, http.client.HTTPException, ValueError):
                pass
            if conn:
                conn.close()
            conn = None
            i += 1
            time.sleep(0.01)


def stopped(pid):
    """Every thread of the process is in the stopped state (T) in /proc."""
    try:
        tids = os.listdir("/proc/%d/task" % pid)
        for tid in tids:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "T":
                    return False
    except OSError:
        return False
    return True


SCRAPE_TOKEN = "scrape-token-0123456789"


def scrape(s):
    """A scrape of s's /metrics with the token the servers take."""
    return urllib.request.Request(s.url + "/metrics",
                                  headers={"Authorization": "Bearer " + SCRAPE_TOKEN})


class Failover(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = PostgreSQL()
        cls.url = cls.pg.createdb("failover")
        cls.servers = []
        for i in range(3):
            s = Server(args=("--dev", "--store", cls.url, "--metrics-token", SCRAPE_TOKEN))
            s.defaults = True  # only the database's first start makes them
            cls.servers.append(s)
        cls.servers[0].start(timeout=20)
        for s in cls.servers[1:]:
            s.start(timeout=20, standby="any")
        batch = cls.servers[0].client()
        batch.create_compute_environment(computeEnvironmentName="off", type="MANAGED",
                                         state="DISABLED",
                                         computeResources={"type": "EC2", "maxvCpus": 4,
                                                           "minvCpus": 0,
                                                           "subnets": ["subnet-1"]})
        batch.create_job_queue(jobQueueName="parked", priority=1, computeEnvironmentOrder=[
            {"order": 1, "computeEnvironment": "off"}])
        batch.register_job_definition(jobDefinitionName="jd", type="container",
                                      containerProperties={"image": "busybox", "command": ["true"],
                                                           "resourceRequirements": [
                                                               {"type": "VCPU", "value": "1"},
                                                               {"type": "MEMORY",
                                                                "value": "64"}]})

    @classmethod
    def tearDownClass(cls):
        for s in cls.servers:
            s.cleanup()
        cls.pg.destroy()

    def leaders(self):
        return [s for s in self.servers if s.proc and healthz(s)[0] == 200]

    def wait_leader(self, among, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = [s for s in among if healthz(s)[0] == 200]
            if found:
                return found
            time.sleep(0.02)
        self.fail("no server led within %ss" % timeout)

    def restart_as_standby(self, s):
        if s.proc:
            s.stop(signal.SIGKILL)
        s.start(timeout=20, standby="any")

    def test_1_standbys_answer_503_and_name_the_leader(self):
        leader = self.leaders()
        self.assertEqual(len(leader), 1)
        leader = leader[0]
        self.assertEqual(healthz(leader), (200, {"status": "ok", "role": "leader"}))
        for s in self.servers:
            if s is leader:
                continue
            # A standby names the leader from its first read of the lease on.
            deadline = time.time() + 5
            while healthz(s)[1].get("leader") == "unknown" and time.time() < deadline:
                time.sleep(0.02)
            self.assertEqual(healthz(s), (503, {"status": "standby", "leader": leader.url}))
            status, headers, body = s.raw("POST", "/v1/submitjob", {
                "jobName": "x", "jobQueue": "parked", "jobDefinition": "jd"})
            self.assertEqual(status, 503)
            self.assertEqual(headers.get("X-Barge-Role"), "standby")
            self.assertEqual(body["__type"], "ServerException")
            self.assertIn("this barge server is a standby", body["message"])
            self.assertIn("retry (the leader is %s)" % leader.url, body["message"])
            # The agent protocol too.
            status, headers, body = s.raw("POST", "/barge/v1/agent/register", {})
            self.assertEqual((status, headers.get("X-Barge-Role")), (503, "standby"))
            # Prometheus scrapes a standby as up (a 503 made it a target down): barge_leader
            # 0, in the format promtool takes, with its refusals counted; with the token
            # --metrics-token asks of the leader's scrapes, and refused without it.
            with self.assertRaises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(s.url + "/metrics", timeout=5)
            self.assertEqual(e.exception.code, 401)
            self.assertIn("--metrics-token", e.exception.read().decode())
            with urllib.request.urlopen(scrape(s), timeout=5) as r:
                self.assertEqual((r.status, r.headers.get("X-Barge-Role")), (200, "standby"))
                self.assertTrue(r.headers["Content-Type"].startswith("text/plain"))
                text = r.read().decode()
            self.assertIn("\nbarge_leader 0\n", text)
            self.assertIn('barge_http_requests_total{operation="unknown",code="503"}', text)
            p = subprocess.run(["promtool", "check", "metrics"], input=text,
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        with urllib.request.urlopen(scrape(leader), timeout=5) as r:
            self.assertIn("\nbarge_leader 1\n", "\n" + r.read().decode())
        # The defaults were made once, by the database's first start.
        queues = leader.client().describe_job_queues()["jobQueues"]
        self.assertEqual(sorted(q["jobQueueName"] for q in queues), ["default", "parked"])

    def test_2_kill9_under_load_a_standby_leads_and_nothing_acknowledged_is_lost(self):
        leader = self.leaders()[0]
        # A deleted default queue stays deleted whoever leads next.
        b = leader.client()
        b.update_job_queue(jobQueue="default", state="DISABLED")
        self.wait_for(lambda: b.describe_job_queues(jobQueues=["default"])["jobQueues"][0][
            "status"] == "VALID")
        b.delete_job_queue(jobQueue="default")
        self.wait_for(lambda: [q["status"] for q in b.describe_job_queues(
            jobQueues=["default"])["jobQueues"]] in ([], ["DELETED"]))
        w = Submitter([s.port for s in self.servers])
        w.start()
        try:
            self.wait_for(lambda: len(w.acked) >= 200, what="200 acknowledged submits")
            before = len(w.acked)
            t0 = time.time()
            leader.kill9()
            others = [s for s in self.servers if s is not leader]
            self.wait_leader(others, 15)
            took = time.time() - t0
            # Under load a standby may take the lease from another that has just taken it and
            # not renewed it in time; the one that lost it says so at its next renewal (it is
            # fenced by the epoch either way): wait until a single server leads.
            deadline = time.time() + 15
            while True:
                new = [s for s in others if healthz(s)[0] == 200]
                if len(new) == 1 or time.time() > deadline:
                    break
                time.sleep(0.05)
            self.wait_for(lambda: len(w.acked) > before + 50, what="submits to the new leader")
            first_ack = time.time() - t0
        finally:
            w.stopping = True
            w.join(20)
        print("\nfailover: a standby led %.2f s after kill -9; submits acknowledged again "
              "within %.2f s" % (took, first_ack))
        self.assertIsNone(w.error)
        # The figure (target under 5 s) is bench/pg_store.py's; here a takeover that comes at
        # all, well within twice that on a loaded machine.
        self.assertLess(took, 10.0, "the lease is 3 s; a standby polls it 4 times a second")
        self.assertEqual(len(new), 1)
        new = new[0]
        batch = new.client()
        missing = []
        for i in range(0, len(w.acked), 100):
            chunk = w.acked[i:i + 100]
            found = {j["jobId"] for j in batch.describe_jobs(jobs=chunk)["jobs"]}
            missing += [j for j in chunk if j not in found]
        self.assertEqual(missing, [], "%d of %d acknowledged jobs lost" % (len(missing),
                                                                            len(w.acked)))
        self.assertIn([q["status"] for q in batch.describe_job_queues(
            jobQueues=["default"])["jobQueues"]], ([], ["DELETED"]))
        self.restart_as_standby(leader)
        self.assertEqual(self.leaders(), [new])

    def test_3_a_paused_leader_is_fenced_when_it_resumes(self):
        leader = self.leaders()[0]
        others = [s for s in self.servers if s is not leader]
        epoch = int(self.pg.psql("failover", "SELECT epoch FROM barge_lease"))
        leader.proc.send_signal(signal.SIGSTOP)
        resumed = False
        try:
            # kill() returns once the stop is queued; a thread already running on the other
            # core may still take a request and commit it under the lease it then still held.
            # The SubmitJob below must reach a server that is really stopped.
            self.wait_for(lambda: stopped(leader.proc.pid), what="every thread stopped")
            # Handed a SubmitJob while paused: the kernel takes it, the server does not run.
            sock = socket.create_connection(("127.0.0.1", leader.port), timeout=30)
            body = json.dumps({"jobName": "fenced-submit", "jobQueue": "parked",
                               "jobDefinition": "jd"}).encode()
            sock.sendall(b"POST /v1/submitjob HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                         b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            new = self.wait_leader(others, 15)
            self.assertEqual(len(new), 1)
            new = new[0]
            self.assertEqual(int(self.pg.psql("failover", "SELECT epoch FROM barge_lease")),
                             epoch + 1)
            jid = new.client().submit_job(jobName="after-takeover", jobQueue="parked",
                                          jobDefinition="jd")["jobId"]
            leader.proc.send_signal(signal.SIGCONT)
            resumed = True
            rc = leader.proc.wait(timeout=20)
            answer = b""
            try:
                answer = sock.recv(4096)
            except OSError:
                pass
            sock.close()
        finally:
            if not resumed:
                leader.proc.send_signal(signal.SIGCONT)
        self.assertEqual(rc, 3, leader.read_log()[-3000:])
        self.assertNotIn(b" 200 ", answer.split(b"\r\n")[0] if answer else b"")
        self.assertIn("another barge server leads the store now", leader.read_log())
        # Its SubmitJob was never written; the new leader's was.
        names = self.pg.psql("failover", "SELECT doc::json->'own'->>'jobName' FROM "
                                         "barge_records WHERE kind = 'job'").split("\n")
        self.assertNotIn("fenced-submit", names)
        self.assertIn("after-takeover", names)
        self.assertEqual(new.client().describe_jobs(jobs=[jid])["jobs"][0]["jobName"],
                         "after-takeover")
        self.assertEqual(self.leaders(), [new])
        leader.proc = None
        leader.log.close()
        self.restart_as_standby(leader)
        self.assertEqual(self.leaders(), [new])

    def test_4_a_clean_stop_hands_over_without_waiting_for_the_lease(self):
        leader = self.leaders()[0]
        others = [s for s in self.servers if s is not leader]
        epoch = int(self.pg.psql("failover", "SELECT epoch FROM barge_lease"))
        self.assertEqual(leader.stop(), 0)
        # The lease was ended at the stop, not left to expire (3 s): right after it, either it
        # is marked ended or a standby's next poll has already taken it (a new epoch).  Checked
        # in the table rather than by the clock, which a loaded machine would make flaky.
        row = self.pg.psql("failover", "SELECT epoch, expires = '-infinity' FROM barge_lease")
        ended_epoch, ended = row.split("|")
        self.assertTrue(ended.strip() == "t" or int(ended_epoch) > epoch, row)
        new = self.wait_leader(others, 15)
        self.assertEqual(len(new), 1)
        self.assertIn("received SIGTERM", leader.read_log())
        self.restart_as_standby(leader)
        self.assertEqual(self.leaders(), new)

    def wait_for(self, fn, timeout=30, what="the condition"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if fn():
                return
            time.sleep(0.05)
        self.fail("waited %ss for %s" % (timeout, what))


class Never2Leaders(unittest.TestCase):
    def test_two_servers_started_together_make_one_leader(self):
        pg = PostgreSQL()
        servers = []
        try:
            url = pg.createdb("together")
            # A lease of 3 s renewed every half second: a renewal late by a loaded machine's
            # second does not make the leader unsure (503) during the samples.
            servers = [Server(args=("--dev", "--store", url, "--lease-ms", "3000",
                                    "--lease-renew-ms", "500")) for _ in range(2)]
            threads = [threading.Thread(target=self.start_any, args=(s,)) for s in servers]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            # Both started, one to lead and one to stand by (a start that failed once said
            # "cannot read the shared agent token" in a thread of its own, and this test
            # passed with one server).
            self.assertEqual(self.start_failures, [])
            # Never more than one; one once it has loaded the state.  A server that does not
            # answer within healthz's half second (a loaded machine) leaves that sample unknown
            # (None), not a count of leaders.
            seen = []
            for _ in range(60):
                states = [healthz(s)[0] for s in servers]
                leaders = sum(1 for st in states if st == 200)
                seen.append(None if None in states and leaders == 0 else leaders)
                time.sleep(0.05)
            self.assertLessEqual(max(n or 0 for n in seen), 1, seen)
            last = [n for n in seen[-20:] if n is not None]
            self.assertGreaterEqual(len(last), 10, seen)
            self.assertEqual(last, [1] * len(last), seen)
        finally:
            for s in servers:
                s.cleanup()
            pg.destroy()

    def setUp(self):
        self.start_failures = []

    def start_any(self, s):
        try:
            s.start(timeout=20, standby="any")
        except Exception as e:  # noqa: BLE001 (reported by the test's thread)
            self.start_failures.append(str(e))


class RunningAttempt(unittest.TestCase):
    """An attempt that runs through two changes of leader ends once.  Its agent talks to one
    server's URL: the leader is killed, the other server leads (it loads the instance and the
    attempt from the store), the first comes back as a standby, the second is killed, and the
    first leads again; the agent, which retried meanwhile, carries on with its credential."""

    def test_an_attempt_runs_through_two_failovers_once(self):
        pg = PostgreSQL()
        a = b = agent = None
        tmp = tempfile.mkdtemp(prefix="barge-failover-agent-")
        os.chmod(tmp, 0o777)  # jobs run as nobody
        try:
            url = pg.createdb("attempts")
            a = Server(args=("--dev", "--store", url))
            b = Server(args=("--dev", "--store", url))
            a.start(timeout=20)
            b.start(timeout=20, standby=True)
            batch = a.client()
            batch.create_compute_environment(computeEnvironmentName="ha", type="UNMANAGED")
            batch.create_job_queue(jobQueueName="haq", priority=1, computeEnvironmentOrder=[
                {"order": 1, "computeEnvironment": "ha"}])
            gate, runs = os.path.join(tmp, "gate"), os.path.join(tmp, "runs")
            script = ('echo "run $AWS_BATCH_JOB_ATTEMPT" >> %s; echo begin; while [ ! -e %s ]; '
                      'do sleep 0.1; done; echo done' % (runs, gate))
            batch.register_job_definition(jobDefinitionName="jd", type="container",
                                          containerProperties={
                                              "image": "busybox", "command": ["sh", "-c", script],
                                              "resourceRequirements": [
                                                  {"type": "VCPU", "value": "1"},
                                                  {"type": "MEMORY", "value": "64"}]})
            # The standby's copy of the agent token is the leader's: one token for all.
            with open(os.path.join(b.data_dir, "agent-token")) as f:
                token = f.read().strip()
            with open(os.path.join(a.data_dir, "agent-token")) as f:
                self.assertEqual(f.read().strip(), token)
            log = open(os.path.join(tmp, "agent.log"), "wb")
            agent = subprocess.Popen([BARGE, "agent", "--server", a.url, "--compute-environment",
                                      "ha", "--executor", "process", "--vcpus", "2", "--memory",
                                      "1024", "--work-dir", os.path.join(tmp, "w"), "--token",
                                      token], stdout=log, stderr=subprocess.STDOUT)
            jid = batch.submit_job(jobName="through", jobQueue="haq",
                                   jobDefinition="jd")["jobId"]
            stream = self.wait_status(a, jid, "RUNNING")["container"]["logStreamName"]
            self.wait_for_lines(a, stream, ["begin"])
            a.kill9()
            self.assertEqual(len(self.wait_leaders([b])), 1)
            self.assertEqual(b.client().describe_jobs(jobs=[jid])["jobs"][0]["status"], "RUNNING")
            # The new leader serves the line the old one received (the shared log copy).
            self.assertEqual(self.lines(b, stream), ["begin"])
            a.start(timeout=20, standby=True)
            b.kill9()
            self.assertEqual(len(self.wait_leaders([a])), 1)
            open(gate, "w").close()
            d = self.wait_status(a, jid, "SUCCEEDED", timeout=60)
            self.assertEqual(len(d["attempts"]), 1, d["attempts"])
            with open(runs) as f:
                self.assertEqual(f.read().split("\n"), ["run 1", ""])
            # Every line once, on the leader that saw the job start and end.
            self.wait_for_lines(a, stream, ["begin", "done"])
            self.assertIsNone(agent.poll())
        finally:
            if agent:
                agent.terminate()
                agent.wait(timeout=30)
            for s in (a, b):
                if s:
                    s.cleanup()
            pg.destroy()
            shutil.rmtree(tmp, ignore_errors=True)

    def lines(self, server, stream):
        out = server.client("logs").get_log_events(logGroupName="/aws/batch/job",
                                                   logStreamName=stream, startFromHead=True)
        return [e["message"] for e in out["events"]]

    def wait_for_lines(self, server, stream, want, timeout=20):
        deadline = time.time() + timeout
        got = None
        while time.time() < deadline:
            got = self.lines(server, stream)
            if got == want:
                return
            time.sleep(0.1)
        self.fail("log stream %s: waited for %s, got %s" % (stream, want, got))

    def wait_leaders(self, among, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            found = [s for s in among if healthz(s)[0] == 200]
            if found:
                return found
            time.sleep(0.02)
        self.fail("no server led within %ss" % timeout)

    def wait_status(self, server, jid, want, timeout=30):
        deadline = time.time() + timeout
        d = None
        while time.time() < deadline:
            d = server.client().describe_jobs(jobs=[jid])["jobs"][0]
            if d["status"] == want:
                return d
            time.sleep(0.1)
        self.fail("job %s: waited %ss for %s, last %s" % (jid, timeout, want, d and d["status"]))


class LocalAgentsOfAnotherHost(unittest.TestCase):
    """A new leader on another host than the dead one's: the dead leader's local agents live
    on there, with every server's URL (--agent-url), and follow the new leader.  It looked for
    their pids in its own /proc, declared them lost, and failed their running attempts.  The
    other host is a pid namespace of its own (unshare), which sees other pids."""

    def test_the_agents_of_a_leader_on_another_host_carry_on(self):
        if subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"],
                          capture_output=True).returncode != 0:
            self.skipTest("cannot make a pid namespace here")
        pg = PostgreSQL()
        a = b = None
        tmp = tempfile.mkdtemp(prefix="barge-other-host-")
        os.chmod(tmp, 0o777)  # jobs run as nobody
        try:
            url = pg.createdb("otherhost")
            a = Server(args=("--dev", "--store", url))
            b = Server(args=("--dev", "--store", url))
            both = "%s,%s" % (a.url, b.url)
            a.args += ["--agent-url", both]
            b.args += ["--agent-url", both]
            b.wrapper = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]
            a.start(timeout=20)
            b.start(timeout=20, standby=True)
            batch = a.client()
            batch.create_compute_environment(
                computeEnvironmentName="local", type="MANAGED", computeResources={
                    "type": "EC2", "minvCpus": 0, "maxvCpus": 2, "instanceTypes": ["optimal"],
                    "subnets": [], "securityGroupIds": []})
            batch.create_job_queue(jobQueueName="q", priority=1, computeEnvironmentOrder=[
                {"order": 1, "computeEnvironment": "local"}])
            gate = os.path.join(tmp, "gate")
            batch.register_job_definition(jobDefinitionName="jd", type="container",
                                          containerProperties={
                                              "image": "busybox", "command": [
                                                  "sh", "-c", "while [ ! -e %s ]; do sleep 0.1; "
                                                  "done" % gate],
                                              "resourceRequirements": [
                                                  {"type": "VCPU", "value": "1"},
                                                  {"type": "MEMORY", "value": "64"}]})
            jid = batch.submit_job(jobName="on", jobQueue="q", jobDefinition="jd")["jobId"]
            RunningAttempt.wait_status(self, a, jid, "RUNNING")
            a.kill9()
            self.assertEqual(RunningAttempt.wait_leaders(self, [b]), [b])
            self.assertIn("was launched on another host", b.read_log())
            open(gate, "w").close()
            d = RunningAttempt.wait_status(self, b, jid, "SUCCEEDED", timeout=60)
            self.assertEqual(len(d["attempts"]), 1, d["attempts"])
        finally:
            if os.path.isdir(tmp):
                open(os.path.join(tmp, "gate"), "w").close()
            if b and b.proc and b.proc.poll() is None:
                b.kill9()  # unshare ignores SIGTERM; its --kill-child takes the server with it
            for s in (a, b):
                if s:
                    s.cleanup()
            pg.destroy()
            shutil.rmtree(tmp, ignore_errors=True)


class BehindHAProxy(unittest.TestCase):
    """The whole set-up of docs/operations.md: two servers on one PostgreSQL, HAProxy in front
    for API clients, an agent given both servers' URLs.  The leader is killed with -9 under
    submit load while jobs run: every acknowledged SubmitJob is there, the running jobs finish,
    each on its one attempt (none ran twice)."""

    def test_kill9_under_load_with_running_jobs(self):
        from haproxy import HAProxy
        pg = PostgreSQL()
        servers, agent, lb = [], None, None
        tmp = tempfile.mkdtemp(prefix="barge-failover-lb-")
        os.chmod(tmp, 0o777)  # jobs run as nobody
        try:
            url = pg.createdb("lb")
            servers = [Server(args=("--dev", "--store", url)) for _ in range(2)]
            servers[0].start(timeout=20)
            servers[1].start(timeout=20, standby=True)
            lb = HAProxy([s.url for s in servers]).start()
            batch = boto3.client("batch", endpoint_url=lb.url, region_name="us-east-1",
                                 aws_access_key_id="k", aws_secret_access_key="s",
                                 config=botocore.config.Config(
                                     retries={"mode": "standard", "max_attempts": 20}))
            batch.create_compute_environment(computeEnvironmentName="ha", type="UNMANAGED")
            batch.create_compute_environment(computeEnvironmentName="off", type="UNMANAGED",
                                             state="DISABLED")
            for q, ce in (("run", "ha"), ("parked", "off")):
                batch.create_job_queue(jobQueueName=q, priority=1, computeEnvironmentOrder=[
                    {"order": 1, "computeEnvironment": ce}])
            script = 'echo "$AWS_BATCH_JOB_ATTEMPT" >> %s/runs-$AWS_BATCH_JOB_ID; sleep 6' % tmp
            batch.register_job_definition(jobDefinitionName="jd", type="container",
                                          containerProperties={
                                              "image": "busybox", "command": ["sh", "-c", script],
                                              "resourceRequirements": [
                                                  {"type": "VCPU", "value": "1"},
                                                  {"type": "MEMORY", "value": "64"}]})
            with open(os.path.join(servers[0].data_dir, "agent-token")) as f:
                token = f.read().strip()
            log = open(os.path.join(tmp, "agent.log"), "wb")
            agent = subprocess.Popen([BARGE, "agent", "--server",
                                      ",".join(s.url for s in servers), "--compute-environment",
                                      "ha", "--executor", "process", "--vcpus", "4", "--memory",
                                      "4096", "--work-dir", os.path.join(tmp, "w"), "--token",
                                      token], stdout=log, stderr=subprocess.STDOUT)
            running = [batch.submit_job(jobName="r%d" % i, jobQueue="run",
                                        jobDefinition="jd")["jobId"] for i in range(3)]
            deadline = time.time() + 30
            while time.time() < deadline and {j["status"] for j in batch.describe_jobs(
                    jobs=running)["jobs"]} != {"RUNNING"}:
                time.sleep(0.1)
            w = Submitter([lb.port])
            w.start()
            try:
                deadline = time.time() + 20
                while len(w.acked) < 100 and time.time() < deadline:
                    time.sleep(0.05)
                servers[0].kill9()
                before = len(w.acked)
                deadline = time.time() + 30
                while len(w.acked) < before + 100 and time.time() < deadline:
                    time.sleep(0.05)
            finally:
                w.stopping = True
                w.join(20)
            self.assertIsNone(w.error)
            self.assertGreater(len(w.acked), before, "no submit acknowledged after the kill")
            missing = []
            for i in range(0, len(w.acked), 100):
                chunk = w.acked[i:i + 100]
                found = {j["jobId"] for j in batch.describe_jobs(jobs=chunk)["jobs"]}
                missing += [j for j in chunk if j not in found]
            self.assertEqual(missing, [], "%d of %d acknowledged jobs lost" % (len(missing),
                                                                                len(w.acked)))
            deadline = time.time() + 60
            ds = []
            while time.time() < deadline:
                ds = batch.describe_jobs(jobs=running)["jobs"]
                if all(d["status"] in ("SUCCEEDED", "FAILED") for d in ds):
                    break
                time.sleep(0.2)
            for d in ds:
                self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
                self.assertEqual(len(d["attempts"]), 1, d["attempts"])
                with open(os.path.join(tmp, "runs-" + d["jobId"])) as f:
                    self.assertEqual(f.read(), "1\n")
            self.assertIsNone(agent.poll())
        finally:
            if agent:
                agent.terminate()
                agent.wait(timeout=30)
            if lb:
                lb.stop()
            for s in servers:
                s.cleanup()
            pg.destroy()
            shutil.rmtree(tmp, ignore_errors=True)


def standby_groups(server):
    """The log groups in a standby's own logs.db (it answers 503 to the API)."""
    import sqlite3
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(server.data_dir, "logs.db"), uri=True,
                         timeout=5)
    try:
        return [r[0] for r in db.execute("SELECT name FROM groups")]
    finally:
        db.close()


def standby_events(server, group, stream):
    """How many events of a stream a standby's own logs.db holds."""
    import sqlite3
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(server.data_dir, "logs.db"), uri=True,
                         timeout=5)
    try:
        return db.execute("SELECT count(*) FROM events e JOIN streams s ON s.id = e.stream "
                          "WHERE s.grp = ? AND s.name = ?", (group, stream)).fetchone()[0]
    finally:
        db.close()


class RetainedLogs(unittest.TestCase):
    """A job let go after the retention takes its log with it everywhere: from the leader's
    logs.db, from the copy in the database (a row saying the stream was deleted stays, for
    standbys), and from a standby's logs.db, so that the next leader does not serve it."""

    def test_a_removed_jobs_log_leaves_the_copy_and_the_standby(self):
        pg = PostgreSQL()
        a = b = None
        try:
            url = pg.createdb("retained")
            args = ("--dev", "--store", url, "--retention-hours", "0.0005", "--idle-seconds", "2")
            a = Server(args=args)
            b = Server(args=args)
            a.start(timeout=20)
            b.start(timeout=20, standby=True)
            batch = a.client()
            batch.create_compute_environment(
                computeEnvironmentName="ce", type="MANAGED",
                computeResources={"type": "EC2", "maxvCpus": 2, "minvCpus": 0,
                                  "subnets": ["subnet-1"]})
            batch.create_job_queue(jobQueueName="q", priority=1, computeEnvironmentOrder=[
                {"order": 1, "computeEnvironment": "ce"}])
            batch.register_job_definition(jobDefinitionName="jd", type="container",
                                          containerProperties={
                                              "image": "busybox",
                                              "command": ["sh", "-c", "echo one; echo two"],
                                              "resourceRequirements": [
                                                  {"type": "VCPU", "value": "1"},
                                                  {"type": "MEMORY", "value": "64"}]})
            gone = batch.submit_job(jobName="gone", jobQueue="q", jobDefinition="jd")["jobId"]
            deadline = time.time() + 60
            while True:
                jobs = batch.describe_jobs(jobs=[gone])["jobs"]
                if jobs and jobs[0]["status"] in ("SUCCEEDED", "FAILED"):
                    break
                self.assertLess(time.time(), deadline, "the job did not finish")
                time.sleep(0.1)
            self.assertEqual(jobs[0]["status"], "SUCCEEDED")
            stream = jobs[0]["container"]["logStreamName"]
            rows = "SELECT kind, count(*) FROM barge_logs WHERE stream = '%s' GROUP BY kind " \
                   "ORDER BY kind" % stream
            self.assertIn("e|2", pg.psql("retained", rows))
            # Let go after the retention (1.8 s): the job, then its lines everywhere.
            while batch.describe_jobs(jobs=[gone])["jobs"]:
                self.assertLess(time.time(), deadline, "the job was not let go")
                time.sleep(0.2)
            while "e|" in pg.psql("retained", rows):
                self.assertLess(time.time(), deadline, "the copy kept the job's lines")
                time.sleep(0.2)
            self.assertEqual(pg.psql("retained", rows).split(), ["d|1"])
            # A log group deleted by hand (DeleteLogGroup) goes from the copy too: one row, a
            # deletion without a stream, that the standby reads back.
            alogs = a.client("logs")
            alogs.create_log_group(logGroupName="/by/hand")
            alogs.create_log_stream(logGroupName="/by/hand", logStreamName="s")
            deadline = time.time() + 20
            while "/by/hand" not in standby_groups(b):
                self.assertLess(time.time(), deadline, "the standby did not read the group")
                time.sleep(0.2)
            alogs.delete_log_group(logGroupName="/by/hand")
            self.assertEqual(pg.psql("retained", "SELECT kind, stream IS NULL FROM barge_logs "
                                                 "WHERE grp = '/by/hand'").split(), ["d|t"])
            # The standby, now leading, has read the deletions back and serves no such log.
            a.kill9()
            deadline = time.time() + 20
            while healthz(b)[0] != 200:
                self.assertLess(time.time(), deadline, "the standby did not take over")
                time.sleep(0.05)
            logs = b.client("logs")
            with self.assertRaises(logs.exceptions.ResourceNotFoundException):
                logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=stream)
            self.assertNotIn("/by/hand", [g["logGroupName"] for g in
                                          logs.describe_log_groups()["logGroups"]])
            with self.assertRaises(logs.exceptions.ResourceNotFoundException):
                logs.describe_log_streams(logGroupName="/by/hand")
        finally:
            for s in (a, b):
                if s:
                    s.cleanup()
            pg.destroy()


class RetentionPolicy(unittest.TestCase):
    """A log group's retention (PutRetentionPolicy) and tags reach the copy in the database and
    the standby: the copy keeps one row with the retention, one with the tags, and, for each
    stream whose old events went, one row saying before when, and loses those events' rows;
    the standby, leading, says the retention and the tags and serves the events that were kept
    only."""

    def test_a_retention_reaches_the_copy_and_the_standby(self):
        from test_logs_api import push
        pg = PostgreSQL()
        a = b = None
        try:
            url = pg.createdb("retention")
            args = ("--dev", "--store", url)
            a = Server(args=args)
            b = Server(args=args)
            a.start(timeout=20)
            b.start(timeout=20, standby=True)
            logs = a.client("logs")
            logs.create_log_group(logGroupName="/ret")
            logs.create_log_stream(logGroupName="/ret", logStreamName="s")
            now = int(time.time() * 1000)
            old = now - 10 * 86400 * 1000
            status, out = push(a, {"s": [(old, "old one"), (old + 1, "old two"), (now, "new")]})
            self.assertEqual((status, out), (200, {}))
            # The standby has the old events before they go: it must let go of them itself.
            deadline = time.time() + 20
            while standby_events(b, "/ret", "s") != 3:
                self.assertLess(time.time(), deadline, "the standby did not read the events")
                time.sleep(0.2)
            logs.put_retention_policy(logGroupName="/ret", retentionInDays=3)
            logs.put_retention_policy(logGroupName="/ret", retentionInDays=5)
            # With the standby away, so that it reads them back together: tags, then a line of
            # the same group right after (a reader once took the tags' row for a stream's).
            b.stop()
            arn = "arn:aws:logs:us-east-1:123456789012:log-group:/ret"
            logs.tag_resource(resourceArn=arn, tags={"a": "1", "b": "2"})
            logs.untag_resource(resourceArn=arn, tagKeys=["a"])
            status, out = push(a, {"s": [(now + 1, "later")]})
            self.assertEqual((status, out), (200, {}))
            b.start(timeout=20, standby=True)
            rows = "SELECT kind, coalesce(ts::text, convert_from(msg, 'UTF8')) FROM barge_logs " \
                   "WHERE grp = '/ret' AND kind IN ('e', 'r', 'a') ORDER BY seq"
            deadline = time.time() + 20
            while pg.psql("retention", rows).split() != ["e|%d" % now, "r|5", 'a|{"b":"2"}',
                                                         "e|%d" % (now + 1)]:
                self.assertLess(time.time(), deadline, pg.psql("retention", rows))
                time.sleep(0.2)
            trims = pg.psql("retention", "SELECT stream, ts FROM barge_logs WHERE kind = 't'")
            stream, before = trims.split("|")
            self.assertEqual(stream, "s")
            self.assertLess(abs(int(before) - (now - 3 * 86400 * 1000)), 60000)
            a.kill9()
            deadline = time.time() + 20
            while healthz(b)[0] != 200:
                self.assertLess(time.time(), deadline, "the standby did not take over")
                time.sleep(0.05)
            self.assertEqual(standby_events(b, "/ret", "s"), 2)
            logs = b.client("logs")
            self.assertEqual(logs.describe_log_groups(logGroupNamePrefix="/ret")["logGroups"][0]
                             ["retentionInDays"], 5)
            self.assertEqual(logs.list_tags_for_resource(resourceArn=arn)["tags"], {"b": "2"})
            self.assertEqual([e["message"] for e in logs.get_log_events(
                logGroupName="/ret", logStreamName="s", startFromHead=True)["events"]],
                ["new", "later"])
        finally:
            for s in (a, b):
                if s:
                    s.cleanup()
            pg.destroy()


class UnconfirmedLease(unittest.TestCase):
    """A leader whose renewal does not get through (the lease row locked by another session, as
    a database that does not answer would leave it) answers /healthz 503 once its lease may have
    run out by its own clock, so that a load balancer stops sending to it before a standby could
    lead; once the renewal gets through it answers 200 again.  Everything else it serves as
    before (its commits are fenced by the epoch)."""

    def test_healthz_503_while_the_lease_is_not_renewed(self):
        pg = PostgreSQL()
        a = None
        locker = None
        try:
            url = pg.createdb("unconfirmed")
            a = Server(args=("--dev", "--store", url, "--lease-ms", "1000",
                             "--lease-renew-ms", "250"))
            a.start(timeout=20)
            self.assertEqual(healthz(a), (200, {"status": "ok", "role": "leader"}))
            locker = subprocess.Popen(
                [os.path.join(pg.bindir, "psql"), "-h", "127.0.0.1", "-p", str(pg.port), "-U",
                 "barge", "-d", "unconfirmed", "-v", "ON_ERROR_STOP=1", "-qAt"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True, preexec_fn=(lambda: os.setuid(pg.user.pw_uid)) if pg.user else None)
            locker.stdin.write("BEGIN; LOCK TABLE barge_lease IN ACCESS EXCLUSIVE MODE; "
                               "SELECT 'locked';\n")
            locker.stdin.flush()
            self.assertEqual(locker.stdout.readline().strip(), "locked")
            locked = time.time()
            deadline = locked + 10
            while healthz(a)[0] != 503:
                self.assertLess(time.time(), deadline, "the leader still said 200")
                time.sleep(0.05)
            # Not before the lease (1 s) may have run out: its last renewal was at most 250 ms
            # before the lock.
            self.assertGreater(time.time() - locked, 0.5)
            self.assertEqual(healthz(a), (503, {"status": "lease-unconfirmed",
                                                "role": "leader"}))
            locker.stdin.write("COMMIT;\n")
            locker.stdin.close()
            locker.wait(timeout=10)
            deadline = time.time() + 10
            while healthz(a)[0] != 200:
                self.assertLess(time.time(), deadline, "the renewed leader still said 503")
                time.sleep(0.05)
            self.assertEqual(healthz(a), (200, {"status": "ok", "role": "leader"}))
            self.assertIsNone(a.proc.poll())
        finally:
            if locker and locker.poll() is None:
                locker.kill()
            if a:
                a.cleanup()
            pg.destroy()
