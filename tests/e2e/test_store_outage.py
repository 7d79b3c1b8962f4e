"""A log store that cannot write for a while (a full disk) must not cost a job its end: the
agent keeps its instance alive with heartbeats, the end report reaches the server, and the
job's lines are stored once the store writes again.  The outage is injected with
$BARGE_FAULT_LOGSTORE: while the file it names exists, the log store's commits fail."""
import json
import os
import sqlite3
import subprocess
import time
import unittest

import botocore.exceptions

from harness import BARGE, free_port
from test_cli import barge
from test_console import browser_ready
from test_console_probe import probe
from test_metrics import parse, value
from test_jobs_common import JobsCase, LogStoreFault, OnTmpfs

GROUP = "/aws/batch/job"


class LogStoreOutage(LogStoreFault, JobsCase):

    def messages(self, stream):
        out = self.server.client("logs").get_log_events(logGroupName=GROUP,
                                                        logStreamName=stream,
                                                        startFromHead=True)
        return [e["message"] for e in out["events"]]

    def test_a_job_that_ends_during_an_outage_succeeds(self):
        go = os.path.join(self.out_dir, "outage.go")
        jid = self.submit("outage", command='echo before; while [ ! -e "%s" ]; do sleep 0.05; '
                                            'done; echo after; echo done >&2' % go)
        self.wait_job(jid, "RUNNING")
        stream = self.job(jid)["container"]["logStreamName"]
        self.wait_for(lambda: self.messages(stream) == ["before"], 10, "the first line")
        # The store stops writing; the job prints and exits 0 meanwhile.
        open(self.fault, "w").close()
        open(go, "w").close()
        # Longer than an instance may stay silent (lostAfterSeconds, 30 s).
        time.sleep(40)
        # Its end report waits for its lines; the instance stays alive meanwhile.
        d = self.job(jid)
        self.assertEqual(d["status"], "RUNNING", d.get("statusReason"))
        self.assertNotIn("is lost", self.server.read_log())
        # The store writes again: the job is recorded as it ended, with all of its lines.
        os.unlink(self.fault)
        d = self.wait_job(jid, timeout=20)
        self.assertEqual((d["status"], d["container"].get("exitCode")), ("SUCCEEDED", 0),
                         d.get("statusReason"))
        self.assertEqual(len(d["attempts"]), 1)
        self.wait_for(lambda: self.messages(stream) == ["before", "after", "done"], 20,
                      "the lines printed during the outage")
        self.assertNotIn("is lost", self.server.read_log())


