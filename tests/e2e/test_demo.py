"""scripts/demo.sh, what `make demo` runs, end to end: its registry, its server, its jobs in
containers and their output, and that it leaves nothing behind but what it was asked to keep."""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import BARGE, ROOT


class Demo(unittest.TestCase):
    def test_demo_runs_its_jobs_and_cleans_up(self):
        tmp = tempfile.mkdtemp(prefix="barge-demo-test-")
        self.addCleanup(shutil.rmtree, tmp, True)
        # The containers' root, an unprivileged host user, passes through it (docs/decisions.md).
        os.chmod(tmp, 0o711)
        # Everything the demo and its registry make goes under TMPDIR; the demo keeps its own
        # directory (server log included) when asked, and nothing else may stay.
        env = dict(os.environ, BARGE=BARGE, TMPDIR=tmp, BARGE_DEMO_KEEP="1")
        p = subprocess.run(["sh", os.path.join(ROOT, "scripts", "demo.sh")], env=env,
                           capture_output=True, text=True, timeout=180,
                           stdin=subprocess.DEVNULL)
        out = p.stdout
        self.assertEqual(p.returncode, 0, out[-5000:] + p.stderr[-3000:])
        for line in ("child 3 of 8: 3 squared is 9",
                     "adding 8 parts",
                     "sum of the squares of 0..7 = 140",
                     "my process id: 1 (the container has its own process ids)",
                     "the root directory holds: bin dev etc proc root sys tmp"):
            self.assertIn(line + "\n", out)
        self.assertRegex(out, r"the image: BusyBox v\S+ .*multi-call binary\.\n")
        self.assertRegex(out, r"job inside SUCCEEDED; image busybox; barge.executor: container; "
                              r"instance i-[0-9a-f]+\n")
        self.assertIn("Done: the dependent job SUCCEEDED, the container job SUCCEEDED", out)

        kept = [d for d in os.listdir(tmp)]
        self.assertEqual(len(kept), 1, kept)
        self.assertTrue(kept[0].startswith("barge-demo."), kept)
        self.assertEqual(sorted(os.listdir(os.path.join(tmp, kept[0]))),
                         ["agents", "data", "out", "registry.in", "registry.out", "server.log"])
        with open(os.path.join(tmp, kept[0], "server.log"), errors="replace") as f:
            log = f.read()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            self.assertNotIn(marker, log, log[-6000:])


if __name__ == "__main__":
    unittest.main()
