"""client_worker - a Strata client inside the client's network namespace

    ip netns exec NS python3 client_worker.py ROUTER_ENDPOINT HISTORY_FILE CURVE_KEYS_FILE

Reads one JSON command a line on stdin, answers one JSON line on stdout.
Every put/get/rm/ls it sends to the router is also appended to
HISTORY_FILE (JSON lines: op, key, result, unified-id, digest, start, end,
message; times are CLOCK_MONOTONIC seconds, the same clock in every
process of the machine), for tests/multihost/history.py.

Commands:
    {"op": "put", "key": K, "size": N, "seed": S}   the object is payload(N, S)
    {"op": "stream", "key": K, "size": N, "seed": S, "chunk": C, "pause": P}
                                                     put-start / put-data / put-finish
    {"op": "prepare", "size": N, "seed": S}          makes that payload ahead of a stream
    {"op": "get", "key": K}                          reads every slice
    {"op": "rm", "key": K}
    {"op": "ls", "key": K}                           list-versions
    {"op": "ping"}                                   {"nodes": {name: reachable}}
    {"op": "stats", "endpoint": E}                   a node's stats map (or null)
Each op may carry "timeout" (seconds, default 30): the reply wait.
"""

import base64
import hashlib
import json
import os
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import msgpack  # noqa: E402
import zmq  # noqa: E402
from cluster_harness import RouterClient, RouterError, payload  # noqa: E402


