"""Servers sharing one PostgreSQL store (tests/e2e/pg.py) under the faults a deployment meets:
the database restarting, a session holding a lock, a connection that breaks while the database
still runs its commit, a leader cut off from the database but not from its clients, a leader
stopping while the database does not answer, and a step of the wall clock.  Each test says what
must hold; those barge does not meet yet are marked as expected failures, with what is missing.

The partitions run the cut-off server on a network namespace of its own (tests/e2e/netns.py)
and drop its traffic to PostgreSQL alone with iptables; a broken connection is made by closing
the client's socket with `ss -K`.  Tests that need what the machine cannot give are skipped."""
import collections
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import boto3
import botocore.config

from harness import BARGE, Server, free_port
from pg import PostgreSQL
from test_failover import healthz

GROUP = "/aws/batch/job"


def call(url, path, body, timeout):
    """(status, body) of a POST; (None, why) when no answer came within timeout."""
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError as e:
        return None, repr(e)


class Session:
    """A psql session kept open, so that what it holds (a lock, a row) lasts until told."""

    def __init__(self, pg, db):
        cmd = [os.path.join(pg.bindir, "psql"), "-h", "127.0.0.1", "-p", str(pg.port), "-U",
               "barge", "-d", db, "-At"]
        if pg.user:
            cmd = ["runuser", "-u", pg.user.pw_name, "--"] + cmd
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, text=True, cwd=pg.dir)

    def send(self, sql):
        self.p.stdin.write(sql + "\n")
        self.p.stdin.flush()

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.p.kill()
            self.p.wait()


