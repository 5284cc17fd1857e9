"""Integration tests of strata-node's write path against proto/PROTOCOL.md:
every writer-endpoint message type and result code, echo fields, digest
and timestamp forms, field validation, stats, concurrency, a non-reading
client, and durability ordering (group commit with a slowed sync).

Run: /usr/bin/python3 tests/integration/test_write_path.py
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from strata_harness import (  # noqa: E402
    REPLY_TIMEOUT, STATS_KEYS, Client, Raw, ReplyTimeout, Segment,
    StrataTestCase, conjoined_header, destroy_header, iso_now, md5_b64,
    md5_bin, new_key, new_message_id, new_unified_id, pack_map, raw_str,
    run_main, split_frames, wide_int, wide_uint,
)

import msgpack  # noqa: E402


def payload_of(size, seed=0):
    """Deterministic pseudo-random payload."""
    block = bytes(((index * 131 + seed * 17 + (index >> 8)) & 0xFF)
                  for index in range(min(size, 65536)))
    return (block * (size // max(len(block), 1) + 1))[:size]


# ==========================================================================
#   Archiving: entire, start/next/final, verification

class ArchiveTest(StrataTestCase):

    def test_entire_success_reply_fields(self):
        payload = payload_of(4096)
        segment = Segment()
        header = segment.entire(payload)
        header["user-request-id"] = "trace-42"
        sent, reply = self.exchange(header, [payload])
        self.assertEqual(reply.get("message-type"), "archive-key-final-reply")
        self.assertResult(reply, "success")
        self.assertEchoes(reply, sent)
        self.assertEqual(reply.get("user-request-id"), "trace-42")

    def test_entire_empty_payload(self):
        segment = Segment()
        _, reply = self.exchange(segment.entire(b""), [])
        self.assertResult(reply, "success")

    def test_start_next_final_many_frames(self):
        segment = Segment()
        payloads = [payload_of(40000, seed) for seed in range(4)]
        sent, reply = self.exchange(segment.start(payloads[0]),
                                    split_frames(payloads[0], 10))
        self.assertEqual(reply.get("message-type"), "archive-key-start-reply")
        self.assertResult(reply, "success")
        self.assertEchoes(reply, sent)
        for sequence in (1, 2):
            sent, reply = self.exchange(
                segment.next(payloads[sequence], sequence),
                split_frames(payloads[sequence], 97))
            self.assertEqual(reply.get("message-type"), "archive-key-next-reply")
            self.assertResult(reply, "success")
            self.assertEchoes(reply, sent)
        sent, reply = self.exchange(segment.final(payloads[3], 3),
                                    split_frames(payloads[3], 1000))
        self.assertEqual(reply.get("message-type"), "archive-key-final-reply")
        self.assertResult(reply, "success")
        self.assertEchoes(reply, sent)

    def test_entire_payload_split_in_one_byte_frames(self):
        payload = payload_of(3000, 9)
        segment = Segment()
        _, reply = self.exchange(segment.entire(payload),
                                 [payload[i:i + 1] for i in range(len(payload))])
        self.assertResult(reply, "success")

    def test_size_mismatch(self):
        payload = payload_of(1000)
        segment = Segment()
        # declared larger, smaller, and frames missing altogether
        for declared, frames in ((1001, [payload]), (999, [payload]),
                                 (1000, [])):
            header = segment.entire(payload, **{"segment-size": declared})
            sent, reply = self.exchange(header, frames)
            self.assertEqual(reply.get("message-type"), "archive-key-final-reply")
            self.assertResult(reply, "size-mismatch")
            self.assertEchoes(reply, sent)
        # start too: nothing stored, so the segment is not active afterwards
        start = Segment()
        _, reply = self.exchange(start.start(payload, **{"segment-size": 5}),
                                 [payload])
        self.assertEqual(reply.get("message-type"), "archive-key-start-reply")
        self.assertResult(reply, "size-mismatch")
        _, reply = self.exchange(start.start(payload), [payload])
        self.assertResult(reply, "success")
        # nothing stored for the failed entire either: it can be archived now
        _, reply = self.exchange(segment.entire(payload), [payload])
        self.assertResult(reply, "success")

    def test_md5_mismatch(self):
        payload = payload_of(2000)
        segment = Segment()
        header = segment.entire(payload, **{"segment-md5-digest": md5_b64(b"other")})
        sent, reply = self.exchange(header, [payload])
        self.assertResult(reply, "md5-mismatch")
        self.assertEchoes(reply, sent)
        # right digest, corrupted payload of the same size
        corrupt = bytes([payload[0] ^ 1]) + payload[1:]
        _, reply = self.exchange(segment.entire(payload), [corrupt])
        self.assertResult(reply, "md5-mismatch")
        # a start with a bad digest leaves no active segment
        _, reply = self.exchange(segment.start(payload), [corrupt])
        self.assertEqual(reply.get("message-type"), "archive-key-start-reply")
        self.assertResult(reply, "md5-mismatch")
        _, reply = self.exchange(segment.next(payload, 1), [payload])
        self.assertResult(reply, "unknown-segment")
        # an active segment: a next with a bad digest is md5-mismatch
        _, reply = self.exchange(segment.start(payload), [payload])
        self.assertResult(reply, "success")
        _, reply = self.exchange(segment.next(payload, 1), [corrupt])
        self.assertEqual(reply.get("message-type"), "archive-key-next-reply")
        self.assertResult(reply, "md5-mismatch")

    def test_md5_and_bytes_not_stored_on_failure(self):
        before = self.client.stats()
        payload = payload_of(1 << 20, 3)
        segment = Segment()
        _, reply = self.exchange(
            segment.entire(payload, **{"segment-md5-digest": md5_b64(b"x")}),
            [payload])
        self.assertResult(reply, "md5-mismatch")
        _, reply = self.exchange(
            segment.entire(payload, **{"segment-size": len(payload) + 1}),
            [payload])
        self.assertResult(reply, "size-mismatch")
        after = self.client.stats()
        self.assertEqual(after.get("bytes-stored"), before.get("bytes-stored"),
                         "bytes-stored changed after failed archives")

    def test_digest_as_16_byte_bin(self):
        payload = payload_of(5000, 1)
        segment = Segment()
        header = segment.entire(payload, **{"segment-md5-digest": md5_bin(payload),
                                            "file-hash": md5_bin(payload)})
        _, reply = self.exchange(header, [payload])
        self.assertResult(reply, "success")
        # and in start/next/final
        multi = Segment()
        _, reply = self.exchange(
            multi.start(payload, **{"segment-md5-digest": md5_bin(payload)}),
            [payload])
        self.assertResult(reply, "success")
        _, reply = self.exchange(
            multi.next(payload, 1, **{"segment-md5-digest": md5_bin(payload)}),
            [payload])
        self.assertResult(reply, "success")
        whole = payload * 3
        _, reply = self.exchange(
            multi.final(payload, 2, **{"segment-md5-digest": md5_bin(payload),
                                       "file-hash": md5_bin(whole)}),
            [payload])
        self.assertResult(reply, "success")
        # a bin digest with the wrong content is md5-mismatch, not accepted
        _, reply = self.exchange(
            Segment().entire(payload, **{"segment-md5-digest": md5_bin(b"no")}),
            [payload])
        self.assertResult(reply, "md5-mismatch")

    def test_bad_digest_forms_are_invalid(self):
        payload = payload_of(100)
        cases = [
            ("segment-md5-digest", md5_bin(payload)[:15]),            # 15-byte bin
            ("segment-md5-digest", md5_bin(payload) + b"\0"),         # 17-byte bin
            ("segment-md5-digest", "not base64 at all!"),
            ("segment-md5-digest", md5_b64(payload)[:-4]),            # 12 bytes
            ("segment-md5-digest", 12345),
            ("file-hash", b"\x01\x02"),
            ("file-hash", "%%%%"),
        ]
        for field, value in cases:
            with self.subTest(field=field, value=value):
                header = Segment().entire(payload, **{field: value})
                _, reply = self.exchange(header, [payload])
                self.assertResult(reply, "invalid-request", field)

    def test_duplicate_segment(self):
        payload = payload_of(300)
        segment = Segment()
        _, reply = self.exchange(segment.start(payload), [payload])
        self.assertResult(reply, "success")
        sent, reply = self.exchange(segment.start(payload), [payload])
        self.assertEqual(reply.get("message-type"), "archive-key-start-reply")
        self.assertResult(reply, "duplicate-segment")
        self.assertEchoes(reply, sent)
        _, reply = self.exchange(segment.entire(payload), [payload])
        self.assertEqual(reply.get("message-type"), "archive-key-final-reply")
        self.assertResult(reply, "duplicate-segment")
        # the active segment is unharmed by the refused duplicates
        _, reply = self.exchange(segment.next(payload, 1), [payload])
        self.assertResult(reply, "success")
        _, reply = self.exchange(segment.final(payload, 2), [payload])
        self.assertResult(reply, "success")

    def test_unknown_segment(self):
        payload = payload_of(300)
        segment = Segment()
        sent, reply = self.exchange(segment.next(payload, 1), [payload])
        self.assertEqual(reply.get("message-type"), "archive-key-next-reply")
        self.assertResult(reply, "unknown-segment")
        self.assertEchoes(reply, sent)
        sent, reply = self.exchange(segment.final(payload, 1), [payload])
        self.assertEqual(reply.get("message-type"), "archive-key-final-reply")
        self.assertResult(reply, "unknown-segment")
        # cancel of a segment that never existed
        sent, reply = self.exchange(segment.cancel())
        self.assertEqual(reply.get("message-type"), "archive-key-cancel-reply")
        self.assertResult(reply, "unknown-segment")
        self.assertEchoes(reply, sent)
        # cancel of a finished segment changes nothing
        finished = Segment()
        _, reply = self.exchange(finished.entire(payload), [payload])
        self.assertResult(reply, "success")
        _, reply = self.exchange(finished.cancel())
        self.assertResult(reply, "unknown-segment")
        # a finished segment is not active: next/final are unknown-segment
        _, reply = self.exchange(finished.next(payload, 1), [payload])
        self.assertResult(reply, "unknown-segment")
        # still retrievable after the refused cancel
        headers, payloads = self.client.retrieve(finished)
        self.assertResult(headers[0], "success")
        self.assertEqual(b"".join(payloads), payload)

    def test_sequence_gap_is_invalid_request(self):
        payload = payload_of(500)
        segment = Segment()
        _, reply = self.exchange(segment.start(payload), [payload])
        self.assertResult(reply, "success")
        for wrong in (2, 0, 7):
            header = segment.next(payload, wrong)
            segment.payloads.pop()
            _, reply = self.exchange(header, [payload])
            self.assertResult(reply, "invalid-request", "sequence-num")
        final = segment.final(payload, 5)
        segment.payloads.pop()
        _, reply = self.exchange(final, [payload])
        self.assertResult(reply, "invalid-request", "sequence-num")
        # the refused sequences changed nothing: 1 then 2 continue the segment
        _, reply = self.exchange(segment.next(payload, 1), [payload])
        self.assertResult(reply, "success")
        _, reply = self.exchange(segment.final(payload, 2), [payload])
        self.assertResult(reply, "success")

    def test_cancel_active_then_next_is_unknown(self):
        payload = payload_of(700)
        segment = Segment()
        _, reply = self.exchange(segment.start(payload), [payload])
        self.assertResult(reply, "success")
        sent, reply = self.exchange(segment.cancel())
        self.assertEqual(reply.get("message-type"), "archive-key-cancel-reply")
        self.assertResult(reply, "success")
        self.assertEchoes(reply, sent)
        _, reply = self.exchange(segment.next(payload, 1), [payload])
        self.assertResult(reply, "unknown-segment")
        _, reply = self.exchange(segment.final(payload, 1), [payload])
        self.assertResult(reply, "unknown-segment")
        _, reply = self.exchange(segment.cancel())
        self.assertResult(reply, "unknown-segment")

    def test_cancel_without_client_address_takes_effect(self):
        payload = payload_of(700)
        segment = Segment()
        _, reply = self.exchange(segment.start(payload), [payload])
        self.assertResult(reply, "success")
        self.client.send(segment.cancel(**{"client-address": None,
                                            "client-tag": None}))
        # same PUSH socket, so the cancel is processed before this next
        _, reply = self.exchange(segment.next(payload, 1), [payload])
        self.assertResult(reply, "unknown-segment")
        self.client.expect_no_reply(0.3)

    def test_unified_id_full_uint64_range(self):
        payload = payload_of(64)
        segment = Segment(unified_id=2 ** 64 - 1)
        _, reply = self.exchange(segment.entire(payload), [payload])
        self.assertResult(reply, "success")
        segment = Segment(unified_id=0)
        _, reply = self.exchange(segment.entire(payload), [payload])
        self.assertResult(reply, "success")

    def test_integers_in_any_msgpack_width(self):
        payload = payload_of(256)
        segment = Segment()
        header = segment.entire(payload)
        header.update({
            "collection-id": wide_int(header["collection-id"]),
            "unified-id": wide_uint(header["unified-id"]),
            "conjoined-part": wide_int(0),
            "segment-num": wide_uint(1),
            "segment-size": wide_int(len(payload)),
            "zfec-padding-size": wide_uint(0),
            "segment-adler32": wide_int(-5),            # int32 form accepted
            "file-size": wide_uint(len(payload)),
            "file-adler32": wide_uint(2 ** 32 - 1),     # uint32 form accepted
            "message-id": new_message_id(),
            "client-tag": "wide",
            "client-address": self.client.address,
        })
        self.client.send_raw([pack_map(header), payload])
        reply, _ = self.client.wait_for(header["message-id"])
        self.assertResult(reply, "success")

    def test_meta_accepted(self):
        payload = payload_of(100)
        meta = {"content-type": "text/plain", "x" * 1024: "y" * 1024}
        meta.update({"k%02d" % index: "v" for index in range(62)})
        _, reply = self.exchange(Segment().entire(payload, meta=meta), [payload])
        self.assertResult(reply, "success")
        segment = Segment()
        _, reply = self.exchange(segment.start(payload), [payload])
        self.assertResult(reply, "success")
        _, reply = self.exchange(segment.final(payload, 1, meta={"a": "b"}), [payload])
        self.assertResult(reply, "success")

    def test_handoff_and_any_names_without_cluster(self):
        payload = payload_of(100)
        for source, handoff in (("node01", None), ("some-other-node", None),
                                ("anything", "whatever-node")):
            segment = Segment(source=source, handoff=handoff)
            _, reply = self.exchange(segment.entire(payload), [payload])
            self.assertResult(reply, "success")
        segment = Segment(source="nobody-knows-me")
        _, reply = self.exchange(segment.start(payload), [payload])
        self.assertResult(reply, "success")


# ==========================================================================
#   Timestamps

class TimestampTest(StrataTestCase):

    GOOD = [
        ("2026-11-21T23:34:52.123456Z", "2026-11-21T23:34:52.123456"),
        ("2026-11-21T23:34:52Z", "2026-11-21T23:34:52.000000"),
        ("2026-11-21T23:34:52.123Z", "2026-11-21T23:34:52.123000"),
        ("2026-11-21T23:34:52.123456+00:00", "2026-11-21T23:34:52.123456"),
        ("2026-11-21T23:34:52+00:00", "2026-11-21T23:34:52.000000"),
        ("datetime.datetime(2011, 6, 30, 13, 52, 34, 720271)", "2011-06-30T13:52:34.720271"),
        ("datetime.datetime(2011, 6, 30, 13, 52, 34, 7)", "2011-06-30T13:52:34.000007"),
        ("datetime.datetime(2011, 6, 30, 13, 52, 34)", "2011-06-30T13:52:34.000000"),
        ("datetime.datetime(2011, 6, 30, 13, 52)", "2011-06-30T13:52:00.000000"),
        ("datetime.datetime(2011, 6, 30, 13)", "2011-06-30T13:00:00.000000"),
        ("datetime.datetime(2011, 6, 30)", "2011-06-30T00:00:00.000000"),
    ]

    BAD = [
        "yesterday",
        "",
        "datetime.datetime(2011, 6)",
        "datetime.datetime(2011, 6, 30, 13, 52, 34, 720271, 5)",
        "datetime.datetime(2011, 13, 30)",
        "datetime.datetime(2011, 6, 30, 25)",
        "datetime.datetime(2011, 6, 30",
        "2026-13-21T23:34:52Z",
        "2026-11-21T25:34:52Z",
        "2026-11-21 garbage",
        "2026-11-21T23:34:52.123456Zjunk",
    ]

    def test_every_accepted_timestamp_form(self):
        payload = payload_of(50)
        for text, iso in self.GOOD:
            with self.subTest(timestamp=text):
                segment = Segment(timestamp=text)
                _, reply = self.exchange(segment.entire(payload), [payload])
                self.assertResult(reply, "success")
                # replies use ISO 8601 with microseconds, UTC
                headers, _ = self.client.retrieve(segment)
                self.assertResult(headers[0], "success")
                got = headers[0].get("timestamp-repr")
                self.assertIn(got, (iso + "Z", iso + "+00:00"),
                              "timestamp %r came back as %r" % (text, got))

    def test_timestamp_forms_in_other_messages(self):
        payload = payload_of(50)
        legacy = "datetime.datetime(2011, 6, 30, 13, 52, 34)"
        segment = Segment(timestamp=legacy)
        for header, frames in ((segment.start(payload), [payload]),
                               (segment.next(payload, 1), [payload]),
                               (segment.final(payload, 2), [payload])):
            _, reply = self.exchange(header, frames)
            self.assertResult(reply, "success")
        _, reply = self.exchange(destroy_header(
            1, new_key(), new_unified_id(),
            **{"timestamp-repr": "datetime.datetime(2011, 6, 30)"}))
        self.assertResult(reply, "success")
        _, reply = self.exchange(conjoined_header(
            "start-conjoined-archive", 1, new_key(), new_unified_id(),
            **{"timestamp-repr": "2026-11-21T23:34:52+00:00"}))
        self.assertResult(reply, "success")

    def test_bad_timestamps_are_invalid(self):
        payload = payload_of(50)
        for text in self.BAD:
            with self.subTest(timestamp=text):
                _, reply = self.exchange(Segment(timestamp=text).entire(payload),
                                         [payload])
                self.assertResult(reply, "invalid-request", "timestamp-repr")
        _, reply = self.exchange(Segment().entire(payload, **{"timestamp-repr": 1234}),
                                 [payload])
        self.assertResult(reply, "invalid-request", "timestamp-repr")


# ==========================================================================
#   Cancel, delete, web-writer-start, conjoined

class StateTest(StrataTestCase):

    def test_destroy_key_success_carries_unified_id(self):
        payload = payload_of(100)
        segment = Segment()
        _, reply = self.exchange(segment.entire(payload), [payload])
        self.assertResult(reply, "success")
        tombstone = new_unified_id()
        header = destroy_header(segment.collection_id, segment.key, tombstone,
                                unified_id_to_delete=segment.unified_id)
        header["user-request-id"] = "del-1"
        sent, reply = self.exchange(header)
        self.assertEqual(reply.get("message-type"), "destroy-key-reply")
        self.assertResult(reply, "success")
        self.assertEchoes(reply, sent)
        self.assertEqual(reply.get("unified-id"), tombstone)
        # the deleted version is gone
        headers, _ = self.client.retrieve(segment)
        self.assertEqual(headers[-1].get("result"), "not-found")

    def test_destroy_nonexistent_key_and_all_older(self):
        tombstone = new_unified_id()
        _, reply = self.exchange(destroy_header(1, new_key("never"), tombstone))
        self.assertEqual(reply.get("message-type"), "destroy-key-reply")
        self.assertResult(reply, "success")
        self.assertEqual(reply.get("unified-id"), tombstone)
        # the unified-id is an exact uint64, never a double
        big = 2 ** 64 - 3
        _, reply = self.exchange(destroy_header(1, new_key("never"), big))
        self.assertResult(reply, "success")
        self.assertEqual(reply.get("unified-id"), big)
        big = 2 ** 53 + 1
        _, reply = self.exchange(destroy_header(1, new_key("never"), big,
                                                unified_id_to_delete=big - 1))
        self.assertResult(reply, "success")
        self.assertEqual(reply.get("unified-id"), big)

    def test_destroy_all_older_versions(self):
        payload = payload_of(100)
        key = new_key()
        old = [Segment(key=key) for _ in range(3)]
        for segment in old:
            _, reply = self.exchange(segment.entire(payload), [payload])
            self.assertResult(reply, "success")
        header = destroy_header(1, key, new_unified_id())
        del header["unified-id-to-delete"]          # absent = every older version
        _, reply = self.exchange(header)
        self.assertResult(reply, "success")
        for segment in old:
            headers, _ = self.client.retrieve(segment)
            self.assertEqual(headers[-1].get("result"), "not-found")
        # an older version arriving later stays deleted
        late = Segment(key=key, unified_id=old[0].unified_id - 1)
        _, reply = self.exchange(late.entire(payload), [payload])
        self.assertIn(reply.get("result"), ("success",))
        headers, _ = self.client.retrieve(late)
        self.assertEqual(headers[-1].get("result"), "not-found")

    def test_web_writer_start_cancels_older_active_segments(self):
        payload = payload_of(100)
        older = Segment(source="writer-a", timestamp=iso_now(-60))
        newer = Segment(source="writer-a", timestamp=iso_now(+60))
        other = Segment(source="writer-b", timestamp=iso_now(-60))
        finished = Segment(source="writer-a", timestamp=iso_now(-60))
        for segment in (older, newer, other):
            _, reply = self.exchange(segment.start(payload), [payload])
            self.assertResult(reply, "success")
        _, reply = self.exchange(finished.entire(payload), [payload])
        self.assertResult(reply, "success")
        sent, reply = self.exchange({"message-type": "web-writer-start",
                                     "source-node-name": "writer-a",
                                     "timestamp-repr": iso_now()})
        self.assertEqual(reply.get("message-type"), "web-writer-start-reply")
        self.assertResult(reply, "success")
        self.assertEchoes(reply, sent)
        _, reply = self.exchange(older.next(payload, 1), [payload])
        self.assertResult(reply, "unknown-segment")
        _, reply = self.exchange(newer.next(payload, 1), [payload])
        self.assertResult(reply, "success")
        _, reply = self.exchange(other.next(payload, 1), [payload])
        self.assertResult(reply, "success")
        # a finished segment is not touched
        headers, payloads = self.client.retrieve(finished)
        self.assertResult(headers[0], "success")
        self.assertEqual(b"".join(payloads), payload)

    def test_web_writer_start_legacy_keys(self):
        payload = payload_of(100)
        older = Segment(source="legacy-writer",
                        timestamp="datetime.datetime(2011, 6, 30, 13, 52, 34, 720271)")
        _, reply = self.exchange(older.start(payload), [payload])
        self.assertResult(reply, "success")
        _, reply = self.exchange({"message-type": "web-writer-start",
                                  "source_node_name": "legacy-writer",
                                  "timestamp_repr": "datetime.datetime(2012, 1, 1)"})
        self.assertEqual(reply.get("message-type"), "web-writer-start-reply")
        self.assertResult(reply, "success")
        _, reply = self.exchange(older.next(payload, 1), [payload])
        self.assertResult(reply, "unknown-segment")

    def test_web_writer_start_missing_fields(self):
        _, reply = self.exchange({"message-type": "web-writer-start",
                                  "timestamp-repr": iso_now()})
        self.assertResult(reply, "invalid-request", "source-node-name")
        _, reply = self.exchange({"message-type": "web-writer-start",
                                  "source-node-name": "w"})
        self.assertResult(reply, "invalid-request", "timestamp-repr")

    def test_conjoined_start_parts_finish(self):
        payload = payload_of(1000)
        key, unified_id = new_key("conj"), new_unified_id()
        sent, reply = self.exchange(conjoined_header(
            "start-conjoined-archive", 1, key, unified_id))
        self.assertEqual(reply.get("message-type"), "start-conjoined-archive-reply")
        self.assertResult(reply, "success")
        self.assertEchoes(reply, sent)
        for part in (1, 2, 3):
            segment = Segment(key=key, unified_id=unified_id, conjoined_part=part)
            _, reply = self.exchange(segment.entire(payload), [payload])
            self.assertResult(reply, "success")
        sent, reply = self.exchange(conjoined_header(
            "finish-conjoined-archive", 1, key, unified_id))
        self.assertEqual(reply.get("message-type"), "finish-conjoined-archive-reply")
        self.assertResult(reply, "success")
        self.assertEchoes(reply, sent)

    def test_conjoined_abort_and_unknown(self):
        key, unified_id = new_key("conj"), new_unified_id()
        _, reply = self.exchange(conjoined_header(
            "start-conjoined-archive", 1, key, unified_id))
        self.assertResult(reply, "success")
        sent, reply = self.exchange(conjoined_header(
            "abort-conjoined-archive", 1, key, unified_id))
        self.assertEqual(reply.get("message-type"), "abort-conjoined-archive-reply")
        self.assertResult(reply, "success")
        self.assertEchoes(reply, sent)
        # aborted: neither finish nor abort finds it any more
        _, reply = self.exchange(conjoined_header(
            "finish-conjoined-archive", 1, key, unified_id))
        self.assertEqual(reply.get("message-type"), "finish-conjoined-archive-reply")
        self.assertResult(reply, "unknown-segment")
        # never started
        other_key, other_id = new_key("conj"), new_unified_id()
        _, reply = self.exchange(conjoined_header(
            "abort-conjoined-archive", 1, other_key, other_id))
        self.assertResult(reply, "unknown-segment")
        _, reply = self.exchange(conjoined_header(
            "finish-conjoined-archive", 1, other_key, other_id))
        self.assertResult(reply, "unknown-segment")


# ==========================================================================
#   Unknown nodes with a cluster file

class ClusterNamesTest(StrataTestCase):
    cluster_nodes = ["node%02d" % index for index in range(1, 11)]

    def test_unknown_source_and_handoff_nodes(self):
        payload = payload_of(100)
        for source, handoff in (("nodeX", None), ("node01", "nodeX"),
                                ("NODE01", None)):
            with self.subTest(source=source, handoff=handoff):
                segment = Segment(source=source, handoff=handoff)
                sent, reply = self.exchange(segment.entire(payload), [payload])
                self.assertResult(reply, "unknown-node")
                self.assertEchoes(reply, sent)
                _, reply = self.exchange(segment.start(payload), [payload])
                self.assertResult(reply, "unknown-node")

    def test_known_names_accepted(self):
        payload = payload_of(100)
        for source, handoff in (("node01", None), ("node02", None),
                                ("node03", "node07"), ("node10", "node02")):
            segment = Segment(source=source, handoff=handoff)
            _, reply = self.exchange(segment.entire(payload), [payload])
            self.assertResult(reply, "success")

    def test_destroy_key_unknown_node(self):
        _, reply = self.exchange(destroy_header(1, new_key(), new_unified_id(),
                                                source="nodeX"))
        self.assertResult(reply, "unknown-node")
        _, reply = self.exchange(destroy_header(1, new_key(), new_unified_id(),
                                                source="node02"))
        self.assertResult(reply, "success")

    def test_ping_node_name(self):
        reply = self.client.ping()
        self.assertEqual(reply.get("node-name"), "node01")


# ==========================================================================
#   Message types, validation, service messages

class ValidationTest(StrataTestCase):

    def test_unknown_message_type_echoes(self):
        for message_type in ("archive-key-bogus", "retrieve-everything", "x"):
            header = {"message-type": message_type, "user-request-id": "u-1"}
            sent, reply = self.exchange(header)
            self.assertResult(reply, "unknown-message-type")
            self.assertEchoes(reply, sent)
            message = reply.get("error-message") or ""
            self.assertTrue("message-type" in message or message_type in message,
                            "error-message names neither the field nor the "
                            "type: %r" % (reply,))

    def test_retrieve_on_writer_endpoint_is_not_a_write(self):
        # retrieval is a reader-endpoint message; on the writer it must not
        # crash anything: any error or a not-found answer is acceptable
        sent, reply = self.exchange(Segment().retrieve_start())
        self.assertNotEqual(reply.get("result"), None)
        self.assertEchoes(reply, sent)
        self.assertIsNotNone(self.client.ping())

    def _invalid_cases(self):
        """(field, header, frames) triples, each header addressed to this
        test's client and wrong in exactly the named field."""
        payload = payload_of(100)
        address = self.client.address

        def addressed(header):
            header = dict(header)
            header.setdefault("message-id", new_message_id())
            header.setdefault("client-tag", "inv")
            header.setdefault("client-address", address)
            return header

        def entire(**changes):
            header = addressed(Segment().entire(payload))
            for field, value in changes.items():
                field = field.replace("_", "-")
                if value is KeyError:
                    header.pop(field, None)
                else:
                    header[field] = value
            return header

        cases = []
        # every required field of archive-key-entire, missing
        for field in ("collection-id", "key", "unified-id", "timestamp-repr",
                      "segment-num", "segment-size", "zfec-padding-size",
                      "segment-md5-digest", "source-node-name", "file-size",
                      "file-hash", "message-id", "client-tag", "message-type"):
            cases.append((field, entire(**{field.replace("-", "_"): KeyError}),
                          [payload]))
        # ill-typed and out of range
        cases += [
            ("collection-id", entire(collection_id="1"), [payload]),
            ("collection-id", entire(collection_id=1.0), [payload]),
            ("collection-id", entire(collection_id=True), [payload]),
            ("collection-id", entire(collection_id=-1), [payload]),
            ("collection-id", entire(collection_id=2 ** 32), [payload]),
            ("key", entire(key=""), [payload]),
            ("key", entire(key="k" * 1025), [payload]),
            ("key", entire(key=5), [payload]),
            ("key", entire(key=b"bin-key"), [payload]),
            ("key", entire(key=None), [payload]),
            ("unified-id", entire(unified_id=-1), [payload]),
            ("unified-id", entire(unified_id="12"), [payload]),
            ("unified-id", entire(unified_id=1.5), [payload]),
            ("timestamp-repr", entire(timestamp_repr=None), [payload]),
            ("segment-num", entire(segment_num=0), [payload]),
            ("segment-num", entire(segment_num=256), [payload]),
            ("segment-num", entire(segment_num=-3), [payload]),
            ("conjoined-part", entire(conjoined_part=-1), [payload]),
            ("conjoined-part", entire(conjoined_part=2 ** 32), [payload]),
            ("conjoined-part", entire(conjoined_part="0"), [payload]),
            ("segment-size", entire(segment_size=-100), [payload]),
            ("segment-size", entire(segment_size="100"), [payload]),
            ("zfec-padding-size", entire(zfec_padding_size=-1), [payload]),
            ("zfec-padding-size", entire(zfec_padding_size=2 ** 32), [payload]),
            ("segment-adler32", entire(segment_adler32=2 ** 32), [payload]),
            ("segment-adler32", entire(segment_adler32=-(2 ** 31) - 1), [payload]),
            ("segment-adler32", entire(segment_adler32="x"), [payload]),
            ("file-adler32", entire(file_adler32=2 ** 32), [payload]),
            ("file-size", entire(file_size=-1), [payload]),
            ("source-node-name", entire(source_node_name=7), [payload]),
            ("source-node-name", entire(source_node_name="n" * 10000), [payload]),
            ("handoff-node-name", entire(handoff_node_name=7), [payload]),
            ("meta", entire(meta="not a map"), [payload]),
            ("meta", entire(meta={"k%02d" % i: "v" for i in range(65)}), [payload]),
            ("meta", entire(meta={"a": 1}), [payload]),
            ("meta", entire(meta={"a": "v" * 1025}), [payload]),
            ("message-id", entire(message_id="m" * 129), [payload]),
            ("message-id", entire(message_id=17), [payload]),
            ("client-tag", entire(client_tag="t" * 129), [payload]),
            ("client-tag", entire(client_tag=5), [payload]),
            ("user-request-id", entire(user_request_id="u" * 129), [payload]),
            ("user-request-id", entire(user_request_id=3), [payload]),
            ("message-type", entire(message_type=12), [payload]),
            ("message-type", entire(message_type=None), [payload]),
        ]
        segment = Segment()
        start = addressed(segment.start(payload))
        del start["sequence-num"]
        cases.append(("sequence-num", start, [payload]))
        start = addressed(segment.start(payload, sequence_num=-1))
        cases.append(("sequence-num", start, [payload]))
        nxt = addressed(segment.next(payload, 1))
        nxt["sequence-num"] = "1"
        cases.append(("sequence-num", nxt, [payload]))
        final = addressed(segment.final(payload, 1))
        del final["file-hash"]
        cases.append(("file-hash", final, [payload]))
        final = addressed(segment.final(payload, 1))
        del final["file-size"]
        cases.append(("file-size", final, [payload]))
        cancel = addressed(segment.cancel())
        del cancel["segment-num"]
        cases.append(("segment-num", cancel, []))
        cancel = addressed(segment.cancel())
        cancel["unified-id"] = "abc"
        cases.append(("unified-id", cancel, []))
        destroy = addressed(destroy_header(1, new_key(), new_unified_id()))
        destroy["unified-id-to-delete"] = "all"
        cases.append(("unified-id-to-delete", destroy, []))
        destroy = addressed(destroy_header(1, new_key(), new_unified_id()))
        del destroy["unified-id"]
        cases.append(("unified-id", destroy, []))
        destroy = addressed(destroy_header(1, new_key(), new_unified_id()))
        del destroy["key"]
        cases.append(("key", destroy, []))
        for message_type in ("start-conjoined-archive", "finish-conjoined-archive",
                             "abort-conjoined-archive"):
            conj = addressed(conjoined_header(message_type, 1, new_key(),
                                              new_unified_id()))
            del conj["key"]
            cases.append(("key", conj, []))
            conj = addressed(conjoined_header(message_type, 1, new_key(),
                                              new_unified_id()))
            conj["unified-id"] = -5
            cases.append(("unified-id", conj, []))
        return cases

    def test_invalid_request_names_the_field(self):
        missing = []
        for field, header, frames in self._invalid_cases():
            if len(missing) >= 5:
                self.fail("no reply to 5 invalid requests (%s); giving up"
                          % ", ".join(missing))
            with self.subTest(field=field, header=repr(header)[:200]):
                self.client.send(header, frames, fill=False)
                message_id = header.get("message-id")
                try:
                    if isinstance(message_id, str) and len(message_id) <= 128:
                        reply, _ = self.client.wait_for(message_id, 2.0)
                    else:
                        reply, _ = self.client.recv(2.0)
                except AssertionError:
                    missing.append(field)
                    self.fail("no reply to a request wrong in %s" % field)
                self.assertResult(reply, "invalid-request", field)
                if isinstance(message_id, str) and len(message_id) <= 128:
                    self.assertEqual(reply.get("message-id"), message_id)
        # the node is still fine
        self.assertEqual(self.client.ping().get("message-type"), "ping-reply")

    def test_invalid_utf8_key(self):
        payload = payload_of(100)
        header = Segment().entire(payload)
        header["message-id"] = new_message_id()
        header["client-tag"] = "utf8"
        header["client-address"] = self.client.address
        header["key"] = raw_str(b"bad-\xff\xfe-key")
        self.client.send_raw([pack_map(header), payload])
        reply, _ = self.client.wait_for(header["message-id"])
        self.assertResult(reply, "invalid-request", "key")

    def test_ping_reply_fields(self):
        for endpoint in ("writer", "reader"):
            with self.subTest(endpoint=endpoint):
                header = {"message-type": "ping", "user-request-id": "p-1"}
                sent = self.client.send(header, endpoint=endpoint)
                reply, frames = self.client.wait_for(sent["message-id"])
                self.assertEqual(reply.get("message-type"), "ping-reply")
                self.assertResult(reply, "success")
                self.assertEchoes(reply, sent)
                self.assertEqual(reply.get("node-name"), self.node.name)
                self.assertIsInstance(reply.get("version"), str)
                self.assertTrue(reply.get("version"))
                uptime = reply.get("uptime-seconds")
                self.assertIsInstance(uptime, (int, float))
                self.assertFalse(isinstance(uptime, bool))
                self.assertGreaterEqual(uptime, 0)
                self.assertLess(uptime, 120)
                self.assertEqual(frames, [])

    def test_uptime_advances(self):
        first = self.client.ping().get("uptime-seconds")
        time.sleep(2.1)
        second = self.client.ping().get("uptime-seconds")
        self.assertGreaterEqual(second - first, 1)

    def test_sync_value_file(self):
        payload = payload_of(100)
        self.client.send(Segment().entire(payload), [payload])
        sent, reply = self.exchange({"message-type": "sync-value-file",
                                     "user-request-id": "s-1"})
        self.assertEqual(reply.get("message-type"), "sync-value-file-reply")
        self.assertResult(reply, "success")
        self.assertEchoes(reply, sent)
        # idle: still answered
        _, reply = self.exchange({"message-type": "sync-value-file"})
        self.assertResult(reply, "success")

    def test_stats_fields_and_counting(self):
        stats = self.client.stats()
        for key in STATS_KEYS:
            self.assertIn(key, stats, "stats lacks %r: %r" % (key, stats))
        for key in ("requests", "results", "segments", "sync-latency-us"):
            self.assertIsInstance(stats[key], dict, key)
        for key in ("bytes-stored", "value-files", "active-segments",
                    "queue-depth", "syncs", "replies-dropped",
                    "requests-dropped"):
            self.assertIsInstance(stats[key], int, key)
            self.assertGreaterEqual(stats[key], 0, key)
        for key in ("active", "finished", "cancelled", "tombstone"):
            self.assertIn(key, stats["segments"], "segments lacks %r" % key)
        for key in ("p50", "p90", "p99", "max"):
            self.assertIn(key, stats["sync-latency-us"], "sync-latency-us lacks %r" % key)
        start = stats

        payload = payload_of(10000, 5)
        count = 20
        for _ in range(count):
            _, reply = self.exchange(Segment().entire(payload), [payload])
            self.assertResult(reply, "success")
        _, reply = self.exchange(
            Segment().entire(payload, **{"segment-md5-digest": md5_b64(b"")}), [payload])
        self.assertResult(reply, "md5-mismatch")
        _, reply = self.exchange(
            Segment().entire(payload, **{"segment-size": 1}), [payload])
        self.assertResult(reply, "size-mismatch")
        _, reply = self.exchange({"message-type": "no-such-type"})
        self.assertResult(reply, "unknown-message-type")
        active = Segment()
        _, reply = self.exchange(active.start(payload), [payload])
        self.assertResult(reply, "success")
        cancelled = Segment()
        _, reply = self.exchange(cancelled.start(payload), [payload])
        self.assertResult(reply, "success")
        _, reply = self.exchange(cancelled.cancel())
        self.assertResult(reply, "success")
        _, reply = self.exchange(destroy_header(1, new_key(), new_unified_id()))
        self.assertResult(reply, "success")

        stats = self.client.stats()
        requests, results = stats["requests"], stats["results"]
        self.assertEqual(requests.get("archive-key-entire", 0)
                         - start["requests"].get("archive-key-entire", 0), count + 2)
        self.assertEqual(requests.get("archive-key-start", 0), 2)
        self.assertEqual(requests.get("archive-key-cancel", 0), 1)
        self.assertEqual(requests.get("destroy-key", 0), 1)
        self.assertGreaterEqual(requests.get("stats", 0), 1)
        self.assertGreaterEqual(results.get("success", 0) - start["results"].get("success", 0),
                                count + 4)
        self.assertEqual(results.get("md5-mismatch", 0), 1)
        self.assertEqual(results.get("size-mismatch", 0), 1)
        self.assertEqual(results.get("unknown-message-type", 0), 1)
        self.assertGreaterEqual(stats["bytes-stored"] - start["bytes-stored"],
                                count * len(payload) + 2 * len(payload))
        self.assertGreaterEqual(stats["value-files"], 1)
        self.assertEqual(stats["segments"]["finished"], count)
        self.assertEqual(stats["segments"]["active"], 1)
        self.assertEqual(stats["active-segments"], 1)
        self.assertEqual(stats["segments"]["cancelled"], 1)
        self.assertGreaterEqual(stats["segments"]["tombstone"], 1)
        self.assertGreater(stats["syncs"], start["syncs"])
        latency = stats["sync-latency-us"]
        self.assertGreater(latency["max"], 0)
        self.assertLessEqual(latency["p50"], latency["p90"])
        self.assertLessEqual(latency["p90"], latency["p99"])
        self.assertLessEqual(latency["p99"], latency["max"])


