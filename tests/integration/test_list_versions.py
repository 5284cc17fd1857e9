"""Integration tests of list-versions (a reader-endpoint extension, see
proto/PROTOCOL.md): the visible versions of one segment, newest first, with
deleted, cancelled and unfinished versions left out, and handoff copies
listed only when asked for.

Run: STRATA_BUILD_DIR=/work/main/build /usr/bin/python3 tests/integration/test_list_versions.py
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from strata_harness import (  # noqa: E402
    Segment, StrataTestCase, destroy_header, md5_b64, new_key, run_main,
)


class ListVersionsTest(StrataTestCase):

    def list_versions(self, key, segment_num=1, **extra):
        header = {"message-type": "list-versions", "collection-id": 1,
                  "key": key, "segment-num": segment_num}
        header.update(extra)
        _, reply = self.exchange(header, endpoint="reader")
        self.assertResult(reply, "success")
        return reply["versions"]

    def store(self, key, unified_id, payload, **extra):
        segment = Segment(key=key, unified_id=unified_id, **extra)
        _, reply = self.exchange(segment.entire(payload), [payload])
        self.assertResult(reply, "success")
        return segment

    def test_versions_newest_first_without_deleted(self):
        key = new_key()
        for unified_id in (100, 300, 200, 400):
            self.store(key, unified_id, b"v%d" % unified_id)
        _, reply = self.exchange(destroy_header(1, key, 500, unified_id_to_delete=300))
        self.assertResult(reply, "success")
        versions = self.list_versions(key)
        self.assertEqual([v["unified-id"] for v in versions], [400, 200, 100])
        self.assertEqual(versions[0]["file-size"], len(b"v400"))
        self.assertEqual(versions[0]["file-hash"], md5_b64(b"v400"))
        self.assertTrue(versions[0]["timestamp-repr"].endswith("Z"))
        # A general tombstone deletes everything older than itself
        _, reply = self.exchange(destroy_header(1, key, 250))
        self.assertResult(reply, "success")
        self.assertEqual([v["unified-id"] for v in self.list_versions(key)], [400])

    def test_unfinished_cancelled_and_unknown_are_not_listed(self):
        key = new_key()
        active = Segment(key=key, unified_id=10)
        self.assertResult(self.exchange(active.start(b"a"), [b"a"])[1], "success")
        cancelled = Segment(key=key, unified_id=20)
        self.assertResult(self.exchange(cancelled.start(b"c"), [b"c"])[1], "success")
        self.assertResult(self.exchange(cancelled.cancel())[1], "success")
        self.assertEqual(self.list_versions(key), [])
        self.assertEqual(self.list_versions(new_key()), [])
        # Another segment-num of the same key is another list
        self.store(key, 30, b"x", segment_num=2)
        self.assertEqual(self.list_versions(key), [])
        self.assertEqual([v["unified-id"] for v in self.list_versions(key, segment_num=2)], [30])

    def test_handoff_copies_listed_only_when_asked(self):
        key = new_key()
        self.store(key, 7, b"mine")
        self.store(key, 8, b"held", handoff="node09")
        self.assertEqual([v["unified-id"] for v in self.list_versions(key)], [7])
        self.assertEqual([v["unified-id"] for v in
                          self.list_versions(key, **{"handoff-node-name": "node09"})], [8])
        self.assertEqual(self.list_versions(key, **{"handoff-node-name": "nobody"}), [])

    def test_invalid_requests_name_the_field(self):
        _, reply = self.exchange({"message-type": "list-versions", "collection-id": 1,
                                  "key": new_key()}, endpoint="reader")
        self.assertResult(reply, "invalid-request", field="segment-num")
        _, reply = self.exchange({"message-type": "list-versions", "collection-id": 1,
                                  "key": new_key(), "segment-num": 1}, endpoint="writer")
        self.assertResult(reply, "invalid-request", field="message-type")


if __name__ == "__main__":
    run_main()
