#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Run every tests/integration/test_*.sh against $CANARY (default build/canary).
# Each test script exits non-zero on its first failure.
set -u
cd "$(dirname "$0")/../.."
: "${CANARY:=build/canary}"
export CANARY
fail=0
for t in tests/integration/test_*.sh; do
    t0=$(date +%s)
    if sh "$t"; then
        echo "PASS $t ($(($(date +%s) - t0)) s)"
    else
        echo "FAIL $t ($(($(date +%s) - t0)) s)"
        fail=1
    fi
done
exit $fail
