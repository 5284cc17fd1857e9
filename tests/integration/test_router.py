"""Integration tests of strata-router (cluster/ROUTER.md) on a real cluster:
ten strata-node processes and the router on loopback, driven over a DEALER
socket with pyzmq + msgpack, as any service would.

    RouterTest          put/get byte-identical for 0 B .. 25 MiB (one and
                        several slices), meta, streamed uploads and their
                        abort, versions and list-versions, delete (all
                        versions, one version), unified-ids, bad requests
    RouterStreamTest    a 100 MiB object streamed in and read back (< 30 s)
    RouterProgramTest   flags, bad cluster files (exit 2, one line), a
                        cluster with every node down, SIGTERM (exit 0)
    RouterFailureTest   a silent node (SIGSTOP) costs writes a timeout (they
                        are cancelled everywhere) and reads nothing; the
                        operation limit answers overloaded; idle uploads are
                        aborted; a share corrupted on disk is
                        skipped (the object comes back intact, the node
                        records the damage); two nodes stopped: everything
                        still readable, writes go on with handoff copies; a
                        third stopped: reads and writes refused; nodes back:
                        writes work (test_handoff.py covers handoff fully);
                        SIGTERM lets operations in flight finish, refuses new
                        ones, aborts uploads, exits 0

Run: STRATA_BUILD_DIR=/work/main/build /usr/bin/python3 tests/integration/test_router.py
"""

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster_harness import (  # noqa: E402
    NODE_BINARY, ROUTER_BINARY, ClusterTestCase, RouterClient, cluster_file_text, free_ports,
    md5_b64, new_key, payload, run_main,
)

import msgpack  # noqa: E402
import zmq  # noqa: E402

MIB = 1024 * 1024
SLICE = 10 * MIB

# Short timeouts so failure tests are quick; pings often so a stopped node
# is noticed at once
ROUTER_SETTINGS = {"node-timeout-ms": 3000, "ping-interval-ms": 200}


class RouterCase(ClusterTestCase):
    router_settings = ROUTER_SETTINGS

    def setUp(self):
        self.client = self.cluster.router_client(timeout=60)

    def assertResult(self, reply, result, field=None):
        self.assertEqual(reply.get("result"), result, "reply: %r" % (reply,))
        if result == "success":
            self.assertIsNone(reply.get("error-message"), reply)
        else:
            message = reply.get("error-message")
            self.assertIsInstance(message, str, reply)
            self.assertTrue(message, reply)
            if field is not None:
                self.assertIn(field, message, reply)

    def put(self, key, data, **extra):
        reply = self.client.put(key, data, **extra)
        self.assertResult(reply, "success")
        return reply

    def get(self, key, **extra):
        return self.client.get(key, **extra)

    def stream(self, key, data, chunk, collection_id=0, meta=None):
        """Upload data with put-start / put-data / put-finish; returns the
        put-reply."""
        header = {"message-type": "put-start", "collection-id": collection_id, "key": key}
        if meta is not None:
            header["meta"] = meta
        reply, _ = self.client.request(header)
        self.assertResult(reply, "success")
        self.assertEqual(reply["message-type"], "put-start-reply")
        upload_id = reply["upload-id"]
        self.assertGreater(reply["slice-size"], 0)
        for offset in range(0, len(data), chunk):
            piece = data[offset:offset + chunk]
            # split each put-data in a few frames, as a client may
            frames = [piece[i:i + 1000003] for i in range(0, len(piece), 1000003)]
            reply, _ = self.client.request({"message-type": "put-data", "upload-id": upload_id},
                                           frames)
            self.assertResult(reply, "success")
            self.assertEqual(reply["message-type"], "put-data-reply")
        reply, _ = self.client.request({"message-type": "put-finish", "upload-id": upload_id})
        self.assertEqual(reply["message-type"], "put-reply")
        return reply


