#!/usr/bin/env bash
# Prints the failing lines of one `swift test` log: the tests that failed and the issues they
# recorded, with file and line. tools/test.sh and tools/sanitize.sh call it after each run, so the
# end of a long CI log, which is often all that is shown, still names what failed and where.
#   tools/test-failures.sh LABEL LOG
set -euo pipefail
label=$1 log=$2
[ -f "$log" ] || exit 0
# A failed test's lines start with ✘; the ↳ lines right after one carry its message.
failures=$(awk '/^✘ Test run with/ { next }
    /^✘/ { print; message = 1; next }
    /^↳/ && message { print; next }
    { message = 0 }
    /^error:|Fatal error|sanitizer-reports/ { print }' "$log")
[ -z "$failures" ] && exit 0
echo "=== failures in the $label run ($log):"
# sed reads all of its input: `head` could stop early and fail the pipeline (pipefail) on a long list.
printf '%s\n' "$failures" | sed -n 1,60p
