"""barge-init (src/init/init.c), the init process of containers whose jobs ask for one: run as a
plain process, as PID 1 of a pid namespace of its own (unshare, as root), and as PID 1 of a
busybox container under runc, bind-mounted read-only at /dev/init as the agent mounts it.  No
server is involved; barge-init is the file beside $BARGE, or $BARGE_INIT."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
import uuid

import registry
from harness import BARGE

INIT = os.environ.get("BARGE_INIT", os.path.join(os.path.dirname(BARGE), "barge-init"))

# A command that leaves orphans and lists the processes while they run and after they end.  The
# subshells exit at once, so each sleep's parent becomes PID 1, whose job it is to wait for it.
# The first pause lets every subshell start its sleep and exit; the second outlasts the sleeps.
ORPHANS = ("for i in 1 2 3; do (sleep 1 &); done; sleep 0.3; ps -e -o pid=,ppid=,stat=,args=; "
           "echo --; sleep 1.2; ps -e -o pid=,ppid=,stat=,args=")


# A pid namespace of its own, with /proc to match.  --kill-child ends the namespace's PID 1, and
# with it everything in the namespace, when unshare dies: a test that times out leaves nothing.
UNSHARE = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"]


def run(args, timeout=30):
    return subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=timeout)


def processes(listing):
    """(pid, ppid, stat, args) for each line of `ps -e -o pid=,ppid=,stat=,args=`."""
    rows = []
    for line in listing.strip().splitlines():
        pid, ppid, stat, args = line.split(None, 3)
        rows.append((int(pid), int(ppid), stat, args))
    return rows


def close(p):
    """Ends a Popen'ed init without waiting for what it leaves behind, which may hold its pipes."""
    p.kill()
    for pipe in (p.stdout, p.stderr):
        if pipe:
            pipe.close()
    p.wait()


def zombies(rows):
    return [r for r in rows if r[2].startswith("Z") or "<defunct>" in r[3]]


def need_root(*tools):
    if os.geteuid() != 0:
        raise unittest.SkipTest("needs root (pid namespaces, runc)")
    for tool in tools:
        if not shutil.which(tool):
            raise unittest.SkipTest("needs %s" % tool)


