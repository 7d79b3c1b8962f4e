"""Figure 6 of bench/run.py: the container executor (`barge server --executor container`), each
figure beside what runc, skopeo and umoci cost alone, measured in the same run.

  throughput  a 1,000-child array of `true` in the busybox image (one SubmitJob; the submit
              is a few milliseconds of it, figure 2), from the submit to the last stoppedAt, on
              a warm instance whose image cache holds busybox; several compute environment
              sizes are tried and the best reported.  Reference: `runc run` of a prepared
              bundle, 8 in flight, each run in an attempt directory of its own with an overlay
              over the unpacked image and its own config.json, as the agent makes them; it is
              measured before each size, and the best of these is the one compared with.
  latency     about 20 single jobs one after another on an idle instance with a warm image
              cache: submit to RUNNING and to SUCCEEDED from the job's own timestamps.
              Reference: one `runc run` of the same bundle (interleaved with the jobs).
  pull        the first job that uses a ~100 MiB image (busybox plus a layer of random data)
              on a fresh server: its submit to RUNNING, less that of the second job on the same
              instance.  Reference: `skopeo copy` of the image into a new OCI layout plus
              `umoci unpack` (the agent runs both tools too); the two take turns at going
              first.  The registry's access log shows
              that the cached image costs no registry request.

The images come from a local registry (tests/e2e/registry.py) through --registry-mirror.  Runs
as root (umoci, runc and the overlay mounts need it); otherwise the figure says why it was not
measured.  `--containers-smoke` runs it small (20 jobs, 3 latency samples, a 5 MiB image).
"""
import concurrent.futures
import ctypes
import itertools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time

from benchlib import (BenchError, wait_done, fmt_ms, log, machine_busy, parse_setting, pct, proc_cpu, ratio,
                      target, wall_ms)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Appended, not prepended: tests/e2e has a run.py of its own.
sys.path.append(os.path.join(ROOT, "tests", "e2e"))
import registry  # noqa: E402  (found through the path set just above)

CE, QUEUE = "bench-ctr", "ctr"
TRUE_DEF, PULL_DEF, NOWHERE_DEF = "ctr-true", "ctr-pull", "ctr-nowhere"
PULL_IMAGE = "barge-bench/pull"   # a Docker Hub name: it comes through the mirror, as busybox
TOOLS_NEEDED = ("runc", "skopeo", "umoci", registry.REGISTRY_BINARY)
MNT_DETACH = 2


# Each option's value for a full run and for --containers-smoke, unless given.
SIZES = {"jobs": (1000, 20), "settings": ("4:1:16,8:1:16,16:1:16", "4:1:16"),
         "ceiling_runs": (200, 40), "latency_jobs": (20, 3), "image_mib": (100, 5),
         "pull_reps": (3, 1)}


def add_options(ap):
    g = ap.add_argument_group("figure 6, containers")
    g.add_argument("--containers-jobs", type=int,
                   help="children of the throughput array (1000; smoke 20)")
    g.add_argument("--containers-settings",
                   help="MAXVCPUS:VCPUS:MEMORY_MIB,... tried for the throughput, the best "
                        "reported (4:1:16,8:1:16,16:1:16; smoke 4:1:16)")
    g.add_argument("--containers-ceiling-inflight", type=int, default=8,
                   help="runc runs in flight for the ceiling (8)")
    g.add_argument("--containers-ceiling-runs", type=int,
                   help="runc runs measured for each ceiling (200; smoke 40)")
    g.add_argument("--containers-latency-jobs", type=int, help="latency samples (20; smoke 3)")
    g.add_argument("--containers-image-mib", type=int,
                   help="random data in the pulled image (100 MiB; smoke 5)")
    g.add_argument("--containers-pull-reps", type=int,
                   help="first pulls measured, each on a fresh server (3; smoke 1)")
    g.add_argument("--containers-smoke", action="store_true",
                   help="a quick run (about 10 s) with the smaller sizes above, to check that "
                        "the figure works; its numbers mean little")


