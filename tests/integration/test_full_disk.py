"""Integration test: a really full disk answers out-of-space, never io-error
and never a false success, and everything acknowledged before stays
readable (docs/node.md, "Durability: group commit").

The test mounts small tmpfs filesystems (as root; without the right to
mount it prints one skip line) and unmounts them at the end:

  * reserve-bytes = 0, index and volume on one 24 MiB filesystem: writes of
    256 KiB until the filesystem is full;
  * the index on its own filesystem, fuller than the volumes' (a filler
    file leaves it almost no room), reserve-bytes = 0: every write is
    refused out-of-space naming the index's filesystem, before anything is
    written;
  * the same, filled to the last byte.

Run: /usr/bin/python3 tests/integration/test_full_disk.py
"""

import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from strata_harness import Segment, StrataTestCase, run_main  # noqa: E402

KiB = 1024
MiB = 1024 * KiB


def mount_tmpfs(path, size):
    """Mount a tmpfs of size bytes at path; None, or why it cannot."""
    if os.geteuid() != 0:
        return "not root"
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d,mode=0700" % size,
                             "strata-it", path], capture_output=True, text=True,
                            timeout=30)
    if result.returncode != 0:
        return "mount failed: %s" % (result.stderr.strip() or result.returncode)
    return None


def umount(path):
    subprocess.run(["umount", "-l", path], capture_output=True, timeout=30)


def fill(path, leave):
    """Write a filler file in the filesystem of path so that only about
    `leave` bytes stay free."""
    stat = os.statvfs(path)
    free = stat.f_bavail * stat.f_frsize
    filler = os.path.join(path, "filler")
    with open(filler, "ab") as handle:
        chunk = b"\0" * MiB
        remaining = max(0, free - leave)
        try:
            while remaining > 0:
                handle.write(chunk[:min(len(chunk), remaining)])
                remaining -= min(len(chunk), remaining)
            handle.flush()
        except OSError:
            pass            # full: what the test wants
    return filler


class FullDiskTest(StrataTestCase):
    start_node = False
    test_timeout = 180

    def mount(self, size):
        path = tempfile.mkdtemp(prefix="strata-full-")
        why = mount_tmpfs(path, size)
        if why:
            os.rmdir(path)
            sys.stderr.write("\nSKIP %s: cannot mount a tmpfs (%s)\n" % (self.id(), why))
            self.skipTest("cannot mount a tmpfs: %s" % why)

        def cleanup():
            umount(path)
            os.rmdir(path)
        # after the nodes stop (cleanups run last-in first-out)
        self.addCleanup(cleanup)
        return path

    def start(self, config, data_dir):
        self.node = self.new_node(config=config, data_dir=data_dir)
        self.node.start()
        self.client = self.new_client()

    def write(self, index, size):
        payload = bytes([(index * 7 + 3) % 251]) * size
        segment = Segment(key="full-%d" % index)
        sent = self.client.send(segment.entire(payload), [payload])
        reply, _ = self.client.wait_for(sent["message-id"], 30)
        return segment, payload, reply

    def assertReadable(self, segment, payload):
        headers, payloads = self.client.retrieve(segment, timeout=20)
        self.assertEqual(headers[-1].get("result"), "success", headers[-1])
        self.assertEqual(b"".join(payloads), payload)

    def assertNotStored(self, segment):
        headers, _ = self.client.retrieve(segment, timeout=20)
        self.assertEqual(headers[-1].get("result"), "not-found", headers[-1])

    def test_full_filesystem_with_no_reserve(self):
        disk = self.mount(24 * MiB)
        self.start("node\n    reserve-bytes = 0\n", os.path.join(disk, "data"))
        stored, refused, results = [], [], {}
        for index in range(200):
            segment, payload, reply = self.write(index, 256 * KiB)
            result = reply.get("result")
            results[result] = results.get(result, 0) + 1
            self.assertIn(result, ("success", "out-of-space"),
                          "a full disk answers out-of-space: %r" % (reply,))
            if result == "success":
                stored.append((segment, payload))
            else:
                refused.append(segment)
                if len(refused) >= 10:
                    break
        sys.stderr.write("\nfull disk, reserve 0: %r\n" % (results,))
        self.assertGreater(len(stored), 10, "the disk took some writes first")
        self.assertGreaterEqual(len(refused), 10, "then it was full")
        for segment, payload in stored:
            self.assertReadable(segment, payload)
        for segment in refused:
            self.assertNotStored(segment)
        # small writes too: out-of-space, never io-error
        for index in range(300, 310):
            segment, _, reply = self.write(index, 1)
            self.assertIn(reply.get("result"), ("success", "out-of-space"), reply)
        # The operator makes room (start-up writes to the index), then
        # restarts: everything acknowledged is still there
        subprocess.run(["mount", "-o", "remount,size=%d" % (32 * MiB), disk],
                       check=True, capture_output=True, timeout=30)
        self.node.restart()
        self.client = self.new_client()
        for segment, payload in stored:
            self.assertReadable(segment, payload)
        for segment in refused:
            self.assertNotStored(segment)

    def check_index_fuller(self, leave):
        index_disk = self.mount(16 * MiB)
        volume_disk = self.mount(64 * MiB)
        config = ("node\n    reserve-bytes = 0\n    volumes\n        a = %s\n"
                  % os.path.join(volume_disk, "volume"))
        self.start(config, os.path.join(index_disk, "data"))
        kept = [self.write(index, 64 * KiB) for index in range(5)]
        for _, _, reply in kept:
            self.assertEqual(reply.get("result"), "success", reply)
        filler = fill(index_disk, leave)
        refused = []
        for index in range(10, 20):
            segment, _, reply = self.write(index, 64 * KiB)
            self.assertEqual(reply.get("result"), "out-of-space", reply)
            self.assertIn("index", reply.get("error-message") or "")
            refused.append(segment)
        for segment, payload, _ in kept:
            self.assertReadable(segment, payload)
        for segment in refused:
            self.assertNotStored(segment)
        # room again: writes succeed
        os.unlink(filler)
        segment, payload, reply = self.write(50, 64 * KiB)
        self.assertEqual(reply.get("result"), "success", reply)
        self.assertReadable(segment, payload)
        self.node.restart()
        self.client = self.new_client()
        for segment, payload, _ in kept:
            self.assertReadable(segment, payload)
        for segment in refused:
            self.assertNotStored(segment)

    def test_index_on_a_fuller_filesystem(self):
        self.check_index_fuller(1 * MiB)

    def test_index_filesystem_full_to_the_last_byte(self):
        self.check_index_fuller(0)


if __name__ == "__main__":
    run_main()
