"""What every scenario needs from the machine: paths, ports, packages, descriptor limits, the
reference load generator, and a server's CPU time read from /proc."""
import os
import re
import resource
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "bench")
BENCH_OUT = "/tmp/ringd-bench"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The binaries under test; RINGD and RING_CLIENT name others (e.g. another worktree's build),
# and then the script builds neither.
RINGD = os.environ.get("RINGD") or os.path.join(ROOT, ".build", "release", "ringd")
RING_CLIENT = os.environ.get("RING_CLIENT") or os.path.join(ROOT, ".build", "release", "ring-client")
LOADGEN = os.path.join(BENCH_OUT, "loadgen")
FANOUT_CLIENT = os.path.join(BENCH_OUT, "fanout_client")
# Server on CPU 1, client on CPU 0: each has one CPU of its own.
SERVER_CPU, CLIENT_CPU = 1, 0


def log(text):
    print(text, file=sys.stderr, flush=True)


def build_ringd(products):
    """`swift build -c release` for each product not named by its environment variable."""
    for product, variable in (("ringd", "RINGD"), ("ring-client", "RING_CLIENT")):
        if product in products and not os.environ.get(variable):
            subprocess.run(["swift", "build", "-c", "release", "--product", product], cwd=ROOT, check=True,
                           stdout=subprocess.DEVNULL)


def install_packages(packages):
    """apt-get install whichever of the Debian packages is missing; `apt-get update` once first
    if the install fails (a fresh machine may have no package lists)."""
    missing = [package for package in packages
               if subprocess.run(["dpkg-query", "-W", "-f", "${Status}", package], capture_output=True,
                                 text=True).stdout != "install ok installed"]
    if not missing:
        return
    log(f"installing {' '.join(missing)}")
    apt = ["apt-get"] if os.geteuid() == 0 else ["sudo", "apt-get"]
    install = apt + ["install", "-y", "-qq", "--no-install-recommends"] + missing
    environment = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(install, env=environment, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(apt + ["update", "-qq"], env=environment, check=True)
        subprocess.run(install, env=environment, check=True, stdout=subprocess.DEVNULL)


def raise_descriptor_limit(needed):
    """RLIMIT_NOFILE of this process, and so of every server and client it starts, to at least
    `needed`: the soft limit up to the hard one, and the hard one too where that is allowed
    (root with CAP_SYS_RESOURCE); if it is not, the run fails or loses subscribers at the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard < needed:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
            return
        except (ValueError, OSError):
            log(f"RLIMIT_NOFILE: the hard limit {hard} cannot be raised to {needed}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, deadline=10.0):
    end = time.time() + deadline
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def pinned(command, cpu):
    return command if cpu is None else ["taskset", "-c", str(cpu)] + command


def parse_result(completed):
    """The key=value pairs of the `RESULT` line a C benchmark client prints."""
    line = next((line for line in completed.stdout.splitlines() if line.startswith("RESULT")), None)
    if line is None:
        raise RuntimeError(f"no RESULT line: {completed.stdout} {completed.stderr}")
    return dict(pair.split("=", 1) for pair in line.split()[1:])


def loadgen(args, cpu=None):
    command = pinned([LOADGEN] + args + ["-q"], cpu)
    return parse_result(subprocess.run(command, capture_output=True, text=True, timeout=700))


def process_tree(pid):
    """pid and all its descendants (nginx's master and workers), from /proc/*/stat."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(children.get(current, []))
    return tree


def cpu_seconds(pid):
    """utime + stime of the process tree under pid (every thread), from /proc/PID/stat."""
    total = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / CLOCK_TICKS


def run_nanoseconds(pid):
    """CPU time in ns of every thread of the process tree under pid (/proc/P/task/*/schedstat),
    finer than cpu_seconds' clock ticks."""
    total = 0
    for member in process_tree(pid):
        try:
            tasks = os.listdir(f"/proc/{member}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{member}/task/{task}/schedstat") as schedstat:
                    total += int(schedstat.read().split()[0])
            except OSError:
                pass
    return total


def middle_of_window(seconds):
    """The part of a measured window of `seconds` in which the server's CPU is read: its
    start and end trimmed by a tenth (at most 0.5 s), so connecting, ramping up and closing stay
    outside. Returns (offset from the window's start, length)."""
    trim = min(0.5, seconds / 10)
    return trim, seconds - 2 * trim


def cpu_over(pid, start, length):
    """Sleeps until the monotonic time `start`, then reads the CPU time of pid's process tree
    over `length` seconds. Returns (CPU ns, wall seconds actually elapsed)."""
    time.sleep(max(0.0, start - time.monotonic()))
    cpu_before, wall_before = run_nanoseconds(pid), time.monotonic()
    time.sleep(length)
    return run_nanoseconds(pid) - cpu_before, time.monotonic() - wall_before


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
