"""Every request barge serves, driven from the INPUT side of the service models botocore ships
('batch' and 'logs'): for each operation of test_wire_shapes' BATCH_OPS and LOGS_OPS a valid
request is made (against resources this module makes first) and then spoilt, mechanically, from
the operation's input shape:

- each member given the wrong JSON type (a string for an integer, an object for a list, a list
  for a string, a number for a boolean, ...), and null;
- strings one past the model's max length and one below its min length;
- integers below min, above max, beyond 32 and 64 bits, and a number no double holds (1e999);
- enum members given a value not in the enum;
- lists and maps one past their max size (or one below their min);
- required members left out;
- unknown top-level members, and junk nested 40 and 1,500 levels deep (under unknown members and
  in place of known ones);
- for the batch tag operations, whose ARN is in the path and whose keys are in the query
  string, bad ARNs and bad tagKeys.
A structure, list or map the valid request lacks is filled in (every member given, lists of one
item) and spoilt the same way, so that members barge refuses as unsupported (eksProperties,
ecsProperties, ...) are walked too.

Each variant is sent RAW (http.client, unsigned: the server runs with --dev), so botocore's own
client-side validation never sees it.  Every answer must come within a few seconds, never be a
5xx, and every 4xx must be AWS-shaped (a JSON body with __type and message, or x-amzn-ErrorType);
the server must still answer a plain DescribeJobQueues at the end, its process alive.

The variants barge ACCEPTED (2xx) though the model says they are invalid are collected without
failing (some may be deliberate leniency): set WIRE_REQUESTS_REPORT=<file> to have the list
written there (with the filled-in members refused, which say less); a count is printed either
way.  Variants are sampled per member path (every "primary" variant, at most EXTRA_PER_MEMBER of
the rest, with a fixed seed); some 14,000 requests take about 12 s.  Some that barge accepts are
deliberate: null is "absent" (test_wire_errors), unknown members are dropped."""
import http.client
import json
import os
import random
import socket
import sys
import time
import unittest
import urllib.parse

import botocore.session

from harness import ACCOUNT, REGION, ServerTestCase, arn
from test_wire_shapes import BATCH_OPS, LOGS_OPS

SEED = "wire-requests-1"
EXTRA_PER_MEMBER = 8     # variants beyond the primary ones, sampled per member path
TIMEOUT = 5              # seconds a single answer may take
LOGS_TARGET = "Logs_20140328."
LOCATIONS = ("uri", "querystring", "header", "headers", "statusCode")

DEEP_LISTS = "[" * 1500 + "]" * 1500
DEEP_OBJECTS = '{"a":' * 1500 + "1" + "}" * 1500
MIXED_40 = '[{"a":' * 20 + "1" + "}]" * 20


# Bodies with JSON text json.dumps does not write (1e999, nestings past its recursion) ----------

