"""Integration tests: CurveZMQ through strata-router and the strata CLI
(issue 9; docs/security.md, "CurveZMQ").

A router and ten nodes, all with CURVE: the router's ROUTER socket is a
CURVE server under a zauth policy, its PUSH sockets to the nodes and its
reply PULL are CURVE clients. A user certificate made by `strata keygen`,
whose public cert is in every clients-dir, puts and gets through the CLI
(--cert / --server-cert, or $STRATA_CERT / $STRATA_SERVER_CERT); without
--cert the CLI gets no answer and exits 1 with one line; a plaintext client
gets nothing from the router; a client with a key not in the router's
clients-dir cannot store, read or delete anything, and the router counts
the refused handshakes (ping-reply auth-failures) and logs them, as does a
plaintext peer at the router's node-reply endpoint; `strata stat --node`
works with CURVE; a bad router certificate is a configuration error (exit
2, one line).

Run: /usr/bin/python3 tests/integration/test_curve_cluster.py
"""

import os
import re
import shutil
import signal
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
        cls.cluster_public = cluster_public
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
        try:
            with self.assertRaises(RouterError):
                client.ping(timeout=2.0)
        finally:
            client.close()      # it would go on reconnecting (and failing)

    # -- refused handshakes at the router: counted and logged ----------------

    def router_auth_failures(self, client):
        reply = client.ping(timeout=5.0)
        self.assertIn("auth-failures", reply)
        return reply["auth-failures"]

    def log_lines(self, reason):
        """Lines 'CURVE handshake refused on ENDPOINT (reason)' in the router's log."""
        pattern = re.compile(r"CURVE handshake refused on tcp://127\.0\.0\.1:\d+ \(%s\)"
                             % re.escape(reason))
        return len(pattern.findall(self.cluster.router.log_text()))

    def provoke_until_counted_and_logged(self, client, provoke, reason, what):
        """Open a new refused connection (provoke () returns the socket) every
        0.3 s until ping's auth-failures has gone up and the router's log
        holds a new '... (reason)' line; at most 15 s. A new connection each
        time: libzmq does not reconnect after a handshake protocol error,
        and the router logs at most one line a second, so the first refusal
        may fall in the second of an earlier test's line."""
        before = self.router_auth_failures(client)
        log_before = self.log_lines(reason)
        count, lines = before, log_before
        sockets = []
        deadline = time.monotonic() + 15
        try:
            while time.monotonic() < deadline:
                sockets.append(provoke())
                time.sleep(0.3)
                count = self.router_auth_failures(client)
                lines = self.log_lines(reason)
                if count > before and lines > log_before:
                    return
        finally:
            for sock in sockets:
                sock.close(linger=0)
        self.fail("%s: auth-failures %d -> %d, log lines '(%s)' %d -> %d"
                  % (what, before, count, reason, log_before, lines))

    def test_unknown_key_refused_counted_logged(self):
        authorized = self.cluster.router_client(timeout=10.0)
        # Something the stranger will try to read and delete
        stored_key = new_key("curve-victim")
        stored = payload(5000, seed=3)
        self.assertEqual(authorized.put(stored_key, stored).get("result"), "success")

        stranger_public, stranger_secret = zmq.curve_keypair()
        stranger_keys = (self.cluster_public, stranger_public, stranger_secret)
        stranger = self.cluster.router_client(timeout=2.0, curve_keys=stranger_keys)
        try:
            # Once the handshake failed the DEALER has no pipe and send blocks
            stranger.sock.setsockopt(zmq.SNDTIMEO, 1000)
            new = new_key("curve-stranger")
            for what, call in (("put", lambda: stranger.put(new, b"must not be stored")),
                               ("get", lambda: stranger.get(stored_key)),
                               ("delete", lambda: stranger.delete(stored_key)),
                               ("ping", lambda: stranger.ping(timeout=1.0))):
                try:
                    reply = call()
                except (RouterError, zmq.Again):
                    continue
                self.fail("the router answered a %s from an unknown key: %r" % (what, reply))
        finally:
            stranger.close()

        def provoke():
            sock = self.cluster.context.socket(zmq.DEALER)
            sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = stranger_keys
            sock.connect(self.cluster.router_endpoint)
            return sock
        self.provoke_until_counted_and_logged(authorized, provoke, "key not authorized",
                                              "a client key not in clients-dir")
        # Nothing was stored, nothing deleted
        reply, data = authorized.get(new)
        self.assertIsNone(data, reply)
        self.assertNotEqual(reply.get("result"), "success", reply)
        reply, data = authorized.get(stored_key)
        self.assertEqual(reply.get("result"), "success", reply)
        self.assertEqual(data, stored)

    def test_sighup_rereads_clients_dir_and_router_keeps_serving(self):
        client = self.cluster.router_client(timeout=10.0)
        self.cluster.router.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while (time.monotonic() < deadline
               and "SIGHUP: CURVE clients reloaded" not in self.cluster.router.log_text()):
            time.sleep(0.1)
        self.assertIn("SIGHUP: CURVE clients reloaded", self.cluster.router.log_text())
        self.assertIsNone(self.cluster.router.proc.poll(), "SIGHUP must not stop the router")
        key = new_key("curve-after-hup")
        self.assertEqual(client.put(key, b"after SIGHUP").get("result"), "success")

    def test_plaintext_peer_at_reply_endpoint_counted(self):
        found = re.search(r"node replies on (tcp://\S+)", self.cluster.router.log_text())
        self.assertIsNotNone(found, "the router logs its node-reply endpoint")
        authorized = self.cluster.router_client(timeout=10.0)

        def provoke():
            sock = self.cluster.context.socket(zmq.PUSH)
            sock.connect(found.group(1))
            return sock
        self.provoke_until_counted_and_logged(authorized, provoke, "protocol error",
                                              "a plaintext peer at the node-reply endpoint")
        # The router still works
        self.assertEqual(authorized.ping().get("result"), "success")

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
