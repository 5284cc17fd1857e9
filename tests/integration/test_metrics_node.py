"""strata-node's HTTP endpoint (--metrics / metrics/listen): /metrics in the
Prometheus text format (promtool accepts it; counters move by the right
amounts), /healthz, /readyz (503 when a volume is out of space, back to 200
after), the status page, and 1,000 malformed or oversized HTTP requests that
leave the node storing data with bounded memory."""

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from strata_harness import StrataTestCase, Segment, free_port, run_main
from http_probe import PROMTOOL, fetch, parse_metrics, promtool_check, rss_kib, sanitized, value


class MetricsNodeTestCase(StrataTestCase):
    """A node with its HTTP endpoint on a free port (self.port)."""

    start_node = False
    extra_config = ""

    def setUp(self):
        super().setUp()
        self.port = free_port()
        self.node = self.new_node(config=self.config_text())
        self.node.start()
        self.client = self.new_client()

    def config_text(self):
        return "metrics\n    listen = 127.0.0.1:%d\n%s" % (self.port, self.extra_config)

    def metrics(self):
        status, body = fetch(self.port, "/metrics")
        self.assertEqual(status, 200, body)
        return body, parse_metrics(body)

    def put(self, payload):
        segment = Segment()
        _, reply = self.exchange(segment.entire(payload), [payload])
        self.assertEqual(reply.get("result"), "success", reply)
        return segment


class EndpointTest(MetricsNodeTestCase):

    def test_paths_and_methods(self):
        status, body = fetch(self.port, "/healthz")
        self.assertEqual((status, body.strip()), (200, "ok"))
        status, body = fetch(self.port, "/readyz")
        self.assertEqual(status, 200, body)
        status, body = fetch(self.port, "/")
        self.assertEqual(status, 200)
        self.assertIn("strata-node node01", body)
        self.assertIn('class="volume"', body)
        status, body = fetch(self.port, "/no/such/page")
        self.assertEqual(status, 404)
        status, body = fetch(self.port, "/metrics", method="POST")
        self.assertEqual(status, 405)
        status, body = fetch(self.port, "/metrics", method="HEAD")
        self.assertEqual(status, 200)

    def test_status_page_in_chromium(self):
        chromium = "/usr/bin/chromium"
        if not os.access(chromium, os.X_OK):
            print("SKIP node status page in a browser: chromium not installed (Debian package chromium)")
            return
        for index in range(3):
            self.put(b"page %d" % index)
        artifacts = os.path.join(os.environ.get("STRATA_BUILD_DIR", "."), "test-artifacts")
        os.makedirs(artifacts, exist_ok=True)
        profile = tempfile.mkdtemp(prefix="strata-chromium-")
        command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                   "--no-first-run", "--disable-background-networking", "--disable-component-update",
                   "--disable-sync", "--user-data-dir=%s" % profile, "--window-size=1000,900"]
        url = "http://127.0.0.1:%d/" % self.port
        try:
            dom = subprocess.run(command + ["--dump-dom", url], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, timeout=90, check=True).stdout.decode()
            subprocess.run(command + ["--screenshot=%s" % os.path.join(artifacts, "node-status-page.png"), url],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=90, check=True)
        finally:
            shutil.rmtree(profile, ignore_errors=True)
        self.assertIn('<span id="state" class="up">ready</span>', dom)
        self.assertIn('<tr class="volume">', dom)
        self.assertIn("<td>archive-key-entire</td>", dom)

    def test_promtool_accepts_metrics(self):
        self.put(b"x" * 1000)
        body, samples = self.metrics()
        for name in ("strata_node_up", "strata_node_commits_total", "strata_node_stored_bytes_total",
                     "strata_node_retrieved_bytes_total", "strata_node_handoff_pending_segments",
                     "strata_node_handoff_forwarded_total", "strata_node_damaged_records_total",
                     "strata_node_auth_failures_total", "strata_node_replies_dropped_total",
                     "strata_node_overloaded_total"):
            self.assertIsNotNone(value(samples, name), name)
        self.assertEqual(value(samples, "strata_node_build_info", version="0.1.0"), 1)
        self.assertIsNotNone(value(samples, "strata_node_commit_duration_seconds_count"))
        self.assertGreater(value(samples, "strata_node_volume_total_bytes"), 0)
        self.assertGreater(value(samples, "strata_node_volume_free_bytes"), 0)
        if PROMTOOL is None:
            print("SKIP promtool check: promtool not installed (Debian package prometheus)")
            return
        problem = promtool_check(body)
        self.assertIsNone(problem, "promtool check metrics:\n%s" % problem)

    def test_counters_after_ten_puts(self):
        _, before = self.metrics()
        sizes = [1000 + 37 * index for index in range(10)]
        segments = [self.put(bytes([index]) * size) for index, size in enumerate(sizes)]
        headers, payloads = self.client.retrieve(segments[3])
        self.assertEqual(headers[-1].get("result"), "success")
        self.assertEqual(b"".join(payloads), bytes([3]) * sizes[3])
        _, after = self.metrics()

        def delta(name, **labels):
            return value(after, name, 0, **labels) - value(before, name, 0, **labels)

        self.assertEqual(delta("strata_node_requests_total", type="archive-key-entire", result="success"), 10)
        self.assertEqual(delta("strata_node_request_duration_seconds_count", type="archive-key-entire"), 10)
        self.assertEqual(delta("strata_node_request_duration_seconds_bucket", type="archive-key-entire",
                               le="+Inf"), 10)
        self.assertEqual(delta("strata_node_stored_bytes_total"), sum(sizes))
        self.assertEqual(delta("strata_node_retrieved_bytes_total"), sizes[3])
        self.assertEqual(delta("strata_node_requests_total", type="retrieve-key-start", result="success"), 1)
        self.assertGreaterEqual(delta("strata_node_commits_total"), 1)
        self.assertLessEqual(delta("strata_node_commits_total"), 10)
        self.assertEqual(delta("strata_node_commit_duration_seconds_count"), delta("strata_node_commits_total"))
        self.assertGreater(delta("strata_node_request_duration_seconds_sum", type="archive-key-entire"), 0)
        # The stats reply and the metrics agree
        stats = self.client.stats()
        _, now = self.metrics()
        self.assertEqual(value(now, "strata_node_stored_bytes_total"), stats["bytes-stored"])