def fill(path):
    """Writes path until the file system is full."""
    chunk = b"\0" * (1 << 20)
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError:
            pass
    # What a megabyte did not fill.
    with open(path, "ab", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass


class LogStoreGone(JobsCase):
    """A log store that takes no more writes for good, removed or damaged under the server:
    every batch refused as if the failure would pass held each job's end report, and a job that
    printed stayed RUNNING for as long as the server ran.  Its lines now go to
    DATA_DIR/logs-kept.jsonl, and the job ends."""

    def setUp(self):
        super().setUp()
        self.addCleanup(self.fresh_log_store)

    def fresh_log_store(self):
        """The server's next test starts with a log store that writes."""
        self.server.stop()
        for name in ("logs.db", "logs.db-wal", "logs.db-shm", "logs-kept.jsonl"):
            path = os.path.join(self.server.data_dir, name)
            if os.path.exists(path):
                os.remove(path)
        self.server.start()

    def kept(self):
        path = os.path.join(self.server.data_dir, "logs-kept.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f]

    def run_printing(self, name, kept=True):
        jid = self.submit(name, command="echo %s-out; echo %s-err >&2" % (name, name))
        d = self.wait_job(jid, timeout=30)
        self.assertEqual((d["status"], d["container"].get("exitCode")), ("SUCCEEDED", 0),
                         d.get("statusReason"))
        stream = d["container"]["logStreamName"]
        mine = sorted(k["message"] for k in self.kept() if k["logStreamName"] == stream)
        self.assertEqual(mine, ["%s-err" % name, "%s-out" % name] if kept else [])
        return stream

    def test_a_log_store_removed_while_the_server_runs(self):
        self.run_printing("before", kept=False)  # the store is in use
        for suffix in ("", "-wal", "-shm"):
            path = os.path.join(self.server.data_dir, "logs.db" + suffix)
            if os.path.exists(path):
                os.remove(path)
        stream = self.run_printing("removed")
        log = self.server.read_log()
        self.assertIn("logs.db was removed or replaced while this server ran: job output goes "
                      "to %s/logs-kept.jsonl until the server starts again" %
                      self.server.data_dir, log)

    def test_a_damaged_log_store(self):
        self.run_printing("first", kept=False)
        self.server.stop()
        db = os.path.join(self.server.data_dir, "logs.db")
        with sqlite3.connect(db) as c:
            roots = [r for (r,) in c.execute(
                "SELECT rootpage FROM sqlite_master WHERE tbl_name = 'events'")]
            size = c.execute("PRAGMA page_size").fetchone()[0]
        with open(db, "r+b") as f:
            for r in roots:
                f.seek((r - 1) * size)
                f.write(os.urandom(size))
        self.server.start()
        stream = self.run_printing("damaged")
        self.assertIn("logs.db is damaged (database disk image is malformed): job output goes "
                      "to %s/logs-kept.jsonl" % self.server.data_dir, self.server.read_log())
        # A reader is told what is wrong, not to retry.
        logs = self.server.client("logs")
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True)
        self.assertIn("the log store cannot be read: %s is damaged" % db, str(cm.exception))


class SmallDisk(OnTmpfs, JobsCase):
    """The whole data directory on a small file system (64 MiB).  Needs the right to mount a
    tmpfs (root); skipped without."""

    @classmethod
    def on_tmpfs(cls):
        cls.server_data_dir = os.path.join(cls.mnt, "data")
        os.mkdir(cls.server_data_dir)
        cls.filler = os.path.join(cls.mnt, "filler")

    def tearDown(self):
        if os.path.exists(self.filler):
            os.unlink(self.filler)


class JobOutputFlood(SmallDisk):
    """A job that prints without pause: its output fills the disk up to the reserve kept for
    the job store, and no further (it filled all of it in seconds, after which every commit
    failed, TerminateJob of that very job among them)."""

    def test_job_output_leaves_the_job_store_room(self):
        jid = self.submit("flood", command="yes 'line of a job that does not stop printing'")
        self.addCleanup(lambda: self.batch.terminate_job(jobId=jid, reason="test over"))
        self.wait_job(jid, "RUNNING")
        self.wait_for(lambda: "kept for the job store" in self.server.read_log(), 60,
                      "job output held back at the reserve")
        time.sleep(2)
        # The job says why it runs on (it ran on without a word, a TerminateJob's end too).
        def barge_member(job_id):
            # (boto3 drops members its model does not have.)
            return self.server.raw("POST", "/v1/describejobs", {"jobs": [job_id]})[2][
                "jobs"][0]["barge"]
        waiting = self.wait_for(lambda: barge_member(jid).get("outputWaiting"), 30,
                                "the job to say its output waits")
        self.assertIn("--log-reserve-mb", waiting["reason"])
        self.assertIn("once its lines are stored", waiting["reason"])
        self.assertLessEqual(waiting["since"], time.time() * 1000)
        rc, out, err = barge("explain", jid, endpoint=self.server.url)
        self.assertEqual(rc, 0, err)
        self.assertIn("its output is held by its agent, refused for now", out)
        # And the console's page of the job.
        browser_ready(self)
        seen = probe(self, "waiting", {"job": jid})
        self.assertIn("its output is held by its agent, refused for now", seen["waiting"])
        v = os.statvfs(self.mnt)
        self.assertGreater(v.f_bavail * v.f_frsize, 8 << 20)
        # The job store still writes: a submit and a terminate are taken.
        other = self.submit("other", queue="parked")
        self.assertEqual(self.job(other)["status"], "RUNNABLE")
        self.assertNotIn("outputWaiting", barge_member(other))
        self.batch.terminate_job(jobId=other, reason="not needed")
        self.wait_job(other, "FAILED")


class DiskFull(SmallDisk):
    """The disk full: the main store and the log store both fail to write."""

    def test_submits_whose_commit_failed_are_not_counted(self):
        # Counted in the handler, before the batch's commit failed: 503s, no job, yet counted.
        def scrape():
            # A scrape read in a batch built on a commit that then failed is a 503 (what it
            # read was rolled back); Prometheus scrapes again, and so does this.
            answers = []
            def answered():
                answers.append(self.server.raw("GET", "/metrics"))
                self.assertIn(answers[-1][0], (200, 503), answers[-1][2])
                return answers[-1][0] == 200
            self.wait_for(answered, 30, "a scrape answered 200")
            return parse(answers[-1][2].decode())
        def submitted():
            return value(scrape(), "barge_jobs_submitted_total") or 0
        def failures():
            return value(scrape(), "barge_store_commit_failures_total") or 0
        before, failed_before = submitted(), failures()
        fill(self.filler)
        try:
            codes = [self.server.raw("POST", "/v1/submitjob", {
                "jobName": "uncounted-%d" % i, "jobQueue": "parked", "jobDefinition": "jd",
                "tags": {"k%d" % k: "v" * 256 for k in range(40)}})[0] for i in range(5)]
        finally:
            os.unlink(self.filler)
        self.assertIn(503, codes)
        # Counted, for an alert on a store that refuses commits.
        self.assertGreater(failures(), failed_before)

        def made():
            return sum(1 for p in self.batch.get_paginator("list_jobs").paginate(
                jobQueue="parked", jobStatus="RUNNABLE") for j in p["jobSummaryList"]
                if j["jobName"].startswith("uncounted-"))
        # The jobs that were answered 200 are there (RUNNABLE) once the store writes again.
        self.wait_for(lambda: made() == codes.count(200), 30, "the jobs made to be RUNNABLE")
        self.assertEqual(submitted() - before, codes.count(200))

    def test_commits_refused_one_after_another_are_said_once_and_their_end_too(self):
        # Every refused batch was a line of the log while clients retried (a line a submit),
        # on a disk that had no room for them either.
        said = self.server.read_log().count("a commit failed")
        fill(self.filler)
        try:
            codes = [self.server.raw("POST", "/v1/submitjob", {
                "jobName": "refused-%d" % i, "jobQueue": "parked", "jobDefinition": "jd",
                "tags": {"k%d" % k: "v" * 256 for k in range(40)}})[0] for i in range(30)]
        finally:
            os.unlink(self.filler)
        self.assertGreater(codes.count(503), 10, codes)
        self.submit("after", queue="parked")
        log = self.server.read_log()
        self.assertLessEqual(log.count("a commit failed") - said, 3, log[-3000:])
        self.assertIn("store: commits go through again (", log)

    def test_a_server_started_on_a_full_disk_says_why_and_loses_nothing(self):
        # It said "database or disk is full" and nothing of what to do.
        jid = self.submit("kept", queue="parked")
        self.server.stop()
        # Started again for the class's other tests only if the test did not (a second start
        # left the first server running when the class ended).
        self.addCleanup(lambda: self.server.proc.poll() is None or self.server.start())
        fill(self.filler)
        try:
            # (Its log would go to the full disk: its words are read from a pipe.)
            p = subprocess.run([BARGE, "server", "--listen", "127.0.0.1:%d" % free_port(),
                                "--data-dir", self.server_data_dir, "--dev", "--executor",
                                "process", "--no-default-queue"],
                               capture_output=True, text=True, timeout=30)
        finally:
            os.unlink(self.filler)
        self.assertNotEqual(p.returncode, 0, p.stderr)
        self.assertIn("file system has no room: free some and start again", p.stderr)
        self.server.start()
        self.assertEqual(self.job(jid)["status"], "RUNNABLE")

    def test_a_job_that_ends_while_the_disk_is_full_succeeds(self):
        go = os.path.join(self.out_dir, "full.go")
        jid = self.submit("full", command='echo before; while [ ! -e "%s" ]; do sleep 0.05; '
                                          'done; echo after' % go)
        self.wait_job(jid, "RUNNING")
        stream = self.job(jid)["container"]["logStreamName"]
        logs = self.server.client("logs")
        self.wait_for(lambda: [e["message"] for e in logs.get_log_events(
            logGroupName=GROUP, logStreamName=stream, startFromHead=True)["events"]] == ["before"],
            10, "the first line")
        fill(self.filler)
        open(go, "w").close()
        time.sleep(40)
        d = self.job(jid)
        self.assertNotEqual(d["status"], "FAILED", d.get("statusReason"))
        os.unlink(self.filler)
        d = self.wait_job(jid, timeout=30)
        self.assertEqual((d["status"], d["container"].get("exitCode")), ("SUCCEEDED", 0),
                         d.get("statusReason"))
        self.assertEqual(len(d["attempts"]), 1)
        self.wait_for(lambda: [e["message"] for e in logs.get_log_events(
            logGroupName=GROUP, logStreamName=stream, startFromHead=True)["events"]] ==
            ["before", "after"], 20, "the line printed while the disk was full")
