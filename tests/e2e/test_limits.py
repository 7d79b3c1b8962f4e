"""Limits on hostile clients, and keys changed without a restart: a cap on the connections one
address may hold (another address is still served), a deadline for every request to arrive
whole (a client trickling its headers or its body is cut off; a long poll the server holds is
not), rate limits per access key (429 TooManyRequestsException, which the SDKs retry), and
SIGHUP reading --credentials, --policies and --secrets again (a broken file keeps the old)."""
import concurrent.futures
import json
import os
import select
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import time
import unittest

import boto3
import botocore.config
import botocore.exceptions

from harness import BARGE, REGION, Server, ServerTestCase, register_agent, write_credentials
from test_jobs_common import FAST, JobsCase, resources, sh
from test_wire_errors import parse_response


def connect(port, source="127.0.0.1", timeout=10):
    """A connection to the server on 127.0.0.1 from the loopback address `source`."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def healthz_on(s):
    """A keep-alive GET /healthz on an open connection; the status, or None if the server
    closed the connection instead of answering."""
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        out = b""
        while b"\r\n\r\n" not in out:
            chunk = s.recv(4096)
            if not chunk:
                return None
            out += chunk
        head, _, body = out.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(body) < length:
            chunk = s.recv(4096)
            if not chunk:
                return None
            body += chunk
        return int(head.split()[1])
    except (ConnectionResetError, BrokenPipeError):
        return None


def closed_within(s, seconds):
    """Reads until the server closes s; returns (seconds it took, bytes read), or (None, bytes)
    if it is still open after `seconds`."""
    t0 = time.monotonic()
    out = b""
    s.settimeout(0.2)
    while time.monotonic() - t0 < seconds:
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.monotonic() - t0, out
        if not chunk:
            return time.monotonic() - t0, out
        out += chunk
    return None, out


class ConnectionsPerAddress(unittest.TestCase):
    """One address may hold --max-connections-per-address connections; more are closed as they
    come, and other addresses are served meanwhile."""

    CAP = 20

    def setUp(self):
        self.server = Server(args=("--dev", "--max-connections-per-address", str(self.CAP)))
        self.server.start()
        self.socks = []

    def tearDown(self):
        for s in self.socks:
            s.close()
        self.server.cleanup()

    def fill(self, source, n):
        """Opens connections from source, each proven alive by a request, until n are or one
        is refused; returns how many were taken."""
        for _ in range(n):
            s = connect(self.server.port, source)
            self.socks.append(s)
            if healthz_on(s) != 200:
                return len(self.socks) - 1
        return n

    def test_cap_per_address(self):
        self.assertEqual(self.fill("127.0.0.1", self.CAP), self.CAP)
        # The next one from the same address is closed without an answer...
        extra = connect(self.server.port, "127.0.0.1")
        self.assertIsNone(healthz_on(extra))
        extra.close()
        # ...while another address is served, and the held ones still are.
        other = connect(self.server.port, "127.0.0.2")
        self.assertEqual(healthz_on(other), 200)
        other.close()
        self.assertEqual(healthz_on(self.socks[0]), 200)
        # A connection given back makes room for one more.
        self.socks.pop().close()
        deadline = time.monotonic() + 10
        while True:
            s = connect(self.server.port, "127.0.0.1")
            ok = healthz_on(s) == 200
            if ok:
                self.socks.append(s)
                break
            s.close()
            self.assertLess(time.monotonic(), deadline, "no room after a connection closed")
            time.sleep(0.05)

    def test_silent_connections_from_one_address(self):
        # The probe's attack, scaled: connections opened and left silent from one address.
        silent = [connect(self.server.port, "127.0.0.1") for _ in range(3 * self.CAP)]
        self.socks.extend(silent)
        for source in ("127.0.0.2", "127.0.0.3"):
            s = connect(self.server.port, source)
            self.assertEqual(healthz_on(s), 200, source)
            s.close()
        other = connect(self.server.port, "127.0.0.2")
        other.sendall(b"POST /v1/describejobqueues HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n"
                      b"Connection: close\r\n\r\n{}")
        _, out = closed_within(other, 10)
        other.close()
        self.assertEqual(parse_response(out)[0], 200, out[:300])
        # The refusals are counted in the log, not written one line each.
        lines = [l for l in self.server.read_log().splitlines() if "closed at once" in l]
        self.assertTrue(lines)
        self.assertLessEqual(len(lines), 2, lines)
        self.assertIn("--max-connections-per-address (%d)" % self.CAP, lines[0])


    def test_streams_whose_clients_left_give_their_places_back(self):
        # An event stream's connection waits suspended for the server, unread: a client that
        # left was seen only at the stream's next keep-alive, 15 s later, and meanwhile its
        # place counted, so that streams dropped and opened again locked their address out of
        # every API call.
        for how in ("close", "reset"):
            streams = []
            for _ in range(self.CAP):
                s = connect(self.server.port, "127.0.0.1")
                s.sendall(b"GET /barge/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                self.assertIn(b" 200 ", s.recv(4096)[:20], how)
                streams.append(s)
            other = connect(self.server.port, "127.0.0.1")
            self.assertIsNone(healthz_on(other), how)  # (the cap is full)
            other.close()
            for s in streams:
                if how == "reset":
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            # Their places come back within seconds, before a keep-alive (15 s, which the bound
            # of 14 s stays under); seen in about a second each on a quiet machine, 8 s on a
            # loaded one with sanitizers, 12 s for the twentieth beside three test workers.
            start = time.monotonic()
            while True:
                s = connect(self.server.port, "127.0.0.1")
                ok = healthz_on(s) == 200
                s.close()
                if ok:
                    break
                self.assertLess(time.monotonic() - start, 14, how)
                time.sleep(0.1)
            # Each stream is looked at on a clock of its own: all are back within seconds
            # (one refused is closed at once and holds no place).
            while len(self.socks) < self.CAP:
                s = connect(self.server.port, "127.0.0.1")
                if healthz_on(s) == 200:
                    self.socks.append(s)
                    continue
                s.close()
                self.assertLess(time.monotonic() - start, 14, (how, len(self.socks)))
                time.sleep(0.1)
            for s in self.socks:
                s.close()
            self.socks = []
            time.sleep(3)  # (kept-alive connections whose client left go within 2 s)


    def test_streams_that_end_behind_older_connections_give_their_places_back(self):
        # libmicrohttpd frees a connection closed from a resumed stream only once it is the
        # oldest on its thread's list: behind kept-alive connections opened earlier and still
        # open, ended streams held their places until the idle timeout (about two minutes).
        held = 4
        for _ in range(held):
            s = connect(self.server.port, "127.0.0.1")
            self.assertEqual(healthz_on(s), 200)
            self.socks.append(s)  # (left idle: the oldest on their threads' lists)
        streams = []
        for _ in range(self.CAP - held):
            s = connect(self.server.port, "127.0.0.1")
            s.sendall(b"GET /barge/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            self.assertIn(b" 200 ", s.recv(4096)[:20])
            streams.append(s)
        for s in streams:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        # Seen within seconds (as in the test above); the bound stays under the idle timeout.
        deadline = time.monotonic() + 20
        while len(self.socks) < self.CAP:
            s = connect(self.server.port, "127.0.0.1")
            if healthz_on(s) == 200:
                self.socks.append(s)
                continue
            s.close()
            self.assertLess(time.monotonic(), deadline,
                            "%d of %d places back" % (len(self.socks) - held, self.CAP - held))
            time.sleep(0.1)


class OpenFileLimit(unittest.TestCase):
    """A server under a small open-file limit fits its connections to it: at the limit
    libmicrohttpd had no descriptor to accept with and spun on EMFILE, a CPU at 100%."""

    def cpu_seconds(self, pid):
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def test_connections_fit_the_open_file_limit(self):
        wrapper = os.path.join(tempfile.mkdtemp(prefix="barge-nofile-"), "barge")
        self.addCleanup(shutil.rmtree, os.path.dirname(wrapper), True)
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\nulimit -n 64 || exit 9\nexec %s \"$@\"\n" % BARGE)
        os.chmod(wrapper, 0o755)
        server = Server(args=("--dev", "--executor", "process"))
        server.binary = wrapper
        server.start()
        self.addCleanup(server.cleanup)
        self.assertIn("the open-file limit (64) leaves room for 32 connections",
                      server.read_log())
        socks = []
        self.addCleanup(lambda: [s.close() for s in socks])
        for _ in range(100):
            try:
                socks.append(connect(server.port, "127.0.0.1"))
            except OSError:
                break
        time.sleep(0.5)
        before = self.cpu_seconds(server.proc.pid)
        time.sleep(2)
        # No spinning: a server waiting for its clients uses next to no CPU.
        self.assertLess(self.cpu_seconds(server.proc.pid) - before, 0.5)
        for s in socks:
            s.close()
        socks.clear()
        deadline = time.monotonic() + 10
        while True:
            s = connect(server.port, "127.0.0.1")
            ok = healthz_on(s) == 200
            s.close()
            if ok:
                break
            self.assertLess(time.monotonic(), deadline, "not served once the clients left")
            time.sleep(0.1)


class DefaultCap(unittest.TestCase):
    """Without the option the cap is 512: room for wrk -c256 and the local agents, and far
    below the server's 4,000 in all.  The probe's case: 4,100 silent connections from one
    address used to leave none for anyone else."""

    def test_default(self):
        server = Server().start()
        socks = []
        try:
            for _ in range(4100):
                socks.append(connect(server.port, "127.0.0.1"))
            # Those past the cap are closed as they come (the harness's own connection may
            # still count); the others are held open.
            poller = select.poll()
            by_fd = {s.fileno(): s for s in socks}
            for fd in by_fd:
                poller.register(fd, select.POLLIN)
            refused, deadline = set(), time.monotonic() + 15
            while time.monotonic() < deadline and len(refused) < 4100 - 512:
                for fd, _ in poller.poll(500):
                    s = by_fd[fd]
                    try:
                        gone = s.recv(1) == b""
                    except ConnectionResetError:
                        gone = True
                    if gone:
                        refused.add(s)
                        poller.unregister(fd)
            time.sleep(0.5)
            for fd, _ in poller.poll(0):
                refused.add(by_fd[fd])
            # (Two HTTP threads accept, so which ones are refused near the cap may vary.)
            self.assertIn(len(refused), (4100 - 512, 4100 - 511))
            held = [s for s in socks if s not in refused]
            for s in (held[0], held[-1]):
                self.assertEqual(healthz_on(s), 200)
            for source in ("127.0.0.2", "127.0.0.3"):
                other = connect(server.port, source)
                self.assertEqual(healthz_on(other), 200, source)
                other.close()
        finally:
            for s in socks:
                s.close()
            server.cleanup()


class RequestDeadline(ServerTestCase):
    """--request-timeout: a request must arrive whole in time, however its bytes trickle."""

    TIMEOUT = 2
    server_args = ("--dev", "--request-timeout", str(TIMEOUT))

    def trickle(self, s, data, until):
        """Sends data a byte every 0.2 s until the server closes s or `until` seconds pass;
        returns (seconds until it closed or None, what it answered)."""
        t0 = time.monotonic()
        s.settimeout(0.2)
        out = b""
        i = 0
        while time.monotonic() - t0 < until:
            if i < len(data):
                try:
                    s.send(data[i:i + 1])
                except (BrokenPipeError, ConnectionResetError):
                    return time.monotonic() - t0, out
                i += 1
            try:
                chunk = s.recv(4096)
                if not chunk:
                    return time.monotonic() - t0, out
                out += chunk
            except socket.timeout:
                pass
            except ConnectionResetError:
                return time.monotonic() - t0, out
        return None, out

    def test_silent_connection_is_closed(self):
        s = connect(self.server.port)
        t, out = closed_within(s, 20)
        s.close()
        self.assertIsNotNone(t, "a connection that sent nothing was still open after 20 s")
        self.assertGreater(t, self.TIMEOUT - 0.5)
        self.assertEqual(out, b"")

    def test_trickled_headers(self):
        s = connect(self.server.port)
        head = (b"POST /v1/describejobqueues HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                b"".join(b"X-Pad-%d: %s\r\n" % (i, b"y" * 20) for i in range(40)))
        t, out = self.trickle(s, head, 20)
        s.close()
        self.assertIsNotNone(t, "a client trickling its headers was not cut off in 20 s")
        self.assertLess(t, self.TIMEOUT + 6)
        self.assertIn("did not arrive whole", self.server.read_log())

    def test_trickled_body(self):
        s = connect(self.server.port)
        s.sendall(b"POST /v1/describejobqueues HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 400\r\n\r\n")
        t, out = self.trickle(s, b'{"jobQueues": [' + b'"q", ' * 100, 20)
        s.close()
        self.assertIsNotNone(t, "a client trickling its body was not cut off in 20 s")
        self.assertLess(t, self.TIMEOUT + 6)
        # libmicrohttpd takes no answer in the middle of a body: the connection is just closed.
        self.assertEqual(out, b"")

    def test_late_headers_are_answered_408(self):
        # Headers that complete after the deadline but before the sweeper closes the
        # connection: hold the sweeper off by ending them right at the deadline, several
        # times, until one lands in that window (the sweeper looks every quarter second).
        for attempt in range(20):
            s = connect(self.server.port)
            s.sendall(b"POST /v1/describejobqueues HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Length: 2\r\n")
            time.sleep(self.TIMEOUT + 0.02 + 0.012 * attempt)
            try:
                s.sendall(b"\r\n{}")
            except (BrokenPipeError, ConnectionResetError):
                s.close()
                continue
            _, out = closed_within(s, 10)
            s.close()
            status, headers, body = parse_response(out)
            if status == 408:
                self.assertEqual(json.loads(body)["__type"], "RequestTimeoutException")
                self.assertIn("--request-timeout", json.loads(body)["message"])
                self.assertEqual(headers.get("x-amzn-errortype"), "RequestTimeoutException")
                return
            # Closed unanswered (the sweeper came first), or answered in time: the server took
            # the connection late and timed it from then (a loaded machine); try again.
            self.assertIn(status, (None, 200), out)
        self.fail("no late request was answered 408 in 20 tries")

    def test_slow_but_in_time(self):
        s = connect(self.server.port)
        s.sendall(b"POST /v1/describejobqueues HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Connection: close\r\nContent-Length: 2\r\n\r\n{")
        time.sleep(self.TIMEOUT / 2)
        s.sendall(b"}")
        t, out = closed_within(s, 10)
        s.close()
        self.assertEqual(parse_response(out)[0], 200, out)

    def test_kept_alive_connection(self):
        # Idle between requests is not a request arriving late: the idle timeout (120 s) is
        # libmicrohttpd's, and the next request has its own deadline from its request line.
        s = connect(self.server.port)
        self.assertEqual(healthz_on(s), 200)
        time.sleep(self.TIMEOUT + 1.5)
        self.assertEqual(healthz_on(s), 200)
        s.sendall(b"POST /v1/describejobqueues HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        t, _ = self.trickle(s, b"X-Slow: " + b"z" * 200, 20)
        s.close()
        self.assertIsNotNone(t, "a later request trickled on a kept-alive connection was not "
                                "cut off in 20 s")

    def test_long_poll_is_not_cut(self):
        # An agent's waiting exchange is held by the server for up to pollSeconds (20): far
        # longer than the request timeout, and answered whole.
        iid, credential = register_agent(self.server, ce="agents", memory=256)
        t0 = time.monotonic()
        status, _, out = self.server.raw("POST", "/barge/v1/agent/exchange",
                                         {"instanceId": iid, "wait": True},
                                         headers={"Authorization": "Bearer " + credential})
        held = time.monotonic() - t0
        self.assertEqual(status, 200, out)
        self.assertGreater(held, self.TIMEOUT + 3)


class DroppedRequests(ServerTestCase):
    """A request its client drops half-sent gives its connection back within seconds rather
    than at --request-timeout (30 s): libmicrohttpd did not always see the end of a stream that
    came with the last bytes it read, and 1,000 such requests held 127.0.0.1's 512 connections,
    so that no local client or agent was served for 30 s."""

    server_args = ("--dev",)

    def held_by_server(self):
        out = subprocess.run(["ss", "-Htn", "state", "close-wait", "sport", "=",
                              ":%d" % self.server.port], capture_output=True, text=True).stdout
        return len(out.splitlines())

    def test_dropped_requests_give_their_connections_back(self):
        for _ in range(1000):
            s = connect(self.server.port)
            try:
                s.sendall(b"POST /v1/describejobqueues HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Content-Length: 100\r\n\r\n{")
            except OSError:
                pass  # closed at once: the address held its 512 (a slow server)
            s.close()
        t0 = time.monotonic()
        while self.held_by_server() and time.monotonic() - t0 < 10:
            time.sleep(0.2)
        self.assertEqual(self.held_by_server(), 0,
                         "connections of dropped requests still held after 10 s")
        s = connect(self.server.port)
        self.assertEqual(healthz_on(s), 200)
        s.close()

    def test_a_request_whose_client_shut_its_side_is_answered(self):
        # Nothing more will come, but the request is whole (or becomes whole): answered.
        for pause in (0, 1.5):
            s = connect(self.server.port)
            s.sendall(b"POST /v1/describejobqueues HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{")
            time.sleep(pause)
            s.sendall(b"}")
            s.shutdown(socket.SHUT_WR)
            _, out = closed_within(s, 10)
            s.close()
            self.assertEqual(parse_response(out)[0], 200, out)


class RequestDeadlineOverTls(unittest.TestCase):
    """The same deadline with HTTPS: a client that never finishes its TLS handshake, or
    trickles its headers inside TLS, is cut off like one in plain HTTP."""

    TIMEOUT = 2

    @classmethod
    def setUpClass(cls):
        from test_tls import TlsServer, make_ca, make_cert
        cls.dir = tempfile.mkdtemp(prefix="barge-limits-tls-")
        cls.ca = make_ca(cls.dir)
        cert, key = make_cert(cls.dir)
        cls.server = TlsServer(cls.ca, args=("--dev", "--request-timeout", str(cls.TIMEOUT),
                                             "--tls-cert", cert, "--tls-key", key)).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_no_handshake(self):
        s = connect(self.server.port)
        s.sendall(b"\x16\x03\x01")  # the start of a ClientHello, never finished
        t, _ = closed_within(s, 20)
        s.close()
        self.assertIsNotNone(t, "a half-sent TLS handshake held its connection for 20 s")

    def test_trickled_headers_in_tls(self):
        ctx = ssl.create_default_context(cafile=self.ca)
        s = ctx.wrap_socket(connect(self.server.port), server_hostname="127.0.0.1")
        s.sendall(b"POST /v1/describejobqueues HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        t0 = time.monotonic()
        closed = None
        s.settimeout(0.2)
        while time.monotonic() - t0 < 20:
            try:
                s.sendall(b"X")
                if s.recv(4096) == b"":
                    closed = time.monotonic() - t0
                    break
            except socket.timeout:
                continue
            except (ssl.SSLError, OSError):
                closed = time.monotonic() - t0
                break
        s.close()
        self.assertIsNotNone(closed, "a client trickling its headers over TLS was not cut off")
        self.assertLess(closed, self.TIMEOUT + 6)
        # A whole request in time is served.
        self.assertEqual(self.server.client().describe_job_queues()["jobQueues"], [])


# Rate limits ---------------------------------------------------------------------------------

KEYS = {
    # name: (access key, secret, barge_rate_limit or None)
    "limited": ("AKIALIMITED0000001", "limitedSecret000000000000000000001", None),
    "victim": ("AKIAVICTIM00000001", "victimSecret0000000000000000000001", None),
    "unlimited": ("AKIAUNLIMITED00001", "unlimitedSecret00000000000000000001", "off"),
    "paced": ("AKIAPACED000000001", "pacedSecret00000000000000000000001", "4/s,1"),
}


def client(url, name, service="batch", retries=None):
    key, secret, _ = KEYS[name]
    return boto3.client(service, endpoint_url=url, region_name=REGION, aws_access_key_id=key,
                        aws_secret_access_key=secret,
                        config=botocore.config.Config(
                            retries=retries or {"max_attempts": 1, "mode": "standard"}))


class RateLimits(unittest.TestCase):
    """--rate-limit per access key, barge_rate_limit per principal."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="barge-limits-")
        sections = {}
        for name, (key, secret, rate) in KEYS.items():
            sections[name] = {"aws_access_key_id": key, "aws_secret_access_key": secret,
                              "barge_policy": "admin"}
            if rate:
                sections[name]["barge_rate_limit"] = rate
        creds = write_credentials(os.path.join(cls.dir, "credentials"), sections)
        # Three calls at once, then one a minute: the tests never wait for a refill but the
        # paced principal's.
        cls.server = Server(args=("--credentials", creds, "--rate-limit", "1/m,3")).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def test_over_the_limit_is_429(self):
        batch = client(self.server.url, "limited")
        for _ in range(3):
            batch.describe_job_queues()
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            batch.describe_job_queues()
        err = cm.exception.response
        self.assertEqual(err["Error"]["Code"], "TooManyRequestsException")
        self.assertEqual(err["Error"]["Message"], "Too Many Requests")
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 429)
        # The logs API is throttled as CloudWatch Logs throttles.
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            client(self.server.url, "limited", "logs").describe_log_groups()
        self.assertEqual(cm.exception.response["Error"]["Code"], "ThrottlingException")
        self.assertEqual(cm.exception.response["Error"]["Message"], "Rate exceeded")
        # Other keys have buckets of their own, and "off" is no limit at all.
        free = client(self.server.url, "unlimited")
        for _ in range(20):
            free.describe_job_queues()
        # Health checks and the agent protocol are not API calls of a key.
        for _ in range(10):
            self.assertEqual(self.server.raw("GET", "/healthz")[0], 200)

    def test_refused_signatures_take_nothing(self):
        key, _, _ = KEYS["victim"]
        forged = boto3.client("batch", endpoint_url=self.server.url, region_name=REGION,
                              aws_access_key_id=key, aws_secret_access_key="not-the-secret",
                              config=botocore.config.Config(retries={"max_attempts": 1}))
        for _ in range(10):
            with self.assertRaises(botocore.exceptions.ClientError) as cm:
                forged.describe_job_queues()
            self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidSignatureException")
        batch = client(self.server.url, "victim")
        for _ in range(3):
            batch.describe_job_queues()

    def test_standard_retries_get_through(self):
        # 4 a second with a burst of 1: ten calls in a row are throttled and retried by
        # botocore's standard mode until each gets through.
        batch = client(self.server.url, "paced",
                       retries={"max_attempts": 10, "mode": "standard"})
        retried = 0
        for _ in range(10):
            out = batch.describe_job_queues()
            retried += out["ResponseMetadata"]["RetryAttempts"]
        self.assertGreater(retried, 0)
        # And the CLI, whose default (legacy) retries treat a 429 as throttling too.
        key, secret, _ = KEYS["paced"]
        env = dict(os.environ, AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret,
                   AWS_DEFAULT_REGION=REGION, AWS_PAGER="", AWS_MAX_ATTEMPTS="10",
                   AWS_RETRY_MODE="legacy")
        env.pop("AWS_PROFILE", None)
        for _ in range(4):
            p = subprocess.run(["aws", "--endpoint-url", self.server.url, "batch",
                                "describe-job-queues"], env=env, capture_output=True,
                               text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr)


