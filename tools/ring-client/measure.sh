#!/usr/bin/env bash
# Measures ring-client against the reference load generator (loadgen, ../shared/bench) on the
# same server in the same run: server on CPU 1, client on CPU 0, interleaved, a fresh server per
# run, medians of the runs, and the client's CPU time per request from /proc/<pid>/stat. See
# MEASUREMENTS.md beside this file for the method and the figures.
#
#   tools/ring-client/measure.sh [agreement.py options and scenarios]
#   tools/ring-client/measure.sh --runs 5 --seconds 5          # what MEASUREMENTS.md quotes
#
# Builds what it needs: release ringd and ring-client in .build, loadgen and the C servers in
# /tmp/ringd-bench.
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build -c release --scratch-path .build --product ringd >/dev/null
swift build -c release --scratch-path .build --product ring-client >/dev/null
make -s -C ../shared/bench >/dev/null
exec python3 tools/bench/agreement.py "$@"
