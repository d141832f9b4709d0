#!/usr/bin/env python3
"""How many times a running ringd calls libc malloc while clients churn through split lines.

The hot path should allocate nothing. This starts the release ringd in numbered line echo with
one worker, runs 8 client threads that each connect, send "hel", pause 2 ms, send "lo\\n" (so
the line spans two reads and the framer must buffer it), check the reply is exactly
"1: hello\\n" and close, again and again; after a 1 s warm-up it counts ringd's malloc calls over
a 2 s window with a perf uprobe, then prints the count and the connections served.

    tools/bench/mallocs.py [--ringd .build/release/ringd] [--runs 2]

Needs root and perf; creates the probe `probe_libc:malloc` if it is missing.
"""
import argparse
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


def one_run(ringd):
    server = subprocess.Popen(
        [ringd, "--listen", f"127.0.0.1:{PORT}", "--workers", "1",
         "--set", "echo.lines=true", "--set", "echo.line_numbers=true"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        counts, lock = {"ok": 0, "wrong": 0, "errors": 0}, threading.Lock()
        threads = [threading.Thread(target=churn, args=(4.0, counts, lock)) for _ in range(8)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        stat = subprocess.run(
            ["perf", "stat", "-x,", "-e", PROBE, "-p", str(server.pid), "--", "sleep", "2"],
            capture_output=True, text=True).stderr
        mallocs = next(line.split(",")[0] for line in stat.splitlines() if PROBE in line)
        for thread in threads:
            thread.join()
        return mallocs, counts
    finally:
        server.terminate()
        server.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ringd", default=".build/release/ringd")
    parser.add_argument("--runs", type=int, default=2)
    arguments = parser.parse_args()
    ensure_probe()
    for run in range(arguments.runs):
        mallocs, counts = one_run(arguments.ringd)
        print(f"run {run + 1}: malloc calls in 2 s: {mallocs}; connections: {counts['ok']} exact, "
              f"{counts['wrong']} wrong replies, {counts['errors']} errors")


if __name__ == "__main__":
    main()
