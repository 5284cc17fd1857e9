"""Integration tests of the scrub (node/scrub.c, docs/storage.md "Scrub"):
`strata scrub --node` runs a pass and reports what it checked; bytes
flipped in records on three nodes are each found (reply, stats
damaged-records, `damaged` rows); a background pass resumes where it
stopped after a restart (checkpoint in the index).

Run: STRATA_BUILD_DIR=build /usr/bin/python3 tests/integration/test_scrub.py
"""

import os
import re
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster_harness import Cluster, payload, run_main  # noqa: E402

import unittest  # noqa: E402

FAST = 256 * 1024 * 1024


def index_rows(node, sql, args=()):
    """Rows of a query on a node's index (read-only; the node may run)."""
    path = os.path.join(node.data_dir, "index.db")
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def flip_payload_byte(node, which=0):
    """Flip the last payload byte of the which-th finished record of node
    with a payload; returns (value_file_id, record_offset)."""
    rows = index_rows(node, """
        SELECT q.value_file_id, q.record_offset, q.record_size, f.volume
        FROM sequence q JOIN segment s ON s.id = q.segment_id
        JOIN value_file f ON f.id = q.value_file_id
        WHERE s.status = 'F' AND q.segment_size > 0 AND s.handoff_node_id IS NULL
        ORDER BY q.value_file_id, q.record_offset LIMIT 1 OFFSET ?""", (which,))
    file_id, offset, size, volume = rows[0]
    path = os.path.join(volume, "values", "%016x.val" % file_id)
    with open(path, "r+b") as handle:
        handle.seek(offset + size - 1)
        byte = handle.read(1)
        handle.seek(offset + size - 1)
        handle.write(bytes([byte[0] ^ 0x5A]))
    return file_id, offset


class ScrubTest(unittest.TestCase):

    rates = {}

    @classmethod
    def node_config(cls, node):
        rate = cls.rates.get(node.name, FAST)
        interval = 0 if node.name in cls.rates else 86400
        return ("scrub\n    bytes-per-second = %d\n    interval-seconds = %d\n"
                % (rate, interval))

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(nodes=10, data_shards=8, node_config=cls.node_config)
        try:
            cls.cluster.start()
        except BaseException:
            cls.cluster.cleanup()
            raise
        client = cls.cluster.router_client()
        cls.objects = {}
        for number in range(24):
            data = payload((number * 97 * 1024) % (3 * 1024 * 1024), seed=number)
            key = "scrub/%02d" % number
            reply = client.put(key, data)
            assert reply["result"] == "success", reply
            cls.objects[key] = data

    @classmethod
    def tearDownClass(cls):
        problems = cls.cluster.cleanup()
        if problems:
            raise AssertionError("; ".join(problems))

    def scrub(self, node):
        result = self.cluster.strata("scrub", "--node", node.writer, "--timeout", "120",
                                     router=False)
        self.assertEqual(result.returncode, 0, result.stderr)
        match = re.match(rb"scrubbed (\d+) records \((\d+) bytes\): (\d+) damaged\n$", result.stdout)
        self.assertIsNotNone(match, result.stdout)
        return tuple(int(group) for group in match.groups())

    def test_1_clean_pass(self):
        node = self.cluster.node(0)
        before = node.stats()
        records, size, damaged = self.scrub(node)
        (expected,) = index_rows(node, """SELECT COUNT (*) FROM sequence q JOIN segment s
                                          ON s.id = q.segment_id WHERE s.status = 'F'""")[0:1]
        self.assertEqual(records, expected[0])
        self.assertGreater(size, 1024 * 1024)
        self.assertEqual(damaged, 0)
        stats = node.stats()
        self.assertEqual(stats["scrub-passes"], before["scrub-passes"] + 1)
        self.assertGreaterEqual(stats["scrub-last-pass-end"], int(time.time()) - 60)
        self.assertEqual(stats["scrub-bytes"], before["scrub-bytes"] + size)
        self.assertEqual(stats["scrub-position"], 0)
        self.assertEqual(stats["damaged-records"], 0)
        (state,) = index_rows(node, "SELECT in_pass, passes FROM scrub_state")
        self.assertEqual(state, (0, stats["scrub-passes"]))

    def test_2_damage_on_three_nodes(self):
        damaged = {}
        for index in (2, 5, 8):
            node = self.cluster.node(index)
            damaged[index] = flip_payload_byte(node, which=index)   # other objects
        for index in (2, 5, 8):
            node = self.cluster.node(index)
            records, _, found = self.scrub(node)
            self.assertGreater(records, 0)
            self.assertEqual(found, 1, node.name)
            self.assertEqual(node.stats()["damaged-records"], 1)
            rows = index_rows(node, "SELECT value_file_id, record_offset, reason FROM damaged")
            self.assertEqual([row[:2] for row in rows], [damaged[index]])
            self.assertIn("CRC32C", rows[0][2].upper() + rows[0][2])
            # a second pass finds it again, counted once
            self.assertEqual(self.scrub(node)[2], 1)
            self.assertEqual(node.stats()["damaged-records"], 1)
        # untouched nodes stay clean
        self.assertEqual(self.scrub(self.cluster.node(3))[2], 0)
        # every object still reads (k of the other shares)
        client = self.cluster.router_client()
        for key, data in self.objects.items():
            reply, got = client.get(key)
            self.assertEqual(got, data, (key, reply))

    def test_3_resumes_after_restart(self):
        node = self.cluster.node(6)
        node.stop()
        type(self).rates[node.name] = 256 * 1024       # slow, and passes back to back
        node.start()
        deadline = time.monotonic() + 60
        position = 0
        while time.monotonic() < deadline:
            position = node.stats()["scrub-position"]
            if position >= 512 * 1024:
                break
            time.sleep(0.2)
        self.assertGreaterEqual(position, 512 * 1024)
        node.stop()
        (state,) = index_rows(node, "SELECT in_pass, pass_bytes, value_file_id FROM scrub_state")
        self.assertEqual(state[0], 1)
        self.assertGreaterEqual(state[1], position)
        del type(self).rates[node.name]             # fast, one pass a day
        node.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and node.stats()["scrub-passes"] < 1:
            time.sleep(0.2)
        stats = node.stats()
        self.assertGreaterEqual(stats["scrub-passes"], 1)
        log = node.log_text()
        self.assertIn("scrub: resuming the pass", log)
        # the pass's total counts what was read before the restart; this
        # process read only the rest
        ended = re.findall(r"scrub: pass ended: (\d+) records, (\d+) bytes", log)
        total = int(ended[-1][1])
        self.assertEqual(stats["scrub-bytes"] + state[1], total)


if __name__ == "__main__":
    run_main()