class RouterTest(RouterCase):

    def test_ping(self):
        reply = self.client.ping()
        self.assertResult(reply, "success")
        self.assertEqual(reply["message-type"], "ping-reply")
        self.assertEqual(reply["data-shards"], 8)
        self.assertEqual(reply["total-shards"], 10)
        self.assertEqual([node["name"] for node in reply["nodes"]],
                         ["node%02d" % index for index in range(1, 11)])
        self.assertTrue(all(node["reachable"] for node in reply["nodes"]))
        self.assertIsInstance(reply["version"], str)
        self.assertEqual(reply["handoff-writes"], 0)

    def test_put_get_sizes(self):
        sizes = [0, 1, 7, 4096, 32768 + 1, MIB, SLICE, SLICE + 1, 2 * SLICE, 25 * MIB]
        for size in sizes:
            with self.subTest(size=size):
                key = new_key("size-%d" % size)
                data = payload(size, seed=size)
                reply = self.put(key, data)
                self.assertEqual(reply["message-type"], "put-reply")
                self.assertEqual(reply["size"], size)
                self.assertEqual(reply["file-hash"], md5_b64(data))
                self.assertIsInstance(reply["unified-id"], int)
                self.assertTrue(reply["timestamp"].endswith("Z"))
                first, got = self.get(key)
                self.assertResult(first, "success")
                self.assertEqual(first["message-type"], "get-reply")
                self.assertEqual(got, data, "object of %d bytes differs" % size)
                self.assertEqual(first["unified-id"], reply["unified-id"])
                self.assertEqual(first["size"], size)
                self.assertEqual(first["file-hash"], md5_b64(data))
                self.assertEqual(first["slice-count"], max(1, -(-size // SLICE)))
                self.assertEqual(first["slice-num"], 0)
                self.assertIsNone(first["meta"])

    def test_meta_and_collections(self):
        key = new_key("meta")
        meta = {"content-type": "text/plain", "owner": "\u00e9t\u00e9", "empty": ""}
        self.put(key, b"in collection 7", collection_id=7, meta=meta)
        first, got = self.get(key, collection_id=7)
        self.assertEqual(got, b"in collection 7")
        self.assertEqual(first["meta"], meta)
        # the same key in another collection is another object
        reply, data = self.get(key, collection_id=8)
        self.assertResult(reply, "not-found")
        self.assertIsNone(data)

    def test_get_next_reply_fields(self):
        key = new_key("slices")
        data = payload(2 * SLICE + 5, seed=3)
        put = self.put(key, data)
        reply, frames = self.client.request({"message-type": "get", "key": key})
        self.assertEqual(reply["slice-count"], 3)
        self.assertFalse(reply["completed"])
        self.assertEqual(b"".join(frames), data[:SLICE])
        # slices may be read in any order (then only the client checks the MD5)
        reply, frames = self.client.request({
            "message-type": "get-next", "key": key, "unified-id": put["unified-id"], "slice-num": 2})
        self.assertResult(reply, "success")
        self.assertEqual(reply["message-type"], "get-next-reply")
        self.assertEqual(reply["slice-num"], 2)
        self.assertTrue(reply["completed"])
        self.assertEqual(b"".join(frames), data[2 * SLICE:])
        reply, _ = self.client.request({
            "message-type": "get-next", "key": key, "unified-id": put["unified-id"], "slice-num": 3})
        self.assertResult(reply, "not-found")

    def test_streamed_upload(self):
        key = new_key("stream")
        data = payload(23 * MIB + 17, seed=5)
        reply = self.stream(key, data, chunk=3 * MIB + 5, meta={"a": "b"})
        self.assertResult(reply, "success")
        self.assertEqual(reply["size"], len(data))
        self.assertEqual(reply["file-hash"], md5_b64(data))
        first, got = self.get(key)
        self.assertEqual(got, data)
        self.assertEqual(first["meta"], {"a": "b"})
        # exactly one slice, streamed in slice-size pieces; and an empty one
        for size in (SLICE, 0):
            key = new_key("stream-%d" % size)
            data = payload(size, seed=size)
            self.assertResult(self.stream(key, data, chunk=SLICE), "success")
            self.assertEqual(self.get(key)[1], data)

    def test_put_abort_and_unknown_upload(self):
        key = new_key("abort")
        reply, _ = self.client.request({"message-type": "put-start", "key": key})
        upload_id = reply["upload-id"]
        for _ in range(3):
            reply, _ = self.client.request({"message-type": "put-data", "upload-id": upload_id},
                                           [payload(SLICE, seed=9)])
            self.assertResult(reply, "success")
        reply, _ = self.client.request({"message-type": "put-abort", "upload-id": upload_id})
        self.assertResult(reply, "success")
        self.assertEqual(reply["message-type"], "put-abort-reply")
        reply, _ = self.get(key)
        self.assertResult(reply, "not-found")
        reply, _ = self.client.request({"message-type": "put-data", "upload-id": upload_id}, [b"x"])
        self.assertResult(reply, "invalid-request", "upload-id")
        reply, _ = self.client.request({"message-type": "put-finish", "upload-id": "nonsense"})
        self.assertResult(reply, "invalid-request", "upload-id")
        self.assertEqual(reply["message-type"], "put-reply")
        # put-data larger than slice-size is refused, the upload goes on
        reply, _ = self.client.request({"message-type": "put-start", "key": key})
        upload_id = reply["upload-id"]
        reply, _ = self.client.request({"message-type": "put-data", "upload-id": upload_id},
                                       [b"y" * (SLICE + 1)])
        self.assertResult(reply, "invalid-request", "data")
        reply, _ = self.client.request({"message-type": "put-data", "upload-id": upload_id},
                                       [b"ok"])
        self.assertResult(reply, "success")
        reply, _ = self.client.request({"message-type": "put-finish", "upload-id": upload_id})
        self.assertResult(reply, "success")
        self.assertEqual(self.get(key)[1], b"ok")

    def test_upload_belongs_to_its_connection(self):
        key = new_key("owner")
        reply, _ = self.client.request({"message-type": "put-start", "key": key})
        other = self.cluster.router_client(timeout=30)
        reply2, _ = other.request({"message-type": "put-data", "upload-id": reply["upload-id"]},
                                  [b"intruder"])
        self.assertResult(reply2, "invalid-request", "upload-id")
        reply, _ = self.client.request({"message-type": "put-finish", "upload-id": reply["upload-id"]})
        self.assertResult(reply, "success")
        self.assertEqual(reply["size"], 0)

    def test_versions(self):
        key = new_key("versions")
        first = self.put(key, b"first version")
        second = self.put(key, b"second version, longer")
        self.assertGreater(second["unified-id"], first["unified-id"])
        reply, got = self.get(key)
        self.assertEqual(got, b"second version, longer")
        self.assertEqual(reply["unified-id"], second["unified-id"])
        reply, got = self.get(key, unified_id=first["unified-id"])
        self.assertEqual(got, b"first version")
        self.assertEqual(reply["unified-id"], first["unified-id"])
        reply = self.client.versions(key)
        self.assertResult(reply, "success")
        self.assertEqual(reply["message-type"], "list-versions-reply")
        versions = reply["versions"]
        self.assertEqual([v["unified-id"] for v in versions],
                         [second["unified-id"], first["unified-id"]])
        self.assertEqual(versions[0]["size"], len(b"second version, longer"))
        self.assertEqual(versions[1]["file-hash"], md5_b64(b"first version"))
        self.assertEqual(versions[0]["timestamp"], second["timestamp"])
        reply = self.client.versions(new_key("nothing"))
        self.assertResult(reply, "success")
        self.assertEqual(reply["versions"], [])
        reply, _ = self.get(key, unified_id=first["unified-id"] + 1)
        self.assertResult(reply, "not-found", "unified-id")

    def test_delete(self):
        key = new_key("delete")
        first = self.put(key, b"one")
        second = self.put(key, b"two")
        third = self.put(key, b"three")
        # one version
        reply = self.client.delete(key, unified_id=second["unified-id"])
        self.assertResult(reply, "success")
        self.assertEqual(reply["message-type"], "delete-reply")
        self.assertGreater(reply["unified-id"], third["unified-id"])
        self.assertResult(self.get(key, unified_id=second["unified-id"])[0], "not-found")
        self.assertEqual(self.get(key)[1], b"three")
        self.assertEqual([v["unified-id"] for v in self.client.versions(key)["versions"]],
                         [third["unified-id"], first["unified-id"]])
        # the newest: the older one becomes visible
        self.assertResult(self.client.delete(key, unified_id=third["unified-id"]), "success")
        self.assertEqual(self.get(key)[1], b"one")
        # everything
        self.assertResult(self.client.delete(key), "success")
        reply, data = self.get(key)
        self.assertResult(reply, "not-found", "key")
        self.assertIsNone(data)
        self.assertEqual(self.client.versions(key)["versions"], [])
        # a key that never existed: still success
        self.assertResult(self.client.delete(new_key("never")), "success")
        # a new put after a delete is visible
        self.put(key, b"again")
        self.assertEqual(self.get(key)[1], b"again")

    def test_unified_ids_increase(self):
        ids = [self.put(new_key("ids"), b"x")["unified-id"] for _ in range(20)]
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(len(set(ids)), len(ids))
        # (microseconds << 10) | router id 0: close to now
        now_usec = int(time.time() * 1e6)
        self.assertLess(abs((ids[-1] >> 10) - now_usec), 60 * 1e6)
        self.assertEqual(ids[-1] & 1023, 0)

    def test_concurrent_requests(self):
        """Several requests in flight on one connection, matched by request-id."""
        keys = [new_key("many") for _ in range(12)]
        sent = [self.client.send({"message-type": "put", "key": key}, [key.encode() * 100])
                for key in keys]
        replies = {}
        for header in sent:
            reply, _ = self.client.recv(header["request-id"])
            replies[header["key"]] = reply
        for key in keys:
            self.assertResult(replies[key], "success")
            self.assertEqual(self.get(key)[1], key.encode() * 100)

    def raw(self, header_bytes, frames=()):
        self.client.sock.send_multipart([header_bytes] + list(frames))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.client.sock.poll(1000):
                frames = self.client.sock.recv_multipart()
                return msgpack.unpackb(frames[0], raw=False, strict_map_key=False)
        self.fail("no reply to a bad request")

    def test_bad_requests(self):
        cases = [
            ({"message-type": "put", "key": "k"}, "request-id"),
            ({"message-type": "put", "request-id": ""}, "request-id"),
            ({"message-type": "put", "request-id": "r" * 129, "key": "k"}, "request-id"),
            ({"message-type": "put", "request-id": "r1"}, "key"),
            ({"message-type": "put", "request-id": "r1", "key": ""}, "key"),
            ({"message-type": "put", "request-id": "r1", "key": 5}, "key"),
            ({"message-type": "put", "request-id": "r1", "key": "k" * 1025}, "key"),
            ({"message-type": "get", "request-id": "r1", "key": "k", "collection-id": -1},
             "collection-id"),
            ({"message-type": "get", "request-id": "r1", "key": "k", "collection-id": 1 << 32},
             "collection-id"),
            ({"message-type": "get", "request-id": "r1", "key": "k", "unified-id": "12"},
             "unified-id"),
            ({"message-type": "get", "request-id": "r1", "key": "k", "unified-id": 1.5},
             "unified-id"),
            ({"message-type": "get-next", "request-id": "r1", "key": "k", "unified-id": 1},
             "slice-num"),
            ({"message-type": "get-next", "request-id": "r1", "key": "k", "slice-num": 1},
             "unified-id"),
            ({"message-type": "put", "request-id": "r1", "key": "k", "meta": {"a": 1}}, "meta"),
            ({"message-type": "put", "request-id": "r1", "key": "k", "meta": [1]}, "meta"),
            ({"message-type": "put", "request-id": "r1", "key": "k",
              "meta": {"k%d" % i: "v" for i in range(65)}}, "meta"),
            ({"message-type": "put-data", "request-id": "r1"}, "upload-id"),
            ({"message-type": "list-versions", "request-id": "r1"}, "key"),
            ({"message-type": 7, "request-id": "r1"}, "message-type"),
            ({"request-id": "r1"}, "message-type"),
        ]
        for header, field in cases:
            with self.subTest(header=str(header)[:80]):
                reply = self.raw(msgpack.packb(header, use_bin_type=True))
                self.assertResult(reply, "invalid-request", field)
                if isinstance(header.get("request-id"), str) and 0 < len(header["request-id"]) <= 128:
                    self.assertEqual(reply["request-id"], header["request-id"])
        # Data frames on a request that takes none
        reply = self.raw(msgpack.packb({"message-type": "get", "request-id": "r2", "key": "k"}),
                         [b"unexpected"])
        self.assertResult(reply, "invalid-request", "data")
        # A key not valid UTF-8
        reply = self.raw(b"\x83\xacmessage-type\xa3get\xaarequest-id\xa2r3\xa3key\xa2\xff\xfe")
        self.assertResult(reply, "invalid-request", "key")
        # Headers that are not a map, or not MessagePack at all: nil request-id
        for junk in (msgpack.packb([1, 2, 3]), b"\xc1", b"", b"\xdf\xff\xff\xff\xff",
                     msgpack.packb({"message-type": "ping", "request-id": "r4"}) + b"x"):
            with self.subTest(junk=junk[:16]):
                reply = self.raw(junk)
                self.assertResult(reply, "invalid-request", "header")
        # The same key twice
        reply = self.raw(b"\x83\xacmessage-type\xa4ping\xaarequest-id\xa2r5\xaarequest-id\xa2r6")
        self.assertResult(reply, "invalid-request", "request-id")
        # Unknown type
        reply = self.raw(msgpack.packb({"message-type": "frobnicate", "request-id": "r7"}))
        self.assertResult(reply, "unknown-message-type", "frobnicate")
        self.assertEqual(reply["message-type"], "frobnicate-reply")
        self.assertEqual(reply["request-id"], "r7")
        # Still serving
        self.assertResult(self.client.ping(), "success")

    def test_random_requests_never_hurt(self):
        """Random headers (random bytes, and maps of the protocol's keys with
        values of random types) always get an answer; the router lives on."""
        import random
        rng = random.Random(6)
        keys = ["message-type", "request-id", "collection-id", "key", "meta", "unified-id",
                "slice-num", "upload-id"]
        values = [None, True, -1, 0, 1 << 40, (1 << 64) - 1, 1.5, "", "x", "get", "put",
                  "get-next", "put-data", "list-versions", "delete", "ping", b"\xff",
                  [1, 2], {"a": "b"}, {"a": 1}, "k" * 2000]
        results = {"success", "not-found", "invalid-request", "unknown-message-type",
                   "unavailable", "data-error", "io-error", "timeout", "overloaded"}
        for round_number in range(300):
            if round_number % 3 == 0:
                header = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 40)))
            else:
                fields = {rng.choice(keys): rng.choice(values) for _ in range(rng.randrange(0, 7))}
                fields.setdefault("request-id", "fuzz-%d" % round_number)
                header = msgpack.packb(fields, use_bin_type=True)
            frames = [b"d" * rng.randrange(0, 100)] if rng.random() < 0.3 else []
            reply = self.raw(header, frames)
            self.assertIn(reply.get("result"), results, reply)
            if reply["result"] != "success":
                self.assertTrue(reply.get("error-message"), reply)
        self.assertResult(self.client.ping(), "success")

    def test_put_too_large(self):
        reply, _ = self.client.request({"message-type": "put", "key": new_key("big")},
                                       [b"\0" * (32 * MIB), b"\0" * (32 * MIB), b"\0"])
        self.assertResult(reply, "invalid-request", "max-put-bytes")
        self.assertResult(self.client.ping(), "success")


