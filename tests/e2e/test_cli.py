"""The command-line interface for people: `barge submit`, `jobs`, `describe`, `logs`, `cancel`
and `terminate`, run as a user runs them, against a real server.

Usage errors and an unreachable endpoint need no jobs API.  The round trips need the server's
jobs API (SubmitJob and friends) and, for jobs that really run, `barge agent` behind a MANAGED
compute environment: each class checks for what it needs in setUpClass and says so when it
skips.
"""
import json
import re
import os
import shlex
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import (ACCESS_KEY, BARGE, SECRET_KEY, Server, ServerTestCase, free_port,
                     stand_in_server)


def cli_env(endpoint=None):
    """The environment the CLI runs in: none of the caller's endpoint or AWS settings."""
    e = dict(os.environ)
    for k in ("BARGE_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
              "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
              "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BATCH", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
              "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
              "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"):
        e.pop(k, None)
    # No shared credentials file of the machine's is read.
    e["AWS_SHARED_CREDENTIALS_FILE"] = e["AWS_CONFIG_FILE"] = "/nonexistent/aws"
    if endpoint:
        e["BARGE_ENDPOINT"] = endpoint
    return e


def barge(*args, endpoint=None, timeout=60, env=None):
    """Runs the barge binary; returns (exit code, stdout, stderr)."""
    e = cli_env(endpoint)
    e.update(env or {})
    p = subprocess.run([BARGE] + list(args), capture_output=True, text=True, env=e,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def barge_sh(shell_tail, *args, endpoint=None, timeout=60):
    """Runs barge through sh, its stdout sent as shell_tail says ("| head -1", ">/dev/full",
    ">&-"), with SIGPIPE ignored as some shells and services leave it; returns (exit code of
    barge, stdout, stderr)."""
    e = cli_env(endpoint)
    cmd = " ".join(shlex.quote(a) for a in [BARGE] + list(args))
    script = "trap '' PIPE; %s %s; echo \"barge-rc=${PIPESTATUS[0]}\" >&2" % (cmd, shell_tail)
    p = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=e,
                       timeout=timeout)
    err, _, rc = p.stderr.rpartition("barge-rc=")
    return int(rc), p.stdout, err


def pty_read_to_end(fd):
    """What is left to read from a terminal's leader side, until its other end is closed."""
    seen = b""
    try:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            seen += chunk
    except OSError:
        pass  # the terminal's other end is closed
    return seen


def barge_on_terminal(*args, endpoint=None, rows=24, columns=80, timeout=60, env=None):
    """Runs barge with its output on a terminal of that window size, set before it starts (set
    after, a quick command could ask first and see none); returns (exit code, what it printed,
    its line ends as "\n")."""
    import fcntl
    import pty
    import struct
    import termios
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    e = cli_env(endpoint)
    e.update(env or {})
    p = subprocess.Popen([BARGE] + list(args), stdin=subprocess.DEVNULL, stdout=follower,
                         stderr=follower, env=e)
    os.close(follower)
    try:
        seen = pty_read_to_end(leader)
        rc = p.wait(timeout=timeout)
    finally:
        p.kill()
        os.close(leader)
    return rc, seen.decode().replace("\r\n", "\n")


def jobs_api_missing(server):
    """Why the server cannot run the job tests, or None when it can."""
    status, _, body = server.raw("POST", "/v1/submitjob", {})
    if status == 404 or "no such operation" in json.dumps(body):
        return "the server does not answer SubmitJob yet"
    return None


