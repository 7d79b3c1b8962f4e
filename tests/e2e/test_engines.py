"""What workflow engines send to AWS Batch and read back, replayed against a real server.

Each test makes the calls one engine makes, in its order and with its parameters, and asserts
what that engine then relies on: the members it reads (and their types), the log read the way
it reads it, the paging it does and the errors it matches.  The engines:

- Metaflow (metaflow/plugins/aws/batch): finds the platform from the queue's first compute
  environment, looks its job definition up by a hashed name with status ACTIVE before
  registering it, submits with containerOverrides, timeout, tags and parameters, and polls
  DescribeJobs: a job is done once `stoppedAt` is there; a failure is explained by
  `container.reason`, else `statusReason`; `container.exitCode` (a multi-node job's
  `attempts[-1].container.exitCode`).  `batch list/kill` pages DescribeJobQueues and ListJobs
  and matches jobs by name and `parameters`.  Its task logs go to S3, not CloudWatch.
- Nextflow (nf-amazon, AwsBatchTaskHandler): finds a definition by name with no status filter
  and keeps an ACTIVE one whose `parameters.nf-token` matches, else registers one (awslogs
  group, volumes, ulimits, linuxParameters, tags) and uses `name:revision`; submits with a
  spot retry strategy, a timeout, tags with propagateTags and arrays; polls DescribeJobs in
  batches of up to 100 ids (array children `ID:N`); treats RUNNABLE reasons containing
  `MISCONFIGURATION:...` as unschedulable; counts attempts whose statusReason starts with
  `Host EC2`; on failure reads `container.logStreamName` and one GetLogEvents page without
  startFromHead from its log group; terminates an array child's parent; retries on
  TooManyRequestsException or 429/5xx.
- Snakemake's AWS Batch executor plugin: the same platform lookup, one privileged definition per
  job (maybe with empty tags and a timeout), submits `name:revision` (or a pre-existing
  definition by name, `name:revision` or ARN with containerOverrides), polls `status`,
  `container.exitCode`, `statusReason`, `jobDefinition`, then terminates the finished job and
  deregisters its definition by that ARN.
- miniwdl-aws: a definition per task with a host volume and mount point, submitted with a
  timeout and tags (AWS_BATCH_PARENT_JOB_ID when run inside Batch); describes every job it
  follows in one call and asserts each one comes back; reads `container.logStreamName`, and a
  failed job's `container.reason`, `statusReason` and integer `exitCode`; treats a statusReason
  with "Host EC2" and "terminated" as an interruption; deregisters the definition (for the
  workflow job right after submitting it); follows the log with FilterLogEvents until no
  `nextToken`, by eventId; reads queue tags; ships a WDL zip in up to 42 tags of 128/256
  characters on the definition and on the job; explains "JobDefinition size must be less than".

Jobs run as host processes: none of these engines needs a container for what is checked here.
"""
import hashlib
import json
import os
import re
import time
import unittest
import uuid

import botocore.exceptions

from harness import ServerTestCase
from test_jobs_common import FAST, JobsCase

GROUP = "/aws/batch/job"
HOST_EC2 = r"^Host EC2 \(instance i-[0-9a-f]+\) terminated\.$"
ACTIVE_STATES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING")


def rr(vcpus, memory, gpu=None):
    out = [{"value": str(vcpus), "type": "VCPU"}, {"value": str(memory), "type": "MEMORY"}]
    if gpu:
        out.append({"type": "GPU", "value": str(gpu)})
    return out


def page_all(client, op, key, page_size=None, **kwargs):
    """Everything a boto3 paginator yields for op (nextToken paging), a page_size at a time."""
    cfg = {"PageSize": page_size} if page_size else {}
    pages = list(client.get_paginator(op).paginate(PaginationConfig=cfg, **kwargs))
    return [x for p in pages for x in p[key]], len(pages)


