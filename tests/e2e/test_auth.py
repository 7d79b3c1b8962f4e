"""Keys, signatures and policies: a server started with --credentials and --policies, driven by
clients that each sign their own way (botocore, the AWS CLI v1 and v2, the AWS SDK for
JavaScript v3), with good keys and bad, expired requests, session tokens, and principals whose
policies allow some calls and not others."""
import datetime
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest
from unittest import mock

import boto3
import botocore.auth
import botocore.config
import botocore.exceptions
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from harness import ACCOUNT, BARGE, REGION, ROOT, Server, write_credentials

CONTAINER = {
    "image": "busybox",
    "command": ["true"],
    "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}],
}

# Principals: name -> (access key, secret, policy, session token or None).
KEYS = {
    "admin": ("AKIAADMIN000000001", "adm+in/Secret0000000000000000000001", "admin", None),
    "reader": ("AKIAREADER00000001", "readerSecret00000000000000000000001", "read", None),
    "submitter": ("AKIASUBMIT00000001", "submitSecret00000000000000000000001", "submit", None),
    "onequeue": ("AKIAONEQ0000000001", "oneqSecret000000000000000000000001", "one-queue", None),
    "noterm": ("AKIANOTERM00000001", "notermSecret0000000000000000000001", "no-terminate",
               None),
    "nologs": ("AKIANOLOGS00000001", "nologsSecret0000000000000000000001", "batch-only", None),
    "jobarns": ("AKIAJOBARNS0000001", "jobarnsSecret000000000000000000001", "job-arns", None),
    "tagger": ("AKIATAGGER00000001", "taggerSecret00000000000000000000001", "tag-mine", None),
    "teama": ("AKIATEAMA000000001", "teamaSecret000000000000000000000001", "team-a", None),
    "q1": ("AKIAQ1QUEUE0000001", "q1Secret0000000000000000000000000001", "own-queue", None),
    "guarded": ("AKIAGUARDED0000001", "guardedSecret00000000000000000000001", "guarded", None),
    "temp": ("ASIATEMP0000000001", "tempSecret00000000000000000000000001", "admin",
             "FwoGZXIvYXdzEXAMPLEtoken/with+chars=="),
    # Longer than the 4,096-byte line the credentials file was once read in: its tail, with its
    # '=', was read as a key of its own and the token cut short.
    "longtoken": ("ASIALONG0000000001", "longSecret00000000000000000000000001", "read",
                  "IQoJb3JpZ2luX2VjE" + "Ab+/c=" * 830 + "=="),
}

BAD_SIGNATURE = ("The request signature we calculated does not match the signature you provided. "
                 "Check your AWS Secret Access Key and signing method. Consult the service "
                 "documentation for details.")
BAD_TOKEN = "The security token included in the request is invalid."


def arn(kind, name):
    return "arn:aws:batch:%s:%s:%s/%s" % (REGION, ACCOUNT, kind, name)


