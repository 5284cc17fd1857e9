"""Integration tests: authorization by CURVE key (auth/policy; docs/security.md,
"Authorization").

A router and three nodes with CURVE and one policy file. Keys: router
(role router), nodes (role node), harness and user (admin), service7
(grants: collection 7 read write list), and stranger (in every clients-dir,
so its handshakes succeed, but not in the policy).

  * service7 puts, gets and lists versions in collection 7; in collection 8
    every request is forbidden (CLI exit 1, one line naming forbidden), and
    so is a delete in 7 (not granted); nothing forbidden is stored or
    returned (an admin finds nothing in 8);
  * service7 cannot talk to a node directly (writer or reader: forbidden,
    nothing stored);
  * the nodes' key, used by a client at the router, cannot read other
    collections (nor any: it has no grants);
  * a key not in the policy has no access at all;
  * a grant removed from the file stops new requests after SIGHUP;
  * the router counts forbidden requests (ping-reply `forbidden`), a node
    counts them in its results.

Run: /usr/bin/python3 tests/integration/test_auth_policy.py
"""

import os
import shutil
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster_harness import Cluster, new_key, payload, run_main  # noqa: E402
from strata_harness import Segment  # noqa: E402
from test_curve_cluster import write_cert  # noqa: E402

import msgpack  # noqa: E402
import zmq  # noqa: E402

POLICY = """keys
    router
        cert = clients/router
        role = router
    nodes
        cert = clients/nodes
        role = node
    harness
        key = "%(harness)s"
        role = admin
    user
        cert = clients/user
        role = admin
    service7
        cert = clients/service7
        grants
            7 = %(rights7)s
"""


