"""Job logs under load: a job that writes as fast as it can, its lines read back with
GetLogEvents and `barge logs -f`, each line exactly once and in order, also when the server
restarts while the agent is shipping them."""
import collections
import http.client
import os
import subprocess
import threading
import time

from harness import BARGE
from test_jobs_common import JobsCase, now_ms
from test_logs_api import push

GROUP = "/aws/batch/job"


class LogsUnderLoad(JobsCase):
    def read_all(self, stream):
        """Every message of the stream, paged from the head until the forward token repeats."""
        logs = self.server.client("logs")
        args = dict(logGroupName=GROUP, logStreamName=stream, startFromHead=True)
        messages, token = [], None
        while True:
            out = logs.get_log_events(**args)
            messages += [e["message"] for e in out["events"]]
            if out["nextForwardToken"] == token:
                return messages
            token = args["nextToken"] = out["nextForwardToken"]

    def last_line(self, stream):
        """The newest line stored (a number), or -1 while there is none."""
        out = self.server.client("logs").get_log_events(logGroupName=GROUP, logStreamName=stream,
                                                        limit=1)
        return int(out["events"][-1]["message"]) if out["events"] else -1

    def keep_the_writer_busy(self, stop):
        """Uploads as a stand-in agent would, 800 KiB at a time, until stop is set: each commit
        of the log store takes longer, and so does each upload of the job's agent."""
        def pusher(k):
            while not stop.is_set():
                try:
                    push(self.server, {"load/default/%d" % k: [(now_ms(), "x" * 200)] * 4000})
                except (OSError, http.client.HTTPException, AssertionError):
                    # The server is restarting (a stand-in's registration refused with a 503
                    # while it stops is register_agent's AssertionError): push again after.
                    time.sleep(0.05)
        threads = [threading.Thread(target=pusher, args=(k,), daemon=True) for k in range(3)]
        for t in threads:
            t.start()
        return threads

    def assertEveryLineOnce(self, messages, n, what):
        want = [str(i) + " " * 199 for i in range(n)]
        if messages == want:
            return
        twice = sum(c - 1 for c in collections.Counter(messages).values() if c > 1)
        missing = len(set(want) - set(messages))
        self.fail("%s: %d lines rather than %d; %d repeated, %d missing" % (
            what, len(messages), n, twice, missing))

    def test_lines_shipped_across_restarts_are_stored_once(self):
        # The agent ships this log (24 MB) for seconds, a request after another, each waiting
        # for commits that the stand-in uploads make long: a restart finds an upload stored
        # and not yet answered.  Before the server waited for those answers, it closed their
        # connections, and the agent sent the batch again: 2,000 lines twice.
        n = 120000
        job_id = self.submit("flood", command="awk 'BEGIN{p=sprintf(\"%%199s\", \"\"); "
                                              "for(i=0;i<%d;i++) print i p}'" % n)
        follow = subprocess.Popen([BARGE, "logs", "-f", job_id], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True,
                                  env=dict(os.environ, BARGE_ENDPOINT=self.server.url))
        stop = threading.Event()
        pushers = self.keep_the_writer_busy(stop)
        try:
            stream = self.wait_job(job_id, "RUNNING", timeout=30)["container"]["logStreamName"]
            restarts, seen = 0, -1
            for _ in range(8):
                # Once more lines are stored than at the last restart, while the job runs (its
                # end waits for all of its lines to be stored).
                got = self.wait_for(lambda: max(self.last_line(stream) - seen, 0), 60,
                                    "more lines stored") + seen
                if self.status(job_id) != "RUNNING" or got >= n - 1:
                    break
                seen = got
                self.server.restart()
                restarts += 1
            stop.set()
            self.assertGreater(restarts, 0, "the job ended before the server could restart")
            self.assertSucceeded(job_id, timeout=120)
            self.assertEveryLineOnce(self.read_all(stream), n,
                                     "GetLogEvents after %d restarts" % restarts)
            out, err = follow.communicate(timeout=120)
            self.assertEqual(follow.returncode, 0, err)
            self.assertEveryLineOnce(out.splitlines(), n, "barge logs -f")
        finally:
            stop.set()
            for t in pushers:
                t.join(60)
            if follow.poll() is None:
                follow.kill()
                follow.wait()
