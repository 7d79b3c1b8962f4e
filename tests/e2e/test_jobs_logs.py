"""A job's output in CloudWatch Logs, as AWS Batch puts it there: log group /aws/batch/job, the
stream named by container.logStreamName (one per attempt), read with boto3's logs client and
with `aws logs get-log-events`; and in the group and under the prefix that a definition's
awslogs options name."""
import re

import botocore.exceptions

from test_jobs_common import JobsCase, now_ms, resources
from harness import register_agent

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

    def test_bytes_that_are_not_utf8_become_replacement_characters(self):
        # As the awslogs driver ships them: each such byte is U+FFFD; the rest is kept.
        jid = self.submit("bytes", command="printf 'caf\\303\\251 \\377 cut \\342\\202\\n'")
        stream = self.assertSucceeded(jid)["container"]["logStreamName"]
        out = self.wait_for(lambda: self.events(stream)["events"], 10, "the line")
        self.assertEqual([e["message"] for e in out],
                         ["caf\u00e9 \ufffd cut \ufffd\ufffd"])

    def test_empty_lines_are_no_events(self):
        # CloudWatch stores no empty message, and the awslogs driver sends none.
        jid = self.submit("gaps", command="printf 'a\\n\\n\\nb\\n\\n'; printf '\\n' >&2; echo c")
        stream = self.assertSucceeded(jid)["container"]["logStreamName"]
        out = self.wait_for(lambda: (lambda e: e if len(e) >= 3 else None)(
            self.events(stream)["events"]), 10, "three events")
        self.assertEqual([e["message"] for e in out], ["a", "b", "c"])

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

    def test_a_running_attempts_stream_cannot_be_made_again_elsewhere(self):
        # The agent writes to the stream of its name made last: CreateLogStream under a running
        # attempt's name in another group would take the job's next lines.
        jid = self.submit("watched", command="sleep 30")
        self.wait_job(jid, "RUNNING")
        stream = self.job(jid)["container"]["logStreamName"]
        logs = self.server.client("logs")
        logs.create_log_group(logGroupName="/elsewhere")
        self.assertClientError(logs.create_log_stream, "running job's attempt",
                               code="InvalidParameterException", logGroupName="/elsewhere",
                               logStreamName=stream)
        self.batch.terminate_job(jobId=jid, reason="test over")
        # Once the attempt has ended, the name is free again elsewhere.
        self.wait_job(jid)
        self.wait_for(lambda: self._made(logs, stream), 10, "the name to be free")

    @staticmethod
    def _made(logs, stream):
        try:
            logs.create_log_stream(logGroupName="/elsewhere", logStreamName=stream)
            return True
        except botocore.exceptions.ClientError:
            return False

    def test_unknown_stream(self):
        self.assertClientError(self.server.client("logs").get_log_events,
                               code="ResourceNotFoundException", logGroupName=GROUP,
                               logStreamName="jd/default/" + "0" * 32)


def awslogs(**options):
    """A logConfiguration with the awslogs driver and these options."""
    return {"logConfiguration": {"logDriver": "awslogs", "options": options}}


def stream_re(prefix):
    return r"^%s/default/[0-9a-f]{32}$" % re.escape(prefix)


def not_found(logs, **kw):
    """The code of the error GetLogEvents answers with kw, or None when it answers."""
    try:
        logs.get_log_events(**kw)
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"]
    return None


