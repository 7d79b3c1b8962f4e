"""Jobs get their role's credentials: a job whose definition has jobRoleArn finds temporary
credentials for the role with boto3's default credential chain (the agent serves them as ECS
does, through AWS_CONTAINER_CREDENTIALS_FULL_URI), and the endpoints of barge; the role's
policies (--roles) decide what the job may do; the credentials stop working when the attempt
ends and when they expire, and are renewed before; a job without a role gets none, and a role
the server does not know fails the attempt.  The credentials call of the agent protocol is open
only to the instance that runs the attempt."""
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
from unittest import mock

import boto3
import botocore.config
import botocore.exceptions

from harness import (ACCESS_KEY, ACCOUNT, BARGE, REGION, SECRET_KEY, register_agent,
                     write_credentials)
from test_jobs_common import JobsCase
from test_tls import TlsServer, make_ca, make_cert

ROLE = "arn:aws:iam::%s:role/%s"
CRED_VARS = ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
             "AWS_ENDPOINT_URL_BATCH", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "AWS_REGION",
             "AWS_DEFAULT_REGION")

# The job: boto3's default chain, no keys anywhere in its environment or home.  It records
# what it saw in OUT/NAME.json (and, with "wait", first in OUT/NAME.first.json, then waits for
# OUT/NAME.release before using its client again).
JOB_SCRIPT = r'''
import json, os, sys, time
import boto3, botocore.config, botocore.exceptions

out, name, mode = sys.argv[1], sys.argv[2], sys.argv[3]
def save(path, res):
    with open(path + ".tmp", "w") as f:
        json.dump(res, f)
    os.rename(path + ".tmp", path)
res = {"env": {k: v for k, v in os.environ.items() if k.startswith("AWS_")}}
session = boto3.session.Session()
creds = session.get_credentials()
res["method"] = creds.method if creds else None
def call():
    batch = session.client("batch", config=botocore.config.Config(retries={"max_attempts": 1}))
    try:
        if mode == "submit":
            res["child"] = batch.submit_job(jobName="child", jobQueue="q",
                                            jobDefinition="child")["jobId"]
        res["queues"] = len(batch.describe_job_queues()["jobQueues"])
    except botocore.exceptions.ClientError as e:
        res["error"] = e.response["Error"]
    frozen = creds.get_frozen_credentials()
    return [frozen.access_key, frozen.secret_key, frozen.token]
if creds:
    res["creds"] = call()
if mode == "wait":
    save(os.path.join(out, name + ".first.json"), res)
    deadline = time.time() + 120
    while not os.path.exists(os.path.join(out, name + ".release")) and time.time() < deadline:
        time.sleep(0.05)
    res["later"] = call()
save(os.path.join(out, name + ".json"), res)
'''