def wait_for(fn, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return
        time.sleep(0.05)
    raise AssertionError("waited %ss for %s" % (timeout, what))


def backend_port(pg, db, query_prefix, lock_wait=False):
    """The client port of barge's connection whose statement starts with query_prefix and is
    running (waiting on a lock, with lock_wait), or None."""
    out = pg.psql(db, "SELECT client_port FROM pg_stat_activity WHERE state = 'active' AND "
                      "query LIKE '%s%%'%s" % (query_prefix, " AND wait_event_type = 'Lock'"
                                               if lock_wait else ""))
    return int(out.split()[0]) if out else None


def break_connection(port):
    """Closes the client's end of a TCP connection on this machine (a network that broke): the
    client learns it at once, the database's session only when it next writes to it."""
    subprocess.run(["ss", "-K", "sport", "=", ":%d" % port], capture_output=True, timeout=10)


def can_break_connections():
    """Whether `ss -K` closes sockets here (root, and a kernel with INET_DIAG_DESTROY)."""
    if os.geteuid() != 0 or not shutil.which("ss"):
        return False
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    c = socket.create_connection(srv.getsockname(), timeout=2)
    a, _ = srv.accept()
    try:
        break_connection(c.getsockname()[1])
        try:
            c.send(b"x")
            c.recv(1)
        except OSError:
            return True
        return False
    finally:
        for s in (c, a, srv):
            s.close()


def setup_parked_queue(batch):
    batch.create_compute_environment(computeEnvironmentName="off", type="UNMANAGED",
                                     state="DISABLED")
    batch.create_job_queue(jobQueueName="q", priority=1, computeEnvironmentOrder=[
        {"order": 1, "computeEnvironment": "off"}])
    batch.register_job_definition(jobDefinitionName="jd", type="container",
                                  containerProperties={"image": "busybox", "command": ["true"],
                                                       "resourceRequirements": [
                                                           {"type": "VCPU", "value": "1"},
                                                           {"type": "MEMORY", "value": "64"}]})


def register_printer(batch, script):
    batch.create_compute_environment(computeEnvironmentName="ha", type="UNMANAGED")
    batch.create_job_queue(jobQueueName="run", priority=1, computeEnvironmentOrder=[
        {"order": 1, "computeEnvironment": "ha"}])
    batch.register_job_definition(jobDefinitionName="printer", type="container",
                                  containerProperties={"image": "busybox",
                                                       "command": ["sh", "-c", script],
                                                       "resourceRequirements": [
                                                           {"type": "VCPU", "value": "1"},
                                                           {"type": "MEMORY", "value": "64"}]})


def start_agent(urls, token, tmp):
    log = open(os.path.join(tmp, "agent.log"), "wb")
    return subprocess.Popen([BARGE, "agent", "--server", ",".join(urls), "--compute-environment",
                             "ha", "--executor", "process", "--vcpus", "2", "--memory", "1024",
                             "--work-dir", os.path.join(tmp, "w"), "--token", token],
                            stdout=log, stderr=subprocess.STDOUT)


def stop_agent(agent):
    if agent and agent.poll() is None:
        agent.terminate()
        try:
            agent.wait(30)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()


def wait_job(batch, jid, statuses, timeout):
    deadline = time.time() + timeout
    d = None
    while time.time() < deadline:
        d = batch.describe_jobs(jobs=[jid])["jobs"][0]
        if d["status"] in statuses:
            return d
        time.sleep(0.2)
    raise AssertionError("job %s: waited %ss for %s, last %s" % (jid, timeout, statuses,
                                                                 d and d["status"]))


def stream_lines(logs, stream):
    """Every message of the stream, paged from the head."""
    msgs, token = [], None
    while True:
        kw = dict(logGroupName=GROUP, logStreamName=stream, startFromHead=True)
        if token:
            kw["nextToken"] = token
        out = logs.get_log_events(**kw)
        msgs += [e["message"] for e in out["events"]]
        if not out["events"] or out["nextForwardToken"] == token:
            return msgs
        token = out["nextForwardToken"]


class TwoServers(unittest.TestCase):
    """A cluster of its own with database db, a leader a and a standby b on it, all stopped
    and removed at the end."""
    db = None  # each class's database

    def setUp(self):
        self.pg = PostgreSQL()
        self.addCleanup(self.pg.destroy)
        url = self.store_url()
        self.a = Server(args=("--dev", "--store", url))
        self.b = Server(args=("--dev", "--store", url))
        for s in (self.a, self.b):
            self.addCleanup(s.cleanup)
        self.a.start(timeout=20)
        self.b.start(timeout=20, standby=True)

    def store_url(self):
        return self.pg.createdb(self.db)


class DatabaseRestart(TwoServers):
    # A standby's store connection, idle while it stands by, may die with a restart of
    # PostgreSQL unnoticed: the standby that then takes the lease (fencing the old leader's
    # epoch) must still read the state and lead, not exit and leave no server leading.
    db = "restart"

    def test_a_standby_takes_over_after_the_database_restarted(self):
        a, b, pg = self.a, self.b, self.pg
        setup_parked_queue(a.client())
        pg.stop("fast")
        time.sleep(1)
        pg.start()
        # The leader comes back on its own (one batch answered 503 at most).
        wait_for(lambda: call(a.url, "/v1/describejobqueues", {}, 5)[0] == 200, 20,
                 "the leader to serve again")
        a.kill9()
        wait_for(lambda: b.proc.poll() is not None or healthz(b)[0] == 200, 20,
                 "the standby to lead")
        self.assertIsNone(b.proc.poll(), "the standby exited: " + b.read_log()[-1500:])
        self.assertEqual(healthz(b)[0], 200)
        self.assertEqual([q["jobQueueName"] for q in
                          b.client().describe_job_queues()["jobQueues"]], ["q"])


class TakeoverReadFails(unittest.TestCase):
    # A standby that took the lease and then could not read the state (the database restarting
    # as the old leader died: the moment a takeover is for) exited 1, and no server led until
    # one was started by hand.  It reads again, a second apart, and leads.  The failure is
    # injected with $BARGE_FAULT_PG_READ: while its file exists, reads of the store fail.
    def test_a_takeover_whose_read_fails_reads_again_and_leads(self):
        pg = PostgreSQL()
        a = b = None
        fault = tempfile.mktemp(prefix="barge-pg-read-")
        try:
            url = pg.createdb("takeover")
            a = Server(args=("--dev", "--store", url))
            a.start(timeout=20)
            setup_parked_queue(a.client())
            os.environ["BARGE_FAULT_PG_READ"] = fault
            try:
                b = Server(args=("--dev", "--store", url))
                b.start(timeout=20, standby=True)
            finally:
                del os.environ["BARGE_FAULT_PG_READ"]
            open(fault, "w").close()
            a.kill9()
            wait_for(lambda: "reading it again in a second" in b.read_log() or
                     b.proc.poll() is not None, 20, "the standby's read to fail")
            self.assertIsNone(b.proc.poll(), "the standby exited: " + b.read_log()[-1500:])
            os.remove(fault)
            wait_for(lambda: healthz(b)[0] == 200, 20, "the standby to lead")
            self.assertEqual([q["jobQueueName"] for q in
                              b.client().describe_job_queues()["jobQueues"]], ["q"])
        finally:
            if os.path.exists(fault):
                os.remove(fault)
            for s in (a, b):
                if s:
                    s.cleanup()
            pg.destroy()


class LeaseRowDeleted(TwoServers):
    # The lease's row deleted by hand: the leader is fenced at its next commit, and every
    # server stood by for good with nothing in its log ("standing by" names a leader).  The
    # row is not made again (its epoch must stay past every one used); the log says so.
    db = "norow"

    def test_a_deleted_lease_row_is_said(self):
        a, b, pg = self.a, self.b, self.pg
        pg.psql("norow", "DELETE FROM barge_lease")
        call(a.url, "/v1/createjobqueue", {"jobQueueName": "x", "priority": 1,
                                            "computeEnvironmentOrder": []}, timeout=10)
        wait_for(lambda: "table barge_lease has no row" in b.read_log(), 20,
                 "the standby to say the lease's row is gone")
        self.assertEqual(healthz(b)[0], 503)


class SchemaNewerThanTheStandby(TwoServers):
    # A standby of an older barge, started before a newer one migrated the schema, took over
    # at the next failover and led a store whose rows it may not read (the version was checked
    # at start only).  It checks again as it takes the lease, and lets it go and stops.
    db = "newer"

    def test_a_standby_older_than_the_schema_does_not_lead(self):
        a, b, pg = self.a, self.b, self.pg
        pg.psql("newer", "UPDATE barge_schema SET version = 99")
        a.kill9()
        wait_for(lambda: b.proc.poll() is not None or healthz(b)[0] == 200, 30,
                 "the standby to take the lease")
        self.assertEqual(b.proc.wait(10), 1, b.read_log()[-1500:])
        self.assertIn("the PostgreSQL store's schema is now version 99, newer than this "
                      "barge understands", b.read_log())
        # The lease was let go at once, for a server that can lead.
        self.assertEqual(pg.psql("newer", "SELECT expires < now() FROM barge_lease"), "t")


class LockWaits(unittest.TestCase):
    # A session that holds a row the batch writes (an operator's open transaction, a migration)
    # held the core: every call, reads and /healthz included, waited without an answer; and
    # since barge_fence had already locked the lease's row, the lease's renewal and every
    # standby's takeover waited behind it too, so no server served until the lock went.  A
    # commit's writes now wait a quarter of the lease at most, then fail as a refused commit
    # does; so does a commit behind a table lock that lets reads through (CREATE INDEX's SHARE),
    # taken as its statement is planned.  (One that keeps reads out, ALTER TABLE's, still holds
    # the reading back that follows: docs/operations.md.)
    def commit_behind(self, lock, mode):
        """A leader (and a standby) while a session holds lock, which takes mode on
        barge_records: a commit is answered in bounded time, a read is answered, and once the
        lock goes the leader commits again."""
        pg = PostgreSQL()
        a = b = None
        holder = None
        try:
            url = pg.createdb("locks")
            a = Server(args=("--dev", "--store", url))
            b = Server(args=("--dev", "--store", url))
            a.start(timeout=20)
            b.start(timeout=20, standby=True)
            setup_parked_queue(a.client())
            holder = Session(pg, "locks")
            holder.send("BEGIN; %s;" % lock)
            wait_for(lambda: pg.psql("locks", "SELECT count(*) FROM pg_locks WHERE granted AND "
                                              "relation = 'barge_records'::regclass AND "
                                              "mode = '%s'" % mode) != "0", 20, "the lock")
            status, body = call(a.url, "/v1/updatejobqueue", {"jobQueue": "q", "priority": 5},
                                timeout=20)
            # Answered (within the call's 20 s; the bound is a quarter of the lease): a 503
            # that the SDKs retry, or any server leading meanwhile.
            self.assertIsNotNone(status, "no answer within 20 s: %s" % body)
            status, _ = call(a.url, "/v1/describejobqueues", {}, timeout=20)
            self.assertIsNotNone(status, "a read got no answer within 20 s")
            holder.send("ROLLBACK;")
            holder.close()
            holder = None
            leader = a if healthz(a)[0] == 200 else b
            wait_for(lambda: call(leader.url, "/v1/updatejobqueue",
                                  {"jobQueue": "q", "priority": 6}, timeout=20)[0] == 200, 30,
                     "a commit once the lock went")
        finally:
            if holder:
                holder.send("ROLLBACK;")
                holder.close()
            for s in (a, b):
                if s:
                    s.cleanup()
            pg.destroy()

    def test_a_commit_that_waits_on_a_lock_is_answered_in_bounded_time(self):
        self.commit_behind("SELECT key FROM barge_records WHERE kind = 'jq' FOR UPDATE",
                           "RowShareLock")

    # A table lock (CREATE INDEX's SHARE) is taken as the commit's statement is planned, before
    # anything in it runs: the bound is the session's, so that commit is answered too.
    def test_a_commit_behind_a_table_lock_is_answered_in_bounded_time(self):
        self.commit_behind("LOCK TABLE barge_records IN SHARE MODE", "ShareLock")


class LogCopyLockWaits(unittest.TestCase):
    # The log copy's statement fences too: a session holding a row of barge_logs (or a table
    # lock on it) held the copy's DELETE, and so the lease's row behind it: every commit of the
    # store, every renewal and every takeover waited, for as long as the lock lasted.  The
    # copy's writes now wait a quarter of the lease at most, as the store's commits do.
    def logs_behind(self, lock, mode):
        pg = PostgreSQL()
        a = b = None
        holder = None
        try:
            url = pg.createdb("loglocks")
            a = Server(args=("--dev", "--store", url))
            b = Server(args=("--dev", "--store", url))
            a.start(timeout=20)
            b.start(timeout=20, standby=True)
            setup_parked_queue(a.client())
            logs = a.client("logs")
            logs.create_log_group(logGroupName="/held")
            logs.create_log_stream(logGroupName="/held", logStreamName="s")
            wait_for(lambda: pg.psql("loglocks", "SELECT count(*) FROM barge_logs WHERE "
                                                 "grp = '/held' AND kind = 's'") != "0",
                     20, "the stream in the copy")
            holder = Session(pg, "loglocks")
            holder.send("BEGIN; %s;" % lock)
            wait_for(lambda: pg.psql("loglocks", "SELECT count(*) FROM pg_locks WHERE granted "
                                                 "AND relation = 'barge_logs'::regclass AND "
                                                 "mode = '%s'" % mode) != "0", 20, "the lock")
            # The deletion goes to the copy, which waits on the held row (or table).
            answered = []

            def delete():
                try:
                    logs.delete_log_stream(logGroupName="/held", logStreamName="s")
                    answered.append(200)
                except Exception as e:  # refused while the lock lasts: the SDK's retries end
                    answered.append(repr(e))
            deleting = threading.Thread(target=delete, daemon=True)
            deleting.start()
            time.sleep(2)
            # The store still commits, and the leader still leads.
            status, body = call(a.url, "/v1/updatejobqueue", {"jobQueue": "q", "priority": 5},
                                timeout=10)
            self.assertEqual(status, 200, body)
            self.assertEqual(healthz(a)[0], 200)
            self.assertEqual(healthz(b)[0], 503)
            # The deletion itself is answered while the lock lasts (the writer of the job logs,
            # which job starts wait on too, waited for the lock without a word).
            deleting.join(30)
            self.assertTrue(answered, "DeleteLogStream unanswered while the lock lasts")
            holder.send("ROLLBACK;")
            holder.close()
            holder = None
        finally:
            if holder:
                holder.send("ROLLBACK;")
                holder.close()
            for s in (a, b):
                if s:
                    s.cleanup()
            pg.destroy()

    def test_a_held_row_of_the_log_copy_holds_nothing_else(self):
        self.logs_behind("SELECT * FROM barge_logs WHERE grp = '/held' AND kind = 's' "
                         "FOR UPDATE", "RowShareLock")

    def test_a_table_lock_on_the_log_copy_holds_nothing_else(self):
        self.logs_behind("LOCK TABLE barge_logs IN SHARE MODE", "ShareLock")


class LimitedRole(TwoServers):
    """TwoServers whose role, app, is no superuser: its CONNECTION LIMIT (limit) can make a
    connection impossible to make again."""

    def store_url(self):
        self.pg.psql("postgres", "CREATE ROLE app LOGIN")
        self.pg.psql("postgres", "CREATE DATABASE %s OWNER app" % self.db)
        self.addCleanup(self.limit, -1)
        return self.pg.url(self.db).replace("barge@", "app@")

    def sql(self, query):
        return self.pg.psql(self.db, query)

    def limit(self, n):
        self.pg.psql("postgres", "ALTER ROLE app CONNECTION LIMIT %d" % n)

    def sessions(self):
        return int(self.sql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'app'"))


class LeaderThatCannotServe(LimitedRole):
    # The leader's store connection lost and not made again (the role's connections used up),
    # while its lease's own connection renews: it answered every call 503 and held the lease,
    # so no standby ever took over.  It now lets the lease expire once it has not served for a
    # lease's length.
    db = "unserved"

    def test_a_leader_without_its_store_lets_a_standby_lead(self):
        a, b = self.a, self.b
        setup_parked_queue(a.client())
        status, body = call(a.url, "/v1/updatejobqueue", {"jobQueue": "q", "priority": 3},
                            timeout=10)
        self.assertEqual(status, 200, body)
        # No connection more for the servers' role, then the leader's store session goes.
        self.limit(self.sessions() - 1)
        killed = self.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                          "usename = 'app' AND (query LIKE 'WITH d AS%' OR query LIKE "
                          "'SELECT set_config(''synchronous_commit''%')")
        self.assertEqual(killed, "t")
        deadline = time.time() + 30
        while time.time() < deadline and healthz(b)[0] != 200:
            call(a.url, "/v1/updatejobqueue", {"jobQueue": "q", "priority": 4}, timeout=5)
            time.sleep(0.3)
        self.assertEqual(healthz(b)[0], 200, "the standby never led:\n%s" % a.read_log()[-2000:])
        self.assertIn("letting the lease expire", a.read_log())
        # Every line of the log is a record of the server's (libpq's own notices went to
        # stderr as they were, and its messages' newlines cut records in two).
        strays = [l for l in a.read_log().splitlines() if l and not l.startswith("20")]
        self.assertEqual(strays, [])
        status, body = call(b.url, "/v1/updatejobqueue", {"jobQueue": "q", "priority": 5},
                            timeout=10)
        self.assertEqual(status, 200, body)


class TakeoverWithoutTheLogCopy(LimitedRole):
    # A standby that took the lease but could not read the log copy (its connection lost, and
    # none to be had) exited, and nothing led once connections were to be had again.  It now
    # lets the lease go, stands by, and leads once it can read the copy.
    db = "logless"

    def test_a_takeover_that_cannot_read_the_log_copy_stands_by_again(self):
        a, b = self.a, self.b
        a.client("logs").create_log_group(logGroupName="/copied")
        reading = ("SELECT pid FROM pg_stat_activity WHERE usename = 'app' AND query LIKE "
                   "'SELECT seq, kind, grp, stream, ts, msg FROM barge_logs%'")
        wait_for(lambda: self.sql(reading), 10, "the standby reading the copy")
        a.kill9()
        wait_for(lambda: self.sessions() == 3, 10, "the leader's sessions gone")
        self.limit(2)
        self.sql("SELECT pg_terminate_backend(pid) FROM (%s) AS r" % reading)
        wait_for(lambda: "letting the lease go and standing by" in b.read_log(), 20,
                 "the takeover to stand by again")
        self.assertIsNone(b.proc.poll(), b.read_log()[-2000:])
        self.limit(-1)
        wait_for(lambda: healthz(b)[0] == 200, 20, "the standby to lead")


class LeaderWithAHungCommit(LimitedRole):
    # The leader's store session stopped answering (stuck on its disk, stopped: here SIGSTOP
    # of its backend) while the lease's own session renewed: every call waited on the hung
    # commit, and no standby took over, for as long as it hung.  A commit running for a
    # lease's length now lets the lease expire, as a leader that answers 503s does.
    db = "hung"

    def test_a_leader_whose_commit_hangs_lets_a_standby_lead(self):
        a, b = self.a, self.b
        setup_parked_queue(a.client())
        status, body = call(a.url, "/v1/updatejobqueue", {"jobQueue": "q", "priority": 3},
                            timeout=10)
        self.assertEqual(status, 200, body)
        store_session = ("SELECT pid FROM pg_stat_activity WHERE usename = 'app' AND "
                         "(query LIKE 'WITH d AS%' OR query LIKE "
                         "'SELECT set_config(''synchronous_commit''%')")
        wait_for(lambda: self.sql(store_session), 10, "the store's session")
        pid = int(self.sql(store_session).split()[0])
        os.kill(pid, signal.SIGSTOP)
        try:
            deadline = time.time() + 30
            while time.time() < deadline and healthz(b)[0] != 200:
                call(a.url, "/v1/updatejobqueue", {"jobQueue": "q", "priority": 4}, timeout=2)
                time.sleep(0.3)
            self.assertEqual(healthz(b)[0], 200,
                             "the standby never led:\n%s" % a.read_log()[-2000:])
            self.assertIn("letting the lease expire", a.read_log())
            # And the leader says what its commit waits on as it waits.
            self.assertIn("committing a batch (table barge_records) has waited", a.read_log())
            self.assertIn("has not read the statement", a.read_log())
        finally:
            os.kill(pid, signal.SIGCONT)
        status, body = call(b.url, "/v1/updatejobqueue", {"jobQueue": "q", "priority": 5},
                            timeout=10)
        self.assertEqual(status, 200, body)


class SynchronousStandbyGone(unittest.TestCase):
    # synchronous_standby_names naming a standby that is not there: no commit of the database
    # ends, the leader's batches and lease renewals with them, every call waited, and the
    # leader's log said nothing (the renewal waited without a bound or a word).  The leader
    # now says what its statements wait on as they wait, and that they went on.
    def test_statements_held_by_a_missing_synchronous_standby_are_said(self):
        pg = PostgreSQL()
        a = None
        try:
            url = pg.createdb("syncrep")
            a = Server(args=("--dev", "--store", url))
            a.start(timeout=20)
            setup_parked_queue(a.client())
            pg.psql("postgres", "ALTER SYSTEM SET synchronous_standby_names = 'gone'")
            pg.psql("postgres", "SELECT pg_reload_conf()")
            status, _ = call(a.url, "/v1/updatejobqueue", {"jobQueue": "q", "priority": 3},
                             timeout=1)
            self.assertIsNone(status, "a commit ended with no synchronous standby")
            wait_for(lambda: "committing a batch (table barge_records) has waited" in
                     a.read_log() and "renewing the lease (table barge_lease) has waited" in
                     a.read_log(), 20, "the leader to say what its statements wait on")
            self.assertIn("waits for a synchronous standby to confirm the commit", a.read_log())
            pg.psql("postgres", "ALTER SYSTEM RESET synchronous_standby_names")
            pg.psql("postgres", "SELECT pg_reload_conf()")
            wait_for(lambda: call(a.url, "/v1/updatejobqueue", {"jobQueue": "q", "priority": 4},
                                  5)[0] == 200, 20, "the leader to serve again")
            self.assertIn("committing a batch (table barge_records) goes on", a.read_log())
            self.assertEqual(healthz(a)[0], 200)
        finally:
            if a:
                a.cleanup()
            pg.destroy()


class LeaseConnectionLost(LimitedRole):
    # The lease's own connection lost and not made again (the role's connections used up),
    # while the store's commits went through, each renewing the lease in the database: the
    # leader took itself for one whose lease is in doubt, and /healthz said
    # "lease-unconfirmed" (a load balancer sent nothing to it) though it served and led.
    db = "renewals"

    def test_commits_renew_the_lease_as_the_leader_sees_it(self):
        a, b = self.a, self.b
        setup_parked_queue(a.client())
        self.limit(self.sessions() - 1)
        # The lease's session, once it has renewed (before, its last statement took it).
        renewing = ("SELECT pid FROM pg_stat_activity WHERE usename = 'app' AND query LIKE "
                    "'UPDATE barge_lease%AND epoch = %'")
        wait_for(lambda: self.sql(renewing), 10, "a renewal")
        self.assertEqual(self.sql("SELECT pg_terminate_backend(pid) FROM (%s) AS r" % renewing),
                         "t")
        end = time.time() + 8
        while time.time() < end:
            status, body = call(a.url, "/v1/updatejobqueue", {"jobQueue": "q", "priority": 4},
                                timeout=5)
            self.assertEqual(status, 200, body)
            time.sleep(0.3)
        self.assertIn("cannot renew the leader's lease", a.read_log())
        self.assertEqual(healthz(a)[0], 200, healthz(a))
        self.assertEqual(healthz(b)[0], 503)


class InDoubtCommits(unittest.TestCase):
    """A connection that breaks while the database still runs the commit's statement (it waits
    on a lock here; a slow disk or a synchronous standby that lags do the same)."""

    def setUp(self):
        if not can_break_connections():
            self.skipTest("needs root and `ss -K` to break a connection")

    # After a commit whose outcome is unknown (the connection broke), the old session may still
    # be running the batch's statement, and commit it.  The state the server reads back must be
    # the one the database ends with: a job the database holds is one the leader lists.
    def test_the_state_read_back_after_an_in_doubt_commit_is_the_stored_one(self):
        pg = PostgreSQL()
        a = None
        holder = None
        try:
            url = pg.createdb("indoubt")
            a = Server(args=("--dev", "--store", url))
            a.start(timeout=20)
            batch = a.client()
            setup_parked_queue(batch)
            # The first job's record, taken by an open transaction: the batch that writes it
            # waits for that transaction.
            holder = Session(pg, "indoubt")
            holder.send("BEGIN; INSERT INTO barge_records VALUES ('job', '0000000000000001', "
                        "'{}');")
            time.sleep(0.5)
            answer = {}
            t = threading.Thread(target=lambda: answer.update(r=call(
                a.url, "/v1/submitjob", {"jobName": "in-doubt", "jobQueue": "q",
                                         "jobDefinition": "jd"}, timeout=60)))
            t.start()
            port = None
            deadline = time.time() + 10
            while port is None and time.time() < deadline:
                port = backend_port(pg, "indoubt", "WITH d AS (DELETE FROM barge_records",
                                    lock_wait=True)
                time.sleep(0.05)
            self.assertIsNotNone(port, "the batch's statement never waited on the lock")
            break_connection(port)
            t.join(60)
            self.assertEqual(answer["r"][0], 503, answer)
            time.sleep(2)  # the server reads its state back meanwhile
            holder.send("ROLLBACK;")
            holder.close()
            holder = None
            time.sleep(1)
            stored = pg.psql("indoubt", "SELECT count(*) FROM barge_records WHERE kind = 'job' "
                                        "AND doc::json->'own'->>'jobName' = 'in-doubt'")
            listed = batch.list_jobs(jobQueue="q", filters=[
                {"name": "JOB_NAME", "values": ["in-doubt"]}])["jobSummaryList"]
            self.assertEqual(int(stored), len(listed),
                             "the database holds %s such job, the leader lists %d" %
                             (stored, len(listed)))
        finally:
            if holder:
                holder.send("ROLLBACK;")
                holder.close()
            if a:
                a.cleanup()
            pg.destroy()

    # A log batch whose copy to barge_logs was in doubt (the connection broke while the copy
    # waited on the lease's row; the old session would commit it once the row is let go) was
    # refused, so the agent sent it again and it was copied a second time: standbys read both
    # copies, and after a failover its lines were served twice.  The old session is now ended
    # before the table is asked whether the copy was stored.
    def test_a_log_batch_whose_copy_was_in_doubt_is_served_once_after_a_failover(self):
        pg = PostgreSQL()
        a = b = agent = None
        holder = None
        tmp = tempfile.mkdtemp(prefix="barge-pg-fencing-")
        os.chmod(tmp, 0o777)  # jobs run as other users
        try:
            url = pg.createdb("logcopy")
            a = Server(args=("--dev", "--store", url))
            b = Server(args=("--dev", "--store", url))
            a.start(timeout=20)
            b.start(timeout=20, standby=True)
            batch = a.client()
            register_printer(batch, "i=0; while [ $i -lt 40 ]; do echo line-$i; i=$((i+1)); "
                                    "sleep 0.25; done")
            with open(os.path.join(a.data_dir, "agent-token")) as f:
                agent = start_agent([a.url, b.url], f.read().strip(), tmp)
            jid = batch.submit_job(jobName="printer", jobQueue="run",
                                   jobDefinition="printer")["jobId"]
            stream = wait_job(batch, jid, ("RUNNING",), 30)["container"]["logStreamName"]
            time.sleep(2)
            # The next copy commits only once this session lets the lease's row go.
            holder = Session(pg, "logcopy")
            holder.send("BEGIN; SELECT epoch FROM barge_lease FOR UPDATE;")
            port = None
            deadline = time.time() + 10
            while port is None and time.time() < deadline:
                port = backend_port(pg, "logcopy", "WITH i AS (INSERT INTO barge_logs")
                time.sleep(0.05)
            self.assertIsNotNone(port, "no log copy waited on the lease's row")
            break_connection(port)
            time.sleep(0.5)
            holder.send("ROLLBACK;")
            holder.close()
            holder = None
            wait_job(batch, jid, ("SUCCEEDED", "FAILED"), 60)
            a.kill9()
            wait_for(lambda: healthz(b)[0] == 200, 20, "the standby to lead")
            lines = stream_lines(b.client("logs"), stream)
            twice = sorted(m for m, n in collections.Counter(lines).items() if n > 1)
            self.assertEqual(twice, [])
            self.assertEqual(sorted(set(lines)), sorted("line-%d" % i for i in range(40)))
        finally:
            if holder:
                holder.send("ROLLBACK;")
                holder.close()
            stop_agent(agent)
            for s in (a, b):
                if s:
                    s.cleanup()
            pg.destroy()
            shutil.rmtree(tmp, ignore_errors=True)


    # A log copy in doubt is taken as stored only while this server still holds the lease: a
    # row newer than its own may be the next leader's.  Here the lease moves on while the
    # leader is paused, the new leader copies a row, and the leader's copy session is ended:
    # the leader's next copy fails in doubt, and must not be answered as stored.
    def test_a_log_copy_in_doubt_after_a_takeover_is_not_taken_as_stored(self):
        pg = PostgreSQL()
        a = holder = None
        try:
            url = pg.createdb("doubt")
            a = Server(args=("--dev", "--store", url))
            a.start(timeout=20)
            logs = a.client("logs")
            logs.create_log_group(logGroupName="/g1")
            wait_for(lambda: pg.psql("doubt", "SELECT count(*) FROM barge_logs "
                                              "WHERE grp = '/g1'") == "1", 10, "/g1 copied")
            a.proc.send_signal(signal.SIGSTOP)
            pg.psql("doubt", "UPDATE barge_lease SET epoch = epoch + 1, holder = 'b', "
                             "expires = clock_timestamp() + interval '1 hour'")
            pg.psql("doubt", "INSERT INTO barge_logs(kind, grp) VALUES ('g', '/from-b')")
            pg.psql("doubt", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE query LIKE 'WITH i AS (INSERT INTO barge_logs%'")
            holder = Session(pg, "doubt")
            holder.send("BEGIN; SELECT epoch FROM barge_lease FOR UPDATE;")
            wait_for(lambda: pg.psql("doubt", "SELECT count(*) FROM pg_locks WHERE granted AND "
                                              "relation = 'barge_lease'::regclass AND "
                                              "mode = 'RowShareLock'") != "0", 20, "the lock")
            a.proc.send_signal(signal.SIGCONT)
            try:
                logs.create_log_group(logGroupName="/g2")
                answered = True
            except Exception:  # refused, or the server stopped: it no longer leads
                answered = False
            holder.send("ROLLBACK;")
            holder.close()
            holder = None
            time.sleep(1)
            stored = pg.psql("doubt", "SELECT count(*) FROM barge_logs WHERE grp = '/g2'")
            self.assertFalse(answered and stored == "0",
                             "a log group answered as made that the shared store lacks")
        finally:
            if holder:
                holder.send("ROLLBACK;")
                holder.close()
            if a:
                try:
                    a.proc.send_signal(signal.SIGCONT)
                except Exception:
                    pass
                a.cleanup()
            pg.destroy()


class NsServer:
    """A barge server on a host of a test LAN (netns.py), reaching PostgreSQL on the LAN."""

    def __init__(self, host, store):
        self.host = host
        self.data_dir = tempfile.mkdtemp(prefix="barge-pg-fencing-")
        self.port = free_port()
        self.store = store
        self.proc = None
        self.log_path = os.path.join(self.data_dir, "server.log")

    @property
    def url(self):
        return "http://%s:%d" % (self.host.address, self.port)

    def start(self, status, timeout=20):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.host.cmd(
            [BARGE, "server", "--listen", "%s:%d" % (self.host.address, self.port), "--data-dir",
             self.data_dir, "--executor", "process", "--no-default-queue", "--dev", "--store",
             self.store]), stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: self.proc.poll() is not None or healthz(self)[0] == status, timeout,
                 "healthz %s" % status)
        if self.proc.poll() is not None:
            raise AssertionError("server exited: " + self.read_log()[-2000:])
        return self

    def read_log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def client(self, service="batch"):
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="k", aws_secret_access_key="s",
                            config=botocore.config.Config(retries={"max_attempts": 1},
                                                          read_timeout=30, connect_timeout=3))

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