class AwslogsOptions(JobsCase):
    """logConfiguration with the awslogs driver: awslogs-group names the log group of the job's
    streams (made when the first attempt starts, as awslogs-create-group would) and
    awslogs-stream-prefix the first part of their names, PREFIX/default/TASKID, as on AWS
    Batch.  The job description says where through container.logStreamName and the echoed
    logConfiguration; AWS's description carries the group nowhere else."""

    @classmethod
    def setUpResources(cls):
        cls.make_definition("both", container=awslogs(**{
            "awslogs-group": "/barge/test/both", "awslogs-stream-prefix": "app"}))
        cls.make_definition("group-only", container=awslogs(**{
            "awslogs-group": "/barge/test/group-only"}))
        cls.make_definition("prefix-only", container=awslogs(**{
            "awslogs-stream-prefix": "mine/web"}))

    def read(self, group, stream):
        return self.wait_for(
            lambda: [e["message"] for e in self.server.client("logs").get_log_events(
                logGroupName=group, logStreamName=stream, startFromHead=True)["events"]],
            10, "lines in %s %s" % (group, stream))

    def test_group_and_prefix_name_the_stream(self):
        jid = self.submit("both", definition="both", command='echo hello; echo "to stderr" >&2')
        d = self.assertSucceeded(jid)
        stream = d["container"]["logStreamName"]
        self.assertRegex(stream, stream_re("app"))
        self.assertEqual(d["attempts"][0]["container"]["logStreamName"], stream)
        self.assertEqual(d["container"]["logConfiguration"]["options"]["awslogs-group"],
                         "/barge/test/both")
        self.assertEqual(sorted(self.read("/barge/test/both", stream)), ["hello", "to stderr"])
        logs = self.server.client("logs")
        # The stream is in the named group only.
        self.assertEqual(not_found(logs, logGroupName=GROUP, logStreamName=stream),
                         ("ResourceNotFoundException", "The specified log stream does not exist."))
        out = logs.filter_log_events(logGroupName="/barge/test/both", filterPattern="hello")
        self.assertEqual([(e["logStreamName"], e["message"]) for e in out["events"]],
                         [(stream, "hello")])
        streams = logs.describe_log_streams(logGroupName="/barge/test/both")["logStreams"]
        self.assertIn(stream, [s["logStreamName"] for s in streams])
        arn = [s["arn"] for s in streams if s["logStreamName"] == stream][0]
        self.assertTrue(arn.endswith(":log-group:/barge/test/both:log-stream:" + stream), arn)
        # The group given by its ARN reads the same.
        out = logs.get_log_events(
            logGroupIdentifier="arn:aws:logs:us-east-1:123456789012:log-group:/barge/test/both",
            logStreamName=stream, startFromHead=True)
        self.assertEqual(len(out["events"]), 2)
        # The AWS CLI too.
        cli = self.server.aws("logs", "get-log-events", "--log-group-name", "/barge/test/both",
                              "--log-stream-name", stream, "--start-from-head")
        self.assertEqual(sorted(e["message"] for e in cli["events"]), ["hello", "to stderr"])

    def test_group_without_prefix_keeps_the_default_stream_name(self):
        jid = self.submit("g", definition="group-only", command="echo only the group")
        stream = self.assertSucceeded(jid)["container"]["logStreamName"]
        self.assertRegex(stream, stream_re("group-only"))
        self.assertEqual(self.read("/barge/test/group-only", stream), ["only the group"])

    def test_prefix_without_group_writes_to_the_batch_group(self):
        jid = self.submit("p", definition="prefix-only", command="echo only the prefix")
        stream = self.assertSucceeded(jid)["container"]["logStreamName"]
        self.assertRegex(stream, stream_re("mine/web"))
        self.assertEqual(self.read(GROUP, stream), ["only the prefix"])

    def test_every_attempt_and_array_child_writes_to_the_group(self):
        jid = self.submit("retried", definition="both", arrayProperties={"size": 2},
                          command='echo "child $AWS_BATCH_JOB_ARRAY_INDEX attempt '
                                  '$AWS_BATCH_JOB_ATTEMPT"; exit 1',
                          retryStrategy={"attempts": 2})
        self.wait_job(jid)
        for i in range(2):
            d = self.job("%s:%d" % (jid, i))
            self.assertEqual(d["status"], "FAILED")
            for n, a in enumerate(d["attempts"]):
                stream = a["container"]["logStreamName"]
                self.assertRegex(stream, stream_re("app"))
                self.assertEqual(self.read("/barge/test/both", stream),
                                 ["child %d attempt %d" % (i, n + 1)])

    def test_the_group_is_made_when_the_first_attempt_starts(self):
        logs = self.server.client("logs")
        group = "/barge/test/made-later#1"
        self.make_definition("later", container=awslogs(**{
            "awslogs-group": group, "awslogs-create-group": "true"}))
        # Registering the definition makes no group.
        self.assertEqual(logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"], [])
        self.assertEqual(not_found(logs, logGroupName=group, logStreamName="x"),
                         ("ResourceNotFoundException", "The specified log group does not exist."))
        jid = self.submit("silent", definition="later", command="true")
        stream = self.assertSucceeded(jid)["container"]["logStreamName"]
        groups = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
        self.assertEqual([g["logGroupName"] for g in groups], [group])
        self.assertGreaterEqual(groups[0]["creationTime"], self.job(jid)["createdAt"])
        self.assertTrue(groups[0]["logGroupArn"].endswith(":log-group:" + group))
        # A job that prints nothing has an empty stream in its group.
        out = logs.get_log_events(logGroupName=group, logStreamName=stream)
        self.assertEqual(out["events"], [])

    def test_describe_log_groups_lists_every_group(self):
        for d in ("both", "group-only"):
            self.assertSucceeded(self.submit("list", definition=d, command="echo x"))
        logs = self.server.client("logs")
        names = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
        self.assertEqual(names, sorted(names))
        for g in (GROUP, "/barge/test/both", "/barge/test/group-only"):
            self.assertIn(g, names)
        pages = list(logs.get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix="/barge/test/", PaginationConfig={"PageSize": 1}))
        paged = [g["logGroupName"] for p in pages for g in p["logGroups"]]
        self.assertEqual(paged, [n for n in names if n.startswith("/barge/test/")])
        self.assertGreaterEqual(len(pages), 2)
        found = logs.describe_log_groups(logGroupNamePattern="GROUP-ONLY")["logGroups"]
        self.assertEqual([g["logGroupName"] for g in found], ["/barge/test/group-only"])
        found = logs.describe_log_groups(logGroupIdentifiers=[
            "/barge/test/both", "arn:aws:logs:us-east-1:123456789012:log-group:" + GROUP,
            "/barge/test/none"])["logGroups"]
        self.assertEqual([g["logGroupName"] for g in found], [GROUP, "/barge/test/both"])
        self.assertGreater(found[1]["storedBytes"], 0)

    def test_options_barge_cannot_honour_are_refused_at_registration(self):
        cases = [
            ({"awslogs-group": "has space"}, "awslogs-group: 'has space' is not a log group name"),
            ({"awslogs-group": ""}, "awslogs-group: '' is not a log group name"),
            ({"awslogs-group": "g" * 513}, "is not a log group name"),
            ({"awslogs-group": "a:b"}, "is not a log group name"),
            ({"awslogs-stream-prefix": "a:b"}, "awslogs-stream-prefix: 'a:b' cannot begin"),
            ({"awslogs-stream-prefix": "p" * 472}, "1 to 471 characters"),
            ({"awslogs-region": "eu-west-1"}, "its own region, us-east-1"),
            ({"awslogs-endpoint": "https://logs.example"}, "serves them on its own endpoint"),
            ({"awslogs-stream-prefx": "x"}, "options.awslogs-stream-prefx: not an option"),
            ({"awslogs-create-group": "maybe"}, "'maybe' is not true or false"),
            ({"mode": "fast"}, "'fast' is not blocking or non-blocking"),
            ({"awslogs-datetime-format": "%Y", "awslogs-multiline-pattern": "^x"},
             "cannot both be given"),
        ]
        for options, fragment in cases:
            with self.subTest(options=options):
                msg = self.assertClientError(self.make_definition, fragment, name="bad",
                                             container=awslogs(**options))
                self.assertIn("containerProperties.logConfiguration.options", msg)
        # Multi-node containers follow the same rules.
        node = {"image": "busybox", "resourceRequirements": resources(),
                **awslogs(**{"awslogs-group": "bad group"})}
        self.assertClientError(
            self.batch.register_job_definition, "nodeRangeProperties[0].container."
            "logConfiguration.options.awslogs-group", jobDefinitionName="bad", type="multinode",
            nodeProperties={"numNodes": 1, "mainNode": 0,
                            "nodeRangeProperties": [{"targetNodes": "0", "container": node}]})
        # Nothing was registered.
        self.assertEqual(self.batch.describe_job_definitions(jobDefinitionName="bad")
                         ["jobDefinitions"], [])
        # Another driver's options are its own business.
        self.make_definition("splunk", container={"logConfiguration": {
            "logDriver": "splunk", "options": {"splunk-url": "https://x"}}})

    def test_options_that_only_shape_events_are_accepted_and_ignored(self):
        group = "/barge/test/ignored"
        self.make_definition("ignored", container=awslogs(**{
            "awslogs-group": group, "awslogs-region": "us-east-1",
            "awslogs-datetime-format": "%Y-%m-%d", "awslogs-create-group": "false",
            "mode": "non-blocking", "max-buffer-size": "4m"}))
        jid = self.submit("ignored", definition="ignored", command="echo one; echo two")
        stream = self.assertSucceeded(jid)["container"]["logStreamName"]
        # Each line is one event, whatever the datetime format would have grouped.
        self.assertEqual(self.wait_for(lambda: (lambda m: m if len(m) == 2 else None)(
            self.read(group, stream)), 10, "two lines"), ["one", "two"])

    def test_the_docker_drivers_other_shaping_options_are_accepted_and_ignored(self):
        # ECS hands a definition's options to Docker's awslogs driver, which also takes these
        # (moby's ValidateLogOpt): a definition written for AWS with them runs, its lines one
        # event each in the stream AWS Batch names.
        group = "/barge/test/docker-options"
        self.make_definition("docker-options", container=awslogs(**{
            "awslogs-group": group, "awslogs-stream-prefix": "dk", "tag": "{{.Name}}",
            "awslogs-create-stream": "true", "awslogs-force-flush-interval-seconds": "5",
            "awslogs-max-buffered-events": "+100", "awslogs-format": "json/emf"}))
        jid = self.submit("docker-options", definition="docker-options",
                          command="echo one; echo two")
        stream = self.assertSucceeded(jid)["container"]["logStreamName"]
        self.assertRegex(stream, stream_re("dk"))
        self.assertEqual(self.wait_for(lambda: (lambda m: m if len(m) == 2 else None)(
            self.read(group, stream)), 10, "two lines"), ["one", "two"])
        # Values the driver would refuse when the container starts are refused now.
        cases = [
            ({"awslogs-create-stream": "maybe"}, "'maybe' is not true or false"),
            ({"awslogs-force-flush-interval-seconds": "0"}, "'0' is not a whole number above 0"),
            ({"awslogs-max-buffered-events": "-5"}, "'-5' is not a whole number above 0"),
            ({"awslogs-max-buffered-events": "ten"}, "'ten' is not a whole number above 0"),
            ({"awslogs-format": "json"}, "the one it knows is json/emf"),
            ({"awslogs-format": "json/emf", "awslogs-multiline-pattern": "^x"},
             "cannot be given with awslogs-datetime-format or awslogs-multiline-pattern"),
            # The stream's name is AWS Batch's to give; the driver's own is still refused.
            ({"awslogs-stream": "mine"}, "options.awslogs-stream: each attempt's stream is named"),
        ]
        for options, fragment in cases:
            with self.subTest(options=options):
                self.assertClientError(self.make_definition, fragment, name="bad",
                                       container=awslogs(**options))


