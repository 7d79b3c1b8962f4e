"""Jobs without root: the process executor of a root agent runs each attempt as a host uid of its
own (--job-uids, default 2000000000:65536; their group nobody's, shared), or every attempt as the one user --job-user names
(root only when named), in a directory of their own outside DATA_DIR, which they cannot read."""
import os
import pwd
import shutil
import subprocess
import unittest

from test_jobs_common import FAST, JobsCase

FIRST, COUNT = 2000000000, 65536


class JobsCaseOut(JobsCase):
    def read(self, name):
        with open(os.path.join(self.out_dir, name)) as f:
            return f.read().strip()


@unittest.skipUnless(os.geteuid() == 0, "needs a root agent")
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
        self.assertEqual(self.read("home"), self.read("pwd"))  # a home of its own
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

    # SysV IPC and POSIX message queues are the attempt's own (an IPC namespace, as a
    # container's), gone with it; what it made in /dev/shm (shm_open, sem_open) goes as its uid
    # is given back.
    def test_ipc_is_the_attempts_own_and_its_shm_files_go(self):
        shm = "/dev/shm/barge-test-ipc-%d" % os.getpid()
        self.addCleanup(lambda: os.path.exists(shm) and os.unlink(shm))
        a = self.submit("ipc-a", command='id -u > "$OUT/ipc-uid"; ipcmk -M 4096 -p 0666 && '
                        'ipcmk -S 1 -p 0666 && ipcmk -Q -p 0666 && ipcs > "$OUT/ipc-own.tmp" && '
                        'mv "$OUT/ipc-own.tmp" "$OUT/ipc-own"; echo x > %s; ' % shm +
                        self.gate("ipc-a") + 'true')
        self.wait_for(lambda: os.path.exists(os.path.join(self.out_dir, "ipc-own")), 30,
                      "the job to make its IPC objects")
        own = self.read("ipc-own")
        self.assertEqual(own.count("0x"), 3, own)  # its own three, none of the host's
        uid = self.read("ipc-uid")
        self.wait_for(lambda: os.path.exists(shm), 10, "the job's file in /dev/shm")

        def host_objects(uid):
            found = []
            for kind in ("shm", "sem", "msg"):
                with open("/proc/sysvipc/" + kind) as f:
                    col = f.readline().split().index("uid")
                    found += [kind for line in f if line.split()[col] == uid]
            return found
        self.assertEqual(host_objects(uid), [], "the job's IPC objects are in the host's tables")
        # Another job, running beside it, sees none of them.
        b = self.submit("ipc-b", command='ipcs > "$OUT/ipc-other"')
        self.assertEqual(self.wait_job(b)["status"], "SUCCEEDED")
        self.assertEqual(self.read("ipc-other").count("0x"), 0, self.read("ipc-other"))
        self.open_gate("ipc-a")
        self.assertEqual(self.wait_job(a)["status"], "SUCCEEDED")
        self.wait_for(lambda: not os.path.exists(shm), 10, "the job's file in /dev/shm to go")

    # The jobs' metadata endpoint (and role credentials) is one per agent: one job holding
    # every connection it may open kept the others from it.  Connections are counted by the
    # uid that opened them, so each attempt's uid has a share.
    def test_one_job_cannot_take_every_metadata_connection(self):
        hold = (
            "import os, socket, time, urllib.parse\n"
            "u = urllib.parse.urlparse(os.environ['ECS_CONTAINER_METADATA_URI_V4'])\n"
            "held = [socket.create_connection((u.hostname, u.port)) for _ in range(70)]\n"
            "def alive():\n"
            "    n = 0\n"
            "    for s in held:\n"
            "        s.setblocking(False)\n"
            "        try:\n"
            "            n += s.recv(1, socket.MSG_PEEK) != b''\n"
            "        except BlockingIOError:\n"
            "            n += 1\n"
            "        except OSError:\n"
            "            pass\n"
            "    return n\n"
            # The refused ones are closed as they are accepted: waited for, not slept on, on a
            # loaded machine; an endpoint that refuses none keeps all 70 to the end.
            "end = time.time() + 20\n"
            "while alive() > 32 and time.time() < end:\n"
            "    time.sleep(0.1)\n"
            "open(os.environ['OUT'] + '/held', 'w').write(str(alive()))\n"
            "while not os.path.exists(os.environ['OUT'] + '/meta-hold.go'):\n"
            "    time.sleep(0.05)\n")
        self.gate("meta-hold")
        a = self.submit("meta-hold", command=["python3", "-c", hold])
        self.wait_for(lambda: os.path.exists(os.path.join(self.out_dir, "held")), 30,
                      "the job to hold its connections")
        b = self.submit("meta-read", command=[
            "python3", "-c", "import os, urllib.request; open(os.environ['OUT'] + '/meta', 'w')"
            ".write(urllib.request.urlopen(os.environ['ECS_CONTAINER_METADATA_URI_V4'], "
            "timeout=10).read().decode())"])
        self.assertEqual(self.wait_job(b)["status"], "SUCCEEDED", self.job(b).get("statusReason"))
        self.assertIn("DockerId", self.read("meta"))
        self.assertLessEqual(int(self.read("held")), 32)
        self.open_gate("meta-hold")
        self.assertEqual(self.wait_job(a)["status"], "SUCCEEDED")