class RouterStreamTest(RouterCase):

    def test_100_mib_stream(self):
        key = new_key("hundred")
        data = payload(100 * MIB, seed=100)
        started = time.monotonic()
        reply = self.stream(key, data, chunk=SLICE)
        self.assertResult(reply, "success")
        first, got = self.get(key)
        elapsed = time.monotonic() - started
        self.assertEqual(first["slice-count"], 10)
        self.assertTrue(got == data, "the 100 MiB object differs")
        self.assertLess(elapsed, 30.0)
        sys.stderr.write("\n100 MiB streamed in and read back in %.1f s\n" % elapsed)


def corrupt_share(node, key, sequence_num=0):
    """Flip a payload byte of node's stored share of key (its sequence
    sequence_num), found through the node's index. Returns the value file
    path and offset changed."""
    index = sqlite3.connect("file:%s?mode=ro" % os.path.join(node.data_dir, "index.db"), uri=True)
    try:
        row = index.execute(
            "SELECT q.value_file_id, q.record_offset, q.record_size, q.segment_size, f.volume "
            "FROM segment s JOIN sequence q ON q.segment_id = s.id "
            "JOIN value_file f ON f.id = q.value_file_id "
            "WHERE s.key = ? AND s.status = 'F' AND s.segment_num = ? AND q.sequence_num = ? "
            "ORDER BY s.id DESC LIMIT 1", (key, node.index + 1, sequence_num)).fetchone()
    finally:
        index.close()
    assert row is not None, "no stored share of %s on %s" % (key, node.name)
    file_id, offset, record_size, segment_size, volume = row
    assert segment_size > 0
    path = os.path.join(volume, "values", "%016x.val" % file_id)
    if not os.path.isabs(path):
        path = os.path.join(node.data_dir, path)
    position = offset + record_size - 1 - segment_size // 2     # inside the payload
    with open(path, "r+b") as handle:
        handle.seek(position)
        byte = handle.read(1)
        handle.seek(position)
        handle.write(bytes([byte[0] ^ 0x5A]))
    return path, position


