"""strata-router's HTTP endpoint and what an operator sees of a cluster:
/metrics (promtool accepts it; counters move by the right amounts after ten
puts), /readyz (503 naming the unreachable nodes when fewer than k are up,
200 again after), the status page in headless Chromium (ten nodes up; two
stopped nodes shown down; a screenshot is kept in the build directory),
`strata ping` exit codes, `strata top`, and the router's log lines."""

import os
import re
import shutil
import subprocess
import tempfile
import time

from cluster_harness import Cluster, ClusterTestCase, free_ports, run_main, BUILD_DIR
from http_probe import PROMTOOL, fetch, parse_metrics, promtool_check, value

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = os.path.join(BUILD_DIR, "test-artifacts")


def chromium(url, screenshot=None):
    """The page's DOM after load (headless Chromium, no network but loopback),
    and optionally a PNG screenshot."""
    profile = tempfile.mkdtemp(prefix="strata-chromium-")
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--user-data-dir=%s" % profile, "--window-size=1400,900"]
    try:
        if screenshot:
            subprocess.run(command + ["--screenshot=%s" % screenshot, url], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=90, check=True)
        result = subprocess.run(command + ["--dump-dom", url], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, timeout=90, check=True)
        return result.stdout.decode("utf-8", "replace")
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def node_rows(dom):
    """{node name: "up" | "down"} from the status page's node table."""
    return dict((name, state) for state, name in
                re.findall(r'<tr class="node (up|down)" data-node="([^"]+)"', dom))


