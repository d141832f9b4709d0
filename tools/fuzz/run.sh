#!/usr/bin/env bash
# Fuzzes one of ringd's parsers with libFuzzer, at the lowest CPU priority, one job at a time.
#
#   tools/fuzz/run.sh HARNESS [BUILD] SECONDS [LIBFUZZER-ARGS...]   fuzz for SECONDS
#   tools/fuzz/run.sh HARNESS [BUILD] FILE...                       replay inputs (a crash artifact)
#   tools/fuzz/run.sh HARNESS [BUILD] merge                         minimise the corpus (below)
#
# HARNESS is `config` (the TOML-lite parser and the configuration built from a file and --set
# overrides, tools/fuzz/ConfigFuzzer.swift), `framer` (LineFramer fed at fuzzer-chosen read
# boundaries and checked against a reference model, tools/fuzz/FramerFuzzer.swift) or `resp` (the
# RESP decoder fed at fuzzer-chosen read boundaries under fuzzer-chosen limits, checked against
# the recursive reference decoder, and the command encoder read back; tools/fuzz/RESPFuzzer.swift).
# BUILD is `release` (`-O -sanitize=fuzzer`, the default: fast, finds broken promises and traps)
# or `address` (`-O -sanitize=fuzzer,address`: slower, also finds memory errors).
#
# Each build of each harness is compiled with swiftc, outside SwiftPM (so `swift build` is not
# affected), into .build/fuzz/BUILD/, and rebuilt when a source is newer than it. A run starts
# from the committed corpus tools/fuzz/corpus/HARNESS (and, for config, conf/ and
# tools/fuzz/seeds/) and from .build/fuzz/corpus/HARNESS, where it writes every new input; the
# committed corpus is never written by a run. A crash, a hang (over 2 s) or a broken promise is
# saved in .build/fuzz/artifacts/HARNESS/. The last lines give the inputs executed and the
# executions per second.
#
# `merge` rewrites tools/fuzz/corpus/HARNESS as a small set of inputs that covers what the
# committed corpus, the seeds and .build/fuzz/corpus/HARNESS cover (libFuzzer's `-merge=1`); commit
# it so that the next run starts there. For config only the edges count, not how often each runs
# (`-set_cover_merge=1 -use_counters=0`), which keeps its corpus at under 200 files instead of
# 1,300; the framer's has a few hundred either way, and keeps them.
#
#   tools/fuzz/run.sh framer 600                   ten minutes of the framer, release build
#   tools/fuzz/run.sh config address 300 -seed=1   five minutes under ASan; extra args to libFuzzer
#   tools/fuzz/run.sh config .build/fuzz/artifacts/config/crash-1234
#
# ASan's leak check is off: it reports the closures in `Schema.keys`, built once per process,
# because Swift keeps enum tags in a pointer's spare bits and LeakSanitizer then cannot see the
# pointer; the parser allocates nothing that outlives a parse.
set -euo pipefail
cd "$(dirname "$0")/../.."

usage() {
    sed -n '4,6p' "$0" | sed 's/^# *//' >&2
    exit 2
}

harness=${1:-}
case "$harness" in
config)
    sources=(tools/fuzz/ConfigFuzzer.swift Tests/RingdConfigTests/Support/ParseInvariants.swift)
    modules=(RingdServices RingdConfig)
    seeds=(conf tools/fuzz/seeds)
    options=(-dict=tools/fuzz/toml.dict -max_len=8192)
    merging=(-set_cover_merge=1 -use_counters=0)
    ;;
framer)
    sources=(tools/fuzz/FramerFuzzer.swift)
    modules=(RingdServices)
    seeds=()
    options=(-max_len=4096)
    merging=()
    ;;
resp)
    sources=(tools/fuzz/RESPFuzzer.swift Tests/RingdClusterTests/Support/RESPReference.swift)
    modules=(RingdServices RingdCluster)
    seeds=()
    options=(-dict=tools/fuzz/resp.dict -max_len=4096)
    merging=()
    ;;
*) usage ;;
esac
shift

build=release
if [ $# -gt 0 ] && { [ "$1" = release ] || [ "$1" = address ]; }; then
    build=$1
    shift
fi
[ $# -gt 0 ] || usage

if ! command -v swiftc >/dev/null 2>&1; then
    for dir in /opt/swift/usr/bin /usr/share/swift/usr/bin; do
        [ -x "$dir/swiftc" ] && export PATH="$dir:$PATH" && break
    done
fi
command -v swiftc >/dev/null 2>&1 || { echo "fuzz: no Swift toolchain found" >&2; exit 1; }

out=.build/fuzz/$build
fuzzer=$out/$harness-fuzzer
case "$build" in
release) sanitizers=fuzzer ;;
address) sanitizers=fuzzer,address ;;
esac
flags=(-parse-as-library -O -sanitize="$sanitizers" -use-ld=lld -I "$out")

compile() {
    mkdir -p "$out"
    echo "fuzz: building $fuzzer" >&2
    local libraries=() module
    for module in "${modules[@]}"; do
        nice -n 19 swiftc -module-name "$module" "${flags[@]}" \
            -emit-module -emit-module-path "$out/$module.swiftmodule" \
            -emit-library -static -o "$out/lib$module.a" Sources/"$module"/*.swift
        libraries=(-l"$module" "${libraries[@]}")
    done
    nice -n 19 swiftc -module-name "${harness^}Fuzzer" "${flags[@]}" -L "$out" "${libraries[@]}" \
        "${sources[@]}" -o "$fuzzer"
}

# Rebuilt when missing or older than any of its sources or this script.
module_dirs=("${modules[@]/#/Sources/}")
if [ ! -x "$fuzzer" ] || [ -n "$(find "${module_dirs[@]}" "${sources[@]}" tools/fuzz/run.sh \
        -newer "$fuzzer" \( -name '*.swift' -o -name 'run.sh' \) | head -1)" ]; then
    compile
fi

export ASAN_OPTIONS=detect_leaks=0
# Swift's own crash handler would race ASan's report and libFuzzer's, and reads memory ASan
# guards; libFuzzer already prints the stack and saves the input.
export SWIFT_BACKTRACE=enable=no
export RINGD_FUZZ_SCRATCH="$out/$harness-scratch.toml"

committed=tools/fuzz/corpus/$harness
grown=.build/fuzz/corpus/$harness
artifacts=.build/fuzz/artifacts/$harness
mkdir -p "$committed" "$grown" "$artifacts"

if [ "$1" = merge ]; then
    merged=$(mktemp -d .build/fuzz/merge.XXXXXX)
    nice -n 19 "$fuzzer" -merge=1 "${merging[@]}" "$merged" "$committed" "${seeds[@]}" "$grown" "${options[@]}"
    rm -rf "$committed"
    mv "$merged" "$committed"
    echo "fuzz: $committed now holds $(find "$committed" -type f | wc -l) inputs," \
        "$(du -sb "$committed" | cut -f1) bytes" >&2
    exit 0
fi

if [ -f "$1" ]; then
    exec nice -n 19 "$fuzzer" "$@"
fi

seconds=$1
shift
exec nice -n 19 "$fuzzer" "$grown" "$committed" "${seeds[@]}" "${options[@]}" \
    -timeout=2 -max_total_time="$seconds" -artifact_prefix="$artifacts/" -print_final_stats=1 "$@"
