#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# `make install` and `make uninstall` (docs/INSTALL.md), into a prefix
# under $TMP and with DESTDIR: exactly the binary, canary(1), the example
# config and the systemd unit go in, and exactly these come out again. The
# installed binary runs, the man page renders without a warning and holds
# every command's --help, the example config passes `canary config
# check`, and the unit's own command line starts `canary serve` (paths
# mapped into $TMP; systemd itself is not started), which takes its token
# from the credential file and exits 0 on SIGTERM. With systemd-analyze
# present, the installed unit passes `verify` and its exposure
# (`security --offline`) is at most 2.0 of 10.
#
# `make install` builds nothing when $CANARY is up to date: the test
# insists it is (make test builds it first) and that install leaves it be.
. tests/integration/lib.sh

root=$(pwd)
build=$(dirname "$CANARY")
san=0
[ "$(basename "$build")" = build-asan ] && san=1
# Our make runs with these variables only, not the ones of a calling make.
unset MAKEFLAGS MFLAGS MAKEOVERRIDES
mk() { make -C "$root" --no-print-directory BUILD="$build" SAN="$san" "$@"; }

# files DIR: every non-directory below DIR, relative, sorted
files() { (cd "$1" && find . ! -type d | sort); }

mk -q "$build/canary" ||
    die "$CANARY is not up to date with the sources: run make first"
stamp=$(stat -c %y "$CANARY")

echo "install: 1. make install PREFIX=... puts in the four files and builds nothing"
P=$TMP/prefix
mkdir -p "$P/bin" "$P/share/doc"
echo keep >"$P/bin/other"
run mk install PREFIX="$P"
[ "$RC" -eq 0 ] || die "make install: exit $RC: $(cat "$TMP/err")"
[ "$(stat -c %y "$CANARY")" = "$stamp" ] || die "make install rebuilt $CANARY"
if grep -Eq '(^| )(cc|gcc|clang) ' "$TMP/out"; then
    die "make install compiled: $(grep -E '(^| )(cc|gcc|clang) ' "$TMP/out" | head -3)"
fi
got=$(files "$P" | tr '\n' ' ')
want="./bin/canary ./bin/other ./share/doc/canary/canary.service ./share/doc/canary/canary.yaml ./share/man/man1/canary.1 "
[ "$got" = "$want" ] || die "installed files: expected '$want', got '$got'"
for f in bin/canary:755 share/man/man1/canary.1:644 share/doc/canary/canary.yaml:644 \
    share/doc/canary/canary.service:644; do
    m=$(stat -c %a "$P/${f%:*}")
    [ "$m" = "${f#*:}" ] || die "$P/${f%:*}: mode $m, expected ${f#*:}"
done
cmp -s "$CANARY" "$P/bin/canary" || die "$P/bin/canary differs from $CANARY"
cmp -s contrib/canary.yaml "$P/share/doc/canary/canary.yaml" ||
    die "the installed canary.yaml differs from contrib/canary.yaml"

echo "install: 2. the installed binary runs"
run "$P/bin/canary" --version
expect_ok
grep -Eqx 'canary [0-9]+\.[0-9]+\.[0-9]+.*' "$TMP/out" ||
    die "--version printed '$(cat "$TMP/out")'"
version=$(cat "$TMP/out")
run "$P/bin/canary" --help
expect_ok
grep -q '^usage: canary COMMAND' "$TMP/out" || die "--help: $(head -n 2 "$TMP/out")"

echo "install: 3. canary(1) renders without a warning and says what --help says"
page=$P/share/man/man1/canary.1
run groff -man -Tutf8 -ww -z "$page"
expect_ok
run groff -man -Tascii -P-cbu "$page"
expect_ok
sed -e 's/^ *//' -e 's/  */ /g' "$TMP/out" >"$TMP/page.txt"
grep -qx "CANARY(1) User Commands CANARY(1)" "$TMP/page.txt" || die "no CANARY(1) header"
grep -qF "$version" "$TMP/page.txt" || die "the page does not name $version"
commands=$("$P/bin/canary" --help | sed -n 's/^  \([a-z][a-z0-9-]*\) .*/\1/p')
[ "$(echo "$commands" | wc -w)" -ge 8 ] || die "canary --help lists only: $commands"
for c in $commands; do
    "$P/bin/canary" "$c" --help >"$TMP/help" || die "canary $c --help failed"
    [ "$(cat "$TMP/help")" != "$version" ] || continue
    grep -qx "canary $c" "$TMP/page.txt" || die "the page has no section 'canary $c'"
    # Every line of the command's help, blanks squeezed, is a line of the
    # page: a page older than the binary fails here.
    sed -e 's/^ *//' -e 's/  */ /g' -e '/^$/d' "$TMP/help" | while IFS= read -r line; do
        grep -qxF -e "$line" "$TMP/page.txt" ||
            die "the page lacks this line of 'canary $c --help': $line"
    done
done
if command -v man >/dev/null 2>&1; then
    run env MANPATH="$P/share/man" man -w canary
    expect_ok
    [ "$(cat "$TMP/out")" = "$page" ] || die "man -w canary: $(cat "$TMP/out")"
fi

