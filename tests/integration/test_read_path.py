"""Integration tests of strata-node's read path (proto/PROTOCOL.md, "Retrieval (reader endpoint)"; docs/reading.md)
against the real node: byte-identical read-back for sizes 0 .. 100 MiB in
one and many sequences, versions, tombstones (general, specific, arriving
before the version they delete), cancelled and unfinished segments, handoff
copies, conjoined parts, a corrupted value file (md5-mismatch, a damage row,
never the bad bytes), reads under a heavy write load, ping and request
handling on the reader endpoint.

Run: STRATA_BUILD_DIR=/work/main/build /usr/bin/python3 tests/integration/test_read_path.py
"""

import os
import random
import sqlite3
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from strata_harness import (  # noqa: E402
    Client, Segment, StrataTestCase, conjoined_header, destroy_header,
    md5_b64, new_key, new_unified_id, run_main, split_frames,
)

MIB = 1024 * 1024
BIG_TIMEOUT = 60.0


def payload_of(size, seed=0):
    """Deterministic pseudo-random bytes."""
    return random.Random(seed).randbytes(size)


def retrieve_header(segment, first=True, unified_id="segment", sequence_num=None,
                    **extra):
    """A retrieve-key-start (or -next) header for segment's key. unified_id:
    "segment" = the segment's own id, None = omitted (the visible version),
    else that id."""
    header = {
        "message-type": "retrieve-key-start" if first else "retrieve-key-next",
        "collection-id": segment.collection_id,
        "key": segment.key,
        "conjoined-part": segment.conjoined_part,
        "segment-num": segment.segment_num,
    }
    if unified_id == "segment":
        header["unified-id"] = segment.unified_id
    elif unified_id is not None:
        header["unified-id"] = unified_id
    if sequence_num is not None:
        header["sequence-num"] = sequence_num
    header.update(extra)
    return header


class ReadPathCase(StrataTestCase):
    """Helpers shared by the read-path tests."""

    def write(self, header, frames=(), client=None, timeout=BIG_TIMEOUT):
        """Send on the writer endpoint; assert success."""
        client = client or self.client
        reply = client.request(header, frames, endpoint="writer", timeout=timeout)
        self.assertEqual(reply.get("result"), "success",
                         "write %s failed: %r" % (header.get("message-type"), reply))
        return reply

    def write_entire(self, segment, payload, frames=None, **extra):
        frames = frames if frames is not None else ([payload] if payload else [])
        return self.write(segment.entire(payload, **extra), frames)

    def write_sequences(self, segment, payloads, finish=True):
        """start / next ... / final (or stop before final when not finish)."""
        for number, payload in enumerate(payloads):
            frames = split_frames(payload, 3)
            if number == 0:
                header = segment.start(payload, 0)
            elif number == len(payloads) - 1 and finish:
                header = segment.final(payload, number)
            else:
                header = segment.next(payload, number)
            self.write(header, frames)

    def read(self, header, client=None, timeout=BIG_TIMEOUT):
        """Send on the reader endpoint; (reply header, payload bytes)."""
        client = client or self.client
        reply, frames = client.request_full(header, endpoint="reader", timeout=timeout)
        return reply, frames

    def read_all(self, segment, unified_id="segment", timeout=BIG_TIMEOUT, **extra):
        """start + next until completed; returns (headers, payloads). Asserts
        every reply is success."""
        reply, frames = self.read(retrieve_header(segment, True, unified_id, **extra),
                                  timeout=timeout)
        self.assertResult(reply, "success")
        headers, payloads = [reply], [b"".join(frames)]
        found_id = reply["unified-id"]
        while not reply.get("completed"):
            self.assertLess(len(headers), 100000, "never completed")
            number = reply["sequence-num"] + 1
            reply, frames = self.read(retrieve_header(segment, False, found_id, number, **extra),
                                      timeout=timeout)
            self.assertResult(reply, "success")
            headers.append(reply)
            payloads.append(b"".join(frames))
        return headers, payloads

    def assertNotFound(self, header):
        reply, frames = self.read(header)
        self.assertResult(reply, "not-found")
        self.assertEqual(frames, [], "not-found carries no data")
        return reply

    def assertReads(self, segment, payload, unified_id="segment", **extra):
        """The segment reads back (one sequence) as payload with that id."""
        headers, payloads = self.read_all(segment, unified_id, **extra)
        self.assertEqual(b"".join(payloads), payload)
        return headers


