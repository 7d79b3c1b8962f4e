"""The PostgreSQL store (barge server --store postgresql://...), on a real PostgreSQL that
tests/e2e/pg.py starts from Debian's binaries: jobs run and are described through it, a restart
(clean or kill -9) keeps everything, including attempts that run through it; a schema from a
newer barge is refused with a sentence; and PostgreSQL stopped under load answers retriable
503s, loses nothing acknowledged, and the server serves again once it is back."""
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

import test_jobs_durability as durability
from harness import BARGE, free_port
from pg import PostgreSQL
from test_jobs_common import FAST, JobsCase

_cluster = None


def cluster():
    """One PostgreSQL for the module; each class has a database of its own."""
    global _cluster
    if _cluster is None:
        _cluster = PostgreSQL()
    return _cluster


def tearDownModule():
    global _cluster
    if _cluster:
        _cluster.destroy()
        _cluster = None


class PgCase(JobsCase):
    database = None

    @classmethod
    def setUpClass(cls):
        cls.pg = cluster()
        cls.database = "c%d" % free_port()
        cls.store_url = cls.pg.createdb(cls.database)
        cls.server_args = tuple(cls.server_args) + ("--store", cls.store_url)
        super().setUpClass()


class PgCrash(PgCase, durability.Crash):
    """Every crash, stop and upgrade case of test_jobs_durability, on PostgreSQL."""


class Submitter(threading.Thread):
    """Submits to queue "parked" on keep-alive connections for a while; records what was
    acknowledged and every answer that was not a 200."""

    def __init__(self, port, seconds):
        super().__init__(daemon=True)
        self.port, self.seconds = port, seconds
        self.acked, self.refusals, self.errors = [], [], []

    def run(self):
        end = time.time() + self.seconds
        conn = None
        i = 0
        while time.time() < end:
            i += 1
            try:
                conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
                conn.request("POST", "/v1/submitjob", json.dumps(
                    {"jobName": "load-%d" % i, "jobQueue": "parked", "jobDefinition": "jd"}),
                    {"Content-Type": "application/json"})
                r = conn.getresponse()
                body = json.loads(r.read())
                if r.status == 200:
                    self.acked.append(body["jobId"])
                else:
                    self.refusals.append((r.status, body))
                    time.sleep(0.02)
            except (OSError, http.client.HTTPException, ValueError) as e:
                self.errors.append(repr(e))
                if conn:
                    conn.close()
                conn = None
                time.sleep(0.05)


class PgStore(PgCase):
    def test_jobs_run_and_everything_survives_a_restart(self):
        done = self.submit("done", command="echo hello")
        self.assertSucceeded(done)
        waiting = self.submit("waiting", queue="parked", tags={"k": "v"})
        gate = os.path.join(self.out_dir, "gate")
        running = self.submit("running", command='while [ ! -e "%s" ]; do sleep 0.05; done' % gate)
        self.wait_job(running, "RUNNING", timeout=20)
        # The records are PostgreSQL's: barge's table holds the jobs.
        rows = self.pg.psql(self.database,
                            "SELECT doc::json->>'id' FROM barge_records WHERE kind = 'job'")
        for jid in (done, waiting, running):
            self.assertIn(jid, rows.split("\n"))
        before = self.describe(done, waiting, running)
        self.server.kill9()
        self.server.start()
        after = self.describe(done, waiting, running)
        self.assertEqual(after[done]["status"], "SUCCEEDED")
        self.assertEqual(after[done]["attempts"], before[done]["attempts"])
        self.assertEqual(after[waiting]["status"], "RUNNABLE")
        self.assertEqual(after[waiting]["tags"], {"k": "v"})
        self.assertEqual(after[running]["status"], "RUNNING")
        self.assertEqual(after[running]["startedAt"], before[running]["startedAt"])
        # Definitions, queues and environments came back from the database too.
        self.assertEqual([q["jobQueueName"] for q in self.batch.describe_job_queues(
            jobQueues=["q", "parked"])["jobQueues"]], ["q", "parked"])
        self.assertEqual(len(self.batch.describe_job_definitions(
            jobDefinitionName="jd", status="ACTIVE")["jobDefinitions"]), 1)
        self.assertEqual(self.batch.describe_compute_environments(
            computeEnvironments=["ce"])["computeEnvironments"][0]["status"], "VALID")
        # The attempt that ran through the restart ends once.
        open(gate, "w").close()
        d = self.wait_job(running, timeout=30)
        self.assertEqual(d["status"], "SUCCEEDED", d.get("statusReason"))
        self.assertEqual(len(d["attempts"]), 1)

    def test_the_leader_says_so_on_healthz(self):
        status, headers, body = self.server.raw("GET", "/healthz")
        self.assertEqual((status, body), (200, {"status": "ok", "role": "leader"}))
        self.assertEqual(self.pg.psql(self.database, "SELECT holder FROM barge_lease"),
                         self.server.url)

    def test_a_database_outage_answers_503_and_loses_nothing(self):
        w = Submitter(self.server.port, 25)
        w.start()
        self.wait_for(lambda: len(w.acked) >= 50, 20, "50 acknowledged submits")
        self.pg.stop()
        try:
            self.wait_for(lambda: w.refusals, 10, "a refused submit while PostgreSQL is down")
            time.sleep(2)
            # Every refusal is a retriable AWS error: 503 ServerException.
            for status, body in w.refusals:
                self.assertEqual(status, 503, body)
                self.assertEqual(body["__type"], "ServerException", body)
            # Reads too: the server answers nothing from a state it cannot check.
            status, _, body = self.server.raw("POST", "/v1/describejobqueues", {})
            self.assertEqual(status, 503, body)
            acked_during = len(w.acked)
        finally:
            self.pg.start()
        self.wait_for(lambda: len(w.acked) > acked_during + 20, 20,
                      "submits acknowledged again once PostgreSQL is back")
        w.join(30)
        self.assertIn("answering 503 until the store answers again", self.server.read_log())
        # Every acknowledged job is in the database, and described.
        stored = set(self.pg.psql(self.database,
                                  "SELECT doc::json->>'id' FROM barge_records WHERE kind = 'job'").split("\n"))
        missing = [j for j in w.acked if j not in stored]
        self.assertEqual(missing, [], "%d of %d acknowledged jobs lost" % (len(missing),
                                                                            len(w.acked)))
        found = self.describe(*w.acked[-100:])
        self.assertEqual(len(found), len(w.acked[-100:]))


