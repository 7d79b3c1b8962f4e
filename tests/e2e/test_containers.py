"""Jobs in their containers: the container executor against a real registry (Debian's
docker-registry on a loopback port, images built and pushed by the tests) and the real runtime
(runc).  Docker Hub references (`busybox`) come from the local registry through
--registry-mirror, as a site without internet would serve them."""
import glob
import json
import os
import re
import resource
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import unittest

from harness import BARGE, Server
from registry import (LocalRegistry, add_index, add_layer, build_busybox_layout, push_layout,
                      run_tool)
from test_jobs_common import FAST, JobsCase, resources, sh

OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"


def _zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def agent_pids(data_dir):
    """The pids of the `barge agent` processes a server with data_dir launched."""
    pids = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"agent" in argv and any(a.startswith(data_dir.encode()) for a in argv):
            pids.append(int(p))
    return pids


def overlay_mounts(pid):
    try:
        with open("/proc/%d/mountinfo" % pid) as f:
            return [line for line in f if " - overlay " in line]
    except OSError:
        return []


def default_id_map():
    """The host uid and gid of a container's root under the agent's default mapping: the first
    ranges of user barge in /etc/subuid and /etc/subgid, else 1000000000 (docs/decisions.md)."""
    bases = []
    for path in ("/etc/subuid", "/etc/subgid"):
        try:
            with open(path) as f:
                found = [line.split(":") for line in f if line.startswith("barge:")]
        except OSError:
            found = []
        bases.append(int(found[0][1]) if found else None)
    return tuple(bases) if None not in bases else (1000000000, 1000000000)


def private_dir(test, mode):
    """A new host directory of root's with mode, removed at the test's end."""
    d = tempfile.mkdtemp(prefix="barge-vol-")
    test.addCleanup(shutil.rmtree, d, True)
    os.chmod(d, mode)
    return d


def job_output(server, d, timeout=10):
    """The lines a finished job's attempt wrote, from its log stream."""
    logs = server.client("logs")
    deadline = time.time() + timeout
    while True:
        ev = logs.get_log_events(logGroupName="/aws/batch/job",
                                 logStreamName=d["container"]["logStreamName"],
                                 startFromHead=True)["events"]
        if ev or time.time() > deadline:
            return [e["message"] for e in ev]
        time.sleep(0.1)


# What a container reports of itself: its uid and uid_map, and whether its root can write to
# a host directory that only the host's root may write to (/locked).
WHO_AM_I = ("id -u; tr -s ' ' < /proc/self/uid_map | sed 's/^ //'; "
            "echo x > /open/by-root && echo wrote-open; "
            "(echo x > /locked/by-root) 2>&1 | sed 's/.*: //'; test -e /locked/by-root && "
            "echo wrote-locked; echo y > /etc/mine && echo wrote-rootfs")


def who_am_i_props(open_dir, locked_dir, **props):
    base = {"image": "busybox", "command": ["sh", "-c", WHO_AM_I],
            "resourceRequirements": resources(),
            "volumes": [{"name": "open", "host": {"sourcePath": open_dir}},
                        {"name": "locked", "host": {"sourcePath": locked_dir}}],
            "mountPoints": [{"sourceVolume": "open", "containerPath": "/open"},
                            {"sourceVolume": "locked", "containerPath": "/locked"}]}
    base.update(props)
    return base


def start_container_server(test, *extra):
    """A server whose local instances run containers, with a compute environment "ce" and a
    queue "q"; stopped at the test's end.  Returns (server, batch client)."""
    server = Server(args=FAST + ("--executor", "container") + extra).start()
    test.addCleanup(server.cleanup)
    batch = server.client()
    batch.create_compute_environment(
        computeEnvironmentName="ce", type="MANAGED",
        computeResources={"type": "EC2", "minvCpus": 0, "maxvCpus": 2, "subnets": ["s"]})
    batch.create_job_queue(jobQueueName="q", priority=1, computeEnvironmentOrder=[
        {"order": 1, "computeEnvironment": "ce"}])
    return server, batch


def run_to_end(test, batch, definition, timeout=60):
    jid = batch.submit_job(jobName="j", jobQueue="q", jobDefinition=definition)["jobId"]
    deadline = time.time() + timeout
    while True:
        d = batch.describe_jobs(jobs=[jid])["jobs"][0]
        if d["status"] in ("SUCCEEDED", "FAILED"):
            return d
        test.assertLess(time.time(), deadline, "job %s did not finish" % jid)
        time.sleep(0.1)



def busybox_server(case, *server_args, access_log=False):
    """A registry holding busybox as library/busybox, and a container server that pulls Docker
    Hub names through it; both stop when the test ends.  Returns (registry, server, batch)."""
    reg = LocalRegistry(access_log=access_log).start()
    case.addCleanup(reg.stop)
    layout = build_busybox_layout()
    case.addCleanup(shutil.rmtree, layout, True)
    push_layout(layout, reg, "library/busybox")
    server, batch = start_container_server(case, "--registry-mirror", "http://" + reg.url,
                                           *server_args)
    return reg, server, batch


