"""Scheduling on real agents: queue priority across queues sharing a compute environment, first
in first out inside a queue, never more vCPUs in use than maxvCpus, the reason an unplaceable
job gives, DISABLED compute environments and queues, a FARGATE environment, and local instances
launched within maxvCpus, let go when idle, and launched again after a failed launch."""
import os
import shutil
import tempfile
import re
import time
import unittest

from test_jobs_common import FAST, JobsCase, resources

# Appends $NAME to $OUT/$LOG when the job starts.
MARK = 'echo "$NAME" >> "$OUT/$LOG"; '


class OneAtATime(JobsCase):
    """Compute environment "ce" has maxvCpus 2 and the jobs here need 2 vCPUs: one runs at a
    time, so the order in which they start is the scheduler's order."""
    max_vcpus = 2

    @classmethod
    def setUpResources(cls):
        cls.make_queue("low", ["ce"], priority=1)
        cls.make_queue("high", ["ce"], priority=10)
        cls.make_definition("big", vcpus="2")

    def marked(self, name, queue, log, sleep="0.05"):
        return self.submit(name, queue=queue, definition="big", command=MARK + "sleep " + sleep,
                           env={"NAME": name, "LOG": log})

    def test_higher_priority_queue_first_then_first_in_first_out(self):
        log = "prio.log"
        self.out(log)
        # The blocker runs until every other job is queued.
        blocker = self.submit("blocker", queue="low", definition="big",
                              command=MARK + self.gate("prio"), env={"NAME": "blocker",
                                                                     "LOG": log})
        self.wait_job(blocker, "RUNNING", timeout=20)
        ids = [self.marked("low-%d" % i, "low", log) for i in range(3)]
        ids += [self.marked("high-%d" % i, "high", log) for i in range(3)]
        for jid in ids:
            self.assertEqual(self.status(jid), "RUNNABLE")
        self.open_gate("prio")
        ds = self.wait_jobs([blocker] + ids, timeout=40)
        self.assertEqual({d["status"] for d in ds.values()}, {"SUCCEEDED"})
        self.assertEqual(self.read_lines("%s/%s" % (self.out_dir, log)),
                         ["blocker", "high-0", "high-1", "high-2", "low-0", "low-1", "low-2"])
        starts = [ds[j]["startedAt"] for j in ids[3:] + ids[:3]]
        self.assertEqual(starts, sorted(starts))

    def test_first_in_first_out_inside_a_queue(self):
        log = "fifo.log"
        self.out(log)
        blocker = self.submit("blocker", queue="q", definition="big",
                              command=MARK + self.gate("fifo"), env={"NAME": "blocker",
                                                                     "LOG": log})
        self.wait_job(blocker, "RUNNING", timeout=20)
        ids = [self.marked("job-%d" % i, "q", log) for i in range(5)]
        self.open_gate("fifo")
        self.wait_jobs([blocker] + ids, timeout=40)
        self.assertEqual(self.read_lines("%s/%s" % (self.out_dir, log)),
                         ["blocker"] + ["job-%d" % i for i in range(5)])


class ComputeEnvironmentOrder(JobsCase):
    """A queue fills its compute environments in their order, not in the order listed."""

    @classmethod
    def setUpResources(cls):
        cls.make_ce("first-ce", 2)
        cls.make_ce("second-ce", 2)
        cls.batch.create_job_queue(jobQueueName="ordered", priority=1, computeEnvironmentOrder=[
            {"order": 2, "computeEnvironment": "second-ce"},
            {"order": 1, "computeEnvironment": "first-ce"}])
        cls.make_definition("big", vcpus="2")

    def test_order(self):
        for i in range(2):
            self.out("ce-%d" % i)
        # Both run until both are running (the second environment's instance may come late).
        ids = [self.submit("o-%d" % i, queue="ordered", definition="big",
                           command='echo "$AWS_BATCH_CE_NAME" > "$OUT/ce-$NAME"; ' +
                           self.gate("order"), env={"NAME": str(i)}) for i in range(2)]
        self.wait_jobs(ids, "RUNNING", timeout=30)
        self.open_gate("order")
        ds = self.wait_jobs(ids, timeout=30)
        self.assertEqual({d["status"] for d in ds.values()}, {"SUCCEEDED"})
        # One 2-vCPU job fills first-ce; the other goes to second-ce, side by side.
        ces = [self.read_lines("%s/ce-%d" % (self.out_dir, i)) for i in range(2)]
        self.assertEqual(ces, [["first-ce"], ["second-ce"]])
        a, b = ds[ids[0]], ds[ids[1]]
        self.assertLess(b["startedAt"], a["stoppedAt"], "the second job waited for the first")


