#!/usr/bin/env python3
"""What the container tools cost on this machine, before barge's container executor uses them.

Starts a local registry (Debian's docker-registry) on a free loopback port, builds the busybox
test image without the internet and pushes it there (tests/e2e/registry.py), then prints the
median wall time (with the fastest and slowest) and the median CPU time of N runs of:

  - skopeo copy from the registry into a fresh OCI layout (a pull with nothing cached);
  - skopeo copy into a layout that already holds the image's blobs (a pull of a known image);
  - umoci unpack of that layout into a fresh runtime bundle;
  - runc run of the bundle running `true`, with a new container id each time;
  - podman run --rm of the same image running `true`, when podman is installed (bench/deps.sh);

and the throughput of runc run with K containers in flight (containers per second over M
runs).  The references are the same process start without a container: Python's
subprocess.run of /bin/true, one at a time and K in flight.  umoci unpack and runc need root;
without it those figures are left out and the output says so.

    bench/container_tools.py [--runs 20] [--inflight 8] [--total 200] [--keep]

Standard library only.  Everything it starts (the registry, containers, podman's image store)
is stopped or removed at the end, also when a step fails.
"""
import argparse
import concurrent.futures
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import registry  # noqa: E402  (found through the path set just above)

IMAGE = "busybox"
TAG = "latest"


def cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(args):
    """Runs a command and returns its wall time and the CPU time (user and system) it and the
    descendants it waited for used, in seconds; a failure stops the benchmark with the tool's
    own message.  The CPU time is only meaningful when nothing else runs from this process at
    the same time."""
    c0, t0 = cpu_children(), time.monotonic()
    out = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    elapsed, cpu = time.monotonic() - t0, cpu_children() - c0
    if out.returncode != 0:
        raise RuntimeError("%s exited with %d:\n%s" % (" ".join(args), out.returncode, out.stderr))
    return elapsed, cpu


def line(label, samples):
    """One figure: the median wall time, the fastest and slowest, and the median CPU time."""
    ms = [wall * 1000 for wall, _ in samples]
    cpu = statistics.median(c * 1000 for _, c in samples)
    print("  %-46s %7.1f ms  (%5.1f .. %5.1f)  cpu %6.1f ms"
          % (label, statistics.median(ms), min(ms), max(ms), cpu), flush=True)


def make_runnable(bundle):
    """Rewrites the config.json umoci generated so that the container runs `true` without a
    terminal.  The cgroup settings are left as umoci wrote them (no linux.cgroupsPath): runc's
    cgroupfs manager then makes the container's cgroup `<id>` under runc's own cgroup in each
    hierarchy and removes it at the end.  On this kind of host (cgroup v1 controllers with a v2
    hierarchy beside them, no systemd) that is what works: --systemd-cgroup fails because
    systemd is not running, and an absolute cgroupsPath would escape the memory cgroup that
    holds the machine's processes and leave its parent directories behind."""
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        config = json.load(f)
    config["process"]["args"] = ["true"]
    config["process"]["terminal"] = False
    with open(path, "w") as f:
        json.dump(config, f)


class Runc:
    """Container ids unique to this run, so that whatever is left can be found and deleted."""

    def __init__(self):
        self.prefix = "barge-bench-%d-" % os.getpid()
        self.n = 0

    def next_id(self):
        self.n += 1
        return "%s%d" % (self.prefix, self.n)

    def run(self, bundle):
        cid = self.next_id()
        sample = timed(["runc", "run", "--bundle", bundle, cid])
        # A foreground `runc run` removes the container when its process exits, so this delete
        # finds nothing; it is there for a run that was interrupted half-way.
        subprocess.run(["runc", "delete", "--force", cid], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return sample

    def cleanup(self):
        out = subprocess.run(["runc", "list", "--quiet"], capture_output=True, text=True)
        for cid in out.stdout.split():
            if cid.startswith(self.prefix):
                subprocess.run(["runc", "delete", "--force", cid], capture_output=True)


def throughput(fn, inflight, total):
    """Runs fn() `total` times with `inflight` at a time; returns runs per second."""
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=inflight) as pool:
        for f in [pool.submit(fn) for _ in range(total)]:
            f.result()
    return total / (time.monotonic() - t0)


