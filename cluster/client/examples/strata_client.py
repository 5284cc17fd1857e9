#!/usr/bin/env python3
"""strata_client.py - another service archiving to and retrieving from a
Strata cluster through strata-router, with nothing but pyzmq and msgpack
(Debian: python3-zmq, python3-msgpack). The protocol is cluster/ROUTER.md.

    /usr/bin/python3 cluster/client/examples/strata_client.py             # a short demonstration
    /usr/bin/python3 cluster/client/examples/strata_client.py put KEY FILE
    /usr/bin/python3 cluster/client/examples/strata_client.py get KEY FILE

(/usr/bin/python3: Debian's Python, the one python3-zmq and python3-msgpack
install into; another python3 first on PATH may lack them.)

Start a cluster first with `make cluster`. --router ENDPOINT (or the
STRATA_ROUTER environment variable) chooses the router; the default is
tcp://127.0.0.1:8000.
"""

import argparse
import base64
import hashlib
import os
import sys
import uuid

try:
    import msgpack
    import zmq
except ImportError as missing:
    sys.stderr.write("strata_client.py: %s: it needs pyzmq and msgpack for this Python (%s).\n"
                     "On Debian: apt install python3-zmq python3-msgpack, and run it with\n"
                     "/usr/bin/python3; elsewhere: pip install pyzmq msgpack.\n"
                     % (missing, sys.executable))
    sys.exit(2)

MAX_PUT_BYTES = 64 * 1024 * 1024    # larger objects must be streamed


class StrataError(Exception):
    """A request failed: .result is the router's result code."""

    def __init__(self, result, message):
        super().__init__("%s: %s" % (result, message))
        self.result = result


class StrataRouter:
    """A connection to strata-router: one DEALER socket; every request has a
    request-id and the reply carrying it is the answer."""

    def __init__(self, endpoint, timeout=60.0):
        self.endpoint = endpoint
        self.timeout = timeout
        self.socket = zmq.Context.instance().socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)

    def close(self):
        self.socket.close()

    def request(self, header, frames=()):
        """Send header (a dict) and data frames; return (reply, data frames)
        of a successful reply, else raise StrataError."""
        header = dict(header, **{"request-id": uuid.uuid4().hex})
        self.socket.send_multipart([msgpack.packb(header)] + list(frames))
        while True:
            if not self.socket.poll(int(self.timeout * 1000)):
                raise StrataError("no-reply", "no reply from %s within %.0f s"
                                  % (self.endpoint, self.timeout))
            frames = self.socket.recv_multipart()
            reply = msgpack.unpackb(frames[0], raw=False)
            if reply.get("request-id") == header["request-id"]:
                break               # anything else answers an abandoned request
        if reply["result"] != "success":
            raise StrataError(reply["result"], reply.get("error-message"))
        return reply, frames[1:]

    def archive(self, key, data, collection_id=0, meta=None):
        """Store data (bytes) under key; returns the new unified-id."""
        if len(data) > MAX_PUT_BYTES:
            return self.archive_stream(key, [data], collection_id, meta)
        header = {"message-type": "put", "collection-id": collection_id, "key": key}
        if meta:
            header["meta"] = meta
        reply, _ = self.request(header, [data])
        return self._check_stored(reply, len(data), hashlib.md5(data))

    def archive_stream(self, key, chunks, collection_id=0, meta=None):
        """Store the concatenation of chunks (any iterable of bytes, e.g. a
        file read piece by piece) without holding it all in memory."""
        header = {"message-type": "put-start", "collection-id": collection_id, "key": key}
        if meta:
            header["meta"] = meta
        reply, _ = self.request(header)
        upload = {"upload-id": reply["upload-id"]}
        slice_size = reply["slice-size"]
        md5, size, pending = hashlib.md5(), 0, b""
        try:
            for chunk in chunks:
                pending += chunk
                while len(pending) >= slice_size:
                    self._put_data(upload, pending[:slice_size], md5)
                    size += slice_size
                    pending = pending[slice_size:]
            if pending:
                self._put_data(upload, pending, md5)
                size += len(pending)
            reply, _ = self.request(dict(upload, **{"message-type": "put-finish"}))
        except BaseException:
            try:
                self.request(dict(upload, **{"message-type": "put-abort"}))
            except StrataError:
                pass
            raise
        return self._check_stored(reply, size, md5)

    def _put_data(self, upload, data, md5):
        self.request(dict(upload, **{"message-type": "put-data"}), [data])
        md5.update(data)

    @staticmethod
    def _check_stored(reply, size, md5):
        if reply["size"] != size or reply["file-hash"] != base64.b64encode(md5.digest()).decode():
            raise StrataError("data-error", "the router stored something else than was sent")
        return reply["unified-id"]

    def retrieve(self, key, unified_id=None, collection_id=0):
        """The object under key (its newest version, or unified_id) as bytes,
        slice after slice, checked against its MD5."""
        header = {"message-type": "get", "collection-id": collection_id, "key": key}
        if unified_id is not None:
            header["unified-id"] = unified_id
        reply, frames = self.request(header)
        first, parts = reply, frames
        while not reply["completed"]:
            reply, frames = self.request({
                "message-type": "get-next", "collection-id": collection_id, "key": key,
                "unified-id": first["unified-id"], "slice-num": reply["slice-num"] + 1})
            parts += frames
        data = b"".join(parts)
        if len(data) != first["size"] \
                or base64.b64encode(hashlib.md5(data).digest()).decode() != first["file-hash"]:
            raise StrataError("data-error", "the object failed its MD5 check")
        return data

    def versions(self, key, collection_id=0):
        reply, _ = self.request({"message-type": "list-versions",
                                 "collection-id": collection_id, "key": key})
        return reply["versions"]

    def delete(self, key, collection_id=0):
        self.request({"message-type": "delete", "collection-id": collection_id, "key": key})

    def ping(self):
        return self.request({"message-type": "ping"})[0]


