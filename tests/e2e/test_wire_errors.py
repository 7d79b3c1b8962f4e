"""The wire: what the server answers to requests that are wrong, strange, huge, slow or unsigned.
Every error is HTTP 400 (403 for authentication) with x-amzn-ErrorType and a JSON body
{"__type", "message"}; nothing crashes the server or makes it hang."""
import concurrent.futures
import json
import os
import re
import socket
import time
import unittest

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from harness import REGION, Server, ServerTestCase, read_to_close

MAX_BODY = 1024 * 1024  # barge_cfg.max_body


def http(port, data, timeout=10):
    """Sends raw bytes on a fresh connection and reads until the server closes it.  Returns
    (status, lower-case headers, body bytes); status is None when nothing came back.  A server
    that answers before reading a whole oversized body may reset the connection while we are
    still sending; the answer it sent first is still read."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = read_to_close(s)
    finally:
        s.close()
    return parse_response(out)


def parse_response(raw):
    if not raw:
        return None, {}, b""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def request_bytes(method, path, body=b"", headers=None, content_length=None):
    """One HTTP/1.1 request that asks the server to close the connection after answering."""
    h = {"Host": "127.0.0.1", "Connection": "close"}
    h.update(headers or {})
    if "Transfer-Encoding" not in h and (body or method == "POST"):
        h["Content-Length"] = str(len(body) if content_length is None else content_length)
    head = "%s %s HTTP/1.1\r\n" % (method, path) + "".join(
        "%s: %s\r\n" % kv for kv in h.items()) + "\r\n"
    return head.encode("latin-1") + body


class WireCase(ServerTestCase):
    def tearDown(self):
        # Whatever a test sent, the server is still up and answering through the core.
        status, _, body = self.server.raw("GET", "/healthz")
        self.assertEqual((status, body), (200, {"status": "ok"}), self.server.read_log()[-3000:])

    def assertError(self, status, headers, body, *fragments, code="ClientException",
                    http_status=400, content_type="application/json"):
        """Checks the shape of an error answer; returns its message."""
        self.assertEqual(status, http_status, body)
        headers = {k.lower(): v for k, v in headers.items()}
        self.assertEqual(headers.get("x-amzn-errortype"), code)
        self.assertEqual(headers.get("content-type"), content_type)
        self.assertTrue(headers.get("x-amzn-requestid"))
        if isinstance(body, bytes):
            body = json.loads(body)
        self.assertEqual(set(body), {"__type", "message"}, body)
        self.assertEqual(body["__type"], code)
        # The message in a header too (older Go SDKs read it from there alone), ASCII only.
        ascii = bytes(b if 0x20 <= b < 0x7f else 0x3f if b >= 0x80 else 0x20
                      for b in body["message"].encode()[:256]).decode()
        self.assertEqual(headers.get("x-amzn-errormessage"), ascii)
        for f in fragments:
            self.assertIn(f, body["message"])
        return body["message"]

    def post(self, op, body, *fragments, **kw):
        """POSTs body (bytes, str or JSON-able) to /v1/<op>, expects an error naming fragments."""
        status, headers, out = self.server.raw("POST", "/v1/" + op, body)
        return self.assertError(status, headers, out, *fragments, **kw)

    def ok(self, op, body):
        status, _, out = self.server.raw("POST", "/v1/" + op, body)
        self.assertEqual(status, 200, out)
        return out


class BadBodies(WireCase):
    def test_malformed_json(self):
        for text in ('{"computeEnvironments": [', "{", "{'a': 1}", '{"a": 1,}', "nul",
                     '{"a": tru}', '{"a" 1}'):
            self.post("describecomputeenvironments", text, "request body", "not valid JSON")

    def test_body_that_is_not_an_object(self):
        self.post("describecomputeenvironments", "[]", "request body", "JSON object")
        self.post("describecomputeenvironments", '[{"computeEnvironments": []}]',
                  "request body", "JSON object")
        # Scalars at the top are not JSON documents the API takes.
        for text in ('"text"', "42", "null", "true"):
            self.post("describecomputeenvironments", text, "request body")

    def test_wrong_types_name_the_path(self):
        c = "createcomputeenvironment"
        base = {"computeEnvironmentName": "wt", "type": "MANAGED"}
        self.post(c, dict(base, computeEnvironmentName=5),
                  "computeEnvironmentName: expected a string, got an integer")
        self.post(c, dict(base, computeResources=[1]),
                  "computeResources: expected an object, got a list")
        self.post(c, dict(base, computeResources={"type": "EC2", "maxvCpus": "4"}),
                  "computeResources.maxvCpus: expected an integer, got a string")
        self.post(c, dict(base, computeResources={"type": "EC2", "maxvCpus": 4.5}),
                  "computeResources.maxvCpus: expected an integer, got a number")
        self.post(c, dict(base, computeResources={"type": "EC2", "maxvCpus": 4,
                                                  "instanceTypes": ["m5", 7]}),
                  "computeResources.instanceTypes[1]: expected a string, got an integer")
        self.post(c, dict(base, computeResources={
            "type": "EC2", "maxvCpus": 4, "launchTemplate": {"overrides": [
                {"targetInstanceTypes": ["m5.large"]}, {"targetInstanceTypes": [False]}]}}),
            "computeResources.launchTemplate.overrides[1].targetInstanceTypes[0]: "
            "expected a string, got a boolean")
        self.post(c, dict(base, tags={"team": {"nested": 1}}),
                  "tags.team: expected a string, got an object")
        self.post("describecomputeenvironments", {"maxResults": "3"},
                  "maxResults: expected an integer, got a string")
        self.post("describecomputeenvironments", {"computeEnvironments": "ce"},
                  "computeEnvironments: expected a list, got a string")
        self.post("updatecomputeenvironment", {"computeEnvironment": "x",
                                               "updatePolicy": {"terminateJobsOnUpdate": "yes"}},
                  "updatePolicy.terminateJobsOnUpdate: expected a boolean")

    def test_integers_written_as_reals(self):
        # R's paws writes a round double with an exponent: crew.aws.batch's timeout of 100000
        # seconds goes as 1e+05.  Such a number is the integer it is; 4.5 stays refused.
        body = ('{"jobDefinitionName": "reals", "type": "container", "containerProperties": {'
                '"image": "busybox", "command": ["true"], "resourceRequirements": ['
                '{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]},'
                ' "timeout": {"attemptDurationSeconds": 1e+05}, "retryStrategy": {"attempts": 2.0}}')
        out = self.ok("registerjobdefinition", body)
        jd = self.ok("describejobdefinitions", {"jobDefinitions": [out["jobDefinitionArn"]]})
        jd = jd["jobDefinitions"][0]
        self.assertEqual((jd["timeout"], jd["retryStrategy"]["attempts"]),
                         ({"attemptDurationSeconds": 100000}, 2))
        self.assertIsInstance(jd["retryStrategy"]["attempts"], int)
        self.post("registerjobdefinition", body.replace("1e+05", "4.5"),
                  "timeout.attemptDurationSeconds: expected an integer, got a number")
        # The same in CloudWatch Logs' requests (startTime in milliseconds, 1.7e+12).
        status, _, out = self.server.raw(
            "POST", "/", '{"logGroupName": "/aws/batch/job", "startTime": 1.7e+12, '
                         '"limit": 5e0}',
            {"X-Amz-Target": "Logs_20140328.FilterLogEvents",
             "Content-Type": "application/x-amz-json-1.1"})
        self.assertEqual(status, 200, out)

    def test_enum_values(self):
        c = "createcomputeenvironment"
        msg = self.post(c, {"computeEnvironmentName": "en", "type": "MANAGED", "state": "ON"},
                        "state", "'ON'")
        self.assertIn("ENABLED, DISABLED", msg)
        self.post(c, {"computeEnvironmentName": "en", "type": "managed"}, "type", "'managed'",
                  "MANAGED, UNMANAGED")
        self.post(c, {"computeEnvironmentName": "en", "type": "MANAGED",
                      "computeResources": {"type": "EC2", "maxvCpus": 4,
                                           "allocationStrategy": "CHEAPEST"}},
                  "computeResources.allocationStrategy", "'CHEAPEST'")
        # Update takes fewer strategies than create, as AWS's model says.
        self.post("updatecomputeenvironment",
                  {"computeEnvironment": "en", "computeResources": {"allocationStrategy":
                                                                    "BEST_FIT"}},
                  "computeResources.allocationStrategy", "'BEST_FIT'")

    def test_lengths_and_enums_of_the_models(self):
        # Each was taken (200): a userdataType of no kind, an empty imageType, a log group
        # class of none, and prefixes and names past the Logs model's lengths.
        cr = {"type": "EC2", "maxvCpus": 4, "subnets": [], "securityGroupIds": [],
              "instanceRole": "r", "instanceTypes": ["optimal"]}
        for extra, fragment in (
                ({"launchTemplate": {"launchTemplateName": "t", "userdataType": "sh"}},
                 "computeResources.launchTemplate.userdataType: 'sh' is not one of "
                 "EKS_BOOTSTRAP_SH, EKS_NODEADM"),
                ({"ec2Configuration": [{"imageType": ""}]},
                 "computeResources.ec2Configuration[0].imageType: must be 1 to 256 characters "
                 "long (got 0)"),
                ({"ec2Configuration": [{"imageType": "ECS_AL2", "imageIdOverride": "i" * 257}]},
                 "imageIdOverride: must be 1 to 256 characters long (got 257)")):
            self.post("createcomputeenvironment",
                      {"computeEnvironmentName": "lengths", "type": "MANAGED",
                       "computeResources": dict(cr, **extra)}, fragment)
        # Counted in characters: 256 of two bytes each are within 256.
        self.ok("createcomputeenvironment",
                {"computeEnvironmentName": "lengths", "type": "MANAGED", "computeResources": dict(
                    cr, ec2Configuration=[{"imageType": "ECS_AL2", "imageIdOverride": "\u00e9" * 256}])})
        for target, body, fragment in (
                ("DescribeLogGroups", {"logGroupClass": "standard"},
                 "logGroupClass: 'standard' is not one of STANDARD, INFREQUENT_ACCESS, DELIVERY"),
                ("DescribeLogGroups", {"logGroupNamePrefix": ""},
                 "logGroupNamePrefix: must be 1 to 512 characters long (got 0)"),
                ("DescribeLogGroups", {"accountIdentifiers": ["1234"]},
                 "accountIdentifiers[0]: must be 12 characters long (got 4)"),
                ("DescribeLogStreams", {"logGroupName": "g", "logStreamNamePrefix": "p" * 513},
                 "logStreamNamePrefix: must be 1 to 512 characters long (got 513)"),
                ("FilterLogEvents", {"logGroupName": "g", "logStreamNames": [""]},
                 "logStreamNames[0]: must be 1 to 512 characters long (got 0)"),
                ("UntagLogGroup", {"logGroupName": "g", "tags": ["k" * 129]},
                 "tags[0]: must be 1 to 128 characters long (got 129)")):
            status, headers, out = self.server.raw("POST", "/", body, headers={
                "X-Amz-Target": "Logs_20140328." + target,
                "Content-Type": "application/x-amz-json-1.1"})
            self.assertEqual(status, 400, (target, out))
            self.assertIn(fragment, out.get("message", ""), target)

    def test_overrides_a_job_type_does_not_take_are_named(self):
        # A multinode job was told the overrides "do not apply to container jobs".
        self.ok("registerjobdefinition", {
            "jobDefinitionName": "mn", "type": "multinode", "nodeProperties": {
                "numNodes": 1, "mainNode": 0, "nodeRangeProperties": [{"targetNodes": "0:", "container": {
                    "image": "busybox", "command": ["true"], "resourceRequirements": [
                        {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]}}]}})
        self.ok("registerjobdefinition", {
            "jobDefinitionName": "one", "type": "container", "containerProperties": {
                "image": "busybox", "command": ["true"], "resourceRequirements": [
                    {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]}})
        self.ok("createcomputeenvironment", {"computeEnvironmentName": "wce",
                                             "type": "UNMANAGED"})
        self.ok("createjobqueue", {"jobQueueName": "wq", "priority": 1, "computeEnvironmentOrder": [
            {"order": 1, "computeEnvironment": "wce"}]})
        for definition, extra, fragment in (
                ("mn", {"eksPropertiesOverride": {}},
                 "eksPropertiesOverride does not apply to multinode jobs; remove it"),
                ("one", {"ecsPropertiesOverride": {}},
                 "ecsPropertiesOverride does not apply to container jobs; remove it"),
                ("one", {"nodeOverrides": {"numNodes": 1}},
                 "nodeOverrides does not apply to container jobs; remove it")):
            self.post("submitjob", dict({"jobName": "j", "jobQueue": "wq",
                                         "jobDefinition": definition}, **extra), fragment)

    def test_values_that_are_not_text(self):
        # A NUL inside a string, invalid UTF-8, and a duplicated key are all refused.
        self.post("createcomputeenvironment",
                  b'{"computeEnvironmentName": "a\\u0000b", "type": "UNMANAGED"}',
                  "request body", "not valid JSON")
        self.post("createcomputeenvironment",
                  b'{"computeEnvironmentName": "a\xff", "type": "UNMANAGED"}',
                  "request body", "not valid JSON")
        self.post("createcomputeenvironment",
                  b'{"computeEnvironmentName": "a", "computeEnvironmentName": "b", '
                  b'"type": "UNMANAGED"}', "request body", "duplicate")

    def test_echoed_text_stays_valid_utf8(self):
        # Values echoed in a message are cut to a bounded length; the cut must not leave half a
        # character, or the answer would not be JSON at all.
        value = "a" + "\u00e9" * 40
        msg = self.post("createcomputeenvironment",
                        {"computeEnvironmentName": "u8", "type": value}, "type")
        self.assertTrue(msg.startswith("type: 'a\u00e9\u00e9"))
        self.post("updatecomputeenvironment", {"computeEnvironment": "\u00e9" * 300},
                  "computeEnvironment")
        status, headers, body = http(self.server.port, request_bytes(
            "POST", "/v1/no\xffsuch", b"{}"))
        self.assertError(status, headers, body, "no such operation")

    def test_null_members_are_absent(self):
        self.ok("createcomputeenvironment", {"computeEnvironmentName": "nul", "type": "UNMANAGED",
                                             "state": None, "tags": None,
                                             "unmanagedvCpus": None, "computeResources": None})
        out = self.ok("describecomputeenvironments",
                      {"computeEnvironments": None, "maxResults": None, "nextToken": None})
        ce = [e for e in out["computeEnvironments"] if e["computeEnvironmentName"] == "nul"]
        self.assertEqual(len(ce), 1)
        self.assertEqual((ce[0]["state"], ce[0]["tags"], ce[0]["unmanagedvCpus"]),
                         ("ENABLED", {}, 0))
        self.assertNotIn("computeResources", ce[0])
        # A required member that is null is missing.
        self.post("createcomputeenvironment", {"computeEnvironmentName": None,
                                               "type": "UNMANAGED"},
                  "computeEnvironmentName: this field is required")
        # A null inside a list is an item of the wrong type, not a missing one.
        self.post("describecomputeenvironments", {"computeEnvironments": ["nul", None]},
                  "computeEnvironments[1]: expected a string, got null")

    def test_empty_body(self):
        out = self.ok("describecomputeenvironments", b"")
        self.assertIn("computeEnvironments", out)
        self.post("createcomputeenvironment", b"", "computeEnvironmentName",
                  "this field is required")
        status, _, out = self.server.raw("POST", "/v1/describecomputeenvironments", b"{}")
        self.assertEqual(status, 200)

    def test_binary_garbage(self):
        rnd = os.urandom(4096)
        self.post("describecomputeenvironments", rnd, "request body", "not valid JSON")
        self.post("createcomputeenvironment", b"\x00" * 100, "request body")
        # Garbage in place of the whole request: the server drops it and carries on.
        for junk in (os.urandom(2048), b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + rnd,
                     b"GARBAGE / HTTP/9.9\r\n\r\n", b"POST\r\n\r\n"):
            status, _, _ = http(self.server.port, junk, timeout=5)
            self.assertIn(status, (None, 400, 501, 505))

    def test_deep_nesting(self):
        # Far past any parser's depth limit; a recursive parser without one would overflow its
        # stack and take the server down.
        for open_, close in ((b"[", b"]"), (b'{"a":', b"}")):
            body = open_ * 100000 + b"1" + close * 100000
            self.post("describecomputeenvironments", body, "request body", "not valid JSON")
        # Deep but within the parser's limit: the checker walks it and names the path.
        body = b'{"computeEnvironments": ' + b"[" * 1000 + b"]" * 1000 + b"}"
        self.post("describecomputeenvironments", body,
                  "computeEnvironments[0]: expected a string, got a list")
        # Under a member no shape names, it is dropped like any unknown member.
        body = b'{"extra": ' + b"[" * 1000 + b"]" * 1000 + b"}"
        self.ok("describecomputeenvironments", body)

    def test_unknown_members_are_dropped_at_every_level(self):
        # As AWS drops what its model does not define: nothing made up is stored and described
        # back.  A member nested 1,500 deep, kept, once made every DescribeJobDefinitions fail
        # in Python's JSON reader (RecursionError), for every client of the server.
        deep = "[" * 1500 + "]" * 1500
        body = ('{"computeEnvironmentName": "poison", "type": "MANAGED", "computeResources": '
                '{"type": "EC2", "maxvCpus": 2, "instanceTypes": ["optimal"], "subnets": [], '
                '"securityGroupIds": [], "x": %s}}' % deep)
        self.ok("createcomputeenvironment", body.encode())
        body = ('{"jobDefinitionName": "poison", "type": "container", "containerProperties": '
                '{"image": "busybox", "command": ["true"], "zzz": %s, "resourceRequirements": '
                '[{"type": "VCPU", "value": "1", "extra": 1}, {"type": "MEMORY", "value": "64"}],'
                ' "environment": [{"name": "A", "value": "b", "odd": {"deep": %s}}]}, '
                '"retryStrategy": {"attempts": 2, "what": %s}, "timeout": '
                '{"attemptDurationSeconds": 100, "huh": 1}}' % (deep, deep, deep))
        self.ok("registerjobdefinition", body.encode())
        batch = self.server.client()
        ce = batch.describe_compute_environments(computeEnvironments=["poison"])
        self.assertNotIn("x", ce["computeEnvironments"][0]["computeResources"])
        jd = batch.describe_job_definitions(jobDefinitionName="poison")["jobDefinitions"][0]
        self.assertNotIn("zzz", jd["containerProperties"])
        self.assertEqual(jd["containerProperties"]["environment"], [{"name": "A", "value": "b"}])
        self.assertEqual(jd["containerProperties"]["resourceRequirements"][0],
                         {"type": "VCPU", "value": "1"})
        self.assertEqual(jd["retryStrategy"], {"attempts": 2})
        self.assertEqual(jd["timeout"], {"attemptDurationSeconds": 100})
        # What a shape takes as anything (a handler reads it or refuses it itself) is bounded.
        body = ('{"jobDefinitionName": "poison2", "type": "container", "containerProperties": '
                '{"image": "busybox"}, "ecsProperties": %s}' % ("[" * 40 + "]" * 40))
        self.post("registerjobdefinition", body.encode(), "ecsProperties",
                  "nested more than 32 levels deep")


class Routing(WireCase):
    def test_unknown_operations(self):
        for path in ("/v1/nosuchthing", "/v1/", "/v2/describecomputeenvironments",
                     "/v1/describecomputeenvironments/extra", "/v1/DescribeComputeEnvironments",
                     "/"):
            status, headers, body = self.server.raw("POST", path, {},
                                                    {"Content-Type": "application/json"})
            msg = self.assertError(status, headers, body, "no such operation")
            self.assertIn(path, msg)
        # Without a type urllib sends a form's: that is the query protocol only at "/".
        status, headers, body = self.server.raw("POST", "/v1/nosuchthing", b"{}")
        self.assertError(status, headers, body, "no such operation")

    def test_wrong_method(self):
        for method in ("GET", "PUT", "DELETE", "PATCH"):
            status, headers, body = self.server.raw(method, "/v1/describecomputeenvironments")
            self.assertError(status, headers, body, method, "/v1/describecomputeenvironments")
        status, headers, body = self.server.raw("POST", "/healthz", {})
        self.assertError(status, headers, body, "no such operation")

    def test_an_encoded_nul_in_the_target_is_refused(self):
        # libmicrohttpd decodes %00 and the path would end there: "/v1/submitjob%00zzz" was
        # served as SubmitJob.
        for path in ("/v1/submitjob%00zzz", "/v1/describejobqueues%00",
                     "/barge/v1/events?queue=%00x", "/v1/tags/arn%3Aaws%3Abatch%3Aus-east-1%3A"
                     "123456789012%3Ajob-queue%2Fq%00GARBAGE"):
            status, headers, body = self.server.raw("POST" if "events" not in path else "GET",
                                                    path, b"{}" if "events" not in path else None)
            self.assertError(status, headers, body, "encoded NUL")

    def test_a_percent_that_starts_no_escape_is_refused(self):
        # libmicrohttpd leaves "%ZZ" as it is: an UntagResource of tagKeys=%ZZ answered 200
        # having removed a key "%ZZ" no client meant.
        tags = ("/v1/tags/arn%3Aaws%3Abatch%3Aus-east-1%3A123456789012%3Ajob-queue%2Fq")
        for method, path in (("DELETE", tags + "?tagKeys=%ZZ"), ("DELETE", tags + "?tagKeys=a%"),
                             ("DELETE", tags + "?tagKeys=%4"), ("POST", "/v1/submitjob%zz"),
                             ("GET", "/barge/v1/events?queue=%G1"), ("GET", tags + "%")):
            status, headers, body = self.server.raw(method, path,
                                                    b"{}" if method == "POST" else None)
            self.assertError(status, headers, body, "not followed by two hex digits", "%25")
        # Escapes as SDKs send them still work, in either case of hex digit.
        status, _, body = self.server.raw("GET", tags.replace("%3A", "%3a"))
        self.assertNotIn("hex digits", json.dumps(body))
        self.assertIn("no job queue 'q'", json.dumps(body))

    def test_event_filters_that_would_widen_or_drop_are_refused(self):
        # An empty status would be left out of the filter and the stream would serve every
        # status; a parameter given twice would have one of its values dropped unseen; an id
        # with blanks or a sign is not an event's id.
        for path, headers, fragment in (
                ("/barge/v1/events?status=", {}, "status: an empty status"),
                ("/barge/v1/events?status", {}, "status: an empty status"),
                ("/barge/v1/events?status=,", {}, "status: an empty status"),
                ("/barge/v1/events?status=RUNNING,", {}, "status: an empty status"),
                ("/barge/v1/events?queue=nope&queue=q", {}, "queue: given twice"),
                ("/barge/v1/events?after=1&after=2", {}, "after: given twice"),
                ("/barge/v1/events?after=+5", {}, "after: not an event's id"),
                ("/barge/v1/events", {"Last-Event-ID": "+5"}, "Last-Event-ID"),
                ("/barge/v1/events", {"Last-Event-ID": "-1"}, "Last-Event-ID"),
                ("/barge/v1/events", {"Last-Event-ID": "1" + "0" * 31}, "Last-Event-ID")):
            # (A stream the server started would not end: the read's timeout ends the test.)
            status, hdrs, body = http(self.server.port, request_bytes("GET", path,
                                                                      headers=headers))
            self.assertError(status, hdrs, body, fragment)
        # Blanks around a header's value are not part of it (RFC 9110): the stream starts.
        # Leading zeros are the number's, however many (40 were "not an event's id").
        for value in ("\t0", "0 ", "0" * 40, "0" * 39 + "1", "00"):
            s = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
            try:
                s.sendall(request_bytes("GET", "/barge/v1/events",
                                        headers={"Last-Event-ID": value}))
                head = s.recv(4096).decode("latin-1")
            finally:
                s.close()
            self.assertTrue(head.startswith("HTTP/1.1 200"), (value, head))

    def test_getevents_answers_json_whatever_the_body_says(self):
        # The stream's text is for the stream and the webhooks; a POST asking for it with a
        # member of their request gets GetEvents' JSON answer, the member dropped.
        status, _, out = self.server.raw("POST", "/barge/v1/getevents",
                                         {"sse": True, "after": 0, "wait": 0})
        self.assertEqual(status, 200, out)
        self.assertIsInstance(out, dict, out)
        self.assertIn("events", out)
        self.assertIn("lastSeq", out)

    def test_other_services_are_told_in_their_own_protocol(self):
        # A client pointed at barge for every service (AWS_ENDPOINT_URL) makes STS's or S3's
        # calls here too (Prefect's AssumeRole, Cromwell's and Kedro's S3): the answer is an
        # error their SDK reads, saying what to point at barge, not JSON it cannot parse.
        import botocore.exceptions
        sts = self.server.client("sts")
        # STS's GetCallerIdentity is answered (without --credentials: the account's root).
        out = sts.get_caller_identity()
        self.assertEqual((out["Account"], out["Arn"], out["UserId"]),
                         ("123456789012", "arn:aws:iam::123456789012:root", "123456789012"))
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/r", RoleSessionName="session")
        err = cm.exception.response["Error"]
        self.assertEqual(err["Code"], "InvalidAction")
        self.assertIn("AWS_ENDPOINT_URL_BATCH", err["Message"])
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        s3 = self.server.client("s3")
        for call, kw in ((s3.get_object, {"Bucket": "b", "Key": "k"}),
                         (s3.put_object, {"Bucket": "b", "Key": "k<&>", "Body": b"x"}),
                         (s3.list_objects_v2, {"Bucket": "b"})):
            with self.assertRaises(botocore.exceptions.ClientError) as cm:
                call(**kw)
            err = cm.exception.response["Error"]
            self.assertEqual(err["Code"], "NotImplemented", call)
            self.assertIn("not S3", err["Message"])
        # In S3's own shape (<Error> its root), which every S3 SDK's parser reads.
        status, headers, body = self.server.raw(
            "GET", "/b/k", None,
            {"x-amz-content-sha256": "UNSIGNED-PAYLOAD",
             "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20261205/us-east-1/s3/"
                              "aws4_request, SignedHeaders=host, Signature=00"})
        self.assertEqual((status, headers.get("Content-Type")), (400, "text/xml"))
        self.assertRegex(body.decode(), r"^<\?xml [^>]*>\n<Error><Code>NotImplemented</Code>"
                                        r"<Message>[^<]*not S3[^<]*</Message><RequestId>")
        # The JavaScript SDK sends S3's payload hash header with every service's calls: a Batch
        # call barge does not serve is still answered in Batch's JSON.
        status, headers, body = self.server.raw(
            "POST", "/v1/describeserviceenvironmentsx", {},
            {"Content-Type": "application/json", "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
             "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20261205/us-east-1/batch/"
                              "aws4_request, SignedHeaders=host, Signature=00"})
        self.assertError(status, headers, body, "no such operation")
        # /metrics counts GetCallerIdentity as itself, and the calls barge does not serve (the
        # AssumeRole above, another form posted to /) as any unknown request.
        def counts():
            _, _, text = self.server.raw("GET", "/metrics")
            text = text.decode() if isinstance(text, bytes) else text
            return {(op, code): int(n) for op, code, n in re.findall(
                r'^barge_http_requests_total\{operation="([^"]+)",code="(\d+)"\} (\d+)$', text,
                re.M)}
        before = counts()
        self.server.raw("POST", "/", b"Action=ListUsers&Version=2010-05-08",
                        {"Content-Type": "application/x-www-form-urlencoded"})
        after = counts()
        self.assertEqual(after.get(("GetCallerIdentity", "200")), 1, after)
        self.assertNotIn(("GetCallerIdentity", "400"), after)  # AssumeRole, ListUsers
        self.assertEqual(after.get(("unknown", "400"), 0) - before.get(("unknown", "400"), 0),
                         1, after)
        # So is a form too large to read, whatever it asks for.
        status, _, body = self.server.raw(
            "POST", "/", b"Action=GetCallerIdentity&Pad=" + b"x" * (2 << 20),
            {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 400, body)
        self.assertNotIn(b"GetCallerIdentity", body if isinstance(body, bytes) else
                         json.dumps(body).encode())
        final = counts()
        self.assertNotIn(("GetCallerIdentity", "400"), final)
        self.assertEqual(final.get(("unknown", "400"), 0) - after.get(("unknown", "400"), 0),
                         1, final)

    def test_other_rest_services_are_named(self):
        # A REST call of another service (Amazon EFS's DescribeAccessPoints, which miniwdl-aws
        # makes to find an access point's file system) is told which service barge does not
        # serve and what to point at barge, in JSON its SDK reads, rather than as a Batch call
        # barge lacks.
        import botocore.exceptions
        efs = self.server.client("efs")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            efs.describe_access_points(AccessPointId="fsap-0123456789abcdef0")
        err = cm.exception.response["Error"]
        self.assertEqual(err["Code"], "NotImplemented")
        self.assertIn("not elasticfilesystem", err["Message"])
        self.assertIn("AWS_ENDPOINT_URL_BATCH", err["Message"])
        meta = cm.exception.response["ResponseMetadata"]
        self.assertEqual(meta["HTTPStatusCode"], 400)
        self.assertEqual(meta["HTTPHeaders"].get("content-type"), "application/json")
        # Unsigned (or signed for Batch, as above), it is still a Batch operation barge lacks.
        status, headers, body = self.server.raw("GET", "/2015-02-01/access-points")
        self.assertError(status, headers, body, "no such operation")

    def test_head_of_healthz(self):
        # Load balancers probe with HEAD: the headers of GET's answer, no body.
        status, headers, body = http(self.server.port, request_bytes("HEAD", "/healthz"))
        self.assertEqual(status, 200, body)
        self.assertEqual(headers.get("content-type"), "application/json")
        self.assertEqual(body, b"")

    def test_unknown_json_target(self):
        # CloudWatch Logs style requests name their operation in a header.
        status, headers, body = self.server.raw(
            "POST", "/", b"{}", headers={"X-Amz-Target": "Logs_20140328.NoSuchOperation",
                                         "Content-Type": "application/x-amz-json-1.1"})
        self.assertError(status, headers, body, "Logs_20140328.NoSuchOperation",
                         code="UnknownOperationException",
                         content_type="application/x-amz-json-1.1")

    def test_unknown_operation_with_big_body_is_drained(self):
        # The body of an unknown operation is read and dropped, not parsed.
        status, headers, body = self.server.raw("POST", "/v1/nosuchthing", b"x" * (512 * 1024))
        self.assertError(status, headers, body, "no such operation")


class Sizes(WireCase):
    def test_oversized_bodies_are_refused(self):
        huge = b'{"computeEnvironments": ["' + b"x" * (2 * MAX_BODY) + b'"]}'
        for op in ("describecomputeenvironments", "createcomputeenvironment",
                   "updatecomputeenvironment", "deletecomputeenvironment"):
            status, headers, body = http(self.server.port, request_bytes(
                "POST", "/v1/" + op, huge))
            msg = self.assertError(status, headers, body, "request body")
            self.assertIn("limit", msg)
            self.assertIn(str(MAX_BODY), msg)
        # Without a Content-Length (chunked), the limit holds while reading.
        chunk = b"x" * 65536
        body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(40)) + b"0\r\n\r\n"
        status, headers, out = http(self.server.port, request_bytes(
            "POST", "/v1/describecomputeenvironments", body,
            headers={"Transfer-Encoding": "chunked"}))
        self.assertError(status, headers, out, "request body", "limit")

    def test_an_oversized_body_is_read_before_the_refusal(self):
        # Up to 8 MiB, the body is read (and dropped) and then refused: a client that writes
        # all of it before reading (the Go SDK) gets the answer, not a broken pipe it retries.
        body = b'{"jobName": "' + b"x" * (3 * 1024 * 1024) + b'"}'
        data = request_bytes("POST", "/v1/submitjob", body)
        head = data.index(b"\r\n\r\n") + 4
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=20)
        try:
            # The headers, then the body a moment later, as a client busy making it: an answer
            # sent at the headers, and the connection closed, would break this write.
            s.sendall(data[:head])
            time.sleep(0.5)
            s.sendall(data[head:])
            out = read_to_close(s)
        finally:
            s.close()
        status, headers, answer = parse_response(out)
        msg = self.assertError(status, headers, answer, "request body", "30720")
        self.assertIn(str(len(body)), msg)
        self.assertIn("make the job's name, command, environment", msg)
        # Over 8 MiB it is refused at once, as before.
        huge = b'{"jobName": "' + b"x" * (9 * 1024 * 1024) + b'"}'
        status, headers, answer = http(self.server.port, request_bytes("POST", "/v1/submitjob",
                                                                       huge))
        self.assertError(status, headers, answer, "request body")

    def test_limit_is_exact(self):
        # A valid document of exactly the limit is taken; one byte more is not.
        doc = b'{"computeEnvironments": null, "pad": "'
        tail = b'"}'
        body = doc + b"p" * (MAX_BODY - len(doc) - len(tail)) + tail
        self.assertEqual(len(body), MAX_BODY)
        status, _, out = http(self.server.port, request_bytes(
            "POST", "/v1/describecomputeenvironments", body))
        self.assertEqual(status, 200, out[:300])
        body = body[:-2] + b'p"}'
        status, headers, out = http(self.server.port, request_bytes(
            "POST", "/v1/describecomputeenvironments", body))
        self.assertError(status, headers, out, "limit")

    def test_short_body_then_close(self):
        # A client that promises more than it sends and goes away must not hold anything up.
        for _ in range(30):
            s = socket.create_connection(("127.0.0.1", self.server.port))
            s.sendall(request_bytes("POST", "/v1/createcomputeenvironment",
                                    b'{"computeEnvironmentName": "sh', content_length=1000))
            s.close()
        t = time.time()
        self.ok("describecomputeenvironments", {})
        self.assertLess(time.time() - t, 2)
        # Nothing half-received was applied.
        out = self.ok("describecomputeenvironments", {"computeEnvironments": ["sh"]})
        self.assertEqual(out["computeEnvironments"], [])

    def test_slow_clients_do_not_block_others(self):
        # Connections stuck in the middle of a body, kept open while others are served.
        stuck = []
        try:
            for _ in range(50):
                s = socket.create_connection(("127.0.0.1", self.server.port))
                s.sendall(request_bytes("POST", "/v1/describecomputeenvironments", b"{",
                                        content_length=100))
                stuck.append(s)
            t = time.time()
            for i in range(50):
                self.ok("describecomputeenvironments", {"maxResults": 1 + i % 5})
            self.assertLess(time.time() - t, 5)
        finally:
            for s in stuck:
                s.close()


class Concurrency(WireCase):
    def test_many_connections_at_once(self):
        # Open them all first, then send, then read: every one is in flight together.
        n = 200
        socks = [socket.create_connection(("127.0.0.1", self.server.port), timeout=20)
                 for _ in range(n)]
        try:
            for i, s in enumerate(socks):
                body = json.dumps({"computeEnvironmentName": "cc-%d" % i, "type": "UNMANAGED"})
                s.sendall(request_bytes("POST", "/v1/createcomputeenvironment", body.encode()))
            answers = []
            for s in socks:
                answers.append(parse_response(read_to_close(s)))
        finally:
            for s in socks:
                s.close()
        self.assertEqual([a[0] for a in answers], [200] * n)
        pages = self.batch.get_paginator("describe_compute_environments").paginate()
        names = {e["computeEnvironmentName"] for p in pages for e in p["computeEnvironments"]}
        self.assertEqual({x for x in names if x.startswith("cc-")}, {"cc-%d" % i for i in range(n)})

    def test_many_clients_keep_alive(self):
        # Threads reusing their connections, mixing good and bad requests.
        def work(i):
            results = []
            for j in range(20):
                body = {"maxResults": 5} if j % 2 else {"maxResults": "five"}
                status, _, out = self.server.raw("POST", "/v1/describecomputeenvironments", body)
                results.append((status, j % 2))
            return results
        with concurrent.futures.ThreadPoolExecutor(32) as pool:
            for results in pool.map(work, range(64)):
                for status, good in results:
                    self.assertEqual(status, 200 if good else 400)


def signed(url, method, path, body=b"", key="AKIDEXAMPLE"):
    """A request signed by botocore, as any AWS SDK would sign it."""
    req = AWSRequest(method=method, url=url + path, data=body,
                     headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(key, "secret"), "batch", REGION).add_auth(req)
    return dict(req.headers.items())


class AuthRequired(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(args=()).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def assertAuthError(self, status, headers, body, code, *fragments):
        self.assertEqual(status, 403, body)
        self.assertEqual(headers.get("x-amzn-ErrorType"), code)
        self.assertEqual(body["__type"], code)
        for f in fragments:
            self.assertIn(f, body["message"])

    def test_unsigned_is_refused(self):
        body = {"computeEnvironmentName": "unsigned", "type": "UNMANAGED"}
        status, headers, out = self.server.raw("POST", "/v1/createcomputeenvironment", body)
        self.assertAuthError(status, headers, out, "MissingAuthenticationTokenException",
                             "Authorization", "--credentials")
        # Health checks come from supervisors, which do not sign.
        self.assertEqual(self.server.raw("GET", "/healthz")[0], 200)
        # Nothing was created.
        listed = self.server.client().describe_compute_environments()["computeEnvironments"]
        self.assertNotIn("unsigned", [e["computeEnvironmentName"] for e in listed])

    def test_malformed_authorization_is_refused(self):
        for header, fragment in (("Bearer abc", "AWS4-HMAC-SHA256"),
                                 ("AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/batch/"
                                  "aws4_request, SignedHeaders=host", "Signature"),
                                 ("AWS4-HMAC-SHA256 Credential=AK, SignedHeaders=host, "
                                  "Signature=abcd", "Credential"),
                                 ("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256")):
            status, headers, out = self.server.raw(
                "POST", "/v1/describecomputeenvironments", {},
                headers={"Authorization": header})
            self.assertAuthError(status, headers, out, "IncompleteSignatureException",
                                 "Authorization header", fragment)

    def test_signed_requests_are_taken(self):
        b = self.server.client()
        b.create_compute_environment(computeEnvironmentName="signed", type="UNMANAGED")
        out = b.describe_compute_environments(computeEnvironments=["signed"])
        self.assertEqual(len(out["computeEnvironments"]), 1)
        out = self.server.aws("batch", "describe-compute-environments",
                              "--compute-environments", "signed")
        self.assertEqual(out["computeEnvironments"][0]["computeEnvironmentName"], "signed")
        body = b'{"computeEnvironments": ["signed"]}'
        status, _, out = self.server.raw(
            "POST", "/v1/describecomputeenvironments", body,
            headers=signed(self.server.url, "POST", "/v1/describecomputeenvironments", body))
        self.assertEqual(status, 200)
        self.assertEqual(len(out["computeEnvironments"]), 1)

    def test_errors_after_authentication_are_client_errors(self):
        body = b"[not json"
        status, headers, out = self.server.raw(
            "POST", "/v1/describecomputeenvironments", body,
            headers=signed(self.server.url, "POST", "/v1/describecomputeenvironments", body))
        self.assertEqual(status, 400)
        self.assertEqual(headers.get("x-amzn-ErrorType"), "ClientException")


class DevAcceptsAnyCredentials(WireCase):
    def test_any_or_no_credentials(self):
        status, _, _ = self.server.raw("POST", "/v1/describecomputeenvironments", {})
        self.assertEqual(status, 200)
        import boto3
        for key, region in (("AKIDEXAMPLE", "us-east-1"), ("someone-else", "eu-west-3"),
                            ("ASIATEMPORARY", "ap-south-1")):
            c = boto3.client("batch", endpoint_url=self.server.url, region_name=region,
                             aws_access_key_id=key, aws_secret_access_key="whatever",
                             aws_session_token="tok" if key.startswith("ASIA") else None)
            self.assertIn("computeEnvironments", c.describe_compute_environments())


if __name__ == "__main__":
    unittest.main()
