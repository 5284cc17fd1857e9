"""Integration tests: CurveZMQ on strata-node (issue 9; docs/security.md,
"CurveZMQ").

A node with a `curve` section: an authorized client (its public cert in
clients-dir) can store, read and delete; a client with an unknown key and a
plaintext client get nothing, and the refused handshakes are counted as
auth-failures; replies go out encrypted (a plaintext reply PULL gets
nothing). Also the reply allow-list: a client-address outside it (127.0.0.2)
causes no connection, checked with a listener bound there.

Revocation without restart (docs/security.md, "Revoking a key"): removing
a client's public cert from clients-dir refuses that key's new connections
at once while its established session goes on; adding a cert admits a new
key; a cert rewritten in place with the same size and modification time
(which zauth's own change check misses) takes effect after SIGHUP.

Run: /usr/bin/python3 tests/integration/test_curve.py
"""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from strata_harness import (  # noqa: E402
    Client, Node, ReplyTimeout, Segment, StrataTestCase, free_port, run_main,
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


class CurveClient(Client):
    """A Client whose sockets are CURVE clients (keys: (public, secret)),
    or plaintext ones for a socket whose key pair is None."""

    def __init__(self, context, writer, reader=None, tag="curve-client",
                 keys=None, server_public=None, plain_pull=False):
        self.context = context
        self.tag = tag
        self.keys = keys
        self.server_public = server_public
        self.pull = context.socket(zmq.PULL)
        self.pull.setsockopt(zmq.LINGER, 0)
        if keys and not plain_pull:
            self._curve(self.pull)
        port = self.pull.bind_to_random_port("tcp://127.0.0.1")
        self.address = "tcp://127.0.0.1:%d" % port
        self.sockets = {}
        self.endpoints = {"writer": writer, "reader": reader}
        self.stash = {}
        self.closed = False

    def _curve(self, sock):
        sock.curve_publickey, sock.curve_secretkey = self.keys
        sock.curve_serverkey = self.server_public

    def _push(self, endpoint):
        sock = self.sockets.get(endpoint)
        if sock is None:
            sock = self.context.socket(zmq.PUSH)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.SNDTIMEO, 2000)
            if self.keys:
                self._curve(sock)
            sock.connect(self.endpoints[endpoint])
            self.sockets[endpoint] = sock
        return sock


class CurveNode(Node):
    """A Node whose readiness probe is an authorized CURVE client."""

    probe_keys = None
    server_public = None

    def _wait_ready(self, timeout):
        client = CurveClient(zmq.Context.instance(), self.writer, tag="ready-probe",
                             keys=self.probe_keys, server_public=self.server_public)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                code = self.proc.poll()
                if code is not None:
                    return "exited with code %d before answering ping" % code
                try:
                    client.send({"message-type": "ping"})
                    header, _ = client.recv(timeout=0.25)
                except (ReplyTimeout, zmq.Again):
                    continue
                if header.get("message-type") == "ping-reply":
                    return None
            return "no ping-reply within %.0f s" % timeout
        finally:
            client.close()


