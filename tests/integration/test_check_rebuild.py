"""Integration tests: strata-node --check and --rebuild-index (issue 5).

A node is populated with every kind of state the writer keeps (entire and
multi-sequence segments, versions, general and specific tombstones,
cancelled segments by archive-key-cancel and by web-writer-start, an active
unfinished segment, finished and aborted conjoined archives, handoff copies,
meta), across several small value files, and stopped. Then:

* --check is clean; a flipped payload byte makes it fail, naming the value
  file and the record's offset; restored, it is clean again;
* --rebuild-index succeeds; the node started on the rebuilt index answers
  every read exactly as before (every reply header field but message-id and
  client-address, and every payload); --check is clean on the rebuilt index;
  the active segment can still be continued and finished;
* --check on the data directory of a running node is refused (lock).

Run: STRATA_BUILD_DIR=/work/main/build-check /usr/bin/python3 \
         tests/integration/test_check_rebuild.py
"""

import glob
import os
import sqlite3
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from strata_harness import (  # noqa: E402
    NODE_BINARY, Segment, StrataTestCase, conjoined_header, destroy_header,
    iso_now, new_key, new_unified_id, run_main, split_frames,
)

RECORD_HEADER_SIZE = 64
RECORD_SEQUENCE = 1
COMMAND_TIMEOUT = 30        # seconds --check / --rebuild-index may take here

# Small value files, so the data spans several of them
SMALL_FILES_CONFIG = "node\n    value-file-max-bytes = 65536\n"


def payload_of(size, seed=0):
    return bytes(((index * 31 + seed * 97 + (index >> 5)) & 0xFF)
                 for index in range(size))


def value_files(data_dir):
    return sorted(glob.glob(os.path.join(data_dir, "volume0", "values", "*.val")))


def records_of(path):
    """(offset, type, descriptor_size, payload_size) of every record in a
    value file, from the documented header layout (docs/storage.md)."""
    with open(path, "rb") as handle:
        data = handle.read()
    offset, records = 0, []
    while offset + RECORD_HEADER_SIZE <= len(data):
        magic, _version, kind, descriptor_size = struct.unpack_from("<IHHI", data, offset)
        if magic != 0x31525453:
            break
        payload_size, = struct.unpack_from("<Q", data, offset + 16)
        records.append((offset, kind, descriptor_size, payload_size))
        offset += RECORD_HEADER_SIZE + descriptor_size + payload_size
    return records


def index_dump(data_dir):
    """The index's contents that a rebuild must reproduce: every table but
    `damaged`, without row creation times."""
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(data_dir, "index.db"), uri=True)
    try:
        queries = {
            "segment": "SELECT s.id, collection_id, key, unified_id, timestamp_us,"
                       " conjoined_part, segment_num, status, source.name, handoff.name,"
                       " file_size, file_adler32, file_hash, meta, sequence_count,"
                       " last_sequence_num, delete_unified_id, user_request_id"
                       " FROM segment AS s JOIN node_name AS source ON source.id = source_node_id"
                       " LEFT JOIN node_name AS handoff ON handoff.id = handoff_node_id"
                       " ORDER BY s.id",
            "sequence": "SELECT * FROM sequence ORDER BY segment_id, sequence_num",
            "conjoined": "SELECT c.id, collection_id, key, unified_id, timestamp_us, n.name,"
                         " status FROM conjoined AS c"
                         " LEFT JOIN node_name AS n ON n.id = handoff_node_id ORDER BY c.id",
            "value_file": "SELECT id, volume, closed, synced_size FROM value_file ORDER BY id",
            "node_name": "SELECT name FROM node_name ORDER BY name",
        }
        return {table: db.execute(sql).fetchall() for table, sql in queries.items()}
    finally:
        db.close()