class Fargate(JobsCase):
    """A FARGATE compute environment with maxvCpus 1 runs its 1-vCPU jobs one at a time."""

    @classmethod
    def setUpResources(cls):
        cls.make_ce("farg", 1, crtype="FARGATE")
        cls.make_queue("fq", ["farg"])
        cls.make_fargate_definition("fjd")

    def test_one_at_a_time(self):
        ids = [self.submit("f-%d" % i, queue="fq", definition="fjd", command="sleep 0.3")
               for i in range(3)]
        ds = self.wait_jobs(ids, timeout=15)
        self.assertEqual({d["status"] for d in ds.values()}, {"SUCCEEDED"})
        spans = sorted((d["startedAt"], d["stoppedAt"]) for d in ds.values())
        for (_, end), (start, _) in zip(spans, spans[1:]):
            self.assertLessEqual(end, start, "two jobs ran at once under maxvCpus 1")

    def test_platform_must_match_the_queue(self):
        # As AWS: a FARGATE definition's job on an EC2 queue, and an EC2 one's on a FARGATE
        # queue, are refused at SubmitJob in AWS's words (clients such as aegea match them to
        # register a revision of the other kind), with what to do.
        for name, queue, definition, have, other in (
                ("fargate-on-ec2", "q", "fjd", "FARGATE", "EC2"),
                ("ec2-on-fargate", "fq", "jd", "EC2", "FARGATE")):
            self.assertClientError(
                self.submit, "Job Queue is attached to Compute Environment that can not run "
                "Jobs with capability %s;" % have, "'%s' has %s compute environments" % (queue, other),
                'platformCapabilities ["%s"]' % other, name=name, queue=queue,
                definition=definition)
        right = [self.submit("ec2-on-ec2", queue="q"),
                 self.submit("fargate-on-fargate", queue="fq", definition="fjd")]
        done = self.wait_jobs(right, timeout=15)
        for d in done.values():
            self.assertEqual(d["status"], "SUCCEEDED")
        # A Fargate task runs on no container instance, on AWS as here; an EC2 job's does.
        ec2, fargate = done[right[0]], done[right[1]]
        for d, has in ((ec2, True), (fargate, False)):
            for c in [d["container"]] + [a["container"] for a in d["attempts"]]:
                self.assertEqual("containerInstanceArn" in c, has, c)
                self.assertIn("taskArn", c)

    def test_a_runtime_platform_this_host_is_not_waits_with_a_reason(self):
        # A Fargate environment's agents run on the server's host: a definition asking for the
        # other architecture (Terraform's Graviton examples: ARM64) never runs here, and says
        # so with AWS's code (it ran on this host's architecture, where an ARM64-only image
        # would fail).  The host's own runs.
        host = "ARM64" if os.uname().machine == "aarch64" else "X86_64"
        other = "X86_64" if host == "ARM64" else "ARM64"
        for arch in (host, other):
            self.batch.register_job_definition(
                jobDefinitionName="f-" + arch, type="container", platformCapabilities=["FARGATE"],
                containerProperties={
                    "image": "busybox", "command": ["true"],
                    "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                             {"type": "MEMORY", "value": "2048"}],
                    "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
                    "runtimePlatform": {"operatingSystemFamily": "LINUX",
                                        "cpuArchitecture": arch}})
        away = self.submit("f-away", queue="fq", definition="f-" + other)
        here = self.submit("f-here", queue="fq", definition="f-" + host)
        self.assertEqual(self.wait_job(here, timeout=15)["status"], "SUCCEEDED")
        d = self.wait_for(lambda: (lambda j: j if j["status"] == "RUNNABLE" and
                                   j.get("statusReason") else None)(self.job(away)),
                          what="the other architecture's job to say why it waits")
        self.assertTrue(d["statusReason"].startswith(
            "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - the job's runtimePlatform asks for %s, "
            "but job queue fq's Fargate resources run on the barge server's host" % other),
            d["statusReason"])
        self.batch.terminate_job(jobId=away, reason="seen")

    def test_overrides_must_make_a_fargate_pair(self):
        # The definition's pair (1 vCPU, 2048 MiB) was checked when it was registered; a job's
        # overrides that change either must still make a pair Fargate offers (Metaflow passes
        # its @batch cpu and memory through as they are).
        def ov(**r):
            return {"resourceRequirements": [{"type": k, "value": v} for k, v in r.items()]}
        self.assertClientError(self.submit, "containerOverrides.resourceRequirements",
                               "(1 vCPU from the job definition, 512 MiB)",
                               "2048 to 8192 in steps of 1024",
                               name="small", queue="fq", definition="fjd",
                               overrides=ov(MEMORY="512"))
        self.assertClientError(self.submit, "(2 vCPU, 2048 MiB from the job definition)",
                               name="wide", queue="fq", definition="fjd",
                               overrides=ov(VCPU="2"))
        self.assertClientError(self.submit, "(2 vCPU, 20000 MiB)", name="odd", queue="fq",
                               definition="fjd", overrides=ov(VCPU="2", MEMORY="20000"))
        # The older members are not for Fargate (AWS: give them in resourceRequirements).
        for member, value in (("memory", 512), ("vcpus", 2)):
            self.assertClientError(self.submit, "containerOverrides.%s" % member,
                                   "not applicable for Fargate", name="old-" + member,
                                   queue="fq", definition="fjd", overrides={member: value})
        ok = self.submit("fits", queue="fq", definition="fjd", overrides=ov(MEMORY="3072"))
        self.assertEqual(self.wait_job(ok)["status"], "SUCCEEDED")

    def test_a_queue_that_changes_kind_holds_its_waiting_jobs(self):
        # A job queued while its queue's environments were EC2 ones, whose queue then holds
        # FARGATE ones only, never runs there: it waits with AWS's reason code and a sentence
        # that says what to do, and does not hold up the jobs behind it.
        self.make_ce("swap-ec2", 1, state="DISABLED")
        self.make_queue("swapq", ["swap-ec2"])
        waiting = self.submit("ec2-queued", queue="swapq")
        self.batch.update_job_queue(jobQueue="swapq", computeEnvironmentOrder=[
            {"order": 1, "computeEnvironment": "farg"}])
        behind = self.submit("fargate-behind", queue="swapq", definition="fjd")
        self.assertEqual(self.wait_job(behind)["status"], "SUCCEEDED")
        d = self.job(waiting)
        self.assertEqual(d["status"], "RUNNABLE")
        self.assertTrue(d["statusReason"].startswith(
            "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - "), d["statusReason"])
        self.assertIn("platformCapabilities is EC2", d["statusReason"])
        self.assertIn("job queue swapq", d["statusReason"])