class Containers(JobsCase):
    max_vcpus = 4

    @classmethod
    def setUpClass(cls):
        cls.registry = LocalRegistry().start()
        cls.layouts = []
        try:
            # An image whose layers are zstd-compressed, as podman and buildah may push them
            # (first, so that its layers are not in the registry as gzip already).
            cls.zstd_digest = cls.push("team/zstd", "1", compression="zstd",
                                       layer=[("zstd.txt", "file", 0o644, b"zstd layer\n")])
            manifest = json.loads(run_tool(["skopeo", "inspect", "--raw", "--tls-verify=false",
                                            "docker://%s/team/zstd:1" % cls.registry.url]))
            assert all(l["mediaType"].endswith("+zstd") for l in manifest["layers"]), manifest
            cls.busybox_digest = cls.push("library/busybox", "latest")
            # An image with an entrypoint, a default command, a working directory, a user and
            # an environment of its own.
            cls.push("team/tool", "1", entrypoint=["echo", "entry"], cmd=["default-arg"],
                     workdir="/tmp", user="nobody",
                     env=("PATH=/usr/bin:/bin", "FROM_IMAGE=image", "SHARED=image"))
            # An image whose user is not root, and which runs what it is given.
            cls.push("team/nobody", "1", user="nobody")
            # Images that name the signal that stops them, one of them no signal at all.
            cls.push("team/stopint", "1", stop_signal="SIGINT")
            cls.push("team/stopnone", "1", stop_signal="SIGNOPE")
            # Images umoci's unpack could not take: a user the image's /etc/passwd does not
            # have, and an /etc/passwd that is a FIFO.
            cls.push("team/ghost", "1", user="ghost")
            cls.push("team/fifo", "1", layer=[("etc/passwd", "fifo", 0o644, None)])
            # A multi-platform image, pinned by its index's digest as Docker Hub shows it.
            multi = build_busybox_layout(tag="1")
            cls.layouts.append(multi)
            add_index(multi, "1", "multi")
            cls.index_digest = push_layout(multi, cls.registry, "team/multi", "multi",
                                           all_platforms=True)
            cls.runtime_root = tempfile.mkdtemp(prefix="barge-runc-")
            cls.work_root = tempfile.mkdtemp(prefix="barge-work-")
            # The containers' root, an unprivileged host user, passes through it to the rootfs.
            os.chmod(cls.work_root, 0o711)
            # Where the instances "have" their EFS file systems mounted: directories open to
            # the containers' unprivileged root, named in the table barge is given.
            cls.efs_root = tempfile.mkdtemp(prefix="barge-efs-")
            for sub in ("runs", "ap"):
                os.makedirs(os.path.join(cls.efs_root, sub))
            for d in (cls.efs_root, os.path.join(cls.efs_root, "runs"),
                      os.path.join(cls.efs_root, "ap")):
                os.chmod(d, 0o777)
            with open(os.path.join(cls.efs_root, "ap", "in.txt"), "w") as f:
                f.write("through-the-access-point\n")
            table = os.path.join(cls.efs_root, "mounts.json")
            with open(table, "w") as f:
                json.dump({"fs-0e1": cls.efs_root,
                           "fsap-0a1": os.path.join(cls.efs_root, "ap")}, f)
            cls.server_args = FAST + ("--executor", "container", "--registry-mirror",
                                      "http://" + cls.registry.url,
                                      "--agent-work-dir", cls.work_root, "--efs-mounts", table)
            # A container start's deadline (3 minutes by default, as ECS's) the FIFO test
            # waits out; the server's agents take it from the server's environment.
            os.environ["BARGE_CONTAINER_START_TIMEOUT_S"] = "15"
            try:
                super().setUpClass()
            finally:
                del os.environ["BARGE_CONTAINER_START_TIMEOUT_S"]
        except BaseException:
            cls.cleanupRegistry()
            raise

    @classmethod
    def push(cls, name, tag, layer=None, compression=None, **kw):
        layout = build_busybox_layout(tag=tag, **kw)
        cls.layouts.append(layout)
        if layer:
            add_layer(layout, tag, layer, "tests/e2e/test_containers.py: %s" % name)
        return push_layout(layout, cls.registry, name, tag, compression=compression)

    @classmethod
    def cleanupRegistry(cls):
        cls.registry.stop()
        for layout in cls.layouts:
            shutil.rmtree(layout, ignore_errors=True)
        shutil.rmtree(getattr(cls, "runtime_root", "/nonexistent"), ignore_errors=True)
        shutil.rmtree(getattr(cls, "work_root", "/nonexistent"), ignore_errors=True)
        shutil.rmtree(getattr(cls, "efs_root", "/nonexistent"), ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.cleanupRegistry()

    @classmethod
    def setUpResources(cls):
        cls.batch.register_job_definition(
            jobDefinitionName="tool", type="container",
            containerProperties={"image": "127.0.0.1:%d/team/tool:1" % cls.registry.port,
                                 "resourceRequirements": resources(),
                                 "environment": [{"name": "SHARED", "value": "definition"},
                                                 {"name": "FROM_DEF", "value": "def"}]})

    def define(self, name, **props):
        base = {"image": "busybox", "command": ["true"], "resourceRequirements": resources()}
        base.update(props)
        self.batch.register_job_definition(jobDefinitionName=name, type="container",
                                           containerProperties=base)
        return name

    def output(self, d, timeout=10):
        """The lines the attempt wrote, from its log stream."""
        logs = self.server.client("logs")
        stream = d["container"]["logStreamName"]
        deadline = time.time() + timeout
        while True:
            ev = logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=stream,
                                     startFromHead=True)["events"]
            if ev or time.time() > deadline:
                return [e["message"] for e in ev]
            time.sleep(0.1)

    def run_job(self, definition="jd", want="SUCCEEDED", timeout=60, **kw):
        """The job's description once it ends, in status want (None: either)."""
        d = self.wait_job(self.submit(definition=definition, **kw), timeout=timeout)
        self.assertEqual(d["status"], want or d["status"], (d.get("statusReason"), d["container"].get("reason"),
                                             self.log_tail()))
        return d

    # ---- the image runs ------------------------------------------------------------------

    def test_job_runs_in_its_image(self):
        d = self.run_job(command="test -x /bin/busybox && test ! -e %s && echo in-image; "
                                 "cat /proc/1/cmdline | tr '\\0' ' '; echo" % BARGE)
        out = self.output(d)
        self.assertEqual(out[0], "in-image")
        # The job is the first process of its own PID namespace.
        self.assertTrue(out[1].startswith("sh -c"), out)
        self.assertEqual(self.raw_job(d["jobId"])["barge"]["executor"], "container")

    def test_entrypoint_command_and_image_defaults(self):
        # No command: the image's entrypoint with its default command, in its working
        # directory, as its user.
        d = self.run_job(definition="tool")
        self.assertEqual(self.output(d), ["entry default-arg"])
        # A command replaces the image's default command, not its entrypoint.
        d = self.run_job(definition="tool", command=["a", "b"])
        self.assertEqual(self.output(d), ["entry a b"])

    def test_environment_order_user_and_working_directory(self):
        self.define("envjob", image="127.0.0.1:%d/team/tool:1" % self.registry.port,
                    command=["x"])
        # Replace the entrypoint's effect by a definition whose image is busybox but whose
        # environment collides with the override's.
        self.define("envjob2", environment=[{"name": "A", "value": "def"},
                                            {"name": "B", "value": "def"}],
                    command=sh('echo "A=$A B=$B"; echo "job=$AWS_BATCH_JOB_ID"; '
                               'echo "path=$PATH"; pwd; id -u'))
        jid = self.submit(definition="envjob2", env={"B": "override"})
        d = self.wait_job(jid)
        self.assertEqual(d["status"], "SUCCEEDED")
        out = self.output(d)
        self.assertEqual(out[0], "A=def B=override")
        self.assertEqual(out[1], "job=" + jid)
        self.assertEqual(out[2], "path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        self.assertEqual(out[3:], ["/", "0"])

    def test_user_named_numeric_and_unknown(self):
        self.define("as-nobody", user="nobody", command=sh("id -u; id -g"))
        self.define("as-uid", user="1234:55", command=sh("id -u; id -g"))
        self.define("as-ghost", user="ghost", command=["true"])
        self.assertEqual(self.output(self.run_job(definition="as-nobody")), ["65534", "65534"])
        self.assertEqual(self.output(self.run_job(definition="as-uid")), ["1234", "55"])
        d = self.run_job(definition="as-ghost", want="FAILED")
        self.assertEqual(d["container"]["reason"], "CannotStartContainerError: unable to find "
                         "user ghost: no matching entries in passwd file")

    def test_images_whose_passwd_is_odd_are_pulled(self):
        # umoci's unpack, run as the host's root, read the image's /etc/passwd to make a runtime
        # configuration barge does not use: an image user without an entry failed the pull
        # (Docker pulls it, and a user override runs it), a FIFO held the pull until its
        # timeout, a device (/dev/urandom) grew umoci's memory without bound.
        reg = "127.0.0.1:%d" % self.registry.port
        self.define("ghost-as-root", image=reg + "/team/ghost:1", user="0", command=["true"])
        self.define("fifo-as-root", image=reg + "/team/fifo:1", user="0:0", command=["true"])
        self.run_job(definition="ghost-as-root")
        # The FIFO's image is pulled and unpacked (it held the image cache, and every other
        # image's job behind it, until the pull's timeout); runc's own start then waits on
        # that FIFO as it does under Docker, until the start's deadline (here 15 s; it stayed
        # STARTING until terminated).
        fifo = self.submit(definition="fifo-as-root")
        self.wait_job(fifo, "STARTING")
        start = time.time()
        self.run_job(definition=self.define("beside-the-fifo", command=["true"]), timeout=60)
        self.assertLess(time.time() - start, 20)
        d = self.wait_job(fifo, timeout=90)
        self.assertEqual((d["status"], d["container"].get("reason")),
                         ("FAILED", "CannotStartContainerError: the container did not start "
                                    "within 15 seconds"))

    def test_a_multi_platform_image_pinned_by_its_index_digest(self):
        # skopeo copies this platform's manifest, whose digest is not the index's: the pull
        # failed ("the registry served sha256:..."), every time.
        image = "127.0.0.1:%d/team/multi@%s" % (self.registry.port, self.index_digest)
        self.define("multi", image=image, command=["true"])
        self.run_job(definition="multi")
        self.run_job(definition="multi")  # from the cache, by the same reference

    def test_an_image_of_zstd_layers(self):
        # umoci unpacks gzip and uncompressed layers only: the pull failed ("blob is not
        # correct mediatype: ...tar+zstd"), by tag and by digest.
        for ref in (":1", "@" + self.zstd_digest):
            image = "127.0.0.1:%d/team/zstd%s" % (self.registry.port, ref)
            self.define("zstd", image=image, command=["cat", "/zstd.txt"])
            self.assertEqual(self.output(self.run_job(definition="zstd")), ["zstd layer"])

    def test_writable_layer_is_the_attempts_own(self):
        self.define("writer", command=sh("test ! -e /marker && echo clean; echo x > /marker "
                                          "&& echo wrote"))
        for _ in range(2):
            self.assertEqual(self.output(self.run_job(definition="writer")), ["clean", "wrote"])
        self.define("ro", readonlyRootFilesystem=True,
                    command=sh("(echo x > /marker) 2>/dev/null || echo refused; "
                               "(echo y > /tmp/t) 2>/dev/null || echo tmp-refused"))
        self.assertEqual(self.output(self.run_job(definition="ro")), ["refused", "tmp-refused"])

    def test_host_volumes_and_scratch_volumes(self):
        host = tempfile.mkdtemp(prefix="barge-vol-")
        self.addCleanup(shutil.rmtree, host, True)
        # The container's root is an unprivileged host user: the directory is open to it, as a
        # rootless podman's volume must be to its user.
        os.chmod(host, 0o777)
        with open(os.path.join(host, "in.txt"), "w") as f:
            f.write("from-host\n")
        self.define("vols",
                    volumes=[{"name": "data", "host": {"sourcePath": host}},
                             {"name": "ro", "host": {"sourcePath": host}},
                             {"name": "scratch"}],
                    mountPoints=[{"sourceVolume": "data", "containerPath": "/data"},
                                 {"sourceVolume": "ro", "containerPath": "/ro",
                                  "readOnly": True},
                                 {"sourceVolume": "scratch", "containerPath": "/scratch"}],
                    command=sh("cat /data/in.txt; echo out > /data/out.txt; "
                               "(echo z > /ro/z) 2>/dev/null || echo ro-refused; "
                               "echo s > /scratch/s && echo scratch-ok"))
        d = self.run_job(definition="vols")
        self.assertEqual(self.output(d), ["from-host", "ro-refused", "scratch-ok"])
        with open(os.path.join(host, "out.txt")) as f:
            self.assertEqual(f.read(), "out\n")
        self.assertFalse(os.path.exists(os.path.join(host, "z")))

    def test_efs_volumes_are_bound_from_where_the_instance_mounts_them(self):
        # --efs-mounts names where the instance has the file system and its access point: the
        # volume is that directory (with rootDirectory below it), as ECS mounts the file system.
        self.define("efs",
                    volumes=[{"name": "e", "efsVolumeConfiguration": {
                                 "fileSystemId": "fs-0e1", "rootDirectory": "/runs"}},
                             {"name": "ap", "efsVolumeConfiguration": {
                                 "fileSystemId": "fs-0e1", "transitEncryption": "ENABLED",
                                 "authorizationConfig": {"accessPointId": "fsap-0a1",
                                                         "iam": "ENABLED"}}}],
                    mountPoints=[{"sourceVolume": "e", "containerPath": "/mnt/efs"},
                                 {"sourceVolume": "ap", "containerPath": "/mnt/ap",
                                  "readOnly": True}],
                    command=sh("echo written > /mnt/efs/out.txt; cat /mnt/ap/in.txt; "
                               "(echo z > /mnt/ap/z) 2>/dev/null || echo ro-refused"))
        d = self.run_job(definition="efs")
        self.assertEqual(self.output(d), ["through-the-access-point", "ro-refused"])
        self.assertFalse(os.path.exists(os.path.join(self.efs_root, "ap", "z")))
        with open(os.path.join(self.efs_root, "runs", "out.txt")) as f:
            self.assertEqual(f.read(), "written\n")
        # What the agent bound for runc is unbound and gone once the attempt has ended, and the
        # file system's files are untouched.
        staged = "/run/barge/runc-efs"
        self.wait_for(lambda: not [n for n in (os.listdir(staged) if os.path.isdir(staged)
                                               else []) if n.startswith("barge-")],
                      what="the staged EFS directories to go", timeout=10)
        self.assertTrue(os.path.exists(os.path.join(self.efs_root, "ap", "in.txt")))
        # A file system this instance does not have fails to start, saying so.
        self.define("efs-elsewhere", volumes=[{"name": "e", "efsVolumeConfiguration": {
                        "fileSystemId": "fs-0ther"}}],
                    mountPoints=[{"sourceVolume": "e", "containerPath": "/mnt/efs"}])
        d = self.run_job(definition="efs-elsewhere", want="FAILED")
        self.assertIn("volume e: Amazon EFS file system fs-0ther is not mounted on this "
                      "instance", d["container"]["reason"])
        self.assertIn("--efs-mounts", d["container"]["reason"])

    def test_ulimits_and_linux_parameters(self):
        self.define("limits", ulimits=[{"name": "nofile", "softLimit": 321, "hardLimit": 654}],
                    linuxParameters={"sharedMemorySize": 32,
                                     "tmpfs": [{"containerPath": "/fast", "size": 16,
                                                "mountOptions": ["noexec"]}]},
                    command=sh("ulimit -n; ulimit -Hn; df -k /dev/shm | tail -1 | "
                               "awk '{print $2}'; grep ' /fast ' /proc/mounts | "
                               "cut -d' ' -f3"))
        self.assertEqual(self.output(self.run_job(definition="limits")),
                         ["321", "654", "32768", "tmpfs"])

    def test_ulimits_unlimited_and_above_the_agents(self):
        # AWS Batch's EFA example asks memlock -1/-1, unlimited.  The agent (this process's
        # child, with its capabilities and limits) gives it where it holds CAP_SYS_RESOURCE;
        # without, no hard limit can be above its own: the job gets that, and its log says so.
        with open("/proc/self/status") as f:
            eff = int(re.search(r"^CapEff:\s*([0-9a-f]+)", f.read(), re.M).group(1), 16)
        may_raise = bool(eff >> 24 & 1)
        mem_hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)[1]
        files_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        ulimits = [{"name": "memlock", "softLimit": -1, "hardLimit": -1}]
        if not may_raise and files_hard < 2 ** 31 - 1:
            ulimits.append({"name": "nofile", "softLimit": 100, "hardLimit": files_hard + 1})
        self.define("unlimited", ulimits=ulimits, command=sh("ulimit -l; ulimit -Hl; ulimit -Hn"))
        out = self.output(self.run_job(definition="unlimited"))
        if may_raise or mem_hard == resource.RLIM_INFINITY:
            self.assertEqual(out[-3:-1], ["unlimited", "unlimited"], out)
        else:
            self.assertEqual(out[0], "barge: ulimit memlock: asked unlimited (soft) and unlimited "
                             "(hard), given %d and %d, the most this instance's agent may give (it "
                             "lacks CAP_SYS_RESOURCE); ulimit nofile: asked 100 (soft) and %d "
                             "(hard), given 100 and %d, the most this instance's agent may give "
                             "(it lacks CAP_SYS_RESOURCE)" % (mem_hard, mem_hard, files_hard + 1,
                                                             files_hard), out)
            self.assertEqual(out[1:], [str(mem_hard // 1024)] * 2 + [str(files_hard)])

    def test_pids_limit(self):
        # Every container has the agent's pids limit (4096 unless --max-pids-per-job says
        # otherwise), set by runc on the container's cgroup.
        self.define("pids", command=sh("cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || "
                                       "cat /sys/fs/cgroup/pids.max"))
        self.assertEqual(self.output(self.run_job(definition="pids")), ["4096"])

    def test_devices_cpu_weight_and_the_network(self):
        # A host device under another name; two vCPUs as twice a CPU's weight; the host's
        # network, over which the job reaches the barge endpoint.
        self.define("hostish", resourceRequirements=resources(vcpus="2"),
                    linuxParameters={"devices": [{"hostPath": "/dev/zero",
                                                  "containerPath": "/dev/myzero",
                                                  "permissions": ["READ"]}]},
                    command=sh("head -c 3 /dev/myzero | wc -c; "
                               "cat /sys/fs/cgroup/cpu/cpu.shares 2>/dev/null || "
                               "cat /sys/fs/cgroup/cpu.weight; "
                               "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || "
                               "cat /sys/fs/cgroup/memory.max; "
                               "wget -q -O - %s/healthz >/dev/null && echo reached; "
                               "wget -q -O - $ECS_CONTAINER_METADATA_URI_V4/task; echo; "
                               # ECS's null until the agent knows the container runs
                               # (runc says so once the program has started)
                               "for i in $(seq 300); do s=$(wget -q -O - "
                               "$ECS_CONTAINER_METADATA_URI_V4/stats); "
                               "[ \"$s\" != null ] && break; sleep 0.1; done; echo \"$s\"" %
                               self.server.url))
        d = self.run_job(definition="hostish")
        out = self.output(d)
        self.assertEqual(out[0].strip(), "3")
        self.assertIn(out[1], ("2048", "79"))  # cgroup v1 shares, or v2's weight for them
        # The job's memory, read where a program in the container looks for its limit (its
        # own cgroup's file, as under docker --memory); a JVM sizes its heap from it.
        self.assertEqual(out[2], str(64 << 20))
        self.assertEqual(out[3], "reached")
        # The task metadata endpoint (the agent's, on the host's loopback) answers in there too.
        task = json.loads(out[4])
        self.assertEqual(task["TaskARN"], d["container"]["taskArn"])
        self.assertEqual(task["Containers"][0]["Image"], "busybox")
        # Its statistics, from the attempt's cgroup, which holds the container's.
        stats = json.loads(out[5])
        self.assertEqual(stats["id"], task["Containers"][0]["DockerId"])
        self.assertEqual(stats["memory_stats"]["limit"], 64 << 20)
        self.assertGreater(stats["memory_stats"]["usage"], 0)
        self.assertGreaterEqual(stats["pids_stats"]["current"], 1)

    def test_a_device_only_the_host_root_may_open_is_the_container_root_s(self):
        # A device node not open to all (0600 here; /dev/kvm, a disk's) was bound as the host
        # had it, and the container's root, an unprivileged host user, could not open it
        # ("Permission denied"), as it can under Docker.
        d = tempfile.mkdtemp(prefix="barge-dev-")
        self.addCleanup(shutil.rmtree, d, True)
        node = os.path.join(d, "private-null")
        os.mknod(node, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
        os.chmod(node, 0o600)
        self.define("private-device",
                    linuxParameters={"devices": [{"hostPath": node,
                                                  "containerPath": "/dev/private-null"}]},
                    command=sh("echo hi > /dev/private-null && echo wrote; "
                               "ls -ln /dev/private-null | cut -c1-10"))
        d = self.run_job(definition="private-device")
        self.assertEqual(self.output(d), ["wrote", "crw-------"])

    # ---- the container's root is not the host's -------------------------------------------

    def test_container_root_is_an_unprivileged_host_user(self):
        uid, gid = default_id_map()
        open_dir, locked = private_dir(self, 0o777), private_dir(self, 0o755)
        self.batch.register_job_definition(jobDefinitionName="whoami", type="container",
                                           containerProperties=who_am_i_props(open_dir, locked))
        out = self.output(self.run_job(definition="whoami"))
        # Root inside, in a user namespace whose ids 0..65535 are the mapped host ids; it
        # writes its own root filesystem and a directory open to all...
        self.assertEqual(out[0], "0")
        self.assertEqual(out[1], "0 %d 65536" % uid)
        self.assertEqual(out[2], "wrote-open")
        # ...but not one only the host's root may write to.
        self.assertEqual(out[3], "Permission denied")
        self.assertEqual(out[4:], ["wrote-rootfs"])
        self.assertFalse(os.path.exists(os.path.join(locked, "by-root")))
        # On the host, what it wrote belongs to the mapped user, not to root.
        st = os.stat(os.path.join(open_dir, "by-root"))
        self.assertEqual((st.st_uid, st.st_gid), (uid, gid))
        self.assertNotEqual(st.st_uid, 0)

    def test_image_user_and_directories_made_for_the_container(self):
        # The image's user (nobody, 65534) runs as the mapped host uid for 65534; a host
        # directory the agent makes for a volume, and a scratch volume, are the container
        # root's, as under Docker's userns-remap.
        uid, gid = default_id_map()
        parent = private_dir(self, 0o755)
        made = os.path.join(parent, "made", "here")
        open_dir = private_dir(self, 0o777)
        self.define("as-image-user", image="127.0.0.1:%d/team/nobody:1" % self.registry.port,
                    volumes=[{"name": "open", "host": {"sourcePath": open_dir}}],
                    mountPoints=[{"sourceVolume": "open", "containerPath": "/open"}],
                    command=sh("id -u; touch /open/by-nobody && echo wrote"))
        self.assertEqual(self.output(self.run_job(definition="as-image-user")),
                         ["65534", "wrote"])
        st = os.stat(os.path.join(open_dir, "by-nobody"))
        self.assertEqual((st.st_uid, st.st_gid), (uid + 65534, gid + 65534))
        self.define("made-volume",
                    volumes=[{"name": "made", "host": {"sourcePath": made}}, {"name": "s"}],
                    mountPoints=[{"sourceVolume": "made", "containerPath": "/made"},
                                 {"sourceVolume": "s", "containerPath": "/scratch"}],
                    command=sh("echo m > /made/f && echo s > /scratch/f && echo both"))
        self.assertEqual(self.output(self.run_job(definition="made-volume")), ["both"])
        self.assertEqual(os.stat(made).st_uid, uid)
        self.assertEqual(os.stat(os.path.join(made, "f")).st_uid, uid)

    # ---- initProcessEnabled: barge-init as the first process ---------------------------------

    def test_init_process_reaps_orphans_and_passes_the_status_on(self):
        # busybox has no ps here: /proc/N/stat's third field is the state, Z for a zombie.
        self.define("with-init", linuxParameters={"initProcessEnabled": True},
                    command=sh("for i in 1 2 3; do (sleep 0.3 &); done; sleep 1; "
                               "cat /proc/1/cmdline | tr '\\0' ' '; echo; "
                               "awk '$3 == \"Z\"' /proc/[0-9]*/stat | wc -l; exit 3"))
        d = self.run_job(definition="with-init", want="FAILED")
        self.assertEqual(d["container"]["exitCode"], 3)
        out = self.output(d)
        self.assertTrue(out[0].startswith("/dev/init -- sh -c "), out)
        self.assertEqual(out[1].strip(), "0", out)

    def test_init_process_passes_a_stop_to_the_command(self):
        # A command that does not handle SIGTERM would, as PID 1, not hear it and be killed
        # after the grace period (137); under barge-init it dies of the SIGTERM itself.
        self.define("init-sleeper", linuxParameters={"initProcessEnabled": True},
                    command=["sleep", "300"])
        jid = self.submit(definition="init-sleeper", timeout={"attemptDurationSeconds": 2})
        d = self.wait_job(jid, timeout=30)
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(d["statusReason"], "Job attempt duration exceeded timeout")
        self.assertEqual(d["container"]["exitCode"], 128 + signal.SIGTERM)
        self.assertNothingLeft()

    # ---- failures, as AWS names them --------------------------------------------------------

    def test_out_of_memory(self):
        self.define("hog", resourceRequirements=resources(memory="32"),
                    command=sh("x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived"))
        d = self.run_job(definition="hog", want="FAILED")
        self.assertEqual(d["container"]["reason"], OOM_REASON)
        self.assertEqual(d["container"]["exitCode"], 137)

    def test_a_runtime_the_memory_limit_kills_leaves_no_cgroups(self):
        # 4 MiB, which AWS takes, is too little for runc itself: killed as it made the
        # container, before it wrote its state, it left its cgroups in every hierarchy.
        def runtime_cgroups():
            return set(glob.glob("/sys/fs/cgroup/*/barge-[0-9]*-[0-9]*") +
                       glob.glob("/sys/fs/cgroup/barge-[0-9]*-[0-9]*"))
        before = runtime_cgroups()
        self.define("tiny", resourceRequirements=resources(memory="4"), command=["true"])
        d = self.run_job(definition="tiny", want=None)
        if d["status"] == "FAILED":
            self.assertIn("CannotStartContainerError", d["container"].get("reason", ""))
        self.wait_for(lambda: not (runtime_cgroups() - before), 10,
                      "the runtime's cgroups removed: %s" % (runtime_cgroups() - before))

    def test_image_that_cannot_be_pulled(self):
        self.define("noimage", image="no/such-image:1")
        self.define("noregistry", image="127.0.0.1:1/x/y:1")
        for name, why in (("noimage", "manifest unknown"), ("noregistry", "connection refused")):
            d = self.run_job(definition=name, want="FAILED")
            reason = d["container"]["reason"]
            self.assertTrue(reason.startswith("CannotPullContainerError: "), reason)
            self.assertIn(why, reason)
            self.assertEqual(d["statusReason"], "Task failed to start")
            if name == "noimage":  # through the mirror: the job's image is named, not the copy
                self.assertTrue(reason.startswith(
                    "CannotPullContainerError: docker.io/no/such-image:1 (through the registry "
                    "mirror "), reason)

    def test_pull_failure_reachable_by_evaluate_on_exit(self):
        self.define("noimage-exit", image="no/such-image:2")
        jid = self.submit(definition="noimage-exit", retryStrategy={
            "attempts": 3, "evaluateOnExit": [
                {"onReason": "CannotPullContainerError:*", "action": "EXIT"},
                {"onReason": "*", "action": "RETRY"}]})
        d = self.wait_job(jid, timeout=60)
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(len(d["attempts"]), 1)

    def test_program_that_cannot_start(self):
        self.define("nocmd", command=["no-such-program"])
        d = self.run_job(definition="nocmd", want="FAILED")
        self.assertEqual(d["container"]["reason"], 'CannotStartContainerError: exec: '
                         '"no-such-program": executable file not found in $PATH')
        # Its container never ran: the task failed to start, as on AWS.
        self.assertEqual(d["statusReason"], "Task failed to start")
        self.assertEqual(d["attempts"][0]["startedAt"], d["attempts"][0]["stoppedAt"])

    # ---- stopping, and what is left behind --------------------------------------------------

    def assertNothingLeft(self):
        """No container state, overlay mount or attempt directory outlives the attempts."""
        def clean():
            for pid in agent_pids(self.server.data_dir):
                if overlay_mounts(pid):
                    return False
            states = [d for d in os.listdir("/run/barge/runc")
                      if any(d.startswith("barge-%d-" % p)
                             for p in agent_pids(self.server.data_dir))] \
                if os.path.isdir("/run/barge/runc") else []
            if states:
                return False
            agents = self.work_root
            for inst in os.listdir(agents) if os.path.isdir(agents) else []:
                for slot in os.listdir(os.path.join(agents, inst)):
                    path = os.path.join(agents, inst, slot)
                    # Beside the attempts' directories, the agent's lock (.agent-lock).
                    if os.path.isdir(path) and os.listdir(path):
                        return False
            return True
        self.wait_for(clean, 15, "the attempts' containers, mounts and directories to go")

    def test_timeout_stops_the_container(self):
        self.define("sleeper", command=sh("trap 'echo got-term; exit 3' TERM; "
                                          "while true; do sleep 0.1; done"),
                    )
        jid = self.submit(definition="sleeper", timeout={"attemptDurationSeconds": 2})
        d = self.wait_job(jid, timeout=30)
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(d["statusReason"], "Job attempt duration exceeded timeout")
        self.assertIn("got-term", self.output(d))
        self.assertEqual(d["container"]["exitCode"], 3)
        self.assertNothingLeft()

    def test_terminate_and_timeout_send_the_image_stop_signal(self):
        # SIGTERM was sent whatever the image's STOPSIGNAL: a job whose image stops on SIGINT
        # (to save its work) never saw it, and was killed after the grace.  Docker's stop, and
        # so ECS's StopTask, sends the image's signal.
        port = self.registry.port
        self.define("stops-on-int", image="127.0.0.1:%d/team/stopint:1" % port,
                    command=sh("trap 'echo got-int; exit 0' INT; trap 'echo got-term' TERM; "
                               "echo up; while true; do sleep 0.1; done"))
        jid = self.submit(definition="stops-on-int")
        self.wait_job(jid, "RUNNING")
        self.wait_for(lambda: self.output(self.job(jid), timeout=0) == ["up"], 20,
                      "the job's first line")
        self.batch.terminate_job(jobId=jid, reason="enough")
        d = self.wait_job(jid, timeout=30)
        self.assertEqual((d["status"], d["statusReason"]), ("FAILED", "enough"))
        self.assertEqual(self.output(d), ["up", "got-int"])
        self.assertEqual(d["container"]["exitCode"], 0)
        d = self.wait_job(self.submit(definition="stops-on-int",
                                      timeout={"attemptDurationSeconds": 2}), timeout=30)
        self.assertEqual((d["status"], d["statusReason"]),
                         ("FAILED", "Job attempt duration exceeded timeout"))
        self.assertIn("got-int", self.output(d))
        # A STOPSIGNAL that names no signal is said at the start, as Docker refuses it.
        self.define("stops-on-nothing", image="127.0.0.1:%d/team/stopnone:1" % port)
        d = self.run_job(definition="stops-on-nothing", want="FAILED")
        self.assertIn("CannotStartContainerError: the image's STOPSIGNAL 'SIGNOPE' is not a "
                      "signal", d["container"].get("reason", ""))
        self.assertNothingLeft()

    def test_terminate_kills_a_container_that_ignores_sigterm(self):
        self.define("stubborn", command=sh("trap '' TERM; echo up; sleep 300"))
        jid = self.submit(definition="stubborn")
        self.wait_job(jid, "RUNNING")
        self.batch.terminate_job(jobId=jid, reason="enough")
        d = self.wait_job(jid, timeout=30)
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(d["statusReason"], "enough")
        self.assertEqual(d["container"]["exitCode"], 137)
        self.assertNothingLeft()


class ImageCache(unittest.TestCase):
    """The image is pulled once: later attempts use the unpacked image, after asking the registry
    whether the tag still names it (a HEAD of the manifest; no blob, no GET); a tag pushed anew is
    pulled again, as the ECS agent does by default, and a registry that cannot say leaves the
    cached image serving."""

    def requests(self, reg, what):
        """Requests in the registry's log matching what (a regular expression), once the log has
        stopped growing (the registry writes its log a little after it answers)."""
        last, since, deadline = None, time.time(), time.time() + 10
        while time.time() < deadline:
            now = reg.read_log()
            if now != last:
                last, since = now, time.time()
            elif time.time() - since >= 0.3:
                break
            time.sleep(0.05)
        return len(re.findall(what, last))

    def test_cached_image_costs_one_manifest_head(self):
        reg, server, batch = busybox_server(self, access_log=True)
        batch.register_job_definition(
            jobDefinitionName="bb", type="container",
            containerProperties={"image": "busybox", "command": ["true"],
                                 "resourceRequirements": resources()})
        gets = r'"GET /v2/library/busybox/(manifests|blobs)/'
        heads = r'"HEAD /v2/library/busybox/manifests/'
        self.assertEqual(run_to_end(self, batch, "bb")["status"], "SUCCEEDED")
        got, asked = self.requests(reg, gets), self.requests(reg, heads)
        self.assertGreater(got, 0)
        for _ in range(3):
            time.sleep(1.1)  # past the second within which the tag is not asked about again
            self.assertEqual(run_to_end(self, batch, "bb")["status"], "SUCCEEDED")
        self.assertEqual(self.requests(reg, gets), got)
        self.assertEqual(self.requests(reg, heads), asked + 3)

    def test_a_tag_pushed_anew_is_pulled_again(self):
        reg, server, batch = busybox_server(self, access_log=True)
        layout = build_busybox_layout()
        self.addCleanup(shutil.rmtree, layout, True)
        push_layout(layout, reg, "team/app")
        batch.register_job_definition(
            jobDefinitionName="app", type="container",
            containerProperties={"image": "%s/team/app" % reg.url,
                                 "command": ["sh", "-c",
                                             "cat /etc/version 2>/dev/null || echo none"],
                                 "resourceRequirements": resources()})
        logs = server.client("logs")

        def output():
            d = run_to_end(self, batch, "app")
            self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
            deadline = time.time() + 10
            while True:
                ev = logs.get_log_events(logGroupName="/aws/batch/job", startFromHead=True,
                                         logStreamName=d["container"]["logStreamName"])["events"]
                if ev or time.time() > deadline:
                    return [e["message"] for e in ev]
                time.sleep(0.1)
        self.assertEqual(output(), ["none"])
        add_layer(layout, "latest", [("etc/version", "file", 0o644, b"2\n")], "version 2")
        push_layout(layout, reg, "team/app")
        blobs = r'"GET /v2/team/app/blobs/'
        before = self.requests(reg, blobs)
        time.sleep(1.1)
        self.assertEqual(output(), ["2"])
        # Only what changed is fetched, as a docker pull does: the new layer and configuration,
        # not busybox's layer again.
        self.assertEqual(self.requests(reg, blobs) - before, 2)
        # Moved to an image this machine cannot pull (another platform's alone): the image
        # pulled before serves, as ECS's pull behaviour has it (every job failed).
        add_index(layout, "latest", "foreign", foreign_only=True)
        push_layout(layout, reg, "team/app", "foreign", all_platforms=True)
        run_tool(["skopeo", "copy", "--quiet", "--all", "--src-tls-verify=false",
                  "--dest-tls-verify=false", "docker://%s/team/app:foreign" % reg.url,
                  "docker://%s/team/app:latest" % reg.url])
        time.sleep(1.1)
        self.assertEqual(output(), ["2"])
        # The registry gone: the image pulled last serves.
        reg.stop()
        time.sleep(1.1)
        self.assertEqual(output(), ["2"])


class AgentLeftovers(unittest.TestCase):
    """An agent killed with -9 takes its running container with it; the next agent on the host
    removes what is left of it (its runtime state, layer and bundle) before it takes work."""

    def test_next_agent_removes_what_a_killed_agent_left(self):
        reg, server, batch = busybox_server(self)
        batch.register_job_definition(
            jobDefinitionName="long", type="container",
            containerProperties={"image": "busybox", "command": ["sleep", "300"],
                                 "resourceRequirements": resources()})
        jid = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="long")["jobId"]
        deadline = time.time() + 60
        while batch.describe_jobs(jobs=[jid])["jobs"][0]["status"] != "RUNNING":
            self.assertLess(time.time(), deadline, "the job did not start")
            time.sleep(0.1)
        [agent] = agent_pids(server.data_dir)
        # RUNNING is reported once runc has started; its state file follows shortly.
        while True:
            states = [d for d in os.listdir("/run/barge/runc")
                      if d.startswith("barge-%d-" % agent)]
            path = "/run/barge/runc/%s/state.json" % (states or ["-"])[0]
            if os.path.exists(path):
                break
            self.assertLess(time.time(), deadline, "runc kept no state for the container")
            time.sleep(0.05)
        self.assertEqual(len(states), 1)
        with open(path) as f:
            init_pid = json.load(f)["init_process_pid"]
        os.kill(agent, signal.SIGKILL)
        killed = time.time()
        # The container dies with its agent (its warden kills what is in the agent's
        # cgroups, agent/warden.h): it does not run on beside the job's retry...
        while _alive(init_pid):
            self.assertLess(time.time(), killed + 10, "the container outlived its agent")
            time.sleep(0.05)
        print("the container ended %.2f s after its agent" % (time.time() - killed))
        # ...and another agent on the host removes the rest.
        work = tempfile.mkdtemp(prefix="barge-agent-")
        self.addCleanup(shutil.rmtree, work, True)
        p = subprocess.Popen([BARGE, "agent", "--server", server.url,
                              "--compute-environment", "ce", "--work-dir", work,
                              "--token", "wrong-token-0000"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        with open(path) as f:
            bundle = os.path.dirname(json.load(f)["config"]["rootfs"])
        self.assertTrue(os.path.isdir(bundle))
        def left_cgroups():
            return [d for d, _, _ in os.walk("/sys/fs/cgroup/memory")
                    if os.path.basename(d) == "barge-agent-%d" % agent]
        # The sweep deletes the container (runc's state goes), then its layer and bundle, then
        # the killed agent's cgroups: all of it must go, in that order, so wait for the last.
        deadline = time.time() + 20
        while (os.path.exists("/run/barge/runc/" + states[0]) or _alive(init_pid)
               or os.path.exists(bundle) or left_cgroups()):
            self.assertLess(time.time(), deadline,
                            "left after 20 s: %s" % ", ".join(
                                what for what, there in (
                                    ("runc state", os.path.exists("/run/barge/runc/" + states[0])),
                                    ("container process", _alive(init_pid)),
                                    ("bundle " + bundle, os.path.exists(bundle)),
                                    ("cgroups", bool(left_cgroups()))) if there))
            time.sleep(0.1)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


class PrivateRegistry(unittest.TestCase):
    """repositoryCredentials: the secret named by credentialsParameter (from --secrets) is shown
    to a registry that requires a password; without it, or with a wrong one, the pull fails
    with CannotPullContainerError."""

    def test_repository_credentials(self):
        with LocalRegistry(htpasswd=("puller", "s3cret")) as reg:
            layout = build_busybox_layout()
            self.addCleanup(shutil.rmtree, layout, True)
            push_layout(layout, reg, "team/private")
            secrets = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
            self.addCleanup(os.unlink, secrets.name)
            json.dump({"registry-creds": {"username": "puller", "password": "s3cret"},
                       "wrong-creds": {"username": "puller", "password": "nope"}}, secrets)
            secrets.close()
            server, batch = start_container_server(self, "--secrets", secrets.name)
            image = "%s/team/private:latest" % reg.url
            cases = {
                "good": "arn:aws:secretsmanager:us-east-1:123456789012:secret:registry-creds-AbCdEf",
                "wrong": "wrong-creds",
                "missing": "no-such-secret",
                None: None,
            }
            ids = {}
            # The failures first: an image pulled once is in the host's cache, and like Docker's
            # it serves every job on that host afterwards, whatever its credentials.
            for case, param in cases.items():
                props = {"image": image, "command": ["true"],
                         "resourceRequirements": resources()}
                if param:
                    props["repositoryCredentials"] = {"credentialsParameter": param}
                name = "d-%s" % (case or "none")
                batch.register_job_definition(jobDefinitionName=name, type="container",
                                              containerProperties=props)

            def finish(wanted):
                deadline = time.time() + 60
                while True:
                    ds = {d["jobId"]: d
                          for d in batch.describe_jobs(jobs=[ids[c] for c in wanted])["jobs"]}
                    if all(d["status"] in ("SUCCEEDED", "FAILED") for d in ds.values()):
                        return ds
                    self.assertLess(time.time(), deadline, "the jobs did not finish")
                    time.sleep(0.2)
            for case in ("wrong", "missing", None, "good"):
                name = "d-%s" % (case or "none")
                ids[case] = batch.submit_job(jobName=name, jobQueue="q",
                                             jobDefinition=name)["jobId"]
                if case is None:
                    finish(["wrong", "missing", None])
            ds = finish(list(ids))
            self.assertEqual(ds[ids["good"]]["status"], "SUCCEEDED",
                             ds[ids["good"]]["container"].get("reason"))
            for case in ("wrong", "missing", None):
                d = ds[ids[case]]
                self.assertEqual(d["status"], "FAILED", case)
                self.assertTrue(d["container"]["reason"].startswith("CannotPullContainerError:"),
                                d["container"]["reason"])
            self.assertIn("no-such-secret", ds[ids["missing"]]["container"]["reason"])


def raw_job(server, job_id):
    """The description with the members boto3 does not model (barge's own "barge")."""
    status, _, body = server.raw("POST", "/v1/describejobs", {"jobs": [job_id]},
                                 {"Content-Type": "application/json"})
    assert status == 200, body
    return body["jobs"][0]


class HangingRegistry(unittest.TestCase):
    """A registry that accepts connections and never answers: the pull gives up at its deadline
    and says so, and the agent goes on serving."""

    def hanging_registry(self, pull_timeout):
        """Starts the registry that never answers and a container server; (port, held
        connections, server, batch), with definitions "hang" (an image there) and "ok"."""
        import socket
        import threading
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        held = []
        stop = threading.Event()

        def accept():
            listener.settimeout(0.2)
            while not stop.is_set():
                try:
                    held.append(listener.accept()[0])
                except OSError:
                    pass
        t = threading.Thread(target=accept, daemon=True)
        t.start()

        def close():
            stop.set()
            t.join()
            for c in held:
                c.close()
            listener.close()
        self.addCleanup(close)
        reg, server, batch = busybox_server(self, "--pull-timeout", str(pull_timeout))
        for name, image in (("hang", "127.0.0.1:%d/x/y:1" % port), ("ok", "busybox")):
            batch.register_job_definition(
                jobDefinitionName=name, type="container",
                containerProperties={"image": image, "command": ["true"],
                                     "resourceRequirements": resources()})
        return port, held, server, batch

    def submit_pulling(self, batch, held):
        """Submits a job of "hang" and waits until its pull reached the registry; its id."""
        jid = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="hang")["jobId"]
        deadline = time.time() + 30
        while not held:
            self.assertLess(time.time(), deadline, "the pull never reached the registry")
            time.sleep(0.05)
        return jid

    # An agent told to stop while an image is pulled stops at once: the pull is ended, not
    # waited for until its deadline (here two minutes), and its attempt ends as AWS ends those
    # of an instance that went away.
    def test_an_agent_stops_while_it_pulls(self):
        port, held, server, batch = self.hanging_registry(120)
        jid = self.submit_pulling(batch, held)
        pids = agent_pids(server.data_dir)
        self.assertEqual(len(pids), 1, pids)
        t0 = time.time()
        os.kill(pids[0], signal.SIGTERM)
        while os.path.exists("/proc/%d" % pids[0]) and not _zombie(pids[0]):
            # Well before the pull's deadline (120 s), however loaded the machine.
            self.assertLess(time.time() - t0, 60, "the agent did not stop while it pulled")
            time.sleep(0.05)
        while batch.describe_jobs(jobs=[jid])["jobs"][0]["status"] != "FAILED":
            self.assertLess(time.time() - t0, 90, "the pulling attempt did not end")
            time.sleep(0.1)
        d = batch.describe_jobs(jobs=[jid])["jobs"][0]
        self.assertIn("terminated", d["attempts"][-1]["statusReason"], d["attempts"][-1])

    def wait_pulling(self, server, jid):
        """The job's description once it says its image is pulled (or after 10 s)."""
        deadline = time.time() + 10
        while True:
            d = raw_job(server, jid)
            if "pulling" in d["barge"] or time.time() > deadline:
                return d
            time.sleep(0.05)

    def test_a_pulling_jobs_console_page_says_so(self):
        from test_console import browser_ready
        from test_console_probe import probe
        browser_ready(self)
        port, held, server, batch = self.hanging_registry(120)
        jid = self.submit_pulling(batch, held)
        self.wait_pulling(server, jid)
        self.server = server  # (probe reads it)
        seen = probe(self, "pulling", {"job": jid})
        self.assertEqual(seen["status"], "STARTING")
        self.assertIn("Pulling its image 127.0.0.1:%d/x/y:1 since " % port, seen["pulling"])

    def test_a_hanging_registry_holds_no_other_pull(self):
        # The pull held the image cache's layout for the whole copy: every other image's pull
        # on the agent waited behind it until its deadline (here a minute).
        port, held, server, batch = self.hanging_registry(60)
        jid = self.submit_pulling(batch, held)
        t0 = time.time()
        ok = run_to_end(self, batch, "ok")
        self.assertEqual(ok["status"], "SUCCEEDED")
        self.assertLess(time.time() - t0, 30)
        batch.terminate_job(jobId=jid, reason="test over")

    def test_pull_deadline(self):
        port, held, server, batch = self.hanging_registry(15)
        # A job stopped while its image is pulled ends at once, with the stop's reason.
        jid = self.submit_pulling(batch, held)
        # Meanwhile it says what it waits for (it was STARTING and nothing more).
        d = self.wait_pulling(server, jid)
        self.assertEqual(d["status"], "STARTING")
        self.assertEqual(d["barge"]["pulling"]["image"], "127.0.0.1:%d/x/y:1" % port)
        self.assertLess(abs(d["barge"]["pulling"]["since"] / 1000 - time.time()), 30)
        self.assertEqual(list(d["barge"]["pulling"]), ["image", "since"])
        t0 = time.time()
        batch.terminate_job(jobId=jid, reason="stop the pull")
        while batch.describe_jobs(jobs=[jid])["jobs"][0]["status"] != "FAILED":
            # Well before the pull's deadline (15 s), however loaded the machine.
            self.assertLess(time.time() - t0, 10, "the stopped job did not end promptly")
            time.sleep(0.05)
        d = raw_job(server, jid)
        self.assertEqual(d["statusReason"], "stop the pull")
        self.assertNotIn("pulling", d["barge"])
        t0 = time.time()
        d = run_to_end(self, batch, "hang")
        self.assertEqual(d["status"], "FAILED")
        reason = d["container"]["reason"]
        self.assertTrue(reason.startswith("CannotPullContainerError: "), reason)
        self.assertTrue("deadline" in reason or "no answer within" in reason
                        or "timeout" in reason, reason)
        self.assertLess(time.time() - t0, 45)
        self.assertNotIn("pulling", raw_job(server, d["jobId"])["barge"])
        ok = run_to_end(self, batch, "ok")
        self.assertEqual(ok["status"], "SUCCEEDED")
        self.assertNotIn("pulling", raw_job(server, ok["jobId"])["barge"])


class Privileged(unittest.TestCase):
    """--allow-privileged: a privileged container has every capability; others have Docker's
    default set.  A privileged container has no user namespace: its root is the host's; the
    others' ids are mapped as --container-id-map says."""

    def test_privileged_capabilities(self):
        reg, server, batch = busybox_server(
            self, "--allow-privileged", "--container-id-map", "1500000000:70000")
        open_dir, locked = private_dir(self, 0o777), private_dir(self, 0o755)
        outs = {}
        # The unprivileged one first: the privileged one's file in /locked would be there.
        for name, privileged in (("plain-who", False), ("priv-who", True)):
            batch.register_job_definition(
                jobDefinitionName=name, type="container",
                containerProperties=who_am_i_props(open_dir, locked, privileged=privileged))
            d = run_to_end(self, batch, name)
            self.assertEqual(d["status"], "SUCCEEDED", d["container"].get("reason"))
            outs[name] = job_output(server, d)
            os.rename(os.path.join(open_dir, "by-root"), os.path.join(open_dir, name))
        self.assertEqual(outs["plain-who"], ["0", "0 1500000000 70000", "wrote-open",
                                             "Permission denied", "wrote-rootfs"])
        self.assertEqual(os.stat(os.path.join(open_dir, "plain-who")).st_uid, 1500000000)
        self.assertEqual(outs["priv-who"], ["0", "0 0 4294967295", "wrote-open",
                                            "wrote-locked", "wrote-rootfs"])
        self.assertEqual(os.stat(os.path.join(open_dir, "priv-who")).st_uid, 0)
        self.assertEqual(os.stat(os.path.join(locked, "by-root")).st_uid, 0)
        caps = {}
        for name, privileged in (("priv", True), ("plain", False)):
            batch.register_job_definition(
                jobDefinitionName=name, type="container",
                containerProperties={"image": "busybox", "privileged": privileged,
                                     "command": sh("grep CapEff /proc/self/status"),
                                     "resourceRequirements": resources()})
            d = run_to_end(self, batch, name)
            self.assertEqual(d["status"], "SUCCEEDED", d["container"].get("reason"))
            logs = server.client("logs")
            deadline = time.time() + 10
            while True:
                ev = logs.get_log_events(logGroupName="/aws/batch/job",
                                         logStreamName=d["container"]["logStreamName"])
                if ev["events"] or time.time() > deadline:
                    break
                time.sleep(0.1)
            caps[name] = int(ev["events"][0]["message"].split()[1], 16)
        # Docker's default set is 14 capabilities; privileged has all the host lets root
        # hold (its bounding set, which the agent shares with this test).
        self.assertEqual(bin(caps["plain"]).count("1"), 14)
        with open("/proc/self/status") as f:
            bound = [l for l in f if l.startswith("CapBnd:")][0].split()[1]
        self.assertEqual(caps["priv"], int(bound, 16))


class IgnorePrivileged(unittest.TestCase):
    """--ignore-privileged: a definition that asks for a privileged container (as Toil's and
    Snakemake's always do) is accepted, and its container runs as every other: Docker's
    default capabilities, in a user namespace."""

    def test_privileged_definitions_run_unprivileged(self):
        reg, server, batch = busybox_server(self, "--ignore-privileged")
        batch.register_job_definition(
            jobDefinitionName="asks", type="container",
            containerProperties={"image": "busybox", "privileged": True,
                                 "command": sh("grep CapEff /proc/self/status; "
                                               "cat /proc/self/uid_map"),
                                 "resourceRequirements": resources()})
        d = run_to_end(self, batch, "asks")
        self.assertEqual(d["status"], "SUCCEEDED", d["container"].get("reason"))
        self.assertIs(d["container"]["privileged"], True)  # described as registered
        deadline = time.time() + 10
        while True:
            lines = job_output(server, d)
            if len(lines) >= 2 or time.time() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(bin(int(lines[0].split()[1], 16)).count("1"), 14)
        self.assertNotEqual(lines[1].split(), ["0", "0", "4294967295"])


class UsernsOff(unittest.TestCase):
    """--container-userns off: the old behaviour, a container's root is the host's."""

    def test_container_root_is_host_root(self):
        reg, server, batch = busybox_server(self, "--container-userns", "off")
        open_dir, locked = private_dir(self, 0o777), private_dir(self, 0o755)
        batch.register_job_definition(jobDefinitionName="who", type="container",
                                      containerProperties=who_am_i_props(open_dir, locked))
        d = run_to_end(self, batch, "who")
        self.assertEqual(d["status"], "SUCCEEDED", d["container"].get("reason"))
        self.assertEqual(job_output(server, d), ["0", "0 0 4294967295", "wrote-open",
                                                 "wrote-locked", "wrote-rootfs"])
        self.assertEqual(os.stat(os.path.join(open_dir, "by-root")).st_uid, 0)
        self.assertEqual(os.stat(os.path.join(locked, "by-root")).st_uid, 0)


class OptionErrors(unittest.TestCase):
    """Bad container options stop the server or agent at once, with a sentence naming them."""

    def run_barge(self, *args):
        return subprocess.run([BARGE, *args], capture_output=True, text=True, timeout=30)

    def test_bad_options(self):
        bad = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        self.addCleanup(os.unlink, bad.name)
        bad.write("[")
        bad.close()
        cases = [
            (("agent", "--server", "http://127.0.0.1:1", "--compute-environment", "c",
              "--executor", "docker"), "--executor must be container or process"),
            (("agent", "--server", "http://127.0.0.1:1", "--compute-environment", "c",
              "--registry-mirror", "ftp://x"), "--registry-mirror must be an http:// or https://"),
            (("agent", "--server", "http://127.0.0.1:1", "--compute-environment", "c",
              "--insecure-registry", "http://x/"), "--insecure-registry takes a registry's HOST"),
            (("agent", "--server", "http://127.0.0.1:1", "--compute-environment", "c",
              "--container-userns", "maybe"), "--container-userns must be on or off"),
            (("agent", "--server", "http://127.0.0.1:1", "--compute-environment", "c",
              "--container-id-map", "0:65536"), "--container-id-map must not start at 0"),
            (("server", "--container-id-map", "1000:x"),
             "--container-id-map must be HOSTBASE or HOSTBASE:SIZE"),
            (("server", "--container-id-map", "4294967000:65536"), "--container-id-map must map"),
            (("server", "--container-userns", "no"), "--container-userns must be on or off"),
            (("server", "--job-uids", "0:10"), "--job-uids must not start at 0: that is root"),
            (("server", "--job-uids", "2000000000:x"),
             "--job-uids must be FIRST or FIRST:COUNT"),
            (("server", "--job-uids", "4294967000:65536"), "--job-uids must hold"),
            (("server", "--job-uids", "3000000000:3"), "ending at 2147483647 at most"),
            (("server", "--job-uids", "65000:1000"), "holds uid 65534, the account nobody's"),
            (("server", "--container-id-map", "1500000000:65536", "--job-uids",
              "1500000100:10"), "overlaps the containers' host uids 1500000000 to 1500065535"),
            (("server", "--job-user", "3000000000"), "--job-user names no user on this host"),
            (("server", "--job-user", "nobody", "--job-uids", "2000000000"),
             "give one of --job-user (one user for every attempt) and --job-uids"),
            (("agent", "--server", "http://127.0.0.1:1", "--compute-environment", "c",
              "--job-uids", "2000000000", "--job-user", "nobody"),
             "give one of --job-user (one user for every attempt) and --job-uids"),
            (("agent", "--server", "http://127.0.0.1:1", "--compute-environment", "c",
              "--job-uids", "-5"), "--job-uids must be FIRST or FIRST:COUNT"),
            (("server", "--executor", "vm"), "--executor must be container or process"),
            (("server", "--pull-timeout", "0"), "--pull-timeout must be a number of seconds"),
            (("server", "--image-cache-size", "x"), "--image-cache-size must be a number of MiB"),
            (("server", "--secrets", bad.name), "--secrets: " + bad.name),
            (("server", "--secrets", "/nonexistent/s.json"), "--secrets: /nonexistent/s.json"),
            (("server", "--efs-mounts", bad.name), "--efs-mounts " + bad.name),
            (("server", "--allow-privileged", "--ignore-privileged"),
             "give one of --allow-privileged and --ignore-privileged"),
            (("agent", "--server", "http://127.0.0.1:1", "--compute-environment", "c",
              "--efs-mounts", "/nonexistent/m.json"), "--efs-mounts /nonexistent/m.json"),
        ]
        # A file that cannot be read has no line to name.
        out = self.run_barge("server", "--efs-mounts", "/nonexistent/m.json")
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn("/nonexistent/m.json: unable to open", out.stderr)
        self.assertNotIn("(line -1)", out.stderr)
        for args, message in cases:
            out = self.run_barge(*args)
            self.assertEqual(out.returncode, 2, (args, out.stderr))
            self.assertIn(message, out.stderr, args)


class UsernsHelp(unittest.TestCase):
    def test_help_describes_the_user_namespace_options(self):
        for role in ("server", "agent"):
            out = subprocess.run([BARGE, role, "--help"], capture_output=True, text=True,
                                 timeout=30)
            self.assertEqual(out.returncode, 0, out.stderr)
            for opt in ("--container-userns on|off", "--container-id-map HOSTBASE[:SIZE]",
                        "/etc/subuid", "1000000000:65536"):
                self.assertIn(opt, out.stdout, role)


class ClosedWorkDirectory(unittest.TestCase):
    """The containers' root must pass through the directories above the agent's work
    directory to reach its containers' root filesystems: an agent whose work directory lies
    in a closed one says so and stops, unless --container-userns off."""

    def test_closed_parent(self):
        closed = private_dir(self, 0o700)
        work = os.path.join(closed, "agent")
        args = [BARGE, "agent", "--server", "http://127.0.0.1:1", "--compute-environment", "c",
                "--executor", "container", "--work-dir", work,
                "--image-cache", os.path.join(closed, "images")]
        out = subprocess.run(args, capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("the containers' root, host uid %d" % default_id_map()[0], out.stderr)
        self.assertIn("cannot reach the work directory %s: %s is closed to other users"
                      % (work, closed), out.stderr)
        # With --container-userns off the same directory serves (the agent then waits for its
        # server, which is not there: it is stopped).
        p = subprocess.Popen(args + ["--container-userns", "off"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        try:
            seen = ""
            while "agent for compute environment c" not in seen:
                line = p.stderr.readline()
                self.assertTrue(line, "the agent stopped: " + seen)
                seen += line
        finally:
            p.terminate()
            p.wait(timeout=30)


class ProcessExecutorStays(JobsCase):
    """--executor process still runs jobs as host processes, and says so."""

    def test_process_executor_is_recorded(self):
        jid = self.submit(command="echo hi")
        self.assertEqual(self.wait_job(jid)["status"], "SUCCEEDED")
        self.assertEqual(self.raw_job(jid)["barge"]["executor"], "process")


if __name__ == "__main__":
    unittest.main()
