#!/usr/bin/python3
"""Write the seed corpora of the libFuzzer targets and their dictionaries.

Run with Debian's python3 (python3-msgpack):  /usr/bin/python3 tests/fuzz/make_corpus.py
The output is deterministic; the files are committed, this script is how
they were made. For each target: valid inputs of every kind, and invalid
ones that reach each class of error, so the fuzzer starts from every branch.

  corpus/fuzz_request_decode/   node request headers (frame 0)
  corpus/fuzz_router_request/   router request headers (frame 0)
  corpus/fuzz_value_record/     whole value files
  corpus/fuzz_recovery_scan/    a flags byte, then value file content
                                (see fuzz_recovery_scan.c)
  corpus/fuzz_config/           ZPL configuration and cluster files

Value file records carry a CRC32C; it is computed with ISA-L's
crc32_iscsi (the library strata uses, through ctypes), inverted in and
out as common/digest.c does.
"""
import base64
import ctypes
import hashlib
import os
import shutil
import struct

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))

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


# ---------------------------------------------------------------------------
# fuzz_request_decode

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


MARKERS = (b"\xc0", b"\xc3", b"\xc4\x10", b"\xcf", b"\xd3", b"\xd9", b"\xdc",
           b"\xde", b"\xdf", b"\xdd", b"\xca", b"\xcb")


# ---------------------------------------------------------------------------
# fuzz_router_request (ROUTER.md)

ROUTER_SEEDS = {
    "valid-put": pack({"message-type": "put", "request-id": "r1", "collection-id": 1,
                       "key": "photos/cat.jpg", "meta": {"content-type": "image/jpeg"}}),
    "valid-put-nil-meta": pack({"message-type": "put", "request-id": "r2", "key": "k",
                                "meta": None}),
    "valid-put-start": pack({"message-type": "put-start", "request-id": "r3", "key": "big"}),
    "valid-put-data": pack({"message-type": "put-data", "request-id": "r4",
                            "upload-id": "0123456789abcdef"}),
    "valid-put-finish": pack({"message-type": "put-finish", "request-id": "r5",
                              "upload-id": "u"}),
    "valid-put-abort": pack({"message-type": "put-abort", "request-id": "r6", "upload-id": "u"}),
    "valid-delete": pack({"message-type": "delete", "request-id": "r7", "collection-id": 2,
                          "key": "k", "unified-id": 2**64 - 1}),
    "valid-get": pack({"message-type": "get", "request-id": "r8", "key": "k",
                       "unified-id": None}),
    "valid-get-next": pack({"message-type": "get-next", "request-id": "r9", "key": "k",
                            "unified-id": 7, "slice-num": 3}),
    "valid-list-versions": pack({"message-type": "list-versions", "request-id": "r10",
                                 "key": "k", "extra": [1, 2]}),
    "valid-ping": pack({"message-type": "ping", "request-id": "p"}),
    "invalid-no-request-id": pack({"message-type": "ping"}),
    "invalid-unknown-type": pack({"message-type": "put-everything", "request-id": "r"}),
    "invalid-key-twice": b"\x84" + b"".join(pack(item) for item in (
        "message-type", "get", "request-id", "r", "key", "a", "key", "b")),
    "invalid-key-nul": pack({"message-type": "get", "request-id": "r", "key": "a\0b"}),
    "invalid-meta-not-strings": pack({"message-type": "put", "request-id": "r", "key": "k",
                                      "meta": {"a": 1}}),
    "invalid-get-next-no-slice": pack({"message-type": "get-next", "request-id": "r",
                                       "key": "k", "unified-id": 1}),
    "invalid-collection-negative": pack({"message-type": "get", "request-id": "r", "key": "k",
                                         "collection-id": -1}),
    "invalid-int-key": pack({1: 2, "message-type": "ping", "request-id": "r"}),
    "invalid-trailing": pack({"message-type": "ping", "request-id": "r"}) + b"\xc0",
    "invalid-truncated": pack({"message-type": "put", "request-id": "r", "key": "kkkk"})[:20],
}