def digest(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode("ascii")


class Worker:
    def __init__(self, endpoint, history_path, keys):
        self.context = zmq.Context()
        self.endpoint = endpoint
        self.keys = keys
        self.history = open(history_path, "a")
        self.client = None
        self.address = os.environ.get("STRATA_WORKER_ADDRESS", "127.0.0.1")

    def _client(self, timeout):
        if self.client is None:
            self.client = RouterClient(self.context, self.endpoint, timeout=timeout,
                                       curve_keys=self.keys)
        self.client.timeout = timeout
        return self.client

    def _reset(self):
        #   After a lost reply, a fresh socket: a late reply must not be
        #   taken for the next request's
        if self.client:
            self.client.close()
        self.client = None

    def record(self, op, key, start, result, uid=None, data_digest=None, message=None,
               versions=None):
        entry = {"op": op, "key": key, "start": start, "end": time.monotonic(),
                 "result": result, "unified-id": uid, "digest": data_digest,
                 "message": message}
        if versions is not None:
            entry["versions"] = versions
        self.history.write(json.dumps(entry) + "\n")
        self.history.flush()
        return entry

    def request(self, header, frames, timeout):
        try:
            return self._client(timeout).request(header, frames)
        except RouterError as error:
            self._reset()
            return {"result": "no-reply", "error-message": str(error)}, []

    def put(self, command, timeout):
        data = payload(command["size"], command.get("seed", 0))
        start = time.monotonic()
        frames = [data[offset:offset + (1 << 20)] for offset in range(0, len(data), 1 << 20)]
        reply, _ = self.request({"message-type": "put", "key": command["key"]}, frames, timeout)
        return self.record("put", command["key"], start, reply.get("result"),
                           reply.get("unified-id"), digest(data), reply.get("error-message"))

    def prepare(self, command, timeout):
        """Make payload(size, seed) now, so a later stream starts at once."""
        self.prepared = ((command["size"], command.get("seed", 0)),
                         payload(command["size"], command.get("seed", 0)))
        return {"result": "success"}

    def stream(self, command, timeout):
        """A streamed put (put-start, put-data of chunk bytes with pause
        seconds between them, put-finish), recorded as a put."""
        wanted = (command["size"], command.get("seed", 0))
        prepared = getattr(self, "prepared", None)
        data = prepared[1] if prepared and prepared[0] == wanted else payload(*wanted)
        chunk = command.get("chunk", 1 << 20)
        start = time.monotonic()
        key = command["key"]
        reply, _ = self.request({"message-type": "put-start", "key": key}, (), timeout)
        if reply.get("result") == "success":
            upload = reply["upload-id"]
            for offset in range(0, len(data), chunk):
                reply, _ = self.request({"message-type": "put-data", "upload-id": upload},
                                        [data[offset:offset + chunk]], timeout)
                if reply.get("result") != "success":
                    break
                time.sleep(command.get("pause", 0))
            else:
                reply, _ = self.request({"message-type": "put-finish", "upload-id": upload}, (),
                                        timeout)
        return self.record("put", key, start, reply.get("result"), reply.get("unified-id"),
                           digest(data), reply.get("error-message"))

    def get(self, command, timeout):
        key = command["key"]
        start = time.monotonic()
        reply, frames = self.request({"message-type": "get", "key": key}, (), timeout)
        first = reply
        parts = [b"".join(frames)]
        while reply.get("result") == "success" and not reply.get("completed"):
            reply, frames = self.request({"message-type": "get-next", "key": key,
                                          "unified-id": first["unified-id"],
                                          "slice-num": reply["slice-num"] + 1}, (), timeout)
            parts.append(b"".join(frames))
        if reply.get("result") != "success":
            return self.record("get", key, start, reply.get("result"),
                               message=reply.get("error-message"))
        data = b"".join(parts)
        return self.record("get", key, start, "success", first.get("unified-id"), digest(data))

    def rm(self, command, timeout):
        start = time.monotonic()
        reply, _ = self.request({"message-type": "delete", "key": command["key"]}, (), timeout)
        return self.record("rm", command["key"], start, reply.get("result"),
                           reply.get("unified-id"), None, reply.get("error-message"))

    def ls(self, command, timeout):
        start = time.monotonic()
        reply, _ = self.request({"message-type": "list-versions", "key": command["key"]}, (),
                                timeout)
        versions = [entry.get("unified-id") for entry in reply.get("versions") or []]
        return self.record("ls", command["key"], start, reply.get("result"), None, None,
                           reply.get("error-message"), versions)

    def ping(self, command, timeout):
        reply, _ = self.request({"message-type": "ping"}, (), timeout)
        nodes = {entry["name"]: entry["reachable"] for entry in reply.get("nodes") or []}
        return {"result": reply.get("result"), "nodes": nodes, "at": time.monotonic(),
                "handoff-writes": reply.get("handoff-writes")}

    def stats(self, command, timeout):
        pull = self.context.socket(zmq.PULL)
        push = self.context.socket(zmq.PUSH)
        try:
            for sock in (pull, push):
                sock.setsockopt(zmq.LINGER, 0)
                if self.keys:
                    sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = self.keys
            port = pull.bind_to_random_port("tcp://%s" % self.address)
            push.connect(command["endpoint"])
            header = {"message-type": "stats", "message-id": uuid.uuid4().hex,
                      "client-tag": "multihost", "client-address": "tcp://%s:%d" % (self.address, port)}
            push.send(msgpack.packb(header, use_bin_type=True))
            deadline = time.monotonic() + timeout
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not pull.poll(int(remaining * 1000)):
                    return {"stats": None}
                reply = msgpack.unpackb(pull.recv_multipart()[0], raw=False, strict_map_key=False)
                if reply.get("message-id") == header["message-id"]:
                    return {"stats": reply.get("stats")}
        finally:
            pull.close()
            push.close()


def main():
    endpoint, history_path, keys_path = sys.argv[1:4]
    keys = None
    if keys_path != "-":
        with open(keys_path) as handle:
            keys = tuple(part.encode() for part in handle.read().split())
    worker = Worker(endpoint, history_path, keys)
    actions = {"put": worker.put, "stream": worker.stream, "prepare": worker.prepare, "get": worker.get, "rm": worker.rm, "ls": worker.ls,
               "ping": worker.ping, "stats": worker.stats}
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        answer = actions[command["op"]](command, command.get("timeout", 30))
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
