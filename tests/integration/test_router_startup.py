"""Router start-up (cluster/ROUTER.md, "Operating the router", Start-up): until every node has
answered once, for at most one node-timeout-ms, reads and writes wait for
the first ping round instead of failing; a node that never answered is
"not yet reachable", never a node that "could not be read".

The nodes are stopped with SIGSTOP before the router starts (their
sockets are bound, so connections succeed, but nothing answers), which
makes the first ping round as late as the test wants.

Run: /usr/bin/python3 tests/integration/test_router_startup.py
"""

import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster_harness import Cluster, new_key, run_main  # noqa: E402

NODE_TIMEOUT_MS = 3000


class RouterStartupTest(unittest.TestCase):
    cluster = None

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(nodes=5, data_shards=3,
                              router_settings={"node-timeout-ms": NODE_TIMEOUT_MS})
        try:
            cls.cluster.start()
        except BaseException:
            cls.cluster.cleanup()
            raise
        cls.key = new_key("startup")
        client = cls.cluster.router_client(timeout=20)
        reply = client.put(cls.key, b"there before the router restarted")
        assert reply["result"] == "success", reply

    @classmethod
    def tearDownClass(cls):
        problems = cls.cluster.cleanup()
        if problems:
            raise AssertionError("; ".join(problems))

    def restart_router_with_nodes_stopped(self):
        """Stop the router, SIGSTOP every node, start the router again."""
        self.assertEqual(self.cluster.router.stop(), 0)
        for node in self.cluster.nodes:
            node.proc.send_signal(signal.SIGSTOP)
        self.stopped = True
        self.cluster.router.start(wait=False)
        started = time.monotonic()
        # The router answers ping at once (not held); no node is reachable yet
        client = self.cluster.router_client(timeout=5)
        ping = client.ping()
        self.assertFalse(any(node["reachable"] for node in ping["nodes"]), ping)
        return client, started

    def resume_nodes(self):
        if getattr(self, "stopped", False):
            for node in self.cluster.nodes:
                node.proc.send_signal(signal.SIGCONT)
            self.stopped = False

    def tearDown(self):
        self.resume_nodes()
        self.cluster.wait_router(timeout=30)

    def test_requests_wait_for_the_first_ping_round(self):
        client, started = self.restart_router_with_nodes_stopped()
        client.timeout = 20
        get = client.send({"message-type": "get", "key": self.key})
        put_key = new_key("startup-put")
        put = client.send({"message-type": "put", "key": put_key}, [b"written while starting"])
        time.sleep(1.0)
        resumed = time.monotonic()
        self.resume_nodes()
        reply, frames = client.recv(get["request-id"])
        self.assertEqual(reply["result"], "success", reply)
        self.assertEqual(b"".join(frames), b"there before the router restarted")
        reply, _ = client.recv(put["request-id"])
        self.assertEqual(reply["result"], "success", reply)
        answered = time.monotonic()
        # Held until the nodes answered, and not a whole node-timeout longer
        self.assertGreaterEqual(answered, resumed)
        self.assertLess(answered - started, NODE_TIMEOUT_MS / 1000.0 + 1.0)
        self.assertEqual(client.get(put_key)[1], b"written while starting")

    def test_nodes_that_never_answer_are_not_yet_reachable(self):
        client, started = self.restart_router_with_nodes_stopped()
        client.timeout = 20
        reply, _ = client.request({"message-type": "get", "key": self.key})
        waited = time.monotonic() - started
        self.assertEqual(reply["result"], "unavailable", reply)
        self.assertIn("not yet reachable", reply["error-message"])
        self.assertNotIn("could not be read", reply["error-message"])
        # Held for the first ping round, bounded by one node-timeout-ms
        self.assertGreaterEqual(waited, NODE_TIMEOUT_MS / 1000.0 - 0.5)
        self.assertLess(waited, NODE_TIMEOUT_MS / 1000.0 + 2.0)
        reply, _ = client.request({"message-type": "put", "key": new_key("startup-refused")},
                                  [b"x"])
        self.assertEqual(reply["result"], "unavailable", reply)
        self.assertIn("not yet reachable", reply["error-message"])

    def test_an_outage_shorter_than_a_second_is_logged(self):
        # The router looks at reachability once a second: a node killed and
        # started again between two looks is logged all the same
        self.cluster.wait_router(timeout=30)
        node = self.cluster.node(1)
        before = self.cluster.router.log_text()
        node.kill()
        node.start()
        deadline = time.monotonic() + 15
        told = None
        while time.monotonic() < deadline and told is None:
            log = self.cluster.router.log_text()[len(before):]
            for line in ("%s lost its connection and is reachable again" % node.name,
                         "node %s is unreachable" % node.name):
                if line in log:
                    told = line
            time.sleep(0.2)
        self.assertIsNotNone(told, "no line about %s's outage in the router's log" % node.name)


if __name__ == "__main__":
    run_main()