ROUTER_DICT_WORDS = [
    "message-type", "request-id", "collection-id", "key", "meta", "unified-id", "slice-num",
    "upload-id", "put", "put-start", "put-data", "put-finish", "put-abort", "delete", "get",
    "get-next", "list-versions", "ping",
]


# ---------------------------------------------------------------------------
# Value files (docs/storage.md, "Value file record format")

RECORD_SEQUENCE, RECORD_FINISH, RECORD_CANCEL, RECORD_TOMBSTONE, RECORD_CONJOINED, \
    RECORD_PURGE = 1, 2, 3, 4, 5, 6
MAGIC = 0x31525453
HEADER = struct.Struct("<IHHIIQQIIIB3s16s")     # 64 bytes, as in node/store/value_file.c
assert HEADER.size == 64

_isal = ctypes.CDLL("libisal.so.2")
_isal.crc32_iscsi.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_uint]
_isal.crc32_iscsi.restype = ctypes.c_uint


def crc32c(data, crc=0):
    """Standard CRC32C, continued from crc: ISA-L's raw register inverted in and out."""
    return ~_isal.crc32_iscsi(data, len(data), ~crc & 0xFFFFFFFF) & 0xFFFFFFFF


def record(record_type, descriptor, payload=b"", unified_id=0, collection_id=0,
           conjoined_part=0, sequence_num=0, segment_num=0, md5=None, version=1,
           reserved=b"\0\0\0", crc=None, descriptor_size=None, payload_size=None):
    """One record, as value_file_append writes it (crc computed unless given)."""
    md5 = hashlib.md5(payload).digest() if md5 is None else md5
    fields = [MAGIC, version, record_type,
              len(descriptor) if descriptor_size is None else descriptor_size, 0,
              len(payload) if payload_size is None else payload_size,
              unified_id, collection_id, conjoined_part, sequence_num, segment_num,
              reserved, md5]
    if crc is None:
        crc = crc32c(payload, crc32c(descriptor, crc32c(HEADER.pack(*fields))))
    fields[4] = crc
    return HEADER.pack(*fields) + descriptor + payload


FILE_HEAD = {"collection-id": 1, "key": "k", "timestamp-repr": "2026-11-21T23:34:52.000001Z",
             "source-node-name": "node01"}


def sequence(message_type, unified_id, sequence_num, payload, key="k", part=0, segment_num=1,
             **extra):
    """A sequence record of archive-key-entire/start/next/final, header and
    descriptor agreeing, as the writer writes one."""
    fields = dict(FILE_HEAD, **{
        "key": key, "unified-id": unified_id, "conjoined-part": part,
        "segment-num": segment_num, "sequence-num": sequence_num,
        "segment-size": len(payload), "zfec-padding-size": 0,
        "segment-md5-digest": base64.b64encode(hashlib.md5(payload).digest()).decode()})
    if message_type in ("archive-key-entire", "archive-key-final"):
        fields.update({"file-size": len(payload), "file-hash": MD5_B64, "file-adler32": 1})
    fields.update(extra)
    descriptor = pack(header(message_type, **fields))
    return record(RECORD_SEQUENCE, descriptor, payload, unified_id=unified_id, collection_id=1,
                  conjoined_part=part, sequence_num=sequence_num, segment_num=segment_num)


def cancel(unified_id, segment_num=1, part=0):
    descriptor = pack(header("archive-key-cancel", **{
        "unified-id": unified_id, "segment-num": segment_num, "conjoined-part": part}))
    return record(RECORD_CANCEL, descriptor, unified_id=unified_id, conjoined_part=part,
                  segment_num=segment_num)


def web_writer_start(unified_id=0, segment_num=0):
    descriptor = pack({"message-type": "web-writer-start", "message-id": "w", "unified-id": 9,
                       "source-node-name": "node01",
                       "timestamp-repr": "2026-11-21T23:34:53Z"})
    return record(RECORD_CANCEL, descriptor, unified_id=unified_id, segment_num=segment_num)


def tombstone(unified_id, key="k"):
    descriptor = pack(header("destroy-key", **dict(FILE_HEAD, **{
        "key": key, "unified-id": unified_id, "unified-id-to-delete": None,
        "segment-num": 1})))
    return record(RECORD_TOMBSTONE, descriptor, unified_id=unified_id, collection_id=1,
                  segment_num=1)


