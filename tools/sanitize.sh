#!/usr/bin/env bash
# Builds and runs the whole test suite under a sanitizer:
#   tools/sanitize.sh address   AddressSanitizer, with LeakSanitizer checking every process at exit
#   tools/sanitize.sh thread    ThreadSanitizer
#   tools/sanitize.sh [all]     both, one after the other
# Further arguments go to `swift test` (for example `--filter Drain`).
#
# Each sanitizer builds into its own scratch path (.build-asan, .build-tsan), so the normal .build
# is left alone. The end-to-end tests start ringd and ring-client as child processes; RINGD_BIN and
# RING_CLIENT_BIN point them at the sanitized binaries of the same scratch path, so ringd itself
# runs under the sanitizer, and a missing binary fails the run instead of falling back to
# .build/debug. The children inherit ASAN_OPTIONS, LSAN_OPTIONS and TSAN_OPTIONS.
#
# Every sanitized process, the test runner and each child, writes its reports to
# <scratch>/sanitizer-reports/ rather than to stderr: a child the tests kill with a signal, or
# whose exit status no test checks, would otherwise report to a file nobody reads. The run fails
# if that directory holds any report when the tests end, whatever the tests said, and prints them.
# The suite's output is also kept in <scratch>/tests.log, and its failing lines are printed last.
#
# What is suppressed, and why, is in tools/sanitizers/*.supp, one comment per entry.
# tools/test.sh (and so CI) runs `all` after the normal suite; `tools/test.sh --quick` skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup.sh

which="${1:-all}"
[ $# -gt 0 ] && shift
suppressions="$(pwd)/tools/sanitizers"

# Runs the suite under one sanitizer; prints how long the build and the tests took.
run_under() {
    local sanitizer=$1 scratch=$2
    shift 2
    local started built status=0
    local reports="$(pwd)/$scratch/sanitizer-reports"
    started=$(date +%s)
    swift build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch"
    built=$(date +%s)
    export RINGD_BIN="$(pwd)/$scratch/debug/ringd"
    export RING_CLIENT_BIN="$(pwd)/$scratch/debug/ring-client"
    export RINGD_SANITIZER="$sanitizer"  # tests whose figures a sanitizer changes read this
    rm -rf "$reports" && mkdir -p "$reports"
    ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$reports/asan" TSAN_OPTIONS="$TSAN_OPTIONS:log_path=$reports/tsan" \
        swift test --skip-build --sanitize="$sanitizer" --scratch-path "$scratch" --parallel "$@" 2>&1 \
        | tee "$scratch/tests.log" || status=$?
    if [ -n "$(ls -A "$reports")" ]; then
        for report in "$reports"/*; do echo "=== $report"; cat "$report"; done >&2
        echo "sanitize: $sanitizer: $(ls "$reports" | wc -l) process(es) reported, see above and $reports" >&2
        status=1
    fi
    echo "sanitize: $sanitizer: build $(( built - started ))s, tests $(( $(date +%s) - built ))s, exit status $status" >&2
    tools/test-failures.sh "$sanitizer" "$scratch/tests.log" >&2
    return $status
}

# Every sanitized process, the test runner and each ringd and ring-client it starts, reads these.
export ASAN_OPTIONS="detect_leaks=1"
export LSAN_OPTIONS="suppressions=$suppressions/lsan.supp:print_suppressions=0"
export TSAN_OPTIONS="suppressions=$suppressions/tsan.supp"

status=0
case "$which" in
    address) run_under address .build-asan "$@" || status=$? ;;
    thread) run_under thread .build-tsan "$@" || status=$? ;;
    all)
        run_under address .build-asan "$@" || status=$?
        run_under thread .build-tsan "$@" || status=$?
        ;;
    *) echo "usage: tools/sanitize.sh [address|thread|all] [swift test arguments]" >&2; exit 2 ;;
esac
exit $status
