"""Job state change events, as AWS Batch sends them to EventBridge: durable and in order, read as
Server-Sent Events (GET /barge/v1/events, resumable with Last-Event-ID across disconnects and
restarts, filtered by queue and status), as a long poll (POST /barge/v1/getevents, `barge
events`), and delivered to webhooks signed with HMAC-SHA256, retried until delivered, a target
that hangs delaying nothing else."""
import base64
import concurrent.futures
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from harness import BARGE, Server, arn, free_port
from test_cli import barge
from test_jobs_common import FAST, JobsCase


def strict_json(text):
    """json.loads, refusing an object with a member twice (Python would keep the last)."""
    def pairs(items):
        keys = [k for k, _ in items]
        if len(keys) != len(set(keys)):
            raise AssertionError("a member twice in %s" % keys)
        return dict(items)
    return json.loads(text, object_pairs_hook=pairs)


class Stream:
    """A Server-Sent Events client on its own thread: every event it reads, in order."""

    def __init__(self, port, path="/barge/v1/events", last_id=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Last-Event-ID": str(last_id)} if last_id is not None else {}
        self.conn.request("GET", path, headers=headers)
        self.resp = self.conn.getresponse()
        self.events, self.comments = [], 0
        # EventSource's last event id: set by every id line, an event's or one without data.
        self.last_id = last_id
        self.lock = threading.Lock()
        if self.resp.status == 200:
            threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        fields = {}
        try:
            for raw in self.resp:
                line = raw.decode().rstrip("\n")
                if line.startswith(":"):
                    self.comments += 1
                elif line == "":
                    if "id" in fields:
                        self.last_id = int(fields["id"])
                    if "data" in fields:
                        try:
                            data = strict_json(fields["data"])
                        except AssertionError as e:
                            data = {"detail": {"jobId": None, "status": None}, "error": str(e)}
                        with self.lock:
                            self.events.append((fields.get("id"), fields.get("event"), data))
                    fields = {}
                else:
                    k, _, v = line.partition(": ")
                    fields[k] = v
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # closed by the test (http.client's own close races the read)

    def close(self):
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()

    def statuses(self, job_id):
        with self.lock:
            return [d["detail"]["status"] for _, _, d in self.events
                    if d.get("detail", {}).get("jobId") == job_id]


class Events(JobsCase):
    def wait_statuses(self, stream, jid, last="SUCCEEDED", timeout=30):
        return self.wait_for(lambda: (lambda s: s if s and s[-1] == last else None)(
            stream.statuses(jid)), timeout, "job %s's events up to %s" % (jid, last))

    def test_a_stream_tells_each_change_as_eventbridge_would(self):
        s = Stream(self.server.port, "/barge/v1/events?queue=q")
        try:
            self.assertEqual(s.resp.getheader("Content-Type"), "text/event-stream")
            # No wait needed: the stream's start was fixed before its headers came.
            jid = self.submit("evented", command="true")
            seen = self.wait_statuses(s, jid)
            self.assertNotIn("SUBMITTED", seen)  # AWS makes none for the submission
            self.assertEqual(seen[-3:], ["STARTING", "RUNNING", "SUCCEEDED"])
            self.assertIn("RUNNABLE", seen)
            ids = [int(i) for i, _, _ in s.events]
            self.assertEqual(ids, sorted(ids))
            _, name, ev = s.events[-1]
            self.assertEqual(name, "Batch Job State Change")
            self.assertEqual((ev["source"], ev["detail-type"], ev["version"]),
                             ("aws.batch", "Batch Job State Change", "0"))
            self.assertEqual(ev["resources"], [ev["detail"]["jobArn"]])
            self.assertEqual(ev["detail"]["container"]["exitCode"], 0)
            self.assertRegex(ev["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            self.assertEqual(ev["account"], "123456789012")
        finally:
            s.close()

    def test_the_detail_is_the_job_as_describejobs_has_it(self):
        # Jobs of every shape: with parameters, tags and a dependency, an array and its
        # children, a failure with its exit code; the detail of each job's last event is what
        # DescribeJobs says of the job, member for member.
        s = Stream(self.server.port, "/barge/v1/events?queue=q")
        try:
            first = self.submit("plain", command="echo hi", tags={"team": "a b", "k": "\u00e9"},
                                parameters={"p": "v"}, timeout={"attemptDurationSeconds": 600})
            arr = self.submit("arr", command="exit $((AWS_BATCH_JOB_ARRAY_INDEX % 2))",
                              arrayProperties={"size": 3}, dependsOn=[{"jobId": first}])
            failed = self.submit("failed", command="exit 7", env={"E": "quote\"d"},
                                 retryStrategy={"attempts": 2})
            ids = [first, arr, arr + ":0", arr + ":1", failed]
            self.wait_jobs(ids, timeout=60)
            described = {jid: self.raw_job(jid) for jid in ids}

            def last_event(jid):
                with s.lock:
                    mine = [d for _, _, d in s.events if d["detail"]["jobId"] == jid]
                return mine[-1]["detail"] if mine and \
                    mine[-1]["detail"]["status"] in ("SUCCEEDED", "FAILED") else None
            for jid in ids:
                detail = self.wait_for(lambda: last_event(jid), 20, "the last event of " + jid)
                want = described[jid]
                for d in (detail, want):  # the time of the summary is that of the reading
                    d.get("arrayProperties", {}).pop("statusSummaryLastUpdatedAt", None)
                self.assertEqual(detail, want, jid)
            with s.lock:
                self.assertEqual([d["error"] for _, _, d in s.events if "error" in d], [])
            self.assertEqual(described[failed]["container"]["exitCode"], 7)
            self.assertEqual(len(described[failed]["attempts"]), 2)
        finally:
            s.close()

    def test_resumed_after_a_disconnect_and_restarts(self):
        s = Stream(self.server.port, "/barge/v1/events?queue=q")
        first = self.submit("before", command="true")
        self.wait_statuses(s, first)
        last = int(s.events[-1][0])
        s.close()
        second = self.submit("while-away", command="true")
        self.wait_job(second)
        for restart in (self.server.restart, lambda: (self.server.kill9(), self.server.start())):
            restart()
            s = Stream(self.server.port, "/barge/v1/events?queue=q", last_id=last)
            try:
                seen = self.wait_statuses(s, second)
                self.assertEqual(seen[-1], "SUCCEEDED")
                ids = [int(i) for i, _, _ in s.events]
                self.assertEqual(ids[0], last + 1, "the stream goes on after Last-Event-ID")
                self.assertEqual(s.statuses(first), [], "nothing before Last-Event-ID again")
            finally:
                s.close()

    def test_event_ids_are_the_data_directorys_own(self):
        # A UUID whose first four groups are random and kept with the store, whose last is the
        # event's number: "00000000-0000-4000-8000-<number>" was every server's, so that a
        # receiver that drops ids it has seen (as EventBridge's are deduplicated) dropped a new
        # server's events.
        jid = self.submit("ided", command="true")
        self.wait_job(jid)

        def ids():
            status, _, body = self.server.raw("POST", "/barge/v1/getevents",
                                              {"queue": "q", "after": 0, "max": 1000})
            self.assertEqual(status, 200, body)
            return {e["seq"]: e["event"]["id"] for e in body["events"]
                    if e["event"]["detail"]["jobId"] == jid}
        before = ids()
        self.assertTrue(before)
        prefixes = {i[:23] for i in before.values()}
        self.assertEqual(len(prefixes), 1, before)
        for seq, i in before.items():
            self.assertRegex(i, r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                r"[0-9a-f]{12}$")
            self.assertEqual(int(i[-12:], 16), seq)
        self.assertNotEqual(prefixes.pop(), "00000000-0000-4000-8000")
        # The same ids after a restart and after a crash.
        self.server.restart()
        self.assertEqual(ids(), before)
        self.server.kill9()
        self.server.start()
        self.assertEqual(ids(), before)

    def test_a_filtered_stream_keeps_its_position(self):
        # Events its filter passes over move its last event id on: reconnecting with it starts
        # there (the id stayed at its last wanted event, which may have left the kept range
        # since: a gap told, and everything since read again, at every reconnection).
        everything = Stream(self.server.port, "/barge/v1/events?queue=q")
        failed_only = Stream(self.server.port, "/barge/v1/events?status=FAILED&queue=q")
        try:
            jid = self.submit("passed-over", command="true")
            self.wait_statuses(everything, jid)
            with everything.lock:
                newest = max(int(i) for i, _, d in everything.events
                             if d["detail"]["jobId"] == jid)
            self.wait_for(lambda: (failed_only.last_id or 0) >= newest, 30,
                          "the filtered stream's position at event %d" % newest)
            self.assertEqual(failed_only.events, [])
        finally:
            everything.close()
            failed_only.close()
        # A stream that started from now, and one whose Last-Event-ID is past the newest, are
        # given their position before any event: reconnecting, they would start from now again
        # and lose what came meanwhile.
        for last_id in (None, 10 ** 9):
            s = Stream(self.server.port, "/barge/v1/events?status=FAILED&queue=q",
                       last_id=last_id)
            try:
                self.wait_for(lambda: s.last_id is not None and s.last_id < 10 ** 9, 30,
                              "a position for a stream from %s" % last_id)
            finally:
                s.close()

    def test_filters_and_bad_requests(self):
        s = Stream(self.server.port, "/barge/v1/events?status=FAILED,SUCCEEDED&queue=q")
        try:
            ok = self.submit("f-ok", command="true")
            bad = self.submit("f-bad", command="exit 2")
            self.wait_statuses(s, bad, "FAILED")
            self.wait_statuses(s, ok, "SUCCEEDED")
            self.assertEqual(s.statuses(ok), ["SUCCEEDED"])
            self.assertEqual(s.statuses(bad), ["FAILED"])
        finally:
            s.close()
        for path, headers, fragment in (
                ("/barge/v1/events?status=BOGUS", {}, "status[0]"),
                ("/barge/v1/events?status=SUBMITTED", {}, "none is made for a submission"),
                ("/barge/v1/events?colour=red", {}, "colour: not a parameter of the stream"),
                ("/barge/v1/events?&&", {}, "(an empty name): not a parameter of the stream"),
                ("/barge/v1/events", {"Last-Event-ID": "abc"}, "Last-Event-ID"),
                ("/barge/v1/events?after=zz", {"Last-Event-ID": "3"}, "after: not an event's"),
                ("/barge/v1/events?queue=nope", {}, "nope")):
            # The status alone first: a stream taken (200) would be read for ever.
            conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                self.assertEqual(resp.status, 400, path)
                self.assertIn(fragment, json.loads(resp.read())["message"])
            finally:
                conn.close()
        # A filter that is not UTF-8 names no status nor queue: refused, not left out of a
        # stream that would then serve every status or queue.
        for path, fragment in (("/barge/v1/events?status=%FF", "status: not UTF-8"),
                               ("/barge/v1/events?status=RUNNING,%C3", "status: not UTF-8"),
                               ("/barge/v1/events?queue=q%C3", "queue: not UTF-8")):
            s = Stream(self.server.port, path)
            try:
                self.assertEqual(s.resp.status, 400, path)
                self.assertIn(fragment, json.loads(s.resp.read())["message"])
            finally:
                s.close()

    def test_long_poll_and_the_cli(self):
        status, _, body = self.server.raw("POST", "/barge/v1/getevents", {"queue": "q"})
        self.assertEqual(status, 200, body)
        start = body["lastSeq"]
        got = {}

        def poll():
            got["answer"] = self.server.raw("POST", "/barge/v1/getevents", {
                "queue": "q", "after": start, "wait": 20})
        t = threading.Thread(target=poll)
        t.start()
        # Whenever the poll reaches the server, it starts after `start`: it waits for this job
        # or finds it there.
        jid = self.submit("polled", command="true")
        t.join(25)
        self.assertFalse(t.is_alive(), "the poll did not end with the job's event")
        status, _, body = got["answer"]
        self.assertEqual(status, 200, body)
        self.assertEqual(body["events"][0]["event"]["detail"]["jobId"], jid)
        self.wait_job(jid)
        rc, out, err = barge("events", "--queue", "q", "--after", str(start),
                             endpoint=self.server.url)
        self.assertEqual(rc, 0, err)
        lines = [line for line in out.splitlines() if jid in line]
        self.assertEqual(lines[-1].split()[2:5], ["SUCCEEDED", jid, "polled"], lines)
        rc, out, err = barge("events", "--queue", "q", "--after", str(start), "--json",
                             "--status", "SUCCEEDED", endpoint=self.server.url)
        self.assertEqual(rc, 0, err)
        evs = [json.loads(line) for line in out.splitlines()]
        self.assertEqual([e["detail"]["status"] for e in evs if e["detail"]["jobId"] == jid],
                         ["SUCCEEDED"])

    def test_a_held_poll_takes_what_comes_meanwhile(self):
        """holdMs: events already there wait that long for more, then go in one answer (the
        streams ask so under load); without it they go at once."""
        start = self.server.raw("POST", "/barge/v1/getevents", {"queue": "parked"})[2]["lastSeq"]
        first = self.submit("held-1", queue="parked")
        self.wait_for(lambda: self.server.raw("POST", "/barge/v1/getevents", {
            "queue": "parked", "after": start})[2]["events"], 10, "the first job's events")
        got = {}

        def poll():
            t0 = time.monotonic()
            got["answer"] = self.server.raw("POST", "/barge/v1/getevents", {
                "queue": "parked", "after": start, "wait": 10, "holdMs": 1000})
            got["took"] = time.monotonic() - t0
        t = threading.Thread(target=poll)
        t.start()
        time.sleep(0.2)
        second = self.submit("held-2", queue="parked")
        t.join(15)
        self.assertFalse(t.is_alive())
        status, _, body = got["answer"]
        self.assertEqual(status, 200, body)
        jobs = {e["event"]["detail"]["jobId"] for e in body["events"]}
        self.assertEqual(jobs, {first, second}, body)
        self.assertGreaterEqual(got["took"], 0.9)
        self.assertLess(got["took"], 5)
        # Without holdMs, what is there goes at once.
        t0 = time.monotonic()
        status, _, body = self.server.raw("POST", "/barge/v1/getevents", {
            "queue": "parked", "after": start, "wait": 10})
        self.assertEqual({e["event"]["detail"]["jobId"] for e in body["events"]}, {first, second})
        self.assertLess(time.monotonic() - t0, 0.8)  # not the 10 s wait, nor a second's hold
        status, _, body = self.server.raw("POST", "/barge/v1/getevents", {"holdMs": 1001})
        self.assertEqual(status, 400, body)
        self.assertIn("holdMs", body["message"])
        for jid in (first, second):
            self.batch.terminate_job(jobId=jid, reason="done")

    def test_positions_out_of_range_and_answers_bounded_in_bytes(self):
        # A negative position is refused, by the poll and by the stream.
        status, _, body = self.server.raw("POST", "/barge/v1/getevents", {"after": -5})
        self.assertEqual(status, 400, body)
        self.assertIn("after", body["message"])
        status, _, body = self.server.raw("GET", "/barge/v1/events?after=-1")
        self.assertEqual(status, 400, body)
        # A position past the newest event (kept from before the data directory was made anew)
        # starts from now on, and is told so at once, even by a poll that would wait: the next
        # event comes after it, none before it is skipped.
        status, _, body = self.server.raw("POST", "/barge/v1/getevents", {"queue": "q"})
        newest = body["lastSeq"]
        for wait in (0, 20):
            start = time.time()
            status, _, body = self.server.raw("POST", "/barge/v1/getevents",
                                              {"queue": "q", "after": 10 ** 12, "wait": wait})
            self.assertLess(time.time() - start, 10)
            self.assertEqual((status, body["events"], body["lastSeq"], body.get("ahead")),
                             (200, [], newest, {"after": 10 ** 12, "newestSeq": newest}), body)
        stream = Stream(self.server.port, last_id=10 ** 12)
        self.addCleanup(stream.close)
        got = {}
        t = threading.Thread(target=lambda: got.setdefault("a", self.server.raw(
            "POST", "/barge/v1/getevents", {"queue": "q", "after": newest, "wait": 20})))
        t.start()
        jid = self.submit("after-the-future", command="true")
        t.join(25)
        self.assertFalse(t.is_alive(), "a poll from the newest event waited past its job")
        self.assertEqual(got["a"][2]["events"][0]["event"]["detail"]["jobId"], jid)
        self.assertNotIn("ahead", got["a"][2])
        self.wait_for(lambda: stream.statuses(jid), what="the stream's events")
        with stream.lock:
            first = stream.events[0]
        self.assertEqual((first[1], first[2]), ("ahead", {"after": 10 ** 12, "newestSeq": newest}))
        self.wait_job(jid)
        # Large events: an answer holds about 2 KiB a wanted event however large they are, and
        # paging on from its lastSeq loses none.
        status, _, body = self.server.raw("POST", "/barge/v1/getevents", {"queue": "q"})
        start = body["lastSeq"]
        big = {"E%d" % i: "x" * 1000 for i in range(20)}
        jids = [self.submit("large-%d" % i, command="true", env=big) for i in range(12)]
        self.wait_jobs(jids, timeout=60)
        after, pages, seqs = start, [], []
        while True:
            status, _, body = self.server.raw("POST", "/barge/v1/getevents",
                                                {"queue": "q", "after": after, "max": 10})
            self.assertEqual(status, 200, body)
            if not body["events"]:
                break
            pages.append((len(body["events"]), len(json.dumps(body))))
            seqs += [e["seq"] for e in body["events"]]
            self.assertEqual(body["lastSeq"], body["events"][-1]["seq"])
            after = body["lastSeq"]
        self.assertTrue(all(n < 10 for n, _ in pages[:-1]), pages)
        self.assertTrue(all(size < 10 * 2048 + 40000 for _, size in pages), pages)
        self.assertEqual(seqs, sorted(set(seqs)))
        mine = {}
        # Every event of every job, RUNNABLE to SUCCEEDED, came through the pages.
        status, _, body = self.server.raw("POST", "/barge/v1/getevents",
                                          {"queue": "q", "after": start, "max": 1000})
        for e in body["events"]:
            mine.setdefault(e["event"]["detail"]["jobId"], []).append(e["seq"])
        self.assertEqual(sorted(s for v in mine.values() for s in v), seqs)
        self.assertEqual(set(mine), set(jids))

    def parked_array(self, size, arrays=1):
        """Submits arrays of size children to a queue that never runs them (an event each, its
        RUNNABLE, and the array's PENDING; terminated when the test ends); returns (the last
        event before them, the last after)."""
        start = self.server.raw("POST", "/barge/v1/getevents", {})[2]["lastSeq"]
        for _ in range(arrays):
            out = self.batch.submit_job(jobName="many", jobQueue="parked", jobDefinition="jd",
                                        arrayProperties={"size": size})
            self.addCleanup(self.batch.terminate_job, jobId=out["jobId"], reason="test over")
        want = start + arrays * (size + 1)
        newest = self.wait_for(lambda: (lambda n: n if n >= want else None)(
            self.server.raw("POST", "/barge/v1/getevents", {})[2]["lastSeq"]), 60,
            "the array's events")
        return start, newest

    def stream_answers(self, after, until):
        """The stream's text from after until event until, and its answers: (events, bytes,
        first seq) of each poll's, read raw (HTTP/1.0: not chunked; each answer ends with
        ": at SEQ")."""
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=60)
        self.addCleanup(sock.close)
        sock.sendall(b"GET /barge/v1/events HTTP/1.0\r\nLast-Event-ID: %d\r\n\r\n" % after)
        text = b""
        while not re.search(rb"\n: at (\d+)\n", text[-200:]) or \
                int(re.findall(rb"\n: at (\d+)\n", text)[-1]) < until:
            chunk = sock.recv(1 << 20)
            self.assertTrue(chunk, "the stream ended")
            text += chunk
        body = text.split(b"\r\n\r\n", 1)[1]
        answers = []
        for part in re.split(rb"\n: at \d+\n", body)[:-1]:
            ids = [int(i) for i in re.findall(rb"(?m)^id: (\d+)$", part)]
            answers.append((len(ids), len(part), ids[0] if ids else None))
        return body, answers

    def test_a_stream_keeps_up_in_answers_of_many_events(self):
        """A stream's polls take up to 1,000 events (about 1 MiB): at 100 a poll, each waiting
        for a batch's commit, a stream fell behind a busy server's events and lost them to the
        gap.  Events older than the kept texts, described for the stream alone, come at most 100
        a poll, so that readers catching up cannot stall the server."""
        start, newest = self.parked_array(6000, arrays=2)
        body, answers = self.stream_answers(start, newest)
        seqs = [int(i) for i in re.findall(rb"(?m)^id: (\d+)$", body)]
        self.assertNotIn(b"event: gap", body)
        self.assertEqual(seqs[:newest - start], list(range(start + 1, newest + 1)))
        # Answers of events all older than the newest 10,000 (whose texts are kept).
        old = [a for a in answers if a[2] is not None and a[2] + a[0] - 1 <= newest - 10000]
        self.assertTrue(old and all(n <= 100 for n, _, _ in old), answers)
        self.assertGreater(max(n for n, _, _ in answers), 300, answers)
        self.assertTrue(all(size < (1 << 20) + 100 * 1024 for _, size, _ in answers), answers)

    def test_with_many_streams_open_each_poll_asks_for_fewer(self):
        """What streams that stop reading hold stays bounded however many are open: their polls
        share 256,000 events (at least 100 each, at most 1,000)."""
        start, newest = self.parked_array(2000)
        idle = []
        try:
            for _ in range(399):  # and the one below: 400 streams, 640 events a poll
                s = socket.create_connection(("127.0.0.1", self.server.port), timeout=60)
                idle.append(s)
                s.sendall(b"GET /barge/v1/events HTTP/1.0\r\n\r\n")
            for s in idle:  # each one's headers: it is open
                self.assertIn(b"200", s.recv(64))
            _, answers = self.stream_answers(start, newest)
        finally:
            for s in idle:
                s.close()
        self.assertLessEqual(max(n for n, _, _ in answers), 640, answers)
        self.assertGreater(max(n for n, _, _ in answers), 500, answers)


class Receiver:
    """An HTTP endpoint that records what is POSTed to it; behaviour(n) decides the answer to
    the n-th request: a status, or "hang".  location: a Location header every answer carries
    (for a receiver that redirects).  http11: answers in HTTP/1.1, the connection kept open
    (http.server's default is HTTP/1.0, one request a connection) and pipelined requests taken
    in order; close_every: with http11, every so many answers close the connection, as servers
    do after so many requests on one."""

    def __init__(self, behaviour=lambda n: 200, delay=0, answer_bytes=0, location=None,
                 http11=False, close_every=0):
        self.got, self.requests, self.counts, self.answered = [], 0, [], 0
        # Requests that came while the one before was still being answered: pipelined.
        self.pipelined = 0
        self.connections = set()
        self.authorizations = []  # each request's Authorization header, None when it had none
        # Requests being answered at once, and the most there were (delay: seconds each takes).
        self.in_flight = self.most_in_flight = 0
        lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            if http11:
                protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def ahead(self):
                """Whether the next request is already here (read into rfile or waiting in the
                socket) before this one is answered."""
                self.connection.setblocking(False)
                try:
                    return bool(self.rfile.peek(1))
                except (BlockingIOError, OSError, ValueError):
                    return False
                finally:
                    self.connection.setblocking(True)

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                pipelined = http11 and self.ahead()
                with lock:
                    outer.connections.add(self.client_address)
                    outer.pipelined += pipelined
                    outer.requests += 1
                    n = outer.requests
                    outer.authorizations.append(self.headers["Authorization"])
                    what = behaviour(outer.requests)
                    outer.in_flight += 1
                    outer.most_in_flight = max(outer.most_in_flight, outer.in_flight)
                time.sleep(delay)
                with lock:
                    outer.in_flight -= 1
                if what == "hang":
                    time.sleep(30)
                    return
                if what == 200:
                    with lock:
                        outer.got.append((self.headers["X-Barge-Event-Id"],
                                          self.headers["X-Barge-Signature"], body))
                        outer.counts.append(self.headers["X-Barge-Event-Count"])
                self.send_response(what)
                if location:
                    self.send_header("Location", location)
                if close_every and n % close_every == 0:
                    self.send_header("Connection", "close")
                self.send_header("Content-Length", str(answer_bytes))
                self.end_headers()
                blanks = b" " * (1 << 20)
                try:
                    for at in range(0, answer_bytes, len(blanks)):
                        self.wfile.write(blanks[:min(len(blanks), answer_bytes - at)])
                except (BrokenPipeError, ConnectionResetError):
                    pass
                with lock:
                    outer.answered += 1

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d/hook" % self.httpd.server_address[1]

    def events(self):
        """Every event received, in order: a batch's array counts as its events."""
        out = []
        for _, _, b in self.got:
            doc = json.loads(b)
            out += doc if isinstance(doc, list) else [doc]
        return out

    def statuses(self, jid):
        return [e["detail"]["status"] for e in self.events() if e["detail"]["jobId"] == jid]


SECRET = "webhook-secret-0123456789"
TOKEN = "ghp_t0kenAsTheUserName"


class Webhooks(JobsCase):
    @classmethod
    def setUpClass(cls):
        cls.good = Receiver()
        cls.flaky = Receiver(lambda n: 500 if n <= 2 else 200)
        cls.hung = Receiver(lambda n: "hang")
        cls.batched = Receiver()
        cls.lanes = Receiver(delay=0.05)
        cls.parked_lanes = Receiver()
        cls.chatty = Receiver(answer_bytes=512 << 20)
        # A target that moved, named with a password: the redirect is not followed.
        cls.elsewhere = Receiver()
        cls.moved = Receiver(lambda n: 302, location=cls.elsewhere.url.replace(
            "http://", "http://bob:swordfish@"))
        # A target named with a token as its user name, that fails once.
        cls.tokened = Receiver(lambda n: 500 if n == 1 else 200)
        # A target that refuses the first event it is sent, three times.
        cls.picky = Receiver(lambda n: 400 if n <= 3 else 200)
        # Pipelined targets: one that takes everything, one that fails some requests (a 500
        # and a 400 in the middle of windows), one that closes its connection every 7 answers.
        cls.piped = Receiver(http11=True)
        cls.piped_flaky = Receiver(lambda n: 500 if n in (3, 9) else 400 if n == 14 else 200,
                                   http11=True)
        cls.piped_closing = Receiver(http11=True, close_every=7)
        # One that never answers (every restart of the class's server must still end at once),
        # and one that takes the parked queue's events while the server restarts under load.
        cls.piped_hung = Receiver(lambda n: "hang", http11=True)
        cls.parked_piped = Receiver(http11=True)
        cls.conf_dir = tempfile.mkdtemp(prefix="barge-hooks-")
        path = os.path.join(cls.conf_dir, "hooks.json")
        with open(path, "w") as f:
            json.dump({"targets": [
                {"name": "good", "url": cls.good.url, "secret": SECRET, "queue": "q"},
                {"name": "flaky", "url": cls.flaky.url, "secret": SECRET, "queue": "q",
                 "status": ["SUCCEEDED", "FAILED"]},
                {"name": "hung", "url": cls.hung.url, "secret": SECRET},
                {"name": "batched", "url": cls.batched.url, "secret": SECRET,
                 "queue": arn("job-queue", "q"), "batch": 20},
                {"name": "lanes", "url": cls.lanes.url, "secret": SECRET, "queue": "q",
                 "parallel": 4},
                {"name": "parked-lanes", "url": cls.parked_lanes.url, "secret": SECRET,
                 "queue": "parked", "parallel": 4},
                {"name": "chatty", "url": cls.chatty.url, "secret": SECRET, "queue": "chatty",
                 "status": ["SUCCEEDED"]},
                {"name": "moved", "url": cls.moved.url.replace("http://", "http://alice:hunter2@"),
                 "secret": SECRET, "queue": "q", "status": ["SUCCEEDED"]},
                {"name": "picky", "url": cls.picky.url, "secret": SECRET, "queue": "q",
                 "status": ["SUCCEEDED"]},
                {"name": "tokened", "url": cls.tokened.url.replace("http://", "http://%s@" % TOKEN),
                 "secret": SECRET, "queue": "q", "status": ["SUCCEEDED"]},
                # A scheme in capitals is a scheme (it was refused: pipelining is http:// only).
                {"name": "piped", "url": cls.piped.url.replace("http://", "HTTP://ann:pw%3A1@"),
                 "secret": SECRET, "queue": "piped", "pipeline": 16},
                {"name": "piped-flaky", "url": cls.piped_flaky.url, "secret": SECRET,
                 "queue": "piped", "pipeline": 8},
                {"name": "piped-closing", "url": cls.piped_closing.url, "secret": SECRET,
                 "queue": "piped", "pipeline": 16},
                {"name": "piped-hung", "url": cls.piped_hung.url, "secret": SECRET,
                 "pipeline": 8},
                {"name": "parked-piped", "url": cls.parked_piped.url, "secret": SECRET,
                 "queue": "parked", "pipeline": 32}]}, f)
        cls.server_args = FAST + ("--webhooks", path)
        super().setUpClass()

    def test_deliveries_signed_in_order_retried_and_resumed(self):
        jid = self.submit("hooked", command="true")
        self.wait_for(lambda: self.good.statuses(jid)[-1:] == ["SUCCEEDED"], 15,
                      "the good target to get every event of the job")
        seqs = [int(i) for i, _, _ in self.good.got]
        self.assertEqual(seqs, sorted(seqs))
        for seq, sig, body in self.good.got:
            want = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            self.assertEqual(sig, "sha256=" + want)
            self.assertEqual(json.loads(body)["id"][-12:], "%012x" % int(seq))
        # The flaky target got it after its failures; the hanging one held up nothing.
        self.wait_for(lambda: self.flaky.statuses(jid) == ["SUCCEEDED"], 20,
                      "the flaky target's retried delivery")
        self.assertGreaterEqual(self.flaky.requests, 3)
        # After a restart delivery goes on where it stood: nothing twice, nothing missed.
        before = len(self.good.got)
        first_job = self.good.statuses(jid)
        self.server.restart()
        second = self.submit("hooked-after", command="true")
        self.wait_for(lambda: self.good.statuses(second)[-1:] == ["SUCCEEDED"], 15,
                      "delivery after the restart")
        seqs = [int(i) for i, _, _ in self.good.got]
        self.assertEqual(len(seqs), len(set(seqs)), "an event delivered twice")
        self.assertEqual(self.good.statuses(jid), first_job)  # none of it sent again
        self.assertGreater(len(self.good.got), before)

    def test_a_delivery_waiting_on_a_hung_target_ends_without_a_failure_at_a_stop(self):
        # The stop ended the delivery's wait, and the log said the delivery failed ("the
        # request was abandoned"), as if the target had.
        self.submit("hung-at-stop", command="true")
        asked = self.hung.requests
        self.wait_for(lambda: self.hung.requests > asked, 30, "a fresh try to the hung target")
        logged = len(self.server.read_log())
        self.server.restart()
        log = self.server.read_log()[logged:]
        self.assertRegex(log, r"webhooks: hung: the delivery of event \d+ to %s, not answered "
                              r"yet, ends as the server stops; it is sent again at the next "
                              r"start" % re.escape(self.hung.url))
        self.assertNotIn("abandoned", log)

    def test_an_event_the_target_refuses_is_let_go_after_three_tries(self):
        # It was tried again for ever, every later event of the target held behind it.
        # (Its first event may be another test's: the server is the class's.)
        self.submit("refused", command="true")
        self.wait_for(lambda: self.picky.requests >= 3, 20, "three tries of the first event")
        second = self.submit("after-refused", command="true")
        self.wait_for(lambda: self.picky.statuses(second) == ["SUCCEEDED"], 20,
                      "the event after the refused one")
        said = re.search(r"webhooks: picky: %s refused event (\d+) 3 times \(HTTP 400\); it is "
                         r"let go and delivery goes on with the next" % re.escape(self.picky.url),
                         self.server.read_log())
        self.assertIsNotNone(said)
        delivered = [int(i) for i, _, _ in self.picky.got]
        self.assertNotIn(int(said.group(1)), delivered)
        self.assertGreater(min(delivered), int(said.group(1)))
        self.assertEqual(self.picky.requests, 3 + len(delivered))

    def test_failures_are_logged_with_the_answer_and_without_passwords(self):
        # The log said "a non-2xx answer" for a redirect and a 500 alike, and showed the
        # password of a URL that had one, in its first line and in every failure's.
        jid = self.submit("logged", command="true")
        self.wait_job(jid)
        log = self.wait_for(lambda: (lambda text: text if "moved: delivering event" in text and
                                     "flaky: delivering event" in text else None)(
                                         self.server.read_log()),
                            20, "the failures of the moved and the flaky targets in the log")
        moved = self.moved.url.replace("http://", "http://alice:***@")
        elsewhere = self.elsewhere.url.replace("http://", "http://bob:***@")
        self.assertIn("webhooks: delivering events to moved (%s)" % moved, log)
        self.assertRegex(log, r"webhooks: moved: delivering event \d+ to %s failed \(it answered "
                              r"HTTP 302, a redirect to %s, which is not followed" % (
                                  re.escape(moved), re.escape(elsewhere)))
        self.assertRegex(log, r"webhooks: flaky: delivering event \d+ to %s failed \(it answered "
                              r"HTTP 500\); retrying in 1 s" % re.escape(self.flaky.url))
        self.assertNotIn("hunter2", log)
        self.assertNotIn("swordfish", log)
        # The password still goes to the target; the signed event goes nowhere else.
        self.assertEqual(self.moved.authorizations[0],
                         "Basic " + base64.b64encode(b"alice:hunter2").decode())
        self.assertEqual(self.elsewhere.requests, 0)

    def test_a_token_given_as_the_user_name_is_masked_too(self):
        # https://TOKEN@host/... was logged whole: only a password (user:password@) was masked.
        jid = self.submit("token-logged", command="true")
        self.wait_job(jid)
        log = self.wait_for(lambda: (lambda text: text if "tokened: delivering event" in text
                                     else None)(self.server.read_log()),
                            20, "the tokened target's failure in the log")
        shown = self.tokened.url.replace("http://", "http://***@")
        self.assertIn("webhooks: delivering events to tokened (%s)" % shown, log)
        self.assertRegex(log, r"webhooks: tokened: delivering event \d+ to %s failed \(it "
                              r"answered HTTP 500\)" % re.escape(shown))
        self.assertNotIn(TOKEN, log)
        # The token still goes to the target.
        self.wait_for(lambda: "SUCCEEDED" in self.tokened.statuses(jid), 20,
                      "the tokened target's retried delivery")
        self.assertEqual(self.tokened.authorizations[0],
                         "Basic " + base64.b64encode(TOKEN.encode() + b":").decode())

    def test_a_receivers_long_answer_is_not_kept(self):
        # Half a gibibyte answers the delivery: the server reads past it without keeping it.
        self.make_queue("chatty", ["ce"])
        jid = self.submit("chatty", queue="chatty", command="true")
        self.wait_for(lambda: self.chatty.answered and "SUCCEEDED" in self.chatty.statuses(jid),
                      30, "the delivery to the chatty target, answered whole")
        deadline = time.time() + 2
        while time.time() < deadline:
            with open("/proc/%d/status" % self.server.proc.pid) as f:
                peak = [int(l.split()[1]) for l in f if l.startswith("VmHWM:")][0] << 10
            self.assertLess(peak, 384 << 20, "the server kept the receiver's answer")
            time.sleep(0.1)

    def test_a_batch_target_gets_arrays_in_order(self):
        jids = [self.submit("batched-%d" % i, command="true") for i in range(30)]
        self.wait_for(lambda: all(self.batched.statuses(j)[-1:] == ["SUCCEEDED"] for j in jids),
                      30, "every job's events in the batched target's arrays")
        for seq, sig, body in self.batched.got:
            want = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            self.assertEqual(sig, "sha256=" + want)
            doc = json.loads(body)
            self.assertIsInstance(doc, list)
            self.assertTrue(1 <= len(doc) <= 20, len(doc))
            # The header names the last event of the array, and how many it holds.
            self.assertEqual(doc[-1]["id"][-12:], "%012x" % int(seq))
        self.assertEqual([int(c) for c in self.batched.counts],
                         [len(json.loads(b)) for _, _, b in self.batched.got])
        # In order, each once, and some POSTs carried several: 30 jobs make 120 events here.
        ids = [int(e["id"][-12:], 16) for e in self.batched.events()]
        self.assertEqual(ids, sorted(set(ids)))
        self.assertLess(len(self.batched.got), len(ids))
        for j in jids:
            self.assertEqual(self.batched.statuses(j),
                             ["RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"])

    def test_a_parallel_target_keeps_each_jobs_events_in_order(self):
        # A receiver that takes 50 ms a POST: with four in flight, 20 jobs' 80 events take
        # about 1 s rather than 4.
        jids = [self.submit("lanes-%d" % i, command="true") for i in range(20)]
        self.wait_for(lambda: all(self.lanes.statuses(j)[-1:] == ["SUCCEEDED"] for j in jids),
                      30, "every job's events at the parallel target")
        self.assertGreaterEqual(self.lanes.most_in_flight, 2)
        self.assertLessEqual(self.lanes.most_in_flight, 4)
        for seq, sig, body in self.lanes.got:
            want = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            self.assertEqual(sig, "sha256=" + want)
            self.assertEqual(json.loads(body)["id"][-12:], "%012x" % int(seq))
        # Each event once; each job's in the order they happened.
        ids = [int(s) for s, _, _ in self.lanes.got]
        self.assertEqual(len(ids), len(set(ids)))
        for j in jids:
            self.assertEqual(self.lanes.statuses(j),
                             ["RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"])

    def piped_jobs(self, n):
        """n jobs of queue piped, submitted at once so that their events share polls."""
        self.make_queue("piped", ["ce"])
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            return list(pool.map(lambda i: self.submit("piped-%d" % i, queue="piped",
                                                       command="true"), range(n)))

    def check_piped(self, receiver, jids):
        for seq, sig, body in receiver.got:
            want = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            self.assertEqual(sig, "sha256=" + want)
            self.assertEqual(json.loads(body)["id"][-12:], "%012x" % int(seq))
        # Each event once; each job's in the order they happened.
        ids = [int(s) for s, _, _ in receiver.got]
        self.assertEqual(len(ids), len(set(ids)))
        for j in jids:
            self.assertEqual(receiver.statuses(j),
                             ["RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"])

    def test_a_pipelined_target_gets_each_jobs_events_in_order(self):
        jids = self.piped_jobs(40)
        self.wait_for(lambda: all(self.piped.statuses(j)[-1:] == ["SUCCEEDED"] for j in jids),
                      30, "every job's events at the pipelined target")
        self.check_piped(self.piped, jids)
        # Written ahead of their answers, on a kept connection; the URL's user information
        # as Basic authorization, as libcurl sends it.
        self.assertGreater(self.piped.pipelined, 0)
        self.assertLessEqual(len(self.piped.connections), 2)
        self.assertEqual(set(self.piped.authorizations),
                         {"Basic " + base64.b64encode(b"ann:pw:1").decode()})
        # Requests that fail in a window are sent again, alone, before the next window: every
        # job's events still in order, the refused one (400) counted as a try.
        self.wait_for(lambda: all(self.piped_flaky.statuses(j)[-1:] == ["SUCCEEDED"]
                                  for j in jids), 30, "every job's events at the flaky one")
        self.check_piped(self.piped_flaky, jids)
        self.assertEqual(self.piped_flaky.requests, len(self.piped_flaky.got) + 3)
        log = self.server.read_log()
        self.assertRegex(log, r"webhooks: piped-flaky: delivering event \d+ to %s failed \(it "
                              r"answered HTTP 500\); retrying in 1 s" %
                         re.escape(self.piped_flaky.url))
        # A server that closes its connection every few answers: the requests after the last
        # answer go again on a new connection, at once and without a word in the log.
        self.wait_for(lambda: all(self.piped_closing.statuses(j)[-1:] == ["SUCCEEDED"]
                                  for j in jids), 30, "every job's events at the closing one")
        self.check_piped(self.piped_closing, jids)
        self.assertGreater(len(self.piped_closing.connections), 10)
        self.assertNotIn("piped-closing: delivering", log)

    def test_a_parallel_target_stops_under_load(self):
        # Jobs keep coming (to the queue whose jobs never run) while the server is stopped and
        # started again: a poll that brings events after the lanes have left must not be
        # handed to them, or the stop waits for ever (restart bounds it at 10 s).
        done = threading.Event()

        def load():
            client = self.server.client()
            while not done.is_set():
                try:
                    client.submit_job(jobName="load", jobQueue="parked", jobDefinition="jd")
                except Exception:  # noqa: BLE001 - the server is between stop and start
                    time.sleep(0.02)

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            for _ in range(3):
                time.sleep(0.5)
                # A pipelined target that never answers is woken from its wait too: the stop
                # would otherwise fail (the harness allows it 10 s).
                self.server.restart()
        finally:
            done.set()
            for t in threads:
                t.join()
        self.assertGreater(len(self.parked_lanes.got), 0)
        self.assertGreater(len(self.parked_piped.got), 0)
        self.assertGreater(self.piped_hung.requests, 0)

    def test_a_bad_webhooks_file_is_refused_at_start(self):
        path = os.path.join(self.conf_dir, "bad.json")
        with open(path, "w") as f:
            json.dump({"targets": [{"name": "x", "url": "ftp://nowhere", "secret": SECRET}]}, f)
        rc, _, err = barge("server", "--webhooks", path)
        self.assertEqual(rc, 2)
        self.assertIn("url must be an http:// or https:// URL", err)
        with open(path, "w") as f:
            json.dump({"targets": [{"name": "x", "url": "http://127.0.0.1:1/", "secret": SECRET,
                                    "batch": 500}]}, f)
        rc, _, err = barge("server", "--webhooks", path)
        self.assertEqual(rc, 2)
        self.assertIn("targets[0] (x): batch must be a whole number of events a POST, from 1 to "
                      "100", err)
        for bad, why in (({"parallel": 0}, "parallel must be a whole number of POSTs in flight"),
                         ({"parallel": 4, "batch": 10}, "parallel goes with one event a POST"),
                         ({"pipeline": 257}, "pipeline must be a whole number of POSTs written "
                                             "at once on the connection, from 1 to 256"),
                         ({"pipeline": "8"}, "pipeline must be a whole number"),
                         ({"pipeline": 8, "batch": 10}, "pipeline goes with one event a POST"),
                         ({"pipeline": 8, "parallel": 2}, "pipeline and parallel are two ways"),
                         ({"pipeline": 8, "url": "https://127.0.0.1:1/"},
                          "pipeline takes an http:// url only")):
            with open(path, "w") as f:
                json.dump({"targets": [dict({"name": "x", "url": "http://127.0.0.1:1/",
                                             "secret": SECRET}, **bad)]}, f)
            rc, _, err = barge("server", "--webhooks", path)
            self.assertEqual(rc, 2)
            self.assertIn(why, err)

    def test_every_member_of_a_webhooks_file_is_checked(self):
        # Each was taken before: a typo or a wrong type dropped without a word, a second
        # "targets" kept (zero targets), a URL libcurl could never reach retried forever.
        path = os.path.join(self.conf_dir, "checked.json")
        good = {"name": "x", "url": "http://127.0.0.1:1/", "secret": SECRET}
        for doc, why in (
                ({"targets": [dict(good, secrte="s")]}, "targets[0] (x): 'secrte' is not a member"),
                ({"targets": [dict(good, batchsize=5)]}, "'batchsize' is not a member"),
                ({"targets": [good], "extra": 1}, "'extra' is not a member barge knows"),
                ({"targets": [dict(good, queue=5)]}, "targets[0] (x): queue must be"),
                # Names no queue can have were taken, and refused a poll a second for ever.
                ({"targets": [dict(good, queue="no spaces allowed")]},
                 "targets[0] (x): queue must be a job queue's name (up to 128 letters"),
                ({"targets": [dict(good, queue="q" * 129)]}, "queue must be"),
                ({"targets": [dict(good, queue=arn("compute-environment", "ce"))]},
                 "queue must be"),
                # An empty list was taken as every status.
                ({"targets": [dict(good, status=[])]},
                 "targets[0] (x): status must list at least one status"),
                ({"targets": [dict(good, status=[1, "NOPE"])]}, "targets[0] (x): status must"),
                ({"targets": [dict(good, status=["SUBMITTED"])]}, "status must list statuses"),
                # Characters, as it says, not bytes: eight two-byte letters were taken.
                ({"targets": [dict(good, secret="\u00e9" * 8)]},
                 "targets[0] (x): secret must be 16 characters or more"),
                ({"targets": [dict(good, url="http://")]}, "targets[0] (x): url must be"),
                ({"targets": [dict(good, url="http://a b/")]}, "url must be"),
                ({"targets": [dict(good, url="http://h/\n")]}, "url must be"),
                ({"targets": [dict(good, url="http://h:99999/")]}, "url must be"),
                ({"targets": ["x"]}, "targets[0]: must be an object"),
                ({"targets": [good, good]}, "targets[1] (x): name is used by another target"),
                ({"targets": [dict(good, name="t%d" % i) for i in range(101)]},
                 "101 targets; at most 100")):
            with open(path, "w") as f:
                json.dump(doc, f)
            rc, _, err = barge("server", "--webhooks", path)
            self.assertEqual(rc, 2, (doc, err))
            self.assertIn(why, err, doc)
        with open(path, "w") as f:
            f.write('{"targets": [%s], "targets": []}' % json.dumps(good))
        rc, _, err = barge("server", "--webhooks", path)
        self.assertEqual(rc, 2, err)
        self.assertIn("duplicate object key", err)
        # A directory was read as an empty file; it is named for what it is.
        rc, _, err = barge("server", "--webhooks", self.conf_dir)
        self.assertEqual(rc, 2, err)
        self.assertIn("--webhooks %s is a directory, not a file" % self.conf_dir, err)

    def test_the_last_webhooks_file_given_counts(self):
        # As --credentials and every other file option: two files read together delivered
        # every event twice to a target named in both.  The first, bad, file is not read.
        bad = os.path.join(self.conf_dir, "first.json")
        with open(bad, "w") as f:
            json.dump({"targets": [{"name": "x", "url": "ftp://nowhere", "secret": SECRET}]}, f)
        good = os.path.join(self.conf_dir, "last.json")
        with open(good, "w") as f:
            json.dump({"targets": [{"name": "x", "url": self.good.url, "secret": SECRET}]}, f)
        s = Server(args=("--dev", "--webhooks", bad, "--webhooks", good))
        try:
            s.start()
        finally:
            s.cleanup()
        rc, _, err = barge("server", "--webhooks", good, "--webhooks", bad)
        self.assertEqual(rc, 2, err)
        self.assertIn("--webhooks %s: targets[0] (x): url must be" % bad, err)


class Bursts(JobsCase):
    """Bursts of events, for the tests of how many are kept."""

    def last_seq(self):
        return self.server.raw("POST", "/barge/v1/getevents", {})[2]["lastSeq"]

    def burst(self, arrays):
        """Submits arrays of 10,000 children to a queue that never runs them (an event each, its
        RUNNABLE, and the array's PENDING); returns (the last event before them, the last
        after)."""
        start = self.last_seq()
        for _ in range(arrays):
            status, _, body = self.server.raw("POST", "/v1/submitjob", {
                "jobName": "burst", "jobQueue": "parked", "jobDefinition": "jd",
                "arrayProperties": {"size": 10000}})
            self.assertEqual(status, 200, body)
        want = start + arrays * 10001
        return start, self.wait_for(lambda: (lambda n: n if n >= want else None)(
            self.last_seq()), 120, "the arrays' events")


class EventsKept(Bursts):
    """The events kept for readers: a million by default (--events-kept), so that a burst of
    arrays does not outrun a reader that takes a few seconds to catch up."""

    def test_a_burst_of_arrays_is_kept_for_readers_behind_it(self):
        # 110,011 events at once: more than the 100,000 kept before, and readers that were
        # behind lost the oldest to the gap (a webhook taking one event a POST needs half a
        # minute for them).
        start, newest = self.burst(11)
        for restarted in (False, True):
            status, _, body = self.server.raw("POST", "/barge/v1/getevents",
                                              {"after": start, "max": 5})
            self.assertEqual(status, 200, body)
            self.assertNotIn("gap", body, "restarted" if restarted else "")
            self.assertEqual([e["seq"] for e in body["events"]], list(range(start + 1, start + 6)))
            self.assertEqual(body["events"][0]["event"]["detail"]["arrayProperties"]["size"], 10000)
            if not restarted:
                # Read back from the store at start, numbers and jobs alike.
                self.server.restart()
                self.assertEqual(self.last_seq(), newest)

    def test_bad_numbers_kept_are_refused(self):
        for bad in ("9999", "many", "20000001"):
            r = subprocess.run([BARGE, "server", "--events-kept", bad], capture_output=True,
                               text=True, timeout=30)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("--events-kept must be a number from 10000 to 20000000", r.stderr)


class EventsKeptSetting(Bursts):
    """--events-kept 10000: a reader further behind is told of the gap."""
    server_args = tuple(FAST) + ("--events-kept", "10000")

    def test_older_events_than_the_number_kept_are_a_gap(self):
        start, newest = self.burst(1)
        status, _, body = self.server.raw("POST", "/barge/v1/getevents",
                                          {"after": start, "max": 1})
        self.assertEqual(body.get("gap"), {"oldestSeq": newest - 10000 + 1}, body)

    def test_a_filtered_reader_that_keeps_up_is_told_of_no_gap(self):
        # A stream waiting for FAILED events while a burst larger than the events kept went
        # by (none FAILED) looked at each as it came: it missed nothing it asked for, and was
        # told of a gap at its next answer all the same (a webhook so filtered logged lost
        # events).
        s = Stream(self.server.port, "/barge/v1/events?status=FAILED")
        self.addCleanup(s.close)
        self.assertEqual(s.resp.status, 200)
        self.wait_for(lambda: s.last_id is not None, 10, "the stream's first answer")
        self.burst(2)
        seen = s.comments
        # Its next answer comes with the keep-alive comment, at most 15 s on.
        self.wait_for(lambda: s.comments > seen, 25, "the stream's next answer")
        with s.lock:
            self.assertEqual([e for e in s.events if e[1] == "gap"], [])
        # A reader that was not there is told of it, as before.
        status, _, body = self.server.raw("POST", "/barge/v1/getevents",
                                          {"status": ["FAILED"], "after": 1})
        self.assertIn("gap", body)

    def test_a_gap_stays_said_when_more_are_kept_after_a_restart(self):
        # The events let go were loaded as events of removed jobs once the ring was larger than
        # the gap: a reader behind them got the kept ones without a word of the gap.
        self.burst(2)
        self.server.stop()
        args = list(self.server.args)
        args[args.index("--events-kept") + 1] = "100000"
        self.server.args = args
        try:
            self.server.start()
            status, _, body = self.server.raw("POST", "/barge/v1/getevents",
                                              {"after": 5, "max": 1})
            self.assertEqual(status, 200, body)
            self.assertIn("gap", body)
            self.assertEqual(body["events"][0]["seq"], body["gap"]["oldestSeq"])
            self.assertGreater(body["gap"]["oldestSeq"], 6)
        finally:
            self.server.stop()
            args[args.index("--events-kept") + 1] = "10000"
            self.server.start()


class CatchingUp(Bursts):
    """A webhook target or a stream far behind catches up at once: its polls are cut short (a
    hundred events a poll older than the newest 10,000 are described for it alone) and it reads
    on without the pause that fills the answers of a reader that keeps up."""

    ARRAYS = 8  # 80,008 events behind, 70,008 of them older than the newest 10,000

    def paused_floor(self, behind):
        """The least a reader pausing 20 ms after each poll of a hundred old events took to
        catch up (the pauses alone), in seconds."""
        return (behind - 10000) / 100 * 0.020

    @classmethod
    def setUpClass(cls):
        cls.hook = Receiver()
        cls.conf_dir = tempfile.mkdtemp(prefix="barge-hooks-")
        cls.hooks = os.path.join(cls.conf_dir, "hooks.json")
        with open(cls.hooks, "w") as f:
            json.dump({"targets": [{"name": "behind", "url": cls.hook.url, "secret": SECRET,
                                    "queue": "parked", "batch": 100}]}, f)
        cls.server_args = FAST + ("--webhooks", cls.hooks)
        super().setUpClass()

    def test_a_target_behind_by_a_burst_catches_up_without_pausing(self):
        cursor = os.path.join(self.server.data_dir, "webhooks", "behind")

        def position():
            try:
                with open(cursor) as f:
                    return int(f.read())
            except (OSError, ValueError):
                return -1
        # Everything before delivered (the other test's burst too) and the position recorded.
        newest_now = self.last_seq()
        self.wait_for(lambda: position() >= newest_now, 30, "the target's position recorded")
        # The burst made while the server runs without the target: it starts again behind
        # by all of it.
        self.server.stop()
        args = list(self.server.args)
        self.server.args = [a for a in args if a not in ("--webhooks", self.hooks)]
        try:
            self.server.start()
            start, newest = self.burst(self.ARRAYS)
            self.server.stop()
        finally:
            self.server.args = args
        self.assertEqual(position(), start)
        # What the target got before (the other test's burst) is left out.
        first = len(self.hook.got)
        self.server.start()
        t0 = time.monotonic()  # the start's own time (longer under the sanitizers) left out
        self.wait_for(lambda: sum(int(n) for n in list(self.hook.counts)[first:]) >=
                      newest - start, 60, "the target caught up")
        took = time.monotonic() - t0
        # Pausing, 60,000 behind took 29 s (its floor 10 s); reading on, 1.5 s (3.5 s under
        # the sanitizers).  Under the floor by a fifth: what a pausing reader cannot do however
        # fast the machine, with room for a loaded one.
        floor = self.paused_floor(newest - start)
        self.assertLess(took, 0.8 * floor, "caught up in %.1f s" % took)
        seqs = [int(e) for e, _, _ in self.hook.got[first:]]
        self.assertEqual(seqs, sorted(seqs))
        self.assertEqual(seqs[-1], newest)
        self.assertEqual(sum(int(n) for n in self.hook.counts[first:]), newest - start)

    def test_a_stream_behind_by_a_burst_catches_up_without_pausing(self):
        start, newest = self.burst(self.ARRAYS)
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=60)
        self.addCleanup(sock.close)
        t0 = time.monotonic()
        sock.sendall(b"GET /barge/v1/events?queue=parked HTTP/1.0\r\n"
                     b"Last-Event-ID: %d\r\n\r\n" % start)
        chunks, tail, at = [], b"", start
        while at < newest:
            chunk = sock.recv(1 << 20)
            self.assertTrue(chunk, "the stream ended")
            chunks.append(chunk)
            tail = (tail + chunk)[-200:]
            found = re.findall(rb"\n: at (\d+)\n", tail)
            at = int(found[-1]) if found else at
        took = time.monotonic() - t0
        ids = [int(i) for i in re.findall(rb"(?m)^id: (\d+)$", b"".join(chunks))]
        self.assertEqual(ids, list(range(start + 1, newest + 1)))
        # A poll asked within 20 ms of the last answer was held the rest of the 20 ms: 60,000
        # behind took 10.4 s; reading on, 0.4 s.
        floor = self.paused_floor(newest - start)
        self.assertLess(took, 0.8 * floor, "caught up in %.1f s" % took)


class OneTarget(JobsCase):
    """A server delivering to one webhook target of its own (cls.hook answering behaviour, the
    target's members target, and more server options)."""
    behaviour = staticmethod(lambda n: 200)
    target = {}
    more_args = ()

    @classmethod
    def setUpClass(cls):
        cls.hook = Receiver(lambda n: cls.behaviour(n))
        cls.conf_dir = tempfile.mkdtemp(prefix="barge-hooks-")
        path = os.path.join(cls.conf_dir, "hooks.json")
        with open(path, "w") as f:
            json.dump({"targets": [dict(url=cls.hook.url, secret=SECRET, **cls.target)]}, f)
        cls.server_args = FAST + ("--webhooks", path) + tuple(cls.more_args)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.hook.httpd.shutdown()
        shutil.rmtree(cls.conf_dir, ignore_errors=True)


class WebhookDamagedPosition(OneTarget):
    """A target's position file that holds no position (a class of its own: its restarts send
    every event kept again)."""
    target = {"name": "kept", "queue": "q"}

    def test_a_damaged_position_sends_again_rather_than_losing(self):
        # A position file that held no number (emptied by a crash, edited) was read as no
        # file: delivery went on "from now on", and what the target had missed was lost
        # without a word; "-5" stopped the target for good (its filter refused).
        cursor = os.path.join(self.server.data_dir, "webhooks", "kept")
        jid = self.submit("kept", command="true")
        self.wait_job(jid)
        self.wait_for(lambda: self.hook.statuses(jid)[-1:] == ["SUCCEEDED"], 20,
                      "the job's events delivered")
        self.assertEqual(os.stat(cursor).st_mode & 0o777, 0o600)
        for damage in ("", "garbage\n", "-5\n"):
            self.server.stop()
            with open(cursor, "w") as f:
                f.write(damage)
            had = len(self.hook.statuses(jid))
            logged = len(self.server.read_log())
            self.server.start()
            # Every event still kept comes again, this job's among them.
            self.wait_for(lambda: len(self.hook.statuses(jid)) >= had + 4, 20,
                          "the job's events sent again after %r" % damage)
            self.assertEqual(self.hook.statuses(jid)[had:had + 4],
                             ["RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"])
            self.assertIn("holds no event's number", self.server.read_log()[logged:])
            self.assertNotIn("refuses its filter", self.server.read_log()[logged:])
        # A position past the newest event (a data directory made anew) is said.
        self.server.stop()
        with open(cursor, "w") as f:
            f.write("99999999\n")
        self.server.start()
        self.wait_for(lambda: "past this server's newest" in self.server.read_log(), 20,
                      "the position past the newest event said")


class WebhookBehindRetention(OneTarget):
    """A target down for longer than the jobs are kept: the events of the jobs removed meanwhile
    cannot be sent, and the log says so (it said nothing)."""
    up = False
    behaviour = staticmethod(lambda n: 200 if WebhookBehindRetention.up else 503)
    target = {"name": "late"}
    more_args = ("--retention-hours", "%.9f" % (3 / 3600))

    def test_events_of_removed_jobs_are_said_to_be_passed_over(self):
        jobs = [self.submit("gone-%d" % i, command="true") for i in range(3)]
        for jid in jobs:
            self.wait_job(jid)
        self.wait_for(lambda: not self.batch.describe_jobs(jobs=jobs)["jobs"], 30,
                      "the jobs removed after their retention")
        type(self).up = True
        self.wait_for(lambda: "passed over" in self.server.read_log(), 40,
                      "the events of the removed jobs said to be passed over")
        line = [l for l in self.server.read_log().splitlines() if "passed over" in l][0]
        self.assertIn("late", line)
        self.assertIn("--retention-hours", line)

    def test_sighup_says_the_targets_are_read_at_start_only(self):
        # It said "nothing to read again", as if the targets had been.
        os.kill(self.server.proc.pid, signal.SIGHUP)
        self.wait_for(lambda: "--webhooks is read at start only" in self.server.read_log(), 10,
                      "SIGHUP's word on --webhooks")


class WebhookPositions(JobsCase):
    """Where a target stands, written to DATA_DIR/webhooks/NAME, across servers killed soon after
    they start (a class of its own: the kills would make the other targets deliver again)."""

    @classmethod
    def setUpClass(cls):
        cls.answer = staticmethod(lambda n: 200)
        cls.hook = Receiver(lambda n: cls.answer(n))
        # A target that refuses the first event it is sent, three times.
        cls.picky = Receiver(lambda n: 400 if n <= 3 else 200)
        cls.conf_dir = tempfile.mkdtemp(prefix="barge-hooks-")
        path = os.path.join(cls.conf_dir, "hooks.json")
        with open(path, "w") as f:
            json.dump({"targets": [{"name": "kept", "url": cls.hook.url, "secret": SECRET,
                                    "queue": "q"}]}, f)
        cls.server_args = FAST + ("--webhooks", path)
        super().setUpClass()

    def test_the_first_delivery_after_a_start_is_recorded_at_once(self):
        # The position was written no sooner than a second after a start: a server killed
        # within a second of each start sent every event since the first start again, every
        # time.  Here the first delivery after a start is the only one: the next is refused
        # until the server is killed, so no later write can record it instead.
        cursor = os.path.join(self.server.data_dir, "webhooks", "kept")
        type(self).answer = staticmethod(lambda n: 500)
        jid = self.submit("kept", command="true")
        self.wait_job(jid)
        self.wait_for(lambda: self.hook.requests >= 1, 15, "a delivery to the refusing target")
        self.server.kill9()
        with open(cursor) as f:
            before = int(f.read())
        tried = self.hook.requests
        type(self).answer = staticmethod(lambda n: 200 if n == tried + 1 else 500)
        self.server.start()
        self.wait_for(lambda: self.hook.requests >= tried + 2, 15,
                      "the first delivery after the start, and the next one refused")
        self.server.kill9()
        self.assertEqual(len(self.hook.got), 1)
        first = int(self.hook.got[0][0])
        self.assertGreater(first, before)
        with open(cursor) as f:
            self.assertEqual(int(f.read()), first, "the first delivery's position not written")
        # Delivery goes on after it: each of the job's events once.
        type(self).answer = staticmethod(lambda n: 200)
        self.server.start()
        self.wait_for(lambda: self.hook.statuses(jid)[-1:] == ["SUCCEEDED"], 20,
                      "the rest of the job's events after the restart")
        self.assertEqual(self.hook.statuses(jid),
                         ["RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"])
