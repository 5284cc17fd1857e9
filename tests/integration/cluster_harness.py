"""cluster_harness - a real Strata cluster on loopback, for integration tests

Starts N strata-node processes (``--cluster FILE --name nodeNN --data-dir
DIR``) and one strata-router (``--cluster FILE``) on free loopback ports, in
a temporary directory, and waits until every node answers ``ping`` and the
router reports every node reachable. Everything it starts is stopped (or
killed) again, also when a test fails or the file's watchdog fires.

    from cluster_harness import Cluster, ClusterTestCase, run_main

    with Cluster(nodes=10) as cluster:          # or cluster.start()/.stop()
        result = cluster.strata("put", "key", "-", input=b"data")
        cluster.node(3).stop()                  # SIGTERM, wait, check exit 0
        cluster.node(3).start()                 # same ports and data dir
        client = cluster.router_client()        # a DEALER speaking ROUTER.md
        reply, frames = client.request({"message-type": "ping"})

What is here:

    Cluster             the cluster: cluster file, nodes, router, the CLI
    ClusterNode         one strata-node: start, stop, kill, ping, stats
    ClusterRouter       the strata-router process: start, stop, kill
    RouterClient        a DEALER socket speaking cluster/ROUTER.md:
                        request (), put (), get (), versions (), delete (),
                        ping ()
    ClusterTestCase     unittest.TestCase with one cluster per test class
                        (class attributes choose its size and settings),
                        printing the logs of a failed test
    run_main ()         entry point with an overall watchdog

Environment: STRATA_BUILD_DIR (default /work/main/build) holds strata-node,
strata-router and strata. STRATA_KEEP_CLUSTER=1 keeps the temporary
directory (logs, data) for a post-mortem. Only the standard library, pyzmq
and msgpack are used.
"""

import base64
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

import msgpack
import zmq

BUILD_DIR = os.environ.get("STRATA_BUILD_DIR", "/work/main/build")
NODE_BINARY = os.path.join(BUILD_DIR, "strata-node")
ROUTER_BINARY = os.path.join(BUILD_DIR, "strata-router")
CLI_BINARY = os.path.join(BUILD_DIR, "strata")

READY_TIMEOUT = 30.0        # seconds for the whole cluster to come up
STOP_TIMEOUT = 20.0         # seconds a process has to exit after SIGTERM
REPLY_TIMEOUT = 60.0        # seconds RouterClient waits for a reply
SUITE_TIMEOUT = 280         # seconds a whole test file may take (watchdog)

# Every process started by this module, so cleanup and the watchdog can
# kill what is left.
_ALL_PROCESSES = []
_ALL_PROCESSES_LOCK = threading.Lock()


def _register(proc):
    with _ALL_PROCESSES_LOCK:
        _ALL_PROCESSES.append(proc)


def kill_all():
    """SIGKILL every process this module started that is still running."""
    with _ALL_PROCESSES_LOCK:
        for proc in _ALL_PROCESSES:
            if proc.poll() is None:
                try:
                    proc.kill()
                    proc.wait(timeout=5)
                except (OSError, subprocess.TimeoutExpired):
                    pass


