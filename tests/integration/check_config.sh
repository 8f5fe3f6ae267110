#!/bin/bash
# check_config.sh - golden tests of `foyerd --check-config`.
#
# For each tests/config/NAME.conf, runs
#     foyerd --check-config [-v] --config NAME.conf
# from the tests/config directory (relative paths, so the output is the same
# on every machine) and compares "exit STATUS" followed by stdout+stderr with
# tests/config/NAME.out.  A .conf whose first line is "; check-config: -v"
# is run with -v (normalised dump, then the OK line).  The shipped
# config/foyer.conf is checked the same way with -v against example-dump.out.
#
# Files under tests/config/ that do not end in .conf at the top level
# (inc/, profiles-bad/, *.inc) are only read through includes and profiles.
#
# Environment: FOYER_SRC (source tree), FOYER_BIN (build tree holding
# foyerd), both set by CTest.  FOYER_UPDATE_GOLDEN=1 rewrites the .out files
# instead of comparing (review the diff before committing).
set -u

: "${FOYER_SRC:?FOYER_SRC must point at the source tree}"
: "${FOYER_BIN:?FOYER_BIN must point at the build tree}"
foyerd="$FOYER_BIN/foyerd"
if [ ! -x "$foyerd" ]; then
    echo "check_config: $foyerd not built" >&2
    exit 1
fi

cd "$FOYER_SRC/tests/config" || exit 1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

failed=0
run_case() {
    local name=$1
    shift
    local got="$tmp/$name.got"
    "$foyerd" "$@" >"$tmp/out" 2>&1
    local rc=$?
    # The default web_dir is the build's install prefix's (CMakeLists.txt,
    # FOYER_WEBDIR): the same golden file for every prefix.
    sed -i 's|^web_dir = /.*/share/foyer/web$|web_dir = PREFIX/share/foyer/web|' "$tmp/out"
    { echo "exit $rc"; cat "$tmp/out"; } >"$got"
    if [ "${FOYER_UPDATE_GOLDEN:-0}" = 1 ]; then
        cp "$got" "$name.out"
        echo "updated $name.out"
    elif [ ! -f "$name.out" ]; then
        echo "FAIL $name: no $name.out (run with FOYER_UPDATE_GOLDEN=1)"
        failed=1
    elif diff -u "$name.out" "$got"; then
        echo "ok   $name"
    else
        echo "FAIL $name: foyerd $* (expected $name.out, got the + lines)"
        failed=1
    fi
}

n=0
for conf in *.conf; do
    name=${conf%.conf}
    args=(--check-config)
    if head -n 1 "$conf" | grep -q '^; check-config: -v'; then
        args+=(-v)
    fi
    run_case "$name" "${args[@]}" --config "$conf"
    n=$((n + 1))
done
run_case example-dump --check-config -v --config ../../config/foyer.conf
n=$((n + 1))

if [ "$failed" != 0 ]; then
    echo "check_config: some of $n cases FAILED"
    exit 1
fi
echo "check_config: $n cases passed"
