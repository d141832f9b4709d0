"""Greet and close: loadgen's connect loops (connect, read until EOF, close) against servers
that send one 24-byte line and close; connections/s and server CPU per connection."""
from .servers import GREET_SERVERS, start
from .system import CLIENT_CPU, SERVER_CPU, cpu_pressure, cpu_seconds, free_port, loadgen, log, run_nanoseconds
from .tables import Column, print_table

SCENARIOS = {
    # name: (server threads, server cpu, loadgen args, loadgen cpu)
    "greet": (2, None, ["-m", "connect", "-c", "50", "-B", "50", "-t", "1"], None),
    "greet-pinned": (1, SERVER_CPU, ["-m", "connect", "-c", "50", "-B", "50", "-t", "1"], CLIENT_CPU),
}


def run_greet(scenario, servers, runs, seconds, count):
    """The server's CPU time (its whole process tree, from schedstat) is read just before
    loadgen starts and just after it exits: connect loops have no warm-up, so every connection
    loadgen made is in the window. With `count`, every run makes that many connections (at most
    600 s), so each run has about a second of server CPU to measure however busy the machine
    is. The log also gives utime + stime (clock ticks) as a cross-check."""
    threads, server_cpu, args, client_cpu = SCENARIOS[scenario]
    limit = ["-n", str(count), "-d", "600"] if count else ["-d", str(seconds)]
    figures = {name: {"cps": [], "cpu": []} for name in servers}
    for run in range(runs):
        for name in servers:
            program, mode, settings = GREET_SERVERS[name]
            port = free_port()
            server = start(program, port, threads, server_cpu, mode, settings)
            try:
                before, before_ns = cpu_seconds(server.pid), run_nanoseconds(server.pid)
                result = loadgen(args + ["-P", str(port)] + limit, client_cpu)
                after, after_ns = cpu_seconds(server.pid), run_nanoseconds(server.pid)
            finally:
                server.stop()
            if result.get("failed", "0") != "0" or result.get("empty", "0") != "0":
                raise RuntimeError(f"{name}: loadgen counted failures: {result}")
            connections = int(result["ok"])
            cpu_us = (after_ns - before_ns) / 1000 / connections
            figures[name]["cps"].append(float(result["cps"]))
            figures[name]["cpu"].append(cpu_us)
            log(f"  run {run + 1} {name}: {float(result['cps']):.0f} conn/s, {connections} connections, "
                f"server CPU {(after_ns - before_ns) / 1e9:.2f} s = {cpu_us:.2f} us/connection "
                f"(utime+stime {(after - before) * 1e6 / connections:.2f}), bytes {result['bytes']}, {cpu_pressure()}")
    return figures


def print_greet(figures, servers):
    print_table(figures, servers, [Column("cpu", "server CPU us per connection", 2), Column("cps", "conn/s", 0)])
