#!/usr/bin/env bash
# Installs what building ringd needs and is missing: liburing-dev (through apt-get, with sudo
# when not root), python3 for tools/soak and the watchdog test's ptrace helper, systemd-analyze
# to verify the unit file, redis-server and redis-cli for the tests that run a real Redis, and a
# Swift toolchain on PATH. Sourced by run.sh and test.sh.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! dpkg -s liburing-dev >/dev/null 2>&1; then
    echo "setup: installing liburing-dev" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq liburing-dev pkg-config >&2
fi
if ! command -v pkg-config >/dev/null 2>&1; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pkg-config >&2
fi
if ! command -v python3 >/dev/null 2>&1; then  # tools/soak, run by one end-to-end test
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >&2
fi
if ! command -v systemd-analyze >/dev/null 2>&1; then  # PackagingTests verifies conf/ringd.service
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >&2
fi
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then  # the Redis tests
    echo "setup: installing redis-server and redis-tools" >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >&2
fi
if ! command -v swift >/dev/null 2>&1; then
    for dir in /opt/swift/usr/bin /usr/share/swift/usr/bin; do
        [ -x "$dir/swift" ] && export PATH="$dir:$PATH" && break
    done
fi
command -v swift >/dev/null 2>&1 || { echo "setup: no Swift toolchain found (install Swift 6 from swift.org)" >&2; exit 1; }
