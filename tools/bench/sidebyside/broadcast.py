"""ringd alone, pushing to many clients: broadcast (10,000 subscribers, 100 ms ticks, read by
three clients in turn) and relay (line chat, fan-out latency and loss)."""
import json
import os
import statistics
import subprocess
import time

from .servers import start
from .system import BENCH_OUT, RING_CLIENT, cpu_pressure, cpu_seconds, free_port, loadgen, log, parse_result

TICKSPREAD = os.path.join(BENCH_OUT, "tickspread")


def build_tickspread():
    source = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tickspread.c")
    if not os.path.exists(TICKSPREAD) or os.path.getmtime(TICKSPREAD) < os.path.getmtime(source):
        subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-o", TICKSPREAD, source], check=True)


def median_of(rows, key):
    return statistics.median(row[key] for row in rows)


def run_broadcast(runs, seconds, subscribers, clients):
    """ringd --mode broadcast, 2 workers, 100 ms ticks; each run a fresh server and one client,
    the clients alternating. Every client reads for the window plus 1 s of drain."""
    settings = ["broadcast.interval=100ms"]
    rows = {client: [] for client in clients}
    for run in range(runs):
        for client in clients:
            port = free_port()
            server = start("ringd", port, 2, None, "broadcast", settings)
            try:
                time.sleep(0.2)
                before = cpu_seconds(server.pid)
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
                after = cpu_seconds(server.pid)
            finally:
                server.stop()
            row["server_cpu"] = after - before
            row["pressure"] = cpu_pressure()
            rows[client].append(row)
            log(f"  run {run + 1} {client}: {json.dumps(row)}")
    return rows


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
        server = start("ringd", port, 2, None, "relay")
        try:
            time.sleep(0.2)
            before = cpu_seconds(server.pid)
            command = [RING_CLIENT, "bench", "relay", "127.0.0.1", str(port), "-c", str(clients),
                       "--rate", str(clients * rate_per_client), "-t", "1", "-W", "1s", "-d", f"{seconds}s",
                       "--drain", "1s", "-q", "--json"]
            output = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
            after = cpu_seconds(server.pid)
        finally:
            server.stop()
        data = json.loads(output.stdout)
        row = {"dps": data["deliveries_per_second"], "p50": data["latency_us"]["p50"],
               "p99": data["latency_us"]["p99"], "max": data["latency_us"]["max"], "lost": data["lost"],
               "sent": data["lines_sent"], "expected": data["deliveries_expected"], "ok": data["ok"],
               "server_cpu": after - before, "pressure": cpu_pressure()}
        rows.append(row)
        log(f"  run {run + 1}: {json.dumps(row)}")
        if not data["ok"]:
            raise RuntimeError(f"ring-client reported errors: {output.stdout} {output.stderr}")
    return rows


def print_relay(rows, clients, rate_per_client):
    expected = clients * rate_per_client * (clients - 1)
    print("| figure | median | runs |")
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