# ==========================================================================
#   Read-back: sizes, sequences, reply fields

class ReadBackTest(ReadPathCase):

    def test_sizes_entire_byte_identical(self):
        for size in (0, 1, 4096, MIB, 10 * MIB):
            segment = Segment()
            payload = payload_of(size, size)
            frames = split_frames(payload, 7) if size else []
            self.write_entire(segment, payload, frames)
            reply, data = self.read(retrieve_header(segment))
            self.assertResult(reply, "success")
            got = b"".join(data)
            self.assertEqual(len(got), size)
            self.assertTrue(got == payload, "payload of %d bytes differs" % size)
            self.assertEqual(reply.get("message-type"), "retrieve-key-start-reply")
            self.assertEqual(reply.get("sequence-count"), 1)
            self.assertEqual(reply.get("sequence-num"), 0)
            self.assertIs(reply.get("completed"), True)
            self.assertEqual(reply.get("segment-size"), size)
            self.assertEqual(reply.get("file-size"), size)
            self.assertEqual(reply.get("segment-md5-digest"), md5_b64(payload))
            self.assertEqual(reply.get("file-hash"), md5_b64(payload))

    def test_reply_fields(self):
        segment = Segment(segment_num=4)
        payload = payload_of(5000, 5)
        meta = {"content-type": "text/plain", "owner": "someone"}
        header = segment.entire(payload, meta=meta)
        header["zfec-padding-size"] = 3
        self.write(header, [payload])
        sent = self.client.send(retrieve_header(segment, **{"user-request-id": "trace-7"}),
                                endpoint="reader")
        reply, data = self.client.wait_for(sent["message-id"])
        self.assertResult(reply, "success")
        self.assertEchoes(reply, sent)
        self.assertEqual(reply.get("user-request-id"), "trace-7")
        expected = {
            "unified-id": segment.unified_id,
            "timestamp-repr": segment.timestamp,
            "conjoined-part": 0,
            "segment-num": 4,
            "file-size": len(payload),
            "file-adler32": zlib.adler32(payload),
            "file-hash": md5_b64(payload),
            "meta": meta,
            "sequence-count": 1,
            "sequence-num": 0,
            "segment-size": len(payload),
            "zfec-padding-size": 3,
            "segment-md5-digest": md5_b64(payload),
            "segment-adler32": zlib.adler32(payload),
            "completed": True,
        }
        for field, value in expected.items():
            self.assertEqual(reply.get(field), value, "%s in %r" % (field, reply))
        self.assertEqual(b"".join(data), payload)

    def test_absent_optional_fields_are_nil(self):
        segment = Segment()
        payload = b"no adler, no meta"
        header = segment.entire(payload)
        del header["segment-adler32"]
        del header["file-adler32"]
        self.write(header, [payload])
        reply, _ = self.read(retrieve_header(segment))
        self.assertResult(reply, "success")
        for field in ("segment-adler32", "file-adler32", "meta"):
            self.assertIn(field, reply)
            self.assertIsNone(reply[field], "%s should be nil: %r" % (field, reply))

    def test_many_sequences(self):
        segment = Segment()
        sizes = [3000, 1, 0, 65536, 12345, 7]
        payloads = [payload_of(size, 100 + index) for index, size in enumerate(sizes)]
        self.write_sequences(segment, payloads)
        headers, got = self.read_all(segment)
        self.assertEqual(got, payloads)
        self.assertEqual([h["sequence-num"] for h in headers], list(range(len(sizes))))
        self.assertEqual([h["message-type"] for h in headers],
                         ["retrieve-key-start-reply"]
                         + ["retrieve-key-next-reply"] * (len(sizes) - 1))
        whole = b"".join(payloads)
        for number, header in enumerate(headers):
            self.assertEqual(header["sequence-count"], len(sizes))
            self.assertEqual(header["completed"], number == len(sizes) - 1)
            self.assertEqual(header["segment-size"], sizes[number])
            self.assertEqual(header["segment-md5-digest"], md5_b64(payloads[number]))
            self.assertEqual(header["file-size"], len(whole))
            self.assertEqual(header["file-hash"], md5_b64(whole))
        # a sequence that does not exist
        self.assertNotFound(retrieve_header(segment, False, segment.unified_id, len(sizes)))
        # next for a version that does not exist
        self.assertNotFound(retrieve_header(segment, False, segment.unified_id + 1, 1))
        # next without unified-id is malformed
        reply, _ = self.read(retrieve_header(segment, False, None, 1))
        self.assertResult(reply, "invalid-request", "unified-id")

    def test_start_sequence_num_not_zero(self):
        segment = Segment()
        payloads = [payload_of(100, 1), payload_of(200, 2)]
        self.write(segment.start(payloads[0], 5), [payloads[0]])
        self.write(segment.final(payloads[1], 6), [payloads[1]])
        reply, data = self.read(retrieve_header(segment))
        self.assertResult(reply, "success")
        self.assertEqual(reply["sequence-num"], 5)
        self.assertEqual(b"".join(data), payloads[0])
        self.assertFalse(reply["completed"])
        reply, data = self.read(retrieve_header(segment, False, segment.unified_id, 6))
        self.assertResult(reply, "success")
        self.assertEqual(b"".join(data), payloads[1])
        self.assertTrue(reply["completed"])

    def test_hundred_mib_in_ten_sequences(self):
        segment = Segment()
        payloads = [payload_of(10 * MIB, 1000 + n) for n in range(10)]
        self.write_sequences(segment, payloads)
        headers, got = self.read_all(segment, timeout=BIG_TIMEOUT)
        self.assertEqual(len(got), 10)
        for number in range(10):
            self.assertTrue(got[number] == payloads[number], "sequence %d differs" % number)
        self.assertEqual(headers[-1]["file-size"], 100 * MIB)
        self.assertTrue(headers[-1]["completed"])
        stats = self.client.stats()
        self.assertGreaterEqual(stats.get("retrieved-bytes", 0), 100 * MIB)


