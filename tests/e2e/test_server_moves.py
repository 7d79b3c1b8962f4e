"""Agents and clients follow the server when it moves: the agents of a server started with
--agent-url URL,URL... are given every URL and talk to whichever answers as the leader; API
clients go through HAProxy (Debian's), which health-checks /healthz (docs/operations.md).  Here
the server is killed with -9 and started again on the other address with the same data: a
running attempt carries on, ends once with its own exit code and whole log, and clients that
only know HAProxy's address see it all.  (Several servers on one PostgreSQL database, with
standbys, are tested in test_failover; these tests need no database.)"""
import time

import boto3
import botocore.config

from harness import ACCESS_KEY, REGION, SECRET_KEY, free_port
from haproxy import HAProxy
from test_jobs_common import FAST, JobsCase


class ServerMoves(JobsCase):
    @classmethod
    def setUpClass(cls):
        cls.ports = (free_port(), free_port())
        cls.urls = ["http://127.0.0.1:%d" % p for p in cls.ports]
        cls.server_port = cls.ports[0]
        cls.server_args = FAST + ("--agent-url", ",".join(cls.urls))
        cls.haproxy = None
        super().setUpClass()
        try:
            cls.haproxy = HAProxy(cls.urls).start()
            cls.front = boto3.client(
                "batch", endpoint_url=cls.haproxy.url, region_name=REGION,
                aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                config=botocore.config.Config(retries={"max_attempts": 8, "mode": "standard"},
                                              read_timeout=30))
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.haproxy:
            cls.haproxy.stop()
        super().tearDownClass()

    def move_to(self, port):
        self.server.kill9()
        self.server.port = port
        self.server.start()
        type(self).batch = self.server.client()

    def front_status(self, jid):
        return self.front.describe_jobs(jobs=[jid])["jobs"][0]["status"]

    def test_a_running_attempt_follows_the_server_to_its_other_address(self):
        self.assertEqual(self.server.port, self.ports[0])
        jid = self.front.submit_job(
            jobName="mover", jobQueue="q", jobDefinition="jd",
            containerOverrides={"command": ["sh", "-c", "echo begin; sleep 6; echo end; exit 3"]},
            retryStrategy={"attempts": 3, "evaluateOnExit": [
                {"onExitCode": "3", "action": "EXIT"}, {"onReason": "*", "action": "RETRY"}]}
        )["jobId"]
        started = self.wait_job(jid, ("RUNNING",), timeout=20)["startedAt"]
        # The local agent was given both addresses.
        with open("/proc/%d/cmdline" % self.server.agent_pids()[0], "rb") as f:
            cmdline = f.read().split(b"\0")
        servers = cmdline[cmdline.index(b"--server") + 1].decode()
        self.assertEqual(servers.split(",")[-2:], self.urls)
        self.move_to(self.ports[1])
        try:
            d = self.wait_job(jid, timeout=30)
            self.assertEqual(d["status"], "FAILED", d.get("statusReason"))
            self.assertEqual(len(d["attempts"]), 1, d["attempts"])
            self.assertEqual(d["attempts"][0]["container"]["exitCode"], 3)
            self.assertEqual(d["startedAt"], started)
            stream = d["container"]["logStreamName"]
            events = self.server.client("logs").get_log_events(
                logGroupName="/aws/batch/job", logStreamName=stream, startFromHead=True)["events"]
            self.assertEqual([e["message"] for e in events], ["begin", "end"])
            # The agent went over to the new address without registering again.
            log = self.server.read_log()
            self.assertEqual(log.count("registered for compute environment ce ("), 1, log[-3000:])
            # Clients that know only the load balancer's address followed too.
            self.assertEqual(self.front_status(jid), "FAILED")
            again = self.front.submit_job(jobName="after", jobQueue="q", jobDefinition="jd",
                                          containerOverrides={"command": ["true"]})["jobId"]
            self.assertSucceeded(again)
        finally:
            self.move_to(self.ports[0])

    def test_clients_through_haproxy_ride_out_the_move(self):
        # Submits keep being acknowledged across the move (botocore retries the 503s HAProxy
        # answers while no server is up), and every acknowledged job is there afterwards.
        acked = [self.front.submit_job(jobName="before", jobQueue="parked",
                                       jobDefinition="jd")["jobId"]]
        self.server.kill9()
        self.server.port = self.ports[1]
        t0 = time.time()
        self.server.start()
        type(self).batch = self.server.client()
        try:
            acked.append(self.front.submit_job(jobName="after", jobQueue="parked",
                                               jobDefinition="jd")["jobId"])
            self.assertLess(time.time() - t0, 20)
            found = {j["jobId"] for j in self.front.describe_jobs(jobs=acked)["jobs"]}
            self.assertEqual(found, set(acked))
        finally:
            self.move_to(self.ports[0])
