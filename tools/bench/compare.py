#!/usr/bin/env python3
"""Side-by-side benchmark of ringd against reference servers: ../shared/bench's C servers
(uring_server, epoll_server) and SwiftNIO peer, nginx's stream module, and Redis pub/sub.

Every run starts a fresh server and stops it after. Servers are interleaved (A B C A B C ...)
so machine noise falls on all of them alike, and each figure is the median of --runs runs.
Prints a Markdown table (medians, every run, ratios to uring_server or Redis) and, below it,
ringd's ratio to each other server; each run's figures go to stderr as it ends. The script
builds ringd (and ring-client where needed) in release mode, the references with
`make -C ../shared/bench`, and installs nginx and Redis from Debian's packages when missing.
RINGD=PATH and RING_CLIENT=PATH use those binaries instead of building them.

    tools/bench/compare.py echo-pinned      # 50 x 512 B ping-pong, server 1 thread on CPU 1, loadgen on
                                            # CPU 0: req/s and server CPU per request, vs uring_server,
                                            # epoll_server, SwiftNIO
    tools/bench/compare.py echo-rate        # the same at a fixed 40,000 req/s (ring-client bench echo
                                            # --rate, open loop): server CPU per request, latency
    tools/bench/compare.py bulk-pinned      # 10 x 200 KB messages, depth 4: MB/s, server CPU per message
    tools/bench/compare.py greet-pinned --count 100000
                                            # connect/greet/close, 1 server thread (nginx: 1 process) on
                                            # CPU 1: server CPU per connection, conn/s, vs nginx's stream
                                            # `return` too
    tools/bench/compare.py fanout           # 10,000 subscribers, a line each every 100 ms, ringd broadcast
                                            # vs Redis pub/sub (fanout_client): server CPU per delivered
                                            # line, lost deliveries, tick spread
    tools/bench/compare.py echo             # 2 server threads, 50 connections
    tools/bench/compare.py echo-1000        # 2 server threads, 1000 connections
    tools/bench/compare.py greet --count 100000         # connect/greet/close, 2 server threads
    tools/bench/compare.py idle-rss         # RSS growth per idle connection at 10,000
    tools/bench/compare.py broadcast        # ringd, 10,000 subscribers, 100 ms ticks: lines/s, spread
    tools/bench/compare.py relay            # ringd, 100 clients x 10 lines/s: deliveries, latency, loss
    tools/bench/compare.py relay-hosts      # 3 ringd hosts in network namespaces x 100 clients x 10 lines/s:
                                            # deliveries within and across hosts, latency, loss (root)
    tools/bench/compare.py broadcast-hosts  # PUBLISH ringd:broadcast 10 times a second to 2 ringd hosts x
                                            # 5,000 subscribers vs Redis serving the 10,000 itself (root)
    tools/bench/compare.py echo-pinned --baseline /tmp/ringd-before --servers ringd,ringd-before
                                            # a change against the ringd before it, side by side

Server CPU is the time of every thread of the server's process tree (nginx's master and
workers), from /proc/PID/task/*/schedstat. For echo, bulk and fan-out it is read over the
middle of the client's measured window (a tenth, at most 0.5 s, trimmed from each end) and
divided by the operations done in that time (the client's rate times the time read); for greet
it is read just before loadgen starts and just after it exits, and divided by its connections.

greet: every server sends the same 24 bytes (ringd and nginx `hello from ringd_server\\n`, no
placeholder); `ringd {peer}` (ringd's default template) and `ringd unpinned` are variants to
name in --servers. broadcast and relay have no reference server; broadcast alternates three
clients (ring-client, tools/bench/tickspread.c, loadgen) against a fresh ringd each run.

relay-hosts and broadcast-hosts run each ringd in a network namespace of its own with a shared
Redis in another (tools/cluster/netns.py, so they need root), and their clients,
tools/bench/hostclients.c, in a client namespace; see sidebyside/hosts.py.
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sidebyside import broadcast, echo, fanout, greet, hosts, servers  # noqa: E402
from sidebyside.system import SHARED, build_ringd  # noqa: E402

# Scenario: the servers it compares unless --servers names others.
DEFAULT_SERVERS = {
    "echo-pinned": "ringd,uring_server,epoll_server,nio",
    "echo": "ringd,uring_server,epoll_server",
    "echo-1000": "ringd,uring_server,epoll_server",
    "bulk-pinned": "ringd,uring_server,epoll_server,nio",
    "echo-rate": "ringd,uring_server,epoll_server,nio",
    "greet": "ringd,uring_server,epoll_server,nginx",
    "greet-pinned": "ringd,uring_server,epoll_server,nginx",
    "idle-rss": "ringd,uring_server,epoll_server",
    "fanout": "ringd,redis",
    "broadcast": "ring-client,tickspread,loadgen",
    "broadcast-hosts": "ringd,redis",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=list(DEFAULT_SERVERS) + ["relay", "relay-hosts"])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5, help="measured seconds per run (after 1 s of warm-up)")
    parser.add_argument("--connections", type=int, default=None,
                        help="idle-rss: idle connections (10000); broadcast, fanout, broadcast-hosts: subscribers "
                             "(10000); relay: clients (100); relay-hosts: clients per host (100)")
    parser.add_argument("--count", type=int, default=None,
                        help="greet: connections per run instead of --seconds (e.g. 100000)")
    parser.add_argument("--rate", type=int, default=None,
                        help="echo-rate: requests per second in total (40000); relay, relay-hosts: lines per "
                             "second each client sends (10); broadcast-hosts: PUBLISHes per second (10)")
    parser.add_argument("--hosts", type=int, default=None,
                        help="relay-hosts: ringd hosts (3); broadcast-hosts: ringd hosts sharing the subscribers (2)")
    parser.add_argument("--baseline", default=None, help="a ringd binary to run as the server ringd-before")
    parser.add_argument("--servers", default=None,
                        help="comma-separated, in the order they run; greet also knows 'ringd {peer}' and "
                             "'ringd unpinned'; broadcast takes clients: ring-client,tickspread,loadgen")
    options = parser.parse_args()
    scenario = options.scenario
    names = (options.servers or DEFAULT_SERVERS.get(scenario, "")).split(",")
    servers.BASELINE["ringd-before"] = options.baseline

    subprocess.run(["make", "-s", "-C", SHARED], check=True, stdout=subprocess.DEVNULL)
    build_ringd({"ringd"} | ({"ring-client"} if scenario in ("echo-rate", "broadcast", "relay") else set()))
    if scenario in ("relay-hosts", "broadcast-hosts"):
        hosts.require_root()
        hosts.build_hostclients()
    elif scenario not in ("broadcast", "relay"):
        servers.prepare(names)

    if scenario in echo.SATURATION:
        echo.print_saturation(scenario, echo.run_saturation(scenario, names, options.runs, options.seconds), names)
    elif scenario == "echo-rate":
        rate = options.rate or 40000
        echo.print_fixed_rate(echo.run_fixed_rate(names, options.runs, options.seconds, rate), names, rate)
    elif scenario == "idle-rss":
        echo.print_idle_rss(echo.run_idle_rss(names, options.runs, options.connections or 10000), names)
    elif scenario in greet.SCENARIOS:
        greet.print_greet(greet.run_greet(scenario, names, options.runs, options.seconds, options.count), names)
    elif scenario == "fanout":
        subscribers = options.connections or 10000
        fanout.print_fanout(fanout.run_fanout(names, options.runs, options.seconds, subscribers), names, subscribers)
    elif scenario == "broadcast":
        broadcast.build_tickspread()
        subscribers = options.connections or 10000
        broadcast.print_broadcast(broadcast.run_broadcast(options.runs, options.seconds, subscribers, names),
                                  subscribers)
    elif scenario == "relay-hosts":
        count, clients, rate = options.hosts or 3, options.connections or 100, options.rate or 10
        hosts.print_relay_hosts(hosts.run_relay_hosts(options.runs, options.seconds, count, clients, rate), count,
                                clients, rate)
    elif scenario == "broadcast-hosts":
        count, subscribers, rate = options.hosts or 2, options.connections or 10000, options.rate or 10
        figures = hosts.run_broadcast_hosts(names, options.runs, options.seconds, count, subscribers, rate)
        hosts.print_broadcast_hosts(figures, names, count, subscribers, rate)
    else:
        clients, rate = options.connections or 100, options.rate or 10
        broadcast.print_relay(broadcast.run_relay(options.runs, options.seconds, clients, rate), clients, rate)


if __name__ == "__main__":
    main()
