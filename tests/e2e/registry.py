"""A local OCI registry and a busybox image built without the internet, for tests and benchmarks.

LocalRegistry runs Debian's distribution registry server (package docker-registry) on a free
loopback port with its storage in a fresh temporary directory.  build_busybox_layout() writes an
OCI image layout whose only layer is Debian's static busybox (package busybox-static) and a few
applet links; push_layout() copies such a layout into a registry with skopeo.  Python standard
library only, so that bench/ can import it too.
"""
import gzip
import hashlib
import io
import json
import os
import platform
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.request

REGISTRY_BINARY = "/usr/bin/docker-registry"
BUSYBOX = "/bin/busybox"

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

APPLETS = ("sh", "echo", "true", "false", "cat", "ls", "sleep", "env", "id", "wc", "awk",
           "printf", "test", "[", "mkdir", "rm", "head", "tail", "seq", "expr", "kill", "pwd",
           "dd", "yes")
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalRegistry:
    """The distribution registry server on 127.0.0.1, plain HTTP, no authentication."""

    def __init__(self, access_log=False, htpasswd=None):
        """htpasswd: (user, password) to require, with basic authentication."""
        self.access_log = access_log
        self.htpasswd = htpasswd
        self.dir = None
        self.port = None
        self.proc = None
        self._log = None

    @property
    def url(self):
        return "127.0.0.1:%d" % self.port

    def start(self, timeout=10):
        self.dir = tempfile.mkdtemp(prefix="barge-registry-")
        try:
            # The port is chosen before the server binds it, so another process can take it in
            # between; a second port is tried when that happens.
            for attempt in range(3):
                self.port = _free_port()
                if self._start_once(timeout):
                    return self
            raise RuntimeError("registry could not bind a port:\n" + self.read_log())
        except BaseException:
            self.stop()
            raise

    def _start_once(self, timeout):
        config = os.path.join(self.dir, "config.yml")
        # JSON is YAML, so the configuration is written with the json module.  Access logs are
        # off unless asked for (tests that count requests), because every request would
        # otherwise add a line to the log.
        with open(config, "w") as f:
            json.dump({"version": 0.1,
                       "log": {"level": "warn",
                               "accesslog": {"disabled": not self.access_log}},
                       "storage": {"filesystem": {"rootdirectory": os.path.join(self.dir, "data")},
                                   "delete": {"enabled": True}},
                       # A secret of its own keeps the registry from warning that it made one up.
                       "http": {"addr": self.url, "secret": os.urandom(16).hex()},
                       **({"auth": {"htpasswd": {"realm": "barge-test",
                                                 "path": self._write_htpasswd()}}}
                          if self.htpasswd else {})}, f)
        self._log = open(os.path.join(self.dir, "registry.log"), "ab")
        self.proc = subprocess.Popen([REGISTRY_BINARY, "serve", config],
                                     stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                self._log.close()
                if "address already in use" in self.read_log():
                    return False
                raise RuntimeError("registry exited at start:\n" + self.read_log())
            try:
                with urllib.request.urlopen("http://%s/v2/" % self.url, timeout=1) as r:
                    if r.status == 200:
                        return True
            except urllib.error.HTTPError as e:
                if e.code == 401:  # up, and asking for the password it was given
                    return True
                time.sleep(0.02)
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.02)
        raise RuntimeError("registry did not answer /v2/ in %ss:\n%s" % (timeout, self.read_log()))

    def _write_htpasswd(self):
        # The registry takes bcrypt hashes only; the C library's crypt makes them.
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
        user, password = self.htpasswd
        path = os.path.join(self.dir, "htpasswd")
        with open(path, "w") as f:
            f.write("%s:%s\n" % (user, crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))))
        return path

    def read_log(self):
        try:
            with open(os.path.join(self.dir, "registry.log"), errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def stop(self, grace=5):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def _goarch():
    # Image configs name architectures as Go does.
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
            "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}.get(machine, machine)


def _tar_bytes(entries):
    """An uncompressed tar of entries, each (name, kind, mode, data_or_target): kind is "dir",
    "file" (data is bytes), "link" (a symbolic link to target) or "fifo".  Every entry has a fixed
    owner (root) and time, so the same entries always give the same digests."""
    kinds = {"dir": tarfile.DIRTYPE, "file": tarfile.REGTYPE, "link": tarfile.SYMTYPE,
             "fifo": tarfile.FIFOTYPE}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, mode, arg in entries:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = kinds[kind], mode, 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            data = arg if kind == "file" else b""
            if kind == "link":
                info.linkname = arg
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if kind == "file" else None)
    return buf.getvalue()


