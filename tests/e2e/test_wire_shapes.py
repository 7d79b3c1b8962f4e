"""Every answer barge gives, checked against the output shapes of the service models botocore
ships ('batch', 'logs', and 'sts' for GetCallerIdentity): each member's JSON type, enums, required
members, string lengths and number ranges the model states, list and map sizes, and members the
model does not have (barge's own `barge` member of a job description is meant; any other is
listed apart).

The raw body of every answer a boto3 client of this module receives is checked (a botocore
`after-call` handler reads http_response.content, not boto3's parsed result), while one scenario
takes compute environments, queues, job definitions, jobs, scheduling policies, consumable
resources, tags and logs through their states.  What does not fit is collected, each finding
once with a count, and the tests at the end fail with the whole list: the operation, the JSON
path, what the model wants and what came."""
import json
import math
import os
import re
import time
import traceback
import unittest
import xml.etree.ElementTree as ET

import boto3
import botocore.session

from harness import ACCOUNT, REGION, arn
from test_jobs_common import FAST, JobsCase, resources, sh

# The operations of botocore's models that barge serves (src/server/api: the api_*_ops tables,
# api_logs.c and api_logs_groups.c); each must be answered at least once here.  CancelJobs and
# TerminateJobs are barge's own, in no model, and are left out.
BATCH_OPS = (
    "CreateComputeEnvironment", "DescribeComputeEnvironments", "UpdateComputeEnvironment",
    "DeleteComputeEnvironment", "CreateJobQueue", "DescribeJobQueues", "UpdateJobQueue",
    "DeleteJobQueue", "RegisterJobDefinition", "DescribeJobDefinitions",
    "DeregisterJobDefinition", "CreateSchedulingPolicy", "DescribeSchedulingPolicies",
    "ListSchedulingPolicies", "UpdateSchedulingPolicy", "DeleteSchedulingPolicy",
    "TagResource", "UntagResource", "ListTagsForResource", "SubmitJob", "DescribeJobs",
    "CancelJob", "TerminateJob", "ListJobs", "GetJobQueueSnapshot",
    "CreateConsumableResource", "DescribeConsumableResource", "ListConsumableResources",
    "UpdateConsumableResource", "DeleteConsumableResource", "ListJobsByConsumableResource",
)
LOGS_OPS = (
    "GetLogEvents", "DescribeLogStreams", "FilterLogEvents", "DescribeLogGroups",
    "DeleteLogStream", "CreateLogStream", "CreateLogGroup", "DeleteLogGroup",
    "PutRetentionPolicy", "DeleteRetentionPolicy", "TagResource", "UntagResource",
    "ListTagsForResource", "TagLogGroup", "UntagLogGroup", "ListTagsLogGroup",
)
STS_OPS = ("GetCallerIdentity",)

# The members barge adds by design, each its own `barge`: on a job description (JobDetail),
# and a queue's jobs counted by status (docs/console.md, docs/cli.md).
OWN_MEMBERS = {("JobDetail", "barge"), ("JobQueueDetail", "barge"),
               ("GetJobQueueSnapshotResponse", "barge")}
# Where AWS's answers depart from the model botocore ships, barge answers as AWS does:
# - members AWS added after this botocore was made: ListJobs' summaries carry isCancelled and
#   isTerminated since AWS's release of CancelJobs and TerminateJobs (September 2026); once a
#   botocore has them they are checked as any other member;
NEWER_MEMBERS = {("JobSummary", "isCancelled"), ("JobSummary", "isTerminated")}
# - a resource without tags is described with "tags": {} (the model's 1..50 is what a request
#   may give);
EMPTY_ALLOWED = {"TagrisTagsMap"}
# - startedAt, "required" in JobDetail, is sent only once the job has started: a job that
#   never ran has none (AWS-BATCH-FACTS.md: times are set as the job reaches them).
REQUIRED_ONCE_STARTED = {("JobDetail", "startedAt")}

INT_RANGE = {"integer": (-2 ** 31, 2 ** 31 - 1), "long": (-2 ** 63, 2 ** 63 - 1)}
HEADER_LOCATIONS = ("header", "headers", "statusCode", "uri", "querystring")


# The checker ----------------------------------------------------------------------------------

class _Obj(dict):
    """A JSON object as parsed, with the names that came more than once."""
    dups = ()


def _pairs(pairs):
    o = _Obj()
    dups = []
    for k, v in pairs:
        if k in o:
            dups.append(k)
        o[k] = v
    if dups:
        o.dups = dups
    return o