class Partitions(unittest.TestCase):
    """The leader on a host of its own whose traffic to PostgreSQL alone is dropped: its
    clients and agents still reach it."""

    def setUp(self):
        from netns import Lan
        if not shutil.which("iptables"):
            self.skipTest("needs iptables")
        self.lan = Lan()
        self.addCleanup(self.lan.cleanup)
        self.lan.start()
        self.host = self.lan.add_host("leader")
        self.pg = PostgreSQL()
        self.addCleanup(self.pg.destroy)
        with open(os.path.join(self.pg.data, "postgresql.conf"), "a") as f:
            f.write("listen_addresses = '127.0.0.1,%s'\n" % self.lan.server_address)
        with open(os.path.join(self.pg.data, "pg_hba.conf"), "a") as f:
            f.write("host all all %s.0/24 trust\n" % self.lan.prefix)
        self.pg.stop()
        self.pg.start()
        self.pg.createdb("part")
        self.url = "postgresql://barge@%s:%d/part?connect_timeout=2" % (
            self.lan.server_address, self.pg.port)

    def cut_from_database(self):
        for rule in (["OUTPUT", "-p", "tcp", "-d", self.lan.server_address, "--dport",
                      str(self.pg.port), "-j", "DROP"],
                     ["INPUT", "-p", "tcp", "-s", self.lan.server_address, "--sport",
                      str(self.pg.port), "-j", "DROP"]):
            subprocess.run(self.host.cmd(["iptables", "-A"] + rule), check=True, timeout=30)

    def servers(self):
        a = NsServer(self.host, self.url)
        self.addCleanup(a.cleanup)
        a.start(200)
        b = Server(args=("--dev", "--store", self.url))
        self.addCleanup(b.cleanup)
        b.start(timeout=20, standby=True)
        return a, b

    # CloudWatch Logs reads are answered from the server's own logs.db, not after a fenced
    # commit: a leader cut off from the database, whose lease another server took, must not
    # answer them with a state that is no longer the stored one.
    def test_a_deposed_leader_serves_no_stale_log_reads(self):
        a, b = self.servers()
        a.client("logs").create_log_group(logGroupName="before")
        self.cut_from_database()
        wait_for(lambda: healthz(b)[0] == 200, 20, "the standby to lead")
        logs = b.client("logs")
        logs.delete_log_group(logGroupName="before")
        logs.create_log_group(logGroupName="after")
        req = urllib.request.Request(a.url + "/", data=b"{}", method="POST", headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "Logs_20140328.DescribeLogGroups"})
        try:
            with urllib.request.urlopen(req, timeout=20) as r:
                status, body = r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            status, body = e.code, None
        except OSError:
            status, body = None, None
        if status == 200:
            names = sorted(g["logGroupName"] for g in body["logGroups"])
            self.assertEqual(names, sorted([GROUP, "after"]),
                             "the deposed leader answered with a state no longer stored")
        # The cut-off leader's log says its statements wait on a database it cannot reach,
        # not on a lock (it said nothing: the lease's renewal waited unwatched).
        wait_for(lambda: "a second connection to the database, to ask what it waits on, "
                         "cannot be made either" in a.read_log(), 30,
                 "the leader to say its database does not answer")

    # At a clean stop the leader must stop taking agents' uploads, and store and copy those it
    # took, before it lets go of the log copy: every line it acknowledged reaches the next
    # leader, even while the database is slow to answer the lease's release.
    def test_log_lines_a_stopping_leader_acknowledged_reach_the_next_leader(self):
        a, b = self.servers()
        tmp = tempfile.mkdtemp(prefix="barge-pg-fencing-")
        self.addCleanup(shutil.rmtree, tmp, True)
        os.chmod(tmp, 0o777)  # jobs run as nobody
        batch = a.client()
        n = 6000
        register_printer(batch, "i=0; while [ $i -lt %d ]; do echo line-$i; i=$((i+1)); "
                                "sleep 0.005; done" % n)
        with open(os.path.join(a.data_dir, "agent-token")) as f:
            agent = start_agent([a.url, b.url], f.read().strip(), tmp)
        self.addCleanup(stop_agent, agent)
        jid = batch.submit_job(jobName="printer", jobQueue="run",
                               jobDefinition="printer")["jobId"]
        stream = wait_job(batch, jid, ("RUNNING",), 30)["container"]["logStreamName"]
        time.sleep(2)
        self.cut_from_database()
        a.proc.send_signal(signal.SIGTERM)
        a.proc.wait(120)
        wait_for(lambda: healthz(b)[0] == 200, 30, "the standby to lead")
        wait_job(b.client(), jid, ("SUCCEEDED", "FAILED"), 180)
        got = {int(m.split("-")[1]) for m in stream_lines(b.client("logs"), stream)
               if m.startswith("line-")}
        missing = [i for i in range(n) if i not in got]
        if missing:
            db = sqlite3.connect(os.path.join(a.data_dir, "logs.db"))
            kept = db.execute("SELECT count(*) FROM events WHERE msg IN (%s)" % ",".join(
                "'line-%d'" % i for i in missing[:500])).fetchone()[0]
            db.close()
            self.fail("%d lines missing on the new leader (lines %d to %d); %d of the first "
                      "%d are in the old leader's own logs.db" % (
                          len(missing), missing[0], missing[-1], kept, min(500, len(missing))))