def make_idle_queue(batch, ce, queue, definition, command):
    """A queue whose only compute environment is UNMANAGED with no agent, so that its jobs stay
    RUNNABLE until the CLI changes them, and a definition of 1 vCPU and 64 MiB running command."""
    batch.create_compute_environment(computeEnvironmentName=ce, type="UNMANAGED")
    batch.create_job_queue(jobQueueName=queue, priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])
    batch.register_job_definition(
        jobDefinitionName=definition, type="container",
        containerProperties={"image": "busybox", "command": command,
                             "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                      {"type": "MEMORY", "value": "64"}]})


COMMANDS = ("submit", "jobs", "describe", "logs", "cancel", "terminate", "run", "explain", "watch", "usage", "events")


class ArraySizeOfTheServer(unittest.TestCase):
    """The CLI leaves the most children to the server, which may be set to take more than AWS."""

    def test_array_size_past_awss_goes_to_a_server_set_to_take_it(self):
        # 15,000 was refused by the CLI though the server took it (--max-array-size 20000).
        server = Server(args=("--dev", "--max-array-size", "20000")).start()
        self.addCleanup(server.stop)
        make_idle_queue(server.client("batch"), "big-ce", "big", "big", ["true"])
        rc, out, err = barge("submit", "--queue", "big", "--definition", "big", "--array-size",
                             "15000", endpoint=server.url)
        self.assertEqual(rc, 0, err)
        jid = out.split()[0]
        size = server.client("batch").describe_jobs(jobs=[jid])["jobs"][0]["arrayProperties"]
        self.assertEqual(size["size"], 15000)
        # Past the server's own, the server says so.
        rc, out, err = barge("submit", "--queue", "big", "--definition", "big", "--array-size",
                             "20001", endpoint=server.url)
        self.assertEqual(rc, 1, err)
        self.assertIn("20000", err)


class Usage(unittest.TestCase):
    """What needs no server at all."""

    def test_main_help_lists_the_commands(self):
        rc, out, _ = barge("help")
        self.assertEqual(rc, 0)
        for c in COMMANDS:
            self.assertIn("  %s " % c, out)

    def test_help_of_a_command_and_arguments_not_taken(self):
        """`barge help COMMAND` is that command's help; a name that is no command, and words
        after `version` or after help's one, are usage errors."""
        for c in COMMANDS + ("server", "agent"):
            rc, out, err = barge("help", c)
            self.assertEqual((rc, err), (0, ""), c)
            self.assertIn("usage: barge %s" % c, out)
        self.assertEqual(barge("help", "help")[:2], barge("help")[:2])
        for args, says in ((["help", "nope"], "'nope' is not a command"),
                           (["help", "run", "extra"], "takes one command's name at most"),
                           (["version", "extra"], "`barge version` takes no arguments"),
                           (["nope"], "'nope' is not a command")):
            rc, out, err = barge(*args)
            self.assertEqual((rc, out), (2, ""), args)
            self.assertIn(says, err, args)
        self.assertEqual(barge("version")[0], 0)

    def test_version_help_is_a_usage(self):
        """`barge version --help` (and `barge help version`) describe version, as any
        command's --help does, rather than calling --help an argument it does not take."""
        for args in (["version", "--help"], ["version", "-h"], ["help", "version"],
                     ["--version", "--help"]):
            rc, out, err = barge(*args)
            self.assertEqual((rc, err), (0, ""), args)
            self.assertTrue(out.startswith("usage: barge version\n"), (args, out))

    def test_help_and_version_that_cannot_be_written_fail(self):
        """As `barge jobs --help > /dev/full` does: a script must not take output it never got
        for success."""
        for args in (["--help"], ["-h"], ["help"], ["help", "help"], ["version"],
                     ["--version"], ["version", "--help"]):
            for tail in (">/dev/full", ">&-"):
                rc, _, err = barge_sh(tail, *args)
                self.assertEqual(rc, 1, (args, tail, err))
                self.assertIn("barge: writing the output failed", err, (args, tail))

    def test_a_common_option_before_the_command_says_where_it_goes(self):
        url = "http://127.0.0.1:%d" % free_port()
        for args, says in (
                (["--endpoint", url, "jobs", "--queue", "a b"],
                 "barge: options go after the command: barge jobs --endpoint %s --queue 'a b'"
                 % url),
                (["--json", "--region=eu-west-1", "describe", "x"],
                 "barge: options go after the command: barge describe --json --region=eu-west-1 x"),
                (["--endpoint", url], "options go after the command: barge COMMAND --endpoint"),
                (["--ca-file", "f", "nope"], "options go after the command: barge COMMAND"),
                (["help", "--region"], "options go after the command: barge COMMAND --region")):
            rc, out, err = barge(*args)
            self.assertEqual((rc, out), (2, ""), (args, err))
            self.assertIn(says, err, args)
            self.assertEqual(err.count("\n"), 1, err)

    def test_an_endpoint_with_a_user_and_password_is_refused(self):
        """USER:PASSWORD@ is not how barge authenticates; the server would refuse the request
        with words about its Host header.  The URL is not echoed: it holds a password."""
        url = "http://user:secretpw@127.0.0.1:%d" % free_port()
        for args, env, name in ((["--endpoint", url], None, "--endpoint"),
                                ([], url, "$BARGE_ENDPOINT"),
                                (["--endpoint", url.replace("user:secretpw", "u")], None,
                                 "--endpoint")):
            rc, out, err = barge("jobs", "--queue", "q", *args, endpoint=env)
            self.assertEqual((rc, out), (2, ""), (args, err))
            self.assertIn("barge jobs: %s must not hold a user name or password" % name, err)
            self.assertNotIn("secretpw", err)

    def test_environment_values_that_are_not_utf8_are_refused(self):
        """As the arguments are, by name: "\udce9" is the byte 0xe9 alone (Latin-1 é)."""
        url = "http://127.0.0.1:%d" % free_port()
        for name, value, shown in (("BARGE_ENDPOINT", url + "/\udce9", "'%s/?'" % url),
                                   ("AWS_REGION", "eu\udce9", "'eu?'"),
                                   ("AWS_DEFAULT_REGION", "eu\udce9", "'eu?'"),
                                   ("AWS_ACCESS_KEY_ID", "AK\udce9", "'AK?'"),
                                   ("AWS_SECRET_ACCESS_KEY", "s\udce9cret", None),
                                   ("AWS_SESSION_TOKEN", "t\udce9ken", None)):
            env = {name: value}
            if name != "BARGE_ENDPOINT":
                env["BARGE_ENDPOINT"] = url
            if name.startswith(("AWS_ACCESS", "AWS_SECRET", "AWS_SESSION")):
                env = dict({"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s"}, **env)
            e = cli_env()
            e.update(env)
            # Read with surrogateescape: what the server echoes of such a value need not be
            # UTF-8 either.
            p = subprocess.run([BARGE, "jobs", "--queue", "q"], capture_output=True, env=e,
                               text=True, errors="surrogateescape", timeout=60)
            rc, out, err = p.returncode, p.stdout, p.stderr
            self.assertEqual((rc, out), (2, ""), (name, err))
            self.assertTrue(err.startswith("barge jobs: $%s " % name), err)
            self.assertIn("is not valid UTF-8 text", err)
            if shown:
                self.assertIn(shown, err)
            else:
                self.assertNotIn("cret", err)  # a secret is not shown
                self.assertNotIn("ken", err)

    def test_a_region_too_long_or_not_a_regions_name_is_named(self):
        url = "http://127.0.0.1:%d" % free_port()
        long_region = "a" * 100000
        for args, env, says in (
                (["--region", long_region], None, "--region must be a region such as us-east-1"),
                ([], {"AWS_REGION": long_region}, "$AWS_REGION must be a region"),
                (["--region", "US-EAST-1"], None, "--region must be a region"),
                (["--region", "eu-west-1-"], None, "--region must be a region"),
                ([], {"AWS_DEFAULT_REGION": "us east"}, "$AWS_DEFAULT_REGION must be a region")):
            rc, out, err = barge("jobs", "--queue", "q", *args, endpoint=url, env=env)
            self.assertEqual((rc, out), (2, ""), (args, env and list(env), err[:300]))
            self.assertIn(says, err)
            self.assertLess(len(err), 400)  # the value is not echoed
        rc, _, err = barge("jobs", "--queue", "q", "--region", long_region, endpoint=url)
        self.assertIn("(it is 100000 characters long)", err)

    def test_array_size_is_checked_as_every_server_would(self):
        """At least 2 children, as AWS Batch takes, and at most the 1,000,000 a server may be
        set to take (--max-array-size): refused before any call."""
        url = "http://127.0.0.1:%d" % free_port()
        for cmd in (["submit", "--queue", "q", "--definition", "d"],
                    ["run", "--image", "busybox"]):
            for size in ("1", "1000001", "0"):
                rc, out, err = barge(*cmd, "--array-size", size, "--", "true", endpoint=url)
                self.assertEqual((rc, out), (2, ""), (cmd, size, err))
                self.assertIn("barge %s: --array-size must be a whole number of children, from "
                              "2 to 1000000 (got '%s')" % (cmd[0], size), err)

    def test_an_empty_first_word_of_the_command_is_refused(self):
        """`-- "$CMD" x` with CMD unset: the job would fail only once started, with exec: ""."""
        url = "http://127.0.0.1:%d" % free_port()
        for cmd in (["submit", "--queue", "q", "--definition", "d"],
                    ["run", "--image", "busybox"]):
            for words in ([""], ["", "x"]):
                rc, out, err = barge(*cmd, "--", *words, endpoint=url)
                self.assertEqual((rc, out), (2, ""), (cmd, words, err))
                self.assertIn("barge %s: the job's command after `--` starts with an empty word"
                              % cmd[0], err)
        # An empty word further on is refused too, as AWS Batch's SubmitJob refuses it
        # ("Command cannot be empty"), before anything is sent.
        for cmd in (["submit", "--queue", "q", "--definition", "d"],
                    ["run", "--image", "busybox"]):
            rc, out, err = barge(*cmd, "--", "echo", "a", "", endpoint=url)
            self.assertEqual((rc, out), (2, ""), (cmd, err))
            self.assertIn("barge %s: word 3 of the job's command after `--` is empty; AWS Batch "
                          "refuses an empty string in a command: leave it out" % cmd[0], err)

    def test_every_command_has_help(self):
        for c in COMMANDS:
            rc, out, err = barge(c, "--help")
            self.assertEqual((rc, err), (0, ""), c)
            self.assertIn("usage: barge %s" % c, out)
            for opt in ("--endpoint", "--region", "--json"):
                self.assertIn(opt, out, c)
            # Each option explained once (logs listed --json twice).
            listed = re.findall(r"^\s+(?:-\w, )?(--[a-z-]+)", out, re.M)
            self.assertEqual(sorted(set(listed)), sorted(listed), c)
        rc, out, _ = barge("submit", "-h")
        self.assertEqual(rc, 0)
        for opt in ("--queue", "--definition", "--name", "--array-size", "--depends-on",
                    "--param", "--env", "--vcpus", "--memory", "--attempts", "--timeout"):
            self.assertIn(opt, out)

    def test_usage_errors_name_the_option_and_exit_2(self):
        cases = [
            (["submit"], "--queue is required"),
            (["submit", "--queue", "q"], "--definition is required"),
            (["submit", "--queue", "q", "--definition", "d", "echo"], "after `--`"),
            (["submit", "--queue", "q", "--definition", "d", "--"], "followed by the job's command"),
            (["submit", "--queue"], "--queue needs a value"),
            (["submit", "--bogus"], "unknown option '--bogus'"),
            (["submit", "--queue", "q", "--definition", "d", "--array-size", "ten"], "--array-size"),
            (["submit", "--queue", "q", "--definition", "d", "--attempts", "0"], "--attempts"),
            (["submit", "--queue", "q", "--definition", "d", "--timeout", "1.5"], "--timeout"),
            (["submit", "--queue", "q", "--definition", "d", "--memory", "lots"], "--memory"),
            (["submit", "--queue", "q", "--definition", "d", "--memory", "99999999999"],
             "--memory must be a whole number of MiB, from 4 to 2147483647"),
            (["submit", "--queue", "q", "--definition", "d", "--vcpus", "-1"], "--vcpus"),
            (["submit", "--queue", "q", "--definition", "d", "--env", "NOVALUE"], "--env 'NOVALUE'"),
            (["submit", "--queue", "q", "--definition", "d", "--param", "=x"], "--param"),
            (["submit", "--queue", "q", "--definition", "d", "--depends-on", "x:ALL"], "--depends-on"),
            (["jobs"], "--queue is required"),
            (["jobs", "--queue", "q", "--status", "DONE"], "--status 'DONE' is not a job status"),
            (["jobs", "--queue", "q", "--status", "RUNNING,"], "--status '' is not a job status"),
            (["jobs", "--queue", "q", "--status", "RUNNING", "--all"], "exclude each other"),
            (["jobs", "stray"], "unexpected argument 'stray'"),
            (["describe"], "at least one job id"),
            (["logs"], "give the id"),
            (["logs", "a", "b"], "one job id"),
            (["logs", "a", "--attempt", "0"], "--attempt"),
            (["cancel"], "give the id of the job to cancel"),
            (["terminate"], "give the id of the job to terminate"),
            (["cancel", "x", "--reason", ""], "--reason"),
            # An empty id (an unset shell variable) is a usage error, not "no such job".
            (["explain", ""], "a job id must not be empty"),
            (["logs", ""], "a job id must not be empty"),
            (["describe", "a", ""], "a job id must not be empty"),
            (["terminate", ""], "a job id must not be empty"),
            (["watch", "--array", ""], "--array must not be empty"),
            # A queue no name can be is the command line's mistake, as for submit.
            (["jobs", "--queue", "bad/name"], "--queue 'bad/name' is no job queue's name"),
            (["usage", "--queue", ""], "--queue '' is no job queue's name"),
            (["usage", "--queue", "bad/name"], "--queue 'bad/name' is no job queue's name"),
            (["watch", "--once", "bad/name"], "'bad/name' is no job queue's name"),
            (["watch", "--once", ""], "'' is no job queue's name"),
            (["events", "--queue", "x y"], "--queue 'x y' is no job queue's name"),
            (["jobs", "--queue", "q", "--endpoint", "localhost:8900"], "not a URL"),
            (["jobs", "--queue", "q", "--endpoint", "http://127.0.0.1:99999"], "not a URL"),
            (["jobs", "--queue", "q", "--endpoint", "http://[::1"], "not a URL"),
            (["jobs", "--queue", "q", "--endpoint", "http://h:"], "not a URL"),
            (["jobs", "--queue", "q", "--region", ""], "--region must be a region"),
            # A short option in a group is named, not the word before it.
            (["logs", "-xf", "JOB"], "unknown option '-x'"),
            (["run", "-qh"], "unknown option '-q'"),
            (["jobs", "--json=1"], "--json takes no value"),
            (["logs", "--follow=yes", "x"], "--follow takes no value"),
            (["jobs", "--a"], "'--a' is ambiguous: it matches --all, --array"),
            (["events", "--status", ""], "--status takes statuses"),
            (["events", "--status", ",,,"], "--status takes statuses"),
            (["events", "--status", "running,done"], "'done' is not a job status"),
            (["events", "--after", "-1"], "--after"),
            (["submit", "--queue", "q", "--definition", "d", "--depends-on", "x:SEQUENTIAL"],
             "a SEQUENTIAL dependency names no job"),
            (["submit", "--queue", "q", "--definition", ""], "--definition must not be empty"),
            (["run", "--definition", ""], "--definition must not be empty"),
            (["run", "--image", "", "--", "true"], "--image must not be empty"),
            (["fleet", "list", "extra"], "unexpected argument 'extra'"),
            (["fleet", "drain", "--compute-environment", "ce", "i-1"],
             "--compute-environment only narrows `barge fleet list`"),
        ]
        for args, fragment in cases:
            rc, out, err = barge(*args)
            self.assertEqual(rc, 2, (args, err))
            self.assertEqual(out, "", args)
            self.assertIn(fragment, err, args)
            self.assertTrue(err.startswith("barge %s: " % args[0]), err)

    def test_unreachable_endpoint_says_where_and_how_to_start_one(self):
        url = "http://127.0.0.1:%d" % free_port()
        for args in (["jobs", "--queue", "q"], ["describe", "x"], ["logs", "x"],
                     ["cancel", "x"], ["submit", "--queue", "q", "--definition", "d"]):
            rc, out, err = barge(*args, endpoint=url)
            self.assertEqual(rc, 1, args)
            self.assertEqual(out, "")
            self.assertIn(url, err)
            self.assertIn("barge server --dev", err)
        # Several ids, one server that cannot be reached: said once, not once per id.
        rc, out, err = barge("cancel", "a", "b", "c", endpoint=url)
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(err.count("cannot reach"), 1, err)
        # --endpoint wins over $BARGE_ENDPOINT.
        rc, _, err = barge("jobs", "--queue", "q", "--endpoint", url + "/",
                           endpoint="http://127.0.0.1:1")
        self.assertEqual(rc, 1)
        self.assertIn(url, err)

    def test_a_server_that_never_answers_is_given_up_after_a_minute(self):
        """A following command whose first call meets something that takes the connection and
        never answers waited two minutes (the minute the call may take, then a minute of
        patience counted from its end), and then said it had waited one: the minute counts
        from the call, so it gives up once the call has had no answer for a minute."""
        import socket
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(16)  # connections are taken by the kernel, and never answered
        self.addCleanup(lsock.close)
        url = "http://127.0.0.1:%d" % lsock.getsockname()[1]
        start = time.time()
        rc, out, err = barge("watch", "q", "--every", "1", endpoint=url, timeout=200)
        took = time.time() - start
        self.assertEqual((rc, out), (1, ""), err)
        self.assertIn("has been unavailable for 60 seconds", err)
        self.assertGreater(took, 55, err)
        self.assertLess(took, 100, err)

    def test_run_gives_up_after_the_first_call_that_has_no_answer(self):
        """barge run asked for its queue, took no answer for an EC2 queue and went on to ask
        for its definition: a server that takes connections and never answers was waited for
        twice, a minute each.  One that closes them unanswered counts the calls at once."""
        import socket
        import threading
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(8)
        self.addCleanup(lsock.close)
        calls = []

        def serve():
            while True:
                try:
                    conn, _ = lsock.accept()
                except OSError:
                    return
                with conn:
                    calls.append(conn.recv(65536).split(b" ")[1].decode())

        threading.Thread(target=serve, daemon=True).start()
        url = "http://127.0.0.1:%d" % lsock.getsockname()[1]
        rc, out, err = barge("run", "--image", "busybox", "--", "true", endpoint=url,
                             timeout=30)
        self.assertEqual((rc, out), (1, ""), err)
        self.assertIn("DescribeJobQueues failed against %s: the server closed the connection "
                      "without an answer" % url, err)
        self.assertEqual(calls, ["/v1/describejobqueues"], err)

    def test_an_endless_answer_is_refused(self):
        """Something at the endpoint that answers without end (an announced gigabyte, or a
        chunked body that never stops) is refused once the answer passes 256 MiB, at once when
        its length is announced; the CLI neither waits for the end nor holds it all."""
        import socket
        import threading
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(4)
        self.addCleanup(lsock.close)
        stop = threading.Event()
        self.addCleanup(stop.set)
        chunk = b"x" * (1 << 20)

        def answer(conn, chunked):
            with conn:
                conn.settimeout(30)
                head = b""
                while b"\r\n\r\n" not in head:
                    got = conn.recv(65536)
                    if not got:
                        return
                    head += got
                try:
                    if chunked:
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                     b"Transfer-Encoding: chunked\r\n\r\n")
                        piece = b"%x\r\n%s\r\n" % (len(chunk), chunk)
                        for _ in range(320):
                            conn.sendall(piece)
                    else:
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                     b"Content-Length: %d\r\n\r\n{" % (1 << 30))
                    stop.wait(60)  # then silence, the connection left open
                except OSError:
                    pass

        def serve(chunked):
            while not stop.is_set():
                try:
                    conn, _ = lsock.accept()
                except OSError:
                    return
                threading.Thread(target=answer, args=(conn, chunked), daemon=True).start()

        url = "http://127.0.0.1:%d" % lsock.getsockname()[1]
        for chunked in (False, True):
            if chunked:
                lsock.close()
                lsock = socket.socket()
                lsock.bind(("127.0.0.1", 0))
                lsock.listen(4)
                self.addCleanup(lsock.close)
                url = "http://127.0.0.1:%d" % lsock.getsockname()[1]
            threading.Thread(target=serve, args=(chunked,), daemon=True).start()
            start = time.time()
            rc, out, err = barge("jobs", "--queue", "q", endpoint=url, timeout=40)
            self.assertEqual((rc, out), (1, ""), err)
            self.assertIn("the answer is longer than 268435456 bytes", err)
            self.assertLess(time.time() - start, 30, "the CLI waited for the end of the answer")

    def fake_server(self, answer):
        """A stand-in server: answer(operation, request) gives the JSON answer of each call;
        returns its URL and the list of operations called."""
        calls = []

        def reply(op, body):
            calls.append(op)
            return json.dumps(answer(op, json.loads(body or b"{}"))).encode()
        return stand_in_server(self, reply), calls

    def test_pages_that_go_round_in_a_circle_end(self):
        """A server whose tokens go a, b, a, b... gives a fresh token each time, never the one
        just sent: ListJobs, GetUsage and GetLogEvents end with a sentence rather than page for
        ever."""
        turn = {None: "a", "a": "b", "b": "a"}
        job = {"jobId": "j", "jobName": "n", "status": "SUCCEEDED",
               "container": {"logStreamName": "s"},
               "attempts": [{"container": {"logStreamName": "s"}}]}

        def answer(op, req):
            token = turn[req.get("nextToken")]
            if op == "listjobs":
                return {"jobSummaryList": [{"jobId": "j" + token, "status": "RUNNING"}],
                        "nextToken": token}
            if op == "getusage":
                return {"groups": [{"key": "d", "jobs": 1}], "nextToken": token}
            if op == "describejobs":
                return {"jobs": [job]}
            return {"events": [{"timestamp": 1, "message": "line"}],
                    "nextForwardToken": token}
        url, _ = self.fake_server(answer)
        for args, op in ((["jobs", "--queue", "q"], "ListJobs"),
                         (["usage", "--queue", "q"], "GetUsage"), (["logs", "j"], "GetLogEvents")):
            rc, out, err = barge(*args, endpoint=url, timeout=30)
            self.assertEqual(rc, 1, (args, err))
            token = "nextForwardToken" if op == "GetLogEvents" else "nextToken"
            self.assertIn("the server's %s gives back a %s it was sent before" % (op, token), err)

    def test_watch_array_asks_as_often_as_every_says(self):
        """--every applies to --array too (it was taken, and the array asked every second)."""
        arr = {"jobId": "arr", "jobName": "n", "status": "PENDING",
               "arrayProperties": {"size": 2, "statusSummary": {"RUNNABLE": 2}}}
        seen = []  # when each DescribeJobs arrived

        def answer(op, req):
            if op == "describejobs":
                seen.append(time.monotonic())
            return {"jobs": [arr]}
        url, calls = self.fake_server(answer)
        p = subprocess.Popen([BARGE, "watch", "--array", "arr", "--every", "3"],
                             env=cli_env(url), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        # Timed between its first two calls, however late a loaded machine starts it or lets it
        # run: 3 s apart, not one (a late call only widens the gap).
        deadline = time.time() + 30
        while len(seen) < 2 and time.time() < deadline:
            time.sleep(0.02)
        p.kill()
        p.wait()
        self.assertGreaterEqual(len(seen), 2, calls)
        self.assertGreater(seen[1] - seen[0], 2.0, calls)

    def test_control_characters_never_reach_the_headers(self):
        """The region and the credentials go into every request's headers: a CR or LF in one
        would add a header of its own, so they are refused before any request is made."""
        url = "http://127.0.0.1:%d" % free_port()
        for env, name in (({"AWS_REGION": "us-east-1\r\nX-Injected: 1"}, "$AWS_REGION"),
                          ({"AWS_DEFAULT_REGION": "eu\n"}, "$AWS_DEFAULT_REGION"),
                          ({"AWS_ACCESS_KEY_ID": "AKID\r\nX: y"}, "$AWS_ACCESS_KEY_ID"),
                          ({"AWS_SECRET_ACCESS_KEY": "s\x01"}, "$AWS_SECRET_ACCESS_KEY"),
                          ({"AWS_SESSION_TOKEN": "tok\nen"}, "$AWS_SESSION_TOKEN")):
            # The keys go together: the other of the two (or both, for a token) given well.
            env = dict({"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s"}, **env)
            rc, out, err = barge("jobs", "--queue", "q", endpoint=url, env=env)
            self.assertEqual((rc, out), (2, ""), env)
            self.assertIn(name, err)
            self.assertNotIn("cannot reach", err)
        rc, _, err = barge("jobs", "--queue", "q", "--region", "a\r\nb", endpoint=url)
        self.assertEqual(rc, 2)
        self.assertIn("--region must be", err)


class Jobs(ServerTestCase):
    """Round trips on a queue whose compute environment has no instances, so jobs stay
    RUNNABLE until the CLI changes them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        why = jobs_api_missing(cls.server)
        if why:
            cls.server.cleanup()
            raise unittest.SkipTest(why)
        make_idle_queue(cls.batch, "idle-ce", "idle", "hello", ["echo", "Ref::word"])

    def cli(self, *args, **kw):
        return barge(*args, endpoint=self.server.url, **kw)

    def ok(self, *args):
        rc, out, err = self.cli(*args)
        self.assertEqual(rc, 0, (args, err))
        return out

    def submit(self, *extra):
        out = self.ok("submit", "--queue", "idle", "--definition", "hello", *extra)
        job_id, name = out.split()
        return job_id, name

    def describe(self, job_id):
        return self.batch.describe_jobs(jobs=[job_id])["jobs"][0]

    def test_submit_prints_id_and_name_and_sends_every_option(self):
        job_id, name = self.submit()
        self.assertRegex(job_id, r"^[0-9a-f-]{36}$")
        self.assertEqual(name, "hello")  # the definition's name by default
        dep_id, _ = self.submit("--name", "second", "--depends-on", job_id,
                                "--param", "word=hi", "--env", "GREETING=hello world",
                                "--vcpus", "2", "--memory", "128", "--attempts", "3",
                                "--timeout", "120", "--", "sh", "-c", "echo $GREETING")
        j = self.describe(dep_id)
        self.assertEqual(j["jobName"], "second")
        self.assertEqual(j["dependsOn"], [{"jobId": job_id}])
        self.assertEqual(j["parameters"]["word"], "hi")
        self.assertEqual(j["container"]["command"], ["sh", "-c", "echo $GREETING"])
        self.assertIn({"name": "GREETING", "value": "hello world"}, j["container"]["environment"])
        rr = {r["type"]: r["value"] for r in j["container"]["resourceRequirements"]}
        self.assertEqual((rr["VCPU"], rr["MEMORY"]), ("2", "128"))
        self.assertEqual(j["retryStrategy"]["attempts"], 3)
        self.assertEqual(j["timeout"]["attemptDurationSeconds"], 120)

    def test_submit_json_prints_the_answer(self):
        out = self.ok("submit", "--queue", "idle", "--definition", "hello", "--name", "js",
                      "--json")
        answer = json.loads(out)
        self.assertEqual(answer["jobName"], "js")
        self.assertTrue(answer["jobArn"].endswith("job/" + answer["jobId"]))

    def test_server_errors_print_the_servers_message(self):
        rc, out, err = self.cli("submit", "--queue", "no-such-queue", "--definition", "hello")
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("no-such-queue", err)
        self.assertTrue(err.startswith("barge submit: "), err)
        self.assertNotIn("ClientException", err)
        # Half a vCPU is a Fargate size, which the CLI cannot know the queue is not: the
        # server says so, of the option given.  (--array-size 100000 was this case until the
        # CLI checked its range.)
        rc, _, err = self.cli("submit", "--queue", "idle", "--definition", "hello",
                              "--memory", "64", "--vcpus", "0.5")
        self.assertEqual(rc, 1, err)
        self.assertIn("barge submit: --vcpus: '0.5' is not a valid VCPU value on EC2", err)
        self.assertNotIn("resourceRequirements", err)

    def test_jobs_table_and_json(self):
        job_id, _ = self.submit("--name", "listed")
        deadline = time.time() + 10
        while self.describe(job_id)["status"] != "RUNNABLE" and time.time() < deadline:
            time.sleep(0.05)
        out = self.ok("jobs", "--queue", "idle")
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["JOB", "ID", "NAME", "STATUS", "CREATED", "RUNTIME",
                                            "EXIT"])
        row = [l for l in lines if l.startswith(job_id)]
        self.assertEqual(len(row), 1, out)
        self.assertEqual(row[0].split()[1:3], ["listed", "RUNNABLE"])
        self.assertRegex(row[0], r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
        listed = json.loads(self.ok("jobs", "--queue", "idle", "--status", "runnable",
                                    "--json"))["jobSummaryList"]
        self.assertIn(job_id, [s["jobId"] for s in listed])
        self.assertIn("No SUCCEEDED jobs in queue idle",
                      self.ok("jobs", "--queue", "idle", "--status", "SUCCEEDED"))
        # Several statuses, by commas or given again: jobs in any of them.
        for args in (["--status", "succeeded,RUNNABLE"], ["--status", "SUCCEEDED", "--status",
                                                           "runnable"]):
            listed = json.loads(self.ok("jobs", "--queue", "idle", "--json", *args))
            self.assertIn(job_id, [s["jobId"] for s in listed["jobSummaryList"]], args)
        # (No job of queue idle ever starts: its environment has no agent.)
        self.assertIn("No STARTING or RUNNING jobs in queue idle",
                      self.ok("jobs", "--queue", "idle", "--status", "RUNNING,STARTING"))
        named = json.loads(self.ok("jobs", "--queue", "idle", "--name", "list*", "--all",
                                   "--json"))["jobSummaryList"]
        self.assertEqual([s["jobId"] for s in named], [job_id])
        rc, _, err = self.cli("jobs", "--queue", "no-such-queue")
        self.assertEqual(rc, 1)
        self.assertIn("no-such-queue", err)

    def test_jobs_follows_every_page_and_all_lists_every_status(self):
        ids = {self.batch.submit_job(jobName="paged", jobQueue="idle",
                                     jobDefinition="hello")["jobId"] for _ in range(130)}
        cancelled = sorted(ids)[0]
        self.ok("cancel", cancelled)
        listed = json.loads(self.ok("jobs", "--queue", "idle", "--all", "--name", "paged",
                                    "--json"))["jobSummaryList"]
        self.assertEqual({s["jobId"] for s in listed}, ids)
        created = [s["createdAt"] for s in listed]
        self.assertEqual(created, sorted(created))  # oldest first
        active = json.loads(self.ok("jobs", "--queue", "idle", "--json"))["jobSummaryList"]
        self.assertTrue(ids - {cancelled} <= {s["jobId"] for s in active})
        self.assertNotIn(cancelled, {s["jobId"] for s in active})

    def test_describe_text_and_json(self):
        job_id, _ = self.submit("--name", "described", "--param", "word=x y")
        out = self.ok("describe", job_id)
        self.assertTrue(out.startswith("job %s\n" % job_id), out)
        for fragment in ("name          described", "queue         idle",
                         "definition    hello:1", "image         busybox",
                         "command       echo 'x y'", "created"):
            self.assertIn(fragment, out)
        answer = json.loads(self.ok("describe", job_id, "--json"))
        self.assertEqual([j["jobId"] for j in answer["jobs"]], [job_id])
        rc, out, err = self.cli("describe", job_id, "no-such-job")
        self.assertEqual(rc, 1)
        self.assertIn(job_id, out)
        self.assertIn("no job has the id 'no-such-job'", err)

    def test_array_jobs(self):
        parent, _ = self.submit("--name", "arr", "--array-size", "3")
        out = self.ok("describe", parent)
        self.assertIn("array         size 3", out)
        children = json.loads(self.ok("jobs", "--array", parent, "--all",
                                      "--json"))["jobSummaryList"]
        self.assertEqual(sorted(c["jobId"] for c in children),
                         ["%s:%d" % (parent, i) for i in range(3)])
        rc, _, err = self.cli("logs", parent)
        self.assertEqual(rc, 2)
        self.assertIn("array job", err)

    def test_cancel_with_default_and_given_reason(self):
        a, _ = self.submit()
        b, _ = self.submit()
        out = self.ok("cancel", a)
        self.assertIn("Cancel requested for job " + a, out)
        self.ok("cancel", b, "--reason", "not needed")
        self.wait_status(lambda: self.describe(a)["status"], "FAILED")
        self.wait_status(lambda: self.describe(b)["status"], "FAILED")
        self.assertEqual(self.describe(a)["statusReason"], "Cancelled by barge CLI")
        self.assertEqual(self.describe(b)["statusReason"], "not needed")
        out = self.ok("cancel", a)
        self.assertIn("already finished", out)
        rc, _, err = self.cli("cancel", "no-such-job")
        self.assertEqual(rc, 1)
        self.assertIn("no-such-job", err)

    def test_terminate_with_default_reason(self):
        a, _ = self.submit()
        out = self.ok("terminate", a)
        self.assertIn("Terminate requested for job " + a, out)
        self.wait_status(lambda: self.describe(a)["status"], "FAILED")
        self.assertEqual(self.describe(a)["statusReason"], "Terminated by barge CLI")
        self.assertIn("status        FAILED: Terminated by barge CLI", self.ok("describe", a))

    def test_output_that_cannot_be_written_is_a_failure(self):
        """A full disk or a closed stdout: the command says so and exits 1, and a job submitted
        whose id could not be printed is named on stderr."""
        rc, out, err = barge_sh(">/dev/full", "submit", "--queue", "idle", "--definition",
                                "hello", endpoint=self.server.url)
        self.assertEqual(rc, 1, err)
        self.assertIn("barge: writing the output failed: No space left on device", err)
        job_id = err.split("job ", 1)[1].split()[0]
        self.assertEqual(self.describe(job_id)["jobName"], "hello")
        for args in (["jobs", "--queue", "idle", "--all"], ["describe", job_id, "--json"],
                     ["events"]):
            for tail in (">/dev/full", ">&-"):
                rc, _, err = barge_sh(tail, *args, endpoint=self.server.url)
                self.assertEqual(rc, 1, (args, tail, err))
                self.assertIn("writing the output failed", err)

    def test_submit_whose_reader_has_gone_names_its_job(self):
        """With SIGPIPE as a shell leaves it (not ignored), a submit whose reader had gone
        (`| head -0`, a consumer that failed) was killed by it at the write, without a word,
        the job submitted and its id seen by no one.  It names the job instead, and exits 1."""
        r, w = os.pipe()
        os.close(r)  # the reader has gone before barge writes
        try:
            # subprocess gives the child SIGPIPE's default action, as a shell does.
            p = subprocess.run([BARGE, "submit", "--queue", "idle", "--definition", "hello",
                                "--name", "piped"], stdout=w, stderr=subprocess.PIPE,
                               text=True, env=cli_env(self.server.url), timeout=60)
        finally:
            os.close(w)
        # The exit code of a command SIGPIPE ends, but the job is named.
        self.assertEqual(p.returncode, 141, p.stderr)
        job_id = re.search(r"job (\S+) was submitted, but its id could not be written out",
                           p.stderr).group(1)
        self.assertEqual(self.describe(job_id)["jobName"], "piped")
        self.assertNotIn("writing the output failed", p.stderr)

    def test_followers_stop_when_nobody_reads(self):
        """With SIGPIPE ignored, a write to a pipe whose reader has gone fails (EPIPE) rather
        than killing barge: `events -f` and `watch` stop then instead of following for no
        one, quietly and with SIGPIPE's exit code, as with SIGPIPE not ignored."""
        self.submit("--name", "followed")
        for args in (["events", "-f"], ["watch", "idle", "--every", "1"]):
            rc, out, err = barge_sh("| head -1", *args, endpoint=self.server.url)
            self.assertEqual((rc, err), (141, ""), args)
            self.assertEqual(len(out.splitlines()), 1, out)

    def test_a_long_output_whose_reader_goes(self):
        """An output longer than the pipe holds: the write that failed (EPIPE) was found at the
        end as a stream in error without an errno, and said as "Input/output error", exit 1."""
        array_id, _ = self.submit("--name", "long", "--array-size", "3000")
        for args in (["jobs", "--all", "--array", array_id],
                     ["jobs", "--all", "--json", "--array", array_id]):
            rc, out, err = barge_sh("| head -1", *args, endpoint=self.server.url)
            self.assertEqual((rc, err), (141, ""), args)
            self.assertEqual(len(out.splitlines()), 1, out[:200])

    def test_followers_stop_at_once_when_nobody_reads_while_nothing_comes(self):
        """A reader that goes while nothing is printed (events -f in a long poll for a status
        that does not come again, watch waiting out a long --every) is noticed within a second
        or two, not at the next event or redraw, which may be a minute away or never come."""
        import threading
        reader = "| (read line; sleep 0.5; echo \"$line\")"
        seen = self.ok("events").splitlines()
        last = seen[-1].split()[0] if seen else "0"
        job_id, _ = self.submit("--name", "reader-gone")
        threading.Timer(1, lambda: self.ok("cancel", job_id)).start()
        start = time.time()
        rc, out, err = barge_sh(reader, "events", "-f", "--status", "FAILED", "--after", last,
                                endpoint=self.server.url)
        self.assertEqual((rc, err), (141, ""))
        self.assertIn(job_id, out)
        self.assertLess(time.time() - start, 10)
        start = time.time()
        rc, out, err = barge_sh(reader, "watch", "idle", "--every", "60",
                                endpoint=self.server.url)
        self.assertEqual((rc, err), (141, ""))
        self.assertIn("queue idle at", out)
        self.assertLess(time.time() - start, 10)

    def test_followers_say_when_the_server_stops_answering_and_when_it_answers_again(self):
        """A server that stops answering (stopped here; a network that drops packets alike) is
        said to be silent within seconds, beyond the wait of events -f's long poll, rather than
        after the minute a call may take; once it answers again, that is said too, and the
        commands go on."""
        import signal
        import shutil
        import tempfile
        job_id, _ = self.submit("--name", "stopped-server")
        seen = self.ok("events").splitlines()
        last = seen[-1].split()[0] if seen else "0"
        tmp = tempfile.mkdtemp(prefix="barge-cli-silent-")
        self.addCleanup(shutil.rmtree, tmp, True)
        followers = {"events": ["events", "-f", "--after", last],
                     "watch": ["watch", "idle", "--every", "1"], "logs": ["logs", "-f", job_id]}
        procs = {}

        def read(name, stream):
            with open(os.path.join(tmp, "%s.%s" % (name, stream))) as f:
                return f.read()

        def wait_for(text, stream="err", timeout=10):
            deadline = time.time() + timeout
            while time.time() < deadline:
                if all(text in read(n, stream) for n in followers):
                    return
                time.sleep(0.1)
            self.fail("waited %ss for %r on every follower's std%s: %r" %
                      (timeout, text, stream, {n: read(n, stream) for n in followers}))

        stopped = False
        try:
            for name, args in followers.items():
                with open(os.path.join(tmp, name + ".out"), "w") as out, \
                        open(os.path.join(tmp, name + ".err"), "w") as err:
                    procs[name] = subprocess.Popen([BARGE] + args, env=cli_env(self.server.url),
                                                   stdout=out, stderr=err)
            deadline = time.time() + 10
            while ("queue idle at" not in read("watch", "out") or
                   "waiting for job" not in read("logs", "err")) and time.time() < deadline:
                time.sleep(0.05)
            # events -f is in its long poll by now.
            time.sleep(1)
            self.server.proc.send_signal(signal.SIGSTOP)
            stopped = True
            # The 5 s wait of events -f and 10 s of silence beyond it, with room for a loaded
            # machine: well before the minute after which a call is given up.
            wait_for("has not answered for", timeout=25)
            for name in followers:
                err = read(name, "err")
                self.assertEqual(err.count("has not answered for"), 1, (name, err))
                self.assertRegex(err, r": the server at %s has not answered for \d+ seconds; "
                                      r"still waiting for it" % re.escape(self.server.url))
                self.assertIsNone(procs[name].poll(), (name, err))
            self.server.proc.send_signal(signal.SIGCONT)
            stopped = False
            wait_for("the server at %s answers again" % self.server.url)
            # They go on: events -f prints the job's cancellation, logs -f sees the job end.
            self.ok("cancel", job_id)
            deadline = time.time() + 15
            while job_id not in read("events", "out") and time.time() < deadline:
                time.sleep(0.1)
            self.assertIn(job_id, read("events", "out"))
            self.assertEqual(procs["logs"].wait(timeout=15), 0, read("logs", "err"))
            for name in ("events", "watch"):
                self.assertIsNone(procs[name].poll(), (name, read(name, "err")))
                self.assertNotIn("giving up", read(name, "err"))
        finally:
            if stopped:
                self.server.proc.send_signal(signal.SIGCONT)
            for p in procs.values():
                if p.poll() is None:
                    p.kill()
                p.wait()

    def test_events_filter_by_status_in_any_case_after_any_number(self):
        job_id, _ = self.submit("--name", "evented")
        # A job without dependencies makes no PENDING event (as AWS): one that waits does.
        waiter, _ = self.submit("--name", "evented-waiter", "--depends-on", job_id)
        self.wait_status(lambda: self.describe(job_id)["status"], "RUNNABLE")
        self.wait_status(lambda: self.describe(waiter)["status"], "PENDING")
        out = self.ok("events", "--status", "runnable,Pending", "--json")
        mine = {(e["detail"]["jobId"], e["detail"]["status"])
                for e in map(json.loads, out.splitlines())} & {
            (job_id, "RUNNABLE"), (job_id, "PENDING"), (waiter, "PENDING")}
        self.assertEqual(mine, {(job_id, "RUNNABLE"), (waiter, "PENDING")})
        statuses = {json.loads(l)["detail"]["status"] for l in out.splitlines()}
        self.assertEqual(statuses, {"RUNNABLE", "PENDING"})
        # Event numbers are 64-bit.
        rc, out, err = self.cli("events", "--after", "4294967296")
        self.assertEqual((rc, out), (0, ""), err)
        # Past the newest event: said, not waited out in silence.
        self.assertIn("4294967296 is past the server's newest event", err)
        self.assertIn("(its events were made anew, or it is another server); there are no "
                      "events after it", err)

    def test_events_status_given_again_adds_to_it(self):
        """A second --status replaced the first, as `barge jobs --status` does not."""
        job_id, _ = self.submit("--name", "evented-again")
        waiter, _ = self.submit("--name", "evented-again-waiter", "--depends-on", job_id)
        self.wait_status(lambda: self.describe(job_id)["status"], "RUNNABLE")
        self.wait_status(lambda: self.describe(waiter)["status"], "PENDING")
        out = self.ok("events", "--status", "runnable", "--status", "PENDING", "--json")
        seen = {(e["detail"]["jobId"], e["detail"]["status"])
                for e in map(json.loads, out.splitlines())}
        self.assertLessEqual({(job_id, "RUNNABLE"), (waiter, "PENDING")}, seen)
        self.assertEqual({status for _, status in seen}, {"RUNNABLE", "PENDING"})

    def test_free_text_cannot_drive_the_terminal(self):
        # A reason anyone with TerminateJob may give, shown to whoever looks: its control
        # characters (a window title, a screen cleared, CSI as C1) are shown as '?'.
        job_id, _ = self.submit()
        reason = "stop\x1b]0;owned\x07\x1b[2J \u009b31m here"
        self.ok("terminate", job_id, "--reason", reason)
        self.wait_status(lambda: self.describe(job_id)["status"], "FAILED")
        for args in (("describe", job_id), ("explain", job_id), ("events",)):
            rc, out, err = self.cli(*args)
            self.assertEqual(rc, 0, (args, err))
            self.assertIn("stop?]0;owned??[2J ?31m here", out, args)
            self.assertFalse(re.search("[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]", out + err), args)
        # --json is the server's text, escaped as JSON escapes it.
        out = self.ok("describe", job_id, "--json")
        self.assertEqual(json.loads(out)["jobs"][0]["statusReason"], reason)

    def test_depends_on_sequential_names_no_job(self):
        job_id, _ = self.submit("--array-size", "3", "--depends-on", "sequential")
        self.assertEqual(self.describe(job_id)["dependsOn"], [{"type": "SEQUENTIAL"}])
        rc, out, err = self.cli("submit", "--queue", "idle", "--definition", "hello",
                                "--array-size", "3", "--depends-on", job_id + ":SEQUENTIAL")
        self.assertEqual((rc, out), (2, ""))
        self.assertIn("--depends-on SEQUENTIAL", err)

    def test_logs_of_a_job_that_has_not_started(self):
        a, _ = self.submit()
        rc, out, err = self.cli("logs", a)
        self.assertEqual((rc, out), (0, ""))
        self.assertIn("has no logs yet (status", err)


class SignedRequests(unittest.TestCase):
    """A server outside developer mode checks signatures: the CLI's are accepted when it signs
    with a key the server knows, and refused with AWS's errors otherwise."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(args=()).start()
        why = jobs_api_missing(cls.server)
        if why:
            cls.server.cleanup()
            raise unittest.SkipTest(why)

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def test_cli_requests_are_signed(self):
        good = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
        rc, _, err = barge("jobs", "--queue", "no-such-queue", endpoint=self.server.url,
                           env=good)
        self.assertEqual(rc, 1)
        self.assertIn("no-such-queue", err)  # refused for the queue, not the signature
        self.assertNotIn("Authorization", err)
        for env, code in (({}, "UnrecognizedClientException"),
                          (dict(good, AWS_SECRET_ACCESS_KEY="s"), "InvalidSignatureException"),
                          (dict(good, AWS_SESSION_TOKEN="token"), "UnrecognizedClientException"),
                          (dict(good, AWS_REGION="eu-west-1"), "InvalidSignatureException")):
            rc, _, err = barge("jobs", "--queue", "no-such-queue", endpoint=self.server.url,
                               env=env)
            self.assertEqual(rc, 1, env)
            self.assertIn(code, err)
            self.assertNotIn("no-such-queue", err)


    def test_the_credentials_are_found_where_the_aws_cli_finds_them(self):
        """Besides the environment's keys: a profile of the shared files, and a container
        credentials endpoint (what a job with a role is given); one key without the other is
        refused rather than signed with a stand-in."""
        import http.server
        import threading
        tmp = tempfile.mkdtemp(prefix="barge-cli-creds-")
        self.addCleanup(shutil.rmtree, tmp, True)
        creds = os.path.join(tmp, "credentials")
        with open(creds, "w") as f:
            f.write("[default]\naws_access_key_id = nobody\naws_secret_access_key = x\n\n"
                    "# the team's\n[team]\n  aws_access_key_id=%s\naws_secret_access_key = %s \n"
                    % (ACCESS_KEY, SECRET_KEY))
        config = os.path.join(tmp, "config")
        with open(config, "w") as f:
            f.write("[profile other]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                    "[profile half]\naws_access_key_id = %s\n"
                    "[profile assumed]\nrole_arn = arn:aws:iam::123456789012:role/r\n"
                    % (ACCESS_KEY, SECRET_KEY, ACCESS_KEY))
        files = {"AWS_SHARED_CREDENTIALS_FILE": creds, "AWS_CONFIG_FILE": config}

        def jobs(env):
            return barge("jobs", "--queue", "no-such-queue", endpoint=self.server.url, env=env)
        for profile in ("team", "other"):
            rc, _, err = jobs(dict(files, AWS_PROFILE=profile))
            self.assertEqual(rc, 1, profile)
            self.assertIn("no-such-queue", err)  # refused for the queue: the key was taken
        # The default profile's key, which the server does not know.
        rc, _, err = jobs(files)
        self.assertIn("UnrecognizedClientException", err)
        self.assertNotIn("no credentials were found", err)
        for env, said in (
                (dict(files, AWS_PROFILE="nope"), "the profile nope ($AWS_PROFILE) is not in"),
                (dict(files, AWS_PROFILE="half"), "the profile half in %s has aws_access_key_id "
                                                  "without aws_secret_access_key" % config),
                ({"AWS_ACCESS_KEY_ID": ACCESS_KEY}, "$AWS_ACCESS_KEY_ID is set without "
                                                     "$AWS_SECRET_ACCESS_KEY"),
                (dict(files, AWS_PROFILE="assumed"), "the profile assumed ($AWS_PROFILE) has no "
                                                     "aws_access_key_id"),
                (dict(files, AWS_DEFAULT_PROFILE="nope"), "the profile nope "
                                                          "($AWS_DEFAULT_PROFILE) is not in")):
            rc, _, err = jobs(env)
            self.assertEqual((rc, err.count("\n")), (2, 1), err)
            self.assertIn(said, err)
        # None found: the stand-in is said to be one, after the server's refusal.
        rc, _, err = jobs({})
        self.assertIn("no credentials were found", err)

        # A container credentials endpoint, which checks its token.
        asked = []

        class Endpoint(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                asked.append((self.path, self.headers.get("Authorization")))
                ok = self.headers.get("Authorization") == "tok"
                body = json.dumps({"AccessKeyId": ACCESS_KEY, "SecretAccessKey": SECRET_KEY,
                                   "Expiration": "2999-01-01T00:00:00Z"}).encode()
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", str(len(body) if ok else 0))
                self.end_headers()
                if ok:
                    self.wfile.write(body)

            def log_message(self, *args):
                pass
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        uri = "http://127.0.0.1:%d/v1/credentials/abc" % srv.server_address[1]
        token_file = os.path.join(tmp, "token")
        with open(token_file, "w") as f:
            f.write("tok\n")
        for env in ({"AWS_CONTAINER_CREDENTIALS_FULL_URI": uri,
                     "AWS_CONTAINER_AUTHORIZATION_TOKEN": "tok"},
                    {"AWS_CONTAINER_CREDENTIALS_FULL_URI": uri,
                     "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": token_file}):
            rc, _, err = jobs(env)
            self.assertEqual(rc, 1, err)
            self.assertIn("no-such-queue", err)
        self.assertEqual(asked[-1], ("/v1/credentials/abc", "tok"))
        rc, _, err = jobs({"AWS_CONTAINER_CREDENTIALS_FULL_URI": uri,
                           "AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong"})
        self.assertEqual(rc, 1)
        self.assertIn("answered HTTP 401", err)
        # The token goes over plain http to this host, or ECS's, only (as the SDKs have it).
        before = len(asked)
        rc, _, err = jobs({"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://192.0.2.1/creds",
                           "AWS_CONTAINER_AUTHORIZATION_TOKEN": "tok"})
        self.assertEqual(rc, 1)
        self.assertIn("are fetched over https, or plain http from this host", err)
        self.assertEqual(len(asked), before)
        # The endpoint a job is given for its server: AWS_ENDPOINT_URL_BATCH, as the AWS CLI.
        e = cli_env()
        e.update(AWS_ENDPOINT_URL_BATCH=self.server.url, AWS_ACCESS_KEY_ID=ACCESS_KEY,
                 AWS_SECRET_ACCESS_KEY=SECRET_KEY)
        p = subprocess.run([BARGE, "jobs", "--queue", "no-such-queue"], capture_output=True,
                           text=True, env=e, timeout=60)
        self.assertIn("no-such-queue", p.stderr)


    def test_profile_names_the_profile_as_the_aws_clis_does(self):
        """`--profile NAME`, the AWS CLI user's way to pick a profile, was an unknown option
        (exit 2), and said to be no command before one.  It names the profile as $AWS_PROFILE
        does, and passes over the environment's keys, as the AWS CLI's --profile does."""
        tmp = tempfile.mkdtemp(prefix="barge-cli-profile-")
        self.addCleanup(shutil.rmtree, tmp, True)
        creds = os.path.join(tmp, "credentials")
        with open(creds, "w") as f:
            f.write("[default]\naws_access_key_id = nobody\naws_secret_access_key = x\n\n"
                    "[team]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
                    % (ACCESS_KEY, SECRET_KEY))
        files = {"AWS_SHARED_CREDENTIALS_FILE": creds,
                 "AWS_CONFIG_FILE": os.path.join(tmp, "config")}

        def jobs(*extra, **env):
            return barge("jobs", "--queue", "no-such-queue", *extra, endpoint=self.server.url,
                         env=dict(files, **env))
        # The team's key, over $AWS_PROFILE's and over the environment's, which the server
        # does not know.
        for extra, env in ((("--profile", "team"), {}),
                           (("--profile=team",), {"AWS_PROFILE": "default"}),
                           (("--profile", "team"), {"AWS_ACCESS_KEY_ID": "nobody",
                                                    "AWS_SECRET_ACCESS_KEY": "x"})):
            rc, _, err = jobs(*extra, **env)
            self.assertEqual(rc, 1, (extra, env, err))
            self.assertIn("no-such-queue", err)  # refused for the queue: the key was taken
        rc, _, err = jobs("--profile", "nope")
        self.assertEqual((rc, err.count("\n")), (2, 1), err)
        self.assertIn("the profile nope (--profile) is not in", err)
        rc, _, err = jobs("--profile", "")
        self.assertEqual((rc, err.count("\n")), (2, 1), err)
        self.assertIn("--profile needs a profile's name", err)
        # Given before the command, it is shown where it goes, as the other common options.
        rc, out, err = barge("--profile", "team", "jobs", "--queue", "q")
        self.assertEqual((rc, out), (2, ""), err)
        self.assertIn("barge: options go after the command: barge jobs --profile team --queue q",
                      err)
        rc, out, _ = barge("jobs", "--help")
        self.assertIn("--profile NAME", out)

    def test_a_profile_s_credential_process_and_region_are_used(self):
        """A profile whose keys come from a credential_process (run again when they are about
        to expire), and the region of the profile in the config file, as the AWS CLI."""
        tmp = tempfile.mkdtemp(prefix="barge-cli-process-")
        self.addCleanup(shutil.rmtree, tmp, True)
        runs = os.path.join(tmp, "runs")

        def helper(name, body, code=0):
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write("#!/bin/sh\necho run >> %s\ncat <<'EOF'\n%s\nEOF\nexit %d\n"
                        % (runs, body, code))
            os.chmod(path, 0o755)
            return path
        far = json.dumps({"Version": 1, "AccessKeyId": ACCESS_KEY, "SecretAccessKey": SECRET_KEY,
                          "Expiration": "2999-01-01T00:00:00Z"})
        soon = json.dumps({"Version": 1, "AccessKeyId": ACCESS_KEY,
                           "SecretAccessKey": SECRET_KEY,
                           "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                       time.gmtime(time.time() + 60))})
        config = os.path.join(tmp, "config")
        with open(config, "w") as f:
            f.write("[profile far]\ncredential_process = %s --with 'an argument'\n"
                    "[profile soon]\ncredential_process = %s\n"
                    "[profile failing]\ncredential_process = %s\n"
                    "[profile v2]\ncredential_process = %s\n"
                    "[profile garbled]\ncredential_process = %s\n"
                    "[profile elsewhere]\nregion = eu-west-1\ncredential_process = %s\n"
                    % (helper("far", far), helper("soon", soon), helper("failing", "", 3),
                       helper("v2", far.replace('"Version": 1', '"Version": 2')),
                       helper("garbled", "not json"), helper("elsewhere", far)))
        files = {"AWS_CONFIG_FILE": config}

        def jobs(env):
            if os.path.exists(runs):
                os.unlink(runs)
            rc, _, err = barge("jobs", "--queue", "no-such-queue", endpoint=self.server.url,
                               env=dict(files, **env))
            with open(runs) as f:
                return rc, err, len(f.read().split())
        rc, err, ran = jobs({"AWS_PROFILE": "far"})
        self.assertEqual(rc, 1, err)
        self.assertIn("no-such-queue", err)  # signed with the process's keys, and taken
        self.assertEqual(ran, 1)
        # Keys that expire within five minutes are fetched again before the request.
        rc, err, ran = jobs({"AWS_PROFILE": "soon"})
        self.assertIn("no-such-queue", err)
        self.assertEqual(ran, 2)
        for profile, said in (("failing", "exited with status 3"),
                              ("v2", 'without "Version": 1'),
                              ("garbled", "did not print a JSON object of credentials")):
            rc, err, _ = jobs({"AWS_PROFILE": profile})
            self.assertEqual((rc, err.count("\n")), (2, 1), err)
            self.assertIn("the credential_process of the profile %s in %s" % (profile, config),
                          err)
            self.assertIn(said, err)
        # The profile's region signs the request: this server is in us-east-1, so it refuses
        # the signature, until the environment's region, which comes first, is its.
        rc, err, _ = jobs({"AWS_PROFILE": "elsewhere"})
        self.assertEqual(rc, 1)
        self.assertIn("InvalidSignatureException", err)
        rc, err, _ = jobs({"AWS_PROFILE": "elsewhere", "AWS_DEFAULT_REGION": "us-east-1"})
        self.assertIn("no-such-queue", err)
        # And so it does with the environment's keys.
        rc, _, err = barge("jobs", "--queue", "no-such-queue", endpoint=self.server.url,
                           env=dict(files, AWS_PROFILE="elsewhere", AWS_ACCESS_KEY_ID=ACCESS_KEY,
                                    AWS_SECRET_ACCESS_KEY=SECRET_KEY))
        self.assertIn("InvalidSignatureException", err)


def agent_missing():
    rc, _, _ = barge("agent", "--help")
    return None if rc == 0 else "`barge agent` does not exist yet"


class RunningJobs(ServerTestCase):
    """Jobs that really run, on a MANAGED compute environment served by local agents."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        why = jobs_api_missing(cls.server) or agent_missing()
        if why:
            cls.server.cleanup()
            raise unittest.SkipTest(why)
        b = cls.batch
        b.create_compute_environment(
            computeEnvironmentName="run-ce", type="MANAGED",
            computeResources={"type": "EC2", "maxvCpus": 4, "subnets": []})
        deadline = time.time() + 30
        while time.time() < deadline:
            ce = b.describe_compute_environments(computeEnvironments=["run-ce"])
            if ce["computeEnvironments"][0]["status"] == "VALID":
                break
            time.sleep(0.05)
        b.create_job_queue(jobQueueName="run", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "run-ce"}])
        b.register_job_definition(
            jobDefinitionName="sh", type="container",
            containerProperties={"image": "busybox", "command": ["true"],
                                 "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                          {"type": "MEMORY", "value": "64"}]})

    def cli(self, *args, **kw):
        return barge(*args, endpoint=self.server.url, **kw)

    def submit(self, script, *extra):
        rc, out, err = self.cli("submit", "--queue", "run", "--definition", "sh", *extra,
                                "--", "sh", "-c", script)
        self.assertEqual(rc, 0, err)
        return out.split()[0]

    def status(self, job_id):
        return self.batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"]

    def test_logs_follow_prints_every_line_and_stops_when_the_job_ends(self):
        job_id = self.submit("echo one; sleep 1; echo two; echo three >&2")
        rc, out, err = self.cli("logs", "-f", job_id, timeout=120)
        self.assertEqual(rc, 0, err)
        self.assertEqual(sorted(out.splitlines()), ["one", "three", "two"])
        self.assertEqual(self.status(job_id), "SUCCEEDED")
        # Once finished, the log reads the same without -f.
        rc, again, _ = self.cli("logs", job_id)
        self.assertEqual((rc, again), (0, out))
        rc, again, _ = self.cli("logs", job_id, "--attempt", "1")
        self.assertEqual((rc, again), (0, out))
        lines = self.cli("logs", job_id, "--json")[1].splitlines()
        self.assertEqual(sorted(json.loads(l)["message"] for l in lines),
                         ["one", "three", "two"])

    def test_logs_with_nul_bytes(self):
        """A NUL byte in a job's output (binary output has them) is printed as the job wrote
        it, by logs, logs -f and run: the answer holding it read as the JSON it is (it was
        taken for one from something other than barge, and the log was lost)."""
        script = r'printf "before\n"; printf "a\000b\n"; printf "after\n"'
        want = "before\na\x00b\nafter\n"
        rc, out, err = self.cli("run", "--queue", "run", "--definition", "sh", "--",
                                "sh", "-c", script, timeout=120)
        self.assertEqual((rc, out), (0, want), err)
        job_id = self.submit(script)
        rc, out, err = self.cli("logs", "-f", job_id, timeout=120)
        self.assertEqual((rc, out), (0, want), err)
        rc, out, err = self.cli("logs", job_id)
        self.assertEqual((rc, out), (0, want), err)
        lines = self.cli("logs", job_id, "--json")[1].splitlines()
        self.assertEqual([json.loads(l)["message"] for l in lines], ["before", "a\x00b", "after"])

    def test_logs_tail(self):
        """--tail N prints the attempt's last N lines; with -f, then what it prints next."""
        job_id = self.submit("seq 1 5; sleep 10; seq 6 7")
        deadline = time.time() + 60
        while self.cli("logs", job_id)[1] != "1\n2\n3\n4\n5\n":
            self.assertLess(time.time(), deadline, "the job's first lines")
            time.sleep(0.1)
        rc, out, err = self.cli("logs", "-f", "--tail", "2", job_id, timeout=120)
        self.assertEqual((rc, out), (0, "4\n5\n6\n7\n"), err)
        rc, out, err = self.cli("logs", job_id, "--tail", "3")
        self.assertEqual((rc, out), (0, "5\n6\n7\n"), err)
        rc, out, _ = self.cli("logs", job_id, "--tail", "500", "--attempt", "1")
        self.assertEqual(out, "".join("%d\n" % i for i in range(1, 8)))
        for bad in ("0", "10001", "x"):
            rc, _, err = self.cli("logs", job_id, "--tail", bad)
            self.assertEqual(rc, 2, err)
            self.assertIn("--tail must be a number of lines from 1 to 10000", err)

    def test_logs_tail_of_long_lines(self):
        """--tail N prints N lines however long they are.  One GetLogEvents answers at most
        1 MiB, and --tail read one page only: of 10 lines of 200 KiB, --tail 8 printed 5."""
        job_id = self.submit("s=$(head -c 204800 /dev/zero | tr '\\0' x); "
                             "for i in 1 2 3 4 5 6 7 8 9 10; do echo \"$i $s\"; done")
        deadline = time.time() + 60
        while self.status(job_id) not in ("SUCCEEDED", "FAILED"):
            self.assertLess(time.time(), deadline, "the job's end")
            time.sleep(0.2)
        self.assertEqual(self.status(job_id), "SUCCEEDED")
        rc, out, err = self.cli("logs", job_id, "--tail", "8")
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual([l.split()[0] for l in lines], [str(i) for i in range(3, 11)])
        self.assertTrue(all(len(l.split()[1]) == 204800 for l in lines))
        # More than the stream holds: all of it, once.
        rc, out, err = self.cli("logs", job_id, "--tail", "50")
        self.assertEqual([l.split()[0] for l in out.splitlines()],
                         [str(i) for i in range(1, 11)], err)

    def test_logs_read_the_group_the_definition_names(self):
        self.batch.register_job_definition(
            jobDefinitionName="named-group", type="container",
            containerProperties={"image": "busybox", "command": ["true"],
                                 "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                          {"type": "MEMORY", "value": "64"}],
                                 "logConfiguration": {"logDriver": "awslogs", "options": {
                                     "awslogs-group": "/barge/cli", "awslogs-stream-prefix": "cli"}}})
        rc, out, err = self.cli("submit", "--queue", "run", "--definition", "named-group", "--",
                                "sh", "-c", "echo in the named group")
        self.assertEqual(rc, 0, err)
        job_id = out.split()[0]
        rc, out, err = self.cli("logs", "-f", job_id, timeout=120)
        self.assertEqual((rc, out), (0, "in the named group\n"), err)
        # That is where the lines are, and nowhere else.
        stream = self.batch.describe_jobs(jobs=[job_id])["jobs"][0]["container"]["logStreamName"]
        self.assertTrue(stream.startswith("cli/default/"), stream)
        logs = self.server.client("logs")
        self.assertEqual(len(logs.get_log_events(logGroupName="/barge/cli",
                                                 logStreamName=stream)["events"]), 1)

    def test_jobs_and_describe_show_exit_codes_and_attempts(self):
        job_id = self.submit("echo failing; exit 3", "--attempts", "2")
        rc, _, err = self.cli("logs", "-f", job_id, timeout=120)
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.status(job_id), "FAILED")
        rc, out, _ = self.cli("describe", job_id)
        self.assertEqual(rc, 0)
        self.assertIn("exit code     3", out)
        self.assertRegex(out, r"attempt 1 +exit 3")
        self.assertRegex(out, r"attempt 2 +exit 3")
        self.assertIn("log stream", out)
        rc, out, _ = self.cli("jobs", "--queue", "run", "--status", "FAILED")
        row = [l for l in out.splitlines() if l.startswith(job_id)][0]
        self.assertEqual(row.split()[-1], "3")
        self.assertRegex(row.split()[-2], r"^\d")

    def test_logs_follow_stops_when_nobody_reads(self):
        job_id = self.submit("echo first; sleep 300")
        try:
            # Started, so that nothing is said of the wait for it.
            self.wait_status(lambda: self.status(job_id), "RUNNING", timeout=60)
            rc, out, err = barge_sh("| head -1", "logs", "-f", job_id, endpoint=self.server.url)
            self.assertEqual((rc, out, err), (141, "first\n", ""))
        finally:
            self.cli("terminate", job_id)

    def test_terminate_stops_a_running_job_and_cancel_explains_why_it_does_not(self):
        job_id = self.submit("echo started; sleep 300")
        deadline = time.time() + 60
        while self.status(job_id) != "RUNNING" and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(self.status(job_id), "RUNNING")
        rc, out, _ = self.cli("cancel", job_id)
        self.assertEqual(rc, 0)
        self.assertIn("barge terminate " + job_id, out)
        self.assertEqual(self.status(job_id), "RUNNING")
        rc, out, err = self.cli("terminate", job_id, "--reason", "enough")
        self.assertEqual(rc, 0, err)
        self.wait_status(lambda: self.status(job_id), "FAILED", timeout=60)
        j = self.batch.describe_jobs(jobs=[job_id])["jobs"][0]
        self.assertEqual(j["statusReason"], "enough")


if __name__ == "__main__":
    unittest.main()
