"""Authorization that must hold however a request spells what it names: explicit Deny statements
against ARNs of another region, account or partition, job ARNs in CancelJobs and TerminateJobs,
CloudWatch Logs bodies the authorizer and the handler might read differently, log groups named by
their ARN, log requests whose operation is not signed, event streams opened with a key that is
later removed, and roles handed to jobs (iam:PassRole).  Plus refusals that already hold and must keep holding (payload hashes that are
not the body's, malformed Authorization headers)."""
import datetime
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import socket
import tempfile
import time
import unittest

import boto3
import botocore.config
import botocore.exceptions
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from harness import ACCOUNT, REGION, Server, write_credentials

KEYS = {
    "admin": ("AKIARESOURCEADMIN001", "resAdminSecret000000000000000000001", "admin"),
    "denier": ("AKIARESOURCEDENY0001", "resDenySecret0000000000000000000001", "deny-some"),
    "batch-only": ("AKIARESOURCEBATCH001", "resBatchSecret000000000000000000001", "batch-only"),
    "passer": ("AKIARESOURCEPASS0001", "resPassSecret0000000000000000000001", "passer"),
}

ROLE = "arn:aws:iam::%s:role/pipeline" % ACCOUNT
INSTANCE_ROLE = "arn:aws:iam::%s:role/ecsInstanceRole" % ACCOUNT

LOG_GROUP_ARN = "arn:aws:logs:%s:%s:log-group:" % (REGION, ACCOUNT)
# Every job's id is a UUID: 36 characters.  A Deny on exactly those names each job's ARN as AWS
# makes it, and nothing longer.
ANY_JOB_ID = "????????-????-????-????-????????????"


def arn(kind, name, region=REGION, account=ACCOUNT, partition="aws"):
    return "arn:%s:batch:%s:%s:%s/%s" % (partition, region, account, kind, name)


POLICIES = {
    # Everything, but for what the Deny statements name: queues with wildcards for the region
    # and the account, as careful policies write them, and jobs by this server's ARNs.
    "deny-some": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["batch:*", "logs:*"], "Resource": "*"},
        {"Effect": "Deny",
         "Action": ["batch:SubmitJob", "batch:UpdateJobQueue", "batch:DeleteJobQueue",
                    "batch:TagResource", "batch:GetJobQueueSnapshot"],
         "Resource": "arn:aws:batch:*:*:job-queue/secret"},
        {"Effect": "Deny", "Action": ["batch:CancelJob*", "batch:TerminateJob*"],
         "Resource": arn("job", ANY_JOB_ID)},
        {"Effect": "Deny", "Action": "logs:*", "Resource": LOG_GROUP_ARN + "/secret:*"},
        {"Effect": "Deny", "Action": "logs:GetLogEvents",
         "Resource": LOG_GROUP_ARN + "/open:log-stream:hidden"}]},
    # Every Batch call, but no role to hand to jobs.
    "batch-only": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "batch:*", "Resource": "*"}]},
    # The same, and two roles it may hand on.
    "passer": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "batch:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": [ROLE, INSTANCE_ROLE]}]},
}

CONTAINER = {
    "image": "busybox",
    "command": ["true"],
    "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}],
}


def sign(url, method, path, body, key, secret, service="batch", headers=None, token=None):
    """The headers of a request signed by botocore (Host is signed from the URL)."""
    req = AWSRequest(method=method, url=url + path, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(key, secret, token), service, REGION).add_auth(req)
    return dict(req.headers.items())


