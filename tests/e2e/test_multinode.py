"""Multi-node parallel jobs: a `multinode` definition's nodes run together (all placed or none),
each with AWS_BATCH_JOB_NODE_INDEX, AWS_BATCH_JOB_NUM_NODES, AWS_BATCH_JOB_MAIN_NODE_INDEX and,
off the main node, AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS; they talk to the main node over
TCP; the main node's exit decides the job and a failed node takes the others down; nodes are
JOBID#N, listed with multiNodeJobId; nodeOverrides change numNodes and a range's container."""
import socket

from test_jobs_common import JobsCase

# The main node: accepts one connection from every other node, each sending its index, and
# prints what it got.  PORT is the job's parameter.
MAIN = r'''
import os, socket, sys
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
'''
# The other nodes: connect to the main node, send their index, then stay until stopped (or exit
# with the code the job's FAIL parameter gives this node).
NODE = r'''
import os, socket, sys, time
addr = os.environ["AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"]
me = os.environ["AWS_BATCH_JOB_NODE_INDEX"]
if sys.argv[2] == me:
    sys.exit(3)
for _ in range(400):
    try:
        c = socket.create_connection((addr, int(sys.argv[1])))
        break
    except OSError:
        time.sleep(0.05)
c.send(me.encode())
c.close()
time.sleep(120)
'''


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return str(port)


def node_range(target, script, vcpus="1"):
    return {"targetNodes": target, "container": {
        "image": "busybox", "command": ["/usr/bin/python3", "-c", script, "Ref::port", "Ref::fail"],
        "resourceRequirements": [{"type": "VCPU", "value": vcpus}, {"type": "MEMORY",
                                                                   "value": "64"}]}}


class MultiNode(JobsCase):
    max_vcpus = 4

    @classmethod
    def setUpResources(cls):
        # Instances of 2 vCPUs: three nodes of one vCPU need two agents at least.
        cls.make_ce("small", 6, instanceTypes=["c5.large"])
        cls.make_queue("mq", ["small"])
        cls.batch.register_job_definition(
            jobDefinitionName="mnp", type="multinode", parameters={"fail": "none"},
            nodeProperties={"numNodes": 3, "mainNode": 0, "nodeRangeProperties": [
                node_range("0", MAIN), node_range("1:", NODE)]})

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
        self.assertEqual(nodes[jid + "#0"]["status"], "SUCCEEDED")
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

    def test_a_failed_node_takes_the_job_down(self):
        jid, d = self.run_mnp(parameters={"fail": "2"})
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(d["statusReason"], "node 2: Essential container in task exited")
        main = self.job(jid + "#0")
        self.assertEqual(main["status"], "FAILED")
        self.assertEqual(main["statusReason"], "Stopped: node 2 failed")
        self.assertEqual(self.job(jid + "#2")["container"]["exitCode"], 3)

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
        self.assertClientError(s, "retryStrategy.attempts", retryStrategy={"attempts": 2}, **kw)
        self.assertClientError(s, "targetNodes", "'2:'", nodeOverrides={
            "nodePropertyOverrides": [{"targetNodes": "2:", "containerOverrides": {}}]}, **kw)
        self.assertClientError(s, "numNodes", nodeOverrides={"numNodes": 0}, **kw)
        # A plain container job takes no nodeOverrides.
        self.assertClientError(s, "nodeOverrides", jobName="c", jobQueue="q",
                               jobDefinition="jd", nodeOverrides={"numNodes": 2})

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
