"""Across hosts: one ringd per host in tools/cluster/netns.py's network namespaces, sharing a Redis
in another, and the clients (tools/bench/hostclients.c, one epoll thread) in the client namespace,
so every line between a client and a host, and between a host and Redis, crosses a veth pair and
a bridge. Every run makes fresh processes (Redis and the hosts) on the same namespaces.

relay-hosts: HOSTS ringd (--mode relay, 1 worker each, unpinned) with CLIENTS clients each, each
client sending RATE lines/s. Deliveries within a host and across hosts are counted apart (a line
relayed across hosts goes through Redis): each kind's deliveries/s, latency from the line's due
time to its arrival, and lost lines. A ringd whose relay stays on one host delivers no line across
hosts: the table says so instead of failing. Server CPU: all the ringd processes, and Redis.

broadcast-hosts: PUBLISH PREFIX:broadcast RATE times a second (hostclients' publisher) to 2
ringd (--mode broadcast, 1 worker each, heartbeat off) with SUBSCRIBERS / 2 subscribers each,
against redis-server alone serving all SUBSCRIBERS (SUBSCRIBE hb) with the same publisher.
Servers on CPU 1 (both ringd and Redis), the client on CPU 0, as in the one-host fan-out. Server
CPU per delivered line: both ringd processes (beside it, the upstream Redis's own, which relays
each message to the 2 subscribed workers), or redis-server; read over the middle of the client's
window and divided by the lines delivered in that time.
"""
import json
import os
import subprocess
import sys
import time

from .system import BENCH_OUT, CLIENT_CPU, SERVER_CPU, cpu_pressure, log, middle_of_window, raise_descriptor_limit, \
    run_nanoseconds
from .tables import Column, median, print_table

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "cluster"))
import netns  # noqa: E402

HOSTCLIENTS = os.path.join(BENCH_OUT, "hostclients")
WARMUP_SECONDS, DRAIN_SECONDS = 1, 5
# Broadcast's own heartbeat, off for the run: the first tick would come after a day.
NO_HEARTBEAT = ["broadcast.interval=86400s", 'broadcast.message="heartbeat\\n"']
# hostclients starts its schedule this long after it prints READY.
SCHEDULE_OFFSET = 0.01


def build_hostclients():
    source = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "hostclients.c")
    if not os.path.exists(HOSTCLIENTS) or os.path.getmtime(HOSTCLIENTS) < os.path.getmtime(source):
        os.makedirs(BENCH_OUT, exist_ok=True)
        subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-o", HOSTCLIENTS, source], check=True)


def require_root():
    """Root, for the namespaces; and SIGTERM or SIGHUP end the run through its `finally`s, so
    the namespaces and processes go as on Ctrl-C."""
    if os.geteuid() != 0:
        raise SystemExit("the multi-host scenarios make network namespaces: run them as root")
    netns.stop_on_signals()


