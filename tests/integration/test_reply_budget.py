"""Integration test: the reply budget (reply/max-bytes) holds the node's
memory when requesters do not take their replies (docs/node.md, "Memory model").

Dead and slow reply peers — TCP ports bound but not listening, ZeroMQ PULL
sockets that never read, TCP listeners that accept and never speak — are
named as the client-address of 3,000 retrievals of 1 MiB objects. The node's
peak resident memory (VmHWM) must stay under reply/max-bytes + 64 MiB; a
well-behaved client retrieving 1 MiB objects meanwhile must get every reply,
and its latency is printed (p50, p99, and the same client alone first, in
the same run); its median may not exceed 3 x its median alone + 10 ms, and
with STRATA_TIMING_STRICT=1 (`make bench`) its p99 must be at most 10 ms;
replies-dropped counts the replies the dead peers did not get.

Run: /usr/bin/python3 tests/integration/test_reply_budget.py
"""

import os
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster_harness import Cluster  # noqa: E402
from strata_harness import NODE_BINARY, Segment, StrataTestCase, run_main  # noqa: E402

import msgpack  # noqa: E402
import zmq  # noqa: E402

MIB = 1024 * 1024
MAX_BYTES = 64 * MIB
REQUESTS = 3000
OBJECTS = 8
P99_LIMIT_MS = 10.0


def vm_field(pid, field):
    """A /proc/PID/status field in bytes (VmRSS, VmHWM)."""
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no %s for pid %d" % (field, pid))


