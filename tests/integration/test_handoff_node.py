"""Integration tests: the node side of hinted handoff (issue 7).

A 3-node cluster (cluster_harness, no router) with a fast handoff round.
While node02 (the owner) is stopped, node01 (the holder) is given handoff
copies for it directly over the node protocol: an archive-key-entire, a
multi-sequence start/next/final, a segment and a destroy-key deleting it, a
finished conjoined archive with a part, an aborted conjoined archive. Then:

* node01's stats show them pending for node02; its handoff reads work;
* node02 starts; node01's stats drain to zero pending, bounded in time;
* node02 serves every segment without a handoff name, byte-identical and
  with the same unified-id, timestamp, file-size, file-hash, meta and
  adler32s; the deleted key is not-found; the conjoined rows are there;
* node01's handoff reads are now not-found; a purge-handoff of something
  not held (or held no more) is unknown-segment;
* --rebuild-index on node01 keeps the copies forwarded (RECORD_PURGE); both
  nodes' --check is clean.

A replay interrupted by killing the owner, and one interrupted by
restarting the holder, both resume and leave exactly one finished copy on
the owner with the right bytes. A damaged handoff record is never
forwarded.

Run: STRATA_BUILD_DIR=/work/main/build-handoff /usr/bin/python3 \
         tests/integration/test_handoff_node.py
"""

import os
import sqlite3
import subprocess
import sys
import time
import unittest

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster_harness import NODE_BINARY, Cluster, payload, run_main  # noqa: E402
from strata_harness import (  # noqa: E402
    Client, Segment, conjoined_header, destroy_header, new_key, new_unified_id,
)

HOLDER, OWNER = 0, 1            # node01 holds copies for node02
OWNER_NAME = "node02"
OWNER_SEGMENT = 2               # node02 stores segment-num 2
DRAIN_TIMEOUT = 30.0            # seconds for handoff copies to drain
REQUEST_TIMEOUT = 10.0
COMMAND_TIMEOUT = 60

FAST = ("handoff\n"
        "    interval-ms = 200\n"
        "    timeout-ms = 2000\n")


class HandoffCluster(Cluster):
    """A cluster of plain nodes (no router), all started with config_text."""

    def __init__(self, config_text, nodes=3):
        super().__init__(nodes=nodes, data_shards=2, start_router=False)
        self.config_text = config_text

    def _layout(self):
        super()._layout()
        path = os.path.join(self.workdir, "node.cfg")
        with open(path, "w") as handle:
            handle.write(self.config_text)
        for node in self.nodes:
            node.command = (lambda base=node.command: base() + ["--config", path])


