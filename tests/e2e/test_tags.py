"""TagResource, UntagResource and ListTagsForResource on every kind of resource, through boto3
and the AWS CLI."""
import json
import unittest
import urllib.parse

from harness import ServerTestCase, arn


def has_operation(server, path):
    """Whether the server routes path (an operation another module may not serve yet)."""
    status, _, body = server.raw("POST", path, {})
    return not (status == 400 and "no such operation" in str(body))


class Tags(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        b = cls.batch
        b.create_compute_environment(computeEnvironmentName="tag-ce", type="UNMANAGED",
                                     tags={"stage": "test", "owner": "ce-team"})
        b.create_scheduling_policy(name="tag-sp", tags={"cost-centre": "42"})
        cls.ce_arn = arn("compute-environment", "tag-ce")
        cls.sp_arn = arn("scheduling-policy", "tag-sp")

    def tags_of(self, resource_arn):
        return self.batch.list_tags_for_resource(resourceArn=resource_arn)["tags"]

    def cli(self, *args, **kw):
        return self.server.aws("batch", *args, **kw)

    def wait_ce_valid(self, name):
        self.wait_status(lambda: self.batch.describe_compute_environments(
            computeEnvironments=[name])["computeEnvironments"][0]["status"], "VALID")

    def test_compute_environment_with_boto3(self):
        self.assertEqual(self.tags_of(self.ce_arn), {"stage": "test", "owner": "ce-team"})
        self.batch.tag_resource(resourceArn=self.ce_arn, tags={"stage": "prod", "new": "1"})
        self.assertEqual(self.tags_of(self.ce_arn),
                         {"stage": "prod", "owner": "ce-team", "new": "1"})
        self.batch.untag_resource(resourceArn=self.ce_arn, tagKeys=["owner", "not-there"])
        self.assertEqual(self.tags_of(self.ce_arn), {"stage": "prod", "new": "1"})
        # The tags are the description's own.
        ce = self.batch.describe_compute_environments(
            computeEnvironments=["tag-ce"])["computeEnvironments"][0]
        self.assertEqual(ce["tags"], {"stage": "prod", "new": "1"})

    def test_scheduling_policy_with_the_cli(self):
        self.assertEqual(self.cli("list-tags-for-resource", "--resource-arn", self.sp_arn),
                         {"tags": {"cost-centre": "42"}})
        self.cli("tag-resource", "--resource-arn", self.sp_arn, "--tags", "a=1,b=2")
        self.assertEqual(self.cli("list-tags-for-resource", "--resource-arn", self.sp_arn)["tags"],
                         {"cost-centre": "42", "a": "1", "b": "2"})
        self.cli("untag-resource", "--resource-arn", self.sp_arn, "--tag-keys", "a", "cost-centre")
        self.assertEqual(self.cli("list-tags-for-resource", "--resource-arn", self.sp_arn)["tags"],
                         {"b": "2"})
        [sp] = self.batch.describe_scheduling_policies(arns=[self.sp_arn])["schedulingPolicies"]
        self.assertEqual(sp["tags"], {"b": "2"})
        rc, _, err = self.cli("tag-resource", "--resource-arn", arn("scheduling-policy", "nope"),
                              "--tags", "a=1", check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("resourceArn", err)
        self.assertIn("no scheduling policy 'nope'", err)

    def test_job_queue(self):
        if not has_operation(self.server, "/v1/createjobqueue"):
            self.skipTest("CreateJobQueue is not served yet")
        self.batch.create_compute_environment(computeEnvironmentName="tag-q-ce", type="UNMANAGED")
        self.wait_ce_valid("tag-q-ce")
        status, _, body = self.server.raw("POST", "/v1/createjobqueue", {
            "jobQueueName": "tag-q", "priority": 1, "tags": {"queue": "yes"},
            "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "tag-q-ce"}]})
        self.assertEqual(status, 200, body)
        q_arn = arn("job-queue", "tag-q")
        self.assertEqual(self.tags_of(q_arn), {"queue": "yes"})
        self.batch.tag_resource(resourceArn=q_arn, tags={"more": "x"})
        self.cli("untag-resource", "--resource-arn", q_arn, "--tag-keys", "queue")
        self.assertEqual(self.cli("list-tags-for-resource", "--resource-arn", q_arn)["tags"],
                         {"more": "x"})

    def test_job_definition_revision(self):
        if not has_operation(self.server, "/v1/registerjobdefinition"):
            self.skipTest("RegisterJobDefinition is not served yet")
        props = {"image": "busybox", "command": ["true"],
                 "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                          {"type": "MEMORY", "value": "128"}]}
        for tags in ({"rev": "one"}, {"rev": "two"}):
            status, _, body = self.server.raw("POST", "/v1/registerjobdefinition", {
                "jobDefinitionName": "tag-jd", "type": "container", "tags": tags,
                "containerProperties": props})
            self.assertEqual(status, 200, body)
        one, two = arn("job-definition", "tag-jd:1"), arn("job-definition", "tag-jd:2")
        self.assertEqual(self.tags_of(one), {"rev": "one"})
        self.assertEqual(self.tags_of(two), {"rev": "two"})
        self.batch.tag_resource(resourceArn=one, tags={"extra": "e"})
        self.assertEqual(self.tags_of(one), {"rev": "one", "extra": "e"})
        self.assertEqual(self.cli("list-tags-for-resource", "--resource-arn", two)["tags"],
                         {"rev": "two"})
        self.assertClientError(self.batch.list_tags_for_resource, "resourceArn", "revision",
                               resourceArn=arn("job-definition", "tag-jd"))
        self.assertClientError(self.batch.list_tags_for_resource, "resourceArn", "tag-jd:3",
                               resourceArn=arn("job-definition", "tag-jd:3"))

    def test_limits(self):
        target = arn("compute-environment", "limits-ce")
        self.batch.create_compute_environment(computeEnvironmentName="limits-ce", type="UNMANAGED",
                                              tags={"t%02d" % i: "v" for i in range(10)})
        self.batch.tag_resource(resourceArn=target,
                                tags={"t%02d" % i: "w" for i in range(5, 50)})
        self.assertEqual(len(self.tags_of(target)), 50)
        msg = self.assertClientError(self.batch.tag_resource, "tags:", "51", "50",
                                     resourceArn=target, tags={"one-too-many": "x"})
        self.assertIn("UntagResource", msg)
        # Overwriting existing keys at the limit is fine.
        self.batch.tag_resource(resourceArn=target, tags={"t00": "changed"})
        self.assertEqual(self.tags_of(target)["t00"], "changed")
        self.batch.untag_resource(resourceArn=target, tagKeys=["t%02d" % i for i in range(45)])
        self.assertEqual(sorted(self.tags_of(target)), ["t%02d" % i for i in range(45, 50)])
        before = self.tags_of(target)
        # Reserved in any case: "aws:, AWS:, or any upper or lowercase combination".
        for reserved in ("aws:cloudformation", "AWS:x", "aWs:x"):
            self.assertClientError(self.batch.tag_resource, "tags:", "aws:",
                                   resourceArn=target, tags={reserved: "x", "ok": "1"})
        self.assertClientError(self.batch.tag_resource, "tags:", "1 to 128",
                               resourceArn=target, tags={"k" * 129: "x"})
        self.assertClientError(self.batch.tag_resource, "tags:", "256",
                               resourceArn=target, tags={"k": "v" * 257})
        self.assertClientError(self.batch.untag_resource, "tagKeys[0]", "aws:",
                               resourceArn=target, tagKeys=["aws:x"])
        self.assertClientError(self.batch.untag_resource, "tagKeys[0]", "aws:",
                               resourceArn=target, tagKeys=["Aws:x"])
        path = "/v1/tags/" + urllib.parse.quote(target, safe="")
        status, _, body = self.server.raw("POST", path, {"tags": {}})
        self.assertEqual(status, 400)
        self.assertIn("tags:", body["message"])
        status, _, body = self.server.raw("DELETE", path)
        self.assertEqual(status, 400)
        self.assertIn("tagKeys", body["message"])
        query = "&".join("tagKeys=k%d" % i for i in range(51))
        status, _, body = self.server.raw("DELETE", path + "?" + query)
        self.assertEqual(status, 400)
        self.assertIn("tagKeys: at most 50", body["message"])
        # Bytes that are not UTF-8 once decoded: a key was left out while the others went, and
        # an ARN was said to be missing.
        status, _, body = self.server.raw("DELETE", path + "?tagKeys=" +
                                          "&tagKeys=".join(before) + "&tagKeys=%ff")
        self.assertEqual(status, 400)
        self.assertIn("tagKeys[%d]: not valid UTF-8 once percent-decoded" % len(before),
                      body["message"])
        status, _, body = self.server.raw("GET", path + "%ff")
        self.assertEqual(status, 400)
        self.assertIn("resourceArn: the path's ARN is not valid UTF-8", body["message"])
        self.assertEqual(self.tags_of(target), before)
        # A value may be empty.
        self.batch.tag_resource(resourceArn=target, tags={"empty": ""})
        self.assertEqual(self.tags_of(target)["empty"], "")

    def test_lengths_are_in_characters(self):
        # AWS counts a key's 128 and a value's 256 in characters: two-byte and four-byte
        # characters count one each, on every call that takes tags.
        key, value = "\u00e9" * 128, "\U0001f6a2" * 256
        self.batch.create_compute_environment(computeEnvironmentName="chars-ce", type="UNMANAGED",
                                              tags={key: value})
        target = arn("compute-environment", "chars-ce")
        self.assertEqual(self.tags_of(target), {key: value})
        self.batch.tag_resource(resourceArn=target, tags={"k": "\u00e9" * 256})
        self.batch.untag_resource(resourceArn=target, tagKeys=[key])
        self.assertEqual(self.tags_of(target), {"k": "\u00e9" * 256})
        self.assertClientError(self.batch.tag_resource, "tags:", "1 to 128 characters",
                               resourceArn=target, tags={"\u00e9" * 129: "x"})
        self.assertClientError(self.batch.tag_resource, "tags:", "256 characters",
                               resourceArn=target, tags={"k": "\u00e9" * 257})
        self.assertClientError(self.batch.untag_resource, "tagKeys[0]", "1 to 128 characters",
                               resourceArn=target, tagKeys=["\u00e9" * 129])
        self.assertClientError(self.batch.create_compute_environment, "tags:", "256 characters",
                               computeEnvironmentName="chars-ce2", type="UNMANAGED",
                               tags={"k": "\U0001f6a2" * 257})

    def test_an_untag_too_long_for_the_request_line_changes_nothing(self):
        # Keys of 128 two-byte characters (AWS takes 50): from 18 of them the request line
        # (about 14 KB percent-encoded) left no room in the connection's memory for the answer,
        # so the tags went and no answer came.  Now a line over 12 KiB is refused before
        # anything is done: in AWS's shape while the refusal fits (16 keys), else by closing
        # the connection (18 keys); either way the tags stay.
        keys = ["%02d" % i + "\u00e9" * 126 for i in range(18)]
        self.batch.create_compute_environment(computeEnvironmentName="long-untag",
                                              type="UNMANAGED", tags={k: "v" for k in keys})
        target = arn("compute-environment", "long-untag")
        self.assertClientError(self.batch.untag_resource, "request line and headers",
                               "untag fewer keys a call", resourceArn=target,
                               tagKeys=keys[:16])
        with self.assertRaises(Exception):
            self.batch.untag_resource(resourceArn=target, tagKeys=keys)
        self.assertEqual(set(self.tags_of(target)), set(keys))
        # In two calls they go.
        self.batch.untag_resource(resourceArn=target, tagKeys=keys[:9])
        self.batch.untag_resource(resourceArn=target, tagKeys=keys[9:])
        self.assertEqual(self.tags_of(target), {})

    def test_bad_arns_are_named(self):
        bad = [
            ("nonsense", "not an AWS Batch ARN"),
            ("arn:aws:batch:us-east-1:123456789012:compute-environment/", "not an AWS Batch ARN"),
            ("arn:aws:iam::123456789012:role/x", "not an AWS Batch ARN"),
            (arn("widget", "x"), "'widget'"),
            (arn("compute-environment", "no-such-ce"), "no compute environment 'no-such-ce'"),
            (arn("compute-environment", "bad/name"), "valid compute-environment name"),
            (arn("job-queue", "no-such-q"), "no job queue 'no-such-q'"),
            (arn("scheduling-policy", "no-such-sp"), "no scheduling policy 'no-such-sp'"),
            (arn("job-definition", "no-such-jd:1"), "no job definition revision 'no-such-jd:1'"),
            (arn("job-definition", "jd:one"), "numeric revision"),
            (arn("job", "6f1c2d3e-0000-4000-8000-000000000000"),
             "no job with id '6f1c2d3e-0000-4000-8000-000000000000'"),
            (arn("job", "6f1c2d3e-0000-4000-8000-000000000000:3"), "child of an array job"),
            (arn("job", "6f1c2d3e-0000-4000-8000-000000000000#0"), "multi-node"),
        ]
        for resource_arn, fragment in bad:
            with self.subTest(arn=resource_arn):
                self.assertClientError(self.batch.list_tags_for_resource, "resourceArn", fragment,
                                       resourceArn=resource_arn)
                self.assertClientError(self.batch.tag_resource, "resourceArn", fragment,
                                       resourceArn=resource_arn, tags={"a": "b"})
                self.assertClientError(self.batch.untag_resource, "resourceArn", fragment,
                                       resourceArn=resource_arn, tagKeys=["a"])
        rc, _, err = self.cli("list-tags-for-resource", "--resource-arn", arn("job", "abc"),
                              check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("resourceArn: no job with id 'abc'", err)

    def test_arn_and_keys_with_reserved_characters(self):
        # botocore percent-encodes the ARN in the path (':' as %3A, '/' as %2F) and the keys in
        # the query string; the server must decode both.
        odd = {"a b/c=d&e+f:g@h?": "v 1/2", "100%": "sure", "ünï": "çödé"}
        self.batch.tag_resource(resourceArn=self.ce_arn, tags=odd)
        got = self.tags_of(self.ce_arn)
        for k, v in odd.items():
            self.assertEqual(got.get(k), v)
        self.batch.untag_resource(resourceArn=self.ce_arn, tagKeys=list(odd))
        got = self.tags_of(self.ce_arn)
        for k in odd:
            self.assertNotIn(k, got)
        self.cli("tag-resource", "--resource-arn", self.ce_arn, "--tags", json.dumps(odd))
        self.assertEqual({k: v for k, v in self.cli("list-tags-for-resource", "--resource-arn",
                                                     self.ce_arn)["tags"].items() if k in odd},
                         odd)
        self.cli("untag-resource", "--resource-arn", self.ce_arn, "--tag-keys", *odd)
        got = self.tags_of(self.ce_arn)
        for k in odd:
            self.assertNotIn(k, got)
        # An ARN sent without percent-encoding reaches the same resource.
        status, _, body = self.server.raw("GET", "/v1/tags/" + self.ce_arn)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["tags"], got)

    def test_tags_survive_a_restart(self):
        self.batch.create_scheduling_policy(name="kept-tags", tags={"before": "restart"})
        target = arn("scheduling-policy", "kept-tags")
        self.batch.tag_resource(resourceArn=target, tags={"added": "later"})
        self.batch.untag_resource(resourceArn=target, tagKeys=["before"])
        ce_tags = self.tags_of(self.ce_arn)
        self.server.restart()
        self.assertEqual(self.tags_of(target), {"added": "later"})
        self.assertEqual(self.tags_of(self.ce_arn), ce_tags)

    def test_tags_go_with_a_deleted_resource(self):
        self.batch.create_scheduling_policy(name="short-lived", tags={"k": "v"})
        target = arn("scheduling-policy", "short-lived")
        self.batch.delete_scheduling_policy(arn=target)
        self.assertClientError(self.batch.list_tags_for_resource, "resourceArn",
                               "no scheduling policy 'short-lived'", resourceArn=target)
        self.batch.create_scheduling_policy(name="short-lived")
        self.assertEqual(self.tags_of(target), {})


if __name__ == "__main__":
    unittest.main()
