"""test_put_lost_node - puts that survive losing a node, and Ctrl-C

Ten nodes, k = 8, node-timeout-ms 2000. One node is SIGKILLed at a random
point during each of several 30 MiB puts (STRATA_LOST_NODE_PUTS, default
5; `make soak` runs 20): every put succeeds (the router sends it again
with the lost node's share on handoff holders), the node is started again
and receives its handoff copies, and every object reads back
byte-identical with two other nodes stopped.

A streamed upload within max-put-bytes survives an owner SIGKILLed midway
the same way (the router keeps its data).

A delete while a node is silent (SIGSTOP) succeeds: its tombstone goes to
two handoff holders.

Ctrl-C (SIGINT) during a streamed 100 MiB put: the CLI aborts the upload
and within 2 s no active segment is left on any node.
"""

import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_harness import CLI_BINARY, ClusterTestCase, new_key, run_main

MIB = 1024 * 1024
PUTS = int(os.environ.get("STRATA_LOST_NODE_PUTS", "5"))


class PutLostNodeTest(ClusterTestCase):
    node_count = 10
    data_shards = 8
    router_settings = {"node-timeout-ms": 2000}

    def wait_for(self, predicate, timeout, what):
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                self.fail("timed out waiting for %s" % what)
            time.sleep(0.2)

    def test_sigkill_during_puts(self):
        rng = random.Random(int(os.environ.get("STRATA_TEST_SEED", "14")))
        objects = {}
        kills = {}
        for index in range(PUTS):
            victim = self.cluster.node(rng.randrange(self.node_count))
            kills [victim.name] = kills.get(victim.name, 0) + 1
            key = new_key("lost-%d" % index)
            data = os.urandom(30 * MIB)
            path = os.path.join(self.cluster.workdir, "object-%d" % index)
            with open(path, "wb") as handle:
                handle.write(data)
            proc = subprocess.Popen([CLI_BINARY, "put", "--router", self.cluster.router_endpoint,
                                     key, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(rng.uniform(0.0, 0.6))
            victim.kill()
            out, err = proc.communicate(timeout=120)
            self.assertEqual(proc.returncode, 0, "put %d (%s killed): %s" % (index, victim.name, err))
            objects[key] = hashlib.md5(data).hexdigest()
            os.unlink(path)
            victim.start()
        self.cluster.wait_router(timeout=30)
        # At least one kill landed while a put was under way
        self.assertIn("lost midway", self.cluster.router.log_text())

        # The lost node's shares went to holders, which forward them now
        def forwarded():
            return all((node.stats() or {}).get("handoff", {}).get("held", 1) == 0
                       for node in self.cluster.nodes)
        self.wait_for(forwarded, 90, "the handoff copies to be forwarded")
        # Nodes never killed were sent every cancel: nothing stays active. A
        # killed node may keep the segment its kill interrupted (the cancel
        # of that attempt went to a dead node): at most one per kill, and
        # node/active-timeout-seconds cancels it later (test_stale_segments)
        for node in self.cluster.nodes:
            stats = self.wait_for(node.stats, 20, "stats of %s" % node.name)
            self.assertLessEqual(stats["active-segments"], kills.get(node.name, 0), node.name)

        # Any 8 of 10 suffice: stop two and read everything back
        stopped = [self.cluster.node(2), self.cluster.node(7)]
        for node in stopped:
            self.assertEqual(node.stop(), 0)
        self.cluster.wait_router(reachable=8, timeout=30)
        for key, md5 in objects.items():
            result = self.cluster.strata("get", key, timeout=120)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(hashlib.md5(result.stdout).hexdigest(), md5, key)
        for node in stopped:
            node.start()
        self.cluster.wait_router(timeout=30)

    def test_upload_survives_a_lost_node(self):
        # A streamed upload (put-start / put-data / put-finish) within
        # max-put-bytes: the router keeps its data and sends it again when
        # an owner is SIGKILLed midway
        client = self.cluster.router_client(timeout=60)
        key = new_key("upload-lost")
        data = os.urandom(24 * MIB)
        reply, _ = client.request({"message-type": "put-start", "key": key})
        self.assertEqual(reply["result"], "success", reply)
        upload, slice_size = reply["upload-id"], reply["slice-size"]
        victim = self.cluster.node(6)
        for offset in range(0, len(data), slice_size):
            if offset >= len(data) // 3 and victim.proc.poll() is None:
                victim.kill()
            reply, _ = client.request({"message-type": "put-data", "upload-id": upload},
                                      [data[offset:offset + slice_size]])
            self.assertEqual(reply["result"], "success", reply)
        reply, _ = client.request({"message-type": "put-finish", "upload-id": upload})
        self.assertEqual(reply["result"], "success", reply)
        self.assertEqual(reply["size"], len(data))
        self.assertIn("lost midway", self.cluster.router.log_text())
        victim.start()
        self.cluster.wait_router(timeout=30)
        result = self.cluster.strata("get", key, timeout=120)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(hashlib.md5(result.stdout).hexdigest(), hashlib.md5(data).hexdigest())

    def test_delete_with_a_silent_node(self):
        key = new_key("delete-lost")
        stored = self.cluster.strata("put", key, "-", input=os.urandom(100000))
        self.assertEqual(stored.returncode, 0, stored.stderr)
        silent = self.cluster.node(3)
        silent.proc.send_signal(signal.SIGSTOP)
        try:
            # Straight to the router, while it still counts the node reachable
            started = time.monotonic()
            client = self.cluster.router_client(timeout=30)
            reply = client.delete(key)
            self.assertEqual(reply.get("result"), "success", reply)
            self.assertLess(time.monotonic() - started, 15)
        finally:
            silent.proc.send_signal(signal.SIGCONT)
        self.assertIn("lost midway; its tombstone goes to two handoff holders",
                      self.cluster.router.log_text())
        self.cluster.wait_router(timeout=30)
        result = self.cluster.strata("get", key)
        self.assertEqual(result.returncode, 3, result.stderr)

    def test_ctrl_c_aborts_the_upload(self):
        proc = subprocess.Popen([CLI_BINARY, "put", "--router", self.cluster.router_endpoint,
                                 new_key("interrupted"), "-"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        chunk = os.urandom(MIB)
        fed = threading.Event()

        def feed():
            try:
                for index in range(100):
                    proc.stdin.write(chunk)
                    if index == 40:
                        fed.set()
                        time.sleep(30)     # the rest of the 100 MiB never comes in time
            except (BrokenPipeError, ValueError):
                pass
            fed.set()
        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        self.assertTrue(fed.wait(60))
        # The first slices are on the nodes by now: segments are active
        self.wait_for(lambda: sum((node.stats() or {}).get("active-segments", 0)
                                  for node in self.cluster.nodes) > 0,
                      10, "active segments of the upload")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        interrupted = time.monotonic()
        self.assertEqual(proc.returncode, 1, err)
        self.assertIn(b"interrupted", err)
        self.assertEqual(out, b"")
        # Counted from the CLI's exit (its abort is answered by then); a
        # node that is slow to answer stats under load is asked again
        left = None
        while time.monotonic() - interrupted < 2.0:
            counts = [(node.stats(timeout=1) or {}).get("active-segments") for node in self.cluster.nodes]
            if None not in counts:
                left = sum(counts)
                if left == 0:
                    break
            time.sleep(0.1)
        self.assertEqual(left, 0, "active segments left 2 s after Ctrl-C")


if __name__ == "__main__":
    run_main()
