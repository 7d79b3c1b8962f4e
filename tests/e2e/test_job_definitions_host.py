"""The container members that reach into the instance a job runs on (src/server/api/jobdef_host.c):
privileged containers only with --allow-privileged, no EFS or S3 Files volumes, absolute paths
for host volumes, mount points, devices and tmpfs mounts, mount points that name a volume, and
users written as name, uid, name:group or uid:gid."""
import time
import unittest

from harness import ServerTestCase
from test_job_definitions import container, mnp

EFS = {"fileSystemId": "fs-1234", "rootDirectory": "/", "transitEncryption": "ENABLED",
       "transitEncryptionPort": 2049,
       "authorizationConfig": {"accessPointId": "fsap-1", "iam": "ENABLED"}}


class HostCase(ServerTestCase):

    def reg(self, name="host", **changes):
        return self.batch.register_job_definition(
            jobDefinitionName=name, type="container", containerProperties=container(**changes))

    def bad(self, *fragments, **changes):
        """Registers a container with changes; expects a ClientException naming every
        fragment; returns the message."""
        return self.assertClientError(self.batch.register_job_definition, *fragments,
                                      jobDefinitionName="refused", type="container",
                                      containerProperties=container(**changes))

    def props(self, ref):
        return self.batch.describe_job_definitions(
            jobDefinitions=[ref])["jobDefinitions"][0]["containerProperties"]