POLICIES = {
    "one-queue": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "batch:SubmitJob",
         "Resource": [arn("job-queue", "q1"), "arn:aws:batch:*:*:job-definition/*"]},
        {"Effect": "Allow", "Action": ["batch:Describe*", "batch:List*"], "Resource": "*"},
        {"Effect": "Allow", "Action": "batch:GetUsage", "Resource": arn("job-queue", "q1")}]},
    "no-terminate": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "batch:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "batch:Terminate*", "Resource": "*"}]},
    "batch-only": {"Statement": {"Effect": "Allow", "Action": "batch:*", "Resource": "*"}},
    # Tags of one log group only.
    "tag-mine": {"Statement": [
        {"Effect": "Allow", "Action": "logs:*", "Resource": "arn:aws:logs:*:*:log-group:/mine:*"},
        {"Effect": "Allow", "Action": "batch:Describe*", "Resource": "*"}]},
    # CancelJob and TerminateJob on jobs' ARNs, as AWS authorizes them; nothing on "*".
    "job-arns": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["batch:SubmitJob", "batch:Describe*"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["batch:CancelJob", "batch:TerminateJob",
                                       "batch:TerminateJobs"],
         "Resource": "arn:aws:batch:*:*:job/*"},
        {"Effect": "Deny", "Action": "batch:TerminateJob*", "Resource": arn("job", "kept-*")}]},
    # Conditions: jobs under one fair-share identifier only, tagged with a cost center and
    # nothing but the tags listed.
    "team-a": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "batch:SubmitJob", "Resource": "*",
         "Condition": {"StringEquals": {"batch:ShareIdentifier": "teamA",
                                        "aws:RequestTag/cost-center": ["41", "42"]},
                       "ForAllValues:StringEquals": {"aws:TagKeys": ["cost-center", "team"]}}},
        {"Effect": "Allow", "Action": "batch:Describe*", "Resource": "*"}]},
    # Each user submits to the queue of its own name (a policy variable).
    "own-queue": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "batch:SubmitJob",
         "Resource": ["arn:aws:batch:*:*:job-queue/${aws:username}",
                      "arn:aws:batch:*:*:job-definition/*"]},
        {"Effect": "Allow", "Action": "batch:Describe*", "Resource": "*"}]},
    # Definitions of images from one place, never privileged, never naming root as the user
    # (one naming no user is not denied: the key is absent).
    "guarded": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "batch:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "batch:RegisterJobDefinition", "Resource": "*",
         "Condition": {"StringNotLike": {"batch:Image": ["busybox", "busybox:*",
                                                         "registry.example/*"]}}},
        {"Effect": "Deny", "Action": "batch:RegisterJobDefinition", "Resource": "*",
         "Condition": {"Bool": {"batch:Privileged": "true"}}},
        {"Effect": "Deny", "Action": "batch:RegisterJobDefinition", "Resource": "*",
         "Condition": {"StringEquals": {"batch:User": ["root", "0"]}}}]},
}


def signed_headers(url, method, path, body, key, secret, service="batch", when=None,
                   token=None, region=REGION):
    """Headers of a request signed by botocore, at `when` (UTC) if given."""
    req = AWSRequest(method=method, url=url + path, data=body,
                     headers={"Content-Type": "application/x-amz-json-1.1"
                              if service == "logs" else "application/json"})
    if service == "logs":
        req.headers["X-Amz-Target"] = "Logs_20140328.DescribeLogGroups"
    auth = SigV4Auth(Credentials(key, secret, token), service, region)
    if when is None:
        auth.add_auth(req)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            auth.add_auth(req)
    return dict(req.headers.items())


