"""Integration tests: bad input never stops strata-node (proto/PROTOCOL.md,
"Errors"; docs/architecture.md, "Guarantees"; docs/security.md).

Garbage frames, non-map headers, non-string keys, empty messages, huge
declared sizes, floods of tiny garbage, enormous headers, requests without a
reply address, and reply addresses the node must never connect to. After each
battery the node still answers ping, and the counters say what was dropped.

Run: /usr/bin/python3 tests/integration/test_bad_input.py
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from strata_harness import (  # noqa: E402
    Client, Segment, StrataTestCase, new_message_id, pack_map, run_main,
)

import msgpack  # noqa: E402
import zmq  # noqa: E402


def packb(value):
    return msgpack.packb(value, use_bin_type=True)


class BadInputTest(StrataTestCase):
    test_timeout = 120

    def assertStillServing(self, client=None):
        client = client or self.client
        reply = client.ping(timeout=15)
        self.assertEqual(reply.get("message-type"), "ping-reply")
        self.assertEqual(reply.get("result"), "success")
        # and it still stores data
        payload = b"still alive" * 10
        sent = client.send(Segment().entire(payload), [payload])
        reply, _ = client.wait_for(sent["message-id"], 10)
        self.assertEqual(reply.get("result"), "success", reply)

    # -- garbage with no usable reply address: dropped, counted ------------

    GARBAGE = [
        b"\xc1",                                    # never-used msgpack byte
        b"\xff\xfe\xfd garbage \x00\x01",
        b"hello world",
        b"\x81",                                    # map of 1, truncated
        b"\xdf\xff\xff\xff\xff",                    # map of 4G entries, no body
        b"\xdd\xff\xff\xff\xff",                    # array of 4G, no body
        b"\xdb\xff\xff\xff\xff",                    # str of 4G, no body
        b"\xc6\x7f\xff\xff\xff",                    # bin of 2G, no body
        packb([1, 2, 3]),                           # array
        packb("a string"),
        packb(5),
        packb(None),
        packb(b"bin"),
        packb(3.25),
        packb({1: "x", 2: "y"}),                    # int keys
        packb({b"message-type": "ping"}),           # bin key
        b"",                                        # empty frame 0
        b"\x80",                                    # empty map
        packb({"message-type": "ping", "message-id": "x"}) + b"\x00",   # trailing
    ]

    def test_garbage_frames_then_ping(self):
        before = self.client.stats()
        for frame in self.GARBAGE:
            self.client.send_raw([frame])
            self.client.send_raw([frame, b"data", b"more data"])
        self.assertStillServing()
        self.client.expect_no_reply(0.5)
        after = self.client.stats()
        self.assertGreaterEqual(after["requests-dropped"] - before["requests-dropped"],
                                2 * len(self.GARBAGE),
                                "garbage without a reply address must be counted "
                                "in requests-dropped")

    def test_empty_and_zero_length_frames(self):
        self.client.send_raw([b""])
        self.client.send_raw([b"", b""])
        self.client.send_raw([b"", b"payload without header"])
        self.client.send_raw([b""] * 1000)
        self.assertStillServing()

    def test_hundred_thousand_tiny_garbage_messages(self):
        before = self.client.stats()
        count = 100000
        kinds = [b"\xc1", b"\x93\x01\x02\x03", b"", b"\x81\x01\x02", b"x"]
        begin = time.monotonic()
        for index in range(count):
            self.client.send_raw([kinds[index % len(kinds)]])
        sent_time = time.monotonic() - begin
        self.assertStillServing()
        elapsed = time.monotonic() - begin
        after = self.client.stats()
        sys.stderr.write("  %d garbage messages sent in %.2f s, ping after %.2f s\n"
                         % (count, sent_time, elapsed))
        self.assertGreaterEqual(after["requests-dropped"] - before["requests-dropped"],
                                count)

    def test_header_with_ten_thousand_unknown_keys(self):
        pairs = [("x-unknown-%05d" % index, index) for index in range(10000)]
        message_id = new_message_id()
        pairs += [("message-type", "ping"), ("message-id", message_id),
                  ("client-tag", "big"), ("client-address", self.client.address)]
        self.client.send_raw([pack_map(pairs)])
        reply, _ = self.client.wait_for(message_id, 10)
        self.assertEqual(reply.get("message-type"), "ping-reply")
        self.assertEqual(reply.get("result"), "success")
        # the same with a real archive request
        payload = b"p" * 100
        header = Segment().entire(payload)
        message_id = new_message_id()
        header.update({"message-id": message_id, "client-tag": "big",
                       "client-address": self.client.address})
        pairs = [("x-unknown-%05d" % index, "v") for index in range(10000)]
        pairs += list(header.items())
        self.client.send_raw([pack_map(pairs), payload])
        reply, _ = self.client.wait_for(message_id, 10)
        self.assertEqual(reply.get("result"), "success", reply)
        self.assertStillServing()

    def test_header_too_large(self):
        # a header far over any sane limit (4 MiB of unknown keys) with a reply
        # address: either an invalid-request reply or a counted drop
        before = self.client.stats()
        message_id = new_message_id()
        pairs = [("message-type", "ping"), ("message-id", message_id),
                 ("client-tag", "huge"), ("client-address", self.client.address)]
        pairs += [("k%07d" % index, "v" * 64) for index in range(60000)]
        self.client.send_raw([pack_map(pairs)])
        try:
            reply, _ = self.client.wait_for(message_id, 3)
            self.assertEqual(reply.get("result"), "invalid-request", reply)
        except AssertionError as error:
            if "no reply" not in str(error):
                raise
            after = self.client.stats()
            self.assertGreater(after["requests-dropped"], before["requests-dropped"])
        self.assertStillServing()

    # -- malformed headers that still carry a reply address ----------------

    def test_non_string_key_with_reply_address(self):
        message_id = new_message_id()
        header = pack_map([("message-type", "ping"), ("message-id", message_id),
                           ("client-tag", "nsk"),
                           ("client-address", self.client.address),
                           (7, "seven")])
        self.client.send_raw([header])
        reply, _ = self.client.wait_for(message_id)
        self.assertEqual(reply.get("result"), "invalid-request", reply)
        self.assertIsInstance(reply.get("error-message"), str)
        self.assertStillServing()

    def test_trailing_bytes_after_header_with_reply_address(self):
        message_id = new_message_id()
        header = packb({"message-type": "ping", "message-id": message_id,
                        "client-tag": "trail",
                        "client-address": self.client.address})
        self.client.send_raw([header + b"\xc0"])
        reply, _ = self.client.wait_for(message_id)
        self.assertEqual(reply.get("result"), "invalid-request", reply)
        self.assertStillServing()

    def test_huge_declared_segment_size_without_data(self):
        payload = b"abc"
        for declared in (2 ** 40, 2 ** 63, 2 ** 64 - 1):
            with self.subTest(declared=declared):
                header = Segment().entire(payload, **{"segment-size": declared,
                                                      "file-size": declared})
                sent = self.client.send(header, [])
                reply, _ = self.client.wait_for(sent["message-id"])
                self.assertIn(reply.get("result"), ("size-mismatch", "invalid-request"),
                              reply)
                segment = Segment()
                sent = self.client.send(segment.start(payload, **{"segment-size": declared}),
                                        [payload])
                reply, _ = self.client.wait_for(sent["message-id"])
                self.assertIn(reply.get("result"), ("size-mismatch", "invalid-request"),
                              reply)
        self.assertStillServing()

    def test_too_many_frames(self):
        # more data frames than max-frames (20000 by default): refused or
        # dropped, never stored as success; the node goes on
        frames = [b"x"] * 25000
        payload = b"".join(frames)
        sent = self.client.send(Segment().entire(payload), frames)
        try:
            reply, _ = self.client.wait_for(sent["message-id"], 5)
            self.assertNotEqual(reply.get("result"), "success", reply)
        except AssertionError as error:
            if "no reply" not in str(error):
                raise
        self.assertStillServing(self.new_client())

    def test_wrong_types_for_message_type(self):
        for value in (12, None, b"ping", ["ping"], {"a": "b"}, "", "p" * 1000):
            with self.subTest(value=value):
                message_id = new_message_id()
                self.client.send({"message-type": value, "message-id": message_id})
                reply, _ = self.client.wait_for(message_id)
                self.assertIn(reply.get("result"),
                              ("invalid-request", "unknown-message-type"), reply)
                message = reply.get("error-message") or ""
                self.assertTrue("message-type" in message
                                or (isinstance(value, str) and value and value in message),
                                "error-message does not name message-type: %r" % (reply,))
        self.assertStillServing()

    # -- no reply address -------------------------------------------------

    def test_requests_without_client_address_get_no_reply(self):
        payload = b"q" * 100
        no_address = {"client-address": None, "client-tag": None}
        self.client.send(dict({"message-type": "ping"}, **no_address))
        self.client.send(dict({"message-type": "stats"}, **no_address))
        self.client.send(dict({"message-type": "bogus-type"}, **no_address))
        self.client.send(dict(Segment().entire(payload), **no_address), [payload])
        self.client.send(dict(Segment().entire(payload, **{"segment-size": 1}),
                              **no_address), [payload])
        self.client.send(dict({"message-type": "archive-key-entire"}, **no_address))
        self.client.send({"message-type": "ping", "message-id": None,
                          "client-address": None, "client-tag": None})
        self.client.expect_no_reply(1.0)
        # a fire-and-forget start takes effect: a later next continues it
        segment = Segment()
        self.client.send(dict(segment.start(payload), **no_address), [payload])
        sent = self.client.send(segment.next(payload, 1), [payload])
        reply, _ = self.client.wait_for(sent["message-id"])
        self.assertEqual(reply.get("result"), "success", reply)
        self.assertStillServing()

    # -- reply addresses the node must not connect to ----------------------

    def _assert_not_connected(self, addresses, watcher=None):
        before = self.client.stats()
        for address in addresses:
            self.client.send({"message-type": "ping", "client-address": address})
            payload = b"z" * 10
            self.client.send(dict(Segment().entire(payload),
                                  **{"client-address": address}), [payload])
        if watcher is not None:
            watcher.expect_no_reply(1.5)
        stats = self.wait_stats(
            lambda s: s["requests-dropped"] - before["requests-dropped"]
            >= 2 * len(addresses), timeout=5)
        self.assertGreaterEqual(stats["requests-dropped"] - before["requests-dropped"],
                                2 * len(addresses),
                                "requests with disallowed client-address not counted")
        self.client.expect_no_reply(0.2)
        self.assertStillServing()

    def test_disallowed_client_addresses_are_dropped(self):
        watcher = self.new_client(tag="watcher")
        port = int(watcher.address.rsplit(":", 1)[1])
        self._assert_not_connected([
            "tcp://10.255.255.1:5555",
            "tcp://192.0.2.1:5555",
            "tcp://0.0.0.0:%d" % port,              # reaches our PULL if connected
            "tcp://127.0.0.1:%d;10.0.0.1:2" % port,  # source;destination form
            "tcp://10.0.0.1:2;127.0.0.1:%d" % port,
            "tcp://[::ffff:10.0.0.1]:5555",
            "udp://127.0.0.1:%d" % port,
            "inproc://something",
            "pgm://eth0;239.192.1.1:5555",
            "garbage",
            "tcp://127.0.0.1:" + "9" * 300,         # over the address limit
        ], watcher)

    def test_ipc_reply_address_allowed_by_default(self):
        path = os.path.join(self.workdir, "reply.ipc")
        ipc = Client(self.context, self.node.writer, address="ipc://" + path,
                     tag="ipc")
        self.clients.append(ipc)
        reply = ipc.ping()
        self.assertEqual(reply.get("message-type"), "ping-reply")
        self.assertEqual(reply.get("client-address"), "ipc://" + path)

    def test_oversized_message_does_not_stop_node(self):
        # over the default max-message-bytes (64 MiB)
        payload = b"\0" * (65 * 1024 * 1024)
        client = self.new_client(tag="big")
        client.send(Segment().entire(payload), [payload])
        del payload
        self.assertStillServing(self.new_client(tag="after-big"))


class NoIpcConfigTest(StrataTestCase):
    """reply ipc = 0 in the config: ipc:// reply addresses are refused."""
    node_config = "reply\n    ipc = 0\n"

    def test_ipc_reply_address_refused(self):
        path = os.path.join(self.workdir, "reply.ipc")
        ipc = Client(self.context, self.node.writer, address="ipc://" + path,
                     tag="ipc")
        self.clients.append(ipc)
        before = self.client.stats()
        ipc.send({"message-type": "ping"})
        ipc.expect_no_reply(1.5)
        stats = self.wait_stats(
            lambda s: s["requests-dropped"] > before["requests-dropped"], timeout=5)
        self.assertGreater(stats["requests-dropped"], before["requests-dropped"])
        self.assertEqual(self.client.ping().get("message-type"), "ping-reply")


class SmallLimitsConfigTest(StrataTestCase):
    """A configured max-message-bytes: a larger request never succeeds, and
    the node goes on serving (a fresh client too)."""
    node_config = "node\n    max-message-bytes = 1048576\n"

    def test_message_over_configured_limit(self):
        payload = b"\1" * (2 * 1024 * 1024)
        client = self.new_client(tag="big")
        sent = client.send(Segment().entire(payload), [payload])
        try:
            reply, _ = client.wait_for(sent["message-id"], 3)
            self.assertNotEqual(reply.get("result"), "success", reply)
        except AssertionError as error:
            if "no reply" not in str(error):
                raise
        fresh = self.new_client(tag="fresh")
        self.assertEqual(fresh.ping().get("message-type"), "ping-reply")
        small = b"s" * 1000
        sent = fresh.send(Segment().entire(small), [small])
        reply, _ = fresh.wait_for(sent["message-id"])
        self.assertEqual(reply.get("result"), "success", reply)


if __name__ == "__main__":
    run_main()