class RouterFailureTest(RouterCase):
    router_settings = dict(ROUTER_SETTINGS, **{"max-operations": 4, "upload-timeout-seconds": 2})

    def wait_reachable(self, count):
        self.cluster.wait_router(timeout=20, reachable=count)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            nodes = self.client.ping()["nodes"]
            if sum(1 for node in nodes if node["reachable"]) == count:
                return
            time.sleep(0.1)
        self.fail("router does not report exactly %d reachable nodes" % count)

    def test_failures(self):
        objects = {}
        for size in (0, 1, 100 * 1024, MIB, SLICE + 12345):
            key = new_key("fail-%d" % size)
            objects[key] = payload(size, seed=size + 1)
            self.put(key, objects[key])

        # -- a silent node: the puts wait for it (a fifth put at once is
        #    refused, max-operations 4), reads go on; once it is late the
        #    puts are sent again with its share on handoff holders and
        #    succeed (what the first attempt sent is cancelled)
        silent = self.cluster.node(4)
        silent.proc.send_signal(signal.SIGSTOP)
        try:
            silent_keys = [new_key("silent-%d" % index) for index in range(4)]
            silent_data = [payload(MIB if index else SLICE + 1, seed=70 + index) for index in range(3)]
            silent_data.append(b"w")
            started = time.monotonic()
            sent = [self.client.send({"message-type": "put", "key": key}, [silent_data[index]])
                    for index, key in enumerate(silent_keys[:3])]
            time.sleep(0.3)
            key, data = next(iter(objects.items()))
            reply, got = self.get(key)
            self.assertTrue(got == data, reply)
            self.assertLess(time.monotonic() - started, 2.5, "a read waited for the silent node")
            sent.append(self.client.send({"message-type": "put", "key": silent_keys[3]}, [b"w"]))
            time.sleep(0.3)
            reply = self.client.put(new_key("one-too-many"), b"x")
            self.assertResult(reply, "overloaded", "max-operations")
            for header in sent:
                reply, _ = self.client.recv(header["request-id"])
                self.assertResult(reply, "success")
            self.assertLess(time.monotonic() - started, 10)
            self.assertIn("lost midway", self.cluster.router.log_text())
            # by now the router has given up on the node: the next put
            # goes on at once, node05's share on two handoff holders
            before = self.client.ping().get("handoff-writes", 0)
            started = time.monotonic()
            reply = self.client.put(new_key("silent"), b"y")
            self.assertResult(reply, "success")
            self.assertLess(time.monotonic() - started, 2.0)
            self.assertEqual(self.client.ping()["handoff-writes"], before + 1)
        finally:
            silent.proc.send_signal(signal.SIGCONT)
        self.wait_reachable(10)
        for key, data in zip(silent_keys, silent_data):
            reply, got = self.get(key)
            self.assertResult(reply, "success")
            self.assertTrue(got == data, "silent put %s read back" % key)
            self.assertEqual(len(self.client.versions(key)["versions"]), 1,
                             "the first attempt's version was cancelled")

        # -- an idle upload is aborted after upload-timeout-seconds
        reply, _ = self.client.request({"message-type": "put-start", "key": new_key("idle")})
        upload_id = reply["upload-id"]
        reply, _ = self.client.request({"message-type": "put-data", "upload-id": upload_id},
                                       [b"some"])
        self.assertResult(reply, "success")
        time.sleep(3.5)
        reply, _ = self.client.request({"message-type": "put-data", "upload-id": upload_id},
                                       [b"more"])
        self.assertResult(reply, "invalid-request", "upload-id")

        # -- a share corrupted on disk: skipped, the object comes back intact
        small = [k for k, v in objects.items() if len(v) == MIB][0]
        large = [k for k, v in objects.items() if len(v) == SLICE + 12345][0]
        victim = self.cluster.node(2)
        corrupt_share(victim, small)
        corrupt_share(self.cluster.node(0), large, sequence_num=1)
        for key in (small, large):
            reply, got = self.get(key)
            self.assertResult(reply, "success")
            self.assertTrue(got == objects[key], "object with a corrupt share came back wrong")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            stats = victim.stats()
            if stats and stats.get("damaged-records", 0) >= 1:
                break
            time.sleep(0.2)
        self.assertGreaterEqual(stats.get("damaged-records", 0), 1, stats)

        # -- two nodes stopped: every object still readable, writes go on
        #    (handoff); the two with a corrupt share now have only 7 good
        #    shares of a slice: refused as data-error, never returned wrong
        for index in (6, 9):
            self.assertEqual(self.cluster.node(index).stop(), 0)
        self.wait_reachable(8)
        for key, data in objects.items():
            reply, got = self.get(key)
            if key in (small, large):
                self.assertResult(reply, "data-error", "md5-mismatch")
                self.assertIsNone(got)
                continue
            self.assertResult(reply, "success")
            self.assertTrue(got == data, "object of %d bytes differs" % len(data))
        self.assertEqual(len(self.client.versions(small)["versions"]), 1)
        handed_off = new_key("handed-off")
        self.put(handed_off, b"data")
        self.assertEqual(self.get(handed_off)[1], b"data")
        self.assertResult(self.client.delete(handed_off), "success")
        self.assertResult(self.get(handed_off)[0], "not-found")
        reply, _ = self.client.request({"message-type": "put-start", "key": new_key("streamed")})
        self.assertResult(reply, "success")
        reply, _ = self.client.request({"message-type": "put-abort", "upload-id": reply["upload-id"]})
        self.assertResult(reply, "success")

        # -- a third node stopped: reads refused too (a node with a corrupt
        #    share is still reachable; either way no data comes back)
        self.assertEqual(self.cluster.node(1).stop(), 0)
        self.wait_reachable(7)
        for key in objects:
            reply, data = self.get(key)
            self.assertIn(reply["result"], ("unavailable", "data-error"), reply)
            self.assertIsNone(data)
        self.assertResult(self.client.put(new_key("refused"), b"x"), "unavailable",
                          "only 7 of 10 nodes are reachable")
        self.assertResult(self.client.delete(small), "unavailable", "only 7 of 10")
        self.assertResult(self.client.versions(small), "unavailable")

        # -- nodes back: reads and writes work again
        for index in (1, 6, 9):
            self.cluster.node(index).start()
        self.wait_reachable(10)
        back_key = new_key("back")
        self.put(back_key, b"after the storm")
        self.assertEqual(self.get(back_key)[1], b"after the storm")
        for key, data in objects.items():
            self.assertTrue(self.get(key)[1] == data)

        # -- another two: the first two data shares (forces parity decoding)
        for index in (0, 1):
            self.assertEqual(self.cluster.node(index).stop(), 0)
        self.wait_reachable(8)
        for key, data in objects.items():
            if key not in (small, large):
                reply, got = self.get(key)
                self.assertResult(reply, "success")
                self.assertTrue(got == data, "object of %d bytes differs" % len(data))
        for index in (0, 1):
            self.cluster.node(index).start()
        self.wait_reachable(10)

        # -- SIGTERM: operations in flight finish, new ones are refused,
        #    idle uploads are aborted, exit 0
        reply, _ = self.client.request({"message-type": "put-start", "key": new_key("stopping")})
        upload_id = reply["upload-id"]
        silent.proc.send_signal(signal.SIGSTOP)
        try:
            in_flight = self.client.send({"message-type": "put", "key": new_key("in-flight")},
                                         [b"z" * 1000])
            time.sleep(0.5)
            self.cluster.router.proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            late = self.cluster.router_client(timeout=10)
            reply, _ = late.request({"message-type": "get", "key": back_key})
            self.assertResult(reply, "unavailable", "stopping")
            reply, _ = self.client.request({"message-type": "put-data", "upload-id": upload_id},
                                           [b"more"])
            self.assertResult(reply, "unavailable", "stopping")
            reply, _ = self.client.recv(in_flight["request-id"])
            # in flight: it finishes, node05's share going to handoff holders
            self.assertResult(reply, "success")
            self.assertEqual(self.cluster.router.proc.wait(timeout=10), 0)
            self.cluster.router.expect_running = False
        finally:
            silent.proc.send_signal(signal.SIGCONT)
        self.cluster.router.start()
        self.wait_reachable(10)
        self.assertEqual(self.get(back_key)[1], b"after the storm")