class AsAProcess(unittest.TestCase):
    def test_exit_status_is_the_commands(self):
        for code in (0, 3):
            out = run([INIT, "--", "sh", "-c", "exit %d" % code])
            self.assertEqual((out.returncode, out.stdout, out.stderr), (code, "", ""))

    def test_arguments_and_output_pass_through_untouched(self):
        out = run([INIT, "--", "sh", "-c", 'echo "$1|$2"; echo to-stderr >&2', "sh", "a b", "c"])
        self.assertEqual((out.returncode, out.stdout, out.stderr), (0, "a b|c\n", "to-stderr\n"))
        # "--" may be left out when the command does not start with a dash.
        out = run([INIT, "echo", "hello"])
        self.assertEqual((out.returncode, out.stdout, out.stderr), (0, "hello\n", ""))

    def test_an_ignored_sigchld_inherited_does_not_lose_the_status(self):
        # With SIGCHLD ignored the kernel reaps children itself, and the status would be gone.
        out = subprocess.run([INIT, "--", "sh", "-c", "exit 3"], capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, timeout=30,
                             preexec_fn=lambda: signal.signal(signal.SIGCHLD, signal.SIG_IGN))
        self.assertEqual((out.returncode, out.stderr), (3, ""))

    def test_a_command_killed_by_a_signal_gives_128_plus_the_signal(self):
        out = run([INIT, "--", "sh", "-c", "kill -KILL $$"])
        self.assertEqual((out.returncode, out.stderr), (128 + signal.SIGKILL, ""))

    def test_signals_are_forwarded_to_the_command(self):
        for sig, code in ((signal.SIGTERM, 7), (signal.SIGINT, 8), (signal.SIGHUP, 9),
                          (signal.SIGQUIT, 10), (signal.SIGUSR1, 11), (signal.SIGUSR2, 12)):
            with self.subTest(signal=sig.name):
                # The loop ends by itself, in case the signal never comes and the command
                # outlives the test.
                script = ('trap "exit %d" %s; echo ready; for i in $(seq 200); do sleep 0.05; '
                          'done' % (code, sig.name[3:]))
                # The init hands the command the signal state it found (as tini does), and a
                # shell cannot trap a signal ignored when it started: the init starts with the
                # default a container's first process has, whatever the test run inherited (a
                # run started in the background of a script ignores SIGINT and SIGQUIT, one
                # under nohup SIGHUP).
                p = subprocess.Popen([INIT, "--", "sh", "-c", script], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                     preexec_fn=lambda s=sig: signal.signal(s, signal.SIG_DFL))
                try:
                    # The trap is set once "ready" is out: the signal cannot arrive before it.
                    self.assertEqual(p.stdout.readline(), "ready\n")
                    p.send_signal(sig)
                    self.assertEqual(p.wait(timeout=10), code)
                    self.assertEqual(p.stderr.read(), "")
                finally:
                    close(p)

    def test_the_command_leads_a_process_group_of_its_own(self):
        # As tini does, so that a terminal's ^C reaches the command once, not again through
        # the init.
        out = run([INIT, "--", "sh", "-c", "ps -o pid=,pgid= -p $$"])
        pid, pgid = out.stdout.split()
        self.assertEqual(pid, pgid, out.stderr)

    def test_a_command_that_cannot_run_gives_127_or_126_and_says_why(self):
        plain = tempfile.NamedTemporaryFile(prefix="barge-init-test-")
        self.addCleanup(plain.close)
        os.chmod(plain.name, 0o644)
        for cmd, code, why in (("/nonexistent/command", 127, "No such file or directory"),
                               ("barge-no-such-command", 127, "No such file or directory"),
                               (plain.name, 126, "Permission denied")):
            with self.subTest(cmd=cmd):
                out = run([INIT, "--", cmd, "arg"])
                self.assertEqual((out.returncode, out.stdout, out.stderr),
                                 (code, "", "barge-init: exec %s failed: %s\n" % (cmd, why)))

    def test_no_command_is_a_usage_error(self):
        for args in ([], ["--"]):
            out = run([INIT] + args)
            self.assertEqual(out.returncode, 2)
            self.assertEqual(out.stderr, "usage: barge-init [--] COMMAND [ARG...]\n")

    def test_statically_linked(self):
        # It runs inside arbitrary images, which hold no libc that fits it.
        self.assertIn("statically linked", run(["file", "-L", INIT]).stdout)
        out = run(["ldd", INIT])
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("not a dynamic executable", out.stdout + out.stderr)