# ==========================================================================
#   Versions, tombstones, cancelled and active segments

class VisibilityTest(ReadPathCase):

    def test_highest_version_visible_older_readable(self):
        key = new_key()
        old_id, new_id = new_unified_id(), new_unified_id()
        old = Segment(key=key, unified_id=old_id)
        new = Segment(key=key, unified_id=new_id)
        self.write_entire(new, b"new version")      # arrival order does not matter
        self.write_entire(old, b"old version")
        headers = self.assertReads(new, b"new version", unified_id=None)
        self.assertEqual(headers[0]["unified-id"], new_id)
        headers = self.assertReads(old, b"old version")
        self.assertEqual(headers[0]["unified-id"], old_id)
        # other segment-nums, conjoined parts and collections are separate
        self.assertNotFound(retrieve_header(Segment(key=key, segment_num=2), unified_id=None))
        self.assertNotFound(retrieve_header(Segment(key=key, collection_id=2), unified_id=None))

    def test_resend_of_a_version_newest_row_wins(self):
        segment = Segment()
        self.write_entire(segment, b"first copy")
        self.write_entire(segment, b"second copy")
        self.assertReads(segment, b"second copy")
        self.assertReads(segment, b"second copy", unified_id=None)

    def test_general_tombstone(self):
        key = new_key()
        one, two = Segment(key=key), Segment(key=key)
        self.write_entire(one, b"one")
        self.write_entire(two, b"two")
        late_id = new_unified_id()          # older than the tombstone, written after it
        tombstone_id = new_unified_id()
        # a tombstone applies whatever its segment-num
        self.write(destroy_header(1, key, tombstone_id, segment_num=3))
        self.assertNotFound(retrieve_header(two, unified_id=None))
        self.assertNotFound(retrieve_header(one))
        self.assertNotFound(retrieve_header(two))
        self.assertNotFound(retrieve_header(two, False, two.unified_id, 0))
        # a newer version is visible again
        three = Segment(key=key)
        self.write_entire(three, b"three")
        self.assertReads(three, b"three", unified_id=None)
        # an older version arriving after the tombstone stays deleted
        late = Segment(key=key, unified_id=late_id)
        self.write_entire(late, b"late")
        self.assertNotFound(retrieve_header(late))
        self.assertReads(three, b"three", unified_id=None)

    def test_specific_tombstone(self):
        key = new_key()
        one, two = Segment(key=key), Segment(key=key)
        self.write_entire(one, b"one")
        self.write_entire(two, b"two")
        self.write(destroy_header(1, key, new_unified_id(),
                                  unified_id_to_delete=two.unified_id))
        headers = self.assertReads(one, b"one", unified_id=None)
        self.assertEqual(headers[0]["unified-id"], one.unified_id)
        self.assertNotFound(retrieve_header(two))
        self.assertReads(one, b"one")

    def test_tombstone_before_the_version(self):
        key = new_key()
        doomed = Segment(key=key)
        self.write(destroy_header(1, key, new_unified_id(),
                                  unified_id_to_delete=doomed.unified_id))
        self.write_entire(doomed, b"arrives after its tombstone")
        self.assertNotFound(retrieve_header(doomed))
        self.assertNotFound(retrieve_header(doomed, unified_id=None))
        # a tombstone of another key deletes nothing here
        other = Segment()
        self.write(destroy_header(1, other.key, new_unified_id()))
        survivor = Segment(key=key)
        self.write_entire(survivor, b"survivor")
        self.assertReads(survivor, b"survivor", unified_id=None)

    def test_cancelled_and_active_not_found(self):
        key = new_key()
        finished = Segment(key=key)
        self.write_entire(finished, b"finished")
        cancelled = Segment(key=key)
        self.write(cancelled.start(b"part", 0), [b"part"])
        self.write(cancelled.cancel())
        self.assertNotFound(retrieve_header(cancelled))
        active = Segment(key=key)
        self.write(active.start(b"first", 0), [b"first"])
        self.write(active.next(b"second", 1), [b"second"])
        self.assertNotFound(retrieve_header(active))
        self.assertNotFound(retrieve_header(active, False, active.unified_id, 1))
        # neither hides the older finished version
        headers = self.assertReads(finished, b"finished", unified_id=None)
        self.assertEqual(headers[0]["unified-id"], finished.unified_id)
        # once finished, the active one becomes visible
        self.write(active.final(b"third", 2), [b"third"])
        headers, payloads = self.read_all(active, unified_id=None)
        self.assertEqual(payloads, [b"first", b"second", b"third"])
        self.assertEqual(headers[0]["unified-id"], active.unified_id)

    def test_unknown_key(self):
        reply = self.assertNotFound(retrieve_header(Segment(), unified_id=None))
        self.assertIn("key", reply["error-message"])
        self.assertNotFound(retrieve_header(Segment()))