class Schema(unittest.TestCase):
    """A database whose schema a newer barge wrote is refused at start, with a sentence."""

    @classmethod
    def setUpClass(cls):
        cls.pg = cluster()

    def run_server(self, url):
        with tempfile.TemporaryDirectory(prefix="barge-pg-schema-") as d:
            return subprocess.run([BARGE, "server", "--dev", "--listen",
                                   "127.0.0.1:%d" % free_port(), "--data-dir", d, "--store", url],
                                  capture_output=True, text=True, timeout=30)

    def test_a_newer_schema_is_refused(self):
        name = "s%d" % free_port()
        url = self.pg.createdb(name)
        self.pg.psql(name, "CREATE TABLE barge_schema (version INT NOT NULL); "
                           "INSERT INTO barge_schema VALUES (99)")
        p = self.run_server(url)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("the PostgreSQL store holds schema version 99, newer than this barge "
                      "understands (5); run a newer barge", p.stderr)
        # Nothing was changed.
        self.assertEqual(self.pg.psql(name, "SELECT version FROM barge_schema"), "99")
        self.assertEqual(self.pg.psql(name, "SELECT to_regclass('barge_records') IS NULL"), "t")

    def start_server(self, url, d):
        """A server on url, its data in d/data and its output in d/server.log; its port is
        the process's port."""
        port = free_port()
        with open(os.path.join(d, "server.log"), "a") as out:
            p = subprocess.Popen([BARGE, "server", "--dev", "--listen", "127.0.0.1:%d" % port,
                                  "--data-dir", os.path.join(d, "data"), "--store", url],
                                 stdout=out, stderr=subprocess.STDOUT)
        p.port = port
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        return p

    # A store made by its owner, served by a database user with rights on the tables' rows
    # alone (what a careful deployment gives the servers): every start ran CREATE TABLE IF NOT
    # EXISTS barge_schema, which such a user may not, and the server did not start.
    def test_a_user_with_rights_on_rows_alone_serves_a_store_made_by_its_owner(self):
        with tempfile.TemporaryDirectory(prefix="barge-pg-rows-") as d:
            name, url = self.made(d)
            role = "rows%d" % free_port()
            self.pg.psql(name, "CREATE ROLE %s LOGIN; GRANT SELECT, INSERT, UPDATE, DELETE ON "
                               "ALL TABLES IN SCHEMA public TO %s; GRANT USAGE ON ALL SEQUENCES "
                               "IN SCHEMA public TO %s" % (role, role, role))
            p = self.start_server(url.replace("barge@", role + "@"), d)
            self.wait_log(p, d, "listening on")
            conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
            conn.request("POST", "/v1/createcomputeenvironment", json.dumps(
                {"computeEnvironmentName": "rows", "type": "UNMANAGED"}),
                {"Content-Type": "application/json"})
            r = conn.getresponse()
            self.assertEqual(r.status, 200, r.read())
            r.read()
            conn.close()
            self.assertEqual(self.pg.psql(name, "SELECT count(*) FROM barge_records WHERE "
                                                "doc LIKE '%\"rows\"%'"),
                             "1")

    # A database user that may not create tables, on a store not made yet: the database's
    # "permission denied" alone, with nothing said of what to do.
    def test_a_user_that_may_not_create_tables_is_told_what_to_do(self):
        name = "c%d" % free_port()
        url = self.pg.createdb(name)
        role = "nocreate%d" % free_port()
        self.pg.psql(name, "CREATE ROLE %s LOGIN; REVOKE CREATE ON SCHEMA public FROM PUBLIC"
                     % role)
        p = self.run_server(url.replace("barge@", role + "@"))
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("permission denied", p.stderr)
        self.assertIn("this database user may not create or change barge's tables: start "
                      "barge once as their owner", p.stderr)

    def wait_log(self, p, d, text):
        log = os.path.join(d, "server.log")
        for _ in range(600):
            if text in open(log).read():
                return open(log).read()
            self.assertIsNone(p.poll(), open(log).read())
            time.sleep(0.1)
        self.fail("the server never said %r: %s" % (text, open(log).read()))

    def made(self, d):
        """A database whose schema a first server made (it stops cleanly once serving), its log
        emptied after: (its name, its url)."""
        name = "w%d" % free_port()
        url = self.pg.createdb(name)
        first = self.start_server(url, d)
        self.wait_log(first, d, "listening on")
        first.terminate()
        self.assertEqual(first.wait(60), 0)
        open(os.path.join(d, "server.log"), "w").close()
        return name, url

    def psql_cmd(self, name, *args):
        """A psql session's command line on database name, as the cluster's user."""
        cmd = [os.path.join(self.pg.bindir, "psql"), "-h", "127.0.0.1", "-p",
               str(self.pg.port), "-U", "barge", "-d", name] + list(args)
        return ["runuser", "-u", self.pg.user.pw_name, "--"] + cmd if self.pg.user else cmd

    def locked(self, d, table):
        """A database made (made()), and a psql session that holds table locked: (url, the
        psql process, its backend's pid)."""
        name, url = self.made(d)
        cmd = self.psql_cmd(name, "-c", "BEGIN; LOCK TABLE %s IN ACCESS EXCLUSIVE MODE; "
                                        "SELECT pg_sleep(300);" % table)
        holder = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  cwd=self.pg.dir)
        self.addCleanup(holder.wait)
        self.addCleanup(holder.kill)
        for _ in range(300):
            pid = self.pg.psql(name, "SELECT pid FROM pg_locks WHERE mode = "
                                     "'AccessExclusiveLock' AND relation = "
                                     "'%s'::regclass" % table)
            if pid:
                return url, holder, int(pid)
            time.sleep(0.1)
        self.fail("psql never locked %s" % table)

    def test_a_stop_while_start_up_waits_on_the_database(self):
        # Another session holds the records' table locked: the first read waits for it.  The
        # stop signals were blocked and not yet waited for, so SIGTERM did nothing until the
        # lock went (a `systemctl stop` hung until the kill).
        with tempfile.TemporaryDirectory(prefix="barge-pg-wait-") as d:
            url, _, _ = self.locked(d, "barge_records")
            p = self.start_server(url, d)
            self.wait_log(p, d, "leads the store")
            p.terminate()
            # The timeout only catches the hang; the stop is at once.
            self.assertEqual(p.wait(120), 1, open(os.path.join(d, "server.log")).read())
            self.assertIn("received SIGTERM while starting",
                          open(os.path.join(d, "server.log")).read())

    def test_a_start_waiting_on_a_lock_names_who_holds_it(self):
        # The start waited without a word for as long as the lock was held.  Now the log names
        # the table and the session that holds it, and the start goes on once it lets go.
        with tempfile.TemporaryDirectory(prefix="barge-pg-wait-") as d:
            url, holder, pid = self.locked(d, "barge_records")
            p = self.start_server(url, d)
            log = self.wait_log(p, d, "for a lock that another session of the database holds")
            line = [l for l in log.splitlines() if "another session" in l][0]
            self.assertIn("reading the records (table barge_records) has waited", line)
            # The holder here sleeps in its transaction, and says so.
            self.assertIn("session %d (psql from 127.0.0.1, active, waiting on PgSleep, in a "
                          "transaction since " % pid, line)
            self.assertIn("pg_terminate_backend", line)
            self.assertNotIn("listening on", log)
            self.pg.psql("postgres", "SELECT pg_terminate_backend(%d)" % pid)
            holder.wait(30)
            log = self.wait_log(p, d, "listening on")
            self.assertIn("reading the records (table barge_records) goes on", log)
            p.terminate()
            self.assertEqual(p.wait(60), 0, open(os.path.join(d, "server.log")).read())

    def test_a_standby_waiting_on_the_lease_names_who_holds_it_and_stops(self):
        # The lease's row is taken in the loop that stands by, which takes the stop signals
        # itself: a SIGTERM while it waits on the lock gives the wait up and stops cleanly.
        with tempfile.TemporaryDirectory(prefix="barge-pg-wait-") as d:
            url, _, pid = self.locked(d, "barge_lease")
            p = self.start_server(url, d)
            log = self.wait_log(p, d, "for a lock that another session of the database holds")
            self.assertIn("taking the lease (table barge_lease) has waited", log)
            self.assertIn("session %d (psql" % pid, log)
            p.terminate()
            self.assertEqual(p.wait(60), 0, open(os.path.join(d, "server.log")).read())
            log = open(os.path.join(d, "server.log")).read()
            self.assertIn("received SIGTERM while standing by", log)
            self.assertNotIn("unreachable", log)

    def test_a_server_starting_beside_another_takes_its_agent_token(self):
        # Two servers starting on one database at the same moment: the second's insert of the
        # shared agent token waited for the first's, then did nothing, and its read did not see
        # the first's row (the statement's snapshot was older): "cannot read the shared agent
        # token: ... unknown error", and it exited.  Here a psql session is the first server,
        # holding its insert until the second is seen waiting on it.
        with tempfile.TemporaryDirectory(prefix="barge-pg-token-") as d:
            name, url = self.made(d)
            token = self.pg.psql(name, "SELECT value FROM barge_shared WHERE key = 'agent-token'")
            self.assertTrue(token)
            self.pg.psql(name, "DELETE FROM barge_shared")
            shutil.rmtree(os.path.join(d, "data"))  # the second server's own token differs
            holder = subprocess.Popen(self.psql_cmd(name, "-v", "ON_ERROR_STOP=1"), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, cwd=self.pg.dir, text=True)
            self.addCleanup(lambda: holder.poll() is None and (holder.kill(), holder.wait()))
            holder.stdin.write("BEGIN;\nINSERT INTO barge_shared VALUES ('agent-token', '%s');\n"
                               % token)
            holder.stdin.flush()
            for _ in range(300):  # its insert made, its transaction open
                if self.pg.psql(name, "SELECT count(*) FROM pg_stat_activity WHERE state = "
                                      "'idle in transaction' AND datname = '%s'" % name) == "1":
                    break
                self.assertIsNone(holder.poll(), "psql's insert failed")
                time.sleep(0.1)
            else:
                self.fail("psql never held its insert")
            second = self.start_server(url, d)
            for _ in range(600):
                if self.pg.psql(name, "SELECT count(*) FROM pg_locks WHERE NOT granted") != "0":
                    break
                self.assertIsNone(second.poll(), open(os.path.join(d, "server.log")).read())
                time.sleep(0.1)
            else:
                self.fail("the second server never waited on the first's insert: "
                          + open(os.path.join(d, "server.log")).read())
            holder.stdin.write("COMMIT;\n")
            holder.stdin.close()
            self.assertEqual(holder.wait(30), 0)
            log = self.wait_log(second, d, "listening on")
            self.assertNotIn("cannot read the shared agent token", log)
            with open(os.path.join(d, "data", "agent-token")) as f:
                self.assertEqual(f.read().strip(), token)
            second.terminate()
            self.assertEqual(second.wait(60), 0, open(os.path.join(d, "server.log")).read())

    def test_an_unreachable_database_is_named(self):
        url = "postgresql://barge@127.0.0.1:%d/none?connect_timeout=2" % free_port()
        p = self.run_server(url)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("cannot connect to the PostgreSQL store", p.stderr)

    # libpq's message about a URI it cannot parse quotes it, or the part it stumbled on: the
    # password reached the terminal and the service's journal.
    def test_a_malformed_uri_is_refused_without_its_password(self):
        for url in ("postgresql://barge:Hush-pw-1@[::1/barge",
                    "postgresql://barge:Hush%zz-pw-1@127.0.0.1/barge",
                    "postgresql://barge:Hush/pw-1@127.0.0.1/barge",
                    "postgresql://127.0.0.1/barge?user=barge&password=Hush%zz-pw-1"):
            p = self.run_server(url)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("cannot connect to the PostgreSQL store", p.stderr)
            self.assertIn("****", p.stderr)
            self.assertNotIn("Hush", p.stderr)
            self.assertNotIn("pw-1", p.stderr)

    def test_store_takes_only_postgresql_uris(self):
        p = self.run_server("mysql://x")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--store takes a PostgreSQL URI", p.stderr)
        # A mistyped scheme is named; the rest, which may hold a password, is not echoed.
        p = self.run_server("postgresq://barge:s3cret-pw@127.0.0.1/barge")
        self.assertEqual(p.returncode, 2)
        self.assertIn("the scheme 'postgresq'", p.stderr)
        self.assertNotIn("s3cret-pw", p.stderr)