@unittest.skipUnless(os.geteuid() == 0, "needs a root agent")
class PrivateHome(JobsCase):
    # An attempt's home is its own directory: one that plants code in a shared HOME (Python's
    # user site-packages under /tmp, read by any job that runs python3 with HOME=/tmp) does
    # not reach another's environment.
    def test_a_job_cannot_plant_code_in_anothers_home(self):
        site = subprocess.run(["python3", "-c", "import site; print(site.getusersitepackages())"],
                              env={"HOME": "/tmp", "PATH": os.environ["PATH"]},
                              capture_output=True, text=True, check=True).stdout.strip()
        self.assertTrue(site.startswith("/tmp/"), site)
        if os.path.exists("/tmp/.local"):
            self.skipTest("/tmp/.local exists already")
        self.addCleanup(shutil.rmtree, "/tmp/.local", True)
        plant = ('import os; os.environ.get("PLANT_VICTIM") and '
                 'open(os.environ["OUT"] + "/plant-stolen", "w").write(os.environ["PLANT_VICTIM"])')
        # The planter still runs (so holds its uid) while the victim runs.
        planter = self.submit("planter", command='id -u > "$OUT/plant-planter"; mkdir -p %s && '
                              'printf %%s\\\\n \'%s\' > %s/plant.pth; ' % (site, plant, site)
                              + self.gate("planter") + 'true')
        self.wait_for(lambda: os.path.exists(os.path.join(site, "plant.pth")), 20, "the plant")
        victim = self.submit("victim", command='id -u > "$OUT/plant-victim"; python3 -c pass',
                             env={"PLANT_VICTIM": "secret-value", "OUT": self.out_dir})
        self.assertEqual(self.wait_job(victim)["status"], "SUCCEEDED")
        self.open_gate("planter")
        self.assertEqual(self.wait_job(planter)["status"], "SUCCEEDED")
        with open(os.path.join(self.out_dir, "plant-planter")) as a, \
                open(os.path.join(self.out_dir, "plant-victim")) as b:
            self.assertNotEqual(a.read(), b.read())
        self.assertFalse(os.path.exists(os.path.join(self.out_dir, "plant-stolen")),
                         "the planter's code ran in the victim's job and read its secret")


@unittest.skipUnless(os.geteuid() == 0, "needs a root agent")
class NoSetuidWayIn(JobsCaseOut):
    # A job cannot become another attempt's uid through a setuid file that attempt left (a
    # copy of id here; of a shell in earnest): attempts run with no new privileges by exec.
    def test_a_setuid_file_of_another_uid_gains_nothing(self):
        if "nosuid" in subprocess.run(["findmnt", "-n", "-o", "OPTIONS", "-T", self.out_dir],
                                      capture_output=True, text=True).stdout:
            self.skipTest("the output directory's file system ignores setuid bits")
        owner = self.submit("setuid-owner", command='id -u > "$OUT/setuid-owner"; '
                            'cp /usr/bin/id "$OUT/idcopy" && chmod 4755 "$OUT/idcopy"; '
                            + self.gate("setuid-owner") + 'true')
        self.wait_for(lambda: os.path.exists(os.path.join(self.out_dir, "idcopy")) and
                      os.stat(os.path.join(self.out_dir, "idcopy")).st_mode & 0o4000, 20,
                      "the setuid copy")
        other = self.submit("setuid-user", command='id -u > "$OUT/setuid-user"; '
                            '"$OUT/idcopy" -u > "$OUT/setuid-became"')
        self.assertEqual(self.wait_job(other)["status"], "SUCCEEDED")
        self.open_gate("setuid-owner")
        self.assertEqual(self.wait_job(owner)["status"], "SUCCEEDED")
        self.assertNotEqual(self.read("setuid-owner"), self.read("setuid-user"))
        self.assertEqual(self.read("setuid-became"), self.read("setuid-user"))