# ==========================================================================
#   Handoff copies and conjoined parts

class HandoffConjoinedTest(ReadPathCase):

    def test_handoff_copies(self):
        key = new_key()
        own = Segment(key=key)
        held = Segment(key=key, handoff="node02")
        self.write_entire(own, b"own copy")
        self.write_entire(held, b"held for node02")
        only_held = Segment(handoff="node02")
        self.write_entire(only_held, b"only a handoff copy")

        headers = self.assertReads(own, b"own copy", unified_id=None)
        self.assertEqual(headers[0]["unified-id"], own.unified_id)
        self.assertNotFound(retrieve_header(held))
        self.assertNotFound(retrieve_header(only_held, unified_id=None))
        headers = self.assertReads(held, b"held for node02", unified_id=None,
                                   **{"handoff-node-name": "node02"})
        self.assertEqual(headers[0]["unified-id"], held.unified_id)
        self.assertReads(only_held, b"only a handoff copy", **{"handoff-node-name": "node02"})
        # nil handoff-node-name is the own copy
        self.assertReads(own, b"own copy", unified_id=None, **{"handoff-node-name": None})
        # the own copy is not a handoff copy; unknown names hold nothing
        self.assertNotFound(retrieve_header(own, **{"handoff-node-name": "node02"}))
        reply = self.assertNotFound(retrieve_header(own, **{"handoff-node-name": "node09"}))
        self.assertIn("handoff-node-name", reply["error-message"])
        # a handoff tombstone deletes only the handoff copy
        self.write(destroy_header(1, key, new_unified_id(), **{"handoff-node-name": "node02"}))
        self.assertNotFound(retrieve_header(held, **{"handoff-node-name": "node02"}))
        self.assertReads(own, b"own copy", unified_id=None)

    def test_conjoined_parts(self):
        key = new_key()
        unified_id = new_unified_id()
        self.write(conjoined_header("start-conjoined-archive", 1, key, unified_id))
        parts = {1: payload_of(70000, 1), 2: payload_of(3, 2)}
        for part, payload in parts.items():
            self.write_entire(Segment(key=key, unified_id=unified_id, conjoined_part=part), payload)
        self.write(conjoined_header("finish-conjoined-archive", 1, key, unified_id))
        for part, payload in parts.items():
            segment = Segment(key=key, unified_id=unified_id, conjoined_part=part)
            headers = self.assertReads(segment, payload, unified_id=None)
            self.assertEqual(headers[0]["conjoined-part"], part)
            self.assertEqual(headers[0]["unified-id"], unified_id)
        self.assertNotFound(retrieve_header(Segment(key=key, unified_id=unified_id)))
        self.assertNotFound(retrieve_header(Segment(key=key, unified_id=unified_id,
                                                    conjoined_part=3)))

    def test_aborted_conjoined_parts_not_found(self):
        key = new_key()
        unified_id = new_unified_id()
        self.write(conjoined_header("start-conjoined-archive", 1, key, unified_id))
        part = Segment(key=key, unified_id=unified_id, conjoined_part=1)
        self.write_entire(part, b"part one")
        self.assertReads(part, b"part one")
        self.write(conjoined_header("abort-conjoined-archive", 1, key, unified_id))
        self.assertNotFound(retrieve_header(part))


