#!/usr/bin/env python3
"""Side-by-side benchmark of ringd against the reference servers in ../shared/bench.

Every run starts a fresh server, drives it with ../shared/bench's loadgen, and stops it.
Servers are interleaved (A B C A B C ...) so machine noise falls on all of them alike, and
each figure is the median of --runs runs. Prints a Markdown table with ratios to uring_server.

    tools/bench/compare.py echo-pinned      # 1 server thread on CPU 1, loadgen on CPU 0
    tools/bench/compare.py echo             # 2 server threads, 50 connections
    tools/bench/compare.py echo-1000        # 2 server threads, 1000 connections
    tools/bench/compare.py bulk-pinned --servers ringd,uring_server,epoll_server,nio
                                            # 10 x 200 KB messages, depth 4: MB/s, server CPU per message
    tools/bench/compare.py idle-rss         # RSS growth per idle connection at 10,000
    tools/bench/compare.py greet --count 100000         # connect/greet/close: conn/s, server CPU per 100k
    tools/bench/compare.py greet-pinned --count 100000  # the same, 1 server thread on CPU 1, loadgen on CPU 0
    tools/bench/compare.py broadcast        # ringd, 10,000 subscribers, 100 ms ticks: lines/s, spread
    tools/bench/compare.py relay            # ringd, 100 clients x 10 lines/s: deliveries, latency, loss
    tools/bench/compare.py echo-pinned --baseline /tmp/ringd-before --servers ringd,ringd-before
                                            # a change against the ringd before it, side by side

The echo scenarios also report the server's CPU time per request: utime+stime of the whole
process from the end of loadgen's warm-up to its exit, divided by the requests it counted.

greet compares ringd with a greeting as long as the references' (no placeholder) against
uring_server and epoll_server, and adds ringd with its default `{peer}` template as a fourth,
separately reported server. broadcast and relay have no reference server; broadcast alternates
three clients (ring-client, tools/bench/tickspread.c, loadgen) against a fresh ringd each run.
"""
import argparse
import json
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
# `--baseline PATH`: another ringd binary, run as the server "ringd-before".
BASELINE = {"ringd": None}
RING_CLIENT = os.path.join(ROOT, ".build", "release", "ring-client")
TICKSPREAD = os.path.join(BENCH_OUT, "tickspread")
# SwiftNIO's echo peer, built by `make -C ../shared/bench nio` (done here when a scenario names it).
NIO = os.path.join(SHARED, "peers", "nio-echo", ".build", "release", "NIOEchoBench")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# The references greet with "hello from uring_server\n" and "hello from epoll_server\n" (24 bytes).
# ringd gets a line of the same length with no placeholder, so every server sends the same bytes.
GREETING = "hello from ringd_server\n"


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


def server_command(name, port, threads, mode="echo", settings=()):
    if name in ("ringd", "ringd-before"):
        binary = BASELINE["ringd"] if name == "ringd-before" else RINGD
        if binary is None:
            raise ValueError("ringd-before needs --baseline PATH")
        command = [binary, "--listen", f"127.0.0.1:{port}", "--workers", str(threads), "--mode", mode]
        for setting in settings:
            command += ["--set", setting]
        return command
    if name in ("uring_server", "epoll_server"):
        return [os.path.join(BENCH_OUT, name), "-m", mode, "-P", str(port), "-t", str(threads)]
    if name == "nio":
        return [NIO, mode, str(port), str(threads)]
    raise ValueError(name)


# Server variants by label: (program, mode, --set settings). Plain names serve echo.
GREET_SERVERS = {
    "ringd": ("ringd", "greet", [f'greet.message="{GREETING[:-1]}\\n"']),
    "uring_server": ("uring_server", "greet", []),
    "epoll_server": ("epoll_server", "greet", []),
    "ringd {peer}": ("ringd", "greet", []),
    # Workers left where the scheduler puts them, as the references' threads are.
    "ringd unpinned": ("ringd", "greet", [f'greet.message="{GREETING[:-1]}\\n"', "server.pin_workers=false"]),
    "ringd-before": ("ringd-before", "greet", [f'greet.message="{GREETING[:-1]}\\n"']),
}


def start(name, port, threads, cpu=None, mode="echo", settings=()):
    command = server_command(name, port, threads, mode, settings)
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


def parse_result(completed):
    """The key=value pairs of the `RESULT` line a C benchmark client prints."""
    line = next((line for line in completed.stdout.splitlines() if line.startswith("RESULT")), None)
    if line is None:
        raise RuntimeError(f"no RESULT line: {completed.stdout} {completed.stderr}")
    return dict(pair.split("=", 1) for pair in line.split()[1:])


