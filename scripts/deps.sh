#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Install the Debian packages canary needs, and nothing when all are present.
#   scripts/deps.sh            build + test dependencies
#   scripts/deps.sh --bench    also what `make bench` compares against (scipy)
#   scripts/deps.sh --fuzz     also clang and libFuzzer (make fuzz)
#   scripts/deps.sh --bench-router  also HAProxy and NGINX (make bench-router)
#   scripts/deps.sh --golden   also what tools/golden.py needs (scipy,
#                              statsmodels, R)
set -eu

pkgs="gcc make pkg-config libc6-dev libgsl-dev libjansson-dev libfyaml-dev
libuv1-dev libhttp-parser-dev libsqlite3-dev libcurl4-openssl-dev
libcriterion-dev jq curl wrk prometheus"
case "${1:-}" in
--bench) pkgs="$pkgs python3 python3-numpy python3-scipy" ;;
--fuzz) pkgs="$pkgs clang libclang-rt-14-dev" ;;
--bench-router) pkgs="$pkgs haproxy nginx wrk procps" ;;
--golden) pkgs="$pkgs python3 python3-numpy python3-scipy python3-statsmodels r-base-core" ;;
"") ;;
*) echo "deps.sh: unknown option '$1' (expected --bench, --bench-router, --fuzz or --golden)" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists; retry once after an update.
if ! $SUDO apt-get install -y --no-install-recommends $missing; then
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends $missing
fi