class Capacity(JobsCase):
    max_vcpus = 2

    @classmethod
    def setUpResources(cls):
        cls.make_definition("huge", vcpus="4")
        cls.make_definition("hungry", memory="10000000")
        cls.batch.register_job_definition(
            jobDefinitionName="gpu", type="container",
            containerProperties={"image": "busybox", "command": ["true"],
                                 "resourceRequirements": resources(1, 64) + [
                                     {"type": "GPU", "value": "1"}]})
        cls.make_ce("later-ce", 2, state="DISABLED")
        cls.make_queue("later", ["later-ce"])
        cls.make_ce("off-ce", 2, state="DISABLED")
        cls.make_queue("offq", ["off-ce"])

    def instances(self, ce="ce"):
        """The local instances of ce that the server's log shows as launched and not yet gone,
        with their vCPUs."""
        alive = {}
        for line in self.server.read_log().splitlines():
            m = re.search(r"launched instance (i-\w+) \(\S+, (\d+) vCPUs, \d+ MiB\) for compute "
                          r"environment (\S+),", line)
            if m:
                if m.group(3) == ce:
                    alive[m.group(1)] = int(m.group(2))
                continue
            m = re.search(r"instance (i-\w+) (?:stopped|of compute environment \S+ is lost)", line)
            if m:
                alive.pop(m.group(1), None)
        return alive

    def test_never_more_vcpus_in_use_than_max_vcpus(self):
        ids = [self.submit("one-vcpu-%d" % i, command="sleep 0.5") for i in range(6)]
        most, most_listed, most_agents, most_vcpus = 0, 0, 0, 0
        deadline = time.time() + 40
        while time.time() < deadline:
            ds = self.describe(*ids)
            active = sum(d["status"] in ("STARTING", "RUNNING") for d in ds.values())
            listed = len(self.batch.list_jobs(jobQueue="q", jobStatus="RUNNING")["jobSummaryList"])
            most, most_listed = max(most, active), max(most_listed, listed)
            most_agents = max(most_agents, len(self.agent_instances("ce")))
            most_vcpus = max(most_vcpus, sum(self.instances().values()))
            if all(d["status"] in ("SUCCEEDED", "FAILED") for d in ds.values()):
                break
            time.sleep(0.03)
        self.assertEqual({d["status"] for d in self.describe(*ids).values()}, {"SUCCEEDED"})
        self.assertLessEqual(most, 2, "more than maxvCpus in use at once")
        self.assertLessEqual(most_listed, 2)
        self.assertEqual(most, 2, "two 1-vCPU jobs should run side by side")
        self.assertLessEqual(most_vcpus, 2, "instances beyond maxvCpus were launched")
        self.assertLessEqual(most_agents, 1)

    def test_unplaceable_job_says_why(self):
        jid = self.submit("too-big", definition="huge")
        time.sleep(0.3)
        d = self.job(jid)
        self.assertEqual(d["status"], "RUNNABLE")
        self.assertIn("needs 4 vCPUs, the largest instance compute environment ce can run has 2",
                      d["statusReason"])
        # It does not hold up the queue behind it.
        self.assertSucceeded(self.submit("small", command="true"))
        self.assertEqual(self.status(jid), "RUNNABLE")
        jid2 = self.submit("too-hungry", definition="hungry")
        time.sleep(0.3)
        d = self.job(jid2)
        self.assertEqual(d["status"], "RUNNABLE")
        self.assertRegex(d["statusReason"],
                         r"needs 10000000 MiB of memory, the largest instance compute "
                         r"environment ce can run has \d+ MiB")
        jid3 = self.submit("gpu-less", definition="gpu")
        time.sleep(0.3)
        self.assertIn("needs 1 GPUs, the largest instance compute environment ce can run has 0",
                      self.job(jid3)["statusReason"])
        # The reason is what the AWS CLI shows too.
        cli = self.server.aws("batch", "describe-jobs", "--jobs", jid)["jobs"][0]
        self.assertIn("needs 4 vCPUs", cli["statusReason"])
        for j in (jid, jid2, jid3):
            self.batch.cancel_job(jobId=j, reason="cannot run here")

    def test_disabled_compute_environment_places_nothing_new(self):
        jid = self.submit("later", queue="later", command="true")
        time.sleep(0.5)
        d = self.job(jid)
        self.assertEqual(d["status"], "RUNNABLE")
        self.assertIn("compute environment later-ce is DISABLED", d["statusReason"])
        self.assertNotIn("for compute environment later-ce", self.server.read_log(),
                         "an instance was launched for a DISABLED compute environment")
        self.batch.update_compute_environment(computeEnvironment="later-ce", state="ENABLED")
        self.assertSucceeded(jid)
        # A job that runs when its environment is disabled runs to the end.
        running = self.submit("running", queue="later", command=self.gate("later").rstrip("; "))
        self.wait_job(running, "RUNNING", timeout=20)
        self.batch.update_compute_environment(computeEnvironment="later-ce", state="DISABLED")
        waiting = self.submit("waiting", queue="later", command="true")
        self.assertEqual(self.status(running), "RUNNING")
        self.open_gate("later")
        self.assertSucceeded(running)
        time.sleep(0.3)
        self.assertEqual(self.status(waiting), "RUNNABLE")
        self.batch.cancel_job(jobId=waiting, reason="done with it")

    def test_disabled_queue_takes_no_new_jobs_and_runs_those_it_holds(self):
        # As AWS documents it: "new jobs can't be added to the queue, but jobs already in the
        # queue can finish", so that a queue disabled before its deletion drains.
        jid = self.submit("held", queue="offq", command="true")
        self.batch.update_job_queue(jobQueue="offq", state="DISABLED")
        self.assertClientError(self.submit, "jobQueue", "DISABLED", name="refused", queue="offq")
        self.batch.update_compute_environment(computeEnvironment="off-ce", state="ENABLED")
        self.assertSucceeded(jid)
        q = self.batch.describe_job_queues(jobQueues=["offq"])["jobQueues"][0]
        self.assertEqual(q["state"], "DISABLED")
        self.batch.update_job_queue(jobQueue="offq", state="ENABLED")