def _rootfs_tar():
    """The busybox layer's uncompressed tar."""
    entries = [(d, "dir", mode, None)
               for d, mode in (("bin", 0o755), ("etc", 0o755), ("root", 0o700), ("tmp", 0o1777))]
    with open(BUSYBOX, "rb") as f:
        entries.append(("bin/busybox", "file", 0o755, f.read()))
    entries += [("bin/" + applet, "link", 0o777, "busybox") for applet in APPLETS]
    entries.append(("etc/passwd", "file", 0o644,
                    b"root:x:0:0:root:/root:/bin/sh\n"
                    b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"))
    entries.append(("etc/group", "file", 0o644, b"root:x:0:\nnobody:x:65534:\n"))
    return _tar_bytes(entries)


def _write_blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest


def _json_bytes(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def build_busybox_layout(directory=None, tag="latest", entrypoint=None, cmd=("sh",),
                         workdir=None, user=None, env=(DEFAULT_PATH,), stop_signal=None):
    """Writes an OCI image layout with one image, tagged `tag`, and returns its directory (a new
    temporary one unless `directory` is given; the caller removes it).  entrypoint, cmd, workdir
    user and stop_signal (STOPSIGNAL) go into the image config as given (None leaves them
    out)."""
    layout = directory or tempfile.mkdtemp(prefix="barge-oci-")
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)

    tar = _rootfs_tar()
    # mtime=0 keeps the gzip header, and so the layer's digest, the same from run to run.
    layer = gzip.compress(tar, compresslevel=6, mtime=0)
    layer_digest = _write_blob(layout, layer)

    run_config = {"Env": list(env)}
    if cmd is not None:
        run_config["Cmd"] = list(cmd)
    if entrypoint is not None:
        run_config["Entrypoint"] = list(entrypoint)
    if workdir is not None:
        run_config["WorkingDir"] = workdir
    if user is not None:
        run_config["User"] = user
    if stop_signal is not None:
        run_config["StopSignal"] = stop_signal
    config = _json_bytes({
        "created": "1970-01-01T00:00:00Z",
        "architecture": _goarch(),
        "os": "linux",
        "config": run_config,
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar).hexdigest()]},
        "history": [{"created": "1970-01-01T00:00:00Z",
                     "created_by": "tests/e2e/registry.py: busybox-static and applet links"}],
    })
    config_digest = _write_blob(layout, config)

    manifest = _json_bytes({
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": MEDIA_LAYER_GZIP, "digest": layer_digest, "size": len(layer)}],
    })
    manifest_digest = _write_blob(layout, manifest)

    index_path = os.path.join(layout, "index.json")
    index = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": []}
    if os.path.exists(index_path):
        with open(index_path) as f:
            index = json.load(f)
    # A tag names one manifest: an older entry with the same tag is replaced.
    index["manifests"] = [m for m in index.get("manifests", [])
                          if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != tag]
    index["manifests"].append({
        "mediaType": MEDIA_MANIFEST, "digest": manifest_digest, "size": len(manifest),
        "platform": {"architecture": _goarch(), "os": "linux"},
        "annotations": {"org.opencontainers.image.ref.name": tag}})
    with open(index_path, "w") as f:
        json.dump(index, f)
    return layout


def run_tool(args, timeout=60):
    """Runs a command line tool and returns its standard output; when it fails, the exception
    carries its standard error, which says why."""
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                         stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise RuntimeError("%s exited with %d:\n%s%s" % (" ".join(args), out.returncode,
                                                         out.stdout, out.stderr))
    return out.stdout


