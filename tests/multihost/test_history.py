"""test_history - the history checker (tests/multihost/history.py) finds
what it must and passes a clean history. No cluster needed."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import history  # noqa: E402


def op(kind, key, start, end, result="success", uid=None, digest=None, versions=None):
    entry = {"op": kind, "key": key, "start": start, "end": end, "result": result,
             "unified-id": uid, "digest": digest, "message": None}
    if versions is not None:
        entry["versions"] = versions
    return entry


class HistoryCheckTest(unittest.TestCase):
    def test_clean(self):
        entries = [op("put", "a", 0, 1, uid=10, digest="x"),
                   op("get", "a", 2, 3, uid=10, digest="x"),
                   op("put", "a", 4, 5, uid=20, digest="y"),
                   op("get", "a", 6, 7, uid=20, digest="y"),
                   op("get", "a", 6, 7, result="unavailable"),
                   op("put", "b", 0, 1, result="timeout", digest="z"),
                   op("get", "b", 0.5, 2, uid=30, digest="z"),
                   op("rm", "a", 8, 9, uid=40),
                   op("get", "a", 10, 11, result="not-found"),
                   op("ls", "a", 10, 11, versions=[]),
                   op("put", "a", 12, 13, uid=50, digest="w"),
                   op("get", "a", 14, 15, uid=50, digest="w")]
        self.assertEqual(history.check(entries), [])

    def test_never_written(self):
        entries = [op("put", "a", 0, 1, uid=10, digest="x"),
                   op("get", "a", 2, 3, uid=10, digest="q")]
        self.assertEqual(len(history.check(entries)), 1)

    def test_lost_put(self):
        entries = [op("put", "a", 0, 1, uid=10, digest="x"),
                   op("get", "a", 2, 3, result="not-found")]
        self.assertIn("not found", history.check(entries)[0])

    def test_older_version(self):
        entries = [op("put", "a", 0, 1, uid=10, digest="x"),
                   op("put", "a", 2, 3, uid=20, digest="y"),
                   op("get", "a", 4, 5, uid=10, digest="x")]
        self.assertIn("older", history.check(entries)[0])

    def test_delete_overlapping_read_is_not_judged(self):
        entries = [op("put", "a", 0, 1, uid=10, digest="x"),
                   op("rm", "a", 2, 6, uid=20),
                   op("get", "a", 3, 4, result="not-found")]
        self.assertEqual(history.check(entries), [])

    def test_deleted_version_comes_back(self):
        entries = [op("put", "a", 0, 1, uid=10, digest="x"),
                   op("rm", "a", 2, 3, uid=20),
                   op("get", "a", 4, 5, uid=10, digest="x"),
                   op("ls", "a", 4, 5, versions=[10])]
        found = history.check(entries)
        self.assertEqual(len(found), 2, found)


if __name__ == "__main__":
    unittest.main(verbosity=2)
