"""The fleet for operators: `barge fleet` (ListInstances) shows every instance with what it
runs; drain lets its attempts finish and takes no new ones; terminate ends it with its attempts
as a lost host's; reclaim takes back Spot capacity as EC2 does, so that retry rules on
"Host EC2*" act; --spot-reclaim-per-hour does it at random as a drill."""
import json
import os
import time

from test_cli import barge
from test_jobs_common import FAST, JobsCase

HOST_EC2 = r"^Host EC2 \(instance i-[0-9a-f]+\) terminated\.$"


class FleetCase(JobsCase):
    def instances(self, ce=None):
        status, _, body = self.server.raw("POST", "/barge/v1/listinstances",
                                          {"computeEnvironment": ce} if ce else {},
                                          {"Content-Type": "application/json"})
        self.assertEqual(status, 200, body)
        return body["instances"]

    def fleet(self, *args):
        rc, out, err = barge("fleet", *args, endpoint=self.server.url)
        return rc, out, err

    def instance_of(self, job_id):
        return self.raw_job(job_id)["barge"]["instanceId"]


class Fleet(FleetCase):
    # Room for a second instance beside one that is draining or busy.
    max_vcpus = 8

    @classmethod
    def setUpResources(cls):
        cls.make_ce("spot", 4, crtype="SPOT")
        cls.make_queue("spotq", ["spot"])
        # Instances of 2 vCPUs, so that another can start beside one being drained.
        cls.make_ce("small", 4, instanceTypes=["c5.large"])
        cls.make_queue("smallq", ["small"])

    def test_list_shows_instances_and_what_they_run(self):
        jid = self.submit("lister", command='while [ ! -e "$OUT/lister.go" ]; do sleep 0.05; done')
        self.wait_job(jid, "RUNNING")
        iid = self.instance_of(jid)
        [me] = [i for i in self.instances() if i["instanceId"] == iid]
        self.assertEqual((me["computeEnvironment"], me["state"]), ("ce", "READY"))
        self.assertEqual(me["jobs"], [jid])
        self.assertGreaterEqual(me["vcpusUsed"], 1)
        self.assertLess(me["lastHeartbeatSecondsAgo"], 30)
        # Filtered by environment.
        self.assertNotIn(iid, [i["instanceId"] for i in self.instances("spot")])
        self.assertIn(iid, [i["instanceId"] for i in self.instances("ce")])
        rc, out, err = self.fleet()
        self.assertEqual(rc, 0, err)
        self.assertIn(iid, out)
        self.assertIn("READY", out)
        self.assertIn("INSTANCE", out.splitlines()[0])
        rc, out, err = self.fleet("--json", "--compute-environment", "ce")
        self.assertEqual(rc, 0, err)
        self.assertIn(iid, [i["instanceId"] for i in json.loads(out)["instances"]])
        open(os.path.join(self.out_dir, "lister.go"), "w").close()
        self.assertEqual(self.wait_job(jid)["status"], "SUCCEEDED")

    def test_drain_lets_attempts_finish(self):
        jid = self.submit("drained", queue="smallq",
                          command='while [ ! -e "$OUT/drained.go" ]; do sleep 0.05; done')
        self.wait_job(jid, "RUNNING")
        iid = self.instance_of(jid)
        rc, out, err = self.fleet("drain", iid)
        self.assertEqual(rc, 0, err)
        self.assertIn("draining", out)
        [me] = [i for i in self.instances() if i["instanceId"] == iid]
        self.assertEqual(me["state"], "DRAINING")
        # New work goes elsewhere; the attempt under way finishes where it is.
        try:
            other = self.submit("elsewhere", queue="smallq", command="true")
            self.assertEqual(self.wait_job(other)["status"], "SUCCEEDED")
            self.assertNotEqual(self.instance_of(other), iid)
        finally:
            open(os.path.join(self.out_dir, "drained.go"), "w").close()
        d = self.wait_job(jid)
        self.assertEqual(d["status"], "SUCCEEDED")
        self.assertEqual(len(d["attempts"]), 1)
        # Then the instance goes.
        self.wait_for(lambda: iid not in [i["instanceId"] for i in self.instances()], 20,
                      "the drained instance to go")

    def test_terminate_ends_attempts_as_a_lost_host(self):
        jid = self.submit("terminated", retryStrategy={"attempts": 2},
                          command='[ "$AWS_BATCH_JOB_ATTEMPT" -ge 2 ] || sleep 60')
        self.wait_job(jid, "RUNNING")
        iid = self.instance_of(jid)
        # The agent is there until the terminate: the attempt ran until then (it was ended when
        # the agent's parked poll began, and charged 0 s).
        time.sleep(2)
        rc, out, err = self.fleet("terminate", iid)
        self.assertEqual(rc, 0, err)
        d = self.wait_job(jid, timeout=60)
        self.assertEqual(d["status"], "SUCCEEDED")
        self.assertRegex(d["attempts"][0]["statusReason"], HOST_EC2)
        first = d["attempts"][0]
        self.assertGreaterEqual(first["stoppedAt"] - first["startedAt"], 1500, first)
        self.assertIn(iid, d["attempts"][0]["statusReason"])
        rc, out, err = self.fleet("terminate", "i-0000000000000000")
        self.assertEqual(rc, 1)
        self.assertIn("no instance", err)

    def test_reclaim_takes_back_spot_capacity(self):
        rules = {"attempts": 3, "evaluateOnExit": [
            {"onStatusReason": "Host EC2*", "action": "RETRY"},
            {"onReason": "*", "action": "EXIT"}]}
        jid = self.submit("on-spot", queue="spotq", retryStrategy=rules,
                          command='[ "$AWS_BATCH_JOB_ATTEMPT" -ge 2 ] || sleep 60')
        self.wait_job(jid, "RUNNING")
        iid = self.instance_of(jid)
        rc, out, err = self.fleet("reclaim", iid)
        self.assertEqual(rc, 0, err)
        self.assertIn("reclaimed", out)
        d = self.wait_job(jid, timeout=60)
        self.assertEqual(d["status"], "SUCCEEDED")
        self.assertRegex(d["attempts"][0]["statusReason"], HOST_EC2)
        # Only Spot capacity is reclaimed.
        other = self.submit("on-demand", command='while [ ! -e "$OUT/od.go" ]; do sleep 0.05; done')
        self.wait_job(other, "RUNNING")
        status, _, body = self.server.raw("POST", "/barge/v1/reclaiminstance",
                                          {"instanceId": self.instance_of(other)},
                                          {"Content-Type": "application/json"})
        self.assertEqual(status, 400)
        self.assertIn("not SPOT", body["message"])
        open(os.path.join(self.out_dir, "od.go"), "w").close()
        self.assertEqual(self.wait_job(other)["status"], "SUCCEEDED")


class SpotDrill(FleetCase):
    """--spot-reclaim-per-hour 3600: a Spot instance is taken back within a second or so."""
    server_args = FAST + ("--spot-reclaim-per-hour", "3600")

    @classmethod
    def setUpResources(cls):
        cls.make_ce("spot", 4, crtype="SPOT")
        cls.make_queue("spotq", ["spot"])

    def test_random_reclaims(self):
        jid = self.submit("drilled", queue="spotq", command="sleep 60")
        d = self.wait_job(jid, timeout=60)
        self.assertEqual(d["status"], "FAILED")
        self.assertRegex(d["statusReason"], HOST_EC2)
        self.assertIn("Spot capacity was reclaimed", self.server.read_log())
        # On-demand capacity is never drilled.
        self.assertEqual(self.wait_job(self.submit("steady", command="sleep 2"))["status"],
                         "SUCCEEDED")