def sanitized():
    """True if strata-node is built with AddressSanitizer or ThreadSanitizer."""
    try:
        text = subprocess.run(["ldd", NODE_BINARY], capture_output=True, text=True,
                              timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "libasan" in text or "libtsan" in text


class SilentListener:
    """TCP listeners that accept connections and never send or read."""

    def __init__(self, count):
        self.sockets = []
        self.accepted = []
        self.stop = False
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sock.listen(16)
            sock.settimeout(0.1)
            self.sockets.append(sock)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def addresses(self):
        return ["tcp://127.0.0.1:%d" % s.getsockname()[1] for s in self.sockets]

    def _accept(self):
        while not self.stop:
            for sock in self.sockets:
                try:
                    conn, _ = sock.accept()
                    self.accepted.append(conn)
                except (socket.timeout, OSError):
                    pass

    def close(self):
        self.stop = True
        self.thread.join(5)
        for conn in self.accepted + self.sockets:
            conn.close()


class ReplyBudgetTest(StrataTestCase):
    test_timeout = 240
    node_config = "reply\n    max-bytes = %d\n" % MAX_BYTES

    def _store(self, count):
        segments = []
        for index in range(count):
            payload = bytes([index % 251]) * MIB
            segment = Segment(key="budget-%d" % index)
            sent = self.client.send(segment.entire(payload), [payload])
            reply, _ = self.client.wait_for(sent["message-id"], 30)
            self.assertResult(reply, "success")
            segments.append(segment)
        return segments

    def test_dead_reply_peers_hold_memory_to_the_budget(self):
        segments = self._store(OBJECTS)
        pid = self.node.proc.pid
        good = self.new_client(tag="good")
        # Baseline: the same client with nobody else, in this run
        baseline = []
        for index in range(200):
            start = time.monotonic()
            header, _ = good.request_full(segments[index % OBJECTS].retrieve_start(),
                                          endpoint="reader", timeout=10)
            baseline.append((time.monotonic() - start) * 1000.0)
            self.assertResult(header, "success")
        baseline.sort()
        baseline_p99 = baseline[int(len(baseline) * 0.99)]
        rss_start = vm_field(pid, "VmRSS")

        # Dead and slow reply peers
        bound_only = []
        for _ in range(10):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))          # bound, never listening
            bound_only.append(sock)
        silent = SilentListener(10)
        pulls = []
        for _ in range(10):
            pull = self.context.socket(zmq.PULL)
            pull.setsockopt(zmq.LINGER, 0)
            pull.setsockopt(zmq.RCVHWM, 1)
            pull.setsockopt(zmq.RCVBUF, 64 * 1024)
            port = pull.bind_to_random_port("tcp://127.0.0.1")
            pulls.append((pull, "tcp://127.0.0.1:%d" % port))
        dead = (["tcp://127.0.0.1:%d" % s.getsockname()[1] for s in bound_only]
                + silent.addresses() + [address for _, address in pulls])

        # The well-behaved client: one retrieval at a time, 1 MiB each
        latencies = []
        failures = []
        attacking = threading.Event()
        attacking.set()

        def well_behaved():
            index = 0
            while attacking.is_set() or index < 50:
                segment = segments[index % len(segments)]
                start = time.monotonic()
                try:
                    header, frames = good.request_full(
                        segment.retrieve_start(), endpoint="reader", timeout=10)
                except Exception as error:  # noqa: BLE001 - reported below
                    failures.append("retrieval %d: %r" % (index, error))
                    return
                latencies.append((time.monotonic() - start) * 1000.0)
                if header.get("result") != "success" or len(b"".join(frames)) != MIB:
                    failures.append("retrieval %d: %r" % (index, header))
                    return
                index += 1

        good_thread = threading.Thread(target=well_behaved, daemon=True)
        good_thread.start()

        attacker = self.context.socket(zmq.PUSH)
        attacker.setsockopt(zmq.LINGER, 0)
        attacker.setsockopt(zmq.SNDHWM, 100000)
        attacker.connect(self.node.reader)
        peak_rss = rss_start
        started = time.monotonic()
        for index in range(REQUESTS):
            request = segments[index % len(segments)].retrieve_start()
            request["client-address"] = dead[index % len(dead)]
            attacker.send(msgpack.packb(self.client.fill(request),
                                        use_bin_type=True))
            if index % 100 == 0:
                peak_rss = max(peak_rss, vm_field(pid, "VmRSS"))
        # Wait until the node has served every request (its counters say)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            peak_rss = max(peak_rss, vm_field(pid, "VmRSS"))
            stats = self.client.stats()
            served = stats["requests"].get("retrieve-key-start", 0)
            if served >= REQUESTS + len(latencies):
                break
            time.sleep(0.2)
        attack_seconds = time.monotonic() - started
        attacking.clear()
        good_thread.join(60)
        self.assertFalse(good_thread.is_alive(), "the good client hung")
        stats = self.client.stats()
        peak_rss = max(peak_rss, vm_field(pid, "VmRSS"))
        hwm = vm_field(pid, "VmHWM")
        time.sleep(1.5)
        rss_after = vm_field(pid, "VmRSS")

        latencies.sort()
        p50 = latencies[len(latencies) // 2] if latencies else float("nan")
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] \
            if latencies else float("nan")
        sys.stderr.write(
            "\nreply budget: %d retrievals of 1 MiB to %d dead/slow peers in "
            "%.1f s; reply/max-bytes %d MiB\n"
            "  node RSS: start %.1f MiB, peak sampled %.1f MiB, VmHWM %.1f MiB, "
            "1.5 s after %.1f MiB (limit %.0f MiB)\n"
            "  replies-dropped %d, results %r\n"
            "  well-behaved client: %d retrievals of 1 MiB, p50 %.2f ms, "
            "p99 %.2f ms, max %.2f ms, failures %d (alone before: p50 %.2f ms, p99 %.2f ms)\n"
            % (REQUESTS, len(dead), attack_seconds, MAX_BYTES // MIB,
               rss_start / MIB, peak_rss / MIB, hwm / MIB, rss_after / MIB,
               (MAX_BYTES + 64 * MIB) / MIB, stats["replies-dropped"],
               stats["results"], len(latencies), p50, p99,
               latencies[-1] if latencies else float("nan"), len(failures),
               baseline[len(baseline) // 2], baseline_p99))

        for sock in bound_only:
            sock.close()
        silent.close()
        for pull, _ in pulls:
            pull.close(linger=0)
        attacker.close(linger=0)

        self.assertEqual(failures, [], "the well-behaved client got every reply")
        self.assertGreaterEqual(len(latencies), 50)
        if sanitized():
            # ASan's quarantine and shadow memory, TSan's shadow: the
            # process's RSS is no longer the program's
            sys.stderr.write("  RSS bound not checked: strata-node is built with a sanitizer\n")
        else:
            self.assertLess(hwm, MAX_BYTES + 64 * MIB,
                            "peak RSS %.1f MiB over reply/max-bytes + 64 MiB" % (hwm / MIB))
        # Most dead replies were never sent: at most the budget's worth and
        # what the slow PULLs' TCP buffers took in were queued
        self.assertGreaterEqual(stats["replies-dropped"], REQUESTS // 2,
                                "dropped replies are counted")
        # Latency is a benchmark figure (`make bench` runs this test with
        # STRATA_TIMING_STRICT=1: p99 <= 10 ms). In `make test`, on a
        # shared machine, the attack may only not slow the client beyond
        # the machine's own noise: its median within 3 x its median alone
        # (measured above, in this run) + 10 ms.
        baseline_p50 = baseline[len(baseline) // 2]
        self.assertLessEqual(p50, 3 * baseline_p50 + P99_LIMIT_MS,
                             "well-behaved client's median %.2f ms under attack, "
                             "%.2f ms alone" % (p50, baseline_p50))
        if os.environ.get("STRATA_TIMING_STRICT") == "1":
            self.assertLessEqual(p99, P99_LIMIT_MS,
                                 "well-behaved client's p99 %.2f ms under attack, "
                                 "%.2f ms alone" % (p99, baseline_p99))


class RouterReplyBudgetTest(unittest.TestCase):
    """The router's replies are charged to its own budget
    (router/reply-max-bytes): a client that sends gets and never reads
    loses replies beyond it (counted in ping-reply replies-dropped), and
    the router's memory stays bounded while others are served."""

    def test_client_not_reading_is_held_to_the_budget(self):
        cluster = Cluster(nodes=3, data_shards=2,
                          router_settings={"reply-max-bytes": 16 * MIB})
        try:
            cluster.start()
            admin = cluster.router_client()
            data = bytes(range(256)) * (2 * MIB // 256)
            self.assertEqual(admin.put("big", data).get("result"), "success")
            rss_start = vm_field(cluster.router.proc.pid, "VmRSS")
            sink = cluster.context.socket(zmq.DEALER)
            sink.setsockopt(zmq.LINGER, 0)
            sink.setsockopt(zmq.RCVHWM, 1)
            sink.setsockopt(zmq.RCVBUF, 16 * 1024)
            sink.connect(cluster.router_endpoint)
            for index in range(60):
                sink.send(msgpack.packb({"message-type": "get", "request-id": "s%d" % index,
                                         "collection-id": 0, "key": "big"}))
            deadline = time.monotonic() + 60
            dropped = 0
            while time.monotonic() < deadline:
                dropped = admin.ping().get("replies-dropped", 0)
                if dropped > 0:
                    break
                time.sleep(0.2)
            reply, got = admin.get("big")
            self.assertEqual(got, data, "a reading client is still served")
            hwm = vm_field(cluster.router.proc.pid, "VmHWM")
            sys.stderr.write("\nrouter: replies-dropped %d, RSS start %.1f MiB, VmHWM %.1f MiB\n"
                             % (dropped, rss_start / MIB, hwm / MIB))
            self.assertGreater(dropped, 0, "replies beyond the budget are dropped and counted")
            sink.close()
        finally:
            problems = cluster.cleanup()
        self.assertEqual(problems, [])


if __name__ == "__main__":
    run_main()
