"""strata_harness - shared helpers for the strata-node integration tests

Starts the real strata-node on free loopback ports in a temporary data
directory, and talks to it the way any protocol user does (proto/PROTOCOL.md): a
PUSH socket connected to the node's writer (or reader) endpoint, and a PULL
socket bound on a free loopback port whose address travels in the request's
`client-address`. Replies are multipart: frame 0 a MessagePack map, then data.

What a test file uses:

    StrataTestCase      unittest.TestCase that starts a node per test (class
                        attributes choose config, cluster, environment),
                        bounds every test with an alarm, stops the node in
                        cleanup (checking it is still alive and exits 0 on
                        SIGTERM), and prints the node's log when a test fails.
    Node                one strata-node process (start, stop, kill, restart).
    Client              a requester: send (), recv (), request (), ping (),
                        stats (), retrieve ().
    Segment             builds archive-key-* headers for one segment.
    run_main ()         the `if __name__ == "__main__"` entry point: checks the
                        binary exists, runs unittest under an overall
                        watchdog, exits non-zero on any failure.

Environment: STRATA_BUILD_DIR (default /work/main/build) holds strata-node.
Only the standard library, pyzmq and msgpack are used.
"""

import base64
import datetime
import hashlib
import itertools
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
import zlib

import msgpack
import zmq

BUILD_DIR = os.environ.get("STRATA_BUILD_DIR", "/work/main/build")
NODE_BINARY = os.path.join(BUILD_DIR, "strata-node")

REPLY_TIMEOUT = 5.0         # seconds a test waits for an ordinary reply
READY_TIMEOUT = 10.0        # seconds a node has to answer its first ping
STOP_TIMEOUT = 10.0         # seconds a node has to exit after SIGTERM
TEST_TIMEOUT = 90           # seconds any one test may take (alarm)
SUITE_TIMEOUT = 280         # seconds a whole test file may take (watchdog)

RESULT_CODES = (
    "success", "size-mismatch", "md5-mismatch", "invalid-request",
    "unknown-message-type", "unknown-node", "unknown-segment",
    "duplicate-segment", "not-found", "out-of-space", "io-error", "overloaded",
    "cluster-mismatch",
)

STATS_KEYS = (
    "requests", "results", "bytes-stored", "value-files", "segments",
    "active-segments", "queue-depth", "syncs", "sync-latency-us",
    "replies-dropped", "requests-dropped",
)

# Every node started by this process, so the watchdog can kill them all.
_ALL_PROCESSES = []
_ALL_PROCESSES_LOCK = threading.Lock()


# --------------------------------------------------------------------------
#   Small helpers

def md5_b64(data):
    """Standard base64 of the 16 raw MD5 bytes (the nimbus.io digest form)."""
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


def md5_bin(data):
    """The 16 raw MD5 bytes (the MessagePack bin digest form)."""
    return hashlib.md5(data).digest()