def conjoined(message_type, unified_id, key="k"):
    fields = {"collection-id": 1, "key": key, "unified-id": unified_id,
              "timestamp-repr": "2026-11-21T23:34:52Z"}
    if message_type == "start-conjoined-archive":
        fields["handoff-node-name"] = "node02"
    descriptor = pack(header(message_type, **fields))
    return record(RECORD_CONJOINED, descriptor, unified_id=unified_id, collection_id=1)


def purge(unified_id, holder="node02", segment_num=1, key="k"):
    fields = {"collection-id": 1, "key": key, "unified-id": unified_id,
              "handoff-node-name": holder}
    if segment_num is not None:
        fields["segment-num"] = segment_num
    descriptor = pack(header("purge-handoff", **fields))
    return record(RECORD_PURGE, descriptor, unified_id=unified_id,
                  segment_num=segment_num or 0)


ENTIRE = sequence("archive-key-entire", 10, 0, b"hello")
START = sequence("archive-key-start", 11, 0, b"first ")
NEXT = sequence("archive-key-next", 11, 1, b"second ")
FINAL = sequence("archive-key-final", 11, 2, b"third")
STREAM = START + NEXT + FINAL
EMPTY_PAYLOAD = sequence("archive-key-entire", 12, 0, b"")
BIG = sequence("archive-key-entire", 13, 0, bytes(range(256)) * 8)


def corrupt(data, offset):
    """data with one byte flipped at offset"""
    return data[:offset] + bytes([data[offset] ^ 0x40]) + data[offset + 1:]


VALUE_SEEDS = {
    "empty": b"",
    "entire": ENTIRE,
    "stream": STREAM,
    "entire-empty-payload": EMPTY_PAYLOAD,
    "entire-2k": BIG,
    "cancel-active": START + cancel(11),
    "web-writer-start-nothing": web_writer_start(),
    "web-writer-start-cancels": START + web_writer_start(11, 1),
    "tombstone": ENTIRE + tombstone(14),
    "conjoined-finish": conjoined("start-conjoined-archive", 20)
                        + sequence("archive-key-entire", 20, 0, b"part", part=1)
                        + conjoined("finish-conjoined-archive", 20),
    "conjoined-abort": conjoined("start-conjoined-archive", 21)
                       + sequence("archive-key-start", 21, 0, b"p1", part=1)
                       + conjoined("abort-conjoined-archive", 21),
    "handoff-purged": sequence("archive-key-entire", 16, 0, b"held",
                               **{"handoff-node-name": "node02"})
                      + purge(16) + purge(16, holder="node03"),
    "handoff-conjoined-purged": conjoined("start-conjoined-archive", 22)
                                + conjoined("finish-conjoined-archive", 22)
                                + purge(22, segment_num=None),
    "purge-and-finish-types": record(RECORD_PURGE, pack(header("ping")))
                              + record(RECORD_FINISH, pack(header("ping"))),
    "torn-tail": ENTIRE + STREAM[:len(START) + 30],
    "crc-skip": corrupt(ENTIRE, 70) + STREAM,
    "crc-last": ENTIRE + corrupt(ENTIRE, 80),
    "bad-magic": corrupt(ENTIRE, 0) + ENTIRE,
    "bad-version": record(RECORD_SEQUENCE, b"", version=2),
    "bad-type": record(0, b"") + record(7, b""),
    "reserved-set": record(RECORD_SEQUENCE, b"", reserved=b"\0\1\0"),
    "descriptor-too-big": record(RECORD_SEQUENCE, b"", descriptor_size=512 * 1024 + 1),
    "payload-huge": record(RECORD_SEQUENCE, b"", payload_size=2**64 - 1),
    "payload-past-end": record(RECORD_SEQUENCE, b"", payload_size=100) + b"x" * 50,
    "header-only-part": ENTIRE[:40],
    "md5-wrong": sequence("archive-key-entire", 15, 0, b"abc")[:48] + b"\0" * 16
                 + sequence("archive-key-entire", 15, 0, b"abc")[64:],
}


