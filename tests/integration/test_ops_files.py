"""The operations files and flags: the systemd units pass
`systemd-analyze verify`, the Prometheus rules and example configuration
pass promtool, strata-node tells systemd READY=1 (sd_notify) once it
serves, and a bad --metrics / metrics/listen is one line and exit 2."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

from strata_harness import BUILD_DIR, NODE_BINARY, free_port, run_main

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROUTER_BINARY = os.path.join(BUILD_DIR, "strata-router")


class OpsFilesTest(unittest.TestCase):

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="strata-ops-")
        self.addCleanup(shutil.rmtree, self.workdir, True)

    def test_systemd_units_verify(self):
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            print("SKIP systemd unit check: systemd-analyze not installed (Debian package systemd)")
            return
        units = os.path.join(SOURCE, "config", "systemd")
        # The units name /usr/bin/...: verify checks the programs exist, so
        # point them at the build
        for unit, program in (("strata-node@.service", "strata-node"),
                              ("strata-router.service", "strata-router")):
            with open(os.path.join(units, unit)) as handle:
                text = handle.read()
            self.assertIn("/usr/bin/%s" % program, text)
            for setting in ("Type=notify", "NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=",
                            "PrivateTmp=yes", "ProtectHome=yes", "User=strata", "LimitNOFILE=",
                            "ExecReload=/bin/kill -HUP $MAINPID"):
                self.assertIn(setting, text, "%s lacks %s" % (unit, setting))
            with open(os.path.join(self.workdir, unit), "w") as handle:
                handle.write(text.replace("/usr/bin/%s" % program, os.path.join(BUILD_DIR, program)))
        result = subprocess.run([analyze, "verify", "./strata-node@node01.service", "./strata-router.service"],
                                cwd=self.workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        output = result.stdout.decode("utf-8", "replace").strip()
        self.assertEqual(result.returncode, 0, output)
        self.assertEqual(output, "", "systemd-analyze verify complained:\n%s" % output)

    def test_prometheus_rules_and_config(self):
        promtool = shutil.which("promtool")
        if promtool is None:
            print("SKIP promtool check rules: promtool not installed (Debian package prometheus)")
            return
        directory = os.path.join(SOURCE, "config", "prometheus")
        result = subprocess.run([promtool, "check", "rules", "strata-alerts.yml"], cwd=directory,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(result.returncode, 0, result.stdout.decode())
        self.assertIn(b"SUCCESS: 9 rules found", result.stdout)
        result = subprocess.run([promtool, "check", "config", "prometheus.yml"], cwd=directory,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(result.returncode, 0, result.stdout.decode())

    def test_node_notifies_systemd(self):
        notify_path = os.path.join(self.workdir, "notify")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)
        notify.settimeout(15)
        writer, reader, metrics = free_port(), free_port(), free_port()
        environment = dict(os.environ, NOTIFY_SOCKET=notify_path)
        with open(os.path.join(self.workdir, "node.log"), "wb") as log:
            node = subprocess.Popen([NODE_BINARY, "--name", "n1", "--data-dir", os.path.join(self.workdir, "data"),
                                     "--writer", "tcp://127.0.0.1:%d" % writer,
                                     "--reader", "tcp://127.0.0.1:%d" % reader,
                                     "--metrics", "127.0.0.1:%d" % metrics],
                                    stdout=log, stderr=log, env=environment)
        try:
            message = notify.recv(4096)
            self.assertIn(b"READY=1", message)
            # Ready means serving: the HTTP endpoint answers at once
            connection = socket.create_connection(("127.0.0.1", metrics), timeout=5)
            connection.sendall(b"GET /readyz HTTP/1.0\r\n\r\n")
            answer = b""
            while True:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                answer += chunk
            connection.close()
            self.assertTrue(answer.startswith(b"HTTP/1.0 200") or answer.startswith(b"HTTP/1.1 200"), answer)
            node.terminate()
            self.assertIn(b"STOPPING=1", notify.recv(4096))
            self.assertEqual(node.wait(20), 0)
        finally:
            if node.poll() is None:
                node.kill()
                node.wait()
            notify.close()

    def test_router_notifies_systemd(self):
        notify_path = os.path.join(self.workdir, "notify")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)
        notify.settimeout(15)
        cluster = os.path.join(self.workdir, "cluster.cfg")
        metrics = free_port()
        with open(cluster, "w") as handle:
            handle.write("cluster\n    name = c\n    data-shards = 1\n    total-shards = 1\n    nodes\n"
                         "        n1\n            writer = tcp://127.0.0.1:%d\n"
                         "            reader = tcp://127.0.0.1:%d\n"
                         "router\n    listen = tcp://127.0.0.1:%d\n" % (free_port(), free_port(), free_port()))
        with open(os.path.join(self.workdir, "router.log"), "wb") as log:
            router = subprocess.Popen([ROUTER_BINARY, "--cluster", cluster, "--metrics", "127.0.0.1:%d" % metrics],
                                      stdout=log, stderr=log, env=dict(os.environ, NOTIFY_SOCKET=notify_path))
        try:
            self.assertIn(b"READY=1", notify.recv(4096))
            # Serving, and not ready: its one node is not running
            connection = socket.create_connection(("127.0.0.1", metrics), timeout=5)
            connection.sendall(b"GET /readyz HTTP/1.0\r\n\r\n")
            answer = b""
            while True:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                answer += chunk
            connection.close()
            self.assertIn(b" 503 ", answer.split(b"\r\n")[0] + b" ")
            self.assertIn(b"unreachable: n1", answer)
            router.terminate()
            self.assertIn(b"STOPPING=1", notify.recv(4096))
            self.assertEqual(router.wait(30), 0)
        finally:
            if router.poll() is None:
                router.kill()
                router.wait()
            notify.close()

    def test_bad_metrics_settings(self):
        config = os.path.join(self.workdir, "node.cfg")
        with open(config, "w") as handle:
            handle.write("metrics\n    listen = 127.0.0.1:99999\n")
        cluster = os.path.join(self.workdir, "cluster.cfg")
        with open(cluster, "w") as handle:
            handle.write("cluster\n    name = c\n    data-shards = 1\n    total-shards = 1\n    nodes\n"
                         "        n1\n            writer = tcp://127.0.0.1:%d\n"
                         "            reader = tcp://127.0.0.1:%d\n"
                         "router\n    listen = tcp://127.0.0.1:%d\n    metrics\n        listen = nowhere\n"
                         % (free_port(), free_port(), free_port()))
        with open(cluster) as handle:
            good_cluster = os.path.join(self.workdir, "good-cluster.cfg")
            with open(good_cluster, "w") as good:
                good.write(handle.read().replace("    metrics\n        listen = nowhere\n", ""))
        data = os.path.join(self.workdir, "data")
        for command, expected in (
                ([NODE_BINARY, "--data-dir", data, "--metrics", "127.0.0.1"], b"HOST:PORT"),
                ([NODE_BINARY, "--data-dir", data, "--metrics", "127.0.0.1:70000"], b"0..65535"),
                ([NODE_BINARY, "--data-dir", data, "--config", config], b"0..65535"),
                ([ROUTER_BINARY, "--cluster", cluster], b"router/metrics/listen"),
                ([ROUTER_BINARY, "--cluster", good_cluster, "--metrics", "[::1]9100"], b"--metrics")):
            result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            self.assertEqual(result.returncode, 2, (command, result.stderr))
            self.assertIn(expected, result.stderr)
            self.assertEqual(result.stderr.count(b"\n"), 1, result.stderr)


if __name__ == "__main__":
    run_main()