class AsPidOne(unittest.TestCase):
    """PID 1 of a pid namespace of its own: orphans are reparented to it."""

    @classmethod
    def setUpClass(cls):
        need_root("unshare", "ps")

    def orphans_under(self, pid1):
        out = run(UNSHARE + pid1 + ["sh", "-c", ORPHANS])
        self.assertEqual(out.returncode, 0, out.stderr)
        during, after = out.stdout.split("--\n")
        return processes(during), processes(after)

    def test_orphans_are_reaped(self):
        during, after = self.orphans_under([INIT, "--"])
        self.assertTrue(during[0][0] == 1 and during[0][3].startswith(INIT + " -- sh"), during)
        # The orphans were there, and they were the init's...
        self.assertEqual([r[1] for r in during if r[3] == "sleep 1"], [1, 1, 1], during)
        # ...and once they have ended, none is left behind as a zombie.
        self.assertEqual(zombies(after), [], after)
        self.assertEqual([r for r in after if r[3] == "sleep 1"], [], after)

    def test_a_pid_1_that_does_not_reap_leaves_zombies(self):
        # The control: the same command under a PID 1 that waits for its own child alone.
        _, after = self.orphans_under(
            [sys.executable, "-c",
             "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"])
        self.assertEqual(len(zombies(after)), 3, after)

    def test_a_signal_without_a_handler_reaches_the_command(self):
        # The kernel drops a signal that a namespace's PID 1 has no handler for; the init blocks
        # and waits for them, so SIGTERM still gets through to a command that merely dies of it.
        p = subprocess.Popen(UNSHARE + [INIT, "--", "sh", "-c", "echo ready; exec sleep 30"],
                             stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        init_pid = None
        try:
            self.assertEqual(p.stdout.readline(), "ready\n")
            with open("/proc/%d/task/%d/children" % (p.pid, p.pid)) as f:
                init_pid = int(f.read().split()[0])
            os.kill(init_pid, signal.SIGTERM)
            self.assertEqual(p.wait(timeout=10), 128 + signal.SIGTERM)
        finally:
            # SIGKILL from outside does reach a namespace's PID 1, and ends all it holds.
            if init_pid and p.poll() is None:
                os.kill(init_pid, signal.SIGKILL)
            close(p)


class InAContainer(unittest.TestCase):
    """PID 1 of a busybox container run by runc, mounted as the agent mounts it: an image that
    holds no barge files."""

    @classmethod
    def setUpClass(cls):
        need_root("runc", "umoci")
        cls.work = tempfile.mkdtemp(prefix="barge-test-init-")
        try:
            layout = registry.build_busybox_layout(os.path.join(cls.work, "layout"), tag="v1")
            cls.bundle = os.path.join(cls.work, "bundle")
            registry.run_tool(["umoci", "unpack", "--image", layout + ":v1", cls.bundle])
            with open(os.path.join(cls.bundle, "config.json")) as f:
                cls.config = json.load(f)
        except BaseException:
            shutil.rmtree(cls.work, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.work, ignore_errors=True)

    def container(self, args):
        """Writes the bundle's config for `args` under /dev/init and returns a container id,
        deleted when the test ends."""
        config = json.loads(json.dumps(self.config))
        config["process"]["args"] = ["/dev/init", "--"] + args
        config["process"]["terminal"] = False
        config["mounts"].append({"destination": "/dev/init", "type": "bind", "source": INIT,
                                 "options": ["bind", "ro", "nosuid", "nodev"]})
        with open(os.path.join(self.bundle, "config.json"), "w") as f:
            json.dump(config, f)
        cid = "barge-test-init-" + uuid.uuid4().hex[:12]
        self.addCleanup(subprocess.run, ["runc", "delete", "--force", cid], capture_output=True,
                        stdin=subprocess.DEVNULL, timeout=30)
        return cid

    def run_container(self, cid, **kw):
        return subprocess.Popen(["runc", "run", "--bundle", self.bundle, cid],
                                stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, **kw)

    def stop(self, p, cid):
        """Kills a container still running, as a failed test may leave it: killing `runc run`
        would not end it, and it holds the pipes."""
        if p.poll() is None:
            subprocess.run(["runc", "kill", cid, "KILL"], capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=30)
        close(p)

    def test_runs_as_pid_1_reaps_and_passes_the_status_on(self):
        # busybox has no ps here: /proc/N/stat's fields 2 to 4 are the name, state and parent.
        script = ("for i in 1 2 3; do (sleep 1 &); done; sleep 0.3; "
                  "awk '$2 == \"(sleep)\" {print $4}' /proc/[0-9]*/stat; echo --; sleep 1.2; "
                  "awk '$3 == \"Z\"' /proc/[0-9]*/stat; echo --; cat /proc/1/cmdline; exit 3")
        cid = self.container(["sh", "-c", script])
        p = self.run_container(cid, stderr=subprocess.PIPE)
        try:
            stdout, stderr = p.communicate(timeout=30)
        finally:
            self.stop(p, cid)
        self.assertEqual((p.returncode, stderr), (3, ""), stdout)
        parents, zombie_lines, cmdline = stdout.split("--\n")
        self.assertEqual(parents, "1\n1\n1\n")
        self.assertEqual(zombie_lines, "")
        self.assertTrue(cmdline.startswith("/dev/init\0--\0sh\0"), cmdline)

    def test_a_stop_reaches_the_command(self):
        # What stopping a job does: SIGTERM to the container's PID 1.  A command without a
        # handler, which as PID 1 itself would never hear it, dies of it.
        cid = self.container(["sh", "-c", "echo ready; exec sleep 30"])
        p = self.run_container(cid)
        try:
            self.assertEqual(p.stdout.readline(), "ready\n")
            registry.run_tool(["runc", "kill", cid, "TERM"])
            self.assertEqual(p.wait(timeout=10), 128 + signal.SIGTERM)
        finally:
            self.stop(p, cid)


if __name__ == "__main__":
    unittest.main()
