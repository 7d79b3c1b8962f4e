"""HTTPS: `barge server --tls-cert FILE --tls-key FILE`, verified by every client.

Each class makes its own CA and a server certificate signed by it (subjectAltName IP:127.0.0.1
and DNS:localhost) with openssl in a temporary directory.  Jobs run end to end over TLS: boto3
with verify=CA and the AWS CLI with --ca-bundle create the resources and submit, and the local
provider's agents reach the server over https with the certificate the server hands them.  A
client without the CA, with another CA, or speaking plain HTTP is refused with a sentence.
"""
import os
import shutil
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.request

import boto3
import botocore.config
import botocore.exceptions

from harness import BARGE, REGION, Server, free_port
from test_cli import barge


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


def make_ca(d, name="ca"):
    """A self-signed CA: d/NAME.pem and d/NAME.key."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key",
            "-out", name + ".pem", "-days", "2", "-subj", "/CN=barge test " + name, cwd=d)
    return os.path.join(d, name + ".pem")


def make_cert(d, ca="ca", name="server", san="IP:127.0.0.1,DNS:localhost"):
    """A server certificate signed by ca: d/NAME.pem and d/NAME.key."""
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", name + ".key", "-out",
            name + ".csr", "-subj", "/CN=localhost", cwd=d)
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n" % san)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
            "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext",
            cwd=d)
    return os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")


class TlsServer(Server):
    def __init__(self, ca, **kw):
        super().__init__(**kw)
        self.ca = ca

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

    def ssl_context(self):
        return ssl.create_default_context(cafile=self.ca)

    def client(self, service="batch", verify=None):
        return boto3.client(
            service, endpoint_url=self.url, region_name=REGION, verify=verify or self.ca,
            aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
            config=botocore.config.Config(retries={"max_attempts": 1}, read_timeout=30))

    def aws(self, *args, check=True):
        return super().aws("--ca-bundle", self.ca, *args, check=check)


class TlsCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="barge-tls-")
        cls.ca = make_ca(cls.dir)
        cls.cert, cls.key = make_cert(cls.dir)
        cls.other_ca = make_ca(cls.dir, "other")
        cls.server = TlsServer(cls.ca, args=("--dev", "--idle-seconds", "2", "--tls-cert",
                                             cls.cert, "--tls-key", cls.key))
        try:
            cls.server.start()
        except BaseException:
            shutil.rmtree(cls.dir, ignore_errors=True)
            raise
        cls.batch = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def run_job(self, queue, definition, command):
        """Submits with boto3 and waits until the job ends; returns its description."""
        job_id = self.batch.submit_job(jobName="tls", jobQueue=queue, jobDefinition=definition,
                                       containerOverrides={"command": command})["jobId"]
        deadline = time.time() + 30
        while time.time() < deadline:
            job = self.batch.describe_jobs(jobs=[job_id])["jobs"][0]
            if job["status"] in ("SUCCEEDED", "FAILED"):
                return job
            time.sleep(0.05)
        self.fail("job %s did not end in 30 s; server log:\n%s" % (job_id, self.server.read_log()[-3000:]))

    def setup_queue(self, name):
        """A compute environment, a queue and a job definition NAME, made with the AWS CLI."""
        self.server.aws("batch", "create-compute-environment", "--compute-environment-name", name,
                        "--type", "MANAGED", "--compute-resources",
                        "type=EC2,maxvCpus=4,minvCpus=0,subnets=subnet-1")
        deadline = time.time() + 10
        while self.server.aws("batch", "describe-compute-environments", "--compute-environments",
                              name)["computeEnvironments"][0]["status"] != "VALID":
            self.assertLess(time.time(), deadline)
            time.sleep(0.05)
        self.server.aws("batch", "create-job-queue", "--job-queue-name", name, "--priority", "1",
                        "--compute-environment-order", "order=1,computeEnvironment=" + name)
        self.server.aws("batch", "register-job-definition", "--job-definition-name", name,
                        "--type", "container", "--container-properties",
                        '{"image": "busybox", "command": ["true"], "resourceRequirements": '
                        '[{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]}')


class EndToEnd(TlsCase):
    """The server hands its local agents its own certificate (no --tls-ca)."""

    def test_jobs_run_over_tls(self):
        self.setup_queue("tls")
        job = self.run_job("tls", "tls", ["sh", "-c", "echo over tls"])
        self.assertEqual(job["status"], "SUCCEEDED", job)
        log = self.server.read_log()
        self.assertIn("listening on https://127.0.0.1:", log)
        self.assertIn("registered for compute environment tls", log)
        # The log stream arrived over the agent's TLS connection too.
        logs = self.server.client("logs")
        stream = job["container"]["logStreamName"]
        deadline = time.time() + 10
        while True:
            events = logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=stream)
            if any("over tls" in e["message"] for e in events["events"]):
                break
            self.assertLess(time.time(), deadline, events)
            time.sleep(0.05)
        # The AWS CLI reads what boto3 made.
        got = self.server.aws("batch", "describe-jobs", "--jobs", job["jobId"])["jobs"][0]
        self.assertEqual(got["status"], "SUCCEEDED")

    def test_barge_cli_with_and_without_the_ca(self):
        self.setup_queue("cli")
        url = self.server.url
        rc, out, err = barge("submit", "--queue", "cli", "--definition", "cli", "--ca-file",
                             self.ca, "--", "echo", "cli", endpoint=url)
        self.assertEqual(rc, 0, err)
        job_id = out.split()[0]
        rc, out, err = barge("describe", job_id, endpoint=url, env={"AWS_CA_BUNDLE": self.ca})
        self.assertEqual(rc, 0, err)
        self.assertIn(job_id, out)
        # The server's own certificate is trusted too (as the local agents trust it), also
        # under the name localhost.
        rc, _, err = barge("jobs", "--queue", "cli", "--ca-file", self.cert,
                           endpoint="https://localhost:%d" % self.server.port)
        self.assertEqual(rc, 0, err)
        # Without the CA: refused, with a sentence that says what to do.
        rc, out, err = barge("jobs", "--queue", "cli", endpoint=url)
        self.assertEqual(rc, 1)
        self.assertIn("refusing to talk to %s: the server's TLS certificate is not trusted" % url,
                      err)
        self.assertIn("--ca-file FILE or $AWS_CA_BUNDLE", err)
        # Another CA: refused the same way.
        rc, out, err = barge("jobs", "--queue", "cli", "--ca-file", self.other_ca, endpoint=url)
        self.assertEqual(rc, 1)
        self.assertIn("not trusted", err)
        # A CA file that is not there: a usage error before any request.
        rc, out, err = barge("jobs", "--queue", "cli", "--ca-file", "/nonexistent.pem",
                             endpoint=url)
        self.assertEqual(rc, 2)
        self.assertIn("the CA file /nonexistent.pem cannot be read", err)

    def test_clients_without_the_ca_are_refused(self):
        with self.assertRaises(botocore.exceptions.SSLError):
            self.server.client(verify=self.other_ca).describe_job_queues()
        rc, _, err = Server.aws(self.server, "batch", "describe-job-queues", check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("SSL", err)

    def test_plain_http_to_the_tls_port_fails_cleanly(self):
        with self.assertRaises(Exception):
            urllib.request.urlopen("http://127.0.0.1:%d/healthz" % self.server.port, timeout=5)
        rc, _, err = barge("jobs", "--queue", "q", endpoint="http://127.0.0.1:%d" % self.server.port)
        self.assertEqual(rc, 1)
        self.assertIn("if it serves HTTPS, use an https:// URL", err)
        # The server goes on serving.
        self.assertEqual(self.batch.describe_job_queues()["ResponseMetadata"]["HTTPStatusCode"], 200)

    def test_an_agent_with_the_wrong_ca_says_why(self):
        p = subprocess.Popen([BARGE, "agent", "--server", self.server.url,
                              "--compute-environment", "x", "--executor", "process",
                              "--ca-file", self.other_ca], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.time() + 10
            out = ""
            while "not trusted" not in out and time.time() < deadline:
                out += p.stdout.readline()
        finally:
            p.terminate()
            out += p.communicate(timeout=20)[0]
        self.assertIn("the server's TLS certificate is not trusted", out)
        self.assertIn("with --ca-file FILE", out)


class WithTlsCa(TlsCase):
    """--tls-ca: the local agents verify the server against the CA, not its own certificate."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="barge-tls-")
        cls.ca = make_ca(cls.dir)
        cls.cert, cls.key = make_cert(cls.dir)
        cls.server = TlsServer(cls.ca, args=("--dev", "--idle-seconds", "2", "--tls-cert",
                                             cls.cert, "--tls-key", cls.key, "--tls-ca", cls.ca))
        try:
            cls.server.start()
        except BaseException:
            shutil.rmtree(cls.dir, ignore_errors=True)
            raise
        cls.batch = cls.server.client()

    def test_jobs_run_with_agents_trusting_the_ca(self):
        self.setup_queue("viaca")
        job = self.run_job("viaca", "viaca", ["true"])
        self.assertEqual(job["status"], "SUCCEEDED", job)


