"""FilterLogEvents' patterns and time range, DescribeLogGroups by identifiers page by page, and
the answers to names and ARNs no log group can have, read with boto3's logs client and raw
requests, over lines pushed as an agent pushes them (test_logs_api.push)."""
from harness import ServerTestCase
from test_logs_api import ARN_PREFIX, GROUP, logs_call, push


class FilterPatterns(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.logs = cls.server.client("logs")
        status, out = push(cls.server, {"pat/default/a": [
            (10, "ERROR disk full"), (20, "WARN slow disk"), (30, "Error: connection failed"),
            (40, "INFO ok"), (50, "UNAUTHORIZED request"), (60, "AUTHORIZED request"),
            (70, "GET /index 10.0.0.12 200"), (80, "ERROR MainThread stopped"),
            (90, "WARN Deadlock found"), (100, "MainThread Deadlock"), (110, "a-b.c"),
            (120, "tab\there")]})
        assert (status, out) == (200, {}), out

    def matched(self, pattern, **kw):
        out = self.logs.filter_log_events(logGroupName=GROUP, logStreamNamePrefix="pat/",
                                          filterPattern=pattern, **kw)
        return [e["message"] for e in out["events"]]

    def refused(self, pattern):
        status, _, out = logs_call(self.server, "FilterLogEvents", {
            "logGroupName": GROUP, "logStreamNamePrefix": "pat/", "filterPattern": pattern})
        self.assertEqual((status, out.get("__type")), (400, "InvalidParameterException"),
                         (pattern, out))
        return out["message"]

    def test_regular_expressions(self):
        # %...% is CloudWatch's regular expression; it was searched for as literal text, so
        # matched nothing.  It must match as CloudWatch documents, with \d \w \s and escapes.
        self.assertEqual(self.matched("%[Ee]rror|[Ff]ail%"), ["Error: connection failed"])
        self.assertEqual(self.matched("%ERROR|[Ff]ail%"),
                         ["ERROR disk full", "Error: connection failed", "ERROR MainThread stopped"])
        self.assertEqual(self.matched("%AUTHORIZED%"),
                         ["UNAUTHORIZED request", "AUTHORIZED request"])
        self.assertEqual(self.matched("%^AUTHORIZED%"), ["AUTHORIZED request"])
        self.assertEqual(self.matched(r"%\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}%"),
                         ["GET /index 10.0.0.12 200"])
        self.assertEqual(self.matched(r"%^\w+\s\w+$%"),
                         ["INFO ok", "UNAUTHORIZED request", "AUTHORIZED request",
                          "MainThread Deadlock", "tab\there"])
        self.assertEqual(self.matched(r"%a\-b\.c%"), ["a-b.c"])
        self.assertEqual(self.matched(r"%[\d]{3}$%"), ["GET /index 10.0.0.12 200"])
        self.assertEqual(self.matched(r"%^[\w\-]+\.c$%"), ["a-b.c"])
        self.assertEqual(self.matched(r"%full\S*$%"), ["ERROR disk full"])
        self.assertEqual(self.matched("  %slow%  "), ["WARN slow disk"])
        # What cannot be matched as CloudWatch would is refused, naming the pattern: a pattern
        # that does not compile, what CloudWatch does not allow, and a regular expression
        # among other terms (CloudWatch's stand alone), and bounds that would take the server's
        # memory to compile.
        for pattern, fragment in (("%[Ee%", "not closed"), ("%a{2,1}%", ""),
                                  ("%(ERROR)%", "parentheses"), ("%fail!%", "character"),
                                  ("%a b%", "character"), ("%É%", "multi-byte"),
                                  (r"%a\%", "lone backslash"), (r"%\q%", "escape"),
                                  (r"%[\D]%", "inside [ ]"), ("%%", "empty"),
                                  ("%a{1000}{1000}%", "another quantifier"),
                                  ("%a{1,1001}%", "at most 1000"),
                                  ("ERROR %disk%", "of its own"),
                                  ("?%ERROR% ?WARN", "of its own")):
            message = self.refused(pattern)
            self.assertIn("filterPattern", message)
            self.assertIn(fragment, message, pattern)
        # % elsewhere in a term is text, as before.
        self.assertEqual(self.matched('"%disk%"'), [])
        self.assertEqual(self.matched("%"), [])

    def test_term_groups(self):
        # AWS CDK's FilterPattern.anyTermGroup: each ?term starts a group that the plain terms
        # after it join; a line matches when it holds a whole group.  It was read as one flat
        # list (MainThread and Deadlock required, ERROR or WARN too) and matched nothing.
        self.assertEqual(self.matched('?"ERROR" "MainThread" ?"WARN" "Deadlock"'),
                         ["ERROR MainThread stopped", "WARN Deadlock found"])
        # Plain terms before the first ?term, and exclusions, hold for every group.
        self.assertEqual(self.matched("disk ?ERROR ?WARN"),
                         ["ERROR disk full", "WARN slow disk"])
        self.assertEqual(self.matched("?ERROR MainThread ?WARN -found ?Deadlock"),
                         ["WARN slow disk", "ERROR MainThread stopped", "MainThread Deadlock"])
        # As before: ?terms alone are alternatives, plain terms all needed.
        self.assertEqual(self.matched("?UNAUTHORIZED ?Deadlock"),
                         ["UNAUTHORIZED request", "WARN Deadlock found", "MainThread Deadlock"])
        self.assertEqual(self.matched("MainThread Deadlock"), ["MainThread Deadlock"])
        self.assertEqual(self.matched("ERROR -MainThread"), ["ERROR disk full"])

    def test_end_time_is_included(self):
        # FilterLogEvents returns an event stamped endTime ("Events with a timestamp later
        # than this time are not returned"); it left it out, as GetLogEvents' endTime does.
        self.assertEqual(self.matched("", startTime=20, endTime=40),
                         ["WARN slow disk", "Error: connection failed", "INFO ok"])
        self.assertEqual(self.matched("", startTime=40, endTime=40), ["INFO ok"])
        self.assertEqual(self.matched("", endTime=10), ["ERROR disk full"])
        # GetLogEvents' endTime stays excluded.
        out = self.logs.get_log_events(logGroupName=GROUP, logStreamName="pat/default/a",
                                       startTime=20, endTime=40, startFromHead=True)
        self.assertEqual([e["message"] for e in out["events"]],
                         ["WARN slow disk", "Error: connection failed"])


class NamedGroupsAndBadNames(ServerTestCase):
    def test_identifiers_page_on(self):
        # DescribeLogGroups with logGroupIdentifiers and a limit answered the first groups and
        # no nextToken, so the rest could not be reached.  Every named group must be reached,
        # page by page, filtered by a pattern as well.
        logs = self.server.client("logs")
        for i in range(5):
            logs.create_log_group(logGroupName="/named/%d" % i)
        ids = ["/named/%d" % i for i in (4, 0, 3, 1, 2)] + [ARN_PREFIX + "/named/2:*", "/no/such"]
        for extra, want in (({}, ["/named/%d" % i for i in range(5)]),
                            ({"logGroupNamePattern": "MED/3"}, ["/named/3"]),
                            ({"logGroupNamePrefix": "/named/"}, ["/named/%d" % i for i in range(5)])):
            for limit in (1, 2, 5):
                got, pages, body = [], 0, dict(logGroupIdentifiers=ids, limit=limit, **extra)
                while True:
                    out = logs.describe_log_groups(**body)
                    pages += 1
                    got += [g["logGroupName"] for g in out["logGroups"]]
                    self.assertLessEqual(len(out["logGroups"]), limit)
                    if "nextToken" not in out:
                        break
                    body["nextToken"] = out["nextToken"]
                    self.assertLess(pages, 20)
                self.assertEqual(got, want, (extra, limit))
        paginated = [g["logGroupName"] for p in logs.get_paginator("describe_log_groups")
                     .paginate(logGroupIdentifiers=ids, PaginationConfig={"PageSize": 2})
                     for g in p["logGroups"]]
        self.assertEqual(paginated, ["/named/%d" % i for i in range(5)])
        self.assertClientError(logs.describe_log_groups, "nextToken",
                               code="InvalidParameterException", logGroupIdentifiers=ids,
                               nextToken="not-a-token")

    def test_names_and_arns_no_group_can_have(self):
        # A log group name or stream name no group or stream can have, and another resource's
        # or region's ARN, are bad parameters, as CloudWatch answers and as docs/logs.md says;
        # they were answered ResourceNotFoundException.
        logs = self.server.client("logs")
        logs.create_log_group(logGroupName="/g/1")
        logs.create_log_stream(logGroupName="/g/1", logStreamName="ab")
        for kw, fragment in (({"logGroupName": "bad name!", "logStreamName": "ab"},
                              "logGroupName"),
                             ({"logGroupIdentifier": "bad name!", "logStreamName": "ab"},
                              "logGroupIdentifier"),
                             ({"logGroupName": "/g/1", "logStreamName": "a:b"},
                              "logStreamName"),
                             ({"logGroupName": "/g/1", "logStreamName": "a*b"},
                              "logStreamName")):
            self.assertClientError(logs.get_log_events, fragment,
                                   code="InvalidParameterException", **kw)
        self.assertClientError(logs.delete_log_stream, "logStreamName",
                               code="InvalidParameterException", logGroupName="/g/1",
                               logStreamName="a:b")
        self.assertClientError(logs.filter_log_events, "logGroupName",
                               code="InvalidParameterException", logGroupName="bad name!")
        for arn in (ARN_PREFIX + "/g/1:log-stream:ab",
                    "arn:aws:logs:eu-west-1:123456789012:log-group:/g/1",
                    "arn:aws:logs:us-east-1:210987654321:log-group:/g/1"):
            self.assertClientError(logs.list_tags_for_resource, "resourceArn",
                                   code="InvalidParameterException", resourceArn=arn)
            self.assertClientError(logs.tag_resource, "resourceArn",
                                   code="InvalidParameterException", resourceArn=arn,
                                   tags={"k": "v"})
            self.assertClientError(logs.untag_resource, "resourceArn",
                                   code="InvalidParameterException", resourceArn=arn,
                                   tagKeys=["k"])
        # A group that may exist but does not, and a stream that does not, are still not found.
        self.assertClientError(logs.list_tags_for_resource, "does not exist",
                               code="ResourceNotFoundException", resourceArn=ARN_PREFIX + "/g/2")
        self.assertClientError(logs.get_log_events, "does not exist",
                               code="ResourceNotFoundException", logGroupName="/g/2",
                               logStreamName="ab")
        self.assertClientError(logs.get_log_events, "does not exist",
                               code="ResourceNotFoundException", logGroupName="/g/1",
                               logStreamName="cd")
        self.assertEqual(logs.list_tags_for_resource(resourceArn=ARN_PREFIX + "/g/1")["tags"], {})
