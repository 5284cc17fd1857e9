"""End-to-end test of repair and node replacement (cluster/repair.c,
`strata repair`, docs/node.md "Replacing a node") on a local 10-node
cluster (k = 8, 1 MiB slices so objects span several slices):

- objects of 0 B .. 8 MiB (STRATA_REPAIR_OBJECTS, STRATA_REPAIR_MAX_MIB:
  `make soak-repair` runs 200 objects up to 30 MiB), several versions,
  some deleted;
- one node's data directory is wiped and the node restarted empty;
  `strata repair --node` rebuilds every share it owned: the record
  payloads are byte-identical to the originals; a second run rebuilds
  nothing; with two other nodes stopped every object reads back
  byte-identical and deleted ones stay deleted; python3-zfec rebuilds
  objects from any 8 shares, the rebuilt ones among them;
- bytes flipped in records on three nodes are found by `strata scrub`,
  rebuilt by `strata repair`, and the next scrub is clean.

Run: STRATA_BUILD_DIR=build /usr/bin/python3 tests/integration/test_repair.py
"""

import hashlib
import itertools
import os
import random
import re
import shutil
import sqlite3
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster_harness import Cluster, payload, run_main  # noqa: E402
from zfec.easyfec import Decoder  # noqa: E402

OBJECTS = int(os.environ.get("STRATA_REPAIR_OBJECTS", "40"))
MAX_MIB = int(os.environ.get("STRATA_REPAIR_MAX_MIB", "8"))
SLICE = 1024 * 1024
BLOCK_SIZE = 32 * 1024
K, N = 8, 10
WIPED = 3                   # node04
DAMAGED = (1, 5, 8)         # node02, node06, node09


def index_rows(node, sql, args=()):
    path = os.path.join(node.data_dir, "index.db")
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def read_payload(volume, file_id, offset):
    """The payload bytes of the record at offset (docs/storage.md)."""
    path = os.path.join(volume, "values", "%016x.val" % file_id)
    with open(path, "rb") as handle:
        handle.seek(offset)
        header = handle.read(64)
        descriptor_size, = struct.unpack_from("<I", header, 8)
        payload_size, = struct.unpack_from("<Q", header, 16)
        handle.seek(offset + 64 + descriptor_size)
        return handle.read(payload_size)


def share_records(node):
    """{(key, unified-id, sequence-num): (volume, file id, offset)} of the
    node's own finished segments, the newest row of each version."""
    rows = index_rows(node, """
        SELECT s.key, s.unified_id, q.sequence_num, f.volume, q.value_file_id, q.record_offset
        FROM segment s JOIN sequence q ON q.segment_id = s.id
        JOIN value_file f ON f.id = q.value_file_id
        WHERE s.status = 'F' AND s.handoff_node_id IS NULL AND s.forwarded_us IS NULL
        ORDER BY s.id""")
    records = {}
    for key, unified_id, sequence, volume, file_id, offset in rows:
        records[(key, unified_id, sequence)] = (volume, file_id, offset)   # newest row wins
    return records


def share_digests(node):
    return {where: hashlib.md5(read_payload(*place)).hexdigest()
            for where, place in share_records(node).items()}


def zfec_decode_slice(shares, padding):
    nums = list(shares)
    share_size = len(shares[nums[0]])
    unit = (BLOCK_SIZE + K - 1) // K
    decoder = Decoder(K, N)
    out = bytearray()
    for offset in range(0, share_size, unit):
        pieces = [shares[num][offset:offset + unit] for num in nums]
        last = offset + unit >= share_size
        padlen = padding if last else K * unit - BLOCK_SIZE
        out += decoder.decode(pieces, nums, padlen)
    return bytes(out)


class RepairTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(nodes=N, data_shards=K, router_settings={"slice-size": str(SLICE)},
                              node_config=lambda node: "scrub\n    bytes-per-second = 268435456\n")
        try:
            cls.cluster.start()
        except BaseException:
            cls.cluster.cleanup()
            raise
        started = time.monotonic()
        rng = random.Random(16)
        client = cls.cluster.router_client()
        cls.live = {}           # key -> data of its newest version
        cls.deleted = []
        cls.stored_bytes = 0
        sizes = [0, 1, 4095, SLICE, SLICE + 1, MAX_MIB * 1024 * 1024]
        while len(sizes) < OBJECTS:
            sizes.append(rng.randrange(0, MAX_MIB * 1024 * 1024 + 1)
                         if rng.random() < 0.5 else rng.randrange(0, 65536))
        for number, size in enumerate(sizes):
            key = "repair/%03d" % number
            versions = 2 if number % 7 == 3 else 1
            for version in range(versions):
                data = payload(size + version, seed=number * 10 + version)
                reply = client.put(key, data)
                assert reply["result"] == "success", reply
                cls.stored_bytes += len(data)
            cls.live[key] = data
            if number % 9 == 4:
                assert client.delete(key)["result"] == "success"
                cls.deleted.append(key)
                del cls.live[key]
        sys.stderr.write("stored %d objects (%.1f MiB) in %.1f s\n"
                         % (len(sizes), cls.stored_bytes / 1048576.0, time.monotonic() - started))

    @classmethod
    def tearDownClass(cls):
        problems = cls.cluster.cleanup()
        if problems:
            raise AssertionError("; ".join(problems))

    def strata(self, *args, timeout=900):
        return self.cluster.strata(args[0], "--router", self.cluster.router_endpoint, *args[1:],
                                   timeout=timeout)

    def final_line(self, result):
        match = re.search(rb"checked (\d+) versions, rebuilt (\d+) shares, (\d+) unrecoverable\n$",
                          result.stdout)
        self.assertIsNotNone(match, (result.stdout, result.stderr))
        return tuple(int(group) for group in match.groups())

    def read_all(self, client):
        for key, data in self.live.items():
            reply, got = client.get(key)
            self.assertEqual(reply["result"], "success", (key, reply))
            self.assertTrue(got == data, key)
        for key in self.deleted:
            reply, _ = client.get(key)
            self.assertEqual(reply["result"], "not-found", key)

    def test_1_replace_a_node(self):
        node = self.cluster.node(WIPED)
        before = share_digests(node)
        live_versions = len(self.live)
        node.stop()
        shutil.rmtree(node.data_dir)
        node.start()
        self.cluster.wait_router()
        self.assertEqual(share_records(node), {})
        started = time.monotonic()
        result = self.strata("repair", "--node", node.name)
        seconds = time.monotonic() - started
        self.assertEqual(result.returncode, 0, result.stderr)
        checked, rebuilt, unrecoverable = self.final_line(result)
        self.assertEqual(unrecoverable, 0)
        self.assertGreaterEqual(checked, live_versions)
        self.assertEqual(rebuilt, checked)     # every visible version lost its share here
        sys.stderr.write("repair --node: %s %.1f s\n"
                         % (result.stderr.decode().strip().splitlines()[-1], seconds))
        # the rebuilt record payloads are the original ones, byte for byte
        after = share_digests(node)
        visible = {where: digest for where, digest in after.items()
                   if where[0] in self.live}
        self.assertTrue(visible)
        for where, digest in visible.items():
            self.assertEqual(before.get(where), digest, where)
        # idempotent: nothing left to do
        result = self.strata("repair", "--node", node.name)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(self.final_line(result)[1:], (0, 0))

    def test_2_two_other_nodes_down(self):
        stopped = [self.cluster.node(0), self.cluster.node(7)]
        for node in stopped:
            node.stop()
        try:
            deadline = time.monotonic() + 30
            client = self.cluster.router_client()
            while time.monotonic() < deadline:
                if sum(1 for n in client.ping()["nodes"] if n["reachable"]) == N - 2:
                    break
                time.sleep(0.2)
            self.read_all(client)
        finally:
            for node in stopped:
                node.start()
            self.cluster.wait_router()

    def test_3_zfec_rebuilds_from_any_8_shares(self):
        """Shares straight from the nodes (retrieve-key-start/-next), decoded
        by zfec from several choices of 8, each with the rebuilt share."""
        keys = sorted(self.live, key=lambda key: len(self.live[key]))
        for key in [keys[0], keys[len(keys) // 2], keys[-1]]:
            data = self.live[key]
            slices = []
            sequence, completed = 0, False
            shares_by_slice = []
            while not completed:
                shares, padding = {}, None
                for index in range(N):
                    node = self.cluster.node(index)
                    header = {"message-type": "retrieve-key-start" if sequence == 0
                              else "retrieve-key-next",
                              "collection-id": 0, "key": key, "segment-num": index + 1}
                    if sequence:
                        header.update({"unified-id": unified_id, "sequence-num": sequence})
                    reply, frames = self.retrieve(node, header)
                    self.assertEqual(reply["result"], "success", (key, node.name, reply))
                    unified_id = reply["unified-id"]
                    shares[index] = b"".join(frames)
                    padding = reply["zfec-padding-size"]
                    completed = reply["completed"]
                shares_by_slice.append((shares, padding))
                sequence += 1
            rng = random.Random(key)
            choices = [c for c in itertools.combinations(range(N), K) if WIPED in c]
            for choice in rng.sample(choices, 3):
                rebuilt = b"".join(zfec_decode_slice({num: shares[num] for num in choice}, padding)
                                   for shares, padding in shares_by_slice)
                self.assertTrue(rebuilt == data, (key, choice))
            slices.append(len(shares_by_slice))

    def retrieve(self, node, header):
        """A retrieval on node's reader: (reply header, data frames)."""
        import msgpack
        import uuid
        import zmq
        context = self.cluster.context
        pull, push = context.socket(zmq.PULL), context.socket(zmq.PUSH)
        try:
            for sock in (pull, push):
                sock.setsockopt(zmq.LINGER, 0)
            port = pull.bind_to_random_port("tcp://127.0.0.1")
            push.connect(node.reader)
            header = dict(header, **{"message-id": uuid.uuid4().hex, "client-tag": "test",
                                     "client-address": "tcp://127.0.0.1:%d" % port})
            push.send(msgpack.packb(header, use_bin_type=True))
            self.assertTrue(pull.poll(20000), "no reply from %s" % node.name)
            frames = pull.recv_multipart()
            return msgpack.unpackb(frames[0], raw=False), frames[1:]
        finally:
            pull.close()
            push.close()

    def scrub(self, node):
        result = self.cluster.strata("scrub", "--node", node.writer, "--timeout", "300",
                                     router=False)
        self.assertEqual(result.returncode, 0, result.stderr)
        match = re.match(rb"scrubbed (\d+) records \((\d+) bytes\): (\d+) damaged\n$", result.stdout)
        self.assertIsNotNone(match, result.stdout)
        return int(match.group(3))

    def test_4_damage_found_by_scrub_rebuilt_by_repair(self):
        flipped = {}
        for which, index in enumerate(DAMAGED):
            node = self.cluster.node(index)
            rows = index_rows(node, """
                SELECT q.value_file_id, q.record_offset, q.record_size, f.volume, s.key
                FROM sequence q JOIN segment s ON s.id = q.segment_id
                JOIN value_file f ON f.id = q.value_file_id
                WHERE s.status = 'F' AND q.segment_size > 0 AND s.handoff_node_id IS NULL
                AND s.key = ?""", (sorted(self.live)[3 + which],))
            file_id, offset, size, volume, key = rows[-1]
            path = os.path.join(volume, "values", "%016x.val" % file_id)
            with open(path, "r+b") as handle:
                handle.seek(offset + size - 2)
                byte = handle.read(1)
                handle.seek(offset + size - 2)
                handle.write(bytes([byte[0] ^ 0xFF]))
            flipped[index] = (file_id, offset)
        for index in DAMAGED:
            node = self.cluster.node(index)
            self.assertEqual(self.scrub(node), 1, node.name)
            rows = index_rows(node, "SELECT value_file_id, record_offset FROM damaged")
            self.assertIn(flipped[index], rows)
            self.assertGreaterEqual(node.stats()["damaged-records"], 1)
        result = self.strata("repair")
        self.assertEqual(result.returncode, 0, result.stderr)
        checked, rebuilt, unrecoverable = self.final_line(result)
        self.assertEqual((rebuilt, unrecoverable), (3, 0))
        for index in DAMAGED:
            self.assertEqual(self.scrub(self.cluster.node(index)), 0)
        self.read_all(self.cluster.router_client())


if __name__ == "__main__":
    run_main()
