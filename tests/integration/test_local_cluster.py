"""test_local_cluster - README's local-cluster walk-through, as written

Runs scripts/local_cluster.sh on free ports in a temporary directory
(STRATA_ROUTER_PORT, STRATA_NODE_PORT, STRATA_CLUSTER_DIR), then every
command of README's walk-through block (build/ replaced by the build
directory, the ports by the free ones), checking exit codes and output;
then stop/start/restart of one node with its pid file, stop, and clean.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cluster_harness import BUILD_DIR, run_main

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(SOURCE, "scripts", "local_cluster.sh")


def free_block(count):
    """A base port with count consecutive free loopback ports."""
    for _attempt in range(50):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        base = probe.getsockname()[1]
        probe.close()
        if base + count >= 65000:
            continue
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                sock.bind(("127.0.0.1", port))
                sockets.append(sock)
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise AssertionError("no %d consecutive free ports" % count)


def walkthrough_commands():
    """The shell lines of README's block that starts with `make cluster`."""
    with open(os.path.join(SOURCE, "README.md")) as handle:
        text = handle.read()
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        if block.startswith("make cluster "):
            lines = []
            for line in block.splitlines():
                # A comment starts after two spaces; commands have no '#'
                command = re.split(r"\s{2,}#", line)[0].strip()
                if command:
                    lines.append(command)
            return lines
    raise AssertionError("README has no walk-through block starting with 'make cluster'")


class LocalClusterTest(unittest.TestCase):

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="strata-local-cluster-")
        self.cluster_dir = os.path.join(self.workdir, "var", "cluster")
        self.choose_ports()
        self.addCleanup(self.cleanup)

    def choose_ports(self):
        self.node_port = free_block(20)
        self.router_port = free_block(1)
        self.env = dict(os.environ, BUILD=BUILD_DIR, STRATA_CLUSTER_DIR=self.cluster_dir,
                        STRATA_NODE_PORT=str(self.node_port), STRATA_ROUTER_PORT=str(self.router_port),
                        STRATA_ROUTER="tcp://127.0.0.1:%d" % self.router_port,
                        STRATA_METRICS_PORT=str(free_block(11)))

    def cleanup(self):
        self.script("stop", timeout=120)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def script(self, *args, timeout=120):
        return subprocess.run(["sh", SCRIPT] + list(args), cwd=self.workdir, env=self.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)

    def shell(self, line):
        """A README line, pointed at this cluster."""
        if line.startswith("build/strata top") and "--count" not in line:
            line += " --count 2"        # interactive: two screens, then exit
        line = line.replace("build/", BUILD_DIR + "/")
        line = line.replace("tcp://127.0.0.1:8100", "tcp://127.0.0.1:%d" % self.node_port)
        if line.startswith("/usr/bin/python3 cluster/"):
            line = line.replace("cluster/", os.path.join(SOURCE, "cluster") + "/", 1)
        if line == "make cluster":
            line = "sh %s start" % SCRIPT
        if line == "make cluster-stop":
            line = "sh %s stop" % SCRIPT
        return subprocess.run(["sh", "-c", line], cwd=self.workdir, env=self.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)

    def pid_of(self, name):
        with open(os.path.join(self.cluster_dir, name + ".pid")) as handle:
            return int(handle.read())

    def test_walkthrough(self):
        with open(os.path.join(self.workdir, "report.pdf"), "wb") as handle:
            handle.write(os.urandom(3 * 1024 * 1024 + 5))
        commands = walkthrough_commands()
        self.assertEqual(commands[0], "make cluster")
        self.assertEqual(commands[-1], "make cluster-stop")
        outputs = {}
        for attempt in range(3):
            # A parallel test may take a chosen port before the cluster
            # binds it: then the script stops everything; try fresh ports
            result = self.shell(commands[0])
            if result.returncode == 0 or b"Address already in use" not in result.stderr:
                break
            self.choose_ports()
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        for line in commands[1:-1]:
            result = self.shell(line)
            self.assertEqual(result.returncode, 0, "%s: %s %s" % (line, result.stdout[-2000:],
                                                                 result.stderr[-2000:]))
            outputs[line] = result.stdout.decode("utf-8", "replace")
        for line, out in outputs.items():
            if " put " in line:
                self.assertRegex(out, r"^\d+\n$", line)
            if line.startswith("cmp "):
                self.assertEqual(out, "identical\n")
            if line == "build/strata get greeting":
                self.assertEqual(out, "hello\n")
            if line.startswith("build/strata versions"):
                self.assertRegex(out, r"^\d+\t\S+Z\t\d+\t[0-9a-f]{32}\n")
            if line.startswith("build/strata get --meta"):
                self.assertEqual(out, "owner=ops\n")
            if line == "build/strata ping":
                self.assertTrue(out.startswith("cluster local: 10 of 10 nodes reachable"), out)
            if line.startswith("build/strata ping --node"):
                self.assertTrue(out.startswith("node node01 at "), out)

        # One node: stop, start, restart; the pid files follow
        result = self.script("stop", "node03")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.cluster_dir, "node03.pid")))
        self.assertIn(b"node03: not running", self.script("status").stdout)
        result = self.script("start", "3")
        self.assertEqual(result.returncode, 0, result.stderr)
        first = self.pid_of("node03")
        os.kill(first, 0)
        result = self.script("restart", "node03")
        self.assertEqual(result.returncode, 0, result.stderr)
        second = self.pid_of("node03")
        self.assertNotEqual(first, second)
        os.kill(second, 0)
        self.assertEqual(self.script("start", "node03").returncode, 1, "already running")
        self.assertEqual(self.script("stop", "node11").returncode, 1, "not a node")
        self.assertEqual(self.script("clean").returncode, 1, "clean refuses a running cluster")

        result = self.shell(commands[-1])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual([name for name in os.listdir(self.cluster_dir) if name.endswith(".pid")], [])
        result = self.script("clean")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(os.listdir(self.cluster_dir), [])


if __name__ == "__main__":
    run_main()