class AuthPolicyTest(unittest.TestCase):
    cluster = None

    @classmethod
    def setUpClass(cls):
        cls.keys_dir = tempfile.mkdtemp(prefix="strata-auth-keys-")
        keys = cls.keys_dir
        clients = os.path.join(keys, "clients")
        os.mkdir(clients)
        cluster_public, cluster_secret = zmq.curve_keypair()
        cls.cluster_public = cluster_public
        cls.cluster_cert = write_cert(keys, "cluster", cluster_public, cluster_secret)
        cls.pairs = {}
        for name in ("router", "nodes", "harness", "user", "service7", "stranger"):
            cls.pairs[name] = zmq.curve_keypair()
            write_cert(keys, name, *cls.pairs[name])
            shutil.copy(os.path.join(keys, name), os.path.join(clients, name))
        cls.policy = os.path.join(keys, "policy.cfg")
        cls.write_policy("read write list")

        def node_config(node):
            return ("curve\n    cert = %s_secret\n    clients-dir = %s\n"
                    "    client-cert = %s/nodes_secret\nauth\n    policy = %s\n"
                    % (cls.cluster_cert, clients, keys, cls.policy))
        router_extra = ("    curve\n        cert = %s_secret\n        clients-dir = %s\n"
                        "        client-cert = %s/router_secret\n    auth\n        policy = %s\n"
                        % (cls.cluster_cert, clients, keys, cls.policy))
        harness_public, harness_secret = cls.pairs["harness"]
        cls.cluster = Cluster(nodes=3, data_shards=2, node_config=node_config,
                              router_extra=router_extra,
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

    @classmethod
    def write_policy(cls, rights7):
        text = POLICY % {"harness": cls.pairs["harness"][0].decode(), "rights7": rights7}
        temporary = cls.policy + ".tmp"
        with open(temporary, "w") as handle:
            handle.write(text)
        os.replace(temporary, cls.policy)

    def flags(self, name):
        return ["--cert", os.path.join(self.keys_dir, name + "_secret"),
                "--server-cert", self.cluster_cert]

    def client(self, name):
        public, secret = self.pairs[name]
        return self.cluster.router_client(curve_keys=(self.cluster_public, public, secret))

    def assertForbidden(self, run):
        self.assertEqual(run.returncode, 1, run.stderr)
        lines = run.stderr.decode().strip().splitlines()
        self.assertEqual(len(lines), 1, run.stderr)
        self.assertIn("forbidden", lines[0])

    def router_forbidden(self):
        return self.client("user").ping().get("forbidden")

    def test_service_key_limited_to_its_collection(self):
        key = new_key("auth")
        data = payload(200000, seed=3)
        service = self.flags("service7")
        put = self.cluster.strata("put", "--collection", "7", *service, key, "-", input=data)
        self.assertEqual(put.returncode, 0, put.stderr)
        got = self.cluster.strata("get", "--collection", "7", *service, key)
        self.assertEqual(got.returncode, 0, got.stderr)
        self.assertEqual(got.stdout, data)
        versions = self.cluster.strata("versions", "--collection", "7", *service, key)
        self.assertEqual(versions.returncode, 0, versions.stderr)

        before = self.router_forbidden()
        # collection 8: nothing allowed, nothing stored
        self.assertForbidden(self.cluster.strata("put", "--collection", "8", *service, key, "-",
                                                 input=b"not for 8"))
        self.assertForbidden(self.cluster.strata("get", "--collection", "8", *service, key))
        # delete is not granted, even in 7
        self.assertForbidden(self.cluster.strata("rm", "--collection", "7", *service, key))
        self.assertGreaterEqual(self.router_forbidden(), before + 3)
        admin = self.flags("user")
        missing = self.cluster.strata("get", "--collection", "8", *admin, key)
        self.assertEqual(missing.returncode, 3, "nothing forbidden was stored: %r" % missing.stderr)
        still = self.cluster.strata("get", "--collection", "7", *admin, key)
        self.assertEqual(still.returncode, 0, still.stderr)
        self.assertEqual(still.stdout, data, "the forbidden delete deleted nothing")
        # the router protocol directly: forbidden with an error-message
        reply = self.client("service7").put(key, b"direct", collection_id=8)
        self.assertEqual(reply.get("result"), "forbidden", reply)
        self.assertIn("collection 8", reply.get("error-message", ""))

    def test_service_key_cannot_talk_to_a_node(self):
        node = self.cluster.node(0)
        public, secret = self.pairs["service7"]
        context = self.cluster.context
        pull = context.socket(zmq.PULL)
        pull.setsockopt(zmq.LINGER, 0)
        pull.curve_serverkey, pull.curve_publickey, pull.curve_secretkey = \
            self.cluster_public, public, secret
        port = pull.bind_to_random_port("tcp://127.0.0.1")
        address = "tcp://127.0.0.1:%d" % port
        segment = Segment(key=new_key("direct"), collection_id=7)
        data = b"straight to a node" * 10
        try:
            for endpoint, header, frames in (
                    (node.writer, segment.entire(data), [data]),
                    (node.reader, segment.retrieve_start(), [])):
                push = context.socket(zmq.PUSH)
                push.setsockopt(zmq.LINGER, 0)
                push.curve_serverkey, push.curve_publickey, push.curve_secretkey = \
                    self.cluster_public, public, secret
                push.connect(endpoint)
                header = dict(header, **{"message-id": new_key("m"), "client-tag": "svc7",
                                         "client-address": address})
                push.send_multipart([msgpack.packb(header, use_bin_type=True)] + frames)
                self.assertTrue(pull.poll(10000), "no answer from %s" % endpoint)
                reply = msgpack.unpackb(pull.recv_multipart()[0], raw=False)
                self.assertEqual(reply.get("result"), "forbidden", reply)
                self.assertTrue(reply.get("error-message"))
                push.close()
        finally:
            pull.close()
        # nothing was stored on the node: its admin view
        stats = node.stats()
        self.assertGreaterEqual(stats["results"]["forbidden"], 2)
        stat = self.cluster.strata("stat", "--node", node.writer, "--timeout", "10",
                                   *self.flags("service7"), timeout=30)
        self.assertForbidden(stat)
        ok = self.cluster.strata("stat", "--node", node.writer, "--timeout", "10",
                                 *self.flags("user"), timeout=30)
        self.assertEqual(ok.returncode, 0, ok.stderr)

    def test_node_key_at_the_router_reads_nothing_ungranted(self):
        key = new_key("nodekey")
        admin = self.client("user")
        self.assertEqual(admin.put(key, b"secret of 8", collection_id=8).get("result"), "success")
        nodes = self.client("nodes")
        reply, data = nodes.get(key, collection_id=8)
        self.assertEqual(reply.get("result"), "forbidden", reply)
        self.assertIsNone(data)
        self.assertEqual(nodes.put(key, b"x", collection_id=8).get("result"), "forbidden")
        reply, data = admin.get(key, collection_id=8)
        self.assertEqual(data, b"secret of 8")

    def test_key_not_in_the_policy_has_no_access(self):
        stranger = self.client("stranger")
        self.assertEqual(stranger.ping().get("result"), "forbidden")
        reply = stranger.put(new_key("stranger"), b"x", collection_id=7)
        self.assertEqual(reply.get("result"), "forbidden", reply)
        self.assertIn("not in the router's policy", reply.get("error-message", ""))

    def test_revoked_grant_takes_effect_on_sighup(self):
        service = self.flags("service7")
        key = new_key("revoke")
        put = self.cluster.strata("put", "--collection", "7", *service, key, "-", input=b"one")
        self.assertEqual(put.returncode, 0, put.stderr)
        try:
            self.write_policy("read list")
            self.cluster.router.proc.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while True:
                run = self.cluster.strata("put", "--collection", "7", *service, key, "-",
                                          input=b"two")
                if run.returncode != 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            self.assertForbidden(run)
            got = self.cluster.strata("get", "--collection", "7", *service, key)
            self.assertEqual(got.returncode, 0, got.stderr)
            self.assertIn(got.stdout, (b"one", b"two"),
                          "reads still granted; at most a put sent before the reload landed")
        finally:
            self.write_policy("read write list")
            self.cluster.router.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while True:
            run = self.cluster.strata("put", "--collection", "7", *service, key, "-", input=b"3")
            if run.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(run.returncode, 0, run.stderr)

    def test_keygen_file_modes(self):
        # docs/security.md: NAME (public) 0644, NAME_secret 0600
        with tempfile.TemporaryDirectory() as scratch:
            old = os.umask(0)
            try:
                made = self.cluster.strata("keygen", "--dir", scratch, "modes", router=False)
            finally:
                os.umask(old)
            self.assertEqual(made.returncode, 0, made.stderr)
            public = os.stat(os.path.join(scratch, "modes")).st_mode & 0o777
            secret = os.stat(os.path.join(scratch, "modes_secret")).st_mode & 0o777
            self.assertEqual(oct(public), oct(0o644))
            self.assertEqual(oct(secret), oct(0o600))


if __name__ == "__main__":
    run_main()
