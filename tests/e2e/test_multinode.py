"""Multi-node parallel jobs: a `multinode` definition's nodes run together (all placed or none),
each with AWS_BATCH_JOB_NODE_INDEX, AWS_BATCH_JOB_NUM_NODES, AWS_BATCH_JOB_MAIN_NODE_INDEX and,
off the main node, AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS; they talk to the main node over
TCP; the main node's exit decides the job and its end stops the others, while another node's end
changes nothing for the rest (as on AWS); nodes are JOBID#N, listed with multiNodeJobId;
nodeOverrides change numNodes and a range's container; a retryStrategy attempts the whole job
again, all its nodes together, when its main node failed."""
import os
import shutil
import signal
import socket
import tempfile
import time

import harness
from test_jobs_common import JobsCase

# Whether this node fails, and when: arguments PORT FAIL [ATTEMPTS [GATE]] (the job's
# parameters).  The node whose index is FAIL exits 3, in the attempts ATTEMPTS lists ("1,2"; all
# when not given); the main node ends (failing or not) once the file GATE names exists ("-": at
# once).
FAILS = r'''
import os, sys, time
def wait_for_gate():
    while len(sys.argv) > 4 and sys.argv[4] != "-" and not os.path.exists(sys.argv[4]):
        time.sleep(0.05)
def fail_if_told():
    if sys.argv[2] != os.environ["AWS_BATCH_JOB_NODE_INDEX"]:
        return
    if len(sys.argv) > 3 and os.environ["AWS_BATCH_JOB_ATTEMPT"] not in sys.argv[3].split(","):
        return
    sys.exit(3)
'''
# The main node: accepts one connection from every other node, each sending its index, prints
# what it got, and ends (failing if told to).
MAIN = FAILS + r'''
import socket
n = int(os.environ["AWS_BATCH_JOB_NUM_NODES"])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(16)
got = []
for _ in range(n - 1):
    c, _ = s.accept()
    got.append(int(c.recv(16).decode()))
    c.close()
print("main node %s of %s saw nodes %s" % (os.environ["AWS_BATCH_JOB_NODE_INDEX"], n,
                                          sorted(got)), flush=True)
wait_for_gate()
fail_if_told()
'''
# The other nodes: connect to the main node and send their index, then exit 3 if told to, else
# stay until stopped.
NODE = FAILS + r'''
import socket
addr = os.environ["AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"]
me = os.environ["AWS_BATCH_JOB_NODE_INDEX"]
for _ in range(400):
    try:
        c = socket.create_connection((addr, int(sys.argv[1])))
        break
    except OSError:
        time.sleep(0.05)
c.send(me.encode())
c.close()
fail_if_told()
time.sleep(120)
'''

# The main node of a job whose first attempt is interrupted: as MAIN, but in the first attempt it
# stays once it heard from every node.
MAIN_STAYS = MAIN + r'''
if os.environ["AWS_BATCH_JOB_ATTEMPT"] == "1":
    time.sleep(120)
'''


CE_MAX = "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE"


def free_port():
    """A port for a main node to listen on: outside the ephemeral range, where a client socket
    of another module running meanwhile could hold it (harness.free_port)."""
    return str(harness.free_port())


def node_range(target, script, vcpus="1", args=("Ref::port", "Ref::fail")):
    return {"targetNodes": target, "container": {
        "image": "busybox", "command": ["/usr/bin/python3", "-c", script] + list(args),
        "resourceRequirements": [{"type": "VCPU", "value": vcpus}, {"type": "MEMORY",
                                                                   "value": "64"}]}}


