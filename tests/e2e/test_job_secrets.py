"""containerProperties.secrets: each valueFrom names a secret of the server's (--secrets FILE),
which the job gets as an environment variable.  DescribeJobs shows only valueFrom; a secret the
server does not have fails the attempt before anything runs, with ECS's reason."""
import json
import os
import tempfile

from test_jobs_common import FAST, JobsCase, resources, sh

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"


class JobSecrets(JobsCase):
    @classmethod
    def setUpClass(cls):
        f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump({"db-password": "hunter2",
                   "app-config": {"user": "svc", "port": 5432},
                   "/team/token": "tok-abc"}, f)
        f.close()
        os.chmod(f.name, 0o600)
        cls.secrets_file = f.name
        cls.server_args = FAST + ("--secrets", f.name)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        os.unlink(cls.secrets_file)

    def define(self, name, secrets, command):
        self.batch.register_job_definition(
            jobDefinitionName=name, type="container",
            containerProperties={"image": "busybox", "command": command,
                                 "resourceRequirements": resources(), "secrets": secrets,
                                 "environment": [{"name": "OUT", "value": self.out_dir}]})

    def test_secrets_become_environment_variables(self):
        out = os.path.join(self.out_dir, "secrets.txt")
        self.define("with-secrets", [
            {"name": "DB_PASSWORD", "valueFrom": "db-password"},
            {"name": "DB_USER", "valueFrom": ARN + "app-config-AbCdEf:user::"},
            {"name": "DB_PORT", "valueFrom": ARN + "app-config:port::"},
            {"name": "TOKEN", "valueFrom": "arn:aws:ssm:us-east-1:123456789012:parameter/team/token"},
        ], sh('echo "$DB_PASSWORD $DB_USER $DB_PORT $TOKEN" > "$OUT/secrets.txt"'))
        jid = self.submit(definition="with-secrets")
        d = self.wait_job(jid)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        with open(out) as f:
            self.assertEqual(f.read(), "hunter2 svc 5432 tok-abc\n")
        # The description names where the values come from, never the values.
        self.assertEqual(d["container"]["secrets"][0],
                         {"name": "DB_PASSWORD", "valueFrom": "db-password"})
        raw = json.dumps(self.raw_job(jid))
        for value in ("hunter2", "tok-abc"):
            self.assertNotIn(value, raw)
            self.assertNotIn(value, self.server.read_log())

    def test_missing_secret_fails_the_attempt(self):
        self.define("missing-secret", [{"name": "X", "valueFrom": "no-such-secret"}],
                    sh("echo ran > \"$OUT/ran-missing\""))
        d = self.wait_job(self.submit(definition="missing-secret"))
        self.assertEqual(d["status"], "FAILED")
        self.assertEqual(d["statusReason"], "Task failed to start")
        reason = d["container"]["reason"]
        self.assertTrue(reason.startswith("ResourceInitializationError: unable to pull secrets "
                                          "or registry auth"), reason)
        self.assertIn("no-such-secret", reason)
        self.assertFalse(os.path.exists(os.path.join(self.out_dir, "ran-missing")))
