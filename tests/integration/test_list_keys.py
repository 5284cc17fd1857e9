"""Integration tests of listing keys: the node's list-keys (reader endpoint,
proto/PROTOCOL.md), the router's list-keys (cluster/ROUTER.md: the owners'
pages merged into one sorted, paginated listing) and `strata ls`.

10,000 keys with shared prefixes in two collections on a 10-node cluster
(k = 8): bytewise order, pagination across the 1000-key limit, prefixes
that are not valid UTF-8, a key deleted and put again, and the same
listing with two nodes down.

Run: STRATA_BUILD_DIR=build /usr/bin/python3 tests/integration/test_list_keys.py
"""

import os
import sys
import time

import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster_harness import ClusterTestCase, run_main  # noqa: E402

WINDOW = 16                 # puts in flight (the router answers overloaded past its
                            # buffer estimate: those are sent again)


def put_many(client, items):
    """Put every (collection, key, data) of items, WINDOW at a time; return
    {(collection, key): put-reply}."""
    replies = {}
    pending = {}
    items = list(items)
    position = 0
    while position < len(items) or pending:
        while position < len(items) and len(pending) < WINDOW:
            collection, key, data = items[position]
            sent = client.send({"message-type": "put", "collection-id": collection, "key": key},
                               [data])
            pending[sent["request-id"]] = (collection, key, data)
            position += 1
        frames = client.sock.recv_multipart()
        header = msgpack.unpackb(frames[0], raw=False, strict_map_key=False)
        which = pending.pop(header.get("request-id"), None)
        if which is None:
            continue
        if header.get("result") == "overloaded":
            items.append(which)
            continue
        if header.get("result") != "success":
            raise AssertionError("put %r: %r" % (which[:2], header))
        replies[which[:2]] = header
    return replies


