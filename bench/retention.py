#!/usr/bin/env python3
"""History that is let go: --jobs jobs pass through one server whose --retention-hours is short
(--retention-seconds), and the data directory's size is sampled as they do.  Once the run is
past the retention, finished jobs (and their logs) are removed as fast as new ones finish, so
the size stops growing: the figure to look at is the size at one retention into the run beside
the largest size after it, and the size once everything has been removed.

Starts `barge server --dev` on a fresh data directory with an UNMANAGED compute environment
served by simulated agents (bench/agent_load.py's, bench/agentsim unless --python-agents: an
assignment is reported RUNNING and EXITED 0 in the agent's next exchange, after its log lines are
uploaded), then submits batches, each one
array of --array children and --plain plain jobs, keeping two batches in flight.

    bench/retention.py [--barge build/barge] [--jobs 1000000] [--retention-seconds 30]
"""
import argparse
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent_load import fleet, post, set_up_fleet  # noqa: E402
from benchlib import BenchError, log  # noqa: E402

MIB = 2 ** 20


def dir_bytes(path):
    """The data directory's size: every file in it (the stores, their WALs, the audit log)."""
    total, parts = 0, {}
    for name in os.listdir(path):
        try:
            n = os.stat(os.path.join(path, name)).st_size
        except OSError:
            continue
        total += n
        parts[name] = n
    return total, parts


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        return next(int(x.split()[1]) * 1024 for x in f if x.startswith("VmRSS:"))


