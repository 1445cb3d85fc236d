#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# check-includes.sh [ARCHITECTURE.md [SRCDIR]]: every `#include "x/..."` in
# SRCDIR (default src) must follow the Modules table of docs/ARCHITECTURE.md,
# which is the one source of truth for the arrows between modules:
#   - the including file's module is in the table;
#   - x is the file's own module, or a module its row lists under "may use";
#   - from another module, the header is one of x's "public headers" (globs
#     relative to src/x/), and never internal.h or *_internal.h.
# The table itself must point down: a module may use only modules in rows
# above its own. Prints one line per violation (file:line: what) and exits 1
# if there is any, 2 if the table cannot be read, 0 otherwise.
set -eu

doc=${1:-docs/ARCHITECTURE.md}
src=${2:-src}

[ -r "$doc" ] || { echo "check-includes: cannot read $doc" >&2; exit 2; }
[ -d "$src" ] || { echo "check-includes: no directory $src" >&2; exit 2; }

# Sorted, so that the output is stable.
files=$(find "$src" -type f \( -name '*.c' -o -name '*.h' \) | LC_ALL=C sort)

# shellcheck disable=SC2086  # file names in src/ have no spaces
awk -v doc="$doc" -v src="$src" '
function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
# The names in backticks in one table cell, in the array out; returns the count.
function ticked(cell, out,    n, s) {
    n = 0
    s = cell
    while (match(s, /`[^`]+`/)) {
        out[++n] = substr(s, RSTART + 1, RLENGTH - 2)
        s = substr(s, RSTART + RLENGTH)
    }
    return n
}
# A header glob (only * is special) as an anchored regular expression.
function glob_re(g,    r) {
    r = g
    gsub(/[.+?()|{}^$\[\]\\]/, "\\\\&", r)
    gsub(/\*/, "[^/]*", r)
    return "^" r "$"
}
function fail(msg) { print msg; bad++ }

FILENAME == doc {
    if ($0 ~ /^## /) { in_modules = ($0 ~ /^## Modules[ \t]*$/); next }
    if (!in_modules || $0 !~ /^\|/) next
    ncol = split($0, col, "|")       # col[1] is the empty text before the first |
    if (trim(col[2]) == "module") {  # the header row names the columns
        for (i = 2; i < ncol; i++) head[trim(col[i])] = i
        if (!("may use" in head) || !("public headers" in head)) {
            print doc ": the Modules table needs columns \"module\", \"may use\" and \"public headers\""
            fatal = 1; exit 2
        }
        next
    }
    if (!("module" in head) || trim(col[2]) ~ /^-+$/) next
    if (ticked(col[head["module"]], name) != 1) {
        print doc ":" FNR ": a module row needs one name in backticks in its first column"
        fatal = 1; exit 2
    }
    m = name[1]
    sub(/\/$/, "", m)
    if (m in row) { print doc ":" FNR ": module " m " listed twice"; fatal = 1; exit 2 }
    row[m] = ++nmod
    n = ticked(col[head["may use"]], used)
    uses[m] = ""
    for (i = 1; i <= n; i++) {
        u = used[i]
        sub(/\/$/, "", u)
        if (!(u in row) || row[u] >= row[m]) {
            print doc ":" FNR ": " m " may use " u ", which is not a module in a row above: arrows point down"
            tabbad++
            continue
        }
        may[m, u] = 1
        uses[m] = uses[m] (uses[m] == "" ? "" : ", ") u
    }
    n = ticked(col[head["public headers"]], hdr)
    npub[m] = n
    pubs[m] = ""
    for (i = 1; i <= n; i++) {
        pub[m, i] = glob_re(hdr[i])
        pubs[m] = pubs[m] (pubs[m] == "" ? "" : ", ") hdr[i]
    }
    next
}

function module_of(f,    rel, m) {
    rel = substr(f, length(src) + 2)
    if (rel !~ /\//) return ""
    m = rel
    sub(/\/.*/, "", m)
    return m
}

FILENAME != cur {
    cur = FILENAME
    if (nmod == 0) { print doc ": no Modules table found"; fatal = 1; exit 2 }
    if (tabbad) { fatal = 1; exit 2 }
    me = module_of(FILENAME)   # src/<module>/...
}

/^[ \t]*#[ \t]*include[ \t]*"/ {
    line = $0
    sub(/^[ \t]*#[ \t]*include[ \t]*"/, "", line)
    sub(/".*/, "", line)
    if (line !~ /\//) next                 # a header next to the file: own module
    them = line
    sub(/\/.*/, "", them)
    h = substr(line, length(them) + 2)
    if (them == me) next
    where = FILENAME ":" FNR ": #include \"" line "\": "
    if (!(them in row)) { fail(where "no module " them " in the Modules table"); next }
    if (!(me in row)) next                 # already reported once for the file
    if (!((me, them) in may)) {
        fail(where me " may not use " them " (may use: " (uses[me] == "" ? "nothing" : uses[me]) ")")
        next
    }
    if (h ~ /(^|\/|_)internal\.h$/) { fail(where "private to " them); next }
    ok = 0
    for (i = 1; i <= npub[them]; i++)
        if (h ~ pub[them, i]) { ok = 1; break }
    if (!ok)
        fail(where "private to " them " (public: " (pubs[them] == "" ? "none" : pubs[them]) ")")
}

END {
    if (fatal || nmod == 0 || tabbad) exit 2
    # Every file, even an empty one, belongs to a module of the table.
    for (i = 2; i < ARGC; i++) {
        m = module_of(ARGV[i])
        if (m == "") fail(ARGV[i] ": outside any module directory")
        else if (!(m in row)) fail(ARGV[i] ": module " m " is not in the Modules table of " doc)
    }
    if (bad) {
        print bad " include(s) break the Modules table of " doc > "/dev/stderr"
        exit 1
    }
}
' "$doc" $files
