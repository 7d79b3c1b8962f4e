"""A job's life on a real agent: the states in order, the description in full once it ran, the
AWS_BATCH_* environment, exit codes, a command that cannot start, the memory limit and the
attempt timeout (SIGTERM, then SIGKILL after the grace period)."""
import json
import os
import signal
import sys
import time
import unittest
import urllib.error
import urllib.request

from harness import REGION, arn
from test_jobs_common import FAST, STATUSES, JobsCase, memory_limit, now_ms, resources

HEX32 = r"[0-9a-f]{32}"


class Lifecycle(JobsCase):
    def watch(self, job_id, timeout=30, after_first=None):
        """Samples the job's status until it is done; returns the distinct statuses in the
        order seen.  after_first is called once the first status is seen."""
        seen = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            s = self.status(job_id)
            if not seen or seen[-1] != s:
                seen.append(s)
            if after_first:
                after_first()
                after_first = None
            if s in ("SUCCEEDED", "FAILED"):
                return seen
            time.sleep(0.01)
        self.fail("job %s not done after %ss; saw %s" % (job_id, timeout, seen))

    def assertInOrder(self, seen):
        ranks = [STATUSES.index(s) for s in seen]
        self.assertEqual(ranks, sorted(ranks), "statuses out of order: %s" % seen)

    def test_states_in_order(self):
        first = self.submit("first", command=self.gate("first").rstrip("; "))
        second = self.submit("second", command="sleep 0.3", dependsOn=[{"jobId": first}])
        # The dependent waits in PENDING while its dependency runs (until the test has seen).
        self.wait_job(first, "RUNNING", timeout=20)
        self.assertEqual(self.status(second), "PENDING")
        seen = self.watch(second, after_first=lambda: self.open_gate("first"))
        self.assertInOrder(seen)
        self.assertEqual(seen[0], "PENDING")
        self.assertIn("RUNNING", seen)
        self.assertEqual(seen[-1], "SUCCEEDED")
        self.assertEqual(self.status(first), "SUCCEEDED")

    def test_task_metadata_endpoint(self):
        """Every job gets ECS's task metadata endpoint (version 4), as a container of an AWS
        Batch job does: its task's ARN and cluster, its container's log options (the stream it
        writes to) and limits, Docker's statistics of what it uses; and the URL goes with the
        attempt."""
        script = (
            "import json, os, time, urllib.request, urllib.error\n"
            "url = os.environ['ECS_CONTAINER_METADATA_URI_V4']\n"
            "def get(u, h={}):\n"
            "    try:\n"
            "        with urllib.request.urlopen(urllib.request.Request(u, headers=h),\n"
            "                                    timeout=10) as r:\n"
            "            return r.status, json.loads(r.read())\n"
            "    except urllib.error.HTTPError as e:\n"
            "        return e.code, json.loads(e.read())\n"
            "first = get(url + '/stats')\n"
            "held = bytearray(24 << 20)\n"
            "for i in range(0, len(held), 4096): held[i] = 1\n"
            "t0 = time.process_time()\n"
            "while time.process_time() - t0 < 0.4: pass\n"
            "out = {'url': url, 'container': get(url), 'task': get(url + '/task'),\n"
            "       'first': first, 'stats': get(url + '/stats'),\n"
            "       'task_stats': get(url + '/task/stats'),\n"
            "       'v3': get(os.environ['ECS_CONTAINER_METADATA_URI'] + '/task'),\n"
            "       'creds': get(url.replace('/v4/', '/v1/credentials/'),\n"
            "                    {'Authorization': ''})}\n"
            "json.dump(out, open(os.path.join(os.environ['OUT'], 'meta.json'), 'w'))\n")
        # Debian's Python: the job's user may not enter where the tests' own lives.
        python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
        jid = self.submit("meta", command=[python, "-c", script])
        d = self.wait_job(jid, timeout=30)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        with open(os.path.join(self.out_dir, "meta.json")) as f:
            got = json.load(f)
        self.assertRegex(got["url"], r"^http://127\.0\.0\.1:\d+/v4/[0-9a-f]{32}$")
        status, task = got["task"]
        self.assertEqual(status, 200, task)
        queue = self.batch.describe_job_queues(jobQueues=["q"])["jobQueues"][0]
        ce = self.batch.describe_compute_environments(computeEnvironments=[
            queue["computeEnvironmentOrder"][0]["computeEnvironment"]])["computeEnvironments"][0]
        self.assertEqual(task["TaskARN"], d["container"]["taskArn"])
        self.assertEqual(task["Cluster"], ce["ecsClusterArn"])
        self.assertEqual((task["Family"], task["Revision"]), ("jd", d["jobDefinition"].rsplit(":", 1)[1]))
        self.assertEqual((task["LaunchType"], task["KnownStatus"]), ("EC2", "RUNNING"))
        self.assertEqual(task["Limits"], {"CPU": 1.0, "Memory": 64})
        status, container = got["container"]
        self.assertEqual(status, 200, container)
        self.assertEqual(task["Containers"], [container])
        self.assertEqual(container["Name"], "default")
        self.assertEqual(container["LogDriver"], "awslogs")
        self.assertEqual(container["LogOptions"], {
            "awslogs-group": "/aws/batch/job", "awslogs-region": REGION,
            "awslogs-stream": d["container"]["logStreamName"]})
        self.assertEqual(container["Limits"], {"CPU": 1024, "Memory": 64})
        self.assertEqual(container["Labels"]["com.amazonaws.ecs.task-arn"], task["TaskARN"])
        self.assertRegex(container["DockerId"], r"^[0-9a-f]{64}$")
        self.assertEqual(container["DockerName"],
                         "ecs-jd-%s-default-%s" % (task["Revision"], container["DockerId"][:20]))
        # Docker's statistics, read from the attempt's cgroup: what it holds and has held, its
        # limit (the job's 64 MiB), the CPU it spent; each read with the one before it.
        status, first = got["first"]
        self.assertEqual(status, 200, first)
        status, stats = got["stats"]
        self.assertEqual(status, 200, stats)
        self.assertEqual((stats["id"], stats["name"]),
                         (container["DockerId"], "/" + container["DockerName"]))
        mem = stats["memory_stats"]
        self.assertEqual(mem["limit"], 64 << 20, mem)
        # The peak is the kernel's since the attempt began: a cgroup v2 pooled from an attempt
        # before cannot say it (its memory.peak spans both), and Docker on v2 has none either.
        with open("/proc/self/cgroup") as f:
            memory_v1 = any("memory" in l.split(":")[1].split(",") for l in f if l.count(":") >= 2)
        if memory_v1 or "max_usage" in mem:
            self.assertGreaterEqual(mem["max_usage"], 24 << 20, mem)
        self.assertGreater(mem["usage"], 0, mem)
        self.assertIsInstance(mem["stats"], dict)
        cpu = stats["cpu_stats"]
        self.assertGreaterEqual(cpu["cpu_usage"]["total_usage"], 0.3e9, cpu)
        self.assertEqual(cpu["cpu_usage"]["total_usage"],
                         cpu["cpu_usage"]["usage_in_usermode"] +
                         cpu["cpu_usage"]["usage_in_kernelmode"])
        self.assertGreater(cpu["system_cpu_usage"], first["cpu_stats"]["system_cpu_usage"])
        self.assertGreaterEqual(cpu["online_cpus"], 1)
        self.assertEqual(stats["precpu_stats"]["cpu_usage"], first["cpu_stats"]["cpu_usage"])
        self.assertEqual(stats["preread"], first["read"])
        self.assertEqual(first["preread"], "0001-01-01T00:00:00Z")  # Docker's first read
        self.assertGreaterEqual(stats["pids_stats"]["current"], 1)
        status, task_stats = got["task_stats"]
        self.assertEqual(status, 200, task_stats)
        self.assertEqual(list(task_stats), [container["DockerId"]])
        self.assertEqual(task_stats[container["DockerId"]]["memory_stats"]["limit"], 64 << 20)
        self.assertEqual(got["v3"], [200, task])  # version 3's URL, which ECS sets too
        # A job without a role gets no credentials at its attempt's id, token or not.
        self.assertEqual(got["creds"][0], 403, got["creds"])
        # The attempt has ended: its URL answers no more.
        try:
            with urllib.request.urlopen(got["url"] + "/task", timeout=10) as r:
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        except OSError:
            status = None  # the agent is gone too
        self.assertNotEqual(status, 200)

    def test_running_job_is_listed_by_default_and_described_while_it_runs(self):
        # It runs until the test lets it end, however slow the listings below are.
        jid = self.submit("runner", command='while [ ! -e "$OUT/runner.go" ]; do sleep 0.05; done')
        d = self.wait_job(jid, "RUNNING", timeout=20)
        self.assertIn("startedAt", d)
        self.assertNotIn("stoppedAt", d)
        self.assertEqual(d["attempts"], [])
        self.assertRegex(d["container"]["logStreamName"], r"^jd/default/" + HEX32 + "$")
        # Where it runs, as AWS names it: the container instance and the ECS task.
        self.assertRegex(d["container"]["containerInstanceArn"],
                         r"^arn:aws:ecs:us-east-1:123456789012:container-instance/i-")
        self.assertRegex(d["container"]["taskArn"],
                         r"^arn:aws:ecs:us-east-1:123456789012:task/AWSBatch-ce-[0-9a-f-]{36}/" +
                         d["container"]["logStreamName"].rsplit("/", 1)[1] + "$")
        listed = [s["jobId"] for s in self.batch.list_jobs(jobQueue="q")["jobSummaryList"]]
        self.assertIn(jid, listed)
        listed = self.server.aws("batch", "list-jobs", "--job-queue", "q")["jobSummaryList"]
        self.assertIn(jid, [s["jobId"] for s in listed])
        open(os.path.join(self.out_dir, "runner.go"), "w").close()
        self.assertSucceeded(jid)
        self.assertNotIn(jid, [s["jobId"] for s in
                               self.batch.list_jobs(jobQueue="q")["jobSummaryList"]])

    def test_description_in_full_after_success(self):
        before = now_ms()
        jid = self.submit("full", command="echo out; echo err >&2; sleep 0.2",
                          parameters={"p": "v"}, tags={"t": "1"},
                          retryStrategy={"attempts": 2}, timeout={"attemptDurationSeconds": 60})
        d = self.assertSucceeded(jid)
        self.assertEqual(d["jobArn"], arn("job", jid))
        self.assertEqual(d["jobName"], "full")
        self.assertEqual(d["jobQueue"], arn("job-queue", "q"))
        self.assertEqual(d["jobDefinition"], arn("job-definition", "jd:1"))
        self.assertEqual(d["statusReason"], "Essential container in task exited")
        self.assertLessEqual(before, d["createdAt"])
        self.assertLessEqual(d["createdAt"], d["startedAt"])
        self.assertLessEqual(d["startedAt"], d["stoppedAt"])
        self.assertLessEqual(d["stoppedAt"], now_ms())
        self.assertGreaterEqual(d["stoppedAt"] - d["startedAt"], 150)
        self.assertEqual(len(d["attempts"]), 1)
        a = d["attempts"][0]
        self.assertEqual(a["container"]["exitCode"], 0)
        self.assertRegex(a["container"]["logStreamName"], r"^jd/default/" + HEX32 + "$")
        self.assertEqual(a["statusReason"], "Essential container in task exited")
        self.assertLessEqual(a["startedAt"], a["stoppedAt"])
        self.assertEqual(a["startedAt"], d["startedAt"])
        self.assertEqual(a["stoppedAt"], d["stoppedAt"])
        c = d["container"]
        self.assertEqual(c["image"], "busybox:latest")
        self.assertEqual(c["command"], ["sh", "-c", "echo out; echo err >&2; sleep 0.2"])
        self.assertEqual({e["name"]: e["value"] for e in c["environment"]},
                         {"OUT": self.out_dir})
        self.assertEqual(sorted(c["resourceRequirements"], key=lambda r: r["type"]),
                         sorted(resources(1, 64), key=lambda r: r["type"]))
        self.assertEqual(c["exitCode"], 0)
        self.assertEqual(c["logStreamName"], a["container"]["logStreamName"])
        self.assertEqual(d["dependsOn"], [])
        self.assertEqual(d["parameters"], {"p": "v"})
        self.assertEqual(d["tags"], {"t": "1"})
        self.assertEqual(d["retryStrategy"], {"attempts": 2})
        self.assertEqual(d["timeout"], {"attemptDurationSeconds": 60})
        self.assertIs(d["isCancelled"], False)
        self.assertIs(d["isTerminated"], False)
        self.assertNotIn("arrayProperties", d)
        # barge's own member (which boto3 does not show) says where and how it ran.
        b = self.raw_job(jid)["barge"]
        self.assertEqual(b["executor"], "process")
        self.assertRegex(b["instanceId"], r"^i-[0-9a-f]{17}$")
        usage = b["attempts"][0].pop("usage")
        self.assertEqual(b["attempts"], [{"executor": "process", "instanceId": b["instanceId"]}])
        self.assertEqual(usage, b["usage"])  # one attempt: the job's usage is its
        self.assertGreater(usage["vcpuSeconds"], 0)
        self.assertNotIn("barge", self.raw_job(jid)["attempts"][0])
        self.assertEqual(b["computeEnvironment"], "ce")
        self.assertTrue(b.get("memoryLimit"), "how memory limits are enforced")
        self.assertEqual(a["container"]["containerInstanceArn"],
                         "arn:aws:ecs:us-east-1:123456789012:container-instance/" +
                         b["instanceId"])
        # The ECS task AWS Batch would have run: in the environment's cluster, with the task id
        # that ends the attempt's log stream name.
        ce = self.batch.describe_compute_environments(computeEnvironments=["ce"])[
            "computeEnvironments"][0]
        task = a["container"]["logStreamName"].rsplit("/", 1)[1]
        self.assertEqual(a["container"]["taskArn"],
                         ce["ecsClusterArn"].replace(":cluster/", ":task/") + "/" + task)
        # The job's container names where its last attempt ran.
        self.assertEqual(c["taskArn"], a["container"]["taskArn"])
        self.assertEqual(c["containerInstanceArn"], a["container"]["containerInstanceArn"])
        # The AWS CLI sees the same.
        cli = self.server.aws("batch", "describe-jobs", "--jobs", jid)["jobs"][0]
        self.assertEqual(cli["status"], "SUCCEEDED")
        self.assertEqual(cli["attempts"], d["attempts"])

    def test_exit_code_fails_the_job(self):
        jid = self.submit("fails", command="exit 3")
        d = self.wait_job(jid)
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(d["statusReason"], "Essential container in task exited")
        self.assertEqual(d["container"]["exitCode"], 3)
        self.assertEqual([a["container"]["exitCode"] for a in d["attempts"]], [3])
        summary = self.batch.list_jobs(jobQueue="q", jobStatus="FAILED")["jobSummaryList"]
        [s] = [s for s in summary if s["jobId"] == jid]
        self.assertEqual(s["container"]["exitCode"], 3)

    def test_command_that_cannot_start(self):
        jid = self.submit("nostart", command=["/no/such/program", "x"])
        d = self.wait_job(jid)
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(len(d["attempts"]), 1)
        self.assertIn("CannotStartContainerError", d["container"].get("reason", ""))
        self.assertNotIn("exitCode", d["attempts"][0]["container"])

    def test_environment_of_a_job(self):
        path = self.out("env-plain")
        jid = self.submit("envjob", command='env -0 > "$OUT/env-plain"',
                          env={"MINE": "mine value", "OUT": self.out_dir})
        self.assertSucceeded(jid)
        env = self.read_env(path)
        self.assertEqual(env["AWS_BATCH_JOB_ID"], jid)
        self.assertEqual(env["AWS_BATCH_JQ_NAME"], "q")
        self.assertEqual(env["AWS_BATCH_CE_NAME"], "ce")
        self.assertEqual(env["AWS_BATCH_JOB_ATTEMPT"], "1")
        # What ECS's agent sets in every container (Metaflow's tasks require it).
        self.assertEqual(env["AWS_EXECUTION_ENV"], "AWS_ECS_EC2")
        self.assertNotIn("AWS_BATCH_JOB_ARRAY_INDEX", env)
        self.assertNotIn("AWS_BATCH_JOB_ARRAY_SIZE", env)
        self.assertEqual(env["MINE"], "mine value")
        self.assertEqual(env["OUT"], self.out_dir)

    def test_environment_of_array_children(self):
        for i in range(3):
            self.out("env-arr-%d" % i)
        jid = self.submit("envarr", arrayProperties={"size": 3},
                          command='env -0 > "$OUT/env-arr-$AWS_BATCH_JOB_ARRAY_INDEX"')
        self.assertSucceeded(jid)
        for i in range(3):
            env = self.read_env(os.path.join(self.out_dir, "env-arr-%d" % i))
            self.assertEqual(env["AWS_BATCH_JOB_ID"], "%s:%d" % (jid, i))
            self.assertEqual(env["AWS_BATCH_JOB_ARRAY_INDEX"], str(i))
            self.assertEqual(env["AWS_BATCH_JOB_ARRAY_SIZE"], "3")
            self.assertEqual(env["AWS_BATCH_JOB_ATTEMPT"], "1")
            self.assertEqual(env["AWS_BATCH_JQ_NAME"], "q")