# ==========================================================================
#   Damaged records

class DamageTest(ReadPathCase):

    def locate(self, segment):
        """(path, record_offset, record_size) of the segment's first sequence,
        from the node's index."""
        db = sqlite3.connect(os.path.join(self.node.data_dir, "index.db"), timeout=10)
        try:
            row = db.execute(
                "SELECT q.value_file_id, q.record_offset, q.record_size, f.volume"
                " FROM sequence AS q JOIN segment AS s ON s.id = q.segment_id"
                " JOIN value_file AS f ON f.id = q.value_file_id"
                " WHERE s.key = ? AND s.status = 'F' ORDER BY q.sequence_num LIMIT 1",
                (segment.key,)).fetchone()
        finally:
            db.close()
        self.assertIsNotNone(row, "segment not in the index")
        file_id, offset, size, volume = row
        path = os.path.join(volume, "values", "%016x.val" % file_id)
        self.assertTrue(os.path.exists(path), path)
        return path, file_id, offset, size

    def flip(self, path, position):
        with open(path, "r+b") as handle:
            handle.seek(position)
            byte = handle.read(1)
            handle.seek(position)
            handle.write(bytes([byte[0] ^ 0x5A]))

    def damaged_rows(self):
        db = sqlite3.connect(os.path.join(self.node.data_dir, "index.db"), timeout=10)
        try:
            return db.execute("SELECT value_file_id, record_offset, segment_id, sequence_num,"
                              " detected_us, reason FROM damaged").fetchall()
        finally:
            db.close()

    def test_corrupt_payload_byte(self):
        good = Segment()
        self.write_entire(good, b"good data")
        segment = Segment()
        payload = payload_of(65536, 77)
        self.write_entire(segment, payload)
        self.assertReads(segment, payload)
        path, file_id, offset, size = self.locate(segment)
        self.flip(path, offset + size - 1)      # last payload byte

        for attempt in range(2):
            reply, frames = self.read(retrieve_header(segment))
            self.assertResult(reply, "md5-mismatch")
            self.assertEqual(frames, [], "damaged data must never be sent")
            self.assertIn("verification", reply["error-message"])
            self.assertNotIn("segment-size", reply)
        # a row in damaged (recorded before the reply; allow for a busy index)
        deadline = time.monotonic() + 5
        rows = self.damaged_rows()
        while not rows and time.monotonic() < deadline:
            time.sleep(0.1)
            rows = self.damaged_rows()
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0][0], file_id)
        self.assertEqual(rows[0][1], offset)
        self.assertEqual(rows[0][3], 0)
        self.assertTrue(rows[0][5])
        stats = self.client.stats()
        self.assertGreaterEqual(stats.get("damaged-records", 0), 1)
        self.assertGreaterEqual(stats["results"]["md5-mismatch"], 2)
        # other data is unaffected
        self.assertReads(good, b"good data")

    def test_corrupt_header_byte(self):
        segment = Segment()
        self.write_entire(segment, b"some data to damage")
        path, _, offset, _ = self.locate(segment)
        self.flip(path, offset + 24)            # in the header's unified_id
        reply, frames = self.read(retrieve_header(segment))
        self.assertResult(reply, "md5-mismatch")
        self.assertEqual(frames, [])
        deadline = time.monotonic() + 5
        while not self.damaged_rows() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(len(self.damaged_rows()), 1)

    def test_damage_in_a_later_sequence(self):
        segment = Segment()
        payloads = [payload_of(1000, 1), payload_of(1000, 2)]
        self.write_sequences(segment, payloads)
        db = sqlite3.connect(os.path.join(self.node.data_dir, "index.db"), timeout=10)
        file_id, offset, size, volume = db.execute(
            "SELECT q.value_file_id, q.record_offset, q.record_size, f.volume"
            " FROM sequence AS q JOIN segment AS s ON s.id = q.segment_id"
            " JOIN value_file AS f ON f.id = q.value_file_id"
            " WHERE s.key = ? AND q.sequence_num = 1", (segment.key,)).fetchone()
        db.close()
        self.flip(os.path.join(volume, "values", "%016x.val" % file_id), offset + size - 500)
        reply, frames = self.read(retrieve_header(segment))
        self.assertResult(reply, "success")
        self.assertEqual(b"".join(frames), payloads[0])
        reply, frames = self.read(retrieve_header(segment, False, segment.unified_id, 1))
        self.assertResult(reply, "md5-mismatch")
        self.assertEqual(frames, [])


