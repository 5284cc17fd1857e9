"""Integration tests: injected I/O failures (issue 5, "I/O failure handling").

strata-node runs with the fault shim preloaded (tests/fault/fault_shim.c,
LD_PRELOAD=libstrata_fault.so); each test rewrites the shim's control file
to make chosen calls fail and asserts the exact replies, that nothing
unacknowledged becomes visible, that reads keep working during the fault,
and that the node keeps serving (and writing, on a fresh value file) once
the fault is gone:

    ENOSPC from the value-file write, and no free space from statvfs
        -> out-of-space; nothing stored; writes succeed once space frees
    EIO from the value-file write (also a torn half-written record whose
        undo fails) -> io-error; the file is retired, the next write uses a
        new one; a crash afterwards is recovered
    EIO from fdatasync of a value file -> every request of the batch gets
        io-error, none becomes readable, the failed file is never synced
        again, later writes go to a fresh file
    EIO from SQLite's write or sync of the index -> io-error; the node keeps
        serving, across a restart and a crash

Run: /usr/bin/python3 tests/integration/test_faults.py
"""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import strata_harness  # noqa: E402
from strata_harness import (  # noqa: E402
    NODE_BINARY, Segment, StrataTestCase, destroy_header, new_unified_id,
    run_main,
)
from test_crash import run_check  # noqa: E402

SHIM_PATH = os.path.join(strata_harness.BUILD_DIR, "tests", "fault", "libstrata_fault.so")

MiB = 1024 * 1024
RESERVE_BYTES = 64 * MiB        # node/reserve-bytes default


