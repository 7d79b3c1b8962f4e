#!/usr/bin/env python3
"""Running attempts through a restart of the server: --jobs attempts run (an array whose
children each sleep --sleep seconds, as host processes on the local provider's agents) when the
server is killed with -9 (or stopped with SIGTERM: --clean) and started again on the same data
directory.  Every child records each run of itself, so nothing can start again unseen.

Figures: attempts lost (an attempt that did not end with its own exit code), attempts started
again (a child that ran more than once), the time from the new server's start to its first
answer, and from then until every child had ended.  Targets: 0 lost, 0 started again.

    bench/restart_survival.py [--barge build/barge] [--jobs 500] [--sleep 20] [--clean]
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import log  # noqa: E402


def post(port, path, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, json.loads(data) if data else {}


def start(barge, port, data, logf):
    srv = subprocess.Popen([barge, "server", "--dev", "--listen", "127.0.0.1:%d" % port,
                            "--data-dir", data, "--executor", "process", "--idle-seconds",
                            "600"], stdout=logf, stderr=subprocess.STDOUT)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return srv, time.monotonic() - t0
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the server did not answer /healthz within 60 s")


def children(port, parent, n):
    out = {}
    ids = ["%s:%d" % (parent, i) for i in range(n)]
    for k in range(0, n, 100):
        status, d = post(port, "/v1/describejobs", {"jobs": ids[k:k + 100]})
        if status != 200:
            raise RuntimeError("DescribeJobs: %s %s" % (status, d))
        out.update((j["jobId"], j) for j in d["jobs"])
    return out


def summary(port, parent):
    _, d = post(port, "/v1/describejobs", {"jobs": [parent]})
    j = d["jobs"][0]
    return j["status"], j.get("arrayProperties", {}).get("statusSummary", {})


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--barge", default=os.environ.get("BARGE", "build/barge"))
    ap.add_argument("--jobs", type=int, default=500)
    ap.add_argument("--sleep", type=int, default=20, help="seconds each attempt runs")
    ap.add_argument("--clean", action="store_true", help="SIGTERM instead of kill -9")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="barge-restart-")
    runs = os.path.join(work, "runs")
    os.makedirs(runs)
    os.chmod(work, 0o755)
    os.chmod(runs, 0o777)  # attempts run as nobody
    data = os.path.join(work, "data")
    port = 20000 + os.getpid() % 20000
    logf = open(os.path.join(work, "server.log"), "ab")
    srv = None
    try:
        srv, _ = start(a.barge, port, data, logf)
        post(port, "/v1/createcomputeenvironment", {
            "computeEnvironmentName": "wide", "type": "MANAGED", "computeResources": {
                "type": "EC2", "minvCpus": 0, "maxvCpus": a.jobs, "subnets": ["subnet-1"],
                "instanceTypes": ["optimal"]}})
        time.sleep(0.5)
        post(port, "/v1/createjobqueue", {"jobQueueName": "q", "priority": 1,
                                          "computeEnvironmentOrder": [
                                              {"order": 1, "computeEnvironment": "wide"}]})
        post(port, "/v1/registerjobdefinition", {
            "jobDefinitionName": "nap", "type": "container", "containerProperties": {
                "image": "busybox", "command": ["sh", "-c",
                                                'echo "$AWS_BATCH_JOB_ATTEMPT" >> '
                                                '"$RUNS/$AWS_BATCH_JOB_ARRAY_INDEX"; '
                                                'sleep %d; exit 0' % a.sleep],
                "environment": [{"name": "RUNS", "value": runs}],
                "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                         {"type": "MEMORY", "value": "16"}]}})
        time.sleep(0.5)
        status, out = post(port, "/v1/submitjob", {"jobName": "through", "jobQueue": "q",
                                                   "jobDefinition": "nap",
                                                   "arrayProperties": {"size": a.jobs}})
        if status != 200:
            raise RuntimeError("SubmitJob: %s %s" % (status, out))
        parent = out["jobId"]
        t0 = time.monotonic()
        while summary(port, parent)[1].get("RUNNING", 0) < a.jobs:
            if time.monotonic() - t0 > max(120, a.sleep - 2):
                raise RuntimeError("not all %d attempts ran at once: %s" % (
                    a.jobs, summary(port, parent)[1]))
            time.sleep(0.25)
        log(f"{a.jobs} attempts running after {time.monotonic() - t0:.1f} s; "
            f"{'stopping' if a.clean else 'killing'} the server")
        srv.send_signal(signal.SIGTERM if a.clean else signal.SIGKILL)
        srv.wait(60)
        srv, up_s = start(a.barge, port, data, logf)
        t1 = time.monotonic()
        while summary(port, parent)[0] not in ("SUCCEEDED", "FAILED"):
            if time.monotonic() - t1 > a.sleep + 180:
                raise RuntimeError("not finished: %s" % (summary(port, parent),))
            time.sleep(0.25)
        done_s = time.monotonic() - t1
        kids = children(port, parent, a.jobs)
        lost = sum(1 for j in kids.values()
                   if len(j.get("attempts", [])) != 1 or j["status"] != "SUCCEEDED")
        again = 0
        for i in range(a.jobs):
            with open(os.path.join(runs, str(i))) as f:
                if len(f.read().split()) != 1:
                    again += 1
        verdict = "met" if lost == 0 and again == 0 else "missed"
        log(f"{a.jobs} running attempts through a {'clean stop' if a.clean else 'kill -9'}: "
            f"{lost} lost, {again} started again; the new server answered in {up_s:.2f} s and "
            f"every attempt had ended {done_s:.1f} s later")
        print(f"attempts={a.jobs} restart={'clean' if a.clean else 'kill9'} lost={lost} "
              f"started_again={again} healthz_s={up_s:.2f} all_ended_s={done_s:.1f} "
              f"target 0 lost, 0 started again: {verdict}")
        return 0 if verdict == "met" else 1
    finally:
        if srv and srv.poll() is None:
            srv.terminate()
            try:
                srv.wait(30)
            except subprocess.TimeoutExpired:
                srv.kill()
        # The local agents outlive the server by design: stop them too.
        mark = ("--image-cache\0%s/images/cache\0" % data).encode()
        for d in os.listdir("/proc"):
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    if d.isdigit() and mark in f.read():
                        os.kill(int(d), signal.SIGTERM)
            except OSError:
                pass
        time.sleep(1)
        logf.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
