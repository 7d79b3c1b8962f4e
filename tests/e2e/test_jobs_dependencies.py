"""Dependencies as jobs really run them: plain, on a whole array, N_TO_N between arrays,
SEQUENTIAL children, and the failure of a dependency failing its dependents in turn.  Jobs
append "start NAME TIME" and "end NAME TIME" lines to files, so the order of execution is
checked, not only the order of the statuses."""
import os

from test_jobs_common import JobsCase

# Appends the start and end of the job (with its array index, if any) to $OUT/$LOG.
TRACE = ('n="$NAME${AWS_BATCH_JOB_ARRAY_INDEX:+:$AWS_BATCH_JOB_ARRAY_INDEX}"; '
         'echo "start $n $(date +%%s%%N)" >> "$OUT/$LOG"; sleep %s; '
         'echo "end $n $(date +%%s%%N)" >> "$OUT/$LOG"')


class Dependencies(JobsCase):
    max_vcpus = 4

    def run_traced(self, name, log, sleep="0.2", extra="", **kw):
        """Submits a job that traces itself into log; returns its id."""
        return self.submit(name, command=(TRACE % sleep) + extra,
                           env={"NAME": name, "LOG": log}, **kw)

    def trace(self, log):
        """{(event, name): time in ns} and the events in file order."""
        lines = self.read_lines(os.path.join(self.out_dir, log))
        events = [tuple(line.split()) for line in lines]
        return {(e, n): int(t) for e, n, t in events}, [(e, n) for e, n, _ in events]

    def test_plain_dependency_runs_after(self):
        log = "plain.log"
        self.out(log)
        # a runs until the test has looked at the others.
        a = self.run_traced("a", log, sleep="0; " + self.gate("plain").rstrip("; "))
        b = self.run_traced("b", log, dependsOn=[{"jobId": a}])
        c = self.run_traced("c", log, dependsOn=[{"jobId": a}, {"jobId": b}])
        self.wait_job(a, "RUNNING", timeout=20)
        self.assertEqual(self.status(b), "PENDING")
        self.assertEqual(self.status(c), "PENDING")
        self.open_gate("plain")
        ds = self.wait_jobs([a, b, c])
        self.assertEqual({d["status"] for d in ds.values()}, {"SUCCEEDED"})
        t, _ = self.trace(log)
        self.assertLess(t[("end", "a")], t[("start", "b")])
        self.assertLess(t[("end", "b")], t[("start", "c")])
        self.assertLessEqual(ds[a]["stoppedAt"], ds[b]["startedAt"])
        self.assertEqual(ds[b]["dependsOn"], [{"jobId": a}])

    def test_dependency_on_a_whole_array(self):
        log = "whole.log"
        self.out(log)
        arr = self.submit("arr", arrayProperties={"size": 3},
                          command=('sleep 0.$((AWS_BATCH_JOB_ARRAY_INDEX * 3)); ' + TRACE % "0.1"),
                          env={"NAME": "arr", "LOG": log})
        after = self.run_traced("after", log, dependsOn=[{"jobId": arr}])
        # An array may depend on a whole array too: each of its children waits for all of it.
        arr2 = self.submit("arr2", arrayProperties={"size": 2}, command=TRACE % "0.05",
                           env={"NAME": "arr2", "LOG": log}, dependsOn=[{"jobId": arr}])
        ds = self.wait_jobs([arr, after, arr2])
        self.assertEqual({d["status"] for d in ds.values()}, {"SUCCEEDED"})
        t, _ = self.trace(log)
        last_child = max(t[("end", "arr:%d" % i)] for i in range(3))
        self.assertLess(last_child, t[("start", "after")])
        self.assertLess(last_child, t[("start", "arr2:0")])
        self.assertLess(last_child, t[("start", "arr2:1")])

    def test_dependency_on_one_child(self):
        log = "onechild.log"
        self.out(log)
        arr = self.submit("arr", arrayProperties={"size": 3},
                          command='[ "$AWS_BATCH_JOB_ARRAY_INDEX" = 2 ] && sleep 1.5; '
                                  + TRACE % "0.05",
                          env={"NAME": "arr", "LOG": log})
        after = self.run_traced("after", log, sleep="0.05", dependsOn=[{"jobId": arr + ":1"}])
        ds = self.wait_jobs([arr, after], timeout=30)
        self.assertEqual({d["status"] for d in ds.values()}, {"SUCCEEDED"})
        t, _ = self.trace(log)
        self.assertLess(t[("end", "arr:1")], t[("start", "after")])
        self.assertLess(t[("start", "after")], t[("end", "arr:2")], "it waited for the whole array")

    def test_n_to_n(self):
        log = "nton.log"
        self.out(log)
        # Child 0 of the first array is slow: its partner waits for it, the others do not.
        first = self.submit("x", arrayProperties={"size": 3},
                            command='[ "$AWS_BATCH_JOB_ARRAY_INDEX" = 0 ] && sleep 2; '
                                    + TRACE % "0.05",
                            env={"NAME": "x", "LOG": log})
        second = self.submit("y", arrayProperties={"size": 3}, command=TRACE % "0.05",
                             env={"NAME": "y", "LOG": log},
                             dependsOn=[{"jobId": first, "type": "N_TO_N"}])
        ds = self.wait_jobs([first, second], timeout=40)
        self.assertEqual({d["status"] for d in ds.values()}, {"SUCCEEDED"})
        t, _ = self.trace(log)
        for i in range(3):
            self.assertLess(t[("end", "x:%d" % i)], t[("start", "y:%d" % i)], i)
        # y:1 and y:2 did not wait for x:0.
        self.assertLess(t[("start", "y:1")], t[("end", "x:0")])
        self.assertLess(t[("start", "y:2")], t[("end", "x:0")])
        self.assertEqual(self.job(second)["dependsOn"], [{"jobId": first, "type": "N_TO_N"}])

    def test_n_to_n_with_a_plain_job_waits_for_the_whole_job(self):
        """Scripts written for AWS give N_TO_N to plain jobs: with a plain job on either side
        it is a dependency on the whole job."""
        log = "nton_plain.log"
        self.out(log)
        a = self.run_traced("a", log, sleep="0.5")
        b = self.run_traced("b", log, sleep="0.05", dependsOn=[{"jobId": a, "type": "N_TO_N"}])
        arr = self.submit("arr", arrayProperties={"size": 2}, command=TRACE % "0.05",
                          env={"NAME": "arr", "LOG": log},
                          dependsOn=[{"jobId": b, "type": "N_TO_N"}])
        c = self.run_traced("c", log, sleep="0.05", dependsOn=[{"jobId": arr, "type": "N_TO_N"}])
        ds = self.wait_jobs([a, b, arr, c], timeout=40)
        self.assertEqual({d["status"] for d in ds.values()}, {"SUCCEEDED"})
        t, _ = self.trace(log)
        self.assertLess(t[("end", "a")], t[("start", "b")])
        for i in range(2):
            self.assertLess(t[("end", "b")], t[("start", "arr:%d" % i)])
            self.assertLess(t[("end", "arr:%d" % i)], t[("start", "c")])
        self.assertEqual(ds[b]["dependsOn"], [{"jobId": a, "type": "N_TO_N"}])

    def test_sequential(self):
        log = "seq.log"
        self.out(log)
        jid = self.submit("seq", arrayProperties={"size": 4}, command=TRACE % "0.15",
                          env={"NAME": "s", "LOG": log}, dependsOn=[{"type": "SEQUENTIAL"}])
        d = self.wait_job(jid, timeout=40)
        self.assertEqual(d["status"], "SUCCEEDED")
        t, order = self.trace(log)
        expected = []
        for i in range(4):
            expected += [("start", "s:%d" % i), ("end", "s:%d" % i)]
        self.assertEqual(order, expected)
        times = [t[e] for e in expected]
        self.assertEqual(times, sorted(times))

    def test_dependents_read_the_same_after_a_restart(self):
        """barge.dependents lists the jobs that waited for a job, after it has ended too; a
        restart makes the lists again from the jobs' dependsOn: the same jobs, in the same
        order, and not a job submitted after its dependency had ended."""
        first, later = self.gate("deps-first"), self.gate("deps-later")
        a = self.submit("a", command=first)
        f = self.submit("f", command=first + "exit 1")
        e = self.submit("e", command=later)
        b = self.submit("b", command="true", dependsOn=[{"jobId": a}])
        g = self.submit("g", command="true", dependsOn=[{"jobId": f}])
        d = self.submit("d", command="true", dependsOn=[{"jobId": a}, {"jobId": e}])
        seq = self.submit("seq", command="true", arrayProperties={"size": 2},
                          dependsOn=[{"type": "SEQUENTIAL"}])
        self.open_gate("deps-first")
        ds = self.wait_jobs([a, b, f, g, seq])
        self.assertEqual([ds[j]["status"] for j in (a, b, f, g, seq)],
                         ["SUCCEEDED", "SUCCEEDED", "FAILED", "FAILED", "SUCCEEDED"])
        c = self.submit("c", command="true", dependsOn=[{"jobId": a}])  # a has ended
        self.wait_job(c, timeout=20)
        self.assertEqual(self.status(d), "PENDING")  # e still runs

        def dependents():
            return {j: (self.raw_job(j).get("barge") or {}).get("dependents")
                    for j in (a, f, e, seq + ":0")}
        before = dependents()
        self.assertEqual(before, {a: [b, d], f: [g], e: [d], seq + ":0": [seq + ":1"]})
        self.server.restart()
        self.assertEqual(dependents(), before)
        # d still waits for e, and runs once it ends.
        self.assertEqual(self.status(d), "PENDING")
        self.open_gate("deps-later")
        self.assertEqual(self.wait_job(d, timeout=30)["status"], "SUCCEEDED")

    def test_failed_dependency_fails_its_dependents(self):
        a = self.submit("bad", command="exit 1")
        b = self.submit("b", command="true", dependsOn=[{"jobId": a}])
        c = self.submit("c", command="true", dependsOn=[{"jobId": b}])
        arr = self.submit("arr", command="true", arrayProperties={"size": 2},
                          dependsOn=[{"jobId": b}])
        ds = self.wait_jobs([a, b, c, arr])
        self.assertEqual(ds[a]["status"], "FAILED")
        for j in (b, c, arr):
            self.assertEqual(ds[j]["status"], "FAILED", j)
            self.assertEqual(ds[j]["attempts"], [])
        for j in (b, c):
            self.assertEqual(ds[j]["statusReason"], "Dependent Job failed")
            self.assertNotIn("startedAt", ds[j])
        for i in range(2):
            child = self.job("%s:%d" % (arr, i))
            self.assertEqual(child["status"], "FAILED")
            self.assertEqual(child["statusReason"], "Dependent Job failed")
        # A job submitted after its dependency failed fails at once.
        late = self.submit("late", command="true", dependsOn=[{"jobId": a}])
        d = self.wait_job(late, timeout=5)
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(d["statusReason"], "Dependent Job failed")

    def test_failed_child_fails_its_partner_and_successors(self):
        fail_one = '[ "$AWS_BATCH_JOB_ARRAY_INDEX" != 1 ]'
        first = self.submit("x", arrayProperties={"size": 3}, command=fail_one)
        second = self.submit("y", arrayProperties={"size": 3}, command="true",
                             dependsOn=[{"jobId": first, "type": "N_TO_N"}])
        seq = self.submit("s", arrayProperties={"size": 4}, command=fail_one,
                          dependsOn=[{"type": "SEQUENTIAL"}])
        ds = self.wait_jobs([first, second, seq], timeout=40)
        self.assertEqual({d["status"] for d in ds.values()}, {"FAILED"})
        ys = [self.job("%s:%d" % (second, i)) for i in range(3)]
        self.assertEqual([y["status"] for y in ys], ["SUCCEEDED", "FAILED", "SUCCEEDED"])
        self.assertEqual(ys[1]["statusReason"], "Dependent Job failed")
        self.assertEqual(ys[1]["attempts"], [])
        ss = [self.job("%s:%d" % (seq, i)) for i in range(4)]
        self.assertEqual([s["status"] for s in ss], ["SUCCEEDED", "FAILED", "FAILED", "FAILED"])
        self.assertEqual(ss[1]["statusReason"], "Essential container in task exited")
        for s in ss[2:]:
            self.assertEqual(s["statusReason"], "Dependent Job failed")
            self.assertEqual(s["attempts"], [])
        summary = ds[seq]["arrayProperties"]["statusSummary"]
        self.assertEqual((summary["SUCCEEDED"], summary["FAILED"]), (1, 3))

    def test_array_whose_dependency_failed_says_so(self):
        # The array is the job that depends on the failed one: its own reason is the
        # dependency's failure, as its children's are.
        a = self.submit("bad-for-array", command="exit 1")
        arr = self.submit("arr-after-bad", command="true", arrayProperties={"size": 2},
                          dependsOn=[{"jobId": a}])
        d = self.wait_job(arr)
        self.assertEqual((d["status"], d["statusReason"]), ("FAILED", "Dependent Job failed"))
        # None of its children ran, so neither did it.
        self.assertNotIn("startedAt", d)
