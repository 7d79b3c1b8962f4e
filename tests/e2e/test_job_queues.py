"""Job queues: CreateJobQueue, DescribeJobQueues, UpdateJobQueue and DeleteJobQueue through boto3
and the AWS CLI, every refusal, paging, and persistence across a restart."""
import json
import unittest

import botocore.exceptions

from harness import ServerTestCase, arn

CE = "compute-environment"
JQ = "job-queue"
SP = "scheduling-policy"

LIMIT = {"reason": "stuck too long", "state": "RUNNABLE", "maxTimeSeconds": 600,
         "action": "CANCEL"}


class JobQueueCase(ServerTestCase):
    """Compute environments of both kinds, made once for the class."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        b = cls.batch
        for name, crtype in (("ec2-a", "EC2"), ("spot-b", "SPOT"), ("ec2-c", "EC2"),
                             ("ec2-d", "EC2"), ("fargate-a", "FARGATE"),
                             ("fargate-b", "FARGATE_SPOT")):
            cr = {"type": crtype, "maxvCpus": 8, "subnets": ["subnet-1"]}
            if not crtype.startswith("FARGATE"):
                cr["minvCpus"] = 0
            b.create_compute_environment(computeEnvironmentName=name, type="MANAGED",
                                         computeResources=cr)
        b.create_compute_environment(computeEnvironmentName="unmanaged-a", type="UNMANAGED")

    def describe(self, name):
        """The queue's description, or None when DescribeJobQueues does not list it."""
        out = self.batch.describe_job_queues(jobQueues=[name])["jobQueues"]
        self.assertLessEqual(len(out), 1)
        return out[0] if out else None

    def wait_queue(self, name, status):
        self.wait_status(lambda: (self.describe(name) or {}).get("status"), status)
        return self.describe(name)

    def create(self, name, ces=("ec2-a",), priority=1, **kwargs):
        order = [{"order": i + 1, "computeEnvironment": ce} for i, ce in enumerate(ces)]
        return self.batch.create_job_queue(jobQueueName=name, priority=priority,
                                           computeEnvironmentOrder=order, **kwargs)

    def assertRefused(self, fn, *fragments, **kwargs):
        """Expects a ClientException naming every fragment."""
        return self.assertClientError(fn, *fragments, **kwargs)

    def assertNotCreated(self, name):
        self.assertIsNone(self.describe(name), "a refused create must not leave a queue")


