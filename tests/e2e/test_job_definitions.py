"""Job definitions: RegisterJobDefinition, DescribeJobDefinitions, DeregisterJobDefinition,
through boto3 and the AWS CLI, with revisions, filters, paging and every validation rule."""
import copy
import json
import unittest

from harness import ServerTestCase, arn

CONTAINER = {
    "image": "busybox",
    "command": ["sleep", "1"],
    "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}],
}

FULL_CONTAINER = {
    "image": "public.ecr.aws/docker/library/python:3.12",
    "command": ["python", "-c", "print('Ref::greeting')"],
    "jobRoleArn": "arn:aws:iam::123456789012:role/job",
    "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
    "volumes": [{"name": "data", "host": {"sourcePath": "/tmp/data"}},
                {"name": "scratch"}, {"name": "docker-chosen", "host": {}}],
    "environment": [{"name": "MODE", "value": "fast"}, {"name": "EMPTY", "value": ""}],
    "mountPoints": [{"containerPath": "/data", "readOnly": True, "sourceVolume": "data"},
                    {"containerPath": "/scratch", "sourceVolume": "scratch"},
                    {"containerPath": "/other", "sourceVolume": "docker-chosen"}],
    "readonlyRootFilesystem": False,
    "privileged": False,
    "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
    "user": "nobody",
    "resourceRequirements": [{"type": "VCPU", "value": "2"}, {"type": "MEMORY", "value": "2048"},
                             {"type": "GPU", "value": "1"}],
    "linuxParameters": {
        "devices": [{"hostPath": "/dev/fuse", "containerPath": "/dev/fuse",
                     "permissions": ["READ", "WRITE"]}],
        "initProcessEnabled": True, "sharedMemorySize": 64,
        "tmpfs": [{"containerPath": "/scratch", "size": 128, "mountOptions": ["rw", "noexec"]}],
        "maxSwap": 0, "swappiness": 10},
    "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/aws/batch/job"},
                         "secretOptions": [{"name": "token", "valueFrom": "arn:aws:ssm:x"}]},
    "secrets": [{"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:1:secret:db"}],
    "ephemeralStorage": {"sizeInGiB": 30},
    "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": "X86_64"},
    "repositoryCredentials": {"credentialsParameter": "arn:aws:secretsmanager:us-east-1:1:secret:r"},
    "enableExecuteCommand": False,
}


def container(**changes):
    c = copy.deepcopy(CONTAINER)
    for k, v in changes.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def mnp(num=4, main=0, ranges=None):
    return {"numNodes": num, "mainNode": main, "nodeRangeProperties": ranges if ranges is not None else [
        {"targetNodes": "0:0", "container": container()},
        {"targetNodes": "1:", "container": container(command=["worker"])}]}


