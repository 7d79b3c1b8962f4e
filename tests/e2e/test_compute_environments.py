"""Compute environments: Create, Describe, Update and Delete through boto3 and the AWS CLI; every
kind of compute resources, every refusal (each names its field), paging, and persistence across
a restart."""
import json
import time
import unittest

from harness import ServerTestCase, arn

CE = "compute-environment"
HEALTHY = "ComputeEnvironment Healthy"


class CECase(ServerTestCase):
    def describe(self, name):
        """The environment's description, or None when DescribeComputeEnvironments omits it."""
        out = self.batch.describe_compute_environments(computeEnvironments=[name])
        envs = out["computeEnvironments"]
        self.assertLessEqual(len(envs), 1)
        return envs[0] if envs else None

    def wait_ce(self, name, status):
        self.wait_status(lambda: (self.describe(name) or {}).get("status"), status)
        return self.describe(name)

    def create_ec2(self, name, **cr):
        res = {"type": "EC2", "maxvCpus": 16, "subnets": ["subnet-1"]}
        res.update(cr)
        return self.batch.create_compute_environment(
            computeEnvironmentName=name, type="MANAGED", computeResources=res)

    def listed_names(self):
        envs = self.batch.describe_compute_environments()["computeEnvironments"]
        return [e["computeEnvironmentName"] for e in envs]

    def assertRefused(self, fn, *fragments, **kwargs):
        return self.assertClientError(fn, *fragments, **kwargs)

    def assertRawRefused(self, path, body, *fragments):
        """A request boto3 would not send (it checks types and required members itself)."""
        status, headers, out = self.server.raw("POST", path, body)
        self.assertEqual(status, 400, out)
        self.assertEqual(headers.get("x-amzn-ErrorType"), "ClientException")
        self.assertEqual(out["__type"], "ClientException")
        for f in fragments:
            self.assertIn(f, out["message"])
        return out["message"]


