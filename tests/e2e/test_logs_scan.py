"""FilterLogEvents within a budget: a pattern that matches nothing in a large stream is answered
promptly with a nextToken, paging ends, and scans running in parallel hold up neither /healthz
nor agents' requests, which share the HTTP threads (log requests run on threads of their own)."""
import threading
import time
import urllib.request

from harness import Server, ServerTestCase
from test_logs_api import GROUP, logs_call, push

STREAM = "scan/default/big"
LINES = 150000      # three times what one call may examine (LOGSTORE_SCAN_EVENTS)
CHUNK = 15000
T0 = 1700000000000


class LogsScanBudget(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        # Two HTTP threads, the default: the fewer they are, the sooner a slow request on one
        # of them would be felt by every connection it serves.
        cls.server = Server(args=("--dev", "--http-threads", "2")).start()
        for start in range(0, LINES, CHUNK):
            status, out = push(cls.server, {STREAM: [
                (T0 + i, "line %d of a job that talks a lot" % i)
                for i in range(start, min(start + CHUNK, LINES))]})
            assert (status, out) == (200, {}), (status, out)

    def filter(self, token=None, pattern="no-such-text"):
        body = {"logGroupName": GROUP, "logStreamNames": [STREAM], "filterPattern": pattern}
        if token:
            body["nextToken"] = token
        t = time.monotonic()
        status, _, out = logs_call(self.server, "FilterLogEvents", body)
        self.assertEqual(status, 200, out)
        return out, time.monotonic() - t

    def page_through(self, pattern="no-such-text", stop=None):
        """Pages until no nextToken comes (or stop is set); returns (events, pages, slowest
        call)."""
        token, events, pages, slowest = None, [], 0, 0.0
        while not (stop and stop.is_set()):
            out, took = self.filter(token, pattern)
            events += out["events"]
            pages += 1
            slowest = max(slowest, took)
            if "nextToken" not in out:
                return events, pages, slowest
            self.assertNotEqual(out["nextToken"], token)
            token = out["nextToken"]
            self.assertLess(pages, 2000)
        return events, pages, slowest

    def test_a_scan_that_finds_nothing_answers_promptly_and_ends(self):
        out, took = self.filter()
        self.assertEqual(out["events"], [])
        self.assertIn("nextToken", out)        # more to search: an empty page with a token
        self.assertLess(took, 8.0)  # an unbudgeted scan took tens of seconds
        events, pages, slowest = self.page_through()
        self.assertEqual(events, [])
        self.assertGreaterEqual(pages, LINES // 50000)
        self.assertLess(slowest, 8.0)
        # Paging with a pattern that matches finds every match, once, in order.
        events, _, _ = self.page_through("7777")
        want = [T0 + i for i in range(LINES) if "7777" in str(i)]
        self.assertEqual([e["timestamp"] for e in events], want)
        events, _, _ = self.page_through("\"line 149999 \"")
        self.assertEqual([e["timestamp"] for e in events], [T0 + 149999])

    def test_health_and_agents_are_answered_while_scans_run(self):
        stop = threading.Event()
        errors = []

        def scanner():
            try:
                while not stop.is_set():
                    self.page_through(stop=stop)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=scanner) for _ in range(8)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.3)  # let the scans fill every log thread
            health, uploads = [], []
            deadline = time.monotonic() + 4
            n = 0
            while time.monotonic() < deadline:
                t = time.monotonic()
                with urllib.request.urlopen(self.server.url + "/healthz", timeout=5) as r:
                    self.assertEqual(r.status, 200)
                health.append(time.monotonic() - t)
                if n % 5 == 0:
                    # An agent's upload, on its own log threads, beside the scans.
                    t = time.monotonic()
                    status, out = push(self.server, {"scan/default/small": [(T0 + n, "hi")]})
                    self.assertEqual((status, out), (200, {}))
                    uploads.append(time.monotonic() - t)
                n += 1
                time.sleep(0.02)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        self.assertEqual(errors, [])
        self.assertGreater(len(health), 20)
        # Bounds far above an answer's time and far below a scan's, for loaded machines.
        self.assertLess(max(health), 5.0, "slowest /healthz: %.3fs" % max(health))
        self.assertLess(max(uploads), 5.0, "slowest upload: %.3fs" % max(uploads))
