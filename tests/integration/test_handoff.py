"""Integration tests of hinted handoff on a real cluster (cluster/ROUTER.md,
"Hinted handoff"; docs/architecture.md, "Handoff"): ten strata-node processes and the
router on loopback, k = 8.

    HandoffTest         (steps in order, one cluster)
      a  two nodes stopped (SIGTERM): 100 objects of 0 B .. 25 MiB (some of
         several slices, one streamed) are put and 15 deleted; all succeed
         and read back with the two still down; the holders' index.db has
         the handoff copies (segments and tombstones) for the absent owners
         and the router's ping counts the handoff writes
      b  a handoff holder stopped too (7 of 10 reachable): puts and deletes
         are refused `unavailable` saying how many nodes are reachable;
         reads rebuild from the owners plus the other holders' copies
      c  the two nodes back: every node's stats shows zero pending handoffs
         within 60 s (skipped, saying so, if the node build has no handoff
         forwarder: no `handoff` map in stats)
      d  the owners' index.db has their shares and tombstones (no handoff
         name); two other nodes stopped: every object reads back, the
         deleted ones stay deleted
    HandoffKillTest     a node killed in the middle of a put: the router
                        cancels that attempt everywhere and sends the put
                        again with handoff copies for it; the put succeeds

Run: STRATA_BUILD_DIR=/work/main/build /usr/bin/python3 tests/integration/test_handoff.py
"""

import os
import signal
import sqlite3
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster_harness import (  # noqa: E402
    NODE_BINARY, ROUTER_BINARY, ClusterTestCase, md5_b64, new_key, payload, run_main,
)

MIB = 1024 * 1024
SLICE = 10 * MIB
DRAIN_TIMEOUT = 60.0

ROUTER_SETTINGS = {"node-timeout-ms": 3000, "ping-interval-ms": 200}

# 100 objects: mostly small, some of one and several slices
SIZES = ([25 * MIB, SLICE + 1, 2 * SLICE + 12345, 3 * MIB, 3 * MIB + 7, MIB]
         + [0, 1, 7, 100, 1000, 4096, 32767, 32768, 32769, 65536, 100000, 250000] * 7
         + [13, 999, 31 * 1024, 70000, 4095, 12345, 200000, 2, 3, 4])
assert len(SIZES) == 100
DELETED_EVERY = 7           # objects 0, 7, 14, ... are deleted (15 of them)


def index_query(node, sql, args=()):
    """Rows of a read-only query on the node's index.db."""
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(node.data_dir, "index.db"),
                         uri=True, timeout=10)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def unified_id(stored):
    """The protocol's unified-id of an index.db unified_id column (stored
    with its top bit flipped, as a signed integer: node/store/schema.sql)."""
    return (stored & 0xFFFFFFFFFFFFFFFF) ^ (1 << 63)


def handoff_rows(node, owner, status):
    """(key, unified-id) of the copies node holds for owner, of a status
    ('F' finished segments, 'T' tombstones)."""
    rows = index_query(
        node, "SELECT s.key, s.unified_id FROM segment s JOIN node_name n ON n.id = s.handoff_node_id "
        "WHERE n.name = ? AND s.status = ?", (owner, status))
    return [(key, unified_id(stored)) for key, stored in rows]


def forwarder_running(stats):
    """True if a node's stats show a running handoff forwarder."""
    return bool(stats and isinstance(stats.get("handoff"), dict) and stats["handoff"].get("running"))


class HandoffCase(ClusterTestCase):
    router_settings = ROUTER_SETTINGS

    def setUp(self):
        self.client = self.cluster.router_client(timeout=60)

    def assertResult(self, reply, result, text=None):
        self.assertEqual(reply.get("result"), result, "reply: %r" % (reply,))
        if result != "success":
            self.assertTrue(reply.get("error-message"), reply)
            if text is not None:
                self.assertIn(text, reply["error-message"], reply)

    def wait_reachable(self, count, timeout=20):
        """Until the router reports exactly count nodes reachable."""
        deadline = time.monotonic() + timeout
        reply = None
        while time.monotonic() < deadline:
            reply = self.client.ping()
            if sum(1 for node in reply["nodes"] if node["reachable"]) == count:
                return
            time.sleep(0.1)
        self.fail("router does not report %d reachable nodes: %r" % (count, reply))

    def check_object(self, key, data):
        first, got = self.client.get(key)
        self.assertResult(first, "success")
        self.assertEqual(first["size"], len(data))
        self.assertEqual(first["file-hash"], md5_b64(data))
        self.assertTrue(got == data, "object %s of %d bytes differs" % (key, len(data)))

    def check_deleted(self, key):
        reply, got = self.client.get(key)
        self.assertResult(reply, "not-found")
        self.assertIsNone(got)


