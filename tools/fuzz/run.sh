#!/usr/bin/env bash
# Fuzzes the configuration parser with libFuzzer for SECONDS (default 60), at the lowest CPU
# priority: builds RingdServices, RingdConfig and tools/fuzz/ConfigFuzzer.swift with
# `swiftc -sanitize=fuzzer,address` into .build/fuzz (outside SwiftPM, so `swift build` is not
# affected), then runs it on the seeds in conf/ and tools/fuzz/seeds. The corpus it grows is kept
# in .build/fuzz/corpus for the next run; a crash, hang (over 2 s) or broken promise is written to
# .build/fuzz/artifacts/. The last lines give the inputs executed and executions per second.
#   tools/fuzz/run.sh 120                          fuzz for two minutes
#   tools/fuzz/run.sh 120 -seed=1 -jobs=2          extra arguments go to libFuzzer
#   tools/fuzz/run.sh FILE...                      replay inputs, such as a crash artifact
#
# ASan's leak check is off: it reports the closures in `Schema.keys`, built once per process,
# because Swift keeps enum tags in a pointer's spare bits and LeakSanitizer then cannot see the
# pointer; the parser allocates nothing that outlives a parse.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v swiftc >/dev/null 2>&1; then
    for dir in /opt/swift/usr/bin /usr/share/swift/usr/bin; do
        [ -x "$dir/swiftc" ] && export PATH="$dir:$PATH" && break
    done
fi
command -v swiftc >/dev/null 2>&1 || { echo "fuzz: no Swift toolchain found" >&2; exit 1; }

out=.build/fuzz
fuzzer=$out/config-fuzzer
harness=(tools/fuzz/ConfigFuzzer.swift Tests/RingdConfigTests/Support/ParseInvariants.swift)
flags=(-parse-as-library -O -sanitize=fuzzer,address -use-ld=lld -I "$out")

build() {
    mkdir -p "$out"
    echo "fuzz: building $fuzzer" >&2
    for module in RingdServices RingdConfig; do
        nice -n 19 swiftc -module-name "$module" "${flags[@]}" \
            -emit-module -emit-module-path "$out/$module.swiftmodule" \
            -emit-library -static -o "$out/lib$module.a" Sources/"$module"/*.swift
    done
    nice -n 19 swiftc -module-name ConfigFuzzer "${flags[@]}" -L "$out" -lRingdConfig -lRingdServices \
        "${harness[@]}" -o "$fuzzer"
}

# Rebuilt when missing or older than any of its sources.
if [ ! -x "$fuzzer" ] || [ -n "$(find Sources/RingdServices Sources/RingdConfig "${harness[@]}" tools/fuzz/run.sh \
        -newer "$fuzzer" -name '*.swift' -o -newer "$fuzzer" -name 'run.sh' | head -1)" ]; then
    build
fi

export ASAN_OPTIONS=detect_leaks=0
# Swift's own crash handler would race ASan's report and libFuzzer's, and reads memory ASan
# guards; libFuzzer already prints the stack and saves the input.
export SWIFT_BACKTRACE=enable=no
export RINGD_FUZZ_SCRATCH="$out/scratch.toml"

if [ $# -gt 0 ] && [ -f "$1" ]; then
    exec nice -n 19 "$fuzzer" "$@"
fi

seconds=${1:-60}
shift || true
mkdir -p "$out/corpus" "$out/artifacts"
exec nice -n 19 "$fuzzer" "$out/corpus" conf tools/fuzz/seeds \
    -dict=tools/fuzz/toml.dict -max_len=8192 -timeout=2 -max_total_time="$seconds" \
    -artifact_prefix="$out/artifacts/" -print_final_stats=1 "$@"