class RolesCase(JobsCase):
    session_seconds = None
    extra_args = ()

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="barge-roles-")
        creds = write_credentials(os.path.join(cls.dir, "credentials"), {
            "tester": {"aws_access_key_id": ACCESS_KEY, "aws_secret_access_key": SECRET_KEY,
                       "barge_policy": "admin"}})
        roles = os.path.join(cls.dir, "roles.json")
        with open(roles, "w") as f:
            json.dump({ROLE % (ACCOUNT, "submitter"): "submit",
                       ROLE % (ACCOUNT, "reader"): ["read"],
                       ROLE % (ACCOUNT, "ecsInstanceRole"): ["read"]}, f)
        # The job runs this machine's Python, which has boto3 but lives where only root may
        # look: the jobs run as root here.
        cls.server_args = ("--credentials", creds, "--roles", roles, "--job-user", "root",
                           "--idle-seconds", "30", "--kill-grace-seconds", "1") + (
            ("--role-session-seconds", str(cls.session_seconds))
            if cls.session_seconds else ()) + cls.extra_args
        super().setUpClass()

    @classmethod
    def setUpResources(cls):
        script = os.path.join(cls.out_dir, "role_job.py")
        with open(script, "w") as f:
            f.write(JOB_SCRIPT)
        # No shared credentials or config file may answer before the container provider.
        env = [{"name": "AWS_SHARED_CREDENTIALS_FILE", "value": "/nonexistent"},
               {"name": "AWS_CONFIG_FILE", "value": "/nonexistent"}]
        for name, role, mode in (("submitter", "submitter", "submit"),
                                 ("reader", "reader", "submit"),
                                 ("norole", None, "none"),
                                 ("profiled", None, "submit"),
                                 ("unprofiled", None, "submit"),
                                 ("overruled", "reader", "submit"),
                                 ("unknown", "unknown", "submit"),
                                 ("waiter", "submitter", "wait"),
                                 ("keeper", "submitter", "wait")):
            extra = {"jobRoleArn": ROLE % (ACCOUNT, role)} if role else {}
            cls.make_definition(name, command=[sys.executable, script, cls.out_dir, name, mode],
                                environment=env, container=extra)
        cls.make_definition("child", command=["true"])
        # barge's own CLI in a job: the role's credentials and the server from the job's
        # environment, as the AWS CLI finds them.
        cls.make_definition("cli-submitter", command=[
            BARGE, "submit", "--queue", "q", "--definition", "child", "--name", "cli-child"],
            environment=env, container={"jobRoleArn": ROLE % (ACCOUNT, "submitter")})

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def assertSucceeded(self, job_id, timeout=30):
        d = self.wait_job(job_id, timeout=timeout)
        if d["status"] != "SUCCEEDED":
            stream = d["container"].get("logStreamName")
            events = self.server.client("logs").get_log_events(
                logGroupName="/aws/batch/job", logStreamName=stream)["events"] if stream else []
            self.fail("job failed: %r, attempts %r; its log:\n%s" % (
                d.get("statusReason"), d["attempts"], "\n".join(e["message"] for e in events)))
        return d

    def assertNoCredentials(self, name, queue, definition):
        """A job of definition (which records what it saw under its own name) finds no
        credentials and none of their variables."""
        self.assertSucceeded(self.submit(name, queue=queue, definition=definition), timeout=60)
        res = self.result(definition)
        self.assertIsNone(res["method"])
        for k in CRED_VARS:
            self.assertNotIn(k, res["env"])

    def first_call(self, name):
        """What a job in "wait" mode saw on its first call (it then waits for its release)."""
        first = os.path.join(self.out_dir, name + ".first.json")
        self.wait_for(lambda: os.path.exists(first), 60, "the job's first call")
        with open(first) as f:
            res = json.load(f)
        self.assertNotIn("error", res)
        return res

    def result(self, name):
        with open(os.path.join(self.out_dir, name + ".json")) as f:
            return json.load(f)

    def keyed_client(self, creds):
        key, secret, token = creds
        return boto3.client("batch", endpoint_url=self.server.url, region_name=REGION,
                            aws_access_key_id=key, aws_secret_access_key=secret,
                            aws_session_token=token,
                            config=botocore.config.Config(retries={"max_attempts": 1}))

    def refused_code(self, creds):
        """The error code a call signed with creds gets, or None when it is accepted."""
        try:
            self.keyed_client(creds).describe_job_queues()
            return None
        except botocore.exceptions.ClientError as e:
            return e.response["Error"]["Code"]

    def join_token(self):
        with open(os.path.join(self.server.data_dir, "agent-token")) as f:
            return f.read().strip()

    def agent_post(self, credential, body, call="credentials"):
        """The credentials call (or another of the job's), as the instance that credential is
        for."""
        return self.server.raw("POST", "/barge/v1/agent/" + call, body,
                               {"Content-Type": "application/json",
                                "Authorization": "Bearer " + credential})


