"""Fair-share scheduling as AWS Batch's scheduling policies describe it: capacity divided by
weightFactor (lower weight, more capacity), computeReservation held back for shares not yet
active, schedulingPriority within a share, UpdateSchedulingPolicy applying to queued jobs, and
usage kept across a restart."""
import os
import sqlite3
import time

from test_jobs_common import FAST, JobsCase


def summaries(batch, array_id):
    out, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        page = batch.list_jobs(arrayJobId=array_id, filters=[
            {"name": "JOB_NAME", "values": ["*"]}], **kw)
        out += page["jobSummaryList"]
        token = page.get("nextToken")
        if not token:
            return out


def overlap(span, window):
    return max(0, min(span[1], window[1]) - max(span[0], window[0]))


class FairShareCase(JobsCase):
    def policy(self, name, shares, decay=0, reservation=0):
        return self.batch.create_scheduling_policy(name=name, fairsharePolicy={
            "shareDecaySeconds": decay, "computeReservation": reservation,
            "shareDistribution": [{"shareIdentifier": s, "weightFactor": w}
                                  for s, w in shares.items()]})["arn"]

    def usage(self, queue):
        """{shareIdentifier: decayed usage in vCPU-seconds} of queue, from its snapshot."""
        status, _, body = self.server.raw("POST", "/v1/getjobqueuesnapshot", {"jobQueue": queue},
                                          {"Content-Type": "application/json"})
        self.assertEqual(status, 200, body)
        return {s["shareIdentifier"]: s["usageVcpuSeconds"] for s in body["barge"]["shares"]}

    def fair_queue(self, name, policy_arn, ce):
        self.batch.create_job_queue(jobQueueName=name, priority=5, schedulingPolicyArn=policy_arn,
                                    computeEnvironmentOrder=[{"order": 1,
                                                              "computeEnvironment": ce}])
        self.wait_valid()


class Weights(FairShareCase):
    max_vcpus = 4

    def test_weights_one_and_three_share_three_to_one(self):
        self.fair_queue("weighted", self.policy("w13", {"light": 1, "heavy": 3}, decay=60), "ce")
        arrays = {share: self.submit("fs-" + share, queue="weighted", command="sleep 0.5",
                                     shareIdentifier=share, arrayProperties={"size": 40})
                  for share in ("light", "heavy")}
        self.wait_jobs(arrays.values(), timeout=120)
        spans = {share: [(s["startedAt"], s["stoppedAt"]) for s in summaries(self.batch, a)]
                 for share, a in arrays.items()}
        # While both shares have jobs waiting: from the first start of the share that started
        # last (the arrays are submitted one after the other, and on a loaded machine the first
        # one's children fill every vCPU before the second array exists) to the last start of
        # the share that ran out first.
        window = (max(min(a for a, _ in v) for v in spans.values()),
                  min(max(a for a, _ in v) for v in spans.values()))
        used = {share: sum(overlap(s, window) for s in v) for share, v in spans.items()}
        self.assertGreater(window[1] - window[0], 3000, "the shares overlapped too briefly")
        ratio = used["light"] / used["heavy"]
        self.assertAlmostEqual(ratio, 3.0, delta=0.3,
                               msg="vCPU-time light:heavy was %.2f (%s over %d ms)" % (
                                   ratio, used, window[1] - window[0]))