def loadgen(args, cpu=None):
    command = [os.path.join(BENCH_OUT, "loadgen")] + args + ["-q"]
    if cpu is not None:
        command = ["taskset", "-c", str(cpu)] + command
    return parse_result(subprocess.run(command, capture_output=True, text=True, timeout=700))


def cpu_seconds(pid):
    """utime + stime of the whole process (every thread), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def run_nanoseconds(pid):
    """CPU time of every thread of the process in ns (/proc/PID/task/*/schedstat), a finer
    cross-check of cpu_seconds."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as schedstat:
                total += int(schedstat.read().split()[0])
        except OSError:
            pass
    return total


def cpu_pressure():
    """The share of the last 10 s in which some runnable task waited for a CPU (PSI), as text."""
    try:
        with open("/proc/pressure/cpu") as pressure:
            return "cpu-psi " + re.search(r"some avg10=([0-9.]+)", pressure.read()).group(1) + "%"
    except (OSError, AttributeError):
        return "cpu-psi n/a"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1))


SCENARIOS = {
    # name: (server threads, server cpu, loadgen args, loadgen cpu)
    "echo-pinned": (1, 1, ["-m", "echo", "-c", "50", "-s", "512", "-t", "1"], 0),
    "echo": (2, None, ["-m", "echo", "-c", "50", "-s", "512", "-t", "2"], None),
    "echo-1000": (2, None, ["-m", "echo", "-c", "1000", "-s", "512", "-t", "2"], None),
    # Bulk transfer: 10 connections, 200 KB messages, 4 in flight each (beyond the socket buffers).
    "bulk-pinned": (1, 1, ["-m", "echo", "-c", "10", "-s", "200000", "-p", "4", "-t", "1"], 0),
}


def run_throughput(scenario, servers, runs, seconds):
    threads, server_cpu, args, client_cpu = SCENARIOS[scenario]
    figures = {name: [] for name in servers}
    for run in range(runs):
        for name in servers:
            port = free_port()
            process = start(name, port, threads, server_cpu)
            try:
                command = [os.path.join(BENCH_OUT, "loadgen")] + args + ["-P", str(port), "-d", str(seconds), "-W", "1", "-q"]
                if client_cpu is not None:
                    command = ["taskset", "-c", str(client_cpu)] + command
                client = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                time.sleep(1)  # loadgen's warm-up
                cpu_before = run_nanoseconds(process.pid)
                stdout, stderr = client.communicate(timeout=700)
                cpu_after = run_nanoseconds(process.pid)
                result = parse_result(subprocess.CompletedProcess(command, client.returncode, stdout, stderr))
            finally:
                stop(process)
            if result.get("errors", "0") != "0":
                raise RuntimeError(f"{name}: loadgen counted errors: {result}")
            requests = float(result["rps"]) * seconds
            cpu_us = (cpu_after - cpu_before) / 1000 / requests
            figures[name].append(float(result["mbps"]) if scenario.startswith("bulk") else float(result["rps"]))
            figures.setdefault(name + " cpu", []).append(cpu_us)
            print(f"  run {run + 1} {name}: {float(result['rps']):.0f} req/s p99 {result['p99_us']} us, "
                  f"server CPU {cpu_us:.2f} us/request", file=sys.stderr)
    return figures


GREET_SCENARIOS = {
    # name: (server threads, server cpu, loadgen args, loadgen cpu)
    "greet": (2, None, ["-m", "connect", "-c", "50", "-B", "50", "-t", "1"], None),
    "greet-pinned": (1, 1, ["-m", "connect", "-c", "50", "-B", "50", "-t", "1"], 0),
}


def run_greet(scenario, servers, runs, seconds, count):
    """Connections/s, and the server's CPU time per 100k connections: utime+stime read just
    before loadgen starts and just after it exits (no warm-up, so every connection it made is
    in the window), divided by the connections loadgen completed. With `count`, every run makes
    that many connections (at most 600 s), so each run has about 1 s of server CPU to measure,
    well above the 10 ms resolution of utime and stime, however busy the machine is."""
    threads, server_cpu, args, client_cpu = GREET_SCENARIOS[scenario]
    limit = ["-n", str(count), "-d", "600"] if count else ["-d", str(seconds)]
    figures = {name: {"cps": [], "cpu": []} for name in servers}
    for run in range(runs):
        for name in servers:
            program, mode, settings = GREET_SERVERS[name]
            port = free_port()
            process = start(program, port, threads, server_cpu, mode, settings)
            try:
                time.sleep(0.2)
                before, before_ns = cpu_seconds(process.pid), run_nanoseconds(process.pid)
                result = loadgen(args + ["-P", str(port)] + limit, client_cpu)
                after, after_ns = cpu_seconds(process.pid), run_nanoseconds(process.pid)
            finally:
                stop(process)
            if result.get("failed", "0") != "0" or result.get("empty", "0") != "0":
                raise RuntimeError(f"{name}: loadgen counted failures: {result}")
            connections = int(result["ok"])
            per_100k = (after - before) / connections * 100_000
            figures[name]["cps"].append(float(result["cps"]))
            figures[name]["cpu"].append(per_100k)
            print(f"  run {run + 1} {name}: {float(result['cps']):.0f} conn/s, {connections} connections, "
                  f"server CPU {after - before:.2f} s = {per_100k:.3f} s per 100k "
                  f"(schedstat {(after_ns - before_ns) / 1e9 / connections * 100_000:.3f}), bytes {result['bytes']}, "
                  f"{cpu_pressure()}", file=sys.stderr)
    return figures


def print_greet(figures, servers):
    reference_cps = statistics.median(figures["uring_server"]["cps"]) if "uring_server" in figures else None
    reference_cpu = statistics.median(figures["uring_server"]["cpu"]) if "uring_server" in figures else None
    print("| server | median conn/s | runs | vs uring_server | median server CPU s per 100k conn | runs | vs uring_server |")
    print("|---|---|---|---|---|---|---|")
    for name in servers:
        cps = statistics.median(figures[name]["cps"])
        cpu = statistics.median(figures[name]["cpu"])
        cps_ratio = f"{cps / reference_cps:.2f}x" if reference_cps else "-"
        cpu_ratio = f"{cpu / reference_cpu:.2f}x" if reference_cpu else "-"
        cps_runs = ", ".join(f"{value:.0f}" for value in figures[name]["cps"])
        cpu_runs = ", ".join(f"{value:.2f}" for value in figures[name]["cpu"])
        print(f"| {name} | {cps:.0f} | {cps_runs} | {cps_ratio} | {cpu:.2f} | {cpu_runs} | {cpu_ratio} |")


def run_broadcast(runs, seconds, subscribers, clients):
    """ringd --mode broadcast, 2 workers, 100 ms ticks; each run a fresh server and one client,
    the clients alternating. Every client reads for the window plus 1 s of drain."""
    settings = ["broadcast.interval=100ms"]
    rows = {client: [] for client in clients}
    for run in range(runs):
        for client in clients:
            port = free_port()
            process = start("ringd", port, 2, None, "broadcast", settings)
            try:
                time.sleep(0.2)
                before = cpu_seconds(process.pid)
                if client == "ring-client":
                    command = [RING_CLIENT, "bench", "broadcast", "127.0.0.1", str(port), "-c", str(subscribers),
                               "-t", "2", "-W", "1s", "-d", f"{seconds}s", "--drain", "1s", "-B", "16", "-q", "--json"]
                    output = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
                    data = json.loads(output.stdout)
                    if not data["ok"]:
                        raise RuntimeError(f"ring-client reported errors: {output.stdout} {output.stderr}")
                    row = {"lps": data["lines_per_second"], "spread_p50": data["tick_spread_us"]["p50"],
                           "spread_p99": data["tick_spread_us"]["p99"], "spread_max": data["tick_spread_us"]["max"],
                           "ticks": data["tick_spread_us"]["ticks"],
                           "deliveries": f'{data["tick_spread_us"]["deliveries_min"]}..{data["tick_spread_us"]["deliveries_max"]}',
                           "latency_p50": data["latency_us"]["p50"], "latency_p99": data["latency_us"]["p99"],
                           "lost": data["lost"]}
                elif client == "tickspread":
                    command = [TICKSPREAD, "-P", str(port), "-c", str(subscribers), "-W", "1", "-d", str(seconds),
                               "-D", "1", "-B", "16"]
                    result = parse_result(subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120))
                    if result["lost"] != "0" or result["closed"] != "0":
                        raise RuntimeError(f"tickspread counted errors: {result}")
                    row = {"lps": float(result["lps"]), "spread_p50": float(result["kernel_p50_us"]),
                           "spread_p99": float(result["kernel_p99_us"]), "spread_max": float(result["kernel_max_us"]),
                           "user_p50": float(result["user_p50_us"]), "user_p99": float(result["user_p99_us"]),
                           "ticks": int(result["ticks"]),
                           "deliveries": f'{result["deliveries_min"]}..{result["deliveries_max"]}', "lost": 0}
                else:
                    result = loadgen(["-m", "broadcast", "-c", str(subscribers), "-B", "16", "-P", str(port),
                                      "-W", "1", "-d", str(seconds)])
                    if result.get("errors", "0") != "0":
                        raise RuntimeError(f"loadgen counted errors: {result}")
                    row = {"lps": float(result["lines_per_s"])}
                after = cpu_seconds(process.pid)
            finally:
                stop(process)
            row["server_cpu"] = after - before
            row["pressure"] = cpu_pressure()
            rows[client].append(row)
            print(f"  run {run + 1} {client}: {json.dumps(row)}", file=sys.stderr)
    return rows


def median_of(rows, key):
    return statistics.median(row[key] for row in rows)


def print_broadcast(rows, subscribers):
    expected = subscribers * 10
    print(f"| client | median lines/s | runs | vs {expected} expected | tick spread p50 | p99 | max "
          f"| ticks per run | subscribers per tick |")
    print("|---|---|---|---|---|---|---|---|---|")
    for client, runs in rows.items():
        lps = median_of(runs, "lps")
        lps_runs = ", ".join(f"{row['lps']:.0f}" for row in runs)
        if "spread_p50" in runs[0]:
            spread = (f"{median_of(runs, 'spread_p50') / 1000:.2f} ms | {median_of(runs, 'spread_p99') / 1000:.2f} ms "
                      f"| {median_of(runs, 'spread_max') / 1000:.2f} ms")
            ticks = ", ".join(str(row["ticks"]) for row in runs)
            deliveries = ", ".join(row["deliveries"] for row in runs)
        else:
            spread, ticks, deliveries = "- | - | -", "-", "-"
        print(f"| {client} | {lps:.0f} | {lps_runs} | {lps / expected:.2f}x | {spread} | {ticks} | {deliveries} |")
    print()
    print("Per run, spread p50 / p99 in ms (ring-client: batch reap time; tickspread: kernel receive time, "
          "then recvmsg return time); server CPU seconds over the run:")
    for client, runs in rows.items():
        for index, row in enumerate(runs):
            text = f"- {client} run {index + 1} ({row['pressure']} after it): server CPU {row['server_cpu']:.2f} s"
            if "spread_p50" in row:
                text += f", spread {row['spread_p50'] / 1000:.2f} / {row['spread_p99'] / 1000:.2f}"
            if "user_p50" in row:
                text += f", recvmsg {row['user_p50'] / 1000:.2f} / {row['user_p99'] / 1000:.2f}"
            if "latency_p50" in row:
                text += f", time= to arrival p50 {row['latency_p50'] / 1000:.2f} p99 {row['latency_p99'] / 1000:.2f}"
            print(text)


def run_relay(runs, seconds, clients, rate_per_client):
    """ringd --mode relay, 2 workers; ring-client bench relay with clients x rate lines/s."""
    rows = []
    for run in range(runs):
        port = free_port()
        process = start("ringd", port, 2, None, "relay")
        try:
            time.sleep(0.2)
            before = cpu_seconds(process.pid)
            command = [RING_CLIENT, "bench", "relay", "127.0.0.1", str(port), "-c", str(clients),
                       "--rate", str(clients * rate_per_client), "-t", "1", "-W", "1s", "-d", f"{seconds}s",
                       "--drain", "1s", "-q", "--json"]
            output = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
            after = cpu_seconds(process.pid)
        finally:
            stop(process)
        data = json.loads(output.stdout)
        row = {"dps": data["deliveries_per_second"], "p50": data["latency_us"]["p50"],
               "p99": data["latency_us"]["p99"], "max": data["latency_us"]["max"], "lost": data["lost"],
               "sent": data["lines_sent"], "expected": data["deliveries_expected"], "ok": data["ok"],
               "server_cpu": after - before, "pressure": cpu_pressure()}
        rows.append(row)
        print(f"  run {run + 1}: {json.dumps(row)}", file=sys.stderr)
        if not data["ok"]:
            raise RuntimeError(f"ring-client reported errors: {output.stdout} {output.stderr}")
    return rows


def print_relay(rows, clients, rate_per_client):
    expected = clients * rate_per_client * (clients - 1)
    print(f"| figure | median | runs |")
    print("|---|---|---|")
    print(f"| deliveries/s (expected {expected}) | {median_of(rows, 'dps'):.0f} | "
          + ", ".join(f"{row['dps']:.0f}" for row in rows) + " |")
    for key, label in (("p50", "fan-out latency p50"), ("p99", "fan-out latency p99"), ("max", "fan-out latency max")):
        print(f"| {label} | {median_of(rows, key) / 1000:.3f} ms | "
              + ", ".join(f"{row[key] / 1000:.3f}" for row in rows) + " |")
    print(f"| lost deliveries | {max(row['lost'] for row in rows)} (largest) | "
          + ", ".join(f"{row['lost']} of {row['expected']}" for row in rows) + " |")
    print(f"| server CPU s per run | {median_of(rows, 'server_cpu'):.2f} | "
          + ", ".join(f"{row['server_cpu']:.2f}" for row in rows) + " |")


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
    parser.add_argument("scenario", choices=list(SCENARIOS) + list(GREET_SCENARIOS) + ["idle-rss", "broadcast", "relay"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=None,
                        help="idle-rss: idle connections (10000); broadcast: subscribers (10000); relay: clients (100)")
    parser.add_argument("--count", type=int, default=None,
                        help="greet: connections per run instead of --seconds (e.g. 100000)")
    parser.add_argument("--rate", type=int, default=10, help="relay: lines per second each client sends")
    parser.add_argument("--baseline", default=None, help="a ringd binary to run as the server ringd-before")
    parser.add_argument("--servers", default=None,
                        help="comma-separated; greet also knows 'ringd {peer}'; broadcast takes clients: "
                             "ring-client,tickspread,loadgen")
    options = parser.parse_args()
    BASELINE["ringd"] = options.baseline
    subprocess.run(["make", "-s", "-C", SHARED], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["swift", "build", "-c", "release", "--product", "ringd"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    if options.scenario in ("broadcast", "relay"):
        subprocess.run(["swift", "build", "-c", "release", "--product", "ring-client"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tickspread.c")
        if not os.path.exists(TICKSPREAD) or os.path.getmtime(TICKSPREAD) < os.path.getmtime(source):
            subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-o", TICKSPREAD, source], check=True)
    if options.scenario in GREET_SCENARIOS:
        servers = (options.servers or "ringd,uring_server,epoll_server,ringd {peer}").split(",")
        print_greet(run_greet(options.scenario, servers, options.runs, options.seconds, options.count), servers)
        return
    if options.scenario == "broadcast":
        subscribers = options.connections or 10000
        clients = (options.servers or "ring-client,tickspread,loadgen").split(",")
        print_broadcast(run_broadcast(options.runs, options.seconds, subscribers, clients), subscribers)
        return
    if options.scenario == "relay":
        clients = options.connections or 100
        print_relay(run_relay(options.runs, options.seconds, clients, options.rate), clients, options.rate)
        return
    servers = (options.servers or "ringd,uring_server,epoll_server").split(",")
    options.connections = options.connections or 10000
    if options.scenario == "idle-rss":
        figures = run_idle_rss(servers, options.runs, options.connections)
        unit = "bytes of RSS per idle connection"
    else:
        if "nio" in servers:
            subprocess.run(["make", "-s", "-C", SHARED, "nio"], check=True, stdout=subprocess.DEVNULL)
        figures = run_throughput(options.scenario, servers, options.runs, options.seconds)
        unit = "MB/s" if options.scenario.startswith("bulk") else "req/s"
    reference_name = "uring_server" if "uring_server" in figures else servers[-1]
    reference = statistics.median(figures[reference_name])
    cpu_reference = statistics.median(figures[reference_name + " cpu"]) if reference_name + " cpu" in figures else None
    cpu_columns = " median server CPU us per request | runs | vs " + reference_name + " |" if cpu_reference else ""
    print(f"| server | median {unit} | runs | vs {reference_name} |{cpu_columns}")
    print("|---|---|---|---|" + ("---|---|---|" if cpu_reference else ""))
    for name in servers:
        median = statistics.median(figures[name])
        runs = ", ".join(f"{value:.0f}" for value in figures[name])
        row = f"| {name} | {median:.0f} | {runs} | {median / reference:.3f}x |"
        if cpu_reference:
            cpu = figures[name + " cpu"]
            row += f" {statistics.median(cpu):.2f} | {', '.join(f'{value:.2f}' for value in cpu)} | {statistics.median(cpu) / cpu_reference:.3f}x |"
        print(row)


if __name__ == "__main__":
    main()
