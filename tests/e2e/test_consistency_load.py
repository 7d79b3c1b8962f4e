"""What the API says stays consistent while jobs are submitted and change status: ListJobs pages
list a job that stayed in the listed status exactly once while other clients submit at full
speed, and a nextToken serves only the listing that gave it (a token of a queue handed to an
array's listing, or to another queue, status or filter, is refused rather than read as a
position there); and a queue's counts by status (GET /metrics, DescribeJobQueues' and
GetJobQueueSnapshot's barge.jobsByStatus) are ListJobs's, a multi-node job included, whose status
is its nodes' progress while they run, before and after a restart."""
import binascii
import json
import os
import threading
import urllib.request
import uuid

from test_jobs_common import JobsCase, sh
from test_metrics import parse, value

STATUSES = ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED")


class Consistency(JobsCase):
    def fresh_queue(self, ce):
        """A queue of its own for a test (so that it can run again on the same server)."""
        name = "t-" + uuid.uuid4().hex[:8]
        self.batch.create_job_queue(jobQueueName=name, priority=1, computeEnvironmentOrder=[
            {"order": 1, "computeEnvironment": ce}])
        self.wait_valid()
        return name

    def submitter(self, stop, queue, made):
        """Submits to queue as fast as the server answers until stop is set (another client
        under load); counts the jobs made in made[0]."""
        body = json.dumps({"jobName": "busy", "jobQueue": queue, "jobDefinition": "jd"}).encode()
        while not stop.is_set():
            req = urllib.request.Request(self.server.url + "/v1/submitjob", data=body,
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                if r.status == 200:
                    made[0] += 1

    def page(self, maxResults, **kw):
        """Every page of a listing; returns the job ids in the order listed."""
        ids, token, pages = [], None, 0
        while True:
            out = self.batch.list_jobs(maxResults=maxResults,
                                       **dict(kw, **({"nextToken": token} if token else {})))
            ids += [s["jobId"] for s in out["jobSummaryList"]]
            token = out.get("nextToken")
            pages += 1
            if not token:
                return ids
            self.assertLess(pages, 10000, "paging does not end")

    def test_pages_under_load_and_tokens_serve_their_listing(self):
        held = self.fresh_queue("ce-off")  # its jobs stay RUNNABLE
        pre = [self.submit("pre-%d" % i, queue=held) for i in range(120)]
        arr = self.submit("arr", queue=held, arrayProperties={"size": 40})
        stop, made = threading.Event(), [0]
        threads = [threading.Thread(target=self.submitter, args=(stop, held, made))
                   for _ in range(3)]
        for t in threads:
            t.start()
        try:
            self.wait_for(lambda: made[0] >= 50, 20, "the other clients to submit")
            # The jobs waiting from the start are listed once each, in submit order and newest
            # first, while others are added above and around them.
            for kw in ({"jobQueue": held, "jobStatus": "RUNNABLE"},
                       {"jobQueue": held, "filters": [{"name": "JOB_NAME",
                                                           "values": ["pre-*"]}]},
                       {"jobQueue": held, "filters": [{"name": "AFTER_CREATED_AT",
                                                           "values": ["0"]}]}):
                ids = self.page(7, **kw)
                self.assertEqual(len(ids), len(set(ids)), "a job was listed twice: %s" % kw)
                self.assertFalse(set(pre) - set(ids), "jobs left out: %s" % kw)
            kids = self.page(7, arrayJobId=arr, jobStatus="RUNNABLE")
            self.assertEqual(kids, ["%s:%d" % (arr, i) for i in range(40)])
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertGreater(made[0], 50)

        # A token names a position in its own listing only.  A queue's is a submit number and
        # an array's an index: handed across, each was read as the other's position and the
        # page silently started further on (the array's first 5 children, the queue's first 15
        # jobs left out), or a page of nothing without a nextToken, which ends a client's loop.
        queue_tok = self.batch.list_jobs(jobQueue=held, jobStatus="RUNNABLE",
                                         maxResults=5)["nextToken"]
        array_tok = self.batch.list_jobs(arrayJobId=arr, jobStatus="RUNNABLE",
                                         maxResults=15)["nextToken"]
        name_tok = self.batch.list_jobs(jobQueue=held, maxResults=5, filters=[
            {"name": "JOB_NAME", "values": ["pre-*"]}])["nextToken"]
        for kw in ({"arrayJobId": arr, "jobStatus": "RUNNABLE", "nextToken": queue_tok},
                   {"jobQueue": held, "jobStatus": "RUNNABLE", "nextToken": array_tok},
                   {"jobQueue": "q", "jobStatus": "RUNNABLE", "nextToken": queue_tok},
                   {"jobQueue": held, "jobStatus": "SUCCEEDED", "nextToken": queue_tok},
                   {"jobQueue": held, "filters": [{"name": "JOB_NAME", "values": ["busy"]}],
                    "nextToken": name_tok}):
            self.assertClientError(self.batch.list_jobs, "nextToken", **kw)
        # A position that no listing gives is refused too (it restarted the listing).
        for forged in (b"pos:abc", b"pos:0", b"pos:-1"):
            self.assertClientError(self.batch.list_jobs, "nextToken", jobQueue=held,
                                   jobStatus="RUNNABLE",
                                   nextToken=binascii.hexlify(forged).decode())
        # Its own listing takes it, whatever the page size; a filter listing ignores jobStatus
        # (as AWS does), so a token serves it with or without one.
        rest = self.page(1000, jobQueue=held, jobStatus="RUNNABLE", nextToken=queue_tok)
        self.assertEqual(rest[:len(pre) - 5], pre[5:])
        rest = self.batch.list_jobs(arrayJobId=arr, jobStatus="RUNNABLE", nextToken=array_tok)
        self.assertEqual([s["jobId"] for s in rest["jobSummaryList"]],
                         ["%s:%d" % (arr, i) for i in range(15, 40)])
        rest = self.batch.list_jobs(jobQueue=held, jobStatus="FAILED", maxResults=5,
                                    filters=[{"name": "JOB_NAME", "values": ["pre-*"]}],
                                    nextToken=name_tok)
        self.assertEqual([s["jobId"] for s in rest["jobSummaryList"]], pre[-6:-11:-1])

    # A multi-node job's count --------------------------------------------------------------

    def counts(self, queue):
        """The queue's counts by status as /metrics, DescribeJobQueues and
        GetJobQueueSnapshot give them, and as ListJobs lists."""
        with urllib.request.urlopen(self.server.url + "/metrics", timeout=10) as r:
            s = parse(r.read().decode())
        metrics = {st: value(s, "barge_jobs", queue=queue, status=st) for st in STATUSES}
        _, _, out = self.server.raw("POST", "/v1/describejobqueues", {"jobQueues": [queue]},
                                    {"Content-Type": "application/json"})
        described = out["jobQueues"][0]["barge"]["jobsByStatus"]
        _, _, out = self.server.raw("POST", "/v1/getjobqueuesnapshot", {"jobQueue": queue},
                                    {"Content-Type": "application/json"})
        snapshot = out["barge"]["jobsByStatus"]
        listed = {st: len(self.page(1000, jobQueue=queue, jobStatus=st)) for st in STATUSES}
        return metrics, described, snapshot, listed

    def assertCountsAreListed(self, queue, what):
        metrics, described, snapshot, listed = self.counts(queue)
        self.assertEqual(metrics, listed, "/metrics " + what)
        self.assertEqual(described, listed, "DescribeJobQueues " + what)
        self.assertEqual(snapshot, listed, "GetJobQueueSnapshot " + what)
        return listed

    def test_a_multi_node_job_is_counted_as_listed(self):
        gate = os.path.join(self.out_dir, "mnp-gate-" + uuid.uuid4().hex[:8])
        node = {"image": "busybox", "command": sh("while [ ! -e %s ]; do sleep 0.1; done" % gate),
                "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                         {"type": "MEMORY", "value": "64"}]}
        self.batch.register_job_definition(
            jobDefinitionName="mnp-count", type="multinode",
            nodeProperties={"numNodes": 2, "mainNode": 0, "nodeRangeProperties": [
                {"targetNodes": "0:", "container": node}]})
        mq = self.fresh_queue("ce")
        jid = self.submit("mnp", queue=mq, definition="mnp-count")
        self.addCleanup(self.batch.terminate_job, jobId=jid, reason="test over")
        # Both nodes running: ListJobs lists the job as RUNNING (its status is PENDING inside,
        # with its nodes in its summary); the counts said PENDING 1, RUNNING 0.
        self.wait_for(lambda: self.batch.list_jobs(jobQueue=mq, jobStatus="RUNNING")[
            "jobSummaryList"], 60, "the multi-node job to run")
        self.wait_jobs([jid + "#0", jid + "#1"], "RUNNING", timeout=30)
        listed = self.assertCountsAreListed(mq, "while its nodes run")
        self.assertEqual(listed["RUNNING"], 1)
        # A restart loads the job with its nodes' states: counted as listed from the start.
        self.server.restart()
        self.wait_jobs([jid + "#0", jid + "#1"], "RUNNING", timeout=30)
        self.assertEqual(self.assertCountsAreListed(mq, "after a restart")["RUNNING"], 1)
        # Its end moves the count on from what it was shown as, not from PENDING.
        open(gate, "w").close()
        self.wait_job(jid, "SUCCEEDED", timeout=30)
        listed = self.assertCountsAreListed(mq, "once it ended")
        self.assertEqual(listed, dict({st: 0 for st in STATUSES}, SUCCEEDED=1))