def fix_md5_wrong():
    """The md5-wrong seed with its CRC32C made right again (header MD5 of zeros)"""
    original = sequence("archive-key-entire", 15, 0, b"abc")
    descriptor_size = struct.unpack_from("<I", original, 8)[0]
    descriptor = original[64:64 + descriptor_size]
    return record(RECORD_SEQUENCE, descriptor, b"abc", unified_id=15, collection_id=1,
                  segment_num=1, md5=b"\0" * 16)


VALUE_SEEDS["md5-wrong"] = fix_md5_wrong()

# --rebuild-index rules: records the writer cannot have produced
RULE_SEEDS = {
    "rule-next-without-start": NEXT,
    "rule-gap": START + FINAL,
    "rule-start-twice": START + START,
    "rule-key-differs": START + sequence("archive-key-next", 11, 1, b"x", key="other"),
    "rule-header-descriptor-differ": record(RECORD_SEQUENCE, ENTIRE[64:-5], b"hello",
                                            unified_id=99, collection_id=1, segment_num=1),
    "rule-payload-size-differs": record(RECORD_SEQUENCE, ENTIRE[64:-5], b"hello!",
                                        unified_id=10, collection_id=1, segment_num=1),
    "rule-descriptor-garbage": record(RECORD_SEQUENCE, b"\xc1\xc1", b"x"),
    "rule-cancel-not-active": cancel(50),
    "rule-tombstone-with-sequence-type": record(RECORD_TOMBSTONE, ENTIRE[64:-5]),
    "rule-conjoined-not-active": conjoined("finish-conjoined-archive", 60),
}


def recovery_seeds():
    """fuzz_recovery_scan inputs: a flags byte (see fuzz_recovery_scan.c),
    then the content; split seeds have two bytes of split offset after it."""
    seeds = {}
    for name, data in sorted(VALUE_SEEDS.items()):
        seeds["plain-" + name] = b"\x00" + data
    for name, data in sorted(RULE_SEEDS.items()):
        seeds[name] = b"\x00" + data
    zero_crcs = b"".join(r[:12] + b"\0\0\0\0" + r[16:] for r in (START, NEXT, FINAL))
    seeds["fix-crc-stream"] = b"\x01" + zero_crcs
    seeds["fix-crc-torn"] = b"\x01" + zero_crcs[:-3]
    split = len(START) + len(NEXT)
    seeds["split-one-volume"] = b"\x02" + struct.pack("<H", split) + STREAM
    seeds["split-two-volumes"] = b"\x06" + struct.pack("<H", split) + STREAM
    seeds["synced-zero"] = b"\x08" + ENTIRE + STREAM
    seeds["synced-past-end"] = b"\x10" + STREAM
    seeds["synced-half"] = b"\x18" + STREAM + ENTIRE
    return seeds


VALUE_DICT = [struct.pack("<I", MAGIC), struct.pack("<IH", MAGIC, 1), b"\x01\x00", b"\x05\x00",
              b"\xff\xff\xff\xff\xff\xff\xff\xff", b"\x00\x00\x08\x00"]


# ---------------------------------------------------------------------------
# fuzz_config: ZPL (czmq zconfig) files

CLUSTER = """cluster
    name = local
    data-shards = 2
    total-shards = 3
    nodes
        node01
            writer = tcp://127.0.0.1:8100
            reader = tcp://127.0.0.1:8101
        node02
            writer = tcp://127.0.0.1:8102
            reader = tcp://127.0.0.1:8103
        node03
            writer = ipc:///tmp/strata-node03-writer
            reader = tcp://[::1]:8105
router
    listen = tcp://127.0.0.1:8000
    reply = tcp://127.0.0.1:*
    id = 3
    slice-size = 1048576
    max-put-bytes = 67108864
    node-timeout-ms = 5000
"""

NODE = """node
    name = node01
    data-dir = /nonexistent/strata/node01
    writer = tcp://127.0.0.1:9100
    reader = tcp://127.0.0.1:9101
    volumes
        a = /nonexistent/strata/a
        b = /nonexistent/strata/b
    value-file-max-bytes = 4096
    queue-depth = 1
    max-frames = 2
reply
    allow
        a = 127.0.0.1
        b = "::1"
    ipc = 0
    hwm = 1000
log
    verbose = 1
"""

