"""Retry strategies: 1 to 10 attempts, evaluateOnExit conditions on the exit code, the container
reason and the status reason (a trailing * matches any rest; the first matching condition
decides; none matching means retry), and every attempt kept in attempts[]."""
from test_jobs_common import JobsCase

# Each attempt appends its number to $OUT/$LOG, then exits with $CODE.
ATTEMPT = 'echo "$AWS_BATCH_JOB_ATTEMPT" >> "$OUT/$LOG"; exit $CODE'


def rule(action, **on):
    return dict(on, action=action)


class Retries(JobsCase):
    max_vcpus = 4

    def run_job(self, name, code, attempts, rules=None, command=ATTEMPT, **kw):
        """Runs a job that exits with code until it is done; returns its description and the
        attempt numbers it logged."""
        log = "%s.log" % name
        self.out(log)
        strategy = {"attempts": attempts}
        if rules is not None:
            strategy["evaluateOnExit"] = rules
        jid = self.submit(name, command=command, env={"LOG": log, "CODE": str(code)},
                          retryStrategy=strategy, **kw)
        d = self.wait_job(jid, timeout=60)
        return d, self.read_lines("%s/%s" % (self.out_dir, log))

    def test_one_attempt_is_the_default(self):
        d, seen = self.run_job("once", 1, 1)
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(seen, ["1"])
        self.assertEqual(len(d["attempts"]), 1)

    def test_every_attempt_is_kept(self):
        d, seen = self.run_job("thrice", 7, 3)
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(seen, ["1", "2", "3"])
        attempts = d["attempts"]
        self.assertEqual(len(attempts), 3)
        streams = [a["container"]["logStreamName"] for a in attempts]
        self.assertEqual(len(set(streams)), 3, "each attempt has its own log stream")
        for a in attempts:
            self.assertEqual(a["container"]["exitCode"], 7)
            self.assertEqual(a["statusReason"], "Essential container in task exited")
            self.assertRegex(a["container"]["logStreamName"], r"^jd/default/[0-9a-f]{32}$")
            self.assertLessEqual(a["startedAt"], a["stoppedAt"])
        for earlier, later in zip(attempts, attempts[1:]):
            self.assertLessEqual(earlier["stoppedAt"], later["startedAt"])
        # The job's times are its last attempt's, as AWS gives them (tools compute an
        # attempt's run time from the job's startedAt and stoppedAt).
        self.assertLess(attempts[0]["startedAt"], attempts[-1]["startedAt"])
        self.assertEqual(d["startedAt"], attempts[-1]["startedAt"])
        self.assertEqual(d["stoppedAt"], attempts[-1]["stoppedAt"])
        self.assertEqual(d["container"]["logStreamName"], streams[-1])

    def test_success_on_a_later_attempt_ends_the_retries(self):
        d, seen = self.run_job("second-time", 0, 5,
                               command='echo "$AWS_BATCH_JOB_ATTEMPT" >> "$OUT/$LOG"; '
                                       '[ "$AWS_BATCH_JOB_ATTEMPT" -ge 2 ]')
        self.assertEqual(d["status"], "SUCCEEDED")
        self.assertEqual(seen, ["1", "2"])
        self.assertEqual([a["container"]["exitCode"] for a in d["attempts"]], [1, 0])
        self.assertEqual(d["container"]["exitCode"], 0)

    def test_ten_attempts(self):
        d, seen = self.run_job("ten", 1, 10)
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(seen, [str(i) for i in range(1, 11)])
        self.assertEqual(len(d["attempts"]), 10)

    def test_on_exit_code(self):
        rules = [rule("EXIT", onExitCode="3"), rule("RETRY", onExitCode="4*")]
        d, seen = self.run_job("code-exit", 3, 3, rules)
        self.assertEqual(seen, ["1"], "exit code 3 matches EXIT")
        d, seen = self.run_job("code-glob", 42, 3, rules)
        self.assertEqual(seen, ["1", "2", "3"], "exit code 42 matches 4*")
        d, seen = self.run_job("code-none", 5, 2, rules)
        self.assertEqual(seen, ["1", "2"], "no condition matches: retried")
        d, seen = self.run_job("code-glob-exit", 17, 3, [rule("EXIT", onExitCode="1*")])
        self.assertEqual(seen, ["1"])
        self.assertEqual(d["status"], "FAILED")

    def test_first_matching_condition_decides(self):
        rules = [rule("RETRY", onExitCode="5"), rule("EXIT", onExitCode="*")]
        d, seen = self.run_job("first-retry", 5, 2, rules)
        self.assertEqual(seen, ["1", "2"])
        d, seen = self.run_job("first-exit", 6, 2, rules)
        self.assertEqual(seen, ["1"])
        # Conditions are case-insensitive in their action, as AWS accepts them.
        d, seen = self.run_job("lower-case", 6, 2, [rule("exit", onExitCode="6")])
        self.assertEqual(seen, ["1"])
        # ... and described as given, as AWS does (Terraform sends it in lower case and
        # compares what it reads back).
        self.assertEqual([r["action"] for r in d["retryStrategy"]["evaluateOnExit"]], ["exit"])

    def test_on_status_reason(self):
        rules = [rule("EXIT", onStatusReason="Job attempt duration*")]
        d, seen = self.run_job("timed-out", 0, 3, rules,
                               command='echo "$AWS_BATCH_JOB_ATTEMPT" >> "$OUT/$LOG"; sleep 30',
                               timeout={"attemptDurationSeconds": 1})
        self.assertEqual(seen, ["1"])
        self.assertEqual(d["statusReason"], "Job attempt duration exceeded timeout")
        # Any other status reason does not match: the job is retried.
        d, seen = self.run_job("exited", 1, 2, rules)
        self.assertEqual(seen, ["1", "2"])
        # An exact status reason.
        d, seen = self.run_job("exact", 1, 3,
                               [rule("EXIT", onStatusReason="Essential container in task exited")])
        self.assertEqual(seen, ["1"])

    def test_nextflow_rules(self):
        # What Nextflow registers: a lost host retries, anything else ends the job.  A plain
        # non-zero exit has no container reason; "*" matches it (an absent reason is empty).
        rules = [rule("RETRY", onStatusReason="Host EC2*"), rule("EXIT", onReason="*")]
        d, seen = self.run_job("nextflow", 1, 3, rules)
        self.assertEqual(seen, ["1"])
        self.assertEqual(d["status"], "FAILED")
        self.assertNotIn("reason", d["attempts"][0]["container"])
        # A longer pattern does not match an absent reason: the job is retried.
        d, seen = self.run_job("no-reason", 1, 2, [rule("EXIT", onReason="Out*")])
        self.assertEqual(seen, ["1", "2"])

    def test_on_reason(self):
        # A command that cannot start: its container reason says why.
        for name, action, want in (("cannot-exit", "EXIT", 1), ("cannot-retry", "RETRY", 3)):
            jid = self.submit(name, command=["/no/such/program"], retryStrategy={
                "attempts": 3, "evaluateOnExit": [
                    rule(action, onReason="CannotStartContainerError*"),
                    rule("EXIT" if action == "RETRY" else "RETRY", onReason="*")]})
            d = self.wait_job(jid, timeout=60)
            self.assertEqual(d["status"], "FAILED")
            self.assertEqual(len(d["attempts"]), want, name)
            for a in d["attempts"]:
                self.assertRegex(a["container"]["reason"], r"^CannotStartContainerError")
        # Conditions that name a field must all match.
        d, seen = self.run_job("all-fields", 1, 3, [
            rule("EXIT", onExitCode="1", onReason="CannotStartContainerError*"),
            rule("EXIT", onExitCode="1", onStatusReason="Essential*")])
        self.assertEqual(seen, ["1"], "the second condition matches")