# ==========================================================================
#   Load: concurrent senders, a client that never reads

class LoadTest(StrataTestCase):
    test_timeout = 120

    def test_many_concurrent_senders(self):
        threads_count, per_thread = 16, 200
        outcomes = [None] * threads_count
        barrier = threading.Barrier(threads_count)

        def sender(index):
            client = Client(self.context, self.node.writer, tag="t%d" % index)
            try:
                payload = payload_of(1024, index)
                sent_ids = set()
                barrier.wait(timeout=30)
                for _ in range(per_thread):
                    sent = client.send(Segment(key=new_key("c%d" % index))
                                       .entire(payload), [payload])
                    sent_ids.add(sent["message-id"])
                replies = {}
                deadline = time.monotonic() + 60
                while len(replies) < per_thread and time.monotonic() < deadline:
                    header, _ = client.recv(max(0.1, deadline - time.monotonic()))
                    message_id = header.get("message-id")
                    if message_id in replies:
                        outcomes[index] = "duplicate reply for %s" % message_id
                        return
                    replies[message_id] = header
                if set(replies) != sent_ids:
                    outcomes[index] = "got %d replies for %d requests" % (
                        len(set(replies) & sent_ids), per_thread)
                    return
                bad = [h for h in replies.values()
                       if h.get("result") != "success"
                       or h.get("client-tag") != "t%d" % index]
                if bad:
                    outcomes[index] = "%d bad replies, e.g. %r" % (len(bad), bad[0])
                    return
                outcomes[index] = "ok"
            except Exception as error:  # noqa: BLE001 - reported below
                outcomes[index] = "%s: %s" % (type(error).__name__, error)
            finally:
                client.close()

        threads = [threading.Thread(target=sender, args=(index,), daemon=True)
                   for index in range(threads_count)]
        begin = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
        elapsed = time.monotonic() - begin
        failures = [(index, outcome) for index, outcome in enumerate(outcomes)
                    if outcome != "ok"]
        self.assertEqual(failures, [], "senders failed")
        stats = self.client.stats()
        self.assertEqual(stats["requests"].get("archive-key-entire"),
                         threads_count * per_thread)
        sys.stderr.write("  %d acks in %.2f s, %d syncs\n"
                         % (threads_count * per_thread, elapsed, stats["syncs"]))

    def test_more_reply_addresses_than_the_cache_holds(self):
        # the reply-socket cache is bounded (128 by default); 300 distinct
        # requesters, twice over, all still get their replies
        clients = [self.new_client(tag="many%d" % index) for index in range(300)]
        payload = payload_of(100)
        for _round in range(2):
            sent = [(client, client.send(Segment().entire(payload), [payload]))
                    for client in clients]
            for client, header in sent:
                reply, _ = client.wait_for(header["message-id"], 10)
                self.assertResult(reply, "success")
        self.assertEqual(self.client.stats()["replies-dropped"], 0)

    def test_non_reading_client_does_not_slow_others(self):
        # the flooder's replies are made large (128-byte echo fields) so that
        # they overrun the kernel's socket buffers and the node's reply HWM
        flood_count, normal_count = 10000, 200
        flooder = Client(self.context, self.node.writer, tag="f" * 128,
                         rcvhwm=1, rcvbuf=4096)
        self.clients.append(flooder)
        flood_error = []
        flood_progress = threading.Event()

        def flood():
            try:
                payload = payload_of(200, 1)
                for index in range(flood_count):
                    header = Segment(key=new_key("flood")).entire(payload)
                    header["message-id"] = new_message_id() * 4
                    header["user-request-id"] = "u" * 128
                    flooder.send(header, [payload])
                    if index == 1000:
                        flood_progress.set()
            except Exception as error:  # noqa: BLE001 - reported below
                flood_error.append(error)
            finally:
                flood_progress.set()

        thread = threading.Thread(target=flood, daemon=True)
        thread.start()
        flood_progress.wait(30)
        normal = self.new_client(tag="normal")
        payload = payload_of(200, 2)
        latencies = []
        for _ in range(normal_count):
            begin = time.monotonic()
            _, reply = self.exchange(Segment().entire(payload), [payload],
                                     client=normal, timeout=10)
            latencies.append(time.monotonic() - begin)
            self.assertResult(reply, "success")
        thread.join(60)
        self.assertFalse(thread.is_alive(), "flooder could not send its requests")
        self.assertEqual(flood_error, [])
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        sys.stderr.write("  normal client: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n"
                         % (latencies[len(latencies) // 2] * 1000, p99 * 1000,
                            latencies[-1] * 1000))
        self.assertLess(p99, 1.0, "p99 latency of the reading client %.3f s" % p99)
        # the node processes all of the flooder's requests too and stays fine
        stats = self.wait_stats(
            lambda s: s["requests"].get("archive-key-entire", 0)
            >= flood_count + normal_count, timeout=30, client=normal)
        self.assertEqual(stats["requests"].get("archive-key-entire", 0),
                         flood_count + normal_count)
        sys.stderr.write("  replies-dropped %d\n" % stats["replies-dropped"])
        self.assertEqual(normal.ping().get("message-type"), "ping-reply")
        # ~5 MB of replies nobody reads: some must have been dropped, counted
        self.assertGreater(stats["replies-dropped"], 0,
                           "no reply to the non-reading client was dropped")


# ==========================================================================
#   Durability ordering: success only after the (slowed) sync

SYNC_DELAY = 0.3


class DurabilityOrderTest(StrataTestCase):
    node_env = {"STRATA_TEST_SYNC_DELAY_MS": str(int(SYNC_DELAY * 1000))}

    def timed(self, header, frames=()):
        begin = time.monotonic()
        _, reply = self.exchange(header, frames, timeout=10)
        return reply, time.monotonic() - begin

    def assertWaitedForSync(self, header, frames=()):
        before = self.client.stats()["syncs"]
        reply, elapsed = self.timed(header, frames)
        self.assertResult(reply, "success")
        self.assertGreaterEqual(
            elapsed, SYNC_DELAY * 0.9,
            "%s success reply after %.3f s, before the %.1f s sync could finish"
            % (header["message-type"], elapsed, SYNC_DELAY))
        after = self.client.stats()["syncs"]
        self.assertGreater(after, before, "syncs did not increase for %s"
                           % header["message-type"])
        return reply

    def test_entire_success_waits_for_sync(self):
        payload = payload_of(4096)
        self.assertWaitedForSync(Segment().entire(payload), [payload])

    def test_failure_replies_are_immediate(self):
        payload = payload_of(4096)
        for header in (
                Segment().entire(payload, **{"segment-md5-digest": md5_b64(b"")}),
                Segment().entire(payload, **{"segment-size": 3}),
                Segment().next(payload, 1),
                Segment().entire(payload, **{"segment-num": 0})):
            reply, elapsed = self.timed(header, [payload])
            self.assertNotEqual(reply.get("result"), "success")
            self.assertLess(elapsed, SYNC_DELAY * 0.66,
                            "failure reply %r took %.3f s" % (reply.get("result"), elapsed))

    def test_every_state_change_waits_for_sync(self):
        payload = payload_of(4096)
        segment = Segment(source="dur-writer", timestamp=iso_now(-30))
        self.assertWaitedForSync(segment.start(payload), [payload])
        self.assertWaitedForSync(segment.next(payload, 1), [payload])
        self.assertWaitedForSync(segment.final(payload, 2), [payload])
        cancelled = Segment()
        self.assertWaitedForSync(cancelled.start(payload), [payload])
        self.assertWaitedForSync(cancelled.cancel())
        self.assertWaitedForSync(destroy_header(1, segment.key, new_unified_id()))
        key, unified_id = new_key(), new_unified_id()
        self.assertWaitedForSync(conjoined_header("start-conjoined-archive", 1,
                                                  key, unified_id))
        self.assertWaitedForSync(conjoined_header("finish-conjoined-archive", 1,
                                                  key, unified_id))
        key, unified_id = new_key(), new_unified_id()
        self.assertWaitedForSync(conjoined_header("start-conjoined-archive", 1,
                                                  key, unified_id))
        self.assertWaitedForSync(conjoined_header("abort-conjoined-archive", 1,
                                                  key, unified_id))
        abandoned = Segment(source="dur-writer", timestamp=iso_now(-30))
        self.assertWaitedForSync(abandoned.start(payload), [payload])
        self.assertWaitedForSync({"message-type": "web-writer-start",
                                  "source-node-name": "dur-writer",
                                  "timestamp-repr": iso_now()})

    def test_failure_not_held_behind_pending_success(self):
        payload = payload_of(4096)
        good = self.client.send(Segment().entire(payload), [payload])
        begin = time.monotonic()
        bad = self.client.send(
            Segment().entire(payload, **{"segment-md5-digest": md5_b64(b"")}),
            [payload])
        bad_reply, _ = self.client.wait_for(bad["message-id"], 10)
        bad_elapsed = time.monotonic() - begin
        good_reply, _ = self.client.wait_for(good["message-id"], 10)
        good_elapsed = time.monotonic() - begin
        self.assertResult(bad_reply, "md5-mismatch")
        self.assertResult(good_reply, "success")
        # the failure went out at once: at most one sync of the success
        # (which may already have started) can stand before it
        self.assertLess(bad_elapsed, SYNC_DELAY * 1.66,
                        "failure reply took %.3f s" % bad_elapsed)
        self.assertGreaterEqual(good_elapsed, SYNC_DELAY * 0.9)

    def test_group_commit_shares_syncs(self):
        payload = payload_of(1024)
        before = self.client.stats()["syncs"]
        count = 100
        begin = time.monotonic()
        sent = [self.client.send(Segment().entire(payload), [payload])["message-id"]
                for _ in range(count)]
        for message_id in sent:
            reply, _ = self.client.wait_for(message_id, 15)
            self.assertResult(reply, "success")
        elapsed = time.monotonic() - begin
        syncs = self.client.stats()["syncs"] - before
        self.assertGreaterEqual(syncs, 1)
        self.assertLessEqual(syncs, count // 5,
                             "%d syncs for %d requests: no group commit" % (syncs, count))
        self.assertLess(elapsed, count * SYNC_DELAY / 5,
                        "%d requests took %.2f s with a %.1f s sync"
                        % (count, elapsed, SYNC_DELAY))


if __name__ == "__main__":
    run_main()
