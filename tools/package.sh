#!/usr/bin/env bash
# Builds a release ringd with the Swift runtime linked statically (-static-stdlib, SwiftPM's
# --static-swift-stdlib), so a host needs only glibc and liburing, and packs it for installing
# with the systemd unit (README, "Installing").
#
#   tools/package.sh            writes dist/ringd-VERSION-linux-ARCH.tar.gz and prints its path
#
# The build goes to .build-static, apart from the normal .build. Before packing, ldd must show
# nothing but glibc's libraries, the C++ and GCC runtime libraries the Swift runtime calls
# (libstdc++, libgcc_s: part of every glibc system's base), and liburing: anything else fails.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup.sh

swift build -c release --static-swift-stdlib --build-path .build-static --product ringd >&2
binary=.build-static/release/ringd

allowed='^(linux-vdso|ld-linux[^ ]*|libc|libm|libdl|libpthread|librt|libutil|libresolv|libstdc\+\+|libgcc_s|liburing)\.so'
unexpected=$(ldd "$binary" | awk '{print $1}' | sed 's#.*/##' | grep -Ev "$allowed" || true)
if [ -n "$unexpected" ]; then
    echo "package: $binary needs libraries beyond glibc and liburing:" >&2
    echo "$unexpected" >&2
    exit 1
fi
if ldd "$binary" | grep -q 'libswift\|libFoundation\|libdispatch'; then
    echo "package: $binary links the Swift runtime dynamically" >&2
    exit 1
fi

version=$("$binary" --version)
name="ringd-$version-linux-$(uname -m)"
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging/$name/bin" "$staging/$name/conf"
install -m 755 "$binary" "$staging/$name/bin/ringd"
strip "$staging/$name/bin/ringd" 2>/dev/null || true
install -m 644 conf/*.toml conf/ringd.service conf/docker-seccomp.json "$staging/$name/conf/"
install -m 644 README.md "$staging/$name/"
mkdir -p dist
tar -C "$staging" -czf "dist/$name.tar.gz" "$name"
echo "package: $(ldd "$binary" | awk '{print $1}' | sed 's#.*/##' | tr '\n' ' ')" >&2
echo "dist/$name.tar.gz"