class MemoryLimit(JobsCase):
    # The jobs run this machine's Python, which may live where only root can reach it.
    server_args = FAST + ("--job-user", "root")

    def test_out_of_memory_kill(self):
        jid = self.submit("oom", overrides={
            "command": [sys.executable, "-c", "b = b'\\x01' * (300 << 20); print(len(b))"],
            "resourceRequirements": resources(1, 64)})
        d = self.wait_job(jid, timeout=40)
        note = memory_limit(self.raw_job(jid))
        self.assertTrue(note, "the description does not say how memory limits are enforced")
        if note.startswith("not enforced"):
            self.skipTest("the agent does not enforce memory limits here: " + note)
        self.assertEqual(d["status"], "FAILED", d)
        self.assertEqual(d["container"].get("reason"),
                         "OutOfMemoryError: Container killed due to memory usage")
        self.assertEqual(d["attempts"][0]["container"].get("reason"),
                         "OutOfMemoryError: Container killed due to memory usage")
        self.assertNotEqual(d["container"].get("exitCode"), 0)

    def test_a_child_killed_for_memory_in_a_job_that_succeeds(self):
        # The job's shell goes on after its child is killed and exits 0: it succeeded, and
        # its reason said its container had been killed for memory.
        jid = self.submit("oom-child", overrides={
            "command": ["sh", "-c", "%s -c \"b = b'\\x01' * (300 << 20)\"; echo child=$?; "
                        "exit 0" % sys.executable],
            "resourceRequirements": resources(1, 64)})
        d = self.wait_job(jid, timeout=40)
        note = memory_limit(self.raw_job(jid))
        if note.startswith("not enforced"):
            self.skipTest("the agent does not enforce memory limits here: " + note)
        self.assertEqual((d["status"], d["container"].get("exitCode")), ("SUCCEEDED", 0), d)
        self.assertNotIn("reason", d["container"])
        self.assertNotIn("reason", d["attempts"][0]["container"])

    # AWS Batch (through ECS and Docker) reports 128 + the signal, 137 for SIGKILL and so for
    # memory kills, which tools such as Nextflow read.
    def test_signal_deaths_report_128_plus_the_signal(self):
        killed = self.submit("killed", command="kill -9 $$")
        termed = self.submit("termed", command="kill -TERM $$")
        oom = self.submit("oom-code", overrides={
            "command": [sys.executable, "-c", "b = b'\\x01' * (300 << 20)"],
            "resourceRequirements": resources(1, 64)})
        ds = self.wait_jobs([killed, termed, oom], timeout=40)
        self.assertEqual(ds[killed]["container"].get("exitCode"), 137)
        self.assertEqual(ds[killed]["attempts"][0]["container"].get("exitCode"), 137)
        self.assertEqual(ds[termed]["container"].get("exitCode"), 143)
        if not memory_limit(self.raw_job(oom)).startswith("not enforced"):
            self.assertEqual(ds[oom]["container"].get("exitCode"), 137)

    def test_within_the_limit_runs(self):
        jid = self.submit("fits", overrides={
            "command": [sys.executable, "-c", "b = b'\\x01' * (20 << 20)"],
            "resourceRequirements": resources(1, 256)})
        self.assertSucceeded(jid, timeout=40)


