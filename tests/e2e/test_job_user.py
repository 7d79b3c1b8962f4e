"""Jobs without root: the process executor runs attempts as an unprivileged host user (nobody
unless --job-user names another; root only when named), in a directory of their own outside
DATA_DIR, which they cannot read."""
import os
import pwd

from test_jobs_common import FAST, JobsCase


class JobUser(JobsCase):
    def test_attempts_run_unprivileged_outside_the_data_dir(self):
        nobody = pwd.getpwnam("nobody")
        token = os.path.join(self.server.data_dir, "agent-token")
        jid = self.submit("who", command='id -u > "$OUT/uid"; id -g > "$OUT/gid"; pwd > "$OUT/pwd"; '
                                         'stat -c %%u:%%a . > "$OUT/dir"; echo "$HOME" > "$OUT/home"; '
                                         'cat %s > "$OUT/token" 2>/dev/null || echo refused > '
                                         '"$OUT/token"; touch %s/x 2>/dev/null || echo refused > '
                                         '"$OUT/write"' % (token, self.server.data_dir))
        self.assertEqual(self.wait_job(jid)["status"], "SUCCEEDED")

        def read(name):
            with open(os.path.join(self.out_dir, name)) as f:
                return f.read().strip()
        self.assertEqual(read("uid"), str(nobody.pw_uid))
        self.assertEqual(read("gid"), str(nobody.pw_gid))
        self.assertFalse(read("pwd").startswith(os.path.realpath(self.server.data_dir)), read("pwd"))
        self.assertEqual(read("dir"), "%d:700" % nobody.pw_uid)
        self.assertEqual(read("token"), "refused")
        self.assertEqual(read("write"), "refused")
        self.assertFalse(os.path.exists(os.path.join(self.server.data_dir, "x")))


class JobUserRoot(JobsCase):
    server_args = FAST + ("--job-user", "root")

    def test_root_only_when_named(self):
        jid = self.submit("root", command='id -u > "$OUT/uid-root"')
        self.assertEqual(self.wait_job(jid)["status"], "SUCCEEDED")
        with open(os.path.join(self.out_dir, "uid-root")) as f:
            self.assertEqual(f.read().strip(), "0")