class RateLimitsByAddress(unittest.TestCase):
    """Without --credentials any key is taken, so --rate-limit counts per client address."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(args=("--dev", "--rate-limit", "1/m,2")).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def call(self, source, path="/v1/describejobqueues", headers=None):
        s = connect(self.server.port, source)
        h = b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in (headers or {}).items())
        s.sendall(b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%sContent-Length: 2"
                  b"\r\n\r\n{}" % (path.encode(), h))
        _, out = closed_within(s, 10)
        s.close()
        return parse_response(out)

    def test_per_address(self):
        self.assertEqual(self.call("127.0.0.5")[0], 200)
        self.assertEqual(self.call("127.0.0.5")[0], 200)
        status, headers, body = self.call("127.0.0.5")
        self.assertEqual(status, 429, body)
        self.assertEqual(headers.get("x-amzn-errortype"), "TooManyRequestsException")
        self.assertEqual(json.loads(body), {"__type": "TooManyRequestsException",
                                            "message": "Too Many Requests"})
        # Another address has its own bucket; a different key from the same address does not.
        self.assertEqual(self.call("127.0.0.6")[0], 200)
        # The agent protocol is not limited.
        for _ in range(5):
            status, _, body = self.call("127.0.0.5", "/barge/v1/agent/register",
                                        {"Authorization": "Bearer any"})
            self.assertNotEqual(status, 429, body)


# Reload --------------------------------------------------------------------------------------

def wait_until(fn, timeout=15, what="the condition"):
    deadline = time.monotonic() + timeout
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(0.05)


R_KEYS = {
    "alice": ("AKIAALICE000000001", "aliceSecret00000000000000000000001"),
    "bob": ("AKIABOB00000000001", "bobSecret0000000000000000000000001"),
    "carol": ("AKIACAROL000000001", "carolSecret00000000000000000000001"),
}


class Reload(unittest.TestCase):
    """SIGHUP: keys added and removed, a policy changed, broken files refused, no restart."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="barge-reload-")
        self.creds = os.path.join(self.dir, "credentials")
        self.pols = os.path.join(self.dir, "policies.json")
        self.write_creds({"alice": "admin", "bob": "queues"})
        self.write_policies(allow_queues=True)
        self.server = Server(args=("--credentials", self.creds, "--policies", self.pols))
        self.server.start()
        self.pid = self.server.proc.pid

    def tearDown(self):
        self.assertEqual(self.server.proc.pid, self.pid, "the server was restarted")
        self.server.cleanup()

    def write_creds(self, who, extra=""):
        sections = {name: {"aws_access_key_id": R_KEYS[name][0],
                           "aws_secret_access_key": R_KEYS[name][1], "barge_policy": pol}
                    for name, pol in who.items()}
        write_credentials(self.creds, sections)
        if extra:
            with open(self.creds, "a") as f:
                f.write(extra)

    def write_policies(self, allow_queues):
        doc = {"queues": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow" if allow_queues else "Deny",
             "Action": "batch:DescribeJobQueues", "Resource": "*"},
            {"Effect": "Allow", "Action": "batch:DescribeComputeEnvironments",
             "Resource": "*"}]}}
        with open(self.pols, "w") as f:
            json.dump(doc, f)

    def hup(self):
        self.server.proc.send_signal(signal.SIGHUP)

    def code(self, name):
        """The error code of a DescribeJobQueues signed by name, or "ok"."""
        key, secret = R_KEYS[name]
        batch = boto3.client("batch", endpoint_url=self.server.url, region_name=REGION,
                             aws_access_key_id=key, aws_secret_access_key=secret,
                             config=botocore.config.Config(retries={"max_attempts": 1}))
        try:
            batch.describe_job_queues()
            return "ok"
        except botocore.exceptions.ClientError as e:
            return e.response["Error"]["Code"]

    def test_add_remove_and_change(self):
        self.assertEqual(self.code("carol"), "UnrecognizedClientException")
        self.assertEqual(self.code("bob"), "ok")
        # A key added.
        self.write_creds({"alice": "admin", "bob": "queues", "carol": "read"})
        self.hup()
        wait_until(lambda: self.code("carol") == "ok", what="carol's new key")
        # A key removed.
        self.write_creds({"alice": "admin", "carol": "read"})
        self.hup()
        wait_until(lambda: self.code("bob") == "UnrecognizedClientException",
                   what="bob's key to go")
        self.assertEqual(self.code("alice"), "ok")
        # A policy changed.
        self.write_creds({"alice": "admin", "bob": "queues"})
        self.hup()
        wait_until(lambda: self.code("bob") == "ok", what="bob's key back")
        self.write_policies(allow_queues=False)
        self.hup()
        wait_until(lambda: self.code("bob") == "AccessDeniedException",
                   what="bob's policy to deny")
        self.assertIn("keys and policies read again", self.server.read_log())

    def test_broken_files_keep_the_old(self):
        # A credentials file with a mistake on its line 12, which would also add carol.
        self.write_creds({"alice": "admin", "carol": "read"}, extra="[dave]\nno equals sign\n")
        self.hup()
        line = wait_until(lambda: [l for l in self.server.read_log().splitlines()
                                   if "SIGHUP" in l and self.creds in l],
                          what="the refusal in the log")[0]
        self.assertIn("line 12", line)
        self.assertIn("stay in force", line)
        self.assertEqual(self.code("bob"), "ok")
        self.assertEqual(self.code("carol"), "UnrecognizedClientException")
        # A policies file that is not JSON: the old policy stays, bob keeps his access.
        with open(self.pols, "w") as f:
            f.write('{"queues": {"Statement": [}\n')
        self.write_creds({"alice": "admin", "bob": "queues"})
        self.hup()
        wait_until(lambda: [l for l in self.server.read_log().splitlines()
                            if "SIGHUP" in l and self.pols in l], what="the policies refusal")
        self.assertEqual(self.code("bob"), "ok")
        self.assertEqual(self.code("carol"), "UnrecognizedClientException")
        # Fixed, it is taken.
        self.write_policies(allow_queues=True)
        self.write_creds({"alice": "admin", "bob": "queues", "carol": "read"})
        self.hup()
        wait_until(lambda: self.code("carol") == "ok", what="carol after the fix")

    def test_requests_in_flight_during_reloads(self):
        # Many signed calls while the keys are reloaded over and over: each is answered as the
        # keys in force when it came say, and nothing breaks.
        stop = time.monotonic() + 3

        def calls(_):
            codes = set()
            while time.monotonic() < stop:
                codes.add(self.code("alice"))
            return codes

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(calls, i) for i in range(4)]
            while time.monotonic() < stop:
                self.hup()
                time.sleep(0.05)
            codes = set().union(*(f.result() for f in futures))
        self.assertEqual(codes, {"ok"})


