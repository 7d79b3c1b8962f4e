#!/usr/bin/env python3
"""Builds the fetch & run image without docker and without the internet, and pushes it.

    examples/fetch-and-run/build.py 127.0.0.1:5000/fetch-and-run:latest

The image is what the Dockerfile beside this file describes, built from what Debian installs
instead of Docker Hub's busybox: its first layer is the busybox-static binary with a few applet
links (tests/e2e/registry.py, which the tests use too), its second a link for every other applet
busybox has (wget and unzip among them) and /usr/local/bin/fetch_and_run.sh.  Its entrypoint is
the script, its working directory /tmp and its user nobody, as in the Dockerfile.  The push uses
skopeo over plain HTTP, which suits a registry on this machine.  Needs the packages
busybox-static and skopeo (scripts/deps.sh installs both).
"""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))
import registry  # noqa: E402  (found through the path set just above)

SCRIPT = os.path.join(HERE, "fetch_and_run.sh")
SCRIPT_IN_IMAGE = "/usr/local/bin/fetch_and_run.sh"


def build_layout(tag="latest"):
    """Writes the image into a new OCI layout, tagged `tag`; returns the layout's directory
    (the caller removes it)."""
    layout = registry.build_busybox_layout(tag=tag, cmd=None, workdir="/tmp", user="nobody",
                                           entrypoint=[SCRIPT_IN_IMAGE])
    try:
        applets = subprocess.run([registry.BUSYBOX, "--list"], capture_output=True, text=True,
                                 check=True).stdout.split()
        links = sorted(set(applets) - set(registry.APPLETS) - {"busybox"})
        with open(SCRIPT, "rb") as f:
            script = f.read()
        entries = [("usr", "dir", 0o755, None), ("usr/local", "dir", 0o755, None),
                   ("usr/local/bin", "dir", 0o755, None),
                   (SCRIPT_IN_IMAGE.lstrip("/"), "file", 0o755, script)]
        entries += [("bin/" + a, "link", 0o777, "busybox") for a in links]
        registry.add_layer(layout, tag, entries,
                           "examples/fetch-and-run/build.py: busybox applets, fetch_and_run.sh")
        return layout
    except BaseException:
        shutil.rmtree(layout, ignore_errors=True)
        raise


def split_reference(ref):
    """"HOST[:PORT]/NAME[:TAG]" -> (HOST[:PORT], NAME, TAG)."""
    host, slash, rest = ref.partition("/")
    if not slash or not rest:
        raise ValueError("%r: give the registry and the name, as in "
                         "127.0.0.1:5000/fetch-and-run:latest" % ref)
    name, colon, tag = rest.rpartition(":")
    if not colon or "/" in tag:
        name, tag = rest, "latest"
    return host, name, tag


def build_and_push(ref):
    """Builds the image and pushes it as ref; returns the digest the registry holds."""
    host, name, tag = split_reference(ref)
    layout = build_layout(tag)
    try:
        return registry.push_layout(layout, host, name, tag)
    finally:
        shutil.rmtree(layout, ignore_errors=True)


def main(argv):
    if len(argv) != 2 or argv[1].startswith("-"):
        sys.exit("usage: %s HOST:PORT/NAME[:TAG]   (for example 127.0.0.1:5000/fetch-and-run:latest)"
                 % argv[0])
    try:
        digest = build_and_push(argv[1])
    except (ValueError, RuntimeError, OSError, subprocess.CalledProcessError) as e:
        sys.exit("build.py: %s" % e)
    print("pushed %s (%s)" % (argv[1], digest))


if __name__ == "__main__":
    main(sys.argv)
