"""netns - hosts in Linux network namespaces, joined by a bridge, for the
multi-host tests

    net = Network(["router", "client", "node01", ...])
    net.create()                       # namespaces, a switch, one address each
    net.popen("node01", [...])         # a program inside node01's namespace
    net.cut("node01") / net.mend("node01")   # ip link set ... down / up
    net.destroy()                      # every namespace (and its processes) gone

Every host gets its own namespace with loopback up and one veth whose
other end sits in a private "switch" namespace, on a bridge there. Nothing
is created in the namespace the test runs in. The subnet below exists only
inside these namespaces. A partition is the switch's port of the host set
down (`ip link set ... down`): packets from and to the host are dropped,
the host's own interface stays configured, so its programs see a silent
network, as across real hosts.

Names: every namespace is "smh<pid>-<host>", so leftovers of an earlier
run (killed before its teardown) are found by prefix and removed at start
(only those whose pid is no longer running). Teardown kills what runs in
each namespace and deletes it; it runs on normal exit, on an exception,
on SIGINT/SIGTERM (turned into an exception) and from atexit.
"""

import atexit
import os
import re
import signal
import subprocess
import time

PREFIX = "smh"
#   The test-only subnet: it exists only inside the namespaces created here
SUBNET_PREFIX = "198.18.77."
SUBNET_BITS = 24


def _ip(*args, check=True):
    done = subprocess.run(["ip"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=30)
    if check and done.returncode != 0:
        raise RuntimeError("ip %s: %s" % (" ".join(args), done.stderr.decode().strip()))
    return done.stdout.decode()


def can_run():
    """(True, "") if this process may create network namespaces, else
    (False, why)."""
    if os.geteuid() != 0:
        return False, "not root (network namespaces need CAP_SYS_ADMIN)"
    if subprocess.run(["which", "ip"], stdout=subprocess.DEVNULL).returncode != 0:
        return False, "no `ip` (iproute2)"
    probe = "%s%d-probe" % (PREFIX, os.getpid())
    made = subprocess.run(["ip", "netns", "add", probe], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    if made.returncode != 0:
        return False, "cannot create a network namespace: %s" % made.stderr.decode().strip()
    subprocess.run(["ip", "netns", "del", probe], stderr=subprocess.DEVNULL)
    return True, ""


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _kill_namespace(name):
    """SIGKILL every process in namespace name, then delete it."""
    pids = _ip("netns", "pids", name, check=False).split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    deadline = time.monotonic() + 5
    while pids and time.monotonic() < deadline:
        pids = _ip("netns", "pids", name, check=False).split()
        if pids:
            time.sleep(0.05)
    _ip("netns", "del", name, check=False)


def clean_leftovers():
    """Delete the namespaces of earlier runs whose process is gone.
    Returns their names."""
    removed = []
    for line in _ip("netns", "list", check=False).splitlines():
        name = line.split()[0] if line.split() else ""
        match = re.match(r"^%s(\d+)-" % PREFIX, name)
        if match and not _pid_alive(int(match.group(1))):
            _kill_namespace(name)
            removed.append(name)
    return removed


class Network:
    """hosts: host names (letters, digits; at most 8 characters)."""

    def __init__(self, hosts):
        self.tag = "%s%d" % (PREFIX, os.getpid())
        self.hosts = list(hosts)
        self.address = {host: "%s%d" % (SUBNET_PREFIX, 10 + index)
                        for index, host in enumerate(self.hosts)}
        self.port = {host: "p%d" % index for index, host in enumerate(self.hosts)}
        self.switch = "%s-switch" % self.tag
        self.created = []
        self.procs = []
        self.down = set()
        self._old_handlers = {}

    def ns(self, host):
        return "%s-%s" % (self.tag, host)

    def create(self):
        clean_leftovers()
        atexit.register(self.destroy)
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old_handlers[sig] = signal.signal(sig, self._on_signal)
        _ip("netns", "add", self.switch)
        self.created.append(self.switch)
        _ip("-n", self.switch, "link", "set", "lo", "up")
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")
        for host in self.hosts:
            name = self.ns(host)
            _ip("netns", "add", name)
            self.created.append(name)
            _ip("-n", name, "link", "set", "lo", "up")
            _ip("-n", name, "link", "add", "eth0", "type", "veth", "peer", "name",
                self.port[host], "netns", self.switch)
            _ip("-n", name, "addr", "add", "%s/%d" % (self.address[host], SUBNET_BITS), "dev", "eth0")
            _ip("-n", name, "link", "set", "eth0", "up")
            _ip("-n", self.switch, "link", "set", self.port[host], "master", "br0")
            _ip("-n", self.switch, "link", "set", self.port[host], "up")
        self.down.discard(host)

    def _on_signal(self, signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)

    def popen(self, host, command, **kwargs):
        """A program inside host's namespace (subprocess.Popen arguments)."""
        proc = subprocess.Popen(["ip", "netns", "exec", self.ns(host)] + list(command), **kwargs)
        self.procs.append(proc)
        return proc

    def run(self, host, command, timeout=60, **kwargs):
        return subprocess.run(["ip", "netns", "exec", self.ns(host)] + list(command),
                              timeout=timeout, **kwargs)

    def cut(self, host):
        """Partition host: its switch port down."""
        _ip("-n", self.switch, "link", "set", self.port[host], "down")
        self.down.add(host)

    def mend(self, host):
        """Heal host's partition."""
        _ip("-n", self.switch, "link", "set", self.port[host], "up")
        self.down.discard(host)

    def destroy(self):
        """Kill what runs in the namespaces and delete them (idempotent)."""
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    proc.kill()
                    proc.wait(timeout=5)
                except (OSError, subprocess.TimeoutExpired):
                    pass
        self.procs = []
        for name in reversed(self.created):
            _kill_namespace(name)
        self.created = []
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        self._old_handlers = {}

    def leftover(self):
        """Namespaces of this network that still exist."""
        names = [line.split()[0] for line in _ip("netns", "list", check=False).splitlines()
                 if line.split()]
        return [name for name in names if name.startswith(self.tag + "-")]
