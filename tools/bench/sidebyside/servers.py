"""The servers compared: how each is started on a free port (pinned or not) and stopped.

ringd and the references in ../shared/bench serve echo and greet; nginx's stream module serves
greet (a `return` server); redis-server serves pub/sub for the fan-out scenario. nginx and Redis
are installed from Debian's packages when missing and get a temporary directory each run for
their configuration, pid file and logs."""
import glob
import os
import re
import shutil
import signal
import subprocess
import tempfile

from .system import BENCH_OUT, RINGD, SHARED, install_packages, pinned, wait_listening

# `--baseline PATH`: another ringd binary, run as the server "ringd-before".
BASELINE = {"ringd-before": None}
# SwiftNIO's echo peer, built by `make -C ../shared/bench nio` (done when a scenario names it).
NIO = os.path.join(SHARED, "peers", "nio-echo", ".build", "release", "NIOEchoBench")

# The references greet with "hello from uring_server\n" and "hello from epoll_server\n" (24 bytes).
# ringd and nginx get a line of the same length with no placeholder, so every server sends the
# same bytes.
GREETING = "hello from ringd_server\n"
# The same line each fan-out tick, from ringd's template and from the Redis publisher.
FANOUT_MESSAGE = "seq={seq} time={time} clients={clients}"

# Server variants by label: (program, mode, ringd --set settings).
GREET_SERVERS = {
    "ringd": ("ringd", "greet", [f'greet.message="{GREETING[:-1]}\\n"']),
    "uring_server": ("uring_server", "greet", []),
    "epoll_server": ("epoll_server", "greet", []),
    "nginx": ("nginx", "greet", []),
    "ringd {peer}": ("ringd", "greet", []),
    # Workers left where the scheduler puts them, as the references' threads are.
    "ringd unpinned": ("ringd", "greet", [f'greet.message="{GREETING[:-1]}\\n"', "server.pin_workers=false"]),
    "ringd-before": ("ringd-before", "greet", [f'greet.message="{GREETING[:-1]}\\n"']),
}


class Server:
    """A started server: its process (for nginx with a master, the master; CPU is read over
    the whole process tree) and the directory it writes to, removed when it stops."""

    def __init__(self, name, process, directory=None):
        self.name, self.process, self.directory = name, process, directory

    @property
    def pid(self):
        return self.process.pid

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)


def start(program, port, threads, cpu=None, mode="echo", settings=()):
    """Starts `program` on 127.0.0.1:port with `threads` threads (or worker processes), under
    `taskset -c cpu` when cpu is given, and waits until it accepts connections."""
    directory = tempfile.mkdtemp(prefix=f"bench-{program}-") if program in ("nginx", "redis") else None
    command = pinned(server_command(program, port, threads, mode, settings, directory), cpu)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server = Server(program, process, directory)
    if not wait_listening(port) or process.poll() is not None:  # exited: the port is someone else's
        process.kill()
        process.wait()
        details = process.stderr.read().decode()
        for log_file in glob.glob(os.path.join(directory or "/nonexistent", "*.log")):  # nginx's, Redis's
            with open(log_file) as file:
                details += file.read()
        shutil.rmtree(directory or "/nonexistent", ignore_errors=True)
        raise RuntimeError(f"{program} did not start: {' '.join(command)}\n{details}")
    return server


def server_command(program, port, threads, mode, settings, directory):
    if program in ("ringd", "ringd-before"):
        binary = BASELINE["ringd-before"] if program == "ringd-before" else RINGD
        if binary is None:
            raise ValueError("ringd-before needs --baseline PATH")
        command = [binary, "--listen", f"127.0.0.1:{port}", "--workers", str(threads), "--mode", mode]
        for setting in settings:
            command += ["--set", setting]
        return command
    if program in ("uring_server", "epoll_server"):
        return [os.path.join(BENCH_OUT, program), "-m", mode, "-P", str(port), "-t", str(threads)]
    if program == "nio":
        return [NIO, mode, str(port), str(threads)]
    if program == "nginx":
        if mode != "greet":
            raise ValueError("nginx serves greet only (a stream `return` server)")
        return nginx_command(port, threads, directory)
    if program == "redis":
        return redis_command(port, directory) + list(settings)
    raise ValueError(f"unknown server {program}")


def nginx_command(port, threads, directory):
    """nginx in the foreground with a stream server that answers every connection with GREETING
    and closes. One thread: master_process off, so one process does all the work, like the
    other servers' one thread; more: a master and `threads` workers, each with its own
    SO_REUSEPORT listener."""
    config = os.path.join(directory, "nginx.conf")
    with open(config, "w") as file:
        file.write(f"""load_module {stream_module()};
daemon off;
master_process {"off" if threads == 1 else "on"};
worker_processes {threads};
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 4096; }}
stream {{
    server {{
        listen 127.0.0.1:{port} reuseport;
        return "{GREETING[:-1]}\\n";
    }}
}}
""")
    return ["nginx", "-p", directory, "-c", config, "-e", os.path.join(directory, "error.log")]


def stream_module():
    """The path of nginx's stream module: Debian's libnginx-mod-stream puts it in
    /usr/lib/nginx/modules and names it in /etc/nginx/modules-enabled."""
    path = "/usr/lib/nginx/modules/ngx_stream_module.so"
    if os.path.exists(path):
        return path
    for enabled in glob.glob("/etc/nginx/modules-enabled/*.conf"):
        with open(enabled) as file:
            found = re.search(r"load_module\s+(\S*ngx_stream_module\.so)", file.read())
        if found:
            return os.path.join("/usr/share/nginx", found.group(1))  # relative to nginx's prefix
    raise RuntimeError("nginx's stream module not found (libnginx-mod-stream)")


def redis_command(port, directory):
    """redis-server on 127.0.0.1:port in the foreground, persisting nothing; the caller adds
    `--maxclients N` (Redis lowers it to what RLIMIT_NOFILE allows, and says so in its log).
    Protected mode is off because it refuses every client whose address is not exactly
    127.0.0.1, and the subscribers come from 127.0.0.1 ... 127.0.0.16 (-B 16)."""
    return ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--protected-mode", "no",
            "--save", "", "--appendonly", "no", "--daemonize", "no",
            "--dir", directory, "--logfile", os.path.join(directory, "redis.log")]


def prepare(servers):
    """Builds or installs what the named servers need."""
    programs = {GREET_SERVERS.get(name, (name,))[0] for name in servers}
    if "nio" in programs:
        subprocess.run(["make", "-s", "-C", SHARED, "nio"], check=True, stdout=subprocess.DEVNULL)
    if "nginx" in programs:
        install_packages(["nginx-light", "libnginx-mod-stream"])
        stream_module()
    if "redis" in programs:
        install_packages(["redis-server"])
    unknown = programs - {"ringd", "ringd-before", "uring_server", "epoll_server", "nio", "nginx", "redis"}
    if unknown:
        raise SystemExit(f"unknown server(s): {', '.join(sorted(unknown))}")
