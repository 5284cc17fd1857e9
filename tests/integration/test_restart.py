"""Integration tests: what strata-node keeps across a restart, and how it
shuts down (proto/PROTOCOL.md, "Archiving (writer endpoint)" and
"Durability"; docs/architecture.md, "Guarantees", SIGTERM/SIGINT).

Finished segments stay retrievable, active segments can be continued,
cancelled and deleted ones stay so, an acknowledged write survives SIGKILL,
and SIGTERM after a burst still delivers every owed reply and exits 0.

Run: /usr/bin/python3 tests/integration/test_restart.py
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from strata_harness import (  # noqa: E402
    Segment, StrataTestCase, destroy_header, md5_b64, new_unified_id,
    run_main, split_frames,
)


def payload_of(size, seed=0):
    return bytes(((index * 37 + seed * 101 + (index >> 7)) & 0xFF)
                 for index in range(size))


class RestartTest(StrataTestCase):
    test_timeout = 90

    def archive(self, client, header, frames, result="success"):
        sent = client.send(header, frames)
        reply, _ = client.wait_for(sent["message-id"], 10)
        self.assertEqual(reply.get("result"), result,
                         "%s: expected %s, got %r" % (header["message-type"],
                                                      result, reply))
        return reply

    def assertRetrieves(self, client, segment, payloads):
        headers, got = client.retrieve(segment, timeout=10)
        self.assertEqual(headers[-1].get("result"), "success",
                         "retrieve failed: %r" % (headers[-1],))
        self.assertEqual(len(got), len(payloads), "sequence count")
        for index, (expected, actual) in enumerate(zip(payloads, got)):
            self.assertEqual(actual, expected, "payload of sequence %d" % index)
        first = headers[0]
        self.assertEqual(first.get("unified-id"), segment.unified_id)
        self.assertEqual(first.get("sequence-count"), len(payloads))
        self.assertTrue(headers[-1].get("completed"))
        whole = b"".join(payloads)
        self.assertEqual(first.get("file-size"), len(whole))
        self.assertEqual(first.get("file-hash"), md5_b64(whole))

    def test_finished_segments_survive_restart(self):
        entire_payload = payload_of(10000, 1)
        entire = Segment()
        self.archive(self.client, entire.entire(entire_payload),
                     split_frames(entire_payload, 3))
        multi = Segment()
        parts = [payload_of(30000, seed) for seed in range(3)]
        self.archive(self.client, multi.start(parts[0]), split_frames(parts[0], 8))
        self.archive(self.client, multi.next(parts[1], 1), split_frames(parts[1], 8))
        self.archive(self.client, multi.final(parts[2], 2), split_frames(parts[2], 8))
        self.assertRetrieves(self.client, entire, [entire_payload])
        self.node.restart()
        client = self.new_client()
        self.assertRetrieves(client, entire, [entire_payload])
        self.assertRetrieves(client, multi, parts)
        # a second restart changes nothing
        self.node.restart()
        client = self.new_client()
        self.assertRetrieves(client, multi, parts)

    def test_active_segment_continues_after_restart(self):
        segment = Segment()
        parts = [payload_of(20000, seed) for seed in range(4)]
        self.archive(self.client, segment.start(parts[0]), [parts[0]])
        self.archive(self.client, segment.next(parts[1], 1), [parts[1]])
        self.node.restart()
        client = self.new_client()
        # still active: a duplicate start is refused, a gap is refused
        self.archive(client, segment.start(parts[0]), [parts[0]], "duplicate-segment")
        segment.payloads = parts[:2]
        gap = segment.next(parts[2], 3)
        segment.payloads = parts[:2]
        self.archive(client, gap, [parts[2]], "invalid-request")
        # and the sender continues where it stopped
        self.archive(client, segment.next(parts[2], 2), [parts[2]])
        self.archive(client, segment.final(parts[3], 3), [parts[3]])
        self.assertRetrieves(client, segment, parts)

    def test_acknowledged_writes_survive_sigkill(self):
        finished = Segment()
        payload = payload_of(50000, 7)
        self.archive(self.client, finished.entire(payload), [payload])
        active = Segment()
        parts = [payload_of(5000, seed) for seed in (1, 2, 3)]
        self.archive(self.client, active.start(parts[0]), [parts[0]])
        cancelled = Segment()
        self.archive(self.client, cancelled.start(parts[0]), [parts[0]])
        self.archive(self.client, cancelled.cancel(), [])
        self.node.kill()
        self.node.start(keep_ports=True)
        client = self.new_client()
        self.assertRetrieves(client, finished, [payload])
        self.archive(client, active.next(parts[1], 1), [parts[1]])
        self.archive(client, active.final(parts[2], 2), [parts[2]])
        self.assertRetrieves(client, active, parts)
        cancelled.payloads = parts[:1]
        self.archive(client, cancelled.next(parts[1], 1), [parts[1]], "unknown-segment")

    def test_kill_during_load_loses_nothing_acknowledged(self):
        payload = payload_of(4096, 3)
        segments = [Segment() for _ in range(300)]
        sent = {}
        for segment in segments:
            header = self.client.send(segment.entire(payload), [payload])
            sent[header["message-id"]] = segment
        acknowledged = []
        deadline = time.monotonic() + 10
        while len(acknowledged) < 100 and time.monotonic() < deadline:
            reply, _ = self.client.recv(max(0.1, deadline - time.monotonic()))
            if reply.get("result") == "success":
                acknowledged.append(sent[reply["message-id"]])
        self.node.kill()    # mid-stream: some requests are not acknowledged
        self.assertGreaterEqual(len(acknowledged), 100)
        self.node.start(keep_ports=True)
        client = self.new_client()
        for segment in acknowledged:
            self.assertRetrieves(client, segment, [payload])

    def test_cancelled_and_deleted_stay_so_after_restart(self):
        payload = payload_of(1000, 4)
        cancelled = Segment()
        self.archive(self.client, cancelled.start(payload), [payload])
        self.archive(self.client, cancelled.cancel(), [])
        deleted = Segment()
        self.archive(self.client, deleted.entire(payload), [payload])
        tombstone = new_unified_id()
        reply = self.archive(self.client, destroy_header(
            deleted.collection_id, deleted.key, tombstone,
            unified_id_to_delete=deleted.unified_id), [])
        self.assertEqual(reply.get("unified-id"), tombstone)
        self.node.restart()
        client = self.new_client()
        cancelled.payloads = [payload]
        self.archive(client, cancelled.next(payload, 1), [payload], "unknown-segment")
        headers, _ = client.retrieve(deleted)
        self.assertEqual(headers[-1].get("result"), "not-found", headers[-1])
        headers, _ = client.retrieve(cancelled)
        self.assertEqual(headers[-1].get("result"), "not-found", headers[-1])

    def test_ping_after_restart_reports_fresh_uptime(self):
        time.sleep(1.5)
        before = self.client.ping().get("uptime-seconds")
        self.node.restart()
        reply = self.new_client().ping()
        self.assertEqual(reply.get("node-name"), self.node.name)
        self.assertLessEqual(reply.get("uptime-seconds"), before)


class ShutdownTest(StrataTestCase):
    test_timeout = 90

    def burst_then_signal(self, count, signum=signal.SIGTERM, size=1024):
        payload = payload_of(size, 5)
        sent = set()
        for _ in range(count):
            header = self.client.send(Segment().entire(payload), [payload])
            sent.add(header["message-id"])
        self.node.proc.send_signal(signum)
        self.node.expect_running = False
        replies = {}
        deadline = time.monotonic() + 30
        while len(replies) < count and time.monotonic() < deadline:
            try:
                reply, _ = self.client.recv(max(0.1, deadline - time.monotonic()))
            except AssertionError:
                break
            replies[reply.get("message-id")] = reply
        code = self.node.wait(30)
        self.assertIsNotNone(code, "node did not exit within 30 s of the signal")
        self.assertEqual(code, 0, "exit code after signal %d" % signum)
        self.assertEqual(set(replies) - sent, set(), "replies to unknown requests")
        bad = [r for r in replies.values() if r.get("result") != "success"]
        self.assertEqual(bad, [], "failure replies during shutdown")
        self.assertEqual(len(replies), count,
                         "%d of %d owed replies arrived after the signal"
                         % (len(replies), count))

    def test_sigterm_after_burst_sends_every_owed_reply(self):
        self.burst_then_signal(500)

    def test_sigint_after_burst_sends_every_owed_reply(self):
        self.burst_then_signal(200, signal.SIGINT)

    def test_sigterm_idle_exits_zero_quickly(self):
        begin = time.monotonic()
        code = self.node.stop(timeout=10)
        self.assertEqual(code, 0)
        self.assertLess(time.monotonic() - begin, 5)

    def test_sigterm_with_active_segment_then_continue(self):
        segment = Segment()
        parts = [payload_of(3000, seed) for seed in range(3)]
        sent = self.client.send(segment.start(parts[0]), [parts[0]])
        self.node.terminate()
        reply, _ = self.client.wait_for(sent["message-id"], 15)
        self.assertEqual(reply.get("result"), "success", reply)
        self.assertEqual(self.node.wait(15), 0)
        self.node.start(keep_ports=True)
        client = self.new_client()
        for sequence in (1, 2):
            method = segment.next if sequence == 1 else segment.final
            sent = client.send(method(parts[sequence], sequence), [parts[sequence]])
            reply, _ = client.wait_for(sent["message-id"], 10)
            self.assertEqual(reply.get("result"), "success", reply)
        headers, got = client.retrieve(segment)
        self.assertEqual(headers[-1].get("result"), "success", headers[-1])
        self.assertEqual(got, parts)


class SlowSyncShutdownTest(StrataTestCase):
    """With a slow sync, SIGTERM still waits for the sync and sends every
    success reply it owes, and only then exits 0."""
    node_env = {"STRATA_TEST_SYNC_DELAY_MS": "300"}
    test_timeout = 90

    def test_sigterm_waits_for_pending_sync(self):
        payload = payload_of(2048, 6)
        sent = set()
        for _ in range(100):
            sent.add(self.client.send(Segment().entire(payload), [payload])["message-id"])
        time.sleep(0.05)
        begin = time.monotonic()
        self.node.terminate()
        replies = {}
        deadline = time.monotonic() + 30
        while len(replies) < len(sent) and time.monotonic() < deadline:
            try:
                reply, _ = self.client.recv(max(0.1, deadline - time.monotonic()))
            except AssertionError:
                break
            replies[reply.get("message-id")] = reply
        code = self.node.wait(30)
        self.assertEqual(code, 0)
        self.assertEqual(set(replies), sent,
                         "%d of %d replies" % (len(replies), len(sent)))
        self.assertTrue(all(r.get("result") == "success" for r in replies.values()),
                        [r for r in replies.values() if r.get("result") != "success"][:3])
        # the last replies waited for at least one slowed sync
        self.assertGreaterEqual(time.monotonic() - begin, 0.25)


if __name__ == "__main__":
    run_main()