class BadHttpTest(MetricsNodeTestCase):
    """1,000 bad requests: the node keeps storing data, memory stays bounded."""

    test_timeout = 120

    def _raw(self, data, read=True):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        try:
            sock.sendall(data)
            if read:
                sock.shutdown(socket.SHUT_WR)
                while sock.recv(65536):
                    pass
        except OSError:
            pass        # the server may close first: that is its right
        finally:
            sock.close()

    def test_thousand_bad_requests(self):
        for index in range(5):
            self.put(b"warm-up %d" % index)
        started = time.monotonic()
        for index in range(200):
            self.put(b"before the flood %d" % index)
        rate_before = 200 / (time.monotonic() - started)
        rss_before = rss_kib(self.node.proc.pid)
        bad = []
        for index in range(250):
            bad.append(b"GET /unknown/%d HTTP/1.1\r\nHost: x\r\n\r\n" % index)
        for index in range(200):
            method = (b"POST", b"PUT", b"DELETE", b"BREW", b"OPTIONS")[index % 5]
            bad.append(method + b" /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
        for index in range(200):
            bad.append(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Huge: " + b"a" * (100 * 1024) + b"\r\n\r\n")
        for index in range(150):
            bad.append((b"\x00\xff garbage %d \r\n\r\n" % index) if index % 2
                       else b"GET /metrics HTTP/9.9 extra words\r\n\r\n")
        threads = []
        lock = threading.Lock()

        def worker(items):
            for item in items:
                self._raw(item)

        chunks = [bad[index::8] for index in range(8)]
        for chunk in chunks:
            threads.append(threading.Thread(target=worker, args=(chunk,)))
        # Slowloris: 200 connections that send part of a request and wait
        slow = []
        for index in range(200):
            try:
                sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                slow.append(sock)
            except OSError:
                pass        # refused past the connection limit
        started = time.monotonic()
        for thread in threads:
            thread.start()
        # While all that happens, the data path serves every request
        stored = 0
        while any(thread.is_alive() for thread in threads) or stored < 50:
            self.put(b"during the flood %d" % stored)
            stored += 1
        for thread in threads:
            thread.join(60)
        elapsed = time.monotonic() - started
        for sock in slow:
            sock.close()
        print("\n  %d bad requests + %d slow connections; %d puts stored meanwhile in %.1f s "
              "(%.0f puts/s; %.0f puts/s before, one requester)"
              % (len(bad), len(slow), stored, elapsed, stored / elapsed, rate_before))
        self.assertEqual(len(bad) + 200, 1000)
        # Served again once the slow connections are gone
        deadline = time.monotonic() + 15
        status = None
        while time.monotonic() < deadline:
            try:
                status, body = fetch(self.port, "/metrics", timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        self.assertEqual(status, 200)
        self.assertIsNone(promtool_check(body) if PROMTOOL else None)
        rss_after = rss_kib(self.node.proc.pid)
        print("  RSS before %d KiB, after %d KiB" % (rss_before, rss_after))
        if sanitized(self.node.proc.pid):
            # ASan's quarantine keeps freed memory; TSan's shadow grows with every byte touched
            print("  (sanitized build: the memory bound is not checked)")
        else:
            self.assertLess(rss_after - rss_before, 32 * 1024, "memory grew by more than 32 MiB")
        for index in range(10):
            self.put(b"after the flood %d" % index)


class ReadyOutOfSpaceTest(StrataTestCase):
    """/readyz is 503 while a volume has no more than reserve-bytes free."""

    start_node = False

    def test_readyz_follows_free_space(self):
        if os.geteuid() != 0:
            print("SKIP /readyz out-of-space test: needs root to mount a small tmpfs")
            return
        mount_point = tempfile.mkdtemp(prefix="strata-small-fs-")
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mount_point],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if mounted.returncode != 0:
            os.rmdir(mount_point)
            print("SKIP /readyz out-of-space test: cannot mount a tmpfs: %s"
                  % mounted.stdout.decode().strip())
            return

        def unmount():
            subprocess.run(["umount", "-l", mount_point])
            os.rmdir(mount_point)
        port = free_port()
        node = self.new_node(data_dir=os.path.join(mount_point, "data"),
                             config="node\n    reserve-bytes = 4194304\n"
                                    "    value-file-max-bytes = 1048576\n"
                                    "metrics\n    listen = 127.0.0.1:%d\n" % port)
        try:
            node.start()
            status, body = fetch(port, "/readyz")
            self.assertEqual(status, 200, body)
            # Leave about 2 MiB free: under the 4 MiB reserve
            filler = os.path.join(mount_point, "filler")
            free = os.statvfs(mount_point).f_bavail * os.statvfs(mount_point).f_frsize
            with open(filler, "wb") as handle:
                handle.write(b"\0" * (free - 2 * 1024 * 1024))
            status, body = fetch(port, "/readyz")
            self.assertEqual(status, 503, body)
            self.assertIn("out of space", body)
            _, metrics = fetch(port, "/metrics")
            self.assertEqual(value(parse_metrics(metrics), "strata_node_ready"), 0)
            os.unlink(filler)
            status, body = fetch(port, "/readyz")
            self.assertEqual(status, 200, body)
            self.assertEqual(node.stop(), 0)
            node.expect_running = False
        finally:
            node.kill()
            unmount()


if __name__ == "__main__":
    run_main()