class HandoffTest(HandoffCase):
    """The steps share the cluster and build on each other (run in name
    order)."""

    ABSENT = (2, 5)             # node03, node06
    HOLDERS = {2: (3, 4), 5: (6, 7)}    # the next two reachable nodes after each
    objects = {}                # key -> data, live objects
    versions = {}               # key -> unified-id
    deleted = []                # keys deleted
    drained = False

    def stream(self, key, data, chunk=4 * MIB):
        reply, _ = self.client.request({"message-type": "put-start", "key": key})
        self.assertResult(reply, "success")
        upload = reply["upload-id"]
        for offset in range(0, len(data), chunk):
            reply, _ = self.client.request({"message-type": "put-data", "upload-id": upload},
                                           [data[offset:offset + chunk]])
            self.assertResult(reply, "success")
        reply, _ = self.client.request({"message-type": "put-finish", "upload-id": upload})
        self.assertResult(reply, "success")
        return reply

    def test_a_writes_with_two_nodes_down(self):
        cls = type(self)
        for index in self.ABSENT:
            self.assertEqual(self.cluster.node(index).stop(), 0)
        self.wait_reachable(8)
        before = self.client.ping().get("handoff-writes", 0)
        for number, size in enumerate(SIZES):
            key = new_key("handoff-%03d-%d" % (number, size))
            data = payload(size, seed=1000 + number)
            reply = self.stream(key, data) if number == 4 else self.client.put(key, data)
            self.assertResult(reply, "success")
            self.assertEqual(reply["file-hash"], md5_b64(data))
            cls.objects[key] = data
            cls.versions[key] = reply["unified-id"]
        keys = list(cls.objects)
        for number in range(0, len(keys), DELETED_EVERY):
            key = keys[number]
            # every other one deletes just the version, the others the key
            extra = {"unified_id": cls.versions[key]} if number % 2 else {}
            self.assertResult(self.client.delete(key, **extra), "success")
            cls.deleted.append(key)
            del cls.objects[key]
        self.assertEqual(len(cls.deleted), 15)
        self.assertEqual(self.client.ping()["handoff-writes"], before + 100 + 15)

        # every object reads back with the two still down; deleted ones not
        for key, data in cls.objects.items():
            self.check_object(key, data)
        for key in cls.deleted:
            self.check_deleted(key)

        # the holders have the copies: every version and every tombstone
        for absent, holders in self.HOLDERS.items():
            owner = self.cluster.node(absent).name
            for holder in holders:
                node = self.cluster.node(holder)
                finished = handoff_rows(node, owner, "F")
                tombstones = handoff_rows(node, owner, "T")
                self.assertEqual(sorted(finished), sorted(cls.versions.items()),
                                 "%s holds no copy of some of %s's shares" % (node.name, owner))
                self.assertEqual(sorted(key for key, _ in tombstones), sorted(cls.deleted))
                rows = index_query(node, "SELECT DISTINCT s.segment_num FROM segment s JOIN node_name n "
                                   "ON n.id = s.handoff_node_id WHERE n.name = ?", (owner,))
                self.assertEqual(rows, [(absent + 1,)])
                # with a forwarder, its stats count them (published every
                # handoff/interval-ms, so give them a moment)
                stats = node.stats()
                deadline = time.monotonic() + 5
                while forwarder_running(stats) and time.monotonic() < deadline:
                    held = stats["handoff"]["owners"].get(owner, {}).get("held")
                    if held == 100 + 15:
                        break
                    time.sleep(0.2)
                    stats = node.stats()
                if forwarder_running(stats):
                    self.assertEqual(stats["handoff"]["owners"][owner]["held"], 100 + 15,
                                     "%s: %r" % (node.name, stats["handoff"]))
        # the nodes that are not holders hold nothing for anyone
        for index in (0, 1, 8, 9):
            rows = index_query(self.cluster.node(index),
                               "SELECT COUNT(*) FROM segment WHERE handoff_node_id IS NOT NULL")
            self.assertEqual(rows, [(0,)], self.cluster.node(index).name)

    def test_b_holders_down_too(self):
        self.assertTrue(self.objects, "step a did not run")
        holder = self.cluster.node(3)               # holds node03's share
        self.assertEqual(holder.stop(), 0)
        self.wait_reachable(7)
        try:
            reply = self.client.put(new_key("refused"), b"data")
            self.assertResult(reply, "unavailable", "only 7 of 10 nodes are reachable")
            self.assertIn("node03, node04, node06", reply["error-message"])
            self.assertIn("at least 8", reply["error-message"])
            reply, _ = self.client.request({"message-type": "put-start", "key": new_key("refused")})
            self.assertResult(reply, "unavailable", "only 7 of 10")
            self.assertResult(self.client.delete(next(iter(self.objects))), "unavailable", "only 7 of 10")
            # reads: 7 owners plus the copies on node05, node07, node08
            for key, data in list(self.objects.items())[:12]:
                self.check_object(key, data)
            self.check_deleted(self.deleted[0])
        finally:
            holder.start()
        self.wait_reachable(8)

    def test_c_handoffs_drain(self):
        self.assertTrue(self.objects, "step a did not run")
        for index in self.ABSENT:
            self.cluster.node(index).start()
        self.wait_reachable(10)
        if not forwarder_running(self.cluster.node(3).stats()):
            raise unittest.SkipTest("this strata-node runs no handoff forwarder (its stats have no "
                                    "'handoff' map with running true): draining not checked")
        # drained: no node holds or has pending any copy not yet forwarded
        deadline = time.monotonic() + DRAIN_TIMEOUT
        left = None
        while time.monotonic() < deadline:
            left = {}
            for node in self.cluster.nodes:
                stats = node.stats()
                self.assertIsNotNone(stats, "%s does not answer stats" % node.name)
                handoff = stats["handoff"]
                if handoff["pending"] or handoff["held"]:
                    left[node.name] = handoff
            if not left:
                type(self).drained = True
                return
            time.sleep(0.5)
        self.fail("handoffs not drained after %.0f s: %r" % (DRAIN_TIMEOUT, left))

    def test_d_owners_have_the_data(self):
        if not self.drained:
            raise unittest.SkipTest("the handoffs did not drain (step c failed or was skipped)")
        # the owners hold their own shares and tombstones now
        for absent in self.ABSENT:
            node = self.cluster.node(absent)
            own = set((key, unified_id(stored)) for key, stored in index_query(
                node, "SELECT key, unified_id FROM segment WHERE status = 'F' "
                "AND handoff_node_id IS NULL AND segment_num = ?", (absent + 1,)))
            live = set((key, self.versions[key]) for key in self.objects)
            self.assertEqual(live - own, set(), "%s lacks some of its shares" % node.name)
            self.assertEqual(own - set(self.versions.items()), set())
            tombstones = index_query(node, "SELECT DISTINCT key FROM segment WHERE status = 'T' "
                                     "AND handoff_node_id IS NULL")
            self.assertEqual(sorted(key for key, in tombstones), sorted(self.deleted))
        # two other nodes down: reading needs the returned owners' shares
        for index in (0, 9):
            self.assertEqual(self.cluster.node(index).stop(), 0)
        self.wait_reachable(8)
        for key, data in self.objects.items():
            self.check_object(key, data)
        for key in self.deleted:
            self.check_deleted(key)
            self.assertEqual(self.client.versions(key)["versions"], [])