class LocalAgents(JobsCase):
    max_vcpus = 4

    def test_default_x86_64_launches_its_families(self):
        self.make_ce("x86", 2, instanceTypes=["default_x86_64"])
        self.make_queue("x86q", ["x86"])
        self.wait_valid()
        self.assertSucceeded(self.submit("on-x86", queue="x86q", command="true"))
        launched = [line for line in self.server.read_log().splitlines()
                    if "launched instance" in line and "compute environment x86" in line]
        self.assertTrue(launched, "no launch for compute environment x86")
        self.assertRegex(launched[0], r"\((m6i|c6i|r6i|c7i)\.[a-z0-9]+, ")

    def test_agents_launch_for_work_and_go_when_idle(self):
        self.assertEqual(self.agent_pids(), [], "no work, no instance")
        ids = [self.submit("w-%d" % i, command="sleep 0.5") for i in range(3)]
        self.wait_for(lambda: self.agent_pids(), 20, "an agent to start")
        self.wait_jobs(ids)
        t_done = time.time()
        # --idle-seconds 2: the instances are let go a few seconds after the work.
        self.wait_for(lambda: self.agent_pids() == [], 10, "the idle agents to stop")
        gone_after = time.time() - t_done
        self.assertGreater(gone_after, 1.0, "an agent stopped before it had been idle for 2 s")
        log = self.server.read_log()
        self.assertIn("is idle; letting it go", log)
        # Work after scale-down launches a new instance.
        self.assertSucceeded(self.submit("again", command="true"))

    def test_how_memory_was_limited_outlives_the_instance(self):
        # The agent's account of how memory limits are enforced belongs to the jobs it ran
        # (docs/agent-protocol.md); it stays in their descriptions once the instance is gone.
        jid = self.submit("noted", command="true")
        self.assertSucceeded(jid)
        note = self.raw_job(jid)["barge"].get("memoryLimit")
        self.assertTrue(note)
        self.wait_for(lambda: "instance %s stopped" % self.raw_job(jid)["barge"]["instanceId"]
                      in self.server.read_log(), 10, "the idle instance to stop")
        self.assertEqual(self.raw_job(jid)["barge"].get("memoryLimit"), note)


