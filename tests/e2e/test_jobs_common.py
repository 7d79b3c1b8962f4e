"""What the test_jobs_* modules share; this module holds no tests of its own.

JobsCase starts one server per class with a MANAGED compute environment "ce" served by the local
provider (which launches real `barge agent` processes), a queue "q" in front of it, a queue
"parked" whose only compute environment is DISABLED (its jobs stay RUNNABLE, which suits tests of
what SubmitJob records), and a job definition "jd".  Every job gets OUT in its environment: a
temporary directory where jobs write what the tests read back.
"""
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import ServerTestCase

FAST = ("--dev", "--idle-seconds", "2", "--kill-grace-seconds", "1")
DONE = ("SUCCEEDED", "FAILED")
STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")
UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def sh(script):
    """A command that runs script with the shell."""
    return ["sh", "-c", script]


def resources(vcpus="1", memory="64"):
    return [{"type": "VCPU", "value": str(vcpus)}, {"type": "MEMORY", "value": str(memory)}]


def now_ms():
    return int(time.time() * 1000)


class JobsCase(ServerTestCase):
    server_args = FAST
    max_vcpus = 4  # of compute environment "ce"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.out_dir = tempfile.mkdtemp(prefix="barge-jobs-out-")
            # Jobs run as an unprivileged user (nobody) unless a test says otherwise.
            os.chmod(cls.out_dir, 0o777)
            cls.make_ce("ce", cls.max_vcpus)
            cls.make_ce("ce-off", 4, state="DISABLED")
            cls.make_queue("q", ["ce"])
            cls.make_queue("parked", ["ce-off"])
            cls.make_definition("jd")
            cls.setUpResources()
            cls.wait_valid()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def setUpResources(cls):
        """Subclasses add their own compute environments, queues and definitions here."""

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        if getattr(cls, "out_dir", None):
            shutil.rmtree(cls.out_dir, ignore_errors=True)

    # Resources -----------------------------------------------------------------------------

    @classmethod
    def make_ce(cls, name, max_vcpus, state="ENABLED", crtype="EC2", **cr):
        cr = dict({"type": crtype, "maxvCpus": max_vcpus, "subnets": ["subnet-1"]}, **cr)
        if not crtype.startswith("FARGATE"):
            cr.setdefault("minvCpus", 0)
        cls.batch.create_compute_environment(computeEnvironmentName=name, type="MANAGED",
                                             state=state, computeResources=cr)

    @classmethod
    def make_queue(cls, name, ces, priority=1, state="ENABLED"):
        cls.batch.create_job_queue(
            jobQueueName=name, priority=priority, state=state,
            computeEnvironmentOrder=[{"order": i + 1, "computeEnvironment": ce}
                                     for i, ce in enumerate(ces)])

    @classmethod
    def make_definition(cls, name, command=None, vcpus="1", memory="64", environment=None,
                        container=None, **extra):
        """Registers a container job definition (container: more containerProperties); returns
        its ARN."""
        env = [{"name": "OUT", "value": cls.out_dir}] + list(environment or [])
        props = {"image": "busybox:latest", "command": command or ["true"],
                 "resourceRequirements": resources(vcpus, memory), "environment": env}
        props.update(container or {})
        return cls.batch.register_job_definition(
            jobDefinitionName=name, type="container", containerProperties=props,
            **extra)["jobDefinitionArn"]

    @classmethod
    def make_fargate_definition(cls, name):
        """Registers a FARGATE container job definition of 1 vCPU and 2 GiB (what Fargate
        requires of it: an execution role, resource requirements)."""
        return cls.batch.register_job_definition(
            jobDefinitionName=name, type="container", platformCapabilities=["FARGATE"],
            containerProperties={
                "image": "busybox", "command": ["true"],
                "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                         {"type": "MEMORY", "value": "2048"}],
                "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
                "networkConfiguration": {"assignPublicIp": "ENABLED"}})["jobDefinitionArn"]

    @classmethod
    def wait_valid(cls, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            ces = cls.batch.describe_compute_environments()["computeEnvironments"]
            qs = cls.batch.describe_job_queues()["jobQueues"]
            if all(x["status"] == "VALID" for x in ces + qs):
                return
            time.sleep(0.02)
        raise AssertionError("compute environments and queues did not become VALID")

    # Jobs ----------------------------------------------------------------------------------

    def submit(self, name="job", queue="q", definition="jd", command=None, env=None,
               overrides=None, **kwargs):
        """SubmitJob through boto3; command is a list or a shell script; env a dict.  Returns
        the job id."""
        ov = dict(overrides or {})
        if command is not None:
            ov["command"] = sh(command) if isinstance(command, str) else command
        if env:
            ov["environment"] = [{"name": k, "value": v} for k, v in env.items()]
        if ov:
            kwargs["containerOverrides"] = ov
        out = self.batch.submit_job(jobName=name, jobQueue=queue, jobDefinition=definition,
                                    **kwargs)
        return out["jobId"]

    def describe(self, *ids):
        """Descriptions by id (DescribeJobs, 100 at a time); unknown ids are left out."""
        found = {}
        ids = list(ids)
        for i in range(0, len(ids), 100):
            for d in self.batch.describe_jobs(jobs=ids[i:i + 100])["jobs"]:
                found[d["jobId"]] = d
        return found

    def job(self, job_id):
        return self.describe(job_id).get(job_id)

    def raw_job(self, job_id):
        """The description as the server sends it, with the members boto3 does not model
        (barge's own "barge" member)."""
        status, _, body = self.server.raw("POST", "/v1/describejobs", {"jobs": [job_id]},
                                          {"Content-Type": "application/json"})
        self.assertEqual(status, 200, body)
        return (body["jobs"] or [None])[0]

    def status(self, job_id):
        return (self.job(job_id) or {}).get("status")

    def wait_for(self, fn, timeout=20, what="the condition", interval=0.05):
        """Polls fn until it returns something true; returns that."""
        deadline = time.time() + timeout
        last = None
        while True:
            last = fn()
            if last:
                return last
            if time.time() > deadline:
                self.fail("waited %ss for %s" % (timeout, what))
            time.sleep(interval)

    def wait_job(self, job_id, want=DONE, timeout=30):
        """Waits until the job's status is one of want; returns its description."""
        if isinstance(want, str):
            want = (want,)
        seen = []

        def check():
            d = self.job(job_id)
            s = d and d["status"]
            if not seen or seen[-1] != s:
                seen.append(s)
            return d if s in want else None
        try:
            return self.wait_for(check, timeout, "job %s to reach %s" % (job_id, "/".join(want)))
        except AssertionError:
            d = self.job(job_id) or {}
            raise AssertionError("job %s did not reach %s within %ss; statuses seen %s, last "
                                 "reason %r; the server's log ends with:\n%s" % (
                                     job_id, "/".join(want), timeout, seen,
                                     d.get("statusReason"), self.log_tail()))

    def wait_jobs(self, ids, want=DONE, timeout=30):
        """Waits until every job's status is one of want; returns id -> description."""
        ids = list(ids)
        if isinstance(want, str):
            want = (want,)

        def check():
            ds = self.describe(*ids)
            return ds if len(ds) == len(ids) and all(d["status"] in want
                                                     for d in ds.values()) else None
        try:
            return self.wait_for(check, timeout, "jobs to reach %s" % "/".join(want))
        except AssertionError:
            ds = self.describe(*ids)
            raise AssertionError("jobs did not all reach %s within %ss: %s; the server's log "
                                 "ends with:\n%s" % (
                                     "/".join(want), timeout,
                                     {i: (d["status"], d.get("statusReason"))
                                      for i, d in ds.items()}, self.log_tail()))

    def log_tail(self, lines=25):
        return "\n".join(self.server.read_log().splitlines()[-lines:])

    def assertSucceeded(self, job_id, timeout=30):
        d = self.wait_job(job_id, timeout=timeout)
        self.assertEqual(d["status"], "SUCCEEDED",
                         "job failed: %r, attempts %r" % (d.get("statusReason"), d["attempts"]))
        return d

    # Files the jobs write ------------------------------------------------------------------

    def out(self, name):
        """A fresh path under OUT (as the job sees it) for a job to write to."""
        path = os.path.join(self.out_dir, name)
        if os.path.exists(path):
            os.unlink(path)
        return path

    def gate(self, name):
        """A shell command that waits until the test opens gate `name` (open_gate): a job
        that must still be running while the test looks, however slow the machine."""
        path = os.path.join(self.out_dir, name + ".go")
        if os.path.exists(path):
            os.unlink(path)
        # Opened at the end whatever happens: a test that failed before opening it would leave
        # its job holding the class's compute environment, and the next tests would fail too.
        self.addCleanup(self.open_gate, name)
        return 'while [ ! -e "$OUT/%s.go" ]; do sleep 0.05; done; ' % name

    def open_gate(self, name):
        open(os.path.join(self.out_dir, name + ".go"), "w").close()

    def read_env(self, path):
        """Reads a file written by `env -0 > path`."""
        with open(path, "rb") as f:
            data = f.read().decode()
        env = {}
        for item in data.split("\0"):
            if "=" in item:
                k, v = item.split("=", 1)
                env[k] = v
        return env

    def read_lines(self, path):
        try:
            with open(path) as f:
                return [line.rstrip("\n") for line in f if line.strip()]
        except FileNotFoundError:
            return []

    # Agents ----------------------------------------------------------------------------------

    def agent_pattern(self, ce=None):
        """What `pgrep -f` matches in the command line of the agents this test's server
        launched (for compute environment ce, or for any)."""
        pattern = "barge agent --server %s " % self.server.url
        return pattern + ("--compute-environment %s " % ce if ce else "")

    def agent_pids(self, ce=None):
        p = subprocess.run(["pgrep", "-f", self.agent_pattern(ce)], capture_output=True,
                           text=True)
        return [int(x) for x in p.stdout.split()]

    def agent_instances(self, ce=None):
        """The instance ids of the running agents (an agent's child between fork and exec shows
        the same command line: counting instances counts agents)."""
        p = subprocess.run(["pgrep", "-af", self.agent_pattern(ce)], capture_output=True,
                           text=True)
        return set(re.findall(r"--instance-id (\S+)", p.stdout))


def pid_alive(pid):
    """Whether process pid exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def memory_limit(raw):
    """How the agent that ran the job enforces memory limits, from a raw description."""
    return (raw.get("barge") or {}).get("memoryLimit") or ""


class OnTmpfs:
    """A JobsCase mixin: a tmpfs of tmpfs_size mounted at cls.mnt for the class's server, which
    on_tmpfs() may point at it before the server starts; unmounted once the server has stopped.
    Needs the right to mount (root); the class is skipped without."""
    tmpfs_size = "64m"

    @classmethod
    def on_tmpfs(cls):
        pass

    @classmethod
    def setUpClass(cls):
        cls.mnt = tempfile.mkdtemp(prefix="barge-tmpfs-")
        rc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + cls.tmpfs_size, "tmpfs",
                             cls.mnt], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL).returncode
        if rc != 0:
            os.rmdir(cls.mnt)
            raise unittest.SkipTest("cannot mount a tmpfs here")
        try:
            cls.on_tmpfs()
            super().setUpClass()
        except BaseException:
            cls.unmount()
            raise

    @classmethod
    def unmount(cls):
        subprocess.run(["umount", "-l", cls.mnt])
        os.rmdir(cls.mnt)

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.unmount()


class LogStoreFault:
    """A mixin for a JobsCase whose server's log store can be made to fail: while the file
    cls.fault names exists, its commits fail as on a full disk ($BARGE_FAULT_LOGSTORE).  Set for
    the class's whole run, so that a server its tests start again fails the same way; each test
    ends with the store writing again."""

    @classmethod
    def setUpClass(cls):
        cls.fault_dir = tempfile.mkdtemp(prefix="barge-fault-")
        cls.fault = os.path.join(cls.fault_dir, "logstore-down")
        os.environ["BARGE_FAULT_LOGSTORE"] = cls.fault
        try:
            super().setUpClass()
        except BaseException:
            del os.environ["BARGE_FAULT_LOGSTORE"]
            raise

    @classmethod
    def tearDownClass(cls):
        del os.environ["BARGE_FAULT_LOGSTORE"]
        super().tearDownClass()
        if os.path.exists(cls.fault):
            os.unlink(cls.fault)
        os.rmdir(cls.fault_dir)

    def tearDown(self):
        if os.path.exists(self.fault):
            os.unlink(self.fault)
        super().tearDown()