class Sampler(threading.Thread):
    def __init__(self, data, pid, every, progress):
        super().__init__(daemon=True)
        self.data, self.pid, self.every, self.progress = data, pid, every, progress
        self.samples, self.stop = [], threading.Event()
        self.t0 = time.monotonic()

    def run(self):
        while not self.stop.wait(self.every):
            self.take()

    def take(self):
        total, parts = dir_bytes(self.data)
        db = parts.get("barge.db", 0) + parts.get("barge.db-wal", 0)
        logs = parts.get("logs.db", 0) + parts.get("logs.db-wal", 0)
        s = (time.monotonic() - self.t0, self.progress(), total, db, logs, rss(self.pid))
        self.samples.append(s)
        log(f"t={s[0]:6.0f} s  jobs finished {s[1]:>9,}  data dir {total / MIB:8.1f} MiB "
            f"(barge.db {parts.get('barge.db', 0) / MIB:.1f} + WAL "
            f"{parts.get('barge.db-wal', 0) / MIB:.1f}, logs.db "
            f"{parts.get('logs.db', 0) / MIB:.1f} + WAL {parts.get('logs.db-wal', 0) / MIB:.1f})"
            f"  server RSS {s[5] / MIB:.1f} MiB")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--barge", default=os.environ.get("BARGE", "build/barge"))
    ap.add_argument("--jobs", type=int, default=1000000)
    ap.add_argument("--array", type=int, default=10000, help="children of each batch's array")
    ap.add_argument("--plain", type=int, default=200, help="plain jobs of each batch")
    ap.add_argument("--retention-seconds", type=float, default=30)
    ap.add_argument("--agents", type=int, default=50)
    ap.add_argument("--vcpus", type=int, default=8, help="vCPUs each simulated agent offers")
    ap.add_argument("--lines", type=int, default=2, help="log lines each job writes")
    ap.add_argument("--sample-seconds", type=float, default=5)
    ap.add_argument("--keep", action="store_true", help="keep the data directory, and say where")
    ap.add_argument("--python-agents", action="store_true",
                    help="the agents as Python threads rather than bench/agentsim")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="barge-retention-")
    data = os.path.join(work, "data")
    port = 20000 + os.getpid() % 20000
    logf = open(os.path.join(work, "server.log"), "wb")
    srv = subprocess.Popen([a.barge, "server", "--dev", "--listen", "127.0.0.1:%d" % port,
                            "--data-dir", data, "--no-default-queue",
                            "--max-connections-per-address", "4000",
                            "--max-array-size", str(max(a.array, 2)),
                            "--retention-hours", "%.9f" % (a.retention_seconds / 3600)],
                           stdout=logf, stderr=subprocess.STDOUT)
    sampler = sim = None
    try:
        api = set_up_fleet(port)
        sim = fleet(a.python_agents, port, a.agents, a.vcpus, a.lines)
        sim.start()
        sampler = Sampler(data, srv.pid, a.sample_seconds, lambda: sim.stat()["done"])
        sampler.start()
        log(f"{a.jobs:,} jobs in batches of an array of {a.array:,} and {a.plain} plain jobs, "
            f"{a.agents} agents of {a.vcpus} vCPUs, retention {a.retention_seconds:g} s")

        def submit(body):
            status, out = post(api, "/v1/submitjob", dict(body, jobQueue="q",
                                                          jobDefinition="sim"))
            if status != 200:
                raise BenchError("SubmitJob: %s %s" % (status, out))
            return out["jobId"]

        def wait_ended(ids):
            """Until every job has ended (or, ended long enough, has been removed)."""
            while ids:
                sim.check()
                status, d = post(api, "/v1/describejobs", {"jobs": ids[:100]})
                if status != 200:
                    raise BenchError("DescribeJobs: %s %s" % (status, d))
                waiting = {j["jobId"] for j in d["jobs"]
                           if j["status"] not in ("SUCCEEDED", "FAILED")}
                if waiting:
                    time.sleep(0.1)
                ids = [i for i in ids[:100] if i in waiting] + ids[100:]

        t0 = time.monotonic()
        submitted, in_flight = 0, []
        while submitted < a.jobs:
            n_arr = min(a.array, a.jobs - submitted)
            ids = [submit({"jobName": "batch", "arrayProperties": {"size": n_arr}})
                   if n_arr >= 2 else submit({"jobName": "one"})]
            submitted += n_arr
            for _ in range(min(a.plain, a.jobs - submitted)):
                ids.append(submit({"jobName": "plain"}))
                submitted += 1
            in_flight.append(ids)
            # Two batches in flight: the queue never runs dry, nor holds the whole run.
            if len(in_flight) > 1:
                wait_ended(in_flight.pop(0))
        for ids in in_flight:
            wait_ended(ids)
        secs = time.monotonic() - t0
        log(f"{submitted:,} jobs submitted and finished in {secs:.0f} s "
            f"({submitted / secs:,.0f} jobs/s); waiting {2 * a.retention_seconds:g} s more "
            f"for their removal")
        time.sleep(2 * a.retention_seconds + a.sample_seconds)
        sampler.stop.set()
        sampler.take()
        s = sampler.samples
        # Past two retentions the removals keep pace with the ends: the run's first and second
        # halves from there should peak alike.
        mid = (2 * a.retention_seconds + secs) / 2
        first = [x[2] for x in s if 2 * a.retention_seconds <= x[0] < mid]
        second = [x[2] for x in s if mid <= x[0] <= secs]
        p1, p2 = max(first, default=0), max(second, default=0)
        peak, final = max(x[2] for x in s), s[-1]
        verdict = ("steady" if p1 and p2 <= 1.2 * p1 else
                   "growing" if p1 else "too short a run to tell")
        log(f"data dir from two retentions to half way: largest {p1 / MIB:.1f} MiB; second "
            f"half: largest {p2 / MIB:.1f} MiB ({verdict}); largest overall {peak / MIB:.1f} "
            f"MiB; once every job was removed: {final[2] / MIB:.1f} MiB (server RSS "
            f"{final[5] / MIB:.0f} MiB)")
        print(f"jobs={submitted} seconds={secs:.0f} jobs_per_s={submitted / secs:.0f} "
              f"retention_s={a.retention_seconds:g} dir_mib_peak_first_half={p1 / MIB:.1f} "
              f"dir_mib_peak_second_half={p2 / MIB:.1f} size={verdict if p1 else 'unknown'} "
              f"dir_mib_peak={peak / MIB:.1f} dir_mib_final={final[2] / MIB:.1f} "
              f"rss_mib_final={final[5] / MIB:.0f}")
        if srv.poll() is not None:
            raise BenchError("the server exited with %s" % srv.returncode)
    finally:
        if sampler:
            sampler.stop.set()
        if sim:
            sim.close()
        srv.terminate()
        try:
            srv.wait(30)
        except subprocess.TimeoutExpired:
            srv.kill()
        logf.close()
        if a.keep:
            log(f"the data directory and the server's log are kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
