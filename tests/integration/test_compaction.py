"""Integration tests: space reclaim (issue 15, docs/storage.md "Compaction").

What is checked, on a real strata-node over real sockets:

* Garbage accounting as the node reports it in stats (live-bytes,
  garbage-bytes, value-bytes) moves with each kind of garbage.
* `strata compact` (the compact message, compact-reply) on a node where 75 %
  of the data was deleted (general and specific tombstones, superseded
  resends, a cancelled segment): the value files end at most 1.3 x the live
  bytes; every live version reads back byte-identical and every deleted one
  is not-found, before and after a restart and after --rebuild-index;
  `strata-node --check` is clean.
* Crash points (STRATA_TEST_COMPACT_KILL: during the copy, after the copy
  before its sync, after the sync before the index commit, after the commit
  before the unlink): the node is SIGKILLed there, restarts, removes what the
  compaction left behind, and serves the same data; a later compaction
  completes.
* SIGKILL at random moments of compaction passes under a mixed write/delete
  load (STRATA_COMPACT_CRASH_ROUNDS rounds, default 3; `make soak` runs 20).
* Tombstone grace: a tombstone is dropped only once it is older than
  compact/tombstone-grace-seconds and no record of a version it deletes
  remains; a replay of the deleted version within the grace stays deleted;
  after the drop nothing comes back, also after --rebuild-index.
* Disk nearly full (root only: a small tmpfs the test mounts): compaction
  waits, says so (compact-waiting-for-space, the log), and loses nothing.

The workload size is kept small for `make test` (STRATA_COMPACT_MIB, default
24 MiB of objects of 64-512 KiB); `make soak` runs it with 2 GiB of 64 KiB-4 MiB
objects (STRATA_COMPACT_MIB=2048 STRATA_COMPACT_MAX_KIB=4096).
"""

import glob
import os
import random
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from strata_harness import (  # noqa: E402
    BUILD_DIR, NODE_BINARY, Segment, StrataTestCase, destroy_header, new_key,
    new_unified_id, run_main, split_frames,
)

COMMAND_TIMEOUT = 600
WORKLOAD_MIB = int(os.environ.get("STRATA_COMPACT_MIB", "24"))
MAX_OBJECT_KIB = int(os.environ.get("STRATA_COMPACT_MAX_KIB", "512"))
CRASH_ROUNDS = int(os.environ.get("STRATA_COMPACT_CRASH_ROUNDS", "3"))
FILE_MAX_BYTES = 4 * 1024 * 1024 if WORKLOAD_MIB < 256 else 64 * 1024 * 1024

CONFIG = """node
    value-file-max-bytes = %d
    reserve-bytes = 0
compact
    enabled = 0
    bytes-per-second = 1073741824
""" % FILE_MAX_BYTES

STRATA = os.path.join(BUILD_DIR, "strata")


def values_bytes(data_dir):
    """Bytes of every value file (what du counts for them)."""
    return sum(os.path.getsize(path)
               for path in glob.glob(os.path.join(data_dir, "*", "values", "*.val")))


class Model:
    """What the node must serve: key -> {unified-id: payload or None (deleted)}."""

    def __init__(self, seed):
        self.random = random.Random(seed)
        self.versions = {}
        self.segments = {}          # (key, uid) -> Segment

    def payload(self, size):
        return self.random.getrandbits(8 * size).to_bytes(size, "little")

    def live_bytes(self):
        return sum(len(payload) for versions in self.versions.values()
                   for payload in versions.values() if payload is not None)