class RouterProgramTest(unittest.TestCase):
    """The program itself: flags, bad cluster files, a cluster whose nodes
    are all down, SIGTERM."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="strata-router-program-")
        self.addCleanup(shutil.rmtree, self.workdir, True)

    def write_cluster(self, text):
        path = os.path.join(self.workdir, "cluster.cfg")
        with open(path, "w") as handle:
            handle.write(text)
        return path

    def run_router(self, *args):
        return subprocess.run([ROUTER_BINARY] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=20)

    def test_flags_and_bad_files(self):
        result = self.run_router("--version")
        self.assertEqual(result.returncode, 0)
        self.assertIn(b"strata-router", result.stdout)
        result = self.run_router("--help")
        self.assertEqual(result.returncode, 0)
        self.assertIn(b"--cluster", result.stdout)
        for args, expected in ((["--bogus"], b"--bogus"), ([], b"--cluster"),
                               (["--cluster", "/nonexistent.cfg"], b"/nonexistent.cfg")):
            result = self.run_router(*args)
            self.assertEqual(result.returncode, 2, result)
            self.assertIn(expected, result.stderr)
            self.assertEqual(result.stderr.count(b"\n"), 1, result.stderr)
        path = self.write_cluster(cluster_file_text("c", 2, [("a", "tcp://127.0.0.1:1", "tcp://127.0.0.1:2")],
                                                    "tcp://127.0.0.1:3"))
        result = self.run_router("--cluster", path)
        self.assertEqual(result.returncode, 2)
        self.assertIn(b"total-shards", result.stderr)
        path = self.write_cluster(cluster_file_text(
            "c", 1, [("a", "tcp://127.0.0.1:1", "tcp://127.0.0.1:2")], "tcp://127.0.0.1:3",
            {"slice-size": "lots"}))
        result = self.run_router("--cluster", path)
        self.assertEqual(result.returncode, 2)
        self.assertIn(b"router/slice-size", result.stderr)

    def test_nodes_down_then_sigterm(self):
        ports = free_ports(5)
        nodes = [("n%d" % i, "tcp://127.0.0.1:%d" % ports[2 * i], "tcp://127.0.0.1:%d" % ports[2 * i + 1])
                 for i in range(2)]
        listen = "tcp://127.0.0.1:%d" % ports[4]
        path = self.write_cluster(cluster_file_text("c", 1, nodes, "tcp://127.0.0.1:1",
                                                    {"node-timeout-ms": 500}))
        log = open(os.path.join(self.workdir, "router.log"), "wb")
        proc = subprocess.Popen([ROUTER_BINARY, "--cluster", path, "--listen", listen],
                                stdout=log, stderr=log)
        try:
            context = zmq.Context.instance()
            client = RouterClient(context, listen, timeout=10)
            reply = client.ping()
            self.assertEqual([node["reachable"] for node in reply["nodes"]], [False, False])
            reply, _ = client.request({"message-type": "put", "key": "k"}, [b"data"])
            self.assertEqual(reply["result"], "unavailable")
            self.assertIn("n0", reply["error-message"])
            reply, _ = client.request({"message-type": "get", "key": "k"})
            self.assertEqual(reply["result"], "unavailable")
            reply, _ = client.request({"message-type": "put-start", "key": "k"})
            self.assertEqual(reply["result"], "unavailable")
            client.close()
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=10), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()


if __name__ == "__main__":
    run_main(binaries=(NODE_BINARY, ROUTER_BINARY))