def _json_type(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number %r" % v
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def _show(v, limit=90):
    try:
        text = json.dumps(v, sort_keys=True)
    except (TypeError, ValueError):
        text = repr(v)
    return text if len(text) <= limit else text[:limit] + "..."


class Finding:
    def __init__(self, kind, op, path, want, got, example):
        self.kind, self.op, self.path, self.want, self.got = kind, op, path, want, got
        self.example = example  # one concrete path
        self.count = 0
        self.statuses = set()

    def line(self):
        where = ("; in objects of status %s" % ", ".join(sorted(self.statuses))
                 if self.statuses else "")
        return "[%s] %s %s: model: %s; barge sent: %s (x%d%s; e.g. %s)" % (
            self.kind, self.op, self.path, self.want, self.got, self.count, where, self.example)


class ShapeChecker:
    """Walks answers against botocore's output shapes and keeps what does not fit."""

    def __init__(self):
        session = botocore.session.get_session()
        self.models = {s: session.get_service_model(s) for s in ("batch", "logs", "sts")}
        self.findings = {}   # (kind, op, normalised path, want) -> Finding
        self.answered = {}   # (service, op) -> answers checked (2xx)
        self.refused = {}    # (service, op) -> error answers (not checked)
        self.own_member_seen = 0

    # botocore's after-call event: the raw answer of every call a client of this module makes.
    def after_call(self, http_response=None, model=None, **_):
        if http_response is None or model is None:
            return
        service = model.service_model.service_name
        if service not in self.models:
            return
        key = (service, model.name)
        if http_response.status_code >= 300:
            self.refused[key] = self.refused.get(key, 0) + 1
            return
        self.answered[key] = self.answered.get(key, 0) + 1
        content = http_response.content or b""
        label = model.name if service == "batch" else "%s:%s" % (service, model.name)
        if service == "sts":
            self.check_query_xml(label, model, content)
        else:
            self.check_json(label, model, content)

    def add(self, kind, op, path, npath, want, got, status=None):
        key = (kind, op, npath, want)
        f = self.findings.get(key)
        if f is None:
            f = self.findings[key] = Finding(kind, op, npath, want, got, path)
        f.count += 1
        if status:
            f.statuses.add(status)

    def check_json(self, op, model, content):
        try:
            body = json.loads(content.decode("utf-8"), object_pairs_hook=_pairs) \
                if content.strip() else _Obj()
        except (UnicodeDecodeError, ValueError) as e:
            self.add("json", op, "$", "$", "a JSON object", "unparsable body (%s): %r" % (
                e, content[:80]))
            return
        shape = model.output_shape
        if shape is None:
            # No output in the model: AWS sends an empty object (or nothing).
            if not isinstance(body, dict):
                self.add("type", op, "$", "$", "no output (empty body or {})",
                         _json_type(body) + " " + _show(body))
            else:
                for k, v in body.items():
                    self.add("unknown", op, "$." + k, "$." + k,
                             "the operation has no output members", _show(v))
            return
        payload = shape.serialization.get("payload")
        if payload:
            shape = shape.members[payload]
        self.walk(op, shape, body, "$", "$", None, top=True)

    def walk(self, op, shape, v, path, npath, status, top=False):
        t = shape.type_name
        want_t = "%s (shape %s)" % (t, shape.name)
        if v is None:
            self.add("type", op, path, npath, want_t, "null", status)
            return
        if t == "structure":
            if not isinstance(v, dict):
                self.add("type", op, path, npath, want_t, _json_type(v) + " " + _show(v), status)
                return
            st = v.get("status")
            if isinstance(st, str):
                status = st
            for d in getattr(v, "dups", ()):
                self.add("duplicate", op, path, npath + "." + d,
                         "one member %r in %s" % (d, shape.name), "it more than once", status)
            members = {n: m for n, m in shape.members.items()
                       if not (top and m.serialization.get("location") in HEADER_LOCATIONS)}
            for name in shape.required_members:
                if (shape.name, name) in REQUIRED_ONCE_STARTED:
                    continue
                if name in members and name not in v:
                    self.add("required", op, path + "." + name, npath + "." + name,
                             "%s.%s is required" % (shape.name, name), "nothing", status)
            for name, value in v.items():
                m = members.get(name)
                if m is None:
                    if (shape.name, name) in OWN_MEMBERS:
                        self.own_member_seen += 1
                        continue
                    if (shape.name, name) in NEWER_MEMBERS and isinstance(value, bool):
                        continue
                    self.add("unknown", op, path + "." + name, npath + "." + name,
                             "%s has no member %r" % (shape.name, name), _show(value), status)
                    continue
                self.walk(op, m, value, path + "." + name, npath + "." + name, status)
        elif t == "list":
            if not isinstance(v, list):
                self.add("type", op, path, npath, want_t, _json_type(v) + " " + _show(v), status)
                return
            self.size(op, shape, len(v), path, npath, status)
            for i, item in enumerate(v):
                self.walk(op, shape.member, item, "%s[%d]" % (path, i), npath + "[*]", status)
        elif t == "map":
            if not isinstance(v, dict):
                self.add("type", op, path, npath, want_t, _json_type(v) + " " + _show(v), status)
                return
            self.size(op, shape, len(v), path, npath, status)
            for d in getattr(v, "dups", ()):
                self.add("duplicate", op, path, npath + "{*}", "unique keys in %s" % shape.name,
                         "key %r more than once" % d, status)
            for k, item in v.items():
                p = "%s[%s]" % (path, json.dumps(k))
                self.walk(op, shape.key, k, p + "(key)", npath + "{key}", status)
                self.walk(op, shape.value, item, p, npath + "{*}", status)
        elif t == "string":
            if not isinstance(v, str):
                self.add("type", op, path, npath, want_t, _json_type(v) + " " + _show(v), status)
                return
            if shape.enum and v not in shape.enum:
                self.add("enum", op, path, npath, "%s is one of %s" % (
                    shape.name, "|".join(shape.enum)), _show(v), status)
            self.size(op, shape, len(v), path, npath, status, what="length")
        elif t in ("integer", "long"):
            if isinstance(v, bool) or not isinstance(v, int):
                self.add("type", op, path, npath, want_t, _json_type(v) + " " + _show(v), status)
                return
            lo, hi = INT_RANGE[t]
            if not lo <= v <= hi:
                self.add("range", op, path, npath, "%s fits a %s (%d..%d)" % (shape.name, t, lo, hi),
                         str(v), status)
            self.bounds(op, shape, v, path, npath, status)
        elif t in ("double", "float"):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                self.add("type", op, path, npath, want_t, _json_type(v) + " " + _show(v), status)
                return
            if isinstance(v, float) and not math.isfinite(v):
                self.add("type", op, path, npath, want_t, repr(v), status)
            self.bounds(op, shape, v, path, npath, status)
        elif t == "boolean":
            if not isinstance(v, bool):
                self.add("type", op, path, npath, want_t, _json_type(v) + " " + _show(v), status)
        elif t == "timestamp":
            # JSON protocols send epoch seconds as a number unless the shape or the model says
            # otherwise (timestampFormat).
            fmt = (shape.serialization.get("timestampFormat")
                   or shape.metadata.get("timestampFormat")
                   or self.models["batch"].metadata.get("timestampFormat") or "unixTimestamp")
            ok = (isinstance(v, (int, float)) and not isinstance(v, bool)) \
                if fmt == "unixTimestamp" else isinstance(v, str)
            if not ok:
                self.add("type", op, path, npath, "timestamp as %s (shape %s)" % (fmt, shape.name),
                         _json_type(v) + " " + _show(v), status)
        elif t == "blob":
            if not isinstance(v, str) or not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", v):
                self.add("type", op, path, npath, "base64 blob (shape %s)" % shape.name,
                         _json_type(v) + " " + _show(v), status)
        else:
            self.add("type", op, path, npath, "a shape type this checker knows",
                     "shape %s of type %s" % (shape.name, t), status)

    def size(self, op, shape, n, path, npath, status, what="size"):
        lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
        if n == 0 and shape.name in EMPTY_ALLOWED:
            return
        if (lo is not None and n < lo) or (hi is not None and n > hi):
            self.add(what, op, path, npath, "%s %s %s..%s" % (
                shape.name, what, "" if lo is None else lo, "" if hi is None else hi),
                "%s %d" % (what, n), status)

    def bounds(self, op, shape, v, path, npath, status):
        lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            self.add("range", op, path, npath, "%s in %s..%s" % (
                shape.name, "" if lo is None else lo, "" if hi is None else hi), str(v), status)

    def check_query_xml(self, op, model, content):
        """STS speaks the query protocol: XML, the output's members under <OpResult>."""
        shape = model.output_shape
        try:
            root = ET.fromstring(content)
        except ET.ParseError as e:
            self.add("json", op, "/", "/", "an XML document", "unparsable (%s)" % e)
            return
        local = lambda tag: tag.rsplit("}", 1)[-1]
        want_root = model.name + "Response"
        if local(root.tag) != want_root:
            self.add("type", op, "/", "/", "root element " + want_root, local(root.tag))
            return
        wrapper = shape.serialization.get("resultWrapper") or model.name + "Result"
        result = [c for c in root if local(c.tag) == wrapper]
        if len(result) != 1:
            self.add("required", op, "/" + want_root + "/" + wrapper, "/" + wrapper,
                     "one element " + wrapper, "%d of them" % len(result))
            return
        seen = {}
        for c in result[0]:
            seen.setdefault(local(c.tag), []).append(c)
        base = "/%s/%s/" % (want_root, wrapper)
        for name in shape.required_members:
            if name not in seen:
                self.add("required", op, base + name, base + name,
                         "%s.%s is required" % (shape.name, name), "nothing")
        for name, elems in seen.items():
            m = shape.members.get(name)
            if m is None:
                self.add("unknown", op, base + name, base + name,
                         "%s has no member %r" % (shape.name, name), elems[0].text or "")
                continue
            if len(elems) > 1:
                self.add("duplicate", op, base + name, base + name, "one element",
                         "%d of them" % len(elems))
            if m.type_name != "string":
                continue  # (the one operation served has only strings)
            if len(elems[0]):
                self.add("type", op, base + name, base + name, "string (shape %s)" % m.name,
                         "an element with children")
                continue
            text = elems[0].text or ""
            if m.enum and text not in m.enum:
                self.add("enum", op, base + name, base + name, "|".join(m.enum), text)
            self.size(op, m, len(text), base + name, base + name, None, what="length")


CHECKER = ShapeChecker()
HANDLER_ID = "test_wire_shapes.after_call"


# The scenario ---------------------------------------------------------------------------------

def wait_line(name):
    """A shell line that waits until the file $OUT/<name>.go exists."""
    return 'while [ ! -e "$OUT/%s.go" ]; do sleep 0.05; done; ' % name


FULL_CONTAINER = {
    "image": "public.ecr.aws/docker/library/python:3.12",
    "command": ["python", "-c", "print('Ref::greeting')"],
    "jobRoleArn": "arn:aws:iam::123456789012:role/job",
    "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
    "volumes": [{"name": "data", "host": {"sourcePath": "/tmp/data"}}, {"name": "scratch"}],
    "environment": [{"name": "MODE", "value": "fast"}, {"name": "EMPTY", "value": ""}],
    "mountPoints": [{"containerPath": "/data", "readOnly": True, "sourceVolume": "data"},
                    {"containerPath": "/scratch", "sourceVolume": "scratch"}],
    "readonlyRootFilesystem": False,
    "privileged": False,
    "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
    "user": "nobody",
    "resourceRequirements": resources(1, 128),
    "linuxParameters": {
        "devices": [{"hostPath": "/dev/fuse", "containerPath": "/dev/fuse",
                     "permissions": ["READ", "WRITE"]}],
        "initProcessEnabled": True, "sharedMemorySize": 64,
        "tmpfs": [{"containerPath": "/tmpfs", "size": 128, "mountOptions": ["rw", "noexec"]}],
        "maxSwap": 0, "swappiness": 10},
    "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/aws/batch/job"},
                         "secretOptions": [{"name": "token", "valueFrom": "arn:aws:ssm:x"}]},
    "secrets": [{"name": "DB_PASSWORD",
                 "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"}],
    "ephemeralStorage": {"sizeInGiB": 30},
    "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"},
    "repositoryCredentials": {
        "credentialsParameter": "arn:aws:secretsmanager:us-east-1:123456789012:secret:r"},
    "enableExecuteCommand": False,
}
RETRY = {"attempts": 3, "evaluateOnExit": [
    {"action": "EXIT", "onExitCode": "7", "onReason": "*", "onStatusReason": "*"},
    {"action": "RETRY", "onStatusReason": "Host EC2*"},
    {"action": "RETRY", "onExitCode": "3"}]}