SHIM = r"""
/* A step of the wall clock, for one process: after SHIFT_AFTER_MS of its run, every
 * CLOCK_REALTIME read is SHIFT_BY_S later.  A deadline computed from such a read lies that much
 * beyond the kernel's clock, as one computed before the kernel's clock stepped back would. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>
static int (*real)(clockid_t, struct timespec *);
static long long start_ms = -1, after_ms = -1, by_s;
int clock_gettime(clockid_t c, struct timespec *ts)
{
    if (!real) {
        real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
        const char *a = getenv("SHIFT_AFTER_MS"), *b = getenv("SHIFT_BY_S");
        after_ms = a ? atoll(a) : -1;
        by_s = b ? atoll(b) : 0;
    }
    int rc = real(c, ts);
    if (rc == 0 && c == CLOCK_REALTIME && after_ms >= 0) {
        struct timespec m;
        real(CLOCK_MONOTONIC, &m);
        long long now = m.tv_sec * 1000LL + m.tv_nsec / 1000000;
        if (start_ms < 0) start_ms = now;
        if (now - start_ms >= after_ms) ts->tv_sec += by_s;
    }
    return rc;
}
"""


def asan_runtime():
    """The AddressSanitizer runtime the server is linked with, or None."""
    out = subprocess.run(["ldd", BARGE], capture_output=True, text=True, timeout=60).stdout
    for line in out.splitlines():
        if "libasan" in line and "=>" in line:
            return line.split("=>")[1].split()[0]
    return None