class UnverifiedTlsServer(Server):
    """A TLS server whose certificate the harness's health check does not verify."""

    @property
    def url(self):
        return "https://127.0.0.1:%d" % self.port

    def ssl_context(self):
        return ssl._create_unverified_context()


class Help(unittest.TestCase):
    def test_options_are_described(self):
        for role, opts in (("server", ("--tls-cert", "--tls-key", "--tls-ca")),
                           ("agent", ("--ca-file",)), ("jobs", ("--ca-file", "AWS_CA_BUNDLE"))):
            rc, out, err = barge(role, "--help")
            self.assertEqual(rc, 0, err)
            for o in opts:
                self.assertIn(o, out, role)


class StartUp(unittest.TestCase):
    """Certificates and keys that cannot serve stop the server with a sentence."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="barge-tls-start-")
        make_ca(cls.dir)
        cls.cert, cls.key = make_cert(cls.dir)
        cls.cert2, cls.key2 = make_cert(cls.dir, name="second")
        cls.bad_name, cls.bad_name_key = make_cert(cls.dir, name="elsewhere", san="DNS:example.com")
        cls.other_ca = make_ca(cls.dir, "other")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def start(self, *args):
        d = tempfile.mkdtemp(prefix="barge-tls-data-")
        try:
            p = subprocess.run([BARGE, "server", "--dev", "--listen", "127.0.0.1:%d" % free_port(),
                                "--data-dir", d] + list(args), capture_output=True, text=True,
                               timeout=10)
            return p.returncode, p.stderr
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_refusals(self):
        rc, err = self.start("--tls-cert", self.cert)
        self.assertEqual(rc, 2)
        self.assertIn("--tls-cert and --tls-key go together", err)
        rc, err = self.start("--tls-cert", self.cert, "--tls-key", self.key2)
        self.assertEqual(rc, 2)
        self.assertIn("is not the key of the certificate", err)
        rc, err = self.start("--tls-cert", self.key, "--tls-key", self.key)
        self.assertEqual(rc, 2)
        self.assertIn("no PEM certificate", err)
        rc, err = self.start("--tls-cert", self.cert, "--tls-key", self.cert)
        self.assertEqual(rc, 2)
        self.assertIn("not a PEM private key", err)
        rc, err = self.start("--tls-ca", self.cert)
        self.assertEqual(rc, 2)
        self.assertIn("--tls-ca needs --tls-cert and --tls-key", err)
        rc, err = self.start("--tls-cert", "/nonexistent", "--tls-key", self.key)
        self.assertEqual(rc, 2)
        self.assertIn("--tls-cert /nonexistent cannot be read", err)

    def started_log(self, *args):
        """The log of a server started with args, stopped at once."""
        s = UnverifiedTlsServer(args=("--dev",) + args)
        try:
            s.start()
            return s.read_log()
        finally:
            s.cleanup()

    def test_what_the_local_agents_would_refuse_is_reported(self):
        log = self.started_log("--tls-cert", self.bad_name, "--tls-key", self.bad_name_key)
        self.assertIn("does not name 127.0.0.1, the address this server's local agents use", log)
        log = self.started_log("--tls-cert", self.cert, "--tls-key", self.key, "--tls-ca",
                               self.other_ca)
        self.assertIn("the certificate does not verify against --tls-ca %s" % self.other_ca, log)
        log = self.started_log("--tls-cert", self.cert, "--tls-key", self.key)
        self.assertNotIn("refuse", log)
        os.chmod(self.key, 0o644)
        try:
            log = self.started_log("--tls-cert", self.cert, "--tls-key", self.key)
        finally:
            os.chmod(self.key, 0o600)
        self.assertIn("may be read by other users (mode 644); make it 0600", log)


if __name__ == "__main__":
    unittest.main()