class JobDefinitions(ServerTestCase):

    def reg(self, name, **kw):
        kw.setdefault("type", "container")
        if kw["type"] == "container":
            kw.setdefault("containerProperties", container())
        return self.batch.register_job_definition(jobDefinitionName=name, **kw)

    def describe(self, **kw):
        return self.batch.describe_job_definitions(**kw)["jobDefinitions"]

    def one(self, ref):
        got = self.describe(jobDefinitions=[ref])
        self.assertEqual(len(got), 1, got)
        return got[0]

    def refused(self, *fragments, **kw):
        """Registers kw, expects a ClientException naming every fragment."""
        name = kw.pop("jobDefinitionName", "refused")
        kw.setdefault("type", "container")
        return self.assertClientError(self.batch.register_job_definition, *fragments,
                                      jobDefinitionName=name, **kw)

    # Registering and describing --------------------------------------------------------------

    def test_register_answers_name_arn_revision_and_describe_fills_defaults(self):
        out = self.reg("basic")
        self.assertEqual(out["jobDefinitionName"], "basic")
        self.assertEqual(out["revision"], 1)
        self.assertEqual(out["jobDefinitionArn"], arn("job-definition", "basic:1"))
        jd = self.one("basic:1")
        self.assertEqual(jd["jobDefinitionName"], "basic")
        self.assertEqual(jd["jobDefinitionArn"], arn("job-definition", "basic:1"))
        self.assertEqual(jd["revision"], 1)
        self.assertEqual(jd["status"], "ACTIVE")
        self.assertEqual(jd["type"], "container")
        self.assertEqual(jd["parameters"], {})
        self.assertEqual(jd["tags"], {})
        self.assertIs(jd["propagateTags"], False)
        # Not given, not described (EC2 is meant), as AWS's; Terraform compares the two.
        self.assertNotIn("platformCapabilities", jd)
        self.assertEqual(jd["containerOrchestrationType"], "ECS")
        cp = jd["containerProperties"]
        self.assertEqual(cp["image"], "busybox")
        self.assertEqual(cp["command"], ["sleep", "1"])
        self.assertEqual(cp["resourceRequirements"], CONTAINER["resourceRequirements"])
        for empty in ("volumes", "environment", "mountPoints", "ulimits", "secrets"):
            self.assertEqual(cp[empty], [], empty)
        self.assertNotIn("vcpus", cp)
        self.assertNotIn("retryStrategy", jd)
        self.assertNotIn("timeout", jd)
        self.assertNotIn("nodeProperties", jd)

    def test_every_container_property_and_option_is_kept(self):
        self.reg("full", containerProperties=FULL_CONTAINER, parameters={"greeting": "hi"},
                 retryStrategy={"attempts": 3, "evaluateOnExit": [
                     {"onExitCode": "137", "action": "retry"},
                     {"onStatusReason": "Host EC2*", "action": "Retry"},
                     {"onReason": "OutOfMemoryError: Container killed*", "action": "exit"},
                     {"onExitCode": "1*", "onReason": "*", "action": "EXIT"}]},
                 timeout={"attemptDurationSeconds": 600}, tags={"team": "genomics"},
                 propagateTags=True, schedulingPriority=42, platformCapabilities=["EC2"])
        jd = self.one("full")
        cp = jd["containerProperties"]
        for key, value in FULL_CONTAINER.items():
            self.assertEqual(cp[key], value, key)
        self.assertEqual(jd["parameters"], {"greeting": "hi"})
        self.assertEqual(jd["timeout"], {"attemptDurationSeconds": 600})
        self.assertEqual(jd["tags"], {"team": "genomics"})
        self.assertIs(jd["propagateTags"], True)
        self.assertEqual(jd["schedulingPriority"], 42)
        rs = jd["retryStrategy"]
        self.assertEqual(rs["attempts"], 3)
        # The action is accepted in any case and described as given, as AWS describes it
        # (Terraform sends it in lower case and compares what it reads back).
        self.assertEqual([r["action"] for r in rs["evaluateOnExit"]],
                         ["retry", "Retry", "exit", "EXIT"])
        self.assertEqual(rs["evaluateOnExit"][1]["onStatusReason"], "Host EC2*")
        self.assertEqual(rs["evaluateOnExit"][3]["onExitCode"], "1*")

    def test_legacy_vcpus_and_memory_are_kept_as_given(self):
        self.reg("legacy", containerProperties={"image": "busybox", "vcpus": 2, "memory": 512})
        cp = self.one("legacy:1")["containerProperties"]
        self.assertEqual((cp["vcpus"], cp["memory"]), (2, 512))
        self.assertEqual(cp["resourceRequirements"], [])
        # Both forms together are accepted when they agree...
        self.reg("legacy", containerProperties=container(vcpus=1, memory=128))
        # ...and refused when they contradict each other.
        self.refused("containerProperties.vcpus", "contradicts",
                     containerProperties=container(vcpus=4))
        self.refused("containerProperties.memory", "contradicts",
                     containerProperties=container(memory=4096))
        # One form may give the vCPUs and the other the memory.
        self.reg("legacy", containerProperties={
            "image": "busybox", "vcpus": 1,
            "resourceRequirements": [{"type": "MEMORY", "value": "64"}]})
        self.assertEqual(self.reg("legacy")["revision"], 4)

    def test_fargate_definition(self):
        props = {"image": "busybox", "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
                 "resourceRequirements": [{"type": "VCPU", "value": "0.25"},
                                          {"type": "MEMORY", "value": "512"}]}
        self.reg("farg", platformCapabilities=["FARGATE"], containerProperties=props)
        jd = self.one("farg:1")
        self.assertEqual(jd["platformCapabilities"], ["FARGATE"])
        cp = jd["containerProperties"]
        self.assertEqual(cp["resourceRequirements"], props["resourceRequirements"])
        # AWS fills in the platform version, not the network configuration.
        self.assertNotIn("networkConfiguration", cp)
        self.assertEqual(cp["fargatePlatformConfiguration"], {"platformVersion": "LATEST"})
        # Given Fargate settings are kept.
        self.reg("farg", platformCapabilities=["FARGATE"], containerProperties=dict(
            props, networkConfiguration={"assignPublicIp": "ENABLED"},
            fargatePlatformConfiguration={"platformVersion": "1.4.0"},
            resourceRequirements=[{"type": "VCPU", "value": "16"},
                                  {"type": "MEMORY", "value": "122880"}]))
        cp = self.one("farg:2")["containerProperties"]
        self.assertEqual(cp["networkConfiguration"], {"assignPublicIp": "ENABLED"})
        self.assertEqual(cp["fargatePlatformConfiguration"], {"platformVersion": "1.4.0"})

        def farg(*fragments, **changes):
            p = copy.deepcopy(props)
            p.update(changes)
            self.refused(*fragments, platformCapabilities=["FARGATE"], containerProperties=p)

        farg("containerProperties.vcpus", "Fargate", vcpus=1)
        farg("containerProperties.memory", "Fargate", memory=512)
        farg("(0.25 vCPU, 4096 MiB)", "512, 1024 or 2048", resourceRequirements=[
            {"type": "VCPU", "value": "0.25"}, {"type": "MEMORY", "value": "4096"}])
        farg("(1 vCPU, 4000 MiB)", "2048 to 8192", resourceRequirements=[
            {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "4000"}])
        farg("resourceRequirements[0].value", "0.3", "Fargate vCPU", resourceRequirements=[
            {"type": "VCPU", "value": "0.3"}, {"type": "MEMORY", "value": "1024"}])
        farg("resourceRequirements[2]", "GPU", resourceRequirements=[
            {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"},
            {"type": "GPU", "value": "1"}])
        farg("containerProperties.volumes[0].host", volumes=[{"name": "v", "host": {"sourcePath": "/x"}}])
        farg("containerProperties.ulimits", ulimits=[{"name": "nofile", "softLimit": 1, "hardLimit": 1}])
        farg("containerProperties.privileged", "Fargate", privileged=True)
        farg("containerProperties.logConfiguration.logDriver", "awslogs",
             logConfiguration={"logDriver": "json-file"})
        farg("containerProperties.linuxParameters.sharedMemorySize",
             linuxParameters={"sharedMemorySize": 64})
        farg("containerProperties.resourceRequirements", "vCPU is not provided",
             resourceRequirements=[{"type": "MEMORY", "value": "512"}])

    # Revisions --------------------------------------------------------------------------------

    def test_revisions_count_up_and_survive_deregister_and_restart(self):
        self.assertEqual([self.reg("revs")["revision"] for _ in range(3)], [1, 2, 3])
        self.batch.deregister_job_definition(jobDefinition="revs:3")
        self.assertEqual(self.one("revs:3")["status"], "INACTIVE")
        # A deregistered revision's number is never given out again.
        self.assertEqual(self.reg("revs")["revision"], 4)
        self.batch.deregister_job_definition(jobDefinition="revs:4")
        self.server.restart()
        self.__class__.batch = self.server.client()
        self.assertEqual(self.reg("revs")["revision"], 5)
        got = self.describe(jobDefinitionName="revs")
        self.assertEqual([(d["revision"], d["status"]) for d in got],
                         [(1, "ACTIVE"), (2, "ACTIVE"), (3, "INACTIVE"), (4, "INACTIVE"),
                          (5, "ACTIVE")])
        self.assertEqual(got[0]["containerProperties"]["image"], "busybox")
        # Another name counts on its own.
        self.assertEqual(self.reg("revs-other")["revision"], 1)

    def test_failed_registration_changes_nothing(self):
        self.refused("containerProperties.image", jobDefinitionName="nochange",
                     containerProperties=container(image=None))
        self.assertEqual(self.describe(jobDefinitionName="nochange"), [])
        self.assertEqual(self.reg("nochange")["revision"], 1)
        self.refused("schedulingPriority", jobDefinitionName="nochange", schedulingPriority=-1,
                     containerProperties=container())
        self.assertEqual(self.reg("nochange")["revision"], 2)

    # Describing --------------------------------------------------------------------------------

    def test_describe_by_name_revision_arn_and_bare_name(self):
        for _ in range(3):
            self.reg("pick")
        self.reg("pick-b")
        self.batch.deregister_job_definition(jobDefinition="pick:2")
        revs = lambda got: [(d["jobDefinitionName"], d["revision"]) for d in got]
        self.assertEqual(revs(self.describe(jobDefinitions=["pick:2"])), [("pick", 2)])
        self.assertEqual(revs(self.describe(jobDefinitions=[arn("job-definition", "pick:3")])),
                         [("pick", 3)])
        # An ARN from another region or account names the same definition.
        self.assertEqual(revs(self.describe(
            jobDefinitions=["arn:aws:batch:eu-west-1:111122223333:job-definition/pick:1"])),
            [("pick", 1)])
        # A bare name means every revision of that name, active or not.
        self.assertEqual(revs(self.describe(jobDefinitions=["pick"])),
                         [("pick", 1), ("pick", 2), ("pick", 3)])
        # Several entries, overlapping: each definition once, in name and revision order.
        self.assertEqual(revs(self.describe(jobDefinitions=["pick-b:1", "pick:3", "pick",
                                                            arn("job-definition", "pick:1")])),
                         [("pick", 1), ("pick", 2), ("pick", 3), ("pick-b", 1)])
        # Unknown definitions are simply absent.
        self.assertEqual(self.describe(jobDefinitions=["pick:9", "nosuch", "nosuch:1"]), [])
        # Filters.
        self.assertEqual(revs(self.describe(jobDefinitionName="pick")),
                         [("pick", 1), ("pick", 2), ("pick", 3)])
        self.assertEqual(revs(self.describe(jobDefinitionName="pick", status="ACTIVE")),
                         [("pick", 1), ("pick", 3)])
        self.assertEqual(revs(self.describe(jobDefinitionName="pick", status="INACTIVE")),
                         [("pick", 2)])
        self.assertEqual(revs(self.describe(jobDefinitions=["pick"], status="INACTIVE")),
                         [("pick", 2)])
        self.assertEqual(self.describe(jobDefinitionName="nosuch"), [])
        everything = revs(self.describe())
        self.assertIn(("pick", 2), everything)
        self.assertIn(("pick-b", 1), everything)
        inactive = self.describe(status="INACTIVE")
        self.assertTrue(inactive)
        self.assertTrue(all(d["status"] == "INACTIVE" for d in inactive))
        self.assertIn(("pick", 2), revs(inactive))
        self.assertNotIn(("pick", 1), revs(inactive))
        active = revs(self.describe(status="ACTIVE"))
        self.assertIn(("pick", 1), active)
        self.assertNotIn(("pick", 2), active)

    def test_describe_refuses_bad_arguments(self):
        d = self.batch.describe_job_definitions
        # assertClientError takes status= itself (the HTTP status), hence the lambda.
        self.assertClientError(lambda: d(status="active"), "status", "ACTIVE, INACTIVE")
        self.assertClientError(d, "jobDefinitionName", jobDefinitionName="bad name")
        self.assertClientError(d, "jobDefinitions[1]", "bad:x", jobDefinitions=["ok:1", "bad:x"])
        self.assertClientError(d, "jobDefinitions[0]", jobDefinitions=["pick:0"])
        self.assertClientError(d, "jobDefinitions[0]",
                               jobDefinitions=["arn:aws:batch:us-east-1:123456789012:job-queue/q"])
        self.assertClientError(d, "jobDefinitions", "at most 100",
                               jobDefinitions=["x:%d" % i for i in range(1, 102)])
        self.assertClientError(d, "jobDefinitions", "jobDefinitionName",
                               jobDefinitions=["x:1"], jobDefinitionName="x")
        self.assertClientError(d, "maxResults", maxResults=0)
        self.assertClientError(d, "maxResults", maxResults=101)
        self.assertClientError(d, "nextToken", nextToken="not-a-token")

    def test_paging_by_name_and_over_everything(self):
        for _ in range(7):
            self.reg("paged")
        self.batch.deregister_job_definition(jobDefinition="paged:4")
        seen, token, pages = [], None, 0
        while True:
            kw = {"jobDefinitionName": "paged", "maxResults": 3}
            if token:
                kw["nextToken"] = token
            out = self.batch.describe_job_definitions(**kw)
            pages += 1
            self.assertLessEqual(len(out["jobDefinitions"]), 3)
            seen += [d["revision"] for d in out["jobDefinitions"]]
            token = out.get("nextToken")
            if not token:
                break
        self.assertEqual(seen, [1, 2, 3, 4, 5, 6, 7])
        self.assertEqual(pages, 3)
        # Paging with the status filter pages over the filtered list.
        out = self.batch.describe_job_definitions(jobDefinitionName="paged", status="ACTIVE",
                                                  maxResults=3)
        self.assertEqual([d["revision"] for d in out["jobDefinitions"]], [1, 2, 3])
        out = self.batch.describe_job_definitions(jobDefinitionName="paged", status="ACTIVE",
                                                  maxResults=3, nextToken=out["nextToken"])
        self.assertEqual([d["revision"] for d in out["jobDefinitions"]], [5, 6, 7])
        self.assertNotIn("nextToken", out)
        # A page that ends exactly at the end gives no token.
        out = self.batch.describe_job_definitions(jobDefinitionName="paged", maxResults=7)
        self.assertEqual(len(out["jobDefinitions"]), 7)
        self.assertNotIn("nextToken", out)
        # The token resumes after the last key even if the list changed in between.
        first = self.batch.describe_job_definitions(jobDefinitionName="paged", maxResults=2)
        self.reg("paged")
        rest = self.batch.describe_job_definitions(jobDefinitionName="paged",
                                                   nextToken=first["nextToken"])
        self.assertEqual([d["revision"] for d in rest["jobDefinitions"]], [3, 4, 5, 6, 7, 8])
        # boto3's paginator over every definition: in order, each once.
        keys = []
        for page in self.batch.get_paginator("describe_job_definitions").paginate(
                PaginationConfig={"PageSize": 4}):
            keys += [(d["jobDefinitionName"], d["revision"]) for d in page["jobDefinitions"]]
        self.assertEqual(len(keys), len(set(keys)))
        self.assertEqual(keys, sorted(keys))
        self.assertEqual([r for n, r in keys if n == "paged"], list(range(1, 9)))

    # Deregistering ------------------------------------------------------------------------------

    def test_deregister_by_name_revision_and_arn(self):
        self.reg("dereg")
        self.reg("dereg")
        self.assertEqual(self.batch.deregister_job_definition(jobDefinition="dereg:1")
                         ["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.batch.deregister_job_definition(jobDefinition=arn("job-definition", "dereg:2"))
        self.assertEqual([d["status"] for d in self.describe(jobDefinitionName="dereg")],
                         ["INACTIVE", "INACTIVE"])
        # Deregistering again is harmless.
        self.batch.deregister_job_definition(jobDefinition="dereg:1")
        self.assertEqual(self.one("dereg:1")["status"], "INACTIVE")
        dr = self.batch.deregister_job_definition
        self.assertClientError(dr, "jobDefinition", "dereg:3", jobDefinition="dereg:3")
        self.assertClientError(dr, "jobDefinition", "nosuch:1", jobDefinition="nosuch:1")
        self.assertClientError(dr, "jobDefinition", "revision", jobDefinition="dereg")
        self.assertClientError(dr, "jobDefinition", jobDefinition="dereg:zero")
        self.assertClientError(dr, "jobDefinition",
                               jobDefinition="arn:aws:batch:us-east-1:123456789012:job-queue/x:1")

    # The AWS CLI ----------------------------------------------------------------------------------

    def test_every_operation_through_the_aws_cli(self):
        aws = self.server.aws
        doc = {"jobDefinitionName": "cli", "type": "container", "containerProperties": CONTAINER,
               "retryStrategy": {"attempts": 2}, "parameters": {"a": "b"},
               "tags": {"k": "v"}}
        out = aws("batch", "register-job-definition", "--cli-input-json", json.dumps(doc))
        self.assertEqual(out["revision"], 1)
        self.assertEqual(out["jobDefinitionArn"], arn("job-definition", "cli:1"))
        out = aws("batch", "register-job-definition", "--job-definition-name", "cli",
                  "--type", "container", "--container-properties", json.dumps(CONTAINER))
        self.assertEqual(out["revision"], 2)
        got = aws("batch", "describe-job-definitions", "--job-definitions", "cli:1")
        self.assertEqual(len(got["jobDefinitions"]), 1)
        jd = got["jobDefinitions"][0]
        self.assertEqual(jd["retryStrategy"], {"attempts": 2})
        self.assertEqual(jd["parameters"], {"a": "b"})
        self.assertEqual(jd["tags"], {"k": "v"})
        self.assertEqual(jd["containerProperties"]["image"], "busybox")
        aws("batch", "deregister-job-definition", "--job-definition", "cli:1")
        got = aws("batch", "describe-job-definitions", "--job-definition-name", "cli",
                  "--status", "INACTIVE")
        self.assertEqual([d["revision"] for d in got["jobDefinitions"]], [1])
        # The CLI follows nextToken by itself; a page size of 1 makes it take every page.
        got = aws("batch", "describe-job-definitions", "--job-definition-name", "cli",
                  "--page-size", "1")
        self.assertEqual([(d["revision"], d["status"]) for d in got["jobDefinitions"]],
                         [(1, "INACTIVE"), (2, "ACTIVE")])
        got = aws("batch", "describe-job-definitions", "--job-definitions",
                  arn("job-definition", "cli:2"))
        self.assertEqual([d["revision"] for d in got["jobDefinitions"]], [2])
        # Errors reach the CLI's user with the field named.
        bad = dict(doc, containerProperties=container(environment=[{"name": "AWS_BATCH_X",
                                                                     "value": "1"}]))
        rc, _, err = aws("batch", "register-job-definition", "--cli-input-json", json.dumps(bad),
                         check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("ClientException", err)
        self.assertIn("containerProperties.environment[0].name", err)
        rc, _, err = aws("batch", "deregister-job-definition", "--job-definition", "cli:9",
                         check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("cli:9", err)

    # Validation --------------------------------------------------------------------------------

    def test_names_types_and_top_level_members(self):
        self.refused("jobDefinitionName", jobDefinitionName="bad name", containerProperties=CONTAINER)
        self.refused("jobDefinitionName", jobDefinitionName="x" * 129, containerProperties=CONTAINER)
        self.assertEqual(self.reg("n" * 128)["revision"], 1)
        self.refused("type", "container, multinode", type="batch", containerProperties=CONTAINER)
        self.refused("containerProperties", "required")
        self.refused("nodeProperties", "multinode", containerProperties=CONTAINER,
                     nodeProperties=mnp())
        self.refused("ecsProperties", "containerProperties",
                     ecsProperties={"taskProperties": [{"containers": [{"image": "busybox"}]}]})
        self.refused("eksProperties", "EKS",
                     eksProperties={"podProperties": {"containers": [{"image": "busybox"}]}})
        self.refused("consumableResourceProperties", containerProperties=CONTAINER,
                     consumableResourceProperties={"consumableResourceList": []})
        self.refused("platformCapabilities", "EC2, FARGATE", containerProperties=CONTAINER,
                     platformCapabilities=["GPU"])
        self.refused("platformCapabilities", "one of", containerProperties=CONTAINER,
                     platformCapabilities=["EC2", "FARGATE"])
        self.refused("schedulingPriority", "9999", containerProperties=CONTAINER,
                     schedulingPriority=10000)
        self.refused("schedulingPriority", containerProperties=CONTAINER, schedulingPriority=-1)
        self.reg("prio", schedulingPriority=0)
        self.reg("prio", schedulingPriority=9999)
        self.refused("tags", "aws:", containerProperties=CONTAINER, tags={"aws:x": "y"})
        self.refused("tags", "50", containerProperties=CONTAINER,
                     tags={"k%d" % i: "v" for i in range(51)})

    def test_type_errors_name_the_member(self):
        # The CLI and boto3 check types themselves, so these go over the wire directly.
        def raw(body, *fragments):
            status, headers, out = self.server.raw("POST", "/v1/registerjobdefinition", body)
            self.assertEqual(status, 400, out)
            self.assertEqual(headers.get("x-amzn-ErrorType"), "ClientException")
            for f in fragments:
                self.assertIn(f, out["message"])

        base = {"jobDefinitionName": "typed", "type": "container"}
        raw(dict(base, containerProperties=container(vcpus="2")), "containerProperties.vcpus",
            "integer")
        raw(dict(base, containerProperties=CONTAINER, parameters={"a": 1}), "parameters.a",
            "string")
        raw(dict(base, containerProperties=container(resourceRequirements=[
            {"type": "CPU", "value": "1"}])), "containerProperties.resourceRequirements[0].type")
        raw(dict(base, containerProperties=container(resourceRequirements=[
            {"type": "VCPU", "value": 1}])), "containerProperties.resourceRequirements[0].value")
        raw(dict(base, containerProperties=CONTAINER, retryStrategy={"evaluateOnExit": [
            {}, {"onExitCode": "1"}]}), "retryStrategy.evaluateOnExit[1].action", "required")
        raw(dict(base, containerProperties=container(ulimits=[{"name": "nofile"}])),
            "containerProperties.ulimits[0].hardLimit")
        raw(dict(base, containerProperties=CONTAINER, timeout={"attemptDurationSeconds": "60"}),
            "timeout.attemptDurationSeconds")
        raw(dict(base, containerProperties=container(repositoryCredentials={})),
            "containerProperties.repositoryCredentials.credentialsParameter", "required")
        raw(dict(base, containerProperties=container(secrets=[{"name": "x"}])),
            "containerProperties.secrets[0].valueFrom", "required")
        raw({"type": "container", "containerProperties": CONTAINER}, "jobDefinitionName",
            "required")
        raw(dict(base, type="multinode", nodeProperties={"numNodes": 2}),
            "nodeProperties.mainNode", "required")

    def test_container_resources(self):
        def bad(*fragments, **changes):
            self.refused(*fragments, containerProperties=container(**changes))

        bad("containerProperties.image", "required", image=None)
        bad("containerProperties.image", "not an image reference", "lowercase letters",
            image="bad image")
        bad("containerProperties.image", "255", image="a" * 256)
        # References are read as Docker reads them: what no registry serves is refused now.
        bad("containerProperties.image", "repository names must be lowercase", image="MyApp")
        bad("containerProperties.image", "tag may hold only", image="repo/x:1.2_3#4")
        bad("containerProperties.image", "tag after ':' is empty", image="busybox:")
        bad("containerProperties.image", "64 hexadecimal", image="busybox@sha256:" + "a" * 63)
        bad("containerProperties.image", "port must be digits", image="reg.example.com:x/app")
        self.reg("images", containerProperties=container(
            image="123456789012.dkr.ecr.us-east-1.amazonaws.com/repo/x:1.2_3"))
        self.reg("images", containerProperties=container(image="busybox@sha256:" + "a" * 64))
        self.reg("images", containerProperties=container(image="127.0.0.1:5000/team/app:2.3"))
        self.reg("images", containerProperties=container(image="[::1]:5000/app@sha256:" + "b" * 64))
        bad("containerProperties.resourceRequirements", "vCPU is not provided",
            resourceRequirements=[{"type": "MEMORY", "value": "128"}])
        bad("containerProperties.resourceRequirements", "memory is not provided",
            resourceRequirements=[{"type": "VCPU", "value": "1"}])
        bad("containerProperties.resourceRequirements", "vCPU is not provided",
            resourceRequirements=None)
        bad("resourceRequirements[0].value", "'1.0'", "whole number",
            resourceRequirements=[{"type": "VCPU", "value": "1.0"}, {"type": "MEMORY", "value": "8"}])
        bad("resourceRequirements[0].value", "at least 1",
            resourceRequirements=[{"type": "VCPU", "value": "0"}, {"type": "MEMORY", "value": "8"}])
        bad("resourceRequirements[1].value", "at least 4",
            resourceRequirements=[{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "3"}])
        bad("resourceRequirements[1].value", "MEMORY",
            resourceRequirements=[{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2g"}])
        bad("resourceRequirements[2].value", "GPU",
            resourceRequirements=[{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "8"},
                                  {"type": "GPU", "value": "one"}])
        bad("resourceRequirements[1].type", "more than once",
            resourceRequirements=[{"type": "VCPU", "value": "1"}, {"type": "VCPU", "value": "2"},
                                  {"type": "MEMORY", "value": "8"}])
        bad("containerProperties.vcpus", "at least 1", resourceRequirements=None, vcpus=0, memory=8)
        bad("containerProperties.memory", "at least 4", resourceRequirements=None, vcpus=1, memory=3)
        bad("containerProperties.resourceRequirements", "memory is not provided",
            resourceRequirements=None, vcpus=1)
        self.reg("minimal", containerProperties={"image": "busybox", "resourceRequirements": [
            {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "4"}]})

    def test_container_details(self):
        def bad(*fragments, **changes):
            self.refused(*fragments, containerProperties=container(**changes))

        bad("containerProperties.environment[1].name", "AWS_BATCH",
            environment=[{"name": "OK", "value": "1"}, {"name": "AWS_BATCH_JOB_ID", "value": "x"}])
        bad("containerProperties.environment[0].name", "AWS_BATCH",
            environment=[{"name": "AWS_BATCH", "value": "x"}])
        bad("containerProperties.environment[0].name", "'PATH=/bin' holds '='",
            environment=[{"name": "PATH=/bin", "value": "x"}])
        bad("containerProperties.environment[0].name", "needs a name", environment=[{"value": "x"}])
        self.reg("envok", containerProperties=container(
            environment=[{"name": "MY_AWS_BATCH", "value": "1"}, {"name": "aws_batch_lower"}]))
        bad("containerProperties.mountPoints[0].sourceVolume", "'nope'",
            volumes=[{"name": "data"}],
            mountPoints=[{"sourceVolume": "nope", "containerPath": "/d"}])
        bad("containerProperties.mountPoints[0].containerPath",
            volumes=[{"name": "data"}], mountPoints=[{"sourceVolume": "data"}])
        bad("containerProperties.volumes[1].name", "unique",
            volumes=[{"name": "data"}, {"name": "data"}])
        bad("containerProperties.volumes[0].name", "bad/name", volumes=[{"name": "bad/name"}])
        bad("containerProperties.ulimits[0].name", "'files'",
            ulimits=[{"name": "files", "softLimit": 1, "hardLimit": 1}])
        bad("containerProperties.ulimits[0].softLimit", "hardLimit",
            ulimits=[{"name": "nofile", "softLimit": 10, "hardLimit": 1}])
        # -1 is unlimited (AWS Batch's EFA example), so above every other hard limit; nothing
        # below it is a limit.
        bad("containerProperties.ulimits[0].softLimit", "(-1 is unlimited)",
            ulimits=[{"name": "memlock", "softLimit": -1, "hardLimit": 65536}])
        bad("containerProperties.ulimits[0].hardLimit",
            ulimits=[{"name": "memlock", "softLimit": -1, "hardLimit": -2}])
        bad("containerProperties.linuxParameters.swappiness", "0 and 100",
            linuxParameters={"maxSwap": 10, "swappiness": 101})
        bad("containerProperties.linuxParameters.maxSwap", linuxParameters={"maxSwap": -1})
        bad("containerProperties.linuxParameters.tmpfs[0].size",
            linuxParameters={"tmpfs": [{"containerPath": "/t", "size": 0}]})
        bad("containerProperties.linuxParameters.devices[0].permissions[0]", "READ, WRITE, MKNOD",
            linuxParameters={"devices": [{"hostPath": "/dev/x", "permissions": ["ALL"]}]})
        bad("containerProperties.logConfiguration.logDriver", "awslogs",
            logConfiguration={"logDriver": "stdout"})
        bad("containerProperties.instanceType", "multi-node", instanceType="m5.large")
        bad("containerProperties.networkConfiguration", "Fargate",
            networkConfiguration={"assignPublicIp": "ENABLED"})
        bad("containerProperties.fargatePlatformConfiguration", "Fargate",
            fargatePlatformConfiguration={"platformVersion": "LATEST"})
        bad("containerProperties.ephemeralStorage.sizeInGiB", "21 and 200",
            ephemeralStorage={"sizeInGiB": 20})
        bad("containerProperties.runtimePlatform.cpuArchitecture", "X86_64 or ARM64",
            runtimePlatform={"cpuArchitecture": "RISCV"})
        bad("containerProperties.runtimePlatform.operatingSystemFamily", "LINUX",
            runtimePlatform={"operatingSystemFamily": "BSD"})

    def test_retry_strategy(self):
        def bad(retry, *fragments):
            self.refused(*fragments, containerProperties=CONTAINER, retryStrategy=retry)

        bad({"attempts": 0}, "retryStrategy.attempts", "1 and 10")
        bad({"attempts": 11}, "retryStrategy.attempts", "1 and 10")
        bad({"evaluateOnExit": [{"action": "EXIT", "onExitCode": "1"}] * 6},
            "retryStrategy.evaluateOnExit", "at most 5")
        bad({"evaluateOnExit": [{"action": "MAYBE"}]}, "retryStrategy.evaluateOnExit[0].action",
            "RETRY or EXIT")
        bad({"evaluateOnExit": [{"action": "EXIT", "onExitCode": "1a"}]},
            "retryStrategy.evaluateOnExit[0].onExitCode", "digits")
        bad({"evaluateOnExit": [{"action": "EXIT", "onExitCode": "-1"}]},
            "retryStrategy.evaluateOnExit[0].onExitCode", "digits")
        bad({"evaluateOnExit": [{"action": "EXIT", "onExitCode": "*1"}]},
            "retryStrategy.evaluateOnExit[0].onExitCode", "'*'")
        bad({"evaluateOnExit": [{"action": "EXIT", "onExitCode": "1" * 513}]},
            "retryStrategy.evaluateOnExit[0].onExitCode", "512")
        bad({"evaluateOnExit": [{"action": "EXIT", "onExitCode": ""}]},
            "retryStrategy.evaluateOnExit[0].onExitCode", "empty")
        bad({"evaluateOnExit": [{"action": "RETRY", "onExitCode": "1"},
                                {"action": "RETRY", "onStatusReason": "Host EC2 (i-123)*"}]},
            "retryStrategy.evaluateOnExit[1].onStatusReason", "'('")
        bad({"evaluateOnExit": [{"action": "EXIT", "onReason": "Out-of-memory"}]},
            "retryStrategy.evaluateOnExit[0].onReason", "'-'")
        bad({"evaluateOnExit": [{"action": "EXIT", "onReason": "a*b"}]},
            "retryStrategy.evaluateOnExit[0].onReason", "'*'")
        bad({"evaluateOnExit": [{"action": "EXIT", "onReason": "x" * 513}]},
            "retryStrategy.evaluateOnExit[0].onReason", "512")
        self.reg("retries", retryStrategy={"attempts": 10, "evaluateOnExit": [
            {"action": "eXiT", "onExitCode": "1" * 511 + "*"},
            {"action": "retry", "onReason": "Task failed: retry.\tnow*"},
            {"action": "EXIT", "onStatusReason": "*"},
            {"action": "RETRY", "onExitCode": "*"},
            {"action": "EXIT"}]})
        self.assertEqual([r["action"] for r in self.one("retries:1")["retryStrategy"]
                          ["evaluateOnExit"]], ["eXiT", "retry", "EXIT", "RETRY", "EXIT"])

    def test_empty_retry_rules_are_dropped(self):
        # Cromwell retries with evaluateOnExit [{}] (its default when no rules are given, sent by
        # the Java SDK, which does not check required members): a rule with nothing in it is
        # dropped, leaving plain retries up to attempts.  boto3 checks the member itself.
        body = {"jobDefinitionName": "cromwell_retries", "type": "container",
                "containerProperties": CONTAINER,
                "retryStrategy": {"attempts": 2, "evaluateOnExit": [{}]}}
        status, _, out = self.server.raw("POST", "/v1/registerjobdefinition", body)
        self.assertEqual(status, 200, out)
        self.assertEqual(self.one("cromwell_retries:1")["retryStrategy"],
                         {"attempts": 2, "evaluateOnExit": []})
        body["retryStrategy"]["evaluateOnExit"] = [{}, {"action": "EXIT", "onExitCode": "3"}, {}]
        status, _, out = self.server.raw("POST", "/v1/registerjobdefinition", body)
        self.assertEqual(status, 200, out)
        self.assertEqual(self.one("cromwell_retries:2")["retryStrategy"]["evaluateOnExit"],
                         [{"action": "EXIT", "onExitCode": "3"}])

    def test_timeout_minimum_is_one_second_in_dev_mode(self):
        self.refused("timeout.attemptDurationSeconds", "at least 1 second (got 0)",
                     containerProperties=CONTAINER, timeout={"attemptDurationSeconds": 0})
        self.reg("short", timeout={"attemptDurationSeconds": 1})
        self.assertEqual(self.one("short:1")["timeout"], {"attemptDurationSeconds": 1})

    def test_multinode_definitions(self):
        out = self.batch.register_job_definition(jobDefinitionName="mnp", type="multinode",
                                                 nodeProperties=mnp(), retryStrategy={"attempts": 2})
        self.assertEqual(out["revision"], 1)
        jd = self.one("mnp:1")
        self.assertEqual(jd["type"], "multinode")
        self.assertNotIn("containerProperties", jd)
        np = jd["nodeProperties"]
        self.assertEqual((np["numNodes"], np["mainNode"]), (4, 0))
        self.assertEqual([r["targetNodes"] for r in np["nodeRangeProperties"]], ["0:0", "1:"])
        self.assertEqual(np["nodeRangeProperties"][1]["container"]["command"], ["worker"])
        self.assertEqual(np["nodeRangeProperties"][1]["container"]["environment"], [])
        # Nested ranges: the inner one needs only what it overrides.
        ranges = [{"targetNodes": "0:3", "container": container(instanceType="m5.large")},
                  {"targetNodes": "2", "container": {"command": ["special"]},
                   "instanceTypes": ["m5.large"]}]
        self.batch.register_job_definition(jobDefinitionName="mnp", type="multinode",
                                           nodeProperties=mnp(ranges=ranges))
        self.assertEqual(self.one("mnp:2")["nodeProperties"]["nodeRangeProperties"][1]
                         ["targetNodes"], "2")

        def bad(np, *fragments, **kw):
            kw.setdefault("type", "multinode")
            self.refused(*fragments, nodeProperties=np, **kw)

        bad(mnp(), "platformCapabilities", "Fargate", platformCapabilities=["FARGATE"])
        bad(mnp(), "containerProperties", "nodeRangeProperties", containerProperties=CONTAINER)
        self.refused("nodeProperties", "required", type="multinode")
        bad(mnp(num=0), "nodeProperties.numNodes")
        bad(mnp(num=4, main=4), "nodeProperties.mainNode")
        bad(mnp(main=-1), "nodeProperties.mainNode")
        bad(mnp(ranges=[]), "nodeProperties.nodeRangeProperties", "at least one")
        for target in ("0:4", "3:1", "a:b", "1:2:3", "-1:2", " 1"):
            bad(mnp(ranges=[{"targetNodes": target, "container": container()}]),
                "nodeProperties.nodeRangeProperties[0].targetNodes", target)
        bad(mnp(ranges=[{"targetNodes": "0:1", "container": container()},
                        {"targetNodes": "3", "container": container()}]),
            "nodeProperties.nodeRangeProperties", "node 2", "cover")
        bad(mnp(ranges=[{"targetNodes": "0:1", "container": container()},
                        {"targetNodes": "2:", "container": container(image=None)}]),
            "node 2", "an image")
        bad(mnp(ranges=[{"targetNodes": ":", "container": container(resourceRequirements=[
            {"type": "VCPU", "value": "1"}])}]), "node 0", "memory")
        bad(mnp(ranges=[{"targetNodes": ":", "container": container()},
                        {"targetNodes": "1", "container": container(environment=[
                            {"name": "AWS_BATCH_JOB_NODE_INDEX", "value": "1"}])}]),
            "nodeProperties.nodeRangeProperties[1].container.environment[0].name", "AWS_BATCH")
        bad(mnp(ranges=[{"targetNodes": ":", "container": container(), "instanceTypes":
                         ["m5.large", "m5.xlarge"]}]),
            "nodeProperties.nodeRangeProperties[0].instanceTypes", "one")
        bad(mnp(ranges=[{"targetNodes": "0", "container": container(instanceType="m5.large")},
                        {"targetNodes": "1:", "container": container(instanceType="m5.xlarge")}]),
            "nodeProperties.nodeRangeProperties[1].container.instanceType", "same instance type")
        bad(mnp(num=6, ranges=[{"targetNodes": str(i), "container": container()}
                               for i in range(6)]),
            "nodeProperties.nodeRangeProperties", "at most 5")
        bad(mnp(num=10001, ranges=[{"targetNodes": ":", "container": container()}]),
            "nodeProperties.numNodes", "at most 10000")
        bad(mnp(ranges=[{"targetNodes": ":"}]),
            "nodeProperties.nodeRangeProperties[0].container", "required")
        bad(mnp(ranges=[{"targetNodes": ":", "container": container(),
                         "eksProperties": {"podProperties": {}}}]),
            "nodeProperties.nodeRangeProperties[0].eksProperties")

    # Size limit ----------------------------------------------------------------------------------

    def test_body_over_24_kib_is_refused(self):
        big = {"jobDefinitionName": "big", "type": "container", "containerProperties": CONTAINER,
               "parameters": {"p": "x" * (24 * 1024)}}
        status, headers, out = self.server.raw("POST", "/v1/registerjobdefinition", big)
        self.assertEqual(status, 400, out)
        self.assertEqual(headers.get("x-amzn-ErrorType"), "ClientException")
        self.assertEqual(out["__type"], "ClientException")
        # AWS's words first (miniwdl matches them), then the sizes.
        self.assertTrue(out["message"].startswith("JobDefinition size must be less than 24576 "
                                                  "bytes"), out["message"])
        self.assertEqual(self.describe(jobDefinitionName="big"), [])
        # Just under the limit is fine.
        big["parameters"]["p"] = "x" * (24 * 1024 - 400)
        self.assertLessEqual(len(json.dumps(big)), 24 * 1024)
        status, _, out = self.server.raw("POST", "/v1/registerjobdefinition", big)
        self.assertEqual(status, 200, out)
        self.assertEqual(out["revision"], 1)
        # Through boto3 as well.
        self.assertClientError(self.batch.register_job_definition,
                               "JobDefinition size must be less than", jobDefinitionName="big",
                               type="container", containerProperties=CONTAINER,
                               parameters={"p": "y" * (25 * 1024)})
        # The limit is RegisterJobDefinition's own: other operations take larger bodies.
        status, _, out = self.server.raw("POST", "/v1/describejobdefinitions",
                                         {"jobDefinitions": ["big:1"], "pad": "z" * 30000})
        self.assertEqual(status, 200, out)
        self.assertEqual(len(out["jobDefinitions"]), 1)


class JobDefinitionsWithoutDevMode(ServerTestCase):
    """Without --dev, requests are signed (boto3 and the CLI sign them) and AWS's 60-second
    minimum timeout applies."""

    server_args = ()

    def test_timeout_minimum_is_sixty_seconds(self):
        with self.assertRaises(Exception) as cm:
            self.batch.register_job_definition(jobDefinitionName="t", type="container",
                                               containerProperties=CONTAINER,
                                               timeout={"attemptDurationSeconds": 59})
        msg = cm.exception.response["Error"]["Message"]
        self.assertIn("timeout.attemptDurationSeconds", msg)
        self.assertIn("at least 60", msg)
        self.assertIn("--dev", msg)
        out = self.batch.register_job_definition(jobDefinitionName="t", type="container",
                                                 containerProperties=CONTAINER,
                                                 timeout={"attemptDurationSeconds": 60})
        self.assertEqual(out["revision"], 1)
        got = self.server.aws("batch", "describe-job-definitions", "--job-definitions", "t:1")
        self.assertEqual(got["jobDefinitions"][0]["timeout"], {"attemptDurationSeconds": 60})


if __name__ == "__main__":
    unittest.main()