echo "install: 4. the installed example config passes canary config check"
run "$P/bin/canary" config check "$P/share/doc/canary/canary.yaml"
expect_ok
grep -q '^strategy:' "$TMP/out" || die "config check printed no strategy section"

echo "install: 5. the unit runs the installed binary, hardened"
unit=$P/share/doc/canary/canary.service
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
case "$exec_start" in
"$P/bin/canary serve "*) ;;
*) die "ExecStart= of the installed unit: $exec_start" ;;
esac
for opt in DynamicUser=yes StateDirectory=canary ConfigurationDirectory=canary \
    NoNewPrivileges=yes ProtectSystem=strict 'CapabilityBoundingSet=' \
    'SystemCallFilter=@system-service' Restart=on-failure; do
    grep -qx "$opt" "$unit" || die "the unit lacks $opt"
done
if command -v systemd-analyze >/dev/null 2>&1; then
    # its Documentation= is checked with man(1), which a minimal machine
    # (a fresh Debian 12 with the test packages) does not have
    if command -v man >/dev/null 2>&1; then
        run env MANPATH="$P/share/man" systemd-analyze verify "$unit"
    else
        run systemd-analyze verify --man=no "$unit"
    fi
    expect_ok
    run systemd-analyze security --offline=true --threshold=20 --no-pager "$unit"
    [ "$RC" -eq 0 ] || die "systemd-analyze security: exit $RC: $(tail -n 3 "$TMP/out")"
    echo "  $(grep 'Overall exposure' "$TMP/out")"
else
    echo "  (no systemd-analyze here: verify and security not run)"
fi

echo "install: 6. the unit's command line serves, reads the token credential, stops on SIGTERM"
mkdir -p "$TMP/cred" "$TMP/state"
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/cred/token"
chmod 400 "$TMP/cred/token"
# ExecStart= as systemd runs it: %d is the credentials directory; the
# paths of /etc/canary and /var/lib/canary mapped into $TMP. The data plane
# and admin API on free ports, one worker (later flags win).
argv=$(printf '%s\n' "$exec_start" | sed -e "s|%d|$TMP/cred|g" \
    -e "s|/etc/canary/canary.yaml|$P/share/doc/canary/canary.yaml|" \
    -e "s|/var/lib/canary/|$TMP/state/|")
# shellcheck disable=SC2086
start_bg svc $argv --listen 127.0.0.1:0 --admin 127.0.0.1:0 --workers 1
# shellcheck disable=SC2034 # read by stop_canary
svc_PID=$LAST_PID
svc_ADMIN=$(addr_of svc '^admin on')
run "$P/bin/canary" model list --server "http://$svc_ADMIN" --token-file "$TMP/cred/token" \
    --json
expect_ok
# The first start registered the config's model, its stable set as v1.
json_eq '[.models[] | select(.name == "my-model") | .stable]' '["v1"]'
[ -f "$TMP/state/state.db" ] || die "no state file in the state directory"
echo wrong-token-0123456789abcdef >"$TMP/wrong"
chmod 600 "$TMP/wrong"
run "$P/bin/canary" model list --server "http://$svc_ADMIN" --token-file "$TMP/wrong"
expect_error 77 '401'
stop_canary svc
if grep -q 'warning' "$TMP/svc.err"; then
    die "canary serve warned: $(grep warning "$TMP/svc.err")"
fi

echo "install: 7. make uninstall removes exactly what make install put there"
run mk uninstall PREFIX="$P"
[ "$RC" -eq 0 ] || die "make uninstall: exit $RC: $(cat "$TMP/err")"
got=$(files "$P" | tr '\n' ' ')
[ "$got" = "./bin/other " ] || die "left after make uninstall: '$got'"
[ ! -e "$P/share/doc/canary" ] || die "$P/share/doc/canary is left"
run mk uninstall PREFIX="$P"
[ "$RC" -eq 0 ] || die "a second make uninstall: exit $RC: $(cat "$TMP/err")"

echo "install: 8. DESTDIR stages the same files under PREFIX=/usr, and out again"
D=$TMP/dest
run mk install DESTDIR="$D" PREFIX=/usr
[ "$RC" -eq 0 ] || die "make install DESTDIR: exit $RC: $(cat "$TMP/err")"
got=$(files "$D" | tr '\n' ' ')
want="./usr/bin/canary ./usr/share/doc/canary/canary.service ./usr/share/doc/canary/canary.yaml ./usr/share/man/man1/canary.1 "
[ "$got" = "$want" ] || die "staged files: expected '$want', got '$got'"
grep -qx 'ExecStart=/usr/bin/canary serve .*' "$D/usr/share/doc/canary/canary.service" ||
    die "the staged unit: $(grep ExecStart "$D/usr/share/doc/canary/canary.service")"
run mk uninstall DESTDIR="$D" PREFIX=/usr
[ "$RC" -eq 0 ] || die "make uninstall DESTDIR: exit $RC: $(cat "$TMP/err")"
[ -z "$(files "$D")" ] || die "left after make uninstall DESTDIR: $(files "$D")"
[ "$(stat -c %y "$CANARY")" = "$stamp" ] || die "make install or uninstall rebuilt $CANARY"

echo "install: $NCHECK checks passed"
