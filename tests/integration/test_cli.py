"""Integration tests of the `strata` CLI against a real cluster: ten
strata-node processes and strata-router on loopback (cluster_harness).

What a script relies on (docs/architecture.md, "Programs and exit codes"): put/get
byte-identical (0 B, 1 B, 1 MiB, 20 MiB, from stdin, and past the 64 MiB
single-put limit), put printing the unified-id, versions, get --version,
rm, exit 3 for a missing key or version, exit 2 with one line for usage
errors, exit 1 with one line when the router is down, stat --node printing
the node's stats as JSON; get to a FILE only replacing it once verified; a
progress bar only on a terminal.

Run: STRATA_BUILD_DIR=build /usr/bin/python3 tests/integration/test_cli.py
"""

import base64
import hashlib
import json
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster_harness import (  # noqa: E402
    CLI_BINARY, ClusterTestCase, free_ports, new_key, payload, run_main,
)

MIB = 1024 * 1024

# The stats keys proto/PROTOCOL.md ("Service messages") and docs/node.md document (as the node names them)
STATS_KEYS = (
    "requests", "results", "bytes-stored", "value-files", "segments",
    "active-segments", "queue-depth", "syncs", "sync-latency-us",
    "replies-dropped", "requests-dropped",
)


def run_cli(*args, input=None, env=None, timeout=60):
    environment = dict(os.environ)
    environment.pop("STRATA_ROUTER", None)
    environment.update(env or {})
    return subprocess.run([CLI_BINARY] + list(args), input=input, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=timeout, env=environment)


class CliAssertions:
    """Checks shared by the test classes."""

    def assertExit(self, result, code, what=""):
        self.assertEqual(result.returncode, code,
                         "%s: expected exit %d, got %d; stderr: %r" % (
                             what or "strata", code, result.returncode, result.stderr[-2000:]))

    def assertOneLine(self, result, *fragments):
        """stderr is exactly one non-empty line, naming the fragments."""
        text = result.stderr.decode("utf-8", "replace")
        self.assertTrue(text.endswith("\n"), "stderr does not end a line: %r" % text)
        self.assertEqual(text.count("\n"), 1, "stderr is not one line: %r" % text)
        self.assertTrue(text.startswith("strata"), "stderr does not name the program: %r" % text)
        for fragment in fragments:
            self.assertIn(fragment, text)

    def assertQuiet(self, result):
        self.assertEqual(result.stderr, b"", "unexpected stderr: %r" % result.stderr[-2000:])


