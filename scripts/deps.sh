#!/bin/sh
# Installs what barge needs to build and test on Debian 12, and nothing else.  Idempotent: when
# every package is already present it only checks.  Extra package names given as arguments are
# installed too (bench/deps.sh adds the benchmarks' own).
set -eu

# Build: compiler, make, pkg-config and the libraries barge links (jemalloc is its allocator;
# Makefile says why).
# Fuzzing (make fuzz): clang, and libFuzzer's runtime, which Debian 12 ships apart from clang in
# libclang-rt-14-dev (only recommended by it).
# Memory checking (make valgrind): valgrind's memcheck, which sees what the sanitizers cannot,
# reads and writes inside the uninstrumented libraries (jansson, SQLite, libcurl).
# Tests: Python with boto3 and the AWS CLI (the machine image's own Python has them; Debian's
# python3-boto3 is the fallback), Debian's awscli (the AWS CLI v2, /usr/bin/aws: the signature
# tests drive both CLIs), and npm for the AWS SDK for JavaScript (tests/e2e/js/install.sh).
# Containers: runc runs OCI bundles, skopeo copies images between registries and OCI layouts,
# umoci unpacks a layout into a bundle.  The tests also need a registry and an image without the
# internet: docker-registry is the distribution registry server, and busybox-static's single
# binary becomes the test image's root filesystem (tests/e2e/registry.py).
# HTTPS: Debian's libmicrohttpd is built with GnuTLS, so serving TLS needs nothing more; the
# tests make their own CA and certificates with openssl.
# Metrics: prometheus brings promtool, which checks GET /metrics's text in the tests.
# PostgreSQL: libpq-dev for the shared store (--store postgresql://...); postgresql for its
# server binaries (initdb, pg_ctl), which the tests and benchmarks start in temporary directories.
# Several servers: haproxy is the load balancer the tests put in front of them
# (tests/e2e/haproxy.py, docs/operations.md).
# Console: npm builds it (console/build.sh: esbuild and the AWS signer, pinned by its lock file);
# the tests click through it in Debian's chromium, driven by Playwright (tests/e2e/js).
# Sockets and namespaces: iproute2's ss and ip (the tests count a server's sockets and make
# network namespaces for several hosts).
PACKAGES="gcc make pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev libcurl4-openssl-dev
          libssl-dev libjemalloc-dev clang libclang-rt-14-dev valgrind curl openssl runc skopeo umoci docker-registry
          busybox-static awscli prometheus haproxy chromium libpq-dev postgresql iproute2 $*"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# npm: Debian's package, unless another Node.js installation (such as NodeSource's nodejs, which
# carries its own npm and conflicts with Debian's) already provides the command.
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if ! python3 -c "import boto3" 2>/dev/null; then missing="$missing python3-boto3"; fi

if [ -n "$missing" ]; then
    echo "deps: installing$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -q $missing >/dev/null 2>&1 || {
        $SUDO apt-get update -q >/dev/null
        $SUDO apt-get install -y -q $missing
    }
    # On a host run by systemd the package enables and starts a registry service listening on
    # port 5000 of every interface.  The tests start their own registry on loopback, so the
    # service that this install started is stopped and disabled.
    case " $missing " in *" docker-registry "*)
        if [ -d /run/systemd/system ]; then
            $SUDO systemctl disable --now docker-registry >/dev/null 2>&1 || true
        fi
    esac
    # Likewise the cluster the postgresql package makes and starts (port 5432): the tests start
    # their own.
    case " $missing " in *" postgresql "*)
        if [ -d /run/systemd/system ]; then
            $SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true
        fi
    esac
    # Likewise the Prometheus server (port 9090): the tests need only its promtool; and the
    # packaged HAProxy service: the tests start their own.
    case " $missing " in *" prometheus "*)
        if [ -d /run/systemd/system ]; then
            $SUDO systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true
        fi
    esac
    case " $missing " in *" haproxy "*)
        if [ -d /run/systemd/system ]; then
            $SUDO systemctl disable --now haproxy >/dev/null 2>&1 || true
        fi
    esac
fi

# Containers run in user namespaces whose root is an unprivileged host user: the agent maps
# their ids to user barge's subordinate ids in /etc/subuid and /etc/subgid, recorded here with
# the agent's own default range (docs/decisions.md, "Containers"), so that tools that hand out
# subordinate ids see them as taken and an operator who wants another range edits it in one
# place.  barge is a system user that owns nothing and cannot log in.
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! getent passwd barge >/dev/null; then
    echo "deps: creating the system user barge, whose subordinate ids containers use"
    $SUDO useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin barge
fi
for f in subuid subgid; do
    if ! grep -q '^barge:' "/etc/$f" 2>/dev/null; then
        echo "deps: giving barge the ids 1000000000-1000065535 in /etc/$f"
        if [ "$f" = subuid ]; then opt=--add-subuids; else opt=--add-subgids; fi
        $SUDO usermod "$opt" 1000000000-1000065535 barge
    fi
done
echo "deps: all present"
