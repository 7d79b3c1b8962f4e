"""Jobs without root: the process executor of a root agent runs each attempt as a host uid of its
own (--job-uids, default 2000000000:65536; their group nobody's, shared), or every attempt as the one user --job-user names
(root only when named), in a directory of their own outside DATA_DIR, which they cannot read."""
import os
import pwd

from test_jobs_common import FAST, JobsCase

FIRST, COUNT = 2000000000, 65536


class JobsCaseOut(JobsCase):
    def read(self, name):
        with open(os.path.join(self.out_dir, name)) as f:
            return f.read().strip()


class JobUser(JobsCaseOut):
    def test_attempts_run_unprivileged_outside_the_data_dir(self):
        token = os.path.join(self.server.data_dir, "agent-token")
        jid = self.submit("who", command='id -u > "$OUT/uid"; id -g > "$OUT/gid"; '
                                         'id -G > "$OUT/groups"; pwd > "$OUT/pwd"; '
                                         'umask > "$OUT/umask"; '
                                         'stat -c %%u:%%a . > "$OUT/dir"; echo "$HOME" > "$OUT/home"; '
                                         'cat %s > "$OUT/token" 2>/dev/null || echo refused > '
                                         '"$OUT/token"; touch %s/x 2>/dev/null || echo refused > '
                                         '"$OUT/write"' % (token, self.server.data_dir))
        self.assertEqual(self.wait_job(jid)["status"], "SUCCEEDED")
        uid = int(self.read("uid"))
        self.assertTrue(FIRST <= uid < FIRST + COUNT, uid)
        # One group for every attempt, nobody's, whose members may change what another wrote
        # outside its directory (as when all ran as nobody); no group of the agent's.
        nogroup = str(pwd.getpwnam("nobody").pw_gid)
        self.assertEqual(self.read("gid"), nogroup)
        self.assertEqual(self.read("groups"), nogroup)
        self.assertEqual(self.read("umask"), "0002")
        self.assertEqual(self.read("home"), "/tmp")
        self.assertFalse(self.read("pwd").startswith(os.path.realpath(self.server.data_dir)),
                         self.read("pwd"))
        self.assertEqual(self.read("dir"), "%d:700" % uid)
        self.assertEqual(self.read("token"), "refused")
        self.assertEqual(self.read("write"), "refused")
        self.assertFalse(os.path.exists(os.path.join(self.server.data_dir, "x")))

    # Attempts that run at once have different uids; one that starts after another ended may
    # have the uid it had, with nothing of the earlier attempt still running as it.
    def test_each_attempt_its_own_uid_and_nothing_left_behind(self):
        a = self.submit("uid-a", command=self.gate("uid-a") + 'id -u > "$OUT/uid-a"; '
                        'setsid sleep 300 >/dev/null 2>&1 < /dev/null & true')
        b = self.submit("uid-b", command=self.gate("uid-b") + 'id -u > "$OUT/uid-b"')
        self.wait_job(a, "RUNNING")
        self.wait_job(b, "RUNNING")
        self.open_gate("uid-a")
        self.open_gate("uid-b")
        self.assertEqual(self.wait_job(a)["status"], "SUCCEEDED")
        self.assertEqual(self.wait_job(b)["status"], "SUCCEEDED")
        ua, ub = int(self.read("uid-a")), int(self.read("uid-b"))
        self.assertNotEqual(ua, ub)

        def left(uid):
            found = []
            for p in os.listdir("/proc"):
                try:
                    with open("/proc/%s/status" % p) as f:
                        st = f.read()
                except OSError:
                    continue
                real = [line.split()[1] for line in st.splitlines() if line.startswith("Uid:")]
                state = [line.split()[1] for line in st.splitlines()
                         if line.startswith("State:")]
                if real and real[0] == str(uid) and state and state[0] != "Z":
                    found.append(p)
            return found
        self.wait_for(lambda: not left(ua), 10, "uid %d's processes to end" % ua)


class JobUserNamed(JobsCaseOut):
    server_args = FAST + ("--job-user", "nobody")

    def test_one_user_for_every_attempt_when_named(self):
        nobody = pwd.getpwnam("nobody")
        jid = self.submit("named", command='id -u > "$OUT/uid-named"; '
                                           'stat -c %u:%a . > "$OUT/dir-named"')
        self.assertEqual(self.wait_job(jid)["status"], "SUCCEEDED")
        self.assertEqual(self.read("uid-named"), str(nobody.pw_uid))
        self.assertEqual(self.read("dir-named"), "%d:700" % nobody.pw_uid)


class JobUidsRange(JobsCaseOut):
    server_args = FAST + ("--job-uids", "2100000000:3")

    def test_the_range_given(self):
        jid = self.submit("ranged", command='id -u > "$OUT/uid-ranged"')
        self.assertEqual(self.wait_job(jid)["status"], "SUCCEEDED")
        self.assertIn(int(self.read("uid-ranged")), range(2100000000, 2100000003))


class JobUserRoot(JobsCase):
    server_args = FAST + ("--job-user", "root")

    def test_root_only_when_named(self):
        jid = self.submit("root", command='id -u > "$OUT/uid-root"')
        self.assertEqual(self.wait_job(jid)["status"], "SUCCEEDED")
        with open(os.path.join(self.out_dir, "uid-root")) as f:
            self.assertEqual(f.read().strip(), "0")
