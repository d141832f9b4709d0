#!/usr/bin/env python3
"""How many times a running ringd calls libc malloc under load.

The hot path should allocate nothing. Each scenario starts the release ringd, loads it, and
after a 1 s warm-up counts ringd's malloc calls over a 2 s window with a perf uprobe.

  raw        raw echo, one worker: 8 client threads, each on one connection, send 512 bytes and
             read them back, again and again (requests, not connections)
  lines      numbered line echo, one worker: 8 client threads each connect, send "hel", pause
             2 ms, send "lo\\n" (so the line spans two reads and the framer must buffer it),
             check the reply is exactly "1: hello\\n" and close, again and again
  broadcast  2 workers, 10 ms ticks, 50 subscribers reading every line
  relay      2 workers, 50 clients reading, one more sending a line every 2 ms

  --redis HOST:PORT runs broadcast and relay as a host of a cluster (`[cluster] redis`), so each
  line also goes through Redis; with --remote, relay's sender is a client of a second ringd host
  of the same cluster, so the measured one gets every line from Redis.

    tools/bench/mallocs.py [--scenario raw|lines|broadcast|relay] [--ringd .build/release/ringd] [--runs 2]
                           [--redis HOST:PORT [--remote]]

Needs root and perf; creates the probe `probe_libc:malloc` if it is missing.
"""
import argparse
import selectors
import socket
import subprocess
import threading
import time

PORT = 7311
PROBE = "probe_libc:malloc"


def ensure_probe():
    listed = subprocess.run(["perf", "probe", "-l"], capture_output=True, text=True).stdout
    if PROBE not in listed:
        libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
        subprocess.run(["perf", "probe", "-x", libc, "malloc"], check=True, capture_output=True)


def churn(seconds, counts, lock):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", PORT)) as client:
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                client.sendall(b"hel")
                time.sleep(0.002)
                client.sendall(b"lo\n")
                reply = b""
                while not reply.endswith(b"\n"):
                    chunk = client.recv(100)
                    if not chunk:
                        break
                    reply += chunk
            key = "ok" if reply == b"1: hello\n" else "wrong"
        except OSError:
            key = "errors"
        with lock:
            counts[key] += 1


def count_mallocs(pid):
    stat = subprocess.run(
        ["perf", "stat", "-x,", "-e", PROBE, "-p", str(pid), "--", "sleep", "2"],
        capture_output=True, text=True).stderr
    return next(line.split(",")[0] for line in stat.splitlines() if PROBE in line)


def start_ringd(ringd, arguments):
    server = subprocess.Popen([ringd, "--listen", f"127.0.0.1:{PORT}"] + arguments,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return server


def threads_run(ringd, arguments, client, counts):
    """Starts ringd with `arguments`, runs 8 threads of `client` for 4 s, and counts ringd's
    malloc calls over 2 s after a 1 s warm-up; `counts` is what the clients tallied."""
    server = start_ringd(ringd, arguments)
    try:
        lock = threading.Lock()
        threads = [threading.Thread(target=client, args=(4.0, counts, lock)) for _ in range(8)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        mallocs = count_mallocs(server.pid)
        for thread in threads:
            thread.join()
        return mallocs
    finally:
        server.terminate()
        server.wait()


def lines_run(ringd):
    counts = {"ok": 0, "wrong": 0, "errors": 0}
    mallocs = threads_run(ringd, ["--workers", "1", "--set", "echo.lines=true", "--set", "echo.line_numbers=true"],
                          churn, counts)
    return mallocs, (f"connections: {counts['ok']} exact, {counts['wrong']} wrong replies, "
                     f"{counts['errors']} errors")


def ping_pong(seconds, counts, lock):
    payload = bytes(range(256)) * 2
    requests, wrong = 0, 0
    try:
        with socket.create_connection(("127.0.0.1", PORT)) as client:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                client.sendall(payload)
                reply = b""
                while len(reply) < len(payload):
                    chunk = client.recv(len(payload) - len(reply))
                    if not chunk:
                        break
                    reply += chunk
                requests += 1
                wrong += reply != payload
    except OSError:
        wrong += 1
    with lock:
        counts["ok"] += requests - wrong
        counts["wrong"] += wrong


def raw_run(ringd):
    counts = {"ok": 0, "wrong": 0}
    mallocs = threads_run(ringd, ["--workers", "1"], ping_pong, counts)
    return mallocs, f"requests in 4 s: {counts['ok']} exact, {counts['wrong']} wrong"


def read_lines(sockets, seconds):
    """Reads every socket until `seconds` pass; returns the lines received."""
    selector = selectors.DefaultSelector()
    for client in sockets:
        client.setblocking(False)
        selector.register(client, selectors.EVENT_READ)
    lines, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        for key, _ in selector.select(0.1):
            lines += key.fileobj.recv(65536).count(b"\n")
    return lines


def pushed_run(ringd, mode, redis=None, remote=False):
    cluster = ["--set", f"cluster.redis={redis}"] if redis else []
    server = start_ringd(
        ringd, ["--workers", "2", "--mode", mode, "--set", "broadcast.interval=10ms", "--set", "cluster.node=measured"] + cluster)
    other = None
    if remote:
        other = subprocess.Popen([ringd, "--listen", f"127.0.0.1:{PORT + 1}", "--mode", "relay", "--set", "cluster.node=sender"]
                                 + cluster, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    try:
        readers = [socket.create_connection(("127.0.0.1", PORT)) for _ in range(50)]
        result = {}
        reader = threading.Thread(target=lambda: result.update(lines=read_lines(readers, 4.0)))
        reader.start()
        if mode == "relay":
            def speak():
                with socket.create_connection(("127.0.0.1", PORT + 1 if remote else PORT)) as speaker:
                    end, number = time.monotonic() + 3.5, 0
                    while time.monotonic() < end:
                        speaker.sendall(b"line %d\n" % number)
                        number += 1
                        time.sleep(0.002)
            threading.Thread(target=speak).start()
        time.sleep(1.0)
        mallocs = count_mallocs(server.pid)
        reader.join()
        for client in readers:
            client.close()
        return mallocs, f"lines received by the 50 readers in 4 s: {result['lines']}"
    finally:
        for process in [server] + ([other] if other else []):
            process.terminate()
            process.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=["raw", "lines", "broadcast", "relay"], default="lines")
    parser.add_argument("--ringd", default=".build/release/ringd")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--redis", help="HOST:PORT of a Redis: broadcast and relay as a host of a cluster")
    parser.add_argument("--remote", action="store_true", help="relay with --redis: the sender is on a second host")
    arguments = parser.parse_args()
    if arguments.remote and not (arguments.redis and arguments.scenario == "relay"):
        parser.error("--remote is for --scenario relay with --redis")
    ensure_probe()
    for run in range(arguments.runs):
        if arguments.scenario == "raw":
            mallocs, load = raw_run(arguments.ringd)
        elif arguments.scenario == "lines":
            mallocs, load = lines_run(arguments.ringd)
        else:
            mallocs, load = pushed_run(arguments.ringd, arguments.scenario, arguments.redis, arguments.remote)
        print(f"{arguments.scenario} run {run + 1}: malloc calls in 2 s: {mallocs}; {load}")


if __name__ == "__main__":
    main()
