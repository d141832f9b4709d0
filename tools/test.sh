#!/usr/bin/env bash
# Installs what is missing, builds everything and runs every test: parser, engine on a real
# ring, and the end-to-end tests that start the built ringd binary on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup.sh
swift build --build-tests
swift test --skip-build --parallel "$@"
