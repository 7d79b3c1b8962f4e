"""GetUsage (POST /barge/v1/getusage): a queue's usage summed by the server, by job definition,
by a tag's value (the jobs without the tag in a group whose key is null) or for the whole queue,
a page of jobs a call; the pages add up to what the jobs' own descriptions say (barge.usage),
array jobs through their children.  `barge usage` adds the pages the same way."""
import json

from test_cli import barge
from test_jobs_common import JobsCase

JSON = {"Content-Type": "application/json"}


class GetUsage(JobsCase):
    @classmethod
    def setUpResources(cls):
        cls.make_definition("jd-other")
        # A queue each, so that the tests' sums do not meet.
        cls.make_queue("sums", ["ce"])
        cls.make_queue("nodes", ["ce"])
        cls.make_queue("empty", ["ce-off"])
        cls.make_queue("tokens", ["ce-off"])
        cls.make_queue("untagged", ["ce-off"])
        cls.make_queue("again", ["ce-off"])
        cls.make_queue("window", ["ce"])
        # Each node runs a fifth of a second at least: a node that ends within the millisecond
        # it started in has held nothing, and the sums below would prove nothing.
        node = {"image": "busybox", "command": ["sh", "-c", "dd if=/dev/zero of=/dev/null "
                                                "bs=1M count=8 2>/dev/null; sleep 0.2"],
                "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                         {"type": "MEMORY", "value": "64"}]}
        cls.batch.register_job_definition(
            jobDefinitionName="mnp", type="multinode", nodeProperties={
                "numNodes": 2, "mainNode": 0,
                "nodeRangeProperties": [{"targetNodes": "0:", "container": node}]})

    def usage(self, **req):
        return self.server.raw("POST", "/barge/v1/getusage", req, JSON)

    def pages(self, **req):
        """Every page's groups added up, as a client does: {key: group}, and the page count."""
        out, pages, token = {}, 0, None
        while True:
            body = dict(req, **({"nextToken": token} if token else {}))
            status, _, page = self.usage(**body)
            self.assertEqual(status, 200, page)
            pages += 1
            for g in page["groups"]:
                o = out.setdefault(g["key"], {"jobs": 0, "vcpuSeconds": 0.0,
                                              "memoryGiBSeconds": 0.0, "cpuSeconds": 0.0,
                                              "maxMemoryBytes": 0})
                for k in ("jobs", "vcpuSeconds", "memoryGiBSeconds", "cpuSeconds"):
                    o[k] += g[k]
                o["maxMemoryBytes"] = max(o["maxMemoryBytes"], g["maxMemoryBytes"])
            token = page.get("nextToken")
            if not token:
                return out, pages

    def expected(self, ids, key):
        """The sums the jobs' own descriptions give, by key(description)."""
        out = {}
        for jid in ids:
            d = self.raw_job(jid)
            kids = [d]
            size = (d.get("arrayProperties") or {}).get("size", 0)
            if size:
                kids = [self.raw_job("%s:%d" % (jid, i)) for i in range(size)]
            for k in kids:
                u = k["barge"]["usage"]
                o = out.setdefault(key(d), {"jobs": 0, "vcpuSeconds": 0.0,
                                            "memoryGiBSeconds": 0.0, "cpuSeconds": 0.0,
                                            "maxMemoryBytes": 0})
                o["jobs"] += 1
                o["vcpuSeconds"] += u["vcpuSeconds"]
                o["memoryGiBSeconds"] += u["memoryGiBSeconds"]
                o["cpuSeconds"] += u.get("cpuSeconds", 0.0)
                o["maxMemoryBytes"] = max(o["maxMemoryBytes"], u.get("maxMemoryBytes", 0))
        return out

    def assertSums(self, got, want):
        self.assertEqual(sorted(got, key=str), sorted(want, key=str))
        for k in want:
            self.assertEqual(got[k]["jobs"], want[k]["jobs"], k)
            self.assertEqual(got[k]["maxMemoryBytes"], want[k]["maxMemoryBytes"], k)
            for m in ("vcpuSeconds", "memoryGiBSeconds", "cpuSeconds"):
                self.assertAlmostEqual(got[k][m], want[k][m], places=6, msg=(k, m))

    def test_pages_add_up_to_the_jobs_descriptions(self):
        ids = [self.submit("u%d" % i, queue="sums", definition="jd" if i % 2 else "jd-other",
                           # Held at least 0.1 s: a job that ends within the millisecond
                           # it started has held 0 vCPU-seconds.
                           command="dd if=/dev/zero of=/dev/null bs=1M count=8 2>/dev/null; "
                                   "sleep 0.1",
                           tags={"team": "red" if i % 3 else "blue"} if i < 5 else {})
               for i in range(6)]
        ids.append(self.submit("arr", queue="sums", command="true", arrayProperties={"size": 3},
                               tags={"team": "red"}))
        self.wait_jobs(ids, timeout=60)
        # Every job held something: a sum of zeros would prove nothing.
        self.assertTrue(all(self.raw_job(j)["barge"]["usage"]["vcpuSeconds"] > 0
                            for j in ids[:6]))
        by_def = self.expected(ids, lambda d: d["jobDefinition"].split("/")[-1].split(":")[0])
        by_tag = self.expected(ids, lambda d: (d.get("tags") or {}).get("team"))
        self.assertEqual(by_def["jd"]["jobs"] + by_def["jd-other"]["jobs"], 9)
        # One call; then one queue job a page (the array whole in one): the same sums.
        one, pages = self.pages(jobQueue="sums")
        self.assertEqual(pages, 1)
        self.assertSums(one, by_def)
        paged, pages = self.pages(jobQueue="sums", maxJobs=1)
        self.assertEqual(pages, 7)
        self.assertSums(paged, by_def)
        tagged, _ = self.pages(jobQueue="sums", by="tag:team", maxJobs=2)
        self.assertSums(tagged, by_tag)
        self.assertEqual(tagged["red"]["jobs"], 3 + 3)  # u1, u2, u4 and the array's 3
        self.assertEqual(tagged[None]["jobs"], 1)
        arn = self.batch.describe_job_queues(jobQueues=["sums"])["jobQueues"][0]["jobQueueArn"]
        whole, _ = self.pages(jobQueue=arn, by="queue")
        self.assertEqual(whole["sums"]["jobs"], 9)
        # A queue with no jobs: no groups.
        empty, _ = self.pages(jobQueue="empty")
        self.assertEqual(empty, {})
        # The CLI adds the same pages.
        rc, out, err = barge("usage", "--queue", "sums", "--by", "tag:team", "--json",
                             endpoint=self.server.url)
        self.assertEqual(rc, 0, err)
        cli = {g["group"]: g for g in json.loads(out)}
        self.assertEqual({k: g["jobs"] for k, g in cli.items()},
                         {k: g["jobs"] for k, g in by_tag.items()})

    def test_a_multi_node_job_is_one_job_with_what_its_nodes_held(self):
        jid = self.batch.submit_job(jobName="mnp", jobQueue="nodes", jobDefinition="mnp")["jobId"]
        self.assertEqual(self.wait_job(jid, timeout=60)["status"], "SUCCEEDED")
        nodes = [self.raw_job("%s#%d" % (jid, i))["barge"]["usage"] for i in range(2)]
        self.assertTrue(all(u["vcpuSeconds"] > 0 for u in nodes), nodes)
        got, _ = self.pages(jobQueue="nodes")
        self.assertEqual(list(got), ["mnp"])
        self.assertEqual(got["mnp"]["jobs"], 1)
        self.assertAlmostEqual(got["mnp"]["vcpuSeconds"], sum(u["vcpuSeconds"] for u in nodes),
                               places=6)
        self.assertAlmostEqual(got["mnp"]["memoryGiBSeconds"],
                               sum(u["memoryGiBSeconds"] for u in nodes), places=6)

    def test_jobs_without_the_tag_are_apart_from_any_value(self):
        # "-" is a value a job may be tagged with, as any string is: the jobs without the tag
        # are a group of their own, whose key is null.
        self.submit("none", queue="untagged")
        self.submit("other", queue="untagged", tags={"colour": "red"})
        self.submit("dash", queue="untagged", tags={"team": "-"})
        self.submit("red", queue="untagged", tags={"team": "red"})
        # Values that read as the untagged group, or as nothing, in the table.
        self.submit("fake", queue="untagged", tags={"team": "(untagged)"})
        self.submit("empty", queue="untagged", tags={"team": ""})
        want = {None: 2, "-": 1, "red": 1, "(untagged)": 1, "": 1}
        got, _ = self.pages(jobQueue="untagged", by="tag:team", maxJobs=1)
        self.assertEqual({k: g["jobs"] for k, g in got.items()}, want)
        rc, out, err = barge("usage", "--queue", "untagged", "--by", "tag:team", "--json",
                             endpoint=self.server.url)
        self.assertEqual(rc, 0, err)
        self.assertEqual({g["group"]: g["jobs"] for g in json.loads(out)}, want)
        rc, out, err = barge("usage", "--queue", "untagged", "--by", "tag:team",
                             endpoint=self.server.url)
        self.assertEqual(rc, 0, err)
        rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:]}
        self.assertEqual(rows, {"(untagged)": "2", "-": "1", "red": "1", '"(untagged)"': "1",
                                '""': "1"})

    def test_a_token_is_for_its_queue_grouping_and_window(self):
        """A page asked with another queue, grouping or window than the first would be added
        up with it into figures of nothing: its token is refused, naming what to repeat."""
        for i in range(2):
            self.submit("t%d" % i, queue="tokens")
        status, _, page = self.usage(jobQueue="tokens", maxJobs=1)
        self.assertEqual(status, 200, page)
        self.assertIn("nextToken", page)
        for other in ({"jobQueue": "empty"}, {"jobQueue": "tokens", "by": "queue"},
                      {"jobQueue": "tokens", "by": "tag:team"},
                      {"jobQueue": "tokens", "endedAfter": 0},
                      {"jobQueue": "tokens", "endedBefore": 4102444800000},
                      # The widest window there is still counts only the jobs with an
                      # attempt in it.
                      {"jobQueue": "tokens", "endedBefore": 9223372036854775807}):
            status, _, body = self.usage(nextToken=page["nextToken"], **other)
            self.assertEqual(status, 400, (other, body))
            self.assertIn("same jobQueue, by, endedAfter and endedBefore", body["message"])
        status, _, rest = self.usage(jobQueue="tokens", nextToken=page["nextToken"])
        self.assertEqual(status, 200, rest)
        self.assertEqual(sum(g["jobs"] for g in page["groups"] + rest["groups"]), 2)
        # A windowed sum's pages go on with the same window and grouping.
        window = {"jobQueue": "tokens", "by": "queue", "endedAfter": 0,
                  "endedBefore": 4102444800000}
        status, _, page = self.usage(maxJobs=1, **window)
        self.assertEqual(status, 200, page)
        self.assertIn("nextToken", page)
        status, _, rest = self.usage(nextToken=page["nextToken"], **window)
        self.assertEqual(status, 200, rest)

    def test_a_token_of_a_queue_made_again_is_refused(self):
        for i in range(2):
            self.submit("a%d" % i, queue="again")
        status, _, page = self.usage(jobQueue="again", maxJobs=1)
        self.assertEqual(status, 200, page)
        self.assertIn("nextToken", page)
        self.batch.update_job_queue(jobQueue="again", state="DISABLED")
        self.wait_for(lambda: self.batch.describe_job_queues(jobQueues=["again"])[
            "jobQueues"][0]["status"] == "VALID", what="the queue disabled")
        self.batch.delete_job_queue(jobQueue="again")
        self.wait_for(lambda: self.batch.describe_job_queues(jobQueues=["again"])[
            "jobQueues"][0]["status"] == "DELETED", what="the queue deleted")
        self.make_queue("again", ["ce-off"])
        status, _, body = self.usage(jobQueue="again", nextToken=page["nextToken"])
        self.assertEqual(status, 400, body)
        self.assertIn("nextToken", body["message"])

    def test_a_tag_key_is_checked_as_aws_checks_one(self):
        # Any KEY was taken: one no tag can have put every job among the untagged, without a
        # word.  AWS counts a tag key's characters, not its bytes: 128 of "é" are 256 bytes.
        status, _, body = self.usage(jobQueue="empty", by="tag:" + "\u00e9" * 128)
        self.assertEqual(status, 200, body)
        for key in ("k" * 129, "\u00e9" * 129):
            status, _, body = self.usage(jobQueue="empty", by="tag:" + key)
            self.assertEqual(status, 400, body)
            self.assertEqual(body["__type"], "ClientException", body)
            self.assertIn("by: the KEY of tag:KEY is a tag key, 1 to 128 characters long (got "
                          "129 characters", body["message"])

    def test_a_window_counts_the_attempts_that_ended_in_it(self):
        """endedAfter/endedBefore: each attempt counts whole in the window it ended in, a job
        when one of its attempts did; adjacent windows add up to the whole."""
        busy = "dd if=/dev/zero of=/dev/null bs=1M count=8 2>/dev/null; sleep 0.2"
        first = self.submit("w-first", queue="window", command=busy)
        self.wait_jobs([first], timeout=60)
        # Two attempts, the first failing: they end on either side of the second window's start.
        retried = self.submit("w-retried", queue="window", command=busy + "; exit 1",
                              retryStrategy={"attempts": 2})
        self.wait_jobs([retried], timeout=60)
        d1, d2 = self.raw_job(first), self.raw_job(retried)
        a1 = [a["stoppedAt"] for a in d1["attempts"]]
        a2 = [a["stoppedAt"] for a in d2["attempts"]]
        self.assertEqual((len(a1), len(a2)), (1, 2))
        self.assertLess(a1[0], a2[0])
        self.assertLess(a2[0], a2[1])
        use1 = [r["usage"] for r in d1["barge"]["attempts"]]
        use2 = [r["usage"] for r in d2["barge"]["attempts"]]
        self.assertTrue(all(u["vcpuSeconds"] > 0 for u in use1 + use2), (use1, use2))

        def sums(**window):
            got, _ = self.pages(jobQueue="window", by="queue", **window)
            return got.get("window")

        def want(*uses):
            return {"jobs": None, "vcpuSeconds": sum(u["vcpuSeconds"] for u in uses),
                    "memoryGiBSeconds": sum(u["memoryGiBSeconds"] for u in uses)}

        # The first job's attempt alone; the retried job's first attempt alone (the job counted
        # once); its second; and from the start of time to the end: everything.
        for window, jobs, uses in (({"endedBefore": a1[0] + 1}, 1, use1),
                                   ({"endedAfter": a1[0] + 1, "endedBefore": a2[1]}, 1,
                                    use2[:1]),
                                   ({"endedAfter": a2[1]}, 1, use2[1:]),
                                   ({"endedAfter": a1[0], "endedBefore": a2[1] + 1}, 2,
                                    use1 + use2)):
            got = sums(**window)
            self.assertEqual(got["jobs"], jobs, (window, got))
            w = want(*uses)
            for k in ("vcpuSeconds", "memoryGiBSeconds"):
                self.assertAlmostEqual(got[k], w[k], places=6, msg=(window, k))
        # Figures in the fewest digits that read back: 0.215, not 0.21499999999999999 (each
        # of these is one attempt's, made by one multiplication or division).
        import re
        import urllib.request
        for path, body in (("/v1/describejobs", {"jobs": [first]}),
                           ("/barge/v1/getusage", {"jobQueue": "window",
                                                   "endedBefore": a1[0] + 1})):
            req = urllib.request.Request(self.server.url + path, json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
            text = urllib.request.urlopen(req, timeout=10).read().decode()
            self.assertIn("vcpuSeconds", text)
            self.assertIsNone(re.search(r"\d\.\d{16,}", text), text)
        # A window in which nothing ended: no group at all.
        self.assertIsNone(sums(endedAfter=a2[1] + 1))
        self.assertIsNone(sums(endedBefore=a1[0]))
        # Without a window every job of the queue counts, as before; the sum of the attempts'
        # figures is exact (in millionths), not doubles added up.
        self.assertEqual(sums()["jobs"], 2)
        self.assertEqual(sums()["vcpuSeconds"],
                         sum(round(u["vcpuSeconds"] * 1e6) for u in use1 + use2) / 1e6)
        # The CLI's --since and --until send the same window.
        rc, out, err = barge("usage", "--queue", "window", "--by", "queue", "--json",
                             "--since", "1h", "--until", "now", endpoint=self.server.url)
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)[0]["jobs"], 2)
        rc, out, err = barge("usage", "--queue", "window", "--json", "--until", "2000-01-01",
                             endpoint=self.server.url)
        self.assertEqual((rc, json.loads(out)), (0, []), err)
        rc, _, err = barge("usage", "--queue", "window", "--since", "now", "--until", "1h",
                           endpoint=self.server.url)
        self.assertEqual(rc, 2)
        self.assertIn("--until must be later than --since", err)

    def test_bad_requests_name_the_member(self):
        for req, words in (({"jobQueue": "q", "by": "colour"}, "by: 'colour'"),
                           ({"jobQueue": "q", "by": "tag:"}, "by: 'tag:'"),
                           ({"jobQueue": "nope"}, "no job queue named 'nope'"),
                           ({"jobQueue": "q", "nextToken": "zz"}, "nextToken"),
                           ({"jobQueue": "q", "nextToken": "706f733a31"}, "nextToken"),
                           # Tokens of the right shape at no position this server gives: a
                           # page of nothing without a nextToken would look like the end.
                           *(({"jobQueue": "q", "nextToken": (
                               "usage:%s:q:0:-9223372036854775808:9223372036854775807:definition"
                               % seq).encode().hex()}, "nextToken")
                             for seq in ("-1", "+1", "", "0", "01", " 1", "1 ", "18446744073709551615",
                                         "18446744073709551616", "99999999999999999999999")),
                           ({"jobQueue": "q", "maxJobs": 0}, "maxJobs"),
                           ({"jobQueue": "q", "endedAfter": 5, "endedBefore": 5},
                            "endedBefore (5) must be later than endedAfter (5)"),
                           ({"jobQueue": "q", "endedAfter": "yesterday"}, "endedAfter"),
                           ({}, "jobQueue")):
            status, _, body = self.usage(**req)
            self.assertEqual(status, 400, (req, body))
            self.assertEqual(body["__type"], "ClientException", body)
            self.assertIn(words, body["message"], (req, body))