# ==========================================================================
#   Reads under a heavy write load

class LoadTest(ReadPathCase):

    @staticmethod
    def load(new_client, send, window, stop, failures, on_success):
        """A closed-loop load for a thread: keep window requests (send(client))
        in flight until stop is set; failures collects replies other than
        success and exceptions; on_success(header) counts the others."""
        def run():
            client = new_client()
            try:
                outstanding = 0
                while not stop.is_set():
                    while outstanding < window:
                        send(client)
                        outstanding += 1
                    header, _ = client.recv(timeout=30)
                    outstanding -= 1
                    if header.get("result") != "success":
                        failures.append(header)
                    else:
                        on_success(header)
                while outstanding:
                    client.recv(timeout=30)
                    outstanding -= 1
            except Exception as error:  # noqa: BLE001 - reported by the test
                failures.append(repr(error))
            finally:
                client.close()
        return run

    def test_reads_proceed_under_write_load(self):
        small = Segment()
        self.write_entire(small, b"small and hot")
        stop = threading.Event()
        written = [0]
        failures = []

        block = payload_of(MIB, 9)

        def send_write(client):
            client.send(Segment().entire(block), [block])

        def count_write(header):
            written[0] += MIB

        writer_load = self.load(lambda: Client(self.context, self.node.writer, tag="load"),
                                send_write, 8, stop, failures, count_write)

        thread = threading.Thread(target=writer_load, daemon=True)
        thread.start()
        time.sleep(0.5)                         # let the load build up
        latencies = []
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            started = time.monotonic()
            reply, frames = self.read(retrieve_header(small, unified_id=None), timeout=5)
            latencies.append(time.monotonic() - started)
            self.assertResult(reply, "success")
            self.assertEqual(b"".join(frames), b"small and hot")
        stop.set()
        thread.join(60)
        self.assertFalse(thread.is_alive())
        self.assertEqual(failures, [])
        self.assertGreater(written[0], 20 * MIB, "the write load did not run")
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        sys.stderr.write("\n  reads under load: %d reads, p50 %.1f ms, p99 %.1f ms, "
                         "max %.1f ms; %d MiB written\n"
                         % (len(latencies), latencies[len(latencies) // 2] * 1000,
                            p99 * 1000, latencies[-1] * 1000, written[0] // MIB))
        self.assertGreater(len(latencies), 50)
        self.assertLess(p99, 0.2, "p99 read latency under write load")


    def test_acknowledged_write_is_readable_at_once_while_the_reader_is_busy(self):
        # The reader keeps one index snapshot across a burst of requests and
        # starts a new one when the writer has committed since: a retrieval
        # sent after a success reply must find what the reply acknowledged,
        # even when the reader never goes idle in between.
        hot = Segment()
        self.write_entire(hot, b"hot")
        stop = threading.Event()
        served = [0]
        failures = []

        def send_read(client):
            client.send(retrieve_header(hot, unified_id=None), endpoint="reader")

        def count_read(header):
            served[0] += 1

        read_load = self.load(lambda: Client(self.context, self.node.writer,
                                             reader=self.node.reader, tag="busy-reader"),
                              send_read, 16, stop, failures, count_read)

        thread = threading.Thread(target=read_load, daemon=True)
        thread.start()
        time.sleep(0.3)
        rounds = 150
        for number in range(rounds):
            segment = Segment()
            payload = payload_of(2048, number)
            self.write_entire(segment, payload)
            reply, frames = self.read(retrieve_header(segment, unified_id=None), timeout=10)
            self.assertResult(reply, "success")
            self.assertEqual(b"".join(frames), payload, "round %d" % number)
            # a delete acknowledged is at once not found either
            if number % 10 == 0:
                self.write(destroy_header(segment.collection_id, segment.key, new_unified_id()))
                self.assertNotFound(retrieve_header(segment, unified_id=None))
        stop.set()
        thread.join(60)
        self.assertFalse(thread.is_alive())
        stats = self.client.stats()
        self.assertEqual(failures, [], "replies-dropped %d" % stats["replies-dropped"])
        # a requester that keeps fewer replies in flight than reply/hwm
        # loses none (ZeroMQ's stale pipe credit once dropped them)
        self.assertEqual(stats["replies-dropped"], 0)
        self.assertGreater(served[0], rounds, "the reader was not kept busy")


# ==========================================================================
#   A requester that does not read its replies

def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def sanitized(pid):
    """True if the process runs with AddressSanitizer."""
    with open("/proc/%d/maps" % pid) as handle:
        return "libasan" in handle.read()


class StuckRequesterTest(ReadPathCase):

    def test_requester_not_reading(self):
        big = Segment()
        self.write_entire(big, payload_of(MIB, 3))
        small = Segment()
        self.write_entire(small, b"small")
        before = self.client.stats()["replies-dropped"]
        stuck = self.new_client(tag="stuck", rcvhwm=1, rcvbuf=65536)   # never reads
        for _ in range(300):
            stuck.send(retrieve_header(big), endpoint="reader")
        # everyone else is answered at once meanwhile
        slowest = 0.0
        for _ in range(20):
            started = time.monotonic()
            reply, frames = self.read(retrieve_header(small), timeout=5)
            slowest = max(slowest, time.monotonic() - started)
            self.assertResult(reply, "success")
            self.assertEqual(b"".join(frames), b"small")
        self.assertLess(slowest, 1.0)
        # the stuck requester's replies are dropped and counted, not hoarded
        stats = self.wait_stats(lambda s: s["replies-dropped"] > before + 100, timeout=20)
        self.assertGreater(stats["replies-dropped"], before + 100)
        if not sanitized(self.node.proc.pid):     # ASan's quarantine keeps freed memory
            self.assertLess(rss_bytes(self.node.proc.pid), 200 * MIB)


# ==========================================================================
#   The reader endpoint: ping, other types, malformed and unanswerable requests

class EndpointTest(ReadPathCase):

    def test_ping_on_reader(self):
        reply = self.client.ping(endpoint="reader")
        self.assertEqual(reply.get("message-type"), "ping-reply")
        self.assertResult(reply, "success")
        self.assertEqual(reply.get("node-name"), "node01")
        self.assertIsInstance(reply.get("version"), str)
        self.assertIsInstance(reply.get("uptime-seconds"), int)

    def test_writer_types_on_reader(self):
        segment = Segment()
        reply, _ = self.read(segment.entire(b"data"))
        self.assertResult(reply, "invalid-request", "writer endpoint")
        self.assertEqual(reply.get("message-type"), "archive-key-final-reply")
        reply, _ = self.read({"message-type": "stats"})
        self.assertResult(reply, "invalid-request", "writer endpoint")
        # nothing was stored
        self.assertNotFound(retrieve_header(segment))

    def test_retrieve_on_writer(self):
        reply = self.client.request(retrieve_header(Segment()), endpoint="writer")
        self.assertResult(reply, "invalid-request", "reader endpoint")

    def test_unknown_and_malformed(self):
        reply, _ = self.read({"message-type": "retrieve-everything"})
        self.assertResult(reply, "unknown-message-type")
        header = retrieve_header(Segment())
        del header["segment-num"]
        reply, _ = self.read(header)
        self.assertResult(reply, "invalid-request", "segment-num")
        header = retrieve_header(Segment(), **{"segment-num": 0})
        reply, _ = self.read(header)
        self.assertResult(reply, "invalid-request", "segment-num")
        # not MessagePack at all, with no address: dropped; then the node still answers
        self.client.send_raw([b"\xc1\xc1\xc1"], endpoint="reader")
        self.assertEqual(self.client.ping(endpoint="reader").get("result"), "success")

    def test_retrieval_without_address_dropped(self):
        before = self.client.stats()["requests-dropped"]
        segment = Segment()
        self.write_entire(segment, b"x")
        header = self.client.fill(retrieve_header(segment))
        del header["client-address"]
        self.client.send(header, endpoint="reader", fill=False)
        self.client.expect_no_reply(wait=0.5)
        stats = self.wait_stats(lambda s: s["requests-dropped"] > before, timeout=5)
        self.assertGreater(stats["requests-dropped"], before)

    def test_disallowed_address_dropped(self):
        before = self.client.stats()["requests-dropped"]
        header = retrieve_header(Segment(), **{"client-address": "tcp://192.0.2.1:5555"})
        self.client.send(header, endpoint="reader")
        stats = self.wait_stats(lambda s: s["requests-dropped"] > before, timeout=5)
        self.assertGreater(stats["requests-dropped"], before)
        self.assertEqual(self.client.ping(endpoint="reader").get("result"), "success")

    def test_requests_counted(self):
        segment = Segment()
        self.write_entire(segment, b"count me")
        self.assertReads(segment, b"count me")
        stats = self.client.stats()
        self.assertGreaterEqual(stats["requests"]["retrieve-key-start"], 1)
        self.assertGreaterEqual(stats["retrieved-bytes"], len(b"count me"))


if __name__ == "__main__":
    run_main()