def payload_of(size, seed=0):
    """Deterministic bytes, different per seed."""
    block = bytes(((index * 131 + seed * 7919 + (index >> 8)) & 0xFF)
                  for index in range(min(size, 65536)))
    return (block * (size // len(block) + 1))[:size] if size else b""


def preload_value(binary=NODE_BINARY, shim=SHIM_PATH):
    """LD_PRELOAD for strata-node: the shim, after the AddressSanitizer
    runtime when the node is a sanitized build (ASan insists on being the
    first library loaded)."""
    libraries = [shim]
    try:
        text = subprocess.run(["ldd", binary], capture_output=True, text=True,
                              timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        text = ""
    for line in text.splitlines():
        match = re.search(r"(libasan\.so\S*)\s+=>\s+(\S+)", line)
        if match:
            libraries.insert(0, match.group(2))
    return ":".join(libraries)


class FaultControl:
    """The shim's control file and log in a test's work directory."""

    def __init__(self, workdir):
        self.path = os.path.join(workdir, "fault.control")
        self.log_path = os.path.join(workdir, "fault.log")
        self.set("off")

    def env(self):
        return {
            "LD_PRELOAD": preload_value(),
            "STRATA_FAULT_CONTROL": self.path,
            "STRATA_FAULT_LOG": self.log_path,
        }

    def set(self, *lines):
        """Replace the rules (atomically: the shim notices every change)."""
        temporary = self.path + ".tmp"
        with open(temporary, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        os.replace(temporary, self.path)

    def off(self):
        self.set("off")

    def log(self):
        try:
            with open(self.log_path) as handle:
                return handle.read().splitlines()
        except OSError:
            return []

    def faults(self, op=None):
        """Log lines of injected failures ("fault OP ERRNO PATH")."""
        return [line for line in self.log()
                if line.startswith("fault ") and (op is None or line.split()[1] == op)]


def check_shim_built(test):
    if not os.path.exists(SHIM_PATH):
        test.fail("fault shim not built at %s (target strata_fault)" % SHIM_PATH)


class FaultTestCase(StrataTestCase):
    """A node with the fault shim preloaded (self.faults controls it)."""

    start_node = False
    test_timeout = 90

    def setUp(self):
        super().setUp()
        check_shim_built(self)
        self.faults = FaultControl(self.workdir)
        env = dict(self.node_env)
        env.update(self.faults.env())
        self.node = self.new_node(env=env)
        self.node.start()
        self.client = self.new_client()

    # -- helpers ----------------------------------------------------------

    def archive(self, header, frames, result="success", client=None, field=None):
        client = client or self.client
        sent, reply = self.exchange(header, frames, client=client, timeout=15)
        self.assertResult(reply, result, field)
        self.assertEchoes(reply, sent)
        return reply

    def entire(self, size=4096, seed=None, result="success", client=None):
        segment = Segment()
        payload = payload_of(size, seed if seed is not None else segment.unified_id % 1000)
        reply = self.archive(segment.entire(payload), [payload], result, client)
        return segment, payload, reply

    def assertReadable(self, segment, payloads, client=None):
        client = client or self.client
        headers, got = client.retrieve(segment, timeout=10)
        self.assertEqual(headers[-1].get("result"), "success",
                         "retrieve of %s failed: %r" % (segment.key, headers[-1]))
        self.assertEqual(len(got), len(payloads))
        for index, (want, have) in enumerate(zip(payloads, got)):
            self.assertEqual(have, want, "payload of sequence %d differs" % index)

    def assertNotFound(self, segment, client=None):
        client = client or self.client
        headers, _ = client.retrieve(segment, timeout=10)
        self.assertEqual(headers[-1].get("result"), "not-found",
                         "%s must not be readable: %r" % (segment.key, headers[-1]))

    def stat(self, name):
        return self.client.stats()[name]

    def value_files_on_disk(self):
        directory = os.path.join(self.node.data_dir, "volume0", "values")
        return len([name for name in os.listdir(directory) if name.endswith(".val")])

    def restart_after_kill(self):
        self.node.kill()
        self.node.start()
        self.client = self.new_client()

    def check_clean(self):
        """Stop the node (exit 0) and require `strata-node --check` clean."""
        self.faults.off()
        self.assertEqual(self.node.stop(), 0)
        checked = run_check(self.node)
        if checked is not None:
            code, output = checked
            self.assertEqual(code, 0, "strata-node --check after the fault:\n%s"
                             % output[-4000:])


# --------------------------------------------------------------------------
#   Out of space

class OutOfSpaceTest(FaultTestCase):

    def test_enospc_on_write_is_out_of_space_and_nothing_is_stored(self):
        kept, kept_payload, _ = self.entire()
        before = self.client.stats()
        files_before = self.value_files_on_disk()
        self.faults.set("write ENOSPC always")
        refused = []
        for _ in range(3):
            segment, payload, reply = self.entire(result="out-of-space")
            refused.append(segment)
        # a multi-sequence start is refused the same way; its next is unknown
        started = Segment()
        first = payload_of(3000, 1)
        self.archive(started.start(first), [first], "out-of-space")
        self.archive(started.next(first, 1), [first], "unknown-segment")
        # reads and service messages keep working during the fault
        self.assertReadable(kept, [kept_payload])
        self.assertEqual(self.client.ping().get("result"), "success")
        after = self.client.stats()
        self.assertEqual(after["bytes-stored"], before["bytes-stored"])
        self.assertEqual(after["results"]["out-of-space"],
                         before["results"]["out-of-space"] + 4)
        for segment in refused:
            self.assertNotFound(segment)
        self.assertTrue(self.faults.faults("write"), "the shim injected no ENOSPC")
        self.assertIn("ENOSPC", self.faults.faults("write")[0])
        # the full file is retired; the new one, still empty, is tried again
        # by each request (not one more empty file per refused request)
        self.assertLessEqual(self.value_files_on_disk(), files_before + 1)

        # space frees: writes succeed again, and stay
        self.faults.off()
        fresh, fresh_payload, _ = self.entire(size=20000)
        again = Segment()
        self.archive(again.start(first), [first])
        self.archive(again.final(first, 1), [first])
        self.assertReadable(fresh, [fresh_payload])
        self.assertReadable(again, [first, first])
        self.assertEqual(self.stat("bytes-stored"),
                         before["bytes-stored"] + 20000 + 2 * len(first))
        for segment in refused:
            self.assertNotFound(segment)
        self.node.restart()
        self.client = self.new_client()
        self.assertReadable(kept, [kept_payload])
        self.assertReadable(fresh, [fresh_payload])
        for segment in refused:
            self.assertNotFound(segment)
        self.check_clean()

    def test_no_free_space_from_statvfs_is_out_of_space(self):
        kept, kept_payload, _ = self.entire()
        before = self.client.stats()
        self.faults.set("statvfs free=0")
        segment, _, reply = self.entire(result="out-of-space")
        self.assertIn("no volume has room", reply["error-message"])
        self.assertNotFound(segment)
        self.assertReadable(kept, [kept_payload])
        after = self.client.stats()
        self.assertEqual(after["bytes-stored"], before["bytes-stored"])
        self.assertEqual(after["value-files"], before["value-files"],
                         "no value file may be created without space")
        self.assertEqual(self.faults.faults("write"), [],
                         "nothing may be written without space")

        # room for the reserve and a little more: small writes fit, big don't
        self.faults.set("statvfs free=%d" % (RESERVE_BYTES + 200 * 1024))
        small, small_payload, _ = self.entire(size=8192)
        big, _, reply = self.entire(size=MiB, result="out-of-space")
        self.assertIn("no volume has room", reply["error-message"])
        self.assertReadable(small, [small_payload])
        self.assertNotFound(big)

        self.faults.off()
        big, big_payload, _ = self.entire(size=MiB)
        self.assertReadable(big, [big_payload])
        self.assertNotFound(segment)
        self.check_clean()


# --------------------------------------------------------------------------
#   EIO on write

class WriteErrorTest(FaultTestCase):

    def test_eio_on_write_retires_the_file_and_the_next_write_succeeds(self):
        kept, kept_payload, _ = self.entire()
        files_before = self.stat("value-files")
        bytes_before = self.stat("bytes-stored")
        self.faults.set("write EIO 1")
        failed, _, reply = self.entire(result="io-error")
        self.assertIn("write failed", reply["error-message"])
        self.assertEqual(len(self.faults.faults("write")), 1)
        self.assertNotFound(failed)
        # the next write succeeds, on a new value file
        fresh, fresh_payload, _ = self.entire()
        self.assertEqual(self.stat("value-files"), files_before + 1,
                         "the failed file must be retired for a new one")
        self.assertEqual(self.stat("bytes-stored"), bytes_before + len(fresh_payload))
        self.assertReadable(kept, [kept_payload])
        self.assertReadable(fresh, [fresh_payload])
        self.assertNotFound(failed)
        self.node.restart()
        self.client = self.new_client()
        self.assertReadable(kept, [kept_payload])
        self.assertReadable(fresh, [fresh_payload])
        self.assertNotFound(failed)
        self.check_clean()

    def test_reads_work_while_every_write_fails(self):
        kept = []
        for seed in range(5):
            segment, payload, _ = self.entire(seed=seed)
            kept.append((segment, payload))
        files_before = self.value_files_on_disk()
        self.faults.set("write EIO always")
        failed = []
        for _ in range(4):
            segment, _, _ = self.entire(result="io-error")
            failed.append(segment)
            for segment_kept, payload in kept:
                self.assertReadable(segment_kept, [payload])
        self.assertLessEqual(self.value_files_on_disk(), files_before + 1)
        # a delete that cannot be written is not applied
        target, payload = kept[0]
        self.archive(destroy_header(target.collection_id, target.key, new_unified_id(),
                                    unified_id_to_delete=target.unified_id), [], "io-error")
        self.assertReadable(target, [payload])
        self.faults.off()
        for segment in failed:
            self.assertNotFound(segment)
        fresh, fresh_payload, _ = self.entire()
        self.assertReadable(fresh, [fresh_payload])
        self.archive(destroy_header(target.collection_id, target.key, new_unified_id(),
                                    unified_id_to_delete=target.unified_id), [])
        self.assertNotFound(target)
        self.check_clean()

    def test_torn_write_whose_undo_fails_is_cut_by_recovery(self):
        kept, kept_payload, _ = self.entire(size=50000)
        self.faults.set("write EIO 1 partial", "ftruncate EIO 1")
        failed, _, reply = self.entire(size=50000, result="io-error")
        log = self.faults.log()
        self.assertTrue(any(line.startswith("partial write") for line in log), log)
        self.assertEqual(len(self.faults.faults("ftruncate")), 1, log)
        self.faults.off()
        fresh, fresh_payload, _ = self.entire(size=30000)
        self.assertReadable(kept, [kept_payload])
        self.assertReadable(fresh, [fresh_payload])
        self.assertNotFound(failed)
        # the first file keeps half a record past what was synced: a crash
        # now leaves it open, and recovery must cut the torn tail
        torn_path = self.faults.faults("write")[0].split()[-1]
        torn_size = os.path.getsize(torn_path)
        self.restart_after_kill()
        log_text = self.node.log_text()
        self.assertIn("recovery:", log_text)
        self.assertLess(os.path.getsize(torn_path), torn_size,
                        "recovery did not cut the torn record")
        self.assertReadable(kept, [kept_payload])
        self.assertReadable(fresh, [fresh_payload])
        self.assertNotFound(failed)
        again, again_payload, _ = self.entire()
        self.assertReadable(again, [again_payload])
        self.check_clean()


    def test_torn_write_whose_undo_fails_then_clean_stop(self):
        # the torn half record stays past the synced size of a file the
        # clean stop marks closed: unreferenced bytes, which neither the next
        # start nor --check may take for data
        kept, kept_payload, _ = self.entire(size=50000)
        self.faults.set("write EIO 1 partial", "ftruncate EIO 1")
        failed, _, _ = self.entire(size=50000, result="io-error")
        self.faults.off()
        fresh, fresh_payload, _ = self.entire(size=30000)
        self.check_clean()
        self.node.start()
        self.client = self.new_client()
        self.assertReadable(kept, [kept_payload])
        self.assertReadable(fresh, [fresh_payload])
        self.assertNotFound(failed)
        self.check_clean()


# --------------------------------------------------------------------------
#   EIO on fdatasync: the whole batch fails

class SyncErrorTest(FaultTestCase):
    """A slowed sync (STRATA_TEST_SYNC_DELAY_MS) lets several requests from
    several senders queue up behind one commit, so they share the next one;
    a long group-commit delay keeps a slow machine from splitting them."""

    node_env = {"STRATA_TEST_SYNC_DELAY_MS": "300"}
    node_config = "node\n    group-commit-delay-us = 2000000\n"

    def test_failed_fdatasync_fails_every_request_of_the_batch(self):
        kept, kept_payload, _ = self.entire()
        already = Segment()         # finished before the fault: a delete of it fails
        already_payload = payload_of(2000, 9)
        self.archive(already.entire(already_payload), [already_payload])
        before = self.client.stats()
        self.faults.set("fdatasync EIO 1", "trace")

        senders = [self.new_client() for _ in range(4)]
        primer = self.client.send({"message-type": "sync-value-file"})
        time.sleep(0.1)             # the writer now sleeps in the primer's commit
        batch = []                  # (client, message-id, segment, payloads)
        for index in range(8):
            client = senders[index % 4]
            segment = Segment()
            payload = payload_of(4096, index)
            sent = client.send(segment.entire(payload), [payload])
            batch.append((client, sent["message-id"], segment))
        multi = Segment()
        parts = [payload_of(5000, 20), payload_of(5000, 21)]
        sent_start = senders[0].send(multi.start(parts[0]), [parts[0]])
        sent_next = senders[0].send(multi.next(parts[1], 1), [parts[1]])
        tombstone = new_unified_id()
        sent_destroy = senders[1].send(destroy_header(
            already.collection_id, already.key, tombstone,
            unified_id_to_delete=already.unified_id))

        reply, _ = self.client.wait_for(primer["message-id"], 15)
        self.assertResult(reply, "success")
        owed = [(client, message_id) for client, message_id, _ in batch]
        owed += [(senders[0], sent_start["message-id"]), (senders[0], sent_next["message-id"]),
                 (senders[1], sent_destroy["message-id"])]
        for client, message_id in owed:
            reply, _ = client.wait_for(message_id, 15)
            self.assertResult(reply, "io-error")
            self.assertIn("sync failed", reply["error-message"])
        faults = self.faults.faults("fdatasync")
        self.assertEqual(len(faults), 1, faults)
        failed_path = faults[0].split()[-1]

        # nothing of the batch is visible; what was acknowledged before is
        for _, _, segment in batch:
            self.assertNotFound(segment)
        self.assertReadable(kept, [kept_payload])
        self.assertReadable(already, [already_payload])
        after = self.client.stats()
        self.assertEqual(after["sync-failures"], before["sync-failures"] + 1)
        self.assertEqual(after["bytes-stored"], before["bytes-stored"])
        self.assertEqual(after["results"]["io-error"], before["results"]["io-error"] + len(owed))
        # the in-memory view of active segments was reloaded: the start
        # is gone, so its next is unknown and a new start is accepted
        self.archive(multi.next(parts[1], 1), [parts[1]], "unknown-segment")
        self.archive(multi.start(parts[0]), [parts[0]])
        self.archive(multi.final(parts[1], 1), [parts[1]])
        self.assertReadable(multi, parts)

        # later writes succeed on a fresh file; the failed one is never synced again
        fresh, fresh_payload, _ = self.entire()
        self.assertReadable(fresh, [fresh_payload])
        self.assertGreater(self.stat("value-files"), before["value-files"])
        log = self.faults.log()
        fault_at = log.index(faults[0])
        later_syncs = [line for line in log[fault_at + 1:] if line.startswith("call fdatasync")]
        self.assertTrue(later_syncs, "no fdatasync after the failure: %r" % log)
        self.assertFalse([line for line in later_syncs if failed_path in line],
                         "the file whose fdatasync failed was synced again: %r" % log)

        # and nothing of the failed batch appears after a crash either
        self.faults.off()
        self.restart_after_kill()
        for _, _, segment in batch:
            self.assertNotFound(segment)
        self.assertReadable(kept, [kept_payload])
        self.assertReadable(already, [already_payload])
        self.assertReadable(multi, parts)
        self.assertReadable(fresh, [fresh_payload])
        self.check_clean()


    def test_failed_write_in_a_batch_fails_only_that_request(self):
        kept, kept_payload, _ = self.entire()
        self.faults.set("write EIO 1 skip=2")
        primer = self.client.send({"message-type": "sync-value-file"})
        time.sleep(0.1)
        batch = []
        for index in range(6):
            segment = Segment()
            payload = payload_of(4096, 30 + index)
            sent = self.client.send(segment.entire(payload), [payload])
            batch.append((sent["message-id"], segment, payload))
        reply, _ = self.client.wait_for(primer["message-id"], 15)
        self.assertResult(reply, "success")
        results = []
        for message_id, _, _ in batch:
            reply, _ = self.client.wait_for(message_id, 15)
            results.append(reply.get("result"))
        # one sender: processed in order, so the third write is the one that failed
        self.assertEqual(results, ["success", "success", "io-error", "success",
                                   "success", "success"])
        self.assertEqual(len(self.faults.faults("write")), 1)
        for (_, segment, payload), result in zip(batch, results):
            if result == "success":
                self.assertReadable(segment, [payload])
            else:
                self.assertNotFound(segment)
        self.faults.off()
        self.restart_after_kill()
        self.assertReadable(kept, [kept_payload])
        for (_, segment, payload), result in zip(batch, results):
            if result == "success":
                self.assertReadable(segment, [payload])
            else:
                self.assertNotFound(segment)
        self.check_clean()


class RolloverSyncErrorTest(FaultTestCase):
    """A batch that spans several value files (small value-file-max-bytes):
    the sync of one of them fails, and the whole batch fails."""

    node_env = {"STRATA_TEST_SYNC_DELAY_MS": "300"}
    node_config = ("node\n    group-commit-delay-us = 2000000\n"
                   "    value-file-max-bytes = 65536\n")

    def test_failed_sync_of_one_file_fails_the_batch_across_files(self):
        kept, kept_payload, _ = self.entire()
        files_before = self.stat("value-files")
        self.faults.set("fdatasync EIO 1 skip=1", "trace")
        primer = self.client.send({"message-type": "sync-value-file"})
        time.sleep(0.1)
        batch = []
        for index in range(8):
            segment = Segment()
            payload = payload_of(20000, 40 + index)
            sent = self.client.send(segment.entire(payload), [payload])
            batch.append((sent["message-id"], segment))
        reply, _ = self.client.wait_for(primer["message-id"], 15)
        self.assertResult(reply, "success")
        for message_id, _ in batch:
            reply, _ = self.client.wait_for(message_id, 15)
            self.assertResult(reply, "io-error")
        log = self.faults.log()
        synced = [line for line in log if line.startswith("call fdatasync")]
        self.assertGreaterEqual(len(synced), 1, "the batch should span several files: %r" % log)
        self.assertEqual(len(self.faults.faults("fdatasync")), 1, log)
        for _, segment in batch:
            self.assertNotFound(segment)
        self.assertReadable(kept, [kept_payload])
        fresh, fresh_payload, _ = self.entire(size=20000)
        self.assertReadable(fresh, [fresh_payload])
        self.assertGreater(self.stat("value-files"), files_before)
        self.faults.off()
        self.restart_after_kill()
        for _, segment in batch:
            self.assertNotFound(segment)
        self.assertReadable(kept, [kept_payload])
        self.assertReadable(fresh, [fresh_payload])
        self.check_clean()


# --------------------------------------------------------------------------
#   SQLite (index) failures

class IndexErrorTest(FaultTestCase):

    def check_index_fault(self, rule, after_fault):
        kept, kept_payload, _ = self.entire()
        self.faults.set(rule)
        failed, failed_payload, reply = self.entire(result="io-error")
        self.assertIn("index", reply["error-message"])
        self.assertTrue(self.faults.faults(), "the shim injected nothing for %r" % rule)
        self.assertTrue(all("index.db" in line for line in self.faults.faults()))
        self.assertNotFound(failed)
        self.assertReadable(kept, [kept_payload])
        self.faults.off()
        fresh, fresh_payload, _ = self.entire()
        self.assertReadable(fresh, [fresh_payload])
        self.assertNotFound(failed)
        after_fault()
        self.assertReadable(kept, [kept_payload])
        self.assertReadable(fresh, [fresh_payload])
        return failed, failed_payload

    def restart_clean(self):
        self.node.restart()
        self.client = self.new_client()

    def test_index_fsync_failure(self):
        failed, _ = self.check_index_fault("fdatasync EIO 1 match=index.db", self.restart_clean)
        self.assertNotFound(failed)
        self.check_clean()

    def test_index_write_failure(self):
        failed, _ = self.check_index_fault("write EIO 1 match=index.db-wal", self.restart_clean)
        self.assertNotFound(failed)
        self.check_clean()

    def test_index_fsync_failure_then_crash(self):
        failed, _ = self.check_index_fault("fdatasync EIO 1 match=index.db",
                                           self.restart_after_kill)
        self.assertNotFound(failed)
        self.check_clean()

    def test_crash_right_after_index_fsync_failure(self):
        # SQLite wrote the failed transaction's WAL frames before their sync
        # failed. A crash before the next commit overwrites them leaves them
        # whole in the file (the page cache outlives the process), and WAL
        # recovery then finds the transaction: a write answered io-error can
        # reappear. Never as a success reply, and never broken: its value
        # record was synced before the index commit, so if it shows up it
        # must be byte-identical.
        kept, kept_payload, _ = self.entire()
        self.faults.set("fdatasync EIO 1 match=index.db")
        failed, failed_payload, reply = self.entire(result="io-error")
        self.assertIn("index", reply["error-message"])
        self.faults.off()
        self.restart_after_kill()
        self.assertReadable(kept, [kept_payload])
        headers, got = self.client.retrieve(failed, timeout=10)
        result = headers[-1].get("result")
        self.assertIn(result, ("not-found", "success"), headers[-1])
        if result == "success":
            self.assertEqual(got, [failed_payload])
        fresh, fresh_payload, _ = self.entire()
        self.assertReadable(fresh, [fresh_payload])
        self.check_clean()

    def test_index_failing_repeatedly_then_recovering(self):
        kept, kept_payload, _ = self.entire()
        self.faults.set("fdatasync EIO always match=index.db")
        failed = [self.entire(result="io-error")[0] for _ in range(5)]
        self.assertReadable(kept, [kept_payload])
        self.assertEqual(self.client.ping().get("result"), "success")
        self.faults.off()
        fresh = [self.entire() for _ in range(3)]
        for segment, payload, _ in fresh:
            self.assertReadable(segment, [payload])
        for segment in failed:
            self.assertNotFound(segment)
        self.restart_clean()
        self.assertReadable(kept, [kept_payload])
        for segment, payload, _ in fresh:
            self.assertReadable(segment, [payload])
        for segment in failed:
            self.assertNotFound(segment)
        self.check_clean()


if __name__ == "__main__":
    run_main()