class CompactionTest(StrataTestCase):
    node_config = CONFIG
    test_timeout = 900

    # -- helpers ------------------------------------------------------------

    def ok(self, header, frames=(), client=None):
        client = client or self.client
        reply = client.request(header, frames, timeout=30)
        self.assertEqual(reply.get("result"), "success",
                         "%s: %r" % (header["message-type"], reply))
        return reply

    def store(self, model, key, payload, client=None, unified_id=None):
        segment = Segment(key=key, unified_id=unified_id or new_unified_id())
        if len(payload) > 256 * 1024 and model.random.random() < 0.5:
            # start / next / final: sequences may land in different files
            pieces = [payload[index:index + 128 * 1024]
                      for index in range(0, len(payload), 128 * 1024)]
            self.ok(segment.start(pieces[0]), [pieces[0]], client)
            for number, piece in enumerate(pieces[1:-1], start=1):
                self.ok(segment.next(piece, number), [piece], client)
            self.ok(segment.final(pieces[-1], len(pieces) - 1), [pieces[-1]], client)
        else:
            self.ok(segment.entire(payload), split_frames(payload, 2), client)
        model.versions.setdefault(key, {})[segment.unified_id] = payload
        model.segments[(key, segment.unified_id)] = segment
        return segment

    def fill(self, model, mib, client=None, max_kib=MAX_OBJECT_KIB):
        """Store about mib MiB: keys with 1-3 versions, a few resends."""
        total = 0
        while total < mib * 1024 * 1024:
            key = new_key("compact")
            for _ in range(model.random.randint(1, 3)):
                size = model.random.randint(64, max_kib) * 1024
                payload = model.payload(size)
                segment = self.store(model, key, payload, client)
                total += size
                if model.random.random() < 0.05:
                    # resend of the same version: the older row is superseded
                    self.ok(segment.entire(payload), [payload], client)
                    total += size

    def delete(self, model, share, client=None):
        """Delete about share of the live bytes: general tombstones (every
        version below) and specific ones (one version)."""
        keys = sorted(model.versions)
        model.random.shuffle(keys)
        target = model.live_bytes() * share
        deleted = 0
        for key in keys:
            if deleted >= target:
                break
            versions = model.versions[key]
            live = [uid for uid, payload in versions.items() if payload is not None]
            if not live:
                continue
            if model.random.random() < 0.5:
                tombstone = max(versions) + 1
                self.ok(destroy_header(1, key, tombstone), client=client)
                for uid in live:
                    deleted += len(versions[uid])
                    versions[uid] = None
            else:
                uid = model.random.choice(live)
                self.ok(destroy_header(1, key, new_unified_id(), unified_id_to_delete=uid),
                        client=client)
                deleted += len(versions[uid])
                versions[uid] = None

    def cancelled(self, model, client=None):
        """A started segment that is cancelled: garbage from the start."""
        segment = Segment(key=new_key("cancelled"))
        payload = model.payload(200 * 1024)
        self.ok(segment.start(payload), [payload], client)
        self.ok(segment.cancel(), client=client)
        model.versions[segment.key] = {segment.unified_id: None}
        model.segments[(segment.key, segment.unified_id)] = segment

    def verify(self, model, client=None):
        client = client or self.new_client()
        for (key, uid), segment in sorted(model.segments.items()):
            expected = model.versions[key][uid]
            headers, payloads = client.retrieve(segment, timeout=30)
            if expected is None:
                self.assertEqual(headers[0].get("result"), "not-found",
                                 "deleted %s/%d is readable: %r" % (key, uid, headers[0]))
            else:
                self.assertEqual(headers[-1].get("result"), "success",
                                 "%s/%d: %r" % (key, uid, headers[-1]))
                self.assertTrue(b"".join(payloads) == expected,
                                "%s/%d does not read back byte-identical" % (key, uid))

    def compact(self, ratio=None, client=None, timeout=300):
        header = {"message-type": "compact"}
        if ratio is not None:
            header["garbage-ratio"] = ratio
        reply = (client or self.client).request(header, timeout=timeout)
        self.assertEqual(reply.get("message-type"), "compact-reply", reply)
        self.assertEqual(reply.get("result"), "success", reply)
        return reply

    def run_tool(self, flag):
        command = self.node._command() + [flag]
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=COMMAND_TIMEOUT, cwd=self.workdir)
        return (done.returncode, done.stdout.decode("utf-8", "replace"),
                done.stderr.decode("utf-8", "replace"))

    def check_clean(self):
        code, out, err = self.run_tool("--check")
        self.assertEqual(code, 0, "--check: %s%s" % (out[-3000:], err[-2000:]))

    def restart(self):
        self.node.restart()
        self.client = self.new_client()

    # -- tests --------------------------------------------------------------

    def test_stats_account_each_kind_of_garbage(self):
        """live-bytes and garbage-bytes move with a general tombstone, a
        specific one, a resend and a cancel; value-bytes is their sum."""
        model = Model(1)
        key = new_key("kinds")
        payloads = [model.payload(100 * 1024) for _ in range(4)]
        segments = [self.store(model, key, payload) for payload in payloads]
        self.client.sync()
        before = self.client.stats()
        self.assertEqual(before["garbage-bytes"], 0, before)
        self.assertGreaterEqual(before["live-bytes"], 4 * 100 * 1024)
        steps = [
            ("specific tombstone", lambda: self.ok(destroy_header(
                1, key, new_unified_id(), unified_id_to_delete=segments[3].unified_id))),
            ("general tombstone", lambda: self.ok(destroy_header(
                1, key, segments[1].unified_id + 1))),
            ("resend", lambda: self.ok(segments[2].entire(payloads[2]), [payloads[2]])),
            ("cancel", lambda: self.cancelled(model)),
        ]
        garbage = 0
        for name, step in steps:
            step()
            stats = self.client.stats()
            self.assertGreater(stats["garbage-bytes"], garbage + 100 * 1024 - 1,
                               "%s: garbage did not grow by a record: %r" % (name, stats))
            garbage = stats["garbage-bytes"]
            self.assertEqual(stats["value-bytes"], stats["live-bytes"] + stats["garbage-bytes"])
        for field in ("compactions", "compacted-bytes", "compact-waiting-for-space"):
            self.assertEqual(stats[field], 0, stats)

    def test_compact_request_checks_its_ratio(self):
        for bad in (2, 1.5, -0.1, "0.3", None):
            reply = self.client.request({"message-type": "compact", "garbage-ratio": bad})
            self.assertEqual(reply.get("message-type"), "compact-reply", reply)
            self.assertResult(reply, "invalid-request", "garbage-ratio")
        reply = self.compact(1)
        self.assertEqual(reply.get("files-compacted"), 0, reply)
        self.assertEqual(reply.get("bytes-reclaimed"), 0, reply)
        reply = self.client.request({"message-type": "compact"}, endpoint="reader")
        self.assertResult(reply, "invalid-request", "message-type")

    def test_compact_reclaims_and_keeps_every_live_version(self):
        model = Model(2)
        self.fill(model, WORKLOAD_MIB)
        self.cancelled(model)
        self.delete(model, 0.75)
        # The file being appended to is never compacted: start a new one
        self.restart()
        before = values_bytes(self.node.data_dir)
        stats = self.client.stats()
        self.assertGreater(stats["garbage-bytes"], before * 0.6, stats)

        done = subprocess.run([STRATA, "compact", "--node", self.node.writer],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=COMMAND_TIMEOUT)
        self.assertEqual(done.returncode, 0, done.stderr)
        output = done.stdout.decode()
        self.assertRegex(output, r"compacted [1-9][0-9]* value files, reclaimed [1-9][0-9]* bytes")
        after = values_bytes(self.node.data_dir)
        live = model.live_bytes()
        self.assertLessEqual(after, 1.3 * live,
                             "value files %d bytes for %d live bytes (before: %d)"
                             % (after, live, before))
        stats = self.client.stats()
        self.assertGreater(stats["compactions"], 0, stats)
        self.assertGreaterEqual(stats["compacted-bytes"], before - after - 1, stats)
        self.verify(model)

        self.restart()
        self.verify(model)
        self.assertEqual(self.node.stop(), 0)
        self.check_clean()
        code, out, err = self.run_tool("--rebuild-index")
        self.assertEqual(code, 0, "--rebuild-index: %s%s" % (out[-3000:], err[-2000:]))
        self.check_clean()
        self.node.start(keep_ports=True)
        self.client = self.new_client()
        self.verify(model)
        # The rebuilt index accounts the same: nothing left to reclaim
        stats = self.client.stats()
        self.assertLessEqual(stats["garbage-bytes"], 0.3 * stats["value-bytes"], stats)

    def test_kill_points(self):
        """SIGKILL at each step of a compaction; the restarted node removes
        what it left and serves exactly the same data."""
        model = Model(3)
        for point in ("copy", "before-sync", "before-commit", "before-unlink"):
            self.fill(model, 6, max_kib=512)
            self.delete(model, 0.75)
            self.node.stop()
            self.node.env["STRATA_TEST_COMPACT_KILL"] = point
            self.node.start(keep_ports=True)
            client = self.new_client()
            client.send({"message-type": "compact", "garbage-ratio": 0.0})
            self.assertIsNotNone(self.node.wait(60), "%s: the node was not killed" % point)
            self.assertIn("STRATA_TEST_COMPACT_KILL=%s" % point, self.node.log_text())
            del self.node.env["STRATA_TEST_COMPACT_KILL"]
            self.node.start(keep_ports=True)
            self.client = self.new_client()
            self.verify(model)
            files = glob.glob(os.path.join(self.node.data_dir, "*", "values", "*.val"))
            self.assertEqual(len(files), self.client.stats()["value-files"],
                             "%s: files the index does not name are left" % point)
        # Then a compaction completes
        reply = self.compact(0.0)
        self.assertGreater(reply.get("files-compacted"), 0, reply)
        self.verify(model)
        self.assertEqual(self.node.stop(), 0)
        self.check_clean()
        self.node.start(keep_ports=True)

    def test_sigkill_during_compaction_under_load(self):
        """Rounds of: writes and deletes, a compaction pass started, SIGKILL
        at a random moment while it runs, restart, verify everything."""
        model = Model(4)
        # Slow enough that a pass takes about a second: the kill lands in it
        self.node.config = CONFIG.replace("bytes-per-second = 1073741824",
                                          "bytes-per-second = 8388608")
        self.fill(model, 4)
        for round_number in range(CRASH_ROUNDS):
            self.fill(model, 3)
            self.delete(model, 0.6)
            self.node.stop()
            self.node.start(keep_ports=True)
            client = self.new_client()
            client.send({"message-type": "compact", "garbage-ratio": 0.1})
            # more load while it runs
            loader = self.new_client()
            self.fill(model, 1, client=loader)
            self.delete(model, 0.1, client=loader)
            time.sleep(model.random.random() * 1.5)
            self.node.kill()
            self.node.start(keep_ports=True)
            self.client = self.new_client()
            self.verify(model)
        self.assertEqual(self.node.stop(), 0)
        self.check_clean()
        self.node.start(keep_ports=True)

    def test_disk_nearly_full_waits(self):
        if os.geteuid() != 0:
            self.skipTest("SKIP: mounting a small tmpfs needs root")
        mount = os.path.join(self.workdir, "small")
        os.makedirs(mount)
        size = 3 * FILE_MAX_BYTES + 2 * 1024 * 1024
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d" % size, "tmpfs", mount],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if done.returncode != 0:
            self.skipTest("SKIP: cannot mount a tmpfs here: %s" % done.stderr.decode().strip())
        self.addCleanup(subprocess.run, ["umount", "-l", mount])
        self.node.stop()
        self.node.data_dir = os.path.join(mount, "data")
        # A reserve, so that the index and tombstones still find room
        self.node.config = CONFIG.replace("reserve-bytes = 0", "reserve-bytes = 1048576")
        self.node.start(keep_ports=True)
        self.client = self.new_client()
        model = Model(5)
        # Fill the tmpfs until the node answers out-of-space
        while True:
            key = new_key("full")
            payload = model.payload(256 * 1024)
            segment = Segment(key=key)
            reply = self.client.request(segment.entire(payload), [payload], timeout=30)
            if reply.get("result") != "success":
                self.assertEqual(reply.get("result"), "out-of-space", reply)
                break
            model.versions[key] = {segment.unified_id: payload}
            model.segments[(key, segment.unified_id)] = segment
        # Delete half (specific tombstones) while there is room for them
        for key in sorted(model.versions)[::2]:
            uid, = model.versions[key]
            reply = self.client.request(destroy_header(1, key, new_unified_id(),
                                                       unified_id_to_delete=uid), timeout=30)
            if reply.get("result") != "success":
                self.assertEqual(reply.get("result"), "out-of-space", reply)
                break
            model.versions[key][uid] = None
        reply = self.compact(0.0)
        stats = self.client.stats()
        # Less free than one value file beyond the reserve: it waits
        self.assertEqual(reply.get("files-compacted"), 0, reply)
        self.assertEqual(stats["compact-waiting-for-space"], 1, stats)
        self.assertIn("waiting for space", self.node.log_text())
        self.assertGreater(stats["garbage-bytes"], 0, stats)
        self.verify(model)
        # Never fuller than before: no compaction output was left
        files = glob.glob(os.path.join(self.node.data_dir, "*", "values", "*.val"))
        self.assertEqual(len(files), stats["value-files"], files)
        self.node.stop()
        self.node.data_dir = os.path.join(self.workdir, "data-node01")