def iso_now(offset_seconds=0.0):
    """Current UTC time as ISO 8601 with microseconds and Z."""
    moment = datetime.datetime.now(datetime.timezone.utc) \
        + datetime.timedelta(seconds=offset_seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_uid_lock = threading.Lock()
_uid_counter = itertools.count(int(time.time() * 1000000) << 8)


def new_unified_id():
    """A fresh, increasing unified-id (fits in uint64)."""
    with _uid_lock:
        return next(_uid_counter)


def new_key(prefix="key"):
    return "%s-%s" % (prefix, uuid.uuid4().hex)


def new_message_id():
    return uuid.uuid4().hex


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def split_frames(payload, count):
    """Split payload into `count` non-empty pieces of uneven sizes (fewer if
    the payload is shorter than count). Concatenation gives back payload."""
    if not payload:
        return []
    count = max(1, min(count, len(payload)))
    cuts = set()
    step = len(payload) / count
    for index in range(1, count):
        # uneven but deterministic cut points
        jitter = int(step * 0.4 * (((index * 7919) % 11) - 5) / 5)
        cut = int(index * step) + jitter
        if 0 < cut < len(payload):
            cuts.add(cut)
    points = [0] + sorted(cuts) + [len(payload)]
    frames = [payload[a:b] for a, b in zip(points, points[1:]) if b > a]
    assert b"".join(frames) == payload
    return frames


class Raw:
    """A value already encoded as MessagePack, for pack_map ()."""

    def __init__(self, data):
        self.data = data


def pack_map(pairs):
    """Encode a MessagePack map from (key, value) pairs, where keys and values
    may be Raw (pre-encoded bytes). Lets a test send wide integer formats,
    invalid UTF-8, non-string keys and other things msgpack.packb won't."""
    pairs = list(pairs.items()) if isinstance(pairs, dict) else list(pairs)
    out = bytearray()
    if len(pairs) < 16:
        out.append(0x80 | len(pairs))
    elif len(pairs) < 65536:
        out += b"\xde" + struct.pack(">H", len(pairs))
    else:
        out += b"\xdf" + struct.pack(">I", len(pairs))
    for key, value in pairs:
        for item in (key, value):
            if isinstance(item, Raw):
                out += item.data
            else:
                out += msgpack.packb(item, use_bin_type=True)
    return bytes(out)


def wide_uint(value):
    """value encoded as MessagePack uint64 (0xcf) whatever its size."""
    return Raw(b"\xcf" + struct.pack(">Q", value))


def wide_int(value):
    """value encoded as MessagePack int64 (0xd3) whatever its size or sign."""
    return Raw(b"\xd3" + struct.pack(">q", value))


def raw_str(data):
    """bytes encoded as a MessagePack str (no UTF-8 check)."""
    if len(data) < 32:
        return Raw(bytes([0xa0 | len(data)]) + data)
    if len(data) < 256:
        return Raw(b"\xd9" + bytes([len(data)]) + data)
    return Raw(b"\xda" + struct.pack(">H", len(data)) + data)


# --------------------------------------------------------------------------
#   Segment: headers for one segment's archive messages

class Segment:
    """Builds the archive-key-* headers of one segment (proto/PROTOCOL.md, "Archiving (writer endpoint)").

    Tracks the payload of each sequence so that `final` can carry the whole
    object's file-size and file-hash."""

    def __init__(self, key=None, unified_id=None, collection_id=1,
                 segment_num=1, conjoined_part=0, source="node01",
                 handoff=None, timestamp=None):
        self.key = key if key is not None else new_key()
        self.unified_id = unified_id if unified_id is not None else new_unified_id()
        self.collection_id = collection_id
        self.segment_num = segment_num
        self.conjoined_part = conjoined_part
        self.source = source
        self.handoff = handoff
        self.timestamp = timestamp if timestamp is not None else iso_now()
        self.payloads = []      # payload of each sequence sent so far

    def identity(self):
        """The fields that name the segment (cancel uses only these)."""
        return {
            "unified-id": self.unified_id,
            "conjoined-part": self.conjoined_part,
            "segment-num": self.segment_num,
        }

    def _sequence(self, message_type, payload, **extra):
        header = {
            "message-type": message_type,
            "collection-id": self.collection_id,
            "key": self.key,
            "unified-id": self.unified_id,
            "timestamp-repr": self.timestamp,
            "conjoined-part": self.conjoined_part,
            "segment-num": self.segment_num,
            "segment-size": len(payload),
            "zfec-padding-size": 0,
            "segment-md5-digest": md5_b64(payload),
            "segment-adler32": zlib.adler32(payload),
            "source-node-name": self.source,
            "handoff-node-name": self.handoff,
        }
        header.update(extra)
        return header

    def entire(self, payload, **extra):
        whole = {
            "file-size": len(payload),
            "file-adler32": zlib.adler32(payload),
            "file-hash": md5_b64(payload),
        }
        whole.update(extra)
        return self._sequence("archive-key-entire", payload, **whole)

    def start(self, payload, sequence_num=0, **extra):
        self.payloads = [payload]
        return self._sequence("archive-key-start", payload,
                              **dict({"sequence-num": sequence_num}, **extra))

    def next(self, payload, sequence_num, **extra):
        self.payloads.append(payload)
        return self._sequence("archive-key-next", payload,
                              **dict({"sequence-num": sequence_num}, **extra))

    def final(self, payload, sequence_num, **extra):
        self.payloads.append(payload)
        whole_payload = b"".join(self.payloads)
        whole = {
            "sequence-num": sequence_num,
            "file-size": len(whole_payload),
            "file-adler32": zlib.adler32(whole_payload),
            "file-hash": md5_b64(whole_payload),
        }
        whole.update(extra)
        return self._sequence("archive-key-final", payload, **whole)

    def cancel(self, **extra):
        header = {"message-type": "archive-key-cancel"}
        header.update(self.identity())
        header.update(extra)
        return header

    def retrieve_start(self, **extra):
        header = {
            "message-type": "retrieve-key-start",
            "collection-id": self.collection_id,
            "key": self.key,
            "unified-id": self.unified_id,
            "conjoined-part": self.conjoined_part,
            "segment-num": self.segment_num,
        }
        header.update(extra)
        return header


def destroy_header(collection_id, key, unified_id, segment_num=1,
                   unified_id_to_delete=None, source="node01", **extra):
    header = {
        "message-type": "destroy-key",
        "collection-id": collection_id,
        "key": key,
        "unified-id-to-delete": unified_id_to_delete,
        "unified-id": unified_id,
        "timestamp-repr": iso_now(),
        "segment-num": segment_num,
        "source-node-name": source,
        "handoff-node-name": None,
    }
    header.update(extra)
    return header


def conjoined_header(message_type, collection_id, key, unified_id, **extra):
    header = {
        "message-type": message_type,
        "collection-id": collection_id,
        "key": key,
        "unified-id": unified_id,
        "timestamp-repr": iso_now(),
        "handoff-node-name": None,
    }
    header.update(extra)
    return header


# --------------------------------------------------------------------------
#   Client: one requester

class ReplyTimeout(AssertionError):
    """No reply arrived in time (an AssertionError, so it is a test failure)."""


class Client:
    """A requester with a PULL bound on a free loopback port (its
    client-address) and PUSH sockets connected to the node's endpoints.
    Not thread-safe: one Client per thread."""

    def __init__(self, context, writer, reader=None, tag="it-client",
                 address=None, rcvhwm=None, rcvbuf=None):
        self.context = context
        self.tag = tag
        self.pull = context.socket(zmq.PULL)
        self.pull.setsockopt(zmq.LINGER, 0)
        if rcvhwm is not None:
            self.pull.setsockopt(zmq.RCVHWM, rcvhwm)
        if rcvbuf is not None:
            self.pull.setsockopt(zmq.RCVBUF, rcvbuf)
        if address is None:
            port = self.pull.bind_to_random_port("tcp://127.0.0.1")
            self.address = "tcp://127.0.0.1:%d" % port
        else:
            self.pull.bind(address)
            self.address = address
        self.sockets = {}
        self.endpoints = {"writer": writer, "reader": reader}
        self.stash = {}         # replies received while waiting for another
        self.closed = False

    def _push(self, endpoint):
        sock = self.sockets.get(endpoint)
        if sock is None:
            target = self.endpoints.get(endpoint)
            if target is None:
                raise ValueError("client has no %s endpoint" % endpoint)
            sock = self.context.socket(zmq.PUSH)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.SNDTIMEO, 20000)
            sock.setsockopt(zmq.SNDHWM, 100000)
            sock.connect(target)
            self.sockets[endpoint] = sock
        return sock

    def fill(self, header):
        """Copy of header with message-id, client-tag, client-address set
        unless the header already has them (None values are removed: a test
        that wants an explicit nil uses send_raw)."""
        header = dict(header)
        header.setdefault("message-id", new_message_id())
        header.setdefault("client-tag", self.tag)
        header.setdefault("client-address", self.address)
        for field in ("message-id", "client-tag", "client-address"):
            if header[field] is None:
                del header[field]
        return header

    def send(self, header, frames=(), endpoint="writer", fill=True):
        """Send one request; returns the header actually sent."""
        if fill:
            header = self.fill(header)
        frame0 = msgpack.packb(header, use_bin_type=True)
        self._push(endpoint).send_multipart([frame0] + list(frames))
        return header

    def send_raw(self, frames, endpoint="writer"):
        """Send frames exactly as given (frame 0 included)."""
        self._push(endpoint).send_multipart(list(frames))

    def recv(self, timeout=REPLY_TIMEOUT):
        """Next reply as (header, frames); ReplyTimeout if none in time."""
        if self.stash:
            key = next(iter(self.stash))
            return self.stash.pop(key)
        return self._recv_socket(timeout)

    def _recv_socket(self, timeout):
        if not self.pull.poll(int(timeout * 1000)):
            raise ReplyTimeout("no reply within %.1f s on %s"
                               % (timeout, self.address))
        frames = self.pull.recv_multipart()
        try:
            header = msgpack.unpackb(frames[0], raw=False, strict_map_key=False)
        except Exception as error:  # noqa: BLE001 - reported as failure
            raise AssertionError("reply frame 0 is not MessagePack: %r (%r)"
                                 % (frames[0][:64], error))
        if not isinstance(header, dict):
            raise AssertionError("reply frame 0 is not a map: %r" % (header,))
        return header, frames[1:]

    def wait_for(self, message_id, timeout=REPLY_TIMEOUT):
        """The reply whose message-id is message_id, as (header, frames);
        other replies are stashed for later."""
        if message_id in self.stash:
            return self.stash.pop(message_id)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ReplyTimeout("no reply to message-id %s within %.1f s"
                                   % (message_id, timeout))
            header, frames = self._recv_socket(left)
            got = header.get("message-id")
            if got == message_id:
                return header, frames
            self.stash[got] = (header, frames)

    def request_full(self, header, frames=(), endpoint="writer",
                     timeout=REPLY_TIMEOUT):
        sent = self.send(header, frames, endpoint)
        if "message-id" in sent and isinstance(sent["message-id"], str):
            return self.wait_for(sent["message-id"], timeout)
        return self.recv(timeout)

    def request(self, header, frames=(), endpoint="writer",
                timeout=REPLY_TIMEOUT):
        """Send and return the reply header."""
        return self.request_full(header, frames, endpoint, timeout)[0]

    def expect_no_reply(self, wait=1.0):
        """Fail if any reply arrives within `wait` seconds."""
        if self.stash:
            raise AssertionError("unexpected reply: %r" % (self.stash,))
        if self.pull.poll(int(wait * 1000)):
            header, _ = self._recv_socket(0.1)
            raise AssertionError("unexpected reply: %r" % (header,))

    def ping(self, endpoint="writer", timeout=REPLY_TIMEOUT):
        return self.request({"message-type": "ping"}, endpoint=endpoint,
                            timeout=timeout)

    def stats(self, timeout=REPLY_TIMEOUT):
        reply = self.request({"message-type": "stats"}, timeout=timeout)
        if reply.get("result") != "success" or not isinstance(reply.get("stats"), dict):
            raise AssertionError("bad stats reply: %r" % (reply,))
        return reply["stats"]

    def sync(self, timeout=REPLY_TIMEOUT):
        return self.request({"message-type": "sync-value-file"}, timeout=timeout)

    def retrieve(self, segment, timeout=REPLY_TIMEOUT, **extra):
        """Read every sequence of segment from the reader endpoint. Returns
        (list of reply headers, list of payloads per sequence); stops at the
        first reply that is not success (its header is the last in the list)."""
        headers, payloads = [], []
        header, frames = self.request_full(segment.retrieve_start(**extra),
                                           endpoint="reader", timeout=timeout)
        headers.append(header)
        if header.get("result") != "success":
            return headers, payloads
        payloads.append(b"".join(frames))
        sequence = 0
        while not header.get("completed") and sequence < 10000:
            sequence += 1
            request = segment.retrieve_start(**extra)
            request["message-type"] = "retrieve-key-next"
            request["unified-id"] = headers[0].get("unified-id", segment.unified_id)
            request["sequence-num"] = sequence
            header, frames = self.request_full(request, endpoint="reader",
                                               timeout=timeout)
            headers.append(header)
            if header.get("result") != "success":
                return headers, payloads
            payloads.append(b"".join(frames))
        return headers, payloads

    def close(self):
        if self.closed:
            return
        self.closed = True
        for sock in self.sockets.values():
            sock.close(linger=0)
        self.pull.close(linger=0)