def podman_figures(work, reg, runs):
    """podman run --rm of the image, pulled once from the local registry.  Podman keeps its
    images and containers under a root of its own inside the work directory, so the machine's
    image store is not touched."""
    root = os.path.join(work, "podman-root")
    # Podman refuses a run root longer than 50 characters, which a path under $TMPDIR can be.
    runroot = tempfile.mkdtemp(prefix="bpod-", dir="/tmp")
    podman = ["podman", "--root", root, "--runroot", runroot]
    ref = "%s/%s:%s" % (reg.url, IMAGE, TAG)
    try:
        timed(podman + ["pull", "--quiet", "--tls-verify=false", ref])
        # --network none matches the runc bundle (a network namespace with no interfaces).
        # The open-files and processes limits are set to the runc bundle's because podman
        # otherwise sets them to 1048576 and 32768 (also with --ulimit host, in podman 4.3),
        # and raising a hard limit needs CAP_SYS_RESOURCE: root without that capability (as in
        # some virtual machines) gets "error setting rlimit type 7" from runc.
        run = podman + ["run", "--rm", "--network", "none", "--ulimit", "nofile=1024:1024",
                        "--ulimit", "nproc=1024:1024", ref, "true"]
        timed(run)  # The first run sets up podman's state and is not counted.
        # podman's CPU time leaves out conmon, which detaches from it.
        line("podman run --rm (runtime %s)" % podman_runtime(podman),
             [timed(run) for _ in range(runs)])
    finally:
        subprocess.run(podman + ["rm", "--all", "--force"], capture_output=True)
        subprocess.run(podman + ["rmi", "--all", "--force"], capture_output=True)
        shutil.rmtree(runroot, ignore_errors=True)


def podman_runtime(podman):
    out = subprocess.run(podman + ["info", "--format", "{{.Host.OCIRuntime.Name}}"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=20, help="runs per median (default 20)")
    ap.add_argument("--inflight", type=int, default=8, help="runc runs at a time (default 8)")
    ap.add_argument("--total", type=int, default=200, help="runc runs for the rate (default 200)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory and say where")
    args = ap.parse_args()
    root = os.geteuid() == 0

    work = tempfile.mkdtemp(prefix="barge-bench-containers-")
    runc = Runc()
    reg = registry.LocalRegistry()
    try:
        reg.start()
        src = registry.build_busybox_layout(os.path.join(work, "src"), tag=TAG)
        digest = registry.push_layout(src, reg, IMAGE, TAG)
        remote = "docker://%s/%s:%s" % (reg.url, IMAGE, TAG)
        pull = ["skopeo", "copy", "--quiet", "--src-tls-verify=false", remote]
        print("container tools: %s (%s), median of %d runs (fastest .. slowest)"
              % (remote, digest, args.runs), flush=True)

        def fresh_pull(i):
            dest = os.path.join(work, "pull-%d" % i)
            sample = timed(pull + ["oci:%s:%s" % (dest, TAG)])
            shutil.rmtree(dest)
            return sample
        line("skopeo copy registry -> new OCI layout", [fresh_pull(i) for i in range(args.runs)])

        layout = os.path.join(work, "layout")
        timed(pull + ["oci:%s:%s" % (layout, TAG)])
        line("skopeo copy registry -> layout with the blobs",
             [timed(pull + ["oci:%s:%s" % (layout, TAG)]) for _ in range(args.runs)])

        if not root:
            print("  (not root: umoci unpack and runc left out)")
        else:
            def unpack(i):
                bundle = os.path.join(work, "unpack-%d" % i)
                sample = timed(["umoci", "unpack", "--image", "%s:%s" % (layout, TAG), bundle])
                shutil.rmtree(bundle)
                return sample
            line("umoci unpack -> new bundle", [unpack(i) for i in range(args.runs)])

            bundle = os.path.join(work, "bundle")
            timed(["umoci", "unpack", "--image", "%s:%s" % (layout, TAG), bundle])
            make_runnable(bundle)
            runc.run(bundle)  # The first run warms the page cache and is not counted.
            line("runc run true", [runc.run(bundle) for _ in range(args.runs)])

        if shutil.which("podman"):
            podman_figures(work, reg, args.runs)
        else:
            print("  (podman is not installed: bench/deps.sh installs it)")

        line("reference: subprocess.run /bin/true",
             [timed(["/bin/true"]) for _ in range(args.runs)])

        print("throughput, %d in flight, %d runs:" % (args.inflight, args.total), flush=True)
        if root:
            # Every container runs from the same bundle: runc mounts /proc and the rest inside
            # each container's own mount namespace, so the runs do not see each other's mounts.
            rate = throughput(lambda: runc.run(bundle), args.inflight, args.total)
            print("  %-46s %7.1f /s" % ("runc run true", rate))
        rate = throughput(lambda: timed(["/bin/true"]), args.inflight, args.total)
        print("  %-46s %7.1f /s" % ("reference: subprocess.run /bin/true", rate))
    finally:
        if root:
            runc.cleanup()
        reg.stop()
        if args.keep:
            print("kept", work)
        else:
            unmount_under(work)
            shutil.rmtree(work, ignore_errors=True)


def unmount_under(directory):
    """Podman's overlay driver mounts its storage directory on itself and can leave it mounted
    when a step fails; the work directory cannot be removed until it is unmounted."""
    with open("/proc/self/mounts") as f:
        points = [fields.split()[1] for fields in f]
    for point in sorted(points, key=len, reverse=True):
        if point.startswith(directory.rstrip("/") + "/"):
            subprocess.run(["umount", point], capture_output=True)


if __name__ == "__main__":
    main()