FAIR = {"shareDecaySeconds": 600, "computeReservation": 10, "shareDistribution": [
    {"shareIdentifier": "a", "weightFactor": 0.5}, {"shareIdentifier": "b*", "weightFactor": 2}]}
LIMIT = {"reason": "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE", "state": "RUNNABLE",
         "maxTimeSeconds": 600, "action": "CANCEL"}


class WireShapes(JobsCase):
    server_args = FAST
    max_vcpus = 8

    @classmethod
    def setUpClass(cls):
        # The handler goes on boto3's default session before the harness makes its clients, so
        # that the answers to the class's own set-up are checked too.
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        cls.session_events = boto3.DEFAULT_SESSION.events
        cls.session_events.register("after-call", CHECKER.after_call, unique_id=HANDLER_ID)
        cls.steps_failed = []
        cls.t0 = time.monotonic()
        try:
            super().setUpClass()
        except BaseException:
            cls.session_events.unregister("after-call", unique_id=HANDLER_ID)
            raise
        try:
            cls.logs = cls.server.client("logs")
            cls.run_scenario()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.session_events.unregister("after-call", unique_id=HANDLER_ID)
        super().tearDownClass()

    # A step that fails is noted and the scenario goes on: the shapes of what did answer are
    # still checked, and test_scenario_ran names the step.
    @classmethod
    def step(cls, what, fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except Exception as e:  # noqa: BLE001 (noted, reported by test_scenario_ran)
            cls.steps_failed.append("%s: %s: %s\n%s" % (
                what, type(e).__name__, str(e)[:1500],
                "".join(traceback.format_tb(e.__traceback__)[-2:])))
            return None

    @classmethod
    def poll(cls, fn, timeout, what):
        deadline = time.time() + timeout
        while True:
            got = fn()
            if got:
                return got
            if time.time() > deadline:
                raise AssertionError("waited %ss for %s" % (timeout, what))
            time.sleep(0.05)

    @classmethod
    def jobs(cls, *ids):
        out = {}
        ids = [i for i in ids if i]
        for k in range(0, len(ids), 100):
            for d in cls.batch.describe_jobs(jobs=ids[k:k + 100])["jobs"]:
                out[d["jobId"]] = d
        return out

    @classmethod
    def wait_statuses(cls, ids, want, timeout=30):
        ids = [i for i in ids if i]
        want = (want,) if isinstance(want, str) else want
        try:
            return cls.poll(lambda: (lambda ds: ds if len(ds) == len(ids) and all(
                d["status"] in want for d in ds.values()) else None)(cls.jobs(*ids)),
                timeout, "jobs to reach %s" % "/".join(want))
        except AssertionError as e:
            raise AssertionError("%s; they are %s" % (e, {
                i: (d["jobName"], d["status"], d.get("statusReason"))
                for i, d in cls.jobs(*ids).items()})) from None

    @classmethod
    def open_gate_now(cls, gate):
        with open(os.path.join(cls.out_dir, gate + ".go"), "w"):
            pass

    @classmethod
    def submit_job(cls, name, queue, definition, **kw):
        return cls.batch.submit_job(jobName=name, jobQueue=queue, jobDefinition=definition,
                                    **kw)["jobId"]

    @classmethod
    def run_scenario(cls):
        b, S = cls.batch, cls.step
        cls.j = {}
        try:
            S("resources", cls.make_resources, b, S)
            S("jobs", cls.run_jobs, b, S)
            S("listings and updates", cls.list_everything, b, S)
            S("logs", cls.use_logs, S)
            S("tags", cls.use_tags, b, S)
            S("deletes", cls.delete_things, b, S)
            S("sts GetCallerIdentity", lambda: cls.server.client("sts").get_caller_identity())
        finally:
            for g in ("g-run", "g-term", "g-cr"):
                cls.open_gate_now(g)

    # Compute environments, policies, queues, consumable resources, definitions ----------------

    @classmethod
    def make_resources(cls, b, S):
        S("CE unmanaged", b.create_compute_environment, computeEnvironmentName="um",
          type="UNMANAGED", unmanagedvCpus=16, state="ENABLED", tags={"kind": "um"},
          serviceRole="arn:aws:iam::123456789012:role/BatchService")
        S("CE spot", b.create_compute_environment, computeEnvironmentName="spot",
          type="MANAGED", state="ENABLED", tags={"kind": "spot"},
          computeResources={
              "type": "SPOT", "allocationStrategy": "SPOT_CAPACITY_OPTIMIZED",
              "minvCpus": 0, "maxvCpus": 32, "desiredvCpus": 0, "bidPercentage": 60,
              "spotIamFleetRole": "arn:aws:iam::123456789012:role/fleet",
              "instanceTypes": ["optimal", "m5.large"], "subnets": ["subnet-a", "subnet-b"],
              "securityGroupIds": ["sg-1"], "ec2KeyPair": "key", "imageId": "ami-1",
              "instanceRole": "arn:aws:iam::123456789012:instance-profile/ecsInstanceRole",
              "placementGroup": "pg", "tags": {"Name": "worker"},
              "launchTemplate": {"launchTemplateName": "lt", "version": "$Latest"},
              "ec2Configuration": [{"imageType": "ECS_AL2"}]})
        S("CE fargate", b.create_compute_environment, computeEnvironmentName="farg",
          type="MANAGED", computeResources={"type": "FARGATE", "maxvCpus": 12,
                                            "subnets": ["subnet-f"], "securityGroupIds": ["sg-f"]})
        S("CE doomed", b.create_compute_environment, computeEnvironmentName="doomed",
          type="UNMANAGED", state="DISABLED")
        # Described while CREATING (it is quick: whatever comes is checked).
        S("describe new CEs", b.describe_compute_environments,
          computeEnvironments=["um", "spot", "farg", "doomed"])

        cls.sp_arn = (S("SP fs", b.create_scheduling_policy, name="fs", fairsharePolicy=FAIR,
                        tags={"p": "fs"}) or {}).get("arn")
        cls.sp2_arn = (S("SP plain", b.create_scheduling_policy, name="sp2") or {}).get("arn")

        S("JQ fair", b.create_job_queue, jobQueueName="fq", priority=2, state="ENABLED",
          schedulingPolicyArn=cls.sp_arn, tags={"q": "fair"},
          computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])
        S("JQ fair parked", b.create_job_queue, jobQueueName="fqp", priority=1,
          schedulingPolicyArn=cls.sp_arn,
          computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce-off"}])
        S("JQ limited", b.create_job_queue, jobQueueName="limited", priority=3,
          jobStateTimeLimitActions=[LIMIT],
          computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"},
                                   {"order": 2, "computeEnvironment": arn("compute-environment",
                                                                         "spot")}])
        S("JQ off", b.create_job_queue, jobQueueName="off", priority=1, state="DISABLED",
          computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "um"}])
        S("JQ doomed", b.create_job_queue, jobQueueName="doomed-q", priority=1,
          computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce-off"}])
        S("JQ fargate", b.create_job_queue, jobQueueName="fgq", priority=1,
          computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "farg"}])
        S("describe new JQs", b.describe_job_queues)

        S("CR lic", b.create_consumable_resource, consumableResourceName="lic", totalQuantity=2,
          resourceType="REPLENISHABLE", tags={"team": "a"})
        S("CR tok", b.create_consumable_resource, consumableResourceName="tok",
          totalQuantity=10, resourceType="NON_REPLENISHABLE")

        env = [{"name": "OUT", "value": cls.out_dir}]
        S("JD full", b.register_job_definition, jobDefinitionName="full", type="container",
          parameters={"greeting": "hello"}, schedulingPriority=5, retryStrategy=RETRY,
          timeout={"attemptDurationSeconds": 120}, tags={"jd": "full"}, propagateTags=True,
          platformCapabilities=["EC2"], containerProperties=FULL_CONTAINER,
          consumableResourceProperties={"consumableResourceList": [
              {"consumableResource": "tok", "quantity": 1}]})
        S("JD fargate", b.register_job_definition, jobDefinitionName="fjd", type="container",
          platformCapabilities=["FARGATE"], containerProperties={
              "image": "busybox", "command": ["true"],
              "resourceRequirements": [{"type": "VCPU", "value": "0.5"},
                                       {"type": "MEMORY", "value": "1024"}],
              "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
              "networkConfiguration": {"assignPublicIp": "ENABLED"},
              "fargatePlatformConfiguration": {"platformVersion": "LATEST"},
              "ephemeralStorage": {"sizeInGiB": 21},
              "runtimePlatform": {"operatingSystemFamily": "LINUX",
                                  "cpuArchitecture": "ARM64"}})
        # What runs: the command comes from the submit.
        cls.run_arn = (S("JD run", b.register_job_definition, jobDefinitionName="run",
                         type="container", parameters={"word": "default"},
                         retryStrategy={"attempts": 2, "evaluateOnExit": [
                             {"action": "RETRY", "onExitCode": "3"},
                             {"action": "EXIT", "onReason": "*"}]},
                         timeout={"attemptDurationSeconds": 60}, tags={"jd": "run"},
                         propagateTags=True,
                         containerProperties={
                             "image": "busybox", "command": ["echo", "Ref::word"],
                             "resourceRequirements": resources(1, 64), "environment": env,
                             "logConfiguration": {"logDriver": "awslogs"}})
                       or {}).get("jobDefinitionArn")
        S("JD cr", b.register_job_definition, jobDefinitionName="crjd", type="container",
          containerProperties={"image": "busybox", "command": ["true"],
                               "resourceRequirements": resources(1, 64), "environment": env},
          consumableResourceProperties={"consumableResourceList": [
              {"consumableResource": "lic", "quantity": 2}]})
        S("JD cr1", b.register_job_definition, jobDefinitionName="crjd1", type="container",
          containerProperties={"image": "busybox", "command": ["true"],
                               "resourceRequirements": resources(1, 64), "environment": env},
          consumableResourceProperties={"consumableResourceList": [
              {"consumableResource": "lic", "quantity": 1}]})
        node = {"image": "busybox", "command": sh("echo node $AWS_BATCH_JOB_NODE_INDEX"),
                "resourceRequirements": resources(1, 64), "environment": env}
        S("JD multinode", b.register_job_definition, jobDefinitionName="mn", type="multinode",
          retryStrategy={"attempts": 1}, tags={"jd": "mn"}, propagateTags=True,
          nodeProperties={"numNodes": 2, "mainNode": 0, "nodeRangeProperties": [
              {"targetNodes": "0", "container": node},
              {"targetNodes": "1:", "container": dict(node, command=sh("sleep 0.2"))}]})
        S("JD multinode full", b.register_job_definition, jobDefinitionName="mnfull",
          type="multinode", parameters={"greeting": "hello"}, schedulingPriority=2,
          retryStrategy=RETRY, timeout={"attemptDurationSeconds": 600},
          platformCapabilities=["EC2"], tags={"jd": "mnfull"},
          nodeProperties={"numNodes": 3, "mainNode": 1, "nodeRangeProperties": [
              {"targetNodes": "0:1", "container": dict(FULL_CONTAINER, instanceType="m5.large")},
              {"targetNodes": "2:", "instanceTypes": ["m5.large"], "container": node}]})
        for i in range(2):
            S("JD old", b.register_job_definition, jobDefinitionName="old", type="container",
              containerProperties={"image": "busybox", "command": ["true"],
                                   "resourceRequirements": resources(1, 64)})

        S("wait VALID", cls.wait_valid)
        S("describe CEs", b.describe_compute_environments)
        S("describe JQs", b.describe_job_queues)
        S("describe JDs", b.describe_job_definitions)

    # Jobs in every status --------------------------------------------------------------------

    @classmethod
    def run_jobs(cls, b, S):
        j = cls.j = {}

        def sub(key, name, queue, definition, **kw):
            j[key] = S("submit " + key, cls.submit_job, name, queue, definition, **kw)
            # Described at once: SUBMITTED when the scheduler has not seen it yet.
            if j[key]:
                S("describe new " + key, b.describe_jobs, jobs=[j[key]])
            return j[key]

        cmd = lambda script: {"command": sh(script)}
        sub("runner", "runner", "q", "run", containerOverrides=cmd(wait_line("g-run") + "echo r"),
            tags={"j": "runner"})
        sub("dependent", "dependent", "q", "run", dependsOn=[{"jobId": j["runner"]}],
            containerOverrides=cmd("echo after"))
        sub("pend-cancel", "pend-cancel", "q", "run", dependsOn=[{"jobId": j["runner"]}])
        sub("term", "term-me", "q", "run", containerOverrides=cmd(wait_line("g-term")))
        sub("succ", "succ-one", "q", "run", parameters={"word": "hello"}, tags={"t": "1"},
            propagateTags=True, schedulingPriorityOverride=3,
            containerOverrides={"command": sh("echo one; echo two; echo three"),
                                "environment": [{"name": "X", "value": "y"}],
                                "resourceRequirements": resources(1, 32)})
        sub("succ2", "succ-two", "q", arn("job-definition", "run:1"))
        sub("retry", "fail-retry", "q", "run", containerOverrides=cmd("echo failing; exit 3"))
        sub("exit", "fail-exit", "q", "run", containerOverrides=cmd("exit 5"),
            retryStrategy={"attempts": 3, "evaluateOnExit": [{"action": "EXIT",
                                                               "onExitCode": "5"}]})
        sub("dep-fail", "dep-on-fail", "q", "run", dependsOn=[{"jobId": j["retry"]}])
        sub("timed", "timed", "q", "run", timeout={"attemptDurationSeconds": 90})
        sub("arr", "arr", "q", "run", arrayProperties={"size": 3},
            containerOverrides=cmd("echo child $AWS_BATCH_JOB_ARRAY_INDEX; "
                                   "[ $AWS_BATCH_JOB_ARRAY_INDEX != 2 ]"))
        sub("seq", "seq", "q", "run", arrayProperties={"size": 2},
            dependsOn=[{"type": "SEQUENTIAL"}])
        sub("n2n", "n2n", "q", "run", arrayProperties={"size": 3},
            dependsOn=[{"jobId": j["arr"], "type": "N_TO_N"}])
        sub("mn", "mn", "q", "mn", tags={"j": "mn"})
        sub("fair-a", "fair-a", "fq", "run", shareIdentifier="a", schedulingPriorityOverride=1)
        sub("fair-b", "fair-b", "fq", "run", shareIdentifier="bee")
        sub("cr-hold", "cr-hold", "q", "crjd", containerOverrides=cmd(wait_line("g-cr")))
        sub("lim", "limited", "limited", "run")
        # RUNNABLE: their queues' compute environments are disabled.
        sub("parked-full", "parked-full", "parked", "full", parameters={"greeting": "hi"},
            tags={"j": "full"}, retryStrategy={"attempts": 2},
            timeout={"attemptDurationSeconds": 300},
            containerOverrides={"command": ["python", "-c", "print(1)"],
                                "environment": [{"name": "A", "value": "b"}],
                                "resourceRequirements": resources(1, 256)})
        sub("parked-arr", "parked-arr", "parked", "run", arrayProperties={"size": 2})
        sub("parked-mn", "parked-mn", "parked", "mnfull",
            nodeOverrides={"numNodes": 3, "nodePropertyOverrides": [
                {"targetNodes": "2:", "containerOverrides": {
                    "command": ["true"], "instanceType": "m5.large",
                    "environment": [{"name": "A", "value": "b"}],
                    "resourceRequirements": resources(1, 32)}}]})
        sub("cancel", "cancel-me", "parked", "run")
        sub("fqp-a", "fqp-a", "fqp", "run", shareIdentifier="a")
        sub("fqp-b", "fqp-b", "fqp", "run", shareIdentifier="bx", schedulingPriorityOverride=9)
        sub("fargate", "fargate", "fgq", "fjd")
        sub("in-doomed", "in-doomed", "doomed-q", "run")  # its queue is disabled, then deleted

        # Running and waiting.
        S("running", cls.wait_statuses, [j["runner"], j["term"], j["cr-hold"]], "RUNNING")
        sub("cr-wait", "cr-wait", "q", "crjd1")
        S("pending", cls.wait_statuses, [j["dependent"], j["pend-cancel"]], "PENDING")
        S("runnable", cls.wait_statuses, [j["parked-full"], j["cancel"], j["fqp-a"],
                                          j["parked-mn"]], "RUNNABLE", 10)
        # An array's parent waits PENDING while its children are RUNNABLE.
        S("runnable array", cls.wait_statuses, [j["parked-arr"]], ("PENDING", "RUNNABLE"), 10)
        S("cr-wait runnable", cls.wait_statuses, [j["cr-wait"]], "RUNNABLE", 10)
        S("describe all (some running)", cls.jobs, *j.values())
        S("snapshot parked", b.get_job_queue_snapshot, jobQueue="parked")
        S("snapshot fair parked", b.get_job_queue_snapshot, jobQueue="fqp")
        S("snapshot q", b.get_job_queue_snapshot, jobQueue="q")
        S("jobs by CR", b.list_jobs_by_consumable_resource, consumableResource="lic")
        S("jobs by CR filtered", b.list_jobs_by_consumable_resource, consumableResource="lic",
          filters=[{"name": "JOB_STATUS", "values": ["RUNNING"]}], maxResults=1)
        S("describe CR in use", b.describe_consumable_resource, consumableResource="lic")
        for queue in ("q", "parked", "fqp"):
            for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"):
                S("list %s %s while running" % (queue, status), b.list_jobs, jobQueue=queue,
                  jobStatus=status)

        # Cancelled, terminated; CancelJob of a running job changes nothing.
        S("cancel runnable", b.cancel_job, jobId=j["cancel"], reason="not needed")
        S("cancel pending", b.cancel_job, jobId=j["pend-cancel"], reason="no longer")
        S("cancel running", b.cancel_job, jobId=j["runner"], reason="too late")
        S("terminate running", b.terminate_job, jobId=j["term"], reason="stop it")
        S("terminate parked array", b.terminate_job, jobId=j["parked-arr"], reason="gone")

        quick = [j[k] for k in ("succ", "succ2", "retry", "exit", "dep-fail", "timed", "arr",
                                "seq", "n2n", "mn", "fair-a", "fair-b", "lim", "term",
                                "cancel", "parked-arr")]
        S("quick jobs done", cls.wait_statuses, quick, ("SUCCEEDED", "FAILED"), 40)
        cls.open_gate_now("g-run")
        cls.open_gate_now("g-cr")
        S("the rest done", cls.wait_statuses,
          [j["runner"], j["dependent"], j["pend-cancel"], j["cr-hold"], j["cr-wait"]],
          ("SUCCEEDED", "FAILED"), 30)

        children = ["%s:%d" % (j["arr"], i) for i in range(3)] + \
                   ["%s:%d" % (j["n2n"], i) for i in range(3)] + \
                   ["%s:%d" % (j["seq"], i) for i in range(2)] + \
                   ["%s:%d" % (j["parked-arr"], i) for i in range(2)] + \
                   ["%s#%d" % (j["mn"], i) for i in range(2)] + \
                   ["%s#%d" % (j["parked-mn"], i) for i in range(3)]
        cls.children = children
        S("describe all (done)", cls.jobs, *(list(j.values()) + children))
        S("describe by ARN", b.describe_jobs, jobs=[arn("job", j["succ"])])

    # Listings --------------------------------------------------------------------------------

    @classmethod
    def list_everything(cls, b, S):
        j = cls.j
        for queue in ("q", "parked", "fq", "fqp", arn("job-queue", "limited")):
            for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING",
                           "SUCCEEDED", "FAILED"):
                S("list %s %s" % (queue, status), b.list_jobs, jobQueue=queue, jobStatus=status)
        S("list default status", b.list_jobs, jobQueue="parked")
        now = int(time.time() * 1000)
        for flt in ({"name": "JOB_NAME", "values": ["succ*"]},
                    {"name": "JOB_DEFINITION", "values": ["run"]},
                    {"name": "JOB_DEFINITION", "values": [cls.run_arn or "run:1"]},
                    {"name": "BEFORE_CREATED_AT", "values": [str(now)]},
                    {"name": "AFTER_CREATED_AT", "values": [str(now - 600000)]}):
            S("list filter %s" % flt["name"], b.list_jobs, jobQueue="q", filters=[flt])
        S("list share", b.list_jobs, jobQueue="fq",
          filters=[{"name": "SHARE_IDENTIFIER", "values": ["a"]}], jobStatus="SUCCEEDED")
        S("list array", b.list_jobs, arrayJobId=j["arr"])
        S("list array failed", b.list_jobs, arrayJobId=j["arr"], jobStatus="FAILED")
        S("list nodes", b.list_jobs, multiNodeJobId=j["mn"], jobStatus="SUCCEEDED")
        S("list nodes parked", b.list_jobs, multiNodeJobId=j["parked-mn"] or "none",
          jobStatus="RUNNABLE")

        def pages(fn, key, **kw):
            token, n = None, 0
            while n < 50:
                out = fn(**(dict(kw, nextToken=token) if token else kw))
                n += 1
                token = out.get("nextToken")
                if not token:
                    return n
        S("page ListJobs", pages, b.list_jobs, "jobSummaryList", jobQueue="q",
          jobStatus="SUCCEEDED", maxResults=2)
        S("page ListJobs filtered", pages, b.list_jobs, "jobSummaryList", jobQueue="q",
          filters=[{"name": "JOB_NAME", "values": ["*"]}], maxResults=3)
        S("page CEs", pages, b.describe_compute_environments, "computeEnvironments",
          maxResults=1)
        S("page JQs", pages, b.describe_job_queues, "jobQueues", maxResults=1)
        S("page JDs", pages, b.describe_job_definitions, "jobDefinitions", maxResults=2)
        S("page JDs active", pages, b.describe_job_definitions, "jobDefinitions",
          status="ACTIVE", jobDefinitionName="old", maxResults=1)
        S("page SPs", pages, b.list_scheduling_policies, "schedulingPolicies", maxResults=1)
        S("page CRs", pages, b.list_consumable_resources, "consumableResources", maxResults=1)
        S("CRs filtered", b.list_consumable_resources,
          filters=[{"name": "CONSUMABLE_RESOURCE_NAME", "values": ["li*"]}])
        S("page jobs by CR", pages, b.list_jobs_by_consumable_resource,
          "listJobsByConsumableResourceSummary", consumableResource="lic", maxResults=1)
        S("describe SPs", b.describe_scheduling_policies, arns=[a for a in (
            cls.sp_arn, cls.sp2_arn) if a])
        S("describe CR", b.describe_consumable_resource, consumableResource="tok")
        S("describe CR by ARN", b.describe_consumable_resource,
          consumableResource=arn("consumable-resource", "lic"))
        S("describe JDs by name", b.describe_job_definitions, jobDefinitions=[
            "full", "fjd:1", "mn", "run", arn("job-definition", "crjd:1")])

        # Updates.
        S("update CE spot", b.update_compute_environment, computeEnvironment="spot",
          computeResources={"minvCpus": 0, "maxvCpus": 48},
          updatePolicy={"terminateJobsOnUpdate": False, "jobExecutionTimeoutMinutes": 15})
        S("update CE um", b.update_compute_environment, computeEnvironment="um",
          state="DISABLED", unmanagedvCpus=8)
        S("update JQ", b.update_job_queue, jobQueue="limited", priority=5, state="DISABLED",
          jobStateTimeLimitActions=[dict(LIMIT, maxTimeSeconds=900)])
        S("update SP", b.update_scheduling_policy, arn=cls.sp2_arn,
          fairsharePolicy={"shareDecaySeconds": 0, "computeReservation": 0,
                           "shareDistribution": [{"shareIdentifier": "z"}]})
        S("update CR set", b.update_consumable_resource, consumableResource="tok",
          operation="SET", quantity=12)
        S("update CR add", b.update_consumable_resource, consumableResource="tok",
          operation="ADD", quantity=1, clientToken="tok-add-1")
        S("update CR remove", b.update_consumable_resource, consumableResource="tok",
          operation="REMOVE", quantity=1)
        S("describe after updates", b.describe_compute_environments,
          computeEnvironments=["spot", "um"])
        S("describe JQ after update", b.describe_job_queues, jobQueues=["limited"])

    # Logs ------------------------------------------------------------------------------------

    @classmethod
    def use_logs(cls, S):
        logs, j = cls.logs, cls.j
        group = "/aws/batch/job"
        d = cls.jobs(j["succ"]).get(j["succ"]) or {}
        stream = (d.get("container") or {}).get("logStreamName") or "run/default/none"
        S("DescribeLogGroups", logs.describe_log_groups)
        S("DescribeLogGroups prefix", logs.describe_log_groups, logGroupNamePrefix="/aws/",
          limit=1)
        S("DescribeLogStreams", logs.describe_log_streams, logGroupName=group)
        S("DescribeLogStreams by time", logs.describe_log_streams, logGroupName=group,
          orderBy="LastEventTime", descending=True, limit=2)
        S("DescribeLogStreams prefix", logs.describe_log_streams, logGroupName=group,
          logStreamNamePrefix="run/")

        def walk_events():
            out = logs.get_log_events(logGroupName=group, logStreamName=stream,
                                      startFromHead=True, limit=1)
            for _ in range(6):
                token = out["nextForwardToken"]
                out = logs.get_log_events(logGroupName=group, logStreamName=stream,
                                          nextToken=token, limit=1)
                if out["nextForwardToken"] == token:
                    break
            logs.get_log_events(logGroupName=group, logStreamName=stream,
                                nextToken=out["nextBackwardToken"], limit=1)
            logs.get_log_events(logGroupName=group, logStreamName=stream)
            logs.get_log_events(logGroupName=group, logStreamName=stream, startTime=0,
                                endTime=int(time.time() * 1000) + 1000)
        S("GetLogEvents", walk_events)

        def filter_pages():
            kw = {"logGroupName": group, "limit": 2}
            for _ in range(10):
                out = logs.filter_log_events(**kw)
                if not out.get("nextToken"):
                    break
                kw["nextToken"] = out["nextToken"]
            logs.filter_log_events(logGroupName=group, logStreamNames=[stream],
                                   filterPattern="two")
            logs.filter_log_events(logGroupName=group, logStreamNamePrefix="run/",
                                   startTime=0, interleaved=True)
        S("FilterLogEvents", filter_pages)
        S("CreateLogGroup", logs.create_log_group, logGroupName="/wire/shapes",
          tags={"g": "1"})
        S("PutRetentionPolicy", logs.put_retention_policy, logGroupName="/wire/shapes",
          retentionInDays=7)
        S("DescribeLogGroups retention", logs.describe_log_groups,
          logGroupNamePrefix="/wire/")
        S("DeleteRetentionPolicy", logs.delete_retention_policy, logGroupName="/wire/shapes")
        group_arn = "arn:aws:logs:%s:%s:log-group:/wire/shapes" % (REGION, ACCOUNT)
        S("logs TagResource", logs.tag_resource, resourceArn=group_arn, tags={"h": "2"})
        S("logs ListTagsForResource", logs.list_tags_for_resource, resourceArn=group_arn)
        S("logs UntagResource", logs.untag_resource, resourceArn=group_arn, tagKeys=["h"])
        S("TagLogGroup", logs.tag_log_group, logGroupName="/wire/shapes", tags={"i": "3"})
        S("ListTagsLogGroup", logs.list_tags_log_group, logGroupName="/wire/shapes")
        S("UntagLogGroup", logs.untag_log_group, logGroupName="/wire/shapes", tags=["i"])
        S("CreateLogStream", logs.create_log_stream, logGroupName="/wire/shapes",
          logStreamName="by/hand")
        S("DescribeLogStreams empty stream", logs.describe_log_streams,
          logGroupName="/wire/shapes")
        S("GetLogEvents empty stream", logs.get_log_events, logGroupName="/wire/shapes",
          logStreamName="by/hand")
        S("FilterLogEvents empty", logs.filter_log_events, logGroupName="/wire/shapes")
        S("DeleteLogStream", logs.delete_log_stream, logGroupName="/wire/shapes",
          logStreamName="by/hand")
        S("DeleteLogGroup", logs.delete_log_group, logGroupName="/wire/shapes")

    # Tags ------------------------------------------------------------------------------------

    @classmethod
    def use_tags(cls, b, S):
        targets = [arn("compute-environment", "um"), arn("job-queue", "fq"),
                   arn("job-definition", "run:1"), arn("job", cls.j["succ"]),
                   cls.sp_arn, arn("consumable-resource", "lic")]
        for t in [t for t in targets if t]:
            S("tag " + t, b.tag_resource, resourceArn=t, tags={"added": "yes", "k2": ""})
            S("list tags " + t, b.list_tags_for_resource, resourceArn=t)
            S("untag " + t, b.untag_resource, resourceArn=t, tagKeys=["added", "k2"])
            S("list tags again " + t, b.list_tags_for_resource, resourceArn=t)

    # Deleting --------------------------------------------------------------------------------

    @classmethod
    def delete_things(cls, b, S):
        S("deregister", b.deregister_job_definition, jobDefinition="old:1")
        S("describe INACTIVE", b.describe_job_definitions, jobDefinitionName="old",
          status="INACTIVE")
        S("describe old", b.describe_job_definitions, jobDefinitions=["old:1", "old:2"])
        S("delete SP", b.delete_scheduling_policy, arn=cls.sp2_arn)
        S("delete CR", b.delete_consumable_resource, consumableResource="tok")
        S("disable doomed queue", b.update_job_queue, jobQueue="doomed-q", state="DISABLED")
        S("RUNNABLE in a disabled queue", cls.wait_statuses, [cls.j["in-doomed"]], "RUNNABLE",
          5)
        S("snapshot disabled queue", b.get_job_queue_snapshot, jobQueue="doomed-q")
        S("delete queue", b.delete_job_queue, jobQueue="doomed-q")
        S("describe deleting queue", b.describe_job_queues, jobQueues=["doomed-q"])
        S("delete CE", b.delete_compute_environment, computeEnvironment="doomed")
        S("describe deleting CE", b.describe_compute_environments,
          computeEnvironments=["doomed"])
        S("deleted CE gone", cls.poll, lambda: [
            e for e in b.describe_compute_environments(
                computeEnvironments=["doomed"])["computeEnvironments"]
            if e["status"] == "DELETED"] or not b.describe_compute_environments(
                computeEnvironments=["doomed"])["computeEnvironments"], 10, "CE deleted")
        S("describe after deletes", b.describe_job_queues)
        S("job of a deleted queue", cls.jobs, cls.j["in-doomed"])
        S("describe SPs after delete", b.describe_scheduling_policies, arns=[cls.sp_arn])

    # The checks ------------------------------------------------------------------------------

    def report(self, kinds):
        found = sorted((f for f in CHECKER.findings.values() if f.kind in kinds),
                       key=lambda f: (f.op, f.path, f.kind))
        return found, "\n".join(f.line() for f in found)

    def test_scenario_ran(self):
        """Every step of the scenario was answered (a refusal would leave shapes unchecked)."""
        took = time.monotonic() - self.t0
        if self.steps_failed:
            self.fail("%d scenario steps failed (the scenario took %.0f s):\n%s" % (
                len(self.steps_failed), took, "\n".join(self.steps_failed)))

    def test_every_operation_answered(self):
        missing = [("batch", o) for o in BATCH_OPS] + [("logs", o) for o in LOGS_OPS] + \
                  [("sts", o) for o in STS_OPS]
        missing = ["%s:%s (errors: %d)" % (s, o, CHECKER.refused.get((s, o), 0))
                   for s, o in missing if not CHECKER.answered.get((s, o))]
        self.assertEqual(missing, [], "operations never answered with success, so unchecked")
        # The job descriptions' own member was there to be allowed.
        self.assertGreater(CHECKER.own_member_seen, 0, "no job description had 'barge'")

    def test_answers_fit_the_models(self):
        found, text = self.report(("json", "type", "enum", "required", "length", "range",
                                   "size", "duplicate"))
        if found:
            self.fail("%d answer shapes that do not fit botocore's models:\n%s" % (
                len(found), text))

    def test_no_members_beyond_the_models(self):
        found, text = self.report(("unknown",))
        if found:
            self.fail("%d members the models do not have (besides barge's own):\n%s" % (
                len(found), text))


