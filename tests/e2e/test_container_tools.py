"""The tools the container executor builds on, end to end without the internet: a local registry,
the busybox image pushed to it and pulled back with skopeo, unpacked with umoci and run with
runc (as root, which runc and umoci unpack need).  barge itself is not involved yet."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import uuid

import registry


def runc_ids():
    out = subprocess.run(["runc", "list", "--format", "json"], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=30)
    # runc prints `null`, not `[]`, when there is no container.
    return {c["id"] for c in json.loads(out.stdout or "null") or ()}


def cgroup_dirs(name):
    """The directories a child cgroup `name` of this process's cgroups would have, in every
    mounted hierarchy (v1 controllers and v2 alike)."""
    own = {}
    with open("/proc/self/cgroup") as f:
        for entry in f:
            _, controllers, path = entry.rstrip("\n").split(":", 2)
            own[controllers] = path
    dirs = []
    with open("/proc/self/mounts") as f:
        for entry in f:
            _, point, fstype, options = entry.split()[:4]
            if fstype == "cgroup2" and "" in own:
                dirs.append(os.path.join(point, own[""].lstrip("/"), name))
            elif fstype == "cgroup":
                opts = set(options.split(","))
                for controllers, path in own.items():
                    if controllers and set(controllers.split(",")) <= opts:
                        dirs.append(os.path.join(point, path.lstrip("/"), name))
    return dirs


class ContainerTools(unittest.TestCase):
    def test_push_pull_unpack_and_run(self):
        # Cleanups run last-in first-out: the container is deleted, then the registry
        # stopped, then the files removed, whichever step failed.
        work = tempfile.mkdtemp(prefix="barge-test-containers-")
        self.addCleanup(shutil.rmtree, work, ignore_errors=True)
        reg = registry.LocalRegistry().start()
        self.addCleanup(reg.stop)

        src = registry.build_busybox_layout(os.path.join(work, "src"), tag="v1")
        digest = registry.push_layout(src, reg, "test/busybox", "v1")
        self.assertRegex(digest, r"^sha256:[0-9a-f]{64}$")

        layout = os.path.join(work, "layout")
        registry.run_tool(["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                           "docker://%s/test/busybox:v1" % reg.url, "oci:%s:v1" % layout])
        with open(os.path.join(layout, "index.json")) as f:
            index = json.load(f)
        self.assertEqual([m["digest"] for m in index["manifests"]], [digest])

        bundle = os.path.join(work, "bundle")
        registry.run_tool(["umoci", "unpack", "--image", layout + ":v1", bundle])
        with open(os.path.join(bundle, "config.json")) as f:
            config = json.load(f)
        self.assertEqual(config["process"]["args"], ["sh"])
        self.assertIn(registry.DEFAULT_PATH, config["process"]["env"])
        config["process"]["args"] = ["sh", "-c", "echo hello; id -u"]
        config["process"]["terminal"] = False
        with open(os.path.join(bundle, "config.json"), "w") as f:
            json.dump(config, f)

        cid = "barge-test-" + uuid.uuid4().hex[:12]
        self.addCleanup(subprocess.run, ["runc", "delete", "--force", cid], capture_output=True,
                        stdin=subprocess.DEVNULL, timeout=30)
        out = subprocess.run(["runc", "run", "--bundle", bundle, cid], capture_output=True,
                             text=True, stdin=subprocess.DEVNULL, timeout=30)
        self.assertEqual((out.returncode, out.stdout), (0, "hello\n0\n"), out.stderr)

        # A foreground run deletes its container when the process exits: no state is left and
        # the cgroup runc made for it under this process's own is gone.
        self.assertNotIn(cid, runc_ids())
        self.assertEqual([d for d in cgroup_dirs(cid) if os.path.exists(d)], [])
        shutil.rmtree(bundle)
        self.assertFalse(os.path.exists(bundle))


if __name__ == "__main__":
    unittest.main()
