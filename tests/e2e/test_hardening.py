"""What a hostile client or a local user must not be able to do: numbers out of range narrowed
into something else, an ambiguous Content-Length, instance ids of any length, files in DATA_DIR
readable by others, the agent token on a command line."""
import os
import socket
import stat
import subprocess
import time

from harness import ServerTestCase, read_to_close
from test_jobs_common import JobsCase, sh

BIG = 4294967297  # 2^32 + 1: narrowed to 32 bits it is 1
TWO31 = 2 ** 31   # narrowed to 32 bits it is negative


def raw_http(port, data, timeout=10):
    """Sends bytes on a fresh connection; returns what came back until the server closed it."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        return read_to_close(s)
    finally:
        s.close()


class Integers(ServerTestCase):
    """Every integer from outside is checked against its range before it is narrowed."""

    def post(self, path, body):
        return self.server.raw("POST", path, body)

    def refused(self, path, body, *fragments):
        status, headers, out = self.post(path, body)
        self.assertEqual(status, 400, out)
        self.assertEqual(out.get("__type"), "ClientException", out)
        for f in fragments:
            self.assertIn(f, out["message"])
        return out["message"]

    def ce(self, **cr):
        res = dict({"type": "EC2", "minvCpus": 0, "maxvCpus": 4, "subnets": ["s"]}, **cr)
        return {"computeEnvironmentName": "ce-%d" % time.monotonic_ns(), "type": "MANAGED",
                "computeResources": res}

    def jd(self, **props):
        container = dict({"image": "busybox", "command": ["true"],
                          "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                   {"type": "MEMORY", "value": "64"}]},
                         **props.pop("container", {}))
        return dict({"jobDefinitionName": "jd-%d" % time.monotonic_ns(), "type": "container",
                     "containerProperties": container}, **props)

    def test_vcpus_of_compute_environments(self):
        for member in ("maxvCpus", "minvCpus", "desiredvCpus"):
            for v in (3000000, 4294967296, -1):
                self.refused("/v1/createcomputeenvironment", self.ce(**{member: v}),
                             "computeResources.%s" % member, "between 0 and 1000000",
                             "got %d" % v)
        # boto3 sends them the same way; the largest allowed is taken.
        self.assertClientError(self.batch.create_compute_environment,
                               "computeResources.maxvCpus", "between 0 and 1000000",
                               computeEnvironmentName="boto", type="MANAGED",
                               computeResources={"type": "EC2", "minvCpus": 0,
                                                 "maxvCpus": 3000000, "subnets": ["s"]})
        body = self.ce(maxvCpus=1000000, desiredvCpus=1000000)
        status, _, out = self.post("/v1/createcomputeenvironment", body)
        self.assertEqual(status, 200, out)
        self.refused("/v1/updatecomputeenvironment",
                     {"computeEnvironment": body["computeEnvironmentName"],
                      "computeResources": {"maxvCpus": 3000000}},
                     "computeResources.maxvCpus", "between 0 and 1000000")
        self.refused("/v1/createcomputeenvironment",
                     {"computeEnvironmentName": "u", "type": "UNMANAGED",
                      "unmanagedvCpus": BIG}, "unmanagedvCpus", "between 0 and 1000000")

    def test_timeouts_and_retries(self):
        for v in (BIG, TWO31):
            self.refused("/v1/registerjobdefinition",
                         self.jd(timeout={"attemptDurationSeconds": v}),
                         "timeout.attemptDurationSeconds", "2147483647", "got %d" % v)
            self.refused("/v1/registerjobdefinition",
                         self.jd(retryStrategy={"attempts": v}),
                         "retryStrategy.attempts", "between 1 and 10")
        status, _, out = self.post("/v1/registerjobdefinition",
                                   self.jd(timeout={"attemptDurationSeconds": TWO31 - 1}))
        self.assertEqual(status, 200, out)
        self.refused("/v1/registerjobdefinition", self.jd(schedulingPriority=BIG),
                     "schedulingPriority", "between 0 and 9999")

    def test_container_members(self):
        for container, member in (
                ({"vcpus": 3000000, "memory": 64, "resourceRequirements": []}, "vcpus"),
                ({"ulimits": [{"name": "nofile", "softLimit": BIG, "hardLimit": BIG}]},
                 "ulimits[0].hardLimit"),
                ({"ulimits": [{"name": "nofile", "softLimit": -2, "hardLimit": 10}]},
                 "ulimits[0].softLimit"),
                ({"linuxParameters": {"sharedMemorySize": 2 ** 40}},
                 "linuxParameters.sharedMemorySize"),
                ({"linuxParameters": {"tmpfs": [{"containerPath": "/t", "size": 2 ** 40}]}},
                 "linuxParameters.tmpfs[0].size"),
                ({"linuxParameters": {"maxSwap": BIG}}, "linuxParameters.maxSwap")):
            self.refused("/v1/registerjobdefinition", self.jd(container=container),
                         "containerProperties." + member, "between")
        self.refused("/v1/registerjobdefinition",
                     self.jd(container={"resourceRequirements": [
                         {"type": "VCPU", "value": "3000000"},
                         {"type": "MEMORY", "value": "64"}]}),
                     "resourceRequirements[0].value", "at most 1000000")

    def test_submit_members(self):
        status, _, out = self.post("/v1/registerjobdefinition", self.jd(jobDefinitionName="sj"))
        self.assertEqual(status, 200, out)
        base = {"jobName": "j", "jobQueue": "nowhere", "jobDefinition": "sj"}
        for extra, member in (({"arrayProperties": {"size": BIG}}, "arrayProperties.size"),
                              ({"schedulingPriorityOverride": BIG},
                               "schedulingPriorityOverride"),
                              ({"timeout": {"attemptDurationSeconds": BIG}},
                               "timeout.attemptDurationSeconds"),
                              ({"retryStrategy": {"attempts": TWO31}}, "retryStrategy.attempts"),
                              ({"containerOverrides": {"vcpus": 3000000}},
                               "containerOverrides.vcpus"),
                              ({"containerOverrides": {"memory": BIG}},
                               "containerOverrides.memory")):
            self.refused("/v1/submitjob", dict(base, **extra), member, "between")

    def test_queues_and_policies(self):
        order = [{"order": 1, "computeEnvironment": "x"}]
        self.refused("/v1/createjobqueue", {"jobQueueName": "q", "priority": BIG,
                                            "computeEnvironmentOrder": order}, "priority")
        self.refused("/v1/createjobqueue", {"jobQueueName": "q", "priority": 1,
                                            "computeEnvironmentOrder": [
                                                {"order": BIG, "computeEnvironment": "x"}]},
                     "computeEnvironmentOrder[0].order", "between")
        self.refused("/v1/createschedulingpolicy",
                     {"name": "p", "fairsharePolicy": {"shareDecaySeconds": BIG}},
                     "shareDecaySeconds")

    def test_agent_registration(self):
        reg = {"computeEnvironment": "agents-ce", "vcpus": 2, "memoryMiB": 1024}
        status, _, out = self.post("/v1/createcomputeenvironment",
                                   {"computeEnvironmentName": "agents-ce",
                                    "type": "UNMANAGED"})
        self.assertEqual(status, 200, out)
        for member, v in (("vcpus", 3000000000), ("vcpus", 3000000), ("memoryMiB", 2 ** 40),
                          ("memoryMiB", 0), ("gpus", BIG)):
            self.refused("/barge/v1/agent/register", dict(reg, **{member: v}), member,
                         "between")
        # Instance ids: bounded in length and in characters, at registration and exchange.
        for bad in ("i-" + "a" * 200, "i-../../x", "i x", ""):
            self.refused("/barge/v1/agent/register", dict(reg, instanceId=bad), "instanceId",
                         "1 to 128")
            self.refused("/barge/v1/agent/exchange", {"instanceId": bad}, "instanceId",
                         "1 to 128")
        status, _, out = self.post("/barge/v1/agent/register", dict(reg, instanceId="i-ok.1_a"))
        self.assertEqual(status, 200, out)
        self.assertEqual(out["instanceId"], "i-ok.1_a")
        self.refused("/barge/v1/agent/exchange",
                     {"instanceId": "i-ok.1_a",
                      "reports": [{"jobId": "x", "attempt": BIG, "event": "started"}]},
                     "reports[0].attempt")
        self.refused("/barge/v1/agent/exchange",
                     {"instanceId": "i-ok.1_a",
                      "reports": [{"jobId": "x", "attempt": 1, "event": "ended",
                                   "signal": TWO31}]},
                     "reports[0].signal")
        # The server is still well, and (in the sanitizer build) nothing was reported.
        self.assertEqual(self.server.raw("GET", "/healthz")[0], 200)
        self.server.check_sanitizers()


class ContentLength(ServerTestCase):
    def request(self, *lengths, body=b"{}"):
        head = ("POST /v1/describejobqueues HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/json\r\nConnection: close\r\n")
        for n in lengths:
            head += "Content-Length: %s\r\n" % n
        return raw_http(self.server.port, head.encode() + b"\r\n" + body)

    def test_two_that_differ_are_refused(self):
        out = self.request(2, 200, body=b"{}")
        self.assertTrue(out.startswith(b"HTTP/1.1 400"), out[:200])
        self.assertIn(b"Content-Length", out)
        out = self.request(200, 2, body=b"{}")
        self.assertTrue(out.startswith(b"HTTP/1.1 400"), out[:200])

    def test_one_or_two_the_same_are_served(self):
        self.assertTrue(self.request(2).startswith(b"HTTP/1.1 200"))
        self.assertTrue(self.request(2, 2).startswith(b"HTTP/1.1 200"))


class AgentTokenAuth(ServerTestCase):
    server_args = ("--agent-token", "s3cret-token-for-tests")

    def test_only_the_exact_token(self):
        self.batch.create_compute_environment(computeEnvironmentName="tok-ce", type="UNMANAGED")
        body = {"computeEnvironment": "tok-ce", "vcpus": 1, "memoryMiB": 64}
        for h in ("Bearer s3cret-token-for-test", "Bearer s3cret-token-for-testsX",
                  "Bearer S3cret-token-for-tests", "Bearer ", "s3cret-token-for-tests"):
            status, _, out = self.server.raw("POST", "/barge/v1/agent/register", body,
                                             {"Authorization": h})
            self.assertIn(status, (401, 403), (h, out))
            self.assertNotIn("s3cret", out["message"])
        status, _, out = self.server.raw("POST", "/barge/v1/agent/register", body,
                                         {"Authorization": "Bearer s3cret-token-for-tests"})
        self.assertEqual(status, 200, out)
        # The join token only registers: every other request needs the instance's credential.
        status, _, out = self.server.raw("POST", "/barge/v1/agent/exchange",
                                         {"instanceId": out["instanceId"]},
                                         {"Authorization": "Bearer s3cret-token-for-tests"})
        self.assertEqual((status, out["__type"]), (401, "MissingAuthenticationTokenException"))


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class DataDir(JobsCase):
    """DATA_DIR and what is in it are the server's user's alone; so are the agents' work
    directories; the agent token is not on any command line."""

    server_args = ("--idle-seconds", "30", "--kill-grace-seconds", "1")

    def check_private(self):
        d = self.server.data_dir
        self.assertEqual(mode(d), 0o700)
        names = ("barge.db", "barge.db-wal", "barge.db-shm", "logs.db", "logs.db-wal",
                 "agent-token", "LOCK")
        for name in names:
            path = os.path.join(d, name)
            if os.path.exists(path):
                self.assertEqual(mode(path), 0o600, name)
        for name in ("barge.db", "logs.db", "agent-token"):
            self.assertTrue(os.path.exists(os.path.join(d, name)), name)
        agents = os.path.join(d, "agents")
        if os.path.isdir(agents):
            self.assertEqual(mode(agents) & 0o077, 0, "agents")
            for a in os.listdir(agents):
                self.assertEqual(mode(os.path.join(agents, a)) & 0o077, 0, a)

    def test_modes_after_start_and_writes(self):
        self.check_private()
        job = self.submit(command="echo a line of output")
        self.assertSucceeded(job)
        self.assertTrue(os.path.exists(os.path.join(self.server.data_dir, "logs.db-wal")) or
                        os.path.exists(os.path.join(self.server.data_dir, "logs.db")))
        self.check_private()

    def test_token_not_on_command_lines(self):
        token = open(os.path.join(self.server.data_dir, "agent-token")).read().strip()
        self.assertTrue(token)
        job = self.submit(command="sleep 2")
        self.wait_for(lambda: self.agent_pids("ce"), what="an agent")
        pids = self.agent_pids("ce")
        self.assertTrue(pids)
        for pid in pids:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                self.assertNotIn(token.encode(), f.read())
        self.assertSucceeded(job)

    def test_job_does_not_inherit_the_token(self):
        token = open(os.path.join(self.server.data_dir, "agent-token")).read().strip()
        job = self.submit(command="env > $OUT/env-$AWS_BATCH_JOB_ID")
        self.assertSucceeded(job)
        with open(os.path.join(self.out_dir, "env-" + job)) as f:
            env = f.read()
        self.assertNotIn("BARGE_AGENT_TOKEN", env)
        self.assertNotIn(token, env)


class WideDataDir(ServerTestCase):
    """A DATA_DIR made by someone else with wider modes is tightened, with a warning."""

    @classmethod
    def setUpClass(cls):
        import tempfile
        from harness import Server
        d = tempfile.mkdtemp(prefix="barge-wide-")
        os.chmod(d, 0o755)
        for name in ("barge.db", "logs.db"):
            open(os.path.join(d, name), "w").close()
            os.chmod(os.path.join(d, name), 0o644)
        with open(os.path.join(d, "agent-token"), "w") as f:
            f.write("a-token-from-before\n")
        os.chmod(os.path.join(d, "agent-token"), 0o644)
        cls.server = Server(data_dir=d, args=("--dev",)).start()
        cls.server.own_dir = True
        cls.batch = cls.server.client()

    def test_tightened(self):
        d = self.server.data_dir
        self.assertEqual(mode(d), 0o700)
        for name in ("barge.db", "logs.db", "agent-token"):
            self.assertEqual(mode(os.path.join(d, name)), 0o600, name)
        self.batch.create_compute_environment(computeEnvironmentName="c", type="UNMANAGED")
        for name in ("barge.db-wal", "barge.db-shm"):
            p = os.path.join(d, name)
            if os.path.exists(p):
                self.assertEqual(mode(p), 0o600, name)
        self.assertIn("was readable by others", self.server.read_log())


class PidsLimit(JobsCase):
    """Every attempt has a pids limit (--max-pids-per-job, handed to the local agents)."""

    server_args = ("--dev", "--idle-seconds", "2", "--kill-grace-seconds", "1",
                   "--max-pids-per-job", "20")

    def test_fork_beyond_the_limit_fails(self):
        script = (
            "line=$(grep -E '^[0-9]+:([^:]*,)?pids(,[^:]*)?:' /proc/self/cgroup | cut -d: -f3); "
            "if [ -n \"$line\" ]; then cat /sys/fs/cgroup/pids$line/pids.max "
            "> $OUT/max-$AWS_BATCH_JOB_ID; fi; "
            "(for i in $(seq 40); do sleep 3 & done; wait) 2> $OUT/err-$AWS_BATCH_JOB_ID; "
            "echo done > $OUT/end-$AWS_BATCH_JOB_ID")
        job = self.submit(command=script)
        self.wait_job(job, timeout=60)
        with open(os.path.join(self.out_dir, "err-" + job)) as f:
            err = f.read()
        self.assertIn("fork", err.lower(), err)
        host_pids_v1 = os.path.exists("/sys/fs/cgroup/pids/cgroup.procs")
        max_path = os.path.join(self.out_dir, "max-" + job)
        if host_pids_v1:
            with open(max_path) as f:
                self.assertEqual(f.read().strip(), "20")
        agents = self.agent_pids("ce")
        for pid in agents:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                self.assertIn(b"--max-pids\x0020", f.read())

    def test_a_dead_agents_pids_cgroups_are_removed(self):
        # An agent killed with SIGKILL leaves its pids cgroup (a clean stop removes it); the
        # next agent of the host removes it, and its attempts' cgroups with it.
        root = "/sys/fs/cgroup/pids"
        if not os.path.exists(os.path.join(root, "cgroup.procs")) or os.geteuid() != 0:
            self.skipTest("needs root and a cgroup v1 pids hierarchy")
        with open("/proc/self/cgroup") as f:
            mine = [line.split(":", 2)[2].strip() for line in f
                    if line.split(":")[1].split(",").count("pids")]
        hierarchy = os.path.join(root, mine[0].lstrip("/")) if mine else root
        gone = subprocess.Popen(["true"])
        gone.wait()  # a pid no agent has
        stale = os.path.join(hierarchy, "barge-pids-%d" % gone.pid)
        os.makedirs(os.path.join(stale, "job-1"))
        self.addCleanup(lambda: [os.rmdir(p) for p in (os.path.join(stale, "job-1"), stale)
                                 if os.path.isdir(p)])
        # A fresh agent (the class's go after 2 s idle) looks when its first attempt starts.
        self.wait_for(lambda: not self.agent_pids("ce"), 30, "the idle agents to go")
        self.assertSucceeded(self.submit(command="true"))
        self.wait_for(lambda: not os.path.exists(stale), 10, "the dead agent's pids cgroup to go")

# A job's flood of its metadata endpoint: idle connections past the endpoint's limit (each
# connection refused then is a line of libmicrohttpd's), then connections opened and closed
# half-sent for two seconds.
METADATA_FLOOD = r'''
import os, socket, time, urllib.parse
u = urllib.parse.urlparse(os.environ["ECS_CONTAINER_METADATA_URI_V4"])
held = [socket.create_connection((u.hostname, u.port)) for _ in range(64)]
end = time.time() + 2
while time.time() < end:
    try:
        s = socket.create_connection((u.hostname, u.port), timeout=1)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        s.close()
    except OSError:
        pass
'''


class LogFlood(JobsCase):
    """What a client or a job causes at will reaches the server's log at most once in 10 s,
    with a count of the lines held back: 141,966 lines came of 10 s of one job's connections
    (a local agent's stderr is its server's log), and a line of every request a client
    dropped half-sent."""

    def lines_with(self, text):
        return [line for line in self.server.read_log().splitlines() if text in line]

    def test_a_job_cannot_flood_the_log_through_its_metadata_endpoint(self):
        job = self.submit(command=["python3", "-c", METADATA_FLOOD])
        self.assertSucceeded(job)
        # The agent's lines of its endpoint (a refusal of the job's uid past its share of the
        # connections, or libmicrohttpd's), and the agent's own log is the server's.
        lines = self.lines_with("jobs' metadata endpoint:")
        self.assertTrue(lines, "the flood was not refused: no line at all")
        self.assertLessEqual(len(lines), 3, "\n".join(lines[:5]))

    def test_a_client_cannot_flood_the_log_with_requests_it_drops(self):
        # Held open a second before they are dropped: libmicrohttpd says nothing of a connection
        # that ends before it has parsed the request's first line, which a server slowed by the
        # sanitizers sometimes had not.
        held = []
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", self.server.port))
            s.sendall(b"POST /v1/describejobs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Length: 100\r\n\r\nabc")
            held.append(s)
        time.sleep(1)
        for s in held:
            s.close()
        self.wait_for(lambda: self.lines_with("http: Connection was closed"), 10,
                      "a line of the dropped requests")
        # Until the server has read the last of them: the count holds still a while.
        counts = []

        def settled():
            counts.append(len(self.lines_with("http: Connection was closed")))
            time.sleep(0.2)
            return len(counts) >= 3 and counts[-1] == counts[-2] == counts[-3]
        self.wait_for(settled, 20, "the server to read every dropped request")
        lines = self.lines_with("http: Connection was closed")
        self.assertLessEqual(len(lines), 3, "\n".join(lines[:5]))
