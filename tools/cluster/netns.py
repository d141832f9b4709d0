#!/usr/bin/env python3
"""Several ringd "hosts" on one machine, each in a network namespace of its own, sharing a Redis
in another: the cluster of README's `[cluster]` section, with real addresses and a real network
hop between hosts instead of ports on one loopback. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN).

    tools/cluster/netns.py up [--hosts 3] [--mode relay] [--workers 1] [--set TABLE.KEY=VALUE]...
    tools/cluster/netns.py up --foreground ...    # the same, torn down at Ctrl-C
    tools/cluster/netns.py status                 # what is up: namespaces, their processes
    tools/cluster/netns.py down                   # everything gone: processes, links, namespaces

The network: a namespace `ringdnet-switch` holds a bridge, and every other namespace has one
veth pair to it (its end named eth0), on 10.73.0.0/24, loopback up in each:

    ringdnet-redis     10.73.0.1   redis-server on :6379
    ringdnet-clients   10.73.0.2   nothing; run clients here (the benchmarks do)
    ringdnet-hostN     10.73.0.1N  one ringd on :7000 (metrics on :9464) with
                                   [cluster] redis = "10.73.0.1:6379", node = "hostN"

Nothing is added to the machine's own namespace, so its routes and links stay as they were,
and deleting the namespaces deletes every link (a veth goes with either end's namespace, the
bridge with its own). Each process is started with `ip netns exec`, in a session of its own
(a Ctrl-C at the terminal reaches this script, which then stops them in order), its
configuration and log in /tmp/ringdnet. Teardown stops every process left in a namespace
(`ip netns pids`: SIGTERM, then SIGKILL after 10 s) before deleting the namespaces; it runs on
exit, on Ctrl-C, on SIGTERM and on any error, and `up` first tears down whatever a killed run
left behind under the same prefix. Missing iproute2 or redis-server is installed through
apt-get, as tools/setup.sh does.

As a library (tools/bench/sidebyside/hosts.py): `with Network(hosts=3) as network:` makes the
namespaces and removes them after; `start_redis(network)` and `start_ringd(network, index,
mode, ...)` start one process each and return it running and ready (`.stop()` to end it); a
client goes under `network.exec(network.clients, [...])`.
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))

from sidebyside.system import RINGD, build_ringd, install_packages, log  # noqa: E402

PREFIX = "ringdnet"
SUBNET = "10.73.0"
STATE = "/tmp"
RINGD_PORT, METRICS_PORT, REDIS_PORT = 7000, 9464, 6379
STOP_SECONDS = 10


def ip(*arguments, check=True):
    return subprocess.run(["ip", *arguments], check=check, capture_output=True, text=True)


def namespaces_with(prefix):
    """The namespaces whose names start with `prefix-`, from `ip netns list`."""
    listed = ip("netns", "list").stdout.split("\n")
    return [line.split()[0] for line in listed if line.startswith(prefix + "-")]


def processes_in(namespace):
    return [int(pid) for pid in ip("netns", "pids", namespace, check=False).stdout.split()]


def remove_namespaces(prefix=PREFIX):
    """Stops every process in the namespaces under `prefix` (SIGTERM, SIGKILL after
    STOP_SECONDS) and deletes the namespaces, and so their links. Returns what it removed."""
    namespaces = namespaces_with(prefix)
    for signal_number in (signal.SIGTERM, signal.SIGKILL):
        pids = [pid for namespace in namespaces for pid in processes_in(namespace)]
        for pid in pids:
            try:
                os.kill(pid, signal_number)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + STOP_SECONDS
        while pids and time.monotonic() < deadline:
            pids = [pid for pid in pids if os.path.exists(f"/proc/{pid}")]
            time.sleep(0.05)
        if not pids:
            break
    for namespace in namespaces:
        ip("netns", "del", namespace)
    shutil.rmtree(os.path.join(STATE, prefix), ignore_errors=True)
    return namespaces


class Network:
    """The namespaces, the bridge and the veth pairs for `hosts` hosts (see the module's text)."""

    def __init__(self, hosts, prefix=PREFIX):
        if not 1 <= hosts <= 89:
            raise ValueError(f"--hosts must be between 1 and 89 (10.73.0.11 ... 10.73.0.99), not {hosts}")
        self.hosts, self.prefix = hosts, prefix
        self.switch, self.redis, self.clients = f"{prefix}-switch", f"{prefix}-redis", f"{prefix}-clients"
        self.redis_address, self.clients_address = f"{SUBNET}.1", f"{SUBNET}.2"
        self.directory = os.path.join(STATE, prefix)

    def host(self, index):
        """Host `index` (from 1): its namespace and its address."""
        return f"{self.prefix}-host{index}", f"{SUBNET}.{10 + index}"

    def endpoints(self):
        """(namespace, address, name of its port on the bridge) of everything but the switch."""
        yield self.redis, self.redis_address, "redis"
        yield self.clients, self.clients_address, "clients"
        for index in range(1, self.hosts + 1):
            namespace, address = self.host(index)
            yield namespace, address, f"host{index}"

    def exec(self, namespace, command):
        return ["ip", "netns", "exec", namespace, *command]

    def create(self):
        install_packages(["iproute2"])
        stale = remove_namespaces(self.prefix)
        if stale:
            log(f"netns: removed what an earlier run left: {', '.join(stale)}")
        try:
            os.makedirs(self.directory, exist_ok=True)
            ip("netns", "add", self.switch)
            ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
            ip("-n", self.switch, "link", "set", "br0", "up")
            for namespace, address, port in self.endpoints():
                ip("netns", "add", namespace)
                ip("link", "add", "eth0", "netns", namespace, "type", "veth", "peer", "name", port, "netns", self.switch)
                ip("-n", self.switch, "link", "set", port, "master", "br0", "up")
                ip("-n", namespace, "addr", "add", f"{address}/24", "dev", "eth0")
                ip("-n", namespace, "link", "set", "eth0", "up")
                ip("-n", namespace, "link", "set", "lo", "up")
        except subprocess.CalledProcessError as error:
            self.destroy()
            raise RuntimeError(f"netns: {' '.join(error.cmd)} failed: {error.stderr.strip()}") from None
        except BaseException:
            self.destroy()
            raise
        return self

    def destroy(self):
        remove_namespaces(self.prefix)

    def __enter__(self):
        return self.create()

    def __exit__(self, *exception):
        self.destroy()


class NamespacedProcess:
    """A server started with `ip netns exec` in a session of its own, its stdout and stderr in a
    log file that readiness is read from."""

    def __init__(self, name, network, namespace, command, cpu=None):
        self.name, self.log_path = name, os.path.join(network.directory, f"{name}.log")
        pinned = ["taskset", "-c", str(cpu)] + command if cpu is not None else command
        with open(self.log_path, "w") as log_file:
            self.process = subprocess.Popen(network.exec(namespace, pinned), stdin=subprocess.DEVNULL, stdout=log_file,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.process.pid  # ip netns exec and taskset exec the server: this is its pid

    def text(self):
        with open(self.log_path, errors="replace") as log_file:
            return log_file.read()

    def wait_for(self, text, count=1, deadline=15.0):
        """Waits until the log holds `text` `count` times; raises with the log if the process
        exits first or the deadline passes."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self.text().count(text) >= count:
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not log {text!r} {count} times (exit status {self.process.returncode}):\n"
                           f"{self.text()}")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_redis(network, port=REDIS_PORT, cpu=None, maxclients=10000):
    """redis-server in the Redis namespace on its address, persisting nothing. Protected mode is
    off: it refuses every client whose address is not loopback."""
    install_packages(["redis-server"])
    directory = os.path.join(network.directory, "redis")
    os.makedirs(directory, exist_ok=True)
    command = ["redis-server", "--port", str(port), "--bind", network.redis_address, "--protected-mode", "no",
               "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", directory, "--logfile", "",
               "--maxclients", str(maxclients)]
    return NamespacedProcess("redis", network, network.redis, command, cpu).wait_for("Ready to accept connections")


def host_configuration(network, index, mode, port, workers, metrics_port):
    """The configuration file of host `index`: its mode and address, the shared Redis, its node
    name; every other key keeps its default unless --set changes it."""
    _, address = network.host(index)
    metrics = f'\n[metrics]\nlisten = "{address}:{metrics_port}"\n' if metrics_port else ""
    text = f"""# host{index} of tools/cluster/netns.py, in namespace {network.host(index)[0]}
[server]
mode = "{mode}"
listen = ["{address}:{port}"]
workers = {workers}
{metrics}
[cluster]
redis = "{network.redis_address}:{REDIS_PORT}"
node = "host{index}"
"""
    path = os.path.join(network.directory, f"host{index}.toml")
    with open(path, "w") as file:
        file.write(text)
    return path


def start_ringd(network, index, mode, port=RINGD_PORT, workers=1, settings=(), cpu=None, metrics_port=None,
                ringd=RINGD):
    """ringd on host `index` with a generated configuration and `--set` for each setting,
    returned once it listens (wait_connected waits for its Redis connections)."""
    namespace, _ = network.host(index)
    configuration = host_configuration(network, index, mode, port, workers, metrics_port)
    command = [ringd, "--config", configuration]
    for setting in settings:
        command += ["--set", setting]
    return NamespacedProcess(f"host{index}", network, namespace, command, cpu).wait_for("listening on")


# The modes whose workers connect to Redis at start (relay too, since it spans hosts).
CLUSTER_MODES = ("counter", "broadcast", "relay")


def wait_connected(hosts, mode, workers, optional_seconds=2.0):
    """Waits until every worker of every host has logged its connection to Redis, so that a
    benchmark's first line finds every subscription in place. For a mode that need not connect
    (echo, greet), waits at most `optional_seconds` and goes on."""
    if mode in CLUSTER_MODES:
        for host in hosts:
            host.wait_for("connected to Redis at", count=workers)
        return True
    end = time.monotonic() + optional_seconds
    while time.monotonic() < end:
        if all(host.text().count("connected to Redis at") >= workers for host in hosts):
            return True
        time.sleep(0.05)
    return False


def stop_all(processes):
    for process in reversed(processes):
        process.stop()


def stop_on_signals():
    """SIGTERM and SIGHUP end the script the way Ctrl-C does, so every `finally` runs; and
    Ctrl-C does, even when the script was started with SIGINT ignored (`&` in a script)."""
    def leave(number, _frame):
        raise SystemExit(128 + number)
    signal.signal(signal.SIGTERM, leave)
    signal.signal(signal.SIGHUP, leave)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def up(options):
    if not os.environ.get("RINGD") and not os.path.exists(RINGD):
        build_ringd({"ringd"})
    network = Network(options.hosts).create()
    processes = []
    try:
        processes.append(start_redis(network))
        for index in range(1, options.hosts + 1):
            processes.append(start_ringd(network, index, options.mode, options.port, options.workers, options.set,
                                         metrics_port=options.metrics_port))
        if not wait_connected(processes[1:], options.mode, options.workers):
            log(f"netns: the hosts logged no connection to Redis: {options.mode} in this ringd stays on each host")
    except BaseException:
        stop_all(processes)
        network.destroy()
        raise
    print(f"redis    {network.redis_address}:{REDIS_PORT}  (namespace {network.redis}, pid {processes[0].pid})")
    for index in range(1, options.hosts + 1):
        namespace, address = network.host(index)
        metrics = f", metrics {address}:{options.metrics_port}" if options.metrics_port else ""
        print(f"host{index}    {address}:{options.port}  (namespace {namespace}, node host{index}, "
              f"pid {processes[index].pid}{metrics})")
    print(f"clients  {network.clients_address}  (namespace {network.clients}), e.g.:")
    print(f"  ip netns exec {network.clients} {os.path.join(os.path.dirname(RINGD), 'ring-client')} talk "
          f"{network.host(1)[1]} {options.port}")
    print(f"configuration and logs in {network.directory}")
    sys.stdout.flush()
    if not options.foreground:
        print("tools/cluster/netns.py down  stops it all")
        return
    print("Ctrl-C stops it all")
    try:
        while all(process.process.poll() is None for process in processes):
            time.sleep(0.5)
        exited = [process.name for process in processes if process.process.poll() is not None]
        log(f"netns: {', '.join(exited)} exited; see {network.directory}")
    finally:
        stop_all(processes)
        network.destroy()


def status():
    namespaces = namespaces_with(PREFIX)
    if not namespaces:
        print("nothing is up")
    for namespace in namespaces:
        addresses = ip("-n", namespace, "-4", "-o", "addr", "show", "dev", "eth0", check=False).stdout.split()
        address = addresses[3] if len(addresses) > 3 else "-"
        commands = []
        for pid in processes_in(namespace):
            try:
                with open(f"/proc/{pid}/cmdline") as cmdline:
                    commands.append(f"{pid} {cmdline.read().replace(chr(0), ' ').strip()}")
            except OSError:
                pass
        print(f"{namespace:18} {address:14} {'; '.join(commands) or '-'}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="make the namespaces, start Redis and one ringd per host")
    start.add_argument("--hosts", type=int, default=3)
    start.add_argument("--mode", default="relay", choices=["relay", "counter", "broadcast", "greet", "echo"])
    start.add_argument("--workers", type=int, default=1, help="ringd workers per host")
    start.add_argument("--port", type=int, default=RINGD_PORT)
    start.add_argument("--metrics-port", type=int, default=METRICS_PORT, help="0: no metrics endpoint")
    start.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE", help="passed to every ringd")
    start.add_argument("--foreground", action="store_true", help="stay until Ctrl-C, then tear everything down")
    commands.add_parser("down", help="stop every process in the namespaces and delete them")
    commands.add_parser("status", help="list the namespaces, their addresses and processes")
    options = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("netns: network namespaces need root")
    stop_on_signals()
    if options.command == "up":
        up(options)
    elif options.command == "down":
        removed = remove_namespaces()
        print(f"removed {', '.join(removed)}" if removed else "nothing was up")
    else:
        status()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
    except RuntimeError as error:  # a process that did not start: its log says why
        sys.exit(str(error))
