#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# make bench-router-scaling: the grid and the memory part of
# bench/router.sh (canary serve, HAProxy 2.6 and NGINX side by side at each
# client count of BENCH_CONNECTIONS, alternating) at more worker counts,
# for a machine with many cores: 1, 2, 4, 8 and 16 workers, the counts
# above nproc left out. Writes the same tables to docs/BENCHMARKS-scaling.md
# (created if missing), or to BENCH_DOC, between its own
# bench-router-scaling markers: it never rewrites the "Router" section of
# docs/BENCHMARKS.md. Raw output in BUILD/bench-router/, as there.
#
#   bench/router-scaling.sh BUILD_DIR
#
# CPUs. With N = nproc, the proxies get the first half, CPUs 0 to
# ceil(N/2) - 1 (BENCH_PROXY_CPUS: each proxy, with all its workers, runs
# under taskset, the same CPUs for all three), and wrk and the two model
# servers share the rest (BENCH_WRK_CPUS = BENCH_BACKEND_CPUS; one wrk
# thread per CPU there). Why a split: at 8 or 16 workers a floating wrk and
# floating model servers take CPUs from the proxy under test, as many as
# that proxy's own speed makes them need, which is not the same for the
# three; pinned, every proxy has the same CPUs and nothing else on them. On
# a 2-CPU machine: the proxies on CPU 0, wrk and the model servers on CPU 1.
# Worker counts above the proxies' half share its CPUs (16 workers on a
# 16-CPU machine run on 8): such rows measure oversubscription, for all
# three alike. Set BENCH_PROXY_CPUS / BENCH_WRK_CPUS / BENCH_BACKEND_CPUS
# to split differently; set one empty to let it float.
#
# The model servers are single-threaded (one event loop each) and the
# stable one answers 90% of the requests: when it saturates, all three
# proxies reach the same ceiling, and the table shows that as three equal
# throughputs rather than a proxy's limit.
#
# Defaults that differ from bench/router.sh's: BENCH_PARTS ["grid memory"],
# BENCH_WORKERS ["1 2 4 8 16", at most nproc; a count above nproc is
# refused], BENCH_DOC [docs/BENCHMARKS-scaling.md], and the CPU split
# above. Every other variable is bench/router.sh's (see its header).
set -eu

build=${1:?usage: bench/router-scaling.sh BUILD_DIR}
cd "$(dirname "$0")/.."

ncpu=$(nproc)
if [ -z "${BENCH_WORKERS:-}" ]; then
    BENCH_WORKERS=""
    for w in 1 2 4 8 16; do
        [ "$w" -gt "$ncpu" ] || BENCH_WORKERS="$BENCH_WORKERS${BENCH_WORKERS:+ }$w"
    done
fi
if [ "$ncpu" -ge 2 ]; then
    half=$(((ncpu + 1) / 2))
    if [ "$half" -eq 1 ]; then proxy_cpus=0; else proxy_cpus=0-$((half - 1)); fi
    if [ "$half" -eq $((ncpu - 1)) ]; then
        rest_cpus=$half
    else
        rest_cpus=$half-$((ncpu - 1))
    fi
    # ${VAR-default}: an explicitly empty value stays empty (floats).
    BENCH_PROXY_CPUS=${BENCH_PROXY_CPUS-$proxy_cpus}
    BENCH_BACKEND_CPUS=${BENCH_BACKEND_CPUS-$rest_cpus}
    BENCH_WRK_CPUS=${BENCH_WRK_CPUS:-$rest_cpus}
fi
BENCH_PARTS=${BENCH_PARTS:-"grid memory"}
BENCH_DOC=${BENCH_DOC:-docs/BENCHMARKS-scaling.md}
BENCH_MARKER=bench-router-scaling
BENCH_SCRIPT=bench/router-scaling.sh
export BENCH_WORKERS BENCH_PARTS BENCH_DOC BENCH_MARKER BENCH_SCRIPT
export BENCH_PROXY_CPUS BENCH_BACKEND_CPUS BENCH_WRK_CPUS
exec sh bench/router.sh "$build"
