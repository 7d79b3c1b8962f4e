#!/usr/bin/env python3
"""Runs barge's end-to-end tests: every tests/e2e/test_*.py, or the modules named on the
command line (for example `run.py test_compute_environments`).

`run.py -j N [NAME...]` runs the modules (or the names given) in N processes at once, each
module in a process of its own, the largest files first; each module's report is printed when
it ends.  Most of the suite waits (deadlines, restarts, retention): on a two-CPU machine two
workers ran it in 700 s against 1,300 s in one process.  The tests make their own servers,
ports, directories and namespaces, so modules do not meet."""
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)


def parallel(names, jobs):
    if not names:
        files = [f for f in os.listdir(here) if f.startswith("test_") and f.endswith(".py")]
        # The largest first: a long module started last would run alone at the end.
        files.sort(key=lambda f: os.path.getsize(os.path.join(here, f)), reverse=True)
        names = [f[:-3] for f in files]
    todo = list(names)
    lock = threading.Lock()
    failed = []
    t0 = time.monotonic()

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                name = todo.pop(0)
            start = time.monotonic()
            with tempfile.TemporaryFile(mode="w+") as out:
                rc = subprocess.call([sys.executable, os.path.abspath(__file__), name],
                                     stdout=out, stderr=subprocess.STDOUT)
                out.seek(0)
                text = out.read()
            with lock:
                took = time.monotonic() - start
                # Each module's report whole, as unittest wrote it, after a line naming it.
                print(f"== {name}: {'ok' if rc == 0 else 'FAILED'} ({took:.0f} s)", flush=True)
                print(text.rstrip("\n"), flush=True)
                if rc != 0:
                    failed.append(name)

    threads = [threading.Thread(target=worker) for _ in range(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"{len(names)} module{'' if len(names) == 1 else 's'} in "
          f"{time.monotonic() - t0:.0f} s with {jobs} worker{'' if jobs == 1 else 's'}; "
          + (f"failed: {', '.join(failed)}" if failed else "all passed"), flush=True)
    return 1 if failed else 0


args = sys.argv[1:]
if args[:1] == ["-j"] and len(args) > 1 and args[1].isdigit() and int(args[1]) > 0:
    sys.exit(parallel(args[2:], int(args[1])))
if args[:1] == ["-j"]:
    sys.exit("run.py: -j needs a number of workers, 1 or more (run.py -j 2 [NAME...])")
names = args
loader = unittest.TestLoader()
if names:
    suite = unittest.TestSuite(loader.loadTestsFromName(n) for n in names)
else:
    suite = loader.discover(here, pattern="test_*.py", top_level_dir=here)


class TimedResult(unittest.TextTestResult):
    """E2E_TIMES=1: each test's time, and the time spent between tests (class set-ups and
    tear-downs), printed slowest first when the run ends: where a module's minutes go."""
    times = []
    mark = None

    def startTestRun(self):
        self.mark = time.monotonic()  # (the first class's set-up counts too)
        super().startTestRun()

    def startTest(self, test):
        now = time.monotonic()
        if now - self.mark > 0.5:
            self.times.append((now - self.mark, "(between, before %s)" % test.id()))
        self.mark = now
        super().startTest(test)

    def stopTest(self, test):
        now = time.monotonic()
        self.times.append((now - self.mark, test.id()))
        self.mark = now
        super().stopTest(test)


runner = unittest.TextTestRunner(verbosity=2 if os.environ.get("VERBOSE") else 1)
if os.environ.get("E2E_TIMES"):
    runner.resultclass = TimedResult
result = runner.run(suite)
if os.environ.get("E2E_TIMES"):
    for took, name in sorted(TimedResult.times, reverse=True):
        print("%7.1f s  %s" % (took, name))
sys.exit(0 if result.wasSuccessful() else 1)
