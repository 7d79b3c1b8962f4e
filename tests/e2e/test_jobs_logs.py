"""A job's output in CloudWatch Logs, as AWS Batch puts it there: log group /aws/batch/job, the
stream named by container.logStreamName (one per attempt), read with boto3's logs client and
with `aws logs get-log-events`."""
from test_jobs_common import JobsCase

GROUP = "/aws/batch/job"


class Logs(JobsCase):
    def events(self, stream):
        logs = self.server.client("logs")
        out = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True)
        return out

    def test_stdout_and_stderr_lines_in_order(self):
        jid = self.submit("talker", command='for i in 1 2 3; do echo "out $i"; done; '
                                            'echo "err line" >&2; printf "no newline"')
        d = self.assertSucceeded(jid)
        stream = d["container"]["logStreamName"]
        self.assertTrue(stream.startswith("jd/default/"))
        out = self.wait_for(lambda: (lambda o: o if len(o["events"]) >= 5 else None)(
            self.events(stream)), 10, "five log events")
        messages = [e["message"] for e in out["events"]]
        self.assertEqual([m for m in messages if m.startswith("out")], ["out 1", "out 2", "out 3"])
        self.assertIn("err line", messages)
        self.assertIn("no newline", messages)
        self.assertEqual(len(messages), 5)
        times = [e["timestamp"] for e in out["events"]]
        self.assertEqual(times, sorted(times))
        for e in out["events"]:
            self.assertGreaterEqual(e["timestamp"], d["startedAt"] - 1000)
            self.assertLessEqual(e["timestamp"], d["stoppedAt"] + 1000)
            self.assertIn("ingestionTime", e)
        # At the end of the stream the forward token comes back unchanged.
        again = self.server.client("logs").get_log_events(
            logGroupName=GROUP, logStreamName=stream, nextToken=out["nextForwardToken"])
        self.assertEqual(again["events"], [])
        self.assertEqual(again["nextForwardToken"], out["nextForwardToken"])
        # The AWS CLI reads the same.
        cli = self.server.aws("logs", "get-log-events", "--log-group-name", GROUP,
                              "--log-stream-name", stream, "--start-from-head")
        self.assertEqual([e["message"] for e in cli["events"]], messages)

    def test_each_attempt_has_its_own_stream(self):
        jid = self.submit("twice", command='echo "attempt $AWS_BATCH_JOB_ATTEMPT"; exit 1',
                          retryStrategy={"attempts": 2})
        d = self.wait_job(jid)
        self.assertEqual(d["status"], "FAILED")
        streams = [a["container"]["logStreamName"] for a in d["attempts"]]
        self.assertEqual(len(set(streams)), 2)
        for i, stream in enumerate(streams):
            msgs = self.wait_for(lambda: [e["message"] for e in self.events(stream)["events"]],
                                 10, "the log of attempt %d" % (i + 1))
            self.assertEqual(msgs, ["attempt %d" % (i + 1)])

    def test_array_children_log_apart(self):
        jid = self.submit("arr", arrayProperties={"size": 2},
                          command='echo "child $AWS_BATCH_JOB_ARRAY_INDEX"')
        self.assertSucceeded(jid)
        for i in range(2):
            stream = self.job("%s:%d" % (jid, i))["container"]["logStreamName"]
            msgs = self.wait_for(lambda: [e["message"] for e in self.events(stream)["events"]],
                                 10, "the log of child %d" % i)
            self.assertEqual(msgs, ["child %d" % i])

    def test_a_silent_job_has_an_empty_log(self):
        # The stream exists from the attempt's start, as with the awslogs driver: a job that
        # prints nothing reads as empty, not as ResourceNotFoundException.
        jid = self.submit("silent", command="true")
        self.assertSucceeded(jid)
        stream = self.job(jid)["container"]["logStreamName"]
        events = self.wait_for(lambda: self.events(stream), 10, "the silent job's stream")
        self.assertEqual(events["events"], [])

    def test_unknown_stream(self):
        self.assertClientError(self.server.client("logs").get_log_events,
                               code="ResourceNotFoundException", logGroupName=GROUP,
                               logStreamName="jd/default/" + "0" * 32)
