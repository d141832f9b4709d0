"""Fan-out: one line to each of many subscribers every 100 ms, ringd's broadcast mode against
Redis pub/sub carrying the same line, both on CPU 1 with ../shared/bench's fanout_client on
CPU 0.

ringd renders `seq={seq} time={time} clients={clients}` on its own timer; for Redis a publisher
thread in this script sends `PUBLISH hb "seq=N time=T clients=C"` on the same schedule (its
CPU is its own, not the server's). fanout_client counts, per seq, how many subscribers got it
(lost deliveries) and the spread from first to last arrival. Server CPU per delivered line: the
CPU of the server's process tree over the middle of the client's window, divided by the lines
delivered in that time."""
import json
import os
import socket
import subprocess
import threading
import time

from .servers import FANOUT_MESSAGE, start
from .system import (CLIENT_CPU, FANOUT_CLIENT, SERVER_CPU, cpu_over, cpu_pressure, free_port, log,
                     middle_of_window, pinned, raise_descriptor_limit)
from .tables import Column, print_table

TICK_SECONDS = 0.1
WARMUP_SECONDS = 1
CHANNEL = "hb"


class RedisPublisher(threading.Thread):
    """PUBLISH hb "seq=N ..." every TICK_SECONDS on a fixed schedule (a late tick is sent at
    once, never skipped), reading each reply: the number of subscribers it reached, kept with
    the time it was sent."""

    def __init__(self, port, subscribers):
        super().__init__(daemon=True)
        self.connection = socket.create_connection(("127.0.0.1", port))
        self.replies = self.connection.makefile("rb")
        self.subscribers, self.reached, self.stopping = subscribers, [], threading.Event()

    def run(self):
        start, seq = time.monotonic(), 0
        while not self.stopping.is_set():
            seq += 1
            self.stopping.wait(max(0.0, start + seq * TICK_SECONDS - time.monotonic()))
            message = FANOUT_MESSAGE.format(seq=seq, time=f"{time.time():.6f}", clients=self.subscribers)
            self.connection.sendall(command("PUBLISH", CHANNEL, message))
            reply = self.replies.readline()
            if not reply.startswith(b":"):
                raise RuntimeError(f"PUBLISH answered {reply!r}")
            self.reached.append((time.monotonic(), int(reply[1:])))

    def reached_between(self, start, end):
        """`least..most` subscribers a PUBLISH sent between the monotonic times reached."""
        counts = [count for sent, count in self.reached if start <= sent < end] or [0]
        return f"{min(counts)}..{max(counts)}"

    def stop(self):
        self.stopping.set()
        self.join(timeout=5)
        self.connection.close()


def command(*words):
    """A Redis command in RESP: an array of bulk strings."""
    encoded = [word.encode() for word in words]
    return b"*%d\r\n" % len(encoded) + b"".join(b"$%d\r\n%s\r\n" % (len(word), word) for word in encoded)


def start_server(name, port, subscribers):
    if name == "redis":
        return start("redis", port, 1, SERVER_CPU, "pubsub", ["--maxclients", str(subscribers + 100)])
    settings = [f"broadcast.interval={int(TICK_SECONDS * 1000)}ms", f'broadcast.message="{FANOUT_MESSAGE}\\n"']
    return start(name, port, 1, SERVER_CPU, "broadcast", settings)


def wait_connected(client, subscribers, deadline=120.0):
    """Waits until fanout_client holds a descriptor for every subscriber (after its 3 standard
    ones and its epoll): its window starts WARMUP_SECONDS after its last connect."""
    end = time.monotonic() + deadline
    while time.monotonic() < end and client.poll() is None:
        try:
            if len(os.listdir(f"/proc/{client.pid}/fd")) >= subscribers + 4:
                return time.monotonic()
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"fanout_client did not connect {subscribers} subscribers: {client.communicate()}")


def run_fanout(servers, runs, seconds, subscribers):
    raise_descriptor_limit(subscribers + 1000)  # each of server and client holds one per subscriber
    figures = {name: {"cpu": [], "lps": [], "lost": [], "spread_p50": [], "spread_p99": []} for name in servers}
    for run in range(runs):
        for name in servers:
            port = free_port()
            server = start_server(name, port, subscribers)
            publisher = RedisPublisher(port, subscribers) if name == "redis" else None
            try:
                if publisher:
                    publisher.start()
                command_line = pinned([FANOUT_CLIENT, "-P", str(port), "-c", str(subscribers), "-B", "16",
                                       "-W", str(WARMUP_SECONDS), "-d", str(seconds),
                                       "-m", "redis" if name == "redis" else "lines"], CLIENT_CPU)
                client = subprocess.Popen(command_line, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                connected = wait_connected(client, subscribers)
                offset, length = middle_of_window(seconds)
                window = connected + WARMUP_SECONDS
                cpu_ns, wall = cpu_over(server.pid, window + offset, length)
                stdout, stderr = client.communicate(timeout=seconds + 120)
            finally:
                if publisher:
                    publisher.stop()
                server.stop()
            if client.returncode != 0 or not stdout.strip():
                raise RuntimeError(f"{name}: fanout_client exited with {client.returncode}: {stdout} {stderr}")
            result = json.loads(stdout)
            cpu_us = cpu_ns / 1000 / (result["messages_per_s"] * wall) if result["messages_per_s"] else float("inf")
            row = {"cpu": cpu_us, "lps": result["messages_per_s"], "lost": result["lost"],
                   "spread_p50": result["spread_p50_ms"], "spread_p99": result["spread_p99_ms"]}
            for key, value in row.items():
                figures[name][key].append(value)
            reached = f", PUBLISH reached {publisher.reached_between(window, window + seconds)}" if publisher else ""
            log(f"  run {run + 1} {name}: server CPU {cpu_us:.2f} us/line over {wall:.2f} s, {stdout.strip()}"
                f"{reached}, {cpu_pressure()}")
    return figures


def print_fanout(figures, servers, subscribers):
    print(f"{subscribers} subscribers, a line each every {TICK_SECONDS * 1000:.0f} ms "
          f"({subscribers / TICK_SECONDS:.0f} lines/s expected)")
    print()
    print_table(figures, servers, [
        Column("cpu", "server CPU us per delivered line", 2), Column("lps", "lines/s", 0),
        Column("lost", "lost deliveries", 0, ratio=False),
        Column("spread_p50", "tick spread p50 ms", 2), Column("spread_p99", "tick spread p99 ms", 2)],
        reference="redis")