CONFIG_SEEDS = {
    "valid-cluster": CLUSTER,
    "valid-node": NODE,
    "valid-both": NODE.replace("name = node01\n", "name = node02\n") + CLUSTER,
    "valid-sample": open(os.path.join(HERE, "..", "..", "config", "strata-node.cfg")).read(),
    "valid-quoted": 'cluster\n    name = "a b"\n    data-shards = 1\n    total-shards = 1\n'
                    '    nodes\n        "n 1"\n            writer = \'tcp://h:1\'\n'
                    '            reader = "tcp://h:2"  # comment\n',
    "valid-curve": NODE + "handoff\n    enabled = 0\n    interval-ms = 500\n"
                   "curve\n    cert = /nonexistent/keys/cluster_secret\n"
                   "    clients-dir = /nonexistent/keys/clients\n"
                   "    client-cert = /nonexistent/keys/node01_secret\n",
    "valid-router-curve": CLUSTER + "    curve\n        cert = /nonexistent/cluster_secret\n"
                          "        clients-dir = /nonexistent/clients\n"
                          "        client-cert = /nonexistent/router_secret\n",
    "invalid-curve-half": NODE + "curve\n    cert = /nonexistent/keys/cluster_secret\n",
    "invalid-k-above-n": CLUSTER.replace("data-shards = 2", "data-shards = 4"),
    "invalid-no-name": CLUSTER.replace("    name = local\n", ""),
    "invalid-node-twice": CLUSTER.replace("node02", "node01"),
    "invalid-endpoint": CLUSTER.replace("tcp://127.0.0.1:8102", "tcp://127.0.0.1:99999"),
    "invalid-count": CLUSTER.replace("total-shards = 3", "total-shards = 255"),
    "invalid-number": NODE.replace("queue-depth = 1", "queue-depth = 1e9"),
    "invalid-volumes": "node\n    volumes\n" + "".join(
        "        v%d = /v/%d\n" % (i, i) for i in range(17)),
    "invalid-name": NODE.replace("name = node01", "name = ../x"),
    "invalid-same-endpoints": NODE.replace("9101", "9100"),
    "invalid-indent": "node\n   name = x\n  data-dir = y\n",
    "invalid-unterminated-quote": 'node\n    name = "x\n',
    "invalid-router-reply": CLUSTER.replace("tcp://127.0.0.1:*", "tcp://*:*"),
    "invalid-cluster-missing": NODE + "    cluster = /nonexistent/cluster.cfg\n",
}

CONFIG_DICT_WORDS = [
    "cluster", "name", "data-shards", "total-shards", "nodes", "writer", "reader", "router",
    "listen", "reply", "id", "slice-size", "max-put-bytes", "node-timeout-ms",
    "upload-timeout-seconds", "ping-interval-ms", "max-operations", "max-buffered-bytes",
    "node", "data-dir", "volumes", "value-file-max-bytes", "reserve-bytes",
    "group-commit-delay-us", "group-commit-bytes", "queue-depth", "queue-bytes",
    "overload-wait-ms", "max-message-bytes", "max-frames", "receive-hwm", "allow", "ipc",
    "cache-size", "idle-seconds", "send-timeout-ms", "hwm", "log", "syslog", "verbose",
    "handoff", "enabled", "interval-ms", "rate-bytes", "timeout-ms", "curve", "cert",
    "clients-dir", "client-cert", "tcp://", "ipc://", "127.0.0.1", "[::1]", "localhost", ":*", " = ", "\n    ",
    "\"", "'", "#",
]


# ---------------------------------------------------------------------------
# fuzz_auth_policy: auth/policy files (ZPL)

KEY_A = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"     # Z85 public keys (40 characters)
KEY_B = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
KEY_C = "E#6*bX]X!1[LE]5k#uiE{%4}#UXU!fNs5@/xIG:&"