class ClockSteps(unittest.TestCase):
    # The lease's renewal and the core's timers wait on the monotonic clock: after the wall
    # clock steps back (NTP, an operator), an idle leader still renews, and no standby takes
    # over for a clock step (the lease is meant not to depend on the servers' clocks).
    def test_a_step_of_the_wall_clock_costs_the_leader_nothing(self):
        cc = shutil.which("cc") or shutil.which("gcc")
        if not cc:
            self.skipTest("needs a C compiler for the clock shim")
        tmp = tempfile.mkdtemp(prefix="barge-clock-")
        self.addCleanup(shutil.rmtree, tmp, True)
        src, lib = os.path.join(tmp, "shift.c"), os.path.join(tmp, "shift.so")
        with open(src, "w") as f:
            f.write(SHIM)
        subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", lib, src, "-ldl"], check=True,
                       capture_output=True, timeout=60)
        pg = PostgreSQL()
        self.addCleanup(pg.destroy)
        url = pg.createdb("clock")
        a = Server(args=("--dev", "--store", url))
        b = Server(args=("--dev", "--store", url))
        self.addCleanup(b.cleanup)
        self.addCleanup(a.cleanup)
        saved = dict(os.environ)
        # A sanitizer build wants its runtime first of all the libraries.
        preload = [p for p in (asan_runtime(), lib) if p]
        os.environ.update(LD_PRELOAD=":".join(preload), SHIFT_AFTER_MS="4000",
                          SHIFT_BY_S="3600")
        try:
            a.start(timeout=20)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        b.start(timeout=20, standby=True)
        epoch = pg.psql("clock", "SELECT epoch FROM barge_lease")
        time.sleep(12)  # idle, past the step and several leases
        self.assertEqual(pg.psql("clock", "SELECT epoch FROM barge_lease"), epoch,
                         "the lease changed hands")
        self.assertEqual(healthz(b)[1].get("status"), "standby")
        self.assertEqual(call(a.url, "/v1/describejobqueues", {}, timeout=20)[0], 200)


if __name__ == "__main__":
    unittest.main()