class CreateAndDescribe(JobQueueCase):
    def test_create_gives_name_and_arn_then_valid(self):
        out = self.batch.create_job_queue(
            jobQueueName="full", priority=7, state="DISABLED",
            computeEnvironmentOrder=[{"order": 2, "computeEnvironment": arn(CE, "spot-b")},
                                     {"order": 1, "computeEnvironment": "ec2-a"}],
            tags={"team": "genomics", "cost-center": "42"},
            jobStateTimeLimitActions=[LIMIT])
        self.assertEqual(out["jobQueueName"], "full")
        self.assertEqual(out["jobQueueArn"], arn(JQ, "full"))
        q = self.wait_queue("full", "VALID")
        self.assertEqual(q["jobQueueName"], "full")
        self.assertEqual(q["jobQueueArn"], arn(JQ, "full"))
        self.assertEqual(q["state"], "DISABLED")
        self.assertEqual(q["priority"], 7)
        self.assertEqual(q["statusReason"], "JobQueue Healthy")
        # Names and ARNs alike are stored as the environments' ARNs, in the caller's order.
        self.assertEqual(q["computeEnvironmentOrder"],
                         [{"order": 2, "computeEnvironment": arn(CE, "spot-b")},
                          {"order": 1, "computeEnvironment": arn(CE, "ec2-a")}])
        self.assertEqual(q["tags"], {"team": "genomics", "cost-center": "42"})
        self.assertEqual(q["jobStateTimeLimitActions"], [LIMIT])
        self.assertNotIn("schedulingPolicyArn", q)
        self.assertNotIn("serviceEnvironmentOrder", q)
        # Described by ARN, the same queue.
        self.assertEqual(self.describe(arn(JQ, "full")), q)

    def test_defaults(self):
        self.create("plain", ces=("unmanaged-a",))
        q = self.wait_queue("plain", "VALID")
        self.assertEqual(q["state"], "ENABLED")
        self.assertEqual(q["tags"], {})
        self.assertEqual(q["jobStateTimeLimitActions"], [])
        # Described with the type its environments give, as AWS describes every queue.
        self.assertEqual(q["jobQueueType"], "ECS")

    def test_status_starts_as_creating_or_has_settled(self):
        self.create("fresh")
        self.assertIn(self.describe("fresh")["status"], ("CREATING", "VALID"))
        self.wait_queue("fresh", "VALID")

    def test_fargate_queue_and_queue_type(self):
        self.create("farg", ces=("fargate-a", "fargate-b"), jobQueueType="ECS_FARGATE")
        q = self.wait_queue("farg", "VALID")
        self.assertEqual(q["jobQueueType"], "ECS_FARGATE")
        self.assertEqual([o["computeEnvironment"] for o in q["computeEnvironmentOrder"]],
                         [arn(CE, "fargate-a"), arn(CE, "fargate-b")])
        self.create("ecs-typed", ces=("ec2-a", "unmanaged-a"), jobQueueType="ECS")
        self.assertEqual(self.wait_queue("ecs-typed", "VALID")["jobQueueType"], "ECS")

    def test_three_compute_environments_is_the_most(self):
        self.create("three", ces=("ec2-a", "spot-b", "ec2-c"))
        self.assertEqual(len(self.wait_queue("three", "VALID")["computeEnvironmentOrder"]), 3)

    def test_describe_unknown_and_malformed_names_give_nothing(self):
        self.create("known")
        out = self.batch.describe_job_queues(
            jobQueues=["nope", "known", arn(JQ, "nope2"), "bad name!", arn(CE, "known")])
        self.assertEqual([q["jobQueueName"] for q in out["jobQueues"]], ["known"])
        self.assertEqual(self.batch.describe_job_queues(jobQueues=["nope"])["jobQueues"], [])

    def test_describe_limits(self):
        self.assertRefused(self.batch.describe_job_queues, "jobQueues", "100",
                           jobQueues=["q%d" % i for i in range(101)])
        for bad in (0, 101):
            self.assertRefused(self.batch.describe_job_queues, "maxResults", maxResults=bad)
        self.assertRefused(self.batch.describe_job_queues, "nextToken", nextToken="not-hex!")
        # Nor a token of another listing, nor any hex of a name.
        for name in ("ce-a", "ce-b"):
            self.batch.create_compute_environment(computeEnvironmentName=name, type="UNMANAGED")
        other = self.batch.describe_compute_environments(maxResults=1)["nextToken"]
        self.assertRefused(self.batch.describe_job_queues, "for this listing", nextToken=other)
        self.assertRefused(self.batch.describe_job_queues, "nextToken",
                           nextToken="default".encode().hex())


