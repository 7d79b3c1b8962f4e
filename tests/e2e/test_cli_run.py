"""A newcomer's first job is one command after `barge server`: a first start makes compute
environment `local` (sized to the machine) and queue `default`; `barge run --image IMAGE --
COMMAND` makes or reuses a job definition, submits, prints the log and exits with the job's exit
code (an array shows its children's progress); `barge explain JOB` says why a job is where it
is, following its dependencies."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from harness import ACCESS_KEY, BARGE, SECRET_KEY, Server, write_credentials
from test_cli import barge, barge_on_terminal, cli_env
from test_jobs_common import JobsCase


class FirstStart(JobsCase):
    """The server as a newcomer starts it: no --no-default-queue."""
    server_args = ("--dev", "--idle-seconds", "2", "--kill-grace-seconds", "1")
    server_defaults = True

    def cli(self, *args, **kw):
        return barge(*args, endpoint=self.server.url, **kw)

    def define_sleep(self):
        """A definition whose job runs a minute; its ARN."""
        return self.batch.register_job_definition(
            jobDefinitionName="sleeper", type="container", containerProperties={
                "image": "busybox", "command": ["sleep", "60"], "resourceRequirements": [
                    {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]})[
            "jobDefinitionArn"]

    def start_run(self, *args):
        """Starts `barge run ARGS` in the background, its output in files; returns the process,
        a function that reads (stdout, stderr) so far, and the submitted job's id."""
        out = tempfile.TemporaryFile("w+")
        err = tempfile.TemporaryFile("w+")
        self.addCleanup(out.close)
        self.addCleanup(err.close)
        proc = subprocess.Popen([BARGE, "run"] + list(args), stdout=out, stderr=err,
                                env=cli_env(self.server.url), text=True)

        def cleanup():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.addCleanup(cleanup)

        def read():
            out.seek(0)
            err.seek(0)
            return out.read(), err.read()
        submitted = self.wait_for(lambda: re.search(r"job (\S+) submitted", read()[1]),
                                  what="barge run to submit its job")
        job_id = submitted.group(1)
        self.addCleanup(lambda: self.batch.terminate_job(jobId=job_id, reason="test over"))
        return proc, read, job_id

    def test_the_defaults_and_that_they_are_made_once(self):
        ce = self.batch.describe_compute_environments(computeEnvironments=["local"])
        ce = ce["computeEnvironments"][0]
        self.assertEqual((ce["type"], ce["state"], ce["status"]), ("MANAGED", "ENABLED", "VALID"))
        self.assertEqual(ce["computeResources"]["maxvCpus"], max(2, os.cpu_count()))
        q = self.batch.describe_job_queues(jobQueues=["default"])["jobQueues"][0]
        self.assertEqual(q["status"], "VALID")
        self.assertTrue(q["computeEnvironmentOrder"][0]["computeEnvironment"].endswith("/local"))
        self.server.restart()
        names = [c["computeEnvironmentName"] for c in
                 self.batch.describe_compute_environments()["computeEnvironments"]]
        self.assertEqual(names.count("local"), 1)
        # A server started with --no-default-queue makes none.
        s = Server().start()
        try:
            self.assertEqual(s.client().describe_job_queues()["jobQueues"], [])
        finally:
            s.cleanup()

    def test_run_prints_the_log_and_exits_with_the_jobs_code(self):
        rc, out, err = self.cli("run", "--image", "busybox:latest", "--", "sh", "-c",
                                "echo first; echo second >&2; exit 7")
        self.assertEqual(rc, 7, err)
        self.assertEqual([line for line in out.splitlines() if line], ["first", "second"])
        self.assertIn("FAILED", err)
        # The definition is made once for an image and a size, and used again after.
        rc, out, err2 = self.cli("run", "--image", "busybox:latest", "--", "true")
        self.assertEqual(rc, 0, err2)
        self.assertNotIn("registered job definition", err2)
        defs = self.batch.describe_job_definitions(jobDefinitionName="run-busybox-latest",
                                                   status="ACTIVE")["jobDefinitions"]
        self.assertEqual(len(defs), 1)
        rc, _, err3 = self.cli("run", "--image", "busybox:latest", "--memory", "256", "--",
                               "true")
        self.assertEqual(rc, 0, err3)
        self.assertIn("registered job definition run-busybox-latest:2", err3)

    def test_run_on_a_fargate_queue_makes_a_fargate_definition(self):
        # SubmitJob refuses an EC2 definition on a Fargate queue: the definition made for the
        # image is one for Fargate, and the EC2 one of the same image is left alone.
        self.make_ce("run-farg", 2, crtype="FARGATE")
        self.make_queue("run-fq", ["run-farg"])
        rc, out, err = self.cli("run", "--queue", "run-fq", "--image", "busybox:latest", "--",
                                "echo", "on fargate")
        self.assertEqual(rc, 0, err)
        self.assertIn("on fargate", out)
        self.assertIn("registered job definition run-fargate-busybox-latest:1", err)
        [d] = self.batch.describe_job_definitions(jobDefinitionName="run-fargate-busybox-latest",
                                                  status="ACTIVE")["jobDefinitions"]
        self.assertEqual(d["platformCapabilities"], ["FARGATE"])
        rc, _, err = self.cli("run", "--queue", "run-fq", "--image", "busybox:latest", "--",
                              "true")
        self.assertEqual(rc, 0, err)
        self.assertNotIn("registered job definition", err)

    def test_runs_of_a_new_image_at_once_leave_one_definition(self):
        # Each registered its own revision, identical to the others'.
        results = []
        runs = [threading.Thread(target=lambda: results.append(self.cli(
            "run", "--image", "busybox", "--memory", "96", "--", "true")))
            for _ in range(4)]
        for t in runs:
            t.start()
        for t in runs:
            t.join()
        self.assertEqual([r[0] for r in results], [0] * 4, [r[2] for r in results])
        defs = [d for d in self.batch.describe_job_definitions(
                    jobDefinitionName="run-busybox", status="ACTIVE")["jobDefinitions"]
                if {"type": "MEMORY", "value": "96"} in
                d["containerProperties"]["resourceRequirements"]]
        self.assertEqual(len(defs), 1, defs)

    def test_run_an_array_shows_progress(self):
        rc, _, err = self.cli("run", "--image", "busybox", "--array-size", "3", "--", "sh", "-c",
                              "sleep 0.5")
        self.assertEqual(rc, 0, err)
        self.assertIn("3/3 SUCCEEDED 3", err)
        rc, _, err = self.cli("run", "--image", "busybox", "--array-size", "2", "--", "sh", "-c",
                              '[ "$AWS_BATCH_JOB_ARRAY_INDEX" = 0 ]')
        self.assertEqual(rc, 1, err)
        self.assertIn("FAILED 1", err)
        # The array's reason names no child: the end says how many failed and where to look.
        m = re.search(r"job (\S+) FAILED: .*; 1 of its 2 children failed \(`barge jobs --array "
                      r"(\S+) --status FAILED` lists them\)", err)
        self.assertTrue(m, err)
        self.assertEqual(m.group(1), m.group(2))

    def run_on_terminal(self, columns, term, *args):
        """Runs `barge run ARGS` on a terminal of that many columns (0: one that says none)
        and that $TERM; returns its exit code and what it wrote there."""
        import fcntl
        import pty
        import select
        import struct
        import termios
        pid, fd = pty.fork()
        if pid == 0:
            env = cli_env(self.server.url)
            env.pop("COLUMNS", None)
            env["TERM"] = term
            os.execve(BARGE, [BARGE, "run"] + list(args), env)
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        seen = b""
        while select.select([fd], [], [], 60)[0]:
            try:
                got = os.read(fd, 65536)
            except OSError:
                break
            if not got:
                break
            seen += got
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), seen.decode()

    def test_run_an_array_fits_its_progress_to_the_terminal(self):
        """A progress line wider than the terminal wraps, and each redraw (from its last row)
        leaves its first rows behind: the bar shrinks, or goes, and the line is cut."""
        for columns, widest in ((40, 39), (0, 79)):
            rc, seen = self.run_on_terminal(columns, "xterm", "--image", "busybox",
                                            "--array-size", "4", "--", "sh", "-c", "sleep 0.5")
            self.assertEqual(rc, 0, seen)
            lines = [l for l in re.split(r"[\r\n]+", seen.replace("\x1b[K", "")) if l]
            progress = [l for l in lines if not l.startswith("barge run:")]
            self.assertTrue(progress, seen)
            self.assertLessEqual(max(len(l) for l in progress), widest, progress)
            self.assertIn("4/4 SUCCEEDED 4", progress[-1])
        # A terminal that takes no escape codes (Emacs' shell) gets a line per change instead.
        rc, seen = self.run_on_terminal(80, "dumb", "--image", "busybox", "--array-size", "2",
                                        "--", "true")
        self.assertEqual(rc, 0, seen)
        self.assertNotIn("\x1b", seen)
        self.assertNotIn("\r[", seen)
        self.assertIn("] 2/2 SUCCEEDED 2\r\n", seen)

    def test_run_an_arrays_bar_never_widens(self):
        """The bar took the room its counts left, at each redraw: as children changed status
        ("RUNNABLE 8", then "RUNNABLE 4 RUNNING 2 SUCCEEDED 2", then "SUCCEEDED 8") it jumped
        from 40 marks to 20 and back, its fill seeming to go back.  It keeps the narrowest
        width it has had."""
        rc, seen = self.run_on_terminal(60, "xterm", "--image", "busybox", "--array-size", "8",
                                        "--", "sh", "-c", "sleep 0.5")
        self.assertEqual(rc, 0, seen)
        bars = [len(m) for m in re.findall(r"(?:^|\r)\[([#.]+)\] ", seen.replace("\x1b[K", ""))]
        self.assertGreater(len(bars), 2, seen)
        self.assertEqual(bars, sorted(bars, reverse=True), seen)
        self.assertIn("8/8 SUCCEEDED 8", seen)

    def test_run_whose_reader_goes_says_its_job_goes_on(self):
        """`barge run ... | head -1` ended barge run by SIGPIPE, without a word about its job,
        which runs on: it says so, and how to follow or stop it."""
        cmd = "%s run --image busybox -- sh -c 'seq 100000; sleep 30' | head -1" % BARGE
        p = subprocess.run(["bash", "-c", cmd + "; echo rc=${PIPESTATUS[0]} >&2"],
                           capture_output=True, text=True, env=cli_env(self.server.url),
                           timeout=60)
        self.assertEqual(p.stdout, "1\n")
        self.assertIn("rc=141\n", p.stderr)
        job_id = re.search(r"job (\S+) submitted", p.stderr).group(1)
        self.addCleanup(lambda: self.batch.terminate_job(jobId=job_id, reason="test over"))
        self.assertIn("job %s goes on without this command" % job_id, p.stderr)
        self.assertIn("`barge terminate %s` stops it" % job_id, p.stderr)
        # The pipe's reader went: nothing more to say (docs/cli.md).
        self.assertNotIn("writing the output failed", p.stderr)
        # Running on (its log may be stored before its agent's report that it runs is).
        self.wait_for(lambda: self.status(job_id) == "RUNNING", 20, "the job to be RUNNING")

    def test_run_whose_reader_goes_after_its_job_ended_says_it_ended(self):
        """A job that printed more than was read and ended: it was said to go on."""
        cmd = "%s run --image busybox -- seq 30000 | (sleep 8; head -1)" % BARGE
        p = subprocess.run(["bash", "-c", cmd + "; echo rc=${PIPESTATUS[0]} >&2"],
                           capture_output=True, text=True, env=cli_env(self.server.url),
                           timeout=60)
        exited_ms = time.time() * 1000
        job_id = re.search(r"job (\S+) submitted", p.stderr).group(1)
        # The job ends once its log is stored: on a loaded machine, after the reader went.
        stopped = self.wait_job(job_id).get("stoppedAt") or exited_ms
        if "goes on" in p.stderr and stopped > exited_ms - 500:
            self.skipTest("the job had not ended when the reader went: %s" % p.stderr)
        self.assertIn("rc=141\n", p.stderr)
        self.assertIn("job %s SUCCEEDED; its output could not all be written" % job_id, p.stderr)
        self.assertNotIn("goes on", p.stderr)

    def test_run_a_multi_node_job_follows_its_main_node(self):
        def node(target, script):
            return {"targetNodes": target, "container": {
                "image": "busybox", "command": ["sh", "-c", script], "resourceRequirements": [
                    {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]}}
        self.batch.register_job_definition(
            jobDefinitionName="mn-run", type="multinode", nodeProperties={
                "numNodes": 2, "mainNode": 0, "nodeRangeProperties": [
                    node("0", "echo main $AWS_BATCH_JOB_NODE_INDEX; exit 4"),
                    node("1", "echo other; sleep 60")]})
        rc, out, err = self.cli("run", "--definition", "mn-run", timeout=90)
        # The main node's log and exit, and the job's end once its other node was stopped.
        self.assertEqual(rc, 4, err)
        self.assertEqual([line for line in out.splitlines() if line], ["main 0"])
        self.assertIn("its log is its main node's", err)
        self.assertRegex(err, r"job \S+ FAILED: Essential container in task exited "
                              r"\(exit code 4\)")
        job_id = re.search(r"job (\S+) submitted", err).group(1)
        self.assertEqual(self.job(job_id)["status"], "FAILED")
        # `barge logs` of the job prints its main node's log too.
        rc, out, err = self.cli("logs", job_id)
        self.assertEqual((rc, out.strip()), (0, "main 0"), err)

    def test_run_prints_every_attempt_in_order(self):
        """Attempts that start and end between two polls of the job are printed too."""
        rc, out, err = self.cli("run", "--image", "busybox", "--attempts", "4", "--", "sh",
                                "-c", "echo try-$AWS_BATCH_JOB_ATTEMPT; exit 7")
        self.assertEqual(rc, 7, err)
        self.assertEqual(out.splitlines(), ["try-1", "try-2", "try-3", "try-4"])

    def test_run_json_prints_one_document(self):
        rc, out, err = self.cli("run", "--image", "busybox", "--json", "--", "sh", "-c",
                                "echo to stderr; exit 3")
        self.assertEqual(rc, 3, err)
        job = json.loads(out)
        self.assertEqual((job["status"], job["container"]["exitCode"]), ("FAILED", 3))
        self.assertIn("to stderr\n", err)

    def test_run_of_a_job_ended_before_it_started_says_so_once(self):
        """A job terminated while it waits (by someone else) never had a log: barge run says
        how it ended, once, not first that it has no log."""
        proc, read, job_id = self.start_run("--queue", "parked", "--image", "busybox", "--",
                                            "true")
        self.wait_for(lambda: self.status(job_id) == "RUNNABLE", what="the job to wait")
        self.batch.terminate_job(jobId=job_id, reason="not today")
        self.assertEqual(proc.wait(timeout=30), 1, read()[1])
        err = read()[1]
        self.assertIn("job %s FAILED: not today" % job_id, err)
        self.assertNotIn("has no logs", err)

    def test_run_stops_a_job_that_can_never_start(self):
        """More vCPUs than any compute environment can have: the job waits RUNNABLE for ever
        (MISCONFIGURATION:...), so barge run says why, ends the job it made, and exits 1."""
        too_many = str(4 * max(2, os.cpu_count()))
        rc, out, err = self.cli("run", "--image", "busybox", "--vcpus", too_many, "--", "true")
        self.assertEqual((rc, out), (1, ""), err)
        self.assertIn("cannot start: MISCONFIGURATION:", err)
        self.assertIn("terminated job", err)
        self.assertIn("ask for less (--vcpus, --memory)", err)
        job_id = err.split("terminated job ", 1)[1].split(",")[0]
        self.assertEqual(self.wait_job(job_id)["status"], "FAILED")
        # The revision it registered for that size goes too: left the latest, the next submit
        # of run-busybox waited for ever as well.
        self.assertIn("deregistered job definition run-busybox:", err)
        for d in self.batch.describe_job_definitions(jobDefinitionName="run-busybox",
                                                     status="ACTIVE")["jobDefinitions"]:
            self.assertNotIn({"type": "VCPU", "value": too_many},
                             d["containerProperties"]["resourceRequirements"])
        # A multi-node job's nodes take neither option: its definition is what asks.
        self.batch.register_job_definition(
            jobDefinitionName="mn-too-big", type="multinode", nodeProperties={
                "numNodes": 2, "mainNode": 0, "nodeRangeProperties": [{
                    "targetNodes": "0:", "container": {
                        "image": "busybox", "command": ["true"],
                        "resourceRequirements": [{"type": "VCPU", "value": too_many},
                                                 {"type": "MEMORY", "value": "64"}]}}]})
        rc, out, err = self.cli("run", "--definition", "mn-too-big")
        self.assertEqual((rc, out), (1, ""), err)
        self.assertIn("register a revision of its definition whose nodes ask for less", err)
        self.assertNotIn("--vcpus", err)

    def test_run_json_prints_the_job_it_stopped_as_it_ended(self):
        """With --json, the description printed is the one after its TerminateJob (it was the
        one from before: RUNNABLE, as if the job still waited)."""
        too_many = str(4 * max(2, os.cpu_count()))
        rc, out, err = self.cli("run", "--json", "--image", "busybox", "--vcpus", too_many,
                                "--", "true")
        self.assertEqual(rc, 1, err)
        job = json.loads(out)
        self.assertEqual(job["status"], "FAILED", out)
        self.assertIn("barge run: the job cannot start", job["statusReason"])

    def test_run_stops_an_array_whose_children_can_never_start(self):
        """The reason is on the children, not on the array: barge run finds it there, ends the
        array it made and exits 1."""
        too_many = str(4 * max(2, os.cpu_count()))
        rc, out, err = self.cli("run", "--image", "busybox", "--array-size", "3", "--vcpus",
                                too_many, "--", "true", timeout=30)
        self.assertEqual((rc, out), (1, ""), err)
        self.assertIn("cannot start: MISCONFIGURATION:", err)
        job_id = err.split("terminated job ", 1)[1].split(",")[0]
        self.assertEqual(self.wait_job(job_id)["status"], "FAILED")
        self.assertNotIn(":", job_id)

    def test_run_rides_out_a_server_restart(self):
        """Jobs go on running while the server restarts; so does the barge run following one:
        it says the server is away, and back, and ends with the job's log and exit code."""
        proc, read, job_id = self.start_run("--image", "busybox", "--", "sh", "-c",
                                            "echo before; sleep 4; echo after; exit 5")
        self.wait_for(lambda: read()[0] == "before\n", what="the first line")
        # Away long enough for a few polls to find no server.
        self.server.stop()
        time.sleep(2)
        self.server.start()
        self.assertEqual(proc.wait(timeout=60), 5, read()[1])
        out, err = read()
        self.assertEqual(out, "before\nafter\n", err)
        self.assertIn("the server at %s is unavailable" % self.server.url, err)
        self.assertEqual(err.count("is unavailable"), 1, err)
        self.assertIn("answers again", err)
        self.assertIn("job %s FAILED" % job_id, err)

    def test_interrupted_run_terminates_its_job(self):
        """SIGINT or SIGTERM: barge run terminates the job it submitted, says so, prints the
        log to the end and exits 128 plus the signal's number."""
        for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
            proc, read, job_id = self.start_run("--image", "busybox", "--", "sh", "-c",
                                                "echo started; sleep 30")
            self.wait_for(lambda: read()[0] == "started\n", what="the job to start")
            self.assertEqual(self.status(job_id), "RUNNING")
            proc.send_signal(sig)
            self.assertEqual(proc.wait(timeout=30), code, read()[1])
            out, err = read()
            self.assertEqual(out, "started\n")
            self.assertIn("interrupted: job %s will be terminated in a second; interrupt again "
                          "(Ctrl-C) to leave it running" % job_id, err)
            self.assertIn("terminating job %s" % job_id, err)
            self.assertIn("job %s FAILED: barge run was interrupted" % job_id, err)
            job = self.job(job_id)
            self.assertEqual((job["status"], job["statusReason"]),
                             ("FAILED", "barge run was interrupted"))

    def test_interrupted_run_of_a_pending_job_does_not_wait_for_it(self):
        """A PENDING job told to stop ends once its dependencies have (as on AWS): barge run
        waited its 30 seconds for nothing, then said the job had not ended."""
        first = self.batch.submit_job(jobName="long", jobQueue="default",
                                      jobDefinition=self.define_sleep())["jobId"]
        self.addCleanup(lambda: self.batch.terminate_job(jobId=first, reason="test over"))
        proc, read, job_id = self.start_run("--image", "busybox", "--depends-on", first, "--",
                                            "true")
        self.wait_for(lambda: self.status(job_id) == "PENDING", what="the job to wait")
        start = time.time()
        proc.send_signal(signal.SIGINT)
        self.assertEqual(proc.wait(timeout=30), 130, read()[1])
        self.assertLess(time.time() - start, 15)
        err = read()[1]
        self.assertIn("job %s was told to stop; it waits for its dependencies, and ends FAILED "
                      "once they have completed" % job_id, err)
        self.assertNotIn("waiting up to", err)

    def test_interrupted_run_of_an_array_waits_for_its_children(self):
        """An array stays PENDING while its children run: it is waited for, not taken for a job
        that waits for its dependencies."""
        proc, read, job_id = self.start_run("--image", "busybox", "--array-size", "2", "--",
                                            "sleep", "30")
        self.wait_for(lambda: self.job(job_id)["arrayProperties"]["statusSummary"].get(
            "RUNNING") == 2, what="the children to run")
        proc.send_signal(signal.SIGINT)
        self.assertEqual(proc.wait(timeout=40), 130, read()[1])
        err = read()[1]
        self.assertIn("waiting up to", err)
        self.assertNotIn("waits for its dependencies", err)
        self.assertEqual(self.wait_job(job_id)["status"], "FAILED")

    def test_interrupted_run_whose_server_is_away_says_so(self):
        """The TerminateJob finds no server: it said the job would be terminated in a second,
        then nothing until the server answered again."""
        proc, read, job_id = self.start_run("--image", "busybox", "--", "sh", "-c",
                                            "echo started; sleep 30")
        self.wait_for(lambda: read()[0] == "started\n", what="the job to start")
        self.server.stop()
        try:
            proc.send_signal(signal.SIGINT)
            self.wait_for(lambda: "the server does not answer" in read()[1], 20,
                          "the server's absence said")
            self.assertIn("job %s is terminated once it does" % job_id, read()[1])
        finally:
            self.server.start()
        self.assertEqual(proc.wait(timeout=60), 130, read()[1])

    def test_interrupted_twice_run_leaves_its_job_running(self):
        proc, read, job_id = self.start_run("--image", "busybox", "--", "sh", "-c",
                                            "echo started; sleep 30")
        self.wait_for(lambda: read()[0] == "started\n", what="the job to start")
        proc.send_signal(signal.SIGINT)
        self.wait_for(lambda: "interrupted: job" in read()[1], what="the first interrupt said")
        proc.send_signal(signal.SIGINT)
        self.assertEqual(proc.wait(timeout=10), 130, read()[1])
        err = read()[1]
        self.assertIn("left job %s as it is; `barge terminate %s` stops it" % (job_id, job_id),
                      err)
        self.assertNotIn("terminating job", err)
        time.sleep(1.5)
        self.assertEqual(self.status(job_id), "RUNNING")

    def test_run_of_a_job_that_could_not_start_says_why(self):
        rc, _, err = self.cli("run", "--image", "busybox", "--", "/nonexistent/cmd")
        self.assertEqual(rc, 1, err)
        self.assertIn("FAILED: Task failed to start (CannotStartContainerError: ", err)
        self.assertIn("/nonexistent/cmd", err)
        self.assertIn("it has no exit code", err)
        self.assertNotIn("exit code 1", err)

    def test_explain_sequential_and_n_to_n_children(self):
        """An array's SEQUENTIAL entry names no job; its child i waits for child i-1, and a
        child of an N_TO_N array for the child of the same index."""
        first = self.submit("explained-blocker", queue="parked")
        seq = self.submit("explained-seq", queue="parked", arrayProperties={"size": 3},
                          dependsOn=[{"type": "SEQUENTIAL"}, {"jobId": first}])
        rc, out, err = self.cli("explain", seq)
        self.assertEqual(rc, 0, err)
        self.assertIn("its children run one after another (SEQUENTIAL)", out)
        self.assertIn("it waits for 1 dependency to succeed:", out)
        self.assertRegex(out, r"\n\s+job %s \(explained-blocker\)" % first)
        rc, out, err = self.cli("explain", seq + ":2")
        self.assertEqual(rc, 0, err)
        self.assertIn("it waits for 2 dependencies to succeed:", out.splitlines()[1])
        self.assertIn("(SEQUENTIAL: it waits for the child before it)", out)
        self.assertRegex(out, r"\n\s+job %s:1 \(explained-seq\)" % seq)
        self.assertRegex(out, r"\n\s+job %s:0 \(explained-seq\)" % seq)
        arr = self.submit("explained-arr", queue="parked", arrayProperties={"size": 2})
        arr2 = self.submit("explained-arr2", queue="parked", arrayProperties={"size": 2},
                           dependsOn=[{"jobId": arr, "type": "N_TO_N"}])
        rc, out, err = self.cli("explain", arr2 + ":1")
        self.assertEqual(rc, 0, err)
        self.assertIn("(N_TO_N: it waits for the child of the same index)", out)
        self.assertRegex(out, r"\n\s+job %s:1 \(explained-arr\) is RUNNABLE" % arr)
        # Children that left PENDING wait for each other still: not "run by themselves".
        seq2 = self.submit("explained-seq2", queue="parked", arrayProperties={"size": 3},
                           dependsOn=[{"type": "SEQUENTIAL"}])
        self.wait_for(lambda: self.job(seq2 + ":0")["status"] == "RUNNABLE", 20, "child 0")
        rc, out, err = self.cli("explain", seq2)
        self.assertEqual(rc, 0, err)
        self.assertIn("its children run one after another (SEQUENTIAL): each waits for the one "
                      "before it; `barge explain %s:N` follows child N" % seq2, out)
        self.assertNotIn("run by itself", out)
        # N_TO_N on a job that is not an array: each child waits for all of it.
        arr3 = self.submit("explained-arr3", queue="parked", arrayProperties={"size": 2},
                           dependsOn=[{"jobId": first, "type": "N_TO_N"}])
        for which in (arr3, arr3 + ":1"):
            rc, out, err = self.cli("explain", which)
            self.assertEqual(rc, 0, err)
            self.assertIn("(N_TO_N where one of the two is not an array: it waits for the whole "
                          "job)", out)
            self.assertRegex(out, r"\n\s+job %s \(explained-blocker\)" % first)
            self.assertNotIn("no longer known", out)

    def test_explain_of_an_array_whose_children_left_pending(self):
        # Its dependency succeeded and its children wait to be placed: the array waits for
        # nothing of its own any more.
        first = self.submit("explained-done", command="true")
        self.wait_job(first)
        arr = self.submit("explained-after", queue="parked", arrayProperties={"size": 2},
                          dependsOn=[{"jobId": first}])
        self.wait_for(lambda: self.job(arr)["arrayProperties"]["statusSummary"].get("RUNNABLE")
                      == 2, 10, "the children to be RUNNABLE")
        rc, out, err = self.cli("explain", arr)
        self.assertEqual(rc, 0, err)
        self.assertIn("RUNNABLE 2", out)
        self.assertIn("the jobs it depends on have succeeded, so each of its children is now "
                      "placed and run by itself; the array ends when all of them have ended",
                      out)
        self.assertNotIn("it waits for", out)

    def test_explain_counts_only_the_dependencies_still_waited_for(self):
        done = self.submit("explained-succeeded", command="true")
        self.wait_job(done)
        blocker = self.submit("explained-parked", queue="parked")
        job = self.submit("explained-waiting", queue="parked",
                          dependsOn=[{"jobId": done}, {"jobId": blocker}])
        rc, out, err = self.cli("explain", job)
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertIn("it waits for 1 of the 2 jobs it depends on to succeed:", lines[1])
        self.assertRegex(out, r"\n\s+job %s \(explained-succeeded\) is SUCCEEDED" % done)
        self.assertRegex(out, r"\n\s+job %s \(explained-parked\) is RUNNABLE" % blocker)

    def test_run_with_a_definition_and_usage_errors(self):
        rc, out, err = self.cli("run", "--queue", "q", "--definition", "jd", "--", "sh", "-c",
                                "echo from jd")
        self.assertEqual((rc, out.strip()), (0, "from jd"), err)
        rc, _, err = self.cli("run", "--", "true")
        self.assertEqual(rc, 2)
        self.assertIn("give --image IMAGE", err)
        rc, _, err = self.cli("run", "--image", "busybox", "--definition", "jd")
        self.assertEqual(rc, 2)
        self.assertIn("not both", err)
        rc, _, err = self.cli("run", "--image", "busybox", "--queue", "no-such-queue", "--",
                              "true")
        self.assertEqual(rc, 1)
        self.assertIn("no-such-queue", err)

    def test_run_refuses_a_queue_that_does_not_exist_before_registering(self):
        """The queue was asked about, its answer ignored, and a definition registered before
        SubmitJob refused the queue: the definition was left behind."""
        rc, out, err = self.cli("run", "--image", "alpine:3.19", "--queue", "nosuch", "--",
                                "true")
        self.assertEqual((rc, out), (1, ""), err)
        self.assertIn("--queue: no job queue is named 'nosuch'; `aws batch describe-job-queues` "
                      "lists them", err)
        self.assertNotIn("registered", err)
        left = self.batch.describe_job_definitions(jobDefinitionName="run-alpine-3-19")
        self.assertEqual(left["jobDefinitions"], [])
        rc, out, err = self.cli("run", "--image", "alpine:3.19", "--queue", "", "--", "true")
        self.assertEqual((rc, out), (2, ""), err)
        self.assertIn("--queue must not be empty", err)

    def test_explain_follows_dependencies(self):
        first = self.submit("explained-first", command="sleep 3")
        second = self.submit("explained-second", dependsOn=[{"jobId": first}])
        self.wait_job(first, "RUNNING", timeout=30)
        rc, out, err = self.cli("explain", second)
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^job %s \(explained-second\) is PENDING in queue q" % second)
        self.assertIn("it waits for 1 dependency to succeed:", lines[1])
        self.assertRegex(lines[2], r"^\s+job %s \(explained-first\) is RUNNING" % first)
        self.assertIn("on instance i-", out)
        failed = self.submit("explained-failed", command="exit 4")
        self.wait_job(failed)
        rc, out, err = self.cli("explain", failed)
        self.assertEqual(rc, 0, err)
        self.assertIn("is FAILED", out)
        self.assertIn("attempt 1: Essential container in task exited, exit code 4", out)
        rc, _, err = self.cli("explain", "no-such-job")
        self.assertEqual(rc, 1)
        self.assertIn("no job has the id", err)


class Watch(JobsCase):
    def cli(self, *args, **kw):
        return barge(*args, endpoint=self.server.url, **kw)

    def test_watch_a_queue_once_and_an_array(self):
        waiting = [self.submit("watched-%d" % i, queue="parked") for i in range(3)]
        rc, out, err = self.cli("watch", "parked", "--once")
        self.assertEqual(rc, 0, err)
        self.assertIn("queue parked at ", out)
        self.assertRegex(out, r"\n  RUNNABLE +3\n")
        self.assertIn("next to be placed once it is ENABLED:", out)
        for jid in waiting:
            self.assertIn(jid, out)
        arr = self.submit("watched-array", arrayProperties={"size": 3}, command="true")
        rc, _, err = self.cli("watch", "--array", arr, timeout=60)
        self.assertEqual(rc, 0, err)
        self.assertIn("3/3 SUCCEEDED 3", err)
        rc, _, err = self.cli("watch")
        self.assertEqual(rc, 2)
        self.assertIn("give one job queue", err)

    def test_watch_array_refuses_other_jobs_and_honours_once_and_json(self):
        plain = self.submit("watched-plain", queue="parked")
        rc, _, err = self.cli("watch", "--array", plain, timeout=30)
        self.assertEqual(rc, 2)
        self.assertIn("is not an array job", err)
        arr = self.submit("watched-waiting", queue="parked", arrayProperties={"size": 2})
        rc, _, err = self.cli("watch", "--array", arr + ":0", timeout=30)
        self.assertEqual(rc, 2)
        self.assertIn("a child of an array job", err)
        self.wait_status(lambda: self.job(arr + ":1")["status"], "RUNNABLE")
        rc, out, err = self.cli("watch", "--array", arr, "--once", timeout=30)
        self.assertEqual((rc, out), (0, ""), err)
        self.assertEqual(err, "[........................................] 0/2 RUNNABLE 2\n")
        rc, out, err = self.cli("watch", "--array", arr, "--once", "--json", timeout=30)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["arrayProperties"]["statusSummary"]["RUNNABLE"], 2)
        # On a narrow terminal the line fits it (it wrapped), the bar going first.
        rc, screen = barge_on_terminal("watch", "--array", arr, "--once", columns=20,
                                       endpoint=self.server.url)
        self.assertEqual((rc, screen), (0, "0/2 RUNNABLE 2\n"))

    def watch_on_terminal(self, queue, rows, columns):
        """Runs the live `barge watch QUEUE` on a terminal of that window size until it has drawn
        a whole screen (it starts to draw the next); returns that screen's lines."""
        import fcntl
        import pty
        import select
        import struct
        import termios
        leader, follower = pty.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        env = cli_env(self.server.url)
        env.pop("COLUMNS", None)
        env["TERM"] = "xterm"
        p = subprocess.Popen([BARGE, "watch", queue, "--every", "1"], stdin=subprocess.DEVNULL,
                             stdout=follower, stderr=subprocess.PIPE, env=env)
        os.close(follower)
        clear = b"\x1b[H\x1b[J"
        seen = b""
        try:
            deadline = time.time() + 30
            while seen.count(clear) < 2 and time.time() < deadline:
                if select.select([leader], [], [], 1)[0]:
                    try:
                        seen += os.read(leader, 65536)
                    except OSError:
                        break
        finally:
            p.kill()
            p.wait()
            os.close(leader)
        self.assertGreaterEqual(seen.count(clear), 2, (seen, p.stderr.read()))
        return seen.decode().split("\x1b[H\x1b[J")[1].replace("\r\n", "\n").split("\n")

    def test_watch_fits_its_lines_to_a_narrow_or_short_terminal(self):
        """Rows longer than the window's width wrapped, so a window of 16 rows held fewer lines
        than the view counted, and the queue's header and counts scrolled off the top: every
        line is cut to the width now, and job rows give way, never the header."""
        self.make_queue("narrow", ["ce-off"])
        self.wait_valid()
        waiting = [self.submit("narrow-%d" % i, queue="narrow") for i in range(8)]
        for rows, columns in ((16, 60), (16, 20), (11, 60)):
            lines = self.watch_on_terminal("narrow", rows, columns)
            # The cursor's line, after the last, is empty: the screen holds the rest.
            self.assertEqual(lines[-1], "", lines)
            self.assertLessEqual(len(lines), rows, lines)
            for line in lines:
                self.assertLess(len(line), columns, lines)
            self.assertTrue(lines[0].startswith("queue narrow at "[:columns - 4]), lines)
            self.assertTrue(lines[1].startswith("its compute environment"[:columns - 4]), lines)
            for k, status in enumerate(("SUBMITTED", "PENDING", "RUNNABLE", "STARTING",
                                        "RUNNING", "SUCCEEDED", "FAILED")):
                self.assertTrue(lines[2 + k].startswith("  " + status), lines)
            self.assertRegex(lines[4], r"^  RUNNABLE +8$")
            if columns == 60:
                # 16 rows: four jobs and "... and 4 more"; 11: none listed, only how many.
                listed = [jid for jid in waiting if any(jid in line for line in lines)]
                self.assertEqual(listed, waiting[:4] if rows == 16 else [], lines)
                self.assertIn("  ... and 4 more" if rows == 16 else
                              "next to be placed once it is ENABLED: 8 jobs", lines)
            else:
                self.assertTrue(any(line.endswith("...") for line in lines), lines)
        # Too short for a line a status (8 rows, the header two of them): the counts go side
        # by side, on as many lines as the width needs, and none is dropped (FAILED was).
        for columns, count_lines in ((100, 1), (40, 3)):
            lines = self.watch_on_terminal("narrow", 8, columns)
            self.assertLessEqual(len(lines), 8, lines)
            self.assertTrue(lines[2 + count_lines].startswith(
                "next to be placed once it is ENABLED:"[:columns - 4]), lines)
            counts = " ".join(lines[2:2 + count_lines])
            self.assertRegex(counts, r"^  SUBMITTED 0  PENDING 0 +RUNNABLE 8 +STARTING 0 +"
                                     r"RUNNING 0 +SUCCEEDED 0 +FAILED 0$")
            self.assertTrue(all(len(line) < columns for line in lines), lines)
        # Into a pipe, nothing is cut.
        rc, out, err = self.cli("watch", "narrow", "--once")
        self.assertEqual(rc, 0, err)
        self.assertIn("its compute environment ce-off is DISABLED; its jobs wait until it is "
                      "ENABLED\n", out)
        for i, jid in enumerate(waiting):
            self.assertRegex(out, r"\n  %s  narrow-%d  \(in line since [-0-9]+ [:0-9]+\)\n"
                             % (jid, i))

    def test_watch_says_what_keeps_jobs_from_being_placed(self):
        """A job that asks more vCPUs than its environment can ever have, and the jobs of a
        queue that is DISABLED or whose environments all are, were listed as next to be placed
        without a word: they never will be, and the view says why."""
        self.make_ce("ce-small", 2)
        self.make_ce("ce-off-2", 2, state="DISABLED")
        self.make_queue("small", ["ce-small"])
        self.make_queue("held", ["ce-off"])
        self.make_queue("all-off", ["ce-off", "ce-off-2"])
        self.wait_valid()
        big = self.submit("too-big", queue="small", overrides={"resourceRequirements": [
            {"type": "VCPU", "value": "8"}]})
        self.addCleanup(lambda: self.batch.terminate_job(jobId=big, reason="test over"))
        reason = self.wait_for(lambda: (self.job(big).get("statusReason") or "").startswith(
            "MISCONFIGURATION:") and self.job(big)["statusReason"], what="the job's reason")
        rc, out, err = self.cli("watch", "small", "--once")
        self.assertEqual(rc, 0, err)
        self.assertIn("next to be placed:\n  %s  too-big  cannot be placed: %s\n" % (big, reason),
                      out)
        self.assertNotIn("DISABLED", out)
        # A queue disabled after its job was submitted: it takes no new jobs, and those it
        # holds are still placed (as on AWS); here its environment is DISABLED too, which is
        # what holds the job.
        held = self.submit("held", queue="held")
        self.batch.update_job_queue(jobQueue="held", state="DISABLED")
        rc, out, err = self.cli("watch", "held", "--once")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"^queue held at [^\n]+\nits compute environment ce-off is "
                              r"DISABLED; its jobs wait until it is ENABLED\n")
        self.assertIn("next to be placed once it is ENABLED:\n  %s  held  (in line since " % held,
                      out)
        # On an environment that places, the queue's state is said and its job is placed.
        self.batch.update_job_queue(jobQueue="held", computeEnvironmentOrder=[
            {"order": 1, "computeEnvironment": "ce-small"}])
        rc, out, err = self.cli("watch", "held", "--once")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"^queue held at [^\n]+\njob queue held is DISABLED: it takes no "
                              r"new jobs, and those in it are still placed\n")
        self.assertNotIn("once it is ENABLED", out)
        self.assertSucceeded(held)
        rc, out, err = self.cli("watch", "all-off", "--once")
        self.assertEqual(rc, 0, err)
        self.assertIn("\nits 2 compute environments are all DISABLED; its jobs wait until one "
                      "is ENABLED\n", out)
        self.assertNotIn("next to be placed", out)

    def test_watch_array_exits_1_when_the_array_failed(self):
        """`barge run` exits 1 for an array whose children failed, and watch --array exited 0:
        `barge watch --array X && next-step` went on after the failure."""
        arr = self.submit("watched-failing", arrayProperties={"size": 2},
                          command='[ "$AWS_BATCH_JOB_ARRAY_INDEX" = 1 ]')
        rc, out, err = self.cli("watch", "--array", arr, timeout=60)
        self.assertEqual((rc, out), (1, ""), err)
        self.assertIn("2/2 SUCCEEDED 1 FAILED 1", err)
        self.assertIn("array job %s FAILED: 1 of its 2 children failed" % arr, err)
        # Ended: --once and --json say so too.
        rc, out, err = self.cli("watch", "--array", arr, "--once", "--json", timeout=30)
        self.assertEqual(rc, 1, err)
        self.assertEqual(json.loads(out)["status"], "FAILED")
        rc, out, _ = self.cli("watch", "--help")
        self.assertEqual(rc, 0)
        self.assertIn("1 when the array has ended FAILED", out)