class HandoffKillTest(HandoffCase):

    def test_node_killed_mid_put(self):
        victim = self.cluster.node(4)
        key = new_key("killed")
        data = payload(SLICE + 5000, seed=7)
        # The node takes the put's messages but never answers: stopped,
        # then killed while the router waits for it. The router cancels
        # that attempt everywhere and sends the put again at once, node05's
        # share going to node06 and node07: the put succeeds.
        before = self.client.ping()["handoff-writes"]
        victim.proc.send_signal(signal.SIGSTOP)
        sent = self.client.send({"message-type": "put", "key": key}, [data])
        time.sleep(0.5)
        victim.kill()
        started = time.monotonic()
        reply, _ = self.client.recv(sent["request-id"], timeout=20)
        self.assertResult(reply, "success")
        self.assertLess(time.monotonic() - started, 10)
        self.wait_reachable(9)
        self.assertEqual(self.client.ping()["handoff-writes"], before + 1)
        self.check_object(key, data)
        versions = self.client.versions(key)["versions"]
        self.assertEqual([version["unified-id"] for version in versions], [reply["unified-id"]],
                         "the first attempt's version is cancelled")
        for holder in (5, 6):
            rows = handoff_rows(self.cluster.node(holder), "node05", "F")
            self.assertIn((key, reply["unified-id"]), rows)
        # the killed node restarts (the first attempt's segment there is
        # cancelled by its active timeout) and the object reads as before
        victim.start()
        self.wait_reachable(10)
        self.check_object(key, data)


if __name__ == "__main__":
    run_main(binaries=(NODE_BINARY, ROUTER_BINARY))
