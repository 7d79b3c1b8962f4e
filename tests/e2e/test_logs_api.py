"""Job logs through the CloudWatch Logs API: events pushed the way agents push them
(POST /barge/v1/agent/logs, by a stand-in agent: in --dev a stream no running attempt writes to
may be fed) and read back with boto3's logs client and the AWS CLI."""
import threading
import time

from harness import ACCOUNT, REGION, Server, ServerTestCase, register_agent

GROUP = "/aws/batch/job"
ARN_PREFIX = "arn:aws:logs:us-east-1:123456789012:log-group:"


_standins = {}  # server -> the credential of its stand-in agent


def push(server, streams, credential=""):
    """Uploads {stream name: [(timestamp, message), ...]} as an agent does, with credential
    (None: none; "": a stand-in agent's, registered again when the server forgot it); returns
    (status, body)."""
    body = {"streams": [{"logStreamName": name,
                         "events": [{"timestamp": t, "message": m} for t, m in events]}
                        for name, events in streams.items()]}
    for _ in range(2):
        headers = {"Content-Type": "application/json"}
        cred = credential
        if cred == "":
            if server not in _standins:
                _standins[server] = register_agent(server)[1]
            cred = _standins[server]
        if cred is not None:
            headers["Authorization"] = "Bearer " + cred
        status, _, out = server.raw("POST", "/barge/v1/agent/logs", body, headers)
        if credential == "" and status in (401, 404):
            _standins.pop(server, None)  # a restart, or the stand-in was let go
            continue
        return status, out
    return status, out


def logs_call(server, op, body):
    """A raw CloudWatch Logs request; returns (status, headers, body)."""
    return server.raw("POST", "/", body, {"X-Amz-Target": "Logs_20140328." + op,
                                          "Content-Type": "application/x-amz-json-1.1"})