class Reservation(FairShareCase):
    max_vcpus = 4

    def running(self, ids):
        return [i for i, d in self.describe(*ids).items() if d["status"] in ("STARTING", "RUNNING")]

    def test_a_share_whose_jobs_wait_for_dependencies_is_active(self):
        # AWS counts a share as active while it has a job SUBMITTED, PENDING, RUNNABLE,
        # STARTING or RUNNING.  Share b's one job waits for a dependency: with share a that
        # makes two active shares, so computeReservation 50 holds back 25% of the 4 vCPUs and
        # share a runs three jobs (only RUNNABLE and running jobs counted: one share, 50%, 2).
        self.fair_queue("reserved-pending", self.policy("r50p", {}, reservation=50), "ce")
        never = self.submit("never", queue="parked")
        waits = self.submit("b-waits", queue="reserved-pending", shareIdentifier="b",
                            dependsOn=[{"jobId": never}])
        hold = self.gate("pending-a") + "true"
        first = [self.submit("pa-%d" % i, queue="reserved-pending", command=hold,
                             shareIdentifier="a") for i in range(4)]
        self.wait_for(lambda: len(self.running(first)) >= 3, timeout=30,
                      what="three of share a's jobs to start")
        time.sleep(1)
        self.assertEqual(len(self.running(first)), 3, "share b's waiting job was not counted")
        snap = self.batch.get_job_queue_snapshot(jobQueue="reserved-pending")
        self.assertEqual(snap["queueUtilization"]["fairshareUtilization"]["activeShareCount"], 2)
        self.batch.cancel_job(jobId=never, reason="not needed")
        self.assertEqual(self.wait_job(waits)["statusReason"], "Dependent Job failed")
        self.open_gate("pending-a")
        self.wait_jobs(first, timeout=60)

    def test_reserved_capacity_waits_for_new_shares(self):
        # computeReservation 50: one active share may use half of the 4 vCPUs, two 75%.
        self.fair_queue("reserved", self.policy("r50", {}, reservation=50), "ce")
        # Share a's jobs run until the test opens their gate, after share b's job has started:
        # on a loaded machine a fixed sleep could end before b's start.
        hold = self.gate("reserved-a") + "sleep 0.5"
        first = [self.submit("a-%d" % i, queue="reserved", command=hold, shareIdentifier="a")
                 for i in range(4)]
        self.wait_for(lambda: len(self.running(first)) == 2, timeout=30,
                      what="two of share a's jobs to start")
        time.sleep(1)
        self.assertEqual(len(self.running(first)), 2, "share a took the reserved capacity")
        # The queue's snapshot shows the share and what it uses, and the front of the queue:
        # the jobs not running.
        waiting = [i for i in first if i not in self.running(first)]
        snap = self.batch.get_job_queue_snapshot(jobQueue="reserved")
        fair = snap["queueUtilization"]["fairshareUtilization"]
        self.assertEqual(fair["activeShareCount"], 1)
        self.assertEqual(fair["topCapacityUtilization"], [{
            "shareIdentifier": "a", "capacityUsage": [{"capacityUnit": "VCPU", "quantity": 2.0}]}])
        self.assertEqual(snap["queueUtilization"]["totalCapacityUsage"],
                         [{"capacityUnit": "VCPU", "quantity": 2.0}])
        self.assertEqual([j["jobArn"].rsplit("/", 1)[1] for j in snap["frontOfQueue"]["jobs"]],
                         waiting)
        d = self.job(waiting[-1])
        self.assertEqual(d["status"], "RUNNABLE")
        self.assertIn("computeReservation", d["statusReason"])
        # A job that can never fit says so, with AWS's code, reservation or not (the
        # reservation's reason hid it, and the queue's time limits never saw the code).
        big = self.submit("a-big", queue="reserved", command="true", shareIdentifier="a",
                          overrides={"resourceRequirements": [{"type": "VCPU", "value": "8"},
                                                              {"type": "MEMORY",
                                                               "value": "64"}]})
        reason = self.wait_for(lambda: self.job(big).get("statusReason"), what="a reason")
        self.assertTrue(reason.startswith("MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE"),
                        reason)
        self.batch.cancel_job(jobId=big, reason="seen")
        # A second share takes a vCPU of the reserve at once, while share a holds its two.
        other = self.submit("b-0", queue="reserved", command="sleep 1", shareIdentifier="b")
        b = self.wait_job(other, timeout=30)
        self.assertEqual(b["status"], "SUCCEEDED")
        self.assertEqual(len(self.running(first)), 2)
        self.open_gate("reserved-a")
        done = self.wait_jobs(first, timeout=60)
        spans = sorted((d["startedAt"], d["stoppedAt"]) for d in done.values())
        # Share a alone never held more than 2 of the 4 vCPUs.
        for t, _ in spans:
            self.assertLessEqual(sum(1 for s, e in spans if s <= t < e), 2)
        # The AWS CLI shows the snapshot too (last: it takes seconds on a loaded machine).
        cli = self.server.aws("batch", "get-job-queue-snapshot", "--job-queue", "reserved")
        self.assertIn("fairshareUtilization", cli["queueUtilization"])
        self.assertIn("frontOfQueue", cli)