def send(port, method, path, body, headers):
    """One raw HTTP request; (status, text of the answer)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        c.request(method, path, body=body or None, headers=headers)
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        c.close()


def manual_authorization(amz, body, key, secret, signed, headers, payload_hash=None):
    """An Authorization header computed here, for what botocore will not sign: signed is the
    list of lower-case header names in SignedHeaders, headers the (name, value) pairs sent."""
    values = {}
    for n, v in headers:
        values.setdefault(n.lower(), []).append(" ".join(v.split()))
    canon_headers = "".join("%s:%s\n" % (n, ",".join(values[n])) for n in signed)
    ph = payload_hash or hashlib.sha256(body).hexdigest()
    cr = "\n".join(["POST", "/v1/describejobqueues", "", canon_headers, ";".join(signed), ph])
    scope = "%s/%s/batch/aws4_request" % (amz[:8], REGION)
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(cr.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (amz[:8], REGION, "batch", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    return "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        key, scope, ";".join(signed), sig)


class AuthorizedResources(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="barge-auth-resources-")
        creds = write_credentials(os.path.join(cls.dir, "credentials"), {
            name: {"aws_access_key_id": k, "aws_secret_access_key": s, "barge_policy": p}
            for name, (k, s, p) in KEYS.items()})
        pols = os.path.join(cls.dir, "policies.json")
        with open(pols, "w") as f:
            json.dump(POLICIES, f)
        cls.server = Server(args=("--credentials", creds, "--policies", pols)).start()
        admin = cls.client("admin")
        admin.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED")
        for q in ("open", "secret"):
            admin.create_job_queue(jobQueueName=q, priority=1, computeEnvironmentOrder=[
                {"order": 1, "computeEnvironment": "ce"}])
        admin.register_job_definition(jobDefinitionName="d", type="container",
                                      containerProperties=CONTAINER)
        logs = cls.client("admin", "logs")
        for g in ("/secret", "/open"):
            logs.create_log_group(logGroupName=g)
        logs.create_log_stream(logGroupName="/secret", logStreamName="s")
        logs.create_log_stream(logGroupName="/open", logStreamName="hidden")

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def client(cls, who, service="batch"):
        k, s, _ = KEYS[who]
        return boto3.client(
            service, endpoint_url=cls.server.url, region_name=REGION, aws_access_key_id=k,
            aws_secret_access_key=s, config=botocore.config.Config(retries={"max_attempts": 1}))

    def denied(self, fn, **kw):
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            fn(**kw)
        self.assertEqual(cm.exception.response["Error"]["Code"], "AccessDeniedException",
                         cm.exception.response["Error"])

    def signed_post(self, who, path, body, service="batch", target=None):
        k, s, _ = KEYS[who]
        headers = {"Content-Type": "application/json"}
        if target:
            headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
        headers = sign(self.server.url, "POST", path, body, k, s, service, headers)
        return send(self.server.port, "POST", path, body, headers)

    def job(self):
        return self.client("admin").submit_job(jobName="j", jobQueue="open",
                                               jobDefinition="d")["jobId"]

    def status(self, job_id):
        return self.client("admin").describe_jobs(jobs=[job_id])["jobs"][0]["status"]

    # What holds: the Deny as the queue and the job are usually named ----------------------

    def test_deny_holds_for_the_name_and_this_servers_arn(self):
        denier = self.client("denier")
        for q in ("secret", arn("job-queue", "secret")):
            self.denied(denier.submit_job, jobName="j", jobQueue=q, jobDefinition="d")
        job_id = self.job()
        self.denied(denier.cancel_job, jobId=job_id, reason="r")
        self.denied(denier.cancel_job, jobId=arn("job", job_id), reason="r")
        status, text = self.signed_post("denier", "/v1/terminatejobs",
                                        json.dumps({"jobs": [job_id], "reason": "r"}).encode())
        self.assertEqual(status, 403, text)
        self.assertIn("AccessDeniedException", text)

    # An ARN is authorized as the resource it names ---------------------------------------
    # The handlers take a Batch ARN of any region, account and partition for the resource of
    # that name here, so a Deny written for this server's ARNs must hold for them too.

    def test_submit_by_an_arn_of_another_partition_is_denied(self):
        self.denied(self.client("denier").submit_job, jobName="j", jobDefinition="d",
                    jobQueue=arn("job-queue", "secret", "cn-north-1", "999999999999", "aws-cn"))

    def test_queue_calls_by_an_arn_of_another_partition_are_denied(self):
        denier = self.client("denier")
        other = arn("job-queue", "secret", "eu-west-1", "999999999999", "aws-us-gov")
        self.denied(denier.get_job_queue_snapshot, jobQueue=other)
        self.denied(denier.tag_resource, resourceArn=other, tags={"owner": "someone-else"})
        self.denied(denier.update_job_queue, jobQueue=other, priority=7)

    def test_cancel_by_an_arn_of_another_partition_is_denied(self):
        job_id = self.job()
        other = arn("job", job_id, "eu-west-1", "999999999999", "aws-cn")
        try:
            self.denied(self.client("denier").cancel_job, jobId=other, reason="r")
        finally:
            time.sleep(0.5)
            self.assertNotEqual(self.status(job_id), "FAILED")

    # A job named by its ARN in CancelJobs and TerminateJobs is that job, not job/ARN.

    def test_terminate_jobs_by_the_jobs_own_arn_is_denied(self):
        job_id = self.job()
        status, text = self.signed_post(
            "denier", "/v1/terminatejobs",
            json.dumps({"jobs": [arn("job", job_id)], "reason": "r"}).encode())
        time.sleep(0.5)
        self.assertEqual(status, 403, text)
        self.assertNotEqual(self.status(job_id), "FAILED")

    # Cancelling a node of a multi-node job that has not started fails the whole job, so a
    # Deny on the job's ARN must keep its nodes too.

    def test_cancelling_a_node_is_authorized_on_its_job(self):
        admin = self.client("admin")
        admin.register_job_definition(
            jobDefinitionName="mnp", type="multinode",
            nodeProperties={"numNodes": 2, "mainNode": 0, "nodeRangeProperties": [
                {"targetNodes": "0:1", "container": CONTAINER}]})
        job_id = admin.submit_job(jobName="m", jobQueue="open", jobDefinition="mnp")["jobId"]
        denier = self.client("denier")
        self.denied(denier.cancel_job, jobId=job_id, reason="r")
        try:
            self.denied(denier.cancel_job, jobId=job_id + "#1", reason="r")
        finally:
            time.sleep(0.5)
            self.assertNotEqual(self.status(job_id), "FAILED")

    # CloudWatch Logs: the resource is the one the handler acts on ------------------------

    def test_log_group_deny_holds(self):
        status, text = self.signed_post(
            "denier", "/", b'{"logGroupName": "/secret"}', "logs",
            "Logs_20140328.DescribeLogStreams")
        self.assertEqual(status, 403, text)

    # The authorizer reads the body as the handler does: a string holding \u0000 (which the
    # handler takes: job output holds NULs) must not make it see no group and authorize "*".

    def test_log_body_with_a_nul_is_authorized_on_its_group(self):
        status, text = self.signed_post(
            "denier", "/", b'{"logGroupName": "/secret", "comment": "\\u0000"}', "logs",
            "Logs_20140328.DescribeLogStreams")
        self.assertEqual(status, 403, text)

    # A group named by its ARN is the same group: a call on one of its streams is authorized
    # on the stream.

    def test_get_log_events_by_group_arn_is_authorized_on_the_stream(self):
        logs = self.client("denier", "logs")
        self.denied(logs.get_log_events, logGroupName="/open", logStreamName="hidden")
        self.denied(logs.get_log_events, logGroupIdentifier=LOG_GROUP_ARN + "/open",
                    logStreamName="hidden")

    # X-Amz-Target chooses the CloudWatch Logs operation; a signature that does not cover it
    # is good for every operation whose body fits (a read captured once deletes).

    def test_logs_operation_must_be_signed(self):
        k, s, _ = KEYS["admin"]
        body = b'{"logGroupName": "/open", "logStreamName": "hidden"}'
        headers = sign(self.server.url, "POST", "/", body, k, s, "logs",
                       {"Content-Type": "application/x-amz-json-1.1"})
        headers["X-Amz-Target"] = "Logs_20140328.GetLogEvents"
        status, text = send(self.server.port, "POST", "/", body, headers)
        self.assertIn(status, (400, 403), text)

    # Roles handed to jobs: iam:PassRole, as AWS asks of whoever names one ----------------

    def test_a_definitions_job_role_needs_pass_role(self):
        for container in (dict(CONTAINER, jobRoleArn=ROLE),):
            with self.assertRaises(botocore.exceptions.ClientError) as cm:
                self.client("batch-only").register_job_definition(
                    jobDefinitionName="with-role", type="container",
                    containerProperties=container)
            err = cm.exception.response["Error"]
            self.assertEqual(err["Code"], "AccessDeniedException", err)
            self.assertIn("iam:PassRole", err["Message"])
            self.assertIn(ROLE, err["Message"])
        # A node's role too.
        self.denied(self.client("batch-only").register_job_definition,
                    jobDefinitionName="mnp-with-role", type="multinode",
                    nodeProperties={"numNodes": 2, "mainNode": 0, "nodeRangeProperties": [
                        {"targetNodes": "0:1", "container": dict(CONTAINER, jobRoleArn=ROLE)}]})
        # Without a role, or with PassRole on it, the definition is registered.
        self.client("batch-only").register_job_definition(
            jobDefinitionName="without-role", type="container", containerProperties=CONTAINER)
        self.client("passer").register_job_definition(
            jobDefinitionName="with-role", type="container",
            containerProperties=dict(CONTAINER, jobRoleArn=ROLE))
        self.denied(self.client("passer").register_job_definition,
                    jobDefinitionName="other-role", type="container",
                    containerProperties=dict(CONTAINER, jobRoleArn=ROLE + "-admin"))

    def test_an_environments_instance_role_needs_pass_role(self):
        resources = {"type": "EC2", "minvCpus": 0, "maxvCpus": 4, "instanceTypes": ["optimal"],
                     "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}
        for profile in ("ecsInstanceRole",
                        "arn:aws:iam::%s:instance-profile/ecsInstanceRole" % ACCOUNT):
            self.denied(self.client("batch-only").create_compute_environment,
                        computeEnvironmentName="ec2-denied", type="MANAGED",
                        computeResources=dict(resources, instanceRole=profile))
        self.client("passer").create_compute_environment(
            computeEnvironmentName="ec2-passed", type="MANAGED",
            computeResources=dict(resources, instanceRole="ecsInstanceRole"))
        self.denied(self.client("batch-only").update_compute_environment,
                    computeEnvironment="ec2-passed",
                    computeResources={"instanceRole": "ecsInstanceRole"})

    # Payload hashes and malformed headers -------------------------------------------------

    def test_payload_hash_must_be_the_bodys(self):
        k, s, _ = KEYS["admin"]
        host = "127.0.0.1:%d" % self.server.port
        amz = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        for ph in ("UNSIGNED-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                   "STREAMING-UNSIGNED-PAYLOAD-TRAILER"):
            hs = [("Host", host), ("Content-Type", "application/json"), ("X-Amz-Date", amz),
                  ("X-Amz-Content-Sha256", ph)]
            auth = manual_authorization(amz, b"{}", k, s,
                                        ["host", "x-amz-content-sha256", "x-amz-date"], hs, ph)
            status, text = send(self.server.port, "POST", "/v1/describejobqueues", b"{}",
                                dict(hs[1:] + [("Authorization", auth)]))
            self.assertEqual(status, 403, (ph, text))
            self.assertIn("InvalidSignatureException", text)

    def test_malformed_authorization_headers_are_refused(self):
        host = "127.0.0.1:%d" % self.server.port
        amz = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        cred = "AKIARESOURCEADMIN001/%s/%s/batch/aws4_request" % (amz[:8], REGION)
        bad = [
            "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=,SignedHeaders=,Signature=",
            "AWS4-HMAC-SHA256 Credential=%s, SignedHeaders=host, Signature=" % cred,
            "AWS4-HMAC-SHA256 Credential=%s, SignedHeaders=host, Signature=%s" % (cred, "a" * 300),
            "AWS4-HMAC-SHA256 Credential=%s, SignedHeaders=%s, Signature=%s" % (
                cred, ";" * 1500, "a" * 64),
            "AWS4-HMAC-SHA256 Credential=%s, SignedHeaders=%s, Signature=%s" % (
                cred, "host" + ";authorization" * 80, "a" * 64),
            "AWS4-HMAC-SHA256 Credential=%s/x, SignedHeaders=host, Signature=%s" % (
                cred, "a" * 64),
            "AWS4-HMAC-SHA256 Credential=/////, SignedHeaders=host, Signature=%s" % ("a" * 64),
            "AWS4-HMAC-SHA256 Credential=%s, SignedHeaders=host, Signature=%s" % (
                "A" * 700 + cred, "a" * 64),
            "AWS4-HMAC-SHA256 Credential=%s, SignedHeaders=host;x-amz-date, Signature=%s" % (
                cred, "a" * 64),
        ]
        for h in bad:
            status, text = send(self.server.port, "POST", "/v1/describejobqueues", b"{}",
                                {"Host": host, "X-Amz-Date": amz, "Authorization": h})
            self.assertIn(status, (400, 403), (h[:80], text))
        self.assertIsNone(self.server.proc.poll())


class EventStreamRevocation(unittest.TestCase):
    """A key removed by SIGHUP is refused from the next request on; an event stream it opened
    before is a request that never ends."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="barge-auth-resources-sse-")
        self.creds = os.path.join(self.dir, "credentials")
        write_credentials(self.creds, {
            "admin": {"aws_access_key_id": KEYS["admin"][0],
                      "aws_secret_access_key": KEYS["admin"][1], "barge_policy": "admin"},
            "leaving": {"aws_access_key_id": "AKIARESOURCELEAVING1",
                        "aws_secret_access_key": "leavingSecret000000000000000000001",
                        "barge_policy": "read"}})
        self.server = Server(args=("--credentials", self.creds)).start()

    def tearDown(self):
        self.server.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_stream_stops_once_its_key_is_removed(self):
        admin = boto3.client("batch", endpoint_url=self.server.url, region_name=REGION,
                             aws_access_key_id=KEYS["admin"][0],
                             aws_secret_access_key=KEYS["admin"][1])
        admin.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED")
        admin.create_job_queue(jobQueueName="q", priority=1, computeEnvironmentOrder=[
            {"order": 1, "computeEnvironment": "ce"}])
        admin.register_job_definition(jobDefinitionName="d", type="container",
                                      containerProperties=CONTAINER)
        path = "/barge/v1/events"
        headers = sign(self.server.url, "GET", path, b"", "AKIARESOURCELEAVING1",
                       "leavingSecret000000000000000000001")
        s = socket.create_connection(("127.0.0.1", self.server.port))
        s.settimeout(2)
        try:
            s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % (path, self.server.port) +
                       "".join("%s: %s\r\n" % kv for kv in headers.items()) + "\r\n").encode())
            head = b""
            while b"\r\n\r\n" not in head:
                head += s.recv(65536)
            self.assertTrue(head.startswith(b"HTTP/1.1 200"), head[:200])
            write_credentials(self.creds, {
                "admin": {"aws_access_key_id": KEYS["admin"][0],
                          "aws_secret_access_key": KEYS["admin"][1], "barge_policy": "admin"}})
            self.server.proc.send_signal(signal.SIGHUP)
            leaving = boto3.client(
                "batch", endpoint_url=self.server.url, region_name=REGION,
                aws_access_key_id="AKIARESOURCELEAVING1",
                aws_secret_access_key="leavingSecret000000000000000000001",
                config=botocore.config.Config(retries={"max_attempts": 1}))
            deadline = time.time() + 10
            while True:  # the reload has happened once a new call with the key is refused
                try:
                    leaving.describe_job_queues()
                except botocore.exceptions.ClientError:
                    break
                self.assertLess(time.time(), deadline, "SIGHUP did not remove the key")
                time.sleep(0.1)
            job_id = admin.submit_job(jobName="after-removal", jobQueue="q",
                                      jobDefinition="d")["jobId"]
            admin.cancel_job(jobId=job_id, reason="r")
            seen = b""
            ended = False
            deadline = time.time() + 5
            while time.time() < deadline:
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    ended = True
                    break
                seen += chunk
            self.assertNotIn(job_id.encode(), seen)
            # The stream says why it ends, and ends (the chunked body's last chunk).
            self.assertIn(b": the key this stream was opened with no longer allows it", seen)
            self.assertTrue(ended or seen.endswith(b"0\r\n\r\n"), seen[-200:])
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main()
