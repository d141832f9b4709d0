#!/usr/bin/env bash
# Builds ringd in release mode and starts it with the given arguments.
#   tools/run.sh                         echo on 127.0.0.1:7000
#   tools/run.sh --config conf/echo.toml
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup.sh
swift build -c release --product ringd >&2
exec .build/release/ringd "$@"