# --------------------------------------------------------------------------
#   Node: one strata-node process

def cluster_text(nodes, name="it-cluster", data_shards=8, total_shards=10):
    """ZPL cluster file (docs/architecture.md, "The cluster file") for an ordered list of
    (name, writer, reader)."""
    lines = [
        "cluster",
        "    name = %s" % name,
        "    data-shards = %d" % data_shards,
        "    total-shards = %d" % total_shards,
        "    nodes",
    ]
    for node_name, writer, reader in nodes:
        lines += [
            "        %s" % node_name,
            "            writer = %s" % writer,
            "            reader = %s" % reader,
        ]
    return "\n".join(lines) + "\n"


class Node:
    """One strata-node process on free loopback ports.

    config:  ZPL text for --config, or None
    cluster: list of node names for --cluster (this node's name must be one
             of them; the file gets this node's real endpoints and made-up
             ones for the others), or None for no cluster file
    env:     extra environment variables
    """

    def __init__(self, workdir, name="node01", config=None, cluster=None,
                 env=None, data_dir=None):
        self.workdir = workdir
        self.name = name
        self.config = config
        self.cluster = cluster
        self.env = dict(env or {})
        self.data_dir = data_dir or os.path.join(workdir, "data-" + name)
        self.log_path = os.path.join(workdir, "node-%s.log" % name)
        self.proc = None
        self.writer = None
        self.reader = None
        self.expect_running = False
        self.starts = 0

    # -- process control --------------------------------------------------

    def _command(self):
        command = [NODE_BINARY, "--name", self.name, "--data-dir", self.data_dir,
                   "--writer", self.writer, "--reader", self.reader]
        if self.config is not None:
            path = os.path.join(self.workdir, "%s.cfg" % self.name)
            with open(path, "w") as handle:
                handle.write(self.config)
            command += ["--config", path]
        if self.cluster is not None:
            entries = []
            for other in self.cluster:
                if other == self.name:
                    entries.append((other, self.writer, self.reader))
                else:
                    entries.append((other, "tcp://127.0.0.1:%d" % free_port(),
                                    "tcp://127.0.0.1:%d" % free_port()))
            path = os.path.join(self.workdir, "cluster.cfg")
            with open(path, "w") as handle:
                handle.write(cluster_text(entries))
            command += ["--cluster", path]
        return command

    def start(self, keep_ports=False, timeout=READY_TIMEOUT):
        """Start the node and wait until it answers ping on its writer
        endpoint. With keep_ports, reuse the previous endpoints first (a
        restart); on failure to come up, retry twice with fresh ports."""
        if not os.path.exists(NODE_BINARY):
            raise AssertionError("strata-node binary not found at %s "
                                 "(set STRATA_BUILD_DIR)" % NODE_BINARY)
        errors = []
        for attempt in range(3):
            if not (keep_ports and attempt == 0 and self.writer):
                self.writer = "tcp://127.0.0.1:%d" % free_port()
                self.reader = "tcp://127.0.0.1:%d" % free_port()
            environment = dict(os.environ)
            environment.update(self.env)
            self.starts += 1
            with open(self.log_path, "ab") as log:
                log.write(("\n=== start %d: %s\n" % (
                    self.starts, " ".join(self._command()))).encode())
                log.flush()
                self.proc = subprocess.Popen(
                    self._command(), stdin=subprocess.DEVNULL, stdout=log,
                    stderr=log, env=environment, cwd=self.workdir)
            with _ALL_PROCESSES_LOCK:
                _ALL_PROCESSES.append(self.proc)
            self.expect_running = True
            problem = self._wait_ready(timeout)
            if problem is None:
                return self
            errors.append(problem)
            self.kill()
        raise AssertionError("strata-node did not come up: %s\n--- log:\n%s"
                             % ("; ".join(errors), self.log_text()[-4000:]))

    def _wait_ready(self, timeout):
        context = zmq.Context.instance()
        client = Client(context, self.writer, tag="ready-probe")
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                code = self.proc.poll()
                if code is not None:
                    return "exited with code %d before answering ping" % code
                client.send({"message-type": "ping"})
                try:
                    header, _ = client.recv(timeout=0.25)
                except ReplyTimeout:
                    continue
                if header.get("message-type") == "ping-reply":
                    return None
            return "no ping-reply within %.0f s" % timeout
        finally:
            client.close()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def terminate(self):
        """Send SIGTERM (does not wait)."""
        self.expect_running = False
        if self.running():
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout=STOP_TIMEOUT):
        """Wait for exit; returns the exit code, or None on timeout."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait. Returns the exit code; kills the node and raises
        AssertionError if it does not exit in time."""
        self.terminate()
        code = self.wait(timeout)
        if code is None:
            self.kill()
            raise AssertionError("strata-node did not exit within %.0f s of "
                                 "SIGTERM" % timeout)
        return code

    def kill(self):
        """SIGKILL and reap (no-op if not running)."""
        self.expect_running = False
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def restart(self, timeout=READY_TIMEOUT):
        """Graceful stop (must exit 0) then start on the same data dir."""
        code = self.stop()
        if code != 0:
            raise AssertionError("strata-node exited %d on SIGTERM" % code)
        return self.start(keep_ports=True, timeout=timeout)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as handle:
                return handle.read().decode("utf-8", "replace")
        except OSError:
            return "(no log)"

    def finish(self):
        """End of test: returns a list of problems (node died, did not stop
        on SIGTERM, exit code not 0). Always leaves no process behind."""
        problems = []
        if self.proc is None:
            return problems
        if self.expect_running:
            code = self.proc.poll()
            if code is not None:
                problems.append("strata-node exited unexpectedly during the "
                                "test with code %d" % code)
            else:
                try:
                    code = self.stop()
                    if code != 0:
                        problems.append("strata-node exited %d on SIGTERM" % code)
                except AssertionError as error:
                    problems.append(str(error))
        self.kill()
        return problems