class PriorityAndUpdates(FairShareCase):
    """One job at a time: the environment's 2 vCPUs, and jobs of 2 vCPUs."""
    max_vcpus = 2

    @classmethod
    def setUpResources(cls):
        cls.make_definition("two", vcpus="2")

    def submit(self, *args, **kw):
        kw.setdefault("definition", "two")
        return super().submit(*args, **kw)

    def order_of(self, ids):
        ds = self.wait_jobs(ids, timeout=60)
        return [i for i in sorted(ids, key=lambda i: ds[i]["startedAt"])]

    def test_scheduling_priority_orders_a_share(self):
        self.fair_queue("prio", self.policy("p", {}), "ce")
        # The blocker runs until all three are queued behind it.
        blocker = self.submit("blocker", queue="prio", command=self.gate("prio").rstrip("; "),
                              shareIdentifier="s")
        self.wait_job(blocker, "RUNNING")
        low = self.submit("low", queue="prio", command="true", shareIdentifier="s",
                          schedulingPriorityOverride=1)
        high = self.submit("high", queue="prio", command="true", shareIdentifier="s",
                           schedulingPriorityOverride=90)
        mid = self.submit("mid", queue="prio", command="true", shareIdentifier="s",
                          schedulingPriorityOverride=50)
        self.open_gate("prio")
        self.assertEqual(self.order_of([low, high, mid]), [high, mid, low])

    def test_policy_update_applies_to_queued_jobs(self):
        arn = self.policy("upd", {"blue": 1, "red": 1})
        self.fair_queue("upd", arn, "ce")
        # History: blue used less than red.
        for share, secs in (("blue", "0.3"), ("red", "1.5")):
            self.wait_job(self.submit("hist-" + share, queue="upd", command="sleep " + secs,
                                      shareIdentifier=share))
        blocker = self.submit("blocker", queue="upd", command=self.gate("upd").rstrip("; "),
                              shareIdentifier="gray")
        self.wait_job(blocker, "RUNNING")
        b = self.submit("b", queue="upd", command="true", shareIdentifier="blue")
        r = self.submit("r", queue="upd", command="true", shareIdentifier="red")
        # With equal weights blue's smaller usage would come first; red's weight now makes its
        # claim the smaller one.
        self.batch.update_scheduling_policy(arn=arn, fairsharePolicy={"shareDistribution": [
            {"shareIdentifier": "blue", "weightFactor": 100},
            {"shareIdentifier": "red", "weightFactor": 0.01}]})
        self.open_gate("upd")
        self.assertEqual(self.order_of([b, r]), [r, b])

    def test_a_queue_made_again_starts_without_usage(self):
        policy = self.policy("again", {})
        self.fair_queue("again", policy, "ce")
        self.wait_job(self.submit("hist", queue="again", command="sleep 0.5",
                                  shareIdentifier="blue"))

        self.assertGreater(self.usage("again")["blue"], 0.5)
        # Written to the store (at a clean stop at the latest), then the queue made again.
        self.server.restart()
        self.assertGreater(self.usage("again")["blue"], 0.5)
        b = self.batch = self.server.client()
        b.update_job_queue(jobQueue="again", state="DISABLED")
        b.delete_job_queue(jobQueue="again")
        self.wait_for(lambda: [q["status"] for q in b.describe_job_queues(
            jobQueues=["again"])["jobQueues"]] in ([], ["DELETED"]), 10, "the queue to go")
        self.fair_queue("again", policy, "ce")
        self.assertEqual(self.usage("again"), {})
        self.server.restart()
        self.assertEqual(self.usage("again"), {})

    def test_usage_survives_a_restart(self):
        self.fair_queue("kept", self.policy("kept", {}), "ce")
        # Blue uses the environment for a while; red not at all.
        self.wait_job(self.submit("hist", queue="kept", command="sleep 1", shareIdentifier="blue"))

        before = self.usage("kept")
        self.assertGreater(before["blue"], 1.5)  # 2 vCPUs for about a second
        self.server.restart()
        after = self.usage("kept")
        # Kept, less what a few seconds of decay (600 s time constant) take.
        self.assertAlmostEqual(after["blue"], before["blue"], delta=0.05 * before["blue"])
        blocker = self.submit("blocker", queue="kept", command=self.gate("kept").rstrip("; "),
                              shareIdentifier="gray")
        self.wait_job(blocker, "RUNNING")
        b = self.submit("b", queue="kept", command="true", shareIdentifier="blue")
        r = self.submit("r", queue="kept", command="true", shareIdentifier="red")
        # Had the restart forgotten blue's usage, the two would tie and blue's job, submitted
        # first, would start first.
        self.open_gate("kept")
        self.assertEqual(self.order_of([b, r]), [r, b])