class CurveNodeTest(StrataTestCase):
    start_node = False
    test_timeout = 120

    def setUp(self):
        super().setUp()
        self.keys_dir = os.path.join(self.workdir, "keys")
        self.clients_dir = os.path.join(self.keys_dir, "clients")
        os.makedirs(self.clients_dir)
        self.cluster_keys = zmq.curve_keypair()
        cluster_cert = write_cert(self.keys_dir, "cluster", *self.cluster_keys)
        self.client_keys = zmq.curve_keypair()
        write_cert(self.clients_dir, "client", *self.client_keys)
        self.stranger_keys = zmq.curve_keypair()
        config = ("curve\n    cert = %s_secret\n    clients-dir = %s\n"
                  % (cluster_cert, self.clients_dir))
        node = CurveNode(self.workdir, name="node01", config=config)
        node.probe_keys = self.client_keys
        node.server_public = self.cluster_keys[0]
        self.nodes.append(node)
        node.start()
        self.node = node
        self.client = self.curve_client(self.client_keys)

    def curve_client(self, keys, plain_pull=False, tag="curve-client"):
        client = CurveClient(self.context, self.node.writer, self.node.reader,
                             tag=tag, keys=keys, server_public=self.cluster_keys[0],
                             plain_pull=plain_pull)
        self.clients.append(client)
        return client

    def test_authorized_client_stores_reads_deletes(self):
        payload = os.urandom(50000)
        segment = Segment()
        reply = self.client.request(segment.entire(payload), [payload])
        self.assertEqual(reply.get("result"), "success", reply)
        headers, payloads = self.client.retrieve(segment)
        self.assertEqual(headers[-1].get("result"), "success", headers)
        self.assertEqual(b"".join(payloads), payload)
        from strata_harness import destroy_header, new_unified_id
        reply = self.client.request(destroy_header(segment.collection_id, segment.key,
                                                   new_unified_id()))
        self.assertIn(reply.get("result"), ("success",), reply)
        headers, _ = self.client.retrieve(segment)
        self.assertNotEqual(headers[-1].get("result"), "success", headers)

    def _assert_refused(self, client, payload_segment):
        before = self.client.stats()["auth-failures"]
        payload = b"should never be stored" * 10
        try:
            client.send(payload_segment.entire(payload), [payload])
        except zmq.Again:
            pass
        client.expect_no_reply(wait=2.0)
        try:
            client.send(payload_segment.retrieve_start(), endpoint="reader")
        except zmq.Again:
            pass
        client.expect_no_reply(wait=1.0)
        deadline = time.monotonic() + 10
        after = before
        while time.monotonic() < deadline and after <= before:
            after = self.client.stats()["auth-failures"]
            time.sleep(0.2)
        self.assertGreater(after, before, "the refused handshake is counted")
        # nothing was stored: the authorized client does not find it
        headers, _ = self.client.retrieve(payload_segment)
        self.assertNotEqual(headers[-1].get("result"), "success", headers)
        self.assertIn("CURVE handshake refused", self.node.log_text())

    def test_unknown_key_gets_nothing(self):
        self._assert_refused(self.curve_client(self.stranger_keys, tag="stranger"), Segment())

    def test_plaintext_client_gets_nothing(self):
        self._assert_refused(self.curve_client(None, tag="plain"), Segment())

    def test_reply_is_encrypted(self):
        # an authorized requester whose reply PULL is plaintext gets nothing
        client = self.curve_client(self.client_keys, plain_pull=True, tag="plain-pull")
        client.send({"message-type": "ping"})
        client.expect_no_reply(wait=2.0)
        # the same requester with a CURVE PULL gets its reply
        reply = self.client.ping()
        self.assertEqual(reply.get("result"), "success")

    def _assert_admitted(self, client):
        """A new connection with client's keys gets answers from both endpoints."""
        self.assertEqual(client.ping().get("result"), "success")
        self.assertEqual(client.ping(endpoint="reader").get("result"), "success")

    def test_revoked_key_refused_on_new_connections(self):
        # The authorized client's session is established on both endpoints
        self._assert_admitted(self.client)
        client_cert = os.path.join(self.clients_dir, "client")
        os.remove(client_cert)
        # A new connection with the removed key is refused, counted, logged
        # and can store nothing
        self._assert_refused(self.curve_client(self.client_keys, tag="revoked"), Segment())
        # ... while the session established before the removal goes on: zauth
        # is asked only at the handshake
        self.assertEqual(self.client.ping().get("result"), "success")
        payload = os.urandom(1000)
        segment = Segment()
        reply = self.client.request(segment.entire(payload), [payload])
        self.assertEqual(reply.get("result"), "success", reply)
        headers, payloads = self.client.retrieve(segment)
        self.assertEqual(b"".join(payloads), payload, headers)
        # A key added while the node runs is admitted
        newcomer_keys = zmq.curve_keypair()
        write_cert(self.clients_dir, "newcomer", *newcomer_keys)
        self._assert_admitted(self.curve_client(newcomer_keys, tag="newcomer"))
        # ... and the removed one again once its cert is back
        write_cert(self.clients_dir, "client", *self.client_keys)
        self._assert_admitted(self.curve_client(self.client_keys, tag="re-admitted"))

    def test_sighup_rereads_clients_dir(self):
        # Rewrite the client's cert in place with the stranger's key: same
        # size, same modification time, same number of files, which is all
        # zauth's own change check (czmq zcertstore) compares
        self._assert_admitted(self.client)
        paths = [os.path.join(self.clients_dir, name) for name in ("client", "client_secret")]
        before = [os.stat(path) for path in paths]
        write_cert(self.clients_dir, "client", *self.stranger_keys)
        for path, stat in zip(paths, before):
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
            self.assertEqual(os.stat(path).st_size, stat.st_size)
        # zauth has not noticed: the old key still gets in, the new one not
        self._assert_admitted(self.curve_client(self.client_keys, tag="stale"))
        self._assert_refused(self.curve_client(self.stranger_keys, tag="not-yet"), Segment())
        # SIGHUP: the node makes zauth read the directory again
        self.node.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while (time.monotonic() < deadline
               and "SIGHUP: CURVE clients reloaded" not in self.node.log_text()):
            time.sleep(0.1)
        self.assertIn("SIGHUP: CURVE clients reloaded", self.node.log_text())
        self.assertTrue(self.node.running(), "SIGHUP does not stop the node")
        self._assert_admitted(self.curve_client(self.stranger_keys, tag="now-admitted"))
        self._assert_refused(self.curve_client(self.client_keys, tag="now-revoked"), Segment())
        # the session established before the change is still served
        self.assertEqual(self.client.ping().get("result"), "success")

    def test_reply_address_outside_allow_list(self):
        listener = self.context.socket(zmq.PULL)
        listener.setsockopt(zmq.LINGER, 0)
        listener.curve_publickey, listener.curve_secretkey = self.client_keys
        listener.curve_serverkey = self.cluster_keys[0]
        port = free_port()
        listener.bind("tcp://127.0.0.2:%d" % port)
        plain = self.context.socket(zmq.PULL)
        plain.setsockopt(zmq.LINGER, 0)
        plain_port = free_port()
        plain.bind("tcp://127.0.0.2:%d" % plain_port)
        try:
            before = self.client.stats()["requests-dropped"]
            for address in ("tcp://127.0.0.2:%d" % port, "tcp://127.0.0.2:%d" % plain_port):
                self.client.send({"message-type": "ping", "client-address": address})
                self.client.send({"message-type": "ping", "client-address": address},
                                 endpoint="reader")
            self.assertEqual(listener.poll(2000), 0, "nothing arrives at 127.0.0.2")
            self.assertEqual(plain.poll(500), 0, "nothing arrives at 127.0.0.2")
            after = self.client.stats()["requests-dropped"]
            self.assertGreaterEqual(after - before, 4)
        finally:
            listener.close(0)
            plain.close(0)


