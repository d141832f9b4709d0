#!/usr/bin/env bash
# Installs what is missing, builds everything and runs every test: parser, engine on a real
# ring, and the end-to-end tests that start the release ringd and ring-client on loopback; then the same
# suite again under AddressSanitizer (with LeakSanitizer) and ThreadSanitizer, with ringd and
# ring-client built with the sanitizer too (tools/sanitize.sh), so that stays true.
#
#   tools/test.sh            everything (about 12 minutes on 2 cores)
#   tools/test.sh --quick    the normal suite only (2-3 minutes)
# Other arguments go to `swift test` (for example `--filter Drain`).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup.sh
quick=false
arguments=()
for argument in "$@"; do
    if [ "$argument" = "--quick" ]; then quick=true; else arguments+=("$argument"); fi
done
# The end-to-end tests start the binaries users run: the release build (tools/run.sh's). The tests
# themselves are built for debugging, so @testable imports and assertions in the library tests work.
# Debug-built ringd and ring-client still run every end-to-end test below, under the sanitizers.
python3 tools/check-size.py  # the engine stays small enough to read: files and functions
swift format lint --strict --recursive Sources  # the layout .swift-format settles
swift build -c release
swift build --build-tests
rm -f .build/tests.log .build-asan/tests.log .build-tsan/tests.log
status=0
RINGD_BIN="$(pwd)/.build/release/ringd" RING_CLIENT_BIN="$(pwd)/.build/release/ring-client" \
    swift test --skip-build --parallel ${arguments[@]+"${arguments[@]}"} 2>&1 | tee .build/tests.log || status=$?
if [ "$quick" = false ]; then
    tools/sanitize.sh all ${arguments[@]+"${arguments[@]}"} || status=$?
fi
# CI shows only the end of this output: every run's failing lines are printed again there, last.
tools/test-failures.sh release .build/tests.log >&2
if [ "$quick" = false ]; then
    tools/test-failures.sh address .build-asan/tests.log >&2
    tools/test-failures.sh thread .build-tsan/tests.log >&2
fi
exit $status
