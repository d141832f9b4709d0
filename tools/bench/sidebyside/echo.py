"""Echo at saturation (loadgen), echo at a fixed rate (ring-client --rate), and idle memory.

Server CPU per request: the CPU time of the server's process tree over the middle of the
client's measured window (system.middle_of_window), divided by the requests the client
completed in that time (its rate times the time read)."""
import json
import subprocess
import time

from .servers import start
from .system import (CLIENT_CPU, LOADGEN, RING_CLIENT, SERVER_CPU, cpu_over, cpu_pressure, free_port, log,
                     middle_of_window, parse_result, pinned, rss_kib)
from .tables import Column, print_table

WARMUP_SECONDS = 1

SATURATION = {
    # name: (server threads, server cpu, loadgen args, loadgen cpu)
    "echo-pinned": (1, SERVER_CPU, ["-m", "echo", "-c", "50", "-s", "512", "-t", "1"], CLIENT_CPU),
    "echo": (2, None, ["-m", "echo", "-c", "50", "-s", "512", "-t", "2"], None),
    "echo-1000": (2, None, ["-m", "echo", "-c", "1000", "-s", "512", "-t", "2"], None),
    # Bulk transfer: 10 connections, 200 KB messages, 4 in flight each (beyond the socket buffers).
    "bulk-pinned": (1, SERVER_CPU, ["-m", "echo", "-c", "10", "-s", "200000", "-p", "4", "-t", "1"], CLIENT_CPU),
}

# The fixed-rate client: the pinned scenario's 50 connections x 512 B ping-pong, open loop.
RATE_CLIENT = ["-c", "50", "-s", "512", "-p", "1", "-t", "1"]


def run_saturation(scenario, servers, runs, seconds):
    threads, server_cpu, args, client_cpu = SATURATION[scenario]
    bulk = scenario.startswith("bulk")
    figures = {name: {"rate": [], "cpu": []} for name in servers}
    for run in range(runs):
        for name in servers:
            port = free_port()
            server = start(name, port, threads, server_cpu)
            try:
                command = pinned([LOADGEN] + args + ["-P", str(port), "-d", str(seconds), "-W", str(WARMUP_SECONDS),
                                                     "-q"], client_cpu)
                launched = time.monotonic()
                client = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                offset, length = middle_of_window(seconds)
                cpu_ns, wall = cpu_over(server.pid, launched + WARMUP_SECONDS + offset, length)
                stdout, stderr = client.communicate(timeout=700)
                result = parse_result(subprocess.CompletedProcess(command, client.returncode, stdout, stderr))
            finally:
                server.stop()
            if result.get("errors", "0") != "0":
                raise RuntimeError(f"{name}: loadgen counted errors: {result}")
            requests_per_second = float(result["rps"])
            cpu_us = cpu_ns / 1000 / (requests_per_second * wall)
            figures[name]["rate"].append(float(result["mbps"]) if bulk else requests_per_second)
            figures[name]["cpu"].append(cpu_us)
            log(f"  run {run + 1} {name}: {requests_per_second:.0f} req/s p99 {result['p99_us']} us, "
                f"server CPU {cpu_us:.2f} us/request, {cpu_pressure()}")
    return figures


def print_saturation(scenario, figures, servers):
    bulk = scenario.startswith("bulk")
    print_table(figures, servers, [
        Column("rate", "MB/s" if bulk else "req/s", 0),
        Column("cpu", "server CPU us per " + ("message" if bulk else "request"), 2)])


def run_fixed_rate(servers, runs, seconds, rate):
    """Each server with one thread on CPU 1; ring-client on CPU 0 sends `rate` requests a second
    on a fixed schedule (open loop), so every server does the same work and CPU per request
    compares what each spends on it below saturation."""
    figures = {name: {"rate": [], "p50": [], "p99": [], "cpu": []} for name in servers}
    for run in range(runs):
        for name in servers:
            port = free_port()
            server = start(name, port, 1, SERVER_CPU)
            try:
                window = ["-W", f"{WARMUP_SECONDS}s", "-d", f"{seconds}s", "-q", "--json"]
                command = pinned([RING_CLIENT, "bench", "echo", "127.0.0.1", str(port)] + RATE_CLIENT
                                 + ["--rate", str(rate)] + window, CLIENT_CPU)
                launched = time.monotonic()
                client = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                offset, length = middle_of_window(seconds)
                cpu_ns, wall = cpu_over(server.pid, launched + WARMUP_SECONDS + offset, length)
                stdout, stderr = client.communicate(timeout=seconds + 120)
            finally:
                server.stop()
            if client.returncode != 0 or not stdout.strip():
                raise RuntimeError(f"{name}: ring-client exited with {client.returncode}: {stdout} {stderr}")
            data = json.loads(stdout)
            if not data["ok"]:
                raise RuntimeError(f"{name}: ring-client counted errors: {stdout} {stderr}")
            achieved = data["requests_per_second"]
            cpu_us = cpu_ns / 1000 / (achieved * wall)
            figures[name]["rate"].append(achieved)
            figures[name]["p50"].append(data["latency_us"]["p50"])
            figures[name]["p99"].append(data["latency_us"]["p99"])
            figures[name]["cpu"].append(cpu_us)
            log(f"  run {run + 1} {name}: {achieved:.0f} req/s of {rate}, latency p50 {data['latency_us']['p50']} "
                f"p99 {data['latency_us']['p99']} us, server CPU {cpu_us:.2f} us/request, {cpu_pressure()}")
    return figures


def print_fixed_rate(figures, servers, rate):
    print(f"ring-client bench echo {' '.join(RATE_CLIENT)} --rate {rate}")
    print()
    print_table(figures, servers, [
        Column("cpu", "server CPU us per request", 2), Column("rate", "req/s achieved", 0),
        Column("p50", "latency p50 us", 0), Column("p99", "latency p99 us", 0)])
    short = [f"{name} run {run + 1}" for name in servers for run, achieved in enumerate(figures[name]["rate"])
             if achieved < 0.95 * rate]
    if short:
        print()
        print(f"Below 95% of {rate} req/s (the client or the machine did not keep up, so CPU per request "
              f"there is not at the asked rate): {', '.join(short)}")


def run_idle_rss(servers, runs, connections):
    figures = {name: {"rss": []} for name in servers}
    for run in range(runs):
        for name in servers:
            port = free_port()
            server = start(name, port, 2)
            try:
                time.sleep(0.3)
                before = rss_kib(server.pid)
                client = subprocess.Popen(
                    [LOADGEN, "-m", "idle", "-P", str(port), "-c", str(connections), "-d", "6", "-B", "16", "-q"],
                    stdout=subprocess.PIPE, text=True)
                for line in client.stdout:
                    if line.startswith("READY"):
                        break
                time.sleep(1.0)
                after = rss_kib(server.pid)
                client.wait(timeout=120)
            finally:
                server.stop()
            per_connection = (after - before) * 1024 / connections
            figures[name]["rss"].append(per_connection)
            log(f"  run {run + 1} {name}: RSS {before} -> {after} KiB, {per_connection:.0f} B/connection")
    return figures


def print_idle_rss(figures, servers):
    print_table(figures, servers, [Column("rss", "bytes of RSS per idle connection", 0)])