def run_client(network, arguments, pids, seconds, cpu=None):
    """hostclients in the client namespace. Once it prints READY, reads the CPU time of each of
    `pids` over the middle of its measured window; returns (its JSON, CPU ns per pid, wall s),
    and adds its own busy share of a CPU to the JSON as `client_cpu_share` (at 1.0 the client,
    not the servers, sets the pace)."""
    command = ([] if cpu is None else ["taskset", "-c", str(cpu)]) + [HOSTCLIENTS] + arguments
    client = subprocess.Popen(network.exec(network.clients, command), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        ready = client.stdout.readline()
        if ready.strip() != "READY":
            raise RuntimeError(f"hostclients did not start: {ready} {client.stderr.read()}")
        offset, length = middle_of_window(seconds)
        time.sleep(max(0.0, SCHEDULE_OFFSET + WARMUP_SECONDS + offset))
        watched = list(pids) + [client.pid]  # ip netns exec and taskset exec hostclients: its pid
        before, wall_before = [run_nanoseconds(pid) for pid in watched], time.monotonic()
        time.sleep(length)
        after, wall = [run_nanoseconds(pid) for pid in watched], time.monotonic() - wall_before
        stdout, stderr = client.communicate(timeout=seconds + WARMUP_SECONDS + DRAIN_SECONDS + 60)
    finally:
        if client.poll() is None:
            client.kill()
            client.wait()
    if client.returncode != 0 or not stdout.strip():
        raise RuntimeError(f"hostclients exited with {client.returncode}: {stdout} {stderr}")
    result, cpu = json.loads(stdout), [end - start for start, end in zip(before, after)]
    result["client_cpu_share"] = round(cpu.pop() / 1e9 / wall, 3)
    return result, cpu, wall


def common_arguments(seconds, rate):
    return ["-r", str(rate), "-W", str(WARMUP_SECONDS), "-d", str(seconds), "-D", str(DRAIN_SECONDS)]


def run_relay_hosts(runs, seconds, hosts, clients_per_host, rate_per_client):
    raise_descriptor_limit(hosts * clients_per_host + 1000)
    rows = []
    with netns.Network(hosts) as network:
        targets = ",".join(f"{network.host(index)[1]}:{netns.RINGD_PORT}" for index in range(1, hosts + 1))
        for run in range(runs):
            processes = [netns.start_redis(network)]
            try:
                for index in range(1, hosts + 1):
                    processes.append(netns.start_ringd(network, index, "relay", settings=["server.pin_workers=false"]))
                connected = netns.wait_connected(processes[1:], "relay", 1)
                arguments = ["relay", "-T", targets, "-c", str(clients_per_host)] + common_arguments(seconds,
                                                                                                   rate_per_client)
                result, cpu, wall = run_client(network, arguments, [process.pid for process in processes], seconds)
            finally:
                netns.stop_all(processes)
            same, cross = result["same_host"], result["cross_host"]
            delivered = same["per_second"] + cross["per_second"]
            row = {"same_dps": same["per_second"], "cross_dps": cross["per_second"],
                   "same_p50": same["latency_us"]["p50"], "same_p99": same["latency_us"]["p99"],
                   "cross_p50": cross["latency_us"]["p50"], "cross_p99": cross["latency_us"]["p99"],
                   "same_lost": same["lost"], "same_expected": same["expected"],
                   "cross_lost": cross["lost"], "cross_expected": cross["expected"],
                   "sent": result["lines_sent"], "echoed": result["echoed_to_sender"], "reordered": result["reordered"],
                   "closed": result["closed"], "settled": result["settled"], "connected_to_redis": connected,
                   "ringd_cpu_us": sum(cpu[1:]) / 1000 / (delivered * wall) if delivered else float("inf"),
                   "ringd_cpu_share": sum(cpu[1:]) / 1e9 / wall, "redis_cpu_share": cpu[0] / 1e9 / wall,
                   "client_cpu_share": result["client_cpu_share"], "pressure": cpu_pressure()}
            rows.append(row)
            log(f"  run {run + 1}: {json.dumps(row)}")
            if result["closed"] or result["echoed_to_sender"] or result["reordered"] or same["lost"]:
                raise RuntimeError(f"relay across hosts counted errors: {json.dumps(result)}")
    return rows


def runs_text(rows, key, scale=1.0, digits=0):
    return ", ".join(f"{row[key] / scale:.{digits}f}" for row in rows)


def print_relay_hosts(rows, hosts, clients_per_host, rate_per_client):
    clients = hosts * clients_per_host
    same_expected = clients * rate_per_client * (clients_per_host - 1)
    cross_expected = clients * rate_per_client * (clients - clients_per_host)
    print(f"{hosts} hosts x {clients_per_host} clients, each sending {rate_per_client} lines/s")
    print()
    print("| figure | median | runs |")
    print("|---|---|---|")
    median_of = lambda key: median(row[key] for row in rows)  # noqa: E731
    print(f"| deliveries/s within a host (expected {same_expected}) | {median_of('same_dps'):.0f} | "
          f"{runs_text(rows, 'same_dps')} |")
    print(f"| deliveries/s across hosts (expected {cross_expected}) | {median_of('cross_dps'):.0f} | "
          f"{runs_text(rows, 'cross_dps')} |")
    for kind, label in (("same", "within a host"), ("cross", "across hosts")):
        for percentile in ("p50", "p99"):
            key = f"{kind}_{percentile}"
            if all(row[f"{kind}_dps"] == 0 for row in rows):
                print(f"| latency {percentile} {label} | - | no deliveries |")
            else:
                print(f"| latency {percentile} {label} | {median_of(key) / 1000:.3f} ms | "
                      f"{runs_text(rows, key, 1000, 3)} |")
    for kind, label in (("same", "within a host"), ("cross", "across hosts")):
        lost = ", ".join(f"{row[f'{kind}_lost']} of {row[f'{kind}_expected']}" for row in rows)
        print(f"| lost lines {label} | {max(row[f'{kind}_lost'] for row in rows)} (largest) | {lost} |")
    print(f"| ringd CPU us per delivery (all hosts) | {median_of('ringd_cpu_us'):.2f} | "
          f"{runs_text(rows, 'ringd_cpu_us', digits=2)} |")
    print(f"| ringd CPU, all hosts (CPUs busy) | {median_of('ringd_cpu_share'):.2f} | "
          f"{runs_text(rows, 'ringd_cpu_share', digits=2)} |")
    print(f"| Redis CPU (CPUs busy) | {median_of('redis_cpu_share'):.3f} | "
          f"{runs_text(rows, 'redis_cpu_share', digits=3)} |")
    print(f"| hostclients CPU (CPUs busy; 1.00 = the client sets the pace) | {median_of('client_cpu_share'):.2f} | "
          f"{runs_text(rows, 'client_cpu_share', digits=2)} |")
    if all(row["cross_dps"] == 0 for row in rows):
        print()
        print("No line reached a client on another host: this ringd's relay stays on each host "
              f"(its workers {'did' if rows[0]['connected_to_redis'] else 'did not'} connect to Redis).")
    print()
    print("Per run: " + "; ".join(f"run {index + 1} {row['pressure']}, {row['sent']} lines sent"
                                  for index, row in enumerate(rows)))


def run_broadcast_hosts(servers, runs, seconds, hosts, subscribers, rate):
    raise_descriptor_limit(subscribers + 1000)  # Redis's --maxclients and the client hold one per subscriber
    figures = {name: {"cpu": [], "upstream_cpu": [], "lps": [], "lost": [], "spread_p50": [], "spread_p99": [],
                      "last_p50": [], "last_p99": []} for name in servers}
    per_host = subscribers // hosts
    with netns.Network(hosts) as network:
        redis_target = f"{network.redis_address}:{netns.REDIS_PORT}"
        for run in range(runs):
            for name in servers:
                processes = [netns.start_redis(network, cpu=SERVER_CPU, maxclients=subscribers + 100)]
                try:
                    if name == "redis":
                        arguments = ["subscribe", "-T", redis_target, "-c", str(subscribers), "-s", "-C", "hb"]
                    else:
                        for index in range(1, hosts + 1):
                            processes.append(netns.start_ringd(network, index, "broadcast", settings=NO_HEARTBEAT,
                                                               cpu=SERVER_CPU))
                        netns.wait_connected(processes[1:], "broadcast", 1)
                        targets = ",".join(f"{network.host(index)[1]}:{netns.RINGD_PORT}"
                                           for index in range(1, hosts + 1))
                        arguments = ["subscribe", "-T", targets, "-c", str(per_host), "-C", "ringd:broadcast"]
                    arguments += ["-p", redis_target] + common_arguments(seconds, rate)
                    result, cpu, wall = run_client(network, arguments, [process.pid for process in processes], seconds,
                                                   CLIENT_CPU)
                finally:
                    netns.stop_all(processes)
                lines = result["deliveries_per_second"] * wall
                server_cpu = sum(cpu[1:]) if name != "redis" else cpu[0]
                row = {"cpu": server_cpu / 1000 / lines if lines else float("inf"),
                       "upstream_cpu": cpu[0] / 1000 / lines if lines and name != "redis" else 0.0,
                       "lps": result["deliveries_per_second"], "lost": result["lost"],
                       "spread_p50": result["spread_us"]["p50"] / 1000, "spread_p99": result["spread_us"]["p99"] / 1000,
                       "last_p50": result["publish_to_last_us"]["p50"] / 1000,
                       "last_p99": result["publish_to_last_us"]["p99"] / 1000}
                for key, value in row.items():
                    figures[name][key].append(value)
                log(f"  run {run + 1} {name}: server CPU {row['cpu']:.2f} us/line over {wall:.2f} s, "
                    f"{json.dumps(result)}, {cpu_pressure()}")
                if result["closed"] or result["publish_failures"] or result["unknown"]:
                    raise RuntimeError(f"{name}: hostclients counted errors: {json.dumps(result)}")
    return figures


def print_broadcast_hosts(figures, servers, hosts, subscribers, rate):
    print(f"{subscribers} subscribers ({subscribers // hosts} on each of {hosts} ringd hosts, or all on Redis), "
          f"a PUBLISH {rate} times a second ({subscribers * rate} lines/s expected)")
    print()
    print_table(figures, servers, [
        Column("cpu", "server CPU us per delivered line", 2), Column("lps", "lines/s", 0),
        Column("lost", "lost deliveries", 0, ratio=False),
        Column("spread_p50", "first-to-last spread p50 ms", 2), Column("spread_p99", "spread p99 ms", 2),
        Column("last_p50", "PUBLISH to last arrival p50 ms", 2)],
        reference="redis")
    if "ringd" in servers:
        upstream = figures["ringd"]["upstream_cpu"]
        print()
        print(f"- beside ringd, the upstream Redis (one message to {hosts} subscribed workers): "
              f"{median(upstream):.3f} us per delivered line ({', '.join(f'{value:.3f}' for value in upstream)})")