class UsageTest(CliAssertions, unittest.TestCase):
    """What needs no cluster: help, version, usage errors, a router that is
    not there."""

    def test_help_and_version(self):
        result = run_cli("--help")
        self.assertExit(result, 0)
        text = result.stdout.decode()
        for command in ("put", "get", "rm", "versions", "ping", "stat", "--router",
                        "--collection", "--version", "partial output", "STRATA_ROUTER"):
            self.assertIn(command, text)
        result = run_cli("get", "--help")
        self.assertExit(result, 0)
        self.assertIn("usage: strata", result.stdout.decode())
        result = run_cli("--version")
        self.assertExit(result, 0)
        self.assertRegex(result.stdout.decode(), r"^strata \d+\.\d+\.\d+\n$")

    def test_usage_errors_exit_2_with_one_line(self):
        cases = [
            [],
            ["frob"],
            ["put"],
            ["get"],
            ["rm"],
            ["versions"],
            ["put", ""],
            ["put", "k" * 1025],
            ["put", "--bogus", "k"],
            ["put", "--collection", "-1", "k"],
            ["put", "--collection", "4294967296", "k"],
            ["put", "--collection", "12x", "k"],
            ["put", "--version", "5", "k"],
            ["put", "--router"],
            ["put", "--router", "nonsense", "k"],
            ["put", "--router", "tcp://127.0.0.1:*", "k"],
            ["get", "--version", "abc", "k"],
            ["get", "--version", "18446744073709551616", "k"],
            ["get", "--timeout", "0", "k"],
            ["get", "k", "f", "extra"],
            ["rm", "a", "b"],
            ["versions", "a", "b"],
            ["ping", "extra"],
            ["ping", "--collection", "3"],
            ["stat"],
            ["stat", "--node"],
            ["stat", "--node", "tcp://127.0.0.1:1", "extra"],
            ["--router", "tcp://127.0.0.1:8000", "put", "k"],
        ]
        for args in cases:
            with self.subTest(args=args):
                result = run_cli(*args)
                self.assertExit(result, 2, "strata %s" % " ".join(args))
                self.assertOneLine(result)
                self.assertEqual(result.stdout, b"")

    def test_router_down_exits_1_with_one_line(self):
        port = free_ports(1)[0]
        endpoint = "tcp://127.0.0.1:%d" % port
        source = tempfile.NamedTemporaryFile(delete=False)
        source.write(b"data")
        source.close()
        self.addCleanup(os.unlink, source.name)
        # The first with the default timeouts (5 s to connect), the rest quicker
        for args in (["put", "--router", endpoint, "k", source.name],
                     ["put", "--router", endpoint, "--timeout", "1", "k"],
                     ["get", "--router", endpoint, "--timeout", "1", "k"],
                     ["rm", "--router", endpoint, "--timeout", "1", "k"],
                     ["versions", "--router", endpoint, "--timeout", "1", "k"],
                     ["ping", "--router", endpoint, "--timeout", "2"]):
            with self.subTest(args=args):
                started = time.monotonic()
                result = run_cli(*args, input=b"data")
                elapsed = time.monotonic() - started
                self.assertExit(result, 1, " ".join(args))
                self.assertOneLine(result, endpoint)
                self.assertEqual(result.stdout, b"")
                self.assertLess(elapsed, 8.0, "a down router must be reported promptly")
        # The environment variable chooses the router too
        result = run_cli("ping", "--timeout", "1", env={"STRATA_ROUTER": endpoint})
        self.assertExit(result, 1)
        self.assertOneLine(result, endpoint)

    def test_stat_of_a_missing_node_exits_1(self):
        endpoint = "tcp://127.0.0.1:%d" % free_ports(1)[0]
        result = run_cli("stat", "--node", endpoint, "--timeout", "1")
        self.assertExit(result, 1)
        self.assertOneLine(result, endpoint)
        self.assertEqual(result.stdout, b"")

    def test_interrupted_get_leaves_no_temporary_file(self):
        workdir = tempfile.mkdtemp(prefix="strata-cli-")
        self.addCleanup(shutil.rmtree, workdir, True)
        endpoint = "tcp://127.0.0.1:%d" % free_ports(1)[0]
        proc = subprocess.Popen([CLI_BINARY, "get", "--router", endpoint, "k",
                                 os.path.join(workdir, "out")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 3
        while not os.listdir(workdir) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertTrue(os.listdir(workdir), "get writes a temporary file next to FILE")
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
        self.assertEqual(proc.returncode, -signal.SIGINT)
        self.assertEqual(os.listdir(workdir), [], "the temporary file is removed")

    def test_put_of_a_missing_file_exits_1(self):
        result = run_cli("put", "--router", "tcp://127.0.0.1:%d" % free_ports(1)[0], "k",
                         "/nonexistent/file")
        self.assertExit(result, 1)
        self.assertOneLine(result, "/nonexistent/file")


class CliClusterTest(CliAssertions, ClusterTestCase):
    """The CLI against ten nodes and the router."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="strata-cli-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write_file(self, name, data):
        path = self.path(name)
        with open(path, "wb") as handle:
            handle.write(data)
        return path

    def read_file(self, path):
        with open(path, "rb") as handle:
            return handle.read()

    def strata(self, *args, **options):
        return self.cluster.strata(*args, **options)

    def put(self, key, data, *extra):
        """Put from a file; returns the unified-id printed."""
        source = self.write_file("source-%s" % hashlib.md5(key.encode()).hexdigest(), data)
        result = self.strata("put", *extra, key, source)
        self.assertExit(result, 0, "put %d bytes" % len(data))
        self.assertQuiet(result)
        self.assertRegex(result.stdout.decode(), r"^\d+\n$")
        return int(result.stdout)

    def assertGetsBack(self, key, data, *extra):
        """get to a file, to '-' and to stdout all give data back."""
        target = self.path("target")
        result = self.strata("get", *extra, key, target)
        self.assertExit(result, 0, "get to a file")
        self.assertQuiet(result)
        self.assertEqual(result.stdout, b"")
        got = self.read_file(target)
        self.assertEqual(len(got), len(data))
        self.assertTrue(got == data, "the file differs from what was put")
        os.unlink(target)
        for args in ((key,), (key, "-")):
            result = self.strata("get", *(extra + args))
            self.assertExit(result, 0, "get to stdout")
            self.assertQuiet(result)
            self.assertEqual(len(result.stdout), len(data))
            self.assertTrue(result.stdout == data, "stdout differs from what was put")
        self.assertNoTempFiles()

    def assertNoTempFiles(self):
        leftovers = [name for name in os.listdir(self.tmp) if ".strata-" in name]
        self.assertEqual(leftovers, [], "temporary files left behind")

    # -- put and get --------------------------------------------------------

    def test_put_get_sizes(self):
        ids = []
        for size in (0, 1, MIB, 20 * MIB):
            with self.subTest(size=size):
                key = new_key("size-%d" % size)
                data = payload(size, seed=size % 251)
                ids.append(self.put(key, data))
                self.assertGetsBack(key, data)
        self.assertEqual(len(set(ids)), len(ids), "unified-ids are unique")

    def test_put_from_stdin(self):
        for size in (0, 1000, 20 * MIB):
            for dash in (True, False):
                with self.subTest(size=size, dash=dash):
                    key = new_key("stdin")
                    data = payload(size, seed=7)
                    args = ["put", key] + (["-"] if dash else [])
                    result = self.strata(*args, input=data)
                    self.assertExit(result, 0, "put from stdin")
                    self.assertQuiet(result)
                    self.assertRegex(result.stdout.decode(), r"^\d+\n$")
                    self.assertGetsBack(key, data)

    def test_put_get_past_the_single_put_limit(self):
        # A 70 MiB file is streamed (put-start/put-data/put-finish)
        key = new_key("big")
        data = payload(70 * MIB, seed=70)
        self.put(key, data)
        target = self.path("big-target")
        result = self.strata("get", key, target)
        self.assertExit(result, 0)
        self.assertEqual(hashlib.md5(self.read_file(target)).digest(), hashlib.md5(data).digest())

    def test_environment_chooses_the_router(self):
        key = new_key("env")
        result = self.cluster.strata("put", key, "-", input=b"via the environment", router=False,
                                     env={"STRATA_ROUTER": self.cluster.router_endpoint})
        self.assertExit(result, 0)
        result = self.cluster.strata("get", key, router=False,
                                     env={"STRATA_ROUTER": self.cluster.router_endpoint})
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b"via the environment")

    def test_collections_are_separate(self):
        key = new_key("collection")
        self.put(key, b"in collection 5", "--collection", "5")
        result = self.strata("get", key)
        self.assertExit(result, 3, "get from collection 0")
        self.assertOneLine(result)
        result = self.strata("get", "--collection", "5", key)
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b"in collection 5")

    def test_unicode_key(self):
        key = new_key("caf\u00e9-\u65e5\u672c")
        self.put(key, b"unicode")
        self.assertGetsBack(key, b"unicode")

    # -- versions ------------------------------------------------------------

    def test_versions_and_get_version(self):
        key = new_key("versions")
        contents = [b"first", b"second version", b""]
        ids = [self.put(key, data) for data in contents]
        self.assertEqual(ids, sorted(ids), "unified-ids grow")
        result = self.strata("versions", key)
        self.assertExit(result, 0)
        self.assertQuiet(result)
        lines = result.stdout.decode().splitlines()
        self.assertEqual(len(lines), 3, lines)
        for line, unified_id, data in zip(lines, reversed(ids), reversed(contents)):
            fields = line.split("\t")
            self.assertEqual(len(fields), 4, line)
            self.assertEqual(int(fields[0]), unified_id, "newest first")
            self.assertRegex(fields[1], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
            self.assertEqual(int(fields[2]), len(data))
            self.assertEqual(fields[3], hashlib.md5(data).hexdigest())   # md5sum's form
        for unified_id, data in zip(ids, contents):
            with self.subTest(version=unified_id):
                result = self.strata("get", "--version", str(unified_id), key)
                self.assertExit(result, 0)
                self.assertEqual(result.stdout, data)
        # The newest without --version
        result = self.strata("get", key)
        self.assertEqual(result.stdout, b"")
        self.assertExit(result, 0)

    def test_missing_version_exits_3(self):
        key = new_key("missing-version")
        unified_id = self.put(key, b"only one")
        result = self.strata("get", "--version", str(unified_id + 1), key)
        self.assertExit(result, 3)
        self.assertOneLine(result)
        self.assertEqual(result.stdout, b"")

    def test_versions_of_a_missing_key_exits_3(self):
        result = self.strata("versions", new_key("never"))
        self.assertExit(result, 3)
        self.assertOneLine(result)

    # -- rm --------------------------------------------------------------------

    def test_rm_then_get_exits_3(self):
        key = new_key("rm")
        self.put(key, b"short-lived")
        result = self.strata("rm", key)
        self.assertExit(result, 0)
        self.assertQuiet(result)
        self.assertEqual(result.stdout, b"")
        result = self.strata("get", key)
        self.assertExit(result, 3, "get after rm")
        self.assertOneLine(result)
        self.assertEqual(result.stdout, b"")
        result = self.strata("versions", key)
        self.assertExit(result, 3, "versions after rm")

    def test_rm_one_version(self):
        key = new_key("rm-version")
        first = self.put(key, b"keep me")
        second = self.put(key, b"remove me")
        result = self.strata("rm", "--version", str(second), key)
        self.assertExit(result, 0)
        result = self.strata("get", key)
        self.assertExit(result, 0)
        self.assertEqual(result.stdout, b"keep me")
        result = self.strata("versions", key)
        self.assertEqual([int(line.split("\t")[0]) for line in result.stdout.decode().splitlines()],
                         [first])

    def test_get_missing_key_exits_3_and_leaves_files_alone(self):
        result = self.strata("get", new_key("never"))
        self.assertExit(result, 3)
        self.assertOneLine(result)
        self.assertEqual(result.stdout, b"")
        # An existing destination is not touched by a failed get
        target = self.write_file("precious", b"do not overwrite")
        result = self.strata("get", new_key("never"), target)
        self.assertExit(result, 3)
        self.assertOneLine(result)
        self.assertEqual(self.read_file(target), b"do not overwrite")
        self.assertNoTempFiles()
        # ... and one that did not exist is not created
        result = self.strata("get", new_key("never"), self.path("absent"))
        self.assertExit(result, 3)
        self.assertFalse(os.path.exists(self.path("absent")))
        self.assertNoTempFiles()

    def test_get_replaces_an_existing_file(self):
        key = new_key("replace")
        self.put(key, b"new content")
        target = self.write_file("existing", b"old content that is longer")
        result = self.strata("get", key, target)
        self.assertExit(result, 0)
        self.assertEqual(self.read_file(target), b"new content")
        self.assertNoTempFiles()

    def test_get_into_a_directory_fails(self):
        key = new_key("dir")
        self.put(key, b"x")
        result = self.strata("get", key, self.tmp)
        self.assertExit(result, 1)
        self.assertOneLine(result, "directory")

    # -- service -------------------------------------------------------------

    def test_ping(self):
        result = self.strata("ping")
        self.assertExit(result, 0)
        self.assertQuiet(result)
        lines = result.stdout.decode().splitlines()
        self.assertRegex(lines[0], r"^cluster test: 10 of 10 nodes reachable")
        self.assertEqual([line.split("\t") for line in lines[1:]],
                         [["node%02d" % index, "reachable"] for index in range(1, 11)])

    def test_stat_node_prints_json(self):
        node = self.cluster.node(0)
        result = self.strata("stat", "--node", node.writer)
        self.assertExit(result, 0)
        self.assertQuiet(result)
        stats = json.loads(result.stdout.decode())
        self.assertIsInstance(stats, dict)
        for key in STATS_KEYS:
            self.assertIn(key, stats)
        self.assertIsInstance(stats["requests"], dict)
        self.assertIsInstance(stats["syncs"], int)
        # The node stored something by now (the other tests' shares) or not:
        # either way bytes-stored is a count
        self.assertGreaterEqual(stats["bytes-stored"], 0)

    # -- progress bar ----------------------------------------------------------

    def _with_terminal_stderr(self, args, input=None):
        """Run the CLI with stderr on a pseudo-terminal; returns (exit code,
        stdout bytes, terminal output text)."""
        master, slave = pty.openpty()
        output = []

        def drain():
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    return
                if not chunk:
                    return
                output.append(chunk)
        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        try:
            command = [CLI_BINARY] + list(args)
            command[2:2] = ["--router", self.cluster.router_endpoint]
            proc = subprocess.run(command, input=input, stdout=subprocess.PIPE, stderr=slave,
                                  timeout=120)
        finally:
            os.close(slave)
            reader.join(5)
            os.close(master)
        return proc.returncode, proc.stdout, b"".join(output).decode("utf-8", "replace")

    def test_progress_bar_only_on_a_terminal_and_past_4_mib(self):
        key = new_key("progress")
        data = payload(12 * MIB, seed=12)
        code, stdout, terminal = self._with_terminal_stderr(["put", key, "-"], input=data)
        self.assertEqual(code, 0, terminal)
        self.assertIn("MiB", terminal, "a bar for a 12 MiB put on a terminal")
        code, stdout, terminal = self._with_terminal_stderr(["get", key])
        self.assertEqual(code, 0, terminal)
        self.assertTrue(stdout == data)
        self.assertIn("100%", terminal)
        self.assertTrue(re.search(r"12\.0 / 12\.0 MiB", terminal), terminal)
        # Not on a pipe (the other tests check stderr is empty), nor for small objects
        small = new_key("small")
        code, _, terminal = self._with_terminal_stderr(["put", small, "-"], input=b"x" * MIB)
        self.assertEqual(code, 0)
        self.assertEqual(terminal, "")


if __name__ == "__main__":
    run_main()
