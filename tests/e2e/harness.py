"""Shared helpers for barge's end-to-end tests.

Every test module starts the real server (the binary named by $BARGE, default build/barge) on a
free loopback port with a fresh data directory, drives it with real clients (boto3 and the AWS
CLI), and stops what it started.
"""
import atexit
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import boto3
import botocore.config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BARGE = os.environ.get("BARGE", os.path.join(ROOT, "build", "barge"))
REGION = "us-east-1"
ACCOUNT = "123456789012"
# The key every client of these tests signs with.  A server started without --dev gets a
# credentials file holding it (with the admin policy) unless the test gives its own.
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "secret"


def write_credentials(path, sections):
    """Writes an AWS shared-credentials file: sections maps a name to a dict of its keys."""
    with open(path, "w") as f:
        for name, keys in sections.items():
            f.write("[%s]\n" % name)
            for k, v in keys.items():
                f.write("%s = %s\n" % (k, v))
            f.write("\n")
    os.chmod(path, 0o600)
    return path


# Ports free_port has handed out in this process: the kernel may offer a port again as soon as
# it is free, and two servers made before either starts would then be given the same one.
_handed_out = set()


def _fixed_ports():
    """Ports below the kernel's ephemeral range: a port the kernel picks for bind(0) is in that
    range, where an outgoing connection (another test's client, a server's agent) may take it
    between the pick and the server's own bind ("Address already in use")."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            first = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        first = 32768
    hi = max(first - 1, 2048)
    return max(1024, hi - 12000), hi


def free_port():
    """A port nothing listens on now, never the same twice in one process: chosen at random
    (test runners in parallel draw apart) outside the ephemeral range (_fixed_ports)."""
    lo, hi = _fixed_ports()
    for _ in range(500):
        port = random.randint(lo, hi)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    for _ in range(100):  # a range all taken: the kernel's pick, as before
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    return port


# Every server made here: at exit, the agents any of them left running are stopped.
_servers = []


@atexit.register
def _stop_leftover_agents():
    for s in _servers:
        s.stop_agents(timeout=5)


def _zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


class Server:
    """A barge server process on a free loopback port."""

    def __init__(self, data_dir=None, args=("--dev",), port=None, host="127.0.0.1"):
        _servers.append(self)
        self.host = host
        self.binary = None  # another barge binary to run (an upgrade), else BARGE
        self.wrapper = []   # a command the server runs under (unshare: another pid namespace)
        # A first start makes compute environment "local" and queue "default"; tests make their
        # own unless they test those.
        self.defaults = False
        self.own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="barge-test-")
        self.args = list(args)
        self.port = port or free_port()
        self.port_chosen = port is None  # (another may be drawn: start)
        self.proc = None
        self.log_path = os.path.join(self.data_dir, "server.log")
        if "--dev" not in self.args and "--credentials" not in self.args:
            creds = write_credentials(os.path.join(self.data_dir, "test-credentials"), {
                "tester": {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY,
                           "barge_policy": "admin"}})
            self.args += ["--credentials", creds]

    @property
    def url(self):
        return "http://%s:%d" % (self.host_in_url(), self.port)

    def host_in_url(self):
        """The host as a URL and --listen write it: an IPv6 address in brackets."""
        return "[%s]" % self.host if ":" in self.host else self.host

    def start(self, timeout=10, standby=False):
        """Starts the server and waits until /healthz answers 200, or with standby=True the
        503 of a standby (servers sharing a PostgreSQL store: tests/e2e/pg.py), or with
        standby="any" either."""
        first = self.proc is None
        for _ in range(3):
            logged = os.path.getsize(self.log_path) if os.path.exists(self.log_path) else 0
            try:
                return self._start(timeout, standby)
            except RuntimeError:
                # A port drawn at random that another test runner took between the draw and
                # the server's bind: a first start draws another.
                if not (first and self.port_chosen and "has the port" in
                        self.read_log()[logged:]):
                    raise
                self.log.close()
                self.port = free_port()
        return self._start(timeout, standby)

    def _start(self, timeout, standby):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.wrapper + [self.binary or BARGE, "server", "--listen", "%s:%d" % (self.host_in_url(), self.port),
             "--data-dir", self.data_dir] + self.executor_args() +
            ([] if self.defaults else ["--no-default-queue"]) + self.args,
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("barge server exited with %s:\n%s" % (self.proc.returncode, self.read_log()))
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1,
                                            context=self.ssl_context()) as r:
                    if r.status == 200 and standby in (False, "any"):
                        return self
            except urllib.error.HTTPError as e:
                if e.code == 503 and standby in (True, "any"):
                    return self
                time.sleep(0.02)
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.02)
        raise RuntimeError("barge server did not answer /healthz in %ss:\n%s" % (timeout, self.read_log()))

    def ssl_context(self):
        """The TLS context of the harness's own HTTP requests; None for plain HTTP."""
        return None

    def executor_args(self):
        """Jobs run as host processes unless a test asks for containers: most tests are about
        the scheduler and the API, and a host process starts in a millisecond."""
        return [] if "--executor" in self.args else ["--executor", "process"]

    def read_log(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops the server; returns its exit code."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("barge server did not stop within %ss of %s" % (timeout, sig))
        rc = self.proc.returncode
        self.proc = None
        self.log.close()
        self.check_sanitizers()
        return rc

    def check_sanitizers(self):
        """Fails when the server's log holds an AddressSanitizer, LeakSanitizer or UBSan
        report (the sanitizer build prints them there)."""
        log = self.read_log()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if marker in log:
                raise AssertionError("sanitizer report in the server log:\n" + log[-6000:])

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        return self.start()

    def agent_pids(self):
        """The local agents this data directory's servers launched that still run: they outlive
        their server (docs/decisions.md, "Restarts"); their command line names the data
        directory's image cache."""
        mark = ("--image-cache\0%s/images/cache\0" % self.data_dir).encode()
        pids = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    if mark in f.read():
                        pids.append(int(d))
            except OSError:
                pass
        return pids

    def stop_agents(self, timeout=15):
        """Stops the local agents left running (SIGTERM, then SIGKILL)."""
        pids = self.agent_pids()
        for p in pids:
            try:
                os.kill(p, signal.SIGTERM)
            except OSError:
                pass
        deadline = time.time() + timeout
        while pids and time.time() < deadline:
            pids = [p for p in pids if os.path.exists("/proc/%d" % p) and not _zombie(p)]
            time.sleep(0.05)
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass

    def cleanup(self):
        if self.proc:
            self.stop(signal.SIGTERM)
        self.stop_agents()
        self.check_sanitizers()
        if self.own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # Clients -------------------------------------------------------------------------------

    def client(self, service="batch"):
        return boto3.client(
            service, endpoint_url=self.url, region_name=REGION,
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
            config=botocore.config.Config(retries={"max_attempts": 1}, read_timeout=30))

    def aws(self, *args, check=True):
        """Runs `aws batch ...` (or any service) against this server; returns parsed JSON output
        (None when empty).  With check=False returns (returncode, stdout, stderr)."""
        env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                   AWS_DEFAULT_REGION=REGION, AWS_PAGER="", AWS_MAX_ATTEMPTS="1")
        env.pop("AWS_PROFILE", None)
        p = subprocess.run(["aws", "--endpoint-url", self.url, "--output", "json"] + list(args),
                           capture_output=True, text=True, env=env, timeout=60)
        if not check:
            return p.returncode, p.stdout, p.stderr
        if p.returncode != 0:
            raise AssertionError("aws %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr))
        return json.loads(p.stdout) if p.stdout.strip() else None

    def raw(self, method, path, body=None, headers=None):
        """A raw HTTP request; returns (status, headers, parsed JSON body or raw text)."""
        data = body if isinstance(body, (bytes, type(None))) else (
            body.encode() if isinstance(body, str) else json.dumps(body).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, hdrs, text = r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            status, hdrs, text = e.code, dict(e.headers), e.read()
        try:
            return status, hdrs, json.loads(text)
        except ValueError:
            return status, hdrs, text


def read_to_close(s):
    """What the server sends on socket s until it closes it, resets it, or the socket's timeout
    passes."""
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    return out


def stand_in_server(test, answer):
    """An HTTP server that stands in for a barge server: it answers every POST 200 with the
    bytes answer(operation, body) gives (the operation in lower case from the path, or the
    CloudWatch Logs target's from X-Amz-Target; body the request's bytes), or with the status
    and bytes of a (status, bytes) it gives.  Stopped at test's cleanup; returns its URL."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            target = self.headers.get("X-Amz-Target")
            op = target.split(".")[-1] if target else self.path.rsplit("/", 1)[-1]
            out = answer(op, body)
            status, out = out if isinstance(out, tuple) else (200, out)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    test.addCleanup(srv.server_close)
    test.addCleanup(srv.shutdown)
    return "http://127.0.0.1:%d" % srv.server_address[1]


def register_agent(server, ce="standin-ce", instance_id=None, token="any-token", vcpus=1,
                   memory=1024, client_token=None, create_ce=True):
    """Registers a stand-in agent the way `barge agent` does, creating the UNMANAGED compute
    environment ce first when it is missing; returns (instanceId, credential).  Requests as that
    instance carry {"Authorization": "Bearer " + credential}."""
    if create_ce:
        batch = server.client()
        if not batch.describe_compute_environments(computeEnvironments=[ce])["computeEnvironments"]:
            try:
                batch.create_compute_environment(computeEnvironmentName=ce, type="UNMANAGED")
            except batch.exceptions.ClientException as e:
                # Threads registering at once (test_logs_load's pushers): one of them made it.
                if "already exists" not in str(e):
                    raise
    body = {"computeEnvironment": ce, "vcpus": vcpus, "memoryMiB": memory}
    if instance_id:
        body["instanceId"] = instance_id
    if client_token:
        body["clientToken"] = client_token
    status, _, out = server.raw("POST", "/barge/v1/agent/register", body,
                                {"Content-Type": "application/json",
                                 "Authorization": "Bearer " + token})
    if status != 200:
        raise AssertionError("registering a stand-in agent failed: %s %s" % (status, out))
    return out["instanceId"], out["credential"]


def arn(kind, name):
    return "arn:aws:batch:%s:%s:%s/%s" % (REGION, ACCOUNT, kind, name)


class ServerTestCase(unittest.TestCase):
    """One server per test class; self.batch is a boto3 client."""

    server_args = ("--dev",)
    server_host = "127.0.0.1"  # the address it listens on
    server_defaults = False    # let a first start make compute environment local, queue default
    server_data_dir = None     # a fresh temporary directory unless a class names one
    server_port = None         # a free port unless a class names one

    @classmethod
    def setUpClass(cls):
        cls.server = Server(data_dir=cls.server_data_dir, args=cls.server_args,
                            host=cls.server_host, port=cls.server_port)
        cls.server.defaults = cls.server_defaults
        cls.server.start()
        cls.batch = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def assertClientError(self, fn, *fragments, code="ClientException", status=400, **kwargs):
        """Calls fn(**kwargs), expects an AWS error, checks that its message contains every
        fragment; returns the message."""
        import botocore.exceptions
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            fn(**kwargs)
        err = cm.exception.response["Error"]
        self.assertEqual(err["Code"], code, err)
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], status)
        for f in fragments:
            self.assertIn(f, err["Message"])
        return err["Message"]

    def wait_status(self, describe, want, timeout=10):
        """Polls describe() until it returns want; returns the last value."""
        deadline = time.time() + timeout
        got = None
        while time.time() < deadline:
            got = describe()
            if got == want:
                return got
            time.sleep(0.02)
        self.fail("waited %ss for %r, last saw %r" % (timeout, want, got))
