#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Install the Debian packages a make target needs, and nothing when all are
# present. Each target installs only what it runs:
#   scripts/deps.sh --build         compiler and libraries (make, make all)
#   scripts/deps.sh --demo          --build + what scripts/demo.sh runs (make demo)
#   scripts/deps.sh --test          --build + what the tests run: Criterion,
#                                   clang-format, curl, jq, wrk, the sqlite3
#                                   shell (test_rollout_repair.sh), python3
#                                   (test_loadgen.sh's listener), tmux
#                                   (test_rollout_watch.sh), prometheus (the
#                                   server and promtool: test_prometheus.sh,
#                                   the prometheus source's unit tests) and
#                                   chromium (test_report.sh, test_dashboard.sh),
#                                   groff-base (test_install.sh renders canary(1)),
#                                   openssl and python3-yaml (the fake Kubernetes
#                                   API server over HTTPS, test_k8s.sh),
#                                   haproxy and socat (test_haproxy*.sh drive a
#                                   real HAProxy through its admin socket)
#                                   (make test; the default)
#   scripts/deps.sh --fuzz          clang and libFuzzer (make fuzz, fuzz-smoke)
#   scripts/deps.sh --bench         scipy, for make bench
#   scripts/deps.sh --bench-router  HAProxy, NGINX, wrk, python3 (make bench-router)
#   scripts/deps.sh --bench-haproxy HAProxy, socat, wrk, curl, jq, python3
#                                   (make bench-haproxy)
#   scripts/deps.sh --golden        scipy, statsmodels and R (tools/golden.py)
# Several options may be given.
#
# promtool (the tests check the metrics format and the shipped recording
# rules with it) and the Prometheus server (the prometheus metrics source is
# tested against a real one, started by the tests on a free port with its
# data in a temporary directory) come from Debian's `prometheus` package.
# On a machine with systemd the package also starts Debian's own service on
# :9090 when installed; the tests never use it. Where promtool is still
# missing afterwards (an older setup), it alone is taken out of the
# downloaded package (dpkg-deb -x) into /usr/local/bin.
set -eu

build="gcc make pkg-config libc6-dev libgsl-dev libjansson-dev libfyaml-dev
libuv1-dev libhttp-parser-dev libsqlite3-dev libcurl4-openssl-dev libssl-dev"
pkgs=""
want_promtool=0
[ $# -eq 0 ] && set -- --test
for opt in "$@"; do
    case "$opt" in
    --build) pkgs="$pkgs $build" ;;
    --demo) pkgs="$pkgs $build curl jq" ;;
    --test)
        pkgs="$pkgs $build libcriterion-dev clang-format curl jq wrk sqlite3 bash coreutils python3 tmux chromium
              openssl python3-yaml
              python3-numpy python3-sklearn groff-base prometheus haproxy socat"
        want_promtool=1
        ;;
    --fuzz) pkgs="$pkgs clang libclang-rt-14-dev" ;;
    --bench) pkgs="$pkgs python3 python3-numpy python3-scipy" ;;
    --bench-router) pkgs="$pkgs haproxy nginx wrk procps python3" ;;
    --bench-haproxy) pkgs="$pkgs haproxy socat wrk curl jq python3" ;;
    --golden) pkgs="$pkgs python3 python3-numpy python3-scipy python3-statsmodels python3-sklearn r-base-core" ;;
    *)
        echo "deps.sh: unknown option '$opt' (expected --build, --demo, --test, --fuzz," \
            "--bench, --bench-router, --bench-haproxy or --golden)" >&2
        exit 2
        ;;
    esac
done

missing=""
for p in $pkgs; do
    case " $missing " in *" $p "*) continue ;; esac
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
    esac
done
need_promtool=0
[ "$want_promtool" -eq 1 ] && ! command -v promtool >/dev/null 2>&1 && need_promtool=1
[ -z "$missing" ] && [ "$need_promtool" -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
updated=0

if [ -n "$missing" ]; then
    echo "deps.sh: installing:$missing" >&2
    # A fresh machine may have no package lists; retry once after an update.
    # shellcheck disable=SC2086
    if ! $SUDO apt-get install -y --no-install-recommends $missing; then
        $SUDO apt-get update
        updated=1
        # shellcheck disable=SC2086
        $SUDO apt-get install -y --no-install-recommends $missing
    fi
fi

if [ "$need_promtool" -eq 1 ]; then
    echo "deps.sh: installing promtool from Debian's prometheus package (the package" \
        "itself, and its server, are not installed)" >&2
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    # As root, apt fetches as the _apt user, which must be able to write here.
    [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1 && chown _apt "$tmp"
    if ! (cd "$tmp" && apt-get download prometheus >/dev/null); then
        [ "$updated" -eq 1 ] || $SUDO apt-get update
        (cd "$tmp" && apt-get download prometheus >/dev/null)
    fi
    dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/root"
    [ -x "$tmp/root/usr/bin/promtool" ] || {
        echo "deps.sh: the prometheus package holds no usr/bin/promtool" >&2
        exit 1
    }
    $SUDO install -m 755 "$tmp/root/usr/bin/promtool" /usr/local/bin/promtool
    promtool --version >/dev/null 2>&1 || {
        echo "deps.sh: /usr/local/bin/promtool does not run" >&2
        exit 1
    }
fi
