"""The server process itself: health, help, clean stop, refusing a second server."""
import signal
import subprocess
import unittest

from harness import BARGE, Server


class ServerProcess(unittest.TestCase):
    def test_healthz_and_clean_stop_on_sigterm_and_sigint(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            s = Server().start()
            try:
                status, _, body = s.raw("GET", "/healthz")
                self.assertEqual((status, body), (200, {"status": "ok"}))
                self.assertEqual(s.stop(sig), 0)
                self.assertIn("stopped", s.read_log())
            finally:
                s.cleanup()

    def test_help_lists_every_option(self):
        out = subprocess.run([BARGE, "server", "--help"], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0)
        for opt in ("--listen", "--data-dir", "--region", "--account-id", "--dev", "--sync",
                    "--allow-privileged"):
            self.assertIn(opt, out.stdout)

    def test_bad_options_are_explained(self):
        for args, fragment in ((["--listen", "nonsense"], "HOST:PORT"),
                               (["--account-id", "12"], "12 digits"),
                               # Every ARN and event carries the region, written as it is.
                               (["--region", 'us"east-1'], "as AWS names regions"),
                               (["--region", "US-EAST-1"], "lowercase"),
                               (["--sync", "sometimes"], "full"),
                               (["--bogus"], "usage")):
            out = subprocess.run([BARGE, "server"] + args, capture_output=True, text=True)
            self.assertEqual(out.returncode, 2, args)
            self.assertIn(fragment, out.stderr)

    def test_second_server_on_same_data_dir_is_refused(self):
        s = Server().start()
        try:
            other = Server(data_dir=s.data_dir)
            with self.assertRaises(RuntimeError) as cm:
                other.start(timeout=3)
            self.assertIn("in use by another barge server", str(cm.exception))
        finally:
            s.cleanup()

    def test_region_and_account_appear_in_arns(self):
        s = Server(args=("--dev", "--region", "eu-west-3", "--account-id", "111122223333")).start()
        try:
            b = s.client()
            out = b.create_compute_environment(computeEnvironmentName="a", type="UNMANAGED")
            self.assertEqual(out["computeEnvironmentArn"],
                             "arn:aws:batch:eu-west-3:111122223333:compute-environment/a")
        finally:
            s.cleanup()

    def test_limits_are_settings(self):
        s = Server(args=("--dev", "--max-depends-on", "1", "--max-array-size", "5")).start()
        try:
            b = s.client()
            b.create_compute_environment(computeEnvironmentName="u", type="UNMANAGED")
            b.create_job_queue(jobQueueName="q", priority=1,
                               computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "u"}])
            b.register_job_definition(
                jobDefinitionName="d", type="container",
                containerProperties={"image": "busybox", "command": ["true"],
                                     "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                              {"type": "MEMORY", "value": "64"}]})
            one = b.submit_job(jobName="a", jobQueue="q", jobDefinition="d")["jobId"]
            two = b.submit_job(jobName="b", jobQueue="q", jobDefinition="d")["jobId"]
            import botocore.exceptions
            with self.assertRaises(botocore.exceptions.ClientError) as cm:
                b.submit_job(jobName="c", jobQueue="q", jobDefinition="d",
                             dependsOn=[{"jobId": one}, {"jobId": two}])
            self.assertIn("at most 1 dependencies", cm.exception.response["Error"]["Message"])
            with self.assertRaises(botocore.exceptions.ClientError) as cm:
                b.submit_job(jobName="e", jobQueue="q", jobDefinition="d",
                             arrayProperties={"size": 6})
            self.assertIn("between 2 and 5", cm.exception.response["Error"]["Message"])
            b.submit_job(jobName="f", jobQueue="q", jobDefinition="d", arrayProperties={"size": 5},
                         dependsOn=[{"jobId": one}])
        finally:
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
