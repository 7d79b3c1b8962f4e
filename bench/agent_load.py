#!/usr/bin/env python3
"""Many agents against one server: simulated agents speak the agent protocol
(docs/agent-protocol.md) as `barge agent` does, but run nothing: an assignment is reported
RUNNING and EXITED 0 in the agent's next exchange.  What is measured is the server's side of a
large fleet.  The agents are bench/agentsim (C, one thread on epoll, a connection per agent;
built into build/bench-tools when its source is newer), so that they take little of the CPU
the server is measured with; --python-agents runs them as Python threads instead (the class
Agent below, which agentsim follows), whose figures say more about Python than the server.

Starts `barge server --dev` (its connection cap per address raised, as all agents come from
127.0.0.1) on a fresh data directory with an UNMANAGED compute environment, then:
  1. registers --agents agents at once (each with its own connection) and reports the
     registration burst's rate;
  2. lets them long-poll idle for --idle-seconds and reports the server's CPU and RSS;
  3. submits one array of --jobs children of 1 vCPU and reports the dispatch rate (submit to
     the parent's SUCCEEDED) and the latency of the exchanges that carried reports (p50, p99).
     Every agent always has an exchange waiting here, so that latency is the length of the
     queue of agents (agents / exchanges answered a second, Little's law), not the server's;
  4. (agentsim only, --run-ms above 0) the same with jobs that run --run-ms each, so that the
     fleet's pace is set by its jobs: the dispatch rate the fleet then keeps, and the latency
     of the exchanges that carried reports (RUNNING at once, EXITED when the job ends) at that
     rate.  The default (2,000 ms, 4 vCPUs an agent) offers about 2,000 jobs/s, two exchanges a
     job (RUNNING, then EXITED with the next assignment): half of what this load reaches on two
     cores shared with the simulated agents (1,000 ms: about 3,800 jobs/s of the 4,000 offered),
     so that the latency is measured below saturation, where queueing does not make it.

    bench/agent_load.py [--barge build/barge] [--agents 1000] [--jobs 100000] [--vcpus 4]
                        [--run-ms 2000] [--python-agents]
"""
import argparse
import http.client
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import TOOLS, BenchError, build_tools, fmt_mib, log, pct, proc_cpu  # noqa: E402