class Usage(JobsCase):
    """What each attempt held (vCPU-seconds, memory GiB-seconds) and used (CPU seconds, peak
    memory, measured by its agent), in the description's barge member, summed by `barge usage`."""

    def cli(self, *args, **kw):
        return barge(*args, endpoint=self.server.url, **kw)

    def test_usage_per_attempt_and_summed(self):
        burn = ('i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; '
                'dd if=/dev/zero of=/dev/null bs=48M count=1 2>/dev/null')
        jid = self.submit("burner", command=burn, tags={"team": "red"})
        d = self.wait_job(jid, timeout=60)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        raw = self.raw_job(jid)
        u = raw["barge"]["usage"]
        secs = (d["stoppedAt"] - d["startedAt"]) / 1000.0
        self.assertAlmostEqual(u["vcpuSeconds"], secs, delta=0.01 + secs * 0.01)
        self.assertAlmostEqual(u["memoryGiBSeconds"], 64 / 1024 * secs, delta=0.01)
        self.assertGreater(u["cpuSeconds"], 0.05)
        self.assertGreater(u["maxMemoryBytes"], 48 * 2**20)
        self.assertEqual(raw["barge"]["attempts"][0]["usage"], u)
        for a in raw["attempts"]:
            self.assertNotIn("usage", a)
        other = self.submit("quiet", command="true", tags={"team": "blue"})
        self.wait_job(other)
        rc, out, err = self.cli("usage", "--queue", "q", "--by", "tag:team", "--json")
        self.assertEqual(rc, 0, err)
        groups = {g["group"]: g for g in __import__("json").loads(out)}
        self.assertEqual(groups["red"]["jobs"], 1)
        self.assertAlmostEqual(groups["red"]["cpuSeconds"], u["cpuSeconds"], places=3)
        self.assertEqual(groups["blue"]["jobs"], 1)
        rc, out, err = self.cli("usage", "--queue", "q")
        self.assertEqual(rc, 0, err)
        self.assertIn("GROUP", out)
        self.assertIn("jd", out)
        rc, _, err = self.cli("usage", "--queue", "q", "--by", "colour")
        self.assertEqual(rc, 2)
        self.assertIn("--by must be", err)