def free_ports(count):
    """count distinct TCP ports on 127.0.0.1 that were free a moment ago."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def md5_b64(data):
    """Standard base64 of the raw MD5 (the protocol's digest form)."""
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def new_key(prefix="key"):
    return "%s-%s" % (prefix, uuid.uuid4().hex)


def payload(size, seed=0):
    """size deterministic pseudo-random bytes (fast for large sizes)."""
    block = hashlib.sha256(b"strata-%d" % seed).digest()
    chunk = bytearray()
    counter = 0
    while len(chunk) < min(size, 1 << 16):
        chunk += hashlib.sha256(block + counter.to_bytes(8, "little")).digest()
        counter += 1
    chunk = bytes(chunk)
    repeats = size // len(chunk) + 1 if chunk else 0
    data = bytearray(chunk * repeats)[:size]
    # make repeated blocks differ so a misplaced block is caught
    for offset in range(0, size, 1 << 16):
        data[offset:offset + 8] = offset.to_bytes(8, "little")[:min(8, size - offset)]
    return bytes(data)


def cluster_file_text(name, data_shards, nodes, router_listen, router_settings=None,
                      router_extra=None):
    """The ZPL text of a cluster file (docs/architecture.md, "The cluster file"). nodes is a
    list of (name, writer, reader). router_extra: ZPL text appended to the
    router section as is (e.g. a `curve` subsection, indented 4)."""
    lines = [
        "#   written by cluster_harness.py",
        "cluster",
        "    name = %s" % name,
        "    data-shards = %d" % data_shards,
        "    total-shards = %d" % len(nodes),
        "    nodes",
    ]
    for node_name, writer, reader in nodes:
        lines += [
            "        %s" % node_name,
            "            writer = %s" % writer,
            "            reader = %s" % reader,
        ]
    lines += ["router", "    listen = %s" % router_listen]
    for key, value in (router_settings or {}).items():
        lines.append("    %s = %s" % (key, value))
    if router_extra:
        lines.append(router_extra.rstrip("\n"))
    return "\n".join(lines) + "\n"


class _Process:
    """A program started with its output in a log file."""

    def __init__(self, label, log_path):
        self.label = label
        self.log_path = log_path
        self.proc = None
        self.expect_running = False
        self.starts = 0

    def _spawn(self, command, cwd):
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(("\n=== start %d: %s\n" % (self.starts, " ".join(command))).encode())
            log.flush()
            self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, cwd=cwd)
        _register(self.proc)
        self.expect_running = True

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def terminate(self):
        """SIGTERM, without waiting."""
        self.expect_running = False
        if self.running():
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait. Returns the exit code; kills the process and
        raises AssertionError if it does not exit in time."""
        self.terminate()
        if self.proc is None:
            return 0
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("%s did not exit within %.0f s of SIGTERM" % (self.label, timeout))

    def kill(self):
        """SIGKILL and reap (nothing if not running)."""
        self.expect_running = False
        if self.running():
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def finish(self):
        """End of a test: stop if running; returns a list of problems (died
        unexpectedly, did not stop on SIGTERM, exit code not 0)."""
        problems = []
        if self.proc is None:
            return problems
        if self.expect_running:
            code = self.proc.poll()
            if code is not None:
                problems.append("%s exited unexpectedly with code %d" % (self.label, code))
            else:
                try:
                    code = self.stop()
                    if code != 0:
                        problems.append("%s exited %d on SIGTERM" % (self.label, code))
                except AssertionError as error:
                    problems.append(str(error))
        self.kill()
        return problems

    def log_text(self):
        try:
            with open(self.log_path, "rb") as handle:
                return handle.read().decode("utf-8", "replace")
        except OSError:
            return "(no log)"


class ClusterNode(_Process):
    """One strata-node of the cluster. index is 0-based; the node stores
    segment-num index + 1."""

    def __init__(self, cluster, index, name, writer, reader):
        super().__init__(name, os.path.join(cluster.workdir, "%s.log" % name))
        self.cluster = cluster
        self.index = index
        self.name = name
        self.writer = writer
        self.reader = reader
        self.data_dir = os.path.join(cluster.workdir, "data", name)

    def command(self):
        command = [NODE_BINARY, "--cluster", self.cluster.cluster_path, "--name", self.name,
                   "--data-dir", self.data_dir]
        if self.cluster.node_config:
            path = os.path.join(self.cluster.workdir, "%s.cfg" % self.name)
            with open(path, "w") as handle:
                handle.write(self.cluster.node_config(self))
            command += ["--config", path]
        return command

    def start(self, wait=True, timeout=READY_TIMEOUT):
        """Start (again, same ports and data dir); with wait, until it
        answers ping."""
        self._spawn(self.command(), self.cluster.workdir)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise AssertionError("%s exited with code %s before answering ping\n%s"
                                     % (self.name, self.proc.returncode, self.log_text()[-3000:]))
            reply = self.ping(timeout=0.5)
            if reply is not None:
                # A parallel test's process may hold this port: only our
                # own node counts as ready
                if reply.get("node-name") != self.name:
                    raise AssertionError("%s: port taken by another node (%r answered)"
                                         % (self.name, reply.get("node-name")))
                return
        raise AssertionError("%s did not answer ping within %.0f s" % (self.name, timeout))

    def _request(self, header, endpoint, timeout):
        """One node-protocol request; the reply header, or None on timeout."""
        context = self.cluster.context
        pull = context.socket(zmq.PULL)
        push = context.socket(zmq.PUSH)
        try:
            for sock in (pull, push):
                sock.setsockopt(zmq.LINGER, 0)
                self.cluster.curve_socket(sock)
            port = pull.bind_to_random_port("tcp://127.0.0.1")
            push.connect(endpoint)
            header = dict(header)
            header.update({"message-id": uuid.uuid4().hex, "client-tag": "cluster-harness",
                           "client-address": "tcp://127.0.0.1:%d" % port})
            push.send(msgpack.packb(header, use_bin_type=True))
            deadline = time.monotonic() + timeout
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not pull.poll(int(remaining * 1000)):
                    return None
                frames = pull.recv_multipart()
                reply = msgpack.unpackb(frames[0], raw=False, strict_map_key=False)
                if reply.get("message-id") == header["message-id"]:
                    return reply
        finally:
            pull.close()
            push.close()

    def ping(self, timeout=2.0):
        """The node's ping-reply (writer endpoint), or None."""
        return self._request({"message-type": "ping"}, self.writer, timeout)

    def stats(self, timeout=5.0):
        """The node's stats map, or None."""
        reply = self._request({"message-type": "stats"}, self.writer, timeout)
        return None if reply is None else reply.get("stats")