def demonstrate(router):
    """Archive a message and a larger streamed object, read them back,
    list versions, delete. Raises on any failure."""
    ping = router.ping()
    reachable = sum(1 for node in ping["nodes"] if node["reachable"])
    print("router: cluster %s, %d of %d nodes reachable"
          % (ping["cluster"], reachable, len(ping["nodes"])))

    key = "example/%s" % uuid.uuid4().hex
    message = b"a message from a Python service"
    first = router.archive(key, message, meta={"content-type": "text/plain"})
    second = router.archive(key, message + b", second edition")
    print("archived %s: versions %d and %d" % (key, first, second))
    assert router.retrieve(key) == message + b", second edition"
    assert router.retrieve(key, unified_id=first) == message
    assert [entry["unified-id"] for entry in router.versions(key)] == [second, first]

    big = os.urandom(1 << 20) * 24           # 24 MiB, sent in 1 MiB pieces
    streamed = router.archive_stream(key + "/big", (big[i:i + (1 << 20)]
                                                    for i in range(0, len(big), 1 << 20)))
    assert router.retrieve(key + "/big") == big
    print("streamed and read back %d bytes as version %d" % (len(big), streamed))

    for name in (key, key + "/big"):
        router.delete(name)
    try:
        router.retrieve(key)
        raise AssertionError("a deleted key was still readable")
    except StrataError as error:
        assert error.result == "not-found", error
    print("deleted; a get now answers not-found")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--router", default=os.environ.get("STRATA_ROUTER", "tcp://127.0.0.1:8000"))
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per reply")
    parser.add_argument("command", nargs="?", default="demo", choices=("demo", "put", "get"))
    parser.add_argument("key", nargs="?")
    parser.add_argument("file", nargs="?")
    args = parser.parse_args()
    if args.command != "demo" and not (args.key and args.file):
        parser.error("%s needs KEY and FILE" % args.command)

    router = StrataRouter(args.router, args.timeout)
    try:
        if args.command == "put":
            with open(args.file, "rb") as handle:
                chunks = iter(lambda: handle.read(1 << 20), b"")
                print(router.archive_stream(args.key, chunks))
        elif args.command == "get":
            data = router.retrieve(args.key)
            with open(args.file, "wb") as handle:
                handle.write(data)
        else:
            demonstrate(router)
    except (StrataError, OSError, AssertionError) as error:
        print("strata_client: %s" % error, file=sys.stderr)
        return 1
    finally:
        router.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
