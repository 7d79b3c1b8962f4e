#!/usr/bin/env python3
"""The console's pages with a million jobs stored: each page timed in headless Chromium from
navigation to its data drawn, and each page's API calls timed alone, so that the figures say
where the time goes (the server's answer or the browser's drawing).

Starts `barge server --dev` (bench/run.py's Server) with the queue "hold" whose environment runs
nothing, fills it with --jobs individual SubmitJobs (bench/httpload, 64 connections: the fast
path of figure 5), plus a few named jobs at both ends, then times each page --repeat times and
prints the medians.  The browser is Debian's chromium driven by Playwright (playwright-core from
tests/e2e/js, installed into build/js).  Screenshots go to --shots when given.

    bench/console_pages.py [--barge build/barge] [--jobs 1000000] [--repeat 5] [--shots DIR]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--barge", default=os.environ.get("BARGE", os.path.join(ROOT, "build", "barge")))
    ap.add_argument("--jobs", type=int, default=1000000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--shots", default=None)
    ap.add_argument("--chromium", default=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
    a = ap.parse_args()
    os.environ["BARGE"] = os.path.abspath(a.barge)
    sys.path.insert(0, HERE)
    import run as benchrun  # noqa: E402  (reads BARGE when imported)
    from benchlib import log  # noqa: E402

    jsdir = os.path.join(os.path.dirname(os.path.abspath(a.barge)), "js")
    subprocess.run([os.path.join(ROOT, "tests", "e2e", "js", "install.sh"), jsdir], check=True)
    if not os.path.exists(a.chromium):
        sys.exit(f"console_pages: {a.chromium} is missing (scripts/deps.sh installs chromium)")
    benchrun.build_tools()
    work = tempfile.mkdtemp(prefix="barge-console-bench-")
    srv = benchrun.Server(work, "console")
    try:
        srv.start()
        benchrun.setup_hold(srv)

        def named(name):
            return srv.call("submitjob", {"jobName": name, "jobQueue": "hold",
                                          "jobDefinition": benchrun.JOBDEF})["jobId"]
        named("needle-oldest")
        t0 = time.monotonic()
        left = a.jobs
        while left > 0:  # in rounds, so that a long fill says how far it got
            n = min(left, 100000)
            benchrun.httpload(srv.url + "/v1/submitjob", n, conns=64, method="POST",
                              body=benchrun.submit_body("hold"))
            left -= n
            log(f"console_pages: {a.jobs - left:,} jobs submitted")
        fill_s = time.monotonic() - t0
        newest = named("needle-newest")
        counts = srv.call("describejobqueues", {"jobQueues": ["hold"]})["jobQueues"][0]["barge"]
        stored = sum(counts["jobsByStatus"].values())
        log(f"console_pages: {stored:,} jobs stored in {fill_s:.0f} s; RSS {srv.rss() / 2**20:.0f} MiB")

        def api_ms(op, body, path="/v1/"):
            """The median time of one API call, unsigned, from this process."""
            times = []
            for _ in range(a.repeat):
                req = urllib.request.Request(srv.url + path + op, json.dumps(body).encode(),
                                             {"Content-Type": "application/json"}, method="POST")
                t = time.monotonic()
                with urllib.request.urlopen(req, timeout=120) as r:
                    r.read()
                times.append((time.monotonic() - t) * 1000)
            return statistics.median(times)

        page1 = srv.call("listjobs", {"jobQueue": "hold", "jobStatus": "RUNNABLE", "maxResults": 50})
        token = page1.get("nextToken", "")
        pages = [
            ("queues", "#/queues", [("describejobqueues", {})]),
            ("environments", "#/environments",
             [("describecomputeenvironments", {}), ("listinstances", {}, "/barge/v1/")]),
            ("jobs RUNNABLE, first page", "#/jobs?queue=hold&status=RUNNABLE",
             [("listjobs", {"jobQueue": "hold", "jobStatus": "RUNNABLE", "maxResults": 50})]),
            ("jobs RUNNABLE, second page", f"#/jobs?queue=hold&status=RUNNABLE&token={token}",
             [("listjobs", {"jobQueue": "hold", "jobStatus": "RUNNABLE", "maxResults": 50,
                            "nextToken": token})]),
            ("jobs any status (newest first)", "#/jobs?queue=hold",
             [("listjobs", {"jobQueue": "hold", "maxResults": 50,
                            "filters": [{"name": "AFTER_CREATED_AT", "values": ["0"]}]})]),
            ("jobs SUCCEEDED (none: every job looked at)", "#/jobs?queue=hold&status=SUCCEEDED",
             [("listjobs", {"jobQueue": "hold", "jobStatus": "SUCCEEDED", "maxResults": 50})]),
            ("jobs named needle-newest", "#/jobs?queue=hold&name=needle-newest",
             [("listjobs", {"jobQueue": "hold", "maxResults": 50,
                            "filters": [{"name": "JOB_NAME", "values": ["needle-newest"]}]})]),
            ("jobs named needle-oldest (every job looked at)", "#/jobs?queue=hold&name=needle-oldest",
             [("listjobs", {"jobQueue": "hold", "maxResults": 50,
                            "filters": [{"name": "JOB_NAME", "values": ["needle-oldest"]}]})]),
            ("job page", f"#/job/{newest}", [("describejobs", {"jobs": [newest]})]),
            # Every job of the queue summed by the server, a page of them a call (the API
            # column: the first call).
            ("usage by definition (every job summed)", "#/usage?queue=hold",
             [("describejobqueues", {}), ("getusage", {"jobQueue": "hold"}, "/barge/v1/")]),
        ]
        env = dict(os.environ, BARGE_JS_DIR=jsdir, CHROMIUM=a.chromium)
        if a.shots:
            os.makedirs(a.shots, exist_ok=True)
        p = subprocess.run(["node", os.path.join(HERE, "console_pages.mjs"), json.dumps({
            "base": srv.url, "pages": [[n, h] for n, h, _ in pages], "repeat": a.repeat,
            "shots": a.shots})], capture_output=True, text=True, env=env, timeout=3600)
        if p.returncode != 0:
            sys.exit("console_pages.mjs failed: " + p.stderr[-2000:])
        seen = json.loads(p.stdout.strip().splitlines()[-1])
        print(f"\nThe console with {stored:,} jobs stored, median of {a.repeat}: load = a fresh "
              f"load of the page's address until its data is drawn; in-app = the page reached from "
              f"another console page; drawn = the page's own count, from its route to drawn; "
              f"API = its calls alone, unsigned, from Python")
        print(f"{'page':50} {'load':>7} {'in-app':>7} {'drawn':>7} {'API':>8} {'rows':>5}")
        worst = worst_in_app = 0
        failed = []
        for name, _, calls in pages:
            runs = seen[name]
            errors = [r["error"] for r in runs if r["error"]]
            total = statistics.median(r["total"] for r in runs)
            in_app = statistics.median(r["inApp"] for r in runs)
            drawn = statistics.median(r["drawn"] for r in runs)
            api = sum(api_ms(c[0], c[1], *(c[2:] or ["/v1/"])) for c in calls)
            worst, worst_in_app = max(worst, total), max(worst_in_app, in_app)
            if errors:
                failed.append(name)
            print(f"{name:50} {total:5.0f}ms {in_app:5.0f}ms {drawn:5.0f}ms {api:6.1f}ms "
                  f"{runs[-1]['rows']:5d}" + (f"  ERROR {errors[0]}" if errors else ""))
        print(f"slowest page: {worst:.0f} ms loaded, {worst_in_app:.0f} ms in-app "
              f"(target: under 200 ms); load average %.1f %.1f %.1f" % os.getloadavg())
        # A figure never fails the run; a page that showed an error instead of its data does.
        if failed:
            sys.exit("console_pages: pages showed an error: " + ", ".join(failed))
    finally:
        srv.stop()
        if not os.environ.get("BENCH_KEEP"):
            import shutil
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
