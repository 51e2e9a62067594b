#!/bin/sh
# check-config-cli.sh - run `labagent --check-config FILE` and assert what it did.
#
# Why: ctest's WILL_FAIL only says "it failed", which a crash or a missing
# binary also satisfies. This asserts the exact exit code and that the named
# stream holds the exact expected line.
#
# usage: check-config-cli.sh LABAGENT FILE EXPECTED_EXIT stdout|stderr EXPECTED_LINE
set -u

if [ $# -ne 5 ]; then
        echo "usage: $0 LABAGENT FILE EXPECTED_EXIT stdout|stderr EXPECTED_LINE" >&2
        exit 2
fi
bin=$1 file=$2 want_rc=$3 stream=$4 want_line=$5

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT

"$bin" --check-config "$file" >"$tmp/stdout" 2>"$tmp/stderr" </dev/null
rc=$?

fail=0
if [ "$rc" -ne "$want_rc" ]; then
        echo "FAIL: exit code $rc, expected $want_rc" >&2
        fail=1
fi
if ! grep -qxF -- "$want_line" "$tmp/$stream"; then
        echo "FAIL: $stream lacks the line: $want_line" >&2
        fail=1
fi
if [ "$fail" -ne 0 ]; then
        echo "--- stdout" >&2
        cat "$tmp/stdout" >&2
        echo "--- stderr" >&2
        cat "$tmp/stderr" >&2
fi
exit "$fail"
