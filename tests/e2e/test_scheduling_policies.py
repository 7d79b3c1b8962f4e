"""Scheduling policies: CreateSchedulingPolicy, DescribeSchedulingPolicies, ListSchedulingPolicies,
UpdateSchedulingPolicy and DeleteSchedulingPolicy, through boto3 and the AWS CLI."""
import json
import unittest

from harness import ServerTestCase, arn


def sp_arn(name):
    return arn("scheduling-policy", name)


class SchedulingPolicies(ServerTestCase):
    def describe(self, *names):
        out = self.batch.describe_scheduling_policies(arns=[sp_arn(n) for n in names])
        return out["schedulingPolicies"]

    def list_all(self, page_size=None):
        """Every ARN of ListSchedulingPolicies, following nextToken by hand."""
        arns, token, pages = [], None, 0
        while True:
            kw = {}
            if page_size:
                kw["maxResults"] = page_size
            if token:
                kw["nextToken"] = token
            out = self.batch.list_scheduling_policies(**kw)
            pages += 1
            if page_size:
                self.assertLessEqual(len(out["schedulingPolicies"]), page_size)
            arns += [p["arn"] for p in out["schedulingPolicies"]]
            token = out.get("nextToken")
            if not token:
                return arns, pages

    def test_create_describe_list_with_boto3(self):
        policy = {"shareDecaySeconds": 3600, "computeReservation": 25,
                  "shareDistribution": [{"shareIdentifier": "A1*", "weightFactor": 0.125},
                                        {"shareIdentifier": "B2", "weightFactor": 2}]}
        out = self.batch.create_scheduling_policy(name="fair", fairsharePolicy=policy,
                                                  tags={"team": "genomics"})
        self.assertEqual(out["name"], "fair")
        self.assertEqual(out["arn"], sp_arn("fair"))
        [got] = self.describe("fair")
        self.assertEqual(got["name"], "fair")
        self.assertEqual(got["arn"], sp_arn("fair"))
        self.assertEqual(got["fairsharePolicy"], policy)
        self.assertNotIn("quotaSharePolicy", got)
        self.assertEqual(got["tags"], {"team": "genomics"})
        arns, _ = self.list_all()
        self.assertIn(sp_arn("fair"), arns)

    def test_defaults_are_filled_in(self):
        self.batch.create_scheduling_policy(name="bare")
        [got] = self.describe("bare")
        self.assertEqual(got["fairsharePolicy"],
                         {"shareDecaySeconds": 0, "computeReservation": 0, "shareDistribution": []})
        self.assertEqual(got["tags"], {})
        self.batch.create_scheduling_policy(
            name="noweight", fairsharePolicy={"shareDistribution": [{"shareIdentifier": "x"}]})
        [got] = self.describe("noweight")
        self.assertEqual(got["fairsharePolicy"]["shareDistribution"],
                         [{"shareIdentifier": "x", "weightFactor": 1.0}])

    def test_every_operation_with_the_cli(self):
        aws = self.server.aws
        out = aws("batch", "create-scheduling-policy", "--name", "cli-policy",
                  "--fairshare-policy",
                  json.dumps({"shareDecaySeconds": 600,
                              "shareDistribution": [{"shareIdentifier": "teamA",
                                                     "weightFactor": 0.5}]}),
                  "--tags", "owner=cli")
        self.assertEqual(out, {"name": "cli-policy", "arn": sp_arn("cli-policy")})
        out = aws("batch", "describe-scheduling-policies", "--arns", sp_arn("cli-policy"))
        [got] = out["schedulingPolicies"]
        self.assertEqual(got["fairsharePolicy"]["shareDecaySeconds"], 600)
        self.assertEqual(got["fairsharePolicy"]["shareDistribution"],
                         [{"shareIdentifier": "teamA", "weightFactor": 0.5}])
        self.assertEqual(got["tags"], {"owner": "cli"})
        listed = aws("batch", "list-scheduling-policies")
        self.assertIn({"arn": sp_arn("cli-policy")}, listed["schedulingPolicies"])
        aws("batch", "update-scheduling-policy", "--arn", sp_arn("cli-policy"),
            "--fairshare-policy", json.dumps({"computeReservation": 10}))
        [got] = aws("batch", "describe-scheduling-policies",
                    "--arns", sp_arn("cli-policy"))["schedulingPolicies"]
        self.assertEqual(got["fairsharePolicy"],
                         {"shareDecaySeconds": 0, "computeReservation": 10, "shareDistribution": []})
        aws("batch", "delete-scheduling-policy", "--arn", sp_arn("cli-policy"))
        out = aws("batch", "describe-scheduling-policies", "--arns", sp_arn("cli-policy"))
        self.assertEqual(out["schedulingPolicies"], [])
        rc, _, err = aws("batch", "delete-scheduling-policy", "--arn", sp_arn("cli-policy"),
                         check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("ClientException", err)
        self.assertIn("no scheduling policy named 'cli-policy'", err)

    def test_boundaries_are_accepted(self):
        ids = [{"shareIdentifier": "a" * 255 + "*", "weightFactor": 0.0001},
               {"shareIdentifier": "b" * 255, "weightFactor": 999.9999}]
        ids += [{"shareIdentifier": "s%d" % i} for i in range(498)]
        self.batch.create_scheduling_policy(
            name="edges", fairsharePolicy={"shareDecaySeconds": 604800, "computeReservation": 99,
                                           "shareDistribution": ids})
        [got] = self.describe("edges")
        fp = got["fairsharePolicy"]
        self.assertEqual((fp["shareDecaySeconds"], fp["computeReservation"]), (604800, 99))
        self.assertEqual(len(fp["shareDistribution"]), 500)
        self.assertEqual(fp["shareDistribution"][0]["weightFactor"], 0.0001)
        self.assertEqual(fp["shareDistribution"][1]["weightFactor"], 999.9999)

    def test_a_weight_of_zero_is_the_default(self):
        # What Terraform sends for a weight left out: kept as given, weighing 1.0.
        self.batch.create_scheduling_policy(name="zero", fairsharePolicy={
            "shareDistribution": [{"shareIdentifier": "z", "weightFactor": 0}]})
        [got] = self.describe("zero")
        self.assertEqual(got["fairsharePolicy"]["shareDistribution"],
                         [{"shareIdentifier": "z", "weightFactor": 0}])

    def test_invalid_requests_are_refused_and_change_nothing(self):
        bad_fair = [
            ({"shareDecaySeconds": -1}, "fairsharePolicy.shareDecaySeconds"),
            ({"shareDecaySeconds": 604801}, "fairsharePolicy.shareDecaySeconds"),
            ({"computeReservation": -1}, "fairsharePolicy.computeReservation"),
            ({"computeReservation": 100}, "fairsharePolicy.computeReservation"),
            ({"shareDistribution": [{"shareIdentifier": "a", "weightFactor": 0.00009}]},
             "shareDistribution[0].weightFactor"),
            ({"shareDistribution": [{"shareIdentifier": "a", "weightFactor": 1000}]},
             "shareDistribution[0].weightFactor"),
            # The value refused as given, not rounded to 1000 in the message.
            ({"shareDistribution": [{"shareIdentifier": "a", "weightFactor": 1000.0001}]},
             "got 1000.0001"),
            ({"shareDistribution": [{"shareIdentifier": "a", "weightFactor": -1}]},
             "shareDistribution[0].weightFactor"),
            ({"shareDistribution": [{"shareIdentifier": "ok"}, {"shareIdentifier": "team-a"}]},
             "shareDistribution[1].shareIdentifier"),
            ({"shareDistribution": [{"shareIdentifier": "*"}]},
             "shareDistribution[0].shareIdentifier"),
            ({"shareDistribution": [{"shareIdentifier": ""}]},
             "shareDistribution[0].shareIdentifier"),
            ({"shareDistribution": [{"shareIdentifier": "a*b"}]},
             "shareDistribution[0].shareIdentifier"),
            ({"shareDistribution": [{"shareIdentifier": "c" * 256}]},
             "shareDistribution[0].shareIdentifier"),
            ({"shareDistribution": [{"shareIdentifier": "UserA*"}, {"shareIdentifier": "UserA1"}]},
             "overlaps"),
            ({"shareDistribution": [{"shareIdentifier": "UserA1"}, {"shareIdentifier": "User*"}]},
             "overlaps"),
            ({"shareDistribution": [{"shareIdentifier": "dup"}, {"shareIdentifier": "dup"}]},
             "shareDistribution[1].shareIdentifier"),
            ({"shareDistribution": [{"shareIdentifier": "s%d" % i} for i in range(501)]},
             "fairsharePolicy.shareDistribution: at most 500"),
        ]
        for policy, fragment in bad_fair:
            with self.subTest(policy=str(policy)[:80]):
                self.assertClientError(self.batch.create_scheduling_policy, fragment,
                                       name="bad", fairsharePolicy=policy)
        self.assertClientError(self.batch.create_scheduling_policy, "name:", name="not valid")
        self.assertClientError(self.batch.create_scheduling_policy, "name:", name="x" * 129)
        self.assertClientError(self.batch.create_scheduling_policy, "tags:", "aws:",
                               name="bad", tags={"aws:owner": "me"})
        self.assertClientError(self.batch.create_scheduling_policy, "quotaSharePolicy",
                               name="bad", fairsharePolicy={},
                               quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"})
        # The type checker names the member too.
        status, _, body = self.server.raw("POST", "/v1/createschedulingpolicy",
                                          {"name": "bad", "fairsharePolicy":
                                           {"computeReservation": "lots"}})
        self.assertEqual(status, 400)
        self.assertIn("fairsharePolicy.computeReservation", body["message"])
        # Nothing was created by any of these.
        self.assertEqual(self.describe("bad"), [])
        self.assertNotIn(sp_arn("bad"), self.list_all()[0])

    def test_duplicate_names_are_refused(self):
        self.batch.create_scheduling_policy(name="twice", fairsharePolicy={"computeReservation": 5})
        self.assertClientError(self.batch.create_scheduling_policy, "name:", "already exists",
                               name="twice")
        [got] = self.describe("twice")
        self.assertEqual(got["fairsharePolicy"]["computeReservation"], 5)

    def test_update_replaces_the_fairshare_policy(self):
        self.batch.create_scheduling_policy(
            name="upd", fairsharePolicy={"shareDecaySeconds": 100, "computeReservation": 5,
                                         "shareDistribution": [{"shareIdentifier": "a"}]},
            tags={"k": "v"})
        new = {"shareDecaySeconds": 7200, "computeReservation": 50,
               "shareDistribution": [{"shareIdentifier": "b*", "weightFactor": 3.5}]}
        self.assertEqual(self.batch.update_scheduling_policy(arn=sp_arn("upd"),
                                                             fairsharePolicy=new)
                         ["ResponseMetadata"]["HTTPStatusCode"], 200)
        [got] = self.describe("upd")
        self.assertEqual(got["fairsharePolicy"], new)
        self.assertEqual(got["tags"], {"k": "v"})
        # An update without a policy changes nothing.
        self.batch.update_scheduling_policy(arn=sp_arn("upd"))
        self.assertEqual(self.describe("upd")[0]["fairsharePolicy"], new)
        # A bad update is refused and leaves the policy as it was.
        self.assertClientError(self.batch.update_scheduling_policy,
                               "fairsharePolicy.computeReservation",
                               arn=sp_arn("upd"), fairsharePolicy={"computeReservation": 100})
        self.assertClientError(self.batch.update_scheduling_policy, "quotaSharePolicy",
                               "cannot change", arn=sp_arn("upd"),
                               quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"})
        self.assertEqual(self.describe("upd")[0]["fairsharePolicy"], new)
        self.assertClientError(self.batch.update_scheduling_policy, "arn:",
                               "no scheduling policy named 'ghost'", arn=sp_arn("ghost"))
        self.assertClientError(self.batch.update_scheduling_policy, "arn:",
                               "not a scheduling policy ARN",
                               arn=arn("job-queue", "upd"))

    def test_quota_share_policies_are_stored(self):
        self.batch.create_scheduling_policy(
            name="quota", quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"})
        [got] = self.describe("quota")
        self.assertEqual(got["quotaSharePolicy"], {"idleResourceAssignmentStrategy": "FIFO"})
        self.assertNotIn("fairsharePolicy", got)
        self.assertClientError(self.batch.update_scheduling_policy, "fairsharePolicy",
                               "cannot change", arn=sp_arn("quota"),
                               fairsharePolicy={"computeReservation": 1})
        self.batch.update_scheduling_policy(
            arn=sp_arn("quota"), quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"})
        status, _, body = self.server.raw(
            "POST", "/v1/createschedulingpolicy",
            {"name": "quota2", "quotaSharePolicy": {"idleResourceAssignmentStrategy": "LIFO"}})
        self.assertEqual(status, 400)
        self.assertIn("quotaSharePolicy.idleResourceAssignmentStrategy", body["message"])

    def test_describe_by_arns(self):
        for n in ("d1", "d2"):
            self.batch.create_scheduling_policy(name=n)
        out = self.batch.describe_scheduling_policies(
            arns=[sp_arn("d2"), sp_arn("nope"), sp_arn("d1"), sp_arn("d2")])
        self.assertEqual([p["name"] for p in out["schedulingPolicies"]], ["d2", "d1"])
        self.assertEqual(self.batch.describe_scheduling_policies(arns=[])["schedulingPolicies"], [])
        self.assertClientError(self.batch.describe_scheduling_policies, "arns[1]",
                               arns=[sp_arn("d1"), arn("compute-environment", "d1")])
        self.assertClientError(self.batch.describe_scheduling_policies, "arns", "at most 100",
                               arns=[sp_arn("d%d" % i) for i in range(101)])
        out = self.batch.describe_scheduling_policies(arns=[sp_arn("d1")] * 100)
        self.assertEqual(len(out["schedulingPolicies"]), 1)

    def test_paging(self):
        names = ["page-%02d" % i for i in range(7)]
        for n in names:
            self.batch.create_scheduling_policy(name=n)
        everything, pages = self.list_all()
        self.assertEqual(pages, 1)
        self.assertEqual(everything, sorted(everything))
        for size in (1, 3, 100):
            arns, pages = self.list_all(page_size=size)
            self.assertEqual(arns, everything)
            self.assertEqual(pages, max(1, -(-len(everything) // size)))
        mine = [a for a in everything if "/page-" in a]
        self.assertEqual(mine, [sp_arn(n) for n in names])
        # boto3's paginator and the CLI's automatic paging see the same.
        paged = [p["arn"] for page in
                 self.batch.get_paginator("list_scheduling_policies").paginate(
                     PaginationConfig={"PageSize": 2})
                 for p in page["schedulingPolicies"]]
        self.assertEqual(paged, everything)
        out = self.server.aws("batch", "list-scheduling-policies", "--page-size", "2")
        self.assertEqual([p["arn"] for p in out["schedulingPolicies"]], everything)
        for bad in (0, 101):
            self.assertClientError(self.batch.list_scheduling_policies, "maxResults",
                                   maxResults=bad)
        self.assertClientError(self.batch.list_scheduling_policies, "nextToken",
                               nextToken="not-a-token")

    def test_delete(self):
        self.batch.create_scheduling_policy(name="gone", tags={"a": "b"})
        self.batch.delete_scheduling_policy(arn=sp_arn("gone"))
        self.assertEqual(self.describe("gone"), [])
        self.assertNotIn(sp_arn("gone"), self.list_all()[0])
        self.assertClientError(self.batch.delete_scheduling_policy, "arn:",
                               "no scheduling policy named 'gone'", arn=sp_arn("gone"))
        self.assertClientError(self.batch.delete_scheduling_policy, "arn:",
                               "not a scheduling policy ARN", arn="arn:aws:batch:bogus")
        # The name is free again, and the new policy starts without the old one's tags.
        self.batch.create_scheduling_policy(name="gone")
        self.assertEqual(self.describe("gone")[0]["tags"], {})

    def test_persistence_across_restart(self):
        self.batch.create_scheduling_policy(
            name="kept", fairsharePolicy={"shareDistribution": [{"shareIdentifier": "q",
                                                                 "weightFactor": 0.25}]},
            tags={"x": "y"})
        self.batch.update_scheduling_policy(
            arn=sp_arn("kept"), fairsharePolicy={"shareDecaySeconds": 60,
                                                 "shareDistribution": [{"shareIdentifier": "r*"}]})
        self.batch.create_scheduling_policy(name="dropped")
        self.batch.delete_scheduling_policy(arn=sp_arn("dropped"))
        before = self.describe("kept")
        self.server.restart()
        self.assertEqual(self.describe("kept"), before)
        self.assertEqual(before[0]["fairsharePolicy"]["shareDecaySeconds"], 60)
        self.assertEqual(self.describe("dropped"), [])
        self.assertIn(sp_arn("kept"), self.list_all()[0])
        self.assertNotIn(sp_arn("dropped"), self.list_all()[0])


def _has_operation(server, path):
    status, _, body = server.raw("POST", path, {})
    return not (status == 400 and "no such operation" in str(body))


class PolicyInUse(ServerTestCase):
    def test_a_policy_used_by_a_queue_cannot_be_deleted(self):
        if not _has_operation(self.server, "/v1/createjobqueue"):
            self.skipTest("CreateJobQueue is not served yet")
        b = self.batch
        b.create_scheduling_policy(name="used")
        b.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED")
        self.wait_status(lambda: b.describe_compute_environments(
            computeEnvironments=["ce"])["computeEnvironments"][0]["status"], "VALID")
        for q in ("q-one", "q-two"):
            b.create_job_queue(jobQueueName=q, priority=1, schedulingPolicyArn=sp_arn("used"),
                               computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])
        msg = self.assertClientError(b.delete_scheduling_policy, "arn:", "q-one", "q-two",
                                     arn=sp_arn("used"))
        self.assertIn("'used'", msg)
        self.assertEqual(len(b.describe_scheduling_policies(arns=[sp_arn("used")])
                             ["schedulingPolicies"]), 1)


if __name__ == "__main__":
    unittest.main()