class JobRoles(RolesCase):
    def test_a_job_with_a_role_submits_a_child_with_the_default_chain(self):
        jid = self.submit("parent", definition="submitter")
        self.assertSucceeded(jid, timeout=60)
        res = self.result("submitter")
        self.assertNotIn("error", res)
        self.assertEqual(res["method"], "container-role")
        env = res["env"]
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            self.assertNotIn(k, env)
        self.assertTrue(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"].startswith("http://127.0.0.1:"))
        self.assertEqual(env["AWS_ENDPOINT_URL_BATCH"], self.server.url)
        self.assertEqual(env["AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"], self.server.url)
        self.assertEqual(env["AWS_REGION"], REGION)
        self.assertNotIn("AWS_ENDPOINT_URL", env)  # S3 and the rest still go to AWS
        key, secret, token = res["creds"]
        self.assertRegex(key, r"^ASIA[A-Z2-7]{16}$")
        self.assertTrue(secret and token)
        # The child exists, was submitted as the role, and runs.
        child = self.job(res["child"])
        self.assertIsNotNone(child)
        self.assertEqual(child["jobName"], "child")
        self.assertSucceeded(res["child"], timeout=60)
        # The audit trail names the role's session as the submitter.
        with open(os.path.join(self.server.data_dir, "audit.log")) as f:
            ev = [e for e in map(json.loads, f)
                  if e.get("responseElements", {}).get("jobId") == res["child"]]
        self.assertEqual(len(ev), 1, ev)
        who = ev[0]["userIdentity"]
        self.assertEqual(who["type"], "AssumedRole")
        self.assertEqual(who["accessKeyId"], key)
        self.assertRegex(who["arn"], r"^arn:aws:sts::%s:assumed-role/submitter/[0-9a-f]{32}$"
                         % ACCOUNT)
        self.assertEqual(who["sessionContext"]["sessionIssuer"]["userName"], "submitter")
        # The attempt has ended: its credentials no longer work, nor does its endpoint.
        self.assertEqual(self.refused_code(res["creds"]), "UnrecognizedClientException")
        req = urllib.request.Request(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"], headers={
            "Authorization": env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status = r.status
        except urllib.error.HTTPError as e:
            status = e.code
        except OSError:
            status = None  # the agent is gone: nothing serves them either
        self.assertNotEqual(status, 200)

    def test_barge_submit_in_a_job_runs_as_its_role(self):
        self.assertSucceeded(self.submit("cli-parent", definition="cli-submitter"), timeout=60)
        children = [j["jobId"] for j in self.batch.list_jobs(
            jobQueue="q", filters=[{"name": "JOB_NAME", "values": ["cli-child"]}])[
            "jobSummaryList"]]
        self.assertEqual(len(children), 1)
        with open(os.path.join(self.server.data_dir, "audit.log")) as f:
            ev = [e for e in map(json.loads, f)
                  if (e.get("responseElements") or {}).get("jobId") == children[0]]
        self.assertEqual(ev[0]["userIdentity"]["type"], "AssumedRole")
        self.assertRegex(ev[0]["userIdentity"]["arn"], r"assumed-role/submitter/")

    def test_a_role_that_may_not_submit_is_refused_as_its_assumed_role(self):
        jid = self.submit("parent", definition="reader")
        self.assertSucceeded(jid, timeout=60)
        res = self.result("reader")
        err = res["error"]
        self.assertEqual(err["Code"], "AccessDeniedException")
        self.assertRegex(err["Message"],
                         r"^User: arn:aws:sts::%s:assumed-role/reader/[0-9a-f]{32} is not "
                         r"authorized to perform: batch:SubmitJob on resource: "
                         r"arn:aws:batch:%s:%s:job-queue/q " % (ACCOUNT, REGION, ACCOUNT))
        self.assertNotIn("child", res)
        self.assertNotIn("queues", res)  # the submit came first and was refused

    def test_a_job_without_a_role_gets_no_credentials(self):
        self.assertNoCredentials("plain", "q", "norole")

    def test_a_role_the_server_does_not_know_fails_the_attempt(self):
        jid = self.submit("stranger", definition="unknown")
        d = self.wait_job(jid, timeout=60)
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(d["statusReason"], "Task failed to start")
        reason = d["attempts"][0]["container"]["reason"]
        self.assertEqual(reason, "CannotStartContainerError: ECS was unable to assume the role "
                         "'%s' that was provided for this task: the barge server's --roles "
                         "names no such role" % (ROLE % (ACCOUNT, "unknown")))
        self.assertFalse(os.path.exists(os.path.join(self.out_dir, "unknown.json")))

    def test_credentials_outlive_a_server_crash_with_their_attempt(self):
        jid = self.submit("keeper", definition="keeper")
        try:
            old = self.first_call("keeper")["creds"]
            # The server dies and comes back; the attempt runs on through it (its agent outlives
            # the server), and so do its credentials, which its SDK keeps until they expire.
            self.server.kill9()
            self.server.start()
            self.assertEqual(self.status(jid), "RUNNING")
            self.assertIsNone(self.refused_code(old))
        finally:
            open(os.path.join(self.out_dir, "keeper.release"), "w").close()
        self.assertSucceeded(jid, timeout=60)
        res = self.result("keeper")
        self.assertNotIn("error", res)
        self.assertEqual(res["later"][0], old[0])
        # The attempt over, they stop working; a restart does not bring them back (their record
        # went with the attempt).
        self.assertEqual(self.refused_code(old), "UnrecognizedClientException")
        self.server.restart()
        self.assertEqual(self.refused_code(old), "UnrecognizedClientException")

    def test_only_the_instance_running_the_attempt_gets_credentials(self):
        jid = self.submit("holder", definition="waiter")
        first = os.path.join(self.out_dir, "waiter.first.json")
        try:
            self.wait_for(lambda: os.path.exists(first), 60, "the job's first call")
            instance = self.job(jid)["container"]["containerInstanceArn"].rsplit("/", 1)[1]
            # An unknown instance.
            status, _, body = self.agent_post("i-nosuch:" + "0" * 64,
                                              {"jobId": jid, "attempt": 1})
            self.assertEqual((status, body["__type"]), (404, "UnknownInstanceException"), body)
            # Another instance (registered for a compute environment of its own), asking for
            # itself or naming the one that runs the attempt.
            self.batch.create_compute_environment(computeEnvironmentName="other",
                                                  type="UNMANAGED")
            _, other = register_agent(self.server, ce="other", instance_id="i-other",
                                      token=self.join_token(), create_ce=False)
            for call in ("credentials", "taskmetadata"):
                for body in ({"jobId": jid, "attempt": 1},
                             {"instanceId": instance, "jobId": jid, "attempt": 1}):
                    status, _, body = self.agent_post(other, body, call)
                    self.assertEqual((status, body["__type"]), (403, "AccessDeniedException"),
                                     body)
                    self.assertNotIn("SecretAccessKey", body)
                    self.assertNotIn("TaskARN", body)
            # A join token is no instance's credential.
            status, _, body = self.agent_post(self.join_token(), {
                "instanceId": instance, "jobId": jid, "attempt": 1})
            self.assertEqual(status, 401, body)
            # The instance running it, through its agent's endpoint for the job.
            with open(first) as f:
                env = json.load(f)["env"]
            req = urllib.request.Request(env["AWS_CONTAINER_CREDENTIALS_FULL_URI"], headers={
                "Authorization": env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]})
            with urllib.request.urlopen(req, timeout=30) as r:
                status, body = r.status, json.loads(r.read())
            self.assertEqual(status, 200, body)
            self.assertEqual(body["RoleArn"], ROLE % (ACCOUNT, "submitter"))
            self.assertRegex(body["Expiration"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            mine = [body["AccessKeyId"], body["SecretAccessKey"], body["Token"]]
            self.assertIsNone(self.refused_code(mine))
            # A wrong token with the right key (its first character changed: "x", or "y" for
            # one that starts with "x").
            wrong = ("y" if mine[2][0] == "x" else "x") + mine[2][1:]
            self.assertEqual(self.refused_code(mine[:2] + [wrong]),
                             "UnrecognizedClientException")
        finally:
            open(os.path.join(self.out_dir, "waiter.release"), "w").close()
        self.assertSucceeded(jid, timeout=60)
        self.assertEqual(self.refused_code(mine), "UnrecognizedClientException")


class InstanceRoles(RolesCase):
    """A job whose definition names no role acts as its compute environment's instance role
    (computeResources.instanceRole, an instance profile taken to hold the role of its name), as
    a container on AWS without a task role gets its instance's credentials; when jobs may
    assume that role (--roles), else it gets none and runs as before."""

    @classmethod
    def setUpResources(cls):
        super().setUpResources()
        cls.make_ce("profiled", 2, instanceRole="arn:aws:iam::%s:instance-profile/ecsInstanceRole"
                    % ACCOUNT)
        cls.make_queue("pq", ["profiled"])
        cls.make_ce("named", 2, instanceRole="ecsInstanceRole")  # the profile by its name
        cls.make_queue("nq", ["named"])
        cls.make_ce("unprofiled", 2, instanceRole="stranger")  # a profile by name
        cls.make_queue("uq", ["unprofiled"])
        cls.make_ce("updated", 2, instanceRole="ecsInstanceRole",
                    allocationStrategy="BEST_FIT_PROGRESSIVE")
        cls.make_queue("upq", ["updated"])

    def test_a_job_without_a_role_acts_as_its_instance_role(self):
        for queue in ("pq", "nq"):  # the profile named by ARN, then by name
            jid = self.submit("profiled", queue=queue, definition="profiled")
            d = self.assertSucceeded(jid, timeout=60)
            res = self.result("profiled")
            self.assertEqual(res["method"], "container-role", queue)
            self.assertEqual(res["env"]["AWS_ENDPOINT_URL_BATCH"], self.server.url)
            self.assertEqual(res["env"]["AWS_REGION"], REGION)
            # The role may read, not submit: refused as the role's session on the instance.
            instance = d["container"]["containerInstanceArn"].rsplit("/", 1)[1]
            err = res["error"]
            self.assertEqual(err["Code"], "AccessDeniedException")
            self.assertTrue(err["Message"].startswith(
                "User: arn:aws:sts::%s:assumed-role/ecsInstanceRole/%s is not authorized to "
                "perform: batch:SubmitJob" % (ACCOUNT, instance)), err)
            self.assertEqual(self.refused_code(res["creds"]), "UnrecognizedClientException")

    def test_the_job_role_comes_before_the_instance_role(self):
        jid = self.submit("overruled", queue="pq", definition="overruled")
        self.assertSucceeded(jid, timeout=60)
        err = self.result("overruled")["error"]
        self.assertRegex(err["Message"], r"^User: arn:aws:sts::%s:assumed-role/reader/[0-9a-f]{32} "
                         % ACCOUNT)

    def test_an_instance_keeps_the_role_it_was_launched_with(self):
        # As an EC2 instance keeps its profile: the environment's instanceRole changed while
        # the job runs (and before it asks for credentials) is for instances launched later.
        script = os.path.join(self.out_dir, "role_job.py")
        jid = self.submit("updated", queue="upq", definition="profiled", command=self.gate(
            "updated") + "exec %s %s %s updated submit" % (sys.executable, script, self.out_dir))
        self.wait_job(jid, "RUNNING", timeout=60)
        self.batch.update_compute_environment(computeEnvironment="updated",
                                              computeResources={"instanceRole": "stranger"})
        # A server that comes back reads the instance's profile from its record.
        self.server.kill9()
        self.server.start()
        self.assertEqual(self.status(jid), "RUNNING")
        self.open_gate("updated")
        self.assertSucceeded(jid, timeout=60)
        res = self.result("updated")
        self.assertEqual(res["method"], "container-role")
        self.assertIn("assumed-role/ecsInstanceRole/", res["error"]["Message"])

    def test_an_instance_role_jobs_may_not_assume_gives_no_credentials(self):
        self.assertNoCredentials("unprofiled", "uq", "unprofiled")


class InstanceRolesDev(JobsCase):
    """A --dev server lets jobs assume any role their definition names, but gives none the
    instance role: every EC2 environment has one (AWS wants it), and its credentials, good only
    here, would come before what the job's SDK found before (on an EC2 host, the instance's)."""

    @classmethod
    def setUpResources(cls):
        cls.make_ce("profiled", 2, instanceRole="ecsInstanceRole")
        cls.make_queue("pq", ["profiled"])

    def test_no_instance_role_without_roles(self):
        jid = self.submit("devjob", queue="pq", command="env > $OUT/devenv.txt")
        self.assertEqual(self.wait_job(jid, timeout=60)["status"], "SUCCEEDED")
        with open(os.path.join(self.out_dir, "devenv.txt")) as f:
            names = {line.split("=", 1)[0] for line in f}
        for k in CRED_VARS:
            self.assertNotIn(k, names)


class JobRoleExpiry(RolesCase):
    session_seconds = 4

    def test_credentials_expire_and_are_renewed(self):
        jid = self.submit("waiter", definition="waiter")
        try:
            old = self.first_call("waiter")["creds"]
            # While the attempt runs, the credentials expire.
            code = self.wait_for(lambda: self.refused_code(old), 30, "the credentials to expire",
                                 interval=0.2)
            self.assertEqual(code, "ExpiredTokenException")
            self.assertEqual(self.status(jid), "RUNNING")
        finally:
            open(os.path.join(self.out_dir, "waiter.release"), "w").close()
        self.assertSucceeded(jid, timeout=60)
        # The job's SDK asked again and got new ones, which worked.
        res = self.result("waiter")
        self.assertNotIn("error", res)
        self.assertNotEqual(res["later"][0], old[0])
        self.assertEqual(self.refused_code(res["later"]), "UnrecognizedClientException")


class JobRolesTls(RolesCase):
    """Over HTTPS: the job's SDK verifies the server with the CA bundle the agent hands it."""

    @classmethod
    def setUpClass(cls):
        cls.tls_dir = tempfile.mkdtemp(prefix="barge-roles-tls-")
        cls.ca = make_ca(cls.tls_dir)
        cert, key = make_cert(cls.tls_dir)
        # --tls-ca: the agents, and so the jobs, trust the CA (a leaf certificate is no trust
        # anchor for the SDKs, which verify with OpenSSL without partial chains).
        cls.extra_args = ("--tls-cert", cert, "--tls-key", key, "--tls-ca", cls.ca)
        # The jobs' fixture starts a plain Server; this class's speaks HTTPS.
        with mock.patch("harness.Server", lambda **kw: TlsServer(cls.ca, **kw)):
            super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.tls_dir, ignore_errors=True)

    def test_a_job_with_a_role_submits_over_https(self):
        jid = self.submit("parent", definition="submitter")
        self.assertSucceeded(jid, timeout=60)
        res = self.result("submitter")
        self.assertNotIn("error", res)
        env = res["env"]
        self.assertEqual(env["AWS_ENDPOINT_URL_BATCH"], self.server.url)
        self.assertTrue(self.server.url.startswith("https://"))
        with open(env["AWS_CA_BUNDLE"]) as f, open(self.ca) as g:
            self.assertEqual(f.read(), g.read())
        self.assertSucceeded(res["child"], timeout=60)


class JobRolesContainer(RolesCase):
    """In a container (host network), the job reaches the agent's endpoint on loopback."""

    @classmethod
    def setUpClass(cls):
        from registry import LocalRegistry, build_busybox_layout, push_layout
        cls.registry = LocalRegistry().start()
        cls.layout = build_busybox_layout()
        cls.work_root = tempfile.mkdtemp(prefix="barge-work-")
        # The containers' mapped root passes through it to reach its bundle.
        os.chmod(cls.work_root, 0o711)
        try:
            push_layout(cls.layout, cls.registry, "library/busybox", "latest")
            cls.extra_args = ("--executor", "container", "--registry-mirror",
                              "http://" + cls.registry.url, "--agent-work-dir", cls.work_root)
            super().setUpClass()
        except BaseException:
            cls.cleanupRegistry()
            raise

    @classmethod
    def cleanupRegistry(cls):
        cls.registry.stop()
        shutil.rmtree(cls.layout, ignore_errors=True)
        shutil.rmtree(cls.work_root, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.cleanupRegistry()

    @classmethod
    def setUpResources(cls):
        fetch = ('wget -q -O - --header "Authorization: %s" '
                 '"$AWS_CONTAINER_CREDENTIALS_FULL_URI" 2>&1 || echo refused')
        cls.make_definition("boxed", command=["sh", "-c", "; echo; ".join(
            [fetch % "$AWS_CONTAINER_AUTHORIZATION_TOKEN", fetch % "wrong",
             'echo "$AWS_ENDPOINT_URL_BATCH"'])],
            container={"jobRoleArn": ROLE % (ACCOUNT, "submitter")})

    def test_a_container_gets_its_role_credentials(self):
        d = self.assertSucceeded(self.submit("boxed", definition="boxed"), timeout=90)
        events = self.server.client("logs").get_log_events(
            logGroupName="/aws/batch/job", logStreamName=d["container"]["logStreamName"],
            startFromHead=True)["events"]
        lines = [e["message"] for e in events if e["message"]]
        self.assertEqual(len(lines), 4, lines)
        creds = json.loads(lines[0])
        self.assertRegex(creds["AccessKeyId"], r"^ASIA[A-Z2-7]{16}$")
        self.assertEqual(creds["RoleArn"], ROLE % (ACCOUNT, "submitter"))
        self.assertTrue(creds["SecretAccessKey"] and creds["Token"] and creds["Expiration"])
        # Another token: refused.
        self.assertIn("403", lines[1])
        self.assertEqual(lines[2], "refused")
        self.assertEqual(lines[3], self.server.url)
