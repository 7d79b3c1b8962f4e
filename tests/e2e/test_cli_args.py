"""The CLI's arguments as a user gives them: a job named by its ARN (as `describe --json`, the
events and the console show it) is the job its id names, and an argument that is not UTF-8 is
refused, by position, rather than dropped from the request without a word (JSON holds UTF-8
text only).  Values the server would refuse are refused first, naming the option: sizes out of
its ranges, a definition's revision that is no number, an endpoint with a path; a CA file is
for https:// endpoints only, and one that answers plain HTTP is said to.  What only the server
can refuse is said naming the option too, not the API's field; a job no one knows is said in
one sentence by every command; `usage --json` prints no digits of float sums.  An endpoint
whose 200 is not the operation's answer (empty, or without its members) is said to be no barge
server; a single read of events past the newest says there is nothing after it.  An option of
one value given twice counts the last time (--vcpus and --memory too, whose two items the server
refused), and a name given twice in --env or --param is sent once, with its last value.  An error
answer's type and message reach the terminal without their control characters."""
import os
import pty
import signal
import subprocess
import time
import unittest

import json
import re

import test_cli
from harness import ACCESS_KEY, BARGE, SECRET_KEY, ServerTestCase, arn, stand_in_server
from test_cli import barge, cli_env, jobs_api_missing, make_idle_queue, pty_read_to_end