class CreateManaged(CECase):
    def test_ec2_with_every_field_is_echoed_back(self):
        lt = {"launchTemplateName": "lt-batch", "version": "$Latest"}
        out = self.batch.create_compute_environment(
            computeEnvironmentName="ec2-full", type="MANAGED", state="ENABLED",
            serviceRole="arn:aws:iam::123456789012:role/BatchService",
            tags={"team": "genomics"},
            computeResources={
                "type": "EC2", "allocationStrategy": "BEST_FIT_PROGRESSIVE",
                "minvCpus": 2, "maxvCpus": 64, "desiredvCpus": 4,
                "instanceTypes": ["optimal", "m5", "c5.large"],
                "subnets": ["subnet-a", "subnet-b"], "securityGroupIds": ["sg-1"],
                "instanceRole": "arn:aws:iam::123456789012:instance-profile/ecsInstanceRole",
                "ec2KeyPair": "my-key", "imageId": "ami-123", "placementGroup": "pg",
                "tags": {"Name": "batch-worker"}, "launchTemplate": lt})
        self.assertEqual(out["computeEnvironmentName"], "ec2-full")
        self.assertEqual(out["computeEnvironmentArn"], arn(CE, "ec2-full"))
        first = self.describe("ec2-full")
        # The transition is quick; a describe sees it either before or after.
        self.assertIn(first["status"], ("CREATING", "VALID"))
        ce = self.wait_ce("ec2-full", "VALID")
        self.assertEqual(ce["statusReason"], HEALTHY)
        self.assertEqual(ce["type"], "MANAGED")
        self.assertEqual(ce["state"], "ENABLED")
        self.assertEqual(ce["computeEnvironmentArn"], arn(CE, "ec2-full"))
        self.assertEqual(ce["serviceRole"], "arn:aws:iam::123456789012:role/BatchService")
        self.assertEqual(ce["tags"], {"team": "genomics"})
        self.assertEqual(ce["containerOrchestrationType"], "ECS")
        self.assertRegex(ce["uuid"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                     r"[0-9a-f]{12}$")
        cr = ce["computeResources"]
        self.assertEqual((cr["type"], cr["allocationStrategy"]), ("EC2", "BEST_FIT_PROGRESSIVE"))
        self.assertEqual((cr["minvCpus"], cr["maxvCpus"], cr["desiredvCpus"]), (2, 64, 4))
        self.assertEqual(cr["instanceTypes"], ["optimal", "m5", "c5.large"])
        self.assertEqual(cr["subnets"], ["subnet-a", "subnet-b"])
        self.assertEqual(cr["securityGroupIds"], ["sg-1"])
        self.assertEqual(cr["instanceRole"],
                         "arn:aws:iam::123456789012:instance-profile/ecsInstanceRole")
        self.assertEqual(cr["ec2KeyPair"], "my-key")
        self.assertEqual(cr["imageId"], "ami-123")
        self.assertEqual(cr["placementGroup"], "pg")
        self.assertEqual(cr["tags"], {"Name": "batch-worker"})
        self.assertEqual(cr["launchTemplate"], lt)

    def test_ec2_defaults(self):
        self.batch.create_compute_environment(
            computeEnvironmentName="ec2-min", type="MANAGED",
            computeResources={"type": "EC2", "maxvCpus": 8, "subnets": []})
        ce = self.wait_ce("ec2-min", "VALID")
        cr = ce["computeResources"]
        self.assertEqual((cr["minvCpus"], cr["desiredvCpus"], cr["maxvCpus"]), (0, 0, 8))
        self.assertEqual(cr["instanceTypes"], ["optimal"])
        # BEST_FIT is meant, and not described, as AWS's (Terraform replaces an environment
        # whose description has a strategy it did not send).
        self.assertNotIn("allocationStrategy", cr)
        self.assertEqual((cr["subnets"], cr["securityGroupIds"]), ([], []))
        self.assertEqual(ce["state"], "ENABLED")
        self.assertEqual(ce["tags"], {})
        self.assertIn(":role/aws-service-role/batch.amazonaws.com/", ce["serviceRole"])
        self.assertNotIn("bidPercentage", cr)
        # The ECS cluster AWS Batch would have made, and the update policy's defaults.
        self.assertEqual(ce["ecsClusterArn"], "arn:aws:ecs:us-east-1:123456789012:cluster/"
                                              "AWSBatch-ec2-min-" + ce["uuid"])
        self.assertEqual(ce["updatePolicy"],
                         {"terminateJobsOnUpdate": False, "jobExecutionTimeoutMinutes": 30})
        # desiredvCpus defaults to minvCpus.
        self.create_ec2("ec2-min4", minvCpus=4)
        self.assertEqual(self.describe("ec2-min4")["computeResources"]["desiredvCpus"], 4)

    def test_created_disabled(self):
        self.create_ec2("ec2-off")
        self.batch.create_compute_environment(
            computeEnvironmentName="ec2-off2", type="MANAGED", state="DISABLED",
            computeResources={"type": "EC2", "maxvCpus": 4, "subnets": []})
        self.assertEqual(self.wait_ce("ec2-off2", "VALID")["state"], "DISABLED")
        self.assertEqual(self.describe("ec2-off")["state"], "ENABLED")

    def test_spot(self):
        self.batch.create_compute_environment(
            computeEnvironmentName="spot-a", type="MANAGED",
            computeResources={"type": "SPOT", "maxvCpus": 32, "subnets": ["s"],
                              "bidPercentage": 60,
                              "allocationStrategy": "SPOT_CAPACITY_OPTIMIZED",
                              "spotIamFleetRole": "arn:aws:iam::123456789012:role/fleet"})
        cr = self.wait_ce("spot-a", "VALID")["computeResources"]
        self.assertEqual(cr["type"], "SPOT")
        self.assertEqual(cr["bidPercentage"], 60)
        self.assertEqual(cr["allocationStrategy"], "SPOT_CAPACITY_OPTIMIZED")
        self.assertEqual(cr["spotIamFleetRole"], "arn:aws:iam::123456789012:role/fleet")
        # Without a bid, SPOT pays up to the on-demand price; none is described.
        self.batch.create_compute_environment(
            computeEnvironmentName="spot-b", type="MANAGED",
            computeResources={"type": "SPOT", "maxvCpus": 4, "subnets": [],
                              "allocationStrategy": "SPOT_PRICE_CAPACITY_OPTIMIZED"})
        self.assertNotIn("bidPercentage", self.describe("spot-b")["computeResources"])

    def test_fargate_and_fargate_spot(self):
        for name, crtype in (("fg", "FARGATE"), ("fgs", "FARGATE_SPOT")):
            self.batch.create_compute_environment(
                computeEnvironmentName=name, type="MANAGED",
                computeResources={"type": crtype, "maxvCpus": 12, "subnets": ["subnet-f"],
                                  "securityGroupIds": ["sg-f"]})
            cr = self.wait_ce(name, "VALID")["computeResources"]
            self.assertEqual((cr["type"], cr["maxvCpus"]), (crtype, 12))
            self.assertEqual((cr["subnets"], cr["securityGroupIds"]), (["subnet-f"], ["sg-f"]))
            # EC2-only settings are not invented for Fargate.
            for field in ("instanceTypes", "minvCpus", "desiredvCpus", "allocationStrategy"):
                self.assertNotIn(field, cr)

    def test_unmanaged(self):
        out = self.batch.create_compute_environment(
            computeEnvironmentName="um", type="UNMANAGED", unmanagedvCpus=24)
        self.assertEqual(out["computeEnvironmentArn"], arn(CE, "um"))
        ce = self.wait_ce("um", "VALID")
        self.assertEqual((ce["type"], ce["unmanagedvCpus"]), ("UNMANAGED", 24))
        self.assertNotIn("computeResources", ce)
        # Agents join an unmanaged environment as instances join its ECS cluster on AWS.
        self.assertEqual(ce["ecsClusterArn"], "arn:aws:ecs:us-east-1:123456789012:cluster/"
                                              "AWSBatch-um-" + ce["uuid"])
        self.batch.create_compute_environment(computeEnvironmentName="um0", type="UNMANAGED")
        self.assertEqual(self.describe("um0")["unmanagedvCpus"], 0)


class CreateRefused(CECase):
    def refused(self, name, cr, *fragments, **kwargs):
        self.assertRefused(self.batch.create_compute_environment, *fragments,
                           computeEnvironmentName=name, type="MANAGED", computeResources=cr,
                           **kwargs)
        self.assertIsNone(self.describe(name), "a refused create must not leave anything")

    def test_vcpu_bounds(self):
        base = {"type": "EC2", "subnets": []}
        self.refused("v1", dict(base, minvCpus=8, maxvCpus=4), "computeResources.minvCpus",
                     "maxvCpus")
        self.refused("v2", dict(base, minvCpus=0, maxvCpus=4, desiredvCpus=5),
                     "computeResources.desiredvCpus")
        self.refused("v3", dict(base, minvCpus=2, maxvCpus=4, desiredvCpus=1),
                     "computeResources.desiredvCpus")
        self.refused("v4", dict(base, minvCpus=-1, maxvCpus=4), "computeResources.minvCpus")
        self.refused("v5", dict(base, maxvCpus=-4), "computeResources.maxvCpus")

    def test_instance_types(self):
        base = {"type": "EC2", "maxvCpus": 4, "subnets": []}
        msg = self.assertRefused(self.batch.create_compute_environment,
                                 "computeResources.instanceTypes[1]", "'m5.huge'",
                                 computeEnvironmentName="it1", type="MANAGED",
                                 computeResources=dict(base, instanceTypes=["m5", "m5.huge"]))
        self.assertIn("optimal", msg)
        self.refused("it2", dict(base, instanceTypes=["x9"]), "computeResources.instanceTypes[0]")
        self.refused("it3", dict(base, instanceTypes=[]), "computeResources.instanceTypes")
        # Known families and types are all fine.
        self.create_ec2("it4", instanceTypes=["c5", "r5.large", "g4dn.xlarge", "optimal"])
        self.assertEqual(self.describe("it4")["computeResources"]["instanceTypes"],
                         ["c5", "r5.large", "g4dn.xlarge", "optimal"])
        # The names AWS documents: its defaults and current families and sizes.
        self.create_ec2("it5", instanceTypes=["default_x86_64", "c4", "m4.large", "c6a", "c7i",
                                              "g5.xlarge", "p4d.24xlarge"])
        self.assertEqual(self.wait_ce("it5", "VALID")["statusReason"], HEALTHY)

    def test_an_architecture_this_host_cannot_run(self):
        # The local provider runs agents of its host's architecture (x86_64 here): an
        # environment of arm64 types only can launch nothing, and says so as AWS would.
        self.create_ec2("arm", instanceTypes=["default_arm64", "m7g"],
                        allocationStrategy="BEST_FIT_PROGRESSIVE")
        ce = self.wait_ce("arm", "INVALID")
        self.assertTrue(ce["statusReason"].startswith("CLIENT_ERROR - "), ce["statusReason"])
        self.assertIn("default_arm64, m7g", ce["statusReason"])
        self.assertIn("x86_64", ce["statusReason"])
        # One x86_64 family among them is enough.
        self.batch.update_compute_environment(
            computeEnvironment="arm", computeResources={"instanceTypes": ["m7g", "c6i"]})
        self.assertEqual(self.wait_ce("arm", "VALID")["statusReason"], HEALTHY)
        # Made INVALID again under a queue: its jobs say why they wait with the environment's
        # own reason.
        self.batch.create_job_queue(jobQueueName="arm-q", priority=1, computeEnvironmentOrder=[
            {"order": 1, "computeEnvironment": "arm"}])
        self.batch.register_job_definition(
            jobDefinitionName="arm-jd", type="container", containerProperties={
                "image": "busybox", "command": ["true"], "resourceRequirements": [
                    {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]})
        self.batch.update_compute_environment(
            computeEnvironment="arm", computeResources={"instanceTypes": ["m7g"]})
        ce = self.wait_ce("arm", "INVALID")
        jid = self.batch.submit_job(jobName="a", jobQueue="arm-q",
                                    jobDefinition="arm-jd")["jobId"]
        deadline = time.time() + 10
        while not self.batch.describe_jobs(jobs=[jid])["jobs"][0].get("statusReason"):
            self.assertLess(time.time(), deadline, "a reason")
            time.sleep(0.1)
        self.assertEqual(self.batch.describe_jobs(jobs=[jid])["jobs"][0]["statusReason"],
                         "compute environment arm is INVALID: " + ce["statusReason"])
        self.batch.cancel_job(jobId=jid, reason="seen")

    def test_spot_only_settings(self):
        base = {"type": "EC2", "maxvCpus": 4, "subnets": []}
        # A bid on EC2 resources is kept, as AWS keeps it (Pegasus's sample environment has one).
        self.batch.create_compute_environment(computeEnvironmentName="s1", type="MANAGED",
                                              computeResources=dict(base, bidPercentage=20))
        self.assertEqual(self.wait_ce("s1", "VALID")["computeResources"]["bidPercentage"], 20)
        self.refused("s4", dict(base, bidPercentage=101), "computeResources.bidPercentage", "100")
        self.refused("s2", dict(base, allocationStrategy="SPOT_CAPACITY_OPTIMIZED"),
                     "computeResources.allocationStrategy", "SPOT")
        self.refused("s3", dict(base, type="SPOT", bidPercentage=101),
                     "computeResources.bidPercentage", "100")

    def test_fargate_refuses_ec2_settings(self):
        base = {"type": "FARGATE", "maxvCpus": 4, "subnets": []}
        self.refused("f1", dict(base, instanceTypes=["optimal"]), "computeResources.instanceTypes",
                     "FARGATE")
        self.refused("f2", dict(base, minvCpus=1), "computeResources.minvCpus")
        self.refused("f3", dict(base, type="FARGATE_SPOT", allocationStrategy="BEST_FIT"),
                     "computeResources.allocationStrategy", "FARGATE_SPOT")
        self.refused("f4", dict(base, bidPercentage=10), "computeResources.bidPercentage")

    def test_managed_and_unmanaged_mismatch(self):
        self.assertRefused(self.batch.create_compute_environment, "computeResources", "UNMANAGED",
                           computeEnvironmentName="mm1", type="UNMANAGED",
                           computeResources={"type": "EC2", "maxvCpus": 4, "subnets": []})
        self.assertRefused(self.batch.create_compute_environment, "unmanagedvCpus",
                           computeEnvironmentName="mm2", type="UNMANAGED", unmanagedvCpus=-1)
        self.assertRefused(self.batch.create_compute_environment, "unmanagedvCpus",
                           computeEnvironmentName="mm3", type="MANAGED", unmanagedvCpus=4,
                           computeResources={"type": "EC2", "maxvCpus": 4, "subnets": []})
        self.assertRefused(self.batch.create_compute_environment, "computeResources",
                           "MANAGED", computeEnvironmentName="mm4", type="MANAGED")
        self.assertRefused(self.batch.create_compute_environment, "eksConfiguration",
                           computeEnvironmentName="mm5", type="MANAGED",
                           eksConfiguration={"eksClusterArn": "arn:x", "kubernetesNamespace": "n"},
                           computeResources={"type": "EC2", "maxvCpus": 4, "subnets": []})
        for name in ("mm1", "mm2", "mm3", "mm4", "mm5"):
            self.assertIsNone(self.describe(name))

    def test_required_members(self):
        # boto3 checks these itself; a raw request shows what the server says.
        p = "/v1/createcomputeenvironment"
        self.assertRawRefused(p, {"type": "UNMANAGED"}, "computeEnvironmentName",
                              "required")
        self.assertRawRefused(p, {"computeEnvironmentName": "r1"}, "type", "required")
        self.assertRawRefused(p, {"computeEnvironmentName": "r1", "type": "MANAGED",
                                  "computeResources": {"maxvCpus": 4}},
                              "computeResources.type", "required")
        self.assertRawRefused(p, {"computeEnvironmentName": "r1", "type": "MANAGED",
                                  "computeResources": {"type": "EC2"}},
                              "computeResources.maxvCpus", "required")
        self.assertRawRefused(p, {"computeEnvironmentName": "r1", "type": "MANAGED",
                                  "computeResources": {"type": "GPU", "maxvCpus": 4}},
                              "computeResources.type", "'GPU'", "EC2, SPOT, FARGATE")
        self.assertIsNone(self.describe("r1"))

    def test_duplicates(self):
        self.batch.create_compute_environment(computeEnvironmentName="dup", type="UNMANAGED")
        self.assertRefused(self.batch.create_compute_environment, "computeEnvironmentName",
                           "'dup'", "already exists", computeEnvironmentName="dup",
                           type="MANAGED",
                           computeResources={"type": "EC2", "maxvCpus": 4, "subnets": []})
        # The first one is untouched.
        self.assertEqual(self.describe("dup")["type"], "UNMANAGED")

    def test_names(self):
        for bad in ("x" * 129, "has space", "dot.ted", "slash/ed", "colon:ed", "", "caf\u00e9"):
            self.assertRefused(self.batch.create_compute_environment, "computeEnvironmentName",
                               "not a valid name", computeEnvironmentName=bad, type="UNMANAGED")
        longest = "N" * 128
        self.batch.create_compute_environment(computeEnvironmentName=longest, type="UNMANAGED")
        self.assertEqual(self.describe(longest)["computeEnvironmentArn"], arn(CE, longest))
        self.batch.create_compute_environment(computeEnvironmentName="Mixed_case-9",
                                              type="UNMANAGED")
        self.assertIsNotNone(self.describe("Mixed_case-9"))

    def test_tags(self):
        self.assertRefused(self.batch.create_compute_environment, "tags", "aws:",
                           computeEnvironmentName="t1", type="UNMANAGED",
                           tags={"aws:reserved": "x"})
        self.assertRefused(self.batch.create_compute_environment, "tags", "256",
                           computeEnvironmentName="t2", type="UNMANAGED", tags={"k": "v" * 257})
        self.assertIsNone(self.describe("t1"))


class Update(CECase):
    def test_update_merges_and_settles(self):
        self.create_ec2("up", minvCpus=0, maxvCpus=16, desiredvCpus=2,
                        instanceTypes=["m5"], securityGroupIds=["sg-0"],
                        allocationStrategy="BEST_FIT_PROGRESSIVE")
        self.wait_ce("up", "VALID")
        out = self.batch.update_compute_environment(
            computeEnvironment="up", state="DISABLED",
            computeResources={"minvCpus": 1, "maxvCpus": 32, "desiredvCpus": 3,
                              "instanceTypes": ["c5", "optimal"], "subnets": ["subnet-9"],
                              "allocationStrategy": "BEST_FIT_PROGRESSIVE"})
        self.assertEqual(out["computeEnvironmentName"], "up")
        self.assertEqual(out["computeEnvironmentArn"], arn(CE, "up"))
        self.assertIn(self.describe("up")["status"], ("UPDATING", "VALID"))
        ce = self.wait_ce("up", "VALID")
        self.assertEqual(ce["statusReason"], HEALTHY)
        self.assertEqual(ce["state"], "DISABLED")
        # The service role changes in an update of its own (a scaling update, as AWS's).
        self.batch.update_compute_environment(
            computeEnvironment="up", serviceRole="arn:aws:iam::123456789012:role/Other")
        ce = self.wait_ce("up", "VALID")
        self.assertEqual(ce["serviceRole"], "arn:aws:iam::123456789012:role/Other")
        cr = ce["computeResources"]
        self.assertEqual((cr["minvCpus"], cr["maxvCpus"], cr["desiredvCpus"]), (1, 32, 3))
        self.assertEqual(cr["instanceTypes"], ["c5", "optimal"])
        self.assertEqual(cr["subnets"], ["subnet-9"])
        self.assertEqual(cr["allocationStrategy"], "BEST_FIT_PROGRESSIVE")
        # What the update did not name is kept, and so is the identity.
        self.assertEqual(cr["securityGroupIds"], ["sg-0"])
        self.assertEqual(cr["type"], "EC2")
        # Empty lists mean "keep", as on AWS.
        self.batch.update_compute_environment(
            computeEnvironment=arn(CE, "up"),
            computeResources={"subnets": [], "instanceTypes": [], "securityGroupIds": []})
        cr = self.wait_ce("up", "VALID")["computeResources"]
        self.assertEqual((cr["subnets"], cr["instanceTypes"]), (["subnet-9"], ["c5", "optimal"]))
        self.assertEqual(cr["securityGroupIds"], ["sg-0"])

    def test_bounds_drag_desired(self):
        self.create_ec2("drag", minvCpus=0, maxvCpus=16, desiredvCpus=2)
        self.batch.update_compute_environment(computeEnvironment="drag",
                                              computeResources={"minvCpus": 6})
        cr = self.wait_ce("drag", "VALID")["computeResources"]
        self.assertEqual((cr["minvCpus"], cr["desiredvCpus"]), (6, 6))
        self.batch.update_compute_environment(computeEnvironment="drag",
                                              computeResources={"minvCpus": 0, "maxvCpus": 4})
        cr = self.wait_ce("drag", "VALID")["computeResources"]
        self.assertEqual((cr["minvCpus"], cr["desiredvCpus"], cr["maxvCpus"]), (0, 4, 4))

    def test_update_refusals(self):
        self.create_ec2("uref", minvCpus=2, maxvCpus=8, allocationStrategy="BEST_FIT_PROGRESSIVE")
        self.batch.create_compute_environment(computeEnvironmentName="uref-um", type="UNMANAGED")
        self.batch.create_compute_environment(
            computeEnvironmentName="uref-fg", type="MANAGED",
            computeResources={"type": "FARGATE", "maxvCpus": 4, "subnets": []})
        u = self.batch.update_compute_environment
        self.assertRefused(u, "computeEnvironment", "no compute environment named 'nope'",
                           computeEnvironment="nope")
        self.assertRefused(u, "computeEnvironment", "not a compute-environment ARN",
                           computeEnvironment=arn("job-queue", "uref"))
        self.assertRefused(u, "computeResources.minvCpus", computeEnvironment="uref",
                           computeResources={"maxvCpus": 1})
        self.assertRefused(u, "computeResources.instanceTypes[0]", computeEnvironment="uref",
                           computeResources={"instanceTypes": ["zz.top"]})
        self.assertRefused(u, "computeResources", "UNMANAGED", computeEnvironment="uref-um",
                           computeResources={"maxvCpus": 4})
        self.assertRefused(u, "unmanagedvCpus", computeEnvironment="uref", unmanagedvCpus=4)
        self.assertRefused(u, "computeResources.type", computeEnvironment="uref",
                           computeResources={"type": "FARGATE"})
        self.assertRefused(u, "computeResources.allocationStrategy", computeEnvironment="uref-fg",
                           computeResources={"allocationStrategy": "BEST_FIT_PROGRESSIVE"})
        self.assertRefused(u, "updatePolicy.jobExecutionTimeoutMinutes",
                           computeEnvironment="uref",
                           updatePolicy={"jobExecutionTimeoutMinutes": 361})
        # None of them changed anything.
        cr = self.describe("uref")["computeResources"]
        self.assertEqual((cr["minvCpus"], cr["maxvCpus"], cr["instanceTypes"]), (2, 8, ["optimal"]))
        self.assertEqual(self.describe("uref")["state"], "ENABLED")

    def test_unmanaged_and_policy(self):
        self.batch.create_compute_environment(computeEnvironmentName="upd-um", type="UNMANAGED",
                                              unmanagedvCpus=2)
        self.batch.update_compute_environment(computeEnvironment="upd-um", unmanagedvCpus=10,
                                              updatePolicy={"terminateJobsOnUpdate": True})
        ce = self.wait_ce("upd-um", "VALID")
        self.assertEqual(ce["unmanagedvCpus"], 10)
        self.assertEqual(ce["updatePolicy"],
                         {"terminateJobsOnUpdate": True, "jobExecutionTimeoutMinutes": 30})

    def test_ecs_settings_are_described_back(self):
        # ecsSettings (Container Insights) is in the newest SDKs' model, perhaps not in this
        # botocore's, which would leave it out of what it parses: read the raw answers.
        def described():
            status, _, out = self.server.raw("POST", "/v1/describecomputeenvironments",
                                             {"computeEnvironments": ["ecs-um"]})
            self.assertEqual(status, 200, out)
            return out["computeEnvironments"][0].get("ecsSettings")
        status, _, out = self.server.raw(
            "POST", "/v1/createcomputeenvironment",
            {"computeEnvironmentName": "ecs-um", "type": "UNMANAGED", "unmanagedvCpus": 1,
             "ecsSettings": {"containerInsights": "ENHANCED"}})
        self.assertEqual(status, 200, out)
        self.assertEqual(described(), {"containerInsights": "ENHANCED"})
        status, _, out = self.server.raw(
            "POST", "/v1/updatecomputeenvironment",
            {"computeEnvironment": "ecs-um", "ecsSettings": {"containerInsights": "DISABLED"}})
        self.assertEqual(status, 200, out)
        self.assertEqual(described(), {"containerInsights": "DISABLED"})
        self.assertRawRefused("/v1/createcomputeenvironment",
                              {"computeEnvironmentName": "ecs-bad", "type": "UNMANAGED",
                               "ecsSettings": {"containerInsights": "ON"}},
                              "ecsSettings.containerInsights")

    def test_fargate_update(self):
        self.batch.create_compute_environment(
            computeEnvironmentName="fg-up", type="MANAGED",
            computeResources={"type": "FARGATE", "maxvCpus": 4, "subnets": ["a"]})
        self.batch.update_compute_environment(
            computeEnvironment="fg-up",
            computeResources={"maxvCpus": 40, "subnets": ["b"], "securityGroupIds": ["sg-2"]})
        cr = self.wait_ce("fg-up", "VALID")["computeResources"]
        self.assertEqual((cr["type"], cr["maxvCpus"], cr["subnets"], cr["securityGroupIds"]),
                         ("FARGATE", 40, ["b"], ["sg-2"]))
        self.assertNotIn("minvCpus", cr)
        # As AWS: a Fargate environment's network and maxvCpus change, not its type.
        self.assertRefused(self.batch.update_compute_environment, "computeResources.type",
                           "subnets, securityGroupIds and maxvCpus", computeEnvironment="fg-up",
                           computeResources={"type": "FARGATE_SPOT"})
        self.assertEqual(self.describe("fg-up")["computeResources"]["type"], "FARGATE")

    def test_what_terraform_sends(self):
        # An empty serviceRole is the service-linked one, as AWS takes it; so the instances'
        # settings may be updated in place.
        u = self.batch.update_compute_environment
        self.create_ec2("tf", maxvCpus=4, type="SPOT", bidPercentage=50,
                        allocationStrategy="SPOT_CAPACITY_OPTIMIZED")
        self.batch.create_compute_environment(
            computeEnvironmentName="tf-role", type="MANAGED", serviceRole="",
            computeResources={"type": "EC2", "maxvCpus": 4, "subnets": ["s"],
                              "allocationStrategy": "BEST_FIT_PROGRESSIVE",
                              "launchTemplate": {"launchTemplateName": "lt", "version": "1"}})
        ce = self.wait_ce("tf-role", "VALID")
        self.assertTrue(ce["serviceRole"].endswith(
            ":role/aws-service-role/batch.amazonaws.com/AWSServiceRoleForBatch"), ce)
        u(computeEnvironment="tf-role", serviceRole="",
          computeResources={"instanceTypes": ["m5.large"]})
        self.assertEqual(self.wait_ce("tf-role", "VALID")["computeResources"]["instanceTypes"],
                         ["m5.large"])
        # A launch template is removed with an empty name or id.
        u(computeEnvironment="tf-role", computeResources={"launchTemplate": {
            "launchTemplateId": ""}})
        self.assertNotIn("launchTemplate", self.wait_ce("tf-role", "VALID")["computeResources"])
        # SPOT to EC2 in place: the bid goes, cleared with 0 or left out.
        self.wait_ce("tf", "VALID")
        u(computeEnvironment="tf", computeResources={
            "type": "EC2", "bidPercentage": 0, "allocationStrategy": "BEST_FIT_PROGRESSIVE"})
        cr = self.wait_ce("tf", "VALID")["computeResources"]
        self.assertEqual((cr["type"], cr["allocationStrategy"]), ("EC2", "BEST_FIT_PROGRESSIVE"))
        self.assertNotIn("bidPercentage", cr)
        # A destroy of what is already gone finds the words AWS uses.
        for fn, kw in ((u, {"computeEnvironment": "gone-already", "state": "DISABLED"}),
                       (self.batch.update_job_queue, {"jobQueue": "gone-too",
                                                      "state": "DISABLED"})):
            self.assertRefused(fn, "does not exist", **kw)

    def test_infrastructure_updates_as_aws(self):
        # AWS replaces instances for any change but the vCPU counts ("infrastructure
        # updates"): refused under BEST_FIT, and without the service-linked role.
        self.create_ec2("bf", maxvCpus=8, instanceTypes=["m5"])
        self.wait_ce("bf", "VALID")
        u = self.batch.update_compute_environment
        for change in ({"instanceTypes": ["c5"]}, {"type": "SPOT"}, {"subnets": ["subnet-2"]},
                       {"updateToLatestImageVersion": True}, {"imageId": "ami-1"},
                       {"maxvCpus": 16, "securityGroupIds": ["sg-9"]}):
            self.assertRefused(u, "computeResources." + next(k for k in change if k != "maxvCpus"),
                               "BEST_FIT", "scaling updates only", computeEnvironment="bf",
                               computeResources=change)
        before = self.describe("bf")
        self.assertEqual(before["computeResources"]["maxvCpus"], 8)
        # The vCPU counts, the state and the role change; settings given as they are, and
        # empty lists (which keep the current ones), are no change.
        u(computeEnvironment="bf", state="DISABLED", serviceRole="arn:aws:iam::1:role/R",
          computeResources={"minvCpus": 1, "maxvCpus": 12, "instanceTypes": ["m5"],
                            "subnets": [], "type": "EC2", "updateToLatestImageVersion": False})
        cr = self.wait_ce("bf", "VALID")["computeResources"]
        self.assertEqual((cr["minvCpus"], cr["maxvCpus"], cr["instanceTypes"]), (1, 12, ["m5"]))

        self.create_ec2("bfp", maxvCpus=8, allocationStrategy="BEST_FIT_PROGRESSIVE")
        self.wait_ce("bfp", "VALID")
        self.assertRefused(u, "computeResources.instanceTypes", "AWSServiceRoleForBatch",
                           computeEnvironment="bfp", serviceRole="arn:aws:iam::1:role/R",
                           computeResources={"instanceTypes": ["c5"]})
        u(computeEnvironment="bfp", computeResources={"instanceTypes": ["c5"]})
        self.assertEqual(self.wait_ce("bfp", "VALID")["computeResources"]["instanceTypes"],
                         ["c5"])
        u(computeEnvironment="bfp", serviceRole="arn:aws:iam::1:role/R")
        self.wait_ce("bfp", "VALID")
        self.assertRefused(u, "computeResources.instanceTypes", "AWSServiceRoleForBatch",
                           computeEnvironment="bfp", computeResources={"instanceTypes": ["m5"]})


class Delete(CECase):
    def test_delete_lifecycle(self):
        self.create_ec2("del")
        self.wait_ce("del", "VALID")
        d = self.batch.delete_compute_environment
        self.assertRefused(d, "computeEnvironment", "'del'", "DISABLED", computeEnvironment="del")
        self.assertEqual(self.describe("del")["status"], "VALID")
        self.batch.update_compute_environment(computeEnvironment="del", state="DISABLED")
        self.assertEqual(d(computeEnvironment="del")["ResponseMetadata"]["HTTPStatusCode"], 200)
        first = self.describe("del")
        self.assertIn(first["status"], ("DELETING", "DELETED"))
        ce = self.wait_ce("del", "DELETED")
        self.assertEqual(ce["statusReason"], "ComputeEnvironment Deleted")
        self.assertEqual(ce["computeEnvironmentArn"], arn(CE, "del"))
        # By ARN too; gone from the listing; a second delete finds nothing.
        out = self.batch.describe_compute_environments(computeEnvironments=[arn(CE, "del")])
        self.assertEqual([e["status"] for e in out["computeEnvironments"]], ["DELETED"])
        self.assertNotIn("del", self.listed_names())
        self.assertRefused(d, "computeEnvironment", "no compute environment named 'del'",
                           computeEnvironment="del")
        self.assertRefused(self.batch.update_compute_environment, "computeEnvironment",
                           computeEnvironment="del", state="ENABLED")
        # The name is free again, and the new environment is a new one.
        self.create_ec2("del", maxvCpus=2)
        ce2 = self.wait_ce("del", "VALID")
        self.assertEqual(ce2["computeResources"]["maxvCpus"], 2)
        self.assertNotEqual(ce2["uuid"], ce["uuid"])

    def test_delete_by_arn_and_unknown(self):
        self.batch.create_compute_environment(computeEnvironmentName="del-um", type="UNMANAGED",
                                              state="DISABLED")
        self.batch.delete_compute_environment(computeEnvironment=arn(CE, "del-um"))
        self.wait_ce("del-um", "DELETED")
        self.assertRefused(self.batch.delete_compute_environment, "computeEnvironment",
                           computeEnvironment="never-was")
        self.assertRefused(self.batch.delete_compute_environment, "computeEnvironment",
                           "not a valid name or ARN", computeEnvironment="bad name")


class Describe(CECase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for n in ("d-a", "d-b", "d-c"):
            cls.batch.create_compute_environment(computeEnvironmentName=n, type="UNMANAGED")

    def names(self, wanted):
        out = self.batch.describe_compute_environments(computeEnvironments=wanted)
        return [e["computeEnvironmentName"] for e in out["computeEnvironments"]]

    def test_by_name_arn_and_unknown(self):
        self.assertEqual(self.names(["d-b"]), ["d-b"])
        self.assertEqual(self.names([arn(CE, "d-c")]), ["d-c"])
        self.assertEqual(self.names(["d-c", arn(CE, "d-a")]), ["d-c", "d-a"])
        self.assertEqual(self.names(["nobody"]), [])
        self.assertEqual(self.names([arn(CE, "nobody")]), [])
        # The wrong kind of ARN, or text that is no name at all, finds nothing either.
        self.assertEqual(self.names([arn("job-queue", "d-a"), "not a name", "d-a"]), ["d-a"])
        self.assertEqual(sorted(self.listed_names()), ["d-a", "d-b", "d-c"])

    def test_too_many_names(self):
        self.assertRefused(self.batch.describe_compute_environments, "computeEnvironments",
                           "100", computeEnvironments=["d-a"] * 101)

    def test_cli_describe(self):
        out = self.server.aws("batch", "describe-compute-environments",
                              "--compute-environments", "d-a", arn(CE, "d-b"), "missing")
        self.assertEqual([e["computeEnvironmentName"] for e in out["computeEnvironments"]],
                         ["d-a", "d-b"])


class Paging(CECase):
    """Seven environments, on a server of their own so the listing holds exactly them."""

    NAMES = ["pg-%d" % i for i in range(7)]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for n in reversed(cls.NAMES):
            cls.batch.create_compute_environment(computeEnvironmentName=n, type="UNMANAGED")

    def test_pages_of_three(self):
        d = self.batch.describe_compute_environments
        seen, token, sizes = [], None, []
        while True:
            kw = {"maxResults": 3}
            if token:
                kw["nextToken"] = token
            out = d(**kw)
            sizes.append(len(out["computeEnvironments"]))
            seen += [e["computeEnvironmentName"] for e in out["computeEnvironments"]]
            token = out.get("nextToken")
            if not token:
                break
        self.assertEqual(sizes, [3, 3, 1])
        self.assertEqual(seen, self.NAMES)

    def test_boto3_paginator_and_cli(self):
        pages = self.batch.get_paginator("describe_compute_environments").paginate(
            PaginationConfig={"PageSize": 2})
        got = [e["computeEnvironmentName"] for p in pages for e in p["computeEnvironments"]]
        self.assertEqual(got, self.NAMES)
        # The CLI follows the tokens itself.
        out = self.server.aws("batch", "describe-compute-environments", "--page-size", "3")
        self.assertEqual([e["computeEnvironmentName"] for e in out["computeEnvironments"]],
                         self.NAMES)
        out = self.server.aws("batch", "describe-compute-environments", "--max-items", "4")
        self.assertEqual(len(out["computeEnvironments"]), 4)
        self.assertTrue(out.get("NextToken"))

    def test_bad_paging_arguments(self):
        d = self.batch.describe_compute_environments
        self.assertRefused(d, "nextToken", maxResults=3, nextToken="not-a-token")
        self.assertRefused(d, "maxResults", "between 1 and 100", maxResults=0)
        self.assertRefused(d, "maxResults", "between 1 and 100", maxResults=101)
        # The largest page is fine.
        self.assertEqual(len(d(maxResults=100)["computeEnvironments"]), 7)

    def test_token_survives_a_deletion(self):
        out = self.batch.describe_compute_environments(maxResults=3)
        self.batch.create_compute_environment(computeEnvironmentName="pg-2a", type="UNMANAGED",
                                              state="DISABLED")
        rest = self.batch.describe_compute_environments(maxResults=3,
                                                        nextToken=out["nextToken"])
        self.assertEqual([e["computeEnvironmentName"] for e in rest["computeEnvironments"]],
                         ["pg-2a", "pg-3", "pg-4"])
        self.batch.delete_compute_environment(computeEnvironment="pg-2a")
        self.wait_ce("pg-2a", "DELETED")
        self.assertEqual(self.listed_names(), self.NAMES)


class CLI(CECase):
    def test_full_cycle_through_the_cli(self):
        aws = self.server.aws
        out = aws("batch", "create-compute-environment", "--compute-environment-name", "cli-ce",
                  "--type", "MANAGED", "--compute-resources",
                  json.dumps({"type": "SPOT", "minvCpus": 0, "maxvCpus": 8, "bidPercentage": 40,
                              "instanceTypes": ["m5", "c5.xlarge"], "subnets": ["subnet-1"],
                              "securityGroupIds": ["sg-1"],
                              "launchTemplate": {"launchTemplateId": "lt-0abc"}}))
        self.assertEqual(out["computeEnvironmentArn"], arn(CE, "cli-ce"))
        self.wait_ce("cli-ce", "VALID")
        out = aws("batch", "describe-compute-environments", "--compute-environments", "cli-ce")
        cr = out["computeEnvironments"][0]["computeResources"]
        self.assertEqual((cr["type"], cr["bidPercentage"]), ("SPOT", 40))
        self.assertEqual(cr["instanceTypes"], ["m5", "c5.xlarge"])
        self.assertEqual(cr["launchTemplate"], {"launchTemplateId": "lt-0abc"})
        aws("batch", "update-compute-environment", "--compute-environment", "cli-ce",
            "--state", "DISABLED", "--compute-resources", "maxvCpus=24")
        ce = self.wait_ce("cli-ce", "VALID")
        self.assertEqual((ce["state"], ce["computeResources"]["maxvCpus"]), ("DISABLED", 24))
        # An empty answer prints nothing.
        self.assertIsNone(aws("batch", "delete-compute-environment", "--compute-environment",
                              "cli-ce"))
        self.wait_ce("cli-ce", "DELETED")

    def test_cli_errors_name_the_field(self):
        rc, _, err = self.server.aws(
            "batch", "create-compute-environment", "--compute-environment-name", "cli-bad",
            "--type", "MANAGED", "--compute-resources",
            json.dumps({"type": "EC2", "minvCpus": 9, "maxvCpus": 8, "subnets": []}),
            check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("ClientException", err)
        self.assertIn("computeResources.minvCpus", err)
        rc, _, err = self.server.aws("batch", "delete-compute-environment",
                                     "--compute-environment", "cli-none", check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("no compute environment named 'cli-none'", err)
        self.assertIsNone(self.describe("cli-bad"))


class Persistence(CECase):
    def test_everything_survives_a_restart(self):
        self.create_ec2("keep-ec2", minvCpus=1, maxvCpus=9, instanceTypes=["r5"])
        self.batch.create_compute_environment(computeEnvironmentName="keep-um", type="UNMANAGED",
                                              unmanagedvCpus=3, tags={"k": "v"})
        self.batch.create_compute_environment(
            computeEnvironmentName="keep-fg", type="MANAGED",
            computeResources={"type": "FARGATE_SPOT", "maxvCpus": 6, "subnets": ["s"]})
        self.create_ec2("keep-upd")
        self.batch.update_compute_environment(computeEnvironment="keep-upd", state="DISABLED",
                                              computeResources={"maxvCpus": 99})
        self.create_ec2("gone")
        self.batch.update_compute_environment(computeEnvironment="gone", state="DISABLED")
        self.batch.delete_compute_environment(computeEnvironment="gone")
        self.wait_ce("gone", "DELETED")
        names = ("keep-ec2", "keep-um", "keep-fg", "keep-upd")
        before = {n: self.wait_ce(n, "VALID") for n in names}
        # keep-ec2's minvCpus is launched at once (an r5.large: desiredvCpus 2); an agent a
        # restart finds still registering is refused by the next server (its launch token was
        # that server's) and launched again, so the restart waits for it to have registered.
        deadline = time.time() + 15
        while True:
            status, _, body = self.server.raw("POST", "/barge/v1/listinstances",
                                              {"computeEnvironment": "keep-ec2"},
                                              {"Content-Type": "application/json"})
            if status == 200 and [i["state"] for i in body["instances"]] == ["READY"]:
                break
            self.assertLess(time.time(), deadline, "keep-ec2's instance did not register")
            time.sleep(0.05)
        self.assertEqual(before["keep-ec2"]["computeResources"]["desiredvCpus"], 2)

        self.server.restart()
        after = {n: self.describe(n) for n in names}
        self.assertEqual(after, before)
        self.assertEqual(after["keep-upd"]["computeResources"]["maxvCpus"], 99)
        self.assertEqual(after["keep-upd"]["state"], "DISABLED")
        self.assertNotIn("gone", self.listed_names())
        self.assertEqual(sorted(self.listed_names()), sorted(names))
        # The restarted server still takes writes, and they persist too.
        self.batch.update_compute_environment(computeEnvironment="keep-um", unmanagedvCpus=7)
        self.wait_ce("keep-um", "VALID")
        self.server.restart()
        self.assertEqual(self.describe("keep-um")["unmanagedvCpus"], 7)


if __name__ == "__main__":
    unittest.main()