class CurveConfigTest(StrataTestCase):
    start_node = False

    def test_curve_without_clients_dir_is_refused(self):
        path = os.path.join(self.workdir, "bad.cfg")
        keys = zmq.curve_keypair()
        cert = write_cert(self.workdir, "cluster", *keys)
        with open(path, "w") as handle:
            handle.write("curve\n    cert = %s_secret\n" % cert)
        import subprocess
        from strata_harness import NODE_BINARY
        result = subprocess.run([NODE_BINARY, "--config", path, "--data-dir",
                                 os.path.join(self.workdir, "d")],
                                capture_output=True, text=True, timeout=20)
        self.assertEqual(result.returncode, 2)
        self.assertIn("clients-dir", result.stderr)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1)

    def test_public_file_as_cert_is_refused(self):
        path = os.path.join(self.workdir, "bad.cfg")
        keys = zmq.curve_keypair()
        cert = write_cert(self.workdir, "cluster", *keys)
        os.remove(cert + "_secret")
        os.makedirs(os.path.join(self.workdir, "clients"))
        with open(path, "w") as handle:
            handle.write("curve\n    cert = %s\n    clients-dir = %s\n"
                         % (cert, os.path.join(self.workdir, "clients")))
        import subprocess
        from strata_harness import NODE_BINARY
        result = subprocess.run([NODE_BINARY, "--config", path, "--data-dir",
                                 os.path.join(self.workdir, "d")],
                                capture_output=True, text=True, timeout=20)
        self.assertEqual(result.returncode, 2)
        self.assertIn("no secret key", result.stderr)


if __name__ == "__main__":
    run_main()
