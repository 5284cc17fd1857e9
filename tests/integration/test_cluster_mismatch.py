"""test_cluster_mismatch - a router and nodes that disagree on the cluster

Ten nodes started with a cluster file of k = 8 and their router; a second
router reads a cluster file with the same nodes but k = 6. The nodes refuse
the second router's requests with `cluster-mismatch` (naming both
fingerprints), nothing is stored through it, its `ping` shows every node as
refusing (exit 1) and its log says so, and the correct router still reads
everything. A node started without --cluster accepts any fingerprint.
"""

import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_harness import (Cluster, CLI_BINARY, NODE_BINARY, ROUTER_BINARY, cluster_file_text,
                             free_ports, new_key, payload, run_main, _Process)


class OtherRouter(_Process):
    """A strata-router of another cluster file, on its own port."""

    def __init__(self, cluster, path, listen):
        super().__init__("other-router", os.path.join(cluster.workdir, "other-router.log"))
        self.path = path
        self.listen = listen

    def start(self, cwd):
        self._spawn([ROUTER_BINARY, "--cluster", self.path], cwd)


class ClusterMismatchTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(nodes=10, data_shards=8)
        cls.cluster.start()
        cls.other = None
        try:
            listen = "tcp://127.0.0.1:%d" % free_ports(1)[0]
            entries = [(node.name, node.writer, node.reader) for node in cls.cluster.nodes]
            path = os.path.join(cls.cluster.workdir, "cluster-k6.cfg")
            with open(path, "w") as handle:
                handle.write(cluster_file_text(cls.cluster.name, 6, entries, listen))
            cls.other = OtherRouter(cls.cluster, path, listen)
            cls.other.start(cls.cluster.workdir)
        except BaseException:
            cls.cluster.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.other:
            cls.other.stop()
        problems = cls.cluster.cleanup()
        if problems:
            raise AssertionError("; ".join(problems))

    def other_cli(self, *args, input=None):
        return subprocess.run([CLI_BINARY, args[0], "--router", self.other.listen] + list(args[1:]),
                              input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=60)

    def wait_other_mismatch(self):
        """Until the k=6 router's ping shows all ten nodes refusing it."""
        deadline = time.monotonic() + 20
        while True:
            result = self.other_cli("ping", "--timeout", "5")
            lines = result.stdout.decode().splitlines()
            if sum(1 for line in lines if "\tcluster-mismatch: " in line) == 10:
                return result
            if time.monotonic() > deadline:
                self.fail("the k=6 router's ping never showed the mismatch: %r %r"
                          % (result.stdout, result.stderr))
            time.sleep(0.3)

    def test_mismatch(self):
        key = new_key("mismatch")
        data = payload(3 * 1024 * 1024 + 17, seed=5)
        stored = self.cluster.strata("put", key, "-", input=data)
        self.assertEqual(stored.returncode, 0, stored.stderr)

        result = self.wait_other_mismatch()
        self.assertEqual(result.returncode, 1, "ping exits 1 when nodes are unusable")
        text = result.stdout.decode()
        # Both fingerprints are named: the router's (k6) and the node's (k8)
        self.assertIn(":k6:n10:", text)
        self.assertIn(":k8:n10:", text)
        self.assertRegex(text.splitlines()[0], r"0 of 10 nodes reachable.*fingerprint test:k6:n10:")

        bytes_before = [node.stats()["bytes-stored"] for node in self.cluster.nodes]
        refused = self.other_cli("put", new_key("refused"), "-", input=b"x" * 100000)
        self.assertEqual(refused.returncode, 1, refused.stderr)
        self.assertEqual(refused.stdout, b"")
        bytes_after = [node.stats()["bytes-stored"] for node in self.cluster.nodes]
        self.assertEqual(bytes_before, bytes_after, "nothing is stored through the k=6 router")

        # A request with another fingerprint, sent to a node directly
        node = self.cluster.node(0)
        reply = node._request({"message-type": "ping", "cluster-fingerprint": "test:k6:n10:x"},
                              node.writer, 5)
        self.assertEqual(reply["result"], "cluster-mismatch")
        self.assertIn("test:k6:n10:x", reply["error-message"])
        self.assertIn(":k8:n10:", reply["error-message"])
        # Without a fingerprint (older senders): accepted
        self.assertEqual(node._request({"message-type": "ping"}, node.writer, 5)["result"], "success")

        # The router's log says so
        log = self.other.log_text()
        self.assertIn("cluster-mismatch", log)

        # The correct router still reads everything
        fetched = self.cluster.strata("get", key, "-")
        self.assertEqual(fetched.returncode, 0, fetched.stderr)
        self.assertEqual(fetched.stdout, data)
        good = self.cluster.strata("ping")
        self.assertEqual(good.returncode, 0, good.stdout)
        self.assertNotIn(b"cluster-mismatch", good.stdout)

    def test_node_without_cluster_accepts_any(self):
        workdir = self.cluster.workdir
        ports = free_ports(2)
        proc = subprocess.Popen([NODE_BINARY, "--name", "lone", "--data-dir",
                                 os.path.join(workdir, "lone"),
                                 "--writer", "tcp://127.0.0.1:%d" % ports[0],
                                 "--reader", "tcp://127.0.0.1:%d" % ports[1]],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            lone = self.cluster.node(0)
            deadline = time.monotonic() + 20
            reply = None
            while reply is None and time.monotonic() < deadline:
                reply = lone._request({"message-type": "ping", "cluster-fingerprint": "any:k1:n1:s1:0"},
                                      "tcp://127.0.0.1:%d" % ports[0], 0.5)
            self.assertIsNotNone(reply)
            self.assertEqual(reply["result"], "success")
        finally:
            proc.terminate()
            self.assertEqual(proc.wait(20), 0)

    def start_lone(self, workdir):
        """Ten nodes without --cluster and routers k=8 and k=6 over them;
        (procs, routers, cli), or (None, None, None) if a process exited
        (a port taken meanwhile: everything is stopped again)."""
        os.makedirs(workdir)
        ports = free_ports(22)
        entries, procs = [], []
        for index in range(10):
            name = "node%02d" % (index + 1)
            writer = "tcp://127.0.0.1:%d" % ports[2 * index]
            reader = "tcp://127.0.0.1:%d" % ports[2 * index + 1]
            entries.append((name, writer, reader))
            procs.append(subprocess.Popen(
                [NODE_BINARY, "--name", name, "--data-dir", os.path.join(workdir, name),
                 "--writer", writer, "--reader", reader],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        routers = {}
        for k, port in ((8, ports[20]), (6, ports[21])):
            path = os.path.join(workdir, "cluster-k%d.cfg" % k)
            listen = "tcp://127.0.0.1:%d" % port
            with open(path, "w") as handle:
                handle.write(cluster_file_text("lone", k, entries, listen))
            procs.append(subprocess.Popen([ROUTER_BINARY, "--cluster", path],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            routers[k] = listen

        def cli(k, *args, input=None):
            return subprocess.run([CLI_BINARY, args[0], "--router", routers[k]] + list(args[1:]),
                                  input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=60)
        for k in routers:
            deadline = time.monotonic() + 40
            while cli(k, "ping", "--timeout", "2").returncode != 0:
                if time.monotonic() > deadline or not all(proc.poll() is None for proc in procs):
                    for proc in procs:
                        proc.kill()
                        proc.wait(20)
                    return None, None, None
                time.sleep(0.3)
        return procs, routers, cli

    def test_stored_fingerprint(self):
        """Nodes without --cluster accept both routers; the object records
        the fingerprint it was written with, so the k=6 router says so
        instead of decoding garbage and calling it damaged."""
        for attempt in range(3):
            # Free ports may be taken between choosing and binding by a
            # parallel test: start again on fresh ones
            workdir = os.path.join(self.cluster.workdir, "lone-cluster-%d" % attempt)
            procs, routers, cli = self.start_lone(workdir)
            if procs is not None:
                break
        else:
            self.fail("the nodes without --cluster and their routers did not come up")
        try:
            key = new_key("stamped")
            data = payload(2 * 1024 * 1024 + 3, seed=9)
            stored = cli(8, "put", "--meta", "colour=red", key, "-", input=data)
            self.assertEqual(stored.returncode, 0, stored.stderr)
            wrong = cli(6, "get", key)
            self.assertEqual(wrong.returncode, 1, wrong.stderr)
            self.assertIn(b"cluster-mismatch", wrong.stderr)
            self.assertIn(b"lone:k8:n10:", wrong.stderr)
            self.assertIn(b"lone:k6:n10:", wrong.stderr)
            self.assertNotIn(b"damaged", wrong.stderr)
            right = cli(8, "get", key)
            self.assertEqual(right.returncode, 0, right.stderr)
            self.assertEqual(right.stdout, data)
            meta = cli(8, "get", "--meta", key)
            self.assertEqual(meta.stdout, b"colour=red\n", "the stamp is not the client's meta")
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                self.assertEqual(proc.wait(20), 0)


if __name__ == "__main__":
    run_main()