class HandoffCase(unittest.TestCase):
    config_text = FAST

    def setUp(self):
        self.cluster = HandoffCluster(self.config_text)
        self.cluster.start()
        self.context = zmq.Context()
        self.clients = []
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        for client in self.clients:
            client.close()
        self.context.destroy(linger=0)
        problems = self.cluster.cleanup()
        if problems:
            raise AssertionError("; ".join(problems))

    def run(self, result=None):
        if result is None:
            result = self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        try:
            return super().run(result)
        finally:
            if len(result.failures) + len(result.errors) > before:
                sys.stderr.write("\n===== logs (%s) =====\n%s\n===== end =====\n"
                                 % (self.id(), self.cluster.logs(20000)))

    # -- helpers ------------------------------------------------------------

    def node(self, index):
        return self.cluster.node(index)

    def client(self, index):
        node = self.node(index)
        client = Client(self.context, node.writer, node.reader, tag="handoff-test")
        self.clients.append(client)
        return client

    def ok(self, client, header, frames=(), endpoint="writer", result="success"):
        reply = client.request(header, frames, endpoint=endpoint, timeout=REQUEST_TIMEOUT)
        self.assertEqual(reply.get("result"), result, "%r -> %r" % (header.get("message-type"), reply))
        return reply

    def held_segment(self, **extra):
        options = dict(segment_num=OWNER_SEGMENT, source="node03", handoff=OWNER_NAME)
        options.update(extra)
        return Segment(**options)

    def store_entire(self, client, segment, data, **extra):
        self.ok(client, segment.entire(data, **extra), [data])

    def store_sequences(self, client, segment, chunks, **extra):
        self.ok(client, segment.start(chunks[0]), [chunks[0]])
        for number, chunk in enumerate(chunks[1:-1], start=1):
            self.ok(client, segment.next(chunk, number), [chunk])
        self.ok(client, segment.final(chunks[-1], len(chunks) - 1, **extra), [chunks[-1]])

    def handoff_stats(self, index):
        stats = self.node(index).stats(timeout=REQUEST_TIMEOUT)
        self.assertIsNotNone(stats, "no stats from node%02d" % (index + 1))
        return stats["handoff"]

    def owner_figures(self, index, owner=OWNER_NAME):
        return self.handoff_stats(index)["owners"].get(owner, {"held": 0, "pending": 0, "forwarded": 0})

    def wait_figures(self, predicate, timeout=DRAIN_TIMEOUT, index=HOLDER):
        deadline = time.monotonic() + timeout
        figures = self.owner_figures(index)
        while not predicate(figures) and time.monotonic() < deadline:
            time.sleep(0.1)
            figures = self.owner_figures(index)
        self.assertTrue(predicate(figures), "handoff figures never got there: %r" % (figures,))
        return figures

    def read_all(self, client, segment, **extra):
        """(headers, payload) of every sequence; headers[-1] may be a failure."""
        headers, payloads = client.retrieve(segment, timeout=REQUEST_TIMEOUT, **extra)
        return headers, b"".join(payloads)

    def assert_same(self, client, segment, data, meta=None):
        """The owner serves segment (its own copy) exactly as it was stored."""
        headers, got = self.read_all(client, segment)
        self.assertEqual(headers[-1].get("result"), "success", headers[-1])
        self.assertEqual(got, data)
        first = headers[0]
        self.assertEqual(first["unified-id"], segment.unified_id)
        self.assertEqual(first["timestamp-repr"], segment.timestamp)
        self.assertEqual(first["file-size"], len(data))
        self.assertEqual(first["file-hash"], segment.entire(data)["file-hash"])
        self.assertEqual(first["file-adler32"], segment.entire(data)["file-adler32"])
        self.assertEqual(first["meta"], meta)
        self.assertEqual(first["sequence-count"], len(headers))

    def assert_not_found(self, client, segment, **extra):
        headers, _ = self.read_all(client, segment, **extra)
        self.assertEqual(headers[-1].get("result"), "not-found", headers[-1])

    def index_rows(self, index, sql, parameters=()):
        path = os.path.join(self.node(index).data_dir, "index.db")
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
        try:
            return db.execute(sql, parameters).fetchall()
        finally:
            db.close()

    def identity_rows(self, index, segment):
        """status and sequence count of every row of segment's identity."""
        return self.index_rows(
            index, "SELECT status, sequence_count FROM segment WHERE unified_id = ?"
            " AND conjoined_part = ? AND segment_num = ? AND handoff_node_id IS NULL ORDER BY id",
            (segment.unified_id - (1 << 63), segment.conjoined_part, segment.segment_num))

    def run_tool(self, index, flag):
        node = self.node(index)
        done = subprocess.run(node.command() + [flag], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=COMMAND_TIMEOUT)
        return done.returncode, done.stdout.decode("utf-8", "replace") + \
            done.stderr.decode("utf-8", "replace")

    def purge(self, client, segment=None, result="success", **fields):
        header = {"message-type": "purge-handoff", "handoff-node-name": OWNER_NAME}
        if segment is not None:
            header.update({"collection-id": segment.collection_id, "key": segment.key,
                           "unified-id": segment.unified_id,
                           "conjoined-part": segment.conjoined_part,
                           "segment-num": segment.segment_num})
        header.update(fields)
        return self.ok(client, header, result=result)


# ==========================================================================

