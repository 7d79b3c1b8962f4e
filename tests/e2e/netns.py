"""Hosts for end-to-end tests: Linux network namespaces on a private LAN.

A Lan is a bridge in the root network namespace, which is "the server's host" (the bridge holds
its address), and any number of hosts: each a network namespace of its own, joined to the bridge
by a veth pair, with its own address on the LAN.  Programs run "on" a host with
`ip netns exec`.  Names and the subnet are unique per run, so that runs side by side do not
clash, and everything is removed by cleanup(), which a test registers before it adds anything.

Needs root (or CAP_NET_ADMIN) and the `ip` tool; Lan() raises unittest.SkipTest when it cannot
make namespaces.
"""
import os
import random
import shutil
import subprocess
import unittest


def ip(*args, check=True):
    p = subprocess.run(["ip"] + list(args), capture_output=True, text=True, timeout=30)
    if check and p.returncode != 0:
        raise RuntimeError("ip %s failed: %s" % (" ".join(args), p.stderr.strip()))
    return p


class Host:
    def __init__(self, lan, name, index):
        self.lan = lan
        self.name = name
        self.ns = "barge-%s-%s" % (lan.tag, name)
        # Interface names are 15 characters at most.
        self.veth = "bgv%s%d" % (lan.tag, index)
        self.peer = "bgp%s%d" % (lan.tag, index)
        self.address = "%s.%d" % (lan.prefix, 10 + index)

    def cmd(self, argv):
        """argv run on this host."""
        return ["ip", "netns", "exec", self.ns] + list(argv)

    def cut(self):
        """Unplugs the host: its link to the LAN goes down, packets are dropped both ways."""
        ip("link", "set", self.veth, "down")

    def plug(self):
        ip("link", "set", self.veth, "up")


class Lan:
    def __init__(self):
        if os.geteuid() != 0 or not shutil.which("ip"):
            raise unittest.SkipTest("network namespaces need root and the ip tool")
        self.tag = "%05x" % random.randrange(16 ** 5)
        self.bridge = "bgb" + self.tag
        self.hosts = []
        self.prefix = self._free_prefix()
        self.server_address = self.prefix + ".1"
        probe = "barge-%s-probe" % self.tag
        p = ip("netns", "add", probe, check=False)
        if p.returncode != 0:
            raise unittest.SkipTest("cannot create a network namespace (ip netns add: %s)"
                                    % p.stderr.strip())
        ip("netns", "del", probe, check=False)
        self._made_bridge = False

    @staticmethod
    def _free_prefix():
        """A 10.x.y.0/24 that no address or route of this machine uses."""
        used = ip("-4", "addr").stdout + ip("-4", "route").stdout
        for _ in range(100):
            prefix = "10.%d.%d" % (random.randrange(100, 250), random.randrange(1, 250))
            if prefix + "." not in used:
                return prefix
        raise unittest.SkipTest("no free 10.x.y.0/24 for a test network")

    def start(self):
        ip("link", "add", self.bridge, "type", "bridge")
        self._made_bridge = True
        ip("addr", "add", self.server_address + "/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        return self

    def add_host(self, name):
        h = Host(self, name, len(self.hosts))
        self.hosts.append(h)
        ip("netns", "add", h.ns)
        ip("link", "add", h.veth, "type", "veth", "peer", "name", h.peer)
        ip("link", "set", h.peer, "netns", h.ns)
        ip("link", "set", h.veth, "master", self.bridge)
        ip("link", "set", h.veth, "up")
        ip("-n", h.ns, "addr", "add", h.address + "/24", "dev", h.peer)
        ip("-n", h.ns, "link", "set", h.peer, "up")
        ip("-n", h.ns, "link", "set", "lo", "up")
        return h

    def cleanup(self):
        """Removes every host and the bridge; what still runs in a namespace must be stopped
        first (a namespace lives on while a process is in it)."""
        for h in self.hosts:
            ip("netns", "del", h.ns, check=False)
            ip("link", "del", h.veth, check=False)
        if self._made_bridge:
            ip("link", "del", self.bridge, check=False)