class ReloadSecrets(JobsCase):
    """SIGHUP reads --secrets again: jobs started after it get the new values."""

    @classmethod
    def setUpClass(cls):
        f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump({"token": "first"}, f)
        f.close()
        os.chmod(f.name, 0o600)
        cls.secrets_file = f.name
        cls.server_args = FAST + ("--secrets", f.name)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        os.unlink(cls.secrets_file)

    def run_job(self, n):
        out = os.path.join(self.out_dir, "token-%d.txt" % n)
        self.batch.register_job_definition(
            jobDefinitionName="tok", type="container",
            containerProperties={"image": "busybox", "resourceRequirements": resources(),
                                 "command": sh('echo "$TOKEN" > "%s"' % out),
                                 "secrets": [{"name": "TOKEN", "valueFrom": "token"}]})
        jid = self.submit(definition="tok")
        d = self.wait_job(jid)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        with open(out) as f:
            return f.read().strip()

    def test_secrets_reloaded(self):
        self.assertEqual(self.run_job(1), "first")
        with open(self.secrets_file, "w") as f:
            f.write('{"token": ')
        self.server.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "secrets loaded before stay in force" in self.server.read_log(),
                   what="the refusal of the broken secrets file")
        self.assertEqual(self.run_job(2), "first")
        with open(self.secrets_file, "w") as f:
            json.dump({"token": "second"}, f)
        self.server.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "secrets read again" in self.server.read_log(),
                   what="the secrets to be read again")
        self.assertEqual(self.run_job(3), "second")
        self.assertNotIn("second", self.server.read_log())


if __name__ == "__main__":
    unittest.main()
