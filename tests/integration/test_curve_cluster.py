"""Integration tests: CurveZMQ through strata-router and the strata CLI
(issue 9; docs/security.md, "CurveZMQ").

A router and ten nodes, all with CURVE: the router's ROUTER socket is a
CURVE server under a zauth policy, its PUSH sockets to the nodes and its
reply PULL are CURVE clients. A user certificate made by `strata keygen`,
whose public cert is in every clients-dir, puts and gets through the CLI
(--cert / --server-cert, or $STRATA_CERT / $STRATA_SERVER_CERT); without
--cert the CLI gets no answer and exits 1 with one line; a plaintext client
gets nothing from the router; `strata stat --node` works with CURVE; a bad
router certificate is a configuration error (exit 2, one line).

Run: /usr/bin/python3 tests/integration/test_curve_cluster.py
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster_harness import (  # noqa: E402
    CLI_BINARY, ROUTER_BINARY, Cluster, RouterError, cluster_file_text, new_key,
    payload, run_main,
)

import zmq  # noqa: E402


def write_cert(directory, name, public, secret):
    """Write a czmq zcert pair (NAME public, NAME_secret both keys)."""
    def text(with_secret):
        lines = ["#   ZeroMQ CURVE certificate (test)", "metadata", "curve",
                 '    public-key = "%s"' % public.decode()]
        if with_secret:
            lines.append('    secret-key = "%s"' % secret.decode())
        return "\n".join(lines) + "\n"
    path = os.path.join(directory, name)
    with open(path, "w") as handle:
        handle.write(text(False))
    with open(path + "_secret", "w") as handle:
        handle.write(text(True))
    return path


class CurveClusterTest(unittest.TestCase):
    cluster = None

    @classmethod
    def setUpClass(cls):
        cls.keys_dir = tempfile.mkdtemp(prefix="strata-curve-keys-")
        keys = cls.keys_dir
        clients = os.path.join(keys, "clients")
        os.mkdir(clients)
        cluster_public, cluster_secret = zmq.curve_keypair()
        cls.cluster_cert = write_cert(keys, "cluster", cluster_public, cluster_secret)
        router_cert = write_cert(keys, "router", *zmq.curve_keypair())
        nodes_cert = write_cert(keys, "nodes", *zmq.curve_keypair())
        harness_public, harness_secret = zmq.curve_keypair()
        write_cert(keys, "harness", harness_public, harness_secret)
        # The user's certificate comes from `strata keygen`
        made = subprocess.run([CLI_BINARY, "keygen", "--dir", keys, "user"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        assert made.returncode == 0, made.stderr
        cls.user_cert = os.path.join(keys, "user_secret")
        assert os.path.exists(cls.user_cert) and os.path.exists(os.path.join(keys, "user"))
        for name in ("router", "nodes", "harness", "user"):
            shutil.copy(os.path.join(keys, name), os.path.join(clients, name))

        def node_config(node):
            return ("curve\n    cert = %s_secret\n    clients-dir = %s\n"
                    "    client-cert = %s_secret\n" % (cls.cluster_cert, clients, nodes_cert))
        cls.router_extra = ("    curve\n        cert = %s_secret\n        clients-dir = %s\n"
                            "        client-cert = %s_secret\n"
                            % (cls.cluster_cert, clients, router_cert))
        cls.cluster = Cluster(nodes=10, data_shards=8, node_config=node_config,
                              router_extra=cls.router_extra,
                              curve_keys=(cluster_public, harness_public, harness_secret))
        try:
            cls.cluster.start()
        except BaseException:
            cls.cluster.cleanup()
            shutil.rmtree(keys, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        problems = cls.cluster.cleanup()
        shutil.rmtree(cls.keys_dir, ignore_errors=True)
        if problems:
            raise AssertionError("; ".join(problems))

    def curve_flags(self):
        return ["--cert", self.user_cert, "--server-cert", self.cluster_cert]

    def test_put_get_with_cert(self):
        key = new_key("curve")
        data = payload(300000, seed=9)
        with tempfile.TemporaryDirectory() as scratch:
            source = os.path.join(scratch, "in")
            target = os.path.join(scratch, "out")
            with open(source, "wb") as handle:
                handle.write(data)
            put = self.cluster.strata("put", *self.curve_flags(), key, source, timeout=60)
            self.assertEqual(put.returncode, 0, put.stderr)
            got = self.cluster.strata("get", *self.curve_flags(), key, target, timeout=60)
            self.assertEqual(got.returncode, 0, got.stderr)
            with open(target, "rb") as handle:
                self.assertEqual(handle.read(), data)

    def test_environment_variables(self):
        key = new_key("curve-env")
        env = {"STRATA_CERT": self.user_cert, "STRATA_SERVER_CERT": self.cluster_cert}
        put = self.cluster.strata("put", key, "-", input=b"from the environment", env=env)
        self.assertEqual(put.returncode, 0, put.stderr)
        got = self.cluster.strata("get", key, env=env)
        self.assertEqual(got.returncode, 0, got.stderr)
        self.assertEqual(got.stdout, b"from the environment")

    def test_without_cert_gets_no_answer(self):
        started = time.monotonic()
        env = {"STRATA_CERT": "", "STRATA_SERVER_CERT": ""}
        ping = self.cluster.strata("ping", "--timeout", "2", env=env, timeout=30)
        elapsed = time.monotonic() - started
        self.assertEqual(ping.returncode, 1, ping.stderr)
        self.assertEqual(len(ping.stderr.decode().strip().splitlines()), 1, ping.stderr)
        self.assertLess(elapsed, 15)

    def test_cert_without_server_cert_is_usage_error(self):
        ping = self.cluster.strata("ping", "--cert", self.user_cert,
                                   env={"STRATA_SERVER_CERT": ""}, timeout=30)
        self.assertEqual(ping.returncode, 2, ping.stderr)

    def test_plaintext_client_gets_nothing(self):
        client = self.cluster.router_client(timeout=2.0, curve_keys=False)
        with self.assertRaises(RouterError):
            client.ping(timeout=2.0)

    def test_stat_node_with_cert(self):
        stat = self.cluster.strata("stat", "--node", self.cluster.node(0).writer,
                                   "--timeout", "10", *self.curve_flags(), timeout=30)
        self.assertEqual(stat.returncode, 0, stat.stderr)
        self.assertIn(b'"auth-failures"', stat.stdout)
        plain = self.cluster.strata("stat", "--node", self.cluster.node(0).writer,
                                    "--timeout", "2", env={"STRATA_CERT": "", "STRATA_SERVER_CERT": ""},
                                    timeout=30)
        self.assertEqual(plain.returncode, 1, plain.stderr)

    def test_keygen_refuses_to_overwrite(self):
        again = subprocess.run([CLI_BINARY, "keygen", "--dir", self.keys_dir, "user"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(again.returncode, 1)
        self.assertEqual(len(again.stderr.decode().strip().splitlines()), 1)
        usage = subprocess.run([CLI_BINARY, "keygen"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(usage.returncode, 2)

    def test_router_bad_cert_exits_2(self):
        with tempfile.TemporaryDirectory() as scratch:
            path = os.path.join(scratch, "bad.cfg")
            nodes = [(node.name, node.writer, node.reader) for node in self.cluster.nodes]
            # A public-only cert where the secret one is needed (with no
            # NAME_secret next to it: zcert_load would take that instead)
            public_only = os.path.join(scratch, "public-only")
            shutil.copy(self.cluster_cert, public_only)
            extra = self.router_extra.replace("%s_secret" % self.cluster_cert, public_only)
            with open(path, "w") as handle:
                handle.write(cluster_file_text("bad", 8, nodes, "tcp://127.0.0.1:1", None, extra))
            try:
                run = subprocess.run([ROUTER_BINARY, "--cluster", path], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, timeout=10)
            except subprocess.TimeoutExpired:
                self.fail("strata-router started with a public-only cluster cert")
            self.assertEqual(run.returncode, 2, run.stderr)
            self.assertEqual(len(run.stderr.decode().strip().splitlines()), 1, run.stderr)


if __name__ == "__main__":
    run_main()
