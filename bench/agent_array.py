#!/usr/bin/env python3
"""The agent's per-attempt cost, end to end: one 10,000-child array of `true` on a MANAGED
compute environment served by the local provider's agents on this host.

Starts `barge server --dev` on a free loopback port with a fresh data directory, creates the
environment (maxvCpus 64 by default), a queue and a definition (1 vCPU, 16 MiB), submits the
array, polls the parent's statusSummary twice a second until it is SUCCEEDED, and prints the
jobs per second from the submit to the last child's stoppedAt.  --runs N repeats the whole thing
with a fresh server each time and prints the median, since the machines this runs on are shared.

    bench/agent_array.py [--barge build/barge] [--size 10000] [--maxv 64] [--runs 3]
"""
import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def call(port, op, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", "/v1/" + op, json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    out = r.read()
    c.close()
    if r.status != 200:
        raise RuntimeError(f"{op}: HTTP {r.status}: {out[:300]!r}")
    return json.loads(out)


def one_run(args):
    work = tempfile.mkdtemp(prefix="barge-agent-array-")
    logpath = os.path.join(work, "server.log")
    logf = open(logpath, "wb")
    proc = subprocess.Popen([args.barge, "server", "--dev", "--stop-local-agents", "--listen",
                             "127.0.0.1:0", "--data-dir", os.path.join(work, "data")],
                            stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    logf.close()
    try:
        port = 0
        t0 = time.monotonic()
        while not port:
            if proc.poll() is not None or time.monotonic() - t0 > 60:
                raise RuntimeError("the server did not start")
            with open(logpath, "rb") as f:
                m = re.search(rb"listening on http://127\.0\.0\.1:(\d+)", f.read())
            if m:
                port = int(m.group(1))
            else:
                time.sleep(0.01)
        call(port, "createcomputeenvironment", {
            "computeEnvironmentName": "bench", "type": "MANAGED",
            "computeResources": {"type": "EC2", "minvCpus": 0, "maxvCpus": args.maxv,
                                 "instanceTypes": ["optimal"], "subnets": [],
                                 "securityGroupIds": []}})
        call(port, "createjobqueue", {"jobQueueName": "q", "priority": 1,
                                      "computeEnvironmentOrder": [
                                          {"order": 1, "computeEnvironment": "bench"}]})
        call(port, "registerjobdefinition", {
            "jobDefinitionName": "t", "type": "container",
            "containerProperties": {"image": "busybox", "command": ["true"],
                                    "resourceRequirements": [
                                        {"type": "VCPU", "value": "1"},
                                        {"type": "MEMORY", "value": "16"}]}})
        start = time.time()
        job = call(port, "submitjob", {"jobName": "a", "jobQueue": "q", "jobDefinition": "t",
                                       "arrayProperties": {"size": args.size}})["jobId"]
        while True:
            time.sleep(0.5)
            d = call(port, "describejobs", {"jobs": [job]})["jobs"][0]
            s = d["arrayProperties"].get("statusSummary", {})
            if s.get("FAILED"):
                raise RuntimeError(f"children failed: {s}")
            if d["status"] in ("SUCCEEDED", "FAILED"):
                break
        end = d.get("stoppedAt", time.time() * 1000) / 1000.0
        return args.size / (end - start)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--barge", default="build/barge")
    p.add_argument("--size", type=int, default=10000)
    p.add_argument("--maxv", type=int, default=64)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    rates = []
    for i in range(args.runs):
        rate = one_run(args)
        rates.append(rate)
        print(f"run {i + 1}: {rate:.0f} jobs/s (load {os.getloadavg()[0]:.2f})", flush=True)
    print(f"median: {statistics.median(rates):.0f} jobs/s over {len(rates)} runs")


if __name__ == "__main__":
    sys.exit(main())
