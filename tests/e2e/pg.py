"""A real PostgreSQL server for the tests: Debian's binaries (postgresql-15), a cluster made with
initdb in a temporary directory, started with pg_ctl on a free loopback port, its socket in the
same directory, and stopped and removed at the end.

The server never runs as root (PostgreSQL refuses to): when the tests run as root, it runs as
the `postgres` system user the Debian package creates (or `nobody`)."""
import atexit
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time

from harness import free_port


def _bindir():
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    for d in reversed(dirs):
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    raise RuntimeError("PostgreSQL's server binaries are not installed (scripts/deps.sh installs "
                       "the package postgresql)")


_clusters = []


@atexit.register
def _stop_all():
    for c in list(_clusters):
        c.destroy()


class PostgreSQL:
    """One cluster; url() names a database in it as barge's --store takes it."""

    def __init__(self):
        self.bindir = _bindir()
        self.dir = tempfile.mkdtemp(prefix="barge-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    self.user = pwd.getpwnam(name)
                    break
                except KeyError:
                    continue
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        self.log = os.path.join(self.dir, "postgres.log")
        self.run("initdb", "-D", self.data, "-U", "barge", "--auth=trust", "-E", "UTF8",
                 "--no-locale")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("listen_addresses = '127.0.0.1'\nport = %d\n" % self.port)
            f.write("unix_socket_directories = '%s'\n" % self.dir)
            # The durability barge counts on: every commit flushed (the defaults, said aloud).
            f.write("fsync = on\nsynchronous_commit = on\n")
            f.write("max_connections = 100\nshared_buffers = 128MB\n")
        _clusters.append(self)
        self.start()

    def run(self, tool, *args, check=True, timeout=120):
        cmd = [os.path.join(self.bindir, tool)] + list(args)
        if self.user:
            cmd = ["runuser", "-u", self.user.pw_name, "--"] + cmd
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              check=check, timeout=timeout, cwd=self.dir, text=True)

    def start(self):
        self.run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "start")

    def stop(self, mode="fast"):
        self.run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop", check=False)

    def running(self):
        return self.run("pg_ctl", "-D", self.data, "status", check=False).returncode == 0

    def createdb(self, name):
        self.psql("postgres", "CREATE DATABASE %s" % name)
        return self.url(name)

    def url(self, db):
        return "postgresql://barge@127.0.0.1:%d/%s?connect_timeout=2" % (self.port, db)

    def psql(self, db, sql):
        """Runs sql in database db; its rows as lines of |-separated text."""
        out = self.run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "barge", "-d", db,
                       "-v", "ON_ERROR_STOP=1", "-At", "-c", sql)
        return out.stdout.strip()

    def destroy(self):
        if self in _clusters:
            _clusters.remove(self)
            if os.path.exists(os.path.join(self.data, "postmaster.pid")):
                self.stop("immediate")
            shutil.rmtree(self.dir, ignore_errors=True)
