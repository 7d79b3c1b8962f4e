"""SubmitJob: every request field as the job description records it, parameter substitution and
overrides as the running job sees them, the AWS CLI's submit-job, and every refusal with a
message that names the field."""
import json

from harness import arn
from test_jobs_common import JobsCase, UUID_RE, now_ms, resources


class SubmitRecordsEveryField(JobsCase):
    """Jobs on the "parked" queue stay RUNNABLE: what SubmitJob recorded is all there is."""

    @classmethod
    def setUpResources(cls):
        cls.make_definition(
            "withparams", command=["echo", "Ref::greeting", "Ref::who", "x-Ref::missing-y"],
            parameters={"greeting": "hello", "who": "world"},
            environment=[{"name": "FROM_DEF", "value": "def"},
                         {"name": "SHARED", "value": "def"}],
            retryStrategy={"attempts": 2}, timeout={"attemptDurationSeconds": 100},
            propagateTags=True, schedulingPriority=3)
        # A fair-share queue, where every job names its share.
        policy = cls.batch.create_scheduling_policy(name="shares", fairsharePolicy={
            "shareDistribution": [{"shareIdentifier": "blue"}, {"shareIdentifier": "green"}]})
        cls.batch.create_job_queue(
            jobQueueName="parked-fair", priority=1, schedulingPolicyArn=policy["arn"],
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce-off"}])
        # A definition with the legacy vcpus and memory members instead of requirements.
        cls.batch.register_job_definition(
            jobDefinitionName="legacy", type="container",
            containerProperties={"image": "busybox", "command": ["true"], "vcpus": 1,
                                 "memory": 128})

    def test_answer_and_identity(self):
        before = now_ms()
        out = self.batch.submit_job(jobName="ident-1", jobQueue="parked", jobDefinition="jd")
        after = now_ms()
        self.assertRegex(out["jobId"], UUID_RE)
        self.assertEqual(out["jobName"], "ident-1")
        self.assertEqual(out["jobArn"], arn("job", out["jobId"]))
        d = self.job(out["jobId"])
        self.assertEqual(d["jobArn"], out["jobArn"])
        self.assertEqual(d["jobId"], out["jobId"])
        self.assertEqual(d["jobName"], "ident-1")
        self.assertEqual(d["jobQueue"], arn("job-queue", "parked"))
        self.assertEqual(d["jobDefinition"], arn("job-definition", "jd:1"))
        self.assertIn(d["status"], ("SUBMITTED", "PENDING", "RUNNABLE"))
        self.assertGreaterEqual(d["createdAt"], before - 5)
        self.assertLessEqual(d["createdAt"], after + 5)
        self.assertNotIn("startedAt", d)
        self.assertNotIn("stoppedAt", d)
        self.assertEqual(d["attempts"], [])
        self.assertIs(d["isCancelled"], False)
        self.assertIs(d["isTerminated"], False)
        self.assertEqual(d["dependsOn"], [])
        self.assertEqual(d["tags"], {})
        self.assertEqual(d["container"]["image"], "busybox:latest")
        self.assertEqual(d["container"]["command"], ["true"])
        # The queue and the definition may be given by ARN too.
        jid = self.submit("ident-2", queue=arn("job-queue", "parked"),
                          definition=arn("job-definition", "jd:1"))
        self.assertEqual(self.job(jid)["jobDefinition"], arn("job-definition", "jd:1"))

    def test_every_request_field(self):
        dep = self.submit("dep-of-full", queue="parked")
        jid = self.submit(
            "full", queue="parked-fair", definition="withparams",
            arrayProperties={"size": 3},
            dependsOn=[{"jobId": dep}],
            parameters={"who": "barge"},
            overrides={"command": ["printf", "%s,", "Ref::greeting", "Ref::who", "Ref::nope"],
                       "environment": [{"name": "SHARED", "value": "override"},
                                       {"name": "FROM_OVERRIDE", "value": "ov"}],
                       "resourceRequirements": [{"type": "MEMORY", "value": "256"},
                                                {"type": "VCPU", "value": "2"}],
                       "instanceType": "m5.large"},
            retryStrategy={"attempts": 4, "evaluateOnExit": [
                {"onExitCode": "3", "action": "EXIT"}, {"onReason": "*", "action": "RETRY"}]},
            timeout={"attemptDurationSeconds": 120},
            tags={"team": "genomics", "run": "7"},
            propagateTags=False,
            schedulingPriorityOverride=42,
            shareIdentifier="blue")
        d = self.job(jid)
        self.assertEqual(d["jobDefinition"], arn("job-definition", "withparams:1"))
        self.assertEqual(d["arrayProperties"]["size"], 3)
        self.assertEqual(sum(d["arrayProperties"]["statusSummary"].values()), 3)
        self.assertEqual(d["dependsOn"], [{"jobId": dep}])
        # The definition's parameters, overridden by the submit's.
        self.assertEqual(d["parameters"], {"greeting": "hello", "who": "barge"})
        c = d["container"]
        # The override's command, with Ref:: replaced; an unknown reference stays as written.
        self.assertEqual(c["command"], ["printf", "%s,", "hello", "barge", "Ref::nope"])
        env = {e["name"]: e["value"] for e in c["environment"]}
        self.assertEqual(env["FROM_DEF"], "def")
        self.assertEqual(env["SHARED"], "override")
        self.assertEqual(env["FROM_OVERRIDE"], "ov")
        self.assertEqual(len([e for e in c["environment"] if e["name"] == "SHARED"]), 1)
        req = {r["type"]: r["value"] for r in c["resourceRequirements"]}
        self.assertEqual(req, {"VCPU": "2", "MEMORY": "256"})
        self.assertEqual(c["instanceType"], "m5.large")
        self.assertEqual(d["retryStrategy"]["attempts"], 4)
        self.assertEqual(d["retryStrategy"]["evaluateOnExit"],
                         [{"onExitCode": "3", "action": "EXIT"},
                          {"onReason": "*", "action": "RETRY"}])
        self.assertEqual(d["timeout"], {"attemptDurationSeconds": 120})
        self.assertEqual(d["tags"], {"team": "genomics", "run": "7"})
        self.assertIs(d["propagateTags"], False)
        self.assertEqual(d["schedulingPriority"], 42)
        self.assertEqual(d["shareIdentifier"], "blue")
        # The tags are the job's resource tags too.
        self.assertEqual(self.batch.list_tags_for_resource(resourceArn=d["jobArn"])["tags"],
                         {"team": "genomics", "run": "7"})

    def test_definition_defaults_apply_when_the_submit_gives_none(self):
        jid = self.submit("defaults", queue="parked", definition="withparams")
        d = self.job(jid)
        self.assertEqual(d["parameters"], {"greeting": "hello", "who": "world"})
        self.assertEqual(d["container"]["command"],
                         ["echo", "hello", "world", "x-Ref::missing-y"])
        self.assertEqual(d["retryStrategy"], {"attempts": 2})
        self.assertEqual(d["timeout"], {"attemptDurationSeconds": 100})
        self.assertIs(d["propagateTags"], True)
        self.assertEqual(d["schedulingPriority"], 3)
        self.assertNotIn("arrayProperties", d)

    def test_legacy_vcpus_and_memory_overrides(self):
        jid = self.submit("legacy", queue="parked", definition="legacy",
                          overrides={"vcpus": 2, "memory": 512})
        c = self.job(jid)["container"]
        req = {r["type"]: r["value"] for r in c.get("resourceRequirements", [])}
        self.assertEqual((c.get("vcpus"), c.get("memory")) if "vcpus" in c else
                         (int(req["VCPU"]), int(req["MEMORY"])), (2, 512))
        # A definition with resource requirements keeps them: AWS ignores the legacy overrides
        # then (its console says so), and a job must not ask more here than it gets there.
        jid = self.submit("legacy-2", queue="parked", overrides={"vcpus": 3, "memory": 100})
        c = self.job(jid)["container"]
        req = {r["type"]: r["value"] for r in c["resourceRequirements"]}
        want = {r["type"]: r["value"] for r in self.batch.describe_job_definitions(
            jobDefinitionName="jd", status="ACTIVE")["jobDefinitions"][0][
            "containerProperties"]["resourceRequirements"]}
        self.assertEqual(req, want)
        self.assertNotEqual(req, {"VCPU": "3", "MEMORY": "100"})
        self.assertNotIn("vcpus", c)

    def test_aws_cli_submit_job(self):
        out = self.server.aws(
            "batch", "submit-job", "--job-name", "from-cli", "--job-queue", "parked-fair",
            "--job-definition", "withparams", "--parameters", "who=cli",
            "--container-overrides", json.dumps(
                {"environment": [{"name": "FROM_CLI", "value": "1"}],
                 "resourceRequirements": resources(1, 96)}),
            "--array-properties", "size=2",
            "--retry-strategy", "attempts=3", "--timeout", "attemptDurationSeconds=90",
            "--tags", "k=v", "--scheduling-priority-override", "5",
            "--share-identifier", "green")
        self.assertRegex(out["jobId"], UUID_RE)
        self.assertEqual(out["jobName"], "from-cli")
        self.assertEqual(out["jobArn"], arn("job", out["jobId"]))
        d = self.server.aws("batch", "describe-jobs", "--jobs", out["jobId"])["jobs"][0]
        self.assertEqual(d["container"]["command"], ["echo", "hello", "cli", "x-Ref::missing-y"])
        self.assertIn({"name": "FROM_CLI", "value": "1"}, d["container"]["environment"])
        self.assertEqual(d["arrayProperties"]["size"], 2)
        self.assertEqual(d["retryStrategy"], {"attempts": 3})
        self.assertEqual(d["timeout"], {"attemptDurationSeconds": 90})
        self.assertEqual(d["tags"], {"k": "v"})
        self.assertEqual(d["schedulingPriority"], 5)
        self.assertEqual(d["shareIdentifier"], "green")


class SubmitRefusals(JobsCase):
    @classmethod
    def setUpResources(cls):
        cls.make_queue("off", ["ce-off"], state="DISABLED")
        policy = cls.batch.create_scheduling_policy(name="fair", fairsharePolicy={})
        cls.batch.create_job_queue(
            jobQueueName="fairq", priority=1, schedulingPolicyArn=policy["arn"],
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce-off"}])
        cls.make_definition("gone")
        cls.batch.deregister_job_definition(jobDefinition="gone:1")

    def refused(self, *fragments, name="refused", queue="parked", definition="jd", **kw):
        def call():
            self.submit(name, queue=queue, definition=definition, **kw)
        return self.assertClientError(call, *fragments)

    def array(self, size):
        return self.submit("arr", queue="parked", arrayProperties={"size": size})

    def test_nothing_is_created_by_a_refusal(self):
        for _ in range(3):
            self.refused("jobQueue", name="never-made", queue="nope")
            self.refused("arrayProperties.size", name="never-made", arrayProperties={"size": 1})
        listed = self.batch.list_jobs(jobQueue="parked", filters=[
            {"name": "JOB_NAME", "values": ["never-made"]}])["jobSummaryList"]
        self.assertEqual(listed, [])

    def test_queue(self):
        # AWS's words come first: clients match them (aegea creates its default queue then).
        self.refused("jobQueue: JobQueue nope not found;", "CreateJobQueue", queue="nope")
        self.refused("jobQueue", "DISABLED", queue="off")
        self.refused("jobQueue", queue=arn("compute-environment", "ce"))
        # An ARN names the queue whatever its region and account (docs/decisions.md, "ARNs").
        self.assertRegex(self.submit("here", queue="arn:aws:batch:eu-west-1:999999999999:"
                                                   "job-queue/parked"), UUID_RE)

    def test_share_identifier(self):
        # Required on a fair-share queue, refused on a first-in-first-out one (AWS's rule).
        self.refused("shareIdentifier", "fairq", "scheduling policy", queue="fairq")
        self.refused("shareIdentifier", "parked", "remove it", shareIdentifier="blue")
        for bad in ("a-b", "x" * 256, "sp ace", "star*"):
            self.refused("shareIdentifier", queue="fairq", shareIdentifier=bad)
        self.assertRegex(self.submit("shared", queue="fairq", shareIdentifier="a_B9"), UUID_RE)

    def test_definition(self):
        self.refused("jobDefinition", "gone", "INACTIVE", definition="gone:1")
        self.refused("jobDefinition", "gone", definition="gone")
        self.refused("JobDefinition nope does not exist or is not in ACTIVE status",
                     "RegisterJobDefinition", definition="nope")
        self.refused("jobDefinition", definition="jd:99")

    def test_job_name(self):
        for bad in ("has space", "-leading", "x" * 129, "dot.name"):
            self.refused("jobName", name=bad)
        self.assertRegex(self.submit("x" * 128, queue="parked"), UUID_RE)

    def test_array_size(self):
        self.refused("arrayProperties.size", "10000", "1", arrayProperties={"size": 1})
        self.refused("arrayProperties.size", "10001", arrayProperties={"size": 10001})
        self.refused("arrayProperties.size", arrayProperties={"size": 0})
        self.assertRegex(self.array(2), UUID_RE)

    def test_dependencies(self):
        plain = self.submit("plain", queue="parked")
        two, three = self.array(2), self.array(3)
        self.refused("dependsOn[0].jobId", "no-such-job",
                     dependsOn=[{"jobId": "no-such-job"}])
        # A job kept no longer is not waited for: the message says it may have been removed.
        self.refused("dependsOn[0].jobId", "--retention-hours",
                     dependsOn=[{"jobId": "no-such-job"}])
        self.refused("dependsOn[1].jobId", dependsOn=[{"jobId": plain},
                                                       {"jobId": "9" * 8}])
        self.refused("dependsOn[0]", "same size", arrayProperties={"size": 2},
                     dependsOn=[{"jobId": three, "type": "N_TO_N"}])
        self.refused("dependsOn[0]", "SEQUENTIAL", arrayProperties={"size": 2},
                     dependsOn=[{"jobId": two, "type": "SEQUENTIAL"}])
        self.refused("dependsOn[0]", "SEQUENTIAL", dependsOn=[{"type": "SEQUENTIAL"}])
        self.refused("dependsOn", "20", dependsOn=[{"jobId": plain}] * 21)
        # Twenty is allowed, and so are the well-formed kinds.
        self.assertRegex(self.submit("twenty", queue="parked",
                                     dependsOn=[{"jobId": plain}] * 20), UUID_RE)
        self.assertRegex(self.submit("nton", queue="parked", arrayProperties={"size": 2},
                                     dependsOn=[{"jobId": two, "type": "N_TO_N"},
                                                {"type": "SEQUENTIAL"}]), UUID_RE)
        # N_TO_N with a plain job on either side is a dependency on the whole job.
        self.assertRegex(self.submit("nton-plain", queue="parked",
                                     dependsOn=[{"jobId": two, "type": "N_TO_N"}]), UUID_RE)
        self.assertRegex(self.submit("nton-on-plain", queue="parked",
                                     arrayProperties={"size": 2},
                                     dependsOn=[{"jobId": plain, "type": "N_TO_N"}]), UUID_RE)

    def test_environment_override(self):
        self.refused("containerOverrides.environment", "AWS_BATCH",
                     env={"AWS_BATCH_JOB_ID": "forged"})
        self.refused("containerOverrides.environment", "AWS_BATCH",
                     env={"AWS_BATCHY": "x"})
        # No variable's name holds '=': the job would have been run without it, silently.
        self.refused("containerOverrides.environment[1].name: 'A=B' holds '='",
                     env={"OK": "1", "A=B": "x"})

    def test_an_empty_argument_in_the_command(self):
        # AWS Batch's SubmitJob refuses it, in these words (boto3 issue 3612), so a pipeline
        # that passes here does not fail there.
        self.refused("containerOverrides.command[1]", "Command cannot be empty",
                     overrides={"command": ["echo", ""]})
        self.refused("containerOverrides.command[0]", "Command cannot be empty",
                     overrides={"command": [""]})
        self.batch.register_job_definition(
            jobDefinitionName="mn-empty", type="multinode", nodeProperties={
                "numNodes": 2, "mainNode": 0, "nodeRangeProperties": [{
                    "targetNodes": "0:1", "container": {
                        "image": "busybox", "command": ["true"],
                        "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                 {"type": "MEMORY", "value": "64"}]}}]})
        self.refused("nodeOverrides.nodePropertyOverrides[0].containerOverrides.command[2]",
                     "Command cannot be empty", definition="mn-empty",
                     nodeOverrides={"nodePropertyOverrides": [{
                         "targetNodes": "0:1",
                         "containerOverrides": {"command": ["sh", "-c", ""]}}]})
        # A value substituted empty is the job's: only what the request holds is checked.
        jid = self.submit("empty-value", queue="parked", overrides={"command": ["echo", "Ref::p"]},
                          parameters={"p": ""})
        self.assertEqual(self.job(jid)["container"]["command"], ["echo", ""])

    def test_substitution_that_would_grow_the_command_past_its_bound(self):
        # A value goes in at every placeholder of its name: a request of a few kilobytes could
        # make a command of megabytes, stored and described with the job.  Bounded at 128 KiB.
        many = ["Ref::p"] * 10
        self.refused("parameters", "131072 bytes", overrides={"command": many},
                     parameters={"p": "x" * 20000})
        # The same through a multi-node job's node range.
        self.batch.register_job_definition(
            jobDefinitionName="mn-grow", type="multinode", nodeProperties={
                "numNodes": 2, "mainNode": 0, "nodeRangeProperties": [{
                    "targetNodes": "0:1", "container": {
                        "image": "busybox", "command": many,
                        "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                 {"type": "MEMORY", "value": "64"}]}}]})
        self.refused("parameters", "131072 bytes", definition="mn-grow",
                     parameters={"p": "x" * 20000})
        # Up to it, the command is the one asked for.
        jid = self.submit("grown", queue="parked", overrides={"command": many},
                          parameters={"p": "x" * 13000})
        self.assertEqual(self.job(jid)["container"]["command"], ["x" * 13000] * 10)

    def test_resources(self):
        self.refused("containerOverrides.resourceRequirements",
                     overrides={"resourceRequirements": [{"type": "VCPU", "value": "lots"}]})
        self.refused("containerOverrides.resourceRequirements",
                     overrides={"resourceRequirements": [{"type": "MEMORY", "value": "-5"}]})

    def test_retry_strategy_and_timeout(self):
        self.refused("retryStrategy.attempts", retryStrategy={"attempts": 0})
        self.refused("retryStrategy.attempts", retryStrategy={"attempts": 11})
        self.refused("retryStrategy.evaluateOnExit", "5", retryStrategy={
            "attempts": 2, "evaluateOnExit": [{"onExitCode": "1", "action": "RETRY"}] * 6})
        self.refused("retryStrategy.evaluateOnExit[0].action", retryStrategy={
            "attempts": 2, "evaluateOnExit": [{"onExitCode": "1", "action": "MAYBE"}]})
        self.refused("retryStrategy.evaluateOnExit[0].onExitCode", retryStrategy={
            "attempts": 2, "evaluateOnExit": [{"onExitCode": "1x", "action": "EXIT"}]})
        self.refused("timeout.attemptDurationSeconds", timeout={"attemptDurationSeconds": 0})
        # --dev lowers the minimum from 60 to 1 second.
        self.assertRegex(self.submit("t1", queue="parked",
                                     timeout={"attemptDurationSeconds": 1}), UUID_RE)

    def test_scheduling_priority_override(self):
        self.refused("schedulingPriorityOverride", schedulingPriorityOverride=10000)
        self.refused("schedulingPriorityOverride", schedulingPriorityOverride=-1)

    def test_tags(self):
        self.refused("tags", tags={"aws:reserved": "x"})
        self.refused("tags", tags={"k%d" % i: "v" for i in range(51)})

    def test_aws_cli_shows_the_message(self):
        rc, _, err = self.server.aws("batch", "submit-job", "--job-name", "x", "--job-queue",
                                     "nope", "--job-definition", "jd", check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("ClientException", err)
        self.assertIn("jobQueue", err)


class ParametersAndOverridesReachTheJob(JobsCase):
    """The command and environment the running process really gets."""

    @classmethod
    def setUpResources(cls):
        cls.make_definition(
            "args", command=["sh", "-c", 'printf "%s|" "$@" > "$OUT/$0"', "Ref::file",
                             "Ref::a", "Ref::b", "pre=Ref::b/post", "pre-Ref::b-post", "Ref::unknown"],
            parameters={"a": "def-a", "b": "def-b", "file": "unset"},
            environment=[{"name": "ONE", "value": "def"}, {"name": "TWO", "value": "def"}])

    def test_substituted_command_runs(self):
        path = self.out("args.out")
        jid = self.submit("args", definition="args",
                          parameters={"b": "sub b", "file": "args.out"})
        self.assertSucceeded(jid)
        with open(path) as f:
            got = f.read()
        self.assertEqual(got, "def-a|sub b|pre=sub b/post|pre-sub b-post|Ref::unknown|")

    def test_environment_order_definition_then_overrides(self):
        path = self.out("envs.out")
        jid = self.submit("envs", definition="args", command='env -0 > "$OUT/envs.out"',
                          env={"TWO": "override", "THREE": "ov"})
        self.assertSucceeded(jid)
        env = self.read_env(path)
        self.assertEqual(env["OUT"], self.out_dir)
        self.assertEqual(env["ONE"], "def")
        self.assertEqual(env["TWO"], "override")
        self.assertEqual(env["THREE"], "ov")
        self.assertEqual(env["AWS_BATCH_JOB_ID"], jid)