class ClusterRouter(_Process):
    """The strata-router of the cluster."""

    def __init__(self, cluster):
        super().__init__("strata-router", os.path.join(cluster.workdir, "router.log"))
        self.cluster = cluster

    def command(self):
        return [ROUTER_BINARY, "--cluster", self.cluster.cluster_path]

    def start(self, wait=True, timeout=READY_TIMEOUT):
        self._spawn(self.command(), self.cluster.workdir)
        if wait:
            self.cluster.wait_router(timeout)
        return self


class RouterError(AssertionError):
    """No reply in time, or a reply that is not a map."""


class RouterClient:
    """A DEALER connected to the router, speaking cluster/ROUTER.md. Not
    thread-safe: one per thread."""

    def __init__(self, context, endpoint, timeout=REPLY_TIMEOUT, curve_keys=None):
        self.endpoint = endpoint
        self.timeout = timeout
        self.sock = context.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if curve_keys:
            (self.sock.curve_serverkey, self.sock.curve_publickey,
             self.sock.curve_secretkey) = curve_keys
        self.sock.connect(endpoint)
        self.early = {}                 # replies that came before their recv

    def close(self):
        self.sock.close()

    def send(self, header, frames=()):
        """Send a request (request-id added unless given); returns it."""
        header = dict(header)
        header.setdefault("request-id", uuid.uuid4().hex)
        self.sock.send_multipart([msgpack.packb(header, use_bin_type=True)] + list(frames))
        return header

    def recv(self, request_id, timeout=None):
        """The reply to request_id as (header, data frames); replies to
        other requests are kept for their own recv, so requests in flight
        together may be answered in any order."""
        if request_id in self.early:
            return self.early.pop(request_id)
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.sock.poll(int(remaining * 1000)):
                raise RouterError("no reply from the router at %s within %.1f s"
                                  % (self.endpoint, timeout))
            frames = self.sock.recv_multipart()
            header = msgpack.unpackb(frames[0], raw=False, strict_map_key=False)
            if not isinstance(header, dict):
                raise RouterError("router reply is not a map: %r" % (header,))
            if header.get("request-id") == request_id:
                return header, frames[1:]
            if len(self.early) < 10000:
                self.early[header.get("request-id")] = (header, frames[1:])

    def request(self, header, frames=(), timeout=None):
        sent = self.send(header, frames)
        return self.recv(sent["request-id"], timeout)

    def ping(self, timeout=None):
        return self.request({"message-type": "ping"}, timeout=timeout)[0]

    def put(self, key, data, collection_id=0, meta=None, frame_size=1 << 20):
        """put-reply header of a whole-object put."""
        header = {"message-type": "put", "collection-id": collection_id, "key": key}
        if meta is not None:
            header["meta"] = meta
        frames = [data[offset:offset + frame_size] for offset in range(0, len(data), frame_size)]
        return self.request(header, frames)[0]

    def get(self, key, collection_id=0, unified_id=None):
        """(first reply header, whole data) of a get; data is None on a
        failure, whose reply is then the header returned."""
        header = {"message-type": "get", "collection-id": collection_id, "key": key}
        if unified_id is not None:
            header["unified-id"] = unified_id
        reply, frames = self.request(header)
        if reply.get("result") != "success":
            return reply, None
        first = reply
        data = [b"".join(frames)]
        while not reply.get("completed"):
            reply, frames = self.request({
                "message-type": "get-next", "collection-id": collection_id, "key": key,
                "unified-id": first["unified-id"], "slice-num": reply["slice-num"] + 1})
            if reply.get("result") != "success":
                return reply, None
            data.append(b"".join(frames))
        return first, b"".join(data)

    def versions(self, key, collection_id=0):
        return self.request({"message-type": "list-versions", "collection-id": collection_id,
                             "key": key})[0]

    def delete(self, key, collection_id=0, unified_id=None):
        header = {"message-type": "delete", "collection-id": collection_id, "key": key}
        if unified_id is not None:
            header["unified-id"] = unified_id
        return self.request(header)[0]


