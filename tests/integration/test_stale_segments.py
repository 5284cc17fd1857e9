"""test_stale_segments - active segments abandoned by their sender

With node/active-timeout-seconds = 3: `--check` reports an active segment
older than the timeout (exit 1); the running node cancels a segment that
got no sequence for 3 s (a cancel record, counted in stats as
stale-segments-cancelled), while a segment that keeps receiving sequences
stays active; after the cancel `--check` is clean again and the segment's
next sequence is `unknown-segment`.
"""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from strata_harness import Segment, StrataTestCase, iso_now, run_main

CONFIG = "node\n    active-timeout-seconds = 3\n"


class StaleSegmentTest(StrataTestCase):
    node_config = CONFIG
    test_timeout = 60

    def run_check(self):
        done = subprocess.run(self.node._command() + ["--check"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=30, cwd=self.workdir)
        return done.returncode, done.stdout.decode(), done.stderr.decode()

    def wait_stats(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        while True:
            stats = self.client.stats()
            if predicate(stats) or time.monotonic() > deadline:
                return stats
            time.sleep(0.2)

    def test_stale_segment_cancelled(self):
        # Started 10 s ago (by its timestamp), then abandoned
        stale = Segment(timestamp=iso_now(-10))
        reply = self.client.request(stale.start(b"abandoned"), [b"abandoned"])
        self.assertResult(reply, "success")
        self.assertEqual(self.node.stop(), 0)

        code, out, err = self.run_check()
        self.assertEqual(code, 1, "--check must report the stale segment: %s%s" % (out, err))
        self.assertIn("active since", out)
        self.assertIn("node/active-timeout-seconds (3 s)", out)
        self.assertIn("key '%s'" % stale.key, out)

        started = time.monotonic()
        self.node.start(keep_ports=True)
        self.client = self.new_client()
        self.assertEqual(self.client.stats()["active-segments"], 1)
        # A segment that keeps receiving sequences stays active meanwhile
        busy = Segment()
        self.assertResult(self.client.request(busy.start(b"0"), [b"0"]), "success")
        sequence = 1
        while time.monotonic() - started < 6:
            self.assertResult(self.client.request(busy.next(b"%d" % sequence, sequence),
                                                  [b"%d" % sequence]), "success")
            sequence += 1
            time.sleep(0.5)
        stats = self.wait_stats(lambda stats: stats["stale-segments-cancelled"] >= 1, 10)
        self.assertEqual(stats["stale-segments-cancelled"], 1, stats)
        self.assertEqual(stats["active-segments"], 1, "only the busy segment is left: %r" % stats)
        self.assertIn("cancelling active segment", self.node.log_text())

        # The stale one is gone: its next sequence is refused
        reply = self.client.request(stale.next(b"late", 1), [b"late"])
        self.assertResult(reply, "unknown-segment")
        # The busy one finishes normally
        self.assertResult(self.client.request(busy.final(b"end", sequence), [b"end"]), "success")
        self.assertEqual(self.client.stats()["active-segments"], 0)

        self.assertEqual(self.node.stop(), 0)
        code, out, err = self.run_check()
        self.assertEqual(code, 0, "--check after the cancel: %s%s" % (out, err))
        self.assertIn(": 0 problems", out)


if __name__ == "__main__":
    run_main()
