"""The audit trail: every call that changes something is a CloudTrail-shaped line in
DATA_DIR/audit.log (0600) naming who, what, on what, from where, when and how it ended; reads
are not recorded and no value a job is given is written."""
import json
import os
import stat

import botocore.exceptions

from test_jobs_common import JobsCase


class AuditTrail(JobsCase):
    def events(self):
        with open(os.path.join(self.server.data_dir, "audit.log")) as f:
            return [json.loads(line) for line in f]

    def test_changes_are_recorded_and_reads_are_not(self):
        before = len(self.events())
        jid = self.submit(name="audited", env={"PASSWORD": "s3cr3t-value"},
                          command="echo hi")
        with self.assertRaises(botocore.exceptions.ClientError):
            self.batch.submit_job(jobName="bad", jobQueue="no-such-queue", jobDefinition="jd")
        self.batch.describe_jobs(jobs=[jid])
        self.batch.list_jobs(jobQueue="q")
        ev = self.events()[before:]
        self.assertEqual([e["eventName"] for e in ev], ["SubmitJob", "SubmitJob"])
        ok, bad = ev
        self.assertEqual(ok["eventSource"], "batch.amazonaws.com")
        self.assertEqual(ok["awsRegion"], "us-east-1")
        self.assertEqual(ok["sourceIPAddress"], "127.0.0.1")
        self.assertIn("Boto3", ok["userAgent"])
        self.assertEqual(ok["userIdentity"]["accessKeyId"], self.batch._request_signer._credentials.access_key)
        self.assertEqual(ok["requestParameters"]["jobName"], "audited")
        self.assertEqual(ok["requestParameters"]["jobQueue"], "q")
        self.assertEqual(ok["responseElements"]["jobId"], jid)
        self.assertEqual(ok["httpStatus"], 200)
        self.assertNotIn("errorCode", ok)
        self.assertRegex(ok["eventTime"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(bad["errorCode"], "ClientException")
        self.assertEqual(bad["httpStatus"], 400)
        self.assertIsNone(bad["responseElements"])
        with open(os.path.join(self.server.data_dir, "audit.log")) as f:
            self.assertNotIn("s3cr3t-value", f.read())
        mode = stat.S_IMODE(os.stat(os.path.join(self.server.data_dir, "audit.log")).st_mode)
        self.assertEqual(mode, 0o600)

    def test_resource_changes_are_recorded(self):
        before = len(self.events())
        self.make_ce("audit-ce", 2)
        self.batch.update_compute_environment(computeEnvironment="audit-ce", state="DISABLED")
        names = [(e["eventName"], (e["requestParameters"] or {}).get("computeEnvironment") or
                  (e["requestParameters"] or {}).get("computeEnvironmentName"))
                 for e in self.events()[before:]]
        self.assertEqual(names, [("CreateComputeEnvironment", "audit-ce"),
                                 ("UpdateComputeEnvironment", "audit-ce")])

    def test_a_rotated_trail_goes_on_in_a_new_file_after_sighup(self):
        # Moved aside (logrotate's default, mv), the trail went on into the moved file for as
        # long as the server ran: nothing could rotate it.  SIGHUP opens the path again.
        import signal
        import time
        path = os.path.join(self.server.data_dir, "audit.log")
        rotated = path + ".1"
        os.rename(path, rotated)
        self.addCleanup(lambda: os.path.exists(rotated) and os.remove(rotated))
        self.make_ce("before-hup", 1)
        self.server.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and not os.path.exists(path):
            time.sleep(0.05)
        self.make_ce("after-hup", 1)
        with open(rotated) as f:
            old = [json.loads(line)["requestParameters"].get("computeEnvironmentName")
                   for line in f]
        self.assertIn("before-hup", old)
        self.assertNotIn("after-hup", old)
        names = [(e["requestParameters"] or {}).get("computeEnvironmentName")
                 for e in self.events()]
        self.assertEqual(names, ["after-hup"])
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
