"""HAProxy (Debian's haproxy) in front of several barge servers, as docs/operations.md sets it
up: it health-checks each server's /healthz and sends requests only to one that answers 200
(the leader; a standby answers 503).  Started on a free loopback port with a configuration in a
temporary directory, and stopped by stop()."""
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from harness import free_port

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"

CONFIG = """global
    log stderr format raw local0 info
    maxconn 2000

defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 70s
    timeout server 70s
    # A request that could not reach the server it was sent to goes to another one.
    retries 3
    option redispatch

frontend barge
    bind 127.0.0.1:{port}
    default_backend servers

backend servers
    # Only the leader answers /healthz with 200.  Checks every {inter} ms; a server is out after
    # one failed check and back after one good one.
    option httpchk GET /healthz
    http-check expect status 200
    default-server inter {inter} fall 1 rise 1
{servers}
"""


class HAProxy:
    """haproxy -f CONFIG in the foreground; urls are the barge servers' base URLs."""

    def __init__(self, urls, inter_ms=200):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="barge-haproxy-")
        lines = []
        for i, u in enumerate(urls):
            hostport = u.split("://", 1)[1].rstrip("/")
            lines.append("    server s%d %s check" % (i, hostport))
        self.config = os.path.join(self.dir, "haproxy.cfg")
        with open(self.config, "w") as f:
            f.write(CONFIG.format(port=self.port, inter=inter_ms, servers="\n".join(lines)))
        self.log_path = os.path.join(self.dir, "haproxy.log")
        self.proc = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, timeout=10):
        check = subprocess.run([HAPROXY, "-c", "-f", self.config], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError("haproxy refused its configuration:\n%s%s" % (check.stdout, check.stderr))
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.config],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("haproxy exited with %s:\n%s" % (self.proc.returncode, self.read_log()))
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1).close()
                return self
            except urllib.error.HTTPError:
                return self  # haproxy answers (503 until a server is up)
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        raise RuntimeError("haproxy did not listen in %ss:\n%s" % (timeout, self.read_log()))

    def read_log(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)