class Cluster:
    """nodes strata-node processes (k = data_shards) and a strata-router on
    loopback, in workdir (a new temporary directory unless given).
    router_settings are extra keys of the cluster file's router section.
    node_config: a function (ClusterNode) -> ZPL text passed to each node
    with --config (None: no --config). router_extra: ZPL text appended to
    the router section. curve_keys: (cluster public, client public, client
    secret) Z85 keys the harness's own sockets use as CURVE clients."""

    def __init__(self, nodes=10, data_shards=8, name="test", workdir=None,
                 router_settings=None, start_router=True, node_config=None,
                 router_extra=None, curve_keys=None):
        self.node_config = node_config
        self.router_extra = router_extra
        self.curve_keys = curve_keys
        self.node_count = nodes
        self.data_shards = data_shards
        self.name = name
        self.own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="strata-cluster-")
        self.router_settings = dict(router_settings or {})
        self.start_router = start_router
        self.cluster_path = os.path.join(self.workdir, "cluster.cfg")
        self.context = zmq.Context()
        self.nodes = []
        self.router = None
        self.router_endpoint = None
        self.clients = []
        self.started = False

    # -- lifecycle ----------------------------------------------------------

    def _layout(self):
        ports = free_ports(2 * self.node_count + 1)
        self.router_endpoint = "tcp://127.0.0.1:%d" % ports[0]
        self.nodes = []
        entries = []
        for index in range(self.node_count):
            name = "node%02d" % (index + 1)
            writer = "tcp://127.0.0.1:%d" % ports[1 + 2 * index]
            reader = "tcp://127.0.0.1:%d" % ports[2 + 2 * index]
            self.nodes.append(ClusterNode(self, index, name, writer, reader))
            entries.append((name, writer, reader))
        with open(self.cluster_path, "w") as handle:
            handle.write(cluster_file_text(self.name, self.data_shards, entries,
                                           self.router_endpoint, self.router_settings,
                                           self.router_extra))
        self.router = ClusterRouter(self)

    def start(self, timeout=READY_TIMEOUT):
        """Start every node, then the router; wait until all nodes answer
        ping and the router sees them all. Retries twice with fresh ports
        (another program may take a port between choosing and binding)."""
        for binary in [NODE_BINARY] + ([ROUTER_BINARY] if self.start_router else []):
            if not os.access(binary, os.X_OK):
                raise AssertionError("%s not found (set STRATA_BUILD_DIR)" % binary)
        errors = []
        for _attempt in range(3):
            self._layout()
            try:
                for node in self.nodes:
                    node.start(wait=False)
                for node in self.nodes:
                    node.wait_ready(timeout)
                if self.start_router:
                    self.router.start(wait=True, timeout=timeout)
                self.started = True
                return self
            except AssertionError as error:
                errors.append(str(error)[:2000])
                self._kill_everything()
        raise AssertionError("the cluster did not come up:\n" + "\n".join(errors))

    def wait_router(self, timeout=READY_TIMEOUT, reachable=None):
        """Wait until the router answers ping and reports at least
        `reachable` nodes (default: all) reachable. Returns the ping-reply."""
        wanted = self.node_count if reachable is None else reachable
        deadline = time.monotonic() + timeout
        client = RouterClient(self.context, self.router_endpoint, curve_keys=self.curve_keys)
        last = None
        try:
            while time.monotonic() < deadline:
                if not self.router.running():
                    raise AssertionError("strata-router exited with code %s\n%s"
                                         % (self.router.proc.returncode,
                                            self.router.log_text()[-3000:]))
                try:
                    last = client.ping(timeout=0.5)
                except RouterError:
                    continue
                nodes = last.get("nodes") or []
                if sum(1 for node in nodes if node.get("reachable")) >= wanted:
                    return last
                time.sleep(0.1)
        finally:
            client.close()
        raise AssertionError("the router did not report %d reachable nodes within %.0f s "
                             "(last ping-reply: %r)" % (wanted, timeout, last))

    def _kill_everything(self):
        for proc in ([self.router] if self.router else []) + self.nodes:
            proc.kill()

    def stop(self):
        """Stop the router, then the nodes (SIGTERM, wait). Returns a list of
        problems: processes that died during the test, did not stop in time,
        or exited non-zero."""
        problems = []
        for client in self.clients:
            client.close()
        self.clients = []
        if self.router is not None:
            problems += self.router.finish()
        # SIGTERM every node at once, then wait for each
        pending = []
        for node in self.nodes:
            if node.proc is None:
                continue
            if node.expect_running and node.proc.poll() is not None:
                problems.append("%s exited unexpectedly with code %d"
                                % (node.name, node.proc.returncode))
            elif node.running():
                node.proc.send_signal(signal.SIGTERM)
                pending.append((node, node.expect_running))
            node.expect_running = False
        for node, expected in pending:
            try:
                code = node.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                problems.append("%s did not exit within %.0f s of SIGTERM"
                                % (node.name, STOP_TIMEOUT))
                node.kill()
                continue
            if code != 0 and expected:
                problems.append("%s exited %d on SIGTERM" % (node.name, code))
        self.started = False
        return problems

    def cleanup(self):
        """Stop everything (killing what does not stop), close sockets and
        remove the working directory (unless STRATA_KEEP_CLUSTER is set)."""
        problems = []
        try:
            problems = self.stop()
        finally:
            self._kill_everything()
            self.context.destroy(linger=0)
            if self.own_workdir and not os.environ.get("STRATA_KEEP_CLUSTER"):
                shutil.rmtree(self.workdir, ignore_errors=True)
        return problems

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        problems = self.cleanup()
        if problems and exc[0] is None:
            raise AssertionError("; ".join(problems))
        return False

    # -- access ------------------------------------------------------------

    def node(self, index):
        """The node at 0-based index (stores segment-num index + 1)."""
        return self.nodes[index]

    def curve_socket(self, sock):
        """Make sock a CURVE client with curve_keys (if any); before connect/bind."""
        if self.curve_keys:
            sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = self.curve_keys

    def router_client(self, timeout=REPLY_TIMEOUT, curve_keys=None):
        client = RouterClient(self.context, self.router_endpoint, timeout,
                              curve_keys=curve_keys if curve_keys is not None else self.curve_keys)
        self.clients.append(client)
        return client

    def strata(self, *args, input=None, stdin=None, timeout=120, env=None, router=True):
        """Run the strata CLI (with --router set to this cluster's unless
        router is False) and return the CompletedProcess (stdout and stderr
        as bytes)."""
        command = [CLI_BINARY] + list(args)
        if router and args and args[0] in ("put", "get", "rm", "versions", "ping") \
                and "--router" not in args:
            command[2:2] = ["--router", self.router_endpoint]
        environment = dict(os.environ)
        environment.update(env or {})
        return subprocess.run(command, input=input, stdin=stdin, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout, env=environment)

    def logs(self, limit=8000):
        """The tail of every log, for a failure report."""
        parts = []
        for proc in ([self.router] if self.router else []) + self.nodes:
            parts.append("----- %s -----\n%s" % (proc.label, proc.log_text()[-limit:]))
        return "\n".join(parts)