POLICY_SEEDS = {
    "empty": "",
    "keys-only": "keys\n",
    "admin": 'keys\n    user\n        key = "%s"\n        role = admin\n' % KEY_A,
    "roles": ('keys\n    router\n        key = "%s"\n        role = router\n'
              '    nodes\n        key = "%s"\n        role = node\n' % (KEY_A, KEY_B)),
    "service": ('keys\n    billing\n        key = "%s"\n        grants\n'
                '            7 = read write list\n            any = read\n' % KEY_C),
    "all-rights": ('keys\n    svc\n        key = "%s"\n        role = service\n'
                   '        grants\n            4294967295 = *\n            0 = delete\n' % KEY_A),
    "unquoted": "keys\n    svc\n        key = %s\n        grants\n            1 = read\n" % KEY_B,
    "cert": "keys\n    svc\n        cert = clients/svc\n",
    "both": 'keys\n    svc\n        key = "%s"\n        cert = clients/svc\n' % KEY_A,
    "twice": ('keys\n    one\n        key = "%s"\n    two\n        key = "%s"\n'
              % (KEY_A, KEY_A)),
    "bad-role": 'keys\n    svc\n        key = "%s"\n        role = root\n' % KEY_A,
    "bad-right": ('keys\n    svc\n        key = "%s"\n        grants\n'
                  '            7 = read execute\n' % KEY_A),
    "bad-collection": ('keys\n    svc\n        key = "%s"\n        grants\n'
                       '            4294967296 = read\n            -1 = read\n' % KEY_A),
    "short-key": "keys\n    svc\n        key = abc\n",
    "unknown-section": "policy\n    x = 1\n",
    "unknown-setting": 'keys\n    svc\n        key = "%s"\n        colour = blue\n' % KEY_A,
    "comments": ('#   a policy\nkeys                #   all keys\n    svc   # one\n'
                 '        key = "%s"   #   quoted: # is a Z85 character\n' % KEY_C),
}

POLICY_DICT_WORDS = [
    "keys", "key", "cert", "role", "grants", "router", "node", "admin", "service",
    "read", "write", "delete", "list", "*", "any", " = ", "\n    ", "\n        ", "\"", "#",
    KEY_A, "4294967295",
]


# ---------------------------------------------------------------------------

def dict_entry(data):
    return '"' + "".join("\\x%02x" % b for b in data) + '"'


def write_corpus(target, seeds):
    directory = os.path.join(HERE, "corpus", target)
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    for name, data in sorted(seeds.items()):
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(directory, name), "wb") as out:
            out.write(data)
    print("wrote %d seeds to %s" % (len(seeds), directory))


def write_dict(target, what, entries):
    path = os.path.join(HERE, target + ".dict")
    with open(path, "w") as out:
        out.write("# libFuzzer dictionary for %s: %s.\n# Written by make_corpus.py.\n"
                  % (target, what))
        for entry in entries:
            out.write(dict_entry(entry) + "\n")
    print("wrote %s" % path)


def main():
    write_corpus("fuzz_request_decode", SEEDS)
    write_dict("fuzz_request_decode", "the protocol's\n# keys and values as packed MessagePack"
               " strings, and type bytes",
               [pack(word) for word in DICT_WORDS] + list(MARKERS))
    write_corpus("fuzz_router_request", ROUTER_SEEDS)
    write_dict("fuzz_router_request", "the router protocol's\n# keys and types as packed"
               " MessagePack strings, and type bytes",
               [pack(word) for word in ROUTER_DICT_WORDS] + list(MARKERS))
    write_corpus("fuzz_value_record", dict(VALUE_SEEDS, **RULE_SEEDS))
    write_dict("fuzz_value_record", "record magic,\n# version, types and sizes",
               VALUE_DICT)
    write_corpus("fuzz_recovery_scan", recovery_seeds())
    write_dict("fuzz_recovery_scan", "record magic,\n# types, sizes, and the request keys"
               " descriptors hold", VALUE_DICT + [pack(word) for word in DICT_WORDS])
    write_corpus("fuzz_auth_policy", POLICY_SEEDS)
    write_dict("fuzz_auth_policy", "keys and values of\n# the auth/policy file",
               [word.encode() for word in POLICY_DICT_WORDS])
    write_corpus("fuzz_config", CONFIG_SEEDS)
    write_dict("fuzz_config", "ZPL keys of the\n# node, router and cluster files",
               [word.encode() for word in CONFIG_DICT_WORDS])


if __name__ == "__main__":
    main()
