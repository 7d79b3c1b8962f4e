"""What the benchmark modules share: their error, their log line, percentiles, the table's
number formats, where a process's and the machine's CPU time went, and the benchmark's own C
tools.  Standard library only."""
import argparse
import math
import os
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.environ.get("BENCH_TOOLS",
                       os.path.join(os.path.dirname(BENCH), "build", "bench-tools"))


class BenchError(Exception):
    pass


def build_tools(only=None):
    """Compiles the benchmark's own C tools (or those named in only) into TOOLS, when their
    source is newer."""
    os.makedirs(TOOLS, exist_ok=True)
    cc = os.environ.get("CC", "cc")
    for name, libs in (("httpload", ["-lpthread"]), ("spawn_ceiling", []),
                       ("evsink", ["-lpthread"]), ("agentsim", ["-ljansson"])):
        if only and name not in only:
            continue
        src = os.path.join(BENCH, name + ".c")
        out = os.path.join(TOOLS, name)
        if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
            continue
        # Built aside and renamed, so that two benchmarks starting together never run half a file.
        tmp = f"{out}.{os.getpid()}"
        subprocess.run([cc, "-std=gnu11", "-O2", "-g", "-Wall", "-Wextra", "-Werror",
                        "-D_GNU_SOURCE", "-o", tmp, src, *libs], check=True)
        os.replace(tmp, out)


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def wall_ms():
    return time.time() * 1000.0


def wait_done(describe, job_id, timeout):
    """Polls describe(job_id) every quarter second until the job has ended; returns its last
    description, or raises BenchError (with an array's status summary) after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        time.sleep(0.25)
        d = describe(job_id)
        if d["status"] in ("SUCCEEDED", "FAILED"):
            return d
        if time.monotonic() > deadline:
            raise BenchError(f"not finished after {timeout} s: "
                             f"{d.get('arrayProperties', {}).get('statusSummary')}")


def pct(values, p):
    """The p-th percentile (0-100) by linear interpolation; None for no values."""
    v = sorted(values)
    if not v:
        return None
    k = (len(v) - 1) * p / 100.0
    f = math.floor(k)
    c = min(f + 1, len(v) - 1)
    return v[f] + (v[c] - v[f]) * (k - f)


def fmt_ms(x):
    if x is None:
        return "n/a"
    return f"{x:.2f} ms" if x < 100 else f"{x:,.0f} ms"


def fmt_rate(x):
    return "n/a" if x is None else f"{x:,.0f}/s"


def fmt_mib(b):
    return f"{b / 2**20:,.0f} MiB" if b < 2**30 else f"{b / 2**30:.2f} GiB"


def ratio(a, b, unit="×"):
    if a is None or not b:
        return "n/a"
    return f"{a / b:.2f}{unit}"


def target(text, met):
    if met is None:
        return text
    return f"{text}: {'met' if met else 'missed'}"


def proc_cpu(pid):
    """(own CPU seconds, CPU seconds of its reaped children) of a process, or (0, 0)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
    except OSError:
        return 0.0, 0.0
    v = st[st.rindex(")") + 2:].split()
    tck = os.sysconf("SC_CLK_TCK")
    return (int(v[11]) + int(v[12])) / tck, (int(v[13]) + int(v[14])) / tck


def machine_busy():
    """(busy, total) jiffies of every CPU since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def parse_setting(s):
    """A compute environment to try, MAXVCPUS:VCPUS:MEMORY_MIB, as (int, str, int)."""
    parts = s.split(":")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"'{s}' is not MAXVCPUS:VCPUS:MEMORY_MIB")
    return int(parts[0]), parts[1], int(parts[2])