class Raw:
    """JSON text put into a body as it is."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return "Raw(%s)" % (self.text if len(self.text) < 24 else
                            self.text[:12] + "...(%d chars)" % len(self.text))


def encode(body):
    raws = []

    def sub(v):
        if isinstance(v, Raw):
            raws.append(v.text)
            return "\x01RAW%d\x01" % (len(raws) - 1)
        if isinstance(v, dict):
            return {k: sub(x) for k, x in v.items()}
        if isinstance(v, list):
            return [sub(x) for x in v]
        return v

    text = json.dumps(sub(body))
    for i, t in enumerate(raws):
        text = text.replace(json.dumps("\x01RAW%d\x01" % i), t, 1)
    return text.encode()


def show(v, limit=70):
    if isinstance(v, Raw):
        return repr(v)
    try:
        text = json.dumps(v)
    except (TypeError, ValueError):
        text = repr(v)
    return text if len(text) <= limit else text[:limit] + "...(%d chars)" % len(text)


# Variants from an input shape -------------------------------------------------------------------

DELETE = object()   # a variant value: the member left out

# The wrong JSON types of each shape type; the first is the one always sent.
WRONG = {
    "string": [("a list", ["x"]), ("an integer", 1), ("an object", {}), ("a boolean", True)],
    "integer": [("a string", "1"), ("a real", 1.5), ("a boolean", True), ("a list", [1]),
                ("an object", {})],
    "long": [("a string", "1"), ("a real", 1.5), ("a boolean", False), ("a list", [1]),
             ("an object", {})],
    "double": [("a string", "1.5"), ("a boolean", True), ("a list", [1.5]), ("an object", {})],
    "float": [("a string", "1.5"), ("a boolean", True), ("a list", [1.5]), ("an object", {})],
    "boolean": [("a number", 1), ("a string", "true"), ("a list", [True]), ("an object", {})],
    "list": [("an object", {}), ("a string", "x"), ("a number", 1), ("a boolean", False)],
    "map": [("a list", []), ("a string", "x"), ("a number", 1), ("a boolean", True)],
    "structure": [("a list", []), ("a string", "x"), ("a number", 1), ("a boolean", True)],
    "timestamp": [("a list", []), ("a boolean", True)],
    "blob": [("a number", 1), ("a list", [])],
}


class Variant:
    """One spoilt request: a change at a path of a base body, or a whole request of its own."""

    def __init__(self, path, kind, label, invalid, steps=None, value=None, request=None,
                 prefill=None):
        self.path, self.kind, self.label, self.invalid = path, kind, label, invalid
        self.steps, self.value, self.request = steps, value, request
        self.prefill = prefill  # (steps, value): a member the base lacks, filled in first

    def apply(self, body):
        if self.prefill is not None:
            steps, value = self.prefill
            parent = body
            for _, key in steps[:-1]:
                parent = parent[key]
            parent[steps[-1][1]] = json.loads(encode(value))
        if self.steps is None:
            return body
        parent = body
        for _, key in self.steps[:-1]:
            parent = parent[key]
        how, key = self.steps[-1]
        if self.value is DELETE:
            del parent[key]
        elif how == "k":  # a map's key renamed
            parent[self.value] = parent.pop(key)
        else:
            parent[key] = self.value
        return body

    def describe(self):
        return "%s = %s%s" % (self.path, self.label, " (%s filled in)" % path_text(
            self.prefill[0]) if self.prefill and self.prefill[0] != self.steps else "")


def path_text(steps):
    out = "$"
    for how, key in steps:
        out += {"m": ".%s", "i": "[%s]", "v": "{%s}", "k": "{key %s}"}[how] % key
    return out


def minimal(shape, depth=0):
    """A small value that fits shape (for lists and maps made one past their size)."""
    t, md = shape.type_name, shape.metadata
    if t == "string":
        return shape.enum[0] if shape.enum else "x" * max(md.get("min") or 1, 1)
    if t in ("integer", "long"):
        return max(md.get("min", 1), 1) if md.get("max", 1) >= 1 else md["max"]
    if t in ("double", "float"):
        return 1.0
    if t == "boolean":
        return True
    if t == "timestamp":
        return 0
    if t == "list":
        return [minimal(shape.member, depth + 1) for _ in range(md.get("min") or 0)] \
            if depth < 6 else []
    if t == "map":
        return {}
    if t == "structure":
        return {n: minimal(shape.members[n], depth + 1) for n in shape.required_members} \
            if depth < 6 else {}
    return None


def full(shape, depth=0):
    """A value of shape with every member given (lists of one item, maps of one entry)."""
    t, md = shape.type_name, shape.metadata
    if depth > 12:
        return minimal(shape)
    if t == "structure":
        return {n: full(m, depth + 1) for n, m in shape.members.items()
                if m.serialization.get("location") not in LOCATIONS}
    if t == "list":
        return [full(shape.member, depth + 1) for _ in range(max(md.get("min") or 1, 1))]
    if t == "map":
        return {"k" * max(shape.key.metadata.get("min") or 1, 1): full(shape.value, depth + 1)}
    return minimal(shape, depth)


class Generator:
    """Walks a valid body along its input shape and lists the variants to send.  A structure,
    list or map the body lacks is filled in (full) and walked too, its variants sent with it."""

    def __init__(self, op, extra=EXTRA_PER_MEMBER, fill=True):
        self.op, self.extra, self.fill = op, extra, fill
        self.out = []
        self.prefill = None

    def rng(self, steps):
        return random.Random("%s:%s:%s" % (SEED, self.op, path_text(steps)))

    def body(self, shape, body):
        self.struct(shape, body, (), top=True)
        for label, value in (("an unknown member", 1), ("junk nested 40 deep", Raw(MIXED_40)),
                             ("lists nested 1500 deep", Raw(DEEP_LISTS)),
                             ("objects nested 1500 deep", Raw(DEEP_OBJECTS))):
            steps = (("m", "wrNotAMember"),)
            self.out.append(Variant(path_text(steps), "unknown", label, False, steps, value))
        return self.out

    def variant(self, *args):
        v = Variant(*args, prefill=self.prefill)
        self.out.append(v)
        return v

    def struct(self, shape, value, steps, top=False):
        for name, m in shape.members.items():
            if top and m.serialization.get("location") in LOCATIONS:
                continue
            st = steps + (("m", name),)
            present = name in value
            self.member(m, value.get(name), st, required=name in shape.required_members,
                        removable=present)
            if present:
                self.descend(m, value[name], st)
            elif self.fill and self.prefill is None and \
                    m.type_name in ("structure", "list", "map"):
                filled = full(m)
                self.prefill = (st, filled)
                self.variant(path_text(st), "filled", "every member given", False, st, filled)
                self.descend(m, filled, st)
                self.prefill = None

    def descend(self, shape, value, steps):
        t = shape.type_name
        if t == "structure" and isinstance(value, dict):
            self.struct(shape, value, steps)
        elif t == "list" and isinstance(value, list) and value:
            st = steps + (("i", 0),)
            self.member(shape.member, value[0], st, required=True, removable=False)
            self.descend(shape.member, value[0], st)
        elif t == "map" and isinstance(value, dict) and value:
            k = next(iter(value))
            self.keys(shape.key, k, steps + (("k", k),))
            st = steps + (("v", k),)
            self.member(shape.value, value[k], st, required=True, removable=False)
            self.descend(shape.value, value[k], st)

    def keys(self, shape, key, steps):
        lo, hi = shape.metadata.get("min"), shape.metadata.get("max")
        path = path_text(steps)
        if hi is not None:
            self.variant(path, "length", "a key of %d characters (max %d)" % (hi + 1, hi), True,
                         steps, "k" * (hi + 1))
        if lo:
            self.variant(path, "length", "a key of %d characters (min %d)" % (lo - 1, lo), True,
                         steps, "k" * (lo - 1))

    def member(self, shape, value, steps, required, removable):
        t, md = shape.type_name, shape.metadata
        lo, hi = md.get("min"), md.get("max")
        path = path_text(steps)
        primary, extra = [], []

        def add(to, kind, label, v, invalid):
            to.append(Variant(path, kind, label, invalid, steps, v, prefill=self.prefill))

        wrong = WRONG.get(t, [])
        for i, (what, v) in enumerate(wrong):
            add(primary if i == 0 else extra, "type", "%s for %s %s" % (what, t, shape.name),
                v, True)
        add(primary, "null", "null", None, required)
        if t == "string":
            if hi is not None:
                add(primary, "length", "%d characters (max %d)" % (hi + 1, hi), "s" * (hi + 1),
                    True)
            if lo:
                add(primary, "length", "%d characters (min %d)" % (lo - 1, lo), "s" * (lo - 1),
                    True)
            if shape.enum:
                add(primary, "enum", "'NOT_IN_ENUM' (enum %s)" % "|".join(shape.enum),
                    "NOT_IN_ENUM", True)
                low = shape.enum[0].lower()
                if low not in shape.enum:
                    add(extra, "enum", "%r (lower case)" % low, low, True)
        elif t in ("integer", "long", "double", "float"):
            if lo is not None:
                add(primary, "range", "%s (min %s)" % (lo - 1, lo), lo - 1, True)
            if hi is not None:
                add(primary, "range", "%s (max %s)" % (hi + 1, hi), hi + 1, True)
            if t in ("integer", "long"):
                add(primary, "range", "2**64 (beyond 64 bits)", 2 ** 64, True)
                add(extra, "range", "-2**64-1 (beyond 64 bits)", -2 ** 64 - 1, True)
                if t == "integer":
                    add(extra, "range", "2**31 (beyond a 32-bit Integer)", 2 ** 31, True)
                    add(extra, "range", "-2**31-1 (beyond a 32-bit Integer)", -2 ** 31 - 1,
                        True)
            add(extra, "range", "1e999 (beyond a double)", Raw("1e999"), True)
        elif t == "list":
            item = value[0] if isinstance(value, list) and value else minimal(shape.member)
            if hi is not None:
                add(primary, "size", "%d items (max %d)" % (hi + 1, hi),
                    [json.loads(json.dumps(item)) for _ in range(hi + 1)], True)
            if lo:
                add(primary, "size", "%d items (min %d)" % (lo - 1, lo),
                    [json.loads(json.dumps(item)) for _ in range(lo - 1)], True)
            add(extra, "junk", "lists nested 1500 deep", Raw(DEEP_LISTS), True)
        elif t == "map":
            item = next(iter(value.values())) if isinstance(value, dict) and value else \
                minimal(shape.value)
            if hi is not None:
                add(primary, "size", "%d entries (max %d)" % (hi + 1, hi),
                    {"k%d" % i: json.loads(json.dumps(item)) for i in range(hi + 1)}, True)
            if lo:
                add(primary, "size", "%d entries (min %d)" % (lo - 1, lo),
                    {"k%d" % i: json.loads(json.dumps(item)) for i in range(lo - 1)}, True)
            add(extra, "junk", "objects nested 1500 deep", Raw(DEEP_OBJECTS), True)
        elif t == "structure":
            add(extra, "junk", "lists nested 1500 deep", Raw(DEEP_LISTS), True)
            # Nested objects under a member the structure does not have: dropped, not invalid.
            add(extra, "junk", "objects nested 1500 deep (unknown member a)",
                Raw(DEEP_OBJECTS), False)
            add(extra, "junk", "junk nested 40 deep", Raw(MIXED_40), True)
        if removable and required:
            add(primary, "missing", "left out (required)", DELETE, True)
        rng = self.rng(steps)
        self.out.extend(primary + rng.sample(extra, min(len(extra), self.extra)))


# The requests -----------------------------------------------------------------------------------

def build(svc, op_model, body):
    """(method, path, headers, data) of a request with this body, as botocore would send it."""
    if isinstance(body, Variant):
        return body.request
    if svc == "logs":
        return ("POST", "/", {"X-Amz-Target": LOGS_TARGET + op_model.name,
                              "Content-Type": "application/x-amz-json-1.1"}, encode(body))
    uri, method = op_model.http["requestUri"], op_model.http["method"]
    headers = {"Content-Type": "application/json"}
    if "{resourceArn}" in uri:
        body = dict(body)
        res = body.pop("resourceArn", "")
        path = uri.replace("{resourceArn}", urllib.parse.quote(res, safe=""))
        keys = body.pop("tagKeys", None)
        if keys is not None:
            path += "?" + urllib.parse.urlencode([("tagKeys", k) for k in keys])
        return (method, path, headers, encode(body) if body or method == "POST" else None)
    return (method, uri, headers, encode(body))


def send(port, method, path, headers, data, timeout=TIMEOUT):
    """Returns (status, lower-case headers, body bytes); raises what the connection raises."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        out = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, out
    finally:
        conn.close()


