#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Run every tests/integration/test_*.sh against $CANARY (default build/canary).
# Each test script exits non-zero on its first failure.
#
# Most tests spend their time waiting for bakes and polls, so they run
# INTEGRATION_JOBS (2) at a time, each with its own temporary directory and
# ports; the ones whose checks depend on the machine's spare capacity (a
# rate held within 2%, 1,000 requests/s under the sanitizers, a browser,
# weight changes timed under load, many whole rollouts) run alone
# afterwards. A test's output is printed when it ends, whole.
set -u
cd "$(dirname "$0")/../.." || exit 1
: "${CANARY:=build/canary}"
: "${INTEGRATION_JOBS:=2}"
export CANARY
SOLO="test_loadgen.sh test_demo.sh test_dashboard.sh test_judge_evidence.sh"
SOLO="$SOLO test_control_swap.sh test_router.sh"
if [ "${1:-}" = --one ]; then
    logs=${LOGS:?}
else
    logs=$(mktemp -d)
    trap 'rm -rf "$logs"' EXIT
fi

# one TEST: run it, then print its verdict, seconds and (on a failure) output
one() {
    t0=$(date +%s)
    if sh "$1" >"$logs/$(basename "$1").log" 2>&1; then
        r=PASS
    else
        r=FAIL
        : >"$logs/$(basename "$1").failed"
    fi
    { cat "$logs/$(basename "$1").log"; echo "$r $1 ($(($(date +%s) - t0)) s)"; }
}

if [ "${1:-}" = --one ]; then
    one "$2"
    exit 0
fi

shared=""
solo=""
for t in tests/integration/test_*.sh; do
    case " $SOLO " in
    *" $(basename "$t") "*) solo="$solo $t" ;;
    *) shared="$shared $t" ;;
    esac
done
if [ -n "$shared" ]; then
    # xargs runs `sh run.sh --one TEST`, INTEGRATION_JOBS at a time
    # shellcheck disable=SC2086
    printf '%s\n' $shared | LOGS="$logs" xargs -P "$INTEGRATION_JOBS" -n 1 sh "$0" --one
fi
for t in $solo; do
    LOGS="$logs" sh "$0" --one "$t"
done
[ -z "$(ls "$logs"/*.failed 2>/dev/null)" ]