def add_index(layout, tag, index_tag, foreign_only=False):
    """Tags as index_tag an image index (a multi-platform image) of the layout's image `tag`:
    this machine's platform and another's, both that manifest (with foreign_only, the other's
    alone: an image this machine cannot pull).  Returns the index's digest."""
    index_path = os.path.join(layout, "index.json")
    with open(index_path) as f:
        index = json.load(f)
    entry = next(m for m in index["manifests"]
                 if m["annotations"]["org.opencontainers.image.ref.name"] == tag)
    blob = _json_bytes({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": [
        {"mediaType": MEDIA_MANIFEST, "digest": entry["digest"], "size": entry["size"],
         "platform": {"architecture": arch, "os": "linux"}}
        for arch in ((() if foreign_only else (_goarch(),)) +
                     ("s390x" if _goarch() != "s390x" else "arm64",))]})
    digest = _write_blob(layout, blob)
    index["manifests"].append({"mediaType": MEDIA_INDEX, "digest": digest, "size": len(blob),
                               "annotations": {"org.opencontainers.image.ref.name": index_tag}})
    with open(index_path, "w") as f:
        json.dump(index, f)
    return digest


def push_layout(layout, registry, name, tag="latest", timeout=60, all_platforms=False,
                compression=None):
    """Copies the layout's image `tag` to registry (a LocalRegistry or its url) as name:tag and
    returns the manifest digest the registry holds, as skopeo reports it (with all_platforms,
    `tag` is an index, copied whole, and its own digest is returned).  compression ("zstd")
    compresses the layers so; skopeo keeps a layer the registry already holds in another
    compression as it is, so push such an image before its layers are there otherwise."""
    url = registry.url if isinstance(registry, LocalRegistry) else registry
    creds = getattr(registry, "htpasswd", None)
    auth = ["--dest-creds", "%s:%s" % creds] if creds else []
    ref = "docker://%s/%s:%s" % (url, name, tag)
    how = ["--dest-compress", "--dest-compress-format", compression] if compression else []
    run_tool(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", *auth, *how,
              *(["--all"] if all_platforms else []), "oci:%s:%s" % (layout, tag), ref], timeout)
    if all_platforms:
        raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", ref],
                             capture_output=True, timeout=timeout, check=True).stdout
        return "sha256:" + hashlib.sha256(raw).hexdigest()
    auth = ["--creds", "%s:%s" % creds] if creds else []
    return run_tool(["skopeo", "inspect", "--tls-verify=false", *auth, ref, "--format",
                     "{{.Digest}}"], timeout).strip()


def _serve_busybox(refs):
    """`registry.py serve-busybox NAME:TAG [NAME:TAG ...]`: starts a registry, pushes one busybox
    image per argument (the n-th, counting from 0, holds an extra file /etc/barge-variant with n
    in it when n > 0, so that each has its own digest), prints one line "URL DIGEST..." and serves
    until its standard input closes; then it stops the registry and removes what it made.  The
    unit tests of the agent's image cache drive a registry this way."""
    import sys
    layouts = []
    with LocalRegistry() as reg:
        try:
            digests = []
            for n, ref in enumerate(refs):
                name, _, tag = ref.rpartition(":")
                if not name:
                    name, tag = ref, "latest"
                layout = build_busybox_layout(tag=tag)
                layouts.append(layout)
                if n > 0:
                    _add_variant_layer(layout, tag, n)
                digests.append(push_layout(layout, reg, name, tag))
            print(reg.url, *digests, flush=True)
            sys.stdin.read()
        finally:
            for layout in layouts:
                shutil.rmtree(layout, ignore_errors=True)


def _add_variant_layer(layout, tag, n):
    """Gives the layout's image `tag` a second layer holding /etc/barge-variant."""
    add_layer(layout, tag, [("etc/barge-variant", "file", 0o644, b"%d\n" % n)],
              "tests/e2e/registry.py: variant %d" % n)