class DrainTest(HandoffCase):

    def test_handoff_copies_drain_to_their_owner(self):
        holder = self.client(HOLDER)
        self.node(OWNER).stop()

        # -- handoff copies on node01 for node02 -----------------------------
        entire = self.held_segment()
        entire_data = payload(50000, 1)
        meta = {"content-type": "text/plain", "x-owner": "node02"}
        self.store_entire(holder, entire, entire_data, meta=meta)

        multi = self.held_segment()
        chunks = [payload(40000, 2), payload(40000, 3), payload(12345, 4)]
        self.store_sequences(holder, multi, chunks, meta={"part": "multi"})

        deleted = self.held_segment()
        self.store_entire(holder, deleted, payload(3000, 5))
        self.ok(holder, destroy_header(deleted.collection_id, deleted.key, new_unified_id(),
                                       segment_num=OWNER_SEGMENT, source="node03",
                                       **{"handoff-node-name": OWNER_NAME}))

        conjoined_key, conjoined_id = new_key("conjoined"), new_unified_id()
        for kind in ("start-conjoined-archive", "finish-conjoined-archive"):
            self.ok(holder, conjoined_header(kind, 1, conjoined_key, conjoined_id,
                                             **{"handoff-node-name": OWNER_NAME}))
        part = self.held_segment(key=conjoined_key, unified_id=conjoined_id, conjoined_part=1)
        part_data = payload(7777, 6)
        self.store_entire(holder, part, part_data)

        aborted_key, aborted_id = new_key("aborted"), new_unified_id()
        for kind in ("start-conjoined-archive", "abort-conjoined-archive"):
            self.ok(holder, conjoined_header(kind, 1, aborted_key, aborted_id,
                                             **{"handoff-node-name": OWNER_NAME}))
        copies = 7

        # held for node02: readable as handoff copies, counted as pending
        headers, got = self.read_all(holder, entire, **{"handoff-node-name": OWNER_NAME})
        self.assertEqual(got, entire_data)
        figures = self.wait_figures(lambda f: f["pending"] == copies)
        self.assertEqual(figures["held"], copies)
        stats = self.handoff_stats(HOLDER)
        self.assertTrue(stats["running"])
        self.assertEqual(stats["pending"], copies)

        # -- the owner comes back: everything drains ---------------------------
        self.node(OWNER).start()
        figures = self.wait_figures(lambda f: f["pending"] == 0 and f["held"] == 0)
        self.assertEqual(figures["forwarded"], copies)
        stats = self.handoff_stats(HOLDER)
        self.assertEqual(stats["damaged"], 0)
        self.assertGreaterEqual(stats["bytes-forwarded"],
                                len(entire_data) + sum(map(len, chunks)) + len(part_data))

        owner = self.client(OWNER)
        self.assert_same(owner, entire, entire_data, meta)
        self.assert_same(owner, multi, b"".join(chunks), {"part": "multi"})
        self.assert_same(owner, part, part_data)
        self.assert_not_found(owner, deleted)
        self.assert_not_found(owner, deleted, **{"unified-id": deleted.unified_id})
        self.assertEqual(self.index_rows(OWNER, "SELECT key, status, handoff_node_id FROM conjoined"
                                         " ORDER BY id"),
                         [(conjoined_key, "F", None), (aborted_key, "C", None)])
        self.assertEqual(self.identity_rows(OWNER, multi), [("F", 3)])

        # the holder's copies are forwarded: no longer readable, not purgeable
        for segment in (entire, multi, part):
            self.assert_not_found(holder, segment, **{"handoff-node-name": OWNER_NAME})
        self.purge(holder, entire, result="unknown-segment")
        self.purge(holder, self.held_segment(), result="unknown-segment")
        self.purge(holder, result="unknown-segment", **{
            "collection-id": 1, "key": conjoined_key, "unified-id": conjoined_id})
        rows = self.index_rows(HOLDER, "SELECT COUNT (*) FROM segment WHERE handoff_node_id IS"
                               " NOT NULL AND forwarded_us IS NULL AND status <> 'C'")
        self.assertEqual(rows, [(0,)])

        # -- the forwarded state survives --rebuild-index; --check is clean -----
        for index in (HOLDER, OWNER):
            self.assertEqual(self.node(index).stop(), 0)
        code, output = self.run_tool(HOLDER, "--rebuild-index")
        self.assertEqual(code, 0, output)
        self.assertIn("skipped 0 records", output)
        held = self.index_rows(HOLDER, "SELECT COUNT (*) FROM segment WHERE handoff_node_id IS NOT"
                               " NULL AND forwarded_us IS NULL AND status <> 'C'")
        self.assertEqual(held, [(0,)])
        held = self.index_rows(HOLDER, "SELECT COUNT (*) FROM conjoined WHERE forwarded_us IS NULL")
        self.assertEqual(held, [(0,)])
        for index in (HOLDER, OWNER):
            code, output = self.run_tool(index, "--check")
            self.assertEqual(code, 0, output)
        self.node(HOLDER).start()
        holder = self.client(HOLDER)
        self.assert_not_found(holder, entire, **{"handoff-node-name": OWNER_NAME})
        time.sleep(0.5)
        self.assertEqual(self.owner_figures(HOLDER)["pending"], 0)

    def test_purge_handoff_rules(self):
        holder = self.client(HOLDER)
        # nothing held: unknown-segment, for a segment and for a conjoined archive
        self.purge(holder, self.held_segment(), result="unknown-segment")
        self.purge(holder, result="unknown-segment", **{
            "collection-id": 1, "key": new_key(), "unified-id": new_unified_id()})
        # handoff-node-name is required and must be a node of the cluster
        header = {"message-type": "purge-handoff", "collection-id": 1, "key": "k",
                  "unified-id": 1, "handoff-node-name": None}
        reply = self.ok(holder, header, result="invalid-request")
        self.assertIn("handoff-node-name", reply["error-message"])
        self.ok(holder, dict(header, **{"handoff-node-name": "nodeX"}), result="unknown-node")
        # a copy held for node02 but not finished is not purged
        active = self.held_segment()
        self.ok(holder, active.start(b"abc"), [b"abc"])
        self.purge(holder, active, result="unknown-segment")
        # the node's own copy is never a handoff copy
        own = Segment(segment_num=1, source="node03")
        self.store_entire(holder, own, b"own data")
        self.purge(holder, own, result="unknown-segment")
        # a purge by hand (nobody forwarded it): the copy is gone for handoff reads
        held = self.held_segment()
        self.node(OWNER).stop()
        self.store_entire(holder, held, b"held data")
        self.purge(holder, held)
        self.assert_not_found(holder, held, **{"handoff-node-name": OWNER_NAME})
        self.purge(holder, held, result="unknown-segment")
        headers, got = self.read_all(holder, own)
        self.assertEqual(got, b"own data")