class HostMembers(HostCase):
    """A server started without --allow-privileged, as by default."""

    def test_privileged_is_refused_without_allow_privileged(self):
        msg = self.bad("containerProperties.privileged", "does not run privileged containers",
                       "--allow-privileged", privileged=True)
        self.assertIn("set it to false", msg)
        # A multi-node range's container is held to the same rule, under its own path.
        ranges = [{"targetNodes": "0", "container": container()},
                  {"targetNodes": "1:", "container": container(privileged=True)}]
        self.assertClientError(
            self.batch.register_job_definition,
            "nodeProperties.nodeRangeProperties[1].container.privileged", "--allow-privileged",
            jobDefinitionName="refused", type="multinode", nodeProperties=mnp(ranges=ranges))
        # Nothing was registered; false, or leaving it out, is fine.
        self.assertEqual(self.batch.describe_job_definitions(
            jobDefinitionName="refused")["jobDefinitions"], [])
        self.assertEqual(self.reg("unprivileged", privileged=False)["revision"], 1)
        self.assertIs(self.props("unprivileged:1")["privileged"], False)

    def test_efs_volumes_follow_aws_rules_and_s3_files_is_refused(self):
        # An EFS volume is kept as given (its file system is bound from where the instances
        # have it mounted: barge agent --efs-mounts), on Fargate too.
        vols = [{"name": "data", "host": {"sourcePath": "/srv/data"}},
                {"name": "efs", "efsVolumeConfiguration": EFS}]
        self.assertEqual(self.reg("efs", volumes=vols)["revision"], 1)
        self.assertEqual(self.props("efs:1")["volumes"], vols)
        self.assertEqual(self.batch.register_job_definition(
            jobDefinitionName="efs-fargate", type="container", platformCapabilities=["FARGATE"],
            containerProperties={
                "image": "busybox", "volumes": [{"name": "efs", "efsVolumeConfiguration": EFS}],
                "resourceRequirements": [{"type": "VCPU", "value": "0.25"},
                                         {"type": "MEMORY", "value": "512"}]})["revision"], 1)
        # AWS's rules: an access point is its own root, and it and IAM need transit encryption;
        # a volume is one kind or the other; no way out of the file system.
        field = "containerProperties.volumes[0]"
        for efs, fragments in (
                (dict(EFS, rootDirectory="/sub"), ("rootDirectory", "access point")),
                (dict(EFS, transitEncryption="DISABLED"), ("transitEncryption", "ENABLED")),
                ({"fileSystemId": "fs-1", "authorizationConfig": {"iam": "ENABLED"}},
                 ("transitEncryption",)),
                ({"fileSystemId": "fs-1", "rootDirectory": "/a/../../etc"}, ("'..'",))):
            self.bad(field + ".efsVolumeConfiguration", *fragments,
                     volumes=[{"name": "efs", "efsVolumeConfiguration": efs}])
        self.bad(field, "one of host and efsVolumeConfiguration",
                 volumes=[{"name": "both", "host": {"sourcePath": "/x"},
                           "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}])
        self.bad("containerProperties.volumes[0].s3filesVolumeConfiguration", "S3 Files",
                 "host.sourcePath", volumes=[{"name": "s3", "s3filesVolumeConfiguration": {
                     "fileSystemArn": "arn:aws:s3files:us-east-1:123456789012:file-system/x"}}])

    def test_host_volumes_and_mount_points_take_absolute_paths(self):
        self.bad("containerProperties.volumes[0].host.sourcePath", "'data'",
                 "not an absolute path", "starting with '/'",
                 volumes=[{"name": "data", "host": {"sourcePath": "data"}}])
        self.bad("containerProperties.volumes[1].host.sourcePath", "not an absolute path",
                 volumes=[{"name": "a", "host": {"sourcePath": "/a"}},
                          {"name": "b", "host": {"sourcePath": ""}}])
        self.bad("containerProperties.mountPoints[1].containerPath", "'work'",
                 "not an absolute path",
                 volumes=[{"name": "data"}],
                 mountPoints=[{"sourceVolume": "data", "containerPath": "/data"},
                              {"sourceVolume": "data", "containerPath": "work"}])
        msg = self.bad("containerProperties.mountPoints[2].sourceVolume", "'missing'",
                       "containerProperties.volumes",
                       volumes=[{"name": "data"}],
                       mountPoints=[{"sourceVolume": "data", "containerPath": "/a"},
                                    {"sourceVolume": "data", "containerPath": "/b"},
                                    {"sourceVolume": "missing", "containerPath": "/c"}])
        self.assertIn("add a volume of that name", msg)
        # Over the container's root or its /proc: runc failed every attempt with words about
        # descriptors (Docker refuses "/").
        for dest in ("/", "//", "/.", "/x/..", "/proc", "/proc/sys", "/./proc/"):
            self.bad("containerProperties.mountPoints[0].containerPath",
                     "would cover the container's root or its /proc",
                     volumes=[{"name": "data"}],
                     mountPoints=[{"sourceVolume": "data", "containerPath": dest}])
        # A volume without host, or with a host but no sourcePath, is an empty volume.
        vols = [{"name": "data", "host": {"sourcePath": "/srv/data"}}, {"name": "scratch"},
                {"name": "chosen", "host": {}}]
        mounts = [{"sourceVolume": "data", "containerPath": "/data/..x", "readOnly": True},
                  {"sourceVolume": "scratch", "containerPath": "/scratch"},
                  {"sourceVolume": "chosen", "containerPath": "/chosen"}]
        self.reg("volumes", volumes=vols, mountPoints=mounts)
        cp = self.props("volumes:1")
        self.assertEqual((cp["volumes"], cp["mountPoints"]), (vols, mounts))
        # So is it on Fargate, where host volumes are not available.
        self.batch.register_job_definition(
            jobDefinitionName="fargate-scratch", type="container",
            platformCapabilities=["FARGATE"], containerProperties={
                "image": "busybox", "volumes": [{"name": "scratch"}],
                "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/scratch"}],
                "resourceRequirements": [{"type": "VCPU", "value": "0.25"},
                                         {"type": "MEMORY", "value": "512"}]})

    def test_devices_and_tmpfs_take_absolute_paths(self):
        def lp(**members):
            return {"linuxParameters": members}

        self.bad("containerProperties.linuxParameters.devices[0].hostPath", "'dev/fuse'",
                 "not an absolute path", "/dev/fuse",
                 **lp(devices=[{"hostPath": "dev/fuse"}]))
        self.bad("containerProperties.linuxParameters.devices[1].containerPath", "'fuse'",
                 "not an absolute path",
                 **lp(devices=[{"hostPath": "/dev/null"},
                               {"hostPath": "/dev/fuse", "containerPath": "fuse"}]))
        self.bad("containerProperties.linuxParameters.devices[0].permissions[1]",
                 "READ, WRITE, MKNOD",
                 **lp(devices=[{"hostPath": "/dev/fuse", "permissions": ["READ", "EXECUTE"]}]))
        self.bad("containerProperties.linuxParameters.tmpfs[0].containerPath", "'tmp'",
                 "not an absolute path", **lp(tmpfs=[{"containerPath": "tmp", "size": 64}]))
        self.bad("containerProperties.linuxParameters.tmpfs[0].containerPath", "'/'",
                 "would cover", **lp(tmpfs=[{"containerPath": "/", "size": 64}]))
        # The rules that were there before stay.
        self.bad("containerProperties.linuxParameters.tmpfs[0].size", "at least 1 MiB",
                 **lp(tmpfs=[{"containerPath": "/tmp", "size": 0}]))
        self.bad("containerProperties.linuxParameters.sharedMemorySize", "at least 1 MiB",
                 **lp(sharedMemorySize=0))
        good = {"devices": [{"hostPath": "/dev/fuse"},
                            {"hostPath": "/dev/null", "containerPath": "/dev/nothing",
                             "permissions": ["READ", "WRITE", "MKNOD"]}],
                "tmpfs": [{"containerPath": "/run/scratch", "size": 16,
                           "mountOptions": ["rw", "noexec"]}],
                "sharedMemorySize": 64, "maxSwap": 0, "swappiness": 0}
        self.reg("linux", linuxParameters=good)
        self.assertEqual(self.props("linux:1")["linuxParameters"], good)

    def test_user_is_name_uid_name_group_or_uid_gid(self):
        for user in ("nobody", "1000", "nobody:nogroup", "1000:1000", "app:100", "0:wheel",
                     "svc.batch_user-2", "machine$", "0"):
            self.reg("users", user=user)
        got = [d["containerProperties"]["user"] for d in self.batch.describe_job_definitions(
            jobDefinitionName="users")["jobDefinitions"]]
        self.assertEqual(sorted(got), sorted(["nobody", "1000", "nobody:nogroup", "1000:1000",
                                              "app:100", "0:wheel", "svc.batch_user-2",
                                              "machine$", "0"]))
        self.bad("containerProperties.user", "must not be empty", "image's user", user="")
        for user in ("my user", "user\n", "a:b:c", ":1000", "1000:", "-rf", "root;id",
                     "4294967295", "1000:99999999999", "us$er", "\u00e9t\u00e9"):
            msg = self.bad("containerProperties.user", "name, uid, name:group or uid:gid",
                           user=user)
            self.assertIn("not a user", msg, user)

    def test_gpu_requirements_are_accepted(self):
        self.reg("gpu", resourceRequirements=[{"type": "VCPU", "value": "4"},
                                              {"type": "MEMORY", "value": "1024"},
                                              {"type": "GPU", "value": "2"}])
        self.assertIn({"type": "GPU", "value": "2"},
                      self.props("gpu:1")["resourceRequirements"])


class PrivilegedAllowed(HostCase):
    """A server started with --allow-privileged, then without it."""

    server_args = ("--dev", "--allow-privileged")

    def submit(self, definition, name="job"):
        return self.batch.submit_job(jobName=name, jobQueue="parked", jobDefinition=definition)

    def test_privileged_is_accepted_and_a_restart_without_the_option_refuses_it(self):
        # (Said once the server listens: a test may read the log before.)
        deadline = time.time() + 10
        while "privileged containers are allowed" not in self.server.read_log():
            self.assertLess(time.time(), deadline, "the warning about --allow-privileged")
            time.sleep(0.05)
        self.reg("priv", privileged=True)
        self.assertIs(self.props("priv:1")["privileged"], True)
        ranges = [{"targetNodes": "0", "container": container(privileged=True)},
                  {"targetNodes": "1:", "container": container()}]
        self.batch.register_job_definition(jobDefinitionName="priv-mnp", type="multinode",
                                           nodeProperties=mnp(ranges=ranges))
        # Fargate has no privileged containers, whatever the server allows.
        self.assertClientError(
            self.batch.register_job_definition, "containerProperties.privileged", "Fargate",
            jobDefinitionName="refused", type="container", platformCapabilities=["FARGATE"],
            containerProperties={"image": "busybox", "privileged": True,
                                 "resourceRequirements": [{"type": "VCPU", "value": "0.25"},
                                                          {"type": "MEMORY", "value": "512"}]})
        # A queue whose only compute environment is disabled keeps its jobs RUNNABLE.
        self.batch.create_compute_environment(
            computeEnvironmentName="off", type="MANAGED", state="DISABLED",
            computeResources={"type": "EC2", "minvCpus": 0, "maxvCpus": 4,
                              "subnets": ["subnet-1"]})
        self.batch.create_job_queue(jobQueueName="parked", priority=1, computeEnvironmentOrder=[
            {"order": 1, "computeEnvironment": "off"}])
        self.wait_status(lambda: self.batch.describe_job_queues(
            jobQueues=["parked"])["jobQueues"][0]["status"], "VALID")
        self.reg("plain")
        self.assertTrue(self.submit("priv:1")["jobId"])

        # The operator withdraws the option: what was registered stays, but is not run.
        self.server.args = ["--dev"]
        self.server.restart()
        self.__class__.batch = self.server.client()
        self.assertNotIn("privileged containers are allowed",
                         self.server.read_log().rsplit("received SIGTERM", 1)[-1])
        self.assertIs(self.props("priv:1")["privileged"], True)
        msg = self.assertClientError(self.submit, "jobDefinition", "'priv:1'",
                                     "containerProperties.privileged", "--allow-privileged",
                                     definition="priv:1")
        self.assertIn("register a revision without it", msg)
        self.assertClientError(self.submit, "jobDefinition", "--allow-privileged",
                               definition="priv")
        self.bad("containerProperties.privileged", "--allow-privileged", privileged=True)
        self.assertTrue(self.submit("plain:1")["jobId"])
        self.reg("priv", privileged=False)
        self.assertTrue(self.submit("priv:2")["jobId"])


if __name__ == "__main__":
    unittest.main()