@unittest.skipUnless(os.geteuid() == 0, "needs a root agent")
class KeptDirectories(JobsCase):
    server_args = FAST + ("--job-uids", "2100000100:2")  # the next attempts reuse the uids

    # A kept working directory is the agent's until it is handed out again: the uid of its last
    # attempt, handed to another attempt meanwhile, cannot leave a json.py in it for the
    # attempt that starts there next (Python imports from the working directory).
    def test_an_idle_directory_is_not_writable_by_its_last_uid(self):
        a = self.submit("wd-a", command='pwd > "$OUT/wd-a"; ' + self.gate("wd-a") + 'true')
        b = self.submit("wd-b", command='pwd > "$OUT/wd-b"; ' + self.gate("wd-b") + 'true')
        self.wait_job(a, "RUNNING")
        self.wait_job(b, "RUNNING")
        self.open_gate("wd-a")
        self.assertEqual(self.wait_job(a)["status"], "SUCCEEDED")
        self.open_gate("wd-b")
        self.assertEqual(self.wait_job(b)["status"], "SUCCEEDED")
        plant = ('import os; open(os.environ["OUT"] + "/plant-stolen-wd", "w").write('
                 'os.environ.get("PLANT_SECRET", ""))')
        x = self.submit("wd-x", command=(
            'id -u > "$OUT/wd-x"; for i in $(seq 0 200); do d=$(dirname "$PWD")/slot-$i; '
            '[ "$d" != "$PWD" ] && [ -O "$d" ] && printf %%s\\\\n \'%s\' > "$d/json.py" && '
            'echo "$d" > "$OUT/wd-planted"; done; echo > "$OUT/wd-tried"; ' % plant)
            + self.gate("wd-x") + 'true')
        self.wait_for(lambda: os.path.exists(os.path.join(self.out_dir, "wd-tried")), 20,
                      "the plant's try")
        y = self.submit("wd-y", command='id -u > "$OUT/wd-y"; python3 -c "import json"',
                        env={"PLANT_SECRET": "secret-value", "OUT": self.out_dir})
        self.wait_job(y)
        self.open_gate("wd-x")
        self.wait_job(x)
        with open(os.path.join(self.out_dir, "wd-x")) as f1, \
                open(os.path.join(self.out_dir, "wd-y")) as f2:
            self.assertNotEqual(f1.read(), f2.read())
        self.assertFalse(os.path.exists(os.path.join(self.out_dir, "wd-planted")),
                         "attempt x wrote into a kept directory")
        self.assertFalse(os.path.exists(os.path.join(self.out_dir, "plant-stolen-wd")),
                         "attempt y started in a directory attempt x (another uid) wrote into")


@unittest.skipUnless(os.geteuid() == 0, "needs a root agent")
class UidsInTurn(JobsCase):
    # A uid given back keeps what its attempt owned outside its directory (files in /dev/shm
    # and /tmp, SysV IPC): uids are handed out in turn, so the next attempt is another uid,
    # which cannot read the first one's private (0600) files.
    def test_the_next_attempt_of_a_uid_cannot_read_the_last_ones_private_files(self):
        path = "/dev/shm/barge-uids-test-private"
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        a = self.submit("priv-a", command='umask 077; id -u > "$OUT/priv-a"; echo secret > %s'
                        % path)
        self.assertEqual(self.wait_job(a)["status"], "SUCCEEDED")
        b = self.submit("priv-b", command='id -u > "$OUT/priv-b"; cat %s > "$OUT/priv-read" '
                        '2>/dev/null; true' % path)
        self.assertEqual(self.wait_job(b)["status"], "SUCCEEDED")
        with open(os.path.join(self.out_dir, "priv-read")) as f:
            self.assertEqual(f.read(), "", "attempt b read attempt a's 0600 file")



@unittest.skipUnless(os.geteuid() == 0, "needs a root agent")
class JobUserNamed(JobsCaseOut):
    server_args = FAST + ("--job-user", "nobody")

    def test_one_user_for_every_attempt_when_named(self):
        nobody = pwd.getpwnam("nobody")
        jid = self.submit("named", command='id -u > "$OUT/uid-named"; '
                                           'stat -c %u:%a . > "$OUT/dir-named"')
        self.assertEqual(self.wait_job(jid)["status"], "SUCCEEDED")
        self.assertEqual(self.read("uid-named"), str(nobody.pw_uid))
        self.assertEqual(self.read("dir-named"), "%d:700" % nobody.pw_uid)


@unittest.skipUnless(os.geteuid() == 0, "needs a root agent")
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