class LaunchFailures(JobsCase):
    work_root = os.path.join(tempfile.gettempdir(), "barge-launch-%d" % os.getpid())
    server_args = FAST + ("--agent-work-dir", work_root)

    # When the back-off after a failed launch ends, the job is given capacity again.
    def test_a_failed_launch_is_retried_after_its_back_off(self):
        # The agents' work directories cannot be made while their root is a file: the agent
        # the local provider launches exits before it registers.
        path = self.work_root
        if os.path.isdir(path):
            shutil.rmtree(path)
        open(path, "w").close()
        self.addCleanup(lambda: os.path.isfile(path) and os.unlink(path))
        self.addCleanup(shutil.rmtree, path, True)
        jid = self.submit("after-trouble", command="true")
        self.wait_for(lambda: "stopped before registering" in (
            self.job(jid).get("statusReason") or ""), 10, "the failed launch to be explained")
        os.unlink(path)
        # The back-off after one failure is a few seconds; then a launch succeeds.
        self.assertSucceeded(jid, timeout=10)


class AllocationStrategies(JobsCase):
    """maxvCpus 3 and instances of 2 vCPUs: BEST_FIT never goes over maxvCpus (one instance, so
    one 2-vCPU job at a time); BEST_FIT_PROGRESSIVE may go over by one instance, as AWS
    documents (two instances, two jobs at once)."""

    @classmethod
    def setUpResources(cls):
        for name, strategy in (("bf", "BEST_FIT"), ("bfp", "BEST_FIT_PROGRESSIVE")):
            cls.make_ce(name, 3, instanceTypes=["c5.large"], allocationStrategy=strategy)
            cls.make_queue(name + "q", [name])
        cls.make_definition("two", vcpus="2")

    def spans(self, queue, together=False):
        """Two jobs' (start, stop) in start order.  together: they run until both run (the
        second instance may take a while to come), else for a second and a half each."""
        cmd = self.gate(queue).rstrip("; ") if together else "sleep 1.5"
        ids = [self.submit("%s-%d" % (queue, i), queue=queue, definition="two", command=cmd)
               for i in range(2)]
        if together:
            self.wait_jobs(ids, "RUNNING", timeout=60)
            self.open_gate(queue)
        done = self.wait_jobs(ids, timeout=60)
        self.assertEqual({d["status"] for d in done.values()}, {"SUCCEEDED"})
        return sorted((d["startedAt"], d["stoppedAt"]) for d in done.values())

    def test_best_fit_stays_within_max_vcpus(self):
        (s1, e1), (s2, e2) = self.spans("bfq")
        self.assertGreaterEqual(s2, e1, "two 2-vCPU jobs ran at once under maxvCpus 3")

    def test_best_fit_progressive_may_exceed_by_one_instance(self):
        (s1, e1), (s2, e2) = self.spans("bfpq", together=True)
        self.assertLess(s2, e1, "the second instance was not launched")
        launched = [line for line in self.server.read_log().splitlines()
                    if "launched instance" in line and "compute environment bfp" in line]
        self.assertEqual(len(launched), 2, launched)
