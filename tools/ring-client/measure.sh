#!/usr/bin/env bash
# Measures ring-client against the reference load generator (loadgen, /work/shared/bench) on the
# same server in the same run, interleaved A B A B A B, and prints throughput and the client's
# CPU time per request (user + system, from /usr/bin/time) for each run.
#
#   tools/ring-client/measure.sh [seconds per run] [runs]
#
# Needs release builds of ringd and ring-client in .build-client/release and
# /tmp/ringd-bench/{loadgen,epoll_server} (make -C /work/shared/bench).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER_RUN=${1:-10}
RUNS=${2:-3}
BIN=.build-client/release
BENCH=/tmp/ringd-bench
OUT=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$OUT"' EXIT

SERVER=
start_ringd() {  # $1: taskset CPU list, $2: workers; sets SERVER (pid) and PORT
    taskset -c "$1" "$BIN/ringd" --listen 127.0.0.1:0 --workers "$2" >"$OUT/ringd" 2>&1 &
    SERVER=$!
    for _ in $(seq 100); do grep -q 'listening on' "$OUT/ringd" && break; sleep 0.05; done
    PORT=$(grep -o '127.0.0.1:[0-9]*' "$OUT/ringd" | cut -d: -f2)
}

stop_server() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; }

cpu_per_request() {  # $1: time file, $2: requests -> microseconds
    awk -v n="$2" '{ split($0, t, " "); printf "%.2f", (t[1] + t[2]) / n * 1e6 }' "$1"
}

run_pair() {  # $1: label, $2: client CPUs, $3: loadgen args, $4: ring-client args
    local label=$1 cpus=$2 loadgen_args=$3 client_args=$4
    for run in $(seq "$RUNS"); do
        taskset -c "$cpus" /usr/bin/time -f "%U %S" -o "$OUT/time" "$BENCH/loadgen" $loadgen_args -d "$SECONDS_PER_RUN" -q >"$OUT/lg" 2>&1 || true
        local msgs rate
        msgs=$(grep -o ' \(msgs\|ok\)=[0-9]*' "$OUT/lg" | head -1 | cut -d= -f2)
        rate=$(grep -o ' \(rps\|cps\)=[0-9]*' "$OUT/lg" | cut -d= -f2)
        echo "$label run $run loadgen     rate=$rate count=$msgs cpu_us_per_op=$(cpu_per_request "$OUT/time" "$msgs") p99_us=$(grep -o 'p99_us=[0-9.]*' "$OUT/lg" | cut -d= -f2)"
        taskset -c "$cpus" /usr/bin/time -f "%U %S" -o "$OUT/time" "$BIN/ring-client" $client_args -d "${SECONDS_PER_RUN}s" --json -q >"$OUT/rc" 2>&1 || true
        local count crate
        count=$(grep -o '"\(requests\|connections\)":[0-9]*' "$OUT/rc" | tail -1 | cut -d: -f2)
        crate=$(grep -o '"\(requests\|connections\)_per_second":[0-9.]*' "$OUT/rc" | cut -d: -f2)
        echo "$label run $run ring-client rate=${crate%.*} count=$count cpu_us_per_op=$(cpu_per_request "$OUT/time" "$count") p99_us=$(grep -o '"p99":[0-9.]*' "$OUT/rc" | cut -d: -f2)"
    done
}

echo "# kernel $(uname -r), $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)"

# 1. Echo, 50 connections x 512 B ping-pong, 2 client threads, ringd 2 workers, nothing pinned.
start_ringd 0-1 2
run_pair echo-2t 0-1 "-m echo -P $PORT -c 50 -s 512 -t 2" "bench echo 127.0.0.1 $PORT -c 50 -s 512 -t 2"
stop_server

# 2. Echo pinned: ringd 1 worker on CPU 1, client 1 thread on CPU 0.
start_ringd 1 1
run_pair echo-pinned 0 "-m echo -P $PORT -c 50 -s 512 -t 1" "bench echo 127.0.0.1 $PORT -c 50 -s 512 -t 1"
stop_server

# 3. Connect (greet and close): ringd has no greet mode yet, so the C reference epoll_server.
taskset -c 0-1 "$BENCH/epoll_server" -m greet -P 47123 -t 2 >"$OUT/greet" 2>&1 &
SERVER=$!
sleep 0.5
run_pair connect 0-1 "-m connect -P 47123 -c 50 -B 50 -t 1" "bench connect 127.0.0.1 47123 -c 50 -B 50 -t 1"
stop_server

# 4. Server-bound cross-check: a single-threaded Python asyncio echo server is the bottleneck, so
#    both clients have CPU to spare and must report the same rate. One discarded warm-up run.
cat >"$OUT/echo.py" <<'PY'
import asyncio, sys
class Echo(asyncio.Protocol):
    def connection_made(self, transport): self.transport = transport
    def data_received(self, data): self.transport.write(data)
async def main():
    server = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", int(sys.argv[1]))
    async with server: await server.serve_forever()
asyncio.run(main())
PY
python3 "$OUT/echo.py" 47124 &
SERVER=$!
sleep 1
"$BENCH/loadgen" -m echo -P 47124 -c 50 -s 512 -t 2 -d 3 -q >/dev/null || true
run_pair python-echo 0-1 "-m echo -P 47124 -c 50 -s 512 -t 2" "bench echo 127.0.0.1 47124 -c 50 -s 512 -t 2"
stop_server
