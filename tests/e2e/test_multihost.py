"""Agents on other hosts.  Each host is a network namespace on a private LAN (netns.py) with an
address of its own; the server listens on the LAN's address in the root namespace, the server's
host.  Every agent has a work directory of its own, apart from the server's DATA_DIR: nothing
relies on a shared file system (the tests themselves look at files only to watch processes).

UnmanagedHosts: agents an operator starts on two hosts, with the server's join token, serve an
UNMANAGED compute environment; jobs run on both and their logs reach the server; a host whose
link is cut is declared lost (FLEET_LOST_AFTER_SECONDS, 30 s: one of the two slow tests), its
attempt ends as a terminated host's and is retried on the other host, and when the link comes
back its agent learns the instance is gone, stops the stale attempt and registers again; a batch
of lines caught in a cut is stored once (the agent resets the connection it gives up, so the
kernel does not deliver the first copy late), and a lost instance's lines still reach its
attempt's log when its id has been registered again meanwhile.

ExecProvider: a MANAGED compute environment served by the exec provider (--provider-commands):
the launch command starts `barge agent` on a free host of the pool, the terminate command stops
it; instances are launched for the jobs, register with their launch tokens (the server checks
join tokens: no --dev), run the jobs and are terminated once idle or when an operator
terminates them; a failing launch command backs off, and its jobs say why they wait; SIGHUP
reads the commands again; an instance that never registers is lost at the registration deadline
(FLEET_REGISTER_WITHIN_SECONDS, 30 s: the other slow tests) and terminated, also when it was
launched by a server that was killed before its agent came up (whose agent, when it does come
up, registers with the next server)."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import botocore.exceptions

from harness import ACCESS_KEY, BARGE, REGION, SECRET_KEY
from netns import Lan
from test_cli import barge
from test_jobs_common import DONE, JobsCase

HOST_EC2 = r"^Host EC2 \(instance (i-[0-9a-f]+)\) terminated\.$"
TOKEN = "multihost-join-token-0123456789"


def instance_of(attempt):
    """The instance an attempt ran on, from its containerInstanceArn."""
    return attempt["container"]["containerInstanceArn"].rsplit("/", 1)[-1]


def stop_process(proc, timeout=15):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stop_pid(pid, timeout=15):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def pgrep(pattern):
    p = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return [int(x) for x in p.stdout.split()]


class LanCase(JobsCase):
    """JobsCase with its server on a LAN of network namespaces (cls.lan, hosts in cls.hosts)."""
    host_names = ("host-a", "host-b")

    @classmethod
    def setUpClass(cls):
        cls.lan = Lan()
        cls.addClassCleanup(cls.lan.cleanup)
        cls.lan.start()
        cls.hosts = [cls.lan.add_host(n) for n in cls.host_names]
        cls.server_host = cls.lan.server_address
        cls.scratch = tempfile.mkdtemp(prefix="barge-multihost-")
        os.chmod(cls.scratch, 0o711)  # the agents' work directories are in it
        cls.addClassCleanup(shutil.rmtree, cls.scratch, True)
        cls.before_server()
        super().setUpClass()

    @classmethod
    def before_server(cls):
        """Subclasses write what their server reads here."""

    @classmethod
    def work_dir(cls, name):
        """A work directory of an agent's own (passable by the jobs' user, as barge's are)."""
        d = tempfile.mkdtemp(prefix="work-%s-" % name, dir=cls.scratch)
        os.chmod(d, 0o711)
        return d

    def barge(self, *args):
        """The barge CLI, signing with the tests' key."""
        return barge(*args, endpoint=self.server.url,
                     env={"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                          "AWS_REGION": REGION})

    def fleet(self, ce):
        """The instances of compute environment ce, as `barge fleet --json` lists them."""
        rc, out, err = self.barge("fleet", "--json", "--compute-environment", ce)
        self.assertEqual(rc, 0, err)
        return json.loads(out)["instances"]

    def logs_of(self, d):
        logs = self.server.client("logs")
        out = logs.get_log_events(logGroupName="/aws/batch/job",
                                  logStreamName=d["container"]["logStreamName"],
                                  startFromHead=True)
        return [e["message"] for e in out["events"]]


class UnmanagedHosts(LanCase):
    # Requests are signed and checked, and agents register with the server's join token.
    server_args = ("--idle-seconds", "2", "--kill-grace-seconds", "1", "--agent-token", TOKEN)

    @classmethod
    def setUpResources(cls):
        cls.batch.create_compute_environment(computeEnvironmentName="lan", type="UNMANAGED")
        cls.make_queue("lanq", ["lan"])
        # One agent a host, as an operator starts them, for the whole class.
        for h in cls.hosts:
            log = open(os.path.join(cls.scratch, "agent-%s.log" % h.name), "ab")
            cls.addClassCleanup(log.close)
            proc = subprocess.Popen(h.cmd([
                BARGE, "agent", "--server", cls.server.url, "--compute-environment", "lan",
                "--token", TOKEN, "--executor", "process", "--vcpus", "1", "--memory", "1024",
                "--work-dir", cls.work_dir(h.name)]), stdout=log, stderr=subprocess.STDOUT)
            cls.addClassCleanup(stop_process, proc)

    def setUp(self):
        self.wait_for(lambda: len(self.ready()) == len(self.hosts), 30,
                      "an agent of each host to be registered")

    def agent_log(self, host):
        with open(os.path.join(self.scratch, "agent-%s.log" % host.name), errors="replace") as f:
            return f.read()

    def ready(self):
        """address -> instance id of the READY instances of "lan"."""
        return {i.get("address"): i["instanceId"] for i in self.fleet("lan")
                if i["state"] == "READY"}

    def test_jobs_run_on_both_hosts_and_their_logs_reach_the_server(self):
        where = self.ready()
        self.assertEqual(set(where), {h.address for h in self.hosts})
        # One vCPU a host and jobs of one vCPU that overlap: both hosts take some.
        ids = [self.submit("spread-%d" % n, queue="lanq",
                           command="echo ran on $(hostname -I); sleep 1") for n in range(4)]
        done = self.wait_jobs(ids, timeout=60)
        used = set()
        for jid, d in done.items():
            self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
            iid = instance_of(d["attempts"][0])
            [address] = [a for a, i in where.items() if i == iid]
            used.add(address)
            # The line the job printed on its host, read back from the server.
            self.assertIn("ran on %s" % address, self.logs_of(d))
        self.assertEqual(used, {h.address for h in self.hosts})
        # `barge fleet` tells the hosts apart by the address each agent registered from.
        rc, out, err = self.barge("fleet", "--compute-environment", "lan")
        self.assertEqual(rc, 0, err)
        self.assertIn("ADDRESS", out.splitlines()[0])
        for h in self.hosts:
            self.assertIn(h.address, out)

    def test_a_host_cut_off_is_lost_and_comes_back_as_a_new_registration(self):
        marker = "lost-host-marker-%d" % os.getpid()
        jid = self.submit("cut-off", queue="lanq", retryStrategy={"attempts": 2},
                          command='if [ "$AWS_BATCH_JOB_ATTEMPT" -ge 2 ]; then '
                                  'echo second on $(hostname -I); else sleep 600; fi # ' + marker)
        self.wait_job(jid, "RUNNING")
        iid = instance_of(self.job(jid))
        [host] = [h for h in self.hosts if self.ready().get(h.address) == iid]
        [other] = [h for h in self.hosts if h is not host]
        self.assertTrue(pgrep(marker))
        host.cut()
        self.addCleanup(host.plug)
        # The server hears nothing from the host for lostAfterSeconds: the attempt ends as a
        # terminated host's and the job is retried, on the host still reachable.
        d = self.wait_job(jid, DONE, timeout=75)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertEqual(len(d["attempts"]), 2)
        m = re.match(HOST_EC2, d["attempts"][0]["statusReason"])
        self.assertTrue(m, d["attempts"][0]["statusReason"])
        self.assertEqual(m.group(1), iid)
        self.assertEqual(instance_of(d["attempts"][1]), self.ready()[other.address])
        self.assertIn("second on %s" % other.address, self.logs_of(d))
        self.assertNotIn(iid, self.ready().values())
        # Cut off, the agent knows nothing of it: the stale attempt still runs.
        self.assertTrue(pgrep(marker))
        host.plug()
        # Back on the LAN, the agent learns that its instance is gone (404
        # UnknownInstanceException), stops the stale attempt and registers again.
        self.wait_for(lambda: not pgrep(marker), 60, "the stale attempt to be stopped")
        self.wait_for(lambda: host.address in self.ready(), 30,
                      "the host's agent to register again")
        log = self.agent_log(host)
        self.assertEqual(log.count("registered with"), 2, log[-3000:])
        # And it takes work again.
        d = self.wait_job(self.submit("after", queue="lanq", command="hostname -I"), DONE, 30)
        self.assertEqual(d["status"], "SUCCEEDED")


    def test_a_log_batch_caught_in_a_cut_is_stored_once(self):
        """A batch of lines sent as the link goes down waits in the kernel; the agent gives the
        request up after its timeout and sends the lines again.  When the link comes back, the
        first copy must not reach the server too: each line is stored once, at its own time."""
        jid = self.submit("cut-batch", queue="lanq",
                          command="echo before; " + self.gate("cut-batch") +
                                  "echo during; sleep 600")
        self.wait_job(jid, "RUNNING")
        d = self.job(jid)
        self.wait_for(lambda: "before" in self.logs_of(d), 10, "the first line")
        [host] = [h for h in self.hosts if self.ready().get(h.address) == instance_of(d)]
        given_up = self.agent_log(host).count("cannot ship logs")
        host.cut()
        self.addCleanup(host.plug)
        self.open_gate("cut-batch")  # "during" is printed, and its batch sent, while cut off
        self.wait_for(lambda: self.agent_log(host).count("cannot ship logs") > given_up, 60,
                      "the agent to give the upload up")
        # An upload that got no answer is tried again with half as many lines: on a link that
        # loses most packets a large batch never arrives, and the reports waiting behind it
        # never went.
        self.assertIn("retrying with at most 1000 lines an upload", self.agent_log(host))
        host.plug()

        def unsent():
            """The host's connections to the server that still have data to send."""
            p = subprocess.run(host.cmd(["ss", "-Htn", "dst", self.server_host]),
                               capture_output=True, text=True)
            return [line for line in p.stdout.splitlines() if line.split()[2] != "0"]
        # Whatever the host's kernel still held has gone, or been dropped, by then.
        self.wait_for(lambda: not unsent(), 90, "the host's queued requests to go")
        self.wait_for(lambda: "during" in self.logs_of(d), 30, "the line printed cut off")
        self.wait_job(jid, DONE, timeout=60)
        self.wait_for(lambda: host.address in self.ready(), 30,
                      "the host's agent to register again")
        self.assertEqual(self.logs_of(d), ["before", "during"])


    def test_a_lost_instance_ships_its_lines_after_its_id_is_registered_again(self):
        """Cut off, the host's instance is lost, and its id is registered again from elsewhere
        (an agent started with the same --instance-id on another machine) before the link
        comes back.  The lines the cut-off agent holds, printed by the attempt the server
        ended, are still that attempt's: its old credential may ship them, as when the id is
        gone."""
        jid = self.submit("same-id", queue="lanq",
                          command="echo before; " + self.gate("same-id") +
                                  "echo during; sleep 600")
        self.wait_job(jid, "RUNNING")
        d = self.job(jid)
        iid = instance_of(d)
        [host] = [h for h in self.hosts if self.ready().get(h.address) == iid]
        self.wait_for(lambda: "before" in self.logs_of(d), 10, "the first line")
        host.cut()
        self.addCleanup(host.plug)
        self.open_gate("same-id")  # printed while cut off: the agent holds it
        d = self.wait_job(jid, DONE, timeout=75)
        self.assertRegex(d["attempts"][0]["statusReason"], HOST_EC2)
        # The id registered again, as the agent of another machine would.
        status, _, body = self.server.raw(
            "POST", "/barge/v1/agent/register",
            {"computeEnvironment": "lan", "instanceId": iid, "vcpus": 1, "memoryMiB": 1024},
            {"Content-Type": "application/json", "Authorization": "Bearer " + TOKEN})
        self.assertEqual(status, 200, body)
        host.plug()
        self.wait_for(lambda: "during" in self.logs_of(d), 60, "the lines held while cut off")
        self.assertEqual(self.logs_of(d), ["before", "during"])
        # The other registration goes; the host's agent registers its id again.
        p = subprocess.run([BARGE, "revoke-instance", "--endpoint", self.server.url, iid],
                           capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY,
                                    AWS_SECRET_ACCESS_KEY=SECRET_KEY, AWS_REGION=REGION))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.wait_for(lambda: host.address in self.ready(), 30,
                      "the host's agent to register again")


    def test_assignments_sent_through_a_short_drop_start_once(self):
        """A drop shorter than lostAfterSeconds while jobs are placed: the agent's exchanges
        made during it arrive late (TCP sends them again), listing what it held before the
        assignments reached it, and a poll whose answer the drop held past its wait lost them.
        Jobs it had started went FAILED as "never received" (and were stopped); a lost
        assignment ended its job the same way."""
        logs = self.server.client("logs")

        def starts(attempt):
            out = logs.get_log_events(logGroupName="/aws/batch/job", startFromHead=True,
                                      logStreamName=attempt["container"]["logStreamName"])
            return sum(e["message"].startswith("start ") for e in out["events"])
        for seconds in (12, 20):
            # One vCPU a host and two jobs of one: one of them is placed on the host cut off.
            host = self.hosts[0]
            host.cut()
            self.addCleanup(host.plug)
            ids = [self.submit("drop-%d-%d" % (seconds, n), queue="lanq",
                               command="echo start $AWS_BATCH_JOB_ATTEMPT; sleep 3")
                   for n in range(2)]
            time.sleep(seconds)
            host.plug()
            done = self.wait_jobs(ids, timeout=120)
            for jid, d in done.items():
                self.assertEqual(d["status"], "SUCCEEDED", (seconds, d.get("statusReason"),
                                                            d["attempts"]))
                for a in d["attempts"]:
                    self.assertNotIn("never received", a.get("container", {}).get("reason") or "")
                    # Each attempt ran once, its assignment sent again or not.
                    self.assertEqual(starts(a), 1, (seconds, d["attempts"]))
            self.wait_for(lambda: len(self.ready()) == len(self.hosts), 60,
                          "an agent of each host to be registered")


LAUNCH = r"""#!/bin/sh
# Starts an agent on the first free host of the pool; the instance's variables come from barge.
set -e
S=%(state)s
for ns in %(pool)s; do
    if mkdir "$S/$ns.taken" 2>/dev/null; then host=$ns; break; fi
done
[ -n "$host" ] || { echo "no free host in the pool" >&2; exit 4; }
echo "$host" > "$S/$BARGE_INSTANCE_ID.host"
mkdir -m 711 "$S/$BARGE_INSTANCE_ID.work"
env | grep '^BARGE_' | grep -v TOKEN | sort > "$S/$BARGE_INSTANCE_ID.env"
ip netns exec "$host" %(barge)s agent --server "$BARGE_SERVER_URL" \
    --compute-environment "$BARGE_COMPUTE_ENVIRONMENT" --instance-id "$BARGE_INSTANCE_ID" \
    --vcpus "$BARGE_VCPUS" --memory "$BARGE_MEMORY_MIB" --executor process \
    --work-dir "$S/$BARGE_INSTANCE_ID.work" > "$S/$BARGE_INSTANCE_ID.log" 2>&1 &
echo $! > "$S/$BARGE_INSTANCE_ID.pid"
echo "launched $BARGE_INSTANCE_ID on $host"
"""

TERMINATE = r"""#!/bin/sh
S=%(state)s
pid=$(cat "$S/$BARGE_INSTANCE_ID.pid")
kill "$pid" 2>/dev/null
while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
rmdir "$S/$(cat "$S/$BARGE_INSTANCE_ID.host").taken"
echo "$BARGE_INSTANCE_ID" >> "$S/terminated"
"""


class ExecProvider(LanCase):
    host_names = ("pool-1", "pool-2")

    @classmethod
    def before_server(cls):
        cls.state = os.path.join(cls.scratch, "state")
        os.mkdir(cls.state)
        values = {"state": cls.state, "pool": " ".join(h.ns for h in cls.hosts), "barge": BARGE}
        for name, text in (("launch", LAUNCH), ("terminate", TERMINATE)):
            path = os.path.join(cls.scratch, name + ".sh")
            with open(path, "w") as f:
                f.write(text % values)
            os.chmod(path, 0o755)
        cls.commands = os.path.join(cls.scratch, "commands.json")
        cls.write_commands(broken=True)
        # While this file exists, the server's commits fail ($BARGE_FAULT_STORE).
        cls.store_fault = os.path.join(cls.scratch, "store-down")
        os.environ["BARGE_FAULT_STORE"] = cls.store_fault
        cls.addClassCleanup(os.environ.pop, "BARGE_FAULT_STORE", None)
        cls.server_args = ("--idle-seconds", "2", "--kill-grace-seconds", "1",
                           "--provider-commands", cls.commands)
        cls.addClassCleanup(cls.stop_launched)

    @classmethod
    def write_commands(cls, broken):
        good = {"launch": os.path.join(cls.scratch, "launch.sh"),
                "terminate": os.path.join(cls.scratch, "terminate.sh")}
        bad = {"launch": "echo starting; echo the pool is out of machines >&2; exit 3"}
        # Launches "successfully" but starts no agent: a machine that never comes up.
        silent = {"launch": "echo asked for a machine",
                  "terminate": 'echo "$BARGE_INSTANCE_ID" >> %s/silent-terminated' % cls.state}
        # Launches at once but starts its agent seconds later: a machine still booting.
        slow = {"launch": "(sleep 4; exec %s) >/dev/null 2>&1 &" % good["launch"],
                "terminate": good["terminate"]}
        # Notes every launch and starts nothing.
        noted = {"launch": 'echo "$BARGE_INSTANCE_ID" >> %s/noted-launched' % cls.state,
                 "terminate": 'echo "$BARGE_INSTANCE_ID" >> %s/noted-terminated' % cls.state}
        with open(cls.commands, "w") as f:
            json.dump({"*": good, "broken": bad if broken else good, "silent": silent,
                       "booting": slow, "vanished": silent, "noted": noted}, f)

    @classmethod
    def stop_launched(cls):
        """Agents the launch command started that are still running (a failed test)."""
        for name in os.listdir(cls.state):
            if name.endswith(".pid"):
                with open(os.path.join(cls.state, name)) as f:
                    stop_pid(int(f.read().strip() or 0) or -1)

    @classmethod
    def setUpResources(cls):
        # Instances of 2 vCPUs, 2 at most.
        cls.make_ce("pool", 4, instanceTypes=["c5.large"])
        cls.make_queue("poolq", ["pool"])
        cls.make_ce("broken", 2, instanceTypes=["c5.large"])
        cls.make_queue("brokenq", ["broken"])
        cls.make_ce("silent", 2, instanceTypes=["c5.large"])
        cls.make_queue("silentq", ["silent"])
        cls.make_ce("booting", 2, instanceTypes=["c5.large"])
        cls.make_queue("bootingq", ["booting"])
        cls.make_ce("vanished", 2, instanceTypes=["c5.large"])
        cls.make_queue("vanishedq", ["vanished"])
        cls.make_ce("noted", 2, instanceTypes=["c5.large"])
        cls.make_queue("notedq", ["noted"])

    def terminated(self):
        try:
            with open(os.path.join(self.state, "terminated")) as f:
                return f.read().split()
        except FileNotFoundError:
            return []

    def test_instances_are_launched_run_jobs_and_are_terminated_when_idle(self):
        # All four run at once before any ends (the second instance may be slow to come).
        ids = [self.submit("pooled-%d" % n, queue="poolq",
                           command="echo ran on $(hostname -I); " +
                           self.gate("pooled").rstrip("; ")) for n in range(4)]
        self.wait_jobs(ids, "RUNNING", timeout=60)
        self.open_gate("pooled")
        done = self.wait_jobs(ids, timeout=60)
        launched = set()
        for d in done.values():
            self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
            launched.add(instance_of(d["attempts"][0]))
        # Two instances of two vCPUs for four jobs of one vCPU, each on a host of its own.
        self.assertEqual(len(launched), 2)
        hosts = set()
        for iid in launched:
            with open(os.path.join(self.state, iid + ".env")) as f:
                env = dict(line.rstrip("\n").split("=", 1) for line in f)
            self.assertEqual(env["BARGE_INSTANCE_TYPE"], "c5.large")
            self.assertEqual((env["BARGE_VCPUS"], env["BARGE_MEMORY_MIB"]), ("2", "4096"))
            self.assertEqual(env["BARGE_COMPUTE_ENVIRONMENT"], "pool")
            self.assertEqual(env["BARGE_SERVER_URL"], self.server.url)
            with open(os.path.join(self.state, iid + ".host")) as f:
                hosts.add(f.read().strip())
        self.assertEqual(hosts, {h.ns for h in self.hosts})
        for d in done.values():
            self.assertTrue(any(line.startswith("ran on " + self.lan.prefix)
                                for line in self.logs_of(d)), self.logs_of(d))
        # Idle for --idle-seconds: let go, and terminated by the terminate command.
        self.wait_for(lambda: set(self.terminated()) >= launched, 30,
                      "the idle instances to be terminated")
        self.wait_for(lambda: not self.fleet("pool"), 10, "the fleet to let them go")
        self.wait_for(lambda: all("instance %s terminated by its terminate command" % iid
                                  in self.server.read_log() for iid in launched), 10,
                      "the server to see the terminate commands end")
        log = self.server.read_log()
        for iid in launched:
            self.assertNotIn("instance %s of compute environment pool is lost" % iid, log)

    def test_an_instance_outlives_a_server_crash_and_is_still_terminated(self):
        # The server is killed while a job runs on a launched machine: the next server takes
        # the agent back (the job ends once, normally) and, the instance idle, runs the
        # terminate command the first server launched it with.
        jid = self.submit("through-crash", queue="poolq",
                          command='echo "run $AWS_BATCH_JOB_ATTEMPT"; sleep 4; exit 0')
        self.wait_job(jid, "RUNNING", timeout=60)
        self.server.kill9()
        self.server.start()
        d = self.wait_job(jid, timeout=60)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertEqual(len(d["attempts"]), 1)
        self.assertEqual(self.logs_of(d), ["run 1"])
        iid = instance_of(d["attempts"][0])
        self.wait_for(lambda: iid in self.terminated(), 30,
                      "the restarted server to terminate the instance with its command")

    def test_instances_launching_through_a_server_crash_are_taken_back_or_terminated(self):
        # The server is killed after launching two machines whose agents have yet to register.
        # The next server takes the agent that comes up (its launch token is on record: its
        # registration was refused as another server's, and the machine left running unknown)
        # and terminates the machine whose agent never registers, at the registration deadline
        # counted from the restart (slow: FLEET_REGISTER_WITHIN_SECONDS).
        jid = self.submit("through-launch", queue="bootingq", command="echo booted")
        lid = self.submit("never-up", queue="vanishedq", command="true")
        [booting] = self.wait_for(lambda: [i["instanceId"] for i in self.fleet("booting")], 10,
                                  "an instance to be launched for booting")
        [vanished] = self.wait_for(lambda: [i["instanceId"] for i in self.fleet("vanished")],
                                   10, "an instance to be launched for vanished")
        self.server.kill9()
        self.server.start()
        self.batch.terminate_job(jobId=lid, reason="no second launch wanted")
        # The same instance, not a new launch (its agent may be up already on a slow machine).
        self.assertEqual([i["instanceId"] for i in self.fleet("booting")], [booting])
        self.assertIn("instance %s was launching when the last server stopped" % vanished,
                      self.server.read_log())
        d = self.wait_job(jid, DONE, timeout=60)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertEqual(len(d["attempts"]), 1)
        self.assertEqual(instance_of(d["attempts"][0]), booting)
        self.assertEqual(self.logs_of(d), ["booted"])
        path = os.path.join(self.state, "silent-terminated")
        self.wait_for(lambda: os.path.exists(path) and vanished in open(path).read(), 60,
                      "the restarted server to terminate the instance that never came up")
        self.assertIn("instance %s of compute environment vanished is lost: its agent never "
                      "registered" % vanished, self.server.read_log())
        self.wait_for(lambda: booting in self.terminated(), 30,
                      "the instance that came up to be terminated once idle")
        self.wait_for(lambda: not self.fleet("booting") and not self.fleet("vanished"), 10,
                      "the fleet to let both go")

    def noted(self, what):
        try:
            with open(os.path.join(self.state, "noted-" + what)) as f:
                return f.read().split()
        except FileNotFoundError:
            return []

    def test_a_machine_is_launched_only_once_its_instance_is_on_record(self):
        # While every commit fails, a submit is answered 503 and its job is gone; the instance
        # the scheduling pass chose to launch for it stays in the fleet (which outlives a failed
        # commit) but is not on record.  Its launch command must not run yet: a server that
        # stopped then would leave a machine that no server knows of, or ever terminates.
        open(self.store_fault, "w").close()
        try:
            with self.assertRaises(botocore.exceptions.ClientError) as caught:
                self.batch.submit_job(jobName="unrecorded", jobQueue="notedq",
                                      jobDefinition="jd")
            self.assertEqual(caught.exception.response["ResponseMetadata"]["HTTPStatusCode"],
                             503)
            # What a launch command started then would have written by now.
            time.sleep(1)
            self.assertEqual(self.noted("launched"), [])
        finally:
            os.unlink(self.store_fault)
        self.assertIn("an injected fault ($BARGE_FAULT_STORE)", self.server.read_log())
        # Once the commits hold, the instance is written, and launched after that commit.
        [iid] = self.wait_for(lambda: self.noted("launched"), 10, "the launch command")
        self.assertEqual([i["instanceId"] for i in self.fleet("noted")], [iid])
        self.assertIn("launching instance %s" % iid, self.server.read_log())
        # On record: a server killed now still knows it (and would terminate it).
        self.server.kill9()
        self.server.start()
        self.assertEqual([i["instanceId"] for i in self.fleet("noted")], [iid])
        self.assertIn("instance %s was launching when the last server stopped" % iid,
                      self.server.read_log())
        self.assertEqual(self.noted("launched"), [iid])

    def test_a_failing_launch_command_backs_off_and_says_why(self):
        jid = self.submit("waits", queue="brokenq", command="echo fixed")

        def reason():
            r = self.job(jid).get("statusReason") or ""
            return r if "the pool is out of machines" in r else None
        r = self.wait_for(reason, 20, "the job to say why it waits")
        self.assertIn("launch command failed (exit status 3)", r)
        self.assertRegex(r, "next launch in|another is starting")
        self.assertEqual(self.status(jid), "RUNNABLE")
        self.assertIn("the launch command of instance", self.server.read_log())
        # Launches back off: a few in the first seconds, not one a second.
        time.sleep(4)
        failures = self.server.read_log().count("failed (exit status 3)")
        self.assertLessEqual(failures, 6)
        # A file with a mistake leaves the commands as they were.
        with open(self.commands, "w") as f:
            f.write('{"broken": {"launch": "true", "stop": "x"}}')
        self.server.proc.send_signal(signal.SIGHUP)
        self.wait_for(lambda: "the commands read before stay in force" in self.server.read_log(),
                      10, "the server to refuse the file")
        self.assertIn('"broken" may hold only "launch" and "terminate"', self.server.read_log())
        # SIGHUP reads the commands again: the next launch works.
        self.write_commands(broken=False)
        self.addCleanup(self.write_commands, True)
        self.server.proc.send_signal(signal.SIGHUP)
        d = self.wait_job(jid, DONE, timeout=90)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertIn("fixed", self.logs_of(d))
        # Its instance goes once idle, and gives its host back to the pool.
        self.wait_for(lambda: instance_of(d["attempts"][0]) in self.terminated(), 30,
                      "the instance to be terminated")

    def test_an_instance_an_operator_terminates_is_terminated_by_its_command(self):
        jid = self.submit("terminated", queue="poolq", retryStrategy={"attempts": 2},
                          command='[ "$AWS_BATCH_JOB_ATTEMPT" -ge 2 ] || sleep 600')
        self.wait_job(jid, "RUNNING", timeout=30)
        [first] = [i["instanceId"] for i in self.fleet("pool") if i["jobs"] == [jid]]
        rc, out, err = self.barge("fleet", "terminate", first)
        self.assertEqual(rc, 0, err)
        # Its attempt ends as a terminated host's, the machine goes by the terminate command,
        # and the job is retried on an instance launched for it.
        self.wait_for(lambda: first in self.terminated(), 20, "the terminate command to run")
        d = self.wait_job(jid, DONE, timeout=60)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertRegex(d["attempts"][0]["statusReason"], HOST_EC2)
        self.assertEqual(instance_of(d["attempts"][0]), first)
        self.assertNotEqual(instance_of(d["attempts"][1]), first)
        self.wait_for(lambda: not self.fleet("pool"), 30, "the idle instance to go")

    def test_an_instance_that_never_registers_is_lost_and_terminated(self):
        # Slow: the registration deadline is FLEET_REGISTER_WITHIN_SECONDS (30 s).
        jid = self.submit("never", queue="silentq", command="true")
        [iid] = self.wait_for(lambda: [i["instanceId"] for i in self.fleet("silent")], 10,
                              "an instance to be launched")
        self.assertEqual(self.fleet("silent")[0]["state"], "STARTING")
        # Only the agent the launch command started (it alone has the launch token) registers
        # the instance: not even the server-wide join token does.
        with open(os.path.join(self.server.data_dir, "agent-token")) as f:
            server_token = f.read().strip()
        status, _, body = self.server.raw(
            "POST", "/barge/v1/agent/register",
            {"computeEnvironment": "silent", "instanceId": iid, "vcpus": 2, "memoryMiB": 4096},
            {"Content-Type": "application/json", "Authorization": "Bearer " + server_token})
        self.assertEqual(status, 403, body)
        self.assertIn("being launched by this server", body["message"])
        # Lost at the deadline: its jobs say why (until the next launch, a back-off later)...
        def reason():
            r = self.job(jid).get("statusReason") or ""
            return r if "did not register in time" in r else None
        r = self.wait_for(reason, 45, "the job to say why it waits")
        self.assertIn(iid, r)
        self.assertRegex(r, "next launch in|another is starting")
        # ...and its terminate command runs, so that a machine that came up half way goes.
        path = os.path.join(self.state, "silent-terminated")
        self.wait_for(lambda: os.path.exists(path) and iid in open(path).read(), 10,
                      "the instance's terminate command to run")
        self.assertIn("instance %s of compute environment silent is lost: its agent never "
                      "registered" % iid, self.server.read_log())
        self.batch.terminate_job(jobId=jid, reason="test over")


class ProviderCommandsFile(unittest.TestCase):
    def test_a_file_with_a_mistake_stops_the_server_at_start(self):
        d = tempfile.mkdtemp(prefix="barge-pcmd-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "commands.json")
        with open(path, "w") as f:
            f.write('{"*": {"terminate": "true"}}')
        p = subprocess.run([BARGE, "server", "--dev", "--listen", "127.0.0.1:0", "--data-dir",
                            os.path.join(d, "data"), "--provider-commands", path],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--provider-commands: %s: \"*\" needs \"launch\"" % path, p.stderr)
        p = subprocess.run([BARGE, "server", "--dev", "--agent-url", "10.0.0.1:8900"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--agent-url must be an http:// or https:// URL", p.stderr)