class ClusterTestCase(unittest.TestCase):
    """One cluster per test class, started in setUpClass and stopped in
    tearDownClass (which fails the class if a process died or did not stop
    cleanly). Class attributes: node_count, data_shards, router_settings.
    A failed test prints the tails of the logs."""

    node_count = 10
    data_shards = 8
    router_settings = {}
    cluster = None

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(nodes=cls.node_count, data_shards=cls.data_shards,
                              router_settings=cls.router_settings)
        try:
            cls.cluster.start()
        except BaseException:
            cls.cluster.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        problems = cls.cluster.cleanup()
        if problems:
            raise AssertionError("; ".join(problems))

    def run(self, result=None):
        if result is None:
            result = self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        try:
            return super().run(result)
        finally:
            if len(result.failures) + len(result.errors) > before and self.cluster:
                sys.stderr.write("\n===== logs (%s) =====\n%s\n===== end of logs =====\n"
                                 % (self.id(), self.cluster.logs()))


def _watchdog(seconds):
    def fire():
        sys.stderr.write("\ncluster_harness: test file exceeded %d s; killing the cluster\n"
                         % seconds)
        kill_all()
        sys.stderr.flush()
        os._exit(3)
    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return timer


def run_main(binaries=(NODE_BINARY, ROUTER_BINARY, CLI_BINARY)):
    """Run the calling module's tests under a watchdog; exit non-zero on
    any failure or when a binary is missing."""
    for binary in binaries:
        if not os.access(binary, os.X_OK):
            sys.stderr.write("FAIL: %s not found (or not executable); build it first or "
                             "set STRATA_BUILD_DIR\n" % binary)
            sys.exit(2)
    timer = _watchdog(int(os.environ.get("STRATA_IT_SUITE_TIMEOUT", SUITE_TIMEOUT)))
    try:
        program = unittest.main(module="__main__", exit=False, verbosity=2)
    finally:
        timer.cancel()
        kill_all()
    sys.exit(0 if program.result.wasSuccessful() else 1)