def add_layer(layout, tag, entries, created_by, config=None):
    """Adds a layer to the layout's image `tag`: entries as _tar_bytes takes them (name, kind
    "dir", "file" or "link", mode, data or link target), created_by for the image's history.
    config, when given, is merged into the image's run configuration (for example
    {"Entrypoint": [...], "Cmd": None}; None removes a member).  The tag then names the new
    image; the old one's blobs stay in the layout."""
    tar_bytes = _tar_bytes(entries)
    layer = gzip.compress(tar_bytes, compresslevel=6, mtime=0)
    layer_digest = _write_blob(layout, layer)

    def read_blob(digest):
        with open(os.path.join(layout, "blobs", "sha256", digest.split(":", 1)[1]), "rb") as f:
            return json.load(f)

    index_path = os.path.join(layout, "index.json")
    with open(index_path) as f:
        index = json.load(f)
    entry = next(m for m in index["manifests"]
                 if m["annotations"]["org.opencontainers.image.ref.name"] == tag)
    manifest = read_blob(entry["digest"])
    image = read_blob(manifest["config"]["digest"])
    image["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(tar_bytes).hexdigest())
    image["history"].append({"created": "1970-01-01T00:00:00Z", "created_by": created_by})
    for key, value in (config or {}).items():
        if value is None:
            image["config"].pop(key, None)
        else:
            image["config"][key] = value
    image_bytes = _json_bytes(image)
    manifest["config"] = {"mediaType": MEDIA_CONFIG, "digest": _write_blob(layout, image_bytes),
                          "size": len(image_bytes)}
    manifest["layers"].append({"mediaType": MEDIA_LAYER_GZIP, "digest": layer_digest,
                               "size": len(layer)})
    manifest_bytes = _json_bytes(manifest)
    entry["digest"], entry["size"] = _write_blob(layout, manifest_bytes), len(manifest_bytes)
    with open(index_path, "w") as f:
        json.dump(index, f)


def _serve_token_auth():
    """`registry.py serve-token-auth`: a stand-in for a registry that hands out bearer tokens, as
    Docker Hub and GitHub's do (the distribution registry needs a token issuer of its own for
    that, which Debian does not have).  On 127.0.0.1: /token gives the token "tok" to basic
    authentication as puller:s3cret; a manifest HEAD of team/app:latest with that token is
    answered with the digest below; repository team/basic takes basic authentication instead,
    team/nodigest answers without a digest and team/big with a manifest of 200,000 bytes;
    /tokens-given says how many tokens were handed out.  Prints "HOST:PORT DIGEST" and serves until its
    standard input closes.  The unit test of the agent's image_check drives it."""
    import base64
    import http.server
    import sys
    import threading
    digest = "sha256:" + hashlib.sha256(b"stand-in manifest").hexdigest()
    basic = "Basic " + base64.b64encode(b"puller:s3cret").decode()
    tokens_given = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self, status, headers=(), body=b""):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self):
            if self.path.startswith("/token?"):
                if self.headers.get("Authorization") != basic:
                    return self.answer(401)
                want = "service=stand-in&scope=repository%3Ateam%2Fapp%3Apull"
                if self.path != "/token?" + want:
                    return self.answer(400, body=b"unexpected query " + self.path.encode())
                tokens_given[0] += 1
                return self.answer(200, [("Content-Type", "application/json")],
                                   json.dumps({"token": "tok", "expires_in": 300}).encode())
            if self.path == "/tokens-given":
                return self.answer(200, body=b"%d" % tokens_given[0])
            self.answer(404)

        def do_HEAD(self):
            host = "127.0.0.1:%d" % self.server.server_address[1]
            auth = self.headers.get("Authorization")
            accept = self.headers.get("Accept", "")
            if "application/vnd.oci.image.index.v1+json" not in accept:
                return self.answer(406)
            if self.path == "/v2/team/app/manifests/latest":
                if auth != "Bearer tok":
                    return self.answer(401, [("WWW-Authenticate",
                                              'Bearer realm="http://%s/token",service="stand-in",'
                                              'scope="repository:team/app:pull"' % host)])
                return self.answer(200, [("Docker-Content-Digest", digest)])
            if self.path == "/v2/team/basic/manifests/latest":
                if auth != basic:
                    return self.answer(401, [("WWW-Authenticate", 'Basic realm="stand-in"')])
                return self.answer(200, [("Docker-Content-Digest", digest)])
            if self.path == "/v2/team/nodigest/manifests/latest":
                return self.answer(200)
            if self.path == "/v2/team/big/manifests/latest":  # an index of many platforms
                return self.answer(200, [("Docker-Content-Digest", digest)], b" " * 200000)
            self.answer(404)

        def log_message(self, *args):
            pass
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("127.0.0.1:%d" % srv.server_address[1], digest, flush=True)
    sys.stdin.read()
    srv.shutdown()


if __name__ == "__main__":
    import sys
    if len(sys.argv) >= 3 and sys.argv[1] == "serve-busybox":
        _serve_busybox(sys.argv[2:])
    elif len(sys.argv) == 2 and sys.argv[1] == "serve-token-auth":
        _serve_token_auth()
    else:
        sys.exit("usage: registry.py serve-busybox NAME:TAG [NAME:TAG ...] | serve-token-auth")