def finish_options(a):
    for name, (full, smoke) in SIZES.items():
        key = "containers_" + name
        if getattr(a, key) is None:
            setattr(a, key, smoke if a.containers_smoke else full)
    a.containers_settings = [parse_setting(s) for s in a.containers_settings.split(",")]


def missing():
    """Why the figure cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (umoci unpack, runc and overlay mounts)"
    for tool in TOOLS_NEEDED:
        if not shutil.which(tool):
            return f"{tool} is missing (scripts/deps.sh installs it)"
    if not os.path.exists(registry.BUSYBOX):
        return f"{registry.BUSYBOX} is missing (busybox-static; scripts/deps.sh installs it)"
    return None


# ---- the reference: runc alone ----------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)


def _mount_overlay(lower, upper, work, target_dir):
    opts = f"lowerdir={lower},upperdir={upper},workdir={work}".encode()
    if _libc.mount(b"overlay", target_dir.encode(), b"overlay", 0, opts) != 0:
        e = ctypes.get_errno()
        raise BenchError(f"mounting an overlay on {target_dir}: {os.strerror(e)}")


class Runc:
    """runc on the busybox bundle, outside barge.  One bundle is unpacked once (umoci); a run
    is either of that bundle as it is, or of an attempt directory made as the agent makes one:
    upper/, work/ and rootfs/ with an overlay over the unpacked image, its own config.json,
    and after the run the mount and the directory removed."""

    def __init__(self, work, layout, tag):
        self.dir = os.path.join(work, "runc-reference")
        self.state = os.path.join(self.dir, "state")
        self.bundle = os.path.join(self.dir, "bundle")
        os.makedirs(self.dir)
        registry.run_tool(["umoci", "unpack", "--image", f"{layout}:{tag}", self.bundle], 120)
        with open(os.path.join(self.bundle, "config.json")) as f:
            self.config = json.load(f)
        self.config["process"]["args"] = ["true"]
        self.config["process"]["terminal"] = False
        with open(os.path.join(self.bundle, "config.json"), "w") as f:
            json.dump(self.config, f)
        self.prefix = f"barge-bench-{os.getpid()}-"
        self.seq = itertools.count(1)
        self.lock = threading.Lock()

    def _next(self):
        with self.lock:
            return next(self.seq)

    def _runc(self, bundle):
        cid = f"{self.prefix}{self._next()}"
        t0 = time.monotonic()
        r = subprocess.run(["runc", "--root", self.state, "run", "--bundle", bundle, cid],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
        secs = time.monotonic() - t0
        if r.returncode:
            raise BenchError(f"runc run exited with {r.returncode}: {r.stderr.strip()[:300]}")
        return secs

    def run_shared(self):
        """runc run of the unpacked bundle itself; returns seconds."""
        return self._runc(self.bundle)

    def run_attempt(self):
        """An attempt directory with its overlay, runc run, and the cleanup; returns (seconds
        for all of it, seconds of runc run alone)."""
        d = os.path.join(self.dir, f"attempt-{self._next()}")
        rootfs = os.path.join(d, "rootfs")
        t0 = time.monotonic()
        for sub in ("upper", "work", "rootfs"):
            os.makedirs(os.path.join(d, sub))
        _mount_overlay(os.path.join(self.bundle, "rootfs"), os.path.join(d, "upper"),
                       os.path.join(d, "work"), rootfs)
        try:
            config = dict(self.config, root={"path": rootfs, "readonly": False})
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(config, f)
            runc_s = self._runc(d)
        finally:
            _libc.umount2(rootfs.encode(), MNT_DETACH)
            shutil.rmtree(d, ignore_errors=True)
        return time.monotonic() - t0, runc_s

    def rate(self, fn, inflight, total):
        """fn() `total` times, `inflight` at a time; runs per second."""
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=inflight) as pool:
            for f in [pool.submit(fn) for _ in range(total)]:
                f.result()
        return total / (time.monotonic() - t0)

    def cleanup(self):
        out = subprocess.run(["runc", "--root", self.state, "list", "--quiet"],
                             capture_output=True, text=True)
        for cid in out.stdout.split():
            if cid.startswith(self.prefix):
                subprocess.run(["runc", "--root", self.state, "delete", "--force", cid],
                               capture_output=True)
        with open("/proc/self/mounts") as f:
            points = [line.split()[1] for line in f]
        for point in sorted(points, key=len, reverse=True):
            if point.startswith(self.dir + "/"):
                _libc.umount2(point.encode(), MNT_DETACH)


# ---- barge ------------------------------------------------------------------------------------

def setup(srv, maxv, vcpus, mem, minv=0, image="busybox", name=TRUE_DEF):
    srv.call("createcomputeenvironment", {
        "computeEnvironmentName": CE, "type": "MANAGED",
        "computeResources": {"type": "EC2", "minvCpus": minv, "maxvCpus": maxv,
                             "instanceTypes": ["optimal"], "subnets": [], "securityGroupIds": []}})
    srv.call("createjobqueue", {"jobQueueName": QUEUE, "priority": 1, "computeEnvironmentOrder": [
        {"order": 1, "computeEnvironment": CE}]})
    define(srv, name, image, vcpus, mem)


def define(srv, name, image, vcpus, mem):
    srv.call("registerjobdefinition", {
        "jobDefinitionName": name, "type": "container",
        "containerProperties": {"image": image, "command": ["true"], "resourceRequirements": [
            {"type": "VCPU", "value": str(vcpus)}, {"type": "MEMORY", "value": str(mem)}]}})


def submit(srv, definition=TRUE_DEF, size=None):
    body = {"jobName": "ctr", "jobQueue": QUEUE, "jobDefinition": definition}
    if size:
        body["arrayProperties"] = {"size": size}
    return srv.call("submitjob", body)["jobId"]


def wait_job(srv, jid, timeout, poll_s=0.005):
    deadline = time.monotonic() + timeout
    while True:
        d = srv.describe(jid)
        if d["status"] in ("SUCCEEDED", "FAILED"):
            return d
        if time.monotonic() > deadline:
            raise BenchError(f"job {jid} still {d['status']} after {timeout} s")
        time.sleep(poll_s)


def run_one(srv, definition=TRUE_DEF, timeout=120):
    """Submits one job and waits for its end; returns its description, which must say
    SUCCEEDED."""
    d = wait_job(srv, submit(srv, definition), timeout)
    if d["status"] != "SUCCEEDED":
        raise BenchError(f"a {definition} job {d['status']}: {d.get('statusReason')}; "
                         f"{d.get('container', {}).get('reason')} ({srv.log_tail()[-300:]})")
    return d


def launch_instance(srv):
    """Waits for the environment's instance (launched for its minvCpus) to take jobs, without
    pulling anything into its image cache: a job whose image is on a registry that refuses
    connections (port 1 of loopback) runs there and fails at once with
    CannotPullContainerError.  minvCpus keeps the instance afterwards."""
    define(srv, NOWHERE_DEF, "127.0.0.1:1/barge-bench/nowhere:1", 1, 16)
    d = wait_job(srv, submit(srv, NOWHERE_DEF), 120)
    reason = d.get("container", {}).get("reason") or ""
    if d["status"] != "FAILED" or not reason.startswith("CannotPullContainerError"):
        raise BenchError(f"the job that launches the instance ended {d['status']}: {reason}")


def server_cpu(srv):
    """(server, agents, what the agents reaped: runc, the containers, skopeo, umoci), in CPU
    seconds so far."""
    agents = reaped = 0.0
    for k in srv.children():
        own, children = proc_cpu(k)
        agents += own
        reaped += children
    return proc_cpu(srv.proc.pid)[0], agents, reaped


def throughput_once(run, extra, maxv, vcpus, mem, n):
    srv = run.server(f"containers-throughput-{maxv}-{vcpus}-{mem}", extra)
    srv.start()
    try:
        setup(srv, maxv, vcpus, mem)
        # The instance and the image cache are warm before the figure starts.
        run_one(srv)
        cpu0, busy0 = server_cpu(srv), machine_busy()
        t0 = wall_ms()
        parent = submit(srv, size=n)
        d = wait_done(srv.describe, parent, max(600, n))
        summary = d["arrayProperties"]["statusSummary"]
        secs = (d["stoppedAt"] - t0) / 1000.0
        cpu1, busy1 = server_cpu(srv), machine_busy()
        with open(srv.logpath, errors="replace") as f:
            agents = sum(1 for line in f if "fleet: launched instance" in line)
        return {"rate": n / secs, "seconds": secs, "ok": summary.get("SUCCEEDED", 0),
                "failed": summary.get("FAILED", 0), "agents": agents, "maxv": maxv,
                "vcpus": vcpus, "mem": mem,
                "busy": (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]),
                "cpu": tuple(b - a for a, b in zip(cpu0, cpu1))}
    finally:
        srv.stop()


def registry_requests(reg, name):
    """(manifest GETs for repository name, its blob requests, HEADs of its manifests (the agent
    asking whether a tag moved), every request the registry has served) so far, from its access
    log."""
    lines = [line for line in reg.read_log().splitlines() if '"GET /v2/' in line
             or '"HEAD /v2/' in line or '"PUT /v2/' in line or '"POST /v2/' in line
             or '"PATCH /v2/' in line]
    mine = [line for line in lines if f"/v2/{name}/" in line]
    return (sum("/manifests/" in line and '"HEAD ' not in line for line in mine),
            sum("/blobs/" in line for line in mine),
            sum("/manifests/" in line and '"HEAD ' in line for line in mine), len(lines))


def cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def to_running(d):
    return d["startedAt"] - d["createdAt"]


# ---- the figure ------------------------------------------------------------------------------

def figure(run):
    why = missing()
    if why:
        run.row("6. Containers", f"not measured: {why}", "", "", "—")
        return
    work = os.path.join(run.work, "containers")
    os.makedirs(work)
    reg = registry.LocalRegistry(access_log=True)
    runc = None
    try:
        reg.start()
        layout = registry.build_busybox_layout(os.path.join(work, "busybox"))
        registry.push_layout(layout, reg, "library/busybox")
        extra = ["--executor", "container", "--registry-mirror", "http://" + reg.url]
        runc = Runc(work, layout, "latest")
        runc.run_attempt()  # warms the page cache
        throughput(run, runc, extra)
        latency(run, runc, extra)
        pull(run, reg, extra, work)
    finally:
        if runc:
            runc.cleanup()
        reg.stop()


def ceiling(runc, fn, inflight, total):
    """(runs per second, CPU milliseconds per run) of fn, `inflight` at a time.  The CPU time
    is that of the children reaped meanwhile: runc and the containers, since no server is
    running (the figures stop theirs) and the registry is not reaped."""
    c0 = cpu_children()
    rate = runc.rate(fn, inflight, total)
    return rate, (cpu_children() - c0) * 1000 / total


def throughput(run, runc, extra):
    a = run.args
    k, n_ceiling, n = a.containers_ceiling_inflight, a.containers_ceiling_runs, a.containers_jobs
    results, ceilings = [], []
    # The ceiling is measured again before each setting, so that each run has one beside it;
    # the row compares the best run with the best ceiling.
    for maxv, vcpus, mem in a.containers_settings:
        log(f"containers: runc ceiling, {k} in flight, {n_ceiling} runs")
        ceilings.append(ceiling(runc, runc.run_attempt, k, n_ceiling))
        try:
            r = throughput_once(run, extra, maxv, vcpus, mem, n)
        except BenchError as e:
            log(f"containers: maxvCpus {maxv}: {e}")
            run.note(f"6. Containers, throughput, maxvCpus {maxv}, {vcpus} vCPU / {mem} MiB: {e}")
            continue
        r["ceiling"] = ceilings[-1][0]
        log(f"containers: maxvCpus {maxv}, {vcpus} vCPU / {mem} MiB: {r['rate']:,.1f} jobs/s "
            f"({r['seconds']:.1f} s, {r['failed']} failed); runc ceiling just before "
            f"{r['ceiling']:,.1f}/s")
        results.append(r)
    shared = ceiling(runc, runc.run_shared, k, n_ceiling)
    best_ceiling = max(c[0] for c in ceilings)
    run.note(f"6. Containers, runc ceiling: {k} in flight, {n_ceiling} runs of `true` in the "
             "busybox bundle (unpacked once with umoci; umoci's config.json with the command "
             "set), each in an attempt directory of its own (upper/, work/, an overlay over the "
             "unpacked image, its own config.json; unmounted and removed after the run, as the "
             "agent does), measured before each setting: " +
             ", ".join(f"{c[0]:,.1f}/s ({c[1]:.0f} ms CPU per run)" for c in ceilings) +
             f". Running the one bundle as it is (bench/container_tools.py's figure): "
             f"{shared[0]:,.1f}/s ({shared[1]:.0f} ms CPU per run).")
    what = (f"6. Containers: {n:,} `true` jobs in busybox (one {n:,}-child array), submit to "
            "last stoppedAt")
    if not results:
        run.row(what, "no result (see notes)", "", "", "≥ 50% of ceiling")
        return
    b = max(results, key=lambda r: r["rate"])
    run.row(what, f"{b['rate']:,.1f} jobs/s ({b['seconds']:.1f} s; maxvCpus {b['maxv']}, "
                  f"{b['vcpus']} vCPU / {b['mem']} MiB jobs, {b['failed']} failed)",
            f"runc run ceiling ({k} in flight, an overlay per run), the best of "
            f"{len(ceilings)}: {best_ceiling:,.1f}/s",
            f"{100 * b['rate'] / best_ceiling:.0f}%",
            target("≥ 50% of ceiling", b["rate"] >= 0.5 * best_ceiling and not b["failed"]))
    run.note("6. Containers, throughput: one SubmitJob of a "
             f"{n:,}-child array (the submit is not what this measures: figure 2) after one job "
             "that launched the instance and pulled busybox; EC2 jobs take whole vCPUs (0.25 is "
             "Fargate's), so the instance's vCPUs (maxvCpus, one instance) are the containers "
             "in flight. " + "; ".join(
                 f"maxvCpus {r['maxv']} ({r['vcpus']} vCPU / {r['mem']} MiB): "
                 f"{r['rate']:,.1f} jobs/s in {r['seconds']:.1f} s "
                 f"({100 * r['rate'] / r['ceiling']:.0f}% of the ceiling measured just before), "
                 f"{r['ok']:,} SUCCEEDED, "
                 f"{r['failed']} FAILED, {r['agents']} agent{'' if r['agents'] == 1 else 's'}, "
                 f"CPU per job: server {r['cpu'][0] * 1000 / n:.1f} ms, agent "
                 f"{r['cpu'][1] * 1000 / n:.1f} ms, runc and the container "
                 f"{r['cpu'][2] * 1000 / n:.1f} ms; machine {100 * r['busy']:.0f}% busy"
                 for r in results) + ".")


def latency(run, runc, extra):
    a = run.args
    srv = run.server("containers-latency", extra)
    srv.start()
    try:
        setup(srv, 4, 1, 16, minv=4)
        for _ in range(3):  # the first pulls busybox
            run_one(srv)
        jobs, runs, attempts = [], [], []
        # Interleaved, so that both see the same machine.
        for _ in range(a.containers_latency_jobs):
            jobs.append(run_one(srv))
            whole, alone = runc.run_attempt()
            attempts.append(whole * 1000)
            runs.append(alone * 1000)
    finally:
        srv.stop()
    to_run = [to_running(d) for d in jobs]
    to_done = [d["stoppedAt"] - d["createdAt"] for d in jobs]
    runc_p50 = statistics.median(runs)
    bound = 1.5 * (runc_p50 + 5)
    p50, p90 = pct(to_run, 50), pct(to_run, 90)
    run.row(f"6. Containers idle: submit to RUNNING p50 / p90 ({len(jobs)} jobs, warm image)",
            f"{fmt_ms(p50)} / {fmt_ms(p90)}",
            f"one runc run of true (p50): {fmt_ms(runc_p50)}; + 5 ms: {fmt_ms(runc_p50 + 5)}",
            ratio(p50, runc_p50 + 5),
            target(f"≤ 1.5 × (runc run + 5 ms) = {fmt_ms(bound)}", p50 <= bound))
    run.row("6. Containers idle: submit to SUCCEEDED p50 / p90 (same jobs)",
            f"{fmt_ms(pct(to_done, 50))} / {fmt_ms(pct(to_done, 90))}",
            f"one runc run of true (p50): {fmt_ms(runc_p50)}",
            ratio(pct(to_done, 50), runc_p50), "—")
    run.note(f"6. Containers, latency: {len(jobs)} `true` jobs in busybox one after another on "
             "an idle instance (minvCpus = maxvCpus = 4, three jobs run first, "
             "the first of which pulled the image), each followed by one runc run of the "
             "reference bundle. Job timestamps: createdAt (the server, at the submit), "
             "startedAt (the agent, when runc has made the container and found its program: "
             "runc's pid file, after the image lookup, the overlay and config.json) and "
             "stoppedAt (the "
             "agent, when runc exited); millisecond resolution. The reference is `runc run` "
             f"alone (p90 {fmt_ms(pct(runs, 90))}); with the attempt directory, the overlay "
             f"and their removal around it, p50 {fmt_ms(statistics.median(attempts))}. Read "
             f"strictly (1.5 × runc run, + 5 ms) the bound is {fmt_ms(1.5 * runc_p50 + 5)}.")


def big_image(reg, work, mib):
    """busybox plus a layer of mib MiB of random data (gzip cannot shrink it), pushed as
    PULL_IMAGE; returns its layout and compressed size."""
    layout = registry.build_busybox_layout(os.path.join(work, "big"))
    registry.add_layer(layout, "latest", [("data", "dir", 0o755, None),
                                          ("data/random", "file", 0o644, os.urandom(mib << 20))],
                       f"bench/containers.py: {mib} MiB of random data")
    registry.push_layout(layout, reg, PULL_IMAGE, timeout=600)
    size = sum(os.path.getsize(os.path.join(layout, "blobs", "sha256", b))
               for b in os.listdir(os.path.join(layout, "blobs", "sha256")))
    return layout, size


def timed_tool(args, timeout=600):
    t0 = time.monotonic()
    registry.run_tool(args, timeout)
    return (time.monotonic() - t0) * 1000


def reference_pull(ref, work, rep):
    """What the agent runs for a new image, into a new layout and a new bundle, both removed
    after; returns (skopeo copy ms, umoci unpack ms)."""
    dest, bundle = os.path.join(work, f"ref-layout-{rep}"), os.path.join(work, f"ref-bundle-{rep}")
    s_ms = timed_tool(["skopeo", "copy", "--quiet", "--src-tls-verify=false", ref,
                       f"oci:{dest}:latest"])
    u_ms = timed_tool(["umoci", "unpack", "--image", f"{dest}:latest", bundle])
    shutil.rmtree(dest)
    shutil.rmtree(bundle)
    return s_ms, u_ms


def barge_pull(run, reg, extra, rep):
    """A fresh server (so an empty image cache) whose instance is up runs a job of the image,
    then three more; returns (the first job, the three after, the registry's requests for the
    image during the first job and during the three after)."""
    srv = run.server(f"containers-pull-{rep}", extra)
    srv.start()
    try:
        setup(srv, 2, 1, 16, minv=2, image=PULL_IMAGE, name=PULL_DEF)
        launch_instance(srv)
        before = registry_requests(reg, PULL_IMAGE)
        os.sync()
        first = run_one(srv, PULL_DEF, timeout=900)
        time.sleep(0.5)  # the registry's log settles
        after_first = registry_requests(reg, PULL_IMAGE)
        later = [run_one(srv, PULL_DEF) for _ in range(3)]
        time.sleep(0.5)
        after_later = registry_requests(reg, PULL_IMAGE)
    finally:
        srv.stop()
    return first, later, ([x - y for x, y in zip(after_first, before)],
                          [x - y for x, y in zip(after_later, after_first)])


def pull(run, reg, extra, work):
    a = run.args
    mib = a.containers_image_mib
    log(f"containers: building and pushing a {mib} MiB image")
    _, size = big_image(reg, work, mib)
    ref = f"docker://{reg.url}/{PULL_IMAGE}:latest"
    firsts, seconds, refs, skopeos, umocis, counts = [], [], [], [], [], []
    for rep in range(a.containers_pull_reps):
        # The two sides take turns at going first, and each starts with nothing left to write
        # back: 200 MiB of layout and bundle written just before slow down whatever follows.
        if rep % 2:
            first, later, count = barge_pull(run, reg, extra, rep)
        os.sync()
        s_ms, u_ms = reference_pull(ref, work, rep)
        if rep % 2 == 0:
            first, later, count = barge_pull(run, reg, extra, rep)
        skopeos.append(s_ms)
        umocis.append(u_ms)
        refs.append(s_ms + u_ms)
        counts.append(count)
        firsts.append(to_running(first))
        seconds.append(to_running(later[0]))
        log(f"containers: pull {rep + 1}: first job to RUNNING {firsts[-1]:.0f} ms, second "
            f"{seconds[-1]:.0f} ms; skopeo copy {s_ms:.0f} ms + umoci unpack {u_ms:.0f} ms")
    first, second, reference = (statistics.median(firsts), statistics.median(seconds),
                                statistics.median(refs))
    cost = first - second
    n = len(firsts)
    run.row(f"6. Containers: first pull of a {size / 2**20:,.0f} MiB image (busybox + {mib} MiB "
            f"random), submit to RUNNING of the first job less the second's (median of {n})",
            f"{fmt_ms(cost)} (first job {fmt_ms(first)}, second {fmt_ms(second)})",
            f"skopeo copy into a new OCI layout + umoci unpack: {fmt_ms(reference)}",
            ratio(cost, reference),
            target("≤ 1.5× (umoci on both sides)", cost <= 1.5 * reference))
    first_req, later_req = counts[-1]
    fetched = max(c[1][0] + c[1][1] for c in counts)
    asked = max(c[1][2] for c in counts)
    others = max(c[1][3] - c[1][2] for c in counts)
    run.row("6. Containers: registry requests for the 3 jobs after the first pull (access log)",
            f"{later_req[0]} manifest GET, {later_req[1]} blob, {later_req[2]} manifest HEAD; "
            f"{later_req[3]} requests in all",
            f"the first pull: {first_req[0]} manifest GET, {first_req[1]} blob, "
            f"{first_req[2]} manifest HEAD; {first_req[3]} requests in all", "—",
            target("no GET; at most a HEAD a job (is the tag where it was?)",
                   fetched == 0 and others == 0 and asked <= 3))
    run.note(f"6. Containers, pull: the image is busybox plus a layer of {mib} MiB from "
             f"os.urandom ({size / 2**20:,.1f} MiB compressed), pushed to the local registry "
             f"and named {PULL_IMAGE}:latest, which the agents pull through --registry-mirror. "
             "Each repetition, the two sides taking turns at going first and each after a sync: "
             "the reference (skopeo copy from the registry into a new OCI "
             "layout, then umoci unpack into a new bundle, both removed after), and a fresh "
             "server (an empty image cache) whose instance (minvCpus = maxvCpus = 2, launched for "
             "the minimum) had first taken a job whose image could not be pulled (a registry "
             "that refuses connections), so that the image cache is empty and the instance warm "
             "when the first job is submitted; then three more jobs of the image. "
             "The agent runs the same two tools (into its one layout; the job is RUNNING once "
             "runc has made the container), so umoci is on both sides. First job to RUNNING: "
             + ", ".join(f"{x:,.0f}" for x in firsts) + " ms; second: "
             + ", ".join(f"{x:,.0f}" for x in seconds) + " ms; skopeo copy: "
             + ", ".join(f"{x:,.0f}" for x in skopeos) + " ms; umoci unpack: "
             + ", ".join(f"{x:,.0f}" for x in umocis) + f" ms. The first job alone is "
             f"{ratio(first, reference)} the reference. Registry requests for the image "
             "(first pull / the three jobs after) in each repetition: "
             + "; ".join(f"{c[0][3]} / {c[1][3]}" for c in counts) + ".")