def post(conn, path, body, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    conn.request("POST", path, json.dumps(body), headers)
    r = conn.getresponse()
    data = r.read()
    return r.status, json.loads(data) if data else {}


class Agent(threading.Thread):
    """log_lines: each attempt also writes that many lines to its log stream (uploaded as
    `barge agent` does, before the attempt's end is reported)."""

    def __init__(self, port, n, vcpus, lat, lock, stop, log_lines=0):
        super().__init__(daemon=True)
        self.port, self.n, self.vcpus = port, n, vcpus
        self.lat, self.lock, self.stop = lat, lock, stop
        self.log_lines = log_lines
        self.registered = threading.Event()
        self.done = 0
        self.error = None

    def run(self):
        try:
            self.serve()
        except Exception as e:  # noqa: BLE001 (said by PythonAgents.check)
            self.error = "agent %d: %s" % (self.n, e)
            self.registered.set()

    def serve(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        status, reg = post(conn, "/barge/v1/agent/register", {
            "computeEnvironment": "fleet", "vcpus": self.vcpus, "memoryMiB": 16384,
            "hostname": "sim-%d" % self.n, "executor": "process", "cgroups": "none",
            "cgroupsNote": "a simulated agent", "clientToken": "sim-%d" % self.n}, "any-token")
        if status != 200:
            raise RuntimeError("register: %s %s" % (status, reg))
        iid, cred = reg["instanceId"], reg["credential"]
        self.registered.set()
        held, reports, ending = {}, [], []
        while not self.stop.is_set():
            body = {"instanceId": iid, "wait": not reports, "reports": reports,
                    "holding": [{"jobId": j, "attempt": a} for (j, a) in held]}
            t0 = time.monotonic()
            try:
                status, ans = post(conn, "/barge/v1/agent/exchange", body, cred)
            except (OSError, http.client.HTTPException):
                if self.stop.is_set():
                    return
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                continue
            if reports:
                with self.lock:
                    self.lat.append((time.monotonic() - t0) * 1000)
            if status != 200:
                raise RuntimeError("exchange: %s %s" % (status, ans))
            cred = ans.get("credential", cred)
            # Attempts whose end this answer acknowledged are no longer held.
            for key in ending:
                held.pop(key, None)
            self.done += len(ending)
            reports, ending = [], []
            now = int(time.time() * 1000)
            if self.log_lines and ans.get("assign"):
                streams = [{"logStreamName": a["logStreamName"], "events": [
                    {"timestamp": now, "message": "line %d of %s" % (i, a["jobId"])}
                    for i in range(self.log_lines)]} for a in ans["assign"]]
                status, out = post(conn, "/barge/v1/agent/logs", {"streams": streams}, cred)
                if status != 200:
                    raise RuntimeError("logs: %s %s" % (status, out))
            for a in ans.get("assign", []):
                key = (a["jobId"], a["attempt"])
                held[key] = True
                reports.append({"jobId": key[0], "attempt": key[1], "event": "RUNNING",
                                "at": now})
                reports.append({"jobId": key[0], "attempt": key[1], "event": "EXITED",
                                "at": now, "exitCode": 0})
                ending.append(key)


class PythonAgents:
    """The fleet as Python threads, one Agent each (--python-agents)."""

    def __init__(self, port, agents, vcpus, log_lines=0):
        self.lat, self.lock, self.stop = [], threading.Lock(), threading.Event()
        self.pid = os.getpid()  # whose CPU time the agents' is
        self.agents = [Agent(port, n, vcpus, self.lat, self.lock, self.stop, log_lines)
                       for n in range(agents)]

    def start(self, timeout=120):
        """Starts them and waits until all have registered; returns how long that took (s)."""
        t0 = time.monotonic()
        for ag in self.agents:
            ag.start()
        for ag in self.agents:
            if not ag.registered.wait(max(0.1, t0 + timeout - time.monotonic())):
                raise BenchError(f"an agent did not register within {timeout} s")
        self.check()
        return time.monotonic() - t0

    def check(self):
        for ag in self.agents:
            if ag.error:
                raise BenchError(ag.error)

    def stat(self):
        """Counts since the start, and the latencies (ms) of the exchanges that carried reports
        since the last stat: what agentsim's stat says."""
        self.check()
        with self.lock:
            lat = self.lat[:]
            del self.lat[:]
        return {"done": sum(ag.done for ag in self.agents), "lat_n": len(lat),
                "p50_ms": pct(lat, 50), "p99_ms": pct(lat, 99)}

    def close(self):
        self.stop.set()


class AgentSim:
    """The fleet as one bench/agentsim process (see its head comment)."""

    def __init__(self, port, agents, vcpus, log_lines=0):
        build_tools(["agentsim"])
        self.proc = subprocess.Popen([os.path.join(TOOLS, "agentsim"), "-p", str(port),
                                      "-n", str(agents), "-v", str(vcpus), "-l", str(log_lines)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.pid = self.proc.pid
        self.lines = queue.Queue()
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def _line(self, timeout):
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise BenchError(f"agentsim said nothing within {timeout} s") from None
        if line is None:
            self.proc.wait()
            raise BenchError(f"agentsim exited with status {self.proc.returncode} (its error "
                             f"is above)")
        return line

    def start(self, timeout=120):
        """Waits until every agent has registered; returns how long that took (s)."""
        line = self._line(timeout)
        if not line.startswith("registered "):
            raise BenchError(f"agentsim: {line}")
        return float(line.split()[3])

    def check(self):
        if self.proc.poll() is not None:
            raise BenchError(f"agentsim exited with status {self.proc.returncode} (its error "
                             f"is above)")

    def stat(self):
        with self.lock:
            self.check()
            try:
                self.proc.stdin.write("stat\n")
                self.proc.stdin.flush()
            except OSError:  # it ended meanwhile
                self.proc.wait()
                self.check()
            v = {}
            for kv in self._line(30).split():
                k, _, x = kv.partition("=")
                v[k] = float(x)
        v = {k: (None if x != x else x) for k, x in v.items()}  # nan: no latencies
        v["done"] = int(v["done"])
        v["lat_n"] = int(v["lat_n"])
        return v

    def run_ms(self, ms):
        """Attempts assigned from now on run ms milliseconds (agentsim's "run")."""
        with self.lock:
            self.check()
            self.proc.stdin.write("run %d\n" % ms)
            self.proc.stdin.flush()

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def fleet(python_agents, port, agents, vcpus, log_lines=0):
    return (PythonAgents if python_agents else AgentSim)(port, agents, vcpus, log_lines)


def set_up_fleet(port):
    """Waits for the server on port, then makes what the simulated agents serve: an UNMANAGED
    compute environment "fleet", queue "q" in front of it and job definition "sim" (1 vCPU).
    Returns a connection for the API calls."""
    for _ in range(100):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.1)
    api = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    post(api, "/v1/createcomputeenvironment",
         {"computeEnvironmentName": "fleet", "type": "UNMANAGED"})
    time.sleep(0.5)
    post(api, "/v1/createjobqueue", {"jobQueueName": "q", "priority": 1,
                                     "computeEnvironmentOrder": [
                                         {"order": 1, "computeEnvironment": "fleet"}]})
    post(api, "/v1/registerjobdefinition", {
        "jobDefinitionName": "sim", "type": "container", "containerProperties": {
            "image": "busybox", "command": ["true"],
            "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                     {"type": "MEMORY", "value": "16"}]}})
    return api


def run_array(api, srv, sim, jobs):
    """Submits an array of jobs children and waits for it to end; returns its status, the
    seconds it took, the server's and the agents' CPU µs a job, and the agents' stat (the
    latencies of that run)."""
    sim.stat()  # latencies from here on
    t1 = time.monotonic()
    cpu1, agents_cpu1 = proc_cpu(srv.pid)[0], proc_cpu(sim.pid)[0]
    _, out = post(api, "/v1/submitjob", {"jobName": "load", "jobQueue": "q",
                                         "jobDefinition": "sim",
                                         "arrayProperties": {"size": jobs}})
    parent = out["jobId"]
    while True:
        time.sleep(0.25)
        sim.check()
        if srv.poll() is not None:
            raise BenchError(f"the server exited with status {srv.returncode}")
        _, d = post(api, "/v1/describejobs", {"jobs": [parent]})
        s = d["jobs"][0]["status"]
        if s in ("SUCCEEDED", "FAILED"):
            break
        if time.monotonic() - t1 > 1800:
            raise BenchError("the array did not finish in 30 minutes")
    secs = time.monotonic() - t1
    # The server's own CPU per job dispatched: the agents share the machine, so this says
    # what the server alone would sustain.
    job_us = (proc_cpu(srv.pid)[0] - cpu1) / jobs * 1e6
    agents_job_us = (proc_cpu(sim.pid)[0] - agents_cpu1) / jobs * 1e6
    return s, secs, job_us, agents_job_us, sim.stat()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--barge", default=os.environ.get("BARGE", "build/barge"))
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=100000)
    ap.add_argument("--vcpus", type=int, default=4, help="vCPUs each simulated agent offers")
    ap.add_argument("--idle-seconds", type=int, default=10)
    ap.add_argument("--run-ms", type=int, default=2000,
                    help="how long each job of the paced run (4) runs; 0: no paced run")
    ap.add_argument("--python-agents", action="store_true",
                    help="the agents as Python threads rather than bench/agentsim")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="barge-agent-load-")
    port = 20000 + os.getpid() % 20000
    logf = open(os.path.join(work, "server.log"), "wb")
    srv = subprocess.Popen([a.barge, "server", "--dev", "--listen", "127.0.0.1:%d" % port,
                            "--data-dir", os.path.join(work, "data"),
                            "--max-connections-per-address", "4000",
                            "--max-array-size", str(max(a.jobs, 2))],
                           stdout=logf, stderr=subprocess.STDOUT)
    sim = None
    try:
        api = set_up_fleet(port)
        sim = fleet(a.python_agents, port, a.agents, a.vcpus)
        reg_s = sim.start()
        log(f"{a.agents} agents registered in {reg_s:.2f} s ({a.agents / reg_s:,.0f}/s)")
        time.sleep(2)
        cpu0, w0 = proc_cpu(srv.pid)[0], time.monotonic()
        time.sleep(a.idle_seconds)
        idle_cpu = (proc_cpu(srv.pid)[0] - cpu0) / (time.monotonic() - w0)
        with open("/proc/%d/status" % srv.pid) as f:
            rss = next(int(x.split()[1]) * 1024 for x in f if x.startswith("VmRSS:"))
        log(f"idle with {a.agents} agents long-polling: server CPU {100 * idle_cpu:.1f}% of a "
            f"core, RSS {fmt_mib(rss)}")
        s, secs, job_us, agents_job_us, st = run_array(api, srv, sim, a.jobs)
        p50, p99 = st["p50_ms"] or 0.0, st["p99_ms"] or 0.0
        log(f"{a.jobs:,} jobs over {a.agents} agents: {s} in {secs:.1f} s, "
            f"{a.jobs / secs:,.0f} jobs/s; exchanges with reports p50 {p50:.1f} ms, "
            f"p99 {p99:.1f} ms ({st['lat_n']:,} exchanges; each agent always has one waiting, "
            f"so this is {a.agents} agents / exchanges answered a second); server CPU "
            f"{job_us:.0f} µs a job (one core would sustain {1e6 / job_us:,.0f} jobs/s); the "
            f"agents' CPU {agents_job_us:.0f} µs a job")
        paced = ""
        if a.run_ms > 0 and not a.python_agents:
            sim.run_ms(a.run_ms)
            ps, psecs, _, _, pst = run_array(api, srv, sim, a.jobs)
            pp50, pp99 = pst["p50_ms"] or 0.0, pst["p99_ms"] or 0.0
            log(f"{a.jobs:,} jobs of {a.run_ms} ms over {a.agents} agents: {ps} in "
                f"{psecs:.1f} s, {a.jobs / psecs:,.0f} jobs/s; exchanges with reports p50 "
                f"{pp50:.1f} ms, p99 {pp99:.1f} ms ({pst['lat_n']:,} exchanges)")
            paced = (f"paced_run_ms={a.run_ms} paced_dispatch_per_s={a.jobs / psecs:.0f} "
                     f"paced_exchange_p50_ms={pp50:.1f} paced_exchange_p99_ms={pp99:.1f} ")
        print(f"agents={a.agents} register_per_s={a.agents / reg_s:.0f} "
              f"idle_cpu_pct={100 * idle_cpu:.1f} idle_rss_mib={rss / 2**20:.0f} "
              f"jobs={a.jobs} status={s} dispatch_per_s={a.jobs / secs:.0f} "
              f"exchange_p50_ms={p50:.1f} exchange_p99_ms={p99:.1f} "
              f"server_cpu_us_per_job={job_us:.0f} {paced}"
              f"targets: dispatch>=10000/s {'met' if a.jobs / secs >= 10000 else 'missed'}, "
              f"p99<=50ms {'met' if (pp99 if paced else p99) <= 50 else 'missed'}"
              f"{' (paced)' if paced else ''}, "
              f"idle<5% {'met' if idle_cpu < 0.05 else 'missed'}")
    except BenchError as e:
        log(f"agent_load: {e}")
        sys.exit(1)
    finally:
        if sim:
            sim.close()
        srv.terminate()
        try:
            srv.wait(30)
        except subprocess.TimeoutExpired:
            srv.kill()
        logf.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