class Auth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="barge-auth-")
        creds = write_credentials(os.path.join(cls.dir, "credentials"), {
            name: dict({"aws_access_key_id": k, "aws_secret_access_key": s, "barge_policy": p},
                       **({"aws_session_token": t} if t else {}))
            for name, (k, s, p, t) in KEYS.items()})
        pols = os.path.join(cls.dir, "policies.json")
        with open(pols, "w") as f:
            json.dump(POLICIES, f)
        cls.server = Server(args=("--credentials", creds, "--policies", pols)).start()
        admin = cls.client("admin")
        admin.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED")
        for q in ("q1", "q2"):
            admin.create_job_queue(jobQueueName=q, priority=1, computeEnvironmentOrder=[
                {"order": 1, "computeEnvironment": "ce"}])
        admin.register_job_definition(jobDefinitionName="d", type="container",
                                      containerProperties=CONTAINER)
        fs = admin.create_scheduling_policy(name="fs", fairsharePolicy={
            "shareDistribution": [{"shareIdentifier": "teamA"}, {"shareIdentifier": "teamB"}]})
        admin.create_job_queue(jobQueueName="qfs", priority=1, schedulingPolicyArn=fs["arn"],
                               computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def client(cls, who, service="batch", secret=None, token=None, region=REGION):
        k, s, _, t = KEYS[who]
        return boto3.client(
            service, endpoint_url=cls.server.url, region_name=region, aws_access_key_id=k,
            aws_secret_access_key=secret or s, aws_session_token=token or t,
            config=botocore.config.Config(retries={"max_attempts": 1}))

    def refused(self, fn, code, status=403, **kw):
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            fn(**kw)
        err = cm.exception.response["Error"]
        self.assertEqual(err["Code"], code, err)
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], status)
        return err["Message"]

    # Signatures ------------------------------------------------------------------------------

    def test_good_keys_are_accepted(self):
        for who in KEYS:
            out = self.client(who).describe_job_queues()
            self.assertEqual(sorted(q["jobQueueName"] for q in out["jobQueues"]), ["q1", "q2", "qfs"])

    def test_unknown_key_is_unrecognized(self):
        c = boto3.client("batch", endpoint_url=self.server.url, region_name=REGION,
                         aws_access_key_id="AKIANOBODY00000001", aws_secret_access_key="x")
        msg = self.refused(c.describe_job_queues, "UnrecognizedClientException")
        self.assertEqual(msg, BAD_TOKEN)

    def test_wrong_secret_is_an_invalid_signature(self):
        msg = self.refused(self.client("admin", secret="wrong").describe_job_queues,
                           "InvalidSignatureException")
        self.assertEqual(msg, BAD_SIGNATURE)
        # The same with a body: nothing is created.
        self.refused(self.client("admin", secret="wrong").create_compute_environment,
                     "InvalidSignatureException", computeEnvironmentName="nope",
                     type="UNMANAGED")
        names = [c["computeEnvironmentName"] for c in
                 self.client("admin").describe_compute_environments()["computeEnvironments"]]
        self.assertNotIn("nope", names)

    def test_a_changed_body_or_path_breaks_the_signature(self):
        k, s, _, _ = KEYS["admin"]
        body = b'{"jobQueues": ["q1"]}'
        h = signed_headers(self.server.url, "POST", "/v1/describejobqueues", body, k, s)
        status, _, out = self.server.raw("POST", "/v1/describejobqueues", body, headers=h)
        self.assertEqual(status, 200, out)
        status, _, out = self.server.raw("POST", "/v1/describejobqueues",
                                         b'{"jobQueues": ["q2"]}', headers=h)
        self.assertEqual((status, out["__type"], out["message"]),
                         (403, "InvalidSignatureException", BAD_SIGNATURE))
        status, _, out = self.server.raw("POST", "/v1/describecomputeenvironments", body,
                                         headers=h)
        self.assertEqual((status, out["__type"]), (403, "InvalidSignatureException"))
        # An unsigned request is refused too.
        status, _, out = self.server.raw("POST", "/v1/describejobqueues", body)
        self.assertEqual((status, out["__type"]), (403, "MissingAuthenticationTokenException"))

    def test_signed_query_and_uri_label(self):
        admin = self.client("admin")
        q = arn("job-queue", "q2")
        admin.tag_resource(resourceArn=q, tags={"a b": "1", "c/d": "2", "e": "3"})
        admin.untag_resource(resourceArn=q, tagKeys=["a b", "c/d"])
        self.assertEqual(admin.list_tags_for_resource(resourceArn=q)["tags"], {"e": "3"})

    def test_scope_must_name_the_region_and_service(self):
        msg = self.refused(self.client("admin", region="eu-west-1").describe_job_queues,
                           "InvalidSignatureException")
        self.assertIn("Credential should be scoped to a valid region", msg)
        k, s, _, _ = KEYS["admin"]
        h = signed_headers(self.server.url, "POST", "/v1/describejobqueues", b"{}", k, s,
                           service="logs")
        h.pop("X-Amz-Target")
        status, _, out = self.server.raw("POST", "/v1/describejobqueues", b"{}", headers=h)
        self.assertEqual((status, out["__type"]), (403, "InvalidSignatureException"))
        self.assertEqual(out["message"], "Credential should be scoped to correct service: "
                                         "'batch'. ")

    def test_expired_and_future_requests(self):
        k, s, _, _ = KEYS["admin"]
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        for delta, pattern in (
                (-16, r"^Signature expired: (\d{8}T\d{6}Z) is now earlier than \d{8}T\d{6}Z "
                      r"\(\d{8}T\d{6}Z - 15 min\.\)$"),
                (16, r"^Signature not yet current: (\d{8}T\d{6}Z) is still later than "
                     r"\d{8}T\d{6}Z \(\d{8}T\d{6}Z \+ 15 min\.\)$")):
            when = now + datetime.timedelta(minutes=delta)
            h = signed_headers(self.server.url, "POST", "/v1/describejobqueues", b"{}", k, s,
                               when=when)
            status, _, out = self.server.raw("POST", "/v1/describejobqueues", b"{}", headers=h)
            self.assertEqual((status, out["__type"]), (403, "InvalidSignatureException"), out)
            m = re.match(pattern, out["message"])
            self.assertTrue(m, out["message"])
            self.assertEqual(m.group(1), when.strftime("%Y%m%dT%H%M%SZ"))
        # Within the window: accepted.
        for delta in (-14, 14):
            h = signed_headers(self.server.url, "POST", "/v1/describejobqueues", b"{}", k, s,
                               when=now + datetime.timedelta(minutes=delta))
            status, _, out = self.server.raw("POST", "/v1/describejobqueues", b"{}", headers=h)
            self.assertEqual(status, 200, out)

    def test_session_tokens(self):
        self.client("temp").describe_job_queues()
        k, s, _, t = KEYS["temp"]
        for token in ("wrong-token", None):
            c = boto3.client("batch", endpoint_url=self.server.url, region_name=REGION,
                             aws_access_key_id=k, aws_secret_access_key=s,
                             aws_session_token=token)
            self.assertEqual(self.refused(c.describe_job_queues, "UnrecognizedClientException"),
                             BAD_TOKEN)
        # A token with a key that has none.
        c = self.client("admin", token="some-token")
        self.refused(c.describe_job_queues, "UnrecognizedClientException")

    def test_sts_get_caller_identity_names_the_signer(self):
        # Workflow tools (redun, Covalent) check their credentials and learn the account with
        # STS before they submit: the caller is the principal whose key signed, in STS's XML.
        for who in ("admin", "reader", "temp"):
            out = self.client(who, service="sts").get_caller_identity()
            self.assertEqual((out["Account"], out["Arn"], out["UserId"]),
                             (ACCOUNT, "arn:aws:iam::%s:user/%s" % (ACCOUNT, who), KEYS[who][0]))
        # Refusals in STS's XML too, which the SDK reads.
        msg = self.refused(self.client("admin", service="sts", secret="wrong").get_caller_identity,
                           "InvalidSignatureException")
        self.assertEqual(msg, BAD_SIGNATURE)
        self.refused(self.client("admin", service="sts", region="eu-west-1").get_caller_identity,
                     "InvalidSignatureException")
        # Its other actions are not served.
        msg = self.refused(self.client("admin", service="sts").assume_role, "InvalidAction",
                           status=400, RoleArn="arn:aws:iam::%s:role/r" % ACCOUNT,
                           RoleSessionName="session")
        self.assertIn("GetCallerIdentity", msg)
        # Other services' query calls are told so whatever they are signed for (not refused
        # as signed for another service than STS).
        for service, call in (("iam", "get_user"), ("ec2", "describe_regions")):
            msg = self.refused(getattr(self.client("admin", service=service), call),
                               "InvalidAction", status=400)
            self.assertIn("AWS_ENDPOINT_URL_BATCH", msg)

    # Policies --------------------------------------------------------------------------------

    def test_audit_trail_names_the_principal(self):
        self.refused(self.client("reader").submit_job, "AccessDeniedException", jobName="audit-me",
                     jobQueue="q1", jobDefinition="d")
        with open(os.path.join(self.server.data_dir, "audit.log")) as f:
            events = [json.loads(line) for line in f]
        e = [e for e in events if (e["requestParameters"] or {}).get("jobName") == "audit-me"][-1]
        self.assertEqual(e["errorCode"], "AccessDeniedException")
        self.assertEqual(e["userIdentity"]["accessKeyId"], KEYS["reader"][0])
        self.assertTrue(e["userIdentity"]["arn"].startswith("arn:aws:iam::"), e)
        self.assertTrue(e["userIdentity"]["arn"].endswith(":user/" + e["userIdentity"]["userName"]))

    def test_read_is_denied_submitjob_with_iams_message(self):
        msg = self.refused(self.client("reader").submit_job, "AccessDeniedException",
                           jobName="j", jobQueue="q1", jobDefinition="d")
        self.assertEqual(msg, "User: arn:aws:iam::%s:user/reader is not authorized to perform: "
                              "batch:SubmitJob on resource: %s because no identity-based "
                              "policy allows the batch:SubmitJob action"
                         % (ACCOUNT, arn("job-queue", "q1")))
        self.refused(self.client("reader").create_job_queue, "AccessDeniedException",
                     jobQueueName="q3", priority=1,
                     computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])
        self.client("reader").list_jobs(jobQueue="q1")

    def test_submit_policy(self):
        sub = self.client("submitter")
        job = sub.submit_job(jobName="j", jobQueue="q2", jobDefinition="d")["jobId"]
        sub.terminate_job(jobId=job, reason="test")
        msg = self.refused(sub.register_job_definition, "AccessDeniedException",
                           jobDefinitionName="d2", type="container",
                           containerProperties=CONTAINER)
        self.assertIn("batch:RegisterJobDefinition on resource: %s"
                      % arn("job-definition", "d2"), msg)

    def test_custom_policy_allows_one_queue(self):
        c = self.client("onequeue")
        c.submit_job(jobName="j", jobQueue="q1", jobDefinition="d")
        c.submit_job(jobName="j", jobQueue=arn("job-queue", "q1"), jobDefinition="d:1")
        msg = self.refused(c.submit_job, "AccessDeniedException", jobName="j", jobQueue="q2",
                           jobDefinition="d")
        self.assertIn("user/onequeue is not authorized to perform: batch:SubmitJob on "
                      "resource: %s" % arn("job-queue", "q2"), msg)
        msg = self.refused(c.cancel_job, "AccessDeniedException", jobId="x", reason="r")
        self.assertIn("batch:CancelJob on resource: %s" % arn("job", "x"), msg)

    def test_cancel_and_terminate_are_authorized_on_the_jobs_arn(self):
        # They were authorized on "*", so a policy giving them on jobs' ARNs gave nothing, and
        # one denying them for some jobs denied them for none.
        c = self.client("jobarns")
        job = c.submit_job(jobName="j", jobQueue="q1", jobDefinition="d")["jobId"]
        c.cancel_job(jobId=job, reason="r")
        c.terminate_job(jobId=job, reason="r")
        msg = self.refused(c.terminate_job, "AccessDeniedException", jobId="kept-1", reason="r")
        self.assertIn("batch:TerminateJob on resource: %s" % arn("job", "kept-1"), msg)
        self.assertIn("with an explicit deny", msg)
        # TerminateJobs on each job's ARN: one refused refuses the call (raw: this botocore
        # predates it).
        def bulk(jobs):
            k, s, _, _ = KEYS["jobarns"]
            body = json.dumps({"jobs": jobs, "reason": "r"}).encode()
            h = signed_headers(self.server.url, "POST", "/v1/terminatejobs", body, k, s)
            return self.server.raw("POST", "/v1/terminatejobs", body, headers=h)
        status, _, out = bulk([job])
        self.assertEqual((status, out["successful"]), (200, [job]), out)
        status, _, out = bulk([job, "kept-2"])
        self.assertEqual((status, out["__type"]), (403, "AccessDeniedException"), out)
        self.assertIn("batch:TerminateJobs on resource: %s" % arn("job", "kept-2"),
                      out["message"])

    def test_get_usage_is_authorized_on_its_queue(self):
        def usage(who, queue):
            k, s, _, _ = KEYS[who]
            body = json.dumps({"jobQueue": queue}).encode()
            h = signed_headers(self.server.url, "POST", "/barge/v1/getusage", body, k, s)
            return self.server.raw("POST", "/barge/v1/getusage", body, headers=h)
        # The built-in read policy has it; a policy can give it for one queue.
        for who, queue in (("reader", "q2"), ("onequeue", "q1"),
                           ("onequeue", arn("job-queue", "q1"))):
            status, _, out = usage(who, queue)
            self.assertEqual(status, 200, (who, queue, out))
            self.assertIn("groups", out)
        status, _, out = usage("onequeue", "q2")
        self.assertEqual((status, out["__type"]), (403, "AccessDeniedException"), out)
        self.assertIn("batch:GetUsage on resource: %s" % arn("job-queue", "q2"), out["message"])

    def test_conditions_on_the_share_and_the_tags(self):
        c = self.client("teama")
        job = dict(jobName="j", jobQueue="qfs", jobDefinition="d")
        ok = c.submit_job(shareIdentifier="teamA", tags={"cost-center": "42"}, **job)
        self.assertTrue(ok["jobId"])
        c.submit_job(shareIdentifier="teamA", tags={"cost-center": "41", "team": "a"}, **job)
        for kw in ({"shareIdentifier": "teamB", "tags": {"cost-center": "42"}},
                   {"tags": {"cost-center": "42"}},  # no share: the key is absent
                   {"shareIdentifier": "teamA", "tags": {"cost-center": "43"}},
                   {"shareIdentifier": "teamA"},
                   {"shareIdentifier": "teamA", "tags": {"cost-center": "42", "other": "x"}}):
            msg = self.refused(c.submit_job, "AccessDeniedException", **dict(job, **kw))
            self.assertIn("because no identity-based policy allows the batch:SubmitJob action",
                          msg)

    def test_policy_variables_name_the_caller(self):
        c = self.client("q1")
        self.assertTrue(c.submit_job(jobName="j", jobQueue="q1", jobDefinition="d")["jobId"])
        msg = self.refused(c.submit_job, "AccessDeniedException", jobName="j", jobQueue="q2",
                           jobDefinition="d")
        self.assertIn("job-queue/q2", msg)

    def test_conditions_on_the_definitions_containers(self):
        c = self.client("guarded")
        c.register_job_definition(jobDefinitionName="g", type="container",
                                  containerProperties=dict(CONTAINER, user="1000"))
        c.register_job_definition(jobDefinitionName="g", type="container",
                                  containerProperties=dict(CONTAINER,
                                                           image="registry.example/team/app:1"))
        for props in ({"image": "evil.example/miner"}, {"privileged": True},
                      {"user": "root"}):
            msg = self.refused(c.register_job_definition, "AccessDeniedException",
                               jobDefinitionName="g", type="container",
                               containerProperties=dict(CONTAINER, **props))
            self.assertIn("with an explicit deny", msg)
        # A multi-node definition is denied when any node range's container would be.
        node = {"image": "busybox", "resourceRequirements": CONTAINER["resourceRequirements"]}
        nodes = lambda second: {"numNodes": 2, "mainNode": 0, "nodeRangeProperties": [
            {"targetNodes": "0", "container": node},
            {"targetNodes": "1", "container": dict(node, **second)}]}
        c.register_job_definition(jobDefinitionName="m", type="multinode",
                                  nodeProperties=nodes({}))
        self.refused(c.register_job_definition, "AccessDeniedException", jobDefinitionName="m",
                     type="multinode", nodeProperties=nodes({"image": "elsewhere/x"}))

    def test_explicit_deny_wins(self):
        c = self.client("noterm")
        job = c.submit_job(jobName="j", jobQueue="q1", jobDefinition="d")["jobId"]
        msg = self.refused(c.terminate_job, "AccessDeniedException", jobId=job, reason="r")
        self.assertIn("with an explicit deny in an identity-based policy", msg)
        c.cancel_job(jobId=job, reason="r")

    def test_logs_api_is_covered(self):
        self.client("reader", "logs").describe_log_groups()
        msg = self.refused(self.client("nologs", "logs").get_log_events,
                           "AccessDeniedException",
                           logGroupName="/aws/batch/job", logStreamName="s")
        self.assertIn("user/nologs is not authorized to perform: logs:GetLogEvents on "
                      "resource: arn:aws:logs:%s:%s:log-group:/aws/batch/job:log-stream:s"
                      % (REGION, ACCOUNT), msg)
        # The logs endpoint takes only signatures scoped to logs.
        k, s, _, _ = KEYS["admin"]
        h = signed_headers(self.server.url, "POST", "/", b"{}", k, s, service="batch")
        h["X-Amz-Target"] = "Logs_20140328.DescribeLogGroups"
        status, _, out = self.server.raw("POST", "/", b"{}", headers=h)
        self.assertEqual((status, out["__type"]), (403, "InvalidSignatureException"))

    def test_log_group_tags_are_authorized_on_the_group_they_change(self):
        # TagResource acts on resourceArn alone: a logGroupName beside it naming a group the
        # caller may tag does not make it allowed on another.
        admin = self.client("admin", "logs")
        for g in ("/mine", "/theirs"):
            try:
                admin.create_log_group(logGroupName=g)
            except admin.exceptions.ResourceAlreadyExistsException:
                pass
        prefix = "arn:aws:logs:%s:%s:log-group:" % (REGION, ACCOUNT)
        mine = self.client("tagger", "logs")
        mine.tag_resource(resourceArn=prefix + "/mine", tags={"a": "b"})
        self.refused(mine.tag_resource, "AccessDeniedException", resourceArn=prefix + "/theirs",
                     tags={"a": "b"})
        k, sec, _, _ = KEYS["tagger"]
        body = json.dumps({"resourceArn": prefix + "/theirs", "logGroupName": "/mine",
                           "tags": {"x": "y"}}).encode()
        req = AWSRequest(method="POST", url=self.server.url + "/", data=body,
                         headers={"Content-Type": "application/x-amz-json-1.1",
                                  "X-Amz-Target": "Logs_20140328.TagResource"})
        SigV4Auth(Credentials(k, sec), "logs", REGION).add_auth(req)
        status, _, out = self.server.raw("POST", "/", body, headers=dict(req.headers.items()))
        self.assertEqual((status, out["__type"]), (403, "AccessDeniedException"), out)
        self.assertEqual(admin.list_tags_for_resource(resourceArn=prefix + "/theirs")["tags"],
                         {})

    # Other clients ---------------------------------------------------------------------------

    def cli(self, exe, who, *args, secret=None):
        k, s, _, t = KEYS[who]
        env = dict(os.environ, AWS_ACCESS_KEY_ID=k, AWS_SECRET_ACCESS_KEY=secret or s,
                   AWS_DEFAULT_REGION=REGION, AWS_PAGER="", AWS_MAX_ATTEMPTS="1")
        for v in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE",
                  "AWS_SHARED_CREDENTIALS_FILE"):
            env.pop(v, None)
        if t:
            env["AWS_SESSION_TOKEN"] = t
        return subprocess.run([exe, "--endpoint-url", self.server.url, "--output", "json"]
                              + list(args), capture_output=True, text=True, env=env, timeout=60)

    def check_cli(self, exe):
        p = self.cli(exe, "admin", "batch", "describe-job-queues", "--job-queues", "q1")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["jobQueues"][0]["jobQueueName"], "q1")
        p = self.cli(exe, "temp", "batch", "list-jobs", "--job-queue", "q1")
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.cli(exe, "admin", "batch", "describe-job-queues", secret="wrong")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("InvalidSignatureException", p.stderr)
        p = self.cli(exe, "reader", "batch", "submit-job", "--job-name", "j", "--job-queue",
                     "q1", "--job-definition", "d")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("AccessDeniedException", p.stderr)
        self.assertIn("user/reader is not authorized to perform: batch:SubmitJob", p.stderr)
        p = self.cli(exe, "reader", "logs", "describe-log-groups")
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_aws_cli_v1(self):
        exe = shutil.which("aws")
        if not exe:
            self.skipTest("no `aws` on PATH")
        v = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
        if not v.startswith("aws-cli/1."):
            self.skipTest("the `aws` on PATH is not the AWS CLI v1: %s" % v.strip())
        self.check_cli(exe)

    def test_aws_cli_v2(self):
        exe = "/usr/bin/aws"
        if not os.path.exists(exe):
            self.skipTest("Debian's awscli (the AWS CLI v2) is not installed: scripts/deps.sh "
                          "installs it")
        self.check_cli(exe)

    def test_aws_sdk_for_javascript_v3(self):
        if not shutil.which("node") or not shutil.which("npm"):
            self.skipTest("node and npm are not installed (scripts/deps.sh installs npm)")
        jsdir = os.path.join(os.path.dirname(os.path.abspath(BARGE)), "js")
        here = os.path.join(ROOT, "tests", "e2e", "js")
        p = subprocess.run([os.path.join(here, "install.sh"), jsdir], capture_output=True,
                           text=True, timeout=600)
        if p.returncode != 0:
            self.skipTest("npm could not install the AWS SDK for JavaScript: " + p.stderr[-500:])

        def call(who, op, inp, secret=None):
            k, s, _, t = KEYS[who]
            env = dict(os.environ, BARGE_URL=self.server.url, BARGE_JS_DIR=jsdir,
                       AWS_ACCESS_KEY_ID=k, AWS_SECRET_ACCESS_KEY=secret or s,
                       AWS_SESSION_TOKEN=t or "", AWS_REGION=REGION)
            r = subprocess.run(["node", os.path.join(here, "batch_call.mjs"), op,
                                json.dumps(inp)], capture_output=True, text=True, env=env,
                               timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            return json.loads(r.stdout)

        out = call("admin", "DescribeJobQueues", {"jobQueues": ["q1"]})
        self.assertEqual(out["ok"]["jobQueues"][0]["jobQueueName"], "q1", out)
        out = call("onequeue", "SubmitJob", {"jobName": "js", "jobQueue": "q1",
                                             "jobDefinition": "d"})
        self.assertIn("jobId", out.get("ok", {}), out)
        out = call("temp", "ListTagsForResource", {"resourceArn": arn("job-queue", "q1")})
        self.assertIn("ok", out, out)
        out = call("admin", "DescribeJobQueues", {}, secret="wrong")
        self.assertEqual((out["error"], out["message"], out["status"]),
                         ("InvalidSignatureException", BAD_SIGNATURE, 403))
        out = call("onequeue", "SubmitJob", {"jobName": "js", "jobQueue": "q2",
                                             "jobDefinition": "d"})
        self.assertEqual((out["error"], out["status"]), ("AccessDeniedException", 403))

    # Last: what the server wrote ------------------------------------------------------------

    def test_zz_no_secret_in_the_log(self):
        # Some refusals first, so that the log has had the chance to hold what it must not.
        self.refused(self.client("admin", secret="wrong").describe_job_queues,
                     "InvalidSignatureException")
        self.refused(self.client("temp", token="bad-token-value").describe_job_queues,
                     "UnrecognizedClientException")
        log = self.server.read_log()
        self.assertIn("requests must be signed", log)
        for name, (_, s, _, t) in KEYS.items():
            self.assertNotIn(s, log, name)
            if t:
                self.assertNotIn(t, log, name)
        self.assertNotIn("bad-token-value", log)
        self.assertNotIn("Signature=", log)


class StartUp(unittest.TestCase):
    """What the server says when it cannot start, and what --dev says when it does."""

    def run_server(self, *args):
        d = tempfile.mkdtemp(prefix="barge-auth-start-")
        try:
            p = subprocess.run([BARGE, "server", "--listen", "127.0.0.1:0", "--data-dir",
                                os.path.join(d, "data")] + [a.replace("DIR", d) for a in args],
                               capture_output=True, text=True, timeout=10)
            return p.returncode, p.stderr
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_without_keys_or_dev_the_server_says_what_to_do(self):
        rc, err = self.run_server()
        self.assertEqual(rc, 2)
        self.assertIn("--credentials FILE", err)
        self.assertIn("--dev", err)

    def write(self, text):
        fd, path = tempfile.mkstemp(prefix="barge-creds-")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        self.addCleanup(os.unlink, path)
        return path

    def test_bad_credentials_files_are_refused_with_a_sentence(self):
        good = "aws_access_key_id = AK1\naws_secret_access_key = s\n"
        for text, fragment in (
                ("[a]\n" + good, "names no policy"),
                ("[a]\n" + good + "barge_policy = nosuch\n", "'nosuch'"),
                ("[a]\naws_access_key_id = AK1\nbarge_policy = admin\n",
                 "aws_secret_access_key"),
                ("[a]\n" + good + "barge_policy = admin\n[b]\n" + good +
                 "barge_policy = read\n", "repeats the access key id"),
                ("aws_access_key_id = AK1\n", "before any [NAME] section"),
                ("[a b]\n" + good, "not a valid principal name"),
                ("[a]\n" + good + "barge_polcy = admin\n", "'barge_polcy'"),
                ("", "no [NAME] section")):
            rc, err = self.run_server("--credentials", self.write(text))
            self.assertEqual(rc, 2, (text, err))
            self.assertIn(fragment, err, text)
            self.assertNotIn("= s", err)

    def test_bad_policies_are_refused_with_a_sentence(self):
        creds = self.write("[a]\naws_access_key_id = AK1\naws_secret_access_key = s\n"
                           "barge_policy = p\n")
        for doc, fragment in (
                ({"p": {"Statement": [{"Effect": "Allow", "Action": "batch:*",
                                       "Resource": "*", "Condition": {}}]}}, "Condition"),
                # A key barge never fills in would leave a Deny that never applies.
                ({"p": {"Statement": [{"Effect": "Deny", "Action": "batch:*", "Resource": "*",
                                       "Condition": {"StringEquals": {
                                           "aws:ResourceTag/team": "x"}}}]}},
                 "Statement[0].Condition.StringEquals.aws:ResourceTag/team: not a condition "
                 "key barge fills in"),
                ({"p": {"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}},
                 "Effect"),
                ({"p": {"Statement": [{"Effect": "Allow", "Action": "SubmitJob",
                                       "Resource": "*"}]}}, "SERVICE:ACTION"),
                ({"admin": {"Statement": []}}, "built-in")):
            pol = self.write(json.dumps(doc))
            rc, err = self.run_server("--credentials", creds, "--policies", pol)
            self.assertEqual(rc, 2, (doc, err))
            self.assertIn(fragment, err, doc)

    def test_dev_says_any_key_is_accepted(self):
        s = Server(args=("--dev",)).start()
        try:
            self.assertIn("developer mode (--dev): requests signed with any key", s.read_log())
        finally:
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