def alive(pid):
    """pid runs (a zombie does not count)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


class AgentDeath(JobsCase):
    def test_an_agent_killed_is_told_by_its_signal(self):
        # Told as a raw wait status ("status 9", "status 256" for exit code 1) before.
        pid_file = self.out("long-pid")
        self.submit("long", command='echo $$ > "$OUT/long-pid"; exec sleep 300')
        self.wait_for(lambda: os.path.exists(pid_file) and open(pid_file).read().strip(), 30,
                      "the job to start")
        try:
            for p in self.agent_pids("ce"):
                os.kill(p, signal.SIGKILL)
            self.wait_for(lambda: "its agent process was killed by signal 9 (Killed)"
                          in self.server.read_log(), 30, "the lost instance's reason")
            self.assertNotIn("agent process exited (status", self.server.read_log())
            # The attempt dies with its agent rather than run on beside a retry: it outlived
            # it when it ran as a uid of its own (the change of user cleared the
            # parent-death signal).
            pid = int(open(pid_file).read())
            self.wait_for(lambda: not alive(pid), 10, "the killed agent's attempt to end")
        finally:
            # Should it outlive its killed agent, it is this test's to end.
            try:
                os.kill(int(open(pid_file).read()), signal.SIGKILL)
            except (OSError, ValueError):
                pass


class Timeouts(JobsCase):
    def test_sigterm_then_sigkill_after_the_grace_period(self):
        mark = self.out("term-trapped")
        # The shell notes the SIGTERM and carries on; only SIGKILL ends it.
        script = ('trap "echo TERM >> $OUT/term-trapped" TERM; echo started >> $OUT/term-trapped;'
                  ' while true; do sleep 0.05; done')
        jid = self.submit("trapper", command=script, timeout={"attemptDurationSeconds": 1})
        d = self.wait_job(jid, timeout=30)
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(d["statusReason"], "Job attempt duration exceeded timeout")
        [a] = d["attempts"]
        self.assertEqual(a["statusReason"], "Job attempt duration exceeded timeout")
        # SIGKILL ended it: a container runtime reports 128 + 9.
        self.assertEqual(a["container"].get("exitCode"), 137)
        # 1 s to the timeout, then the 1 s grace before SIGKILL.
        took = a["stoppedAt"] - a["startedAt"]
        self.assertGreaterEqual(took, 1900, "stopped before the grace period ended")
        self.assertLess(took, 8000)
        self.assertEqual(self.read_lines(mark), ["started", "TERM"])

    def test_a_job_that_obeys_sigterm_stops_at_once(self):
        jid = self.submit("obeys", command="sleep 30", timeout={"attemptDurationSeconds": 1})
        d = self.wait_job(jid, timeout=30)
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(d["statusReason"], "Job attempt duration exceeded timeout")
        took = d["attempts"][0]["stoppedAt"] - d["attempts"][0]["startedAt"]
        self.assertGreaterEqual(took, 900)
        # SIGTERM ended it (128 + 15), not the SIGKILL a second later (137): told by the exit
        # code rather than by the clock, which a loaded machine stretches.
        self.assertEqual(d["attempts"][0]["container"].get("exitCode"), 143,
                         "a job that obeys SIGTERM should not wait for SIGKILL")
        self.assertLess(took, 8000)
        # The stop is told by the status reason alone, as ECS leaves the container's reason
        # empty (tools that show the container's reason first would show the signal instead).
        self.assertNotIn("reason", d["container"])
        self.assertNotIn("reason", d["attempts"][0]["container"])

    def test_a_job_that_exits_0_on_its_timeouts_sigterm_failed(self):
        # As on AWS: the attempt ran out of time, whatever it exited with.
        jid = self.submit("graceful", command='trap "exit 0" TERM; while true; do sleep 0.05; done',
                          timeout={"attemptDurationSeconds": 1})
        d = self.wait_job(jid, timeout=30)
        self.assertEqual((d["status"], d["statusReason"]),
                         ("FAILED", "Job attempt duration exceeded timeout"))
        self.assertEqual(d["attempts"][0]["container"]["exitCode"], 0)

    def test_a_signal_the_job_did_not_get_from_barge_is_named(self):
        jid = self.submit("self-killed", command="kill -SEGV $$")
        d = self.wait_job(jid, timeout=30)
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(d["statusReason"], "Essential container in task exited")
        self.assertEqual(d["container"]["exitCode"], 139)
        self.assertEqual(d["container"]["reason"],
                         "Container killed by signal 11 (Segmentation fault)")

    def test_every_attempt_and_every_child_has_its_own_timeout(self):
        jid = self.submit("slow", command="sleep 30", arrayProperties={"size": 2},
                          timeout={"attemptDurationSeconds": 1}, retryStrategy={"attempts": 2})
        d = self.wait_job(jid, timeout=40)
        self.assertEqual(d["status"], "FAILED")
        for i in range(2):
            c = self.job("%s:%d" % (jid, i))
            self.assertEqual(c["status"], "FAILED")
            self.assertEqual([a["statusReason"] for a in c["attempts"]],
                             ["Job attempt duration exceeded timeout"] * 2)