class ListKeysTest(ClusterTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        started = time.monotonic()
        cls.expected = {1: {}, 2: {}}
        items = []
        for number in range(4000):
            items.append((1, "dir1/file%05d" % number, b"x"))
        for number in range(3000):
            items.append((1, "dir2/sub/file%05d" % number, b"yy"))
        for number in range(2990):
            items.append((2, "dir1/file%05d" % number, b"zzz"))
        for number in range(10):        # é is c3 a9 in UTF-8
            items.append((2, "caf\u00e9-%d" % number, b"accent"))
        client = cls.cluster.router_client()
        replies = put_many(client, items)
        for (collection, key), reply in replies.items():
            cls.expected[collection][key] = reply
        sys.stderr.write("stored %d keys in %.1f s\n" % (len(items), time.monotonic() - started))

    def ls(self, *args):
        result = self.cluster.strata("ls", "--router", self.cluster.router_endpoint, *args)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout

    def pages(self, collection, limit, prefix=None):
        """Every page of the router's list-keys; returns (pages, entries)."""
        client = self.cluster.router_client()
        pages, entries, start_after = [], [], None
        for _ in range(200):
            header = {"message-type": "list-keys", "collection-id": collection, "limit": limit}
            if prefix is not None:
                header["prefix"] = prefix
            if start_after is not None:
                header["start-after"] = start_after
            reply = client.request(header)[0]
            self.assertEqual(reply["result"], "success", reply)
            pages.append(reply)
            entries += reply["keys"]
            if not reply["truncated"]:
                return pages, entries
            self.assertTrue(reply["keys"], "a truncated page has keys")
            start_after = reply["keys"][-1]["key"]
        self.fail("list-keys did not end")

    def test_1_cli_lists_every_key_in_bytewise_order(self):
        for collection in (1, 2):
            listed = self.ls("--collection", str(collection)).split(b"\n")[:-1]
            wanted = sorted(key.encode() for key in self.expected[collection])
            self.assertEqual(listed, wanted)

    def test_2_pagination_across_the_limit(self):
        pages, entries = self.pages(1, 1000)
        self.assertGreaterEqual(len(pages), 7)
        for page in pages:
            self.assertLessEqual(len(page["keys"]), 1000)
        keys = [entry["key"] for entry in entries]
        self.assertEqual(keys, sorted(self.expected[1]))
        for entry in entries[:50] + entries[-50:]:
            reply = self.expected[1][entry["key"]]
            self.assertEqual(entry["unified-id"], reply["unified-id"])
            self.assertEqual(entry["size"], reply["size"])
            self.assertFalse(entry["deleted"])
        # small pages: every page boundary in a prefix
        _, entries = self.pages(1, 333, prefix="dir2/")
        self.assertEqual([entry["key"] for entry in entries],
                         sorted(key for key in self.expected[1] if key.startswith("dir2/")))

    def test_3_prefixes(self):
        listed = self.ls("--collection", "1", "--prefix", "dir2/sub/file0299").split(b"\n")[:-1]
        self.assertEqual(listed, [b"dir2/sub/file0299%d" % digit for digit in range(10)])
        self.assertEqual(self.ls("--collection", "1", "--prefix", "nothing"), b"")
        self.assertEqual(self.ls("--collection", "99"), b"")
        # collections do not mix
        self.assertEqual(self.ls("--collection", "2", "--prefix", "dir2"), b"")

    def test_4_prefix_that_is_not_utf8(self):
        # "caf\xc3" cuts é (c3 a9) in half: a byte prefix, not a text one
        accent = sorted(key.encode() for key in self.expected[2] if key.startswith("caf"))
        self.assertEqual(len(accent), 10)
        _, entries = self.pages(2, 1000, prefix=b"caf\xc3")
        self.assertEqual([entry["key"].encode() for entry in entries], accent)
        _, entries = self.pages(2, 1000, prefix=b"caf\xc3\xa9-3")
        self.assertEqual([entry["key"] for entry in entries], ["caf\u00e9-3"])
        _, entries = self.pages(2, 1000, prefix=b"caf\xff")
        self.assertEqual(entries, [])
        result = self.cluster.strata("ls", "--router", self.cluster.router_endpoint,
                                     "--collection", "2", "--prefix", os.fsdecode(b"caf\xc3"))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.split(b"\n")[:-1], accent)

    def test_5_deleted_and_put_again(self):
        client = self.cluster.router_client()
        key = "dir1/file00007"
        self.assertEqual(client.delete(key, collection_id=1)["result"], "success")
        listed = self.ls("--collection", "1", "--prefix", "dir1/file0000").split(b"\n")[:-1]
        self.assertNotIn(key.encode(), listed)
        self.assertEqual(len(listed), 9)
        _, entries = self.pages(1, 1000, prefix=key)
        self.assertEqual(len(entries), 1)
        self.assertTrue(entries[0]["deleted"])
        reply = client.put(key, b"again!", collection_id=1)
        self.assertEqual(reply["result"], "success")
        long_lines = self.ls("--collection", "1", "--prefix", key, "-l").split(b"\n")[:-1]
        self.assertEqual(len(long_lines), 1)
        fields = long_lines[0].split(b"\t")
        self.assertEqual(fields[0], key.encode())
        self.assertEqual(int(fields[1]), reply["unified-id"])
        self.assertEqual(fields[2].decode(), reply["timestamp"])
        self.assertEqual(int(fields[3]), 6)
        self.expected[1][key] = reply

    def test_6_node_list_keys(self):
        node = self.cluster.node(2)
        reply = node._request({"message-type": "list-keys", "collection-id": 1, "segment-num": 3,
                               "prefix": "dir2/", "start-after": "dir2/sub/file02990",
                               "limit": 5}, node.reader, 10)
        self.assertEqual(reply["result"], "success", reply)
        self.assertEqual([entry["key"] for entry in reply["keys"]],
                         ["dir2/sub/file0299%d" % digit for digit in range(1, 6)])
        self.assertTrue(reply["truncated"])
        entry = reply["keys"][0]
        self.assertEqual(set(entry), {"key", "unified-id", "timestamp-repr", "file-size", "deleted"})
        # another share's segment-num: nothing of it on this node (tombstones
        # apply whatever their segment-num, so look where nothing was deleted)
        reply = node._request({"message-type": "list-keys", "collection-id": 1, "segment-num": 4,
                               "prefix": "dir2/"}, node.reader, 10)
        self.assertEqual((reply["result"], reply["keys"], reply["truncated"]), ("success", [], False))
        for bad in ({"limit": 0}, {"limit": 1001}, {"prefix": 7}, {"segment-num": 0}):
            header = {"message-type": "list-keys", "collection-id": 1, "segment-num": 3}
            header.update(bad)
            reply = node._request(header, node.reader, 10)
            self.assertEqual(reply["result"], "invalid-request", (bad, reply))
            self.assertIn(list(bad)[0], reply["error-message"])
        reply = node._request({"message-type": "list-keys", "collection-id": 1, "segment-num": 3},
                              node.writer, 10)
        self.assertEqual(reply["result"], "invalid-request")
        self.assertIn("reader endpoint", reply["error-message"])

    def test_7_two_nodes_down(self):
        stopped = [self.cluster.node(3), self.cluster.node(7)]
        for node in stopped:
            node.stop()
        try:
            self.cluster.wait_router(reachable=8)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                reachable = sum(1 for node in self.cluster.router_client().ping()["nodes"]
                                if node["reachable"])
                if reachable == 8:
                    break
                time.sleep(0.2)
            for collection in (1, 2):
                listed = self.ls("--collection", str(collection)).split(b"\n")[:-1]
                self.assertEqual(listed, sorted(key.encode() for key in self.expected[collection]))
            # a third node down: fewer than k owners answer
            third = self.cluster.node(5)
            third.stop()
            try:
                deadline = time.monotonic() + 30
                result = None
                while time.monotonic() < deadline:
                    result = self.cluster.strata("ls", "--router", self.cluster.router_endpoint)
                    if result.returncode != 0:
                        break
                    time.sleep(0.3)
                self.assertEqual(result.returncode, 1, result.stdout[:200])
                self.assertIn(b"unavailable", result.stderr)
            finally:
                third.start()
        finally:
            for node in stopped:
                node.start()
            self.cluster.wait_router()


if __name__ == "__main__":
    run_main()