def agent_upload(server, stream, messages):
    """Uploads lines to a stream by name, as a stand-in agent registered for the purpose does
    (in --dev, where a stream no running attempt writes to may be fed); returns the HTTP
    status."""
    iid, credential = register_agent(server)
    body = {"instanceId": iid,
            "streams": [{"logStreamName": stream,
                         "events": [{"timestamp": now_ms(), "message": m} for m in messages]}]}
    status, _, _ = server.raw("POST", "/barge/v1/agent/logs", body,
                              {"Content-Type": "application/json",
                               "Authorization": "Bearer " + credential})
    return status


class AwslogsAcrossARestart(JobsCase):
    """Where a job's logs go is kept across a restart of the server: the definition's group and
    prefix for jobs still queued, and, for streams already made, the group that agents' uploads
    land in (an agent names only the stream)."""

    GROUP = "/barge/test/restart"

    @classmethod
    def setUpResources(cls):
        cls.make_definition("kept", container=awslogs(**{
            "awslogs-group": cls.GROUP, "awslogs-stream-prefix": "kept"}))

    def read(self, stream):
        return [e["message"] for e in self.server.client("logs").get_log_events(
            logGroupName=self.GROUP, logStreamName=stream, startFromHead=True)["events"]]

    def test_restart_keeps_groups_streams_and_the_mapping(self):
        done = self.submit("before", definition="kept", command="echo before the restart")
        stream = self.assertSucceeded(done)["container"]["logStreamName"]
        self.wait_for(lambda: self.read(stream), 10, "the line before the restart")
        # A job still queued (its compute environment is disabled) when the server restarts.
        queued = self.submit("queued", queue="parked", definition="kept",
                             command="echo after the restart")
        logs = self.server.client("logs")
        created = logs.describe_log_groups(logGroupNamePrefix=self.GROUP)["logGroups"][0][
            "creationTime"]
        self.server.restart()
        logs = self.server.client("logs")
        self.assertEqual(self.read(stream), ["before the restart"])
        self.assertEqual(logs.describe_log_groups(logGroupNamePrefix=self.GROUP)["logGroups"][0][
            "creationTime"], created)
        # Lines an agent ships late for a stream made before the restart still land in its group.
        self.assertEqual(agent_upload(self.server, stream, ["shipped late"]), 200)
        self.assertEqual(self.read(stream), ["before the restart", "shipped late"])
        self.assertEqual(not_found(logs, logGroupName=GROUP, logStreamName=stream)[0],
                         "ResourceNotFoundException")
        # The queued job runs after the restart and writes where its definition says.
        self.batch.update_compute_environment(computeEnvironment="ce-off", state="ENABLED")
        d = self.assertSucceeded(queued, timeout=60)
        later = d["container"]["logStreamName"]
        self.assertRegex(later, stream_re("kept"))
        self.assertEqual(self.wait_for(lambda: self.read(later), 10, "the line after the restart"),
                         ["after the restart"])