class CreateRefusals(JobQueueCase):
    def test_names(self):
        for bad in ("has space", "dot.name", "x" * 129, "", "slash/name"):
            msg = self.assertRefused(self.create, "jobQueueName", name=bad)
            self.assertIn("letters, digits, hyphens and underscores", msg)
        self.create("x" * 128)
        self.create("Ok_name-1")
        self.assertRefused(self.create, "jobQueueName", "already exists", name="Ok_name-1")

    def test_priority(self):
        for bad in (-1, 1001):
            self.assertRefused(self.create, "priority", name="prio", priority=bad)
        self.assertNotCreated("prio")
        for good in (0, 1000):
            self.create("prio%d" % good, priority=good)
            self.assertEqual(self.describe("prio%d" % good)["priority"], good)

    def test_compute_environment_order(self):
        b = self.batch
        cases = [
            ([], "computeEnvironmentOrder", "at least one"),
            ([{"order": i, "computeEnvironment": ce} for i, ce in
              enumerate(("ec2-a", "spot-b", "ec2-c", "ec2-d"))],
             "computeEnvironmentOrder", "at most 3"),
            ([{"order": 1, "computeEnvironment": "ec2-a"},
              {"order": 1, "computeEnvironment": "spot-b"}],
             "computeEnvironmentOrder[1].order", "also the order"),
            ([{"order": 1, "computeEnvironment": "ec2-a"},
              {"order": 2, "computeEnvironment": arn(CE, "ec2-a")}],
             "computeEnvironmentOrder[1].computeEnvironment", "already listed"),
            ([{"order": 1, "computeEnvironment": "ghost"}],
             "computeEnvironmentOrder[0].computeEnvironment",
             "no compute environment named 'ghost'"),
            ([{"order": 1, "computeEnvironment": arn(JQ, "ec2-a")}],
             "computeEnvironmentOrder[0].computeEnvironment", "not a compute-environment ARN"),
            ([{"order": 1, "computeEnvironment": "bad name"}],
             "computeEnvironmentOrder[0].computeEnvironment", "not a valid name"),
            ([{"order": 1, "computeEnvironment": "ec2-a"},
              {"order": 2, "computeEnvironment": "fargate-a"}],
             "computeEnvironmentOrder[1].computeEnvironment", "all EC2/SPOT or all FARGATE"),
            ([{"order": 1, "computeEnvironment": "fargate-b"},
              {"order": 2, "computeEnvironment": "unmanaged-a"}],
             "computeEnvironmentOrder[1].computeEnvironment", "all EC2/SPOT or all FARGATE"),
            ([{"order": -1, "computeEnvironment": "ec2-a"}],
             "computeEnvironmentOrder[0].order", "0 or more"),
        ]
        for order, field, what in cases:
            with self.subTest(order=order):
                self.assertRefused(b.create_job_queue, field, what, jobQueueName="bad-order",
                                   priority=1, computeEnvironmentOrder=order)
        self.assertNotCreated("bad-order")
        # Without a computeEnvironmentOrder a queue could run nothing.
        self.assertRefused(b.create_job_queue, "computeEnvironmentOrder", "required",
                           jobQueueName="bad-order", priority=1)
        self.assertNotCreated("bad-order")

    def test_deleted_compute_environment(self):
        b = self.batch
        b.create_compute_environment(computeEnvironmentName="short-lived", type="UNMANAGED",
                                     state="DISABLED")
        b.delete_compute_environment(computeEnvironment="short-lived")
        self.wait_status(lambda: b.describe_compute_environments(
            computeEnvironments=["short-lived"])["computeEnvironments"][0]["status"], "DELETED")
        self.assertRefused(self.create, "computeEnvironmentOrder[0].computeEnvironment",
                           "short-lived", name="on-deleted", ces=("short-lived",))
        self.assertNotCreated("on-deleted")

    def test_time_limit_actions(self):
        cases = [
            # AWS's minimum is 600 s; --dev (these servers) lowers it to 1 (JobQueuesWithoutDevMode).
            (dict(LIMIT, maxTimeSeconds=0), "jobStateTimeLimitActions[1].maxTimeSeconds"),
            (dict(LIMIT, maxTimeSeconds=86401), "jobStateTimeLimitActions[1].maxTimeSeconds"),
            (dict(LIMIT, action="TERMINATE"), "jobStateTimeLimitActions[1].action"),
            (dict(LIMIT, reason=""), "jobStateTimeLimitActions[1].reason"),
        ]
        for limit, field in cases:
            with self.subTest(limit=limit):
                self.assertRefused(self.create, field, name="limits",
                                   jobStateTimeLimitActions=[LIMIT, limit])
        self.assertNotCreated("limits")
        # Fields the model constrains, sent raw since boto3 would refuse them itself.
        body = {"jobQueueName": "limits", "priority": 1,
                "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "ec2-a"}]}
        for limit, fragment in ((dict(LIMIT, state="RUNNING"), "jobStateTimeLimitActions[0].state"),
                                ({"reason": "r", "state": "RUNNABLE", "action": "CANCEL"},
                                 "jobStateTimeLimitActions[0].maxTimeSeconds: this field is "
                                 "required")):
            status, _, err = self.server.raw("POST", "/v1/createjobqueue",
                                             dict(body, jobStateTimeLimitActions=[limit]))
            self.assertEqual(status, 400)
            self.assertIn(fragment, err["message"])
        self.assertNotCreated("limits")
        self.create("limits", jobStateTimeLimitActions=[
            LIMIT, dict(LIMIT, maxTimeSeconds=86400, reason="a day")])
        self.assertEqual(self.describe("limits")["jobStateTimeLimitActions"][1]["maxTimeSeconds"],
                         86400)

    def test_tags(self):
        self.assertRefused(self.create, "tags", "aws:", name="tagged", tags={"aws:x": "y"})
        self.assertRefused(self.create, "tags", "50", name="tagged",
                           tags={"k%d" % i: "v" for i in range(51)})
        self.assertNotCreated("tagged")

    def test_unsupported_fields_of_other_products(self):
        self.assertRefused(self.batch.create_job_queue, "serviceEnvironmentOrder",
                           "not supported by barge", jobQueueName="svc", priority=1,
                           serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": "s"}])
        for qtype in ("EKS", "SAGEMAKER_TRAINING"):
            self.assertRefused(self.create, "jobQueueType", "not supported by barge", name="svc",
                               jobQueueType=qtype)
        self.assertRefused(self.create, "jobQueueType is ECS_FARGATE", name="svc",
                           jobQueueType="ECS_FARGATE")
        self.assertRefused(self.create, "jobQueueType is ECS", name="svc", ces=("fargate-a",),
                           jobQueueType="ECS")
        self.assertNotCreated("svc")

    def test_wrong_types_are_named(self):
        for body, fragment in (
                ({"jobQueueName": "typed", "priority": "high"}, "priority: expected an integer"),
                ({"jobQueueName": "typed"}, "priority: this field is required"),
                ({"priority": 1}, "jobQueueName: this field is required"),
                ({"jobQueueName": "typed", "priority": 1, "state": "ON"}, "state: 'ON'"),
                ({"jobQueueName": "typed", "priority": 1,
                  "computeEnvironmentOrder": [{"computeEnvironment": "ec2-a"}]},
                 "computeEnvironmentOrder[0].order: this field is required")):
            status, hdrs, err = self.server.raw("POST", "/v1/createjobqueue", body)
            self.assertEqual(status, 400, body)
            self.assertEqual(err["__type"], "ClientException")
            self.assertIn(fragment, err["message"])
        self.assertNotCreated("typed")

    def test_scheduling_policy_must_exist(self):
        for bad, fragment in ((arn(SP, "nobody"), "no scheduling policy named 'nobody'"),
                              ("nobody", "not an ARN"),
                              (arn(JQ, "nobody"), "not a scheduling-policy ARN")):
            self.assertRefused(self.create, "schedulingPolicyArn", fragment, name="unfair",
                               schedulingPolicyArn=bad)
        self.assertNotCreated("unfair")

    def test_scheduling_policy_is_stored(self):
        try:
            self.batch.create_scheduling_policy(name="fair-1")
            self.batch.create_scheduling_policy(name="fair-2")
        except botocore.exceptions.ClientError as e:
            if "no such operation" in e.response["Error"]["Message"]:
                self.skipTest("this server does not serve scheduling policies yet")
            raise
        self.create("fair", schedulingPolicyArn=arn(SP, "fair-1"))
        self.assertEqual(self.wait_queue("fair", "VALID")["schedulingPolicyArn"],
                         arn(SP, "fair-1"))
        self.batch.update_job_queue(jobQueue="fair", schedulingPolicyArn=arn(SP, "fair-2"))
        self.assertEqual(self.wait_queue("fair", "VALID")["schedulingPolicyArn"],
                         arn(SP, "fair-2"))

    def test_a_first_in_first_out_queue_takes_no_policy(self):
        # As AWS: a queue made without a scheduling policy cannot be given one (its jobs were
        # submitted without share identifiers, which a fair-share queue requires).
        self.batch.create_scheduling_policy(name="late")
        self.create("fifo")
        before = self.wait_queue("fifo", "VALID")
        self.assertRefused(self.batch.update_job_queue, "schedulingPolicyArn",
                           "created without a scheduling policy", jobQueue="fifo",
                           schedulingPolicyArn=arn(SP, "late"))
        self.assertEqual(self.describe("fifo"), before)


class UpdateAndDelete(JobQueueCase):
    def test_update_changes_only_what_is_named(self):
        self.create("upd", ces=("ec2-a",), priority=5, tags={"a": "b"},
                    jobStateTimeLimitActions=[LIMIT])
        before = self.wait_queue("upd", "VALID")
        out = self.batch.update_job_queue(jobQueue=arn(JQ, "upd"), priority=9)
        self.assertEqual(out, {"jobQueueName": "upd", "jobQueueArn": arn(JQ, "upd"),
                               "ResponseMetadata": out["ResponseMetadata"]})
        after = self.wait_queue("upd", "VALID")
        self.assertEqual(after, dict(before, priority=9))

        self.batch.update_job_queue(
            jobQueue="upd", state="DISABLED",
            computeEnvironmentOrder=[{"order": 5, "computeEnvironment": "ec2-c"},
                                     {"order": 1, "computeEnvironment": arn(CE, "spot-b")}],
            jobStateTimeLimitActions=[dict(LIMIT, maxTimeSeconds=3600)])
        q = self.describe("upd")
        self.assertIn(q["status"], ("UPDATING", "VALID"))
        q = self.wait_queue("upd", "VALID")
        self.assertEqual(q["state"], "DISABLED")
        self.assertEqual(q["priority"], 9)
        self.assertEqual(q["computeEnvironmentOrder"],
                         [{"order": 5, "computeEnvironment": arn(CE, "ec2-c")},
                          {"order": 1, "computeEnvironment": arn(CE, "spot-b")}])
        self.assertEqual(q["jobStateTimeLimitActions"], [dict(LIMIT, maxTimeSeconds=3600)])
        self.assertEqual(q["tags"], {"a": "b"})
        # An empty list of time limit actions removes them.
        self.batch.update_job_queue(jobQueue="upd", jobStateTimeLimitActions=[])
        self.assertEqual(self.wait_queue("upd", "VALID")["jobStateTimeLimitActions"], [])
        # A queue may move to the other kind of compute when no jobQueueType pins it.
        self.batch.update_job_queue(
            jobQueue="upd",
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "fargate-a"}])
        q = self.wait_queue("upd", "VALID")
        self.assertEqual(q["computeEnvironmentOrder"],
                         [{"order": 1, "computeEnvironment": arn(CE, "fargate-a")}])
        self.assertEqual(q["jobQueueType"], "ECS_FARGATE")

    def test_update_refusals_change_nothing(self):
        self.create("strict", ces=("ec2-a",), priority=3)
        before = self.wait_queue("strict", "VALID")
        u = self.batch.update_job_queue
        cases = [
            (dict(priority=1001), "priority"),
            (dict(priority=-5), "priority"),
            (dict(computeEnvironmentOrder=[]), "computeEnvironmentOrder"),
            (dict(computeEnvironmentOrder=[{"order": i, "computeEnvironment": ce} for i, ce in
                                           enumerate(("ec2-a", "spot-b", "ec2-c", "ec2-d"))]),
             "at most 3"),
            (dict(computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "spot-b"},
                                           {"order": 2, "computeEnvironment": "fargate-b"}]),
             "computeEnvironmentOrder[1].computeEnvironment"),
            (dict(computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "spot-b"},
                                           {"order": 1, "computeEnvironment": "ec2-c"}]),
             "computeEnvironmentOrder[1].order"),
            (dict(computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "spot-b"},
                                           {"order": 2, "computeEnvironment": "spot-b"}]),
             "already listed"),
            (dict(computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ghost"}]),
             "no compute environment named 'ghost'"),
            (dict(schedulingPolicyArn=arn(SP, "ghost")), "schedulingPolicyArn"),
            (dict(jobStateTimeLimitActions=[dict(LIMIT, maxTimeSeconds=0)]),
             "jobStateTimeLimitActions[0].maxTimeSeconds"),
            (dict(jobStateTimeLimitActions=[dict(LIMIT, action="TERMINATE")]),
             "jobStateTimeLimitActions[0].action"),
            (dict(serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": "s"}]),
             "serviceEnvironmentOrder"),
        ]
        for kwargs, fragment in cases:
            with self.subTest(kwargs=kwargs):
                # Each refused update also carries a valid change that must not be applied.
                self.assertRefused(u, fragment, jobQueue="strict", state="DISABLED", **kwargs)
        self.assertEqual(self.describe("strict"), before)
        for ref in ("ghost", arn(JQ, "ghost")):
            self.assertRefused(u, "jobQueue", "no job queue named 'ghost'", jobQueue=ref,
                               priority=1)
        self.assertRefused(u, "jobQueue", "not a job-queue ARN", jobQueue=arn(CE, "strict"))

    def test_queue_type_pins_the_kind_of_compute(self):
        self.create("pinned", ces=("fargate-a",), jobQueueType="ECS_FARGATE")
        self.wait_queue("pinned", "VALID")
        self.assertRefused(self.batch.update_job_queue, "jobQueueType is ECS_FARGATE",
                           jobQueue="pinned",
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ec2-a"}])
        self.batch.update_job_queue(
            jobQueue="pinned",
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "fargate-b"}])
        self.assertEqual(self.wait_queue("pinned", "VALID")["computeEnvironmentOrder"],
                         [{"order": 1, "computeEnvironment": arn(CE, "fargate-b")}])

    def test_delete_needs_disabled_then_deleted(self):
        self.create("doomed", tags={"k": "v"})
        self.wait_queue("doomed", "VALID")
        self.assertRefused(self.batch.delete_job_queue, "jobQueue", "DISABLED",
                           jobQueue="doomed")
        self.assertEqual(self.describe("doomed")["status"], "VALID")
        self.batch.update_job_queue(jobQueue="doomed", state="DISABLED")
        self.assertEqual(self.batch.delete_job_queue(jobQueue=arn(JQ, "doomed"))
                         ["ResponseMetadata"]["HTTPStatusCode"], 200)
        q = self.wait_queue("doomed", "DELETED")
        self.assertEqual(q["jobQueueArn"], arn(JQ, "doomed"))
        self.assertEqual(q["tags"], {"k": "v"})
        # Deleted queues are described by name but not listed, updated or deleted again.
        listed = self.batch.describe_job_queues()["jobQueues"]
        self.assertNotIn("doomed", [x["jobQueueName"] for x in listed])
        self.assertRefused(self.batch.update_job_queue, "jobQueue", "no job queue named",
                           jobQueue="doomed", priority=2)
        self.assertRefused(self.batch.delete_job_queue, "jobQueue", "no job queue named",
                           jobQueue="doomed")
        # The name is free again.
        self.create("doomed", priority=4)
        q = self.wait_queue("doomed", "VALID")
        self.assertEqual((q["priority"], q["tags"]), (4, {}))

    def test_compute_environment_in_use_cannot_be_deleted(self):
        b = self.batch
        b.create_compute_environment(computeEnvironmentName="busy-ce", type="UNMANAGED")
        self.create("user-1", ces=("busy-ce",))
        self.create("user-2", ces=("ec2-a", "busy-ce"))
        b.update_compute_environment(computeEnvironment="busy-ce", state="DISABLED")
        # AWS's words first (Terraform's provider retries a destroy on them).
        msg = self.assertRefused(b.delete_compute_environment, "computeEnvironment: Cannot "
                                 "delete, found existing JobQueue relationship",
                                 computeEnvironment="busy-ce")
        self.assertIn("user-1", msg)
        self.assertIn("user-2", msg)
        # Moving one queue off the environment leaves the other one still holding it.
        b.update_job_queue(jobQueue="user-2",
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ec2-a"}])
        msg = self.assertRefused(b.delete_compute_environment, "user-1",
                                 computeEnvironment="busy-ce")
        self.assertNotIn("user-2", msg)
        b.update_job_queue(jobQueue="user-1", state="DISABLED")
        b.delete_job_queue(jobQueue="user-1")
        self.wait_queue("user-1", "DELETED")
        b.delete_compute_environment(computeEnvironment="busy-ce")
        self.wait_status(lambda: b.describe_compute_environments(
            computeEnvironments=["busy-ce"])["computeEnvironments"][0]["status"], "DELETED")


class Paging(JobQueueCase):
    NAMES = ["page-%02d" % i for i in range(7)]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for i, name in enumerate(reversed(cls.NAMES)):
            cls.batch.create_job_queue(
                jobQueueName=name, priority=i,
                computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ec2-a"}])

    def test_pages_by_hand(self):
        pages, token = [], None
        while True:
            kwargs = {"maxResults": 3}
            if token:
                kwargs["nextToken"] = token
            out = self.batch.describe_job_queues(**kwargs)
            pages.append([q["jobQueueName"] for q in out["jobQueues"]])
            token = out.get("nextToken")
            if not token:
                break
        self.assertEqual(pages, [self.NAMES[0:3], self.NAMES[3:6], self.NAMES[6:7]])
        everything = self.batch.describe_job_queues()
        self.assertNotIn("nextToken", everything)
        self.assertEqual([q["jobQueueName"] for q in everything["jobQueues"]], self.NAMES)

    def test_boto3_paginator(self):
        pages = list(self.batch.get_paginator("describe_job_queues").paginate(
            PaginationConfig={"PageSize": 2}))
        self.assertEqual([len(p["jobQueues"]) for p in pages], [2, 2, 2, 1])
        self.assertEqual([q["jobQueueName"] for p in pages for q in p["jobQueues"]], self.NAMES)

    def test_cli_pages_through_everything(self):
        out = self.server.aws("batch", "describe-job-queues", "--page-size", "2")
        self.assertEqual([q["jobQueueName"] for q in out["jobQueues"]], self.NAMES)
        out = self.server.aws("batch", "describe-job-queues", "--max-items", "4")
        self.assertEqual([q["jobQueueName"] for q in out["jobQueues"]], self.NAMES[:4])
        self.assertIn("NextToken", out)

    def test_listing_resumes_after_a_deletion(self):
        first = self.batch.describe_job_queues(maxResults=2)
        self.assertEqual([q["jobQueueName"] for q in first["jobQueues"]], self.NAMES[:2])
        # Deleting the last queue of the page just read must not skip or repeat anything.
        self.batch.update_job_queue(jobQueue="page-01", state="DISABLED")
        self.batch.delete_job_queue(jobQueue="page-01")
        self.wait_queue("page-01", "DELETED")
        rest = self.batch.describe_job_queues(maxResults=100, nextToken=first["nextToken"])
        self.assertEqual([q["jobQueueName"] for q in rest["jobQueues"]], self.NAMES[2:])
        self.batch.create_job_queue(
            jobQueueName="page-01", priority=5,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ec2-a"}])


class AwsCli(JobQueueCase):
    def test_create_describe_update_delete(self):
        aws = self.server.aws
        out = aws("batch", "create-job-queue", "--job-queue-name", "cli-q", "--priority", "3",
                  "--compute-environment-order", "order=1,computeEnvironment=ec2-a",
                  "order=2,computeEnvironment=" + arn(CE, "spot-b"),
                  "--tags", "owner=cli",
                  "--job-state-time-limit-actions", json.dumps([LIMIT]))
        self.assertEqual(out, {"jobQueueName": "cli-q", "jobQueueArn": arn(JQ, "cli-q")})
        self.wait_queue("cli-q", "VALID")
        q = aws("batch", "describe-job-queues", "--job-queues", "cli-q")["jobQueues"][0]
        self.assertEqual(q["priority"], 3)
        self.assertEqual(q["state"], "ENABLED")
        self.assertEqual(q["tags"], {"owner": "cli"})
        self.assertEqual(q["jobStateTimeLimitActions"], [LIMIT])
        self.assertEqual(q["computeEnvironmentOrder"],
                         [{"order": 1, "computeEnvironment": arn(CE, "ec2-a")},
                          {"order": 2, "computeEnvironment": arn(CE, "spot-b")}])

        out = aws("batch", "update-job-queue", "--job-queue", arn(JQ, "cli-q"), "--state",
                  "DISABLED", "--priority", "11", "--compute-environment-order",
                  "order=1,computeEnvironment=ec2-c")
        self.assertEqual(out, {"jobQueueName": "cli-q", "jobQueueArn": arn(JQ, "cli-q")})
        self.wait_queue("cli-q", "VALID")
        q = aws("batch", "describe-job-queues", "--job-queues", arn(JQ, "cli-q"))["jobQueues"][0]
        self.assertEqual((q["state"], q["priority"]), ("DISABLED", 11))
        self.assertEqual(q["computeEnvironmentOrder"],
                         [{"order": 1, "computeEnvironment": arn(CE, "ec2-c")}])

        self.assertIsNone(aws("batch", "delete-job-queue", "--job-queue", "cli-q"))
        self.wait_queue("cli-q", "DELETED")
        q = aws("batch", "describe-job-queues", "--job-queues", "cli-q")["jobQueues"][0]
        self.assertEqual(q["status"], "DELETED")

    def test_cli_reports_the_field(self):
        rc, _, err = self.server.aws(
            "batch", "create-job-queue", "--job-queue-name", "cli-bad", "--priority", "1",
            "--compute-environment-order", "order=1,computeEnvironment=ec2-a",
            "order=2,computeEnvironment=fargate-a", check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("ClientException", err)
        self.assertIn("computeEnvironmentOrder[1].computeEnvironment", err)
        self.assertNotCreated("cli-bad")


class Persistence(JobQueueCase):
    def test_queues_survive_a_restart(self):
        b = self.batch
        self.create("kept", ces=("ec2-a", arn(CE, "spot-b")), priority=12,
                    tags={"x": "y"}, jobStateTimeLimitActions=[LIMIT])
        self.create("kept-farg", ces=("fargate-a",), jobQueueType="ECS_FARGATE")
        self.create("gone")
        b.update_job_queue(jobQueue="kept", priority=13, state="DISABLED")
        b.update_job_queue(jobQueue="gone", state="DISABLED")
        b.delete_job_queue(jobQueue="gone")
        self.wait_queue("gone", "DELETED")
        kept = self.wait_queue("kept", "VALID")
        farg = self.wait_queue("kept-farg", "VALID")

        self.server.restart()
        b = self.server.client()
        self.assertEqual(self.describe("kept"), kept)
        self.assertEqual(self.describe(arn(JQ, "kept-farg")), farg)
        self.assertEqual(kept["priority"], 13)
        listed = [q["jobQueueName"] for q in b.describe_job_queues()["jobQueues"]]
        self.assertEqual(listed, ["kept", "kept-farg"])
        # The rules still hold after the restart: names taken, environments in use.
        self.assertRefused(self.create, "already exists", name="kept")
        b.update_compute_environment(computeEnvironment="spot-b", state="DISABLED")
        self.assertRefused(b.delete_compute_environment, "kept",
                           computeEnvironment="spot-b")
        b.update_job_queue(jobQueue="kept", priority=14)
        self.assertEqual(self.wait_queue("kept", "VALID")["priority"], 14)


class JobQueuesWithoutDevMode(ServerTestCase):
    """Without --dev, AWS's 600-second minimum of jobStateTimeLimitActions applies."""

    server_args = ()

    def test_time_limit_minimum(self):
        self.batch.create_compute_environment(computeEnvironmentName="um", type="UNMANAGED")
        order = [{"order": 1, "computeEnvironment": "um"}]
        with self.assertRaises(Exception) as cm:
            self.batch.create_job_queue(jobQueueName="q", priority=1,
                                        computeEnvironmentOrder=order,
                                        jobStateTimeLimitActions=[dict(LIMIT, maxTimeSeconds=599)])
        msg = cm.exception.response["Error"]["Message"]
        self.assertIn("jobStateTimeLimitActions[0].maxTimeSeconds", msg)
        self.assertIn("between 600", msg)
        self.assertIn("--dev", msg)
        self.batch.create_job_queue(jobQueueName="q", priority=1, computeEnvironmentOrder=order,
                                    jobStateTimeLimitActions=[dict(LIMIT, maxTimeSeconds=600)])


if __name__ == "__main__":
    unittest.main()