def aws_shaped(headers, raw):
    """None if a 4xx answer is shaped as AWS's errors are, else what is wrong with it."""
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    json_ok = isinstance(body, dict) and isinstance(body.get("__type"), str) and \
        isinstance(body.get("message", body.get("Message")), str)
    if json_ok or headers.get("x-amzn-errortype"):
        return None
    return "no x-amzn-ErrorType and no JSON {__type, message}: %r" % raw[:200]


def brief(raw, limit=160):
    try:
        body = json.loads(raw)
        if isinstance(body, dict) and "message" in body:
            text = "%s: %s" % (body.get("__type"), body["message"])
        else:
            text = json.dumps(body)
    except ValueError:
        text = repr(raw)
    return text if len(text) <= limit else text[:limit] + "..."


def request_text(req, limit=400):
    method, path, headers, data = req
    target = headers.get("X-Amz-Target")
    text = (data or b"").decode("utf-8", "replace")
    if len(text) > limit:
        text = text[:limit] + "...(%d bytes)" % len(data)
    return "%s %s%s %s" % (method, path, " [%s]" % target if target else "", text)


# Valid requests -----------------------------------------------------------------------------------

GROUP = "/wr/g"
STREAM = "s1"
ROLE = "arn:aws:iam::%s:role/" % ACCOUNT
RES = [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]
LIMIT_ACTION = {"reason": "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT", "state": "RUNNABLE",
                "maxTimeSeconds": 900, "action": "CANCEL"}


def container_properties():
    return {
        "image": "busybox", "command": ["echo", "Ref::p"],
        "jobRoleArn": ROLE + "wr-job", "executionRoleArn": ROLE + "wr-exec",
        "volumes": [{"name": "v", "host": {"sourcePath": "/tmp"}}],
        "environment": [{"name": "E", "value": "1"}],
        "mountPoints": [{"containerPath": "/mnt/v", "readOnly": True, "sourceVolume": "v"}],
        "readonlyRootFilesystem": True, "privileged": False,
        "ulimits": [{"name": "nofile", "softLimit": 256, "hardLimit": 512}],
        "user": "nobody",
        "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                 {"type": "MEMORY", "value": "128"}],
        "linuxParameters": {
            "devices": [{"hostPath": "/dev/null", "containerPath": "/dev/wr-null",
                         "permissions": ["READ"]}],
            "initProcessEnabled": True, "sharedMemorySize": 32,
            "tmpfs": [{"containerPath": "/scratch", "size": 16, "mountOptions": ["rw"]}],
            "maxSwap": 0, "swappiness": 5},
        "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": GROUP}},
        "secrets": [{"name": "S", "valueFrom": "arn:aws:ssm:%s:%s:parameter/wr" % (
            REGION, ACCOUNT)}],
        "ephemeralStorage": {"sizeInGiB": 25},
        "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"},
        "repositoryCredentials": {"credentialsParameter": "arn:aws:secretsmanager:%s:%s:"
                                                          "secret:wr" % (REGION, ACCOUNT)},
    }