class _Answer:
    def __init__(self, content, status=200):
        self.content, self.status_code = content, status


class Checker(unittest.TestCase):
    """The checker itself, on answers made up to break each rule (no server)."""

    def check(self, service, op, body, status=200):
        c = ShapeChecker()
        model = c.models[service].operation_model(op)
        c.after_call(http_response=_Answer(body if isinstance(body, bytes) else
                                           body.encode(), status), model=model)
        return {(f.kind, f.path) for f in c.findings.values()}, c

    def test_batch_answer(self):
        job = ('{"jobName": "j", "jobId": "i", "jobQueue": "q", "status": "DONE", '
               '"startedAt": 1.5, "jobDefinition": "d", "barge": {}, "extra": 1, '
               '"container": {"exitCode": "3", "privileged": 1, "vcpus": 2147483648, '
               '"environment": [{"name": null}], "resourceRequirements": [{"type": "VCPU"}]}, '
               '"tags": {"%s": "v"}, "attempts": {}, "jobId": "again"}' % ("k" * 129))
        got, c = self.check("batch", "DescribeJobs", '{"jobs": [%s]}' % job)
        want = {("enum", "$.jobs[*].status"), ("type", "$.jobs[*].startedAt"),
                ("unknown", "$.jobs[*].extra"), ("type", "$.jobs[*].container.exitCode"),
                ("type", "$.jobs[*].container.privileged"),
                ("range", "$.jobs[*].container.vcpus"),
                ("type", "$.jobs[*].container.environment[*].name"),
                ("required", "$.jobs[*].container.resourceRequirements[*].value"),
                ("length", "$.jobs[*].tags{key}"), ("type", "$.jobs[*].attempts"),
                ("duplicate", "$.jobs[*].jobId")}
        self.assertEqual(got, want)
        self.assertEqual(c.own_member_seen, 1)
        got, _ = self.check("batch", "DescribeJobs", '{"jobs": [{"jobId": "x"}]}')
        self.assertEqual({p for k, p in got if k == "required"}, {
            "$.jobs[*]." + m for m in ("jobName", "jobQueue", "status", "jobDefinition")})
        # Allowed as AWS answers: no startedAt before the start, "tags": {}, ListJobs'
        # newer members; a newer member of another type is not allowed.
        got, _ = self.check("batch", "ListJobs", '{"jobSummaryList": [{"jobId": "i", '
                            '"jobName": "n", "isCancelled": false, "isTerminated": "no"}]}')
        self.assertEqual(got, {("unknown", "$.jobSummaryList[*].isTerminated")})
        got, _ = self.check("batch", "DescribeJobDefinitions", '{"jobDefinitions": [{'
                            '"jobDefinitionName": "d", "jobDefinitionArn": "a", "revision": 1, '
                            '"type": "container", "tags": {}}]}')
        self.assertEqual(got, set())
        self.assertEqual(self.check("batch", "ListJobs", "not json")[0], {("json", "$")})
        # Errors are not checked against the output shape.
        self.assertEqual(self.check("batch", "ListJobs", '{"x": 1}', status=400)[0], set())

    def test_logs_and_sts_answers(self):
        got, _ = self.check("logs", "GetLogEvents",
                            '{"events": [{"timestamp": "1", "message": 2, "ingestionTime": 3.0}]'
                            ', "nextForwardToken": "f/1"}')
        self.assertEqual(got, {("type", "$.events[*].timestamp"), ("type", "$.events[*].message"),
                               ("type", "$.events[*].ingestionTime")})
        got, _ = self.check("logs", "CreateLogStream", '{"made": true}')
        self.assertEqual(got, {("unknown", "$.made")})
        self.assertEqual(self.check("logs", "CreateLogStream", "")[0], set())
        ok = ('<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
              '<GetCallerIdentityResult><UserId>u</UserId><Account>1</Account>'
              '<Arn>arn:aws:iam::123456789012:user/x</Arn></GetCallerIdentityResult>'
              '</GetCallerIdentityResponse>')
        self.assertEqual(self.check("sts", "GetCallerIdentity", ok)[0], set())
        got, _ = self.check("sts", "GetCallerIdentity",
                            ok.replace("<Arn>arn:aws:iam::123456789012:user/x</Arn>",
                                       "<Arn>a</Arn><Who>me</Who>"))
        base = "/GetCallerIdentityResponse/GetCallerIdentityResult/"
        self.assertEqual(got, {("length", base + "Arn"), ("unknown", base + "Who")})


if __name__ == "__main__":
    unittest.main()