class TombstoneGraceTest(CompactionTest):
    """compact/tombstone-grace-seconds = 2: a tombstone is dropped only when
    it is older than that and no record of a version it deletes remains on
    the node; until then a replay of the deleted version (what a handoff
    holder sends after an outage) stays deleted."""

    node_config = CONFIG + "    tombstone-grace-seconds = 2\n"
    test_timeout = 120

    def tombstones(self, key):
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.node.data_dir, "index.db"),
                             uri=True)
        try:
            return db.execute("SELECT COUNT (*) FROM segment WHERE status = 'T' AND key = ?",
                              (key,)).fetchone()[0]
        finally:
            db.close()

    def replay(self, model, key, uid):
        """The deleted version sent again, as a handoff holder replays it"""
        payload = model.payload(64 * 1024)
        segment = Segment(key=key, unified_id=uid, source="node02")
        self.ok(segment.entire(payload), [payload])
        return segment

    def test_tombstone_dropped_only_when_alone_and_old(self):
        model = Model(6)
        key = new_key("grace")
        old = self.store(model, key, model.payload(64 * 1024))
        self.fill(model, 2)
        self.ok(destroy_header(1, key, old.unified_id + 1))
        model.versions[key][old.unified_id] = None
        self.restart()
        # Young: the deleted version's record goes, the tombstone stays
        self.compact(0.0)
        self.assertEqual(self.tombstones(key), 1)
        self.verify(model)
        # A replay within the grace period is deleted at once
        self.replay(model, key, old.unified_id)
        self.verify(model)
        time.sleep(2.5)
        # Old now, but a record it deletes (the replay, in the file being
        # appended to, which no pass takes) is still stored: kept
        self.compact(0.0)
        self.assertEqual(self.tombstones(key), 1)
        self.verify(model)
        # Once the replay's record is gone too, a pass drops it
        self.restart()
        self.compact(0.0)
        self.compact(0.0)
        self.assertEqual(self.tombstones(key), 0, self.node.log_text()[-3000:])
        self.assertIn("tombstones dropped", self.node.log_text())
        # Nothing comes back: not here, not after a restart, not after a rebuild
        self.verify(model)
        self.restart()
        self.verify(model)
        self.assertEqual(self.node.stop(), 0)
        self.check_clean()
        code, out, err = self.run_tool("--rebuild-index")
        self.assertEqual(code, 0, out + err)
        self.node.start(keep_ports=True)
        self.client = self.new_client()
        self.verify(model)

    # The other tests are CompactionTest's; run only the one above here
    test_stats_account_each_kind_of_garbage = None
    test_compact_request_checks_its_ratio = None
    test_compact_reclaims_and_keeps_every_live_version = None
    test_kill_points = None
    test_sigkill_during_compaction_under_load = None
    test_disk_nearly_full_waits = None


if __name__ == "__main__":
    assert os.path.exists(NODE_BINARY), NODE_BINARY
    run_main()
