#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# check-build-flags.sh: the user's CFLAGS, CPPFLAGS, LDFLAGS and LDLIBS add
# to the project's flags and never replace them, and only test code is
# compiled with -Itests/unit. Builds a library object, the CLI's main and a
# test object with `CFLAGS=-O0` into a scratch directory (a real compile:
# without -Isrc it fails), then reads the commands make would run for the
# rest. Run from the top of the tree (make check does).
set -eu

make=${MAKE:-make}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
    echo "FAIL $*"
    failures=$((failures + 1))
}

lib=$tmp/obj/src/util/error.o
cli=$tmp/obj/src/cli/main.o
unit=$tmp/obj/tests/unit/golden.o

# A real compile with the user's CFLAGS only.
if "$make" -s BUILD="$tmp" CFLAGS=-O0 "$lib" "$cli" "$unit" >"$tmp/out" 2>&1; then
    echo "ok   make CFLAGS=-O0 compiles a library object, main.c and a test object"
else
    fail "make CFLAGS=-O0 does not compile:"
    sed 's/^/    /' "$tmp/out" | tail -n 20
fi

# The commands, without running them.
cmds=$("$make" -n -B BUILD="$tmp" CFLAGS='-O0 -DUSER_CFLAG' CPPFLAGS=-DUSER_CPPFLAG \
    "$lib" "$unit")
libline=$(printf '%s\n' "$cmds" | grep -e "-o $lib" || true)
unitline=$(printf '%s\n' "$cmds" | grep -e "-o $unit" || true)
[ -n "$libline" ] || fail "no compile command for $lib in: $cmds"
[ -n "$unitline" ] || fail "no compile command for $unit in: $cmds"

pkg=$(pkg-config --cflags gsl jansson libfyaml libuv sqlite3 2>/dev/null || true)
for want in -Isrc -std=c11 -Werror -O0 -DUSER_CFLAG -DUSER_CPPFLAG $pkg; do
    case " $libline " in
    *" $want "*) ;;
    *) fail "library compile with the user's CFLAGS lacks $want: $libline" ;;
    esac
done
case " $libline " in
*" -O2 "*) fail "the user's CFLAGS=-O0 did not replace the default -O2: $libline" ;;
esac
case " $libline " in
*"-Itests/unit"*) fail "a library object is compiled with -Itests/unit: $libline" ;;
*) echo "ok   library objects are compiled without -Itests/unit" ;;
esac
case " $unitline " in
*" -Itests/unit "*) echo "ok   test objects are compiled with -Itests/unit" ;;
*) fail "a test object is compiled without -Itests/unit: $unitline" ;;
esac

# The link keeps the sanitizer and the libraries when the user sets LDFLAGS
# and LDLIBS.
link=$("$make" -n -B SAN=1 BUILD="$tmp" LDFLAGS=-Wl,-O1 LDLIBS=-lz "$tmp/canary" |
    grep -e "-o $tmp/canary" || true)
for want in -fsanitize=address,undefined -Wl,-O1 -lhttp_parser -lz; do
    case " $link " in
    *" $want "*) ;;
    *) fail "the link with the user's LDFLAGS and LDLIBS lacks $want: $link" ;;
    esac
done

if [ "$failures" -ne 0 ]; then
    echo "build flags: $failures failure(s)"
    exit 1
fi
echo "build flags: all passed"
