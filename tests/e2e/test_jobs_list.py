"""DescribeJobs and ListJobs: up to 100 ids, array children as PARENT:INDEX, unknown ids left out;
listing by queue and status, by array, with each filter, and page by page (by hand, with the
boto3 paginator and with the AWS CLI).  Jobs go to the "parked" queue, where they stay RUNNABLE."""
import time

from harness import arn
from test_jobs_common import JobsCase


class DescribeJobs(JobsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.parent = cls.batch.submit_job(jobName="big", jobQueue="parked", jobDefinition="jd",
                                          arrayProperties={"size": 150})["jobId"]

    def test_children_by_parent_and_index(self):
        p = self.parent
        got = self.batch.describe_jobs(jobs=[p + ":0", p + ":149", p + ":7"])["jobs"]
        self.assertEqual([d["jobId"] for d in got], [p + ":0", p + ":149", p + ":7"])
        for d in got:
            index = int(d["jobId"].split(":")[1])
            # As AWS describes a child: its index and an empty summary, no size.
            self.assertEqual(d["arrayProperties"], {"statusSummary": {}, "index": index})
            self.assertEqual(d["jobArn"], arn("job", d["jobId"]))
            self.assertEqual(d["jobName"], "big")
            self.assertEqual(d["status"], "RUNNABLE")
        parent = self.job(p)
        self.assertEqual(parent["arrayProperties"]["size"], 150)
        self.assertEqual(parent["arrayProperties"]["statusSummary"]["RUNNABLE"], 150)
        self.assertEqual(parent["status"], "PENDING")

    def test_a_page_without_max_results_holds_what_aws_gives(self):
        # Up to 1000 jobs without filters, 100 with one, as the API reference says: a caller
        # that does not page sees as many as on AWS.
        out = self.batch.list_jobs(arrayJobId=self.parent, jobStatus="RUNNABLE")
        self.assertEqual(len(out["jobSummaryList"]), 150)
        self.assertNotIn("nextToken", out)
        out = self.batch.list_jobs(arrayJobId=self.parent,
                                   filters=[{"name": "JOB_NAME", "values": ["big"]}])
        self.assertEqual(len(out["jobSummaryList"]), 100)
        self.assertIn("nextToken", out)
        # Nor more when asked for: "When --filters is used, Batch returns up to 100 values".
        out = self.batch.list_jobs(arrayJobId=self.parent, maxResults=500,
                                   filters=[{"name": "JOB_NAME", "values": ["big"]}])
        self.assertEqual(len(out["jobSummaryList"]), 100)
        rest = self.batch.list_jobs(arrayJobId=self.parent, maxResults=500,
                                    nextToken=out["nextToken"],
                                    filters=[{"name": "JOB_NAME", "values": ["big"]}])
        self.assertEqual(len(rest["jobSummaryList"]), 50)
        self.assertNotIn("nextToken", rest)

    def test_unknown_ids_are_left_out(self):
        p = self.parent
        ids = ["no-such-job", p + ":150", p + ":-1", p + ":x", p + ":", "0" * 8 + "-0000-0000-0000-"
               + "0" * 12, p, p + ":3"]
        got = [d["jobId"] for d in self.batch.describe_jobs(jobs=ids)["jobs"]]
        self.assertEqual(got, [p, p + ":3"])
        self.assertEqual(self.batch.describe_jobs(jobs=["nope"])["jobs"], [])

    def test_one_hundred_ids_and_no_more(self):
        ids = ["%s:%d" % (self.parent, i) for i in range(100)]
        got = self.batch.describe_jobs(jobs=ids)["jobs"]
        self.assertEqual([d["jobId"] for d in got], ids)
        self.assertClientError(self.batch.describe_jobs, "jobs", "100",
                               jobs=ids + [self.parent])
        out = self.server.aws("batch", "describe-jobs", "--jobs", *ids[:3])
        self.assertEqual([d["jobId"] for d in out["jobs"]], ids[:3])


class ListJobs(JobsCase):
    @classmethod
    def setUpResources(cls):
        cls.make_definition("other")
        cls.make_definition("other")  # revision 2
        cls.make_queue("empty", ["ce-off"])
        cls.make_queue("listq", ["ce-off"])

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        b = cls.batch
        cls.ids = {}

        def submit(name, definition="jd", **kw):
            jid = b.submit_job(jobName=name, jobQueue="listq", jobDefinition=definition,
                               **kw)["jobId"]
            cls.ids[name] = jid
            time.sleep(0.003)  # distinct createdAt values
            return jid
        for i in range(5):
            submit("alpha-%d" % i)
        cls.middle = int(time.time() * 1000)
        time.sleep(0.003)
        submit("beta-1", definition="other:1")
        submit("beta-2", definition="other:2")
        submit("gamma", definition="other")
        cls.array = submit("arr", arrayProperties={"size": 4})
        cls.end = int(time.time() * 1000)

    def names(self, **kw):
        out = self.batch.list_jobs(**kw)
        return sorted(s["jobName"] for s in out["jobSummaryList"])

    def test_by_queue_and_status(self):
        self.assertEqual(self.names(jobQueue="listq", jobStatus="RUNNABLE"),
                         sorted(n for n in self.ids if n != "arr"))
        # The array parent is PENDING while its children wait; children are not listed here.
        self.assertEqual(self.names(jobQueue="listq", jobStatus="PENDING"), ["arr"])
        for status in ("SUBMITTED", "STARTING", "SUCCEEDED", "FAILED"):
            self.assertEqual(self.names(jobQueue="listq", jobStatus=status), [], status)
        # Without a status, only RUNNING jobs are listed.
        self.assertEqual(self.names(jobQueue="listq"), [])
        self.assertEqual(self.names(jobQueue=arn("job-queue", "listq"), jobStatus="PENDING"),
                         ["arr"])
        self.assertEqual(self.names(jobQueue="empty", jobStatus="RUNNABLE"), [])

    def test_summary_fields(self):
        out = self.batch.list_jobs(jobQueue="listq", jobStatus="RUNNABLE",
                                   filters=[{"name": "JOB_NAME", "values": ["beta-2"]}])
        [s] = out["jobSummaryList"]
        self.assertEqual(s["jobId"], self.ids["beta-2"])
        self.assertEqual(s["jobArn"], arn("job", self.ids["beta-2"]))
        self.assertEqual(s["jobName"], "beta-2")
        self.assertEqual(s["status"], "RUNNABLE")
        self.assertEqual(s["jobDefinition"], arn("job-definition", "other:2"))
        self.assertEqual(s["createdAt"], self.job(self.ids["beta-2"])["createdAt"])
        self.assertNotIn("startedAt", s)

    def test_by_array(self):
        out = self.batch.list_jobs(arrayJobId=self.array, jobStatus="RUNNABLE")["jobSummaryList"]
        self.assertEqual([s["jobId"] for s in out], ["%s:%d" % (self.array, i) for i in range(4)])
        self.assertEqual([s["arrayProperties"]["index"] for s in out], [0, 1, 2, 3])
        self.assertEqual(self.batch.list_jobs(arrayJobId=self.array)["jobSummaryList"], [])
        self.assertClientError(self.batch.list_jobs, "arrayJobId", "is not an array job",
                               arrayJobId=self.ids["gamma"])
        # A job that is not there is said to be missing, not to be no array (a removed one:
        # test_retention.py).
        for member in ("arrayJobId", "multiNodeJobId"):
            msg = self.assertClientError(self.batch.list_jobs, "%s: no job with id 'nope'" % member,
                                         **{member: "nope"})
            self.assertNotIn("is not a", msg)

    def test_job_name_filter(self):
        f = lambda v: [{"name": "JOB_NAME", "values": [v]}]
        self.assertEqual(self.names(jobQueue="listq", filters=f("alpha-*")),
                         ["alpha-%d" % i for i in range(5)])
        self.assertEqual(self.names(jobQueue="listq", filters=f("beta-1")), ["beta-1"])
        self.assertEqual(self.names(jobQueue="listq", filters=f("beta")), [])
        self.assertEqual(self.names(jobQueue="listq", filters=f("*")), sorted(self.ids))
        # A filter lists every status: the jobStatus is ignored, as AWS does.
        self.assertEqual(self.names(jobQueue="listq", jobStatus="SUCCEEDED",
                                    filters=f("gam*")), ["gamma"])

    def test_job_definition_filter(self):
        f = lambda v: [{"name": "JOB_DEFINITION", "values": [v]}]
        self.assertEqual(self.names(jobQueue="listq", filters=f("other")),
                         ["beta-1", "beta-2", "gamma"])
        self.assertEqual(self.names(jobQueue="listq", filters=f("other:2")), ["beta-2", "gamma"])
        self.assertEqual(self.names(jobQueue="listq", filters=f(arn("job-definition",
                                                                      "other:1"))), ["beta-1"])
        self.assertEqual(self.names(jobQueue="listq", filters=f("oth*")),
                         ["beta-1", "beta-2", "gamma"])
        self.assertEqual(len(self.names(jobQueue="listq", filters=f("jd"))), 6)

    def test_created_at_filters(self):
        before = [{"name": "BEFORE_CREATED_AT", "values": [str(self.middle)]}]
        after = [{"name": "AFTER_CREATED_AT", "values": [str(self.middle)]}]
        self.assertEqual(self.names(jobQueue="listq", filters=before),
                         ["alpha-%d" % i for i in range(5)])
        self.assertEqual(self.names(jobQueue="listq", filters=after),
                         ["arr", "beta-1", "beta-2", "gamma"])
        self.assertEqual(self.names(jobQueue="listq", filters=[
            {"name": "AFTER_CREATED_AT", "values": [str(self.end + 1000)]}]), [])
        # 0 is a time like any other: nothing was made before the epoch, everything after.
        self.assertEqual(self.names(jobQueue="listq", filters=[
            {"name": "BEFORE_CREATED_AT", "values": ["0"]}]), [])
        self.assertEqual(len(self.names(jobQueue="listq", filters=[
            {"name": "AFTER_CREATED_AT", "values": ["0"]}])), 9)

    def test_filter_refusals(self):
        for flt, frag in (([{"name": "JOB_COLOR", "values": ["x"]}], "filters[0].name"),
                          ([{"name": "BEFORE_CREATED_AT", "values": ["yesterday"]}],
                           "filters[0].values"),
                          ([{"name": "JOB_NAME", "values": ["a", "b"]}], "filters[0]")):
            self.assertClientError(self.batch.list_jobs, frag, jobQueue="listq", filters=flt)
        self.assertClientError(self.batch.list_jobs, "jobQueue", jobQueue="nope")
        self.assertClientError(self.batch.list_jobs, "jobQueue")
        self.assertClientError(self.batch.list_jobs, "maxResults", jobQueue="listq",
                               maxResults=0)
        self.assertClientError(self.batch.list_jobs, "nextToken", jobQueue="listq",
                               jobStatus="RUNNABLE", nextToken="garbage")

    def test_paging_by_hand(self):
        seen, token, pages = [], None, 0
        while True:
            kw = {"nextToken": token} if token else {}
            out = self.batch.list_jobs(jobQueue="listq", jobStatus="RUNNABLE", maxResults=3,
                                       **kw)
            pages += 1
            self.assertLessEqual(len(out["jobSummaryList"]), 3)
            seen += [s["jobName"] for s in out["jobSummaryList"]]
            token = out.get("nextToken")
            if not token:
                break
            self.assertLess(pages, 10, "paging does not end")
        self.assertEqual(sorted(seen), sorted(n for n in self.ids if n != "arr"))
        self.assertEqual(len(seen), len(set(seen)), "a job was listed twice")
        self.assertEqual(pages, 3)
        # Children page too.
        out = self.batch.list_jobs(arrayJobId=self.array, jobStatus="RUNNABLE", maxResults=3)
        rest = self.batch.list_jobs(arrayJobId=self.array, jobStatus="RUNNABLE", maxResults=3,
                                    nextToken=out["nextToken"])
        self.assertEqual([s["arrayProperties"]["index"] for s in
                          out["jobSummaryList"] + rest["jobSummaryList"]], [0, 1, 2, 3])
        self.assertNotIn("nextToken", rest)

    def test_boto3_paginator(self):
        pages = list(self.batch.get_paginator("list_jobs").paginate(
            jobQueue="listq", filters=[{"name": "JOB_NAME", "values": ["*"]}],
            PaginationConfig={"PageSize": 2}))
        names = [s["jobName"] for p in pages for s in p["jobSummaryList"]]
        self.assertEqual(sorted(names), sorted(self.ids))
        self.assertEqual(len(pages), 5)

    def test_aws_cli_list_jobs_follows_pages(self):
        out = self.server.aws("batch", "list-jobs", "--job-queue", "listq", "--job-status",
                              "RUNNABLE", "--page-size", "2")
        self.assertEqual(sorted(s["jobName"] for s in out["jobSummaryList"]),
                         sorted(n for n in self.ids if n != "arr"))
        out = self.server.aws("batch", "list-jobs", "--job-queue", "listq", "--filters",
                              "name=JOB_NAME,values=alpha-*", "--max-items", "2")
        self.assertEqual(len(out["jobSummaryList"]), 2)
        self.assertIn("NextToken", out)
        out = self.server.aws("batch", "list-jobs", "--array-job-id", self.array,
                              "--job-status", "RUNNABLE")
        self.assertEqual(len(out["jobSummaryList"]), 4)

    def test_job_name_filter_ignores_case(self):
        f = lambda v: [{"name": "JOB_NAME", "values": [v]}]
        self.assertEqual(self.names(jobQueue="listq", filters=f("BETA-1")), ["beta-1"])
        self.assertEqual(self.names(jobQueue="listq", filters=f("Alpha-*")),
                         ["alpha-%d" % i for i in range(5)])
        # Around the first four letters, which the server compares first (job.h's name_head).
        for value, want in (("ARR", ["arr"]), ("ar", []), ("aR*", ["arr"]), ("arr*", ["arr"]),
                            ("arrr*", []), ("gamm", []), ("GAMMA", ["gamma"]), ("gammaa", []),
                            ("Gamma*", ["gamma"]), ("gammA-*", []), ("a*", sorted(
                                ["arr"] + ["alpha-%d" % i for i in range(5)])), ("", [])):
            self.assertEqual(self.names(jobQueue="listq", filters=f(value)), want, value)
        # The job definition's name is matched as given, as the API reference says.
        self.assertEqual(self.names(jobQueue="listq", filters=[
            {"name": "JOB_DEFINITION", "values": ["OTHER"]}]), [])

    def test_filtered_results_are_newest_first(self):
        # With a filter, jobs come by createdAt, the most recent first (the API reference).
        out = self.batch.list_jobs(jobQueue="listq",
                                   filters=[{"name": "JOB_NAME", "values": ["*"]}])
        got = [s["jobName"] for s in out["jobSummaryList"]]
        self.assertEqual(got, ["arr", "gamma", "beta-2", "beta-1"] +
                         ["alpha-%d" % i for i in reversed(range(5))])
        created = [s["createdAt"] for s in out["jobSummaryList"]]
        self.assertEqual(created, sorted(created, reverse=True))
        # Page by page, in the same order, each job once.
        seen, token, pages = [], None, 0
        while True:
            kw = {"nextToken": token} if token else {}
            page = self.batch.list_jobs(jobQueue="listq", maxResults=2,
                                        filters=[{"name": "JOB_NAME", "values": ["*"]}], **kw)
            seen += [s["jobName"] for s in page["jobSummaryList"]]
            pages += 1
            token = page.get("nextToken")
            if not token:
                break
            self.assertLess(pages, 10, "paging does not end")
        self.assertEqual(seen, got)
        self.assertEqual(pages, 5)
        # A token of one listing is refused by another, rather than misread.
        first = self.batch.list_jobs(jobQueue="listq", maxResults=2,
                                     filters=[{"name": "JOB_NAME", "values": ["*"]}])
        self.assertClientError(self.batch.list_jobs, "nextToken", jobQueue="listq",
                               jobStatus="RUNNABLE", nextToken=first["nextToken"])
        # Without a filter, a status listing keeps submit order.
        self.assertEqual([s["jobName"] for s in self.batch.list_jobs(
            jobQueue="listq", jobStatus="RUNNABLE")["jobSummaryList"]],
            ["alpha-%d" % i for i in range(5)] + ["beta-1", "beta-2", "gamma"])

    def test_one_source_and_one_filter(self):
        # Only one of jobQueue, arrayJobId and multiNodeJobId; only one filter at a time.
        self.assertClientError(self.batch.list_jobs, "arrayJobId", jobQueue="listq",
                               arrayJobId=self.array)
        self.assertClientError(self.batch.list_jobs, "one filter", jobQueue="listq", filters=[
            {"name": "JOB_NAME", "values": ["a*"]},
            {"name": "AFTER_CREATED_AT", "values": ["0"]}])


class ListJobsByShare(JobsCase):
    """SHARE_IDENTIFIER: the jobs of one share, with jobStatus applying too; summaries carry the
    job's shareIdentifier."""

    @classmethod
    def setUpResources(cls):
        policy = cls.batch.create_scheduling_policy(
            name="shares", fairsharePolicy={"shareDistribution": [
                {"shareIdentifier": "blue", "weightFactor": 1},
                {"shareIdentifier": "red", "weightFactor": 1}]})["arn"]
        cls.batch.create_job_queue(
            jobQueueName="fair", priority=1, schedulingPolicyArn=policy,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce-off"}])

    def test_share_filter(self):
        ids = {}
        for name, share in (("b1", "blue"), ("r1", "red"), ("b2", "blue")):
            ids[name] = self.batch.submit_job(jobName=name, jobQueue="fair", jobDefinition="jd",
                                              shareIdentifier=share)["jobId"]
        self.wait_valid()
        share = lambda v: [{"name": "SHARE_IDENTIFIER", "values": [v]}]
        out = self.batch.list_jobs(jobQueue="fair", filters=share("blue"))["jobSummaryList"]
        self.assertEqual([s["jobName"] for s in out], ["b2", "b1"])
        self.assertEqual({s["shareIdentifier"] for s in out}, {"blue"})
        self.assertEqual([s["jobName"] for s in self.batch.list_jobs(
            jobQueue="fair", filters=share("red"))["jobSummaryList"]], ["r1"])
        self.assertEqual(self.batch.list_jobs(jobQueue="fair", filters=share("BLUE"))
                         ["jobSummaryList"], [])
        # SHARE_IDENTIFIER and jobStatus go together.
        self.assertEqual([s["jobName"] for s in self.batch.list_jobs(
            jobQueue="fair", jobStatus="RUNNABLE", filters=share("blue"))["jobSummaryList"]],
            ["b2", "b1"])
        self.assertEqual(self.batch.list_jobs(jobQueue="fair", jobStatus="SUCCEEDED",
                                              filters=share("blue"))["jobSummaryList"], [])
        # Unfiltered summaries carry it too.
        out = self.batch.list_jobs(jobQueue="fair", jobStatus="RUNNABLE")["jobSummaryList"]
        self.assertEqual({s["jobName"]: s["shareIdentifier"] for s in out},
                         {"b1": "blue", "r1": "red", "b2": "blue"})
        # And the AWS CLI sends the filter as boto3 does.
        out = self.server.aws("batch", "list-jobs", "--job-queue", "fair", "--filters",
                              "name=SHARE_IDENTIFIER,values=red")
        self.assertEqual([s["jobId"] for s in out["jobSummaryList"]], [ids["r1"]])


class QueueSnapshot(JobsCase):
    def test_time_at_position_outlives_a_restart(self):
        """earliestTimeAtPosition is when the job began to wait, which a restart (after which
        every waiting job is RUNNABLE again) does not move: its submission, or the end of the
        job it depended on."""
        a = self.submit("snap-before", command="true")
        plain = self.submit("snap-plain", queue="parked")
        after = self.submit("snap-after", queue="parked", dependsOn=[{"jobId": a}])
        self.wait_for(lambda: self.status(after) == "RUNNABLE", what="the dependent to wait")

        def at():
            jobs = self.batch.get_job_queue_snapshot(jobQueue="parked")["frontOfQueue"]["jobs"]
            return {j["jobArn"].rsplit("/", 1)[1]: j["earliestTimeAtPosition"] for j in jobs}
        before = at()
        time.sleep(1.5)
        restarted = time.time() * 1000
        self.server.restart()
        again = at()
        self.assertEqual(again[plain], self.job(plain)["createdAt"])
        self.assertEqual(again[after],
                         max(self.job(after)["createdAt"], self.job(a)["stoppedAt"]))
        for j in (plain, after):
            self.assertLess(abs(again[j] - before[j]), 1000, (j, before, again))
            self.assertLess(again[j], restarted - 1000)

    def test_front_of_a_first_in_first_out_queue(self):
        ids = [self.submit("snap-%d" % i, queue="parked") for i in range(3)]
        self.wait_for(lambda: all(self.status(i) == "RUNNABLE" for i in ids), what="RUNNABLE")
        snap = self.batch.get_job_queue_snapshot(jobQueue="parked")
        front = snap["frontOfQueue"]["jobs"]
        self.assertEqual([j["jobArn"] for j in front], [arn("job", i) for i in ids])
        for j, i in zip(front, ids):
            self.assertGreaterEqual(j["earliestTimeAtPosition"], self.job(i)["createdAt"])
        self.assertEqual(snap["queueUtilization"]["totalCapacityUsage"],
                         [{"capacityUnit": "VCPU", "quantity": 0.0}])
        self.assertNotIn("fairshareUtilization", snap["queueUtilization"])
        # By ARN too; an unknown queue is a ClientException.
        self.assertEqual(self.batch.get_job_queue_snapshot(jobQueue=arn("job-queue", "parked"))
                         ["frontOfQueue"]["jobs"], front)
        self.assertClientError(self.batch.get_job_queue_snapshot, "jobQueue", jobQueue="nope")
        # The AWS CLI reads the same.
        cli = self.server.aws("batch", "get-job-queue-snapshot", "--job-queue", "parked")
        self.assertEqual([j["jobArn"] for j in cli["frontOfQueue"]["jobs"]],
                         [j["jobArn"] for j in front])
