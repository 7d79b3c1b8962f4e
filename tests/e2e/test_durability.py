"""Durability: every write the server acknowledged survives kill -9, a clean stop survives a
restart, and a data directory from a newer barge is refused rather than misread."""
import http.client
import json
import random
import os
import sqlite3
import threading
import time
import unittest

import botocore.exceptions

from harness import Server

THREADS = 8


class Writer(threading.Thread):
    """Creates, updates and deletes compute environments as fast as the server answers, on one
    keep-alive connection, and records which writes were acknowledged with a 200.  It stops at
    the first connection error (the server was killed)."""

    def __init__(self, port, prefix):
        super().__init__(daemon=True)
        self.port, self.prefix = port, prefix
        self.created = set()    # acknowledged creates
        self.vcpus = {}         # name -> highest acknowledged unmanagedvCpus
        self.deleted = set()    # acknowledged deletes
        self.deleting = None    # a delete sent but not answered: it may or may not be durable
        self.stop_flag = False
        self.error = None       # an answer that was neither 200 nor "shutting down"

    def call(self, conn, op, body):
        """True when the write was acknowledged."""
        conn.request("POST", "/v1/" + op, json.dumps(body),
                     {"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        if r.status == 200:
            return True
        if r.status != 503:
            self.error = "%s %s: %d %s" % (op, body, r.status, data)
        return False

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        i = 0
        try:
            while not self.stop_flag:
                name = "%s-%d" % (self.prefix, i)
                if not self.call(conn, "createcomputeenvironment",
                                 {"computeEnvironmentName": name, "type": "UNMANAGED",
                                  "state": "DISABLED", "unmanagedvCpus": 1,
                                  "tags": {"i": str(i)}}):
                    break
                self.created.add(name)
                self.vcpus[name] = 1
                if not self.call(conn, "updatecomputeenvironment",
                                 {"computeEnvironment": name, "unmanagedvCpus": 2}):
                    break
                self.vcpus[name] = 2
                # Every third environment is deleted again.
                if i % 3 == 0:
                    self.deleting = name
                    if not self.call(conn, "deletecomputeenvironment",
                                     {"computeEnvironment": name}):
                        break
                    self.deleted.add(name)
                    self.deleting = None
                i += 1
        except (OSError, http.client.HTTPException):
            pass  # the server went away
        finally:
            conn.close()


class Durability(unittest.TestCase):
    def setUp(self):
        self.server = Server()

    def tearDown(self):
        self.server.cleanup()

    def all_envs(self):
        """Every listed environment, by name."""
        pages = self.server.client().get_paginator("describe_compute_environments").paginate()
        return {e["computeEnvironmentName"]: e for p in pages for e in p["computeEnvironments"]}

    def wait_settled(self, names, timeout=10):
        """Transitions acknowledged before the kill finish after the restart: nothing stays
        CREATING, UPDATING or DELETING."""
        deadline = time.time() + timeout
        while True:
            envs = self.all_envs()
            busy = {n: envs[n]["status"] for n in names if n in envs and
                    envs[n]["status"] != "VALID"}
            if not busy:
                return envs
            if time.time() > deadline:
                self.fail("still in transition %ss after restart: %s" % (timeout,
                                                                         sorted(busy.items())[:10]))
            time.sleep(0.05)

    def burst_then_kill(self, round_no):
        writers = [Writer(self.server.port, "r%d-w%d" % (round_no, t)) for t in range(THREADS)]
        for w in writers:
            w.start()
        # Once the burst has some writes acknowledged (a slow machine or a sanitizer build
        # takes longer to get there), kill at a random moment, so the kill lands in different
        # phases of a group commit.
        deadline = time.time() + 30
        while sum(len(w.created) for w in writers) < 25 and time.time() < deadline:
            time.sleep(0.02)
        time.sleep(random.uniform(0.0, 0.5))
        self.server.kill9()
        for w in writers:
            w.join(timeout=15)
            self.assertFalse(w.is_alive(), "a writer hung after the server was killed")
            self.assertIsNone(w.error)
        return writers

    def test_acknowledged_writes_survive_kill9(self):
        self.server.start()
        expect_live, expect_gone, vcpus = set(), set(), {}
        for round_no in range(4):
            writers = self.burst_then_kill(round_no)
            acked = sum(len(w.created) for w in writers)
            self.assertGreater(acked, 20, "the burst acknowledged almost nothing")
            for w in writers:
                expect_live |= w.created - w.deleted - {w.deleting}
                expect_gone |= w.deleted
                vcpus.update(w.vcpus)
            self.server.start()
            envs = self.wait_settled(expect_live | expect_gone)
            missing = expect_live - set(envs)
            self.assertFalse(missing, "round %d: acknowledged creates lost: %s" %
                             (round_no, sorted(missing)[:10]))
            back = expect_gone & set(envs)
            self.assertFalse(back, "round %d: acknowledged deletes undone: %s" %
                             (round_no, sorted(back)[:10]))
            for name in expect_live:
                e = envs[name]
                # An update may be durable without its answer having arrived; never less.
                self.assertGreaterEqual(e["unmanagedvCpus"], vcpus[name], name)
                self.assertEqual(e["state"], "DISABLED")
                self.assertEqual(e["tags"], {"i": name.rsplit("-", 1)[1]})
            # Whatever was not acknowledged is either fully there or not there at all.
            for name, e in envs.items():
                self.assertEqual(e["type"], "UNMANAGED", name)
                self.assertIn(e["unmanagedvCpus"], (1, 2), name)

    def test_clean_stop_keeps_everything(self):
        self.server.start()
        b = self.server.client()
        for i in range(20):
            b.create_compute_environment(computeEnvironmentName="clean-%d" % i, type="UNMANAGED",
                                         unmanagedvCpus=i)
        before = self.all_envs()
        self.assertEqual(self.server.stop(), 0)
        self.server.start()
        self.assertEqual(self.all_envs(), before)
        # And again, with writes running while SIGTERM arrives: a clean stop answers or refuses
        # what is in flight, and keeps everything it answered.
        writers = [Writer(self.server.port, "term-w%d" % t) for t in range(4)]
        for w in writers:
            w.start()
        # Each writer has had a write answered (however slow the machine), and goes on writing.
        deadline = time.monotonic() + 30
        while (not all(w.created or w.error or not w.is_alive() for w in writers) and
               time.monotonic() < deadline):
            time.sleep(0.02)
        time.sleep(0.1)
        self.assertEqual(self.server.stop(), 0)
        for w in writers:
            w.stop_flag = True
            w.join(timeout=15)
            self.assertFalse(w.is_alive())
            self.assertIsNone(w.error)
        self.server.start()
        envs = self.wait_settled(set().union(*(w.created for w in writers)))
        for w in writers:
            self.assertGreater(len(w.created), 0)
            self.assertFalse((w.created - w.deleted - {w.deleting}) - set(envs))
            self.assertFalse(w.deleted & set(envs))
        for name, e in before.items():
            self.assertEqual(envs[name], e)

    def test_newer_schema_is_refused(self):
        self.server.start()
        self.server.client().create_compute_environment(computeEnvironmentName="kept",
                                                        type="UNMANAGED")
        self.server.stop()
        db = os.path.join(self.server.data_dir, "barge.db")
        with sqlite3.connect(db) as c:
            current = c.execute("PRAGMA user_version").fetchone()[0]
            self.assertGreaterEqual(current, 1)
            c.execute("PRAGMA user_version = 999")
        with self.assertRaises(RuntimeError) as cm:
            self.server.start(timeout=5)
        msg = str(cm.exception)
        self.assertIn("exited with 1", msg)
        self.assertIn("schema version 999", msg)
        self.assertIn("newer", msg)
        self.assertEqual(self.server.stop(), 1)
        # Refusing left the data alone: with the version put back, it all comes back.
        with sqlite3.connect(db) as c:
            c.execute("PRAGMA user_version = %d" % current)
        self.server.start()
        self.assertIn("kept", self.all_envs())

    def test_an_emptied_barge_db_is_refused(self):
        # A barge.db cut to 0 bytes (a failed copy, a disk) was taken for a first start: a new
        # server beside the old one's logs, audit trail and agent token, without a word.
        self.server.start()
        self.server.client().create_compute_environment(computeEnvironmentName="kept",
                                                        type="UNMANAGED")
        self.assertEqual(self.server.stop(), 0)
        d = self.server.data_dir
        db = os.path.join(d, "barge.db")
        os.truncate(db, 0)
        before = snapshot(d)
        with self.assertRaises(RuntimeError) as cm:
            self.server.start(timeout=5)
        self.assertIn("exited with 1", str(cm.exception))
        self.assertIn("barge server: %s is empty (0 bytes), but the data directory was used "
                      "before (it holds logs.db): restore barge.db from a backup, or remove it "
                      "to start anew\n" % db, str(cm.exception))
        self.assertEqual(self.server.stop(), 1)
        self.assertEqual(snapshot(d), before, "the refused start changed the data directory")
        # Removed, it starts anew (how an operator does so on purpose), with a warning.
        os.remove(db)
        self.server.start()
        self.assertNotIn("kept", self.all_envs())
        with open(self.server.log_path) as f:
            self.assertIn("server: %s is missing, but the data directory was used before (it "
                          "holds logs.db): starting with an empty store" % db, f.read())

    def test_a_barge_db_removed_while_the_server_runs(self):
        # Commits went on into the file the server still had open, which no later start sees:
        # every change acknowledged after the removal was lost at the next start.
        self.server.start()
        b = self.server.client()
        b.create_compute_environment(computeEnvironmentName="kept", type="UNMANAGED")
        d = self.server.data_dir
        db = os.path.join(d, "barge.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            b.create_compute_environment(computeEnvironmentName="never", type="UNMANAGED")
        self.assertEqual(cm.exception.response["Error"]["Code"], "ServerException")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 503)
        # The log says what happened and where the copy is.
        saved = [n for n in os.listdir(d) if n.startswith("barge.db.saved-")]
        self.assertEqual(len(saved), 1, os.listdir(d))
        with open(self.server.log_path) as f:
            self.assertIn("%s was removed or replaced while this server ran, so it stores no "
                          "change any more; what it had stored is copied to %s" %
                          (db, os.path.join(d, saved[0])), f.read())
        self.server.stop()
        os.rename(os.path.join(d, saved[0]), db)
        self.server.start()
        envs = self.all_envs()
        self.assertIn("kept", envs)
        self.assertNotIn("never", envs)

    def test_an_empty_barge_db_alone_is_a_first_start(self):
        # What a first start that stopped at once leaves (barge.db and logs.db made empty, the
        # agent token) starts as a new data directory does.
        self.server.start()
        self.assertEqual(self.server.stop(), 0)
        d = self.server.data_dir
        for name in os.listdir(d):
            if name not in ("server.log", "agent-token"):
                os.remove(os.path.join(d, name))
        for name in ("barge.db", "logs.db"):
            open(os.path.join(d, name), "w").close()
        self.server.start()
        self.server.client().create_compute_environment(computeEnvironmentName="new",
                                                        type="UNMANAGED")
        self.assertIn("new", self.all_envs())


def snapshot(d):
    """Every entry of directory d but the harness's server.log: its size, times and content."""
    out = {}
    for name in sorted(os.listdir(d)):
        path = os.path.join(d, name)
        if name == "server.log":
            continue
        st = os.lstat(path)
        body = open(path, "rb").read() if os.path.isfile(path) else None
        out[name] = (st.st_mode, st.st_size, st.st_mtime_ns, body)
    return out


if __name__ == "__main__":
    unittest.main()
