"""The server process itself: health, help, clean stop, refusing a second server."""
import http.server
import os
import pwd
import re
import shutil
import socket
import signal
import subprocess
import tempfile
import threading
import unittest

from harness import BARGE, ROOT, Server


def run_barge(*args):
    """Runs barge; (exit code, stderr).  The timeout only catches a hang (/dev/zero read
    without end), it is no bound on how long a refusal may take."""
    p = subprocess.run([BARGE] + list(args), capture_output=True, text=True, timeout=60)
    return p.returncode, p.stderr


class ServerProcess(unittest.TestCase):
    def test_healthz_and_clean_stop_on_sigterm_and_sigint(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            s = Server().start()
            try:
                status, _, body = s.raw("GET", "/healthz")
                self.assertEqual((status, body), (200, {"status": "ok"}))
                self.assertEqual(s.stop(sig), 0)
                self.assertIn("stopped", s.read_log())
            finally:
                s.cleanup()

    def test_an_ipv6_address_is_logged_as_a_url(self):
        # "listening on http://::1:PORT" was no URL.
        s = Server(host="::1").start()
        try:
            self.assertIn("listening on http://[::1]:%d " % s.port, s.read_log())
            self.assertEqual(s.raw("GET", "/healthz")[0], 200)
        finally:
            s.stop()
            s.cleanup()

    def test_help_lists_every_option(self):
        out = subprocess.run([BARGE, "server", "--help"], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0)
        # Every option in server.c's table (--roles and --role-session-seconds were missing).
        with open(os.path.join(ROOT, "src", "server", "server.c")) as f:
            table = re.findall(r'\{"([a-z-]+)", (?:required|no)_argument', f.read())
        self.assertIn("roles", table)
        for opt in table:
            self.assertRegex(out.stdout, r"--%s\b" % re.escape(opt))

    def test_bad_options_are_explained(self):
        for args, fragment in ((["--listen", "nonsense"], "HOST:PORT"),
                               (["--listen", "[::1"], "'[::1' is not HOST:PORT"),
                               (["--data-dir", ""], "--data-dir is empty"),
                               (["--account-id", "12"], "12 digits"),
                               # Every ARN and event carries the region, written as it is.
                               (["--region", 'us"east-1'], "as AWS names regions"),
                               (["--region", "US-EAST-1"], "lowercase"),
                               (["--region", "-1"], "(not first or last)"),
                               (["--region", "east-"], "(not first or last)"),
                               (["--sync", "sometimes"], "full"),
                               # Options of the other store do nothing: they are refused.
                               (["--store", "postgresql://127.0.0.1:1/x", "--sync", "normal"],
                                "--sync applies to the SQLite store"),
                               (["--lease-ms", "5000"], "--lease-ms applies with --store"),
                               (["--lease-renew-ms", "100"], "--lease-renew-ms applies"),
                               (["--bogus"], "barge server: unknown option '--bogus'; see "
                                             "`barge server --help`"),
                               (["--port", "8900"], "unknown option '--port'"),
                               (["--listen"], "barge server: --listen needs a value; see "
                                              "`barge server --help`"),
                               (["--dev=yes"], "--dev takes no value (got '--dev=yes')"),
                               (["--tls"], "'--tls' is ambiguous: it matches --tls-cert, "
                                           "--tls-key, --tls-ca"),
                               (["stray"], "barge server: unexpected argument 'stray' (every "
                                           "option starts with --)")):
            out = subprocess.run([BARGE, "server"] + args, capture_output=True, text=True)
            self.assertEqual(out.returncode, 2, args)
            self.assertIn(fragment, out.stderr)
            # One sentence, not the whole usage after it.
            self.assertLessEqual(len(out.stderr.splitlines()), 2, (args, out.stderr))

    def test_a_huge_option_value_is_not_echoed_whole(self):
        # 100 KB of the value came back in the error, for the server and the agent alike.
        huge = "a" * 100000
        for args, fragment in (
                (["server", "--listen", huge], "barge server: --listen's value is 100000 bytes"),
                (["server", "--events-kept", huge], "--events-kept's value is 100000 bytes"),
                (["agent", "--vcpus", huge], "barge agent: --vcpus's value is 100000 bytes"),
                (["server", "--bogus" + huge], "unknown option '--bogus"),
                (["server", huge], "unexpected argument 'aaa"),
                (["agent", huge], "unexpected argument 'aaa"),
                (["jobs", huge], "unexpected argument 'aaa")):
            out = subprocess.run([BARGE] + args, capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 2, (args[:1], out.stderr[:300]))
            self.assertIn(fragment, out.stderr)
            self.assertLess(len(out.stderr), 1000, args[:2])

    def test_a_listen_address_that_cannot_resolve_makes_nothing(self):
        # It used to fail only when binding, after the data directory and the default queue
        # had been made.
        parent = tempfile.mkdtemp(prefix="barge-listen-")
        self.addCleanup(shutil.rmtree, parent, True)
        data = os.path.join(parent, "data")
        for listen in ("999.1.1.1:8900", "no-such-host.invalid:8900"):
            out = subprocess.run([BARGE, "server", "--dev", "--listen", listen, "--data-dir", data],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 2, out.stderr)
            self.assertIn("--listen: cannot resolve host '%s'" % listen.split(":")[0],
                          out.stderr)
            self.assertFalse(os.path.exists(data), listen)

    def test_a_port_in_use_makes_nothing(self):
        # It used to fail only when binding, after the data directory and the default queue
        # had been made.
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        parent = tempfile.mkdtemp(prefix="barge-listen-")
        self.addCleanup(shutil.rmtree, parent, True)
        data = os.path.join(parent, "data")
        out = subprocess.run([BARGE, "server", "--dev", "--listen", "127.0.0.1:%d" % port,
                              "--data-dir", data], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("cannot listen on 127.0.0.1:%d: another program" % port, out.stderr)
        self.assertFalse(os.path.exists(data))

    def test_second_server_on_same_data_dir_is_refused(self):
        s = Server().start()
        try:
            other = Server(data_dir=s.data_dir)
            with self.assertRaises(RuntimeError) as cm:
                other.start(timeout=3)
            self.assertIn("in use by another barge server", str(cm.exception))
        finally:
            s.cleanup()

    def test_second_server_is_refused_after_the_lock_file_is_removed(self):
        # DATA_DIR/LOCK is a file anyone may remove (a "stale lock" cleared by hand): a second
        # server then ran beside the first on one store, and their jobs overwrote each other's.
        s = Server().start()
        try:
            os.remove(os.path.join(s.data_dir, "LOCK"))
            other = Server(data_dir=s.data_dir)
            with self.assertRaises(RuntimeError) as cm:
                other.start(timeout=3)
            self.assertIn("the data directory %s is in use by another barge server (its LOCK "
                          "file was removed)" % s.data_dir, str(cm.exception))
            s.client().create_compute_environment(computeEnvironmentName="first",
                                                  type="UNMANAGED")
            self.assertEqual(s.stop(), 0)
            # Once the first has stopped, the directory is free again, its store whole.
            other = Server(data_dir=s.data_dir).start()
            envs = other.client().describe_compute_environments()["computeEnvironments"]
            self.assertEqual([e["computeEnvironmentName"] for e in envs], ["first"])
            self.assertEqual(other.stop(), 0)
        finally:
            s.cleanup()

    def test_region_and_account_appear_in_arns(self):
        s = Server(args=("--dev", "--region", "eu-west-3", "--account-id", "111122223333")).start()
        try:
            b = s.client()
            out = b.create_compute_environment(computeEnvironmentName="a", type="UNMANAGED")
            self.assertEqual(out["computeEnvironmentArn"],
                             "arn:aws:batch:eu-west-3:111122223333:compute-environment/a")
        finally:
            s.cleanup()

    def test_limits_are_settings(self):
        s = Server(args=("--dev", "--max-depends-on", "1", "--max-array-size", "5")).start()
        try:
            b = s.client()
            b.create_compute_environment(computeEnvironmentName="u", type="UNMANAGED")
            b.create_job_queue(jobQueueName="q", priority=1,
                               computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "u"}])
            b.register_job_definition(
                jobDefinitionName="d", type="container",
                containerProperties={"image": "busybox", "command": ["true"],
                                     "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                              {"type": "MEMORY", "value": "64"}]})
            one = b.submit_job(jobName="a", jobQueue="q", jobDefinition="d")["jobId"]
            two = b.submit_job(jobName="b", jobQueue="q", jobDefinition="d")["jobId"]
            import botocore.exceptions
            with self.assertRaises(botocore.exceptions.ClientError) as cm:
                b.submit_job(jobName="c", jobQueue="q", jobDefinition="d",
                             dependsOn=[{"jobId": one}, {"jobId": two}])
            self.assertIn("at most 1 dependencies", cm.exception.response["Error"]["Message"])
            with self.assertRaises(botocore.exceptions.ClientError) as cm:
                b.submit_job(jobName="e", jobQueue="q", jobDefinition="d",
                             arrayProperties={"size": 6})
            self.assertIn("between 2 and 5", cm.exception.response["Error"]["Message"])
            b.submit_job(jobName="f", jobQueue="q", jobDefinition="d", arrayProperties={"size": 5},
                         dependsOn=[{"jobId": one}])
        finally:
            s.cleanup()


class RefusedAtStart(unittest.TestCase):
    """Options and files the server or agent cannot use stop it at once with a sentence."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="barge-refused-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def server(self, *args):
        return run_barge("server", "--dev", "--listen", "127.0.0.1:0", "--data-dir",
                         os.path.join(self.dir, "data"), *args)

    def test_files_that_are_not_files(self):
        # /dev/zero was read without end at 100% CPU; a directory read as an empty file.
        for args, said in (
                (("--credentials", "/dev/zero"), "--credentials /dev/zero is not a regular file"),
                (("--credentials", self.dir), "--credentials %s is a directory" % self.dir),
                (("--agent-tokens", "/dev/zero"), "/dev/zero is not a regular file"),
                (("--agent-tokens", self.dir), "--agent-tokens: %s is a directory" % self.dir),
                (("--tls-cert", self.dir, "--tls-key", self.dir),
                 "--tls-cert %s is a directory" % self.dir)):
            rc, err = self.server(*args)
            self.assertEqual(rc, 2, (args, err))
            self.assertIn(said, err, args)

    def test_a_secrets_file_with_a_name_twice(self):
        # The last value was taken silently.
        path = os.path.join(self.dir, "secrets.json")
        with open(path, "w") as f:
            f.write('{"db": "one", "db": "two"}')
        os.chmod(path, 0o600)
        rc, err = self.server("--secrets", path)
        self.assertEqual(rc, 2, err)
        self.assertIn("--secrets: %s: duplicate object key" % path, err)

    def test_a_data_dir_that_cannot_be_one(self):
        path = os.path.join(self.dir, "a-file")
        open(path, "w").close()
        for d in (path, "/etc/passwd"):
            rc, err = run_barge("server", "--dev", "--listen", "127.0.0.1:0", "--data-dir", d)
            self.assertEqual(rc, 1, err)
            self.assertIn("the data directory %s is not a directory" % d, err)
            self.assertNotIn("in use by another barge server", err)
        if os.geteuid() != 0:  # root writes anywhere
            locked = os.path.join(self.dir, "locked")
            os.mkdir(locked, 0o500)
            rc, err = run_barge("server", "--dev", "--listen", "127.0.0.1:0", "--data-dir",
                                locked)
            self.assertEqual(rc, 1, err)
            self.assertIn("cannot be written: Permission denied", err)

    def test_instances_directories_inside_the_data_dir_are_refused(self):
        # Every local agent would refuse to start there, and jobs wait for capacity for ever.
        data = os.path.join(self.dir, "data-with-work")
        link = os.path.join(self.dir, "link-to-data")
        os.mkdir(data)
        os.symlink(data, link)
        for args, fragment in (
                (["--data-dir", data, "--agent-work-dir", data + "/work"], "(--agent-work-dir)"),
                (["--data-dir", data + "/", "--agent-work-dir", data], "(--agent-work-dir)"),
                (["--data-dir", data, "--agent-work-dir", link + "/w"], "(--agent-work-dir)")):
            rc, err = run_barge("server", "--dev", "--listen", "127.0.0.1:0", *args)
            self.assertEqual(rc, 2, (args, err))
            self.assertIn("are inside the data directory", err)
            self.assertIn(fragment, err)
        # The default, $TMPDIR/barge-work, as well.
        fresh = os.path.join(self.dir, "fresh-data")
        out = subprocess.run([BARGE, "server", "--dev", "--listen", "127.0.0.1:0", "--data-dir",
                              fresh], capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, TMPDIR=fresh + "/tmp"))
        self.assertEqual(out.returncode, 2, out.stderr)
        self.assertIn("($TMPDIR/barge-work), are inside the data directory", out.stderr)
        self.assertFalse(os.path.exists(fresh), "nothing is made before the refusal")

    def test_a_short_agent_token_in_the_data_dir(self):
        # SIGHUP and --agent-token refused it; the start took it.
        data = os.path.join(self.dir, "data")
        os.mkdir(data, 0o700)
        for token in ("ab", "        ", "has a space"):
            with open(os.path.join(data, "agent-token"), "w") as f:
                f.write(token + "\n")
            rc, err = self.server()
            self.assertEqual(rc, 1, (token, err))
            self.assertIn("%s/agent-token holds" % data, err)

    def test_options_checked_in_full(self):
        user = pwd.getpwuid(os.getuid()).pw_name
        for args, said in (
                (("--job-user", "nosuchuser"), "--job-user names no user on this host"),
                (("--http-threads", "2abc"), "--http-threads must be a number from 1 to 64 "
                                            "(got '2abc')"),
                (("--http-threads", "1.5"), "(got '1.5')"),
                # The first --listen's host was lost (LeakSanitizer); the last one counts.
                (("--listen", "127.0.0.1:1", "--listen", "127.0.0.2:2", "--http-threads", "0"),
                 "(got '0')")):
            rc, err = self.server(*args)
            self.assertEqual(rc, 2, (args, err))
            self.assertIn(said, err, args)
        for ok in (user, "4242"):
            rc, err = self.server("--job-user", ok, "--http-threads", "x")
            self.assertNotIn("--job-user", err)

    def test_agent_server_urls_it_could_never_reach(self):
        # Each was retried without end.  --instance-id and --work-dir given twice leaked the
        # first (LeakSanitizer, under make sanitize).
        for url, said in (("http://127.0.0.1:99999", "port that is not 1 to 65535"),
                          ("http://[::1", "without its closing ']'"),
                          ("http://a b/", "a space or a control character"),
                          ("http://127.0.0.1:1,http://", "names no host")):
            rc, err = run_barge("agent", "--compute-environment", "c", "--instance-id", "i-1",
                                "--instance-id", "i-2", "--work-dir", self.dir, "--work-dir",
                                self.dir, "--server", url)
            self.assertEqual(rc, 2, (url, err))
            self.assertIn("--server '", err)
            self.assertIn(said, err, url)

    def test_an_agent_pointed_at_something_that_is_not_barge(self):
        # It said "HTTP 501" and retried without a hint of what was wrong.
        class NotBarge(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass
        httpd = http.server.HTTPServer(("127.0.0.1", 0), NotBarge)  # 501 to POST, in HTML
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        self.addCleanup(httpd.server_close)
        self.addCleanup(httpd.shutdown)
        p = subprocess.Popen([BARGE, "agent", "--compute-environment", "c", "--executor",
                              "process", "--work-dir", self.dir, "--token", "abcdefgh12",
                              "--server", "http://127.0.0.1:%d" % httpd.server_address[1]],
                             stderr=subprocess.PIPE, text=True)
        try:
            line = ""
            while "cannot register" not in line:
                line = p.stderr.readline()
                self.assertTrue(line, "the agent ended without saying why it cannot register")
            self.assertIn("the answer is not a barge server's", line)
        finally:
            p.kill()
            p.wait()


if __name__ == "__main__":
    unittest.main()
