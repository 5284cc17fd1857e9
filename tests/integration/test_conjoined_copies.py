"""A node's own conjoined archive and a handoff copy of the same archive
(same collection, key and unified-id, held for another node) are separate:
starting, finishing or aborting one never touches the other.

Run: STRATA_BUILD_DIR=/work/main/build /usr/bin/python3 tests/integration/test_conjoined_copies.py
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from strata_harness import (  # noqa: E402
    Segment, StrataTestCase, conjoined_header, new_key, run_main,
)


class ConjoinedCopiesTest(StrataTestCase):

    def conjoined(self, message_type, key, handoff=None):
        _, reply = self.exchange(conjoined_header(message_type, 1, key, 77,
                                                  **{"handoff-node-name": handoff}))
        return reply

    def part(self, key, part, segment_num, handoff=None):
        segment = Segment(key=key, unified_id=77, conjoined_part=part,
                          segment_num=segment_num, handoff=handoff)
        _, reply = self.exchange(segment.start(b"p"), [b"p"])
        self.assertResult(reply, "success")
        return segment

    def test_own_and_handoff_archives_are_separate(self):
        key = new_key()
        self.assertResult(self.conjoined("start-conjoined-archive", key), "success")
        # The copy held for node07 is another archive, not a duplicate
        self.assertResult(self.conjoined("start-conjoined-archive", key, "node07"), "success")
        self.assertResult(self.conjoined("start-conjoined-archive", key), "duplicate-segment")
        own_part = self.part(key, 1, 1)
        held_part = self.part(key, 1, 7, handoff="node07")
        # Aborting the held copy cancels only its parts
        self.assertResult(self.conjoined("abort-conjoined-archive", key, "node07"), "success")
        self.assertResult(self.conjoined("abort-conjoined-archive", key, "node07"), "unknown-segment")
        _, reply = self.exchange(held_part.final(b"q", 1), [b"q"])
        self.assertResult(reply, "unknown-segment")
        _, reply = self.exchange(own_part.final(b"q", 1), [b"q"])
        self.assertResult(reply, "success")
        self.assertResult(self.conjoined("finish-conjoined-archive", key), "success")
        self.assertResult(self.conjoined("finish-conjoined-archive", key), "unknown-segment")


if __name__ == "__main__":
    run_main()