class Arguments(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        why = jobs_api_missing(cls.server)
        if why:
            cls.server.cleanup()
            raise unittest.SkipTest(why)
        make_idle_queue(cls.batch, "args-ce", "args", "args-jd", ["true"])
        # A queue whose jobs of 3 vCPUs can never start: its environment has 2 at most.
        cls.batch.create_compute_environment(
            computeEnvironmentName="args-small", type="MANAGED",
            computeResources={"type": "EC2", "minvCpus": 0, "maxvCpus": 2,
                              "subnets": ["subnet-1"]})
        cls.batch.create_job_queue(jobQueueName="args-small", priority=1, computeEnvironmentOrder=[
            {"order": 1, "computeEnvironment": "args-small"}])

    def cli(self, *args):
        return barge(*args, endpoint=self.server.url)

    def submit(self, *extra):
        return self.submit_to("args", *extra)

    def submit_to(self, queue, *extra):
        rc, out, err = self.cli("submit", "--queue", queue, "--definition", "args-jd", *extra)
        self.assertEqual(rc, 0, err)
        return out.split()[0]

    def test_a_job_is_named_by_its_arn_as_by_its_id(self):
        jid = self.submit()
        arn = self.batch.describe_jobs(jobs=[jid])["jobs"][0]["jobArn"]
        for cmd in ("describe", "explain"):
            rc, out, err = self.cli(cmd, arn)
            self.assertEqual(rc, 0, (cmd, err))
            self.assertIn(jid, out, cmd)
            self.assertNotIn("no job has the id", err, cmd)
        rc, out, err = self.cli("terminate", arn)
        self.assertEqual(rc, 0, err)
        self.assertIn("Terminate requested for job %s" % jid, out)
        self.assertEqual(self.batch.describe_jobs(jobs=[jid])["jobs"][0]["status"], "FAILED")

    def test_an_argument_that_is_not_utf8_is_refused(self):
        # "\udce9" is the byte 0xe9 alone (Latin-1 é), as a Latin-1 terminal would send it.
        before = self.batch.list_jobs(jobQueue="args", jobStatus="RUNNABLE")["jobSummaryList"]
        rc, out, err = self.cli("submit", "--queue", "args", "--definition", "args-jd",
                                "--env", "A=caf\udce9", "--", "true")
        self.assertEqual(rc, 2, (out, err))
        self.assertIn("argument 6 ('A=caf?'", err)
        self.assertIn("not valid UTF-8", err)
        after = self.batch.list_jobs(jobQueue="args", jobStatus="RUNNABLE")["jobSummaryList"]
        self.assertEqual(len(after), len(before))  # nothing was submitted
        rc, out, err = self.cli("events", "--queue", "\udcff")
        self.assertEqual(rc, 2, (out, err))
        self.assertIn("argument 2", err)

    def test_an_array_left_by_run_is_followed_by_watch(self):
        # Interrupted twice, `barge run` leaves the array as it is and says how to follow it:
        # with watch, as `barge logs` takes no array.
        p = subprocess.Popen([BARGE, "run", "--queue", "args", "--definition", "args-jd",
                              "--array-size", "2"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=cli_env(self.server.url))
        first = p.stderr.readline()
        self.assertIn("submitted to queue args", first)
        jid = first.split("job ")[1].split()[0]
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 130, err)
        self.assertIn("`barge watch --array %s` follows it" % jid, err)
        self.assertNotIn("barge logs -f", err)
        self.batch.terminate_job(jobId=jid, reason="the test is over")

    def test_run_finds_its_definition_among_hundreds_of_revisions(self):
        # run-args-image has 100 revisions of another size, then one of run's default size
        # (1 vCPU, 2048 MiB): past the first page of DescribeJobDefinitions, it is found and
        # used, not registered again.
        name = "run-args-image"
        for mem in ["64"] * 100 + ["2048"]:
            last = self.batch.register_job_definition(
                jobDefinitionName=name, type="container",
                containerProperties={"image": "args-image", "command": ["true"],
                                     "resourceRequirements": [
                                         {"type": "VCPU", "value": "1"},
                                         {"type": "MEMORY", "value": mem}]})
        self.assertEqual(last["revision"], 101)
        p = subprocess.Popen([BARGE, "run", "--queue", "args", "--image", "args-image", "--",
                              "true"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=cli_env(self.server.url))
        lines = []
        while True:
            line = p.stderr.readline()
            self.assertTrue(line, lines)
            lines.append(line)
            if "submitted to queue" in line:
                break
        jid = line.split("job ")[1].split()[0]
        p.send_signal(signal.SIGINT)
        time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=30)
        self.assertFalse([l for l in lines if "registered job definition" in l], lines)
        job = self.batch.describe_jobs(jobs=[jid])["jobs"][0]
        self.assertTrue(job["jobDefinition"].endswith("/%s:101" % name), job["jobDefinition"])
        self.batch.terminate_job(jobId=jid, reason="the test is over")

    def test_explain_follows_a_failed_dependency_and_takes_no_json(self):
        first = self.submit()
        second = self.submit("--depends-on", first)
        third = self.submit("--depends-on", second)
        self.batch.cancel_job(jobId=first, reason="cancelled by the test")
        deadline = time.time() + 10
        while self.batch.describe_jobs(jobs=[third])["jobs"][0]["status"] != "FAILED":
            self.assertLess(time.time(), deadline, "the dependents did not fail")
            time.sleep(0.1)
        rc, out, err = self.cli("explain", third)
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertIn("is FAILED", lines[0])
        self.assertIn("it failed because a job it depends on failed", lines[1])
        self.assertRegex(out, r"\n\s+job %s \(args-jd\) is FAILED" % second)
        self.assertRegex(out, r"\n\s+job %s \(args-jd\) is FAILED in queue args: cancelled "
                              r"by the test" % first)
        rc, out, err = self.cli("explain", "--json", third)
        self.assertEqual(rc, 2, (out, err))
        self.assertIn("barge describe --json", err)
        # Its help listed --json among the common options, which it refuses.
        rc, out, err = self.cli("explain", "--help")
        self.assertEqual(rc, 0, err)
        self.assertNotIn("  --json", out)
        self.assertIn("  --endpoint URL", out)

    def test_a_message_on_a_terminal_does_not_run_on_from_the_progress_bar(self):
        # On a terminal the array's bar is redrawn in place; a message written while it is
        # there (an interrupt, the server away) starts a line of its own.
        leader, follower = pty.openpty()
        p = subprocess.Popen([BARGE, "run", "--queue", "args", "--definition", "args-jd",
                              "--array-size", "2"], stdin=subprocess.DEVNULL,
                             stdout=follower, stderr=follower, env=cli_env(self.server.url))
        os.close(follower)
        seen = b""
        deadline = time.time() + 15
        while b"RUNNABLE 2" not in seen and time.time() < deadline:
            seen += os.read(leader, 4096)
        self.assertIn(b"RUNNABLE 2", seen)
        jid = seen.split(b"job ")[1].split()[0].decode()
        p.send_signal(signal.SIGINT)
        # The second once the first is said (two before the command looks are one to it).
        deadline = time.time() + 15
        while b"interrupted" not in seen and time.time() < deadline:
            seen += os.read(leader, 4096)
        p.send_signal(signal.SIGINT)
        p.wait(timeout=30)
        seen += pty_read_to_end(leader)
        os.close(leader)
        self.assertIn(b"barge run: interrupted", seen)
        self.assertNotIn(b"\x1b[Kbarge run:", seen)
        self.assertIn(b"\x1b[K\r\nbarge run: interrupted", seen)
        self.batch.terminate_job(jobId=jid, reason="the test is over")

    def test_a_name_of_something_else_is_said_to_be_so(self):
        """An id that names no job but something it can be told from: a child or node its
        array or job does not have, another kind's ARN.  (It was said to be unknown, or gone
        after the server's retention.)"""
        plain = self.submit()
        arr = self.submit("--array-size", "3")
        for cmd, arg, want in (
                ("explain", arr + ":3", "array job %s has 3 children, %s:0 to %s:2" %
                 (arr, arr, arr)),
                ("logs", arr + ":-1", "array job %s has 3 children" % arr),
                ("logs", plain + "#1", "job %s is not a multi-node job: it has no nodes" % plain),
                ("explain", plain + ":0", "job %s is not an array job" % plain),
                ("explain", "arn:aws:batch:us-east-1:123456789012:job-queue/args",
                 "is a job queue's ARN, not a job's"),
                ("describe", arr + ":7", "array job %s has 3 children" % arr),
                ("explain", arr + ":01", "'%s:01' is none of them (an index is written "
                 "without leading zeros)" % arr),
                ("describe", "arn:aws:batch:us-east-1:123456789012:compute-environment/x",
                 "is a compute environment's ARN, not a job's")):
            rc, out, err = self.cli(cmd, arg)
            self.assertEqual(rc, 1, (cmd, arg, err))
            self.assertIn(want, err, (cmd, arg))
            self.assertNotIn("retention", err, (cmd, arg))
        rc, _, err = self.cli("explain", "no-such-job")
        self.assertEqual(rc, 1)
        self.assertIn("retention", err)

    def test_a_job_no_one_knows_is_said_alike_by_every_command(self):
        # describe said it in a shorter sentence of its own, without what lists the jobs.
        said = {}
        for cmd in ("describe", "explain", "logs", "cancel", "terminate"):
            rc, out, err = self.cli(cmd, "nosuch")
            self.assertEqual((rc, out), (1, ""), (cmd, err))
            self.assertTrue(err.startswith("barge %s: " % cmd), err)
            said[cmd] = err[len("barge %s: " % cmd):]
        self.assertEqual(len(set(said.values())), 1, said)
        self.assertIn("no job has the id 'nosuch': it is unknown, or it finished longer ago "
                      "than the server keeps finished jobs (barge server --retention-hours)",
                      said["describe"])
        # Among jobs it knows, with --json too.
        jid = self.submit()
        rc, out, err = self.cli("describe", jid, "nosuch", "--json")
        self.assertEqual(rc, 1, err)
        self.assertEqual(err, "barge describe: " + said["describe"])
        self.assertIn(jid, out)

    def test_watch_of_a_deleted_queue_says_it_was_deleted(self):
        # It said the queue did not exist, while DescribeJobQueues shows it DELETED and jobs
        # --all lists its jobs.
        self.batch.create_job_queue(jobQueueName="args-gone", priority=1,
                                    computeEnvironmentOrder=[{"order": 1,
                                                              "computeEnvironment": "args-ce"}])
        self.batch.update_job_queue(jobQueue="args-gone", state="DISABLED")
        self.batch.delete_job_queue(jobQueue="args-gone")
        deadline = time.time() + 30
        while self.batch.describe_job_queues(jobQueues=["args-gone"])["jobQueues"][0][
                "status"] != "DELETED":
            self.assertLess(time.time(), deadline, "the queue was not deleted")
            time.sleep(0.1)
        rc, out, err = self.cli("watch", "--once", "args-gone")
        self.assertEqual((rc, out), (1, ""), err)
        self.assertIn("the job queue 'args-gone' was deleted", err)
        self.assertNotIn("no job queue named", err)

    def test_a_job_name_no_job_can_have_is_a_usage_error(self):
        """As --queue's and --definition's: exit 2, said before any request (it was the
        server's refusal, exit 1, while a bad --queue was the command line's, 2)."""
        for cmd in ("submit", "run"):
            for bad in ("bad/name", "_leading", "x" * 129, "arn:aws:batch:x"):
                rc, out, err = self.cli(cmd, "--queue", "args", "--definition", "args-jd",
                                        "--name", bad, "--", "true")
                self.assertEqual((rc, out), (2, ""), (cmd, bad, err))
                self.assertIn("--name '%s' is no job name" % bad, err)

    def test_a_refusal_names_the_option_given_not_the_apis_field(self):
        """What the server refuses of a value the command line gave was said in the API's
        words ("jobQueue: ...", "dependsOn[0].jobId: ..."): the option is named instead.  It
        is still the server's refusal, exit 1, as the server's state decides (a queue that
        does not exist may be created)."""
        jid = self.submit()
        sub = ("submit", "--queue", "args", "--definition", "args-jd")
        run = ("run", "--queue", "args", "--definition", "args-jd")
        for args, want, field in (
                (("submit", "--queue", "nosuch", "--definition", "args-jd"),
                 "--queue: JobQueue nosuch not found", "jobQueue"),
                (("run", "--queue", "nosuch", "--image", "busybox"),
                 "--queue: no job queue is named 'nosuch'", "jobQueue"),
                (sub + ("--depends-on", jid, "--depends-on", "nosuch:N_TO_N"),
                 "--depends-on: no job with id 'nosuch'", "dependsOn"),
                (run + ("--depends-on", "nosuch"), "--depends-on: no job with id 'nosuch'",
                 "dependsOn"),
                (("submit", "--queue", "args", "--definition", "_nosuch"),
                 "--definition (the job's name without --name): '_nosuch' is not valid",
                 "jobName"),
                (("submit", "--queue", "args", "--definition", "nosuch"),
                 "--definition: JobDefinition nosuch does not exist", "jobDefinition"),
                (run + ("--env", "AWS_BATCH_X=1"), "--env: 'AWS_BATCH_X' starts with AWS_BATCH",
                 "containerOverrides"),
                (sub + ("--memory", "64", "--vcpus", "0.5"),
                 "--vcpus: '0.5' is not a valid VCPU value on EC2", "resourceRequirements"),
                (("run", "--queue", "args", "--image", "a b"),
                 "--image: 'a b' is not an image reference", "containerProperties"),
                (("jobs", "--queue", "nosuch"), "--queue: no job queue named 'nosuch'",
                 "jobQueue"),
                (("jobs", "--array", "nosuch"), "--array: no job with id 'nosuch'",
                 "arrayJobId"),
                (("usage", "--queue", "nosuch"), "--queue: no job queue named 'nosuch'",
                 "jobQueue"),
                (("events", "--queue", "nosuch"), "--queue: no job queue named 'nosuch'",
                 "queue"),
                (("watch", "nosuch", "--once"), "barge watch: no job queue named 'nosuch'",
                 "jobQueue"),
                (("cancel", jid, "--reason", "r" * 1025), "--reason: at most 1024 characters",
                 "reason")):
            rc, out, err = self.cli(*args, "--", "true") if args[0] in ("submit", "run") \
                else self.cli(*args)
            self.assertEqual((rc, out), (1, ""), (args, err))
            self.assertIn("barge %s: " % args[0], err, args)
            self.assertIn(want, err, args)
            # No line says the field (whose name may be a word of the sentence: "queue").
            self.assertFalse([l for l in err.splitlines()
                              if l.startswith("barge %s: %s" % (args[0], field))], (args, err))
        self.batch.terminate_job(jobId=jid, reason="the test is over")

    def test_options_that_only_go_together_are_checked_before_a_call(self):
        # SEQUENTIAL orders an array's children; the server's refusal named its API field.
        for cmd in (("submit", "--queue", "args", "--definition", "args-jd"),
                    ("run", "--queue", "args", "--definition", "args-jd")):
            rc, out, err = self.cli(*cmd, "--depends-on", "SEQUENTIAL", "--", "true")
            self.assertEqual(rc, 2, (cmd, out, err))
            self.assertIn("--depends-on SEQUENTIAL runs an array's children one after "
                          "another: give --array-size N too", err)
            self.assertNotIn("dependsOn", err)
        # An array's children are listed by the array alone; a --queue beside it was left
        # unused without a word, and an empty name or id went to the server.
        for args, want in ((("--queue", "args", "--array", "x"), "--queue and --array exclude "
                                                                  "each other"),
                           (("--queue", "args", "--name", ""), "--name must not be empty"),
                           (("--array", ""), "--array must not be empty")):
            rc, out, err = self.cli("jobs", *args)
            self.assertEqual(rc, 2, (args, out, err))
            self.assertIn(want, err)
        # No job id holds a comma: a list went to the server as one id ("no job with id
        # 'A,B'"); --status takes lists, --depends-on one job a time.
        rc, out, err = self.cli("submit", "--queue", "args", "--definition", "args-jd",
                                "--depends-on", "a1,b2")
        self.assertEqual(rc, 2, err)
        self.assertIn("--depends-on 'a1,b2': give each job with a --depends-on of its own", err)
        # watch takes its queue as the operand: --queue was an unknown option, and a second
        # queue was told to give one.
        rc, out, err = self.cli("watch", "--once", "--queue", "args")
        self.assertEqual(rc, 2, err)
        self.assertIn("the queue to watch is given without an option: barge watch QUEUE", err)
        rc, out, err = self.cli("watch", "--once", "args", "other")
        self.assertEqual(rc, 2, err)
        self.assertIn("give one job queue to watch, not 2 (args, other...)", err)
        # No event is made for a submission: said here rather than by the server.
        rc, out, err = self.cli("events", "--status", "submitted,running")
        self.assertEqual(rc, 2, err)
        self.assertIn("no event is made for a submission", err)

    def test_sizes_are_checked_with_the_servers_ranges(self):
        # Taken here, the server refused them naming containerProperties.resourceRequirements
        # or retryStrategy.attempts.
        vcpus = ("--vcpus must be a whole number of vCPUs from 1 to 1000000 for an EC2 queue, "
                 "or 0.25, 0.5, 1, 2, 4, 8 or 16 for a Fargate one (got '%s')")
        memory = "--memory must be a whole number of MiB, from 4 to 2147483647 (got '%s')"
        for cmd in (("submit", "--queue", "args", "--definition", "args-jd"),
                    ("run", "--queue", "args", "--image", "busybox")):
            for opt, value, want in (("--attempts", "11", "--attempts must be a whole number, "
                                                          "from 1 to 10 (got '11')"),
                                     ("--memory", "1", memory % "1"),
                                     ("--memory", "3", memory % "3"),
                                     ("--vcpus", "1.5", vcpus % "1.5"),
                                     ("--vcpus", "0.0001", vcpus % "0.0001"),
                                     ("--vcpus", "1000001", vcpus % "1000001")):
                rc, out, err = self.cli(*cmd, opt, value, "--", "true")
                self.assertEqual((rc, out), (2, ""), (cmd, opt, value, err))
                self.assertIn(want, err)
        rc, out, err = self.cli("submit", "--queue", "args", "--definition", "args-jd",
                                "--attempts", "10", "--memory", "4", "--vcpus", "1000000")
        self.assertEqual(rc, 0, err)
        self.batch.terminate_job(jobId=out.split()[0], reason="the test is over")
        # Fargate's steps are for Fargate queues: `run --image` knows the queue's kind.
        rc, out, err = self.cli("run", "--queue", "args", "--image", "busybox", "--vcpus",
                                "0.25", "--", "true")
        self.assertEqual((rc, out), (2, ""), err)
        self.assertIn("--vcpus 0.25: queue args has EC2 compute environments, whose jobs take a "
                      "whole number of vCPUs from 1 to 1000000", err)
        self.assertNotIn("registered", err)

    def test_a_size_given_twice_counts_the_last(self):
        # --vcpus or --memory given twice sent two resourceRequirements of one type, which the
        # server refused: "--vcpus: VCPU is given more than once", exit 1.  The last one counts,
        # as for every option of one value (--attempts here), and a name given twice in --env.
        jid = self.submit("--vcpus", "3", "--vcpus", "2", "--memory", "32", "--memory", "48",
                          "--attempts", "3", "--attempts", "2", "--env", "K=1", "--env", "K=2")
        job = self.batch.describe_jobs(jobs=[jid])["jobs"][0]
        self.batch.terminate_job(jobId=jid, reason="the test is over")
        sizes = {r["type"]: r["value"] for r in job["container"]["resourceRequirements"]}
        self.assertEqual(sizes, {"VCPU": "2", "MEMORY": "48"})
        self.assertEqual(job["retryStrategy"]["attempts"], 2)
        self.assertEqual([e for e in job["container"]["environment"] if e["name"] == "K"],
                         [{"name": "K", "value": "2"}])
        # barge run too: 3 vCPUs can never start in args-small (2 at most), 1 can.
        rc, out, err = self.cli("run", "--queue", "args-small", "--definition", "args-jd",
                                "--vcpus", "3", "--vcpus", "1", "--memory", "64", "--memory",
                                "32", "--", "true")
        self.assertEqual(rc, 0, err)
        self.assertIn("SUCCEEDED", err)

    def test_a_definitions_revision_must_be_a_whole_number(self):
        # The server said the definition does not exist.
        arn = "arn:aws:batch:us-east-1:123456789012:job-definition/args-jd:x"
        for cmd in (("submit", "--queue", "args"), ("run", "--queue", "args")):
            for d in ("args-jd:abc", "args-jd:-1", "args-jd:0", "args-jd:", arn):
                rc, out, err = self.cli(*cmd, "--definition", d, "--", "true")
                self.assertEqual((rc, out), (2, ""), (cmd, d, err))
                self.assertIn("--definition '%s': the revision after ':' must be a whole "
                              "number of 1 or more" % d, err)

    def test_a_name_no_queue_or_definition_can_have_is_refused_first(self):
        # The server refused them (exit 1): no queue or definition has such a name, whatever
        # the server holds.  An ARN's name part is a name too.
        name = "a name is 1 to 128 letters, digits, hyphens and underscores"
        for cmd, opt, value in (
                (("submit", "--definition", "args-jd"), "--queue", "bad/name"),
                (("run", "--image", "busybox"), "--queue", "bad/name"),
                (("run", "--definition", "args-jd"), "--queue", arn("job-queue", "a b")),
                (("submit", "--queue", "args"), "--definition", "bad/name"),
                (("submit", "--queue", "args"), "--definition", "args-jd:1:2"),
                (("run", "--queue", "args"), "--definition", "x" * 129 + ":1"),
                (("submit", "--queue", "args"), "--definition",
                 arn("job-definition", "bad.name:1"))):
            rc, out, err = self.cli(*cmd, opt, value, "--", "true")
            self.assertEqual((rc, out), (2, ""), (cmd, opt, value, err))
            self.assertIn("barge %s: %s '%s' " % (cmd[0], opt, value), err)
            self.assertIn(name, err)
        # A tag's key is at most 128 characters: every job would be "(untagged)".
        rc, out, err = self.cli("usage", "--queue", "args", "--by", "tag:" + "k" * 129)
        self.assertEqual((rc, out), (2, ""), err)
        self.assertIn("barge usage: --by tag:KEY: KEY is a tag's key, at most 128 characters "
                      "(got 129)", err)
        # What names them still goes: ARNs, a revision, a key of 128 characters (not bytes).
        for queue, definition in ((arn("job-queue", "args"), "args-jd:1"),
                                  ("args", arn("job-definition", "args-jd:1")),
                                  ("args", arn("job-definition", "args-jd"))):
            rc, out, err = self.cli("submit", "--queue", queue, "--definition", definition)
            self.assertEqual(rc, 0, (queue, definition, err))
            self.batch.terminate_job(jobId=out.split()[0], reason="the test is over")
        rc, out, err = self.cli("usage", "--queue", "args", "--by", "tag:" + "\u00e9" * 128)
        self.assertEqual(rc, 0, err)

    def test_logs_f_of_a_job_that_can_never_start_ends(self):
        # It said it waited for the job to start, once, and waited for ever.
        jid = self.submit_to("args-small", "--vcpus", "3")
        rc, out, err = barge("logs", "-f", jid, endpoint=self.server.url, timeout=30)
        self.assertEqual((rc, out), (1, ""), err)
        self.assertIn("barge logs: job %s cannot start: MISCONFIGURATION:" % jid, err)
        self.assertIn("`barge terminate %s` ends it" % jid, err)
        self.assertEqual(self.batch.describe_jobs(jobs=[jid])["jobs"][0]["status"], "RUNNABLE")
        self.batch.terminate_job(jobId=jid, reason="the test is over")

    def test_logs_attempt_too_large_says_the_range(self):
        rc, out, err = self.cli("logs", "j", "--attempt", "9" * 22)
        self.assertEqual((rc, out), (2, ""), err)
        self.assertIn("--attempt must be a whole number from 1 (the first attempt) to "
                      "2147483647 (got '%s', too large)" % ("9" * 22), err)

    def test_ca_file_is_for_https_endpoints_only(self):
        # An unreadable one was refused with an http:// endpoint, which has no use for it.
        for args, env in ((("--ca-file", "/nonexistent"), None),
                          ((), {"AWS_CA_BUNDLE": "/nonexistent"})):
            rc, out, err = barge("jobs", "--queue", "args", *args, endpoint=self.server.url,
                                 env=env)
            self.assertEqual(rc, 0, (args, err))
        rc, out, err = self.cli("jobs", "--queue", "args", "--ca-file", "")
        self.assertEqual((rc, out), (2, ""), err)
        self.assertIn("barge jobs: --ca-file needs a file name", err)
        https = self.server.url.replace("http://", "https://")
        rc, out, err = self.cli("jobs", "--queue", "args", "--endpoint", https, "--ca-file",
                                "/nonexistent")
        self.assertEqual((rc, out), (2, ""), err)
        self.assertIn("the CA file /nonexistent cannot be read", err)

    def test_https_to_a_plain_http_server_says_to_use_http(self):
        # It said it could not reach a barge server, and to start one.
        https = self.server.url.replace("http://", "https://")
        rc, out, err = self.cli("jobs", "--queue", "args", "--endpoint", https)
        self.assertEqual((rc, out), (1, ""), err)
        self.assertIn("the server at %s answers plain HTTP, not HTTPS" % https, err)
        self.assertIn("give its address as %s" % self.server.url, err)
        self.assertNotIn("barge server --dev", err)

    def test_an_endpoint_with_a_path_says_so_when_barge_has_nothing_there(self):
        # Its requests go to /some/path/v1/..., as a proxy serving barge under a path needs;
        # a barge server answered there, and has no operation: the path is named.
        for args, env in ((("--endpoint", self.server.url + "/some/path"), None),
                          ((), self.server.url + "/x/")):
            rc, out, err = barge("jobs", "--queue", "args", *args,
                                 endpoint=env or self.server.url)
            self.assertEqual((rc, out), (1, ""), (args, err))
            self.assertIn("no such operation", err)
            self.assertIn("has a path (/", err)
            self.assertIn("give its scheme, host and port only", err)
        rc, out, err = self.cli("jobs", "--queue", "args", "--endpoint", self.server.url + "/")
        self.assertEqual(rc, 0, err)

    def test_an_endpoint_scheme_in_capitals_is_a_scheme(self):
        # A URL's scheme is case-insensitive; "HTTP://..." was "not a URL like http://...".
        upper = "HTTP" + self.server.url[len("http"):]
        rc, out, err = self.cli("jobs", "--queue", "args", "--endpoint", upper)
        self.assertEqual(rc, 0, err)

    def test_fleet_of_an_environment_that_does_not_exist_says_so(self):
        """It printed the table's header alone and exited 0, as for an environment without
        instances."""
        for extra in ((), ("--json",)):
            rc, out, err = self.cli("fleet", "--compute-environment", "nosuch", *extra)
            self.assertEqual((rc, out), (1, ""), (extra, err))
            self.assertIn("--compute-environment: no compute environment is named 'nosuch'; "
                          "`aws batch describe-compute-environments` lists them", err)
        # One that exists, without instances: the header alone, as before.
        rc, out, err = self.cli("fleet", "--compute-environment", "args-ce")
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.startswith("INSTANCE"), out)
        self.assertEqual(len(out.splitlines()), 1, out)
        rc, out, err = self.cli("fleet", "--compute-environment", "")
        self.assertEqual((rc, out), (2, ""), err)
        self.assertIn("--compute-environment must not be empty", err)

    def test_usage_of_an_empty_window_says_so(self):
        # It printed a table's header alone, which reads like a failure to sum.
        for args, want in ((("--since", "2099-01-01"), "No usage: --since 2099-01-01 00:00:00 "
                                                          "is in the future."),
                           (("--until", "2021-01-01"), "No job of queue args had an attempt "
                                                       "that ended before 2021-01-01 00:00:00.")):
            rc, out, err = self.cli("usage", "--queue", "args", *args)
            self.assertEqual((rc, out), (0, want + "\n"), err)
        rc, out, err = self.cli("usage", "--queue", "args", "--until", "2021-01-01", "--json")
        self.assertEqual((rc, out), (0, "[]\n"), err)
        # The epoch's first moment is a time like any other: it was shown as "-".
        rc, out, err = barge("usage", "--queue", "args", "--until", "1970-01-01",
                             endpoint=self.server.url, env={"TZ": "UTC"})
        self.assertEqual((rc, out), (0, "No job of queue args had an attempt that ended before "
                                        "1970-01-01 00:00:00.\n"), err)

    def test_usage_json_has_no_digits_of_float_sums(self):
        """The sums' floating-point leftovers were printed: "vcpuSeconds": 0.30000000000000004
        of two pages' 0.1 and 0.2, and 0.2840000000000002 of the server's own sum.  They are
        printed to the millionth (a microsecond of CPU time, the finest measure), as JSON
        numbers, and the table as before."""
        pages = {None: ({"key": "d", "jobs": 1, "vcpuSeconds": 0.1,
                         "memoryGiBSeconds": 0.2840000000000002,
                         "cpuSeconds": 0.22002099999999986, "maxMemoryBytes": 1302528}, "p2"),
                 "p2": ({"key": "d", "jobs": 2, "vcpuSeconds": 0.2, "memoryGiBSeconds": 0,
                         "cpuSeconds": 1e-7, "maxMemoryBytes": 1}, None)}

        def answer(op, req):
            group, token = pages[req.get("nextToken")]
            return dict({"groups": [group]}, **({"nextToken": token} if token else {}))
        url, _ = test_cli.Usage.fake_server(self, answer)
        rc, out, err = barge("usage", "--queue", "q", "--json", endpoint=url, timeout=30)
        self.assertEqual(rc, 0, err)
        self.assertIsNone(re.search(r"\d\.\d{7,}", out), out)
        self.assertEqual(json.loads(out), [{"group": "d", "jobs": 3, "vcpuSeconds": 0.3,
                                            "memoryGiBSeconds": 0.284, "cpuSeconds": 0.220021,
                                            "maxMemoryBytes": 1302528}])
        rc, out, err = barge("usage", "--queue", "q", endpoint=url, timeout=30)
        self.assertEqual((rc, out.splitlines()[1].split()), (0, ["d", "3", "0.3", "0.3", "0.2",
                                                                 "1.2"]), err)


    def test_a_single_read_past_the_newest_event_says_there_is_nothing_after_it(self):
        """Without -f it said "going on from N" and exited, as if it followed."""
        rc, out, err = self.cli("events", "--after", "9223372036854775807")
        self.assertEqual((rc, out), (0, ""), err)
        self.assertRegex(err, r"^barge events: 9223372036854775807 is past the server's newest "
                              r"event, \d+ \(its events were made anew, or it is another "
                              r"server\); there are no events after it\n$")
        # Following, it does go on from the newest.
        p = subprocess.Popen([BARGE, "events", "-f", "--after", "9223372036854775807"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env=cli_env(self.server.url))
        try:
            line = p.stderr.readline()
        finally:
            p.kill()
            p.wait()
        self.assertRegex(line, r"before 9223372036854775807 \(.*\); going on from \d+$")


def odd_server(test, answer, sent=None):
    """A stand-in server answering every call with the bytes answer(operation) gives; each
    request's body is appended to the list sent, when given, as (operation, JSON)."""
    def reply(op, body):
        if sent is not None:
            sent.append((op, json.loads(body or b"null")))
        return answer(op)
    return stand_in_server(test, reply)


class Unavailable(unittest.TestCase):
    """A one-shot command tries a 503 (a standby, a leader changing, a load balancer with no
    server) or a 429 again, three tries in all as the AWS SDKs do: it failed at once."""

    def test_a_503_is_tried_again(self):
        sent = []
        busy = json.dumps({"__type": "ServerException", "message": "this barge server is a "
                                                                   "standby; retry"}).encode()

        def answer(op):
            if len(sent) <= 2:
                return (503, busy)
            return json.dumps({"jobSummaryList": []}).encode()
        url = odd_server(self, answer, sent)
        rc, out, err = barge("jobs", "--queue", "q", "--endpoint", url, timeout=30)
        self.assertEqual(rc, 0, err)
        # The first call three times (refused twice), then the command's other calls.
        self.assertEqual(sent[0], sent[1])
        self.assertEqual(sent[1], sent[2])

    def test_three_refusals_are_the_answer(self):
        sent = []
        url = odd_server(self, lambda op: (429, json.dumps({
            "__type": "TooManyRequestsException", "message": "slow down"}).encode()), sent)
        start = time.time()
        rc, out, err = barge("jobs", "--queue", "q", "--endpoint", url, timeout=30)
        self.assertEqual(rc, 1, err)
        self.assertIn("slow down", err)
        self.assertEqual(len(sent), 3)
        self.assertLess(time.time() - start, 15)


class NotBarge(unittest.TestCase):
    """An endpoint that is no barge server but answers 200: an empty body, or JSON without what
    the operation's answer has.  It was taken for an answer: `events` printed nothing and exited
    0 (with -f it polled for ever), `jobs` said the queue had no jobs, `submit` printed "?  ?",
    `revoke-instance` said the instance was revoked."""

    COMMANDS = ((("events",), "GetEvents", "a barge"),
                (("events", "-f"), "GetEvents", "a barge"),
                (("jobs", "--queue", "q"), "ListJobs", "an AWS Batch"),
                (("describe", "j1"), "DescribeJobs", "an AWS Batch"),
                (("submit", "--queue", "q", "--definition", "d"), "SubmitJob", "an AWS Batch"),
                (("usage", "--queue", "q"), "GetUsage", "a barge"),
                (("fleet",), "ListInstances", "a barge"),
                (("watch", "--once", "q"), "GetJobQueueSnapshot", "an AWS Batch"),
                (("revoke-instance", "i-1"), "RevokeInstance", "a barge"))

    def test_an_answer_without_what_the_operation_answers_is_said_to_be_none(self):
        for body, why in ((b"", "an empty body"), (b"<html>It works!</html>", "not a JSON object"),
                          (b'{"events": []}', "a JSON object without ")):
            url = odd_server(self, lambda op: body)
            for args, op, kind in self.COMMANDS:
                rc, out, err = barge(*args, "--endpoint", url, timeout=20)
                self.assertEqual((rc, out), (1, ""), (body, args, err))
                self.assertEqual(err.count("\n"), 1, (body, args, err))
                self.assertIn("barge %s: %s: the answer to %s is not %s answer (%s" % (
                    args[0], url, op, kind, why), err)
                self.assertTrue(err.endswith("; is --endpoint a barge server?\n"), err)
        # One member of two missing (GetEvents' lastSeq), or of a type no answer has.
        for body, why in ((b'{"events": []}', 'a JSON object without "lastSeq"'),
                          (b'{"events": {}, "lastSeq": 1}', 'its "events" is not an array')):
            url = odd_server(self, lambda op: body)
            rc, out, err = barge("events", "-f", endpoint=url, timeout=20)
            self.assertEqual((rc, out), (1, ""), err)
            self.assertIn("GetEvents is not a barge answer (%s); is $BARGE_ENDPOINT a barge "
                          "server?" % why, err)

    def test_a_log_read_without_events_is_said_to_be_no_answer(self):
        job = {"jobId": "j1", "jobName": "n", "status": "SUCCEEDED",
               "container": {"logStreamName": "s"}, "attempts": [{"container": {
                   "logStreamName": "s"}}]}
        url = odd_server(self, lambda op: json.dumps(
            {"jobs": [job]} if op == "describejobs" else {"nextForwardToken": "f"}).encode())
        rc, out, err = barge("logs", "j1", "--endpoint", url, timeout=20)
        self.assertEqual((rc, out), (1, ""), err)
        self.assertIn("the answer to GetLogEvents is not a CloudWatch Logs answer (a JSON "
                      'object without "events")', err)


class Sent(unittest.TestCase):
    """What the CLI sends for options given more than once."""

    def test_a_name_given_twice_is_sent_once_with_its_last_value(self):
        # --env K=1 --env K=2 sent both, leaving which one the job gets to the server (barge's
        # takes the last; a list of two is no answer to "what is K?"), and --vcpus or --memory
        # twice two items of one type, which the server refuses.
        sent = []
        url = odd_server(self, lambda op: b'{"jobId": "j1", "jobName": "n"}', sent)
        rc, out, err = barge("submit", "--queue", "q", "--definition", "d",
                             "--env", "K=1", "--env", "L=3", "--env", "K=2",
                             "--param", "P=1", "--param", "P=2",
                             "--vcpus", "1", "--memory", "64", "--vcpus", "2", "--memory", "128",
                             "--depends-on", "a", "--depends-on", "b", endpoint=url, timeout=20)
        self.assertEqual((rc, out), (0, "j1  n\n"), err)
        [(op, req)] = sent
        self.assertEqual(op, "submitjob")
        self.assertEqual(req["containerOverrides"]["environment"],
                         [{"name": "K", "value": "2"}, {"name": "L", "value": "3"}])
        self.assertEqual(req["containerOverrides"]["resourceRequirements"],
                         [{"type": "VCPU", "value": "2"}, {"type": "MEMORY", "value": "128"}])
        self.assertEqual(req["parameters"], {"P": "2"})
        # --depends-on adds up, as --status does.
        self.assertEqual(req["dependsOn"], [{"jobId": "a"}, {"jobId": "b"}])


class OutsideDev(ServerTestCase):
    """A server outside developer mode, whose least timeout is AWS's."""

    server_args = ()

    def test_a_timeout_under_the_servers_least_names_the_option(self):
        """Outside --dev an attempt's timeout is 60 seconds at least, which only the server
        knows: its refusal named the field, "timeout.attemptDurationSeconds"."""
        make_idle_queue(self.batch, "timeout-ce", "timeout-q", "timeout-jd", ["true"])
        good = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
        for cmd in (("submit", "--definition", "timeout-jd"),
                    ("run", "--definition", "timeout-jd")):
            rc, out, err = barge(*cmd, "--queue", "timeout-q", "--timeout", "5",
                                 endpoint=self.server.url, env=good)
            self.assertEqual((rc, out), (1, ""), (cmd, err))
            self.assertIn("barge %s: --timeout: must be at least 60 seconds (got 5)" % cmd[0],
                          err)
            self.assertNotIn("attemptDurationSeconds", err)


if __name__ == "__main__":
    unittest.main()


class HostileAnswers(unittest.TestCase):
    """What another program answers in an error goes to the terminal without its escape
    sequences: an error type and message carrying ESC, BEL, DEL or C1 controls could retitle the
    window, clear the screen or hide what follows."""

    def test_an_error_answer_cannot_drive_the_terminal(self):
        answers = [
            (400, json.dumps({"__type": "ClientException\u001b]0;pwned\u0007",
                              "message": "bad\u001b[2J \u009b31m\u007fend"}).encode()),
            (502, b"<html>\x1b[2Jproxy \xc2\x9b31m\x7f error</html>"),
            (502, b"x" * 159 + "\u00e9".encode()),  # cut inside a character at 160 bytes
        ]
        errs = []
        for status, body in answers:
            url = stand_in_server(self, lambda op, b, a=(status, body): a)
            rc, out, err = barge("describe", "x" * 8, endpoint=url)
            self.assertEqual((rc, out), (1, ""), err)
            for bad in ("\x1b", "\x07", "\x7f", "\u009b", "\ufffd"):
                self.assertNotIn(bad, err, (body, err))
            errs.append(err)
        # Shown with '?' in their place, the rest as it was.
        self.assertIn("ClientException?]0;pwned?", errs[0])
        self.assertIn("bad?[2J", errs[0])
        self.assertIn("HTTP 502: <html> [2Jproxy", errs[1])
        self.assertIn("HTTP 502: " + "x" * 159, errs[2])