class CheckRebuildTest(StrataTestCase):
    node_config = SMALL_FILES_CONFIG
    test_timeout = 120

    # -- helpers ------------------------------------------------------------

    def run_tool(self, flag, node=None):
        """Run strata-node with flag on the node's data dir; (code, stdout, stderr)."""
        node = node or self.node
        command = node._command() + [flag]
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=COMMAND_TIMEOUT, cwd=self.workdir)
        return (done.returncode, done.stdout.decode("utf-8", "replace"),
                done.stderr.decode("utf-8", "replace"))

    def ok(self, header, frames=(), result="success"):
        reply = self.client.request(header, frames, timeout=10)
        self.assertEqual(reply.get("result"), result,
                         "%s: expected %s, got %r" % (header["message-type"], result, reply))
        return reply

    def read_all(self, client, fields):
        """Every reply of a retrieval as [(header, payload)], following
        retrieve-key-next up to the last sequence (or the first failure),
        then one retrieve-key-next past the end."""
        start = {"message-type": "retrieve-key-start", "segment-num": 1}
        start.update(fields)
        header, frames = client.request_full(start, endpoint="reader", timeout=10)
        replies = [(header, b"".join(frames))]
        if header.get("result") != "success":
            return replies
        unified_id = header.get("unified-id")
        sequence = header.get("sequence-num", 0)
        request = dict(start, **{"message-type": "retrieve-key-next", "unified-id": unified_id})
        while header.get("result") == "success" and not header.get("completed"):
            sequence += 1
            self.assertLess(sequence, 1000, "runaway retrieval")
            request["sequence-num"] = sequence
            header, frames = client.request_full(request, endpoint="reader", timeout=10)
            replies.append((header, b"".join(frames)))
        if header.get("result") == "success":
            request["sequence-num"] = sequence + 1
            header, frames = client.request_full(request, endpoint="reader", timeout=10)
            replies.append((header, b"".join(frames)))
        return replies

    @staticmethod
    def comparable(replies):
        out = []
        for header, payload in replies:
            header = {key: value for key, value in header.items()
                      if key not in ("message-id", "client-address")}
            out.append((header, payload))
        return out

    def read_everything(self, client, probes):
        return [self.comparable(self.read_all(client, fields)) for fields in probes]

    def segment_probe(self, segment, with_version=True, **extra):
        fields = {"collection-id": segment.collection_id, "key": segment.key,
                  "conjoined-part": segment.conjoined_part,
                  "segment-num": segment.segment_num}
        if with_version:
            fields["unified-id"] = segment.unified_id
        if segment.handoff:
            fields["handoff-node-name"] = segment.handoff
        fields.update(extra)
        return fields

    # -- population ---------------------------------------------------------

    def populate(self):
        """Store every kind of state; return (probes, expectations, active
        segment, its payloads so far)."""
        probes, expected = [], []

        def expect(fields, result):
            probes.append(fields)
            expected.append(result)

        # entire segments, one with meta, split over frames
        for index in range(6):
            segment = Segment(key=new_key("entire"))
            payload = payload_of(3000 + index * 1777, index)
            extra = {"meta": {"owner": "it", "n": str(index)}} if index % 2 else {}
            self.ok(segment.entire(payload, **extra), split_frames(payload, 3))
            expect(self.segment_probe(segment), "success")
            expect(self.segment_probe(segment, with_version=False), "success")

        # multi-sequence segments, one with a second segment-num
        for index in range(3):
            segment = Segment(key=new_key("multi"))
            parts = [payload_of(9000 + seed * 500, seed + index) for seed in range(4)]
            self.ok(segment.start(parts[0]), split_frames(parts[0], 4))
            for number in (1, 2):
                self.ok(segment.next(parts[number], number), [parts[number]])
            self.ok(segment.final(parts[3], 3), split_frames(parts[3], 2))
            expect(self.segment_probe(segment), "success")
        other = Segment(key=segment.key, unified_id=segment.unified_id, segment_num=2)
        self.ok(other.entire(payload_of(4000, 9)), [payload_of(4000, 9)])
        expect(self.segment_probe(other), "success")

        # versions: three of one key; the newest is visible
        versions = []
        key = new_key("versions")
        for index in range(3):
            segment = Segment(key=key)
            self.ok(segment.entire(payload_of(2000, 20 + index)), [payload_of(2000, 20 + index)])
            versions.append(segment)
            if index != 1:      # deleted below
                expect(self.segment_probe(segment), "success")
        expect(self.segment_probe(versions[0], with_version=False), "success")

        # specific tombstone: the middle version goes; the others stay
        reply = self.ok(destroy_header(1, key, new_unified_id(),
                                       unified_id_to_delete=versions[1].unified_id))
        self.assertEqual(reply.get("result"), "success")
        expect(self.segment_probe(versions[1]), "not-found")

        # general tombstone: every older version of another key goes
        gone_key = new_key("gone")
        gone = []
        for index in range(2):
            segment = Segment(key=gone_key)
            self.ok(segment.entire(payload_of(1500, 30 + index)), [payload_of(1500, 30 + index)])
            gone.append(segment)
        self.ok(destroy_header(1, gone_key, new_unified_id()))
        for segment in gone:
            expect(self.segment_probe(segment), "not-found")
        # ... and a version written after the tombstone is visible again
        reborn = Segment(key=gone_key)
        self.ok(reborn.entire(payload_of(1200, 40)), [payload_of(1200, 40)])
        expect(self.segment_probe(reborn, with_version=False), "success")

        # cancelled by archive-key-cancel
        cancelled = Segment(key=new_key("cancel"))
        self.ok(cancelled.start(payload_of(5000, 50)), [payload_of(5000, 50)])
        self.ok(cancelled.cancel())
        expect(self.segment_probe(cancelled), "not-found")

        # cancelled by web-writer-start of its (restarted) sender
        abandoned = Segment(key=new_key("abandoned"), source="node02",
                            timestamp=iso_now(-60))
        self.ok(abandoned.start(payload_of(5000, 51)), [payload_of(5000, 51)])
        self.ok({"message-type": "web-writer-start", "source-node-name": "node02",
                 "timestamp-repr": iso_now()})
        expect(self.segment_probe(abandoned), "not-found")
        # a web-writer-start that cancels nothing
        self.ok({"message-type": "web-writer-start", "source-node-name": "node09",
                 "timestamp-repr": iso_now()})
        # a cancelled segment's identity used again, and finished
        dropped = Segment(key=new_key("again"), source="node02", timestamp=iso_now(-30))
        self.ok(dropped.start(payload_of(2500, 52)), [payload_of(2500, 52)])
        self.ok(dropped.cancel())
        again = Segment(key=dropped.key, unified_id=dropped.unified_id, source="node02")
        self.ok(again.entire(payload_of(2500, 53)), [payload_of(2500, 53)])
        expect(self.segment_probe(again), "success")

        # conjoined, finished: parts 1 and 2
        conjoined_key = new_key("conjoined")
        conjoined_id = new_unified_id()
        self.ok(conjoined_header("start-conjoined-archive", 1, conjoined_key, conjoined_id))
        for part in (1, 2):
            segment = Segment(key=conjoined_key, unified_id=conjoined_id, conjoined_part=part)
            self.ok(segment.entire(payload_of(3500, 60 + part)), [payload_of(3500, 60 + part)])
            expect(self.segment_probe(segment), "success")
        self.ok(conjoined_header("finish-conjoined-archive", 1, conjoined_key, conjoined_id))

        # conjoined, aborted: its finished part is cancelled
        aborted_key = new_key("aborted")
        aborted_id = new_unified_id()
        self.ok(conjoined_header("start-conjoined-archive", 1, aborted_key, aborted_id))
        part = Segment(key=aborted_key, unified_id=aborted_id, conjoined_part=1)
        self.ok(part.entire(payload_of(3500, 70)), [payload_of(3500, 70)])
        expect(self.segment_probe(part), "success")
        self.ok(conjoined_header("abort-conjoined-archive", 1, aborted_key, aborted_id))
        expected[-1] = "not-found"

        # handoff copies, held for other nodes
        for index, holder in enumerate(("node03", "node04")):
            segment = Segment(key=new_key("handoff"), handoff=holder)
            payload = payload_of(2700, 80 + index)
            self.ok(segment.entire(payload), [payload])
            expect(self.segment_probe(segment), "success")
            # not visible as this node's own copy
            own = self.segment_probe(segment)
            del own["handoff-node-name"]
            expect(own, "not-found")
        expect(dict(self.segment_probe(segment), **{"handoff-node-name": "node05"}),
               "not-found")

        # active, unfinished: not readable, but can be continued later
        active = Segment(key=new_key("active"))
        active_parts = [payload_of(6000, 90), payload_of(6000, 91)]
        self.ok(active.start(active_parts[0]), [active_parts[0]])
        self.ok(active.next(active_parts[1], 1), [active_parts[1]])
        expect(self.segment_probe(active), "not-found")

        # a key never written
        expect({"collection-id": 1, "key": new_key("never")}, "not-found")
        return probes, expected, active, active_parts

    # -- tests --------------------------------------------------------------

    def test_check_and_rebuild(self):
        probes, expected, active, active_parts = self.populate()
        before = self.read_everything(self.client, probes)
        for fields, result, replies in zip(probes, expected, before):
            self.assertEqual(replies[0][0].get("result"), result,
                             "read %r: %r" % (fields, replies[0][0]))
        self.assertEqual(self.node.stop(), 0)
        data_dir = self.node.data_dir
        files = value_files(data_dir)
        self.assertGreater(len(files), 3, "the data should span several value files")

        # clean
        code, out, err = self.run_tool("--check")
        self.assertEqual(code, 0, "--check: %s%s" % (out, err))
        self.assertRegex(out, r"checked \d+ records in \d+ value files: 0 problems")

        # a flipped payload byte is found, and named
        victim = files[1]
        offset, kind, descriptor_size, payload_size = next(
            record for record in records_of(victim)
            if record[1] == RECORD_SEQUENCE and record[3] > 100)
        position = offset + RECORD_HEADER_SIZE + descriptor_size + payload_size // 2
        with open(victim, "r+b") as handle:
            handle.seek(position)
            original = handle.read(1)
            handle.seek(position)
            handle.write(bytes([original[0] ^ 0x20]))
        code, out, err = self.run_tool("--check")
        self.assertEqual(code, 1, "--check must fail: %s%s" % (out, err))
        self.assertIn("problem: %s:%d: " % (victim, offset), out)
        self.assertRegex(out, r": 1 problems")
        with open(victim, "r+b") as handle:
            handle.seek(position)
            handle.write(original)
        code, out, err = self.run_tool("--check")
        self.assertEqual(code, 0, "--check after restoring: %s%s" % (out, err))

        # rebuild: the same index, and every read is as before
        dump = index_dump(data_dir)
        self.assertTrue(dump["segment"] and dump["sequence"] and dump["conjoined"])
        code, out, err = self.run_tool("--rebuild-index")
        self.assertEqual(code, 0, "--rebuild-index: %s%s" % (out, err))
        self.assertIn("skipped 0 records", out)
        self.assertTrue(os.path.exists(os.path.join(data_dir, "index.db.old")))
        self.assertFalse(os.path.exists(os.path.join(data_dir, "index.db.rebuild")))
        self.assertFalse(os.path.exists(os.path.join(data_dir, "index.db-wal")))
        rebuilt = index_dump(data_dir)
        for table in dump:
            self.assertEqual(rebuilt[table], dump[table], "table %s after the rebuild" % table)
        code, out, err = self.run_tool("--check")
        self.assertEqual(code, 0, "--check after the rebuild: %s%s" % (out, err))
        self.assertRegex(out, r": 0 problems")

        self.node.start(keep_ports=True)
        client = self.new_client()
        after = self.read_everything(client, probes)
        for fields, old, new in zip(probes, before, after):
            self.assertEqual(new, old, "read %r differs after the rebuild" % (fields,))

        # the active segment continues and finishes
        self.client = client
        final_part = payload_of(6000, 92)
        self.ok(active.next(payload_of(6000, 93), 2), [payload_of(6000, 93)])
        active_parts.append(payload_of(6000, 93))
        self.ok(active.final(final_part, 3), [final_part])
        replies = self.read_all(client, self.segment_probe(active))
        self.assertEqual(replies[0][0].get("result"), "success")
        self.assertEqual([payload for header, payload in replies[:4]],
                         active_parts + [final_part])
        self.assertTrue(replies[3][0].get("completed"))

        # and the rebuilt index still checks clean after more writes
        self.assertEqual(self.node.stop(), 0)
        code, out, err = self.run_tool("--check")
        self.assertEqual(code, 0, "--check after continuing: %s%s" % (out, err))

    def test_check_refuses_running_node(self):
        segment = Segment()
        self.ok(segment.entire(b"x" * 100), [b"x" * 100])
        for flag in ("--check", "--rebuild-index"):
            code, out, err = self.run_tool(flag)
            self.assertNotEqual(code, 0, "%s on a running node: %s%s" % (flag, out, err))
            self.assertIn("in use by another strata-node process", err)
        # the node is untouched and still serves
        self.assertEqual(self.client.ping().get("result"), "success")
        self.assertFalse(os.path.exists(os.path.join(self.node.data_dir, "index.db.rebuild")))

    def test_rebuild_empty_and_missing_index(self):
        """A node that stored nothing rebuilds to an empty index; a data
        dir whose index was lost gets it back from the value files."""
        segment = Segment()
        payload = payload_of(5000, 7)
        self.ok(segment.entire(payload), split_frames(payload, 2))
        self.assertEqual(self.node.stop(), 0)
        for suffix in ("", "-wal", "-shm"):
            path = os.path.join(self.node.data_dir, "index.db" + suffix)
            if os.path.exists(path):
                os.unlink(path)
        code, out, err = self.run_tool("--check")
        self.assertNotEqual(code, 0, "--check without an index: %s%s" % (out, err))
        code, out, err = self.run_tool("--rebuild-index")
        self.assertEqual(code, 0, "--rebuild-index: %s%s" % (out, err))
        self.assertIn("1 finished", out)
        self.node.start(keep_ports=True)
        client = self.new_client()
        replies = self.read_all(client, self.segment_probe(segment))
        self.assertEqual(replies[0][0].get("result"), "success")
        self.assertEqual(replies[0][1], payload)


if __name__ == "__main__":
    assert os.path.exists(NODE_BINARY), NODE_BINARY
    run_main()