class RunWithoutLogs(JobsCase):
    """`barge run` by a principal that may run jobs but not read logs: the follow fails, and
    the job, which runs on, is said to go on, with how to follow or stop it."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="barge-run-nologs-")
        creds = write_credentials(os.path.join(cls.dir, "credentials"), {
            "tester": {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY,
                       "barge_policy": "admin"},
            "runner": {"aws_access_key_id": "AKIDNOLOGS", "aws_secret_access_key": "nologs",
                       "barge_policy": "batch-only"}})
        policies = os.path.join(cls.dir, "policies.json")
        with open(policies, "w") as f:
            json.dump({"batch-only": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "batch:*", "Resource": "*"}]}}, f)
        cls.server_args = ("--credentials", creds, "--policies", policies, "--idle-seconds",
                           "30", "--kill-grace-seconds", "1")
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_a_follow_that_fails_says_the_job_goes_on(self):
        rc, out, err = barge("run", "--queue", "q", "--definition", "jd", "--", "sh", "-c",
                             "sleep 60", endpoint=self.server.url, timeout=120,
                             env={"AWS_ACCESS_KEY_ID": "AKIDNOLOGS",
                                  "AWS_SECRET_ACCESS_KEY": "nologs"})
        self.assertEqual(rc, 1, err)
        self.assertIn("AccessDenied", err)
        m = re.search(r"job (\S+) goes on without this command; `barge logs -f \1` follows "
                      r"it, `barge terminate \1` stops it", err)
        self.assertIsNotNone(m, err)
        self.assertIn(self.status(m.group(1)), ("STARTING", "RUNNING"))
        self.batch.terminate_job(jobId=m.group(1), reason="the test is over")


class ShowAndExplain(JobsCase):
    """What `barge jobs --array`, `barge describe` and `barge explain` show of arrays and
    multi-node jobs."""

    def cli(self, *args, **kw):
        return barge(*args, endpoint=self.server.url, **kw)

    def test_jobs_array_takes_the_arrays_arn(self):
        # It sent the ARN as ListJobs' arrayJobId, which takes ids: "no job with id 'arn:...'".
        arr = self.submit("listed-by-arn", queue="parked", arrayProperties={"size": 2})
        arn = self.job(arr)["jobArn"]
        self.wait_for(lambda: self.job(arr + ":1")["status"] == "RUNNABLE", 20,
                      "the children to wait")
        for name in (arn, arr):
            rc, out, err = self.cli("jobs", "--array", name)
            self.assertEqual(rc, 0, err)
            self.assertIn("%s:0  listed-by-arn  RUNNABLE" % arr, out)
            self.assertIn("%s:1  listed-by-arn  RUNNABLE" % arr, out)

    def test_describe_a_multi_node_job_shows_its_nodes(self):
        # It showed no node, command or image: they are in nodeProperties, not container.
        def node(target, image, command):
            return {"targetNodes": target, "container": {
                "image": image, "command": command, "resourceRequirements": [
                    {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]}}
        self.batch.register_job_definition(
            jobDefinitionName="mn-shown", type="multinode", nodeProperties={
                "numNodes": 3, "mainNode": 0, "nodeRangeProperties": [
                    node("0", "busybox", ["sh", "-c", "echo main"]),
                    node("1:", "alpine:3", ["sh", "-c", "echo it's another"])]})
        jid = self.submit("mn-shown", queue="parked", definition="mn-shown")
        rc, out, err = self.cli("describe", jid)
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        at = lines.index("  nodes         3, main node 0")
        self.assertEqual(lines[at + 1:at + 5], [
            "  nodes 0       image busybox",
            "                command sh -c 'echo main'",
            "  nodes 1:      image alpine:3",
            "                command sh -c 'echo it'\\''s another'"], out)
        # A node's own description has its command, and says which node it is.
        self.wait_for(lambda: self.job(jid + "#1"), 20, "the nodes to be made")
        rc, out, err = self.cli("describe", jid + "#0", jid + "#1")
        self.assertEqual(rc, 0, err)
        self.assertIn("  command       sh -c 'echo main'\n  image         busybox\n"
                      "  node          0 (the main node)\n", out)
        self.assertIn("  image         alpine:3\n  node          1\n", out)

    def test_explain_says_why_an_arrays_children_wait(self):
        # It said "RUNNABLE 5" and "its children go on on their own (counted above)": the
        # array has no reason of its own, its children have.
        arr = self.submit("too-big-children", arrayProperties={"size": 5},
                          overrides={"resourceRequirements": [{"type": "VCPU", "value": "64"}]})
        self.addCleanup(lambda: self.batch.terminate_job(jobId=arr, reason="test over"))
        self.wait_for(lambda: (self.job(arr + ":0").get("statusReason") or "").startswith(
            "MISCONFIGURATION") and self.job(arr)["arrayProperties"]["statusSummary"].get(
                "RUNNABLE") == 5, 20, "the children to wait for ever")
        rc, out, err = self.cli("explain", arr)
        self.assertEqual(rc, 0, err)
        self.assertIn("an array of 5 children: RUNNABLE 5", out)
        self.assertNotIn("go on on their own", out)
        self.assertIn("each of its children is now placed and run by itself; the array ends "
                      "when all of them have ended", out)
        m = re.search(r"\n    5 children are RUNNABLE; the first of them, job (%s:\d), waits: "
                      r"(.+)\n" % arr, out)
        self.assertIsNotNone(m, out)
        self.assertEqual(m.group(2), self.job(m.group(1))["statusReason"])
        self.assertIn("needs 64 vCPUs", m.group(2))

    def test_explain_names_an_arrays_failed_children(self):
        # It said "SUCCEEDED 1 FAILED 4" and no more: which failed, and why, took a listing
        # and a describe of each.
        arr = self.submit("some-fail", arrayProperties={"size": 5},
                          command="test $AWS_BATCH_JOB_ARRAY_INDEX = 0 || exit 3")
        self.assertEqual(self.wait_job(arr, timeout=60)["status"], "FAILED")
        rc, out, err = self.cli("explain", self.job(arr)["jobArn"])
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertIn("an array of 5 children: SUCCEEDED 1 FAILED 4", lines[1])
        self.assertEqual(lines[2], "    4 children failed, among them:")
        for line in lines[3:6]:
            self.assertRegex(line, r"^        job %s:[1-4]: Essential container in task "
                                   r"exited \(exit code 3\)$" % arr)
        self.assertEqual(lines[6], "    `barge jobs --array %s --status FAILED` lists them "
                                   "all" % arr)
        rc, out, err = self.cli("jobs", "--array", arr, "--status", "FAILED")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len([l for l in out.splitlines() if l.startswith(arr + ":")]), 4)
        # Two failed of two: both named, without "among them".
        two = self.submit("all-fail", arrayProperties={"size": 2}, command="exit 5")
        self.wait_job(two, timeout=60)
        rc, out, err = self.cli("explain", two)
        self.assertEqual(rc, 0, err)
        self.assertIn("\n    2 children failed:\n", out)
        self.assertEqual(len(re.findall(r"^        job %s:[01]: .*\(exit code 5\)$" % two,
                                        out, re.M)), 2, out)
