"""Compute environments that shrink or go let the attempts under way finish: a DISABLED one
places nothing new and scales down to minvCpus once idle; one whose maxvCpus is lowered drains
the instances that no longer fit and starts nothing past the new maximum; a deleted one drains
every instance and stays DELETING until they have gone."""
import datetime
import os
import signal
import time

from harness import register_agent
from test_cli import barge
from test_jobs_common import JobsCase


class Drain(JobsCase):
    def instances(self, ce):
        status, _, body = self.server.raw("POST", "/barge/v1/listinstances",
                                          {"computeEnvironment": ce},
                                          {"Content-Type": "application/json"})
        self.assertEqual(status, 200, body)
        return body["instances"]

    def ce(self, name):
        [d] = self.batch.describe_compute_environments(computeEnvironments=[name])[
            "computeEnvironments"]
        return d

    def waiter(self, name):
        """A script that prints, waits for OUT/name.go and prints again."""
        return "echo start; " + self.gate(name) + "echo end"

    def go(self, name):
        self.open_gate(name)

    def make_env(self, name, max_vcpus, **cr):
        self.make_ce(name, max_vcpus, **cr)
        self.make_queue(name + "-q", [name])
        self.wait_valid()

    def test_disabled_finishes_what_runs_and_places_nothing(self):
        self.make_env("dis", 4)
        jid = self.submit("dis-1", queue="dis-q", command=self.waiter("dis-1"))
        self.wait_job(jid, "RUNNING")
        self.batch.update_compute_environment(computeEnvironment="dis", state="DISABLED")
        self.wait_for(lambda: self.ce("dis")["status"] == "VALID", 5, "the update to settle")
        later = self.submit("dis-2", queue="dis-q", command="true")
        time.sleep(2)
        self.assertEqual(self.status(later), "RUNNABLE")
        self.assertEqual(self.status(jid), "RUNNING")
        self.go("dis-1")
        d = self.wait_job(jid)
        self.assertEqual((d["status"], d["container"]["exitCode"]), ("SUCCEEDED", 0))
        # Idle, it goes (minvCpus is 0); the job submitted meanwhile still waits.
        self.wait_for(lambda: not self.instances("dis"), 15, "the idle instance to go")
        self.assertEqual(self.status(later), "RUNNABLE")
        self.batch.terminate_job(jobId=later, reason="test over")

    def test_disabled_keeps_min_vcpus(self):
        # As AWS scales a disabled environment in to minvCpus, not below.
        self.make_env("dis-min", 4, minvCpus=2, instanceTypes=["c5.large"])
        jid = self.submit("dis-min-1", queue="dis-min-q", command="true")
        self.assertEqual(self.wait_job(jid)["status"], "SUCCEEDED")
        self.batch.update_compute_environment(computeEnvironment="dis-min", state="DISABLED")
        time.sleep(5)  # well past --idle-seconds
        self.assertEqual([i["vcpus"] for i in self.instances("dis-min")], [2])

    def test_min_vcpus_are_launched_before_any_job(self):
        # As AWS: an environment keeps minvCpus running, even with no job and while DISABLED,
        # and describes the capacity it has as its desiredvCpus.
        self.make_env("warm", 8, minvCpus=4, instanceTypes=["c5.large"])
        self.wait_for(lambda: sum(i["vcpus"] for i in self.instances("warm")) == 4, 10,
                      "two instances of 2 vCPUs")
        self.assertEqual(self.ce("warm")["computeResources"]["desiredvCpus"], 4)
        self.batch.create_compute_environment(
            computeEnvironmentName="warm-off", type="MANAGED", state="DISABLED",
            computeResources={"type": "EC2", "minvCpus": 2, "maxvCpus": 4,
                              "instanceTypes": ["c5.large"], "subnets": ["subnet-1"]})
        self.wait_for(lambda: [i["vcpus"] for i in self.instances("warm-off")] == [2], 10,
                      "the disabled environment's minimum")
        time.sleep(3)  # past --idle-seconds: the minimum stays, and nothing more comes
        self.assertEqual(sum(i["vcpus"] for i in self.instances("warm")), 4)
        self.assertEqual([i["vcpus"] for i in self.instances("warm-off")], [2])
        # A job runs at once on the warm capacity: no launch for it.
        ids = {i["instanceId"] for i in self.instances("warm")}
        d = self.wait_job(self.submit("warm-1", queue="warm-q", command="true"))
        self.assertEqual(d["status"], "SUCCEEDED")
        self.assertIn(self.raw_job(d["jobId"])["barge"]["instanceId"], ids)
        self.assertEqual({i["instanceId"] for i in self.instances("warm")}, ids)

    def test_raising_desired_keeps_the_warm_instances(self):
        # The instance kept for minvCpus, idle past --idle-seconds, is not let go as the
        # instances for a raised desiredvCpus start: all are kept for --idle-seconds.
        self.make_env("raise", 8, minvCpus=2, instanceTypes=["c5.large"])
        self.wait_for(lambda: [i["instanceId"] for i in self.instances("raise")
                          if i["state"] == "READY"], 10, "the warm instance")
        time.sleep(3)  # past --idle-seconds (2)
        raised = time.time()
        self.batch.update_compute_environment(computeEnvironment="raise",
                                              computeResources={"desiredvCpus": 6})
        self.wait_for(lambda: sum(i["vcpus"] for i in self.instances("raise")
                                  if i["state"] != "DRAINING") == 6, 10, "six vCPUs")
        self.assertEqual(self.ce("raise")["computeResources"]["desiredvCpus"], 6)
        # Once idle past --idle-seconds they go, down to minvCpus: which of the three is kept
        # for the minimum is the fleet's choice, but none goes sooner than --idle-seconds after
        # the raise (without the hold the warm one went at the fleet's next tick). Told by the
        # server's log, not by the test's timing.
        self.wait_for(lambda: sum(i["vcpus"] for i in self.instances("raise")) == 2, 30,
                      "back to minvCpus")
        self.assertEqual(self.ce("raise")["computeResources"]["desiredvCpus"], 2)
        gone = [l.split()[0] for l in self.server.read_log().splitlines()
                if " of raise is idle; letting it go" in l]
        self.assertEqual(len(gone), 2, gone)
        for stamp in gone:
            went = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
            self.assertGreaterEqual(went - raised, 1.9)

    def test_agents_that_die_soon_after_registering_back_off(self):
        # An environment's minimum whose agents die soon after registering is not launched
        # again every second: each quick death backs the launches off longer (2, 4... s).
        self.make_env("flaky", 2, minvCpus=2, instanceTypes=["c5.large"])

        def ready():
            return [i["instanceId"] for i in self.instances("flaky") if i["state"] == "READY"]

        def launches():
            return self.server.read_log().count("for compute environment flaky, agent pid")

        for n in range(1, 3):
            self.wait_for(lambda: ready() and launches() == n, 20, "launch %d to register" % n)
            [iid] = ready()
            for pid in self.server.agent_pids():
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    if ("\0%s\0" % iid).encode() in f.read():
                        os.kill(pid, signal.SIGKILL)
            died = time.time()
            self.wait_for(lambda: launches() == n + 1, 20, "launch %d" % (n + 1))
            # The second quick death waits out 4 s (the first, 2 s).
            self.assertGreaterEqual(time.time() - died, 2 * n - 0.5)
        self.wait_for(lambda: ready(), 20, "the third instance")
        self.batch.update_compute_environment(computeEnvironment="flaky",
                                              computeResources={"minvCpus": 0})

    def test_a_huge_minimum_starts_a_bounded_number_of_local_agents(self):
        # Every local agent runs on this host: a minimum of 500 vCPUs of 2-vCPU instances (250
        # agents) starts 16 of them (PROVIDER_LOCAL_KEEP_MAX), says so, and stops there.
        self.make_env("huge", 500, minvCpus=500, instanceTypes=["c5.large"])
        self.wait_for(lambda: "compute environment huge keeps 16 local instances" in
                      self.server.read_log(), 30, "the warning")
        time.sleep(2)
        self.assertEqual(len(self.instances("huge")), 16)
        self.batch.update_compute_environment(computeEnvironment="huge", state="DISABLED",
                                              computeResources={"minvCpus": 0})

    def test_desired_vcpus_follow_the_capacity(self):
        self.make_env("follow", 8, instanceTypes=["c5.large"])
        self.assertEqual(self.ce("follow")["computeResources"]["desiredvCpus"], 0)
        # Jobs that need two instances raise it as they launch ...
        ids = [self.submit("follow-%d" % i, queue="follow-q", command=self.waiter("follow"))
               for i in range(4)]
        self.wait_jobs(ids, "RUNNING")
        self.assertEqual(self.ce("follow")["computeResources"]["desiredvCpus"], 4)
        # ... which cannot be lowered by hand, as on AWS ...
        self.assertClientError(self.batch.update_compute_environment,
                               "computeResources.desiredvCpus (2)", "current desiredvCpus (4)",
                               computeEnvironment="follow",
                               computeResources={"desiredvCpus": 2})
        # ... and falls back to minvCpus as the idle instances go.
        self.go("follow")
        self.wait_jobs(ids)
        self.wait_for(lambda: not self.instances("follow"), 15, "the idle instances to go")
        self.assertEqual(self.ce("follow")["computeResources"]["desiredvCpus"], 0)
        # Raised by hand, it launches; once idle, that capacity goes too, and stays gone.
        self.batch.update_compute_environment(computeEnvironment="follow",
                                              computeResources={"desiredvCpus": 6})
        self.wait_for(lambda: sum(i["vcpus"] for i in self.instances("follow")) == 6, 10,
                      "six vCPUs launched")
        self.assertEqual(self.ce("follow")["computeResources"]["desiredvCpus"], 6)
        self.wait_for(lambda: not self.instances("follow"), 20, "the idle instances to go")
        time.sleep(2)
        self.assertEqual(self.instances("follow"), [])
        self.assertEqual(self.ce("follow")["computeResources"]["desiredvCpus"], 0)

    def test_lower_max_drains_without_stopping_attempts(self):
        # Instances of 2 vCPUs: four 1-vCPU jobs take two of them.
        self.make_env("shrink", 4, instanceTypes=["c5.large"])
        first = [self.submit("shrink-%d" % i, queue="shrink-q", command=self.waiter("shrink-a"))
                 for i in range(4)]
        self.wait_jobs(first, "RUNNING")
        self.assertEqual(len(self.instances("shrink")), 2)
        self.batch.update_compute_environment(computeEnvironment="shrink",
                                              computeResources={"maxvCpus": 2})
        # One instance drains, with the reason; the other fits within the new maximum.
        insts = self.instances("shrink")
        self.assertEqual(sorted(i["state"] for i in insts), ["DRAINING", "READY"], insts)
        [drained] = [i for i in insts if i["state"] == "DRAINING"]
        self.assertIn("maxvCpus", drained["drainReason"])
        rc, out, err = barge("fleet", "--compute-environment", "shrink",
                             endpoint=self.server.url)
        self.assertEqual(rc, 0, err)
        self.assertIn("DRAINING", out)
        self.assertIn("%s drains: " % drained["instanceId"], out)
        # Nothing new starts while the environment is over its maximum.
        more = [self.submit("shrink-more-%d" % i, queue="shrink-q",
                            command=self.waiter("shrink-b")) for i in range(3)]
        time.sleep(2)
        self.assertEqual({self.status(j) for j in more}, {"RUNNABLE"})
        self.wait_for(lambda: "1 instance draining" in (self.job(more[0]).get("statusReason")
                                                        or ""), 10, "a reason naming the drain")
        # The attempts under way all finish normally.
        self.go("shrink-a")
        for j in first:
            d = self.wait_job(j)
            self.assertEqual((d["status"], d["container"]["exitCode"]), ("SUCCEEDED", 0),
                             d.get("statusReason"))
        self.wait_for(lambda: all(i["instanceId"] != drained["instanceId"]
                                  for i in self.instances("shrink")), 15,
                      "the drained instance to go")
        # From then on, at most 2 vCPUs: two of the three run, the third waits.
        self.wait_for(lambda: sum(self.status(j) == "RUNNING" for j in more) == 2, 15,
                      "two jobs to run")
        for _ in range(10):
            self.assertLessEqual(sum(self.status(j) == "RUNNING" for j in more), 2)
            self.assertLessEqual(sum(i["vcpus"] for i in self.instances("shrink")), 2)
            time.sleep(0.1)
        self.go("shrink-b")
        for j in more:
            self.assertEqual(self.wait_job(j)["status"], "SUCCEEDED")

    def test_delete_waits_for_running_attempts(self):
        self.make_env("gone", 4)
        jid = self.submit("gone-1", queue="gone-q", command=self.waiter("gone-1"))
        self.wait_job(jid, "RUNNING")
        [inst] = self.instances("gone")
        self.batch.update_compute_environment(computeEnvironment="gone", state="DISABLED")
        self.batch.update_job_queue(jobQueue="gone-q",
                                    computeEnvironmentOrder=[{"order": 1,
                                                              "computeEnvironment": "ce"}])
        self.wait_valid()
        self.batch.delete_compute_environment(computeEnvironment="gone")
        # DELETING while its instance finishes the attempt under way, and it takes no other.
        time.sleep(1.5)
        d = self.ce("gone")
        self.assertEqual(d["status"], "DELETING")
        self.assertIn("once its instances have finished", d["statusReason"])
        [me] = self.instances("gone")
        self.assertEqual((me["instanceId"], me["state"]), (inst["instanceId"], "DRAINING"))
        self.assertIn("deleted", me["drainReason"])
        self.assertEqual(self.status(jid), "RUNNING")
        self.go("gone-1")
        d = self.wait_job(jid)
        self.assertEqual((d["status"], d["container"]["exitCode"]), ("SUCCEEDED", 0),
                         d.get("statusReason"))
        self.wait_for(lambda: self.ce("gone")["status"] == "DELETED", 15,
                      "the environment to be deleted once its instance has gone")
        self.assertEqual(self.instances("gone"), [])
        # The name is free again.
        self.make_ce("gone", 2)
        self.wait_valid()
        self.assertEqual(self.ce("gone")["status"], "VALID")

    # Remote agents ---------------------------------------------------------------------------

    def exchange(self, iid, cred):
        status, _, body = self.server.raw("POST", "/barge/v1/agent/exchange",
                                          {"instanceId": iid, "wait": False, "reports": [],
                                           "holding": []},
                                          {"Content-Type": "application/json",
                                           "Authorization": "Bearer " + cred})
        self.assertEqual(status, 200, body)
        return body

    def test_a_drained_remote_instance_leaves_without_being_lost(self):
        iid, cred = register_agent(self.server, ce="remote", instance_id="i-remote1")
        self.assertFalse(self.exchange(iid, cred)["shutdown"])
        status, _, body = self.server.raw("POST", "/barge/v1/draininstance", {"instanceId": iid},
                                          {"Content-Type": "application/json"})
        self.assertEqual((status, body["state"]), (200, "DRAINING"), body)
        answer = self.exchange(iid, cred)
        self.assertTrue(answer["shutdown"])
        # With the reason, which the agent logs as it stops.
        self.assertEqual(answer.get("shutdownReason"), "an operator drains it")
        # Its agent shuts down and falls silent: it leaves before it would count as lost.
        start = time.time()
        self.wait_for(lambda: not self.instances("remote"), 25, "the instance to leave")
        self.assertLess(time.time() - start, 20)
        self.assertNotIn("instance %s of compute environment remote is lost" % iid,
                         self.server.read_log())

    def test_a_drain_keeps_its_reason_across_a_restart(self):
        # Only the draining bit was stored: after a restart the agent was told to shut down
        # with no reason, and `barge fleet` showed none.
        iid, cred = register_agent(self.server, ce="remote-kept", instance_id="i-remote4")
        status, _, body = self.server.raw("POST", "/barge/v1/draininstance", {"instanceId": iid},
                                          {"Content-Type": "application/json"})
        self.assertEqual(status, 200, body)
        self.server.restart()
        answer = self.exchange(iid, cred)
        self.assertEqual((answer["shutdown"], answer.get("shutdownReason")),
                         (True, "an operator drains it"))
        [me] = self.instances("remote-kept")
        self.assertEqual((me["state"], me.get("drainReason")),
                         ("DRAINING", "an operator drains it"))

    def test_a_job_whose_only_agent_drains_says_so(self):
        # It said "0 of 1 vCPUs in use; 1 instance draining, the attempts there finishing
        # first", as if it would run there once they had.
        iid, cred = register_agent(self.server, ce="remote-one", instance_id="i-remote3")
        self.make_queue("remote-one-q", ["remote-one"])
        self.wait_valid()
        status, _, body = self.server.raw("POST", "/barge/v1/draininstance", {"instanceId": iid},
                                          {"Content-Type": "application/json"})
        self.assertEqual(status, 200, body)
        # Heard from now: a drained instance silent for two heartbeats leaves the fleet, and a
        # slow machine may take that long to get here.
        self.assertTrue(self.exchange(iid, cred)["shutdown"])
        jid = self.submit("after-drain", queue="remote-one-q", command="true")
        reason = self.wait_for(lambda: self.job(jid).get("statusReason"), what="a reason")
        self.assertIn("every agent registered in compute environment remote-one is draining",
                      reason)
        self.assertIn("barge agent --server", reason)
        self.batch.cancel_job(jobId=jid, reason="seen")

    def test_deleting_an_unmanaged_environment_waits_for_its_agents(self):
        iid, cred = register_agent(self.server, ce="remote-gone", instance_id="i-remote2")
        self.batch.update_compute_environment(computeEnvironment="remote-gone",
                                              state="DISABLED")
        self.wait_valid()
        self.batch.delete_compute_environment(computeEnvironment="remote-gone")
        time.sleep(1.5)
        self.assertEqual(self.ce("remote-gone")["status"], "DELETING")
        # No new agent joins an environment being deleted.
        status, _, body = self.server.raw("POST", "/barge/v1/agent/register",
                                          {"computeEnvironment": "remote-gone", "vcpus": 1,
                                           "memoryMiB": 1024},
                                          {"Content-Type": "application/json",
                                           "Authorization": "Bearer any-token"})
        self.assertEqual(status, 400, body)
        self.assertIn("being deleted", body["message"])
        # The one it has is told to shut down, and once it has gone, so has the environment.
        self.assertTrue(self.exchange(iid, cred)["shutdown"])
        self.wait_for(lambda: self.ce("remote-gone")["status"] == "DELETED", 25,
                      "the environment to be deleted")