# --------------------------------------------------------------------------
#   Test case base class

class _TestTimeout(AssertionError):
    pass


def _alarm_handler(signum, frame):
    raise _TestTimeout("test took longer than its time limit")


class StrataTestCase(unittest.TestCase):
    """Starts one node per test (self.node, self.client) unless
    start_node is False. Class attributes:

        node_name      --name
        node_config    ZPL text for --config, or None
        cluster_nodes  list of names for --cluster, or None
        node_env       extra environment
        test_timeout   seconds before the test is failed by an alarm
    """

    node_name = "node01"
    node_config = None
    cluster_nodes = None
    node_env = {}
    start_node = True
    test_timeout = TEST_TIMEOUT

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="strata-it-")
        self.context = zmq.Context()
        self.nodes = []
        self.clients = []
        self.addCleanup(self._cleanup)
        signal.signal(signal.SIGALRM, _alarm_handler)
        signal.alarm(self.test_timeout)
        self.node = None
        self.client = None
        if self.start_node:
            self.node = self.new_node()
            self.node.start()
            self.client = self.new_client()

    def new_node(self, **overrides):
        options = dict(name=self.node_name, config=self.node_config,
                       cluster=self.cluster_nodes, env=self.node_env)
        options.update(overrides)
        node = Node(self.workdir, **options)
        self.nodes.append(node)
        return node

    def new_client(self, node=None, **options):
        node = node or self.node
        client = Client(self.context, node.writer, node.reader, **options)
        self.clients.append(client)
        return client

    def _cleanup(self):
        signal.alarm(0)
        for client in self.clients:
            client.close()
        problems = []
        for node in self.nodes:
            problems += node.finish()
        self.context.destroy(linger=0)
        if problems:
            raise AssertionError("; ".join(problems))

    def run(self, result=None):
        if result is None:
            result = self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        try:
            return super().run(result)
        finally:
            after = len(result.failures) + len(result.errors)
            if after > before:
                for node in getattr(self, "nodes", []):
                    sys.stderr.write("\n----- log of %s (%s) -----\n%s\n"
                                     "----- end of log -----\n"
                                     % (node.name, self.id(),
                                        node.log_text()[-20000:]))
            workdir = getattr(self, "workdir", None)
            if workdir:
                shutil.rmtree(workdir, ignore_errors=True)

    # -- assertions -------------------------------------------------------

    def assertResult(self, reply, result, field=None):
        """reply has `result` == result; on failure replies, error-message is
        a non-empty string (naming `field` when given); on success it is nil."""
        self.assertEqual(reply.get("result"), result,
                         "expected result %r, got reply %r" % (result, reply))
        if result == "success":
            self.assertIn("error-message", reply, "reply lacks error-message: %r" % (reply,))
            self.assertIsNone(reply["error-message"],
                              "error-message must be nil on success: %r" % (reply,))
        else:
            message = reply.get("error-message")
            self.assertIsInstance(message, str,
                                  "error-message must be a string on %s: %r"
                                  % (result, reply))
            self.assertTrue(message, "empty error-message: %r" % (reply,))
            if field is not None:
                self.assertIn(field, message,
                              "error-message does not name field %r: %r"
                              % (field, reply))

    def assertEchoes(self, reply, sent):
        for field in ("message-id", "client-tag", "client-address", "user-request-id"):
            if field in sent:
                self.assertEqual(reply.get(field), sent[field],
                                 "reply does not echo %s: %r" % (field, reply))

    def exchange(self, header, frames=(), client=None, endpoint="writer",
                 timeout=REPLY_TIMEOUT):
        """Send and return (sent header, reply header)."""
        client = client or self.client
        sent = client.send(header, frames, endpoint)
        reply, _ = client.wait_for(sent["message-id"], timeout)
        return sent, reply

    def wait_stats(self, predicate, timeout=15.0, client=None):
        """Poll stats until predicate (stats) is true; returns the last stats."""
        client = client or self.client
        deadline = time.monotonic() + timeout
        stats = client.stats()
        while not predicate(stats) and time.monotonic() < deadline:
            time.sleep(0.1)
            stats = client.stats()
        return stats


# --------------------------------------------------------------------------
#   Entry point

def _watchdog(seconds):
    def fire():
        sys.stderr.write("\nstrata_harness: test file exceeded %d s; killing "
                         "nodes and exiting\n" % seconds)
        with _ALL_PROCESSES_LOCK:
            for proc in _ALL_PROCESSES:
                if proc.poll() is None:
                    proc.kill()
        sys.stderr.flush()
        os._exit(3)
    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return timer


def run_main():
    """Run the calling module's tests; exit non-zero on any failure or when
    the node binary is missing."""
    if not os.path.exists(NODE_BINARY) or not os.access(NODE_BINARY, os.X_OK):
        sys.stderr.write("FAIL: strata-node binary not found (or not executable) "
                         "at %s; build it first or set STRATA_BUILD_DIR\n"
                         % NODE_BINARY)
        sys.exit(2)
    timeout = int(os.environ.get("STRATA_IT_SUITE_TIMEOUT", SUITE_TIMEOUT))
    timer = _watchdog(timeout)
    program = unittest.main(module="__main__", exit=False, verbosity=2)
    timer.cancel()
    sys.exit(0 if program.result.wasSuccessful() else 1)
