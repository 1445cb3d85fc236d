#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Self-test of tools/check-includes.sh: a small tree that follows its table
# passes, and each kind of violation (an upward include, a private header,
# an internal.h, an unknown module, a module missing from the table, a table
# whose arrows point up) fails with a line naming the file and the header.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
check=$here/check-includes.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

table() {
    cat >"$tmp/doc.md" <<EOF
# Architecture

## Modules

| module | may use | public headers | owns |
|---|---|---|---|
| \`low\` | — | \`low.h\`, \`pub_*.h\` | bottom |
| \`mid\` | \`low\` | \`mid.h\` | middle |
| \`top\` | \`mid\`, \`low\` | \`top.h\` | top |

## Something else

| module | may use | public headers |
|---|---|---|
| \`ignored\` | \`top\` | \`x.h\` |
EOF
}

# A tree that follows the table.
good_tree() {
    rm -rf "$tmp/src"
    mkdir -p "$tmp/src/low" "$tmp/src/mid" "$tmp/src/top"
    printf '#include "low/low.h"\n#include "low/pub_a.h"\n#include <stdio.h>\n' \
        >"$tmp/src/mid/mid.c"
    printf '#include "internal.h"\n#include "mid/internal.h"\n' >"$tmp/src/mid/x.c"
    printf '#include "mid/mid.h"\n  #  include "low/low.h"\n' >"$tmp/src/top/top.c"
    : >"$tmp/src/low/low.c"
}

# expect_fail NAME LINE FILE TEXT: adding LINE to FILE makes the check exit 1
# and print TEXT.
expect_fail() {
    good_tree
    printf '%s\n' "$2" >>"$tmp/src/$3"
    if out=$("$check" "$tmp/doc.md" "$tmp/src" 2>&1); then
        echo "FAIL $1: accepted"
        failures=$((failures + 1))
        return
    fi
    case $out in
    *"$4"*) echo "ok   $1" ;;
    *)
        echo "FAIL $1: message lacks '$4': $out"
        failures=$((failures + 1))
        ;;
    esac
}

table
good_tree
if out=$("$check" "$tmp/doc.md" "$tmp/src" 2>&1); then
    echo "ok   a tree that follows the table passes"
else
    echo "FAIL a good tree: $out"
    failures=$((failures + 1))
fi

expect_fail "an include that points up" '#include "top/top.h"' low/low.c \
    'src/low/low.c:1: #include "top/top.h": low may not use top (may use: nothing)'
expect_fail "a module not in its row" '#include "top/top.h"' mid/mid.c \
    'mid/mid.c:4: #include "top/top.h": mid may not use top (may use: low)'
expect_fail "a private header" '#include "low/other.h"' top/top.c \
    'top/top.c:3: #include "low/other.h": private to low (public: low.h, pub_*.h)'
expect_fail "internal.h" '#include "low/internal.h"' mid/mid.c \
    '#include "low/internal.h": private to low'
expect_fail "a *_internal.h matching a public glob" '#include "low/pub_internal.h"' \
    mid/mid.c '#include "low/pub_internal.h": private to low'
expect_fail "an unknown module" '#include "nowhere/x.h"' top/top.c \
    '#include "nowhere/x.h": no module nowhere in the Modules table'
good_tree
mkdir -p "$tmp/src/extra"
: >"$tmp/src/extra/e.c"
if out=$("$check" "$tmp/doc.md" "$tmp/src" 2>&1); then
    echo "FAIL a module missing from the table: accepted"
    failures=$((failures + 1))
else
    case $out in
    *"module extra is not in the Modules table"*) echo "ok   a module missing from the table" ;;
    *)
        echo "FAIL a module missing from the table: $out"
        failures=$((failures + 1))
        ;;
    esac
fi

# A table whose arrow points up is refused before any file is read.
good_tree
sed 's/| `low` | — |/| `low` | `top` |/' "$tmp/doc.md" >"$tmp/up.md"
rc=0
out=$("$check" "$tmp/up.md" "$tmp/src" 2>&1) || rc=$?
case "$rc:$out" in
2:*"low may use top, which is not a module in a row above"*) echo "ok   a table with an arrow up" ;;
*)
    echo "FAIL a table with an arrow up: exit $rc: $out"
    failures=$((failures + 1))
    ;;
esac

if [ "$failures" -ne 0 ]; then
    echo "check-includes self-test: $failures failure(s)"
    exit 1
fi
echo "check-includes self-test: all passed"