class WireRequests(ServerTestCase):
    """The campaign runs once, in setUpClass; the tests read what it found."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.t0 = time.monotonic()
        session = botocore.session.get_session()
        cls.models = {s: session.get_service_model(s) for s in ("batch", "logs")}
        cls.n = 0
        cls.sent = 0
        cls.base_failures = []   # valid requests barge refused
        cls.failures = []        # 5xx, hangs, no answer, errors not shaped as AWS's
        cls.accepted = []        # model-invalid variants answered 2xx
        cls.covered = set()
        cls.notes = []           # filled-in members refused, odd requests taken (the report)
        cls.slowest = (0.0, None)
        cls.aborted = None
        try:
            cls.make_resources()
            cls.campaign()
        except BaseException:
            cls.tearDownClass()
            raise
        cls.took = time.monotonic() - cls.t0
        cls.write_report()

    # Helpers ------------------------------------------------------------------------------------

    @classmethod
    def fresh(cls):
        cls.n += 1
        return cls.n

    @classmethod
    def ok(cls, svc, op, body):
        req = build(svc, cls.models[svc].operation_model(op), body)
        status, _, raw = send(cls.server.port, *req, timeout=30)
        if not 200 <= status < 300:
            raise AssertionError("set-up request %s %s failed: %s %s" % (
                svc, op, status, raw[:500]))
        return json.loads(raw) if raw.strip() else {}

    @classmethod
    def wait_ces_valid(cls, names, timeout=20):
        deadline = time.time() + timeout
        while True:
            out = cls.ok("batch", "DescribeComputeEnvironments", {"computeEnvironments": names})
            st = {e["computeEnvironmentName"]: e["status"] for e in out["computeEnvironments"]}
            if all(st.get(n) == "VALID" for n in names):
                return
            if time.time() > deadline:
                raise AssertionError("compute environments not VALID: %s" % st)
            time.sleep(0.05)

    # Resources ----------------------------------------------------------------------------------

    @classmethod
    def make_resources(cls):
        ok = cls.ok
        ok("batch", "CreateComputeEnvironment", {
            "computeEnvironmentName": "wr-off", "type": "MANAGED", "state": "DISABLED",
            "computeResources": {"type": "EC2", "minvCpus": 0, "maxvCpus": 4,
                                 "subnets": ["subnet-1"]}})
        ok("batch", "CreateComputeEnvironment", {"computeEnvironmentName": "wr-um",
                                                 "type": "UNMANAGED", "state": "DISABLED"})
        fair = {"shareDecaySeconds": 60, "computeReservation": 5,
                "shareDistribution": [{"shareIdentifier": "a", "weightFactor": 1.5}]}
        cls.sp = ok("batch", "CreateSchedulingPolicy", {"name": "wr-sp",
                                                        "fairsharePolicy": fair})["arn"]
        cls.sp_upd = ok("batch", "CreateSchedulingPolicy", {"name": "wr-sp-upd",
                                                            "fairsharePolicy": fair})["arn"]
        cls.wait_ces_valid(["wr-off", "wr-um"])
        order = [{"order": 1, "computeEnvironment": "wr-off"}]
        ok("batch", "CreateJobQueue", {"jobQueueName": "wr-q", "priority": 1,
                                       "computeEnvironmentOrder": order})
        ok("batch", "CreateJobQueue", {"jobQueueName": "wr-fq", "priority": 1,
                                       "schedulingPolicyArn": cls.sp,
                                       "computeEnvironmentOrder": order})
        ok("batch", "CreateJobQueue", {"jobQueueName": "wr-uq", "priority": 1,
                                       "computeEnvironmentOrder": order})
        ok("batch", "CreateConsumableResource", {"consumableResourceName": "wr-lic",
                                                 "totalQuantity": 1000000,
                                                 "resourceType": "REPLENISHABLE"})
        ok("batch", "CreateConsumableResource", {"consumableResourceName": "wr-tok",
                                                 "totalQuantity": 100,
                                                 "resourceType": "NON_REPLENISHABLE"})
        simple = {"image": "busybox", "command": ["true"], "resourceRequirements": RES}
        for name in ("wr-jd", "wr-dereg"):
            ok("batch", "RegisterJobDefinition", {"jobDefinitionName": name,
                                                  "type": "container",
                                                  "containerProperties": simple})
        ok("batch", "RegisterJobDefinition", {
            "jobDefinitionName": "wr-mn", "type": "multinode",
            "nodeProperties": {"numNodes": 2, "mainNode": 0, "nodeRangeProperties": [
                {"targetNodes": "0:", "container": simple}]}})
        cls.job = ok("batch", "SubmitJob", {"jobName": "wr-job", "jobQueue": "wr-q",
                                            "jobDefinition": "wr-jd"})["jobId"]
        ok("logs", "CreateLogGroup", {"logGroupName": GROUP})
        ok("logs", "CreateLogStream", {"logGroupName": GROUP, "logStreamName": STREAM})
        cls.group_arn = "arn:aws:logs:%s:%s:log-group:%s" % (REGION, ACCOUNT, GROUP)

    # A make(n) per valid request: a fresh body each time, with the resources it needs (a fresh
    # one to delete, a unique name to create) made first.

    @classmethod
    def bases(cls):
        ok, F = cls.ok, cls.fresh
        order = [{"order": 1, "computeEnvironment": "wr-off"}]
        fair = {"shareDecaySeconds": 60, "computeReservation": 5,
                "shareDistribution": [{"shareIdentifier": "a", "weightFactor": 1.5}]}
        tags = {"team": "wr"}  # (copied into each body: a variant changes its own)

        def managed_ce(name):
            ok("batch", "CreateComputeEnvironment", {
                "computeEnvironmentName": name, "type": "MANAGED", "state": "DISABLED",
                "computeResources": {"type": "EC2", "minvCpus": 0, "maxvCpus": 4,
                                     "allocationStrategy": "BEST_FIT_PROGRESSIVE",
                                     "subnets": ["subnet-1"]}})
            return name

        def unmanaged_ce(name):
            ok("batch", "CreateComputeEnvironment", {"computeEnvironmentName": name,
                                                     "type": "UNMANAGED", "state": "DISABLED"})
            return name

        def update_managed():
            name = managed_ce("wr-um%d" % F())
            cls.wait_ces_valid([name])
            return {"computeEnvironment": name, "state": "DISABLED",
                    "computeResources": {"minvCpus": 0, "maxvCpus": 8, "desiredvCpus": 0,
                                         "subnets": ["subnet-2"], "securityGroupIds": ["sg-1"],
                                         "instanceTypes": ["optimal"], "tags": dict(tags),
                                         "allocationStrategy": "BEST_FIT_PROGRESSIVE"},
                    "updatePolicy": {"terminateJobsOnUpdate": False,
                                     "jobExecutionTimeoutMinutes": 30}}

        def update_unmanaged():
            name = unmanaged_ce("wr-uu%d" % F())
            return {"computeEnvironment": name, "state": "DISABLED", "unmanagedvCpus": 8,
                    "serviceRole": ROLE + "wr-service", "context": "wr"}

        def delete_queue():
            name = "wr-dq%d" % F()
            ok("batch", "CreateJobQueue", {"jobQueueName": name, "priority": 1,
                                           "state": "DISABLED",
                                           "computeEnvironmentOrder": order})
            return {"jobQueue": name}

        def delete_sp():
            a = ok("batch", "CreateSchedulingPolicy", {"name": "wr-ds%d" % F()})["arn"]
            return {"arn": a}

        def delete_cr():
            name = "wr-dc%d" % F()
            ok("batch", "CreateConsumableResource", {"consumableResourceName": name})
            return {"consumableResource": name}

        def job_to_stop():
            j = ok("batch", "SubmitJob", {"jobName": "wr-stop%d" % F(), "jobQueue": "wr-q",
                                          "jobDefinition": "wr-jd"})["jobId"]
            return {"jobId": j, "reason": "wire test"}

        def log_stream():
            name = "d%d" % F()
            ok("logs", "CreateLogStream", {"logGroupName": GROUP, "logStreamName": name})
            return {"logGroupName": GROUP, "logStreamName": name}

        def log_group():
            name = "/wr/d%d" % F()
            ok("logs", "CreateLogGroup", {"logGroupName": name})
            return {"logGroupName": name}

        def retention():
            g = log_group()
            ok("logs", "PutRetentionPolicy", dict(g, retentionInDays=1))
            return g

        job_arn = arn("job", cls.job)
        return {
            ("batch", "CreateComputeEnvironment"): [
                ("unmanaged", lambda: {
                    "computeEnvironmentName": "wr-c%d" % F(), "type": "UNMANAGED",
                    "state": "DISABLED", "unmanagedvCpus": 4, "serviceRole": ROLE + "svc",
                    "tags": dict(tags), "context": "wr"}),
                ("managed", lambda: {
                    "computeEnvironmentName": "wr-m%d" % F(), "type": "MANAGED",
                    "state": "DISABLED", "tags": dict(tags),
                    "computeResources": {
                        "type": "SPOT", "allocationStrategy": "SPOT_CAPACITY_OPTIMIZED",
                        "minvCpus": 0, "maxvCpus": 8, "desiredvCpus": 0, "bidPercentage": 50,
                        "spotIamFleetRole": ROLE + "fleet", "instanceTypes": ["optimal"],
                        "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"],
                        "ec2KeyPair": "key", "imageId": "ami-1",
                        "instanceRole": "ecsInstanceRole", "placementGroup": "pg",
                        "tags": {"Name": "wr"},
                        "launchTemplate": {"launchTemplateName": "lt", "version": "$Latest"},
                        "ec2Configuration": [{"imageType": "ECS_AL2"}]}}),
            ],
            ("batch", "DescribeComputeEnvironments"): [
                ("by name", lambda: {"computeEnvironments": ["wr-off", "wr-um"]}),
                ("paged", lambda: {"maxResults": 2}),
            ],
            ("batch", "UpdateComputeEnvironment"): [
                ("unmanaged", update_unmanaged),
                ("managed", update_managed),
            ],
            ("batch", "DeleteComputeEnvironment"): [
                ("fresh", lambda: {"computeEnvironment": unmanaged_ce("wr-dce%d" % F())}),
            ],
            ("batch", "CreateJobQueue"): [
                ("fair share", lambda: {
                    "jobQueueName": "wr-cq%d" % F(), "state": "DISABLED", "priority": 5,
                    "schedulingPolicyArn": cls.sp, "jobQueueType": "ECS",
                    "computeEnvironmentOrder": [dict(order[0])], "tags": dict(tags),
                    "jobStateTimeLimitActions": [dict(LIMIT_ACTION)]}),
            ],
            ("batch", "DescribeJobQueues"): [
                ("by name", lambda: {"jobQueues": ["wr-q", arn("job-queue", "wr-fq")]}),
                ("paged", lambda: {"maxResults": 2}),
            ],
            ("batch", "UpdateJobQueue"): [
                ("all", lambda: {"jobQueue": "wr-uq", "state": "ENABLED", "priority": 3,
                                 "computeEnvironmentOrder": [dict(order[0])],
                                 "jobStateTimeLimitActions": [dict(LIMIT_ACTION)]}),
            ],
            ("batch", "DeleteJobQueue"): [("fresh", delete_queue)],
            ("batch", "RegisterJobDefinition"): [
                ("container", lambda: {
                    "jobDefinitionName": "wr-r%d" % F(), "type": "container",
                    "parameters": {"p": "v"}, "schedulingPriority": 1,
                    "containerProperties": container_properties(),
                    "retryStrategy": {"attempts": 2, "evaluateOnExit": [
                        {"action": "RETRY", "onExitCode": "1", "onReason": "*",
                         "onStatusReason": "*"}]},
                    "propagateTags": True, "timeout": {"attemptDurationSeconds": 60},
                    "tags": dict(tags), "platformCapabilities": ["EC2"],
                    "consumableResourceProperties": {"consumableResourceList": [
                        {"consumableResource": "wr-lic", "quantity": 1}]}}),
                ("multinode", lambda: {
                    "jobDefinitionName": "wr-rm%d" % F(), "type": "multinode",
                    "nodeProperties": {"numNodes": 2, "mainNode": 0, "nodeRangeProperties": [
                        {"targetNodes": "0:", "instanceTypes": ["m5.large"],
                         "container": {"image": "busybox", "command": ["true"],
                                       "environment": [{"name": "E", "value": "1"}],
                                       "resourceRequirements": [dict(r) for r in RES]}}]}}),
            ],
            ("batch", "DescribeJobDefinitions"): [
                ("by ARN", lambda: {"jobDefinitions": ["wr-jd:1", arn("job-definition",
                                                                      "wr-mn:1")]}),
                ("by name", lambda: {"jobDefinitionName": "wr-jd", "status": "ACTIVE",
                                     "maxResults": 5}),
            ],
            ("batch", "DeregisterJobDefinition"): [
                ("again", lambda: {"jobDefinition": "wr-dereg:1"}),
            ],
            ("batch", "CreateSchedulingPolicy"): [
                ("fair share", lambda: {"name": "wr-cs%d" % F(), "fairsharePolicy": {
                    "shareDecaySeconds": 60, "computeReservation": 5, "shareDistribution": [
                        {"shareIdentifier": "a", "weightFactor": 1.5}]}, "tags": dict(tags)}),
                ("quota share", lambda: {"name": "wr-qs%d" % F(), "quotaSharePolicy": {
                    "idleResourceAssignmentStrategy": "FIFO"}}),
            ],
            ("batch", "DescribeSchedulingPolicies"): [("one", lambda: {"arns": [cls.sp]})],
            ("batch", "ListSchedulingPolicies"): [("paged", lambda: {"maxResults": 5})],
            ("batch", "UpdateSchedulingPolicy"): [
                ("fair share", lambda: {"arn": cls.sp_upd, "fairsharePolicy": {
                    "shareDecaySeconds": 120, "computeReservation": 10, "shareDistribution": [
                        {"shareIdentifier": "b*", "weightFactor": 2.0}]}}),
            ],
            ("batch", "DeleteSchedulingPolicy"): [("fresh", delete_sp)],
            ("batch", "TagResource"): [
                ("queue", lambda: {"resourceArn": arn("job-queue", "wr-q"),
                                   "tags": dict(tags)}),
            ],
            ("batch", "UntagResource"): [
                ("queue", lambda: {"resourceArn": arn("job-queue", "wr-q"),
                                   "tagKeys": ["team", "other"]}),
            ],
            ("batch", "ListTagsForResource"): [
                ("queue", lambda: {"resourceArn": arn("job-queue", "wr-q")}),
            ],
            ("batch", "SubmitJob"): [
                ("container", lambda: {
                    "jobName": "wr-s%d" % F(), "jobQueue": "wr-fq", "jobDefinition": "wr-jd",
                    "shareIdentifier": "a", "schedulingPriorityOverride": 1,
                    "arrayProperties": {"size": 2},
                    "dependsOn": [{"jobId": cls.job}],
                    "parameters": {"p": "v"},
                    "containerOverrides": {"command": ["true"],
                                           "environment": [{"name": "A", "value": "b"}],
                                           "resourceRequirements": [dict(r) for r in RES]},
                    "retryStrategy": {"attempts": 2, "evaluateOnExit": [
                        {"action": "EXIT", "onExitCode": "3"}]},
                    "propagateTags": True, "timeout": {"attemptDurationSeconds": 120},
                    "tags": dict(tags),
                    "consumableResourcePropertiesOverride": {"consumableResourceList": [
                        {"consumableResource": "wr-lic", "quantity": 1}]}}),
                ("multinode", lambda: {
                    "jobName": "wr-sm%d" % F(), "jobQueue": "wr-q", "jobDefinition": "wr-mn",
                    "nodeOverrides": {"numNodes": 2, "nodePropertyOverrides": [
                        {"targetNodes": "0:", "containerOverrides": {
                            "command": ["true"], "environment": [{"name": "A", "value": "b"}],
                            "resourceRequirements": [dict(r) for r in RES]}}]}}),
            ],
            ("batch", "DescribeJobs"): [("one", lambda: {"jobs": [cls.job, job_arn]})],
            ("batch", "CancelJob"): [("fresh", job_to_stop)],
            ("batch", "TerminateJob"): [("fresh", job_to_stop)],
            ("batch", "ListJobs"): [
                ("status", lambda: {"jobQueue": "wr-q", "jobStatus": "RUNNABLE",
                                    "maxResults": 10}),
                ("filters", lambda: {"jobQueue": "wr-q", "filters": [
                    {"name": "JOB_NAME", "values": ["wr*"]}], "maxResults": 10}),
            ],
            ("batch", "GetJobQueueSnapshot"): [("one", lambda: {"jobQueue": "wr-q"})],
            ("batch", "CreateConsumableResource"): [
                ("all", lambda: {"consumableResourceName": "wr-cc%d" % F(), "totalQuantity": 5,
                                 "resourceType": "REPLENISHABLE", "tags": dict(tags)}),
            ],
            ("batch", "DescribeConsumableResource"): [
                ("one", lambda: {"consumableResource": "wr-lic"})],
            ("batch", "ListConsumableResources"): [
                ("filtered", lambda: {"filters": [{"name": "CONSUMABLE_RESOURCE_NAME",
                                                   "values": ["wr*"]}], "maxResults": 5}),
            ],
            ("batch", "UpdateConsumableResource"): [
                ("set", lambda: {"consumableResource": "wr-tok", "operation": "SET",
                                 "quantity": 10, "clientToken": "wr-token-%d" % F()}),
            ],
            ("batch", "DeleteConsumableResource"): [("fresh", delete_cr)],
            ("batch", "ListJobsByConsumableResource"): [
                ("filtered", lambda: {"consumableResource": "wr-lic", "filters": [
                    {"name": "JOB_STATUS", "values": ["RUNNABLE"]}], "maxResults": 5}),
            ],
            ("logs", "GetLogEvents"): [
                ("by name", lambda: {"logGroupName": GROUP, "logStreamName": STREAM,
                                     "startTime": 0, "endTime": 4102444800000, "limit": 10,
                                     "startFromHead": True}),
                ("by identifier", lambda: {"logGroupIdentifier": GROUP,
                                           "logStreamName": STREAM}),
            ],
            ("logs", "DescribeLogStreams"): [
                ("prefix", lambda: {"logGroupName": GROUP, "logStreamNamePrefix": "s",
                                    "orderBy": "LogStreamName", "descending": False,
                                    "limit": 5}),
            ],
            ("logs", "FilterLogEvents"): [
                ("streams", lambda: {"logGroupName": GROUP, "logStreamNames": [STREAM],
                                     "startTime": 0, "endTime": 4102444800000,
                                     "filterPattern": "x", "limit": 10, "interleaved": True}),
            ],
            ("logs", "DescribeLogGroups"): [
                ("prefix", lambda: {"logGroupNamePrefix": "/wr/", "limit": 5}),
            ],
            ("logs", "DeleteLogStream"): [("fresh", log_stream)],
            ("logs", "CreateLogStream"): [
                ("new", lambda: {"logGroupName": GROUP, "logStreamName": "c%d" % F()})],
            ("logs", "CreateLogGroup"): [
                ("new", lambda: {"logGroupName": "/wr/c%d" % F(), "tags": dict(tags),
                                 "logGroupClass": "STANDARD"})],
            ("logs", "DeleteLogGroup"): [("fresh", log_group)],
            ("logs", "PutRetentionPolicy"): [
                ("week", lambda: {"logGroupName": GROUP, "retentionInDays": 7})],
            ("logs", "DeleteRetentionPolicy"): [("fresh", retention)],
            ("logs", "TagResource"): [
                ("group", lambda: {"resourceArn": cls.group_arn, "tags": dict(tags)})],
            ("logs", "UntagResource"): [
                ("group", lambda: {"resourceArn": cls.group_arn, "tagKeys": ["team"]})],
            ("logs", "ListTagsForResource"): [
                ("group", lambda: {"resourceArn": cls.group_arn})],
            ("logs", "TagLogGroup"): [
                ("group", lambda: {"logGroupName": GROUP, "tags": dict(tags)})],
            ("logs", "UntagLogGroup"): [
                ("group", lambda: {"logGroupName": GROUP, "tags": ["team"]})],
            ("logs", "ListTagsLogGroup"): [("group", lambda: {"logGroupName": GROUP})],
        }

    # Batch's tag operations carry the ARN in the path, the keys in the query string.
    @classmethod
    def uri_variants(cls, op_model):
        method = op_model.http["method"]
        headers = {"Content-Type": "application/json"}
        data = b'{"tags": {"team": "wr"}}' if op_model.name == "TagResource" else None
        query = "?tagKeys=team" if op_model.name == "UntagResource" else ""
        good = urllib.parse.quote(arn("job-queue", "wr-q"), safe="")
        long_arn = urllib.parse.quote(arn("compute-environment", "n" * 5000), safe="")
        out = []
        for label, path, invalid in (
                ("no ARN (required)", "/v1/tags/" + query, True),
                ("not an ARN", "/v1/tags/not-an-arn" + query, False),
                ("an ARN of 5,000 characters", "/v1/tags/" + long_arn + query, False),
                ("an ARN of an unknown kind", "/v1/tags/" + urllib.parse.quote(
                    "arn:aws:batch:%s:%s:no-such-kind/x" % (REGION, ACCOUNT), safe="") + query,
                 False),
                ("a broken escape %zz", "/v1/tags/arn%zz" + query, False),
                ("an encoded NUL", "/v1/tags/" + good + "%00" + query, False),
                ("a path below the ARN", "/v1/tags/" + good + "/more" + query, False)):
            out.append(Variant("$.resourceArn (uri)", "uri", label, invalid,
                               request=(method, path, headers, data)))
        if op_model.name == "UntagResource":
            key = op_model.input_shape.members["tagKeys"]
            hi = key.metadata.get("max", 50)
            klo, khi = key.member.metadata.get("min", 1), key.member.metadata.get("max", 128)
            for label, q, invalid in (
                    ("no tagKeys (required)", "", True),
                    ("%d tagKeys (max %d)" % (hi + 1, hi), "?" + urllib.parse.urlencode(
                        [("tagKeys", "k%d" % i) for i in range(hi + 1)]), True),
                    ("an empty key (min %d)" % klo, "?tagKeys=", klo > 0),
                    ("a key of %d characters (max %d)" % (khi + 1, khi),
                     "?tagKeys=" + "k" * (khi + 1), True),
                    ("a key with a broken escape", "?tagKeys=%zz", False),
                    ("tagKeys named twice, one empty", "?tagKeys=team&tagKeys=", True)):
                out.append(Variant("$.tagKeys (querystring)", "query", label, invalid,
                                   request=(method, "/v1/tags/" + good + q, headers, None)))
        return out

    # The campaign -------------------------------------------------------------------------------

    @classmethod
    def campaign(cls):
        bases = cls.bases()
        ops = [("batch", o) for o in BATCH_OPS] + [("logs", o) for o in LOGS_OPS]
        missing = [o for o in ops if o not in bases]
        if missing:
            raise AssertionError("no valid request written for %s" % missing)
        for svc, op in ops:
            if cls.aborted:
                return
            op_model = cls.models[svc].operation_model(op)
            for label, make in bases[(svc, op)]:
                try:
                    body = make()
                except AssertionError as e:
                    cls.base_failures.append("%s %s [%s]: making it: %s" % (svc, op, label, e))
                    continue
                req = build(svc, op_model, body)
                got = cls.exchange(svc, op, label, None, req)
                if got is not None and not 200 <= got[0] < 300:
                    cls.base_failures.append("%s %s [%s]: %s %s\n    request: %s" % (
                        svc, op, label, got[0], brief(got[2]), request_text(req)))
                cls.covered.add((svc, op))
                variants = Generator(op).body(op_model.input_shape, body)
                if svc == "batch" and "{resourceArn}" in op_model.http["requestUri"] and \
                        label == bases[(svc, op)][0][0]:
                    variants += cls.uri_variants(op_model)
                for v in variants:
                    if cls.aborted:
                        return
                    if v.request is not None:
                        req = v.request
                    else:
                        try:
                            b = make()
                        except AssertionError as e:
                            cls.base_failures.append("%s %s [%s]: making it again: %s" % (
                                svc, op, label, e))
                            break
                        req = build(svc, op_model, v.apply(b))
                    cls.exchange(svc, op, label, v, req)

    @classmethod
    def exchange(cls, svc, op, label, v, req):
        """Sends one request and files what came back; returns (status, headers, body) or
        None."""
        cls.sent += 1
        what = "%s %s [%s]%s" % (svc, op, label, " " + v.describe() if v else " (valid)")
        t = time.monotonic()
        try:
            status, headers, raw = send(cls.server.port, *req)
        except socket.timeout:
            cls.failures.append("HANG (no answer in %ss): %s\n    request: %s" % (
                TIMEOUT, what, request_text(req)))
            cls.check_alive(what)
            return None
        except (OSError, http.client.HTTPException) as e:
            cls.failures.append("NO ANSWER (%s: %s): %s\n    request: %s" % (
                type(e).__name__, e, what, request_text(req)))
            cls.check_alive(what)
            return None
        took = time.monotonic() - t
        if took > cls.slowest[0]:
            cls.slowest = (took, what)
        if status >= 500:
            cls.failures.append("5xx %s %s: %s\n    request: %s" % (
                status, brief(raw), what, request_text(req)))
        elif status >= 400:
            if v is not None and v.kind == "filled":
                cls.notes.append("filled in, refused: %s -> %s %s" % (what, status,
                                                                      brief(raw, 140)))
            bad = aws_shaped(headers, raw)
            if bad:
                cls.failures.append("NOT AWS-SHAPED %s: %s: %s\n    request: %s" % (
                    status, bad, what, request_text(req)))
        elif 200 <= status < 300:
            if raw.strip():
                try:
                    json.loads(raw)
                except ValueError:
                    cls.failures.append("2xx BODY NOT JSON %r: %s\n    request: %s" % (
                        raw[:200], what, request_text(req)))
            if v is not None and v.invalid:
                cls.accepted.append((svc, op, label, v, status, brief(raw, 100),
                                     request_text(req, 300)))
            elif v is not None and v.kind in ("uri", "query"):
                cls.notes.append("taken: %s -> %s %s" % (what, status, brief(raw, 100)))
        else:
            cls.failures.append("UNEXPECTED STATUS %s: %s\n    request: %s" % (
                status, what, request_text(req)))
        return status, headers, raw

    @classmethod
    def check_alive(cls, after):
        """After a request without an answer: stop the campaign if the server died or hangs."""
        if cls.server.proc.poll() is not None:
            cls.aborted = "the server exited with %s after %s:\n%s" % (
                cls.server.proc.returncode, after, cls.server.read_log()[-3000:])
            return
        try:
            status, _, _ = send(cls.server.port, "GET", "/healthz", {}, None)
        except (OSError, http.client.HTTPException) as e:
            cls.aborted = "the server stopped answering /healthz (%s) after %s" % (e, after)
            return
        if status != 200:
            cls.aborted = "/healthz answered %s after %s" % (status, after)

    # The report ---------------------------------------------------------------------------------

    @classmethod
    def accepted_text(cls):
        lines = []
        by_op = {}
        for a in cls.accepted:
            by_op.setdefault((a[0], a[1]), []).append(a)
        for (svc, op), items in sorted(by_op.items()):
            lines.append("%s %s: %d" % (svc, op, len(items)))
            for _, _, label, v, status, answer, req in sorted(
                    items, key=lambda a: (a[3].kind, a[3].path, a[2])):
                lines.append("  [%s] (%s) %s = %s -> %s %s" % (
                    v.kind, label, v.path, v.label, status, answer))
                lines.append("      request: %s" % req)
        return "\n".join(lines)

    @classmethod
    def write_report(cls):
        out = os.environ.get("WIRE_REQUESTS_REPORT")
        kinds = {}
        for a in cls.accepted:
            kinds[a[3].kind] = kinds.get(a[3].kind, 0) + 1
        summary = ("test_wire_requests: %d requests in %.1f s (slowest answer %.2f s); %d "
                   "model-invalid variants accepted (%s); %d failures" % (
                       cls.sent, cls.took, cls.slowest[0], len(cls.accepted),
                       ", ".join("%s %d" % kv for kv in sorted(kinds.items())) or "none",
                       len(cls.failures)))
        sys.stderr.write(summary + "\n")
        if out:
            with open(out, "w") as f:
                f.write(summary + "\n\nFAILURES\n" + "\n".join(cls.failures) +
                        "\n\nBASES REFUSED\n" + "\n".join(cls.base_failures) +
                        "\n\nACCEPTED (model-invalid, answered 2xx)\n" + cls.accepted_text() +
                        "\n\nNOTES\n" + "\n".join(cls.notes) + "\n")

    # The tests ----------------------------------------------------------------------------------

    def test_campaign_finished(self):
        self.assertIsNone(self.aborted)
        want = {("batch", o) for o in BATCH_OPS} | {("logs", o) for o in LOGS_OPS}
        self.assertEqual(sorted(want - self.covered), [], "operations never driven")

    def test_valid_requests_are_accepted(self):
        if self.base_failures:
            self.fail("%d valid requests refused (their variants say less):\n%s" % (
                len(self.base_failures), "\n".join(self.base_failures)))

    def test_every_answer_in_time_never_5xx_and_aws_shaped(self):
        if self.failures:
            self.fail("%d of %d requests answered wrongly:\n%s" % (
                len(self.failures), self.sent, "\n".join(self.failures[:200])))

    def test_zz_server_still_answers(self):
        self.assertIsNone(self.server.proc.poll(), "the server process is gone")
        status, _, out = self.server.raw("POST", "/v1/describejobqueues", {})
        self.assertEqual(status, 200, out)
        self.assertIn("wr-q", [q["jobQueueName"] for q in out["jobQueues"]])
        self.assertIn("jobQueues", self.batch.describe_job_queues(jobQueues=["wr-q"]))
        self.assertIsNone(self.server.proc.poll(), "the server process is gone")


class Variants(unittest.TestCase):
    """The variant generator itself, on botocore's models (no server)."""

    @classmethod
    def setUpClass(cls):
        session = botocore.session.get_session()
        cls.logs = session.get_service_model("logs")
        cls.batch = session.get_service_model("batch")

    def gen(self, model, op, body, extra=100):
        vs = Generator(op, extra).body(model.operation_model(op).input_shape, body)
        return {(v.path, v.kind, v.label): v for v in vs}

    def test_bounds_enums_and_required(self):
        body = {"logGroupName": "/g", "logStreamName": "s", "limit": 5, "startFromHead": True}
        vs = self.gen(self.logs, "GetLogEvents", body)
        self.assertEqual(vs[("$.limit", "range", "0 (min 1)")].value, 0)
        self.assertEqual(vs[("$.limit", "range", "10001 (max 10000)")].value, 10001)
        self.assertEqual(vs[("$.logGroupName", "length", "513 characters (max 512)")].value,
                         "s" * 513)
        self.assertEqual(vs[("$.logGroupName", "length", "0 characters (min 1)")].value, "")
        self.assertIs(vs[("$.logStreamName", "missing", "left out (required)")].value, DELETE)
        self.assertNotIn(("$.logGroupName", "missing", "left out (required)"), vs)
        self.assertEqual(vs[("$.startFromHead", "type", "a number for boolean StartFromHead")]
                         .value, 1)
        # An absent member gets its wrong types too; null is invalid only when required.
        self.assertIn(("$.unmask", "type", "a number for boolean Unmask"), vs)
        self.assertFalse(vs[("$.limit", "null", "null")].invalid)
        self.assertTrue(vs[("$.logStreamName", "null", "null")].invalid)
        out = vs[("$.logStreamName", "missing", "left out (required)")].apply(dict(body))
        self.assertNotIn("logStreamName", out)
        vs = self.gen(self.logs, "DescribeLogStreams", {"logGroupName": "/g",
                                                        "orderBy": "LogStreamName"})
        self.assertEqual(vs[("$.orderBy", "enum", "'NOT_IN_ENUM' (enum LogStreamName|"
                             "LastEventTime)")].value, "NOT_IN_ENUM")

    def test_nested_lists_maps_and_junk(self):
        body = {"jobName": "j", "jobQueue": "q", "jobDefinition": "d", "tags": {"a": "b"},
                "containerOverrides": {"resourceRequirements": [
                    {"type": "VCPU", "value": "1"}]}}
        vs = self.gen(self.batch, "SubmitJob", body)
        rr = "$.containerOverrides.resourceRequirements[0]"
        self.assertIn((rr + ".type", "enum", "'NOT_IN_ENUM' (enum GPU|VCPU|MEMORY)"), vs)
        v = vs[(rr + ".value", "missing", "left out (required)")]
        self.assertEqual(v.apply(json.loads(json.dumps(body)))["containerOverrides"]
                         ["resourceRequirements"][0], {"type": "VCPU"})
        self.assertEqual(len(vs[("$.tags", "size", "51 entries (max 50)")].value), 51)
        v = vs[("$.tags{key a}", "length", "a key of 129 characters (max 128)")]
        self.assertEqual(v.apply(json.loads(json.dumps(body)))["tags"], {"k" * 129: "b"})
        self.assertIn(("$.tags{a}", "length", "257 characters (max 256)"), vs)
        v = vs[("$.containerOverrides", "junk", "lists nested 1500 deep")]
        text = encode(v.apply(json.loads(json.dumps(body))))
        self.assertIn(b'"containerOverrides": ' + b"[" * 1500 + b"]" * 1500, text)
        self.assertIn(("$.wrNotAMember", "unknown", "objects nested 1500 deep"), vs)
        self.assertEqual(encode({"n": Raw("1e999")}), b'{"n": 1e999}')

    def test_error_shapes(self):
        self.assertIsNone(aws_shaped({}, b'{"__type": "ClientException", "message": "m"}'))
        self.assertIsNone(aws_shaped({"x-amzn-errortype": "ClientException"}, b""))
        self.assertIsNotNone(aws_shaped({}, b"Bad Request"))
        self.assertIsNotNone(aws_shaped({}, b'{"message": "m"}'))

    def test_sampling_is_fixed(self):
        body = {"computeEnvironmentName": "c", "type": "UNMANAGED", "unmanagedvCpus": 1}
        model = self.batch.operation_model("CreateComputeEnvironment").input_shape
        a = [v.describe() for v in Generator("X").body(model, body)]
        b = [v.describe() for v in Generator("X").body(model, body)]
        self.assertEqual(a, b)


if __name__ == "__main__":
    unittest.main()
