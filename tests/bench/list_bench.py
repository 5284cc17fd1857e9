"""Listing speed and memory (issue: "memory of router and node stays
bounded while listing 1 million small keys").

Starts a cluster (default: 3 nodes, k = 2: the router merges three owners'
pages), stores --keys keys of 1 byte by sending archive-key-entire straight
to every node's writer endpoint (pipelined: a router put per key would
take an hour), then times `strata ls` over the whole collection and
samples the RSS of the router and of node01 every 50 ms while it runs.
Prints keys/s, the RSS before and the peak during the listing.

Run: STRATA_BUILD_DIR=build /usr/bin/python3 tests/bench/list_bench.py --keys 1000000
"""

import argparse
import hashlib
import base64
import os
import subprocess
import sys
import threading
import time
import uuid

import msgpack
import zmq

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))

from cluster_harness import CLI_BINARY, Cluster  # noqa: E402

WINDOW = 2000


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fill(cluster, node, keys):
    """archive-key-entire of every key to node (its own share)."""
    context = cluster.context
    pull, push = context.socket(zmq.PULL), context.socket(zmq.PUSH)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    push.connect(node.writer)
    digest = base64.b64encode(hashlib.md5(b"x").digest()).decode()
    timestamp = "2026-12-01T00:00:00.000000Z"
    in_flight, sent, done = 0, 0, 0
    base = 1 << 60
    while done < keys:
        while sent < keys and in_flight < WINDOW:
            header = {
                "message-type": "archive-key-entire", "message-id": "m%d" % sent,
                "client-tag": "bench", "client-address": "tcp://127.0.0.1:%d" % port,
                "collection-id": 1, "key": "bench/%08d" % sent, "unified-id": base + sent,
                "timestamp-repr": timestamp, "segment-num": node.index + 1, "segment-size": 1,
                "zfec-padding-size": 0, "segment-md5-digest": digest,
                "source-node-name": node.name, "file-size": 1, "file-hash": digest,
            }
            push.send_multipart([msgpack.packb(header), b"x"])
            sent += 1
            in_flight += 1
        reply = msgpack.unpackb(pull.recv(), raw=False)
        if reply["result"] != "success":
            raise SystemExit("%s: %r" % (node.name, reply))
        in_flight -= 1
        done += 1
    pull.close()
    push.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=1000000)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--data-shards", type=int, default=2)
    args = parser.parse_args()
    with Cluster(nodes=args.nodes, data_shards=args.data_shards) as cluster:
        started = time.monotonic()
        threads = [threading.Thread(target=fill, args=(cluster, node, args.keys))
                   for node in cluster.nodes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        print("stored %d keys on %d nodes in %.1f s" % (args.keys, args.nodes, time.monotonic() - started))
        router_pid, node_pid = cluster.router.proc.pid, cluster.nodes[0].proc.pid
        before = (rss_kib(router_pid), rss_kib(node_pid))
        peak = list(before)
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], rss_kib(router_pid))
                peak[1] = max(peak[1], rss_kib(node_pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.monotonic()
        result = subprocess.run([CLI_BINARY, "ls", "--router", cluster.router_endpoint,
                                 "--collection", "1", "--timeout", "600"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        seconds = time.monotonic() - started
        stop.set()
        sampler.join()
        lines = result.stdout.count(b"\n")
        if result.returncode != 0 or lines != args.keys:
            raise SystemExit("strata ls: exit %d, %d lines: %s" % (result.returncode, lines, result.stderr))
        print("strata ls: %d keys in %.2f s = %.0f keys/s" % (lines, seconds, lines / seconds))
        print("RSS router: %.1f MiB before, %.1f MiB peak while listing"
              % (before[0] / 1024.0, peak[0] / 1024.0))
        print("RSS node01: %.1f MiB before, %.1f MiB peak while listing"
              % (before[1] / 1024.0, peak[1] / 1024.0))


if __name__ == "__main__":
    main()