# ==========================================================================

class ResumeTest(HandoffCase):
    # 32 KiB/s: a 128 KiB segment takes about 3.5 s to replay
    config_text = FAST + "    rate-bytes = 32768\n"

    def wait_partial(self, segment, timeout=20.0):
        """Until the owner holds segment active with a few sequences."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.identity_rows(OWNER, segment)
            if any(status == "A" and count >= 2 for status, count in rows):
                return rows
            time.sleep(0.1)
        self.fail("the replay never started: %r" % (self.identity_rows(OWNER, segment),))

    def test_replay_resumes_after_either_side_restarts(self):
        holder = self.client(HOLDER)
        self.node(OWNER).stop()
        first, second = self.held_segment(), self.held_segment()
        first_chunks = [payload(16384, 10 + n) for n in range(8)]
        second_chunks = [payload(16384, 30 + n) for n in range(8)]
        self.store_sequences(holder, first, first_chunks)
        self.wait_figures(lambda f: f["pending"] == 1)

        # the owner dies half-way through the replay, and comes back after
        # the holder gave up waiting (timeout-ms): the holder cancels what
        # the owner kept active and replays the segment from the start
        self.node(OWNER).start()
        self.wait_partial(first)
        self.node(OWNER).kill()
        time.sleep(3.0)
        self.assertGreaterEqual(self.handoff_stats(HOLDER)["failures"], 1)
        self.node(OWNER).start()
        self.wait_figures(lambda f: f["pending"] == 0 and f["forwarded"] == 1)
        owner = self.client(OWNER)
        self.assert_same(owner, first, b"".join(first_chunks))
        rows = self.identity_rows(OWNER, first)
        self.assertEqual(sorted(status for status, _ in rows), ["C", "F"], rows)
        self.assertIn(("F", 8), rows)

        # the holder restarts half-way through the replay
        self.node(OWNER).stop()
        self.store_sequences(holder, second, second_chunks)
        self.wait_figures(lambda f: f["pending"] == 1)
        self.node(OWNER).start()
        self.wait_partial(second)
        self.assertEqual(self.node(HOLDER).stop(), 0)
        self.node(HOLDER).start()
        self.wait_figures(lambda f: f["pending"] == 0 and f["forwarded"] == 1)
        self.assert_same(owner, second, b"".join(second_chunks))
        rows = self.identity_rows(OWNER, second)
        self.assertEqual(sorted(status for status, _ in rows), ["C", "F"], rows)
        self.assertIn(("F", 8), rows)


    def test_two_holders_of_one_copy(self):
        # The router puts an absent node's share on two nodes: both replay it
        # when the owner comes back, and the owner ends up with one copy
        other = 2
        holders = [self.client(HOLDER), self.client(other)]
        self.node(OWNER).stop()
        segment = self.held_segment()
        chunks = [payload(16384, 50 + n) for n in range(5)]
        deleted = self.held_segment()
        tombstone_id = new_unified_id()         # newer than the version it deletes
        for client in holders:
            self.store_sequences(client, segment, chunks)
            self.store_entire(client, deleted, b"deleted data")
            self.ok(client, destroy_header(deleted.collection_id, deleted.key, tombstone_id,
                                           segment_num=OWNER_SEGMENT, source="node03",
                                           **{"handoff-node-name": OWNER_NAME}))
        for index in (HOLDER, other):
            self.wait_figures(lambda f: f["pending"] == 3, index=index)
        self.node(OWNER).start()
        for index in (HOLDER, other):
            figures = self.wait_figures(lambda f: f["pending"] == 0 and f["held"] == 0, index=index)
            self.assertEqual(figures["forwarded"], 3)
        owner = self.client(OWNER)
        self.assert_same(owner, segment, b"".join(chunks))
        self.assert_not_found(owner, deleted)
        rows = self.identity_rows(OWNER, segment)
        self.assertEqual([row for row in rows if row[0] != "C"], [("F", 5)], rows)


# ==========================================================================

class DamageTest(HandoffCase):

    def record_of(self, segment):
        """(path, offset, size) of segment's first record on the holder."""
        rows = self.index_rows(
            HOLDER, "SELECT q.value_file_id, q.record_offset, q.record_size, f.volume"
            " FROM sequence AS q JOIN segment AS s ON s.id = q.segment_id"
            " JOIN value_file AS f ON f.id = q.value_file_id WHERE s.key = ?"
            " ORDER BY q.sequence_num LIMIT 1", (segment.key,))
        self.assertEqual(len(rows), 1)
        file_id, offset, size, volume = rows[0]
        return os.path.join(volume, "values", "%016x.val" % file_id), offset, size

    def test_damaged_record_is_not_forwarded(self):
        holder = self.client(HOLDER)
        self.node(OWNER).stop()
        damaged, good = self.held_segment(), self.held_segment()
        self.store_entire(holder, damaged, payload(20000, 7))
        self.store_entire(holder, good, payload(20000, 8))
        self.ok(holder, {"message-type": "sync-value-file"})
        path, offset, size = self.record_of(damaged)
        with open(path, "r+b") as handle:
            handle.seek(offset + size - 100)
            byte = handle.read(1)
            handle.seek(offset + size - 100)
            handle.write(bytes([byte[0] ^ 0x5A]))
        self.wait_figures(lambda f: f["pending"] == 2)

        self.node(OWNER).start()
        figures = self.wait_figures(lambda f: f["forwarded"] == 1)
        time.sleep(1.0)         # a few more rounds: the damaged copy stays put
        figures = self.owner_figures(HOLDER)
        self.assertEqual((figures["held"], figures["pending"], figures["forwarded"]), (1, 1, 1))
        self.assertEqual(self.handoff_stats(HOLDER)["damaged"], 1)
        owner = self.client(OWNER)
        self.assert_same(owner, good, payload(20000, 8))
        self.assert_not_found(owner, damaged)
        self.assertEqual(self.identity_rows(OWNER, damaged), [])


if __name__ == "__main__":
    run_main(binaries=(NODE_BINARY,))