class MultiNode(JobsCase):
    max_vcpus = 4

    @classmethod
    def setUpResources(cls):
        # Instances of 2 vCPUs: three nodes of one vCPU need two agents at least.
        cls.make_ce("small", 6, instanceTypes=["c5.large"])
        cls.make_queue("mq", ["small"])
        # Two environments of 2 vCPUs, and one of 4: a job's nodes stay in one environment.
        for name, most in (("two-a", 2), ("two-b", 2), ("four", 4)):
            cls.make_ce(name, most)
        cls.make_queue("split", ["two-a", "two-b"])
        cls.make_queue("spill", ["two-a", "four"])
        cls.batch.register_job_definition(
            jobDefinitionName="mnp", type="multinode", parameters={"fail": "none"},
            nodeProperties={"numNodes": 3, "mainNode": 0, "nodeRangeProperties": [
                node_range("0", MAIN), node_range("1:", NODE)]})
        cls.batch.register_job_definition(
            jobDefinitionName="mnps", type="multinode", parameters={"fail": "none"},
            nodeProperties={"numNodes": 3, "mainNode": 0, "nodeRangeProperties": [
                node_range("0", MAIN_STAYS), node_range("1:", NODE)]})
        retried = ("Ref::port", "Ref::fail", "Ref::attempts", "Ref::gate")
        cls.make_queue("rq", ["ce"])
        cls.batch.create_job_queue(
            jobQueueName="limited", priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}],
            jobStateTimeLimitActions=[{"reason": CE_MAX, "state": "RUNNABLE",
                                       "maxTimeSeconds": 2, "action": "CANCEL"}])
        arn = cls.batch.create_scheduling_policy(name="mnfs", fairsharePolicy={
            "shareDecaySeconds": 60, "shareDistribution": [
                {"shareIdentifier": "a", "weightFactor": 1},
                {"shareIdentifier": "b", "weightFactor": 1}]})["arn"]
        for name, ce in (("fq", "ce"), ("fq-parked", "ce-off")):
            cls.batch.create_job_queue(jobQueueName=name, priority=1, schedulingPolicyArn=arn,
                                       computeEnvironmentOrder=[{"order": 1,
                                                                 "computeEnvironment": ce}])
        cls.batch.register_job_definition(
            jobDefinitionName="mnpr", type="multinode",
            parameters={"fail": "none", "attempts": "1", "gate": "-"},
            retryStrategy={"attempts": 2},
            nodeProperties={"numNodes": 3, "mainNode": 0, "nodeRangeProperties": [
                node_range("0", MAIN, args=retried), node_range("1:", NODE, args=retried)]})

    def run_mnp(self, queue="q", **kw):
        params = dict({"port": free_port()}, **kw.pop("parameters", {}))
        jid = self.batch.submit_job(jobName="mnp", jobQueue=queue, jobDefinition="mnp",
                                    parameters=params, **kw)["jobId"]
        return jid, self.wait_job(jid, timeout=90)

    def log_of(self, job_id):
        d = self.job(job_id)
        out = self.server.client("logs").get_log_events(
            logGroupName="/aws/batch/job", logStreamName=d["container"]["logStreamName"],
            startFromHead=True)
        return [e["message"] for e in out["events"]]

    def test_nodes_run_together_and_talk_to_the_main_node(self):
        jid, d = self.run_mnp(queue="mq")
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        # On several agents.
        where = {self.raw_job("%s#%d" % (jid, i))["barge"]["instanceId"] for i in range(3)}
        self.assertGreaterEqual(len(where), 2, where)
        self.assertEqual(d["nodeProperties"]["numNodes"], 3)
        self.assertEqual(d["nodeProperties"]["mainNode"], 0)
        self.assertNotIn("arrayProperties", d)
        self.assertEqual(self.log_of(jid + "#0"), ["main node 0 of 3 saw nodes [1, 2]"])
        nodes = self.describe(*["%s#%d" % (jid, i) for i in range(3)])
        for i in range(3):
            n = nodes["%s#%d" % (jid, i)]
            self.assertEqual(n["nodeDetails"], {"nodeIndex": i, "isMainNode": i == 0})
            self.assertIn("container", n)
            # A node's container is a ContainerDetail; the ranges' are ContainerProperties,
            # which have no networkInterfaces (SDKs with strict models refuse the member).
            self.assertEqual(self.raw_job(n["jobId"])["container"]["networkInterfaces"], [])
        for r in self.raw_job(jid)["nodeProperties"]["nodeRangeProperties"]:  # unparsed
            self.assertNotIn("networkInterfaces", r["container"])
        self.assertEqual(nodes[jid + "#0"]["status"], "SUCCEEDED")
        # The job's attempts and exit are its main node's, as AWS fills them; what it used is
        # its nodes' together.
        self.assertEqual(d["attempts"], nodes[jid + "#0"]["attempts"])
        self.assertEqual(len(d["attempts"]), 1)
        self.assertEqual(d["attempts"][0]["container"]["exitCode"], 0)
        raw = self.raw_job(jid)["barge"]
        self.assertEqual(raw["attempts"], self.raw_job(jid + "#0")["barge"]["attempts"])
        used = sum(self.raw_job("%s#%d" % (jid, i))["barge"]["usage"]["vcpuSeconds"]
                   for i in range(3))
        self.assertGreater(raw["usage"]["vcpuSeconds"], 0)
        self.assertAlmostEqual(raw["usage"]["vcpuSeconds"], used, places=3)
        # The other nodes were still running when the main node ended: they were stopped.
        for i in (1, 2):
            self.assertEqual(nodes["%s#%d" % (jid, i)]["statusReason"],
                             "Stopped: the main node (node 0) ended")
        # Listed as the job's nodes, by status.
        listed = self.batch.list_jobs(multiNodeJobId=jid, jobStatus="FAILED")["jobSummaryList"]
        self.assertEqual(sorted(s["jobId"] for s in listed), [jid + "#1", jid + "#2"])
        self.assertEqual({s["nodeProperties"]["isMainNode"] for s in listed}, {False})
        self.assertClientError(self.batch.list_jobs, "arrayJobId", arrayJobId=jid)
        self.assertClientError(self.batch.list_jobs, "multiNodeJobId", multiNodeJobId="nope")
        # The AWS CLI describes a node by its JOBID#N.
        out = self.server.aws("batch", "describe-jobs", "--jobs", jid + "#2")["jobs"][0]
        self.assertEqual(out["nodeDetails"]["nodeIndex"], 2)

    def test_another_node_that_fails_leaves_the_rest_running(self):
        # As on AWS: node 2's failure is its own; the main node goes on and decides the job.
        gate = self.gate()
        jid = self.batch.submit_job(
            jobName="mnpf", jobQueue="q", jobDefinition="mnpr",
            parameters={"port": free_port(), "fail": "2", "gate": gate})["jobId"]
        self.addCleanup(self.batch.terminate_job, jobId=jid, reason="test over")
        ids = ["%s#%d" % (jid, i) for i in range(3)]
        self.wait_for(lambda: self.job(ids[2])["status"] == "FAILED", what="node 2 FAILED",
                      timeout=60)
        self.assertEqual([self.job(i)["status"] for i in ids[:2]], ["RUNNING", "RUNNING"])
        self.assertEqual(self.job(jid)["status"], "RUNNING")
        open(gate, "w").close()
        d = self.wait_job(jid, timeout=60)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        nodes = self.describe(*ids)
        self.assertEqual(nodes[jid + "#2"]["status"], "FAILED")
        self.assertEqual(nodes[jid + "#2"]["statusReason"], "Essential container in task exited")
        self.assertEqual(nodes[jid + "#2"]["container"]["exitCode"], 3)
        self.assertEqual(nodes[jid + "#0"]["status"], "SUCCEEDED")
        self.assertEqual(nodes[jid + "#1"]["statusReason"], "Stopped: the main node (node 0) ended")
        self.assertEqual(self.log_of(jid + "#0"), ["main node 0 of 3 saw nodes [1, 2]"])

    def test_the_main_node_that_fails_takes_the_job_down(self):
        jid, d = self.run_mnp(parameters={"fail": "0"})
        self.assertEqual(d["status"], "FAILED")
        # The job's reason and exit are its main node's.
        self.assertEqual(d["statusReason"], "Essential container in task exited")
        self.assertEqual(d["attempts"][0]["container"]["exitCode"], 3)
        for i in (1, 2):
            n = self.job("%s#%d" % (jid, i))
            self.assertEqual((n["status"], n["statusReason"]),
                             ("FAILED", "Stopped: the main node (node 0) ended"))

    def test_node_overrides(self):
        # Two nodes instead of three, and an environment variable on the other range.
        jid, d = self.run_mnp(nodeOverrides={"numNodes": 2, "nodePropertyOverrides": [
            {"targetNodes": "1:", "containerOverrides": {
                "environment": [{"name": "EXTRA", "value": "yes"}]}}]})
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertEqual(d["nodeProperties"]["numNodes"], 2)
        self.assertEqual(self.log_of(jid + "#0"), ["main node 0 of 2 saw nodes [1]"])
        env = {e["name"]: e["value"] for e in self.job(jid + "#1")["container"]["environment"]}
        self.assertEqual(env.get("EXTRA"), "yes")

    def test_a_nested_range_overrides_the_wider_one_wherever_it_is_listed(self):
        # AWS: "You can nest node ranges (for example, 0:10 and 4:5). In this case, the 4:5
        # range properties override the 0:10 properties." Listed before the wider range, the
        # nested one lost to it (the later range won).
        def with_role(target, role):
            r = node_range(target, "pass", args=())
            r["container"]["environment"] = [{"name": "ROLE", "value": role}]
            return r
        self.batch.register_job_definition(
            jobDefinitionName="nested", type="multinode",
            nodeProperties={"numNodes": 4, "mainNode": 0, "nodeRangeProperties": [
                with_role("1", "one"), with_role("0:", "all"), with_role("2:3", "two-three"),
                with_role("3", "three")]})
        # Parked: its nodes are described, never run.
        jid = self.batch.submit_job(jobName="nested", jobQueue="parked",
                                    jobDefinition="nested")["jobId"]
        self.addCleanup(self.batch.terminate_job, jobId=jid, reason="seen")
        roles = [{e["name"]: e["value"] for e in self.job("%s#%d" % (jid, n))["container"][
            "environment"]}.get("ROLE") for n in range(4)]
        self.assertEqual(roles, ["all", "one", "two-three", "three"])

    def test_gangs_do_not_deadlock(self):
        # Two jobs of 3 one-vCPU nodes on 4 vCPUs: each runs whole, one after the other, rather
        # than each holding part of the room the other needs.
        a = self.batch.submit_job(jobName="ga", jobQueue="q", jobDefinition="mnp",
                                  parameters={"port": free_port()})["jobId"]
        b = self.batch.submit_job(jobName="gb", jobQueue="q", jobDefinition="mnp",
                                  parameters={"port": free_port()})["jobId"]
        done = self.wait_jobs([a, b], timeout=120)
        self.assertEqual({x["status"] for x in done.values()}, {"SUCCEEDED"})

    def test_refusals(self):
        s = self.batch.submit_job
        kw = dict(jobName="r", jobQueue="q", jobDefinition="mnp")
        self.assertClientError(s, "arrayProperties", arrayProperties={"size": 2}, **kw)
        self.assertClientError(s, "containerOverrides", "nodeOverrides",
                               containerOverrides={"command": ["true"]}, **kw)
        self.assertClientError(s, "targetNodes", "'2:'", nodeOverrides={
            "nodePropertyOverrides": [{"targetNodes": "2:", "containerOverrides": {}}]}, **kw)
        self.assertClientError(s, "numNodes", nodeOverrides={"numNodes": 0}, **kw)
        # One override per range; instance types known, and the same for every node group.
        one = {"targetNodes": "1:", "containerOverrides": {}}
        self.assertClientError(s, "nodePropertyOverrides[1].targetNodes", "twice",
                               nodeOverrides={"nodePropertyOverrides": [one, one]}, **kw)
        self.assertClientError(s, "containerOverrides.instanceType", "'m5.huge'", nodeOverrides={
            "nodePropertyOverrides": [{"targetNodes": "1:", "containerOverrides": {
                "instanceType": "m5.huge"}}]}, **kw)
        self.assertClientError(s, "same instance type", "m5.large", "c5.large", nodeOverrides={
            "nodePropertyOverrides": [
                {"targetNodes": "0", "containerOverrides": {"instanceType": "m5.large"}},
                {"targetNodes": "1:", "containerOverrides": {"instanceType": "c5.large"}}]},
            **kw)
        self.assertClientError(s, "nodePropertyOverrides[0].containerOverrides."
                               "resourceRequirements", nodeOverrides={
            "nodePropertyOverrides": [{"targetNodes": "0", "containerOverrides": {
                "resourceRequirements": [{"type": "VCPU", "value": "lots"}]}}]}, **kw)
        # A plain container job takes no nodeOverrides.
        self.assertClientError(s, "nodeOverrides", jobName="c", jobQueue="q",
                               jobDefinition="jd", nodeOverrides={"numNodes": 2})

    def test_malformed_node_overrides_are_refused(self):
        # Sent raw: boto3 checks these shapes itself.  Each was taken (or, for the first ones,
        # crashed the server) when nodeOverrides was not checked against its shape.
        def submit(node_overrides):
            return self.server.raw("POST", "/v1/submitjob", {
                "jobName": "m", "jobQueue": "q", "jobDefinition": "mnp",
                "nodeOverrides": node_overrides})

        def per_node(**member):
            return {"nodePropertyOverrides": [dict({"targetNodes": "1:"}, **member)]}

        def reqs(*r):
            return per_node(containerOverrides={"resourceRequirements": list(r)})
        cases = [
            (reqs({"type": "VCPU", "value": 5}), "resourceRequirements[0].value"),
            (reqs({"type": "MEMORY"}), "resourceRequirements[0].value"),
            (reqs({"value": "1"}), "resourceRequirements[0].type"),
            (reqs({"type": 1, "value": "1"}), "resourceRequirements[0].type"),
            (reqs(None), "resourceRequirements[0]"),
            ("x", "nodeOverrides"),
            ([], "nodeOverrides"),
            ({"nodePropertyOverrides": "x"}, "nodeOverrides.nodePropertyOverrides"),
            ({"nodePropertyOverrides": [{}]}, "nodePropertyOverrides[0].targetNodes"),
            ({"numNodes": "4"}, "nodeOverrides.numNodes: expected an integer"),
            (per_node(containerOverrides={"command": "x"}), "containerOverrides.command"),
            (per_node(containerOverrides={"command": [1]}), "containerOverrides.command[0]"),
            (per_node(containerOverrides={"vcpus": -1}), "containerOverrides.vcpus"),
            (per_node(containerOverrides={"memory": "x"}), "containerOverrides.memory"),
            (per_node(containerOverrides={"environment": [{"name": "A", "value": 5}]}),
             "environment[0].value"),
            (reqs({"type": "NOPE", "value": "1"}), "resourceRequirements[0].type"),
            (per_node(ecsPropertiesOverride={}), "ecsPropertiesOverride"),
            (per_node(eksPropertiesOverride={}), "eksPropertiesOverride"),
            (per_node(consumableResourcePropertiesOverride={"consumableResourceList": []}),
             "consumableResourcePropertiesOverride"),
            (per_node(instanceTypes=["m5.huge"]), "instanceTypes"),
        ]
        for body, words in cases:
            status, _, out = submit(body)
            self.assertEqual(status, 400, (body, out))
            self.assertIn(words, out.get("message", ""), body)
        status, _, out = submit(per_node(instanceTypes=["c5.large"], containerOverrides={}))
        self.assertEqual(status, 200, out)
        self.batch.cancel_job(jobId=out["jobId"], reason="test")

    def run_retried(self, fail_in, node="0", **kw):
        jid = self.batch.submit_job(
            jobName="mnpr", jobQueue="q", jobDefinition="mnpr",
            parameters={"port": free_port(), "fail": node, "attempts": fail_in}, **kw)["jobId"]
        d = self.wait_job(jid, timeout=120)
        return jid, d, self.describe(*["%s#%d" % (jid, i) for i in range(3)])

    def test_a_failed_attempt_runs_every_node_again(self):
        # The main node fails in the first attempt: the job is attempted again, every node with
        # it (the others were only stopped), and the second attempt succeeds.
        jid, d, nodes = self.run_retried("1")
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        for i in range(3):
            n = nodes["%s#%d" % (jid, i)]
            self.assertEqual(len(n["attempts"]), 2, (i, n["attempts"]))
        first = [nodes["%s#%d" % (jid, i)]["attempts"][0] for i in range(3)]
        self.assertEqual(first[0]["container"]["exitCode"], 3)
        self.assertEqual(first[0]["statusReason"], "Essential container in task exited")
        self.assertEqual(first[2]["statusReason"], "Stopped: the main node (node 0) ended")
        # The job lists its two attempts (its main node's), and its times are the second's.
        self.assertEqual(d["attempts"], nodes[jid + "#0"]["attempts"])
        self.assertEqual(len(d["attempts"]), 2)
        self.assertGreaterEqual(d["startedAt"], d["attempts"][0]["stoppedAt"])
        self.assertEqual(nodes[jid + "#0"]["status"], "SUCCEEDED")
        # The second attempt's main node heard from both others, in a log of its own.
        self.assertEqual(self.log_of(jid + "#0"), ["main node 0 of 3 saw nodes [1, 2]"])
        self.assertNotEqual(first[0]["container"]["logStreamName"],
                            nodes[jid + "#0"]["container"]["logStreamName"])

    def test_the_attempts_run_out(self):
        jid, d, nodes = self.run_retried("1,2")
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(d["statusReason"], "Essential container in task exited")
        self.assertEqual([len(nodes["%s#%d" % (jid, i)]["attempts"]) for i in range(3)],
                         [2, 2, 2])

    def test_another_node_that_fails_is_not_attempted_again(self):
        # As on AWS, only the main node's failure makes another attempt.
        jid, d, nodes = self.run_retried("1", node="2")
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertEqual([len(nodes["%s#%d" % (jid, i)]["attempts"]) for i in range(3)],
                         [1, 1, 1])
        self.assertEqual(nodes[jid + "#2"]["status"], "FAILED")

    def test_evaluate_on_exit_is_matched_against_the_main_node(self):
        # The main node's exit code matches the EXIT rule: one attempt, though three were
        # allowed; a rule that matches nothing retries, as for any job.
        jid, d, nodes = self.run_retried("1,2,3", retryStrategy={
            "attempts": 3, "evaluateOnExit": [{"onExitCode": "3", "action": "EXIT"}]})
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual([len(nodes["%s#%d" % (jid, i)]["attempts"]) for i in range(3)],
                         [1, 1, 1])
        jid, d, nodes = self.run_retried("1", retryStrategy={
            "attempts": 3, "evaluateOnExit": [{"onExitCode": "4", "action": "EXIT"}]})
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertEqual(len(nodes[jid + "#0"]["attempts"]), 2)

    def test_the_nodes_run_in_one_compute_environment(self):
        # AWS keeps a job's nodes in one environment: three one-vCPU nodes go to "four" whole,
        # rather than two to two-a, first in the queue, and the third to "four".
        jid, d = self.run_mnp(queue="spill")
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertEqual([self.raw_job("%s#%d" % (jid, i))["barge"]["computeEnvironment"]
                          for i in range(3)], ["four"] * 3)
        # Two environments of 2 vCPUs never hold 3 nodes together, though they have 4 vCPUs
        # between them: the job waits, and says why with AWS's code.
        jid = self.batch.submit_job(jobName="mnsplit", jobQueue="split", jobDefinition="mnp",
                                    parameters={"port": free_port()})["jobId"]
        self.addCleanup(self.batch.terminate_job, jobId=jid, reason="test over")
        self.wait_for(lambda: self.job(jid)["status"] == "RUNNABLE", what="RUNNABLE")
        time.sleep(2)  # scheduling passes go by
        self.assertEqual(self.job(jid + "#0")["status"], "RUNNABLE")
        self.assertIn(CE_MAX, self.job(jid + "#0")["statusReason"])

    def test_the_timeout_is_the_whole_jobs(self):
        # AWS: a multi-node job's timeout applies to the whole job, not to each node.  The main
        # node ignores SIGTERM, so that it ends only at the kill a grace second later: had the
        # others a timeout of their own, theirs would end them first, timed out.
        self.batch.register_job_definition(
            jobDefinitionName="mnpto", type="multinode",
            parameters={"fail": "none", "attempts": "1", "gate": "/nonexistent"},
            timeout={"attemptDurationSeconds": 2},
            nodeProperties={"numNodes": 3, "mainNode": 0, "nodeRangeProperties": [
                node_range("0", "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                           + MAIN, args=("Ref::port", "Ref::fail", "Ref::attempts",
                                         "Ref::gate")),
                node_range("1:", NODE)]})
        jid = self.batch.submit_job(jobName="mnpto", jobQueue="q", jobDefinition="mnpto",
                                    parameters={"port": free_port()})["jobId"]
        d = self.wait_job(jid, timeout=60)
        self.assertEqual((d["status"], d["statusReason"]),
                         ("FAILED", "Job attempt duration exceeded timeout"))
        nodes = self.describe(*["%s#%d" % (jid, i) for i in range(3)])
        self.assertEqual(nodes[jid + "#0"]["statusReason"], "Job attempt duration exceeded timeout")
        for i in (1, 2):
            self.assertEqual(nodes["%s#%d" % (jid, i)]["statusReason"],
                             "Stopped: the main node (node 0) ended")

    def test_a_terminated_job_is_not_attempted_again(self):
        jid = self.batch.submit_job(
            jobName="mnpt", jobQueue="q", jobDefinition="mnpr",
            parameters={"port": free_port(), "fail": "0", "attempts": "1",
                        "gate": "/nonexistent/gate"})["jobId"]
        self.wait_for(lambda: self.job(jid + "#1")["status"] == "RUNNING", what="node 1 RUNNING",
                      timeout=60)
        self.batch.terminate_job(jobId=jid, reason="enough")
        d = self.wait_job(jid, timeout=60)
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(d["statusReason"], "enough")
        self.assertEqual(len(self.job(jid + "#1")["attempts"]), 1)

    def gate(self):
        """A file's path, in a directory the nodes' user (nobody) may look into, that is not
        there yet: the main node waits for it before it ends."""
        gate_dir = tempfile.mkdtemp(prefix="barge-gate-")
        self.addCleanup(shutil.rmtree, gate_dir, True)
        os.chmod(gate_dir, 0o755)
        return os.path.join(gate_dir, "end-now")

    def test_a_job_between_attempts_survives_a_restart(self):
        gate = self.gate()
        jid = self.batch.submit_job(
            jobName="mnpg", jobQueue="rq", jobDefinition="mnpr",
            parameters={"port": free_port(), "fail": "0", "gate": gate})["jobId"]
        # Whatever happens here, the job does not hold the environment the next tests use.
        self.addCleanup(self.batch.update_compute_environment, computeEnvironment="ce",
                        state="ENABLED")
        self.addCleanup(self.batch.terminate_job, jobId=jid, reason="test over")
        self.wait_for(lambda: self.job(jid + "#1")["status"] == "RUNNING", what="node 1 RUNNING",
                      timeout=60)
        # The environment disabled (a DISABLED queue's jobs are still placed, as on AWS), the
        # nodes stay RUNNABLE once the main node has failed and the job is to be attempted
        # again.
        self.batch.update_compute_environment(computeEnvironment="ce", state="DISABLED")
        open(gate, "w").close()
        ids = ["%s#%d" % (jid, i) for i in range(3)]

        def between():
            nodes = self.describe(*ids)
            return all(n["status"] == "RUNNABLE" for n in nodes.values())
        self.wait_for(between, what="every node RUNNABLE again", timeout=60)
        for restarted in (False, True):
            if restarted:
                self.server.restart()
            self.assertEqual(self.job(jid)["status"], "RUNNABLE")
            for i, n in sorted(self.describe(*ids).items()):
                self.assertEqual(n["status"], "RUNNABLE", (restarted, i))
                self.assertEqual(len(n["attempts"]), 1, (restarted, i))
                self.assertNotIn("stoppedAt", n, (restarted, i))
        self.batch.update_compute_environment(computeEnvironment="ce", state="ENABLED")
        d = self.wait_job(jid, timeout=90)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertEqual([len(n["attempts"]) for n in self.describe(*ids).values()], [2, 2, 2])

    def test_a_node_cancelled_before_it_starts_takes_the_job_down(self):
        # Its other nodes, which are only placed together with it, would wait for ever.
        jid = self.batch.submit_job(jobName="c", jobQueue="parked", jobDefinition="mnpr",
                                    parameters={"port": "1"})["jobId"]
        self.wait_for(lambda: self.job(jid)["status"] == "RUNNABLE", what="RUNNABLE")
        self.batch.cancel_job(jobId=jid + "#1", reason="one node")
        d = self.wait_job(jid)
        self.assertEqual((d["status"], d["statusReason"]), ("FAILED", "node 1: one node"))
        nodes = self.describe(*["%s#%d" % (jid, i) for i in range(3)])
        self.assertEqual({i: (n["status"], n["statusReason"]) for i, n in nodes.items()}, {
            jid + "#0": ("FAILED", "Stopped: node 1 was cancelled"),
            jid + "#1": ("FAILED", "one node"),
            jid + "#2": ("FAILED", "Stopped: node 1 was cancelled")})
        # Not attempted again, though its definition allows two attempts: it was cancelled.
        self.assertEqual([len(n.get("attempts", [])) for n in nodes.values()], [0, 0, 0])

    def assertFailedUnrun(self, name, depends_on):
        """Submits a job of definition mnpr that depends on what fails: it fails unrun, its
        three nodes with it, none attempted."""
        jid = self.batch.submit_job(jobName=name, jobQueue="q", jobDefinition="mnpr",
                                    dependsOn=depends_on,
                                    parameters={"port": free_port()})["jobId"]
        d = self.wait_job(jid, timeout=60)
        self.assertEqual((d["status"], d.get("statusReason")), ("FAILED", "Dependent Job failed"))
        nodes = self.describe(*["%s#%d" % (jid, i) for i in range(3)])
        self.assertEqual([(n["status"], n.get("attempts")) for n in nodes.values()],
                         [("FAILED", [])] * 3)

    def test_a_failed_dependency_fails_the_job_unrun(self):
        # As any job: FAILED, "Dependent Job failed", not attempted (nor retried: it made no
        # attempt).
        bad = self.submit("dep-fails", command="exit 1")
        self.assertFailedUnrun("mnd", [{"jobId": bad}])
        # Submitted after the dependency failed, the same.
        jid = self.batch.submit_job(jobName="mnd2", jobQueue="q", jobDefinition="mnpr",
                                    dependsOn=[{"jobId": bad}],
                                    parameters={"port": free_port()})["jobId"]
        self.assertEqual(self.wait_job(jid, timeout=30)["status"], "FAILED")
        self.assertEqual(self.job(jid + "#0").get("attempts"), [])

    def test_a_node_cancelled_while_its_job_waits_takes_the_job_down(self):
        gate = self.gate()
        first = self.submit("waited-for", command='while [ ! -e "%s" ]; do sleep 0.05; done'
                            % gate)
        jid = self.batch.submit_job(jobName="mnc", jobQueue="q", jobDefinition="mnpr",
                                    dependsOn=[{"jobId": first}],
                                    parameters={"port": free_port()})["jobId"]
        self.wait_for(lambda: self.job(jid + "#1")["status"] == "PENDING", what="PENDING")
        self.batch.cancel_job(jobId=jid + "#1", reason="one node")
        open(gate, "w").close()
        d = self.wait_job(jid, timeout=60)
        self.assertEqual((d["status"], d["statusReason"]), ("FAILED", "node 1: one node"))
        nodes = self.describe(*["%s#%d" % (jid, i) for i in range(3)])
        self.assertEqual([(n["status"], n["statusReason"]) for n in nodes.values()], [
            ("FAILED", "Stopped: node 1 was cancelled"), ("FAILED", "one node"),
            ("FAILED", "Stopped: node 1 was cancelled")])

    def test_cancel_leaves_a_running_job_alone(self):
        # CancelJob does not stop a job that runs, as AWS has it: its main node fails, and it
        # is attempted again as its retryStrategy says, with its own reasons.
        gate = self.gate()
        jid = self.batch.submit_job(
            jobName="mncr", jobQueue="q", jobDefinition="mnpr",
            parameters={"port": free_port(), "fail": "0", "gate": gate})["jobId"]
        self.addCleanup(self.batch.terminate_job, jobId=jid, reason="test over")
        self.wait_for(lambda: self.job(jid + "#1")["status"] == "RUNNING", what="RUNNING",
                      timeout=60)
        self.batch.cancel_job(jobId=jid, reason="cancel while running")
        open(gate, "w").close()
        d = self.wait_job(jid, timeout=90)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertEqual(len(d["attempts"]), 2)
        self.assertFalse(d["isCancelled"])

    def test_n_to_n_with_a_multi_node_job_is_on_the_whole_job(self):
        # N_TO_N pairs an array's children with another array's; a multi-node job's nodes were
        # paired with an array's children: nodes past the array's size went RUNNABLE at once,
        # and a node whose partner failed failed alone while the others waited for ever.
        arr = self.submit("mn-arr", arrayProperties={"size": 2},
                          command='[ "$AWS_BATCH_JOB_ARRAY_INDEX" = 1 ] && exit 1; true')
        self.assertFailedUnrun("mnn", [{"jobId": arr, "type": "N_TO_N"}])
        # And the other way round: an array of the nodes' number on a multi-node job waits
        # for all of it.
        mn = self.batch.submit_job(jobName="mnn2", jobQueue="q", jobDefinition="mnpr",
                                   parameters={"port": free_port()})["jobId"]
        after = self.submit("after-mn", arrayProperties={"size": 3}, command="true",
                            dependsOn=[{"jobId": mn, "type": "N_TO_N"}])
        d = self.wait_job(mn, timeout=90)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        a = self.wait_job(after, timeout=60)
        self.assertEqual(a["status"], "SUCCEEDED")
        self.assertGreaterEqual(a["startedAt"], d["stoppedAt"])

    def test_a_job_waiting_for_a_node_waits_for_the_whole_job(self):
        # The main node fails in the first attempt, which is then made again: a job that waits
        # for the main node learns how it ended once the job has, not in between.
        jid = self.batch.submit_job(
            jobName="mnw", jobQueue="q", jobDefinition="mnpr",
            parameters={"port": free_port(), "fail": "0", "attempts": "1"})["jobId"]
        after = self.submit("after-node", dependsOn=[{"jobId": jid + "#0"}], command="true")
        d = self.wait_job(jid, timeout=120)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertEqual(len(d["attempts"]), 2)
        self.assertEqual(self.wait_job(after, timeout=60)["status"], "SUCCEEDED")

    def test_consumable_resources_are_held_by_every_node(self):
        # Each node holds what it asks: three nodes of one licence wait while two are free,
        # rather than all three holding the two.
        self.batch.create_consumable_resource(consumableResourceName="mn-lic", totalQuantity=2,
                                              resourceType="REPLENISHABLE")
        jid = self.batch.submit_job(
            jobName="mnl", jobQueue="q", jobDefinition="mnp",
            parameters={"port": free_port()},
            consumableResourcePropertiesOverride={"consumableResourceList": [
                {"consumableResource": "mn-lic", "quantity": 1}]})["jobId"]
        self.addCleanup(self.batch.terminate_job, jobId=jid, reason="test over")
        self.wait_for(lambda: self.job(jid)["status"] == "RUNNABLE", what="RUNNABLE")
        time.sleep(1)  # scheduling passes go by
        self.assertEqual([self.job("%s#%d" % (jid, i))["status"] for i in range(3)],
                         ["RUNNABLE"] * 3)
        r = self.batch.describe_consumable_resource(consumableResource="mn-lic")
        self.assertEqual(r["inUseQuantity"], 0)
        # Each node alone would fit: the reason is the three together.
        self.assertEqual(self.job(jid + "#1")["statusReason"],
                         "needs 3 of consumable resource mn-lic (its 3 nodes together), which "
                         "has 2 in all: it cannot run until the resource's quantity is raised "
                         "(UpdateConsumableResource), or cancel it")
        self.batch.update_consumable_resource(consumableResource="mn-lic", operation="SET",
                                              quantity=3)
        self.assertEqual(self.wait_job(jid, timeout=60)["status"], "SUCCEEDED")

    def test_a_job_that_can_never_fit_says_so_and_is_cancelled_by_the_queue(self):
        # Five nodes of one vCPU on an environment of four: each node fits, all of them never
        # will.  The reason carries AWS's code, and the queue's time limit cancels the job.
        jid = self.batch.submit_job(jobName="mnbig", jobQueue="limited", jobDefinition="mnp",
                                    parameters={"port": free_port()},
                                    nodeOverrides={"numNodes": 5})["jobId"]
        self.wait_for(lambda: CE_MAX in (self.job(jid + "#0").get("statusReason") or ""),
                      what="the reason code", timeout=30)
        self.assertIn("its 5 nodes need 5 vCPUs together", self.job(jid + "#0")["statusReason"])
        # The job itself, shown RUNNABLE while its nodes wait, says why as its main node does
        # (for the queue's 2 s before it is cancelled).
        self.wait_for(lambda: "its 5 nodes need 5 vCPUs together" in (
            self.job(jid).get("statusReason") or ""), what="the job's own reason", timeout=10)
        d = self.wait_job(jid, timeout=60)
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(d["statusReason"], "Canceled by JobStateTimeLimit action due to "
                                            "reason: " + CE_MAX)

    def test_fair_share_queues_place_the_nodes_together(self):
        # Two jobs of 3 one-vCPU nodes in two shares, and a plain job, on 4 vCPUs: each gang
        # runs whole (its nodes tried as one, the share going on after them), none deadlocks.
        ids = [self.batch.submit_job(jobName="f" + share, jobQueue="fq", jobDefinition="mnp",
                                     shareIdentifier=share,
                                     parameters={"port": free_port()})["jobId"]
               for share in ("a", "b")]
        plain = self.batch.submit_job(jobName="fp", jobQueue="fq", jobDefinition="jd",
                                      shareIdentifier="a")["jobId"]
        done = self.wait_jobs(ids + [plain], timeout=120)
        self.assertEqual({k: v["status"] for k, v in done.items()},
                         {k: "SUCCEEDED" for k in ids + [plain]})
        for jid in ids:
            self.assertEqual(self.log_of(jid + "#0"), ["main node 0 of 3 saw nodes [1, 2]"])
        # The front of such a queue: a gang's nodes together, in its share's turn; then the
        # other share, whose claim is now the smaller.
        gang = self.batch.submit_job(jobName="pa", jobQueue="fq-parked", jobDefinition="mnp",
                                     shareIdentifier="a", parameters={"port": "1"})["jobId"]
        ids = [self.batch.submit_job(jobName="p" + share, jobQueue="fq-parked",
                                     jobDefinition="jd", shareIdentifier=share)["jobId"]
               for share in ("a", "b")]
        self.wait_for(lambda: self.job(ids[1])["status"] == "RUNNABLE", what="RUNNABLE")
        front = self.batch.get_job_queue_snapshot(jobQueue="fq-parked")["frontOfQueue"]["jobs"]
        self.assertEqual([j["jobArn"].rsplit("/", 1)[1] for j in front],
                         ["%s#%d" % (gang, i) for i in range(3)] + [ids[1], ids[0]])
        self.batch.terminate_job(jobId=gang, reason="test over")
        for jid in ids:
            self.batch.terminate_job(jobId=jid, reason="test over")
        # A share identifier is still required there, as for any job.
        self.assertClientError(self.batch.submit_job, "shareIdentifier", jobName="f",
                               jobQueue="fq", jobDefinition="mnp")

    def test_an_attempt_a_clean_stop_interrupted_runs_again_whole(self):
        # One node's agent does not come back after a clean stop of the server: its attempt
        # costs nothing, and the whole job runs again (its other nodes, placed only together
        # with it, would otherwise go on without it, or wait for it, for ever).
        jid = self.batch.submit_job(jobName="mnps", jobQueue="mq", jobDefinition="mnps",
                                    parameters={"port": free_port()})["jobId"]
        ids = ["%s#%d" % (jid, i) for i in range(3)]
        self.wait_for(lambda: self.job(ids[0])["status"] == "RUNNING" and self.log_of(ids[0])
                      == ["main node 0 of 3 saw nodes [1, 2]"],
                      what="every node to reach the main node", timeout=60)
        where = [self.raw_job(i)["barge"]["instanceId"] for i in ids]
        # Two vCPUs an instance: one of the other nodes runs away from the main node.
        lost = where[2] if where[2] != where[0] else where[1]
        self.assertNotEqual(lost, where[0])
        self.server.stop()

        def agents_of_lost():
            found = []
            for pid in self.server.agent_pids():
                try:  # an agent may end while it is looked at
                    with open("/proc/%d/cmdline" % pid, "rb") as f:
                        if lost.encode() + b"\0" in f.read():
                            found.append(pid)
                except OSError:
                    pass
            return found
        for pid in agents_of_lost():
            os.kill(pid, signal.SIGTERM)
        self.wait_for(lambda: not agents_of_lost(), what="the agent of %s to stop" % lost,
                      timeout=15)
        self.server.start()
        d = self.wait_job(jid, timeout=90)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        nodes = self.describe(*ids)
        reasons = {i: [a["statusReason"] for a in nodes[i]["attempts"]] for i in ids}
        for i, node in enumerate(ids):
            self.assertEqual(len(reasons[node]), 2, reasons)
            if where[i] == lost:
                self.assertEqual(reasons[node][0], "Host EC2 (instance %s) terminated." % lost)
            else:
                self.assertRegex(reasons[node][0], r"^Stopped: node \d's attempt was interrupted")
        self.assertEqual(self.log_of(ids[0]), ["main node 0 of 3 saw nodes [1, 2]"])
        self.assertNotEqual(nodes[ids[0]]["attempts"][0]["container"]["logStreamName"],
                            nodes[ids[0]]["container"]["logStreamName"])

    def test_nodes_survive_a_restart(self):
        jid = self.batch.submit_job(jobName="kept", jobQueue="parked", jobDefinition="mnp",
                                    parameters={"port": "1"})["jobId"]
        self.wait_for(lambda: self.job(jid)["status"] == "RUNNABLE", what="RUNNABLE")
        self.server.restart()
        d = self.job(jid)
        self.assertEqual(d["status"], "RUNNABLE")
        nodes = self.describe(*["%s#%d" % (jid, i) for i in range(3)])
        self.assertEqual(len(nodes), 3)
        self.assertEqual(nodes[jid + "#0"]["container"]["command"][2], MAIN)
        self.assertEqual(nodes[jid + "#2"]["container"]["command"][2], NODE)
        self.assertEqual(nodes[jid + "#2"]["nodeDetails"], {"nodeIndex": 2, "isMainNode": False})
        self.batch.cancel_job(jobId=jid, reason="enough")
        self.assertEqual(self.wait_job(jid)["status"], "FAILED")