class LogsApi(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.logs = cls.server.client("logs")

    def put(self, streams):
        status, out = push(self.server, streams)
        self.assertEqual((status, out), (200, {}))

    def read_all_forward(self, stream, limit=None, **kw):
        """Pages forward from the head until the token repeats; returns (events, pages)."""
        args = dict(logGroupName=GROUP, logStreamName=stream, startFromHead=True, **kw)
        if limit:
            args["limit"] = limit
        events, pages, token = [], 0, None
        while True:
            if token:
                args["nextToken"] = token
            out = self.logs.get_log_events(**args)
            pages += 1
            events += out["events"]
            if out["nextForwardToken"] == token:
                self.assertEqual(out["events"], [])
                return events, pages
            token = out["nextForwardToken"]
            self.assertLess(pages, 10000)

    def test_get_from_head_and_page_forward_until_the_token_repeats(self):
        self.put({"fwd/default/1": [(1000 + i, "line %d" % i) for i in range(25)]})
        out = self.logs.get_log_events(logGroupName=GROUP, logStreamName="fwd/default/1",
                                       startFromHead=True, limit=10)
        self.assertEqual([e["message"] for e in out["events"]],
                         ["line %d" % i for i in range(10)])
        e = out["events"][0]
        self.assertEqual(e["timestamp"], 1000)
        self.assertGreater(e["ingestionTime"], 1700000000000)
        self.assertTrue(out["nextForwardToken"].startswith("f/"))
        self.assertTrue(out["nextBackwardToken"].startswith("b/"))
        events, pages = self.read_all_forward("fwd/default/1", limit=10)
        self.assertEqual([e["message"] for e in events], ["line %d" % i for i in range(25)])
        self.assertEqual(pages, 4)  # 10, 10, 5, then the empty page with the same token
        # New lines appear behind the last token, which is how followers tail a stream.
        out = self.logs.get_log_events(logGroupName=GROUP, logStreamName="fwd/default/1",
                                       startFromHead=True, limit=100)
        token = out["nextForwardToken"]
        self.put({"fwd/default/1": [(2000, "later")]})
        out = self.logs.get_log_events(logGroupName=GROUP, logStreamName="fwd/default/1",
                                       nextToken=token)
        self.assertEqual([e["message"] for e in out["events"]], ["later"])

    def test_from_the_tail_and_backward_tokens(self):
        self.put({"bwd/default/1": [(5000 + i, "b%d" % i) for i in range(7)]})
        out = self.logs.get_log_events(logGroupName=GROUP, logStreamName="bwd/default/1",
                                       limit=3)
        self.assertEqual([e["message"] for e in out["events"]], ["b4", "b5", "b6"])
        seen = []
        token = out["nextBackwardToken"]
        while True:
            out = self.logs.get_log_events(logGroupName=GROUP, logStreamName="bwd/default/1",
                                           limit=3, nextToken=token)
            if not out["events"]:
                self.assertEqual(out["nextBackwardToken"], token)
                break
            seen = [e["message"] for e in out["events"]] + seen
            token = out["nextBackwardToken"]
        self.assertEqual(seen, ["b0", "b1", "b2", "b3"])

    def test_time_range(self):
        self.put({"time/default/1": [(100, "a"), (200, "b"), (300, "c"), (400, "d")]})
        out = self.logs.get_log_events(logGroupName=GROUP, logStreamName="time/default/1",
                                       startTime=200, endTime=400, startFromHead=True)
        self.assertEqual([e["message"] for e in out["events"]], ["b", "c"])
        out = self.logs.get_log_events(logGroupName=GROUP, logStreamName="time/default/1",
                                       startTime=350)
        self.assertEqual([e["message"] for e in out["events"]], ["d"])
        # The group given by ARN reads the same.
        out = self.logs.get_log_events(logGroupIdentifier=ARN_PREFIX + GROUP,
                                       logStreamName="time/default/1", startTime=350)
        self.assertEqual([e["message"] for e in out["events"]], ["d"])

    def test_messages_round_trip(self):
        long = "x" * 300000 + "\u00e9"
        messages = ["caf\u00e9 \u2713", "tab\there", "nul\u0000byte", "", long]
        self.put({"bytes/default/1": [(10 + i, m) for i, m in enumerate(messages)]})
        out = self.logs.get_log_events(logGroupName=GROUP, logStreamName="bytes/default/1",
                                       startFromHead=True)
        got = [e["message"] for e in out["events"]]
        self.assertEqual(got[:4], messages[:4])
        # A line longer than CloudWatch's largest event is kept as several events.
        self.assertEqual(len(got), 6)
        self.assertEqual(len(got[4].encode()), 256 * 1024 - 26)
        self.assertEqual(got[4] + got[5], long)

    def test_describe_log_streams(self):
        self.put({"desc/default/b": [(3000, "x"), (3001, "yy")],
                  "desc/default/a": [(9000, "z")],
                  "desc/default/c": [(1000, "w")]})
        out = self.logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix="desc/")
        streams = out["logStreams"]
        self.assertEqual([s["logStreamName"] for s in streams],
                         ["desc/default/a", "desc/default/b", "desc/default/c"])
        b = streams[1]
        self.assertEqual((b["firstEventTimestamp"], b["lastEventTimestamp"]), (3000, 3001))
        self.assertEqual(b["storedBytes"], 3)
        self.assertGreaterEqual(b["lastIngestionTime"], b["creationTime"])
        self.assertEqual(b["arn"], ARN_PREFIX + GROUP + ":log-stream:desc/default/b")
        self.assertNotIn("nextToken", out)
        out = self.logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix="desc/",
                                             descending=True)
        self.assertEqual([s["logStreamName"] for s in out["logStreams"]],
                         ["desc/default/c", "desc/default/b", "desc/default/a"])
        # By last event, newest first: what `aws logs tail` and consoles ask for.
        out = self.logs.describe_log_streams(logGroupName=GROUP, orderBy="LastEventTime",
                                             descending=True, limit=50)
        names = [s["logStreamName"] for s in out["logStreams"]
                 if s["logStreamName"].startswith("desc/")]
        self.assertEqual(names, ["desc/default/a", "desc/default/b", "desc/default/c"])
        # Paging, through boto3's paginator.
        pages = list(self.logs.get_paginator("describe_log_streams").paginate(
            logGroupName=GROUP, logStreamNamePrefix="desc/", PaginationConfig={"PageSize": 2}))
        self.assertEqual([[s["logStreamName"] for s in p["logStreams"]] for p in pages],
                         [["desc/default/a", "desc/default/b"], ["desc/default/c"]])
        self.assertClientError(self.logs.describe_log_streams, "LastEventTime",
                               code="InvalidParameterException", logGroupName=GROUP,
                               logStreamNamePrefix="desc/", orderBy="LastEventTime")
        self.assertClientError(self.logs.describe_log_streams, "log group does not exist",
                               code="ResourceNotFoundException", logGroupName="/aws/other")

    def test_filter_log_events(self):
        self.put({"filt/default/a": [(10, "ERROR disk full"), (30, "INFO ok"),
                                     (50, "ERROR again")],
                  "filt/default/b": [(20, "WARN slow"), (40, "ERROR late")]})
        out = self.logs.filter_log_events(logGroupName=GROUP, logStreamNamePrefix="filt/")
        self.assertEqual([(e["logStreamName"], e["message"]) for e in out["events"]],
                         [("filt/default/a", "ERROR disk full"), ("filt/default/b", "WARN slow"),
                          ("filt/default/a", "INFO ok"), ("filt/default/b", "ERROR late"),
                          ("filt/default/a", "ERROR again")])
        self.assertEqual(len({e["eventId"] for e in out["events"]}), 5)
        self.assertEqual(out["events"][0]["timestamp"], 10)
        self.assertIn("ingestionTime", out["events"][0])
        # endTime is the last time returned, as CloudWatch's FilterLogEvents has it (not
        # GetLogEvents' exclusive end).
        out = self.logs.filter_log_events(logGroupName=GROUP, logStreamNamePrefix="filt/",
                                          filterPattern="ERROR", startTime=20, endTime=50)
        self.assertEqual([e["message"] for e in out["events"]], ["ERROR late", "ERROR again"])
        out = self.logs.filter_log_events(logGroupName=GROUP, logStreamNamePrefix="filt/",
                                          filterPattern="ERROR", startTime=20, endTime=49)
        self.assertEqual([e["message"] for e in out["events"]], ["ERROR late"])
        out = self.logs.filter_log_events(logGroupName=GROUP,
                                          logStreamNames=["filt/default/b", "no/such"])
        self.assertEqual([e["message"] for e in out["events"]], ["WARN slow", "ERROR late"])
        pages = list(self.logs.get_paginator("filter_log_events").paginate(
            logGroupName=GROUP, logStreamNamePrefix="filt/", filterPattern="ERROR",
            PaginationConfig={"PageSize": 2}))
        self.assertEqual([[e["message"] for e in p["events"]] for p in pages],
                         [["ERROR disk full", "ERROR late"], ["ERROR again"]])
        self.assertClientError(self.logs.filter_log_events, "filterPattern",
                               code="InvalidParameterException", logGroupName=GROUP,
                               filterPattern="{ $.level = 1 }")
        # A quoted phrase left open is refused, not taken as a pattern that matches every line.
        for pattern in ('"', 'ERROR "disk', '"disk full'):
            self.assertClientError(self.logs.filter_log_events, "not closed",
                                   code="InvalidParameterException", logGroupName=GROUP,
                                   filterPattern=pattern)
        # CloudWatch's longest pattern is 1,024 characters.
        self.assertClientError(self.logs.filter_log_events,
                               "filterPattern: at most 1024 characters (got 1025)",
                               code="InvalidParameterException", logGroupName=GROUP,
                               filterPattern="x" * 1025)
        out = self.logs.filter_log_events(logGroupName=GROUP, logStreamNamePrefix="filt/",
                                          filterPattern="É" * 1024)
        self.assertEqual(out["events"], [])
        out = self.logs.filter_log_events(logGroupName=GROUP, logStreamNamePrefix="filt/",
                                          filterPattern='"disk full"')
        self.assertEqual([e["message"] for e in out["events"]], ["ERROR disk full"])
        self.assertClientError(self.logs.filter_log_events, code="InvalidParameterException",
                               logGroupName=GROUP, logStreamNames=["a"],
                               logStreamNamePrefix="a")

    def test_filter_newest_first(self):
        # CloudWatch's startFromHead false (the newest SDKs model it; botocore's model here does
        # not): the newest events first across the streams, paged by tokens that go on the same
        # way, within startTime and endTime.
        t = 1767225600000  # 2026-01-01
        self.put({"newest/default/a": [(t + 10, "a1"), (t + 30, "a3"), (t + 40, "a4")],
                  "newest/default/b": [(t + 20, "b2"), (t + 30, "b3")]})
        body = {"logGroupName": GROUP, "logStreamNamePrefix": "newest/", "startFromHead": False}

        def messages(**extra):
            """Every page's messages in order, and how many pages."""
            got, pages, args = [], 0, dict(body, **extra)
            while True:
                status, _, out = logs_call(self.server, "FilterLogEvents", args)
                self.assertEqual(status, 200, out)
                got += [e["message"] for e in out["events"]]
                pages += 1
                if "nextToken" not in out:
                    return got, pages
                args["nextToken"] = out["nextToken"]
        self.assertEqual(messages(), (["a4", "b3", "a3", "b2", "a1"], 1))
        self.assertEqual(messages(limit=2), (["a4", "b3", "a3", "b2", "a1"], 3))
        # endTime is included, newest first as oldest first.
        self.assertEqual(messages(startTime=t + 20, endTime=t + 40, limit=1)[0],
                         ["a4", "b3", "a3", "b2"])
        self.assertEqual(messages(startTime=t + 20, endTime=t + 39, limit=1)[0],
                         ["b3", "a3", "b2"])
        self.assertEqual(messages(filterPattern="3")[0], ["b3", "a3"])
        # Oldest first, as before, and a token goes on only the way it was issued.
        status, _, out = logs_call(self.server, "FilterLogEvents",
                                   dict(body, startFromHead=True, limit=2))
        self.assertEqual([e["message"] for e in out["events"]], ["a1", "b2"])
        status, headers, out = logs_call(self.server, "FilterLogEvents",
                                         dict(body, nextToken=out["nextToken"]))
        self.assertEqual((status, out.get("__type")), (400, "InvalidParameterException"), out)
        self.assertIn("startFromHead true", out["message"])
        # As CloudWatch: newest first only from 2024 on.
        status, _, out = logs_call(self.server, "FilterLogEvents", dict(body, startTime=10))
        self.assertEqual((status, out.get("__type")), (400, "InvalidParameterException"), out)
        self.assertIn("Jan 1, 2024", out["message"])

    def test_describe_log_groups(self):
        self.put({"grp/default/1": [(1, "x")]})
        out = self.logs.describe_log_groups()
        self.assertEqual([g["logGroupName"] for g in out["logGroups"]], [GROUP])
        g = out["logGroups"][0]
        self.assertEqual(g["arn"], ARN_PREFIX + GROUP + ":*")
        self.assertEqual(g["logGroupArn"], ARN_PREFIX + GROUP)
        self.assertGreater(g["creationTime"], 1700000000000)
        self.assertGreaterEqual(g["storedBytes"], 1)
        groups = self.logs.describe_log_groups
        self.assertEqual(len(groups(logGroupNamePrefix="/aws/b")["logGroups"]), 1)
        self.assertEqual(groups(logGroupNamePrefix="/other")["logGroups"], [])
        self.assertEqual(len(groups(logGroupNamePattern="BATCH")["logGroups"]), 1)
        self.assertEqual(len(groups(logGroupIdentifiers=[GROUP, "/no/such"])["logGroups"]), 1)
        self.assertEqual(groups(logGroupIdentifiers=["/no/such"])["logGroups"], [])
        self.assertClientError(groups, "nextToken", code="InvalidParameterException",
                               nextToken="not-a-token")
        # An agent's lines for a stream the server never made land in /aws/batch/job.
        self.assertEqual([g["logGroupName"] for g in groups()["logGroups"]], [GROUP])

    def test_aws_cli(self):
        self.put({"cli/default/1": [(100 + i, "cli %d" % i) for i in range(5)],
                  "cli/default/2": [(50, "other")]})
        out = self.server.aws("logs", "get-log-events", "--log-group-name", GROUP,
                              "--log-stream-name", "cli/default/1", "--start-from-head",
                              "--limit", "3")
        self.assertEqual([e["message"] for e in out["events"]], ["cli 0", "cli 1", "cli 2"])
        out2 = self.server.aws("logs", "get-log-events", "--log-group-name", GROUP,
                               "--log-stream-name", "cli/default/1", "--next-token",
                               out["nextForwardToken"])
        self.assertEqual([e["message"] for e in out2["events"]], ["cli 3", "cli 4"])
        out = self.server.aws("logs", "describe-log-streams", "--log-group-name", GROUP,
                              "--log-stream-name-prefix", "cli/")
        self.assertEqual([s["logStreamName"] for s in out["logStreams"]],
                         ["cli/default/1", "cli/default/2"])
        self.assertEqual(out["logStreams"][0]["lastEventTimestamp"], 104)
        rc, _, err = self.server.aws("logs", "get-log-events", "--log-group-name", GROUP,
                                     "--log-stream-name", "cli/default/none", check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("ResourceNotFoundException", err)

    def test_errors_in_cloudwatch_shape(self):
        self.assertClientError(self.logs.get_log_events, "The specified log stream does not exist.",
                               code="ResourceNotFoundException", logGroupName=GROUP,
                               logStreamName="no/such/stream")
        self.assertClientError(self.logs.get_log_events, "The specified log group does not exist.",
                               code="ResourceNotFoundException", logGroupName="/aws/lambda/x",
                               logStreamName="s")
        status, headers, body = logs_call(self.server, "GetLogEvents",
                                          {"logGroupName": GROUP, "logStreamName": "no/such"})
        self.assertEqual(status, 400)
        self.assertEqual(body["__type"], "ResourceNotFoundException")
        self.assertEqual(headers.get("x-amzn-ErrorType"), "ResourceNotFoundException")
        # CloudWatch Logs speaks AWS JSON 1.1, its answers typed so, errors and all.
        self.assertEqual(headers.get("Content-Type"), "application/x-amz-json-1.1")
        self.put({"err/default/1": [(1, "x")]})
        status, headers, _ = logs_call(self.server, "GetLogEvents",
                                       {"logGroupName": GROUP, "logStreamName": "err/default/1"})
        self.assertEqual((status, headers.get("Content-Type")), (200, "application/x-amz-json-1.1"))
        self.assertClientError(self.logs.get_log_events, "nextToken",
                               code="InvalidParameterException", logGroupName=GROUP,
                               logStreamName="err/default/1", nextToken="f/garbage")
        for body, fragment in (
                ({"logGroupName": GROUP, "logStreamName": "err/default/1", "limit": 0}, "limit"),
                ({"logGroupName": GROUP, "logStreamName": "err/default/1", "limit": 10001},
                 "limit"),
                ({"logGroupName": GROUP, "logStreamName": "err/default/1", "startTime": -1},
                 "startTime"),
                ({"logGroupName": GROUP, "logStreamName": "err/default/1", "limit": "ten"},
                 "limit"),
                ({"logStreamName": "err/default/1"}, "logGroupName"),
                ({"logGroupName": GROUP, "logGroupIdentifier": GROUP,
                  "logStreamName": "err/default/1"}, "LogGroupIdentifier"),
                ({"logGroupName": GROUP}, "logStreamName")):
            status, _, out = logs_call(self.server, "GetLogEvents", body)
            self.assertEqual((status, out["__type"]), (400, "InvalidParameterException"), body)
            self.assertIn(fragment, out["message"])
        status, _, out = logs_call(self.server, "DescribeLogStreams",
                                   {"logGroupName": GROUP, "limit": 51})
        self.assertEqual((status, out["__type"]), (400, "InvalidParameterException"))
        # Lists past the sizes the model gives them.
        for op, body, fragment in (
                ("DescribeLogGroups", {"accountIdentifiers": ["%012d" % i for i in range(21)]},
                 "accountIdentifiers: must hold 0 to 20 items (got 21)"),
                ("FilterLogEvents", {"logGroupName": GROUP, "logStreamNames": []},
                 "logStreamNames: must hold 1 to 100 items (got 0)"),
                ("UntagResource", {"resourceArn": "arn:aws:logs:%s:%s:log-group:%s" % (
                    REGION, ACCOUNT, GROUP), "tagKeys": ["k%d" % i for i in range(51)]},
                 "tagKeys: must hold 0 to 50 items (got 51)")):
            status, _, out = logs_call(self.server, op, body)
            self.assertEqual((status, out["__type"]), (400, "InvalidParameterException"), op)
            self.assertIn(fragment, out["message"])
        status, _, out = logs_call(self.server, "PutLogEvents", {"logGroupName": GROUP})
        self.assertEqual((status, out["__type"]), (400, "UnknownOperationException"))
        status, _, out = logs_call(self.server, "GetLogEvents", b"{not json")
        self.assertEqual((status, out["__type"]), (400, "SerializationException"))

    def test_a_name_or_pattern_with_a_nul_is_refused(self):
        # Bodies may hold \u0000 for job output (a message); anywhere else C would cut the
        # text short at it, and the call act on another group or stream than it names.
        self.put({"nul/default/1": [(1, "a\x00b")]})
        out = self.logs.get_log_events(logGroupName=GROUP, logStreamName="nul/default/1")
        self.assertEqual([e["message"] for e in out["events"]], ["a\x00b"])
        for op, body, field in (
                ("GetLogEvents", '{"logGroupName": "%s", "logStreamName": "nul/default/1\\u0000x"}'
                 % GROUP, "logStreamName"),
                ("GetLogEvents", '{"logGroupName": "%s\\u0000x", "logStreamName": "nul/default/1"}'
                 % GROUP, "logGroupName"),
                ("CreateLogGroup", '{"logGroupName": "/made\\u0000x"}', "logGroupName"),
                ("CreateLogStream", '{"logGroupName": "%s", "logStreamName": "made\\u0000x"}'
                 % GROUP, "logStreamName"),
                ("PutRetentionPolicy", '{"logGroupName": "%s\\u0000y", "retentionInDays": 1}'
                 % GROUP, "logGroupName"),
                ("FilterLogEvents", '{"logGroupName": "%s", "filterPattern": "\\u0000x"}' % GROUP,
                 "filterPattern"),
                ("DescribeLogStreams", '{"logGroupName": "%s", "logStreamNames": ["a", "b\\u0000"]}'
                 % GROUP, "logStreamNames[1]")):
            status, _, out = logs_call(self.server, op, body.encode())
            self.assertEqual((status, out["__type"]), (400, "InvalidParameterException"), body)
            self.assertIn(field + ": holds a NUL", out["message"])
        self.assertNotIn("/made", [g["logGroupName"] for g in
                                   self.logs.describe_log_groups()["logGroups"]])
        self.assertNotIn("retentionInDays", self.logs.describe_log_groups(
            logGroupNamePrefix=GROUP)["logGroups"][0])
        # An agent's upload to a stream named with one stores nothing in the stream before it.
        status, _, out = self.server.raw(
            "POST", "/barge/v1/agent/logs",
            b'{"streams": [{"logStreamName": "nul/default/1\\u0000evil", '
            b'"events": [{"timestamp": 2, "message": "evil"}]}]}')
        self.assertEqual((status, out["__type"]), (400, "ClientException"))
        self.assertIn("streams[0].logStreamName: holds a NUL", out["message"])
        out = self.logs.get_log_events(logGroupName=GROUP, logStreamName="nul/default/1")
        self.assertEqual([e["message"] for e in out["events"]], ["a\x00b"])

    def test_agent_upload_is_checked_before_anything_is_stored(self):
        for streams, fragment in (
                ({"bad:name": [(1, "x")]}, "logStreamName"),
                ({"ok/default/1": [(1, "x")], "bad*name": [(1, "x")]}, "logStreamName"),
                ({"ok/default/1": [(-1, "x")]}, "timestamp"),
                ({"": [(1, "x")]}, "logStreamName")):
            status, out = push(self.server, streams)
            self.assertEqual((status, out["__type"]), (400, "ClientException"), streams)
            self.assertIn(fragment, out["message"])
        self.assertClientError(self.logs.get_log_events, code="ResourceNotFoundException",
                               logGroupName=GROUP, logStreamName="ok/default/1")
        status, _, out = self.server.raw("POST", "/barge/v1/agent/logs",
                                         {"streams": [{"logStreamName": "s",
                                                       "events": [{"timestamp": 1}]}]})
        self.assertEqual((status, out["__type"]), (400, "ClientException"))
        self.assertIn("message", out["message"])
        status, _, out = self.server.raw("POST", "/barge/v1/agent/logs", b"[1, 2")
        self.assertEqual((status, out["__type"]), (400, "ClientException"))
        # An upload with no events creates the stream, which then reads as empty.
        self.put({"empty/default/1": []})
        out = self.logs.get_log_events(logGroupName=GROUP, logStreamName="empty/default/1")
        self.assertEqual(out["events"], [])

    def test_many_events_fast_and_concurrent(self):
        n, batch = 50000, 5000
        start = time.time()
        for b in range(0, n, batch):
            self.put({"many/default/1": [(1000000 + i, "event number %d" % i)
                                         for i in range(b, b + batch)]})
        elapsed = time.time() - start
        self.assertLess(elapsed, 30, "50,000 events took %.1fs to store" % elapsed)
        events, pages = self.read_all_forward("many/default/1")
        self.assertEqual(len(events), n)
        self.assertEqual(pages, 6)  # five full pages of 10,000 and the empty last one
        self.assertEqual([e["message"] for e in events[:2]], ["event number 0", "event number 1"])
        self.assertTrue(all(int(e["message"].rsplit(" ", 1)[1]) == i for i, e in enumerate(events)))
        # Several agents at once, each stream in its own order.
        errors = []

        def agent(k):
            for r in range(20):
                status, out = push(self.server, {"conc/default/%d" % k: [
                    (2000 + r * 10 + i, "%d" % (r * 10 + i)) for i in range(10)]})
                if status != 200:
                    errors.append((status, out))
        threads = [threading.Thread(target=agent, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        for k in range(4):
            events, _ = self.read_all_forward("conc/default/%d" % k)
            self.assertEqual([e["message"] for e in events], [str(i) for i in range(200)])


class LogsDurabilityAndAuth(ServerTestCase):
    server_args = ("--agent-token", "log-token-123")

    def test_instance_credential_required_without_dev(self):
        status, out = push(self.server, {"auth/default/1": [(1, "x")]}, credential=None)
        self.assertEqual((status, out["__type"]), (401, "MissingAuthenticationTokenException"))
        # The join token only registers.
        status, out = push(self.server, {"auth/default/1": [(1, "x")]},
                           credential="log-token-123")
        self.assertEqual((status, out["__type"]), (401, "MissingAuthenticationTokenException"))
        iid, cred = register_agent(self.server, token="log-token-123")
        status, out = push(self.server, {"auth/default/1": [(1, "x")]},
                           credential=cred[:-1] + ("0" if cred[-1] != "0" else "1"))
        self.assertEqual((status, out["__type"]), (401, "InvalidInstanceCredentialException"))
        self.assertNotIn(cred.split(":")[1], out["message"])
        # A valid credential writes only to its own running attempts' streams.
        status, out = push(self.server, {"auth/default/1": [(1, "x")]}, credential=cred)
        self.assertEqual((status, out["__type"]), (403, "AccessDeniedException"))
        self.assertIn(iid, out["message"])
        # Reads are signed requests, as for the rest of the AWS API.
        status, _, out = logs_call(self.server, "GetLogEvents",
                                   {"logGroupName": GROUP, "logStreamName": "auth/default/1"})
        self.assertEqual((status, out["__type"]), (403, "MissingAuthenticationTokenException"))

    def test_logs_survive_a_restart(self):
        s = Server().start()
        try:
            status, _ = push(s, {"keep/default/1": [(10 + i, "kept %d" % i) for i in range(3)]})
            self.assertEqual(status, 200)
            logs = s.client("logs")
            before = logs.get_log_events(logGroupName=GROUP, logStreamName="keep/default/1",
                                         startFromHead=True)
            created = logs.describe_log_groups()["logGroups"][0]["creationTime"]
            # kill -9: an acknowledged upload is committed, not waiting in memory.
            s.kill9()
            s.start()
            logs = s.client("logs")
            out = logs.get_log_events(logGroupName=GROUP, logStreamName="keep/default/1",
                                      startFromHead=True)
            self.assertEqual([e["message"] for e in out["events"]], ["kept 0", "kept 1", "kept 2"])
            self.assertEqual(out["events"], before["events"])
            self.assertEqual(logs.describe_log_groups()["logGroups"][0]["creationTime"], created)
            # A token from before the restart goes on where it left off.
            push(s, {"keep/default/1": [(100, "after")]})
            out = logs.get_log_events(logGroupName=GROUP, logStreamName="keep/default/1",
                                      nextToken=before["nextForwardToken"])
            self.assertEqual([e["message"] for e in out["events"]], ["after"])
            s.stop()
            s.start()
            out = s.client("logs").describe_log_streams(logGroupName=GROUP)
            self.assertEqual([x["logStreamName"] for x in out["logStreams"]], ["keep/default/1"])
            self.assertEqual(out["logStreams"][0]["lastEventTimestamp"], 100)
        finally:
            s.cleanup()


class GroupsAndStreamsByHand(ServerTestCase):
    def test_a_group_made_by_hand_lists_and_stays(self):
        # As CloudWatch: made once, then ResourceAlreadyExistsException (aegea makes its groups
        # before every submit and expects it); kept across a restart.
        logs = self.server.client("logs")
        self.assertEqual(logs.create_log_group(logGroupName="/made/by-hand")["ResponseMetadata"]
                         ["HTTPStatusCode"], 200)
        names = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
        self.assertEqual(names, [GROUP, "/made/by-hand"])
        for name in ("/made/by-hand", GROUP):
            self.assertClientError(logs.create_log_group, "already exists",
                                   code="ResourceAlreadyExistsException", logGroupName=name)
        self.assertEqual(logs.describe_log_streams(logGroupName="/made/by-hand")["logStreams"],
                         [])
        self.assertEqual(logs.create_log_group(logGroupName="classed", logGroupClass="STANDARD")
                         ["ResponseMetadata"]["HTTPStatusCode"], 200)
        # What barge would not keep is refused, naming the member, and makes nothing.
        for kw, fragment in (({"logGroupName": "bad name"}, "logGroupName"),
                             ({"logGroupName": "k", "kmsKeyId": "arn:aws:kms:x"}, "kmsKeyId"),
                             ({"logGroupName": "t", "tags": {"aws:a": "b"}}, "aws:"),
                             ({"logGroupName": "c", "logGroupClass": "INFREQUENT_ACCESS"},
                              "logGroupClass"),
                             ({"logGroupName": "p", "deletionProtectionEnabled": True},
                              "deletionProtectionEnabled")):
            self.assertClientError(logs.create_log_group, fragment,
                                   code="InvalidParameterException", **kw)
        self.server.stop()
        self.server.start()
        logs = self.server.client("logs")
        names = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
        self.assertEqual(names, [GROUP, "/made/by-hand", "classed"])

    def test_delete_log_stream(self):
        # As CloudWatch: the stream and its events go; a second delete, or one of a stream
        # that never was, is ResourceNotFoundException; an empty name is a bad parameter.
        logs = self.server.client("logs")
        status, out = push(self.server, {"del/default/1": [(1, "a"), (2, "b")],
                                         "keep/default/1": [(1, "c")]})
        self.assertEqual((status, out), (200, {}))
        logs.delete_log_stream(logGroupName=GROUP, logStreamName="del/default/1")
        self.assertClientError(logs.get_log_events, "does not exist",
                               code="ResourceNotFoundException", logGroupName=GROUP,
                               logStreamName="del/default/1")
        self.assertEqual([x["logStreamName"] for x in
                          logs.describe_log_streams(logGroupName=GROUP)["logStreams"]],
                         ["keep/default/1"])
        for group, stream in ((GROUP, "del/default/1"), (GROUP, "never"), ("/no/such", "x")):
            self.assertClientError(logs.delete_log_stream, "does not exist",
                                   code="ResourceNotFoundException", logGroupName=group,
                                   logStreamName=stream)
        # CreateLogStream: an empty stream, once; in a group that exists.
        logs.create_log_stream(logGroupName=GROUP, logStreamName="made/by/hand")
        self.assertEqual(logs.get_log_events(logGroupName=GROUP,
                                             logStreamName="made/by/hand")["events"], [])
        self.assertClientError(logs.create_log_stream, "already exists",
                               code="ResourceAlreadyExistsException", logGroupName=GROUP,
                               logStreamName="made/by/hand")
        self.assertClientError(logs.create_log_stream, "log group does not exist",
                               code="ResourceNotFoundException", logGroupName="/no/such",
                               logStreamName="x")
        self.assertClientError(logs.create_log_stream, "logStreamName",
                               code="InvalidParameterException", logGroupName=GROUP,
                               logStreamName="a:b")
        for op in ("GetLogEvents", "DeleteLogStream", "CreateLogStream"):
            status, _, out = logs_call(self.server, op, {"logGroupName": GROUP,
                                                         "logStreamName": ""})
            self.assertEqual((status, out["__type"]), (400, "InvalidParameterException"), op)
            self.assertIn("logStreamName", out["message"])

    def test_delete_log_group(self):
        # As CloudWatch: the group, its streams and their events go at once (more events than
        # the store deletes in one batch); other groups keep theirs; a second delete is
        # ResourceNotFoundException; a group made again under the name starts empty; all of it
        # across a restart.
        logs = self.server.client("logs")
        logs.create_log_group(logGroupName="/gone")
        logs.create_log_group(logGroupName="/kept")
        for group, stream in (("/gone", "g/one"), ("/gone", "g/two"), ("/kept", "k/one")):
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        for i in range(3):
            status, out = push(self.server, {
                "g/one": [(1000 * i + j, "line %d" % j) for j in range(2500)],
                "k/one": [(i, "kept %d" % i)]})
            self.assertEqual((status, out), (200, {}))
        self.assertEqual(len(logs.get_log_events(logGroupName="/gone", logStreamName="g/one",
                                                 startFromHead=True)["events"]), 7500)
        logs.delete_log_group(logGroupName="/gone")
        names = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
        self.assertNotIn("/gone", names)
        self.assertIn("/kept", names)
        self.assertClientError(logs.describe_log_streams, "does not exist",
                               code="ResourceNotFoundException", logGroupName="/gone")
        self.assertClientError(logs.get_log_events, "does not exist",
                               code="ResourceNotFoundException", logGroupName="/gone",
                               logStreamName="g/one")
        for name in ("/gone", "/never"):
            self.assertClientError(logs.delete_log_group, "does not exist",
                                   code="ResourceNotFoundException", logGroupName=name)
        # A name no group can have is a bad parameter, as CloudWatch checks its pattern first;
        # so for the calls on a group's retention and tags.
        for call, kw in ((logs.delete_log_group, {}),
                         (logs.put_retention_policy, {"retentionInDays": 1}),
                         (logs.delete_retention_policy, {}),
                         (logs.list_tags_log_group, {})):
            self.assertClientError(call, "'bad name' is not a log group name",
                                   code="InvalidParameterException", logGroupName="bad name", **kw)
        self.assertEqual([e["message"] for e in logs.get_log_events(
            logGroupName="/kept", logStreamName="k/one", startFromHead=True)["events"]],
            ["kept 0", "kept 1", "kept 2"])
        self.server.stop()
        self.server.start()
        logs = self.server.client("logs")
        self.assertNotIn("/gone", [g["logGroupName"]
                                   for g in logs.describe_log_groups()["logGroups"]])
        logs.create_log_group(logGroupName="/gone")
        self.assertEqual(logs.describe_log_streams(logGroupName="/gone")["logStreams"], [])
        self.assertEqual(logs.describe_log_groups(logGroupNamePrefix="/gone")["logGroups"][0]
                         ["storedBytes"], 0)
        self.assertEqual(len(logs.get_log_events(logGroupName="/kept", logStreamName="k/one",
                                                 startFromHead=True)["events"]), 3)

    def test_tags(self):
        # As Terraform's aws_cloudwatch_log_group with tags (default_tags give every resource
        # some): CreateLogGroup with tags, then ListTagsForResource by the group's ARN; changes
        # by TagResource and UntagResource, and by the older TagLogGroup, UntagLogGroup and
        # ListTagsLogGroup; CloudWatch's limits; kept across a restart; gone with the group.
        logs = self.server.client("logs")
        logs.create_log_group(logGroupName="/tagged", tags={"team": "data", "env": "dev"})
        arn = ARN_PREFIX + "/tagged"
        self.assertEqual(logs.list_tags_for_resource(resourceArn=arn)["tags"],
                         {"team": "data", "env": "dev"})
        self.assertEqual(logs.list_tags_for_resource(resourceArn=arn + ":*")["tags"],
                         {"team": "data", "env": "dev"})
        logs.tag_resource(resourceArn=arn, tags={"env": "prod", "cost": "42"})
        logs.untag_resource(resourceArn=arn, tagKeys=["team", "never"])
        self.assertEqual(logs.list_tags_for_resource(resourceArn=arn)["tags"],
                         {"env": "prod", "cost": "42"})
        logs.tag_log_group(logGroupName="/tagged", tags={"old": "api"})
        logs.untag_log_group(logGroupName="/tagged", tags=["cost"])
        self.assertEqual(logs.list_tags_log_group(logGroupName="/tagged")["tags"],
                         {"env": "prod", "old": "api"})
        logs.create_log_group(logGroupName="/untagged")
        self.assertEqual(logs.list_tags_for_resource(resourceArn=ARN_PREFIX + "/untagged")
                         ["tags"], {})
        # Refusals change nothing.
        self.assertClientError(logs.tag_resource, "50", code="TooManyTagsException",
                               resourceArn=arn, tags={"k%d" % i: "v" for i in range(49)})
        self.assertClientError(logs.tag_resource, "aws:", code="InvalidParameterException",
                               resourceArn=arn, tags={"aws:x": "y"})
        self.assertClientError(logs.create_log_group, "128", code="InvalidParameterException",
                               logGroupName="/long-key", tags={"k" * 129: "v"})
        self.assertNotIn("/long-key", [g["logGroupName"] for g in
                                       logs.describe_log_groups()["logGroups"]])
        self.assertClientError(logs.list_tags_for_resource, "does not exist",
                               code="ResourceNotFoundException", resourceArn=ARN_PREFIX + "/never")
        # Another resource's ARN, or another region's, is a bad parameter, not a missing group.
        for other in ("arn:aws:logs:us-east-1:123456789012:destination:d",
                      "arn:aws:logs:eu-west-1:123456789012:log-group:/tagged"):
            self.assertClientError(logs.list_tags_for_resource, "resourceArn",
                                   code="InvalidParameterException", resourceArn=other)
        # A NUL in a value or a key to remove, and calls with nothing to do, are refused
        # (boto3 lets none of them through, so they go raw).
        for op, body, fragment in (
                ("TagResource", '{"resourceArn": "%s", "tags": {"n": "a\\u0000b"}}' % arn, "NUL"),
                ("UntagResource", '{"resourceArn": "%s", "tagKeys": ["env\\u0000x"]}' % arn,
                 "NUL"),
                ("TagResource", '{"resourceArn": "%s", "tags": {}}' % arn, "at least one"),
                ("UntagResource", '{"resourceArn": "%s", "tagKeys": []}' % arn, "at least one")):
            status, _, out = logs_call(self.server, op, body.encode())
            self.assertEqual((status, out["__type"]), (400, "InvalidParameterException"), op)
            self.assertIn(fragment, out["message"])
        self.assertEqual(logs.list_tags_for_resource(resourceArn=arn)["tags"],
                         {"env": "prod", "old": "api"})
        self.server.stop()
        self.server.start()
        logs = self.server.client("logs")
        self.assertEqual(logs.list_tags_for_resource(resourceArn=arn)["tags"],
                         {"env": "prod", "old": "api"})
        logs.delete_log_group(logGroupName="/tagged")
        logs.create_log_group(logGroupName="/tagged")
        self.assertEqual(logs.list_tags_for_resource(resourceArn=arn)["tags"], {})

    def test_retention_policy(self):
        # As Terraform's log groups with retention_in_days: CreateLogGroup, then
        # PutRetentionPolicy.  Events older than the retention go (barge lets them go at once
        # and then hourly; CloudWatch within three days), from this group only; the stream
        # stays; DescribeLogGroups says the retention until DeleteRetentionPolicy.
        logs = self.server.client("logs")
        logs.create_log_group(logGroupName="/ret/days")
        logs.create_log_stream(logGroupName="/ret/days", logStreamName="r/one")
        logs.create_log_group(logGroupName="/ret/none")
        logs.create_log_stream(logGroupName="/ret/none", logStreamName="n/one")
        now = int(time.time() * 1000)
        old = now - 3 * 86400 * 1000
        status, out = push(self.server, {
            "r/one": [(old + i, "old %d" % i) for i in range(7000)] + [(now, "new")],
            "n/one": [(old, "kept")]})
        self.assertEqual((status, out), (200, {}))
        group = logs.describe_log_groups(logGroupNamePrefix="/ret/days")["logGroups"][0]
        self.assertNotIn("retentionInDays", group)
        logs.put_retention_policy(logGroupName="/ret/days", retentionInDays=1)
        group = logs.describe_log_groups(logGroupNamePrefix="/ret/days")["logGroups"][0]
        self.assertEqual(group["retentionInDays"], 1)
        deadline = time.time() + 20
        while True:
            events = logs.get_log_events(logGroupName="/ret/days", logStreamName="r/one",
                                         startFromHead=True)["events"]
            if [e["message"] for e in events] == ["new"]:
                break
            self.assertLess(time.time(), deadline, "old events were kept: %d" % len(events))
            time.sleep(0.2)
        stream = logs.describe_log_streams(logGroupName="/ret/days")["logStreams"][0]
        self.assertEqual((stream["storedBytes"], stream["firstEventTimestamp"]), (3, now))
        self.assertEqual(logs.describe_log_groups(logGroupNamePrefix="/ret/days")
                         ["logGroups"][0]["storedBytes"], 3)
        self.assertEqual([e["message"] for e in logs.get_log_events(
            logGroupName="/ret/none", logStreamName="n/one", startFromHead=True)["events"]],
            ["kept"])
        # Refusals: a number of days CloudWatch does not offer, a group that does not exist.
        for days in (0, 2, 4000):
            self.assertClientError(logs.put_retention_policy, "retentionInDays",
                                   code="InvalidParameterException",
                                   logGroupName="/ret/days", retentionInDays=days)
        for op, kw in ((logs.put_retention_policy, {"retentionInDays": 7}),
                       (logs.delete_retention_policy, {})):
            self.assertClientError(op, "does not exist", code="ResourceNotFoundException",
                                   logGroupName="/ret/never", **kw)
        # Kept across a restart; gone with DeleteRetentionPolicy, and old events stay again.
        self.server.stop()
        self.server.start()
        logs = self.server.client("logs")
        self.assertEqual(logs.describe_log_groups(logGroupNamePrefix="/ret/days")
                         ["logGroups"][0]["retentionInDays"], 1)
        logs.delete_retention_policy(logGroupName="/ret/days")
        self.assertNotIn("retentionInDays", logs.describe_log_groups(
            logGroupNamePrefix="/ret/days")["logGroups"][0])
        status, out = push(self.server, {"r/one": [(old, "old again")],
                                         "n/one": [(1000, "from 1970")]})
        self.assertEqual((status, out), (200, {}))
        # A pass runs (it takes 1970's line of the other group, which keeps ten years)...
        logs.put_retention_policy(logGroupName="/ret/none", retentionInDays=3653)
        deadline = time.time() + 20
        while "from 1970" in [e["message"] for e in logs.get_log_events(
                logGroupName="/ret/none", logStreamName="n/one", startFromHead=True)["events"]]:
            self.assertLess(time.time(), deadline, "no retention pass ran")
            time.sleep(0.2)
        # ... and leaves the group without a retention alone.
        self.assertEqual([e["message"] for e in logs.get_log_events(
            logGroupName="/ret/days", logStreamName="r/one", startFromHead=True)["events"]],
            ["old again", "new"])


if __name__ == "__main__":
    import unittest
    unittest.main()
