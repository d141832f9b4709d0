#!/usr/bin/env python3
"""Side-by-side benchmark of ringd against the reference servers in ../shared/bench.

Every run starts a fresh server, drives it with ../shared/bench's loadgen, and stops it.
Servers are interleaved (A B C A B C ...) so machine noise falls on all of them alike, and
each figure is the median of --runs runs. Prints a Markdown table with ratios to uring_server.

    tools/bench/compare.py echo-pinned      # 1 server thread on CPU 1, loadgen on CPU 0
    tools/bench/compare.py echo             # 2 server threads, 50 connections
    tools/bench/compare.py echo-1000        # 2 server threads, 1000 connections
    tools/bench/compare.py idle-rss         # RSS growth per idle connection at 10,000
"""
import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "bench")
BENCH_OUT = "/tmp/ringd-bench"
RINGD = os.path.join(ROOT, ".build", "release", "ringd")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, deadline=10.0):
    end = time.time() + deadline
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


def server_command(name, port, threads, mode="echo"):
    if name == "ringd":
        return [RINGD, "--listen", f"127.0.0.1:{port}", "--workers", str(threads), "--mode", mode]
    if name in ("uring_server", "epoll_server"):
        return [os.path.join(BENCH_OUT, name), "-m", mode, "-P", str(port), "-t", str(threads)]
    raise ValueError(name)


def start(name, port, threads, cpu=None):
    command = server_command(name, port, threads)
    if cpu is not None:
        command = ["taskset", "-c", str(cpu)] + command
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_listening(port)
    except RuntimeError:
        process.kill()
        raise RuntimeError(f"{name} did not start: {process.stderr.read().decode()}")
    return process


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def loadgen(args, cpu=None):
    command = [os.path.join(BENCH_OUT, "loadgen")] + args + ["-q"]
    if cpu is not None:
        command = ["taskset", "-c", str(cpu)] + command
    output = subprocess.run(command, capture_output=True, text=True, timeout=700).stdout
    result = next((line for line in output.splitlines() if line.startswith("RESULT")), None)
    if result is None:
        raise RuntimeError(f"loadgen printed no RESULT: {output}")
    return dict(pair.split("=", 1) for pair in result.split()[1:])


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))


SCENARIOS = {
    # name: (server threads, server cpu, loadgen args, loadgen cpu)
    "echo-pinned": (1, 1, ["-m", "echo", "-c", "50", "-s", "512", "-t", "1"], 0),
    "echo": (2, None, ["-m", "echo", "-c", "50", "-s", "512", "-t", "2"], None),
    "echo-1000": (2, None, ["-m", "echo", "-c", "1000", "-s", "512", "-t", "2"], None),
}


def run_throughput(scenario, servers, runs, seconds):
    threads, server_cpu, args, client_cpu = SCENARIOS[scenario]
    figures = {name: [] for name in servers}
    for run in range(runs):
        for name in servers:
            port = free_port()
            process = start(name, port, threads, server_cpu)
            try:
                result = loadgen(args + ["-P", str(port), "-d", str(seconds), "-W", "1"], client_cpu)
            finally:
                stop(process)
            if result.get("errors", "0") != "0":
                raise RuntimeError(f"{name}: loadgen counted errors: {result}")
            figures[name].append(float(result["rps"]))
            print(f"  run {run + 1} {name}: {float(result['rps']):.0f} req/s p99 {result['p99_us']} us", file=sys.stderr)
    return figures


def run_idle_rss(servers, runs, connections):
    figures = {name: [] for name in servers}
    for run in range(runs):
        for name in servers:
            port = free_port()
            process = start(name, port, 2)
            try:
                time.sleep(0.3)
                before = rss_kib(process.pid)
                client = subprocess.Popen(
                    [os.path.join(BENCH_OUT, "loadgen"), "-m", "idle", "-P", str(port), "-c", str(connections),
                     "-d", "6", "-B", "16", "-q"],
                    stdout=subprocess.PIPE, text=True)
                for line in client.stdout:
                    if line.startswith("READY"):
                        break
                time.sleep(1.0)
                after = rss_kib(process.pid)
                client.wait(timeout=120)
            finally:
                stop(process)
            per_connection = (after - before) * 1024 / connections
            figures[name].append(per_connection)
            print(f"  run {run + 1} {name}: RSS {before} -> {after} KiB, {per_connection:.0f} B/connection", file=sys.stderr)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=list(SCENARIOS) + ["idle-rss"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--servers", default="ringd,uring_server,epoll_server")
    options = parser.parse_args()
    servers = options.servers.split(",")
    subprocess.run(["make", "-s", "-C", SHARED], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["swift", "build", "-c", "release", "--product", "ringd"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    if options.scenario == "idle-rss":
        figures = run_idle_rss(servers, options.runs, options.connections)
        unit = "bytes of RSS per idle connection"
    else:
        figures = run_throughput(options.scenario, servers, options.runs, options.seconds)
        unit = "req/s"
    reference = statistics.median(figures["uring_server"]) if "uring_server" in figures else None
    print(f"| server | median {unit} | runs | vs uring_server |")
    print("|---|---|---|---|")
    for name in servers:
        median = statistics.median(figures[name])
        ratio = f"{median / reference:.2f}x" if reference else "-"
        runs = ", ".join(f"{value:.0f}" for value in figures[name])
        print(f"| {name} | {median:.0f} | {runs} | {ratio} |")


if __name__ == "__main__":
    main()
