"""What the CLI shows people of text others set: a tag's value in `barge usage`, a definition's
log stream prefix when `barge run` follows another attempt, reach the terminal with their
control characters as '?' (an escape sequence retitled the window and cleared the screen of
whoever ran the command); and what `--json` prints is the description as the server sent it.
Also `barge logs -f` whose reader has gone before its job started, every follower whose reader
goes ending quietly with SIGPIPE's exit code, and `barge watch`'s count of
the jobs beyond the snapshot's first hundred and its screen fitted to the terminal's window;
and a table whose long names would run past a terminal's width.  Also what `barge explain` and
`barge watch` say is so: a job that depends on an array with a FAILED child will fail, another
queue's RUNNABLE jobs go first in an environment two queues share, and a STARTING job's agent
pulls its image."""
import re
import subprocess
import time
import unittest

import test_containers
from harness import BARGE
from test_cli import barge, barge_on_terminal, cli_env
from test_jobs_common import JobsCase

ESCAPES = "\x1b]0;PWNED\x07\x1b[2J\x1b[31m"


class Text(JobsCase):
    @classmethod
    def setUpResources(cls):
        # Room for one job of "two" at a time, shared by two queues.
        cls.make_ce("one", 2)
        cls.make_queue("one-high", ["one"], priority=10)
        cls.make_queue("one-low", ["one"], priority=1)
        cls.make_definition("two", vcpus="2")

    def cli(self, *args, **kw):
        return barge(*args, endpoint=self.server.url, **kw)

    def test_explain_says_a_dependency_on_an_array_with_a_failed_child_will_fail(self):
        # It said the job waited for its dependency to succeed, which it never could: an array
        # with a FAILED child ends FAILED once all its children have ended.
        arr = self.submit("half-failed", arrayProperties={"size": 3},
                          command="[ $AWS_BATCH_JOB_ARRAY_INDEX = 0 ] && exit 3; sleep 300")
        after = self.submit("after", dependsOn=[{"jobId": arr}])
        # Down a chain: it said the last waited for its dependency to succeed.
        last = self.submit("last", dependsOn=[{"jobId": after}])
        pairs = self.submit("pairs", arrayProperties={"size": 3},
                            dependsOn=[{"jobId": arr, "type": "N_TO_N"}])
        try:
            self.wait_job(arr + ":0", "FAILED")
            for i in (1, 2):
                self.wait_job("%s:%d" % (arr, i), "RUNNING")
            rc, out, err = self.cli("explain", after)
            self.assertEqual(rc, 0, err)
            self.assertIn("it will fail without running: array job %s, which it depends on, "
                          "has 1 FAILED child, so that array ends FAILED once its other "
                          "children have ended, and this job fails with it" % arr, out)
            self.assertIn("1 child failed, so the array ends FAILED once the others have "
                          "ended", out)
            self.assertNotIn("waits for", out)
            rc, out, err = self.cli("explain", last)
            self.assertEqual(rc, 0, err)
            self.assertIn("it will fail without running: job %s, which it depends on, will fail "
                          "without running (array job %s, which it depends on, has 1 FAILED "
                          "child, so that array ends FAILED once its other children have "
                          "ended), and this job fails with it" % (after, arr), out)
            self.assertNotIn("waits for", out)
            # N_TO_N: a child waits for its partner only, which may still succeed.
            rc, out, err = self.cli("explain", pairs + ":1")
            self.assertEqual(rc, 0, err)
            self.assertIn("it waits for 1 dependency to succeed", out)
            self.assertNotIn("will fail", out)
            # And so it goes: the array's other children end, it fails, and so does the job,
            # without running.
            for i in (1, 2):
                self.batch.terminate_job(jobId="%s:%d" % (arr, i), reason="end it")
            d = self.wait_job(after)
            self.assertEqual((d["status"], d["statusReason"], d["attempts"]),
                             ("FAILED", "Dependent Job failed", []))
        finally:
            for jid in (arr, after, last, pairs):
                self.batch.terminate_job(jobId=jid, reason="done")

    def test_watch_says_a_higher_priority_queues_jobs_go_first(self):
        # It showed one-low's job as next to be placed, while one-high's, which share its
        # compute environment, are placed before it.
        filler = self.submit("filler", queue="one-low", definition="two", command="sleep 300")
        jobs = [filler]
        try:
            self.wait_job(filler, "RUNNING")
            for name, queue in (("high-waits", "one-high"), ("low-waits", "one-low")):
                jobs.append(self.submit(name, queue=queue, definition="two", command="sleep 300"))
            for jid in jobs[1:]:
                self.wait_job(jid, "RUNNABLE")
            # A hundred queues named before it: one-high is on the second page of
            # DescribeJobQueues (the second page's token was read after its page was freed).
            pads = ["aa-pad-%03d" % i for i in range(100)]
            for name in pads:
                self.make_queue(name, ["one"], state="DISABLED")
            self.addCleanup(lambda: [self.batch.delete_job_queue(jobQueue=n) for n in pads])
            rc, out, err = self.cli("watch", "one-low", "--once")
            self.assertEqual(rc, 0, err)
            self.assertIn("\nqueue one-high's 1 RUNNABLE job is placed first in compute "
                          "environment one, which it shares with this queue (priority 10, over "
                          "this queue's 1)\n", out)
            self.assertIn("next to be placed after them:\n  %s  low-waits  (in line since"
                          % jobs[2], out)
            rc, out, err = self.cli("watch", "one-high", "--once")
            self.assertEqual(rc, 0, err)
            self.assertIn("next to be placed:\n  %s  high-waits  (in line since" % jobs[1], out)
            self.assertNotIn("placed first", out)
            # As said: once there is room, one-high's job runs and one-low's still waits.
            self.batch.terminate_job(jobId=filler, reason="make room")
            self.wait_job(jobs[1], "RUNNING")
            self.assertEqual(self.status(jobs[2]), "RUNNABLE")
        finally:
            for jid in jobs:
                self.batch.terminate_job(jobId=jid, reason="done")

    def test_a_tags_value_is_shown_without_its_control_characters(self):
        jid = self.submit("tagged", command="true", tags={"team": ESCAPES + "red"})
        self.wait_job(jid)
        rc, out, err = self.cli("usage", "--queue", "q", "--by", "tag:team")
        self.assertEqual(rc, 0, err)
        self.assertNotIn("\x1b", out)
        self.assertIn("?]0;PWNED??[2J?[31mred", out)

    def test_another_attempts_log_stream_is_shown_without_its_control_characters(self):
        self.make_definition("escaped-prefix", command=["sh", "-c", "exit 1"],
                             retryStrategy={"attempts": 2},
                             container={"logConfiguration": {
                                 "logDriver": "awslogs",
                                 "options": {"awslogs-stream-prefix": ESCAPES + "p"}}})
        rc, out, err = self.cli("run", "--queue", "q", "--definition", "escaped-prefix")
        self.assertEqual(rc, 1, err)
        # Which attempt, and how the one before ended (what the retry strategy went by).
        self.assertIn(", attempt 2 (attempt 1 ended: exit code 1, Essential container "
                      "in task exited; log stream ?]0;PWNED??[2J?[31mp/", err)
        self.assertNotIn("\x1b", err)

    def test_run_json_prints_the_description_as_the_server_sent_it(self):
        # A job that wrote no log had its description made plain for the terminal, and that
        # was what --json printed: "first line?second?line".
        run = subprocess.Popen([BARGE, "run", "--json", "--queue", "parked", "--definition",
                                "jd"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=cli_env(self.server.url))
        try:
            jid = self.wait_for(lambda: next((
                j["jobId"] for j in self.batch.list_jobs(
                    jobQueue="parked", jobStatus="RUNNABLE")["jobSummaryList"]
                if j["jobName"] == "jd"), None), 20, "the run's job to wait for capacity")
            self.batch.terminate_job(jobId=jid, reason="first line\nsecond\tline")
            out, err = run.communicate(timeout=30)
        finally:
            run.kill()
        self.assertIn('"statusReason": "first line\\nsecond\\tline"', out, err)
        # What stderr says for the terminal (the job's log, and here nothing of its end, which
        # the description says) never holds the reason's control characters as they are.
        self.assertNotIn("first line\nsecond", err)

    def test_logs_f_stops_when_its_reader_goes_before_the_job_starts(self):
        # It went on until the job started and wrote a line.
        jid = self.submit("never-started", queue="parked")
        try:
            p = subprocess.run(["bash", "-c", "%s logs -f %s | true; echo ${PIPESTATUS[0]}" % (
                BARGE, jid)], capture_output=True, text=True, env=cli_env(self.server.url),
                timeout=30)
            self.assertNotEqual(p.stdout.strip(), "0")
        finally:
            self.batch.terminate_job(jobId=jid, reason="done")

    def reader_goes(self, *args, lines=1):
        """Runs barge with its stdout on a pipe whose reader closes it after that many lines,
        SIGPIPE left as a shell leaves it (not ignored); returns (exit code, the lines read,
        what stderr says beyond that the job waits to start)."""
        p = subprocess.Popen([BARGE] + list(args), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=cli_env(self.server.url))
        try:
            got = [p.stdout.readline().decode() for _ in range(lines)]
            p.stdout.close()
            p.wait(timeout=30)
            said = [l for l in p.stderr.read().decode().splitlines()
                    if "waiting for job" not in l]
            return p.returncode, got, said
        finally:
            p.kill()
            p.stderr.close()

    def test_every_follower_ends_quietly_when_its_reader_goes(self):
        """`barge events -f | head -1` was killed by SIGPIPE, or (its reader gone while it
        waited in a long poll) said "writing the output failed: Broken pipe" and exited 1, as
        `logs -f` and `watch` did: each ends as a Unix command ends when its reader goes,
        without a word and with the code SIGPIPE gives, 141."""
        waiting = self.submit("reader-goes-waiting", queue="parked")
        running = self.submit("reader-goes", command="echo first; echo second; sleep 300")
        try:
            self.wait_for(lambda: self.job(running)["status"] == "RUNNING", 30,
                          "the job to run")
            # A job that waits to start has printed nothing: its reader goes at once.
            for args, lines in ((["events", "-f"], 1), (["watch", "parked", "--every", "1"], 1),
                                (["logs", "-f", running], 1), (["logs", "-f", waiting], 0)):
                rc, got, said = self.reader_goes(*args, lines=lines)
                self.assertEqual((rc, said), (141, []), (args, got))
                self.assertTrue(all(got), (args, got))
        finally:
            for jid in (waiting, running):
                self.batch.terminate_job(jobId=jid, reason="done")

    def test_watch_says_at_least_of_the_jobs_past_the_snapshot(self):
        # The snapshot lists a queue's first hundred: "and 90 more" of 150 waiting.
        arr = self.submit("many-waiting", queue="parked", arrayProperties={"size": 150})
        try:
            self.wait_for(lambda: self.job(arr + ":149")["status"] == "RUNNABLE", 20,
                          "the children to wait")
            rc, out, err = self.cli("watch", "parked", "--once")
            self.assertEqual(rc, 0, err)
            self.assertIn("... and at least 90 more", out)
        finally:
            self.batch.terminate_job(jobId=arr, reason="done")

    def test_a_table_fits_the_terminal_and_a_pipe_takes_it_whole(self):
        # The rows ran past the window's edge and wrapped, a long name pushing the status and
        # times onto the next line.
        name = "nightly-" + "x" * 100 + "-end"
        jid = self.submit(name, queue="parked")
        try:
            rc, screen = barge_on_terminal("jobs", "--queue", "parked", columns=120,
                                           endpoint=self.server.url)
            self.assertEqual(rc, 0, screen)
            lines = screen.splitlines()
            self.assertTrue(all(len(line) <= 120 for line in lines), screen)
            row = next(line for line in lines if jid in line)
            self.assertRegex(row, r"^%s  nightly-x+\.\.\.  RUNNABLE  " % jid)
            # A terminal that says no width: $COLUMNS, as a shell sets it.
            rc, screen = barge_on_terminal("jobs", "--queue", "parked", columns=0,
                                           endpoint=self.server.url, env={"COLUMNS": "100"})
            self.assertEqual(rc, 0, screen)
            self.assertTrue(all(len(line) <= 100 for line in screen.splitlines()), screen)
            self.assertIn("nightly-x", screen)
            rc, out, err = self.cli("jobs", "--queue", "parked")
            self.assertEqual(rc, 0, err)
            self.assertIn("%s  %s  RUNNABLE" % (jid, name), out)
        finally:
            self.batch.terminate_job(jobId=jid, reason="done")

    def watch_screen(self, rows, queue):
        """The first screen `barge watch QUEUE` draws on a terminal window of that many rows."""
        import fcntl
        import os
        import pty
        import select
        import signal
        import struct
        import termios
        pid, fd = pty.fork()
        if pid == 0:
            # The window's size before watch starts: set by the parent after, the first screen
            # could be drawn for a window of none.
            fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", rows, 80, 0, 0))
            os.execve(BARGE, [BARGE, "watch", queue, "--every", "1"], cli_env(self.server.url))
        seen = b""
        try:
            # Each redraw starts with the cursor home and the screen cleared: the first screen
            # is whole once the second starts.
            while seen.count(b"\x1b[H\x1b[J") < 2 and select.select([fd], [], [], 30)[0]:
                seen += os.read(fd, 65536)
        finally:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
            os.close(fd)
        screens = seen.decode().split("\x1b[H\x1b[J")
        self.assertGreaterEqual(len(screens), 3, seen)
        return screens[1].replace("\r\n", "\n")

    def test_watch_lists_as_many_jobs_as_fit_the_window(self):
        # It listed ten whatever the window: a window of 15 rows scrolled the counts away at
        # each redraw, and one of 50 showed ten of 30 waiting.
        arr = self.submit("filling", queue="parked", arrayProperties={"size": 30})
        try:
            self.wait_for(lambda: self.job(arr + ":29")["status"] == "RUNNABLE", 20,
                          "the children to wait")
            small = self.watch_screen(15, "parked")
            lines = small.split("\n")
            # Every row but the cursor's: the counts stay on the screen.
            self.assertLessEqual(len(lines), 15, small)
            self.assertTrue(lines[0].startswith("queue parked at"), small)
            # Its environment is DISABLED, said on a line of its own below the first.
            self.assertIn("DISABLED", lines[1], small)
            listed = [l for l in lines if "(in line since" in l]
            self.assertEqual(len(listed), 3, small)
            self.assertIn("... and 27 more", small)
            large = self.watch_screen(50, "parked")
            self.assertEqual(len([l for l in large.split("\n") if "(in line since" in l]), 30,
                             large)
            self.assertNotIn("more", large)
            # Printed once, into a pipe: ten.
            rc, out, err = self.cli("watch", "parked", "--once")
            self.assertEqual(rc, 0, err)
            self.assertIn("... and 20 more", out)
        finally:
            self.batch.terminate_job(jobId=arr, reason="done")

    def test_describe_quotes_a_command_with_control_characters_for_the_shell(self):
        # They were shown as '?': the command pasted back was another ("printf '%s?' 'a?b'").
        args = ["printf", "%s\n", "two\nlines", "tab\there", ESCAPES + "red", "it's $HOME",
                "back\\slash\x01" + "7", "caf\u00e9 \u009b1m \u2713\x7f", "plain words"]
        jid = self.submit("control-command", queue="parked", command=args)
        try:
            rc, out, err = self.cli("describe", jid)
        finally:
            self.batch.terminate_job(jobId=jid, reason="done")
        self.assertEqual(rc, 0, err)
        line = next(l for l in out.splitlines() if l.startswith("  command "))
        self.assertEqual(line, "  command       printf $'%s\\n' $'two\\nlines' $'tab\\there' "
                               "$'\\e]0;PWNED\\007\\e[2J\\e[31mred' 'it'\\''s $HOME' "
                               "$'back\\\\slash\\0017' $'caf\u00e9 \\302\\2331m \u2713\\177' "
                               "'plain words'")
        # No control character reaches the terminal, of the command or of anything else.
        self.assertFalse([ch for ch in out if ch != "\n" and (
            ord(ch) < 0x20 or 0x7f <= ord(ch) <= 0x9f)], out)
        # Given to a shell, the line is the job's command again, word for word.
        quoted = line[len("  command       "):]
        for shell in ("bash", "zsh", "ksh"):
            if subprocess.run(["sh", "-c", "command -v " + shell],
                              capture_output=True).returncode:
                continue
            p = subprocess.run([shell, "-c", "printf '%s\\0' " + quoted], capture_output=True)
            self.assertEqual(p.returncode, 0, (shell, p.stderr))
            self.assertEqual(p.stdout.decode().split("\0")[:-1], args, shell)


class Pulling(unittest.TestCase):
    """`barge explain` of a job whose agent pulls its image from a registry that never answers
    (test_containers.HangingRegistry's)."""

    hanging_registry = test_containers.HangingRegistry.hanging_registry
    submit_pulling = test_containers.HangingRegistry.submit_pulling
    wait_pulling = test_containers.HangingRegistry.wait_pulling

    def test_explain_says_the_agent_pulls_the_image(self):
        # It said the job was STARTING on its instance, and nothing of the pull it waited for.
        port, held, server, batch = self.hanging_registry(120)
        jid = self.submit_pulling(batch, held)
        self.assertIn("pulling", self.wait_pulling(server, jid)["barge"])
        rc, out, err = barge("explain", jid, endpoint=server.url)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"\n    it has not started: its agent has been pulling its image "
                              r"%s for [0-9.]+s \(since [0-9: -]+\); a pull or unpack that takes "
                              r"longer than the agent's --pull-timeout \(300 seconds unless "
                              r"set\) fails the attempt with CannotPullContainerError\n" % (
                                  re.escape("127.0.0.1:%d/x/y:1" % port)))
