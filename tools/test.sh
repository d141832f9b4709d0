#!/usr/bin/env bash
# Installs what is missing, builds everything and runs every test: parser, engine on a real
# ring, and the end-to-end tests that start the built ringd binary on loopback; then the same
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
swift build --build-tests
swift test --skip-build --parallel ${arguments[@]+"${arguments[@]}"}
if [ "$quick" = false ]; then
    tools/sanitize.sh all ${arguments[@]+"${arguments[@]}"}
fi