class StatusTest(ClusterTestCase):
    """One 10-node cluster (k = 8) with HTTP on the router and every node."""

    node_count = 10
    data_shards = 8

    @classmethod
    def setUpClass(cls):
        ports = free_ports(cls.node_count + 1)
        cls.router_port = ports[0]
        cls.node_ports = dict(("node%02d" % (index + 1), ports[1 + index])
                              for index in range(cls.node_count))
        cls.cluster = Cluster(
            nodes=cls.node_count, data_shards=cls.data_shards,
            router_settings={"node-timeout-ms": 2500, "ping-interval-ms": 250},
            router_extra="    metrics\n        listen = 127.0.0.1:%d\n"
                         "    log\n        access = 1\n        slow-ms = 1\n" % cls.router_port,
            node_config=lambda node: "metrics\n    listen = 127.0.0.1:%d\n" % cls.node_ports[node.name])
        try:
            cls.cluster.start()
        except BaseException:
            cls.cluster.cleanup()
            raise

    def router_metrics(self):
        status, body = fetch(self.router_port, "/metrics")
        self.assertEqual(status, 200, body)
        return body, parse_metrics(body)

    def wait_readyz(self, status_wanted, text="", timeout=20):
        """/readyz until it answers status_wanted with text in its body."""
        deadline = time.monotonic() + timeout
        while True:
            status, body = fetch(self.router_port, "/readyz")
            if (status == status_wanted and text in body) or time.monotonic() > deadline:
                return status, body
            time.sleep(0.2)

    def ping_until(self, code, timeout=15):
        """`strata ping` until it exits code (a loaded machine may miss a ping)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.cluster.strata("ping")
            if result.returncode == code or time.monotonic() > deadline:
                return result
            time.sleep(0.5)

    def wait_page(self, predicate, timeout=30):
        """Load the page with Chromium until predicate(rows) holds."""
        deadline = time.monotonic() + timeout
        while True:
            dom = chromium("http://127.0.0.1:%d/" % self.router_port)
            rows = node_rows(dom)
            if predicate(rows) or time.monotonic() > deadline:
                return dom, rows
            time.sleep(1)

    def test_1_metrics_and_counters(self):
        # (a loaded machine may miss a ping now and then: wait for all ten)
        status, body = self.wait_readyz(200, "10 of 10")
        self.assertEqual(status, 200, body)
        self.assertIn("10 of 10", body)
        status, body = fetch(self.router_port, "/healthz")
        self.assertEqual(status, 200)
        _, before = self.router_metrics()
        _, node_before = fetch(self.node_ports["node01"], "/metrics")
        node_before = parse_metrics(node_before)
        client = self.cluster.router_client()
        sizes = [5000 + 111 * index for index in range(10)]
        for index, size in enumerate(sizes):
            client.put("metrics-%d" % index, bytes([index + 1]) * size)
        data = client.get("metrics-4")
        body, after = self.router_metrics()
        _, node_after = fetch(self.node_ports["node01"], "/metrics")
        node_after = parse_metrics(node_after)

        def delta(samples_after, samples_before, name, **labels):
            return value(samples_after, name, 0, **labels) - value(samples_before, name, 0, **labels)

        self.assertEqual(delta(after, before, "strata_router_operations_total", op="put", result="success"), 10)
        self.assertEqual(delta(after, before, "strata_router_operation_duration_seconds_count", op="put"), 10)
        self.assertEqual(delta(after, before, "strata_router_operation_bytes_total", op="put"), sum(sizes))
        self.assertEqual(delta(after, before, "strata_router_operations_total", op="get", result="success"), 1)
        self.assertGreaterEqual(delta(after, before, "strata_router_operation_bytes_total", op="get"), sizes[4])
        self.assertGreaterEqual(value(after, "strata_router_nodes_reachable"), 8)
        # A get may stay in flight a moment after its client has the object
        # (the slower nodes' answers are still awaited): the gauge returns to
        # 0 once they are in
        deadline = time.monotonic() + 10
        in_flight = value(after, "strata_router_operations_in_flight")
        while in_flight != 0 and time.monotonic() < deadline:
            time.sleep(0.1)
            in_flight = value(self.router_metrics()[1], "strata_router_operations_in_flight")
        self.assertEqual(in_flight, 0)
        self.assertEqual(value(after, "strata_router_build_info", version="0.1.0"), 1)
        for name in ("strata_router_handoff_writes_total", "strata_router_auth_failures_total"):
            self.assertIsNotNone(value(after, name), name)
        # Every node stored one share of each object
        self.assertEqual(delta(node_after, node_before, "strata_node_requests_total",
                               type="archive-key-entire", result="success"), 10)
        if PROMTOOL is None:
            print("SKIP promtool check: promtool not installed (Debian package prometheus)")
        else:
            problem = promtool_check(body)
            self.assertIsNone(problem, "promtool check metrics (router):\n%s" % problem)
        self.assertEqual(self.ping_until(0).returncode, 0)
        # log/access = 1: one line per request; log/slow-ms = 1: slow lines, rate-limited
        log = self.cluster.router.log_text()
        for index, size in enumerate(sizes):
            self.assertIn('access: put key="metrics-%d" size=%d result=success' % (index, size), log)
        self.assertIn('access: get key="metrics-4" size=%d result=success' % sizes[4], log)
        self.assertIn("slow: put", log)
        self.assertLess(log.count("slow: "), 11)

    def test_2_status_page_ping_top_readyz(self):
        if not os.access(CHROMIUM, os.X_OK):
            self.skipTest("chromium not installed (Debian package chromium)")
        os.makedirs(ARTIFACTS, exist_ok=True)
        # Ten nodes up, with figures from their stats
        dom, rows = self.wait_page(lambda rows: len(rows) == 10 and set(rows.values()) == {"up"})
        self.assertEqual(sorted(rows), ["node%02d" % (index + 1) for index in range(10)])
        self.assertEqual(set(rows.values()), {"up"})
        self.assertIn("10 of 10 nodes up", dom)
        self.assertIn('id="operations"', dom)
        chromium("http://127.0.0.1:%d/" % self.router_port,
                 screenshot=os.path.join(ARTIFACTS, "status-page-all-up.png"))
        top = subprocess.run([os.path.join(BUILD_DIR, "strata"), "top", "--router",
                              self.cluster.router_endpoint, "--count", "3"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(top.returncode, 0, top.stderr)
        last = top.stdout.decode().rsplit("cluster ", 1)[-1]
        self.assertIn("10 of 10 nodes up", last)
        self.assertEqual(len(re.findall(r"^node\d\d +up ", last, re.M)), 10, last)
        self.assertRegex(last, r"node01 +up +\d+\.\ds ago +\d")      # figures from the stats poll
        # Two nodes stop: the page shows them down, ping exits 1 naming them
        for name in ("node03", "node07"):
            self.cluster.node(int(name[4:]) - 1).stop()
        dom, rows = self.wait_page(lambda rows: rows.get("node03") == "down" and rows.get("node07") == "down"
                                   and list(rows.values()).count("up") == 8)
        self.assertEqual(rows.get("node03"), "down", dom[-3000:])
        self.assertEqual(rows.get("node07"), "down")
        self.assertEqual(sum(1 for state in rows.values() if state == "up"), 8)
        self.assertIn("8 of 10 nodes up", dom)
        chromium("http://127.0.0.1:%d/" % self.router_port,
                 screenshot=os.path.join(ARTIFACTS, "status-page-two-down.png"))
        print("\n  screenshots: %s/status-page-{all-up,two-down}.png" % ARTIFACTS)
        ping = self.cluster.strata("ping")
        self.assertEqual(ping.returncode, 1, ping.stderr)
        self.assertIn(b"unreachable: node03, ", ping.stderr)
        self.assertIn(b"node07", ping.stderr)
        self.assertEqual(ping.stderr.count(b"\n"), 1)
        # Still ready with 8 = k up; not with 7
        status, body = self.wait_readyz(200, "unreachable: node03, node07")
        self.assertEqual(status, 200, body)
        self.assertIn("unreachable: node03, node07", body)
        self.cluster.node(4).stop()
        status, body = self.wait_readyz(503)
        self.assertEqual(status, 503, body)
        self.assertIn("7 of 10", body)
        self.assertIn("node03, node05, node07", body)
        _, samples = self.router_metrics()
        self.assertEqual(value(samples, "strata_router_node_up", node="node05"), 0)
        self.assertEqual(value(samples, "strata_router_ready"), 0)
        # A write now is refused, and the router says so in its log
        reply, _ = self.cluster.router_client().request(
            {"message-type": "put", "key": "refused", "collection-id": 0}, [b"x"])
        self.assertEqual(reply.get("result"), "unavailable", reply)
        # Reachability is logged by a once-a-second check: wait for node05's
        # line before the nodes come back
        deadline = time.monotonic() + 10
        while ("node node05 is unreachable" not in self.cluster.router.log_text()
               and time.monotonic() < deadline):
            time.sleep(0.2)
        for index in (2, 4, 6):
            self.cluster.node(index).start()
        status, body = self.wait_readyz(200)
        self.assertEqual(status, 200, body)
        self.cluster.wait_router()
        self.assertEqual(self.ping_until(0).returncode, 0)
        # Reachability lines are rate-limited per node: "again" may lag a little
        deadline = time.monotonic() + 10
        log = self.cluster.router.log_text()
        while not re.search(r"node node0[357] is reachable again", log) and time.monotonic() < deadline:
            time.sleep(0.5)
            log = self.cluster.router.log_text()
        self.assertIn("node node03 is unreachable", log)
        self.assertIn("node node05 is unreachable", log)
        self.assertRegex(log, r"node node0[357] is reachable again")
        self.assertIn("write refused: put", log)


if __name__ == "__main__":
    run_main()