class IdleShares(FairShareCase):
    def share_records(self, queue):
        """The store's share records of queue (read beside the running server: WAL)."""
        db = os.path.join(self.server.data_dir, "barge.db")
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        try:
            return [k for (k,) in con.execute("SELECT key FROM records WHERE kind = 'share'")
                    if k.startswith(queue + "\t")]
        finally:
            con.close()

    def test_a_share_that_holds_nothing_goes_once_its_usage_has_decayed(self):
        # Each job names a share of its own: once they have run and their usage has decayed
        # (shareDecaySeconds 1), the shares go, from memory and from the store; a share with a
        # job waiting stays.
        self.fair_queue("idle-fq", self.policy("idle", {}, decay=1), "ce")
        ran = [self.submit("idle-%d" % i, queue="idle-fq", command="true",
                           shareIdentifier="once%d" % i) for i in range(3)]
        self.wait_jobs(ran)
        self.wait_for(lambda: len(self.share_records("idle-fq")) == 3, 15,
                      "the shares' usage to be written")
        self.fair_queue("idle-parked", self.policy("idle2", {}, decay=1), "ce-off")
        waiting = self.submit("idle-waits", queue="idle-parked", shareIdentifier="waits")
        self.wait_job(waiting, "RUNNABLE")
        self.wait_for(lambda: not self.share_records("idle-fq") and
                      not any(k.startswith("once") for k in self.usage("idle-fq")), 40,
                      "the idle shares to go")
        self.assertIn("waits", self.usage("idle-parked"))
        # Named again, a share starts anew.
        again = self.submit("idle-again", queue="idle-fq", command="true",
                            shareIdentifier="once0")
        self.wait_jobs([again])
        self.assertIn("once0", self.usage("idle-fq"))


class ActiveShareLimit(FairShareCase):
    # AWS: a fair-share queue "can have a maximum of 500 active share identifiers. When the
    # limit has been reached, submissions of any jobs that add a new share identifier fail."
    # Here the limit is 2 (--max-active-shares).
    server_args = FAST + ("--max-active-shares", "2")

    def test_a_new_share_past_the_limit_is_refused_until_one_has_no_job_left(self):
        self.fair_queue("limited", self.policy("lim", {}), "ce-off")
        a = self.submit("a1", queue="limited", shareIdentifier="a")
        self.submit("b1", queue="limited", shareIdentifier="b")
        self.assertClientError(self.submit, "shareIdentifier: job queue limited has 2 active "
                               "share identifiers", "--max-active-shares", name="c1",
                               queue="limited", shareIdentifier="c")
        # The shares already active take more jobs.
        a2 = self.submit("a2", queue="limited", shareIdentifier="a")
        # Once share a has no job left, share c may join.
        for jid in (a, a2):
            self.batch.cancel_job(jobId=jid, reason="making room")
            self.assertEqual(self.wait_job(jid)["status"], "FAILED")
        self.assertTrue(self.submit("c1", queue="limited", shareIdentifier="c"))
