#!/usr/bin/python3
"""Write the seed corpus of fuzz_request_decode and its dictionary.

Run with Debian's python3 (python3-msgpack):  /usr/bin/python3 tests/fuzz/make_corpus.py
The output is deterministic; the files are committed, this script is how
they were made. Valid headers of every family, and invalid ones that reach
each class of error, so the fuzzer starts from every branch.
"""
import base64
import hashlib
import os

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus", "fuzz_request_decode")
DICT = os.path.join(HERE, "fuzz_request_decode.dict")

MD5 = hashlib.md5(b"hello").digest()
MD5_B64 = base64.b64encode(MD5).decode()
ECHO = {"message-id": "m1", "client-tag": "t1", "client-address": "tcp://127.0.0.1:9000"}
SEGMENT = {
    "collection-id": 1, "key": "k/é", "unified-id": 2**64 - 1,
    "timestamp-repr": "2026-11-21T23:34:52.123456Z", "segment-num": 1,
    "segment-size": 5, "zfec-padding-size": 0, "segment-md5-digest": MD5_B64,
    "source-node-name": "node01",
}


def pack(obj):
    return msgpack.packb(obj, use_bin_type=True)


def header(message_type, **fields):
    return dict({"message-type": message_type}, **ECHO, **fields)


SEEDS = {
    "valid-entire-full": pack(header(
        "archive-key-entire", **SEGMENT, **{
            "conjoined-part": 0, "segment-adler32": -5, "handoff-node-name": None,
            "file-size": 5, "file-adler32": 2**32 - 1, "file-hash": MD5,
            "meta": {"a": "1", "b": "2"}, "user-request-id": "r1"})),
    "valid-entire-legacy-timestamp": pack(header(
        "archive-key-entire", **dict(SEGMENT, **{
            "timestamp-repr": "datetime.datetime(2011, 6, 30, 13, 52, 34, 720271)"}),
        **{"file-size": 5, "file-hash": MD5_B64})),
    "valid-start": pack(header("archive-key-start", **SEGMENT, **{"sequence-num": 0})),
    "valid-next-handoff": pack(header(
        "archive-key-next", **SEGMENT, **{"sequence-num": 1, "handoff-node-name": "node02"})),
    "valid-final-meta": pack(header(
        "archive-key-final", **SEGMENT, **{
            "sequence-num": 2, "file-size": 15, "file-hash": MD5_B64, "meta": {"x": ""}})),
    "valid-cancel": pack(header("archive-key-cancel", **{"unified-id": 7, "segment-num": 3})),
    "valid-destroy": pack(header("destroy-key", **{
        "collection-id": 1, "key": "k", "unified-id": 9, "unified-id-to-delete": None,
        "timestamp-repr": "2026-11-21T23:34:52+00:00", "segment-num": 2,
        "source-node-name": "node01"})),
    "valid-start-conjoined": pack(header("start-conjoined-archive", **{
        "collection-id": 1, "key": "k", "unified-id": 9,
        "timestamp-repr": "2026-11-21T23:34:52Z"})),
    "valid-web-writer-start-legacy": pack({
        "message-type": "web-writer-start", "message-id": "m", "unified_id": 1,
        "source_node_name": "node01",
        "timestamp_repr": "datetime.datetime(2011, 6, 30, 13, 52)"}),
    "valid-ping": pack({"message-type": "ping", "message-id": "p"}),
    "valid-retrieve-start": pack(header("retrieve-key-start", **{
        "collection-id": 1, "key": "k", "segment-num": 4})),
    "valid-retrieve-next": pack(header("retrieve-key-next", **{
        "collection-id": 1, "key": "k", "unified-id": 5, "segment-num": 4,
        "sequence-num": 1})),
    "invalid-not-a-map": pack(["message-type", "ping"]),
    "invalid-unknown-type": pack(header("archive-key-everything")),
    "invalid-tag-missing": pack({"message-type": "ping", "message-id": "m",
                                 "client-address": "tcp://127.0.0.1:9"}),
    "invalid-segment-num-0": pack(header("archive-key-start", **dict(
        SEGMENT, **{"segment-num": 0, "sequence-num": 0}))),
    "invalid-trailing-bytes": pack({"message-type": "ping", "message-id": "m"}) + b"\xc0",
    "invalid-int-key": pack({1: 2, "message-type": "ping", "message-id": "m"}),
    "invalid-truncated": pack(header("archive-key-start", **SEGMENT))[:60],
    "invalid-huge-map": b"\xdf\x10\x00\x00\x00",
}

DICT_WORDS = [
    "message-type", "message-id", "client-tag", "client-address", "user-request-id",
    "collection-id", "key", "unified-id", "timestamp-repr", "conjoined-part",
    "segment-num", "sequence-num", "segment-size", "zfec-padding-size",
    "segment-md5-digest", "segment-adler32", "source-node-name", "handoff-node-name",
    "file-size", "file-adler32", "file-hash", "meta", "unified-id-to-delete",
    "source_node_name", "timestamp_repr",
    "archive-key-entire", "archive-key-start", "archive-key-next", "archive-key-final",
    "archive-key-cancel", "destroy-key", "start-conjoined-archive",
    "abort-conjoined-archive", "finish-conjoined-archive", "web-writer-start",
    "sync-value-file", "ping", "stats", "retrieve-key-start", "retrieve-key-next",
    "2026-11-21T23:34:52.123456Z", "datetime.datetime(2011, 6, 30, 13, 52, 34, 720271)",
    MD5_B64,
]


def dict_entry(data):
    return '"' + "".join("\\x%02x" % b for b in data) + '"'


def main():
    os.makedirs(CORPUS, exist_ok=True)
    for name, data in sorted(SEEDS.items()):
        with open(os.path.join(CORPUS, name), "wb") as out:
            out.write(data)
    with open(DICT, "w") as out:
        out.write("# libFuzzer dictionary for fuzz_request_decode: the protocol's\n"
                  "# keys and values as packed MessagePack strings, and type bytes.\n"
                  "# Written by make_corpus.py.\n")
        for word in DICT_WORDS:
            out.write(dict_entry(pack(word)) + "\n")
        for marker in (b"\xc0", b"\xc3", b"\xc4\x10", b"\xcf", b"\xd3", b"\xd9", b"\xdc",
                       b"\xde", b"\xdf", b"\xdd", b"\xca", b"\xcb"):
            out.write(dict_entry(marker) + "\n")
    print("wrote %d seeds to %s and %s" % (len(SEEDS), CORPUS, DICT))


if __name__ == "__main__":
    main()