class Engines(JobsCase):
    # Snakemake's plugin registers every definition privileged whether its jobs need it or not.
    server_args = FAST + ("--ignore-privileged",)

    @classmethod
    def setUpResources(cls):
        # Room for one instance of 2 vCPUs: jobs asking for more, or for more memory than any
        # instance type it allows has, are unschedulable.
        cls.make_ce("small", 2, instanceTypes=["c5.large"])
        cls.make_queue("small-q", ["small"])
        cls.make_ce("spot", 2, crtype="SPOT", instanceTypes=["c5.large"])
        cls.make_queue("spot-q", ["spot"])
        cls.make_ce("fg", 2, crtype="FARGATE")
        cls.make_queue("fg-q", ["fg"])
        # Nextflow's hints name consumable resources; its aws.batch.shareIdentifier goes with a
        # fair-share queue.
        cls.batch.create_consumable_resource(consumableResourceName="licence", totalQuantity=2,
                                             resourceType="REPLENISHABLE")
        policy = cls.batch.create_scheduling_policy(name="nf-fair", fairsharePolicy={
            "shareDecaySeconds": 60,
            "shareDistribution": [{"shareIdentifier": "nfshare", "weightFactor": 1}]})["arn"]
        cls.batch.create_job_queue(jobQueueName="fair-q", priority=1, schedulingPolicyArn=policy,
                                   computeEnvironmentOrder=[{"order": 1,
                                                             "computeEnvironment": "ce"}])
        # miniwdl-aws-submit finds its task queue (and more) in the workflow queue's tags.
        cls.batch.create_job_queue(
            jobQueueName="wf", priority=1, tags={
                "DefaultTaskQueue": "q", "DefaultTaskQueueFallback": "spot-q",
                "MiniwdlStudioEfsId": "fs-0123abcd"},
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])

    # Shared --------------------------------------------------------------------------------

    def gate_at(self, name):
        """A shell command waiting for gate `name`, with the path spelled out (the engines'
        definitions do not carry OUT)."""
        self.gate(name)
        return 'while [ ! -e "%s" ]; do sleep 0.05; done; ' % os.path.join(self.out_dir,
                                                                           name + ".go")

    def platform_of_queue(self, queue):
        """Metaflow's and Snakemake's lookup: the queue's first compute environment (as it is
        written there, an ARN on AWS), described, and its computeResources.type."""
        qs = self.batch.describe_job_queues(jobQueues=[queue])["jobQueues"]
        self.assertEqual(len(qs), 1)
        ce = qs[0]["computeEnvironmentOrder"][0]["computeEnvironment"]
        ces = self.batch.describe_compute_environments(computeEnvironments=[ce])
        self.assertEqual(len(ces["computeEnvironments"]), 1, ce)
        return ces["computeEnvironments"][0]["computeResources"]["type"]

    def events_tail(self, stream, group=GROUP):
        """Nextflow's read of a failed task's log: one GetLogEvents, no startFromHead, no
        paging; the messages joined with newlines."""
        out = self.server.client("logs").get_log_events(logGroupName=group,
                                                        logStreamName=stream)
        return out, "".join(e["message"] + "\n" for e in out["events"])

    def wait_reason(self, job_id, fragment, timeout=20):
        return self.wait_for(
            lambda: (lambda d: d if fragment in (d.get("statusReason") or "") else None)(
                self.job(job_id)), timeout, "statusReason of %s to say %s" % (job_id, fragment))

    def instance_of(self, job_id):
        return self.raw_job(job_id)["barge"]["instanceId"]

    # Metaflow ------------------------------------------------------------------------------

    def metaflow_definition(self, num_parallel=0, **container):
        """The definition Metaflow's batch plugin composes for an EC2 queue (linuxParameters
        always there, maybe empty), and its name: a hash of the whole definition."""
        props = {"image": "python:3.11", "jobRoleArn": "arn:aws:iam::123456789012:role/mf",
                 "command": ["echo", "hello world"], "resourceRequirements": rr(1, 4096),
                 "linuxParameters": {}}
        props.update(container)
        jd = {"type": "container", "containerProperties": props, "propagateTags": True}
        if num_parallel >= 1:
            jd["type"] = "multinode"
            ranges = [{"targetNodes": "0:0", "container": props}]
            if num_parallel > 1:
                ranges.append({"targetNodes": "1:%d" % (num_parallel - 1), "container": props})
            jd["nodeProperties"] = {"numNodes": num_parallel, "mainNode": 0,
                                    "nodeRangeProperties": ranges}
            del jd["containerProperties"]
        # The test's id goes into the hash too: each test registers its own first revision.
        name = "metaflow_%s" % hashlib.sha224(
            (str(jd) + self.id()).encode("utf-8")).hexdigest()
        return name, jd

    def metaflow_job_definition(self, **kw):
        """Looks the definition up by name with status ACTIVE; registers it when missing."""
        name, jd = self.metaflow_definition(**kw)
        found = self.batch.describe_job_definitions(jobDefinitionName=name, status="ACTIVE")
        if found["jobDefinitions"]:
            return found["jobDefinitions"][0]["jobDefinitionArn"], False
        out = self.batch.register_job_definition(jobDefinitionName=name, **jd)
        return out["jobDefinitionArn"], True

    def metaflow_payload(self, definition, flow, run, step, task, script, user="alice",
                         queue="q", cpu="1", memory="4096", env=None):
        attrs = {"metaflow.user": user, "metaflow.flow_name": flow, "metaflow.run_id": run,
                 "metaflow.step_name": step, "metaflow.task_id": task,
                 "metaflow.retry_count": "0", "metaflow.version": "2.12.0",
                 "metaflow.owner": user}
        environment = [{"name": k, "value": v} for k, v in (
            ("AWS_DEFAULT_REGION", "us-east-1"), ("METAFLOW_CODE_SHA", "abc123"),
            ("METAFLOW_USER", user), ("METAFLOW_SERVICE_HEADERS", json.dumps({})),
            ("METAFLOW_DEFAULT_DATASTORE", "s3"), ("METAFLOW_RUNTIME_ENVIRONMENT", "aws-batch"))]
        environment += [{"name": k, "value": v} for k, v in (env or {}).items()]
        # The entry point: make .logs under the working directory, run the step, keep its exit
        # code through the log-saving tail.
        command = ["bash", "-c", "true && mkdir -p $PWD/.logs && %s; c=$?; "
                   "echo saved > $PWD/.logs/mflog_stdout; exit $c" % script]
        return {
            "jobName": "%s-%s-%s-%s-%s-0" % (user, flow, run, step, task),
            "jobQueue": queue, "jobDefinition": definition,
            "containerOverrides": {"command": command,
                                   "resourceRequirements": [
                                       {"value": "%g" % float(cpu), "type": "VCPU"},
                                       {"value": str(int(float(memory))), "type": "MEMORY"}],
                                   "environment": environment},
            "timeout": {"attemptDurationSeconds": 5 * 24 * 60 * 60},
            "tags": {"app": "metaflow", "metaflow.flow_name": flow, "metaflow.run_id": run,
                     "metaflow.step_name": step, "metaflow.user": user,
                     "metaflow.version": "2.12.0", "metaflow.owner": user},
            "parameters": attrs}

    def metaflow_update(self, job_id):
        """RunningJob.update: DescribeJobs of the one id, which must come back."""
        jobs = self.batch.describe_jobs(jobs=[job_id])["jobs"]
        self.assertEqual(len(jobs), 1, "DescribeJobs right after SubmitJob")
        return jobs[0]

    @staticmethod
    def metaflow_is_done(d):
        stopped = d.get("stoppedAt", 0)
        return stopped > 0

    def metaflow_wait(self, job_id, timeout=30):
        deadline = time.time() + timeout
        while True:
            d = self.metaflow_update(job_id)
            if self.metaflow_is_done(d):
                return d
            # A job is either done or not: no stoppedAt before the end.
            self.assertIn(d["status"], ACTIVE_STATES, d)
            if time.time() > deadline:
                self.fail("job %s not done (stoppedAt) in %ss: %s" % (job_id, timeout, d))
            time.sleep(0.05)

    @staticmethod
    def metaflow_failure_message(d):
        """What Metaflow shows for a crashed task: the first of container.reason (a
        multi-node job: statusReason), statusReason and "Task crashed." that is there."""
        reason = d["container"].get("reason") if "container" in d else d["statusReason"]
        return next(m for m in (reason, d.get("statusReason"), "Task crashed.")
                    if m is not None)

    def test_metaflow_platform_and_queue_lookups(self):
        self.assertEqual(self.platform_of_queue("q"), "EC2")
        self.assertEqual(self.platform_of_queue("spot-q"), "SPOT")
        # `launch` without a queue takes the first ENABLED and VALID one, paging
        # DescribeJobQueues (here a queue a page).
        queues, pages = page_all(self.batch, "describe_job_queues", "jobQueues", page_size=1)
        names = [q["jobQueueName"] for q in queues]
        self.assertEqual(sorted(names), sorted(set(names)), "a queue listed twice")
        self.assertGreaterEqual(pages, len(names))
        self.assertTrue({"q", "parked", "small-q", "spot-q", "wf"} <= set(names), names)
        active = [q["jobQueueName"] for q in queues
                  if q["state"] == "ENABLED" and q["status"] == "VALID"]
        self.assertIn("q", active)

    def test_metaflow_definition_is_found_again_by_name(self):
        arn, made = self.metaflow_job_definition()
        self.assertTrue(made)
        self.assertRegex(arn, r"^arn:aws:batch:us-east-1:123456789012:job-definition/"
                              r"metaflow_[0-9a-f]{56}:1$")
        again, made = self.metaflow_job_definition()
        self.assertFalse(made, "the ACTIVE definition was not found by name")
        self.assertEqual(again, arn)
        # Once deregistered it is not found with status ACTIVE: the same name is registered
        # again, as its next revision.
        self.batch.deregister_job_definition(jobDefinition=arn)
        third, made = self.metaflow_job_definition()
        self.assertTrue(made)
        self.assertEqual(third, arn[:-2] + ":2")
        # Every option of @batch on EC2: linuxParameters, tmpfs, host and EFS volumes, a log
        # driver with options, a privileged container.
        arn2, made = self.metaflow_job_definition(
            linuxParameters={"sharedMemorySize": 2048, "swappiness": 60, "maxSwap": 8192,
                             "tmpfs": [{"containerPath": "/metaflow_temp", "size": 2048,
                                        "mountOptions": ["defaults"]}],
                             # inferentia=1 and efa=1 on a single node: an EFA device is
                             # given by its host path alone.
                             "devices": [{"containerPath": "/dev/neuron0",
                                          "hostPath": "/dev/neuron0",
                                          "permissions": ["READ", "WRITE"]},
                                         {"hostPath": "/dev/infiniband/uverbs0"}]},
            volumes=[{"name": "_data", "host": {"sourcePath": "/data"}},
                     {"name": "efs_fs-0123abcd", "efsVolumeConfiguration": {
                         "fileSystemId": "fs-0123abcd", "transitEncryption": "ENABLED"}}],
            mountPoints=[{"sourceVolume": "_data", "containerPath": "/data"},
                         {"sourceVolume": "efs_fs-0123abcd",
                          "containerPath": "/mnt/fs-0123abcd"}],
            logConfiguration={"logDriver": "awslogs",
                              "options": {"awslogs-group": "/metaflow/tasks"}},
            privileged=True)
        self.assertTrue(made)
        name = arn2.split("/")[-1].split(":")[0]
        [d] = self.batch.describe_job_definitions(jobDefinitionName=name,
                                                  status="ACTIVE")["jobDefinitions"]
        self.assertEqual(d["jobDefinitionArn"], arn2)
        self.assertEqual((d["type"], d["status"], d["revision"]), ("container", "ACTIVE", 1))
        self.assertIs(d["propagateTags"], True)
        lp = d["containerProperties"]["linuxParameters"]
        self.assertEqual((lp["sharedMemorySize"], lp["swappiness"], lp["maxSwap"]),
                         (2048, 60, 8192))
        self.assertEqual(lp["tmpfs"], [{"containerPath": "/metaflow_temp", "size": 2048,
                                        "mountOptions": ["defaults"]}])
        self.assertEqual(d["containerProperties"]["logConfiguration"]["options"],
                         {"awslogs-group": "/metaflow/tasks"})
        self.assertEqual(lp["devices"][1]["hostPath"], "/dev/infiniband/uverbs0")

    def test_metaflow_task_runs_and_is_followed_until_stopped_at(self):
        definition, _ = self.metaflow_job_definition()
        gate = self.gate_at("mf-task")
        env_file = os.path.join(self.out_dir, "mf-task.env")
        payload = self.metaflow_payload(
            definition, "HelloFlow", "1700000000000001", "start", "1",
            gate + "env -0 > %s; echo step output" % env_file, env={"MY_SETTING": "x y"})
        jid = self.batch.submit_job(**payload)["jobId"]
        d = self.metaflow_update(jid)
        self.assertEqual(d["jobName"], payload["jobName"])
        self.assertEqual(d["jobQueue"], "arn:aws:batch:us-east-1:123456789012:job-queue/q")
        self.assertIsInstance(d["createdAt"], int)
        # wait_for_launch: until RUNNING (or done), and not done while it runs.
        d = self.wait_job(jid, "RUNNING")
        self.assertFalse(self.metaflow_is_done(d), d)
        self.open_gate("mf-task")
        d = self.metaflow_wait(jid)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertIsInstance(d["stoppedAt"], int)
        self.assertGreaterEqual(d["stoppedAt"], d["createdAt"])
        self.assertEqual(d["container"]["exitCode"], 0)
        # What the task gets: the overrides' environment and Batch's own variables, which
        # the decorator records as the task's metadata.
        env = self.read_env(env_file)
        self.assertEqual((env["METAFLOW_USER"], env["MY_SETTING"], env["METAFLOW_SERVICE_HEADERS"]),
                         ("alice", "x y", "{}"))
        self.assertEqual(env["AWS_BATCH_JOB_ID"], jid)
        self.assertEqual((env["AWS_BATCH_JOB_ATTEMPT"], env["AWS_BATCH_CE_NAME"],
                          env["AWS_BATCH_JQ_NAME"]), ("1", "ce", "q"))
        # Parameters and tags as submitted (`batch list` matches on the parameters).
        self.assertEqual(d["parameters"], payload["parameters"])
        self.assertEqual(d["tags"], payload["tags"])
        self.assertEqual(d["timeout"], {"attemptDurationSeconds": 432000})
        self.assertEqual(self.batch.list_tags_for_resource(resourceArn=d["jobArn"])["tags"],
                         payload["tags"])

    def test_metaflow_failed_task_is_explained(self):
        definition, _ = self.metaflow_job_definition()
        payload = self.metaflow_payload(definition, "HelloFlow", "1700000000000002", "end",
                                        "2", "echo boom >&2; exit 3")
        jid = self.batch.submit_job(**payload)["jobId"]
        d = self.metaflow_wait(jid)
        self.assertEqual(d["status"], "FAILED")
        # An exit of its own: no container reason, so the status reason is what is shown.
        self.assertNotIn("reason", d["container"])
        self.assertEqual(self.metaflow_failure_message(d), "Essential container in task exited")
        self.assertEqual(d["container"]["exitCode"], 3)

    def test_metaflow_kill_shows_its_reason(self):
        definition, _ = self.metaflow_job_definition()
        payload = self.metaflow_payload(definition, "KillFlow", "1700000000000003", "start",
                                        "3", "sleep 60")
        jid = self.batch.submit_job(**payload)["jobId"]
        self.wait_job(jid, "RUNNING")
        self.batch.terminate_job(jobId=jid, reason="Metaflow initiated job termination.")
        d = self.metaflow_wait(jid)
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(self.metaflow_failure_message(d),
                         "Metaflow initiated job termination.")

    def test_metaflow_list_and_kill_by_flow(self):
        # Jobs of two runs of one flow, one of another flow, all waiting (queue "parked").
        definition, _ = self.metaflow_job_definition()
        ids = {}
        for user, flow, run, task in (("alice", "ListFlow", "11", "1"),
                                      ("alice", "ListFlow", "11", "2"),
                                      ("alice", "ListFlow", "12", "3"),
                                      ("bob", "ListFlow", "13", "4"),
                                      ("alice", "OtherFlow", "11", "5")):
            p = self.metaflow_payload(definition, flow, run, "start", task, "true",
                                      user=user, queue="parked")
            ids[(user, flow, run, task)] = self.batch.submit_job(**p)["jobId"]
        self.wait_jobs(ids.values(), "RUNNABLE")
        # unfinished_jobs: every ENABLED, VALID queue, every unfinished status, ListJobs paged
        # (two summaries a page here).
        queues, _ = page_all(self.batch, "describe_job_queues", "jobQueues")
        queues = [q["jobQueueName"] for q in queues
                  if q["state"] == "ENABLED" and q["status"] == "VALID"]
        summaries = []
        for q in queues:
            for status in ACTIVE_STATES:
                got, pages = page_all(self.batch, "list_jobs", "jobSummaryList", page_size=2,
                                      jobQueue=q, jobStatus=status)
                summaries += got
                if q == "parked" and status == "RUNNABLE":
                    self.assertGreaterEqual(pages, 3, "5 jobs, 2 a page")
        found = [s["jobId"] for s in summaries if "alice-ListFlow-" in s["jobName"]]
        self.assertEqual(sorted(found), sorted(v for k, v in ids.items()
                                               if k[0] == "alice" and k[1] == "ListFlow"))
        # Then DescribeJobs, 100 ids at a time, matched on the parameters.
        descs = self.batch.describe_jobs(jobs=found)["jobs"]
        run11 = [d["jobId"] for d in descs
                 if d["parameters"]["metaflow.user"] == "alice"
                 and d["parameters"]["metaflow.flow_name"] == "ListFlow"
                 and d["parameters"]["metaflow.run_id"] == "11"]
        self.assertEqual(sorted(run11), sorted([ids[("alice", "ListFlow", "11", "1")],
                                                ids[("alice", "ListFlow", "11", "2")]]))
        # kill: RunningJob.kill terminates what is not done.
        for jid in run11:
            self.batch.terminate_job(jobId=jid, reason="Metaflow initiated job termination.")
        for jid in run11:
            d = self.metaflow_wait(jid)
            self.assertEqual((d["status"], d["statusReason"]),
                             ("FAILED", "Metaflow initiated job termination."))
        left = [i for i in ids.values() if i not in run11]
        self.assertEqual({d["status"] for d in self.describe(*left).values()}, {"RUNNABLE"})
        for jid in left:
            self.batch.terminate_job(jobId=jid, reason="cleanup")

    def test_metaflow_on_fargate(self):
        self.assertEqual(self.platform_of_queue("fg-q"), "FARGATE")
        # The Fargate definition: an execution role, a public IP, ephemeral storage, and no
        # linuxParameters at all.
        name, jd = self.metaflow_definition()
        props = dict(jd["containerProperties"])
        del props["linuxParameters"]
        props.update(executionRoleArn="arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
                     networkConfiguration={"assignPublicIp": "ENABLED"},
                     ephemeralStorage={"sizeInGiB": 50})
        arn = self.batch.register_job_definition(
            jobDefinitionName=name + "_fg", type="container", containerProperties=props,
            propagateTags=True, platformCapabilities=["FARGATE"])["jobDefinitionArn"]
        # @batch(cpu=0.25, memory=512): passed through as "%g", a pair Fargate offers.
        ids = []
        for cpu, memory in (("0.25", "512"), ("1", "4096")):
            payload = self.metaflow_payload(arn, "FargateFlow", "31", "start", cpu.replace(
                ".", ""), "echo on fargate", queue="fg-q", cpu=cpu, memory=memory)
            ids.append(self.batch.submit_job(**payload)["jobId"])
        for jid in ids:
            d = self.metaflow_wait(jid)
            self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
            self.assertEqual(d["container"]["exitCode"], 0)
        d = self.job(ids[0])
        self.assertEqual(d["container"]["resourceRequirements"], rr("0.25", 512))

    def test_metaflow_retry_strategy_counts_attempts(self):
        # On Step Functions Metaflow leaves retries to Batch (retryStrategy.attempts) and
        # derives the retry count from AWS_BATCH_JOB_ATTEMPT; the job keeps its id and name.
        definition, _ = self.metaflow_job_definition()
        seen = os.path.join(self.out_dir, "mf-retry.attempts")
        payload = self.metaflow_payload(
            definition, "RetryFlow", "sfn-41", "start", "$AWS_BATCH_JOB_ID",
            'echo "$((AWS_BATCH_JOB_ATTEMPT-1))" >> %s; [ "$AWS_BATCH_JOB_ATTEMPT" -ge 2 ]'
            % seen)
        payload["jobName"] = "RetryFlow-start"
        payload["retryStrategy"] = {"attempts": 3}
        jid = self.batch.submit_job(**payload)["jobId"]
        d = self.metaflow_wait(jid)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertEqual(self.read_lines(seen), ["0", "1"])
        self.assertEqual([a["container"]["exitCode"] for a in d["attempts"]], [1, 0])
        self.assertEqual(d["retryStrategy"]["attempts"], 3)

    def test_metaflow_multinode(self):
        definition, made = self.metaflow_job_definition(num_parallel=2)
        self.assertTrue(made)
        env_dir = self.out_dir
        base = ("env -0 > %s/mf-mnp-TASK-$AWS_BATCH_JOB_NODE_INDEX.env; "
                "echo step [multinode-args]" % env_dir)
        task_id = "control-7"
        # The control task waits for its worker's task (here: its environment written).
        worker_env = os.path.join(env_dir, "mf-mnp-7-node-1-1.env")
        main_cmd = ["bash", "-c", "while [ ! -s %s ]; do sleep 0.05; done; " % worker_env
                    + base.replace("TASK", task_id).replace("[multinode-args]",
                                                            "--split-index 0")]
        other_cmd = ["bash", "-c", base.replace("TASK", "7-node-$AWS_BATCH_JOB_NODE_INDEX")
                     .replace("[multinode-args]", "--split-index $AWS_BATCH_JOB_NODE_INDEX")]
        env = [{"name": "MF_PARALLEL_CONTROL_TASK_ID", "value": task_id}]
        overrides = lambda cmd: {"command": cmd, "resourceRequirements": rr(1, 1024),
                                 "environment": env}
        jid = self.batch.submit_job(
            jobName="alice-ParFlow-21-train-control-7-0", jobQueue="q",
            jobDefinition=definition, timeout={"attemptDurationSeconds": 432000},
            parameters={"metaflow.user": "alice", "metaflow.flow_name": "ParFlow"},
            nodeOverrides={"nodePropertyOverrides": [
                {"targetNodes": "0:0", "containerOverrides": overrides(main_cmd)},
                {"targetNodes": "1:1", "containerOverrides": overrides(other_cmd)}]})["jobId"]
        d = self.metaflow_wait(jid, timeout=40)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        # A multi-node job has no container of its own: Metaflow tells the kinds apart so,
        # and takes the exit code from the last attempt's container.
        self.assertNotIn("container", d)
        self.assertTrue(d["attempts"], "no attempts on a finished multi-node job")
        self.assertEqual(d["attempts"][-1]["container"].get("exitCode"), 0)
        # The nodes, described by JOBID#N as wait_for_launch does.
        # (a worker still running when the control task ends is stopped with the job)
        nodes = self.describe(jid + "#0", jid + "#1")
        self.assertEqual(nodes[jid + "#0"]["status"], "SUCCEEDED")
        self.assertIn(nodes[jid + "#1"]["status"], ("SUCCEEDED", "FAILED"))
        self.assertEqual(d["attempts"][-1]["container"].get("exitCode"),
                         nodes[jid + "#0"]["container"]["exitCode"])
        main = self.read_env(os.path.join(env_dir, "mf-mnp-control-7-0.env"))
        other = self.read_env(worker_env)
        self.assertEqual((main["AWS_BATCH_JOB_NUM_NODES"], main["AWS_BATCH_JOB_NODE_INDEX"]),
                         ("2", "0"))
        self.assertNotIn("AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS", main)
        self.assertEqual(other["AWS_BATCH_JOB_NODE_INDEX"], "1")
        self.assertRegex(other["AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"],
                         r"^\d+\.\d+\.\d+\.\d+$")
        self.assertEqual(other["MF_PARALLEL_CONTROL_TASK_ID"], task_id)

    # Nextflow ------------------------------------------------------------------------------

    @staticmethod
    def nextflow_definition_name(image):
        # normalizeJobDefinitionName: runs of other characters become "-", prefixed "nf-".
        return "nf-" + re.sub(r"[^a-zA-Z0-9\-_]+", "-", image)

    def nextflow_find(self, name, token):
        """findJobDef: DescribeJobDefinitions by name, no status filter, one page; an ACTIVE
        one whose nf-token parameter matches gives name:revision."""
        defs = self.batch.describe_job_definitions(jobDefinitionName=name)["jobDefinitions"]
        for d in defs:
            if d["status"] == "ACTIVE" and (d.get("parameters") or {}).get("nf-token") == token:
                return "%s:%d" % (name, d["revision"])
        return None

    def nextflow_resolve(self, image, token, group=None, **container):
        name = self.nextflow_definition_name(image)
        found = self.nextflow_find(name, token)
        if found:
            return found
        props = {"image": image, "command": ["true"], "resourceRequirements": rr(1, 1024),
                 "jobRoleArn": "arn:aws:iam::123456789012:role/nf"}
        if group:
            props["logConfiguration"] = {"logDriver": "awslogs", "options": {
                "awslogs-region": "us-east-1", "awslogs-group": group}}
        props.update(container)
        res = self.batch.register_job_definition(
            jobDefinitionName=name, type="container", containerProperties=props,
            parameters={"nf-token": token},
            tags={"nextflow.io/createdAt": "2026-12-01T10:20:30.123456Z",
                  "nextflow.io/version": "25.04.0"})
        self.assertEqual(res["jobDefinitionName"], name)
        self.assertIsInstance(res["revision"], int)
        return "%s:%d" % (res["jobDefinitionName"], res["revision"])

    def nextflow_command(self, script):
        """The launcher: traps, the task's wrapper (.command.run, here a file where Nextflow
        copies it from S3) piped into bash with its output tee'd to .command.log, waited
        for.  The EXIT trap uploads .command.log with the AWS CLI, which takes a moment (here
        a sleep and a copy): tee, a process substitution, drains meanwhile, and would
        otherwise go with the shell, as everything in a container goes with its first
        process."""
        path = os.path.join(self.out_dir, "nf-%s.command.run" % uuid.uuid4().hex)
        with open(path, "w") as f:
            f.write(script)
        return ["bash", "-o", "pipefail", "-c",
                'trap "[[ -n \\$pid ]] && kill -TERM \\$pid" TERM; '
                'trap "{ ret=\\$?; sleep 0.5; cp .command.log .command.log.saved||true; '
                'exit \\$ret; }" '
                "EXIT; cat %s | bash > >(tee .command.log) 2>&1 & pid=$!; wait $pid" % path]

    def nextflow_submit(self, name, definition, script, queue="q", cpus=1, memory_mb=1024,
                        gpus=0, spot_attempts=5, time_s=30, labels=None, **extra):
        resources = [{"type": "MEMORY", "value": str(memory_mb)}]
        if cpus > 1:
            resources.append({"type": "VCPU", "value": str(cpus)})
        if gpus:
            resources.append({"type": "GPU", "value": str(gpus)})
        req = {"jobName": name, "jobQueue": queue, "jobDefinition": definition,
               "containerOverrides": {"command": self.nextflow_command(script),
                                      "resourceRequirements": resources,
                                      "environment": [{"name": "NXF_DEBUG", "value": "1"},
                                                      {"name": "AWS_RETRY_MODE",
                                                       "value": "standard"}]}}
        if labels:
            req.update(tags=labels, propagateTags=True)
        if spot_attempts:
            req["retryStrategy"] = {"attempts": spot_attempts, "evaluateOnExit": [
                {"action": "RETRY", "onStatusReason": "Host EC2*"},
                {"action": "EXIT", "onReason": "*"}]}
        if time_s:
            req["timeout"] = {"attemptDurationSeconds": max(60, time_s)}
        req.update(extra)
        return self.batch.submit_job(**req)["jobId"]

    def nextflow_describe(self, job_id, batch):
        """describeJob: one DescribeJobs for the job and the others waiting (up to 100), the
        job picked out by id."""
        ids = [job_id] + [i for i in batch if i != job_id][:99]
        found = {d["jobId"]: d for d in self.batch.describe_jobs(jobs=ids)["jobs"]}
        return found.get(job_id)

    @staticmethod
    def nextflow_err_reason(d):
        parts = []
        if d.get("statusReason"):
            parts.append(d["statusReason"])
        container = d["attempts"][-1].get("container") if d.get("attempts") else None
        if container and container.get("reason"):
            parts.append(container["reason"])
        return " - ".join(parts)

    def test_nextflow_definition_is_found_by_token(self):
        image = "quay.io/biocontainers/samtools:1.9--h8571acd_11"
        name = self.nextflow_definition_name(image)
        self.assertEqual(name, "nf-quay-io-biocontainers-samtools-1-9--h8571acd_11")
        self.assertEqual(self.batch.describe_job_definitions(
            jobDefinitionName=name)["jobDefinitions"], [])
        first = self.nextflow_resolve(
            image, "tok1", group="/nextflow/tasks",
            ulimits=[{"name": "nofile", "softLimit": 65535, "hardLimit": 65535}],
            linuxParameters={"sharedMemorySize": 1024, "initProcessEnabled": True,
                             "maxSwap": 2048, "swappiness": 10,
                             "tmpfs": [{"containerPath": "/run", "size": 64,
                                        "mountOptions": ["rw", "noexec", "nosuid"]}]},
            mountPoints=[{"sourceVolume": "aws-cli", "containerPath": "/home/ec2-user/miniconda",
                          "readOnly": True},
                         {"sourceVolume": "vol-1", "containerPath": "/scratch",
                          "readOnly": False}],
            volumes=[{"name": "aws-cli", "host": {"sourcePath": "/home/ec2-user/miniconda"}},
                     {"name": "vol-1", "host": {"sourcePath": "/scratch"}}],
            environment=[{"name": "FOO", "value": "bar"}], user="1000",
            readonlyRootFilesystem=True)
        self.assertEqual(first, name + ":1")
        # The same token finds it; another registers a new revision.
        self.assertEqual(self.nextflow_resolve(image, "tok1"), first)
        second = self.nextflow_resolve(image, "tok2")
        self.assertEqual(second, name + ":2")
        self.assertEqual(self.nextflow_resolve(image, "tok2"), second)
        # A deregistered revision is still listed, INACTIVE, and no longer matches.
        self.batch.deregister_job_definition(jobDefinition=first)
        defs = {d["revision"]: d for d in self.batch.describe_job_definitions(
            jobDefinitionName=name)["jobDefinitions"]}
        self.assertEqual({r: d["status"] for r, d in defs.items()}, {1: "INACTIVE", 2: "ACTIVE"})
        self.assertIsNone(self.nextflow_find(name, "tok1"))
        self.assertEqual(self.nextflow_resolve(image, "tok1"), name + ":3")
        p = defs[1]["containerProperties"]
        self.assertEqual(p["ulimits"], [{"name": "nofile", "softLimit": 65535,
                                         "hardLimit": 65535}])
        self.assertEqual(p["mountPoints"][0], {"sourceVolume": "aws-cli", "readOnly": True,
                                               "containerPath": "/home/ec2-user/miniconda"})
        self.assertEqual(p["logConfiguration"], {"logDriver": "awslogs", "options": {
            "awslogs-region": "us-east-1", "awslogs-group": "/nextflow/tasks"}})
        self.assertEqual(defs[1]["tags"]["nextflow.io/createdAt"], "2026-12-01T10:20:30.123456Z")

    def test_nextflow_task_failure_log_and_reason(self):
        image = "ubuntu:22.04"
        definition = self.nextflow_resolve(image, "t-log", group="/nextflow/logs")
        others = [str(uuid.uuid4()) for _ in range(5)]  # finished and forgotten, or unknown
        script = "echo first line\necho 'second line' >&2\necho third line\nexit 7\n"
        jid = self.nextflow_submit("foo_1", definition, script, labels={"project": "p1"})
        d = self.wait_for(lambda: (lambda x: x if x and x["status"] in (
            "RUNNING", "SUCCEEDED", "FAILED") else None)(self.nextflow_describe(jid, others)),
            what="checkIfRunning")
        self.assertTrue(d["container"].get("taskArn"), d)
        # getMachineInfo: the queue's environments' ECS clusters, one of which holds the task.
        order = self.batch.describe_job_queues(jobQueues=["q"])["jobQueues"][0][
            "computeEnvironmentOrder"]
        clusters = [c["ecsClusterArn"] for c in self.batch.describe_compute_environments(
            computeEnvironments=[o["computeEnvironment"] for o in order])["computeEnvironments"]]
        self.assertEqual(len(clusters), 1)
        self.assertEqual(d["container"]["taskArn"].split("/")[1], clusters[0].split("/")[1])
        d = self.wait_job(jid)
        d = self.nextflow_describe(jid, others)
        self.assertEqual(d["status"], "FAILED")
        self.assertIsInstance(d["container"]["exitCode"], int)
        self.assertEqual(d["container"]["exitCode"], 7)
        # The EXIT rule on any reason ended it after one attempt, none from a lost host.
        self.assertEqual(len(d["attempts"]), 1)
        self.assertEqual(sum(1 for a in d["attempts"]
                             if (a.get("statusReason") or "").startswith("Host EC2")), 0)
        self.assertEqual(self.nextflow_err_reason(d), "Essential container in task exited")
        self.assertEqual(d["tags"], {"project": "p1"})
        self.assertIs(d["propagateTags"], True)
        # The task's output, from its stream in the group the definition names.
        stream = self.batch.describe_jobs(jobs=[jid])["jobs"][0]["container"]["logStreamName"]
        _, text = self.events_tail(stream, "/nextflow/logs")
        self.assertEqual(text, "first line\nsecond line\nthird line\n")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.events_tail(stream, GROUP)
        self.assertEqual(cm.exception.response["Error"]["Code"], "ResourceNotFoundException")

    def test_nextflow_log_tail_is_the_latest_page(self):
        # One GetLogEvents without startFromHead: the newest events, oldest of them first.
        definition = self.nextflow_resolve("ubuntu:22.04", "t-default")
        n = 10500
        jid = self.nextflow_submit("many_lines", definition,
                                   "seq 1 %d\nexit 1\n" % n, spot_attempts=0)
        d = self.wait_job(jid, timeout=40)
        self.assertEqual(d["status"], "FAILED")
        stream = d["container"]["logStreamName"]
        out, text = self.events_tail(stream)
        lines = text.splitlines()
        self.assertTrue(lines, "no events")
        self.assertLessEqual(len(lines), 10000)
        self.assertEqual(lines[-1], str(n), "the page is not the stream's end")
        self.assertEqual(lines, [str(i) for i in range(n - len(lines) + 1, n + 1)])
        # Earlier events are a backward page away.
        back = self.server.client("logs").get_log_events(
            logGroupName=GROUP, logStreamName=stream, nextToken=out["nextBackwardToken"])
        self.assertEqual(back["events"][-1]["message"], str(n - len(lines)))
        # miniwdl's follower reads the same stream whole with FilterLogEvents, page by page
        # until no nextToken comes.
        state = {}
        followed = [e["message"] for e in self.follow_log(stream, state)]
        self.assertEqual(followed, [str(i) for i in range(1, n + 1)])
        self.assertEqual(self.follow_log(stream, state), [])

    def test_nextflow_array_children_and_terminate_by_parent(self):
        definition = self.nextflow_resolve("ubuntu:22.04", "t-array")
        jid = self.nextflow_submit(
            "arr_task", definition,
            'echo child $AWS_BATCH_JOB_ARRAY_INDEX\n[ "$AWS_BATCH_JOB_ARRAY_INDEX" != 2 ]\n',
            arrayProperties={"size": 3})
        children = ["%s:%d" % (jid, i) for i in range(3)]
        ds = self.wait_jobs(children)
        batch = self.batch.describe_jobs(jobs=children)["jobs"]
        self.assertEqual(sorted(x["jobId"] for x in batch), sorted(children))
        for i, c in enumerate(children):
            self.assertEqual(ds[c]["status"], "FAILED" if i == 2 else "SUCCEEDED", c)
            self.assertEqual(ds[c]["container"]["exitCode"], 1 if i == 2 else 0)
            _, text = self.events_tail(ds[c]["container"]["logStreamName"])
            self.assertEqual(text, "child %d\n" % i)
        self.assertEqual(len({ds[c]["container"]["logStreamName"] for c in children}), 3,
                         "children share a log stream")
        # killTask on a child terminates its parent: the children still running fail, those
        # that ended keep their end.
        gate = 'while [ ! -e "%s" ]; do sleep 0.05; done\n' % os.path.join(self.out_dir,
                                                                          "nf-arr.go")
        self.addCleanup(self.open_gate, "nf-arr")
        jid = self.nextflow_submit(
            "arr_killed", definition,
            '[ "$AWS_BATCH_JOB_ARRAY_INDEX" = 0 ] && exit 0\n' + gate,
            arrayProperties={"size": 2})
        self.wait_job(jid + ":0")
        self.wait_job(jid + ":1", "RUNNING")
        parent = (jid + ":1").split(":")[0]  # normaliseJobId
        self.assertEqual(parent, jid)
        self.batch.terminate_job(jobId=parent, reason="Job killed by NF")
        ds = self.wait_jobs([jid, jid + ":0", jid + ":1"], timeout=30)
        self.assertEqual((ds[jid]["status"], ds[jid]["statusReason"]),
                         ("FAILED", "Job killed by NF"))
        self.assertEqual(ds[jid + ":0"]["status"], "SUCCEEDED")
        self.assertEqual(ds[jid + ":1"]["status"], "FAILED")

    def test_nextflow_on_fargate(self):
        image = "public.ecr.aws/docker/library/ubuntu:22.04"
        name = self.nextflow_definition_name(image) + "-fg"
        res = self.batch.register_job_definition(
            jobDefinitionName=name, type="container", platformCapabilities=["FARGATE"],
            parameters={"nf-token": "t-fg"},
            tags={"nextflow.io/createdAt": "2026-12-01T10:20:30Z",
                  "nextflow.io/version": "25.04.0"},
            containerProperties={
                "image": image, "command": ["true"], "resourceRequirements": rr(1, 2048),
                "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
                "networkConfiguration": {"assignPublicIp": "ENABLED"},
                "ephemeralStorage": {"sizeInGiB": 50}})
        definition = "%s:%d" % (res["jobDefinitionName"], res["revision"])
        self.assertEqual(self.nextflow_find(name, "t-fg"), definition)
        # One cpu: only the memory goes in the overrides (already a size Fargate offers).
        jid = self.nextflow_submit("fg_task", definition, "echo fargate\n", queue="fg-q",
                                   memory_mb=2048)
        d = self.wait_job(jid)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertIn("taskArn", d["container"])
        _, text = self.events_tail(d["container"]["logStreamName"])
        self.assertEqual(text, "fargate\n")

    def test_nextflow_share_identifier_and_consumable_resources(self):
        image = "ubuntu:22.04"
        name = self.nextflow_definition_name(image) + "-cr"
        res = self.batch.register_job_definition(
            jobDefinitionName=name, type="container", parameters={"nf-token": "t-cr"},
            containerProperties={"image": image, "command": ["true"],
                                 "resourceRequirements": rr(1, 1024)},
            consumableResourceProperties={"consumableResourceList": [
                {"consumableResource": "licence", "quantity": 1}]})
        definition = "%s:%d" % (res["jobDefinitionName"], res["revision"])
        [d] = self.batch.describe_job_definitions(jobDefinitions=[definition])["jobDefinitions"]
        self.assertEqual(d["consumableResourceProperties"]["consumableResourceList"],
                         [{"consumableResource": "licence", "quantity": 1}])
        jid = self.nextflow_submit("shared", definition, "echo shared\n", queue="fair-q",
                                   shareIdentifier="nfshare", schedulingPriorityOverride=0)
        d = self.wait_job(jid)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertEqual(d["shareIdentifier"], "nfshare")
        # Without aws.batch.shareIdentifier, a fair-share queue refuses the job (AWS: it must
        # be given there, and must not be given elsewhere).
        self.assertClientError(self.nextflow_submit, "shareIdentifier", name="unshared",
                               definition=definition, script="true", queue="fair-q")
        self.assertClientError(self.nextflow_submit, "shareIdentifier", name="misplaced",
                               definition=definition, script="true", queue="q",
                               shareIdentifier="nfshare", schedulingPriorityOverride=0)

    def test_nextflow_unschedulable_reasons(self):
        definition = self.nextflow_resolve("ubuntu:22.04", "t-unsched")
        for cpus, memory, gpus, code in (
                (4, 1024, 0, "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE"),
                (1, 512 * 1024, 0, "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"),
                # the accelerator directive: no instance type of c5.large has a GPU
                (1, 1024, 1, "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT")):
            jid = self.nextflow_submit("too_big", definition, "true", queue="small-q",
                                       cpus=cpus, memory_mb=memory, gpus=gpus)
            d = self.wait_reason(jid, code)
            self.assertEqual(d["status"], "RUNNABLE")
            self.assertIn(code, self.nextflow_err_reason(d))
            # terminateUnschedulableJobs
            self.batch.terminate_job(jobId=jid, reason="Job killed by NF")
            d = self.wait_job(jid)
            self.assertEqual((d["status"], d["statusReason"]), ("FAILED", "Job killed by NF"))

    def test_nextflow_spot_reclaim_is_retried_and_counted(self):
        definition = self.nextflow_resolve("ubuntu:22.04", "t-spot")
        script = '[ "$AWS_BATCH_JOB_ATTEMPT" -ge 2 ] || sleep 60\necho done\n'
        jid = self.nextflow_submit("on_spot", definition, script, queue="spot-q",
                                   spot_attempts=3)
        self.wait_job(jid, "RUNNING")
        status, _, body = self.server.raw("POST", "/barge/v1/reclaiminstance",
                                          {"instanceId": self.instance_of(jid)},
                                          {"Content-Type": "application/json"})
        self.assertEqual(status, 200, body)
        d = self.wait_job(jid, timeout=40)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertEqual(len(d["attempts"]), 2)
        self.assertRegex(d["attempts"][0]["statusReason"], HOST_EC2)
        self.assertEqual(sum(1 for a in d["attempts"]
                             if (a.get("statusReason") or "").startswith("Host EC2")), 1)
        self.assertEqual(d["container"]["exitCode"], 0)

    def test_nextflow_describes_in_batches_of_100(self):
        jid = self.submit("nf-batch", queue="parked")
        unknown = [str(uuid.uuid4()) for _ in range(99)]
        got = self.batch.describe_jobs(jobs=[jid] + unknown)["jobs"]
        self.assertEqual([d["jobId"] for d in got], [jid])
        self.assertClientError(self.batch.describe_jobs, "100", jobs=[jid] + unknown + ["x"])
        self.batch.terminate_job(jobId=jid, reason="Job killed by NF")

    def test_nextflow_missing_log_stream_is_resource_not_found(self):
        # getJobOutputStream catches ResourceNotFoundException.
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.events_tail("nf-none/default/0123456789abcdef")
        self.assertEqual(cm.exception.response["Error"]["Code"], "ResourceNotFoundException")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)

    # Snakemake -----------------------------------------------------------------------------

    def snakemake_register(self, rule, command, mem=1024, vcpu=1, tags=None, timeout=None,
                           shm=None, env=None):
        job_uuid = str(uuid.uuid4())
        props = {"image": "snakemake/snakemake:latest",
                 "command": ["/bin/bash", "-c", command],
                 "environment": [{"name": k, "value": v} for k, v in (env or {}).items()],
                 "jobRoleArn": "arn:aws:iam::123456789012:role/snakemake",
                 "privileged": True,
                 "resourceRequirements": [{"type": "VCPU", "value": str(vcpu)},
                                          {"type": "MEMORY", "value": str(mem)}]}
        if shm:
            props["linuxParameters"] = {"sharedMemorySize": shm}
        kwargs = dict(jobDefinitionName="snakejob-def-%s-%s" % (rule, job_uuid),
                      type="container", containerProperties=props, tags=tags or {},
                      platformCapabilities=["EC2"])
        if timeout:
            kwargs["timeout"] = {"attemptDurationSeconds": timeout}
        jd = self.batch.register_job_definition(**kwargs)
        return jd, "snakejob-%s-%s" % (rule, job_uuid)

    def snakemake_status(self, job_id):
        """_get_job_status: (exit code, message) once done, else (None, None)."""
        jobs = self.batch.describe_jobs(jobs=[job_id]).get("jobs", [])
        self.assertEqual(len(jobs), 1)
        info = jobs[0]
        exit_code = info.get("container", {}).get("exitCode", None)
        if info["status"] == "SUCCEEDED":
            return 0, None, info
        if info["status"] == "FAILED":
            return exit_code or 1, info.get("statusReason", "Unknown reason"), info
        return None, None, info

    def snakemake_wait(self, job_id, timeout=30):
        return self.wait_for(lambda: (lambda r: r if r[0] is not None else None)(
            self.snakemake_status(job_id)), timeout, "job %s to end" % job_id)

    def test_snakemake_job_and_cleanup(self):
        self.assertEqual(self.platform_of_queue("q"), "EC2")
        out = os.path.join(self.out_dir, "smk-out.txt")
        jd, name = self.snakemake_register(
            "bwa_map", "echo $SNAKEMAKE_VAR > %s" % out, tags={}, timeout=300, shm=256,
            env={"SNAKEMAKE_VAR": "mapped"})
        self.assertEqual(jd["revision"], 1)
        tags = {"project": "genomics", "cost-center": "42"}
        sub = self.batch.submit_job(jobName=name, jobQueue="q",
                                    jobDefinition="%s:%s" % (jd["jobDefinitionName"],
                                                             jd["revision"]),
                                    tags=tags, schedulingPriorityOverride=10)
        self.assertEqual((sub["jobName"], set(sub) >= {"jobId", "jobArn"}), (name, True))
        code, msg, info = self.snakemake_wait(sub["jobId"])
        self.assertEqual((code, msg), (0, None))
        with open(out) as f:
            self.assertEqual(f.read(), "mapped\n")
        self.assertEqual(info["jobDefinition"], jd["jobDefinitionArn"])
        # The definition's timeout applies to its jobs.
        self.assertEqual(info["timeout"], {"attemptDurationSeconds": 300})
        # cleanup_job_resources: terminate (the job is done: nothing changes) and deregister
        # by the ARN the description gave.
        self.batch.terminate_job(jobId=sub["jobId"], reason="terminated by snakemake")
        after = self.job(sub["jobId"])
        self.assertEqual((after["status"], after.get("statusReason")),
                         (info["status"], info.get("statusReason")))
        self.batch.deregister_job_definition(jobDefinition=info["jobDefinition"])
        [d] = self.batch.describe_job_definitions(
            jobDefinitions=[info["jobDefinition"]])["jobDefinitions"]
        self.assertEqual(d["status"], "INACTIVE")

    def test_snakemake_definition_timeout_is_enforced(self):
        # The plugin's only timeout is the definition's.  (The plugin asks for 60 s at least;
        # this server, started with --dev, takes less, which keeps the test short.)
        jd, name = self.snakemake_register("slow", "sleep 30", timeout=2)
        sub = self.batch.submit_job(jobName=name, jobQueue="q",
                                    jobDefinition="%s:%s" % (jd["jobDefinitionName"],
                                                             jd["revision"]))
        code, msg, info = self.snakemake_wait(sub["jobId"], timeout=30)
        self.assertEqual(msg, "Job attempt duration exceeded timeout")
        self.assertNotEqual(code, 0)

    def test_snakemake_failure(self):
        jd, name = self.snakemake_register("fails", "echo nope >&2; exit 2")
        sub = self.batch.submit_job(jobName=name, jobQueue="q",
                                    jobDefinition="%s:%s" % (jd["jobDefinitionName"],
                                                             jd["revision"]))
        code, msg, info = self.snakemake_wait(sub["jobId"])
        self.assertEqual(code, 2)
        self.assertEqual(msg, "Essential container in task exited")

    def test_snakemake_preexisting_definition(self):
        arn = self.make_definition("smk-static", command=["false"])
        base = arn.rsplit(":", 1)[0].split("/")[-1]
        outs = []
        for i, ref in enumerate((base, base + ":1", arn)):
            out = os.path.join(self.out_dir, "smk-static-%d" % i)
            outs.append(out)
            sub = self.batch.submit_job(
                jobName="snakejob-static-%s" % uuid.uuid4(), jobQueue="q", jobDefinition=ref,
                containerOverrides={
                    "command": ["/bin/bash", "-c", "echo $V > %s" % out],
                    "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                             {"type": "MEMORY", "value": "1024"}],
                    "environment": [{"name": "V", "value": str(i)}]},
                tags={"run": "static"}, timeout={"attemptDurationSeconds": 120},
                schedulingPriorityOverride=5)
            code, msg, info = self.snakemake_wait(sub["jobId"])
            self.assertEqual((code, msg), (0, None), info.get("statusReason"))
            self.assertEqual(info["jobDefinition"], arn)
            self.assertEqual(info["timeout"], {"attemptDurationSeconds": 120})
        for i, out in enumerate(outs):
            with open(out) as f:
                self.assertEqual(f.read(), "%d\n" % i)

    # miniwdl-aws ---------------------------------------------------------------------------

    def miniwdl_register(self, name, root, tags=None, **extra):
        """A task's definition (the variant whose instances mount the shared file system
        themselves: a host volume)."""
        commands = ["cd %s/work" % root, "exit_code=0",
                    "bash ../command >> ../stdout.txt 2> >(tee -a ../stderr.txt >&2) || "
                    "exit_code=$?", "exit $exit_code"]
        props = {"image": "ubuntu:20.04", "command": ["/bin/bash", "-ec", "\n".join(commands)],
                 "environment": [], "resourceRequirements": rr(1, 991), "privileged": False,
                 "mountPoints": [{"containerPath": root, "sourceVolume": "file_io_root"}],
                 "volumes": [{"name": "file_io_root", "host": {"sourcePath": root}}]}
        props.update(extra)
        kwargs = {"tags": tags} if tags is not None else {}
        jd = self.batch.register_job_definition(jobDefinitionName=name, type="container",
                                                containerProperties=props, **kwargs)
        return "%s:%s" % (jd["jobDefinitionName"], jd["revision"])

    def miniwdl_task_dir(self, name, script):
        root = os.path.join(self.out_dir, name)
        os.makedirs(os.path.join(root, "work"), exist_ok=True)
        with open(os.path.join(root, "command"), "w") as f:
            f.write(script)
        for fn in ("stdout.txt", "stderr.txt"):
            open(os.path.join(root, fn), "w").close()
        os.chmod(root, 0o777)
        for fn in ("work", "stdout.txt", "stderr.txt"):
            os.chmod(os.path.join(root, fn), 0o777 if fn == "work" else 0o666)
        return root

    def miniwdl_describe(self, ids):
        """BatchJobDescriber: one DescribeJobs for every job followed, each must come back."""
        descs = self.batch.describe_jobs(jobs=list(ids))["jobs"]
        got = {d["jobId"]: d for d in descs}
        self.assertEqual(set(got), set(ids), "AWS Batch DescribeJobs didn't return all "
                                             "expected results")
        return got

    def follow_log(self, stream, state):
        """CloudWatchLogsFollower.new_events: FilterLogEvents on the stream from the newest
        timestamp seen, every page until there is no nextToken, events seen before (by
        eventId) left out."""
        logs = self.server.client("logs")
        args = {"logGroupName": GROUP, "logStreamNames": [stream]}
        if state.get("ts"):
            args["startTime"] = state["ts"]
        new, per_ts, pages = [], {}, 0
        while True:
            try:
                resp = logs.filter_log_events(**args)
            except logs.exceptions.ResourceNotFoundException:
                return new
            pages += 1
            self.assertLess(pages, 1000, "FilterLogEvents kept giving a nextToken")
            for e in resp["events"]:
                self.assertIsInstance(e["eventId"], str)
                if e["eventId"] not in state.get("ids", set()):
                    per_ts.setdefault(e["timestamp"], set()).add(e["eventId"])
                    new.append(e)
            if "nextToken" in resp:
                args["nextToken"] = resp["nextToken"]
            else:
                break
        if per_ts:
            state["ts"] = max(per_ts)
            state["ids"] = per_ts[state["ts"]]
        return new

    def test_miniwdl_tasks(self):
        ok_root = self.miniwdl_task_dir("wdl-ok", self.gate_at("wdl-ok")
                                        + "echo out-1\necho err-1 >&2\n")
        # (tee runs beside the task's shell and is killed with the container when that shell
        # exits, on AWS as here: the task lingers a moment after its last words.)
        bad_root = self.miniwdl_task_dir("wdl-bad", "echo failing >&2\nsleep 0.3\nexit 42\n")
        ids = []
        handles = []
        for root in (ok_root, bad_root):
            name = "%s-%s" % (os.path.basename(root), uuid.uuid4().hex[:8])
            handle = self.miniwdl_register(name, root)
            handles.append(handle)
            sub = self.batch.submit_job(
                jobName=name, jobQueue="q", jobDefinition=handle,
                timeout={"attemptDurationSeconds": 86400},
                tags={"AWS_BATCH_PARENT_JOB_ID": str(uuid.uuid4()), "owner": "wdl"})
            ids.append(sub["jobId"])
        ok, bad = ids
        # The log stream is named once the job runs.
        d = self.wait_for(lambda: (lambda x: x if x["status"] == "RUNNING" else None)(
            self.miniwdl_describe(ids)[ok]), what="RUNNING")
        self.assertIn("logStreamName", d["container"])
        descs = self.wait_for(lambda: (lambda x: x if all(
            v["status"] in ("SUCCEEDED", "FAILED") for v in x.values()) else None)(
                self.miniwdl_describe([bad])), what="the failing task to end")
        b = descs[bad]
        self.assertEqual(b["status"], "FAILED")
        self.assertNotIn("Host EC2", b.get("statusReason", ""))
        self.assertIn("exitCode", b["container"])
        self.assertIsInstance(b["container"]["exitCode"], int)
        self.assertEqual(b["container"]["exitCode"], 42)
        self.assertEqual(b["statusReason"], "Essential container in task exited")
        self.assertIn("logStreamName", b["container"])
        with open(os.path.join(bad_root, "stderr.txt")) as f:
            self.assertEqual(f.read(), "failing\n")
        # The failing task's stderr also reached its log (tee to the container's stderr).
        state = {}
        msgs = [e["message"] for e in self.follow_log(b["container"]["logStreamName"], state)]
        self.assertEqual(msgs, ["failing"])
        self.assertEqual(self.follow_log(b["container"]["logStreamName"], state), [])
        self.open_gate("wdl-ok")
        d = self.wait_job(ok)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        with open(os.path.join(ok_root, "stdout.txt")) as f:
            self.assertEqual(f.read(), "out-1\n")
        # Cleanup: each definition deregistered by name:revision.
        for h in handles:
            self.batch.deregister_job_definition(jobDefinition=h)
        for h in handles:
            [x] = self.batch.describe_job_definitions(jobDefinitions=[h])["jobDefinitions"]
            self.assertEqual(x["status"], "INACTIVE")

    def test_miniwdl_submit_deregisters_before_the_job_runs(self):
        q = self.batch.describe_job_queues(jobQueues=["wf"])["jobQueues"][0]
        self.assertEqual(q["tags"]["DefaultTaskQueue"], "q")
        self.assertEqual(q["tags"].get("DefaultTaskQueueFallback"), "spot-q")
        # detect_gwfcore_batch_queue: every queue in one page of up to 100, by tag.
        queues = self.batch.describe_job_queues(maxResults=100).get("jobQueues", [])
        hits = [x for x in queues if x.get("state") == "ENABLED" and x.get("status") == "VALID"
                and x.get("tags", {}).get("MiniwdlStudioEfsId", "") == "fs-0123abcd"]
        self.assertEqual([(x["jobQueueName"], x["jobQueueArn"]) for x in hits],
                         [("wf", "arn:aws:batch:us-east-1:123456789012:job-queue/wf")])
        # The workflow job: a definition with the WDL zip spread over tags, submitted with
        # more of it in the job's tags, and the definition deregistered at once.
        zipped = "".join("UEsDBBQAAAAIAAAAIQ+/=0123456789abcdefghijklmnopqrstuvwxyz"[i % 56]
                         for i in range(2 * 42 * 381))
        def_tags, job_tags = {}, {}
        for n in range(84):
            chunk = zipped[n * 381:(n + 1) * 381]
            key = "WZ" + chr((ord("A") if n % 42 < 26 else ord("a") - 26) + n % 42) + chunk[:125]
            (def_tags if n < 42 else job_tags)[key] = chunk[125:381]
        self.assertEqual({len(k) for k in def_tags}, {128})
        self.assertEqual({len(v) for v in def_tags.values()}, {256})
        name = "wdl-workflow-%s" % uuid.uuid4().hex[:8]
        jd = self.batch.register_job_definition(
            jobDefinitionName=name, platformCapabilities=["EC2"], type="container",
            containerProperties={
                "image": "ghcr.io/miniwdl-ext/miniwdl-aws:latest",
                "resourceRequirements": rr(1, 4096), "environment": [],
                "volumes": [{"name": "file_io_root", "host": {"sourcePath": self.out_dir}}],
                "mountPoints": [{"containerPath": self.out_dir,
                                 "sourceVolume": "file_io_root"}]},
            tags=def_tags)
        handle = "%s:%s" % (jd["jobDefinitionName"], jd["revision"])
        marker = os.path.join(self.out_dir, "wdl-workflow.out")
        # Half of the output, then a wait (the test follows the log meanwhile), then the rest.
        script = "; ".join("echo line-%d" % i for i in range(15))
        script += "; " + self.gate_at("wdl-workflow")
        script += "; ".join("echo line-%d" % i for i in range(15, 30))
        try:
            jid = self.batch.submit_job(
                jobName=name, jobQueue="q", jobDefinition=handle, tags=job_tags,
                containerOverrides={
                    "command": ["bash", "-c", "%s; echo $MINIWDL__AWS__TASK_QUEUE > %s"
                                % (script, marker)],
                    "environment": [
                        {"name": "MINIWDL__AWS__TASK_QUEUE", "value": "q"},
                        {"name": "MINIWDL__FILE_IO__ROOT", "value": self.out_dir},
                        {"name": "MINIWDL__SCHEDULER__CONTAINER_BACKEND",
                         "value": "aws_batch_job_no_efs"}]})["jobId"]
        finally:
            self.batch.deregister_job_definition(jobDefinition=handle)
        [x] = self.batch.describe_job_definitions(jobDefinitions=[handle])["jobDefinitions"]
        self.assertEqual(x["tags"], def_tags)
        # `--follow`: once the description names the stream, FilterLogEvents from the newest
        # timestamp seen, while the job runs and after it ended; no line twice, none lost.
        d = self.wait_for(lambda: (lambda x: x if "logStreamName" in x.get("container", {})
                                   else None)(self.job(jid)), what="the log stream's name")
        stream = d["container"]["logStreamName"]
        state, msgs = {}, []
        self.wait_for(lambda: msgs.extend(m["message"] for m in self.follow_log(stream, state))
                      or len(msgs) >= 15, what="the first lines while the job runs",
                      interval=0.2)
        self.assertEqual(self.job(jid)["status"], "RUNNING")
        self.assertEqual(msgs, ["line-%d" % i for i in range(15)])
        # startTime is inclusive: the newest timestamp's events come again (and are skipped
        # by their eventId).
        again = self.server.client("logs").filter_log_events(
            logGroupName=GROUP, logStreamNames=[stream], startTime=state["ts"])["events"]
        self.assertTrue(again and {e["eventId"] for e in again} >= state["ids"], again)
        self.open_gate("wdl-workflow")
        d = self.wait_job(jid)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertEqual(d["tags"], job_tags)
        with open(marker) as f:
            self.assertEqual(f.read(), "q\n")
        msgs += [e["message"] for e in self.follow_log(stream, state)]
        self.assertEqual(msgs, ["line-%d" % i for i in range(30)])
        self.assertEqual(self.follow_log(stream, state), [])

    def test_miniwdl_interruption_is_recognised(self):
        root = self.miniwdl_task_dir("wdl-spot", "sleep 60\n")
        name = "wdl-spot-%s" % uuid.uuid4().hex[:8]
        handle = self.miniwdl_register(name, root)
        jid = self.batch.submit_job(jobName=name, jobQueue="spot-q", jobDefinition=handle,
                                    timeout={"attemptDurationSeconds": 86400}, tags={})["jobId"]
        self.wait_job(jid, "RUNNING")
        status, _, body = self.server.raw("POST", "/barge/v1/reclaiminstance",
                                          {"instanceId": self.instance_of(jid)},
                                          {"Content-Type": "application/json"})
        self.assertEqual(status, 200, body)
        d = self.miniwdl_describe([self.wait_job(jid)["jobId"]])[jid]
        self.assertEqual(d["status"], "FAILED")
        self.assertTrue("Host EC2" in d["statusReason"] and "terminated" in d["statusReason"],
                        d["statusReason"])
        # No exit code: the task was interrupted, it did not fail.
        self.assertNotIn("exitCode", d["container"])
        self.batch.deregister_job_definition(jobDefinition=handle)

    def test_miniwdl_definition_too_large(self):
        big = [{"name": "WDL_ZIP", "value": "x" * 40000}]
        msg = self.assertClientError(
            self.batch.register_job_definition, jobDefinitionName="wdl-too-big",
            type="container", containerProperties={
                "image": "ubuntu:20.04", "resourceRequirements": rr(1, 1024),
                "environment": big})
        self.assertIn("JobDefinition size must be less than", msg)


class Throttled(ServerTestCase):
    """Calls beyond the rate: what Nextflow's retries (TooManyRequestsException, 429) and
    Metaflow's (429 or 5xx) key on, and CloudWatch Logs' own throttling error."""
    # Three calls, then one a minute: the bucket (per client address under --dev) stays empty
    # for the rest of the test.
    server_args = ("--dev", "--rate-limit", "1/m,3")

    def outcomes(self, fn, n):
        out = []
        for _ in range(n):
            try:
                fn()
                out.append(200)
            except botocore.exceptions.ClientError as e:
                out.append((e.response["ResponseMetadata"]["HTTPStatusCode"],
                            e.response["Error"]["Code"]))
        return out

    def test_batch_and_logs_throttling(self):
        self.assertEqual(self.outcomes(self.batch.describe_job_queues, 5),
                         [200, 200, 200, (429, "TooManyRequestsException"),
                          (429, "TooManyRequestsException")])
        logs = self.server.client("logs")
        self.assertEqual(self.outcomes(logs.describe_log_groups, 2),
                         [(400, "ThrottlingException")] * 2)


if __name__ == "__main__":
    unittest.main()
