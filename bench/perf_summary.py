#!/usr/bin/env python3
"""Summarises a system-wide perf profile of barge by role (bench/profile.sh runs it).

usage: perf script -F comm,pid,tid,ip,sym,dso -i DATA | \
           bench/perf_summary.py --server PID [--agents PID,...] [--period-ns N] [--top N]

Every sample is one period of CPU time on one CPU (perf record -a -e cpu-clock -c PERIOD), so
samples x period is CPU time.  Each sample is put in one role:

  server: core thread    the server's thread on whose stacks core_main shows (the state owner)
  server: HTTP threads   the server's libmicrohttpd threads (MHD-worker)
  server: other threads  the server's other threads (start-up, stop, the log store's writer)
  agents                 the agents the server launched (every thread)
  spawn (before exec)    an agent's child between its clone and its exec (comm still barge)
  jobs                   the jobs: processes named `true`, from their exec to their exit
  client (wrk)           the load generator
  idle                   nothing ran
  other                  anything else on the machine

and for each role the report lists the functions where its time is spent (self), the
functions on whose stacks it is spent (inclusive: a function counts once per sample however
often it appears in the stack), and the same for barge's own functions alone.
"""
import argparse
import collections
import re
import sys

# Frames on nearly every stack, which say nothing about where the time goes.
BORING = {"start_thread", "clone3", "clone", "_start", "__libc_start_main_impl",
          "__libc_start_call_main", "__libc_start_main", "main", "entry_SYSCALL_64_after_hwframe",
          "do_syscall_64", "[unknown]"}
HEADER = re.compile(r"^(\S.*?)\s+(\d+)/(\d+)\s*$")
FRAME = re.compile(r"^\s+([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$")


def label(sym, dso):
    lib = dso.rsplit("/", 1)[-1]
    if sym == "[unknown]" or not sym:
        return f"? [{lib}]"
    return f"{sym} [{lib}]"


def samples(stream):
    comm = pid = tid = None
    frames = []
    for line in stream:
        line = line.rstrip("\n")
        if not line.strip():
            if comm is not None:
                yield comm, pid, tid, frames
            comm, frames = None, []
            continue
        m = HEADER.match(line)
        if m and not line.startswith(("\t", " ")):
            if comm is not None:
                yield comm, pid, tid, frames
            comm, pid, tid, frames = m.group(1), int(m.group(2)), int(m.group(3)), []
            continue
        f = FRAME.match(line)
        if f and comm is not None:
            sym = f.group(2)
            sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
            frames.append((sym, f.group(3)))
    if comm is not None:
        yield comm, pid, tid, frames


def role_of(comm, pid, tid, frames, server, agents, core_tid):
    syms = {s for s, _ in frames}
    if pid == server:
        if comm == "MHD-worker":
            return "server: HTTP threads"
        if tid == core_tid:
            return "server: core thread"
        return "server: other threads"
    if pid in agents:
        return "agents"
    if comm == "true":
        return "jobs"
    # A child an agent has cloned runs as "barge" until its exec: what it does there (closing
    # descriptors, resetting signals, joining its cgroup, exec itself) is the agent's spawn.
    if comm == "barge" and syms & {"__clone", "clone", "__clone3", "__spawni_child", "__spawnix",
                                   "__execve", "__GI_execve", "__GI___execve", "execve"}:
        return "spawn (before exec)"
    if comm == "wrk":
        return "client (wrk)"
    if comm == "swapper":
        return "idle"
    return "other"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", type=int, required=True)
    ap.add_argument("--agents", default="")
    ap.add_argument("--period-ns", type=int, default=2000000)
    ap.add_argument("--top", type=int, default=15)
    a = ap.parse_args()
    agents = {int(x) for x in a.agents.split(",") if x.strip()}
    count = collections.Counter()
    self_ = collections.defaultdict(collections.Counter)
    incl = collections.defaultdict(collections.Counter)
    others = collections.Counter()
    total = 0
    everything = list(samples(sys.stdin))
    # The core thread is the server's thread on whose stacks core_main shows most often: an
    # unwinder that loses the top of a stack still leaves it in most of that thread's samples.
    core = collections.Counter(tid for comm, pid, tid, frames in everything
                               if pid == a.server and any(s == "core_main" for s, _ in frames))
    core_tid = core.most_common(1)[0][0] if core else None
    for comm, pid, tid, frames in everything:
        r = role_of(comm, pid, tid, frames, a.server, agents, core_tid)
        total += 1
        count[r] += 1
        if r == "other":
            others[comm] += 1
        if frames:
            self_[r][label(*frames[0])] += 1
        seen = set()
        for sym, dso in frames:
            if sym in BORING or sym.startswith("0x"):
                continue
            key = label(sym, dso)
            if key not in seen:
                seen.add(key)
                incl[r][key] += 1
    secs = a.period_ns / 1e9
    print(f"{total} samples of {a.period_ns / 1e6:g} ms of CPU time: {total * secs:.1f} CPU "
          "seconds on all CPUs\n")
    print("| role | CPU seconds | share of all samples |")
    print("|---|---|---|")
    for r, n in count.most_common():
        print(f"| {r} | {n * secs:.2f} | {100 * n / total:.1f}% |")
    if others:
        print("\nother, by program: " + ", ".join(
            f"{c} {n * secs:.2f} s" for c, n in others.most_common(8)))
    for r, n in count.most_common():
        if r in ("idle", "other") or n < 20:
            continue
        print(f"\n## {r}: {n * secs:.2f} CPU seconds\n")
        print("self (where the samples landed):\n")
        for k, c in self_[r].most_common(a.top):
            print(f"    {100 * c / n:5.1f}%  {k}")
        print("\ninclusive (on the stack):\n")
        for k, c in incl[r].most_common(a.top + 10):
            print(f"    {100 * c / n:5.1f}%  {k}")
        own = [(k, c) for k, c in incl[r].most_common() if k.endswith("[barge]")]
        if own:
            print("\nbarge's own functions, inclusive:\n")
            for k, c in own[:a.top + 10]:
                print(f"    {100 * c / n:5.1f}%  {k}")


if __name__ == "__main__":
    main()
